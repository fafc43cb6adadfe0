//! The stream type: entries in nodes shaped as Redis's listpacks, plus consumer groups.
//!
//! Redis keeps a stream as a radix tree of listpacks ("nodes"), each holding up to
//! `stream-node-max-entries` entries and `stream-node-max-bytes` bytes, keyed by the id of its
//! first entry (the "master" id). Deleted entries stay in their node as tombstones until the
//! whole node is empty. Node boundaries are visible from outside — approximate trimming (`~`)
//! removes whole nodes only, XINFO reports the number of nodes, and RDB files hold one listpack
//! per node — so this module keeps the same nodes, with the same byte accounting, while storing
//! entries as plain values.

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;

/// A stream entry id, `<ms>-<seq>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct StreamId {
    /// Milliseconds part.
    pub ms: u64,
    /// Sequence part.
    pub seq: u64,
}

impl StreamId {
    /// `0-0`.
    pub const MIN: StreamId = StreamId { ms: 0, seq: 0 };
    /// The largest id.
    pub const MAX: StreamId = StreamId {
        ms: u64::MAX,
        seq: u64::MAX,
    };

    /// An id from its parts.
    pub const fn new(ms: u64, seq: u64) -> StreamId {
        StreamId { ms, seq }
    }

    /// The next id (`None` past the largest), as Redis's `streamIncrID`.
    pub fn incr(self) -> Option<StreamId> {
        if self.seq == u64::MAX {
            if self.ms == u64::MAX {
                None
            } else {
                Some(StreamId::new(self.ms + 1, 0))
            }
        } else {
            Some(StreamId::new(self.ms, self.seq + 1))
        }
    }

    /// The previous id (`None` before `0-0`), as Redis's `streamDecrID`.
    pub fn decr(self) -> Option<StreamId> {
        if self.seq == 0 {
            if self.ms == 0 {
                None
            } else {
                Some(StreamId::new(self.ms - 1, u64::MAX))
            }
        } else {
            Some(StreamId::new(self.ms, self.seq - 1))
        }
    }

    /// Whether this is `0-0`.
    pub fn is_zero(self) -> bool {
        self == StreamId::MIN
    }

    /// The id as text, `<ms>-<seq>`.
    pub fn to_bytes(self) -> Bytes {
        Bytes::from(self.to_string())
    }

    /// The 128-bit big-endian key Redis's radix trees use.
    pub fn encode(self) -> [u8; 16] {
        let mut out = [0u8; 16];
        out[..8].copy_from_slice(&self.ms.to_be_bytes());
        out[8..].copy_from_slice(&self.seq.to_be_bytes());
        out
    }

    /// The inverse of [`StreamId::encode`].
    pub fn decode(raw: &[u8]) -> Option<StreamId> {
        if raw.len() != 16 {
            return None;
        }
        let ms = u64::from_be_bytes(raw[..8].try_into().ok()?);
        let seq = u64::from_be_bytes(raw[8..].try_into().ok()?);
        Some(StreamId::new(ms, seq))
    }
}

impl std::fmt::Display for StreamId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// One entry of a node (possibly a tombstone).
#[derive(Debug, Clone)]
pub struct Entry {
    /// Its id.
    pub id: StreamId,
    /// Field, value, field, value...
    pub items: Vec<Bytes>,
    /// Deleted (XDEL, exact trimming) but still in its node.
    pub deleted: bool,
    /// Its fields are the node's master fields (the listpack omits them).
    pub same_fields: bool,
}

/// One node: what Redis keeps in one listpack.
#[derive(Debug, Clone)]
pub struct Node {
    /// The master entry's fields (the first entry's).
    pub master_fields: Vec<Bytes>,
    /// Entries in id order, tombstones included.
    pub entries: Vec<Entry>,
    /// Live entries.
    pub live: u64,
    /// Tombstones.
    pub deleted: u64,
    /// Listpack bytes of the entries (without the header, master entry and terminator).
    body_bytes: usize,
}

/// Listpack flag bits of an entry.
const FLAG_DELETED: i64 = 1;
const FLAG_SAMEFIELDS: i64 = 2;

impl Node {
    fn new(master_fields: Vec<Bytes>) -> Node {
        Node {
            master_fields,
            entries: Vec::new(),
            live: 0,
            deleted: 0,
            body_bytes: 0,
        }
    }

    /// The size `lpBytes` would report for this node's listpack.
    pub fn lp_bytes(&self) -> usize {
        let mut n = 6 + 1;
        n += lp::int_size(self.live as i64) + lp::int_size(self.deleted as i64);
        n += lp::int_size(self.master_fields.len() as i64);
        n += self
            .master_fields
            .iter()
            .map(|f| lp::str_size(f))
            .sum::<usize>();
        n += lp::int_size(0);
        n + self.body_bytes
    }

