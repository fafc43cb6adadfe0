//! The cluster bus port: one task pair (reader, writer) per link, the listener for links other
//! nodes open, and the cron task.
//!
//! Links are registered in the node's [`Cluster`] (`links`), which owns their send queues:
//! code under the node lock queues messages (`Cluster::send`) and never waits; the writer task
//! writes them. The reader splits the byte stream into messages and processes each batch under
//! the lock. A stream that does not start with `RCmb` and a sane length closes that link only.
//! Every socket is [`Gated`], so a frozen node or a cut-off peer stalls its links as a stopped
//! process or a partition would.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Notify};

use super::state::{Cluster, Link, LinkId, NodeId};
use super::wire;
use crate::fault::Gated;
use crate::logging::Level;
use crate::node::{unix_ms, Node};

/// What a link task needs besides the node.
struct LinkIo {
    id: LinkId,
    rx: mpsc::UnboundedReceiver<Bytes>,
    closed: Arc<Notify>,
    pending: Arc<AtomicUsize>,
}

impl Cluster {
    /// Registers a new link; returns its id and the receiving ends for its tasks.
    fn new_link(
        &mut self,
        node: Option<NodeId>,
        inbound: bool,
        peer_ip: String,
        local_ip: String,
    ) -> LinkIo {
        let id = self.next_link;
        self.next_link += 1;
        let (tx, rx) = mpsc::unbounded_channel();
        let closed = Arc::new(Notify::new());
        let pending = Arc::new(AtomicUsize::new(0));
        self.links.insert(
            id,
            Link {
                node,
                inbound,
                ctime: unix_ms(),
                tx,
                pending: pending.clone(),
                closed: closed.clone(),
                peer_ip,
                local_ip,
            },
        );
        LinkIo {
            id,
            rx,
            closed,
            pending,
        }
    }

    /// Queues a message on a link (`clusterSendMessage`), counting it by type.
    pub fn send(&mut self, link: Option<LinkId>, msg: &Bytes) {
        let Some(l) = link.and_then(|l| self.links.get(&l)) else {
            return;
        };
        l.pending.fetch_add(msg.len(), Ordering::Relaxed);
        let _ = l.tx.send(msg.clone());
        let kind = u16::from_be_bytes([msg[12], msg[13]]);
        if kind < wire::kind::COUNT {
            self.stats_sent[kind as usize] += 1;
        }
    }
}

/// Starts an outbound link to `id` (the cron calls this for every node without one).
pub(crate) fn connect(node: &Arc<Node>, c: &mut Cluster, id: NodeId) {
    let Some(n) = c.nodes.get(&id) else { return };
    let Ok(ip) = n.ip.parse::<std::net::IpAddr>() else {
        return;
    };
    let addr = SocketAddr::new(ip, n.cport);
    let io = c.new_link(Some(id), false, n.ip.clone(), String::new());
    if let Some(n) = c.nodes.get_mut(&id) {
        n.link = Some(io.id);
    }
    let node = node.clone();
    tokio::spawn(async move {
        let mut shutdown = node.shutdown_signal();
        let connected = tokio::select! {
            r = node.faults.connect(addr) => r.ok(),
            _ = io.closed.notified() => None,
            _ = shutdown.wait_for(|&d| d) => None,
        };
        let Some(stream) = connected else {
            let mut st = node.lock();
            if let Some(c) = st.cluster.as_mut() {
                c.free_link(io.id);
            }
            return;
        };
        let local = stream
            .get_ref()
            .local_addr()
            .map(|a| a.ip().to_string())
            .unwrap_or_default();
        {
            let mut st = node.lock();
            let alive = super::with(&mut st, |c, st| {
                let Some(l) = c.links.get_mut(&io.id) else {
                    return false;
                };
                l.local_ip = local;
                super::messages::link_connected(c, st, io.id);
                true
            });
            if alive != Some(true) {
                return;
            }
        }
        run(node, stream, io).await;
    });
}

