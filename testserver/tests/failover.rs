//! FAILOVER: a coordinated hand-over from a master to one of its replicas, with no write lost,
//! and its errors as Redis 7.0.15 gives them. With `REDISCOVER_REAL_REDIS_SERVER` set, also a
//! hand-over from our master to a real Redis replica and from a real Redis master to ours.

mod common;

use std::time::Duration;

use common::dataset::{call, info_field, ok};
use common::{connect, RawConn, TestServer};
use rediscover::resp::Frame;
use rediscover_testserver::config::{Config, Timers};
use rediscover_testserver::topology::{poll_until, ReplicationSet};

const DEADLINE: Duration = Duration::from_secs(10);

async fn info(conn: &mut RawConn, field: &str) -> String {
    let reply = call(conn, &[b"INFO", b"replication"]).await;
    info_field(&reply, field)
}

fn fast() -> Config {
    Config {
        timers: Timers::fast(20),
        ..Config::in_process()
    }
}

fn error(frame: Frame) -> String {
    match frame {
        Frame::Error(e) => String::from_utf8_lossy(&e).into_owned(),
        other => panic!("expected an error, got {other:?}"),
    }
}

async fn wait_field(conn: &mut RawConn, field: &str, want: &str) {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let got = info(conn, field).await;
        if got == want {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{field} stayed {got}, wanted {want}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn failover_errors_are_redis_texts() {
    let server = TestServer::start().await.unwrap();
    let mut c = connect(&server).await;
    assert_eq!(
        error(call(&mut c, &[b"FAILOVER", b"ABORT"]).await),
        "ERR No failover in progress."
    );
    assert_eq!(
        error(call(&mut c, &[b"FAILOVER"]).await),
        "ERR FAILOVER requires connected replicas."
    );
    assert_eq!(
        error(call(&mut c, &[b"FAILOVER", b"TIMEOUT", b"0"]).await),
        "ERR FAILOVER timeout must be greater than 0"
    );
    assert_eq!(
        error(call(&mut c, &[b"FAILOVER", b"TIMEOUT", b"x"]).await),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(
        error(call(&mut c, &[b"FAILOVER", b"FORCE", b"FORCE"]).await),
        "ERR syntax error"
    );
    assert_eq!(
        error(call(&mut c, &[b"FAILOVER", b"TO", b"h"]).await),
        "ERR syntax error"
    );

    let set = ReplicationSet::start_with(1, fast()).await.unwrap();
    let mut m = connect(&set.master).await;
    assert_eq!(
        error(call(&mut m, &[b"FAILOVER", b"FORCE"]).await),
        "ERR FAILOVER with force option requires both a timeout and target HOST and IP."
    );
    assert_eq!(
        error(call(&mut m, &[b"FAILOVER", b"TO", b"127.0.0.1", b"1"]).await),
        "ERR FAILOVER target HOST and PORT is not a replica."
    );
    let mut r = connect(&set.replicas[0]).await;
    assert_eq!(
        error(call(&mut r, &[b"FAILOVER"]).await),
        "ERR FAILOVER is not valid when server is a replica."
    );
}

#[tokio::test]
async fn failover_hands_over_with_every_write() {
    let set = ReplicationSet::start_with(2, fast()).await.unwrap();
    let mut m = connect(&set.master).await;
    for i in 0..500 {
        let key = format!("k{i}");
        ok(&mut m, &[b"SET", key.as_bytes(), b"v"]).await;
    }
    let target = set.replicas[1].addr();
    let port = target.port().to_string();
    ok(&mut m, &[b"FAILOVER", b"TO", b"127.0.0.1", port.as_bytes()]).await;
    // The old master becomes a replica of the target, which becomes the master.
    wait_field(&mut m, "role", "slave").await;
    wait_field(&mut m, "master_failover_state", "no-failover").await;
    assert_eq!(info(&mut m, "master_port").await, port);
    let mut t = connect(&set.replicas[1]).await;
    wait_field(&mut t, "role", "master").await;
    for i in 0..500 {
        let key = format!("k{i}");
        assert_eq!(
            call(&mut t, &[b"GET", key.as_bytes()]).await,
            Frame::Bulk("v".into())
        );
    }
    // Writes go to the new master, and reach the old one as a replica.
    ok(&mut t, &[b"SET", b"after", b"1"]).await;
    poll_until(DEADLINE, || {
        let st = set.master.node().lock();
        if st.dbs[0].len() == 501 {
            Ok(())
        } else {
            Err("the old master to get the new write".to_string())
        }
    })
    .await
    .unwrap();
    assert_eq!(
        error(call(&mut m, &[b"SET", b"x", b"1"]).await),
        "READONLY You can't write against a read only replica."
    );
}

#[tokio::test]
async fn writes_wait_during_a_failover_and_abort_gives_the_role_back() {
    let set = ReplicationSet::start_with(1, fast()).await.unwrap();
    let mut m = connect(&set.master).await;
    // The replica stops acknowledging, and misses a write: the failover waits, writes pause.
    set.replicas[0].pause_master_link();
    ok(&mut m, &[b"SET", b"missed", b"1"]).await;
    ok(&mut m, &[b"FAILOVER"]).await;
    assert_eq!(
        info(&mut m, "master_failover_state").await,
        "waiting-for-sync"
    );
    assert_eq!(
        error(call(&mut m, &[b"FAILOVER"]).await),
        "ERR FAILOVER already in progress."
    );
    assert_eq!(
        error(call(&mut m, &[b"REPLICAOF", b"NO", b"ONE"]).await),
        "ERR REPLICAOF not allowed while failing over."
    );
    let mut writer = connect(&set.master).await;
    writer.send(&["SET", "paused", "1"]).await;
    assert!(
        writer
            .read_raw_timeout(Duration::from_millis(200))
            .await
            .is_none(),
        "a write was served during the failover"
    );
    // Reads are served.
    assert_eq!(call(&mut m, &[b"GET", b"paused"]).await, Frame::Null);
    ok(&mut m, &[b"FAILOVER", b"ABORT"]).await;
    assert_eq!(writer.read_raw().await, b"+OK\r\n");
    assert_eq!(info(&mut m, "role").await, "master");
    assert_eq!(info(&mut m, "master_failover_state").await, "no-failover");
}

#[tokio::test]
async fn a_timeout_without_force_aborts_and_with_force_hands_over() {
    let set = ReplicationSet::start_with(1, fast()).await.unwrap();
    let mut m = connect(&set.master).await;
    set.replicas[0].pause_master_link();
    ok(&mut m, &[b"SET", b"k", b"v"]).await;
    ok(&mut m, &[b"FAILOVER", b"TIMEOUT", b"50"]).await;
    wait_field(&mut m, "master_failover_state", "no-failover").await;
    assert_eq!(info(&mut m, "role").await, "master");
    ok(&mut m, &[b"SET", b"k2", b"v"]).await;

    let port = set.replicas[0].addr().port().to_string();
    ok(
        &mut m,
        &[
            b"FAILOVER",
            b"TO",
            b"127.0.0.1",
            port.as_bytes(),
            b"FORCE",
            b"TIMEOUT",
            b"50",
        ],
    )
    .await;
    set.replicas[0].heal_master_link();
    wait_field(&mut m, "role", "slave").await;
    let mut r = connect(&set.replicas[0]).await;
    wait_field(&mut r, "role", "master").await;
}

/// The hand-over both ways with a real Redis 7.0: our master to a real replica, then that
/// real master back to us.
#[tokio::test]
async fn failover_interoperates_with_real_redis() {
    let Ok(binary) = std::env::var("REDISCOVER_REAL_REDIS_SERVER") else {
        eprintln!("skipped: REDISCOVER_REAL_REDIS_SERVER is not set");
        return;
    };
    let ours = rediscover_testserver::TestServer::builder()
        .config(fast())
        .start()
        .await
        .unwrap();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let dir = std::env::temp_dir().join(format!("rediscover-failover-{port}"));
    std::fs::create_dir_all(&dir).unwrap();
    let mut child = std::process::Command::new(binary)
        .args([
            "--port",
            &port.to_string(),
            "--save",
            "",
            "--dir",
            dir.to_str().unwrap(),
            "--replicaof",
            "127.0.0.1",
            &ours.addr().port().to_string(),
        ])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let real: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut m = connect(&ours).await;
    for i in 0..100 {
        let key = format!("k{i}");
        ok(&mut m, &[b"SET", key.as_bytes(), b"v"]).await;
    }
    wait_field(&mut m, "connected_slaves", "1").await;
    let port_text = port.to_string();
    ok(
        &mut m,
        &[b"FAILOVER", b"TO", b"127.0.0.1", port_text.as_bytes()],
    )
    .await;
    wait_field(&mut m, "role", "slave").await;
    let mut r = RawConn::connect(real).await;
    wait_field(&mut r, "role", "master").await;
    assert_eq!(
        call(&mut r, &[b"GET", b"k99"]).await,
        Frame::Bulk("v".into())
    );
    // And back: the real master hands over to us.
    wait_field(&mut r, "connected_slaves", "1").await;
    ok(&mut r, &[b"SET", b"from-real", b"1"]).await;
    ok(&mut r, &[b"FAILOVER"]).await;
    wait_field(&mut m, "role", "master").await;
    wait_field(&mut r, "role", "slave").await;
    assert_eq!(
        call(&mut m, &[b"GET", b"from-real"]).await,
        Frame::Bulk("1".into())
    );
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
}