    fn entry_bytes(master: StreamId, e: &Entry) -> usize {
        let flags = if e.same_fields { FLAG_SAMEFIELDS } else { 0 };
        let nfields = e.items.len() / 2;
        let mut n = lp::int_size(flags);
        n += lp::int_size(e.id.ms.wrapping_sub(master.ms) as i64);
        n += lp::int_size(e.id.seq.wrapping_sub(master.seq) as i64);
        let mut count = nfields + 3;
        if e.same_fields {
            n += e
                .items
                .iter()
                .skip(1)
                .step_by(2)
                .map(|v| lp::str_size(v))
                .sum::<usize>();
        } else {
            n += lp::int_size(nfields as i64);
            n += e.items.iter().map(|v| lp::str_size(v)).sum::<usize>();
            count += nfields + 1;
        }
        n + lp::int_size(count as i64)
    }

    /// The id of the node's last entry (tombstones included).
    fn last_id(&self) -> Option<StreamId> {
        self.entries.last().map(|e| e.id)
    }

    /// Position of the first entry with an id `>= id`.
    fn lower_bound(&self, id: StreamId) -> usize {
        self.entries.partition_point(|e| e.id < id)
    }

    /// The node as Redis's listpack bytes (for RDB files and DUMP).
    pub fn to_listpack(&self, master: StreamId) -> Vec<u8> {
        let mut w = lp::Writer::new();
        w.int(self.live as i64);
        w.int(self.deleted as i64);
        w.int(self.master_fields.len() as i64);
        for f in &self.master_fields {
            w.str(f);
        }
        w.int(0);
        for e in &self.entries {
            let mut flags = if e.same_fields { FLAG_SAMEFIELDS } else { 0 };
            if e.deleted {
                flags |= FLAG_DELETED;
            }
            let nfields = e.items.len() / 2;
            w.int(flags);
            w.int(e.id.ms.wrapping_sub(master.ms) as i64);
            w.int(e.id.seq.wrapping_sub(master.seq) as i64);
            let mut count = nfields + 3;
            if e.same_fields {
                for v in e.items.iter().skip(1).step_by(2) {
                    w.str(v);
                }
            } else {
                w.int(nfields as i64);
                for v in &e.items {
                    w.str(v);
                }
                count += nfields + 1;
            }
            w.int(count as i64);
        }
        w.finish()
    }

    /// A node from a listpack Redis wrote (`elements` are its decoded elements).
    pub fn from_listpack(master: StreamId, elements: &[Bytes]) -> Result<Node, String> {
        let bad = || "stream listpack is not a valid stream node".to_string();
        let int = |b: &Bytes| -> Result<i64, String> {
            rediscover::resp::parse_integer(b).ok_or_else(bad)
        };
        let mut it = elements.iter();
        let mut next = || it.next().ok_or_else(bad);
        let live = int(next()?)?;
        let deleted = int(next()?)?;
        let nmaster = int(next()?)?;
        if live < 0 || deleted < 0 || nmaster < 0 {
            return Err(bad());
        }
        let mut master_fields = Vec::new();
        for _ in 0..nmaster {
            master_fields.push(next()?.clone());
        }
        if int(next()?)? != 0 {
            return Err(bad());
        }
        let mut node = Node::new(master_fields);
        let rest: Vec<&Bytes> = it.collect();
        let mut i = 0;
        let mut prev: Option<StreamId> = None;
        while i < rest.len() {
            let get = |j: usize| rest.get(j).copied().ok_or_else(bad);
            let flags = int(get(i)?)?;
            let ms = master.ms.wrapping_add(int(get(i + 1)?)? as u64);
            let seq = master.seq.wrapping_add(int(get(i + 2)?)? as u64);
            let id = StreamId::new(ms, seq);
            if prev.is_some_and(|p| p >= id) || id < master {
                return Err(bad());
            }
            prev = Some(id);
            i += 3;
            let same = flags & FLAG_SAMEFIELDS != 0;
            let mut items = Vec::new();
            if same {
                for f in &node.master_fields {
                    items.push(f.clone());
                    items.push(get(i)?.clone());
                    i += 1;
                }
            } else {
                let n = int(get(i)?)?;
                if n < 0 {
                    return Err(bad());
                }
                i += 1;
                for _ in 0..n * 2 {
                    items.push(get(i)?.clone());
                    i += 1;
                }
            }
            // lp-count
            int(get(i)?)?;
            i += 1;
            let e = Entry {
                id,
                items,
                deleted: flags & FLAG_DELETED != 0,
                same_fields: same,
            };
            node.body_bytes += Node::entry_bytes(master, &e);
            node.entries.push(e);
        }
        let (l, d) = node.entries.iter().fold((0u64, 0u64), |(l, d), e| {
            if e.deleted {
                (l, d + 1)
            } else {
                (l + 1, d)
            }
        });
        if l != live as u64 || d != deleted as u64 || node.entries.is_empty() {
            return Err(bad());
        }
        node.live = l;
        node.deleted = d;
        Ok(node)
    }
}

/// A pending entry of a consumer group.
#[derive(Debug, Clone)]
pub struct Nack {
    /// Last delivery, Unix ms.
    pub delivery_time: i64,
    /// Deliveries so far.
    pub delivery_count: u64,
    /// Its owner.
    pub consumer: Bytes,
}

