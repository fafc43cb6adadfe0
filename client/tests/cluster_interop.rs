//! `ClusterClient` against a real Redis 7.0 cluster: six `redis-server --cluster-enabled yes`
//! processes on free ports, joined by `redis-cli --cluster create --cluster-replicas 1`; the
//! same workload as the in-process tests (single `INCR`s, cross-slot pipelines, cross-slot
//! `MGET`) runs while `redis-cli --cluster reshard` moves 1000 slots, then while a replica
//! takes over with `CLUSTER FAILOVER`. No error may surface and no acknowledged write may be
//! missing. Before that, `EVAL`, `EVALSHA` and `FCALL` are routed by their keys after
//! `SCRIPT LOAD` and `FUNCTION LOAD` went to every node.
//!
//! Runs only when the binaries are named:
//!
//! ```text
//! REDISCOVER_REAL_REDIS_SERVER=/usr/bin/redis-server REDISCOVER_REDIS_CLI=/usr/bin/redis-cli \
//!     cargo test -p rediscover --test cluster_interop
//! ```

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rediscover::cluster::{ClusterClient, ClusterConfig};
use rediscover::{Commands, Config, Connection, Pipeline};

fn binaries() -> Option<(String, String)> {
    match (
        std::env::var("REDISCOVER_REAL_REDIS_SERVER"),
        std::env::var("REDISCOVER_REDIS_CLI"),
    ) {
        (Ok(server), Ok(cli)) if !server.is_empty() && !cli.is_empty() => Some((server, cli)),
        _ => {
            eprintln!("skipped: set REDISCOVER_REAL_REDIS_SERVER and REDISCOVER_REDIS_CLI to run");
            None
        }
    }
}

/// A port `p` with `p + 10000` free too (the cluster bus).
fn free_cluster_port() -> u16 {
    loop {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let p = l.local_addr().unwrap().port();
        if p <= 55535 && std::net::TcpListener::bind(("127.0.0.1", p + 10000)).is_ok() {
            return p;
        }
    }
}

