//! The RDB writer: version 9, plain value types, strings encoded as Redis encodes them
//! (small integers as integers, long strings LZF-compressed when that saves at least 4 bytes).

use bytes::Bytes;

use crate::keyspace::{Db, Hash, Set, Value};

use super::lzf::Compressor;
use super::{op, CRC64, WRITE_VERSION};

/// How to write: the header's aux fields and the `rdbcompression`/`rdbchecksum` switches.
#[derive(Debug, Clone)]
pub struct SaveMeta {
    /// Save time (Unix ms): `ctime`, and the cut-off for expired keys (not written).
    pub now_ms: i64,
    /// `used-mem`.
    pub used_mem: u64,
    /// Further aux fields, written after `used-mem` as Redis places `repl-stream-db`,
    /// `repl-id` and `repl-offset`.
    pub extra_aux: Vec<(String, String)>,
    /// LZF-compress long strings (`rdbcompression yes`).
    pub compression: bool,
    /// Write the CRC-64 trailer; without it the trailer is zero, "not checked"
    /// (`rdbchecksum no`).
    pub checksum: bool,
    /// Function libraries' code, saved before the data as Redis 7.0 does
    /// (RDB_OPCODE_FUNCTION2).
    pub functions: Vec<Bytes>,
    /// The file is an AOF's BASE (aux `aof-base` 1, and no replication fields).
    pub aof_base: bool,
    /// The access hint written before each key (`maxmemory-policy`).
    pub hints: KeyHints,
}

/// What `rdbSaveKeyValuePair` writes about a key's accesses, by `maxmemory-policy`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum KeyHints {
    /// Nothing (a policy that is neither LRU nor LFU).
    #[default]
    None,
    /// RDB_OPCODE_IDLE: the idle time in seconds (an LRU policy).
    Idle,
    /// RDB_OPCODE_FREQ: the LFU counter, decayed to the save time (an LFU policy).
    Freq {
        /// `lfu-decay-time` (minutes), for the decay.
        decay_time: u32,
    },
}

impl KeyHints {
    /// The hints a node with `config` writes.
    pub fn from_config(config: &crate::config::Config) -> Self {
        let settings = crate::memory::Settings::from_config(config);
        match (settings.policy, settings.access) {
            (p, crate::memory::Access::Lfu { decay_time, .. }) if p.is_lfu() => {
                KeyHints::Freq { decay_time }
            }
            (p, _) if p.is_lru() => KeyHints::Idle,
            _ => KeyHints::None,
        }
    }
}

impl Default for SaveMeta {
    /// Time 0, no aux extras, compression and checksum on (Redis's defaults).
    fn default() -> Self {
        SaveMeta {
            now_ms: 0,
            used_mem: 0,
            extra_aux: Vec::new(),
            compression: true,
            checksum: true,
            functions: Vec::new(),
            aof_base: false,
            hints: KeyHints::None,
        }
    }
}

/// Serialises `dbs` as a complete RDB file (header, aux fields, data, EOF, CRC-64 trailer).
/// Keys whose expiry time is at or before `meta.now_ms` are left out.
pub fn write(dbs: &[Db], meta: &SaveMeta) -> Vec<u8> {
    let mut w = Writer::new(meta.compression);
    w.out
        .extend_from_slice(format!("REDIS{WRITE_VERSION:04}").as_bytes());
    w.aux("redis-ver", crate::REDIS_VERSION);
    w.aux("redis-bits", "64");
    w.aux("ctime", &(meta.now_ms / 1000).to_string());
    w.aux("used-mem", &meta.used_mem.to_string());
    for (k, v) in &meta.extra_aux {
        w.aux(k, v);
    }
    w.aux("aof-base", if meta.aof_base { "1" } else { "0" });
    for code in &meta.functions {
        w.out.push(op::FUNCTION2);
        w.string(code);
    }
    for (index, db) in dbs.iter().enumerate() {
        w.db(index, db, meta.now_ms, meta.hints);
    }
    w.out.push(op::EOF);
    let crc = if meta.checksum {
        CRC64.checksum(&w.out)
    } else {
        0
    };
    w.out.extend_from_slice(&crc.to_le_bytes());
    w.out
}

