//! A shared `Client` with blocking commands, WAIT and per-connection commands: blocking
//! commands run on dedicated connections and stall no one, WAIT still counts the client's own
//! writes, per-connection commands are refused.

mod util;

use std::time::Duration;

use bytes::Bytes;
use rediscover::{Client, Commands, Config, ErrorKind, Pipeline};
use rediscover_testserver::topology::ReplicationSet;
use util::*;

/// Polls `CLIENT LIST` until `n` clients are in a command named `cmd`.
async fn wait_for_blocked(client: &Client, cmd: &str, n: usize) {
    let needle = format!("cmd={cmd} ");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let list: String = client.cmd("CLIENT").arg("LIST").query().await.unwrap();
        if list.matches(&needle).count() >= n {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never saw {n} x {cmd}: {list}"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blpop_0_and_wait_do_not_stall_other_callers() {
    let t = target().await;
    let client = Client::with_config(t.config()).await.unwrap();
    let (jobs, k) = (unique("jobs"), unique("k"));
    client.set(&k, "v").await.unwrap();
    let popper = {
        let (c, jobs) = (client.clone(), jobs.clone());
        tokio::spawn(async move { c.blpop::<Option<(String, String)>>(&jobs, 0.0).await })
    };
    // No replica will ever acknowledge: WAIT blocks until its own timeout.
    let waiter = {
        let c = client.clone();
        tokio::spawn(async move { c.cmd("WAIT").arg(1).arg(1500).query::<i64>().await })
    };
    wait_for_blocked(&client, "blpop", 1).await;
    wait_for_blocked(&client, "wait", 1).await;
    let started = tokio::time::Instant::now();
    let gets: Vec<_> = (0..100)
        .map(|_| {
            let (c, k) = (client.clone(), k.clone());
            tokio::spawn(async move { c.get::<Option<String>>(&k).await })
        })
        .collect();
    for g in gets {
        assert_eq!(g.await.unwrap().unwrap().as_deref(), Some("v"));
    }
    let took = started.elapsed();
    assert!(
        !popper.is_finished() && !waiter.is_finished(),
        "still blocked"
    );
    assert!(took < Duration::from_secs(1), "100 GETs took {took:?}");
    client.rpush(&jobs, "job-1").await.unwrap();
    assert_eq!(
        popper.await.unwrap().unwrap(),
        Some((jobs.clone(), "job-1".to_string()))
    );
    assert_eq!(waiter.await.unwrap().unwrap(), 0);
    // Both dedicated connections came back for reuse.
    wait_until(|| client.idle_dedicated_connections() == 2).await;
    client.del([&k, &jobs]).await.unwrap();
}

#[tokio::test]
async fn a_cancelled_blpop_costs_one_dedicated_connection_not_the_shared_one() {
    let t = target().await;
    let client = Client::with_config(t.config()).await.unwrap();
    let shared = client.connection().unwrap();
    let jobs = unique("cancelled");
    let gave_up = tokio::time::timeout(
        Duration::from_millis(100),
        client.blpop::<Option<(Bytes, Bytes)>>(&jobs, 0.0),
    )
    .await;
    assert!(gave_up.is_err(), "BLPOP 0 on an empty list never returns");
    // The shared connection answers at once and owes nothing.
    assert_eq!(client.ping().await.unwrap(), "PONG");
    assert_eq!(shared.in_flight(), 0);
    assert!(!shared.is_closed());
    assert_eq!(client.reconnects(), 0);
    // The dedicated connection was closed, not kept: the server forgets the blocked client,
    // and a pushed element is not swallowed by a pop nobody waits for.
    assert_eq!(client.idle_dedicated_connections(), 0);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let list: String = client.cmd("CLIENT").arg("LIST").query().await.unwrap();
        if !list.contains("cmd=blpop ") {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{list}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    client.rpush(&jobs, "kept").await.unwrap();
    assert_eq!(client.llen(&jobs).await.unwrap(), 1);
    // The next blocking call opens a new dedicated connection and works.
    let got: Option<(String, String)> = client.blpop(&jobs, 1.0).await.unwrap();
    assert_eq!(got, Some((jobs.clone(), "kept".into())));
    assert_eq!(client.idle_dedicated_connections(), 1);
}

#[tokio::test]
async fn exhausted_dedicated_connections_fail_clearly() {
    let t = target().await;
    let config = t
        .config()
        .dedicated_connections(1)
        .connect_timeout(Duration::from_millis(200));
    let client = Client::with_config(config).await.unwrap();
    let jobs = unique("busy");
    let held = {
        let (c, jobs) = (client.clone(), jobs.clone());
        tokio::spawn(async move { c.blpop::<Option<(String, String)>>(&jobs, 0.0).await })
    };
    wait_for_blocked(&client, "blpop", 1).await;
    let started = tokio::time::Instant::now();
    let e = client
        .blpop::<Option<(String, String)>>(&jobs, 0.0)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Pool, "{e:?}");
    assert!(e.to_string().contains("dedicated_connections"), "{e}");
    assert!(started.elapsed() < Duration::from_secs(2));
    // Other commands are unaffected, and the held BLPOP still completes.
    assert_eq!(client.ping().await.unwrap(), "PONG");
    client.rpush(&jobs, "x").await.unwrap();
    assert!(held.await.unwrap().unwrap().is_some());
    let none = Client::with_config(t.config().dedicated_connections(0))
        .await
        .unwrap();
    let e = none
        .blpop::<Option<(String, String)>>(&jobs, 0.01)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Pool);
}

