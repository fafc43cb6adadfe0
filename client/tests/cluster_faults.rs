//! `ClusterClient` through faults of the in-process `TestCluster` (fast timers): `ASK` in the
//! middle of a pipeline (no write applied twice), live resharding of many slots under a
//! writing and reading workload (no error surfaced, no write lost), a master killed under load
//! (errors only for what was in flight to it), replica reads through a failover, a node
//! restarted at the same address. Every wait polls with a deadline.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rediscover::cluster::{ClusterClient, ClusterConfig, ReadFrom};
use rediscover::slot::key_slot;
use rediscover::{Commands, Config, Pipeline};
use rediscover_testserver::{FailoverMode, TestCluster};

fn config(cluster: &TestCluster) -> ClusterConfig {
    ClusterConfig::new(cluster.nodes().iter().map(|n| n.addr().to_string()))
        .unwrap()
        .node(
            Config::default()
                .request_timeout(Some(Duration::from_secs(30)))
                .connect_timeout(Duration::from_millis(500))
                .backoff(Duration::from_millis(5), Duration::from_millis(50)),
        )
        .refresh_interval(Duration::from_millis(500))
        .refresh_min_interval(Duration::from_millis(10))
        .retry_backoff(Duration::from_millis(5), Duration::from_millis(50))
}

/// These tests each run a cluster whose failure detection has a 200 ms node timeout: one at a
/// time, so that a loaded machine does not starve one test's nodes into a failover.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn key_on(cluster: &TestCluster, want: usize, prefix: &str) -> String {
    (0..100_000)
        .map(|i| format!("{prefix}{i}"))
        .find(|k| cluster.master_of_key(k.as_bytes()) == Some(want))
        .unwrap()
}

async fn poll<F: FnMut() -> bool>(what: &str, mut f: F) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn ask_in_the_middle_of_a_pipeline_applies_each_write_once() {
    let _serial = SERIAL.lock().await;
    let cluster = TestCluster::builder().masters(3).start().await.unwrap();
    let client = ClusterClient::with_config(config(&cluster)).await.unwrap();
    // `moving` sits in a slot being migrated from 0 to 1, already on the target: the source
    // answers ASK. `stay` is on the same source node, another slot; `other` elsewhere.
    let moving = key_on(&cluster, 0, "moving:");
    let stay = (0..)
        .map(|i| format!("stay:{i}"))
        .find(|k| {
            cluster.master_of_key(k.as_bytes()) == Some(0)
                && key_slot(k.as_bytes()) != key_slot(moving.as_bytes())
        })
        .unwrap();
    let other = key_on(&cluster, 2, "other:");
    for k in [&moving, &stay, &other] {
        client.set(k, 10).await.unwrap();
    }
    let slot = key_slot(moving.as_bytes());
    cluster.begin_slot_migration(slot, 1).await.unwrap();
    cluster.move_slot_keys(slot, 0, 1, 10).await.unwrap();
    let mut p = Pipeline::new();
    p.cmd("INCR").arg(&stay);
    p.cmd("INCR").arg(&moving);
    p.cmd("INCR").arg(&other);
    p.cmd("INCR").arg(&moving);
    p.cmd("INCR").arg(&stay);
    let got: Vec<i64> = p.query(&client).await.unwrap();
    assert_eq!(got, [11, 11, 11, 12, 12]);
    assert_eq!(client.stats().ask, 2, "{:?}", client.stats());
    cluster.finish_slot_migration(slot, 0, 1).await.unwrap();
    for (k, want) in [(&moving, 12), (&stay, 12), (&other, 11)] {
        let v: i64 = client.get(k).await.unwrap();
        assert_eq!(v, want, "{k}: each INCR applied exactly once");
    }
}

