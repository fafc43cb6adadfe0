//! [`SentinelPool`]: dedicated connections (deadpool) to the master, or to the replicas,
//! that follow failovers.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use deadpool::managed::{self, Metrics, RecycleError, RecycleResult};
use tokio::sync::broadcast;
use tokio::time::Instant;

use super::config::Role;
use super::monitor::{Change, Monitor, Running};
use super::source::{MasterSource, ReplicasSource};
use super::{MasterInfo, NodeAddr, SentinelConfig, SentinelEvent, SentinelStats};
use crate::cmd::Cmd;
use crate::commands::Execute;
use crate::conn::source::{backoff, worth_retrying, AddressSource, Connector};
use crate::conn::Connection;
use crate::error::{Error, Result};
use crate::error_codes::ErrorCode;
use crate::pipeline::Pipeline;
use crate::resp::Frame;

/// A connection in the pool: where it goes, and the master generation it was opened in.
#[derive(Debug)]
pub(crate) struct Pooled {
    conn: Connection,
    addr: NodeAddr,
    generation: u64,
    /// Set when a write was answered `READONLY` on it: it is not reused.
    poisoned: AtomicBool,
}

/// Creates connections where the sentinels say, and reuses one only if it still goes there.
#[derive(Debug)]
pub(crate) struct Manager {
    connector: Connector,
    monitor: Arc<Monitor>,
}

impl managed::Manager for Manager {
    type Type = Pooled;
    type Error = Error;

    /// Up to `1 +` max_retries attempts with backoff, so that a checkout during a failover
    /// waits for the new master rather than failing at the first refused connection.
    async fn create(&self) -> Result<Pooled> {
        let policy = self.monitor.config.node_config();
        let attempts = policy.get_max_retries().saturating_add(1);
        let mut last = Error::Closed;
        for attempt in 0..attempts {
            if attempt > 0 {
                tokio::time::sleep(backoff(policy, attempt)).await;
            }
            let conn = match self.connector.connect().await {
                Ok(conn) => conn,
                Err(e) if !worth_retrying(&e) => return Err(e),
                Err(e) => {
                    last = e;
                    continue;
                }
            };
            let cfg = conn.config();
            let addr = NodeAddr::new(cfg.get_host(), cfg.get_port());
            let master = self.monitor.master();
            if self.monitor.config.get_role() == Role::Master && master.addr != addr {
                // The master moved while this one was opened.
                conn.close();
                last = Error::not_sent(Error::MasterChanged {
                    from: addr,
                    to: master.addr.clone(),
                });
                continue;
            }
            return Ok(Pooled {
                conn,
                addr,
                generation: master.generation,
                poisoned: AtomicBool::new(false),
            });
        }
        Err(Error::not_sent(last))
    }

    /// Reused only if it was not refused a write, still goes where connections of this pool
    /// go (the master of this generation; a replica in use), and the usual recycle step
    /// ([`PoolManager`](crate::PoolManager)) puts its state back.
    async fn recycle(&self, obj: &mut Pooled, _: &Metrics) -> RecycleResult<Error> {
        if obj.poisoned.load(Ordering::Acquire) {
            return Err(RecycleError::message("answered READONLY"));
        }
        if !self.still_current(obj) {
            return Err(RecycleError::message("no longer where the sentinels point"));
        }
        crate::pool::recycle(&obj.conn).await
    }
}

impl Manager {
    fn still_current(&self, obj: &Pooled) -> bool {
        let master = self.monitor.master();
        match self.monitor.config.get_role() {
            Role::Master => obj.generation == master.generation,
            _ => obj.addr == master.addr || self.monitor.replicas().contains(&obj.addr),
        }
    }
}

/// A pool of dedicated connections to the master (or the replicas) of a Sentinel-managed
/// group: each checked-out connection is yours alone, so `SELECT`, `WATCH`, blocking commands
/// and transactions are all fine on it.
///
/// Connections are opened where the sentinels say, each checked with `ROLE` first. When the
/// master changes, idle connections to the old one are closed at once, a checked-out one
/// refuses further commands with [`Error::MasterChanged`] inside [`Error::NotSent`] (nothing
/// was sent; take a new connection), and none is reused. See [the module](super) for how the
/// master is found and followed. [`SentinelPool::run`] does the retrying for you.
///
/// ```no_run
/// use rediscover::{Commands, SentinelConfig, SentinelPool};
/// # async fn demo() -> rediscover::Result<()> {
/// let pool = SentinelPool::connect("redis+sentinel://s1,s2,s3/mymaster".parse()?).await?;
/// let conn = pool.get().await?;
/// let job: Option<(String, String)> = conn.blpop("jobs", 1.0).await?; // blocks only this one
///
/// // Retried once on the new master if the master changed under it.
/// let n: i64 = pool.run(|conn| async move { conn.incr("counter").await }).await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct SentinelPool {
    pool: managed::Pool<Manager>,
    monitor: Arc<Monitor>,
    _running: Arc<Running>,
}