/// Function libraries as FUNCTION DUMP returns them: each library's code after
/// RDB_OPCODE_FUNCTION2, then RDB version 10 (the first with functions) and the CRC-64.
pub fn function_payload(codes: &[Bytes]) -> Vec<u8> {
    let mut w = Writer::new(true);
    for code in codes {
        w.out.push(op::FUNCTION2);
        w.string(code);
    }
    w.out
        .extend_from_slice(&(super::DUMP_VERSION as u16).to_le_bytes());
    let crc = CRC64.checksum(&w.out);
    w.out.extend_from_slice(&crc.to_le_bytes());
    w.out
}

/// One value as a DUMP payload holds it: its type byte, then its payload. Redis 7.0 dumps
/// lists as quicklists of listpacks, and intsets, listpack hashes and listpack sorted sets in
/// those encodings (RDB 10 types), so they are written so here too and the payload is Redis's
/// byte for byte (for a list: as Redis's default `list-max-listpack-size -2` splits a list
/// built by RPUSH); files keep the plain types (see the module docs of `rdb`).
pub(super) fn value_bytes(value: &Value, compression: bool) -> Vec<u8> {
    let mut w = Writer::new(compression);
    if let Value::List(list) = value {
        w.out.push(op::LIST_QUICKLIST_2);
        w.quicklist(list);
        return w.out;
    }
    if let Some((kind, blob)) = compact(value) {
        w.out.push(kind);
        w.string(&blob);
        return w.out;
    }
    w.out.push(value_type(value));
    w.value(value);
    w.out
}

/// A value in its compact Redis 7.0 encoding (type, blob), when it has one here: an intset,
/// a listpack hash (field, value, ... in insertion order) or a listpack sorted set (member,
/// score, ... by score; scores as `d2string` writes them).
fn compact(value: &Value) -> Option<(u8, Vec<u8>)> {
    use crate::keyspace::stream::lp;
    match value {
        Value::Set(Set::Intset(members)) => Some((op::SET_INTSET, intset(members))),
        Value::Hash(Hash::Listpack(pairs)) => {
            let mut w = lp::Writer::new();
            for (field, value) in pairs {
                w.str(field);
                w.str(value);
            }
            Some((op::HASH_LISTPACK, w.finish()))
        }
        Value::ZSet(z) if z.encoding() == "listpack" => {
            let mut w = lp::Writer::new();
            for (member, score) in z.iter() {
                w.str(member);
                w.str(d2string(score).as_bytes());
            }
            Some((op::ZSET_LISTPACK, w.finish()))
        }
        _ => None,
    }
}

/// Redis's `d2string`: integral values within ±2^62 as integers, `-0`, else `%.17g`.
fn d2string(score: f64) -> String {
    if score == 0.0 {
        return if score.is_sign_negative() { "-0" } else { "0" }.to_string();
    }
    let half = (i64::MAX / 2) as f64;
    if score.is_finite() && (-half..=half).contains(&score) && score == (score as i64) as f64 {
        return (score as i64).to_string();
    }
    rediscover::resp::format_double(score)
}

/// An intset blob: encoding width (2, 4 or 8), length, then the sorted members, little-endian.
fn intset(members: &[i64]) -> Vec<u8> {
    let width: u32 = if members.iter().all(|&n| i16::try_from(n).is_ok()) {
        2
    } else if members.iter().all(|&n| i32::try_from(n).is_ok()) {
        4
    } else {
        8
    };
    let mut out = Vec::with_capacity(8 + members.len() * width as usize);
    out.extend_from_slice(&width.to_le_bytes());
    out.extend_from_slice(&(members.len() as u32).to_le_bytes());
    for &n in members {
        out.extend_from_slice(&n.to_le_bytes()[..width as usize]);
    }
    out
}

pub(super) struct Writer {
    pub(super) out: Vec<u8>,
    /// `None` with `rdbcompression no`.
    lzf: Option<Compressor>,
}

impl Writer {
    fn new(compression: bool) -> Self {
        Writer {
            out: Vec::new(),
            lzf: compression.then(Compressor::new),
        }
    }

    fn aux(&mut self, key: &str, value: &str) {
        self.out.push(op::AUX);
        self.string(key.as_bytes());
        self.string(value.as_bytes());
    }

