//! Channel and pattern subscriptions of one node, and message delivery.
//!
//! Messages are encoded once per protocol version and handed to each subscriber's out-of-band
//! queue; the subscriber's connection task writes them. The bytes queued and not yet written
//! are the subscriber's output buffer: past its `client-output-buffer-limit pubsub` it is
//! closed, as Redis closes it.

use std::collections::{HashMap, HashSet};

use crate::client::{ClientEntry, OobSender};
use crate::config::ObufClass;
use crate::keyspace::ClientId;
use bytes::Bytes;
use rediscover::resp::ReplyWriter;

/// A subscribed connection: where its messages go and which protocol encodes them.
#[derive(Debug, Clone)]
pub struct Subscriber {
    /// The connection's out-of-band queue.
    pub tx: OobSender,
    /// Whether messages are RESP3 pushes.
    pub resp3: bool,
}

/// Subscriptions by channel and by pattern.
#[derive(Debug, Default)]
pub struct PubSub {
    /// Channel -> subscribers.
    pub channels: HashMap<Bytes, HashMap<ClientId, Subscriber>>,
    /// Pattern -> subscribers.
    pub patterns: HashMap<Bytes, HashMap<ClientId, Subscriber>>,
    /// Shard channel -> subscribers (SSUBSCRIBE; on a standalone node these behave like
    /// channels of their own namespace).
    pub shard_channels: HashMap<Bytes, HashMap<ClientId, Subscriber>>,
    /// Client -> its shard channels (the per-client side of `shard_channels`).
    shards_by_client: HashMap<ClientId, HashSet<Bytes>>,
}

/// A message to publish.
#[derive(Debug, Clone, Copy)]
pub struct Message<'a> {
    /// The channel (or shard channel).
    pub channel: &'a [u8],
    /// What is published.
    pub payload: &'a [u8],
    /// SPUBLISH rather than PUBLISH.
    pub shard: bool,
}

/// Which namespace a subscription lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// SUBSCRIBE / PUBLISH.
    Channel,
    /// PSUBSCRIBE.
    Pattern,
    /// SSUBSCRIBE / SPUBLISH.
    Shard,
}

impl PubSub {
    fn map_mut(&mut self, kind: Kind) -> &mut HashMap<Bytes, HashMap<ClientId, Subscriber>> {
        match kind {
            Kind::Channel => &mut self.channels,
            Kind::Pattern => &mut self.patterns,
            Kind::Shard => &mut self.shard_channels,
        }
    }

    /// Adds `id` as a subscriber of `name`.
    pub fn add(&mut self, kind: Kind, name: Bytes, id: ClientId, sub: Subscriber) {
        if kind == Kind::Shard {
            self.shards_by_client
                .entry(id)
                .or_default()
                .insert(name.clone());
        }
        self.map_mut(kind).entry(name).or_default().insert(id, sub);
    }

    /// Removes `id` from the subscribers of `name`, dropping the name when nobody is left.
    pub fn remove(&mut self, kind: Kind, name: &[u8], id: ClientId) {
        if kind == Kind::Shard {
            if let Some(set) = self.shards_by_client.get_mut(&id) {
                set.remove(name);
                if set.is_empty() {
                    self.shards_by_client.remove(&id);
                }
            }
        }
        let map = self.map_mut(kind);
        if let Some(subs) = map.get_mut(name) {
            subs.remove(&id);
            if subs.is_empty() {
                map.remove(name);
            }
        }
    }

    /// Number of shard channels `id` is subscribed to.
    pub fn shard_count(&self, id: ClientId) -> usize {
        self.shards_by_client.get(&id).map_or(0, HashSet::len)
    }

    /// Whether `id` is subscribed to the shard channel `name`.
    pub fn has_shard(&self, id: ClientId, name: &[u8]) -> bool {
        self.shards_by_client
            .get(&id)
            .is_some_and(|s| s.contains(name))
    }

