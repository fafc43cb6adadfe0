//! Pub/sub: a [`Subscriber`] owns its own connection, and resubscribes after reconnecting.

use std::collections::{BTreeSet, VecDeque};
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

use crate::cmd::{Cmd, ToArgs};
use crate::config::Config;
use crate::conn::handshake;
use crate::conn::source::{backoff, Connector};
use crate::conn::stream::Stream;
use crate::error::{Error, Result, ServerError};
use crate::resp::Frame;

/// A message received on a subscribed channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The channel it was published to.
    pub channel: Bytes,
    /// The pattern that matched, for `PSUBSCRIBE` subscriptions.
    pub pattern: Option<Bytes>,
    /// The message body.
    pub payload: Bytes,
}

/// What one frame on a subscribed connection means.
enum Event {
    Message(Message),
    /// A (p)subscribe or (p)unsubscribe confirmation.
    Ack,
    /// The answer to `PING` (`pong` array in RESP2 subscriber mode, `+PONG` otherwise).
    Pong,
    Error(Error),
    Other,
}

/// A pub/sub subscription on a dedicated connection.
///
/// `SUBSCRIBE`/`PSUBSCRIBE` return once the server has confirmed every channel; messages
/// arriving meanwhile are kept. If the connection breaks, [`Subscriber::next_message`]
/// reconnects (with backoff) and subscribes again to everything: messages published while
/// disconnected are lost, as with any Redis pub/sub.
///
/// ```no_run
/// use rediscover::Subscriber;
/// # async fn demo() -> rediscover::Result<()> {
/// let mut sub = Subscriber::connect("redis://127.0.0.1:6379").await?;
/// sub.subscribe(["news", "alerts"]).await?;
/// sub.psubscribe("user:*").await?;
/// let msg = sub.next_message().await?;
/// println!("{:?} on {:?}", msg.payload, msg.channel);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Subscriber {
    connector: Connector,
    /// The reconnect policy (backoff, connect timeout).
    config: Config,
    stream: Option<Stream>,
    rbuf: BytesMut,
    channels: BTreeSet<Bytes>,
    patterns: BTreeSet<Bytes>,
    queue: VecDeque<Message>,
    failures: u32,
    reconnects: u64,
}

impl Subscriber {
    /// Connects to a `redis://` URL.
    pub async fn connect(url: &str) -> Result<Subscriber> {
        Subscriber::with_config(url.parse()?).await
    }

    /// Connects with a [`Config`].
    pub async fn with_config(config: Config) -> Result<Subscriber> {
        Subscriber::with_source(config.clone(), config).await
    }

    /// Connects wherever `source` says, now and after every failure, with the reconnect
    /// policy (backoff) of `config`. See [`AddressSource`](crate::AddressSource).
    pub async fn with_source(
        config: Config,
        source: impl crate::AddressSource,
    ) -> Result<Subscriber> {
        config.validate()?;
        Subscriber::with_connector(Connector::new(std::sync::Arc::new(source)), config).await
    }

    pub(crate) async fn with_connector(connector: Connector, config: Config) -> Result<Subscriber> {
        let mut sub = Subscriber {
            connector,
            config,
            stream: None,
            rbuf: BytesMut::with_capacity(16 * 1024),
            channels: BTreeSet::new(),
            patterns: BTreeSet::new(),
            queue: VecDeque::new(),
            failures: 0,
            reconnects: 0,
        };
        sub.open().await?;
        Ok(sub)
    }

    /// How many times the subscriber has reconnected.
    pub fn reconnects(&self) -> u64 {
        self.reconnects
    }

    /// Channels currently subscribed (or to be resubscribed after a reconnect).
    pub fn channels(&self) -> impl Iterator<Item = &Bytes> {
        self.channels.iter()
    }

    /// Patterns currently subscribed.
    pub fn patterns(&self) -> impl Iterator<Item = &Bytes> {
        self.patterns.iter()
    }

    /// `SUBSCRIBE channel [channel ...]`: returns once every channel is confirmed.
    pub async fn subscribe<C: ToArgs>(&mut self, channels: C) -> Result<()> {
        let cmd = Cmd::new("SUBSCRIBE").arg(channels);
        self.change(cmd, true, false).await
    }

