//! The state every handle of one Sentinel deployment shares: the master in use (published
//! atomically, with a generation), the replicas, the known sentinels, and the background work
//! that keeps them current (one refresher task, one listener per sentinel).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;

use tokio::sync::{broadcast, watch};
use tokio::time::Instant;
use tracing::Instrument;

use super::config::Role;
use super::discovery::{self, Answers, Links, Outcome};
use super::refresh::{refresher, Refresh};
use super::{
    listener, MasterInfo, NodeAddr, SentinelConfig, SentinelEvent, SentinelStats, SwitchCause,
};
use crate::error::{Error, Result};

/// A learned sentinel unreachable for this long is forgotten (configured ones never are).
const FORGET_AFTER: Duration = Duration::from_secs(600);
/// A replica that failed a connection is avoided for this long (unless all are).
const AVOID_FOR: Duration = Duration::from_secs(1);
/// How long requests already on an old master's connection get before it is closed.
pub(crate) const DRAIN_GRACE: Duration = Duration::from_secs(1);

/// What a switch or a replica change asks of one handle: returns how many connections it
/// closed or will close.
pub(crate) type DrainHook = Box<dyn Fn(&Change) -> usize + Send + Sync>;

/// A change the handles must act on.
pub(crate) enum Change {
    /// The master moved.
    Master {
        old: Arc<MasterInfo>,
        new: Arc<MasterInfo>,
    },
    /// The replicas in use changed.
    Replicas {
        now: Arc<Vec<NodeAddr>>,
        /// The master in use.
        master: NodeAddr,
    },
}

#[derive(Default)]
struct Counters {
    discoveries: AtomicU64,
    discovery_failures: AtomicU64,
    switches: AtomicU64,
    role_mismatches: AtomicU64,
    listener_reconnects: AtomicU64,
    readonly_retries: AtomicU64,
    drained_connections: AtomicU64,
    master_changed_refusals: AtomicU64,
}

struct KnownSentinel {
    configured: bool,
    /// Since when it has failed every query (`None`: it answered the last one).
    failing_since: Option<Instant>,
}

pub(crate) struct Monitor {
    pub(crate) config: Arc<SentinelConfig>,
    links: Arc<Links>,
    master: RwLock<Arc<MasterInfo>>,
    replicas: RwLock<Arc<Vec<NodeAddr>>>,
    next_replica: AtomicUsize,
    avoid: Mutex<HashMap<NodeAddr, Instant>>,
    sentinels: Mutex<BTreeMap<NodeAddr, KnownSentinel>>,
    events: broadcast::Sender<SentinelEvent>,
    counters: Counters,
    pub(super) refresh: Refresh,
    hooks: Mutex<Vec<DrainHook>>,
    /// Becomes `true` when the last handle is dropped: background tasks end.
    pub(super) shutdown: watch::Sender<bool>,
    /// Set while a connection to the current master failed and no discovery has run since:
    /// the next connection attempt waits for one.
    suspect: AtomicBool,
    /// This monitor, for the tasks it spawns (which hold it weakly).
    me: Weak<Monitor>,
    /// The generation of the master in use, for waiters.
    pub(super) switched: watch::Sender<u64>,
    /// Set once the first discovery is done and the listeners of the sentinels known then
    /// are started; sentinels learned later get theirs when learned.
    started: AtomicBool,
}

/// Held by every handle; the last one dropped stops the background tasks.
pub(crate) struct Running(pub(crate) Arc<Monitor>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.stop();
    }
}

impl std::fmt::Debug for Monitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Monitor")
            .field("master_name", &self.config.master_name())
            .field("master", &self.master())
            .finish_non_exhaustive()
    }
}

