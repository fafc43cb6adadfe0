//! Fault injection on in-process nodes: kill and restart at the same address, freeze and thaw,
//! cutting a node off from a peer. Topology tests (Sentinel, Cluster) are built on these.

mod common;

use std::time::Duration;

use common::{wait_until, RawConn, TestServer};
use rediscover_testserver::config::Timers;
use rediscover_testserver::topology::ReplicationSet;

const WAIT: Duration = Duration::from_secs(10);

#[tokio::test]
async fn killed_server_comes_back_at_its_address_with_what_it_saved() {
    let mut server = TestServer::start().await.unwrap();
    let addr = server.addr();
    let mut c = RawConn::connect(addr).await;
    assert_eq!(c.call(&["SET", "saved", "1"]).await, b"+OK\r\n");
    assert_eq!(c.call(&["SAVE"]).await, b"+OK\r\n");
    assert_eq!(c.call(&["SET", "unsaved", "2"]).await, b"+OK\r\n");

    server.kill().await;
    assert!(!server.is_running());
    assert!(c.is_closed().await, "a killed server's connections close");
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "nothing listens while it is down"
    );

    server.restart().await.unwrap();
    assert!(server.is_running());
    assert_eq!(server.addr(), addr);
    let mut c = RawConn::connect(addr).await;
    assert_eq!(c.call(&["GET", "saved"]).await, b"$1\r\n1\r\n");
    assert_eq!(c.call(&["GET", "unsaved"]).await, b"$-1\r\n");
    // It can be killed and restarted again.
    server.restart().await.unwrap();
    let mut c = RawConn::connect(addr).await;
    assert_eq!(c.call(&["DBSIZE"]).await, b":1\r\n");
}

#[tokio::test]
async fn restart_keeps_runtime_configuration_and_users() {
    let mut server = TestServer::builder()
        .user("alice", "secret")
        .start()
        .await
        .unwrap();
    let mut c = RawConn::connect(server.addr()).await;
    assert_eq!(
        c.call(&["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"])
            .await,
        b"+OK\r\n"
    );
    server.restart().await.unwrap();
    let mut c = RawConn::connect(server.addr()).await;
    assert_eq!(
        c.call(&["CONFIG", "GET", "maxmemory-policy"]).await,
        b"*2\r\n$16\r\nmaxmemory-policy\r\n$11\r\nallkeys-lru\r\n"
    );
    assert_eq!(c.call(&["AUTH", "alice", "secret"]).await, b"+OK\r\n");
}

#[tokio::test]
async fn restarted_replica_resyncs_and_follows_its_master() {
    let mut set = ReplicationSet::start(1).await.unwrap();
    let mut m = RawConn::connect(set.master.addr()).await;
    assert_eq!(m.call(&["SET", "a", "1"]).await, b"+OK\r\n");
    set.wait_in_sync(WAIT).await.unwrap();

    set.replicas[0].kill().await;
    assert_eq!(m.call(&["SET", "b", "2"]).await, b"+OK\r\n");
    set.replicas[0].restart().await.unwrap();
    set.wait_in_sync(WAIT).await.unwrap();
    let mut r = RawConn::connect(set.replicas[0].addr()).await;
    assert_eq!(
        r.call(&["MGET", "a", "b"]).await,
        b"*2\r\n$1\r\n1\r\n$1\r\n2\r\n"
    );
}

#[tokio::test]
async fn frozen_server_answers_nothing_until_thawed() {
    let server = TestServer::start().await.unwrap();
    let mut c = RawConn::connect(server.addr()).await;
    assert_eq!(c.call(&["PING"]).await, b"+PONG\r\n");
    server.freeze();
    c.send(&["SET", "k", "v"]).await;
    assert_eq!(
        c.read_raw_timeout(Duration::from_millis(100)).await,
        None,
        "a frozen server runs nothing"
    );
    // New connections are accepted by the kernel but not served either.
    let mut late = RawConn::connect(server.addr()).await;
    late.send(&["PING"]).await;
    assert_eq!(late.read_raw_timeout(Duration::from_millis(50)).await, None);

    server.thaw();
    assert_eq!(c.read_raw().await, b"+OK\r\n");
    assert_eq!(late.read_raw().await, b"+PONG\r\n");
    assert_eq!(c.call(&["GET", "k"]).await, b"$1\r\nv\r\n");
}

