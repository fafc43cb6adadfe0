//! EVAL / EVALSHA / SCRIPT: replies recorded from Redis 7.0.15 (byte-exact), the same cases
//! against a real Redis when `REDISCOVER_REAL_REDIS=host:port` is set, and scenarios (a lock
//! helper, read-only scripts, replicas).

mod common;
#[path = "scripting/goldens.rs"]
mod goldens;
#[path = "scripting/lib_goldens.rs"]
mod lib_goldens;

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

/// The bundled `struct` library and `cmsgpack.unpack_one`/`unpack_limit`: values, byte
/// order, alignment and every error text, recorded from Redis 7.0.15.
#[tokio::test]
async fn library_replies_match_redis_7_0_15() {
    let (_server, mut c) = start().await;
    for (i, (argv, want)) in lib_goldens::CASES.iter().enumerate() {
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
    for (i, (argv, _)) in goldens::CASES.iter().chain(lib_goldens::CASES).enumerate() {
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

/// Past busy-reply-threshold other clients get -BUSY at once, SCRIPT KILL stops a script that
/// wrote nothing, FUNCTION KILL is refused for an EVAL, and the server goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn busy_script_and_script_kill() {
    let (server, mut c) = start().await;
    assert_eq!(
        c.call(&["CONFIG", "SET", "busy-reply-threshold", "50"])
            .await,
        b"+OK\r\n"
    );
    let mut runner = connect(&server).await;
    const LOOP: &str = "local i = 0 while true do i = i + 1 end";
    runner.send(&["EVAL", LOOP, "0"]).await;
    // Polls the node, not a connection: a command racing the script for the lock would wait
    // for it like any command that reached the lock first.
    let running = std::time::Duration::from_secs(10);
    assert!(wait_until(running, || async { server.node().script_running() }).await);
    let busy = c.call(&["PING"]).await
        == b"-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n";
    assert!(busy, "no BUSY reply while the script runs");
    assert_eq!(
        c.call(&["FUNCTION", "KILL"]).await,
        b"-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n"
    );
    assert_eq!(c.call(&["SCRIPT", "KILL"]).await, b"+OK\r\n");
    let sha = "3fcf51a9b854b8f66cb8685600b0d7df968f4398";
    assert_eq!(
        show(&runner.read_raw().await),
        show(format!("-ERR Script killed by user with SCRIPT KILL... script: {sha}, on @user_script:1.\r\n").as_bytes())
    );
    assert_eq!(c.call(&["PING"]).await, b"+PONG\r\n");
    assert_eq!(
        c.call(&["SCRIPT", "KILL"]).await,
        b"-NOTBUSY No scripts in execution right now.\r\n"
    );
    // A script that wrote cannot be killed; SHUTDOWN NOSAVE still stops the server.
    assert!(wait_until(running, || async { !server.node().script_running() }).await);
    runner
        .send(&["EVAL", "redis.call('set','x','1') while true do end", "0"])
        .await;
    assert!(wait_until(running, || async { server.node().script_running() }).await);
    let busy = c
        .call(&["SCRIPT", "KILL"])
        .await
        .starts_with(b"-UNKILLABLE Sorry the script already executed write commands");
    assert!(busy, "a script that wrote was not UNKILLABLE");
    c.send(&["SHUTDOWN", "NOSAVE"]).await;
    let stopped = wait_until(std::time::Duration::from_secs(10), || async {
        server.node().is_shutting_down()
    })
    .await;
    assert!(stopped, "SHUTDOWN NOSAVE did not stop a busy server");
}

const BUSY_EVAL: &[u8] =
    b"-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n";

/// A connection made while a script is busy is admitted and served from inside the script, as
/// Redis serves it: `allow_busy` commands run (HELLO, MULTI, WATCH, RESET, SCRIPT KILL), the
/// rest get -BUSY, and a refused EXEC discards its transaction. Replies recorded from Redis
/// 7.0.15.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_connection_during_busy_script() {
    let (server, mut c) = start().await;
    assert_eq!(
        c.call(&["CONFIG", "SET", "busy-reply-threshold", "50"])
            .await,
        b"+OK\r\n"
    );
    c.send(&["EVAL", "local i = 0 while true do i = i + 1 end", "0"])
        .await;
    let running = std::time::Duration::from_secs(10);
    assert!(wait_until(running, || async { server.node().script_running() }).await);
    let mut late = RawConn::connect(server.addr()).await;
    assert_eq!(show(&late.call(&["PING"]).await), show(BUSY_EVAL));
    let hello = late.call(&["HELLO", "3"]).await;
    assert!(
        hello.starts_with(b"%7\r\n$6\r\nserver\r\n"),
        "{}",
        show(&hello)
    );
    assert_eq!(show(&late.call(&["PING"]).await), show(BUSY_EVAL));
    assert_eq!(late.call(&["HELLO", "2"]).await[..4], *b"*14\r");
    assert_eq!(late.call(&["MULTI"]).await, b"+OK\r\n");
    assert_eq!(show(&late.call(&["SET", "a", "b"]).await), show(BUSY_EVAL));
    assert_eq!(
        show(&late.call(&["EXEC"]).await),
        show(b"-EXECABORT Transaction discarded because of: BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n")
    );
    assert_eq!(
        late.call(&["DISCARD"]).await,
        b"-ERR DISCARD without MULTI\r\n"
    );
    assert_eq!(late.call(&["WATCH", "x"]).await, b"+OK\r\n");
    assert_eq!(late.call(&["UNWATCH"]).await, b"+OK\r\n");
    for argv in [
        &["FUNCTION", "STATS"][..],
        &["SHUTDOWN"],
        &["SHUTDOWN", "SAVE"],
        &["CLIENT", "ID"],
    ] {
        assert_eq!(show(&late.call(argv).await), show(BUSY_EVAL), "{argv:?}");
    }
    assert_eq!(late.call(&["RESET"]).await, b"+RESET\r\n");
    // Another connection made now is admitted as well.
    let mut later = RawConn::connect(server.addr()).await;
    assert_eq!(show(&later.call(&["GET", "a"]).await), show(BUSY_EVAL));
    assert_eq!(later.call(&["SCRIPT", "KILL"]).await, b"+OK\r\n");
    assert_eq!(
        show(&c.read_raw().await),
        show(b"-ERR Script killed by user with SCRIPT KILL... script: 3fcf51a9b854b8f66cb8685600b0d7df968f4398, on @user_script:1.\r\n")
    );
    assert_eq!(late.call(&["PING"]).await, b"+PONG\r\n");
    assert_eq!(later.call(&["PING"]).await, b"+PONG\r\n");
    assert_eq!(c.call(&["PING"]).await, b"+PONG\r\n");
}

/// A busy function: FUNCTION STATS shows it (its name, the command, how long it has run),
/// SCRIPT KILL is refused, FUNCTION KILL stops it. Replies recorded from Redis 7.0.15.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn busy_function_stats_and_kill() {
    let (server, mut c) = start().await;
    assert_eq!(
        c.call(&["CONFIG", "SET", "busy-reply-threshold", "50"])
            .await,
        b"+OK\r\n"
    );
    let lib = "#!lua name=spinlib\nredis.register_function('spin', function(k, a) local i = 0 while true do i = i + 1 end end)";
    assert_eq!(
        c.call(&["FUNCTION", "LOAD", lib]).await,
        b"$7\r\nspinlib\r\n"
    );
    c.send(&["fcall", "spin", "1", "k", "x"]).await;
    let running = std::time::Duration::from_secs(10);
    assert!(wait_until(running, || async { server.node().script_running() }).await);
    let busy: &[u8] =
        b"-BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.\r\n";
    let mut other = RawConn::connect(server.addr()).await;
    assert_eq!(show(&other.call(&["PING"]).await), show(busy));
    assert_eq!(show(&other.call(&["SCRIPT", "KILL"]).await), show(busy));
    let stats = other.call(&["FUNCTION", "STATS"]).await;
    let head: &[u8] = b"*4\r\n$14\r\nrunning_script\r\n*6\r\n$4\r\nname\r\n$4\r\nspin\r\n$7\r\ncommand\r\n*5\r\n$5\r\nfcall\r\n$4\r\nspin\r\n$1\r\n1\r\n$1\r\nk\r\n$1\r\nx\r\n$11\r\nduration_ms\r\n:";
    let tail: &[u8] = b"\r\n$7\r\nengines\r\n*2\r\n$3\r\nLUA\r\n*4\r\n$15\r\nlibraries_count\r\n:1\r\n$15\r\nfunctions_count\r\n:1\r\n";
    assert!(
        stats.starts_with(head) && stats.ends_with(tail),
        "{}",
        show(&stats)
    );
    let ms: u64 = std::str::from_utf8(&stats[head.len()..stats.len() - tail.len()])
        .unwrap()
        .parse()
        .unwrap();
    assert!(ms >= 50, "duration_ms {ms} below the busy threshold");
    assert_eq!(
        other.call(&["SHUTDOWN", "ABORT"]).await,
        b"-ERR No shutdown in progress.\r\n"
    );
    assert_eq!(other.call(&["FUNCTION", "KILL"]).await, b"+OK\r\n");
    assert_eq!(
        show(&c.read_raw().await),
        show(b"-ERR Script killed by user with SCRIPT KILL... script: spin, on @user_function:2.\r\n")
    );
    assert_eq!(other.call(&["PING"]).await, b"+PONG\r\n");
}

