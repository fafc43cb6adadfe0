//! `SentinelClient` and `SentinelPool` against the in-process Sentinel topology (fast timers:
//! a failover takes about 0.4 s): discovery with sentinels down, all down, a wrong name, a
//! lying sentinel; failover under a write loop (client-visible unavailability next to the
//! sentinels' own failover time, writes confirmed by `WAIT 1` kept, the old master given no
//! writes when it returns); the `READONLY` path; replica reads through a failover; the pool's
//! drain. Every wait polls with a deadline.

mod util;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rediscover::sentinel::{NodeAddr, Role, SentinelEvent, SwitchCause};
use rediscover::{
    Commands, Config, Connection, Error, ErrorCode, ErrorKind, SentinelClient, SentinelConfig,
    SentinelPool,
};
use rediscover_testserver::topology::sentinel::TestSentinel;
use util::{unused_port, FakeServer};

const DEADLINE: Duration = Duration::from_secs(15);

/// A client configuration for the topology: every sentinel, a client name on the data nodes
/// (to find our connections in `CLIENT LIST`).
fn config_for(t: &TestSentinel) -> SentinelConfig {
    SentinelConfig::new(&t.master_name, t.sentinels.iter().map(|s| s.addr()))
        .node(Config::default().client_name("sentinel-test"))
        .sentinel_timeout(Duration::from_millis(200))
}

async fn raw(addr: SocketAddr) -> Connection {
    let config = Config::default()
        .host(addr.ip().to_string())
        .port(addr.port());
    Connection::connect(&config).await.unwrap()
}

fn node(addr: SocketAddr) -> NodeAddr {
    addr.into()
}

/// Polls `check` every 2 ms until it returns `Some`, failing after [`DEADLINE`].
async fn poll<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// The next `Switched` event: from, to, cause.
async fn next_switch(
    events: &mut tokio::sync::broadcast::Receiver<SentinelEvent>,
) -> (NodeAddr, NodeAddr, SwitchCause) {
    let wait = async {
        loop {
            match events.recv().await {
                Ok(SentinelEvent::Switched {
                    from, to, cause, ..
                }) => return (from, to, cause),
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(e) => panic!("{e}"),
            }
        }
    };
    tokio::time::timeout(DEADLINE, wait)
        .await
        .expect("a Switched event")
}

/// `SENTINEL GET-MASTER-ADDR-BY-NAME` of each sentinel.
async fn announced(conns: &[Connection]) -> Vec<Option<SocketAddr>> {
    let mut out = Vec::new();
    for c in conns {
        let a: Option<(String, String)> = c
            .cmd("SENTINEL")
            .arg("GET-MASTER-ADDR-BY-NAME")
            .arg("mymaster")
            .query()
            .await
            .ok()
            .flatten();
        out.push(a.and_then(|(h, p)| format!("{h}:{p}").parse().ok()));
    }
    out
}

/// `ROLE` (its first element), `CLIENT LIST` and `DBSIZE` of the server at `addr`, in one
/// round trip on a new connection.
async fn snapshot(addr: SocketAddr) -> Option<(String, String, i64)> {
    let config = Config::default()
        .host(addr.ip().to_string())
        .port(addr.port())
        .connect_timeout(Duration::from_millis(200));
    let conn = Connection::connect(&config).await.ok()?;
    let mut p = rediscover::Pipeline::new();
    p.cmd("ROLE");
    p.cmd("CLIENT").arg("LIST");
    p.cmd("DBSIZE");
    let (role, clients, keys): (Vec<rediscover::resp::Frame>, String, i64) =
        p.query(&conn).await.ok()?;
    let role: String = role.into_iter().next()?.convert().ok()?;
    conn.close();
    Some((role, clients, keys))
}

