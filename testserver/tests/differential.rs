//! Differential tests: the same scripted command sequences run against the in-process test
//! server and, when `REDISCOVER_REAL_REDIS=host:port` is set, against a real Redis 7.0; the
//! reply bytes must be identical, step by step.
//!
//! Without the variable the scripts still run against the test server and every reply must be
//! well-formed RESP; the comparison is reported as skipped.
//!
//! Each script group runs on its own connection in its own database (SELECT n), which is
//! flushed first on the real Redis, so groups can run in parallel against one Redis.
//!
//! A step is an inline command line (split like redis-cli does). A prefix changes how its
//! reply is compared:
//! - `~` same RESP type only (nondeterministic values: HELLO's client id, SRANDMEMBER...);
//! - `^` same elements in any order (hash-table iteration order differs between servers).

mod common;

use std::fmt::Write as _;
use std::net::ToSocketAddrs;

use bytes::BytesMut;
use common::{start, RawConn};
use rediscover::resp::{decode, encode_frame, split_args, Frame, Limits};

/// How a step's replies are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Compare {
    Exact,
    Shape,
    Unordered,
}

fn parse_step(line: &str) -> (Compare, Vec<Vec<u8>>) {
    let (mode, rest) = match line.as_bytes().first() {
        Some(b'~') => (Compare::Shape, &line[1..]),
        Some(b'^') => (Compare::Unordered, &line[1..]),
        _ => (Compare::Exact, line),
    };
    let argv = split_args(rest.as_bytes()).unwrap_or_else(|| panic!("bad step {line:?}"));
    assert!(!argv.is_empty(), "empty step");
    (mode, argv)
}

/// Runs `steps` on one connection and returns the raw reply of each.
async fn run_steps(conn: &mut RawConn, steps: &[&str]) -> Vec<Vec<u8>> {
    let mut replies = Vec::with_capacity(steps.len());
    for step in steps {
        let (_, argv) = parse_step(step);
        let mut buf = BytesMut::new();
        rediscover::resp::encode_command(&mut buf, &argv);
        conn.send_raw(&buf).await;
        // read_raw decodes with the shared decoder: a malformed reply fails here.
        replies.push(conn.read_raw().await);
    }
    replies
}

fn frame_of(raw: &[u8]) -> Frame {
    let mut buf = BytesMut::from(raw);
    let frame = decode(&mut buf, &Limits::default())
        .expect("well-formed RESP")
        .expect("a whole reply");
    assert!(
        buf.is_empty(),
        "trailing bytes after a reply: {:?}",
        show(raw)
    );
    frame
}

/// Canonical bytes of `frame` with aggregate elements sorted (for `^` steps).
fn sorted(frame: Frame) -> Vec<u8> {
    let sort = |items: Vec<Frame>| {
        let mut enc: Vec<Vec<u8>> = items.into_iter().map(sorted).collect();
        enc.sort();
        enc
    };
    let (tag, parts) = match frame {
        Frame::Array(v) => (b'*', sort(v)),
        Frame::Set(v) => (b'~', sort(v)),
        Frame::Push(v) => (b'>', sort(v)),
        Frame::Map(pairs) => {
            let mut enc: Vec<Vec<u8>> = pairs
                .into_iter()
                .map(|(k, v)| [sorted(k), sorted(v)].concat())
                .collect();
            enc.sort();
            (b'%', enc)
        }
        other => {
            let mut buf = BytesMut::new();
            encode_frame(&mut buf, &other);
            return buf.to_vec();
        }
    };
    let mut out = vec![tag];
    out.extend_from_slice(format!("{}\r\n", parts.len()).as_bytes());
    parts.iter().for_each(|p| out.extend_from_slice(p));
    out
}

fn same(mode: Compare, ours: &[u8], theirs: &[u8]) -> bool {
    match mode {
        Compare::Exact => ours == theirs,
        Compare::Shape => ours.first() == theirs.first(),
        Compare::Unordered => sorted(frame_of(ours)) == sorted(frame_of(theirs)),
    }
}

fn show(raw: &[u8]) -> String {
    let mut s = String::new();
    for &b in raw {
        match b {
            b'\r' => s.push_str("\\r"),
            b'\n' => s.push_str("\\n"),
            0x20..=0x7e => s.push(char::from(b)),
            _ => {
                let _ = write!(s, "\\x{b:02x}");
            }
        }
    }
    s
}

