//! One node's data: 16 (by default) databases of keys, values and expiry times.
//!
//! A [`Db`] mirrors Redis's `db.c`: lookups expire keys lazily, writes go through a few methods
//! that keep the expiry index, the WATCH bookkeeping and the blocked-client wake-ups right, so the
//! command code does not have to remember them. Commands that change a key call
//! [`Db::touch`] (Redis's `signalModifiedKey`) once per changed key.

pub mod digest;
mod hash;
mod list;
mod set;
pub mod stream;
mod value;
mod zset;

pub use hash::{Hash, HashIter, HashLimits};
pub use list::{normalize_range, End, List};
pub use set::{Set, SetIter};
pub use stream::{Stream, StreamId};
pub use value::{Str, Value};
pub use zset::{LexBound, LexRange, ListpackLimits, ScoreRange, ZSet};

use std::collections::BTreeSet;
use std::hash::{BuildHasher, Hasher};

use bytes::Bytes;

/// Hash maps keyed by client data: foldhash with a per-process random seed (fast, and not
/// predictable from outside).
pub type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// An insertion-indexed map with the same hasher: O(1) access by position, which eviction's
/// random sampling (Redis's `dictGetSomeKeys`) and RANDOMKEY need.
type IndexedMap<K, V> = indexmap::IndexMap<K, V, foldhash::fast::RandomState>;

/// A stored value with what Redis keeps beside it: its estimated size (MEMORY USAGE, kept up
/// to date as the value changes) and its access stamp (`robj.lru`: LRU clock or LFU counter).
#[derive(Debug, Clone)]
struct Entry {
    value: Value,
    size: usize,
    lru: u32,
}

use crate::glob::glob_match;
use crate::memory::{self, Access};

/// How lookups treat a key whose TTL has passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExpireMode {
    /// Delete it and report it absent (a master; Redis's `expireIfNeeded`).
    #[default]
    Delete,
    /// Report it absent but keep it: a replica waits for its master's `DEL`.
    Keep,
    /// Report it present: a replica applying its master's stream, which is the authority on
    /// when keys expire.
    Ignore,
}

/// A client connection id (`CLIENT ID`).
pub type ClientId = u64;

/// One numbered database.
#[derive(Debug, Default)]
pub struct Db {
    entries: IndexedMap<Bytes, Entry>,
    expires: IndexedMap<Bytes, i64>,
    /// The sum of the entries' sizes (what the keys cost: [`crate::memory`]).
    used: usize,
    /// How lookups stamp the keys they touch (follows `maxmemory-policy`).
    pub access: Access,
    /// (deadline ms, key) for every key with a TTL, so active expiry finds due keys directly.
    deadlines: BTreeSet<(i64, Bytes)>,
    /// WATCHed keys and who watches them.
    watched: FastMap<Bytes, Vec<ClientId>>,
    /// Clients whose WATCHed keys changed since the dispatcher last looked.
    pub(crate) dirty_watchers: Vec<ClientId>,
    /// Keys that blocked clients wait on, with the number of waiters.
    blocking: FastMap<Bytes, usize>,
    /// Keys that gained a value while clients were blocked on them.
    pub(crate) ready: Vec<Bytes>,
    /// Keys removed because their TTL passed (lazily or actively), for propagation and stats;
    /// drained after every command.
    pub(crate) expired: Vec<Bytes>,
    /// What lookups do with expired keys.
    pub expire_mode: ExpireMode,
    /// Keys by hash slot, kept in cluster mode only (CLUSTER COUNTKEYSINSLOT and
    /// GETKEYSINSLOT, slot migration).
    slot_index: Option<Box<SlotIndex>>,
    /// The node's keyspace notification classes (see [`crate::notify`]), kept here so that
    /// the `new` and `expired` events raised inside the database cost one test when off.
    pub(crate) notify: u32,
    /// `new` and `expired` events not yet published, in the order they happened.
    pub(crate) events: Vec<crate::notify::Pending>,
    /// Some client uses CLIENT TRACKING: [`Db::touch`] collects keys in `touched`.
    pub(crate) tracking: bool,
    /// Keys modified since CLIENT TRACKING last looked.
    pub(crate) touched: Vec<Bytes>,
}

