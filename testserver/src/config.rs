//! Server configuration: typed fields the server reads on its hot paths.
//!
//! The directive table that maps `redis.conf` names to these fields (CONFIG GET/SET, config files,
//! `--directive value` arguments) lives in `config_table.rs`. Directives that change nothing in
//! this server but are accepted for compatibility are kept as text in [`Config::extra`].

use std::time::{Duration, Instant};

/// Periods of a node's background jobs.
///
/// Redis fixes these (its replication cron runs once a second, a sentinel's timer ten times a
/// second); they are not `redis.conf` directives. Tests of topology changes (failover,
/// reconnection) shorten them, down to tens of milliseconds, so that what takes seconds with
/// Redis takes a fraction of one here; each node has its own, so fast and default nodes can
/// share a process. The `sentinel_*` periods are the ones `SENTINEL DEBUG` shows and sets
/// (they start from here), plus the three Redis hard-codes: the timer tick, the fast INFO
/// period and the failover start jitter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timers {
    /// The replication cron (Redis: 1 s): a master's PING to its replicas and repl-timeout
    /// checks; a replica's `REPLCONF ACK` and the longest wait between attempts to reconnect
    /// to its master. `repl-ping-replica-period` and `repl-timeout` stay in seconds and are
    /// checked on this period.
    pub repl_cron: Duration,
    /// The cluster cron (Redis: 100 ms): PINGs, PFAIL detection, reconnects, elections.
    /// Redis's fixed cluster delays (500 ms election delay, 1 s per replica rank, 2 s writable
    /// delay, 5 s manual failover timeout...) scale with it; `cluster-node-timeout` does not
    /// (it is a directive, set it as short as the test needs).
    pub cluster_cron: Duration,
    /// A sentinel's timer (Redis: `1000 / hz` with a random hz of 10..19, so 52..100 ms): the
    /// tick is this period times 10 / (10 + rand % 10).
    pub sentinel_tick: Duration,
    /// `SENTINEL DEBUG info-period` (Redis: 10 s): INFO to masters and replicas.
    pub sentinel_info: Duration,
    /// INFO to replicas of a master that is down or failing over (Redis: a literal 1 s).
    pub sentinel_fast_info: Duration,
    /// `ping-period` (Redis: 1 s).
    pub sentinel_ping: Duration,
    /// `ask-period` (Redis: 1 s): IS-MASTER-DOWN-BY-ADDR to other sentinels.
    pub sentinel_ask: Duration,
    /// `publish-period` (Redis: 2 s): hello messages.
    pub sentinel_publish: Duration,
    /// `default-down-after` (Redis: 30 s).
    pub sentinel_default_down_after: Duration,
    /// `default-failover-timeout` (Redis: 3 min).
    pub sentinel_default_failover_timeout: Duration,
    /// `tilt-trigger` (Redis: 2 s): a gap between two ticks longer than this enters TILT.
    pub sentinel_tilt_trigger: Duration,
    /// `tilt-period` (Redis: 30 s).
    pub sentinel_tilt_period: Duration,
    /// `slave-reconf-timeout` (Redis: 10 s).
    pub sentinel_slave_reconf_timeout: Duration,
    /// `min-link-reconnect-period` (Redis: 15 s).
    pub sentinel_min_link_reconnect: Duration,
    /// `election-timeout` (Redis: 10 s).
    pub sentinel_election_timeout: Duration,
    /// `script-max-runtime` (Redis: 60 s).
    pub sentinel_script_max_runtime: Duration,
    /// `script-retry-delay` (Redis: 30 s).
    pub sentinel_script_retry_delay: Duration,
    /// The random delay added to a failover's start time (Redis: `SENTINEL_MAX_DESYNC`, 1 s).
    pub sentinel_max_desync: Duration,
}

impl Default for Timers {
    fn default() -> Self {
        let s = Duration::from_secs;
        Timers {
            cluster_cron: Duration::from_millis(100),
            repl_cron: s(1),
            sentinel_tick: Duration::from_millis(100),
            sentinel_info: s(10),
            sentinel_fast_info: s(1),
            sentinel_ping: s(1),
            sentinel_ask: s(1),
            sentinel_publish: s(2),
            sentinel_default_down_after: s(30),
            sentinel_default_failover_timeout: s(180),
            sentinel_tilt_trigger: s(2),
            sentinel_tilt_period: s(30),
            sentinel_slave_reconf_timeout: s(10),
            sentinel_min_link_reconnect: s(15),
            sentinel_election_timeout: s(10),
            sentinel_script_max_runtime: s(60),
            sentinel_script_retry_delay: s(30),
            sentinel_max_desync: s(1),
        }
    }
}

