//! The RDB loader: RDB versions 1 to 10, every encoding Redis 7.0 (or an older Redis) writes.
//!
//! Values are rebuilt through the keyspace's own constructors, so they get the encodings this
//! server would give them (as Redis converts on load): a listpack hash past the limits becomes
//! a table, a small plain set of integers becomes an intset, and so on.

use std::collections::HashSet;

use bytes::Bytes;

use crate::cmd::args::parse_f64_opt;
use crate::keyspace::{Db, Hash, List, Set, Str, Value, ZSet};

use super::{op, packed, LoadOptions, RdbError, Snapshot, CRC64, MAX_READ_VERSION};

type Result<T> = std::result::Result<T, RdbError>;

pub(super) fn load(data: &[u8], opts: &LoadOptions) -> Result<Snapshot> {
    let mut r = Reader { data, pos: 0 };
    let version = r.header()?;
    let mut snap = Snapshot {
        dbs: (0..opts.databases).map(|_| Db::default()).collect(),
        aux: Vec::new(),
        version,
        keys_loaded: 0,
        keys_expired: 0,
        functions: Vec::new(),
        consumed: 0,
    };
    let mut db_index = 0usize;
    let mut expire: Option<i64> = None;
    let (mut freq, mut idle): (Option<i64>, Option<i64>) = (None, None);
    let now = crate::node::unix_ms();
    loop {
        let at = r.pos;
        match r.u8()? {
            op::EXPIRETIME_MS => expire = Some(r.i64_le()?),
            op::EXPIRETIME => expire = Some(i64::from(r.i32_le()?) * 1000),
            // The LFU counter or LRU idle time of the next key.
            op::FREQ => freq = Some(i64::from(r.u8()?)),
            op::IDLE => idle = Some(r.len()? as i64),
            op::EOF => break,
            op::SELECTDB => db_index = r.select_db(at, opts.databases)?,
            op::RESIZEDB => {
                r.len()?;
                r.len()?;
            }
            op::AUX => {
                let key = r.string()?;
                let value = r.string()?;
                snap.aux.push((key, value));
            }
            op::MODULE_AUX => {
                let name = module_name(r.len()?);
                let msg = format!(
                    "The RDB file contains AUX module data I can't load: no matching module \
                     '{name}'"
                );
                return Err(r.unsupported_at(at, msg));
            }
            op::FUNCTION_PRE_GA => {
                let msg = "Pre-release function format not supported".to_string();
                return Err(r.unsupported_at(at, msg));
            }
            // A function library's code (Redis 7.0's RDB_OPCODE_FUNCTION2).
            op::FUNCTION2 => {
                snap.functions.push(r.string()?);
            }
            kind => {
                let key = r.string()?;
                let value = r.value(kind, at, opts)?;
                let when = expire.take();
                let hints = (freq.take(), idle.take());
                // An empty collection (None) is skipped, as Redis does.
                let Some(value) = value else { continue };
                if matches!((when, opts.drop_expired_before), (Some(t), Some(now)) if t < now) {
                    snap.keys_expired += 1;
                    continue;
                }
                let stamp = crate::memory::stamp_restored(opts.access, hints.0, hints.1, now);
                let db = &mut snap.dbs[db_index];
                db.access = opts.access;
                add_key(db, db_index, key.clone(), value, when)
                    .map_err(|msg| r.corrupt_at(at, msg))?;
                if let Some(stamp) = stamp {
                    db.set_access_stamp(&key, stamp);
                }
                snap.keys_loaded += 1;
            }
        }
    }
    if version >= 5 {
        r.check_trailer()?;
    }
    snap.consumed = r.pos;
    Ok(snap)
}

/// One value as an RDB file holds it after the key: a type byte, then the payload. Bytes after
/// the value are ignored (as Redis's RESTORE ignores them). `None` for an empty collection.
pub(super) fn value_only(data: &[u8], opts: &LoadOptions) -> Result<Option<Value>> {
    let mut r = Reader { data, pos: 0 };
    let kind = r.u8()?;
    r.value(kind, 0, opts)
}

