//! What every handle of one cluster client shares: the node connections, the slot map, and
//! the one refresh component that keeps the map current.
//!
//! The refresh runs in one background task. Anything may ask for a refresh
//! ([`State::request_refresh`]: a `MOVED`, a `READONLY`, an unreachable node, an uncovered
//! slot, an unknown node); requests made while one is pending or running coalesce into the
//! next one, refreshes are at least [`ClusterConfig::refresh_min_interval`] apart, and a
//! jittered periodic timer asks too. Routing never waits for it: it reads the current map
//! (a `MOVED` patches its slot at once); only a request with nowhere to go waits, for the
//! next refresh or its own deadline.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;

use tokio::sync::{watch, Notify};
use tokio::time::Instant;
use tracing::Instrument;

use super::config::{ClusterConfig, ReadFrom};
use super::topology::{Node, Topology, View};
use super::ClusterStats;
use crate::client::Client;
use crate::cmd::Cmd;
use crate::commands::Execute;
use crate::config::Config;
use crate::conn::source::{AddressSource, BoxFuture};
use crate::conn::Connection;
use crate::error::{Error, Result};
use crate::error_codes::ErrorCode;
use crate::resp::Frame;
use crate::sentinel::NodeAddr;

/// Counters, updated lock-free.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) moved: AtomicU64,
    pub(crate) ask: AtomicU64,
    pub(crate) retries: AtomicU64,
    pub(crate) refreshes: AtomicU64,
    pub(crate) refresh_failures: AtomicU64,
    pub(crate) crossslot_refused: AtomicU64,
}

pub(crate) struct State {
    pub(crate) config: ClusterConfig,
    topology: RwLock<Arc<Topology>>,
    nodes: Mutex<HashMap<NodeAddr, Arc<Node>>>,
    version: AtomicU64,
    wake: Arc<Notify>,
    /// The number of refreshes finished (successful or not).
    refreshed: watch::Sender<u64>,
    /// Set once a node answered `CLUSTER SHARDS` with an unknown-subcommand error.
    use_slots: AtomicBool,
    pub(crate) counters: Counters,
    task: Mutex<Option<tokio::task::AbortHandle>>,
    scans: Mutex<ScanTable>,
    /// Told about every node-connection reconnect.
    pub(crate) events: tokio::sync::broadcast::Sender<super::ClusterEvent>,
}

impl Drop for State {
    fn drop(&mut self) {
        if let Some(task) = self.task.lock().unwrap_or_else(|p| p.into_inner()).take() {
            task.abort();
        }
    }
}

/// Where a node's connections go: always that node; checks `READONLY` on them when reads may
/// go to replicas, and tells the refresh component when the node cannot be reached.
struct NodeSource {
    config: Config,
    readonly: bool,
    state: Weak<State>,
}

impl AddressSource for NodeSource {
    fn next_config(&self) -> BoxFuture<'_, Result<Config>> {
        Box::pin(std::future::ready(Ok(self.config.clone())))
    }

    fn verify<'a>(&'a self, conn: &'a Connection) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            if self.readonly {
                conn.send_command(Cmd::new("READONLY")).await?;
            }
            Ok(())
        })
    }

    fn connect_failed(&self, _config: &Config, error: &Error) {
        if let Some(state) = self.state.upgrade() {
            tracing::debug!(target: "rediscover::cluster", node = %self.config.addr(), %error, "node unreachable; asking for a topology refresh");
            state.request_refresh();
        }
    }
}

impl State {
    /// A state with an empty map; [`State::start`] fills it.
    pub(crate) fn new(config: ClusterConfig) -> Arc<State> {
        let (refreshed, _) = watch::channel(0);
        let (events, _) = tokio::sync::broadcast::channel(256);
        Arc::new(State {
            config,
            topology: RwLock::new(Arc::new(Topology::empty())),
            nodes: Mutex::new(HashMap::new()),
            version: AtomicU64::new(0),
            wake: Arc::new(Notify::new()),
            refreshed,
            use_slots: AtomicBool::new(false),
            counters: Counters::default(),
            task: Mutex::new(None),
            scans: Mutex::new(ScanTable::default()),
            events,
        })
    }

