//! [`TestCluster`]: a whole Redis Cluster in this process, on free ports, with fault injection.
//!
//! The cluster is built, and slots are migrated, by the client's cluster admin library
//! (`rediscover::cluster::admin`, the equivalent of `redis-cli --cluster`), through the nodes'
//! own commands (ADDSLOTS, SET-CONFIG-EPOCH, MEET, REPLICATE; SETSLOT, MIGRATE) and bus;
//! `start` returns once every node agrees on the configuration, the cluster state is ok
//! everywhere and every replica is in sync. Waits poll the nodes' state with deadlines ([`Timeout`]); nothing sleeps.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::BytesMut;
use rediscover::resp::{decode, encode_command, Frame, Limits};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use rediscover::cluster::admin::{ClusterAdmin, ClusterView, CreateOptions, MoveOptions};

use super::state::{name, NodeId};
use crate::config::{Config, Timers};
use crate::server::{TestServer, TestServerBuilder};
use crate::topology::{poll_until, Timeout};

/// How long `start` and the fault helpers wait at most.
const DEADLINE: Duration = Duration::from_secs(20);

/// How a replica takes over in [`TestCluster::failover`] (`CLUSTER FAILOVER [FORCE|TAKEOVER]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailoverMode {
    /// Coordinated with the master: no write is lost.
    Default,
    /// Without the master's agreement (it may be down), with the other masters' votes.
    Force,
    /// Without any vote.
    Takeover,
}

/// Options for a [`TestCluster`].
#[derive(Debug, Clone)]
pub struct TestClusterBuilder {
    masters: usize,
    replicas: usize,
    node_timeout: i64,
    timers: Timers,
    config: Config,
}

impl Default for TestClusterBuilder {
    fn default() -> Self {
        TestClusterBuilder {
            masters: 3,
            replicas: 0,
            node_timeout: 200,
            timers: Timers::default().faster(25),
            config: Config::default(),
        }
    }
}

impl TestClusterBuilder {
    /// Number of masters (default 3).
    pub fn masters(mut self, n: usize) -> Self {
        self.masters = n.max(1);
        self
    }

    /// Replicas of each master (default 0).
    pub fn replicas_per_master(mut self, n: usize) -> Self {
        self.replicas = n;
        self
    }

    /// `cluster-node-timeout` in ms (default 200: a failed master is replaced in well under
    /// a second).
    pub fn node_timeout(mut self, ms: i64) -> Self {
        self.node_timeout = ms.max(1);
        self
    }

    /// Background job periods (default: Redis's, 25 times faster: a 4 ms cluster cron, an
    /// 80 ms writable delay, a 20..40 ms election delay).
    pub fn timers(mut self, timers: Timers) -> Self {
        self.timers = timers;
        self
    }

    /// A base configuration for every node (port, cluster settings and timers aside).
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// Starts the nodes, forms the cluster and waits until it is ready.
    pub async fn start(self) -> Result<TestCluster, Box<dyn std::error::Error + Send + Sync>> {
        let total = self.masters * (1 + self.replicas);
        let configs = (0..total)
            .map(|_| {
                let mut config = self.config.clone();
                config.cluster_enabled = true;
                config.cluster_node_timeout = self.node_timeout;
                config.timers = self.timers.clone();
                config.port = 0;
                config
            })
            .collect();
        TestCluster::from_configs(configs, self.masters, self.replicas).await
    }
}

impl TestCluster {
    /// A cluster of nodes started with `configs` (port 0: a free port; `cluster-port` 0:
    /// a free bus port), `masters` of them masters and the rest `replicas` per master.
    pub async fn from_configs(
        configs: Vec<Config>,
        masters: usize,
        replicas: usize,
    ) -> Result<TestCluster, Box<dyn std::error::Error + Send + Sync>> {
        let mut nodes = Vec::with_capacity(configs.len());
        for mut config in configs {
            config.cluster_enabled = true;
            config.save = Vec::new();
            let port = config.port;
            nodes.push(
                TestServerBuilder::default()
                    .config(config)
                    .port(port)
                    .start()
                    .await?,
            );
        }
        let cluster = TestCluster { nodes };
        cluster.form(masters, replicas).await?;
        Ok(cluster)
    }
}

/// A Redis Cluster of in-process nodes.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
/// use rediscover_testserver::TestCluster;
///
/// let mut cluster = TestCluster::builder().masters(3).replicas_per_master(1).start().await?;
/// let master = cluster.master_of_key(b"user:1").unwrap();
/// cluster.kill(master).await;
/// cluster.wait_for_master_of_slot(rediscover::slot::key_slot(b"user:1")).await?;
/// # Ok(()) }
/// ```
///
/// Nodes are addressed by index (creation order: masters first, then the replicas of master
/// 0, of master 1, ...). Roles change with failovers; [`TestCluster::masters`] and
/// [`TestCluster::master_of_slot`] give the current ones.
#[derive(Debug)]
pub struct TestCluster {
    nodes: Vec<TestServer>,
}

