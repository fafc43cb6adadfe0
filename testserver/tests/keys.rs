//! Generic key commands, byte for byte as Redis 7.0.15 answers them (expected replies were
//! recorded from a real Redis).

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::{connect, put_list, start, RawConn};
use rediscover::resp::Frame;

/// The bytes of a bulk-string frame.
fn bulk(frame: &Frame) -> Vec<u8> {
    match frame {
        Frame::Bulk(b) => b.to_vec(),
        other => panic!("not a bulk string: {other:?}"),
    }
}

/// Runs a full SCAN with the given extra arguments and returns every key seen.
async fn scan_all(c: &mut RawConn, extra: &[&str]) -> BTreeSet<Vec<u8>> {
    let mut seen = BTreeSet::new();
    let mut cursor = "0".to_string();
    loop {
        let mut argv = vec!["SCAN", cursor.as_str()];
        argv.extend_from_slice(extra);
        let Frame::Array(parts) = c.frame(&argv).await else {
            panic!("SCAN reply is not an array");
        };
        let next = String::from_utf8(bulk(&parts[0])).unwrap();
        let Frame::Array(keys) = &parts[1] else {
            panic!("SCAN keys are not an array");
        };
        seen.extend(keys.iter().map(bulk));
        if next == "0" {
            return seen;
        }
        cursor = next;
    }
}

fn names(keys: &[&str]) -> BTreeSet<Vec<u8>> {
    keys.iter().map(|k| k.as_bytes().to_vec()).collect()
}

#[tokio::test]
async fn scan_and_keys_see_every_live_key() {
    let (server, mut c) = start().await;
    let mut all = Vec::new();
    for i in 0..50 {
        all.push(format!("key:{i}"));
    }
    for k in &all {
        c.call(&["SET", k, "v"]).await;
    }
    put_list(&server, "list", &["x"]);
    let mut want: BTreeSet<Vec<u8>> = all.iter().map(|k| k.as_bytes().to_vec()).collect();
    assert_eq!(
        scan_all(&mut c, &["COUNT", "3", "TYPE", "string"]).await,
        want
    );
    assert_eq!(scan_all(&mut c, &["TYPE", "LIST"]).await, names(&["list"]));
    assert_eq!(
        scan_all(&mut c, &["MATCH", "key:1*", "COUNT", "7"]).await,
        names(&[
            "key:1", "key:10", "key:11", "key:12", "key:13", "key:14", "key:15", "key:16",
            "key:17", "key:18", "key:19"
        ])
    );
    want.insert(b"list".to_vec());
    assert_eq!(scan_all(&mut c, &[]).await, want);
    let Frame::Array(keys) = c.frame(&["KEYS", "*"]).await else {
        panic!("KEYS reply is not an array");
    };
    assert_eq!(keys.iter().map(bulk).collect::<BTreeSet<_>>(), want);
    assert_reply!(c, ["DBSIZE"], b":51\r\n");
}

#[tokio::test]
async fn expired_keys_count_as_missing() {
    let (server, mut c) = start().await;
    assert_reply!(c, ["MSET", "a", "1", "b", "2", "c", "3"], b"+OK\r\n");
    assert_reply!(c, ["PEXPIRE", "a", "5"], b":1\r\n");
    assert_reply!(c, ["PEXPIRE", "b", "5"], b":1\r\n");
    assert_reply!(c, ["EXPIRE", "c", "100"], b":1\r\n");
    let addr = server.addr();
    assert!(
        common::wait_until(Duration::from_secs(5), || async move {
            RawConn::connect(addr)
                .await
                .call(&["EXISTS", "a", "b"])
                .await
                == b":0\r\n"
        })
        .await
    );
    assert_reply!(c, ["TTL", "a"], b":-2\r\n");
    assert_reply!(c, ["TYPE", "b"], b"+none\r\n");
    assert_reply!(c, ["RENAME", "a", "z"], b"-ERR no such key\r\n");
    assert_reply!(c, ["DEL", "a", "b", "c"], b":1\r\n");
    assert_reply!(c, ["KEYS", "*"], b"*0\r\n");
    assert_reply!(c, ["RANDOMKEY"], b"$-1\r\n");
}

