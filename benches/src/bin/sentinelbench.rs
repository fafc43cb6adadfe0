//! Sentinel failover benchmark: how long after a master dies do clients find the new one, with
//! rediscover-server nodes and sentinels side by side with redis-server and redis-sentinel.
//!
//! ```text
//! cargo build --release -p rediscover-testserver --bin rediscover-server -p rediscover-benches
//! target/release/sentinelbench --rediscover-server target/release/rediscover-server \
//!     --redis-server /usr/bin/redis-server --redis-sentinel /usr/bin/redis-sentinel \
//!     --runs 5 --down-after-ms 1000 --timers-factor 10 --base-port 17600
//! ```
//!
//! Each measurement starts a master, two replicas and three sentinels (quorum 2,
//! `down-after-milliseconds` as given, everything else default) as processes on ports
//! `--base-port`.. (one directory each under `--workdir`, default `$TMPDIR/sentinelbench`,
//! where the logs stay), waits until every sentinel knows both replicas and both other
//! sentinels, then kills the master with SIGKILL and polls, every millisecond:
//!
//! - `SENTINEL GET-MASTER-ADDR-BY-NAME` on every sentinel: the time until the first sentinel
//!   names a replica (what a client asking that sentinel sees), and until all three do;
//! - `ROLE` on both replicas: the time until one answers `master`.
//!
//! Setups ("modes"): `rediscover` (rediscover-server nodes and `rediscover-server --sentinel`,
//! every node with `rediscover-timers-factor` = `--timers-factor`: Redis's periods divided by
//! it, see `Timers::fast`), and `redis` (redis-server and redis-sentinel 7.0 with Redis's own
//! periods). Modes alternate run by run; figures are medians over `--runs`. The last line is
//! JSON with every median.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use rediscover::resp::{decode, encode_command, Frame, Limits};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[derive(Debug, Clone)]
struct Opts {
    rediscover_server: PathBuf,
    redis_server: PathBuf,
    redis_sentinel: PathBuf,
    workdir: PathBuf,
    base_port: u16,
    runs: usize,
    down_after_ms: u64,
    timers_factor: u32,
    modes: Vec<String>,
}

fn usage() -> ! {
    eprintln!(
        "usage: sentinelbench --rediscover-server PATH --redis-server PATH --redis-sentinel PATH \
         [--runs N] [--down-after-ms MS] [--timers-factor F] [--base-port P] [--workdir DIR] \
         [--modes rediscover,redis]"
    );
    std::process::exit(2)
}

fn parse() -> Opts {
    let mut o = Opts {
        rediscover_server: PathBuf::new(),
        redis_server: PathBuf::new(),
        redis_sentinel: PathBuf::new(),
        workdir: std::env::temp_dir().join("sentinelbench"),
        base_port: 17600,
        runs: 5,
        down_after_ms: 1000,
        timers_factor: 10,
        modes: vec!["rediscover".into(), "redis".into()],
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut v = || args.next().unwrap_or_else(|| usage());
        match a.as_str() {
            "--rediscover-server" => o.rediscover_server = v().into(),
            "--redis-server" => o.redis_server = v().into(),
            "--redis-sentinel" => o.redis_sentinel = v().into(),
            "--workdir" => o.workdir = v().into(),
            "--base-port" => o.base_port = v().parse().unwrap_or_else(|_| usage()),
            "--runs" => o.runs = v().parse().unwrap_or_else(|_| usage()),
            "--down-after-ms" => o.down_after_ms = v().parse().unwrap_or_else(|_| usage()),
            "--timers-factor" => o.timers_factor = v().parse().unwrap_or_else(|_| usage()),
            "--modes" => o.modes = v().split(',').map(String::from).collect(),
            _ => usage(),
        }
    }
    if o.modes.iter().any(|m| m == "rediscover") && o.rediscover_server.as_os_str().is_empty()
        || o.modes.iter().any(|m| m == "redis")
            && (o.redis_server.as_os_str().is_empty() || o.redis_sentinel.as_os_str().is_empty())
    {
        usage();
    }
    o
}

/// A process, killed on drop.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One connection for request/response polling.
struct Conn {
    stream: TcpStream,
    buf: BytesMut,
}

