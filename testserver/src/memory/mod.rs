//! Memory: what the node counts as used, `maxmemory` eviction (Redis's `evict.c`), and the
//! per-key access clock that LRU and LFU policies read (OBJECT IDLETIME / FREQ).
//!
//! **What `used_memory` means here.** In-process servers share one allocator with the test
//! binary and with each other, so the allocator cannot say what one node uses. Each node keeps
//! instead an estimate of what Redis 7.0 would use for the same data, maintained as keys change:
//! Redis's startup figure, plus every key's MEMORY USAGE (its value, key and dict entry, with
//! jemalloc's size classes: see [`size`]), plus the databases' hashtable buckets and expire
//! entries, plus the replication backlog. Client buffers are not counted, so the figure (and
//! so eviction) depends on the data only, never on traffic.

pub mod latency;
pub mod size;

use std::time::Instant;

use bytes::Bytes;

use crate::config::Config;
use crate::keyspace::Db;
use crate::node::NodeState;

/// `used_memory_startup` of a Redis 7.0.15 that has just started (no data, no clients).
pub const STARTUP_MEMORY: u64 = 876_192;
/// `functions.caches` of a Redis 7.0.15 without functions (part of the overhead).
pub const FUNCTIONS_CACHES: u64 = 200;
/// Redis's `LFU_INIT_VAL`: the counter of a new key.
pub const LFU_INIT_VAL: u32 = 5;
/// Size of Redis's eviction pool (`EVPOOL_SIZE`).
const EVPOOL_SIZE: usize = 16;
/// The 24-bit LRU clock's maximum (`LRU_CLOCK_MAX`).
const LRU_CLOCK_MAX: u32 = (1 << 24) - 1;

/// A `maxmemory-policy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Policy {
    /// `noeviction`
    #[default]
    NoEviction,
    /// `allkeys-lru`
    AllkeysLru,
    /// `allkeys-lfu`
    AllkeysLfu,
    /// `allkeys-random`
    AllkeysRandom,
    /// `volatile-lru`
    VolatileLru,
    /// `volatile-lfu`
    VolatileLfu,
    /// `volatile-random`
    VolatileRandom,
    /// `volatile-ttl`
    VolatileTtl,
}

impl Policy {
    /// Parses a policy name (the config table has already checked it).
    pub fn parse(name: &str) -> Policy {
        match name {
            "allkeys-lru" => Policy::AllkeysLru,
            "allkeys-lfu" => Policy::AllkeysLfu,
            "allkeys-random" => Policy::AllkeysRandom,
            "volatile-lru" => Policy::VolatileLru,
            "volatile-lfu" => Policy::VolatileLfu,
            "volatile-random" => Policy::VolatileRandom,
            "volatile-ttl" => Policy::VolatileTtl,
            _ => Policy::NoEviction,
        }
    }

    /// Whether the policy reads LFU counters (`MAXMEMORY_FLAG_LFU`).
    pub fn is_lfu(self) -> bool {
        matches!(self, Policy::AllkeysLfu | Policy::VolatileLfu)
    }

    /// Whether the policy reads LRU stamps (`MAXMEMORY_FLAG_LRU`).
    pub fn is_lru(self) -> bool {
        matches!(self, Policy::AllkeysLru | Policy::VolatileLru)
    }

    fn allkeys(self) -> bool {
        matches!(
            self,
            Policy::AllkeysLru | Policy::AllkeysLfu | Policy::AllkeysRandom
        )
    }
}

/// How lookups stamp the keys they touch (Redis's `robj.lru`, 24 bits): the LRU clock, or the
/// LFU counter and the minute it was last decremented.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Access {
    /// The LRU clock (seconds).
    #[default]
    Lru,
    /// The LFU counter, with `lfu-log-factor` and `lfu-decay-time`.
    Lfu {
        /// `lfu-log-factor`
        log_factor: u32,
        /// `lfu-decay-time` (minutes)
        decay_time: u32,
    },
}

/// The configuration eviction reads, parsed once per CONFIG SET.
#[derive(Debug, Clone, Copy, Default)]
pub struct Settings {
    /// `maxmemory-policy`
    pub policy: Policy,
    /// `maxmemory-samples`
    pub samples: usize,
    /// `maxmemory-eviction-tenacity`
    pub tenacity: u32,
    /// `lazyfree-lazy-eviction`: evictions are replicated as UNLINK.
    pub lazy: bool,
    /// `replica-ignore-maxmemory`
    pub replica_ignore: bool,
    /// How lookups stamp keys.
    pub access: Access,
    /// `latency-tracking`: per-command latency histograms.
    pub latency_tracking: bool,
}

