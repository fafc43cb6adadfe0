//! RDB persistence: SAVE/BGSAVE/DEBUG RELOAD, round trips of every type, files written by a
//! real Redis 7.0.15 (fixtures/, made by fixtures/make-fixtures.sh), corrupt input, loading at
//! startup, and (when REDISCOVER_REAL_REDIS_SERVER names a redis-server binary) interop both
//! ways plus `redis-check-rdb` on our files.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use common::{RawConn, TestServer};
use rediscover::resp::{encode_command, Frame};
use rediscover_testserver::config::Config;
use rediscover_testserver::keyspace::{Db, Value};
use rediscover_testserver::rdb::{self, LoadOptions, RdbError, SaveMeta};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

// ---- helpers ----

/// A scratch directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
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

    fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    fn str(&self) -> &str {
        self.0.to_str().expect("utf-8 temp path")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// An in-process server saving to `dir/dump.rdb`, with DEBUG enabled.
async fn server(dir: &TempDir) -> TestServer {
    let config = Config {
        dir: dir.str().to_string(),
        enable_debug_command: "yes".into(),
        ..Config::default()
    };
    TestServer::builder()
        .config(config)
        .start()
        .await
        .expect("start")
}

/// Sends a binary-safe command and returns its reply as a frame.
async fn call(conn: &mut RawConn, argv: &[&[u8]]) -> Frame {
    let mut out = BytesMut::new();
    encode_command(&mut out, argv);
    conn.send_raw(&out).await;
    conn.read_frame().await
}

async fn ok(conn: &mut RawConn, argv: &[&[u8]]) {
    let reply = call(conn, argv).await;
    assert!(
        !matches!(reply, Frame::Error(_)),
        "{:?} -> {reply:?}",
        argv.iter()
            .map(|a| String::from_utf8_lossy(a))
            .collect::<Vec<_>>()
    );
}

fn bulks(frame: Frame) -> Vec<Bytes> {
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
async fn dump(conn: &mut RawConn) -> Vec<String> {
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
            let enc = call(conn, &[b"OBJECT", b"ENCODING", k]).await;
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
                other => panic!("unexpected type {other}"),
            };
            lines.push(format!("{db} {key:?} {kind} {at:?} {enc:?} {contents:?}"));
        }
    }
    ok(conn, &[b"SELECT", b"0"]).await;
    lines
}