/// WATCH `key` on `c`, run `write` on `other`, and report whether EXEC was aborted.
async fn aborts(c: &mut RawConn, other: &mut RawConn, key: &str, write: &[&str]) -> bool {
    assert_eq!(c.call(&["WATCH", key]).await, b"+OK\r\n");
    other.call(write).await;
    assert_eq!(c.call(&["MULTI"]).await, b"+OK\r\n");
    match c.call(&["EXEC"]).await.as_slice() {
        b"*-1\r\n" => true,
        b"*0\r\n" => false,
        other => panic!("unexpected EXEC reply {:?}", String::from_utf8_lossy(other)),
    }
}

#[tokio::test]
async fn watch_sees_key_writes_only() {
    let (server, mut c) = start().await;
    let mut o = connect(&server).await;
    c.call(&["MSET", "k", "1", "j", "2"]).await;
    assert!(!aborts(&mut c, &mut o, "k", &["DEL", "missing"]).await);
    assert!(!aborts(&mut c, &mut o, "k", &["PERSIST", "k"]).await);
    assert!(!aborts(&mut c, &mut o, "k", &["EXPIRE", "k", "100", "XX"]).await);
    assert!(!aborts(&mut c, &mut o, "k", &["RENAMENX", "j", "k"]).await);
    assert!(!aborts(&mut c, &mut o, "k", &["COPY", "j", "k"]).await);
    assert!(aborts(&mut c, &mut o, "k", &["EXPIRE", "k", "100"]).await);
    assert!(aborts(&mut c, &mut o, "k", &["PERSIST", "k"]).await);
    assert!(aborts(&mut c, &mut o, "k", &["COPY", "j", "k", "REPLACE"]).await);
    assert!(aborts(&mut c, &mut o, "k", &["RENAME", "j", "k"]).await);
    assert!(aborts(&mut c, &mut o, "j", &["RENAME", "k", "j"]).await);
    assert!(aborts(&mut c, &mut o, "j", &["MOVE", "j", "1"]).await);
    assert!(aborts(&mut c, &mut o, "j", &["SWAPDB", "0", "1"]).await);
    assert!(aborts(&mut c, &mut o, "j", &["FLUSHDB"]).await);
    o.call(&["SET", "j", "1"]).await;
    assert!(aborts(&mut c, &mut o, "j", &["FLUSHALL"]).await);
    // Flushing an empty database changes nothing a watcher could see.
    assert!(!aborts(&mut c, &mut o, "j", &["FLUSHALL"]).await);
    o.call(&["SET", "j", "1"]).await;
    assert!(aborts(&mut c, &mut o, "j", &["DEL", "j"]).await);

    // SWAPDB changes only keys that exist on one side or the other.
    o.call(&["SET", "x", "1"]).await;
    assert!(!aborts(&mut c, &mut o, "nothere", &["SWAPDB", "0", "1"]).await);
    assert!(aborts(&mut c, &mut o, "x", &["SWAPDB", "0", "1"]).await);
    assert!(aborts(&mut c, &mut o, "x", &["SWAPDB", "0", "1"]).await);
    assert!(!aborts(&mut c, &mut o, "x", &["SWAPDB", "0", "0"]).await);
    // FLUSHDB of another database leaves this one alone.
    o.call(&["SELECT", "1"]).await;
    o.call(&["SET", "y", "1"]).await;
    assert!(!aborts(&mut c, &mut o, "y", &["FLUSHDB"]).await);
}

#[tokio::test]
async fn del_exists_type_touch() {
    let (server, mut c) = start().await;
    assert_reply!(c, ["MSET", "a", "1", "b", "2", "c", "3"], b"+OK\r\n");
    assert_reply!(c, ["DEL", "a", "missing", "a"], b":1\r\n");
    assert_reply!(c, ["EXISTS", "a", "b", "c", "b", "missing"], b":3\r\n");
    assert_reply!(c, ["UNLINK", "b", "c"], b":2\r\n");
    assert_reply!(c, ["EXISTS", "b", "c"], b":0\r\n");
    assert_reply!(c, ["TYPE", "a"], b"+none\r\n");
    assert_reply!(c, ["TYPE", "missing"], b"+none\r\n");
    assert_reply!(c, ["SET", "s", "v"], b"+OK\r\n");
    assert_reply!(c, ["TYPE", "s"], b"+string\r\n");
    put_list(&server, "list", &["x"]);
    assert_reply!(c, ["TYPE", "list"], b"+list\r\n");
    assert_reply!(c, ["DEL", "list"], b":1\r\n");
    assert_reply!(c, ["TOUCH", "s", "s", "missing"], b":2\r\n");
    assert_reply!(c, ["TOUCH", "missing"], b":0\r\n");
    assert_reply!(
        c,
        ["DEL"],
        b"-ERR wrong number of arguments for 'del' command\r\n"
    );
}

