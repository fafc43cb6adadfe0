//! Replication: a node's role, its replication id and offset, the backlog, and how commands
//! become the replication stream.
//!
//! A master turns every command that changed the dataset into stream bytes exactly as Redis
//! does (`propagatePendingCommands`): the ops a command produced — its own argv, or the argv it
//! asked to be replicated as (`SET ... PXAT`, `LPOP` for a served `BLPOP`), preceded by `DEL`s
//! for keys it found expired — are encoded after a `SELECT` when the database changes, and
//! wrapped in `MULTI`/`EXEC` when there is more than one. The bytes go to the [`Backlog`], which
//! [`master`] feeders stream to each replica. A replica ([`replica`]) applies its master's stream
//! and appends the very same bytes to its own backlog, so its offsets match its master's and its
//! own replicas can follow it (chained replication) or continue after a promotion (PSYNC2).

pub mod backlog;
pub mod failover;
pub(crate) mod master;
pub(crate) mod replica;

use std::time::Instant;

use bytes::{Bytes, BytesMut};
use rediscover::resp::encode_command;

use crate::keyspace::{ClientId, ExpireMode};
use crate::node::NodeState;

pub use backlog::Backlog;

/// Something tasks outside the lock must hear about; raised under the lock, delivered when the
/// lock is released (see [`crate::node::NodeGuard`]).
pub(crate) mod event {
    /// New bytes in the backlog: feeders have something to send.
    pub const STREAM: u8 = 1;
    /// A replica acknowledged an offset: WAIT may be satisfied.
    pub const ACK: u8 = 2;
    /// The master to replicate from changed (REPLICAOF), or the link must be re-made.
    pub const LINK: u8 = 4;
    /// New bytes in the AOF buffer: written to the file when the lock is released.
    pub const AOF: u8 = 8;
}

/// A replica as its master sees it (`slaveN:` in INFO, ROLE).
#[derive(Debug, Clone)]
pub struct ReplicaInfo {
    /// The replica's connection id.
    pub client: ClientId,
    /// Its address as announced (`REPLCONF ip-address`) or seen.
    pub ip: String,
    /// Its listening port (`REPLCONF listening-port`).
    pub port: u16,
    /// Where its synchronisation is.
    pub state: ReplicaState,
    /// The offset it last acknowledged.
    pub ack_offset: u64,
    /// When it last acknowledged (for `lag`).
    pub ack_time: Instant,
    /// Offset of the next stream byte to send it.
    pub next: u64,
    /// It came with the old `SYNC`, which never acknowledges.
    pub legacy: bool,
}

/// States of a replica on its master, as INFO names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplicaState {
    /// Waiting for the snapshot.
    WaitBgsave,
    /// Receiving the snapshot.
    SendBulk,
    /// Streaming.
    Online,
}

impl ReplicaState {
    /// The name INFO uses.
    pub fn name(self) -> &'static str {
        match self {
            ReplicaState::WaitBgsave => "wait_bgsave",
            ReplicaState::SendBulk => "send_bulk",
            ReplicaState::Online => "online",
        }
    }
}

/// A replica's link to its master.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    /// Not connected; will connect.
    Connect,
    /// Connecting.
    Connecting,
    /// Exchanging PING / AUTH / REPLCONF / PSYNC.
    Handshake,
    /// Receiving the snapshot.
    Transfer,
    /// Streaming.
    Connected,
}

impl LinkState {
    /// The name ROLE uses.
    pub fn name(self) -> &'static str {
        match self {
            LinkState::Connect => "connect",
            LinkState::Connecting => "connecting",
            LinkState::Handshake => "handshake",
            LinkState::Transfer => "sync",
            LinkState::Connected => "connected",
        }
    }
}

/// What a replica knows of its master.
#[derive(Debug, Clone)]
pub struct MasterLink {
    /// Master host.
    pub host: String,
    /// Master port.
    pub port: u16,
    /// Link state.
    pub state: LinkState,
    /// Last time anything came from the master.
    pub last_io: Instant,
    /// Since when the link has been down (`None` while connected).
    pub down_since: Option<Instant>,
    /// Snapshot size announced by the master (-1: unknown, as with `$EOF:`).
    pub transfer_size: i64,
    /// Snapshot bytes read so far.
    pub transfer_read: u64,
    /// When the transfer started.
    pub transfer_started: Instant,
    /// Stream bytes read from the master (`slave_read_repl_offset`).
    pub read_offset: u64,
    /// The connection id of the master link, while there is one.
    pub client: Option<ClientId>,
    /// The database the master's stream last selected (`repl-stream-db` for our replicas).
    pub db: usize,
}