    /// Loads the first map (failing when no seed answers) and starts the refresh task.
    pub(crate) async fn start(self: &Arc<Self>) -> Result<()> {
        self.refresh_now().await?;
        let weak = Arc::downgrade(self);
        let wake = self.wake.clone();
        let task = tokio::spawn(refresher(weak, wake));
        *self.task.lock().unwrap_or_else(|p| p.into_inner()) = Some(task.abort_handle());
        Ok(())
    }

    /// The current map.
    pub(crate) fn topology(&self) -> Arc<Topology> {
        self.topology
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The handle of the node at `addr` (already remapped), made on first use.
    pub(crate) fn node(self: &Arc<Self>, addr: &NodeAddr) -> Arc<Node> {
        let mut nodes = self.nodes.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = nodes.get(addr) {
            return n.clone();
        }
        let config = self.config.config_for(addr);
        // One deadline covers a whole cluster request: the node clients have none of their own.
        let policy = config.clone().request_timeout(None);
        let source = NodeSource {
            config: config.request_timeout(None),
            readonly: self.config.get_read_from() != ReadFrom::Primary,
            state: Arc::downgrade(self),
        };
        let node = Arc::new(Node {
            addr: addr.clone(),
            client: Client::lazy(policy, Arc::new(source)),
            rtt_us: AtomicU64::new(u64::MAX),
            failures: AtomicU64::new(0),
        });
        nodes.insert(addr.clone(), node.clone());
        node
    }

    /// A node named by a redirection (`host:port`; an empty host is `asked`'s).
    pub(crate) fn redirect_node(
        self: &Arc<Self>,
        addr: &str,
        asked: &NodeAddr,
    ) -> Option<Arc<Node>> {
        let (host, port) = addr.rsplit_once(':')?;
        let port: u16 = port.parse().ok().filter(|&p| p != 0)?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let host = match host {
            "" => asked.host(),
            "?" => return None,
            h => h,
        };
        let announced = NodeAddr::new(host, port);
        Some(self.node(&self.config.remapped(&announced)))
    }

    /// Records a `MOVED`: `slot` is served by `to` from now on, and a refresh is asked for.
    pub(crate) fn moved(&self, slot: u16, to: Arc<Node>) {
        self.counters.moved.fetch_add(1, Ordering::Relaxed);
        {
            let mut topo = self.topology.write().unwrap_or_else(|p| p.into_inner());
            let already = topo.shard(slot).is_some_and(|s| s.master.addr == to.addr);
            if !already {
                let version = self.version.fetch_add(1, Ordering::AcqRel) + 1;
                *topo = Arc::new(topo.patched(slot, to, version));
            }
        }
        self.request_refresh();
    }

    /// Asks for a refresh; never waits.
    pub(crate) fn request_refresh(&self) {
        self.wake.notify_one();
    }

    /// Asks for a refresh and waits until one finished after this call, or `deadline`.
    pub(crate) async fn wait_refresh(&self, deadline: Option<Instant>) {
        let mut rx = self.refreshed.subscribe();
        rx.borrow_and_update();
        self.request_refresh();
        let changed = rx.changed();
        match deadline {
            Some(d) => {
                let _ = tokio::time::timeout_at(d, changed).await;
            }
            None => {
                let _ = changed.await;
            }
        }
    }

    /// Asks some nodes for their view, picks one and installs it.
    pub(crate) async fn refresh_now(self: &Arc<Self>) -> Result<()> {
        let span = tracing::debug_span!(target: "rediscover::cluster", "cluster_refresh");
        let result = self.refresh_inner().instrument(span).await;
        match &result {
            Ok(()) => self.counters.refreshes.fetch_add(1, Ordering::Relaxed),
            Err(e) => {
                tracing::debug!(target: "rediscover::cluster", error = %e, "topology refresh failed");
                self.counters
                    .refresh_failures
                    .fetch_add(1, Ordering::Relaxed)
            }
        };
        self.refreshed.send_modify(|n| *n += 1);
        result
    }

    async fn refresh_inner(self: &Arc<Self>) -> Result<()> {
        // Masters first (they are the authority for their slots), then the other nodes we
        // know, then the seeds; shuffled within each group so that clients spread the load.
        let topo = self.topology();
        let mut candidates: Vec<NodeAddr> = Vec::new();
        let push = |a: &NodeAddr, list: &mut Vec<NodeAddr>| {
            if !list.contains(a) {
                list.push(a.clone());
            }
        };
        let mut masters: Vec<NodeAddr> = topo.masters().iter().map(|n| n.addr.clone()).collect();
        shuffle(&mut masters);
        for a in &masters {
            push(a, &mut candidates);
        }
        let mut others: Vec<NodeAddr> = topo.nodes().map(|n| n.addr.clone()).collect();
        shuffle(&mut others);
        for a in &others {
            push(a, &mut candidates);
        }
        for seed in self.config.seeds() {
            let a = self.config.remapped(seed);
            push(&a, &mut candidates);
        }
        let sample = self.config.get_topology_sample();
        let mut views: Vec<(View, Vec<NodeAddr>)> = Vec::new();
        let mut errors: Vec<(NodeAddr, Error)> = Vec::new();
        for batch in candidates.chunks(sample) {
            let asks = batch.iter().map(|a| {
                let node = self.node(a);
                async move {
                    let r = self.ask(&node).await;
                    (node, r)
                }
            });
            for (node, r) in super::join_all(asks.collect()).await {
                match r {
                    Ok(view) => match views.iter_mut().find(|(v, _)| *v == view) {
                        Some((_, voters)) => voters.push(node.addr.clone()),
                        None => views.push((view, vec![node.addr.clone()])),
                    },
                    Err(e) => errors.push((node.addr.clone(), e)),
                }
            }
            if !views.is_empty() {
                break;
            }
        }
        // The view most nodes gave; among equals, the one that covers more slots.
        let Some((view, voters)) = views
            .into_iter()
            .max_by_key(|(v, voters)| (voters.len(), v.covered()))
        else {
            let detail: Vec<String> = errors.iter().map(|(a, e)| format!("{a}: {e}")).collect();
            return Err(Error::not_sent(Error::Config(format!(
                "no cluster node answered CLUSTER SHARDS/SLOTS ({})",
                detail.join("; ")
            ))));
        };
        let version = self.version.fetch_add(1, Ordering::AcqRel) + 1;
        let fresh = Topology::build(&view, version, |a| self.node(a));
        let covered = fresh.covered();
        let fresh = Arc::new(fresh);
        let keep: std::collections::HashSet<NodeAddr> =
            fresh.nodes().map(|n| n.addr.clone()).collect();
        if self.config.get_read_from() == ReadFrom::Nearest {
            // Nearest reads need every node's latency, not only the ones asked for the map.
            let nodes: Vec<Arc<Node>> = fresh.nodes().cloned().collect();
            let timeout = self.config.get_node().get_connect_timeout();
            tokio::spawn(async move {
                let pings = nodes.iter().map(|n| async move {
                    let started = Instant::now();
                    let ping = n.client.send_command(Cmd::new("PING"));
                    if let Ok(Ok(_)) = tokio::time::timeout(timeout, ping).await {
                        n.rtt_us
                            .store(started.elapsed().as_micros() as u64, Ordering::Relaxed);
                    }
                });
                super::join_all(pings.collect()).await;
            });
        }
        *self.topology.write().unwrap_or_else(|p| p.into_inner()) = fresh;
        // Nodes the map no longer names are dropped (requests still on them keep them alive).
        self.nodes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|a, _| keep.contains(a));
        tracing::debug!(target: "rediscover::cluster", version, shards = view.shards.len(), covered, voters = voters.len(), "topology installed");
        Ok(())
    }

