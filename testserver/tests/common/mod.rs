//! Test helpers: a raw RESP connection that returns exact reply bytes.
#![allow(dead_code)]

pub mod dataset;
pub mod sentinel;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use rediscover::resp::{decode, encode_command, Frame, Limits};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use rediscover_testserver::keyspace::{List, Value};
pub use rediscover_testserver::TestServer;

/// A client connection that speaks raw RESP, for byte-exact assertions.
pub struct RawConn {
    pub stream: TcpStream,
    buf: BytesMut,
}

impl RawConn {
    pub async fn connect(addr: SocketAddr) -> RawConn {
        let stream = TcpStream::connect(addr).await.expect("connect");
        stream.set_nodelay(true).unwrap();
        RawConn {
            stream,
            buf: BytesMut::new(),
        }
    }

    /// Sends one command without reading its reply.
    pub async fn send(&mut self, argv: &[&str]) {
        let mut out = BytesMut::new();
        encode_command(&mut out, argv);
        self.stream.write_all(&out).await.expect("write");
    }

    /// Sends raw bytes.
    pub async fn send_raw(&mut self, data: &[u8]) {
        self.stream.write_all(data).await.expect("write");
    }

    /// The bytes read but not yet returned as a reply.
    pub fn take_buffered(&mut self) -> Vec<u8> {
        self.buf.split().to_vec()
    }

    /// Whatever bytes arrive next, not framed as replies (a snapshot, a replication stream);
    /// fails after 5 s or if the peer closes.
    pub async fn read_unframed(&mut self) -> Vec<u8> {
        if !self.buf.is_empty() {
            return self.buf.split().to_vec();
        }
        let read =
            tokio::time::timeout(Duration::from_secs(5), self.stream.read_buf(&mut self.buf));
        let n = read.await.expect("no bytes within 5 s").expect("read");
        assert!(n > 0, "connection closed");
        self.buf.split().to_vec()
    }

    /// Reads the raw bytes of the next reply (fails after 5 s).
    pub async fn read_raw(&mut self) -> Vec<u8> {
        self.read_raw_timeout(Duration::from_secs(5))
            .await
            .expect("no reply within 5 s")
    }

    /// Reads the raw bytes of the next reply, or `None` if none arrives within `timeout`.
    pub async fn read_raw_timeout(&mut self, timeout: Duration) -> Option<Vec<u8>> {
        let deadline = Instant::now() + timeout;
        loop {
            let mut probe = self.buf.clone();
            let before = probe.len();
            if decode(&mut probe, &Limits::default())
                .expect("valid RESP")
                .is_some()
            {
                let used = before - probe.len();
                return Some(self.buf.split_to(used).to_vec());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.stream.read_buf(&mut self.buf)).await {
                Ok(Ok(0)) => panic!(
                    "connection closed; buffered: {:?}",
                    String::from_utf8_lossy(&self.buf)
                ),
                Ok(Ok(_)) => {}
                Ok(Err(e)) => panic!("read error: {e}"),
                Err(_) => return None,
            }
        }
    }

    /// Reads the next reply as a frame.
    pub async fn read_frame(&mut self) -> Frame {
        let raw = self.read_raw().await;
        decode(&mut BytesMut::from(&raw[..]), &Limits::default())
            .unwrap()
            .unwrap()
    }

    /// Sends a command and returns its raw reply bytes.
    pub async fn call(&mut self, argv: &[&str]) -> Vec<u8> {
        self.send(argv).await;
        self.read_raw().await
    }

    /// Sends a command and returns its reply as a frame.
    pub async fn frame(&mut self, argv: &[&str]) -> Frame {
        self.send(argv).await;
        self.read_frame().await
    }

    /// Whether the server closed the connection (reads EOF within 5 s).
    pub async fn is_closed(&mut self) -> bool {
        let mut tmp = [0u8; 64];
        matches!(
            tokio::time::timeout(Duration::from_secs(5), self.stream.read(&mut tmp)).await,
            Ok(Ok(0)) | Ok(Err(_))
        )
    }
}

/// Asserts the exact reply bytes of a command: `assert_reply!(conn, ["GET", "k"], b"$-1\r\n")`.
#[macro_export]
macro_rules! assert_reply {
    ($conn:expr, [$($arg:expr),* $(,)?], $expected:expr) => {{
        let got = $conn.call(&[$($arg),*]).await;
        let want: &[u8] = $expected;
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(want),
            "reply to {:?}",
            [$($arg),*]
        );
    }};
}

