//! The directive table: `redis.conf` names <-> [`Config`] fields, for config files,
//! `--directive value` arguments, CONFIG GET and CONFIG SET.
//!
//! Each [`Directive`] knows how Redis 7.0 validates its value (yes/no, bounded integer, memory
//! size, enumeration...) and with which error text, and where the value lives: a typed field of
//! [`Config`] for what the server reads, or [`Config::extra`] for knobs that are accepted and
//! reported but change nothing here (persistence and logging details). Directives Redis knows but
//! this server cannot honour (`daemonize yes`, `tls-port` other than 0, `unixsocket`...) are
//! refused with a message saying so; names Redis does not know are refused as Redis refuses them.

use crate::config::Config;

mod special;

pub(crate) use special::{format_percentile, percentiles};

use special::*;

/// How a directive's value is validated and normalised, with Redis's error texts.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// `yes` / `no`.
    Bool,
    /// A plain integer within bounds.
    Int(i64, i64),
    /// A memory size (`1gb`, `100mb`, `1024`) within bounds.
    Memory(u64, u64),
    /// One of a fixed set of words.
    Enum(&'static [&'static str]),
    /// Any text; the setter validates it.
    Text,
}

/// Where a directive's value lives.
#[derive(Clone, Copy)]
enum Store {
    /// A typed field: getter and setter (the setter gets the normalised value).
    Field(
        fn(&Config) -> String,
        fn(&mut Config, &str) -> Result<(), String>,
    ),
    /// [`Config::extra`], with this default.
    Extra(&'static str),
}

/// One configuration directive.
pub struct Directive {
    /// Canonical name.
    pub name: &'static str,
    /// The older name Redis still accepts (`slaveof` for `replicaof`).
    pub alias: Option<&'static str>,
    /// Validation.
    pub kind: Kind,
    /// Whether CONFIG SET may change it.
    pub mutable: bool,
    /// Whether the value is several words (`save`, `bind`, `replicaof`).
    pub multi_arg: bool,
    /// Whether CONFIG SET needs `enable-protected-configs` (`dir`, `dbfilename`).
    pub protected: bool,
    store: Store,
}

impl std::fmt::Debug for Directive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Directive")
            .field("name", &self.name)
            .finish()
    }
}

impl Directive {
    const fn new(name: &'static str, kind: Kind, store: Store) -> Self {
        Directive {
            name,
            alias: None,
            kind,
            mutable: true,
            multi_arg: false,
            protected: false,
            store,
        }
    }

    const fn alias(mut self, alias: &'static str) -> Self {
        self.alias = Some(alias);
        self
    }

    const fn immutable(mut self) -> Self {
        self.mutable = false;
        self
    }

    const fn protected(mut self) -> Self {
        self.protected = true;
        self
    }

    const fn multi(mut self) -> Self {
        self.multi_arg = true;
        self
    }

    /// The current value as CONFIG GET shows it.
    pub fn get(&self, config: &Config) -> String {
        match self.store {
            Store::Field(get, _) => get(config),
            Store::Extra(default) => config
                .extra
                .get(self.name)
                .cloned()
                .unwrap_or_else(|| default.to_string()),
        }
    }

    /// Validates `value` (the words of a multi-word value joined by spaces) and stores it.
    /// Errors are Redis's texts (`argument must be 'yes' or 'no'`).
    pub fn set(&self, config: &mut Config, value: &str) -> Result<(), String> {
        let value = normalise(self.kind, value)?;
        match self.store {
            Store::Field(_, set) => set(config, &value),
            Store::Extra(_) => {
                config.extra.insert(self.name.to_string(), value);
                Ok(())
            }
        }
    }
}

