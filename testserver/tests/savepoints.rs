//! RDB persistence as Redis 7.0.15 runs it on its own: save points enforced by the cron, a
//! failed BGSAVE stopping writes (`stop-writes-on-bgsave-error`) until a save works, the retry
//! delay, one background job at a time (BGSAVE, SAVE, BGREWRITEAOF, CONFIG SET appendonly),
//! SHUTDOWN and FLUSHALL saving with save points, INFO persistence, and the binary saving on
//! SIGTERM when it has save points. With REDISCOVER_REAL_REDIS_SERVER set, the replies of a
//! failing real redis-server are compared with ours byte for byte.

mod common;

use std::process::{Child, Command};
use std::time::{Duration, Instant};

use common::dataset::{info_field, TempDir};
use common::{real_redis_binary, wait_until, RawConn, RealRedisProc, TestServer};
use rediscover::resp::Frame;
use rediscover_testserver::config::Config;
use rediscover_testserver::rdb::{self, LoadOptions};

const SERVER: &str = env!("CARGO_BIN_EXE_rediscover-server");

const MISCONF: &[u8] = b"-MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.\r\n";

/// An in-process server keeping its files in `dir`, with these save points.
async fn server(dir: &TempDir, save: &[(u64, u64)]) -> TestServer {
    let config = Config {
        dir: dir.str().to_string(),
        save: save.to_vec(),
        ..Config::in_process()
    };
    TestServer::builder().config(config).start().await.unwrap()
}

async fn persistence(c: &mut RawConn) -> Frame {
    c.frame(&["INFO", "persistence"]).await
}

