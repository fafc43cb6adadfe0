//! Replication benchmark: `rediscover-server` master + replica side by side with `redis-server`
//! master + replica, on the same machine, with the same settings.
//!
//! ```text
//! cargo build --release -p rediscover-testserver --bin rediscover-server -p rediscover-benches
//! target/release/replbench --rediscover-server target/release/rediscover-server \
//!     --redis-server /usr/bin/redis-server --runs 3 --mb 100 --value-size 500 \
//!     --lag-secs 5 --conns 50 --depth 16 --base-port 17300
//! ```
//!
//! The bin starts and kills every server itself (ports `--base-port` .. `+99`, a fresh pair per
//! measurement, each in its own directory under `--workdir`, default `$TMPDIR/replbench`, where
//! its log stays; RDB files are deleted when the server is killed). Every server gets
//! `--save '' --appendonly no --repl-diskless-sync no|yes --repl-diskless-sync-delay 0`.
//! Three setups ("modes"):
//!
//! * `rediscover`: rediscover-server master and replica (`--repl-diskless-sync no`; the test
//!   server accepts the option but always builds the snapshot in memory and streams it);
//! * `redis-disk`: redis-server with `--repl-diskless-sync no` (the master writes an RDB file in
//!   a forked child, then sends it);
//! * `redis-diskless`: redis-server with `--repl-diskless-sync yes --repl-diskless-sync-delay 0`
//!   (the forked child streams the RDB straight to the socket).
//!
//! Measurements, `--runs` times each, modes alternating in order run by run; each figure is the
//! median over runs:
//!
//! 1. **Full sync.** Start a master, fill it with `--mb` MB of payload (keys `key:%08d`, values of
//!    `--value-size` bytes; payload = sum of key + value bytes, MB = 10^6 bytes), with pipelines
//!    of 1000 SETs on 4 connections. Then spawn the replica process with `--replicaof` and time
//!    from just before the spawn until its `INFO replication` shows `master_link_status:up` and
//!    `slave_repl_offset` equal to the master's `master_repl_offset` (polled every 2 ms). Reported:
//!    seconds, payload MB / seconds, and the time until the link first reads `up`. The replica's
//!    `DBSIZE` is checked against the number of keys written. Meanwhile another connection
//!    PINGs the master once a millisecond; the longest PING round trip shows how long the
//!    master stopped answering while it made the snapshot.
//! 2. **Propagation lag under load.** With a fresh, synced master + replica: `--conns`
//!    connections (one `rediscover::Client` each) send pipelines of `--depth` SETs
//!    (`--lag-value-size` bytes, `--lag-keys` distinct keys) to the master for `--lag-secs`
//!    seconds. Meanwhile a probe connection loops `SET probe:<i> <t>` then `WAIT 1 1000` and
//!    records the WAIT round trip (write → replica acknowledged); a second probe sets `vis:<i>`
//!    on the master and polls `GET vis:<i>` on the replica (its own connection) until it is
//!    visible, recording the time from before the SET. Both probes pause
//!    `--probe-interval-ms` between samples. Reported: load SET/s, probe p50/p99/max, WAIT
//!    calls that returned 0 (timed out), the replica's backlog in bytes when the load stops
//!    (`master_repl_offset - slave_repl_offset`; the table shows the largest over runs), how
//!    long it then takes to catch up, and the CPU share (one core = 100%) master and replica
//!    used during the load, from `/proc/<pid>/stat`.
//!
//! The load and both probes run in this one process (one tokio runtime), so a probe's latency
//! also contains this process's own scheduling delay under load; it is the same for both
//! servers, but on a small machine it is not negligible.
//!
//! The last line is JSON with every median.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rediscover::{Client, Commands, Pipeline};

