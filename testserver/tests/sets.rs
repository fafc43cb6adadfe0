//! Set commands, byte for byte against Redis 7.0.15 (expected bytes recorded from a real
//! redis-server). Intset-encoded sets list their members in ascending order, so their replies are
//! compared exactly; hashtable-encoded ones are compared after sorting.

mod common;

use common::{connect, encoding, hello3, scan_pages, sorted, start, strings, RawConn, TestServer};

/// The members of a set reply, sorted.
async fn members(c: &mut RawConn, argv: &[&str]) -> Vec<String> {
    sorted(strings(c.frame(argv).await))
}

fn range(from: i32, to: i32) -> Vec<String> {
    sorted((from..to).map(|i| i.to_string()).collect())
}

#[tokio::test]
async fn sadd_srem_and_intset_order() {
    let (_server, mut c) = start().await;
    assert_reply!(c, ["SADD", "s", "3", "1", "2"], b":3\r\n");
    assert_reply!(c, ["SADD", "s", "2", "5", "-10"], b":2\r\n");
    assert_reply!(
        c,
        ["SMEMBERS", "s"],
        b"*5\r\n$3\r\n-10\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n5\r\n"
    );
    assert_reply!(c, ["SCARD", "s"], b":5\r\n");
    assert_reply!(c, ["SCARD", "nokey"], b":0\r\n");
    assert_reply!(c, ["SISMEMBER", "s", "5"], b":1\r\n");
    assert_reply!(c, ["SISMEMBER", "s", "05"], b":0\r\n");
    assert_reply!(c, ["SISMEMBER", "s", "x"], b":0\r\n");
    assert_reply!(c, ["SISMEMBER", "nokey", "1"], b":0\r\n");
    assert_reply!(
        c,
        ["SMISMEMBER", "s", "1", "x", "3", "+3"],
        b"*4\r\n:1\r\n:0\r\n:1\r\n:0\r\n"
    );
    assert_reply!(c, ["SMISMEMBER", "nokey", "a", "b"], b"*2\r\n:0\r\n:0\r\n");
    assert_reply!(c, ["SMEMBERS", "nokey"], b"*0\r\n");
    assert_reply!(c, ["SREM", "s", "1", "1", "x", "100"], b":1\r\n");
    assert_reply!(
        c,
        ["SMEMBERS", "s"],
        b"*4\r\n$3\r\n-10\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n5\r\n"
    );
    assert_reply!(c, ["SREM", "nokey", "a"], b":0\r\n");
    assert_reply!(c, ["SREM", "s", "2", "3", "5", "-10"], b":4\r\n");
    assert_reply!(c, ["SCARD", "s"], b":0\r\n");
    assert_reply!(
        c,
        ["SADD", "s"],
        b"-ERR wrong number of arguments for 'sadd' command\r\n"
    );
    assert_reply!(
        c,
        ["SREM", "s"],
        b"-ERR wrong number of arguments for 'srem' command\r\n"
    );
    assert_reply!(
        c,
        ["SMISMEMBER", "s"],
        b"-ERR wrong number of arguments for 'smismember' command\r\n"
    );
    assert_reply!(
        c,
        [
            "SADD",
            "n",
            "-9223372036854775808",
            "9223372036854775807",
            "0"
        ],
        b":3\r\n"
    );
    assert_reply!(
        c,
        ["SMEMBERS", "n"],
        b"*3\r\n$20\r\n-9223372036854775808\r\n$1\r\n0\r\n$19\r\n9223372036854775807\r\n"
    );
    assert_reply!(c, ["SADD", "one", "x"], b":1\r\n");
    assert_reply!(c, ["SMEMBERS", "one"], b"*1\r\n$1\r\nx\r\n");
    assert_reply!(c, ["SPOP", "one"], b"$1\r\nx\r\n");
    assert_reply!(c, ["SCARD", "one"], b":0\r\n");
}

