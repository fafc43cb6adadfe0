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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_transaction_helper_keeps_an_invariant_under_8_concurrent_tasks() {
    let t = target().await;
    // Heavy contention on one key can lose many times in a row: let it retry.
    let client = Client::with_config(t.config().transaction_retries(10_000))
        .await
        .unwrap();
    let (counter, a, b) = (unique("counter"), unique("acct"), unique("acct"));
    client.set(&a, 1000).await.unwrap();
    client.set(&b, 0).await.unwrap();
    let bodies = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let tasks: Vec<_> = (0..8)
        .map(|task| {
            let (c, counter, a, b) = (client.clone(), counter.clone(), a.clone(), b.clone());
            let bodies = bodies.clone();
            tokio::spawn(async move {
                for round in 0..25 {
                    // Read-modify-write with GET and SET: without WATCH, updates get lost.
                    let counter_ = counter.clone();
                    let bodies = bodies.clone();
                    let done: Option<((),)> = c
                        .transaction(&counter, move |tx| {
                            let counter = counter_.clone();
                            bodies.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            async move {
                                let n: i64 = tx.get::<Option<i64>>(&counter).await?.unwrap_or(0);
                                let mut t = Transaction::new();
                                t.cmd("SET").arg(&counter).arg(n + 1);
                                Ok(Some(t))
                            }
                        })
                        .await
                        .unwrap();
                    assert!(done.is_some());
                    // Transfers between two accounts: never negative, the sum never changes.
                    let (from, to) = if (task + round) % 2 == 0 {
                        (&a, &b)
                    } else {
                        (&b, &a)
                    };
                    let amount = 1 + (task * 7 + round * 3) as i64 % 50;
                    let (from_, to_) = (from.clone(), to.clone());
                    let moved: Option<(i64, i64)> = c
                        .transaction([from, to], move |tx| {
                            let (from, to) = (from_.clone(), to_.clone());
                            async move {
                                let balance: i64 = tx.get(&from).await?;
                                if balance < amount {
                                    return Ok(None);
                                }
                                let mut t = Transaction::new();
                                t.cmd("DECRBY").arg(&from).arg(amount);
                                t.cmd("INCRBY").arg(&to).arg(amount);
                                Ok(Some(t))
                            }
                        })
                        .await
                        .unwrap();
                    if let Some((left, _)) = moved {
                        assert!(left >= 0, "{left}");
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let n: i64 = client.get(&counter).await.unwrap();
    assert_eq!(n, 8 * 25, "no update lost");
    let (x, y): (i64, i64) = client.mget([&a, &b]).await.unwrap();
    assert!(x >= 0 && y >= 0);
    assert_eq!(x + y, 1000, "money neither created nor lost");
    let runs = bodies.load(std::sync::atomic::Ordering::Relaxed);
    assert!(runs >= 200, "{runs}");
    client.del([&counter, &a, &b]).await.unwrap();
}

#[tokio::test]
async fn the_transaction_helper_reports_conflicts_aborts_and_errors() {
    let t = target().await;
    let client = Client::with_config(t.config().transaction_retries(2))
        .await
        .unwrap();
    let other = Client::with_config(t.config()).await.unwrap();
    let k = unique("contended");
    // Someone writes the key during every attempt: three attempts, then a conflict.
    let attempts = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let (other_, k_, attempts_) = (other.clone(), k.clone(), attempts.clone());
    let e = client
        .transaction::<(), _, _>(&k, move |_tx| {
            let (other, k) = (other_.clone(), k_.clone());
            attempts_.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            async move {
                other.incr::<i64>(&k).await?;
                let mut t = Transaction::new();
                t.cmd("SET").arg(&k).arg("mine");
                Ok(Some(t))
            }
        })
        .await
        .unwrap_err();
    assert_eq!(e.kind(), rediscover::ErrorKind::Conflict, "{e:?}");
    assert!(matches!(e, rediscover::Error::Conflict { attempts: 3 }));
    assert_eq!(attempts.load(std::sync::atomic::Ordering::SeqCst), 3);
    assert_eq!(other.get::<i64>(&k).await.unwrap(), 3, "never overwritten");
    // The body may decide not to write: nothing runs, None comes back.
    let none: Option<()> = client
        .transaction(&k, |_tx| async { Ok(None) })
        .await
        .unwrap();
    assert!(none.is_none());
    // The body's own error comes back as is.
    let e = client
        .transaction::<(), _, _>(&k, |tx| async move {
            tx.cmd("NOSUCHCOMMAND").query::<()>().await?;
            Ok(None)
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::Err));
    // A transaction refused while queueing: EXECABORT, not retried.
    let e = client
        .transaction::<(), _, _>(&k, |_tx| async {
            let mut t = Transaction::new();
            t.cmd("GET"); // wrong arity
            Ok(Some(t))
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::ExecAbort));
    // The body cannot change the connection's state behind the helper's back.
    let e = client
        .transaction::<(), _, _>(&k, |tx| async move {
            tx.cmd("MULTI").query::<()>().await?;
            Ok(None)
        })
        .await
        .unwrap_err();
    assert_eq!(e.kind(), rediscover::ErrorKind::NotAllowed);
    // Per-command results in the pipeline's shape.
    let results: Option<Vec<Result<rediscover::resp::Frame>>> = client
        .transaction(&k, |_tx| async {
            let mut t = Transaction::new();
            t.cmd("SET").arg("tx:text").arg("x");
            t.cmd("INCR").arg("tx:text");
            Ok(Some(t))
        })
        .await
        .unwrap();
    let results = results.unwrap();
    assert!(results[0].is_ok());
    assert_eq!(
        results[1].as_ref().unwrap_err().code(),
        Some(ErrorCode::Err)
    );
    // Every one of these left its dedicated connection clean and reusable.
    assert_eq!(client.idle_dedicated_connections(), 1);
    client.del([k.as_str(), "tx:text"]).await.unwrap();
}

#[tokio::test]
async fn pools_run_the_transaction_helper_too() {
    let t = target().await;
    let pool = Pool::new(t.config(), 2).unwrap();
    let k = unique("pooled-tx");
    let k_ = k.clone();
    let (n,): (i64,) = pool
        .transaction(&k, move |tx| {
            let k = k_.clone();
            async move {
                let n: Option<i64> = tx.get(&k).await?;
                let mut t = Transaction::new();
                t.cmd("INCRBY").arg(&k).arg(n.unwrap_or(0) + 5);
                Ok(Some(t))
            }
        })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(n, 5);
    let conn = pool.get().await.unwrap();
    conn.del(&k).await.unwrap();
}
