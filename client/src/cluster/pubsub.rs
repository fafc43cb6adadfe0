//! Sharded pub/sub: [`ShardedSubscriber`], `SSUBSCRIBE` per slot on the node serving it, and
//! following the slot when it moves.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncWriteExt, WriteHalf};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::state::State;
use super::ClusterEvent;
use crate::cmd::{Cmd, ToArgs};
use crate::conn::handshake;
use crate::conn::source::{backoff, Connector};
use crate::conn::stream::Stream;
use crate::error::{Error, Result, ServerError};
use crate::error_codes::{ErrorCode, Redirect};
use crate::pubsub::Message;
use crate::resp::Frame;
use crate::sentinel::NodeAddr;
use crate::slot::key_slot;

/// What a node link's reader task reports.
struct Incoming {
    node: NodeAddr,
    /// The link generation it came from (frames of a replaced link are ignored).
    link: u64,
    frame: Result<Frame>,
}

struct Link {
    writer: WriteHalf<Stream>,
    id: u64,
    reader: tokio::task::AbortHandle,
}

impl Drop for Link {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

/// A subscriber to shard channels (`SSUBSCRIBE`) across a cluster, from
/// [`ClusterClient::sharded_subscriber`](super::ClusterClient::sharded_subscriber).
///
/// Channels are grouped by hash slot and subscribed on the master serving each slot, one
/// connection per node. When a slot moves (the node answers `MOVED`, or ends the subscription
/// itself with `sunsubscribe` as Redis does when it loses the slot) or a node connection
/// breaks, the channels are subscribed again where the slot is now, and a
/// [`ClusterEvent::ShardChannelMoved`] is sent to [`ClusterClient::events`](super::ClusterClient::events)
/// for each, since messages published meanwhile may have been missed. Messages come from
/// [`ShardedSubscriber::next_message`], which also does that work: keep calling it.
///
/// ```no_run
/// # async fn demo(cluster: rediscover::cluster::ClusterClient) -> rediscover::Result<()> {
/// use rediscover::Commands;
/// let mut sub = cluster.sharded_subscriber();
/// sub.ssubscribe(["orders:{eu}", "orders:{us}"]).await?;
/// let n: i64 = cluster.cmd("SPUBLISH").arg("orders:{eu}").arg("o-1").query().await?;
/// let msg = sub.next_message().await?;
/// assert_eq!(&msg.payload[..], b"o-1");
/// # Ok(()) }
/// ```
pub struct ShardedSubscriber {
    state: Arc<State>,
    links: HashMap<NodeAddr, Link>,
    next_link: u64,
    tx: mpsc::Sender<Incoming>,
    rx: mpsc::Receiver<Incoming>,
    /// Every channel wanted, and the node it is subscribed on (`None`: to be subscribed).
    wanted: HashMap<Bytes, Option<NodeAddr>>,
    /// Channels subscribed before and being subscribed again elsewhere (an event is due).
    moved: BTreeSet<Bytes>,
    /// Subscriptions sent and not yet confirmed.
    unconfirmed: BTreeSet<Bytes>,
    queue: VecDeque<Message>,
    failures: u32,
}

impl std::fmt::Debug for ShardedSubscriber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShardedSubscriber")
            .field("channels", &self.wanted.len())
            .field("nodes", &self.links.len())
            .finish_non_exhaustive()
    }
}

fn server_error(line: Bytes) -> Error {
    Error::Server(ServerError::new(line))
}

impl ShardedSubscriber {
    pub(crate) fn new(state: Arc<State>) -> ShardedSubscriber {
        let (tx, rx) = mpsc::channel(4096);
        ShardedSubscriber {
            state,
            links: HashMap::new(),
            next_link: 0,
            tx,
            rx,
            wanted: HashMap::new(),
            moved: BTreeSet::new(),
            unconfirmed: BTreeSet::new(),
            queue: VecDeque::new(),
            failures: 0,
        }
    }

    /// The channels subscribed (or being subscribed again).
    pub fn channels(&self) -> impl Iterator<Item = &Bytes> {
        self.wanted.keys()
    }

    /// The node each channel is subscribed on now (`None` while it is being moved).
    pub fn node_of(&self, channel: impl AsRef<[u8]>) -> Option<NodeAddr> {
        self.wanted.get(channel.as_ref()).cloned().flatten()
    }

