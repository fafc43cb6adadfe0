//! Streams in RDB files: `RDB_TYPE_STREAM_LISTPACKS_2` (19) as Redis 7.0's `rdbSaveObject`
//! writes it, and types 15 and 19 as its `rdbLoadObject` reads them — one listpack per node
//! keyed by its 128-bit master id, the stream's counters, then the consumer groups with their
//! pending entries and consumers.

use std::collections::BTreeSet;

use crate::keyspace::stream::{Consumer, Group, Nack, Node, Stream, StreamId};
use crate::keyspace::Value;

use super::read::Reader;
use super::write::Writer;
use super::{packed, RdbError};

/// Writes the body of a stream value.
pub(super) fn write(w: &mut Writer, s: &Stream) {
    w.len(s.nodes.len() as u64);
    for (master, node) in &s.nodes {
        w.string(&master.encode());
        w.string(&node.to_listpack(*master));
    }
    w.len(s.length);
    w.len(s.last_id.ms);
    w.len(s.last_id.seq);
    w.len(s.first_id.ms);
    w.len(s.first_id.seq);
    w.len(s.max_deleted_entry_id.ms);
    w.len(s.max_deleted_entry_id.seq);
    w.len(s.entries_added);
    w.len(s.groups.len() as u64);
    for (name, g) in &s.groups {
        w.string(name);
        w.len(g.last_id.ms);
        w.len(g.last_id.seq);
        w.len(g.entries_read as u64);
        w.len(g.pel.len() as u64);
        for (id, nack) in &g.pel {
            w.out.extend_from_slice(&id.encode());
            w.out.extend_from_slice(&nack.delivery_time.to_le_bytes());
            w.len(nack.delivery_count);
        }
        w.len(g.consumers.len() as u64);
        for (cname, c) in &g.consumers {
            w.string(cname);
            w.out.extend_from_slice(&c.seen_time.to_le_bytes());
            w.len(c.pel.len() as u64);
            for id in &c.pel {
                w.out.extend_from_slice(&id.encode());
            }
        }
    }
}

fn raw_id(r: &mut Reader<'_>) -> Result<StreamId, RdbError> {
    let raw = r.take(16)?;
    StreamId::decode(raw).ok_or_else(|| r.corrupt("bad stream id"))
}

