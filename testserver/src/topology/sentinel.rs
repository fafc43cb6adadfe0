//! A Sentinel deployment in one process: a master, its replicas and the sentinels watching
//! them ([`TestSentinel`]), with fast timers, fault injection on any instance, and waits for
//! the failovers that follow.

use std::net::SocketAddr;
use std::time::Duration;

use super::poll_until;
use crate::config::{Config, Timers};
use crate::server::{TestServer, TestServerBuilder};

/// The errors of this module: anything that went wrong starting or waiting (`Send + Sync`,
/// so tests can return it from spawned tasks).
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// How long the builder waits for the deployment to settle.
const SETTLE: Duration = Duration::from_secs(20);

/// A master, N replicas and M sentinels monitoring them, all in this process on free ports.
///
/// ```no_run
/// # async fn demo() -> Result<(), rediscover_testserver::topology::sentinel::Error> {
/// use std::time::Duration;
/// use rediscover_testserver::topology::sentinel::TestSentinel;
///
/// let mut t = TestSentinel::builder().replicas(2).sentinels(3).start().await?;
/// let old = t.servers[0].addr();
/// t.servers[0].kill().await;
/// let new = t.wait_for_failover(old, Duration::from_secs(10)).await?;
/// assert_ne!(new, old);
/// # Ok(()) }
/// ```
///
/// `servers[0]` is the first master and `servers[1..]` its replicas; roles change with
/// failovers, addresses do not (a killed instance restarts where it was). Every instance can
/// be killed, restarted, frozen ([`TestServer::freeze`]) or partitioned
/// ([`TestSentinel::partition`]).
#[derive(Debug)]
pub struct TestSentinel {
    /// The name the sentinels monitor the master under.
    pub master_name: String,
    /// The data nodes: the first master, then its replicas.
    pub servers: Vec<TestServer>,
    /// The sentinels.
    pub sentinels: Vec<TestServer>,
}

/// Options for a [`TestSentinel`].
#[derive(Debug, Clone)]
pub struct TestSentinelBuilder {
    master_name: String,
    replicas: usize,
    sentinels: usize,
    quorum: Option<u32>,
    down_after_ms: u64,
    failover_timeout_ms: u64,
    timers: Timers,
    server_config: Config,
    replica_priorities: Vec<(usize, i64)>,
    extra_sentinel_conf: String,
}

impl Default for TestSentinelBuilder {
    fn default() -> Self {
        let timers = Timers::fast(20);
        TestSentinelBuilder {
            master_name: "mymaster".into(),
            replicas: 2,
            sentinels: 3,
            quorum: None,
            down_after_ms: 300,
            failover_timeout_ms: 1000,
            timers,
            server_config: Config::in_process(),
            replica_priorities: Vec::new(),
            extra_sentinel_conf: String::new(),
        }
    }
}

impl TestSentinelBuilder {
    /// The master's name (default `mymaster`).
    pub fn master_name(mut self, name: impl Into<String>) -> Self {
        self.master_name = name.into();
        self
    }

    /// How many replicas (default 2).
    pub fn replicas(mut self, n: usize) -> Self {
        self.replicas = n;
        self
    }

    /// How many sentinels (default 3).
    pub fn sentinels(mut self, n: usize) -> Self {
        self.sentinels = n.max(1);
        self
    }

    /// The quorum (default: a majority of the sentinels).
    pub fn quorum(mut self, q: u32) -> Self {
        self.quorum = Some(q.max(1));
        self
    }

    /// `down-after-milliseconds` (default 300).
    pub fn down_after_ms(mut self, ms: u64) -> Self {
        self.down_after_ms = ms.max(1);
        self
    }

    /// `failover-timeout` (default 1000 ms).
    pub fn failover_timeout_ms(mut self, ms: u64) -> Self {
        self.failover_timeout_ms = ms.max(1);
        self
    }

    /// The periods of every node (default: [`Timers::fast`]`(20)`: Redis's divided by 20,
    /// but a 25 ms sentinel tick and a 1 s TILT trigger).
    pub fn timers(mut self, timers: Timers) -> Self {
        self.timers = timers;
        self
    }

    /// The configuration of the master and replicas (ports, `replicaof` and timers are set
    /// by the builder). `min-replicas-to-write` and the like go here.
    pub fn server_config(mut self, config: Config) -> Self {
        self.server_config = config;
        self
    }

    /// `replica-priority` of replica `i` (0-based among the replicas).
    pub fn replica_priority(mut self, i: usize, priority: i64) -> Self {
        self.replica_priorities.push((i, priority));
        self
    }

    /// More lines for every sentinel's config file (`sentinel parallel-syncs ...`).
    pub fn sentinel_conf(mut self, text: impl Into<String>) -> Self {
        self.extra_sentinel_conf.push_str(&text.into());
        self.extra_sentinel_conf.push('\n');
        self
    }

