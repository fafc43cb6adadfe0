//! EVAL / EVALSHA / SCRIPT: replies recorded from Redis 7.0.15 (byte-exact), the same cases
//! against a real Redis when `REDISCOVER_REAL_REDIS=host:port` is set, and scenarios (a lock
//! helper, read-only scripts, replicas).

mod common;
#[path = "scripting/goldens.rs"]
mod goldens;

use common::*;

fn show(b: &[u8]) -> String {
    b.escape_ascii().to_string()
}

#[tokio::test]
async fn replies_match_redis_7_0_15() {
    let (_server, mut c) = start().await;
    for (i, (argv, want)) in goldens::CASES.iter().enumerate() {
        let got = c.call(argv).await;
        assert_eq!(show(&got), show(want), "case {i}: {argv:?}");
    }
}

/// The golden cases against a real Redis (its database 0 is flushed), compared with ours.
#[tokio::test]
async fn replies_match_real_redis() {
    let Ok(target) = std::env::var("REDISCOVER_REAL_REDIS") else {
        eprintln!("real-Redis comparison SKIPPED: set REDISCOVER_REAL_REDIS=host:port");
        return;
    };
    let addr = std::net::ToSocketAddrs::to_socket_addrs(&target)
        .ok()
        .and_then(|mut a| a.next())
        .unwrap_or_else(|| panic!("REDISCOVER_REAL_REDIS={target:?} is not host:port"));
    let mut real = RawConn::connect(addr).await;
    let (_server, mut ours) = start().await;
    for (i, (argv, _)) in goldens::CASES.iter().enumerate() {
        let want = real.call(argv).await;
        let got = ours.call(argv).await;
        assert_eq!(show(&got), show(&want), "case {i}: {argv:?}");
    }
}

/// The lock helpers of client libraries (redis-rs, redlock, Redisson style): SET NX PX to
/// take, a compare-and-delete script to release, a compare-and-pexpire script to extend.
#[tokio::test]
async fn lock_helper_scripts() {
    let (_server, mut c) = start().await;
    const RELEASE: &str = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";
    const EXTEND: &str = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end";
    assert_eq!(
        c.call(&["SET", "lock", "tok1", "NX", "PX", "30000"]).await,
        b"+OK\r\n"
    );
    assert_eq!(
        c.call(&["SET", "lock", "tok2", "NX", "PX", "30000"]).await,
        b"$-1\r\n"
    );
    let sha = c.call(&["SCRIPT", "LOAD", RELEASE]).await;
    let sha = String::from_utf8(sha[sha.len() - 42..sha.len() - 2].to_vec()).unwrap();
    assert_eq!(
        c.call(&["EVAL", EXTEND, "1", "lock", "tok1", "60000"])
            .await,
        b":1\r\n"
    );
    assert_eq!(
        c.call(&["EVAL", EXTEND, "1", "lock", "tok2", "60000"])
            .await,
        b":0\r\n"
    );
    assert_eq!(
        c.call(&["EVALSHA", &sha, "1", "lock", "tok2"]).await,
        b":0\r\n"
    );
    assert_eq!(
        c.call(&["EVALSHA", &sha, "1", "lock", "tok1"]).await,
        b":1\r\n"
    );
    assert_eq!(c.call(&["EXISTS", "lock"]).await, b":0\r\n");
    assert_eq!(
        c.call(&["SET", "lock", "tok2", "NX", "PX", "30000"]).await,
        b"+OK\r\n"
    );
}

/// A script's errors leave the connection and the server usable; deep and huge tables come
/// back whole or as Redis's error.
#[tokio::test]
async fn bad_scripts_leave_the_server_up() {
    let (_server, mut c) = start().await;
    let huge = c
        .call(&[
            "EVAL",
            "local t = {} for i = 1, 100000 do t[i] = i end return t",
            "0",
        ])
        .await;
    assert!(huge.starts_with(b"*100000\r\n:1\r\n"));
    let deep = c
        .call(&[
            "EVAL",
            "local t = {} local c = t for i = 1, 100 do c[1] = {} c = c[1] end return t",
            "0",
        ])
        .await;
    assert!(deep.starts_with(b"*1\r\n*1\r\n"));
    let err = c.call(&["EVAL", "return nil + 1", "0"]).await;
    assert!(
        err.starts_with(
            b"-ERR user_script:1: attempt to perform arithmetic on a nil value script:"
        ),
        "{}",
        show(&err)
    );
    assert_eq!(c.call(&["PING"]).await, b"+PONG\r\n");
}

/// A read-only replica refuses a script's writes with Redis's texts.
#[tokio::test]
async fn scripts_on_a_read_only_replica() {
    let master = TestServer::start().await.unwrap();
    let replica = TestServer::start().await.unwrap();
    let mut r = connect(&replica).await;
    let port = master.addr().port().to_string();
    assert_eq!(r.call(&["REPLICAOF", "127.0.0.1", &port]).await, b"+OK\r\n");
    assert_eq!(
        show(&r.call(&["EVAL", "return redis.call('set','a','b')", "0"]).await),
        show(b"-READONLY You can't write against a read only replica. script: ff967d0ae0e68b4f9e360fa91c54598bc25ad9b6, on @user_script:1.\r\n")
    );
    assert_eq!(
        show(&r.call(&["EVAL", "#!lua\nreturn 1", "0"]).await),
        show(b"-READONLY You can't write against a read only replica.\r\n")
    );
    assert_eq!(
        r.call(&[
            "EVAL",
            "#!lua flags=no-writes\nreturn redis.call('get','a')",
            "0"
        ])
        .await,
        b"$-1\r\n"
    );
}

/// A self-referencing table nests exactly as deep as in Redis 7.0.15 (7995 levels) before the
/// error element.
#[tokio::test]
async fn cyclic_table_depth_matches_redis() {
    let (_server, mut c) = start().await;
    c.send(&["EVAL", "local t = {} t[1] = t return t", "0"])
        .await;
    // Deeper than the test decoder nests: read raw bytes up to the error element.
    let mut reply = Vec::new();
    while !reply.ends_with(b"limit\r\n") {
        reply.extend(c.read_unframed().await);
    }
    let levels = reply.windows(4).filter(|w| w == b"*1\r\n").count();
    assert_eq!(levels, 7995);
    assert!(reply.ends_with(b"-ERR reached lua stack limit\r\n"));
    assert_eq!(c.call(&["PING"]).await, b"+PONG\r\n");
}