fn normalise(kind: Kind, value: &str) -> Result<String, String> {
    match kind {
        Kind::Bool => match value.to_ascii_lowercase().as_str() {
            "yes" => Ok("yes".into()),
            "no" => Ok("no".into()),
            _ => Err("argument must be 'yes' or 'no'".into()),
        },
        Kind::Int(min, max) => {
            let n = rediscover::resp::parse_integer(value.as_bytes())
                .ok_or("argument couldn't be parsed into an integer")?;
            if n < min || n > max {
                return Err(format!(
                    "argument must be between {min} and {max} inclusive"
                ));
            }
            Ok(n.to_string())
        }
        Kind::Memory(min, max) => {
            let n = parse_memory(value).ok_or("argument must be a memory value")?;
            if n < min || n > max {
                return Err(format!(
                    "argument must be between {min} and {max} inclusive"
                ));
            }
            Ok(n.to_string())
        }
        Kind::Enum(words) => words
            .iter()
            .find(|w| w.eq_ignore_ascii_case(value))
            .map(|w| w.to_string())
            .ok_or_else(|| {
                format!(
                    "argument(s) must be one of the following: {}",
                    words.join(", ")
                )
            }),
        Kind::Text => Ok(value.to_string()),
    }
}

/// Redis's `memtoull`: digits with an optional unit (`b`, `k`, `kb`, `m`, `mb`, `g`, `gb`;
/// `k` = 1000, `kb` = 1024), case-insensitive.
pub fn parse_memory(s: &str) -> Option<u64> {
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let mul: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    // strtoull accepts an empty digit string as 0 ("mb" alone is 0 bytes in Redis too).
    let n: u64 = if digits.is_empty() {
        0
    } else {
        digits.parse().ok()?
    };
    n.checked_mul(mul)
}

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.to_string()
}

fn num<T: std::str::FromStr>(v: &str) -> Result<T, String> {
    v.parse()
        .map_err(|_| "argument must be between 0 and the largest value this field holds".into())
}

/// A typed field holding a number, a bool or a string, with its getter and setter.
macro_rules! field {
    (num $f:ident) => {
        Store::Field(
            |c| c.$f.to_string(),
            |c, v| {
                c.$f = num(v)?;
                Ok(())
            },
        )
    };
    (bool $f:ident) => {
        Store::Field(
            |c| yes_no(c.$f),
            |c, v| {
                c.$f = v == "yes";
                Ok(())
            },
        )
    };
    (text $f:ident) => {
        Store::Field(
            |c| c.$f.clone(),
            |c, v| {
                c.$f = v.to_string();
                Ok(())
            },
        )
    };
    (bytes $f:ident) => {
        Store::Field(
            |c| String::from_utf8_lossy(c.$f.as_deref().unwrap_or_default()).into_owned(),
            |c, v| {
                c.$f = (!v.is_empty()).then(|| v.as_bytes().to_vec());
                Ok(())
            },
        )
    };
}

const INT_MAX: i64 = i32::MAX as i64;
const LONG_MAX: i64 = i64::MAX;
const YES_NO_LOCAL: &[&str] = &["no", "yes", "local"];
const SYSLOG: &[&str] = &[
    "user", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
];
pub(crate) const DEFAULT_OBUF: &str =
    "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60";
const LOGLEVELS: &[&str] = &["debug", "verbose", "notice", "warning"];
const POLICIES: &[&str] = &[
    "volatile-lru",
    "volatile-lfu",
    "volatile-random",
    "volatile-ttl",
    "allkeys-lru",
    "allkeys-lfu",
    "allkeys-random",
    "noeviction",
];

use Kind::{Bool, Enum, Int, Memory, Text};

type D = Directive;

