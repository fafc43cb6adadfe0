//! The task that owns one socket.
//!
//! It takes requests from a bounded queue, writes everything queued in one buffer (automatic
//! pipelining), reads replies and hands each to the oldest request still waiting (FIFO). Reading
//! and writing are polled in the same `select!`, so a large write never stops the task from
//! draining replies (the server could otherwise block writing to us while we block writing to it).
//!
//! A caller that gives up simply drops its reply receiver: a request not yet written is skipped,
//! and the reply to one already written is read and dropped, so the stream never desyncs.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};

use super::Shared;
use crate::error::Error;
use crate::resp::{Frame, FrameDecoder, Limits};

/// Stop draining the queue into one write once this many bytes are buffered.
const MAX_BATCH_BYTES: usize = 512 * 1024;
const READ_CHUNK: usize = 64 * 1024;

/// Where the reply (or replies) to a request go.
pub(crate) enum ReplyTx {
    /// One command, one reply.
    One(oneshot::Sender<Result<Frame, Error>>),
    /// A batch written as one unit: `want` replies, delivered together.
    Many {
        want: usize,
        got: Vec<Frame>,
        tx: oneshot::Sender<Result<Vec<Frame>, Error>>,
    },
}

impl ReplyTx {
    fn is_closed(&self) -> bool {
        match self {
            ReplyTx::One(tx) => tx.is_closed(),
            ReplyTx::Many { tx, .. } => tx.is_closed(),
        }
    }

    fn fail(self, e: Error) {
        match self {
            ReplyTx::One(tx) => drop(tx.send(Err(e))),
            ReplyTx::Many { tx, .. } => drop(tx.send(Err(e))),
        }
    }

    fn expected(&self) -> usize {
        match self {
            ReplyTx::One(_) => 1,
            ReplyTx::Many { want, .. } => *want,
        }
    }
}

/// One request: its encoded bytes and where its replies go.
pub(crate) struct Request {
    pub(crate) payload: Bytes,
    pub(crate) reply: ReplyTx,
}

/// A request whose bytes are in the write buffer or on the wire.
struct InFlight {
    /// Stream offset of the request's first byte.
    start: u64,
    /// Stream offset just past the request's last byte: written in full once `written >= end`.
    end: u64,
    reply: ReplyTx,
}

struct Driver<R, W> {
    reader: R,
    writer: W,
    rx: mpsc::Receiver<Request>,
    shared: Arc<Shared>,
    pushes: mpsc::Sender<Frame>,
    rbuf: BytesMut,
    wbuf: BytesMut,
    /// Bytes handed to the socket so far.
    written: u64,
    /// Bytes appended to `wbuf` so far.
    queued: u64,
    pending: VecDeque<InFlight>,
    /// Stop taking requests while this many await replies, so a stalled server pushes back on
    /// callers (through the bounded queue) instead of growing memory.
    max_pending: usize,
    /// Keeps its progress through a reply that arrives in many reads.
    decoder: FrameDecoder,
}

/// Runs the connection until every handle is dropped and every reply has arrived, or the
/// connection fails.
pub(crate) async fn run<R, W>(
    reader: R,
    writer: W,
    leftover: BytesMut,
    rx: mpsc::Receiver<Request>,
    shared: Arc<Shared>,
    pushes: mpsc::Sender<Frame>,
) where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut rbuf = leftover;
    rbuf.reserve(READ_CHUNK);
    let max_pending = rx.max_capacity();
    let mut driver = Driver {
        reader,
        writer,
        rx,
        shared,
        pushes,
        rbuf,
        wbuf: BytesMut::with_capacity(READ_CHUNK),
        written: 0,
        queued: 0,
        pending: VecDeque::new(),
        max_pending,
        decoder: FrameDecoder::new(Limits::default()),
    };
    let outcome = driver.serve().await;
    let error = match outcome {
        Ok(()) => Error::Closed,
        Err(e) => e,
    };
    tracing::debug!(target: "rediscover::conn", error = %error, in_flight = driver.pending.len(), "connection closed");
    driver.fail_all(error);
}

/// An aborted task drops its driver without reaching the end of [`run`]: what it held still
/// has to be failed, each request learning whether it was written.
impl<R, W> Drop for Driver<R, W> {
    fn drop(&mut self) {
        self.fail_all(Error::Closed);
    }
}