impl Settings {
    /// The settings of `config`.
    pub fn from_config(config: &Config) -> Settings {
        let num = |name: &str, default: &str| -> u64 {
            config.extra_or(name, default).parse().unwrap_or(0)
        };
        let policy = Policy::parse(&config.maxmemory_policy);
        Settings {
            policy,
            samples: num("maxmemory-samples", "5").max(1) as usize,
            tenacity: num("maxmemory-eviction-tenacity", "10").min(100) as u32,
            lazy: config.extra_or("lazyfree-lazy-eviction", "no") == "yes",
            replica_ignore: config.extra_or("replica-ignore-maxmemory", "yes") == "yes",
            latency_tracking: config.extra_or("latency-tracking", "yes") == "yes",
            access: if policy.is_lfu() {
                Access::Lfu {
                    log_factor: num("lfu-log-factor", "10") as u32,
                    decay_time: num("lfu-decay-time", "1") as u32,
                }
            } else {
                Access::Lru
            },
        }
    }
}

/// The node's memory bookkeeping: settings, the eviction pool, counters, the peak.
#[derive(Debug, Default)]
pub struct MemoryState {
    /// Parsed configuration.
    pub settings: Settings,
    pool: Vec<PoolEntry>,
    next_db: usize,
    /// `evicted_keys`
    pub evicted_keys: u64,
    /// When the node last went over `maxmemory` without getting back under it.
    exceeded_since: Option<Instant>,
    /// `total_eviction_exceeded_time`, in microseconds.
    exceeded_total_us: u64,
    /// Eviction stopped at its time limit and goes on from the cron (Redis's eviction timer).
    pub running: bool,
    /// `used_memory_peak`
    pub peak: u64,
    /// The latency monitor.
    pub latency: latency::Monitor,
    /// Per command (full name, `config|get`), its latency histogram (`latency-tracking`).
    pub histograms: crate::keyspace::FastMap<&'static str, latency::Histogram>,
}

#[derive(Debug, Clone)]
struct PoolEntry {
    idle: u64,
    db: usize,
    key: Bytes,
}

impl MemoryState {
    /// Fresh state for `config`.
    pub fn new(config: &Config) -> MemoryState {
        MemoryState {
            settings: Settings::from_config(config),
            ..MemoryState::default()
        }
    }

    /// `total_eviction_exceeded_time` and `current_eviction_exceeded_time`, in milliseconds.
    pub fn exceeded_ms(&self) -> (u64, u64) {
        let current = self
            .exceeded_since
            .map_or(0, |t| t.elapsed().as_micros() as u64);
        ((self.exceeded_total_us + current) / 1000, current / 1000)
    }
}

/// The LRU clock at `now_ms` (seconds, 24 bits).
pub fn lru_clock(now_ms: i64) -> u32 {
    ((now_ms.max(0) / 1000) as u64 & u64::from(LRU_CLOCK_MAX)) as u32
}

/// Milliseconds since an LRU stamp (`estimateObjectIdleTime`).
pub fn idle_ms(lru: u32, now_ms: i64) -> u64 {
    let clock = lru_clock(now_ms);
    let secs = if clock >= lru {
        clock - lru
    } else {
        clock + (LRU_CLOCK_MAX - lru)
    };
    u64::from(secs) * 1000
}

fn lfu_minutes(now_ms: i64) -> u32 {
    ((now_ms.max(0) / 1000 / 60) & 65535) as u32
}

/// The LFU counter of a stamp, decayed by the periods elapsed (`LFUDecrAndReturn`).
pub fn lfu_counter(lru: u32, now_ms: i64, decay_time: u32) -> u32 {
    let ldt = lru >> 8;
    let counter = lru & 255;
    let now = lfu_minutes(now_ms);
    let elapsed = if now >= ldt {
        now - ldt
    } else {
        65535 - ldt + now
    };
    let periods = elapsed.checked_div(decay_time).unwrap_or(0);
    counter.saturating_sub(periods)
}

/// `LFULogIncr`: one access makes the counter grow with probability
/// `1 / ((counter - LFU_INIT_VAL) * log_factor + 1)`.
fn lfu_log_incr(counter: u32, log_factor: u32) -> u32 {
    if counter >= 255 {
        return 255;
    }
    let base = counter.saturating_sub(LFU_INIT_VAL);
    let p = 1.0 / (f64::from(base) * f64::from(log_factor) + 1.0);
    let r = (crate::keyspace::random_u64() >> 11) as f64 / (1u64 << 53) as f64;
    if r < p {
        counter + 1
    } else {
        counter
    }
}

