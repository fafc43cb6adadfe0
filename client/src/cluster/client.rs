//! [`ClusterClient`]: routing, redirections, retries, fan-out and pipelines.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;
use tracing::Instrument;

use super::config::{ClusterConfig, ReadFrom};
use super::state::{random_index, State};
use super::topology::Node;
use super::{join_all, ClusterEvent, ClusterStats};
use crate::cmd::{Cmd, ToArgs, Usage};
use crate::commands::Execute;
use crate::conn::source::backoff;
use crate::error::{Error, Result, ServerError};
use crate::error_codes::{msg, ErrorCode, Redirect};
use crate::pipeline::Pipeline;
use crate::resp::Frame;
use crate::routing::{self, Route};
use crate::slot::{key_slot, CommandSlot};
use crate::transaction::{Transaction, Watched};
use crate::value::FromReply;

/// A Redis Cluster client: a cheap `Clone` handle with the same typed
/// [`Commands`](crate::Commands), pipelines and transactions as [`Client`](crate::Client).
/// See [the module](super) for how commands are routed and retried.
///
/// Code written against [`Execute`] (or `Commands`) runs on either:
///
/// ```no_run
/// use rediscover::{cluster::ClusterClient, Client, Commands, Execute};
///
/// async fn visit(db: &impl Execute, page: &str) -> rediscover::Result<i64> {
///     db.incr(format!("visits:{page}")).await
/// }
///
/// # async fn demo() -> rediscover::Result<()> {
/// let single = Client::connect("redis://127.0.0.1:6379").await?;
/// let cluster = ClusterClient::connect(["127.0.0.1:7000"]).await?;
/// visit(&single, "home").await?;
/// visit(&cluster, "home").await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct ClusterClient {
    state: Arc<State>,
    timeout: Option<Duration>,
}

impl std::fmt::Debug for ClusterClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let topo = self.state.topology();
        f.debug_struct("ClusterClient")
            .field("masters", &topo.masters().len())
            .field("covered", &topo.covered())
            .field("version", &topo.version)
            .finish_non_exhaustive()
    }
}

/// What to do after a reply.
enum Next {
    Done,
    Moved(Redirect),
    Ask(Redirect),
    /// Wait a little (and maybe refresh), then route again.
    Retry {
        refresh: bool,
    },
    /// The node could not be reached: nothing was sent.
    Unreachable,
}

fn classify_line(line: &[u8]) -> Next {
    match ErrorCode::of(line) {
        ErrorCode::Moved => Redirect::parse(line).map_or(Next::Done, Next::Moved),
        ErrorCode::Ask => Redirect::parse(line).map_or(Next::Done, Next::Ask),
        ErrorCode::TryAgain | ErrorCode::Loading => Next::Retry { refresh: false },
        ErrorCode::ClusterDown | ErrorCode::MasterDown | ErrorCode::ReadOnly => {
            Next::Retry { refresh: true }
        }
        _ => Next::Done,
    }
}

fn classify(result: &Result<Frame>) -> Next {
    match result {
        Ok(_) => Next::Done,
        Err(Error::Server(e)) => classify_line(e.line()),
        Err(e) if e.is_not_sent() => Next::Unreachable,
        Err(_) => Next::Done,
    }
}

fn classify_frame(frame: &Frame) -> Next {
    match frame {
        Frame::Error(line) | Frame::BulkError(line) => classify_line(line),
        _ => Next::Done,
    }
}

/// How a command without a single slot is run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Aggregate {
    /// Integers added (`DBSIZE`).
    Sum,
    /// Arrays joined (`KEYS`).
    Concat,
    /// The first reply when all succeed, else the first error (`FLUSHALL`).
    AllSucceeded,
    /// The first success (`SCRIPT KILL`).
    OneSucceeded,
    /// The smallest integer.
    Min,
    /// Arrays of 0/1 combined position by position (`SCRIPT EXISTS`).
    LogicalAnd,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Keyless {
    /// One node, chosen at random among the masters.
    Random,
    /// Every master, replies combined.
    Masters(Aggregate),
    /// Every node, replies combined.
    AllNodes(Aggregate),
    /// `SCAN` across the masters.
    Scan,
}

fn keyless_policy(argv: &[&[u8]]) -> Keyless {
    let Some(name) = argv.first() else {
        return Keyless::Random;
    };
    if name.eq_ignore_ascii_case(b"SCAN") {
        return Keyless::Scan;
    }
    // A few commands the table sends everywhere are better asked of one node.
    for one in [&b"PING"[..], b"INFO", b"RANDOMKEY", b"WAIT", b"WAITAOF"] {
        if name.eq_ignore_ascii_case(one) {
            return Keyless::Random;
        }
    }
    let Some(mut info) = crate::command::lookup(name) else {
        return Keyless::Random;
    };
    if let Some(sub) = argv.get(1).and_then(|s| info.subcommand(s)) {
        info = sub;
    }
    let tip = |prefix: &str| {
        info.tips
            .iter()
            .find_map(|t| t.strip_prefix(prefix))
            .unwrap_or("")
    };
    let aggregate = match tip("response_policy:") {
        "agg_sum" => Aggregate::Sum,
        "all_succeeded" => Aggregate::AllSucceeded,
        "one_succeeded" => Aggregate::OneSucceeded,
        "agg_min" => Aggregate::Min,
        "agg_logical_and" => Aggregate::LogicalAnd,
        "" => Aggregate::Concat,
        // "special" replies (INFO, MEMORY STATS, ...) cannot be combined generically.
        _ => return Keyless::Random,
    };
    match tip("request_policy:") {
        "all_shards" => Keyless::Masters(aggregate),
        "all_nodes" => Keyless::AllNodes(aggregate),
        _ => Keyless::Random,
    }
}

/// Multi-key commands split per slot when their keys span slots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Split {
    /// `MGET`: values, in key order.
    Mget,
    /// `DEL`, `UNLINK`, `EXISTS`, `TOUCH`: counts, added.
    Count,
    /// `MSET` (opt-in): key-value pairs.
    Mset,
}