impl<R, W> Driver<R, W> {
    /// Fails everything in flight or queued, telling each request whether it was written.
    /// Runs when the connection ends (first, with its cause) and when the driver is dropped
    /// (after an abort by [`Connection::close`](super::Connection::close)); the second time it
    /// finds nothing left.
    fn fail_all(&mut self, error: Error) {
        // Close the queue first, so nobody queues behind a dead connection while the requests
        // in flight are being failed.
        self.shared.set_broken(error.clone());
        self.rx.close();
        let not_sent = Error::not_sent(error.clone());
        for entry in self.pending.drain(..) {
            self.shared.in_flight.fetch_sub(1, Ordering::Relaxed);
            // A single command cut short never runs (the server needs all of it); in a batch,
            // the commands before the cut may have run, so only an untouched batch is unsent.
            let unsent = match entry.reply {
                ReplyTx::One(_) => entry.end > self.written,
                ReplyTx::Many { .. } => entry.start >= self.written,
            };
            if unsent {
                entry.reply.fail(not_sent.clone());
            } else {
                entry.reply.fail(error.clone());
            }
        }
        while let Ok(req) = self.rx.try_recv() {
            self.shared.in_flight.fetch_sub(1, Ordering::Relaxed);
            req.reply.fail(not_sent.clone());
        }
    }
}

