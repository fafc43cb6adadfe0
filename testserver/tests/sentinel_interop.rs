//! Sentinel interop with Redis 7.0: Debian's `redis-sentinel` watching our servers fails them
//! over; a group mixing our sentinels and real ones elects one leader per epoch and agrees on
//! the new master; our sentinels fail over real `redis-server`s; `redis-cli` sees the same
//! reply shapes from our sentinel as from a real one.
//!
//! Runs only when the environment names the binaries (skipped otherwise):
//!
//! ```text
//! REDISCOVER_REAL_SENTINEL=/usr/bin/redis-sentinel \
//! REDISCOVER_REAL_REDIS_SERVER=/usr/bin/redis-server \
//! REDISCOVER_REAL_REDIS_CLI=/usr/bin/redis-cli \
//!     cargo test -p rediscover-testserver --test sentinel_interop
//! ```
//!
//! Real sentinels get shorter periods through `SENTINEL DEBUG` (their 1 s INFO period for
//! replicas of a failing master is fixed), so a failover takes them a few seconds.

mod common;

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::dataset::TempDir;
use common::sentinel::{call, field, EventLog};
use common::{RawConn, TestServer};
use rediscover::resp::Frame;
use rediscover_testserver::config::{Config, Timers};

const DEADLINE: Duration = Duration::from_secs(30);

