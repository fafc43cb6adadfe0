//! Hashes: a listpack (insertion-ordered pairs) while small, a hash table once large, as Redis.
//!
//! The listpack form keeps Redis's order exactly (new fields at the end, updates in place,
//! deletions closing the gap), so HGETALL/HKEYS/HVALS of a small hash match real Redis byte for
//! byte. Like Redis, a hash converts to a table once and never back.
//!
//! Read-only helpers for other commands (SORT ... BY/GET, ...): [`Hash::get`], [`Hash::len`],
//! [`Hash::iter`], [`Hash::contains`].

use std::collections::{hash_map, HashMap};

use bytes::Bytes;

/// The size limits of the listpack encoding (`hash-max-listpack-entries`,
/// `hash-max-listpack-value`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashLimits {
    /// Most fields a listpack hash may hold.
    pub max_entries: usize,
    /// Longest field or value (bytes) a listpack hash may hold.
    pub max_value: usize,
}

impl HashLimits {
    /// The limits configured for a node.
    pub fn from_config(config: &crate::config::Config) -> Self {
        HashLimits {
            max_entries: config.hash_max_listpack_entries,
            max_value: config.hash_max_listpack_value,
        }
    }
}

impl Default for HashLimits {
    /// Redis's defaults: 128 entries, 64 bytes.
    fn default() -> Self {
        HashLimits {
            max_entries: 128,
            max_value: 64,
        }
    }
}

/// A hash of fields to values.
#[derive(Debug, Clone)]
pub enum Hash {
    /// Small hash, kept in insertion order (`listpack`).
    Listpack(Vec<(Bytes, Bytes)>),
    /// Large hash (`hashtable`).
    Table(HashMap<Bytes, Bytes>),
}

impl Default for Hash {
    fn default() -> Self {
        Hash::Listpack(Vec::new())
    }
}

/// Iterator over a hash's `(field, value)` pairs: insertion order for a listpack, arbitrary for
/// a table.
pub enum HashIter<'a> {
    /// Over a listpack.
    Listpack(std::slice::Iter<'a, (Bytes, Bytes)>),
    /// Over a table.
    Table(hash_map::Iter<'a, Bytes, Bytes>),
}

impl<'a> Iterator for HashIter<'a> {
    type Item = (&'a Bytes, &'a Bytes);

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            HashIter::Listpack(it) => it.next().map(|(f, v)| (f, v)),
            HashIter::Table(it) => it.next(),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self {
            HashIter::Listpack(it) => it.size_hint(),
            HashIter::Table(it) => it.size_hint(),
        }
    }
}

impl ExactSizeIterator for HashIter<'_> {}

impl Hash {
    /// An empty hash (listpack-encoded, as Redis creates them).
    pub fn new() -> Self {
        Hash::default()
    }