impl Timers {
    /// The periods fast topologies run with (in-process `TestSentinel`s,
    /// `rediscover-topology`, `rediscover-timers-factor`): every period divided by `factor`,
    /// except two that must stay long next to what a loaded machine does:
    ///
    /// - the sentinel tick stays at least 25 ms: a sentinel asked for its vote answers before
    ///   its own next tick could start a competing election, as with Redis's 100 ms tick next
    ///   to a millisecond's round trip (ticks of a few milliseconds split votes far more often);
    /// - the TILT trigger stays at least 1 s: a test machine that stalls a task for a few
    ///   hundred milliseconds must not send sentinels into TILT.
    pub fn fast(factor: u32) -> Timers {
        let mut t = Timers::default().faster(factor);
        t.sentinel_tick = t.sentinel_tick.max(Duration::from_millis(25));
        t.sentinel_tilt_trigger = t.sentinel_tilt_trigger.max(Duration::from_secs(1));
        t
    }

    /// Every period divided by `factor` (at least 1 ms): `Timers::default().faster(20)` runs
    /// the replication cron every 50 ms and a sentinel's PINGs every 50 ms.
    pub fn faster(&self, factor: u32) -> Timers {
        let f = factor.max(1);
        let scale = |d: Duration| (d / f).max(Duration::from_millis(1));
        Timers {
            repl_cron: scale(self.repl_cron),
            cluster_cron: scale(self.cluster_cron),
            sentinel_tick: scale(self.sentinel_tick),
            sentinel_info: scale(self.sentinel_info),
            sentinel_fast_info: scale(self.sentinel_fast_info),
            sentinel_ping: scale(self.sentinel_ping),
            sentinel_ask: scale(self.sentinel_ask),
            sentinel_publish: scale(self.sentinel_publish),
            sentinel_default_down_after: scale(self.sentinel_default_down_after),
            sentinel_default_failover_timeout: scale(self.sentinel_default_failover_timeout),
            sentinel_tilt_trigger: scale(self.sentinel_tilt_trigger),
            sentinel_tilt_period: scale(self.sentinel_tilt_period),
            sentinel_slave_reconf_timeout: scale(self.sentinel_slave_reconf_timeout),
            sentinel_min_link_reconnect: scale(self.sentinel_min_link_reconnect),
            sentinel_election_timeout: scale(self.sentinel_election_timeout),
            sentinel_script_max_runtime: scale(self.sentinel_script_max_runtime),
            sentinel_script_retry_delay: scale(self.sentinel_script_retry_delay),
            sentinel_max_desync: scale(self.sentinel_max_desync),
        }
    }
}

/// One class of `client-output-buffer-limit`: a hard limit, and a soft limit that may be
/// exceeded for at most `soft_seconds` (0 bytes: no limit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ObufClass {
    /// Bytes of pending output that close the client at once.
    pub hard: u64,
    /// Bytes of pending output that close the client if they last.
    pub soft: u64,
    /// How long the soft limit may be exceeded.
    pub soft_seconds: u64,
}

impl ObufClass {
    /// Whether a client with `used` bytes of pending output must be closed, as Redis's
    /// `checkClientOutputBufferLimits` decides; `soft_since` is the client's record of when it
    /// first passed the soft limit (updated here).
    pub fn exceeded(&self, used: u64, soft_since: &mut Option<Instant>, now: Instant) -> bool {
        let hard = self.hard > 0 && used >= self.hard;
        let mut soft = self.soft > 0 && used >= self.soft;
        if soft {
            match soft_since {
                None => {
                    *soft_since = Some(now);
                    soft = false;
                }
                Some(since) => {
                    soft = now.saturating_duration_since(*since).as_secs() > self.soft_seconds;
                }
            }
        } else {
            *soft_since = None;
        }
        hard || soft
    }
}

/// `client-output-buffer-limit`, per class of client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ObufLimits {
    /// `normal`: ordinary clients (default: none).
    pub normal: ObufClass,
    /// `replica` (`slave`): replicas (default: 256mb 64mb 60).
    pub replica: ObufClass,
    /// `pubsub`: clients with subscriptions (default: 32mb 8mb 60).
    pub pubsub: ObufClass,
}

