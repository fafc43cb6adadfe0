//! The slot map: what `CLUSTER SHARDS` (or `CLUSTER SLOTS`) says, parsed into a [`View`], and
//! the live [`Topology`] routing reads from (each slot's shard, each shard's nodes with their
//! connections).

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;

use crate::client::Client;
use crate::error::{Error, Result};
use crate::resp::Frame;
use crate::sentinel::NodeAddr;
use crate::slot::SLOT_COUNT;

/// A slot no shard serves.
const UNSERVED: u16 = u16::MAX;

/// One shard as a node described it: its master, its healthy replicas, its slot ranges.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct ShardView {
    pub(crate) master: NodeAddr,
    pub(crate) replicas: Vec<NodeAddr>,
    pub(crate) ranges: Vec<(u16, u16)>,
}

/// The cluster as one node described it, in a canonical order (so two equal descriptions
/// compare equal).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct View {
    pub(crate) shards: Vec<ShardView>,
}

impl View {
    fn canonical(mut shards: Vec<ShardView>) -> View {
        shards.retain(|s| !s.ranges.is_empty());
        for s in &mut shards {
            s.ranges.sort_unstable();
            s.replicas.sort();
            s.replicas.dedup();
        }
        shards.sort();
        View { shards }
    }

    /// How many slots it assigns.
    pub(crate) fn covered(&self) -> usize {
        self.shards
            .iter()
            .flat_map(|s| &s.ranges)
            .map(|&(a, b)| usize::from(b.saturating_sub(a)) + 1)
            .sum()
    }

    /// Parses a `CLUSTER SHARDS` reply given by the node at `asked`; `remap` rewrites each
    /// announced address.
    pub(crate) fn from_shards(
        reply: Frame,
        asked: &NodeAddr,
        remap: &dyn Fn(&NodeAddr) -> NodeAddr,
    ) -> Result<View> {
        let bad = |what: &str| Error::response(format!("CLUSTER SHARDS: {what}"));
        let mut shards = Vec::new();
        for shard in reply.into_vec().ok_or_else(|| bad("not an array"))? {
            let mut ranges = Vec::new();
            let mut master = None;
            let mut replicas = Vec::new();
            for (k, v) in fields(shard).ok_or_else(|| bad("a shard is not a map"))? {
                match &k[..] {
                    b"slots" => {
                        let bounds: Vec<i64> = v
                            .into_vec()
                            .ok_or_else(|| bad("slots not an array"))?
                            .iter()
                            .map(|f| f.as_i64().ok_or_else(|| bad("slot not an integer")))
                            .collect::<Result<_>>()?;
                        for pair in bounds.chunks(2) {
                            if let [a, b] = pair {
                                ranges.push((slot(*a)?, slot(*b)?));
                            }
                        }
                    }
                    b"nodes" => {
                        for node in v.into_vec().ok_or_else(|| bad("nodes not an array"))? {
                            let n = shard_node(node, asked).ok_or_else(|| bad("a bad node"))?;
                            let Some(addr) = n.addr else { continue };
                            let addr = remap(&addr);
                            if n.master {
                                master = Some(addr);
                            } else if n.healthy {
                                replicas.push(addr);
                            }
                        }
                    }
                    _ => {}
                }
            }
            if let Some(master) = master {
                shards.push(ShardView {
                    master,
                    replicas,
                    ranges,
                });
            }
        }
        Ok(View::canonical(shards))
    }