/// Every directive this server knows, in no particular order.
pub static DIRECTIVES: &[Directive] = &[
    // Network and clients.
    D::new("bind", Text, Store::Field(|c| c.bind.join(" "), set_bind)).multi(),
    D::new("port", Int(0, 65535), field!(num port)),
    D::new(
        "tls-port",
        Int(0, 65535),
        Store::Field(|_| "0".into(), set_tls_port),
    ),
    D::new(
        "unixsocket",
        Text,
        Store::Field(|_| String::new(), set_unixsocket),
    )
    .immutable(),
    D::new("unixsocketperm", Text, Store::Extra("0")).immutable(),
    D::new("protected-mode", Bool, field!(bool protected_mode)),
    D::new("tcp-backlog", Int(0, INT_MAX), field!(num tcp_backlog)).immutable(),
    D::new("tcp-keepalive", Int(0, INT_MAX), field!(num tcp_keepalive)),
    D::new("timeout", Int(0, INT_MAX), field!(num timeout)),
    D::new(
        "maxclients",
        Int(1, u32::MAX as i64),
        field!(num maxclients),
    ),
    D::new("requirepass", Text, field!(bytes requirepass)),
    D::new("databases", Int(1, INT_MAX), field!(num databases)).immutable(),
    D::new(
        "hz",
        Int(0, INT_MAX),
        Store::Field(|c| c.hz.to_string(), set_hz),
    ),
    D::new("dynamic-hz", Bool, Store::Extra("yes")),
    D::new(
        "proto-max-bulk-len",
        Memory(1024 * 1024, LONG_MAX as u64),
        field!(num proto_max_bulk_len),
    ),
    D::new(
        "client-query-buffer-limit",
        Memory(1024 * 1024, LONG_MAX as u64),
        field!(num client_query_buffer_limit),
    ),
    D::new(
        "enable-debug-command",
        Enum(YES_NO_LOCAL),
        field!(text enable_debug_command),
    )
    .immutable(),
    D::new(
        "enable-protected-configs",
        Enum(YES_NO_LOCAL),
        Store::Extra("no"),
    )
    .immutable(),
    D::new(
        "enable-module-command",
        Enum(YES_NO_LOCAL),
        Store::Extra("no"),
    )
    .immutable(),
    // Process, persistence and logging: stored and reported, no effect here.
    D::new(
        "daemonize",
        Bool,
        Store::Field(|_| "no".into(), set_daemonize),
    )
    .immutable(),
    D::new(
        "supervised",
        Text,
        Store::Field(|_| "no".into(), set_supervised),
    )
    .immutable(),
    D::new("pidfile", Text, Store::Extra("")).immutable(),
    D::new("dir", Text, Store::Field(|c| c.dir.clone(), set_dir)).protected(),
    D::new("dbfilename", Text, field!(text dbfilename)).protected(),
    D::new("logfile", Text, field!(text logfile)).immutable(),
    D::new("loglevel", Enum(LOGLEVELS), field!(text loglevel)),
    D::new("syslog-enabled", Bool, Store::Extra("no")).immutable(),
    D::new("always-show-logo", Bool, Store::Extra("no")).immutable(),
    D::new("save", Text, Store::Field(get_save, set_save)).multi(),
    D::new("appendonly", Bool, field!(bool appendonly)),
    D::new(
        "appendfsync",
        Enum(&["everysec", "always", "no"]),
        Store::Extra("everysec"),
    ),
    D::new(
        "appendfilename",
        Text,
        Store::Field(
            |c| c.extra_or("appendfilename", "appendonly.aof"),
            set_appendfilename,
        ),
    )
    .immutable(),
    D::new(
        "appenddirname",
        Text,
        Store::Field(
            |c| c.extra_or("appenddirname", "appendonlydir"),
            set_appenddirname,
        ),
    )
    .immutable(),
    D::new("rdbcompression", Bool, Store::Extra("yes")),
    D::new("rdbchecksum", Bool, Store::Extra("yes")).immutable(),
    D::new("stop-writes-on-bgsave-error", Bool, Store::Extra("yes")),
    D::new("crash-log-enabled", Bool, Store::Extra("yes")),
    D::new("activerehashing", Bool, Store::Extra("yes")),
    D::new("latency-tracking", Bool, Store::Extra("yes")),
    D::new(
        "latency-tracking-info-percentiles",
        Text,
        Store::Field(get_percentiles, set_percentiles),
    )
    .multi(),
    D::new(
        "tracking-table-max-keys",
        Int(0, LONG_MAX),
        Store::Extra("1000000"),
    ),
    D::new("io-threads", Int(1, 128), Store::Extra("1")).immutable(),
    D::new("io-threads-do-reads", Bool, Store::Extra("no")).immutable(),
    D::new("syslog-ident", Text, Store::Extra("redis")).immutable(),
    D::new("syslog-facility", Enum(SYSLOG), Store::Extra("local0")).immutable(),
    D::new("set-proc-title", Bool, Store::Extra("yes")).immutable(),
    D::new(
        "proc-title-template",
        Text,
        Store::Extra("{title} {listen-addr} {server-mode}"),
    ),
    D::new("disable-thp", Bool, Store::Extra("yes")).immutable(),
    D::new("jemalloc-bg-thread", Bool, Store::Extra("yes")),
    D::new("activedefrag", Bool, Store::Extra("no")),
    D::new("active-expire-effort", Int(1, 10), Store::Extra("1")),
    D::new("shutdown-timeout", Int(0, INT_MAX), Store::Extra("10")),
    D::new(
        "shutdown-on-sigint",
        Text,
        Store::Field(get_shutdown_on_sigint, set_shutdown_on_sigint),
    )
    .multi(),
    D::new(
        "shutdown-on-sigterm",
        Text,
        Store::Field(get_shutdown_on_sigterm, set_shutdown_on_sigterm),
    )
    .multi(),
    D::new(
        "oom-score-adj",
        Enum(&["no", "yes", "relative", "absolute"]),
        Store::Extra("no"),
    ),
    D::new("oom-score-adj-values", Text, Store::Extra("0 200 800")).multi(),
    D::new("rdb-del-sync-files", Bool, Store::Extra("no")),
    D::new("rdb-save-incremental-fsync", Bool, Store::Extra("yes")),
    D::new("aof-rewrite-incremental-fsync", Bool, Store::Extra("yes")),
    D::new("no-appendfsync-on-rewrite", Bool, Store::Extra("no")),
    D::new("aof-load-truncated", Bool, Store::Extra("yes")),
    D::new("aof-use-rdb-preamble", Bool, Store::Extra("yes")),
    D::new("aof-timestamp-enabled", Bool, Store::Extra("no")),
    D::new(
        "auto-aof-rewrite-percentage",
        Int(0, INT_MAX),
        Store::Extra("100"),
    ),
    D::new(
        "auto-aof-rewrite-min-size",
        Memory(0, LONG_MAX as u64),
        Store::Extra("67108864"),
    ),
    D::new(
        "sanitize-dump-payload",
        Enum(&["no", "yes", "clients"]),
        Store::Extra("no"),
    ),
    D::new("lfu-log-factor", Int(0, INT_MAX), Store::Extra("10")),
    D::new("lfu-decay-time", Int(0, INT_MAX), Store::Extra("1")),
    D::new(
        "hll-sparse-max-bytes",
        Memory(0, LONG_MAX as u64),
        Store::Extra("3000"),
    ),
    D::new(
        "stream-node-max-bytes",
        Memory(0, LONG_MAX as u64),
        Store::Extra("4096"),
    ),
    D::new(
        "stream-node-max-entries",
        Int(0, LONG_MAX),
        Store::Extra("100"),
    ),
    D::new(
        "client-output-buffer-limit",
        Text,
        Store::Field(
            |c| c.extra_or("client-output-buffer-limit", DEFAULT_OBUF),
            set_obuf,
        ),
    )
    .multi(),
    // Memory.
    D::new("maxmemory", Memory(0, u64::MAX), field!(num maxmemory)),
    D::new(
        "maxmemory-policy",
        Enum(POLICIES),
        field!(text maxmemory_policy),
    ),
    D::new("maxmemory-samples", Int(1, INT_MAX), Store::Extra("5")),
    D::new("lazyfree-lazy-eviction", Bool, Store::Extra("no")),
    D::new("lazyfree-lazy-expire", Bool, Store::Extra("no")),
    D::new("lazyfree-lazy-server-del", Bool, Store::Extra("no")),
    D::new("lazyfree-lazy-user-del", Bool, Store::Extra("no")),
    D::new("lazyfree-lazy-user-flush", Bool, Store::Extra("no")),
    // Encodings.
    D::new(
        "hash-max-listpack-entries",
        Int(0, LONG_MAX),
        field!(num hash_max_listpack_entries),
    )
    .alias("hash-max-ziplist-entries"),
    D::new(
        "hash-max-listpack-value",
        Memory(0, LONG_MAX as u64),
        field!(num hash_max_listpack_value),
    )
    .alias("hash-max-ziplist-value"),
    D::new(
        "set-max-intset-entries",
        Int(0, LONG_MAX),
        field!(num set_max_intset_entries),
    ),
    D::new(
        "zset-max-listpack-entries",
        Int(0, LONG_MAX),
        field!(num zset_max_listpack_entries),
    )
    .alias("zset-max-ziplist-entries"),
    D::new(
        "zset-max-listpack-value",
        Memory(0, LONG_MAX as u64),
        field!(num zset_max_listpack_value),
    )
    .alias("zset-max-ziplist-value"),
    D::new(
        "list-max-listpack-size",
        Int(i32::MIN as i64, INT_MAX),
        field!(num list_max_listpack_size),
    )
    .alias("list-max-ziplist-size"),
    D::new("list-compress-depth", Int(0, INT_MAX), Store::Extra("0")),
    // Events, scripts, diagnostics.
    D::new(
        "notify-keyspace-events",
        Text,
        Store::Field(get_notify, set_notify),
    ),
    D::new(
        "busy-reply-threshold",
        Int(0, LONG_MAX),
        field!(num busy_reply_threshold),
    )
    .alias("lua-time-limit"),
    D::new(
        "slowlog-log-slower-than",
        Int(-1, LONG_MAX),
        field!(num slowlog_log_slower_than),
    ),
    D::new(
        "slowlog-max-len",
        Int(0, LONG_MAX),
        field!(num slowlog_max_len),
    ),
    D::new(
        "latency-monitor-threshold",
        Int(0, LONG_MAX),
        field!(num latency_monitor_threshold),
    ),
    D::new("acllog-max-len", Int(0, LONG_MAX), Store::Extra("128")),
    // Read at startup and by ACL LOAD / ACL SAVE (`crate::acl::file`).
    D::new("aclfile", Text, Store::Extra("")).immutable(),
    // Replication.
    D::new(
        "replicaof",
        Text,
        Store::Field(get_replicaof, set_replicaof),
    )
    .alias("slaveof")
    .immutable()
    .multi(),
    D::new("masterauth", Text, field!(bytes masterauth)),
    D::new(
        "masteruser",
        Text,
        Store::Field(
            |c| c.masteruser.clone().unwrap_or_default(),
            |c, v| {
                c.masteruser = (!v.is_empty()).then(|| v.to_string());
                Ok(())
            },
        ),
    ),
    D::new(
        "repl-backlog-size",
        Memory(1, LONG_MAX as u64),
        field!(num repl_backlog_size),
    ),
    D::new("repl-backlog-ttl", Int(0, LONG_MAX), Store::Extra("3600")),
    D::new(
        "replica-priority",
        Int(0, INT_MAX),
        field!(num replica_priority),
    )
    .alias("slave-priority"),
    D::new("replica-read-only", Bool, field!(bool replica_read_only)).alias("slave-read-only"),
    D::new(
        "replica-serve-stale-data",
        Bool,
        field!(bool replica_serve_stale_data),
    )
    .alias("slave-serve-stale-data"),
    D::new("replica-announced", Bool, Store::Extra("yes")),
    D::new("replica-announce-ip", Text, Store::Extra("")).alias("slave-announce-ip"),
    D::new("replica-announce-port", Int(0, 65535), Store::Extra("0")).alias("slave-announce-port"),
    D::new("replica-lazy-flush", Bool, Store::Extra("no")).alias("slave-lazy-flush"),
    D::new("replica-ignore-maxmemory", Bool, Store::Extra("yes")).alias("slave-ignore-maxmemory"),
    D::new(
        "repl-ping-replica-period",
        Int(1, INT_MAX),
        field!(num repl_ping_replica_period),
    )
    .alias("repl-ping-slave-period"),
    D::new("repl-timeout", Int(1, INT_MAX), field!(num repl_timeout)),
    D::new("repl-diskless-sync", Bool, Store::Extra("yes")),
    D::new(
        "repl-diskless-sync-delay",
        Int(0, INT_MAX),
        Store::Extra("5"),
    ),
    D::new(
        "repl-diskless-sync-max-replicas",
        Int(0, INT_MAX),
        Store::Extra("0"),
    ),
    D::new("repl-disable-tcp-nodelay", Bool, Store::Extra("no")),
    D::new(
        "repl-diskless-load",
        Enum(&["disabled", "on-empty-db", "swapdb"]),
        Store::Extra("disabled"),
    ),
    D::new(
        "min-replicas-to-write",
        Int(0, INT_MAX),
        field!(num min_replicas_to_write),
    )
    .alias("min-slaves-to-write"),
    D::new(
        "min-replicas-max-lag",
        Int(0, INT_MAX),
        field!(num min_replicas_max_lag),
    )
    .alias("min-slaves-max-lag"),
    // Cluster.
    D::new("cluster-enabled", Bool, field!(bool cluster_enabled)).immutable(),
    D::new(
        "cluster-config-file",
        Text,
        field!(text cluster_config_file),
    )
    .immutable(),
    D::new(
        "cluster-node-timeout",
        Int(0, LONG_MAX),
        field!(num cluster_node_timeout),
    ),
    D::new("cluster-port", Int(0, 65535), Store::Extra("0")).immutable(),
    D::new("cluster-announce-ip", Text, Store::Extra("")),
    D::new("cluster-announce-port", Int(0, 65535), Store::Extra("0")),
    D::new(
        "cluster-announce-bus-port",
        Int(0, 65535),
        Store::Extra("0"),
    ),
    D::new("cluster-require-full-coverage", Bool, Store::Extra("yes")),
    D::new("cluster-allow-reads-when-down", Bool, Store::Extra("no")),
    D::new("cluster-allow-replica-migration", Bool, Store::Extra("yes")),
    D::new(
        "cluster-migration-barrier",
        Int(0, INT_MAX),
        Store::Extra("1"),
    ),
    D::new(
        "cluster-replica-validity-factor",
        Int(0, INT_MAX),
        Store::Extra("10"),
    )
    .alias("cluster-slave-validity-factor"),
    D::new("cluster-replica-no-failover", Bool, Store::Extra("no"))
        .alias("cluster-slave-no-failover"),
    D::new(
        "cluster-allow-pubsubshard-when-down",
        Bool,
        Store::Extra("yes"),
    ),
    D::new(
        "cluster-announce-hostname",
        Text,
        Store::Field(
            |c| c.extra_or("cluster-announce-hostname", ""),
            set_announce_hostname,
        ),
    ),
    D::new(
        "cluster-preferred-endpoint-type",
        Enum(&["ip", "hostname", "unknown-endpoint"]),
        Store::Extra("ip"),
    ),
    D::new(
        "cluster-announce-tls-port",
        Int(0, 65535),
        Store::Extra("0"),
    ),
    D::new(
        "cluster-link-sendbuf-limit",
        Memory(0, u64::MAX),
        Store::Extra("0"),
    ),
    // A rediscover extension, not a Redis directive: divides every background period
    // (replication cron, sentinel timers) by this factor, so a separate process (a
    // `rediscover-server --sentinel` started by a harness) can fail over as fast as an
    // in-process node. See `config::Timers::faster`.
    D::new(
        "rediscover-timers-factor",
        Int(1, 1000),
        Store::Field(get_timers_factor, set_timers_factor),
    ),
];