/// Runs one script group: `db` keeps groups apart on a shared real Redis.
async fn check(name: &str, db: u32, steps: &[&str]) {
    let (_server, mut ours) = start().await;
    let db = db.to_string();
    assert_eq!(ours.call(&["SELECT", &db]).await, b"+OK\r\n");
    let our_replies = run_steps(&mut ours, steps).await;
    for r in &our_replies {
        frame_of(r);
    }
    let Ok(target) = std::env::var("REDISCOVER_REAL_REDIS") else {
        eprintln!(
            "[{name}] ran {} steps against the test server (replies well-formed); \
             real-Redis comparison SKIPPED: set REDISCOVER_REAL_REDIS=host:port",
            steps.len()
        );
        return;
    };
    let addr = target
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .unwrap_or_else(|| panic!("REDISCOVER_REAL_REDIS={target:?} is not host:port"));
    let mut real = RawConn::connect(addr).await;
    assert_eq!(real.call(&["SELECT", &db]).await, b"+OK\r\n");
    assert_eq!(real.call(&["FLUSHDB"]).await, b"+OK\r\n");
    let real_replies = run_steps(&mut real, steps).await;
    let mut report = String::new();
    let mut mismatches = 0;
    for (i, step) in steps.iter().enumerate() {
        let (mode, _) = parse_step(step);
        if !same(mode, &our_replies[i], &real_replies[i]) {
            mismatches += 1;
            let _ = writeln!(
                report,
                "  step {i}: {step}\n    redis:      {}\n    testserver: {}",
                show(&real_replies[i]),
                show(&our_replies[i])
            );
        }
    }
    assert_eq!(real.call(&["FLUSHDB"]).await, b"+OK\r\n");
    assert!(
        mismatches == 0,
        "[{name}] {mismatches} of {} replies differ from Redis at {target}:\n{report}",
        steps.len()
    );
    eprintln!(
        "[{name}] {} steps identical to Redis at {target}",
        steps.len()
    );
}

#[tokio::test]
async fn strings() {
    check(
        "strings",
        1,
        &[
            "GET missing",
            "SET s hello",
            "GET s",
            "APPEND s \" world\"",
            "STRLEN s",
            "GETRANGE s 0 4",
            "GETRANGE s -5 -1",
            "GETRANGE s 100 200",
            "SETRANGE s 6 W",
            "GET s",
            "SETRANGE pad 3 x",
            "GET pad",
            "SET n 10",
            "INCR n",
            "INCRBY n -20",
            "DECR n",
            "DECRBY n 5",
            "INCRBYFLOAT n 1.5",
            "INCRBYFLOAT n 1e3",
            "GET n",
            "SET big 9223372036854775807",
            "INCR big",
            "INCR s",
            "INCRBY n x",
            "SET f 3.0",
            "INCRBYFLOAT f 0.1",
            "SETNX s other",
            "SETNX fresh v",
            "GETSET fresh v2",
            "GETDEL fresh",
            "GETDEL fresh",
            "SET k v NX",
            "SET k v2 NX",
            "SET k v3 XX GET",
            "SET nokey v XX",
            "SET k v EX 0",
            "SET k v EX -1",
            "SET k v PX 100000 EX 10",
            "SET k v KEEPTTL GET",
            "MSET a 1 b 2 c 3",
            "MGET a b c missing",
            "MSETNX a 1 z 26",
            "MSETNX y 25 z 26",
            "MGET y z",
            "SET e \"\"",
            "STRLEN e",
            "GET e",
            "OBJECT ENCODING n",
            "OBJECT ENCODING s",
            "SET i 12345",
            "OBJECT ENCODING i",
            "LCS s pad",
            "SETEX tmp 100 v",
            "TTL tmp",
            "PSETEX tmp 0 v",
            "GETEX tmp PERSIST",
            "TTL tmp",
        ],
    )
    .await;
}