/// Reads the body of a stream value of type 19 (`v2`) or 15.
pub(super) fn read(r: &mut Reader<'_>, v2: bool) -> Result<Value, RdbError> {
    let mut s = Stream::new();
    let nodes = r.count()?;
    for _ in 0..nodes {
        let key = r.string()?;
        let master = StreamId::decode(&key)
            .ok_or_else(|| r.corrupt("Stream node key entry is not the size of a stream ID"))?;
        let lp = r.string()?;
        let items = packed::listpack(&lp)
            .map_err(|_| r.corrupt("Stream listpack integrity check failed."))?;
        if items.is_empty() {
            return Err(r.corrupt("Empty listpack inside stream"));
        }
        let node = Node::from_listpack(master, &items).map_err(|m| r.corrupt(m))?;
        if s.nodes.insert(master, node).is_some() {
            return Err(r.corrupt("Listpack re-added with existing key"));
        }
    }
    s.length = r.len()?;
    s.last_id = StreamId::new(r.len()?, r.len()?);
    if v2 {
        s.first_id = StreamId::new(r.len()?, r.len()?);
        s.max_deleted_entry_id = StreamId::new(r.len()?, r.len()?);
        s.entries_added = r.len()?;
    } else {
        s.entries_added = s.length;
        s.first_id = s.edge_id(true).unwrap_or(StreamId::MAX);
    }
    let live: u64 = s.nodes.values().map(|n| n.live).sum();
    if live != s.length {
        return Err(r.corrupt("Stream length inconsistent with rax entries"));
    }
    let groups = r.count()?;
    for _ in 0..groups {
        let name = r.string()?;
        let last_id = StreamId::new(r.len()?, r.len()?);
        let entries_read = if v2 {
            r.len()? as i64
        } else {
            s.estimate_distance(last_id)
        };
        let mut g = Group::new(last_id, entries_read);
        let pel = r.count()?;
        for _ in 0..pel {
            let id = raw_id(r)?;
            let delivery_time = r.i64_le()?;
            let delivery_count = r.len()?;
            let nack = Nack {
                delivery_time,
                delivery_count,
                consumer: Default::default(),
            };
            if g.pel.insert(id, nack).is_some() {
                return Err(r.corrupt("Duplicated global PEL entry loading stream consumer group"));
            }
        }
        let consumers = r.count()?;
        for _ in 0..consumers {
            let cname = r.string()?;
            let seen_time = r.i64_le()?;
            let n = r.count()?;
            let mut owned = BTreeSet::new();
            for _ in 0..n {
                let id = raw_id(r)?;
                let Some(nack) = g.pel.get_mut(&id) else {
                    return Err(r.corrupt("Consumer entry not found in group global PEL"));
                };
                nack.consumer = cname.clone();
                if !owned.insert(id) {
                    return Err(r.corrupt("Duplicated consumer PEL entry loading a stream group"));
                }
            }
            let c = Consumer {
                seen_time,
                pel: owned,
            };
            if g.consumers.insert(cname, c).is_some() {
                return Err(r.corrupt("Duplicate stream consumer detected."));
            }
        }
        if g.pel
            .values()
            .any(|n| n.consumer.is_empty() && !g.consumers.contains_key(&n.consumer))
        {
            return Err(r.corrupt("Stream CG PEL entry without consumer"));
        }
        if s.groups.insert(name, g).is_some() {
            return Err(r.corrupt("Duplicated consumer group name"));
        }
    }
    Ok(Value::Stream(Box::new(s)))
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::super::{read, write, LoadOptions};
    use crate::keyspace::stream::{Group, NodeLimits, Stream, StreamId};
    use crate::keyspace::Value;

    fn sample() -> Value {
        let mut s = Stream::new();
        let limits = NodeLimits {
            max_bytes: 4096,
            max_entries: 3,
        };
        for i in 1..=8u64 {
            let items = vec![
                Bytes::from_static(b"f"),
                Bytes::from(i.to_string()),
                Bytes::from_static(b"name"),
                Bytes::from("x".repeat(i as usize)),
            ];
            s.append(items, Some((StreamId::new(i, 0), true)), 0, limits)
                .unwrap();
        }
        s.delete_ids(&[StreamId::new(2, 0)]);
        let mut g = Group::new(StreamId::new(5, 0), 5);
        g.touch_consumer(b"alice", 1000);
        g.touch_consumer(b"bob", 2000);
        g.assign(StreamId::new(3, 0), b"alice").delivery_time = 77;
        g.assign(StreamId::new(4, 0), b"bob");
        s.groups.insert(Bytes::from_static(b"g"), g);
        Value::Stream(Box::new(s))
    }

    fn exercise(v: &Value) {
        let Value::Stream(s) = v else { return };
        let mut s = (**s).clone();
        s.range(StreamId::MIN, StreamId::MAX, false, 0);
        s.range(StreamId::MIN, StreamId::MAX, true, 3);
        s.rax_nodes();
        for g in s.groups.values() {
            s.lag(g);
        }
        s.trim(crate::keyspace::stream::Trim::MaxLen(2), false, 0);
        let _ = s.append(
            vec![Bytes::from_static(b"a"), Bytes::from_static(b"b")],
            None,
            9,
            NodeLimits::default(),
        );
        let _ = write::value_bytes(&Value::Stream(Box::new(s)), true);
    }

    #[test]
    fn round_trip() {
        let v = sample();
        let bytes = write::value_bytes(&v, false);
        let back = read::value_only(&bytes, &LoadOptions::default())
            .unwrap()
            .unwrap();
        assert_eq!(write::value_bytes(&back, false), bytes);
    }

    /// Every truncation and every single-byte change of a payload loads or is refused; none
    /// panics, and whatever loads can be used.
    #[test]
    fn damaged_bodies_never_panic() {
        let bytes = write::value_bytes(&sample(), false);
        let opts = LoadOptions::default();
        for n in 0..bytes.len() {
            if let Ok(Some(v)) = read::value_only(&bytes[..n], &opts) {
                exercise(&v);
            }
        }
        for i in 1..bytes.len() {
            for delta in [1u8, 0x40, 0x80, 0xff] {
                let mut b = bytes.clone();
                b[i] = b[i].wrapping_add(delta);
                if let Ok(Some(v)) = read::value_only(&b, &opts) {
                    exercise(&v);
                }
            }
        }
    }
}