impl Default for ObufLimits {
    fn default() -> Self {
        ObufLimits {
            normal: ObufClass::default(),
            replica: ObufClass {
                hard: 256 << 20,
                soft: 64 << 20,
                soft_seconds: 60,
            },
            pubsub: ObufClass {
                hard: 32 << 20,
                soft: 8 << 20,
                soft_seconds: 60,
            },
        }
    }
}

/// Typed configuration of one node. Field names follow the `redis.conf` directives.
#[derive(Debug, Clone)]
pub struct Config {
    /// `bind`: addresses to listen on.
    pub bind: Vec<String>,
    /// `port` (0: pick a free port).
    pub port: u16,
    /// `requirepass`: password of the default user (`None`: no password).
    pub requirepass: Option<Vec<u8>>,
    /// `databases`
    pub databases: usize,
    /// `maxclients`
    pub maxclients: usize,
    /// `timeout`: close idle clients after this many seconds (0: never).
    pub timeout: u64,
    /// `tcp-keepalive` (seconds).
    pub tcp_keepalive: u64,
    /// `proto-max-bulk-len`
    pub proto_max_bulk_len: usize,
    /// `client-query-buffer-limit`
    pub client_query_buffer_limit: usize,
    /// `enable-debug-command`: `no`, `yes` or `local`.
    pub enable_debug_command: String,
    /// `hz`
    pub hz: u32,
    /// `hash-max-listpack-entries`
    pub hash_max_listpack_entries: usize,
    /// `hash-max-listpack-value`
    pub hash_max_listpack_value: usize,
    /// `set-max-intset-entries`
    pub set_max_intset_entries: usize,
    /// `zset-max-listpack-entries`
    pub zset_max_listpack_entries: usize,
    /// `zset-max-listpack-value`
    pub zset_max_listpack_value: usize,
    /// `list-max-listpack-size` (negative: a size class, -2 = 8 kB nodes).
    pub list_max_listpack_size: i64,
    /// `dir`, as an absolute path.
    pub dir: String,
    /// `dbfilename`
    pub dbfilename: String,
    /// `logfile` (empty: standard output).
    pub logfile: String,
    /// `loglevel`
    pub loglevel: String,
    /// `protected-mode` (stored only: this server does not refuse remote clients).
    pub protected_mode: bool,
    /// `save`: (seconds, changes) points: a BGSAVE starts when a point's changes were made
    /// and its seconds passed since the last save (see [`crate::rdb::bgsave`]). Redis's
    /// default `3600 1 300 100 60 10000` here and in the `rediscover-server` binary; none in
    /// [`Config::in_process`], the in-process [`crate::TestServer`]'s default.
    pub save: Vec<(u64, u64)>,
    /// A `save` line was read from a config file or the command line: later lines add save
    /// points instead of replacing them (Redis's rule; the first line drops the defaults).
    pub save_line_read: bool,
    /// `client-output-buffer-limit`.
    pub obuf_limits: ObufLimits,
    /// `tcp-backlog`: the listen queue's length (capped by the kernel's `somaxconn`).
    pub tcp_backlog: u32,
    /// Periods of the background jobs (not a directive; see [`Timers`]).
    pub timers: Timers,
    /// `appendonly`: AOF persistence (see [`crate::aof`]).
    pub appendonly: bool,
    /// `maxmemory` in bytes (0: no limit).
    pub maxmemory: u64,
    /// `maxmemory-policy`
    pub maxmemory_policy: String,
    /// `notify-keyspace-events`, in Redis's canonical flag order (`KEA`, `Kx`, ...).
    pub notify_keyspace_events: String,
    /// `busy-reply-threshold` / `lua-time-limit` (ms).
    pub busy_reply_threshold: i64,
    /// `slowlog-log-slower-than` (µs, -1: never log).
    pub slowlog_log_slower_than: i64,
    /// `slowlog-max-len`
    pub slowlog_max_len: u64,
    /// `latency-monitor-threshold` (ms, 0: off).
    pub latency_monitor_threshold: i64,
    /// `replicaof`: the master this node replicates from.
    pub replicaof: Option<(String, u16)>,
    /// `masterauth`
    pub masterauth: Option<Vec<u8>>,
    /// `masteruser`
    pub masteruser: Option<String>,
    /// `repl-backlog-size` in bytes.
    pub repl_backlog_size: u64,
    /// `replica-priority`
    pub replica_priority: i64,
    /// `replica-read-only`
    pub replica_read_only: bool,
    /// `replica-serve-stale-data`
    pub replica_serve_stale_data: bool,
    /// `repl-ping-replica-period` (s).
    pub repl_ping_replica_period: i64,
    /// `repl-timeout` (s).
    pub repl_timeout: i64,
    /// `min-replicas-to-write`
    pub min_replicas_to_write: i64,
    /// `min-replicas-max-lag` (s).
    pub min_replicas_max_lag: i64,
    /// `cluster-enabled`
    pub cluster_enabled: bool,
    /// `cluster-config-file`
    pub cluster_config_file: String,
    /// `cluster-node-timeout` (ms).
    pub cluster_node_timeout: i64,
    /// Whether the cron expires keys in the background (DEBUG SET-ACTIVE-EXPIRE).
    pub active_expire_enabled: bool,
    /// The config file this node was started with, for CONFIG REWRITE.
    pub config_file: Option<std::path::PathBuf>,
    /// `user` lines of the config file (the name, then its rules with `(...)` selectors
    /// merged), applied at startup; not a CONFIG GET parameter (see [`crate::acl::file`]).
    pub users: Vec<Vec<String>>,
    /// Directives accepted for compatibility and reported by CONFIG GET, keyed by name.
    pub extra: std::collections::BTreeMap<String, String>,
}

