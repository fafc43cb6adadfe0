//! [`SentinelClient`]: the shared, multiplexed handle, following the master (or balancing
//! over the replicas) of a Sentinel-managed group.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::broadcast;
use tokio::time::Instant;

use super::config::Role;
use super::monitor::{Change, Monitor, Running, DRAIN_GRACE};
use super::pool::changed_under;
use super::source::{MasterSource, ReplicaSource};
use super::{MasterInfo, NodeAddr, SentinelConfig, SentinelEvent, SentinelStats};
use crate::client::Client;
use crate::cmd::{Cmd, ToArgs};
use crate::commands::Execute;
use crate::conn::Connection;
use crate::error::{Error, Result};
use crate::error_codes::ErrorCode;
use crate::pipeline::Pipeline;
use crate::resp::Frame;
use crate::routing::{self, Route};
use crate::transaction::{Transaction, Watched};
use crate::value::FromReply;

/// A Redis client for a Sentinel-managed group: a cheap `Clone` handle with the same typed
/// [`Commands`](crate::Commands), pipelines and transactions as [`Client`], that follows the
/// master through failovers (or, with [`Role::Replica`], balances over the replicas).
///
/// With [`Role::Master`] it is a [`Client`] whose connections go where the sentinels say
/// (each checked with `ROLE`): one multiplexed connection, blocking commands and `WATCH`
/// transactions on a few dedicated ones, the same deadlines, reconnects and resends. On a
/// switch, the connection to the old master takes no new request and is closed once the ones
/// on it are answered; idle dedicated connections are closed. A command answered `READONLY`
/// (sent to a master demoted under it, so it did not run) makes it ask the sentinels again
/// and, once a master is confirmed, send the command once more. See [the module](super).
///
/// With [`Role::Replica`] (or [`Role::PreferReplica`]) it keeps one multiplexed connection per
/// replica in use and sends each command to the next one. A read that fails on one replica
/// (unreachable, connection lost, `LOADING`, `MASTERDOWN`) is sent to the next; a write fails
/// with the replica's `READONLY`.
///
/// ```no_run
/// use rediscover::{Commands, SentinelClient};
/// # async fn demo() -> rediscover::Result<()> {
/// let client = SentinelClient::connect("redis+sentinel://s1,s2,s3/mymaster".parse()?).await?;
/// client.set("counter", 1).await?;
/// let n: i64 = client.incr("counter").await?;
/// println!("master {} (epoch {})", client.master().addr, client.master().epoch);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct SentinelClient {
    inner: Arc<Inner>,
    /// The master's client (master roles), with this handle's timeout.
    master: Option<Client>,
    timeout: Option<Duration>,
}

struct Inner {
    monitor: Arc<Monitor>,
    /// One client per replica in use (replica roles).
    replicas: Arc<Mutex<HashMap<NodeAddr, Client>>>,
    _running: Running,
}

impl std::fmt::Debug for SentinelClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SentinelClient")
            .field("master", &self.inner.monitor.master())
            .field("role", &self.role())
            .finish_non_exhaustive()
    }
}

impl SentinelClient {
    /// Finds the master through the sentinels (see [the module](super)) and connects to it
    /// (with a replica role: to the replicas, on first use).
    ///
    /// Fails with [`Error::SentinelsUnreachable`] when no sentinel answers,
    /// [`Error::MasterNotMonitored`] when they do not know the name, and
    /// [`Error::NoMaster`] when none of the addresses they give is a master (after
    /// `1 +` [`max_retries`](crate::Config::max_retries) rounds).
    pub async fn connect(config: SentinelConfig) -> Result<SentinelClient> {
        let running = Monitor::start(config).await?;
        let monitor = running.0.clone();
        let policy = monitor.config.node_config().clone();
        let master = match monitor.config.get_role() {
            Role::Master | Role::PreferReplica => Some(
                Client::with_source(
                    policy.clone(),
                    MasterSource {
                        monitor: monitor.clone(),
                    },
                )
                .await?,
            ),
            Role::Replica => None,
        };
        let replicas: Arc<Mutex<HashMap<NodeAddr, Client>>> = Arc::default();
        let (hook_master, hook_replicas) = (master.clone(), replicas.clone());
        monitor.on_change(Box::new(move |change| match change {
            Change::Master { new, .. } => hook_master.as_ref().map_or(0, |client| {
                client.retire(|conn| !new.addr.is_target_of(conn), DRAIN_GRACE)
            }),
            Change::Replicas { now, .. } => {
                let mut clients = hook_replicas.lock().unwrap_or_else(|p| p.into_inner());
                let before = clients.len();
                clients.retain(|addr, _| now.contains(addr));
                before - clients.len()
            }
        }));
        Ok(SentinelClient {
            timeout: policy.get_request_timeout(),
            master,
            inner: Arc::new(Inner {
                monitor,
                replicas,
                _running: running,
            }),
        })
    }

