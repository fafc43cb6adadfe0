//! The managed connection: one multiplexed [`Connection`] that comes back after failures.
//!
//! This is the piece every long-lived handle is built on: [`Client`](crate::Client) today, and
//! one per node for a cluster client, or one whose [`AddressSource`](super::source::AddressSource)
//! asks sentinels for a Sentinel-managed master. It owns:
//!
//! - the current connection and its generation (bumped by every reconnect);
//! - reconnecting: one round at a time, shared by every request waiting meanwhile, of at most
//!   `1 + max_retries` attempts with jittered backoff between them; a failed round fails its
//!   waiters with [`Error::NotSent`] carrying the last attempt's error;
//! - sending: a request that was certainly not sent is resent (up to `max_retries` times) on
//!   the next connection; one deadline covers the whole of it.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;
use tracing::Instrument;

use super::source::{backoff, worth_retrying, Connector};
use super::{Connection, Reply, Shape};
use crate::config::Config;
use crate::error::{Error, Result};

/// A multiplexed connection that reconnects. Cheap to clone: clones share everything.
#[derive(Clone)]
pub(crate) struct ManagedConnection {
    inner: Arc<Inner>,
}

struct Inner {
    connector: Connector,
    /// The policy: backoff, retries (the address comes from the connector).
    policy: Config,
    current: RwLock<Current>,
    /// Held by the one task running a reconnect round.
    reconnect: tokio::sync::Mutex<Rounds>,
    /// Reconnect rounds finished so far (read without the lock, to tell a waiter whether a
    /// round ended while it waited).
    rounds: AtomicU64,
}

struct Current {
    /// Behind an `Arc` so each request pays one reference count, not a handle clone.
    conn: Option<Arc<Connection>>,
    generation: u64,
}

#[derive(Default)]
struct Rounds {
    /// The error that ended the last round, if it failed.
    failed: Option<Error>,
    /// When the last attempt failed: the next round waits out the first backoff delay from it,
    /// so back-to-back rounds do not hammer a dead server.
    last_failure: Option<Instant>,
}

impl std::fmt::Debug for ManagedConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (conn, generation) = self.current();
        f.debug_struct("ManagedConnection")
            .field("peer", &conn.map(|c| c.peer_addr()))
            .field("generation", &generation)
            .finish_non_exhaustive()
    }
}

impl ManagedConnection {
    /// Connects once (a first failure is reported, not retried: a wrong address or bad
    /// credentials should surface at startup) and manages the connection from then on.
    pub(crate) async fn connect(connector: Connector, policy: Config) -> Result<ManagedConnection> {
        let conn = connector.connect().await?;
        let managed = ManagedConnection::lazy(connector, policy);
        managed.install(conn);
        Ok(managed)
    }

    /// Manages a connection that is opened by the first request (through the usual reconnect
    /// rounds), for nodes that are learnt about rather than configured.
    pub(crate) fn lazy(connector: Connector, policy: Config) -> ManagedConnection {
        ManagedConnection {
            inner: Arc::new(Inner {
                connector,
                policy,
                current: RwLock::new(Current {
                    conn: None,
                    generation: 0,
                }),
                reconnect: tokio::sync::Mutex::new(Rounds::default()),
                rounds: AtomicU64::new(0),
            }),
        }
    }

    /// Where new connections come from (dedicated connections use it too).
    pub(crate) fn connector(&self) -> &Connector {
        &self.inner.connector
    }

    /// The policy this connection was built with.
    pub(crate) fn policy(&self) -> &Config {
        &self.inner.policy
    }

    /// The connection in use and the generation it belongs to (0 for the first; `None` before
    /// the first connection or after a failed reconnect).
    pub(crate) fn current(&self) -> (Option<Arc<Connection>>, u64) {
        let cur = self.inner.current.read().unwrap_or_else(|p| p.into_inner());
        (cur.conn.clone(), cur.generation)
    }

    fn install(&self, conn: Connection) -> Arc<Connection> {
        let conn = Arc::new(conn);
        let mut cur = self
            .inner
            .current
            .write()
            .unwrap_or_else(|p| p.into_inner());
        if cur.conn.is_some() {
            cur.generation += 1;
        }
        cur.conn = Some(conn.clone());
        conn
    }

    /// Stops using the current connection if `stale` says so (the master it points at is no
    /// longer the master): the next request opens a new connection, wherever the source says
    /// then, while requests already queued on the old one finish there. The old connection is
    /// closed once nothing is in flight on it, or after `grace`. Returns whether a connection
    /// was retired. The generation moves on, as for a reconnect.
    pub(crate) fn retire_if(
        &self,
        stale: impl FnOnce(&Connection) -> bool,
        grace: Duration,
    ) -> bool {
        let old = {
            let mut cur = self
                .inner
                .current
                .write()
                .unwrap_or_else(|p| p.into_inner());
            match &cur.conn {
                Some(conn) if stale(conn) => {
                    cur.generation += 1;
                    cur.conn.take()
                }
                _ => None,
            }
        };
        match old {
            Some(conn) => {
                tokio::spawn(async move { conn.drain(grace).await });
                true
            }
            None => false,
        }
    }

