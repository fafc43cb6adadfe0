//! The drop-in binaries: `rediscover-server` (a `redis-server` look-alike) and
//! `rediscover-topology`, run as real child processes.

mod common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{RawConn, TestServer};

const SERVER: &str = env!("CARGO_BIN_EXE_rediscover-server");
const TOPOLOGY: &str = env!("CARGO_BIN_EXE_rediscover-topology");

/// A child process whose stdout lines are collected by a reader thread.
struct Proc {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Proc {
    fn spawn(program: &str, args: &[&str]) -> Proc {
        let mut child = Command::new(program)
            .args(args)
            // The binaries' own thread settings (io-threads) are what these tests check.
            .env_remove("TOKIO_WORKER_THREADS")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Proc {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits (up to 10 s) for a stdout line containing `needle` and returns it.
    fn wait_line(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "no line containing {needle:?}; output so far: {:#?}",
                    self.seen
                ),
            }
        }
    }

    fn signal(&self, sig: &str) {
        let status = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill");
        assert!(status.success());
    }

    /// Waits (up to 10 s) for the process to exit.
    fn wait_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(Instant::now() < deadline, "process did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `rediscover-server` with `args` and returns it with the port it logged.
fn start_server(args: &[&str]) -> (Proc, u16) {
    let mut p = Proc::spawn(SERVER, args);
    let line = p.wait_line("Running mode=standalone, port=");
    let port = line
        .rsplit("port=")
        .next()
        .and_then(|s| s.trim_end_matches('.').parse().ok())
        .expect("port in the startup line");
    p.wait_line("Ready to accept connections");
    (p, port)
}

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// `<pid>:M 22 Nov 2026 01:23:45.678 * Ready to accept connections`
fn assert_redis_log_line(line: &str) {
    let (pid, rest) = line.split_once(':').expect("pid:");
    assert!(pid.parse::<u32>().is_ok(), "{line}");
    let parts: Vec<&str> = rest.splitn(7, ' ').collect();
    assert!(matches!(parts[0], "M" | "S" | "C"), "{line}");
    assert_eq!(parts[1].len(), 2, "{line}");
    assert_eq!(parts[2].len(), 3, "{line}");
    assert_eq!(parts[3].len(), 4, "{line}");
    assert_eq!(parts[4].len(), 12, "{line}");
    assert!(matches!(parts[5], "*" | "#" | "-" | "."), "{line}");
}

#[test]
fn version_and_help() {
    let out = Command::new(SERVER).arg("--version").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with(
            "Redis server v=7.0.15 sha=00000000:0 malloc=libc bits=64 build=rediscover-"
        ),
        "{text}"
    );
    let out = Command::new(SERVER).arg("-h").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Usage: rediscover-server"));
}

#[tokio::test]
async fn serves_and_stops_on_sigterm() {
    let (mut p, port) = start_server(&["--port", "0", "--save", ""]);
    assert!(p.seen.iter().all(|l| l.is_empty() || l.contains(':')));
    let ready = p.seen.last().unwrap().clone();
    assert_redis_log_line(&ready);
    let mut c = RawConn::connect(addr(port)).await;
    assert_reply!(c, ["PING"], b"+PONG\r\n");
    assert_reply!(c, ["ECHO", "drop-in"], b"$7\r\ndrop-in\r\n");
    // The binary is the library's server: same answers as an in-process one.
    let inproc = TestServer::start().await.unwrap();
    let mut d = RawConn::connect(inproc.addr()).await;
    for cmd in [
        &["NOSUCH", "x"][..],
        &["SELECT", "99"],
        &["PUBSUB", "NUMPAT"],
    ] {
        assert_eq!(c.call(cmd).await, d.call(cmd).await, "{cmd:?}");
    }
    p.signal("TERM");
    p.wait_line("Received SIGTERM scheduling shutdown...");
    p.wait_line("Redis is now ready to exit, bye bye...");
    assert!(p.wait_exit().success());
    assert!(c.is_closed().await);
}

/// One worker thread by default, as Redis runs its commands on one thread; `io-threads N`
/// gives N. With its one worker busy in a script, the server still answers: -BUSY, then
/// SCRIPT KILL.
#[tokio::test]
async fn io_threads_sets_the_worker_threads() {
    // The count the runtime reports (its threads cannot be told from its blocking threads by
    // name: both are `tokio-rt-worker`).
    let assert_workers = |p: &Proc, n: usize| {
        let line = format!("run on {n} worker thread(s) (io-threads).");
        assert!(p.seen.iter().any(|l| l.ends_with(&line)), "{:?}", p.seen);
    };
    let (p3, _) = start_server(&["--port", "0", "--save", "", "--io-threads", "3"]);
    assert_workers(&p3, 3);
    drop(p3);

    let (p, port) = start_server(&["--port", "0", "--save", ""]);
    assert_workers(&p, 1);
    let mut a = RawConn::connect(addr(port)).await;
    let mut b = RawConn::connect(addr(port)).await;
    assert_reply!(
        b,
        ["CONFIG", "GET", "io-threads"],
        b"*2\r\n$10\r\nio-threads\r\n$1\r\n1\r\n"
    );
    assert_reply!(
        b,
        ["CONFIG", "SET", "busy-reply-threshold", "20"],
        b"+OK\r\n"
    );
    a.send(&["EVAL", "while true do end", "0"]).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while !b.call(&["PING"]).await.starts_with(b"-BUSY") {
        assert!(
            Instant::now() < deadline,
            "another client gets -BUSY while the script runs"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_reply!(b, ["SCRIPT", "KILL"], b"+OK\r\n");
    let killed = a.read_raw().await;
    assert!(
        killed.starts_with(b"-ERR Script killed by user with SCRIPT KILL..."),
        "{}",
        String::from_utf8_lossy(&killed)
    );
    assert_reply!(b, ["PING"], b"+PONG\r\n");
}

#[tokio::test]
async fn stops_on_sigint() {
    let (mut p, _port) = start_server(&["--port", "0", "--save", ""]);
    p.signal("INT");
    p.wait_line("Received SIGINT scheduling shutdown...");
    assert!(p.wait_exit().success());
}

#[tokio::test]
async fn shutdown_command_stops_the_process() {
    let (mut p, port) = start_server(&["--port", "0"]);
    let mut c = RawConn::connect(addr(port)).await;
    c.send(&["SHUTDOWN", "NOSAVE"]).await;
    assert!(c.is_closed().await);
    p.wait_line("User requested shutdown...");
    p.wait_line("Redis is now ready to exit, bye bye...");
    assert!(p.wait_exit().success());
}

#[tokio::test]
async fn config_file_and_options() {
    let path = std::env::temp_dir().join(format!("rediscover-bin-{}.conf", std::process::id()));
    std::fs::write(&path, "# a comment\n\nport 6379\nrequirepass \"s3cret\"\n").unwrap();
    // The option after the file wins, as with redis-server.
    let (mut p, port) = start_server(&[path.to_str().unwrap(), "--port", "0", "--save", ""]);
    assert!(p.seen.iter().any(|l| l.ends_with("# Configuration loaded")));
    let mut c = RawConn::connect(addr(port)).await;
    assert_reply!(c, ["PING"], b"-NOAUTH Authentication required.\r\n");
    assert_reply!(c, ["AUTH", "s3cret"], b"+OK\r\n");
    assert_reply!(c, ["PING"], b"+PONG\r\n");
    p.signal("TERM");
    assert!(p.wait_exit().success());
    let _ = std::fs::remove_file(&path);
}

#[test]
fn bad_directive_is_fatal() {
    let out = Command::new(SERVER)
        .args(["--port", "0", "--no-such-directive", "x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\nReading the configuration file, at line 3\n>>> 'no-such-directive \"x\"'\n"),
        "{err}"
    );

    let path = std::env::temp_dir().join(format!("rediscover-bad-{}.conf", std::process::id()));
    std::fs::write(&path, "port 0\nbogus 1\n").unwrap();
    let out = Command::new(SERVER).arg(&path).output().unwrap();
    let _ = std::fs::remove_file(&path);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("at line 2\n>>> 'bogus 1'\n"), "{err}");

    let out = Command::new(SERVER)
        .arg("/nonexistent/redis.conf")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}

#[tokio::test]
async fn port_in_use_is_fatal() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let out = Command::new(SERVER)
        .args(["--port", &port])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let log = String::from_utf8_lossy(&out.stdout);
    assert!(log.contains("Address already in use"), "{log}");
    assert!(log.contains(&format!("Failed listening on port {port} (TCP), aborting.")));
}

#[tokio::test]
async fn topology_standalone() {
    let mut p = Proc::spawn(TOPOLOGY, &["standalone", "--port", "0"]);
    let json = p.wait_line("\"role\"");
    p.wait_line("READY");
    assert!(
        json.starts_with("{\"role\":\"master\",\"addr\":\"127.0.0.1:"),
        "{json}"
    );
    let addr_text = json
        .split("\"addr\":\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap();
    let id = json
        .split("\"id\":\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap();
    assert_eq!(id.len(), 40);
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
    let mut c = RawConn::connect(addr_text.parse().unwrap()).await;
    assert_reply!(c, ["PING"], b"+PONG\r\n");
    p.signal("TERM");
    assert!(p.wait_exit().success());
}

#[tokio::test]
async fn topology_replication() {
    let mut p = Proc::spawn(TOPOLOGY, &["replication", "--replicas", "2", "--port", "0"]);
    let master = p.wait_line("\"role\":\"master\"");
    let field = |json: &str, name: &str| {
        json.split(&format!("\"{name}\":\""))
            .nth(1)
            .and_then(|s| s.split('"').next())
            .unwrap()
            .to_string()
    };
    let master_addr = field(&master, "addr");
    let mut replicas = Vec::new();
    for _ in 0..2 {
        let line = p.wait_line("\"role\":\"replica\"");
        assert_eq!(field(&line, "master"), master_addr, "{line}");
        replicas.push(field(&line, "addr"));
    }
    p.wait_line("READY");
    let mut m = RawConn::connect(master_addr.parse().unwrap()).await;
    assert_reply!(m, ["SET", "k", "v"], b"+OK\r\n");
    assert_reply!(m, ["WAIT", "2", "5000"], b":2\r\n");
    for addr in replicas {
        let mut r = RawConn::connect(addr.parse().unwrap()).await;
        assert_reply!(r, ["GET", "k"], b"$1\r\nv\r\n");
    }
    p.signal("TERM");
    assert!(p.wait_exit().success());
}

// Multi-threaded: the test blocks on the child's output while the in-process master serves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replica_restarted_from_its_rdb_continues_with_a_partial_resync() {
    let master = TestServer::start().await.unwrap();
    let mut m = RawConn::connect(master.addr()).await;
    assert_reply!(m, ["SET", "k1", "v1"], b"+OK\r\n");
    let dir = common::dataset::TempDir::new("replica-restart");
    let mport = master.addr().port().to_string();
    let args = [
        "--port",
        "0",
        "--save",
        "",
        "--dir",
        dir.str(),
        "--replicaof",
        "127.0.0.1",
        &mport,
    ];
    let (mut p, port) = start_server(&args);
    p.wait_line("MASTER <-> REPLICA sync: Finished with success");
    assert_reply!(m, ["SET", "k2", "v2"], b"+OK\r\n");
    assert_reply!(m, ["WAIT", "1", "5000"], b":1\r\n");
    let mut r = RawConn::connect(addr(port)).await;
    assert_reply!(r, ["SAVE"], b"+OK\r\n");
    drop(r);
    drop(p);
    // Written while the replica is down: it must come from the backlog.
    assert_reply!(m, ["SET", "k3", "v3"], b"+OK\r\n");

    let (mut p, port) = start_server(&args);
    p.wait_line("Successful partial resynchronization with master.");
    let mut r = RawConn::connect(addr(port)).await;
    let synced = common::wait_until(Duration::from_secs(10), || {
        let target = master.repl_offset();
        async move {
            let mut c = RawConn::connect(addr(port)).await;
            let info = String::from_utf8(c.call(&["INFO", "replication"]).await).unwrap();
            info.contains(&format!("slave_repl_offset:{target}\r\n"))
        }
    })
    .await;
    assert!(synced);
    assert_reply!(
        r,
        ["MGET", "k1", "k2", "k3"],
        b"*3\r\n$2\r\nv1\r\n$2\r\nv2\r\n$2\r\nv3\r\n"
    );
    let stats = String::from_utf8(m.call(&["INFO", "stats"]).await).unwrap();
    assert!(stats.contains("sync_full:1\r\n"), "{stats}");
    assert!(stats.contains("sync_partial_ok:1\r\n"), "{stats}");
}

#[test]
fn topology_usage_errors() {
    let out = Command::new(TOPOLOGY).arg("mesh").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown topology 'mesh'"), "{err}");
    assert!(err.contains("Usage: rediscover-topology"));
    let out = Command::new(TOPOLOGY).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[tokio::test]
async fn topology_cluster() {
    let mut p = Proc::spawn(
        TOPOLOGY,
        &[
            "cluster",
            "--masters",
            "3",
            "--replicas",
            "1",
            "--port",
            "0",
        ],
    );
    let mut masters = Vec::new();
    let mut replicas = Vec::new();
    for _ in 0..6 {
        let line = p.wait_line("\"role\":");
        let field = |name: &str| {
            line.split(&format!("\"{name}\":\""))
                .nth(1)
                .and_then(|s| s.split('"').next())
                .map(str::to_string)
        };
        assert_eq!(field("id").map(|i| i.len()), Some(40), "{line}");
        if line.contains("\"role\":\"master\"") {
            masters.push(field("addr").unwrap());
        } else {
            assert!(masters.contains(&field("master").unwrap()), "{line}");
            replicas.push(field("addr").unwrap());
        }
    }
    p.wait_line("READY");
    assert_eq!((masters.len(), replicas.len()), (3, 3));
    let mut m = RawConn::connect(masters[0].parse().unwrap()).await;
    let info = m.call(&["CLUSTER", "INFO"]).await;
    let info = String::from_utf8_lossy(&info);
    assert!(info.contains("cluster_state:ok"), "{info}");
    assert!(info.contains("cluster_known_nodes:6"), "{info}");
    p.signal("TERM");
    assert!(p.wait_exit().success());
}

#[test]
fn a_corrupt_or_shared_nodes_conf_is_refused() {
    let dir = common::dataset::TempDir::new("nodes-conf");
    std::fs::write(dir.file("nodes.conf"), "garbage line\n").unwrap();
    let out = Command::new(SERVER)
        .args([
            "--port",
            "0",
            "--cluster-enabled",
            "yes",
            "--dir",
            dir.str(),
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("Unrecoverable error: corrupted cluster config file"),
        "{stdout}"
    );
    // A second node on the same file is refused while the first holds it.
    std::fs::remove_file(dir.file("nodes.conf")).unwrap();
    // A port whose bus port (+10000) exists and is free.
    let port = loop {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let p = l.local_addr().unwrap().port();
        if p <= 55535 && std::net::TcpListener::bind(("127.0.0.1", p + 10000)).is_ok() {
            break p.to_string();
        }
    };
    let mut first = Proc::spawn(
        SERVER,
        &[
            "--port",
            &port,
            "--cluster-enabled",
            "yes",
            "--dir",
            dir.str(),
        ],
    );
    first.wait_line("Ready to accept connections");
    let out = Command::new(SERVER)
        .args([
            "--port",
            "0",
            "--cluster-enabled",
            "yes",
            "--dir",
            dir.str(),
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("is already used by a different Redis Cluster node"),
        "{stdout}"
    );
    // The first one wrote itself into it.
    let conf = std::fs::read_to_string(dir.file("nodes.conf")).unwrap();
    assert!(conf.contains("myself,master"), "{conf}");
    assert!(
        conf.ends_with("vars currentEpoch 0 lastVoteEpoch 0\n"),
        "{conf}"
    );
}
