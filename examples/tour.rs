//! The rediscover tour: an in-process test server and the client working against it.
//!
//! `cargo run -p rediscover-examples --example tour`
//!
//! Each step prints what it did. Nothing here needs a Redis installed: the server is
//! `rediscover_testserver::TestServer`, started on 127.0.0.1 and a free port. The last
//! parts are `examples/sentinel_pool.rs`: a Sentinel deployment in-process, a `SentinelPool`
//! writing through a failover; and `examples/cluster_pipeline.rs`: an in-process cluster, a
//! `ClusterClient` sending cross-slot pipelines through a live slot migration and a failover.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rediscover::{Client, Commands, Config, ErrorCode, ErrorKind, Pipeline, Pool, Transaction};
use rediscover_testserver::TestServer;

#[path = "sentinel_pool.rs"]
mod sentinel_pool;

#[path = "cluster_pipeline.rs"]
mod cluster_pipeline;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

#[tokio::main]
async fn main() -> Result<()> {
    let server = TestServer::start().await?;
    step(&format!("test server listening on {}", server.url()));

    let client = Client::connect(&server.url()).await?;
    typed_results_and_the_generic_path(&client).await?;
    auto_pipelining(&client).await?;
    pipelines_keep_every_result(&client).await?;
    optimistic_transaction(&client, &server.url()).await?;
    blocking_pop_on_the_shared_client(&client).await?;
    pub_sub(&client).await?;
    a_connection_of_your_own(&server.url()).await?;
    errors_you_can_act_on(&client).await?;

    let keys: i64 = client.cmd("DBSIZE").query().await?;
    step(&format!("the server holds {keys} keys; shutting it down"));
    server.shutdown().await;

    step("and now a master that fails, behind Sentinel (examples/sentinel_pool.rs):");
    sentinel_pool::failover()
        .await
        .map_err(|e| e as Box<dyn std::error::Error>)?;

    step("and a cluster that changes under a cross-slot pipeline (examples/cluster_pipeline.rs):");
    cluster_pipeline::migration_and_failover()
        .await
        .map_err(|e| e as Box<dyn std::error::Error>)?;
    Ok(())
}

fn step(text: &str) {
    println!("-- {text}");
}

/// The caller chooses the type of each result.
async fn typed_results_and_the_generic_path(client: &Client) -> Result<()> {
    client.set("tour:greeting", "hello").await?;
    let value: Option<String> = client.get("tour:greeting").await?;
    client
        .hset("tour:user", [("name", "ada"), ("visits", "3")])
        .await?;
    let user: HashMap<String, String> = client.hgetall("tour:user").await?;
    let visits = client.hincr_by::<u32>("tour:user", "visits", 1).await?;
    let len: i64 = client.cmd("STRLEN").arg("tour:greeting").query().await?;
    step(&format!(
        "GET as Option<String>: {value:?}; HGETALL as a HashMap: {} fields; HINCRBY as u32: \
         {visits}; STRLEN through the generic cmd() path: {len}",
        user.len()
    ));
    Ok(())
}

/// Many tasks share one client; their commands leave in shared writes.
async fn auto_pipelining(client: &Client) -> Result<()> {
    let started = Instant::now();
    let tasks: Vec<_> = (0..2_000)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.incr::<i64>("tour:hits").await })
        })
        .collect();
    for task in tasks {
        task.await??;
    }
    let hits: i64 = client.get("tour:hits").await?;
    step(&format!(
        "2000 concurrent INCRs over one connection: counter = {hits} in {:?}",
        started.elapsed()
    ));
    Ok(())
}

/// A server error in one command of a pipeline does not fail the others.
async fn pipelines_keep_every_result(client: &Client) -> Result<()> {
    let mut pipe = Pipeline::new();
    pipe.cmd("RPUSH").arg("tour:list").arg(["a", "b", "c"]);
    pipe.cmd("INCR").arg("tour:list"); // WRONGTYPE
    pipe.cmd("LRANGE").arg("tour:list").arg(0).arg(-1);
    let results = pipe.execute(client).await?;
    for (i, r) in results.iter().enumerate() {
        match r {
            Ok(frame) => step(&format!("pipeline reply {i}: {frame:?}")),
            Err(e) => step(&format!("pipeline reply {i}: error {:?}: {e}", e.code())),
        }
    }
    Ok(())
}