/// A consumer of a group.
#[derive(Debug, Clone, Default)]
pub struct Consumer {
    /// Last time it was seen (Unix ms).
    pub seen_time: i64,
    /// Ids it owns in the group's PEL.
    pub pel: BTreeSet<StreamId>,
    /// Radix tree node count of `pel` (memory accounting).
    pub pel_rax: RaxCache,
}

impl Consumer {
    /// Radix tree nodes Redis would use for this consumer's PEL.
    pub fn pel_rax_nodes(&self) -> u64 {
        self.pel_rax
            .get(self.pel.len(), self.pel.first(), self.pel.last(), || {
                self.pel.iter()
            })
    }
}

/// A radix-tree node count for a set of ids, computed when first asked and again when the
/// set's size or either end has changed since. Memory accounting asks after every write to a
/// stream; this keeps that from walking every node and pending entry each time. An id added
/// after the last one (XADD, a PEL growing by XREADGROUP) updates the count in O(1) from the
/// branch points on the last id's path; anything else recounts. (A change in the middle of a
/// set that keeps its size and ends leaves an older count: an estimate.)
#[derive(Debug, Clone, Default)]
pub struct RaxCache(Cell<Option<RaxCount>>);

/// A cached count, with what the next append needs.
#[derive(Debug, Clone, Copy)]
struct RaxCount {
    len: usize,
    first: StreamId,
    last: StreamId,
    nodes: u64,
    /// Depths (increasing) where the rax branches on the path to `last`.
    branches: [u8; 16],
    branch_len: u8,
}

impl RaxCount {
    /// The count once `id` (greater than `last`) is added.
    fn append(mut self, id: StreamId) -> RaxCount {
        let (old, new) = (self.last.encode(), id.encode());
        let p = old.iter().zip(&new).take_while(|(a, b)| a == b).count();
        let branches = &self.branches[..self.branch_len as usize];
        // The new id's own nodes below its branch: a run to its end, then its key node.
        let own = if p + 1 < 16 { 2 } else { 1 };
        let delta = if branches.contains(&(p as u8)) {
            own
        } else {
            // p splits the run [a, b) on the last id's path: [a, p), a branch at p, [p+1, b).
            let a = branches
                .iter()
                .rev()
                .find(|&&d| (d as usize) < p)
                .map_or(0, |&d| d as usize + 1);
            let b = branches
                .iter()
                .find(|&&d| d as usize > p)
                .map_or(16, |&d| d as usize);
            u64::from(a < p) + 1 + u64::from(p + 1 < b) + own - 1
        };
        let keep = branches.iter().take_while(|&&d| (d as usize) < p).count();
        self.branches[keep] = p as u8;
        self.branch_len = keep as u8 + 1;
        self.nodes += delta;
        self.len += 1;
        self.last = id;
        self
    }

    /// Counts `ids` (sorted, at least one) from scratch.
    fn of<'a>(ids: impl Iterator<Item = &'a StreamId>) -> RaxCount {
        let keys: Vec<[u8; 16]> = ids.map(|k| k.encode()).collect();
        let last = keys[keys.len() - 1];
        // The branch points on the last key's path are where earlier keys leave it: the
        // distinct common-prefix lengths with it.
        let mut depths = [false; 16];
        let mut shared = 16;
        for pair in keys.windows(2).rev() {
            let lcp = pair[0]
                .iter()
                .zip(&pair[1])
                .take_while(|(a, b)| a == b)
                .count();
            shared = shared.min(lcp);
            depths[shared] = true;
        }
        let mut branches = [0u8; 16];
        let mut branch_len = 0;
        for (d, _) in depths.iter().enumerate().filter(|(_, &b)| b) {
            branches[branch_len] = d as u8;
            branch_len += 1;
        }
        RaxCount {
            len: keys.len(),
            first: StreamId::decode(&keys[0]).unwrap_or_default(),
            last: StreamId::decode(&last).unwrap_or_default(),
            nodes: rax_count(&keys, 0),
            branches,
            branch_len: branch_len as u8,
        }
    }
}

impl RaxCache {
    /// The count for a set of `len` ids from `first` to `last`, listed by `ids` in order.
    pub fn get<'a, I: Iterator<Item = &'a StreamId>>(
        &self,
        len: usize,
        first: Option<&StreamId>,
        last: Option<&StreamId>,
        ids: impl FnOnce() -> I,
    ) -> u64 {
        let (Some(&first), Some(&last)) = (first, last) else {
            self.0.set(None);
            return 1;
        };
        if let Some(c) = self.0.get() {
            if (c.len, c.first, c.last) == (len, first, last) {
                return c.nodes;
            }
            if c.len + 1 == len && c.first == first && last > c.last {
                let c = c.append(last);
                self.0.set(Some(c));
                return c.nodes;
            }
        }
        let c = RaxCount::of(ids());
        self.0.set(Some(c));
        c.nodes
    }
}

