//! Child processes: the rediscover-server binary loading its RDB at startup, and (when
//! REDISCOVER_REAL_REDIS_SERVER names a redis-server binary) interop with a real Redis.

use std::process::{Child, Command, Stdio};

use super::*;

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
struct RealRedis(common::RealRedisProc);

impl RealRedis {
    async fn start(binary: &str, dir: &TempDir, file: &str) -> RealRedis {
        let args = ["--dir", dir.str(), "--dbfilename", file];
        RealRedis(common::RealRedisProc::spawn(binary, &args).await)
    }

    fn addr(&self) -> std::net::SocketAddr {
        self.0.addr()
    }
}

fn real_redis() -> Option<String> {
    common::real_redis_binary()
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

    let real = RealRedis::start(&binary, &dir, "x.rdb").await;
    let mut r = RawConn::connect(real.addr()).await;
    assert_eq!(dump(&mut r).await, ours);
}

#[tokio::test]
async fn real_redis_and_we_read_its_rdb_alike() {
    let Some(binary) = real_redis() else { return };
    let dir = TempDir::new("interop-theirs");
    copy_fixture("types.rdb", &dir);
    let real = RealRedis::start(&binary, &dir, "dump.rdb").await;
    let mut r = RawConn::connect(real.addr()).await;
    let theirs = dump(&mut r).await;
    drop(real);

    let srv = server(&dir).await;
    let mut c = RawConn::connect(srv.addr()).await;
    assert_reply!(c, ["DEBUG", "RELOAD", "NOSAVE"], b"+OK\r\n");
    assert_eq!(dump(&mut c).await, theirs);
    srv.shutdown().await;
}
