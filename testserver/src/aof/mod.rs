//! AOF persistence as Redis 7.0 does it: a directory (`appenddirname` under `dir`) holding a
//! BASE file (an RDB with `aof-use-rdb-preamble yes`, else commands), INCR files with every
//! write since, and a [`manifest`] naming them.
//!
//! Writes reach the AOF through the same feed as the replication stream: the ops a command
//! queued ([`crate::repl::Repl::flush_pending`]) are also encoded into [`Feed`], with its own
//! SELECT tracking and MULTI/EXEC around transactions. The buffer is written to the INCR file
//! when the node lock is released (before any reply of that batch goes out), and fsynced per
//! `appendfsync`: at once (`always`), by a background thread about once a second
//! (`everysec`), or never (`no`).
//!
//! A rewrite (BGREWRITEAOF, `auto-aof-rewrite-*`, `CONFIG SET appendonly yes`) opens a new INCR
//! file at once, copies the keyspace under the lock as a full sync does, and writes the new
//! BASE on a thread of its own; when done, under the lock, the BASE and the INCR files it covers
//! become HISTORY and are deleted, as Redis's `backgroundRewriteDoneHandler`.

mod load;
pub mod manifest;
mod rewrite;

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::{Bytes, BytesMut};
use rediscover::resp::encode_command;

use crate::config::Config;
use crate::logging::Level;
use crate::node::NodeState;

pub use load::Loaded;
pub use manifest::{Manifest, ManifestError};

/// Redis's `aof_state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum State {
    /// No AOF.
    #[default]
    Off,
    /// `appendonly yes` was just set: the first rewrite must finish before the AOF is on.
    WaitRewrite,
    /// Writing the AOF.
    On,
}

/// The write path's AOF buffer (Redis's `aof_buf`), kept in [`crate::repl::Repl`] next to
/// the replication stream it is fed with.
#[derive(Debug)]
pub struct Feed {
    /// Whether commands are appended (AOF on, or waiting for its first rewrite while that
    /// rewrite runs).
    pub(crate) active: bool,
    /// Bytes not yet written to the file.
    pub(crate) buf: BytesMut,
    /// The database the file last selected (-1: the next command must SELECT).
    pub(crate) seldb: i64,
    /// `aof-timestamp-enabled`.
    pub(crate) timestamps: bool,
    /// The last `#TS:` annotation written (Unix seconds).
    cur_ts: i64,
}

impl Default for Feed {
    fn default() -> Self {
        Feed {
            active: false,
            buf: BytesMut::new(),
            seldb: -1,
            timestamps: false,
            cur_ts: 0,
        }
    }
}

impl Feed {
    /// Appends one command's ops as Redis's `propagatePendingCommands` feeds them to
    /// `feedAppendOnlyFile`: MULTI/EXEC around more than one.
    pub(crate) fn append(&mut self, ops: &[(usize, Vec<Bytes>)]) {
        let (Some(first), Some(last)) = (ops.first(), ops.last()) else {
            return;
        };
        let wrap = ops.len() > 1;
        if wrap {
            self.one(first.0, &[&b"MULTI"[..]]);
        }
        for (db, argv) in ops {
            self.one(*db, argv);
        }
        if wrap {
            self.one(last.0, &[&b"EXEC"[..]]);
        }
    }

    fn one<A: AsRef<[u8]>>(&mut self, db: usize, argv: &[A]) {
        if self.timestamps {
            let now = crate::node::unix_ms() / 1000;
            if self.cur_ts < now {
                self.cur_ts = now;
                self.buf
                    .extend_from_slice(format!("#TS:{now}\r\n").as_bytes());
            }
        }
        if self.seldb != db as i64 {
            encode_command(&mut self.buf, &[&b"SELECT"[..], db.to_string().as_bytes()]);
            self.seldb = db as i64;
        }
        encode_command(&mut self.buf, argv);
    }
}

/// A rewrite running on its thread.
#[derive(Debug)]
struct Running {
    id: u64,
    started: i64,
    cancel: Arc<AtomicBool>,
    temp: PathBuf,
}

/// A node's AOF state (everything but the feed buffer). Lives in [`NodeState`].
#[derive(Debug)]
pub struct Aof {
    /// On, off, or waiting for the first rewrite.
    pub state: State,
    /// The manifest as last persisted (or about to be).
    pub manifest: Manifest,
    file: Option<File>,
    /// `aof_current_size`.
    pub current_size: u64,
    /// `aof_base_size` (`aof_rewrite_base_size`).
    pub base_size: u64,
    last_incr_size: u64,
    last_incr_fsync_offset: u64,
    last_fsync: i64,
    fsync_busy: Arc<AtomicBool>,
    fsync_error: Arc<Mutex<Option<String>>>,
    /// `aof_rewrite_scheduled`.
    pub rewrite_scheduled: bool,
    rewrite: Option<Running>,
    /// `aof_last_rewrite_time_sec` (-1 before the first).
    pub last_rewrite_secs: i64,
    /// `aof_last_bgrewrite_status`.
    pub last_bgrewrite_ok: bool,
    /// `aof_rewrites`.
    pub rewrites: u64,
    /// `aof_rewrites_consecutive_failures`.
    pub consecutive_failures: u64,
    last_write_error: Option<String>,
    /// `aof_delayed_fsync`.
    pub delayed_fsync: u64,
    flush_postponed_start: i64,
    limit_delay_minutes: i64,
    limit_next_time: i64,
}