/// Polls INFO persistence (up to `secs`) until `field` reads `want`; returns INFO then.
async fn wait_field(c: &mut RawConn, field: &str, want: &str, secs: u64) -> Frame {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let info = persistence(c).await;
        if info_field(&info, field) == want {
            return info;
        }
        assert!(
            Instant::now() < deadline,
            "{field} never became {want}: {info:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn keys_in(path: &std::path::Path) -> usize {
    rdb::load_file(path, &LoadOptions::default()).unwrap().dbs[0].len()
}

#[tokio::test]
async fn in_process_servers_have_no_save_points_and_the_binary_has_redis_defaults() {
    assert!(Config::in_process().save.is_empty());
    assert_eq!(
        Config::default().save,
        vec![(3600, 1), (300, 100), (60, 10000)]
    );
    let srv = TestServer::start().await.unwrap();
    let mut c = RawConn::connect(srv.addr()).await;
    assert_reply!(
        c,
        ["CONFIG", "GET", "save"],
        b"*2\r\n$4\r\nsave\r\n$0\r\n\r\n"
    );
}

#[tokio::test]
async fn a_save_point_writes_the_rdb_after_a_write() {
    let dir = TempDir::new("savepoint");
    let srv = server(&dir, &[(1, 1)]).await;
    let mut c = RawConn::connect(srv.addr()).await;
    assert_reply!(c, ["SET", "k", "v"], b"+OK\r\n");
    // `save 1 1`: one change, and more than a second since the last save (startup).
    let info = wait_field(&mut c, "rdb_changes_since_last_save", "0", 10).await;
    let info = if info_field(&info, "rdb_bgsave_in_progress") == "1" {
        wait_field(&mut c, "rdb_bgsave_in_progress", "0", 10).await
    } else {
        info
    };
    assert_eq!(info_field(&info, "rdb_saves"), "1");
    assert_eq!(info_field(&info, "rdb_last_bgsave_status"), "ok");
    let took: i64 = info_field(&info, "rdb_last_bgsave_time_sec")
        .parse()
        .unwrap();
    assert!((0..=1).contains(&took), "{took}");
    assert_eq!(info_field(&info, "rdb_current_bgsave_time_sec"), "-1");
    let lastsave = match c.frame(&["LASTSAVE"]).await {
        Frame::Integer(n) => n,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        info_field(&info, "rdb_last_save_time"),
        lastsave.to_string()
    );
    assert_eq!(keys_in(&dir.file("dump.rdb")), 1);
    // No temporary file is left behind.
    assert_eq!(std::fs::read_dir(&dir.0).unwrap().count(), 1);
    // The next change is saved by the next due save point.
    assert_reply!(c, ["SET", "k2", "v"], b"+OK\r\n");
    wait_field(&mut c, "rdb_saves", "2", 10).await;
    let info = wait_field(&mut c, "rdb_bgsave_in_progress", "0", 10).await;
    assert_eq!(info_field(&info, "rdb_changes_since_last_save"), "0");
    assert_eq!(keys_in(&dir.file("dump.rdb")), 2);
    // The node restarted from it has both keys and says how many it loaded.
    let mut srv = srv;
    srv.restart().await.unwrap();
    let mut c = RawConn::connect(srv.addr()).await;
    assert_reply!(c, ["DBSIZE"], b":2\r\n");
    let info = persistence(&mut c).await;
    assert_eq!(info_field(&info, "rdb_last_load_keys_loaded"), "2");
    assert_eq!(info_field(&info, "rdb_last_load_keys_expired"), "0");
}

#[tokio::test]
async fn a_failed_bgsave_stops_writes_until_a_save_works() {
    let dir = TempDir::new("misconf");
    // The RDB file's name is taken by a directory: the rename fails, even for root.
    std::fs::create_dir(dir.file("dump.rdb")).unwrap();
    let srv = server(&dir, &[(1, 1)]).await;
    let mut c = RawConn::connect(srv.addr()).await;
    assert_reply!(c, ["SET", "a", "1"], b"+OK\r\n");
    let info = wait_field(&mut c, "rdb_last_bgsave_status", "err", 10).await;
    let failed_at = Instant::now();
    assert_eq!(info_field(&info, "rdb_changes_since_last_save"), "1");
    // Writes and PING are refused; reads are not.
    assert_eq!(c.call(&["SET", "a", "2"]).await, MISCONF);
    assert_eq!(c.call(&["PING"]).await, MISCONF);
    assert_reply!(c, ["GET", "a"], b"$1\r\n1\r\n");
    assert_reply!(c, ["MULTI"], b"+OK\r\n");
    assert_eq!(c.call(&["INCR", "a"]).await, MISCONF);
    assert_reply!(
        c,
        ["EXEC"],
        b"-EXECABORT Transaction discarded because of previous errors.\r\n"
    );
    // Not with stop-writes-on-bgsave-error off, nor without save points.
    assert_reply!(
        c,
        ["CONFIG", "SET", "stop-writes-on-bgsave-error", "no"],
        b"+OK\r\n"
    );
    assert_reply!(c, ["PING"], b"+PONG\r\n");
    assert_reply!(
        c,
        ["CONFIG", "SET", "stop-writes-on-bgsave-error", "yes"],
        b"+OK\r\n"
    );
    assert_eq!(c.call(&["PING"]).await, MISCONF);
    assert_reply!(c, ["CONFIG", "SET", "save", ""], b"+OK\r\n");
    assert_reply!(c, ["PING"], b"+PONG\r\n");
    assert_reply!(c, ["CONFIG", "SET", "save", "1 1"], b"+OK\r\n");
    assert_eq!(c.call(&["PING"]).await, MISCONF);
    // SAVE fails too (a bare -ERR, as Redis); it does not count as a BGSAVE failure either
    // way, and only a good save clears the state.
    assert_reply!(c, ["SAVE"], b"-ERR\r\n");
    std::fs::remove_dir(dir.file("dump.rdb")).unwrap();
    // The save point retries by itself, but only CONFIG_BGSAVE_RETRY_DELAY (5 s) after the
    // failed attempt.
    let info = wait_field(&mut c, "rdb_last_bgsave_status", "ok", 15).await;
    assert!(
        failed_at.elapsed() >= Duration::from_secs(3),
        "retried after {:?}",
        failed_at.elapsed()
    );
    let info = if info_field(&info, "rdb_bgsave_in_progress") == "1" {
        wait_field(&mut c, "rdb_bgsave_in_progress", "0", 10).await
    } else {
        info
    };
    // One failed BGSAVE, one SAVE, one good BGSAVE: a failed one is not retried every tick.
    assert_eq!(info_field(&info, "rdb_saves"), "3");
    assert_reply!(c, ["SET", "a", "2"], b"+OK\r\n");
    assert_eq!(keys_in(&dir.file("dump.rdb")), 1);

    // Failing again; this time a SAVE that works clears it at once.
    std::fs::remove_file(dir.file("dump.rdb")).unwrap();
    std::fs::create_dir(dir.file("dump.rdb")).unwrap();
    assert_reply!(c, ["CONFIG", "SET", "save", ""], b"+OK\r\n");
    assert_reply!(c, ["BGSAVE"], b"+Background saving started\r\n");
    wait_field(&mut c, "rdb_last_bgsave_status", "err", 10).await;
    assert_reply!(c, ["CONFIG", "SET", "save", "3600 1"], b"+OK\r\n");
    assert_eq!(c.call(&["SET", "b", "1"]).await, MISCONF);
    std::fs::remove_dir(dir.file("dump.rdb")).unwrap();
    assert_reply!(c, ["SAVE"], b"+OK\r\n");
    assert_eq!(
        info_field(&persistence(&mut c).await, "rdb_last_bgsave_status"),
        "ok"
    );
    assert_reply!(c, ["SET", "b", "1"], b"+OK\r\n");
}

#[tokio::test]
async fn one_background_job_at_a_time() {
    let dir = TempDir::new("onejob");
    let srv = server(&dir, &[]).await;
    let mut c = RawConn::connect(srv.addr()).await;
    assert_reply!(c, ["SET", "k", "v"], b"+OK\r\n");
    // One pipeline runs as one batch under the node lock: the BGSAVE cannot finish between
    // these commands (its end takes the lock).
    let mut pipeline = bytes::BytesMut::new();
    for argv in [
        &["BGSAVE"][..],
        &["BGSAVE"],
        &["BGSAVE", "SCHEDULE"],
        &["SAVE"],
        &["BGREWRITEAOF"],
        &["INFO", "persistence"],
    ] {
        rediscover::resp::encode_command(&mut pipeline, argv);
    }
    c.send_raw(&pipeline).await;
    let mut replies = Vec::new();
    for _ in 0..6 {
        replies.push(c.read_frame().await);
    }
    let info = replies.pop().unwrap();
    assert_eq!(
        replies,
        vec![
            Frame::Simple("Background saving started".as_bytes().into()),
            Frame::Error("ERR Background save already in progress".as_bytes().into()),
            Frame::Error("ERR Background save already in progress".as_bytes().into()),
            Frame::Error("ERR Background save already in progress".as_bytes().into()),
            Frame::Simple(
                "Background append only file rewriting scheduled"
                    .as_bytes()
                    .into()
            ),
        ]
    );
    assert_eq!(info_field(&info, "rdb_bgsave_in_progress"), "1");
    let running: i64 = info_field(&info, "rdb_current_bgsave_time_sec")
        .parse()
        .unwrap();
    assert!((0..=1).contains(&running), "{running}");
    assert_eq!(info_field(&info, "aof_rewrite_scheduled"), "1");
    assert_eq!(info_field(&info, "aof_rewrite_in_progress"), "0");
    // The rewrite runs once the BGSAVE is done.
    let info = wait_field(&mut c, "aof_rewrites", "1", 10).await;
    assert_eq!(info_field(&info, "rdb_last_bgsave_status"), "ok");
    assert_eq!(info_field(&info, "aof_rewrite_scheduled"), "0");
    wait_field(&mut c, "aof_rewrite_in_progress", "0", 10).await;

    // CONFIG SET appendonly yes during a BGSAVE schedules the first rewrite.
    let mut pipeline = bytes::BytesMut::new();
    for argv in [
        &["BGSAVE"][..],
        &["CONFIG", "SET", "appendonly", "yes"],
        &["INFO", "persistence"],
    ] {
        rediscover::resp::encode_command(&mut pipeline, argv);
    }
    c.send_raw(&pipeline).await;
    assert_eq!(
        c.read_frame().await,
        Frame::Simple("Background saving started".as_bytes().into())
    );
    assert_eq!(c.read_frame().await, Frame::Simple("OK".as_bytes().into()));
    let info = c.read_frame().await;
    assert_eq!(info_field(&info, "aof_rewrite_scheduled"), "1");
    assert_eq!(info_field(&info, "aof_enabled"), "1");
    let info = wait_field(&mut c, "aof_rewrites", "2", 10).await;
    assert_eq!(info_field(&info, "rdb_bgsave_in_progress"), "0");
    wait_field(&mut c, "aof_rewrite_in_progress", "0", 10).await;
    assert!(dir.file("appendonlydir").is_dir());
}

#[tokio::test]
async fn info_persistence_has_redis_fields_in_redis_order() {
    let srv = TestServer::start().await.unwrap();
    let mut c = RawConn::connect(srv.addr()).await;
    let names = |info: Frame| -> Vec<String> {
        let Frame::Bulk(b) = info else {
            panic!("{info:?}")
        };
        String::from_utf8_lossy(&b)
            .lines()
            .skip(1)
            .filter_map(|l| l.split_once(':').map(|(n, _)| n.to_string()))
            .collect()
    };
    // Redis 7.0.15's genRedisInfoString, AOF off.
    let want = "loading async_loading current_cow_peak current_cow_size current_cow_size_age \
        current_fork_perc current_save_keys_processed current_save_keys_total \
        rdb_changes_since_last_save rdb_bgsave_in_progress rdb_last_save_time \
        rdb_last_bgsave_status rdb_last_bgsave_time_sec rdb_current_bgsave_time_sec rdb_saves \
        rdb_last_cow_size rdb_last_load_keys_expired rdb_last_load_keys_loaded aof_enabled \
        aof_rewrite_in_progress aof_rewrite_scheduled aof_last_rewrite_time_sec \
        aof_current_rewrite_time_sec aof_last_bgrewrite_status aof_rewrites \
        aof_rewrites_consecutive_failures aof_last_write_status aof_last_cow_size \
        module_fork_in_progress module_fork_last_cow_size";
    let want: Vec<String> = want.split_whitespace().map(str::to_string).collect();
    assert_eq!(names(persistence(&mut c).await), want);
    let real_dir = TempDir::new("info-real");
    if let Some(real) = real_redis(&real_dir, &["--save", ""]).await {
        let mut r = RawConn::connect(real.addr()).await;
        assert_eq!(names(persistence(&mut r).await), want);
    }
}

#[tokio::test]
async fn shutdown_and_flushall_save_with_save_points_only() {
    // With save points, SHUTDOWN saves (as SHUTDOWN SAVE) and FLUSHALL saves the empty data.
    let dir = TempDir::new("shutdown-points");
    let srv = server(&dir, &[(3600, 1)]).await;
    let mut c = RawConn::connect(srv.addr()).await;
    assert_reply!(c, ["SET", "a", "1"], b"+OK\r\n");
    assert_reply!(c, ["FLUSHALL"], b"+OK\r\n");
    assert_eq!(keys_in(&dir.file("dump.rdb")), 0);
    let info = persistence(&mut c).await;
    assert_eq!(info_field(&info, "rdb_changes_since_last_save"), "0");
    // FLUSHALL's save is not counted in rdb_saves, as in Redis.
    assert_eq!(info_field(&info, "rdb_saves"), "0");
    assert_reply!(c, ["SET", "b", "1"], b"+OK\r\n");
    c.send(&["SHUTDOWN"]).await;
    assert!(c.is_closed().await);
    assert_eq!(keys_in(&dir.file("dump.rdb")), 1);
    drop(srv);

    // NOSAVE does not.
    let dir = TempDir::new("shutdown-nosave");
    let srv = server(&dir, &[(3600, 1)]).await;
    let mut c = RawConn::connect(srv.addr()).await;
    assert_reply!(c, ["SET", "a", "1"], b"+OK\r\n");
    c.send(&["SHUTDOWN", "NOSAVE"]).await;
    assert!(c.is_closed().await);
    assert!(!dir.file("dump.rdb").exists());
    drop(srv);

    // Without save points neither writes a file.
    let dir = TempDir::new("shutdown-none");
    let srv = server(&dir, &[]).await;
    let mut c = RawConn::connect(srv.addr()).await;
    assert_reply!(c, ["SET", "a", "1"], b"+OK\r\n");
    assert_reply!(c, ["FLUSHALL"], b"+OK\r\n");
    assert_reply!(c, ["SET", "a", "1"], b"+OK\r\n");
    c.send(&["SHUTDOWN"]).await;
    assert!(c.is_closed().await);
    assert_eq!(std::fs::read_dir(&dir.0).unwrap().count(), 0);
    drop(srv);

    // A SHUTDOWN whose save fails is refused and the server goes on (FORCE exits anyway).
    let dir = TempDir::new("shutdown-fails");
    std::fs::create_dir(dir.file("dump.rdb")).unwrap();
    let srv = server(&dir, &[(3600, 1)]).await;
    let mut c = RawConn::connect(srv.addr()).await;
    assert_reply!(
        c,
        ["SHUTDOWN"],
        b"-ERR Errors trying to SHUTDOWN. Check logs.\r\n"
    );
    assert_reply!(c, ["GET", "x"], b"$-1\r\n");
    c.send(&["SHUTDOWN", "FORCE"]).await;
    assert!(c.is_closed().await);
}

#[tokio::test]
async fn shutdown_on_signal_settings_are_redis_enums() {
    let srv = TestServer::start().await.unwrap();
    let mut ours = RawConn::connect(srv.addr()).await;
    let real_dir = TempDir::new("sig-real");
    let real = real_redis(&real_dir, &["--save", ""]).await;
    let mut real = match &real {
        Some(r) => Some(RawConn::connect(r.addr()).await),
        None => None,
    };
    let failed = |why: &str| {
        format!("-ERR CONFIG SET failed (possibly related to argument 'shutdown-on-sigterm') - {why}\r\n")
    };
    let one_of =
        failed("argument(s) must be one of the following: default, save, nosave, now, force");
    let cases: Vec<(Vec<&str>, String)> = vec![
        (
            vec!["CONFIG", "GET", "shutdown-on-sigterm"],
            "*2\r\n$19\r\nshutdown-on-sigterm\r\n$7\r\ndefault\r\n".into(),
        ),
        (
            vec!["CONFIG", "SET", "shutdown-on-sigterm", "now SAVE"],
            "+OK\r\n".into(),
        ),
        (
            vec!["CONFIG", "GET", "shutdown-on-sigterm"],
            "*2\r\n$19\r\nshutdown-on-sigterm\r\n$8\r\nsave now\r\n".into(),
        ),
        (
            vec!["CONFIG", "SET", "shutdown-on-sigterm", "save nosave"],
            failed("shutdown options SAVE and NOSAVE can't be used simultaneously"),
        ),
        (
            vec!["CONFIG", "SET", "shutdown-on-sigterm", "bogus"],
            one_of.clone(),
        ),
        (vec!["CONFIG", "SET", "shutdown-on-sigterm", ""], one_of),
        (
            vec!["CONFIG", "SET", "shutdown-on-sigterm", "default force"],
            "+OK\r\n".into(),
        ),
        (
            vec!["CONFIG", "GET", "shutdown-on-sigterm"],
            "*2\r\n$19\r\nshutdown-on-sigterm\r\n$5\r\nforce\r\n".into(),
        ),
    ];
    for (cmd, want) in cases {
        assert_eq!(
            String::from_utf8_lossy(&ours.call(&cmd).await),
            want,
            "{cmd:?}"
        );
        if let Some(r) = real.as_mut() {
            assert_eq!(
                String::from_utf8_lossy(&r.call(&cmd).await),
                want,
                "real {cmd:?}"
            );
        }
    }
}

// ---- the binary ----

/// A `rediscover-server` child process, killed on drop.
struct Bin {
    child: Child,
    port: u16,
}

impl Drop for Bin {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the binary on a port asked of the OS ([`common::spawn_on_free_port`]).
async fn spawn_bin(dir: &TempDir, extra: &[&str]) -> Bin {
    let (child, port) = common::spawn_on_free_port(|port| {
        let mut cmd = Command::new(SERVER);
        cmd.args(["--port", &port.to_string(), "--dir", dir.str()])
            .args(extra);
        cmd
    })
    .await;
    Bin { child, port }
}

fn sigterm_and_wait(bin: &mut Bin) {
    let pid = bin.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = bin.child.try_wait().unwrap() {
            assert!(status.success(), "{status}");
            return;
        }
        assert!(Instant::now() < deadline, "no exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[tokio::test]
async fn the_binary_saves_on_sigterm_with_its_default_save_points_only() {
    // Redis's default config (save 3600 1 300 100 60 10000): SIGTERM saves.
    let dir = TempDir::new("bin-default");
    let mut bin = spawn_bin(&dir, &[]).await;
    let mut c = RawConn::connect(std::net::SocketAddr::from(([127, 0, 0, 1], bin.port))).await;
    assert_reply!(
        c,
        ["CONFIG", "GET", "save"],
        b"*2\r\n$4\r\nsave\r\n$23\r\n3600 1 300 100 60 10000\r\n"
    );
    assert_reply!(c, ["SET", "k", "v"], b"+OK\r\n");
    sigterm_and_wait(&mut bin);
    assert_eq!(keys_in(&dir.file("dump.rdb")), 1);
    // And it comes back with the key.
    let bin = spawn_bin(&dir, &[]).await;
    let mut c = RawConn::connect(std::net::SocketAddr::from(([127, 0, 0, 1], bin.port))).await;
    assert_reply!(c, ["GET", "k"], b"$1\r\nv\r\n");
    drop(bin);

    // `save ""`: nothing is written.
    let dir = TempDir::new("bin-nosave");
    let mut bin = spawn_bin(&dir, &["--save", ""]).await;
    let mut c = RawConn::connect(std::net::SocketAddr::from(([127, 0, 0, 1], bin.port))).await;
    assert_reply!(c, ["SET", "k", "v"], b"+OK\r\n");
    sigterm_and_wait(&mut bin);
    assert!(!dir.file("dump.rdb").exists());

    // `shutdown-on-sigterm save` saves even without save points.
    let dir = TempDir::new("bin-sigterm-save");
    let mut bin = spawn_bin(&dir, &["--save", "", "--shutdown-on-sigterm", "save"]).await;
    let mut c = RawConn::connect(std::net::SocketAddr::from(([127, 0, 0, 1], bin.port))).await;
    assert_reply!(c, ["SET", "k", "v"], b"+OK\r\n");
    sigterm_and_wait(&mut bin);
    assert_eq!(keys_in(&dir.file("dump.rdb")), 1);
}

#[tokio::test]
async fn the_binary_keeps_running_when_the_sigterm_save_fails() {
    let dir = TempDir::new("bin-fail");
    let mut bin = spawn_bin(&dir, &["--save", "3600 1"]).await;
    // Made after startup: a directory there would stop the load at startup.
    std::fs::create_dir(dir.file("dump.rdb")).unwrap();
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], bin.port));
    let mut c = RawConn::connect(addr).await;
    assert_reply!(c, ["SET", "k", "v"], b"+OK\r\n");
    let pid = bin.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    // Redis logs "Error trying to save the DB, can't exit." and goes on serving: new
    // connections are answered after the failed attempt.
    let served = wait_until(Duration::from_secs(10), || async move {
        let mut c = RawConn::connect(addr).await;
        let info = c.frame(&["INFO", "persistence"]).await;
        info_field(&info, "rdb_changes_since_last_save") == "1"
    })
    .await;
    assert!(served);
    assert!(bin.child.try_wait().unwrap().is_none());
    // Once the file can be written, SIGTERM stops it with a save.
    std::fs::remove_dir(dir.file("dump.rdb")).unwrap();
    sigterm_and_wait(&mut bin);
    assert_eq!(keys_in(&dir.file("dump.rdb")), 1);
}

#[tokio::test]
async fn a_second_sigint_during_the_shutdown_exits_at_once() {
    let dir = TempDir::new("bin-insist");
    let log = dir.file("server.log");
    let mut bin = spawn_bin(&dir, &["--save", "", "--logfile", log.to_str().unwrap()]).await;
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], bin.port));
    // A replica that never acknowledges: the shutdown waits for it (shutdown-timeout 10 s).
    let mut fake = RawConn::connect(addr).await;
    assert_reply!(fake, ["REPLCONF", "listening-port", "1"], b"+OK\r\n");
    fake.send(&["PSYNC", "?", "-1"]).await;
    let attached = wait_until(Duration::from_secs(10), || async move {
        let mut c = RawConn::connect(addr).await;
        let info = String::from_utf8(c.call(&["INFO", "replication"]).await).unwrap();
        info.contains("connected_slaves:1\r\n")
    })
    .await;
    assert!(attached);
    let pid = bin.child.id().to_string();
    let interrupt = || {
        assert!(Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap()
            .success());
    };
    let logged = |needle: &'static str| {
        let log = log.clone();
        async move { std::fs::read_to_string(&log).is_ok_and(|text| text.contains(needle)) }
    };
    interrupt();
    assert!(
        wait_until(Duration::from_secs(10), || logged(
            "Waiting for replicas before shutting down."
        ))
        .await
    );
    interrupt();
    let deadline = Instant::now() + Duration::from_secs(5);
    let status = loop {
        if let Some(status) = bin.child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "no exit after the second SIGINT");
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(status.code(), Some(1));
    assert!(logged("You insist... exiting now.").await);
}

