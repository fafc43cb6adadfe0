//! Redis Sentinel: find the master (or the replicas) of a named group through its sentinels,
//! and follow it through failovers.
//!
//! Two handles, built from one [`SentinelConfig`]:
//!
//! - [`SentinelClient`]: the shared, multiplexed handle, with the same typed
//!   [`Commands`](crate::Commands) as [`Client`](crate::Client). Clone it into every task.
//! - [`SentinelPool`]: dedicated connections ([`SentinelPool::get`]), for `SELECT`, `WATCH`,
//!   many blocking commands.
//!
//! ```no_run
//! use rediscover::{Commands, SentinelClient, SentinelConfig, SentinelPool};
//!
//! # async fn demo() -> rediscover::Result<()> {
//! let config: SentinelConfig =
//!     "redis+sentinel://10.0.0.1:26379,10.0.0.2:26379,10.0.0.3:26379/mymaster".parse()?;
//! let client = SentinelClient::connect(config.clone()).await?;
//! client.set("greeting", "hello").await?; // on the current master, whichever it is
//!
//! let pool = SentinelPool::connect(config).await?;
//! let conn = pool.get().await?;
//! let greeting: Option<String> = conn.get("greeting").await?;
//! # Ok(()) }
//! ```
//!
//! # How the master is found
//!
//! Every known sentinel is asked at once, on one pipelined round trip each, for
//! `SENTINEL GET-MASTER-ADDR-BY-NAME` (the address), `SENTINEL MASTER` (its `config-epoch`) and
//! `SENTINEL SENTINELS` (more sentinels to know). The answers are ranked by epoch, then by how
//! many sentinels give them, never by which came first: a sentinel cut off in a minority, or
//! restarted with an old configuration, names the old master with an older epoch. An answer
//! with an epoch older than the master in use is dropped, unless every sentinel that answered
//! agrees on it (a sentinel group deployed afresh counts from 0 again). The best answer is
//! then checked with `ROLE` on the server itself before any connection is handed out; one that
//! is not a master (a lying or stale sentinel, or a failover half done) is passed over for the
//! next. Failures say what went wrong: [`Error::SentinelsUnreachable`](crate::Error) (with each
//! sentinel's error), [`Error::MasterNotMonitored`](crate::Error), [`Error::NoMaster`](crate::Error).
//!
//! # Following failovers
//!
//! - **Listeners**: one subscriber connection per known sentinel, to `+switch-master`,
//!   `+promoted-slave` (sent by the failover's leader the moment it starts naming the new
//!   master), replica and sentinel events. On a switch event the announcing sentinel is asked
//!   for its epoch, the new master is checked with `ROLE`, and the handles switch: two round
//!   trips. A listener that loses its sentinel resubscribes with backoff (100 ms to 5 s) and
//!   asks the sentinels again once subscribed, to cover what it missed.
//! - **Discovery on trouble**: a connection attempt to the master that fails, or a new
//!   connection whose `ROLE` is not master, asks the sentinels again (once, for everyone
//!   waiting), so a client whose listeners missed everything still finds the new master.
//! - **Periodic re-check** ([`SentinelConfig::recheck_interval`], 15 s with jitter): the
//!   safety net.
//! - **`READONLY`**: a write answered `READONLY` went to a master that was demoted under it. It
//!   did not run, so the [`SentinelClient`] asks the sentinels again and, once the master has
//!   changed, sends it once more; [`SentinelPool::run`] does the same for its closure.
//!
//! # Switching
//!
//! A switch publishes the new master and moves a generation number on, atomically: every
//! connection opened from then on goes to the new master. Then the old master's connections
//! are drained: the [`SentinelClient`]'s shared connection takes no new request and is closed
//! once the requests already on it are answered (at most 1 s); idle pooled and dedicated
//! connections are closed; a pooled connection checked out before the switch refuses further
//! commands with [`Error::MasterChanged`](crate::Error) (inside `NotSent`: nothing was sent,
//! so retrying on a new connection is safe). [`SentinelEvent`]s report switches; spans and
//! counters ([`SentinelStats`]) report discovery, switches and draining.

mod client;
mod config;
mod discovery;
mod listener;
mod monitor;
mod pool;
mod refresh;
mod source;

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;

pub use client::SentinelClient;
pub use config::{Role, SentinelConfig};
pub use pool::{SentinelConnection, SentinelPool};

use crate::config::Config;
use crate::conn::Connection;
use crate::error::{Error, Result};

/// The port sentinels listen on unless told otherwise.
pub const DEFAULT_SENTINEL_PORT: u16 = 26379;

/// A server address as sentinels give it: a host (usually an IP address) and a port.
///
/// ```
/// use rediscover::sentinel::NodeAddr;
///
/// let a: NodeAddr = "10.0.0.5:26380".parse().unwrap();
/// assert_eq!((a.host(), a.port()), ("10.0.0.5", 26380));
/// let b: NodeAddr = "[::1]".parse().unwrap(); // the sentinel port by default
/// assert_eq!(b.to_string(), "[::1]:26379");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeAddr {
    host: String,
    port: u16,
}