impl Default for Aof {
    fn default() -> Self {
        Aof {
            state: State::Off,
            manifest: Manifest::default(),
            file: None,
            current_size: 0,
            base_size: 0,
            last_incr_size: 0,
            last_incr_fsync_offset: 0,
            last_fsync: crate::node::unix_ms() / 1000,
            fsync_busy: Arc::default(),
            fsync_error: Arc::default(),
            rewrite_scheduled: false,
            rewrite: None,
            last_rewrite_secs: -1,
            last_bgrewrite_ok: true,
            rewrites: 0,
            consecutive_failures: 0,
            last_write_error: None,
            delayed_fsync: 0,
            flush_postponed_start: 0,
            limit_delay_minutes: 0,
            limit_next_time: 0,
        }
    }
}

impl Aof {
    /// Whether a rewrite is running (`aof_rewrite_in_progress`).
    pub fn rewrite_in_progress(&self) -> bool {
        self.rewrite.is_some()
    }

    /// Whether writes are refused (`-MISCONF Errors writing to the AOF file: ...`): the
    /// last write or background fsync failed. The error text when so.
    pub fn write_error(&self) -> Option<String> {
        if self.state == State::Off {
            return None;
        }
        if let Some(e) = &self.last_write_error {
            return Some(e.clone());
        }
        self.fsync_error.lock().ok().and_then(|e| e.clone())
    }
}

/// The AOF directory: `dir/appenddirname`.
pub fn dir(config: &Config) -> PathBuf {
    Path::new(&config.dir).join(config.extra_or("appenddirname", "appendonlydir"))
}

/// `appendfilename`.
pub fn filename(config: &Config) -> String {
    config
        .extra_or("appendfilename", "appendonly.aof")
        .to_string()
}

fn now_secs() -> i64 {
    crate::node::unix_ms() / 1000
}

fn fsync_policy(config: &Config) -> String {
    config.extra_or("appendfsync", "everysec")
}

/// The OS error text without Rust's ` (os error N)` suffix, as `strerror` gives it (the RDB
/// saves' log lines use it too).
pub(crate) fn strerror(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// Keeps [`Feed::active`] and the feed's settings in step with the state and configuration.
pub fn sync(st: &mut NodeState) {
    st.repl.aof.active = st.aof.state == State::On
        || (st.aof.state == State::WaitRewrite && st.aof.rewrite.is_some());
    st.repl.aof.timestamps = st.config.extra_or("aof-timestamp-enabled", "no") == "yes";
}

/// Writes the buffer to the INCR file and fsyncs per `appendfsync` (Redis's
/// `flushAppendOnlyFile`). `force`: write even while a background fsync runs.
pub fn flush(st: &mut NodeState, force: bool) {
    if st.aof.state == State::Off || st.aof.file.is_none() {
        return;
    }
    let policy = fsync_policy(&st.config);
    let now = now_secs();
    let mut sync_in_progress = false;
    if st.repl.aof.buf.is_empty() {
        let unsynced = st.aof.last_incr_fsync_offset != st.aof.last_incr_size;
        let everysec_due = policy == "everysec" && unsynced && now > st.aof.last_fsync && {
            sync_in_progress = st.aof.fsync_busy.load(Ordering::Acquire);
            !sync_in_progress
        };
        if !(everysec_due || (policy == "always" && unsynced)) {
            return;
        }
    } else {
        if policy == "everysec" {
            sync_in_progress = st.aof.fsync_busy.load(Ordering::Acquire);
        }
        if policy == "everysec" && !force && sync_in_progress {
            if st.aof.flush_postponed_start == 0 {
                st.aof.flush_postponed_start = now;
                return;
            } else if now - st.aof.flush_postponed_start < 2 {
                return;
            }
            st.aof.delayed_fsync += 1;
            st.log(Level::Notice, "Asynchronous AOF fsync is taking too long (disk is busy?). Writing the AOF buffer without waiting for fsync to complete, this may slow down Redis.");
        }
        st.aof.flush_postponed_start = 0;
        let Some(file) = st.aof.file.as_mut() else {
            return;
        };
        let buf = &st.repl.aof.buf;
        let mut written = 0usize;
        let mut error = None;
        while written < buf.len() {
            match file.write(&buf[written..]) {
                Ok(0) => {
                    error = Some("No space left on device".to_string());
                    break;
                }
                Ok(n) => written += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    error = Some(strerror(&e));
                    break;
                }
            }
        }
        if let Some(e) = error {
            if written > 0 {
                st.log(
                    Level::Warning,
                    &format!(
                        "Short write while writing to the AOF file: (nwritten={written}, expected={})",
                        buf.len()
                    ),
                );
                let size = st.aof.last_incr_size;
                if let Some(f) = st.aof.file.as_mut() {
                    if f.set_len(size).is_ok() {
                        written = 0;
                    }
                }
            } else {
                st.log(
                    Level::Warning,
                    &format!("Error writing to the AOF file: {e}"),
                );
            }
            if policy == "always" {
                st.log(Level::Warning, "Can't recover from AOF write error when the AOF fsync policy is 'always'. Exiting...");
            }
            st.aof.last_write_error = Some(e);
            if written > 0 {
                st.aof.current_size += written as u64;
                st.aof.last_incr_size += written as u64;
                let _ = st.repl.aof.buf.split_to(written);
            }
            return;
        }
        if st.aof.last_write_error.take().is_some() {
            st.log(
                Level::Warning,
                "AOF write error looks solved, Redis can write again.",
            );
        }
        st.aof.current_size += written as u64;
        st.aof.last_incr_size += written as u64;
        st.repl.aof.buf.clear();
    }
    // try_fsync:
    if st.config.extra_or("no-appendfsync-on-rewrite", "no") == "yes" && st.aof.rewrite.is_some() {
        return;
    }
    if policy == "always" {
        if let Some(file) = st.aof.file.as_ref() {
            if let Err(e) = file.sync_data() {
                st.log(
                    Level::Warning,
                    &format!("Can't persist AOF for fsync error when the AOF fsync policy is 'always': {}. Exiting...", strerror(&e)),
                );
                st.aof.last_write_error = Some(strerror(&e));
                return;
            }
        }
        st.aof.last_incr_fsync_offset = st.aof.last_incr_size;
        st.aof.last_fsync = now;
    } else if policy == "everysec" && now > st.aof.last_fsync {
        if !sync_in_progress {
            background_fsync(&st.aof, false);
            st.aof.last_incr_fsync_offset = st.aof.last_incr_size;
        }
        st.aof.last_fsync = now;
    }
}