#[tokio::test]
async fn blocking_commands_get_their_own_timeout_on_top_of_the_request_deadline() {
    let t = target().await;
    let client = Client::with_config(t.config().request_timeout(Some(Duration::from_millis(200))))
        .await
        .unwrap();
    let jobs = unique("slow");
    // BLPOP 1 second with a 200 ms request deadline: the server's timeout answers first.
    let got: Option<(String, String)> = client.blpop(&jobs, 1.0).await.unwrap();
    assert_eq!(got, None);
    let mut p = Pipeline::new();
    p.cmd("BLPOP").arg(&jobs).arg(0.5);
    p.cmd("PING");
    let (popped, pong): (Option<(String, String)>, String) = p.query(&client).await.unwrap();
    assert_eq!((popped, pong.as_str()), (None, "PONG"));
}

#[tokio::test]
async fn wait_counts_the_clients_own_writes() {
    // A WAIT on a fresh connection would count nothing and answer at once; the client makes
    // its dedicated connection's replication offset catch up first.
    let set = ReplicationSet::start(1).await.unwrap();
    let client = Client::connect(&set.master.url()).await.unwrap();
    client.set("k", "1").await.unwrap();
    let acked: i64 = client.cmd("WAIT").arg(1).arg(5000).query().await.unwrap();
    assert_eq!(acked, 1);
    set.replicas[0].pause_master_link();
    client.set("k", "2").await.unwrap();
    let started = tokio::time::Instant::now();
    let acked: i64 = client.cmd("WAIT").arg(1).arg(300).query().await.unwrap();
    assert_eq!(acked, 0, "the replica has not seen the second write");
    assert!(started.elapsed() >= Duration::from_millis(250));
    // Meanwhile nothing else was held up, and once the replica catches up WAIT says so.
    set.replicas[0].heal_master_link();
    let acked: i64 = client.cmd("WAIT").arg(1).arg(5000).query().await.unwrap();
    assert_eq!(acked, 1);
    // The same inside a pipeline with its own write.
    let mut p = Pipeline::new();
    p.cmd("SET").arg("k").arg("3");
    p.cmd("WAIT").arg(1).arg(5000);
    let ((), acked): ((), i64) = p.query(&client).await.unwrap();
    assert_eq!(acked, 1);
}

#[tokio::test]
async fn wait_falls_back_to_the_shared_connection_when_the_marker_is_refused() {
    // A user whose ACL has no channel permissions cannot SPUBLISH: WAIT still counts the
    // client's writes, on the shared connection.
    let set = ReplicationSet::start(1).await.unwrap();
    let admin = Client::connect(&set.master.url()).await.unwrap();
    let () = admin
        .cmd("ACL")
        .arg(["SETUSER", "app", "on", ">pw", "~*", "+@all", "-spublish"])
        .query()
        .await
        .unwrap();
    let url = format!("redis://app:pw@{}", set.master.addr());
    let client = Client::connect(&url).await.unwrap();
    client.set("k", "1").await.unwrap();
    set.replicas[0].pause_master_link();
    client.set("k", "2").await.unwrap();
    let acked: i64 = client.cmd("WAIT").arg(1).arg(200).query().await.unwrap();
    assert_eq!(acked, 0, "must not count a replica that missed the write");
    set.replicas[0].heal_master_link();
    let acked: i64 = client.cmd("WAIT").arg(1).arg(5000).query().await.unwrap();
    assert_eq!(acked, 1);
}