impl Monitor {
    /// Finds the master (retrying `1 +` max_retries times with the data nodes' backoff while
    /// the failure may pass), then starts the refresher and the listeners.
    pub(crate) async fn start(config: SentinelConfig) -> Result<Running> {
        config.validate()?;
        let config = Arc::new(config);
        let sentinels = config
            .sentinels()
            .iter()
            .map(|a| {
                (
                    a.clone(),
                    KnownSentinel {
                        configured: true,
                        failing_since: None,
                    },
                )
            })
            .collect();
        let (shutdown, _) = watch::channel(false);
        let monitor = Arc::new_cyclic(|me| Monitor {
            me: me.clone(),
            links: Arc::new(Links::default()),
            master: RwLock::new(Arc::new(MasterInfo {
                addr: NodeAddr::new("", 0),
                epoch: 0,
                generation: 0,
            })),
            replicas: RwLock::new(Arc::new(Vec::new())),
            next_replica: AtomicUsize::new(0),
            avoid: Mutex::new(HashMap::new()),
            sentinels: Mutex::new(sentinels),
            events: broadcast::channel(64).0,
            counters: Counters::default(),
            refresh: Refresh::new(),
            hooks: Mutex::new(Vec::new()),
            shutdown,
            suspect: AtomicBool::new(false),
            switched: watch::channel(0).0,
            started: AtomicBool::new(false),
            config,
        });
        let running = Running(monitor.clone());
        let policy = monitor.config.node_config().clone();
        let attempts = policy.get_max_retries().saturating_add(1);
        let mut attempt = 0;
        loop {
            match monitor.discover(None).await {
                Ok(()) => break,
                // A name the sentinels do not know will not appear by retrying.
                Err(e @ Error::MasterNotMonitored { .. }) => return Err(e),
                Err(e) => {
                    attempt += 1;
                    if attempt >= attempts {
                        return Err(e);
                    }
                    tokio::time::sleep(crate::conn::source::backoff(&policy, attempt)).await;
                }
            }
        }
        tokio::spawn(refresher(
            Arc::downgrade(&monitor),
            monitor.shutdown.subscribe(),
        ));
        if monitor.config.is_listening() {
            // Under the lock that learning takes, so that each sentinel gets one listener.
            let known = monitor.sentinels.lock().unwrap_or_else(|p| p.into_inner());
            monitor.started.store(true, Ordering::Release);
            for addr in known.keys() {
                monitor.spawn_listener(addr.clone());
            }
        }
        Ok(running)
    }

    fn stop(&self) {
        let _ = self.shutdown.send(true);
        self.hooks.lock().unwrap_or_else(|p| p.into_inner()).clear();
        self.links.close_all();
    }

    pub(crate) fn is_stopped(&self) -> bool {
        *self.shutdown.borrow()
    }