#[tokio::test]
async fn wrong_type() {
    let (_server, mut c) = start().await;
    assert_reply!(c, ["HSET", "h", "f", "v"], b":1\r\n");
    assert_reply!(
        c,
        ["SADD", "h", "a"],
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_reply!(
        c,
        ["SREM", "h", "a"],
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_reply!(
        c,
        ["SMEMBERS", "h"],
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_reply!(
        c,
        ["SISMEMBER", "h", "a"],
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_reply!(
        c,
        ["SMISMEMBER", "h", "a"],
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_reply!(
        c,
        ["SCARD", "h"],
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_reply!(
        c,
        ["SPOP", "h"],
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_reply!(
        c,
        ["SPOP", "h", "2"],
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_reply!(
        c,
        ["SRANDMEMBER", "h"],
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_reply!(
        c,
        ["SRANDMEMBER", "h", "2"],
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_reply!(
        c,
        ["SMOVE", "h", "s", "a"],
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_reply!(
        c,
        ["SINTER", "h"],
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_reply!(
        c,
        ["SINTERCARD", "1", "h"],
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_reply!(
        c,
        ["SINTERSTORE", "d", "h"],
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_reply!(
        c,
        ["SUNION", "h"],
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_reply!(
        c,
        ["SUNIONSTORE", "d", "h"],
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_reply!(
        c,
        ["SDIFF", "h"],
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_reply!(
        c,
        ["SDIFFSTORE", "d", "h"],
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_reply!(
        c,
        ["SSCAN", "h", "0"],
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_reply!(c, ["SADD", "s", "1"], b":1\r\n");
    assert_reply!(
        c,
        ["SMOVE", "s", "h", "1"],
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_reply!(
        c,
        ["SINTER", "s", "h"],
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_reply!(
        c,
        ["SINTER", "nokey", "h"],
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_reply!(
        c,
        ["SUNION", "s", "nokey", "h"],
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_reply!(
        c,
        ["SDIFF", "nokey", "h"],
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_reply!(
        c,
        ["SDIFF", "h", "nokey"],
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_reply!(
        c,
        ["SINTERCARD", "2", "nokey", "h"],
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_reply!(c, ["HLEN", "h"], b":1\r\n");
}

#[tokio::test]
async fn spop_and_srandmember_deterministic() {
    let (_server, mut c) = start().await;
    assert_reply!(c, ["SPOP", "nokey"], b"$-1\r\n");
    assert_reply!(c, ["SPOP", "nokey", "3"], b"*0\r\n");
    assert_reply!(c, ["SPOP", "nokey", "0"], b"*0\r\n");
    assert_reply!(
        c,
        ["SPOP", "nokey", "x"],
        b"-ERR value is out of range, must be positive\r\n"
    );
    assert_reply!(
        c,
        ["SPOP", "nokey", "-1"],
        b"-ERR value is out of range, must be positive\r\n"
    );
    assert_reply!(c, ["SPOP", "nokey", "1", "2"], b"-ERR syntax error\r\n");
    assert_reply!(c, ["SRANDMEMBER", "nokey"], b"$-1\r\n");
    assert_reply!(c, ["SRANDMEMBER", "nokey", "3"], b"*0\r\n");
    assert_reply!(c, ["SRANDMEMBER", "nokey", "-3"], b"*0\r\n");
    assert_reply!(
        c,
        ["SRANDMEMBER", "nokey", "x"],
        b"-ERR value is not an integer or out of range\r\n"
    );
    assert_reply!(
        c,
        ["SRANDMEMBER", "nokey", "1", "2"],
        b"-ERR syntax error\r\n"
    );
    assert_reply!(c, ["SRANDMEMBER", "nokey", "-9223372036854775808"], b"-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807\r\n");
    assert_reply!(c, ["SADD", "s", "7"], b":1\r\n");
    assert_reply!(c, ["SRANDMEMBER", "s"], b"$1\r\n7\r\n");
    assert_reply!(c, ["SRANDMEMBER", "s", "0"], b"*0\r\n");
    assert_reply!(
        c,
        ["SRANDMEMBER", "s", "-3"],
        b"*3\r\n$1\r\n7\r\n$1\r\n7\r\n$1\r\n7\r\n"
    );
    assert_reply!(c, ["SRANDMEMBER", "s", "5"], b"*1\r\n$1\r\n7\r\n");
    assert_reply!(c, ["SADD", "s", "3", "11"], b":2\r\n");
    assert_reply!(
        c,
        ["SRANDMEMBER", "s", "3"],
        b"*3\r\n$1\r\n3\r\n$1\r\n7\r\n$2\r\n11\r\n"
    );
    assert_reply!(
        c,
        ["SRANDMEMBER", "s", "9223372036854775807"],
        b"*3\r\n$1\r\n3\r\n$1\r\n7\r\n$2\r\n11\r\n"
    );
    assert_reply!(c, ["SPOP", "s", "0"], b"*0\r\n");
    assert_reply!(
        c,
        ["SMEMBERS", "s"],
        b"*3\r\n$1\r\n3\r\n$1\r\n7\r\n$2\r\n11\r\n"
    );
    assert_reply!(
        c,
        ["SPOP", "s", "3"],
        b"*3\r\n$1\r\n3\r\n$1\r\n7\r\n$2\r\n11\r\n"
    );
    assert_reply!(c, ["SCARD", "s"], b":0\r\n");
    assert_reply!(c, ["SADD", "s", "5"], b":1\r\n");
    assert_reply!(c, ["SPOP", "s", "1"], b"*1\r\n$1\r\n5\r\n");
    assert_reply!(c, ["SCARD", "s"], b":0\r\n");
    assert_reply!(c, ["SADD", "s", "5", "6"], b":2\r\n");
    assert_reply!(c, ["SPOP", "s", "100"], b"*2\r\n$1\r\n5\r\n$1\r\n6\r\n");
    assert_reply!(c, ["SCARD", "s"], b":0\r\n");
}

#[tokio::test]
async fn smove() {
    let (_server, mut c) = start().await;
    assert_reply!(c, ["SMOVE", "nosrc", "dst", "m"], b":0\r\n");
    assert_reply!(c, ["SADD", "src", "a", "b", "1"], b":3\r\n");
    assert_reply!(c, ["SMOVE", "src", "dst", "zz"], b":0\r\n");
    assert_reply!(c, ["SMOVE", "src", "dst", "a"], b":1\r\n");
    assert_reply!(c, ["SMEMBERS", "dst"], b"*1\r\n$1\r\na\r\n");
    assert_reply!(c, ["SISMEMBER", "src", "a"], b":0\r\n");
    assert_reply!(c, ["SMOVE", "src", "src", "b"], b":1\r\n");
    assert_reply!(c, ["SMOVE", "src", "src", "zz"], b":0\r\n");
    assert_reply!(c, ["SADD", "dst", "b"], b":1\r\n");
    assert_reply!(c, ["SMOVE", "src", "dst", "b"], b":1\r\n");
    assert_reply!(c, ["SMEMBERS", "src"], b"*1\r\n$1\r\n1\r\n");
    assert_reply!(c, ["SMOVE", "src", "dst", "1"], b":1\r\n");
    assert_reply!(c, ["SCARD", "src"], b":0\r\n");
    assert_reply!(c, ["SISMEMBER", "dst", "1"], b":1\r\n");
}

#[tokio::test]
async fn sinter_sunion_sdiff() {
    let (_server, mut c) = start().await;
    assert_reply!(c, ["SADD", "a", "1", "2", "3", "4"], b":4\r\n");
    assert_reply!(c, ["SADD", "b", "2", "3", "4", "5"], b":4\r\n");
    assert_reply!(c, ["SADD", "c", "3", "4", "6"], b":3\r\n");
    assert_reply!(
        c,
        ["SINTER", "a", "b", "c"],
        b"*2\r\n$1\r\n3\r\n$1\r\n4\r\n"
    );
    assert_reply!(
        c,
        ["SINTER", "a"],
        b"*4\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n4\r\n"
    );
    assert_reply!(c, ["SINTER", "a", "nokey"], b"*0\r\n");
    assert_reply!(c, ["SINTER", "nokey", "a"], b"*0\r\n");
    assert_reply!(
        c,
        ["SUNION", "a", "b", "c"],
        b"*6\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n4\r\n$1\r\n5\r\n$1\r\n6\r\n"
    );
    assert_reply!(
        c,
        ["SUNION", "nokey", "a"],
        b"*4\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n4\r\n"
    );
    assert_reply!(c, ["SUNION", "nokey"], b"*0\r\n");
    assert_reply!(c, ["SDIFF", "a", "b"], b"*1\r\n$1\r\n1\r\n");
    assert_reply!(c, ["SDIFF", "a", "b", "c"], b"*1\r\n$1\r\n1\r\n");
    assert_reply!(c, ["SDIFF", "b", "a"], b"*1\r\n$1\r\n5\r\n");
    assert_reply!(c, ["SDIFF", "a", "a"], b"*0\r\n");
    assert_reply!(c, ["SDIFF", "nokey", "a"], b"*0\r\n");
    assert_reply!(
        c,
        ["SDIFF", "a", "nokey"],
        b"*4\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n4\r\n"
    );
    assert_reply!(c, ["SINTERCARD", "3", "a", "b", "c"], b":2\r\n");
    assert_reply!(c, ["SINTERCARD", "2", "a", "b"], b":3\r\n");
    assert_reply!(c, ["SINTERCARD", "2", "a", "b", "LIMIT", "1"], b":1\r\n");
    assert_reply!(c, ["SINTERCARD", "2", "a", "b", "limit", "0"], b":3\r\n");
    assert_reply!(c, ["SINTERCARD", "2", "a", "b", "LIMIT", "10"], b":3\r\n");
    assert_reply!(c, ["SINTERCARD", "2", "a", "nokey"], b":0\r\n");
    assert_reply!(c, ["SINTERCARD", "1", "nokey"], b":0\r\n");
    assert_reply!(
        c,
        ["SINTERCARD", "x", "a"],
        b"-ERR numkeys should be greater than 0\r\n"
    );
    assert_reply!(
        c,
        ["SINTERCARD", "0", "a"],
        b"-ERR numkeys should be greater than 0\r\n"
    );
    assert_reply!(
        c,
        ["SINTERCARD", "-1", "a"],
        b"-ERR numkeys should be greater than 0\r\n"
    );
    assert_reply!(
        c,
        ["SINTERCARD", "3", "a", "b"],
        b"-ERR Number of keys can't be greater than number of args\r\n"
    );
    assert_reply!(
        c,
        ["SINTERCARD", "1", "a", "LIMIT", "x"],
        b"-ERR LIMIT can't be negative\r\n"
    );
    assert_reply!(
        c,
        ["SINTERCARD", "1", "a", "LIMIT", "-1"],
        b"-ERR LIMIT can't be negative\r\n"
    );
    assert_reply!(c, ["SINTERCARD", "1", "a", "FOO"], b"-ERR syntax error\r\n");
    assert_reply!(
        c,
        ["SINTERCARD", "1", "a", "LIMIT"],
        b"-ERR syntax error\r\n"
    );
    assert_reply!(c, ["SINTERCARD", "1", "a", "b"], b"-ERR syntax error\r\n");
    assert_reply!(
        c,
        ["SINTERCARD", "1", "a", "LIMIT", "1", "LIMIT", "2"],
        b":2\r\n"
    );
    assert_reply!(
        c,
        ["SINTERCARD", "1"],
        b"-ERR wrong number of arguments for 'sintercard' command\r\n"
    );
    assert_reply!(c, ["SADD", "w", "x", "3", "y"], b":3\r\n");
    assert_reply!(c, ["SINTER", "w", "a"], b"*1\r\n$1\r\n3\r\n");
    assert_reply!(c, ["SINTER", "a", "w"], b"*1\r\n$1\r\n3\r\n");
    assert_reply!(c, ["SINTERCARD", "2", "a", "w"], b":1\r\n");
}

#[tokio::test]
async fn store_variants() {
    let (_server, mut c) = start().await;
    assert_reply!(c, ["SADD", "a", "1", "2", "3"], b":3\r\n");
    assert_reply!(c, ["SADD", "b", "2", "3", "4"], b":3\r\n");
    assert_reply!(c, ["SINTERSTORE", "d", "a", "b"], b":2\r\n");
    assert_reply!(c, ["SMEMBERS", "d"], b"*2\r\n$1\r\n2\r\n$1\r\n3\r\n");
    assert_reply!(c, ["SUNIONSTORE", "d", "a", "b"], b":4\r\n");
    assert_reply!(
        c,
        ["SMEMBERS", "d"],
        b"*4\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n4\r\n"
    );
    assert_reply!(c, ["SDIFFSTORE", "d", "a", "b"], b":1\r\n");
    assert_reply!(c, ["SMEMBERS", "d"], b"*1\r\n$1\r\n1\r\n");
    assert_reply!(c, ["SDIFFSTORE", "d", "a", "a"], b":0\r\n");
    assert_reply!(c, ["SCARD", "d"], b":0\r\n");
    assert_reply!(c, ["SUNIONSTORE", "d", "a"], b":3\r\n");
    assert_reply!(c, ["HSET", "h", "f", "v"], b":1\r\n");
    assert_reply!(c, ["SINTERSTORE", "h", "a", "b"], b":2\r\n");
    assert_reply!(c, ["SMEMBERS", "h"], b"*2\r\n$1\r\n2\r\n$1\r\n3\r\n");
    assert_reply!(
        c,
        ["HSET", "h", "f", "v"],
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_reply!(c, ["SUNIONSTORE", "h", "nokey"], b":0\r\n");
    assert_reply!(c, ["HLEN", "h"], b":0\r\n");
    assert_reply!(c, ["SINTERSTORE", "d", "a", "nokey"], b":0\r\n");
    assert_reply!(c, ["SCARD", "d"], b":0\r\n");
    assert_reply!(c, ["SUNIONSTORE", "a", "a", "b"], b":4\r\n");
    assert_reply!(
        c,
        ["SMEMBERS", "a"],
        b"*4\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n4\r\n"
    );
    assert_reply!(c, ["SDIFFSTORE", "b", "b", "a"], b":0\r\n");
    assert_reply!(c, ["SCARD", "b"], b":0\r\n");
    assert_reply!(
        c,
        ["SINTERSTORE", "d"],
        b"-ERR wrong number of arguments for 'sinterstore' command\r\n"
    );
    assert_reply!(
        c,
        ["SUNIONSTORE", "d"],
        b"-ERR wrong number of arguments for 'sunionstore' command\r\n"
    );
}

#[tokio::test]
async fn sscan_intset() {
    let (_server, mut c) = start().await;
    assert_reply!(c, ["SSCAN", "nokey", "0"], b"*2\r\n$1\r\n0\r\n*0\r\n");
    assert_reply!(c, ["SSCAN", "nokey", "x"], b"-ERR invalid cursor\r\n");
    assert_reply!(
        c,
        ["SSCAN", "nokey", "0", "COUNT", "0"],
        b"*2\r\n$1\r\n0\r\n*0\r\n"
    );
    assert_reply!(c, ["SADD", "s", "10", "2", "33"], b":3\r\n");
    assert_reply!(
        c,
        ["SSCAN", "s", "0"],
        b"*2\r\n$1\r\n0\r\n*3\r\n$1\r\n2\r\n$2\r\n10\r\n$2\r\n33\r\n"
    );
    assert_reply!(
        c,
        ["SSCAN", "s", "99"],
        b"*2\r\n$1\r\n0\r\n*3\r\n$1\r\n2\r\n$2\r\n10\r\n$2\r\n33\r\n"
    );
    assert_reply!(
        c,
        ["SSCAN", "s", "0", "MATCH", "3*"],
        b"*2\r\n$1\r\n0\r\n*1\r\n$2\r\n33\r\n"
    );
    assert_reply!(
        c,
        ["SSCAN", "s", "0", "MATCH", "*", "COUNT", "1"],
        b"*2\r\n$1\r\n0\r\n*3\r\n$1\r\n2\r\n$2\r\n10\r\n$2\r\n33\r\n"
    );
    assert_reply!(
        c,
        ["SSCAN", "s", "0", "COUNT", "0"],
        b"-ERR syntax error\r\n"
    );
    assert_reply!(
        c,
        ["SSCAN", "s", "0", "COUNT", "x"],
        b"-ERR value is not an integer or out of range\r\n"
    );
    assert_reply!(c, ["SSCAN", "s", "0", "MATCH"], b"-ERR syntax error\r\n");
    assert_reply!(
        c,
        ["SSCAN", "s", "0", "TYPE", "string"],
        b"-ERR syntax error\r\n"
    );
    assert_reply!(
        c,
        ["SSCAN", "s", "-1"],
        b"*2\r\n$1\r\n0\r\n*3\r\n$1\r\n2\r\n$2\r\n10\r\n$2\r\n33\r\n"
    );
    assert_reply!(
        c,
        ["SSCAN", "s", "18446744073709551616"],
        b"-ERR invalid cursor\r\n"
    );
}

#[tokio::test]
async fn resp3_replies() {
    let (_server, mut c) = start().await;
    hello3(&mut c).await;
    assert_reply!(c, ["SADD", "s", "3", "1", "2"], b":3\r\n");
    assert_reply!(
        c,
        ["SMEMBERS", "s"],
        b"~3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n"
    );
    assert_reply!(c, ["SMEMBERS", "nokey"], b"~0\r\n");
    assert_reply!(
        c,
        ["SINTER", "s", "s"],
        b"~3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n"
    );
    assert_reply!(c, ["SINTER", "s", "nokey"], b"~0\r\n");
    assert_reply!(
        c,
        ["SUNION", "s", "nokey"],
        b"~3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n"
    );
    assert_reply!(
        c,
        ["SDIFF", "s", "nokey"],
        b"~3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n"
    );
    assert_reply!(c, ["SDIFF", "nokey", "s"], b"~0\r\n");
    assert_reply!(c, ["SPOP", "nokey", "2"], b"~0\r\n");
    assert_reply!(c, ["SPOP", "s", "0"], b"~0\r\n");
    assert_reply!(
        c,
        ["SRANDMEMBER", "s", "5"],
        b"*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n"
    );
    assert_reply!(c, ["SRANDMEMBER", "nokey", "5"], b"*0\r\n");
    assert_reply!(c, ["SRANDMEMBER", "nokey"], b"_\r\n");
    assert_reply!(c, ["SMISMEMBER", "s", "1", "9"], b"*2\r\n:1\r\n:0\r\n");
    assert_reply!(c, ["SISMEMBER", "s", "1"], b":1\r\n");
    assert_reply!(
        c,
        ["SSCAN", "s", "0"],
        b"*2\r\n$1\r\n0\r\n*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n"
    );
    assert_reply!(
        c,
        ["SPOP", "s", "10"],
        b"~3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n"
    );
    assert_reply!(c, ["SPOP", "s"], b"_\r\n");
}

#[tokio::test]
async fn intset_converts_at_the_thresholds() {
    let (server, mut c) = start().await;
    let mut args = vec!["SADD".to_string(), "s".into()];
    args.extend((0..512).map(|i| i.to_string()));
    let argv: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
    assert_eq!(c.call(&argv).await, b":512\r\n");
    assert_eq!(encoding(&server, "s"), Some("intset"));
    assert_reply!(c, ["SADD", "s", "0"], b":0\r\n");
    assert_eq!(encoding(&server, "s"), Some("intset"));
    assert_reply!(c, ["SADD", "s", "512"], b":1\r\n");
    assert_eq!(encoding(&server, "s"), Some("hashtable"));
    assert_eq!(members(&mut c, &["SMEMBERS", "s"]).await, range(0, 513));
    // Never back to an intset.
    for i in 1..513 {
        let m = i.to_string();
        assert_eq!(c.call(&["SREM", "s", &m]).await, b":1\r\n");
    }
    assert_eq!(encoding(&server, "s"), Some("hashtable"));
    assert_reply!(c, ["SMEMBERS", "s"], b"*1\r\n$1\r\n0\r\n");

    // Non-canonical integers are strings.
    for (key, member) in [
        ("a", "x"),
        ("b", "01"),
        ("c", "+1"),
        ("d", "1.0"),
        ("e", "-0"),
    ] {
        assert_eq!(c.call(&["SADD", key, "1", member]).await, b":2\r\n");
        assert_eq!(encoding(&server, key), Some("hashtable"), "{member}");
        assert_eq!(
            members(&mut c, &["SMEMBERS", key]).await,
            sorted(vec!["1".into(), member.into()])
        );
    }
    assert_reply!(c, ["SADD", "f", "x", "1"], b":2\r\n");
    assert_eq!(encoding(&server, "f"), Some("hashtable"));
    assert_reply!(c, ["SADD", "g", "-5"], b":1\r\n");
    assert_eq!(encoding(&server, "g"), Some("intset"));

    // Computed sets get the encoding of their members.
    assert_reply!(c, ["SUNIONSTORE", "u", "g", "a"], b":3\r\n");
    assert_eq!(encoding(&server, "u"), Some("hashtable"));
    assert_reply!(c, ["SINTERSTORE", "i", "a", "b"], b":1\r\n");
    assert_eq!(encoding(&server, "i"), Some("intset"));
    assert_reply!(c, ["SDIFFSTORE", "d2", "a", "b"], b":1\r\n");
    assert_eq!(encoding(&server, "d2"), Some("hashtable"));
    assert_reply!(c, ["SMOVE", "a", "new", "1"], b":1\r\n");
    assert_eq!(encoding(&server, "new"), Some("intset"));
}

#[tokio::test]
async fn hashtable_sets() {
    let (_server, mut c) = start().await;
    let mut args = vec!["SADD".to_string(), "s".into()];
    args.extend((0..300).map(|i| format!("m{i}")));
    let argv: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
    assert_eq!(c.call(&argv).await, b":300\r\n");
    let all: Vec<String> = sorted((0..300).map(|i| format!("m{i}")).collect());
    assert_eq!(members(&mut c, &["SMEMBERS", "s"]).await, all);
    assert_eq!(members(&mut c, &["SUNION", "s", "nokey"]).await, all);
    assert_eq!(members(&mut c, &["SINTER", "s", "s"]).await, all);
    assert_eq!(members(&mut c, &["SRANDMEMBER", "s", "1000"]).await, all);

    // SSCAN visits everything, with MATCH filtering.
    let mut seen = sorted(
        scan_pages(&mut c, &["SSCAN", "s"], &["COUNT", "25"])
            .await
            .concat(),
    );
    seen.dedup();
    assert_eq!(seen, all);
    let matched: Vec<String> = scan_pages(&mut c, &["SSCAN", "s"], &["MATCH", "m2?"])
        .await
        .concat();
    assert_eq!(
        sorted(matched),
        sorted((20..30).map(|i| format!("m{i}")).collect())
    );

    // Random picks: distinct for positive counts, exactly |count| for negative ones.
    for _ in 0..10 {
        let picks = strings(c.frame(&["SRANDMEMBER", "s", "50"]).await);
        let mut uniq = sorted(picks.clone());
        uniq.dedup();
        assert_eq!(uniq.len(), 50);
        assert!(uniq.iter().all(|m| all.contains(m)));
        assert_eq!(
            strings(c.frame(&["SRANDMEMBER", "s", "-500"]).await).len(),
            500
        );
    }
    // SPOP removes what it returns.
    let mut popped = strings(c.frame(&["SPOP", "s", "100"]).await);
    assert_eq!(popped.len(), 100);
    assert_reply!(c, ["SCARD", "s"], b":200\r\n");
    let one = c.frame(&["SPOP", "s"]).await;
    popped.push(String::from_utf8_lossy(one.as_bytes().unwrap()).into_owned());
    let rest = members(&mut c, &["SMEMBERS", "s"]).await;
    assert_eq!(rest.len(), 199);
    let mut union = sorted([rest, popped].concat());
    union.dedup();
    assert_eq!(union, all);
    let last = strings(c.frame(&["SPOP", "s", "199"]).await);
    assert_eq!(last.len(), 199);
    assert_reply!(c, ["SCARD", "s"], b":0\r\n");
}

#[tokio::test]
async fn writes_touch_watched_keys_only_when_they_change() {
    let (server, mut c) = start().await;
    let mut other = connect(&server).await;
    assert_reply!(c, ["SADD", "w", "m"], b":1\r\n");
    assert_reply!(c, ["SADD", "src", "m", "n", "o"], b":3\r\n");
    for (cmd, changes) in [
        (&["SADD", "w", "m"][..], false),
        (&["SREM", "w", "zz"][..], false),
        (&["SMOVE", "src", "w", "m"][..], false),
        (&["SMOVE", "src", "w", "zz"][..], false),
        (&["SINTERSTORE", "x", "nokey"][..], false),
        (&["SPOP", "nokey", "3"][..], false),
        (&["SPOP", "w", "0"][..], false),
        (&["SMOVE", "src", "w", "n"][..], true),
        (&["SADD", "w", "p"][..], true),
        (&["SREM", "w", "p"][..], true),
        (&["SUNIONSTORE", "w", "w", "src"][..], true),
        (&["SINTERSTORE", "w", "nokey"][..], true),
        (&["SADD", "w", "m"][..], true),
        (&["SPOP", "w"][..], true),
    ] {
        assert_reply!(c, ["WATCH", "w"], b"+OK\r\n");
        other.call(cmd).await;
        assert_reply!(c, ["MULTI"], b"+OK\r\n");
        assert_reply!(c, ["PING"], b"+QUEUED\r\n");
        let want: &[u8] = if changes {
            b"*-1\r\n"
        } else {
            b"*1\r\n+PONG\r\n"
        };
        assert_eq!(c.call(&["EXEC"]).await, want, "{cmd:?}");
    }
}

#[tokio::test]
async fn intset_limit_comes_from_the_config() {
    let config = rediscover_testserver::config::Config {
        set_max_intset_entries: 2,
        ..Default::default()
    };
    let server = TestServer::builder().config(config).start().await.unwrap();
    let mut c = connect(&server).await;
    assert_reply!(c, ["SADD", "s", "1", "2"], b":2\r\n");
    assert_eq!(encoding(&server, "s"), Some("intset"));
    assert_reply!(c, ["SADD", "s", "3"], b":1\r\n");
    assert_eq!(encoding(&server, "s"), Some("hashtable"));
    assert_reply!(c, ["SADD", "a", "1", "2"], b":2\r\n");
    assert_reply!(c, ["SADD", "b", "3"], b":1\r\n");
    assert_reply!(c, ["SUNIONSTORE", "u", "a", "b"], b":3\r\n");
    assert_eq!(encoding(&server, "u"), Some("hashtable"));
    assert_reply!(c, ["SUNIONSTORE", "u", "a"], b":2\r\n");
    assert_eq!(encoding(&server, "u"), Some("intset"));
}

/// Keyspace hits and misses counted by one command, as Redis 7.0.15 counts them (read
/// lookups only; STORE variants read their sources like SINTER does).
#[tokio::test]
async fn keyspace_hits_and_misses() {
    let (server, mut c) = start().await;
    let stats = |server: &TestServer| {
        let node = server.node().lock();
        (node.stats.keyspace_hits, node.stats.keyspace_misses)
    };
    assert_reply!(c, ["SADD", "a", "1"], b":1\r\n");
    assert_reply!(c, ["HSET", "h", "f", "v"], b":1\r\n");
    for (cmd, hits, misses) in [
        (&["SINTERSTORE", "d", "a", "nokey"][..], 1, 1),
        (&["SUNIONSTORE", "d", "a", "nokey"][..], 1, 1),
        (&["SDIFFSTORE", "d", "a", "nokey"][..], 1, 1),
        (&["SINTER", "a", "nokey"][..], 1, 1),
        (&["SINTERCARD", "2", "a", "nokey"][..], 1, 1),
        (&["SUNION", "nokey", "nokey2"][..], 0, 2),
        (&["SMOVE", "a", "b", "1"][..], 0, 0),
        (&["SPOP", "nokey"][..], 0, 0),
        (&["SRANDMEMBER", "a"][..], 0, 1),
        (&["SSCAN", "a", "0"][..], 0, 1),
        (&["SMISMEMBER", "a", "1"][..], 0, 1),
        (&["HRANDFIELD", "h"][..], 1, 0),
        (&["HSCAN", "h", "0"][..], 1, 0),
        (&["HMGET", "h", "f"][..], 1, 0),
        (&["HSET", "h", "g", "1"][..], 0, 0),
        (&["HINCRBY", "h", "x", "1"][..], 0, 0),
        (&["SADD", "a", "1"][..], 0, 0),
        (&["HGET", "a", "f"][..], 1, 0),
        (&["SDIFF", "nokey", "a"][..], 1, 1),
    ] {
        let before = stats(&server);
        c.call(cmd).await;
        let after = stats(&server);
        assert_eq!(
            (after.0 - before.0, after.1 - before.1),
            (hits, misses),
            "{cmd:?}"
        );
    }
}
