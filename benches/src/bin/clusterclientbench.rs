//! `ClusterClient` next to redis-rs's async cluster client (`redis::cluster_async`), on one
//! real Redis cluster (three `redis-server --cluster-enabled yes` masters joined by
//! `redis-cli --cluster create`), the two clients alternating run by run.
//!
//! ```text
//! cargo build --release -p rediscover-benches --bin clusterclientbench
//! target/release/clusterclientbench --redis-server /usr/bin/redis-server \
//!     --redis-cli /usr/bin/redis-cli --ops 200000 --runs 3
//! ```
//!
//! Workloads (ops/s, median of `--runs`, and the process's CPU time per operation):
//!
//! 1. **single**: `SET key:<i> v`, 64 tasks each sending one command at a time.
//! 2. **pipeline, cross-slot**: pipelines of 100 `SET`s over 100 different keys (all slots),
//!    8 in flight. redis-rs sends a cluster pipeline to one node (the first key's), so it
//!    cannot run this one; it runs:
//! 3. **pipeline, one slot**: pipelines of 100 `SET`s whose keys share a hash tag (one slot,
//!    one node per pipeline), 8 in flight: the best case for both.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rediscover::{Commands, Pipeline};

struct Opts {
    redis: String,
    cli: String,
    ops: usize,
    runs: usize,
}