    /// A live connection, reconnecting if the current one is broken.
    pub(crate) async fn live(&self) -> Result<Arc<Connection>> {
        match self.current().0 {
            Some(conn) if !conn.is_closed() => Ok(conn),
            // Boxed: the reconnect state machine (connect, TLS, handshake, backoff) is a few
            // kilobytes, and inline it would be moved with every request's future.
            _ => Box::pin(self.reconnect()).await,
        }
    }

    async fn reconnect(&self) -> Result<Arc<Connection>> {
        let rounds_before = self.inner.rounds.load(Ordering::Acquire);
        let mut rounds = self.inner.reconnect.lock().await;
        if let Some(conn) = self.current().0.filter(|c| !c.is_closed()) {
            // Someone else reconnected while we waited for the lock (a closed connection
            // never comes back, so a live one is a new one).
            return Ok(conn);
        }
        if self.inner.rounds.load(Ordering::Acquire) != rounds_before {
            // A round ended while we waited, and failed (or its connection is already gone):
            // its attempts were made on our behalf too.
            if let Some(e) = &rounds.failed {
                return Err(Error::not_sent(e.clone()));
            }
        }
        let policy = &self.inner.policy;
        let attempts = policy.get_max_retries().saturating_add(1);
        let mut last = None;
        for attempt in 0..attempts {
            let wait = if attempt > 0 {
                Some(backoff(policy, attempt))
            } else {
                // A new round right after a failed one starts with the first delay too.
                rounds
                    .last_failure
                    .and_then(|at| (at + backoff(policy, 1)).checked_duration_since(Instant::now()))
            };
            if let Some(wait) = wait {
                tokio::time::sleep(wait).await;
            }
            let span = tracing::debug_span!("reconnect", attempt = attempt + 1, of = attempts);
            match self.inner.connector.connect().instrument(span).await {
                Ok(conn) => {
                    *rounds = Rounds::default();
                    self.inner.rounds.fetch_add(1, Ordering::AcqRel);
                    let conn = self.install(conn);
                    tracing::debug!(target: "rediscover::client", generation = self.current().1, peer = %conn.peer_addr(), "reconnected");
                    return Ok(conn);
                }
                Err(e) if !worth_retrying(&e) => {
                    // Bad credentials or configuration: another attempt will not help.
                    rounds.failed = Some(e.clone());
                    rounds.last_failure = Some(Instant::now());
                    self.inner.rounds.fetch_add(1, Ordering::AcqRel);
                    return Err(e);
                }
                Err(e) => {
                    tracing::debug!(target: "rediscover::client", error = %e, attempt = attempt + 1, "reconnect failed");
                    rounds.last_failure = Some(Instant::now());
                    last = Some(e);
                }
            }
        }
        let e = Error::not_sent(last.unwrap_or(Error::Closed));
        rounds.failed = Some(e.clone());
        self.inner.rounds.fetch_add(1, Ordering::AcqRel);
        Err(e)
    }

    /// Sends `payload`, reconnecting and resending while it is certainly unsent, within one
    /// deadline (`None`: none).
    pub(crate) async fn send(
        &self,
        payload: Bytes,
        shape: Shape,
        deadline: Option<Instant>,
    ) -> Result<Reply> {
        let handed_over = AtomicBool::new(false);
        let attempt = async {
            let mut resent = 0;
            loop {
                let conn = self.live().await?;
                handed_over.store(true, Ordering::Relaxed);
                // The deadline is enforced once, around the whole attempt, below.
                match conn.send_until(payload.clone(), shape, None).await {
                    Err(e @ Error::NotSent { .. })
                        if resent < self.inner.policy.get_max_retries() =>
                    {
                        resent += 1;
                        handed_over.store(false, Ordering::Relaxed);
                        tracing::debug!(target: "rediscover::client", error = %e, resent, "resending unsent request");
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::cmd::Cmd;
    use crate::resp::Frame;

    fn ping() -> Bytes {
        Cmd::new("PING").into_bytes()
    }

    #[tokio::test]
    async fn a_lazy_connection_connects_on_first_use_and_counts_generations() {
        let server = rediscover_testserver::TestServer::start().await.unwrap();
        let config = Config::from_url(&server.url())
            .unwrap()
            .backoff(Duration::from_millis(1), Duration::from_millis(5));
        let managed =
            ManagedConnection::lazy(Connector::new(std::sync::Arc::new(config.clone())), config);
        assert!(managed.current().0.is_none(), "nothing opened yet");
        let reply = managed.send(ping(), Shape::One, None).await.unwrap();
        assert!(matches!(reply, Reply::One(Frame::Simple(ref s)) if &s[..] == b"PONG"));
        let (first, generation) = managed.current();
        assert_eq!(generation, 0);
        let first = first.unwrap();
        assert_eq!(first.peer_addr(), server.addr());
        first.close();
        managed.send(ping(), Shape::One, None).await.unwrap();
        assert_eq!(managed.current().1, 1, "one reconnect");
        // The server goes away: one round of 1 + max_retries attempts, then the cause.
        server.shutdown().await;
        managed.current().0.unwrap().close();
        let e = managed.send(ping(), Shape::One, None).await.unwrap_err();
        assert!(e.is_not_sent(), "{e:?}");
        assert!(e.io_error().is_some(), "{e:?}");
    }
}