/// Accepts the links other nodes open, until the node shuts down.
pub(crate) async fn accept_loop(node: Arc<Node>, listener: TcpListener) {
    let mut shutdown = node.shutdown_signal();
    if node.is_shutting_down() {
        return;
    }
    loop {
        let accepted = tokio::select! {
            _ = shutdown.changed() => return,
            a = listener.accept() => a,
        };
        let Ok((socket, peer)) = accepted else {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            continue;
        };
        let _ = socket.set_nodelay(true);
        let local = socket
            .local_addr()
            .map(|a| a.ip().to_string())
            .unwrap_or_default();
        let io = {
            let mut st = node.lock();
            let Some(c) = st.cluster.as_mut() else { return };
            c.new_link(None, true, peer.ip().to_string(), local)
        };
        let stream = Gated::new(socket, node.faults.clone(), None);
        tokio::spawn(run(node.clone(), stream, io));
    }
}

/// Runs a connected link until it fails or is freed.
async fn run(node: Arc<Node>, stream: Gated<TcpStream>, io: LinkIo) {
    let LinkIo {
        id,
        mut rx,
        closed,
        pending,
    } = io;
    let (mut rd, mut wr) = stream.into_split();
    let writer_done = Arc::new(Notify::new());
    let writer = {
        let done = writer_done.clone();
        tokio::spawn(async move {
            while let Some(msg) = rx.recv().await {
                let mut batch = BytesMut::from(&msg[..]);
                while let Ok(more) = rx.try_recv() {
                    batch.extend_from_slice(&more);
                }
                let n = batch.len();
                if wr.write_all(&batch).await.is_err() {
                    break;
                }
                pending.fetch_sub(n, Ordering::Relaxed);
            }
            let _ = wr.shutdown().await;
            done.notify_one();
        })
    };
    let mut shutdown = node.shutdown_signal();
    let mut buf = BytesMut::with_capacity(16 * 1024);
    let mut frames: Vec<BytesMut> = Vec::new();
    let reason: Option<&str> = loop {
        let read = tokio::select! {
            _ = closed.notified() => break None,
            _ = writer_done.notified() => break None,
            _ = shutdown.wait_for(|&d| d) => break None,
            r = rd.read_buf(&mut buf) => r,
        };
        match read {
            Ok(0) | Err(_) => break None,
            Ok(_) => {}
        }
        let mut bad = false;
        while buf.len() >= 8 {
            let Some(len) = wire::frame_len(&buf[..8]) else {
                bad = true;
                break;
            };
            if buf.len() < len {
                buf.reserve(len - buf.len());
                break;
            }
            frames.push(buf.split_to(len));
        }
        if !frames.is_empty() {
            node.faults.thawed().await;
            let mut st = node.lock();
            let alive = super::with(&mut st, |c, st| {
                for f in frames.drain(..) {
                    if !c.links.contains_key(&id) {
                        return false;
                    }
                    super::process::packet(c, st, id, &f);
                }
                super::cron::before_sleep(c, st);
                c.links.contains_key(&id)
            });
            if alive != Some(true) {
                break None;
            }
        }
        if bad {
            break Some("Bad message length or signature received from Cluster bus.");
        }
    };
    {
        let mut st = node.lock();
        if let Some(reason) = reason {
            st.log(Level::Warning, reason);
        }
        if let Some(c) = st.cluster.as_mut() {
            c.free_link(id);
        }
    }
    writer.abort();
}

/// The cluster cron task (`clusterCron`, every `cluster_cron`).
pub(crate) async fn cron_loop(node: Arc<Node>) {
    let mut shutdown = node.shutdown_signal();
    if node.is_shutting_down() {
        return;
    }
    // The first run comes at once, as Redis's first serverCron does: the writable delay
    // counts from the node's start.
    loop {
        node.faults.thawed().await;
        let period = {
            let mut st = node.lock();
            super::with(&mut st, |c, st| {
                super::cron::run(&node, c, st);
                super::cron::before_sleep(c, st);
            });
            st.config.timers.cluster_cron
        };
        tokio::select! {
            _ = tokio::time::sleep(period) => {}
            _ = shutdown.changed() => return,
        }
    }
}
