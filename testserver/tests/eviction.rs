//! `maxmemory` and its eviction policies, the OOM error, OBJECT IDLETIME / FREQ, and eviction
//! under replication. Error texts and reply bytes are Redis 7.0.15's.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::{connect, start, RawConn};
use rediscover::resp::Frame;
use rediscover_testserver::topology::{poll_until, ReplicationSet};
use rediscover_testserver::TestServer;

const OOM: &[u8] = b"-OOM command not allowed when used memory > 'maxmemory'.\r\n";
const DEADLINE: Duration = Duration::from_secs(10);

async fn info_int(c: &mut RawConn, field: &str) -> i64 {
    let Frame::Bulk(text) = c.frame(&["INFO", "everything"]).await else {
        panic!("INFO is not a bulk string");
    };
    let text = String::from_utf8_lossy(&text).to_string();
    let prefix = format!("{field}:");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no {field} in INFO"))
        .trim()
        .parse()
        .unwrap()
}

async fn int(c: &mut RawConn, argv: &[&str]) -> i64 {
    match c.frame(argv).await {
        Frame::Integer(n) => n,
        other => panic!("{argv:?}: not an integer: {other:?}"),
    }
}

/// Sets `maxmemory` so that about `bytes` must be freed from what is used now.
async fn squeeze(c: &mut RawConn, bytes: i64) {
    let used = info_int(c, "used_memory").await;
    let limit = (used - bytes).to_string();
    assert_eq!(
        c.call(&["CONFIG", "SET", "maxmemory", &limit]).await,
        b"+OK\r\n"
    );
}

#[tokio::test]
async fn noeviction_refuses_denyoom_commands_and_keeps_serving_reads() {
    let (_server, mut c) = start().await;
    for i in 0..20 {
        c.call(&["SET", &format!("k{i}"), "value"]).await;
    }
    squeeze(&mut c, 100).await;
    assert_eq!(c.call(&["SET", "new", "v"]).await, OOM);
    assert_eq!(c.call(&["LPUSH", "l", "v"]).await, OOM);
    // Reads and commands that free memory still work.
    assert_eq!(c.call(&["GET", "k1"]).await, b"$5\r\nvalue\r\n");
    assert_eq!(c.call(&["DEL", "k2"]).await, b":1\r\n");
    assert_eq!(info_int(&mut c, "evicted_keys").await, 0);
    // Inside MULTI everything but EXEC/DISCARD is refused, and EXEC then aborts.
    assert_eq!(
        c.call(&["CONFIG", "SET", "maxmemory", "1"]).await,
        b"+OK\r\n"
    );
    assert_eq!(c.call(&["MULTI"]).await, b"+OK\r\n");
    assert_eq!(c.call(&["GET", "k1"]).await, OOM);
    assert_eq!(
        c.call(&["EXEC"]).await,
        b"-EXECABORT Transaction discarded because of previous errors.\r\n"
    );
    assert_eq!(
        c.call(&["CONFIG", "SET", "maxmemory", "0"]).await,
        b"+OK\r\n"
    );
    assert_eq!(c.call(&["SET", "new", "v"]).await, b"+OK\r\n");
}

#[tokio::test]
async fn allkeys_lru_keeps_recently_used_keys() {
    let (_server, mut c) = start().await;
    restore_and_check(&mut c).await;
}

/// Cold keys (idle for an hour, given by RESTORE ... IDLETIME) interleaved with hot ones, so
/// that every sample sees both kinds; squeezing out 25 keys must take cold ones.
async fn restore_and_check(c: &mut RawConn) {
    c.call(&["SET", "proto", "some value of moderate length"])
        .await;
    let Frame::Bulk(payload) = c.frame(&["DUMP", "proto"]).await else {
        panic!("DUMP");
    };
    c.call(&["DEL", "proto"]).await;
    c.call(&["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"])
        .await;
    c.call(&["CONFIG", "SET", "maxmemory-samples", "10"]).await;
    for i in 0..50 {
        for (key, idle) in [(format!("cold{i}"), "3600"), (format!("hot{i}"), "0")] {
            let argv: Vec<&[u8]> = vec![
                b"RESTORE",
                key.as_bytes(),
                b"0",
                &payload,
                b"IDLETIME",
                idle.as_bytes(),
            ];
            let mut buf = bytes::BytesMut::new();
            rediscover::resp::encode_command(&mut buf, &argv);
            c.send_raw(&buf).await;
            assert_eq!(c.read_raw().await, b"+OK\r\n");
        }
    }
    let idle = int(c, &["OBJECT", "IDLETIME", "cold7"]).await;
    assert!((3600..=3601).contains(&idle), "{idle}");
    assert_eq!(int(c, &["OBJECT", "IDLETIME", "hot7"]).await, 0);
    let per_key = int(c, &["MEMORY", "USAGE", "hot0"]).await;
    squeeze(c, per_key * 25).await;
    let evicted = info_int(c, "evicted_keys").await;
    assert!(evicted >= 25, "{evicted}");
    let mut hot = 0;
    let mut cold = 0;
    for i in 0..50 {
        hot += int(c, &["EXISTS", &format!("hot{i}")]).await;
        cold += int(c, &["EXISTS", &format!("cold{i}")]).await;
    }
    assert_eq!(hot + cold, 100 - evicted);
    assert!(hot >= 47, "hot keys kept: {hot}, cold kept: {cold}");
    // Writes keep working: each one evicts what it needs.
    for i in 0..20 {
        assert_eq!(c.call(&["SET", &format!("new{i}"), "x"]).await, b"+OK\r\n");
    }
    assert!(info_int(c, "used_memory").await <= info_int(c, "maxmemory").await);
}

