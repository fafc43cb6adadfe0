//! Where connections go: the [`AddressSource`] a client, a pool or a subscriber asks before
//! each connection attempt, and the jittered backoff between failed attempts.

use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;

use super::stream::{self, Stream};
use super::{handshake, Connection};
use crate::config::Config;
use crate::error::{Error, Result};

/// A boxed, `Send` future: what [`AddressSource`] methods return, so that the trait can be used
/// as `dyn AddressSource`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Says where to connect next. Asked before every connection attempt.
///
/// A fixed [`Config`] is a source (it always answers itself). A Sentinel-backed source asks
/// the sentinels for the current master; a service-discovery source asks its registry. Plug
/// one in with [`Client::with_source`](crate::Client::with_source),
/// [`Pool::with_source`](crate::Pool::with_source) or
/// [`Subscriber::with_source`](crate::Subscriber::with_source).
///
/// Everything used to open a connection comes from the [`Config`] the source returns:
/// address, TLS, credentials, database, name, protocol, connect timeout and queue capacity.
/// The policy of the client around it (request timeout, backoff, retries, dedicated
/// connections) comes from the `Config` the client was built with.
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use rediscover::{AddressSource, BoxFuture, Config, Result};
///
/// /// Tries each replica of a service in turn.
/// struct RoundRobin {
///     nodes: Vec<Config>,
///     next: AtomicUsize,
/// }
///
/// impl AddressSource for RoundRobin {
///     fn next_config(&self) -> BoxFuture<'_, Result<Config>> {
///         let i = self.next.fetch_add(1, Ordering::Relaxed) % self.nodes.len();
///         let config = self.nodes[i].clone();
///         Box::pin(async move { Ok(config) })
///     }
/// }
/// ```
pub trait AddressSource: Send + Sync + 'static {
    /// The configuration for the next connection attempt.
    ///
    /// An error that [is not sent](Error::is_not_sent) or
    /// [broke a connection](Error::is_connection_broken) (the registry is unreachable, say)
    /// counts as a failed attempt and is retried with backoff; any other error (a bad
    /// configuration) is reported to the caller at once.
    fn next_config(&self) -> BoxFuture<'_, Result<Config>>;

    /// Checks a new connection before anyone uses it; an error closes it and counts as a
    /// failed attempt (retried with backoff). A Sentinel source checks here that the server
    /// still is a master (`ROLE`). The default accepts every connection.
    ///
    /// Connections of a [`Subscriber`](crate::Subscriber) are not checked: it speaks
    /// pub/sub only.
    fn verify<'a>(&'a self, conn: &'a Connection) -> BoxFuture<'a, Result<()>> {
        let _ = conn;
        Box::pin(std::future::ready(Ok(())))
    }

    /// Told when a connection attempt to `config` (as [`next_config`](Self::next_config)
    /// returned it) failed before [`verify`](Self::verify) could run: refused, timed out,
    /// handshake refused. A source that can learn a better address (a Sentinel source asks
    /// the sentinels again) starts doing so here, so the next attempt goes somewhere better.
    /// It must not block. The default does nothing.
    fn connect_failed(&self, config: &Config, error: &Error) {
        let _ = (config, error);
    }
}

/// A fixed address: connects to itself every time.
impl AddressSource for Config {
    fn next_config(&self) -> BoxFuture<'_, Result<Config>> {
        Box::pin(std::future::ready(Ok(self.clone())))
    }
}

/// Opens connections where an [`AddressSource`] says: the one place that does, for the managed
/// connection, the pool, dedicated connections and the subscriber.
#[derive(Clone)]
pub(crate) struct Connector {
    source: Arc<dyn AddressSource>,
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connector").finish_non_exhaustive()
    }
}

impl Connector {
    pub(crate) fn new(source: Arc<dyn AddressSource>) -> Connector {
        Connector { source }
    }

    /// One attempt: ask the source, connect, verify.
    pub(crate) async fn connect(&self) -> Result<Connection> {
        let config = self.source.next_config().await?;
        let conn = match Connection::connect(&config).await {
            Ok(conn) => conn,
            Err(e) => {
                self.source.connect_failed(&config, &e);
                return Err(e);
            }
        };
        if let Err(e) = self.source.verify(&conn).await {
            conn.close();
            tracing::debug!(target: "rediscover::conn", peer = %conn.peer_addr(), error = %e, "connection refused by its address source");
            return Err(Error::not_sent(e));
        }
        Ok(conn)
    }

    /// One attempt at a bare, handshaken stream (for the subscriber, which reads pub/sub
    /// frames itself); also returns the config it connected with.
    pub(crate) async fn open_stream(&self) -> Result<(Stream, BytesMut, Config)> {
        let config = self.source.next_config().await?;
        let opened = tokio::time::timeout(config.get_connect_timeout(), async {
            let mut stream = stream::open(&config).await?;
            let mut rbuf = BytesMut::with_capacity(16 * 1024);
            handshake::handshake(&mut stream, &mut rbuf, &config).await?;
            Ok::<_, Error>((stream, rbuf))
        })
        .await
        .unwrap_or_else(|_| Err(Error::not_sent(Error::Timeout { sent: false })));
        let (stream, rbuf) = match opened {
            Ok(opened) => opened,
            Err(e) => {
                self.source.connect_failed(&config, &e);
                return Err(e);
            }
        };
        Ok((stream, rbuf, config))
    }
}

/// Whether another connection attempt may succeed where this one failed: the server was
/// unreachable or the connection broke, as opposed to bad credentials or a bad configuration.
pub(crate) fn worth_retrying(e: &Error) -> bool {
    e.is_not_sent() || e.is_connection_broken()
}

/// The delay before retry number `retry` (1 for the first retry): exponential from `min`,
/// capped at `max`, with "equal jitter" (half fixed, half random) so that many clients do not
/// reconnect in lockstep. The client, its dedicated connections and the subscriber all wait
/// this long.
pub(crate) fn backoff(config: &Config, retry: u32) -> Duration {
    let (min, max) = config.get_backoff();
    let exp = min.saturating_mul(1u32 << retry.clamp(1, 17).saturating_sub(1));
    let capped = exp.min(max);
    let half = capped / 2;
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    let jitter_nanos = match u64::try_from(half.as_nanos()) {
        Ok(0) | Err(_) => 0,
        Ok(n) => random % n,
    };
    half + Duration::from_nanos(jitter_nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_capped_and_jittered() {
        let config =
            Config::default().backoff(Duration::from_millis(10), Duration::from_millis(100));
        for retry in 0..40 {
            let d = backoff(&config, retry);
            assert!(d <= Duration::from_millis(100), "{retry}: {d:?}");
        }
        let first = backoff(&config, 1);
        assert!(first >= Duration::from_millis(5) && first <= Duration::from_millis(10));
        assert!(backoff(&config, 30) >= Duration::from_millis(50));
        assert!(backoff(&config, u32::MAX) <= Duration::from_millis(100));
        let distinct: std::collections::HashSet<Duration> =
            (0..20).map(|_| backoff(&config, 4)).collect();
        assert!(distinct.len() > 1, "jittered");
        let zero = Config::default().backoff(Duration::ZERO, Duration::ZERO);
        assert_eq!(backoff(&zero, 3), Duration::ZERO);
    }
}
