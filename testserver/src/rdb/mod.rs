//! RDB persistence: the snapshot format Redis writes for SAVE/BGSAVE and sends in a full sync.
//!
//! [`write`] produces RDB version 9 (`REDIS0009`) with the plain value types (string, list,
//! set, hash, zset with binary scores): the newest format Redis 5, 6 and 7 all load, so a real
//! replica of any of those versions can load what we send. [`read`] accepts what Redis 7.0
//! writes or sends (versions 1 to 10): every length and string encoding, the ziplist, listpack,
//! intset, zipmap and quicklist value encodings, aux fields, expiry times, LRU/LFU hints and
//! function libraries (skipped: this server has no functions). Streams and module values are
//! refused with a clear error, since this server has no such types.
//!
//! [`dump`] wraps one value in RDB form as a DUMP/RESTORE payload, on the same writer and
//! reader.
//!
//! Loading never leaves a half-loaded dataset: [`load`] builds fresh [`Db`]s and the caller
//! swaps them in only when the whole file (checksum included) was read.

pub mod bgsave;
pub mod dump;
mod lzf;
pub(crate) mod packed;
pub mod persist;
mod read;
mod stream;
mod write;

use std::path::Path;

use bytes::Bytes;

use crate::config::Config;
use crate::keyspace::{Db, HashLimits, ListpackLimits};

pub use write::{function_payload, write, KeyHints, SaveMeta};

/// The RDB version of the files this server writes (see the module docs: the newest that
/// Redis 5, 6 and 7 replicas all load; the values in them use only the version-9 encodings).
pub const WRITE_VERSION: u32 = 9;
/// The RDB version in a DUMP payload's footer: Redis 7.0's `RDB_VERSION`, as its DUMP writes
/// (FUNCTION DUMP's too). A Redis 7.0 RESTORE accepts any version up to this one.
pub const DUMP_VERSION: u32 = 10;
/// The newest RDB version this server reads (Redis 7.0's).
pub const MAX_READ_VERSION: u32 = 10;

/// Opcodes and value types, as in Redis's `rdb.h`.
pub(crate) mod op {
    pub const FUNCTION2: u8 = 245;
    pub const FUNCTION_PRE_GA: u8 = 246;
    pub const MODULE_AUX: u8 = 247;
    pub const IDLE: u8 = 248;
    pub const FREQ: u8 = 249;
    pub const AUX: u8 = 250;
    pub const RESIZEDB: u8 = 251;
    pub const EXPIRETIME_MS: u8 = 252;
    pub const EXPIRETIME: u8 = 253;
    pub const SELECTDB: u8 = 254;
    pub const EOF: u8 = 255;

    pub const STRING: u8 = 0;
    pub const LIST: u8 = 1;
    pub const SET: u8 = 2;
    pub const ZSET: u8 = 3;
    pub const HASH: u8 = 4;
    pub const ZSET_2: u8 = 5;
    pub const MODULE_PRE_GA: u8 = 6;
    pub const MODULE_2: u8 = 7;
    pub const HASH_ZIPMAP: u8 = 9;
    pub const LIST_ZIPLIST: u8 = 10;
    pub const SET_INTSET: u8 = 11;
    pub const ZSET_ZIPLIST: u8 = 12;
    pub const HASH_ZIPLIST: u8 = 13;
    pub const LIST_QUICKLIST: u8 = 14;
    pub const STREAM_LISTPACKS: u8 = 15;
    pub const HASH_LISTPACK: u8 = 16;
    pub const ZSET_LISTPACK: u8 = 17;
    pub const LIST_QUICKLIST_2: u8 = 18;
    pub const STREAM_LISTPACKS_2: u8 = 19;
    pub const STREAM_LISTPACKS_3: u8 = 21;

    /// Quicklist 2 node containers.
    pub const QUICKLIST_NODE_PLAIN: u64 = 1;
    pub const QUICKLIST_NODE_PACKED: u64 = 2;
}

