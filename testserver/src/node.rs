//! One node: everything a Redis process owns, kept per node so many nodes can share a process.
//!
//! All mutable state sits in one [`NodeState`] behind one mutex (`parking_lot`'s, for its timed
//! waits: see [`Node::with_state`] and `script::busy`). Connection tasks
//! parse and encode in parallel, then take the lock once per batch of commands and run the whole
//! batch. That gives every node a single total order of writes — the order replication, WATCH,
//! MULTI/EXEC and blocking pops rely on — at the cost of one uncontended lock per batch. The lock
//! is never held across an `.await`.

use std::collections::HashMap;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::{Mutex, MutexGuard};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use bytes::{Bytes, BytesMut};
use tokio::sync::{oneshot, watch};

use crate::acl::Acl;
use crate::client::{Client, ClientEntry};
use crate::config::Config;
use crate::keyspace::{ClientId, Db};
use crate::logging::{Level, Logger, Role};
use crate::pubsub::PubSub;
use crate::repl::{event, Repl};

/// Current Unix time in microseconds.
pub fn unix_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

/// Current Unix time in milliseconds.
pub fn unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Counters reported by INFO stats and INFO commandstats.
#[derive(Debug, Default)]
pub struct Stats {
    /// total_connections_received
    pub connections_received: u64,
    /// total_commands_processed
    pub commands_processed: u64,
    /// rejected_connections
    pub rejected_connections: u64,
    /// expired_keys
    pub expired_keys: u64,
    /// keyspace_hits
    pub keyspace_hits: u64,
    /// keyspace_misses
    pub keyspace_misses: u64,
    /// total_net_input_bytes
    pub net_input_bytes: u64,
    /// total_net_output_bytes
    pub net_output_bytes: u64,
    /// total_error_replies
    pub error_replies: u64,
    /// Per-command counters, indexed like the server's command table.
    pub commands: Vec<CommandStats>,
    /// Per-error-code counters (INFO errorstats).
    pub errors: HashMap<String, u64>,
    /// SLOWLOG entries.
    pub slowlog: crate::slowlog::SlowLog,
    /// Clients closed for passing `client-query-buffer-limit`
    /// (`client_query_buffer_limit_disconnections`, reported since Redis 7.2).
    pub query_buffer_disconnections: u64,
    /// Clients closed for passing `client-output-buffer-limit`
    /// (`client_output_buffer_limit_disconnections`, reported since Redis 7.2).
    pub output_buffer_disconnections: u64,
}

/// Limits every connection of a node applies without taking the node lock, so that a
/// `CONFIG SET` reaches connections that are already open from the moment it returns.
#[derive(Debug, Default)]
pub struct LiveLimits {
    /// `proto-max-bulk-len`.
    pub max_bulk_len: AtomicU64,
    /// `client-query-buffer-limit`.
    pub query_buffer: AtomicU64,
}

impl LiveLimits {
    fn new(config: &Config) -> Arc<LiveLimits> {
        let live = Arc::new(LiveLimits::default());
        live.update(config);
        live
    }

    /// Publishes `config`'s values.
    pub fn update(&self, config: &Config) {
        self.max_bulk_len
            .store(config.proto_max_bulk_len as u64, Ordering::Relaxed);
        self.query_buffer
            .store(config.client_query_buffer_limit as u64, Ordering::Relaxed);
    }
}

/// INFO commandstats for one command.
#[derive(Debug, Default, Clone, Copy)]
pub struct CommandStats {
    /// calls
    pub calls: u64,
    /// usec
    pub usec: u64,
    /// rejected_calls
    pub rejected_calls: u64,
    /// failed_calls
    pub failed_calls: u64,
}

/// What a blocked client's command answers when its timeout passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeoutReply {
    /// `*-1` / `_` (BLPOP, BRPOP, BZPOPMIN, BLMPOP...).
    NullArray,
    /// `$-1` / `_` (BLMOVE, BRPOPLPUSH).
    NullBulk,
}

