//! MULTI/EXEC with WATCH on dedicated connections, and runtime errors inside EXEC.

mod util;

use rediscover::resp::Frame;
use rediscover::Bytes;
use rediscover::{Client, Commands, ErrorCode, Pool, Result, Transaction};
use util::*;

#[tokio::test]
async fn watch_conflict_aborts_and_retry_commits() {
    let t = target().await;
    let pool = Pool::new(t.config(), 4).unwrap();
    let other = Client::with_config(t.config()).await.unwrap();
    let k = unique("watched");
    other.set(&k, 10).await.unwrap();

    let conn = pool.get().await.unwrap();
    conn.watch(&k).await.unwrap();
    let seen: i64 = conn.cmd("GET").arg(&k).query().await.unwrap();
    // Someone else writes the key between WATCH and EXEC.
    other.incr::<i64>(&k).await.unwrap();
    let mut tx = Transaction::new();
    tx.cmd("SET").arg(&k).arg(seen + 100);
    assert!(tx.exec(&*conn).await.unwrap().is_none(), "aborted by WATCH");
    assert_eq!(
        other.get::<Option<Bytes>>(&k).await.unwrap().unwrap(),
        &b"11"[..]
    );

    // Retry from the WATCH: no conflict this time.
    conn.watch(&k).await.unwrap();
    let seen: i64 = conn.cmd("GET").arg(&k).query().await.unwrap();
    let mut tx = Transaction::new();
    tx.cmd("SET").arg(&k).arg(seen + 100);
    tx.cmd("GET").arg(&k);
    let (ok, value): (String, i64) = tx.query(&*conn).await.unwrap().expect("commits");
    assert_eq!((ok.as_str(), value), ("OK", 111));
    other.del(&k).await.unwrap();
}

#[tokio::test]
async fn runtime_errors_stay_in_their_slot() {
    let t = target().await;
    let client = Client::with_config(t.config()).await.unwrap();
    let k = unique("tx");
    let mut tx = Transaction::new();
    tx.cmd("SET").arg(&k).arg("text");
    tx.cmd("INCR").arg(&k);
    tx.cmd("GET").arg(&k);
    let results = tx.exec(&client).await.unwrap().unwrap();
    assert_eq!(results.len(), 3);
    assert_eq!(results[0].as_ref().unwrap(), &Frame::simple("OK"));
    assert_eq!(
        results[1].as_ref().unwrap_err().code(),
        Some(ErrorCode::Err),
        "the runtime error stays in its place"
    );
    assert_eq!(results[2].as_ref().unwrap(), &Frame::bulk("text"));
    // The same shape through a typed conversion: each command's own result.
    let (ok, incr, get): (Result<String>, Result<i64>, Result<String>) =
        tx.query(&client).await.unwrap().unwrap();
    assert_eq!(ok.unwrap(), "OK");
    assert!(incr.unwrap_err().is_server());
    assert_eq!(get.unwrap(), "text");
    // A typed conversion surfaces the runtime error.
    let e = tx
        .query::<(String, i64, String), _>(&client)
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::Err));
    client.del(&k).await.unwrap();
}

#[tokio::test]
async fn execabort_is_not_a_watch_abort() {
    let t = target().await;
    let client = Client::with_config(t.config()).await.unwrap();
    let k = unique("tx");
    let mut tx = Transaction::new();
    tx.cmd("SET").arg(&k).arg(1);
    tx.cmd("GET"); // wrong arity: refused at queue time
    let e = tx.exec(&client).await.unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::ExecAbort));
    assert!(e
        .server_error()
        .unwrap()
        .message()
        .contains("wrong number of arguments"));
    assert_eq!(client.exists(&k).await.unwrap(), 0, "nothing ran");
}
