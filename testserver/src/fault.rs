//! Faults a test injects into one node: freezing it (as `SIGSTOP` would) and cutting it off
//! from peers (as a network partition would).
//!
//! Every socket of a node goes through [`Gated`]: while the node is frozen, or while the peer
//! at the other end is cut off, reads and writes on it simply stall — nothing is closed, nothing
//! is refused — so the timeouts that detect a dead or partitioned peer in Redis (repl-timeout,
//! cluster-node-timeout, down-after-milliseconds) are what detect it here too. When the fault
//! is healed, the bytes that waited flow again, as TCP retransmission would deliver them.
//!
//! A link closed while its peer is cut off is closed the way a partition closes it: the peer
//! hears of it (EOF) only when the partition heals, as a FIN would reach it only then. So a
//! replica that a partitioned master loses to a failover still counts as connected on that
//! master (with a growing lag), as in Redis.
//!
//! Peers are named by address. A node that dials another (a replica its master, a cluster node
//! its peers' bus ports, a sentinel the instances it monitors) connects with
//! [`Faults::connect`], so each link has at least one end that knows its peer; partitioning two
//! nodes means cutting each off from every address of the other.

use std::collections::HashSet;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::watch;

/// The faults injected into one node.
#[derive(Debug)]
pub struct Faults {
    frozen: AtomicBool,
    /// Fast path: whether any peer is cut off at all.
    any_cut: AtomicBool,
    cut: Mutex<HashSet<SocketAddr>>,
    /// Bumped on every change, to wake stalled I/O.
    changed: watch::Sender<u64>,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            frozen: AtomicBool::new(false),
            any_cut: AtomicBool::new(false),
            cut: Mutex::new(HashSet::new()),
            changed: watch::channel(0).0,
        }
    }
}

impl Faults {
    /// Freezes the node: it runs no command, no timer and no link until [`Faults::thaw`].
    /// Connections stay open and queue what clients send, like a stopped process's sockets.
    pub fn freeze(&self) {
        self.frozen.store(true, Ordering::SeqCst);
        self.bump();
    }

    /// Ends a [`Faults::freeze`].
    pub fn thaw(&self) {
        self.frozen.store(false, Ordering::SeqCst);
        self.bump();
    }

    /// Whether the node is frozen.
    pub fn is_frozen(&self) -> bool {
        self.frozen.load(Ordering::Relaxed)
    }

    /// Cuts the node off from `peer`: links to it stall, and new connections to it wait.
    pub fn cut(&self, peer: SocketAddr) {
        let mut cut = self.cut.lock().unwrap_or_else(|p| p.into_inner());
        cut.insert(peer);
        self.any_cut.store(true, Ordering::SeqCst);
        drop(cut);
        self.bump();
    }

    /// Makes `peer` reachable again.
    pub fn heal(&self, peer: SocketAddr) {
        let mut cut = self.cut.lock().unwrap_or_else(|p| p.into_inner());
        cut.remove(&peer);
        self.any_cut.store(!cut.is_empty(), Ordering::SeqCst);
        drop(cut);
        self.bump();
    }

    /// Makes every peer reachable again.
    pub fn heal_all(&self) {
        let mut cut = self.cut.lock().unwrap_or_else(|p| p.into_inner());
        cut.clear();
        self.any_cut.store(false, Ordering::SeqCst);
        drop(cut);
        self.bump();
    }

    /// Whether `peer` is cut off.
    pub fn is_cut(&self, peer: &SocketAddr) -> bool {
        self.any_cut.load(Ordering::Relaxed)
            && self
                .cut
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .contains(peer)
    }

    /// Whether I/O with `peer` (`None`: a client, not a peer) must stall now.
    pub fn stalls(&self, peer: Option<&SocketAddr>) -> bool {
        self.is_frozen() || peer.is_some_and(|p| self.is_cut(p))
    }

    fn bump(&self) {
        self.changed.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Waits until the node is not frozen.
    pub async fn thawed(&self) {
        self.clear(None).await;
    }

    /// Waits until I/O with `peer` may flow.
    pub async fn clear(&self, peer: Option<SocketAddr>) {
        if !self.stalls(peer.as_ref()) {
            return;
        }
        let mut rx = self.changed.subscribe();
        while self.stalls(peer.as_ref()) {
            if rx.changed().await.is_err() {
                return;
            }
        }
    }

    /// Connects to a peer, waiting first while it is cut off (as a connect across a partition
    /// hangs; callers bound it with their own connect timeout). The stream stalls whenever the
    /// peer is cut off later.
    pub async fn connect(
        self: &std::sync::Arc<Self>,
        peer: SocketAddr,
    ) -> io::Result<Gated<TcpStream>> {
        self.clear(Some(peer)).await;
        let stream = TcpStream::connect(peer).await?;
        let _ = stream.set_nodelay(true);
        Ok(Gated::new(stream, self.clone(), Some(peer)).closing_across_cuts())
    }
}

/// Closes a socket once its peer is reachable again (see [`Gated`]'s drop).
fn linger<T: Send + 'static>(inner: T, faults: std::sync::Arc<Faults>, peer: SocketAddr) {
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        runtime.spawn(async move {
            faults.clear(Some(peer)).await;
            drop(inner);
        });
    }
}

type Wait = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A socket (or half of one) whose I/O stalls while its node is frozen or its peer cut off.
///
/// A socket to a peer, dropped while that peer is cut off, is closed only when the cut heals
/// (see the module notes).
pub struct Gated<T> {
    /// Always present until dropped or split.
    inner: Option<T>,
    faults: std::sync::Arc<Faults>,
    peer: Option<SocketAddr>,
    wait: Option<Wait>,
    /// How to close `inner` later, when it is dropped across a cut.
    linger: Option<fn(T, std::sync::Arc<Faults>, SocketAddr)>,
}

