//! AOF persistence (Redis 7.0 multi-part AOF): data of every type back after a restart, with
//! and without an RDB preamble, BGREWRITEAOF and automatic rewrites, CONFIG SET appendonly,
//! truncated files and manifest errors, and (when REDISCOVER_REAL_REDIS_SERVER names a
//! redis-server binary) AOF directories exchanged with a real Redis both ways.

mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::dataset::{call, dump_data, info_field, populate, populate_streams, TempDir};
use common::{real_redis_binary, RawConn, RealRedisProc, TestServer};
use rediscover::resp::Frame;
use rediscover_testserver::config::Config;

// ---- helpers ----

fn aof_config(dir: &TempDir, extra: &[(&str, &str)]) -> Config {
    let mut config = Config {
        dir: dir.str().to_string(),
        appendonly: true,
        ..Config::in_process()
    };
    for (k, v) in extra {
        config.extra.insert((*k).to_string(), (*v).to_string());
    }
    config
}

async fn start(config: Config) -> (TestServer, RawConn) {
    let server = TestServer::builder()
        .config(config)
        .start()
        .await
        .expect("start");
    let c = RawConn::connect(server.addr()).await;
    (server, c)
}

async fn info(c: &mut RawConn, field: &str) -> String {
    info_field(&call(c, &[b"INFO", b"persistence"]).await, field)
}

fn aof_dir(dir: &TempDir) -> PathBuf {
    dir.file("appendonlydir")
}

fn manifest(dir: &TempDir) -> String {
    std::fs::read_to_string(aof_dir(dir).join("appendonly.aof.manifest")).expect("manifest")
}

fn files(dir: &TempDir) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(aof_dir(dir))
        .expect("aof dir")
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Polls INFO persistence until `check` holds (10 s at most).
async fn wait_info(c: &mut RawConn, check: impl Fn(&dyn Fn(&str) -> String) -> bool) -> bool {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let text = match call(c, &[b"INFO", b"persistence"]).await {
            Frame::Bulk(b) => String::from_utf8_lossy(&b).into_owned(),
            other => panic!("INFO: {other:?}"),
        };
        let field = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(&format!("{name}:")))
                .unwrap_or("")
                .to_string()
        };
        if check(&field) {
            return true;
        }
        if std::time::Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits for a rewrite to finish; returns INFO's `aof_rewrites`.
async fn rewrite_done(c: &mut RawConn) -> u64 {
    let done = wait_info(c, |f| {
        f("aof_rewrite_in_progress") == "0" && f("aof_rewrite_scheduled") == "0"
    })
    .await;
    assert!(done, "rewrite did not finish");
    info(c, "aof_rewrites").await.parse().unwrap()
}

/// Writes made of several command shapes: plain writes, a transaction, a script, expiry,
/// several databases, deletions.
async fn more_writes(c: &mut RawConn) {
    call(c, &[b"MULTI"]).await;
    call(c, &[b"INCR", b"tx:counter"]).await;
    call(c, &[b"LPUSH", b"tx:list", b"a", b"b"]).await;
    assert!(matches!(call(c, &[b"EXEC"]).await, Frame::Array(_)));
    call(
        c,
        &[
            b"EVAL",
            b"redis.call('SET', KEYS[1], 'from-lua'); return redis.call('HSET', KEYS[2], 'f', 'v')",
            b"2",
            b"lua:str",
            b"lua:hash",
        ],
    )
    .await;
    call(c, &[b"SET", b"ttl:key", b"v", b"EX", b"1000"]).await;
    call(c, &[b"SELECT", b"5"]).await;
    call(c, &[b"SADD", b"db5:set", b"x", b"y"]).await;
    call(c, &[b"SELECT", b"0"]).await;
    call(c, &[b"DEL", b"str:small"]).await;
    call(c, &[b"INCRBYFLOAT", b"float", b"1.5"]).await;
}

/// Waits until the AOF buffer is on disk. With `appendfsync everysec` Redis postpones a write
/// while a background fsync runs (up to 2 s) and a killed process loses what was postponed;
/// tests that kill a server wait for the write first.
async fn settle(server: &TestServer) {
    let mut c = RawConn::connect(server.addr()).await;
    let written = wait_info(&mut c, |f| {
        matches!(f("aof_buffer_length").as_str(), "0" | "")
    })
    .await;
    assert!(written, "the AOF buffer was not written");
}

