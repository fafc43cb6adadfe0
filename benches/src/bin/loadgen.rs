//! Load generator: drives rediscover and redis-rs against the same server in one run and
//! prints ops/sec for each.
//!
//! ```text
//! cargo run --release -p rediscover-benches --bin loadgen -- \
//!     --addr 127.0.0.1:6379 --ops 200000 --inflight 64 --pipeline 1 --cmd get \
//!     --clients rediscover,redis-rs
//! ```
//!
//! Each client gets one multiplexed connection shared by `--inflight` tasks; each task sends
//! single commands (`--pipeline 1`) or pipelines of that many commands until `--ops` commands
//! have been answered. Every reply is checked (`OK` for SET, the exact stored value for GET).
//! `--rounds N` repeats the measurement, alternating the order of the clients, and reports each
//! client's median round.
//! Each client's CPU time per operation (this process's user + system time during its run: the
//! client's own cost, since the server is another process) is reported too; on a shared
//! machine it moves less than ops/sec does.
//! The last line is JSON: `{"workload":{...},"ops_per_sec":{"rediscover":N,"redis-rs":N},
//! "cpu_us_per_op":{"rediscover":X,"redis-rs":X}}`.
//!
//! **Cluster mode** (`--cluster`): `--addr` names one or more seed nodes (comma-separated) of a
//! Redis Cluster, and the clients are rediscover's `ClusterClient`, the `redis` crate's async
//! cluster connection (`cluster-async`) and fred in cluster mode (`--clients
//! rediscover,redis-rs,fred` by default), each with its own connections, driven the same way.
//! Keys spread over every slot, so a pipeline of 100 is a cross-slot pipeline: a client that
//! refuses one (the `redis` crate does) is reported as refusing, not measured.
//! `--redis-benchmark PATH` also runs `redis-benchmark --cluster -t set|get -P 16 -n <ops>`
//! against the first seed at the end, as the reference, and reports each client's ratio to it.
//!
//! ```text
//! cargo run --release -p rediscover-benches --bin loadgen -- --cluster \
//!     --addr 127.0.0.1:7000 --cmd set --ops 200000 --pipeline 100 --inflight 8 \
//!     --redis-benchmark /usr/bin/redis-benchmark
//! ```

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use fred::interfaces::{ClientLike, KeysInterface};
use rediscover::{Commands, Execute, Pipeline};

#[derive(Debug, Clone)]
struct Workload {
    addr: String,
    ops: u64,
    inflight: usize,
    pipeline: usize,
    cmd: Cmd,
    keys: usize,
    value_size: usize,
    clients: Vec<String>,
    rounds: usize,
    cluster: bool,
    redis_benchmark: Option<String>,
}

impl Workload {
    fn seeds(&self) -> Vec<String> {
        self.addr.split(',').map(str::to_string).collect()
    }
}

/// How one client's round ended.
enum Outcome {
    /// Operations per second.
    Rate(f64),
    /// The client refused the workload (why).
    Refused(String),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Cmd {
    Get,
    Set,
}

impl Cmd {
    fn name(self) -> &'static str {
        match self {
            Cmd::Get => "get",
            Cmd::Set => "set",
        }
    }
}

struct Data {
    keys: Vec<String>,
    values: Vec<Vec<u8>>,
}

impl Data {
    fn new(w: &Workload) -> Data {
        let keys = (0..w.keys).map(|i| format!("loadgen:{i}")).collect();
        let values = (0..w.keys)
            .map(|i| {
                let mut v = format!("{i}:").into_bytes();
                v.resize(w.value_size.max(v.len()), b'x');
                v
            })
            .collect();
        Data { keys, values }
    }
}

fn usage() -> ! {
    eprintln!(
        "usage: loadgen [--cluster] --addr HOST:PORT[,HOST:PORT...] [--ops N] [--inflight N] \
         [--pipeline N] [--cmd set|get] [--keys N] [--value-size N] \
         [--clients rediscover,redis-rs[,fred]] [--rounds N] [--redis-benchmark PATH]"
    );
    std::process::exit(2);
}

