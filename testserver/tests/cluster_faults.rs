//! Cluster scenarios under faults, in-process with a 200 ms node timeout and a 5 ms cron:
//! automatic failover and the old master's return, manual failover (default, FORCE,
//! TAKEOVER), a minority partition, restart from nodes.conf, replica migration, garbage on
//! the bus, MIGRATE to a dead or stalled target, resharding while clients write, sharded
//! pub/sub when a slot moves. Every wait polls with a deadline.

mod common;

use std::time::Duration;

use common::RawConn;
use rediscover_testserver::topology::poll_until;
use rediscover_testserver::{FailoverMode, TestCluster};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const DEADLINE: Duration = Duration::from_secs(15);

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The node timeout of these tests: short enough for fast failovers, long enough that two
/// clusters sharing two busy cores do not see each other's stalls as failures.
const NODE_TIMEOUT: i64 = 500;

async fn cluster_3x1() -> TestCluster {
    TestCluster::builder()
        .masters(3)
        .replicas_per_master(1)
        .node_timeout(NODE_TIMEOUT)
        .start()
        .await
        .unwrap()
}

async fn masters_3() -> TestCluster {
    TestCluster::builder()
        .masters(3)
        .node_timeout(NODE_TIMEOUT)
        .start()
        .await
        .unwrap()
}

/// Publishes until the subscriber on `sub` receives it (pub/sub is fire and forget: a message
/// sent while a bus link reconnects is lost, in Redis too).
async fn publish_until_received(pubc: &mut RawConn, argv: &[&str], sub: &mut RawConn) -> Vec<u8> {
    for _ in 0..100 {
        let r = pubc.call(argv).await;
        assert_eq!(r[0], b':', "{}", text(&r));
        if let Some(m) = sub.read_raw_timeout(Duration::from_millis(100)).await {
            return m;
        }
    }
    panic!("{argv:?} never arrived");
}