/// A consumer group.
#[derive(Debug, Clone)]
pub struct Group {
    /// Last delivered id.
    pub last_id: StreamId,
    /// Logical read counter (`-1`: unknown).
    pub entries_read: i64,
    /// Pending entries.
    pub pel: BTreeMap<StreamId, Nack>,
    /// Consumers by name.
    pub consumers: BTreeMap<Bytes, Consumer>,
    /// Radix tree node count of `pel` (memory accounting).
    pub pel_rax: RaxCache,
}

/// `SCG_INVALID_ENTRIES_READ`.
pub const INVALID_ENTRIES_READ: i64 = -1;

impl Group {
    /// A group at `last_id`.
    pub fn new(last_id: StreamId, entries_read: i64) -> Group {
        Group {
            last_id,
            entries_read,
            pel: BTreeMap::new(),
            consumers: BTreeMap::new(),
            pel_rax: RaxCache::default(),
        }
    }

    /// Radix tree nodes Redis would use for this group's PEL.
    pub fn pel_rax_nodes(&self) -> u64 {
        let keys = || self.pel.keys();
        self.pel_rax.get(
            self.pel.len(),
            self.pel.keys().next(),
            self.pel.keys().next_back(),
            keys,
        )
    }

    /// Looks up (and refreshes the seen time of) a consumer, creating it if missing. Returns
    /// whether it was created.
    pub fn touch_consumer(&mut self, name: &[u8], now: i64) -> bool {
        match self.consumers.get_mut(name) {
            Some(c) => {
                c.seen_time = now;
                false
            }
            None => {
                self.consumers.insert(
                    Bytes::copy_from_slice(name),
                    Consumer {
                        seen_time: now,
                        pel: BTreeSet::new(),
                        pel_rax: RaxCache::default(),
                    },
                );
                true
            }
        }
    }

    /// Removes `id` from the PEL (and its owner's); true if it was pending.
    pub fn ack(&mut self, id: StreamId) -> bool {
        match self.pel.remove(&id) {
            Some(nack) => {
                if let Some(c) = self.consumers.get_mut(&nack.consumer) {
                    c.pel.remove(&id);
                }
                true
            }
            None => false,
        }
    }

    /// Gives pending `id` to `consumer` (which must exist), creating the NACK (delivery time
    /// 0, count 1, as `streamCreateNACK`) if needed. Returns the NACK.
    pub fn assign(&mut self, id: StreamId, consumer: &[u8]) -> &mut Nack {
        let name = self
            .consumers
            .get_key_value(consumer)
            .map(|(k, _)| k.clone())
            .unwrap_or_else(|| Bytes::copy_from_slice(consumer));
        if let Some(old) = self.pel.get(&id).map(|n| n.consumer.clone()) {
            if old != name {
                if let Some(c) = self.consumers.get_mut(&old) {
                    c.pel.remove(&id);
                }
            }
        }
        if let Some(c) = self.consumers.get_mut(consumer) {
            c.pel.insert(id);
        }
        let nack = self.pel.entry(id).or_insert_with(|| Nack {
            delivery_time: 0,
            delivery_count: 1,
            consumer: name.clone(),
        });
        nack.consumer = name;
        nack
    }
}

/// Trimming: what to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trim {
    /// At most this many entries.
    MaxLen(u64),
    /// No entry below this id.
    MinId(StreamId),
}

/// Node limits (`stream-node-max-bytes`, `stream-node-max-entries`).
#[derive(Debug, Clone, Copy)]
pub struct NodeLimits {
    /// Bytes per node (0: no limit).
    pub max_bytes: u64,
    /// Entries per node (0: no limit).
    pub max_entries: u64,
}

impl Default for NodeLimits {
    fn default() -> Self {
        NodeLimits {
            max_bytes: 4096,
            max_entries: 100,
        }
    }
}

/// Why XADD could not append.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppendError {
    /// The id is not above the stream's last id.
    IdTooSmall,
    /// The fields and values are too large for a listpack.
    TooLarge,
}

/// A stream.
#[derive(Debug, Clone, Default)]
pub struct Stream {
    /// Nodes by master id.
    pub nodes: BTreeMap<StreamId, Node>,
    /// Live entries.
    pub length: u64,
    /// Last id ever generated.
    pub last_id: StreamId,
    /// First live entry's id (`0-0` when empty).
    pub first_id: StreamId,
    /// Largest id ever deleted.
    pub max_deleted_entry_id: StreamId,
    /// Entries ever added.
    pub entries_added: u64,
    /// Consumer groups by name.
    pub groups: BTreeMap<Bytes, Group>,
    /// Radix tree node count of the node keys (XINFO, memory accounting).
    pub node_rax: RaxCache,
}

const LISTPACK_MAX_SIZE: u64 = 1 << 30;

impl Stream {
    /// An empty stream.
    pub fn new() -> Stream {
        Stream::default()
    }