#[derive(Debug, Clone)]
struct Opts {
    rediscover_server: PathBuf,
    redis_server: PathBuf,
    workdir: PathBuf,
    base_port: u16,
    runs: usize,
    modes: Vec<Mode>,
    tests: Vec<String>,
    mb: u64,
    value_size: usize,
    lag_secs: u64,
    conns: usize,
    depth: usize,
    lag_value_size: usize,
    lag_keys: usize,
    probe_interval_ms: u64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Mode {
    Rediscover,
    RedisDisk,
    RedisDiskless,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Rediscover => "rediscover",
            Mode::RedisDisk => "redis-disk",
            Mode::RedisDiskless => "redis-diskless",
        }
    }

    fn parse(s: &str) -> Option<Mode> {
        [Mode::Rediscover, Mode::RedisDisk, Mode::RedisDiskless]
            .into_iter()
            .find(|m| m.name() == s)
    }

    fn binary(self, o: &Opts) -> &Path {
        match self {
            Mode::Rediscover => &o.rediscover_server,
            _ => &o.redis_server,
        }
    }

    fn diskless(self) -> &'static str {
        if self == Mode::RedisDiskless {
            "yes"
        } else {
            "no"
        }
    }
}

fn usage() -> ! {
    eprintln!(
        "usage: replbench [--rediscover-server PATH] [--redis-server PATH] [--workdir DIR] \
         [--base-port N] [--runs N] [--modes rediscover,redis-disk,redis-diskless] \
         [--tests fullsync,lag] [--mb N] [--value-size N] [--lag-secs N] [--conns N] \
         [--depth N] [--lag-value-size N] [--lag-keys N] [--probe-interval-ms N]"
    );
    std::process::exit(2);
}

fn parse_args() -> Opts {
    let mut o = Opts {
        rediscover_server: "target/release/rediscover-server".into(),
        redis_server: "/usr/bin/redis-server".into(),
        workdir: std::env::temp_dir().join("replbench"),
        base_port: 17300,
        runs: 3,
        modes: vec![Mode::Rediscover, Mode::RedisDisk, Mode::RedisDiskless],
        tests: vec!["fullsync".into(), "lag".into()],
        mb: 100,
        value_size: 500,
        lag_secs: 5,
        conns: 50,
        depth: 16,
        lag_value_size: 64,
        lag_keys: 100_000,
        probe_interval_ms: 5,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let Some(value) = it.next() else { usage() };
        let num = || value.parse::<u64>().unwrap_or_else(|_| usage());
        match flag.as_str() {
            "--rediscover-server" => o.rediscover_server = value.into(),
            "--redis-server" => o.redis_server = value.into(),
            "--workdir" => o.workdir = value.into(),
            "--base-port" => o.base_port = u16::try_from(num()).unwrap_or_else(|_| usage()),
            "--runs" => o.runs = num().max(1) as usize,
            "--modes" => {
                o.modes = value
                    .split(',')
                    .map(|m| Mode::parse(m).unwrap_or_else(|| usage()))
                    .collect()
            }
            "--tests" => o.tests = value.split(',').map(str::to_string).collect(),
            "--mb" => o.mb = num().max(1),
            "--value-size" => o.value_size = num().max(1) as usize,
            "--lag-secs" => o.lag_secs = num().max(1),
            "--conns" => o.conns = num().max(1) as usize,
            "--depth" => o.depth = num().max(1) as usize,
            "--lag-value-size" => o.lag_value_size = num().max(1) as usize,
            "--lag-keys" => o.lag_keys = num().max(1) as usize,
            "--probe-interval-ms" => o.probe_interval_ms = num(),
            _ => usage(),
        }
    }
    if o.base_port > u16::MAX - 100 {
        usage()
    }
    // Servers run in their own directories, so relative paths are made absolute here (not
    // canonicalized: redis-server is a symlink to a binary that looks at its own name).
    let cwd = std::env::current_dir().unwrap_or_else(|_| usage());
    for path in [&mut o.rediscover_server, &mut o.redis_server] {
        *path = cwd.join(&*path);
        if !path.exists() {
            eprintln!("{}: not found", path.display());
            std::process::exit(2)
        }
    }
    o
}