    /// The shard channels `id` is subscribed to.
    pub fn shards_of(&self, id: ClientId) -> Vec<Bytes> {
        self.shards_by_client
            .get(&id)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Delivers a message published to `channel` (or to a shard channel when `shard`), and
    /// returns how many subscriptions received it: channel subscribers plus, for each pattern
    /// that matches, that pattern's subscribers (Redis counts a client twice if it has both).
    ///
    /// Messages for the publisher itself (`me`) are written to `own` instead of its queue, so
    /// they come before the PUBLISH reply as in Redis. Subscribers whose pending output passes
    /// `limit` are listed in `over_limit`, for the caller to close.
    pub fn publish(
        &self,
        clients: &mut crate::keyspace::FastMap<ClientId, ClientEntry>,
        limit: &ObufClass,
        me: (ClientId, &mut ReplyWriter),
        message: Message<'_>,
        over_limit: &mut Vec<ClientId>,
    ) -> usize {
        let (me, own) = me;
        let Message {
            channel,
            payload,
            shard,
        } = message;
        let now = std::time::Instant::now();
        let map = if shard {
            &self.shard_channels
        } else {
            &self.channels
        };
        let direct = map.get(channel);
        let matching: Vec<(&Bytes, &HashMap<ClientId, Subscriber>)> = if shard {
            Vec::new()
        } else {
            self.patterns
                .iter()
                .filter(|(pattern, _)| crate::glob::glob_match(pattern, channel, false))
                .collect()
        };
        let everyone = direct
            .into_iter()
            .chain(matching.iter().map(|(_, subs)| *subs))
            .flat_map(|subs| subs.keys().copied());
        let gone = closed_peers(clients, everyone, me);
        let mut receivers = 0;
        let kind: &[u8] = if shard { b"smessage" } else { b"message" };
        if let Some(subs) = direct {
            let mut msg = Encoded::new(|out| {
                out.push(3);
                out.bulk(kind);
                out.bulk(channel);
                out.bulk(payload);
            });
            receivers += deliver_all(
                subs,
                clients,
                &mut msg,
                (me, &mut *own),
                (limit, &gone),
                now,
                over_limit,
            );
        }
        for (pattern, subs) in matching {
            let mut msg = Encoded::new(|out| {
                out.push(4);
                out.bulk(b"pmessage");
                out.bulk(pattern);
                out.bulk(channel);
                out.bulk(payload);
            });
            receivers += deliver_all(
                subs,
                clients,
                &mut msg,
                (me, &mut *own),
                (limit, &gone),
                now,
                over_limit,
            );
        }
        receivers
    }
}

/// The subscribers among `ids` (other than `me`) whose peer has already closed its side of the
/// connection, though their connection task has not yet noticed. Redis, one event loop,
/// handles a close that reached it before a PUBLISH first, so such a subscriber is never
/// counted; here the two connections race for the node lock, so the publisher asks the
/// kernel (one `poll` for all of them, with no wait).
#[cfg(target_os = "linux")]
pub fn closed_peers(
    clients: &crate::keyspace::FastMap<ClientId, ClientEntry>,
    ids: impl Iterator<Item = ClientId>,
    me: ClientId,
) -> HashSet<ClientId> {
    let mut polled: Vec<ClientId> = Vec::new();
    let mut fds: Vec<libc::pollfd> = Vec::new();
    for id in ids {
        if id == me {
            continue;
        }
        if let Some(fd) = clients.get(&id).and_then(|e| e.peer_fd) {
            polled.push(id);
            fds.push(libc::pollfd {
                fd,
                events: libc::POLLRDHUP,
                revents: 0,
            });
        }
    }
    let mut gone = HashSet::new();
    if fds.is_empty() {
        return gone;
    }
    // SAFETY: `fds` is a valid array of `fds.len()` pollfd structures, and each descriptor is
    // open: a client's entry (held under the node lock, as here) outlives its socket.
    let ready = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, 0) };
    if ready > 0 {
        let closed = libc::POLLRDHUP | libc::POLLHUP | libc::POLLERR;
        for (id, p) in polled.into_iter().zip(&fds) {
            if p.revents & closed != 0 {
                gone.insert(id);
            }
        }
    }
    gone
}

/// Elsewhere the close is noticed by the subscriber's own connection task only.
#[cfg(not(target_os = "linux"))]
pub fn closed_peers(
    _clients: &crate::keyspace::FastMap<ClientId, ClientEntry>,
    _ids: impl Iterator<Item = ClientId>,
    _me: ClientId,
) -> HashSet<ClientId> {
    HashSet::new()
}

/// Queues `msg` for every subscriber in `subs` (the publisher's own copy goes straight to its
/// reply buffer) and returns how many there were. A subscriber whose pending output passes
/// `limit` cannot keep up: it is listed in `over_limit`.
fn deliver_all<F: Fn(&mut ReplyWriter)>(
    subs: &HashMap<ClientId, Subscriber>,
    clients: &mut crate::keyspace::FastMap<ClientId, ClientEntry>,
    msg: &mut Encoded<F>,
    (me, own): (ClientId, &mut ReplyWriter),
    (limit, gone): (&ObufClass, &HashSet<ClientId>),
    now: std::time::Instant,
    over_limit: &mut Vec<ClientId>,
) -> usize {
    let mut receivers = 0;
    for (&id, sub) in subs {
        if gone.contains(&id) {
            continue;
        }
        receivers += 1;
        if id == me {
            own.raw(&msg.get(own.is_resp3()));
            continue;
        }
        // The protocol in force now: a HELLO after SUBSCRIBE changes how messages look.
        let resp3 = clients.get(&id).map_or(sub.resp3, |e| e.resp == 3);
        // `None`: the connection is closing; its subscriptions go with it.
        let Some(pending) = sub.tx.send(msg.get(resp3)) else {
            continue;
        };
        if let Some(entry) = clients.get_mut(&id) {
            if limit.exceeded(pending, &mut entry.obuf_soft_since, now) {
                over_limit.push(id);
            }
        }
    }
    receivers
}

/// One message, encoded lazily at most once per protocol version.
struct Encoded<F: Fn(&mut ReplyWriter)> {
    write: F,
    resp2: Option<Bytes>,
    resp3: Option<Bytes>,
}

impl<F: Fn(&mut ReplyWriter)> Encoded<F> {
    fn new(write: F) -> Self {
        Encoded {
            write,
            resp2: None,
            resp3: None,
        }
    }

    fn get(&mut self, resp3: bool) -> Bytes {
        let slot = if resp3 {
            &mut self.resp3
        } else {
            &mut self.resp2
        };
        slot.get_or_insert_with(|| {
            let mut out = ReplyWriter::new(resp3);
            (self.write)(&mut out);
            out.take().freeze()
        })
        .clone()
    }
}