/// Fault injection on a replica's link to its master.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LinkFault {
    /// Normal operation.
    #[default]
    None,
    /// Keep the connection but stop reading from it and acknowledging.
    Paused,
    /// No connection to the master at all until healed.
    Partitioned,
}

/// A node's replication state. Lives in [`NodeState`], guarded by the node lock.
#[derive(Debug)]
pub struct Repl {
    /// `master_replid`.
    pub replid: String,
    /// `master_replid2`: the id of the history this node continued from (after a promotion).
    pub replid2: String,
    /// `second_repl_offset`: the first offset `replid2` is no longer valid for (-1: none).
    pub second_offset: i64,
    /// `master_repl_offset` when there is no backlog (the backlog's end otherwise).
    offset: u64,
    /// The backlog, created when the first replica attaches (or on a replica's first sync).
    pub backlog: Option<Backlog>,
    /// Database the stream last selected (-1: the next op must SELECT).
    pub(crate) seldb: i64,
    /// Ops of the command being run, not yet encoded.
    pub(crate) pending: Vec<(usize, Vec<Bytes>)>,
    /// Attached replicas, in attach order.
    pub replicas: Vec<ReplicaInfo>,
    /// The master, when this node is a replica.
    pub master: Option<MasterLink>,
    /// A demoted master's own history, offered to its new master in PSYNC even though it has
    /// no backlog (a replica offers the history in its backlog).
    pub(crate) cached: bool,
    /// `sync_full`.
    pub sync_full: u64,
    /// `sync_partial_ok`.
    pub sync_partial_ok: u64,
    /// `sync_partial_err`.
    pub sync_partial_err: u64,
    /// Events to deliver when the lock is released.
    pub(crate) events: u8,
    /// Fault injected on the link to the master.
    pub fault: LinkFault,
    /// Bumped whenever the link to the master must be remade.
    pub(crate) link_generation: u64,
    /// Last time the master queued its periodic PING.
    pub(crate) last_ping: Instant,
    /// A FAILOVER under way.
    pub failover: Option<failover::Failover>,
    /// The AOF buffer, fed with the same ops as the stream.
    pub(crate) aof: crate::aof::Feed,
    /// The AOF is being loaded: what it replays is neither streamed nor appended again.
    pub(crate) loading: bool,
}

impl Default for Repl {
    fn default() -> Self {
        Repl {
            replid: crate::node::random_hex(40),
            replid2: "0".repeat(40),
            second_offset: -1,
            offset: 0,
            backlog: None,
            seldb: -1,
            pending: Vec::new(),
            replicas: Vec::new(),
            master: None,
            cached: false,
            sync_full: 0,
            sync_partial_ok: 0,
            sync_partial_err: 0,
            events: 0,
            fault: LinkFault::None,
            link_generation: 0,
            last_ping: Instant::now(),
            failover: None,
            aof: crate::aof::Feed::default(),
            loading: false,
        }
    }
}

impl Repl {
    /// `master_repl_offset`.
    pub fn offset(&self) -> u64 {
        self.backlog.as_ref().map_or(self.offset, Backlog::end)
    }

    /// Whether this node is a master (has no master of its own).
    pub fn is_master(&self) -> bool {
        self.master.is_none()
    }

    /// Whether commands must be turned into ops: a master that has a backlog streams them, and
    /// an AOF that is on appends them (Redis's `shouldPropagate`).
    #[inline]
    pub fn propagating(&self) -> bool {
        !self.loading && ((self.master.is_none() && self.backlog.is_some()) || self.aof.active)
    }

    /// Creates the backlog if there is none. On a master this starts a new history (new
    /// replication id, no `replid2`), as Redis does when its first replica attaches.
    pub fn ensure_backlog(&mut self, size: u64) {
        if self.backlog.is_some() {
            return;
        }
        if self.master.is_none() {
            self.replid = crate::node::random_hex(40);
            self.clear_replid2();
        }
        self.backlog = Some(Backlog::new(self.offset, size));
    }

