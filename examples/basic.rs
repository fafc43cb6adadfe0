//! A short tour of the rediscover client: typed commands, the generic path, a pipeline, a
//! transaction, pub/sub and the pool.
//!
//! Runs against an in-process test server, or against the server named by the first argument:
//! `cargo run -p rediscover-examples --example basic -- redis://127.0.0.1:6379`.

use rediscover::{Client, Commands, Config, Pipeline, Pool, Subscriber, Transaction};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let local;
    let url = match std::env::args().nth(1) {
        Some(url) => url,
        None => {
            local = rediscover_testserver::TestServer::start().await?;
            local.url()
        }
    };

    // One client, shared by every task; requests are pipelined automatically.
    let client = Client::connect(&url).await?;
    client.set("example:greeting", "hello").await?;
    // The caller chooses the result type: `Option<String>` since the key may be missing.
    let greeting: Option<String> = client.get("example:greeting").await?;
    println!("GET -> {greeting:?}");
    let counter: i64 = client.incr("example:counter").await?;
    println!("INCR -> {counter}");

    // Anything without a typed method goes through the generic path.
    let len: i64 = client.cmd("STRLEN").arg("example:greeting").query().await?;
    println!("STRLEN -> {len}");

    // A pipeline: one round trip, one result per command.
    let mut pipe = Pipeline::new();
    pipe.cmd("RPUSH").arg("example:list").arg(["a", "b", "c"]);
    pipe.cmd("LRANGE").arg("example:list").arg(0).arg(-1);
    let (pushed, items): (i64, Vec<String>) = pipe.query(&client).await?;
    println!("RPUSH -> {pushed}, LRANGE -> {items:?}");

    // A WATCH transaction needs a connection of its own: take one from a pool.
    let pool = Pool::new(url.parse::<Config>()?, 4)?;
    let conn = pool.get().await?;
    conn.watch("example:counter").await?;
    let mut tx = Transaction::new();
    tx.cmd("INCRBY").arg("example:counter").arg(10);
    match tx.query::<(i64,), _>(&*conn).await? {
        Some((n,)) => println!("transaction committed, counter = {n}"),
        None => println!("counter changed meanwhile; retry"),
    }
    drop(conn);

    // Pub/sub runs on its own connection too.
    let mut sub = Subscriber::connect(&url).await?;
    sub.subscribe("example:news").await?;
    client.publish("example:news", "extra!").await?;
    let msg = sub.next_message().await?;
    println!("message on {:?}: {:?}", msg.channel, msg.payload);

    client
        .del(["example:greeting", "example:counter", "example:list"])
        .await?;
    Ok(())
}