    /// `SSUBSCRIBE` to channels of any slots: returns once every one is confirmed by the node
    /// serving its slot.
    pub async fn ssubscribe<C: ToArgs>(&mut self, channels: C) -> Result<()> {
        let cmd = Cmd::new("SSUBSCRIBE").arg(channels);
        for c in cmd.args().skip(1) {
            self.wanted.entry(Bytes::copy_from_slice(c)).or_insert(None);
        }
        self.settle().await
    }

    /// `SUNSUBSCRIBE` from channels.
    pub async fn sunsubscribe<C: ToArgs>(&mut self, channels: C) -> Result<()> {
        let cmd = Cmd::new("SUNSUBSCRIBE").arg(channels);
        let mut by_node: HashMap<(NodeAddr, u16), Vec<Bytes>> = HashMap::new();
        for c in cmd.args().skip(1) {
            if let Some(Some(node)) = self.wanted.remove(c) {
                by_node
                    .entry((node, key_slot(c)))
                    .or_default()
                    .push(Bytes::copy_from_slice(c));
            }
        }
        for ((node, _), channels) in by_node {
            if let Some(link) = self.links.get_mut(&node) {
                let bytes = Cmd::new("SUNSUBSCRIBE").arg(&channels).to_bytes();
                if link.writer.write_all(&bytes).await.is_err() {
                    self.links.remove(&node);
                }
            }
        }
        Ok(())
    }

    /// The next message, after (re)subscribing whatever needs it.
    pub async fn next_message(&mut self) -> Result<Message> {
        loop {
            if let Some(m) = self.queue.pop_front() {
                return Ok(m);
            }
            if self.wanted.values().any(Option::is_none) || !self.unconfirmed.is_empty() {
                self.settle().await?;
                continue;
            }
            let Some(incoming) = self.rx.recv().await else {
                return Err(Error::Closed);
            };
            self.handle(incoming);
        }
    }

