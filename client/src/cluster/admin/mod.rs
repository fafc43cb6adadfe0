//! Cluster administration as a library: what `redis-cli --cluster` does, for programs.
//!
//! [`ClusterAdmin`] runs the algorithms of redis-cli's cluster manager (Redis 7.0), in the same
//! order of operations, so that a cluster it builds or changes is one `redis-cli --cluster
//! check` accepts, and clients see the redirects redis-cli's operations produce (`ASK` during a
//! slot migration, never an error):
//!
//! | redis-cli                    | here                          |
//! |------------------------------|-------------------------------|
//! | `--cluster create`           | [`ClusterAdmin::create`]      |
//! | `--cluster check`            | [`ClusterAdmin::check`]       |
//! | `--cluster fix`              | [`ClusterAdmin::fix`]         |
//! | `--cluster reshard`          | [`ClusterAdmin::reshard`]     |
//! | `--cluster rebalance`        | [`ClusterAdmin::rebalance`]   |
//! | `--cluster add-node`         | [`ClusterAdmin::add_node`]    |
//! | `--cluster del-node`         | [`ClusterAdmin::del_node`]    |
//!
//! Each operation loads the cluster the way redis-cli does: `CLUSTER NODES` from a seed node,
//! then a connection to each node it lists (nodes flagged `fail`, `noaddr` or unreachable are
//! left out, and counted when they are masters). Nothing is interactive: what redis-cli asks
//! for is an option, and what it prints is returned (a [`CheckReport`], a [`ReshardReport`],
//! ...) and logged with `tracing` (target `rediscover::cluster::admin`).
//!
//! ```no_run
//! use rediscover::cluster::admin::{ClusterAdmin, CreateOptions, ReshardOptions, Sources};
//!
//! # async fn demo() -> Result<(), rediscover::cluster::admin::AdminError> {
//! let admin = ClusterAdmin::default();
//! let nodes = ["127.0.0.1:7000", "127.0.0.1:7001", "127.0.0.1:7002",
//!              "127.0.0.1:7003", "127.0.0.1:7004", "127.0.0.1:7005"];
//! let view = admin.create(&nodes, &CreateOptions::default().replicas(1)).await?;
//! assert!(admin.check("127.0.0.1:7000").await?.is_ok());
//!
//! // Move 100 slots from every other master to the first one.
//! let to = view.masters().next().unwrap().id.clone();
//! admin.reshard("127.0.0.1:7000", &ReshardOptions::new(100, Sources::All, to)).await?;
//! # Ok(()) }
//! ```
//!
//! Differences from redis-cli, all on the side of waiting less: `create` waits until every node
//! knows every other one instead of sleeping one second before it polls, and `add_node` waits
//! for the new node to join for a master too (redis-cli only waits for a replica), so that the
//! cluster it returns is ready for the next operation.

mod check;
mod create;
mod membership;
mod migrate;
mod nodes;

use std::collections::BTreeSet;
use std::time::Duration;

use crate::cmd::Cmd;
use crate::commands::Execute;
use crate::config::Config;
use crate::conn::Connection;
use crate::error::Error;
use crate::resp::Frame;

pub use check::{CheckOptions, CheckReport, Finding, FixOptions, FixReport};
pub use create::{AntiAffinity, CreateOptions};
pub use membership::AddNodeOptions;
pub use migrate::{
    MoveOptions, RebalanceOptions, RebalanceReport, ReshardOptions, ReshardReport, Sources,
};
pub use nodes::{ClusterView, NodeInfo};

/// The number of hash slots, as a `usize` for indexing.
const SLOTS: usize = crate::slot::SLOT_COUNT as usize;