/// The library codes of a FUNCTION DUMP payload (its trailer already checked): a sequence of
/// RDB_OPCODE_FUNCTION2 + string, then the 10-byte trailer. Errors are Redis's texts.
pub(super) fn function_codes(data: &[u8]) -> std::result::Result<Vec<Bytes>, String> {
    let body = &data[..data.len().saturating_sub(10)];
    let mut r = Reader { data: body, pos: 0 };
    let mut codes = Vec::new();
    while r.pos < body.len() {
        let kind = r.u8().map_err(|_| "can not read data type".to_string())?;
        if kind != op::FUNCTION2 && kind != op::FUNCTION_PRE_GA {
            return Err("given type is not a function".into());
        }
        if kind == op::FUNCTION_PRE_GA {
            return Err("Pre-GA function format not supported".into());
        }
        let code = r
            .string()
            .map_err(|_| "Failed loading library payload".to_string())?;
        codes.push(code);
    }
    Ok(codes)
}

/// Stores a loaded key; a key already there is an error (Redis stops on it too).
fn add_key(
    db: &mut Db,
    db_index: usize,
    key: Bytes,
    value: Value,
    expire: Option<i64>,
) -> std::result::Result<(), String> {
    if db.peek(&key).is_some() {
        return Err(format!(
            "RDB has duplicated key '{}' in DB {db_index}",
            String::from_utf8_lossy(&key)
        ));
    }
    db.set(key.clone(), value);
    if let Some(t) = expire {
        db.set_expire(&key, t);
    }
    Ok(())
}

/// The nine-character name a module type id encodes (Redis's `moduleTypeNameByID`).
fn module_name(id: u64) -> String {
    const CHARSET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut id = id >> 10;
    let mut name = [0u8; 9];
    for slot in name.iter_mut().rev() {
        *slot = CHARSET[(id & 63) as usize];
        id >>= 6;
    }
    String::from_utf8_lossy(&name).into_owned()
}

/// A length field: a plain length, or the tag of a specially encoded string.
enum Len {
    Plain(u64),
    Encoded(u8),
}