/// WATCH, read, write only if nothing changed, retry otherwise: the transaction helper.
async fn optimistic_transaction(client: &Client, url: &str) -> Result<()> {
    client.set("tour:balance", 100).await?;
    let meddler = Client::connect(url).await?;
    let attempts = Arc::new(AtomicU32::new(0));
    let counted = attempts.clone();
    let committed: Option<((), i64)> = client
        .transaction("tour:balance", move |tx| {
            let attempt = counted.fetch_add(1, Ordering::SeqCst) + 1;
            let meddler = meddler.clone();
            async move {
                let balance: i64 = tx.get("tour:balance").await?;
                if attempt == 1 {
                    // Someone else writes between our read and our EXEC.
                    meddler.set("tour:balance", 500).await?;
                }
                let mut t = Transaction::new();
                t.cmd("SET").arg("tour:balance").arg(balance + 10);
                t.cmd("GET").arg("tour:balance");
                Ok(Some(t))
            }
        })
        .await?;
    step(&format!(
        "transaction: {} attempts (the first lost to a concurrent write), balance now {:?}",
        attempts.load(Ordering::SeqCst),
        committed.map(|((), balance)| balance)
    ));
    Ok(())
}

/// BLPOP waits on one of the client's dedicated connections: the shared one keeps working,
/// even for the RPUSH that wakes it.
async fn blocking_pop_on_the_shared_client(client: &Client) -> Result<()> {
    let waiter = {
        let client = client.clone();
        tokio::spawn(async move {
            client
                .blpop::<Option<(String, String)>>("tour:jobs", 5.0)
                .await
        })
    };
    // Push once the waiter is parked on the key (CLIENT LIST shows it as blocked).
    loop {
        let clients: String = client.cmd("CLIENT").arg("LIST").query().await?;
        if clients.contains("cmd=blpop") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let started = Instant::now();
    let pong = client.ping().await?;
    step(&format!(
        "while BLPOP waits, PING on the same client answers {pong} in {:?}",
        started.elapsed()
    ));
    client.rpush("tour:jobs", "job-1").await?;
    let popped = waiter.await??;
    step(&format!("BLPOP woke up with {popped:?}"));
    Ok(())
}

async fn pub_sub(client: &Client) -> Result<()> {
    let mut sub = client.subscriber().await?;
    sub.subscribe("tour:news").await?;
    let receivers = client.publish("tour:news", "extra!").await?;
    let msg = sub.next_message().await?;
    step(&format!(
        "PUBLISH reached {receivers} subscriber(s): {:?} on {:?}",
        msg.payload, msg.channel
    ));
    Ok(())
}

/// SELECT belongs to one connection: take one from a pool.
async fn a_connection_of_your_own(url: &str) -> Result<()> {
    let pool = Pool::new(url.parse::<Config>()?, 4)?;
    let conn = pool.get().await?;
    let () = conn.cmd("SELECT").arg(3).query().await?;
    conn.set("tour:in-db-3", "here").await?;
    drop(conn);
    // Back in the pool, the connection's state is reset to the configuration's (database 0).
    let conn = pool.get().await?;
    let found: Option<String> = conn.get("tour:in-db-3").await?;
    step(&format!(
        "a pooled connection SELECTed database 3; checked out again, it is back in database 0 \
         (the key there: {found:?})"
    ));
    Ok(())
}

/// Errors keep their code and say what to do next.
async fn errors_you_can_act_on(client: &Client) -> Result<()> {
    let err = client
        .cmd("HSET")
        .arg("tour:greeting")
        .arg("f")
        .arg("v")
        .query::<i64>()
        .await
        .expect_err("a string is not a hash");
    assert_eq!(err.code(), Some(ErrorCode::WrongType));
    step(&format!(
        "HSET on a string: code {:?}, next step {:?}",
        err.code(),
        err.retry_action()
    ));
    let err = client
        .cmd("SELECT")
        .arg(1)
        .query::<()>()
        .await
        .expect_err("SELECT on a shared client");
    assert_eq!(err.kind(), ErrorKind::NotAllowed);
    step(&format!("SELECT on the shared client: {err}"));
    Ok(())
}