    /// Subscribes every channel without a node and waits for the confirmations, within the
    /// request timeout.
    async fn settle(&mut self) -> Result<()> {
        let timeout = self.state.config.get_node().get_request_timeout();
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            let pending: Vec<Bytes> = self
                .wanted
                .iter()
                .filter(|(_, n)| n.is_none())
                .map(|(c, _)| c.clone())
                .collect();
            if pending.is_empty() && self.unconfirmed.is_empty() {
                self.failures = 0;
                return Ok(());
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(Error::Timeout { sent: true });
            }
            if !pending.is_empty() {
                if let Err(e) = self.subscribe_pending(pending).await {
                    self.failures = self.failures.saturating_add(1);
                    tracing::debug!(target: "rediscover::cluster", error = %e, "shard channel subscription failed; retrying");
                    let wait = backoff(&self.state.config.retry_policy(), self.failures);
                    self.state.wait_refresh(Some(Instant::now() + wait)).await;
                    continue;
                }
            }
            let next = match deadline {
                Some(d) => match tokio::time::timeout_at(d, self.rx.recv()).await {
                    Ok(n) => n,
                    Err(_) => return Err(Error::Timeout { sent: true }),
                },
                None => self.rx.recv().await,
            };
            match next {
                Some(incoming) => self.handle(incoming),
                None => return Err(Error::Closed),
            }
        }
    }

    async fn subscribe_pending(&mut self, pending: Vec<Bytes>) -> Result<()> {
        let mut groups: HashMap<u16, Vec<Bytes>> = HashMap::new();
        for c in pending {
            groups.entry(key_slot(&c)).or_default().push(c);
        }
        for (slot, channels) in groups {
            let topo = self.state.topology();
            let Some(shard) = topo.shard(slot) else {
                self.state.request_refresh();
                return Err(Error::not_sent(Error::Config(format!(
                    "no node serves slot {slot}"
                ))));
            };
            let node = shard.master.addr.clone();
            drop(topo);
            self.ensure_link(&node).await?;
            let bytes = Cmd::new("SSUBSCRIBE").arg(&channels).to_bytes();
            let link = self.links.get_mut(&node).ok_or(Error::Closed)?;
            if let Err(e) = link.writer.write_all(&bytes).await {
                self.links.remove(&node);
                return Err(Error::not_sent(Error::io(e)));
            }
            for c in channels {
                self.unconfirmed.insert(c.clone());
                self.wanted.insert(c, Some(node.clone()));
            }
        }
        Ok(())
    }

    async fn ensure_link(&mut self, node: &NodeAddr) -> Result<()> {
        if self.links.contains_key(node) {
            return Ok(());
        }
        let config = self.state.config.config_for(node);
        let connector = Connector::new(Arc::new(config));
        let (stream, rbuf, _) = connector.open_stream().await?;
        let (mut reader, writer) = tokio::io::split(stream);
        self.next_link += 1;
        let id = self.next_link;
        let tx = self.tx.clone();
        let addr = node.clone();
        let task = tokio::spawn(async move {
            let mut rbuf: BytesMut = rbuf;
            loop {
                let frame = handshake::read_frame(&mut reader, &mut rbuf).await;
                let failed = frame.is_err();
                let sent = tx
                    .send(Incoming {
                        node: addr.clone(),
                        link: id,
                        frame,
                    })
                    .await;
                if failed || sent.is_err() {
                    return;
                }
            }
        });
        self.links.insert(
            node.clone(),
            Link {
                writer,
                id,
                reader: task.abort_handle(),
            },
        );
        Ok(())
    }

    /// Marks the channels on `node` (all, or those of `slot`) for subscribing again.
    fn lose(&mut self, node: &NodeAddr, slot: Option<u16>) {
        for (c, at) in self.wanted.iter_mut() {
            if at.as_ref() == Some(node) && slot.is_none() || slot == Some(key_slot(c)) {
                *at = None;
                self.unconfirmed.remove(c);
                self.moved.insert(c.clone());
            }
        }
    }

    fn handle(&mut self, incoming: Incoming) {
        let current = self.links.get(&incoming.node).map(|l| l.id);
        if current != Some(incoming.link) {
            return; // from a link replaced since
        }
        let frame = match incoming.frame {
            Ok(f) => f,
            Err(e) => {
                tracing::debug!(target: "rediscover::cluster", node = %incoming.node, error = %e, "shard subscriber connection lost");
                self.links.remove(&incoming.node);
                self.state.request_refresh();
                self.lose(&incoming.node, None);
                return;
            }
        };
        let items = match frame {
            Frame::Push(items) | Frame::Array(items) => items,
            Frame::Error(line) | Frame::BulkError(line) => {
                // A refused SSUBSCRIBE: MOVED (the slot is elsewhere) or another error.
                match ErrorCode::of(&line) {
                    ErrorCode::Moved | ErrorCode::ClusterDown | ErrorCode::TryAgain => {
                        let redirect = Redirect::parse(&line);
                        if let Some(r) = &redirect {
                            if let Some(to) = self.state.redirect_node(&r.addr, &incoming.node) {
                                self.state.moved(r.slot, to);
                            }
                        } else {
                            self.state.request_refresh();
                        }
                        self.lose(&incoming.node, redirect.map(|r| r.slot));
                    }
                    _ => {
                        tracing::warn!(target: "rediscover::cluster", error = %server_error(line), "SSUBSCRIBE refused");
                    }
                }
                return;
            }
            _ => return,
        };
        let kind = items
            .first()
            .and_then(Frame::as_bytes)
            .map(|k| k.to_ascii_lowercase())
            .unwrap_or_default();
        let arg = |i: usize| items.get(i).and_then(Frame::as_bytes).cloned();
        match &kind[..] {
            b"smessage" | b"message" => {
                if let (Some(channel), Some(payload)) = (arg(1), arg(2)) {
                    self.queue.push_back(Message {
                        channel,
                        pattern: None,
                        payload,
                    });
                }
            }
            b"ssubscribe" => {
                if let Some(c) = arg(1) {
                    self.unconfirmed.remove(&c);
                    if self.moved.remove(&c) {
                        let to = incoming.node.clone();
                        tracing::debug!(target: "rediscover::cluster", channel = %String::from_utf8_lossy(&c), %to, "shard channel moved");
                        let _ = self.state.events.send(ClusterEvent::ShardChannelMoved {
                            channel: c.to_vec(),
                            to,
                        });
                    }
                }
            }
            b"sunsubscribe" => {
                // Asked for (the channel is no longer wanted), or the server dropped it: the
                // node lost the slot.
                if let Some(c) = arg(1) {
                    if let Some(at) = self.wanted.get_mut(&c) {
                        if at.as_ref() == Some(&incoming.node) {
                            *at = None;
                            self.unconfirmed.remove(&c);
                            self.moved.insert(c);
                            self.state.request_refresh();
                        }
                    }
                }
            }
            _ => {}
        }
    }
}