async fn restart(server: &mut TestServer) -> RawConn {
    if server.is_running() {
        settle(server).await;
    }
    server.restart().await.expect("restart");
    RawConn::connect(server.addr()).await
}

// ---- in-process ----

#[tokio::test]
async fn every_type_is_back_after_a_restart() {
    for preamble in ["yes", "no"] {
        let dir = TempDir::new("aof-types");
        let (mut server, mut c) =
            start(aof_config(&dir, &[("aof-use-rdb-preamble", preamble)])).await;
        assert_eq!(info(&mut c, "aof_enabled").await, "1");
        // An empty start creates a BASE and an INCR file.
        let ext = if preamble == "yes" { "rdb" } else { "aof" };
        assert_eq!(
            manifest(&dir),
            format!(
                "file appendonly.aof.1.base.{ext} seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n"
            )
        );
        populate(&mut c).await;
        populate_streams(&mut c).await;
        more_writes(&mut c).await;
        let before = dump_data(&mut c).await;
        // everysec may postpone a write while a background fsync runs: read the files once
        // the buffer is written.
        settle(&server).await;
        let size: u64 = info(&mut c, "aof_current_size").await.parse().unwrap();
        let base_len =
            std::fs::metadata(aof_dir(&dir).join(format!("appendonly.aof.1.base.{ext}")))
                .unwrap()
                .len();
        let incr_len = std::fs::metadata(aof_dir(&dir).join("appendonly.aof.1.incr.aof"))
            .unwrap()
            .len();
        // As in Redis, the BASE made at an empty start is not counted until the next load.
        assert_eq!(size, incr_len);
        // The incr file holds the stream as replication encodes it: SELECT, MULTI/EXEC.
        let incr = std::fs::read(aof_dir(&dir).join("appendonly.aof.1.incr.aof")).unwrap();
        let text = String::from_utf8_lossy(&incr);
        assert!(
            text.starts_with("*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n"),
            "{}",
            &text[..40]
        );
        assert!(text.contains("*1\r\n$5\r\nMULTI\r\n*2\r\n$4\r\nINCR\r\n"));
        assert!(text.contains("*3\r\n$3\r\nSET\r\n$7\r\nlua:str\r\n$8\r\nfrom-lua\r\n"));
        // A relative expiry is written as the absolute time it means.
        assert!(text.contains("$7\r\nttl:key\r\n$1\r\nv\r\n$4\r\nPXAT\r\n"));
        let mut c = restart(&mut server).await;
        assert_eq!(dump_data(&mut c).await, before, "preamble {preamble}");
        assert_eq!(
            info(&mut c, "aof_current_size").await,
            (base_len + incr_len).to_string()
        );
        assert_eq!(info(&mut c, "aof_base_size").await, base_len.to_string());
    }
}