/// A dataset with every type in its small and large encodings, TTLs, binary data and several
/// databases.
async fn populate(conn: &mut RawConn) {
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

fn info_field(info: &Frame, name: &str) -> String {
    let text = match info {
        Frame::Bulk(b) => String::from_utf8_lossy(b).into_owned(),
        other => panic!("INFO: {other:?}"),
    };
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or_else(|| panic!("no {name} in INFO"))
        .to_string()
}

fn copy_fixture(name: &str, dir: &TempDir) {
    std::fs::copy(Path::new(FIXTURES).join(name), dir.file("dump.rdb")).expect("copy fixture");
}

// ---- golden values ----

#[test]
fn crc64_jones_check_value() {
    assert_eq!(rdb::crc64(b"123456789"), 0xe9c6_d914_c4b8_d9ca);
    assert_eq!(rdb::crc64(b""), 0);
}

#[test]
fn header_and_aux_fields_are_what_redis_writes() {
    let dbs: Vec<Db> = (0..16).map(|_| Db::default()).collect();
    let meta = SaveMeta {
        now_ms: 1_700_000_000_123,
        used_mem: 1_000_000,
        ..SaveMeta::default()
    };
    let data = rdb::write(&dbs, &meta);
    let mut expected = b"REDIS0009".to_vec();
    expected.extend_from_slice(b"\xfa\x09redis-ver\x067.0.15");
    expected.extend_from_slice(b"\xfa\x0aredis-bits\xc0\x40");
    // 1700000000 and 1000000 fit 32 bits: integer-encoded, little-endian.
    expected.extend_from_slice(b"\xfa\x05ctime\xc2\x00\xf1\x53\x65");
    expected.extend_from_slice(b"\xfa\x08used-mem\xc2\x40\x42\x0f\x00");
    expected.extend_from_slice(b"\xfa\x08aof-base\xc0\x00");
    expected.push(0xff);
    assert_eq!(&data[..data.len() - 8], &expected[..]);
    assert_eq!(
        u64::from_le_bytes(data[data.len() - 8..].try_into().unwrap()),
        rdb::crc64(&expected)
    );
    let snap = rdb::load(&data, &LoadOptions::default()).unwrap();
    assert_eq!(snap.version, 9);
    assert_eq!(snap.aux("redis-ver").unwrap(), "7.0.15");
    assert_eq!(snap.aux("ctime").unwrap(), "1700000000");
}

#[tokio::test]
async fn rdbcompression_and_rdbchecksum_are_honoured() {
    let dir = TempDir::new("switches");
    let srv = server(&dir).await;
    let mut c = RawConn::connect(srv.addr()).await;
    let long = "abc".repeat(100);
    assert_reply!(c, ["SET", "k", &long], b"+OK\r\n");
    assert_reply!(c, ["SAVE"], b"+OK\r\n");
    let packed = std::fs::read(dir.file("dump.rdb")).unwrap();
    assert!(!packed.windows(long.len()).any(|w| w == long.as_bytes()));
    assert_reply!(c, ["CONFIG", "SET", "rdbcompression", "no"], b"+OK\r\n");
    assert_reply!(c, ["SAVE"], b"+OK\r\n");
    let plain = std::fs::read(dir.file("dump.rdb")).unwrap();
    assert!(plain.windows(long.len()).any(|w| w == long.as_bytes()));
    srv.shutdown().await;

    let dbs: Vec<Db> = (0..16).map(|_| Db::default()).collect();
    let meta = SaveMeta {
        checksum: false,
        ..SaveMeta::default()
    };
    let data = rdb::write(&dbs, &meta);
    assert_eq!(data[data.len() - 8..], [0; 8]);
    assert!(rdb::load(&data, &LoadOptions::default()).is_ok());
}

// ---- files written by a real Redis 7.0.15 ----

#[test]
fn loads_redis_7_fixture_at_library_level() {
    let data = std::fs::read(Path::new(FIXTURES).join("types.rdb")).unwrap();
    let snap = rdb::load(&data, &LoadOptions::default()).unwrap();
    assert_eq!(snap.version, 10);
    assert_eq!(snap.aux("redis-ver").unwrap(), "7.0.15");
    assert_eq!(snap.keys_loaded, 23);
    assert_eq!(snap.dbs[0].len(), 21);
    assert_eq!(snap.dbs[1].len(), 1);
    assert_eq!(snap.dbs[15].len(), 1);
    assert_eq!(snap.dbs[0].expire_at(b"exp:far"), Some(4_102_444_800_000));
    match snap.dbs[0].peek(b"list:plain") {
        Some(Value::List(l)) => {
            assert_eq!(l.len(), 3);
            assert_eq!(l.items[1].len(), 10_000);
        }
        other => panic!("{other:?}"),
    }
    for name in ["lru.rdb", "lfu.rdb"] {
        let data = std::fs::read(Path::new(FIXTURES).join(name)).unwrap();
        let snap = rdb::load(&data, &LoadOptions::default()).unwrap();
        assert_eq!(snap.dbs[0].len(), 2, "{name}");
    }
}

#[tokio::test]
async fn loads_redis_7_fixture_with_redis_encodings() {
    let dir = TempDir::new("fixture");
    copy_fixture("types.rdb", &dir);
    let srv = server(&dir).await;
    let mut c = RawConn::connect(srv.addr()).await;
    assert_reply!(c, ["DEBUG", "RELOAD", "NOSAVE"], b"+OK\r\n");
    assert_reply!(c, ["DBSIZE"], b":21\r\n");
    assert_reply!(c, ["GET", "str:small"], b"$5\r\nhello\r\n");
    assert_reply!(c, ["GET", "str:bigint"], b"$14\r\n12345678901234\r\n");
    assert_reply!(c, ["GET", "str:neg"], b"$2\r\n-7\r\n");
    assert_reply!(c, ["STRLEN", "str:long"], b":300\r\n");
    assert_reply!(c, ["GETRANGE", "str:long", "-3", "-1"], b"$3\r\nabc\r\n");
    assert_reply!(
        c,
        ["LRANGE", "list:small", "0", "-1"],
        b"*7\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\n1\r\n$1\r\n2\r\n$4\r\n-300\r\n$5\r\n70000\r\n$20\r\n-9223372036854775808\r\n"
    );
    assert_reply!(c, ["LLEN", "list:big"], b":2000\r\n");
    assert_reply!(c, ["LINDEX", "list:big", "1999"], b"$9\r\nitem-1999\r\n");
    assert_reply!(c, ["LINDEX", "list:plain", "2"], b"$4\r\ntail\r\n");
    assert_reply!(
        c,
        ["SMEMBERS", "set:ints"],
        b"*6\r\n$2\r\n-5\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n$6\r\n100000\r\n$19\r\n9223372036854775807\r\n"
    );
    assert_reply!(c, ["SCARD", "set:big"], b":600\r\n");
    assert_reply!(
        c,
        ["HGETALL", "hash:small"],
        b"*4\r\n$2\r\nf1\r\n$2\r\nv1\r\n$2\r\nf2\r\n$1\r\n2\r\n"
    );
    assert_reply!(c, ["HGET", "hash:big", "f599"], b"$3\r\n599\r\n");
    assert_reply!(
        c,
        ["ZRANGE", "zset:small", "0", "-1", "WITHSCORES"],
        b"*8\r\n$1\r\nc\r\n$4\r\n-inf\r\n$1\r\nd\r\n$1\r\n0\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$3\r\n2.5\r\n"
    );
    assert_reply!(c, ["ZSCORE", "zset:big", "m-199"], b"$5\r\n199.5\r\n");
    assert_reply!(c, ["PEXPIRETIME", "exp:far"], b":4102444800000\r\n");
    assert_reply!(c, ["PEXPIRETIME", "exp:list"], b":4102444800123\r\n");
    assert_reply!(c, ["PEXPIRETIME", "str:small"], b":-1\r\n");
    let bin = call(&mut c, &[b"GET", b"bin:\x00\xff\r\n"]).await;
    assert_eq!(bin, Frame::Bulk(Bytes::from_static(b"v\x00\x01\x02")));
    // The encodings real Redis 7.0.15 reports after loading this file.
    for (key, enc) in [
        ("str:int", "int"),
        ("str:small", "embstr"),
        ("str:empty", "embstr"),
        ("str:long", "raw"),
        ("list:plain", "quicklist"),
        ("set:ints", "intset"),
        ("set:strs", "hashtable"),
        ("set:big", "hashtable"),
        ("hash:small", "listpack"),
        ("hash:big", "hashtable"),
        ("hash:longval", "hashtable"),
        ("zset:small", "listpack"),
        ("zset:big", "skiplist"),
    ] {
        let want = format!("${}\r\n{enc}\r\n", enc.len());
        assert_reply!(c, ["OBJECT", "ENCODING", key], want.as_bytes());
    }
    assert_reply!(c, ["SELECT", "1"], b"+OK\r\n");
    assert_reply!(c, ["GET", "db1:key"], b"$9\r\nin db one\r\n");
    assert_reply!(c, ["SELECT", "15"], b"+OK\r\n");
    assert_reply!(
        c,
        ["LRANGE", "db15:list", "0", "-1"],
        b"*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n"
    );
    srv.shutdown().await;
}

// ---- encodings Redis 7.0 no longer writes but still loads ----

/// A ziplist or listpack entry for hand-built blobs.
enum Entry<'a> {
    S(&'a [u8]),
    I(i64),
}

/// A ziplist (strings under 64 bytes, integers as int8 or int16).
fn ziplist(entries: &[Entry]) -> Vec<u8> {
    let mut body = Vec::new();
    let mut prev = 0usize;
    for e in entries {
        let mut entry = vec![prev as u8];
        match e {
            Entry::S(s) => {
                entry.push(s.len() as u8);
                entry.extend_from_slice(s);
            }
            Entry::I(n) => match i8::try_from(*n) {
                Ok(v) => entry.extend_from_slice(&[0xFE, v as u8]),
                Err(_) => {
                    entry.push(0xC0);
                    entry.extend_from_slice(&(*n as i16).to_le_bytes());
                }
            },
        }
        prev = entry.len();
        body.extend_from_slice(&entry);
    }
    let total = 10 + body.len() + 1;
    let mut out = (total as u32).to_le_bytes().to_vec();
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&body);
    out.push(0xFF);
    out
}