#[tokio::test]
async fn live_resharding_of_many_slots_under_load_surfaces_no_error_and_loses_no_write() {
    let _serial = SERIAL.lock().await;
    let cluster = TestCluster::builder().masters(3).start().await.unwrap();
    let client = ClusterClient::with_config(config(&cluster)).await.unwrap();
    // 24 tags on master 0, whose slots will move to 1 and then to 2.
    let tags: Vec<String> = (0..)
        .map(|i| format!("tag{i}"))
        .filter(|t| cluster.master_of_key(t.as_bytes()) == Some(0))
        .take(24)
        .collect();
    let mut slots: Vec<u16> = tags.iter().map(|t| key_slot(t.as_bytes())).collect();
    slots.sort_unstable();
    slots.dedup();
    for t in &tags {
        for j in 0..5 {
            client.set(format!("{{{t}}}:{j}"), 0).await.unwrap();
        }
    }
    let stop = Arc::new(AtomicBool::new(false));
    let errors = Arc::new(AtomicU64::new(0));
    let mut workers = Vec::new();
    // Single-command writers, pipelined writers, readers.
    for w in 0..4usize {
        let (client, stop, errors, tags) =
            (client.clone(), stop.clone(), errors.clone(), tags.clone());
        workers.push(tokio::spawn(async move {
            let mut done: HashMap<String, i64> = HashMap::new();
            let mut i = w;
            while !stop.load(Ordering::Relaxed) {
                let key = format!("{{{}}}:{}", tags[i % tags.len()], i % 5);
                i += 7;
                if w % 2 == 0 {
                    match client.incr::<i64>(&key).await {
                        Ok(_) => *done.entry(key).or_default() += 1,
                        Err(e) => {
                            eprintln!("INCR {key}: {e}");
                            errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                } else {
                    let mut p = Pipeline::new();
                    let keys: Vec<String> = (0..8)
                        .map(|k| format!("{{{}}}:{}", tags[(i + k) % tags.len()], k % 5))
                        .collect();
                    for k in &keys {
                        p.cmd("INCR").arg(k);
                        p.cmd("GET").arg(k);
                    }
                    match p.execute(&client).await {
                        Ok(results) => {
                            for (k, r) in keys.iter().zip(results.chunks(2)) {
                                if r.iter().any(|r| r.is_err()) {
                                    eprintln!("pipeline {k}: {r:?}");
                                    errors.fetch_add(1, Ordering::Relaxed);
                                } else {
                                    *done.entry(k.clone()).or_default() += 1;
                                }
                            }
                        }
                        Err(e) => {
                            eprintln!("pipeline: {e}");
                            errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            }
            done
        }));
    }
    {
        let (client, stop, errors, tags) =
            (client.clone(), stop.clone(), errors.clone(), tags.clone());
        workers.push(tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                let keys: Vec<String> = (0..6)
                    .map(|k| format!("{{{}}}:{}", tags[(i + k) % tags.len()], k % 5))
                    .collect();
                i += 1;
                if let Err(e) = client.mget::<Vec<Option<i64>>>(&keys).await {
                    eprintln!("MGET: {e}");
                    errors.fetch_add(1, Ordering::Relaxed);
                }
            }
            HashMap::new()
        }));
    }
    for &slot in &slots {
        cluster.migrate_slot(slot, 1).await.unwrap();
    }
    for &slot in &slots {
        cluster.migrate_slot(slot, 2).await.unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    let mut expected: HashMap<String, i64> = HashMap::new();
    for w in workers {
        for (k, n) in w.await.unwrap() {
            *expected.entry(k).or_default() += n;
        }
    }
    assert_eq!(errors.load(Ordering::Relaxed), 0, "no error surfaced");
    assert!(expected.values().sum::<i64>() > 0);
    for (k, n) in &expected {
        let v: i64 = client.get(k).await.unwrap();
        assert_eq!(v, *n, "{k}: every acknowledged INCR is there, once");
        assert_eq!(cluster.master_of_key(k.as_bytes()), Some(2));
    }
    let stats = client.stats();
    assert!(stats.moved > 0, "{stats:?}");
    eprintln!("{} slots moved twice: {stats:?}", slots.len());
}

#[tokio::test]
async fn a_master_killed_under_load_fails_only_what_was_in_flight_to_it() {
    let _serial = SERIAL.lock().await;
    let mut cluster = TestCluster::builder()
        .masters(3)
        .replicas_per_master(1)
        .start()
        .await
        .unwrap();
    let client = ClusterClient::with_config(config(&cluster)).await.unwrap();
    // Under a loaded machine a node may have been failed over already: take a current master.
    let victim = cluster.masters()[0];
    let victim_key = key_on(&cluster, victim, "victim:");
    let victim_slot = key_slot(victim_key.as_bytes());
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for w in 0..4 {
        let (client, stop) = (client.clone(), stop.clone());
        workers.push(tokio::spawn(async move {
            let mut errors = Vec::new();
            let mut i = w;
            while !stop.load(Ordering::Relaxed) {
                i += 4;
                if let Err(e) = client.incr::<i64>(format!("load:{}", i % 500)).await {
                    errors.push(e);
                }
            }
            errors
        }));
    }
    poll("some load", || client.stats().topology_version > 0).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    cluster.kill(victim).await;
    let killed = Instant::now();
    // A write to the dead master's slot succeeds once a replica took over.
    let n: i64 = client.incr(&victim_key).await.unwrap();
    let recovered = killed.elapsed();
    assert_eq!(n, 1);
    let new_master = cluster.wait_for_master_of_slot(victim_slot).await.unwrap();
    assert_ne!(new_master, victim);
    stop.store(true, Ordering::Relaxed);
    let mut errors = Vec::new();
    for w in workers {
        errors.extend(w.await.unwrap());
    }
    for e in &errors {
        // Only requests that may have reached the dead master before it died: their outcome
        // is unknown, so they are reported rather than sent twice.
        assert!(
            e.is_connection_broken() || matches!(e, rediscover::Error::Closed),
            "unexpected error kind: {e:?}"
        );
    }
    assert!(
        errors.len() <= 4 * 2,
        "at most what was in flight: {errors:?}"
    );
    eprintln!(
        "recovered in {recovered:?} (node timeout 200 ms); {} in-flight errors; {:?}",
        errors.len(),
        client.stats()
    );
    // How long that took depends on the machine's load (node timeout plus an election, about
    // 0.6 s on a quiet machine): it is printed, not asserted.
}

#[tokio::test]
async fn replica_reads_continue_through_a_failover() {
    let _serial = SERIAL.lock().await;
    let cluster = TestCluster::builder()
        .masters(3)
        .replicas_per_master(1)
        .start()
        .await
        .unwrap();
    let client = ClusterClient::with_config(config(&cluster).read_from(ReadFrom::PreferReplica))
        .await
        .unwrap();
    let master = cluster.masters()[0];
    let key = key_on(&cluster, master, "replicated:");
    client.set(&key, "v1").await.unwrap();
    let replica = cluster.replicas_of(master)[0];
    cluster.wait_stable().await.unwrap();
    // Replicas that have received nothing yet are reported `loading`, and not read from: wait
    // until the cluster's gossip has the replica's offset.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        client.refresh().await.unwrap();
        if !client.replicas_for_key(&key).is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "the replica is reported online");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let addr = cluster.node(replica).addr();
    let reads_on = || async move {
        let info = rediscover_testserver::cluster::testing::call(addr, &[b"INFO", b"commandstats"])
            .await
            .unwrap();
        let text = String::from_utf8_lossy(info.as_bytes().unwrap()).to_string();
        text.lines()
            .find_map(|l| l.strip_prefix("cmdstat_get:calls="))
            .and_then(|l| l.split(',').next()?.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let before = reads_on().await;
    for _ in 0..20 {
        let v: String = client.get(&key).await.unwrap();
        assert_eq!(v, "v1");
    }
    let after = reads_on().await;
    assert!(
        after >= before + 20,
        "reads went to the replica: {before} -> {after}, {:?}",
        client.stats()
    );
    // Reads and writes keep working through a failover.
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (client, stop, key) = (client.clone(), stop.clone(), key.clone());
        tokio::spawn(async move {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let v: Option<String> = client.get(&key).await.unwrap();
                assert!(v.is_some());
                n += 1;
            }
            n
        })
    };
    cluster
        .failover(replica, FailoverMode::Default)
        .await
        .unwrap();
    client.set(&key, "v2").await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let v: String = client.get(&key).await.unwrap();
        if v == "v2" {
            break;
        }
        assert!(Instant::now() < deadline, "the new replica catches up");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    stop.store(true, Ordering::Relaxed);
    assert!(reader.await.unwrap() > 0);
}

#[tokio::test]
async fn nearest_and_replica_reads_see_the_data() {
    let _serial = SERIAL.lock().await;
    let cluster = TestCluster::builder()
        .masters(3)
        .replicas_per_master(1)
        .start()
        .await
        .unwrap();
    let writer = ClusterClient::with_config(config(&cluster)).await.unwrap();
    let keys: Vec<String> = (0..30).map(|i| format!("near:{i}")).collect();
    for k in &keys {
        writer.set(k, k).await.unwrap();
    }
    cluster.wait_stable().await.unwrap();
    for read_from in [ReadFrom::Nearest, ReadFrom::Replica] {
        let reader = ClusterClient::with_config(config(&cluster).read_from(read_from))
            .await
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(15);
        while keys.iter().any(|k| reader.replicas_for_key(k).is_empty()) {
            assert!(Instant::now() < deadline, "replicas reported online");
            reader.refresh().await.unwrap();
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        for k in &keys {
            let v: String = reader.get(k).await.unwrap();
            assert_eq!(&v, k, "{read_from:?}");
        }
        // Writes still go to the masters.
        reader
            .set(format!("written:{read_from:?}"), 1)
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn a_node_restarted_at_the_same_address_is_used_again() {
    let _serial = SERIAL.lock().await;
    let mut cluster = TestCluster::builder().masters(3).start().await.unwrap();
    let client = ClusterClient::with_config(config(&cluster)).await.unwrap();
    let key = key_on(&cluster, 1, "restart:");
    client.set(&key, "a").await.unwrap();
    let reconnects = client.stats().reconnects;
    cluster.kill(1).await;
    cluster.restart(1).await.unwrap();
    cluster.wait_stable().await.unwrap();
    client.set(&key, "b").await.unwrap();
    let v: String = client.get(&key).await.unwrap();
    assert_eq!(v, "b");
    assert!(
        client.stats().reconnects > reconnects,
        "{:?}",
        client.stats()
    );
}
