//! BGSAVE and the save points, as Redis 7.0's `rdbSaveBackground`, `serverCron` and
//! `backgroundSaveDoneHandler` do them, with a thread where Redis forks a child.
//!
//! Under the node lock a BGSAVE takes what it writes: a copy of the keyspace that shares the
//! values' bytes (a walk, not a copy of the data, as the AOF rewrite and a full sync take
//! theirs), the function libraries and the aux fields. Its thread then serialises and writes
//! the file `temp-<pid>-<n>.rdb` and fsyncs it off the lock; only the rename over
//! `dir/dbfilename` and the bookkeeping (`done`) take the lock again, so a killed save
//! (SHUTDOWN, FLUSHALL) can never land after the save that replaced it.
//!
//! One background job at a time, as Redis has one child: a BGSAVE and an AOF rewrite
//! ([`crate::aof`]) wait for each other ([`active_child`]); BGSAVE SCHEDULE and a BGSAVE inside
//! EXEC set [`SaveStatus::bgsave_scheduled`](super::SaveStatus::bgsave_scheduled), and
//! [`cron`] starts it when nothing runs.
//!
//! Save points: the `save` configuration. The `rediscover-server` binary starts with Redis's
//! default `save 3600 1 300 100 60 10000`; an in-process [`crate::TestServer`] starts with
//! `save ""` (as Redis's own test suite runs its servers), so it writes no file unless a test
//! asks for one.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use crate::aof::strerror;
use crate::logging::Level;
use crate::node::NodeState;

/// Seconds a failed BGSAVE waits before the save points try again
/// (`CONFIG_BGSAVE_RETRY_DELAY`).
pub const RETRY_DELAY: i64 = 5;

/// Bytes written between two fsyncs with `rdb-save-incremental-fsync yes`
/// (`REDIS_AUTOSYNC_BYTES`).
const AUTOSYNC_BYTES: usize = 4 << 20;

/// The `-MISCONF` error for writes after a failed BGSAVE (Redis's `shared.bgsaveerr`).
pub const MISCONF: &str = "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.";

