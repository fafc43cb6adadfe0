//! DEBUG DIGEST and DEBUG DIGEST-VALUE against replies recorded from Redis 7.0.15:
//! the same dataset gives the same signature here as in Redis, whatever the encodings.

mod common;

use common::{connect, RawConn, TestServer};
use rediscover_testserver::config::Config;

async fn start_debug() -> (TestServer, RawConn) {
    let config = Config {
        enable_debug_command: "yes".into(),
        ..Config::in_process()
    };
    let server = TestServer::builder().config(config).start().await.unwrap();
    let c = connect(&server).await;
    (server, c)
}

/// Every type, listpack and intset encodings, a stream with a deleted entry, an expiry, and a
/// second database.
const DATASET: &[&[&str]] = &[
    &["SET", "s", "hello"],
    &["SET", "n", "12345"],
    &["SET", "big", BIG],
    &["RPUSH", "l", "a", "b", "c", "1", "2", "3"],
    &["SADD", "si", "1", "2", "3", "100"],
    &["SADD", "ss", "a", "b", "c"],
    &["HSET", "h", "f1", "v1", "f2", "v2", "n", "7"],
    &["ZADD", "z", "1", "a", "2.5", "b", "-3", "c", "1e20", "d"],
    &["ZADD", "zi", "1", "10", "2", "20", "inf", "x"],
    &["XADD", "x", "1-1", "f", "v", "g", "w"],
    &["XADD", "x", "2-0", "f", "v2"],
    &["XADD", "x", "3-5", "k", "1"],
    &["XDEL", "x", "2-0"],
    &["SET", "e", "temp"],
    &["PEXPIRE", "e", "100000000"],
    &["SELECT", "3"],
    &["SET", "s", "hello"],
    &["LPUSH", "l2", "z", "y", "x"],
    &["SELECT", "0"],
];

const BIG: &str = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";

#[tokio::test]
async fn digests_match_redis() {
    let (_server, mut c) = start_debug().await;
    assert_eq!(
        c.call(&["DEBUG", "DIGEST"]).await,
        b"+0000000000000000000000000000000000000000\r\n"
    );
    for cmd in DATASET {
        c.call(cmd).await;
    }
    let keys = [
        "s", "n", "big", "l", "si", "ss", "h", "z", "zi", "x", "e", "missing",
    ];
    let mut argv = vec!["DEBUG", "DIGEST-VALUE"];
    argv.extend(keys);
    let expected = "*12\r\n+36b23a1456b2dce2c3ed252c456761301dba8060\r\n\
        +e1cf90774e995ae03de66e8109dc5cb9d9c2dc83\r\n\
        +a3feccdf49de7a6ead85c92d196da37d355d39ea\r\n\
        +28150a3b2cc0efbc98d23e7962f278329e3b583b\r\n\
        +1b4dacdfe78a590c11722a294e97fc48297a2a2c\r\n\
        +593c2414786d75446e97f4ea5d4b731f3313da72\r\n\
        +db9c62f224c42333c2a3d0c9f9dc4e80726002f6\r\n\
        +3fbf3ee5c02b0bccfd5f65118dcb7f6fdf5ce443\r\n\
        +e3f453618a9744699abdea681935e8b55634d1aa\r\n\
        +a285e2a6a604414cdf543db06c32117d5971aff5\r\n\
        +67d6702f154bf82a604e673906d2836f47c7b7cd\r\n\
        +0000000000000000000000000000000000000000\r\n";
    assert_eq!(String::from_utf8_lossy(&c.call(&argv).await), expected);
    assert_eq!(c.call(&["DEBUG", "DIGEST-VALUE"]).await, b"*0\r\n");
    assert_eq!(
        c.call(&["DEBUG", "DIGEST"]).await,
        b"+c0f90ca7c6b87815426ce2662e615c4d79089b9f\r\n"
    );
    // The same values in their big encodings (skiplist, hashtable, a set of strings) digest
    // alike, as in Redis.
    for (name, value) in [
        ("zset-max-listpack-entries", "0"),
        ("hash-max-listpack-entries", "0"),
        ("set-max-intset-entries", "0"),
    ] {
        c.call(&["CONFIG", "SET", name, value]).await;
    }
    c.call(&["ZADD", "z2", "1", "a", "2.5", "b"]).await;
    c.call(&["HSET", "h2", "f1", "v1"]).await;
    c.call(&["SADD", "si2", "1", "2"]).await;
    assert_eq!(
        c.call(&["OBJECT", "ENCODING", "z2"]).await,
        b"$8\r\nskiplist\r\n"
    );
    let expected = "*3\r\n+c45c5b051acd64070e5ed1a949939d5145f806c5\r\n\
        +75b5bdb1966cd0b6f35aac02c5c85dc8498c33b9\r\n\
        +5d9842e5bd79f833c83b3535ec4a6836aba6d1fd\r\n";
    assert_eq!(
        String::from_utf8_lossy(&c.call(&["DEBUG", "DIGEST-VALUE", "z2", "h2", "si2"]).await),
        expected
    );
    // A dataset's digest moves with its database.
    assert_eq!(c.call(&["FLUSHALL"]).await, b"+OK\r\n");
    c.call(&["SET", "s", "hello"]).await;
    let in_db0 = c.call(&["DEBUG", "DIGEST"]).await;
    c.call(&["MOVE", "s", "1"]).await;
    assert_ne!(c.call(&["DEBUG", "DIGEST"]).await, in_db0);
    assert_eq!(
        c.call(&["DEBUG", "DIGEST", "extra"]).await,
        b"-ERR unknown subcommand or wrong number of arguments for 'DIGEST'. Try DEBUG HELP.\r\n"
    );
}