    /// Parses a `CLUSTER SLOTS` reply (servers before 7.0).
    pub(crate) fn from_slots(
        reply: Frame,
        asked: &NodeAddr,
        remap: &dyn Fn(&NodeAddr) -> NodeAddr,
    ) -> Result<View> {
        let bad = |what: &str| Error::response(format!("CLUSTER SLOTS: {what}"));
        let mut shards: Vec<ShardView> = Vec::new();
        for entry in reply.into_vec().ok_or_else(|| bad("not an array"))? {
            let mut it = entry
                .into_vec()
                .ok_or_else(|| bad("an entry is not an array"))?
                .into_iter();
            let (Some(a), Some(b)) = (it.next(), it.next()) else {
                return Err(bad("an entry without its range"));
            };
            let range = (
                slot(a.as_i64().ok_or_else(|| bad("bad start"))?)?,
                slot(b.as_i64().ok_or_else(|| bad("bad end"))?)?,
            );
            let mut nodes = it.filter_map(|n| slots_node(n, asked)).map(|a| remap(&a));
            let Some(master) = nodes.next() else { continue };
            let replicas: Vec<NodeAddr> = nodes.collect();
            match shards.iter_mut().find(|s| s.master == master) {
                Some(s) => {
                    s.ranges.push(range);
                    s.replicas.extend(replicas);
                }
                None => shards.push(ShardView {
                    master,
                    replicas,
                    ranges: vec![range],
                }),
            }
        }
        Ok(View::canonical(shards))
    }
}

fn slot(n: i64) -> Result<u16> {
    u16::try_from(n)
        .ok()
        .filter(|&s| s < SLOT_COUNT)
        .ok_or_else(|| Error::response(format!("slot {n} out of range")))
}

/// A map's entries, whether RESP3 sent a map or RESP2 a flat array of pairs.
fn fields(frame: Frame) -> Option<Vec<(Bytes, Frame)>> {
    let pairs: Vec<(Frame, Frame)> = match frame {
        Frame::Map(pairs) => pairs,
        Frame::Array(flat) => {
            let mut it = flat.into_iter();
            let mut pairs = Vec::new();
            while let (Some(k), Some(v)) = (it.next(), it.next()) {
                pairs.push((k, v));
            }
            pairs
        }
        _ => return None,
    };
    pairs
        .into_iter()
        .map(|(k, v)| Some((k.as_bytes()?.clone(), v)))
        .collect()
}

struct ShardNode {
    /// `None` when the node announces no usable endpoint (`?`).
    addr: Option<NodeAddr>,
    master: bool,
    healthy: bool,
}

/// The host to use for an announced endpoint: an empty one means "the host you asked", `?`
/// means none is known.
fn endpoint_host(endpoint: &[u8], asked: &NodeAddr) -> Option<String> {
    match endpoint {
        b"" => Some(asked.host().to_string()),
        b"?" => None,
        host => Some(String::from_utf8_lossy(host).into_owned()),
    }
}

fn shard_node(frame: Frame, asked: &NodeAddr) -> Option<ShardNode> {
    let (mut endpoint, mut ip, mut port) = (None, None, None);
    let (mut master, mut healthy) = (false, true);
    for (k, v) in fields(frame)? {
        match &k[..] {
            b"endpoint" => endpoint = v.as_bytes().cloned(),
            b"ip" => ip = v.as_bytes().cloned(),
            b"port" => port = v.as_i64(),
            b"tls-port" if port.is_none() => port = v.as_i64(),
            b"role" => master = v.as_bytes().is_some_and(|r| &r[..] == b"master"),
            b"health" => healthy = v.as_bytes().is_some_and(|h| &h[..] == b"online"),
            _ => {}
        }
    }
    let port = u16::try_from(port?).ok().filter(|&p| p != 0);
    // The endpoint is what clients should use; the ip when a server leaves it out.
    let host = match endpoint.or(ip) {
        Some(e) => endpoint_host(&e, asked),
        None => Some(asked.host().to_string()),
    };
    Some(ShardNode {
        addr: host.zip(port).map(|(h, p)| NodeAddr::new(h, p)),
        master,
        healthy,
    })
}

fn slots_node(frame: Frame, asked: &NodeAddr) -> Option<NodeAddr> {
    let v = frame.into_vec()?;
    let host = endpoint_host(v.first()?.as_bytes().map(|b| &b[..]).unwrap_or(b""), asked)?;
    let port = u16::try_from(v.get(1)?.as_i64()?)
        .ok()
        .filter(|&p| p != 0)?;
    Some(NodeAddr::new(host, port))
}

