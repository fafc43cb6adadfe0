//! List commands, byte for byte as Redis 7.0.15 answers them (expected replies were recorded
//! from a real Redis), and blocking pops with several connections.

mod common;

use std::time::Duration;

use common::{connect, hello3, set_string, start, RawConn, Rng, TestServer};

#[tokio::test]
async fn push_and_len() {
    let (server, mut c) = start().await;
    assert_reply!(c, ["LPUSH", "l", "a", "b", "c"], b":3\r\n");
    assert_reply!(c, ["RPUSH", "l", "d", "e"], b":5\r\n");
    assert_reply!(
        c,
        ["LRANGE", "l", "0", "-1"],
        b"*5\r\n$1\r\nc\r\n$1\r\nb\r\n$1\r\na\r\n$1\r\nd\r\n$1\r\ne\r\n"
    );
    assert_reply!(c, ["LLEN", "l"], b":5\r\n");
    assert_reply!(c, ["LLEN", "nokey"], b":0\r\n");
    assert_reply!(c, ["LPUSHX", "nokey", "a"], b":0\r\n");
    assert_reply!(c, ["RPUSHX", "nokey", "a"], b":0\r\n");
    assert_reply!(c, ["LPUSHX", "l", "x", "y"], b":7\r\n");
    assert_reply!(c, ["RPUSHX", "l", "z"], b":8\r\n");
    assert_reply!(
        c,
        ["LRANGE", "l", "0", "-1"],
        b"*8\r\n$1\r\ny\r\n$1\r\nx\r\n$1\r\nc\r\n$1\r\nb\r\n$1\r\na\r\n$1\r\nd\r\n$1\r\ne\r\n$1\r\nz\r\n"
    );
    assert_reply!(
        c,
        ["LPUSH"],
        b"-ERR wrong number of arguments for 'lpush' command\r\n"
    );
    assert_reply!(
        c,
        ["LPUSHX", "l"],
        b"-ERR wrong number of arguments for 'lpushx' command\r\n"
    );
    set_string(&server, "s", "v");
    assert_reply!(
        c,
        ["LPUSH", "s", "a"],
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_reply!(
        c,
        ["RPUSH", "s", "a"],
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_reply!(
        c,
        ["LPUSHX", "s", "a"],
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_reply!(
        c,
        ["RPUSHX", "s", "a"],
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_reply!(
        c,
        ["LLEN", "s"],
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
}

#[tokio::test]
async fn pop_single_and_count() {
    let (server, mut c) = start().await;
    assert_reply!(c, ["RPUSH", "l", "a", "b", "c", "d", "e"], b":5\r\n");
    assert_reply!(c, ["LPOP", "l"], b"$1\r\na\r\n");
    assert_reply!(c, ["RPOP", "l"], b"$1\r\ne\r\n");
    assert_reply!(c, ["LPOP", "l", "0"], b"*0\r\n");
    assert_reply!(c, ["RPOP", "l", "2"], b"*2\r\n$1\r\nd\r\n$1\r\nc\r\n");
    assert_reply!(c, ["LPOP", "l", "10"], b"*1\r\n$1\r\nb\r\n");
    assert_reply!(c, ["LPOP", "l"], b"$-1\r\n");
    assert_reply!(c, ["LPOP", "l", "1"], b"*-1\r\n");
    assert_reply!(c, ["RPOP", "l"], b"$-1\r\n");
    assert_reply!(c, ["RPOP", "l", "0"], b"*-1\r\n");
    assert!(server.node().lock().dbs[0].peek(b"l").is_none());
    assert_reply!(c, ["RPUSH", "l", "a"], b":1\r\n");
    assert_reply!(
        c,
        ["LPOP", "l", "-1"],
        b"-ERR value is out of range, must be positive\r\n"
    );
    assert_reply!(
        c,
        ["LPOP", "l", "x"],
        b"-ERR value is out of range, must be positive\r\n"
    );
    assert_reply!(
        c,
        ["RPOP", "l", "1", "2"],
        b"-ERR wrong number of arguments for 'rpop' command\r\n"
    );
    assert_reply!(
        c,
        ["LPOP", "l", "1", "2"],
        b"-ERR wrong number of arguments for 'lpop' command\r\n"
    );
    set_string(&server, "s", "v");
    assert_reply!(
        c,
        ["LPOP", "s"],
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_reply!(
        c,
        ["RPOP", "s", "1"],
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_reply!(
        c,
        ["RPOP", "nokey", "x"],
        b"-ERR value is out of range, must be positive\r\n"
    );
}

#[tokio::test]
async fn range_and_index() {
    let (server, mut c) = start().await;
    assert_reply!(c, ["RPUSH", "l", "a", "b", "c", "d", "e"], b":5\r\n");
    assert_reply!(c, ["LRANGE", "l", "0", "0"], b"*1\r\n$1\r\na\r\n");
    assert_reply!(
        c,
        ["LRANGE", "l", "-2", "-1"],
        b"*2\r\n$1\r\nd\r\n$1\r\ne\r\n"
    );
    assert_reply!(
        c,
        ["LRANGE", "l", "-100", "100"],
        b"*5\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n$1\r\ne\r\n"
    );
    assert_reply!(c, ["LRANGE", "l", "3", "1"], b"*0\r\n");
    assert_reply!(c, ["LRANGE", "l", "5", "10"], b"*0\r\n");
    assert_reply!(c, ["LRANGE", "l", "0", "-6"], b"*0\r\n");
    assert_reply!(
        c,
        ["LRANGE", "l", "-9223372036854775808", "9223372036854775807"],
        b"*5\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n$1\r\ne\r\n"
    );
    assert_reply!(
        c,
        ["LRANGE", "l", "x", "1"],
        b"-ERR value is not an integer or out of range\r\n"
    );
    assert_reply!(
        c,
        ["LRANGE", "l", "0", "y"],
        b"-ERR value is not an integer or out of range\r\n"
    );
    assert_reply!(c, ["LRANGE", "nokey", "0", "-1"], b"*0\r\n");
    assert_reply!(
        c,
        ["LRANGE", "nokey", "x", "1"],
        b"-ERR value is not an integer or out of range\r\n"
    );
    assert_reply!(c, ["LINDEX", "l", "0"], b"$1\r\na\r\n");
    assert_reply!(c, ["LINDEX", "l", "-1"], b"$1\r\ne\r\n");
    assert_reply!(c, ["LINDEX", "l", "5"], b"$-1\r\n");
    assert_reply!(c, ["LINDEX", "l", "-6"], b"$-1\r\n");
    assert_reply!(
        c,
        ["LINDEX", "l", "x"],
        b"-ERR value is not an integer or out of range\r\n"
    );
    assert_reply!(c, ["LINDEX", "nokey", "x"], b"$-1\r\n");
    assert_reply!(c, ["LINDEX", "nokey", "0"], b"$-1\r\n");
    set_string(&server, "s", "v");
    assert_reply!(
        c,
        ["LRANGE", "s", "0", "-1"],
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_reply!(
        c,
        ["LINDEX", "s", "0"],
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
}

#[tokio::test]
async fn lset() {
    let (server, mut c) = start().await;
    assert_reply!(c, ["RPUSH", "l", "a", "b", "c"], b":3\r\n");
    assert_reply!(c, ["LSET", "l", "0", "x"], b"+OK\r\n");
    assert_reply!(c, ["LSET", "l", "-1", "z"], b"+OK\r\n");
    assert_reply!(c, ["LSET", "l", "3", "q"], b"-ERR index out of range\r\n");
    assert_reply!(c, ["LSET", "l", "-4", "q"], b"-ERR index out of range\r\n");
    assert_reply!(
        c,
        ["LSET", "l", "x", "q"],
        b"-ERR value is not an integer or out of range\r\n"
    );
    assert_reply!(
        c,
        ["LRANGE", "l", "0", "-1"],
        b"*3\r\n$1\r\nx\r\n$1\r\nb\r\n$1\r\nz\r\n"
    );
    assert_reply!(c, ["LSET", "nokey", "0", "a"], b"-ERR no such key\r\n");
    assert_reply!(c, ["LSET", "nokey", "x", "a"], b"-ERR no such key\r\n");
    set_string(&server, "s", "v");
    assert_reply!(
        c,
        ["LSET", "s", "0", "a"],
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
}

#[tokio::test]
async fn linsert() {
    let (server, mut c) = start().await;
    assert_reply!(c, ["RPUSH", "l", "a", "b", "c"], b":3\r\n");
    assert_reply!(c, ["LINSERT", "l", "BEFORE", "b", "x"], b":4\r\n");
    assert_reply!(c, ["LINSERT", "l", "after", "c", "y"], b":5\r\n");
    assert_reply!(c, ["LINSERT", "l", "Before", "a", "w"], b":6\r\n");
    assert_reply!(c, ["LINSERT", "l", "AFTER", "nope", "z"], b":-1\r\n");
    assert_reply!(
        c,
        ["LRANGE", "l", "0", "-1"],
        b"*6\r\n$1\r\nw\r\n$1\r\na\r\n$1\r\nx\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\ny\r\n"
    );
    assert_reply!(
        c,
        ["LINSERT", "l", "MIDDLE", "a", "z"],
        b"-ERR syntax error\r\n"
    );
    assert_reply!(c, ["LINSERT", "nokey", "BEFORE", "a", "b"], b":0\r\n");
    assert_reply!(
        c,
        ["LINSERT", "nokey", "MIDDLE", "a", "b"],
        b"-ERR syntax error\r\n"
    );
    set_string(&server, "s", "v");
    assert_reply!(
        c,
        ["LINSERT", "s", "BEFORE", "a", "b"],
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_reply!(
        c,
        ["LINSERT", "s", "MIDDLE", "a", "b"],
        b"-ERR syntax error\r\n"
    );
}

#[tokio::test]
async fn lrem() {
    let (server, mut c) = start().await;
    assert_reply!(
        c,
        ["RPUSH", "l", "a", "b", "a", "c", "a", "b", "a"],
        b":7\r\n"
    );
    assert_reply!(c, ["LREM", "l", "2", "a"], b":2\r\n");
    assert_reply!(
        c,
        ["LRANGE", "l", "0", "-1"],
        b"*5\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\na\r\n"
    );
    assert_reply!(c, ["LREM", "l", "-1", "a"], b":1\r\n");
    assert_reply!(
        c,
        ["LRANGE", "l", "0", "-1"],
        b"*4\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\na\r\n$1\r\nb\r\n"
    );
    assert_reply!(c, ["LREM", "l", "0", "b"], b":2\r\n");
    assert_reply!(
        c,
        ["LRANGE", "l", "0", "-1"],
        b"*2\r\n$1\r\nc\r\n$1\r\na\r\n"
    );
    assert_reply!(c, ["LREM", "l", "0", "zz"], b":0\r\n");
    assert_reply!(c, ["LREM", "l", "0", "a"], b":1\r\n");
    assert_reply!(c, ["LREM", "l", "0", "c"], b":1\r\n");
    assert_reply!(c, ["LLEN", "l"], b":0\r\n");
    assert_reply!(
        c,
        ["LREM", "l", "x", "a"],
        b"-ERR value is not an integer or out of range\r\n"
    );
    assert_reply!(c, ["LREM", "nokey", "1", "a"], b":0\r\n");
    assert_reply!(
        c,
        ["LREM", "nokey", "x", "a"],
        b"-ERR value is not an integer or out of range\r\n"
    );
    set_string(&server, "s", "v");
    assert_reply!(
        c,
        ["LREM", "s", "1", "a"],
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_reply!(c, ["RPUSH", "m", "a", "a", "a"], b":3\r\n");
    assert_reply!(c, ["LREM", "m", "-9223372036854775808", "a"], b":3\r\n");
}

#[tokio::test]
async fn ltrim() {
    let (server, mut c) = start().await;
    assert_reply!(c, ["RPUSH", "l", "a", "b", "c", "d", "e", "f"], b":6\r\n");
    assert_reply!(c, ["LTRIM", "l", "1", "-2"], b"+OK\r\n");
    assert_reply!(
        c,
        ["LRANGE", "l", "0", "-1"],
        b"*4\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n$1\r\ne\r\n"
    );
    assert_reply!(c, ["LTRIM", "l", "-2", "100"], b"+OK\r\n");
    assert_reply!(
        c,
        ["LRANGE", "l", "0", "-1"],
        b"*2\r\n$1\r\nd\r\n$1\r\ne\r\n"
    );
    assert_reply!(c, ["LTRIM", "l", "0", "0"], b"+OK\r\n");
    assert_reply!(c, ["LRANGE", "l", "0", "-1"], b"*1\r\n$1\r\nd\r\n");
    assert_reply!(c, ["LTRIM", "l", "1", "0"], b"+OK\r\n");
    assert_reply!(c, ["LLEN", "l"], b":0\r\n");
    assert_reply!(c, ["LTRIM", "nokey", "0", "1"], b"+OK\r\n");
    assert_reply!(
        c,
        ["LTRIM", "nokey", "x", "1"],
        b"-ERR value is not an integer or out of range\r\n"
    );
    assert_reply!(c, ["RPUSH", "m", "a", "b"], b":2\r\n");
    assert_reply!(
        c,
        ["LTRIM", "m", "x", "1"],
        b"-ERR value is not an integer or out of range\r\n"
    );
    assert_reply!(c, ["LTRIM", "m", "5", "9"], b"+OK\r\n");
    assert_reply!(c, ["LLEN", "m"], b":0\r\n");
    set_string(&server, "s", "v");
    assert_reply!(
        c,
        ["LTRIM", "s", "0", "1"],
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
}

#[tokio::test]
async fn lpos() {
    let (server, mut c) = start().await;
    assert_reply!(c, ["RPUSH", "l", "a", "b", "a", "c", "a"], b":5\r\n");
    assert_reply!(c, ["LPOS", "l", "a"], b":0\r\n");
    assert_reply!(c, ["LPOS", "l", "a", "RANK", "2"], b":2\r\n");
    assert_reply!(c, ["LPOS", "l", "a", "RANK", "-1"], b":4\r\n");
    assert_reply!(c, ["LPOS", "l", "a", "RANK", "-2"], b":2\r\n");
    assert_reply!(c, ["LPOS", "l", "a", "RANK", "4"], b"$-1\r\n");
    assert_reply!(
        c,
        ["LPOS", "l", "a", "COUNT", "0"],
        b"*3\r\n:0\r\n:2\r\n:4\r\n"
    );
    assert_reply!(c, ["LPOS", "l", "a", "COUNT", "2"], b"*2\r\n:0\r\n:2\r\n");
    assert_reply!(
        c,
        ["LPOS", "l", "a", "RANK", "2", "COUNT", "0"],
        b"*2\r\n:2\r\n:4\r\n"
    );
    assert_reply!(
        c,
        ["LPOS", "l", "a", "RANK", "-1", "COUNT", "2", "MAXLEN", "3"],
        b"*2\r\n:4\r\n:2\r\n"
    );
    assert_reply!(
        c,
        ["LPOS", "l", "a", "MAXLEN", "1", "RANK", "2"],
        b"$-1\r\n"
    );
    assert_reply!(
        c,
        ["LPOS", "l", "a", "MAXLEN", "2", "COUNT", "0"],
        b"*1\r\n:0\r\n"
    );
    assert_reply!(
        c,
        ["LPOS", "l", "a", "rank", "-9223372036854775808"],
        b":4\r\n"
    );
    assert_reply!(
        c,
        ["LPOS", "l", "a", "RANK", "-9223372036854775807"],
        b"$-1\r\n"
    );
    assert_reply!(
        c,
        [
            "LPOS",
            "l",
            "a",
            "RANK",
            "-9223372036854775808",
            "COUNT",
            "2"
        ],
        b"*3\r\n:4\r\n:2\r\n:0\r\n"
    );
    assert_reply!(c, ["LPOS", "l", "z"], b"$-1\r\n");
    assert_reply!(c, ["LPOS", "l", "z", "COUNT", "1"], b"*0\r\n");
    assert_reply!(
        c,
        ["LPOS", "l", "a", "RANK", "0"],
        b"-ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list\r\n"
    );
    assert_reply!(
        c,
        ["LPOS", "l", "a", "RANK", "x"],
        b"-ERR value is not an integer or out of range\r\n"
    );
    assert_reply!(
        c,
        ["LPOS", "l", "a", "COUNT", "-1"],
        b"-ERR COUNT can't be negative\r\n"
    );
    assert_reply!(
        c,
        ["LPOS", "l", "a", "COUNT", "x"],
        b"-ERR COUNT can't be negative\r\n"
    );
    assert_reply!(
        c,
        ["LPOS", "l", "a", "MAXLEN", "-1"],
        b"-ERR MAXLEN can't be negative\r\n"
    );
    assert_reply!(
        c,
        ["LPOS", "l", "a", "MAXLEN", "x"],
        b"-ERR MAXLEN can't be negative\r\n"
    );
    assert_reply!(c, ["LPOS", "l", "a", "FOO"], b"-ERR syntax error\r\n");
    assert_reply!(c, ["LPOS", "l", "a", "RANK"], b"-ERR syntax error\r\n");
    assert_reply!(
        c,
        ["LPOS", "l", "a", "COUNT", "1", "RANK"],
        b"-ERR syntax error\r\n"
    );
    assert_reply!(c, ["LPOS", "nokey", "a"], b"$-1\r\n");
    assert_reply!(c, ["LPOS", "nokey", "a", "COUNT", "0"], b"*0\r\n");
    assert_reply!(
        c,
        ["LPOS", "nokey", "a", "RANK", "0"],
        b"-ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list\r\n"
    );
    set_string(&server, "s", "v");
    assert_reply!(
        c,
        ["LPOS", "s", "a"],
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_reply!(
        c,
        ["LPOS", "s", "a", "RANK", "0"],
        b"-ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list\r\n"
    );
}

#[tokio::test]
async fn lmove_and_rpoplpush() {
    let (server, mut c) = start().await;
    assert_reply!(c, ["RPUSH", "src", "a", "b", "c"], b":3\r\n");
    assert_reply!(c, ["LMOVE", "src", "dst", "LEFT", "RIGHT"], b"$1\r\na\r\n");
    assert_reply!(c, ["LMOVE", "src", "dst", "right", "left"], b"$1\r\nc\r\n");
    assert_reply!(c, ["LRANGE", "src", "0", "-1"], b"*1\r\n$1\r\nb\r\n");
    assert_reply!(
        c,
        ["LRANGE", "dst", "0", "-1"],
        b"*2\r\n$1\r\nc\r\n$1\r\na\r\n"
    );
    assert_reply!(c, ["RPOPLPUSH", "src", "dst"], b"$1\r\nb\r\n");
    assert_reply!(c, ["LLEN", "src"], b":0\r\n");
    assert_reply!(
        c,
        ["LRANGE", "dst", "0", "-1"],
        b"*3\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\na\r\n"
    );
    assert!(server.node().lock().dbs[0].peek(b"src").is_none());
    assert_reply!(c, ["LMOVE", "src", "dst", "LEFT", "LEFT"], b"$-1\r\n");
    assert_reply!(c, ["RPOPLPUSH", "src", "dst"], b"$-1\r\n");
    assert_reply!(
        c,
        ["LMOVE", "src", "dst", "UP", "LEFT"],
        b"-ERR syntax error\r\n"
    );
    assert_reply!(
        c,
        ["LMOVE", "src", "dst", "LEFT", "DOWN"],
        b"-ERR syntax error\r\n"
    );
    set_string(&server, "s", "v");
    assert_reply!(
        c,
        ["LMOVE", "s", "dst", "LEFT", "LEFT"],
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_reply!(
        c,
        ["LMOVE", "dst", "s", "LEFT", "LEFT"],
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_reply!(
        c,
        ["RPOPLPUSH", "dst", "s"],
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_reply!(
        c,
        ["LRANGE", "dst", "0", "-1"],
        b"*3\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\na\r\n"
    );
    assert_reply!(
        c,
        ["RPOPLPUSH", "s", "nokey"],
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_reply!(c, ["LMOVE", "nokey", "s", "LEFT", "LEFT"], b"$-1\r\n");
}

#[tokio::test]
async fn lmove_same_key_rotates() {
    let (_server, mut c) = start().await;
    assert_reply!(c, ["RPUSH", "l", "a", "b", "c"], b":3\r\n");
    assert_reply!(c, ["LMOVE", "l", "l", "LEFT", "RIGHT"], b"$1\r\na\r\n");
    assert_reply!(
        c,
        ["LRANGE", "l", "0", "-1"],
        b"*3\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\na\r\n"
    );
    assert_reply!(c, ["LMOVE", "l", "l", "RIGHT", "LEFT"], b"$1\r\na\r\n");
    assert_reply!(
        c,
        ["LRANGE", "l", "0", "-1"],
        b"*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n"
    );
    assert_reply!(c, ["RPOPLPUSH", "l", "l"], b"$1\r\nc\r\n");
    assert_reply!(
        c,
        ["LRANGE", "l", "0", "-1"],
        b"*3\r\n$1\r\nc\r\n$1\r\na\r\n$1\r\nb\r\n"
    );
    assert_reply!(c, ["LMOVE", "l", "l", "LEFT", "LEFT"], b"$1\r\nc\r\n");
    assert_reply!(
        c,
        ["LRANGE", "l", "0", "-1"],
        b"*3\r\n$1\r\nc\r\n$1\r\na\r\n$1\r\nb\r\n"
    );
    assert_reply!(c, ["RPUSH", "one", "x"], b":1\r\n");
    assert_reply!(c, ["RPOPLPUSH", "one", "one"], b"$1\r\nx\r\n");
    assert_reply!(c, ["LRANGE", "one", "0", "-1"], b"*1\r\n$1\r\nx\r\n");
}

#[tokio::test]
async fn lmpop() {
    let (server, mut c) = start().await;
    assert_reply!(c, ["RPUSH", "l", "a", "b", "c", "d"], b":4\r\n");
    assert_reply!(c, ["RPUSH", "m", "x"], b":1\r\n");
    assert_reply!(
        c,
        ["LMPOP", "2", "nokey", "l", "LEFT"],
        b"*2\r\n$1\r\nl\r\n*1\r\n$1\r\na\r\n"
    );
    assert_reply!(
        c,
        ["LMPOP", "2", "nokey", "l", "RIGHT", "COUNT", "2"],
        b"*2\r\n$1\r\nl\r\n*2\r\n$1\r\nd\r\n$1\r\nc\r\n"
    );
    assert_reply!(
        c,
        ["LMPOP", "2", "l", "m", "left", "count", "10"],
        b"*2\r\n$1\r\nl\r\n*1\r\n$1\r\nb\r\n"
    );
    assert_reply!(
        c,
        ["LMPOP", "2", "l", "m", "LEFT", "COUNT", "10"],
        b"*2\r\n$1\r\nm\r\n*1\r\n$1\r\nx\r\n"
    );
    assert_reply!(c, ["LMPOP", "2", "l", "m", "LEFT"], b"*-1\r\n");
    assert_reply!(
        c,
        ["LMPOP", "0", "l", "LEFT"],
        b"-ERR numkeys should be greater than 0\r\n"
    );
    assert_reply!(
        c,
        ["LMPOP", "-1", "l", "LEFT"],
        b"-ERR numkeys should be greater than 0\r\n"
    );
    assert_reply!(
        c,
        ["LMPOP", "x", "l", "LEFT"],
        b"-ERR numkeys should be greater than 0\r\n"
    );
    assert_reply!(c, ["LMPOP", "100", "l", "LEFT"], b"-ERR syntax error\r\n");
    assert_reply!(
        c,
        ["LMPOP", "9223372036854775807", "l", "LEFT"],
        b"-ERR syntax error\r\n"
    );
    assert_reply!(c, ["LMPOP", "1", "l", "MIDDLE"], b"-ERR syntax error\r\n");
    assert_reply!(
        c,
        ["LMPOP", "1", "l", "LEFT", "COUNT", "0"],
        b"-ERR count should be greater than 0\r\n"
    );
    assert_reply!(
        c,
        ["LMPOP", "1", "l", "LEFT", "COUNT", "-1"],
        b"-ERR count should be greater than 0\r\n"
    );
    assert_reply!(
        c,
        ["LMPOP", "1", "l", "LEFT", "COUNT", "x"],
        b"-ERR count should be greater than 0\r\n"
    );
    assert_reply!(
        c,
        ["LMPOP", "1", "l", "LEFT", "COUNT", "1", "COUNT", "1"],
        b"-ERR syntax error\r\n"
    );
    assert_reply!(
        c,
        ["LMPOP", "1", "l", "LEFT", "COUNT"],
        b"-ERR syntax error\r\n"
    );
    assert_reply!(
        c,
        ["LMPOP", "1", "l", "LEFT", "FOO"],
        b"-ERR syntax error\r\n"
    );
    assert_reply!(c, ["LMPOP", "2", "l", "LEFT"], b"-ERR syntax error\r\n");
    assert_reply!(c, ["RPUSH", "n", "1", "2"], b":2\r\n");
    set_string(&server, "s", "v");
    assert_reply!(
        c,
        ["LMPOP", "2", "n", "s", "LEFT"],
        b"*2\r\n$1\r\nn\r\n*1\r\n$1\r\n1\r\n"
    );
    assert_reply!(
        c,
        ["LMPOP", "2", "s", "n", "LEFT"],
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
}

#[tokio::test]
async fn blocking_commands_serve_at_once_when_data_exists() {
    let (_server, mut c) = start().await;
    assert_reply!(c, ["RPUSH", "a", "1", "2", "3"], b":3\r\n");
    assert_reply!(c, ["RPUSH", "b", "x"], b":1\r\n");
    assert_reply!(
        c,
        ["BLPOP", "nokey", "a", "b", "0"],
        b"*2\r\n$1\r\na\r\n$1\r\n1\r\n"
    );
    assert_reply!(
        c,
        ["BRPOP", "nokey", "a", "b", "0"],
        b"*2\r\n$1\r\na\r\n$1\r\n3\r\n"
    );
    assert_reply!(
        c,
        ["BLPOP", "b", "a", "1.5"],
        b"*2\r\n$1\r\nb\r\n$1\r\nx\r\n"
    );
    assert_reply!(
        c,
        ["BLMPOP", "0", "2", "nokey", "a", "RIGHT", "COUNT", "5"],
        b"*2\r\n$1\r\na\r\n*1\r\n$1\r\n2\r\n"
    );
    assert_reply!(
        c,
        ["BLMPOP", "0", "1", "nokey", "LEFT", "COUNT", "0"],
        b"-ERR count should be greater than 0\r\n"
    );
    assert_reply!(c, ["RPUSH", "src", "a", "b"], b":2\r\n");
    assert_reply!(
        c,
        ["BLMOVE", "src", "dst", "LEFT", "RIGHT", "0"],
        b"$1\r\na\r\n"
    );
    assert_reply!(c, ["BRPOPLPUSH", "src", "dst", "0"], b"$1\r\nb\r\n");
    assert_reply!(
        c,
        ["LRANGE", "dst", "0", "-1"],
        b"*2\r\n$1\r\nb\r\n$1\r\na\r\n"
    );
    assert_reply!(c, ["BRPOPLPUSH", "dst", "dst", "0"], b"$1\r\na\r\n");
    assert_reply!(
        c,
        ["LRANGE", "dst", "0", "-1"],
        b"*2\r\n$1\r\na\r\n$1\r\nb\r\n"
    );
}

/// Redis 7.0 reads timeouts with `strtold`: hexadecimal numbers, and magnitudes beyond `f64`'s
/// range that a long double still holds, are timeouts too (replies recorded from Redis 7.0.15).
#[tokio::test]
async fn timeouts_use_strtold_syntax() {
    let (_server, mut c) = start().await;
    assert_reply!(c, ["RPUSH", "l", "a", "b"], b":2\r\n");
    assert_reply!(c, ["BLPOP", "l", "0x10"], b"*2\r\n$1\r\nl\r\n$1\r\na\r\n");
    assert_reply!(c, ["BRPOP", "l", "0X1P+4"], b"*2\r\n$1\r\nl\r\n$1\r\nb\r\n");
    // 1/64 s, and a positive value below f64's range (one millisecond): both time out.
    assert_reply!(c, ["BLPOP", "nokey", "0x1p-6"], b"*-1\r\n");
    assert_reply!(c, ["BLPOP", "nokey", "1e-400"], b"*-1\r\n");
    let not_float = b"-ERR timeout is not a float or out of range\r\n";
    assert_reply!(c, ["BLPOP", "nokey", "0x"], not_float);
    assert_reply!(c, ["BLPOP", "nokey", "1e5000"], not_float);
    assert_reply!(c, ["BLPOP", "nokey", "-0x1p-16500"], not_float);
    let negative = b"-ERR timeout is negative\r\n";
    assert_reply!(c, ["BLPOP", "nokey", "1e400"], negative);
    assert_reply!(c, ["BLPOP", "nokey", "-0x1"], negative);
}

#[tokio::test]
async fn blocking_argument_errors() {
    let (server, mut c) = start().await;
    set_string(&server, "s", "v");
    assert_reply!(c, ["RPUSH", "l", "a", "b", "c", "d"], b":4\r\n");
    assert_reply!(c, ["BLPOP", "l", "-1"], b"-ERR timeout is negative\r\n");
    assert_reply!(
        c,
        ["BLPOP", "l", "abc"],
        b"-ERR timeout is not a float or out of range\r\n"
    );
    assert_reply!(c, ["BLPOP", "l", "1e16"], b"-ERR timeout is negative\r\n");
    assert_reply!(c, ["BLPOP", "l", "inf"], b"-ERR timeout is negative\r\n");
    assert_reply!(
        c,
        ["BLPOP", "l", "nan"],
        b"-ERR timeout is not a float or out of range\r\n"
    );
    assert_reply!(
        c,
        ["BLPOP", "l", " 1"],
        b"-ERR timeout is not a float or out of range\r\n"
    );
    assert_reply!(c, ["BRPOP", "l", "-0.5"], b"-ERR timeout is negative\r\n");
    assert_reply!(
        c,
        ["BLPOP", "s", "0"],
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_reply!(
        c,
        ["BLPOP", "s", "l", "0"],
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_reply!(c, ["BLPOP", "l", "s", "0"], b"*2\r\n$1\r\nl\r\n$1\r\na\r\n");
    assert_reply!(
        c,
        ["BRPOP", "s", "0"],
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_reply!(
        c,
        ["BLMPOP", "x", "1", "l", "LEFT"],
        b"-ERR timeout is not a float or out of range\r\n"
    );
    assert_reply!(
        c,
        ["BLMPOP", "0", "x", "l", "LEFT"],
        b"-ERR numkeys should be greater than 0\r\n"
    );
    assert_reply!(
        c,
        ["BLMPOP", "x", "0", "l", "LEFT"],
        b"-ERR numkeys should be greater than 0\r\n"
    );
    assert_reply!(
        c,
        ["BLMPOP", "0", "1", "l", "MIDDLE"],
        b"-ERR syntax error\r\n"
    );
    assert_reply!(
        c,
        ["BLMPOP", "0", "2", "l", "LEFT"],
        b"-ERR syntax error\r\n"
    );
    assert_reply!(
        c,
        ["BLMPOP", "0", "1", "l", "LEFT", "COUNT", "0"],
        b"-ERR count should be greater than 0\r\n"
    );
    assert_reply!(
        c,
        ["BLMPOP", "0", "1", "s", "LEFT"],
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_reply!(
        c,
        ["BLMOVE", "l", "d", "LEFT", "UP", "0"],
        b"-ERR syntax error\r\n"
    );
    assert_reply!(
        c,
        ["BLMOVE", "l", "d", "LEFT", "LEFT", "x"],
        b"-ERR timeout is not a float or out of range\r\n"
    );
    assert_reply!(
        c,
        ["BLMOVE", "l", "d", "LEFT", "LEFT", "-1"],
        b"-ERR timeout is negative\r\n"
    );
    assert_reply!(
        c,
        ["BLMOVE", "s", "d", "LEFT", "LEFT", "0"],
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_reply!(
        c,
        ["BLMOVE", "l", "s", "LEFT", "LEFT", "0"],
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_reply!(
        c,
        ["BRPOPLPUSH", "l", "d", "x"],
        b"-ERR timeout is not a float or out of range\r\n"
    );
    assert_reply!(
        c,
        ["BRPOPLPUSH", "s", "d", "0"],
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_reply!(
        c,
        ["BRPOPLPUSH", "l", "s", "0"],
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_reply!(
        c,
        ["LRANGE", "l", "0", "-1"],
        b"*3\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n"
    );
    assert_reply!(
        c,
        ["BLPOP", "l"],
        b"-ERR wrong number of arguments for 'blpop' command\r\n"
    );
    assert_reply!(
        c,
        ["BLMPOP", "0", "1", "l"],
        b"-ERR wrong number of arguments for 'blmpop' command\r\n"
    );
    assert_reply!(
        c,
        ["BLMOVE", "l", "d", "LEFT", "LEFT"],
        b"-ERR wrong number of arguments for 'blmove' command\r\n"
    );
}

#[tokio::test]
async fn blocking_commands_inside_multi_do_not_block() {
    let (_server, mut c) = start().await;
    assert_reply!(c, ["MULTI"], b"+OK\r\n");
    assert_reply!(c, ["BLPOP", "q", "0"], b"+QUEUED\r\n");
    assert_reply!(c, ["BRPOP", "q", "0"], b"+QUEUED\r\n");
    assert_reply!(c, ["BLMOVE", "q", "r", "LEFT", "LEFT", "0"], b"+QUEUED\r\n");
    assert_reply!(c, ["BRPOPLPUSH", "q", "r", "0"], b"+QUEUED\r\n");
    assert_reply!(c, ["BLMPOP", "0", "1", "q", "LEFT"], b"+QUEUED\r\n");
    assert_reply!(c, ["EXEC"], b"*5\r\n*-1\r\n*-1\r\n$-1\r\n$-1\r\n*-1\r\n");
}

#[tokio::test]
async fn blocking_timeouts() {
    let (_server, mut c) = start().await;
    assert_reply!(c, ["BLPOP", "q", "0.05"], b"*-1\r\n");
    assert_reply!(c, ["BRPOP", "q", "r", "0.05"], b"*-1\r\n");
    assert_reply!(c, ["BLMOVE", "q", "r", "LEFT", "LEFT", "0.05"], b"*-1\r\n");
    assert_reply!(c, ["BRPOPLPUSH", "q", "r", "0.05"], b"*-1\r\n");
    assert_reply!(c, ["BLMPOP", "0.05", "2", "q", "r", "LEFT"], b"*-1\r\n");
    assert_reply!(c, ["BLPOP", "q", "0.0001"], b"*-1\r\n");
}

#[tokio::test]
async fn resp3_replies() {
    let (_server, mut c) = start().await;
    hello3(&mut c).await;
    assert_reply!(c, ["RPUSH", "l", "a", "b", "c"], b":3\r\n");
    assert_reply!(
        c,
        ["LMPOP", "1", "l", "LEFT"],
        b"*2\r\n$1\r\nl\r\n*1\r\n$1\r\na\r\n"
    );
    assert_reply!(c, ["LPOS", "l", "z"], b"_\r\n");
    assert_reply!(c, ["LPOS", "l", "z", "COUNT", "0"], b"*0\r\n");
    assert_reply!(c, ["LINDEX", "l", "5"], b"_\r\n");
    assert_reply!(c, ["LPOP", "nokey"], b"_\r\n");
    assert_reply!(c, ["LPOP", "nokey", "1"], b"_\r\n");
    assert_reply!(c, ["LMPOP", "1", "nokey", "LEFT"], b"_\r\n");
    assert_reply!(c, ["BLPOP", "l", "0"], b"*2\r\n$1\r\nl\r\n$1\r\nb\r\n");
    assert_reply!(
        c,
        ["BLMPOP", "0", "1", "l", "RIGHT", "COUNT", "3"],
        b"*2\r\n$1\r\nl\r\n*1\r\n$1\r\nc\r\n"
    );
    assert_reply!(c, ["BLPOP", "l", "0.01"], b"_\r\n");
    assert_reply!(c, ["LRANGE", "l", "0", "-1"], b"*0\r\n");
}

// Blocking pops with several connections. Replies below were recorded from Redis 7.0.15 with
// the same sequences of commands.

/// Waits until `n` clients are parked by blocking commands.
async fn wait_blocked(server: &TestServer, n: usize) {
    let node = server.node().clone();
    let reached = common::wait_until(Duration::from_secs(5), || {
        let node = node.clone();
        async move { node.lock().waiters.len() == n }
    })
    .await;
    assert!(reached, "expected {n} blocked clients");
}

#[tokio::test]
async fn blpop_is_served_by_a_later_push() {
    let server = TestServer::start().await.unwrap();
    let mut blocked = connect(&server).await;
    let mut c = connect(&server).await;
    blocked.send(&["BLPOP", "a", "b", "0"]).await;
    wait_blocked(&server, 1).await;
    assert_reply!(c, ["RPUSH", "b", "x", "y"], b":2\r\n");
    assert_eq!(blocked.read_raw().await, b"*2\r\n$1\r\nb\r\n$1\r\nx\r\n");
    assert_reply!(c, ["LRANGE", "b", "0", "-1"], b"*1\r\n$1\r\ny\r\n");
    wait_blocked(&server, 0).await;
    // The unblocked connection works normally afterwards.
    assert_reply!(blocked, ["LLEN", "b"], b":1\r\n");
}

#[tokio::test]
async fn blocked_clients_are_served_in_arrival_order() {
    let server = TestServer::start().await.unwrap();
    let mut first = connect(&server).await;
    let mut second = connect(&server).await;
    let mut c = connect(&server).await;
    first.send(&["BRPOP", "q", "0"]).await;
    wait_blocked(&server, 1).await;
    second.send(&["BLPOP", "q", "0"]).await;
    wait_blocked(&server, 2).await;
    assert_reply!(c, ["RPUSH", "q", "x", "y"], b":2\r\n");
    assert_eq!(first.read_raw().await, b"*2\r\n$1\r\nq\r\n$1\r\ny\r\n");
    assert_eq!(second.read_raw().await, b"*2\r\n$1\r\nq\r\n$1\r\nx\r\n");
    assert_reply!(c, ["LLEN", "q"], b":0\r\n");
    assert!(server.node().lock().dbs[0].peek(b"q").is_none());
}

#[tokio::test]
async fn one_push_serves_only_as_many_clients_as_elements() {
    let server = TestServer::start().await.unwrap();
    let mut first = connect(&server).await;
    let mut second = connect(&server).await;
    let mut c = connect(&server).await;
    first.send(&["BLPOP", "q", "0"]).await;
    wait_blocked(&server, 1).await;
    second.send(&["BLPOP", "q", "0"]).await;
    wait_blocked(&server, 2).await;
    assert_reply!(c, ["LPUSH", "q", "x"], b":1\r\n");
    assert_eq!(first.read_raw().await, b"*2\r\n$1\r\nq\r\n$1\r\nx\r\n");
    wait_blocked(&server, 1).await;
    assert_reply!(c, ["LPUSH", "q", "z"], b":1\r\n");
    assert_eq!(second.read_raw().await, b"*2\r\n$1\r\nq\r\n$1\r\nz\r\n");
}

#[tokio::test]
async fn blocking_timeouts_and_resp3_nulls() {
    let server = TestServer::start().await.unwrap();
    let mut c = connect(&server).await;
    assert_reply!(c, ["BLPOP", "q", "0.1"], b"*-1\r\n");
    // Redis answers every list-blocked client that times out with a null array, BLMOVE too.
    assert_reply!(c, ["BLMOVE", "q", "r", "LEFT", "LEFT", "0.1"], b"*-1\r\n");
    assert_reply!(c, ["BRPOPLPUSH", "q", "r", "0.1"], b"*-1\r\n");
    hello3(&mut c).await;
    assert_reply!(c, ["BLPOP", "q", "0.01"], b"_\r\n");
    assert_reply!(c, ["BLMOVE", "q", "r", "LEFT", "LEFT", "0.01"], b"_\r\n");
    assert_reply!(c, ["BLMPOP", "0.01", "1", "q", "LEFT"], b"_\r\n");
    assert_reply!(c, ["MULTI"], b"+OK\r\n");
    assert_reply!(c, ["BLMOVE", "z", "y", "LEFT", "LEFT", "0"], b"+QUEUED\r\n");
    assert_reply!(c, ["EXEC"], b"*1\r\n_\r\n");
    wait_blocked(&server, 0).await;
}

#[tokio::test]
async fn blmove_chain_wakes_the_client_blocked_on_the_destination() {
    let server = TestServer::start().await.unwrap();
    let mut mover = connect(&server).await;
    let mut popper = connect(&server).await;
    let mut c = connect(&server).await;
    mover
        .send(&["BLMOVE", "m1", "m2", "LEFT", "RIGHT", "0"])
        .await;
    wait_blocked(&server, 1).await;
    popper.send(&["BLPOP", "m2", "0"]).await;
    wait_blocked(&server, 2).await;
    assert_reply!(c, ["RPUSH", "m1", "v"], b":1\r\n");
    assert_eq!(mover.read_raw().await, b"$1\r\nv\r\n");
    assert_eq!(popper.read_raw().await, b"*2\r\n$2\r\nm2\r\n$1\r\nv\r\n");
    assert_reply!(c, ["LLEN", "m1"], b":0\r\n");
    assert_reply!(c, ["LLEN", "m2"], b":0\r\n");
}

#[tokio::test]
async fn circular_and_self_brpoplpush() {
    let server = TestServer::start().await.unwrap();
    let mut a = connect(&server).await;
    let mut b = connect(&server).await;
    let mut c = connect(&server).await;
    a.send(&["BRPOPLPUSH", "l1", "l2", "0"]).await;
    wait_blocked(&server, 1).await;
    b.send(&["BRPOPLPUSH", "l2", "l1", "0"]).await;
    wait_blocked(&server, 2).await;
    assert_reply!(c, ["RPUSH", "l1", "foo"], b":1\r\n");
    assert_eq!(a.read_raw().await, b"$3\r\nfoo\r\n");
    assert_eq!(b.read_raw().await, b"$3\r\nfoo\r\n");
    assert_reply!(c, ["LRANGE", "l1", "0", "-1"], b"*1\r\n$3\r\nfoo\r\n");
    assert_reply!(c, ["LLEN", "l2"], b":0\r\n");

    a.send(&["BRPOPLPUSH", "bl", "bl", "0"]).await;
    wait_blocked(&server, 1).await;
    assert_reply!(c, ["RPUSH", "bl", "foo"], b":1\r\n");
    assert_eq!(a.read_raw().await, b"$3\r\nfoo\r\n");
    assert_reply!(c, ["LRANGE", "bl", "0", "-1"], b"*1\r\n$3\r\nfoo\r\n");
}

#[tokio::test]
async fn blmpop_is_served_with_its_count() {
    let server = TestServer::start().await.unwrap();
    let mut blocked = connect(&server).await;
    let mut c = connect(&server).await;
    blocked
        .send(&["BLMPOP", "0", "2", "x", "y", "RIGHT", "COUNT", "2"])
        .await;
    wait_blocked(&server, 1).await;
    assert_reply!(c, ["RPUSH", "y", "1", "2", "3"], b":3\r\n");
    assert_eq!(
        blocked.read_raw().await,
        b"*2\r\n$1\r\ny\r\n*2\r\n$1\r\n3\r\n$1\r\n2\r\n"
    );
    assert_reply!(c, ["LRANGE", "y", "0", "-1"], b"*1\r\n$1\r\n1\r\n");
}

#[tokio::test]
async fn same_key_twice_is_served_once() {
    let server = TestServer::start().await.unwrap();
    let mut blocked = connect(&server).await;
    let mut c = connect(&server).await;
    blocked.send(&["BLPOP", "k", "k", "0"]).await;
    wait_blocked(&server, 1).await;
    assert_reply!(c, ["RPUSH", "k", "x", "y"], b":2\r\n");
    assert_eq!(blocked.read_raw().await, b"*2\r\n$1\r\nk\r\n$1\r\nx\r\n");
    assert_reply!(c, ["LLEN", "k"], b":1\r\n");
    wait_blocked(&server, 0).await;
}

#[tokio::test]
async fn a_disconnected_blocked_client_does_not_swallow_a_push() {
    let server = TestServer::start().await.unwrap();
    let mut gone = connect(&server).await;
    let mut c = connect(&server).await;
    gone.send(&["BLPOP", "q", "0"]).await;
    wait_blocked(&server, 1).await;
    drop(gone);
    wait_blocked(&server, 0).await;
    assert_reply!(c, ["RPUSH", "q", "v"], b":1\r\n");
    assert_reply!(c, ["LRANGE", "q", "0", "-1"], b"*1\r\n$1\r\nv\r\n");
}

#[tokio::test]
async fn commands_pipelined_after_a_blocking_one_wait_for_it() {
    let server = TestServer::start().await.unwrap();
    let mut blocked = connect(&server).await;
    let mut c = connect(&server).await;
    blocked
        .send_raw(b"*3\r\n$5\r\nBLPOP\r\n$1\r\nq\r\n$1\r\n0\r\n*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nLLEN\r\n$1\r\nq\r\n")
        .await;
    wait_blocked(&server, 1).await;
    assert!(blocked
        .read_raw_timeout(Duration::from_millis(50))
        .await
        .is_none());
    assert_reply!(c, ["RPUSH", "q", "v", "w"], b":2\r\n");
    assert_eq!(blocked.read_raw().await, b"*2\r\n$1\r\nq\r\n$1\r\nv\r\n");
    assert_eq!(blocked.read_raw().await, b"+PONG\r\n");
    assert_eq!(blocked.read_raw().await, b":1\r\n");
}

#[tokio::test]
async fn a_transaction_wakes_blocked_clients_only_after_exec() {
    let server = TestServer::start().await.unwrap();
    let mut blocked = connect(&server).await;
    let mut c = connect(&server).await;
    blocked.send(&["BLPOP", "q", "0"]).await;
    wait_blocked(&server, 1).await;
    assert_reply!(c, ["MULTI"], b"+OK\r\n");
    assert_reply!(c, ["LPUSH", "q", "a"], b"+QUEUED\r\n");
    assert_reply!(c, ["LPUSH", "q", "b"], b"+QUEUED\r\n");
    assert_reply!(c, ["LPUSH", "q", "c"], b"+QUEUED\r\n");
    assert_reply!(c, ["EXEC"], b"*3\r\n:1\r\n:2\r\n:3\r\n");
    assert_eq!(blocked.read_raw().await, b"*2\r\n$1\r\nq\r\n$1\r\nc\r\n");

    // Served from the key that received data first, not the first key of the command.
    blocked.send(&["BLPOP", "a", "b", "0"]).await;
    wait_blocked(&server, 1).await;
    assert_reply!(c, ["MULTI"], b"+OK\r\n");
    assert_reply!(c, ["RPUSH", "b", "x"], b"+QUEUED\r\n");
    assert_reply!(c, ["RPUSH", "a", "y"], b"+QUEUED\r\n");
    assert_reply!(c, ["EXEC"], b"*2\r\n:1\r\n:1\r\n");
    assert_eq!(blocked.read_raw().await, b"*2\r\n$1\r\nb\r\n$1\r\nx\r\n");

    // Pushed and popped again inside the transaction: nothing for the blocked client.
    blocked.send(&["BLPOP", "e", "0"]).await;
    wait_blocked(&server, 1).await;
    assert_reply!(c, ["MULTI"], b"+OK\r\n");
    assert_reply!(c, ["LPUSH", "e", "a"], b"+QUEUED\r\n");
    assert_reply!(c, ["LPOP", "e"], b"+QUEUED\r\n");
    assert_reply!(c, ["EXEC"], b"*2\r\n:1\r\n$1\r\na\r\n");
    wait_blocked(&server, 1).await;
    assert_reply!(c, ["LPUSH", "e", "b"], b":1\r\n");
    assert_eq!(blocked.read_raw().await, b"*2\r\n$1\r\ne\r\n$1\r\nb\r\n");
}

#[tokio::test]
async fn a_key_of_another_type_keeps_the_client_blocked() {
    let server = TestServer::start().await.unwrap();
    let mut blocked = connect(&server).await;
    let mut c = connect(&server).await;
    blocked.send(&["BLPOP", "list", "0"]).await;
    wait_blocked(&server, 1).await;
    // As `MULTI; LPUSH list a; DEL list; SET list foo; EXEC` in Redis: the key is signalled
    // but holds a string when the client is looked at.
    set_string(&server, "list", "foo");
    assert_reply!(c, ["PING"], b"+PONG\r\n");
    wait_blocked(&server, 1).await;
    assert!(blocked
        .read_raw_timeout(Duration::from_millis(50))
        .await
        .is_none());
    server.node().lock().dbs[0].remove(b"list");
    assert_reply!(c, ["LPUSH", "list", "b"], b":1\r\n");
    assert_eq!(blocked.read_raw().await, b"*2\r\n$4\r\nlist\r\n$1\r\nb\r\n");
}

#[tokio::test]
async fn brpoplpush_to_a_wrong_type_fails_and_keeps_the_element() {
    let server = TestServer::start().await.unwrap();
    let mut blocked = connect(&server).await;
    let mut c = connect(&server).await;
    set_string(&server, "target", "nolist");
    blocked.send(&["BRPOPLPUSH", "blist", "target", "0"]).await;
    wait_blocked(&server, 1).await;
    assert_reply!(c, ["RPUSH", "blist", "foo"], b":1\r\n");
    assert_eq!(
        blocked.read_raw().await,
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_reply!(c, ["LRANGE", "blist", "0", "-1"], b"*1\r\n$3\r\nfoo\r\n");
}

#[tokio::test]
async fn changes_are_counted_as_redis_counts_them() {
    // rdb_changes_since_last_save deltas recorded from Redis 7.0.15 for the same commands.
    let server = TestServer::start().await.unwrap();
    let mut c = connect(&server).await;
    let cases: &[(&[&str], u64)] = &[
        (&["LPUSH", "l", "a", "b", "c", "a"], 4),
        (&["LPOP", "l", "2"], 2),
        (&["LTRIM", "l", "0", "-1"], 0),
        (&["LREM", "l", "0", "a"], 1),
        (&["RPUSH", "l", "x", "y", "z"], 3),
        (&["LMOVE", "l", "m", "LEFT", "LEFT"], 1),
        (&["LINSERT", "l", "BEFORE", "y", "q"], 1),
        (&["LSET", "l", "0", "w"], 1),
        (&["RPOPLPUSH", "l", "m"], 1),
        (&["LMPOP", "1", "l", "LEFT", "COUNT", "2"], 2),
        (&["BLPOP", "m", "0"], 1),
        (&["LTRIM", "m", "1", "0"], 1),
        (&["LPUSHX", "nokey", "a"], 0),
        (&["LREM", "m", "0", "zz"], 0),
    ];
    for (argv, delta) in cases {
        let before = server.node().lock().dirty;
        c.call(argv).await;
        let after = server.node().lock().dirty;
        assert_eq!(after - before, *delta, "{argv:?}");
    }
}

/// Random list commands sent to this server and to a real Redis, replies compared byte for
/// byte, when `REDISCOVER_REAL_REDIS=127.0.0.1:PORT` names a scratch Redis 7.0 (it is
/// FLUSHALLed).
#[tokio::test]
async fn differential_against_real_redis() {
    let Ok(addr) = std::env::var("REDISCOVER_REAL_REDIS") else {
        eprintln!("REDISCOVER_REAL_REDIS not set: real-Redis comparison skipped");
        return;
    };
    let server = TestServer::start().await.unwrap();
    let mut ours = connect(&server).await;
    let mut real = RawConn::connect(addr.parse().unwrap()).await;
    real.call(&["FLUSHALL"]).await;
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let keys = ["a", "b", "c"];
    let values = ["x", "y", "z", "1", "2", "10", "-3", ""];
    let ends = ["LEFT", "RIGHT"];
    let ints = ["-5", "-2", "-1", "0", "1", "2", "3", "7", "x"];
    for _ in 0..20_000 {
        let argv: Vec<&str> = match rng.below(19) {
            0 => vec![
                "LPUSH",
                rng.pick(&keys),
                rng.pick(&values),
                rng.pick(&values),
            ],
            1 => vec!["RPUSH", rng.pick(&keys), rng.pick(&values)],
            2 => vec!["LPUSHX", rng.pick(&keys), rng.pick(&values)],
            3 => vec!["RPOP", rng.pick(&keys)],
            4 => vec!["LPOP", rng.pick(&keys), rng.pick(&ints)],
            5 => vec!["LRANGE", rng.pick(&keys), rng.pick(&ints), rng.pick(&ints)],
            6 => vec!["LINDEX", rng.pick(&keys), rng.pick(&ints)],
            7 => vec!["LSET", rng.pick(&keys), rng.pick(&ints), rng.pick(&values)],
            8 => vec![
                "LINSERT",
                rng.pick(&keys),
                rng.pick(&["BEFORE", "AFTER"]),
                rng.pick(&values),
                rng.pick(&values),
            ],
            9 => vec!["LREM", rng.pick(&keys), rng.pick(&ints), rng.pick(&values)],
            10 => vec!["LTRIM", rng.pick(&keys), rng.pick(&ints), rng.pick(&ints)],
            11 => vec![
                "LPOS",
                rng.pick(&keys),
                rng.pick(&values),
                "RANK",
                rng.pick(&ints),
                "COUNT",
                rng.pick(&ints),
            ],
            12 => vec![
                "LPOS",
                rng.pick(&keys),
                rng.pick(&values),
                "MAXLEN",
                rng.pick(&ints),
            ],
            13 => vec![
                "LMOVE",
                rng.pick(&keys),
                rng.pick(&keys),
                rng.pick(&ends),
                rng.pick(&ends),
            ],
            14 => vec![
                "LMPOP",
                "2",
                rng.pick(&keys),
                rng.pick(&keys),
                rng.pick(&ends),
                "COUNT",
                rng.pick(&ints),
            ],
            15 => vec!["LLEN", rng.pick(&keys)],
            16 => vec![
                "SORT",
                rng.pick(&keys),
                rng.pick(&["ALPHA", "DESC", "ASC"]),
                "LIMIT",
                rng.pick(&ints),
                rng.pick(&ints),
            ],
            17 => vec![
                "SORT",
                rng.pick(&keys),
                "BY",
                rng.pick(&["nosort", "*"]),
                "GET",
                rng.pick(&["#", "*"]),
                "STORE",
                rng.pick(&keys),
            ],
            _ => vec!["BLMPOP", "0.01", "1", rng.pick(&keys), rng.pick(&ends)],
        };
        let want = real.call(&argv).await;
        let got = ours.call(&argv).await;
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(&want),
            "{argv:?}"
        );
    }
}
