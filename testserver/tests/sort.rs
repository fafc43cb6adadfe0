//! SORT and SORT_RO over lists, sets and sorted sets, byte for byte as Redis 7.0.15 answers
//! (expected replies were recorded from a real Redis with the same commands).
//!
//! Strings, hashes and sets used as input are stored directly in the keyspace, so these tests
//! depend only on the list and sort commands; sorted sets are made with ZADD.

mod common;

use std::collections::HashSet;

use bytes::Bytes;
use common::{connect, hello3, set_string, start, RawConn, TestServer};
use rediscover_testserver::keyspace::{Hash, Set, Value};

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

fn put(server: &TestServer, key: &str, value: Value) {
    server.node().lock().dbs[0].set(b(key), value);
}

fn hset(server: &TestServer, key: &str, pairs: &[(&str, &str)]) {
    let pairs = pairs.iter().map(|(f, v)| (b(f), b(v))).collect();
    put(server, key, Value::Hash(Hash::Listpack(pairs)));
}

/// An intset when every member is an integer (sorted, as Redis keeps it), else a hash table.
fn sadd(server: &TestServer, key: &str, members: &[&str]) {
    let ints: Option<Vec<i64>> = members.iter().map(|m| m.parse().ok()).collect();
    let set = match ints {
        Some(mut ints) => {
            ints.sort_unstable();
            ints.dedup();
            Set::Intset(ints)
        }
        None => Set::Table(members.iter().map(|m| b(m)).collect::<HashSet<_>>()),
    };
    put(server, key, Value::Set(set));
}

/// Creates a sorted set with ZADD, which another part of the server implements: returns false
/// (and the test stops there) while that command is not available.
async fn zadd(c: &mut RawConn, args: &[&str]) -> bool {
    let mut argv = vec!["ZADD"];
    argv.extend_from_slice(args);
    let reply = c.call(&argv).await;
    if reply.starts_with(b"-ERR unknown command") {
        eprintln!("ZADD is not implemented here: sorted-set part skipped");
        return false;
    }
    assert!(
        reply.starts_with(b":"),
        "{}",
        String::from_utf8_lossy(&reply)
    );
    true
}
#[tokio::test]
async fn sort_list_numeric_and_alpha() {
    let (_server, mut c) = start().await;
    assert_reply!(
        c,
        ["RPUSH", "l", "3", "1", "2", "10", "-1.5", "1e1"],
        b":6\r\n"
    );
    assert_reply!(
        c,
        ["SORT", "l"],
        b"*6\r\n$4\r\n-1.5\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n$2\r\n10\r\n$3\r\n1e1\r\n"
    );
    assert_reply!(
        c,
        ["SORT", "l", "DESC"],
        b"*6\r\n$3\r\n1e1\r\n$2\r\n10\r\n$1\r\n3\r\n$1\r\n2\r\n$1\r\n1\r\n$4\r\n-1.5\r\n"
    );
    assert_reply!(
        c,
        ["SORT", "l", "ASC"],
        b"*6\r\n$4\r\n-1.5\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n$2\r\n10\r\n$3\r\n1e1\r\n"
    );
    assert_reply!(
        c,
        ["SORT", "l", "LIMIT", "1", "2"],
        b"*2\r\n$1\r\n1\r\n$1\r\n2\r\n"
    );
    assert_reply!(
        c,
        ["SORT", "l", "LIMIT", "-5", "2"],
        b"*2\r\n$4\r\n-1.5\r\n$1\r\n1\r\n"
    );
    assert_reply!(
        c,
        ["SORT", "l", "LIMIT", "2", "-1"],
        b"*4\r\n$1\r\n2\r\n$1\r\n3\r\n$2\r\n10\r\n$3\r\n1e1\r\n"
    );
    assert_reply!(c, ["SORT", "l", "LIMIT", "10", "5"], b"*0\r\n");
    assert_reply!(c, ["SORT", "l", "LIMIT", "0", "0"], b"*0\r\n");
    assert_reply!(
        c,
        ["SORT", "l", "DESC", "LIMIT", "0", "3"],
        b"*3\r\n$3\r\n1e1\r\n$2\r\n10\r\n$1\r\n3\r\n"
    );
    assert_reply!(
        c,
        ["SORT", "l", "ALPHA"],
        b"*6\r\n$4\r\n-1.5\r\n$1\r\n1\r\n$2\r\n10\r\n$3\r\n1e1\r\n$1\r\n2\r\n$1\r\n3\r\n"
    );
    assert_reply!(
        c,
        ["SORT", "l", "ALPHA", "DESC"],
        b"*6\r\n$1\r\n3\r\n$1\r\n2\r\n$3\r\n1e1\r\n$2\r\n10\r\n$1\r\n1\r\n$4\r\n-1.5\r\n"
    );
    assert_reply!(
        c,
        ["SORT_RO", "l", "ALPHA", "LIMIT", "1", "1"],
        b"*1\r\n$1\r\n1\r\n"
    );
    assert_reply!(
        c,
        ["SORT_RO", "l"],
        b"*6\r\n$4\r\n-1.5\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n$2\r\n10\r\n$3\r\n1e1\r\n"
    );
    assert_reply!(
        c,
        ["RPUSH", "words", "banana", "apple", "Cherry", "apple"],
        b":4\r\n"
    );
    assert_reply!(
        c,
        ["SORT", "words"],
        b"-ERR One or more scores can't be converted into double\r\n"
    );
    assert_reply!(
        c,
        ["SORT", "words", "ALPHA"],
        b"*4\r\n$6\r\nCherry\r\n$5\r\napple\r\n$5\r\napple\r\n$6\r\nbanana\r\n"
    );
    assert_reply!(
        c,
        ["SORT", "words", "alpha", "desc", "limit", "1", "2"],
        b"*2\r\n$5\r\napple\r\n$5\r\napple\r\n"
    );
    assert_reply!(c, ["SORT", "nokey"], b"*0\r\n");
    assert_reply!(c, ["SORT", "nokey", "ALPHA", "LIMIT", "0", "1"], b"*0\r\n");
}