/// One node of the cluster and the client that talks to it.
pub(crate) struct Node {
    pub(crate) addr: NodeAddr,
    pub(crate) client: Client,
    /// How long its last topology answer took, in microseconds (`u64::MAX`: unknown).
    pub(crate) rtt_us: AtomicU64,
    /// Consecutive requests that found it unreachable.
    pub(crate) failures: AtomicU64,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node").field("addr", &self.addr).finish()
    }
}

/// A shard's nodes, live.
#[derive(Debug)]
pub(crate) struct Shard {
    pub(crate) master: Arc<Node>,
    pub(crate) replicas: Vec<Arc<Node>>,
    /// Round-robin position over the replicas.
    pub(crate) next_replica: AtomicUsize,
}

/// What routing reads: each slot's shard.
#[derive(Debug)]
pub(crate) struct Topology {
    slots: Vec<u16>,
    pub(crate) shards: Vec<Shard>,
    /// Bumped by each refresh and each patch.
    pub(crate) version: u64,
}

impl Topology {
    /// An empty map (no slot served).
    pub(crate) fn empty() -> Topology {
        Topology {
            slots: vec![UNSERVED; usize::from(SLOT_COUNT)],
            shards: Vec::new(),
            version: 0,
        }
    }

    /// The live map for `view`, taking each node's handle from `node`.
    pub(crate) fn build(
        view: &View,
        version: u64,
        mut node: impl FnMut(&NodeAddr) -> Arc<Node>,
    ) -> Topology {
        let mut slots = vec![UNSERVED; usize::from(SLOT_COUNT)];
        let mut shards = Vec::with_capacity(view.shards.len());
        for (i, s) in view.shards.iter().enumerate() {
            for &(a, b) in &s.ranges {
                for slot in a..=b.min(SLOT_COUNT - 1) {
                    slots[usize::from(slot)] = i as u16;
                }
            }
            shards.push(Shard {
                master: node(&s.master),
                replicas: s.replicas.iter().map(&mut node).collect(),
                next_replica: AtomicUsize::new(0),
            });
        }
        Topology {
            slots,
            shards,
            version,
        }
    }

    /// The shard serving `slot`.
    pub(crate) fn shard(&self, slot: u16) -> Option<&Shard> {
        match self.slots.get(usize::from(slot)) {
            Some(&i) if i != UNSERVED => self.shards.get(usize::from(i)),
            _ => None,
        }
    }

    /// How many slots are served.
    pub(crate) fn covered(&self) -> usize {
        self.slots.iter().filter(|&&s| s != UNSERVED).count()
    }

    /// This map with `slot` served by `to` (a `MOVED`): by the shard `to` is the master of,
    /// or by a new shard of its own.
    pub(crate) fn patched(&self, slot: u16, to: Arc<Node>, version: u64) -> Topology {
        let mut shards: Vec<Shard> = self
            .shards
            .iter()
            .map(|s| Shard {
                master: s.master.clone(),
                replicas: s.replicas.clone(),
                next_replica: AtomicUsize::new(s.next_replica.load(Ordering::Relaxed)),
            })
            .collect();
        let at = match shards.iter().position(|s| s.master.addr == to.addr) {
            Some(at) => at,
            None => {
                shards.push(Shard {
                    master: to,
                    replicas: Vec::new(),
                    next_replica: AtomicUsize::new(0),
                });
                shards.len() - 1
            }
        };
        let mut slots = self.slots.clone();
        slots[usize::from(slot % SLOT_COUNT)] = at as u16;
        Topology {
            slots,
            shards,
            version,
        }
    }

    /// The masters that serve at least one slot, in address order.
    pub(crate) fn masters(&self) -> Vec<Arc<Node>> {
        let mut used = vec![false; self.shards.len()];
        for &s in &self.slots {
            if s != UNSERVED {
                used[usize::from(s)] = true;
            }
        }
        let mut masters: Vec<Arc<Node>> = self
            .shards
            .iter()
            .zip(used)
            .filter(|(_, u)| *u)
            .map(|(s, _)| s.master.clone())
            .collect();
        masters.sort_by(|a, b| a.addr.cmp(&b.addr));
        masters.dedup_by(|a, b| a.addr == b.addr);
        masters
    }