fn split_kind(name: &[u8], split_mset: bool) -> Option<Split> {
    let is = |n: &[u8]| name.eq_ignore_ascii_case(n);
    if is(b"MGET") {
        Some(Split::Mget)
    } else if is(b"DEL") || is(b"UNLINK") || is(b"EXISTS") || is(b"TOUCH") {
        Some(Split::Count)
    } else if is(b"MSET") && split_mset {
        Some(Split::Mset)
    } else {
        None
    }
}

/// The error for keys that span slots, naming them and their slots.
pub(crate) fn crossslot_error(what: &str, keys: &[&[u8]]) -> Error {
    let mut listed: Vec<String> = keys
        .iter()
        .take(8)
        .map(|k| format!("'{}' (slot {})", String::from_utf8_lossy(k), key_slot(k)))
        .collect();
    if keys.len() > 8 {
        listed.push(format!("and {} more", keys.len() - 8));
    }
    Error::NotAllowed(format!(
        "CROSSSLOT {what} has keys in different hash slots: {}; nothing was sent. Put the keys \
         in one slot with a hash tag ({{user:1}}:a, {{user:1}}:b)",
        listed.join(", ")
    ))
}

fn is_read(argv0: &[u8]) -> bool {
    crate::command::lookup(argv0).is_some_and(|c| c.has_flag("readonly"))
}

fn server_error(line: &str) -> Error {
    Error::Server(ServerError::new(Bytes::copy_from_slice(line.as_bytes())))
}

/// The slot of a single-key command (the common case) from the command table, without
/// collecting the arguments, and whether it is a read for a replica; `None` for the others.
fn fast_target<'a>(
    mut args: impl Iterator<Item = &'a [u8]>,
    replica_reads: bool,
) -> Option<(CommandSlot, bool)> {
    let info = crate::command::lookup(args.next()?)?;
    if info.first_key == 1
        && info.last_key == 1
        && info.key_specs.len() == 1
        && !info.has_flag("movablekeys")
    {
        let key = args.next()?;
        let read = replica_reads && info.has_flag("readonly");
        return Some((CommandSlot::Slot(key_slot(key)), read));
    }
    None
}

/// A command rebuilt from arguments.
fn build(args: &[&[u8]]) -> Cmd {
    let mut cmd = Cmd::new(&String::from_utf8_lossy(args[0]));
    for a in &args[1..] {
        cmd.push_arg(a);
    }
    cmd
}

