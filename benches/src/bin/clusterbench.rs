//! Cluster benchmark: rediscover-server nodes side by side with redis-server nodes, on the same
//! machine, with the same settings, plus the in-process `TestCluster` and
//! `rediscover-topology cluster`.
//!
//! ```text
//! cargo build --release -p rediscover-testserver --bins -p rediscover-benches
//! target/release/clusterbench --rediscover-server target/release/rediscover-server \
//!     --rediscover-topology target/release/rediscover-topology \
//!     --redis-server /usr/bin/redis-server --redis-cli /usr/bin/redis-cli \
//!     --redis-benchmark /usr/bin/redis-benchmark --runs 3 --node-timeout 1000
//! ```
//!
//! Measurements (each the median of `--runs`, the two servers alternating run by run):
//!
//! 1. **Ready 3×1 cluster, processes.** Six fresh processes (`--cluster-enabled yes
//!    --cluster-node-timeout <T> --save ''`), then `redis-cli --cluster create ...
//!    --cluster-replicas 1 --cluster-yes`; times from the spawn of the first process until
//!    `redis-cli` returns, until every node says `cluster_state:ok`, and until every replica's
//!    link is up at its master's offset. (redis-cli itself waits 1 s after its MEETs.)
//! 2. **Ready 3×1 cluster, in-process** (and the in-process failover time after a kill, with
//!    the default 200 ms node timeout) (`TestCluster::builder().masters(3)
//!    .replicas_per_master(1).start()`, default fast timers) and through
//!    `rediscover-topology cluster --masters 3 --replicas 1 --port 0` (spawn until `READY`).
//! 3. **Failover.** On a ready process cluster, `SIGKILL` a master; time until its replica
//!    reports `role:master` and `cluster_state:ok`.
//! 4. **Throughput.** `redis-benchmark --cluster -t set,get -n <N> -c 50 -P 16` against a ready
//!    process cluster; requests per second (`--skip-throughput` leaves it out).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Opts {
    ours: PathBuf,
    topology: PathBuf,
    redis: PathBuf,
    cli: PathBuf,
    benchmark: PathBuf,
    runs: usize,
    node_timeout: u64,
    requests: u64,
    workdir: PathBuf,
    skip_throughput: bool,
}

fn opts() -> Opts {
    let mut o = Opts {
        ours: "target/release/rediscover-server".into(),
        topology: "target/release/rediscover-topology".into(),
        redis: "/usr/bin/redis-server".into(),
        cli: "/usr/bin/redis-cli".into(),
        benchmark: "/usr/bin/redis-benchmark".into(),
        runs: 3,
        node_timeout: 1000,
        requests: 500_000,
        workdir: std::env::temp_dir().join("clusterbench"),
        skip_throughput: false,
    };
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(i) = args.iter().position(|a| a == "--skip-throughput") {
        o.skip_throughput = true;
        args.remove(i);
    }
    let mut i = 0;
    while i + 1 < args.len() {
        let v = args[i + 1].clone();
        match args[i].as_str() {
            "--rediscover-server" => o.ours = v.into(),
            "--rediscover-topology" => o.topology = v.into(),
            "--redis-server" => o.redis = v.into(),
            "--redis-cli" => o.cli = v.into(),
            "--redis-benchmark" => o.benchmark = v.into(),
            "--runs" => o.runs = v.parse().expect("--runs"),
            "--node-timeout" => o.node_timeout = v.parse().expect("--node-timeout"),
            "--requests" => o.requests = v.parse().expect("--requests"),
            "--workdir" => o.workdir = v.into(),
            other => panic!("unknown option {other}"),
        }
        i += 2;
    }
    o
}

fn free_cluster_port() -> u16 {
    loop {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let p = l.local_addr().expect("addr").port();
        if p <= 55535 && std::net::TcpListener::bind(("127.0.0.1", p + 10000)).is_ok() {
            return p;
        }
    }
}

