//! The limits Redis holds, held the same way: output buffers (pub/sub and normal clients),
//! the query buffer, limits changed at runtime, pipelined AUTH, `maxclients` under a burst,
//! the listen backlog, and error texts that echo raw bytes.

mod common;

use std::time::Duration;

use common::{RawConn, TestServer};
use rediscover_testserver::config::Config;

const WAIT: Duration = Duration::from_secs(10);

fn info_field(info: &[u8], name: &str) -> Option<String> {
    let text = String::from_utf8_lossy(info);
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")).map(str::to_string))
}

async fn stat(c: &mut RawConn, name: &str) -> u64 {
    let info = c.call(&["INFO", "stats"]).await;
    info_field(&info, name)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in INFO stats"))
}

/// A subscriber that never reads is closed once its pending messages pass the pub/sub hard
/// limit, and the stat counts it; the publisher sees one receiver fewer from then on.
#[tokio::test]
async fn non_reading_subscriber_is_closed_at_the_pubsub_hard_limit() {
    let server = TestServer::start().await.unwrap();
    let mut p = RawConn::connect(server.addr()).await;
    assert_eq!(
        p.call(&[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "pubsub 1mb 0 0"
        ])
        .await,
        b"+OK\r\n"
    );
    let mut sub = RawConn::connect(server.addr()).await;
    sub.send(&["SUBSCRIBE", "news"]).await;
    let _ = sub.read_raw().await;
    let payload = "x".repeat(100_000);
    // The kernel's socket buffers take a few MB before the server's own queue grows.
    let mut closed = false;
    for _ in 0..400 {
        let reply = p.call(&["PUBLISH", "news", &payload]).await;
        if reply == b":0\r\n" {
            closed = true;
            break;
        }
        assert_eq!(reply, b":1\r\n");
    }
    assert!(closed, "the subscriber was never closed");
    assert_eq!(
        stat(&mut p, "client_output_buffer_limit_disconnections").await,
        1
    );
    let list = String::from_utf8(p.call(&["CLIENT", "LIST"]).await).unwrap();
    assert!(!list.contains("sub=1"), "{list}");
}

/// Under the default limits the same subscriber keeps its subscription: the limit is 32 MB.
#[tokio::test]
async fn a_reading_subscriber_is_never_closed() {
    let server = TestServer::start().await.unwrap();
    let mut p = RawConn::connect(server.addr()).await;
    assert_eq!(
        p.call(&[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "pubsub 1mb 0 0"
        ])
        .await,
        b"+OK\r\n"
    );
    let mut sub = RawConn::connect(server.addr()).await;
    sub.send(&["SUBSCRIBE", "news"]).await;
    let _ = sub.read_raw().await;
    let payload = "x".repeat(100_000);
    for _ in 0..50 {
        assert_eq!(p.call(&["PUBLISH", "news", &payload]).await, b":1\r\n");
        let _ = sub.read_raw().await;
    }
    assert_eq!(
        stat(&mut p, "client_output_buffer_limit_disconnections").await,
        0
    );
}

/// The soft limit closes a subscriber that stays over it for longer than its seconds.
#[tokio::test]
async fn soft_limit_closes_after_its_seconds() {
    let server = TestServer::start().await.unwrap();
    let mut p = RawConn::connect(server.addr()).await;
    assert_eq!(
        p.call(&[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "pubsub 0 256kb 0"
        ])
        .await,
        b"+OK\r\n"
    );
    let mut sub = RawConn::connect(server.addr()).await;
    sub.send(&["SUBSCRIBE", "news"]).await;
    let _ = sub.read_raw().await;
    let payload = "x".repeat(50_000);
    // Over the soft limit, but only once more than a second has passed over it is it closed.
    let deadline = std::time::Instant::now() + WAIT;
    let mut published = 0;
    let mut pace = tokio::time::interval(Duration::from_millis(5));
    loop {
        let reply = p.call(&["PUBLISH", "news", &payload]).await;
        if reply == b":0\r\n" {
            break;
        }
        published += 1;
        assert!(std::time::Instant::now() < deadline, "never closed");
        // Well past the soft limit, keep it there (one message every few ms) until closed.
        if published > 200 {
            pace.tick().await;
        }
    }
    assert!(published > 5, "closed before passing the soft limit");
    assert_eq!(
        stat(&mut p, "client_output_buffer_limit_disconnections").await,
        1
    );
}

