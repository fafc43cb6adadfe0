//! One connection: a cheap handle ([`Connection`]) and the driver task that owns the socket.

mod driver;
pub(crate) mod handshake;
pub(crate) mod managed;
pub(crate) mod source;
pub(crate) mod stream;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::cmd::Cmd;
use crate::commands::Execute;
use crate::config::Config;
use crate::error::Error;
use crate::pipeline::Pipeline;
use crate::resp::Frame;
use crate::value::FromReply;

pub(crate) use driver::{ReplyTx, Request};

/// How many replies a request expects.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Shape {
    /// One command.
    One,
    /// A batch of this many commands, answered together.
    Many(usize),
}

/// The replies to a request of a given [`Shape`].
#[derive(Debug)]
pub(crate) enum Reply {
    One(Frame),
    Many(Vec<Frame>),
}

/// State the handles and the driver both see.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    /// Requests handed to the queue whose replies have not been delivered or dropped yet.
    pub(crate) in_flight: AtomicUsize,
    /// Why the connection stopped, once it has.
    broken: Mutex<Option<Error>>,
    resp3: AtomicBool,
    /// Set by [`Connection::close`].
    closing: AtomicBool,
    /// Aborts the driver task, for [`Connection::close`]. An abort costs the driver nothing
    /// until it happens, where a close signal would be polled on every turn of its loop; the
    /// aborted driver's `Drop` fails what it held.
    task: Mutex<Option<tokio::task::AbortHandle>>,
}

impl Shared {
    pub(crate) fn set_broken(&self, e: Error) {
        let mut broken = self.broken.lock().unwrap_or_else(|p| p.into_inner());
        broken.get_or_insert(e);
    }

    fn broken(&self) -> Option<Error> {
        self.broken
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// A handle to one server connection.
///
/// Clones share the connection: requests from every clone are queued to one driver task,
/// written together and answered in order, so many tasks can use one connection at full speed.
/// When the connection fails it stays failed (every request gets an error); use
/// [`Client`](crate::Client) for a handle that reconnects.
///
/// Per-request connection state (`WATCH`, `SELECT`, blocking commands) is shared by all clones:
/// use a dedicated connection, for example from a [`Pool`](crate::Pool), for such work.
///
/// ```no_run
/// use rediscover::{Commands, Connection};
/// # async fn demo() -> rediscover::Result<()> {
/// let conn = Connection::connect(&"redis://127.0.0.1:6379".parse()?).await?;
/// conn.set("greeting", "hello").await?;
/// let greeting: Option<String> = conn.get("greeting").await?;
/// assert_eq!(greeting.as_deref(), Some("hello"));
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Connection {
    tx: mpsc::Sender<Request>,
    shared: Arc<Shared>,
    pushes: Arc<Mutex<Option<mpsc::Receiver<Frame>>>>,
    timeout: Option<Duration>,
    peer: SocketAddr,
    /// What it was opened with (to restore its state, for a pool).
    config: Arc<Config>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("peer", &self.peer)
            .field("closed", &self.is_closed())
            .field("in_flight", &self.in_flight())
            .field("resp3", &self.is_resp3())
            .finish()
    }
}

impl Connection {
    /// Connects, runs the handshake and spawns the driver task.
    ///
    /// Fails with the server's error when authentication or `SELECT` fail, and with
    /// [`Error::NotSent`] when the server cannot be reached.
    pub async fn connect(config: &Config) -> Result<Connection, Error> {
        let started = Instant::now();
        let opened = tokio::time::timeout(config.get_connect_timeout(), async {
            let mut stream = stream::open(config).await?;
            let mut rbuf = BytesMut::with_capacity(16 * 1024);
            let resp3 = handshake::handshake(&mut stream, &mut rbuf, config).await?;
            Ok::<_, Error>((stream, rbuf, resp3))
        })
        .await
        .map_err(|_| Error::not_sent(Error::Timeout { sent: false }))?;
        let (stream, rbuf, resp3) = opened?;
        let peer = stream
            .peer_addr()
            .map_err(|e| Error::not_sent(Error::io(e)))?;
        let (tx, rx) = mpsc::channel(config.get_queue_capacity());
        let (push_tx, push_rx) = mpsc::channel(1024);
        let shared = Arc::new(Shared::default());
        shared.resp3.store(resp3, Ordering::Relaxed);
        let driver_shared = shared.clone();
        let task = match stream {
            // Plain TCP splits without a lock.
            stream::Stream::Tcp(tcp) => {
                let (reader, writer) = tcp.into_split();
                tokio::spawn(driver::run(
                    reader,
                    writer,
                    rbuf,
                    rx,
                    driver_shared,
                    push_tx,
                ))
            }
            #[cfg(feature = "tls")]
            tls => {
                let (reader, writer) = tokio::io::split(tls);
                tokio::spawn(driver::run(
                    reader,
                    writer,
                    rbuf,
                    rx,
                    driver_shared,
                    push_tx,
                ))
            }
        };
        *shared.task.lock().unwrap_or_else(|p| p.into_inner()) = Some(task.abort_handle());
        tracing::debug!(
            target: "rediscover::conn",
            addr = %config.addr(),
            %peer,
            resp3,
            elapsed_us = started.elapsed().as_micros() as u64,
            "connected"
        );
        Ok(Connection {
            tx,
            shared,
            pushes: Arc::new(Mutex::new(Some(push_rx))),
            timeout: config.get_request_timeout(),
            peer,
            config: Arc::new(config.clone()),
        })
    }

    /// The configuration this connection was opened with.
    pub(crate) fn config(&self) -> &Config {
        &self.config
    }