/// What can go wrong in a cluster administration operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdminError {
    /// A node could not be reached, or its connection failed.
    #[error("{addr}: {source}")]
    Connection {
        /// The node's address.
        addr: String,
        /// What failed.
        #[source]
        source: Error,
    },
    /// A node answered a command with an error.
    #[error("{addr}: {command} failed: {reply}")]
    Command {
        /// The node's address.
        addr: String,
        /// The command (its first words).
        command: String,
        /// The error line the node sent.
        reply: String,
    },
    /// A node's reply did not have the expected shape.
    #[error("{addr}: unexpected reply to {command}: {detail}")]
    BadReply {
        /// The node's address.
        addr: String,
        /// The command.
        command: String,
        /// What was wrong.
        detail: String,
    },
    /// An address is not `host:port`.
    #[error("invalid address {0:?} (expected host:port)")]
    InvalidAddress(String),
    /// The node does not run in cluster mode.
    #[error("{0} is not configured as a cluster node (cluster-enabled no)")]
    NotClusterNode(String),
    /// The node already knows other nodes or holds keys in database 0.
    #[error(
        "{0} is not empty: it knows other nodes or holds keys in database 0 (reset it or flush it)"
    )]
    NodeNotEmpty(String),
    /// Fewer masters than a cluster needs.
    #[error(
        "a Redis Cluster needs at least {min} masters: {nodes} nodes with {replicas} replicas \
         per master give {masters}; at least {needed} nodes are required"
    )]
    TooFewMasters {
        /// The minimum number of masters ([`CreateOptions::min_masters`]).
        min: usize,
        /// The nodes given.
        nodes: usize,
        /// Replicas per master asked for.
        replicas: usize,
        /// Masters those nodes give.
        masters: usize,
        /// Nodes needed.
        needed: usize,
    },
    /// No known node has this id.
    #[error("no such node id {0}")]
    UnknownNode(String),
    /// The node is a replica where a master is needed.
    #[error("node {0} is not a master")]
    NotAMaster(String),
    /// A reshard lists its target among its sources.
    #[error("the target node {0} can not also be a source node")]
    TargetIsSource(String),
    /// A reshard has nothing to take slots from.
    #[error("no source nodes given")]
    NoSources,
    /// A slot count outside `1..=16384`.
    #[error("invalid number of slots {0} (expected 1 to 16384)")]
    InvalidSlotCount(usize),
    /// A rebalance weight names no master, or is not `prefix=weight`.
    #[error("invalid weight {0:?}: no such master node, or not a number")]
    InvalidWeight(String),
    /// The cluster has problems that must be fixed before this operation.
    #[error("the cluster has problems; fix them first: {}", list(.0))]
    ClusterNotOk(Vec<Finding>),
    /// `del_node` on a master that still serves slots.
    #[error("node {addr} is not empty: it serves {slots} slots; reshard them away first")]
    NodeHasSlots {
        /// The node's address.
        addr: String,
        /// How many slots it serves.
        slots: usize,
    },
    /// `MIGRATE` found keys on the target with other values than on the source.
    #[error(
        "{} key(s) of slot {slot} exist on both {source_node} and {target_node} with \
         different values: {keys:?}; fix them by hand or migrate with replace",
        keys.len()
    )]
    KeyConflict {
        /// The slot.
        slot: u16,
        /// The source node's address.
        source_node: String,
        /// The target node's address.
        target_node: String,
        /// The keys (lossy UTF-8).
        keys: Vec<String>,
    },
    /// An open slot in a state redis-cli does not fix either.
    #[error(
        "can't fix slot {slot}: it is migrating in [{}], importing in [{}], owner {}",
        .migrating.join(","), .importing.join(","), .owner.as_deref().unwrap_or("none")
    )]
    UnfixableSlot {
        /// The slot.
        slot: u16,
        /// Nodes with the slot in migrating state.
        migrating: Vec<String>,
        /// Nodes with the slot in importing state (or holding its keys).
        importing: Vec<String>,
        /// The slot's owner, if one could be chosen.
        owner: Option<String>,
    },
    /// Some masters are unreachable: fixing could reassign their slots and lose data.
    #[error(
        "{0} master(s) unreachable: fixing would treat their slots as uncovered and can lose \
         data (FixOptions::fix_with_unreachable_masters to proceed anyway)"
    )]
    UnreachableMasters(usize),
    /// A wait for the cluster to agree did not end in time.
    #[error("timed out after {timeout:?} waiting for {what}")]
    Timeout {
        /// What was awaited.
        what: String,
        /// How long.
        timeout: Duration,
    },
}