    /// One node's view.
    async fn ask(&self, node: &Node) -> Result<View> {
        let timeout = self.config.get_node().get_connect_timeout();
        let started = Instant::now();
        let remap = |a: &NodeAddr| self.config.remapped(a);
        let call = |sub: &'static str| {
            let client = node.client.clone();
            async move {
                tokio::time::timeout(timeout, client.send_command(Cmd::new("CLUSTER").arg(sub)))
                    .await
                    .unwrap_or(Err(Error::Timeout { sent: true }))
            }
        };
        if !self.use_slots.load(Ordering::Relaxed) {
            match call("SHARDS").await {
                Ok(reply) => {
                    node.rtt_us
                        .store(started.elapsed().as_micros() as u64, Ordering::Relaxed);
                    return View::from_shards(reply, &node.addr, &remap);
                }
                Err(e) if e.code() == Some(ErrorCode::Err) => {
                    // An older server: CLUSTER SLOTS from now on.
                    self.use_slots.store(true, Ordering::Relaxed);
                }
                Err(e) => return Err(e),
            }
        }
        let reply: Frame = call("SLOTS").await?;
        node.rtt_us
            .store(started.elapsed().as_micros() as u64, Ordering::Relaxed);
        View::from_slots(reply, &node.addr, &remap)
    }

    /// The cluster `SCAN` cursor for position `inner` on master number `index` (in address
    /// order). Small node cursors (Redis's own, below 2^48) are packed with the index
    /// (`index << 48 | inner`, top bit clear) and need no state; larger ones (the test server's
    /// hashed positions) are kept in a bounded table and named by a token with the top bit set.
    pub(crate) fn scan_cursor(&self, index: usize, inner: u64) -> u64 {
        if inner < (1 << SCAN_SHIFT) && (index as u64) < (1 << (63 - SCAN_SHIFT)) {
            return ((index as u64) << SCAN_SHIFT) | inner;
        }
        let mut t = self.scans.lock().unwrap_or_else(|p| p.into_inner());
        t.next = t.next.wrapping_add(1) & !(1 << 63);
        let token = (1 << 63) | t.next;
        t.entries.insert(token, (index, inner));
        t.order.push_back(token);
        while t.order.len() > SCAN_TABLE {
            if let Some(old) = t.order.pop_front() {
                t.entries.remove(&old);
            }
        }
        token
    }

    /// The master index and node cursor a cluster `SCAN` cursor stands for.
    pub(crate) fn scan_position(&self, cursor: u64) -> Option<(usize, u64)> {
        if cursor >> 63 == 0 {
            return Some((
                (cursor >> SCAN_SHIFT) as usize,
                cursor & ((1 << SCAN_SHIFT) - 1),
            ));
        }
        let t = self.scans.lock().unwrap_or_else(|p| p.into_inner());
        t.entries.get(&cursor).copied()
    }

    pub(crate) fn stats(&self) -> ClusterStats {
        let c = &self.counters;
        let reconnects = self
            .nodes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .map(|n| n.client.reconnects())
            .sum();
        ClusterStats {
            moved: c.moved.load(Ordering::Relaxed),
            ask: c.ask.load(Ordering::Relaxed),
            retries: c.retries.load(Ordering::Relaxed),
            refreshes: c.refreshes.load(Ordering::Relaxed),
            refresh_failures: c.refresh_failures.load(Ordering::Relaxed),
            reconnects,
            topology_version: self.topology().version,
        }
    }
}