impl ClusterClient {
    /// Connects to the cluster that `seeds` (`host:port` or `redis://` URLs, see
    /// [`ClusterConfig::new`]) belong to: fails only when no seed answers.
    pub async fn connect<I, S>(seeds: I) -> Result<ClusterClient>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        ClusterClient::with_config(ClusterConfig::new(seeds)?).await
    }

    /// Connects with a [`ClusterConfig`].
    pub async fn with_config(config: ClusterConfig) -> Result<ClusterClient> {
        config.get_node().validate()?;
        let timeout = config.get_node().get_request_timeout();
        let state = State::new(config);
        state.start().await?;
        Ok(ClusterClient { state, timeout })
    }

    /// A handle to the same client whose requests have another deadline (`None`: none).
    pub fn with_timeout(&self, timeout: Option<Duration>) -> ClusterClient {
        ClusterClient {
            state: self.state.clone(),
            timeout,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &ClusterConfig {
        &self.state.config
    }

    /// What the client has done so far: redirections, retries, refreshes, reconnects.
    pub fn stats(&self) -> ClusterStats {
        self.state.stats()
    }

    /// Events the application may act on (see [`ClusterEvent`]).
    pub fn events(&self) -> tokio::sync::broadcast::Receiver<ClusterEvent> {
        self.state.events.subscribe()
    }

    /// A subscriber to shard channels (`SSUBSCRIBE`) on this cluster; see
    /// [`ShardedSubscriber`](super::ShardedSubscriber).
    pub fn sharded_subscriber(&self) -> super::ShardedSubscriber {
        super::ShardedSubscriber::new(self.state.clone())
    }

    /// Refreshes the slot map now and waits for it.
    pub async fn refresh(&self) -> Result<()> {
        self.state.refresh_now().await
    }

    /// The masters serving slots now, with their slot counts, in address order.
    pub fn masters(&self) -> Vec<super::NodeAddr> {
        self.state
            .topology()
            .masters()
            .iter()
            .map(|n| n.addr.clone())
            .collect()
    }

    /// The node that serves `key`'s slot now (as far as this client knows).
    pub fn node_for_key(&self, key: impl AsRef<[u8]>) -> Option<super::NodeAddr> {
        let topo = self.state.topology();
        topo.shard(key_slot(key.as_ref()))
            .map(|s| s.master.addr.clone())
    }

    /// The replicas of `key`'s shard that reads may use now: those the map reports healthy
    /// (a replica that has received nothing yet is reported `loading`, and left out).
    pub fn replicas_for_key(&self, key: impl AsRef<[u8]>) -> Vec<super::NodeAddr> {
        let topo = self.state.topology();
        topo.shard(key_slot(key.as_ref()))
            .map(|s| s.replicas.iter().map(|n| n.addr.clone()).collect())
            .unwrap_or_default()
    }

    /// An optimistic transaction on `keys` (all in one slot): `WATCH` on a dedicated
    /// connection to the slot's master, then `body`, then `MULTI`/`EXEC`, retried on
    /// conflicts, as [`Client::transaction`](crate::Client::transaction) does. A `MOVED`
    /// answer to `WATCH` (the slot moved) makes it start over on the new master.
    pub async fn transaction<T, F, Fut>(&self, keys: impl ToArgs, mut body: F) -> Result<Option<T>>
    where
        T: FromReply,
        F: FnMut(Watched) -> Fut,
        Fut: std::future::Future<Output = Result<Option<Transaction>>>,
    {
        let keys = Cmd::new("WATCH").arg(keys);
        let argv: Vec<&[u8]> = keys.args().collect();
        let slot = match crate::slot::command_slot(&argv) {
            CommandSlot::Slot(s) => s,
            CommandSlot::NoKeys => return Err(Error::Config("a transaction needs keys".into())),
            CommandSlot::CrossSlot => {
                return Err(crossslot_error("the transaction", &argv[1..]));
            }
        };
        let key_args: Vec<Bytes> = argv[1..]
            .iter()
            .map(|k| Bytes::copy_from_slice(k))
            .collect();
        let mut redirects = 0;
        loop {
            let node = self.wait_master(slot, self.deadline()).await?;
            let client = node.client.with_timeout(self.timeout);
            match client.transaction(key_args.clone(), &mut body).await {
                Err(Error::Server(e))
                    if e.code() == ErrorCode::Moved
                        && redirects < self.state.config.get_max_redirects() =>
                {
                    redirects += 1;
                    if let Some(r) = e.redirect() {
                        if let Some(to) = self.state.redirect_node(&r.addr, &node.addr) {
                            self.state.moved(r.slot, to);
                        }
                    }
                }
                other => return other,
            }
        }
    }

    fn deadline(&self) -> Option<Instant> {
        self.timeout.map(|t| Instant::now() + t)
    }

    /// The master of `slot`, waiting for refreshes (until `deadline`) while none is known.
    async fn wait_master(&self, slot: u16, deadline: Option<Instant>) -> Result<Arc<Node>> {
        loop {
            if let Some(shard) = self.state.topology().shard(slot) {
                return Ok(shard.master.clone());
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(Error::not_sent(server_error(msg::CLUSTERDOWN_UNBOUND)));
            }
            self.state.wait_refresh(deadline).await;
        }
    }

    /// Where a command for `slot` goes now: `None` when the slot is not covered (or, for
    /// replica reads, has no replica).
    fn pick(&self, slot: u16, read: bool, avoid_replicas: bool) -> Option<Arc<Node>> {
        let topo = self.state.topology();
        let shard = topo.shard(slot)?;
        if !read {
            return Some(shard.master.clone());
        }
        let next_replica = || {
            (!shard.replicas.is_empty()).then(|| {
                let i = shard.next_replica.fetch_add(1, Ordering::Relaxed);
                shard.replicas[i % shard.replicas.len()].clone()
            })
        };
        match self.state.config.get_read_from() {
            ReadFrom::Primary => Some(shard.master.clone()),
            ReadFrom::PreferReplica if avoid_replicas => Some(shard.master.clone()),
            ReadFrom::PreferReplica => next_replica().or_else(|| Some(shard.master.clone())),
            ReadFrom::Replica => next_replica(),
            ReadFrom::Nearest => std::iter::once(&shard.master)
                .chain(&shard.replicas)
                .min_by_key(|n| n.rtt_us.load(Ordering::Relaxed))
                .cloned(),
        }
    }

    /// Runs `cmd` (all keys in `slot`) with redirections and retries.
    async fn on_slot(
        &self,
        route: &Route,
        slot: u16,
        read: bool,
        sent: &AtomicBool,
    ) -> Result<Frame> {
        let config = &self.state.config;
        let read = read && config.get_read_from() != ReadFrom::Primary;
        let mut ask: Option<Arc<Node>> = None;
        let mut moved_to: Option<Arc<Node>> = None;
        let mut avoid_replicas = false;
        let mut attempt = 0u32;
        let mut waits = 0u32;
        loop {
            let (node, asking) = match (ask.take(), moved_to.take()) {
                (Some(n), _) => (n, true),
                (None, Some(n)) => (n, false),
                (None, None) => match self.pick(slot, read, avoid_replicas) {
                    Some(n) => (n, false),
                    None => {
                        if attempt >= config.get_max_redirects() {
                            return Err(Error::not_sent(server_error(msg::CLUSTERDOWN_UNBOUND)));
                        }
                        attempt += 1;
                        self.state.wait_refresh(None).await;
                        continue;
                    }
                },
            };
            sent.store(true, Ordering::Relaxed);
            let result = if asking {
                Box::pin(asking_then(&node, route)).await
            } else {
                node.client.send_routed(route).await
            };
            let next = classify(&result);
            if matches!(next, Next::Done) {
                // Read first: a store on every request would bounce the node's cache line
                // between threads.
                if node.failures.load(Ordering::Relaxed) != 0 {
                    node.failures.store(0, Ordering::Relaxed);
                }
                return result;
            }
            // Waits (an unreachable node, TRYAGAIN, CLUSTERDOWN: a failover takes node-timeout
            // plus an election) last until the deadline when there is one; redirections are
            // counted, against loops.
            let counted = matches!(next, Next::Moved(_) | Next::Ask(_)) || self.timeout.is_none();
            if counted && attempt >= config.get_max_redirects() {
                return result;
            }
            if counted {
                attempt += 1;
            }
            match next {
                Next::Done => unreachable!("returned above"),
                Next::Moved(r) => {
                    tracing::debug!(target: "rediscover::cluster", slot = r.slot, to = %r.addr, "MOVED");
                    match self.state.redirect_node(&r.addr, &node.addr) {
                        Some(to) => {
                            self.state.moved(r.slot, to.clone());
                            moved_to = Some(to);
                        }
                        None => self.state.wait_refresh(None).await,
                    }
                }
                Next::Ask(r) => {
                    tracing::debug!(target: "rediscover::cluster", slot = r.slot, to = %r.addr, "ASK");
                    self.state.counters.ask.fetch_add(1, Ordering::Relaxed);
                    ask = self.state.redirect_node(&r.addr, &node.addr);
                }
                Next::Retry { refresh } => {
                    waits += 1;
                    self.state.counters.retries.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(target: "rediscover::cluster", slot, attempt, node = %node.addr, "retrying after {}", result.as_ref().err().map(|e| e.to_string()).unwrap_or_default());
                    if refresh {
                        self.state.request_refresh();
                    }
                    tokio::time::sleep(backoff(&config.retry_policy(), waits)).await;
                }
                Next::Unreachable => {
                    self.state.counters.retries.fetch_add(1, Ordering::Relaxed);
                    node.failures.fetch_add(1, Ordering::Relaxed);
                    avoid_replicas = true;
                    tracing::debug!(target: "rediscover::cluster", slot, attempt, node = %node.addr, "node unreachable; waiting for the topology");
                    // The node's own reconnect round already waited; give the cluster time to
                    // notice (a failover), or the map time to change.
                    waits += 1;
                    let wait = backoff(&config.retry_policy(), waits);
                    self.state.wait_refresh(Some(Instant::now() + wait)).await;
                }
            }
        }
    }

    /// Where a command goes: its slot and whether it is a read for a replica.
    fn target(&self, cmd: &Cmd) -> (CommandSlot, bool) {
        let replica_reads = self.state.config.get_read_from() != ReadFrom::Primary;
        match fast_target(cmd.args(), replica_reads) {
            Some(t) => t,
            None => (
                cmd.slot(),
                replica_reads && cmd.args().next().is_some_and(is_read),
            ),
        }
    }

    /// Commands without one slot: split, refused, or routed by policy.
    async fn dispatch(&self, cmd: Cmd, sent: &AtomicBool) -> Result<Frame> {
        let argv: Vec<&[u8]> = cmd.args().collect();
        match crate::slot::command_slot(&argv) {
            CommandSlot::Slot(slot) => {
                let read =
                    self.state.config.get_read_from() != ReadFrom::Primary && is_read(argv[0]);
                let route = routing::route(build(&argv))?;
                self.on_slot(&route, slot, read, sent).await
            }
            CommandSlot::CrossSlot => {
                match split_kind(argv[0], self.state.config.get_split_mset()) {
                    Some(kind) => Box::pin(self.split(&argv, kind, sent)).await,
                    None => {
                        self.state
                            .counters
                            .crossslot_refused
                            .fetch_add(1, Ordering::Relaxed);
                        let positions = crate::command::key_positions(&argv);
                        let keys: Vec<&[u8]> = positions.iter().map(|&i| argv[i]).collect();
                        Err(crossslot_error(
                            &String::from_utf8_lossy(argv[0]).to_uppercase(),
                            &keys,
                        ))
                    }
                }
            }
            CommandSlot::NoKeys => match keyless_policy(&argv) {
                Keyless::Random => {
                    drop(argv);
                    let node = self.random_master(sent).await?;
                    sent.store(true, Ordering::Relaxed);
                    node.client.send_command(cmd).await
                }
                Keyless::Masters(agg) => {
                    let nodes = self.state.topology().masters();
                    Box::pin(self.on_nodes(&cmd, nodes, agg, sent)).await
                }
                Keyless::AllNodes(agg) => {
                    let topo = self.state.topology();
                    let mut nodes: Vec<Arc<Node>> = topo.nodes().cloned().collect();
                    nodes.sort_by(|a, b| a.addr.cmp(&b.addr));
                    nodes.dedup_by(|a, b| a.addr == b.addr);
                    Box::pin(self.on_nodes(&cmd, nodes, agg, sent)).await
                }
                Keyless::Scan => Box::pin(self.scan_step(&argv, sent)).await,
            },
        }
    }

    async fn random_master(&self, _sent: &AtomicBool) -> Result<Arc<Node>> {
        let mut masters = self.state.topology().masters();
        if masters.is_empty() {
            self.state.wait_refresh(None).await;
            masters = self.state.topology().masters();
        }
        if masters.is_empty() {
            return Err(Error::not_sent(server_error(msg::CLUSTERDOWN_UNBOUND)));
        }
        let i = random_index(masters.len());
        Ok(masters.swap_remove(i))
    }

    /// Runs `cmd` on each of `nodes` concurrently and combines the replies.
    async fn on_nodes(
        &self,
        cmd: &Cmd,
        nodes: Vec<Arc<Node>>,
        agg: Aggregate,
        sent: &AtomicBool,
    ) -> Result<Frame> {
        if nodes.is_empty() {
            return Err(Error::not_sent(server_error(msg::CLUSTERDOWN_UNBOUND)));
        }
        sent.store(true, Ordering::Relaxed);
        let calls = nodes.iter().map(|n| n.client.send_command(cmd.clone()));
        let replies = join_all(calls.collect()).await;
        aggregate(agg, replies)
    }

    /// One `SCAN` call: the cursor says which master and where on it (see
    /// [`State::scan_cursor`]).
    async fn scan_step(&self, argv: &[&[u8]], sent: &AtomicBool) -> Result<Frame> {
        let cursor: u64 = argv
            .get(1)
            .and_then(|c| std::str::from_utf8(c).ok())
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| server_error("ERR invalid cursor"))?;
        let masters = self.state.topology().masters();
        let (index, inner) = self
            .state
            .scan_position(cursor)
            .ok_or_else(|| server_error("ERR invalid cursor"))?;
        let node = masters
            .get(index)
            .ok_or_else(|| server_error("ERR invalid cursor"))?;
        let inner = inner.to_string();
        let mut args: Vec<&[u8]> = argv.to_vec();
        args[1] = inner.as_bytes();
        sent.store(true, Ordering::Relaxed);
        let reply = node.client.send_command(build(&args)).await?;
        let mut parts = reply
            .into_vec()
            .filter(|p| p.len() == 2)
            .ok_or_else(|| Error::response("SCAN: expected a cursor and keys"))?;
        let keys = parts.pop().unwrap_or(Frame::Null);
        let next: u64 = parts
            .pop()
            .and_then(|c| std::str::from_utf8(c.as_bytes()?).ok()?.parse().ok())
            .ok_or_else(|| Error::response("SCAN: bad cursor"))?;
        let next = match (next, index + 1 < masters.len()) {
            (0, true) => self.state.scan_cursor(index + 1, 0),
            (0, false) => 0,
            (n, _) => self.state.scan_cursor(index, n),
        };
        Ok(Frame::Array(vec![Frame::bulk(next.to_string()), keys]))
    }

    /// A multi-key command over several slots: one command per slot, in parallel, merged.
    async fn split(&self, argv: &[&[u8]], kind: Split, sent: &AtomicBool) -> Result<Frame> {
        let step = if kind == Split::Mset { 2 } else { 1 };
        let items: Vec<&[&[u8]]> = argv[1..].chunks(step).collect();
        if items.last().is_some_and(|i| i.len() != step) {
            // Wrong arity: let a node say so.
            let slot = key_slot(argv.get(1).copied().unwrap_or_default());
            let route = routing::route(build(argv))?;
            return self.on_slot(&route, slot, false, sent).await;
        }
        // Groups in order of first appearance: (slot, item indexes).
        let mut groups: Vec<(u16, Vec<usize>)> = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let slot = key_slot(item[0]);
            match groups.iter_mut().find(|(s, _)| *s == slot) {
                Some((_, idx)) => idx.push(i),
                None => groups.push((slot, vec![i])),
            }
        }
        let read = is_read(argv[0]);
        let mut routes: Vec<(u16, Route)> = Vec::with_capacity(groups.len());
        for (slot, idx) in &groups {
            let mut args: Vec<&[u8]> = vec![argv[0]];
            for &i in idx {
                args.extend_from_slice(items[i]);
            }
            routes.push((*slot, routing::route(build(&args))?));
        }
        let calls = routes
            .iter()
            .map(|(slot, route)| self.on_slot(route, *slot, read, sent));
        let replies = join_all(calls.collect()).await;
        match kind {
            Split::Count => {
                let mut total = 0i64;
                for r in replies {
                    total += r?
                        .as_i64()
                        .ok_or_else(|| Error::response("expected a count"))?;
                }
                Ok(Frame::Integer(total))
            }
            Split::Mset => {
                for r in replies {
                    r?;
                }
                Ok(Frame::simple("OK"))
            }
            Split::Mget => {
                let mut values: Vec<Frame> = vec![Frame::Null; items.len()];
                for ((_, idx), r) in groups.iter().zip(replies) {
                    let part = r?
                        .into_vec()
                        .filter(|v| v.len() == idx.len())
                        .ok_or_else(|| Error::response("MGET: a part has the wrong length"))?;
                    for (&i, v) in idx.iter().zip(part) {
                        values[i] = v;
                    }
                }
                Ok(Frame::Array(values))
            }
        }
    }

    /// The deadline of a command that may block for `blocks_for` (see `routing::Route`):
    /// the request timeout plus the command's own timeout, none for a timeout of 0.
    fn blocking_deadline(&self, blocks_for: Option<Option<Duration>>) -> Option<Instant> {
        match (self.timeout, blocks_for) {
            (None, _) | (_, Some(None)) => None,
            (Some(t), Some(Some(b))) => Some(Instant::now() + t.saturating_add(b)),
            (Some(t), None) => Some(Instant::now() + t),
        }
    }
}