fn list(findings: &[Finding]) -> String {
    findings
        .iter()
        .map(|f| f.to_string())
        .collect::<Vec<_>>()
        .join("; ")
}

/// The result type of this module.
pub type Result<T, E = AdminError> = std::result::Result<T, E>;

/// Runs cluster administration operations. See the [module documentation](self).
///
/// It holds the connection settings used for every node (credentials, TLS, timeouts: the
/// host and port of the given [`Config`] are replaced by each node's), and opens connections
/// per operation; it is cheap to clone and keeps nothing open between operations.
#[derive(Debug, Clone)]
pub struct ClusterAdmin {
    base: Config,
    join_timeout: Duration,
}

impl Default for ClusterAdmin {
    fn default() -> Self {
        ClusterAdmin::new(Config::default())
    }
}

impl ClusterAdmin {
    /// An admin that connects to nodes with `base`'s settings (username, password, TLS,
    /// protocol, timeouts).
    pub fn new(base: Config) -> Self {
        ClusterAdmin {
            base,
            join_timeout: Duration::from_secs(60),
        }
    }

    /// How long to wait at most for nodes to agree on the configuration after `MEET`
    /// (default 60 s; redis-cli waits forever).
    pub fn join_timeout(mut self, timeout: Duration) -> Self {
        self.join_timeout = timeout;
        self
    }

    /// Connects to `host:port` with the base settings.
    async fn connect(&self, host: &str, port: u16) -> Result<Connection> {
        let config = self.base.clone().host(host).port(port);
        Connection::connect(&config)
            .await
            .map_err(|source| AdminError::Connection {
                addr: addr_string(host, port),
                source,
            })
    }
}

/// `host:port`, with brackets for an IPv6 host.
fn addr_string(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Splits `host:port` (or `[v6]:port`).
fn parse_addr(addr: &str) -> Result<(String, u16)> {
    let bad = || AdminError::InvalidAddress(addr.to_string());
    let (host, port) = addr.rsplit_once(':').ok_or_else(bad)?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let port: u16 = port.parse().map_err(|_| bad())?;
    if host.is_empty() || port == 0 {
        return Err(bad());
    }
    Ok((host.to_string(), port))
}

/// One node of an operation: what is known of it, and a connection to it.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub(crate) info: NodeInfo,
    pub(crate) conn: Connection,
}

impl Node {
    fn addr(&self) -> String {
        self.info.addr()
    }

    /// Sends `args` and returns the reply; an error reply becomes [`AdminError::Command`].
    async fn call<A: AsRef<[u8]>>(&self, args: &[A]) -> Result<Frame> {
        let cmd = build(args);
        match self.conn.send_command(cmd).await {
            Ok(frame) => Ok(frame),
            Err(Error::Server(e)) => Err(AdminError::Command {
                addr: self.addr(),
                command: command_name(args),
                reply: String::from_utf8_lossy(e.line()).into_owned(),
            }),
            Err(source) => Err(AdminError::Connection {
                addr: self.addr(),
                source,
            }),
        }
    }

    /// [`Node::call`], expecting a text reply (bulk, status or verbatim).
    async fn call_text<A: AsRef<[u8]>>(&self, args: &[A]) -> Result<String> {
        match self.call(args).await? {
            Frame::Bulk(b) | Frame::Simple(b) | Frame::Verbatim { text: b, .. } => {
                Ok(String::from_utf8_lossy(&b).into_owned())
            }
            other => Err(self.bad_reply(args, format!("{other:?}"))),
        }
    }

    /// [`Node::call`], expecting an integer reply.
    async fn call_int<A: AsRef<[u8]>>(&self, args: &[A]) -> Result<i64> {
        match self.call(args).await? {
            Frame::Integer(n) => Ok(n),
            other => Err(self.bad_reply(args, format!("{other:?}"))),
        }
    }