#[tokio::test]
async fn rename_renamenx() {
    let (server, mut c) = start().await;
    assert_reply!(c, ["RENAME", "missing", "x"], b"-ERR no such key\r\n");
    assert_reply!(c, ["RENAMENX", "missing", "x"], b"-ERR no such key\r\n");
    assert_reply!(c, ["SET", "a", "1"], b"+OK\r\n");
    assert_reply!(c, ["RENAME", "a", "a"], b"+OK\r\n");
    assert_reply!(c, ["RENAMENX", "a", "a"], b":0\r\n");
    assert_reply!(c, ["RENAME", "a", "b"], b"+OK\r\n");
    assert_reply!(c, ["EXISTS", "a"], b":0\r\n");
    assert_reply!(c, ["GET", "b"], b"$1\r\n1\r\n");
    assert_reply!(c, ["SET", "c", "3"], b"+OK\r\n");
    assert_reply!(c, ["RENAMENX", "b", "c"], b":0\r\n");
    assert_reply!(c, ["RENAMENX", "b", "d"], b":1\r\n");
    assert_reply!(c, ["GET", "d"], b"$1\r\n1\r\n");
    assert_reply!(c, ["RENAME", "d", "c"], b"+OK\r\n");
    assert_reply!(c, ["GET", "c"], b"$1\r\n1\r\n");
    assert_reply!(c, ["SETEX", "t", "100", "v"], b"+OK\r\n");
    assert_reply!(c, ["RENAME", "t", "t2"], b"+OK\r\n");
    assert_reply!(c, ["TTL", "t2"], b":100\r\n");
    assert_reply!(c, ["SET", "c2", "x"], b"+OK\r\n");
    assert_reply!(c, ["EXPIRE", "c2", "1000"], b":1\r\n");
    assert_reply!(c, ["RENAME", "c", "c2"], b"+OK\r\n");
    assert_reply!(c, ["TTL", "c2"], b":-1\r\n");
    put_list(&server, "list", &["x"]);
    assert_reply!(c, ["RENAME", "list", "l2"], b"+OK\r\n");
    assert_reply!(c, ["TYPE", "l2"], b"+list\r\n");
}