#[tokio::test]
async fn sort_numeric_ties_and_strtod() {
    let (_server, mut c) = start().await;
    assert_reply!(
        c,
        ["RPUSH", "l", "1.0", "1", "01", "+1", "0x1", " 1", "", "inf", "-inf"],
        b":9\r\n"
    );
    assert_reply!(
        c,
        ["SORT", "l"],
        b"*9\r\n$4\r\n-inf\r\n$0\r\n\r\n$2\r\n 1\r\n$2\r\n+1\r\n$2\r\n01\r\n$3\r\n0x1\r\n$1\r\n1\r\n$3\r\n1.0\r\n$3\r\ninf\r\n"
    );
    assert_reply!(
        c,
        ["SORT", "l", "DESC"],
        b"*9\r\n$3\r\ninf\r\n$3\r\n1.0\r\n$1\r\n1\r\n$3\r\n0x1\r\n$2\r\n01\r\n$2\r\n+1\r\n$2\r\n 1\r\n$0\r\n\r\n$4\r\n-inf\r\n"
    );
    assert_reply!(c, ["RPUSH", "bad", "1", "nan"], b":2\r\n");
    assert_reply!(
        c,
        ["SORT", "bad"],
        b"-ERR One or more scores can't be converted into double\r\n"
    );
    assert_reply!(
        c,
        ["SORT", "bad", "ALPHA"],
        b"*2\r\n$1\r\n1\r\n$3\r\nnan\r\n"
    );
}