    /// Starts everything and waits until the replicas are in sync and every sentinel knows
    /// every replica and every other sentinel.
    pub async fn start(self) -> Result<TestSentinel, Error> {
        let mut config = self.server_config.clone();
        config.timers = self.timers.clone();
        let master = TestServerBuilder::default()
            .config(config.clone())
            .start()
            .await?;
        let mut servers = vec![master];
        for i in 0..self.replicas {
            let mut c = config.clone();
            if let Some((_, p)) = self.replica_priorities.iter().find(|(r, _)| *r == i) {
                c.replica_priority = *p;
            }
            let replica = TestServerBuilder::default()
                .config(c)
                .replica_of(servers[0].addr())
                .start()
                .await?;
            servers.push(replica);
        }
        let quorum = self.quorum.unwrap_or(self.sentinels as u32 / 2 + 1);
        let master_addr = servers[0].addr();
        let name = &self.master_name;
        let conf = format!(
            "sentinel monitor {name} {} {} {quorum}\n\
             sentinel down-after-milliseconds {name} {}\n\
             sentinel failover-timeout {name} {}\n{}",
            master_addr.ip(),
            master_addr.port(),
            self.down_after_ms,
            self.failover_timeout_ms,
            self.extra_sentinel_conf
        );
        let mut sentinels = Vec::with_capacity(self.sentinels);
        for _ in 0..self.sentinels {
            let s = TestServerBuilder::default()
                .timers(self.timers.clone())
                .sentinel(conf.clone())
                .start()
                .await?;
            sentinels.push(s);
        }
        let t = TestSentinel {
            master_name: self.master_name,
            servers,
            sentinels,
        };
        let replicas: Vec<&crate::node::Node> =
            t.servers[1..].iter().map(|r| &**r.node()).collect();
        super::wait_in_sync(t.servers[0].node(), &replicas, SETTLE).await?;
        t.wait_discovered(SETTLE).await?;
        Ok(t)
    }
}

/// What one sentinel believes about the master it monitors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentinelView {
    /// The address it gives clients (`SENTINEL GET-MASTER-ADDR-BY-NAME`).
    pub master: SocketAddr,
    /// The replicas it knows.
    pub replicas: Vec<SocketAddr>,
    /// The replicas it has had an INFO reply from.
    pub replicas_heard: Vec<SocketAddr>,
    /// How many other sentinels it knows.
    pub sentinels: usize,
    /// How many of those it is connected to and has had a PING answered by.
    pub sentinels_reachable: usize,
    /// Its current epoch.
    pub epoch: u64,
    /// Whether it is in TILT.
    pub tilt: bool,
}

/// What the sentinel `node` believes about the master called `name` (`None` if it is not a
/// running sentinel monitoring that name).
pub fn view_of(node: &crate::node::Node, name: &str) -> Option<SentinelView> {
    if node.is_shutting_down() {
        return None;
    }
    let st = node.lock();
    let s = st.sentinel.as_ref()?;
    let m = s.master_by_name(name.as_bytes())?;
    let addr = |a: &crate::sentinel::Addr| -> Option<SocketAddr> {
        Some(SocketAddr::new(a.ip.parse().ok()?, a.port))
    };
    let replicas = &s.inst(m).replicas;
    Some(SentinelView {
        master: addr(s.current_master_addr(m))?,
        replicas: replicas
            .iter()
            .filter_map(|&r| addr(&s.inst(r).addr))
            .collect(),
        replicas_heard: replicas
            .iter()
            .filter(|&&r| s.inst(r).info_refresh != 0)
            .filter_map(|&r| addr(&s.inst(r).addr))
            .collect(),
        sentinels: s.inst(m).sentinels.len(),
        sentinels_reachable: s
            .inst(m)
            .sentinels
            .iter()
            .filter(|&&x| {
                let l = s.link_of(x);
                !l.disconnected && l.act_ping_time == 0 && l.last_avail_time >= l.cc_conn_time
            })
            .count(),
        epoch: s.current_epoch,
        tilt: s.tilt,
    })
}

/// Waits until each of the sentinel nodes `sentinels` knows (and has heard from) every data
/// node in `data` other than the master it announces, and every other sentinel (connected,
/// PING answered) (for
/// deployments started without a [`TestSentinel`], as `rediscover-topology` does).
pub async fn wait_discovered(
    sentinels: &[&crate::node::Node],
    master_name: &str,
    data: &[SocketAddr],
    timeout: Duration,
) -> Result<(), Error> {
    let others = sentinels.len().saturating_sub(1);
    poll_until(timeout, || {
        for (i, s) in sentinels.iter().enumerate() {
            let Some(v) = view_of(s, master_name) else {
                continue;
            };
            let missing: Vec<_> = data
                .iter()
                .filter(|a| **a != v.master && !v.replicas_heard.contains(a))
                .collect();
            if !missing.is_empty() || v.sentinels_reachable < others {
                return Err(format!(
                    "sentinel {i} to know every replica and sentinel (replicas {:?}, missing {missing:?}, sentinels {}/{others} reachable)",
                    v.replicas, v.sentinels_reachable
                ));
            }
        }
        Ok(())
    })
    .await?;
    Ok(())
}