/// The stamp of a value created at `now_ms` (`createObject`).
pub fn stamp_new(access: Access, now_ms: i64) -> u32 {
    match access {
        Access::Lru => lru_clock(now_ms),
        Access::Lfu { .. } => (lfu_minutes(now_ms) << 8) | LFU_INIT_VAL,
    }
}

/// The stamp after an access (`lookupKey`: `updateLFU`, or the LRU clock).
pub fn stamp_access(access: Access, lru: u32, now_ms: i64) -> u32 {
    match access {
        Access::Lru => lru_clock(now_ms),
        Access::Lfu {
            log_factor,
            decay_time,
        } => {
            let counter = lfu_counter(lru, now_ms, decay_time);
            (lfu_minutes(now_ms) << 8) | lfu_log_incr(counter, log_factor)
        }
    }
}

/// `objectSetLRUOrLFU`: the stamp RESTORE (or an RDB's FREQ/IDLE) gives a key, when it gives
/// the one the policy reads: FREQ under LFU, IDLETIME (seconds) otherwise.
pub fn stamp_restored(
    access: Access,
    freq: Option<i64>,
    idle: Option<i64>,
    now_ms: i64,
) -> Option<u32> {
    match access {
        Access::Lfu { .. } => {
            let freq = freq?.clamp(0, 255) as u32;
            Some((lfu_minutes(now_ms) << 8) | freq)
        }
        Access::Lru => {
            let idle = idle?;
            let mut abs = i64::from(lru_clock(now_ms)) - idle;
            if abs < 0 {
                abs += i64::from(LRU_CLOCK_MAX);
            }
            Some(abs.clamp(0, i64::from(LRU_CLOCK_MAX)) as u32)
        }
    }
}

/// The node's `used_memory` (see the module docs for what it counts).
pub fn used_memory(st: &NodeState) -> u64 {
    STARTUP_MEMORY + FUNCTIONS_CACHES + dbs_memory(&st.dbs) + backlog_memory(st)
}

/// Records `used_memory_peak` (after a write).
pub fn note_peak(st: &mut NodeState) {
    let used = used_memory(st);
    st.memory.peak = st.memory.peak.max(used);
}

/// What the databases cost: keys and values, plus hashtable overhead.
pub fn dbs_memory(dbs: &[Db]) -> u64 {
    dbs.iter()
        .filter(|db| !db.is_empty() || db.expires_len() > 0 || db.used_bytes() > 0)
        .map(|db| {
            let (main, expires) = db_overhead(db);
            db.used_bytes() as u64 + main + expires
        })
        .sum()
}

/// A database's `overhead.hashtable.main` (minus the entries MEMORY USAGE counts) and
/// `overhead.hashtable.expires`.
pub fn db_overhead(db: &Db) -> (u64, u64) {
    let slots = |n: usize| if n == 0 { 0 } else { n.next_power_of_two().max(4) } as u64;
    let main = 8 * slots(db.len());
    let expires = 8 * slots(db.expires_len()) + size::DICT_ENTRY as u64 * db.expires_len() as u64;
    (main, expires)
}

/// The replication backlog's bytes, as `mem_replication_backlog`.
pub fn backlog_memory(st: &NodeState) -> u64 {
    st.repl.backlog.as_ref().map_or(0, |b| b.memory())
}

/// Redis's `getMemoryOverheadData`, from this node's own figures (MEMORY STATS, INFO memory,
/// MEMORY DOCTOR).
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// `used_memory`
    pub total: u64,
    /// `used_memory_peak`
    pub peak: u64,
    /// `used_memory_startup`
    pub startup: u64,
    /// `mem_replication_backlog`
    pub backlog: u64,
    /// `functions.caches`
    pub functions_caches: u64,
    /// Per non-empty database: (index, `overhead.hashtable.main`, `overhead.hashtable.expires`).
    pub dbs: Vec<(usize, u64, u64)>,
    /// `used_memory_overhead`
    pub overhead: u64,
    /// `keys.count`
    pub keys: u64,
    /// `used_memory_dataset`
    pub dataset: u64,
}

impl Report {
    /// The report for `st` now (also records a new peak).
    pub fn new(st: &mut NodeState) -> Report {
        let total = used_memory(st);
        st.memory.peak = st.memory.peak.max(total);
        let backlog = backlog_memory(st);
        let mut overhead = STARTUP_MEMORY + backlog + FUNCTIONS_CACHES;
        let mut dbs = Vec::new();
        let mut keys = 0;
        for (i, db) in st.dbs.iter().enumerate() {
            if db.is_empty() {
                continue;
            }
            let (main, expires) = db_overhead(db);
            // Redis counts each key's dict entry and value header as overhead.
            let main = main + (size::DICT_ENTRY as u64 + 16) * db.len() as u64;
            overhead += main + expires;
            keys += db.len() as u64;
            dbs.push((i, main, expires));
        }
        Report {
            total,
            peak: st.memory.peak,
            startup: STARTUP_MEMORY,
            backlog,
            functions_caches: FUNCTIONS_CACHES,
            dbs,
            overhead,
            keys,
            dataset: total.saturating_sub(overhead),
        }
    }

