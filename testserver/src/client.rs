//! Per-connection state, and the registry entry that CLIENT LIST / CLIENT KILL see.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use tokio::sync::{mpsc, Notify};

use crate::keyspace::ClientId;

/// Where out-of-band bytes for a connection go (pub/sub messages, already encoded for its
/// protocol), with the count of bytes queued and not yet written to its socket: the client's
/// output buffer as `client-output-buffer-limit` measures it.
#[derive(Debug, Clone)]
pub struct OobSender {
    tx: mpsc::UnboundedSender<Bytes>,
    pending: Arc<AtomicU64>,
}

/// The connection task's end of an [`OobSender`].
#[derive(Debug)]
pub struct OobReceiver {
    rx: mpsc::UnboundedReceiver<Bytes>,
    pending: Arc<AtomicU64>,
}

/// A queue of out-of-band bytes for one connection.
pub fn oob_channel() -> (OobSender, OobReceiver) {
    let (tx, rx) = mpsc::unbounded_channel();
    let pending = Arc::new(AtomicU64::new(0));
    (
        OobSender {
            tx,
            pending: pending.clone(),
        },
        OobReceiver { rx, pending },
    )
}

impl OobSender {
    /// Queues `msg`; the bytes now pending, or `None` if the connection is gone.
    pub fn send(&self, msg: Bytes) -> Option<u64> {
        let len = msg.len() as u64;
        // Counted before it is queued: the connection may write it (and subtract it) before
        // this thread runs again, and the count must not go below zero meanwhile.
        let pending = self
            .pending
            .fetch_add(len, Ordering::Relaxed)
            .wrapping_add(len);
        if self.tx.send(msg).is_err() {
            self.pending.fetch_sub(len, Ordering::Relaxed);
            return None;
        }
        Some(pending)
    }

    /// Bytes queued or being written, not yet handed to the socket.
    pub fn pending(&self) -> u64 {
        self.pending.load(Ordering::Relaxed)
    }
}

impl OobReceiver {
    /// The next message.
    pub async fn recv(&mut self) -> Option<Bytes> {
        self.rx.recv().await
    }

    /// The next message if one is queued.
    pub fn try_recv(&mut self) -> Option<Bytes> {
        self.rx.try_recv().ok()
    }

    /// Bytes queued or being written, not yet handed to the socket.
    pub fn pending(&self) -> u64 {
        self.pending.load(Ordering::Relaxed)
    }

    /// Counts `n` bytes of messages as written to the socket.
    pub fn written(&self, n: u64) {
        self.pending.fetch_sub(n, Ordering::Relaxed);
    }
}

/// The state of one client connection, owned by its connection task and lent to commands.
#[derive(Debug)]
pub struct Client {
    /// CLIENT ID.
    pub id: ClientId,
    /// Selected database.
    pub db: usize,
    /// Whether the connection speaks RESP3 (after `HELLO 3`).
    pub resp3: bool,
    /// CLIENT SETNAME.
    pub name: Option<Bytes>,
    /// The ACL user this connection is authenticated as.
    pub user: Bytes,
    /// Whether the connection has authenticated (or needs not).
    pub authenticated: bool,
    /// Commands queued since MULTI (`None`: not in a transaction).
    pub multi: Option<Vec<Vec<Bytes>>>,
    /// A command queued in MULTI was rejected: EXEC must abort.
    pub multi_error: bool,
    /// WATCHed (db, key) pairs.
    pub watching: Vec<(usize, Bytes)>,
    /// A WATCHed key changed: EXEC must fail.
    pub watch_dirty: bool,
    /// Subscribed channels.
    pub channels: HashSet<Bytes>,
    /// Subscribed patterns.
    pub patterns: HashSet<Bytes>,
    /// Number of shard channels (SSUBSCRIBE); the names are kept in the node's `PubSub`.
    pub shard_channels: usize,
    /// Where pub/sub messages for this client go.
    pub oob: OobSender,
    /// Peer address.
    pub addr: SocketAddr,
    /// Local address.
    pub laddr: SocketAddr,
    /// When the connection was accepted.
    pub created: Instant,
    /// CLIENT REPLY OFF/SKIP state.
    pub reply_mode: ReplyMode,
    /// CLIENT NO-EVICT.
    pub no_evict: bool,
    /// Full name of the last command run (`get`, `client|list`), for CLIENT LIST.
    pub last_cmd: &'static str,
    /// Replication offset right after this client's last propagated write (WAIT waits for it).
    pub woff: u64,
    /// This is a replica's link to its master: its commands are obeyed (no ACL, no read-only
    /// gate) and its replies are not sent.
    pub master_link: bool,
    /// REPLCONF listening-port / ip-address / capa, sent by a replica before PSYNC.
    pub replconf: crate::repl::master::ReplConf,
    /// ASKING: the next command may use a slot this cluster node imports.
    pub asking: bool,
    /// READONLY: a cluster replica serves this client's reads.
    pub readonly: bool,
    /// In MONITOR mode.
    pub monitor: bool,
}

