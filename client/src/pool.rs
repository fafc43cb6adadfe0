//! A pool of dedicated connections (deadpool), for work that needs a connection to itself:
//! many concurrent blocking commands, `SELECT`, hand-written `WATCH` transactions.

use std::sync::Arc;
use std::time::Duration;

use deadpool::managed::{self, Metrics, RecycleError, RecycleResult};

use crate::cmd::{Cmd, ToArgs};
use crate::commands::Execute;
use crate::config::Config;
use crate::conn::source::{AddressSource, Connector};
use crate::conn::{handshake, Connection};
use crate::error::{Error, Result};
use crate::pipeline::Pipeline;
use crate::resp::Frame;
use crate::transaction::{run_watched, Transaction, Watched};
use crate::value::FromReply;

/// Creates and checks pooled connections.
#[derive(Debug)]
pub struct Manager {
    connector: Connector,
}

impl managed::Manager for Manager {
    type Type = Connection;
    type Error = Error;

    async fn create(&self) -> Result<Connection> {
        self.connector.connect().await
    }

    /// A connection is reused only if it is open, has nothing in flight (a caller that gave up
    /// on a blocking command leaves its reply pending: reusing the connection would block the
    /// next user), and its state can be put back as configured: `RESET` (leaves `MULTI`,
    /// drops `WATCH`es, subscriptions, `CLIENT REPLY`/`TRACKING` settings, the database and
    /// the name), then the handshake's `HELLO`/`AUTH`, `CLIENT SETNAME` and `SELECT` again, in
    /// one round trip. On a server without `RESET` (before 6.2): `DISCARD`, `UNWATCH` and
    /// `SELECT`.
    async fn recycle(&self, conn: &mut Connection, _: &Metrics) -> RecycleResult<Error> {
        recycle(conn).await
    }
}

/// The recycle step of every pool: see [`Manager`]'s `recycle`.
pub(crate) async fn recycle(conn: &Connection) -> RecycleResult<Error> {
    if conn.is_closed() {
        return Err(RecycleError::message("connection closed"));
    }
    if conn.in_flight() > 0 {
        return Err(RecycleError::message("requests still in flight"));
    }
    let config = conn.config().clone();
    let mut check = Pipeline::new();
    check.add(&Cmd::new("RESET"));
    for cmd in handshake::restore(&config, conn.is_resp3()) {
        check.add(&cmd);
    }
    check.add(&Cmd::new("PING"));
    let replies = conn
        .send_pipeline(&check)
        .await
        .map_err(RecycleError::Backend)?;
    let reset_refused = replies.first().is_some_and(Frame::is_error);
    if !reset_refused {
        return healthy(&replies[1..]);
    }
    // Only RESET was refused (what follows it ran in the state the user left): the
    // older, partial way, whose DISCARD may answer "without MULTI".
    let mut check = Pipeline::new();
    for cmd in handshake::restore_without_reset(&config) {
        check.add(&cmd);
    }
    check.add(&Cmd::new("PING"));
    let replies = conn
        .send_pipeline(&check)
        .await
        .map_err(RecycleError::Backend)?;
    healthy(replies.get(1..).unwrap_or_default())
}

/// What a failed checkout tells the caller.
pub(crate) fn pool_error(e: managed::PoolError<Error>, max_size: usize, waited: Duration) -> Error {
    match e {
        managed::PoolError::Backend(e) => e,
        managed::PoolError::Timeout(managed::TimeoutType::Wait) => Error::Pool(format!(
            "all {max_size} connections of the pool are checked out (waited {waited:?})"
        )),
        managed::PoolError::Timeout(managed::TimeoutType::Create) => {
            Error::not_sent(Error::Timeout { sent: false })
        }
        other => Error::Pool(other.to_string()),
    }
}

/// Every reply fine and the last one `PONG`.
fn healthy(replies: &[Frame]) -> RecycleResult<Error> {
    let pong = matches!(replies.last(), Some(Frame::Simple(p)) if &p[..] == b"PONG");
    match replies.iter().find(|f| f.is_error()) {
        None if pong => Ok(()),
        failed => Err(RecycleError::Message(
            format!(
                "could not restore the connection's state: {:?}",
                failed.or(replies.last())
            )
            .into(),
        )),
    }
}