/// Fsyncs the current file on a thread of its own (Redis's bio fsync job); `close`: the file
/// is being replaced, so no error is reported for it.
fn background_fsync(aof: &Aof, close: bool) {
    let Some(file) = aof.file.as_ref().and_then(|f| f.try_clone().ok()) else {
        return;
    };
    let busy = aof.fsync_busy.clone();
    let error = aof.fsync_error.clone();
    if !close {
        busy.store(true, Ordering::Release);
    }
    std::thread::spawn(move || {
        let result = file.sync_data();
        if !close {
            if let Ok(mut e) = error.lock() {
                *e = result.err().map(|e| strerror(&e));
            }
            busy.store(false, Ordering::Release);
        }
    });
}

/// BGREWRITEAOF.
pub fn bgrewriteaof(st: &mut NodeState, in_exec: bool) -> Result<&'static str, &'static str> {
    if st.aof.rewrite.is_some() {
        Err("ERR Background append only file rewriting already in progress")
    } else if in_exec || crate::rdb::bgsave::active_child(st) {
        // Behind a running BGSAVE (one background job at a time), or after EXEC.
        st.aof.rewrite_scheduled = true;
        st.aof.consecutive_failures = 0;
        Ok("Background append only file rewriting scheduled")
    } else if rewrite_background(st).is_ok() {
        Ok("Background append only file rewriting started")
    } else {
        Err("ERR Can't execute an AOF background rewriting. Please check the server logs for more information.")
    }
}

static NEXT_REWRITE: AtomicU64 = AtomicU64::new(1);

/// Starts a rewrite (Redis's `rewriteAppendOnlyFileBackground`).
pub(crate) fn rewrite_background(st: &mut NodeState) -> Result<(), ()> {
    // One background job at a time: a rewrite or a BGSAVE (`hasActiveChildProcess`).
    if crate::rdb::bgsave::active_child(st) {
        return Err(());
    }
    let dir = dir(&st.config);
    if let Err(e) = std::fs::create_dir_all(&dir) {
        st.log(
            Level::Warning,
            &format!(
                "Can't open or create append-only dir {}: {}",
                dir.display(),
                strerror(&e)
            ),
        );
        st.aof.last_bgrewrite_ok = false;
        return Err(());
    }
    st.repl.aof.seldb = -1;
    flush(st, true);
    if open_new_incr_for_append(st).is_err() {
        st.aof.last_bgrewrite_ok = false;
        return Err(());
    }
    st.aof.rewrites += 1;
    let Some(node) = st.self_ref.upgrade() else {
        return Err(());
    };
    let id = NEXT_REWRITE.fetch_add(1, Ordering::Relaxed);
    let temp = Path::new(&st.config.dir).join(format!("temp-rewriteaof-bg-{id}.aof"));
    let now = crate::node::unix_ms();
    let job = rewrite::BaseJob::of(st, now);
    let cancel = Arc::new(AtomicBool::new(false));
    st.aof.rewrite = Some(Running {
        id,
        started: now / 1000,
        cancel: cancel.clone(),
        temp: temp.clone(),
    });
    st.log(
        Level::Notice,
        &format!(
            "Background append only file rewriting started by pid {}",
            std::process::id()
        ),
    );
    st.aof.rewrite_scheduled = false;
    sync(st);
    let incremental = st.config.extra_or("aof-rewrite-incremental-fsync", "yes") == "yes";
    std::thread::spawn(move || {
        let result = write_base(&temp, &job.encode(), incremental);
        drop(job);
        if cancel.load(Ordering::Acquire) {
            let _ = std::fs::remove_file(&temp);
            return;
        }
        let mut st = node.lock();
        rewrite_done(&mut st, id, &temp, result);
    });
    Ok(())
}