/// CLIENT REPLY modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyMode {
    /// Replies are sent.
    On,
    /// Replies are dropped.
    Off,
    /// The next command's reply is dropped.
    Skip,
    /// Set by SKIP: drop the reply of the command that is running now.
    SkipThis,
}

impl Client {
    /// A fresh connection's state.
    pub fn new(id: ClientId, addr: SocketAddr, laddr: SocketAddr, oob: OobSender) -> Self {
        Client {
            id,
            db: 0,
            resp3: false,
            name: None,
            user: Bytes::from_static(b"default"),
            authenticated: false,
            multi: None,
            multi_error: false,
            watching: Vec::new(),
            watch_dirty: false,
            channels: HashSet::new(),
            patterns: HashSet::new(),
            shard_channels: 0,
            oob,
            addr,
            laddr,
            created: Instant::now(),
            reply_mode: ReplyMode::On,
            no_evict: false,
            last_cmd: "NULL",
            woff: 0,
            master_link: false,
            replconf: Default::default(),
            asking: false,
            readonly: false,
            monitor: false,
        }
    }

    /// Number of channel, pattern and shard-channel subscriptions.
    pub fn subscriptions(&self) -> usize {
        self.channels.len() + self.patterns.len() + self.shard_channels
    }

    /// Whether a RESP2 client is in subscriber mode (only pub/sub commands allowed).
    pub fn in_resp2_pubsub(&self) -> bool {
        !self.resp3 && self.subscriptions() > 0
    }
}

/// What the node knows about a connection, for CLIENT LIST, CLIENT KILL and INFO clients.
/// The connection task refreshes it after every batch of commands.
#[derive(Debug)]
pub struct ClientEntry {
    /// Peer address.
    pub addr: SocketAddr,
    /// Local address.
    pub laddr: SocketAddr,
    /// CLIENT SETNAME.
    pub name: Option<Bytes>,
    /// Selected database.
    pub db: usize,
    /// Authenticated user.
    pub user: Bytes,
    /// Protocol version (2 or 3).
    pub resp: u8,
    /// Channel subscriptions.
    pub sub: usize,
    /// Pattern subscriptions.
    pub psub: usize,
    /// Commands queued in MULTI (-1: not in MULTI).
    pub multi: i64,
    /// When the connection was accepted.
    pub created: Instant,
    /// Last time a command ran.
    pub last_interaction: Instant,
    /// Full name of the last command (`client|list`).
    pub last_cmd: &'static str,
    /// Whether the client is blocked (BLPOP...).
    pub blocked: bool,
    /// CLIENT NO-EVICT ON (flag `e`).
    pub no_evict: bool,
    /// READONLY in cluster mode (flag `r`).
    pub readonly: bool,
    /// Notified to close the connection (CLIENT KILL, SHUTDOWN).
    pub kill: Arc<Notify>,
    /// Set together with `kill`, so a kill that lands before the task waits is not missed.
    pub killed: bool,
    /// Whether this connection is a replica or master link (CLIENT KILL TYPE).
    pub kind: ClientKind,
    /// Since when its pending output has been over the soft `client-output-buffer-limit`.
    pub obuf_soft_since: Option<Instant>,
    /// The connection's out-of-band queue (tracking invalidations from other clients' writes).
    pub oob: OobSender,
    /// The connection's socket, for [`crate::pubsub::closed_peers`]. It stays open as long as
    /// the entry exists: a connection leaves the registry before its socket is closed.
    #[cfg(unix)]
    pub peer_fd: Option<std::os::fd::RawFd>,
}

impl ClientEntry {
    /// The registry entry of a fresh connection `client`, closed through `kill`.
    pub fn new(client: &Client, kill: Arc<Notify>, kind: ClientKind) -> Self {
        ClientEntry {
            addr: client.addr,
            laddr: client.laddr,
            name: None,
            db: client.db,
            user: client.user.clone(),
            resp: 2,
            sub: 0,
            psub: 0,
            multi: -1,
            created: client.created,
            last_interaction: client.created,
            last_cmd: "NULL",
            blocked: false,
            no_evict: client.no_evict,
            readonly: client.readonly,
            kill,
            killed: false,
            kind,
            obuf_soft_since: None,
            oob: client.oob.clone(),
            #[cfg(unix)]
            peer_fd: None,
        }
    }
}

/// The kind of connection, for CLIENT KILL TYPE and CLIENT LIST flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientKind {
    /// An ordinary client.
    Normal,
    /// A client in pub/sub mode.
    PubSub,
    /// A replica's link to this node.
    Replica,
    /// This node's link to its master.
    Master,
}
