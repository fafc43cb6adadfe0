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

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use rediscover::{Commands, Pipeline};

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
        "usage: loadgen --addr HOST:PORT [--ops N] [--inflight N] [--pipeline N] \
         [--cmd set|get] [--keys N] [--value-size N] [--clients rediscover,redis-rs] \
         [--rounds N]"
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
        clients: vec!["rediscover".into(), "redis-rs".into()],
        rounds: 1,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut it = args.iter();
    while let Some(flag) = it.next() {
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
            _ => usage(),
        }
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
    let client = rediscover::Client::connect(&format!("redis://{}", w.addr))
        .await
        .map_err(|e| e.to_string())?;
    for chunk in (0..w.keys).collect::<Vec<_>>().chunks(1000) {
        let mut p = Pipeline::new();
        for &i in chunk {
            p.cmd("SET").arg(&data.keys[i]).arg(&data.values[i]);
        }
        let replies: Vec<String> = p.query(&client).await.map_err(|e| e.to_string())?;
        if replies.iter().any(|r| r != "OK") {
            return Err("prefill: SET did not answer OK".into());
        }
    }
    Ok(())
}

async fn run_rediscover(w: Arc<Workload>, data: Arc<Data>) -> Result<f64, String> {
    let client = rediscover::Client::connect(&format!("redis://{}", w.addr))
        .await
        .map_err(|e| e.to_string())?;
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
    Ok(w.ops as f64 / started.elapsed().as_secs_f64())
}

async fn run_redis_rs(w: Arc<Workload>, data: Arc<Data>) -> Result<f64, String> {
    let client = redis::Client::open(format!("redis://{}", w.addr)).map_err(|e| e.to_string())?;
    let conn = client
        .get_multiplexed_async_connection()
        .await
        .map_err(|e| e.to_string())?;
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
    Ok(w.ops as f64 / started.elapsed().as_secs_f64())
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
    let mut rounds: Vec<(String, Vec<f64>, Vec<f64>)> = w
        .clients
        .iter()
        .map(|c| (c.clone(), Vec::new(), Vec::new()))
        .collect();
    for round in 0..w.rounds {
        let mut order: Vec<usize> = (0..rounds.len()).collect();
        if round % 2 == 1 {
            order.reverse();
        }
        for i in order {
            let name = rounds[i].0.clone();
            let cpu_before = cpu_time();
            let outcome = match name.as_str() {
                "rediscover" => run_rediscover(w.clone(), data.clone()).await,
                "redis-rs" => run_redis_rs(w.clone(), data.clone()).await,
                other => Err(format!("unknown client {other:?} (rediscover, redis-rs)")),
            };
            match outcome {
                Ok(rate) => {
                    let cpu = cpu_time().saturating_sub(cpu_before);
                    rounds[i].1.push(rate);
                    rounds[i].2.push(cpu.as_secs_f64() * 1e6 / w.ops as f64);
                }
                Err(e) => {
                    eprintln!("{name}: {e}");
                    std::process::exit(1);
                }
            }
        }
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let results: Vec<(String, f64, f64)> = rounds
        .into_iter()
        .map(|(name, rates, cpu)| (name, median(rates), median(cpu)))
        .collect();
    println!(
        "{:<12} {:>5} {:>8} {:>9} {:>9} {:>14} {:>12}",
        "client", "cmd", "ops", "inflight", "pipeline", "ops/sec", "cpu us/op"
    );
    for (name, rate, cpu) in &results {
        println!(
            "{:<12} {:>5} {:>8} {:>9} {:>9} {:>14.0} {:>12.3}",
            name,
            w.cmd.name(),
            w.ops,
            w.inflight,
            w.pipeline,
            rate,
            cpu
        );
    }
    let rates: Vec<String> = results
        .iter()
        .map(|(name, rate, _)| format!("\"{name}\":{}", rate.round() as u64))
        .collect();
    let cpus: Vec<String> = results
        .iter()
        .map(|(name, _, cpu)| format!("\"{name}\":{cpu:.3}"))
        .collect();
    println!(
        "{{\"workload\":{{\"addr\":\"{}\",\"cmd\":\"{}\",\"ops\":{},\"inflight\":{},\"pipeline\":{},\"keys\":{},\"value_size\":{},\"rounds\":{}}},\"ops_per_sec\":{{{}}},\"cpu_us_per_op\":{{{}}}}}",
        w.addr,
        w.cmd.name(),
        w.ops,
        w.inflight,
        w.pipeline,
        w.keys,
        w.value_size,
        w.rounds,
        rates.join(","),
        cpus.join(",")
    );
}
