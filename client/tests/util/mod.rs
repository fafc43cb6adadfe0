//! Helpers shared by the client's integration tests.
#![allow(dead_code)]

use std::hash::{BuildHasher, Hasher};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use rediscover::resp::CommandDecoder;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// Polls `cond` until it holds, failing the test after 10 seconds.
pub async fn wait_until(mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "condition not reached in time"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

pub fn random_u64() -> u64 {
    std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
}

/// A port nothing listens on (bound, then released).
pub async fn unused_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap().port()
}

type Handler = dyn Fn(&[String]) -> Option<Vec<u8>> + Send + Sync;

/// A scripted server: each command gets the handler's bytes, or nothing (`None`) until
/// [`FakeServer::release`] sends bytes to the latest connection.
pub struct FakeServer {
    port: u16,
    open: Arc<std::sync::atomic::AtomicUsize>,
    seen: Arc<Mutex<Vec<Vec<String>>>>,
    latest: Arc<Mutex<Option<mpsc::UnboundedSender<Vec<u8>>>>>,
    task: tokio::task::JoinHandle<()>,
}

impl FakeServer {
    pub async fn start(
        handler: impl Fn(&[String]) -> Option<Vec<u8>> + Send + Sync + 'static,
    ) -> FakeServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let latest = Arc::new(Mutex::new(None));
        let handler: Arc<Handler> = Arc::new(handler);
        let open: Arc<std::sync::atomic::AtomicUsize> = Arc::default();
        let (s, l, o) = (seen.clone(), latest.clone(), open.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut sock, _)) = listener.accept().await else {
                    return;
                };
                // Replies go out at once, as a server's do (no Nagle delay between batches).
                let _ = sock.set_nodelay(true);
                let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
                *l.lock().unwrap() = Some(tx);
                let (seen, handler, open) = (s.clone(), handler.clone(), o.clone());
                open.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                tokio::spawn(async move {
                    let _closed = CountDown(open);
                    let mut buf = BytesMut::new();
                    let mut dec = CommandDecoder::default();
                    let mut argv: Vec<Bytes> = Vec::new();
                    loop {
                        tokio::select! {
                            n = sock.read_buf(&mut buf) => {
                                if !matches!(n, Ok(n) if n > 0) { return; }
                                let mut out = Vec::new();
                                while let Ok(true) = dec.decode(&mut buf, &mut argv) {
                                    let cmd: Vec<String> = argv
                                        .iter()
                                        .map(|a| String::from_utf8_lossy(a).into_owned())
                                        .collect();
                                    seen.lock().unwrap().push(cmd.clone());
                                    if let Some(reply) = handler(&cmd) {
                                        out.extend_from_slice(&reply);
                                    }
                                }
                                if sock.write_all(&out).await.is_err() { return; }
                            }
                            Some(bytes) = rx.recv() => {
                                if sock.write_all(&bytes).await.is_err() { return; }
                            }
                        }
                    }
                });
            }
        });
        FakeServer {
            port,
            open,
            seen,
            latest,
            task,
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Connections currently open.
    pub fn open_connections(&self) -> usize {
        self.open.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Every command received so far, on any connection.
    pub fn commands(&self) -> Vec<Vec<String>> {
        self.seen.lock().unwrap().clone()
    }

    /// Writes raw bytes to the most recent connection.
    pub fn release(&self, bytes: &[u8]) {
        if let Some(tx) = self.latest.lock().unwrap().as_ref() {
            let _ = tx.send(bytes.to_vec());
        }
    }
}

struct CountDown(Arc<std::sync::atomic::AtomicUsize>);

impl Drop for CountDown {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A TCP proxy in front of a server, to break connections on demand.
pub struct Proxy {
    port: u16,
    conns: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
    down: Arc<std::sync::atomic::AtomicBool>,
    accepted: Arc<std::sync::atomic::AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    pub async fn start(target: std::net::SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let conns: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>> = Arc::default();
        let down: Arc<std::sync::atomic::AtomicBool> = Arc::default();
        let accepted: Arc<std::sync::atomic::AtomicUsize> = Arc::default();
        let (c, d, a) = (conns.clone(), down.clone(), accepted.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                a.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                if d.load(std::sync::atomic::Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let handle = tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                c.lock().unwrap().push(handle);
            }
        });
        Proxy {
            port,
            conns,
            down,
            accepted,
            task,
        }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Closes every proxied connection.
    pub fn cut(&self) {
        for h in self.conns.lock().unwrap().drain(..) {
            h.abort();
        }
    }

    /// While down, new connections are accepted and closed at once.
    pub fn set_down(&self, down: bool) {
        self.down.store(down, std::sync::atomic::Ordering::SeqCst);
    }

    /// Connections accepted so far (including refused ones).
    pub fn accepted(&self) -> usize {
        self.accepted.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
        self.cut();
    }
}

/// The server a test talks to: the in-process test server, or a real Redis when
/// `REDISCOVER_TEST_URL` is set (differential runs).
pub struct Target {
    pub server: Option<rediscover_testserver::TestServer>,
    pub url: String,
}

pub async fn target() -> Target {
    match std::env::var("REDISCOVER_TEST_URL") {
        Ok(url) => Target { server: None, url },
        Err(_) => {
            let server = rediscover_testserver::TestServer::start().await.unwrap();
            let url = server.url();
            Target {
                server: Some(server),
                url,
            }
        }
    }
}

impl Target {
    pub fn config(&self) -> rediscover::Config {
        rediscover::Config::from_url(&self.url).unwrap()
    }

    pub fn addr(&self) -> std::net::SocketAddr {
        let hostport = self.url.trim_start_matches("redis://");
        let hostport = hostport.split('/').next().unwrap();
        hostport.parse().unwrap()
    }
}

/// A key (or key prefix) no other test uses, so tests can share a real server.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}:{:x}", random_u64())
}