pub(super) struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn corrupt_at(&self, offset: usize, msg: String) -> RdbError {
        RdbError::Corrupt { offset, msg }
    }

    pub(super) fn corrupt(&self, msg: impl Into<String>) -> RdbError {
        self.corrupt_at(self.pos, msg.into())
    }

    fn unsupported_at(&self, offset: usize, msg: String) -> RdbError {
        RdbError::Unsupported { offset, msg }
    }

    fn select_db(&mut self, at: usize, databases: usize) -> Result<usize> {
        let id = self.len()?;
        if id >= databases as u64 {
            let msg = format!(
                "Data file was created with a Redis server configured to handle more than \
                 {databases} databases"
            );
            return Err(self.corrupt_at(at, msg));
        }
        Ok(id as usize)
    }

    /// The CRC-64 trailer after EOF (RDB 5 and later); zero means the writer had
    /// `rdbchecksum no`.
    fn check_trailer(&mut self) -> Result<()> {
        let body = self.pos;
        let expected = self.u64_le()?;
        let computed = CRC64.checksum(&self.data[..body]);
        if expected != 0 && expected != computed {
            return Err(RdbError::Checksum { expected, computed });
        }
        Ok(())
    }

    pub(super) fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&end| end <= self.data.len())
            .ok_or(RdbError::Truncated {
                offset: self.data.len(),
            })?;
        let out = &self.data[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8> {
        Ok(self.array::<1>()?[0])
    }

    fn i32_le(&mut self) -> Result<i32> {
        Ok(i32::from_le_bytes(self.array()?))
    }

    pub(super) fn i64_le(&mut self) -> Result<i64> {
        Ok(i64::from_le_bytes(self.array()?))
    }

    pub(super) fn u64_le(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    fn header(&mut self) -> Result<u32> {
        let head = self
            .take(9)
            .map_err(|_| RdbError::Truncated { offset: 0 })?;
        if &head[..5] != b"REDIS" {
            return Err(self.corrupt_at(0, "Wrong signature trying to load DB from file".into()));
        }
        // atoi(): leading digits only.
        let version = head[5..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .fold(0u32, |v, &b| v * 10 + u32::from(b - b'0'));
        if !(1..=MAX_READ_VERSION).contains(&version) {
            return Err(
                self.unsupported_at(5, format!("Can't handle RDB format version {version}"))
            );
        }
        Ok(version)
    }

    /// Redis's `rdbLoadLenByRef`.
    fn len_or_encoding(&mut self) -> Result<Len> {
        let first = self.u8()?;
        Ok(match first >> 6 {
            0 => Len::Plain(u64::from(first & 0x3f)),
            1 => Len::Plain((u64::from(first & 0x3f) << 8) | u64::from(self.u8()?)),
            3 => Len::Encoded(first & 0x3f),
            _ => match first {
                0x80 => Len::Plain(u64::from(u32::from_be_bytes(self.array()?))),
                0x81 => Len::Plain(u64::from_be_bytes(self.array()?)),
                _ => {
                    return Err(
                        self.corrupt(format!("Unknown length encoding {first} in rdbLoadLen()"))
                    )
                }
            },
        })
    }

    pub(super) fn len(&mut self) -> Result<u64> {
        match self.len_or_encoding()? {
            Len::Plain(n) => Ok(n),
            Len::Encoded(_) => Err(self.corrupt("a length is string-encoded")),
        }
    }

    /// A count of items that take at least one byte each: more than the bytes left means the
    /// data is truncated (checked before anything is allocated for them).
    pub(super) fn count(&mut self) -> Result<usize> {
        let n = self.len()?;
        if n > (self.data.len() - self.pos) as u64 {
            return Err(RdbError::Truncated {
                offset: self.data.len(),
            });
        }
        Ok(n as usize)
    }

    /// Redis's `rdbGenericLoadStringObject`: raw bytes, an encoded integer, or LZF.
    pub(super) fn string(&mut self) -> Result<Bytes> {
        match self.len_or_encoding()? {
            Len::Plain(n) => {
                let n = usize::try_from(n).map_err(|_| RdbError::Truncated {
                    offset: self.data.len(),
                })?;
                Ok(Bytes::copy_from_slice(self.take(n)?))
            }
            Len::Encoded(0) => Ok(int_text(i64::from(i8::from_le_bytes(self.array()?)))),
            Len::Encoded(1) => Ok(int_text(i64::from(i16::from_le_bytes(self.array()?)))),
            Len::Encoded(2) => Ok(int_text(i64::from(i32::from_le_bytes(self.array()?)))),
            Len::Encoded(3) => self.lzf(),
            Len::Encoded(t) => Err(self.corrupt(format!("Unknown RDB string encoding type {t}"))),
        }
    }

    fn lzf(&mut self) -> Result<Bytes> {
        let start = self.pos;
        let clen = self.len()?;
        let ulen = self.len()?;
        // LZF expands at most ~88 times (3 bytes back-reference 264): refuse impossible
        // lengths before allocating for them.
        if ulen == 0 || ulen > clen.saturating_mul(100) {
            return Err(self.corrupt_at(start, "Invalid LZF compressed string".into()));
        }
        let packed = self.take(clen as usize)?;
        match lzf::decompress(packed, ulen as usize) {
            Ok(out) if out.len() as u64 == ulen => Ok(Bytes::from(out)),
            _ => Err(self.corrupt_at(start, "Invalid LZF compressed string".into())),
        }
    }

    /// Redis's `rdbLoadDoubleValue` (sorted set scores in type 3): length-prefixed text.
    fn text_double(&mut self) -> Result<f64> {
        match self.u8()? {
            253 => Ok(f64::NAN),
            254 => Ok(f64::INFINITY),
            255 => Ok(f64::NEG_INFINITY),
            n => {
                let text = self.take(usize::from(n))?;
                parse_f64_opt(text).ok_or_else(|| self.corrupt("invalid sorted set score"))
            }
        }
    }

    /// The value of type `kind`; `None` for an empty collection (skipped, as Redis does).
    fn value(&mut self, kind: u8, at: usize, opts: &LoadOptions) -> Result<Option<Value>> {
        match kind {
            op::STRING => Ok(Some(Value::Str(Str::new(self.string()?)))),
            op::LIST => {
                let n = self.count()?;
                Ok(list((0..n).map(|_| self.string()).collect::<Result<_>>()?))
            }
            op::LIST_ZIPLIST => Ok(list(self.packed(packed::ziplist)?)),
            op::LIST_QUICKLIST | op::LIST_QUICKLIST_2 => Ok(list(self.quicklist(kind, at)?)),
            op::SET => {
                let n = self.count()?;
                let members = (0..n).map(|_| self.string()).collect::<Result<Vec<_>>>()?;
                self.set(members, opts, at)
            }
            op::SET_INTSET => self.intset(opts, at),
            op::HASH => {
                let n = self.count()?.saturating_mul(2);
                let items = (0..n).map(|_| self.string()).collect::<Result<Vec<_>>>()?;
                self.hash(items, opts, at)
            }
            op::HASH_ZIPMAP | op::HASH_ZIPLIST | op::HASH_LISTPACK => {
                let items = self.packed(decoder(kind))?;
                self.hash(items, opts, at)
            }
            op::ZSET | op::ZSET_2 => {
                let pairs = self.plain_zset(kind == op::ZSET)?;
                self.zset(pairs, opts, at)
            }
            op::ZSET_ZIPLIST | op::ZSET_LISTPACK => {
                let items = self.packed(decoder(kind))?;
                let pairs = packed_zset(items).map_err(|m| self.corrupt_at(at, m))?;
                self.zset(pairs, opts, at)
            }
            op::STREAM_LISTPACKS | op::STREAM_LISTPACKS_2 => Ok(Some(super::stream::read(
                self,
                kind == op::STREAM_LISTPACKS_2,
            )?)),
            _ => Err(self.refuse(kind, at)),
        }
    }

    /// Why a value of type `kind` cannot be loaded.
    fn refuse(&mut self, kind: u8, at: usize) -> RdbError {
        match kind {
            op::STREAM_LISTPACKS_3 => {
                let msg = format!(
                    "stream values of RDB type {kind} (Redis 7.2) are not supported: this server \
                     loads Redis 7.0's types 15 and 19"
                );
                self.unsupported_at(at, msg)
            }
            op::MODULE_PRE_GA | op::MODULE_2 => {
                let name = match self.len() {
                    Ok(id) => module_name(id),
                    Err(e) => return e,
                };
                let msg = format!(
                    "The RDB file contains module data for the module type '{name}', that the \
                     responsible module is not able to load"
                );
                self.unsupported_at(at, msg)
            }
            other => self.corrupt_at(at, format!("Unknown RDB encoding type {other}")),
        }
    }

    /// Members and scores of a type 3 (text scores) or type 5 (binary scores) sorted set.
    fn plain_zset(&mut self, text_scores: bool) -> Result<Vec<(Bytes, f64)>> {
        let n = self.count()?;
        let mut pairs = Vec::with_capacity(n);
        for _ in 0..n {
            let member = self.string()?;
            let score = if text_scores {
                self.text_double()?
            } else {
                f64::from_le_bytes(self.array()?)
            };
            pairs.push((member, score));
        }
        Ok(pairs)
    }

    fn intset(&mut self, opts: &LoadOptions, at: usize) -> Result<Option<Value>> {
        let blob = self.string()?;
        let ints = packed::intset(&blob).map_err(|m| self.corrupt_at(at, m))?;
        if ints.is_empty() {
            Ok(None)
        } else if ints.len() <= opts.set_max_intset_entries {
            Ok(Some(Value::Set(Set::Intset(ints))))
        } else {
            let members = ints.iter().map(|&i| int_text(i)).collect();
            self.set(members, opts, at)
        }
    }

    /// A string holding a packed blob, decoded.
    fn packed(&mut self, decode: fn(&[u8]) -> packed::Result<Vec<Bytes>>) -> Result<Vec<Bytes>> {
        let start = self.pos;
        let blob = self.string()?;
        decode(&blob).map_err(|m| self.corrupt_at(start, m))
    }

    /// The elements of a quicklist: ziplist nodes (type 14) or plain/listpack nodes (type 18).
    fn quicklist(&mut self, kind: u8, at: usize) -> Result<Vec<Bytes>> {
        let nodes = self.count()?;
        let mut items = Vec::new();
        for _ in 0..nodes {
            if kind == op::LIST_QUICKLIST {
                items.extend(self.packed(packed::ziplist)?);
                continue;
            }
            match self.len()? {
                op::QUICKLIST_NODE_PLAIN => items.push(self.string()?),
                op::QUICKLIST_NODE_PACKED => items.extend(self.packed(packed::listpack)?),
                c => {
                    return Err(self.corrupt_at(
                        at,
                        format!("Quicklist integrity check failed: unknown node container {c}"),
                    ))
                }
            }
        }
        Ok(items)
    }

    fn set(&self, members: Vec<Bytes>, opts: &LoadOptions, at: usize) -> Result<Option<Value>> {
        if members.is_empty() {
            return Ok(None);
        }
        let mut set = Set::new();
        for m in &members {
            if !set.insert(m, opts.set_max_intset_entries) {
                return Err(self.corrupt_at(at, "Duplicate set members detected".into()));
            }
        }
        Ok(Some(Value::Set(set)))
    }

    fn hash(&self, items: Vec<Bytes>, opts: &LoadOptions, at: usize) -> Result<Option<Value>> {
        if items.len() % 2 != 0 {
            return Err(self.corrupt_at(at, "hash has a field without a value".into()));
        }
        if items.is_empty() {
            return Ok(None);
        }
        let mut hash = Hash::new();
        for pair in items.chunks(2) {
            if !hash.set(&pair[0], &pair[1], opts.hash) {
                return Err(self.corrupt_at(at, "Duplicate hash fields detected".into()));
            }
        }
        Ok(Some(Value::Hash(hash)))
    }

    fn zset(
        &self,
        pairs: Vec<(Bytes, f64)>,
        opts: &LoadOptions,
        at: usize,
    ) -> Result<Option<Value>> {
        if pairs.is_empty() {
            return Ok(None);
        }
        if pairs.iter().any(|(_, s)| s.is_nan()) {
            return Err(self.corrupt_at(at, "Zset with NAN score detected".into()));
        }
        let mut seen = HashSet::with_capacity(pairs.len());
        if !pairs.iter().all(|(m, _)| seen.insert(m.clone())) {
            return Err(self.corrupt_at(at, "Duplicate zset fields detected".into()));
        }
        Ok(Some(Value::ZSet(ZSet::from_pairs(pairs, &opts.zset))))
    }
}

fn decoder(kind: u8) -> fn(&[u8]) -> packed::Result<Vec<Bytes>> {
    match kind {
        op::HASH_ZIPMAP => packed::zipmap,
        op::HASH_LISTPACK | op::ZSET_LISTPACK => packed::listpack,
        _ => packed::ziplist,
    }
}

/// Member/score pairs from a ziplist or listpack of alternating members and scores.
fn packed_zset(items: Vec<Bytes>) -> std::result::Result<Vec<(Bytes, f64)>, String> {
    if items.len() % 2 != 0 {
        return Err("sorted set has a member without a score".into());
    }
    items
        .chunks(2)
        .map(|pair| match parse_f64_opt(&pair[1]) {
            Some(score) => Ok((pair[0].clone(), score)),
            None => Err("invalid sorted set score".into()),
        })
        .collect()
}

fn list(items: Vec<Bytes>) -> Option<Value> {
    if items.is_empty() {
        return None;
    }
    Some(Value::List(List::from_items(items)))
}

fn int_text(n: i64) -> Bytes {
    Bytes::from(n.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_names() {
        // "ReJSON-RL" version 3, as the RedisJSON module registers it.
        let charset = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut id: u64 = 0;
        for c in b"ReJSON-RL" {
            id = (id << 6) | charset.iter().position(|x| x == c).unwrap() as u64;
        }
        assert_eq!(module_name((id << 10) | 3), "ReJSON-RL");
    }
}