fn parse_args() -> Workload {
    let mut w = Workload {
        addr: "127.0.0.1:6379".into(),
        ops: 200_000,
        inflight: 64,
        pipeline: 1,
        cmd: Cmd::Get,
        keys: 10_000,
        value_size: 32,
        clients: Vec::new(),
        rounds: 1,
        cluster: false,
        redis_benchmark: None,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        if flag == "--cluster" {
            w.cluster = true;
            continue;
        }
        let Some(value) = it.next() else { usage() };
        let num = || value.parse::<u64>().unwrap_or_else(|_| usage());
        match flag.as_str() {
            "--addr" => w.addr = value.clone(),
            "--ops" => w.ops = num(),
            "--inflight" => w.inflight = num().max(1) as usize,
            "--pipeline" => w.pipeline = num().max(1) as usize,
            "--keys" => w.keys = num().max(1) as usize,
            "--value-size" => w.value_size = num() as usize,
            "--rounds" => w.rounds = num().max(1) as usize,
            "--cmd" => {
                w.cmd = match value.as_str() {
                    "get" => Cmd::Get,
                    "set" => Cmd::Set,
                    _ => usage(),
                }
            }
            "--clients" => w.clients = value.split(',').map(str::to_string).collect(),
            "--redis-benchmark" => w.redis_benchmark = Some(value.clone()),
            _ => usage(),
        }
    }
    if w.clients.is_empty() {
        w.clients = if w.cluster {
            vec!["rediscover".into(), "redis-rs".into(), "fred".into()]
        } else {
            vec!["rediscover".into(), "redis-rs".into()]
        };
    }
    w
}

/// Hands out batches of operations until `total` is reached; returns the first op index.
fn claim(counter: &AtomicU64, total: u64, batch: usize) -> Option<(u64, usize)> {
    let start = counter.fetch_add(batch as u64, Ordering::Relaxed);
    if start >= total {
        return None;
    }
    Some((start, batch.min((total - start) as usize)))
}

async fn prefill(w: &Workload, data: &Data) -> Result<(), String> {
    if w.cluster {
        let client = rediscover::cluster::ClusterClient::connect(w.seeds())
            .await
            .map_err(|e| e.to_string())?;
        prefill_with(&client, w, data).await
    } else {
        let client = rediscover::Client::connect(&format!("redis://{}", w.addr))
            .await
            .map_err(|e| e.to_string())?;
        prefill_with(&client, w, data).await
    }
}

async fn prefill_with<E: Execute>(client: &E, w: &Workload, data: &Data) -> Result<(), String> {
    for chunk in (0..w.keys).collect::<Vec<_>>().chunks(1000) {
        let mut p = Pipeline::new();
        for &i in chunk {
            p.cmd("SET").arg(&data.keys[i]).arg(&data.values[i]);
        }
        let replies: Vec<String> = p.query(client).await.map_err(|e| e.to_string())?;
        if replies.iter().any(|r| r != "OK") {
            return Err("prefill: SET did not answer OK".into());
        }
    }
    Ok(())
}

async fn run_rediscover(w: Arc<Workload>, data: Arc<Data>) -> Result<Outcome, String> {
    if w.cluster {
        let client = rediscover::cluster::ClusterClient::connect(w.seeds())
            .await
            .map_err(|e| e.to_string())?;
        drive_rediscover(client, w, data).await
    } else {
        let client = rediscover::Client::connect(&format!("redis://{}", w.addr))
            .await
            .map_err(|e| e.to_string())?;
        drive_rediscover(client, w, data).await
    }
}