/// A client parked on keys by a blocking command, with the command to run again when one of
/// those keys receives data.
#[derive(Debug)]
pub struct Waiter {
    /// The parked connection state; handed back with the reply.
    pub client: Box<Client>,
    /// The blocking command.
    pub argv: Vec<Bytes>,
    /// The keys it waits on (in `db`).
    pub keys: Vec<Bytes>,
    /// Database of the keys.
    pub db: usize,
    /// The reply when the timeout passes.
    pub on_timeout: TimeoutReply,
    /// Where the reply goes.
    pub wake: oneshot::Sender<(Box<Client>, BytesMut)>,
}

/// Everything one node owns. Guarded by [`Node::lock`].
#[derive(Debug)]
pub struct NodeState {
    /// The databases.
    pub dbs: Vec<Db>,
    /// Configuration.
    pub config: Config,
    /// Connected clients, by id.
    pub clients: crate::keyspace::FastMap<ClientId, ClientEntry>,
    /// Channel and pattern subscriptions.
    pub pubsub: PubSub,
    /// ACL users.
    pub acl: Acl,
    /// Counters.
    pub stats: Stats,
    /// Clients parked by blocking commands, by client id, in arrival order per key.
    pub waiters: crate::keyspace::FastMap<ClientId, Waiter>,
    /// Arrival order of waiters per (db, key).
    pub wait_queues: crate::keyspace::FastMap<(usize, Bytes), std::collections::VecDeque<ClientId>>,
    /// Clients whose WATCHed keys changed: their EXEC will fail.
    pub watch_dirty: std::collections::HashSet<ClientId>,
    /// Changes since the last save (`rdb_changes_since_last_save`).
    pub dirty: u64,
    /// Changes ever made (never reset): a command that moved it changed the dataset and is
    /// propagated to replicas.
    pub changes: u64,
    /// Replication: role, ids, offsets, backlog, replicas, link to the master.
    pub repl: Repl,
    /// Where log lines go (the `rediscover-server` binary sets one; in-process nodes log
    /// through `tracing` only).
    pub logger: Option<Arc<Logger>>,
    /// Time of the last successful save (Unix seconds).
    pub last_save: i64,
    /// Outcome of saves, for INFO persistence.
    pub persistence: crate::rdb::SaveStatus,
    /// Forty hex characters identifying this run (`run_id`).
    pub run_id: String,
    /// CLIENT PAUSE: until when (Unix ms), and whether only writes are paused.
    pub pause: Option<(i64, bool)>,
    /// SHUTDOWN was requested.
    pub shutdown_requested: bool,
    /// SHUTDOWN NOW / FORCE: do not wait for lagging replicas.
    pub shutdown_now: bool,
    /// A shutdown is waiting for replicas to catch up.
    pub(crate) shutdown_draining: bool,
    /// When the node started.
    pub started: Instant,
    /// The commands this node runs (a server's, or a sentinel's).
    pub commands: &'static crate::cmd::CommandTable,
    /// Cluster state, on a node with `cluster-enabled yes` (see [`crate::cluster`]).
    pub cluster: Option<Box<crate::cluster::Cluster>>,
    /// MIGRATE's connection cache and the keys being moved.
    pub migrate: crate::cluster::migrate::MigrateState,
    /// The node itself, for work that finishes off the lock (MIGRATE).
    pub(crate) self_ref: std::sync::Weak<Node>,
    /// Limits connections read without the lock (kept in step with `config`).
    pub live: Arc<LiveLimits>,
    /// A sentinel's state, when the node runs in sentinel mode.
    pub sentinel: Option<Box<crate::sentinel::Sentinel>>,
    /// Lua scripting: the EVAL engine and script cache.
    pub scripts: crate::script::Scripts,
    /// `notify-keyspace-events` as [`crate::notify::class`] bits (0: nothing is published).
    pub notify_flags: u32,
    /// Clients in MONITOR mode, in the order they started, with their out-of-band queues.
    pub monitors: Vec<(ClientId, crate::client::OobSender)>,
    /// CLIENT TRACKING state.
    pub tracking: crate::tracking::Tracking,
    /// Memory accounting, eviction and the latency monitor.
    pub memory: crate::memory::MemoryState,
    /// AOF persistence (see [`crate::aof`]).
    pub aof: crate::aof::Aof,
}