#[tokio::test]
async fn frozen_replica_falls_behind_then_catches_up() {
    let set = ReplicationSet::start(1).await.unwrap();
    let replica = &set.replicas[0];
    let mut m = RawConn::connect(set.master.addr()).await;
    replica.freeze();
    assert_eq!(m.call(&["SET", "k", "v"]).await, b"+OK\r\n");
    // WAIT cannot be satisfied by a frozen replica.
    assert_eq!(m.call(&["WAIT", "1", "100"]).await, b":0\r\n");
    assert!(replica.node().lock().dbs[0].is_empty());
    replica.thaw();
    set.wait_in_sync(WAIT).await.unwrap();
    assert_eq!(m.call(&["WAIT", "1", "5000"]).await, b":1\r\n");
}

#[tokio::test]
async fn replica_cut_off_from_its_master_gets_nothing_until_healed() {
    let set = ReplicationSet::start(1).await.unwrap();
    let replica = &set.replicas[0];
    let mut m = RawConn::connect(set.master.addr()).await;
    replica.cut_off_from(set.master.addr());
    assert_eq!(m.call(&["SET", "k", "v"]).await, b"+OK\r\n");
    assert_eq!(m.call(&["WAIT", "1", "100"]).await, b":0\r\n");
    // The replica itself still serves its clients: only the link is cut.
    let mut r = RawConn::connect(replica.addr()).await;
    assert_eq!(r.call(&["GET", "k"]).await, b"$-1\r\n");

    replica.heal_from(set.master.addr());
    set.wait_in_sync(WAIT).await.unwrap();
    assert_eq!(r.call(&["GET", "k"]).await, b"$1\r\nv\r\n");
}

#[tokio::test]
async fn a_partition_outlives_a_restart() {
    let mut set = ReplicationSet::start(1).await.unwrap();
    let master = set.master.addr();
    set.replicas[0].cut_off_from(master);
    set.replicas[0].restart().await.unwrap();
    let mut m = RawConn::connect(master).await;
    assert_eq!(m.call(&["SET", "k", "v"]).await, b"+OK\r\n");
    assert_eq!(m.call(&["WAIT", "1", "100"]).await, b":0\r\n");
    set.replicas[0].heal_from(master);
    set.wait_in_sync(WAIT).await.unwrap();
}

#[tokio::test]
async fn fast_timers_are_per_node() {
    let fast = Timers::default().faster(50);
    assert_eq!(fast.repl_cron, Duration::from_millis(20));
    assert_eq!(
        Timers::default().faster(1_000_000).repl_cron,
        Duration::from_millis(1)
    );
    let quick = TestServer::builder()
        .timers(fast.clone())
        .start()
        .await
        .unwrap();
    let normal = TestServer::start().await.unwrap();
    assert_eq!(quick.node().lock().config.timers, fast);
    assert_eq!(normal.node().lock().config.timers, Timers::default());
    // A fast replica acknowledges its master on its own period, without being asked.
    let master = TestServer::start().await.unwrap();
    let replica = TestServer::builder()
        .timers(fast)
        .replica_of(master.addr())
        .start()
        .await
        .unwrap();
    let mut m = RawConn::connect(master.addr()).await;
    assert!(wait_until(WAIT, || async { replica.node().lock().link_up() }).await);
    assert_eq!(m.call(&["SET", "k", "v"]).await, b"+OK\r\n");
    let target = master.repl_offset();
    assert!(
        wait_until(WAIT, || async {
            master
                .node()
                .lock()
                .repl
                .replicas
                .iter()
                .any(|r| r.ack_offset >= target)
        })
        .await
    );
}