    /// Forgets `replid2`.
    pub fn clear_replid2(&mut self) {
        self.replid2 = "0".repeat(40);
        self.second_offset = -1;
    }

    /// Starts a new history that continues the current one: the old id becomes `replid2`,
    /// valid up to the current offset (Redis's `shiftReplicationId`).
    pub fn shift_replid(&mut self) {
        self.replid2 = std::mem::replace(&mut self.replid, crate::node::random_hex(40));
        self.second_offset = self.offset() as i64 + 1;
    }

    /// Adopts `replid` as the current history, keeping the old one as `replid2` (a master
    /// that answered `+CONTINUE` with a new id).
    pub fn adopt_replid(&mut self, replid: String) {
        self.replid2 = std::mem::replace(&mut self.replid, replid);
        self.second_offset = self.offset() as i64 + 1;
    }

    /// Restarts the stream at `offset` with history `replid` (after a full sync).
    pub fn reset_history(&mut self, replid: String, offset: u64, backlog_size: u64) {
        self.replid = replid;
        self.clear_replid2();
        self.offset = offset;
        self.backlog = Some(Backlog::new(offset, backlog_size));
        self.seldb = -1;
    }

    /// Takes up the history an RDB file was saved at (`repl-id`, `repl-offset`), so that a
    /// replica restarted from it offers that history to its master in PSYNC.
    pub fn restore_history(&mut self, replid: String, offset: u64, backlog_size: u64) {
        self.reset_history(replid, offset, backlog_size);
        self.cached = true;
    }

    /// Appends stream bytes exactly as received from this node's master (a replica's backlog
    /// holds its master's stream byte for byte).
    pub fn feed_raw(&mut self, bytes: &[u8]) {
        match self.backlog.as_mut() {
            Some(b) => b.append(bytes),
            None => self.offset += bytes.len() as u64,
        }
        self.events |= event::STREAM;
    }

    /// Queues one op of the running command.
    pub fn push(&mut self, db: usize, argv: Vec<Bytes>) {
        self.pending.push((db, argv));
    }

    /// Encodes the running command's ops into the stream and the AOF buffer (Redis's
    /// `propagatePendingCommands`): SELECT when the database changes, MULTI/EXEC around more
    /// than one op. Returns whether anything was written to the stream.
    pub fn flush_pending(&mut self) -> bool {
        if self.pending.is_empty() {
            return false;
        }
        let ops = std::mem::take(&mut self.pending);
        if self.aof.active {
            self.aof.append(&ops);
            self.events |= event::AOF;
        }
        // A replica's backlog holds its master's stream as received, never its own ops.
        let backlog = match self.backlog.as_mut() {
            Some(b) if self.master.is_none() => b,
            _ => {
                self.pending = ops;
                self.pending.clear();
                return false;
            }
        };
        let tail = backlog.tail_mut();
        let before = tail.len();
        let wrap = ops.len() > 1;
        if wrap {
            select(tail, &mut self.seldb, ops[0].0);
            encode_command(tail, &[b"MULTI"]);
        }
        for (db, argv) in &ops {
            select(tail, &mut self.seldb, *db);
            encode_command(tail, argv);
        }
        if wrap {
            encode_command(tail, &[b"EXEC"]);
        }
        let written = tail.len() - before;
        backlog.commit(written);
        self.pending = ops;
        self.pending.clear();
        self.events |= event::STREAM;
        true
    }

    /// Queues a command that is not a client's (PING, REPLCONF GETACK) straight into the
    /// stream, without a SELECT, as Redis's `replicationFeedSlaves` does for them.
    pub fn feed_command(&mut self, argv: &[&[u8]]) {
        if let Some(backlog) = self.backlog.as_mut() {
            let tail = backlog.tail_mut();
            let before = tail.len();
            encode_command(tail, argv);
            let n = tail.len() - before;
            backlog.commit(n);
            self.events |= event::STREAM;
        }
    }

    /// Number of online replicas that acknowledged at least `offset` (WAIT).
    pub fn acked(&self, offset: u64) -> usize {
        self.replicas
            .iter()
            .filter(|r| r.state == ReplicaState::Online && r.ack_offset >= offset)
            .count()
    }