impl<R, W> Driver<R, W>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    async fn serve(&mut self) -> Result<(), Error> {
        let mut accepting = true;
        loop {
            // Once every handle is gone, replies nobody waits for are not worth waiting for
            // (a `BLPOP k 0` would otherwise hold the socket open forever).
            let nobody_waits = || self.pending.iter().all(|p| p.reply.is_closed());
            if !accepting && nobody_waits() {
                let _ = self.writer.shutdown().await;
                return Ok(());
            }
            if self.rbuf.capacity() - self.rbuf.len() < READ_CHUNK / 4 {
                self.rbuf.reserve(READ_CHUNK);
            }
            tokio::select! {
                biased;
                read = self.reader.read_buf(&mut self.rbuf) => {
                    match read {
                        Ok(0) => {
                            return Err(Error::io(std::io::Error::new(
                                std::io::ErrorKind::UnexpectedEof,
                                "server closed the connection",
                            )))
                        }
                        Ok(_) => self.dispatch_replies()?,
                        Err(e) => return Err(Error::io(e)),
                    }
                }
                done = self.writer.write_buf(&mut self.wbuf), if !self.wbuf.is_empty() => {
                    match done {
                        Ok(0) => return Err(Error::io(std::io::ErrorKind::WriteZero.into())),
                        Ok(n) => {
                            self.written += n as u64;
                            if self.wbuf.is_empty() {
                                // Reuse the allocation rather than growing a fresh one.
                                self.wbuf.clear();
                            }
                        }
                        Err(e) => return Err(Error::io(e)),
                    }
                }
                req = self.rx.recv(), if accepting
                    && self.wbuf.is_empty()
                    && self.pending.len() < self.max_pending => {
                    match req {
                        Some(req) => self.enqueue_batch(req),
                        None => accepting = false,
                    }
                }
            }
        }
    }

    /// Encodes `first` and everything else already queued into the write buffer.
    fn enqueue_batch(&mut self, first: Request) {
        self.enqueue(first);
        while self.wbuf.len() < MAX_BATCH_BYTES && self.pending.len() < self.max_pending {
            match self.rx.try_recv() {
                Ok(req) => self.enqueue(req),
                Err(_) => break,
            }
        }
    }

    fn enqueue(&mut self, req: Request) {
        if req.reply.is_closed() {
            // The caller gave up before its request was written: never send it.
            self.shared.in_flight.fetch_sub(1, Ordering::Relaxed);
            return;
        }
        if req.reply.expected() == 0 {
            drop(req.reply);
            self.shared.in_flight.fetch_sub(1, Ordering::Relaxed);
            return;
        }
        self.wbuf.extend_from_slice(&req.payload);
        let start = self.queued;
        self.queued += req.payload.len() as u64;
        self.pending.push_back(InFlight {
            start,
            end: self.queued,
            reply: req.reply,
        });
    }

    fn dispatch_replies(&mut self) -> Result<(), Error> {
        loop {
            let frame = match self.decoder.decode(&mut self.rbuf) {
                Ok(Some(frame)) => frame,
                Ok(None) => return Ok(()),
                Err(e) => return Err(Error::Protocol(e.message().to_string())),
            };
            if let Frame::Push(_) = frame {
                // Out-of-band data (RESP3): never a reply to a command.
                if self.pushes.try_send(frame).is_err() {
                    tracing::debug!(target: "rediscover::conn", "push frame dropped");
                }
                continue;
            }
            self.deliver(frame)?;
        }
    }

    fn deliver(&mut self, frame: Frame) -> Result<(), Error> {
        let Some(front) = self.pending.front_mut() else {
            return Err(Error::Protocol(
                "reply received with no request in flight".into(),
            ));
        };
        let mut frame = Some(frame);
        if let ReplyTx::Many { want, got, .. } = &mut front.reply {
            got.extend(frame.take());
            if got.len() < *want {
                return Ok(());
            }
        }
        let Some(entry) = self.pending.pop_front() else {
            return Ok(());
        };
        self.shared.in_flight.fetch_sub(1, Ordering::Relaxed);
        // A closed receiver means the caller gave up: the reply is simply dropped.
        match (entry.reply, frame) {
            (ReplyTx::One(tx), Some(frame)) => drop(tx.send(Ok(frame))),
            (ReplyTx::Many { got, tx, .. }, _) => drop(tx.send(Ok(got))),
            (ReplyTx::One(_), None) => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use tokio::io::AsyncReadExt;

    fn spawn_driver(client_side: tokio::io::DuplexStream) -> (mpsc::Sender<Request>, Arc<Shared>) {
        let (reader, writer) = tokio::io::split(client_side);
        let (tx, rx) = mpsc::channel(16);
        let (push_tx, _push_rx) = mpsc::channel(16);
        let shared = Arc::new(Shared::default());
        tokio::spawn(run(
            reader,
            writer,
            BytesMut::new(),
            rx,
            shared.clone(),
            push_tx,
        ));
        (tx, shared)
    }

    fn one(payload: &'static [u8]) -> (Request, oneshot::Receiver<Result<Frame, Error>>) {
        let (tx, rx) = oneshot::channel();
        let req = Request {
            payload: Bytes::from_static(payload),
            reply: ReplyTx::One(tx),
        };
        (req, rx)
    }

    #[tokio::test]
    async fn partly_written_batch_is_sent_but_queued_request_is_not() {
        let (client_side, mut server_side) = tokio::io::duplex(64);
        let (tx, shared) = spawn_driver(client_side);
        let (btx, brx) = oneshot::channel();
        let batch = Request {
            payload: Bytes::from(vec![b'x'; 200]),
            reply: ReplyTx::Many {
                want: 3,
                got: Vec::new(),
                tx: btx,
            },
        };
        shared.in_flight.fetch_add(2, Ordering::Relaxed);
        tx.send(batch).await.unwrap();
        let (single, srx) = one(b"*1\r\n$4\r\nPING\r\n");
        tx.send(single).await.unwrap();
        // Take part of the batch, then hang up.
        let mut some = [0u8; 10];
        server_side.read_exact(&mut some).await.unwrap();
        drop(server_side);
        let batch_err = brx.await.unwrap().unwrap_err();
        assert_eq!(batch_err.kind(), ErrorKind::Io, "{batch_err:?}");
        let single_err = srx.await.unwrap().unwrap_err();
        assert_eq!(single_err.kind(), ErrorKind::NotSent, "{single_err:?}");
        assert_eq!(shared.in_flight.load(Ordering::Relaxed), 0);
    }

    #[tokio::test]
    async fn replies_in_order_pushes_aside_and_stray_replies_break() {
        let (client_side, mut server_side) = tokio::io::duplex(1024);
        let (tx, shared) = spawn_driver(client_side);
        shared.in_flight.fetch_add(2, Ordering::Relaxed);
        let (a, arx) = one(b"*1\r\n$4\r\nPING\r\n");
        let (b, brx) = one(b"*1\r\n$4\r\nPING\r\n");
        tx.send(a).await.unwrap();
        tx.send(b).await.unwrap();
        let mut buf = vec![0u8; 28];
        server_side.read_exact(&mut buf).await.unwrap();
        server_side
            .write_all(b">2\r\n$1\r\np\r\n$1\r\nq\r\n:1\r\n:2\r\n:3\r\n")
            .await
            .unwrap();
        assert_eq!(arx.await.unwrap().unwrap(), Frame::Integer(1));
        assert_eq!(brx.await.unwrap().unwrap(), Frame::Integer(2));
        // `:3` answered nothing: the connection is out of sync and must close.
        tokio::time::timeout(std::time::Duration::from_secs(5), async {
            while !tx.is_closed() {
                tokio::task::yield_now().await;
            }
        })
        .await
        .unwrap();
        assert!(matches!(shared.broken(), Some(Error::Protocol(_))));
    }
}