fn opts() -> Opts {
    let mut o = Opts {
        redis: "/usr/bin/redis-server".into(),
        cli: "/usr/bin/redis-cli".into(),
        ops: 200_000,
        runs: 3,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i + 1 < args.len() {
        let v = args[i + 1].clone();
        match args[i].as_str() {
            "--redis-server" => o.redis = v,
            "--redis-cli" => o.cli = v,
            "--ops" => o.ops = v.parse().expect("--ops N"),
            "--runs" => o.runs = v.parse().expect("--runs N"),
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

struct Node(Child, u16, std::path::PathBuf);

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        let _ = std::fs::remove_dir_all(&self.2);
    }
}

fn cpu_time() -> Duration {
    // SAFETY: getrusage writes into the zeroed struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let t = |tv: libc::timeval| Duration::new(tv.tv_sec as u64, tv.tv_usec as u32 * 1000);
    t(usage.ru_utime) + t(usage.ru_stime)
}

#[derive(Clone, Copy)]
enum Work {
    Single,
    CrossSlotPipeline,
    OneSlotPipeline,
}

async fn run_ours(client: &rediscover::ClusterClient, work: Work, ops: usize) -> (f64, Duration) {
    let started = (Instant::now(), cpu_time());
    let mut tasks = Vec::new();
    match work {
        Work::Single => {
            let per = ops / 64;
            for t in 0..64 {
                let c = client.clone();
                tasks.push(tokio::spawn(async move {
                    for i in 0..per {
                        c.set(format!("key:{t}:{i}"), "v").await.unwrap();
                    }
                }));
            }
        }
        Work::CrossSlotPipeline | Work::OneSlotPipeline => {
            let per = ops / 8 / 100;
            for t in 0..8 {
                let c = client.clone();
                tasks.push(tokio::spawn(async move {
                    let mut p = Pipeline::new();
                    for i in 0..per {
                        p.clear();
                        for j in 0..100 {
                            match work {
                                Work::OneSlotPipeline => {
                                    p.cmd("SET").arg(format!("{{t{t}:{i}}}:{j}")).arg("v")
                                }
                                _ => p.cmd("SET").arg(format!("key:{t}:{i}:{j}")).arg("v"),
                            };
                        }
                        let r = p.execute(&c).await.unwrap();
                        assert!(r.iter().all(|r| r.is_ok()));
                    }
                }));
            }
        }
    }
    for t in tasks {
        t.await.unwrap();
    }
    let (wall, cpu) = (started.0.elapsed(), cpu_time() - started.1);
    (ops as f64 / wall.as_secs_f64(), cpu / ops as u32)
}

async fn run_redis_rs(
    conn: &redis::cluster_async::ClusterConnection,
    work: Work,
    ops: usize,
) -> Option<(f64, Duration)> {
    let started = (Instant::now(), cpu_time());
    let mut tasks = Vec::new();
    match work {
        Work::Single => {
            let per = ops / 64;
            for t in 0..64 {
                let mut c = conn.clone();
                tasks.push(tokio::spawn(async move {
                    for i in 0..per {
                        let _: () = redis::cmd("SET")
                            .arg(format!("key:{t}:{i}"))
                            .arg("v")
                            .query_async(&mut c)
                            .await
                            .unwrap();
                    }
                    true
                }));
            }
        }
        Work::CrossSlotPipeline | Work::OneSlotPipeline => {
            let per = ops / 8 / 100;
            for t in 0..8 {
                let mut c = conn.clone();
                tasks.push(tokio::spawn(async move {
                    for i in 0..per {
                        let mut p = redis::pipe();
                        for j in 0..100 {
                            match work {
                                Work::OneSlotPipeline => {
                                    p.cmd("SET").arg(format!("{{t{t}:{i}}}:{j}")).arg("v")
                                }
                                _ => p.cmd("SET").arg(format!("key:{t}:{i}:{j}")).arg("v"),
                            };
                        }
                        let r: redis::RedisResult<Vec<redis::Value>> = p.query_async(&mut c).await;
                        if r.is_err() {
                            return false;
                        }
                    }
                    true
                }));
            }
        }
    }
    let mut ok = true;
    for t in tasks {
        ok &= t.await.unwrap();
    }
    if !ok {
        return None;
    }
    let (wall, cpu) = (started.0.elapsed(), cpu_time() - started.1);
    Some((ops as f64 / wall.as_secs_f64(), cpu / ops as u32))
}

fn median(mut v: Vec<(f64, Duration)>) -> (f64, Duration) {
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    v[v.len() / 2]
}

fn main() {
    let o = opts();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let mut nodes = Vec::new();
    for _ in 0..3 {
        let port = free_cluster_port();
        let dir = std::env::temp_dir().join(format!("ccbench-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let child = Command::new(&o.redis)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args([
                "--cluster-enabled",
                "yes",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .arg("--dir")
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server");
        nodes.push(Node(child, port, dir));
    }
    let addrs: Vec<String> = nodes.iter().map(|n| format!("127.0.0.1:{}", n.1)).collect();
    for a in &addrs {
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(a).is_err() {
            assert!(Instant::now() < deadline, "{a} did not start");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    let mut args = vec!["--cluster".to_string(), "create".to_string()];
    args.extend(addrs.iter().cloned());
    args.push("--cluster-yes".into());
    let out = Command::new(&o.cli)
        .args(&args)
        .output()
        .expect("redis-cli");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    rt.block_on(async {
        // Wait for cluster_state:ok everywhere.
        for a in &addrs {
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                let c = rediscover::Client::connect(&format!("redis://{a}"))
                    .await
                    .unwrap();
                let info: String = c.cmd("CLUSTER").arg("INFO").query().await.unwrap();
                if info.contains("cluster_state:ok") {
                    break;
                }
                assert!(Instant::now() < deadline);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        let ours = rediscover::ClusterClient::connect(&addrs).await.unwrap();
        let urls: Vec<String> = addrs.iter().map(|a| format!("redis://{a}")).collect();
        let theirs = redis::cluster::ClusterClient::new(urls)
            .unwrap()
            .get_async_connection()
            .await
            .unwrap();
        let theirs = Arc::new(theirs);
        println!(
            "{} ops per run, median of {} runs, clients alternating; 1 client runtime thread",
            o.ops, o.runs
        );
        for (name, work) in [
            ("single SET, 64 in flight", Work::Single),
            (
                "pipelines of 100 SETs, cross-slot, 8 in flight",
                Work::CrossSlotPipeline,
            ),
            (
                "pipelines of 100 SETs, one slot each, 8 in flight",
                Work::OneSlotPipeline,
            ),
        ] {
            let (mut a, mut b) = (Vec::new(), Vec::new());
            let mut theirs_failed = false;
            for _ in 0..o.runs {
                a.push(run_ours(&ours, work, o.ops).await);
                match run_redis_rs(&theirs, work, o.ops).await {
                    Some(r) => b.push(r),
                    None => theirs_failed = true,
                }
            }
            let (ours_ops, ours_cpu) = median(a);
            print!(
                "{name}: rediscover {:.0} ops/s ({:.2} µs CPU/op)",
                ours_ops,
                ours_cpu.as_secs_f64() * 1e6
            );
            if theirs_failed || b.is_empty() {
                println!("; redis-rs: refused (errors)");
            } else {
                let (theirs_ops, theirs_cpu) = median(b);
                println!(
                    "; redis-rs {:.0} ops/s ({:.2} µs CPU/op); ratio {:.2}x",
                    theirs_ops,
                    theirs_cpu.as_secs_f64() * 1e6,
                    ours_ops / theirs_ops
                );
            }
        }
    });
}