struct Proc {
    child: Child,
    port: u16,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn cli(o: &Opts, port: u16, args: &[&str]) -> String {
    let out = Command::new(&o.cli)
        .arg("-p")
        .arg(port.to_string())
        .args(args)
        .stderr(Stdio::null())
        .output()
        .expect("redis-cli");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn start_nodes(o: &Opts, binary: &PathBuf, n: usize, tag: &str) -> Vec<Proc> {
    (0..n)
        .map(|_| {
            let port = free_cluster_port();
            let dir = o.workdir.join(format!("{tag}-{port}"));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).expect("dir");
            let child = Command::new(binary)
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--cluster-enabled", "yes"])
                .args(["--cluster-node-timeout", &o.node_timeout.to_string()])
                .args(["--save", "", "--appendonly", "no"])
                .arg("--dir")
                .arg(&dir)
                .arg("--logfile")
                .arg(dir.join("node.log"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn");
            Proc { child, port }
        })
        .collect()
}

fn wait_up(o: &Opts, nodes: &[Proc]) {
    for n in nodes {
        while !cli(o, n.port, &["PING"]).contains("PONG") {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

fn field(info: &str, name: &str) -> Option<String> {
    info.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
        .map(|v| v.trim().to_string())
}

fn all_ok(o: &Opts, nodes: &[Proc]) -> bool {
    nodes.iter().all(|n| {
        field(&cli(o, n.port, &["CLUSTER", "INFO"]), "cluster_state").as_deref() == Some("ok")
    })
}

fn all_synced(o: &Opts, nodes: &[Proc]) -> bool {
    nodes.iter().all(|n| {
        let info = cli(o, n.port, &["INFO", "replication"]);
        if field(&info, "role").as_deref() != Some("slave") {
            return true;
        }
        let Some(mport) = field(&info, "master_port") else {
            return false;
        };
        let master = cli(o, mport.parse().unwrap_or(0), &["INFO", "replication"]);
        field(&info, "master_link_status").as_deref() == Some("up")
            && field(&info, "slave_repl_offset") == field(&master, "master_repl_offset")
    })
}

/// Forms a 3×1 cluster of fresh processes; returns them and (create, ok, synced) seconds.
fn form(o: &Opts, binary: &PathBuf, tag: &str) -> (Vec<Proc>, f64, f64, f64) {
    let t = Instant::now();
    let nodes = start_nodes(o, binary, 6, tag);
    wait_up(o, &nodes);
    let mut args = vec!["--cluster".to_string(), "create".to_string()];
    args.extend(nodes.iter().map(|n| format!("127.0.0.1:{}", n.port)));
    args.extend(["--cluster-replicas", "1", "--cluster-yes"].map(String::from));
    let out = Command::new(&o.cli)
        .args(&args)
        .output()
        .expect("redis-cli --cluster create");
    assert!(out.status.success(), "create failed");
    let created = t.elapsed().as_secs_f64();
    while !all_ok(o, &nodes) {
        std::thread::sleep(Duration::from_millis(2));
    }
    let ok = t.elapsed().as_secs_f64();
    while !all_synced(o, &nodes) {
        std::thread::sleep(Duration::from_millis(2));
    }
    (nodes, created, ok, t.elapsed().as_secs_f64())
}

fn failover(o: &Opts, nodes: &mut [Proc]) -> f64 {
    let master = nodes
        .iter()
        .position(|n| {
            field(&cli(o, n.port, &["INFO", "replication"]), "role").as_deref() == Some("master")
        })
        .expect("a master");
    let mport = nodes[master].port.to_string();
    let replica = nodes
        .iter()
        .position(|n| {
            let info = cli(o, n.port, &["INFO", "replication"]);
            field(&info, "master_port").as_deref() == Some(mport.as_str())
        })
        .expect("its replica");
    let rport = nodes[replica].port;
    let t = Instant::now();
    let _ = nodes[master].child.kill();
    let _ = nodes[master].child.wait();
    loop {
        let info = cli(o, rport, &["INFO", "replication"]);
        if field(&info, "role").as_deref() == Some("master")
            && field(&cli(o, rport, &["CLUSTER", "INFO"]), "cluster_state").as_deref() == Some("ok")
        {
            return t.elapsed().as_secs_f64();
        }
        assert!(t.elapsed() < Duration::from_secs(120), "no failover");
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn throughput(o: &Opts, nodes: &[Proc], test: &str) -> f64 {
    let out = Command::new(&o.benchmark)
        .args(["--cluster", "-p", &nodes[0].port.to_string()])
        .args([
            "-t",
            test,
            "-n",
            &o.requests.to_string(),
            "-c",
            "50",
            "-P",
            "16",
            "-q",
        ])
        .output()
        .expect("redis-benchmark");
    let text = String::from_utf8_lossy(&out.stdout).replace('\r', "\n");
    text.lines()
        .rfind(|l| l.to_ascii_lowercase().starts_with(&format!("{test}:")))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.partial_cmp(b).expect("numbers"));
    v[v.len() / 2]
}

fn main() {
    let o = opts();
    std::fs::create_dir_all(&o.workdir).expect("workdir");
    let modes = [("rediscover", o.ours.clone()), ("redis", o.redis.clone())];
    let mut rows: Vec<(String, [Vec<f64>; 2])> = [
        "create via redis-cli (s)",
        "all nodes ok (s)",
        "replicas synced (s)",
        "failover after SIGKILL (s)",
        "SET -P 16 (req/s)",
        "GET -P 16 (req/s)",
    ]
    .iter()
    .map(|n| (n.to_string(), [Vec::new(), Vec::new()]))
    .collect();
    for run in 0..o.runs {
        for (m, (tag, binary)) in modes.iter().enumerate() {
            let (mut nodes, created, ok, synced) = form(&o, binary, tag);
            rows[0].1[m].push(created);
            rows[1].1[m].push(ok);
            rows[2].1[m].push(synced);
            if !o.skip_throughput {
                rows[4].1[m].push(throughput(&o, &nodes, "set"));
                rows[5].1[m].push(throughput(&o, &nodes, "get"));
            }
            rows[3].1[m].push(failover(&o, &mut nodes));
            eprintln!("run {run} {tag}: done");
        }
    }
    println!(
        "node timeout {} ms, {} runs (medians)",
        o.node_timeout, o.runs
    );
    println!("{:<32} {:>14} {:>14}", "", "rediscover", "redis");
    for (name, [a, b]) in &rows {
        println!(
            "{name:<32} {:>14.3} {:>14.3}",
            median(a.clone()),
            median(b.clone())
        );
    }
    // In-process and through rediscover-topology (ours only).
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mut inproc = Vec::new();
    for _ in 0..o.runs.max(9) {
        let t = Instant::now();
        let c = rt.block_on(async {
            rediscover_testserver::TestCluster::builder()
                .masters(3)
                .replicas_per_master(1)
                .start()
                .await
                .expect("in-process cluster")
        });
        inproc.push(t.elapsed().as_secs_f64() * 1000.0);
        drop(c);
    }
    // In-process failover with the defaults (node timeout 200 ms, 4 ms cron).
    let mut inproc_failover = Vec::new();
    for _ in 0..o.runs.max(9) {
        let ms = rt.block_on(async {
            let mut c = rediscover_testserver::TestCluster::builder()
                .masters(3)
                .replicas_per_master(1)
                .start()
                .await
                .expect("in-process cluster");
            let m = c.master_of_slot(0).expect("a master");
            let t = Instant::now();
            c.kill(m).await;
            c.wait_for_master_of_slot(0).await.expect("failover");
            t.elapsed().as_secs_f64() * 1000.0
        });
        inproc_failover.push(ms);
    }
    let mut topo = Vec::new();
    for _ in 0..o.runs {
        use std::io::BufRead;
        let t = Instant::now();
        let mut child = Command::new(&o.topology)
            .args([
                "cluster",
                "--masters",
                "3",
                "--replicas",
                "1",
                "--port",
                "0",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("rediscover-topology");
        let out = child.stdout.take().expect("stdout");
        for line in std::io::BufReader::new(out).lines() {
            if line.expect("line") == "READY" {
                break;
            }
        }
        topo.push(t.elapsed().as_secs_f64() * 1000.0);
        let _ = child.kill();
        let _ = child.wait();
    }
    println!(
        "in-process TestCluster 3x1 ready (ms): {:.1} (median of {})",
        median(inproc.clone()),
        inproc.len()
    );
    println!(
        "in-process TestCluster failover after kill (ms): {:.1} (median of {})",
        median(inproc_failover.clone()),
        inproc_failover.len()
    );
    println!(
        "rediscover-topology cluster 3x1 READY (ms): {:.1} (median of {})",
        median(topo.clone()),
        topo.len()
    );
}
