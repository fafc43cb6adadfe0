//! The shared client: one managed, multiplexed connection, plus dedicated connections for the
//! commands that must not hold it up.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::time::Instant;

use crate::cmd::{Cmd, ToArgs};
use crate::commands::Execute;
use crate::config::Config;
use crate::conn::managed::ManagedConnection;
use crate::conn::source::{AddressSource, Connector};
use crate::conn::{Connection, Reply, Shape};
use crate::dedicated::Dedicated;
use crate::error::{Error, Result};
use crate::error_codes::ErrorCode;
use crate::pipeline::Pipeline;
use crate::resp::Frame;
use crate::routing::{self, Route};
use crate::transaction::{run_watched, Transaction, Watched};
use crate::value::FromReply;

/// A Redis client: a cheap `Clone` handle to one multiplexed connection that reconnects.
///
/// Requests from every clone and every task share one connection and are pipelined
/// automatically. What happens to a request depends on the command:
///
/// - **Ordinary commands** go on the shared connection. When it breaks, the next request
///   reconnects (at most `1 +` [`max_retries`](Config::max_retries) attempts, with jittered
///   [`backoff`](Config::backoff)); requests that were certainly not sent are resent on the
///   new connection, requests whose outcome is unknown fail with an error that says so, and
///   when the server stays unreachable they fail with [`Error::NotSent`] and the last
///   connection error as its `source()`. Each request has one deadline
///   ([`Config::request_timeout`]) covering queueing, reconnects and resends.
/// - **Blocking commands** (`BLPOP`, `BRPOP`, `BLMOVE`, `BRPOPLPUSH`, `BLMPOP`, `BZPOPMIN`,
///   `BZPOPMAX`, `BZMPOP`, `XREAD`/`XREADGROUP` with `BLOCK`, `WAIT`, `WAITAOF`) run on one of
///   the client's **dedicated connections** ([`Config::dedicated_connections`], 8 by default,
///   opened on demand and kept for reuse), so they never hold up other callers. Their
///   deadline is the request timeout *plus* the command's own timeout (none for a timeout of
///   0). A caller that gives up (drops the future, or hits its deadline) while the command is
///   blocked costs that one dedicated connection, which is closed; the shared connection is
///   untouched. When every dedicated connection is busy, the call waits up to the
///   [connect timeout](Config::connect_timeout) for one, then fails with [`Error::Pool`].
///   `WAIT` is preceded on its connection by a replicated no-op (`SPUBLISH` to the
///   `__rediscover__:wait` shard channel), so that it counts every write the server had
///   executed, this client's included; where that is refused (ACL), `WAIT` runs on the shared
///   connection instead, holding it up meanwhile.
/// - **Per-connection commands** (`SELECT`, `WATCH`, `UNWATCH`, `MULTI`/`EXEC`/`DISCARD` on
///   their own, `RESET`, `AUTH`, `HELLO`, `QUIT`) are refused with [`Error::NotAllowed`]: on a
///   shared connection they would apply to every caller (and be lost at the next reconnect).
///   The database, credentials and protocol are set in the [`Config`]; transactions are
///   [`Transaction`](crate::Transaction) (sent as one unit) and [`Client::transaction`]
///   (`WATCH` on a dedicated connection). `SUBSCRIBE`, `MONITOR` and `CLIENT REPLY` are
///   refused on every multiplexed connection: use a [`Subscriber`](crate::Subscriber).
///
/// ```no_run
/// use rediscover::{Client, Commands};
/// # async fn demo() -> rediscover::Result<()> {
/// let client = Client::connect("redis://127.0.0.1:6379/0").await?;
/// client.set("counter", 1).await?;
/// let n: i64 = client.incr("counter").await?;
/// assert_eq!(n, 2);
/// let len: i64 = client.cmd("STRLEN").arg("counter").query().await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
    /// This handle's request deadline (the config's unless [`Client::with_timeout`] changed it).
    timeout: Option<Duration>,
}