/// The keys of a database by cluster hash slot.
#[derive(Debug)]
struct SlotIndex {
    counts: Vec<u32>,
    keys: BTreeSet<(u16, Bytes)>,
}

impl SlotIndex {
    fn new() -> SlotIndex {
        SlotIndex {
            counts: vec![0; rediscover::slot::SLOT_COUNT as usize],
            keys: BTreeSet::new(),
        }
    }

    fn add(&mut self, key: &Bytes) {
        let slot = rediscover::slot::key_slot(key);
        if self.keys.insert((slot, key.clone())) {
            self.counts[slot as usize] += 1;
        }
    }

    fn remove(&mut self, key: &[u8]) {
        let slot = rediscover::slot::key_slot(key);
        if self.keys.remove(&(slot, Bytes::copy_from_slice(key))) {
            self.counts[slot as usize] -= 1;
        }
    }
}

impl Db {
    /// Number of keys, including expired keys not yet reclaimed (as Redis's DBSIZE).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the database holds no keys.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Number of keys with a TTL.
    pub fn expires_len(&self) -> usize {
        self.expires.len()
    }

    fn expire_if_due(&mut self, key: &[u8], now: i64) -> bool {
        if self.expires.is_empty() {
            return false;
        }
        match self.expires.get(key) {
            Some(&at) if at <= now => {
                match self.expire_mode {
                    ExpireMode::Delete => {}
                    ExpireMode::Keep => return true,
                    ExpireMode::Ignore => return false,
                }
                let key = Bytes::copy_from_slice(key);
                self.remove(&key);
                self.touch(&key);
                self.note_event(crate::notify::class::EXPIRED, "expired", &key);
                self.expired.push(key);
                true
            }
            _ => false,
        }
    }

    /// The live value of `key` (expired keys are removed first).
    pub fn get(&mut self, key: &[u8], now: i64) -> Option<&Value> {
        self.get_mut(key, now).map(|v| &*v)
    }

    /// The live value of `key`, for in-place changes. Call [`Db::touch`] if it changes.
    pub fn get_mut(&mut self, key: &[u8], now: i64) -> Option<&mut Value> {
        if self.expire_if_due(key, now) {
            return None;
        }
        let access = self.access;
        let entry = self.entries.get_mut(key)?;
        entry.lru = memory::stamp_access(access, entry.lru, now);
        Some(&mut entry.value)
    }

    /// The live value of `key` without stamping its access time (Redis's `LOOKUP_NOTOUCH`:
    /// OBJECT, TYPE, EXISTS), with its access stamp.
    pub fn get_untouched(&mut self, key: &[u8], now: i64) -> Option<(&Value, u32)> {
        if self.expire_if_due(key, now) {
            return None;
        }
        self.entries.get(key).map(|e| (&e.value, e.lru))
    }

    /// Whether `key` exists and has not expired.
    pub fn contains(&mut self, key: &[u8], now: i64) -> bool {
        self.get(key, now).is_some()
    }

    /// Sets the access stamp of `key` (RESTORE's IDLETIME / FREQ).
    pub fn set_access_stamp(&mut self, key: &[u8], lru: u32) {
        if let Some(entry) = self.entries.get_mut(key) {
            entry.lru = lru;
        }
    }

    /// Looks a key up without expiring it (for SCAN/KEYS filters and debugging).
    pub fn peek(&self, key: &[u8]) -> Option<&Value> {
        self.entries.get(key).map(|e| &e.value)
    }

    /// Whether `key` is present and logically expired at `now`.
    pub fn is_expired(&self, key: &[u8], now: i64) -> bool {
        self.expire_mode != ExpireMode::Ignore
            && matches!(self.expires.get(key), Some(&at) if at <= now)
    }

    /// Stores `value` under `key`, replacing any old value and clearing its TTL
    /// (Redis's `setKey` without KEEPTTL). Does not call [`Db::touch`].
    pub fn set(&mut self, key: Bytes, value: Value) {
        self.clear_expire(&key);
        self.insert(key, value);
    }

    /// Stores `value` under `key`, keeping any TTL the key already has.
    pub fn set_keep_ttl(&mut self, key: Bytes, value: Value) {
        self.insert(key, value);
    }