/// An RDB built by hand, byte by byte.
struct RdbBuilder(Vec<u8>);

impl RdbBuilder {
    fn new(version: u32) -> Self {
        RdbBuilder(format!("REDIS{version:04}").into_bytes())
    }

    fn op(mut self, bytes: &[u8]) -> Self {
        self.0.extend_from_slice(bytes);
        self
    }

    /// A raw string with a 6- or 14-bit length.
    fn str(mut self, s: &[u8]) -> Self {
        if s.len() < 64 {
            self.0.push(s.len() as u8);
        } else {
            self.0.push(0x40 | (s.len() >> 8) as u8);
            self.0.push(s.len() as u8);
        }
        self.0.extend_from_slice(s);
        self
    }

    fn finish(mut self) -> Vec<u8> {
        self.0.push(0xFF);
        let crc = rdb::crc64(&self.0);
        self.0.extend_from_slice(&crc.to_le_bytes());
        self.0
    }
}

#[test]
fn loads_legacy_encodings() {
    use Entry::{I, S};
    let zipmap = [2, 1, b'a', 1, 0, b'x', 1, b'b', 2, 1, b'y', b'z', 0, 0xFF];
    let mut intset = vec![4, 0, 0, 0, 2, 0, 0, 0];
    intset.extend_from_slice(&(-70_000i32).to_le_bytes());
    intset.extend_from_slice(&5i32.to_le_bytes());
    let data = RdbBuilder::new(6)
        .op(b"\xfa")
        .str(b"lua")
        .str(b"return 1")
        .op(b"\xfe\x00\xfb\x08\x01")
        // FD: expiry in seconds.
        .op(b"\xfd")
        .op(&2_000_000_000i32.to_le_bytes())
        .op(&[10])
        .str(b"zl:list")
        .str(&ziplist(&[S(b"a"), I(7), I(300)]))
        .op(&[13])
        .str(b"zl:hash")
        .str(&ziplist(&[S(b"f"), S(b"v"), S(b"n"), I(12)]))
        .op(&[12])
        .str(b"zl:zset")
        .str(&ziplist(&[S(b"m"), S(b"1.5"), S(b"n"), I(-2)]))
        .op(&[14])
        .str(b"ql:list")
        .op(&[2])
        .str(&ziplist(&[S(b"x"), S(b"y")]))
        .str(&ziplist(&[I(1)]))
        .op(&[9])
        .str(b"zm:hash")
        .str(&zipmap)
        .op(&[11])
        .str(b"is:set")
        .str(&intset)
        // LRU and LFU hints before a key.
        .op(b"\xf8\x05\xf9\x07")
        .op(&[3])
        .str(b"txt:zset")
        .op(&[2])
        .str(b"a")
        .op(b"\x042.25")
        .str(b"b")
        .op(&[254])
        .finish();
    let snap = rdb::load(&data, &LoadOptions::default()).unwrap();
    assert_eq!(snap.version, 6);
    assert_eq!(snap.aux("lua").unwrap(), "return 1");
    let db = &snap.dbs[0];
    assert_eq!(db.len(), 7);
    assert_eq!(db.expire_at(b"zl:list"), Some(2_000_000_000_000));
    let list = |key: &[u8]| match db.peek(key) {
        Some(Value::List(l)) => l.items.iter().cloned().collect::<Vec<_>>(),
        other => panic!("{other:?}"),
    };
    assert_eq!(list(b"zl:list"), ["a", "7", "300"]);
    assert_eq!(list(b"ql:list"), ["x", "y", "1"]);
    for (key, fields) in [
        (&b"zl:hash"[..], [("f", "v"), ("n", "12")]),
        (b"zm:hash", [("a", "x"), ("b", "yz")]),
    ] {
        let Some(Value::Hash(h)) = db.peek(key) else {
            panic!("{key:?}")
        };
        assert_eq!(h.encoding(), "listpack");
        let got: Vec<_> = h.iter().map(|(f, v)| (f.clone(), v.clone())).collect();
        let want: Vec<_> = fields
            .iter()
            .map(|(f, v)| (Bytes::from(*f), Bytes::from(*v)))
            .collect();
        assert_eq!(got, want);
    }
    let Some(Value::ZSet(z)) = db.peek(b"zl:zset") else {
        panic!()
    };
    assert_eq!((z.score(b"m"), z.score(b"n")), (Some(1.5), Some(-2.0)));
    let Some(Value::ZSet(z)) = db.peek(b"txt:zset") else {
        panic!()
    };
    assert_eq!(
        (z.score(b"a"), z.score(b"b")),
        (Some(2.25), Some(f64::INFINITY))
    );
    let Some(Value::Set(s)) = db.peek(b"is:set") else {
        panic!()
    };
    assert_eq!(s.encoding(), "intset");
    assert_eq!(s.iter().collect::<Vec<_>>(), ["-70000", "5"]);
}

