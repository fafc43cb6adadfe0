//! String commands, byte for byte as Redis 7.0.15 answers them (expected replies were recorded
//! from a real Redis).

mod common;

use std::time::Duration;

use common::{connect, hello3, put_list, start, RawConn, TestServer};

/// Polls (on a fresh connection each time) until `key` no longer exists.
async fn wait_gone(server: &TestServer, key: &str) -> bool {
    let addr = server.addr();
    common::wait_until(Duration::from_secs(5), || async move {
        RawConn::connect(addr).await.call(&["EXISTS", key]).await == b":0\r\n"
    })
    .await
}

#[tokio::test]
async fn expiring_strings_vanish() {
    let (server, mut c) = start().await;
    assert_reply!(c, ["SET", "a", "1", "PX", "5"], b"+OK\r\n");
    assert_reply!(c, ["PSETEX", "b", "5", "x"], b"+OK\r\n");
    assert_reply!(c, ["SET", "c", "1"], b"+OK\r\n");
    assert_reply!(c, ["GETEX", "c", "PX", "5"], b"$1\r\n1\r\n");
    assert!(wait_gone(&server, "a").await);
    assert!(wait_gone(&server, "b").await);
    assert!(wait_gone(&server, "c").await);
    assert_reply!(c, ["GET", "a"], b"$-1\r\n");
    assert_reply!(c, ["INCR", "b"], b":1\r\n");
    assert_reply!(c, ["APPEND", "c", "z"], b":1\r\n");
}

#[tokio::test]
async fn watch_sees_real_writes_only() {
    let (server, mut c) = start().await;
    let mut other = connect(&server).await;
    assert_reply!(c, ["SET", "k", "v"], b"+OK\r\n");

    // A SET NX that does nothing is not a change.
    assert_reply!(c, ["WATCH", "k"], b"+OK\r\n");
    assert_reply!(other, ["SET", "k", "x", "NX"], b"$-1\r\n");
    assert_reply!(other, ["SETNX", "k", "x"], b":0\r\n");
    assert_reply!(other, ["SET", "missing", "x", "XX"], b"$-1\r\n");
    assert_reply!(other, ["SETRANGE", "k", "0", ""], b":1\r\n");
    assert_reply!(other, ["GETEX", "k", "PERSIST"], b"$1\r\nv\r\n");
    assert_reply!(c, ["MULTI"], b"+OK\r\n");
    assert_reply!(c, ["GET", "k"], b"+QUEUED\r\n");
    assert_reply!(c, ["EXEC"], b"*1\r\n$1\r\nv\r\n");

    // A SET from another connection is.
    assert_reply!(c, ["WATCH", "k"], b"+OK\r\n");
    assert_reply!(other, ["SET", "k", "x"], b"+OK\r\n");
    assert_reply!(c, ["MULTI"], b"+OK\r\n");
    assert_reply!(c, ["GET", "k"], b"+QUEUED\r\n");
    assert_reply!(c, ["EXEC"], b"*-1\r\n");

    // So are APPEND, INCR and GETDEL.
    for write in [
        &["APPEND", "k", "y"][..],
        &["SET", "n", "1"][..],
        &["INCRBYFLOAT", "n", "1.5"][..],
        &["GETDEL", "k"][..],
    ] {
        let key = write[1];
        assert_reply!(c, ["WATCH", key], b"+OK\r\n");
        other.call(write).await;
        assert_reply!(c, ["MULTI"], b"+OK\r\n");
        assert_reply!(c, ["EXEC"], b"*-1\r\n");
    }
}

#[tokio::test]
async fn resp3_lcs_idx_is_a_map() {
    let (_server, mut c) = start().await;
    hello3(&mut c).await;
    assert_reply!(c, ["MSET", "a", "ohmytext", "b", "mynewtext"], b"+OK\r\n");
    assert_reply!(
        c,
        ["LCS", "a", "b", "IDX", "MINMATCHLEN", "4"],
        b"%2\r\n$7\r\nmatches\r\n*1\r\n*2\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n$3\r\nlen\r\n:6\r\n"
    );
    assert_reply!(c, ["GET", "nope"], b"_\r\n");
}

