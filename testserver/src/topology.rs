//! Several nodes in one process: a master with replicas ([`ReplicationSet`]), a Sentinel
//! deployment ([`sentinel::TestSentinel`]), and the fault
//! injection tests use on them (drop, pause or partition a replica's link; kill its replicas'
//! connections from the master side).
//!
//! Every wait polls the nodes' state with a deadline and returns [`Timeout`] (saying what it
//! was waiting for) rather than hanging a test.

pub mod sentinel;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::node::Node;
use crate::repl::LinkFault;
use crate::server::{TestServer, TestServerBuilder};

/// A wait that ran out of time.
#[derive(Debug, thiserror::Error)]
#[error("timed out after {after:?} waiting for {what}")]
pub struct Timeout {
    /// What was awaited, and the state seen last.
    pub what: String,
    /// How long it waited.
    pub after: Duration,
}

/// Why a topology could not be started. `Send + Sync`, so it crosses tasks and `?` into
/// `Box<dyn Error + Send + Sync>` or `anyhow::Error`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TopologyError {
    /// A node could not start (its listener could not bind, say).
    #[error("could not start a node: {0}")]
    Start(#[from] std::io::Error),
    /// The nodes started but did not reach the awaited state in time.
    #[error(transparent)]
    Timeout(#[from] Timeout),
}

/// Polls `check` every few milliseconds until it returns `Ok`, or `timeout` passes. `check`
/// returns `Err(state)` describing what it saw, for the timeout message.
pub async fn poll_until<F>(timeout: Duration, mut check: F) -> Result<(), Timeout>
where
    F: FnMut() -> Result<(), String>,
{
    let start = Instant::now();
    loop {
        let seen = match check() {
            Ok(()) => return Ok(()),
            Err(seen) => seen,
        };
        if start.elapsed() >= timeout {
            return Err(Timeout {
                what: seen,
                after: timeout,
            });
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

impl TestServer {
    /// `master_repl_offset`.
    pub fn repl_offset(&self) -> u64 {
        self.node().lock().repl.offset()
    }

    /// Whether this server is a master.
    pub fn is_master(&self) -> bool {
        self.node().lock().repl.is_master()
    }

    /// Makes this server a replica of `master` (REPLICAOF host port).
    pub fn replicate(&self, master: SocketAddr) {
        self.node()
            .lock()
            .become_replica(master.ip().to_string(), master.port());
    }

    /// Makes this server a master (REPLICAOF NO ONE).
    pub fn promote(&self) {
        self.node().lock().become_master();
    }

    /// Waits until this replica's link to its master is up.
    pub async fn wait_link_up(&self, timeout: Duration) -> Result<(), Timeout> {
        poll_until(timeout, || {
            let st = self.node().lock();
            match &st.repl.master {
                None => Err(format!("{} to be a replica (it is a master)", self.addr())),
                Some(m) if m.state == crate::repl::LinkState::Connected => Ok(()),
                Some(m) => Err(format!(
                    "{}'s link to its master (state {})",
                    self.addr(),
                    m.state.name()
                )),
            }
        })
        .await
    }

    /// Closes this replica's connection to its master; it reconnects at once and continues
    /// with a partial resync when the master's backlog allows.
    pub fn drop_master_link(&self) {
        self.node().lock().restart_link();
    }

    /// Stops reading from the master (the connection stays open, nothing is acknowledged)
    /// until [`TestServer::heal_master_link`].
    pub fn pause_master_link(&self) {
        self.node().lock().set_link_fault(LinkFault::Paused);
    }

    /// Cuts this replica off from its master until [`TestServer::heal_master_link`]: the
    /// connection is closed and no new one is made.
    pub fn partition_from_master(&self) {
        self.node().lock().set_link_fault(LinkFault::Partitioned);
    }

    /// Ends a pause or partition of the link to the master.
    pub fn heal_master_link(&self) {
        self.node().lock().set_link_fault(LinkFault::None);
    }

    /// On a master: closes every replica's connection (they reconnect and resync).
    pub fn drop_replica_links(&self) {
        self.node().lock().disconnect_replicas();
    }

    /// On a master: the number of attached replicas that are streaming.
    pub fn online_replicas(&self) -> usize {
        let st = self.node().lock();
        st.repl
            .replicas
            .iter()
            .filter(|r| r.state == crate::repl::ReplicaState::Online)
            .count()
    }
}

/// A master and its replicas, all in this process on free ports.
///
/// ```no_run
/// # async fn demo() -> Result<(), rediscover_testserver::topology::TopologyError> {
/// use std::time::Duration;
/// use rediscover_testserver::topology::ReplicationSet;
///
/// let set = ReplicationSet::start(2).await?;
/// // ... write to set.master.addr() ...
/// set.wait_in_sync(Duration::from_secs(5)).await?;
/// set.replicas[0].partition_from_master();
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct ReplicationSet {
    /// The master.
    pub master: TestServer,
    /// Its replicas, each replicating straight from the master.
    pub replicas: Vec<TestServer>,
}

impl ReplicationSet {
    /// A master with `replicas` replicas, default configuration, links up.
    pub async fn start(replicas: usize) -> Result<ReplicationSet, TopologyError> {
        ReplicationSet::start_with(replicas, Config::in_process()).await
    }

    /// A master with `replicas` replicas, every node with `config` (port and `replicaof`
    /// aside), links up.
    pub async fn start_with(
        replicas: usize,
        config: Config,
    ) -> Result<ReplicationSet, TopologyError> {
        let master = TestServerBuilder::default()
            .config(config.clone())
            .start()
            .await?;
        let mut set = ReplicationSet {
            master,
            replicas: Vec::with_capacity(replicas),
        };
        for _ in 0..replicas {
            let replica = TestServerBuilder::default()
                .config(config.clone())
                .replica_of(set.master.addr())
                .start()
                .await?;
            set.replicas.push(replica);
        }
        set.wait_in_sync(Duration::from_secs(10)).await?;
        Ok(set)
    }

    /// Waits until every replica's link is up and each has applied the master's stream up
    /// to the master's current offset.
    pub async fn wait_in_sync(&self, timeout: Duration) -> Result<(), Timeout> {
        let replicas: Vec<&Node> = self.replicas.iter().map(|r| &**r.node()).collect();
        wait_in_sync(self.master.node(), &replicas, timeout).await
    }
}

/// Waits until each of `replicas` has its link up and has applied `master`'s stream up to the
/// master's current offset (for nodes started without a [`ReplicationSet`], as the
/// `rediscover-topology` binary does).
pub async fn wait_in_sync(
    master: &Node,
    replicas: &[&Node],
    timeout: Duration,
) -> Result<(), Timeout> {
    poll_until(timeout, || {
        let target = master.lock().repl.offset();
        for replica in replicas {
            let st = replica.lock();
            let (up, offset) = (st.link_up(), st.repl.offset());
            if !up || offset != target {
                return Err(format!(
                    "the replica on port {} at offset {offset} (link {}) to reach master offset {target}",
                    st.config.port,
                    if up { "up" } else { "down" }
                ));
            }
        }
        Ok(())
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn topology_errors_cross_tasks_and_box_as_send_sync() {
        // Spawning needs the whole future, its error included, to be Send.
        let started = tokio::spawn(ReplicationSet::start(0)).await.unwrap();
        let boxed: Box<dyn std::error::Error + Send + Sync> =
            TopologyError::from(std::io::Error::from(std::io::ErrorKind::AddrInUse)).into();
        assert!(boxed.to_string().contains("could not start a node"));
        assert!(started.unwrap().replicas.is_empty());
    }
}