    fn insert(&mut self, key: Bytes, value: Value) {
        if self.notify & crate::notify::class::NEW != 0 && !self.entries.contains_key(&key) {
            self.note_event(crate::notify::class::NEW, "new", &key);
        }
        if !self.blocking.is_empty() && self.blocking.contains_key(&key) {
            // A new key, or a stream overwritten (its XREADGROUP readers are failed, as
            // Redis's dbOverwrite signals them).
            if !matches!(self.entries.get(&key), Some(v) if !matches!(v.value, Value::Stream(_))) {
                self.ready.push(key.clone());
            }
        }
        let size = memory::size::key_size(&key, &value, memory::size::DEFAULT_SAMPLES);
        self.used += size;
        let now = crate::node::unix_ms();
        let mut lru = memory::stamp_new(self.access, now);
        if let Some(old) = self.entries.get(&key) {
            // An overwrite keeps the LFU counter (Redis's `dbSetValue`).
            if matches!(self.access, Access::Lfu { .. }) {
                lru = old.lru;
            }
        }
        let entry = Entry { value, size, lru };
        if let Some(index) = self.slot_index.as_mut() {
            if self.entries.get(&key).is_none() {
                index.add(&key);
            }
        }
        if let Some(old) = self.entries.insert(key, entry) {
            self.used -= old.size;
        }
    }

    /// Keeps (or stops keeping) an index of keys by cluster hash slot.
    pub fn index_slots(&mut self, on: bool) {
        self.slot_index = on.then(|| {
            let mut index = SlotIndex::new();
            for key in self.entries.keys() {
                index.add(key);
            }
            Box::new(index)
        });
    }

    /// Number of keys in a hash slot (0 when slots are not indexed).
    pub fn count_in_slot(&self, slot: u16) -> usize {
        self.slot_index
            .as_ref()
            .map_or(0, |i| i.counts[slot as usize] as usize)
    }

    /// Up to `max` keys of a hash slot, in key order.
    pub fn keys_in_slot(&self, slot: u16, max: usize) -> Vec<Bytes> {
        let Some(index) = self.slot_index.as_ref() else {
            return Vec::new();
        };
        index
            .keys
            .range((slot, Bytes::new())..)
            .take_while(|(s, _)| *s == slot)
            .take(max)
            .map(|(_, k)| k.clone())
            .collect()
    }

    /// Removes `key` and its TTL, returning the value. Does not call [`Db::touch`].
    pub fn remove(&mut self, key: &[u8]) -> Option<Value> {
        let value = self.entries.swap_remove(key)?;
        self.used -= value.size;
        let value = value.value;
        if matches!(value, Value::Stream(_)) {
            // Blocked XREADGROUP readers of a deleted stream are failed (Redis's
            // dbGenericDelete signals them).
            self.signal_ready(key);
        }
        if let Some(index) = self.slot_index.as_mut() {
            index.remove(key);
        }
        self.clear_expire(key);
        Some(value)
    }

    /// Sets the absolute expiry time of an existing key, in Unix milliseconds.
    pub fn set_expire(&mut self, key: &[u8], at_ms: i64) {
        let Some((k, _)) = self.entries.get_key_value(key) else {
            return;
        };
        let k = k.clone();
        if let Some(old) = self.expires.insert(k.clone(), at_ms) {
            self.deadlines.remove(&(old, k.clone()));
        }
        self.deadlines.insert((at_ms, k));
    }

    /// The absolute expiry time of `key`, in Unix milliseconds.
    pub fn expire_at(&self, key: &[u8]) -> Option<i64> {
        self.expires.get(key).copied()
    }

    /// Removes the TTL of `key`; true if it had one.
    pub fn clear_expire(&mut self, key: &[u8]) -> bool {
        match self.expires.swap_remove_entry(key) {
            Some((k, at)) => {
                self.deadlines.remove(&(at, k));
                true
            }
            None => false,
        }
    }

    /// Queues a keyspace event raised by the database itself (`new`, `expired`), if its class
    /// is on; [`crate::notify::flush_pending`] publishes it.
    #[inline]
    pub(crate) fn note_event(&mut self, class: u32, event: &'static str, key: &Bytes) {
        if self.notify & class != 0 {
            self.events.push((class, event, key.clone()));
        }
    }

