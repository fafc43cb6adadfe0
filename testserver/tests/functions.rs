//! FUNCTION and FCALL: replies recorded from Redis 7.0.15 (byte-exact), the same cases against
//! a real Redis when `REDISCOVER_REAL_REDIS=host:port` is set, DUMP/RESTORE policies, libraries
//! kept across DEBUG RELOAD and sent to replicas.

mod common;
#[path = "functions/goldens.rs"]
mod goldens;

use std::time::Duration;

use bytes::BytesMut;
use common::*;
use rediscover::resp::encode_command;

/// Sends a binary-safe command; the raw reply.
async fn call_bytes(c: &mut RawConn, argv: &[&[u8]]) -> Vec<u8> {
    let mut out = BytesMut::new();
    encode_command(&mut out, argv);
    c.send_raw(&out).await;
    c.read_raw().await
}

fn show(b: &[u8]) -> String {
    b.escape_ascii().to_string()
}

fn bulk(reply: &[u8]) -> Vec<u8> {
    let nl = reply.iter().position(|&b| b == b'\n').unwrap();
    let n: usize = std::str::from_utf8(&reply[1..nl - 1])
        .unwrap()
        .parse()
        .unwrap();
    reply[nl + 1..nl + 1 + n].to_vec()
}

#[tokio::test]
async fn replies_match_redis_7_0_15() {
    let (_server, mut c) = start().await;
    for (i, (argv, want)) in goldens::CASES.iter().enumerate() {
        let got = c.call(argv).await;
        assert_eq!(show(&got), show(want), "case {i}: {argv:?}");
    }
}

/// The golden cases against a real Redis (its functions are flushed), compared with ours.
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

const LIB_A: &str = "#!lua name=liba\nredis.register_function('fa', function(k, a) return 'a' end)";
const LIB_A2: &str =
    "#!lua name=liba\nredis.register_function('fa2', function(k, a) return 'a2' end)";
const LIB_B: &str = "#!lua name=libb\nredis.register_function('fb', function(k, a) return 'b' end)";
const LIB_C: &str = "#!lua name=libc\nredis.register_function('fa', function(k, a) return 'c' end)";

#[tokio::test]
async fn dump_and_restore_policies() {
    let (_server, mut c) = start().await;
    assert_eq!(
        c.call(&["FUNCTION", "LOAD", LIB_A]).await,
        b"$4\r\nliba\r\n"
    );
    let dump_a = bulk(&c.call(&["FUNCTION", "DUMP"]).await);
    assert_eq!(dump_a[0], 0xF5, "RDB_OPCODE_FUNCTION2");
    // A payload's own checks.
    assert_eq!(
        c.call(&["FUNCTION", "RESTORE", "garbage"]).await,
        b"-ERR DUMP payload version or checksum are wrong\r\n"
    );
    // APPEND (the default) refuses an existing library, REPLACE replaces it.
    assert_eq!(
        call_bytes(&mut c, &[b"FUNCTION", b"RESTORE", &dump_a]).await,
        b"-ERR Library liba already exists\r\n"
    );
    assert_eq!(
        c.call(&["FUNCTION", "LOAD", "REPLACE", LIB_A2]).await,
        b"$4\r\nliba\r\n"
    );
    assert_eq!(c.call(&["FCALL", "fa2", "0"]).await, b"$2\r\na2\r\n");
    assert_eq!(
        call_bytes(&mut c, &[b"FUNCTION", b"RESTORE", &dump_a, b"REPLACE"]).await,
        b"+OK\r\n"
    );
    assert_eq!(c.call(&["FCALL", "fa", "0"]).await, b"$1\r\na\r\n");
    assert_eq!(
        c.call(&["FCALL", "fa2", "0"]).await,
        b"-ERR Function not found\r\n"
    );
    // A function name taken by another library aborts the whole restore.
    assert_eq!(c.call(&["FUNCTION", "FLUSH"]).await, b"+OK\r\n");
    assert_eq!(
        c.call(&["FUNCTION", "LOAD", LIB_C]).await,
        b"$4\r\nlibc\r\n"
    );
    assert_eq!(
        call_bytes(&mut c, &[b"FUNCTION", b"RESTORE", &dump_a]).await,
        b"-ERR Function fa already exists\r\n"
    );
    // FLUSH drops what was there.
    assert_eq!(
        c.call(&["FUNCTION", "LOAD", LIB_B]).await,
        b"$4\r\nlibb\r\n"
    );
    assert_eq!(
        call_bytes(&mut c, &[b"FUNCTION", b"RESTORE", &dump_a, b"FLUSH"]).await,
        b"+OK\r\n"
    );
    assert_eq!(c.call(&["FCALL", "fa", "0"]).await, b"$1\r\na\r\n");
    assert_eq!(
        c.call(&["FCALL", "fb", "0"]).await,
        b"-ERR Function not found\r\n"
    );
    assert_eq!(
        call_bytes(&mut c, &[b"FUNCTION", b"RESTORE", &dump_a, b"MERGE"]).await,
        b"-ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.\r\n"
    );
}