/// The cluster admin the helpers use: connections with a short connect timeout, since every
/// node is local.
fn admin() -> ClusterAdmin {
    let config = rediscover::Config::default().connect_timeout(Duration::from_secs(2));
    ClusterAdmin::new(config).join_timeout(DEADLINE)
}

/// Sends one command to `addr` on a fresh connection and returns the reply.
pub async fn call(addr: SocketAddr, argv: &[&[u8]]) -> std::io::Result<Frame> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    let mut out = BytesMut::new();
    encode_command(&mut out, argv);
    stream.write_all(&out).await?;
    let mut buf = BytesMut::new();
    loop {
        if let Some(frame) = decode(&mut buf, &Limits::default())
            .map_err(|e| std::io::Error::other(e.message().to_string()))?
        {
            return Ok(frame);
        }
        if stream.read_buf(&mut buf).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
    }
}

/// [`call`], expecting a non-error reply.
async fn ok(addr: SocketAddr, argv: &[&[u8]]) -> Result<Frame, String> {
    match call(addr, argv).await {
        Ok(Frame::Error(e)) => Err(format!(
            "{} on {addr}: {}",
            String::from_utf8_lossy(argv[0..2.min(argv.len())].join(&b' ').as_slice()),
            String::from_utf8_lossy(&e)
        )),
        Ok(f) => Ok(f),
        Err(e) => Err(format!("{addr}: {e}")),
    }
}

impl TestCluster {
    /// A builder (3 masters, no replicas, node timeout 200 ms, fast timers).
    pub fn builder() -> TestClusterBuilder {
        TestClusterBuilder::default()
    }

    /// Forms the cluster with the client's cluster admin library, as `redis-cli --cluster
    /// create` would, keeping the layout in index order (masters first, then the replicas of
    /// master 0, of master 1, ...) and with every pair of nodes meeting directly (handshakes
    /// in parallel instead of waiting for gossip).
    async fn form(&self, masters: usize, replicas: usize) -> Result<(), String> {
        if self.nodes.len() != masters * (1 + replicas) {
            return Err(format!(
                "{} nodes for {masters} masters with {replicas} replicas each",
                self.nodes.len()
            ));
        }
        let addrs: Vec<String> = self.nodes.iter().map(|n| n.addr().to_string()).collect();
        let options = CreateOptions::default()
            .replicas(replicas)
            .min_masters(1)
            .in_order(true)
            .meet_all(true);
        admin()
            .create(&addrs, &options)
            .await
            .map_err(|e| e.to_string())?;
        // Tell everyone the new roles at once rather than at the next PING.
        for n in &self.nodes {
            let mut st = n.node().lock();
            super::with(&mut st, |c, st| {
                super::messages::broadcast_pong(c, st, super::messages::PongTarget::All)
            });
        }
        self.wait_stable().await.map_err(|e| e.to_string())
    }

    /// Every node, by index.
    pub fn nodes(&self) -> &[TestServer] {
        &self.nodes
    }

    /// Node `i`.
    pub fn node(&self, i: usize) -> &TestServer {
        &self.nodes[i]
    }

    /// Node `i`'s id.
    pub fn node_id(&self, i: usize) -> String {
        let st = self.nodes[i].node().lock();
        st.cluster
            .as_ref()
            .map(|c| name(&c.myself).to_string())
            .unwrap_or_default()
    }

    fn index_of_id(&self, id: &NodeId) -> Option<usize> {
        (0..self.nodes.len()).find(|&i| self.node_id(i).as_bytes() == id)
    }