#[tokio::test]
async fn keys() {
    check(
        "keys",
        2,
        &[
            "SET a 1",
            "SET b 2",
            "RPUSH l x",
            "EXISTS a b c a",
            "TYPE a",
            "TYPE l",
            "TYPE none",
            "DEL a c",
            "EXISTS a",
            "UNLINK b",
            "DBSIZE",
            "SET k v",
            "EXPIRE k 1000",
            "TTL k",
            "PTTL missing",
            "TTL l",
            "PERSIST k",
            "PERSIST k",
            "TTL k",
            "EXPIRE k 100 NX",
            "EXPIRE k 200 NX",
            "EXPIRE k 50 GT",
            "EXPIRE k 500 GT",
            "EXPIRE k 50 LT",
            "TTL k",
            "EXPIRE k 10 XX NX",
            "EXPIRE k abc",
            "EXPIREAT k 1",
            "EXISTS k",
            "SET r 1",
            "RENAME r r2",
            "GET r2",
            "RENAME nothere x",
            "SET other 1",
            "RENAMENX r2 other",
            "RENAMENX r2 r3",
            "^KEYS *",
            "^KEYS r*",
            "KEYS nomatch*",
            "COPY r3 r4",
            "COPY r3 r4",
            "COPY r3 r4 REPLACE",
            "GET r4",
            "TOUCH r3 r4 nope",
            "DBSIZE",
            "DEL r3 r4 other l",
            "DBSIZE",
            "~RANDOMKEY",
        ],
    )
    .await;
}

#[tokio::test]
async fn hashes() {
    check(
        "hashes",
        3,
        &[
            "HSET h f1 v1 f2 v2",
            "HSET h f1 new",
            "HGET h f1",
            "HGET h nope",
            "HGET nohash f",
            "HMGET h f1 f2 f3",
            "HLEN h",
            "HEXISTS h f2",
            "HEXISTS h f9",
            "HGETALL h",
            "HKEYS h",
            "HVALS h",
            "HSETNX h f1 x",
            "HSETNX h f3 x",
            "HSTRLEN h f1",
            "HINCRBY h n 5",
            "HINCRBY h n -10",
            "HINCRBY h f1 1",
            "HINCRBYFLOAT h fl 1.5",
            "HINCRBYFLOAT h fl 2",
            "HGET h fl",
            "HDEL h f1 f2 zz",
            "HLEN h",
            "OBJECT ENCODING h",
            "HSET h",
            "HSET h a",
            "HMSET h a 1 b 2",
            "HDEL h a b f3 n fl",
            "EXISTS h",
            "SET str x",
            "HGET str f",
            "HGETALL missing",
            "~HRANDFIELD h",
        ],
    )
    .await;
}

#[tokio::test]
async fn lists() {
    check(
        "lists",
        4,
        &[
            "RPUSH l a b c",
            "LPUSH l z",
            "LRANGE l 0 -1",
            "LRANGE l -2 100",
            "LRANGE l 5 10",
            "LLEN l",
            "LINDEX l 1",
            "LINDEX l 100",
            "LSET l 0 Z",
            "LSET l 99 x",
            "LSET missing 0 x",
            "LINSERT l BEFORE b B",
            "LINSERT l AFTER nope x",
            "LINSERT missing AFTER a x",
            "LRANGE l 0 -1",
            "RPUSH l a a",
            "LREM l 2 a",
            "LREM l -1 a",
            "LRANGE l 0 -1",
            "LPOS l c",
            "LPOS l nope",
            "RPUSH l c c",
            "LPOS l c RANK 2",
            "LPOS l c COUNT 0",
            "LPOS l c RANK 0",
            "LTRIM l 1 -2",
            "LRANGE l 0 -1",
            "LPOP l",
            "RPOP l 2",
            "LPOP l 0",
            "LPOP missing",
            "LPOP missing 2",
            "RPUSHX missing a",
            "LPUSHX l q",
            "RPUSH src 1 2 3",
            "LMOVE src dst LEFT RIGHT",
            "RPOPLPUSH src dst",
            "LRANGE dst 0 -1",
            "LMPOP 2 missing src LEFT COUNT 5",
            "EXISTS src",
            "BLPOP dst 0.01",
            "OBJECT ENCODING dst",
            "SET s x",
            "LPUSH s a",
            "LRANGE l a b",
        ],
    )
    .await;
}

