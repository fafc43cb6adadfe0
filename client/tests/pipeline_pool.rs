//! Pipelines, transactions and the pool.

mod util;

use std::time::Duration;

use bytes::Bytes;
use rediscover::resp::Frame;
use rediscover::{Client, Commands, Config, Connection, ErrorCode, Pipeline, Pool, Transaction};
use rediscover_testserver::TestServer;
use util::*;

#[tokio::test]
async fn pipeline_results_are_per_command() {
    let server = TestServer::start().await.unwrap();
    let client = Client::connect(&server.url()).await.unwrap();
    let mut p = Pipeline::new();
    p.cmd("PING");
    p.cmd("NOSUCHCMD").arg("x");
    p.cmd("ECHO").arg("hello");
    p.cmd("HGET").arg("only-a-key");
    p.cmd("ECHO").arg(42);
    assert_eq!(p.len(), 5);
    let results = p.execute(&client).await.unwrap();
    assert_eq!(results.len(), 5);
    assert_eq!(results[0].as_ref().unwrap(), &Frame::simple("PONG"));
    assert_eq!(
        results[1].as_ref().unwrap_err().code(),
        Some(ErrorCode::Err)
    );
    assert_eq!(results[2].as_ref().unwrap(), &Frame::bulk("hello"));
    assert!(results[3].as_ref().unwrap_err().is_server());
    assert_eq!(results[4].as_ref().unwrap(), &Frame::bulk("42"));
    // Typed: the whole pipeline as a tuple; an error reply fails the conversion.
    let mut ok = Pipeline::new();
    ok.cmd("ECHO").arg("a");
    ok.cmd("ECHO").arg(7);
    let (a, n): (String, i64) = ok.query(&client).await.unwrap();
    assert_eq!((a.as_str(), n), ("a", 7));
    assert!(p.query::<Vec<Frame>, _>(&client).await.is_err());
    // Empty pipelines need no round trip.
    assert!(Pipeline::new().execute(&client).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_pipelines_do_not_interleave() {
    let server = TestServer::start().await.unwrap();
    let client = Client::connect(&server.url()).await.unwrap();
    let mut tasks = Vec::new();
    for t in 0..20 {
        let c = client.clone();
        tasks.push(tokio::spawn(async move {
            for round in 0..20 {
                let mut p = Pipeline::new();
                for i in 0..50 {
                    p.cmd("ECHO").arg(format!("{t}:{round}:{i}"));
                }
                let got: Vec<String> = p.query(&c).await.unwrap();
                let want: Vec<String> = (0..50).map(|i| format!("{t}:{round}:{i}")).collect();
                assert_eq!(got, want);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}

#[tokio::test]
async fn transactions_commit_and_abort_distinctly() {
    let server = TestServer::start().await.unwrap();
    let client = Client::connect(&server.url()).await.unwrap();
    let mut tx = Transaction::new();
    tx.cmd("ECHO").arg("a");
    tx.cmd("PING");
    let results = tx
        .exec(&client)
        .await
        .unwrap()
        .expect("not watched: commits");
    let results: Vec<Frame> = results.into_iter().map(|r| r.unwrap()).collect();
    assert_eq!(results, vec![Frame::bulk("a"), Frame::simple("PONG")]);
    let typed: Option<(String, String)> = tx.query(&client).await.unwrap();
    assert_eq!(typed, Some(("a".into(), "PONG".into())));

    // A command refused while queueing discards the whole transaction: EXECABORT.
    let mut bad = Transaction::new();
    bad.cmd("ECHO").arg("a");
    bad.cmd("NOSUCHCMD");
    let e = bad.exec(&client).await.unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::ExecAbort));
    let msg = e.server_error().unwrap().message();
    assert!(msg.contains("unknown command"), "{msg}");
    // The connection is usable afterwards (not left inside MULTI).
    assert_eq!(client.echo::<Bytes>("x").await.unwrap(), &b"x"[..]);
}

#[tokio::test]
async fn pool_reuses_healthy_connections() {
    let server = TestServer::start().await.unwrap();
    let pool = Pool::new(Config::from_url(&server.url()).unwrap(), 4).unwrap();
    {
        let conn = pool.get().await.unwrap();
        assert_eq!(conn.ping().await.unwrap(), "PONG");
        conn.watch("k").await.unwrap();
        let mut p = Pipeline::new();
        p.cmd("ECHO").arg("x");
        assert_eq!(p.query::<Vec<String>, _>(&*conn).await.unwrap(), vec!["x"]);
    }
    assert_eq!(pool.size(), 1);
    let (a, b) = (pool.get().await.unwrap(), pool.get().await.unwrap());
    assert_eq!(pool.size(), 2);
    assert_eq!(a.echo::<Bytes>("a").await.unwrap(), &b"a"[..]);
    assert_eq!(b.echo::<Bytes>("b").await.unwrap(), &b"b"[..]);
    drop((a, b));
    assert_eq!(pool.idle(), 2);
}

#[tokio::test]
async fn pool_discards_connections_with_requests_in_flight() {
    let fake = FakeServer::start(|cmd| match cmd[0].to_ascii_uppercase().as_str() {
        "HELLO" => Some(b"-ERR unknown command\r\n".to_vec()),
        "ECHO" if cmd[1] == "hold" => None,
        "RESET" => Some(b"+RESET\r\n".to_vec()),
        _ => Some(b"+PONG\r\n".to_vec()),
    })
    .await;
    let config = Config::default().port(fake.port());
    let pool = Pool::new(config, 2).unwrap();
    let connections = || fake.commands().iter().filter(|c| c[0] == "HELLO").count();
    {
        let conn = pool.get().await.unwrap();
        // A caller gives up on a reply that never comes: the reply is still owed.
        let r = tokio::time::timeout(Duration::from_millis(50), conn.echo::<Bytes>("hold")).await;
        assert!(r.is_err());
        assert_eq!(conn.in_flight(), 1);
    }
    let conn = pool.get().await.unwrap();
    assert_eq!(conn.ping().await.unwrap(), "PONG");
    assert_eq!(connections(), 2, "the poisoned connection was replaced");
    drop(conn);
    let conn = pool.get().await.unwrap();
    conn.ping().await.unwrap();
    assert_eq!(connections(), 2, "a healthy one is reused");
    let checks = fake.commands().iter().filter(|c| c[0] == "RESET").count();
    assert!(checks >= 1, "recycling resets the connection's state");
}

#[tokio::test]
async fn pool_reports_connect_errors() {
    let server = TestServer::builder().password("pw").start().await.unwrap();
    let pool = Pool::new(Config::from_url(&server.url()).unwrap(), 2).unwrap();
    let e = pool.get().await.unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::NoAuth));
}

#[tokio::test]
async fn pushes_never_become_replies() {
    // RESP3 push frames interleaved with replies go to the push receiver.
    let fake = FakeServer::start(|cmd| match cmd[0].to_ascii_uppercase().as_str() {
        "HELLO" => Some(b"%1\r\n$5\r\nproto\r\n:3\r\n".to_vec()),
        "ECHO" => Some(
            format!(
                ">2\r\n$10\r\ninvalidate\r\n$1\r\nk\r\n${}\r\n{}\r\n",
                cmd[1].len(),
                cmd[1]
            )
            .into_bytes(),
        ),
        _ => Some(b"+PONG\r\n".to_vec()),
    })
    .await;
    let conn = Connection::connect(&Config::default().port(fake.port()))
        .await
        .unwrap();
    assert!(conn.is_resp3());
    let mut pushes = conn.take_pushes().unwrap();
    assert!(conn.take_pushes().is_none());
    assert_eq!(
        conn.echo::<Bytes>("one").await.unwrap(),
        Bytes::from_static(b"one")
    );
    assert_eq!(
        conn.echo::<Bytes>("two").await.unwrap(),
        Bytes::from_static(b"two")
    );
    let push = pushes.recv().await.unwrap();
    assert_eq!(
        push,
        Frame::Push(vec![Frame::bulk("invalidate"), Frame::bulk("k")])
    );
}

#[tokio::test]
async fn pipelines_that_would_desync_a_shared_connection_are_refused() {
    let server = TestServer::start().await.unwrap();
    let client = Client::connect(&server.url()).await.unwrap();
    let conn = Connection::connect(&Config::from_url(&server.url()).unwrap())
        .await
        .unwrap();
    for name in ["SUBSCRIBE", "psubscribe", "MONITOR"] {
        let mut p = Pipeline::new();
        p.cmd("PING");
        p.cmd(name).arg("ch");
        let e = p.execute(&client).await.unwrap_err();
        assert_eq!(e.kind(), rediscover::ErrorKind::NotAllowed, "{name}: {e:?}");
        let e = p.execute(&conn).await.unwrap_err();
        assert_eq!(e.kind(), rediscover::ErrorKind::NotAllowed, "{name}: {e:?}");
    }
    let mut p = Pipeline::new();
    p.cmd("CLIENT").arg(["REPLY", "OFF"]);
    assert!(p.execute(&client).await.is_err());
    // Nothing was sent: both connections still answer in order.
    assert_eq!(
        client.echo::<Bytes>("in order").await.unwrap(),
        &b"in order"[..]
    );
    assert_eq!(
        conn.echo::<Bytes>("in order").await.unwrap(),
        &b"in order"[..]
    );
}

#[tokio::test]
async fn pool_recycle_restores_the_configured_database_and_connection_state() {
    let t = target().await;
    let config = t.config().db(2).client_name("pooled");
    let pool = Pool::new(config.clone(), 1).unwrap();
    let k = unique("recycled");
    let other = Client::with_config(t.config().db(2)).await.unwrap();
    other.set(&k, "in-db-2").await.unwrap();
    {
        let conn = pool.get().await.unwrap();
        // Leave every kind of state behind: another database, a name, a WATCH, an open MULTI.
        let () = conn.cmd("SELECT").arg(5).query().await.unwrap();
        let () = conn
            .cmd("CLIENT")
            .arg(["SETNAME", "changed"])
            .query()
            .await
            .unwrap();
        conn.watch(&k).await.unwrap();
        let () = conn.cmd("MULTI").query().await.unwrap();
        let queued: String = conn.cmd("SET").arg(&k).arg("never").query().await.unwrap();
        assert_eq!(queued, "QUEUED");
    }
    let conn = pool.get().await.unwrap();
    assert_eq!(pool.size(), 1, "the same connection, recycled");
    let got: Option<String> = conn.get(&k).await.unwrap();
    assert_eq!(
        got.as_deref(),
        Some("in-db-2"),
        "back in the configured database, not in MULTI"
    );
    let name: Option<String> = conn.cmd("CLIENT").arg("GETNAME").query().await.unwrap();
    assert_eq!(name.as_deref(), Some("pooled"));
    assert!(
        conn.is_resp3(),
        "RESET switched to RESP2; HELLO 3 switched back"
    );
    // The WATCH is gone: a transaction after someone else's write commits.
    other.set(&k, "changed by another client").await.unwrap();
    let mut tx = Transaction::new();
    tx.cmd("SET").arg(&k).arg("committed");
    assert!(tx.exec(&*conn).await.unwrap().is_some());
    other.del(&k).await.unwrap();
}

#[tokio::test]
async fn pool_recycle_reauthenticates_an_acl_user() {
    let server = TestServer::builder()
        .password("pw")
        .user("app", "secret")
        .start()
        .await
        .unwrap();
    let url = format!("redis://app:secret@{}", server.addr());
    for proto in [rediscover::Protocol::Resp3, rediscover::Protocol::Resp2] {
        let pool = Pool::new(Config::from_url(&url).unwrap().protocol(proto), 1).unwrap();
        drop(pool.get().await.unwrap());
        let conn = pool.get().await.unwrap();
        let who: String = conn.cmd("ACL").arg("WHOAMI").query().await.unwrap();
        assert_eq!(who, "app", "{proto:?}");
        assert_eq!(conn.is_resp3(), proto == rediscover::Protocol::Resp3);
    }
}

#[tokio::test]
async fn an_exhausted_pool_says_so() {
    let server = TestServer::start().await.unwrap();
    let config = Config::from_url(&server.url())
        .unwrap()
        .connect_timeout(Duration::from_millis(100));
    let pool = Pool::new(config, 1).unwrap();
    let held = pool.get().await.unwrap();
    let e = pool.get().await.unwrap_err();
    assert_eq!(e.kind(), rediscover::ErrorKind::Pool, "{e:?}");
    assert!(e.to_string().contains("checked out"), "{e}");
    drop(held);
    pool.get().await.unwrap().ping().await.unwrap();
}