    /// `PSUBSCRIBE pattern [pattern ...]`.
    pub async fn psubscribe<P: ToArgs>(&mut self, patterns: P) -> Result<()> {
        let cmd = Cmd::new("PSUBSCRIBE").arg(patterns);
        self.change(cmd, true, true).await
    }

    /// `UNSUBSCRIBE channel [channel ...]`.
    pub async fn unsubscribe<C: ToArgs>(&mut self, channels: C) -> Result<()> {
        let cmd = Cmd::new("UNSUBSCRIBE").arg(channels);
        self.change(cmd, false, false).await
    }

    /// `PUNSUBSCRIBE pattern [pattern ...]`.
    pub async fn punsubscribe<P: ToArgs>(&mut self, patterns: P) -> Result<()> {
        let cmd = Cmd::new("PUNSUBSCRIBE").arg(patterns);
        self.change(cmd, false, true).await
    }

    /// The next message, reconnecting and resubscribing if the connection broke. An error
    /// means a reconnect attempt failed; calling again tries again after a backoff delay.
    pub async fn next_message(&mut self) -> Result<Message> {
        loop {
            if let Some(msg) = self.queue.pop_front() {
                return Ok(msg);
            }
            if self.stream.is_none() {
                self.reconnect().await?;
                continue;
            }
            let frame = match self.read().await {
                Ok(frame) => frame,
                Err(e) => {
                    tracing::debug!(target: "rediscover::pubsub", error = %e, "subscriber connection lost");
                    self.stream = None;
                    continue;
                }
            };
            match classify(frame) {
                Event::Message(m) => return Ok(m),
                Event::Error(e) => return Err(e),
                Event::Ack | Event::Pong | Event::Other => {}
            }
        }
    }

    /// Turns the subscriber into a [`Stream`](futures_core::Stream) of messages, driven by a
    /// background task that ends when the stream is dropped.
    pub fn into_stream(mut self) -> MessageStream {
        let (tx, rx) = mpsc::channel(1024);
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    msg = self.next_message() => {
                        if tx.send(msg).await.is_err() {
                            return;
                        }
                    }
                    _ = tx.closed() => return,
                }
            }
        });
        MessageStream { rx }
    }

    /// Sends a (un)subscribe command and waits for one confirmation per argument.
    async fn change(&mut self, cmd: Cmd, subscribe: bool, pattern: bool) -> Result<()> {
        let names = argument_names(&cmd);
        if names.is_empty() {
            return Ok(());
        }
        let set = if pattern {
            &mut self.patterns
        } else {
            &mut self.channels
        };
        for name in &names {
            if subscribe {
                set.insert(name.clone());
            } else {
                set.remove(name);
            }
        }
        if self.stream.is_none() {
            // The reconnect subscribes to the updated sets.
            return self.reconnect().await;
        }
        match self.send_and_confirm(&cmd, names.len()).await {
            Err(e) if e.is_connection_broken() => {
                self.stream = None;
                self.reconnect().await
            }
            other => other,
        }
    }

    /// Checks that the connection is alive (`PING`, answered even in subscriber mode). A
    /// subscriber that receives nothing for a long time cannot otherwise tell a quiet channel
    /// from a dead connection; call this periodically. On failure the next
    /// [`next_message`](Subscriber::next_message) reconnects.
    pub async fn ping(&mut self) -> Result<()> {
        if self.stream.is_none() {
            return self.reconnect().await;
        }
        let timeout = self.config.get_connect_timeout();
        let ping = Cmd::new("PING");
        match tokio::time::timeout(timeout, self.send_and_await(&ping, 0, true)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => {
                if e.is_connection_broken() {
                    self.stream = None;
                }
                Err(e)
            }
            Err(_) => {
                self.stream = None;
                Err(Error::Timeout { sent: true })
            }
        }
    }

    async fn send_and_confirm(&mut self, cmd: &Cmd, acks: usize) -> Result<()> {
        self.send_and_await(cmd, acks, false).await
    }

    /// Sends `cmd`, then reads until `acks` confirmations (and a pong, if `pong`) arrived,
    /// keeping messages that arrive meanwhile.
    async fn send_and_await(&mut self, cmd: &Cmd, acks: usize, pong: bool) -> Result<()> {
        let stream = self.stream.as_mut().ok_or(Error::Closed)?;
        stream.write_all(&cmd.to_bytes()).await.map_err(Error::io)?;
        let mut remaining = acks;
        let mut pong_due = pong;
        while remaining > 0 || pong_due {
            match classify(self.read().await?) {
                Event::Ack => remaining = remaining.saturating_sub(1),
                Event::Pong => pong_due = false,
                Event::Message(m) => self.queue.push_back(m),
                Event::Error(e) => return Err(e),
                Event::Other => {}
            }
        }
        Ok(())
    }

    async fn read(&mut self) -> Result<Frame> {
        let stream = self.stream.as_mut().ok_or(Error::Closed)?;
        handshake::read_frame(stream, &mut self.rbuf).await
    }

    async fn open(&mut self) -> Result<()> {
        let (stream, rbuf, _) = self.connector.open_stream().await?;
        self.stream = Some(stream);
        self.rbuf = rbuf;
        Ok(())
    }

    /// Reconnects (after a backoff delay if the last attempt failed) and resubscribes.
    async fn reconnect(&mut self) -> Result<()> {
        if self.failures > 0 {
            // The same jittered backoff as the client's reconnects.
            tokio::time::sleep(backoff(&self.config, self.failures)).await;
        }
        let attempt = async {
            self.open().await?;
            let channels: Vec<Bytes> = self.channels.iter().cloned().collect();
            let patterns: Vec<Bytes> = self.patterns.iter().cloned().collect();
            if !channels.is_empty() {
                self.send_and_confirm(&Cmd::new("SUBSCRIBE").arg(&channels), channels.len())
                    .await?;
            }
            if !patterns.is_empty() {
                self.send_and_confirm(&Cmd::new("PSUBSCRIBE").arg(&patterns), patterns.len())
                    .await?;
            }
            Ok::<_, Error>(())
        };
        match attempt.await {
            Ok(()) => {
                self.failures = 0;
                self.reconnects += 1;
                tracing::debug!(target: "rediscover::pubsub", reconnects = self.reconnects, "resubscribed");
                Ok(())
            }
            Err(e) => {
                self.failures = self.failures.saturating_add(1);
                self.stream = None;
                Err(e)
            }
        }
    }
}