impl NodeState {
    fn new(config: Config, self_ref: std::sync::Weak<Node>) -> Self {
        let dbs = (0..config.databases.max(1))
            .map(|_| Db::default())
            .collect();
        // A configuration that cannot start (see `Acl::at_startup`) is refused before a node
        // is made of it; one that gets here anyway starts with the default user only.
        let acl = Acl::at_startup(&config, false)
            .unwrap_or_else(|_| Acl::new(config.requirepass.as_deref()));
        NodeState {
            dbs,
            clients: Default::default(),
            pubsub: PubSub::default(),
            acl,
            stats: Stats::default(),
            waiters: Default::default(),
            wait_queues: Default::default(),
            watch_dirty: Default::default(),
            dirty: 0,
            changes: 0,
            repl: Repl::default(),
            logger: None,
            last_save: unix_ms() / 1000,
            persistence: Default::default(),
            run_id: random_hex(40),
            pause: None,
            shutdown_requested: false,
            shutdown_now: false,
            shutdown_draining: false,
            started: Instant::now(),
            commands: crate::cmd::server_table(),
            cluster: None,
            migrate: Default::default(),
            self_ref,
            live: LiveLimits::new(&config),
            notify_flags: crate::notify::flags_of(&config.notify_keyspace_events),
            monitors: Vec::new(),
            tracking: Default::default(),
            memory: crate::memory::MemoryState::new(&config),
            config,
            sentinel: None,
            scripts: Default::default(),
            aof: Default::default(),
        }
        .with_notify_synced()
    }

    fn with_notify_synced(mut self) -> Self {
        self.sync_notify_flags();
        self
    }

    /// Tells the databases whether modified keys must be collected for CLIENT TRACKING
    /// (after a client turned tracking on or off).
    pub fn sync_tracking(&mut self) {
        let on = self.tracking.active();
        for db in &mut self.dbs {
            db.tracking = on;
            if !on {
                db.touched.clear();
            }
        }
    }

    /// Takes `notify-keyspace-events` from the configuration into [`NodeState::notify_flags`]
    /// and the databases (after CONFIG SET).
    pub fn sync_notify_flags(&mut self) {
        self.notify_flags = crate::notify::flags_of(&self.config.notify_keyspace_events);
        for db in &mut self.dbs {
            db.notify = self.notify_flags;
            if self.notify_flags == 0 {
                db.events.clear();
            }
        }
    }

    /// Parks `waiter` on its keys.
    pub fn park(&mut self, waiter: Waiter) {
        let id = waiter.client.id;
        for key in &waiter.keys {
            self.dbs[waiter.db].block_on(key.clone());
            self.wait_queues
                .entry((waiter.db, key.clone()))
                .or_default()
                .push_back(id);
        }
        if let Some(entry) = self.clients.get_mut(&id) {
            entry.blocked = true;
        }
        self.waiters.insert(id, waiter);
    }

    /// Removes a parked client (served, timed out, killed or unblocked).
    pub fn unpark(&mut self, id: ClientId) -> Option<Waiter> {
        let waiter = self.waiters.remove(&id)?;
        for key in &waiter.keys {
            self.dbs[waiter.db].unblock(key);
            let qk = (waiter.db, key.clone());
            if let Some(q) = self.wait_queues.get_mut(&qk) {
                q.retain(|&c| c != id);
                if q.is_empty() {
                    self.wait_queues.remove(&qk);
                }
            }
        }
        if let Some(entry) = self.clients.get_mut(&id) {
            entry.blocked = false;
        }
        Some(waiter)
    }

    /// Collects what commands left in the databases' bookkeeping: clients whose WATCHed keys
    /// changed (their EXEC will fail) and keys that expired (counted in INFO stats, and
    /// propagated as DEL by a master).
    pub(crate) fn collect_db_events(&mut self) {
        for db in &mut self.dbs {
            if !db.dirty_watchers.is_empty() {
                self.watch_dirty.extend(db.dirty_watchers.drain(..));
            }
        }
        self.note_expired();
        self.repl.flush_pending();
    }