    /// `keys.bytes-per-key`
    pub fn bytes_per_key(&self) -> u64 {
        (self.total - self.startup)
            .checked_div(self.keys)
            .unwrap_or(0)
    }

    /// `dataset.percentage`
    pub fn dataset_perc(&self) -> f64 {
        let net = self.total.saturating_sub(self.startup);
        if net == 0 {
            0.0
        } else {
            self.dataset as f64 * 100.0 / net as f64
        }
    }

    /// `peak.percentage`
    pub fn peak_perc(&self) -> f64 {
        self.total as f64 * 100.0 / self.peak.max(1) as f64
    }
}

/// What [`perform_evictions`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Evict {
    /// Under the limit (or back under it).
    Ok,
    /// Still over the limit, going on from the cron (not an OOM).
    Running,
    /// Over the limit and nothing (more) may be evicted: denyoom commands get OOM.
    Fail,
}

/// Redis's `performEvictions`: evicts keys by the policy until the node is under `maxmemory`,
/// within the time `maxmemory-eviction-tenacity` allows. Evicted keys are replicated as DEL (or
/// UNLINK under `lazyfree-lazy-eviction`), each on its own, before the command that triggered
/// them.
pub fn perform_evictions(st: &mut NodeState) -> Evict {
    let maxmemory = st.config.maxmemory;
    if maxmemory == 0 {
        return Evict::Ok;
    }
    // isSafeToPerformEvictions: a replica ignoring maxmemory, paused clients.
    if !st.repl.is_master() && st.memory.settings.replica_ignore {
        return Evict::Ok;
    }
    if st
        .pause
        .is_some_and(|(until, _)| until > crate::node::unix_ms())
    {
        return Evict::Ok;
    }
    let used = used_memory(st);
    st.memory.peak = st.memory.peak.max(used);
    if used <= maxmemory {
        return update_metrics(st, Evict::Ok);
    }
    let settings = st.memory.settings;
    if settings.policy == Policy::NoEviction {
        return update_metrics(st, Evict::Fail);
    }
    let to_free = used - maxmemory;
    let limit_us = time_limit_us(settings.tenacity);
    let started = Instant::now();
    let mut freed = 0u64;
    let mut keys_freed = 0u64;
    let mut result = Evict::Ok;
    while freed < to_free {
        let Some((db, key)) = pick(st) else {
            result = Evict::Fail;
            break;
        };
        let before = dbs_memory(&st.dbs[db..=db]);
        let del_started = Instant::now();
        st.dbs[db].remove(&key);
        st.memory
            .latency
            .add_sample_if_needed("eviction-del", del_started, &st.config);
        freed += before.saturating_sub(dbs_memory(&st.dbs[db..=db]));
        st.dbs[db].touch(&key);
        st.memory.evicted_keys += 1;
        crate::notify::keyspace_event(st, crate::notify::class::EVICTED, "evicted", &key, db);
        if st.repl.propagating() {
            let del: &'static [u8] = if settings.lazy { b"UNLINK" } else { b"DEL" };
            st.repl.push(db, vec![Bytes::from_static(del), key]);
            st.repl.flush_pending();
        }
        keys_freed += 1;
        if keys_freed % 16 == 0 && started.elapsed().as_micros() as u64 > limit_us {
            result = Evict::Running;
            break;
        }
    }
    st.memory.running = result == Evict::Running;
    st.memory
        .latency
        .add_sample_if_needed("eviction-cycle", started, &st.config);
    update_metrics(st, result)
}

fn update_metrics(st: &mut NodeState, result: Evict) -> Evict {
    let m = &mut st.memory;
    match result {
        Evict::Running | Evict::Fail => {
            m.exceeded_since.get_or_insert_with(Instant::now);
        }
        Evict::Ok => {
            if let Some(t) = m.exceeded_since.take() {
                m.exceeded_total_us += t.elapsed().as_micros() as u64;
            }
        }
    }
    result
}

/// `evictionTimeLimitUs`.
fn time_limit_us(tenacity: u32) -> u64 {
    if tenacity <= 10 {
        50 * u64::from(tenacity)
    } else if tenacity < 100 {
        (500.0 * 1.15f64.powi(tenacity as i32 - 10)) as u64
    } else {
        u64::MAX
    }
}