type Res<T> = Result<T, String>;

fn err<E: std::fmt::Display>(what: &str) -> impl Fn(E) -> String + '_ {
    move |e| format!("{what}: {e}")
}

/// A server process, killed when dropped.
struct Server {
    child: Child,
    port: u16,
    /// Its working directory: the log stays, RDB files are removed with the server.
    dir: PathBuf,
}

impl Server {
    /// CPU seconds (user + system) the process has used so far, from `/proc/<pid>/stat`
    /// (Linux; assumes the usual 100 clock ticks per second). `None` elsewhere.
    fn cpu_secs(&self) -> Option<f64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).ok()?;
        // Fields after the command name, which is in parentheses and may contain spaces.
        let rest = &stat[stat.rfind(')')? + 2..];
        let f: Vec<&str> = rest.split_whitespace().collect();
        let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
        Some(ticks as f64 / 100.0)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Ok(entries) = std::fs::read_dir(&self.dir) {
            for e in entries.flatten() {
                if e.path().extension().is_some_and(|x| x == "rdb") {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
    }
}

/// Hands out ports `base .. base + 100`, two at a time, so a port is not reused right after
/// its previous server was killed.
struct Ports {
    base: u16,
    next: u16,
}

impl Ports {
    fn pair(&mut self) -> (u16, u16) {
        if self.next + 1 >= 100 {
            self.next = 0;
        }
        let p = self.base + self.next;
        self.next += 2;
        (p, p + 1)
    }
}

fn spawn(o: &Opts, mode: Mode, port: u16, master: Option<u16>, tag: &str) -> Res<Server> {
    let dir = o.workdir.join(format!("{tag}-{port}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(err("create workdir"))?;
    let log = std::fs::File::create(dir.join("server.log")).map_err(err("create log"))?;
    let log2 = log.try_clone().map_err(err("clone log"))?;
    let mut cmd = Command::new(mode.binary(o));
    cmd.current_dir(&dir)
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .args(["--repl-diskless-sync", mode.diskless()])
        .args(["--repl-diskless-sync-delay", "0"]);
    if let Some(m) = master {
        cmd.args(["--replicaof", "127.0.0.1", &m.to_string()]);
    }
    let child = cmd
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log2)
        .spawn()
        .map_err(err("spawn server"))?;
    Ok(Server { child, port, dir })
}

/// Connects, retrying every 2 ms for up to 10 s (the process may not listen yet).
async fn connect(port: u16) -> Res<Client> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match Client::connect(&format!("redis://127.0.0.1:{port}")).await {
            Ok(c) => return Ok(c),
            Err(e) if Instant::now() > deadline => return Err(format!("connect {port}: {e}")),
            Err(_) => tokio::time::sleep(Duration::from_millis(2)).await,
        }
    }
}

async fn info_field(c: &Client, section: &str, field: &str) -> Res<Option<String>> {
    let text: String = c
        .cmd("INFO")
        .arg(section)
        .query()
        .await
        .map_err(err("INFO"))?;
    let prefix = format!("{field}:");
    Ok(text
        .lines()
        .find_map(|l| l.strip_prefix(&prefix).map(|v| v.trim().to_string())))
}

/// (link up, replica offset, master offset)
async fn sync_state(master: &Client, replica: &Client) -> Res<(bool, i64, i64)> {
    let text: String = replica
        .cmd("INFO")
        .arg("replication")
        .query()
        .await
        .map_err(err("replica INFO"))?;
    let get = |f: &str| {
        let prefix = format!("{f}:");
        text.lines()
            .find_map(|l| l.strip_prefix(&prefix).map(|v| v.trim().to_string()))
    };
    let up = get("master_link_status").as_deref() == Some("up");
    let roff = get("slave_repl_offset")
        .and_then(|v| v.parse().ok())
        .unwrap_or(-1);
    let moff = info_field(master, "replication", "master_repl_offset")
        .await?
        .and_then(|v| v.parse().ok())
        .unwrap_or(-2);
    Ok((up, roff, moff))
}