    /// Marks `key` as modified (Redis's `signalModifiedKey`): WATCHers of it will fail EXEC.
    pub fn touch(&mut self, key: &[u8]) {
        if self.tracking {
            self.touched.push(Bytes::copy_from_slice(key));
        }
        if let Some(entry) = self.entries.get_mut(key) {
            let size = memory::size::key_size(key, &entry.value, memory::size::DEFAULT_SAMPLES);
            self.used = self.used - entry.size + size;
            entry.size = size;
        }
        if self.watched.is_empty() {
            return;
        }
        if let Some(clients) = self.watched.get(key) {
            self.dirty_watchers.extend_from_slice(clients);
        }
    }

    /// Marks every watched key as modified (FLUSHDB, FLUSHALL, SWAPDB).
    pub fn touch_all_watched(&mut self) {
        for clients in self.watched.values() {
            self.dirty_watchers.extend_from_slice(clients);
        }
    }

    /// Marks every watched key that exists as modified (what Redis's FLUSHDB does: only keys
    /// that were there change).
    pub fn touch_existing_watched(&mut self) {
        for (key, clients) in &self.watched {
            if self.entries.contains_key(key) {
                self.dirty_watchers.extend_from_slice(clients);
            }
        }
    }

    /// Registers `client` as watching `key`.
    pub fn watch(&mut self, key: Bytes, client: ClientId) {
        let list = self.watched.entry(key).or_default();
        if !list.contains(&client) {
            list.push(client);
        }
    }

    /// Removes `client`'s watch on `key`.
    pub fn unwatch(&mut self, key: &[u8], client: ClientId) {
        if let Some(list) = self.watched.get_mut(key) {
            list.retain(|&c| c != client);
            if list.is_empty() {
                self.watched.remove(key);
            }
        }
    }

    /// Counts a client blocked on `key` (it will be woken when the key is created).
    pub fn block_on(&mut self, key: Bytes) {
        *self.blocking.entry(key).or_default() += 1;
    }

    /// Removes one blocked client's interest in `key`.
    pub fn unblock(&mut self, key: &[u8]) {
        if let Some(n) = self.blocking.get_mut(key) {
            *n -= 1;
            if *n == 0 {
                self.blocking.remove(key);
            }
        }
    }

    /// Signals that `key` may now satisfy blocked clients even though it already existed
    /// (for example after a push into an existing list that was drained in the same command).
    pub fn signal_ready(&mut self, key: &[u8]) {
        if self.blocking.contains_key(key) {
            self.ready.push(Bytes::copy_from_slice(key));
        }
    }

    /// Signals every key that blocked clients wait on and that holds a stream (its
    /// XREADGROUP readers are failed if the stream then goes away).
    fn signal_blocked_streams(&mut self) {
        for key in self.blocking.keys() {
            if matches!(self.entries.get(key), Some(e) if matches!(e.value, Value::Stream(_))) {
                self.ready.push(key.clone());
            }
        }
    }

    /// Removes every key (FLUSHDB). Watchers of existing keys are signalled.
    pub fn clear(&mut self) -> usize {
        self.touch_existing_watched();
        self.signal_blocked_streams();
        let n = self.entries.len();
        self.entries.clear();
        self.used = 0;
        self.expires.clear();
        self.deadlines.clear();
        if self.slot_index.is_some() {
            self.index_slots(true);
        }
        n
    }

    /// All keys, live or not yet reclaimed, in no particular order.
    pub fn keys(&self) -> impl Iterator<Item = &Bytes> {
        self.entries.keys()
    }