#[tokio::test]
async fn copy_and_move() {
    let (_server, mut c) = start().await;
    assert_reply!(c, ["SET", "a", "1"], b"+OK\r\n");
    assert_reply!(
        c,
        ["COPY", "a", "a"],
        b"-ERR source and destination objects are the same\r\n"
    );
    assert_reply!(c, ["COPY", "a", "b"], b":1\r\n");
    assert_reply!(c, ["GET", "b"], b"$1\r\n1\r\n");
    assert_reply!(c, ["COPY", "a", "b"], b":0\r\n");
    assert_reply!(c, ["SET", "a", "2"], b"+OK\r\n");
    assert_reply!(c, ["COPY", "a", "b", "REPLACE"], b":1\r\n");
    assert_reply!(c, ["GET", "b"], b"$1\r\n2\r\n");
    assert_reply!(c, ["COPY", "missing", "z"], b":0\r\n");
    assert_reply!(
        c,
        ["COPY", "a", "b", "DB", "16"],
        b"-ERR DB index is out of range\r\n"
    );
    assert_reply!(
        c,
        ["COPY", "a", "b", "DB", "-1"],
        b"-ERR DB index is out of range\r\n"
    );
    assert_reply!(
        c,
        ["COPY", "a", "b", "DB", "x"],
        b"-ERR value is not an integer or out of range\r\n"
    );
    assert_reply!(c, ["COPY", "a", "b", "DB"], b"-ERR syntax error\r\n");
    assert_reply!(c, ["COPY", "a", "b", "foo"], b"-ERR syntax error\r\n");
    assert_reply!(c, ["COPY", "a", "a", "DB", "1"], b":1\r\n");
    assert_reply!(c, ["SELECT", "1"], b"+OK\r\n");
    assert_reply!(c, ["GET", "a"], b"$1\r\n2\r\n");
    assert_reply!(c, ["SELECT", "0"], b"+OK\r\n");
    assert_reply!(c, ["COPY", "a", "b", "DB", "1", "REPLACE"], b":1\r\n");
    assert_reply!(c, ["SETEX", "t", "100", "v"], b"+OK\r\n");
    assert_reply!(c, ["COPY", "t", "t2"], b":1\r\n");
    assert_reply!(c, ["TTL", "t2"], b":100\r\n");
    assert_reply!(c, ["COPY", "t", "t3", "DB", "2"], b":1\r\n");
    assert_reply!(c, ["SELECT", "2"], b"+OK\r\n");
    assert_reply!(c, ["TTL", "t3"], b":100\r\n");
    assert_reply!(c, ["GET", "t3"], b"$1\r\nv\r\n");
    assert_reply!(c, ["SELECT", "0"], b"+OK\r\n");
    assert_reply!(
        c,
        ["MOVE", "a", "0"],
        b"-ERR source and destination objects are the same\r\n"
    );
    assert_reply!(c, ["MOVE", "a", "16"], b"-ERR DB index is out of range\r\n");
    assert_reply!(
        c,
        ["MOVE", "a", "x"],
        b"-ERR value is not an integer or out of range\r\n"
    );
    assert_reply!(c, ["MOVE", "missing", "1"], b":0\r\n");
    assert_reply!(c, ["SET", "m", "1"], b"+OK\r\n");
    assert_reply!(c, ["MOVE", "m", "3"], b":1\r\n");
    assert_reply!(c, ["EXISTS", "m"], b":0\r\n");
    assert_reply!(c, ["SELECT", "3"], b"+OK\r\n");
    assert_reply!(c, ["GET", "m"], b"$1\r\n1\r\n");
    assert_reply!(c, ["SET", "m", "2"], b"+OK\r\n");
    assert_reply!(c, ["SELECT", "0"], b"+OK\r\n");
    assert_reply!(c, ["SET", "m", "1"], b"+OK\r\n");
    assert_reply!(c, ["MOVE", "m", "3"], b":0\r\n");
    assert_reply!(c, ["GET", "m"], b"$1\r\n1\r\n");
    assert_reply!(c, ["MOVE", "t", "4"], b":1\r\n");
    assert_reply!(c, ["SELECT", "4"], b"+OK\r\n");
    assert_reply!(c, ["TTL", "t"], b":100\r\n");
    assert_reply!(c, ["SET", "raw", "1"], b"+OK\r\n");
    assert_reply!(c, ["APPEND", "raw", "2"], b":2\r\n");
    assert_reply!(c, ["COPY", "raw", "raw2"], b":1\r\n");
    assert_reply!(c, ["OBJECT", "ENCODING", "raw2"], b"$3\r\nraw\r\n");
}