    /// Appends an entry (`items` are field, value pairs, copied in). `id`: `None` for `*`, or
    /// the id and whether its sequence was given (`ms-*` when not). Returns the new id.
    pub fn append(
        &mut self,
        items: Vec<Bytes>,
        id: Option<(StreamId, bool)>,
        now_ms: u64,
        limits: NodeLimits,
    ) -> Result<StreamId, AppendError> {
        let id = match id {
            Some((id, true)) => id,
            Some((id, false)) => {
                if self.last_id.ms == id.ms {
                    if self.last_id.seq == u64::MAX {
                        // Redis reports this as "too large": its errno is not EDOM here.
                        return Err(AppendError::TooLarge);
                    }
                    StreamId::new(id.ms, self.last_id.seq + 1)
                } else {
                    id
                }
            }
            None => {
                if now_ms > self.last_id.ms {
                    StreamId::new(now_ms, 0)
                } else {
                    self.last_id.incr().unwrap_or(StreamId::MIN)
                }
            }
        };
        if id <= self.last_id {
            return Err(AppendError::IdTooSmall);
        }
        let total: u64 = items.iter().map(|b| b.len() as u64).sum();
        if total > LISTPACK_MAX_SIZE {
            return Err(AppendError::TooLarge);
        }
        let max_bytes = if limits.max_bytes == 0 || limits.max_bytes > LISTPACK_MAX_SIZE {
            LISTPACK_MAX_SIZE
        } else {
            limits.max_bytes
        };
        let need_new = match self.nodes.last_key_value() {
            None => true,
            Some((_, node)) => {
                node.lp_bytes() as u64 + total >= max_bytes
                    || (limits.max_entries != 0 && node.live + node.deleted >= limits.max_entries)
            }
        };
        if need_new {
            let fields = items
                .iter()
                .step_by(2)
                .map(|f| Bytes::copy_from_slice(f))
                .collect();
            self.nodes.insert(id, Node::new(fields));
        }
        let (&master, node) = self.nodes.last_key_value_mut_compat();
        let same_fields = node.master_fields.len() * 2 == items.len()
            && node
                .master_fields
                .iter()
                .zip(items.iter().step_by(2))
                .all(|(a, b)| a == b);
        // The stream keeps its own copies (the arguments may be slices of a read buffer);
        // field names equal to the node's master fields share the master's bytes.
        let mut items = items;
        for (i, item) in items.iter_mut().enumerate() {
            *item = if same_fields && i % 2 == 0 {
                node.master_fields[i / 2].clone()
            } else {
                Bytes::copy_from_slice(item)
            };
        }
        let entry = Entry {
            id,
            items,
            deleted: false,
            same_fields,
        };
        node.body_bytes += Node::entry_bytes(master, &entry);
        node.entries.push(entry);
        node.live += 1;
        self.length += 1;
        self.entries_added += 1;
        self.last_id = id;
        if self.length == 1 {
            self.first_id = id;
        }
        Ok(id)
    }

    /// Live entries with ids in `start..=end`, at most `count` (0: all), forward or reverse.
    pub fn range(&self, start: StreamId, end: StreamId, rev: bool, count: usize) -> Vec<&Entry> {
        let mut out = Vec::new();
        if start > end {
            return out;
        }
        let full = |out: &Vec<&Entry>| count != 0 && out.len() >= count;
        if !rev {
            let from = self
                .nodes
                .range(..=start)
                .next_back()
                .map_or(start, |(k, _)| *k);
            for (_, node) in self.nodes.range(from..) {
                for e in &node.entries[node.lower_bound(start)..] {
                    if e.id > end {
                        return out;
                    }
                    if !e.deleted {
                        out.push(e);
                        if full(&out) {
                            return out;
                        }
                    }
                }
            }
        } else {
            for (_, node) in self.nodes.range(..=end).rev() {
                let upto = node.entries.partition_point(|e| e.id <= end);
                for e in node.entries[..upto].iter().rev() {
                    if e.id < start {
                        return out;
                    }
                    if !e.deleted {
                        out.push(e);
                        if full(&out) {
                            return out;
                        }
                    }
                }
            }
        }
        out
    }

    /// The live entry `id`.
    pub fn get(&self, id: StreamId) -> Option<&Entry> {
        let (_, node) = self.nodes.range(..=id).next_back()?;
        let i = node.lower_bound(id);
        node.entries.get(i).filter(|e| e.id == id && !e.deleted)
    }

    /// First (or last) live entry id.
    pub fn edge_id(&self, first: bool) -> Option<StreamId> {
        if first {
            self.nodes
                .values()
                .flat_map(|n| n.entries.iter())
                .find(|e| !e.deleted)
                .map(|e| e.id)
        } else {
            self.nodes
                .values()
                .rev()
                .flat_map(|n| n.entries.iter().rev())
                .find(|e| !e.deleted)
                .map(|e| e.id)
        }
    }

    /// The last live id (`0-0` when empty): Redis's `streamLastValidID`.
    pub fn last_valid_id(&self) -> StreamId {
        self.edge_id(false).unwrap_or(StreamId::MIN)
    }

