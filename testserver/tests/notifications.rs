//! Keyspace notifications (`notify-keyspace-events`): the events of every command family, in
//! Redis's order, compared with what Redis 7.0.15 published for the same scenarios
//! (`fixtures/notifications/scenarios.txt`, recorded into `events.txt` by `record.py`);
//! expiry events, lazy and active; RESP3 pushes on the subscriber's own connection; and, when
//! `REDISCOVER_REAL_REDIS=host:port` is set, a differential run of random commands.

mod common;

use std::time::Duration;

use bytes::BytesMut;
use common::{connect, hello3, RawConn, Rng, TestServer};
use rediscover::resp::{decode, Frame, Limits};
use rediscover_testserver::config::Config;

const SCENARIOS: &str = include_str!("fixtures/notifications/scenarios.txt");
const EVENTS: &str = include_str!("fixtures/notifications/events.txt");
const END: &str = "__keyevent@0__:__end__";

struct Scenario {
    name: String,
    flags: String,
    steps: Vec<Vec<String>>,
}

fn scenarios() -> Vec<Scenario> {
    let mut out: Vec<Scenario> = Vec::new();
    for line in SCENARIOS.lines() {
        if line.is_empty() || line.starts_with("# ") {
            continue;
        }
        if let Some(name) = line.strip_prefix("## ") {
            out.push(Scenario {
                name: name.to_string(),
                flags: String::new(),
                steps: Vec::new(),
            });
            continue;
        }
        let args: Vec<String> = line
            .split(' ')
            .map(|a| {
                if a == "\"\"" {
                    String::new()
                } else {
                    a.to_string()
                }
            })
            .collect();
        let sc = out.last_mut().expect("a scenario");
        if args[0] == "flags" {
            sc.flags = args[1].clone();
        } else {
            sc.steps.push(args);
        }
    }
    out
}

fn recorded(name: &str) -> Vec<String> {
    let mut inside = false;
    let mut events = Vec::new();
    for line in EVENTS.lines() {
        if let Some(n) = line.strip_prefix("## ") {
            inside = n == name;
            continue;
        }
        if inside {
            events.push(line.to_string());
        }
    }
    events
}

async fn start() -> TestServer {
    let config = Config {
        enable_debug_command: "yes".into(),
        ..Config::in_process()
    };
    TestServer::builder().config(config).start().await.unwrap()
}

async fn call(c: &mut RawConn, argv: &[&str]) -> Vec<u8> {
    c.call(argv).await
}

/// A `(channel, payload)` out of a pmessage / message frame (RESP2 array or RESP3 push).
fn message_parts(raw: &[u8]) -> (String, String) {
    let frame = decode(&mut BytesMut::from(raw), &Limits::default())
        .unwrap()
        .unwrap();
    let items = match frame {
        Frame::Array(items) | Frame::Push(items) => items,
        other => panic!("not a message: {other:?}"),
    };
    let text = |f: &Frame| match f {
        Frame::Bulk(b) => String::from_utf8_lossy(b).into_owned(),
        other => panic!("not a bulk: {other:?}"),
    };
    let n = items.len();
    (text(&items[n - 2]), text(&items[n - 1]))
}

/// Reads event messages until the end marker.
async fn events_until_end(sub: &mut RawConn) -> Vec<String> {
    let mut got = Vec::new();
    loop {
        let raw = sub.read_raw().await;
        let (channel, payload) = message_parts(&raw);
        if channel == END {
            return got;
        }
        got.push(format!("{channel} {payload}"));
    }
}

/// Runs one scenario on `cmd`, returns the events `sub` (PSUBSCRIBEd to `__key*__:*`) saw.
async fn run_scenario(cmd: &mut RawConn, sub: &mut RawConn, sc: &Scenario) -> Vec<String> {
    call(cmd, &["FLUSHALL"]).await;
    call(cmd, &["SELECT", "0"]).await;
    let set = call(cmd, &["CONFIG", "SET", "notify-keyspace-events", &sc.flags]).await;
    assert_eq!(set, b"+OK\r\n", "{}", sc.name);
    for step in &sc.steps {
        if step[0] == "sleep" {
            // A TTL of 1 ms must pass (the time itself is what is tested here).
            tokio::time::sleep(Duration::from_millis(step[1].parse().unwrap())).await;
            continue;
        }
        let argv: Vec<&str> = step.iter().map(String::as_str).collect();
        call(cmd, &argv).await;
    }
    call(cmd, &["PUBLISH", END, &sc.name]).await;
    events_until_end(sub).await
}

