//! Hash commands, byte for byte against Redis 7.0.15 (expected bytes recorded from a real
//! redis-server). Listpack-encoded hashes have a deterministic order, so their replies are
//! compared exactly; hashtable-encoded ones are compared after sorting.

mod common;

use common::{connect, encoding, hello3, scan_pages, sorted, start, strings, TestServer};

#[tokio::test]
async fn hset_hget_and_listpack_order() {
    let (_server, mut c) = start().await;
    assert_reply!(c, ["HSET", "h", "b", "1", "a", "2", "c", "3"], b":3\r\n");
    assert_reply!(c, ["HSET", "h", "a", "20", "d", "4"], b":1\r\n");
    assert_reply!(c, ["HGETALL", "h"], b"*8\r\n$1\r\nb\r\n$1\r\n1\r\n$1\r\na\r\n$2\r\n20\r\n$1\r\nc\r\n$1\r\n3\r\n$1\r\nd\r\n$1\r\n4\r\n");
    assert_reply!(
        c,
        ["HKEYS", "h"],
        b"*4\r\n$1\r\nb\r\n$1\r\na\r\n$1\r\nc\r\n$1\r\nd\r\n"
    );
    assert_reply!(
        c,
        ["HVALS", "h"],
        b"*4\r\n$1\r\n1\r\n$2\r\n20\r\n$1\r\n3\r\n$1\r\n4\r\n"
    );
    assert_reply!(c, ["HGET", "h", "a"], b"$2\r\n20\r\n");
    assert_reply!(c, ["HGET", "h", "zz"], b"$-1\r\n");
    assert_reply!(c, ["HGET", "nokey", "a"], b"$-1\r\n");
    assert_reply!(c, ["HLEN", "h"], b":4\r\n");
    assert_reply!(c, ["HLEN", "nokey"], b":0\r\n");
    assert_reply!(c, ["HSTRLEN", "h", "a"], b":2\r\n");
    assert_reply!(c, ["HSTRLEN", "h", "zz"], b":0\r\n");
    assert_reply!(c, ["HSTRLEN", "nokey", "a"], b":0\r\n");
    assert_reply!(c, ["HEXISTS", "h", "a"], b":1\r\n");
    assert_reply!(c, ["HEXISTS", "h", "zz"], b":0\r\n");
    assert_reply!(c, ["HEXISTS", "nokey", "a"], b":0\r\n");
    assert_reply!(
        c,
        ["HMGET", "h", "a", "zz", "c"],
        b"*3\r\n$2\r\n20\r\n$-1\r\n$1\r\n3\r\n"
    );
    assert_reply!(c, ["HMGET", "nokey", "a", "b"], b"*2\r\n$-1\r\n$-1\r\n");
    assert_reply!(c, ["HGETALL", "nokey"], b"*0\r\n");
    assert_reply!(c, ["HKEYS", "nokey"], b"*0\r\n");
    assert_reply!(c, ["HVALS", "nokey"], b"*0\r\n");
    assert_reply!(c, ["HMSET", "h", "e", "5", "b", "10"], b"+OK\r\n");
    assert_reply!(c, ["HGETALL", "h"], b"*10\r\n$1\r\nb\r\n$2\r\n10\r\n$1\r\na\r\n$2\r\n20\r\n$1\r\nc\r\n$1\r\n3\r\n$1\r\nd\r\n$1\r\n4\r\n$1\r\ne\r\n$1\r\n5\r\n");
    assert_reply!(
        c,
        ["HSET", "h"],
        b"-ERR wrong number of arguments for 'hset' command\r\n"
    );
    assert_reply!(
        c,
        ["HSET", "h", "a"],
        b"-ERR wrong number of arguments for 'hset' command\r\n"
    );
    assert_reply!(
        c,
        ["HSET", "h", "a", "1", "b"],
        b"-ERR wrong number of arguments for 'hset' command\r\n"
    );
    assert_reply!(
        c,
        ["HMSET", "h", "a"],
        b"-ERR wrong number of arguments for 'hmset' command\r\n"
    );
    assert_reply!(
        c,
        ["HGET", "h"],
        b"-ERR wrong number of arguments for 'hget' command\r\n"
    );
}