/// Looks a directive up by name or alias, case-insensitively.
pub fn lookup(name: &str) -> Option<&'static Directive> {
    DIRECTIVES.iter().find(|d| {
        d.name.eq_ignore_ascii_case(name) || d.alias.is_some_and(|a| a.eq_ignore_ascii_case(name))
    })
}

/// Applies one directive (`name` lower or upper case, `args` its values) to `config`.
///
/// Errors carry the text Redis would print for a bad directive.
pub fn apply_directive(config: &mut Config, name: &str, args: &[String]) -> Result<(), String> {
    // `user <name> <rules...>`: checked now, applied at startup (Redis's
    // `ACLAppendUserForLoading`); several lines are allowed.
    if name.eq_ignore_ascii_case("user") {
        if args.is_empty() {
            return Err("Bad directive or wrong number of arguments".into());
        }
        let line = crate::acl::file::check_user_directive(&config.users, args)?;
        config.users.push(line);
        return Ok(());
    }
    let Some(d) = lookup(name) else {
        return Err(unsupported(name));
    };
    if args.is_empty() || (!d.multi_arg && args.len() != 1) {
        return Err("wrong number of arguments".into());
    }
    if d.name == "save" && config.save_line_read {
        let before = std::mem::take(&mut config.save);
        let result = d.set(config, &args.join(" "));
        let added = std::mem::replace(&mut config.save, before);
        result?;
        config.save.extend(added);
        return Ok(());
    }
    d.set(config, &args.join(" "))?;
    if d.name == "save" {
        config.save_line_read = true;
    }
    Ok(())
}