    /// Every node it knows.
    pub(crate) fn nodes(&self) -> impl Iterator<Item = &Arc<Node>> {
        self.shards
            .iter()
            .flat_map(|s| std::iter::once(&s.master).chain(&s.replicas))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resp::{decode, Limits};

    fn frame(bytes: &[u8]) -> Frame {
        let mut buf = bytes::BytesMut::from(bytes);
        decode(&mut buf, &Limits::default()).unwrap().unwrap()
    }

    fn capture(name: &str) -> Vec<u8> {
        let path = format!(
            "{}/../testserver/tests/fixtures/cluster/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read(path).unwrap_or_default()
    }

    fn same(a: &NodeAddr) -> NodeAddr {
        a.clone()
    }

    #[test]
    fn shards_and_slots_of_real_redis_agree() {
        let asked = NodeAddr::new("127.0.0.1", 7000);
        let (shards, slots) = (
            capture("cluster_shards.resp"),
            capture("cluster_slots.resp"),
        );
        assert!(
            !shards.is_empty() && !slots.is_empty(),
            "captures of Redis 7.0.15"
        );
        let a = View::from_shards(frame(&shards), &asked, &same).unwrap();
        let b = View::from_slots(frame(&slots), &asked, &same).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.covered(), 16384);
        assert_eq!(a.shards.len(), 3);
        assert_eq!(a.shards[0].ranges, vec![(0, 5460)]);
        assert_eq!(a.shards[0].replicas, vec![NodeAddr::new("127.0.0.1", 7003)]);
        let r3 = capture("cluster_shards.resp3.resp");
        if !r3.is_empty() {
            let c = View::from_shards(frame(&r3), &asked, &same).unwrap();
            assert_eq!(a, c, "RESP3 maps parse like RESP2 pairs");
        }
    }

    #[test]
    fn empty_and_unknown_endpoints() {
        let asked = NodeAddr::new("10.1.1.1", 7000);
        let reply = Frame::Array(vec![
            Frame::Array(vec![
                Frame::Integer(0),
                Frame::Integer(99),
                Frame::Array(vec![Frame::bulk(""), Frame::Integer(7000)]),
                Frame::Array(vec![Frame::bulk("?"), Frame::Integer(7003)]),
            ]),
            Frame::Array(vec![
                Frame::Integer(100),
                Frame::Integer(16383),
                Frame::Array(vec![Frame::bulk("10.1.1.2"), Frame::Integer(7001)]),
            ]),
            Frame::Array(vec![Frame::Integer(5)]),
        ]);
        let remap = |a: &NodeAddr| NodeAddr::new(a.host(), a.port() + 1);
        let err = View::from_slots(reply.clone(), &asked, &remap).unwrap_err();
        assert!(err.to_string().contains("range"), "{err}");
        let Frame::Array(mut entries) = reply else {
            unreachable!()
        };
        entries.pop();
        let v = View::from_slots(Frame::Array(entries), &asked, &remap).unwrap();
        assert_eq!(v.shards[0].master, NodeAddr::new("10.1.1.1", 7001));
        assert!(v.shards[0].replicas.is_empty(), "'?' is skipped");
        assert_eq!(v.shards[1].master, NodeAddr::new("10.1.1.2", 7002));
        assert_eq!(v.covered(), 16384);
        // Hostile numbers are errors, not panics.
        let bad = Frame::Array(vec![Frame::Array(vec![
            Frame::Integer(-1),
            Frame::Integer(i64::MAX),
            Frame::Array(vec![Frame::bulk("h"), Frame::Integer(1)]),
        ])]);
        assert!(View::from_slots(bad, &asked, &remap).is_err());
    }
}