    /// Online replicas whose last acknowledgement is at most `max_lag` seconds old
    /// (`min-replicas-max-lag`).
    pub fn good_replicas(&self, max_lag: i64, now: Instant) -> usize {
        self.replicas
            .iter()
            .filter(|r| {
                r.state == ReplicaState::Online
                    && now.saturating_duration_since(r.ack_time).as_secs() as i64 <= max_lag
            })
            .count()
    }

    /// The replica attached through connection `id`.
    pub fn replica_mut(&mut self, id: ClientId) -> Option<&mut ReplicaInfo> {
        self.replicas.iter_mut().find(|r| r.client == id)
    }

    /// Seals the tail and drops what neither PSYNC nor a streaming replica needs any more.
    /// Callers with the node's configuration use [`NodeState::trim_backlog`], which also
    /// enforces the replicas' output buffer limit.
    pub(crate) fn trim(&mut self) {
        let keep = self.replicas.iter().map(|r| r.next).min();
        if let Some(b) = self.backlog.as_mut() {
            b.seal();
            b.trim(keep);
        }
    }
}

fn select(buf: &mut BytesMut, seldb: &mut i64, db: usize) {
    if *seldb != db as i64 {
        encode_command(buf, &[&b"SELECT"[..], db.to_string().as_bytes()]);
        *seldb = db as i64;
    }
}

impl NodeState {
    /// Turns keys that expired while a command ran (or in active expiry) into `DEL` ops on a
    /// master, and counts them in INFO stats.
    pub(crate) fn note_expired(&mut self) {
        if self.dbs.iter().all(|db| db.expired.is_empty()) {
            return;
        }
        let propagating = self.repl.propagating();
        let del: &'static [u8] = if self.config.extra_or("lazyfree-lazy-expire", "no") == "yes" {
            b"UNLINK"
        } else {
            b"DEL"
        };
        for (i, db) in self.dbs.iter_mut().enumerate() {
            if db.expired.is_empty() {
                continue;
            }
            self.stats.expired_keys += db.expired.len() as u64;
            for key in db.expired.drain(..) {
                if propagating {
                    self.repl
                        .pending
                        .push((i, vec![Bytes::from_static(del), key]));
                }
            }
        }
    }

    /// Makes this node a replica of `host:port` (REPLICAOF). A master hands its own history to
    /// the new master in PSYNC, so a demoted master can continue partially.
    pub fn become_replica(&mut self, host: String, port: u16) {
        if self.repl.master.is_none() {
            self.repl.cached = true;
        }
        self.repl.master = Some(MasterLink {
            host,
            port,
            state: LinkState::Connect,
            last_io: Instant::now(),
            down_since: Some(Instant::now()),
            transfer_size: -1,
            transfer_read: 0,
            transfer_started: Instant::now(),
            read_offset: self.repl.offset(),
            client: None,
            db: 0,
        });
        self.config.replicaof = self.repl.master.as_ref().map(|m| (m.host.clone(), m.port));
        self.set_expire_mode(ExpireMode::Keep);
        // Our replicas must resync with us: our history is about to change.
        self.disconnect_replicas();
        self.restart_link();
    }

    /// Makes this node a master (REPLICAOF NO ONE): a new replication id that continues the
    /// current history, so replicas of the old master can PSYNC here.
    pub fn become_master(&mut self) {
        let Some(link) = self.repl.master.take() else {
            return;
        };
        if let Some(id) = link.client {
            self.kill_client(id);
        }
        self.repl.shift_replid();
        self.repl.cached = false;
        self.config.replicaof = None;
        self.set_expire_mode(ExpireMode::Delete);
        // Replicas stay attached; they learn the new id when they next PSYNC.
        self.disconnect_replicas();
        self.restart_link();
    }

    /// Asks the link task to drop the connection to the master and connect again.
    pub fn restart_link(&mut self) {
        self.repl.link_generation += 1;
        self.repl.events |= event::LINK;
    }

    /// Closes every replica connection (they will resync).
    pub fn disconnect_replicas(&mut self) {
        let ids: Vec<_> = self.repl.replicas.iter().map(|r| r.client).collect();
        for id in ids {
            self.kill_client(id);
        }
    }

    /// Closes connection `id` (as CLIENT KILL does).
    pub fn kill_client(&mut self, id: ClientId) {
        if let Some(entry) = self.clients.get_mut(&id) {
            entry.killed = true;
            entry.kill.notify_one();
        }
    }

    /// How lookups treat keys whose TTL has passed: a master deletes them, a replica keeps
    /// them (reporting them absent) until its master's DEL arrives.
    pub fn set_expire_mode(&mut self, mode: ExpireMode) {
        for db in &mut self.dbs {
            db.expire_mode = mode;
        }
    }

    /// The master's periodic work, about once a second: PING replicas every
    /// `repl-ping-replica-period` seconds, drop replicas silent for `repl-timeout`.
    pub(crate) fn replication_cron(&mut self, now: Instant) {
        if self.repl.replicas.is_empty() {
            return;
        }
        let period = self.config.repl_ping_replica_period.max(1) as u64;
        // No PING while a FAILOVER with a timeout waits for a replica to catch up: the PING
        // would move the offset it must reach (Redis skips it the same way).
        let failing_over = self
            .repl
            .failover
            .as_ref()
            .is_some_and(|f| f.end_ms.is_some());
        if self.repl.is_master()
            && !failing_over
            && now.saturating_duration_since(self.repl.last_ping).as_secs() >= period
        {
            self.repl.last_ping = now;
            self.repl.feed_command(&[b"ping"]);
        }
        let timeout = self.config.repl_timeout.max(1) as u64;
        let silent: Vec<_> = self
            .repl
            .replicas
            .iter()
            .filter(|r| {
                r.state == ReplicaState::Online
                    && !r.legacy
                    && now.saturating_duration_since(r.ack_time).as_secs() > timeout
            })
            .map(|r| r.client)
            .collect();
        for id in silent {
            self.log(
                crate::logging::Level::Warning,
                "Disconnecting timedout replica (streaming sync)",
            );
            self.kill_client(id);
        }
    }
}