#[tokio::test]
async fn sets() {
    check(
        "sets",
        5,
        &[
            "SADD s 1 2 3 2",
            "SCARD s",
            "SISMEMBER s 2",
            "SISMEMBER s 9",
            "SMISMEMBER s 1 9 3",
            "OBJECT ENCODING s",
            "SMEMBERS s",
            "SADD s x",
            "OBJECT ENCODING s",
            "^SMEMBERS s",
            "SREM s 1 nope",
            "SADD t 2 3 4",
            "^SINTER s t",
            "^SUNION s t",
            "^SDIFF s t",
            "SINTERCARD 2 s t",
            "SINTERCARD 2 s t LIMIT 1",
            "SINTERSTORE dest s t",
            "^SMEMBERS dest",
            "SUNIONSTORE dest2 s t missing",
            "SDIFFSTORE dest3 missing s",
            "EXISTS dest3",
            "SMOVE s t x",
            "SMOVE s t nope",
            "SISMEMBER t x",
            "SCARD missing",
            "SET str v",
            "SADD str a",
            "SINTER s str",
            "~SRANDMEMBER t",
            "SRANDMEMBER t 0",
            "SRANDMEMBER missing",
            "SPOP missing",
            "SREM t 2 3 4 x",
            "EXISTS t",
        ],
    )
    .await;
}

#[tokio::test]
async fn zsets() {
    check(
        "zsets",
        6,
        &[
            "ZADD z 1 a 2 b 3 c",
            "ZADD z 1.5 a",
            "ZADD z NX 100 a 4 d",
            "ZADD z XX CH 5 d 6 e",
            "ZADD z GT 1 d",
            "ZADD z LT 1 d",
            "ZADD z INCR 2 a",
            "ZADD z NX XX 1 a",
            "ZADD z nan a",
            "ZADD z 1 a 2",
            "ZSCORE z a",
            "ZSCORE z nope",
            "ZMSCORE z a nope b",
            "ZINCRBY z 0.1 b",
            "ZCARD z",
            "ZRANGE z 0 -1",
            "ZRANGE z 0 -1 WITHSCORES",
            "ZREVRANGE z 0 1 WITHSCORES",
            "ZRANGEBYSCORE z 2 (4",
            "ZRANGEBYSCORE z -inf +inf LIMIT 1 2",
            "ZREVRANGEBYSCORE z +inf 2 WITHSCORES",
            "ZRANGE z (1 3 BYSCORE",
            "ZRANGE z 3 1 BYSCORE REV",
            "ZRANK z c",
            "ZREVRANK z c",
            "ZRANK z nope",
            "ZCOUNT z 2 3",
            "ZCOUNT z x 3",
            "ZADD lex 0 a 0 b 0 c 0 d",
            "ZRANGEBYLEX lex [b (d",
            "ZLEXCOUNT lex - +",
            "ZRANGEBYLEX lex b d",
            "ZREM z a nope",
            "ZPOPMIN z",
            "ZPOPMAX z 2",
            "ZRANGE z 0 -1 WITHSCORES",
            "ZADD u1 1 x 2 y",
            "ZADD u2 10 y 20 zz",
            "ZUNIONSTORE out 2 u1 u2",
            "ZRANGE out 0 -1 WITHSCORES",
            "ZINTERSTORE out2 2 u1 u2 WEIGHTS 2 3 AGGREGATE MAX",
            "ZRANGE out2 0 -1 WITHSCORES",
            "ZUNION 2 u1 u2 WITHSCORES",
            "ZINTER 2 u1 u2",
            "ZDIFF 2 u1 u2 WITHSCORES",
            "OBJECT ENCODING u1",
            "ZREMRANGEBYRANK u1 0 0",
            "ZREMRANGEBYSCORE u2 -inf 15",
            "ZRANGE u2 0 -1",
            "SET str v",
            "ZADD str 1 a",
            "ZSCORE missing a",
            "ZRANGE missing 0 -1",
        ],
    )
    .await;
}

#[tokio::test]
async fn errors_and_transactions() {
    check(
        "errors_and_transactions",
        7,
        &[
            "NOSUCHCOMMAND a b",
            "GET",
            "SET k",
            "SET k v BADOPTION",
            "SET k v EX notanumber",
            "SET k v NX XX",
            "GET k",
            "LPUSH k x",
            "INCR k",
            "OBJECT FOO",
            "OBJECT ENCODING",
            "MULTI",
            "SET t 1",
            "INCR t",
            "GET t",
            "EXEC",
            "MULTI",
            "SET t 2",
            "NOSUCH",
            "EXEC",
            "GET t",
            "EXEC",
            "DISCARD",
            "MULTI",
            "MULTI",
            "DISCARD",
            "MULTI",
            "LPUSH t x",
            "GET t",
            "EXEC",
            "WATCH t",
            "SET t 3",
            "MULTI",
            "GET t",
            "EXEC",
            "UNWATCH",
            "ECHO",
            "PING a b",
            "SELECT 100",
        ],
    )
    .await;
}