/// Polls every 2 ms until the replica's link is up and its offset equals the master's.
/// Returns (time until the link first read up, time until in sync), from `since`.
async fn wait_in_sync(
    master: &Client,
    replica: &Client,
    since: Instant,
    limit: Duration,
) -> Res<(Duration, Duration)> {
    let mut first_up = None;
    loop {
        // A replica still loading may refuse; keep polling.
        if let Ok((up, roff, moff)) = sync_state(master, replica).await {
            if up && first_up.is_none() {
                first_up = Some(since.elapsed());
            }
            if up && roff == moff && roff >= 0 {
                let done = since.elapsed();
                return Ok((first_up.unwrap_or(done), done));
            }
        }
        if since.elapsed() > limit {
            return Err(format!("replica not in sync after {limit:?}"));
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

async fn dbsize(c: &Client) -> Res<i64> {
    c.cmd("DBSIZE").query().await.map_err(err("DBSIZE"))
}

fn key(i: usize) -> String {
    format!("key:{i:08}")
}

/// Fills the master with `keys` keys of `value_size` bytes: 4 connections, pipelines of 1000.
async fn fill(port: u16, keys: usize, value_size: usize) -> Res<()> {
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let c = connect(port).await?;
        let next = next.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                let start = next.fetch_add(1000, Ordering::Relaxed) as usize;
                if start >= keys {
                    return Ok::<_, String>(());
                }
                let mut p = Pipeline::new();
                for i in start..(start + 1000).min(keys) {
                    let mut v = format!("{i}:").into_bytes();
                    v.resize(value_size.max(v.len()), b'v');
                    p.cmd("SET").arg(key(i)).arg(v);
                }
                let rs: Vec<String> = p.query(&c).await.map_err(err("fill"))?;
                if rs.iter().any(|r| r != "OK") {
                    return Err("fill: SET did not answer OK".into());
                }
            }
        }));
    }
    for t in tasks {
        t.await.map_err(err("fill task"))??;
    }
    Ok(())
}

#[derive(Debug, Clone, Copy)]
struct FullSync {
    secs: f64,
    /// Longest PING round trip on the master while the replica synced (master stalls).
    master_max_ping_ms: f64,
    link_up_secs: f64,
    payload_mb: f64,
}