async fn drive_rediscover<E>(
    client: E,
    w: Arc<Workload>,
    data: Arc<Data>,
) -> Result<Outcome, String>
where
    E: Execute + Clone + Send + Sync + 'static,
{
    let counter = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..w.inflight {
        let (client, w, data, counter) = (client.clone(), w.clone(), data.clone(), counter.clone());
        tasks.push(tokio::spawn(async move {
            while let Some((start, n)) = claim(&counter, w.ops, w.pipeline) {
                let idx = |j: usize| ((start as usize) + j) % w.keys;
                if w.pipeline == 1 {
                    let i = idx(0);
                    match w.cmd {
                        Cmd::Get => {
                            let v: Option<rediscover::Bytes> =
                                client.get(&data.keys[i]).await.map_err(|e| e.to_string())?;
                            check_get(v.as_deref(), &data.values[i])?;
                        }
                        Cmd::Set => {
                            let r: String = client
                                .cmd("SET")
                                .arg(&data.keys[i])
                                .arg(&data.values[i])
                                .query()
                                .await
                                .map_err(|e| e.to_string())?;
                            check_ok(&r)?;
                        }
                    }
                    continue;
                }
                let mut p = Pipeline::new();
                for j in 0..n {
                    let i = idx(j);
                    match w.cmd {
                        Cmd::Get => drop(p.cmd("GET").arg(&data.keys[i])),
                        Cmd::Set => drop(p.cmd("SET").arg(&data.keys[i]).arg(&data.values[i])),
                    }
                }
                match w.cmd {
                    Cmd::Get => {
                        let vs: Vec<Option<Vec<u8>>> =
                            p.query(&client).await.map_err(|e| e.to_string())?;
                        for (j, v) in vs.iter().enumerate() {
                            check_get(v.as_deref(), &data.values[idx(j)])?;
                        }
                    }
                    Cmd::Set => {
                        let rs: Vec<String> = p.query(&client).await.map_err(|e| e.to_string())?;
                        rs.iter().try_for_each(|r| check_ok(r))?;
                    }
                }
            }
            Ok::<_, String>(())
        }));
    }
    for t in tasks {
        t.await.map_err(|e| e.to_string())??;
    }
    Ok(Outcome::Rate(
        w.ops as f64 / started.elapsed().as_secs_f64(),
    ))
}

async fn run_redis_rs(w: Arc<Workload>, data: Arc<Data>) -> Result<Outcome, String> {
    if w.cluster {
        let urls: Vec<String> = w.seeds().iter().map(|a| format!("redis://{a}")).collect();
        let client = redis::cluster::ClusterClient::new(urls).map_err(|e| e.to_string())?;
        let conn = client
            .get_async_connection()
            .await
            .map_err(|e| e.to_string())?;
        drive_redis_rs(conn, w, data).await
    } else {
        let client =
            redis::Client::open(format!("redis://{}", w.addr)).map_err(|e| e.to_string())?;
        let conn = client
            .get_multiplexed_async_connection()
            .await
            .map_err(|e| e.to_string())?;
        drive_redis_rs(conn, w, data).await
    }
}

