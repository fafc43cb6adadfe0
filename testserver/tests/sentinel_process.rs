//! Sentinels as processes: `rediscover-server --sentinel` (and under the name
//! `rediscover-sentinel`), with Redis's startup lines, refusals and exit codes, and the
//! `rediscover-topology sentinel` deployment for tests in other languages.

mod common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::dataset::TempDir;
use common::sentinel::{call, field};
use common::{RawConn, TestServer};
use rediscover_testserver::topology::ReplicationSet;

const SERVER: &str = env!("CARGO_BIN_EXE_rediscover-server");
const TOPOLOGY: &str = env!("CARGO_BIN_EXE_rediscover-topology");
const WAIT: Duration = Duration::from_secs(15);

/// A child process, killed on drop.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Proc {
    /// Waits for the process to exit; its exit code. (Polls without blocking the runtime,
    /// which serves in-process nodes the process talks to.)
    async fn exit_code(&mut self) -> Option<i32> {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.0.try_wait().expect("try_wait") {
                return status.code();
            }
            assert!(Instant::now() < deadline, "the process did not exit");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// Waits until the log file holds a line containing `needle`; returns the whole log.
async fn wait_log(log: &Path, needle: &str) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if text.contains(needle) {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "no {needle:?} in the log:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The port a process logged (`Running mode=sentinel, port=N.`).
async fn logged_port(log: &Path) -> u16 {
    let text = wait_log(log, "Running mode=").await;
    let at = text.find("port=").unwrap() + 5;
    text[at..].split('.').next().unwrap().parse().unwrap()
}

fn sentinel_conf(dir: &TempDir, master: SocketAddr, extra: &str) -> std::path::PathBuf {
    let path = dir.file("sentinel.conf");
    std::fs::write(
        &path,
        format!(
            "port 0\nsentinel monitor mymaster {} {} 1\n\
             sentinel down-after-milliseconds mymaster 1000\n{extra}",
            master.ip(),
            master.port()
        ),
    )
    .unwrap();
    path
}

fn spawn(program: &str, args: &[&str]) -> Proc {
    Proc(
        Command::new(program)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn"),
    )
}

#[tokio::test]
async fn sentinel_process_starts_saves_its_id_and_stops_as_redis_does() {
    let set = ReplicationSet::start(1).await.unwrap();
    let dir = TempDir::new("sentinel-proc");
    let conf = sentinel_conf(&dir, set.master.addr(), "");
    let log = dir.file("s.log");
    let mut p = spawn(
        SERVER,
        &[
            conf.to_str().unwrap(),
            "--sentinel",
            "--logfile",
            log.to_str().unwrap(),
        ],
    );
    let port = logged_port(&log).await;
    let text = wait_log(&log, "# +monitor master mymaster").await;
    let lines: Vec<&str> = text.lines().collect();
    for (i, want) in [
        "# oO0OoO0OoO0Oo Redis is starting oO0OoO0OoO0Oo",
        "# Redis version=7.0.15",
        "# This is rediscover-server",
        "# Configuration loaded",
        &format!("* Running mode=sentinel, port={port}."),
        "* Sentinel new configuration saved on disk",
        "# Sentinel ID is ",
        &format!(
            "# +monitor master mymaster 127.0.0.1 {} quorum 1",
            set.master.addr().port()
        ),
    ]
    .iter()
    .enumerate()
    {
        assert!(lines[i].contains(":X "), "{}", lines[i]);
        assert!(
            lines[i].contains(want),
            "line {i}: {} (want {want})",
            lines[i]
        );
    }
    let mut c = RawConn::connect(SocketAddr::from(([127, 0, 0, 1], port))).await;
    let id = c.call(&["SENTINEL", "MYID"]).await;
    let id = String::from_utf8(id[5..45].to_vec()).unwrap();
    assert!(std::fs::read_to_string(&conf)
        .unwrap()
        .contains(&format!("sentinel myid {id}\n")));
    wait_log(&log, "+slave slave").await;
    // SIGTERM: Redis's goodbye.
    assert!(Command::new("kill")
        .arg(p.0.id().to_string())
        .status()
        .unwrap()
        .success());
    assert_eq!(p.exit_code().await, Some(0));
    let text = wait_log(&log, "Sentinel is now ready to exit, bye bye...").await;
    assert!(text.contains("# User requested shutdown..."));
    // It comes back with the same id, its file naming the replica it found.
    let conf_text = std::fs::read_to_string(&conf).unwrap();
    assert!(
        conf_text.contains(&format!(
            "sentinel known-replica mymaster 127.0.0.1 {}",
            set.replicas[0].addr().port()
        )),
        "{conf_text}"
    );
}

#[tokio::test]
async fn started_as_rediscover_sentinel_it_is_a_sentinel() {
    let master = TestServer::start().await.unwrap();
    let dir = TempDir::new("sentinel-name");
    let conf = sentinel_conf(&dir, master.addr(), "");
    let link = dir.file("rediscover-sentinel");
    std::os::unix::fs::symlink(SERVER, &link).unwrap();
    let log = dir.file("s.log");
    let _p = spawn(
        link.to_str().unwrap(),
        &[conf.to_str().unwrap(), "--logfile", log.to_str().unwrap()],
    );
    let port = logged_port(&log).await;
    let mut c = RawConn::connect(SocketAddr::from(([127, 0, 0, 1], port))).await;
    assert_eq!(
        c.call(&["ROLE"]).await,
        b"*2\r\n$8\r\nsentinel\r\n*1\r\n$8\r\nmymaster\r\n"
    );
}

#[tokio::test]
async fn refusals_at_startup() {
    let dir = TempDir::new("sentinel-refuse");
    // No config file.
    let log = dir.file("none.log");
    let mut p = spawn(
        SERVER,
        &[
            "--sentinel",
            "--port",
            "0",
            "--logfile",
            log.to_str().unwrap(),
        ],
    );
    assert_eq!(p.exit_code().await, Some(1));
    let text = wait_log(&log, "Exiting...").await;
    assert!(text.contains(":X "), "{text}");
    assert!(text.contains("# Sentinel needs config file on disk to save state. Exiting..."));

    // A directive Redis does not know: its block on stderr.
    let conf = dir.file("bad.conf");
    std::fs::write(
        &conf,
        "port 0\nsentinel monitor m 127.0.0.1 6379 1\nsentinel bogus\n",
    )
    .unwrap();
    let out = Command::new(SERVER)
        .args([conf.to_str().unwrap(), "--sentinel"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "\n*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\nReading the configuration file, at line 3\n>>> 'sentinel bogus'\nUnrecognized sentinel configuration statement.\n"
    );
    // Sentinel directives in a plain server.
    let out = Command::new(SERVER)
        .arg(conf.to_str().unwrap())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr)
        .ends_with(">>> 'sentinel monitor m 127.0.0.1 6379 1'\nsentinel directive while not in sentinel mode\n"));
}

/// A config file it could not rewrite. Root writes any file of a writable mount, so as root
/// the sentinel runs as `nobody` (through `setpriv`), as one would test Redis itself.
#[tokio::test]
async fn refuses_a_config_file_it_cannot_rewrite() {
    let dir = TempDir::new("sentinel-ro");
    let conf = dir.file("ro.conf");
    std::fs::write(&conf, "port 0\nsentinel monitor m 127.0.0.1 6379 1\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&conf, std::fs::Permissions::from_mode(0o444)).unwrap();
    std::fs::set_permissions(&dir.0, std::fs::Permissions::from_mode(0o777)).unwrap();
    let log = dir.file("ro.log");
    let root = std::fs::OpenOptions::new().append(true).open(&conf).is_ok();
    if root && Command::new("setpriv").arg("--version").output().is_err() {
        eprintln!("skipped: running as root without setpriv to drop privileges");
        return;
    }
    let mut cmd = if root {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", SERVER]);
        c
    } else {
        Command::new(SERVER)
    };
    let status = cmd
        .args([
            conf.to_str().unwrap(),
            "--sentinel",
            "--logfile",
            log.to_str().unwrap(),
        ])
        .stderr(Stdio::null())
        .status()
        .expect("run");
    assert_eq!(status.code(), Some(1));
    let text = wait_log(&log, "Exiting...").await;
    assert!(
        text.contains(&format!(
            "# Sentinel config file {} is not writable: Permission denied. Exiting...",
            conf.display()
        )),
        "{text}"
    );
}

#[tokio::test]
async fn simulated_crash_exits_with_99() {
    let set = ReplicationSet::start(1).await.unwrap();
    let dir = TempDir::new("sentinel-crash");
    let conf = sentinel_conf(&dir, set.master.addr(), "rediscover-timers-factor 10\n");
    let log = dir.file("s.log");
    let mut p = spawn(
        SERVER,
        &[
            conf.to_str().unwrap(),
            "--sentinel",
            "--logfile",
            log.to_str().unwrap(),
        ],
    );
    let port = logged_port(&log).await;
    wait_log(&log, "+slave slave").await;
    let mut c = RawConn::connect(SocketAddr::from(([127, 0, 0, 1], port))).await;
    // The timers directive is a rediscover extension: every period ten times shorter.
    assert_eq!(
        field(&call(&mut c, &["SENTINEL", "DEBUG"]).await, "PING-PERIOD"),
        "100"
    );
    // Its replica must have answered INFO lately for a manual failover to choose it.
    let deadline = Instant::now() + WAIT;
    loop {
        c.call(&["SENTINEL", "SIMULATE-FAILURE", "crash-after-election"])
            .await;
        match c
            .call(&["SENTINEL", "FAILOVER", "mymaster"])
            .await
            .as_slice()
        {
            b"+OK\r\n" => break,
            other => assert!(
                Instant::now() < deadline,
                "{}",
                String::from_utf8_lossy(other)
            ),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(p.exit_code().await, Some(99));
    let text = wait_log(&log, "Sentinel CRASH because of SENTINEL simulate-failure").await;
    assert!(text.contains("# +elected-leader master mymaster"), "{text}");
}

#[tokio::test]
async fn topology_sentinel_starts_everything_and_fails_over() {
    let mut child = Command::new(TOPOLOGY)
        .args([
            "sentinel",
            "--master-name",
            "cache",
            "--replicas",
            "2",
            "--sentinels",
            "3",
            "--port",
            "0",
            "--sentinel-port",
            "0",
            "--down-after-ms",
            "400",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let _guard = Proc(child);
    let mut lines = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if line == "READY" {
            break;
        }
        lines.push(line);
    }
    assert_eq!(lines.len(), 6, "{lines:#?}");
    let addr = |l: &str| -> SocketAddr {
        let at = l.find("\"addr\":\"").unwrap() + 8;
        l[at..at + l[at..].find('"').unwrap()].parse().unwrap()
    };
    assert!(lines[0].starts_with("{\"role\":\"master\""));
    assert!(lines[1..3]
        .iter()
        .all(|l| l.starts_with("{\"role\":\"replica\"")));
    assert!(lines[3..].iter().all(
        |l| l.starts_with("{\"role\":\"sentinel\"") && l.contains("\"master_name\":\"cache\"")
    ));
    let master = addr(&lines[0]);
    let sentinel = addr(&lines[3]);
    // Every sentinel knows both replicas and the two others already.
    let mut s = RawConn::connect(sentinel).await;
    let m = call(&mut s, &["SENTINEL", "MASTER", "cache"]).await;
    assert_eq!(
        (
            field(&m, "num-slaves").as_str(),
            field(&m, "num-other-sentinels").as_str()
        ),
        ("2", "2")
    );
    // Stop the master: the sentinels promote a replica.
    let mut c = RawConn::connect(master).await;
    c.send(&["SHUTDOWN", "NOSAVE"]).await;
    let deadline = Instant::now() + WAIT;
    let want_other =
        |reply: &[u8]| !String::from_utf8_lossy(reply).contains(&master.port().to_string());
    loop {
        let reply = s
            .call(&["SENTINEL", "GET-MASTER-ADDR-BY-NAME", "cache"])
            .await;
        if want_other(&reply) {
            break;
        }
        assert!(Instant::now() < deadline, "no failover");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
