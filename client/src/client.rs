//! The managed client: one multiplexed connection that comes back after failures.

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;
use tracing::Instrument;

use crate::cmd::{Cmd, Usage};
use crate::commands::Execute;
use crate::config::Config;
use crate::conn::{Connection, Reply, Shape};
use crate::error::{Error, Result};
use crate::pipeline::Pipeline;
use crate::resp::Frame;
use crate::value::FromReply;

/// A Redis client: a cheap `Clone` handle to one multiplexed connection that reconnects.
///
/// Requests from every clone and every task share one connection and are pipelined
/// automatically. When the connection breaks, the next request reconnects (with capped,
/// jittered backoff); requests that were certainly not sent are retried on the new connection,
/// requests whose outcome is unknown fail with an error that says so. Each request has one
/// deadline ([`Config::request_timeout`]) covering queueing, reconnects and retries.
///
/// ```no_run
/// use rediscover::{Client, Commands};
/// # async fn demo() -> rediscover::Result<()> {
/// let client = Client::connect("redis://127.0.0.1:6379/0").await?;
/// client.set("counter", 1).await?;
/// assert_eq!(client.incr("counter").await?, 2);
/// let n: i64 = client.cmd("STRLEN").arg("counter").query().await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
    /// This handle's request deadline (the config's unless [`Client::with_timeout`] changed it).
    timeout: Option<Duration>,
}

struct Inner {
    config: Config,
    current: RwLock<Current>,
    /// Held by the one task that reconnects; counts consecutive failed attempts.
    reconnect: tokio::sync::Mutex<u32>,
}

struct Current {
    /// Behind an `Arc` so each request pays one reference count, not a handle clone.
    conn: Option<Arc<Connection>>,
    generation: u64,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("addr", &self.inner.config.addr())
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Connects to a `redis://` URL.
    pub async fn connect(url: &str) -> Result<Client> {
        Client::with_config(url.parse()?).await
    }

    /// Connects with a [`Config`]. Fails when the first connection cannot be made (bad
    /// address, bad credentials): reconnecting later only happens after a first success.
    pub async fn with_config(config: Config) -> Result<Client> {
        let conn = Connection::connect(&config).await?;
        Ok(Client {
            timeout: config.timeout(),
            inner: Arc::new(Inner {
                config,
                current: RwLock::new(Current {
                    conn: Some(Arc::new(conn)),
                    generation: 0,
                }),
                reconnect: tokio::sync::Mutex::new(0),
            }),
        })
    }

    /// A handle to the same connection whose requests have another deadline (`None`: none),
    /// for example for a long blocking command.
    ///
    /// ```no_run
    /// # use std::time::Duration;
    /// # use rediscover::{Client, Commands};
    /// # async fn demo(client: Client) -> rediscover::Result<()> {
    /// let patient = client.with_timeout(Some(Duration::from_secs(120)));
    /// patient.cmd("WAIT").arg(1).arg(100_000).query::<i64>().await?;
    /// # Ok(()) }
    /// ```
    pub fn with_timeout(&self, timeout: Option<Duration>) -> Client {
        Client {
            inner: self.inner.clone(),
            timeout,
        }
    }

    /// The configuration this client connects with.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// Opens a [`Subscriber`](crate::Subscriber) (its own connection) with this client's
    /// configuration.
    pub async fn subscriber(&self) -> Result<crate::Subscriber> {
        crate::Subscriber::with_config(self.inner.config.clone()).await
    }

    /// How many times the client has reconnected.
    pub fn reconnects(&self) -> u64 {
        self.read_current().1
    }

    /// The connection in use right now (it may be closed).
    pub fn connection(&self) -> Option<Connection> {
        self.read_current().0.map(|c| (*c).clone())
    }

    fn read_current(&self) -> (Option<Arc<Connection>>, u64) {
        let cur = self.inner.current.read().unwrap_or_else(|p| p.into_inner());
        (cur.conn.clone(), cur.generation)
    }

    /// A live connection, reconnecting if the current one is broken.
    async fn live(&self) -> Result<Arc<Connection>> {
        let (conn, seen) = self.read_current();
        match conn {
            Some(conn) if !conn.is_closed() => Ok(conn),
            _ => self.reconnect(seen).await,
        }
    }

    async fn reconnect(&self, seen: u64) -> Result<Arc<Connection>> {
        let mut failures = self.inner.reconnect.lock().await;
        let (conn, generation) = self.read_current();
        if let Some(conn) = conn.filter(|c| !c.is_closed() && generation != seen) {
            // Someone else reconnected while we waited for the lock.
            return Ok(conn);
        }
        let config = &self.inner.config;
        loop {
            if *failures > 0 {
                tokio::time::sleep(backoff(config, *failures)).await;
            }
            let span =
                tracing::debug_span!("reconnect", addr = %config.addr(), attempt = *failures + 1);
            match Connection::connect(config).instrument(span).await {
                Ok(conn) => {
                    let conn = Arc::new(conn);
                    *failures = 0;
                    let mut cur = self
                        .inner
                        .current
                        .write()
                        .unwrap_or_else(|p| p.into_inner());
                    cur.conn = Some(conn.clone());
                    cur.generation += 1;
                    tracing::debug!(target: "rediscover::client", generation = cur.generation, "reconnected");
                    return Ok(conn);
                }
                // Bad credentials or configuration: another attempt will not help.
                Err(e) if !e.is_not_sent() && !e.is_connection_broken() => return Err(e),
                Err(e) => {
                    *failures = failures.saturating_add(1);
                    tracing::debug!(target: "rediscover::client", error = %e, failures = *failures, "reconnect failed");
                    if config.timeout().is_none() && *failures > config.retries() {
                        return Err(Error::not_sent(e));
                    }
                }
            }
        }
    }