async fn drive_redis_rs<C>(conn: C, w: Arc<Workload>, data: Arc<Data>) -> Result<Outcome, String>
where
    C: redis::aio::ConnectionLike + Clone + Send + Sync + 'static,
{
    // A cross-slot pipeline is refused before anything is sent: say so instead of measuring.
    if w.cluster && w.pipeline > 1 {
        let mut p = redis::pipe();
        for k in data.keys.iter().take(w.pipeline) {
            p.cmd("EXISTS").arg(k);
        }
        let mut c = conn.clone();
        if let Err(e) = p.query_async::<Vec<i64>>(&mut c).await {
            return Ok(Outcome::Refused(e.to_string()));
        }
    }
    let counter = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..w.inflight {
        let (mut conn, w, data, counter) = (conn.clone(), w.clone(), data.clone(), counter.clone());
        tasks.push(tokio::spawn(async move {
            while let Some((start, n)) = claim(&counter, w.ops, w.pipeline) {
                let idx = |j: usize| ((start as usize) + j) % w.keys;
                if w.pipeline == 1 {
                    let i = idx(0);
                    match w.cmd {
                        Cmd::Get => {
                            let v: Option<Vec<u8>> = redis::cmd("GET")
                                .arg(&data.keys[i])
                                .query_async(&mut conn)
                                .await
                                .map_err(|e| e.to_string())?;
                            check_get(v.as_deref(), &data.values[i])?;
                        }
                        Cmd::Set => {
                            let r: String = redis::cmd("SET")
                                .arg(&data.keys[i])
                                .arg(&data.values[i])
                                .query_async(&mut conn)
                                .await
                                .map_err(|e| e.to_string())?;
                            check_ok(&r)?;
                        }
                    }
                    continue;
                }
                let mut p = redis::pipe();
                for j in 0..n {
                    let i = idx(j);
                    match w.cmd {
                        Cmd::Get => p.cmd("GET").arg(&data.keys[i]),
                        Cmd::Set => p.cmd("SET").arg(&data.keys[i]).arg(&data.values[i]),
                    };
                }
                match w.cmd {
                    Cmd::Get => {
                        let vs: Vec<Option<Vec<u8>>> =
                            p.query_async(&mut conn).await.map_err(|e| e.to_string())?;
                        for (j, v) in vs.iter().enumerate() {
                            check_get(v.as_deref(), &data.values[idx(j)])?;
                        }
                    }
                    Cmd::Set => {
                        let rs: Vec<String> =
                            p.query_async(&mut conn).await.map_err(|e| e.to_string())?;
                        rs.iter().try_for_each(|r| check_ok(r))?;
                    }
                }
            }
            Ok::<_, String>(())
        }));
    }
    for t in tasks {
        t.await.map_err(|e| e.to_string())??;
    }
    Ok(Outcome::Rate(
        w.ops as f64 / started.elapsed().as_secs_f64(),
    ))
}

async fn run_fred(w: Arc<Workload>, data: Arc<Data>) -> Result<Outcome, String> {
    let seeds = w.seeds();
    let url = if w.cluster {
        let nodes: String = seeds[1..].iter().map(|a| format!("&node={a}")).collect();
        format!(
            "redis-cluster://{}?{}",
            seeds[0],
            nodes.trim_start_matches('&')
        )
    } else {
        format!("redis://{}", seeds[0])
    };
    let config = fred::types::config::Config::from_url(url.trim_end_matches('?'))
        .map_err(|e| e.to_string())?;
    let client = fred::types::Builder::from_config(config)
        .build()
        .map_err(|e| e.to_string())?;
    client.init().await.map_err(|e| e.to_string())?;
    let counter = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..w.inflight {
        let (client, w, data, counter) = (client.clone(), w.clone(), data.clone(), counter.clone());
        tasks.push(tokio::spawn(async move {
            while let Some((start, n)) = claim(&counter, w.ops, w.pipeline) {
                let idx = |j: usize| ((start as usize) + j) % w.keys;
                if w.pipeline == 1 {
                    let i = idx(0);
                    match w.cmd {
                        Cmd::Get => {
                            let v: Option<Vec<u8>> = client
                                .get(data.keys[i].as_str())
                                .await
                                .map_err(|e| e.to_string())?;
                            check_get(v.as_deref(), &data.values[i])?;
                        }
                        Cmd::Set => {
                            let r: String = client
                                .set(
                                    data.keys[i].as_str(),
                                    data.values[i].as_slice(),
                                    None,
                                    None,
                                    false,
                                )
                                .await
                                .map_err(|e| e.to_string())?;
                            check_ok(&r)?;
                        }
                    }
                    continue;
                }
                let p = client.pipeline();
                for j in 0..n {
                    let i = idx(j);
                    match w.cmd {
                        Cmd::Get => {
                            let () = p
                                .get(data.keys[i].as_str())
                                .await
                                .map_err(|e| e.to_string())?;
                        }
                        Cmd::Set => {
                            let () = p
                                .set(
                                    data.keys[i].as_str(),
                                    data.values[i].as_slice(),
                                    None,
                                    None,
                                    false,
                                )
                                .await
                                .map_err(|e| e.to_string())?;
                        }
                    }
                }
                match w.cmd {
                    Cmd::Get => {
                        let vs: Vec<Option<Vec<u8>>> = p.all().await.map_err(|e| e.to_string())?;
                        for (j, v) in vs.iter().enumerate() {
                            check_get(v.as_deref(), &data.values[idx(j)])?;
                        }
                    }
                    Cmd::Set => {
                        let rs: Vec<String> = p.all().await.map_err(|e| e.to_string())?;
                        rs.iter().try_for_each(|r| check_ok(r))?;
                    }
                }
            }
            Ok::<_, String>(())
        }));
    }
    for t in tasks {
        t.await.map_err(|e| e.to_string())??;
    }
    let rate = w.ops as f64 / started.elapsed().as_secs_f64();
    let _ = client.quit().await;
    Ok(Outcome::Rate(rate))
}