#[test]
fn skips_function_libraries() {
    let data = RdbBuilder::new(10)
        .op(b"\xf5")
        .str(b"#!lua name=lib\nredis.register_function('f', function() return 1 end)")
        .op(b"\xfe\x00\x00")
        .str(b"k")
        .str(b"v")
        .finish();
    let snap = rdb::load(&data, &LoadOptions::default()).unwrap();
    assert_eq!(snap.dbs[0].len(), 1);
}

// ---- round trips ----

#[tokio::test]
async fn round_trip_every_type_through_save_and_reload() {
    let dir = TempDir::new("roundtrip");
    let srv = server(&dir).await;
    let mut c = RawConn::connect(srv.addr()).await;
    populate(&mut c).await;
    let before = dump(&mut c).await;
    assert_eq!(before.len(), 25, "{before:#?}");
    assert_reply!(c, ["SAVE"], b"+OK\r\n");
    // Changes after the save are undone by reloading the file.
    assert_reply!(c, ["DEL", "str:small"], b":1\r\n");
    assert_reply!(c, ["SET", "later", "x"], b"+OK\r\n");
    assert_reply!(c, ["DEBUG", "RELOAD", "NOSAVE"], b"+OK\r\n");
    assert_eq!(dump(&mut c).await, before);
    // DEBUG RELOAD saves first, then loads: nothing changes.
    assert_reply!(c, ["DEBUG", "RELOAD"], b"+OK\r\n");
    assert_eq!(dump(&mut c).await, before);
    srv.shutdown().await;

    // A fresh server reading the same file sees the same data.
    let srv = server(&dir).await;
    let mut c = RawConn::connect(srv.addr()).await;
    assert_reply!(c, ["DBSIZE"], b":0\r\n");
    assert_reply!(c, ["DEBUG", "RELOAD", "NOSAVE"], b"+OK\r\n");
    assert_eq!(dump(&mut c).await, before);
    srv.shutdown().await;
}

#[test]
fn expired_keys_are_not_saved_and_not_loaded() {
    let mut db = Db::default();
    for (key, at) in [("gone", 1_000), ("kept", 5_000), ("stale", 3_000)] {
        db.set(Bytes::from(key), Value::from_bytes(Bytes::from("v")));
        db.set_expire(key.as_bytes(), at);
    }
    let mut dbs = vec![db];
    dbs.extend((0..15).map(|_| Db::default()));
    let meta = SaveMeta {
        now_ms: 2_000,
        ..SaveMeta::default()
    };
    let data = rdb::write(&dbs, &meta);
    let keep_all = rdb::load(&data, &LoadOptions::default()).unwrap();
    assert_eq!(keep_all.dbs[0].len(), 2);
    assert!(keep_all.dbs[0].peek(b"gone").is_none());
    // A master drops keys that expired before the load.
    let options = LoadOptions {
        drop_expired_before: Some(4_000),
        ..LoadOptions::default()
    };
    let master = rdb::load(&data, &options).unwrap();
    assert_eq!(master.dbs[0].len(), 1);
    assert_eq!(master.keys_expired, 1);
    assert_eq!(master.dbs[0].expire_at(b"kept"), Some(5_000));
}

// ---- commands ----