const SCAN_SHIFT: u32 = 48;
/// How many large `SCAN` cursors are remembered (iterations in progress at once).
const SCAN_TABLE: usize = 4096;

#[derive(Default)]
struct ScanTable {
    next: u64,
    entries: HashMap<u64, (usize, u64)>,
    order: std::collections::VecDeque<u64>,
}

/// The refresh task: waits for a request or the periodic timer, keeps refreshes apart, runs
/// one. Ends when the client is dropped.
async fn refresher(state: Weak<State>, wake: Arc<Notify>) {
    let mut last: Option<Instant> = None;
    loop {
        let (every, min) = match state.upgrade() {
            Some(s) => (
                s.config.get_refresh_interval(),
                s.config.get_refresh_min_interval(),
            ),
            None => return,
        };
        // Periodic, jittered down by up to a quarter so that many clients do not align.
        let jitter = every / 4;
        let period = every - random_below(jitter);
        tokio::select! {
            _ = wake.notified() => {}
            _ = tokio::time::sleep(period) => {}
        }
        if let Some(at) = last {
            if let Some(wait) = (at + min).checked_duration_since(Instant::now()) {
                // Requests arriving meanwhile coalesce into this refresh.
                tokio::time::sleep(wait).await;
            }
        }
        let Some(s) = state.upgrade() else { return };
        let _ = s.refresh_now().await;
        last = Some(Instant::now());
    }
}

fn random_u64() -> u64 {
    std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
}

/// A random duration below `d` (zero for zero).
pub(crate) fn random_below(d: Duration) -> Duration {
    match u64::try_from(d.as_nanos()) {
        Ok(0) | Err(_) => Duration::ZERO,
        Ok(n) => Duration::from_nanos(random_u64() % n),
    }
}

/// A random index below `n` (`n > 0`).
pub(crate) fn random_index(n: usize) -> usize {
    (random_u64() % n.max(1) as u64) as usize
}

fn shuffle<T>(v: &mut [T]) {
    for i in (1..v.len()).rev() {
        v.swap(i, random_index(i + 1));
    }
}
