//! A pool of dedicated connections (deadpool), for work that needs a connection to itself:
//! blocking commands, `WATCH` transactions, `SELECT`.

use std::time::Duration;

use deadpool::managed::{self, Metrics, RecycleError, RecycleResult};

use crate::cmd::Cmd;
use crate::commands::Execute;
use crate::config::Config;
use crate::conn::Connection;
use crate::error::{Error, Result};
use crate::pipeline::Pipeline;
use crate::resp::Frame;

/// Creates and checks pooled connections.
#[derive(Debug)]
pub struct Manager {
    config: Config,
}

impl managed::Manager for Manager {
    type Type = Connection;
    type Error = Error;

    async fn create(&self) -> Result<Connection> {
        Connection::connect(&self.config).await
    }

    /// A connection is reused only if it is open, has nothing in flight (a caller that gave up
    /// on a blocking command leaves its reply pending: reusing the connection would block the
    /// next user), and answers `UNWATCH` + `PING` (dropping any leftover `WATCH`).
    async fn recycle(&self, conn: &mut Connection, _: &Metrics) -> RecycleResult<Error> {
        if conn.is_closed() {
            return Err(RecycleError::message("connection closed"));
        }
        if conn.in_flight() > 0 {
            return Err(RecycleError::message("requests still in flight"));
        }
        let mut check = Pipeline::new();
        check.add(&Cmd::new("UNWATCH")).add(&Cmd::new("PING"));
        let replies = conn
            .send_pipeline(&check)
            .await
            .map_err(RecycleError::Backend)?;
        match replies.as_slice() {
            [Frame::Simple(ok), Frame::Simple(pong)]
                if &ok[..] == b"OK" && &pong[..] == b"PONG" =>
            {
                Ok(())
            }
            other => Err(RecycleError::Message(
                format!("unexpected health check replies {other:?}").into(),
            )),
        }
    }
}

/// A connection checked out of a [`Pool`]; it goes back when dropped. Dereferences to
/// [`Connection`], so every [`Commands`](crate::Commands) method works on it.
pub type PooledConnection = managed::Object<Manager>;

/// A pool of dedicated connections.
///
/// ```no_run
/// use rediscover::{Commands, Pool};
/// # async fn demo() -> rediscover::Result<()> {
/// let pool = Pool::new("redis://127.0.0.1:6379".parse()?, 16)?;
/// let conn = pool.get().await?;
/// let job = conn.blpop("jobs", 1.0).await?; // blocks only this connection
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Pool {
    inner: managed::Pool<Manager>,
}

impl Pool {
    /// A pool of at most `max_size` connections (created lazily). Checking out waits at most
    /// the config's connect timeout for a free connection.
    pub fn new(config: Config, max_size: usize) -> Result<Pool> {
        let wait = config.connect_deadline();
        let inner = managed::Pool::builder(Manager { config })
            .max_size(max_size.max(1))
            .runtime(deadpool::Runtime::Tokio1)
            .wait_timeout(Some(wait))
            .create_timeout(Some(wait))
            .recycle_timeout(Some(wait.max(Duration::from_millis(100))))
            .build()
            .map_err(|e| Error::Config(format!("pool: {e}")))?;
        Ok(Pool { inner })
    }

    /// Checks out a connection, creating one if none is idle.
    pub async fn get(&self) -> Result<PooledConnection> {
        self.inner.get().await.map_err(|e| match e {
            managed::PoolError::Backend(e) => e,
            managed::PoolError::Timeout(_) => Error::Timeout { sent: false },
            other => Error::Pool(other.to_string()),
        })
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