#[tokio::test]
async fn expire_family() {
    let (_server, mut c) = start().await;
    assert_reply!(c, ["SET", "a", "1"], b"+OK\r\n");
    assert_reply!(c, ["EXPIRE", "a", "100"], b":1\r\n");
    assert_reply!(c, ["TTL", "a"], b":100\r\n");
    assert_reply!(
        c,
        ["EXPIRE", "a", "100", "foo"],
        b"-ERR Unsupported option foo\r\n"
    );
    assert_reply!(
        c,
        ["EXPIRE", "a", "100", "nx", "xx"],
        b"-ERR NX and XX, GT or LT options at the same time are not compatible\r\n"
    );
    assert_reply!(
        c,
        ["EXPIRE", "a", "100", "nx", "gt"],
        b"-ERR NX and XX, GT or LT options at the same time are not compatible\r\n"
    );
    assert_reply!(
        c,
        ["EXPIRE", "a", "100", "NX", "LT"],
        b"-ERR NX and XX, GT or LT options at the same time are not compatible\r\n"
    );
    assert_reply!(
        c,
        ["EXPIRE", "a", "100", "gt", "lt"],
        b"-ERR GT and LT options at the same time are not compatible\r\n"
    );
    assert_reply!(
        c,
        ["EXPIRE", "a", "x"],
        b"-ERR value is not an integer or out of range\r\n"
    );
    assert_reply!(c, ["EXPIRE", "missing", "100"], b":0\r\n");
    assert_reply!(
        c,
        ["EXPIRE", "missing", "100", "foo"],
        b"-ERR Unsupported option foo\r\n"
    );
    assert_reply!(
        c,
        ["EXPIRE", "a", "9223372036854775"],
        b"-ERR invalid expire time in 'expire' command\r\n"
    );
    assert_reply!(
        c,
        ["EXPIRE", "a", "9223372036854776"],
        b"-ERR invalid expire time in 'expire' command\r\n"
    );
    assert_reply!(
        c,
        ["PEXPIRE", "a", "9223372036854775807"],
        b"-ERR invalid expire time in 'pexpire' command\r\n"
    );
    assert_reply!(
        c,
        ["EXPIREAT", "a", "9223372036854776"],
        b"-ERR invalid expire time in 'expireat' command\r\n"
    );
    assert_reply!(c, ["PEXPIREAT", "a", "9223372036854775807"], b":1\r\n");
    assert_reply!(c, ["PERSIST", "a"], b":1\r\n");
    assert_reply!(c, ["PERSIST", "a"], b":0\r\n");
    assert_reply!(c, ["PERSIST", "missing"], b":0\r\n");
    assert_reply!(c, ["TTL", "a"], b":-1\r\n");
    assert_reply!(c, ["PTTL", "a"], b":-1\r\n");
    assert_reply!(c, ["EXPIRETIME", "a"], b":-1\r\n");
    assert_reply!(c, ["PEXPIRETIME", "a"], b":-1\r\n");
    assert_reply!(c, ["TTL", "missing"], b":-2\r\n");
    assert_reply!(c, ["PTTL", "missing"], b":-2\r\n");
    assert_reply!(c, ["EXPIRETIME", "missing"], b":-2\r\n");
    assert_reply!(c, ["PEXPIRETIME", "missing"], b":-2\r\n");
    assert_reply!(c, ["EXPIRE", "a", "100", "NX"], b":1\r\n");
    assert_reply!(c, ["EXPIRE", "a", "200", "NX"], b":0\r\n");
    assert_reply!(c, ["TTL", "a"], b":100\r\n");
    assert_reply!(c, ["EXPIRE", "a", "50", "GT"], b":0\r\n");
    assert_reply!(c, ["EXPIRE", "a", "300", "GT"], b":1\r\n");
    assert_reply!(c, ["TTL", "a"], b":300\r\n");
    assert_reply!(c, ["EXPIRE", "a", "400", "LT"], b":0\r\n");
    assert_reply!(c, ["EXPIRE", "a", "30", "LT"], b":1\r\n");
    assert_reply!(c, ["TTL", "a"], b":30\r\n");
    assert_reply!(c, ["EXPIRE", "a", "70", "XX"], b":1\r\n");
    assert_reply!(c, ["TTL", "a"], b":70\r\n");
    assert_reply!(c, ["PERSIST", "a"], b":1\r\n");
    assert_reply!(c, ["EXPIRE", "a", "70", "XX"], b":0\r\n");
    assert_reply!(c, ["EXPIRE", "a", "70", "GT"], b":0\r\n");
    assert_reply!(c, ["EXPIRE", "a", "70", "LT"], b":1\r\n");
    assert_reply!(c, ["TTL", "a"], b":70\r\n");
    assert_reply!(c, ["EXPIREAT", "a", "4102444800"], b":1\r\n");
    assert_reply!(c, ["EXPIRETIME", "a"], b":4102444800\r\n");
    assert_reply!(c, ["PEXPIREAT", "a", "4102444800555"], b":1\r\n");
    assert_reply!(c, ["PEXPIRETIME", "a"], b":4102444800555\r\n");
    assert_reply!(c, ["EXPIRETIME", "a"], b":4102444801\r\n");
    assert_reply!(c, ["EXPIRE", "a", "-1"], b":1\r\n");
    assert_reply!(c, ["EXISTS", "a"], b":0\r\n");
    assert_reply!(c, ["SET", "b", "1"], b"+OK\r\n");
    assert_reply!(c, ["PEXPIRE", "b", "0"], b":1\r\n");
    assert_reply!(c, ["EXISTS", "b"], b":0\r\n");
    assert_reply!(c, ["SET", "c", "1"], b"+OK\r\n");
    assert_reply!(c, ["EXPIREAT", "c", "1"], b":1\r\n");
    assert_reply!(c, ["EXISTS", "c"], b":0\r\n");
    assert_reply!(c, ["SET", "d", "1"], b"+OK\r\n");
    assert_reply!(c, ["PEXPIREAT", "d", "100", "nx"], b":1\r\n");
    assert_reply!(c, ["EXISTS", "d"], b":0\r\n");
}