impl NodeAddr {
    /// An address from a host and a port.
    pub fn new(host: impl Into<String>, port: u16) -> NodeAddr {
        NodeAddr {
            host: host.into(),
            port,
        }
    }

    /// The host.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `host[:port]` (IPv6 in brackets), `default_port` when there is none.
    pub(crate) fn parse(text: &str, default_port: u16) -> Result<NodeAddr> {
        let bad = |why: &str| Error::Config(format!("{why} in address '{text}'"));
        let text = text.trim();
        let (host, port) = if let Some(v6) = text.strip_prefix('[') {
            let (host, after) = v6.split_once(']').ok_or_else(|| bad("unclosed '['"))?;
            (host, after.strip_prefix(':'))
        } else {
            match text.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (text, None),
            }
        };
        if host.is_empty() {
            return Err(bad("empty host"));
        }
        let port = match port {
            Some(p) => p.parse().map_err(|_| bad("bad port"))?,
            None => default_port,
        };
        if port == 0 {
            return Err(bad("port 0"));
        }
        Ok(NodeAddr::new(host, port))
    }

    /// `template` pointed at this address.
    pub(crate) fn config(&self, template: &Config) -> Config {
        template.clone().host(self.host.clone()).port(self.port)
    }

    /// Whether `conn` was opened to this address.
    pub(crate) fn is_target_of(&self, conn: &Connection) -> bool {
        let c = conn.config();
        c.get_port() == self.port && c.get_host() == self.host
    }
}

impl fmt::Display for NodeAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// `host[:port]`, the port defaulting to the sentinel port, 26379.
impl FromStr for NodeAddr {
    type Err = Error;

    fn from_str(s: &str) -> Result<NodeAddr> {
        NodeAddr::parse(s, DEFAULT_SENTINEL_PORT)
    }
}

impl From<SocketAddr> for NodeAddr {
    fn from(a: SocketAddr) -> NodeAddr {
        NodeAddr::new(a.ip().to_string(), a.port())
    }
}

impl From<(&str, u16)> for NodeAddr {
    fn from((host, port): (&str, u16)) -> NodeAddr {
        NodeAddr::new(host, port)
    }
}

impl From<(String, u16)> for NodeAddr {
    fn from((host, port): (String, u16)) -> NodeAddr {
        NodeAddr::new(host, port)
    }
}

/// The master in use: where it is, the sentinels' configuration epoch that named it, and how
/// many times the handle has switched.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MasterInfo {
    /// Its address, as the sentinels give it.
    pub addr: NodeAddr,
    /// The `config-epoch` of the sentinels that named it (0 before any failover; also 0 when
    /// the sentinels do not allow `SENTINEL MASTER`).
    pub epoch: u64,
    /// Switches so far (0 for the master found at connect time).
    pub generation: u64,
}

/// What made a handle switch to another master.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SwitchCause {
    /// A sentinel announced it (`+switch-master`, `+promoted-slave`).
    Event,
    /// Asking the sentinels again found it: after a failed connection, a listener that
    /// resubscribed, or the periodic re-check.
    Discovery,
    /// A write was answered `READONLY`: the master was demoted.
    ReadOnly,
}

/// What happened to a Sentinel handle, from [`SentinelClient::events`] or
/// [`SentinelPool::events`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SentinelEvent {
    /// The handle moved to another master.
    Switched {
        /// The master before.
        from: NodeAddr,
        /// The master now.
        to: NodeAddr,
        /// The epoch that named the new master.
        epoch: u64,
        /// Why.
        cause: SwitchCause,
    },
    /// A sentinel named `addr` as the master, but `ROLE` there says otherwise: the sentinel is
    /// stale or lying, or a failover is half done. It was passed over.
    RoleMismatch {
        /// The server named.
        addr: NodeAddr,
        /// What it says it is.
        role: String,
    },
    /// The replicas in use changed (replica roles only).
    ReplicasChanged {
        /// The replicas now in use.
        replicas: Vec<NodeAddr>,
    },
    /// A sentinel not configured was learned (from `SENTINEL SENTINELS` or `+sentinel`).
    SentinelAdded {
        /// Its address.
        addr: NodeAddr,
    },
}

/// Counters of a Sentinel handle, from [`SentinelClient::stats`] or [`SentinelPool::stats`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SentinelStats {
    /// Times the sentinels were asked for the master (at connect, on trouble, periodically).
    pub discoveries: u64,
    /// Of those, how many found no verified master.
    pub discovery_failures: u64,
    /// Switches to another master.
    pub switches: u64,
    /// Addresses a sentinel gave as the master that `ROLE` showed were not masters.
    pub role_mismatches: u64,
    /// Times a listener lost its sentinel and subscribed again.
    pub listener_reconnects: u64,
    /// Requests sent again after a `READONLY` answer.
    pub readonly_retries: u64,
    /// Connections to an old master closed by a switch.
    pub drained_connections: u64,
    /// Requests refused on a checked-out connection because the master changed.
    pub master_changed_refusals: u64,
}