impl std::fmt::Debug for SentinelPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SentinelPool")
            .field("master", &self.monitor.master())
            .field("size", &self.size())
            .finish_non_exhaustive()
    }
}

impl SentinelPool {
    /// Finds the master through the sentinels (see [the module](super)), then returns a pool
    /// of at most [`SentinelConfig::pool_size`] connections, opened on demand.
    ///
    /// Fails with [`Error::SentinelsUnreachable`] when no sentinel answers,
    /// [`Error::MasterNotMonitored`] when they do not know the name, and
    /// [`Error::NoMaster`] when none of the addresses they give is a master (after
    /// `1 +` [`max_retries`](crate::Config::max_retries) rounds).
    pub async fn connect(config: SentinelConfig) -> Result<SentinelPool> {
        let running = Monitor::start(config).await?;
        let monitor = running.0.clone();
        let source: Arc<dyn AddressSource> = match monitor.config.get_role() {
            Role::Master => Arc::new(MasterSource {
                monitor: monitor.clone(),
            }),
            _ => Arc::new(ReplicasSource {
                monitor: monitor.clone(),
            }),
        };
        let wait = monitor.config.node_config().get_connect_timeout();
        let manager = Manager {
            connector: Connector::new(source),
            monitor: monitor.clone(),
        };
        let pool = managed::Pool::builder(manager)
            .max_size(monitor.config.get_pool_size())
            .runtime(deadpool::Runtime::Tokio1)
            .wait_timeout(Some(wait))
            .create_timeout(Some(wait))
            .recycle_timeout(Some(wait.max(Duration::from_millis(100))))
            .build()
            .map_err(|e| Error::Config(format!("pool: {e}")))?;
        let weak = pool.weak();
        monitor.on_change(Box::new(move |change| {
            let Some(pool) = weak.upgrade() else {
                return 0;
            };
            let removed = match change {
                Change::Master { old, .. } => pool.retain(|obj, _| obj.addr != old.addr),
                Change::Replicas { now, master } => {
                    pool.retain(|obj, _| obj.addr == *master || now.contains(&obj.addr))
                }
            };
            for obj in &removed.removed {
                obj.conn.close();
            }
            removed.removed.len()
        }));
        Ok(SentinelPool {
            pool,
            monitor,
            _running: Arc::new(running),
        })
    }

    /// Checks out a connection: an idle one that still goes to the current master (or a
    /// replica in use), or a new one. When all are checked out, waits up to the data nodes'
    /// connect timeout for one to come back, then fails with [`Error::Pool`].
    pub async fn get(&self) -> Result<SentinelConnection> {
        let max = self.pool.status().max_size;
        let wait = self.monitor.config.node_config().get_connect_timeout();
        let obj = self
            .pool
            .get()
            .await
            .map_err(|e| crate::pool::pool_error(e, max, wait))?;
        Ok(SentinelConnection {
            obj,
            monitor: self.monitor.clone(),
        })
    }