#[tokio::test]
async fn sort_set() {
    let (server, mut c) = start().await;
    sadd(&server, "ints", &["5", "3", "10", "-2"]);
    assert_reply!(
        c,
        ["SORT", "ints"],
        b"*4\r\n$2\r\n-2\r\n$1\r\n3\r\n$1\r\n5\r\n$2\r\n10\r\n"
    );
    assert_reply!(
        c,
        ["SORT", "ints", "DESC"],
        b"*4\r\n$2\r\n10\r\n$1\r\n5\r\n$1\r\n3\r\n$2\r\n-2\r\n"
    );
    assert_reply!(
        c,
        ["SORT", "ints", "BY", "nosort"],
        b"*4\r\n$2\r\n-2\r\n$1\r\n3\r\n$1\r\n5\r\n$2\r\n10\r\n"
    );
    assert_reply!(
        c,
        ["SORT", "ints", "BY", "nosort", "DESC"],
        b"*4\r\n$2\r\n-2\r\n$1\r\n3\r\n$1\r\n5\r\n$2\r\n10\r\n"
    );
    assert_reply!(
        c,
        ["SORT", "ints", "ALPHA"],
        b"*4\r\n$2\r\n-2\r\n$2\r\n10\r\n$1\r\n3\r\n$1\r\n5\r\n"
    );
    sadd(&server, "strs", &["b", "a", "c"]);
    assert_reply!(
        c,
        ["SORT", "strs", "ALPHA"],
        b"*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n"
    );
    assert_reply!(
        c,
        ["SORT", "strs", "ALPHA", "DESC", "LIMIT", "0", "2"],
        b"*2\r\n$1\r\nc\r\n$1\r\nb\r\n"
    );
    assert_reply!(
        c,
        ["SORT", "strs"],
        b"-ERR One or more scores can't be converted into double\r\n"
    );
}

#[tokio::test]
async fn sort_zset() {
    let (_server, mut c) = start().await;
    if !zadd(&mut c, &["z", "3", "a", "1", "b", "2", "c", "1", "d"]).await {
        return;
    }
    assert_reply!(c, ["OBJECT", "ENCODING", "z"], b"$8\r\nlistpack\r\n");
    assert_reply!(
        c,
        ["SORT", "z", "ALPHA"],
        b"*4\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n"
    );
    assert_reply!(
        c,
        ["SORT", "z", "BY", "nosort"],
        b"*4\r\n$1\r\nb\r\n$1\r\nd\r\n$1\r\nc\r\n$1\r\na\r\n"
    );
    assert_reply!(
        c,
        ["SORT", "z", "BY", "nosort", "DESC"],
        b"*4\r\n$1\r\na\r\n$1\r\nc\r\n$1\r\nd\r\n$1\r\nb\r\n"
    );
    assert_reply!(
        c,
        ["SORT", "z", "BY", "nosort", "LIMIT", "1", "2"],
        b"*2\r\n$1\r\nd\r\n$1\r\nc\r\n"
    );
    assert_reply!(
        c,
        ["SORT", "z", "BY", "nosort", "DESC", "LIMIT", "1", "2"],
        b"*2\r\n$1\r\nc\r\n$1\r\nd\r\n"
    );
    assert_reply!(
        c,
        ["SORT", "z", "BY", "nosort", "LIMIT", "3", "10"],
        b"*1\r\n$1\r\na\r\n"
    );
    assert_reply!(
        c,
        ["SORT", "z", "BY", "nosort", "LIMIT", "9", "10"],
        b"*0\r\n"
    );
    assert_reply!(
        c,
        ["SORT_RO", "z", "BY", "nosort", "DESC"],
        b"*4\r\n$1\r\na\r\n$1\r\nc\r\n$1\r\nd\r\n$1\r\nb\r\n"
    );
    assert_reply!(
        c,
        ["SORT", "z"],
        b"-ERR One or more scores can't be converted into double\r\n"
    );
    assert_reply!(c, ["OBJECT", "ENCODING", "z"], b"$8\r\nskiplist\r\n");
    if !zadd(&mut c, &["z2", "1", "x", "2", "y"]).await {
        return;
    }
    assert_reply!(
        c,
        ["SORT_RO", "z2", "BY", "nosort"],
        b"*2\r\n$1\r\nx\r\n$1\r\ny\r\n"
    );
    assert_reply!(c, ["OBJECT", "ENCODING", "z2"], b"$8\r\nskiplist\r\n");
}