/// `redis-benchmark --cluster -t <cmd> -P 16 -n <ops>` against the first seed: requests per
/// second.
fn redis_benchmark(path: &str, w: &Workload) -> Result<f64, String> {
    let seed = &w.seeds()[0];
    let (host, port) = seed.rsplit_once(':').ok_or("bad --addr")?;
    let mut cmd = std::process::Command::new(path);
    cmd.args(["-h", host, "-p", port, "-t", w.cmd.name(), "-P", "16"]);
    cmd.args([
        "-n",
        &w.ops.to_string(),
        "-d",
        &w.value_size.to_string(),
        "-q",
    ]);
    if w.cluster {
        cmd.arg("--cluster");
    }
    let out = cmd.output().map_err(|e| format!("{path}: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    // "SET: 123456.79 requests per second, p50=..." (the last \r-separated update).
    let line = text
        .split(['\r', '\n'])
        .rfind(|l| l.contains("requests per second"))
        .ok_or_else(|| format!("redis-benchmark printed no rate: {text}"))?;
    line.split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("redis-benchmark: unexpected line {line:?}"))
}

fn check_get(got: Option<&[u8]>, want: &[u8]) -> Result<(), String> {
    match got {
        Some(v) if v == want => Ok(()),
        other => Err(format!(
            "GET returned {:?}, expected {:?}",
            other.map(String::from_utf8_lossy),
            String::from_utf8_lossy(want)
        )),
    }
}

fn check_ok(reply: &str) -> Result<(), String> {
    if reply == "OK" {
        Ok(())
    } else {
        Err(format!("SET returned {reply:?}"))
    }
}

/// This process's CPU time (user + system) so far.
fn cpu_time() -> std::time::Duration {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the struct it is given; RUSAGE_SELF is always valid.
    let usage = unsafe {
        libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr());
        usage.assume_init()
    };
    let tv = |t: libc::timeval| {
        std::time::Duration::from_secs(t.tv_sec as u64)
            + std::time::Duration::from_micros(t.tv_usec as u64)
    };
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// A client's name, its rounds' ops/sec and CPU µs/op, and why it refused the workload.
type Rounds = (String, Vec<f64>, Vec<f64>, Option<String>);
/// A client's name, median ops/sec and CPU µs/op (none if it refused), and why it refused.
type Summary = (String, Option<f64>, Option<f64>, Option<String>);

#[tokio::main]
async fn main() {
    let w = Arc::new(parse_args());
    let data = Arc::new(Data::new(&w));
    if let Err(e) = prefill(&w, &data).await {
        eprintln!("prefill failed: {e}");
        std::process::exit(1);
    }
    // Several rounds alternate the order of the clients (a shared machine drifts); each
    // client's figure is its median round.
    let mut rounds: Vec<Rounds> = w
        .clients
        .iter()
        .map(|c| (c.clone(), Vec::new(), Vec::new(), None))
        .collect();
    for round in 0..w.rounds {
        let mut order: Vec<usize> = (0..rounds.len()).collect();
        if round % 2 == 1 {
            order.reverse();
        }
        for i in order {
            if rounds[i].3.is_some() {
                continue;
            }
            let name = rounds[i].0.clone();
            let cpu_before = cpu_time();
            let outcome = match name.as_str() {
                "rediscover" => run_rediscover(w.clone(), data.clone()).await,
                "redis-rs" => run_redis_rs(w.clone(), data.clone()).await,
                "fred" => run_fred(w.clone(), data.clone()).await,
                other => Err(format!(
                    "unknown client {other:?} (rediscover, redis-rs, fred)"
                )),
            };
            match outcome {
                Ok(Outcome::Rate(rate)) => {
                    let cpu = cpu_time().saturating_sub(cpu_before);
                    rounds[i].1.push(rate);
                    rounds[i].2.push(cpu.as_secs_f64() * 1e6 / w.ops as f64);
                }
                Ok(Outcome::Refused(why)) => rounds[i].3 = Some(why),
                Err(e) => {
                    eprintln!("{name}: {e}");
                    std::process::exit(1);
                }
            }
        }
    }
    let reference = match &w.redis_benchmark {
        Some(path) => match redis_benchmark(path, &w) {
            Ok(rate) => Some(rate),
            Err(e) => {
                eprintln!("redis-benchmark: {e}");
                std::process::exit(1);
            }
        },
        None => None,
    };
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied()
    };
    let results: Vec<Summary> = rounds
        .into_iter()
        .map(|(name, rates, cpu, refused)| (name, median(rates), median(cpu), refused))
        .collect();
    println!(
        "{:<16} {:>5} {:>8} {:>9} {:>9} {:>14} {:>12}",
        "client", "cmd", "ops", "inflight", "pipeline", "ops/sec", "cpu us/op"
    );
    for (name, rate, cpu, refused) in &results {
        match (rate, cpu) {
            (Some(rate), Some(cpu)) => println!(
                "{:<16} {:>5} {:>8} {:>9} {:>9} {:>14.0} {:>12.3}",
                name,
                w.cmd.name(),
                w.ops,
                w.inflight,
                w.pipeline,
                rate,
                cpu
            ),
            _ => println!(
                "{:<16} refused: {}",
                name,
                refused.as_deref().unwrap_or("no result")
            ),
        }
    }
    if let Some(r) = reference {
        println!(
            "{:<16} {:>5} {:>8} {:>9} {:>9} {:>14.0}",
            "redis-benchmark",
            w.cmd.name(),
            w.ops,
            "-",
            16,
            r
        );
        for (name, rate, _, _) in &results {
            if let Some(rate) = rate {
                println!("{name} / redis-benchmark: {:.2}", rate / r);
            }
        }
    }
    let rates: Vec<String> = results
        .iter()
        .map(|(name, rate, _, _)| match rate {
            Some(rate) => format!("\"{name}\":{}", rate.round() as u64),
            None => format!("\"{name}\":null"),
        })
        .collect();
    let cpus: Vec<String> = results
        .iter()
        .map(|(name, _, cpu, _)| match cpu {
            Some(cpu) => format!("\"{name}\":{cpu:.3}"),
            None => format!("\"{name}\":null"),
        })
        .collect();
    let reference = reference
        .map(|r| format!(",\"redis_benchmark_ops_per_sec\":{}", r.round() as u64))
        .unwrap_or_default();
    println!(
        "{{\"workload\":{{\"addr\":\"{}\",\"cluster\":{},\"cmd\":\"{}\",\"ops\":{},\"inflight\":{},\"pipeline\":{},\"keys\":{},\"value_size\":{},\"rounds\":{}}},\"ops_per_sec\":{{{}}},\"cpu_us_per_op\":{{{}}}{}}}",
        w.addr,
        w.cluster,
        w.cmd.name(),
        w.ops,
        w.inflight,
        w.pipeline,
        w.keys,
        w.value_size,
        w.rounds,
        rates.join(","),
        cpus.join(","),
        reference
    );
}