    /// A handle to the same client whose requests have another deadline (`None`: none).
    pub fn with_timeout(&self, timeout: Option<Duration>) -> SentinelClient {
        SentinelClient {
            inner: self.inner.clone(),
            master: self.master.as_ref().map(|c| c.with_timeout(timeout)),
            timeout,
        }
    }

    /// The master in use.
    ///
    /// ```no_run
    /// # async fn demo(client: rediscover::SentinelClient) {
    /// let m = client.master();
    /// println!("{} since epoch {}, after {} switches", m.addr, m.epoch, m.generation);
    /// # }
    /// ```
    pub fn master(&self) -> MasterInfo {
        (*self.inner.monitor.master()).clone()
    }

    /// The replicas in use (replica roles; empty for [`Role::Master`]).
    pub fn replicas(&self) -> Vec<NodeAddr> {
        (*self.inner.monitor.replicas()).clone()
    }

    /// The sentinels known: configured and learned.
    pub fn sentinels(&self) -> Vec<NodeAddr> {
        self.inner.monitor.known_sentinels()
    }

    /// Switches, role mismatches, replica changes, learned sentinels, from now on.
    ///
    /// ```no_run
    /// use rediscover::sentinel::SentinelEvent;
    /// # async fn demo(client: rediscover::SentinelClient) {
    /// let mut events = client.events();
    /// while let Ok(event) = events.recv().await {
    ///     if let SentinelEvent::Switched { from, to, .. } = event {
    ///         println!("master moved from {from} to {to}");
    ///     }
    /// }
    /// # }
    /// ```
    pub fn events(&self) -> broadcast::Receiver<SentinelEvent> {
        self.inner.monitor.subscribe()
    }

    /// The counters.
    pub fn stats(&self) -> SentinelStats {
        self.inner.monitor.stats()
    }

    /// The configuration.
    pub fn config(&self) -> &SentinelConfig {
        &self.inner.monitor.config
    }

    fn role(&self) -> Role {
        self.inner.monitor.config.get_role()
    }

    /// The master's shared connection in use right now (master roles; it may be closed).
    pub fn connection(&self) -> Option<Connection> {
        self.master.as_ref().and_then(Client::connection)
    }

    /// A [`Subscriber`](crate::Subscriber) on the master (its own connection), which
    /// reconnects to wherever the master is after a failover.
    pub async fn subscriber(&self) -> Result<crate::Subscriber> {
        let policy = self.inner.monitor.config.node_config().clone();
        crate::Subscriber::with_source(
            policy,
            MasterSource {
                monitor: self.inner.monitor.clone(),
            },
        )
        .await
    }

    /// An optimistic transaction on the master, as [`Client::transaction`] (on a dedicated
    /// connection). Fails with [`Error::NotAllowed`] for [`Role::Replica`].
    pub async fn transaction<T, F, Fut>(&self, keys: impl ToArgs, body: F) -> Result<Option<T>>
    where
        T: FromReply,
        F: FnMut(Watched) -> Fut,
        Fut: Future<Output = Result<Option<Transaction>>>,
    {
        match &self.master {
            Some(client) => client.transaction(keys, body).await,
            None => Err(Error::NotAllowed(
                "transactions write: they need the master, not Role::Replica".into(),
            )),
        }
    }