/// Runs `fut` until `deadline`; a request that passes it says whether anything was sent.
async fn within<T>(
    deadline: Option<Instant>,
    sent: &AtomicBool,
    fut: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    match deadline {
        Some(d) => tokio::time::timeout_at(d, fut).await.unwrap_or_else(|_| {
            Err(Error::Timeout {
                sent: sent.load(Ordering::Relaxed),
            })
        }),
        None => fut.await,
    }
}

/// `ASKING`, then the command, as one unit on the node's shared (or, for a blocking command,
/// dedicated) connection; the command's reply.
async fn asking_then(node: &Node, route: &Route) -> Result<Frame> {
    let mut p = Pipeline::new();
    p.add(&Cmd::new("ASKING"));
    match route {
        Route::Shared(payload) => p.push_encoded(payload, Usage::Shared),
        Route::Dedicated(b) => p.add(&b.cmd),
    };
    match node.client.send_pipeline(&p).await {
        Ok(mut replies) if replies.len() == 2 => Frame::from_reply(replies.remove(1)),
        Ok(_) => Err(Error::response(
            "expected the replies to ASKING and a command",
        )),
        Err(e) => Err(e),
    }
}

fn aggregate(agg: Aggregate, replies: Vec<Result<Frame>>) -> Result<Frame> {
    match agg {
        Aggregate::AllSucceeded => {
            let mut first = None;
            for r in replies {
                let f = r?;
                first.get_or_insert(f);
            }
            first.ok_or_else(|| Error::response("no node answered"))
        }
        Aggregate::OneSucceeded => {
            let mut last_err = None;
            for r in replies {
                match r {
                    Ok(f) => return Ok(f),
                    Err(e) => last_err = Some(e),
                }
            }
            Err(last_err.unwrap_or_else(|| Error::response("no node answered")))
        }
        Aggregate::Sum | Aggregate::Min => {
            let mut acc: Option<i64> = None;
            for r in replies {
                let n = r?
                    .as_i64()
                    .ok_or_else(|| Error::response("expected an integer from every node"))?;
                acc = Some(match (acc, agg) {
                    (None, _) => n,
                    (Some(a), Aggregate::Sum) => a.saturating_add(n),
                    (Some(a), _) => a.min(n),
                });
            }
            Ok(Frame::Integer(acc.unwrap_or(0)))
        }
        Aggregate::Concat => {
            let mut all = Vec::new();
            for r in replies {
                match r? {
                    Frame::Array(v) | Frame::Set(v) => all.extend(v),
                    other => all.push(other),
                }
            }
            Ok(Frame::Array(all))
        }
        Aggregate::LogicalAnd => {
            let mut acc: Option<Vec<i64>> = None;
            for r in replies {
                let v: Vec<i64> = r?
                    .into_vec()
                    .ok_or_else(|| Error::response("expected an array from every node"))?
                    .iter()
                    .map(|f| f.as_i64().unwrap_or(0))
                    .collect();
                acc = Some(match acc {
                    None => v,
                    Some(a) => a
                        .iter()
                        .zip(&v)
                        .map(|(x, y)| i64::from(*x != 0 && *y != 0))
                        .collect(),
                });
            }
            Ok(Frame::Array(
                acc.unwrap_or_default()
                    .into_iter()
                    .map(Frame::Integer)
                    .collect(),
            ))
        }
    }
}