/// Writes a BASE file's bytes to `path`; with `aof-rewrite-incremental-fsync` every 4 MB
/// written are fsynced as they go (`REDIS_AUTOSYNC_BYTES`), then the whole file.
fn write_base(path: &Path, data: &[u8], incremental: bool) -> Result<(), String> {
    const AUTOSYNC: usize = 4 << 20;
    let write = || -> std::io::Result<()> {
        let mut f = File::create(path)?;
        if incremental {
            for chunk in data.chunks(AUTOSYNC) {
                f.write_all(chunk)?;
                f.sync_data()?;
            }
        } else {
            f.write_all(data)?;
        }
        f.sync_all()
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(path);
        format!(
            "Write error writing append only file on disk: {}",
            strerror(&e)
        )
    })
}

/// Opens the INCR file writes go to while a rewrite runs (Redis's `openNewIncrAofForAppend`):
/// a new INCR in the manifest when the AOF is on, a temporary one while waiting for the first
/// rewrite.
fn open_new_incr_for_append(st: &mut NodeState) -> Result<(), ()> {
    if st.aof.state == State::Off {
        return Ok(());
    }
    let dir = dir(&st.config);
    let filename = filename(&st.config);
    let mut temp_am = None;
    let name = if st.aof.state == State::WaitRewrite {
        format!("temp-{filename}.incr")
    } else {
        let mut am = st.aof.manifest.clone();
        let name = am.new_incr(&filename);
        temp_am = Some(am);
        name
    };
    let file = match File::create(dir.join(&name)) {
        Ok(f) => f,
        Err(e) => {
            st.log(
                Level::Warning,
                &format!("Can't open the append-only file {name}: {}", strerror(&e)),
            );
            return Err(());
        }
    };
    if let Some(am) = temp_am.as_mut() {
        if let Err(e) = am.persist(&dir, &filename) {
            st.log(Level::Warning, &e);
            return Err(());
        }
    }
    st.log(
        Level::Notice,
        &format!("Creating AOF incr file {name} on background rewrite"),
    );
    if st.aof.file.is_some() {
        background_fsync(&st.aof, true);
        st.aof.last_fsync = now_secs();
    }
    st.aof.file = Some(file);
    st.aof.last_incr_size = 0;
    st.aof.last_incr_fsync_offset = 0;
    if let Some(am) = temp_am {
        st.aof.manifest = am;
    }
    Ok(())
}

/// A rewrite's thread finished (Redis's `backgroundRewriteDoneHandler`).
fn rewrite_done(st: &mut NodeState, id: u64, temp: &Path, result: Result<(), String>) {
    let Some(running) = st.aof.rewrite.take_if(|r| r.id == id) else {
        // Killed after it finished writing.
        let _ = std::fs::remove_file(temp);
        return;
    };
    let dir = dir(&st.config);
    let filename = filename(&st.config);
    let tmpfile = running
        .temp
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    match result {
        Ok(()) => {
            st.log(
                Level::Notice,
                &format!("Successfully created the temporary AOF base file {tmpfile}"),
            );
            st.log(
                Level::Notice,
                "Background AOF rewrite terminated with success",
            );
            if let Err(e) = install_rewrite(st, &running, &dir, &filename) {
                st.log(Level::Warning, &e);
                st.aof.last_bgrewrite_ok = false;
                st.aof.consecutive_failures += 1;
            }
        }
        Err(e) => {
            st.log(Level::Warning, &e);
            st.aof.last_bgrewrite_ok = false;
            st.aof.consecutive_failures += 1;
            st.log(
                Level::Warning,
                "Background AOF rewrite terminated with error",
            );
        }
    }
    let _ = std::fs::remove_file(&running.temp);
    if st.aof.state == State::WaitRewrite {
        st.repl.aof.buf.clear();
        st.log(
            Level::Notice,
            &format!("Removing the temp incr aof file temp-{filename}.incr in the background"),
        );
        bg_unlink(dir.join(format!("temp-{filename}.incr")));
        st.aof.file = None;
    }
    st.aof.last_rewrite_secs = now_secs() - running.started;
    if st.aof.state == State::WaitRewrite {
        st.aof.rewrite_scheduled = true;
    }
    sync(st);
}