/// The next key to evict: through the pool for the LRU, LFU and TTL policies, at random
/// (visiting the databases in turn) for the random ones.
fn pick(st: &mut NodeState) -> Option<(usize, Bytes)> {
    let settings = st.memory.settings;
    let allkeys = settings.policy.allkeys();
    let now = crate::node::unix_ms();
    if matches!(
        settings.policy,
        Policy::AllkeysRandom | Policy::VolatileRandom
    ) {
        let n = st.dbs.len();
        for _ in 0..n {
            st.memory.next_db = (st.memory.next_db + 1) % n;
            let j = st.memory.next_db;
            if let Some(key) = st.dbs[j].random_sample(!allkeys) {
                return Some((j, key));
            }
        }
        return None;
    }
    loop {
        let mut total = 0;
        for (i, db) in st.dbs.iter().enumerate() {
            let keys = if allkeys { db.len() } else { db.expires_len() };
            if keys == 0 {
                continue;
            }
            total += keys;
            for (key, lru, expire) in db.sample(!allkeys, settings.samples) {
                let idle = match settings.policy {
                    p if p.is_lru() => idle_ms(lru, now),
                    Policy::VolatileTtl => u64::MAX - expire.unwrap_or(0) as u64,
                    _ => {
                        let decay = match settings.access {
                            Access::Lfu { decay_time, .. } => decay_time,
                            Access::Lru => 1,
                        };
                        255 - u64::from(lfu_counter(lru, now, decay))
                    }
                };
                pool_insert(&mut st.memory.pool, PoolEntry { idle, db: i, key });
            }
        }
        if total == 0 {
            return None;
        }
        // Best candidates are at the end; a key gone since it was sampled is a ghost.
        while let Some(entry) = st.memory.pool.pop() {
            let db = &st.dbs[entry.db];
            let exists = if allkeys {
                db.peek(&entry.key).is_some()
            } else {
                db.expire_at(&entry.key).is_some()
            };
            if exists {
                return Some((entry.db, entry.key));
            }
        }
    }
}

/// `evictionPoolPopulate`'s insertion: the pool is sorted by ascending idle score and holds
/// at most [`EVPOOL_SIZE`] keys; a full pool drops its worst candidate for a better one.
fn pool_insert(pool: &mut Vec<PoolEntry>, entry: PoolEntry) {
    if let Some(i) = pool
        .iter()
        .position(|e| e.db == entry.db && e.key == entry.key)
    {
        pool.remove(i);
    }
    let k = pool.iter().take_while(|e| e.idle < entry.idle).count();
    if pool.len() == EVPOOL_SIZE {
        if k == 0 {
            return;
        }
        pool.remove(0);
        pool.insert(k - 1, entry);
    } else {
        pool.insert(k, entry);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lfu_counter_decays_by_elapsed_periods() {
        let minute = 60_000;
        let now = 1000 * minute;
        let stamp = (lfu_minutes(now) << 8) | 20;
        assert_eq!(lfu_counter(stamp, now, 1), 20);
        assert_eq!(lfu_counter(stamp, now + 5 * minute, 1), 15);
        assert_eq!(lfu_counter(stamp, now + 5 * minute, 2), 18);
        assert_eq!(lfu_counter(stamp, now + 500 * minute, 1), 0);
        assert_eq!(lfu_counter(stamp, now + 500 * minute, 0), 20);
    }

    #[test]
    fn lfu_grows_logarithmically() {
        let mut c = LFU_INIT_VAL;
        for _ in 0..1000 {
            c = lfu_log_incr(c, 10);
        }
        // Redis's table: 1000 hits with factor 10 give a counter around 18.
        assert!((10..30).contains(&c), "{c}");
    }

    #[test]
    fn pool_keeps_best_candidates_sorted() {
        let mut pool = Vec::new();
        for i in 0..40u64 {
            let idle = (i * 7919) % 101;
            pool_insert(
                &mut pool,
                PoolEntry {
                    idle,
                    db: 0,
                    key: Bytes::from(i.to_string()),
                },
            );
        }
        assert_eq!(pool.len(), EVPOOL_SIZE);
        assert!(pool.windows(2).all(|w| w[0].idle <= w[1].idle));
        assert_eq!(pool.last().unwrap().idle, 100);
    }

    #[test]
    fn tenacity_limits() {
        assert_eq!(time_limit_us(10), 500);
        assert_eq!(time_limit_us(0), 0);
        assert_eq!(time_limit_us(100), u64::MAX);
    }
}