// ---- against a real Redis (REDISCOVER_REAL_REDIS_SERVER=/usr/bin/redis-server) ----

/// A real redis-server on `dir`, when REDISCOVER_REAL_REDIS_SERVER names one.
async fn real_redis(dir: &TempDir, extra: &[&str]) -> Option<RealRedisProc> {
    let binary = real_redis_binary()?;
    let mut args = vec!["--dir", dir.str()];
    args.extend_from_slice(extra);
    Some(RealRedisProc::spawn(&binary, &args).await)
}

/// The same script against a failing real Redis and a failing us: every reply equal.
#[tokio::test]
async fn failing_saves_answer_as_a_real_redis() {
    let real_dir = TempDir::new("real-misconf");
    let Some(real) = real_redis(&real_dir, &["--save", "3600 1"]).await else {
        return;
    };
    let dir = TempDir::new("ours-misconf");
    let ours = server(&dir, &[(3600, 1)]).await;
    // Made after startup: a directory there stops a redis-server loading at startup.
    std::fs::create_dir(real_dir.file("dump.rdb")).unwrap();
    std::fs::create_dir(dir.file("dump.rdb")).unwrap();
    let mut r = RawConn::connect(real.addr()).await;
    let mut o = RawConn::connect(ours.addr()).await;
    for c in [&mut r, &mut o] {
        assert_reply!(c, ["SET", "a", "1"], b"+OK\r\n");
        assert_reply!(c, ["BGSAVE"], b"+Background saving started\r\n");
        wait_field(c, "rdb_last_bgsave_status", "err", 10).await;
    }
    for cmd in [
        &["SET", "a", "2"][..],
        &["PING"],
        &["GET", "a"],
        &["SAVE"],
        &["BGSAVE", "NOW"],
        &["LASTSAVE", "x"],
        &["CONFIG", "SET", "stop-writes-on-bgsave-error", "no"],
        &["SET", "a", "3"],
        &["CONFIG", "SET", "stop-writes-on-bgsave-error", "yes"],
        &["DEL", "a"],
        // FLUSHALL counts the keys it removed; its save (save points) fails and is only logged.
        &["CONFIG", "SET", "stop-writes-on-bgsave-error", "no"],
        &["SET", "b", "1"],
        &["FLUSHALL"],
        &["FLUSHALL"],
    ] {
        assert_eq!(
            String::from_utf8_lossy(&r.call(cmd).await),
            String::from_utf8_lossy(&o.call(cmd).await),
            "{cmd:?}"
        );
    }
    let (ri, oi) = (persistence(&mut r).await, persistence(&mut o).await);
    for field in [
        "rdb_changes_since_last_save",
        "rdb_bgsave_in_progress",
        "rdb_last_bgsave_status",
        "rdb_current_bgsave_time_sec",
        "rdb_saves",
    ] {
        assert_eq!(info_field(&ri, field), info_field(&oi, field), "{field}");
    }
}