fn install_rewrite(
    st: &mut NodeState,
    running: &Running,
    dir: &Path,
    filename: &str,
) -> Result<(), String> {
    let mut temp_am = st.aof.manifest.clone();
    let preamble = st.config.extra_or("aof-use-rdb-preamble", "yes") == "yes";
    let base = temp_am.new_base(filename, preamble);
    let base_path = dir.join(&base);
    let tmpfile = running.temp.display().to_string();
    std::fs::rename(&running.temp, &base_path).map_err(|e| {
        format!(
            "Error trying to rename the temporary AOF base file {tmpfile} into {}: {}",
            base_path.display(),
            strerror(&e)
        )
    })?;
    st.log(
        Level::Notice,
        &format!("Successfully renamed the temporary AOF base file {tmpfile} into {base}"),
    );
    let mut new_incr_path = None;
    if st.aof.state == State::WaitRewrite {
        let temp_incr = format!("temp-{filename}.incr");
        let incr = temp_am.new_incr(filename);
        let path = dir.join(&incr);
        if let Err(e) = std::fs::rename(dir.join(&temp_incr), &path) {
            let _ = std::fs::remove_file(&base_path);
            return Err(format!(
                "Error trying to rename the temporary AOF incr file {} into {}: {}",
                dir.join(&temp_incr).display(),
                path.display(),
                strerror(&e)
            ));
        }
        st.log(
            Level::Notice,
            &format!("Successfully renamed the temporary AOF incr file {temp_incr} into {incr}"),
        );
        new_incr_path = Some(path);
    }
    // The AOF being on (or about to be): the last INCR is the one being written.
    temp_am.mark_rewritten_incr_as_history(st.aof.state != State::Off);
    if let Err(e) = temp_am.persist(dir, filename) {
        let _ = std::fs::remove_file(&base_path);
        if let Some(p) = new_incr_path {
            let _ = std::fs::remove_file(p);
        }
        return Err(e);
    }
    st.aof.manifest = temp_am;
    if st.aof.state != State::Off {
        let base_size = std::fs::metadata(&base_path).map_or(0, |m| m.len());
        st.aof.current_size = base_size + st.aof.last_incr_size;
        st.aof.base_size = st.aof.current_size;
    }
    del_history_files(st);
    st.aof.last_bgrewrite_ok = true;
    st.aof.consecutive_failures = 0;
    st.log(
        Level::Notice,
        "Background AOF rewrite finished successfully",
    );
    if st.aof.state == State::WaitRewrite {
        st.aof.state = State::On;
        // The temporary INCR file kept its descriptor through the rename.
    }
    Ok(())
}

/// Deletes HISTORY files and drops them from the manifest (Redis's `aofDelHistoryFiles`).
pub fn del_history_files(st: &mut NodeState) {
    if st.aof.manifest.history.is_empty() {
        return;
    }
    let dir = dir(&st.config);
    for ai in std::mem::take(&mut st.aof.manifest.history) {
        st.log(
            Level::Notice,
            &format!("Removing the history file {} in the background", ai.name),
        );
        bg_unlink(dir.join(&ai.name));
    }
    st.aof.manifest.dirty = true;
    let filename = filename(&st.config);
    if let Err(e) = st.aof.manifest.persist(&dir, &filename) {
        st.log(Level::Warning, &e);
    }
}

/// Removes a file on a thread of its own (Redis's `bg_unlink`): freeing a large file's blocks
/// must not hold the node lock.
fn bg_unlink(path: PathBuf) {
    std::thread::spawn(move || {
        let _ = std::fs::remove_file(path);
    });
}

/// Stops a running rewrite (Redis's `killAppendOnlyChild`): its thread finds itself cancelled
/// and removes its temporary file.
pub fn kill_rewrite(st: &mut NodeState) {
    if let Some(running) = st.aof.rewrite.take() {
        st.log(Level::Notice, "Killing running AOF rewrite child");
        running.cancel.store(true, Ordering::Release);
        sync(st);
    }
}

/// `CONFIG SET appendonly yes` (Redis's `startAppendOnly`).
pub(crate) fn start_append_only(st: &mut NodeState, in_exec: bool) -> Result<(), ()> {
    st.aof.state = State::WaitRewrite;
    if st.persistence.bgsave_in_progress() {
        st.aof.rewrite_scheduled = true;
        st.log(Level::Warning, "AOF was enabled but there is already another background operation. An AOF background was scheduled to start when possible.");
    } else if in_exec {
        st.aof.rewrite_scheduled = true;
        st.log(Level::Warning, "AOF was enabled during a transaction. An AOF background was scheduled to start when possible.");
    } else {
        if st.aof.rewrite.is_some() {
            st.log(Level::Warning, "AOF was enabled but there is already an AOF rewriting in background. Stopping background AOF and starting a rewrite now.");
            kill_rewrite(st);
        }
        if rewrite_background(st).is_err() {
            st.aof.state = State::Off;
            sync(st);
            st.log(Level::Warning, "Redis needs to enable the AOF but can't trigger a background AOF rewrite operation. Check the above logs for more info about the error.");
            return Err(());
        }
    }
    st.aof.last_fsync = now_secs();
    if let Ok(mut e) = st.aof.fsync_error.lock() {
        if e.take().is_some() {
            st.log(
                Level::Warning,
                "AOF reopen, just ignore the AOF fsync error in bio job",
            );
        }
    }
    if st.aof.last_write_error.take().is_some() {
        st.log(Level::Warning, "AOF reopen, just ignore the last error.");
    }
    sync(st);
    Ok(())
}

/// `CONFIG SET appendonly no` (Redis's `stopAppendOnly`).
pub fn stop_append_only(st: &mut NodeState) {
    flush(st, true);
    if let Some(file) = st.aof.file.take() {
        match file.sync_data() {
            Ok(()) => st.aof.last_fsync = now_secs(),
            Err(e) => st.log(
                Level::Warning,
                &format!("Fail to fsync the AOF file: {}", strerror(&e)),
            ),
        }
    }
    st.repl.aof.seldb = -1;
    st.aof.state = State::Off;
    st.aof.rewrite_scheduled = false;
    st.aof.last_incr_size = 0;
    st.aof.last_incr_fsync_offset = 0;
    kill_rewrite(st);
    st.repl.aof.buf.clear();
    sync(st);
}