    /// Closes a client whose pending output passed its `client-output-buffer-limit` class, with
    /// Redis's log line.
    pub fn close_for_output_limit(&mut self, id: ClientId) {
        let Some(entry) = self.clients.get(&id) else {
            return;
        };
        if entry.killed {
            return;
        }
        // Described as it was before being scheduled to close (no `A` yet), as Redis does.
        let line = crate::cmd::client_info_line(self, id, entry);
        if let Some(entry) = self.clients.get_mut(&id) {
            entry.killed = true;
            entry.kill.notify_one();
        }
        self.stats.output_buffer_disconnections += 1;
        self.log(
            Level::Warning,
            &format!(
                "Client {line} scheduled to be closed ASAP for overcoming of output buffer limits."
            ),
        );
    }

    /// Closes the clients idle for more than `timeout` seconds (Redis's
    /// `clientsCronHandleTimeout`): never replicas, monitors, the link to a master, blocked
    /// clients or pub/sub subscribers.
    pub fn close_idle_clients(&mut self, now: Instant) {
        let timeout = self.config.timeout;
        if timeout == 0 {
            return;
        }
        let limit = std::time::Duration::from_secs(timeout);
        let mut closed = 0;
        for (id, entry) in self.clients.iter_mut() {
            let exempt = matches!(
                entry.kind,
                crate::client::ClientKind::Replica
                    | crate::client::ClientKind::Master
                    | crate::client::ClientKind::PubSub
            ) || entry.blocked
                || entry.killed
                || self.monitors.iter().any(|(m, _)| m == id);
            if !exempt && now.saturating_duration_since(entry.last_interaction) > limit {
                entry.killed = true;
                entry.kill.notify_one();
                closed += 1;
            }
        }
        for _ in 0..closed {
            self.log(Level::Verbose, "Closing idle client");
        }
    }

    /// Logs a line the way Redis does (role mark from the replication role), to the node's
    /// logger if it has one and to `tracing`.
    pub fn log(&self, level: Level, msg: &str) {
        match level {
            Level::Warning => tracing::warn!("{msg}"),
            Level::Notice => tracing::info!("{msg}"),
            _ => tracing::debug!("{msg}"),
        }
        if let Some(logger) = &self.logger {
            let role = if self.sentinel.is_some() {
                Role::Sentinel
            } else if self.repl.is_master() {
                Role::Master
            } else {
                Role::Replica
            };
            logger.log(role, level, msg);
        }
    }
}

/// A node: its state and the signals its tasks share.
#[derive(Debug)]
pub struct Node {
    state: Mutex<NodeState>,
    next_client_id: AtomicU64,
    shutdown: watch::Sender<bool>,
    /// Changes when the backlog has new bytes (feeders stream them).
    pub(crate) stream_signal: watch::Sender<()>,
    /// Changes when a replica acknowledges an offset (WAIT).
    pub(crate) ack_signal: watch::Sender<()>,
    /// The link generation: changes when the link to the master must be remade.
    pub(crate) link_signal: watch::Sender<u64>,
    /// Faults injected by tests (frozen, peers cut off). Kept across a restart.
    pub faults: Arc<crate::fault::Faults>,
    /// The running script, checked by connections before they take the lock.
    pub(crate) script_busy: Arc<crate::script::Busy>,
}

/// The locked state of a node. Dereferences to [`NodeState`]; when dropped it releases the
/// lock and wakes the tasks waiting for what happened under it (new stream bytes, replica
/// acknowledgements, a new master), so no command has to remember to.
pub struct NodeGuard<'a> {
    guard: MutexGuard<'a, NodeState>,
    node: &'a Node,
}

impl Deref for NodeGuard<'_> {
    type Target = NodeState;
    fn deref(&self) -> &NodeState {
        &self.guard
    }
}

impl DerefMut for NodeGuard<'_> {
    fn deref_mut(&mut self) -> &mut NodeState {
        &mut self.guard
    }
}