#[tokio::test]
async fn volatile_ttl_evicts_the_nearest_expiry_and_only_volatile_keys() {
    let (_server, mut c) = start().await;
    c.call(&["CONFIG", "SET", "maxmemory-policy", "volatile-ttl"])
        .await;
    c.call(&["CONFIG", "SET", "maxmemory-samples", "10"]).await;
    for i in 0..40 {
        c.call(&["SET", &format!("keep{i}"), "value"]).await;
        let ttl = (1000 + i).to_string();
        c.call(&["SET", &format!("ttl{i}"), "value", "EX", &ttl])
            .await;
    }
    let per_key = int(&mut c, &["MEMORY", "USAGE", "ttl0"]).await;
    squeeze(&mut c, per_key * 10).await;
    let evicted = info_int(&mut c, "evicted_keys").await;
    assert!(evicted >= 5, "{evicted}");
    let mut gone = Vec::new();
    for i in 0..40 {
        assert_eq!(int(&mut c, &["EXISTS", &format!("keep{i}")]).await, 1);
        if int(&mut c, &["EXISTS", &format!("ttl{i}")]).await == 0 {
            gone.push(i);
        }
    }
    let mean = gone.iter().sum::<i64>() as f64 / gone.len() as f64;
    assert!(mean < 19.5, "evicted {gone:?}");
    // Once no key has a TTL, nothing can be evicted: OOM.
    c.call(&["CONFIG", "SET", "maxmemory", "1"]).await;
    assert_eq!(c.call(&["SET", "x", "y"]).await, OOM);
    assert_eq!(info_int(&mut c, "expired_keys").await, 0);
    assert_eq!(c.call(&["DBSIZE"]).await, b":40\r\n");
}

#[tokio::test]
async fn every_policy_gets_back_under_the_limit() {
    for policy in [
        "allkeys-lru",
        "allkeys-lfu",
        "allkeys-random",
        "volatile-lru",
        "volatile-lfu",
        "volatile-random",
        "volatile-ttl",
    ] {
        let (_server, mut c) = start().await;
        c.call(&["CONFIG", "SET", "maxmemory-policy", policy]).await;
        for i in 0..100 {
            c.call(&["SET", &format!("k{i}"), "v", "EX", "1000"]).await;
        }
        squeeze(&mut c, 2000).await;
        let evicted = info_int(&mut c, "evicted_keys").await;
        assert!(evicted > 0, "{policy}");
        assert_eq!(int(&mut c, &["DBSIZE"]).await, 100 - evicted, "{policy}");
        assert!(
            info_int(&mut c, "used_memory").await <= info_int(&mut c, "maxmemory").await,
            "{policy}"
        );
        assert_eq!(c.call(&["SET", "more", "v"]).await, b"+OK\r\n", "{policy}");
    }
}