/// Sends a command to the cluster, following MOVED and ASK like a cluster client.
async fn cluster_call(cluster: &TestCluster, argv: &[&str]) -> Vec<u8> {
    let mut addr = cluster.node(0).addr();
    let mut asking = false;
    for _ in 0..50 {
        let mut c = RawConn::connect(addr).await;
        if asking {
            assert_eq!(c.call(&["ASKING"]).await, b"+OK\r\n");
        }
        let reply = c.call(argv).await;
        let line = text(&reply);
        if let Some(rest) = line
            .strip_prefix("-MOVED ")
            .or_else(|| line.strip_prefix("-ASK "))
        {
            asking = line.starts_with("-ASK");
            let target = rest.trim_end().split(' ').nth(1).unwrap();
            addr = target.parse().unwrap();
            continue;
        }
        if line.starts_with("-TRYAGAIN") || line.starts_with("-CLUSTERDOWN") {
            tokio::time::sleep(Duration::from_millis(5)).await;
            asking = false;
            continue;
        }
        return reply;
    }
    panic!("no answer for {argv:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_master_is_replaced_and_returns_as_a_replica() {
    let mut cluster = cluster_3x1().await;
    let slot = rediscover::slot::key_slot(b"k");
    let master = cluster.master_of_slot(slot).unwrap();
    let replica = cluster.replicas_of(master)[0];
    assert_eq!(cluster_call(&cluster, &["SET", "k", "v"]).await, b"+OK\r\n");
    // Saved, so the restarted master has the key (and nodes.conf) back.
    let mut m = RawConn::connect(cluster.node(master).addr()).await;
    assert_eq!(m.call(&["SAVE"]).await, b"+OK\r\n");
    cluster.nodes()[0].node().lock().repl.offset();
    common::wait_until(DEADLINE, || async {
        let off = cluster.node(master).repl_offset();
        cluster.node(replica).repl_offset() == off
    })
    .await;
    let started = std::time::Instant::now();
    cluster.kill(master).await;
    let new_master = cluster.wait_for_master_of_slot(slot).await.unwrap();
    eprintln!("failover took {:?}", started.elapsed());
    assert_eq!(new_master, replica);
    assert_eq!(cluster_call(&cluster, &["GET", "k"]).await, b"$1\r\nv\r\n");
    // The old master comes back as a replica of its replacement.
    cluster.restart(master).await.unwrap();
    poll_until(DEADLINE, || {
        if cluster.replicas_of(replica).contains(&master) {
            Ok(())
        } else {
            Err(format!("node {master} to replicate node {replica}"))
        }
    })
    .await
    .unwrap();
    cluster.wait_stable().await.unwrap();
    let nodes = text(
        &RawConn::connect(cluster.node(master).addr())
            .await
            .call(&["CLUSTER", "NODES"])
            .await,
    );
    let me = nodes.lines().find(|l| l.contains("myself")).unwrap();
    assert!(me.contains("myself,slave"), "{me}");
    assert!(me.contains(&cluster.node_id(replica)), "{me}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manual_failover_default_force_and_takeover() {
    let cluster = cluster_3x1().await;
    for mode in [
        FailoverMode::Default,
        FailoverMode::Force,
        FailoverMode::Takeover,
    ] {
        let slot = rediscover::slot::key_slot(b"mf");
        let master = cluster.master_of_slot(slot).unwrap();
        let replica = cluster.replicas_of(master)[0];
        // The increment reaches the replica before the failover: FORCE and TAKEOVER do not
        // wait for the replica to catch up, so an unreplicated write may be lost, in Redis too.
        let mut m = RawConn::connect(cluster.node(master).addr()).await;
        assert_eq!(m.call(&["INCR", "mf"]).await.first(), Some(&b':'));
        assert_eq!(m.call(&["WAIT", "1", "5000"]).await, b":1\r\n");
        cluster.failover(replica, mode).await.unwrap();
        assert_eq!(cluster.master_of_slot(slot), Some(replica), "{mode:?}");
        assert!(
            cluster.replicas_of(replica).contains(&master),
            "{mode:?}: the old master follows the new one"
        );
    }
    // Three replicated increments, none lost across the three failovers.
    assert_eq!(cluster_call(&cluster, &["GET", "mf"]).await, b"$1\r\n3\r\n");
    // CLUSTER FAILOVER to a master is refused.
    let master = cluster.masters()[0];
    let mut c = RawConn::connect(cluster.node(master).addr()).await;
    assert_eq!(
        c.call(&["CLUSTER", "FAILOVER"]).await,
        b"-ERR You should send CLUSTER FAILOVER to a replica\r\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_minority_master_stops_accepting_writes() {
    let cluster = cluster_3x1().await;
    let slot = rediscover::slot::key_slot(b"p");
    let master = cluster.master_of_slot(slot).unwrap();
    let replica = cluster.replicas_of(master)[0];
    // The master alone on one side; everyone else (its replica included) on the other.
    cluster.partition(&[master]);
    let mut m = RawConn::connect(cluster.node(master).addr()).await;
    let addr = cluster.node(master).addr();
    assert!(
        common::wait_until(DEADLINE, || async move {
            RawConn::connect(addr).await.call(&["SET", "p", "1"]).await
                == b"-CLUSTERDOWN The cluster is down\r\n"
        })
        .await,
        "the minority master refuses writes"
    );
    assert_eq!(
        m.call(&["GET", "p"]).await,
        b"-CLUSTERDOWN The cluster is down\r\n"
    );
    // Reads may be allowed while down; writes never are.
    assert_eq!(
        m.call(&["CONFIG", "SET", "cluster-allow-reads-when-down", "yes"])
            .await,
        b"+OK\r\n"
    );
    // (The writes before it noticed the partition were accepted, as in Redis.)
    assert_eq!(m.call(&["GET", "p"]).await, b"$1\r\n1\r\n");
    assert_eq!(
        m.call(&["SET", "p", "1"]).await,
        b"-CLUSTERDOWN The cluster is down and only accepts read commands\r\n"
    );
    assert_eq!(
        m.call(&["CONFIG", "SET", "cluster-allow-reads-when-down", "no"])
            .await,
        b"+OK\r\n"
    );
    // The majority elects the replica.
    poll_until(DEADLINE, || {
        if cluster.masters().contains(&replica) {
            Ok(())
        } else {
            Err("the replica to be elected".into())
        }
    })
    .await
    .unwrap();
    assert_eq!(cluster_call(&cluster, &["SET", "p", "2"]).await, b"+OK\r\n");
    // Healed: the old master learns it was replaced and follows the new one.
    cluster.heal();
    poll_until(DEADLINE, || {
        if cluster.replicas_of(replica).contains(&master) {
            Ok(())
        } else {
            Err(format!("node {master} to become a replica"))
        }
    })
    .await
    .unwrap();
    cluster.wait_stable().await.unwrap();
    assert_eq!(cluster_call(&cluster, &["GET", "p"]).await, b"$1\r\n2\r\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_node_reloads_nodes_conf() {
    let mut cluster = masters_3().await;
    let id = cluster.node_id(1);
    let conf = std::path::Path::new(&cluster.node(1).node().lock().config.dir).join("nodes.conf");
    let saved = std::fs::read_to_string(&conf).unwrap();
    assert!(saved.contains(&format!("{id} 127.0.0.1:")), "{saved}");
    assert!(saved.ends_with("lastVoteEpoch 0\n"), "{saved}");
    cluster.kill(1).await;
    cluster.restart(1).await.unwrap();
    assert_eq!(cluster.node_id(1), id);
    cluster.wait_stable().await.unwrap();
    // A corrupt file is refused at startup.
    cluster.kill(1).await;
    std::fs::write(&conf, "this is not a nodes.conf\n").unwrap();
    let err = cluster.restart(1).await.unwrap_err().to_string();
    assert!(
        err.starts_with("Unrecoverable error: corrupted cluster config file"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_migrates_to_an_orphaned_master() {
    // Master 0 has two replicas, masters 1 and 2 one each.
    let mut cluster = cluster_3x1().await;
    let extra = cluster.replicas_of(1)[0];
    let m0 = cluster.node_id(0);
    let mut c = RawConn::connect(cluster.node(extra).addr()).await;
    assert_eq!(c.call(&["CLUSTER", "REPLICATE", &m0]).await, b"+OK\r\n");
    cluster.wait_stable().await.unwrap();
    assert_eq!(cluster.replicas_of(0).len(), 2);
    assert!(cluster.replicas_of(1).is_empty());
    // Master 1 is not orphaned (its replica was moved, not lost): nothing migrates to it. Give
    // it a replica and then kill that replica: now it is.
    let lone = cluster.replicas_of(2)[0];
    let m1 = cluster.node_id(1);
    let mut c = RawConn::connect(cluster.node(lone).addr()).await;
    assert_eq!(c.call(&["CLUSTER", "REPLICATE", &m1]).await, b"+OK\r\n");
    cluster.wait_stable().await.unwrap();
    cluster.kill(lone).await;
    poll_until(DEADLINE, || {
        if cluster.replicas_of(1).len() == 1 && cluster.replicas_of(0).len() == 1 {
            Ok(())
        } else {
            Err("one of master 0's replicas to migrate to master 1".into())
        }
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_on_the_bus_closes_only_that_link() {
    let cluster = masters_3().await;
    let bus = cluster.node(0).bus_addr().unwrap();
    let mut s = tokio::net::TcpStream::connect(bus).await.unwrap();
    s.write_all(b"GET foo\r\n").await.unwrap();
    let mut buf = [0u8; 16];
    let n = tokio::time::timeout(DEADLINE, s.read(&mut buf))
        .await
        .unwrap();
    assert!(matches!(n, Ok(0) | Err(_)), "the link is closed");
    // A well-framed message of a bad length is dropped; the link stays open.
    let mut s = tokio::net::TcpStream::connect(bus).await.unwrap();
    let mut msg = vec![0u8; 2256];
    msg[..4].copy_from_slice(b"RCmb");
    msg[4..8].copy_from_slice(&2256u32.to_be_bytes());
    msg[8..10].copy_from_slice(&1u16.to_be_bytes());
    msg[14..16].copy_from_slice(&5u16.to_be_bytes()); // 5 gossip entries that are not there
    s.write_all(&msg).await.unwrap();
    let read = tokio::time::timeout(Duration::from_millis(200), s.read(&mut buf)).await;
    assert!(read.is_err(), "no reply and no close: {read:?}");
    // The cluster did not notice.
    cluster.wait_stable().await.unwrap();
    let mut c = RawConn::connect(cluster.node(0).addr()).await;
    assert!(text(&c.call(&["CLUSTER", "INFO"]).await).contains("cluster_state:ok"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_to_a_dead_or_stalled_target_loses_nothing() {
    let cluster = masters_3().await;
    let slot = rediscover::slot::key_slot(b"mk");
    let src = cluster.master_of_slot(slot).unwrap();
    let dst = cluster.masters().into_iter().find(|&m| m != src).unwrap();
    let mut s = RawConn::connect(cluster.node(src).addr()).await;
    assert_eq!(s.call(&["SET", "mk", "value"]).await, b"+OK\r\n");
    assert_eq!(s.call(&["PEXPIRE", "mk", "100000"]).await, b":1\r\n");
    // A port nobody listens on.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_port = dead.local_addr().unwrap().port().to_string();
    drop(dead);
    let reply = text(
        &s.call(&["MIGRATE", "127.0.0.1", &dead_port, "mk", "0", "100"])
            .await,
    );
    assert!(reply.starts_with("-IOERR error or timeout"), "{reply}");
    assert_eq!(s.call(&["GET", "mk"]).await, b"$5\r\nvalue\r\n");
    // A target that stops answering: the timeout, and the key stays.
    let from = cluster.begin_slot_migration(slot, dst).await.unwrap();
    assert_eq!(from, src);
    let port = cluster.node(dst).addr().port().to_string();
    cluster.freeze(dst);
    let reply = text(
        &s.call(&["MIGRATE", "127.0.0.1", &port, "mk", "0", "200"])
            .await,
    );
    assert_eq!(
        reply,
        "-IOERR error or timeout reading to target instance\r\n"
    );
    assert_eq!(s.call(&["GET", "mk"]).await, b"$5\r\nvalue\r\n");
    cluster.thaw(dst);
    // The target took it while frozen (the bytes were queued): now it exists there too, as
    // with Redis; MIGRATE again says so, REPLACE moves it.
    let mut d = RawConn::connect(cluster.node(dst).addr()).await;
    common::wait_until(DEADLINE, || async {
        RawConn::connect(cluster.node(dst).addr())
            .await
            .call(&["ASKING"])
            .await
            == b"+OK\r\n"
    })
    .await;
    let reply = text(
        &s.call(&["MIGRATE", "127.0.0.1", &port, "mk", "0", "5000"])
            .await,
    );
    assert!(
        reply == "-ERR Target instance replied with error: BUSYKEY Target key name already exists.\r\n"
            || reply == "+OK\r\n",
        "{reply}"
    );
    if reply != "+OK\r\n" {
        assert_eq!(s.call(&["GET", "mk"]).await, b"$5\r\nvalue\r\n");
        assert_eq!(
            s.call(&["MIGRATE", "127.0.0.1", &port, "mk", "0", "5000", "REPLACE"])
                .await,
            b"+OK\r\n"
        );
    }
    // Moved: gone here (ASK to the target now), there with its TTL.
    assert!(text(&s.call(&["GET", "mk"]).await).starts_with("-ASK "));
    assert_eq!(d.call(&["ASKING"]).await, b"+OK\r\n");
    assert_eq!(d.call(&["GET", "mk"]).await, b"$5\r\nvalue\r\n");
    assert_eq!(d.call(&["ASKING"]).await, b"+OK\r\n");
    let ttl = text(&d.call(&["PTTL", "mk"]).await);
    let ttl: i64 = ttl[1..].trim().parse().unwrap();
    assert!(ttl > 90_000 && ttl <= 100_000, "{ttl}");
    // COPY keeps the source; AUTH to a target without a password is its error. (Keys of a
    // slot the source serves normally: new keys of the migrating slot are ASKed away.)
    let tag = (0..)
        .map(|i| format!("t{i}"))
        .find(|t| {
            let sl = rediscover::slot::key_slot(t.as_bytes());
            sl != slot && cluster.master_of_slot(sl) == Some(src)
        })
        .unwrap();
    let k2 = format!("{{{tag}}}2");
    let k3 = format!("{{{tag}}}3");
    let knone = format!("{{{tag}}}none");
    let slot2 = rediscover::slot::key_slot(tag.as_bytes()).to_string();
    assert_eq!(s.call(&["SET", &k2, "x"]).await, b"+OK\r\n");
    assert_eq!(s.call(&["SET", &k3, "3"]).await, b"+OK\r\n");
    // A target that neither owns nor imports the slot refuses RESTORE-ASKING.
    let reply = text(
        &s.call(&["MIGRATE", "127.0.0.1", &port, &k2, "0", "5000"])
            .await,
    );
    assert!(
        reply.starts_with("-ERR Target instance replied with error: MOVED "),
        "{reply}"
    );
    cluster
        .begin_slot_migration(slot2.parse().unwrap(), dst)
        .await
        .unwrap();
    assert_eq!(
        s.call(&["MIGRATE", "127.0.0.1", &port, &k2, "0", "5000", "COPY"])
            .await,
        b"+OK\r\n"
    );
    assert_eq!(s.call(&["GET", &k2]).await, b"$1\r\nx\r\n");
    let reply = text(
        &s.call(&[
            "MIGRATE",
            "127.0.0.1",
            &port,
            &k2,
            "0",
            "5000",
            "REPLACE",
            "AUTH",
            "pw",
        ])
        .await,
    );
    assert!(
        reply.starts_with("-ERR Target instance replied with error: ERR AUTH <password> called without any password"),
        "{reply}"
    );
    assert_eq!(s.call(&["GET", &k2]).await, b"$1\r\nx\r\n");
    // KEYS form with several keys (one missing).
    assert_eq!(
        s.call(&[
            "MIGRATE",
            "127.0.0.1",
            &port,
            "",
            "0",
            "5000",
            "REPLACE",
            "KEYS",
            &k2,
            &k3,
            &knone
        ])
        .await,
        b"+OK\r\n"
    );
    assert_eq!(
        s.call(&["CLUSTER", "COUNTKEYSINSLOT", &slot2]).await,
        b":0\r\n"
    );
    assert_eq!(
        d.call(&["CLUSTER", "COUNTKEYSINSLOT", &slot2]).await,
        b":2\r\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resharding_while_clients_write_loses_nothing() {
    let cluster = std::sync::Arc::new(masters_3().await);
    // Keys in a few slots; a writer keeps incrementing them while the slots move.
    let keys: Vec<String> = (0..40).map(|i| format!("{{tag{}}}:{i}", i % 4)).collect();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let cluster = cluster.clone();
        let keys = keys.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut counts = std::collections::HashMap::new();
            let mut round = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) || round < 3 {
                for k in &keys {
                    let r = cluster_call(&cluster, &["INCR", k]).await;
                    assert_eq!(r[0], b':', "{}", text(&r));
                    *counts.entry(k.clone()).or_insert(0) += 1;
                }
                round += 1;
            }
            counts
        })
    };
    for t in 0..4 {
        let slot = rediscover::slot::key_slot(format!("tag{t}").as_bytes());
        let from = cluster.master_of_slot(slot).unwrap();
        let to = cluster.masters().into_iter().find(|&m| m != from).unwrap();
        cluster.migrate_slot(slot, to).await.unwrap();
        assert_eq!(cluster.master_of_slot(slot), Some(to));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let counts = writer.await.unwrap();
    for k in &keys {
        let want = format!(":{}\r\n", counts[k]);
        let got = cluster_call(&cluster, &["INCRBY", k, "0"]).await;
        assert_eq!(text(&got), want, "{k}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sharded_pubsub_follows_the_slot() {
    let cluster = cluster_3x1().await;
    let slot = rediscover::slot::key_slot(b"news");
    let master = cluster.master_of_slot(slot).unwrap();
    let replica = cluster.replicas_of(master)[0];
    let mut sub = RawConn::connect(cluster.node(master).addr()).await;
    assert_eq!(
        sub.call(&["SSUBSCRIBE", "news"]).await,
        b"*3\r\n$10\r\nssubscribe\r\n$4\r\nnews\r\n:1\r\n"
    );
    // A replica accepts SPUBLISH without READONLY and the master's subscribers get it.
    let mut r = RawConn::connect(cluster.node(replica).addr()).await;
    assert_eq!(
        publish_until_received(&mut r, &["SPUBLISH", "news", "hi"], &mut sub).await,
        b"*3\r\n$8\r\nsmessage\r\n$4\r\nnews\r\n$2\r\nhi\r\n"
    );
    assert_eq!(r.call(&["SPUBLISH", "news", "hi"]).await, b":0\r\n");
    let _ = sub.read_raw_timeout(Duration::from_millis(200)).await;
    // A plain PUBLISH anywhere reaches subscribers everywhere.
    let mut psub = RawConn::connect(cluster.node(replica).addr()).await;
    assert_eq!(
        psub.call(&["SUBSCRIBE", "all"]).await,
        b"*3\r\n$9\r\nsubscribe\r\n$3\r\nall\r\n:1\r\n"
    );
    let other = cluster
        .masters()
        .into_iter()
        .find(|&m| m != master)
        .unwrap();
    let mut p = RawConn::connect(cluster.node(other).addr()).await;
    assert_eq!(
        publish_until_received(&mut p, &["PUBLISH", "all", "x"], &mut psub).await,
        b"*3\r\n$7\r\nmessage\r\n$3\r\nall\r\n$1\r\nx\r\n"
    );
    // The slot moves away: its subscribers are unsubscribed by the server.
    cluster.migrate_slot(slot, other).await.unwrap();
    assert_eq!(
        sub.read_raw().await,
        b"*3\r\n$12\r\nsunsubscribe\r\n$4\r\nnews\r\n:0\r\n"
    );
    assert_eq!(sub.call(&["PING"]).await, b"+PONG\r\n");
}