    /// The first id including tombstones (`streamGetEdgeID(s,1,0)`); the maximum id when
    /// there is none.
    pub fn first_id_with_tombstones(&self) -> StreamId {
        self.nodes
            .values()
            .next()
            .and_then(|n| n.entries.first())
            .map_or(StreamId::MAX, |e| e.id)
    }

    fn refresh_first_id(&mut self) {
        self.first_id = if self.length == 0 {
            StreamId::MIN
        } else {
            self.edge_id(true).unwrap_or(StreamId::MAX)
        };
    }

    /// Deletes the live entry `id` (XDEL); true if there was one.
    pub fn delete(&mut self, id: StreamId) -> bool {
        let Some((&master, node)) = self.nodes.range_mut(..=id).next_back() else {
            return false;
        };
        let i = node.lower_bound(id);
        match node.entries.get_mut(i) {
            Some(e) if e.id == id && !e.deleted => e.deleted = true,
            _ => return false,
        }
        if node.live == 1 {
            self.nodes.remove(&master);
        } else {
            node.live -= 1;
            node.deleted += 1;
        }
        self.length -= 1;
        true
    }

    /// Deletes ids as XDEL does, keeping `first_id` and `max_deleted_entry_id`. Returns how
    /// many were deleted.
    pub fn delete_ids(&mut self, ids: &[StreamId]) -> u64 {
        let mut deleted = 0;
        let mut first = false;
        for &id in ids {
            if self.delete(id) {
                if id == self.first_id {
                    first = true;
                }
                if id > self.max_deleted_entry_id {
                    self.max_deleted_entry_id = id;
                }
                deleted += 1;
            }
        }
        if deleted > 0 && (self.length == 0 || first) {
            self.refresh_first_id();
        }
        deleted
    }

    /// Trims as Redis's `streamTrim`: whole nodes first; within a node only when not `approx`.
    /// `limit` bounds the entries removed (0: none). Returns the number removed.
    pub fn trim(&mut self, trim: Trim, approx: bool, limit: u64) -> u64 {
        let mut deleted = 0u64;
        loop {
            if let Trim::MaxLen(max) = trim {
                if self.length <= max {
                    break;
                }
            }
            let Some((&master, node)) = self.nodes.iter_mut().next() else {
                break;
            };
            let entries = node.live;
            if limit != 0 && deleted + entries > limit {
                break;
            }
            let remove = match trim {
                Trim::MaxLen(max) => self.length - entries >= max,
                Trim::MinId(min) => node.last_id().is_some_and(|l| l < min),
            };
            if remove {
                self.nodes.remove(&master);
                self.length -= entries;
                deleted += entries;
                continue;
            }
            if approx {
                break;
            }
            let mut from_node = 0;
            for e in node.entries.iter_mut() {
                let stop = match trim {
                    Trim::MaxLen(max) => self.length <= max,
                    Trim::MinId(min) => e.id >= min,
                };
                if stop {
                    break;
                }
                if !e.deleted {
                    e.deleted = true;
                    from_node += 1;
                    self.length -= 1;
                }
            }
            node.live -= from_node;
            node.deleted += from_node;
            deleted += from_node;
            break;
        }
        if self.length == 0 {
            self.first_id = StreamId::MIN;
        } else if deleted > 0 {
            self.refresh_first_id();
        }
        deleted
    }

    /// Whether `start..=end` may hold a tombstone (`streamRangeHasTombstones`).
    pub fn range_has_tombstones(&self, start: Option<StreamId>, end: Option<StreamId>) -> bool {
        if self.length == 0 || self.max_deleted_entry_id.is_zero() {
            return false;
        }
        if self.first_id > self.max_deleted_entry_id {
            return false;
        }
        let start = start.unwrap_or(StreamId::MIN);
        let end = end.unwrap_or(StreamId::MAX);
        start <= self.max_deleted_entry_id && self.max_deleted_entry_id <= end
    }

    /// `streamEstimateDistanceFromFirstEverEntry`: the logical read counter of `id`, or
    /// [`INVALID_ENTRIES_READ`].
    pub fn estimate_distance(&self, id: StreamId) -> i64 {
        if self.entries_added == 0 {
            return 0;
        }
        if self.length == 0 && id <= self.last_id {
            return self.entries_added as i64;
        }
        if id == self.last_id {
            return self.entries_added as i64;
        } else if id > self.last_id {
            return INVALID_ENTRIES_READ;
        }
        if self.max_deleted_entry_id.is_zero() || self.max_deleted_entry_id < self.first_id {
            // Saturating: a loaded stream may claim fewer additions than entries.
            if id < self.first_id {
                return self.entries_added.saturating_sub(self.length) as i64;
            } else if id == self.first_id {
                return self.entries_added.saturating_sub(self.length) as i64 + 1;
            }
        }
        INVALID_ENTRIES_READ
    }