impl<T> Drop for Gated<T> {
    fn drop(&mut self) {
        if let (Some(inner), Some(linger), Some(peer)) = (self.inner.take(), self.linger, self.peer)
        {
            if self.faults.is_cut(&peer) {
                linger(inner, self.faults.clone(), peer);
            }
        }
    }
}

impl<T> std::fmt::Debug for Gated<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gated").field("peer", &self.peer).finish()
    }
}

impl<T> Gated<T> {
    /// Wraps `inner`; `peer` is the node at the other end, if it is one.
    pub fn new(inner: T, faults: std::sync::Arc<Faults>, peer: Option<SocketAddr>) -> Self {
        Gated {
            inner: Some(inner),
            faults,
            peer,
            wait: None,
            linger: None,
        }
    }

    /// Dropped while its peer is cut off, the stream closes when the cut heals.
    fn closing_across_cuts(mut self) -> Self
    where
        T: Send + 'static,
    {
        self.linger = Some(linger::<T>);
        self
    }

    /// The wrapped stream.
    pub fn get_ref(&self) -> &T {
        self.inner
            .as_ref()
            .expect("a Gated stream holds its socket until dropped")
    }

    fn inner_mut(&mut self) -> &mut T {
        self.inner
            .as_mut()
            .expect("a Gated stream holds its socket until dropped")
    }

    /// The peer this stream is gated on.
    pub fn peer(&self) -> Option<SocketAddr> {
        self.peer
    }

    /// Ready when I/O may proceed; registers the waker otherwise.
    fn poll_clear(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            if let Some(wait) = self.wait.as_mut() {
                match wait.as_mut().poll(cx) {
                    Poll::Ready(()) => self.wait = None,
                    Poll::Pending => return Poll::Pending,
                }
            }
            if !self.faults.stalls(self.peer.as_ref()) {
                return Poll::Ready(());
            }
            let faults = self.faults.clone();
            let peer = self.peer;
            self.wait = Some(Box::pin(async move { faults.clear(peer).await }));
        }
    }
}

impl Gated<TcpStream> {
    /// Splits into owned halves that stall (and close across cuts) alike.
    pub fn into_split(
        mut self,
    ) -> (
        Gated<tokio::net::tcp::OwnedReadHalf>,
        Gated<tokio::net::tcp::OwnedWriteHalf>,
    ) {
        let (rd, wr) = self
            .inner
            .take()
            .expect("a Gated stream holds its socket until dropped")
            .into_split();
        let lingers = self.linger.is_some();
        let (mut rd, mut wr) = (
            Gated::new(rd, self.faults.clone(), self.peer),
            Gated::new(wr, self.faults.clone(), self.peer),
        );
        if lingers {
            rd = rd.closing_across_cuts();
            wr = wr.closing_across_cuts();
        }
        (rd, wr)
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Gated<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.poll_clear(cx).is_pending() {
            return Poll::Pending;
        }
        Pin::new(this.inner_mut()).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Gated<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.poll_clear(cx).is_pending() {
            return Poll::Pending;
        }
        Pin::new(this.inner_mut()).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(self.get_mut().inner_mut()).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(self.get_mut().inner_mut()).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn a_cut_peer_stalls_reads_until_healed() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let faults = Arc::new(Faults::default());
        let mut client = faults.connect(addr).await.unwrap();
        let (mut server, _) = listener.accept().await.unwrap();
        server.write_all(b"one").await.unwrap();
        let mut buf = [0u8; 3];
        client.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"one");

        faults.cut(addr);
        server.write_all(b"two").await.unwrap();
        let stalled =
            tokio::time::timeout(Duration::from_millis(50), client.read_exact(&mut buf)).await;
        assert!(stalled.is_err(), "a read across a cut must stall");
        // A new connection waits too.
        let connecting = tokio::time::timeout(Duration::from_millis(50), faults.connect(addr));
        assert!(connecting.await.is_err());

        faults.heal(addr);
        client.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"two");
    }

    #[tokio::test]
    async fn a_link_closed_across_a_cut_closes_when_the_cut_heals() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let faults = Arc::new(Faults::default());
        let (rd, wr) = faults.connect(addr).await.unwrap().into_split();
        let (mut server, _) = listener.accept().await.unwrap();
        faults.cut(addr);
        drop((rd, wr));
        let mut buf = [0u8; 1];
        let early = tokio::time::timeout(Duration::from_millis(50), server.read(&mut buf)).await;
        assert!(
            early.is_err(),
            "the peer must not see the close across the cut"
        );
        faults.heal(addr);
        let n = tokio::time::timeout(Duration::from_secs(5), server.read(&mut buf))
            .await
            .expect("the close arrives once healed")
            .unwrap();
        assert_eq!(n, 0);
    }

    #[tokio::test]
    async fn freezing_stalls_every_stream_and_thawing_resumes() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let faults = Arc::new(Faults::default());
        let mut client = faults.connect(addr).await.unwrap();
        let (mut server, _) = listener.accept().await.unwrap();
        faults.freeze();
        assert!(faults.stalls(None));
        let write = tokio::time::timeout(Duration::from_millis(50), client.write_all(b"x"));
        assert!(write.await.is_err(), "a frozen node writes nothing");
        faults.thaw();
        client.write_all(b"y").await.unwrap();
        let mut buf = [0u8; 1];
        server.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"y");
    }
}