/// One node's part of a pipeline round: the node, the sub-pipeline, and for each command its
/// index in the caller's pipeline and whether `ASKING` precedes it.
type NodePart = (Arc<Node>, Pipeline, Vec<(usize, bool)>);

/// Where each pipeline command goes in one round.
struct Dest {
    node: Arc<Node>,
    asking: bool,
}

impl ClusterClient {
    /// A pipeline: each command routed on its own, per-node parts sent concurrently, only
    /// redirected commands sent again.
    async fn pipeline(&self, p: &Pipeline, sent: &AtomicBool) -> Result<Vec<Frame>> {
        crate::routing::check_reply_order(p)?;
        let n = p.len();
        if n == 0 {
            return Ok(Vec::new());
        }
        if p.commands().any(|c| {
            let name = c.name();
            name.eq_ignore_ascii_case(b"MULTI") || name.eq_ignore_ascii_case(b"EXEC")
        }) {
            return self.unit(p, sent).await;
        }
        let config = &self.state.config;
        let replica_reads = config.get_read_from() != ReadFrom::Primary;
        // Each command's slot (None: keyless, sent with the other keyless ones to one master).
        let mut slots: Vec<Option<u16>> = Vec::with_capacity(n);
        let mut reads: Vec<bool> = Vec::with_capacity(n);
        for c in p.commands() {
            let (slot, read) = match fast_target(c.args(), replica_reads) {
                Some(t) => t,
                None => (c.slot(), replica_reads && is_read(c.name())),
            };
            match slot {
                CommandSlot::Slot(s) => slots.push(Some(s)),
                CommandSlot::NoKeys => slots.push(None),
                CommandSlot::CrossSlot => {
                    let keys = c.keys();
                    return Err(crossslot_error(
                        &format!(
                            "the pipeline's command {} ({})",
                            c.index(),
                            String::from_utf8_lossy(c.name()).to_uppercase()
                        ),
                        &keys,
                    ));
                }
            }
            reads.push(read);
        }
        let mut results: Vec<Option<Frame>> = vec![None; n];
        let mut last_error: Vec<Option<Frame>> = vec![None; n];
        let mut pending: Vec<(usize, Option<Dest>)> = (0..n).map(|i| (i, None)).collect();
        let mut keyless: Option<Arc<Node>> = None;
        let mut avoid_replicas = false;
        // Rounds with a redirection (counted against loops), and rounds in all (for backoff).
        let mut redirect_rounds = 0u32;
        let mut round = 0u32;
        let bounded = self.timeout.is_some();
        while !pending.is_empty() {
            // Route what has no destination yet.
            let mut routed: Vec<(usize, Dest)> = Vec::with_capacity(pending.len());
            let mut unrouted = Vec::new();
            for (i, dest) in pending.drain(..) {
                let dest = match dest {
                    Some(d) => Some(d),
                    None => match slots[i] {
                        Some(s) => self.pick(s, reads[i], avoid_replicas).map(|node| Dest {
                            node,
                            asking: false,
                        }),
                        None => {
                            if keyless.is_none() {
                                keyless = Some(self.random_master(sent).await?);
                            }
                            keyless.clone().map(|node| Dest {
                                node,
                                asking: false,
                            })
                        }
                    },
                };
                match dest {
                    Some(d) => routed.push((i, d)),
                    None => unrouted.push(i),
                }
            }
            // Group by node, in order.
            let mut groups: Vec<NodePart> = Vec::new();
            for (i, d) in routed {
                let at = match groups
                    .iter()
                    .position(|(node, _, _)| Arc::ptr_eq(node, &d.node))
                {
                    Some(at) => at,
                    None => {
                        groups.push((d.node.clone(), Pipeline::new(), Vec::new()));
                        groups.len() - 1
                    }
                };
                let (_, sub, idx) = &mut groups[at];
                if d.asking {
                    sub.add(&Cmd::new("ASKING"));
                }
                if let Some(c) = p.command(i) {
                    sub.push_command(&c);
                }
                idx.push((i, d.asking));
            }
            sent.store(true, Ordering::Relaxed);
            let calls = groups
                .iter()
                .map(|(node, sub, _)| node.client.send_pipeline(sub));
            let replies = join_all(calls.collect()).await;
            let mut wait = false;
            let mut refresh = false;
            let counted = if bounded { redirect_rounds } else { round };
            let exhausted = counted >= config.get_max_redirects();
            let mut redirected = false;
            for ((node, _, idx), reply) in groups.iter().zip(replies) {
                let frames = match reply {
                    Ok(frames) => frames,
                    Err(e) if e.is_not_sent() && !exhausted => {
                        // Nothing of this part was sent: all of it goes again.
                        node.failures.fetch_add(1, Ordering::Relaxed);
                        self.state.counters.retries.fetch_add(1, Ordering::Relaxed);
                        avoid_replicas = true;
                        wait = true;
                        refresh = true;
                        pending.extend(idx.iter().map(|&(i, _)| (i, None)));
                        continue;
                    }
                    Err(e) => return Err(e),
                };
                let mut frames = frames.into_iter();
                for &(i, asking) in idx {
                    if asking {
                        frames.next(); // ASKING's +OK
                    }
                    let frame = frames
                        .next()
                        .ok_or_else(|| Error::response("a pipeline part came back short"))?;
                    let next = if exhausted {
                        Next::Done
                    } else {
                        classify_frame(&frame)
                    };
                    match next {
                        Next::Done | Next::Unreachable => results[i] = Some(frame),
                        Next::Moved(r) => {
                            redirected = true;
                            match self.state.redirect_node(&r.addr, &node.addr) {
                                Some(to) => {
                                    self.state.moved(r.slot, to.clone());
                                    pending.push((
                                        i,
                                        Some(Dest {
                                            node: to,
                                            asking: false,
                                        }),
                                    ));
                                }
                                None => {
                                    refresh = true;
                                    pending.push((i, None));
                                }
                            }
                            last_error[i] = Some(frame);
                        }
                        Next::Ask(r) => {
                            redirected = true;
                            self.state.counters.ask.fetch_add(1, Ordering::Relaxed);
                            let to = self.state.redirect_node(&r.addr, &node.addr);
                            pending.push((i, to.map(|node| Dest { node, asking: true })));
                            last_error[i] = Some(frame);
                        }
                        Next::Retry { refresh: r } => {
                            self.state.counters.retries.fetch_add(1, Ordering::Relaxed);
                            wait = true;
                            refresh |= r;
                            pending.push((i, None));
                            last_error[i] = Some(frame);
                        }
                    }
                }
            }
            for i in unrouted {
                if exhausted {
                    results[i] = Some(Frame::Error(Bytes::from_static(
                        msg::CLUSTERDOWN_UNBOUND.as_bytes(),
                    )));
                } else {
                    refresh = true;
                    wait = true;
                    pending.push((i, None));
                }
            }
            if exhausted {
                for (i, _) in pending.drain(..) {
                    results[i] = last_error[i].take().or_else(|| {
                        Some(Frame::Error(Bytes::from_static(
                            msg::CLUSTERDOWN_UNBOUND.as_bytes(),
                        )))
                    });
                }
                break;
            }
            round += 1;
            redirect_rounds += u32::from(redirected);
            if !pending.is_empty() {
                tracing::debug!(target: "rediscover::cluster", round, again = pending.len(), "pipeline commands redirected or retried");
            }
            if wait {
                let d = backoff(&config.retry_policy(), round);
                if refresh {
                    self.state.wait_refresh(Some(Instant::now() + d)).await;
                } else {
                    tokio::time::sleep(d).await;
                }
            } else if refresh {
                self.state.request_refresh();
            }
        }
        Ok(results
            .into_iter()
            .map(|r| r.unwrap_or(Frame::Null))
            .collect())
    }