/// A BGSAVE running on its thread.
#[derive(Debug)]
pub(crate) struct Child {
    id: u64,
    /// When it started (Unix seconds).
    pub(crate) started: i64,
    cancel: Arc<AtomicBool>,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

fn now_secs() -> i64 {
    crate::node::unix_ms() / 1000
}

/// Whether a background job runs: a BGSAVE or an AOF rewrite (`hasActiveChildProcess`).
pub fn active_child(st: &NodeState) -> bool {
    st.persistence.child.is_some() || st.aof.rewrite_in_progress()
}

/// Whether writes are refused with [`MISCONF`] (`writeCommandsDeniedByDiskError`'s RDB
/// case): the last BGSAVE failed, save points are configured and
/// `stop-writes-on-bgsave-error` is on.
pub fn writes_denied(st: &NodeState) -> bool {
    st.persistence.last_bgsave_failed
        && !st.config.save.is_empty()
        && st.config.extra_or("stop-writes-on-bgsave-error", "yes") == "yes"
}

/// Starts a BGSAVE (Redis's `rdbSaveBackground`). `Err` when a background job already runs
/// or the thread could not be started (then the save counts as failed).
pub(crate) fn start(st: &mut NodeState) -> Result<(), ()> {
    if active_child(st) {
        return Err(());
    }
    let Some(node) = st.self_ref.upgrade() else {
        return Err(());
    };
    st.persistence.saves += 1;
    st.persistence.dirty_before_bgsave = st.dirty;
    let now_ms = crate::node::unix_ms();
    st.persistence.last_bgsave_try = now_ms / 1000;
    let meta = super::persist::save_meta(st, now_ms, super::persist::replication_aux(st));
    let dbs: Vec<crate::keyspace::Db> = st.dbs.iter().map(crate::keyspace::Db::snapshot).collect();
    let path = super::persist::rdb_path(&st.config);
    let incremental = st.config.extra_or("rdb-save-incremental-fsync", "yes") == "yes";
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let cancel = Arc::new(AtomicBool::new(false));
    let temp = temp_path(&path, id, "bg");
    let thread_cancel = cancel.clone();
    let spawned = std::thread::Builder::new()
        .name("rdb-bgsave".into())
        .spawn(move || {
            let written = write_temp(&temp, &super::write(&dbs, &meta), incremental);
            drop(dbs);
            let mut st = node.lock();
            let current = st.persistence.child.as_ref().is_some_and(|c| c.id == id);
            if !current || thread_cancel.load(Ordering::Acquire) {
                // Killed: another save replaced this one.
                let _ = std::fs::remove_file(&temp);
                return;
            }
            let result = written.and_then(|()| rename(&temp, &path));
            done(&mut st, result);
        });
    if let Err(e) = spawned {
        st.persistence.last_bgsave_failed = true;
        st.log(
            Level::Warning,
            &format!("Can't save in background: fork: {}", strerror(&e)),
        );
        return Err(());
    }
    st.persistence.child = Some(Child {
        id,
        started: now_ms / 1000,
        cancel,
    });
    st.log(
        Level::Notice,
        &format!("Background saving started by pid {}", std::process::id()),
    );
    Ok(())
}

fn server_root(temp: &Path) -> String {
    temp.parent()
        .map_or_else(|| "unknown".into(), |d| d.display().to_string())
}

/// Writes and fsyncs the temporary file; the error is the line Redis's child logs.
fn write_temp(temp: &Path, data: &[u8], incremental: bool) -> Result<(), String> {
    let name = temp
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let mut file = std::fs::File::create(temp).map_err(|e| {
        format!(
            "Failed opening the temp RDB file {name} (in server root dir {}) for saving: {}",
            server_root(temp),
            strerror(&e)
        )
    })?;
    let result = (|| {
        if incremental {
            for chunk in data.chunks(AUTOSYNC_BYTES) {
                file.write_all(chunk).map_err(|e| ("rdbSaveRio", e))?;
                file.sync_data().map_err(|e| ("rdbSaveRio", e))?;
            }
        } else {
            file.write_all(data).map_err(|e| ("rdbSaveRio", e))?;
        }
        file.sync_all().map_err(|e| ("fsync", e))
    })();
    result.map_err(|(op, e)| {
        let _ = std::fs::remove_file(temp);
        format!("Write error saving DB on disk({op}): {}", strerror(&e))
    })
}

/// Writes `data` to `path` through a temporary file in the same directory, fsynced, then
/// renamed (Redis's `rdbSave`); the error is the line Redis logs.
pub(crate) fn write_file(path: &Path, data: &[u8], incremental: bool) -> Result<(), String> {
    static SYNC_SEQ: AtomicU64 = AtomicU64::new(0);
    let temp = temp_path(path, SYNC_SEQ.fetch_add(1, Ordering::Relaxed), "sync");
    write_temp(&temp, data, incremental)?;
    rename(&temp, path)
}

/// The temporary file a save writes before renaming it: `temp-<pid>-<kind><n>.rdb` next to
/// the RDB file (Redis's `temp-<pid>.rdb` in its working directory).
fn temp_path(path: &Path, n: u64, kind: &str) -> PathBuf {
    path.parent()
        .unwrap_or_else(|| Path::new("."))
        .join(format!("temp-{}-{kind}{n}.rdb", std::process::id()))
}

/// Renames the finished temporary file over the RDB file (under the node lock).
fn rename(temp: &Path, path: &Path) -> Result<(), String> {
    std::fs::rename(temp, path).map_err(|e| {
        let _ = std::fs::remove_file(temp);
        format!(
            "Error moving temp DB file {} on the final destination {} (in server root dir {}): {}",
            temp.file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
            path.file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
            server_root(temp),
            strerror(&e)
        )
    })
}

/// A BGSAVE finished (Redis's `backgroundSaveDoneHandlerDisk`): on success the changes made
/// since its snapshot stay counted and the save time is recorded; on failure the status turns
/// to `err` (and, with save points and `stop-writes-on-bgsave-error`, writes are refused).
fn done(st: &mut NodeState, result: Result<(), String>) {
    let Some(child) = st.persistence.child.take() else {
        return;
    };
    let now = now_secs();
    match result {
        Ok(()) => {
            st.log(Level::Notice, "DB saved on disk");
            st.log(Level::Notice, "Background saving terminated with success");
            st.dirty = st.dirty.saturating_sub(st.persistence.dirty_before_bgsave);
            st.last_save = now;
            st.persistence.last_bgsave_failed = false;
        }
        Err(e) => {
            st.log(Level::Warning, &e);
            st.log(Level::Warning, "Background saving error");
            st.persistence.last_bgsave_failed = true;
        }
    }
    st.persistence.last_bgsave_secs = Some(now - child.started);
}

/// Stops a running BGSAVE (Redis's `killRDBChild`): its thread finds itself cancelled and
/// removes its temporary file. Like a child killed with SIGUSR1, this is not a failure.
pub fn kill(st: &mut NodeState) {
    if let Some(child) = st.persistence.child.take() {
        child.cancel.store(true, Ordering::Release);
        st.persistence.last_bgsave_secs = Some(now_secs() - child.started);
    }
}

/// The save points (Redis's `serverCron`): with no background job running, a BGSAVE starts
/// when a point's changes were made and its seconds passed since the last save, unless the
/// last BGSAVE failed less than [`RETRY_DELAY`] seconds ago.
pub fn save_points_cron(st: &mut NodeState) {
    if active_child(st) {
        return;
    }
    let now = now_secs();
    let retry_ok =
        now - st.persistence.last_bgsave_try > RETRY_DELAY || !st.persistence.last_bgsave_failed;
    if !retry_ok {
        return;
    }
    let due = st
        .config
        .save
        .iter()
        .copied()
        .find(|&(secs, changes)| st.dirty >= changes && now - st.last_save > secs as i64);
    if let Some((secs, changes)) = due {
        st.log(
            Level::Notice,
            &format!("{changes} changes in {secs} seconds. Saving..."),
        );
        let _ = start(st);
    }
}

/// A BGSAVE that BGSAVE SCHEDULE or EXEC left for later starts once no background job runs
/// (Redis's `serverCron`, after the replication cron), with the same retry delay.
pub fn scheduled_cron(st: &mut NodeState) {
    if active_child(st) || !st.persistence.bgsave_scheduled {
        return;
    }
    let now = now_secs();
    if (now - st.persistence.last_bgsave_try > RETRY_DELAY || !st.persistence.last_bgsave_failed)
        && start(st).is_ok()
    {
        st.persistence.bgsave_scheduled = false;
    }
}

/// The final save of a shutdown (Redis's `finishShutdown`): a running BGSAVE is killed, then
/// the RDB is saved when `save` was asked (SHUTDOWN SAVE) or save points are configured and
/// `nosave` was not. `Err` when that save failed.
pub(crate) fn shutdown_save(st: &mut NodeState, save: bool, nosave: bool) -> Result<(), ()> {
    if st.persistence.child.is_some() {
        st.log(
            Level::Warning,
            "There is a child saving an .rdb. Killing it!",
        );
        kill(st);
    }
    if (!st.config.save.is_empty() && !nosave) || save {
        st.log(
            Level::Notice,
            "Saving the final RDB snapshot before exiting.",
        );
        if super::persist::save(st, crate::node::unix_ms()).is_err() {
            return Err(());
        }
    }
    Ok(())
}
