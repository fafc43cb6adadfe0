//! The rediscover tour: an in-process test server and the client working against it.
//!
//! `cargo run -p rediscover-examples --example tour`
//!
//! Each step prints what it did. Nothing here needs a Redis installed: the server is
//! `rediscover_testserver::TestServer`, started on 127.0.0.1 and a free port.

use rediscover::Bytes;
use std::time::{Duration, Instant};

use rediscover::{Client, Commands, Config, ErrorCode, Pipeline, Pool, Subscriber, Transaction};
use rediscover_testserver::TestServer;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

#[tokio::main]
async fn main() -> Result<()> {
    let server = TestServer::start().await?;
    step(&format!("test server listening on {}", server.url()));

    let client = Client::connect(&server.url()).await?;
    strings_and_the_generic_path(&client).await?;
    auto_pipelining(&client).await?;
    pipelines_keep_every_result(&client).await?;

    let pool = Pool::new(server.url().parse::<Config>()?, 4)?;
    watch_conflicts(&client, &pool).await?;
    blocking_pop(&client, &pool).await?;
    pub_sub(&client, &server.url()).await?;
    errors_you_can_act_on(&client).await?;

    let keys: i64 = client.cmd("DBSIZE").query().await?;
    step(&format!("the server holds {keys} keys; shutting it down"));
    server.shutdown().await;
    Ok(())
}

fn step(text: &str) {
    println!("-- {text}");
}

async fn strings_and_the_generic_path(client: &Client) -> Result<()> {
    client.set("tour:greeting", "hello").await?;
    let value = client.get::<Option<Bytes>>("tour:greeting").await?;
    let len: i64 = client.cmd("STRLEN").arg("tour:greeting").query().await?;
    step(&format!(
        "SET/GET: {:?} ({len} bytes, STRLEN through the generic cmd() path)",
        value.as_deref().map(String::from_utf8_lossy)
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
    let hits: i64 = client.cmd("GET").arg("tour:hits").query().await?;
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

/// WATCH needs a connection of its own: it comes from the pool.
async fn watch_conflicts(client: &Client, pool: &Pool) -> Result<()> {
    let conn = pool.get().await?;
    conn.watch("tour:balance").await?;
    client.set("tour:balance", "100").await?; // someone else writes in between
    let mut tx = Transaction::new();
    tx.cmd("INCRBY").arg("tour:balance").arg(10);
    let first = tx.exec(&*conn).await?;
    let second = tx.exec(&*conn).await?; // no WATCH this time
    step(&format!(
        "MULTI/EXEC after a conflicting write: {}; retried: {:?}",
        if first.is_none() {
            "aborted by WATCH"
        } else {
            "committed"
        },
        second
    ));
    Ok(())
}

/// BLPOP waits on a pooled connection while the shared client keeps working.
async fn blocking_pop(client: &Client, pool: &Pool) -> Result<()> {
    let conn = pool.get().await?;
    let waiter =
        tokio::spawn(async move { conn.blpop::<Option<(Bytes, Bytes)>>("tour:jobs", 5.0).await });
    // Push once the waiter is parked on the key (CLIENT LIST shows it as blocked).
    loop {
        let clients: String = client.cmd("CLIENT").arg("LIST").query().await?;
        if clients.contains("cmd=blpop") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    client.rpush("tour:jobs", "job-1").await?;
    let popped = waiter.await??;
    step(&format!("BLPOP woke up with {popped:?}"));
    Ok(())
}

async fn pub_sub(client: &Client, url: &str) -> Result<()> {
    let mut sub = Subscriber::connect(url).await?;
    sub.subscribe("tour:news").await?;
    let receivers = client.publish("tour:news", "extra!").await?;
    let msg = sub.next_message().await?;
    step(&format!(
        "PUBLISH reached {receivers} subscriber(s): {:?} on {:?}",
        msg.payload, msg.channel
    ));
    Ok(())
}

/// Server errors keep their code and say what to do next.
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
    Ok(())
}