#[tokio::test]
async fn resp3() {
    check(
        "resp3",
        8,
        &[
            "~HELLO 3",
            "GET missing",
            "SET s v",
            "GET s",
            "HSET h a 1 b 2",
            "HGETALL h",
            "HGETALL missing",
            "SADD st x",
            "SMEMBERS st",
            "ZADD z 1.5 a 2 b",
            "ZSCORE z a",
            "ZSCORE z nope",
            "ZRANGE z 0 -1 WITHSCORES",
            "ZINCRBY z 1 a",
            "ZMSCORE z a nope",
            "ZPOPMIN z",
            "ZRANDMEMBER missing",
            "INCRBYFLOAT f 1.25",
            "LPOP missing",
            "LPOP missing 2",
            "BLPOP missing 0.01",
            "HRANDFIELD missing",
            "SMISMEMBER st x y",
            "MGET s missing",
            "EXISTS s",
            "TYPE h",
            "NOSUCH",
            "MULTI",
            "GET s",
            "EXEC",
            "~HELLO 2",
            "HGETALL h",
        ],
    )
    .await;
}

#[tokio::test]
async fn streams() {
    check(
        "streams",
        9,
        &[
            "XADD s 1-1 a 1 b 2",
            "XADD s 1-* c 3",
            "XADD s 5 d 4",
            "XADD s 5-0 e 5",
            "XADD s 0-0 e 5",
            "XADD s NOMKSTREAM 6-0 f 6",
            "XADD nos NOMKSTREAM * f 6",
            "XADD s MAXLEN ~ 2 LIMIT 1 7-0 g 7",
            "XADD s MAXLEN = 3 8-0 h 8",
            "XADD s MINID 7 LIMIT 2 9-0 i 9",
            "XADD s bad-id a 1",
            "XADD s 10-0 a",
            "XLEN s",
            "XRANGE s - +",
            "XRANGE s (7-0 + COUNT 1",
            "XREVRANGE s + - COUNT 2",
            "XRANGE s - + COUNT 0",
            "XRANGE s 9 7",
            "XDEL s 8-0 99-0",
            "XTRIM s MAXLEN 1",
            "XTRIM s MINID ~ 100",
            "XINFO STREAM s",
            "XGROUP CREATE s g 0",
            "XGROUP CREATE s g 0",
            "XGROUP CREATE missing g $",
            "XGROUP CREATE fresh g $ MKSTREAM ENTRIESREAD 0",
            "XADD s 20-0 j 10",
            "XADD s 21-0 k 11",
            "XREADGROUP GROUP g alice COUNT 1 STREAMS s >",
            "XREADGROUP GROUP g bob STREAMS s >",
            "XREADGROUP GROUP g bob STREAMS s 0",
            "XREADGROUP GROUP nope bob STREAMS s >",
            "XREAD COUNT 2 STREAMS s fresh 0 0",
            "XREAD STREAMS s $",
            "XPENDING s g",
            "XACK s g 9-0 20-0",
            "XCLAIM s g carol 0 21-0 TIME 1700000000000 JUSTID",
            "~XPENDING s g - + 10 carol",
            "XAUTOCLAIM s g dave 0 0 COUNT 5 JUSTID",
            "XGROUP SETID s g 0 ENTRIESREAD 1",
            "XINFO GROUPS s",
            "XGROUP CREATECONSUMER s g erin",
            "XGROUP DELCONSUMER s g dave",
            "XGROUP DESTROY s g",
            "XSETID s 5-0",
            "XSETID s 50-0 ENTRIESADDED 99 MAXDELETEDID 40-0",
            "XINFO STREAM s",
            "TYPE s",
            "OBJECT ENCODING s",
            "SET str x",
            "XADD str 1-1 a 1",
            "XREAD STREAMS str 0",
        ],
    )
    .await;
}

