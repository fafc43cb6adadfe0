//! Test helpers: a raw RESP connection that returns exact reply bytes.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use rediscover::resp::{decode, encode_command, Frame, Limits};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

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