impl Drop for NodeGuard<'_> {
    fn drop(&mut self) {
        let events = std::mem::take(&mut self.guard.repl.events);
        if events == 0 {
            return;
        }
        if events & event::STREAM != 0 {
            // CONFIG SET repl-backlog-size takes effect at the next trim.
            let size = self.guard.config.repl_backlog_size;
            if let Some(backlog) = self.guard.repl.backlog.as_mut() {
                backlog.resize(size);
            }
            self.guard.trim_backlog();
            self.node.stream_signal.send_replace(());
        }
        if events & event::ACK != 0 {
            self.node.ack_signal.send_replace(());
        }
        if events & event::LINK != 0 {
            let generation = self.guard.repl.link_generation;
            self.node.link_signal.send_replace(generation);
        }
        if events & event::AOF != 0 {
            // Before any reply of what ran under the lock goes out, as Redis writes the AOF
            // in `beforeSleep`.
            crate::aof::flush(&mut self.guard, false);
        }
    }
}

impl Node {
    /// A node with `config`.
    pub fn new(config: Config) -> Arc<Node> {
        Node::with_faults(config, Default::default())
    }

    /// A node with `config` that shares `faults` (a node restarted where another stopped
    /// stays frozen or partitioned as its predecessor was).
    pub fn with_faults(config: Config, faults: Arc<crate::fault::Faults>) -> Arc<Node> {
        let script_busy = Arc::new(crate::script::Busy::default());
        Arc::new_cyclic(|me| Node {
            faults,
            state: Mutex::new({
                let mut st = NodeState::new(config, me.clone());
                st.scripts = crate::script::Scripts::new(script_busy.clone());
                st
            }),
            script_busy,
            next_client_id: AtomicU64::new(1),
            shutdown: watch::channel(false).0,
            stream_signal: watch::channel(()).0,
            ack_signal: watch::channel(()).0,
            link_signal: watch::channel(0).0,
        })
    }

    /// Whether a script (EVAL, FCALL) is running on this node: a test hook, so tests can wait
    /// for a busy script without racing it for the lock.
    #[doc(hidden)]
    pub fn script_running(&self) -> bool {
        self.script_busy.is_running()
    }