/// A connection checked out of a [`Pool`]; it goes back when dropped. Dereferences to
/// [`Connection`], so every [`Commands`](crate::Commands) method works on it.
pub type PooledConnection = managed::Object<Manager>;

/// A pool of dedicated connections.
///
/// Whoever checks a connection out has it to themselves: `SELECT`, `WATCH`, blocking commands
/// are all fine on it, and when it comes back its state is reset to the configuration's (see
/// [`Manager`]'s recycle step). A [`Client`](crate::Client) already runs blocking commands and
/// transactions on a few dedicated connections of its own; a pool is for more of them, or for
/// code that wants a connection's state for a while.
///
/// ```no_run
/// use rediscover::{Commands, Pool};
/// # async fn demo() -> rediscover::Result<()> {
/// let pool = Pool::new("redis://127.0.0.1:6379".parse()?, 16)?;
/// let conn = pool.get().await?;
/// let job: Option<(String, String)> = conn.blpop("jobs", 1.0).await?; // blocks only this connection
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Pool {
    inner: managed::Pool<Manager>,
    config: Config,
}

impl Pool {
    /// A pool of at most `max_size` connections (created lazily). Checking out waits at most
    /// the config's connect timeout for a free connection.
    pub fn new(config: Config, max_size: usize) -> Result<Pool> {
        Pool::with_source(config.clone(), config, max_size)
    }

    /// A pool whose connections go wherever `source` says at the time each is created (see
    /// [`AddressSource`]), with the timeouts of `config`.
    pub fn with_source(
        config: Config,
        source: impl AddressSource,
        max_size: usize,
    ) -> Result<Pool> {
        config.validate()?;
        let wait = config.get_connect_timeout();
        let manager = Manager {
            connector: Connector::new(Arc::new(source)),
        };
        let inner = managed::Pool::builder(manager)
            .max_size(max_size.max(1))
            .runtime(deadpool::Runtime::Tokio1)
            .wait_timeout(Some(wait))
            .create_timeout(Some(wait))
            .recycle_timeout(Some(wait.max(Duration::from_millis(100))))
            .build()
            .map_err(|e| Error::Config(format!("pool: {e}")))?;
        Ok(Pool { inner, config })
    }

    /// Checks out a connection, creating one if none is idle. When all are checked out, waits
    /// up to the configuration's connect timeout for one to come back, then fails with
    /// [`Error::Pool`].
    pub async fn get(&self) -> Result<PooledConnection> {
        let max = self.inner.status().max_size;
        let wait = self.config.get_connect_timeout();
        self.inner.get().await.map_err(|e| pool_error(e, max, wait))
    }

    /// An optimistic transaction on a pooled connection: the same as
    /// [`Client::transaction`](crate::Client::transaction), retried up to the pool
    /// configuration's [`transaction_retries`](Config::transaction_retries).
    pub async fn transaction<T, F, Fut>(&self, keys: impl ToArgs, body: F) -> Result<Option<T>>
    where
        T: FromReply,
        F: FnMut(Watched) -> Fut,
        Fut: std::future::Future<Output = Result<Option<Transaction>>>,
    {
        let conn = self.get().await?;
        // Whatever state is left, the recycle step resets it.
        let retries = self.config.get_transaction_retries();
        run_watched(&conn, keys, retries, body).await.0
    }

    /// Connections currently open (idle or checked out).
    pub fn size(&self) -> usize {
        self.inner.status().size
    }

    /// Idle connections ready to be checked out.
    pub fn idle(&self) -> usize {
        self.inner.status().available
    }
}

impl Execute for PooledConnection {
    fn send_command(&self, cmd: Cmd) -> impl std::future::Future<Output = Result<Frame>> + Send {
        let conn: &Connection = self;
        conn.send_command(cmd)
    }

    fn send_pipeline(
        &self,
        pipeline: &Pipeline,
    ) -> impl std::future::Future<Output = Result<Vec<Frame>>> + Send {
        let conn: &Connection = self;
        conn.send_pipeline(pipeline)
    }
}