    /// How long to wait for the sentinels to confirm a master after `READONLY`.
    fn confirm_deadline(&self) -> Instant {
        let connect = self
            .inner
            .monitor
            .config
            .node_config()
            .get_connect_timeout();
        Instant::now() + self.timeout.map_or(connect, |t| t.min(connect))
    }

    /// After a `READONLY` from the master's client: wait for a confirmed master, move the
    /// client's connections there. Returns whether to send again.
    async fn recover(&self, master: &Client) -> bool {
        self.inner.monitor.count_readonly_retry();
        if !self
            .inner
            .monitor
            .confirm_master(self.confirm_deadline())
            .await
        {
            return false;
        }
        let now = self.inner.monitor.master();
        master.retire(|conn| !now.addr.is_target_of(conn), DRAIN_GRACE);
        true
    }

    async fn on_master(&self, master: &Client, route: &Route) -> Result<Frame> {
        match master.send_routed(route).await {
            // Boxed: the rare path should not grow every request's future.
            Err(e) if changed_under(&e) => Box::pin(self.once_more(master, route, e)).await,
            other => other,
        }
    }

    /// A command that did not run because the master changed under it: once a master is
    /// confirmed, sends it once more; otherwise returns `e`.
    async fn once_more(&self, master: &Client, route: &Route, e: Error) -> Result<Frame> {
        if !self.recover(master).await {
            return Err(e);
        }
        tracing::debug!(target: "rediscover::sentinel", error = %e, "sending again on the confirmed master");
        master.send_routed(route).await
    }

    async fn pipeline_on_master(&self, master: &Client, pipeline: &Pipeline) -> Result<Vec<Frame>> {
        let replies = master.send_pipeline(pipeline).await;
        let again = match &replies {
            Ok(replies) => nothing_written(pipeline, replies),
            Err(e) => changed_under(e),
        };
        if again && self.recover(master).await {
            return master.send_pipeline(pipeline).await;
        }
        replies
    }

    /// The client of the replica at `addr`, connecting it if needed.
    async fn replica(&self, addr: &NodeAddr) -> Result<Client> {
        let existing = self
            .inner
            .replicas
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(addr)
            .cloned();
        let client = match existing {
            Some(client) => client,
            None => {
                let monitor = &self.inner.monitor;
                let client = Client::with_source(
                    monitor.config.node_config().clone(),
                    ReplicaSource {
                        monitor: monitor.clone(),
                        addr: addr.clone(),
                    },
                )
                .await?;
                let mut clients = self
                    .inner
                    .replicas
                    .lock()
                    .unwrap_or_else(|p| p.into_inner());
                // Keep it only while the replica is in use (a refresh may have dropped it).
                if monitor.replicas().contains(addr) {
                    clients.entry(addr.clone()).or_insert(client).clone()
                } else {
                    client
                }
            }
        };
        Ok(client.with_timeout(self.timeout))
    }

    async fn route_to_replicas(&self, readonly: bool, route: Route) -> Result<Frame> {
        let route = Arc::new(route);
        self.on_replicas(readonly, |client| {
            let route = route.clone();
            Box::pin(async move { client.send_routed(&route).await })
        })
        .await
    }