async fn full_sync(o: &Opts, mode: Mode, ports: (u16, u16), run: usize) -> Res<FullSync> {
    let tag = format!("fullsync-{}-{run}", mode.name());
    let master = spawn(o, mode, ports.0, None, &format!("{tag}-master"))?;
    let mc = connect(master.port).await?;
    let per_key = o.value_size + key(0).len();
    let keys = (o.mb as usize * 1_000_000).div_ceil(per_key);
    fill(master.port, keys, o.value_size).await?;
    let got = dbsize(&mc).await?;
    if got != keys as i64 {
        return Err(format!("master DBSIZE {got}, expected {keys}"));
    }
    // Meanwhile, does the master keep answering? One PING per millisecond on its own connection.
    let pinger = connect(master.port).await?;
    let syncing = Arc::new(AtomicBool::new(true));
    let ping_task = {
        let syncing = syncing.clone();
        tokio::spawn(async move {
            let mut max = Duration::ZERO;
            while syncing.load(Ordering::Relaxed) {
                let t = Instant::now();
                let _: String = pinger.cmd("PING").query().await.map_err(err("PING"))?;
                max = max.max(t.elapsed());
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            Ok::<_, String>(max)
        })
    };
    let started = Instant::now();
    let replica = spawn(o, mode, ports.1, Some(ports.0), &format!("{tag}-replica"))?;
    let rc = connect(replica.port).await?;
    let synced = wait_in_sync(&mc, &rc, started, Duration::from_secs(120)).await;
    syncing.store(false, Ordering::Relaxed);
    let max_ping = ping_task.await.map_err(err("ping task"))??;
    let (up, done) = synced?;
    let rkeys = dbsize(&rc).await?;
    if rkeys != keys as i64 {
        return Err(format!("replica DBSIZE {rkeys}, expected {keys}"));
    }
    drop((replica, master));
    Ok(FullSync {
        secs: done.as_secs_f64(),
        master_max_ping_ms: max_ping.as_secs_f64() * 1e3,
        link_up_secs: up.as_secs_f64(),
        payload_mb: (keys * per_key) as f64 / 1e6,
    })
}

#[derive(Debug, Clone, Default)]
struct Lag {
    load_ops_per_sec: f64,
    wait_ms: Vec<f64>,
    wait_timeouts: u64,
    vis_ms: Vec<f64>,
    vis_timeouts: u64,
    backlog_at_stop: i64,
    catch_up_ms: f64,
    /// CPU used during the load, as a share of one core: (master, replica).
    cpu: (f64, f64),
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

async fn lag(o: &Opts, mode: Mode, ports: (u16, u16), run: usize) -> Res<Lag> {
    let tag = format!("lag-{}-{run}", mode.name());
    let master = spawn(o, mode, ports.0, None, &format!("{tag}-master"))?;
    let mc = connect(master.port).await?;
    let started = Instant::now();
    let replica = spawn(o, mode, ports.1, Some(ports.0), &format!("{tag}-replica"))?;
    let rc = connect(replica.port).await?;
    wait_in_sync(&mc, &rc, started, Duration::from_secs(30)).await?;

    let stop = Arc::new(AtomicBool::new(false));
    let ops = Arc::new(AtomicU64::new(0));
    let value: Arc<Vec<u8>> = Arc::new(vec![b'x'; o.lag_value_size]);
    let mut load = Vec::new();
    for t in 0..o.conns {
        let c = connect(master.port).await?;
        let (stop, ops, value) = (stop.clone(), ops.clone(), value.clone());
        let (depth, nkeys) = (o.depth, o.lag_keys);
        load.push(tokio::spawn(async move {
            let mut i = t * 7919;
            while !stop.load(Ordering::Relaxed) {
                let mut p = Pipeline::new();
                for _ in 0..depth {
                    p.cmd("SET")
                        .arg(format!("load:{}", i % nkeys))
                        .arg(&value[..]);
                    i += 1;
                }
                let rs: Vec<String> = p.query(&c).await.map_err(err("load"))?;
                if rs.iter().any(|r| r != "OK") {
                    return Err("load: SET did not answer OK".to_string());
                }
                ops.fetch_add(depth as u64, Ordering::Relaxed);
            }
            Ok(())
        }));
    }
    let interval = Duration::from_millis(o.probe_interval_ms);
    let wait_probe = {
        let c = connect(master.port).await?;
        let stop = stop.clone();
        tokio::spawn(async move {
            let (mut lat, mut timeouts, mut i) = (Vec::new(), 0u64, 0u64);
            while !stop.load(Ordering::Relaxed) {
                let t = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_micros())
                    .unwrap_or(0);
                let r: String = c
                    .cmd("SET")
                    .arg(format!("probe:{i}"))
                    .arg(t.to_string())
                    .query()
                    .await
                    .map_err(err("probe SET"))?;
                if r != "OK" {
                    return Err(format!("probe SET returned {r:?}"));
                }
                let t0 = Instant::now();
                let acked: i64 = c
                    .cmd("WAIT")
                    .arg(1)
                    .arg(1000)
                    .query()
                    .await
                    .map_err(err("WAIT"))?;
                lat.push(t0.elapsed().as_secs_f64() * 1e3);
                if acked < 1 {
                    timeouts += 1;
                }
                i += 1;
                tokio::time::sleep(interval).await;
            }
            Ok::<_, String>((lat, timeouts))
        })
    };
    let vis_probe = {
        let m = connect(master.port).await?;
        let r = connect(replica.port).await?;
        let stop = stop.clone();
        tokio::spawn(async move {
            let (mut lat, mut timeouts, mut i) = (Vec::new(), 0u64, 0u64);
            while !stop.load(Ordering::Relaxed) {
                let k = format!("vis:{i}");
                let v = i.to_string();
                let t0 = Instant::now();
                let ok: String = m
                    .cmd("SET")
                    .arg(&k)
                    .arg(&v)
                    .query()
                    .await
                    .map_err(err("vis SET"))?;
                if ok != "OK" {
                    return Err(format!("vis SET returned {ok:?}"));
                }
                loop {
                    let got: Option<String> =
                        r.cmd("GET").arg(&k).query().await.map_err(err("vis GET"))?;
                    if got.as_deref() == Some(v.as_str()) {
                        lat.push(t0.elapsed().as_secs_f64() * 1e3);
                        break;
                    }
                    if t0.elapsed() > Duration::from_secs(5) {
                        timeouts += 1;
                        break;
                    }
                }
                i += 1;
                tokio::time::sleep(interval).await;
            }
            Ok::<_, String>((lat, timeouts))
        })
    };
    let load_started = Instant::now();
    let cpu0 = (master.cpu_secs(), replica.cpu_secs());
    tokio::time::sleep(Duration::from_secs(o.lag_secs)).await;
    stop.store(true, Ordering::Relaxed);
    for t in load {
        t.await.map_err(err("load task"))??;
    }
    let load_secs = load_started.elapsed().as_secs_f64();
    let cpu1 = (master.cpu_secs(), replica.cpu_secs());
    let share = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) => (b - a) / load_secs,
        _ => f64::NAN,
    };
    let cpu = (share(cpu0.0, cpu1.0), share(cpu0.1, cpu1.1));
    let stopped = Instant::now();
    let (_, roff, moff) = sync_state(&mc, &rc).await?;
    let (wait_ms, wait_timeouts) = wait_probe.await.map_err(err("probe task"))??;
    let (vis_ms, vis_timeouts) = vis_probe.await.map_err(err("vis task"))??;
    let (_, caught) = wait_in_sync(&mc, &rc, stopped, Duration::from_secs(60)).await?;
    let (mkeys, rkeys) = (dbsize(&mc).await?, dbsize(&rc).await?);
    if mkeys != rkeys {
        return Err(format!(
            "after catch-up: master DBSIZE {mkeys}, replica {rkeys}"
        ));
    }
    drop((replica, master));
    let mut l = Lag {
        load_ops_per_sec: ops.load(Ordering::Relaxed) as f64 / load_secs,
        wait_ms,
        wait_timeouts,
        vis_ms,
        vis_timeouts,
        backlog_at_stop: moff - roff,
        catch_up_ms: caught.as_secs_f64() * 1e3,
        cpu,
    };
    l.wait_ms.sort_by(f64::total_cmp);
    l.vis_ms.sort_by(f64::total_cmp);
    Ok(l)
}