/// Applies a CONFIG SET that changed `appendonly` (Redis's `updateAppendonly`). The error is
/// Redis's text for CONFIG SET.
pub fn config_changed(st: &mut NodeState, in_exec: bool) -> Result<(), &'static str> {
    sync(st);
    let on = st.config.appendonly;
    if !on && st.aof.state != State::Off {
        stop_append_only(st);
    } else if on && st.aof.state == State::Off && start_append_only(st, in_exec).is_err() {
        st.config.appendonly = false;
        return Err("Unable to turn on AOF. Check server logs.");
    }
    Ok(())
}

/// Redis's `aofRewriteLimited`: after 3 failures in a row, automatic rewrites wait 1, 2, 4...
/// up to 60 minutes.
fn rewrite_limited(st: &mut NodeState) -> bool {
    if st.aof.consecutive_failures < 3 {
        st.aof.limit_delay_minutes = 0;
        st.aof.limit_next_time = 0;
        return false;
    }
    let now = now_secs();
    if st.aof.limit_next_time != 0 {
        if now < st.aof.limit_next_time {
            return true;
        }
        st.aof.limit_next_time = 0;
        return false;
    }
    st.aof.limit_delay_minutes = if st.aof.limit_delay_minutes == 0 {
        1
    } else {
        (st.aof.limit_delay_minutes * 2).min(60)
    };
    st.aof.limit_next_time = now + st.aof.limit_delay_minutes * 60;
    st.log(
        Level::Warning,
        &format!("Background AOF rewrite has repeatedly failed and triggered the limit, will retry in {} minutes", st.aof.limit_delay_minutes),
    );
    true
}

/// The AOF part of the server cron: scheduled and automatic rewrites, postponed flushes,
/// retrying after a write error, and the `everysec` fsync of an idle file.
pub fn cron(st: &mut NodeState) {
    let busy = |st: &NodeState| crate::rdb::bgsave::active_child(st);
    if !busy(st) && st.aof.rewrite_scheduled && !rewrite_limited(st) {
        let _ = rewrite_background(st);
    }
    if !busy(st) && st.aof.state == State::On {
        let perc: u64 = st
            .config
            .extra_or("auto-aof-rewrite-percentage", "100")
            .parse()
            .unwrap_or(100);
        let min: u64 = st
            .config
            .extra_or("auto-aof-rewrite-min-size", "67108864")
            .parse()
            .unwrap_or(64 << 20);
        if perc > 0 && st.aof.current_size > min {
            let base = st.aof.base_size.max(1);
            let growth = (st.aof.current_size * 100 / base) as i64 - 100;
            if growth >= perc as i64 && !rewrite_limited(st) {
                st.log(
                    Level::Notice,
                    &format!("Starting automatic rewriting of AOF on {growth}% growth"),
                );
                let _ = rewrite_background(st);
            }
        }
    }
    if st.aof.state != State::Off {
        flush(st, st.aof.last_write_error.is_some());
    }
}

/// Flushes and fsyncs the AOF when the server shuts down (Redis's `prepareForShutdown`).
pub fn shutdown(st: &mut NodeState) {
    if st.aof.rewrite.is_some() {
        st.log(
            Level::Warning,
            "There is a child rewriting the AOF. Killing it!",
        );
        kill_rewrite(st);
    }
    if st.aof.state != State::Off {
        st.log(Level::Notice, "Calling fsync() on the AOF file.");
        flush(st, true);
        if let Some(Err(e)) = st.aof.file.as_ref().map(File::sync_data) {
            st.log(
                Level::Warning,
                &format!("Fail to fsync the AOF file: {}.", strerror(&e)),
            );
        }
    }
}

/// What loading at startup found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Nothing to load.
    Nothing,
    /// The AOF (`appendonly yes`).
    Aof,
    /// The RDB file: keys loaded and keys expired.
    Rdb(u64, u64),
}

/// Loads the dataset at startup as Redis's `loadDataFromDisk` and then prepares the AOF
/// (`aofOpenIfNeededOnServerStart`, `aofDelHistoryFiles`): from the AOF when `appendonly yes`,
/// else from the RDB file. The error is the fatal message.
pub fn load_at_startup(st: &mut NodeState, now_ms: i64) -> Result<Source, String> {
    st.aof.state = if st.config.appendonly {
        State::On
    } else {
        State::Off
    };
    let source = if st.aof.state == State::On {
        load_manifest(st)?;
        let started = std::time::Instant::now();
        match load_files(st)? {
            Loaded::NotExist => Source::Nothing,
            _ => {
                st.log(
                    Level::Notice,
                    &format!(
                        "DB loaded from append only file: {:.3} seconds",
                        started.elapsed().as_secs_f64()
                    ),
                );
                Source::Aof
            }
        }
    } else {
        match crate::rdb::persist::load_at_startup(st, now_ms).map_err(|e| e.to_string())? {
            Some((loaded, expired)) => Source::Rdb(loaded, expired),
            None => Source::Nothing,
        }
    };
    open_on_server_start(st)?;
    del_history_files(st);
    sync(st);
    Ok(source)
}

