//! Server configuration: typed fields the server reads on its hot paths.
//!
//! The directive table that maps `redis.conf` names to these fields (CONFIG GET/SET, config files,
//! `--directive value` arguments) lives in `config_table.rs`.

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
    /// `dir`
    pub dir: String,
    /// `dbfilename`
    pub dbfilename: String,
    /// `logfile` (empty: standard output).
    pub logfile: String,
    /// `loglevel`
    pub loglevel: String,
    /// `protected-mode`
    pub protected_mode: bool,
    /// The config file this node was started with, for CONFIG REWRITE.
    pub config_file: Option<std::path::PathBuf>,
    /// Directives accepted for compatibility and reported by CONFIG GET, keyed by name.
    pub extra: std::collections::BTreeMap<String, String>,
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
            proto_max_bulk_len: 512 * 1024 * 1024,
            client_query_buffer_limit: 1024 * 1024 * 1024,
            enable_debug_command: "no".into(),
            hz: 10,
            hash_max_listpack_entries: 128,
            hash_max_listpack_value: 64,
            set_max_intset_entries: 512,
            zset_max_listpack_entries: 128,
            zset_max_listpack_value: 64,
            dir: ".".into(),
            dbfilename: "dump.rdb".into(),
            logfile: String::new(),
            loglevel: "notice".into(),
            protected_mode: false,
            config_file: None,
            extra: Default::default(),
        }
    }
}