    /// A group's lag (`None`: unknown), as `streamReplyWithCGLag`.
    pub fn lag(&self, g: &Group) -> Option<i64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        if g.entries_read != INVALID_ENTRIES_READ
            && !self.range_has_tombstones(Some(g.last_id), None)
        {
            return Some((self.entries_added as i64).wrapping_sub(g.entries_read));
        }
        let read = self.estimate_distance(g.last_id);
        (read != INVALID_ENTRIES_READ).then(|| (self.entries_added as i64).wrapping_sub(read))
    }

    /// Moves a group's last id forward over `id` as a delivery does, keeping its read counter.
    pub fn advance_group(&self, g: &mut Group, id: StreamId) {
        if id <= g.last_id {
            return;
        }
        if g.entries_read != INVALID_ENTRIES_READ && !self.range_has_tombstones(Some(id), None) {
            g.entries_read = g.entries_read.wrapping_add(1);
        } else if self.entries_added != 0 {
            g.entries_read = self.estimate_distance(id);
        }
        g.last_id = id;
    }

    /// Number of nodes (XINFO's `radix-tree-keys`).
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Number of radix tree nodes Redis's rax would use for the node keys
    /// (`radix-tree-nodes`).
    pub fn rax_nodes(&self) -> u64 {
        let keys = || self.nodes.keys();
        self.node_rax.get(
            self.nodes.len(),
            self.nodes.keys().next(),
            self.nodes.keys().next_back(),
            keys,
        )
    }

    /// Number of radix tree nodes Redis's rax would use for these ids (a PEL).
    pub fn rax_nodes_of<'a>(ids: impl Iterator<Item = &'a StreamId>) -> u64 {
        let keys: Vec<[u8; 16]> = ids.map(|k| k.encode()).collect();
        if keys.is_empty() {
            return 1;
        }
        rax_count(&keys, 0)
    }

    /// Rough memory use, for MEMORY USAGE-style estimates.
    pub fn approx_bytes(&self) -> usize {
        self.nodes.values().map(|n| n.lp_bytes()).sum::<usize>() + 64
    }
}

/// Nodes of a radix tree holding `keys` (sorted, distinct, equal length) below depth `d`:
/// one compressed node per shared run of bytes, one node per branching point, one per key.
fn rax_count(keys: &[[u8; 16]], d: usize) -> u64 {
    if d == 16 {
        return 1;
    }
    let first = &keys[0];
    let last = &keys[keys.len() - 1];
    let mut l = 0;
    while d + l < 16 && first[d + l] == last[d + l] {
        l += 1;
    }
    if l > 0 {
        return 1 + rax_count(keys, d + l);
    }
    let mut n = 1;
    let mut i = 0;
    while i < keys.len() {
        let b = keys[i][d];
        let j = i + keys[i..].partition_point(|k| k[d] == b);
        n += rax_count(&keys[i..j], d + 1);
        i = j;
    }
    n
}

/// `BTreeMap::last_key_value` with a mutable value.
trait LastMut<K, V> {
    fn last_key_value_mut_compat(&mut self) -> (&K, &mut V);
}

impl<K: Ord, V> LastMut<K, V> for BTreeMap<K, V> {
    fn last_key_value_mut_compat(&mut self) -> (&K, &mut V) {
        self.iter_mut()
            .next_back()
            .expect("a node was just ensured")
    }
}

/// Listpack encoding sizes and a writer, as Redis's listpack.c encodes elements.
pub mod lp {
    /// Bytes of the back-length that follows an element of `len` encoded bytes.
    pub fn backlen_size(len: usize) -> usize {
        if len <= 127 {
            1
        } else if len < 16383 {
            2
        } else if len < 2_097_151 {
            3
        } else if len < 268_435_455 {
            4
        } else {
            5
        }
    }

    fn int_enc_size(v: i64) -> usize {
        if (0..=127).contains(&v) {
            1
        } else if (-4096..=4095).contains(&v) {
            2
        } else if (-32768..=32767).contains(&v) {
            3
        } else if (-8_388_608..=8_388_607).contains(&v) {
            4
        } else if (i32::MIN as i64..=i32::MAX as i64).contains(&v) {
            5
        } else {
            9
        }
    }

    /// Listpack bytes of an integer element.
    pub fn int_size(v: i64) -> usize {
        let n = int_enc_size(v);
        n + backlen_size(n)
    }

    /// An element that listpack stores as an integer (`lpStringToInt64`).
    pub fn as_int(s: &[u8]) -> Option<i64> {
        if s.is_empty() || s.len() > 20 {
            return None;
        }
        rediscover::resp::parse_integer(s).filter(|n| n.to_string().as_bytes() == s)
    }

    /// Listpack bytes of a string element (integers are stored as integers).
    pub fn str_size(s: &[u8]) -> usize {
        if let Some(v) = as_int(s) {
            return int_size(v);
        }
        let n = if s.len() < 64 {
            1 + s.len()
        } else if s.len() < 4096 {
            2 + s.len()
        } else {
            5 + s.len()
        };
        n + backlen_size(n)
    }

    /// Builds a listpack.
    pub struct Writer {
        buf: Vec<u8>,
        count: usize,
    }

    impl Default for Writer {
        fn default() -> Self {
            Writer::new()
        }
    }

