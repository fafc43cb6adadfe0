//! Cluster scenarios on in-process nodes: forming a cluster, redirections, failover,
//! partitions, restarts, resharding.

mod common;

use std::time::{Duration, Instant};

use common::RawConn;
use rediscover_testserver::TestCluster;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_3x1_cluster_forms_and_redirects() {
    let t = Instant::now();
    let cluster = TestCluster::builder()
        .masters(3)
        .replicas_per_master(1)
        .start()
        .await
        .unwrap();
    eprintln!("ready in {:?}", t.elapsed());
    let owner = cluster.master_of_key(b"foo").unwrap();
    let other = (owner + 1) % 3;
    let mut c = RawConn::connect(cluster.node(other).addr()).await;
    let reply = c.call(&["SET", "foo", "bar"]).await;
    let port = cluster.node(owner).addr().port();
    assert_eq!(
        String::from_utf8_lossy(&reply),
        format!("-MOVED 12182 127.0.0.1:{port}\r\n")
    );
    let mut o = RawConn::connect(cluster.node(owner).addr()).await;
    assert_eq!(o.call(&["SET", "foo", "bar"]).await, b"+OK\r\n");
    let info = o.call(&["CLUSTER", "INFO"]).await;
    assert!(String::from_utf8_lossy(&info).contains("cluster_state:ok"));
    let nodes = o.call(&["CLUSTER", "NODES"]).await;
    eprintln!("{}", String::from_utf8_lossy(&nodes));
    let _ = Duration::from_secs(1);
}

fn cpu_ms() -> u64 {
    let s = std::fs::read_to_string("/proc/self/stat").unwrap();
    let f: Vec<&str> = s.rsplit(')').next().unwrap().split_whitespace().collect();
    (f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()) * 10
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_cost() {
    let cluster = TestCluster::builder()
        .masters(3)
        .replicas_per_master(1)
        .start()
        .await
        .unwrap();
    let c0 = cpu_ms();
    let t = Instant::now();
    tokio::time::sleep(Duration::from_secs(2)).await;
    eprintln!("idle cpu {} ms over {:?}", cpu_ms() - c0, t.elapsed());
    let t = Instant::now();
    for _ in 0..20 {
        let mut c = RawConn::connect(cluster.node(0).addr()).await;
        c.call(&["PING"]).await;
    }
    eprintln!("20 pings {:?}", t.elapsed());
}