#[tokio::test]
async fn bgrewriteaof_replaces_base_and_incr_files() {
    for preamble in ["yes", "no"] {
        let dir = TempDir::new("aof-rewrite");
        let (mut server, mut c) =
            start(aof_config(&dir, &[("aof-use-rdb-preamble", preamble)])).await;
        populate(&mut c).await;
        populate_streams(&mut c).await;
        more_writes(&mut c).await;
        assert_eq!(
            c.call(&["BGREWRITEAOF"]).await,
            b"+Background append only file rewriting started\r\n"
        );
        // Written while the rewrite (probably) runs: they go to the new incr file.
        for i in 0..50 {
            c.call(&["RPUSH", "during", &i.to_string()]).await;
        }
        assert_eq!(rewrite_done(&mut c).await, 1);
        assert_eq!(info(&mut c, "aof_last_bgrewrite_status").await, "ok");
        let ext = if preamble == "yes" { "rdb" } else { "aof" };
        assert_eq!(
            manifest(&dir),
            format!(
                "file appendonly.aof.2.base.{ext} seq 2 type b\nfile appendonly.aof.2.incr.aof seq 2 type i\n"
            )
        );
        // History files are deleted (in the background).
        let want = vec![
            format!("appendonly.aof.2.base.{ext}"),
            "appendonly.aof.2.incr.aof".to_string(),
            "appendonly.aof.manifest".to_string(),
        ];
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while files(&dir) != want {
            assert!(std::time::Instant::now() < deadline, "{:?}", files(&dir));
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let base =
            std::fs::read(aof_dir(&dir).join(format!("appendonly.aof.2.base.{ext}"))).unwrap();
        if preamble == "yes" {
            assert!(base.starts_with(b"REDIS0009"));
        } else {
            assert!(base.starts_with(b"*2\r\n$6\r\nSELECT\r\n"));
        }
        // As Redis: the base size counts what the new incr file got while the rewrite ran;
        // the current size counts everything.
        let incr_len = std::fs::metadata(aof_dir(&dir).join("appendonly.aof.2.incr.aof"))
            .unwrap()
            .len();
        let base_size: u64 = info(&mut c, "aof_base_size").await.parse().unwrap();
        assert!(
            (base.len() as u64..=base.len() as u64 + incr_len).contains(&base_size),
            "{base_size} {} {incr_len}",
            base.len()
        );
        assert_eq!(
            info(&mut c, "aof_current_size").await,
            (base.len() as u64 + incr_len).to_string()
        );
        // Writes after the rewrite go to the new incr file.
        c.call(&["SET", "after", "rewrite"]).await;
        let before = dump_data(&mut c).await;
        let mut c = restart(&mut server).await;
        assert_eq!(dump_data(&mut c).await, before, "preamble {preamble}");
    }
}

#[tokio::test]
async fn bgrewriteaof_in_a_transaction_is_scheduled() {
    let dir = TempDir::new("aof-sched");
    let (_server, mut c) = start(aof_config(&dir, &[])).await;
    c.call(&["SET", "k", "v"]).await;
    c.call(&["MULTI"]).await;
    c.call(&["BGREWRITEAOF"]).await;
    assert_eq!(
        c.call(&["EXEC"]).await,
        b"*1\r\n+Background append only file rewriting scheduled\r\n"
    );
    // The cron starts it.
    assert_eq!(rewrite_done(&mut c).await, 1);
    assert!(manifest(&dir).contains("appendonly.aof.2.base.rdb seq 2 type b"));
}

#[tokio::test]
async fn bgrewriteaof_without_aof_writes_a_base_only() {
    let dir = TempDir::new("aof-off");
    let mut config = aof_config(&dir, &[]);
    config.appendonly = false;
    let (_server, mut c) = start(config).await;
    assert_eq!(info(&mut c, "aof_enabled").await, "0");
    c.call(&["SET", "k", "v"]).await;
    assert_eq!(
        c.call(&["BGREWRITEAOF"]).await,
        b"+Background append only file rewriting started\r\n"
    );
    assert_eq!(rewrite_done(&mut c).await, 1);
    assert_eq!(
        manifest(&dir),
        "file appendonly.aof.1.base.rdb seq 1 type b\n"
    );
    // The fields shown only with appendonly yes are absent.
    let text = match call(&mut c, &[b"INFO", b"persistence"]).await {
        Frame::Bulk(b) => String::from_utf8_lossy(&b).into_owned(),
        other => panic!("{other:?}"),
    };
    assert!(!text.contains("aof_current_size"));
}

#[tokio::test]
async fn config_set_appendonly_starts_with_a_rewrite() {
    let dir = TempDir::new("aof-config");
    let mut config = aof_config(&dir, &[]);
    config.appendonly = false;
    let (mut server, mut c) = start(config).await;
    populate(&mut c).await;
    assert_eq!(
        c.call(&["CONFIG", "SET", "appendonly", "yes"]).await,
        b"+OK\r\n"
    );
    assert_eq!(rewrite_done(&mut c).await, 1);
    assert_eq!(info(&mut c, "aof_enabled").await, "1");
    assert_eq!(
        manifest(&dir),
        "file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n"
    );
    more_writes(&mut c).await;
    let before = dump_data(&mut c).await;
    let mut c = restart(&mut server).await;
    assert_eq!(dump_data(&mut c).await, before);
    // Off again: nothing more is appended.
    assert_eq!(
        c.call(&["CONFIG", "SET", "appendonly", "no"]).await,
        b"+OK\r\n"
    );
    assert_eq!(info(&mut c, "aof_enabled").await, "0");
    let incr = aof_dir(&dir).join("appendonly.aof.1.incr.aof");
    let len = std::fs::metadata(&incr).unwrap().len();
    c.call(&["SET", "not", "logged"]).await;
    let after = std::fs::read(&incr).unwrap();
    assert_eq!(
        after.len() as u64,
        len,
        "{:?}",
        String::from_utf8_lossy(&after[len as usize..])
    );
}

#[tokio::test]
async fn the_aof_wins_over_the_rdb() {
    let dir = TempDir::new("aof-priority");
    let (mut server, mut c) = start(aof_config(&dir, &[])).await;
    c.call(&["SET", "k", "in-both"]).await;
    assert_eq!(c.call(&["SAVE"]).await, b"+OK\r\n");
    c.call(&["SET", "k", "aof-only"]).await;
    let mut c = restart(&mut server).await;
    assert_eq!(c.call(&["GET", "k"]).await, b"$8\r\naof-only\r\n");
}

#[tokio::test]
async fn automatic_rewrite_on_growth() {
    let dir = TempDir::new("aof-auto");
    let (_server, mut c) = start(aof_config(
        &dir,
        &[
            ("auto-aof-rewrite-min-size", "4096"),
            ("auto-aof-rewrite-percentage", "100"),
        ],
    ))
    .await;
    assert_eq!(info(&mut c, "aof_rewrites").await, "0");
    for i in 0..100 {
        c.call(&["SET", &format!("key{i}"), &"x".repeat(100)]).await;
    }
    assert!(wait_info(&mut c, |f| f("aof_rewrites") != "0").await);
    rewrite_done(&mut c).await;
    let base: u64 = info(&mut c, "aof_base_size").await.parse().unwrap();
    assert_eq!(info(&mut c, "aof_current_size").await, base.to_string());
}

#[tokio::test]
async fn appendfsync_always_and_timestamps() {
    let dir = TempDir::new("aof-always");
    let (mut server, mut c) = start(aof_config(
        &dir,
        &[("appendfsync", "always"), ("aof-timestamp-enabled", "yes")],
    ))
    .await;
    c.call(&["SET", "a", "1"]).await;
    let incr = std::fs::read(aof_dir(&dir).join("appendonly.aof.1.incr.aof")).unwrap();
    assert!(
        incr.starts_with(b"#TS:"),
        "{:?}",
        String::from_utf8_lossy(&incr)
    );
    assert_eq!(
        c.call(&["CONFIG", "SET", "appendfsync", "no"]).await,
        b"+OK\r\n"
    );
    c.call(&["SET", "b", "2"]).await;
    let mut c = restart(&mut server).await;
    assert_eq!(
        c.call(&["MGET", "a", "b"]).await,
        b"*2\r\n$1\r\n1\r\n$1\r\n2\r\n"
    );
}

#[tokio::test]
async fn a_truncated_last_command_is_cut_off() {
    let dir = TempDir::new("aof-trunc");
    let (mut server, mut c) = start(aof_config(&dir, &[])).await;
    c.call(&["SET", "a", "1"]).await;
    c.call(&["SET", "b", "2"]).await;
    settle(&server).await;
    server.kill().await;
    let incr = aof_dir(&dir).join("appendonly.aof.1.incr.aof");
    let whole = std::fs::metadata(&incr).unwrap().len();
    let mut data = std::fs::read(&incr).unwrap();
    data.extend_from_slice(b"*3\r\n$3\r\nSET\r\n$1\r\nc\r\n$1\r\n");
    std::fs::write(&incr, &data).unwrap();
    // aof-load-truncated no: loading fails and the file stays as it is.
    server
        .node()
        .lock()
        .config
        .extra
        .insert("aof-load-truncated".into(), "no".into());
    assert!(server.restart().await.is_err());
    assert_eq!(std::fs::metadata(&incr).unwrap().len(), data.len() as u64);
    // yes (the default): the partial command is cut off and the rest loads.
    server
        .node()
        .lock()
        .config
        .extra
        .insert("aof-load-truncated".into(), "yes".into());
    let mut c = restart(&mut server).await;
    assert_eq!(
        c.call(&["MGET", "a", "b", "c"]).await,
        b"*3\r\n$1\r\n1\r\n$1\r\n2\r\n$-1\r\n"
    );
    c.call(&["SET", "d", "4"]).await;
    assert!(std::fs::metadata(&incr).unwrap().len() > whole);
    let mut c = restart(&mut server).await;
    assert_eq!(c.call(&["GET", "d"]).await, b"$1\r\n4\r\n");
}

#[tokio::test]
async fn an_unfinished_transaction_is_reverted() {
    let dir = TempDir::new("aof-multi");
    let (mut server, mut c) = start(aof_config(&dir, &[])).await;
    c.call(&["SET", "a", "1"]).await;
    settle(&server).await;
    server.kill().await;
    let incr = aof_dir(&dir).join("appendonly.aof.1.incr.aof");
    let whole = std::fs::metadata(&incr).unwrap().len();
    let mut data = std::fs::read(&incr).unwrap();
    data.extend_from_slice(b"*1\r\n$5\r\nMULTI\r\n*3\r\n$3\r\nSET\r\n$1\r\nb\r\n$1\r\n2\r\n");
    std::fs::write(&incr, &data).unwrap();
    let mut c = restart(&mut server).await;
    assert_eq!(
        c.call(&["MGET", "a", "b"]).await,
        b"*2\r\n$1\r\n1\r\n$-1\r\n"
    );
    assert_eq!(std::fs::metadata(&incr).unwrap().len(), whole);
}

#[tokio::test]
async fn bad_files_and_manifests_stop_the_start() {
    let cases: &[(&[u8], &str)] = &[
        (b"", "Found an empty AOF manifest"),
        (
            b"file appendonly.aof.1.base.rdb seq 1\n",
            "Invalid AOF manifest file format",
        ),
        (
            b"file appendonly.aof.1.base.rdb seq 1 type b\nfile x seq 2 type b\n",
            "Found duplicate base file information",
        ),
        (
            b"file appendonly.aof.1.incr.aof seq 1 type i\nfile x seq 1 type i\n",
            "Found a non-monotonic sequence number",
        ),
        (
            b"file a/b seq 1 type b\n",
            "File can't be a path, just a filename",
        ),
        (b"file a seq 1 type z\n", "Unknown AOF file type"),
        (
            b"file missing seq 1 type i\n",
            "Unable to obtain the AOF file missing length",
        ),
    ];
    for (text, want) in cases {
        let dir = TempDir::new("aof-manifest");
        let (mut server, mut c) = start(aof_config(&dir, &[])).await;
        c.call(&["SET", "a", "1"]).await;
        settle(&server).await;
        server.kill().await;
        std::fs::write(aof_dir(&dir).join("appendonly.aof.manifest"), text).unwrap();
        let err = server.restart().await.expect_err("must not start");
        assert!(err.to_string().contains(want), "{err} / {want}");
    }
    // A command this server does not know, and a file that is not RESP.
    for (tail, want) in [
        (
            &b"*1\r\n$7\r\nNOSUCHC\r\n"[..],
            "Fatal error loading the append only file",
        ),
        (
            &b"hello\r\n"[..],
            "Fatal error loading the append only file",
        ),
    ] {
        let dir = TempDir::new("aof-bad");
        let (mut server, mut c) = start(aof_config(&dir, &[])).await;
        c.call(&["SET", "a", "1"]).await;
        settle(&server).await;
        server.kill().await;
        let incr = aof_dir(&dir).join("appendonly.aof.1.incr.aof");
        let mut data = std::fs::read(&incr).unwrap();
        data.extend_from_slice(tail);
        std::fs::write(&incr, &data).unwrap();
        let err = server.restart().await.expect_err("must not start");
        assert!(err.to_string().contains(want), "{err}");
    }
}

#[tokio::test]
async fn a_replica_keeps_its_masters_writes_in_its_aof() {
    let (master, mut m) = start(Config::in_process()).await;
    populate(&mut m).await;
    let dir = TempDir::new("aof-replica");
    let mut config = aof_config(&dir, &[]);
    config.replicaof = Some(("127.0.0.1".into(), master.addr().port()));
    let (mut replica, mut r) = start(config).await;
    // The full sync replaces the data: the AOF starts again from it with a rewrite.
    assert!(
        wait_info(&mut r, |f| f("aof_rewrites") == "1"
            && f("aof_rewrite_in_progress") == "0")
        .await
    );
    more_writes(&mut m).await;
    m.call(&["SET", "last", "write"]).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while r.call(&["GET", "last"]).await != b"$5\r\nwrite\r\n" {
        assert!(
            std::time::Instant::now() < deadline,
            "replica did not get the writes"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let before = dump_data(&mut m).await;
    assert_eq!(dump_data(&mut r).await, before);
    // Without its master, the restarted replica has it all from its AOF.
    master.shutdown().await;
    let mut r = restart(&mut replica).await;
    assert_eq!(dump_data(&mut r).await, before);
}

#[tokio::test]
async fn the_binary_loads_its_aof_at_startup() {
    use std::io::{BufRead, BufReader};
    let dir = TempDir::new("aof-binary");
    let spawn = || {
        let mut child = Command::new(env!("CARGO_BIN_EXE_rediscover-server"))
            .args([
                "--port",
                "0",
                "--save",
                "",
                "--appendonly",
                "yes",
                "--dir",
                dir.str(),
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn rediscover-server");
        let mut lines = Vec::new();
        let mut port = None;
        let mut reader = BufReader::new(child.stdout.take().unwrap()).lines();
        for line in reader.by_ref() {
            let Ok(line) = line else { break };
            if let Some(p) = line.split("port=").nth(1) {
                port = p.trim_end_matches('.').parse::<u16>().ok();
            }
            let ready = line.contains("Ready to accept connections");
            lines.push(line);
            if ready {
                break;
            }
        }
        std::thread::spawn(move || reader.for_each(drop));
        (Proc(child), lines, port)
    };
    let (_first, lines, port) = spawn();
    assert!(
        lines.iter().any(|l| l.contains("Creating AOF incr file appendonly.aof.1.incr.aof on server start")),
        "{lines:#?}"
    );
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port.expect("port")));
    let mut c = RawConn::connect(addr).await;
    populate(&mut c).await;
    let before = dump_data(&mut c).await;
    c.send(&["SHUTDOWN"]).await;
    assert!(c.is_closed().await);
    let (_second, lines, port) = spawn();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("DB loaded from append only file: ")),
        "{lines:#?}"
    );
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port.expect("port")));
    let mut c = RawConn::connect(addr).await;
    assert_eq!(dump_data(&mut c).await, before);
}