    /// Indexes of the running nodes that are masters now (by their own view).
    pub fn masters(&self) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|&i| self.nodes[i].is_running())
            .filter(|&i| {
                let st = self.nodes[i].node().lock();
                st.cluster.as_ref().is_some_and(|c| c.i_am_master())
            })
            .collect()
    }

    /// Indexes of the running replicas of node `master` (by their own view).
    pub fn replicas_of(&self, master: usize) -> Vec<usize> {
        let id = self.node_id(master);
        (0..self.nodes.len())
            .filter(|&i| self.nodes[i].is_running())
            .filter(|&i| {
                let st = self.nodes[i].node().lock();
                st.cluster
                    .as_ref()
                    .and_then(|c| c.my_master())
                    .is_some_and(|m| m == id.as_bytes())
            })
            .collect()
    }

    /// The node serving `slot`, as the running masters see it (the one that owns it in its
    /// own view).
    pub fn master_of_slot(&self, slot: u16) -> Option<usize> {
        self.masters().into_iter().find(|&i| {
            let st = self.nodes[i].node().lock();
            st.cluster
                .as_ref()
                .is_some_and(|c| c.slots[slot as usize] == Some(c.myself))
        })
    }

    /// The master serving `key`.
    pub fn master_of_key(&self, key: &[u8]) -> Option<usize> {
        self.master_of_slot(rediscover::slot::key_slot(key))
    }

    /// Waits until a running master serves `slot` (after a failover) and returns it.
    pub async fn wait_for_master_of_slot(&self, slot: u16) -> Result<usize, Timeout> {
        let mut found = None;
        poll_until(DEADLINE, || match self.master_of_slot(slot) {
            Some(i) => {
                let st = self.nodes[i].node().lock();
                if st.cluster.as_ref().is_some_and(|c| c.state_ok) {
                    found = Some(i);
                    Ok(())
                } else {
                    Err(format!("node {i} (serving slot {slot}) to be in state ok"))
                }
            }
            None => Err(format!("a running master to serve slot {slot}")),
        })
        .await?;
        Ok(found.expect("set on success"))
    }

    /// Waits until every running node reports `cluster_state:ok`, all agree on who serves
    /// which slots and who replicates whom, and every replica is in sync with its master.
    pub async fn wait_stable(&self) -> Result<(), Timeout> {
        self.wait_stable_for(DEADLINE).await
    }

    /// [`TestCluster::wait_stable`] with a deadline.
    pub async fn wait_stable_for(&self, timeout: Duration) -> Result<(), Timeout> {
        poll_until(timeout, || self.stable()).await
    }

    fn stable(&self) -> Result<(), String> {
        let mut reference: Option<(usize, String)> = None;
        for (i, n) in self.nodes.iter().enumerate() {
            if !n.is_running() {
                continue;
            }
            let st = n.node().lock();
            let c = st.cluster.as_ref().ok_or("not a cluster node")?;
            if !c.state_ok {
                return Err(format!("node {i} to be in state ok"));
            }
            let sig = signature(c);
            match &reference {
                None => reference = Some((i, sig)),
                Some((j, r)) if *r != sig => {
                    return Err(format!(
                        "nodes {j} and {i} to agree on the configuration:\n{r}\nvs\n{sig}"
                    ))
                }
                _ => {}
            }
            if let Some(m) = c.my_master() {
                if !st.link_up() {
                    return Err(format!("replica {i}'s link to its master"));
                }
                let offset = st.repl.offset();
                drop(st);
                let Some(mi) = self.index_of_id(&m) else {
                    return Err(format!("replica {i}'s master to be one of the nodes"));
                };
                let master_offset = self.nodes[mi].node().lock().repl.offset();
                if master_offset != offset {
                    return Err(format!(
                        "replica {i} at offset {offset} to reach its master's {master_offset}"
                    ));
                }
            }
        }
        Ok(())
    }

    /// Kills node `i` as `SIGKILL` would (see [`TestServer::kill`]).
    pub async fn kill(&mut self, i: usize) {
        self.nodes[i].kill().await;
    }

    /// Restarts node `i` at the same address, from its `nodes.conf` and saved data.
    pub async fn restart(&mut self, i: usize) -> std::io::Result<()> {
        self.nodes[i].restart().await
    }

    /// Freezes node `i` as `SIGSTOP` would.
    pub fn freeze(&self, i: usize) {
        self.nodes[i].freeze();
    }

    /// Ends a freeze.
    pub fn thaw(&self, i: usize) {
        self.nodes[i].thaw();
    }

    fn addrs(&self, i: usize) -> Vec<SocketAddr> {
        let n = &self.nodes[i];
        std::iter::once(n.addr()).chain(n.bus_addr()).collect()
    }

    /// Partitions the nodes `side` from all the others: no bus, replication or MIGRATE
    /// traffic crosses (both directions), until [`TestCluster::heal`]. Test clients still
    /// reach every node.
    pub fn partition(&self, side: &[usize]) {
        for a in 0..self.nodes.len() {
            for b in 0..self.nodes.len() {
                if side.contains(&a) != side.contains(&b) {
                    for addr in self.addrs(b) {
                        self.nodes[a].cut_off_from(addr);
                    }
                }
            }
        }
    }

    /// Ends every partition.
    pub fn heal(&self) {
        for n in &self.nodes {
            n.node().faults.heal_all();
        }
    }

    /// Makes replica `i` take over its master (`CLUSTER FAILOVER`, with `mode`) and waits
    /// until it is a master that every running node agrees on.
    pub async fn failover(&self, i: usize, mode: FailoverMode) -> Result<(), String> {
        let opt: &[u8] = match mode {
            FailoverMode::Default => b"",
            FailoverMode::Force => b"FORCE",
            FailoverMode::Takeover => b"TAKEOVER",
        };
        let addr = self.nodes[i].addr();
        if opt.is_empty() {
            ok(addr, &[b"CLUSTER", b"FAILOVER"]).await?;
        } else {
            ok(addr, &[b"CLUSTER", b"FAILOVER", opt]).await?;
        }
        poll_until(DEADLINE, || {
            if self.masters().contains(&i) {
                Ok(())
            } else {
                Err(format!("node {i} to become a master"))
            }
        })
        .await
        .map_err(|e| e.to_string())?;
        self.wait_stable().await.map_err(|e| e.to_string())
    }

    /// A cluster-admin view of nodes `idx` (only those: others may be down).
    async fn view(&self, idx: &[usize]) -> Result<ClusterView, String> {
        let addrs: Vec<String> = idx
            .iter()
            .map(|&i| self.nodes[i].addr().to_string())
            .collect();
        admin().view(&addrs).await.map_err(|e| e.to_string())
    }

    /// Starts moving `slot` from the master serving it to master `to` (SETSLOT IMPORTING on
    /// the target, MIGRATING on the source, through the client's cluster admin library). Keys
    /// move with [`TestCluster::move_slot_keys`] (all of them, or none: the slot is then
    /// half-migrated and clients see ASK and TRYAGAIN). Returns the source's index.
    pub async fn begin_slot_migration(&self, slot: u16, to: usize) -> Result<usize, String> {
        let from = self
            .master_of_slot(slot)
            .ok_or(format!("no master serves slot {slot}"))?;
        let view = self.view(&[from, to]).await?;
        admin()
            .open_slot(&view, slot, &self.node_id(from), &self.node_id(to))
            .await
            .map_err(|e| e.to_string())?;
        Ok(from)
    }

    /// Moves the keys of `slot` (at most `batch` per MIGRATE) from `from` to `to`, as
    /// `redis-cli --cluster reshard` does. Returns how many keys moved.
    pub async fn move_slot_keys(
        &self,
        slot: u16,
        from: usize,
        to: usize,
        batch: usize,
    ) -> Result<usize, String> {
        let view = self.view(&[from, to]).await?;
        let options = MoveOptions::default().pipeline(batch);
        admin()
            .migrate_slot_keys(
                &view,
                slot,
                &self.node_id(from),
                &self.node_id(to),
                &options,
            )
            .await
            .map_err(|e| e.to_string())
    }

    /// The target, the source, then every other running master.
    fn migration_nodes(&self, from: usize, to: usize) -> Vec<usize> {
        let mut idx = vec![to, from];
        idx.extend(self.masters().into_iter().filter(|&m| m != to && m != from));
        idx
    }

    /// Ends a migration: `SETSLOT <slot> NODE <to>` on the target, the source and every other
    /// master, as redis-cli does.
    pub async fn finish_slot_migration(
        &self,
        slot: u16,
        from: usize,
        to: usize,
    ) -> Result<(), String> {
        let view = self.view(&self.migration_nodes(from, to)).await?;
        admin()
            .close_slot(&view, slot, &self.node_id(from), &self.node_id(to))
            .await
            .map_err(|e| e.to_string())
    }

    /// Moves `slot` with its keys to master `to` with the client's cluster admin library
    /// (IMPORTING/MIGRATING, MIGRATE in batches of 10, SETSLOT NODE: the sequence `redis-cli
    /// --cluster reshard` sends) and waits until the cluster agrees. Returns how many keys
    /// moved.
    pub async fn migrate_slot(&self, slot: u16, to: usize) -> Result<usize, String> {
        let from = self
            .master_of_slot(slot)
            .ok_or(format!("no master serves slot {slot}"))?;
        let view = self.view(&self.migration_nodes(from, to)).await?;
        let moved = admin()
            .move_slot(
                &view,
                slot,
                &self.node_id(from),
                &self.node_id(to),
                &MoveOptions::default(),
            )
            .await
            .map_err(|e| e.to_string())?;
        self.wait_stable().await.map_err(|e| e.to_string())?;
        Ok(moved)
    }
}

/// What every node must agree on: who serves which slots, who replicates whom.
fn signature(c: &super::Cluster) -> String {
    let mut lines: Vec<String> = c
        .nodes
        .values()
        .filter(|n| !n.in_handshake())
        .map(|n| {
            let ranges = super::replies::owned_ranges(c, &n.id);
            format!(
                "{} {} {:?} {:?}",
                name(&n.id),
                n.slaveof
                    .map(|m| name(&m).to_string())
                    .unwrap_or("-".into()),
                ranges,
                n.flags & (super::state::flag::FAIL)
            )
        })
        .collect();
    lines.sort();
    lines.join("\n")
}