    /// The master in use.
    pub(crate) fn master(&self) -> Arc<MasterInfo> {
        self.master
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The replicas in use.
    pub(crate) fn replicas(&self) -> Arc<Vec<NodeAddr>> {
        self.replicas
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The sentinels known now (configured and learned).
    pub(crate) fn known_sentinels(&self) -> Vec<NodeAddr> {
        self.sentinels
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .keys()
            .cloned()
            .collect()
    }

    pub(crate) fn is_known_sentinel(&self, addr: &NodeAddr) -> bool {
        self.sentinels
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(addr)
    }

    pub(crate) fn subscribe(&self) -> broadcast::Receiver<SentinelEvent> {
        self.events.subscribe()
    }

    pub(crate) fn emit(&self, event: SentinelEvent) {
        let _ = self.events.send(event);
    }

    /// Registers what a handle does when the master or the replicas change.
    pub(crate) fn on_change(&self, hook: DrainHook) {
        self.hooks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(hook);
    }

    pub(crate) fn stats(&self) -> SentinelStats {
        let c = &self.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        SentinelStats {
            discoveries: get(&c.discoveries),
            discovery_failures: get(&c.discovery_failures),
            switches: get(&c.switches),
            role_mismatches: get(&c.role_mismatches),
            listener_reconnects: get(&c.listener_reconnects),
            readonly_retries: get(&c.readonly_retries),
            drained_connections: get(&c.drained_connections),
            master_changed_refusals: get(&c.master_changed_refusals),
        }
    }

    pub(crate) fn count_listener_reconnect(&self) {
        self.counters
            .listener_reconnects
            .fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_readonly_retry(&self) {
        self.counters
            .readonly_retries
            .fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_master_changed_refusal(&self) {
        self.counters
            .master_changed_refusals
            .fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_role_mismatch(&self, addr: &NodeAddr, role: &str) {
        self.counters
            .role_mismatches
            .fetch_add(1, Ordering::Relaxed);
        tracing::warn!(target: "rediscover::sentinel", %addr, role, "a server given as the master reports another role");
        self.emit(SentinelEvent::RoleMismatch {
            addr: addr.clone(),
            role: role.to_string(),
        });
    }

    /// A connection to `addr` failed: if it is the master, the next attempt waits for the
    /// sentinels; a replica is avoided for a while.
    pub(crate) fn connect_failed(&self, addr: &NodeAddr) {
        if *addr == self.master().addr {
            self.suspect.store(true, Ordering::Release);
            self.request_refresh();
        } else {
            self.avoid
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(addr.clone(), Instant::now());
            self.request_refresh();
        }
    }

    /// A connection to the master was verified.
    pub(crate) fn master_verified(&self) {
        self.suspect.store(false, Ordering::Release);
    }

    /// Whether a connection to the master failed since the last discovery.
    pub(crate) fn is_suspect(&self) -> bool {
        self.suspect.load(Ordering::Acquire)
    }

    /// The next replica to connect to, round-robin, avoiding ones that failed a moment ago
    /// (unless all did).
    pub(crate) fn pick_replica(&self) -> Option<NodeAddr> {
        let replicas = self.replicas();
        if replicas.is_empty() {
            return None;
        }
        let start = self.next_replica.fetch_add(1, Ordering::Relaxed);
        let avoid = self.avoid.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let avoided = |a: &NodeAddr| {
            avoid
                .get(a)
                .is_some_and(|since| now.duration_since(*since) < AVOID_FOR)
        };
        (0..replicas.len())
            .map(|i| &replicas[(start + i) % replicas.len()])
            .find(|a| !avoided(a))
            .or_else(|| replicas.get(start % replicas.len()))
            .cloned()
    }

    /// The replicas in use, in round-robin order from the next one, avoided ones last.
    pub(crate) fn replica_order(&self) -> Vec<NodeAddr> {
        let replicas = self.replicas();
        if replicas.is_empty() {
            return Vec::new();
        }
        let start = self.next_replica.fetch_add(1, Ordering::Relaxed);
        let avoid = self.avoid.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let mut order: Vec<NodeAddr> = (0..replicas.len())
            .map(|i| replicas[(start + i) % replicas.len()].clone())
            .collect();
        order.sort_by_key(|a| {
            avoid
                .get(a)
                .is_some_and(|since| now.duration_since(*since) < AVOID_FOR)
        });
        order
    }

    // ---- discovery ----------------------------------------------------------------------

    /// Asks every known sentinel, ranks the answers, checks the best with `ROLE`, and switches
    /// to it if it is not the master in use. `cause`: `None` at connect time.
    pub(super) async fn discover(&self, cause: Option<SwitchCause>) -> Result<()> {
        let sentinels = self.known_sentinels();
        let span = tracing::debug_span!(
            target: "rediscover::sentinel",
            "sentinel.discover",
            master = self.config.master_name(),
            sentinels = sentinels.len(),
            cause = ?cause,
        );
        self.counters.discoveries.fetch_add(1, Ordering::Relaxed);
        let result = self
            .discover_inner(&sentinels, cause)
            .instrument(span)
            .await;
        if let Err(e) = &result {
            self.counters
                .discovery_failures
                .fetch_add(1, Ordering::Relaxed);
            tracing::debug!(target: "rediscover::sentinel", error = %e, "discovery failed");
        }
        result
    }

    async fn discover_inner(
        &self,
        sentinels: &[NodeAddr],
        cause: Option<SwitchCause>,
    ) -> Result<()> {
        let want_replicas = self.config.get_role() != Role::Master;
        let answers = discovery::ask_all(&self.config, &self.links, sentinels, want_replicas).await;
        self.note_sentinels(&answers);
        let current = self.master();
        let ranked = answers.rank(current.epoch);
        tracing::debug!(target: "rediscover::sentinel", ?ranked, "sentinels answered");
        if ranked.is_empty() {
            let named_any = answers
                .answers
                .iter()
                .any(|(_, o)| matches!(o, Outcome::Master { .. }));
            if !named_any {
                return Err(answers.no_answer_error(self.config.master_name()));
            }
            // Every answer was older than the configuration in use.
            let mut candidates: Vec<(NodeAddr, String)> = Vec::new();
            for (_, outcome) in &answers.answers {
                if let Outcome::Master { addr, epoch, .. } = outcome {
                    if !candidates.iter().any(|(a, _)| a == addr) {
                        let why = format!(
                            "was named with epoch {epoch}, older than the epoch in use ({})",
                            current.epoch
                        );
                        candidates.push((addr.clone(), why));
                    }
                }
            }
            return Err(Error::NoMaster {
                name: self.config.master_name().into(),
                candidates,
            });
        }
        let node = self.config.node_config();
        let timeout = self.config.get_sentinel_timeout();
        let mut refused = Vec::new();
        for candidate in ranked {
            match discovery::role_of(node, &candidate.addr, timeout).await {
                Ok(role) if role == "master" => {
                    let unanimous = candidate.votes
                        == answers
                            .answers
                            .iter()
                            .filter(|(_, o)| !matches!(o, Outcome::Failed(_)))
                            .count();
                    let cause = cause.map(|c| {
                        if self.refresh.take_readonly() {
                            SwitchCause::ReadOnly
                        } else {
                            c
                        }
                    });
                    self.adopt(&candidate.addr, candidate.epoch, unanimous, cause);
                    self.suspect.store(false, Ordering::Release);
                    if want_replicas {
                        self.set_replicas(answers.replicas_of(&candidate.addr));
                    }
                    return Ok(());
                }
                Ok(role) => {
                    self.count_role_mismatch(&candidate.addr, &role);
                    refused.push((candidate.addr, format!("reports role {role}")));
                }
                Err(e) => refused.push((candidate.addr, format!("is unreachable ({e})"))),
            }
        }
        if want_replicas {
            // The replicas keep serving reads while there is no master.
            if let Some(master) = answers.answers.iter().find_map(|(_, o)| match o {
                Outcome::Master { addr, .. } => Some(addr.clone()),
                _ => None,
            }) {
                self.set_replicas(answers.replicas_of(&master));
            }
        }
        Err(Error::NoMaster {
            name: self.config.master_name().into(),
            candidates: refused,
        })
    }

    /// Records which sentinels answered, learns new ones, forgets learned ones long silent.
    fn note_sentinels(&self, answers: &Answers) {
        let now = Instant::now();
        let mut added = Vec::new();
        {
            let mut known = self.sentinels.lock().unwrap_or_else(|p| p.into_inner());
            for (addr, outcome) in &answers.answers {
                if let Some(k) = known.get_mut(addr) {
                    match outcome {
                        Outcome::Failed(_) => {
                            k.failing_since.get_or_insert(now);
                        }
                        _ => k.failing_since = None,
                    }
                }
            }
            known.retain(|_, k| {
                k.configured
                    || k.failing_since
                        .map_or(true, |since| now.duration_since(since) < FORGET_AFTER)
            });
            for addr in answers.learned_sentinels() {
                if self.learn(&mut known, &addr) {
                    added.push(addr);
                }
            }
        }
        for addr in added {
            tracing::debug!(target: "rediscover::sentinel", %addr, "learned a sentinel");
            self.emit(SentinelEvent::SentinelAdded { addr });
        }
    }

    /// Learns a sentinel from a `+sentinel` event.
    pub(crate) fn learn_sentinel(&self, addr: NodeAddr) {
        let new = {
            let mut known = self.sentinels.lock().unwrap_or_else(|p| p.into_inner());
            self.learn(&mut known, &addr)
        };
        if new {
            self.emit(SentinelEvent::SentinelAdded { addr });
        }
    }

    /// Adds a sentinel not known yet and, once listeners run, starts its listener; under the
    /// lock of `known`, so that `start`'s loop and this give each sentinel one listener.
    fn learn(&self, known: &mut BTreeMap<NodeAddr, KnownSentinel>, addr: &NodeAddr) -> bool {
        if known.contains_key(addr) {
            return false;
        }
        known.insert(
            addr.clone(),
            KnownSentinel {
                configured: false,
                failing_since: None,
            },
        );
        if self.config.is_listening() && self.started.load(Ordering::Acquire) && !self.is_stopped()
        {
            self.spawn_listener(addr.clone());
        }
        true
    }

    fn spawn_listener(&self, addr: NodeAddr) {
        // Listeners hold the monitor weakly: the last handle dropped ends them.
        tokio::spawn(listener::run(
            self.me.clone(),
            addr,
            self.shutdown.subscribe(),
        ));
    }

    /// Makes `addr` (named with `epoch`) the master, unless it already is or a newer
    /// configuration is in use (`unanimous` answers override the epoch, see
    /// [`Answers::rank`]). Returns whether it switched.
    pub(crate) fn adopt(
        &self,
        addr: &NodeAddr,
        epoch: u64,
        unanimous: bool,
        cause: Option<SwitchCause>,
    ) -> bool {
        let (old, new) = {
            let mut current = self.master.write().unwrap_or_else(|p| p.into_inner());
            if current.addr == *addr {
                if epoch > current.epoch {
                    *current = Arc::new(MasterInfo {
                        epoch,
                        ..(**current).clone()
                    });
                }
                return false;
            }
            if epoch < current.epoch && !unanimous {
                tracing::debug!(target: "rediscover::sentinel", %addr, epoch, current = current.epoch, "ignoring an older configuration");
                return false;
            }
            let first = current.addr.port() == 0;
            let new = Arc::new(MasterInfo {
                addr: addr.clone(),
                epoch,
                generation: if first { 0 } else { current.generation + 1 },
            });
            let old = std::mem::replace(&mut *current, new.clone());
            self.switched.send_replace(new.generation);
            if first {
                tracing::info!(target: "rediscover::sentinel", master = %addr, epoch, name = self.config.master_name(), "found the master");
                return true;
            }
            (old, new)
        };
        let cause = cause.unwrap_or(SwitchCause::Discovery);
        let span = tracing::info_span!(
            target: "rediscover::sentinel",
            "sentinel.switch",
            from = %old.addr,
            to = %new.addr,
            epoch,
            cause = ?cause,
        );
        let _enter = span.enter();
        self.counters.switches.fetch_add(1, Ordering::Relaxed);
        tracing::info!(target: "rediscover::sentinel", from = %old.addr, to = %new.addr, epoch, ?cause, "switched master");
        let drain = tracing::debug_span!(
            target: "rediscover::sentinel",
            "sentinel.drain",
            from = %old.addr,
            connections = tracing::field::Empty,
        );
        let drained = drain.in_scope(|| {
            self.run_hooks(&Change::Master {
                old: old.clone(),
                new: new.clone(),
            })
        });
        drain.record("connections", drained);
        self.emit(SentinelEvent::Switched {
            from: old.addr.clone(),
            to: new.addr.clone(),
            epoch,
            cause,
        });
        true
    }

    fn set_replicas(&self, replicas: Vec<NodeAddr>) {
        if replicas.is_empty() {
            // During a failover every replica may look unusable for a moment: keep reading
            // from the ones we had (a dead one is avoided when a connection to it fails).
            return;
        }
        let now = Arc::new(replicas);
        {
            let mut current = self.replicas.write().unwrap_or_else(|p| p.into_inner());
            if **current == *now {
                return;
            }
            *current = now.clone();
        }
        tracing::debug!(target: "rediscover::sentinel", replicas = ?now, "replicas changed");
        self.run_hooks(&Change::Replicas {
            now: now.clone(),
            master: self.master().addr.clone(),
        });
        self.emit(SentinelEvent::ReplicasChanged {
            replicas: (*now).clone(),
        });
    }

    fn run_hooks(&self, change: &Change) -> usize {
        let drained: usize = self
            .hooks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|hook| hook(change))
            .sum();
        self.counters
            .drained_connections
            .fetch_add(drained as u64, Ordering::Relaxed);
        drained
    }

    /// The fast path after a sentinel announced `target` as the new master: ask that sentinel
    /// for its epoch, check `target` with `ROLE`, switch. Anything unexpected falls back to a
    /// full discovery. Either way a full discovery follows, to learn the replicas and confirm.
    pub(crate) async fn announced(&self, sentinel: &NodeAddr, target: NodeAddr) {
        let current = self.master();
        if current.addr == target {
            return;
        }
        let outcome = discovery::ask(&self.config, &self.links, sentinel, true, false).await;
        let switched = match outcome {
            Outcome::Master { addr, epoch, .. } if addr == target && epoch > current.epoch => {
                match discovery::role_of(
                    self.config.node_config(),
                    &target,
                    self.config.get_sentinel_timeout(),
                )
                .await
                {
                    Ok(role) if role == "master" => {
                        self.adopt(&target, epoch, false, Some(SwitchCause::Event))
                    }
                    Ok(role) => {
                        self.count_role_mismatch(&target, &role);
                        false
                    }
                    Err(_) => false,
                }
            }
            _ => false,
        };
        tracing::debug!(target: "rediscover::sentinel", %sentinel, %target, switched, "sentinel announced a new master");
        self.request_refresh();
    }
}
