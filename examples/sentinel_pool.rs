//! A `SentinelPool` following a failover: an in-process Sentinel deployment (a master, two
//! replicas, three sentinels, fast timers), a loop writing through the pool, the master
//! killed; it prints the switch and the time writes were unavailable, next to the time the
//! sentinels themselves took.
//!
//! `cargo run -p rediscover-examples --example sentinel_pool`
//!
//! The tour (`examples/tour.rs`) runs [`failover`] too.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rediscover::sentinel::SentinelEvent;
use rediscover::{Commands, Config, Connection, SentinelConfig, SentinelPool};
use rediscover_testserver::topology::sentinel::TestSentinel;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

#[allow(dead_code)] // the tour includes this file for `failover` only
#[tokio::main]
async fn main() -> Result<()> {
    failover().await
}

fn step(text: &str) {
    println!("-- {text}");
}

/// The whole scenario.
pub async fn failover() -> Result<()> {
    let mut t = TestSentinel::builder()
        .replicas(2)
        .sentinels(3)
        .start()
        .await?;
    let old = t.servers[0].addr();
    step(&format!(
        "Sentinel: master {old}, replicas {} and {}, sentinels {}",
        t.servers[1].addr(),
        t.servers[2].addr(),
        t.sentinels
            .iter()
            .map(|s| s.addr().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    ));

    // The application's side: a pool, from the sentinels' addresses and the master's name.
    let config = SentinelConfig::new("mymaster", t.sentinels.iter().map(|s| s.addr()));
    let pool = SentinelPool::connect(config).await?;
    let master = pool.master();
    step(&format!(
        "the pool asked every sentinel: master {} (config epoch {}), checked with ROLE",
        master.addr, master.epoch
    ));
    let mut events = pool.events();

    // Write in a loop; `run` sends once more on the new master when the old one went away
    // under a command that did not run.
    let stop = Arc::new(AtomicBool::new(false));
    let written = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let acked: Arc<Mutex<Vec<(Instant, Instant)>>> = Arc::default();
    let writer = {
        let (pool, stop, written, failed, acked) = (
            pool.clone(),
            stop.clone(),
            written.clone(),
            failed.clone(),
            acked.clone(),
        );
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let sent = Instant::now();
                match pool
                    .run(|conn| async move { conn.incr::<i64>("counter").await })
                    .await
                {
                    Ok(_) => {
                        written.fetch_add(1, Ordering::Relaxed);
                        acked.lock().unwrap().push((sent, Instant::now()));
                    }
                    Err(_) => {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        })
    };
    while written.load(Ordering::Relaxed) < 1000 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    step(&format!(
        "{} INCRs through the pool; killing the master",
        written.load(Ordering::Relaxed)
    ));

    let killed = Instant::now();
    t.servers[0].kill().await;
    let sentinels_took = first_sentinel_naming_a_new_master(&t, old).await?;
    let (from, to, epoch, cause) = loop {
        if let SentinelEvent::Switched {
            from,
            to,
            epoch,
            cause,
        } = events.recv().await?
        {
            break (from, to, epoch, cause);
        }
    };
    let switched_after = killed.elapsed();
    // The first write sent after the kill that succeeded.
    let gap = loop {
        let first = acked
            .lock()
            .unwrap()
            .iter()
            .find(|(sent, _)| *sent > killed)
            .map(|(_, at)| *at - killed);
        if let Some(gap) = first {
            break gap;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    };
    step(&format!(
        "switched from {from} to {to} (epoch {epoch}, {cause:?}) {} ms after the kill",
        switched_after.as_millis()
    ));
    step(&format!(
        "the sentinels named the new master {} ms after the kill; writes through the pool \
         were unavailable for {} ms ({} failed meanwhile)",
        sentinels_took.as_millis(),
        gap.as_millis(),
        failed.load(Ordering::Relaxed)
    ));
    tokio::time::sleep(Duration::from_millis(100)).await;
    stop.store(true, Ordering::Relaxed);
    writer.await?;
    let counter: i64 = pool.get().await?.get("counter").await?;
    let stats = pool.stats();
    step(&format!(
        "counter = {counter} on the new master; {} discoveries, {} switch, {} connections \
         drained",
        stats.discoveries, stats.switches, stats.drained_connections
    ));
    Ok(())
}

/// How long after now the first sentinel names a master other than `old` that answers `ROLE`
/// as a master (polled every millisecond).
async fn first_sentinel_naming_a_new_master(t: &TestSentinel, old: SocketAddr) -> Result<Duration> {
    let started = Instant::now();
    let mut sentinels = Vec::new();
    for s in &t.sentinels {
        sentinels.push(Connection::connect(&at(s.addr())).await?);
    }
    loop {
        for s in &sentinels {
            let named: Option<(String, String)> = s
                .cmd("SENTINEL")
                .arg("GET-MASTER-ADDR-BY-NAME")
                .arg("mymaster")
                .query()
                .await?;
            let Some(addr) = named.and_then(|(h, p)| format!("{h}:{p}").parse().ok()) else {
                continue;
            };
            if addr != old && is_master(addr).await {
                return Ok(started.elapsed());
            }
        }
        if started.elapsed() > Duration::from_secs(20) {
            return Err("no failover".into());
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

fn at(addr: SocketAddr) -> Config {
    Config::default()
        .host(addr.ip().to_string())
        .port(addr.port())
}

async fn is_master(addr: SocketAddr) -> bool {
    let Ok(conn) = Connection::connect(&at(addr)).await else {
        return false;
    };
    let role: rediscover::Result<Vec<rediscover::resp::Frame>> = conn.cmd("ROLE").query().await;
    conn.close();
    matches!(role.as_deref(), Ok([first, ..]) if first.as_bytes().is_some_and(|r| &r[..] == b"master"))
}