/// Polls `check` until it returns true or `timeout` passes.
pub async fn wait_until<F, Fut>(timeout: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if check().await {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Starts a server and opens one connection to it.
pub async fn start() -> (TestServer, RawConn) {
    let server = TestServer::start().await.unwrap();
    let conn = connect(&server).await;
    (server, conn)
}

/// Opens another connection to `server`.
pub async fn connect(server: &TestServer) -> RawConn {
    RawConn::connect(server.addr()).await
}

/// Switches `c` to RESP3, checking that HELLO answered with its 7-field map.
pub async fn hello3(c: &mut RawConn) {
    let reply = c.call(&["HELLO", "3"]).await;
    assert!(
        reply.starts_with(b"%7\r\n"),
        "{:?}",
        String::from_utf8_lossy(&reply)
    );
}

/// The encoding of `key` in db 0, read straight from the keyspace (no lookup side effects).
pub fn encoding(server: &TestServer, key: &str) -> Option<&'static str> {
    server.node().lock().dbs[0]
        .peek(key.as_bytes())
        .map(|v| v.encoding())
}

/// The bulk strings of an array reply, as text.
pub fn strings(frame: Frame) -> Vec<String> {
    frame
        .into_vec()
        .expect("array reply")
        .iter()
        .map(|f| String::from_utf8_lossy(f.as_bytes().expect("bulk")).into_owned())
        .collect()
}

/// `v`, sorted: for replies whose order depends on hashing.
pub fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// Stores a list directly in db 0, so a test need not depend on the list commands.
pub fn put_list(server: &TestServer, key: &str, items: &[&str]) {
    let list = List::from_items(items);
    server.node().lock().dbs[0].set(Bytes::from(key.to_string()), Value::List(list));
}

/// Stores a string directly in db 0, so a test need not depend on the string commands.
pub fn set_string(server: &TestServer, key: &str, value: &str) {
    server.node().lock().dbs[0].set(
        Bytes::copy_from_slice(key.as_bytes()),
        Value::from_bytes(Bytes::copy_from_slice(value.as_bytes())),
    );
}

/// xorshift64: a small deterministic generator, so a failing random sequence can be replayed.
pub struct Rng(pub u64);

impl Rng {
    /// The next number of the sequence.
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// The next number, reduced below `n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// One of `items`.
    pub fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }

    /// True `percent` times out of 100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// Walks a whole SCAN-family iteration: sends `head` + cursor + `tail` until the cursor comes
/// back to 0, and returns each reply's items as text. Fails if the walk takes 1000 calls.
pub async fn scan_pages(c: &mut RawConn, head: &[&str], tail: &[&str]) -> Vec<Vec<String>> {
    let mut pages = Vec::new();
    let mut cursor = "0".to_string();
    loop {
        assert!(pages.len() < 1000, "{head:?} does not finish");
        let mut argv = head.to_vec();
        argv.push(&cursor);
        argv.extend_from_slice(tail);
        let reply = c.frame(&argv).await.into_vec().expect("array reply");
        let next = String::from_utf8(reply[0].as_bytes().expect("cursor").to_vec()).unwrap();
        pages.push(strings(reply[1].clone()));
        if next == "0" {
            return pages;
        }
        cursor = next;
    }
}

/// The redis-server binary named by `REDISCOVER_REAL_REDIS_SERVER`, if any: tests that compare
/// with a real Redis skip (and say so) without it.
pub fn real_redis_binary() -> Option<String> {
    match std::env::var("REDISCOVER_REAL_REDIS_SERVER") {
        Ok(path) if !path.is_empty() => Some(path),
        _ => {
            eprintln!("skipped: set REDISCOVER_REAL_REDIS_SERVER=/path/to/redis-server to run");
            None
        }
    }
}

/// A real redis-server process on a free port, killed on drop.
pub struct RealRedisProc {
    child: std::process::Child,
    /// Its port.
    pub port: u16,
}

/// Spawns `command(port)` (stdout and stderr discarded) on a port asked of the OS and waits
/// until it serves there; returns the child and the port. The port is handed over because a
/// real redis-server cannot report a port it picked itself. A test running beside this one may
/// take that port first (the child then exits, and the other test's server answers there), so
/// the server found on the port must report the child's pid in INFO; otherwise another port
/// is tried.
pub async fn spawn_on_free_port(
    command: impl Fn(u16) -> std::process::Command,
) -> (std::process::Child, u16) {
    for _ in 0..5 {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let mut child = command(port)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn the server");
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let pid = format!("process_id:{}\r\n", child.id());
        let deadline = Instant::now() + Duration::from_secs(10);
        let ours = loop {
            if let Ok(Some(_)) = child.try_wait() {
                break false; // it exited: the port was taken
            }
            if TcpStream::connect(addr).await.is_ok() {
                let mut c = RawConn::connect(addr).await;
                let info = c.call(&["INFO", "server"]).await;
                break String::from_utf8_lossy(&info).contains(&pid);
            }
            assert!(
                Instant::now() < deadline,
                "the server did not start on port {port}"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        if ours {
            return (child, port);
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    panic!("the server could not get a free port in 5 tries");
}

impl RealRedisProc {
    /// Starts `binary --port <free> --save "" --appendonly no <args>` (a later option wins, as
    /// redis-server reads them) and waits until it accepts connections ([`spawn_on_free_port`]).
    pub async fn spawn(binary: &str, args: &[&str]) -> RealRedisProc {
        let (child, port) = spawn_on_free_port(|port| {
            let mut cmd = std::process::Command::new(binary);
            cmd.args([
                "--port",
                &port.to_string(),
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .args(args);
            cmd
        })
        .await;
        RealRedisProc { child, port }
    }

    /// Its address.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }
}

impl Drop for RealRedisProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