    /// Locks the node's state. Never hold the guard across an `.await`.
    ///
    /// While a script runs, the lock may be held for as long as it runs: a task that must
    /// wait then gives its runtime worker to the other tasks (`block_in_place`), so a few
    /// such waits (the cron, a replica link) cannot leave no thread to serve clients.
    /// Connections do not wait here while a script runs: see [`Node::with_state`].
    pub fn lock(&self) -> NodeGuard<'_> {
        if let Some(guard) = self.state.try_lock() {
            return NodeGuard { guard, node: self };
        }
        let multi_thread = self.script_busy.is_running()
            && tokio::runtime::Handle::try_current()
                .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
        let guard = if multi_thread {
            tokio::task::block_in_place(|| self.state.lock())
        } else {
            self.state.lock()
        };
        NodeGuard { guard, node: self }
    }

    /// The lock, unless a script runs: then `None` after at most
    /// [`LOCK_SLICE`](crate::script::busy::LOCK_SLICE) of waiting, however the lock was
    /// contended when the wait began (a script that starts while this waits is noticed).
    pub(crate) fn lock_unless_script(&self) -> Option<NodeGuard<'_>> {
        loop {
            if let Some(guard) = self.state.try_lock() {
                return Some(NodeGuard { guard, node: self });
            }
            if self.script_busy.is_running() {
                return None;
            }
            if let Some(guard) = self.state.try_lock_for(crate::script::busy::LOCK_SLICE) {
                return Some(NodeGuard { guard, node: self });
            }
        }
    }

    /// Runs `f` with the node state, never waiting for the lock for the length of a script:
    /// under the lock when no script runs; while one runs, after it ends or, once it has run
    /// past `busy-reply-threshold`, from inside it (its hook serves `f`, as Redis serves
    /// clients while a script is busy; commands then get `-BUSY` unless flagged
    /// `allow_busy`). `f` owns what it works on (it may run on the script's thread) and
    /// hands it back in its result.
    pub(crate) async fn with_state<R, F>(&self, f: F) -> R
    where
        F: FnOnce(&mut NodeState) -> R + Send + 'static,
        R: Send + 'static,
    {
        if let Some(mut st) = self.lock_unless_script() {
            return f(&mut st);
        }
        // `f` is shared with the visit so that a visit dropped unserved (the script ended
        // first) leaves it here to run under the lock.
        let slot = Arc::new(std::sync::Mutex::new(Some(f)));
        loop {
            if let Some(mut st) = self.lock_unless_script() {
                let f = slot.lock().unwrap_or_else(|e| e.into_inner()).take();
                if let Some(f) = f {
                    return f(&mut st);
                }
            }
            let wait = self.script_busy.until_threshold();
            if !wait.is_zero() {
                // Below the threshold clients wait for the script, as in Redis: on the lock
                // itself (a script of a few microseconds costs a few microseconds, not a
                // nap), a slice at a time so that the threshold is still noticed.
                let slice = wait.min(crate::script::busy::LOCK_SLICE);
                if let Some(guard) = self.state.try_lock_for(slice) {
                    let mut st = NodeGuard { guard, node: self };
                    let f = slot.lock().unwrap_or_else(|e| e.into_inner()).take();
                    if let Some(f) = f {
                        return f(&mut st);
                    }
                }
                tokio::task::yield_now().await;
                continue;
            }
            let (tx, rx) = oneshot::channel();
            let shared = slot.clone();
            let visit: crate::script::busy::Visit = Box::new(move |st: &mut NodeState| {
                let f = shared.lock().unwrap_or_else(|e| e.into_inner()).take();
                if let Some(f) = f {
                    let _ = tx.send(f(st));
                }
            });
            if self.script_busy.post(visit).is_err() {
                // The script ended meanwhile: take the lock.
                continue;
            }
            if let Ok(r) = rx.await {
                return r;
            }
            // Dropped unserved at the script's end: `f` is still in the slot.
        }
    }

    /// A fresh client id.
    pub fn next_client_id(&self) -> ClientId {
        self.next_client_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Asks every task of this node to stop.
    pub fn shutdown(&self) {
        self.shutdown.send_replace(true);
    }

    /// Shuts the node down as Redis 7.0 does on SHUTDOWN or SIGTERM: with replicas attached,
    /// writes are paused and replicas get up to `shutdown-timeout` seconds to acknowledge the
    /// whole stream, so nothing a client saw succeed is lost to them; then every task stops.
    pub async fn shutdown_after_replicas(&self) {
        if self.wait_for_replicas().await {
            crate::aof::shutdown(&mut self.lock());
            self.shutdown();
        }
    }

    /// Shuts the node down as Redis 7.0 does on SIGTERM or SIGINT (`prepareForShutdown` then
    /// `finishShutdown` with the flags of `shutdown-on-sigterm` / `shutdown-on-sigint`):
    /// lagging replicas are waited for (unless NOW), a running BGSAVE is killed, the AOF is
    /// flushed, and the RDB is saved when save points are configured (or SAVE is set) and
    /// NOSAVE is not. If that save fails the node keeps running, unless FORCE: `false` then,
    /// as Redis logs "can't exit" and goes on serving.
    pub async fn shutdown_on_signal(&self, flags: ShutdownFlags) -> bool {
        {
            let mut st = self.lock();
            st.shutdown_now = flags.now;
            // Marked as under way, so no client turn starts a second shutdown meanwhile.
            st.shutdown_draining = true;
        }
        if !self.wait_for_replicas().await {
            // SHUTDOWN ABORT.
            return false;
        }
        let mut st = self.lock();
        let cancel = |st: &mut NodeState| {
            st.log(
                Level::Warning,
                "Errors trying to shut down the server. Check the logs for more information.",
            );
            st.shutdown_requested = false;
            st.shutdown_draining = false;
            st.shutdown_now = false;
            st.pause = None;
        };
        if st.aof.state == crate::aof::State::WaitRewrite && st.aof.rewrite_in_progress() {
            if flags.force {
                st.log(Level::Warning, "Writing initial AOF. Exit anyway.");
            } else {
                st.log(Level::Warning, "Writing initial AOF, can't exit.");
                cancel(&mut st);
                return false;
            }
        }
        crate::aof::shutdown(&mut st);
        if crate::rdb::bgsave::shutdown_save(&mut st, flags.save, flags.nosave).is_err() {
            if flags.force {
                st.log(Level::Warning, "Error trying to save the DB. Exit anyway.");
            } else {
                st.log(Level::Warning, "Error trying to save the DB, can't exit.");
                cancel(&mut st);
                return false;
            }
        }
        drop(st);
        self.shutdown();
        true
    }

    /// The replica wait of a shutdown: with replicas attached (and no NOW), writes are paused
    /// and replicas get up to `shutdown-timeout` seconds to acknowledge the whole stream.
    /// `false` when SHUTDOWN ABORT cancelled it.
    async fn wait_for_replicas(&self) -> bool {
        let target = {
            let mut st = self.lock();
            st.shutdown_requested = true;
            if st.repl.replicas.is_empty() || st.shutdown_now {
                None
            } else {
                st.shutdown_draining = true;
                st.pause = Some((i64::MAX, true));
                st.repl.feed_command(&[b"REPLCONF", b"GETACK", b"*"]);
                st.log(Level::Warning, "Waiting for replicas before shutting down.");
                let secs = st
                    .config
                    .extra_or("shutdown-timeout", "10")
                    .parse()
                    .unwrap_or(10);
                Some((st.repl.offset(), std::time::Duration::from_secs(secs)))
            }
        };
        if let Some((offset, timeout)) = target {
            let mut acks = self.ack_signal.subscribe();
            let deadline = tokio::time::Instant::now() + timeout;
            loop {
                let lagging = {
                    let st = self.lock();
                    if !st.shutdown_requested {
                        // SHUTDOWN ABORT.
                        return false;
                    }
                    st.repl
                        .replicas
                        .iter()
                        .filter(|r| r.ack_offset < offset)
                        .count()
                };
                if lagging == 0 {
                    break;
                }
                tokio::select! {
                    changed = acks.changed() => if changed.is_err() { break },
                    _ = tokio::time::sleep_until(deadline) => {
                        self.lock().log(
                            Level::Warning,
                            &format!("{lagging} replicas still lagging behind the master; shutting down anyway."),
                        );
                        break;
                    }
                }
            }
        }
        true
    }

    /// Whether shutdown was asked for.
    pub fn is_shutting_down(&self) -> bool {
        *self.shutdown.borrow()
    }

    /// A receiver that changes to `true` on shutdown.
    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }
}