#[tokio::test]
async fn flush_and_swap() {
    let (_server, mut c) = start().await;
    assert_reply!(c, ["SET", "a", "1"], b"+OK\r\n");
    assert_reply!(c, ["SELECT", "1"], b"+OK\r\n");
    assert_reply!(c, ["SET", "b", "2"], b"+OK\r\n");
    assert_reply!(c, ["SET", "c", "3"], b"+OK\r\n");
    assert_reply!(c, ["DBSIZE"], b":2\r\n");
    assert_reply!(c, ["FLUSHDB", "x"], b"-ERR syntax error\r\n");
    assert_reply!(c, ["FLUSHDB", "ASYNC", "SYNC"], b"-ERR syntax error\r\n");
    assert_reply!(c, ["FLUSHDB", "SYNC"], b"+OK\r\n");
    assert_reply!(c, ["DBSIZE"], b":0\r\n");
    assert_reply!(c, ["SET", "b", "2"], b"+OK\r\n");
    assert_reply!(c, ["SELECT", "0"], b"+OK\r\n");
    assert_reply!(c, ["DBSIZE"], b":1\r\n");
    assert_reply!(c, ["SWAPDB", "0", "1"], b"+OK\r\n");
    assert_reply!(c, ["GET", "a"], b"$-1\r\n");
    assert_reply!(c, ["GET", "b"], b"$1\r\n2\r\n");
    assert_reply!(c, ["SWAPDB", "x", "1"], b"-ERR invalid first DB index\r\n");
    assert_reply!(c, ["SWAPDB", "0", "x"], b"-ERR invalid second DB index\r\n");
    assert_reply!(
        c,
        ["SWAPDB", "0", "16"],
        b"-ERR DB index is out of range\r\n"
    );
    assert_reply!(
        c,
        ["SWAPDB", "-1", "0"],
        b"-ERR DB index is out of range\r\n"
    );
    assert_reply!(c, ["SWAPDB", "0", "0"], b"+OK\r\n");
    assert_reply!(
        c,
        ["SWAPDB", "2147483648", "0"],
        b"-ERR invalid first DB index\r\n"
    );
    assert_reply!(c, ["SELECT", "1"], b"+OK\r\n");
    assert_reply!(c, ["GET", "a"], b"$1\r\n1\r\n");
    assert_reply!(c, ["FLUSHALL", "ASYNC"], b"+OK\r\n");
    assert_reply!(c, ["DBSIZE"], b":0\r\n");
    assert_reply!(c, ["FLUSHALL", "x"], b"-ERR syntax error\r\n");
    assert_reply!(c, ["FLUSHALL", "SYNC"], b"+OK\r\n");
    assert_reply!(c, ["SELECT", "0"], b"+OK\r\n");
    assert_reply!(c, ["DBSIZE"], b":0\r\n");
    assert_reply!(c, ["RANDOMKEY"], b"$-1\r\n");
    assert_reply!(c, ["SET", "only", "1"], b"+OK\r\n");
    assert_reply!(c, ["RANDOMKEY"], b"$4\r\nonly\r\n");
}