#[tokio::test]
async fn hsetnx_and_hdel() {
    let (_server, mut c) = start().await;
    assert_reply!(c, ["HSETNX", "h", "f", "v"], b":1\r\n");
    assert_reply!(c, ["HSETNX", "h", "f", "w"], b":0\r\n");
    assert_reply!(c, ["HGET", "h", "f"], b"$1\r\nv\r\n");
    assert_reply!(c, ["HSETNX", "h", "g", "w"], b":1\r\n");
    assert_reply!(c, ["HDEL", "h", "nope"], b":0\r\n");
    assert_reply!(c, ["HDEL", "h", "f", "nope", "f"], b":1\r\n");
    assert_reply!(c, ["HKEYS", "h"], b"*1\r\n$1\r\ng\r\n");
    assert_reply!(c, ["HDEL", "nokey", "f"], b":0\r\n");
    assert_reply!(c, ["HDEL", "h", "g"], b":1\r\n");
    assert_reply!(c, ["HLEN", "h"], b":0\r\n");
    assert_reply!(c, ["HSET", "h", "a", "1", "b", "2", "c", "3"], b":3\r\n");
    assert_reply!(c, ["HDEL", "h", "a", "b", "c", "d"], b":3\r\n");
    assert_reply!(c, ["HLEN", "h"], b":0\r\n");
}