/// Reads the manifest if the directory and file exist (Redis's `aofLoadManifestFromDisk`).
fn load_manifest(st: &mut NodeState) -> Result<(), String> {
    let dir = dir(&st.config);
    let path = dir.join(format!("{}.manifest", filename(&st.config)));
    if !dir.is_dir() || !path.exists() {
        return Ok(());
    }
    let text = std::fs::read(&path).map_err(|e| {
        format!(
            "Fatal error: can't open the AOF manifest file {} for reading: {}",
            path.display(),
            strerror(&e)
        )
    })?;
    st.aof.manifest = Manifest::parse(&text).map_err(|e| {
        st.log(Level::Warning, "\n*** FATAL AOF MANIFEST FILE ERROR ***\n");
        if let Some((n, line)) = &e.line {
            st.log(
                Level::Warning,
                &format!("Reading the manifest file, at line {n}\n"),
            );
            st.log(Level::Warning, &format!(">>> '{line}'\n"));
        }
        st.log(Level::Warning, &format!("{}\n", e.msg));
        e.to_string()
    })?;
    Ok(())
}

/// Loads the BASE and INCR files (Redis's `loadAppendOnlyFiles`), after moving an old-style
/// single AOF file into the directory if there is one.
fn load_files(st: &mut NodeState) -> Result<Loaded, String> {
    let dir = dir(&st.config);
    let filename = filename(&st.config);
    let old = Path::new(&st.config.dir).join(&filename);
    if old.is_file() {
        let am = &st.aof.manifest;
        let upgrade = !dir.is_dir()
            || (am.base.is_none() && am.incr.is_empty())
            || (am.incr.is_empty()
                && am.base.as_ref().is_some_and(|b| b.name == filename)
                && !dir.join(&filename).exists());
        if upgrade {
            upgrade_prepare(st, &old, &dir, &filename)?;
        }
    }
    let am = st.aof.manifest.clone();
    if am.base.is_none() && am.incr.is_empty() {
        return Ok(Loaded::NotExist);
    }
    let mut total = 0;
    for ai in am.base.iter().chain(am.incr.iter()) {
        match std::fs::metadata(dir.join(&ai.name)) {
            Ok(m) => total += m.len(),
            Err(e) => {
                let msg = format!(
                    "Unable to obtain the AOF file {} length. stat: {}",
                    ai.name,
                    strerror(&e)
                );
                st.log(Level::Warning, &msg);
                return Err(msg);
            }
        }
    }
    if total == 0 {
        return Ok(Loaded::Empty);
    }
    // Nothing expires while loading (Redis's `keyIsExpired` during loading), and nothing is
    // propagated.
    st.set_expire_mode(crate::keyspace::ExpireMode::Ignore);
    st.repl.loading = true;
    let result = load_each(st, &am, &dir, &filename);
    st.repl.loading = false;
    st.set_expire_mode(if st.repl.is_master() {
        crate::keyspace::ExpireMode::Delete
    } else {
        crate::keyspace::ExpireMode::Keep
    });
    let (ret, base_size) = result?;
    st.aof.current_size = total;
    st.aof.base_size = base_size;
    Ok(ret)
}

fn load_each(
    st: &mut NodeState,
    am: &Manifest,
    dir: &Path,
    filename: &str,
) -> Result<(Loaded, u64), String> {
    let total_num = am.file_count();
    let mut num = 0;
    let mut base_size = 0;
    let mut ret = Loaded::Ok;
    let files = am
        .base
        .iter()
        .map(|b| (b, true))
        .chain(am.incr.iter().map(|i| (i, false)));
    for (ai, is_base) in files {
        num += 1;
        let last = num == total_num;
        if is_base {
            base_size = std::fs::metadata(dir.join(&ai.name)).map_or(0, |m| m.len());
        }
        let started = std::time::Instant::now();
        ret = load::load_file(st, dir, &ai.name, ai.name == filename);
        if ret == Loaded::Ok || (ret == Loaded::Truncated && last) {
            st.log(
                Level::Notice,
                &format!(
                    "DB loaded from {} file {}: {:.3} seconds",
                    if is_base { "base" } else { "incr" },
                    ai.name,
                    started.elapsed().as_secs_f64()
                ),
            );
        }
        if !is_base && ret == Loaded::Empty {
            ret = Loaded::Ok;
        }
        if ret == Loaded::Truncated && !last {
            st.log(
                Level::Warning,
                "Fatal error: the truncated file is not the last file",
            );
            return Err("Fatal error: the truncated file is not the last file".into());
        }
        match ret {
            Loaded::OpenErr | Loaded::Failed | Loaded::NotExist => {
                return Err(format!(
                    "Fatal error loading the append only file {}",
                    ai.name
                ));
            }
            _ => {}
        }
    }
    Ok((ret, base_size))
}

/// Moves an old single-file AOF into the directory as its BASE (Redis's `aofUpgradePrepare`).
fn upgrade_prepare(
    st: &mut NodeState,
    old: &Path,
    dir: &Path,
    filename: &str,
) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| {
        format!(
            "Can't open or create append-only dir {}: {}",
            dir.display(),
            strerror(&e)
        )
    })?;
    let am = &mut st.aof.manifest;
    am.base = Some(manifest::AofInfo {
        name: filename.to_string(),
        seq: 1,
        kind: manifest::TYPE_BASE,
    });
    am.base_seq = 1;
    am.dirty = true;
    am.persist(dir, filename)?;
    std::fs::rename(old, dir.join(filename)).map_err(|e| {
        format!(
            "Error trying to move the old AOF file {filename} into dir {}: {}",
            dir.display(),
            strerror(&e)
        )
    })?;
    st.log(
        Level::Notice,
        &format!(
            "Successfully migrated an old-style AOF file ({filename}) into the AOF directory ({}).",
            dir.display()
        ),
    );
    Ok(())
}