#[tokio::test]
async fn sort_by_pattern() {
    let (server, mut c) = start().await;
    assert_reply!(c, ["RPUSH", "l", "a", "b", "c", "d"], b":4\r\n");
    set_string(&server, "w_a", "3");
    set_string(&server, "w_b", "1");
    set_string(&server, "w_c", "2");
    assert_reply!(
        c,
        ["SORT", "l", "BY", "w_*"],
        b"*4\r\n$1\r\nd\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\na\r\n"
    );
    assert_reply!(
        c,
        ["SORT", "l", "BY", "w_*", "DESC"],
        b"*4\r\n$1\r\na\r\n$1\r\nc\r\n$1\r\nb\r\n$1\r\nd\r\n"
    );
    assert_reply!(
        c,
        ["SORT", "l", "BY", "w_*", "ALPHA"],
        b"*4\r\n$1\r\nd\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\na\r\n"
    );
    assert_reply!(
        c,
        ["SORT", "l", "BY", "w_*", "ALPHA", "DESC"],
        b"*4\r\n$1\r\na\r\n$1\r\nc\r\n$1\r\nb\r\n$1\r\nd\r\n"
    );
    assert_reply!(
        c,
        ["SORT", "l", "BY", "w_*", "LIMIT", "0", "2"],
        b"*2\r\n$1\r\nd\r\n$1\r\nb\r\n"
    );
    assert_reply!(
        c,
        ["SORT", "l", "BY", "nosort"],
        b"*4\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n"
    );
    assert_reply!(
        c,
        ["SORT", "l", "BY", "nosort", "DESC"],
        b"*4\r\n$1\r\nd\r\n$1\r\nc\r\n$1\r\nb\r\n$1\r\na\r\n"
    );
    assert_reply!(
        c,
        ["SORT", "l", "BY", "nosort", "LIMIT", "1", "2"],
        b"*2\r\n$1\r\nb\r\n$1\r\nc\r\n"
    );
    assert_reply!(
        c,
        ["SORT", "l", "BY", "nosort", "DESC", "LIMIT", "1", "10"],
        b"*3\r\n$1\r\nc\r\n$1\r\nb\r\n$1\r\na\r\n"
    );
    assert_reply!(
        c,
        ["SORT", "l", "BY", "nosort", "BY", "w_*"],
        b"*4\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n"
    );
    set_string(&server, "x_a", "notanumber");
    assert_reply!(
        c,
        ["SORT", "l", "BY", "x_*"],
        b"-ERR One or more scores can't be converted into double\r\n"
    );
    assert_reply!(
        c,
        ["SORT", "l", "BY", "x_*", "ALPHA"],
        b"*4\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n$1\r\na\r\n"
    );
    hset(&server, "h_a", &[("f", "30"), ("g", "z")]);
    hset(&server, "h_b", &[("f", "10")]);
    hset(&server, "h_c", &[("f", "20"), ("g", "a")]);
    assert_reply!(
        c,
        ["SORT", "l", "BY", "h_*->f"],
        b"*4\r\n$1\r\nd\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\na\r\n"
    );
    assert_reply!(
        c,
        ["SORT", "l", "BY", "h_*->f", "DESC"],
        b"*4\r\n$1\r\na\r\n$1\r\nc\r\n$1\r\nb\r\n$1\r\nd\r\n"
    );
    assert_reply!(
        c,
        ["SORT", "l", "BY", "h_*->g", "ALPHA"],
        b"*4\r\n$1\r\nb\r\n$1\r\nd\r\n$1\r\nc\r\n$1\r\na\r\n"
    );
    assert_reply!(
        c,
        ["SORT", "l", "BY", "h_*->g"],
        b"-ERR One or more scores can't be converted into double\r\n"
    );
    assert_reply!(
        c,
        ["SORT", "l", "BY", "w_*->f"],
        b"*4\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n"
    );
    assert_reply!(
        c,
        ["SORT", "l", "BY", "h_*->"],
        b"*4\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n"
    );
}