    /// The address of the server this connection is connected to (the resolved IP and port).
    pub fn peer_addr(&self) -> SocketAddr {
        self.peer
    }

    /// Closes the connection, for every clone of this handle.
    ///
    /// Requests not yet written fail with [`Error::NotSent`] (safe to retry elsewhere);
    /// requests already written fail with [`Error::Closed`], since they may have run. The
    /// socket is closed without waiting for their replies. Closing twice does nothing.
    pub fn close(&self) {
        if !self.shared.closing.swap(true, Ordering::AcqRel) {
            let task = self
                .shared
                .task
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take();
            if let Some(task) = task {
                task.abort();
            }
        }
    }

    /// Waits until nothing is in flight (or `grace` has passed), then closes the connection:
    /// for a connection nobody sends new requests to any more.
    pub(crate) async fn drain(&self, grace: Duration) {
        let deadline = Instant::now() + grace;
        while self.in_flight() > 0 && !self.is_closed() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        self.close();
    }

    /// A handle to the same connection whose requests have another deadline (`None`: none),
    /// for example for a blocking command.
    pub fn with_timeout(&self, timeout: Option<Duration>) -> Connection {
        Connection {
            timeout,
            ..self.clone()
        }
    }

    /// Whether the connection has failed or been closed (requests will fail with
    /// [`Error::NotSent`]).
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed() || self.shared.closing.load(Ordering::Acquire)
    }

    /// Requests queued or awaiting replies, including ones whose callers gave up.
    pub fn in_flight(&self) -> usize {
        self.shared.in_flight.load(Ordering::Relaxed)
    }

    /// Whether `HELLO 3` succeeded, so replies use RESP3 types.
    pub fn is_resp3(&self) -> bool {
        self.shared.resp3.load(Ordering::Relaxed)
    }

    /// Takes the receiver of RESP3 push frames (client-side caching invalidations and the
    /// like). Only the first call gets it; pushes are dropped while nobody holds it or when
    /// 1024 are waiting.
    pub fn take_pushes(&self) -> Option<mpsc::Receiver<Frame>> {
        self.pushes.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    pub(crate) async fn request_until(
        &self,
        payload: Bytes,
        deadline: Option<Instant>,
    ) -> Result<Frame, Error> {
        match self.send_until(payload, Shape::One, deadline).await? {
            Reply::One(frame) => Ok(frame),
            Reply::Many(_) => Err(Error::response("expected one reply")),
        }
    }

    /// Sends `payload` (one command, or a batch written as one unit) and waits for its replies.
    pub(crate) async fn send_until(
        &self,
        payload: Bytes,
        shape: Shape,
        deadline: Option<Instant>,
    ) -> Result<Reply, Error> {
        match shape {
            Shape::One => {
                let (tx, rx) = oneshot::channel();
                self.call(payload, ReplyTx::One(tx), rx, deadline)
                    .await
                    .map(Reply::One)
            }
            Shape::Many(want) => {
                let (tx, rx) = oneshot::channel();
                let reply = ReplyTx::Many {
                    want,
                    got: Vec::with_capacity(want),
                    tx,
                };
                self.call(payload, reply, rx, deadline)
                    .await
                    .map(Reply::Many)
            }
        }
    }

    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.timeout.map(|t| Instant::now() + t)
    }

    async fn call<T>(
        &self,
        payload: Bytes,
        reply: ReplyTx,
        rx: oneshot::Receiver<Result<T, Error>>,
        deadline: Option<Instant>,
    ) -> Result<T, Error> {
        // Wait for room in the queue first: dropping this wait (a caller giving up) leaves
        // nothing behind, and once a permit is held the request is queued synchronously.
        let permit = match deadline {
            Some(d) => match tokio::time::timeout_at(d, self.tx.reserve()).await {
                Ok(p) => p,
                Err(_) => return Err(Error::Timeout { sent: false }),
            },
            None => self.tx.reserve().await,
        };
        let permit = match permit {
            Ok(permit) if !self.shared.closing.load(Ordering::Acquire) => permit,
            _ => {
                return Err(Error::not_sent(
                    self.shared.broken().unwrap_or(Error::Closed),
                ))
            }
        };
        self.shared.in_flight.fetch_add(1, Ordering::Relaxed);
        permit.send(Request { payload, reply });
        let answer = match deadline {
            // On timeout the receiver is dropped: the driver skips the request if it has not
            // been written yet, or reads and discards its reply.
            Some(d) => tokio::time::timeout_at(d, rx)
                .await
                .map_err(|_| Error::Timeout { sent: true })?,
            None => rx.await,
        };
        answer.unwrap_or_else(|_| Err(self.shared.broken().unwrap_or(Error::Closed)))
    }
}

/// A `Connection` handle is not multiplexed between unrelated callers the way a
/// [`Client`](crate::Client) is: whoever holds it owns its state, so `SELECT`, `WATCH` and
/// blocking commands are allowed (under its own deadline, [`Connection::with_timeout`]). Only
/// commands that would desync it (subscriber mode, `MONITOR`, `CLIENT REPLY`) are refused.
impl Execute for Connection {
    fn send_command(
        &self,
        cmd: Cmd,
    ) -> impl std::future::Future<Output = Result<Frame, Error>> + Send {
        let payload = crate::routing::dedicated(cmd);
        let deadline = self.deadline();
        async move { Frame::from_reply(self.request_until(payload?, deadline).await?) }
    }

    fn send_pipeline(
        &self,
        pipeline: &Pipeline,
    ) -> impl std::future::Future<Output = Result<Vec<Frame>, Error>> + Send {
        let payload = pipeline.payload();
        let n = pipeline.len();
        let deadline = self.deadline();
        let checked = crate::routing::check_reply_order(pipeline);
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
