//! The classic Sentinel split brain, reproduced in one process (docs/sentinel.md explains it).
//!
//! A master, two replicas, three sentinels. The master is partitioned from everything else
//! while a client, which can still reach it, keeps writing. The sentinels promote a replica.
//! When the partition heals, the old master is demoted and resynchronised from the new one:
//! whatever it acknowledged during the partition is gone.
//!
//! - With default settings the isolated master acknowledges every write for the whole
//!   partition, and all of them are lost.
//! - With `min-replicas-to-write 1` and `min-replicas-max-lag 10` it refuses writes
//!   (`-NOREPLICAS`) once its replicas have been silent for more than 10 seconds; the client,
//!   which asks Sentinel for the master after an error as Sentinel clients do, moves to the
//!   new master, and nothing it acknowledges there is lost. What the old master acknowledged
//!   in its first 10 seconds is still lost: the setting bounds the loss, as in Redis.
//!
//! The test prints the counts of both runs. It takes about 13 s (the lag is in seconds, as in
//! Redis); the two runs go side by side.

mod common;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::sentinel::call;
use common::RawConn;
use rediscover::resp::Frame;
use rediscover_testserver::config::Config;
use rediscover_testserver::topology::sentinel::TestSentinel;

const WAIT: Duration = Duration::from_secs(20);

/// How long the partition lasts: past the 10 s lag, so the second run sees the refusal.
const PARTITION: Duration = Duration::from_millis(12_500);

/// A write the client saw succeed: its number and the server that acknowledged it.
#[derive(Debug, Clone, Copy)]
struct Ack {
    n: u64,
    by: SocketAddr,
    at: Instant,
}

/// What one run saw.
#[derive(Debug)]
struct Outcome {
    /// Writes the old master acknowledged during the partition.
    old_acked: Vec<Ack>,
    /// Writes the new master acknowledged.
    new_acked: Vec<Ack>,
    /// Of those, the ones missing once everything healed.
    old_lost: usize,
    new_lost: usize,
    /// When the old master first refused a write, counted from the partition.
    refused_after: Option<Duration>,
    /// When the sentinels had promoted a replica, counted from the partition.
    promoted_after: Duration,
}