    /// Sends to the replicas in turn until one answers (for a read, or a request never sent);
    /// with [`Role::PreferReplica`], to the master when none does. During a failover every
    /// replica may fail at once for a moment (the promoted one is no longer a replica, the
    /// others are reconfigured, which closes their clients' connections): up to
    /// [`REPLICA_PASSES`] passes, a short pause between them, within the request timeout.
    async fn on_replicas<T>(
        &self,
        readonly: bool,
        send: impl Fn(Client) -> std::pin::Pin<Box<dyn Future<Output = Result<T>> + Send>>,
    ) -> Result<T> {
        let monitor = &self.inner.monitor;
        let deadline = self.timeout.map(|t| Instant::now() + t);
        let mut last = None;
        for pass in 0..REPLICA_PASSES {
            if pass > 0 {
                let pause = Instant::now() + PASS_PAUSE * (1 << (pass - 1));
                if deadline.is_some_and(|d| pause >= d) {
                    break;
                }
                tokio::time::sleep_until(pause).await;
            }
            let mut order = monitor.replica_order();
            if order.is_empty() {
                let ticket = monitor.request_refresh();
                let _ = monitor.wait_refresh(ticket, self.confirm_deadline()).await;
                order = monitor.replica_order();
            }
            for addr in order {
                let client = match self.replica(&addr).await {
                    Ok(client) => client,
                    Err(e) => {
                        monitor.connect_failed(&addr);
                        last = Some(e);
                        continue;
                    }
                };
                match send(client).await {
                    Err(e) if another_replica(&e, readonly) => {
                        tracing::debug!(target: "rediscover::sentinel", replica = %addr, error = %e, "trying the next replica");
                        if !e.is_server() {
                            monitor.connect_failed(&addr);
                        }
                        last = Some(e);
                    }
                    other => return other,
                }
            }
            if let Some(master) = &self.master {
                return send(master.clone()).await;
            }
        }
        Err(last.unwrap_or_else(|| Error::NoReplica {
            name: monitor.config.master_name().into(),
        }))
    }
}

/// Passes over the replicas before a request to the replicas fails, and the pause after the
/// first (doubling after each).
const REPLICA_PASSES: u32 = 4;
const PASS_PAUSE: Duration = Duration::from_millis(20);

/// Whether a failed request may go to another replica: it was not sent, or it is a read (which
/// may run twice) whose connection broke, or the replica cannot serve it right now.
fn another_replica(e: &Error, readonly: bool) -> bool {
    e.is_not_sent()
        || (readonly && e.is_connection_broken())
        || matches!(e.code(), Some(ErrorCode::Loading | ErrorCode::MasterDown))
}

/// Whether a pipeline's replies say none of its writes ran because the server is a replica:
/// some reply is `READONLY`, and no write command got anything but an error.
fn nothing_written(pipeline: &Pipeline, replies: &[Frame]) -> bool {
    let readonly = |f: &Frame| matches!(f, Frame::Error(l) | Frame::BulkError(l) if l.starts_with(b"READONLY"));
    if !replies.iter().any(readonly) {
        return false;
    }
    pipeline.commands().zip(replies).all(|(cmd, reply)| {
        let write = crate::command::lookup(cmd.name()).is_some_and(|c| c.is_write());
        !write || reply.is_error()
    })
}

/// Whether every command of `pipeline` is a read.
fn all_reads(pipeline: &Pipeline) -> bool {
    pipeline
        .commands()
        .all(|cmd| crate::command::lookup(cmd.name()).is_some_and(|c| c.has_flag("readonly")))
}

impl Execute for SentinelClient {
    fn send_command(&self, cmd: Cmd) -> impl Future<Output = Result<Frame>> + Send {
        let to_replicas = self.role() != Role::Master;
        let readonly = to_replicas
            && crate::command::lookup(cmd.name().as_bytes())
                .is_some_and(|c| c.has_flag("readonly"));
        let route = routing::route(cmd);
        async move {
            let route = route?;
            match &self.master {
                Some(master) if !to_replicas => self.on_master(master, &route).await,
                // Boxed: the master path should not carry this one's future.
                _ => Box::pin(self.route_to_replicas(readonly, route)).await,
            }
        }
    }

    async fn send_pipeline(&self, pipeline: &Pipeline) -> Result<Vec<Frame>> {
        match (&self.master, self.role()) {
            (Some(master), Role::Master) => self.pipeline_on_master(master, pipeline).await,
            _ => {
                let readonly = all_reads(pipeline);
                let pipeline = Arc::new(pipeline.clone());
                self.on_replicas(readonly, |client| {
                    let pipeline = pipeline.clone();
                    Box::pin(async move { client.send_pipeline(&pipeline).await })
                })
                .await
            }
        }
    }
}
