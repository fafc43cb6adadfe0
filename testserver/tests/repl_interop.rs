//! Replication between our server and a real redis-server, both ways: a real replica of our
//! master (full sync, streamed rewrites, partial resync, writes during the sync, disk and
//! socket loading), our replica of a real master (disk and diskless snapshots, snapshots in
//! every encoding, keep-alive newlines, partial resync), chains real -> ours -> real, WAIT
//! and min-replicas both ways, PSYNC2 continuation after failovers and sibling switches,
//! authentication, expiry, pubsub, redis-cli's `--rdb` and `--replica`, and our nodes'
//! replies next to a real node's in the same role.
//!
//! Runs only when REDISCOVER_REAL_REDIS_SERVER names a redis-server binary (7.0):
//!
//! ```text
//! REDISCOVER_REAL_REDIS_SERVER=/usr/bin/redis-server \
//!     cargo test -p rediscover-testserver --test repl_interop
//! ```
//!
//! Every wait polls (INFO, ROLE, a reply) against a deadline; no test sleeps for a state.

mod common;

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::dataset::{call, dump_data, info_field, ok, populate, TempDir};
use common::{RawConn, TestServer};
use rediscover::resp::Frame;

const DEADLINE: Duration = Duration::from_secs(20);

/// The redis-server binary to test against, or `None` (with a note) to skip.
fn real_redis() -> Option<String> {
    match std::env::var("REDISCOVER_REAL_REDIS_SERVER") {
        Ok(path) if !path.is_empty() => Some(path),
        _ => {
            eprintln!("skipped: set REDISCOVER_REAL_REDIS_SERVER=/path/to/redis-server to run");
            None
        }
    }
}

/// A child process, killed on drop.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A real redis-server on a free port with its own directory and log file, stopped on drop.
struct RealRedis {
    _proc: Proc,
    port: u16,
    dir: TempDir,
}

impl RealRedis {
    /// Starts a real redis-server on a free port (asked of the OS, then handed over: a real
    /// redis-server cannot report a port it picked itself), with `extra` arguments.
    async fn start(binary: &str, extra: &[&str]) -> RealRedis {
        RealRedis::start_in(binary, TempDir::new("repl-interop"), extra).await
    }

    /// [`RealRedis::start`] in `dir` (which may hold a `dump.rdb` to load).
    async fn start_in(binary: &str, dir: TempDir, extra: &[&str]) -> RealRedis {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        RealRedis::start_on(binary, dir, port, extra).await
    }

    /// Stops this server and starts a new one on the same port and directory (the log goes
    /// on in the same file). Nothing is saved, so it comes back empty with a new history.
    async fn restart(self, binary: &str, extra: &[&str]) -> RealRedis {
        let RealRedis { _proc, port, dir } = self;
        drop(_proc);
        RealRedis::start_on(binary, dir, port, extra).await
    }

    async fn start_on(binary: &str, dir: TempDir, port: u16, extra: &[&str]) -> RealRedis {
        let log = dir.file("redis.log");
        let child = Command::new(binary)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--dir", dir.str()])
            .args(["--logfile", log.to_str().expect("utf-8 path")])
            .args(["--repl-diskless-sync-delay", "0"])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn redis-server");
        let real = RealRedis {
            _proc: Proc(child),
            port,
            dir,
        };
        let addr = real.addr();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(stream) = tokio::net::TcpStream::connect(addr).await {
                drop(stream);
                let mut c = RawConn::connect(addr).await;
                // Up and done loading (answering, or asking for a password).
                let reply = c.call(&["PING"]).await;
                if reply == b"+PONG\r\n" || reply.starts_with(b"-NOAUTH") {
                    break;
                }
            }
            assert!(
                Instant::now() < deadline,
                "redis-server did not start on port {port}:\n{}",
                real.log()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        real
    }

    fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// The server's log so far.
    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.file("redis.log")).unwrap_or_default()
    }
}

/// `INFO replication` as text.
async fn info_text(conn: &mut RawConn) -> String {
    match call(conn, &[b"INFO", b"replication"]).await {
        Frame::Bulk(b) => String::from_utf8_lossy(&b).into_owned(),
        other => panic!("INFO: {other:?}"),
    }
}

fn field<'a>(info: &'a str, name: &str) -> Option<&'a str> {
    info.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
}

/// One INFO field of the server at `addr` (any section).
async fn info(addr: SocketAddr, name: &str) -> String {
    let mut c = RawConn::connect(addr).await;
    let reply = call(&mut c, &[b"INFO", b"everything"]).await;
    info_field(&reply, name)
}