#[tokio::test]
async fn save_bgsave_and_info_like_redis() {
    let dir = TempDir::new("commands");
    let srv = server(&dir).await;
    let mut c = RawConn::connect(srv.addr()).await;
    assert_reply!(c, ["SET", "a", "1"], b"+OK\r\n");
    let info = c.frame(&["INFO", "persistence"]).await;
    assert_eq!(info_field(&info, "rdb_changes_since_last_save"), "1");
    assert_eq!(info_field(&info, "rdb_saves"), "0");
    assert_eq!(info_field(&info, "rdb_last_bgsave_time_sec"), "-1");
    assert_reply!(c, ["SAVE"], b"+OK\r\n");
    assert!(dir.file("dump.rdb").exists());
    let info = c.frame(&["INFO", "persistence"]).await;
    assert_eq!(info_field(&info, "rdb_changes_since_last_save"), "0");
    assert_eq!(info_field(&info, "rdb_saves"), "1");
    let lastsave = match c.frame(&["LASTSAVE"]).await {
        Frame::Integer(n) => n,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        info_field(&info, "rdb_last_save_time"),
        lastsave.to_string()
    );
    assert_reply!(c, ["BGSAVE"], b"+Background saving started\r\n");
    assert_reply!(c, ["BGSAVE", "SCHEDULE"], b"+Background saving started\r\n");
    assert_reply!(c, ["BGSAVE", "x"], b"-ERR syntax error\r\n");
    assert_reply!(c, ["BGSAVE", "SCHEDULE", "x"], b"-ERR syntax error\r\n");
    assert_reply!(c, ["MULTI"], b"+OK\r\n");
    assert_reply!(c, ["BGSAVE"], b"+QUEUED\r\n");
    assert_reply!(c, ["EXEC"], b"*1\r\n+Background saving scheduled\r\n");
    assert_reply!(c, ["MULTI"], b"+OK\r\n");
    assert_reply!(
        c,
        ["SAVE"],
        b"-ERR Command not allowed inside a transaction\r\n"
    );
    assert_reply!(c, ["DISCARD"], b"+OK\r\n");
    let info = c.frame(&["INFO", "persistence"]).await;
    assert_eq!(info_field(&info, "rdb_saves"), "4");
    assert_eq!(info_field(&info, "rdb_last_bgsave_status"), "ok");
    assert_eq!(info_field(&info, "rdb_last_bgsave_time_sec"), "0");
    assert_reply!(
        c,
        ["DEBUG", "RELOAD", "foo"],
        b"-ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.\r\n"
    );
    // DEBUG RELOAD does not count as a save in rdb_saves.
    assert_reply!(c, ["DEBUG", "RELOAD"], b"+OK\r\n");
    let info = c.frame(&["INFO", "persistence"]).await;
    assert_eq!(info_field(&info, "rdb_saves"), "4");
    srv.shutdown().await;
}

#[tokio::test]
async fn shutdown_save_writes_the_rdb() {
    let dir = TempDir::new("shutdown");
    let srv = server(&dir).await;
    let mut c = RawConn::connect(srv.addr()).await;
    assert_reply!(c, ["SET", "a", "1"], b"+OK\r\n");
    c.send(&["SHUTDOWN", "SAVE"]).await;
    assert!(c.is_closed().await);
    let snap = rdb::load_file(&dir.file("dump.rdb"), &LoadOptions::default()).unwrap();
    assert_eq!(snap.dbs[0].len(), 1);
    srv.shutdown().await;
}

#[tokio::test]
async fn failed_saves_report_like_redis() {
    let dir = TempDir::new("failing");
    // The target name is a directory: the final rename fails.
    std::fs::create_dir(dir.file("dump.rdb")).unwrap();
    let srv = server(&dir).await;
    let mut c = RawConn::connect(srv.addr()).await;
    assert_reply!(c, ["SET", "a", "1"], b"+OK\r\n");
    assert_reply!(c, ["SAVE"], b"-ERR\r\n");
    assert_reply!(c, ["BGSAVE"], b"+Background saving started\r\n");
    let info = c.frame(&["INFO", "persistence"]).await;
    assert_eq!(info_field(&info, "rdb_last_bgsave_status"), "err");
    assert_eq!(info_field(&info, "rdb_changes_since_last_save"), "1");
    assert_eq!(info_field(&info, "rdb_saves"), "2");
    assert_reply!(c, ["DEBUG", "RELOAD"], b"-ERR\r\n");
    assert_reply!(c, ["DBSIZE"], b":1\r\n");
    // No temporary file is left behind.
    let names: Vec<_> = std::fs::read_dir(&dir.0).unwrap().collect();
    assert_eq!(names.len(), 1);
    srv.shutdown().await;
}

#[tokio::test]
async fn debug_reload_noflush_and_merge() {
    let dir = TempDir::new("merge");
    let srv = server(&dir).await;
    let mut c = RawConn::connect(srv.addr()).await;
    assert_reply!(c, ["SET", "a", "from-file"], b"+OK\r\n");
    assert_reply!(c, ["SAVE"], b"+OK\r\n");
    assert_reply!(c, ["SET", "a", "in-memory"], b"+OK\r\n");
    assert_reply!(c, ["SET", "b", "only-in-memory"], b"+OK\r\n");
    // Without MERGE a key on both sides is an error (Redis would crash); nothing changes.
    assert_reply!(
        c,
        ["DEBUG", "RELOAD", "NOSAVE", "NOFLUSH"],
        b"-ERR Error trying to load the RDB dump\r\n"
    );
    assert_reply!(c, ["GET", "a"], b"$9\r\nin-memory\r\n");
    assert_reply!(
        c,
        ["DEBUG", "RELOAD", "NOSAVE", "NOFLUSH", "MERGE"],
        b"+OK\r\n"
    );
    assert_reply!(c, ["GET", "a"], b"$9\r\nfrom-file\r\n");
    assert_reply!(c, ["GET", "b"], b"$14\r\nonly-in-memory\r\n");
    srv.shutdown().await;
}

// ---- corrupt input ----