impl TestServer {
    /// On a sentinel: what it believes about the master called `name` (`None` if it is not
    /// a running sentinel monitoring that name).
    pub fn sentinel_view(&self, name: &str) -> Option<SentinelView> {
        if !self.is_running() {
            return None;
        }
        view_of(self.node(), name)
    }
}

impl TestSentinel {
    /// A builder with the defaults: 2 replicas, 3 sentinels, quorum 2, down-after 300 ms,
    /// failover-timeout 1 s, timers 20 times Redis's.
    pub fn builder() -> TestSentinelBuilder {
        TestSentinelBuilder::default()
    }

    /// The data node at `addr`.
    pub fn server(&self, addr: SocketAddr) -> Option<&TestServer> {
        self.servers.iter().find(|s| s.addr() == addr)
    }

    /// The data node at `addr`, mutably (to kill or restart it).
    pub fn server_mut(&mut self, addr: SocketAddr) -> Option<&mut TestServer> {
        self.servers.iter_mut().find(|s| s.addr() == addr)
    }

    /// What sentinel `i` believes.
    pub fn view(&self, i: usize) -> Option<SentinelView> {
        self.sentinels.get(i)?.sentinel_view(&self.master_name)
    }

    /// Waits until every running sentinel knows every other data node as a replica of the
    /// master it announces (and has heard from it), and every other sentinel.
    pub async fn wait_discovered(&self, timeout: Duration) -> Result<(), Error> {
        let data: Vec<SocketAddr> = self.servers.iter().map(|s| s.addr()).collect();
        let sentinels: Vec<&crate::node::Node> =
            self.sentinels.iter().map(|s| &**s.node()).collect();
        wait_discovered(&sentinels, &self.master_name, &data, timeout).await
    }

    /// Waits until every running sentinel announces the same master, other than `old`, and
    /// that server answers as a master; returns its address.
    pub async fn wait_for_failover(
        &self,
        old: SocketAddr,
        timeout: Duration,
    ) -> Result<SocketAddr, Error> {
        let running: Vec<usize> = (0..self.sentinels.len())
            .filter(|&i| self.sentinels[i].is_running())
            .collect();
        self.wait_for_failover_seen_by(&running, old, timeout).await
    }

    /// [`TestSentinel::wait_for_failover`] as seen by the sentinels `which` only (the others
    /// may be partitioned away or frozen).
    pub async fn wait_for_failover_seen_by(
        &self,
        which: &[usize],
        old: SocketAddr,
        timeout: Duration,
    ) -> Result<SocketAddr, Error> {
        let mut found = None;
        poll_until(timeout, || {
            let mut seen = None;
            for &i in which {
                let Some(v) = self.view(i) else {
                    return Err(format!("sentinel {i} to run"));
                };
                if v.master == old {
                    return Err(format!("sentinel {i} to leave {old}"));
                }
                match seen {
                    None => seen = Some(v.master),
                    Some(m) if m != v.master => {
                        return Err(format!("sentinels to agree ({m} and {})", v.master))
                    }
                    _ => {}
                }
            }
            let Some(addr) = seen else {
                return Err("a sentinel to watch".into());
            };
            match self.server(addr) {
                Some(s) if s.is_running() && s.is_master() => {
                    found = Some(addr);
                    Ok(())
                }
                _ => Err(format!("{addr} to be a master")),
            }
        })
        .await?;
        found.ok_or_else(|| "no master".into())
    }

    /// Waits until the node at `addr` is a replica of `master` with its link up.
    pub async fn wait_replica_of(
        &self,
        addr: SocketAddr,
        master: SocketAddr,
        timeout: Duration,
    ) -> Result<(), Error> {
        let node = self.server(addr).ok_or("no such server")?;
        poll_until(timeout, || {
            let st = node.node().lock();
            match &st.repl.master {
                Some(m)
                    if m.port == master.port()
                        && m.host == master.ip().to_string()
                        && m.state == crate::repl::LinkState::Connected =>
                {
                    Ok(())
                }
                Some(m) => Err(format!(
                    "{addr} to replicate {master} (it follows {}:{}, {})",
                    m.host,
                    m.port,
                    m.state.name()
                )),
                None => Err(format!("{addr} to replicate {master} (it is a master)")),
            }
        })
        .await?;
        Ok(())
    }

    /// Cuts every instance of `a` off from every instance of `b` and back (a partition);
    /// links between them stall until [`TestSentinel::heal`].
    pub fn partition(a: &[&TestServer], b: &[&TestServer]) {
        for x in a {
            for y in b {
                x.cut_off_from(y.addr());
                y.cut_off_from(x.addr());
            }
        }
    }

    /// Ends a [`TestSentinel::partition`].
    pub fn heal(a: &[&TestServer], b: &[&TestServer]) {
        for x in a {
            for y in b {
                x.heal_from(y.addr());
                y.heal_from(x.addr());
            }
        }
    }

    /// Every instance (data nodes, then sentinels).
    pub fn all(&self) -> Vec<&TestServer> {
        self.servers.iter().chain(&self.sentinels).collect()
    }
}