/// Waits until `replica` (ours or real) has its link to its master up and has applied
/// `master`'s stream up to the master's current offset. `logs` are shown on a timeout.
async fn wait_synced(master: SocketAddr, replica: SocketAddr, logs: &[&RealRedis]) {
    let mut m = RawConn::connect(master).await;
    let mut r = RawConn::connect(replica).await;
    let deadline = Instant::now() + DEADLINE;
    loop {
        let mi = info_text(&mut m).await;
        let ri = info_text(&mut r).await;
        let master_offset = field(&mi, "master_repl_offset");
        let up = field(&ri, "master_link_status") == Some("up");
        if up && master_offset.is_some() && field(&ri, "master_repl_offset") == master_offset {
            return;
        }
        if Instant::now() >= deadline {
            let logs: Vec<String> = logs
                .iter()
                .map(|l| format!("--- log of {} ---\n{}", l.addr(), l.log()))
                .collect();
            panic!(
                "replica {replica} not in sync with {master} after {DEADLINE:?}\n\
                 master:\n{mi}\nreplica:\n{ri}\n{}",
                logs.join("\n")
            );
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Asserts both servers hold the same data, key by key (encodings aside).
async fn same_data(a: SocketAddr, b: SocketAddr) {
    let mut ca = RawConn::connect(a).await;
    let mut cb = RawConn::connect(b).await;
    let (da, db) = (dump_data(&mut ca).await, dump_data(&mut cb).await);
    assert!(!da.is_empty(), "empty dataset");
    if da != db {
        let short = |l: &String| l.chars().take(200).collect::<String>();
        let only_a: Vec<_> = da.iter().filter(|l| !db.contains(l)).map(short).collect();
        let only_b: Vec<_> = db.iter().filter(|l| !da.contains(l)).map(short).collect();
        panic!("datasets differ:\n only on {a}: {only_a:#?}\n only on {b}: {only_b:#?}");
    }
}

/// Makes the server at `replica` replicate from `master` with REPLICAOF.
async fn replicaof(replica: SocketAddr, master: SocketAddr) {
    let mut c = RawConn::connect(replica).await;
    let port = master.port().to_string();
    ok(&mut c, &[b"REPLICAOF", b"127.0.0.1", port.as_bytes()]).await;
}

/// Closes the replica's connection to its master with CLIENT KILL TYPE master.
async fn kill_master_link(replica: SocketAddr) {
    let mut c = RawConn::connect(replica).await;
    let reply = c.call(&["CLIENT", "KILL", "TYPE", "master"]).await;
    assert_eq!(
        String::from_utf8_lossy(&reply),
        ":1\r\n",
        "CLIENT KILL TYPE master on {replica}"
    );
}

/// Writes to `master` through every kind of command a master rewrites or propagates
/// specially: relative expiries, floats, random pops, a served blocking pop, the multi-key
/// pops, a transaction, several databases, FLUSHDB, SWAPDB and PUBLISH.
async fn write_script(master: SocketAddr) {
    let mut m = RawConn::connect(master).await;
    let script: &[&[&[u8]]] = &[
        &[b"SET", b"s", b"1"],
        &[b"SET", b"s:ex", b"v", b"EX", b"1000"],
        &[b"SET", b"s:px", b"v", b"PX", b"1000000"],
        &[b"SETEX", b"s:setex", b"1000", b"v"],
        &[b"EXPIRE", b"s", b"1000"],
        &[b"PEXPIRE", b"str:int", b"2000000"],
        &[b"INCRBYFLOAT", b"f", b"1.5"],
        &[b"INCRBYFLOAT", b"f", b"0.1"],
        &[b"HINCRBYFLOAT", b"h", b"f", b"2.5"],
        &[b"GETEX", b"s:px", b"PERSIST"],
        &[b"SADD", b"pop", b"a", b"b", b"c", b"d", b"e"],
        &[b"SPOP", b"pop"],
        &[b"SPOP", b"pop", b"2"],
        &[b"RPUSH", b"q", b"1", b"2", b"3", b"4"],
        &[b"LMPOP", b"1", b"q", b"RIGHT", b"COUNT", b"2"],
        &[b"ZADD", b"z", b"1", b"a", b"2", b"b", b"3", b"c"],
        &[b"ZMPOP", b"1", b"z", b"MAX"],
        &[b"ZMPOP", b"1", b"z", b"MIN", b"COUNT", b"5"],
        &[b"MULTI"],
        &[b"INCR", b"counter"],
        &[b"LPUSH", b"txlist", b"x"],
        &[b"EXEC"],
        &[b"SELECT", b"5"],
        &[b"SET", b"in5", b"five"],
        &[b"SELECT", b"6"],
        &[b"SET", b"in6", b"six"],
        &[b"FLUSHDB"],
        &[b"SET", b"in6:after", b"flush"],
        &[b"SELECT", b"0"],
        &[b"DEL", b"list:big", b"nosuchkey"],
        &[b"RENAME", b"hash:small", b"hash:renamed"],
        &[b"SWAPDB", b"3", b"4"],
        &[b"PUBLISH", b"news", b"hello"],
    ];
    for argv in script {
        ok(&mut m, argv).await;
    }

    // A blocking pop served by a later push (propagated as the pop it became).
    let mut blocked = RawConn::connect(master).await;
    blocked.send(&["BLPOP", "bq", "0"]).await;
    let deadline = Instant::now() + DEADLINE;
    while info(master, "blocked_clients").await != "1" {
        assert!(Instant::now() < deadline, "BLPOP never blocked on {master}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    ok(&mut m, &[b"RPUSH", b"bq", b"first", b"second"]).await;
    let served = blocked.read_frame().await;
    assert_eq!(common::strings(served), ["bq", "first"]);
}

/// Writes through many more commands (each left for the master to propagate as it does),
/// on the keys `populate` made.
async fn write_many_kinds(master: SocketAddr) {
    let mut m = RawConn::connect(master).await;
    let script: &[&[&[u8]]] = &[
        &[b"SET", b"k:keepttl", b"1", b"EX", b"5000"],
        &[b"SET", b"k:keepttl", b"2", b"KEEPTTL"],
        &[b"SET", b"k:exat", b"v", b"EXAT", b"4102444800"],
        &[b"SET", b"k:get", b"new", b"GET"],
        &[b"GETSET", b"k:get", b"newer"],
        &[b"GETEX", b"k:get", b"EX", b"3000"],
        &[b"SETRANGE", b"k:range", b"5", b"abc"],
        &[b"APPEND", b"k:range", b"def"],
        &[b"INCRBY", b"str:int", b"10"],
        &[b"DECR", b"str:i8"],
        &[b"MSET", b"m1", b"1", b"m2", b"2"],
        &[b"MSETNX", b"m3", b"3", b"m4", b"4"],
        &[b"SETNX", b"m1", b"no"],
        &[b"PERSIST", b"exp:str"],
        &[b"PEXPIREAT", b"m2", b"4102444800000"],
        &[b"EXPIREAT", b"m3", b"1"],
        &[b"EXPIRE", b"m4", b"0"],
        &[b"RENAMENX", b"str:long", b"str:long2"],
        &[b"COPY", b"set:ints", b"set:ints:copy"],
        &[b"MOVE", b"str:noise", b"9"],
        &[b"UNLINK", b"set:big"],
        &[b"LPUSH", b"list:small", b"head"],
        &[b"LSET", b"list:small", b"1", b"changed"],
        &[b"LINSERT", b"list:small", b"BEFORE", b"changed", b"ins"],
        &[b"LTRIM", b"list:small", b"0", b"4"],
        &[b"LREM", b"list:small", b"0", b"ins"],
        &[b"LMOVE", b"list:small", b"list:moved", b"LEFT", b"RIGHT"],
        &[b"RPOPLPUSH", b"list:small", b"list:moved"],
        &[b"RPOP", b"list:small", b"2"],
        &[b"SMOVE", b"set:strs", b"set:moved", b"a"],
        &[b"SREM", b"set:ints", b"3"],
        &[b"SINTERSTORE", b"set:inter", b"set:ints", b"set:ints:copy"],
        &[b"SUNIONSTORE", b"set:union", b"set:strs", b"set:ints"],
        &[b"HSETNX", b"hash:big", b"f0", b"no"],
        &[b"HDEL", b"hash:big", b"f1", b"f2"],
        &[b"HINCRBY", b"hash:big", b"n", b"5"],
        &[b"HINCRBYFLOAT", b"hash:big", b"x", b"1e2"],
        &[b"ZINCRBY", b"zset:small", b"2.5", b"a"],
        &[b"ZADD", b"zset:small", b"INCR", b"1", b"b"],
        &[b"ZADD", b"zset:small", b"GT", b"CH", b"100", b"c"],
        &[b"ZREM", b"zset:big", b"m1"],
        &[b"ZREMRANGEBYSCORE", b"zset:big", b"0", b"10"],
        &[b"ZREMRANGEBYRANK", b"zset:big", b"0", b"2"],
        &[
            b"ZUNIONSTORE",
            b"zset:union",
            b"2",
            b"zset:small",
            b"zset:big",
            b"WEIGHTS",
            b"1",
            b"2",
        ],
        &[b"ZINTERSTORE", b"zset:inter", b"1", b"zset:big"],
        &[b"ZPOPMIN", b"zset:big", b"3"],
        &[b"ZPOPMAX", b"zset:big"],
        &[
            b"SORT",
            b"list:big",
            b"LIMIT",
            b"0",
            b"5",
            b"ALPHA",
            b"STORE",
            b"sorted",
        ],
        &[b"SELECT", b"9"],
        &[b"INCRBYFLOAT", b"f9", b"3.0e3"],
        &[b"SELECT", b"0"],
        &[b"SETBIT", b"bits", b"1000", b"1"],
        &[b"SETBIT", b"bits", b"3", b"1"],
        &[b"BITOP", b"NOT", b"bits:not", b"bits"],
        &[
            b"BITFIELD",
            b"bits",
            b"INCRBY",
            b"u8",
            b"#1",
            b"200",
            b"SET",
            b"i5",
            b"40",
            b"-3",
        ],
    ];
    for argv in script {
        ok(&mut m, argv).await;
    }
}

/// More plain writes, to follow a reconnection.
async fn write_more(master: SocketAddr, tag: &str) {
    let mut m = RawConn::connect(master).await;
    for i in 0..50 {
        let key = format!("{tag}:{i}");
        ok(&mut m, &[b"SET", key.as_bytes(), i.to_string().as_bytes()]).await;
    }
    ok(&mut m, &[b"RPUSH", tag.as_bytes(), b"a", b"b"]).await;
    ok(&mut m, &[b"EXPIRE", tag.as_bytes(), b"5000"]).await;
}

/// Our in-process master and a real replica of it, in sync.
async fn ours_with_a_real_replica(binary: &str) -> (TestServer, RealRedis) {
    let ours = TestServer::start().await.unwrap();
    let real = RealRedis::start(binary, &[]).await;
    replicaof(real.addr(), ours.addr()).await;
    wait_synced(ours.addr(), real.addr(), &[&real]).await;
    (ours, real)
}

/// A real master and our in-process replica of it, in sync.
async fn real_with_our_replica(binary: &str) -> (RealRedis, TestServer) {
    let real = RealRedis::start(binary, &[]).await;
    let ours = TestServer::start().await.unwrap();
    replicaof(ours.addr(), real.addr()).await;
    wait_synced(real.addr(), ours.addr(), &[&real]).await;
    (real, ours)
}

// ---- a real replica of our master ----

async fn real_replica_of_our_master(diskless_load: &str) {
    let Some(binary) = real_redis() else { return };
    let ours = TestServer::start().await.unwrap();
    let mut m = RawConn::connect(ours.addr()).await;
    populate(&mut m).await;

    let real = RealRedis::start(&binary, &["--repl-diskless-load", diskless_load]).await;
    replicaof(real.addr(), ours.addr()).await;
    wait_synced(ours.addr(), real.addr(), &[&real]).await;
    same_data(ours.addr(), real.addr()).await;

    // The replica delivers what the master publishes to its own subscribers.
    let mut sub = RawConn::connect(real.addr()).await;
    sub.call(&["SUBSCRIBE", "news"]).await;
    write_script(ours.addr()).await;
    let message = common::strings(sub.read_frame().await);
    assert_eq!(message, ["message", "news", "hello"]);
    wait_synced(ours.addr(), real.addr(), &[&real]).await;
    same_data(ours.addr(), real.addr()).await;

    // Partial resync after the replica drops its link.
    kill_master_link(real.addr()).await;
    write_more(ours.addr(), "after-kill").await;
    wait_synced(ours.addr(), real.addr(), &[&real]).await;
    same_data(ours.addr(), real.addr()).await;
    assert_eq!(info(ours.addr(), "sync_full").await, "1");
    assert_eq!(info(ours.addr(), "sync_partial_ok").await, "1");
    // A real replica first asks to continue its own history (`PSYNC <its replid> 1`): that
    // refusal counts as a failed partial resync on a real master as well.
    assert_eq!(info(ours.addr(), "sync_partial_err").await, "1");
    assert!(
        real.log()
            .contains("Successful partial resynchronization with master."),
        "{}",
        real.log()
    );
}

#[tokio::test]
async fn real_replica_of_our_master_loading_from_disk() {
    real_replica_of_our_master("disabled").await;
}

#[tokio::test]
async fn real_replica_of_our_master_loading_from_the_socket() {
    real_replica_of_our_master("swapdb").await;
}

#[tokio::test]
async fn real_replica_of_our_master_while_it_is_written_to() {
    let Some(binary) = real_redis() else { return };
    let ours = TestServer::start().await.unwrap();
    let mut m = RawConn::connect(ours.addr()).await;
    populate(&mut m).await;
    let real = RealRedis::start(&binary, &[]).await;

    // Writes keep coming from before the sync starts until the replica's link is up, so
    // some land in the snapshot and the rest in the stream that follows it.
    let addr = ours.addr();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let count = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let writer = tokio::spawn({
        let (stop, count) = (stop.clone(), count.clone());
        async move {
            let mut w = RawConn::connect(addr).await;
            let mut i = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) && i < 1_000_000 {
                let n = i.to_string();
                ok(&mut w, &[b"RPUSH", b"during", n.as_bytes()]).await;
                ok(&mut w, &[b"HSET", b"during:h", n.as_bytes(), n.as_bytes()]).await;
                i += 1;
                count.store(i, std::sync::atomic::Ordering::Relaxed);
            }
            i
        }
    });
    let deadline = Instant::now() + DEADLINE;
    while count.load(std::sync::atomic::Ordering::Relaxed) < 200 {
        assert!(Instant::now() < deadline, "the writer does not write");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    replicaof(real.addr(), ours.addr()).await;
    let mut r = RawConn::connect(real.addr()).await;
    let deadline = Instant::now() + DEADLINE;
    while field(&info_text(&mut r).await, "master_link_status") != Some("up") {
        assert!(Instant::now() < deadline, "{}", real.log());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let written = writer.await.unwrap();
    wait_synced(ours.addr(), real.addr(), &[&real]).await;
    same_data(ours.addr(), real.addr()).await;
    // Some of the writer's writes went in the snapshot (the list was not empty when it was
    // taken), the others followed it in the stream (the replica logged an offset below the
    // final one).
    let log = real.log();
    let at: u64 = log
        .lines()
        .find_map(|l| l.split("Full resync from master: ").nth(1))
        .and_then(|rest| rest.rsplit(':').next())
        .and_then(|o| o.trim().parse().ok())
        .unwrap_or_else(|| panic!("no full resync line:\n{log}"));
    assert!(
        at < ours.repl_offset(),
        "snapshot at {at}, final offset {}, {written} writes",
        ours.repl_offset()
    );
    assert_eq!(info(ours.addr(), "sync_full").await, "1");
}

/// Keys that expire on the master go from the replica when the master's DEL arrives.
async fn expiry_reaches_the_replica(master: SocketAddr, replica: SocketAddr, logs: &[&RealRedis]) {
    let mut m = RawConn::connect(master).await;
    ok(&mut m, &[b"SET", b"short", b"v"]).await;
    ok(&mut m, &[b"SET", b"long", b"v"]).await;
    wait_synced(master, replica, logs).await;
    let mut r = RawConn::connect(replica).await;
    assert_eq!(r.call(&["DBSIZE"]).await, b":2\r\n");
    ok(&mut m, &[b"PEXPIRE", b"short", b"50"]).await;
    let deadline = Instant::now() + DEADLINE;
    // Reading the key on the master expires it there (if its active expiry has not yet).
    while m.call(&["EXISTS", "short"]).await != b":0\r\n" {
        assert!(Instant::now() < deadline, "key never expired on {master}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    wait_synced(master, replica, logs).await;
    assert_eq!(r.call(&["DBSIZE"]).await, b":1\r\n");
    same_data(master, replica).await;
}

#[tokio::test]
async fn expiry_on_our_master_reaches_a_real_replica() {
    let Some(binary) = real_redis() else { return };
    let (ours, real) = ours_with_a_real_replica(&binary).await;
    expiry_reaches_the_replica(ours.addr(), real.addr(), &[&real]).await;
}

#[tokio::test]
async fn expiry_on_a_real_master_reaches_our_replica() {
    let Some(binary) = real_redis() else { return };
    let (real, ours) = real_with_our_replica(&binary).await;
    expiry_reaches_the_replica(real.addr(), ours.addr(), &[&real]).await;
}

// ---- our replica of a real master ----

async fn our_replica_of_a_real_master(diskless: &str) {
    let Some(binary) = real_redis() else { return };
    let real = RealRedis::start(&binary, &["--repl-diskless-sync", diskless]).await;
    let mut m = RawConn::connect(real.addr()).await;
    populate(&mut m).await;

    let ours = TestServer::start().await.unwrap();
    replicaof(ours.addr(), real.addr()).await;
    wait_synced(real.addr(), ours.addr(), &[&real]).await;
    same_data(real.addr(), ours.addr()).await;
    let log = real.log();
    let snapshot_line = if diskless == "yes" {
        "Streamed RDB transfer with replica"
    } else {
        "Synchronization with replica"
    };
    assert!(log.contains(snapshot_line), "{log}");

    write_script(real.addr()).await;
    wait_synced(real.addr(), ours.addr(), &[&real]).await;
    same_data(real.addr(), ours.addr()).await;

    let full = info(real.addr(), "sync_full").await;
    let partial: u64 = info(real.addr(), "sync_partial_ok").await.parse().unwrap();
    kill_master_link(ours.addr()).await;
    write_more(real.addr(), "after-kill").await;
    wait_synced(real.addr(), ours.addr(), &[&real]).await;
    same_data(real.addr(), ours.addr()).await;
    assert_eq!(info(real.addr(), "sync_full").await, full);
    let now: u64 = info(real.addr(), "sync_partial_ok").await.parse().unwrap();
    assert_eq!(now, partial + 1, "{}", real.log());
}

#[tokio::test]
async fn our_replica_of_a_real_master_disk_snapshot() {
    our_replica_of_a_real_master("no").await;
}

#[tokio::test]
async fn our_replica_of_a_real_master_diskless_snapshot() {
    our_replica_of_a_real_master("yes").await;
}

// ---- a chain real -> ours -> real ----

#[tokio::test]
async fn chain_real_ours_real() {
    let Some(binary) = real_redis() else { return };
    let top = RealRedis::start(&binary, &[]).await;
    let mut m = RawConn::connect(top.addr()).await;
    populate(&mut m).await;
    let middle = TestServer::start().await.unwrap();
    let bottom = RealRedis::start(&binary, &[]).await;
    replicaof(middle.addr(), top.addr()).await;
    wait_synced(top.addr(), middle.addr(), &[&top]).await;
    replicaof(bottom.addr(), middle.addr()).await;
    wait_synced(middle.addr(), bottom.addr(), &[&bottom]).await;

    write_script(top.addr()).await;
    write_more(top.addr(), "chain").await;
    wait_synced(top.addr(), middle.addr(), &[&top]).await;
    wait_synced(middle.addr(), bottom.addr(), &[&bottom]).await;
    same_data(top.addr(), middle.addr()).await;
    same_data(top.addr(), bottom.addr()).await;
    // The sub-replica follows the top master's history through us.
    let top_id = info(top.addr(), "master_replid").await;
    assert_eq!(info(middle.addr(), "master_replid").await, top_id);
    assert_eq!(info(bottom.addr(), "master_replid").await, top_id);
}

// ---- WAIT ----

#[tokio::test]
async fn wait_on_our_master_counts_a_real_replica() {
    let Some(binary) = real_redis() else { return };
    let (ours, _real) = ours_with_a_real_replica(&binary).await;
    let mut c = RawConn::connect(ours.addr()).await;
    ok(&mut c, &[b"SET", b"waited", b"1"]).await;
    let reply = c.call(&["WAIT", "1", "5000"]).await;
    assert_eq!(String::from_utf8_lossy(&reply), ":1\r\n");
}

#[tokio::test]
async fn wait_on_a_real_master_counts_our_replica() {
    let Some(binary) = real_redis() else { return };
    let (real, _ours) = real_with_our_replica(&binary).await;
    let mut c = RawConn::connect(real.addr()).await;
    ok(&mut c, &[b"SET", b"waited", b"1"]).await;
    let reply = c.call(&["WAIT", "1", "5000"]).await;
    assert_eq!(String::from_utf8_lossy(&reply), ":1\r\n", "{}", real.log());
}

// ---- PSYNC2 across implementations ----

#[tokio::test]
async fn real_master_continues_from_our_promoted_replica() {
    let Some(binary) = real_redis() else { return };
    let real = RealRedis::start(&binary, &[]).await;
    let mut m = RawConn::connect(real.addr()).await;
    populate(&mut m).await;
    let ours = TestServer::start().await.unwrap();
    replicaof(ours.addr(), real.addr()).await;
    wait_synced(real.addr(), ours.addr(), &[&real]).await;
    let old_id = info(real.addr(), "master_replid").await;

    // Fail over: promote our replica, point the old master at it, no writes in between.
    let mut r = RawConn::connect(ours.addr()).await;
    ok(&mut r, &[b"REPLICAOF", b"NO", b"ONE"]).await;
    assert_eq!(info(ours.addr(), "master_replid2").await, old_id);
    replicaof(real.addr(), ours.addr()).await;
    wait_synced(ours.addr(), real.addr(), &[&real]).await;
    assert_eq!(info(ours.addr(), "sync_partial_ok").await, "1");
    assert_eq!(info(ours.addr(), "sync_full").await, "0");
    assert!(
        real.log()
            .contains("Successful partial resynchronization with master."),
        "{}",
        real.log()
    );

    // The new master's writes reach the old one.
    write_more(ours.addr(), "after-failover").await;
    wait_synced(ours.addr(), real.addr(), &[&real]).await;
    same_data(ours.addr(), real.addr()).await;
    assert_eq!(info(ours.addr(), "sync_full").await, "0");
}

// ---- authentication ----

#[tokio::test]
async fn real_replica_authenticates_to_our_master() {
    let Some(binary) = real_redis() else { return };
    let ours = TestServer::builder()
        .password("s3cret")
        .start()
        .await
        .unwrap();
    let mut m = RawConn::connect(ours.addr()).await;
    ok(&mut m, &[b"AUTH", b"s3cret"]).await;
    populate(&mut m).await;
    let real = RealRedis::start(&binary, &["--masterauth", "s3cret"]).await;
    replicaof(real.addr(), ours.addr()).await;
    let mut probe = RawConn::connect(ours.addr()).await;
    ok(&mut probe, &[b"AUTH", b"s3cret"]).await;
    // wait_synced and same_data open their own connections: authenticate through a copy of
    // the data without a password instead.
    let deadline = Instant::now() + DEADLINE;
    loop {
        let mi = info_text(&mut probe).await;
        let mut r = RawConn::connect(real.addr()).await;
        let ri = info_text(&mut r).await;
        if field(&ri, "master_link_status") == Some("up")
            && field(&ri, "master_repl_offset") == field(&mi, "master_repl_offset")
        {
            break;
        }
        assert!(Instant::now() < deadline, "{mi}\n{ri}\n{}", real.log());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut r = RawConn::connect(real.addr()).await;
    assert_eq!(dump_data(&mut probe).await, dump_data(&mut r).await);
}

#[tokio::test]
async fn our_replica_authenticates_to_a_real_master() {
    let Some(binary) = real_redis() else { return };
    let real = RealRedis::start(&binary, &["--requirepass", "s3cret"]).await;
    let mut m = RawConn::connect(real.addr()).await;
    ok(&mut m, &[b"AUTH", b"s3cret"]).await;
    populate(&mut m).await;
    let ours = TestServer::start().await.unwrap();
    let mut r = RawConn::connect(ours.addr()).await;
    ok(&mut r, &[b"CONFIG", b"SET", b"masterauth", b"s3cret"]).await;
    replicaof(ours.addr(), real.addr()).await;
    let deadline = Instant::now() + DEADLINE;
    loop {
        let mi = info_text(&mut m).await;
        let ri = info_text(&mut r).await;
        if field(&ri, "master_link_status") == Some("up")
            && field(&ri, "master_repl_offset") == field(&mi, "master_repl_offset")
        {
            break;
        }
        assert!(Instant::now() < deadline, "{mi}\n{ri}\n{}", real.log());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(dump_data(&mut m).await, dump_data(&mut r).await);
}

// ---- large values through a chain, both snapshot formats ----

#[tokio::test]
async fn large_values_through_real_ours_real() {
    let Some(binary) = real_redis() else { return };
    let top = RealRedis::start(&binary, &["--repl-diskless-sync", "yes"]).await;
    let middle = TestServer::start().await.unwrap();
    let bottom = RealRedis::start(&binary, &[]).await;
    let mut m = RawConn::connect(top.addr()).await;
    let big = |n: usize, seed: u8| -> Vec<u8> {
        (0..n)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
            .collect()
    };
    // In the snapshots: a 3 MB string, a long list of 1 KB items, a big hash.
    ok(&mut m, &[b"SET", b"big:str", &big(3 << 20, 1)]).await;
    let items: Vec<Vec<u8>> = (0..2000u32).map(|i| big(1024, i as u8)).collect();
    let mut argv: Vec<&[u8]> = vec![b"RPUSH", b"big:list"];
    argv.extend(items.iter().map(|i| &i[..]));
    ok(&mut m, &argv).await;
    let fields: Vec<Vec<u8>> = (0..20_000).map(|i| format!("f{i}").into_bytes()).collect();
    let mut argv: Vec<&[u8]> = vec![b"HSET", b"big:hash"];
    for f in &fields {
        argv.push(f);
        argv.push(f);
    }
    ok(&mut m, &argv).await;
    replicaof(middle.addr(), top.addr()).await;
    wait_synced(top.addr(), middle.addr(), &[&top]).await;
    replicaof(bottom.addr(), middle.addr()).await;
    wait_synced(middle.addr(), bottom.addr(), &[&bottom]).await;

    // In the stream: the same again under other names.
    ok(&mut m, &[b"SET", b"big:str2", &big(3 << 20, 7)]).await;
    let mut argv: Vec<&[u8]> = vec![b"RPUSH", b"big:list2"];
    argv.extend(items.iter().map(|i| &i[..]));
    ok(&mut m, &argv).await;
    ok(&mut m, &[b"APPEND", b"big:str", &big(1 << 20, 9)]).await;
    wait_synced(top.addr(), middle.addr(), &[&top]).await;
    wait_synced(middle.addr(), bottom.addr(), &[&bottom]).await;
    same_data(top.addr(), middle.addr()).await;
    same_data(top.addr(), bottom.addr()).await;
}

// ---- redis-cli's replication modes against our master ----

/// `redis-cli` next to the given redis-server, or on PATH.
fn redis_cli(server: &str) -> std::path::PathBuf {
    let beside = std::path::Path::new(server).with_file_name("redis-cli");
    if beside.exists() {
        beside
    } else {
        "redis-cli".into()
    }
}

#[tokio::test]
async fn redis_cli_rdb_from_our_master_loads_in_a_real_redis() {
    let Some(binary) = real_redis() else { return };
    let ours = TestServer::start().await.unwrap();
    let mut m = RawConn::connect(ours.addr()).await;
    populate(&mut m).await;
    let dir = TempDir::new("repl-interop-cli");
    let file = dir.file("dump.rdb");
    let cli = redis_cli(&binary);
    let port = ours.addr().port().to_string();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(cli)
            .args(["-h", "127.0.0.1", "-p", &port, "--rdb"])
            .arg(&file)
            .output()
            .expect("run redis-cli --rdb")
    })
    .await
    .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && text.contains("Transfer finished with success"),
        "{text}"
    );
    let real = RealRedis::start_in(&binary, dir, &[]).await;
    same_data(ours.addr(), real.addr()).await;
}

/// Reads `rx` until a line contains `want` (compared in lower case), keeping what it read.
async fn expect_line(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<String>,
    seen: &mut Vec<String>,
    want: &str,
) {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, rx.recv()).await {
            Ok(Some(line)) => {
                let hit = line.to_ascii_lowercase().contains(want);
                seen.push(line);
                if hit {
                    return;
                }
            }
            _ => panic!("redis-cli --replica never printed {want:?}: {seen:#?}"),
        }
    }
}

#[tokio::test]
async fn redis_cli_replica_follows_our_master() {
    use std::io::{BufRead, BufReader};
    let Some(binary) = real_redis() else { return };
    let ours = TestServer::start().await.unwrap();
    let mut m = RawConn::connect(ours.addr()).await;
    populate(&mut m).await;
    let mut child = Command::new(redis_cli(&binary))
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &ours.addr().port().to_string(),
            "--replica",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn redis-cli --replica");
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let _cli = Proc(child);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    for pipe in [
        Box::new(stdout) as Box<dyn std::io::Read + Send>,
        Box::new(stderr),
    ] {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
    }
    let mut seen = Vec::new();
    expect_line(&mut rx, &mut seen, "sync done").await;
    ok(&mut m, &[b"SET", b"cli", b"seen"]).await;
    expect_line(&mut rx, &mut seen, "\"set\",\"cli\",\"seen\"").await;
}

// ---- a partial resync continues in the database the stream had selected ----

/// Writes to db 7 on one connection, breaks the replica's link, writes to db 7 again on the
/// same connection (so the master need not repeat SELECT), and checks the replica applied
/// them there after its partial resync.
async fn partial_resync_keeps_the_db(master: SocketAddr, replica: SocketAddr, real: &RealRedis) {
    let mut m = RawConn::connect(master).await;
    ok(&mut m, &[b"SELECT", b"7"]).await;
    ok(&mut m, &[b"SET", b"before", b"1"]).await;
    wait_synced(master, replica, &[real]).await;
    let partial: u64 = info(master, "sync_partial_ok").await.parse().unwrap();
    kill_master_link(replica).await;
    ok(&mut m, &[b"SET", b"after", b"2"]).await;
    ok(&mut m, &[b"INCR", b"after:n"]).await;
    wait_synced(master, replica, &[real]).await;
    let now: u64 = info(master, "sync_partial_ok").await.parse().unwrap();
    assert_eq!(now, partial + 1, "{}", real.log());
    let mut r = RawConn::connect(replica).await;
    ok(&mut r, &[b"SELECT", b"7"]).await;
    assert_eq!(r.call(&["GET", "after"]).await, b"$1\r\n2\r\n");
    same_data(master, replica).await;
}

#[tokio::test]
async fn partial_resync_keeps_the_db_real_replica_of_ours() {
    let Some(binary) = real_redis() else { return };
    let (ours, real) = ours_with_a_real_replica(&binary).await;
    partial_resync_keeps_the_db(ours.addr(), real.addr(), &real).await;
}

#[tokio::test]
async fn partial_resync_keeps_the_db_our_replica_of_real() {
    let Some(binary) = real_redis() else { return };
    let (real, ours) = real_with_our_replica(&binary).await;
    partial_resync_keeps_the_db(real.addr(), ours.addr(), &real).await;
}

// ---- the offsets count REPLCONF GETACK: a partial resync after WAIT loses nothing ----

async fn wait_then_partial_resync(master: SocketAddr, replica: SocketAddr, real: &RealRedis) {
    let mut c = RawConn::connect(master).await;
    for i in 0..3 {
        ok(&mut c, &[b"SET", b"waited", i.to_string().as_bytes()]).await;
        let reply = c.call(&["WAIT", "1", "5000"]).await;
        assert_eq!(String::from_utf8_lossy(&reply), ":1\r\n", "{}", real.log());
    }
    wait_synced(master, replica, &[real]).await;
    let partial: u64 = info(master, "sync_partial_ok").await.parse().unwrap();
    kill_master_link(replica).await;
    ok(&mut c, &[b"SET", b"after-wait", b"x"]).await;
    wait_synced(master, replica, &[real]).await;
    let now: u64 = info(master, "sync_partial_ok").await.parse().unwrap();
    assert_eq!(now, partial + 1, "{}", real.log());
    same_data(master, replica).await;
}

#[tokio::test]
async fn wait_then_partial_resync_real_replica_of_ours() {
    let Some(binary) = real_redis() else { return };
    let (ours, real) = ours_with_a_real_replica(&binary).await;
    wait_then_partial_resync(ours.addr(), real.addr(), &real).await;
}

#[tokio::test]
async fn wait_then_partial_resync_our_replica_of_real() {
    let Some(binary) = real_redis() else { return };
    let (real, ours) = real_with_our_replica(&binary).await;
    wait_then_partial_resync(real.addr(), ours.addr(), &real).await;
}

// ---- promoting the middle of a chain real -> ours -> real ----

#[tokio::test]
async fn promoted_middle_of_a_chain_keeps_both_real_nodes_partial() {
    let Some(binary) = real_redis() else { return };
    let top = RealRedis::start(&binary, &[]).await;
    let mut m = RawConn::connect(top.addr()).await;
    populate(&mut m).await;
    let middle = TestServer::start().await.unwrap();
    let bottom = RealRedis::start(&binary, &[]).await;
    replicaof(middle.addr(), top.addr()).await;
    wait_synced(top.addr(), middle.addr(), &[&top]).await;
    replicaof(bottom.addr(), middle.addr()).await;
    wait_synced(middle.addr(), bottom.addr(), &[&bottom]).await;
    write_more(top.addr(), "chained").await;
    wait_synced(top.addr(), middle.addr(), &[&top]).await;
    wait_synced(middle.addr(), bottom.addr(), &[&bottom]).await;
    let full = info(middle.addr(), "sync_full").await;

    // Promote the middle; the sub-replica continues, the old top joins below it.
    let mut c = RawConn::connect(middle.addr()).await;
    ok(&mut c, &[b"REPLICAOF", b"NO", b"ONE"]).await;
    replicaof(top.addr(), middle.addr()).await;
    write_more(middle.addr(), "promoted").await;
    wait_synced(middle.addr(), bottom.addr(), &[&bottom]).await;
    wait_synced(middle.addr(), top.addr(), &[&top]).await;
    same_data(middle.addr(), bottom.addr()).await;
    same_data(middle.addr(), top.addr()).await;
    assert_eq!(info(middle.addr(), "sync_full").await, full);
    assert!(
        top.log()
            .contains("Successful partial resynchronization with master."),
        "{}",
        top.log()
    );
    assert_eq!(info(middle.addr(), "connected_slaves").await, "2");
}

// ---- FAILOVER on a real master to our replica ----

#[tokio::test]
async fn real_master_fails_over_to_our_replica() {
    let Some(binary) = real_redis() else { return };
    let real = RealRedis::start(&binary, &[]).await;
    let mut m = RawConn::connect(real.addr()).await;
    populate(&mut m).await;
    let ours = TestServer::start().await.unwrap();
    replicaof(ours.addr(), real.addr()).await;
    wait_synced(real.addr(), ours.addr(), &[&real]).await;

    let port = ours.addr().port().to_string();
    // The real master counts our replica online only once our first ACK reached it, which
    // can trail the offsets matching by a moment.
    let deadline = Instant::now() + DEADLINE;
    loop {
        let reply = m
            .call(&["FAILOVER", "TO", "127.0.0.1", &port, "TIMEOUT", "5000"])
            .await;
        let text = String::from_utf8_lossy(&reply).into_owned();
        if text == "+OK\r\n" {
            break;
        }
        assert_eq!(text, "-ERR FAILOVER target replica is not online.\r\n");
        assert!(
            Instant::now() < deadline,
            "the real master never saw our replica online"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // The real master hands over: it sends `PSYNC <replid> <offset> FAILOVER` to our
    // replica, which must become a master and continue the real one's history.
    let deadline = Instant::now() + DEADLINE;
    loop {
        let role = info(ours.addr(), "role").await;
        let state = info(real.addr(), "master_failover_state").await;
        if role == "master" && state == "no-failover" {
            break;
        }
        if Instant::now() >= deadline {
            let mut r = RawConn::connect(ours.addr()).await;
            panic!(
                "failover did not finish: our role {role}, real failover state {state}\n\
                 ours:\n{}\nreal:\n{}",
                info_text(&mut r).await,
                real.log()
            );
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    write_more(ours.addr(), "after-failover").await;
    wait_synced(ours.addr(), real.addr(), &[&real]).await;
    same_data(ours.addr(), real.addr()).await;
    assert_eq!(info(ours.addr(), "sync_full").await, "0");
}

// ---- each side lists the other as a replica, with acknowledged offsets ----

/// The items of an array reply as text: bulk strings as they are, integers as `:n`.
fn texts(frame: Frame) -> Vec<String> {
    frame
        .into_vec()
        .expect("array reply")
        .into_iter()
        .map(|f| match f {
            Frame::Bulk(b) => String::from_utf8_lossy(&b).into_owned(),
            Frame::Integer(n) => format!(":{n}"),
            other => panic!("not a bulk or an integer: {other:?}"),
        })
        .collect()
}

/// Polls ROLE on `master` until it lists one replica on `replica_port` whose acknowledged
/// offset is the master's offset (replicas acknowledge on their own, about once a second).
async fn role_lists_replica(master: SocketAddr, replica_port: u16, real: &RealRedis) {
    let mut c = RawConn::connect(master).await;
    let deadline = Instant::now() + DEADLINE;
    loop {
        let role = c.frame(&["ROLE"]).await;
        let items = role.clone().into_vec().expect("ROLE array");
        assert_eq!(&items[0].as_bytes().unwrap()[..], b"master", "{role:?}");
        let offset = match &items[1] {
            Frame::Integer(n) => *n,
            other => panic!("ROLE offset: {other:?}"),
        };
        let replicas = items[2].clone().into_vec().expect("replica list");
        let listed: Vec<Vec<String>> = replicas.into_iter().map(texts).collect();
        let want = [
            "127.0.0.1".to_string(),
            replica_port.to_string(),
            offset.to_string(),
        ];
        if listed == [want] {
            let slave0 = info(master, "slave0").await;
            assert!(
                slave0.contains(&format!("port={replica_port},state=online,offset={offset}")),
                "{slave0}"
            );
            return;
        }
        assert!(
            Instant::now() < deadline,
            "ROLE on {master}: {role:?}\n{}",
            real.log()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn our_master_lists_a_real_replica_with_its_acks() {
    let Some(binary) = real_redis() else { return };
    let ours = TestServer::start().await.unwrap();
    let real = RealRedis::start(&binary, &[]).await;
    replicaof(real.addr(), ours.addr()).await;
    let mut m = RawConn::connect(ours.addr()).await;
    ok(&mut m, &[b"SET", b"k", b"v"]).await;
    wait_synced(ours.addr(), real.addr(), &[&real]).await;
    role_lists_replica(ours.addr(), real.addr().port(), &real).await;
    // ROLE on a replica: the master's port and the offset are integers.
    let mut r = RawConn::connect(real.addr()).await;
    let role = texts(r.frame(&["ROLE"]).await);
    let port = format!(":{}", ours.addr().port());
    assert_eq!(role[..4], ["slave", "127.0.0.1", &port, "connected"]);
}

#[tokio::test]
async fn real_master_lists_our_replica_with_its_acks() {
    let Some(binary) = real_redis() else { return };
    let real = RealRedis::start(&binary, &[]).await;
    let ours = TestServer::start().await.unwrap();
    replicaof(ours.addr(), real.addr()).await;
    let mut m = RawConn::connect(real.addr()).await;
    ok(&mut m, &[b"SET", b"k", b"v"]).await;
    wait_synced(real.addr(), ours.addr(), &[&real]).await;
    role_lists_replica(real.addr(), ours.addr().port(), &real).await;
    let mut r = RawConn::connect(ours.addr()).await;
    let role = texts(r.frame(&["ROLE"]).await);
    let port = format!(":{}", real.addr().port());
    let offset = format!(":{}", info(real.addr(), "master_repl_offset").await);
    assert_eq!(role, ["slave", "127.0.0.1", &port, "connected", &offset]);
}

// ---- a replica that followed another master comes back: partial, or full past the backlog ----

/// Points `replica` at a closed port (it keeps its cached master), writes to `master` (past
/// its 16 KB backlog when `overflow`), points it back, and checks how it resynchronised.
async fn away_and_back(master: SocketAddr, replica: SocketAddr, real: &RealRedis, overflow: bool) {
    let mut m = RawConn::connect(master).await;
    populate(&mut m).await;
    wait_synced(master, replica, &[real]).await;
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port");
    replicaof(replica, dead).await;
    let mut r = RawConn::connect(replica).await;
    let deadline = Instant::now() + DEADLINE;
    while field(&info_text(&mut r).await, "master_link_status") != Some("down") {
        assert!(Instant::now() < deadline, "link to a closed port is up?");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let before =
        |name: &'static str| async move { info(master, name).await.parse::<u64>().unwrap() };
    let (full, ok_, err) = (
        before("sync_full").await,
        before("sync_partial_ok").await,
        before("sync_partial_err").await,
    );
    ok(&mut m, &[b"DEL", b"str:small", b"list:big"]).await;
    let writes = if overflow { 100 } else { 3 };
    for i in 0..writes {
        let key = format!("gap:{i}");
        ok(&mut m, &[b"SET", key.as_bytes(), &[b'g'; 1000]]).await;
    }
    replicaof(replica, master).await;
    wait_synced(master, replica, &[real]).await;
    same_data(master, replica).await;
    let counts = (
        before("sync_full").await,
        before("sync_partial_ok").await,
        before("sync_partial_err").await,
    );
    let want = if overflow {
        (full + 1, ok_, err + 1)
    } else {
        (full, ok_ + 1, err)
    };
    assert_eq!(
        counts,
        want,
        "(sync_full, sync_partial_ok, sync_partial_err) on {master}\n{}",
        real.log()
    );
}

async fn real_replica_away_and_back(overflow: bool) {
    let Some(binary) = real_redis() else { return };
    let ours = TestServer::builder()
        .backlog_size(16 * 1024)
        .start()
        .await
        .unwrap();
    let real = RealRedis::start(&binary, &[]).await;
    replicaof(real.addr(), ours.addr()).await;
    away_and_back(ours.addr(), real.addr(), &real, overflow).await;
}

async fn our_replica_away_and_back(overflow: bool) {
    let Some(binary) = real_redis() else { return };
    let real = RealRedis::start(&binary, &["--repl-backlog-size", "16kb"]).await;
    let ours = TestServer::start().await.unwrap();
    replicaof(ours.addr(), real.addr()).await;
    away_and_back(real.addr(), ours.addr(), &real, overflow).await;
}

#[tokio::test]
async fn real_replica_comes_back_to_our_master_partially() {
    real_replica_away_and_back(false).await;
}

#[tokio::test]
async fn real_replica_comes_back_to_our_master_past_the_backlog() {
    real_replica_away_and_back(true).await;
}

#[tokio::test]
async fn our_replica_comes_back_to_a_real_master_partially() {
    our_replica_away_and_back(false).await;
}

#[tokio::test]
async fn our_replica_comes_back_to_a_real_master_past_the_backlog() {
    our_replica_away_and_back(true).await;
}

// ---- many more commands, both ways ----

#[tokio::test]
async fn many_kinds_of_writes_from_our_master_to_a_real_replica() {
    let Some(binary) = real_redis() else { return };
    let ours = TestServer::start().await.unwrap();
    let mut m = RawConn::connect(ours.addr()).await;
    populate(&mut m).await;
    let real = RealRedis::start(&binary, &[]).await;
    replicaof(real.addr(), ours.addr()).await;
    wait_synced(ours.addr(), real.addr(), &[&real]).await;
    write_many_kinds(ours.addr()).await;
    wait_synced(ours.addr(), real.addr(), &[&real]).await;
    same_data(ours.addr(), real.addr()).await;
}

#[tokio::test]
async fn many_kinds_of_writes_from_a_real_master_to_our_replica() {
    let Some(binary) = real_redis() else { return };
    let real = RealRedis::start(&binary, &[]).await;
    let mut m = RawConn::connect(real.addr()).await;
    populate(&mut m).await;
    let ours = TestServer::start().await.unwrap();
    replicaof(ours.addr(), real.addr()).await;
    wait_synced(real.addr(), ours.addr(), &[&real]).await;
    write_many_kinds(real.addr()).await;
    // A script's effects arrive wrapped in MULTI/EXEC.
    let script = "redis.call('SET', KEYS[1], ARGV[1]); redis.call('INCR', KEYS[2]); \
                  redis.call('RPUSH', KEYS[3], 'x')";
    ok(
        &mut m,
        &[
            b"EVAL",
            script.as_bytes(),
            b"3",
            b"lua:s",
            b"lua:n",
            b"lua:l",
            b"v",
        ],
    )
    .await;
    wait_synced(real.addr(), ours.addr(), &[&real]).await;
    same_data(real.addr(), ours.addr()).await;
}

#[tokio::test]
async fn restore_on_a_real_master_reaches_our_replica() {
    let Some(binary) = real_redis() else { return };
    let real = RealRedis::start(&binary, &[]).await;
    let mut m = RawConn::connect(real.addr()).await;
    ok(&mut m, &[b"RPUSH", b"list", b"a", b"b"]).await;
    let ours = TestServer::start().await.unwrap();
    replicaof(ours.addr(), real.addr()).await;
    wait_synced(real.addr(), ours.addr(), &[&real]).await;
    let payload = match call(&mut m, &[b"DUMP", b"list"]).await {
        Frame::Bulk(b) => b,
        other => panic!("DUMP: {other:?}"),
    };
    ok(&mut m, &[b"RESTORE", b"copy", b"0", &payload]).await;
    wait_synced(real.addr(), ours.addr(), &[&real]).await;
    same_data(real.addr(), ours.addr()).await;
}

// ---- snapshots from real masters configured to write other encodings ----

/// Our replica loads a real master's snapshot made with `config`, in both framings, into the
/// same data as a real replica (default configuration) of that master. (Not always the
/// master's data: a replica re-encodes what it loads by its own configuration, and a sorted
/// set's `-0` score held in a skiplist becomes `0` in a listpack, on a real replica as well.)
async fn our_replica_loads_a_real_snapshot_with(config: &[&str]) {
    let Some(binary) = real_redis() else { return };
    for diskless in ["no", "yes"] {
        let mut args = vec!["--repl-diskless-sync", diskless];
        args.extend_from_slice(config);
        let real = RealRedis::start(&binary, &args).await;
        let mut m = RawConn::connect(real.addr()).await;
        populate(&mut m).await;
        let ours = TestServer::start().await.unwrap();
        let twin = RealRedis::start(&binary, &[]).await;
        replicaof(ours.addr(), real.addr()).await;
        replicaof(twin.addr(), real.addr()).await;
        wait_synced(real.addr(), ours.addr(), &[&real]).await;
        wait_synced(real.addr(), twin.addr(), &[&real, &twin]).await;
        same_data(twin.addr(), ours.addr()).await;
    }
}

#[tokio::test]
async fn real_snapshot_without_checksum() {
    our_replica_loads_a_real_snapshot_with(&["--rdbchecksum", "no"]).await;
}

#[tokio::test]
async fn real_snapshot_without_compression() {
    our_replica_loads_a_real_snapshot_with(&["--rdbcompression", "no"]).await;
}

#[tokio::test]
async fn real_snapshot_with_compressed_list_nodes() {
    our_replica_loads_a_real_snapshot_with(&[
        "--list-compress-depth",
        "1",
        "--list-max-listpack-size",
        "8",
    ])
    .await;
}

#[tokio::test]
async fn real_snapshot_with_only_large_encodings() {
    our_replica_loads_a_real_snapshot_with(&[
        "--hash-max-listpack-entries",
        "0",
        "--zset-max-listpack-entries",
        "0",
        "--set-max-intset-entries",
        "0",
        "--list-max-listpack-size",
        "1",
    ])
    .await;
}

#[tokio::test]
async fn real_snapshot_with_only_small_encodings() {
    our_replica_loads_a_real_snapshot_with(&[
        "--hash-max-listpack-entries",
        "100000",
        "--hash-max-listpack-value",
        "100000",
        "--zset-max-listpack-entries",
        "100000",
        "--zset-max-listpack-value",
        "100000",
        "--set-max-intset-entries",
        "100000",
        "--list-max-listpack-size",
        "-5",
    ])
    .await;
}

// ---- history changes above a replica ----

#[tokio::test]
async fn our_replica_resyncs_fully_from_a_restarted_real_master() {
    let Some(binary) = real_redis() else { return };
    let real = RealRedis::start(&binary, &[]).await;
    let mut m = RawConn::connect(real.addr()).await;
    populate(&mut m).await;
    let ours = TestServer::start().await.unwrap();
    replicaof(ours.addr(), real.addr()).await;
    wait_synced(real.addr(), ours.addr(), &[&real]).await;
    let old_id = info(real.addr(), "master_replid").await;

    // The master comes back empty, with a new replication id: the replica must drop what it
    // had and load the new history.
    let real = real.restart(&binary, &[]).await;
    let mut m = RawConn::connect(real.addr()).await;
    ok(&mut m, &[b"SET", b"reborn", b"1"]).await;
    ok(&mut m, &[b"SELECT", b"2"]).await;
    ok(&mut m, &[b"RPUSH", b"reborn:list", b"a"]).await;
    wait_synced(real.addr(), ours.addr(), &[&real]).await;
    same_data(real.addr(), ours.addr()).await;
    let new_id = info(real.addr(), "master_replid").await;
    assert_ne!(new_id, old_id);
    assert_eq!(info(ours.addr(), "master_replid").await, new_id);
}

#[tokio::test]
async fn real_sub_replica_follows_when_our_master_joins_another_history() {
    let Some(binary) = real_redis() else { return };
    // Our master with its data and a real replica.
    let ours = TestServer::start().await.unwrap();
    let mut o = RawConn::connect(ours.addr()).await;
    populate(&mut o).await;
    ok(&mut o, &[b"SET", b"only-on-ours", b"1"]).await;
    let sub = RealRedis::start(&binary, &[]).await;
    replicaof(sub.addr(), ours.addr()).await;
    wait_synced(ours.addr(), sub.addr(), &[&sub]).await;

    // A real master with other data; ours becomes its replica (a full sync of an unrelated
    // history), and the sub-replica must end up with the real master's data too.
    let top = RealRedis::start(&binary, &[]).await;
    let mut t = RawConn::connect(top.addr()).await;
    ok(&mut t, &[b"SET", b"only-on-top", b"1"]).await;
    ok(&mut t, &[b"HSET", b"h", b"f", b"v"]).await;
    replicaof(ours.addr(), top.addr()).await;
    wait_synced(top.addr(), ours.addr(), &[&top]).await;
    ok(&mut t, &[b"SET", b"after", b"2"]).await;
    wait_synced(top.addr(), ours.addr(), &[&top]).await;
    wait_synced(ours.addr(), sub.addr(), &[&sub]).await;
    same_data(top.addr(), ours.addr()).await;
    same_data(top.addr(), sub.addr()).await;
    let top_id = info(top.addr(), "master_replid").await;
    assert_eq!(info(sub.addr(), "master_replid").await, top_id);
}

#[tokio::test]
async fn real_sub_replica_waits_for_our_replica_to_link_up() {
    let Some(binary) = real_redis() else { return };
    let top = RealRedis::start(&binary, &[]).await;
    let mut t = RawConn::connect(top.addr()).await;
    populate(&mut t).await;
    // Ours is a replica of nothing reachable yet; a real sub-replica asks it for a sync.
    let ours = TestServer::start().await.unwrap();
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port");
    replicaof(ours.addr(), dead).await;
    let sub = RealRedis::start(&binary, &[]).await;
    replicaof(sub.addr(), ours.addr()).await;
    let deadline = Instant::now() + DEADLINE;
    while !sub.log().contains("NOMASTERLINK") {
        assert!(Instant::now() < deadline, "{}", sub.log());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Once ours links up, the sub-replica gets the top master's data through it.
    replicaof(ours.addr(), top.addr()).await;
    wait_synced(top.addr(), ours.addr(), &[&top]).await;
    wait_synced(ours.addr(), sub.addr(), &[&sub]).await;
    same_data(top.addr(), sub.addr()).await;
}

// ---- keep-alive newlines before the snapshot ----

#[tokio::test]
async fn our_replica_skips_the_newlines_a_real_master_sends_while_it_waits() {
    let Some(binary) = real_redis() else { return };
    // The master delays its diskless snapshot and meanwhile writes "\n" to the waiting
    // replica once a second: before its `+FULLRESYNC` reply, which Redis 7.0 sends only when
    // the snapshot starts (`\n\n\n+FULLRESYNC <id> 0\r\n$EOF:<mark>\r\nREDIS0010...`).
    let real = RealRedis::start(
        &binary,
        &[
            "--repl-diskless-sync",
            "yes",
            "--repl-diskless-sync-delay",
            "2",
        ],
    )
    .await;
    let mut m = RawConn::connect(real.addr()).await;
    populate(&mut m).await;
    let ours = TestServer::start().await.unwrap();
    replicaof(ours.addr(), real.addr()).await;
    wait_synced(real.addr(), ours.addr(), &[&real]).await;
    same_data(real.addr(), ours.addr()).await;
    assert!(
        real.log()
            .contains("Starting BGSAVE for SYNC with target: replicas sockets"),
        "{}",
        real.log()
    );
}

// ---- min-replicas-to-write counts the other side's acknowledgements ----

/// Polls `SET` on `master` until its reply starts with `want` (`+OK` or `-NOREPLICAS`).
async fn set_until(master: SocketAddr, want: &str, logs: &[&RealRedis]) {
    let mut c = RawConn::connect(master).await;
    let deadline = Instant::now() + DEADLINE;
    loop {
        let reply = c.call(&["SET", "guarded", "v"]).await;
        if reply.starts_with(want.as_bytes()) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "SET on {master} still answers {:?}, not {want}\n{}",
            String::from_utf8_lossy(&reply),
            logs.iter().map(|l| l.log()).collect::<Vec<_>>().join("\n")
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn our_master_counts_a_real_replica_for_min_replicas() {
    let Some(binary) = real_redis() else { return };
    let ours = TestServer::start().await.unwrap();
    let mut o = RawConn::connect(ours.addr()).await;
    ok(&mut o, &[b"CONFIG", b"SET", b"min-replicas-to-write", b"1"]).await;
    ok(&mut o, &[b"CONFIG", b"SET", b"min-replicas-max-lag", b"2"]).await;
    let real = RealRedis::start(&binary, &[]).await;
    set_until(ours.addr(), "-NOREPLICAS", &[&real]).await;
    replicaof(real.addr(), ours.addr()).await;
    set_until(ours.addr(), "+OK", &[&real]).await;
    assert_eq!(info(ours.addr(), "min_slaves_good_slaves").await, "1");
    // The real replica goes away: writes are refused again.
    drop(real);
    set_until(ours.addr(), "-NOREPLICAS", &[]).await;
}

#[tokio::test]
async fn real_master_counts_our_replica_for_min_replicas() {
    let Some(binary) = real_redis() else { return };
    let real = RealRedis::start(
        &binary,
        &[
            "--min-replicas-to-write",
            "1",
            "--min-replicas-max-lag",
            "2",
        ],
    )
    .await;
    let ours = TestServer::start().await.unwrap();
    replicaof(ours.addr(), real.addr()).await;
    set_until(real.addr(), "+OK", &[&real]).await;
    // Our replica stops reading and acknowledging: the master stops counting it...
    ours.pause_master_link();
    set_until(real.addr(), "-NOREPLICAS", &[&real]).await;
    // ... and counts it again once it acknowledges again.
    ours.heal_master_link();
    set_until(real.addr(), "+OK", &[&real]).await;
    wait_synced(real.addr(), ours.addr(), &[&real]).await;
    same_data(real.addr(), ours.addr()).await;
}

// ---- our nodes answer like real ones in the same roles ----

/// The field names of `INFO replication`, with `slaveN` values reduced to their key names.
async fn info_shape(addr: SocketAddr) -> Vec<String> {
    let mut c = RawConn::connect(addr).await;
    info_text(&mut c)
        .await
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| match l.split_once(':') {
            Some((name, value)) if name.starts_with("slave") && value.contains('=') => {
                let keys: Vec<&str> = value
                    .split(',')
                    .filter_map(|kv| kv.split('=').next())
                    .collect();
                format!("{name}:{}", keys.join(","))
            }
            Some((name, _)) => name.to_string(),
            None => l.to_string(),
        })
        .collect()
}

#[tokio::test]
async fn our_replica_answers_like_a_real_replica() {
    let Some(binary) = real_redis() else { return };
    let top = RealRedis::start(&binary, &[]).await;
    let ours = TestServer::start().await.unwrap();
    let twin = RealRedis::start(&binary, &[]).await;
    for replica in [ours.addr(), twin.addr()] {
        replicaof(replica, top.addr()).await;
        wait_synced(top.addr(), replica, &[&top]).await;
    }
    assert_eq!(info_shape(ours.addr()).await, info_shape(twin.addr()).await);
    let port = top.addr().port().to_string();
    let probes: &[&[&str]] = &[
        &["SET", "k", "v"],
        &["DEL", "k"],
        &["REPLICAOF", "127.0.0.1", &port],
        &["WAIT", "0", "0"],
        &["FLUSHALL"],
    ];
    for probe in probes {
        let mut a = RawConn::connect(ours.addr()).await;
        let mut b = RawConn::connect(twin.addr()).await;
        assert_eq!(
            String::from_utf8_lossy(&a.call(probe).await),
            String::from_utf8_lossy(&b.call(probe).await),
            "{probe:?}"
        );
    }
}

#[tokio::test]
async fn our_master_answers_like_a_real_master() {
    let Some(binary) = real_redis() else { return };
    let ours = TestServer::start().await.unwrap();
    let twin = RealRedis::start(&binary, &[]).await;
    let sub_of_ours = RealRedis::start(&binary, &[]).await;
    let sub_of_twin = RealRedis::start(&binary, &[]).await;
    replicaof(sub_of_ours.addr(), ours.addr()).await;
    replicaof(sub_of_twin.addr(), twin.addr()).await;
    wait_synced(ours.addr(), sub_of_ours.addr(), &[&sub_of_ours]).await;
    wait_synced(twin.addr(), sub_of_twin.addr(), &[&sub_of_twin]).await;
    assert_eq!(info_shape(ours.addr()).await, info_shape(twin.addr()).await);
    let probes: &[&[&str]] = &[
        &["WAIT", "1", "100"],
        &["WAIT", "2", "10"],
        &["REPLICAOF", "NO", "ONE"],
        &["REPLCONF", "listening-port", "1"],
        &["REPLCONF", "nosuchoption", "1"],
    ];
    for probe in probes {
        let mut a = RawConn::connect(ours.addr()).await;
        let mut b = RawConn::connect(twin.addr()).await;
        assert_eq!(
            String::from_utf8_lossy(&a.call(probe).await),
            String::from_utf8_lossy(&b.call(probe).await),
            "{probe:?}"
        );
    }
}

// ---- more PSYNC2: an old master of ours, and switching to a sibling ----

#[tokio::test]
async fn our_old_master_continues_from_a_promoted_real_replica() {
    let Some(binary) = real_redis() else { return };
    let ours = TestServer::start().await.unwrap();
    let mut o = RawConn::connect(ours.addr()).await;
    populate(&mut o).await;
    let real = RealRedis::start(&binary, &[]).await;
    replicaof(real.addr(), ours.addr()).await;
    wait_synced(ours.addr(), real.addr(), &[&real]).await;

    let mut r = RawConn::connect(real.addr()).await;
    ok(&mut r, &[b"REPLICAOF", b"NO", b"ONE"]).await;
    replicaof(ours.addr(), real.addr()).await;
    wait_synced(real.addr(), ours.addr(), &[&real]).await;
    assert_eq!(
        info(real.addr(), "sync_partial_ok").await,
        "1",
        "{}",
        real.log()
    );
    assert_eq!(info(real.addr(), "sync_full").await, "0");
    write_more(real.addr(), "after-failover").await;
    wait_synced(real.addr(), ours.addr(), &[&real]).await;
    same_data(real.addr(), ours.addr()).await;
}

#[tokio::test]
async fn replicas_switch_to_a_sibling_partially_both_ways() {
    let Some(binary) = real_redis() else { return };
    let top = RealRedis::start(&binary, &[]).await;
    let mut t = RawConn::connect(top.addr()).await;
    populate(&mut t).await;
    let ours = TestServer::start().await.unwrap();
    let sibling = RealRedis::start(&binary, &[]).await;
    for replica in [ours.addr(), sibling.addr()] {
        replicaof(replica, top.addr()).await;
        wait_synced(top.addr(), replica, &[&top, &sibling]).await;
    }
    write_more(top.addr(), "before-switch").await;
    wait_synced(top.addr(), ours.addr(), &[&top]).await;
    wait_synced(top.addr(), sibling.addr(), &[&top, &sibling]).await;

    // Ours moves under the real sibling: a partial resync on the same history.
    replicaof(ours.addr(), sibling.addr()).await;
    wait_synced(sibling.addr(), ours.addr(), &[&sibling]).await;
    assert_eq!(
        info(sibling.addr(), "sync_partial_ok").await,
        "1",
        "{}",
        sibling.log()
    );
    assert_eq!(info(sibling.addr(), "sync_full").await, "0");
    write_more(top.addr(), "via-sibling").await;
    wait_synced(top.addr(), sibling.addr(), &[&top, &sibling]).await;
    wait_synced(sibling.addr(), ours.addr(), &[&sibling]).await;
    same_data(top.addr(), ours.addr()).await;

    // Back under the top, then the real sibling moves under ours.
    replicaof(ours.addr(), top.addr()).await;
    wait_synced(top.addr(), ours.addr(), &[&top]).await;
    replicaof(sibling.addr(), ours.addr()).await;
    wait_synced(ours.addr(), sibling.addr(), &[&sibling]).await;
    assert_eq!(
        info(ours.addr(), "sync_partial_ok").await,
        "1",
        "{}",
        sibling.log()
    );
    assert_eq!(info(ours.addr(), "sync_full").await, "0");
    write_more(top.addr(), "via-ours").await;
    wait_synced(top.addr(), ours.addr(), &[&top]).await;
    wait_synced(ours.addr(), sibling.addr(), &[&sibling]).await;
    same_data(top.addr(), sibling.addr()).await;
}

// ---- odds and ends of the link ----

#[tokio::test]
async fn our_replica_delivers_what_a_real_master_publishes() {
    let Some(binary) = real_redis() else { return };
    let (real, ours) = real_with_our_replica(&binary).await;
    let mut sub = RawConn::connect(ours.addr()).await;
    sub.call(&["SUBSCRIBE", "news"]).await;
    let mut m = RawConn::connect(real.addr()).await;
    // The master counts only its own subscribers.
    assert_eq!(m.call(&["PUBLISH", "news", "hello"]).await, b":0\r\n");
    assert_eq!(
        common::strings(sub.read_frame().await),
        ["message", "news", "hello"]
    );
}

#[tokio::test]
async fn replicas_announce_their_address_both_ways() {
    let Some(binary) = real_redis() else { return };
    let ours = TestServer::start().await.unwrap();
    let real = RealRedis::start(
        &binary,
        &[
            "--replica-announce-ip",
            "10.1.2.3",
            "--replica-announce-port",
            "7777",
        ],
    )
    .await;
    replicaof(real.addr(), ours.addr()).await;
    wait_synced(ours.addr(), real.addr(), &[&real]).await;
    wait_slave0(ours.addr(), "ip=10.1.2.3,port=7777,state=online").await;

    let top = RealRedis::start(&binary, &[]).await;
    let other = TestServer::start().await.unwrap();
    let mut o = RawConn::connect(other.addr()).await;
    ok(
        &mut o,
        &[b"CONFIG", b"SET", b"replica-announce-ip", b"10.4.5.6"],
    )
    .await;
    ok(
        &mut o,
        &[b"CONFIG", b"SET", b"replica-announce-port", b"8888"],
    )
    .await;
    replicaof(other.addr(), top.addr()).await;
    wait_synced(top.addr(), other.addr(), &[&top]).await;
    wait_slave0(top.addr(), "ip=10.4.5.6,port=8888,state=online").await;
}

/// Waits until the master's `slave0` line starts with `want`. A real master puts a replica
/// synced without disk online only when its cron sees the RDB child exit (up to 100 ms after
/// the replica has loaded it and reports its link up), so the line may lag `wait_synced`.
async fn wait_slave0(master: SocketAddr, want: &str) {
    let online = common::wait_until(DEADLINE, || async move {
        info(master, "slave0").await.starts_with(want)
    })
    .await;
    assert!(online, "{}", info(master, "slave0").await);
}

#[tokio::test]
async fn client_kill_type_replica_on_either_master_leads_to_a_partial_resync() {
    let Some(binary) = real_redis() else { return };
    // Our master kills its real replica's connection.
    let (ours, real) = ours_with_a_real_replica(&binary).await;
    let mut o = RawConn::connect(ours.addr()).await;
    assert_eq!(
        o.call(&["CLIENT", "KILL", "TYPE", "replica"]).await,
        b":1\r\n"
    );
    write_more(ours.addr(), "after-kill").await;
    wait_synced(ours.addr(), real.addr(), &[&real]).await;
    same_data(ours.addr(), real.addr()).await;
    assert_eq!(info(ours.addr(), "sync_partial_ok").await, "1");

    // A real master kills our replica's connection.
    let top = RealRedis::start(&binary, &[]).await;
    let other = TestServer::start().await.unwrap();
    replicaof(other.addr(), top.addr()).await;
    wait_synced(top.addr(), other.addr(), &[&top]).await;
    let mut t = RawConn::connect(top.addr()).await;
    assert_eq!(
        t.call(&["CLIENT", "KILL", "TYPE", "replica"]).await,
        b":1\r\n"
    );
    write_more(top.addr(), "after-kill").await;
    wait_synced(top.addr(), other.addr(), &[&top]).await;
    same_data(top.addr(), other.addr()).await;
    assert_eq!(
        info(top.addr(), "sync_partial_ok").await,
        "1",
        "{}",
        top.log()
    );
}

#[tokio::test]
async fn our_replica_reaches_a_real_master_by_host_name() {
    let Some(binary) = real_redis() else { return };
    let real = RealRedis::start(&binary, &[]).await;
    let mut m = RawConn::connect(real.addr()).await;
    ok(&mut m, &[b"SET", b"named", b"1"]).await;
    let ours = TestServer::start().await.unwrap();
    let mut r = RawConn::connect(ours.addr()).await;
    let port = real.addr().port().to_string();
    ok(&mut r, &[b"REPLICAOF", b"localhost", port.as_bytes()]).await;
    wait_synced(real.addr(), ours.addr(), &[&real]).await;
    same_data(real.addr(), ours.addr()).await;
    assert_eq!(info(ours.addr(), "master_host").await, "localhost");
}

#[tokio::test]
async fn flushall_both_ways() {
    let Some(binary) = real_redis() else { return };
    let ours = TestServer::start().await.unwrap();
    let real = RealRedis::start(&binary, &[]).await;
    let top = RealRedis::start(&binary, &[]).await;
    let other = TestServer::start().await.unwrap();
    replicaof(real.addr(), ours.addr()).await;
    replicaof(other.addr(), top.addr()).await;
    for (master, replica, log) in [
        (ours.addr(), real.addr(), &real),
        (top.addr(), other.addr(), &top),
    ] {
        let mut m = RawConn::connect(master).await;
        populate(&mut m).await;
        wait_synced(master, replica, &[log]).await;
        ok(&mut m, &[b"FLUSHALL"]).await;
        ok(&mut m, &[b"SELECT", b"4"]).await;
        ok(&mut m, &[b"SET", b"after-flushall", b"1"]).await;
        wait_synced(master, replica, &[log]).await;
        same_data(master, replica).await;
        let mut r = RawConn::connect(replica).await;
        assert_eq!(r.call(&["DBSIZE"]).await, b":0\r\n");
    }
}

#[tokio::test]
async fn our_replica_keeps_expired_keys_of_a_real_snapshot_until_the_master_deletes_them() {
    let Some(binary) = real_redis() else { return };
    let real = RealRedis::start(&binary, &["--enable-debug-command", "yes"]).await;
    let mut m = RawConn::connect(real.addr()).await;
    ok(&mut m, &[b"DEBUG", b"SET-ACTIVE-EXPIRE", b"0"]).await;
    ok(&mut m, &[b"SET", b"stale", b"v", b"PX", b"1"]).await;
    ok(&mut m, &[b"SET", b"fresh", b"v"]).await;
    // Let "stale" pass its time without touching it: the master itself waits 10 ms.
    ok(&mut m, &[b"DEBUG", b"SLEEP", b"0.01"]).await;
    assert_eq!(info(real.addr(), "expired_keys").await, "0");

    // Ours and a real twin load the snapshot that still holds it, and keep it as replicas do.
    let ours = TestServer::start().await.unwrap();
    let twin = RealRedis::start(&binary, &[]).await;
    for replica in [ours.addr(), twin.addr()] {
        replicaof(replica, real.addr()).await;
        wait_synced(real.addr(), replica, &[&real]).await;
    }
    let dbsize = |addr: SocketAddr| async move {
        let mut c = RawConn::connect(addr).await;
        String::from_utf8_lossy(&c.call(&["DBSIZE"]).await).into_owned()
    };
    assert_eq!(dbsize(twin.addr()).await, ":2\r\n", "{}", twin.log());
    assert_eq!(dbsize(ours.addr()).await, dbsize(twin.addr()).await);
    // Reading it on the master expires it there and sends DEL to both.
    assert_eq!(m.call(&["EXISTS", "stale"]).await, b":0\r\n");
    for replica in [ours.addr(), twin.addr()] {
        wait_synced(real.addr(), replica, &[&real]).await;
        assert_eq!(dbsize(replica).await, ":1\r\n");
    }
}

#[tokio::test]
async fn a_stalled_real_replica_keeps_its_stream_beyond_our_backlog() {
    let Some(binary) = real_redis() else { return };
    let ours = TestServer::builder()
        .backlog_size(16 * 1024)
        .start()
        .await
        .unwrap();
    let real = RealRedis::start(&binary, &["--enable-debug-command", "yes"]).await;
    replicaof(real.addr(), ours.addr()).await;
    wait_synced(ours.addr(), real.addr(), &[&real]).await;
    // The replica stops reading for a second while 16 MB, far more than the 16 KB backlog
    // (and the socket buffers), is written.
    let mut r = RawConn::connect(real.addr()).await;
    r.send(&["DEBUG", "SLEEP", "1"]).await;
    let mut m = RawConn::connect(ours.addr()).await;
    let value = vec![b'x'; 16 * 1024];
    for i in 0..1000 {
        let key = format!("stall:{}", i % 200);
        ok(&mut m, &[b"SET", key.as_bytes(), &value]).await;
    }
    assert_eq!(r.read_raw_timeout(DEADLINE).await.unwrap(), b"+OK\r\n");
    wait_synced(ours.addr(), real.addr(), &[&real]).await;
    same_data(ours.addr(), real.addr()).await;
    let log = real.log();
    assert!(!log.contains("Protocol error"), "{log}");
    // As in Redis 7.0, what a connected replica has yet to read is kept for it beyond the
    // backlog's size: no resync was needed.
    assert_eq!(info(ours.addr(), "sync_full").await, "1");
    assert_eq!(info(ours.addr(), "sync_partial_ok").await, "0");
}

// ---- streams ----

/// Writes to `master` through every stream command a master rewrites: XADD with `*`, `ms-*`
/// and approximate trims, XREADGROUP (served at once and after blocking), NOACK, XCLAIM,
/// XAUTOCLAIM over a deleted entry, XTRIM `~`, XSETID and the XGROUP subcommands.
async fn write_streams(master: SocketAddr) {
    let mut m = RawConn::connect(master).await;
    m.call(&["XADD", "rs", "*", "a", "1"]).await;
    m.call(&["XADD", "rs", "99999999999999-*", "b", "2"]).await;
    m.call(&["XADD", "rs", "99999999999999-*", "c", "3"]).await;
    for i in 0..120 {
        let v = i.to_string();
        m.call(&["XADD", "rs", "MAXLEN", "~", "50", "*", "i", &v])
            .await;
    }
    m.call(&["XGROUP", "CREATE", "rs", "g", "0"]).await;
    m.call(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "c1",
        "COUNT",
        "4",
        "STREAMS",
        "rs",
        ">",
    ])
    .await;
    m.call(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "c2",
        "NOACK",
        "COUNT",
        "2",
        "STREAMS",
        "rs",
        ">",
    ])
    .await;
    let pending = m.call(&["XPENDING", "rs", "g", "-", "+", "1"]).await;
    let text = String::from_utf8_lossy(&pending).into_owned();
    let first = text.split("\r\n").nth(3).unwrap_or("0-1").to_string();
    m.call(&["XCLAIM", "rs", "g", "c3", "0", &first, "RETRYCOUNT", "7"])
        .await;
    m.call(&["XDEL", "rs", &first]).await;
    m.call(&["XAUTOCLAIM", "rs", "g", "c4", "0", "0", "COUNT", "2"])
        .await;
    m.call(&["XTRIM", "rs", "MAXLEN", "~", "20"]).await;
    m.call(&["XGROUP", "CREATE", "rs", "h", "$"]).await;
    m.call(&["XGROUP", "CREATECONSUMER", "rs", "h", "idle"])
        .await;
    m.call(&["XGROUP", "DELCONSUMER", "rs", "g", "c2"]).await;
    // A reader blocked on the group is served by the next XADD.
    let mut r = RawConn::connect(master).await;
    r.send(&[
        "XREADGROUP",
        "GROUP",
        "h",
        "blocked",
        "BLOCK",
        "0",
        "STREAMS",
        "rs",
        ">",
    ])
    .await;
    let deadline = Instant::now() + DEADLINE;
    while info(master, "blocked_clients").await != "1" {
        assert!(Instant::now() < deadline, "the reader never blocked");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    m.call(&["XADD", "rs", "*", "wake", "up"]).await;
    let served = r.read_raw().await;
    assert!(
        served.starts_with(b"*1\r\n"),
        "{}",
        String::from_utf8_lossy(&served)
    );
    m.call(&["XADD", "other", "1-1", "x", "y"]).await;
    m.call(&[
        "XSETID",
        "other",
        "5-5",
        "ENTRIESADDED",
        "9",
        "MAXDELETEDID",
        "2-2",
    ])
    .await;
}

#[tokio::test]
async fn streams_real_replica_of_our_master() {
    let Some(binary) = real_redis() else { return };
    let ours = TestServer::start().await.unwrap();
    let mut m = RawConn::connect(ours.addr()).await;
    common::dataset::populate_streams(&mut m).await;
    let real = RealRedis::start(&binary, &[]).await;
    replicaof(real.addr(), ours.addr()).await;
    wait_synced(ours.addr(), real.addr(), &[&real]).await;
    same_data(ours.addr(), real.addr()).await;
    write_streams(ours.addr()).await;
    wait_synced(ours.addr(), real.addr(), &[&real]).await;
    same_data(ours.addr(), real.addr()).await;
    assert!(!real.log().contains("CRITICAL"), "{}", real.log());
}

#[tokio::test]
async fn streams_our_replica_of_a_real_master() {
    let Some(binary) = real_redis() else { return };
    let real = RealRedis::start(&binary, &[]).await;
    let mut m = RawConn::connect(real.addr()).await;
    common::dataset::populate_streams(&mut m).await;
    let ours = TestServer::start().await.unwrap();
    replicaof(ours.addr(), real.addr()).await;
    wait_synced(real.addr(), ours.addr(), &[&real]).await;
    same_data(real.addr(), ours.addr()).await;
    write_streams(real.addr()).await;
    wait_synced(real.addr(), ours.addr(), &[&real]).await;
    same_data(real.addr(), ours.addr()).await;
    // Our replica fed them on to a real replica of it, too.
    let chained = RealRedis::start(&binary, &[]).await;
    replicaof(chained.addr(), ours.addr()).await;
    wait_synced(ours.addr(), chained.addr(), &[&real, &chained]).await;
    same_data(real.addr(), chained.addr()).await;
}

// ---- HyperLogLog bytes on a real replica ----

/// A real replica of our master ends up with the very bytes our master holds for HLLs: the
/// sparse and dense encodings, PFCOUNT's cached count (PFCOUNT is replicated when it writes
/// the cache), PFMERGE and PFDEBUG TODENSE.
#[tokio::test]
async fn hlls_on_our_master_are_the_same_bytes_on_a_real_replica() {
    let Some(binary) = real_redis() else { return };
    let (ours, real) = ours_with_a_real_replica(&binary).await;
    let mut m = RawConn::connect(ours.addr()).await;
    let add = |key: &'static str, from: usize, to: usize| {
        let mut argv: Vec<Vec<u8>> = vec![b"PFADD".to_vec(), key.as_bytes().to_vec()];
        argv.extend((from..to).map(|i| format!("e{i}").into_bytes()));
        argv
    };
    for argv in [add("small", 0, 20), add("mid", 0, 900), add("big", 0, 5000)] {
        let refs: Vec<&[u8]> = argv.iter().map(|a| &a[..]).collect();
        assert_eq!(call(&mut m, &refs).await, Frame::Integer(1));
    }
    for argv in [
        &[&b"PFCOUNT"[..], b"small"][..],
        &[b"PFCOUNT", b"big"],
        &[b"PFCOUNT", b"small", b"mid"],
        &[b"PFMERGE", b"merged", b"small", b"mid"],
        &[b"PFMERGE", b"dense", b"small", b"big"],
        &[b"PFDEBUG", b"TODENSE", b"mid"],
    ] {
        call(&mut m, argv).await;
    }
    wait_synced(ours.addr(), real.addr(), &[&real]).await;
    let mut r = RawConn::connect(real.addr()).await;
    for key in ["small", "mid", "big", "merged", "dense"] {
        let want = m.call(&["GET", key]).await;
        assert_eq!(r.call(&["GET", key]).await, want, "{key}");
        assert_eq!(
            r.call(&["PFCOUNT", key]).await,
            m.call(&["PFCOUNT", key]).await,
            "{key}"
        );
    }
    // The cached count reached the replica with PFCOUNT: its header's top bit is clear.
    let small = r.call(&["GET", "small"]).await;
    let body = &small[small.iter().position(|&b| b == b'\n').unwrap() + 1..];
    assert_eq!(body[15], 0);
}

/// GEOADD reaches a real replica as the ZADD Redis rewrites it to, GEORADIUS ... STORE as
/// itself: the replica holds the same scores and answers the same searches.
#[tokio::test]
async fn geo_writes_on_our_master_reach_a_real_replica() {
    let Some(binary) = real_redis() else { return };
    let (ours, real) = ours_with_a_real_replica(&binary).await;
    let mut m = RawConn::connect(ours.addr()).await;
    for argv in [
        &["GEOADD", "g", "13.361389", "38.115556", "Palermo"][..],
        &[
            "GEOADD",
            "g",
            "CH",
            "15.087269",
            "37.502669",
            "Catania",
            "13.5",
            "37.3",
            "Agrigento",
        ],
        &["GEORADIUS", "g", "15", "37", "200", "km", "STORE", "st"],
        &[
            "GEOSEARCHSTORE",
            "sd",
            "g",
            "FROMMEMBER",
            "Palermo",
            "BYRADIUS",
            "300",
            "km",
            "STOREDIST",
        ],
    ] {
        m.call(argv).await;
    }
    wait_synced(ours.addr(), real.addr(), &[&real]).await;
    let mut r = RawConn::connect(real.addr()).await;
    for key in ["g", "st", "sd"] {
        let want = m.call(&["ZRANGE", key, "0", "-1", "WITHSCORES"]).await;
        assert_eq!(
            r.call(&["ZRANGE", key, "0", "-1", "WITHSCORES"]).await,
            want,
            "{key}"
        );
    }
    let search = [
        "GEOSEARCH",
        "g",
        "FROMLONLAT",
        "15",
        "37",
        "BYRADIUS",
        "300",
        "km",
        "WITHDIST",
    ];
    assert_eq!(r.call(&search).await, m.call(&search).await);
    assert!(!real.log().contains("Protocol error"), "{}", real.log());
}