/// A valid file with a bit of everything, written by our writer.
fn sample_file() -> Vec<u8> {
    let data = std::fs::read(Path::new(FIXTURES).join("types.rdb")).unwrap();
    let snap = rdb::load(&data, &LoadOptions::default()).unwrap();
    rdb::write(&snap.dbs, &SaveMeta::default())
}

#[test]
fn truncated_files_are_rejected() {
    for data in [
        sample_file(),
        std::fs::read(Path::new(FIXTURES).join("types.rdb")).unwrap(),
    ] {
        assert!(rdb::load(&data, &LoadOptions::default()).is_ok());
        // Every cut point would be slow on 20 KB in a debug build: every one in the header,
        // aux fields and first keys, then a stride, then every one around the trailer.
        let n = data.len();
        let cuts = (0..300).chain((300..n - 9).step_by(61)).chain(n - 9..n);
        for cut in cuts {
            match rdb::load(&data[..cut], &LoadOptions::default()) {
                Err(RdbError::Truncated { .. }) | Err(RdbError::Corrupt { .. }) => {}
                other => panic!("cut at {cut}: {other:?}"),
            }
        }
    }
}

#[test]
fn corrupt_files_are_rejected_with_clear_errors() {
    let data = sample_file();
    let err = |d: &[u8]| {
        rdb::load(d, &LoadOptions::default())
            .unwrap_err()
            .to_string()
    };

    let mut flipped = data.clone();
    flipped[100] ^= 0x01;
    assert!(rdb::load(&flipped, &LoadOptions::default()).is_err());

    // A changed value that still parses is caught by the checksum.
    let at = data
        .windows(5)
        .position(|w| w == b"hello")
        .expect("str:small");
    let mut changed = data.clone();
    changed[at] = b'j';
    assert!(err(&changed).starts_with("Wrong RDB checksum expected: ("));

    // A zero trailer means "not checked".
    let n = changed.len();
    changed[n - 8..].fill(0);
    let snap = rdb::load(&changed, &LoadOptions::default()).unwrap();
    assert!(matches!(snap.dbs[0].peek(b"str:small"), Some(Value::Str(s)) if s.data == "jello"));

    assert_eq!(
        err(b"RIDES0009\xff"),
        "Corrupt RDB at offset 0: Wrong signature trying to load DB from file"
    );
    assert_eq!(
        err(b"REDIS0011\xff"),
        "Unsupported RDB content at offset 5: Can't handle RDB format version 11"
    );
    assert_eq!(
        err(b"REDIS"),
        "Unexpected EOF reading RDB file (at offset 0)"
    );
    // No EOF opcode.
    assert!(err(b"REDIS0009").starts_with("Unexpected EOF"));
    // Unknown value type.
    assert_eq!(
        err(b"REDIS0009\x08\x01k\x00\xff"),
        "Corrupt RDB at offset 9: Unknown RDB encoding type 8"
    );
    // A database beyond `databases`.
    assert!(err(b"REDIS0009\xfe\x10\xff").contains("more than 16 databases"));
    // Duplicated key.
    assert_eq!(
        err(b"REDIS0009\x00\x01k\x01v\x00\x01k\x01w\xff"),
        "Corrupt RDB at offset 14: RDB has duplicated key 'k' in DB 0"
    );
    // A stream is refused: this server has no stream type.
    assert!(err(b"REDIS0010\x13\x01s\x00\xff").contains("no stream type"));
    // Module data names the module.
    assert!(
        err(b"REDIS0009\xf7\x81\x00\x00\x00\x00\x00\x00\x04\x00\x02\x00\xff")
            .contains("AUX module data")
    );
    // An LZF string claiming an impossible size.
    assert_eq!(
        err(b"REDIS0009\x00\x01k\xc3\x02\x80\x7f\xff\xff\xff\x00a\xff"),
        "Corrupt RDB at offset 13: Invalid LZF compressed string"
    );
    // Empty collections are skipped, as Redis does.
    let snap = rdb::load(
        b"REDIS0009\x02\x01s\x00\xff\0\0\0\0\0\0\0\0",
        &LoadOptions::default(),
    )
    .unwrap();
    assert!(snap.dbs[0].is_empty());
}

#[test]
fn mutated_files_never_panic() {
    let data = sample_file();
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..300 {
        let mut d = data.clone();
        for _ in 0..1 + next() % 4 {
            let i = (next() % (d.len() as u64 - 8)) as usize;
            d[i] = next() as u8;
        }
        // Without a checksum the parser itself has to catch every inconsistency.
        let n = d.len();
        d[n - 8..].fill(0);
        let _ = rdb::load(&d, &LoadOptions::default());
    }
}

#[tokio::test]
async fn debug_reload_of_a_corrupt_file_keeps_the_data() {
    let dir = TempDir::new("corrupt");
    let srv = server(&dir).await;
    let mut c = RawConn::connect(srv.addr()).await;
    assert_reply!(c, ["SET", "a", "1"], b"+OK\r\n");
    let mut data = sample_file();
    let n = data.len();
    data.truncate(n / 2);
    std::fs::write(dir.file("dump.rdb"), &data).unwrap();
    assert_reply!(
        c,
        ["DEBUG", "RELOAD", "NOSAVE"],
        b"-ERR Error trying to load the RDB dump\r\n"
    );
    assert_reply!(c, ["GET", "a"], b"$1\r\n1\r\n");
    srv.shutdown().await;
}

