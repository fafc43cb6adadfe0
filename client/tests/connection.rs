//! The connection layer against the in-process test server: FIFO matching under load,
//! cancellation, handshake, authentication, timeouts, broken connections.

mod util;

use std::time::Duration;

use bytes::Bytes;
use rediscover::{Client, Commands, Config, Connection, ErrorCode, ErrorKind, Protocol};
use rediscover_testserver::TestServer;
use util::*;

#[tokio::test]
async fn ping_and_echo() {
    let server = TestServer::start().await.unwrap();
    let client = Client::connect(&server.url()).await.unwrap();
    assert_eq!(client.ping().await.unwrap(), "PONG");
    assert_eq!(
        client.echo::<Bytes>("hi").await.unwrap(),
        Bytes::from_static(b"hi")
    );
    let raw: Vec<u8> = client
        .cmd("ECHO")
        .arg(&b"\x00\xff"[..])
        .query()
        .await
        .unwrap();
    assert_eq!(raw, b"\x00\xff");
    let conn = client.connection().unwrap();
    assert!(conn.is_resp3());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_echoes_match_their_own_replies_even_when_half_are_dropped() {
    let server = TestServer::start().await.unwrap();
    let client = Client::connect(&server.url()).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..10_000u64 {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            let payload = format!("{i}-{}", random_u64());
            let fut = client.echo::<Bytes>(payload.clone());
            if i % 2 == 0 {
                // Give up almost at once: the request may or may not have been written.
                if let Ok(reply) =
                    tokio::time::timeout(Duration::from_micros(1 + i % 50), fut).await
                {
                    assert_eq!(reply.unwrap(), payload.as_bytes());
                }
            } else {
                assert_eq!(fut.await.unwrap(), payload.as_bytes());
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    // The stream is still in sync: a fresh request gets its own answer.
    assert_eq!(client.echo::<Bytes>("after").await.unwrap(), &b"after"[..]);
    let conn = client.connection().unwrap();
    wait_until(|| conn.in_flight() == 0).await;
}

#[tokio::test]
async fn resp2_when_asked() {
    let server = TestServer::start().await.unwrap();
    let config = Config::from_url(&server.url())
        .unwrap()
        .protocol(Protocol::Resp2);
    let conn = Connection::connect(&config).await.unwrap();
    assert!(!conn.is_resp3());
    assert_eq!(conn.ping().await.unwrap(), "PONG");
}

#[tokio::test]
async fn falls_back_to_resp2_when_hello_is_refused() {
    // A fake server that refuses HELLO the way Redis 5 does, then answers PING.
    let fake = FakeServer::start(|cmd| match cmd[0].to_ascii_uppercase().as_str() {
        "HELLO" => Some(b"-ERR unknown command 'HELLO'\r\n".to_vec()),
        "AUTH" => Some(b"+OK\r\n".to_vec()),
        "PING" => Some(b"+PONG\r\n".to_vec()),
        _ => Some(b"-ERR nope\r\n".to_vec()),
    })
    .await;
    let config = Config::default()
        .host("127.0.0.1")
        .port(fake.port())
        .password("pw");
    let conn = Connection::connect(&config).await.unwrap();
    assert!(!conn.is_resp3());
    assert_eq!(conn.ping().await.unwrap(), "PONG");
    let seen = fake.commands();
    assert_eq!(seen[0][0], "HELLO");
    assert_eq!(seen[1], vec!["AUTH", "pw"]);
}

#[tokio::test]
async fn password_and_acl_user() {
    let server = TestServer::builder()
        .password("sesame")
        .user("alice", "wonder")
        .start()
        .await
        .unwrap();
    let url = format!("redis://:sesame@{}", server.addr());
    let client = Client::connect(&url).await.unwrap();
    assert_eq!(client.ping().await.unwrap(), "PONG");
    let url = format!("redis://alice:wonder@{}", server.addr());
    Client::connect(&url).await.unwrap().ping().await.unwrap();
    // RESP2 path authenticates with AUTH.
    let config = Config::from_url(&url).unwrap().protocol(Protocol::Resp2);
    Connection::connect(&config)
        .await
        .unwrap()
        .ping()
        .await
        .unwrap();
}

#[tokio::test]
async fn auth_failures_are_clear() {
    let server = TestServer::builder()
        .password("sesame")
        .start()
        .await
        .unwrap();
    let bad = format!("redis://:wrong@{}", server.addr());
    let e = Client::connect(&bad).await.unwrap_err();
    assert!(e.is_auth(), "{e:?}");
    assert_eq!(e.code(), Some(ErrorCode::WrongPass));
    assert_eq!(e.retry_action(), rediscover::RetryAction::GiveUp);
    let config = Config::from_url(&bad).unwrap().protocol(Protocol::Resp2);
    let e = Connection::connect(&config).await.unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::WrongPass));
    // No password at all: the error says a password is needed (not something about HELLO,
    // which the user never sent), in both protocols.
    for proto in [Protocol::Resp3, Protocol::Resp2] {
        let config = Config::from_url(&server.url())
            .unwrap()
            .protocol(proto)
            .db(1);
        let e = Client::with_config(config).await.unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::NoAuth), "{e:?}");
        assert!(e.is_auth());
        let text = e.to_string();
        assert!(text.contains("needs a password"), "{proto:?}: {text}");
        assert!(!text.contains("HELLO"), "{proto:?}: {text}");
        assert_eq!(e.retry_action(), rediscover::RetryAction::GiveUp);
    }
}

