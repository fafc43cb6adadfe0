//! Every typed method against a server (the test server, or a real Redis when
//! `REDISCOVER_TEST_URL` is set), in both protocol versions where replies differ.

mod util;

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use rediscover::{Client, Commands, Config, Connection, ErrorCode, ErrorKind, Protocol};
use util::*;

async fn clients(t: &Target) -> Vec<Client> {
    let mut out = Vec::new();
    for proto in [Protocol::Resp3, Protocol::Resp2] {
        out.push(
            Client::with_config(t.config().protocol(proto))
                .await
                .unwrap(),
        );
    }
    out
}

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

#[tokio::test]
async fn strings_and_keys() {
    let t = target().await;
    for c in clients(&t).await {
        let k = unique("str");
        assert_eq!(c.get::<Option<Bytes>>(&k).await.unwrap(), None);
        c.set(&k, "v1").await.unwrap();
        assert_eq!(c.get::<Option<Bytes>>(&k).await.unwrap(), Some(b("v1")));
        assert!(!c.set_nx(&k, "v2").await.unwrap());
        assert!(c.set_nx(format!("{k}:nx"), "v2").await.unwrap());
        assert_eq!(c.exists([&k, &k, &format!("{k}:none")]).await.unwrap(), 2);
        assert_eq!(c.ttl(&k).await.unwrap(), -1);
        assert!(c.expire(&k, 100).await.unwrap());
        let ttl = c.ttl(&k).await.unwrap();
        assert!((1..=100).contains(&ttl), "{ttl}");
        assert!(!c.expire(format!("{k}:none"), 100).await.unwrap());
        assert_eq!(c.ttl(format!("{k}:none")).await.unwrap(), -2);
        assert!(c.persist(&k).await.unwrap());
        assert!(!c.persist(&k).await.unwrap());
        assert_eq!(c.ttl(&k).await.unwrap(), -1);
        c.set_ex(&k, "v3", 50).await.unwrap();
        assert_eq!(c.get::<Option<Bytes>>(&k).await.unwrap(), Some(b("v3")));
        assert!(c.ttl(&k).await.unwrap() <= 50);
        let n = format!("{k}:n");
        assert_eq!(c.incr::<i64>(&n).await.unwrap(), 1);
        assert_eq!(c.incr_by::<i64>(&n, -11).await.unwrap(), -10);
        assert_eq!(c.decr::<i64>(&n).await.unwrap(), -11);
        assert_eq!(c.decr_by::<i64>(&n, -20).await.unwrap(), 9);
        let e = c.incr::<i64>(&k).await.unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::Err));
        assert_eq!(
            e.server_error().unwrap().message(),
            "value is not an integer or out of range"
        );
        let (k1, k2) = (format!("{k}:m1"), format!("{k}:m2"));
        c.mset([(&k1, "a"), (&k2, "b")]).await.unwrap();
        assert_eq!(
            c.mget::<Vec<Option<Bytes>>>([&k1, &format!("{k}:none"), &k2])
                .await
                .unwrap(),
            vec![Some(b("a")), None, Some(b("b"))]
        );
        assert_eq!(
            c.del([&k, &k1, &k2, &n, &format!("{k}:nx")]).await.unwrap(),
            5
        );
        assert_eq!(c.del(&k).await.unwrap(), 0);
        // Binary-safe values.
        c.set(&k, &b"\x00\r\n\xff"[..]).await.unwrap();
        assert_eq!(
            c.get::<Option<Bytes>>(&k).await.unwrap().unwrap(),
            &b"\x00\r\n\xff"[..]
        );
        c.del(&k).await.unwrap();
    }
}

#[tokio::test]
async fn hashes() {
    let t = target().await;
    for c in clients(&t).await {
        let k = unique("hash");
        assert_eq!(c.hset(&k, [("f1", "1"), ("f2", "2")]).await.unwrap(), 2);
        assert_eq!(c.hset(&k, ("f1", "one")).await.unwrap(), 0);
        assert_eq!(
            c.hget::<Option<Bytes>>(&k, "f1").await.unwrap(),
            Some(b("one"))
        );
        assert_eq!(c.hget::<Option<Bytes>>(&k, "nope").await.unwrap(), None);
        assert_eq!(c.hlen(&k).await.unwrap(), 2);
        assert_eq!(c.hincr_by::<i64>(&k, "f2", 5).await.unwrap(), 7);
        assert_eq!(c.hincr_by::<i64>(&k, "f2", -5).await.unwrap(), 2);
        let all = c.hgetall::<HashMap<Bytes, Bytes>>(&k).await.unwrap();
        let want: HashMap<Bytes, Bytes> = [(b("f1"), b("one")), (b("f2"), b("2"))].into();
        assert_eq!(all, want);
        let typed: HashMap<String, String> = c.cmd("HGETALL").arg(&k).query().await.unwrap();
        assert_eq!(typed["f2"], "2");
        assert!(c
            .hgetall::<HashMap<Bytes, Bytes>>(format!("{k}:none"))
            .await
            .unwrap()
            .is_empty());
        assert_eq!(c.hdel(&k, ["f1", "nope"]).await.unwrap(), 1);
        assert_eq!(c.hdel(&k, "f2").await.unwrap(), 1);
        assert_eq!(c.exists(&k).await.unwrap(), 0);
        // Wrong type.
        c.set(&k, "s").await.unwrap();
        assert_eq!(
            c.hget::<Option<Bytes>>(&k, "f").await.unwrap_err().code(),
            Some(ErrorCode::WrongType)
        );
        c.del(&k).await.unwrap();
    }
}

