//! Replication with the in-process test server: a master and two replicas, WAIT, a read-only
//! replica, a partition healed with a partial resync, and a failover.
//!
//! `cargo run -p rediscover-examples --example replication`

use std::time::Duration;

use rediscover::{Client, Commands};
use rediscover_testserver::topology::ReplicationSet;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

const DEADLINE: Duration = Duration::from_secs(10);

#[tokio::main]
async fn main() -> Result<()> {
    let set = ReplicationSet::start(2).await?;
    step(&format!(
        "master {} with replicas {} and {}",
        set.master.addr(),
        set.replicas[0].addr(),
        set.replicas[1].addr()
    ));

    let master = Client::connect(&set.master.url()).await?;
    master.set("greeting", "hello").await?;
    // WAIT on the connection that wrote: how many replicas have acknowledged the write.
    let acked: i64 = master.cmd("WAIT").arg(2).arg(1000).query().await?;
    step(&format!(
        "SET acknowledged by {acked} replicas (WAIT 2 1000)"
    ));

    let replica = Client::connect(&set.replicas[0].url()).await?;
    let value: Option<String> = replica.get("greeting").await?;
    step(&format!("read from a replica: {value:?}"));
    match replica.set("greeting", "nope").await {
        Err(e) => step(&format!("write to a replica refused: {e}")),
        Ok(()) => step("write to a replica accepted (replica-read-only is off)"),
    }

    // Cut a replica off, keep writing, heal: it continues from the master's backlog.
    set.replicas[1].partition_from_master();
    for i in 0..100 {
        let _: i64 = master.incr("counter").await?;
        if i == 0 {
            step("replica 1 partitioned from the master; writing 100 INCRs");
        }
    }
    set.replicas[1].heal_master_link();
    set.wait_in_sync(DEADLINE).await?;
    let info: String = master.cmd("INFO").arg("stats").query().await?;
    let stat = |name: &str| {
        info.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}:")))
            .unwrap_or("?")
            .to_string()
    };
    step(&format!(
        "healed and in sync: full resyncs {}, partial resyncs {}",
        stat("sync_full"),
        stat("sync_partial_ok")
    ));

    // Fail over: the master goes away, replica 0 takes over, replica 1 follows it.
    let ReplicationSet {
        master: old,
        replicas,
    } = set;
    old.shutdown().await;
    let [promoted, follower]: [_; 2] = replicas.try_into().map_err(|_| "expected two replicas")?;
    promoted.promote();
    follower.replicate(promoted.addr());
    let set = ReplicationSet {
        master: promoted,
        replicas: vec![follower],
    };
    set.wait_in_sync(DEADLINE).await?;
    let new_master = Client::connect(&set.master.url()).await?;
    let counter: i64 = new_master.cmd("GET").arg("counter").query().await?;
    step(&format!(
        "failed over to {}: counter = {counter}, the follower is in sync",
        set.master.addr()
    ));
    Ok(())
}

fn step(text: &str) {
    println!("-- {text}");
}