/// Scripts replicate as their effects, byte for byte as Redis 7.0.15 streams them (captured
/// with a raw replica): MULTI/EXEC around more than one write, nothing for SCRIPT LOAD/FLUSH or
/// a read-only script, `redis.set_repl` honoured, SELECT when a script switches databases.
#[tokio::test]
async fn effects_stream_matches_redis() {
    let (server, mut c) = start().await;
    let mut replica = connect(&server).await;
    assert_eq!(
        replica
            .call(&["REPLCONF", "capa", "eof", "capa", "psync2"])
            .await,
        b"+OK\r\n"
    );
    replica.send(&["PSYNC", "?", "-1"]).await;
    // Skip the snapshot: `+FULLRESYNC ...`, `$EOF:<mark>`, the RDB, the mark again.
    let mut got = Vec::new();
    let mark = loop {
        got.extend(replica.read_unframed().await);
        if let Some(i) = got.windows(5).position(|w| w == b"$EOF:") {
            if got.len() >= i + 47 {
                break got[i + 5..i + 45].to_vec();
            }
        }
    };
    loop {
        let first = got.windows(40).position(|w| w == mark).unwrap();
        if let Some(second) = got[first + 40..].windows(40).position(|w| w == mark) {
            got.drain(..first + 40 + second + 40);
            break;
        }
        got.extend(replica.read_unframed().await);
    }
    replica.send(&["REPLCONF", "ACK", "0"]).await;
    for argv in [
        &["SELECT", "0"][..],
        &["EVAL", "redis.call('set','a','1') redis.call('incr','a') return 1", "0"],
        &["EVAL", "redis.call('set','b','1') return 1", "0"],
        &["SCRIPT", "LOAD", "return 7"],
        &["SCRIPT", "FLUSH"],
        &["EVAL", "redis.set_repl(redis.REPL_NONE) redis.call('set','c','1') redis.set_repl(redis.REPL_ALL) redis.call('set','d','1') return 1", "0"],
        &["EVAL", "return redis.call('get','a')", "0"],
        &["EVAL", "redis.call('select',3) redis.call('set','e','1') return 1", "0"],
        &["FUNCTION", "LOAD", "#!lua name=rl\nredis.register_function('rf', function(k, a) redis.call('set', k[1], a[1]) redis.call('set', k[2], a[1]) return 1 end)"],
        &["FCALL", "rf", "2", "x", "y", "v"],
        &["FUNCTION", "DELETE", "rl"],
        &["FUNCTION", "FLUSH"],
    ] {
        let reply = c.call(argv).await;
        assert!(!reply.starts_with(b"-"), "{argv:?}: {}", show(&reply));
    }
    // Captured from Redis 7.0.15 (a raw replica after PSYNC ? -1, then the commands above).
    let want: &[u8] = b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*1\r\n$5\r\nMULTI\r\n*3\r\n$3\r\nset\r\n$1\r\na\r\n$1\r\n1\r\n*2\r\n$4\r\nincr\r\n$1\r\na\r\n*1\r\n$4\r\nEXEC\r\n*3\r\n$3\r\nset\r\n$1\r\nb\r\n$1\r\n1\r\n*3\r\n$3\r\nset\r\n$1\r\nd\r\n$1\r\n1\r\n*2\r\n$6\r\nSELECT\r\n$1\r\n3\r\n*3\r\n$3\r\nset\r\n$1\r\ne\r\n$1\r\n1\r\n*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$8\r\nFUNCTION\r\n$4\r\nLOAD\r\n$132\r\n#!lua name=rl\nredis.register_function('rf', function(k, a) redis.call('set', k[1], a[1]) redis.call('set', k[2], a[1]) return 1 end)\r\n*1\r\n$5\r\nMULTI\r\n*3\r\n$3\r\nset\r\n$1\r\nx\r\n$1\r\nv\r\n*3\r\n$3\r\nset\r\n$1\r\ny\r\n$1\r\nv\r\n*1\r\n$4\r\nEXEC\r\n*3\r\n$8\r\nFUNCTION\r\n$6\r\nDELETE\r\n$2\r\nrl\r\n*2\r\n$8\r\nFUNCTION\r\n$5\r\nFLUSH\r\n";
    while got.len() < want.len() {
        got.extend(replica.read_unframed().await);
    }
    // PINGs the master sends meanwhile are not part of the comparison.
    let ping: &[u8] = b"*1\r\n$4\r\nPING\r\n";
    while let Some(i) = got.windows(ping.len()).position(|w| w == ping) {
        got.drain(i..i + ping.len());
        while got.len() < want.len() {
            got.extend(replica.read_unframed().await);
        }
    }
    assert_eq!(show(&got), show(want));
}