async fn subscriber(server: &TestServer) -> RawConn {
    let mut sub = connect(server).await;
    let reply = sub.call(&["PSUBSCRIBE", "__key*__:*"]).await;
    assert!(reply.starts_with(b"*3\r\n$10\r\npsubscribe"));
    sub
}

#[tokio::test]
async fn every_family_publishes_what_redis_publishes() {
    let server = start().await;
    let mut cmd = connect(&server).await;
    let mut sub = subscriber(&server).await;
    for sc in scenarios() {
        let got = run_scenario(&mut cmd, &mut sub, &sc).await;
        let want = recorded(&sc.name);
        assert_eq!(got, want, "scenario {}", sc.name);
    }
}

#[tokio::test]
async fn active_expiry_publishes_expired() {
    let server = start().await;
    let mut cmd = connect(&server).await;
    let mut sub = subscriber(&server).await;
    call(&mut cmd, &["CONFIG", "SET", "notify-keyspace-events", "Ex"]).await;
    call(&mut cmd, &["SET", "k", "v", "PX", "5"]).await;
    // Nobody touches the key: the cron removes it (hz 10: within about 100 ms).
    let raw = sub.read_raw().await;
    assert_eq!(
        String::from_utf8_lossy(&raw),
        "*4\r\n$8\r\npmessage\r\n$10\r\n__key*__:*\r\n$22\r\n__keyevent@0__:expired\r\n$1\r\nk\r\n"
    );
    assert_eq!(call(&mut cmd, &["DBSIZE"]).await, b":0\r\n");
}

#[tokio::test]
async fn resp3_subscriber_sees_its_own_events_before_the_reply() {
    // Bytes recorded from Redis 7.0.15.
    let server = start().await;
    let mut c = connect(&server).await;
    hello3(&mut c).await;
    assert_eq!(
        call(&mut c, &["CONFIG", "SET", "notify-keyspace-events", "KEA"]).await,
        b"+OK\r\n"
    );
    c.send(&["SUBSCRIBE", "__keyevent@0__:set", "__keyevent@0__:del"])
        .await;
    c.read_raw().await;
    c.read_raw().await;
    c.send(&["SET", "a", "1"]).await;
    let mut got = c.read_raw().await;
    got.extend(c.read_raw().await);
    assert_eq!(
        String::from_utf8_lossy(&got),
        ">3\r\n$7\r\nmessage\r\n$18\r\n__keyevent@0__:set\r\n$1\r\na\r\n+OK\r\n"
    );
    c.send(&["DEL", "a"]).await;
    let mut got = c.read_raw().await;
    got.extend(c.read_raw().await);
    assert_eq!(
        String::from_utf8_lossy(&got),
        ">3\r\n$7\r\nmessage\r\n$18\r\n__keyevent@0__:del\r\n$1\r\na\r\n:1\r\n"
    );
}

