//! Per-connection state, and the registry entry that CLIENT LIST / CLIENT KILL see.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use tokio::sync::{mpsc, Notify};

use crate::keyspace::ClientId;

/// Out-of-band bytes for a connection (pub/sub messages), already encoded for its protocol.
pub type OobSender = mpsc::Sender<Bytes>;

/// How many out-of-band messages may wait for a slow subscriber before it is disconnected
/// (Redis's `client-output-buffer-limit pubsub` plays this role).
pub const OOB_QUEUE: usize = 65_536;

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
    /// Notified to close the connection (CLIENT KILL, SHUTDOWN).
    pub kill: Arc<Notify>,
    /// Set together with `kill`, so a kill that lands before the task waits is not missed.
    pub killed: bool,
    /// Whether this connection is a replica or master link (CLIENT KILL TYPE).
    pub kind: ClientKind,
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