/// The error for a directive this server does not know: Redis's own text, plus which server
/// refused it, so a config written for a full Redis fails loudly rather than silently.
fn unsupported(name: &str) -> String {
    format!(
        "Bad directive or wrong number of arguments ('{name}' is not supported by the rediscover test server)"
    )
}

/// Splits a `redis.conf` text into (directive, arguments) lines, honouring quotes and comments.
pub fn parse_config_file(text: &str) -> Result<Vec<(String, Vec<String>)>, String> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let args = rediscover::resp::split_args(line.as_bytes())
            .ok_or_else(|| format!("line {}: unbalanced quotes in configuration line", n + 1))?;
        let mut args = args
            .into_iter()
            .map(|a| String::from_utf8_lossy(&a).into_owned());
        if let Some(name) = args.next() {
            out.push((name.to_ascii_lowercase(), args.collect()));
        }
    }
    Ok(out)
}

/// The text CONFIG REWRITE writes: every directive whose value differs from the default, in
/// table order (Redis keeps the original file's layout; we regenerate it).
pub fn render(config: &Config) -> String {
    let default = Config::default();
    let mut out = String::from("# Generated by CONFIG REWRITE\n");
    for d in DIRECTIVES {
        let value = d.get(config);
        if value == d.get(&default) && d.name != "port" {
            continue;
        }
        if d.multi_arg {
            // An empty list is written as `""` so the default does not come back
            // (`save ""`, `latency-tracking-info-percentiles ""`).
            if value.is_empty() {
                out.push_str(&format!("{} \"\"\n", d.name));
                continue;
            }
            out.push_str(&format!("{} {}\n", d.name, value));
        } else {
            out.push_str(&format!("{} {}\n", d.name, quote(&value)));
        }
    }
    out
}