/// The arguments after the command name.
fn argument_names(cmd: &Cmd) -> Vec<Bytes> {
    cmd.args().skip(1).map(Bytes::copy_from_slice).collect()
}

fn classify(frame: Frame) -> Event {
    let items = match frame {
        Frame::Push(items) | Frame::Array(items) => items,
        Frame::Simple(s) if s.eq_ignore_ascii_case(b"PONG") => return Event::Pong,
        Frame::Error(line) | Frame::BulkError(line) => {
            return Event::Error(Error::Server(ServerError::new(line)))
        }
        _ => return Event::Other,
    };
    let kind = match items.first().and_then(Frame::as_bytes) {
        Some(k) => k.to_ascii_lowercase(),
        None => return Event::Other,
    };
    let mut it = items.into_iter().skip(1);
    let mut next_bytes = || it.next().and_then(|f| f.as_bytes().cloned());
    match &kind[..] {
        b"message" | b"smessage" => match (next_bytes(), next_bytes()) {
            (Some(channel), Some(payload)) => Event::Message(Message {
                channel,
                pattern: None,
                payload,
            }),
            _ => Event::Other,
        },
        b"pmessage" => match (next_bytes(), next_bytes(), next_bytes()) {
            (Some(pattern), Some(channel), Some(payload)) => Event::Message(Message {
                channel,
                pattern: Some(pattern),
                payload,
            }),
            _ => Event::Other,
        },
        b"subscribe" | b"psubscribe" | b"unsubscribe" | b"punsubscribe" | b"ssubscribe"
        | b"sunsubscribe" => Event::Ack,
        b"pong" => Event::Pong,
        _ => Event::Other,
    }
}

/// Messages of a [`Subscriber`], as a [`Stream`](futures_core::Stream).
#[derive(Debug)]
pub struct MessageStream {
    rx: mpsc::Receiver<Result<Message>>,
}

impl MessageStream {
    /// The next message; `None` only if the background task ended.
    pub async fn recv(&mut self) -> Option<Result<Message>> {
        self.rx.recv().await
    }
}

impl futures_core::Stream for MessageStream {
    type Item = Result<Message>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.rx.poll_recv(cx)
    }
}