impl Conn {
    async fn connect(addr: SocketAddr) -> std::io::Result<Conn> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Conn {
            stream,
            buf: BytesMut::new(),
        })
    }

    async fn call(&mut self, argv: &[&str]) -> std::io::Result<Frame> {
        let mut out = BytesMut::new();
        encode_command(&mut out, argv);
        self.stream.write_all(&out).await?;
        loop {
            if let Some(f) = decode(&mut self.buf, &Limits::default())
                .map_err(|e| std::io::Error::other(e.message().to_string()))?
            {
                return Ok(f);
            }
            if self.stream.read_buf(&mut self.buf).await? == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
        }
    }
}

fn text(f: &Frame) -> String {
    f.as_bytes()
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_default()
}

/// Waits until a server answers PING.
async fn wait_up(addr: SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(mut c) = Conn::connect(addr).await {
            if let Ok(f) = c.call(&["PING"]).await {
                if text(&f) == "PONG" {
                    return;
                }
            }
        }
        assert!(Instant::now() < deadline, "{addr} did not start");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn spawn(program: &Path, args: &[String]) -> Proc {
    Proc(
        Command::new(program)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{}: {e}", program.display())),
    )
}

/// One failover's timings, in seconds after the kill.
#[derive(Debug, Clone, Copy)]
struct Sample {
    addr_first: f64,
    addr_all: f64,
    role: f64,
}

async fn measure(o: &Opts, mode: &str, run: usize) -> Sample {
    let ours = mode == "rediscover";
    let port = |i: u16| o.base_port + i;
    let dir = o.workdir.join(format!("{mode}-{run}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let server_bin = if ours {
        &o.rediscover_server
    } else {
        &o.redis_server
    };
    let factor = o.timers_factor.to_string();
    let server_args = |p: u16, name: &str, master: Option<u16>| {
        let node_dir = dir.join(name);
        std::fs::create_dir_all(&node_dir).unwrap();
        let mut a: Vec<String> = vec![
            "--port".into(),
            p.to_string(),
            "--bind".into(),
            "127.0.0.1".into(),
            "--save".into(),
            String::new(),
            "--appendonly".into(),
            "no".into(),
            "--dir".into(),
            node_dir.to_string_lossy().into_owned(),
            "--logfile".into(),
            node_dir.join("log").to_string_lossy().into_owned(),
        ];
        if let Some(m) = master {
            a.extend(["--replicaof".into(), "127.0.0.1".into(), m.to_string()]);
        }
        if ours {
            a.extend(["--rediscover-timers-factor".into(), factor.clone()]);
        }
        a
    };
    let mut master = Some(spawn(server_bin, &server_args(port(0), "master", None)));
    let _r1 = spawn(server_bin, &server_args(port(1), "replica1", Some(port(0))));
    let _r2 = spawn(server_bin, &server_args(port(2), "replica2", Some(port(0))));
    let addr = |p: u16| SocketAddr::from(([127, 0, 0, 1], p));
    for i in 0..3 {
        wait_up(addr(port(i))).await;
    }
    let mut sentinels = Vec::new();
    for i in 0..3u16 {
        let p = port(10 + i);
        let conf = dir.join(format!("sentinel{i}.conf"));
        let mut text = format!(
            "port {p}\nbind 127.0.0.1\nlogfile {}\nsentinel monitor mymaster 127.0.0.1 {} 2\n\
             sentinel down-after-milliseconds mymaster {}\n",
            dir.join(format!("sentinel{i}.log")).display(),
            port(0),
            o.down_after_ms
        );
        if ours {
            text.push_str(&format!("rediscover-timers-factor {factor}\n"));
        }
        std::fs::write(&conf, text).unwrap();
        let conf = conf.to_string_lossy().into_owned();
        let proc = if ours {
            spawn(&o.rediscover_server, &[conf, "--sentinel".into()])
        } else {
            spawn(&o.redis_sentinel, &[conf])
        };
        sentinels.push(proc);
    }
    let sentinel_addrs: Vec<SocketAddr> = (0..3).map(|i| addr(port(10 + i))).collect();
    // Everyone knows everyone.
    let deadline = Instant::now() + Duration::from_secs(60);
    for &s in &sentinel_addrs {
        wait_up(s).await;
        let mut c = Conn::connect(s).await.unwrap();
        loop {
            let f = c.call(&["SENTINEL", "MASTER", "mymaster"]).await.unwrap();
            let items = f.as_slice().unwrap_or_default().to_vec();
            let get = |k: &str| {
                items
                    .chunks(2)
                    .find(|kv| text(&kv[0]) == k)
                    .map(|kv| text(&kv[1]))
                    .unwrap_or_default()
            };
            if get("num-slaves") == "2" && get("num-other-sentinels") == "2" {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{mode}: sentinel {s} never knew everyone"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    // Replicas answered INFO recently (a fresh deployment's first INFO may still be due).
    tokio::time::sleep(Duration::from_millis(200)).await;

    let mut polls = Vec::new();
    for &s in &sentinel_addrs {
        polls.push(Conn::connect(s).await.unwrap());
    }
    let mut replicas = [
        Conn::connect(addr(port(1))).await.unwrap(),
        Conn::connect(addr(port(2))).await.unwrap(),
    ];
    let old = port(0).to_string();
    let killed = Instant::now();
    drop(master.take());
    let mut addr_first = None;
    let mut seen = [false; 3];
    let mut addr_all = None;
    let mut role = None;
    let deadline = killed + Duration::from_secs(60);
    while addr_all.is_none() || role.is_none() {
        for (i, c) in polls.iter_mut().enumerate() {
            if seen[i] {
                continue;
            }
            let f = c
                .call(&["SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster"])
                .await
                .unwrap();
            let now_port = f.as_slice().map(|p| text(&p[1])).unwrap_or_default();
            if !now_port.is_empty() && now_port != old {
                seen[i] = true;
                addr_first.get_or_insert(killed.elapsed());
            }
        }
        if addr_all.is_none() && seen.iter().all(|&s| s) {
            addr_all = Some(killed.elapsed());
        }
        if role.is_none() {
            for c in replicas.iter_mut() {
                // A replica killed by CLIENT KILL TYPE normal reconnects.
                let f = match c.call(&["ROLE"]).await {
                    Ok(f) => f,
                    Err(_) => continue,
                };
                if f.as_slice().is_some_and(|p| text(&p[0]) == "master") {
                    role = Some(killed.elapsed());
                }
            }
            for (i, c) in replicas.iter_mut().enumerate() {
                if c.call(&["PING"]).await.is_err() {
                    *c = Conn::connect(addr(port(1 + i as u16))).await.unwrap();
                }
            }
        }
        assert!(Instant::now() < deadline, "{mode}: no failover within 60 s");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    drop(sentinels);
    Sample {
        addr_first: addr_first.unwrap().as_secs_f64(),
        addr_all: addr_all.unwrap().as_secs_f64(),
        role: role.unwrap().as_secs_f64(),
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let o = parse();
    let mut samples: Vec<(String, Sample)> = Vec::new();
    for run in 0..o.runs {
        for mode in &o.modes {
            let s = measure(&o, mode, run).await;
            println!(
                "run {run} {mode:<10} addr first {:.3} s, addr all {:.3} s, role master {:.3} s",
                s.addr_first, s.addr_all, s.role
            );
            samples.push((mode.clone(), s));
        }
    }
    println!();
    println!(
        "median over {} runs, down-after-milliseconds {} (rediscover timers factor {}):",
        o.runs, o.down_after_ms, o.timers_factor
    );
    println!(
        "{:<12} {:>22} {:>22} {:>22}",
        "mode", "GET-MASTER-ADDR first", "GET-MASTER-ADDR all", "ROLE master"
    );
    let mut json = Vec::new();
    for mode in &o.modes {
        let of: Vec<Sample> = samples
            .iter()
            .filter(|(m, _)| m == mode)
            .map(|(_, s)| *s)
            .collect();
        let first = median(of.iter().map(|s| s.addr_first).collect());
        let all = median(of.iter().map(|s| s.addr_all).collect());
        let role = median(of.iter().map(|s| s.role).collect());
        println!(
            "{mode:<12} {:>20.3} s {:>20.3} s {:>20.3} s",
            first, all, role
        );
        json.push(format!(
            "\"{mode}\":{{\"addr_first_s\":{first:.3},\"addr_all_s\":{all:.3},\"role_master_s\":{role:.3}}}"
        ));
    }
    println!("{{{}}}", json.join(","));
}