fn quote(v: &str) -> String {
    if !v.is_empty()
        && v.bytes()
            .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\'')
    {
        return v.to_string();
    }
    let mut s = String::from("\"");
    for c in v.chars() {
        match c {
            '"' | '\\' => {
                s.push('\\');
                s.push(c);
            }
            '\n' => s.push_str("\\n"),
            '\r' => s.push_str("\\r"),
            '\t' => s.push_str("\\t"),
            c => s.push(c),
        }
    }
    s.push('"');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_units() {
        assert_eq!(parse_memory("1kb"), Some(1024));
        assert_eq!(parse_memory("1K"), Some(1000));
        assert_eq!(parse_memory("2GB"), Some(2 << 30));
        assert_eq!(parse_memory("-1"), None);
        assert_eq!(parse_memory("1x"), None);
    }

    #[test]
    fn notify_flags_round_trip() {
        assert_eq!(canonical_notify("KEA").as_deref(), Some("AKE"));
        assert_eq!(canonical_notify("Egx").as_deref(), Some("gxE"));
        assert_eq!(canonical_notify("?"), None);
    }

    #[test]
    fn directives_apply_and_refuse() {
        let mut c = Config::default();
        apply_directive(&mut c, "maxmemory", &["1mb".into()]).unwrap();
        assert_eq!(c.maxmemory, 1 << 20);
        apply_directive(&mut c, "SLAVEOF", &["10.0.0.1".into(), "6380".into()]).unwrap();
        assert_eq!(c.replicaof, Some(("10.0.0.1".into(), 6380)));
        apply_directive(&mut c, "save", &["".into()]).unwrap();
        assert!(c.save.is_empty());
        // Later save lines add points, as in a redis.conf with several of them.
        apply_directive(&mut c, "save", &["900".into(), "1".into()]).unwrap();
        apply_directive(&mut c, "save", &["60".into(), "100".into()]).unwrap();
        assert_eq!(c.save, vec![(900, 1), (60, 100)]);
        assert!(apply_directive(&mut c, "save", &["x".into(), "1".into()]).is_err());
        assert_eq!(c.save, vec![(900, 1), (60, 100)]);
        assert!(apply_directive(&mut c, "daemonize", &["yes".into()]).is_err());
        apply_directive(&mut c, "daemonize", &["no".into()]).unwrap();
        assert!(apply_directive(&mut c, "nosuch", &["1".into()]).is_err());
        assert!(apply_directive(&mut c, "port", &["1".into(), "2".into()]).is_err());
    }
}