    /// [`Node::call`], expecting an array of strings (`CLUSTER GETKEYSINSLOT`).
    async fn call_keys<A: AsRef<[u8]>>(&self, args: &[A]) -> Result<Vec<bytes::Bytes>> {
        match self.call(args).await? {
            Frame::Array(items) | Frame::Set(items) => items
                .into_iter()
                .map(|f| match f {
                    Frame::Bulk(b) | Frame::Simple(b) => Ok(b),
                    other => Err(self.bad_reply(args, format!("{other:?}"))),
                })
                .collect(),
            other => Err(self.bad_reply(args, format!("{other:?}"))),
        }
    }

    fn bad_reply<A: AsRef<[u8]>>(&self, args: &[A], detail: String) -> AdminError {
        AdminError::BadReply {
            addr: self.addr(),
            command: command_name(args),
            detail,
        }
    }

    /// `CLUSTER SETSLOT <slot> <action> [<id>]`.
    async fn setslot(&self, slot: u16, action: &str, id: Option<&str>) -> Result<()> {
        let slot = slot.to_string();
        match id {
            Some(id) => {
                self.call(&["CLUSTER", "SETSLOT", &slot, action, id])
                    .await?
            }
            None => self.call(&["CLUSTER", "SETSLOT", &slot, action]).await?,
        };
        Ok(())
    }

    /// `CLUSTER COUNTKEYSINSLOT <slot>`.
    async fn count_keys(&self, slot: u16) -> Result<i64> {
        self.call_int(&["CLUSTER", "COUNTKEYSINSLOT", &slot.to_string()])
            .await
    }
}

fn build<A: AsRef<[u8]>>(args: &[A]) -> Cmd {
    let name = String::from_utf8_lossy(args.first().map(|a| a.as_ref()).unwrap_or(b""));
    let mut cmd = Cmd::new(&name);
    for a in &args[1.min(args.len())..] {
        cmd.push_arg(a.as_ref());
    }
    cmd
}

/// The first words of a command, for error messages (`CLUSTER SETSLOT`).
fn command_name<A: AsRef<[u8]>>(args: &[A]) -> String {
    let n = match args.first().map(|a| a.as_ref().to_ascii_uppercase()) {
        Some(a) if a == b"CLUSTER" || a == b"DEBUG" || a == b"FUNCTION" => 2,
        _ => 1,
    };
    args.iter()
        .take(n)
        .map(|a| String::from_utf8_lossy(a.as_ref()).to_ascii_uppercase())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Slots as redis-cli prints them: `0-5460,5462`.
pub(crate) fn slot_ranges(slots: &BTreeSet<u16>) -> String {
    let mut out = Vec::new();
    let mut iter = slots.iter().copied().peekable();
    while let Some(first) = iter.next() {
        let mut last = first;
        while iter.peek() == Some(&(last + 1)) {
            last += 1;
            iter.next();
        }
        out.push(if first == last {
            first.to_string()
        } else {
            format!("{first}-{last}")
        });
    }
    out.join(",")
}

/// A small xorshift generator seeded from the clock, for the random choices redis-cli makes
/// with `rand()` (anti-affinity swaps, a random master for an empty uncovered slot).
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new() -> Self {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x9e37_79b9_7f4a_7c15);
        Rng(seed | 1)
    }

    /// A number in `0..n` (`n > 0`).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        (x % n as u64) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert_eq!(
            parse_addr("127.0.0.1:7000").unwrap(),
            ("127.0.0.1".into(), 7000)
        );
        assert_eq!(parse_addr("[::1]:7000").unwrap(), ("::1".into(), 7000));
        assert!(parse_addr("nohost").is_err());
        assert!(parse_addr(":7000").is_err());
        assert!(parse_addr("h:0").is_err());
        assert!(parse_addr("h:99999").is_err());
        assert_eq!(addr_string("::1", 7), "[::1]:7");
    }

    #[test]
    fn ranges() {
        let s: BTreeSet<u16> = [0, 1, 2, 5, 7, 8].into_iter().collect();
        assert_eq!(slot_ranges(&s), "0-2,5,7-8");
        assert_eq!(slot_ranges(&BTreeSet::new()), "");
    }

    #[test]
    fn command_names() {
        assert_eq!(
            command_name(&["cluster", "setslot", "1"]),
            "CLUSTER SETSLOT"
        );
        assert_eq!(command_name(&["MIGRATE", "h"]), "MIGRATE");
    }
}