/// A normal client's replies count too when a normal limit is configured.
#[tokio::test]
async fn normal_client_limit_closes_a_client_with_too_much_pending_output() {
    let server = TestServer::start().await.unwrap();
    let mut c = RawConn::connect(server.addr()).await;
    let big = "v".repeat(300_000);
    assert_eq!(c.call(&["SET", "big", &big]).await, b"+OK\r\n");
    assert_eq!(
        c.call(&[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "normal 1mb 0 0"
        ])
        .await,
        b"+OK\r\n"
    );
    // Five GETs of 300 KB in one batch: 1.5 MB of replies pending at once.
    let mut pipeline = Vec::new();
    for _ in 0..5 {
        pipeline.extend_from_slice(b"*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n");
    }
    c.send_raw(&pipeline).await;
    assert!(c.is_closed().await);
    let mut other = RawConn::connect(server.addr()).await;
    assert_eq!(
        stat(&mut other, "client_output_buffer_limit_disconnections").await,
        1
    );
    // A single reply under the limit is fine.
    assert_eq!(other.call(&["STRLEN", "big"]).await, b":300000\r\n");
}

/// Input that is not parsed yet counts against `client-query-buffer-limit`.
#[tokio::test]
async fn client_over_the_query_buffer_limit_is_closed() {
    let server = TestServer::start().await.unwrap();
    let mut admin = RawConn::connect(server.addr()).await;
    assert_eq!(
        admin
            .call(&["CONFIG", "SET", "client-query-buffer-limit", "1mb"])
            .await,
        b"+OK\r\n"
    );
    let mut c = RawConn::connect(server.addr()).await;
    c.send_raw(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2000000\r\n")
        .await;
    let chunk = vec![b'a'; 100_000];
    for _ in 0..15 {
        if tokio::time::timeout(Duration::from_secs(1), async {
            use tokio::io::AsyncWriteExt;
            c.stream.write_all(&chunk).await
        })
        .await
        .map_or(true, |r| r.is_err())
        {
            break;
        }
    }
    assert!(c.is_closed().await);
    assert_eq!(
        stat(&mut admin, "client_query_buffer_limit_disconnections").await,
        1
    );
    assert_eq!(admin.call(&["EXISTS", "k"]).await, b":0\r\n");
}

/// `CONFIG SET proto-max-bulk-len` applies to a connection opened before it.
#[tokio::test]
async fn runtime_bulk_limit_reaches_open_connections() {
    let server = TestServer::start().await.unwrap();
    let mut early = RawConn::connect(server.addr()).await;
    assert_eq!(early.call(&["PING"]).await, b"+PONG\r\n");
    let mut admin = RawConn::connect(server.addr()).await;
    assert_eq!(
        admin
            .call(&["CONFIG", "SET", "proto-max-bulk-len", "1mb"])
            .await,
        b"+OK\r\n"
    );
    early
        .send_raw(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2000000\r\n")
        .await;
    assert_eq!(
        early.read_raw().await,
        b"-ERR Protocol error: invalid bulk length\r\n"
    );
    assert!(early.is_closed().await);
}

/// Commands pipelined behind AUTH in the same write are parsed with the limits of an
/// authenticated client.
#[tokio::test]
async fn auth_pipelined_with_a_large_value_succeeds() {
    let server = TestServer::builder().password("pw").start().await.unwrap();
    let mut c = RawConn::connect(server.addr()).await;
    let value = "z".repeat(20_000);
    let mut out = bytes::BytesMut::new();
    rediscover::resp::encode_command(&mut out, &["AUTH", "pw"]);
    rediscover::resp::encode_command(&mut out, &["SET", "k", &value]);
    rediscover::resp::encode_command(&mut out, &["STRLEN", "k"]);
    c.send_raw(&out).await;
    assert_eq!(c.read_raw().await, b"+OK\r\n");
    assert_eq!(c.read_raw().await, b"+OK\r\n");
    assert_eq!(c.read_raw().await, b":20000\r\n");
    // Without AUTH first, Redis's unauthenticated limit still applies.
    let mut anon = RawConn::connect(server.addr()).await;
    let mut out = bytes::BytesMut::new();
    rediscover::resp::encode_command(&mut out, &["SET", "k", &value]);
    anon.send_raw(&out).await;
    assert_eq!(
        anon.read_raw().await,
        b"-ERR Protocol error: unauthenticated bulk length\r\n"
    );
}

/// Of 150 simultaneous connections with `maxclients 100`, exactly 100 are served.
#[tokio::test]
async fn maxclients_is_exact_under_a_burst() {
    let config = Config {
        maxclients: 100,
        ..Config::in_process()
    };
    let server = TestServer::builder().config(config).start().await.unwrap();
    let addr = server.addr();
    let tasks: Vec<_> = (0..150)
        .map(|_| {
            tokio::spawn(async move {
                let mut c = RawConn::connect(addr).await;
                c.send(&["PING"]).await;
                (c.read_raw().await, c)
            })
        })
        .collect();
    let mut served = 0;
    let mut refused = 0;
    let mut conns = Vec::new();
    for t in tasks {
        let (reply, c) = t.await.unwrap();
        match &reply[..] {
            b"+PONG\r\n" => served += 1,
            b"-ERR max number of clients reached\r\n" => refused += 1,
            other => panic!("{}", String::from_utf8_lossy(other)),
        }
        conns.push(c);
    }
    assert_eq!((served, refused), (100, 50));
    drop(conns);
    let mut c = RawConn::connect(addr).await;
    let rejected = stat(&mut c, "rejected_connections").await;
    assert_eq!(rejected, 50);
}

/// The listen queue is `tcp-backlog` long: while the server accepts nothing (frozen), about
/// that many connections complete their handshake and the others wait.
#[tokio::test]
async fn listen_backlog_follows_tcp_backlog() {
    let somaxconn: u32 = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0);
    if somaxconn < 128 {
        eprintln!("SKIPPED: somaxconn is {somaxconn}");
        return;
    }
    async fn handshakes(backlog: u32) -> usize {
        let config = Config {
            tcp_backlog: backlog,
            ..Config::in_process()
        };
        let server = TestServer::builder().config(config).start().await.unwrap();
        server.freeze();
        let addr = server.addr();
        let attempts: Vec<_> = (0..64)
            .map(|_| {
                tokio::spawn(async move {
                    // A connection the kernel cannot queue waits for a SYN retransmit (1 s).
                    tokio::time::timeout(
                        Duration::from_millis(500),
                        tokio::net::TcpStream::connect(addr),
                    )
                    .await
                    .ok()
                    .and_then(Result::ok)
                })
            })
            .collect();
        let mut open = Vec::new();
        for a in attempts {
            if let Some(s) = a.await.unwrap() {
                open.push(s);
            }
        }
        server.thaw();
        open.len()
    }
    let small = handshakes(8).await;
    assert!(
        (1..=16).contains(&small),
        "{small} handshakes with a backlog of 8"
    );
    assert_eq!(handshakes(128).await, 64);
}

/// Error texts echo a client's bytes as they came, not with replacement characters.
#[tokio::test]
async fn error_texts_echo_raw_bytes() {
    let server = TestServer::start().await.unwrap();
    let mut c = RawConn::connect(server.addr()).await;
    c.send_raw(b"*2\r\n$2\r\n\xff\xfe\r\n$1\r\n\x80\r\n").await;
    assert_eq!(
        c.read_raw().await,
        b"-ERR unknown command '\xff\xfe', with args beginning with: '\x80' \r\n"
    );
    c.send_raw(b"*2\r\n$6\r\nCLIENT\r\n$2\r\n\xc3\x28\r\n")
        .await;
    assert_eq!(
        c.read_raw().await,
        b"-ERR unknown subcommand '\xc3\x28'. Try CLIENT HELP.\r\n"
    );
    // A NUL ends what is echoed (Redis formats with %s).
    c.send_raw(b"*2\r\n$3\r\na\x00b\r\n$3\r\nc\x00d\r\n").await;
    assert_eq!(
        c.read_raw().await,
        b"-ERR unknown command 'a', with args beginning with: 'c' \r\n"
    );
    // CR and LF in echoed bytes become spaces, so the reply stays one line.
    c.send_raw(b"*1\r\n$4\r\na\r\nb\r\n").await;
    assert_eq!(
        c.read_raw().await,
        b"-ERR unknown command 'a  b', with args beginning with: \r\n"
    );
}