#[tokio::test]
async fn sort_get_patterns() {
    let (server, mut c) = start().await;
    assert_reply!(c, ["RPUSH", "l", "a", "b", "c"], b":3\r\n");
    set_string(&server, "v_a", "A");
    set_string(&server, "v_b", "B");
    hset(&server, "h_a", &[("name", "Ann")]);
    hset(&server, "h_c", &[("name", "Cid")]);
    assert_reply!(
        c,
        ["SORT", "l", "ALPHA", "GET", "v_*"],
        b"*3\r\n$1\r\nA\r\n$1\r\nB\r\n$-1\r\n"
    );
    assert_reply!(
        c,
        ["SORT", "l", "ALPHA", "GET", "#", "GET", "v_*", "GET", "h_*->name"],
        b"*9\r\n$1\r\na\r\n$1\r\nA\r\n$3\r\nAnn\r\n$1\r\nb\r\n$1\r\nB\r\n$-1\r\n$1\r\nc\r\n$-1\r\n$3\r\nCid\r\n"
    );
    assert_reply!(
        c,
        ["SORT", "l", "ALPHA", "DESC", "GET", "h_*->name", "GET", "#"],
        b"*6\r\n$3\r\nCid\r\n$1\r\nc\r\n$-1\r\n$1\r\nb\r\n$3\r\nAnn\r\n$1\r\na\r\n"
    );
    assert_reply!(
        c,
        ["SORT", "l", "BY", "nosort", "GET", "v_*"],
        b"*3\r\n$1\r\nA\r\n$1\r\nB\r\n$-1\r\n"
    );
    assert_reply!(
        c,
        ["SORT", "l", "ALPHA", "GET", "nostar"],
        b"*3\r\n$-1\r\n$-1\r\n$-1\r\n"
    );
    assert_reply!(
        c,
        ["SORT", "l", "ALPHA", "GET", "v_*->name"],
        b"*3\r\n$-1\r\n$-1\r\n$-1\r\n"
    );
    assert_reply!(
        c,
        ["SORT", "l", "ALPHA", "GET", "h_*"],
        b"*3\r\n$-1\r\n$-1\r\n$-1\r\n"
    );
    assert_reply!(
        c,
        ["SORT", "l", "ALPHA", "LIMIT", "1", "1", "GET", "#", "GET", "v_*"],
        b"*2\r\n$1\r\nb\r\n$1\r\nB\r\n"
    );
    assert_reply!(
        c,
        ["SORT_RO", "l", "ALPHA", "GET", "v_*"],
        b"*3\r\n$1\r\nA\r\n$1\r\nB\r\n$-1\r\n"
    );
    set_string(&server, "va_x", "1");
    assert_reply!(
        c,
        ["SORT", "l", "ALPHA", "GET", "va_*x"],
        b"*3\r\n$-1\r\n$-1\r\n$-1\r\n"
    );
}