#[tokio::test]
async fn keys_and_scan_errors() {
    let (_server, mut c) = start().await;
    assert_reply!(
        c,
        ["MSET", "one", "1", "two", "2", "three", "3", "four", "4"],
        b"+OK\r\n"
    );
    assert_reply!(c, ["KEYS", "nomatch*"], b"*0\r\n");
    assert_reply!(c, ["KEYS", "t[w]o"], b"*1\r\n$3\r\ntwo\r\n");
    assert_reply!(c, ["SCAN", "x"], b"-ERR invalid cursor\r\n");
    assert_reply!(
        c,
        ["SCAN", "18446744073709551616"],
        b"-ERR invalid cursor\r\n"
    );
    assert_reply!(c, ["SCAN", "0", "COUNT", "0"], b"-ERR syntax error\r\n");
    assert_reply!(c, ["SCAN", "0", "COUNT", "-1"], b"-ERR syntax error\r\n");
    assert_reply!(
        c,
        ["SCAN", "0", "COUNT", "x"],
        b"-ERR value is not an integer or out of range\r\n"
    );
    assert_reply!(c, ["SCAN", "0", "MATCH"], b"-ERR syntax error\r\n");
    assert_reply!(c, ["SCAN", "0", "foo", "bar"], b"-ERR syntax error\r\n");
    assert_reply!(c, ["SCAN", "0", "TYPE", "list"], b"*2\r\n$1\r\n0\r\n*0\r\n");
    assert_reply!(c, ["SCAN", "0", "TYPE", "foo"], b"*2\r\n$1\r\n0\r\n*0\r\n");
    assert_reply!(
        c,
        ["SCAN", "0", "MATCH", "nomatch*"],
        b"*2\r\n$1\r\n0\r\n*0\r\n"
    );
    assert_reply!(
        c,
        ["SCAN", "0", "MATCH", "t[w]o", "COUNT", "100"],
        b"*2\r\n$1\r\n0\r\n*1\r\n$3\r\ntwo\r\n"
    );
    assert_reply!(
        c,
        ["SCAN", "0", "MATCH", "one", "TYPE", "string", "COUNT", "100"],
        b"*2\r\n$1\r\n0\r\n*1\r\n$3\r\none\r\n"
    );
}