/// Random stream workloads (small nodes, so node splits, `~` trims and tombstones happen all
/// the time): every reply — XINFO STREAM's node counts included — must match Redis's.
#[tokio::test]
async fn streams_random() {
    let long = "y".repeat(70);
    for seed in [7u64, 1234, 99_991] {
        let mut rng = common::Rng(seed);
        let entries = rng.pick(&["2", "3", "5", "100"]);
        let bytes = rng.pick(&["0", "60", "200", "4096"]);
        let mut steps = vec![
            format!("CONFIG SET stream-node-max-entries {entries}"),
            format!("CONFIG SET stream-node-max-bytes {bytes}"),
        ];
        let mut ms = 1u64;
        let id = |rng: &mut common::Rng, ms: u64| format!("{}-{}", rng.below(ms + 1), rng.below(4));
        for _ in 0..400 {
            let k = rng.pick(&["s", "t"]);
            let g = rng.pick(&["g", "h"]);
            let step = match rng.below(100) {
                0..=34 => {
                    ms += rng.below(4);
                    let seq = rng.below(3);
                    let the_id = match rng.below(3) {
                        0 => format!("{ms}-*"),
                        1 => format!("{ms}-{seq}"),
                        _ => format!("{ms}"),
                    };
                    let trim = match rng.below(10) {
                        0 | 1 => format!("MAXLEN {} {} ", rng.pick(&["~", "="]), rng.below(30)),
                        2 => format!("MINID {} {} ", rng.pick(&["~", "="]), rng.below(ms + 1)),
                        _ => String::new(),
                    };
                    let mut fields = String::new();
                    for _ in 0..=rng.below(3) {
                        let f = rng.pick(&["f", "g", "12", "-5", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"]);
                        let v = rng.pick(&["v", "1", "100000", "-1", &long]);
                        fields.push_str(&format!(" {f} {v}"));
                    }
                    format!("XADD {k} {trim}{the_id}{fields}")
                }
                35..=44 => format!("XDEL {k} {} {}", id(&mut rng, ms), id(&mut rng, ms)),
                45..=49 => format!(
                    "XTRIM {k} {} {} {}",
                    rng.pick(&["MAXLEN", "MINID"]),
                    rng.pick(&["~", "="]),
                    rng.below(ms + 1)
                ),
                50..=59 => format!(
                    "{} {k} - + COUNT {}",
                    rng.pick(&["XRANGE", "XREVRANGE"]),
                    rng.below(8)
                ),
                60..=67 => format!("XINFO STREAM {k}"),
                68..=71 => format!("XGROUP CREATE {k} {g} {} MKSTREAM", rng.pick(&["0", "$"])),
                72..=79 => format!(
                    "XREADGROUP GROUP {g} {} {}COUNT {} STREAMS {k} {}",
                    rng.pick(&["c1", "c2"]),
                    if rng.chance(20) { "NOACK " } else { "" },
                    1 + rng.below(4),
                    rng.pick(&[">", ">", "0"])
                ),
                80..=83 => format!("XACK {k} {g} {} {}", id(&mut rng, ms), id(&mut rng, ms)),
                84..=87 => format!(
                    "XCLAIM {k} {g} c3 0 {} {} TIME 1700000000000 {}JUSTID",
                    id(&mut rng, ms),
                    id(&mut rng, ms),
                    if rng.chance(50) { "FORCE " } else { "" }
                ),
                88..=90 => format!(
                    "XAUTOCLAIM {k} {g} c4 0 0 COUNT {} JUSTID",
                    1 + rng.below(5)
                ),
                91..=94 => format!("XINFO GROUPS {k}"),
                95..=96 => format!("XPENDING {k} {g}"),
                97 => format!(
                    "XGROUP SETID {k} {g} {} ENTRIESREAD {}",
                    id(&mut rng, ms),
                    rng.below(20)
                ),
                98 => format!(
                    "XSETID {k} {}-0 ENTRIESADDED {}",
                    ms + rng.below(3),
                    rng.below(50)
                ),
                _ => format!("XLEN {k}"),
            };
            steps.push(step);
        }
        steps.push("CONFIG SET stream-node-max-entries 100".into());
        steps.push("CONFIG SET stream-node-max-bytes 4096".into());
        let steps: Vec<&str> = steps.iter().map(String::as_str).collect();
        check(&format!("streams_random seed {seed}"), 10, &steps).await;
    }
}