    fn db(&mut self, index: usize, db: &Db, now_ms: i64, hints: KeyHints) {
        let live: Vec<_> = db
            .iter_stamped()
            .map(|(k, v, stamp)| (k, v, db.expire_at(k), stamp))
            .filter(|(_, _, at, _)| at.map_or(true, |at| at > now_ms))
            .collect();
        if live.is_empty() {
            return;
        }
        self.out.push(op::SELECTDB);
        self.len(index as u64);
        self.out.push(op::RESIZEDB);
        self.len(live.len() as u64);
        self.len(live.iter().filter(|(_, _, at, _)| at.is_some()).count() as u64);
        for (key, value, at, stamp) in live {
            if let Some(at) = at {
                self.out.push(op::EXPIRETIME_MS);
                self.out.extend_from_slice(&at.to_le_bytes());
            }
            match hints {
                KeyHints::None => {}
                KeyHints::Idle => {
                    self.out.push(op::IDLE);
                    self.len(crate::memory::idle_ms(stamp, now_ms) / 1000);
                }
                KeyHints::Freq { decay_time } => {
                    self.out.push(op::FREQ);
                    self.out
                        .push(crate::memory::lfu_counter(stamp, now_ms, decay_time) as u8);
                }
            }
            self.out.push(value_type(value));
            self.string(key);
            self.value(value);
        }
    }

    /// RDB_TYPE_LIST_QUICKLIST_2: the list's nodes as `quicklistPushTail` fills them with
    /// `list-max-listpack-size -2` (a node takes an element while its listpack size plus the
    /// element's length plus 8 stays within 8 KB; an element of 1 GB or more is a plain node).
    fn quicklist(&mut self, list: &crate::keyspace::List) {
        use crate::keyspace::stream::lp;
        const NODE_LIMIT: usize = 8192;
        const SIZE_ESTIMATE_OVERHEAD: usize = 8;
        const PACKED_THRESHOLD: usize = 1 << 30;
        enum QNode {
            Packed(Vec<u8>),
            Plain(Vec<u8>),
        }
        let mut nodes: Vec<QNode> = Vec::new();
        let mut current: Option<lp::Writer> = None;
        for item in list.iter() {
            if item.len() >= PACKED_THRESHOLD {
                if let Some(w) = current.take() {
                    nodes.push(QNode::Packed(w.finish()));
                }
                nodes.push(QNode::Plain(item.to_vec()));
                continue;
            }
            let fits = current
                .as_ref()
                .is_some_and(|w| w.bytes() + item.len() + SIZE_ESTIMATE_OVERHEAD <= NODE_LIMIT);
            if !fits {
                if let Some(w) = current.take() {
                    nodes.push(QNode::Packed(w.finish()));
                }
                current = Some(lp::Writer::new());
            }
            if let Some(w) = current.as_mut() {
                w.str(item);
            }
        }
        if let Some(w) = current.take().filter(|w| !w.is_empty()) {
            nodes.push(QNode::Packed(w.finish()));
        }
        self.len(nodes.len() as u64);
        for node in nodes {
            match node {
                QNode::Packed(lp) => {
                    self.len(2);
                    self.string(&lp);
                }
                QNode::Plain(item) => {
                    self.len(1);
                    self.string(&item);
                }
            }
        }
    }

    fn value(&mut self, value: &Value) {
        match value {
            Value::Str(s) => self.string(&s.data),
            Value::List(l) => {
                self.len(l.len() as u64);
                for item in l.iter() {
                    self.string(item);
                }
            }
            Value::Set(s) => {
                self.len(s.len() as u64);
                for member in s.iter() {
                    self.string(&member);
                }
            }
            Value::Hash(h) => {
                self.len(h.len() as u64);
                for (field, value) in h.iter() {
                    self.string(field);
                    self.string(value);
                }
            }
            Value::ZSet(z) => {
                self.len(z.len() as u64);
                // Highest first, as Redis writes a skiplist (its loader then inserts at the head).
                for (member, score) in z.iter().rev() {
                    self.string(member);
                    self.out.extend_from_slice(&score.to_le_bytes());
                }
            }
            Value::Stream(s) => super::stream::write(self, s),
        }
    }