/// The tests kill servers and start them again on the same port. Run side by side, one test's
/// new server could take a port another had just freed, and the real sentinels watching it
/// then met a stranger (seen: a killed master "coming back" mid-failover): one at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn binary(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(path) if !path.is_empty() => Some(path),
        _ => {
            eprintln!("skipped: set {var} to run");
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

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// A real process (redis-sentinel or redis-server) on a free port, in its own directory.
struct Real {
    _proc: Proc,
    port: u16,
    dir: TempDir,
}

impl Real {
    async fn start(binary: &str, conf: &str, extra: &[&str]) -> Real {
        let dir = TempDir::new("sentinel-interop");
        let port = free_port();
        let path = dir.file("node.conf");
        std::fs::write(&path, format!("port {port}\ndir {}\n{conf}", dir.str())).unwrap();
        let log = dir.file("node.log");
        let child = Command::new(binary)
            .arg(&path)
            .args(["--logfile", log.to_str().unwrap(), "--save", ""])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        let real = Real {
            _proc: Proc(child),
            port,
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(s) = tokio::net::TcpStream::connect(real.addr()).await {
                drop(s);
                let mut c = RawConn::connect(real.addr()).await;
                if c.call(&["PING"]).await == b"+PONG\r\n" {
                    break;
                }
            }
            assert!(
                Instant::now() < deadline,
                "{binary} did not start:\n{}",
                real.log()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        real
    }

    /// A real sentinel monitoring `master` as `mymaster`, with periods shortened.
    async fn sentinel(binary: &str, master: SocketAddr, quorum: u32, down_after: u64) -> Real {
        let conf = format!(
            "sentinel monitor mymaster {} {} {quorum}\n\
             sentinel down-after-milliseconds mymaster {down_after}\n\
             sentinel failover-timeout mymaster 3000\n",
            master.ip(),
            master.port()
        );
        let real = Real::start(binary, &conf, &[]).await;
        let mut c = RawConn::connect(real.addr()).await;
        assert_eq!(
            // The ping period stays Redis's: a replica must have answered INFO within five of
            // them to be promoted, and a real sentinel polls replicas of a failing master
            // only every second (a literal in sentinel.c).
            c.call(&[
                "SENTINEL",
                "DEBUG",
                "info-period",
                "500",
                "publish-period",
                "200",
                "ask-period",
                "100"
            ])
            .await,
            b"+OK\r\n"
        );
        real
    }

    fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.file("node.log")).unwrap_or_default()
    }
}

/// Our servers: a master and two replicas, fast replication timers.
async fn our_servers() -> Vec<TestServer> {
    let config = Config {
        timers: Timers::fast(20),
        ..Config::in_process()
    };
    let master = TestServer::builder()
        .config(config.clone())
        .start()
        .await
        .unwrap();
    let mut servers = vec![master];
    for _ in 0..2 {
        let r = TestServer::builder()
            .config(config.clone())
            .replica_of(servers[0].addr())
            .start()
            .await
            .unwrap();
        servers.push(r);
    }
    let replicas: Vec<&rediscover_testserver::node::Node> =
        servers[1..].iter().map(|r| &**r.node()).collect();
    rediscover_testserver::topology::wait_in_sync(servers[0].node(), &replicas, DEADLINE)
        .await
        .unwrap();
    servers
}

/// One of our sentinels monitoring `master` as `mymaster`.
async fn our_sentinel(master: SocketAddr, quorum: u32, down_after: u64) -> TestServer {
    TestServer::builder()
        .timers(Timers::fast(20))
        .sentinel(format!(
            "sentinel monitor mymaster {} {} {quorum}\n\
             sentinel down-after-milliseconds mymaster {down_after}\n\
             sentinel failover-timeout mymaster 3000\n",
            master.ip(),
            master.port()
        ))
        .start()
        .await
        .unwrap()
}

/// `SENTINEL GET-MASTER-ADDR-BY-NAME mymaster` of the sentinel at `addr`.
async fn master_of(addr: SocketAddr) -> Option<SocketAddr> {
    let mut c = RawConn::connect(addr).await;
    let f = call(&mut c, &["SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster"]).await;
    let parts = f.as_slice()?;
    let text = |f: &Frame| String::from_utf8_lossy(f.as_bytes().unwrap()).into_owned();
    format!("{}:{}", text(&parts[0]), text(&parts[1]))
        .parse()
        .ok()
}

/// `ROLE` of the server at `addr` starts with "master".
async fn is_master(addr: SocketAddr) -> bool {
    let Ok(s) = tokio::net::TcpStream::connect(addr).await else {
        return false;
    };
    drop(s);
    let mut c = RawConn::connect(addr).await;
    c.call(&["ROLE"]).await.starts_with(b"*3\r\n$6\r\nmaster")
}

/// Waits until every sentinel at `sentinels` knows `others` other sentinels and `replicas`
/// replicas, and is connected to all of them.
async fn wait_discovered(sentinels: &[SocketAddr], others: usize, replicas: usize, logs: &str) {
    let deadline = Instant::now() + DEADLINE;
    for &s in sentinels {
        loop {
            let mut c = RawConn::connect(s).await;
            let m = call(&mut c, &["SENTINEL", "MASTER", "mymaster"]).await;
            // Known, and connected to.
            let mut connected = true;
            for sub in ["SENTINELS", "REPLICAS"] {
                let list = call(&mut c, &["SENTINEL", sub, "mymaster"]).await;
                connected &= list
                    .as_slice()
                    .unwrap_or_default()
                    .iter()
                    .all(|i| !field(i, "flags").contains("disconnected"));
            }
            if connected
                && field(&m, "num-other-sentinels") == others.to_string()
                && field(&m, "num-slaves") == replicas.to_string()
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{s} does not know everyone: {m:?}\n{logs}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Waits until every sentinel announces the same master other than `old`, and it is one.
async fn wait_failover(
    sentinels: &[SocketAddr],
    old: SocketAddr,
    logs: impl Fn() -> String,
) -> SocketAddr {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let mut seen = BTreeSet::new();
        for &s in sentinels {
            seen.insert(master_of(s).await);
        }
        if seen.len() == 1 {
            if let Some(Some(m)) = seen.iter().next() {
                if *m != old && is_master(*m).await {
                    return *m;
                }
            }
        }
        assert!(
            Instant::now() < deadline,
            "no agreed failover: {seen:?}\n{}",
            logs()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until `replica` replicates `master` with its link up.
async fn wait_replica_of(replica: SocketAddr, master: SocketAddr) {
    let deadline = Instant::now() + DEADLINE;
    let want = format!(
        "master_host:{}\r\nmaster_port:{}\r\nmaster_link_status:up",
        master.ip(),
        master.port()
    );
    loop {
        let mut c = RawConn::connect(replica).await;
        let info = String::from_utf8(c.call(&["INFO", "replication"]).await).unwrap_or_default();
        if info.contains(&want) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{replica} does not follow {master}:\n{info}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_sentinels_fail_over_our_servers() {
    let _serial = SERIAL.lock().await;
    let Some(sentinel_bin) = binary("REDISCOVER_REAL_SENTINEL") else {
        return;
    };
    let mut servers = our_servers().await;
    let old = servers[0].addr();
    let mut reals = Vec::new();
    for _ in 0..3 {
        reals.push(Real::sentinel(&sentinel_bin, old, 2, 500).await);
    }
    let addrs: Vec<SocketAddr> = reals.iter().map(|r| r.addr()).collect();
    let logs = || {
        reals
            .iter()
            .map(|r| r.log())
            .collect::<Vec<_>>()
            .join("\n----\n")
    };
    wait_discovered(&addrs, 2, 2, &logs()).await;
    let mut c = RawConn::connect(old).await;
    assert_eq!(c.call(&["SET", "k", "v"]).await, b"+OK\r\n");

    servers[0].kill().await;
    let new = wait_failover(&addrs, old, &logs).await;
    let mut n = RawConn::connect(new).await;
    assert_eq!(n.call(&["GET", "k"]).await, b"$1\r\nv\r\n");
    // The other server follows the sentinels' master. On a loaded machine the sentinels (down
    // after 500 ms) may fail over once more: follow the master they name, not the first.
    let others: Vec<SocketAddr> = servers[1..].iter().map(|s| s.addr()).collect();
    wait_follows_sentinels(&addrs, &others, &logs).await;
    // The old master comes back and the real sentinels make it a replica.
    servers[0].restart().await.unwrap();
    wait_follows_sentinels(&addrs, &[old], &logs).await;
    // `+convert-to-slave` when the sentinels still list it as the old master; after a second
    // failover they list it as a replica of the first new master and fix its configuration, or
    // reconfigure it with the other replicas.
    let l = logs();
    let reconf = format!("+slave-reconf-sent slave {old}");
    assert!(
        l.contains("+convert-to-slave") || l.contains("+fix-slave-config") || l.contains(&reconf),
        "{l}"
    );
}

/// Waits until the sentinels agree on a master and every server of `servers` other than it
/// replicates it with its link up; returns that master.
async fn wait_follows_sentinels(
    sentinels: &[SocketAddr],
    servers: &[SocketAddr],
    logs: impl Fn() -> String,
) -> SocketAddr {
    let deadline = Instant::now() + DEADLINE;
    let mut last = String::new();
    loop {
        let mut seen = BTreeSet::new();
        for &s in sentinels {
            seen.insert(master_of(s).await);
        }
        if let (1, Some(Some(m))) = (seen.len(), seen.iter().next()) {
            let mut all = true;
            for &r in servers.iter().filter(|r| **r != *m) {
                let mut c = RawConn::connect(r).await;
                let info =
                    String::from_utf8(c.call(&["INFO", "replication"]).await).unwrap_or_default();
                let want = format!(
                    "master_host:{}\r\nmaster_port:{}\r\nmaster_link_status:up",
                    m.ip(),
                    m.port()
                );
                if !info.contains(&want) {
                    all = false;
                    last = format!("{r} does not follow {m}:\n{info}");
                    break;
                }
            }
            if all {
                return *m;
            }
        } else {
            last = format!("no agreed master: {seen:?}");
        }
        assert!(Instant::now() < deadline, "{last}\n{}", logs());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_sentinel_group_elects_one_leader_and_agrees() {
    let _serial = SERIAL.lock().await;
    let Some(sentinel_bin) = binary("REDISCOVER_REAL_SENTINEL") else {
        return;
    };
    // Twice, quorum 1: the sentinel with the short down-after sees the master down long before
    // the others, starts the failover, and needs their votes (a majority: 3 of 4) to lead.
    // First one of ours leads with the real ones' votes, then a real one with ours.
    for round in 0..2 {
        let (early, late) = (500, 3000);
        let (our_down, real_down) = if round == 0 {
            ([early, late], [late, late])
        } else {
            ([late, late], [early, late])
        };
        let mut servers = our_servers().await;
        let old = servers[0].addr();
        let ours = [
            our_sentinel(old, 1, our_down[0]).await,
            our_sentinel(old, 1, our_down[1]).await,
        ];
        let reals = [
            Real::sentinel(&sentinel_bin, old, 1, real_down[0]).await,
            Real::sentinel(&sentinel_bin, old, 1, real_down[1]).await,
        ];
        let addrs: Vec<SocketAddr> = ours
            .iter()
            .map(|s| s.addr())
            .chain(reals.iter().map(|r| r.addr()))
            .collect();
        let logs = || {
            reals
                .iter()
                .map(|r| r.log())
                .collect::<Vec<_>>()
                .join("\n----\n")
        };
        wait_discovered(&addrs, 3, 2, &logs()).await;
        let events = EventLog::start(&addrs).await;
        servers[0].kill().await;
        let new = wait_failover(&addrs, old, || format!("{}\n{}", events.dump(), logs())).await;
        // One leader per epoch, whoever it is.
        let mut epoch_of: HashMap<usize, String> = HashMap::new();
        let mut leaders: HashMap<String, Vec<usize>> = HashMap::new();
        for e in events.all() {
            match e.kind.as_str() {
                "+new-epoch" => {
                    epoch_of.insert(e.sentinel, e.text.clone());
                }
                "+elected-leader" => leaders
                    .entry(epoch_of.get(&e.sentinel).cloned().unwrap_or_default())
                    .or_default()
                    .push(e.sentinel),
                _ => {}
            }
        }
        assert!(!leaders.is_empty(), "{}", events.dump());
        for (epoch, who) in &leaders {
            assert_eq!(
                who.len(),
                1,
                "epoch {epoch}: leaders {who:?}\n{}",
                events.dump()
            );
        }
        let leader = events
            .all()
            .iter()
            .rev()
            .find(|e| e.kind == "+elected-leader")
            .map(|e| e.sentinel)
            .unwrap();
        eprintln!(
            "round {round}: leader is {} sentinel {leader}",
            if leader < 2 { "our" } else { "a real" }
        );
        // Sentinels 0 and 1 are ours, 2 and 3 real; the early one leads.
        assert_eq!(leader, if round == 0 { 0 } else { 2 }, "{}", events.dump());
        let other = servers[1..]
            .iter()
            .map(|s| s.addr())
            .find(|a| *a != new)
            .unwrap();
        wait_replica_of(other, new).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_sentinels_fail_over_real_servers() {
    let _serial = SERIAL.lock().await;
    let Some(server_bin) = binary("REDISCOVER_REAL_REDIS_SERVER") else {
        return;
    };
    let master = Real::start(&server_bin, "", &["--repl-diskless-sync-delay", "0"]).await;
    let port = master.port.to_string();
    let replicas = [
        Real::start(
            &server_bin,
            "",
            &[
                "--replicaof",
                "127.0.0.1",
                &port,
                "--repl-diskless-sync-delay",
                "0",
            ],
        )
        .await,
        Real::start(
            &server_bin,
            "",
            &[
                "--replicaof",
                "127.0.0.1",
                &port,
                "--repl-diskless-sync-delay",
                "0",
            ],
        )
        .await,
    ];
    for r in &replicas {
        wait_replica_of(r.addr(), master.addr()).await;
    }
    let ours = [
        our_sentinel(master.addr(), 2, 500).await,
        our_sentinel(master.addr(), 2, 500).await,
        our_sentinel(master.addr(), 2, 500).await,
    ];
    let addrs: Vec<SocketAddr> = ours.iter().map(|s| s.addr()).collect();
    wait_discovered(&addrs, 2, 2, "").await;
    let old = master.addr();
    drop(master);
    let new = wait_failover(&addrs, old, String::new).await;
    let other = replicas
        .iter()
        .map(|r| r.addr())
        .find(|a| *a != new)
        .unwrap();
    wait_replica_of(other, new).await;
}

/// What redis-cli prints, with numbers, ids and the like made uniform.
fn cli(bin: &str, port: u16, resp3: bool, args: &[&str]) -> String {
    let mut cmd = Command::new(bin);
    cmd.args(["-p", &port.to_string()]);
    if resp3 {
        cmd.arg("-3");
    }
    let out = cmd.args(args).output().expect("redis-cli");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.lines()
        .map(|l| {
            // Run ids (40 hex characters), then every run of digits.
            let words: Vec<String> = l
                .split(' ')
                .map(|w| {
                    if w.len() >= 40 && w.bytes().all(|b| b.is_ascii_hexdigit()) {
                        "ID".to_string()
                    } else {
                        w.to_string()
                    }
                })
                .collect();
            let l = words.join(" ");
            let mut s = String::new();
            let mut digits = false;
            for c in l.chars() {
                if c.is_ascii_digit() {
                    if !digits {
                        s.push('N');
                    }
                    digits = true;
                } else {
                    digits = false;
                    s.push(c);
                }
            }
            s
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_cli_sees_the_same_reply_shapes() {
    let _serial = SERIAL.lock().await;
    let (Some(sentinel_bin), Some(cli_bin)) = (
        binary("REDISCOVER_REAL_SENTINEL"),
        binary("REDISCOVER_REAL_REDIS_CLI"),
    ) else {
        return;
    };
    // The same deployment twice: a master, two replicas, two sentinels.
    let servers = our_servers().await;
    let m = servers[0].addr();
    let ours = [
        our_sentinel(m, 2, 5000).await,
        our_sentinel(m, 2, 5000).await,
    ];
    let servers2 = our_servers().await;
    let m2 = servers2[0].addr();
    let reals = [
        Real::sentinel(&sentinel_bin, m2, 2, 5000).await,
        Real::sentinel(&sentinel_bin, m2, 2, 5000).await,
    ];
    let our_addrs: Vec<SocketAddr> = ours.iter().map(|s| s.addr()).collect();
    let real_addrs: Vec<SocketAddr> = reals.iter().map(|s| s.addr()).collect();
    wait_discovered(&our_addrs, 1, 2, "").await;
    wait_discovered(&real_addrs, 1, 2, "").await;
    let (ip, port) = (m.ip().to_string(), m.port().to_string());
    let (ip2, port2) = (m2.ip().to_string(), m2.port().to_string());
    let commands: Vec<Vec<&str>> = vec![
        vec!["PING"],
        vec!["ROLE"],
        vec!["SENTINEL", "MASTERS"],
        vec!["SENTINEL", "MASTER", "mymaster"],
        vec!["SENTINEL", "REPLICAS", "mymaster"],
        vec!["SENTINEL", "SENTINELS", "mymaster"],
        vec!["SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster"],
        vec!["SENTINEL", "GET-MASTER-ADDR-BY-NAME", "nosuch"],
        vec!["SENTINEL", "CKQUORUM", "mymaster"],
        vec!["SENTINEL", "MYID"],
        vec!["SENTINEL", "CONFIG", "GET", "*"],
        vec!["SENTINEL", "PENDING-SCRIPTS"],
        vec!["SENTINEL", "INFO-CACHE", "nosuch"],
        vec!["SENTINEL", "SIMULATE-FAILURE", "HELP"],
        vec!["SENTINEL", "HELP"],
        vec!["SENTINEL", "FOO"],
        vec!["SENTINEL", "MASTER", "nosuch"],
        vec!["INFO", "sentinel"],
        vec!["COMMAND", "COUNT"],
        vec!["GET", "x"],
    ];
    for resp3 in [false, true] {
        for args in &commands {
            let theirs = cli(&cli_bin, reals[0].port, resp3, args);
            let mine = cli(&cli_bin, ours[0].addr().port(), resp3, args);
            assert_eq!(
                mine,
                theirs,
                "redis-cli {}{}",
                if resp3 { "-3 " } else { "" },
                args.join(" ")
            );
        }
        let theirs = cli(
            &cli_bin,
            reals[0].port,
            resp3,
            &["SENTINEL", "is-master-down-by-addr", &ip2, &port2, "0", "*"],
        );
        let mine = cli(
            &cli_bin,
            ours[0].addr().port(),
            resp3,
            &["SENTINEL", "is-master-down-by-addr", &ip, &port, "0", "*"],
        );
        assert_eq!(mine, theirs);
    }
}