/// Libraries are part of the RDB: DEBUG RELOAD (save, then load) keeps them.
#[tokio::test]
async fn libraries_survive_a_reload() {
    let config = rediscover_testserver::config::Config {
        enable_debug_command: "yes".into(),
        ..Default::default()
    };
    let server = TestServer::builder().config(config).start().await.unwrap();
    let mut c = connect(&server).await;
    assert_eq!(
        c.call(&["FUNCTION", "LOAD", LIB_A]).await,
        b"$4\r\nliba\r\n"
    );
    assert_eq!(
        c.call(&["FUNCTION", "LOAD", LIB_B]).await,
        b"$4\r\nlibb\r\n"
    );
    assert_eq!(c.call(&["DEBUG", "RELOAD"]).await, b"+OK\r\n");
    assert_eq!(c.call(&["FCALL", "fa", "0"]).await, b"$1\r\na\r\n");
    assert_eq!(c.call(&["FCALL", "fb", "0"]).await, b"$1\r\nb\r\n");
}

/// A replica gets the libraries in its full sync and FUNCTION LOAD/DELETE afterwards, and
/// FCALL's effects (not the FCALL).
#[tokio::test]
async fn replicas_get_libraries_and_effects() {
    let master = TestServer::start().await.unwrap();
    let replica = TestServer::start().await.unwrap();
    let mut m = connect(&master).await;
    let mut r = connect(&replica).await;
    assert_eq!(
        m.call(&["FUNCTION", "LOAD", LIB_A]).await,
        b"$4\r\nliba\r\n"
    );
    let writer = "#!lua name=w\nredis.register_function('two', function(k, a) redis.call('set', k[1], a[1]) return redis.call('incr', k[2]) end)";
    assert_eq!(m.call(&["FUNCTION", "LOAD", writer]).await, b"$1\r\nw\r\n");
    let port = master.addr().port().to_string();
    assert_eq!(r.call(&["REPLICAOF", "127.0.0.1", &port]).await, b"+OK\r\n");
    let synced = wait_until(Duration::from_secs(10), || {
        let replica = &replica;
        async move {
            let mut c = connect(replica).await;
            let list = c.call(&["FUNCTION", "LIST", "LIBRARYNAME", "liba"]).await;
            list.windows(4).any(|w| w == b"liba")
        }
    })
    .await;
    assert!(synced, "the full sync did not bring the libraries");
    assert_eq!(
        m.call(&["FUNCTION", "LOAD", LIB_B]).await,
        b"$4\r\nlibb\r\n"
    );
    assert_eq!(
        m.call(&["FCALL", "two", "2", "k", "n", "v"]).await,
        b":1\r\n"
    );
    assert_eq!(m.call(&["FUNCTION", "DELETE", "liba"]).await, b"+OK\r\n");
    let caught_up = wait_until(Duration::from_secs(10), || {
        let replica = &replica;
        async move {
            let mut c = connect(replica).await;
            c.call(&["GET", "k"]).await == b"$1\r\nv\r\n"
                && c.call(&["FUNCTION", "LIST", "LIBRARYNAME", "lib*"]).await
                    == c.call(&["FUNCTION", "LIST", "LIBRARYNAME", "libb"]).await
                && c.call(&["FUNCTION", "LIST", "LIBRARYNAME", "libb"]).await != b"*0\r\n"
        }
    })
    .await;
    assert!(caught_up, "the replica did not follow");
    assert_eq!(r.call(&["GET", "n"]).await, b"$1\r\n1\r\n");
    // A read-only replica refuses a function that may write (as its gate sees it).
    assert_eq!(
        show(&r.call(&["FCALL", "two", "2", "k", "n", "v"]).await),
        show(b"-READONLY You can't write against a read only replica.\r\n")
    );
}