#[tokio::test]
async fn sort_store() {
    let (server, mut c) = start().await;
    assert_reply!(c, ["RPUSH", "l", "3", "1", "2"], b":3\r\n");
    assert_reply!(c, ["SORT", "l", "STORE", "dst"], b":3\r\n");
    assert_reply!(
        c,
        ["LRANGE", "dst", "0", "-1"],
        b"*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n"
    );
    assert_reply!(
        c,
        ["SORT", "l", "DESC", "LIMIT", "0", "2", "STORE", "dst"],
        b":2\r\n"
    );
    assert_reply!(
        c,
        ["LRANGE", "dst", "0", "-1"],
        b"*2\r\n$1\r\n3\r\n$1\r\n2\r\n"
    );
    set_string(&server, "v_1", "one");
    assert_reply!(
        c,
        ["SORT", "l", "GET", "#", "GET", "v_*", "STORE", "dst"],
        b":6\r\n"
    );
    assert_reply!(
        c,
        ["LRANGE", "dst", "0", "-1"],
        b"*6\r\n$1\r\n1\r\n$3\r\none\r\n$1\r\n2\r\n$0\r\n\r\n$1\r\n3\r\n$0\r\n\r\n"
    );
    assert_reply!(
        c,
        ["SORT", "l", "LIMIT", "5", "5", "STORE", "dst"],
        b":0\r\n"
    );
    assert_reply!(c, ["LLEN", "dst"], b":0\r\n");
    assert_reply!(c, ["SORT", "nokey", "STORE", "dst"], b":0\r\n");
    set_string(&server, "s", "str");
    assert_reply!(c, ["SORT", "l", "STORE", "s"], b":3\r\n");
    assert_reply!(
        c,
        ["LRANGE", "s", "0", "-1"],
        b"*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n"
    );
    sadd(&server, "set", &["z", "x", "y"]);
    assert_reply!(
        c,
        ["SORT", "set", "BY", "nosort", "STORE", "dst"],
        b":3\r\n"
    );
    assert_reply!(
        c,
        ["LRANGE", "dst", "0", "-1"],
        b"*3\r\n$1\r\nx\r\n$1\r\ny\r\n$1\r\nz\r\n"
    );
    assert_reply!(
        c,
        ["SORT", "set", "BY", "nosort", "DESC", "STORE", "dst"],
        b":3\r\n"
    );
    assert_reply!(
        c,
        ["LRANGE", "dst", "0", "-1"],
        b"*3\r\n$1\r\nz\r\n$1\r\ny\r\n$1\r\nx\r\n"
    );
    assert_reply!(c, ["SORT", "l", "BY", "nosort", "STORE", "l"], b":3\r\n");
    assert_reply!(
        c,
        ["LRANGE", "l", "0", "-1"],
        b"*3\r\n$1\r\n3\r\n$1\r\n1\r\n$1\r\n2\r\n"
    );
}