#[tokio::test]
async fn debug_loadaof_reloads_without_appending_again() {
    let dir = TempDir::new("aof-debug");
    let mut config = aof_config(&dir, &[]);
    config.enable_debug_command = "yes".into();
    let (server, mut c) = start(config).await;
    populate(&mut c).await;
    more_writes(&mut c).await;
    let before = dump_data(&mut c).await;
    settle(&server).await;
    let incr = aof_dir(&dir).join("appendonly.aof.1.incr.aof");
    let len = std::fs::metadata(&incr).unwrap().len();
    assert_eq!(c.call(&["FLUSHALL"]).await, b"+OK\r\n");
    // FLUSHALL is in the AOF too: put the file back as it was before it.
    let data = std::fs::read(&incr).unwrap();
    std::fs::write(&incr, &data[..len as usize]).unwrap();
    assert_eq!(c.call(&["DEBUG", "LOADAOF"]).await, b"+OK\r\n");
    assert_eq!(dump_data(&mut c).await, before);
    let after = std::fs::read(&incr).unwrap();
    assert_eq!(
        after.len() as u64,
        len,
        "{:?}",
        String::from_utf8_lossy(&after[len as usize..])
    );
}

#[tokio::test]
async fn an_old_single_file_aof_is_moved_into_the_directory() {
    for preamble in [false, true] {
        let dir = TempDir::new("aof-upgrade");
        let mut data = Vec::new();
        if preamble {
            // An RDB with key `r`, then the AOF tail.
            let (seed, mut s) = start(Config::in_process()).await;
            s.call(&["SET", "r", "from-rdb"]).await;
            let st = seed.node().lock();
            data = rediscover_testserver::rdb::persist::encode(&st, 0, Vec::new());
        }
        data.extend_from_slice(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n");
        std::fs::write(dir.file("appendonly.aof"), &data).unwrap();
        let (_server, mut c) = start(aof_config(&dir, &[])).await;
        assert_eq!(c.call(&["GET", "k"]).await, b"$1\r\nv\r\n");
        if preamble {
            assert_eq!(c.call(&["GET", "r"]).await, b"$8\r\nfrom-rdb\r\n");
        }
        assert!(!dir.file("appendonly.aof").exists());
        assert_eq!(
            manifest(&dir),
            "file appendonly.aof seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n"
        );
    }
}

#[tokio::test]
async fn a_running_rewrite_refuses_a_second_one_and_bgsave() {
    let dir = TempDir::new("aof-busy");
    let (_server, mut c) = start(aof_config(&dir, &[])).await;
    c.call(&["SET", "k", "v"]).await;
    // One pipeline runs as one batch under the node lock: the rewrite cannot finish between
    // these commands.
    let mut pipeline = bytes::BytesMut::new();
    for argv in [
        &["BGREWRITEAOF"][..],
        &["BGREWRITEAOF"],
        &["BGSAVE"],
        &["BGSAVE", "SCHEDULE"],
    ] {
        rediscover::resp::encode_command(&mut pipeline, argv);
    }
    c.send_raw(&pipeline).await;
    let mut replies = Vec::new();
    for _ in 0..4 {
        replies.push(c.read_frame().await);
    }
    assert_eq!(
        replies,
        vec![
            Frame::Simple("Background append only file rewriting started".as_bytes().into()),
            Frame::Error("ERR Background append only file rewriting already in progress".as_bytes().into()),
            Frame::Error("ERR Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.".as_bytes().into()),
            Frame::Simple("Background saving scheduled".as_bytes().into()),
        ]
    );
    assert_eq!(rewrite_done(&mut c).await, 1);
}

#[tokio::test]
async fn failures_to_start_the_aof_are_reported_as_redis_does() {
    let dir = TempDir::new("aof-fail");
    // A file where the AOF directory should be: it cannot be created.
    std::fs::write(dir.file("appendonlydir"), b"in the way").unwrap();
    let mut config = aof_config(&dir, &[]);
    config.appendonly = false;
    let (_server, mut c) = start(config).await;
    assert_eq!(
        c.call(&["CONFIG", "SET", "appendonly", "yes"]).await,
        b"-ERR CONFIG SET failed (possibly related to argument 'appendonly') - Unable to turn on AOF. Check server logs.\r\n"
    );
    assert_eq!(
        c.call(&["CONFIG", "GET", "appendonly"]).await,
        b"*2\r\n$10\r\nappendonly\r\n$2\r\nno\r\n"
    );
    assert_eq!(info(&mut c, "aof_enabled").await, "0");
    assert_eq!(
        c.call(&["BGREWRITEAOF"]).await,
        b"-ERR Can't execute an AOF background rewriting. Please check the server logs for more information.\r\n"
    );
    assert_eq!(info(&mut c, "aof_last_bgrewrite_status").await, "err");
    // And the file names must be plain names.
    let mut config = Config::default();
    let table = rediscover_testserver::config_table::lookup;
    assert_eq!(
        table("appendfilename").unwrap().set(&mut config, "a/b"),
        Err("appendfilename can't be a path, just a filename".to_string())
    );
    assert_eq!(
        table("appenddirname").unwrap().set(&mut config, ""),
        Err("appenddirname can't be empty".to_string())
    );
}

// ---- interop with a real Redis (REDISCOVER_REAL_REDIS_SERVER=/usr/bin/redis-server) ----

/// A child process (our binary), killed on drop.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn real_redis() -> Option<String> {
    real_redis_binary()
}