#[tokio::test]
async fn wrong_type() {
    let (_server, mut c) = start().await;
    assert_reply!(c, ["SADD", "s", "x"], b":1\r\n");
    assert_reply!(
        c,
        ["HSET", "s", "f", "v"],
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_reply!(
        c,
        ["HMSET", "s", "f", "v"],
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_reply!(
        c,
        ["HSETNX", "s", "f", "v"],
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_reply!(
        c,
        ["HGET", "s", "f"],
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_reply!(
        c,
        ["HMGET", "s", "f"],
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_reply!(
        c,
        ["HDEL", "s", "f"],
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_reply!(
        c,
        ["HLEN", "s"],
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_reply!(
        c,
        ["HSTRLEN", "s", "f"],
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_reply!(
        c,
        ["HEXISTS", "s", "f"],
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_reply!(
        c,
        ["HKEYS", "s"],
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_reply!(
        c,
        ["HVALS", "s"],
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_reply!(
        c,
        ["HGETALL", "s"],
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_reply!(
        c,
        ["HINCRBY", "s", "f", "1"],
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_reply!(
        c,
        ["HINCRBYFLOAT", "s", "f", "1"],
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_reply!(
        c,
        ["HRANDFIELD", "s"],
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_reply!(
        c,
        ["HRANDFIELD", "s", "1"],
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_reply!(
        c,
        ["HSCAN", "s", "0"],
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_reply!(
        c,
        ["HINCRBY", "s", "f", "x"],
        b"-ERR value is not an integer or out of range\r\n"
    );
    assert_reply!(
        c,
        ["HINCRBYFLOAT", "s", "f", "x"],
        b"-ERR value is not a valid float\r\n"
    );
    assert_reply!(c, ["HSCAN", "s", "x"], b"-ERR invalid cursor\r\n");
    assert_reply!(c, ["SCARD", "s"], b":1\r\n");
}

#[tokio::test]
async fn hincrby() {
    let (_server, mut c) = start().await;
    assert_reply!(c, ["HINCRBY", "h", "f", "5"], b":5\r\n");
    assert_reply!(c, ["HINCRBY", "h", "f", "-7"], b":-2\r\n");
    assert_reply!(
        c,
        ["HINCRBY", "h", "f", "x"],
        b"-ERR value is not an integer or out of range\r\n"
    );
    assert_reply!(
        c,
        ["HINCRBY", "h", "f", "1.5"],
        b"-ERR value is not an integer or out of range\r\n"
    );
    assert_reply!(
        c,
        [
            "HSET",
            "h",
            "s",
            "abc",
            "big",
            "9223372036854775807",
            "small",
            "-9223372036854775808",
            "lead",
            "01"
        ],
        b":4\r\n"
    );
    assert_reply!(
        c,
        ["HINCRBY", "h", "s", "1"],
        b"-ERR hash value is not an integer\r\n"
    );
    assert_reply!(
        c,
        ["HINCRBY", "h", "lead", "1"],
        b"-ERR hash value is not an integer\r\n"
    );
    assert_reply!(
        c,
        ["HINCRBY", "h", "big", "1"],
        b"-ERR increment or decrement would overflow\r\n"
    );
    assert_reply!(
        c,
        ["HINCRBY", "h", "small", "-1"],
        b"-ERR increment or decrement would overflow\r\n"
    );
    assert_reply!(
        c,
        ["HINCRBY", "h", "big", "-1"],
        b":9223372036854775806\r\n"
    );
    assert_reply!(
        c,
        ["HINCRBY", "h", "f", "9223372036854775807"],
        b":9223372036854775805\r\n"
    );
    assert_reply!(
        c,
        ["HINCRBY", "nokey", "f", "9223372036854775808"],
        b"-ERR value is not an integer or out of range\r\n"
    );
    assert_reply!(c, ["HLEN", "nokey"], b":0\r\n");
    assert_reply!(c, ["HGETALL", "h"], b"*10\r\n$1\r\nf\r\n$19\r\n9223372036854775805\r\n$1\r\ns\r\n$3\r\nabc\r\n$3\r\nbig\r\n$19\r\n9223372036854775806\r\n$5\r\nsmall\r\n$20\r\n-9223372036854775808\r\n$4\r\nlead\r\n$2\r\n01\r\n");
}

#[tokio::test]
async fn hincrbyfloat() {
    let (_server, mut c) = start().await;
    assert_reply!(c, ["HINCRBYFLOAT", "h", "f", "10.5"], b"$4\r\n10.5\r\n");
    assert_reply!(c, ["HINCRBYFLOAT", "h", "f", "0.1"], b"$4\r\n10.6\r\n");
    assert_reply!(c, ["HINCRBYFLOAT", "h", "f", "-5"], b"$3\r\n5.6\r\n");
    assert_reply!(c, ["HINCRBYFLOAT", "h", "g", "5.0e3"], b"$4\r\n5000\r\n");
    assert_reply!(c, ["HINCRBYFLOAT", "h", "g", "2.0e2"], b"$4\r\n5200\r\n");
    assert_reply!(
        c,
        ["HINCRBYFLOAT", "h", "f", "inf"],
        b"-ERR value is NaN or Infinity\r\n"
    );
    assert_reply!(
        c,
        ["HINCRBYFLOAT", "h", "f", "nan"],
        b"-ERR value is not a valid float\r\n"
    );
    assert_reply!(
        c,
        ["HINCRBYFLOAT", "h", "f", "abc"],
        b"-ERR value is not a valid float\r\n"
    );
    assert_reply!(
        c,
        ["HINCRBYFLOAT", "h", "f", " 1"],
        b"-ERR value is not a valid float\r\n"
    );
    assert_reply!(
        c,
        ["HSET", "h", "s", "abc", "sp", " 1", "i", "3"],
        b":3\r\n"
    );
    assert_reply!(
        c,
        ["HINCRBYFLOAT", "h", "s", "1"],
        b"-ERR hash value is not a float\r\n"
    );
    assert_reply!(
        c,
        ["HINCRBYFLOAT", "h", "sp", "1"],
        b"-ERR hash value is not a float\r\n"
    );
    assert_reply!(c, ["HINCRBYFLOAT", "h", "i", "1.25"], b"$4\r\n4.25\r\n");
    assert_reply!(c, ["HINCRBYFLOAT", "h", "neg", "-3.5"], b"$4\r\n-3.5\r\n");
    assert_reply!(c, ["HINCRBYFLOAT", "h", "neg", "3.5"], b"$1\r\n0\r\n");
    assert_reply!(c, ["HINCRBYFLOAT", "h", "e", "1e-20"], b"$1\r\n0\r\n");
    assert_reply!(c, ["HINCRBYFLOAT", "h", "p", "0.1"], b"$3\r\n0.1\r\n");
    assert_reply!(c, ["HINCRBYFLOAT", "h", "p", "0.2"], b"$3\r\n0.3\r\n");
    assert_reply!(c, ["HINCRBYFLOAT", "h", "p", "-0.3"], b"$1\r\n0\r\n");
    assert_reply!(
        c,
        ["HINCRBYFLOAT", "h", "q", "100000.1"],
        b"$24\r\n100000.10000000000000142\r\n"
    );
    assert_reply!(c, ["HSET", "h", "hx", "0x10"], b":1\r\n");
    assert_reply!(c, ["HINCRBYFLOAT", "h", "hx", "1"], b"$2\r\n17\r\n");
    assert_reply!(
        c,
        ["HINCRBYFLOAT", "h", "q", "1e-5000"],
        b"-ERR value is not a valid float\r\n"
    );
    assert_reply!(
        c,
        ["HINCRBYFLOAT", "h", "q", "1.18973149535723176502e+4933"],
        b"-ERR value is not a valid float\r\n"
    );
    assert_reply!(
        c,
        ["HINCRBY", "h", "f", "1"],
        b"-ERR hash value is not an integer\r\n"
    );
    assert_reply!(c, ["HGETALL", "h"], b"*20\r\n$1\r\nf\r\n$3\r\n5.6\r\n$1\r\ng\r\n$4\r\n5200\r\n$1\r\ns\r\n$3\r\nabc\r\n$2\r\nsp\r\n$2\r\n 1\r\n$1\r\ni\r\n$4\r\n4.25\r\n$3\r\nneg\r\n$1\r\n0\r\n$1\r\ne\r\n$1\r\n0\r\n$1\r\np\r\n$1\r\n0\r\n$1\r\nq\r\n$24\r\n100000.10000000000000142\r\n$2\r\nhx\r\n$2\r\n17\r\n");
}

#[tokio::test]
async fn hrandfield_deterministic() {
    let (_server, mut c) = start().await;
    assert_reply!(c, ["HRANDFIELD", "nokey"], b"$-1\r\n");
    assert_reply!(c, ["HRANDFIELD", "nokey", "5"], b"*0\r\n");
    assert_reply!(c, ["HRANDFIELD", "nokey", "5", "WITHVALUES"], b"*0\r\n");
    assert_reply!(
        c,
        ["HRANDFIELD", "nokey", "x"],
        b"-ERR value is not an integer or out of range\r\n"
    );
    assert_reply!(
        c,
        ["HRANDFIELD", "nokey", "1", "withvalues", "x"],
        b"-ERR syntax error\r\n"
    );
    assert_reply!(
        c,
        ["HRANDFIELD", "nokey", "1", "foo"],
        b"-ERR syntax error\r\n"
    );
    assert_reply!(c, ["HRANDFIELD", "nokey", "-9223372036854775808"], b"-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807\r\n");
    assert_reply!(
        c,
        ["HRANDFIELD", "nokey", "-5000000000000000000", "withvalues"],
        b"-ERR value is out of range\r\n"
    );
    assert_reply!(
        c,
        ["HRANDFIELD", "nokey", "5000000000000000000", "withvalues"],
        b"-ERR value is out of range\r\n"
    );
    assert_reply!(c, ["HSET", "h", "a", "1"], b":1\r\n");
    assert_reply!(c, ["HRANDFIELD", "h"], b"$1\r\na\r\n");
    assert_reply!(c, ["HRANDFIELD", "h", "0"], b"*0\r\n");
    assert_reply!(c, ["HRANDFIELD", "h", "0", "withvalues"], b"*0\r\n");
    assert_reply!(
        c,
        ["HRANDFIELD", "h", "-3"],
        b"*3\r\n$1\r\na\r\n$1\r\na\r\n$1\r\na\r\n"
    );
    assert_reply!(
        c,
        ["HRANDFIELD", "h", "-2", "WITHVALUES"],
        b"*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\na\r\n$1\r\n1\r\n"
    );
    assert_reply!(c, ["HSET", "h", "b", "2", "c", "3"], b":2\r\n");
    assert_reply!(
        c,
        ["HRANDFIELD", "h", "3"],
        b"*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n"
    );
    assert_reply!(
        c,
        ["HRANDFIELD", "h", "10", "withvalues"],
        b"*6\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n$1\r\nc\r\n$1\r\n3\r\n"
    );
    assert_reply!(
        c,
        ["HRANDFIELD", "h", "4000000000000000000", "withvalues"],
        b"*6\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n$1\r\nc\r\n$1\r\n3\r\n"
    );
}

#[tokio::test]
async fn hscan_listpack() {
    let (_server, mut c) = start().await;
    assert_reply!(c, ["HSCAN", "nokey", "0"], b"*2\r\n$1\r\n0\r\n*0\r\n");
    assert_reply!(c, ["HSCAN", "nokey", "x"], b"-ERR invalid cursor\r\n");
    assert_reply!(
        c,
        ["HSCAN", "nokey", "0", "COUNT", "0"],
        b"*2\r\n$1\r\n0\r\n*0\r\n"
    );
    assert_reply!(c, ["HSET", "h", "a", "1", "b", "2", "ab", "3"], b":3\r\n");
    assert_reply!(c, ["HSCAN", "h", "0"], b"*2\r\n$1\r\n0\r\n*6\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n$2\r\nab\r\n$1\r\n3\r\n");
    assert_reply!(c, ["HSCAN", "h", "123"], b"*2\r\n$1\r\n0\r\n*6\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n$2\r\nab\r\n$1\r\n3\r\n");
    assert_reply!(
        c,
        ["HSCAN", "h", "0", "MATCH", "a*"],
        b"*2\r\n$1\r\n0\r\n*4\r\n$1\r\na\r\n$1\r\n1\r\n$2\r\nab\r\n$1\r\n3\r\n"
    );
    assert_reply!(c, ["HSCAN", "h", "0", "MATCH", "*", "COUNT", "1"], b"*2\r\n$1\r\n0\r\n*6\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n$2\r\nab\r\n$1\r\n3\r\n");
    assert_reply!(
        c,
        ["HSCAN", "h", "0", "match", "a*", "count", "100"],
        b"*2\r\n$1\r\n0\r\n*4\r\n$1\r\na\r\n$1\r\n1\r\n$2\r\nab\r\n$1\r\n3\r\n"
    );
    assert_reply!(
        c,
        ["HSCAN", "h", "0", "COUNT", "0"],
        b"-ERR syntax error\r\n"
    );
    assert_reply!(
        c,
        ["HSCAN", "h", "0", "COUNT", "x"],
        b"-ERR value is not an integer or out of range\r\n"
    );
    assert_reply!(c, ["HSCAN", "h", "0", "MATCH"], b"-ERR syntax error\r\n");
    assert_reply!(
        c,
        ["HSCAN", "h", "0", "TYPE", "string"],
        b"-ERR syntax error\r\n"
    );
    assert_reply!(
        c,
        ["HSCAN", "h", "18446744073709551616"],
        b"-ERR invalid cursor\r\n"
    );
    assert_reply!(c, ["HSCAN", "h", "-1"], b"*2\r\n$1\r\n0\r\n*6\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n$2\r\nab\r\n$1\r\n3\r\n");
    assert_reply!(c, ["HSCAN", "h", "0", "NOVALUES"], b"-ERR syntax error\r\n");
}

#[tokio::test]
async fn resp3_replies() {
    let (_server, mut c) = start().await;
    hello3(&mut c).await;
    assert_reply!(c, ["HSET", "h", "b", "1", "a", "2"], b":2\r\n");
    assert_reply!(
        c,
        ["HGETALL", "h"],
        b"%2\r\n$1\r\nb\r\n$1\r\n1\r\n$1\r\na\r\n$1\r\n2\r\n"
    );
    assert_reply!(c, ["HGETALL", "nokey"], b"%0\r\n");
    assert_reply!(c, ["HKEYS", "h"], b"*2\r\n$1\r\nb\r\n$1\r\na\r\n");
    assert_reply!(c, ["HMGET", "h", "a", "zz"], b"*2\r\n$1\r\n2\r\n_\r\n");
    assert_reply!(c, ["HGET", "h", "zz"], b"_\r\n");
    assert_reply!(
        c,
        ["HRANDFIELD", "h", "2", "WITHVALUES"],
        b"*2\r\n*2\r\n$1\r\nb\r\n$1\r\n1\r\n*2\r\n$1\r\na\r\n$1\r\n2\r\n"
    );
    assert_reply!(c, ["HRANDFIELD", "h", "2"], b"*2\r\n$1\r\nb\r\n$1\r\na\r\n");
    assert_reply!(c, ["HRANDFIELD", "nokey", "2", "withvalues"], b"*0\r\n");
    assert_reply!(c, ["HRANDFIELD", "nokey"], b"_\r\n");
    assert_reply!(c, ["HINCRBYFLOAT", "h", "f", "1.5"], b"$3\r\n1.5\r\n");
    assert_reply!(c, ["HSCAN", "h", "0"], b"*2\r\n$1\r\n0\r\n*6\r\n$1\r\nb\r\n$1\r\n1\r\n$1\r\na\r\n$1\r\n2\r\n$1\r\nf\r\n$3\r\n1.5\r\n");
    assert_reply!(c, ["HSET", "h1", "a", "1"], b":1\r\n");
    assert_reply!(
        c,
        ["HRANDFIELD", "h1", "-2", "withvalues"],
        b"*2\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n"
    );
}

#[tokio::test]
async fn converts_to_hashtable_at_the_thresholds() {
    let (server, mut c) = start().await;
    // Redis 7.0's default is 512; pin the threshold this test walks across.
    assert_reply!(
        c,
        ["CONFIG", "SET", "hash-max-listpack-entries", "128"],
        b"+OK\r\n"
    );
    let mut args = vec!["HSET".to_string(), "h".into()];
    for i in 0..128 {
        args.push(format!("f{i}"));
        args.push(format!("v{i}"));
    }
    let argv: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
    assert_eq!(c.call(&argv).await, b":128\r\n");
    assert_eq!(encoding(&server, "h"), Some("listpack"));
    // Updating an existing field does not grow the hash.
    assert_reply!(c, ["HSET", "h", "f0", "x"], b":0\r\n");
    assert_eq!(encoding(&server, "h"), Some("listpack"));
    assert_reply!(c, ["HSET", "h", "f128", "v128"], b":1\r\n");
    assert_eq!(encoding(&server, "h"), Some("hashtable"));
    let keys = sorted(strings(c.frame(&["HKEYS", "h"]).await));
    let mut want: Vec<String> = (0..129).map(|i| format!("f{i}")).collect();
    want.sort();
    assert_eq!(keys, want);
    // Never back to a listpack, even when it shrinks.
    for i in 1..129 {
        let f = format!("f{i}");
        assert_eq!(c.call(&["HDEL", "h", &f]).await, b":1\r\n");
    }
    assert_eq!(encoding(&server, "h"), Some("hashtable"));
    assert_reply!(c, ["HGETALL", "h"], b"*2\r\n$2\r\nf0\r\n$1\r\nx\r\n");

    // A 64-byte value fits, 65 bytes converts (also on update and on HINCRBYFLOAT results).
    let v64 = "x".repeat(64);
    let v65 = "x".repeat(65);
    assert_reply!(c, ["HSET", "a", "f", &v64], b":1\r\n");
    assert_eq!(encoding(&server, "a"), Some("listpack"));
    assert_reply!(c, ["HSET", "a", "f", &v65], b":0\r\n");
    assert_eq!(encoding(&server, "a"), Some("hashtable"));
    assert_reply!(c, ["HSETNX", "b", &v65, "v"], b":1\r\n");
    assert_eq!(encoding(&server, "b"), Some("hashtable"));
    assert_reply!(c, ["HMSET", "c", "f", "1", "g", &v65], b"+OK\r\n");
    assert_eq!(encoding(&server, "c"), Some("hashtable"));
    assert_reply!(
        c,
        ["HINCRBYFLOAT", "d", "f", "1e70"],
        b"$71\r\n10000000000000000000222479489586148259025995410601157579323600873193472\r\n"
    );
    assert_eq!(encoding(&server, "d"), Some("hashtable"));
}

#[tokio::test]
async fn hashtable_scan_returns_every_field() {
    let (_server, mut c) = start().await;
    for i in 0..300 {
        let (f, v) = (format!("f{i}"), format!("v{i}"));
        assert_eq!(c.call(&["HSET", "h", &f, &v]).await, b":1\r\n");
    }
    let mut seen = Vec::new();
    for items in scan_pages(&mut c, &["HSCAN", "h"], &["COUNT", "20"]).await {
        for pair in items.chunks(2) {
            assert_eq!(pair[0][1..], pair[1][1..], "value belongs to field");
            seen.push(pair[0].clone());
        }
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 300);
    // MATCH filters by field.
    let matched: Vec<String> = scan_pages(&mut c, &["HSCAN", "h"], &["MATCH", "f1?"])
        .await
        .concat();
    let want: Vec<String> = (10..20)
        .flat_map(|i| [format!("f{i}"), format!("v{i}")])
        .collect();
    assert_eq!(sorted(matched), sorted(want));
}

#[tokio::test]
async fn hrandfield_is_random_but_well_formed() {
    let (_server, mut c) = start().await;
    assert_reply!(
        c,
        ["HSET", "h", "a", "1", "b", "2", "c", "3", "d", "4"],
        b":4\r\n"
    );
    let mut ten = vec!["HSET", "ten"];
    for f in ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"] {
        ten.extend([f, "v"]);
    }
    assert_eq!(c.call(&ten).await, b":10\r\n");
    for _ in 0..20 {
        let picks = strings(c.frame(&["HRANDFIELD", "h", "2"]).await);
        assert_eq!(picks.len(), 2);
        assert_ne!(picks[0], picks[1], "distinct");
        // Small samples of a listpack come in listpack order.
        let picks = strings(c.frame(&["HRANDFIELD", "ten", "3"]).await);
        assert_eq!(picks.len(), 3);
        assert!(
            picks.windows(2).all(|w| w[0] < w[1]),
            "listpack order: {picks:?}"
        );
        let picks = strings(c.frame(&["HRANDFIELD", "h", "-6", "WITHVALUES"]).await);
        assert_eq!(picks.len(), 12);
        for pair in picks.chunks(2) {
            let want = ((pair[0].as_bytes()[0] - b'a' + b'1') as char).to_string();
            assert_eq!(pair[1], want);
        }
        let one = c.frame(&["HRANDFIELD", "h"]).await;
        assert!(["a", "b", "c", "d"].contains(&&*String::from_utf8_lossy(one.as_bytes().unwrap())));
    }
    // A hashtable-encoded hash.
    for i in 0..200 {
        let f = format!("f{i}");
        c.call(&["HSET", "t", &f, "v"]).await;
    }
    let picks = strings(c.frame(&["HRANDFIELD", "t", "150"]).await);
    assert_eq!(picks.len(), 150);
    assert_eq!(
        sorted(picks.clone())
            .windows(2)
            .filter(|w| w[0] == w[1])
            .count(),
        0
    );
    assert_eq!(
        strings(c.frame(&["HRANDFIELD", "t", "-300"]).await).len(),
        300
    );
    assert_eq!(
        strings(c.frame(&["HRANDFIELD", "t", "500", "WITHVALUES"]).await).len(),
        400
    );
}

#[tokio::test]
async fn writes_touch_watched_keys_only_when_they_change() {
    let (server, mut c) = start().await;
    let mut other = connect(&server).await;
    assert_reply!(c, ["HSET", "h", "f", "v"], b":1\r\n");
    for (cmd, changes) in [
        (&["HSETNX", "h", "f", "w"][..], false),
        (&["HDEL", "h", "zz"][..], false),
        (&["HDEL", "nokey", "zz"][..], false),
        (&["HSET", "h", "f", "v"][..], true),
        (&["HINCRBY", "h", "n", "0"][..], true),
        (&["HSETNX", "h", "g", "w"][..], true),
        (&["HDEL", "h", "g"][..], true),
    ] {
        assert_reply!(c, ["WATCH", "h"], b"+OK\r\n");
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
async fn thresholds_come_from_the_config() {
    let config = rediscover_testserver::config::Config {
        hash_max_listpack_entries: 2,
        hash_max_listpack_value: 3,
        ..Default::default()
    };
    let server = TestServer::builder().config(config).start().await.unwrap();
    let mut c = connect(&server).await;
    assert_reply!(c, ["HSET", "h", "a", "1", "b", "2"], b":2\r\n");
    assert_eq!(encoding(&server, "h"), Some("listpack"));
    assert_reply!(c, ["HSET", "h", "c", "3"], b":1\r\n");
    assert_eq!(encoding(&server, "h"), Some("hashtable"));
    assert_reply!(c, ["HSET", "v", "a", "123"], b":1\r\n");
    assert_eq!(encoding(&server, "v"), Some("listpack"));
    assert_reply!(c, ["HINCRBY", "v", "a", "1000"], b":1123\r\n");
    assert_eq!(encoding(&server, "v"), Some("hashtable"));
}