/// Why an RDB could not be loaded (or saved).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RdbError {
    /// Reading or writing the file failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The data ends before the format says it does.
    #[error("Unexpected EOF reading RDB file (at offset {offset})")]
    Truncated {
        /// Bytes read before the end was hit.
        offset: usize,
    },
    /// The data is not a valid RDB.
    #[error("Corrupt RDB at offset {offset}: {msg}")]
    Corrupt {
        /// Where the problem was found.
        offset: usize,
        /// What is wrong.
        msg: String,
    },
    /// Valid RDB content that this server cannot hold (streams, modules, ...).
    #[error("Unsupported RDB content at offset {offset}: {msg}")]
    Unsupported {
        /// Where the content starts.
        offset: usize,
        /// What it is.
        msg: String,
    },
    /// The CRC-64 trailer does not match the data.
    #[error("Wrong RDB checksum expected: ({expected:x}) got ({computed:x})")]
    Checksum {
        /// The trailer's value.
        expected: u64,
        /// The checksum of the data.
        computed: u64,
    },
}

/// How to rebuild values while loading.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Number of databases; a SELECTDB beyond it is an error (as in Redis).
    pub databases: usize,
    /// Hash encoding limits.
    pub hash: HashLimits,
    /// Sorted set encoding limits.
    pub zset: ListpackLimits,
    /// `set-max-intset-entries`.
    pub set_max_intset_entries: usize,
    /// Keys that expired before this time (Unix ms) are not loaded, as a master does; `None`
    /// keeps them (a replica keeps expired keys until its master deletes them).
    pub drop_expired_before: Option<i64>,
    /// The key access stamps the node keeps (its `maxmemory-policy`): an RDB's IDLE or FREQ
    /// hint for a key sets the one that applies, as Redis's `objectSetLRUOrLFU`.
    pub access: crate::memory::Access,
}

impl LoadOptions {
    /// The options a node with `config` uses at `now` (Unix ms), as a master.
    pub fn from_config(config: &Config, now: i64) -> Self {
        LoadOptions {
            databases: config.databases.max(1),
            hash: HashLimits::from_config(config),
            zset: ListpackLimits {
                entries: config.zset_max_listpack_entries,
                value: config.zset_max_listpack_value,
            },
            set_max_intset_entries: config.set_max_intset_entries,
            drop_expired_before: Some(now),
            access: crate::memory::Settings::from_config(config).access,
        }
    }
}

impl Default for LoadOptions {
    /// Redis's defaults: 16 databases, default encoding limits, expired keys kept.
    fn default() -> Self {
        LoadOptions {
            drop_expired_before: None,
            ..LoadOptions::from_config(&Config::default(), 0)
        }
    }
}

/// A loaded RDB.
#[derive(Debug)]
pub struct Snapshot {
    /// The databases, as many as [`LoadOptions::databases`].
    pub dbs: Vec<Db>,
    /// Aux fields in file order (`redis-ver`, `repl-id`, `repl-offset`, ...).
    pub aux: Vec<(Bytes, Bytes)>,
    /// The file's RDB version.
    pub version: u32,
    /// Keys loaded (Redis's `rdb_last_load_keys_loaded`).
    pub keys_loaded: u64,
    /// Keys dropped because they had expired.
    pub keys_expired: u64,
    /// Function libraries' code (RDB_OPCODE_FUNCTION2), in file order.
    pub functions: Vec<Bytes>,
    /// Bytes the RDB took, trailer included (an old-style AOF goes on after them).
    pub consumed: usize,
}

impl Snapshot {
    /// The value of aux field `name`.
    pub fn aux(&self, name: &str) -> Option<&Bytes> {
        self.aux
            .iter()
            .find(|(k, _)| &k[..] == name.as_bytes())
            .map(|(_, v)| v)
    }
}