/// How a shutdown treats the RDB and lagging replicas: SHUTDOWN's options, and for a signal
/// the `shutdown-on-sigterm` / `shutdown-on-sigint` setting ([`ShutdownFlags::parse`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ShutdownFlags {
    /// SAVE: save even without save points.
    pub save: bool,
    /// NOSAVE: do not save even with save points.
    pub nosave: bool,
    /// NOW: do not wait for lagging replicas.
    pub now: bool,
    /// FORCE: exit even if the save (or the first AOF rewrite) failed.
    pub force: bool,
}

impl ShutdownFlags {
    /// The flags of a `shutdown-on-sigterm` / `shutdown-on-sigint` value (`default`, or any of
    /// `save`, `nosave`, `now`, `force`; CONFIG SET checks the combination).
    pub fn parse(value: &str) -> ShutdownFlags {
        let mut flags = ShutdownFlags::default();
        for word in value.split_whitespace() {
            match word.to_ascii_lowercase().as_str() {
                "save" => flags.save = true,
                "nosave" => flags.nosave = true,
                "now" => flags.now = true,
                "force" => flags.force = true,
                _ => {}
            }
        }
        flags
    }
}

/// `n` random lower-case hex characters (run ids, node ids).
pub fn random_hex(n: usize) -> String {
    let mut s = String::with_capacity(n);
    while s.len() < n {
        s.push_str(&format!("{:016x}", crate::keyspace::random_u64()));
    }
    s.truncate(n);
    s
}
