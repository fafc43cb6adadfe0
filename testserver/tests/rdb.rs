//! RDB persistence: SAVE/BGSAVE/DEBUG RELOAD, round trips of every type, files written by a
//! real Redis 7.0.15 (fixtures/, made by fixtures/make-fixtures.sh), corrupt input, loading at
//! startup, and (when REDISCOVER_REAL_REDIS_SERVER names a redis-server binary) interop both
//! ways plus `redis-check-rdb` on our files.

mod common;

use std::path::{Path, PathBuf};

use bytes::Bytes;
use common::dataset::{call, dump, info_field, populate, TempDir};
use common::{RawConn, TestServer};
use rediscover::resp::Frame;
use rediscover_testserver::config::Config;
use rediscover_testserver::keyspace::{Db, Value};
use rediscover_testserver::rdb::{self, LoadOptions, RdbError, SaveMeta};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

// ---- helpers ----

async fn server(dir: &TempDir) -> TestServer {
    let config = Config {
        dir: dir.str().to_string(),
        enable_debug_command: "yes".into(),
        ..Config::in_process()
    };
    TestServer::builder()
        .config(config)
        .start()
        .await
        .expect("start")
}

/// Waits (up to 10 s) until no BGSAVE runs; returns INFO persistence then.
async fn bgsave_done(c: &mut RawConn) -> Frame {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let info = c.frame(&["INFO", "persistence"]).await;
        if info_field(&info, "rdb_bgsave_in_progress") == "0" {
            return info;
        }
        assert!(std::time::Instant::now() < deadline, "BGSAVE did not end");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
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
            assert_eq!(l.get(1).map(<[u8]>::len), Some(10_000));
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
    let info = bgsave_done(&mut c).await;
    assert_eq!(info_field(&info, "rdb_last_bgsave_status"), "ok");
    assert_reply!(c, ["BGSAVE", "SCHEDULE"], b"+Background saving started\r\n");
    bgsave_done(&mut c).await;
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
    // The BGSAVE EXEC scheduled starts from the cron.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let info = loop {
        let info = bgsave_done(&mut c).await;
        if info_field(&info, "rdb_saves") == "4" || std::time::Instant::now() > deadline {
            break info;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    };
    assert_eq!(info_field(&info, "rdb_saves"), "4");
    assert_eq!(info_field(&info, "rdb_last_bgsave_status"), "ok");
    let took: i64 = info_field(&info, "rdb_last_bgsave_time_sec")
        .parse()
        .unwrap();
    assert!((0..=1).contains(&took), "{took}");
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
    let info = bgsave_done(&mut c).await;
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

/// The data section of an RDB file: from `SELECTDB 0` + `RESIZEDB` to the EOF opcode.
fn data_section(file: &[u8]) -> String {
    let start = file
        .windows(3)
        .position(|w| w == b"\xfe\x00\xfb")
        .expect("SELECTDB 0");
    file[start..file.len() - 9]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// RESTORE's payload for the string "v", made by DUMP on the server itself.
async fn payload_of_v(c: &mut RawConn) -> Bytes {
    assert_reply!(c, ["SET", "tmp", "v"], b"+OK\r\n");
    let Frame::Bulk(payload) = call(c, &[b"DUMP", b"tmp"]).await else {
        panic!("DUMP")
    };
    assert_reply!(c, ["DEL", "tmp"], b":1\r\n");
    payload
}

/// Under an LFU policy each key is preceded by RDB_OPCODE_FREQ and its counter, under an LRU
/// policy by RDB_OPCODE_IDLE and its idle seconds, under others by nothing: the bytes Redis
/// 7.0.15 saved for the same keys. Loading them back restores OBJECT FREQ / IDLETIME.
#[tokio::test]
async fn idle_time_and_frequency_are_saved_and_loaded() {
    let dir = TempDir::new("hints");
    let srv = server(&dir).await;
    let mut c = RawConn::connect(srv.addr()).await;
    let payload = payload_of_v(&mut c).await;
    // LFU, without decay so the counter cannot change between RESTORE and SAVE.
    assert_reply!(
        c,
        ["CONFIG", "SET", "maxmemory-policy", "allkeys-lfu"],
        b"+OK\r\n"
    );
    assert_reply!(c, ["CONFIG", "SET", "lfu-decay-time", "0"], b"+OK\r\n");
    let ok = Frame::Simple(Bytes::from_static(b"OK"));
    let freq = call(&mut c, &[b"RESTORE", b"k", b"0", &payload, b"FREQ", b"100"]).await;
    assert_eq!(freq, ok);
    assert_reply!(c, ["SAVE"], b"+OK\r\n");
    let file = std::fs::read(dir.file("dump.rdb")).unwrap();
    assert_eq!(data_section(&file), "fe00fb0100f96400016b0176");
    assert_reply!(c, ["DEBUG", "RELOAD", "NOSAVE"], b"+OK\r\n");
    assert_reply!(c, ["OBJECT", "FREQ", "k"], b":100\r\n");

    // LRU: the idle seconds (1000, or 1001 if a second ticked before SAVE).
    assert_reply!(
        c,
        ["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"],
        b"+OK\r\n"
    );
    assert_reply!(c, ["FLUSHALL"], b"+OK\r\n");
    let idle = call(
        &mut c,
        &[b"RESTORE", b"k", b"0", &payload, b"IDLETIME", b"1000"],
    )
    .await;
    assert_eq!(idle, ok);
    assert_reply!(c, ["SAVE"], b"+OK\r\n");
    let file = std::fs::read(dir.file("dump.rdb")).unwrap();
    let section = data_section(&file);
    assert!(
        section == "fe00fb0100f843e800016b0176" || section == "fe00fb0100f843e900016b0176",
        "{section}"
    );
    assert_reply!(c, ["DEBUG", "RELOAD", "NOSAVE"], b"+OK\r\n");
    let Frame::Integer(idle) = call(&mut c, &[b"OBJECT", b"IDLETIME", b"k"]).await else {
        panic!("OBJECT IDLETIME")
    };
    assert!((1000..=1003).contains(&idle), "{idle}");

    // Neither LRU nor LFU: no hint.
    assert_reply!(
        c,
        ["CONFIG", "SET", "maxmemory-policy", "volatile-ttl"],
        b"+OK\r\n"
    );
    assert_reply!(c, ["SAVE"], b"+OK\r\n");
    let file = std::fs::read(dir.file("dump.rdb")).unwrap();
    assert_eq!(data_section(&file), "fe00fb010000016b0176");
    srv.shutdown().await;
}

// The test crate's root is this file, so submodule paths are spelled out.
#[path = "rdb/corrupt.rs"]
mod corrupt;
#[path = "rdb/legacy.rs"]
mod legacy;
#[path = "rdb/processes.rs"]
mod processes;
#[path = "rdb/prop.rs"]
mod prop;