    impl Writer {
        /// An empty listpack.
        pub fn new() -> Writer {
            Writer {
                buf: vec![0; 6],
                count: 0,
            }
        }

        fn backlen(&mut self, len: usize) {
            let n = backlen_size(len);
            // Highest group first; every byte after the first has the top bit set.
            for i in (0..n).rev() {
                let group = ((len >> (7 * i)) & 127) as u8;
                self.buf.push(if i == n - 1 { group } else { group | 128 });
            }
        }

        /// Appends an integer element.
        pub fn int(&mut self, v: i64) {
            let start = self.buf.len();
            if (0..=127).contains(&v) {
                self.buf.push(v as u8);
            } else if (-4096..=4095).contains(&v) {
                let u = (v as u64) & 0x1fff;
                self.buf.push(0xC0 | (u >> 8) as u8);
                self.buf.push(u as u8);
            } else if (-32768..=32767).contains(&v) {
                self.buf.push(0xF1);
                self.buf.extend_from_slice(&(v as i16).to_le_bytes());
            } else if (-8_388_608..=8_388_607).contains(&v) {
                self.buf.push(0xF2);
                self.buf.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
            } else if (i32::MIN as i64..=i32::MAX as i64).contains(&v) {
                self.buf.push(0xF3);
                self.buf.extend_from_slice(&(v as i32).to_le_bytes());
            } else {
                self.buf.push(0xF4);
                self.buf.extend_from_slice(&v.to_le_bytes());
            }
            let len = self.buf.len() - start;
            self.backlen(len);
            self.count += 1;
        }

        /// Appends a string element (as an integer when listpack would).
        pub fn str(&mut self, s: &[u8]) {
            if let Some(v) = as_int(s) {
                self.int(v);
                return;
            }
            let start = self.buf.len();
            let n = s.len();
            if n < 64 {
                self.buf.push(0x80 | n as u8);
            } else if n < 4096 {
                self.buf.push(0xE0 | (n >> 8) as u8);
                self.buf.push(n as u8);
            } else {
                self.buf.push(0xF0);
                self.buf.extend_from_slice(&(n as u32).to_le_bytes());
            }
            self.buf.extend_from_slice(s);
            let len = self.buf.len() - start;
            self.backlen(len);
            self.count += 1;
        }

        /// The listpack's size so far, terminator included (`lpBytes`).
        pub fn bytes(&self) -> usize {
            self.buf.len() + 1
        }

        /// Whether nothing was appended yet.
        pub fn is_empty(&self) -> bool {
            self.count == 0
        }

        /// The finished listpack.
        pub fn finish(mut self) -> Vec<u8> {
            self.buf.push(0xFF);
            let total = self.buf.len() as u32;
            self.buf[..4].copy_from_slice(&total.to_le_bytes());
            let count = if self.count < 65535 {
                self.count as u16
            } else {
                65535
            };
            self.buf[4..6].copy_from_slice(&count.to_le_bytes());
            self.buf
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// Counting by appends gives the same count as counting from scratch, for ids close
        /// together (long shared prefixes) and far apart.
        #[test]
        fn rax_count_by_appends_is_exact(
            steps in proptest::collection::vec((0u64..3, 0u64..300, 0u8..3), 1..300)
        ) {
            let mut ids = Vec::new();
            let mut id = StreamId::new(1_700_000_000_000, 0);
            for (ms, seq, big) in steps {
                id = match big {
                    0 => StreamId::new(id.ms + ms, if ms == 0 { id.seq + seq + 1 } else { seq }),
                    1 => StreamId::new(id.ms + ((ms + 1) << 20), seq),
                    _ => StreamId::new(id.ms, id.seq + (seq + 1) * 65_536),
                };
                ids.push(id);
            }
            let cache = RaxCache::default();
            for n in 1..=ids.len() {
                let got = cache.get(n, ids.first(), ids[..n].last(), || ids[..n].iter());
                proptest::prop_assert_eq!(got, Stream::rax_nodes_of(ids[..n].iter()), "at {}", n);
            }
        }
    }

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    #[test]
    fn listpack_round_trip() {
        let mut s = Stream::new();
        for i in 0..250u64 {
            s.append(
                vec![b("f"), Bytes::from(i.to_string()), b("g"), b("xyz")],
                Some((StreamId::new(i + 1, 0), true)),
                0,
                NodeLimits::default(),
            )
            .unwrap();
        }
        s.delete_ids(&[StreamId::new(5, 0)]);
        assert_eq!(s.node_count(), 3);
        for (master, node) in &s.nodes {
            let bytes = node.to_listpack(*master);
            assert_eq!(bytes.len(), node.lp_bytes());
            let items = crate::rdb::packed::listpack(&bytes).unwrap();
            let back = Node::from_listpack(*master, &items).unwrap();
            assert_eq!(back.entries.len(), node.entries.len());
            assert_eq!(back.lp_bytes(), node.lp_bytes());
        }
    }

    #[test]
    fn rax_node_counts() {
        let one = [StreamId::new(1, 0).encode()];
        assert_eq!(rax_count(&one, 0), 2);
    }
}