#[tokio::test]
async fn lists() {
    let t = target().await;
    for c in clients(&t).await {
        let k = unique("list");
        assert_eq!(c.rpush(&k, ["b", "c"]).await.unwrap(), 2);
        assert_eq!(c.lpush(&k, "a").await.unwrap(), 3);
        assert_eq!(
            c.lrange::<Vec<Bytes>>(&k, 0, -1).await.unwrap(),
            vec![b("a"), b("b"), b("c")]
        );
        assert_eq!(
            c.lrange::<Vec<Bytes>>(&k, -2, 10).await.unwrap(),
            vec![b("b"), b("c")]
        );
        assert_eq!(c.llen(&k).await.unwrap(), 3);
        assert_eq!(c.lpop::<Option<Bytes>>(&k).await.unwrap(), Some(b("a")));
        assert_eq!(
            c.blpop::<Option<(Bytes, Bytes)>>([&format!("{k}:none"), &k], 1.0)
                .await
                .unwrap(),
            Some((b(&k), b("b")))
        );
        assert_eq!(c.lpop::<Option<Bytes>>(&k).await.unwrap(), Some(b("c")));
        assert_eq!(c.lpop::<Option<Bytes>>(&k).await.unwrap(), None);
        assert!(c.lrange::<Vec<Bytes>>(&k, 0, -1).await.unwrap().is_empty());
        assert_eq!(
            c.blpop::<Option<(Bytes, Bytes)>>(&k, 0.05).await.unwrap(),
            None
        );
    }
}

#[tokio::test]
async fn sets() {
    let t = target().await;
    for c in clients(&t).await {
        let k = unique("set");
        assert_eq!(c.sadd(&k, ["a", "b", "a"]).await.unwrap(), 2);
        assert_eq!(c.sadd(&k, "c").await.unwrap(), 1);
        let mut members = c.smembers::<Vec<Bytes>>(&k).await.unwrap();
        members.sort();
        assert_eq!(members, vec![b("a"), b("b"), b("c")]);
        assert!(c.sismember(&k, "a").await.unwrap());
        assert_eq!(c.scard(&k).await.unwrap(), 3);
        assert_eq!(c.srem(&k, ["a", "z"]).await.unwrap(), 1);
        assert!(!c.sismember(&k, "a").await.unwrap());
        let set: std::collections::HashSet<String> =
            c.cmd("SMEMBERS").arg(&k).query().await.unwrap();
        assert_eq!(set.len(), 2);
        assert!(c
            .smembers::<Vec<Bytes>>(format!("{k}:none"))
            .await
            .unwrap()
            .is_empty());
        c.del(&k).await.unwrap();
    }
}

#[tokio::test]
async fn sorted_sets() {
    let t = target().await;
    for c in clients(&t).await {
        let k = unique("zset");
        assert!(c.zadd(&k, "a", 1.5).await.unwrap());
        assert!(!c.zadd(&k, "a", 2.5).await.unwrap());
        assert_eq!(
            c.zadd_multiple(&k, [(1.0, "b"), (3.0, "c")]).await.unwrap(),
            2
        );
        assert_eq!(
            c.zrange::<Vec<Bytes>>(&k, 0, -1).await.unwrap(),
            vec![b("b"), b("a"), b("c")]
        );
        assert_eq!(
            c.zrange_withscores::<Bytes>(&k, 0, 1).await.unwrap(),
            vec![(b("b"), 1.0), (b("a"), 2.5)]
        );
        assert_eq!(c.zscore::<Option<f64>>(&k, "a").await.unwrap(), Some(2.5));
        assert_eq!(c.zscore::<Option<f64>>(&k, "zz").await.unwrap(), None);
        assert!(c.zadd(&k, "inf", f64::INFINITY).await.unwrap());
        assert_eq!(
            c.zscore::<Option<f64>>(&k, "inf").await.unwrap(),
            Some(f64::INFINITY)
        );
        assert_eq!(c.zcard(&k).await.unwrap(), 4);
        assert_eq!(c.zrem(&k, ["inf", "zz"]).await.unwrap(), 1);
        assert_eq!(c.zcard(&k).await.unwrap(), 3);
        c.del(&k).await.unwrap();
    }
}