/// A real redis-server with `appendonly yes` on `dir`.
async fn real_with_aof(binary: &str, dir: &TempDir, preamble: &str) -> (RealRedisProc, RawConn) {
    let args = [
        "--appendonly",
        "yes",
        "--aof-use-rdb-preamble",
        preamble,
        "--dir",
        dir.str(),
    ];
    let proc = RealRedisProc::spawn(binary, &args).await;
    let mut c = RawConn::connect(proc.addr()).await;
    // Loading finishes before INFO says `loading:0`.
    assert!(wait_info(&mut c, |f| f("loading") == "0").await);
    (proc, c)
}

#[tokio::test]
async fn a_real_redis_loads_our_aof() {
    let Some(binary) = real_redis() else { return };
    for preamble in ["yes", "no"] {
        let dir = TempDir::new("aof-to-real");
        let (mut server, mut c) =
            start(aof_config(&dir, &[("aof-use-rdb-preamble", preamble)])).await;
        populate(&mut c).await;
        populate_streams(&mut c).await;
        c.call(&["BGREWRITEAOF"]).await;
        rewrite_done(&mut c).await;
        more_writes(&mut c).await;
        let ours = dump_data(&mut c).await;
        settle(&server).await;
        server.kill().await;
        let (_real, mut r) = real_with_aof(&binary, &dir, preamble).await;
        assert_eq!(dump_data(&mut r).await, ours, "preamble {preamble}");
    }
}