impl Config {
    /// The value of a compatibility directive kept in [`Config::extra`], or `default`.
    pub fn extra_or(&self, name: &str, default: &str) -> String {
        self.extra
            .get(name)
            .cloned()
            .unwrap_or_else(|| default.to_string())
    }

    /// Whether keyspace notifications of class `flag` (a `notify-keyspace-events` character
    /// such as `g`, `$`, `x`) are on, together with `K` or `E`.
    pub fn notifies(&self, flag: char) -> bool {
        let n = &self.notify_keyspace_events;
        let all = n.contains('A') && "g$lshzxetd".contains(flag);
        (n.contains('K') || n.contains('E')) && (all || n.contains(flag))
    }
}

impl Config {
    /// The configuration an in-process [`crate::TestServer`] starts with: Redis's defaults but
    /// no save points (`save ""`, as Redis's test suite runs its servers), so it writes no RDB
    /// file unless a test asks for one.
    pub fn in_process() -> Config {
        Config {
            save: Vec::new(),
            ..Config::default()
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            bind: vec!["127.0.0.1".into()],
            port: 6379,
            requirepass: None,
            databases: 16,
            maxclients: 10000,
            timeout: 0,
            tcp_keepalive: 300,
            proto_max_bulk_len: 512 * 1024 * 1024,
            client_query_buffer_limit: 1024 * 1024 * 1024,
            enable_debug_command: "no".into(),
            hz: 10,
            hash_max_listpack_entries: 512,
            hash_max_listpack_value: 64,
            set_max_intset_entries: 512,
            zset_max_listpack_entries: 128,
            zset_max_listpack_value: 64,
            list_max_listpack_size: -2,
            dir: std::env::current_dir()
                .map(|d| d.to_string_lossy().into_owned())
                .unwrap_or_else(|_| ".".into()),
            dbfilename: "dump.rdb".into(),
            logfile: String::new(),
            loglevel: "notice".into(),
            protected_mode: false,
            save: vec![(3600, 1), (300, 100), (60, 10000)],
            save_line_read: false,
            appendonly: false,
            obuf_limits: ObufLimits::default(),
            tcp_backlog: 511,
            timers: Timers::default(),
            maxmemory: 0,
            maxmemory_policy: "noeviction".into(),
            notify_keyspace_events: String::new(),
            busy_reply_threshold: 5000,
            slowlog_log_slower_than: 10000,
            slowlog_max_len: 128,
            latency_monitor_threshold: 0,
            replicaof: None,
            masterauth: None,
            masteruser: None,
            repl_backlog_size: 1024 * 1024,
            replica_priority: 100,
            replica_read_only: true,
            replica_serve_stale_data: true,
            repl_ping_replica_period: 10,
            repl_timeout: 60,
            min_replicas_to_write: 0,
            min_replicas_max_lag: 10,
            cluster_enabled: false,
            cluster_config_file: "nodes.conf".into(),
            cluster_node_timeout: 15000,
            active_expire_enabled: true,
            config_file: None,
            users: Vec::new(),
            extra: Default::default(),
        }
    }
}