#[tokio::test]
async fn scan_visits_every_key() {
    let t = target().await;
    let c = Client::with_config(t.config()).await.unwrap();
    let prefix = unique("scan");
    let keys: Vec<(String, String)> = (0..60)
        .map(|i| (format!("{prefix}:{i}"), "v".to_string()))
        .collect();
    c.mset(&keys).await.unwrap();
    let mut found = c
        .scan()
        .pattern(format!("{prefix}:*"))
        .count(7)
        .collect_all()
        .await
        .unwrap();
    found.sort();
    let mut want: Vec<Bytes> = keys.iter().map(|(k, _)| b(k)).collect();
    want.sort();
    assert_eq!(found, want);
    let mut it = c.scan().pattern(format!("{prefix}:1*"));
    let mut n = 0;
    while let Some(key) = it.next().await.unwrap() {
        assert!(key.starts_with(format!("{prefix}:1").as_bytes()));
        n += 1;
    }
    assert!(n >= 11);
    let names: Vec<&String> = keys.iter().map(|(k, _)| k).collect();
    assert_eq!(c.del(&names).await.unwrap(), 60);
}

#[tokio::test]
async fn publish_counts_receivers() {
    let t = target().await;
    let c = Client::with_config(t.config()).await.unwrap();
    assert_eq!(c.publish(unique("nobody"), "hi").await.unwrap(), 0);
}

#[tokio::test]
async fn blocking_command_timeout_does_not_desync_a_dedicated_connection() {
    let t = target().await;
    let config = t.config().request_timeout(Some(Duration::from_millis(100)));
    let conn = Connection::connect(&config).await.unwrap();
    let other = Client::with_config(t.config()).await.unwrap();
    let k = unique("block");
    let e = conn
        .blpop::<Option<(Bytes, Bytes)>>(&k, 0.0)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout);
    assert!(!e.is_not_sent());
    assert_eq!(conn.in_flight(), 1, "the BLPOP reply is still owed");
    // Unblock it: its reply arrives and is discarded, and the next command gets its own reply.
    other.rpush(&k, "x").await.unwrap();
    assert_eq!(conn.echo::<Bytes>("mine").await.unwrap(), &b"mine"[..]);
    assert_eq!(conn.in_flight(), 0);
    assert_eq!(
        other.exists(&k).await.unwrap(),
        0,
        "the blocked pop consumed it"
    );
    // The same connection with a longer deadline waits for the data.
    let patient = conn.with_timeout(Some(Duration::from_secs(10)));
    let key = k.clone();
    let popper =
        tokio::spawn(async move { patient.blpop::<Option<(Bytes, Bytes)>>(&key, 0.0).await });
    wait_until(|| conn.in_flight() == 1).await;
    other.rpush(&k, "y").await.unwrap();
    assert_eq!(
        popper.await.unwrap().unwrap(),
        Some((Bytes::from(k), Bytes::from_static(b"y")))
    );
}

#[tokio::test]
async fn generic_path_and_conversions() {
    let t = target().await;
    for c in clients(&t).await {
        let k = unique("gen");
        let () = c.cmd("SET").arg(&k).arg(10).query().await.unwrap();
        let n: i64 = c
            .cmd("INCRBYFLOAT")
            .arg(&k)
            .arg(0.5)
            .query::<f64>()
            .await
            .map(|f| (f * 2.0) as i64)
            .unwrap();
        assert_eq!(n, 21);
        let s: String = c.cmd("GET").arg(&k).query().await.unwrap();
        assert_eq!(s, "10.5");
        let missing: Option<String> = c.cmd("GET").arg(format!("{k}:none")).query().await.unwrap();
        assert_eq!(missing, None);
        let exists: bool = c.cmd("EXISTS").arg(&k).query().await.unwrap();
        assert!(exists);
        let e = c.cmd("GET").arg(&k).query::<i64>().await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Response);
        let prepared = rediscover::cmd("STRLEN").arg(&k);
        assert_eq!(c.query::<i64>(prepared).await.unwrap(), 4);
        c.del(&k).await.unwrap();
    }
}