struct Inner {
    managed: ManagedConnection,
    dedicated: Dedicated,
    /// Set once the server refused the `WAIT` marker: `WAIT` then runs on the shared
    /// connection.
    wait_marker_refused: AtomicBool,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("connection", &self.inner.managed)
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
        Client::with_source(config.clone(), config).await
    }

    /// Connects wherever `source` says, now and after every failure, with the policy
    /// (timeouts, backoff, retries, dedicated connections) of `config`. See [`AddressSource`].
    ///
    /// ```no_run
    /// use rediscover::{AddressSource, BoxFuture, Client, Config, Result};
    ///
    /// /// Reads the current primary's address from the environment at each connection.
    /// struct FromEnv;
    ///
    /// impl AddressSource for FromEnv {
    ///     fn next_config(&self) -> BoxFuture<'_, Result<Config>> {
    ///         Box::pin(async {
    ///             let url = std::env::var("REDIS_PRIMARY_URL")
    ///                 .map_err(|e| rediscover::Error::Config(e.to_string()))?;
    ///             url.parse()
    ///         })
    ///     }
    /// }
    ///
    /// # async fn demo() -> Result<()> {
    /// let client = Client::with_source(Config::default(), FromEnv).await?;
    /// # Ok(()) }
    /// ```
    pub async fn with_source(config: Config, source: impl AddressSource) -> Result<Client> {
        config.validate()?;
        let connector = Connector::new(Arc::new(source));
        let managed = ManagedConnection::connect(connector.clone(), config.clone()).await?;
        Ok(Client {
            timeout: config.get_request_timeout(),
            inner: Arc::new(Inner {
                managed,
                dedicated: Dedicated::new(connector, config),
                wait_marker_refused: AtomicBool::new(false),
            }),
        })
    }

    /// A client whose shared connection is opened by its first request (and whose failures
    /// then go through the usual reconnect rounds): for servers learnt about rather than
    /// configured, such as the nodes of a cluster.
    pub(crate) fn lazy(config: Config, source: Arc<dyn AddressSource>) -> Client {
        let connector = Connector::new(source);
        let managed = ManagedConnection::lazy(connector.clone(), config.clone());
        Client {
            timeout: config.get_request_timeout(),
            inner: Arc::new(Inner {
                managed,
                dedicated: Dedicated::new(connector, config),
                wait_marker_refused: AtomicBool::new(false),
            }),
        }
    }

    /// A handle to the same client whose requests have another deadline (`None`: none).
    ///
    /// ```no_run
    /// # use std::time::Duration;
    /// # use rediscover::{Client, Commands};
    /// # async fn demo(client: Client) -> rediscover::Result<()> {
    /// let quick = client.with_timeout(Some(Duration::from_millis(50)));
    /// let cached: Option<String> = quick.get("cache:home").await?;
    /// # Ok(()) }
    /// ```
    pub fn with_timeout(&self, timeout: Option<Duration>) -> Client {
        Client {
            inner: self.inner.clone(),
            timeout,
        }
    }

    /// The configuration this client was built with (its policy; with
    /// [`Client::with_source`], connections use the source's configurations).
    pub fn config(&self) -> &Config {
        self.inner.managed.policy()
    }

    /// Opens a [`Subscriber`](crate::Subscriber) (its own connection), connecting where this
    /// client does.
    pub async fn subscriber(&self) -> Result<crate::Subscriber> {
        crate::Subscriber::with_connector(
            self.inner.managed.connector().clone(),
            self.config().clone(),
        )
        .await
    }

    /// How many times the client has reconnected its shared connection.
    pub fn reconnects(&self) -> u64 {
        self.inner.managed.current().1
    }

    /// The shared connection in use right now (it may be closed).
    pub fn connection(&self) -> Option<Connection> {
        self.inner.managed.current().0.map(|c| (*c).clone())
    }

    /// Dedicated connections open and idle, ready for the next blocking command.
    pub fn idle_dedicated_connections(&self) -> usize {
        self.inner.dedicated.idle()
    }

    /// An optimistic transaction: `WATCH`es `keys` on a dedicated connection, runs `body`
    /// (which reads through the [`Watched`] connection and returns the [`Transaction`] to run,
    /// or `None` to write nothing), then runs that transaction with `MULTI`/`EXEC`. If a
    /// watched key changed in between, `EXEC` does nothing and it all starts over, at most
    /// `1 +` [`Config::transaction_retries`] times; then it fails with [`Error::Conflict`].
    ///
    /// Returns the transaction's results converted to `T` (as [`Transaction::query`] does:
    /// `Vec<Result<Frame>>` keeps each command's error in its place), or `None` when the body
    /// chose not to write. An error from the body is returned as is, after `UNWATCH`. Each
    /// command is bounded by this handle's request timeout.
    ///
    /// ```no_run
    /// use rediscover::{Client, Commands, Transaction};
    /// # async fn demo(client: Client) -> rediscover::Result<()> {
    /// // Move 10 from one account to another, only if the first can afford it.
    /// let moved: Option<(i64, i64)> = client
    ///     .transaction(["acct:a", "acct:b"], |tx| async move {
    ///         let balance: i64 = tx.get::<Option<i64>>("acct:a").await?.unwrap_or(0);
    ///         if balance < 10 {
    ///             return Ok(None);
    ///         }
    ///         let mut t = Transaction::new();
    ///         t.cmd("DECRBY").arg("acct:a").arg(10);
    ///         t.cmd("INCRBY").arg("acct:b").arg(10);
    ///         Ok(Some(t))
    ///     })
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub async fn transaction<T, F, Fut>(&self, keys: impl ToArgs, body: F) -> Result<Option<T>>
    where
        T: FromReply,
        F: FnMut(Watched) -> Fut,
        Fut: std::future::Future<Output = Result<Option<Transaction>>>,
    {
        let lease = self.inner.dedicated.lease().await?;
        let conn = lease.conn().with_timeout(self.timeout);
        let retries = self.config().get_transaction_retries();
        let (outcome, clean) = run_watched(&conn, keys, retries, body).await;
        if clean {
            lease.done();
        }
        outcome
    }

    fn deadline(&self) -> Option<Instant> {
        self.timeout.map(|t| Instant::now() + t)
    }

    /// Sends a command already routed, keeping the route so that a caller that knows the
    /// command cannot have run (a Sentinel client after `READONLY`) can send it again.
    pub(crate) async fn send_routed(&self, route: &Route) -> Result<Frame> {
        match route {
            Route::Shared(payload) => one(self
                .inner
                .managed
                .send(payload.clone(), Shape::One, self.deadline())
                .await?),
            Route::Dedicated(b) => {
                Box::pin(self.send_blocking(b.cmd.clone(), b.wait, b.blocks_for)).await
            }
        }
    }

    /// Stops using every connection `stale` picks (they point at a server that is no longer
    /// the one wanted): the shared connection is drained (requests already on it finish, new
    /// ones open a new connection) and closed; idle dedicated connections are closed, lent
    /// ones when they come back. Returns how many connections were retired.
    pub(crate) fn retire(&self, stale: impl Fn(&Connection) -> bool, grace: Duration) -> usize {
        let shared = self.inner.managed.retire_if(&stale, grace);
        usize::from(shared) + self.inner.dedicated.retire_idle(&stale)
    }

    /// The deadline of a command that may block for `blocks_for` (see [`routing::Route`]).
    fn blocking_deadline(&self, blocks_for: Option<Option<Duration>>) -> Option<Instant> {
        match (self.timeout, blocks_for) {
            (None, _) | (_, Some(None)) => None,
            (Some(t), Some(Some(b))) => Some(Instant::now() + t.saturating_add(b)),
            (Some(t), None) => Some(Instant::now() + t),
        }
    }

    /// Runs `payload` on a dedicated connection: a lent connection goes back after a complete
    /// answer, and is closed when the caller gives up or the connection fails.
    async fn on_dedicated(
        &self,
        payload: Bytes,
        shape: Shape,
        deadline: Option<Instant>,
    ) -> Result<Reply> {
        let handed_over = AtomicBool::new(false);
        let attempt = async {
            let mut resent = 0;
            loop {
                let lease = self.inner.dedicated.lease().await?;
                handed_over.store(true, Ordering::Relaxed);
                match lease.conn().send_until(payload.clone(), shape, None).await {
                    Ok(reply) => {
                        lease.done();
                        return Ok(reply);
                    }
                    Err(e @ Error::NotSent { .. }) if resent < self.config().get_max_retries() => {
                        resent += 1;
                        handed_over.store(false, Ordering::Relaxed);
                        tracing::debug!(target: "rediscover::client", error = %e, "dedicated connection gone; retrying on another");
                    }
                    Err(e) => return Err(e),
                }
            }
        };
        match deadline {
            Some(d) => tokio::time::timeout_at(d, attempt)
                .await
                .unwrap_or(Err(Error::Timeout {
                    sent: handed_over.load(Ordering::Relaxed),
                })),
            None => attempt.await,
        }
    }

    /// A blocking command: on a dedicated connection, `WAIT` behind its marker.
    async fn send_blocking(
        &self,
        cmd: Cmd,
        wait: bool,
        blocks_for: Option<Option<Duration>>,
    ) -> Result<Frame> {
        let deadline = self.blocking_deadline(blocks_for);
        if !wait {
            let payload = cmd.into_bytes();
            return one(self.on_dedicated(payload, Shape::One, deadline).await?);
        }
        if !self.inner.wait_marker_refused.load(Ordering::Relaxed) {
            let mut payload = BytesMut::new();
            routing::wait_marker().encode(&mut payload);
            cmd.encode(&mut payload);
            let replies = many(
                self.on_dedicated(payload.freeze(), Shape::Many(2), deadline)
                    .await?,
            )?;
            match <(Result<Frame>, Frame)>::from_reply(Frame::Array(replies))? {
                (Ok(_), wait_reply) => return Frame::from_reply(wait_reply),
                (Err(e), _) => self.marker_refused(&e),
            }
        }
        // WAIT must count this client's writes: on the shared connection it does, at the price
        // of holding that connection up while it waits.
        one(self
            .inner
            .managed
            .send(cmd.into_bytes(), Shape::One, deadline)
            .await?)
    }

    fn marker_refused(&self, e: &Error) {
        tracing::debug!(target: "rediscover::client", error = %e, "WAIT marker refused; WAIT runs on the shared connection");
        // An ACL refusal or a server without SPUBLISH will not change; anything else might.
        if matches!(e.code(), Some(ErrorCode::NoPerm | ErrorCode::Err)) {
            self.inner
                .wait_marker_refused
                .store(true, Ordering::Relaxed);
        }
    }
}