    /// A pipeline with `MULTI`/`EXEC`: one slot, sent as one unit. A transaction
    /// (`MULTI` ... `EXEC`) that a redirection aborted is sent again whole.
    async fn unit(&self, p: &Pipeline, sent: &AtomicBool) -> Result<Vec<Frame>> {
        let mut slot = None;
        let mut all_keys: Vec<&[u8]> = Vec::new();
        for c in p.commands() {
            all_keys.extend(c.keys());
        }
        for k in &all_keys {
            let s = key_slot(k);
            match slot {
                None => slot = Some(s),
                Some(x) if x == s => {}
                Some(_) => return Err(crossslot_error("the transaction", &all_keys)),
            }
        }
        let is_tx = p
            .command(0)
            .is_some_and(|c| c.name().eq_ignore_ascii_case(b"MULTI"))
            && p.command(p.len() - 1)
                .is_some_and(|c| c.name().eq_ignore_ascii_case(b"EXEC"));
        let bounded = self.timeout.is_some();
        let config = &self.state.config;
        let mut ask: Option<Arc<Node>> = None;
        let mut moved_to: Option<Arc<Node>> = None;
        let mut attempt = 0u32;
        loop {
            let (node, asking) = match (ask.take(), moved_to.take()) {
                (Some(n), _) => (n, true),
                (None, Some(n)) => (n, false),
                (None, None) => match slot {
                    Some(s) => (self.wait_master(s, self.deadline()).await?, false),
                    None => (self.random_master(sent).await?, false),
                },
            };
            let payload = if asking {
                let mut with = Pipeline::new();
                with.add(&Cmd::new("ASKING"));
                with.append(p);
                with
            } else {
                p.clone()
            };
            sent.store(true, Ordering::Relaxed);
            let mut replies = match node.client.send_pipeline(&payload).await {
                Ok(r) => r,
                Err(e) if e.is_not_sent() && (bounded || attempt < config.get_max_redirects()) => {
                    attempt += 1;
                    self.state.counters.retries.fetch_add(1, Ordering::Relaxed);
                    let d = backoff(&config.retry_policy(), attempt);
                    self.state.wait_refresh(Some(Instant::now() + d)).await;
                    continue;
                }
                Err(e) => return Err(e),
            };
            if asking && !replies.is_empty() {
                replies.remove(0);
            }
            // Retried only when nothing ran: EXEC refused (EXECABORT) because of a redirection
            // while queueing, or MULTI itself redirected.
            let aborted = is_tx && replies.last().is_some_and(|f| f.is_error());
            let redirect = replies.iter().find_map(|f| match classify_frame(f) {
                Next::Done | Next::Unreachable => None,
                other => Some(other),
            });
            match (aborted, redirect) {
                (true, Some(next))
                    if attempt < config.get_max_redirects()
                        || (bounded && matches!(next, Next::Retry { .. })) =>
                {
                    attempt += 1;
                    match next {
                        Next::Moved(r) => {
                            if let Some(to) = self.state.redirect_node(&r.addr, &node.addr) {
                                self.state.moved(r.slot, to.clone());
                                moved_to = Some(to);
                            }
                        }
                        Next::Ask(r) => {
                            self.state.counters.ask.fetch_add(1, Ordering::Relaxed);
                            ask = self.state.redirect_node(&r.addr, &node.addr);
                        }
                        _ => {
                            self.state.counters.retries.fetch_add(1, Ordering::Relaxed);
                            self.state.request_refresh();
                            tokio::time::sleep(backoff(&config.retry_policy(), attempt)).await;
                        }
                    }
                }
                _ => return Ok(replies),
            }
        }
    }
}