#[tokio::test]
async fn lfu_counters_grow_logarithmically_and_object_errors_follow_the_policy() {
    let (_server, mut c) = start().await;
    c.call(&["SET", "k", "v"]).await;
    assert_eq!(
        c.call(&["OBJECT", "FREQ", "k"]).await,
        b"-ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.\r\n"
    );
    c.call(&["CONFIG", "SET", "maxmemory-policy", "allkeys-lfu"])
        .await;
    assert_eq!(
        c.call(&["OBJECT", "IDLETIME", "k"]).await,
        b"-ERR An LRU maxmemory policy is not selected, access time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.\r\n"
    );
    c.call(&["SET", "fresh", "v"]).await;
    assert_eq!(c.call(&["OBJECT", "FREQ", "fresh"]).await, b":5\r\n");
    // OBJECT and EXISTS do not count as accesses.
    c.call(&["EXISTS", "fresh"]).await;
    assert_eq!(c.call(&["OBJECT", "FREQ", "fresh"]).await, b":5\r\n");
    // The first hits always count (the counter is near LFU_INIT_VAL), later ones less.
    c.call(&["GET", "fresh"]).await;
    assert_eq!(c.call(&["OBJECT", "FREQ", "fresh"]).await, b":6\r\n");
    for _ in 0..200 {
        c.call(&["GET", "fresh"]).await;
    }
    let f = int(&mut c, &["OBJECT", "FREQ", "fresh"]).await;
    assert!((8..=20).contains(&f), "{f}");
    // A higher log factor slows the growth down.
    c.call(&["CONFIG", "SET", "lfu-log-factor", "0"]).await;
    c.call(&["SET", "fast", "v"]).await;
    for _ in 0..50 {
        c.call(&["GET", "fast"]).await;
    }
    assert_eq!(c.call(&["OBJECT", "FREQ", "fast"]).await, b":55\r\n");
    // An overwrite keeps the counter (dbSetValue under LFU), after counting the lookup.
    c.call(&["SET", "fast", "w"]).await;
    assert_eq!(c.call(&["OBJECT", "FREQ", "fast"]).await, b":56\r\n");
    assert_eq!(c.call(&["OBJECT", "FREQ", "missing"]).await, b"$-1\r\n");
}

#[tokio::test]
async fn lru_clock_follows_reads_not_exists_or_type() {
    let (_server, mut c) = start().await;
    c.call(&["SET", "k", "v"]).await;
    assert_eq!(c.call(&["OBJECT", "IDLETIME", "k"]).await, b":0\r\n");
    let Frame::Bulk(payload) = c.frame(&["DUMP", "k"]).await else {
        panic!("DUMP");
    };
    let argv: Vec<&[u8]> = vec![b"RESTORE", b"old", b"0", &payload, b"IDLETIME", b"500"];
    let mut buf = bytes::BytesMut::new();
    rediscover::resp::encode_command(&mut buf, &argv);
    c.send_raw(&buf).await;
    assert_eq!(c.read_raw().await, b"+OK\r\n");
    for cmd in ["EXISTS", "TYPE"] {
        c.call(&[cmd, "old"]).await;
        let idle = int(&mut c, &["OBJECT", "IDLETIME", "old"]).await;
        assert!((500..=501).contains(&idle), "{cmd}: {idle}");
    }
    c.call(&["TOUCH", "old"]).await;
    assert_eq!(c.call(&["OBJECT", "IDLETIME", "old"]).await, b":0\r\n");
}

#[tokio::test]
async fn a_master_replicates_evictions_as_del_and_a_replica_does_not_evict() {
    let master = TestServer::start().await.unwrap();
    let replica = TestServer::builder()
        .replica_of(master.addr())
        .start()
        .await
        .unwrap();
    let set = ReplicationSet {
        master,
        replicas: vec![replica],
    };
    set.wait_in_sync(DEADLINE).await.unwrap();
    let mut m = connect(&set.master).await;
    let mut r = connect(&set.replicas[0]).await;
    // The replica ignores its own maxmemory (replica-ignore-maxmemory yes).
    r.call(&["CONFIG", "SET", "maxmemory", "1"]).await;
    r.call(&["CONFIG", "SET", "maxmemory-policy", "allkeys-random"])
        .await;
    m.call(&["CONFIG", "SET", "maxmemory-policy", "allkeys-random"])
        .await;
    for i in 0..100 {
        m.call(&["SET", &format!("k{i}"), "v"]).await;
    }
    set.wait_in_sync(DEADLINE).await.unwrap();
    assert_eq!(int(&mut r, &["DBSIZE"]).await, 100);
    squeeze(&mut m, 1500).await;
    let kept = int(&mut m, &["DBSIZE"]).await;
    assert!(kept < 100);
    set.wait_in_sync(DEADLINE).await.unwrap();
    let replica = &set.replicas[0];
    let synced = poll_until(DEADLINE, || {
        let n = replica.node().lock().dbs[0].len() as i64;
        if n == kept {
            Ok(())
        } else {
            Err(format!("{n} keys"))
        }
    })
    .await;
    assert!(synced.is_ok(), "the replica did not follow the evictions");
    assert_eq!(info_int(&mut r, "evicted_keys").await, 0);
    let mut on_master = HashSet::new();
    for i in 0..100 {
        if int(&mut m, &["EXISTS", &format!("k{i}")]).await == 1 {
            on_master.insert(i);
        }
    }
    for i in 0..100 {
        let there = int(&mut r, &["EXISTS", &format!("k{i}")]).await == 1;
        assert_eq!(there, on_master.contains(&i), "k{i}");
    }
}