fn one(reply: Reply) -> Result<Frame> {
    match reply {
        Reply::One(frame) => Frame::from_reply(frame),
        Reply::Many(_) => Err(Error::response("expected one reply")),
    }
}

fn many(reply: Reply) -> Result<Vec<Frame>> {
    match reply {
        Reply::Many(frames) => Ok(frames),
        Reply::One(_) => Err(Error::response("expected a batch of replies")),
    }
}

impl Execute for Client {
    fn send_command(&self, cmd: Cmd) -> impl std::future::Future<Output = Result<Frame>> + Send {
        let route = routing::route(cmd);
        async move {
            match route? {
                Route::Shared(payload) => one(self
                    .inner
                    .managed
                    .send(payload, Shape::One, self.deadline())
                    .await?),
                // Boxed: the rare path should not grow every request's future.
                Route::Dedicated(b) => {
                    Box::pin(self.send_blocking(b.cmd, b.wait, b.blocks_for)).await
                }
            }
        }
    }

    fn send_pipeline(
        &self,
        pipeline: &Pipeline,
    ) -> impl std::future::Future<Output = Result<Vec<Frame>>> + Send {
        let n = pipeline.len();
        let planned = routing::plan_pipeline(pipeline).map(|plan| (plan, pipeline.payload()));
        async move {
            let (plan, payload) = planned?;
            if n == 0 {
                return Ok(Vec::new());
            }
            let marker_refused = self.inner.wait_marker_refused.load(Ordering::Relaxed);
            if !plan.dedicated || (plan.wait && marker_refused) {
                // A WAIT without its marker must run where this client's writes went.
                let deadline = match plan.dedicated {
                    true => self.blocking_deadline(plan.blocks_for),
                    false => self.deadline(),
                };
                let reply = self
                    .inner
                    .managed
                    .send(payload, Shape::Many(n), deadline)
                    .await?;
                return many(reply);
            }
            let deadline = self.blocking_deadline(plan.blocks_for);
            if !plan.wait {
                return many(Box::pin(self.on_dedicated(payload, Shape::Many(n), deadline)).await?);
            }
            let mut marked = BytesMut::with_capacity(payload.len() + 64);
            routing::wait_marker().encode(&mut marked);
            marked.extend_from_slice(&payload);
            let shape = Shape::Many(n + 1);
            let mut replies =
                many(Box::pin(self.on_dedicated(marked.freeze(), shape, deadline)).await?)?;
            if replies.is_empty() {
                return Err(Error::response("expected a batch of replies"));
            }
            if let Err(e) = Frame::from_reply(replies.remove(0)) {
                // This pipeline's WAIT counted the pipeline's own writes only; later ones run
                // on the shared connection.
                self.marker_refused(&e);
            }
            Ok(replies)
        }
    }
}