fn fail<T>(what: &str, e: String) -> T {
    eprintln!("{what}: {e}");
    std::process::exit(1);
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn ratio(a: f64, b: f64) -> String {
    if a.is_finite() && b.is_finite() && b != 0.0 {
        format!("{:.2}", a / b)
    } else {
        "n/a".into()
    }
}

#[tokio::main]
async fn main() {
    let o = parse_args();
    let mut ports = Ports {
        base: o.base_port,
        next: 0,
    };
    let mut json = Vec::new();
    let order = |run: usize| -> Vec<Mode> {
        let mut m = o.modes.clone();
        if run % 2 == 1 {
            m.reverse();
        }
        m
    };

    if o.tests.iter().any(|t| t == "fullsync") {
        let mut res: Vec<(Mode, Vec<FullSync>)> = o.modes.iter().map(|&m| (m, vec![])).collect();
        for run in 0..o.runs {
            for mode in order(run) {
                let r = full_sync(&o, mode, ports.pair(), run)
                    .await
                    .unwrap_or_else(|e| fail(&format!("fullsync {}", mode.name()), e));
                eprintln!(
                    "fullsync run {run} {:<14} {:.3} s (link up {:.3} s), {:.1} MB payload, \
                     master max PING {:.1} ms",
                    mode.name(),
                    r.secs,
                    r.link_up_secs,
                    r.payload_mb,
                    r.master_max_ping_ms
                );
                res.iter_mut().find(|(m, _)| *m == mode).unwrap().1.push(r);
            }
        }
        println!(
            "\nfull sync, {} MB payload, median of {} runs",
            o.mb, o.runs
        );
        println!(
            "{:<15} {:>9} {:>12} {:>9} {:>18}",
            "mode", "secs", "link-up secs", "MB/s", "master max PING ms"
        );
        let mut meds = Vec::new();
        for (mode, rs) in &res {
            let secs = median(rs.iter().map(|r| r.secs).collect());
            let up = median(rs.iter().map(|r| r.link_up_secs).collect());
            let mbs = median(rs.iter().map(|r| r.payload_mb / r.secs).collect());
            let ping = median(rs.iter().map(|r| r.master_max_ping_ms).collect());
            println!(
                "{:<15} {:>9.3} {:>12.3} {:>9.1} {:>18.1}",
                mode.name(),
                secs,
                up,
                mbs,
                ping
            );
            meds.push((*mode, secs, mbs));
            json.push(format!(
                "\"fullsync_{}\":{{\"secs\":{secs:.4},\"link_up_secs\":{up:.4},\"mb_per_sec\":{mbs:.2},\"master_max_ping_ms\":{ping:.1}}}",
                mode.name()
            ));
        }
        if let Some(&(_, _, a)) = meds.iter().find(|m| m.0 == Mode::Rediscover) {
            for &(m, _, b) in meds.iter().filter(|m| m.0 != Mode::Rediscover) {
                println!("MB/s ratio rediscover / {}: {}", m.name(), ratio(a, b));
            }
        }
    }

    if o.tests.iter().any(|t| t == "lag") {
        // Steady-state propagation does not depend on how the first sync was made: one redis
        // mode is enough.
        let modes: Vec<Mode> = o
            .modes
            .iter()
            .copied()
            .filter(|&m| m != Mode::RedisDiskless || !o.modes.contains(&Mode::RedisDisk))
            .collect();
        let mut res: Vec<(Mode, Vec<Lag>)> = modes.iter().map(|&m| (m, vec![])).collect();
        for run in 0..o.runs {
            let mut ms = modes.clone();
            if run % 2 == 1 {
                ms.reverse();
            }
            for mode in ms {
                let l = lag(&o, mode, ports.pair(), run)
                    .await
                    .unwrap_or_else(|e| fail(&format!("lag {}", mode.name()), e));
                eprintln!(
                    "lag run {run} {:<14} load {:.0} SET/s; WAIT n={} p50 {:.3} p99 {:.3} max {:.3} ms, timeouts {}; \
                     visible n={} p50 {:.3} p99 {:.3} max {:.3} ms, timeouts {}; backlog at stop {} B, catch-up {:.1} ms; \
                     CPU master {:.0}% replica {:.0}%",
                    mode.name(),
                    l.load_ops_per_sec,
                    l.wait_ms.len(),
                    pct(&l.wait_ms, 0.5),
                    pct(&l.wait_ms, 0.99),
                    pct(&l.wait_ms, 1.0),
                    l.wait_timeouts,
                    l.vis_ms.len(),
                    pct(&l.vis_ms, 0.5),
                    pct(&l.vis_ms, 0.99),
                    pct(&l.vis_ms, 1.0),
                    l.vis_timeouts,
                    l.backlog_at_stop,
                    l.catch_up_ms,
                    l.cpu.0 * 100.0,
                    l.cpu.1 * 100.0
                );
                res.iter_mut().find(|(m, _)| *m == mode).unwrap().1.push(l);
            }
        }
        println!(
            "\npropagation under load: {} conns x pipeline {}, {} B values, {} s, median of {} runs (ms)",
            o.conns, o.depth, o.lag_value_size, o.lag_secs, o.runs
        );
        println!(
            "{:<15} {:>10} {:>9} {:>9} {:>9} {:>8} {:>9} {:>9} {:>9} {:>8} {:>11} {:>13} {:>9}",
            "mode",
            "SET/s",
            "WAIT p50",
            "WAIT p99",
            "WAIT max",
            "WAIT t/o",
            "vis p50",
            "vis p99",
            "vis max",
            "vis t/o",
            "catchup ms",
            "max backlog B",
            "CPU% m/r"
        );
        let mut meds: Vec<(Mode, [f64; 7])> = Vec::new();
        for (mode, ls) in &res {
            let m = |f: &dyn Fn(&Lag) -> f64| median(ls.iter().map(f).collect());
            let row = [
                m(&|l| l.load_ops_per_sec),
                m(&|l| pct(&l.wait_ms, 0.5)),
                m(&|l| pct(&l.wait_ms, 0.99)),
                m(&|l| pct(&l.wait_ms, 1.0)),
                m(&|l| pct(&l.vis_ms, 0.5)),
                m(&|l| pct(&l.vis_ms, 0.99)),
                m(&|l| pct(&l.vis_ms, 1.0)),
            ];
            let wt: u64 = ls.iter().map(|l| l.wait_timeouts).sum();
            let vt: u64 = ls.iter().map(|l| l.vis_timeouts).sum();
            let catchup = m(&|l| l.catch_up_ms);
            let backlog = ls.iter().map(|l| l.backlog_at_stop).max().unwrap_or(0);
            let (cpu_m, cpu_r) = (m(&|l| l.cpu.0 * 100.0), m(&|l| l.cpu.1 * 100.0));
            println!(
                "{:<15} {:>10.0} {:>9.3} {:>9.3} {:>9.3} {:>8} {:>9.3} {:>9.3} {:>9.3} {:>8} {:>11.1} {:>13} {:>4.0}/{:<4.0}",
                mode.name(),
                row[0],
                row[1],
                row[2],
                row[3],
                wt,
                row[4],
                row[5],
                row[6],
                vt,
                catchup,
                backlog,
                cpu_m,
                cpu_r
            );
            json.push(format!(
                "\"lag_{}\":{{\"set_per_sec\":{:.0},\"wait_ms\":[{:.3},{:.3},{:.3}],\"wait_timeouts\":{wt},\"visible_ms\":[{:.3},{:.3},{:.3}],\"visible_timeouts\":{vt},\"catch_up_ms\":{catchup:.1},\"max_backlog_at_stop\":{backlog},\"cpu_pct\":[{cpu_m:.0},{cpu_r:.0}]}}",
                mode.name(),
                row[0], row[1], row[2], row[3], row[4], row[5], row[6]
            ));
            meds.push((*mode, row));
        }
        if let Some((_, a)) = meds.iter().find(|m| m.0 == Mode::Rediscover).cloned() {
            for (m, b) in meds.iter().filter(|m| m.0 != Mode::Rediscover) {
                println!(
                    "ratio rediscover / {}: SET/s {}, WAIT p50 {}, p99 {}, max {}; visible p50 {}, p99 {}, max {}",
                    m.name(),
                    ratio(a[0], b[0]),
                    ratio(a[1], b[1]),
                    ratio(a[2], b[2]),
                    ratio(a[3], b[3]),
                    ratio(a[4], b[4]),
                    ratio(a[5], b[5]),
                    ratio(a[6], b[6])
                );
            }
        }
    }
    println!("{{{}}}", json.join(","));
}