#[tokio::test]
async fn config_builder_selects_database_and_name() {
    let t = target().await;
    let k = unique("db");
    let db1 = Client::with_config(t.config().db(1).client_name("db-one"))
        .await
        .unwrap();
    let db0 = Client::with_config(t.config()).await.unwrap();
    db1.set(&k, "in-db1").await.unwrap();
    assert_eq!(db0.get::<Option<Bytes>>(&k).await.unwrap(), None);
    assert_eq!(
        db1.get::<Option<Bytes>>(&k).await.unwrap(),
        Some(b("in-db1"))
    );
    let name: Option<String> = db1.cmd("CLIENT").arg("GETNAME").query().await.unwrap();
    assert_eq!(name.as_deref(), Some("db-one"));
    let resp2 = Client::with_config(
        t.config()
            .db(1)
            .client_name("db-one-r2")
            .protocol(Protocol::Resp2),
    )
    .await
    .unwrap();
    let name: Option<String> = resp2.cmd("CLIENT").arg("GETNAME").query().await.unwrap();
    assert_eq!(name.as_deref(), Some("db-one-r2"));
    db1.del(&k).await.unwrap();
    let _unused: Config = t.config();
}

#[tokio::test]
async fn typed_results_are_the_callers_choice() {
    use std::collections::{BTreeMap, HashSet};
    let t = target().await;
    for c in clients(&t).await {
        let k = unique("typed");
        let (n, h, s, z) = (
            format!("{k}:n"),
            format!("{k}:h"),
            format!("{k}:s"),
            format!("{k}:z"),
        );
        // Strings, as text, bytes or numbers; options for what may be missing.
        c.set(&k, "42").await.unwrap();
        let text: Option<String> = c.get(&k).await.unwrap();
        assert_eq!(text.as_deref(), Some("42"));
        assert_eq!(c.get::<Option<Bytes>>(&k).await.unwrap(), Some(b("42")));
        assert_eq!(c.get::<Vec<u8>>(&k).await.unwrap(), b"42");
        assert_eq!(c.get::<i64>(&k).await.unwrap(), 42);
        assert_eq!(c.get::<f64>(&k).await.unwrap(), 42.0);
        assert_eq!(
            c.get::<Option<u16>>(format!("{k}:none")).await.unwrap(),
            None
        );
        let missing = c.get::<String>(format!("{k}:none")).await.unwrap_err();
        assert_eq!(missing.kind(), ErrorKind::Response, "nil is not a String");
        c.set(&k, "text").await.unwrap();
        assert_eq!(
            c.get::<i64>(&k).await.unwrap_err().kind(),
            ErrorKind::Response
        );
        // Numbers in the width the caller wants.
        assert_eq!(c.incr::<i64>(&n).await.unwrap(), 1);
        assert_eq!(c.incr::<u64>(&n).await.unwrap(), 2);
        assert_eq!(c.incr_by::<i32>(&n, 40).await.unwrap(), 42);
        assert_eq!(c.decr::<String>(&n).await.unwrap(), "41");
        // Maps in any shape.
        c.hset(&h, [("a", "1"), ("b", "2")]).await.unwrap();
        let map: HashMap<String, String> = c.hgetall(&h).await.unwrap();
        assert_eq!(map["b"], "2");
        let nums: BTreeMap<String, i64> = c.hgetall(&h).await.unwrap();
        assert_eq!(
            nums.into_iter().collect::<Vec<_>>(),
            [("a".into(), 1), ("b".into(), 2)]
        );
        let empty: HashMap<String, String> = c.hgetall(format!("{k}:none")).await.unwrap();
        assert!(empty.is_empty());
        assert_eq!(c.hget::<Option<i64>>(&h, "a").await.unwrap(), Some(1));
        assert_eq!(c.hincr_by::<u32>(&h, "a", 9).await.unwrap(), 10);
        // Lists, sets, tuples.
        let both: (Option<String>, Option<i64>) = c.mget([&k, &format!("{k}:none")]).await.unwrap();
        assert_eq!(both, (Some("text".into()), None));
        c.sadd(&s, ["x", "y"]).await.unwrap();
        let members: HashSet<String> = c.smembers(&s).await.unwrap();
        assert_eq!(members, HashSet::from(["x".to_string(), "y".to_string()]));
        c.zadd(&z, "m", 2.5).await.unwrap();
        assert_eq!(c.zscore::<Option<f64>>(&z, "m").await.unwrap(), Some(2.5));
        assert_eq!(c.zscore::<Option<f64>>(&z, "none").await.unwrap(), None);
        assert_eq!(c.zrange::<Vec<String>>(&z, 0, -1).await.unwrap(), ["m"]);
        assert_eq!(
            c.zrange_withscores::<String>(&z, 0, -1).await.unwrap(),
            [("m".to_string(), 2.5)]
        );
        // The raw reply, converted later through the one conversion.
        let frame: rediscover::resp::Frame = c.hgetall(&h).await.unwrap();
        let again: HashMap<String, i64> = frame.convert().unwrap();
        assert_eq!(again["a"], 10);
        c.del([&k, &n, &h, &s, &z]).await.unwrap();
    }
}