    /// All keys and values, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&Bytes, &Value)> {
        self.entries.iter().map(|(k, e)| (k, &e.value))
    }

    /// All keys and values with their access stamps (`robj.lru`), in no particular order.
    pub fn iter_stamped(&self) -> impl Iterator<Item = (&Bytes, &Value, u32)> {
        self.entries.iter().map(|(k, e)| (k, &e.value, e.lru))
    }

    /// What the keys cost, as the sum of their MEMORY USAGE estimates.
    pub fn used_bytes(&self) -> usize {
        self.used
    }

    /// Up to `n` keys from a random position (Redis's `dictGetSomeKeys`), of all keys or of the
    /// keys with a TTL, each with its access stamp and expiry time.
    pub fn sample(&self, volatile: bool, n: usize) -> Vec<(Bytes, u32, Option<i64>)> {
        let len = if volatile {
            self.expires.len()
        } else {
            self.entries.len()
        };
        if len == 0 {
            return Vec::new();
        }
        let start = (random_u64() % len as u64) as usize;
        (0..n.min(len))
            .filter_map(|i| {
                let at = (start + i) % len;
                let key = if volatile {
                    self.expires.get_index(at)?.0
                } else {
                    self.entries.get_index(at)?.0
                };
                let entry = self.entries.get(key)?;
                Some((key.clone(), entry.lru, self.expires.get(key).copied()))
            })
            .collect()
    }

    /// A random key of all keys or of the keys with a TTL (`dictGetRandomKey`), expired or not.
    pub fn random_sample(&self, volatile: bool) -> Option<Bytes> {
        let map_len = if volatile {
            self.expires.len()
        } else {
            self.entries.len()
        };
        if map_len == 0 {
            return None;
        }
        let at = (random_u64() % map_len as u64) as usize;
        if volatile {
            self.expires.get_index(at).map(|(k, _)| k.clone())
        } else {
            self.entries.get_index(at).map(|(k, _)| k.clone())
        }
    }

    /// Live keys matching `pattern` (KEYS).
    pub fn matching_keys(&self, pattern: &[u8], now: i64) -> Vec<Bytes> {
        let all = pattern == b"*";
        self.entries
            .keys()
            .filter(|k| !self.is_expired(k, now))
            .filter(|k| all || glob_match(pattern, k, false))
            .cloned()
            .collect()
    }

    /// A random live key (RANDOMKEY).
    pub fn random_key(&mut self, now: i64) -> Option<Bytes> {
        // Try a few random picks so that a database full of expired keys still terminates.
        for _ in 0..100 {
            let n = self.entries.len();
            if n == 0 {
                return None;
            }
            let idx = (random_u64() % n as u64) as usize;
            let key = self.entries.get_index(idx)?.0.clone();
            if !self.expire_if_due(&key, now) {
                return Some(key);
            }
        }
        None
    }

    /// A copy of the keys, values and TTLs, for writing a snapshot away from the node lock.
    /// Values share their bytes with the originals, so this costs a walk of the keyspace,
    /// not a copy of the data. The copy has no watch, blocking or active-expiry bookkeeping:
    /// it is for reading and serialising only.
    pub fn snapshot(&self) -> Db {
        Db {
            entries: self.entries.clone(),
            expires: self.expires.clone(),
            used: self.used,
            ..Db::default()
        }
    }

    /// One step of SCAN over the keys: see [`scan_step`].
    pub fn scan(&self, cursor: u64, count: usize) -> (u64, Vec<Bytes>) {
        scan_step(self.entries.keys(), cursor, count, |k| k.clone())
    }

    /// Removes up to `max` keys whose TTL has passed; returns how many were removed.
    pub fn expire_due(&mut self, now: i64, max: usize) -> usize {
        let mut n = 0;
        while n < max {
            let Some((at, key)) = self.deadlines.first().cloned() else {
                break;
            };
            if at > now {
                break;
            }
            self.remove(&key);
            self.touch(&key);
            self.note_event(crate::notify::class::EXPIRED, "expired", &key);
            self.expired.push(key);
            n += 1;
        }
        n
    }

    /// Moves everything out of `other` into `self`, swapping contents (SWAPDB). Watches and
    /// blocked clients stay with their database number, as in Redis.
    pub fn swap_data(&mut self, other: &mut Db) {
        // Streams that leave a database fail their XREADGROUP readers, as Redis's
        // scanDatabaseForDeletedStreams does; keys that arrive are served below.
        self.signal_blocked_streams();
        other.signal_blocked_streams();
        std::mem::swap(&mut self.entries, &mut other.entries);
        std::mem::swap(&mut self.expires, &mut other.expires);
        std::mem::swap(&mut self.deadlines, &mut other.deadlines);
        std::mem::swap(&mut self.used, &mut other.used);
        if self.slot_index.is_some() {
            self.index_slots(true);
        }
        if other.slot_index.is_some() {
            other.index_slots(true);
        }
        for key in self.blocking.keys() {
            if self.entries.contains_key(key) {
                self.ready.push(key.clone());
            }
        }
        for key in other.blocking.keys() {
            if other.entries.contains_key(key) {
                other.ready.push(key.clone());
            }
        }
    }
}