    /// The encoding OBJECT ENCODING reports.
    pub fn encoding(&self) -> &'static str {
        match self {
            Hash::Listpack(_) => "listpack",
            Hash::Table(_) => "hashtable",
        }
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        match self {
            Hash::Listpack(v) => v.len(),
            Hash::Table(m) => m.len(),
        }
    }

    /// Whether the hash has no field (a stored hash never is: the key is deleted instead).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The value of `field`.
    pub fn get(&self, field: &[u8]) -> Option<&Bytes> {
        match self {
            Hash::Listpack(v) => v.iter().find(|(f, _)| f == field).map(|(_, v)| v),
            Hash::Table(m) => m.get(field),
        }
    }

    /// Whether `field` exists.
    pub fn contains(&self, field: &[u8]) -> bool {
        self.get(field).is_some()
    }

    /// All `(field, value)` pairs, in the order Redis would list them for a listpack.
    pub fn iter(&self) -> HashIter<'_> {
        match self {
            Hash::Listpack(v) => HashIter::Listpack(v.iter()),
            Hash::Table(m) => HashIter::Table(m.iter()),
        }
    }

    /// Converts to a table if any of `items` (fields or values about to be written) is too long
    /// for a listpack: Redis's `hashTypeTryConversion`, run before HSET/HMSET/HSETNX write.
    pub fn convert_for(&mut self, items: &[&[u8]], limits: HashLimits) {
        if matches!(self, Hash::Listpack(_)) && items.iter().any(|i| i.len() > limits.max_value) {
            self.convert();
        }
    }

    fn convert(&mut self) {
        if let Hash::Listpack(v) = self {
            let map = std::mem::take(v).into_iter().collect();
            *self = Hash::Table(map);
        }
    }

    /// Sets `field` to `value` (both copied, so no read buffer is kept alive); true if the field
    /// is new. Converts to a table when the listpack limits are exceeded.
    pub fn set(&mut self, field: &[u8], value: &[u8], limits: HashLimits) -> bool {
        self.convert_for(&[field, value], limits);
        let value = Bytes::copy_from_slice(value);
        match self {
            Hash::Listpack(v) => {
                if let Some(slot) = v.iter_mut().find(|(f, _)| f == field) {
                    slot.1 = value;
                    return false;
                }
                v.push((Bytes::copy_from_slice(field), value));
                if v.len() > limits.max_entries {
                    self.convert();
                }
                true
            }
            Hash::Table(m) => match m.get_mut(field) {
                Some(slot) => {
                    *slot = value;
                    false
                }
                None => {
                    m.insert(Bytes::copy_from_slice(field), value);
                    true
                }
            },
        }
    }

    /// Removes `field`; true if it existed.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match self {
            Hash::Listpack(v) => match v.iter().position(|(f, _)| f == field) {
                Some(i) => {
                    v.remove(i);
                    true
                }
                None => false,
            },
            Hash::Table(m) => m.remove(field).is_some(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: HashLimits = HashLimits {
        max_entries: 4,
        max_value: 8,
    };

    fn fields(h: &Hash) -> Vec<&[u8]> {
        h.iter().map(|(f, _)| &f[..]).collect()
    }

    #[test]
    fn listpack_keeps_insertion_order_and_updates_in_place() {
        let mut h = Hash::new();
        assert!(h.set(b"b", b"1", LIMITS));
        assert!(h.set(b"a", b"2", LIMITS));
        assert!(h.set(b"c", b"3", LIMITS));
        assert!(!h.set(b"b", b"9", LIMITS));
        assert_eq!(fields(&h), [&b"b"[..], b"a", b"c"]);
        assert_eq!(h.get(b"b").map(|v| &v[..]), Some(&b"9"[..]));
        assert!(h.remove(b"a"));
        assert!(!h.remove(b"a"));
        assert_eq!(fields(&h), [&b"b"[..], b"c"]);
        assert_eq!(h.encoding(), "listpack");
    }

    #[test]
    fn converts_once_on_entry_count() {
        let mut h = Hash::new();
        for i in 0..4 {
            h.set(format!("f{i}").as_bytes(), b"v", LIMITS);
        }
        assert_eq!(h.encoding(), "listpack");
        h.set(b"f4", b"v", LIMITS);
        assert_eq!(h.encoding(), "hashtable");
        assert_eq!(h.len(), 5);
        for i in 0..5 {
            h.remove(format!("f{i}").as_bytes());
        }
        h.set(b"x", b"y", LIMITS);
        assert_eq!(h.encoding(), "hashtable", "never converts back");
    }

    #[test]
    fn converts_on_long_field_or_value() {
        let mut h = Hash::new();
        h.set(b"f", b"12345678", LIMITS);
        assert_eq!(h.encoding(), "listpack");
        h.set(b"f", b"123456789", LIMITS);
        assert_eq!(h.encoding(), "hashtable");
        let mut h = Hash::new();
        h.set(b"123456789", b"v", LIMITS);
        assert_eq!(h.encoding(), "hashtable");
        let mut h = Hash::new();
        h.set(b"a", b"v", LIMITS);
        h.convert_for(&[b"a", b"123456789"], LIMITS);
        assert_eq!(h.encoding(), "hashtable");
        assert_eq!(h.get(b"a").map(|v| &v[..]), Some(&b"v"[..]));
    }
}
