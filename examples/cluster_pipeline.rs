//! A `ClusterClient` running cross-slot pipelines while the cluster changes under it: an
//! in-process cluster (3 masters with a replica each, fast timers), a loop sending pipelines
//! of `INCR`s over many slots, a slot migrated live (with its keys), then a master failed over
//! to its replica. It prints what the client had to do (redirections, retries, refreshes) and
//! checks that every acknowledged increment is there, exactly once.
//!
//! `cargo run -p rediscover-examples --example cluster_pipeline`
//!
//! The tour (`examples/tour.rs`) runs [`migration_and_failover`] too.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rediscover::cluster::{ClusterClient, ClusterConfig};
use rediscover::slot::key_slot;
use rediscover::{Commands, Config, Pipeline};
use rediscover_testserver::{FailoverMode, TestCluster};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

#[allow(dead_code)] // the tour includes this file for `migration_and_failover` only
#[tokio::main]
async fn main() -> Result<()> {
    migration_and_failover().await
}

fn step(text: &str) {
    println!("-- {text}");
}

/// The whole scenario.
pub async fn migration_and_failover() -> Result<()> {
    let cluster = TestCluster::builder()
        .masters(3)
        .replicas_per_master(1)
        .start()
        .await?;
    let seeds: Vec<String> = cluster
        .nodes()
        .iter()
        .map(|n| n.addr().to_string())
        .collect();
    step(&format!(
        "cluster of 3 masters and 3 replicas: {}",
        seeds.join(" ")
    ));

    // The application's side: seeds in, a client out.
    let config = ClusterConfig::new(&seeds)?
        .node(Config::default().backoff(Duration::from_millis(5), Duration::from_millis(100)))
        .refresh_min_interval(Duration::from_millis(20));
    let client = ClusterClient::with_config(config).await?;
    step(&format!(
        "the client read the slot map (CLUSTER SHARDS): masters {}",
        client
            .masters()
            .iter()
            .map(|m| m.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    ));

    // One pipeline, keys of many slots: split per node, sent concurrently, replies in order.
    let keys: Vec<String> = (0..40).map(|i| format!("counter:{i}")).collect();
    let mut p = Pipeline::new();
    for k in &keys {
        p.cmd("INCR").arg(k);
    }
    let first: Vec<i64> = p.query(&client).await?;
    let slots: std::collections::BTreeSet<u16> =
        keys.iter().map(|k| key_slot(k.as_bytes())).collect();
    step(&format!(
        "a pipeline of {} INCRs over {} slots on {} nodes: all answered in order ({:?}...)",
        keys.len(),
        slots.len(),
        client.masters().len(),
        &first[..4]
    ));

    // A writer sends that pipeline again and again, counting what was acknowledged.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (client, stop, keys) = (client.clone(), stop.clone(), keys.clone());
        tokio::spawn(async move {
            let mut acked: HashMap<String, i64> = keys.iter().map(|k| (k.clone(), 1)).collect();
            let mut errors = Vec::new();
            let mut p = Pipeline::new();
            for k in &keys {
                p.cmd("INCR").arg(k);
            }
            while !stop.load(Ordering::Relaxed) {
                match p.execute(&client).await {
                    Ok(results) => {
                        for (k, r) in keys.iter().zip(results) {
                            match r {
                                Ok(_) => *acked.get_mut(k).expect("a key") += 1,
                                Err(e) => errors.push(e.to_string()),
                            }
                        }
                    }
                    Err(e) => errors.push(e.to_string()),
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            (acked, errors)
        })
    };

    // A slot migrates, keys and all, while the writer runs: 300 more keys in it (same hash
    // tag) make the migration take a few MIGRATE batches.
    let moving = &keys[0];
    let slot = key_slot(moving.as_bytes());
    let mut fill = Pipeline::new();
    for i in 0..300 {
        fill.cmd("SET").arg(format!("{{{moving}}}:{i}")).arg(i);
    }
    fill.query::<(), _>(&client).await?;
    client
        .set(format!("{{{moving}}}:note"), "moves too")
        .await?;
    let from = cluster.master_of_slot(slot).ok_or("no master")?;
    let to = cluster
        .masters()
        .into_iter()
        .find(|&m| m != from)
        .ok_or("no other master")?;
    let before = client.stats();
    let started = Instant::now();
    let moved = cluster.migrate_slot(slot, to).await?;
    let after = client.stats();
    step(&format!(
        "slot {slot} ({moving}) migrated from {} to {} with {moved} key(s) in {:?}: the client \
         followed {} MOVED and {} ASK (only the redirected commands were sent again)",
        cluster.node(from).addr(),
        cluster.node(to).addr(),
        started.elapsed(),
        after.moved - before.moved,
        after.ask - before.ask,
    ));

    // Then a master is failed over to its replica.
    let victim = cluster
        .master_of_key(keys[1].as_bytes())
        .ok_or("no master")?;
    let replica = *cluster.replicas_of(victim).first().ok_or("no replica")?;
    let before = client.stats();
    let started = Instant::now();
    cluster.failover(replica, FailoverMode::Default).await?;
    // Let the writer run a little on the new topology.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let after = client.stats();
    step(&format!(
        "replica {} took over from {} in {:?}; the client saw {} MOVED, {} retries, {} refreshes",
        cluster.node(replica).addr(),
        cluster.node(victim).addr(),
        started.elapsed(),
        after.moved - before.moved,
        after.retries - before.retries,
        after.refreshes - before.refreshes,
    ));

    stop.store(true, Ordering::Relaxed);
    let (acked, errors) = writer.await?;
    let mut p = Pipeline::new();
    for k in &keys {
        p.cmd("GET").arg(k);
    }
    let values: Vec<i64> = p.query(&client).await?;
    let lost = keys
        .iter()
        .zip(&values)
        .filter(|(k, v)| acked[*k] != **v)
        .count();
    let total: i64 = acked.values().sum();
    step(&format!(
        "{total} acknowledged increments, {} errors surfaced, {lost} keys off their count",
        errors.len()
    ));
    for e in errors.iter().take(3) {
        println!("   error: {e}");
    }
    step(&format!("client counters: {:?}", client.stats()));
    if lost > 0 || !errors.is_empty() {
        return Err("writes were lost or failed".into());
    }
    Ok(())
}