#[tokio::test]
async fn select_db_and_bad_db() {
    let server = TestServer::builder().databases(4).start().await.unwrap();
    Client::connect(&format!("{}/3", server.url()))
        .await
        .unwrap();
    let e = Client::connect(&format!("{}/9", server.url()))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Server);
    assert_eq!(
        e.server_error().unwrap().message(),
        "DB index is out of range"
    );
}

#[tokio::test]
async fn server_errors_keep_the_connection() {
    let server = TestServer::start().await.unwrap();
    let client = Client::connect(&server.url()).await.unwrap();
    let e = client
        .cmd("NOSUCHCOMMAND")
        .arg("x")
        .query::<()>()
        .await
        .unwrap_err();
    assert!(e.is_server());
    assert_eq!(e.code(), Some(ErrorCode::Err));
    assert!(e
        .server_error()
        .unwrap()
        .message()
        .starts_with("unknown command"));
    assert_eq!(client.ping().await.unwrap(), "PONG");
    // A reply of the wrong shape for the requested type is a Response error.
    let e = client.cmd("PING").query::<i64>().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Response);
}

#[tokio::test]
async fn timeouts_do_not_desync() {
    // A server that holds back the reply to ECHO slow until told.
    let fake = FakeServer::start(|cmd| match cmd[0].to_ascii_uppercase().as_str() {
        "HELLO" => Some(b"-ERR unknown command\r\n".to_vec()),
        "ECHO" if cmd[1] == "slow" => None,
        "ECHO" => Some(format!("${}\r\n{}\r\n", cmd[1].len(), cmd[1]).into_bytes()),
        _ => Some(b"+PONG\r\n".to_vec()),
    })
    .await;
    let config = Config::default()
        .port(fake.port())
        .request_timeout(Some(Duration::from_millis(100)));
    let client = Client::with_config(config).await.unwrap();
    let e = client.echo::<Bytes>("slow").await.unwrap_err();
    assert!(e.is_timeout());
    assert_eq!(e.kind(), ErrorKind::Timeout);
    assert!(!e.is_not_sent(), "the request was written: outcome unknown");
    // The late reply to "slow" arrives first and must be discarded, not given to "next".
    // A handle without a deadline waits as long as it takes.
    let patient = client.with_timeout(None);
    let waiting = tokio::spawn(async move { patient.echo::<Bytes>("slow").await });
    wait_until(|| fake.commands().iter().filter(|c| c[0] == "ECHO").count() == 2).await;
    fake.release(b"$4\r\nslow\r\n");
    fake.release(b"$4\r\nslow\r\n");
    assert_eq!(waiting.await.unwrap().unwrap(), &b"slow"[..]);
    assert_eq!(client.echo::<Bytes>("next").await.unwrap(), &b"next"[..]);
}

#[tokio::test]
async fn protocol_error_fails_everything_in_flight_and_client_reconnects() {
    let fake = FakeServer::start(|cmd| match cmd[0].to_ascii_uppercase().as_str() {
        "HELLO" => Some(b"-ERR unknown command\r\n".to_vec()),
        "ECHO" if cmd[1] == "garbage" => Some(b"?garbage\r\n".to_vec()),
        "ECHO" => Some(format!("${}\r\n{}\r\n", cmd[1].len(), cmd[1]).into_bytes()),
        _ => Some(b"+PONG\r\n".to_vec()),
    })
    .await;
    let config = Config::default().port(fake.port());
    let client = Client::with_config(config).await.unwrap();
    let e = client.echo::<Bytes>("garbage").await.unwrap_err();
    assert!(e.is_protocol(), "{e:?}");
    assert!(e.is_connection_broken());
    // The next request reconnects.
    assert_eq!(client.echo::<Bytes>("fine").await.unwrap(), &b"fine"[..]);
    assert_eq!(client.reconnects(), 1);
}