async fn role(addr: SocketAddr) -> Option<String> {
    let config = Config::default()
        .host(addr.ip().to_string())
        .port(addr.port())
        .connect_timeout(Duration::from_millis(200));
    let conn = Connection::connect(&config).await.ok()?;
    let reply: Vec<rediscover::resp::Frame> = conn.cmd("ROLE").query().await.ok()?;
    let role: String = reply.into_iter().next()?.convert().ok()?;
    conn.close();
    Some(role)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_with_some_sentinels_down() {
    let mut t = TestSentinel::builder().start().await.unwrap();
    t.sentinels[0].kill().await;
    t.sentinels[2].freeze();
    let nobody = unused_port().await;
    let config = config_for(&t).add_sentinel(("127.0.0.1", nobody));
    let started = Instant::now();
    let client = SentinelClient::connect(config).await.unwrap();
    let took = started.elapsed();
    assert_eq!(client.master().addr, node(t.servers[0].addr()));
    assert_eq!(client.master().generation, 0);
    // The frozen sentinel is waited for only up to the sentinel timeout.
    assert!(took < Duration::from_secs(1), "{took:?}");
    client.set("k", "v").await.unwrap();
    let v: Option<String> = client.get("k").await.unwrap();
    assert_eq!(v.as_deref(), Some("v"));
    t.sentinels[2].thaw();
}

#[tokio::test]
async fn all_sentinels_down_is_a_clear_error() {
    let (a, b) = (unused_port().await, unused_port().await);
    let config = SentinelConfig::new("mymaster", [("127.0.0.1", a), ("127.0.0.1", b)]);
    let started = Instant::now();
    let e = SentinelClient::connect(config.clone()).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(e.kind(), ErrorKind::SentinelsUnreachable, "{e}");
    let Error::SentinelsUnreachable { errors } = &e else {
        unreachable!()
    };
    assert_eq!(errors.len(), 2);
    for (_, e) in errors {
        assert_eq!(
            e.io_error().map(|io| io.kind()),
            Some(std::io::ErrorKind::ConnectionRefused),
            "{e:?}"
        );
    }
    assert!(
        e.to_string()
            .starts_with("no sentinel could be reached: 127.0.0.1:"),
        "{e}"
    );
    let e = SentinelPool::connect(config).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::SentinelsUnreachable);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_master_name_the_sentinels_do_not_monitor() {
    let t = TestSentinel::builder().replicas(1).start().await.unwrap();
    let config = SentinelConfig::new("nosuch", t.sentinels.iter().map(|s| s.addr()));
    let started = Instant::now();
    let e = SentinelClient::connect(config).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::MasterNotMonitored, "{e}");
    assert!(matches!(&e, Error::MasterNotMonitored { name } if name == "nosuch"));
    assert!(started.elapsed() < Duration::from_secs(1), "not retried");
    assert_eq!(
        e.retry_action(),
        rediscover::RetryAction::GiveUp,
        "a configuration error"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lying_sentinel_is_caught_by_role() {
    let t = TestSentinel::builder().replicas(1).start().await.unwrap();
    let replica = t.servers[1].addr();
    // A "sentinel" that names the replica as the master, with a higher epoch than anyone.
    let liar = FakeServer::start(move |argv| {
        let cmd: Vec<String> = argv.iter().map(|a| a.to_ascii_uppercase()).collect();
        let bulk = |s: &str| format!("${}\r\n{s}\r\n", s.len());
        let reply = match cmd.iter().map(String::as_str).collect::<Vec<_>>()[..] {
            ["SENTINEL", "GET-MASTER-ADDR-BY-NAME", _] => format!(
                "*2\r\n{}{}",
                bulk(&replica.ip().to_string()),
                bulk(&replica.port().to_string())
            ),
            ["SENTINEL", "MASTER", _] => format!(
                "*4\r\n{}{}{}{}",
                bulk("name"),
                bulk("mymaster"),
                bulk("config-epoch"),
                bulk("99")
            ),
            ["SENTINEL", ..] => "*0\r\n".into(),
            ["PING"] => "+PONG\r\n".into(),
            _ => "-ERR unknown command\r\n".into(),
        };
        Some(reply.into_bytes())
    })
    .await;
    let config = config_for(&t)
        .add_sentinel(("127.0.0.1", liar.port()))
        .listen(false);
    let client = SentinelClient::connect(config).await.unwrap();
    assert_eq!(client.master().addr, node(t.servers[0].addr()));
    assert!(client.stats().role_mismatches >= 1, "{:?}", client.stats());
    client.set("k", "v").await.unwrap();
    assert_eq!(
        client.connection().unwrap().peer_addr(),
        t.servers[0].addr(),
        "writes go to the real master"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sentinels_are_learned_and_listeners_resubscribe() {
    let mut t = TestSentinel::builder().replicas(1).start().await.unwrap();
    let first = t.sentinels[0].addr();
    let config =
        SentinelConfig::new("mymaster", [first]).sentinel_timeout(Duration::from_millis(200));
    let pool = SentinelPool::connect(config).await.unwrap();
    let known: BTreeSet<NodeAddr> = pool.sentinels().into_iter().collect();
    let all: BTreeSet<NodeAddr> = t.sentinels.iter().map(|s| node(s.addr())).collect();
    assert_eq!(known, all, "learned from SENTINEL SENTINELS");
    // A sentinel restarts: its listener subscribes again and the sentinels are asked again.
    for s in &t.sentinels {
        let s = raw(s.addr()).await;
        poll("a listener on every sentinel", || async {
            let clients: String = s.cmd("CLIENT").arg("LIST").query().await.ok()?;
            clients.contains("sub=11").then_some(())
        })
        .await;
    }
    let before = pool.stats().discoveries;
    t.sentinels[1].kill().await;
    t.sentinels[1].restart().await.unwrap();
    poll("a listener to resubscribe", || async {
        let s = pool.stats();
        (s.listener_reconnects >= 1 && s.discoveries > before).then_some(())
    })
    .await;
    let conn = pool.get().await.unwrap();
    conn.set("k", "v").await.unwrap();
}

/// What the write loop saw.
#[derive(Default)]
struct Writes {
    /// Writes acknowledged, and whether `WAIT 1` confirmed each.
    acked: Vec<(u64, bool)>,
    /// When each acknowledged write was sent, and when it was acknowledged.
    at: Vec<(Instant, Instant)>,
    errors: u64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_under_a_write_loop() {
    let mut t = TestSentinel::builder().start().await.unwrap();
    let old = t.servers[0].addr();
    let client = SentinelClient::connect(config_for(&t)).await.unwrap();
    let mut events = client.events();
    let sentinels: Vec<Connection> = {
        let mut v = Vec::new();
        for s in &t.sentinels {
            v.push(raw(s.addr()).await);
        }
        v
    };

    // The write loop: SET, then WAIT 1 (on a dedicated connection).
    let stop = Arc::new(AtomicBool::new(false));
    let writes = Arc::new(Mutex::new(Writes::default()));
    let writer = {
        let (client, stop, writes) = (client.clone(), stop.clone(), writes.clone());
        tokio::spawn(async move {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let sent = Instant::now();
                match client.set(format!("w:{i}"), i).await {
                    Ok(()) => {
                        let acked = Instant::now();
                        let confirmed: bool = matches!(
                            client.cmd("WAIT").arg(1).arg(50).query::<i64>().await,
                            Ok(n) if n >= 1
                        );
                        let mut w = writes.lock().unwrap();
                        w.acked.push((i, confirmed));
                        w.at.push((sent, acked));
                    }
                    Err(_) => writes.lock().unwrap().errors += 1,
                }
                i += 1;
            }
        })
    };
    poll("writes to be confirmed", || async {
        (writes.lock().unwrap().acked.iter().filter(|w| w.1).count() >= 20).then_some(())
    })
    .await;

    let killed = Instant::now();
    t.servers[0].kill().await;
    // The sentinels' own failover time: until the first of them names a new master that
    // answers ROLE as one (polled every millisecond or so).
    let new = poll("a sentinel to name the new master", || async {
        for a in announced(&sentinels).await.into_iter().flatten() {
            if a != old && role(a).await.as_deref() == Some("master") {
                return Some(a);
            }
        }
        None
    })
    .await;
    let server_time = killed.elapsed();
    // The first write sent after the kill and acknowledged (by the new master).
    let first_after = poll("a write on the new master", || async {
        writes
            .lock()
            .unwrap()
            .at
            .iter()
            .find(|(sent, _)| *sent > killed)
            .map(|(_, acked)| *acked)
    })
    .await;
    let gap = first_after - killed;
    t.wait_for_failover(old, DEADLINE).await.unwrap();
    poll("confirmed writes on the new master", || async {
        let w = writes.lock().unwrap();
        w.acked
            .iter()
            .filter(|(_, confirmed)| *confirmed)
            .filter(|_| w.at.last().is_some_and(|(_, at)| *at > first_after))
            .count()
            .checked_sub(30)
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    writer.await.unwrap();
    let (acked, errors) = {
        let w = writes.lock().unwrap();
        (w.acked.clone(), w.errors)
    };
    eprintln!(
        "sentinels named the new master {server_time:?} after the kill; the client's first \
         write there was acknowledged {gap:?} after the kill ({errors} errors meanwhile); \
         stats {:?}",
        client.stats()
    );
    assert_eq!(client.master().addr, node(new));
    assert!(
        gap <= server_time + Duration::from_millis(100),
        "client-visible unavailability {gap:?}, server failover {server_time:?}"
    );
    // No write confirmed by WAIT 1 is missing from the new master.
    let on_new = raw(new).await;
    let mut missing = Vec::new();
    for (i, confirmed) in &acked {
        if *confirmed {
            let v: Option<u64> = on_new.get(format!("w:{i}")).await.unwrap();
            if v != Some(*i) {
                missing.push(*i);
            }
        }
    }
    assert!(missing.is_empty(), "confirmed writes lost: {missing:?}");
    let switched = loop {
        match events.try_recv() {
            Ok(SentinelEvent::Switched {
                from, to, cause, ..
            }) => break (from, to, cause),
            Ok(_) => continue,
            Err(e) => panic!("no Switched event: {e:?}"),
        }
    };
    assert_eq!((switched.0, switched.1.clone()), (node(old), node(new)));
    eprintln!("switched by {:?}", switched.2);

    // The old master comes back (empty, a master until the sentinels convert it): the client
    // sends it nothing, and never even connects to it.
    let server = t.server_mut(old).unwrap();
    server.restart().await.unwrap();
    let mut k = 0u64;
    let mut checks_as_master = 0;
    loop {
        client.set(format!("back:{k}"), k).await.unwrap();
        k += 1;
        // ROLE, CLIENT LIST and DBSIZE of the old master at one instant (a new connection
        // each time: the sentinels' conversion kills connections).
        let Some((role, clients, keys)) = snapshot(old).await else {
            continue;
        };
        assert!(
            !clients.contains("name=sentinel-test"),
            "the client connected to the old master:\n{clients}"
        );
        if role != "master" {
            break;
        }
        checks_as_master += 1;
        assert_eq!(keys, 0, "a write reached the returned master");
    }
    assert!(
        checks_as_master > 0,
        "the old master was seen back as a master"
    );
    t.wait_replica_of(old, new, DEADLINE).await.unwrap();
    assert_eq!(client.master().addr, node(new));
    assert_eq!(client.connection().unwrap().peer_addr(), new);
    eprintln!(
        "{k} writes while the old master came back ({checks_as_master} checks while it was a \
         master): none reached it"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pool_drains_the_old_master_on_a_switch() {
    let t = TestSentinel::builder().replicas(1).start().await.unwrap();
    let old = t.servers[0].addr();
    let new = t.servers[1].addr();
    let pool = SentinelPool::connect(config_for(&t).pool_size(4))
        .await
        .unwrap();
    let mut events = pool.events();
    let held = pool.get().await.unwrap();
    {
        let (a, b) = (pool.get().await.unwrap(), pool.get().await.unwrap());
        a.set("a", 1).await.unwrap();
        b.set("b", 1).await.unwrap();
    }
    held.set("held", 1).await.unwrap();
    assert_eq!(pool.idle(), 2);
    // A manual failover: the old master stays up (demoted), so nothing breaks by itself.
    let s = raw(t.sentinels[0].addr()).await;
    let () = s
        .cmd("SENTINEL")
        .arg("FAILOVER")
        .arg("mymaster")
        .query()
        .await
        .unwrap();
    let (_, to, _) = next_switch(&mut events).await;
    assert_eq!(to, node(new));
    assert_eq!(pool.master().generation, 1);
    assert_eq!(pool.idle(), 0, "idle connections to the old master closed");
    assert!(pool.stats().drained_connections >= 2, "{:?}", pool.stats());
    // The connection checked out before the switch refuses to send.
    let e = held.set("held", 2).await.unwrap_err();
    assert!(e.is_not_sent() && e.is_master_changed(), "{e:?}");
    assert_eq!(e.root().kind(), ErrorKind::MasterChanged);
    drop(held);
    let conn = pool.get().await.unwrap();
    assert_eq!(conn.addr(), &node(new));
    assert_eq!(conn.connection().peer_addr(), new);
    conn.set("after", 1).await.unwrap();
    drop(conn);
    let n: i64 = pool
        .run(|c| async move { c.incr("n").await })
        .await
        .unwrap();
    assert_eq!(n, 1);
    // Nothing of ours is left on the old master (now a replica).
    t.wait_replica_of(old, new, DEADLINE).await.unwrap();
    let clients: String = raw(old)
        .await
        .cmd("CLIENT")
        .arg("LIST")
        .query()
        .await
        .unwrap();
    assert!(!clients.contains("name=sentinel-test"), "{clients}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readonly_makes_the_client_rediscover_and_send_once_more() {
    let t = TestSentinel::builder().replicas(1).start().await.unwrap();
    let (m, r) = (t.servers[0].addr(), t.servers[1].addr());
    // No events, no periodic check: the client learns of the change from READONLY only.
    let config = config_for(&t).listen(false).recheck_interval(None);
    let client = SentinelClient::connect(config.clone()).await.unwrap();
    let pool = SentinelPool::connect(config).await.unwrap();
    let mut events = client.events();
    client.set("k", 1).await.unwrap();
    let pooled = pool.get().await.unwrap();
    pooled.set("p", 1).await.unwrap();
    drop(pooled);

    // An operator swaps the roles behind the sentinels' back and points them at the new
    // master (no failover, so no +switch-master).
    let sentinels: Vec<Connection> = {
        let mut v = Vec::new();
        for s in &t.sentinels {
            v.push(raw(s.addr()).await);
        }
        v
    };
    for s in &sentinels {
        let () = s
            .cmd("SENTINEL")
            .arg("REMOVE")
            .arg("mymaster")
            .query()
            .await
            .unwrap();
    }
    let () = raw(r)
        .await
        .cmd("REPLICAOF")
        .arg("NO")
        .arg("ONE")
        .query()
        .await
        .unwrap();
    let () = raw(m)
        .await
        .cmd("REPLICAOF")
        .arg(r.ip().to_string())
        .arg(r.port())
        .query()
        .await
        .unwrap();
    t.wait_replica_of(m, r, DEADLINE).await.unwrap();
    for s in &sentinels {
        let () = s
            .cmd("SENTINEL")
            .arg("MONITOR")
            .arg("mymaster")
            .arg(r.ip().to_string())
            .arg(r.port())
            .arg(2)
            .query()
            .await
            .unwrap();
    }
    assert_eq!(client.master().addr, node(m), "nothing told the client yet");
    // The write reaches the old master, is refused (READONLY, so it did not run), and is
    // sent once more to the master the sentinels name now.
    let n: i64 = client.incr("k").await.unwrap();
    assert_eq!(n, 2);
    assert_eq!(client.master().addr, node(r));
    assert_eq!(client.stats().readonly_retries, 1);
    let (_, _, cause) = next_switch(&mut events).await;
    assert_eq!(cause, SwitchCause::ReadOnly);
    // The pool: the first attempt gets READONLY, `run` waits for the master and runs again.
    let n: i64 = pool
        .run(|c| async move { c.incr("p").await })
        .await
        .unwrap();
    assert_eq!(n, 2);
    assert_eq!(pool.master().addr, node(r));
    // A write refused on a checked-out connection is an error the caller sees as is.
    let v: Option<i64> = client.get("p").await.unwrap();
    assert_eq!(v, Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replica_reads_continue_through_the_failover() {
    let mut t = TestSentinel::builder().start().await.unwrap();
    let old = t.servers[0].addr();
    let writer = SentinelClient::connect(config_for(&t)).await.unwrap();
    for i in 0..20 {
        writer.set(format!("r:{i}"), i).await.unwrap();
    }
    let synced: i64 = writer.cmd("WAIT").arg(2).arg(2000).query().await.unwrap();
    assert_eq!(synced, 2);
    let reader = SentinelClient::connect(config_for(&t).role(Role::Replica))
        .await
        .unwrap();
    let replicas: BTreeSet<NodeAddr> = reader.replicas().into_iter().collect();
    let expected: BTreeSet<NodeAddr> = t.servers[1..].iter().map(|s| node(s.addr())).collect();
    assert_eq!(replicas, expected);
    // Writes are refused by a replica, not sent elsewhere.
    let e = reader.set("nope", 1).await.unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::ReadOnly));

    let stop = Arc::new(AtomicBool::new(false));
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let reads = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let loops: Vec<_> = (0..4)
        .map(|n| {
            let (reader, stop, failures, reads) = (
                reader.clone(),
                stop.clone(),
                failures.clone(),
                reads.clone(),
            );
            tokio::spawn(async move {
                let mut i = n;
                while !stop.load(Ordering::Relaxed) {
                    match reader.get::<Option<i64>>(format!("r:{}", i % 20)).await {
                        Ok(v) => assert_eq!(v, Some(i % 20)),
                        Err(e) => failures.lock().unwrap().push(e.to_string()),
                    }
                    reads.fetch_add(1, Ordering::Relaxed);
                    i += 1;
                }
            })
        })
        .collect();
    poll("reads", || async {
        (reads.load(Ordering::Relaxed) > 100).then_some(())
    })
    .await;
    // Both replicas serve them.
    for s in &t.servers[1..] {
        let stats: String = raw(s.addr())
            .await
            .cmd("INFO")
            .arg("commandstats")
            .query()
            .await
            .unwrap();
        assert!(
            stats.contains("cmdstat_get:calls="),
            "{}: {stats}",
            s.addr()
        );
    }
    t.servers[0].kill().await;
    let during = reads.load(Ordering::Relaxed);
    let new = t.wait_for_failover(old, DEADLINE).await.unwrap();
    let other = t.servers[1..]
        .iter()
        .map(|s| s.addr())
        .find(|a| *a != new)
        .unwrap();
    t.wait_replica_of(other, new, DEADLINE).await.unwrap();
    let after = reads.load(Ordering::Relaxed);
    poll("reads after the failover", || async {
        (reads.load(Ordering::Relaxed) > after + 100).then_some(())
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    for l in loops {
        l.await.unwrap();
    }
    let failures = failures.lock().unwrap();
    eprintln!(
        "{} reads during the failover, {} failed; replicas now {:?}; stats {:?}",
        after - during,
        failures.len(),
        reader.replicas(),
        reader.stats()
    );
    assert!(after > during, "reads went on during the failover");
    assert!(failures.is_empty(), "failed reads: {failures:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_known_master_stays_usable_when_the_sentinels_go_away() {
    let mut t = TestSentinel::builder().replicas(1).start().await.unwrap();
    let client = SentinelClient::connect(config_for(&t)).await.unwrap();
    client.set("k", 1).await.unwrap();
    for s in &mut t.sentinels {
        s.kill().await;
    }
    // The connection breaks: it reconnects to the master it knows.
    client.connection().unwrap().close();
    let n: i64 = client.incr("k").await.unwrap();
    assert_eq!(n, 2);
    // The master restarts: attempts fail, the sentinels cannot be asked, and the client keeps
    // trying the master it knows until it is back.
    t.servers[0].kill().await;
    // (The first request may be the one in flight at the kill; the next one reconnects.)
    for _ in 0..2 {
        let e = client.incr::<i64>("k").await.unwrap_err();
        assert!(e.is_not_sent() || e.is_connection_broken(), "{e:?}");
    }
    t.servers[0].restart().await.unwrap();
    poll("the master to be back", || async {
        client.set("k", 7).await.ok()
    })
    .await;
    assert_eq!(client.master().addr, node(t.servers[0].addr()));
    assert!(
        client.stats().discovery_failures >= 1,
        "{:?}",
        client.stats()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_periodic_recheck_finds_a_failover_without_events() {
    let t = TestSentinel::builder().replicas(1).start().await.unwrap();
    let new = t.servers[1].addr();
    let config = config_for(&t)
        .listen(false)
        .recheck_interval(Some(Duration::from_millis(100)));
    let client = SentinelClient::connect(config).await.unwrap();
    let mut events = client.events();
    client.set("k", 1).await.unwrap();
    let s = raw(t.sentinels[0].addr()).await;
    let () = s
        .cmd("SENTINEL")
        .arg("FAILOVER")
        .arg("mymaster")
        .query()
        .await
        .unwrap();
    // No traffic, no listener: the re-check finds it.
    let (_, to, cause) = next_switch(&mut events).await;
    assert_eq!((to, cause), (node(new), SwitchCause::Discovery));
    client.set("k", 2).await.unwrap();
    assert_eq!(client.connection().unwrap().peer_addr(), new);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replica_pools_balance_and_prefer_replica_falls_back_to_the_master() {
    let t = TestSentinel::builder().start().await.unwrap();
    let pool = SentinelPool::connect(config_for(&t).role(Role::Replica))
        .await
        .unwrap();
    let replicas: BTreeSet<NodeAddr> = t.servers[1..].iter().map(|s| node(s.addr())).collect();
    let (a, b) = (pool.get().await.unwrap(), pool.get().await.unwrap());
    let used: BTreeSet<NodeAddr> = [a.addr().clone(), b.addr().clone()].into();
    assert_eq!(used, replicas, "one connection to each replica");
    let e = a.set("k", 1).await.unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::ReadOnly));
    drop((a, b));

    // No replica at all: PreferReplica reads from the master, Replica says there is none.
    let lone = TestSentinel::builder().replicas(0).start().await.unwrap();
    let master = lone.servers[0].addr();
    let prefer = SentinelClient::connect(config_for(&lone).role(Role::PreferReplica))
        .await
        .unwrap();
    prefer.set("k", "v").await.unwrap();
    let v: Option<String> = prefer.get("k").await.unwrap();
    assert_eq!(v.as_deref(), Some("v"));
    assert_eq!(prefer.connection().unwrap().peer_addr(), master);
    let only = SentinelClient::connect(config_for(&lone).role(Role::Replica))
        .await
        .unwrap();
    let e = only.get::<Option<String>>("k").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NoReplica, "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sentinel_that_joins_later_is_learned_and_listened_to() {
    let t = TestSentinel::builder().replicas(1).start().await.unwrap();
    // No periodic re-check: the +sentinel event is the only way to learn of it.
    let client = SentinelClient::connect(config_for(&t).recheck_interval(None))
        .await
        .unwrap();
    let m = t.servers[0].addr();
    let late = rediscover_testserver::TestServer::builder()
        .timers(rediscover_testserver::config::Timers::fast(20))
        .sentinel(format!(
            "sentinel monitor mymaster {} {} 2\n\
             sentinel down-after-milliseconds mymaster 300\n\
             sentinel failover-timeout mymaster 1000\n",
            m.ip(),
            m.port()
        ))
        .start()
        .await
        .unwrap();
    let mut events = client.events();
    poll("the client to learn the new sentinel", || async {
        client
            .sentinels()
            .contains(&node(late.addr()))
            .then_some(())
    })
    .await;
    let learned = loop {
        match events.try_recv() {
            Ok(SentinelEvent::SentinelAdded { addr }) => break addr,
            Ok(_) => {}
            Err(e) => panic!("no SentinelAdded event: {e:?}"),
        }
    };
    assert_eq!(learned, node(late.addr()));
    let conn = raw(late.addr()).await;
    poll("a listener on the new sentinel", || async {
        let clients: String = conn.cmd("CLIENT").arg("LIST").query().await.ok()?;
        clients.contains("sub=11").then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_subscriber_follows_the_master() {
    let t = TestSentinel::builder().replicas(1).start().await.unwrap();
    let new = t.servers[1].addr();
    let client = SentinelClient::connect(config_for(&t)).await.unwrap();
    let mut events = client.events();
    let mut sub = client.subscriber().await.unwrap();
    sub.subscribe("news").await.unwrap();
    let () = raw(t.sentinels[0].addr())
        .await
        .cmd("SENTINEL")
        .arg("FAILOVER")
        .arg("mymaster")
        .query()
        .await
        .unwrap();
    let (_, to, _) = next_switch(&mut events).await;
    assert_eq!(to, node(new));
    // The demotion closed the subscriber's connection; it resubscribes on the new master.
    // Messages published meanwhile are lost (as with any pub/sub): publish until one arrives.
    let publisher = {
        let client = client.clone();
        tokio::spawn(async move {
            loop {
                let _ = client.publish("news", "after").await;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
    };
    let msg = tokio::time::timeout(DEADLINE, sub.next_message())
        .await
        .expect("a message after the failover")
        .unwrap();
    publisher.abort();
    assert_eq!(&msg.payload[..], b"after");
    assert!(sub.reconnects() >= 1);
}