    /// Redis's `rdbSaveLen`: 6-bit, 14-bit, 32-bit or 64-bit big-endian length.
    pub(super) fn len(&mut self, n: u64) {
        if n < 1 << 6 {
            self.out.push(n as u8);
        } else if n < 1 << 14 {
            self.out.push(0x40 | (n >> 8) as u8);
            self.out.push(n as u8);
        } else if n <= u64::from(u32::MAX) {
            self.out.push(0x80);
            self.out.extend_from_slice(&(n as u32).to_be_bytes());
        } else {
            self.out.push(0x81);
            self.out.extend_from_slice(&n.to_be_bytes());
        }
    }

    /// Redis's `rdbSaveRawString`: an integer encoding for short canonical integers that fit
    /// 32 bits, LZF for strings over 20 bytes when it saves at least 4 bytes, else raw.
    pub(super) fn string(&mut self, s: &[u8]) {
        if s.len() <= 11 {
            if let Some(n) = rediscover::resp::parse_integer(s) {
                if self.int(n) {
                    return;
                }
            }
        }
        if let (true, Some(lzf)) = (s.len() > 20, self.lzf.as_mut()) {
            if let Some(packed) = lzf.compress(s, s.len() - 4) {
                self.out.push(0xC3);
                self.len(packed.len() as u64);
                self.len(s.len() as u64);
                self.out.extend_from_slice(&packed);
                return;
            }
        }
        self.len(s.len() as u64);
        self.out.extend_from_slice(s);
    }

    /// Redis's `rdbEncodeInteger`: false when `n` needs more than 32 bits.
    fn int(&mut self, n: i64) -> bool {
        if let Ok(v) = i8::try_from(n) {
            self.out.push(0xC0);
            self.out.extend_from_slice(&v.to_le_bytes());
        } else if let Ok(v) = i16::try_from(n) {
            self.out.push(0xC1);
            self.out.extend_from_slice(&v.to_le_bytes());
        } else if let Ok(v) = i32::try_from(n) {
            self.out.push(0xC2);
            self.out.extend_from_slice(&v.to_le_bytes());
        } else {
            return false;
        }
        true
    }
}

fn value_type(value: &Value) -> u8 {
    match value {
        Value::Str(_) => op::STRING,
        Value::List(_) => op::LIST,
        Value::Set(_) => op::SET,
        Value::Hash(_) => op::HASH,
        Value::ZSet(_) => op::ZSET_2,
        Value::Stream(_) => op::STREAM_LISTPACKS_2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(s: &[u8]) -> Vec<u8> {
        let mut w = Writer::new(true);
        w.string(s);
        w.out
    }

    #[test]
    fn strings_like_redis() {
        assert_eq!(encoded(b"0"), [0xC0, 0]);
        assert_eq!(encoded(b"-128"), [0xC0, 0x80]);
        assert_eq!(encoded(b"300"), [0xC1, 0x2C, 0x01]);
        assert_eq!(encoded(b"-2147483648"), [0xC2, 0, 0, 0, 0x80]);
        // Not canonical or too wide for 32 bits: written as text.
        assert_eq!(encoded(b"01"), [2, b'0', b'1']);
        assert_eq!(encoded(b"2147483648"), b"\x0a2147483648");
        assert_eq!(encoded(b""), [0]);
        let long = vec![b'a'; 100];
        let e = encoded(&long);
        assert_eq!(e[0], 0xC3);
        assert!(e.len() < 20);
        // Incompressible long strings stay raw.
        let noise: Vec<u8> = (0..64u8).map(|i| i.wrapping_mul(97) ^ 0x5a).collect();
        let e = encoded(&noise);
        assert_eq!(e[..2], [0x40, 64]);
        assert_eq!(e[2..], noise[..]);
    }

    #[test]
    fn lengths_like_redis() {
        let enc = |n: u64| {
            let mut w = Writer::new(true);
            w.len(n);
            w.out
        };
        assert_eq!(enc(63), [63]);
        assert_eq!(enc(64), [0x40, 64]);
        assert_eq!(enc(16383), [0x7f, 0xff]);
        assert_eq!(enc(16384), [0x80, 0, 0, 0x40, 0]);
        assert_eq!(enc(1 << 32), [0x81, 0, 0, 0, 1, 0, 0, 0, 0]);
    }
}