impl Execute for ClusterClient {
    async fn send_command(&self, cmd: Cmd) -> Result<Frame> {
        let sent = AtomicBool::new(false);
        match self.target(&cmd) {
            (CommandSlot::Slot(slot), read) => {
                let route = routing::route(cmd)?;
                let deadline = match &route {
                    Route::Dedicated(b) => self.blocking_deadline(b.blocks_for),
                    Route::Shared(_) => self.deadline(),
                };
                within(deadline, &sent, self.on_slot(&route, slot, read, &sent)).await
            }
            // Boxed: the rare paths should not grow every request's future.
            _ => {
                let deadline = self.deadline();
                within(deadline, &sent, Box::pin(self.dispatch(cmd, &sent))).await
            }
        }
    }

    async fn send_pipeline(&self, pipeline: &Pipeline) -> Result<Vec<Frame>> {
        let sent = AtomicBool::new(false);
        let plan = routing::plan_pipeline(pipeline)?;
        let deadline = match plan.dedicated {
            true => self.blocking_deadline(plan.blocks_for),
            false => self.deadline(),
        };
        let span = tracing::debug_span!(target: "rediscover::cluster", "cluster_pipeline", commands = pipeline.len());
        within(deadline, &sent, self.pipeline(pipeline, &sent))
            .instrument(span)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyless_policies_follow_the_command_table() {
        let p = |argv: &[&str]| {
            let v: Vec<&[u8]> = argv.iter().map(|a| a.as_bytes()).collect();
            keyless_policy(&v)
        };
        assert_eq!(p(&["DBSIZE"]), Keyless::Masters(Aggregate::Sum));
        assert_eq!(p(&["keys", "*"]), Keyless::Masters(Aggregate::Concat));
        assert_eq!(p(&["FLUSHALL"]), Keyless::Masters(Aggregate::AllSucceeded));
        assert_eq!(p(&["FLUSHDB"]), Keyless::Masters(Aggregate::AllSucceeded));
        assert_eq!(p(&["SCAN", "0"]), Keyless::Scan);
        assert_eq!(p(&["PING"]), Keyless::Random);
        assert_eq!(p(&["INFO"]), Keyless::Random);
        assert_eq!(p(&["ECHO", "x"]), Keyless::Random);
        assert_eq!(
            p(&["SCRIPT", "EXISTS", "abc"]),
            Keyless::Masters(Aggregate::LogicalAnd)
        );
        assert_eq!(p(&["NOSUCH"]), Keyless::Random);
    }

    #[test]
    fn the_fast_slot_agrees_with_the_command_table() {
        let samples: &[&[&str]] = &[
            &["GET", "foo"],
            &["set", "{u}a", "1", "EX", "5"],
            &["HSET", "h", "f", "v"],
            &["SORT", "a", "STORE", "b"],
            &["EVAL", "return 1", "1", "k"],
            &["XREAD", "STREAMS", "s1", "s2", "0", "0"],
            &["OBJECT", "ENCODING", "k"],
            &["MGET", "a", "b"],
            &["ZUNIONSTORE", "d", "2", "a", "b"],
            &["LMOVE", "a", "b", "LEFT", "RIGHT"],
            &["GET"],
            &["PING"],
        ];
        for argv in samples {
            let bytes: Vec<&[u8]> = argv.iter().map(|a| a.as_bytes()).collect();
            if let Some((slot, _)) = fast_target(bytes.iter().copied(), false) {
                assert_eq!(slot, crate::slot::command_slot(&bytes), "{argv:?}");
            }
        }
        let get = [&b"GET"[..], b"foo"];
        assert_eq!(
            fast_target(get.iter().copied(), true),
            Some((CommandSlot::Slot(12182), true))
        );
        let sort = [&b"SORT"[..], b"a", b"STORE", b"b"];
        assert_eq!(
            fast_target(sort.iter().copied(), false),
            None,
            "movable keys"
        );
    }

    #[test]
    fn crossslot_errors_name_keys_and_slots() {
        let e = crossslot_error("MSET", &[b"a", b"b"]);
        let text = e.to_string();
        assert!(text.contains("'a' (slot 15495)"), "{text}");
        assert!(text.contains("'b' (slot 3300)"), "{text}");
        assert_eq!(e.kind(), crate::ErrorKind::NotAllowed);
    }

    #[test]
    fn aggregates() {
        let ok = |f: Frame| Ok(f);
        assert_eq!(
            aggregate(
                Aggregate::Sum,
                vec![ok(Frame::Integer(2)), ok(Frame::Integer(3))]
            )
            .unwrap(),
            Frame::Integer(5)
        );
        let joined = aggregate(
            Aggregate::Concat,
            vec![
                ok(Frame::Array(vec![Frame::bulk("a")])),
                ok(Frame::Array(vec![Frame::bulk("b")])),
            ],
        )
        .unwrap();
        assert_eq!(
            joined,
            Frame::Array(vec![Frame::bulk("a"), Frame::bulk("b")])
        );
        let anded = aggregate(
            Aggregate::LogicalAnd,
            vec![
                ok(Frame::Array(vec![Frame::Integer(1), Frame::Integer(1)])),
                ok(Frame::Array(vec![Frame::Integer(1), Frame::Integer(0)])),
            ],
        )
        .unwrap();
        assert_eq!(
            anded,
            Frame::Array(vec![Frame::Integer(1), Frame::Integer(0)])
        );
        assert!(aggregate(
            Aggregate::AllSucceeded,
            vec![ok(Frame::simple("OK")), Err(Error::Closed)]
        )
        .is_err());
    }
}