struct Node {
    child: Child,
    port: u16,
    dir: std::path::PathBuf,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Node {
    fn start(server: &str) -> Node {
        let port = free_cluster_port();
        let dir = std::env::temp_dir().join(format!(
            "rediscover-cluster-client-{}-{port}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let child = Command::new(server)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--cluster-enabled", "yes", "--cluster-node-timeout", "1000"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        Node { child, port, dir }
    }

    fn host_port(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    async fn conn(&self) -> Connection {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let config = Config::default().port(self.port);
            match Connection::connect(&config).await {
                Ok(c) => return c,
                Err(e) => {
                    assert!(Instant::now() < deadline, "node {}: {e}", self.port);
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        }
    }

    async fn query(&self, argv: &[&str]) -> String {
        let mut cmd = rediscover::Cmd::new(argv[0]);
        for a in &argv[1..] {
            cmd.add(*a);
        }
        let conn = self.conn().await;
        let reply: rediscover::resp::Frame = conn.query(cmd).await.unwrap();
        match reply {
            rediscover::resp::Frame::Bulk(b)
            | rediscover::resp::Frame::Simple(b)
            | rediscover::resp::Frame::Verbatim { text: b, .. } => {
                String::from_utf8_lossy(&b).into_owned()
            }
            other => format!("{other:?}"),
        }
    }
}

fn cli(cli: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new(cli).args(args).output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

async fn poll<F, Fut>(what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(60);
    while !f().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

type Acked = HashMap<String, i64>;

/// The workload: writers (single INCRs, cross-slot pipelines) and a cross-slot MGET reader,
/// until `stop`; returns what was acknowledged and every error.
fn workload(
    client: &ClusterClient,
    stop: &Arc<AtomicBool>,
) -> Vec<tokio::task::JoinHandle<(Acked, Vec<String>)>> {
    let mut tasks = Vec::new();
    for w in 0..4usize {
        let (client, stop) = (client.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let (mut acked, mut errors) = (Acked::new(), Vec::new());
            let mut i = w;
            while !stop.load(Ordering::Relaxed) {
                i += 4;
                if w % 2 == 0 {
                    let key = format!("interop:{}", i % 2000);
                    match client.incr::<i64>(&key).await {
                        Ok(_) => *acked.entry(key).or_default() += 1,
                        Err(e) => errors.push(format!("INCR {key}: {e}")),
                    }
                } else {
                    let keys: Vec<String> = (0..20)
                        .map(|k| format!("interop:{}", (i * 7 + k * 97) % 2000))
                        .collect();
                    let mut p = Pipeline::new();
                    for k in &keys {
                        p.cmd("INCR").arg(k);
                    }
                    match p.execute(&client).await {
                        Ok(results) => {
                            for (k, r) in keys.iter().zip(results) {
                                match r {
                                    Ok(_) => *acked.entry(k.clone()).or_default() += 1,
                                    Err(e) => errors.push(format!("pipeline INCR {k}: {e}")),
                                }
                            }
                        }
                        Err(e) => errors.push(format!("pipeline: {e}")),
                    }
                }
            }
            (acked, errors)
        }));
    }
    let (client, stop) = (client.clone(), stop.clone());
    tasks.push(tokio::spawn(async move {
        let mut errors = Vec::new();
        let mut i = 0;
        while !stop.load(Ordering::Relaxed) {
            i += 1;
            let keys: Vec<String> = (0..10)
                .map(|k| format!("interop:{}", (i + k * 131) % 2000))
                .collect();
            if let Err(e) = client.mget::<Vec<Option<i64>>>(&keys).await {
                errors.push(format!("MGET: {e}"));
            }
        }
        (Acked::new(), errors)
    }));
    tasks
}

async fn finish(
    client: &ClusterClient,
    tasks: Vec<tokio::task::JoinHandle<(Acked, Vec<String>)>>,
    total: &mut Acked,
) {
    let mut errors = Vec::new();
    for t in tasks {
        let (acked, errs) = t.await.unwrap();
        for (k, n) in acked {
            *total.entry(k).or_default() += n;
        }
        errors.extend(errs);
    }
    assert!(
        errors.is_empty(),
        "errors surfaced: {:?}",
        &errors[..errors.len().min(10)]
    );
    for (k, n) in total.iter() {
        let v: Option<i64> = client.get(k).await.unwrap();
        assert_eq!(v.unwrap_or(0), *n, "{k}: every acknowledged INCR, once");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_workload_runs_through_redis_cli_reshard_and_a_failover_on_real_redis() {
    let Some((server, cli_path)) = binaries() else {
        return;
    };
    let nodes: Vec<Node> = (0..6).map(|_| Node::start(&server)).collect();
    for n in &nodes {
        n.conn().await;
    }
    let mut args: Vec<String> = vec!["--cluster".into(), "create".into()];
    args.extend(nodes.iter().map(Node::host_port));
    args.extend(["--cluster-replicas", "1", "--cluster-yes"].map(String::from));
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let (ok, out) = cli(&cli_path, &argv);
    assert!(ok, "{out}");
    let entry = nodes[0].host_port();
    poll("a consistent cluster", || {
        let (cli_path, entry) = (cli_path.clone(), entry.clone());
        async move {
            let (ok, out) = cli(&cli_path, &["--cluster", "check", &entry]);
            ok && out.contains("[OK] All 16384 slots covered")
                && !out.contains("[WARNING]")
                && !out.contains("[ERR]")
        }
    })
    .await;

    for n in &nodes {
        poll("cluster_state:ok everywhere", || async {
            n.query(&["CLUSTER", "INFO"])
                .await
                .contains("cluster_state:ok")
        })
        .await;
    }
    let config = ClusterConfig::new(nodes.iter().map(Node::host_port))
        .unwrap()
        .node(
            Config::default()
                .request_timeout(Some(Duration::from_secs(20)))
                .backoff(Duration::from_millis(10), Duration::from_millis(200)),
        )
        .refresh_min_interval(Duration::from_millis(50));
    let client = ClusterClient::with_config(config).await.unwrap();
    assert_eq!(client.masters().len(), 3);
    let mut total = Acked::new();

    // Scripts and functions go by their keys; SCRIPT LOAD and FUNCTION LOAD to every node.
    for i in 0..20 {
        let key = format!("script:{i}");
        let n: i64 = client
            .cmd("EVAL")
            .arg("return redis.call('INCR', KEYS[1])")
            .arg(1)
            .arg(&key)
            .query()
            .await
            .unwrap();
        assert_eq!(n, 1);
    }
    let sha: String = client
        .cmd("SCRIPT")
        .arg("LOAD")
        .arg("return redis.call('INCR', KEYS[1])")
        .query()
        .await
        .unwrap();
    let _: String = client
        .cmd("FUNCTION")
        .arg("LOAD")
        .arg("#!lua name=interop\nredis.register_function('bump', function(keys) return redis.call('INCR', keys[1]) end)")
        .query()
        .await
        .unwrap();
    for i in 0..20 {
        let key = format!("script:{i}");
        let n: i64 = client
            .cmd("EVALSHA")
            .arg(&sha)
            .arg(1)
            .arg(&key)
            .query()
            .await
            .unwrap();
        assert_eq!(n, 2, "EVALSHA on {key}'s node, which has the script");
        let n: i64 = client
            .cmd("FCALL")
            .arg("bump")
            .arg(1)
            .arg(&key)
            .query()
            .await
            .unwrap();
        assert_eq!(n, 3, "FCALL on {key}'s node, which has the function");
    }
    let e = client
        .cmd("EVAL")
        .arg("return 1")
        .arg(2)
        .arg(["script:0", "script:1"])
        .query::<i64>()
        .await
        .unwrap_err();
    assert!(e.to_string().contains("CROSSSLOT"), "{e}");

    // 1. redis-cli --cluster reshard moves 1000 slots while the workload runs.
    let masters: Vec<String> = client.masters().iter().map(|m| m.to_string()).collect();
    let from_node = nodes.iter().find(|n| n.host_port() == masters[0]).unwrap();
    let to_node = nodes.iter().find(|n| n.host_port() == masters[1]).unwrap();
    let (from_id, to_id) = (
        from_node.query(&["CLUSTER", "MYID"]).await,
        to_node.query(&["CLUSTER", "MYID"]).await,
    );
    let stop = Arc::new(AtomicBool::new(false));
    let tasks = workload(&client, &stop);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let reshard = {
        let (cli_path, entry) = (cli_path.clone(), entry.clone());
        tokio::task::spawn_blocking(move || {
            cli(
                &cli_path,
                &[
                    "--cluster",
                    "reshard",
                    &entry,
                    "--cluster-from",
                    &from_id,
                    "--cluster-to",
                    &to_id,
                    "--cluster-slots",
                    "1000",
                    "--cluster-yes",
                    "--cluster-pipeline",
                    "10",
                ],
            )
        })
    };
    let (ok, out) = reshard.await.unwrap();
    assert!(ok, "{out}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, Ordering::Relaxed);
    finish(&client, tasks, &mut total).await;
    let stats = client.stats();
    eprintln!(
        "reshard of 1000 slots: {} keys written, {stats:?}",
        total.len()
    );
    assert!(stats.moved > 0 || stats.ask > 0, "{stats:?}");

    // 2. A replica takes over (CLUSTER FAILOVER) while the workload runs.
    let victim = client.masters()[2].clone();
    let victim_node = nodes
        .iter()
        .find(|n| n.host_port() == victim.to_string())
        .unwrap();
    let victim_id = victim_node.query(&["CLUSTER", "MYID"]).await;
    let mut replica = None;
    for n in &nodes {
        let nodes_line = n.query(&["CLUSTER", "NODES"]).await;
        let me = nodes_line
            .lines()
            .find(|l| l.contains("myself"))
            .unwrap_or("")
            .to_string();
        if me.contains(&victim_id) && me.contains("slave") {
            replica = Some(n);
        }
    }
    let replica = replica.expect("the victim's replica");
    poll("the master to see its replica online", || async {
        victim_node
            .query(&["INFO", "replication"])
            .await
            .contains(&format!("port={},state=online", replica.port))
    })
    .await;
    let stop = Arc::new(AtomicBool::new(false));
    let tasks = workload(&client, &stop);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = client.stats();
    assert_eq!(replica.query(&["CLUSTER", "FAILOVER"]).await, "OK");
    poll("the replica to become a master", || async {
        replica.query(&["ROLE"]).await.contains("master")
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    finish(&client, tasks, &mut total).await;
    let after = client.stats();
    eprintln!("failover: {before:?} -> {after:?}");
    assert!(client.masters().iter().any(|m| m.port() == replica.port));
}