#[tokio::test]
async fn get_set_basics() {
    let (server, mut c) = start().await;
    assert_reply!(c, ["GET", "k"], b"$-1\r\n");
    assert_reply!(c, ["SET", "k", "hello"], b"+OK\r\n");
    assert_reply!(c, ["GET", "k"], b"$5\r\nhello\r\n");
    assert_reply!(c, ["SET", "k", ""], b"+OK\r\n");
    assert_reply!(c, ["GET", "k"], b"$0\r\n\r\n");
    assert_reply!(c, ["STRLEN", "k"], b":0\r\n");
    assert_reply!(c, ["STRLEN", "missing"], b":0\r\n");
    assert_reply!(c, ["SET", "k", "v", "extra"], b"-ERR syntax error\r\n");
    assert_reply!(c, ["SET", "k", "v", "nx", "xx"], b"-ERR syntax error\r\n");
    assert_reply!(c, ["SET", "k", "v", "xx", "nx"], b"-ERR syntax error\r\n");
    assert_reply!(c, ["SET", "k", "v", "EX"], b"-ERR syntax error\r\n");
    assert_reply!(
        c,
        ["SET", "k", "v", "EX", "10", "KEEPTTL"],
        b"-ERR syntax error\r\n"
    );
    assert_reply!(
        c,
        ["SET", "k", "v", "KEEPTTL", "EX", "10"],
        b"-ERR syntax error\r\n"
    );
    assert_reply!(
        c,
        ["SET", "k", "v", "EX", "10", "PX", "100"],
        b"-ERR syntax error\r\n"
    );
    assert_reply!(c, ["SET", "k", "v", "EX", "10", "EX", "20"], b"+OK\r\n");
    assert_reply!(c, ["TTL", "k"], b":20\r\n");
    assert_reply!(c, ["SET", "k", "v", "PERSIST"], b"-ERR syntax error\r\n");
    assert_reply!(
        c,
        ["SET", "k", "v", "EX", "0"],
        b"-ERR invalid expire time in 'set' command\r\n"
    );
    assert_reply!(
        c,
        ["SET", "k", "v", "EX", "-1"],
        b"-ERR invalid expire time in 'set' command\r\n"
    );
    assert_reply!(
        c,
        ["SET", "k", "v", "PX", "0"],
        b"-ERR invalid expire time in 'set' command\r\n"
    );
    assert_reply!(
        c,
        ["SET", "k", "v", "EXAT", "0"],
        b"-ERR invalid expire time in 'set' command\r\n"
    );
    assert_reply!(
        c,
        ["SET", "k", "v", "EX", "x"],
        b"-ERR value is not an integer or out of range\r\n"
    );
    assert_reply!(
        c,
        ["SET", "k", "v", "EX", "9223372036854775807"],
        b"-ERR invalid expire time in 'set' command\r\n"
    );
    assert_reply!(
        c,
        ["SET", "k", "v", "PX", "9223372036854775807"],
        b"-ERR invalid expire time in 'set' command\r\n"
    );
    assert_reply!(
        c,
        ["SET", "k", "v", "EX", "9223372036854775"],
        b"-ERR invalid expire time in 'set' command\r\n"
    );
    assert_reply!(c, ["GET", "k"], b"$1\r\nv\r\n");
    put_list(&server, "list", &["a"]);
    assert_reply!(
        c,
        ["GET", "list"],
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_reply!(c, ["SET", "list", "v"], b"+OK\r\n");
    assert_reply!(c, ["TYPE", "list"], b"+string\r\n");
    assert_reply!(c, ["GET", "list"], b"$1\r\nv\r\n");
}

#[tokio::test]
async fn set_nx_xx_get() {
    let (server, mut c) = start().await;
    assert_reply!(c, ["SET", "k", "v", "NX"], b"+OK\r\n");
    assert_reply!(c, ["SET", "k", "v2", "NX"], b"$-1\r\n");
    assert_reply!(c, ["GET", "k"], b"$1\r\nv\r\n");
    assert_reply!(c, ["SET", "nk", "v", "XX"], b"$-1\r\n");
    assert_reply!(c, ["EXISTS", "nk"], b":0\r\n");
    assert_reply!(c, ["SET", "k", "v3", "XX"], b"+OK\r\n");
    assert_reply!(c, ["GET", "k"], b"$2\r\nv3\r\n");
    assert_reply!(c, ["SET", "k", "v4", "GET"], b"$2\r\nv3\r\n");
    assert_reply!(c, ["SET", "k", "v5", "nx", "GET"], b"$2\r\nv4\r\n");
    assert_reply!(c, ["GET", "k"], b"$2\r\nv4\r\n");
    assert_reply!(c, ["SET", "nk2", "v", "XX", "GET"], b"$-1\r\n");
    assert_reply!(c, ["EXISTS", "nk2"], b":0\r\n");
    assert_reply!(c, ["SET", "nk3", "v", "NX", "GET"], b"$-1\r\n");
    assert_reply!(c, ["GET", "nk3"], b"$1\r\nv\r\n");
    assert_reply!(c, ["SET", "k", "v6", "GET", "GET"], b"$2\r\nv4\r\n");
    put_list(&server, "list", &["a"]);
    assert_reply!(
        c,
        ["SET", "list", "v", "GET"],
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_reply!(
        c,
        ["SET", "k", "v", "EX", "100", "KEEPTTL"],
        b"-ERR syntax error\r\n"
    );
    assert_reply!(c, ["SET", "k", "v", "KEEPTTL"], b"+OK\r\n");
    assert_reply!(c, ["TTL", "k"], b":-1\r\n");
    assert_reply!(c, ["SET", "k", "v2", "EX", "100"], b"+OK\r\n");
    assert_reply!(c, ["SET", "k", "v3", "KEEPTTL"], b"+OK\r\n");
    assert_reply!(c, ["TTL", "k"], b":100\r\n");
    assert_reply!(c, ["SET", "k", "v4"], b"+OK\r\n");
    assert_reply!(c, ["TTL", "k"], b":-1\r\n");
    assert_reply!(c, ["SET", "k", "v", "EXAT", "4102444800"], b"+OK\r\n");
    assert_reply!(c, ["EXPIRETIME", "k"], b":4102444800\r\n");
    assert_reply!(c, ["SET", "k", "v", "PXAT", "4102444800123"], b"+OK\r\n");
    assert_reply!(c, ["PEXPIRETIME", "k"], b":4102444800123\r\n");
    assert_reply!(c, ["SET", "k", "v", "exat", "1"], b"+OK\r\n");
    assert_reply!(c, ["EXISTS", "k"], b":0\r\n");
}

#[tokio::test]
async fn setnx_setex_psetex() {
    let (_server, mut c) = start().await;
    assert_reply!(c, ["SETNX", "k", "v"], b":1\r\n");
    assert_reply!(c, ["SETNX", "k", "v2"], b":0\r\n");
    assert_reply!(c, ["GET", "k"], b"$1\r\nv\r\n");
    assert_reply!(c, ["SETEX", "k", "100", "v3"], b"+OK\r\n");
    assert_reply!(c, ["GET", "k"], b"$2\r\nv3\r\n");
    assert_reply!(c, ["TTL", "k"], b":100\r\n");
    assert_reply!(
        c,
        ["SETEX", "k", "0", "v"],
        b"-ERR invalid expire time in 'setex' command\r\n"
    );
    assert_reply!(
        c,
        ["SETEX", "k", "-5", "v"],
        b"-ERR invalid expire time in 'setex' command\r\n"
    );
    assert_reply!(
        c,
        ["SETEX", "k", "x", "v"],
        b"-ERR value is not an integer or out of range\r\n"
    );
    assert_reply!(
        c,
        ["PSETEX", "k", "0", "v"],
        b"-ERR invalid expire time in 'psetex' command\r\n"
    );
    assert_reply!(
        c,
        ["PSETEX", "k", "-1", "v"],
        b"-ERR invalid expire time in 'psetex' command\r\n"
    );
    assert_reply!(c, ["PSETEX", "k", "100000", "v4"], b"+OK\r\n");
    assert_reply!(c, ["TTL", "k"], b":100\r\n");
    assert_reply!(c, ["GET", "k"], b"$2\r\nv4\r\n");
    assert_reply!(
        c,
        ["SETEX", "k", "9223372036854775807", "v"],
        b"-ERR invalid expire time in 'setex' command\r\n"
    );
    assert_reply!(
        c,
        ["SETEX", "k", "1", "v", "extra"],
        b"-ERR wrong number of arguments for 'setex' command\r\n"
    );
}

#[tokio::test]
async fn getset_getdel_getex() {
    let (server, mut c) = start().await;
    assert_reply!(c, ["GETSET", "k", "v"], b"$-1\r\n");
    assert_reply!(c, ["GETSET", "k", "v2"], b"$1\r\nv\r\n");
    assert_reply!(c, ["GET", "k"], b"$2\r\nv2\r\n");
    assert_reply!(c, ["SETEX", "t", "100", "v"], b"+OK\r\n");
    assert_reply!(c, ["GETSET", "t", "w"], b"$1\r\nv\r\n");
    assert_reply!(c, ["TTL", "t"], b":-1\r\n");
    assert_reply!(c, ["GETDEL", "k"], b"$2\r\nv2\r\n");
    assert_reply!(c, ["GETDEL", "k"], b"$-1\r\n");
    assert_reply!(c, ["EXISTS", "k"], b":0\r\n");
    put_list(&server, "list", &["a"]);
    assert_reply!(
        c,
        ["GETSET", "list", "v"],
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_reply!(
        c,
        ["GETDEL", "list"],
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_reply!(
        c,
        ["GETEX", "list"],
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_reply!(c, ["GETEX", "missing"], b"$-1\r\n");
    assert_reply!(c, ["GETEX", "missing", "EX", "0"], b"$-1\r\n");
    assert_reply!(c, ["SET", "k", "v"], b"+OK\r\n");
    assert_reply!(c, ["GETEX", "k"], b"$1\r\nv\r\n");
    assert_reply!(c, ["GETEX", "k", "EX", "100"], b"$1\r\nv\r\n");
    assert_reply!(c, ["TTL", "k"], b":100\r\n");
    assert_reply!(c, ["GETEX", "k", "PERSIST"], b"$1\r\nv\r\n");
    assert_reply!(c, ["TTL", "k"], b":-1\r\n");
    assert_reply!(c, ["GETEX", "k", "PX", "100000"], b"$1\r\nv\r\n");
    assert_reply!(c, ["TTL", "k"], b":100\r\n");
    assert_reply!(c, ["GETEX", "k", "EXAT", "4102444800"], b"$1\r\nv\r\n");
    assert_reply!(c, ["EXPIRETIME", "k"], b":4102444800\r\n");
    assert_reply!(c, ["GETEX", "k", "PXAT", "4102444800123"], b"$1\r\nv\r\n");
    assert_reply!(c, ["PEXPIRETIME", "k"], b":4102444800123\r\n");
    assert_reply!(
        c,
        ["GETEX", "k", "EX", "0"],
        b"-ERR invalid expire time in 'getex' command\r\n"
    );
    assert_reply!(
        c,
        ["GETEX", "k", "EX", "x"],
        b"-ERR value is not an integer or out of range\r\n"
    );
    assert_reply!(
        c,
        ["GETEX", "k", "PERSIST", "EX", "10"],
        b"-ERR syntax error\r\n"
    );
    assert_reply!(
        c,
        ["GETEX", "k", "EX", "10", "PERSIST"],
        b"-ERR syntax error\r\n"
    );
    assert_reply!(c, ["GETEX", "k", "KEEPTTL"], b"-ERR syntax error\r\n");
    assert_reply!(c, ["GETEX", "k", "NX"], b"-ERR syntax error\r\n");
    assert_reply!(c, ["GETEX", "k", "GET"], b"-ERR syntax error\r\n");
    assert_reply!(
        c,
        ["GETEX", "k", "EX", "10", "PX", "10"],
        b"-ERR syntax error\r\n"
    );
    assert_reply!(c, ["GETEX", "k", "EX"], b"-ERR syntax error\r\n");
    assert_reply!(c, ["GETEX", "k", "EXAT", "1"], b"$1\r\nv\r\n");
    assert_reply!(c, ["EXISTS", "k"], b":0\r\n");
}

#[tokio::test]
async fn mget_mset_msetnx() {
    let (server, mut c) = start().await;
    assert_reply!(c, ["MSET", "a", "1", "b", "2", "c", "3"], b"+OK\r\n");
    assert_reply!(
        c,
        ["MGET", "a", "b", "c", "missing"],
        b"*4\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n$-1\r\n"
    );
    put_list(&server, "list", &["x"]);
    assert_reply!(
        c,
        ["MGET", "a", "list", "b"],
        b"*3\r\n$1\r\n1\r\n$-1\r\n$1\r\n2\r\n"
    );
    assert_reply!(
        c,
        ["MSET", "a"],
        b"-ERR wrong number of arguments for 'mset' command\r\n"
    );
    assert_reply!(
        c,
        ["MSET", "a", "1", "b"],
        b"-ERR wrong number of arguments for 'mset' command\r\n"
    );
    assert_reply!(c, ["MSETNX", "a", "9", "z", "1"], b":0\r\n");
    assert_reply!(c, ["GET", "z"], b"$-1\r\n");
    assert_reply!(c, ["MSETNX", "x", "1", "y", "2"], b":1\r\n");
    assert_reply!(c, ["MGET", "x", "y"], b"*2\r\n$1\r\n1\r\n$1\r\n2\r\n");
    assert_reply!(
        c,
        ["MSETNX", "q"],
        b"-ERR wrong number of arguments for 'msetnx' command\r\n"
    );
    assert_reply!(
        c,
        ["MSETNX", "q", "1", "r"],
        b"-ERR wrong number of arguments for 'msetnx' command\r\n"
    );
    assert_reply!(c, ["SETEX", "t", "100", "v"], b"+OK\r\n");
    assert_reply!(c, ["MSET", "t", "w"], b"+OK\r\n");
    assert_reply!(c, ["TTL", "t"], b":-1\r\n");
}

#[tokio::test]
async fn counters() {
    let (server, mut c) = start().await;
    assert_reply!(c, ["INCR", "n"], b":1\r\n");
    assert_reply!(c, ["INCR", "n"], b":2\r\n");
    assert_reply!(c, ["DECR", "n"], b":1\r\n");
    assert_reply!(c, ["INCRBY", "n", "10"], b":11\r\n");
    assert_reply!(c, ["DECRBY", "n", "3"], b":8\r\n");
    assert_reply!(c, ["INCRBY", "n", "-100"], b":-92\r\n");
    assert_reply!(c, ["GET", "n"], b"$3\r\n-92\r\n");
    assert_reply!(c, ["OBJECT", "ENCODING", "n"], b"$3\r\nint\r\n");
    assert_reply!(
        c,
        ["INCRBY", "n", "x"],
        b"-ERR value is not an integer or out of range\r\n"
    );
    assert_reply!(
        c,
        ["INCRBY", "n", "1.5"],
        b"-ERR value is not an integer or out of range\r\n"
    );
    assert_reply!(c, ["SET", "s", "abc"], b"+OK\r\n");
    assert_reply!(
        c,
        ["INCR", "s"],
        b"-ERR value is not an integer or out of range\r\n"
    );
    assert_reply!(c, ["SET", "s", " 1"], b"+OK\r\n");
    assert_reply!(
        c,
        ["INCR", "s"],
        b"-ERR value is not an integer or out of range\r\n"
    );
    assert_reply!(c, ["SET", "s", "01"], b"+OK\r\n");
    assert_reply!(
        c,
        ["INCR", "s"],
        b"-ERR value is not an integer or out of range\r\n"
    );
    assert_reply!(c, ["SET", "s", "+1"], b"+OK\r\n");
    assert_reply!(
        c,
        ["INCR", "s"],
        b"-ERR value is not an integer or out of range\r\n"
    );
    assert_reply!(c, ["SET", "big", "9223372036854775807"], b"+OK\r\n");
    assert_reply!(
        c,
        ["INCR", "big"],
        b"-ERR increment or decrement would overflow\r\n"
    );
    assert_reply!(
        c,
        ["INCRBY", "big", "1"],
        b"-ERR increment or decrement would overflow\r\n"
    );
    assert_reply!(c, ["SET", "small", "-9223372036854775808"], b"+OK\r\n");
    assert_reply!(
        c,
        ["DECR", "small"],
        b"-ERR increment or decrement would overflow\r\n"
    );
    assert_reply!(
        c,
        ["DECRBY", "small", "1"],
        b"-ERR increment or decrement would overflow\r\n"
    );
    assert_reply!(
        c,
        ["DECRBY", "n", "-9223372036854775808"],
        b"-ERR decrement would overflow\r\n"
    );
    assert_reply!(
        c,
        ["INCRBY", "n", "9223372036854775807"],
        b":9223372036854775715\r\n"
    );
    assert_reply!(
        c,
        ["INCRBY", "n", "9223372036854775808"],
        b"-ERR value is not an integer or out of range\r\n"
    );
    put_list(&server, "list", &["a"]);
    assert_reply!(
        c,
        ["INCR", "list"],
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_reply!(
        c,
        ["DECR", "list"],
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_reply!(
        c,
        ["INCRBY", "list", "1"],
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_reply!(
        c,
        ["DECRBY", "list", "1"],
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_reply!(c, ["SETEX", "t", "100", "5"], b"+OK\r\n");
    assert_reply!(c, ["INCR", "t"], b":6\r\n");
    assert_reply!(c, ["TTL", "t"], b":100\r\n");
    assert_reply!(c, ["SET", "raw", "12"], b"+OK\r\n");
    assert_reply!(c, ["APPEND", "raw", "3"], b":3\r\n");
    assert_reply!(c, ["INCR", "raw"], b":124\r\n");
    assert_reply!(c, ["OBJECT", "ENCODING", "raw"], b"$3\r\nint\r\n");
}

#[tokio::test]
async fn incrbyfloat() {
    let (server, mut c) = start().await;
    assert_reply!(c, ["INCRBYFLOAT", "f", "10.5"], b"$4\r\n10.5\r\n");
    assert_reply!(c, ["INCRBYFLOAT", "f", "0.1"], b"$4\r\n10.6\r\n");
    assert_reply!(c, ["GET", "f"], b"$4\r\n10.6\r\n");
    assert_reply!(c, ["SET", "f", "5.0e3"], b"+OK\r\n");
    assert_reply!(c, ["INCRBYFLOAT", "f", "0"], b"$4\r\n5000\r\n");
    assert_reply!(c, ["INCRBYFLOAT", "f", "1.5"], b"$6\r\n5001.5\r\n");
    assert_reply!(c, ["INCRBYFLOAT", "f", "-5001.5"], b"$1\r\n0\r\n");
    assert_reply!(
        c,
        ["INCRBYFLOAT", "f", "-0.0000001"],
        b"$10\r\n-0.0000001\r\n"
    );
    assert_reply!(c, ["SET", "f", "10"], b"+OK\r\n");
    assert_reply!(c, ["INCRBYFLOAT", "f", "1"], b"$2\r\n11\r\n");
    assert_reply!(c, ["OBJECT", "ENCODING", "f"], b"$6\r\nembstr\r\n");
    assert_reply!(c, ["OBJECT", "REFCOUNT", "f"], b":1\r\n");
    assert_reply!(
        c,
        ["INCRBYFLOAT", "f", "abc"],
        b"-ERR value is not a valid float\r\n"
    );
    assert_reply!(
        c,
        ["INCRBYFLOAT", "f", ""],
        b"-ERR value is not a valid float\r\n"
    );
    assert_reply!(
        c,
        ["INCRBYFLOAT", "f", "inf"],
        b"-ERR increment would produce NaN or Infinity\r\n"
    );
    assert_reply!(
        c,
        ["INCRBYFLOAT", "f", "-inf"],
        b"-ERR increment would produce NaN or Infinity\r\n"
    );
    assert_reply!(
        c,
        ["INCRBYFLOAT", "f", "nan"],
        b"-ERR value is not a valid float\r\n"
    );
    assert_reply!(c, ["SET", "s", "abc"], b"+OK\r\n");
    assert_reply!(
        c,
        ["INCRBYFLOAT", "s", "1"],
        b"-ERR value is not a valid float\r\n"
    );
    assert_reply!(c, ["SET", "s", " 1"], b"+OK\r\n");
    assert_reply!(
        c,
        ["INCRBYFLOAT", "s", "1"],
        b"-ERR value is not a valid float\r\n"
    );
    assert_reply!(c, ["SET", "s", "inf"], b"+OK\r\n");
    assert_reply!(
        c,
        ["INCRBYFLOAT", "s", "1"],
        b"-ERR increment would produce NaN or Infinity\r\n"
    );
    put_list(&server, "list", &["a"]);
    assert_reply!(
        c,
        ["INCRBYFLOAT", "list", "1"],
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_reply!(c, ["SETEX", "t", "100", "1.5"], b"+OK\r\n");
    assert_reply!(c, ["INCRBYFLOAT", "t", "1"], b"$3\r\n2.5\r\n");
    assert_reply!(c, ["TTL", "t"], b":100\r\n");
    assert_reply!(c, ["INCRBYFLOAT", "g", "3e2"], b"$3\r\n300\r\n");
    assert_reply!(c, ["INCRBYFLOAT", "g", ".5"], b"$5\r\n300.5\r\n");
    assert_reply!(c, ["INCRBYFLOAT", "g", "-300.5"], b"$1\r\n0\r\n");
}

#[tokio::test]
async fn append_strlen() {
    let (server, mut c) = start().await;
    assert_reply!(c, ["APPEND", "k", "hello"], b":5\r\n");
    assert_reply!(c, ["APPEND", "k", " world"], b":11\r\n");
    assert_reply!(c, ["GET", "k"], b"$11\r\nhello world\r\n");
    assert_reply!(c, ["STRLEN", "k"], b":11\r\n");
    assert_reply!(c, ["OBJECT", "ENCODING", "k"], b"$3\r\nraw\r\n");
    assert_reply!(c, ["APPEND", "n", "12"], b":2\r\n");
    assert_reply!(c, ["OBJECT", "ENCODING", "n"], b"$3\r\nint\r\n");
    assert_reply!(c, ["APPEND", "n", "3"], b":3\r\n");
    assert_reply!(c, ["OBJECT", "ENCODING", "n"], b"$3\r\nraw\r\n");
    assert_reply!(c, ["GET", "n"], b"$3\r\n123\r\n");
    assert_reply!(c, ["APPEND", "e", ""], b":0\r\n");
    assert_reply!(c, ["EXISTS", "e"], b":1\r\n");
    assert_reply!(c, ["STRLEN", "e"], b":0\r\n");
    put_list(&server, "list", &["a"]);
    assert_reply!(
        c,
        ["APPEND", "list", "x"],
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_reply!(
        c,
        ["STRLEN", "list"],
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_reply!(c, ["SETEX", "t", "100", "a"], b"+OK\r\n");
    assert_reply!(c, ["APPEND", "t", "b"], b":2\r\n");
    assert_reply!(c, ["TTL", "t"], b":100\r\n");
}

#[tokio::test]
async fn getrange_setrange() {
    let (server, mut c) = start().await;
    assert_reply!(c, ["SET", "k", "Hello World"], b"+OK\r\n");
    assert_reply!(c, ["GETRANGE", "k", "0", "4"], b"$5\r\nHello\r\n");
    assert_reply!(c, ["GETRANGE", "k", "-5", "-1"], b"$5\r\nWorld\r\n");
    assert_reply!(c, ["GETRANGE", "k", "-1", "-5"], b"$0\r\n\r\n");
    assert_reply!(c, ["GETRANGE", "k", "0", "-1"], b"$11\r\nHello World\r\n");
    assert_reply!(c, ["GETRANGE", "k", "5", "2"], b"$0\r\n\r\n");
    assert_reply!(c, ["GETRANGE", "k", "-100", "2"], b"$3\r\nHel\r\n");
    assert_reply!(c, ["GETRANGE", "k", "3", "100"], b"$8\r\nlo World\r\n");
    assert_reply!(c, ["GETRANGE", "k", "100", "200"], b"$0\r\n\r\n");
    assert_reply!(c, ["GETRANGE", "k", "0", "0"], b"$1\r\nH\r\n");
    assert_reply!(c, ["SUBSTR", "k", "0", "4"], b"$5\r\nHello\r\n");
    assert_reply!(c, ["GETRANGE", "missing", "0", "10"], b"$0\r\n\r\n");
    assert_reply!(
        c,
        ["GETRANGE", "k", "x", "1"],
        b"-ERR value is not an integer or out of range\r\n"
    );
    assert_reply!(
        c,
        ["GETRANGE", "k", "1", "y"],
        b"-ERR value is not an integer or out of range\r\n"
    );
    assert_reply!(c, ["SET", "e", ""], b"+OK\r\n");
    assert_reply!(c, ["GETRANGE", "e", "0", "-1"], b"$0\r\n\r\n");
    assert_reply!(c, ["SET", "n", "12345"], b"+OK\r\n");
    assert_reply!(c, ["GETRANGE", "n", "1", "2"], b"$2\r\n23\r\n");
    assert_reply!(c, ["SETRANGE", "k", "6", "Redis"], b":11\r\n");
    assert_reply!(c, ["GET", "k"], b"$11\r\nHello Redis\r\n");
    assert_reply!(c, ["OBJECT", "ENCODING", "k"], b"$3\r\nraw\r\n");
    assert_reply!(c, ["SETRANGE", "k", "20", "x"], b":21\r\n");
    assert_reply!(
        c,
        ["GET", "k"],
        b"$21\r\nHello Redis\x00\x00\x00\x00\x00\x00\x00\x00\x00x\r\n"
    );
    assert_reply!(c, ["STRLEN", "k"], b":21\r\n");
    assert_reply!(c, ["SETRANGE", "new", "3", "ab"], b":5\r\n");
    assert_reply!(c, ["GET", "new"], b"$5\r\n\x00\x00\x00ab\r\n");
    assert_reply!(c, ["OBJECT", "ENCODING", "new"], b"$3\r\nraw\r\n");
    assert_reply!(c, ["SETRANGE", "empty", "5", ""], b":0\r\n");
    assert_reply!(c, ["EXISTS", "empty"], b":0\r\n");
    assert_reply!(c, ["SETRANGE", "k", "1", ""], b":21\r\n");
    assert_reply!(
        c,
        ["SETRANGE", "k", "-1", "x"],
        b"-ERR offset is out of range\r\n"
    );
    assert_reply!(
        c,
        ["SETRANGE", "k", "x", "x"],
        b"-ERR value is not an integer or out of range\r\n"
    );
    assert_reply!(
        c,
        ["SETRANGE", "k", "536870911", "xx"],
        b"-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n"
    );
    assert_reply!(c, ["SETRANGE", "k", "536870911", ""], b":21\r\n");
    assert_reply!(c, ["SETRANGE", "k", "536870910", ""], b":21\r\n");
    put_list(&server, "list", &["a"]);
    assert_reply!(
        c,
        ["SETRANGE", "list", "0", "x"],
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_reply!(
        c,
        ["SETRANGE", "list", "0", ""],
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_reply!(
        c,
        ["GETRANGE", "list", "0", "1"],
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_reply!(c, ["SETEX", "t", "100", "abc"], b"+OK\r\n");
    assert_reply!(c, ["SETRANGE", "t", "1", "X"], b":3\r\n");
    assert_reply!(c, ["TTL", "t"], b":100\r\n");
    assert_reply!(c, ["GET", "t"], b"$3\r\naXc\r\n");
}

#[tokio::test]
async fn lcs_variants() {
    let (server, mut c) = start().await;
    assert_reply!(
        c,
        ["MSET", "key1", "ohmytext", "key2", "mynewtext"],
        b"+OK\r\n"
    );
    assert_reply!(c, ["LCS", "key1", "key2"], b"$6\r\nmytext\r\n");
    assert_reply!(c, ["LCS", "key1", "key2", "LEN"], b":6\r\n");
    assert_reply!(c, ["LCS", "key1", "key2", "IDX"], b"*4\r\n$7\r\nmatches\r\n*2\r\n*2\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n*2\r\n*2\r\n:2\r\n:3\r\n*2\r\n:0\r\n:1\r\n$3\r\nlen\r\n:6\r\n");
    assert_reply!(c, ["LCS", "key1", "key2", "IDX", "MINMATCHLEN", "4"], b"*4\r\n$7\r\nmatches\r\n*1\r\n*2\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n$3\r\nlen\r\n:6\r\n");
    assert_reply!(c, ["LCS", "key1", "key2", "IDX", "MINMATCHLEN", "4", "WITHMATCHLEN"], b"*4\r\n$7\r\nmatches\r\n*1\r\n*3\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n:4\r\n$3\r\nlen\r\n:6\r\n");
    assert_reply!(c, ["LCS", "key1", "key2", "IDX", "WITHMATCHLEN"], b"*4\r\n$7\r\nmatches\r\n*2\r\n*3\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n:4\r\n*3\r\n*2\r\n:2\r\n:3\r\n*2\r\n:0\r\n:1\r\n:2\r\n$3\r\nlen\r\n:6\r\n");
    assert_reply!(c, ["LCS", "key1", "key2", "IDX", "MINMATCHLEN", "-5"], b"*4\r\n$7\r\nmatches\r\n*2\r\n*2\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n*2\r\n*2\r\n:2\r\n:3\r\n*2\r\n:0\r\n:1\r\n$3\r\nlen\r\n:6\r\n");
    assert_reply!(
        c,
        ["LCS", "key1", "key2", "LEN", "IDX"],
        b"-ERR If you want both the length and indexes, please just use IDX.\r\n"
    );
    assert_reply!(c, ["LCS", "key1", "key2", "foo"], b"-ERR syntax error\r\n");
    assert_reply!(
        c,
        ["LCS", "key1", "key2", "MINMATCHLEN"],
        b"-ERR syntax error\r\n"
    );
    assert_reply!(
        c,
        ["LCS", "key1", "key2", "MINMATCHLEN", "x"],
        b"-ERR value is not an integer or out of range\r\n"
    );
    assert_reply!(c, ["LCS", "key1", "missing"], b"$0\r\n\r\n");
    assert_reply!(
        c,
        ["LCS", "missing1", "missing2", "IDX"],
        b"*4\r\n$7\r\nmatches\r\n*0\r\n$3\r\nlen\r\n:0\r\n"
    );
    assert_reply!(c, ["LCS", "missing1", "key2", "LEN"], b":0\r\n");
    assert_reply!(c, ["MSET", "a", "ABCBDAB", "b", "BDCABA"], b"+OK\r\n");
    assert_reply!(c, ["LCS", "a", "b"], b"$4\r\nBDAB\r\n");
    assert_reply!(c, ["LCS", "a", "b", "IDX", "WITHMATCHLEN"], b"*4\r\n$7\r\nmatches\r\n*2\r\n*3\r\n*2\r\n:5\r\n:6\r\n*2\r\n:3\r\n:4\r\n:2\r\n*3\r\n*2\r\n:3\r\n:4\r\n*2\r\n:0\r\n:1\r\n:2\r\n$3\r\nlen\r\n:4\r\n");
    put_list(&server, "list", &["x"]);
    assert_reply!(
        c,
        ["LCS", "key1", "list"],
        b"-ERR The specified keys must contain string values\r\n"
    );
    assert_reply!(
        c,
        ["LCS", "list", "key1", "foo"],
        b"-ERR The specified keys must contain string values\r\n"
    );
}
#[tokio::test]
async fn incrbyfloat_long_double_precision() {
    let (_server, mut c) = start().await;
    assert_reply!(c, ["SET", "f", "0.1"], b"+OK\r\n");
    assert_reply!(c, ["INCRBYFLOAT", "f", "0.2"], b"$3\r\n0.3\r\n");
    assert_reply!(c, ["SET", "f", "100000"], b"+OK\r\n");
    assert_reply!(
        c,
        ["INCRBYFLOAT", "f", "0.1"],
        b"$24\r\n100000.10000000000000142\r\n"
    );
    assert_reply!(c, ["SET", "f", "1e-20"], b"+OK\r\n");
    assert_reply!(c, ["INCRBYFLOAT", "f", "0"], b"$1\r\n0\r\n");
    assert_reply!(c, ["SET", "f", "3.0"], b"+OK\r\n");
    assert_reply!(c, ["INCRBYFLOAT", "f", "1.5e10"], b"$11\r\n15000000003\r\n");
    assert_reply!(
        c,
        ["INCRBYFLOAT", "f", "1.23456789012345678"],
        b"$29\r\n15000000004.23456788994371891\r\n"
    );
    assert_reply!(c, ["SET", "f", "1e30"], b"+OK\r\n");
    assert_reply!(
        c,
        ["INCRBYFLOAT", "f", "1"],
        b"$31\r\n1000000000000000000024696061952\r\n"
    );
    assert_reply!(c, ["SET", "f", "-21035.3"], b"+OK\r\n");
    assert_reply!(
        c,
        ["INCRBYFLOAT", "f", "722337"],
        b"$24\r\n701301.69999999999998863\r\n"
    );
    assert_reply!(c, ["SET", "f", "-2.686e+19"], b"+OK\r\n");
    assert_reply!(
        c,
        ["INCRBYFLOAT", "f", "64169"],
        b"$21\r\n-26859999999999935832\r\n"
    );
    assert_reply!(c, ["SET", "f", "1e308"], b"+OK\r\n");
    assert_reply!(c, ["INCRBYFLOAT", "f", "1e308"], b"$309\r\n199999999999999999993371759311691291321120199694831134415594095989843469737676123744200253843777078640893494450108026446304269499187921167194841628860392837535918200039206381557326219209014213335878306791577877829121087126122536729803237260434173178506889763247582601711514636284849020905456510092687857156096\r\n");
    assert_reply!(c, ["SET", "f", "1e400"], b"+OK\r\n");
    assert_reply!(c, ["INCRBYFLOAT", "f", "0"], b"$401\r\n10000000000000000000281880683947586514586453433629052038625910693539685534008629862039363994848324160522094053927317616200295822777259255734023828976593340661017797447434546173917862448116674971723778943824391593338047470675026246684401359237513603830343735485505244955964979021825038280091068414947402456898653040951017512658092615827588920183472511643316591362664138176309734806343732497430221946880\r\n");
    assert_reply!(c, ["SET", "f", "1e5000"], b"+OK\r\n");
    assert_reply!(
        c,
        ["INCRBYFLOAT", "f", "0"],
        b"-ERR value is not a valid float\r\n"
    );
    assert_reply!(
        c,
        ["INCRBYFLOAT", "f", "1e-5000"],
        b"-ERR value is not a valid float\r\n"
    );
    assert_reply!(
        c,
        ["INCRBYFLOAT", "f", "0e-99999"],
        b"-ERR value is not a valid float\r\n"
    );
    assert_reply!(c, ["SET", "f", "1.1e4932"], b"+OK\r\n");
    assert_reply!(
        c,
        ["INCRBYFLOAT", "f", "1.1e4932"],
        b"-ERR increment would produce NaN or Infinity\r\n"
    );
    assert_reply!(c, ["SET", "f", "-0"], b"+OK\r\n");
    assert_reply!(c, ["INCRBYFLOAT", "f", "-0"], b"$1\r\n0\r\n");
    assert_reply!(
        c,
        ["INCRBYFLOAT", "f", "1e"],
        b"-ERR value is not a valid float\r\n"
    );
    assert_reply!(c, ["INCRBYFLOAT", "f", "5."], b"$1\r\n5\r\n");
    assert_reply!(c, ["INCRBYFLOAT", "f", "+3"], b"$1\r\n8\r\n");
    assert_reply!(c, ["INCRBYFLOAT", "f", "0x10"], b"$2\r\n24\r\n");
}

#[tokio::test]
async fn reads_count_keyspace_hits_and_misses() {
    let (server, mut c) = start().await;
    // Real Redis after this sequence: keyspace_hits:6 keyspace_misses:4.
    for cmd in [
        &["SET", "a", "1"][..],
        &["GET", "a"],
        &["GET", "z"],
        &["MGET", "a", "z"],
        &["GETRANGE", "a", "0", "1"],
        &["STRLEN", "z"],
        &["GETEX", "a"],
        &["GETDEL", "a"],
        &["GETSET", "a", "2"],
        &["SET", "a", "3", "GET"],
        &["INCRBYFLOAT", "f", "1"],
        &["SETNX", "a", "1"],
        &["MSETNX", "q", "1"],
        &["SET", "a", "4", "NX"],
    ] {
        c.call(cmd).await;
    }
    let node = server.node().lock();
    assert_eq!(
        (node.stats.keyspace_hits, node.stats.keyspace_misses),
        (6, 4)
    );
}
