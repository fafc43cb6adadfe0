//! A short tour of the rediscover client: typed commands, the generic path, a pipeline, an
//! optimistic transaction, a blocking pop, the pool and pub/sub.
//!
//! Runs against an in-process test server, or against the server named by the first argument:
//! `cargo run -p rediscover-examples --example basic -- redis://127.0.0.1:6379`.

use rediscover::{Client, Commands, Config, Pipeline, Pool, Transaction};

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

    // An optimistic transaction: WATCH, read, write only if nothing changed (retried if it did).
    let doubled: Option<((),)> = client
        .transaction("example:counter", |tx| async move {
            let n: i64 = tx.get("example:counter").await?;
            let mut t = Transaction::new();
            t.cmd("SET").arg("example:counter").arg(n * 2);
            Ok(Some(t))
        })
        .await?;
    println!("transaction committed: {}", doubled.is_some());

    // BLPOP on the shared client waits on a dedicated connection: nobody else is held up.
    let job: Option<(String, String)> = client.blpop("example:jobs", 0.1).await?;
    println!("BLPOP -> {job:?}");

    // A connection of your own (for SELECT, say) comes from a pool.
    let pool = Pool::new(url.parse::<Config>()?, 4)?;
    let conn = pool.get().await?;
    let () = conn.cmd("SELECT").arg(1).query().await?;
    println!(
        "pooled connection in database 1: DBSIZE {}",
        conn.cmd("DBSIZE").query::<i64>().await?
    );
    drop(conn);

    // Pub/sub runs on its own connection.
    let mut sub = client.subscriber().await?;
    sub.subscribe("example:news").await?;
    client.publish("example:news", "extra!").await?;
    let msg = sub.next_message().await?;
    println!("message on {:?}: {:?}", msg.channel, msg.payload);

    client
        .del(["example:greeting", "example:counter", "example:list"])
        .await?;
    Ok(())
}