#[tokio::test]
async fn config_set_switches_classes_at_runtime() {
    let server = start().await;
    let mut cmd = connect(&server).await;
    let mut sub = subscriber(&server).await;
    assert_eq!(
        call(&mut cmd, &["CONFIG", "SET", "notify-keyspace-events", "Kz"]).await,
        b"+OK\r\n"
    );
    assert_eq!(
        call(&mut cmd, &["CONFIG", "GET", "notify-keyspace-events"]).await,
        b"*2\r\n$22\r\nnotify-keyspace-events\r\n$2\r\nzK\r\n"
    );
    call(&mut cmd, &["SET", "s", "1"]).await;
    call(&mut cmd, &["ZADD", "z", "1", "m"]).await;
    call(&mut cmd, &["CONFIG", "SET", "notify-keyspace-events", ""]).await;
    call(&mut cmd, &["ZADD", "z", "2", "n"]).await;
    call(&mut cmd, &["PUBLISH", END, "x"]).await;
    assert_eq!(
        events_until_end(&mut sub).await,
        vec!["__keyspace@0__:z zadd".to_string()]
    );
    assert_eq!(
        call(&mut cmd, &["CONFIG", "SET", "notify-keyspace-events", "KQ"]).await,
        b"-ERR CONFIG SET failed (possibly related to argument 'notify-keyspace-events') - Invalid event class character. Use 'Ag$lshzxeKEtmdn'.\r\n"
    );
}

#[tokio::test]
async fn eviction_hook_publishes_evicted() {
    let server = start().await;
    let mut cmd = connect(&server).await;
    let mut sub = subscriber(&server).await;
    call(&mut cmd, &["CONFIG", "SET", "notify-keyspace-events", "Ee"]).await;
    {
        let mut st = server.node().lock();
        rediscover_testserver::notify::keyspace_event(
            &mut st,
            rediscover_testserver::notify::class::EVICTED,
            "evicted",
            b"big",
            3,
        );
    }
    let raw = sub.read_raw().await;
    assert_eq!(
        message_parts(&raw),
        ("__keyevent@3__:evicted".into(), "big".into())
    );
}

#[tokio::test]
async fn blocked_xreadgroup_creates_its_consumer_when_served() {
    // Recorded from Redis 7.0.15: the consumer is created (and announced) when the parked
    // reader is served after the XADD, not when it blocks.
    let server = start().await;
    let mut cmd = connect(&server).await;
    let mut sub = subscriber(&server).await;
    call(&mut cmd, &["XGROUP", "CREATE", "st", "g1", "$", "MKSTREAM"]).await;
    call(
        &mut cmd,
        &["CONFIG", "SET", "notify-keyspace-events", "KEt"],
    )
    .await;
    let mut reader = connect(&server).await;
    reader
        .send(&[
            "XREADGROUP",
            "GROUP",
            "g1",
            "c1",
            "BLOCK",
            "0",
            "STREAMS",
            "st",
            ">",
        ])
        .await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !String::from_utf8_lossy(&call(&mut cmd, &["INFO", "clients"]).await)
        .contains("blocked_clients:1")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the reader never blocked"
        );
        tokio::task::yield_now().await;
    }
    call(&mut cmd, &["XADD", "st", "1-1", "f", "v"]).await;
    call(&mut cmd, &["PUBLISH", END, "x"]).await;
    assert_eq!(
        events_until_end(&mut sub).await,
        vec![
            "__keyspace@0__:st xadd",
            "__keyevent@0__:xadd st",
            "__keyspace@0__:st xgroup-createconsumer",
            "__keyevent@0__:xgroup-createconsumer st",
        ]
    );
    assert_eq!(
        String::from_utf8_lossy(&reader.read_raw().await),
        "*1\r\n*2\r\n$2\r\nst\r\n*1\r\n*2\r\n$3\r\n1-1\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n"
    );
    // Two hits when it blocked (XREADGROUP looks the key up twice), none when it was served
    // (Redis 7.0.15 counts the same).
    let stats = String::from_utf8_lossy(&call(&mut cmd, &["INFO", "stats"]).await).into_owned();
    assert!(stats.contains("keyspace_hits:2\r\n"), "{stats}");
}