#[tokio::test]
async fn per_connection_commands_are_refused_on_a_shared_client() {
    let t = target().await;
    let client = Client::with_config(t.config().db(1)).await.unwrap();
    let k = unique("state");
    client.set(&k, "in-db-1").await.unwrap();
    for argv in [
        &["SELECT", "0"][..],
        &["WATCH", "k"],
        &["UNWATCH"],
        &["MULTI"],
        &["EXEC"],
        &["DISCARD"],
        &["RESET"],
        &["AUTH", "pw"],
        &["HELLO", "2"],
        &["QUIT"],
        &["MONITOR"],
        &["CLIENT", "REPLY", "OFF"],
        &["SUBSCRIBE", "ch"],
    ] {
        let mut cmd = rediscover::cmd(argv[0]);
        for a in &argv[1..] {
            cmd.add(*a);
        }
        let e = client
            .query::<rediscover::resp::Frame>(cmd)
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotAllowed, "{argv:?}: {e:?}");
        assert!(e.to_string().contains(argv[0]), "{e}");
    }
    let e = client.cmd("select").arg(0).query::<()>().await.unwrap_err();
    assert!(e.to_string().contains("Config::db"), "{e}");
    // Nothing was sent: still database 1, not inside MULTI, replies in order.
    let got: Option<String> = client.get(&k).await.unwrap();
    assert_eq!(got.as_deref(), Some("in-db-1"));
    assert_eq!(
        client.echo::<Bytes>("in order").await.unwrap(),
        &b"in order"[..]
    );
    // MULTI ... EXEC sent as one unit is fine.
    let mut tx = rediscover::Transaction::new();
    tx.cmd("GET").arg(&k);
    let (v,): (String,) = tx.query(&client).await.unwrap().unwrap();
    assert_eq!(v, "in-db-1");
    // A connection of one's own may SELECT.
    let conn = rediscover::Connection::connect(&t.config()).await.unwrap();
    let () = conn.cmd("SELECT").arg(1).query().await.unwrap();
    let got: Option<String> = conn.get(&k).await.unwrap();
    assert_eq!(got.as_deref(), Some("in-db-1"));
    client.del(&k).await.unwrap();
    let _: Config = t.config();
}

/// The offset the first replica acknowledged, from `INFO replication` (`slave0:...,offset=N,`).
fn acked_offset(info: &str) -> i64 {
    info.lines()
        .find(|l| l.starts_with("slave0:"))
        .and_then(|l| l.split(',').find_map(|kv| kv.strip_prefix("offset=")))
        .and_then(|v| v.parse().ok())
        .unwrap_or(-1)
}

/// A `redis-server` process, killed when dropped.
struct RealRedis {
    child: std::process::Child,
    port: u16,
    dir: std::path::PathBuf,
}

impl RealRedis {
    async fn start(binary: &str, extra: &[&str]) -> RealRedis {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        let dir = std::env::temp_dir().join(unique("rediscover-wait"));
        std::fs::create_dir_all(&dir).unwrap();
        let child = std::process::Command::new(binary)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .args(["--dir", dir.to_str().unwrap()])
            .args(extra)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn redis-server");
        let real = RealRedis { child, port, dir };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while Client::connect(&real.url()).await.is_err() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "redis-server did not start"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        real
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Stops (`false`) or resumes (`true`) the process.
    fn run(&self, running: bool) {
        let signal = if running { "-CONT" } else { "-STOP" };
        let status = std::process::Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Drop for RealRedis {
    fn drop(&mut self) {
        self.run(true);
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[tokio::test]
async fn wait_counts_the_clients_own_writes_on_a_real_redis() {
    let Ok(binary) = std::env::var("REDISCOVER_REAL_REDIS_SERVER") else {
        eprintln!("REDISCOVER_REAL_REDIS_SERVER not set: WAIT against a real Redis skipped");
        return;
    };
    let master = RealRedis::start(&binary, &["--repl-diskless-sync-delay", "0"]).await;
    let port = master.port.to_string();
    let replica = RealRedis::start(&binary, &["--replicaof", "127.0.0.1", &port]).await;
    // Wait for the replica, with a client of its own: WAITs that block leave their connection
    // with a replication offset of its own, which would hide what this test checks.
    let setup = Client::connect(&master.url()).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    setup.set("k", "1").await.unwrap();
    while setup
        .cmd("WAIT")
        .arg(1)
        .arg(100)
        .query::<i64>()
        .await
        .unwrap()
        != 1
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "replica never in sync"
        );
    }
    // Redis 7.0 counts, for WAIT, the replication offset as of the connection's last command.
    // Open a dedicated connection now (a blocking call) and let the replica acknowledge
    // everything: a WAIT sent alone on that idle connection later would count the frozen
    // replica below, since its last command came before the write.
    let client = Client::connect(&master.url()).await.unwrap();
    let none: Option<(String, String)> = client.blpop("nothing", 0.01).await.unwrap();
    assert_eq!(none, None);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let info: String = setup.cmd("INFO").arg("replication").query().await.unwrap();
        let master_offset: i64 = info
            .lines()
            .find_map(|l| l.strip_prefix("master_repl_offset:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(i64::MAX);
        if acked_offset(&info) >= master_offset {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{info}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // A frozen replica acknowledges nothing: WAIT must say 0 for the write it missed.
    replica.run(false);
    client.set("k", "2").await.unwrap();
    let acked: i64 = client.cmd("WAIT").arg(1).arg(300).query().await.unwrap();
    assert_eq!(acked, 0);
    replica.run(true);
    let acked: i64 = client.cmd("WAIT").arg(1).arg(5000).query().await.unwrap();
    assert_eq!(acked, 1);
}