#[tokio::test]
async fn object_subcommands() {
    let (server, mut c) = start().await;
    assert_reply!(c, ["SET", "i", "123"], b"+OK\r\n");
    assert_reply!(c, ["SET", "big", "12345678901"], b"+OK\r\n");
    assert_reply!(c, ["SET", "neg", "-1"], b"+OK\r\n");
    assert_reply!(c, ["SET", "e", "hello"], b"+OK\r\n");
    assert_reply!(
        c,
        [
            "SET",
            "long",
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        ],
        b"+OK\r\n"
    );
    assert_reply!(
        c,
        ["SET", "e44", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"],
        b"+OK\r\n"
    );
    assert_reply!(
        c,
        [
            "SET",
            "e45",
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        ],
        b"+OK\r\n"
    );
    assert_reply!(c, ["SET", "zero", "0"], b"+OK\r\n");
    assert_reply!(c, ["SET", "lead", "01"], b"+OK\r\n");
    assert_reply!(c, ["SET", "huge", "123456789012345678901"], b"+OK\r\n");
    assert_reply!(c, ["OBJECT", "ENCODING", "i"], b"$3\r\nint\r\n");
    assert_reply!(c, ["OBJECT", "ENCODING", "big"], b"$3\r\nint\r\n");
    assert_reply!(c, ["OBJECT", "ENCODING", "neg"], b"$3\r\nint\r\n");
    assert_reply!(c, ["OBJECT", "ENCODING", "e"], b"$6\r\nembstr\r\n");
    assert_reply!(c, ["OBJECT", "ENCODING", "long"], b"$3\r\nraw\r\n");
    assert_reply!(c, ["OBJECT", "ENCODING", "e44"], b"$6\r\nembstr\r\n");
    assert_reply!(c, ["OBJECT", "ENCODING", "e45"], b"$3\r\nraw\r\n");
    assert_reply!(c, ["OBJECT", "ENCODING", "lead"], b"$6\r\nembstr\r\n");
    assert_reply!(c, ["OBJECT", "ENCODING", "huge"], b"$6\r\nembstr\r\n");
    assert_reply!(c, ["OBJECT", "encoding", "missing"], b"$-1\r\n");
    assert_reply!(c, ["OBJECT", "REFCOUNT", "i"], b":2147483647\r\n");
    assert_reply!(c, ["OBJECT", "REFCOUNT", "zero"], b":2147483647\r\n");
    assert_reply!(c, ["OBJECT", "REFCOUNT", "big"], b":1\r\n");
    assert_reply!(c, ["OBJECT", "REFCOUNT", "neg"], b":1\r\n");
    assert_reply!(c, ["OBJECT", "REFCOUNT", "e"], b":1\r\n");
    assert_reply!(c, ["OBJECT", "REFCOUNT", "missing"], b"$-1\r\n");
    assert_reply!(c, ["OBJECT", "IDLETIME", "e"], b":0\r\n");
    assert_reply!(c, ["OBJECT", "IDLETIME", "missing"], b"$-1\r\n");
    assert_reply!(c, ["OBJECT", "FREQ", "e"], b"-ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.\r\n");
    assert_reply!(c, ["OBJECT", "FREQ", "missing"], b"$-1\r\n");
    assert_reply!(c, ["OBJECT", "HELP"], b"*15\r\n+OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n+ENCODING <key>\r\n+    Return the kind of internal representation used in order to store the value\r\n+    associated with a <key>.\r\n+FREQ <key>\r\n+    Return the access frequency index of the <key>. The returned integer is\r\n+    proportional to the logarithm of the recent access frequency of the key.\r\n+IDLETIME <key>\r\n+    Return the idle time of the <key>, that is the approximated number of\r\n+    seconds elapsed since the last access to the key.\r\n+REFCOUNT <key>\r\n+    Return the number of references of the value associated with the specified\r\n+    <key>.\r\n+HELP\r\n+    Prints this help.\r\n");
    assert_reply!(
        c,
        ["OBJECT", "help", "extra"],
        b"-ERR wrong number of arguments for 'object|help' command\r\n"
    );
    assert_reply!(
        c,
        ["OBJECT", "ENCODING"],
        b"-ERR wrong number of arguments for 'object|encoding' command\r\n"
    );
    assert_reply!(
        c,
        ["OBJECT", "ENCODING", "a", "b"],
        b"-ERR wrong number of arguments for 'object|encoding' command\r\n"
    );
    assert_reply!(
        c,
        ["OBJECT", "FOO"],
        b"-ERR unknown subcommand 'FOO'. Try OBJECT HELP.\r\n"
    );
    assert_reply!(
        c,
        ["OBJECT", "FOO", "bar"],
        b"-ERR unknown subcommand 'FOO'. Try OBJECT HELP.\r\n"
    );
    put_list(&server, "list", &["x"]);
    assert_reply!(c, ["OBJECT", "ENCODING", "list"], b"$9\r\nquicklist\r\n");
    assert_reply!(c, ["OBJECT", "REFCOUNT", "list"], b":1\r\n");
}
#[tokio::test]
async fn copied_integers_are_not_shared() {
    let (_server, mut c) = start().await;
    assert_reply!(c, ["SET", "a", "5"], b"+OK\r\n");
    assert_reply!(c, ["COPY", "a", "b"], b":1\r\n");
    assert_reply!(c, ["OBJECT", "REFCOUNT", "b"], b":1\r\n");
    assert_reply!(c, ["OBJECT", "ENCODING", "b"], b"$3\r\nint\r\n");
    assert_reply!(c, ["RENAME", "b", "c"], b"+OK\r\n");
    assert_reply!(c, ["OBJECT", "REFCOUNT", "c"], b":1\r\n");
    assert_reply!(c, ["INCRBY", "c", "0"], b":5\r\n");
    assert_reply!(c, ["OBJECT", "REFCOUNT", "c"], b":2147483647\r\n");
    assert_reply!(c, ["OBJECT", "REFCOUNT", "a"], b":2147483647\r\n");
    assert_reply!(c, ["SET", "big", "123456"], b"+OK\r\n");
    assert_reply!(c, ["COPY", "big", "big2"], b":1\r\n");
    assert_reply!(c, ["OBJECT", "REFCOUNT", "big2"], b":1\r\n");
    assert_reply!(c, ["INCRBYFLOAT", "fl", "3"], b"$1\r\n3\r\n");
    assert_reply!(c, ["OBJECT", "ENCODING", "fl"], b"$6\r\nembstr\r\n");
    assert_reply!(c, ["OBJECT", "REFCOUNT", "fl"], b":1\r\n");
}

#[tokio::test]
async fn read_lookups_count_keyspace_hits_and_misses() {
    let (server, mut c) = start().await;
    // Real Redis after this sequence: keyspace_hits:7 keyspace_misses:3.
    for cmd in [
        &["SET", "a", "1"][..],
        &["EXISTS", "a", "b"],
        &["TYPE", "a"],
        &["TTL", "a"],
        &["OBJECT", "ENCODING", "a"],
        &["TOUCH", "a", "b"],
        &["LCS", "a", "b"],
        &["COPY", "a", "c"],
        &["DEL", "a"],
        &["INCR", "x"],
        &["APPEND", "x", "1"],
        &["SETRANGE", "x", "0", "1"],
        &["RENAME", "x", "y"],
    ] {
        c.call(cmd).await;
    }
    let node = server.node().lock();
    assert_eq!(
        (node.stats.keyspace_hits, node.stats.keyspace_misses),
        (7, 3)
    );
}