    /// Runs `f` with a connection; if it fails because the master changed under it (a write
    /// answered `READONLY`, which did not run, or [`Error::MasterChanged`], which was not
    /// sent), waits for the sentinels to name a master that answers `ROLE` as one, and runs
    /// `f` once more on a new connection.
    ///
    /// `f` runs again from the start: make it safe to rerun (one command, a transaction,
    /// reads before a single write). Other errors are returned as they are.
    ///
    /// ```no_run
    /// use rediscover::{Commands, SentinelPool};
    /// # async fn demo(pool: SentinelPool) -> rediscover::Result<()> {
    /// pool.run(|conn| async move { conn.set("k", "v").await }).await?;
    /// # Ok(()) }
    /// ```
    pub async fn run<T, F, Fut>(&self, mut f: F) -> Result<T>
    where
        F: FnMut(SentinelConnection) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let first = f(self.get().await?).await;
        match first {
            Err(e) if self.monitor.config.get_role() == Role::Master && changed_under(&e) => {
                if e.code() == Some(ErrorCode::ReadOnly) {
                    self.monitor.count_readonly_retry();
                }
                let deadline =
                    Instant::now() + self.monitor.config.node_config().get_connect_timeout();
                if !self.monitor.confirm_master(deadline).await {
                    return Err(e);
                }
                f(self.get().await?).await
            }
            other => other,
        }
    }

    /// The master in use.
    pub fn master(&self) -> MasterInfo {
        (*self.monitor.master()).clone()
    }

    /// The replicas in use (replica roles; empty for [`Role::Master`]).
    pub fn replicas(&self) -> Vec<NodeAddr> {
        (*self.monitor.replicas()).clone()
    }

    /// The sentinels known: configured and learned.
    pub fn sentinels(&self) -> Vec<NodeAddr> {
        self.monitor.known_sentinels()
    }

    /// Switches, role mismatches, replica changes, learned sentinels, from now on.
    pub fn events(&self) -> broadcast::Receiver<SentinelEvent> {
        self.monitor.subscribe()
    }

    /// The counters.
    pub fn stats(&self) -> SentinelStats {
        self.monitor.stats()
    }

    /// The configuration.
    pub fn config(&self) -> &SentinelConfig {
        &self.monitor.config
    }

    /// Connections open (idle or checked out).
    pub fn size(&self) -> usize {
        self.pool.status().size
    }

    /// Idle connections.
    pub fn idle(&self) -> usize {
        self.pool.status().available
    }
}

/// Whether `e` says the command did not run because the master changed under it.
pub(crate) fn changed_under(e: &Error) -> bool {
    e.code() == Some(ErrorCode::ReadOnly) || e.is_master_changed()
}

/// A connection checked out of a [`SentinelPool`]; it goes back when dropped.
///
/// It runs every [`Commands`](crate::Commands) method, pipelines and transactions, like a
/// [`Connection`], with two checks: a command after the master changed is refused with
/// [`Error::MasterChanged`] (inside [`Error::NotSent`]) without being sent, and a write
/// answered `READONLY` makes the pool ask the sentinels again and not reuse this connection.
pub struct SentinelConnection {
    obj: managed::Object<Manager>,
    monitor: Arc<Monitor>,
}

impl std::fmt::Debug for SentinelConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SentinelConnection")
            .field("addr", &self.obj.addr)
            .field("generation", &self.obj.generation)
            .field("connection", &self.obj.conn)
            .finish()
    }
}

impl SentinelConnection {
    /// The server it is connected to, as the sentinels named it.
    pub fn addr(&self) -> &NodeAddr {
        &self.obj.addr
    }

    /// The connection itself (its commands skip the checks above).
    pub fn connection(&self) -> &Connection {
        &self.obj.conn
    }

    fn check(&self) -> Result<()> {
        if self.monitor.config.get_role() != Role::Master {
            return Ok(());
        }
        let master = self.monitor.master();
        if master.generation == self.obj.generation {
            return Ok(());
        }
        self.monitor.count_master_changed_refusal();
        Err(Error::not_sent(Error::MasterChanged {
            from: self.obj.addr.clone(),
            to: master.addr.clone(),
        }))
    }

    fn readonly(&self) {
        if self.monitor.config.get_role() == Role::Master
            && !self.obj.poisoned.swap(true, Ordering::AcqRel)
        {
            tracing::debug!(target: "rediscover::sentinel", addr = %self.obj.addr, "READONLY on a master connection");
            self.monitor.request_readonly_refresh();
        }
    }
}

fn is_readonly(frame: &Frame) -> bool {
    matches!(frame, Frame::Error(l) | Frame::BulkError(l) if l.starts_with(b"READONLY"))
}

impl Execute for SentinelConnection {
    async fn send_command(&self, cmd: Cmd) -> Result<Frame> {
        self.check()?;
        let result = self.obj.conn.send_command(cmd).await;
        if matches!(&result, Err(e) if e.code() == Some(ErrorCode::ReadOnly)) {
            self.readonly();
        }
        result
    }

    async fn send_pipeline(&self, pipeline: &Pipeline) -> Result<Vec<Frame>> {
        self.check()?;
        let replies = self.obj.conn.send_pipeline(pipeline).await?;
        if replies.iter().any(is_readonly) {
            self.readonly();
        }
        Ok(replies)
    }
}