// ---- loading at startup (the rediscover-server binary) ----

const SERVER: &str = env!("CARGO_BIN_EXE_rediscover-server");

/// A child process, killed on drop.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `rediscover-server` on `dir` and returns it with its stdout lines until it is ready
/// (or exits), and the port it logged.
fn start_binary(dir: &TempDir) -> (Proc, Vec<String>, Option<u16>) {
    use std::io::{BufRead, BufReader};
    let mut child = Command::new(SERVER)
        .args(["--port", "0", "--save", "", "--dir", dir.str()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn rediscover-server");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = Vec::new();
    let mut port = None;
    let mut reader = BufReader::new(stdout).lines();
    for line in reader.by_ref() {
        let Ok(line) = line else { break };
        if let Some(p) = line.split("port=").nth(1) {
            port = p.trim_end_matches('.').parse().ok();
        }
        let ready = line.contains("Ready to accept connections");
        lines.push(line);
        if ready {
            break;
        }
    }
    // Keep reading, so the server's later log lines never hit a closed pipe.
    std::thread::spawn(move || reader.for_each(drop));
    (Proc(child), lines, port)
}

#[tokio::test]
async fn binary_loads_the_rdb_at_startup() {
    let dir = TempDir::new("startup");
    copy_fixture("types.rdb", &dir);
    let (_proc, lines, port) = start_binary(&dir);
    let loaded = lines
        .iter()
        .find(|l| l.contains("DB loaded from disk: "))
        .unwrap_or_else(|| panic!("{lines:#?}"));
    let secs = loaded.rsplit("disk: ").next().unwrap();
    assert!(
        secs.ends_with(" seconds") && secs.split(' ').next().unwrap().len() >= 5,
        "{loaded}"
    );
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port.expect("port")));
    let mut c = RawConn::connect(addr).await;
    assert_reply!(c, ["DBSIZE"], b":21\r\n");
    assert_reply!(c, ["LLEN", "list:big"], b":2000\r\n");
}

#[test]
fn binary_refuses_a_corrupt_rdb_at_startup() {
    let dir = TempDir::new("startup-corrupt");
    std::fs::write(dir.file("dump.rdb"), b"REDIS0009\x00\x01k").unwrap();
    let (mut proc, lines, _) = start_binary(&dir);
    assert!(
        lines
            .iter()
            .any(|l| l.contains("Fatal error loading the DB: Unexpected EOF")),
        "{lines:#?}"
    );
    let status = proc.0.wait().expect("wait");
    assert!(!status.success());
}

// ---- interop with a real Redis (REDISCOVER_REAL_REDIS_SERVER=/usr/bin/redis-server) ----

/// A real redis-server on `dir/file`, stopped on drop.
struct RealRedis {
    _proc: Proc,
    port: u16,
}

impl RealRedis {
    async fn start(binary: &str, port: u16, dir: &TempDir, file: &str) -> RealRedis {
        let child = Command::new(binary)
            .args([
                "--port",
                &port.to_string(),
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .args(["--dir", dir.str(), "--dbfilename", file])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn redis-server");
        let real = RealRedis {
            _proc: Proc(child),
            port,
        };
        let addr = real.addr();
        let up = common::wait_until(Duration::from_secs(10), || async move {
            tokio::net::TcpStream::connect(addr).await.is_ok()
        })
        .await;
        assert!(up, "redis-server did not start on port {port}");
        real
    }

    fn addr(&self) -> std::net::SocketAddr {
        std::net::SocketAddr::from(([127, 0, 0, 1], self.port))
    }
}

fn real_redis() -> Option<String> {
    match std::env::var("REDISCOVER_REAL_REDIS_SERVER") {
        Ok(path) if !path.is_empty() => Some(path),
        _ => {
            eprintln!("skipped: set REDISCOVER_REAL_REDIS_SERVER=/path/to/redis-server to run");
            None
        }
    }
}

/// `redis-check-rdb` next to the given redis-server, or on PATH.
fn check_rdb_binary(server: &str) -> PathBuf {
    let beside = Path::new(server).with_file_name("redis-check-rdb");
    if beside.exists() {
        beside
    } else {
        PathBuf::from("redis-check-rdb")
    }
}

#[tokio::test]
async fn real_redis_loads_our_rdb() {
    let Some(binary) = real_redis() else { return };
    let dir = TempDir::new("interop-ours");
    let srv = server(&dir).await;
    let mut c = RawConn::connect(srv.addr()).await;
    populate(&mut c).await;
    let ours = dump(&mut c).await;
    assert_reply!(c, ["SAVE"], b"+OK\r\n");
    srv.shutdown().await;
    std::fs::rename(dir.file("dump.rdb"), dir.file("x.rdb")).unwrap();

    let check = Command::new(check_rdb_binary(&binary))
        .arg(dir.file("x.rdb"))
        .output()
        .expect("run redis-check-rdb");
    let report = String::from_utf8_lossy(&check.stdout);
    assert!(
        check.status.success() && report.contains("RDB looks OK"),
        "{report}"
    );

    let real = RealRedis::start(&binary, 17026, &dir, "x.rdb").await;
    let mut r = RawConn::connect(real.addr()).await;
    assert_eq!(dump(&mut r).await, ours);
}

#[tokio::test]
async fn real_redis_and_we_read_its_rdb_alike() {
    let Some(binary) = real_redis() else { return };
    let dir = TempDir::new("interop-theirs");
    copy_fixture("types.rdb", &dir);
    let real = RealRedis::start(&binary, 17027, &dir, "dump.rdb").await;
    let mut r = RawConn::connect(real.addr()).await;
    let theirs = dump(&mut r).await;
    drop(real);

    let srv = server(&dir).await;
    let mut c = RawConn::connect(srv.addr()).await;
    assert_reply!(c, ["DEBUG", "RELOAD", "NOSAVE"], b"+OK\r\n");
    assert_eq!(dump(&mut c).await, theirs);
    srv.shutdown().await;
}

// ---- property: any dataset survives write + load ----

mod prop {
    use super::*;
    use proptest::collection::vec;
    use proptest::prelude::*;
    use rediscover_testserver::keyspace::{Hash, HashLimits, List, ListpackLimits, Set, Str, ZSet};

    /// Small limits, so both encodings of every type occur.
    fn options() -> LoadOptions {
        LoadOptions {
            hash: HashLimits {
                max_entries: 4,
                max_value: 8,
            },
            zset: ListpackLimits {
                entries: 4,
                value: 8,
            },
            set_max_intset_entries: 4,
            ..LoadOptions::default()
        }
    }

    fn bytes() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            any::<i64>().prop_map(|n| n.to_string().into_bytes()),
            (-200i64..70_000).prop_map(|n| n.to_string().into_bytes()),
            vec(any::<u8>(), 0..30),
            "[ab]{0,120}".prop_map(String::into_bytes),
        ]
    }