/// A Sentinel client: writes to the master it was given, and after an error asks a sentinel
/// where the master is now.
async fn client(
    sentinel: SocketAddr,
    first: SocketAddr,
    stop: Arc<AtomicBool>,
    acks: Arc<Mutex<Vec<Ack>>>,
    refused: Arc<Mutex<Option<Instant>>>,
) {
    let mut master = first;
    let mut conn = RawConn::connect(master).await;
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let key = format!("key:{n}");
        conn.send(&["SET", &key, "v"]).await;
        let reply = conn.read_raw_timeout(Duration::from_secs(2)).await;
        match reply.as_deref() {
            Some(b"+OK\r\n") => acks.lock().unwrap().push(Ack {
                n,
                by: master,
                at: Instant::now(),
            }),
            Some(err) => {
                if err.starts_with(b"-NOREPLICAS") {
                    refused.lock().unwrap().get_or_insert_with(Instant::now);
                }
                let mut s = RawConn::connect(sentinel).await;
                let addr = call(&mut s, &["SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster"]).await;
                let parts = addr.as_slice().unwrap();
                let text = |f: &Frame| String::from_utf8_lossy(f.as_bytes().unwrap()).into_owned();
                let now: SocketAddr = format!("{}:{}", text(&parts[0]), text(&parts[1]))
                    .parse()
                    .unwrap();
                if now != master {
                    master = now;
                    conn = RawConn::connect(master).await;
                }
            }
            None => panic!("no reply from {master} within 2 s"),
        }
        // About a hundred writes a second.
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The keys a server holds.
async fn keys(addr: SocketAddr) -> HashSet<u64> {
    let mut c = RawConn::connect(addr).await;
    let f = call(&mut c, &["KEYS", "key:*"]).await;
    f.as_slice()
        .unwrap()
        .iter()
        .map(|k| {
            let k = String::from_utf8_lossy(k.as_bytes().unwrap()).into_owned();
            k["key:".len()..].parse().unwrap()
        })
        .collect()
}

async fn run(config: Config) -> Outcome {
    let t = TestSentinel::builder()
        .server_config(config)
        .start()
        .await
        .unwrap();
    let old = t.servers[0].addr();
    let rest: Vec<_> = t.servers[1..].iter().chain(&t.sentinels).collect();
    let start = Instant::now();
    TestSentinel::partition(&[&t.servers[0]], &rest);

    let stop = Arc::new(AtomicBool::new(false));
    let acks = Arc::new(Mutex::new(Vec::new()));
    let refused = Arc::new(Mutex::new(None));
    let writer = tokio::spawn(client(
        t.sentinels[0].addr(),
        old,
        stop.clone(),
        acks.clone(),
        refused.clone(),
    ));
    let new = t.wait_for_failover(old, WAIT).await.unwrap();
    let promoted_after = start.elapsed();
    tokio::time::sleep_until((start + PARTITION).into()).await;
    stop.store(true, Ordering::Relaxed);
    writer.await.unwrap();

    // Heal: the old master comes back, is demoted, and resyncs from the new one.
    TestSentinel::heal(&[&t.servers[0]], &rest);
    t.wait_replica_of(old, new, WAIT).await.unwrap();
    let old_node = t.server(old).unwrap().node();
    rediscover_testserver::topology::wait_in_sync(t.server(new).unwrap().node(), &[old_node], WAIT)
        .await
        .unwrap();
    // Never two masters once it is over.
    assert!(!t.server(old).unwrap().is_master());

    let kept = keys(new).await;
    assert_eq!(
        kept,
        keys(old).await,
        "the old master holds what the new one holds"
    );
    let acks = acks.lock().unwrap().clone();
    let (old_acked, new_acked): (Vec<Ack>, Vec<Ack>) = acks.iter().partition(|a| a.by == old);
    let lost = |v: &[Ack]| v.iter().filter(|a| !kept.contains(&a.n)).count();
    let refused_after = refused.lock().unwrap().map(|at| at - start);
    Outcome {
        old_lost: lost(&old_acked),
        new_lost: lost(&new_acked),
        old_acked,
        new_acked,
        refused_after,
        promoted_after,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_brain_loses_what_the_isolated_master_acknowledged() {
    let default = Config::in_process();
    let guarded = Config {
        min_replicas_to_write: 1,
        min_replicas_max_lag: 10,
        ..Config::in_process()
    };
    let (a, b) = tokio::join!(run(default), run(guarded));

    println!(
        "default settings: the isolated master acknowledged {} writes during the partition; {} were lost",
        a.old_acked.len(),
        a.old_lost
    );
    println!(
        "min-replicas-to-write 1, min-replicas-max-lag 10: the isolated master acknowledged {} writes, then refused writes {:.1} s into the partition ({} of them lost); the new master acknowledged {} writes, {} lost",
        b.old_acked.len(),
        b.refused_after.map_or(f64::NAN, |d| d.as_secs_f64()),
        b.old_lost,
        b.new_acked.len(),
        b.new_lost
    );
    println!(
        "(replicas promoted {:.2} s and {:.2} s into the partitions)",
        a.promoted_after.as_secs_f64(),
        b.promoted_after.as_secs_f64()
    );

    // Default: it never refuses; everything it acknowledged during the partition is gone.
    assert!(a.refused_after.is_none() && a.new_acked.is_empty());
    assert!(a.old_acked.len() > 100, "{a:?}");
    assert_eq!(a.old_lost, a.old_acked.len());

    // Guarded: it refuses once the replicas' lag passes 10 s (Redis counts whole seconds).
    let refused = b.refused_after.expect("the isolated master refuses writes");
    assert!(
        refused > Duration::from_secs(10) && refused < Duration::from_secs(12),
        "refused after {refused:?}"
    );
    // What it acknowledged before that is lost; it acknowledged nothing after.
    assert_eq!(b.old_lost, b.old_acked.len());
    let start_of_refusal = b.old_acked.iter().map(|a| a.at).max().unwrap();
    assert!(b.new_acked.iter().all(|a| a.at > start_of_refusal));
    // Then the client writes to the new master, and none of that is lost.
    assert!(!b.new_acked.is_empty(), "{b:?}");
    assert_eq!(b.new_lost, 0);
}