/// Lag below which a replica's backlog share is not worth checking against its limit.
const LAG_CHECK_FLOOR: u64 = 1 << 20;

impl NodeState {
    /// Trims the backlog, first closing replicas that lag by more than the hard limit of
    /// `client-output-buffer-limit replica` (256 MB by default, 0 = none), as Redis closes a
    /// replica whose output buffer grows past it: a stalled replica must not make the
    /// backlog hold the stream forever.
    pub(crate) fn trim_backlog(&mut self) {
        let end = self.repl.offset();
        let worst = self.repl.replicas.iter().map(|r| r.next).min();
        if worst.is_some_and(|next| end.saturating_sub(next) > LAG_CHECK_FLOOR) {
            let limit = replica_buffer_limit(&self.config);
            if limit > 0 {
                let over: Vec<_> = self
                    .repl
                    .replicas
                    .iter()
                    .filter(|r| end.saturating_sub(r.next) > limit)
                    .map(|r| r.client)
                    .collect();
                for id in over {
                    self.log(
                        crate::logging::Level::Warning,
                        "Client scheduled to be closed ASAP for overcoming of output buffer limits.",
                    );
                    self.repl.replicas.retain(|r| r.client != id);
                    self.kill_client(id);
                }
            }
        }
        self.repl.trim();
    }

    /// Injects a fault on this replica's link to its master (see [`LinkFault`]). Pausing keeps
    /// the connection; partitioning drops it and keeps it down until healed.
    pub fn set_link_fault(&mut self, fault: LinkFault) {
        let was = std::mem::replace(&mut self.repl.fault, fault);
        if was == LinkFault::Partitioned || fault == LinkFault::Partitioned {
            self.restart_link();
        } else {
            // Same generation: the running link just re-reads the fault.
            self.repl.events |= event::LINK;
        }
    }

    /// Whether this replica's link is up and it has applied everything it read.
    pub fn link_up(&self) -> bool {
        self.repl
            .master
            .as_ref()
            .is_some_and(|m| m.state == LinkState::Connected)
    }
}

/// The hard limit, in bytes, of the `slave`/`replica` class of `client-output-buffer-limit`.
fn replica_buffer_limit(config: &crate::config::Config) -> u64 {
    config.obuf_limits.replica.hard
}