    fn score() -> impl Strategy<Value = f64> {
        prop_oneof![
            any::<f64>().prop_filter("not NaN", |f| !f.is_nan()),
            Just(-0.0),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
            (-1000i32..1000).prop_map(|n| f64::from(n) / 8.0),
        ]
    }

    #[derive(Debug, Clone)]
    enum Spec {
        Str(Vec<u8>),
        List(Vec<Vec<u8>>),
        Set(Vec<Vec<u8>>),
        Hash(Vec<(Vec<u8>, Vec<u8>)>),
        ZSet(Vec<(Vec<u8>, f64)>),
    }

    fn spec() -> impl Strategy<Value = Spec> {
        prop_oneof![
            bytes().prop_map(Spec::Str),
            vec(bytes(), 1..12).prop_map(Spec::List),
            vec(bytes(), 1..12).prop_map(Spec::Set),
            vec((bytes(), bytes()), 1..8).prop_map(Spec::Hash),
            vec((bytes(), score()), 1..8).prop_map(Spec::ZSet),
        ]
    }

    fn build(spec: &Spec, o: &LoadOptions) -> Value {
        match spec {
            Spec::Str(s) => Value::Str(Str::new(Bytes::from(s.clone()))),
            Spec::List(items) => Value::List(List {
                items: items.iter().map(|i| Bytes::from(i.clone())).collect(),
            }),
            Spec::Set(members) => {
                let mut set = Set::new();
                for m in members {
                    set.insert(m, o.set_max_intset_entries);
                }
                Value::Set(set)
            }
            Spec::Hash(pairs) => {
                let mut h = Hash::new();
                for (f, v) in pairs {
                    h.set(f, v, o.hash);
                }
                Value::Hash(h)
            }
            Spec::ZSet(pairs) => {
                let mut z = ZSet::new();
                for (m, s) in pairs {
                    z.insert(Bytes::from(m.clone()), *s, &o.zset);
                }
                Value::ZSet(z)
            }
        }
    }

    fn describe(db: &Db) -> Vec<String> {
        let mut lines: Vec<String> = db
            .iter()
            .map(|(k, v)| {
                let contents = match v {
                    Value::Str(s) => format!("{:?}", s.data),
                    Value::List(l) => format!("{:?}", l.items),
                    Value::Set(s) => {
                        let mut m: Vec<Bytes> = s.iter().collect();
                        m.sort();
                        format!("{m:?}")
                    }
                    Value::Hash(h) => {
                        let mut pairs: Vec<_> = h.iter().collect();
                        if h.encoding() == "hashtable" {
                            pairs.sort();
                        }
                        format!("{pairs:?}")
                    }
                    Value::ZSet(z) => {
                        let items: Vec<_> = z.iter().map(|(m, s)| (m, s.to_bits())).collect();
                        format!("{items:?}")
                    }
                };
                format!("{k:?} {:?} {} {contents}", db.expire_at(k), v.encoding())
            })
            .collect();
        lines.sort();
        lines
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        #[test]
        fn write_then_load_gives_the_same_data(
            keys in vec((bytes(), spec(), proptest::option::of(1i64..10_000_000_000_000), 0usize..3), 0..12)
        ) {
            let o = options();
            let mut dbs: Vec<Db> = (0..16).map(|_| Db::default()).collect();
            for (key, spec, expire, db) in &keys {
                let key = Bytes::from(key.clone());
                dbs[*db].set(key.clone(), build(spec, &o));
                if let Some(at) = expire {
                    dbs[*db].set_expire(&key, *at);
                }
            }
            let data = rdb::write(&dbs, &SaveMeta::default());
            let snap = rdb::load(&data, &o).unwrap();
            for (a, b) in dbs.iter().zip(&snap.dbs) {
                prop_assert_eq!(describe(a), describe(b));
            }
        }
    }
}
