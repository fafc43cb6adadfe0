//! Datasets for tests: fill a server with every type and encoding, dump any server (ours or a
//! real Redis) key by key with plain commands, compare.

use std::path::PathBuf;

use bytes::{Bytes, BytesMut};
use rediscover::resp::{encode_command, Frame};

use super::RawConn;

/// A scratch directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "rediscover-rdb-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir(path)
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    pub fn str(&self) -> &str {
        self.0.to_str().expect("utf-8 temp path")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Sends a binary-safe command and returns its reply as a frame.
pub async fn call(conn: &mut RawConn, argv: &[&[u8]]) -> Frame {
    let mut out = BytesMut::new();
    encode_command(&mut out, argv);
    conn.send_raw(&out).await;
    conn.read_frame().await
}

pub async fn ok(conn: &mut RawConn, argv: &[&[u8]]) {
    let reply = call(conn, argv).await;
    assert!(
        !matches!(reply, Frame::Error(_)),
        "{:?} -> {reply:?}",
        argv.iter()
            .map(|a| String::from_utf8_lossy(a))
            .collect::<Vec<_>>()
    );
}

pub fn bulks(frame: Frame) -> Vec<Bytes> {
    match frame {
        Frame::Array(items) => items
            .into_iter()
            .map(|f| match f {
                Frame::Bulk(b) => b,
                other => panic!("not a bulk: {other:?}"),
            })
            .collect(),
        other => panic!("not an array: {other:?}"),
    }
}

/// Every key of every database as a line: db, key, type, PEXPIRETIME, encoding, contents
/// (sets and hashes sorted). Uses only plain commands, so it runs against any Redis.
pub async fn dump(conn: &mut RawConn) -> Vec<String> {
    dump_with(conn, true).await
}

/// [`dump`] without encodings: a replica may encode a value differently from its master
/// (a hash that grew and shrank stays a hashtable on the master, loads as a listpack).
pub async fn dump_data(conn: &mut RawConn) -> Vec<String> {
    dump_with(conn, false).await
}

async fn dump_with(conn: &mut RawConn, with_encoding: bool) -> Vec<String> {
    let mut lines = Vec::new();
    for db in 0..16 {
        ok(conn, &[b"SELECT", db.to_string().as_bytes()]).await;
        let mut keys = bulks(call(conn, &[b"KEYS", b"*"]).await);
        keys.sort();
        for key in keys {
            let k = &key[..];
            let kind = match call(conn, &[b"TYPE", k]).await {
                Frame::Simple(s) => String::from_utf8_lossy(&s).into_owned(),
                other => panic!("TYPE: {other:?}"),
            };
            let at = call(conn, &[b"PEXPIRETIME", k]).await;
            let enc = if with_encoding {
                Some(call(conn, &[b"OBJECT", b"ENCODING", k]).await)
            } else {
                None
            };
            let contents = match kind.as_str() {
                "string" => vec![match call(conn, &[b"GET", k]).await {
                    Frame::Bulk(b) => b,
                    other => panic!("GET: {other:?}"),
                }],
                "list" => bulks(call(conn, &[b"LRANGE", k, b"0", b"-1"]).await),
                "set" => {
                    let mut m = bulks(call(conn, &[b"SMEMBERS", k]).await);
                    m.sort();
                    m
                }
                "hash" => {
                    let flat = bulks(call(conn, &[b"HGETALL", k]).await);
                    let mut pairs: Vec<Bytes> = flat
                        .chunks(2)
                        .map(|p| Bytes::from([&p[0][..], b"=", &p[1][..]].concat()))
                        .collect();
                    pairs.sort();
                    pairs
                }
                "zset" => bulks(call(conn, &[b"ZRANGE", k, b"0", b"-1", b"WITHSCORES"]).await),
                "stream" => stream_contents(conn, k).await,
                other => panic!("unexpected type {other}"),
            };
            lines.push(format!("{db} {key:?} {kind} {at:?} {enc:?} {contents:?}"));
        }
    }
    ok(conn, &[b"SELECT", b"0"]).await;
    lines
}

/// A stream's entries, counters, node layout, groups and pending entries, as lines (clock
/// values such as idle times left out).
async fn stream_contents(conn: &mut RawConn, k: &[u8]) -> Vec<Bytes> {
    let mut out = vec![Bytes::from(format!(
        "{:?}",
        call(conn, &[b"XRANGE", k, b"-", b"+"]).await
    ))];
    out.push(Bytes::from(format!(
        "{:?}",
        call(conn, &[b"XINFO", b"STREAM", k]).await
    )));
    let groups = call(conn, &[b"XINFO", b"GROUPS", k]).await;
    if let Frame::Array(groups) = groups {
        for g in groups {
            let fields = match g {
                Frame::Array(f) => f,
                _ => continue,
            };
            // Name, consumers, pending, last id. A group's read counter is not replicated
            // when a `>` read moves it (XCLAIM's LASTID carries the id only), so Redis's own
            // replicas report it as unknown where the master knows it.
            out.push(Bytes::from(format!("{:?}", &fields[..fields.len().min(8)])));
            let Some(Frame::Bulk(name)) = fields.get(1).cloned() else {
                continue;
            };
            let pending = call(conn, &[b"XPENDING", k, &name]).await;
            out.push(Bytes::from(format!("{pending:?}")));
            let consumers = call(conn, &[b"XINFO", b"CONSUMERS", k, &name]).await;
            if let Frame::Array(cs) = consumers {
                for c in cs {
                    if let Frame::Array(f) = c {
                        // name and pending; the idle time is the replica's own clock.
                        out.push(Bytes::from(format!("{:?}", &f[..f.len().min(4)])));
                    }
                }
            }
        }
    }
    out
}

/// A dataset with every type in its small and large encodings, TTLs, binary data and several
/// databases.
pub async fn populate(conn: &mut RawConn) {
    ok(conn, &[b"SET", b"str:small", b"hello"]).await;
    ok(conn, &[b"SET", b"str:int", b"12345"]).await;
    ok(conn, &[b"SET", b"str:i8", b"-100"]).await;
    ok(conn, &[b"SET", b"str:i32", b"-2147483648"]).await;
    ok(conn, &[b"SET", b"str:bigint", b"9223372036854775807"]).await;
    ok(conn, &[b"SET", b"str:notint", b"0123"]).await;
    ok(conn, &[b"SET", b"str:empty", b""]).await;
    ok(conn, &[b"SET", b"str:long", "abc".repeat(200).as_bytes()]).await;
    let noise: Vec<u8> = (0..300u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    ok(conn, &[b"SET", b"str:noise", &noise]).await;
    ok(conn, &[b"SET", b"bin:\x00\xff\r\n", b"v\x00\x01\xfe"]).await;
    ok(
        conn,
        &[b"RPUSH", b"list:small", b"a", b"1", b"-300", b"70000", b""],
    )
    .await;
    let items: Vec<Vec<u8>> = (0..1000)
        .map(|i| format!("element-{i}").into_bytes())
        .collect();
    let mut argv: Vec<&[u8]> = vec![b"RPUSH", b"list:big"];
    argv.extend(items.iter().map(|i| &i[..]));
    ok(conn, &argv).await;
    ok(conn, &[b"RPUSH", b"list:big", &vec![b'z'; 10_000]]).await;
    ok(
        conn,
        &[b"SADD", b"set:ints", b"3", b"-1", b"9223372036854775807"],
    )
    .await;
    ok(conn, &[b"SADD", b"set:strs", b"a", b"b", b"\x00"]).await;
    let members: Vec<Vec<u8>> = (0..600).map(|i| i.to_string().into_bytes()).collect();
    let mut argv: Vec<&[u8]> = vec![b"SADD", b"set:big"];
    argv.extend(members.iter().map(|m| &m[..]));
    ok(conn, &argv).await;
    ok(
        conn,
        &[b"HSET", b"hash:small", b"z", b"1", b"a", b"2", b"m", b""],
    )
    .await;
    let fields: Vec<Vec<u8>> = (0..600).map(|i| format!("f{i}").into_bytes()).collect();
    let mut argv: Vec<&[u8]> = vec![b"HSET", b"hash:big"];
    for f in &fields {
        argv.push(f);
        argv.push(b"value");
    }
    ok(conn, &argv).await;
    ok(conn, &[b"HSET", b"hash:long", b"f", &[b'y'; 100]]).await;
    ok(
        conn,
        &[
            b"ZADD",
            b"zset:small",
            b"1",
            b"a",
            b"0.1",
            b"b",
            b"-inf",
            b"c",
            b"inf",
            b"d",
            b"-0",
            b"e",
            b"1e300",
            b"f",
        ],
    )
    .await;
    let mut argv: Vec<Vec<u8>> = vec![b"ZADD".to_vec(), b"zset:big".to_vec()];
    for i in 0..200 {
        argv.push(format!("{}", f64::from(i) / 3.0).into_bytes());
        argv.push(format!("m{i}").into_bytes());
    }
    let argv: Vec<&[u8]> = argv.iter().map(|a| &a[..]).collect();
    ok(conn, &argv).await;
    ok(conn, &[b"ZADD", b"zset:negzero", b"-0", b"x"]).await;
    ok(conn, &[b"SET", b"exp:str", b"v", b"PXAT", b"4102444800123"]).await;
    ok(conn, &[b"RPUSH", b"exp:list", b"x"]).await;
    ok(conn, &[b"PEXPIREAT", b"exp:list", b"4102444800999"]).await;
    ok(conn, &[b"SELECT", b"3"]).await;
    ok(conn, &[b"SET", b"db3", b"three"]).await;
    ok(conn, &[b"SELECT", b"15"]).await;
    ok(conn, &[b"HSET", b"db15", b"f", b"v"]).await;
    ok(conn, &[b"SELECT", b"0"]).await;
}

/// Streams in several shapes: many nodes with tombstones, consumer groups with pending
/// entries, a NOACK reader, an empty stream with a group, and a stream trimmed by `~`.
#[allow(dead_code)]
pub async fn populate_streams(conn: &mut RawConn) {
    for i in 1..=250u32 {
        let id = format!("{i}-1");
        let v = format!("value-{i}");
        let n = (i * 1000).to_string();
        call(
            conn,
            &[
                b"XADD",
                b"st:big",
                id.as_bytes(),
                b"f",
                v.as_bytes(),
                b"n",
                n.as_bytes(),
            ],
        )
        .await;
    }
    call(conn, &[b"XADD", b"st:big", b"300-0", b"other", b"fields"]).await;
    call(conn, &[b"XDEL", b"st:big", b"5-1", b"120-1"]).await;
    ok(conn, &[b"XGROUP", b"CREATE", b"st:big", b"g1", b"0"]).await;
    ok(
        conn,
        &[
            b"XGROUP",
            b"CREATE",
            b"st:big",
            b"g2",
            b"$",
            b"ENTRIESREAD",
            b"251",
        ],
    )
    .await;
    call(
        conn,
        &[
            b"XREADGROUP",
            b"GROUP",
            b"g1",
            b"alice",
            b"COUNT",
            b"3",
            b"STREAMS",
            b"st:big",
            b">",
        ],
    )
    .await;
    call(
        conn,
        &[
            b"XREADGROUP",
            b"GROUP",
            b"g1",
            b"bob",
            b"COUNT",
            b"2",
            b"STREAMS",
            b"st:big",
            b">",
        ],
    )
    .await;
    call(
        conn,
        &[
            b"XREADGROUP",
            b"GROUP",
            b"g1",
            b"carol",
            b"NOACK",
            b"COUNT",
            b"2",
            b"STREAMS",
            b"st:big",
            b">",
        ],
    )
    .await;
    call(conn, &[b"XACK", b"st:big", b"g1", b"2-1"]).await;
    call(
        conn,
        &[
            b"XCLAIM",
            b"st:big",
            b"g1",
            b"dave",
            b"0",
            b"3-1",
            b"TIME",
            b"1700000000000",
            b"JUSTID",
        ],
    )
    .await;
    call(
        conn,
        &[b"XGROUP", b"CREATECONSUMER", b"st:big", b"g2", b"erin"],
    )
    .await;
    ok(
        conn,
        &[b"XGROUP", b"CREATE", b"st:empty", b"g", b"$", b"MKSTREAM"],
    )
    .await;
    for i in 1..=40u32 {
        let id = format!("{i}-0");
        let field = "k".repeat(i as usize);
        call(
            conn,
            &[
                b"XADD",
                b"st:trim",
                b"MAXLEN",
                b"~",
                b"10",
                id.as_bytes(),
                field.as_bytes(),
                b"1",
            ],
        )
        .await;
    }
}

pub fn info_field(info: &Frame, name: &str) -> String {
    let text = match info {
        Frame::Bulk(b) => String::from_utf8_lossy(b).into_owned(),
        other => panic!("INFO: {other:?}"),
    };
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or_else(|| panic!("no {name} in INFO"))
        .to_string()
}