/// The position of `key` in SCAN order: a fixed hash, so the order does not change while the
/// collection is modified, and every element present for a whole scan is returned at least once.
pub fn scan_position(key: &[u8]) -> u64 {
    // FNV-1a, then a final mix: stable across runs and processes (cursors survive reconnects).
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in key {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    // Cursor 0 means "start"/"done": keep positions at 1 and above.
    (h >> 1).max(1)
}

/// One SCAN step over any collection: returns the items at positions `>= cursor`, about `count`
/// of them (all items sharing the last position are included, so none is skipped), and the
/// cursor for the next call (0 when done).
///
/// Cost is linear in the collection size per call; fine for a test server, and it keeps the
/// guarantees clients rely on.
pub fn scan_step<'a, K, T>(
    items: impl Iterator<Item = &'a K>,
    cursor: u64,
    count: usize,
    mut out: impl FnMut(&'a K) -> T,
) -> (u64, Vec<T>)
where
    K: AsRef<[u8]> + 'a + ?Sized,
{
    let start = cursor.max(1);
    let mut candidates: Vec<(u64, &'a K)> = items
        .map(|k| (scan_position(k.as_ref()), k))
        .filter(|(p, _)| *p >= start)
        .collect();
    let count = count.max(1);
    if candidates.len() > count {
        candidates.select_nth_unstable_by_key(count, |(p, _)| *p);
        let cut = candidates[count].0;
        // Everything strictly before the cut position goes now; the rest starts the next page.
        let page: Vec<T> = candidates
            .iter()
            .filter(|(p, _)| *p < cut)
            .map(|(_, k)| out(k))
            .collect();
        (cut, page)
    } else {
        (0, candidates.into_iter().map(|(_, k)| out(k)).collect())
    }
}

/// A random `u64` (RandomState's per-process keys, mixed with a counter).
pub fn random_u64() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_visits_everything_once_when_unchanged() {
        let mut db = Db::default();
        for i in 0..1000 {
            db.set(
                Bytes::from(format!("k{i}")),
                Value::from_bytes(Bytes::from("v")),
            );
        }
        let mut seen = std::collections::HashSet::new();
        let mut cursor = 0;
        loop {
            let (next, keys) = db.scan(cursor, 10);
            for k in keys {
                assert!(seen.insert(k), "duplicate");
            }
            if next == 0 {
                break;
            }
            cursor = next;
        }
        assert_eq!(seen.len(), 1000);
    }

    #[test]
    fn expiry_is_lazy_and_active() {
        let mut db = Db::default();
        db.set(Bytes::from("a"), Value::from_bytes(Bytes::from("1")));
        db.set(Bytes::from("b"), Value::from_bytes(Bytes::from("1")));
        db.set_expire(b"a", 100);
        db.set_expire(b"b", 200);
        assert!(db.get(b"a", 99).is_some());
        assert!(db.get(b"a", 100).is_none());
        assert_eq!(db.len(), 1);
        assert_eq!(db.expire_due(150, 10), 0);
        assert_eq!(db.expire_due(250, 10), 1);
        assert!(db.is_empty());
        assert_eq!(db.expired.len(), 2);
    }

    #[test]
    fn watch_and_ready_bookkeeping() {
        let mut db = Db::default();
        db.watch(Bytes::from("w"), 7);
        db.touch(b"x");
        assert!(db.dirty_watchers.is_empty());
        db.touch(b"w");
        assert_eq!(db.dirty_watchers, vec![7]);
        db.block_on(Bytes::from("l"));
        db.set(Bytes::from("l"), Value::from_bytes(Bytes::from("1")));
        assert_eq!(db.ready, vec![Bytes::from("l")]);
    }
}