#[tokio::test]
async fn unsent_requests_say_so() {
    let server = TestServer::start().await.unwrap();
    let config = Config::from_url(&server.url()).unwrap();
    let conn = Connection::connect(&config).await.unwrap();
    server.shutdown().await;
    // The driver notices EOF; afterwards nothing can be sent.
    wait_until(|| conn.is_closed()).await;
    let e = conn.ping().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotSent);
    assert!(e.is_not_sent());
    assert_eq!(e.retry_action(), rediscover::RetryAction::Reconnect);
}

#[tokio::test]
async fn connect_failure_is_not_sent() {
    let port = unused_port().await;
    let config = Config::default().port(port);
    let e = Client::with_config(config).await.unwrap_err();
    assert!(e.is_not_sent(), "{e:?}");
}

#[tokio::test]
async fn pubsub_commands_are_refused_on_shared_connections() {
    let server = TestServer::start().await.unwrap();
    let client = Client::connect(&server.url()).await.unwrap();
    let e = client
        .cmd("SUBSCRIBE")
        .arg("ch")
        .query::<()>()
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotAllowed);
    assert_eq!(client.ping().await.unwrap(), "PONG");
}

#[tokio::test]
async fn client_name_via_hello() {
    let server = TestServer::start().await.unwrap();
    let config = Config::from_url(&server.url())
        .unwrap()
        .client_name("worker-1");
    let conn = Connection::connect(&config).await.unwrap();
    assert_eq!(conn.ping().await.unwrap(), "PONG");
    let node = server.node().clone();
    wait_until(move || {
        node.lock()
            .clients
            .values()
            .any(|c| c.name.as_deref() == Some(&b"worker-1"[..]))
    })
    .await;
}

#[tokio::test]
async fn dropping_every_handle_closes_the_socket_even_with_replies_owed() {
    let fake = FakeServer::start(|cmd| match cmd[0].to_ascii_uppercase().as_str() {
        "HELLO" => Some(b"-ERR unknown command\r\n".to_vec()),
        "ECHO" => None,
        _ => Some(b"+PONG\r\n".to_vec()),
    })
    .await;
    let conn = Connection::connect(&Config::default().port(fake.port()))
        .await
        .unwrap();
    assert_eq!(fake.open_connections(), 1);
    let r = tokio::time::timeout(Duration::from_millis(20), conn.echo::<Bytes>("never")).await;
    assert!(r.is_err());
    drop(conn);
    wait_until(|| fake.open_connections() == 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled_pipelines_do_not_desync() {
    let server = TestServer::start().await.unwrap();
    let client = Client::connect(&server.url()).await.unwrap();
    let mut tasks = Vec::new();
    for t in 0..200u64 {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            let mut p = rediscover::Pipeline::new();
            let want: Vec<String> = (0..20)
                .map(|i| format!("{t}:{i}:{}", random_u64()))
                .collect();
            for w in &want {
                p.cmd("ECHO").arg(w);
            }
            let fut = p.query::<Vec<String>, _>(&client);
            if t % 3 == 0 {
                if let Ok(got) = tokio::time::timeout(Duration::from_micros(t), fut).await {
                    assert_eq!(got.unwrap(), want);
                }
            } else {
                assert_eq!(fut.await.unwrap(), want);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(client.echo::<Bytes>("last").await.unwrap(), &b"last"[..]);
}

#[tokio::test]
async fn client_reply_off_is_refused_on_shared_connections() {
    let server = TestServer::start().await.unwrap();
    let client = Client::connect(&server.url()).await.unwrap();
    let e = client
        .cmd("CLIENT")
        .arg("REPLY")
        .arg("OFF")
        .query::<()>()
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotAllowed);
    assert_eq!(client.ping().await.unwrap(), "PONG");
}

#[tokio::test]
async fn a_stalled_server_pushes_back_instead_of_growing_memory() {
    let fake = FakeServer::start(|cmd| match cmd[0].to_ascii_uppercase().as_str() {
        "HELLO" => Some(b"-ERR unknown command\r\n".to_vec()),
        "ECHO" => None,
        _ => Some(b"+PONG\r\n".to_vec()),
    })
    .await;
    let config = Config::default()
        .port(fake.port())
        .queue_capacity(4)
        .request_timeout(Some(Duration::from_millis(100)));
    let conn = Connection::connect(&config).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..50 {
        let c = conn.clone();
        tasks.push(tokio::spawn(async move { c.echo::<Bytes>(i).await }));
    }
    let mut not_sent = 0;
    for t in tasks {
        let e = t.await.unwrap().unwrap_err();
        assert!(e.is_timeout());
        not_sent += usize::from(e.is_not_sent());
    }
    // At most 4 awaited replies plus 4 queued; everyone else waited for room and gave up
    // knowing their request was never sent.
    assert!(not_sent >= 42, "{not_sent}");
    let echoes = fake.commands().iter().filter(|c| c[0] == "ECHO").count();
    assert!(
        echoes <= 4,
        "{echoes} requests reached a server that answers nothing"
    );
}