    /// Sends `payload`, reconnecting and retrying while it is certainly unsent, within one
    /// deadline.
    async fn call(&self, payload: Bytes, shape: Shape) -> Result<Reply> {
        let deadline = self.timeout.map(|t| Instant::now() + t);
        let handed_over = AtomicBool::new(false);
        let attempt = async {
            let mut retries = 0;
            loop {
                let conn = self.live().await?;
                handed_over.store(true, Ordering::Relaxed);
                // The deadline is enforced once, around the whole attempt, below.
                match conn.send_until(payload.clone(), shape, None).await {
                    Err(e @ Error::NotSent { .. }) if retries < self.inner.config.retries() => {
                        retries += 1;
                        handed_over.store(false, Ordering::Relaxed);
                        tracing::debug!(target: "rediscover::client", error = %e, retries, "retrying unsent request");
                    }
                    other => return other,
                }
            }
        };
        let result = match deadline {
            Some(d) => match tokio::time::timeout_at(d, attempt).await {
                Ok(r) => r,
                Err(_) => Err(Error::Timeout {
                    sent: handed_over.load(Ordering::Relaxed),
                }),
            },
            None => attempt.await,
        };
        if let Err(e) = &result {
            tracing::debug!(target: "rediscover::client", error = %e, kind = ?e.kind(), "request failed");
        }
        result
    }
}

/// Exponential backoff from the configured minimum, capped, with "equal jitter" (half fixed,
/// half random) so that many clients do not reconnect in lockstep.
fn backoff(config: &Config, failures: u32) -> Duration {
    let (min, max) = config.backoff_bounds();
    let exp = min.saturating_mul(1u32 << failures.min(16).saturating_sub(1));
    let capped = exp.min(max);
    let half = capped / 2;
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    let jitter_nanos = if half.as_nanos() == 0 {
        0
    } else {
        random % half.as_nanos() as u64
    };
    half + Duration::from_nanos(jitter_nanos)
}

pub(crate) fn check(frame: Frame) -> Result<Frame> {
    Frame::from_reply(frame)
}

pub(crate) fn prepare(cmd: Cmd) -> Result<Bytes> {
    if cmd.usage() == Usage::ReplyMode {
        return Err(reply_mode_refused(cmd.name()));
    }
    tracing::debug!(target: "rediscover::cmd", cmd = cmd.name(), args = cmd.arg_count(), "request");
    Ok(cmd.into_bytes())
}

fn reply_mode_refused(name: &str) -> Error {
    Error::Config(format!(
        "{name} changes how replies are sent and cannot share a multiplexed connection: \
         use rediscover::Subscriber for pub/sub"
    ))
}

/// Refuses a pipeline with a command that would desync a multiplexed connection.
pub(crate) fn check_pipeline(pipeline: &Pipeline) -> Result<()> {
    if pipeline.uses(Usage::ReplyMode) {
        if let Some(cmd) = pipeline.commands().find(|c| c.usage() == Usage::ReplyMode) {
            return Err(reply_mode_refused(&String::from_utf8_lossy(cmd.name())));
        }
    }
    Ok(())
}

impl Execute for Client {
    fn send_command(&self, cmd: Cmd) -> impl std::future::Future<Output = Result<Frame>> + Send {
        let payload = prepare(cmd);
        async move {
            match self.call(payload?, Shape::One).await? {
                Reply::One(frame) => check(frame),
                Reply::Many(_) => Err(Error::response("expected one reply")),
            }
        }
    }

    fn send_pipeline(
        &self,
        pipeline: &Pipeline,
    ) -> impl std::future::Future<Output = Result<Vec<Frame>>> + Send {
        let payload = pipeline.payload();
        let n = pipeline.len();
        let checked = check_pipeline(pipeline);
        async move {
            checked?;
            if n == 0 {
                return Ok(Vec::new());
            }
            match self.call(payload, Shape::Many(n)).await? {
                Reply::Many(frames) => Ok(frames),
                Reply::One(_) => Err(Error::response("expected a batch of replies")),
            }
        }
    }
}

impl Execute for Connection {
    fn send_command(&self, cmd: Cmd) -> impl std::future::Future<Output = Result<Frame>> + Send {
        let payload = prepare(cmd);
        let deadline = self.deadline();
        async move { check(self.request_until(payload?, deadline).await?) }
    }

    fn send_pipeline(
        &self,
        pipeline: &Pipeline,
    ) -> impl std::future::Future<Output = Result<Vec<Frame>>> + Send {
        let payload = pipeline.payload();
        let n = pipeline.len();
        let deadline = self.deadline();
        let checked = check_pipeline(pipeline);
        async move {
            checked?;
            if n == 0 {
                return Ok(Vec::new());
            }
            match self.send_until(payload, Shape::Many(n), deadline).await? {
                Reply::Many(frames) => Ok(frames),
                Reply::One(_) => Err(Error::response("expected a batch of replies")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_capped_and_jittered() {
        let config =
            Config::default().backoff(Duration::from_millis(10), Duration::from_millis(100));
        for failures in 1..40 {
            let d = backoff(&config, failures);
            assert!(d <= Duration::from_millis(100), "{failures}: {d:?}");
        }
        let first = backoff(&config, 1);
        assert!(first >= Duration::from_millis(5) && first <= Duration::from_millis(10));
        assert!(backoff(&config, 30) >= Duration::from_millis(50));
    }
}
