//! A node's RDB file: SAVE (BGSAVE is [`super::bgsave`]), and installing a loaded snapshot
//! (DEBUG RELOAD, startup).

use std::path::PathBuf;

use bytes::Bytes;

use crate::config::Config;
use crate::node::NodeState;

use super::write::SaveMeta;
use super::{RdbError, Snapshot};

/// The node's RDB file: `dir/dbfilename`.
pub fn rdb_path(config: &Config) -> PathBuf {
    PathBuf::from(&config.dir).join(&config.dbfilename)
}

/// Writes the node's dataset to its RDB file atomically, under the lock (Redis's `rdbSave`:
/// SAVE, SHUTDOWN, FLUSHALL, DEBUG RELOAD). On success the change counter is reset, the save
/// time recorded and a failed BGSAVE's status cleared; a failure is logged as Redis logs it
/// and changes nothing else.
pub fn save(st: &mut NodeState, now_ms: i64) -> Result<(), String> {
    let data = encode(st, now_ms, replication_aux(st));
    let path = rdb_path(&st.config);
    let incremental = st.config.extra_or("rdb-save-incremental-fsync", "yes") == "yes";
    if let Err(e) = super::bgsave::write_file(&path, &data, incremental) {
        st.log(crate::logging::Level::Warning, &e);
        return Err(e);
    }
    st.log(crate::logging::Level::Notice, "DB saved on disk");
    st.dirty = 0;
    st.last_save = now_ms / 1000;
    st.persistence.last_bgsave_failed = false;
    Ok(())
}

/// The replication fields Redis puts in a saved RDB when it has a history to continue
/// (`rdbPopulateSaveInfo`): a master with a backlog, or a replica connected to its master. A
/// replica restarted from that file can then PSYNC instead of resyncing in full.
pub fn replication_aux(st: &NodeState) -> Vec<(String, String)> {
    let repl = &st.repl;
    let stream_db = match &repl.master {
        Some(m) if st.link_up() => m.db,
        Some(_) => return Vec::new(),
        None if repl.backlog.is_some() => repl.seldb.max(0) as usize,
        None => return Vec::new(),
    };
    vec![
        ("repl-stream-db".to_string(), stream_db.to_string()),
        ("repl-id".to_string(), repl.replid.clone()),
        ("repl-offset".to_string(), repl.offset().to_string()),
    ]
}

/// The node's dataset as an RDB file (what SAVE writes and a full sync sends). `extra_aux`
/// goes after `used-mem`, where Redis puts `repl-stream-db`, `repl-id` and `repl-offset`.
pub fn encode(st: &NodeState, now_ms: i64, extra_aux: Vec<(String, String)>) -> Vec<u8> {
    super::write(&st.dbs, &save_meta(st, now_ms, extra_aux))
}

/// How the node writes its RDB now: aux fields and its `rdbcompression`/`rdbchecksum`.
pub fn save_meta(st: &NodeState, now_ms: i64, extra_aux: Vec<(String, String)>) -> SaveMeta {
    SaveMeta {
        now_ms,
        used_mem: crate::info::used_memory(st),
        extra_aux,
        compression: st.config.extra_or("rdbcompression", "yes") == "yes",
        checksum: st.config.extra_or("rdbchecksum", "yes") == "yes",
        functions: st.scripts.library_codes(),
        aof_base: false,
        hints: super::write::KeyHints::from_config(&st.config),
    }
}

/// Replaces the node's data with `snapshot`'s. Watches and blocked clients stay with their
/// database numbers; WATCHers of keys that existed before or exist now see them as changed
/// (as Redis's `emptyData` then load does).
pub fn install(st: &mut NodeState, mut snapshot: Snapshot) {
    note_loaded(st, &snapshot);
    for (db, fresh) in st.dbs.iter_mut().zip(snapshot.dbs.iter_mut()) {
        db.touch_existing_watched();
        db.swap_data(fresh);
        db.touch_existing_watched();
    }
    install_functions(st, &snapshot.functions);
}

/// Records what an RDB load found, for INFO's `rdb_last_load_keys_loaded` and
/// `rdb_last_load_keys_expired` (Redis sets them whenever it loads an RDB: at startup, an AOF
/// preamble, DEBUG RELOAD, a full sync).
pub fn note_loaded(st: &mut NodeState, snapshot: &Snapshot) {
    st.persistence.last_load_keys_loaded = snapshot.keys_loaded;
    st.persistence.last_load_keys_expired = snapshot.keys_expired;
}

/// Replaces the node's function libraries with a loaded RDB's.
pub fn install_functions(st: &mut NodeState, codes: &[Bytes]) {
    if let Err(e) = st.scripts.install_functions(codes) {
        st.log(
            crate::logging::Level::Warning,
            &format!("Failed loading the functions of the RDB: {e}"),
        );
    }
}

/// Adds `snapshot`'s keys to the node's data (DEBUG RELOAD NOFLUSH). A key present on both
/// sides is replaced when `replace` is set (MERGE) and is an error otherwise, in which case
/// nothing changes.
pub fn merge(st: &mut NodeState, snapshot: Snapshot, replace: bool) -> Result<(), String> {
    if !replace {
        for (index, (db, fresh)) in st.dbs.iter().zip(&snapshot.dbs).enumerate() {
            if let Some(key) = fresh.keys().find(|k| db.peek(k).is_some()) {
                return Err(format!(
                    "RDB has duplicated key '{}' in DB {index}",
                    String::from_utf8_lossy(key)
                ));
            }
        }
    }
    for (db, fresh) in st.dbs.iter_mut().zip(&snapshot.dbs) {
        for (key, value) in fresh.iter() {
            db.touch(key);
            db.set(key.clone(), value.clone());
            if let Some(at) = fresh.expire_at(key) {
                db.set_expire(key, at);
            }
        }
    }
    Ok(())
}

/// Loads the node's RDB file at startup, as a master (keys already expired are dropped).
/// `Ok(None)` when there is no file; otherwise the numbers of keys loaded and dropped.
pub fn load_at_startup(st: &mut NodeState, now_ms: i64) -> Result<Option<(u64, u64)>, RdbError> {
    let path = rdb_path(&st.config);
    if !path.exists() {
        return Ok(None);
    }
    let replica = st.config.replicaof.is_some();
    let mut options = super::LoadOptions::from_config(&st.config, now_ms);
    if replica {
        // A replica keeps expired keys: its master decides when they go.
        options.drop_expired_before = None;
    }
    let snapshot = super::load_file(&path, &options)?;
    let counts = (snapshot.keys_loaded, snapshot.keys_expired);
    if replica {
        // The history the file was saved at, offered to the master in PSYNC.
        let text = |name| {
            snapshot
                .aux(name)
                .and_then(|v| std::str::from_utf8(v).ok().map(str::to_string))
        };
        if let (Some(id), Some(offset)) = (text("repl-id"), text("repl-offset")) {
            if let (40, Ok(offset)) = (id.len(), offset.parse::<u64>()) {
                st.repl
                    .restore_history(id, offset, st.config.repl_backlog_size);
            }
        }
    }
    install(st, snapshot);
    Ok(Some(counts))
}