#[tokio::test]
async fn we_load_a_real_redis_aof() {
    let Some(binary) = real_redis() else { return };
    for preamble in ["yes", "no"] {
        let dir = TempDir::new("aof-from-real");
        let (real, mut r) = real_with_aof(&binary, &dir, preamble).await;
        populate(&mut r).await;
        populate_streams(&mut r).await;
        r.call(&["BGREWRITEAOF"]).await;
        let done = wait_info(&mut r, |f| {
            f("aof_rewrite_in_progress") == "0" && f("aof_rewrites") == "1"
        })
        .await;
        assert!(done);
        more_writes(&mut r).await;
        let theirs = dump_data(&mut r).await;
        r.send(&["SHUTDOWN", "NOSAVE"]).await;
        assert!(r.is_closed().await);
        drop(real);
        assert!(manifest(&dir).contains(&format!(
            "appendonly.aof.2.base.{} seq 2 type b",
            if preamble == "yes" { "rdb" } else { "aof" }
        )));
        let (_server, mut c) = start(aof_config(&dir, &[])).await;
        assert_eq!(dump_data(&mut c).await, theirs, "preamble {preamble}");
    }
}

#[tokio::test]
async fn the_incr_file_is_byte_for_byte_a_real_redis_one() {
    let Some(binary) = real_redis() else { return };
    let real_dir = TempDir::new("aof-bytes-real");
    let (_real, mut r) = real_with_aof(&binary, &real_dir, "yes").await;
    let dir = TempDir::new("aof-bytes-ours");
    let (server, mut c) = start(aof_config(&dir, &[])).await;
    for conn in [&mut r, &mut c] {
        populate(conn).await;
        call(conn, &[b"MULTI"]).await;
        call(conn, &[b"INCR", b"n"]).await;
        call(conn, &[b"SELECT", b"7"]).await;
        call(conn, &[b"RPUSH", b"l", b"x"]).await;
        call(conn, &[b"EXEC"]).await;
        call(conn, &[b"SELECT", b"0"]).await;
        call(
            conn,
            &[
                b"EVAL",
                b"redis.call('SET', KEYS[1], 'a'); redis.call('DEL', 'nosuch'); return redis.call('HSET', KEYS[2], 'f', 'v')",
                b"2",
                b"lua:str",
                b"lua:hash",
            ],
        )
        .await;
        call(conn, &[b"INCRBYFLOAT", b"f", b"2.5"]).await;
        call(conn, &[b"FLUSHDB"]).await;
    }
    settle(&server).await;
    let incr = |d: &TempDir| std::fs::read(aof_dir(d).join("appendonly.aof.1.incr.aof")).unwrap();
    let (ours, theirs) = (incr(&dir), incr(&real_dir));
    assert!(ours.len() > 10_000, "{}", ours.len());
    assert_eq!(
        String::from_utf8_lossy(&ours),
        String::from_utf8_lossy(&theirs)
    );
    assert_eq!(manifest(&dir), manifest(&real_dir));
}