#[tokio::test]
async fn sort_errors() {
    let (server, mut c) = start().await;
    assert_reply!(c, ["RPUSH", "l", "1", "2"], b":2\r\n");
    set_string(&server, "s", "v");
    hset(&server, "h", &[("f", "v")]);
    assert_reply!(
        c,
        ["SORT", "s"],
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_reply!(
        c,
        ["SORT", "h"],
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_reply!(
        c,
        ["SORT", "s", "LIMIT", "0", "1", "FOO"],
        b"-ERR syntax error\r\n"
    );
    assert_reply!(c, ["SORT", "l", "FOO"], b"-ERR syntax error\r\n");
    assert_reply!(c, ["SORT", "l", "LIMIT", "0"], b"-ERR syntax error\r\n");
    assert_reply!(
        c,
        ["SORT", "l", "LIMIT", "a", "1"],
        b"-ERR value is not an integer or out of range\r\n"
    );
    assert_reply!(
        c,
        ["SORT", "l", "LIMIT", "0", "b"],
        b"-ERR value is not an integer or out of range\r\n"
    );
    assert_reply!(c, ["SORT", "l", "BY"], b"-ERR syntax error\r\n");
    assert_reply!(c, ["SORT", "l", "GET"], b"-ERR syntax error\r\n");
    assert_reply!(c, ["SORT", "l", "STORE"], b"-ERR syntax error\r\n");
    assert_reply!(
        c,
        ["SORT_RO", "l", "STORE", "dst"],
        b"-ERR syntax error\r\n"
    );
    assert_reply!(
        c,
        ["SORT_RO", "s"],
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_reply!(
        c,
        ["SORT_RO", "l", "ALPHA", "FOO"],
        b"-ERR syntax error\r\n"
    );
    assert_reply!(
        c,
        ["SORT"],
        b"-ERR wrong number of arguments for 'sort' command\r\n"
    );
    assert_reply!(
        c,
        ["SORT_RO"],
        b"-ERR wrong number of arguments for 'sort_ro' command\r\n"
    );
}

#[tokio::test]
async fn sort_resp3() {
    let (_server, mut c) = start().await;
    hello3(&mut c).await;
    assert_reply!(c, ["RPUSH", "l", "b", "a"], b":2\r\n");
    assert_reply!(
        c,
        ["SORT", "l", "ALPHA", "GET", "x_*", "GET", "#"],
        b"*4\r\n_\r\n$1\r\na\r\n_\r\n$1\r\nb\r\n"
    );
    assert_reply!(
        c,
        ["SORT", "l", "BY", "nosort"],
        b"*2\r\n$1\r\nb\r\n$1\r\na\r\n"
    );
}

#[tokio::test]
async fn sort_out_of_range_scores() {
    let (_server, mut c) = start().await;
    // Last in the recording: Redis checks a stale errno, so after an out-of-range score it can
    // also refuse later, valid sorts until something resets errno.
    assert_reply!(c, ["RPUSH", "big", "1e400", "2"], b":2\r\n");
    assert_reply!(
        c,
        ["SORT", "big"],
        b"-ERR One or more scores can't be converted into double\r\n"
    );
    assert_reply!(c, ["RPUSH", "tiny", "1e-400", "2"], b":2\r\n");
    assert_reply!(
        c,
        ["SORT", "tiny"],
        b"-ERR One or more scores can't be converted into double\r\n"
    );
    assert_reply!(c, ["RPUSH", "sub", "4e-320", "2"], b":2\r\n");
    assert_reply!(
        c,
        ["SORT", "sub"],
        b"-ERR One or more scores can't be converted into double\r\n"
    );
}

#[tokio::test]
async fn sort_store_wakes_a_client_blocked_on_the_destination() {
    let (server, mut blocked) = start().await;
    let mut c = connect(&server).await;
    blocked.send(&["BLPOP", "dst", "0"]).await;
    let node = server.node().clone();
    assert!(
        common::wait_until(std::time::Duration::from_secs(5), || {
            let node = node.clone();
            async move { node.lock().waiters.len() == 1 }
        })
        .await
    );
    assert_reply!(c, ["RPUSH", "l", "3", "1", "2"], b":3\r\n");
    assert_reply!(c, ["SORT", "l", "STORE", "dst"], b":3\r\n");
    assert_eq!(
        blocked.read_raw().await,
        b"*2\r\n$3\r\ndst\r\n$1\r\n1\r\n".to_vec()
    );
    assert_reply!(
        c,
        ["LRANGE", "dst", "0", "-1"],
        b"*2\r\n$1\r\n2\r\n$1\r\n3\r\n"
    );
}

#[tokio::test]
async fn read_lookups_count_keyspace_hits_and_misses() {
    // Recorded with CONFIG RESETSTAT and INFO stats on Redis 7.0.15: the sorted key and every
    // GET lookup count, as do LLEN, LPOS, LINDEX and LRANGE; writes and pops do not.
    let (server, mut c) = start().await;
    assert_reply!(c, ["RPUSH", "l", "a", "b"], b":2\r\n");
    set_string(&server, "v_a", "1");
    c.call(&["SORT", "l", "ALPHA", "GET", "v_*", "GET", "#"])
        .await;
    c.call(&["LLEN", "l"]).await;
    c.call(&["LLEN", "nokey"]).await;
    c.call(&["LPOS", "l", "a"]).await;
    c.call(&["LINDEX", "l", "0"]).await;
    c.call(&["LRANGE", "l", "0", "1"]).await;
    c.call(&["LPUSH", "l", "x"]).await;
    c.call(&["LPOP", "l"]).await;
    c.call(&["BLPOP", "l", "0"]).await;
    c.call(&["LMPOP", "1", "l", "LEFT"]).await;
    let st = server.node().lock();
    assert_eq!((st.stats.keyspace_hits, st.stats.keyspace_misses), (6, 2));
}

#[tokio::test]
async fn sort_store_counts_changes() {
    let (server, mut c) = start().await;
    assert_reply!(c, ["RPUSH", "l", "x", "y", "z"], b":3\r\n");
    let cases: &[(&[&str], u64)] = &[
        (&["SORT", "l", "ALPHA", "STORE", "s"], 3),
        (&["SORT", "nokey", "STORE", "s"], 1),
        (&["SORT", "nokey", "STORE", "s"], 0),
        (&["SORT", "l", "ALPHA"], 0),
    ];
    for (argv, delta) in cases {
        let before = server.node().lock().dirty;
        c.call(argv).await;
        let after = server.node().lock().dirty;
        assert_eq!(after - before, *delta, "{argv:?}");
    }
}