fn random_command(rng: &mut Rng) -> Vec<String> {
    let keys = ["k1", "k2", "k3", "k4"];
    let k = rng.pick(&keys).to_string();
    let k2 = rng.pick(&keys).to_string();
    let v = rng.pick(&["a", "b", "1", "2"]).to_string();
    let consumer = format!("c{v}");
    let cmd: &[&str] = match rng.next() % 30 {
        0 => &["SET", &k, &v],
        1 => &["DEL", &k],
        2 => &["LPUSH", &k, &v],
        3 => &["RPOP", &k],
        4 => &["SADD", &k, &v],
        5 => &["SREM", &k, &v],
        6 => &["HSET", &k, &v, &v],
        7 => &["HDEL", &k, &v],
        8 => &["ZADD", &k, "1", &v],
        9 => &["ZREM", &k, &v],
        10 => &["INCR", &k],
        11 => &["APPEND", &k, &v],
        12 => &["EXPIRE", &k, "100"],
        13 => &["PERSIST", &k],
        14 => &["RENAME", &k, &k2],
        15 => &["COPY", &k, &k2],
        16 => &["GET", &k],
        17 => &["LMOVE", &k, &k2, "LEFT", "RIGHT"],
        18 => &["SMOVE", &k, &k2, &v],
        19 => &["ZPOPMIN", &k],
        20 => &["SUNIONSTORE", &k, &k2],
        21 => &["GETDEL", &k],
        22 => &["SETRANGE", &k, "1", &v],
        23 => &["XADD", &k, "MAXLEN", "2", "*", &v, &v],
        24 => &["XGROUP", "CREATE", &k, "g", "0", "MKSTREAM"],
        25 => &["XREADGROUP", "GROUP", "g", &consumer, "STREAMS", &k, ">"],
        26 => &["XGROUP", "DELCONSUMER", &k, "g", &consumer],
        27 => &["XTRIM", &k, "MAXLEN", "1"],
        28 => &["XAUTOCLAIM", &k, "g", &consumer, "0", "0-0"],
        _ => &["LTRIM", &k, "1", "-1"],
    };
    cmd.iter().map(|s| s.to_string()).collect()
}

#[tokio::test]
async fn differential_random_commands_against_real_redis() {
    let Ok(target) = std::env::var("REDISCOVER_REAL_REDIS") else {
        eprintln!("real-Redis comparison SKIPPED: set REDISCOVER_REAL_REDIS=host:port");
        return;
    };
    let real: std::net::SocketAddr = tokio::net::lookup_host(target.as_str())
        .await
        .unwrap()
        .next()
        .unwrap();
    let server = start().await;
    let mut ours = (connect(&server).await, subscriber(&server).await);
    let mut theirs = (RawConn::connect(real).await, RawConn::connect(real).await);
    let reply = theirs.1.call(&["PSUBSCRIBE", "__key*__:*"]).await;
    assert!(reply.starts_with(b"*3\r\n$10\r\npsubscribe"));
    for round in 0..20u64 {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ (round + 1));
        let steps: Vec<Vec<String>> = (0..50).map(|_| random_command(&mut rng)).collect();
        let sc = Scenario {
            name: format!("round-{round}"),
            flags: "KEAmn".into(),
            steps,
        };
        let got = run_scenario(&mut ours.0, &mut ours.1, &sc).await;
        let want = run_scenario(&mut theirs.0, &mut theirs.1, &sc).await;
        assert_eq!(got, want, "{}: {:?}", sc.name, sc.steps);
    }
    call(
        &mut theirs.0,
        &["CONFIG", "SET", "notify-keyspace-events", ""],
    )
    .await;
}

#[tokio::test]
async fn maxmemory_eviction_publishes_evicted() {
    let server = start().await;
    let mut cmd = connect(&server).await;
    let mut sub = subscriber(&server).await;
    call(&mut cmd, &["SET", "only", "v"]).await;
    call(&mut cmd, &["CONFIG", "SET", "notify-keyspace-events", "Ee"]).await;
    call(
        &mut cmd,
        &["CONFIG", "SET", "maxmemory-policy", "allkeys-random"],
    )
    .await;
    call(&mut cmd, &["CONFIG", "SET", "maxmemory", "1"]).await;
    // The next command makes room first: the one key goes.
    call(&mut cmd, &["GET", "only"]).await;
    let raw = sub.read_raw().await;
    assert_eq!(
        message_parts(&raw),
        ("__keyevent@0__:evicted".into(), "only".into())
    );
    call(&mut cmd, &["CONFIG", "SET", "maxmemory", "0"]).await;
}