/// Parses a whole RDB held in memory.
pub fn load(data: &[u8], options: &LoadOptions) -> Result<Snapshot, RdbError> {
    read::load(data, options)
}

/// Reads and parses the RDB file at `path`.
pub fn load_file(path: &Path, options: &LoadOptions) -> Result<Snapshot, RdbError> {
    let data = std::fs::read(path)?;
    load(&data, options)
}

/// CRC-64/Jones as Redis computes it (reflected, no final xor): the RDB trailer.
pub fn crc64(data: &[u8]) -> u64 {
    CRC64.checksum(data)
}

pub(crate) const CRC64: crc::Crc<u64> = crc::Crc::<u64>::new(&crc::CRC_64_REDIS);

/// The RDB side of a node's persistence state (Redis's `lastbgsave_status`, `stat_rdb_saves`,
/// `rdb_bgsave_scheduled`, the RDB "child"...), for the save points, BGSAVE and INFO
/// persistence. `dirty` and `last_save` live in [`crate::node::NodeState`].
#[derive(Debug, Default)]
pub struct SaveStatus {
    /// The last BGSAVE failed (`rdb_last_bgsave_status:err`); a good save (SAVE too) clears
    /// it. With save points and `stop-writes-on-bgsave-error yes` writes get `-MISCONF`.
    pub last_bgsave_failed: bool,
    /// Duration of the last BGSAVE in seconds (`rdb_last_bgsave_time_sec`), -1 before any.
    pub last_bgsave_secs: Option<i64>,
    /// Saves started, SAVE and BGSAVE (`rdb_saves`).
    pub saves: u64,
    /// The BGSAVE running on its thread (Redis's RDB child), if one is.
    pub(crate) child: Option<bgsave::Child>,
    /// A BGSAVE waits for the running AOF rewrite (`rdb_bgsave_scheduled`).
    pub bgsave_scheduled: bool,
    /// When the last BGSAVE started (`lastbgsave_try`, Unix seconds): a failed one is retried
    /// by the save points only [`bgsave::RETRY_DELAY`] seconds later.
    pub last_bgsave_try: i64,
    /// `dirty` when the running BGSAVE took its snapshot (`dirty_before_bgsave`).
    pub dirty_before_bgsave: u64,
    /// Keys the last RDB load dropped as expired (`rdb_last_load_keys_expired`).
    pub last_load_keys_expired: u64,
    /// Keys the last RDB load added (`rdb_last_load_keys_loaded`).
    pub last_load_keys_loaded: u64,
}

impl SaveStatus {
    /// `rdb_last_bgsave_status`: `ok` or `err`.
    pub fn bgsave_status(&self) -> &'static str {
        if self.last_bgsave_failed {
            "err"
        } else {
            "ok"
        }
    }

    /// `rdb_last_bgsave_time_sec`: -1 before the first BGSAVE.
    pub fn bgsave_secs(&self) -> i64 {
        self.last_bgsave_secs.unwrap_or(-1)
    }

    /// Whether a BGSAVE runs (`rdb_bgsave_in_progress`).
    pub fn bgsave_in_progress(&self) -> bool {
        self.child.is_some()
    }

    /// `rdb_current_bgsave_time_sec`: seconds the running BGSAVE has taken, -1 if none runs.
    pub fn current_bgsave_secs(&self, now_secs: i64) -> i64 {
        self.child.as_ref().map_or(-1, |c| now_secs - c.started)
    }
}

/// The library codes of a FUNCTION RESTORE payload, after checking its version and checksum.
/// Errors are Redis's texts (without the `ERR ` code).
pub fn parse_function_payload(data: &[u8]) -> Result<Vec<Bytes>, String> {
    if dump::verify(data).is_err() {
        return Err("DUMP payload version or checksum are wrong".into());
    }
    read::function_codes(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc64_check_value() {
        assert_eq!(crc64(b"123456789"), 0xe9c6_d914_c4b8_d9ca);
    }
}