/// DEBUG LOADAOF: flushes the AOF, empties the data and loads the AOF files again. `Err` when
/// they cannot be loaded (Redis exits then).
pub fn debug_loadaof(st: &mut NodeState) -> Result<(), String> {
    let changes = st.changes;
    if st.aof.state != State::Off {
        flush(st, true);
    }
    for db in st.dbs.iter_mut() {
        db.touch_existing_watched();
        db.swap_data(&mut crate::keyspace::Db::default());
    }
    crate::rdb::persist::install_functions(st, &[]);
    st.aof.manifest = Manifest::default();
    load_manifest(st)?;
    del_history_files(st);
    match load_files(st)? {
        Loaded::Ok | Loaded::Empty => {}
        _ => return Err("Fatal error loading the append only file".into()),
    }
    // Redis's `server.dirty = 0`: DEBUG LOADAOF itself is neither appended nor replicated.
    st.dirty = 0;
    st.changes = changes;
    st.log(Level::Warning, "Append Only File loaded by DEBUG LOADAOF");
    Ok(())
}

/// With the AOF on, after loading: a BASE for an empty start, the last INCR opened for
/// appending, the manifest persisted (Redis's `aofOpenIfNeededOnServerStart`).
fn open_on_server_start(st: &mut NodeState) -> Result<(), String> {
    if st.aof.state != State::On {
        return Ok(());
    }
    let dir = dir(&st.config);
    let filename = filename(&st.config);
    std::fs::create_dir_all(&dir).map_err(|e| {
        format!(
            "Can't open or create append-only dir {}: {}",
            dir.display(),
            strerror(&e)
        )
    })?;
    let had_incr = !st.aof.manifest.incr.is_empty();
    if st.aof.manifest.base.is_none() && !had_incr {
        let preamble = st.config.extra_or("aof-use-rdb-preamble", "yes") == "yes";
        let base = st.aof.manifest.new_base(&filename, preamble);
        let job = rewrite::BaseJob::of(st, crate::node::unix_ms());
        let incremental = st.config.extra_or("aof-rewrite-incremental-fsync", "yes") == "yes";
        write_base(&dir.join(&base), &job.encode(), incremental)?;
        st.log(
            Level::Notice,
            &format!("Creating AOF base file {base} on server start"),
        );
    }
    let name = st.aof.manifest.last_incr(&filename);
    let file = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(dir.join(&name))
        .map_err(|e| format!("Can't open the append-only file {name}: {}", strerror(&e)))?;
    st.aof.manifest.persist(&dir, &filename)?;
    let size = file.metadata().map_or(0, |m| m.len());
    st.aof.file = Some(file);
    st.aof.last_incr_size = size;
    st.aof.last_incr_fsync_offset = size;
    let verb = if had_incr { "Opening" } else { "Creating" };
    st.log(
        Level::Notice,
        &format!("{verb} AOF incr file {name} on server start"),
    );
    Ok(())
}

/// The AOF fields of INFO persistence, as Redis 7.0 prints them.
pub fn info_fields(st: &NodeState) -> Vec<(&'static str, String)> {
    let aof = &st.aof;
    let mut out = vec![
        ("aof_enabled", u8::from(aof.state != State::Off).to_string()),
        (
            "aof_rewrite_in_progress",
            u8::from(aof.rewrite.is_some()).to_string(),
        ),
        (
            "aof_rewrite_scheduled",
            u8::from(aof.rewrite_scheduled).to_string(),
        ),
        (
            "aof_last_rewrite_time_sec",
            aof.last_rewrite_secs.to_string(),
        ),
        (
            "aof_current_rewrite_time_sec",
            aof.rewrite
                .as_ref()
                .map_or(-1, |r| now_secs() - r.started)
                .to_string(),
        ),
        (
            "aof_last_bgrewrite_status",
            if aof.last_bgrewrite_ok { "ok" } else { "err" }.into(),
        ),
        ("aof_rewrites", aof.rewrites.to_string()),
        (
            "aof_rewrites_consecutive_failures",
            aof.consecutive_failures.to_string(),
        ),
        (
            "aof_last_write_status",
            if aof.write_error().is_none() {
                "ok"
            } else {
                "err"
            }
            .into(),
        ),
        // No fork here, so no copy-on-write.
        ("aof_last_cow_size", "0".into()),
    ];
    if st.config.appendonly {
        out.extend([
            ("aof_current_size", aof.current_size.to_string()),
            ("aof_base_size", aof.base_size.to_string()),
            (
                "aof_pending_rewrite",
                u8::from(aof.rewrite_scheduled).to_string(),
            ),
            ("aof_buffer_length", st.repl.aof.buf.len().to_string()),
            (
                "aof_pending_bio_fsync",
                u8::from(aof.fsync_busy.load(Ordering::Acquire)).to_string(),
            ),
            ("aof_delayed_fsync", aof.delayed_fsync.to_string()),
        ]);
    }
    out
}
