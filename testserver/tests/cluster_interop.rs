//! Cluster interop with the real tools and servers: `redis-cli --cluster create`, `check`,
//! `reshard`, `add-node`, `del-node`, `fix` and `redis-cli -c` against separate `rediscover-server`
//! processes, and a mixed cluster of real redis-server and rediscover-server nodes that
//! reshards both ways, fails over by hand across the two kinds, and survives a killed master.
//!
//! Runs only when the binaries are named (Redis 7.0):
//!
//! ```text
//! REDISCOVER_REAL_REDIS_SERVER=/usr/bin/redis-server REDISCOVER_REDIS_CLI=/usr/bin/redis-cli \
//!     cargo test -p rediscover-testserver --test cluster_interop
//! ```
//!
//! Every wait polls against a deadline; no test sleeps for a state.

mod common;

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::dataset::TempDir;
use common::RawConn;

const DEADLINE: Duration = Duration::from_secs(60);
const OURS: &str = env!("CARGO_BIN_EXE_rediscover-server");

fn binaries() -> Option<(String, String)> {
    match (
        std::env::var("REDISCOVER_REAL_REDIS_SERVER"),
        std::env::var("REDISCOVER_REDIS_CLI"),
    ) {
        (Ok(server), Ok(cli)) if !server.is_empty() && !cli.is_empty() => Some((server, cli)),
        _ => {
            eprintln!("skipped: set REDISCOVER_REAL_REDIS_SERVER and REDISCOVER_REDIS_CLI to run");
            None
        }
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A port `p` below 55536 with `p` and `p + 10000` free (a cluster node needs both).
fn free_cluster_port() -> u16 {
    loop {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let p = l.local_addr().expect("addr").port();
        if p > 55535 {
            continue;
        }
        if std::net::TcpListener::bind(("127.0.0.1", p + 10000)).is_ok() {
            return p;
        }
    }
}

/// A cluster node process (ours or real), killed on drop.
struct Node {
    child: Option<Child>,
    port: u16,
    dir: TempDir,
    real: bool,
}

impl Node {
    async fn start(binary: &str, real: bool) -> Node {
        let dir = TempDir::new(if real { "cluster-real" } else { "cluster-ours" });
        let port = free_cluster_port();
        let mut node = Node {
            child: None,
            port,
            dir,
            real,
        };
        node.spawn(binary).await;
        node
    }

    async fn spawn(&mut self, binary: &str) {
        let log = self.dir.file("node.log");
        let child = Command::new(binary)
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--cluster-enabled", "yes", "--cluster-node-timeout", "1000"])
            .args(["--save", "", "--appendonly", "no", "--dir", self.dir.str()])
            .args(["--logfile", log.to_str().expect("utf-8 path")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn a cluster node");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if tokio::net::TcpStream::connect(self.addr()).await.is_ok() {
                let mut c = RawConn::connect(self.addr()).await;
                if c.call(&["PING"]).await == b"+PONG\r\n" {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "node {} did not start:\n{}",
                self.port,
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    fn host_port(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.file("node.log")).unwrap_or_default()
    }

    async fn call(&self, argv: &[&str]) -> String {
        text(&RawConn::connect(self.addr()).await.call(argv).await)
    }

    async fn id(&self) -> String {
        let r = self.call(&["CLUSTER", "MYID"]).await;
        r.lines().nth(1).unwrap_or_default().to_string()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Runs redis-cli with `args`; returns its output (stdout and stderr), and whether it
/// succeeded.
fn cli_status(cli: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new(cli)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run redis-cli");
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), all)
}

/// Runs redis-cli with `args`; returns its output (stdout and stderr), asserting success.
fn cli(cli: &str, args: &[&str]) -> String {
    let out = Command::new(cli)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run redis-cli");
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "redis-cli {args:?} failed:\n{all}");
    all
}

/// `redis-cli --cluster check`, retried until every node agrees and every slot is covered.
async fn check_ok(cli_path: &str, entry: &Node, nodes: &[&Node]) -> String {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let (ok, out) = cli_status(cli_path, &["--cluster", "check", &entry.host_port()]);
        let mut all_ok = true;
        for n in nodes {
            if !n
                .call(&["CLUSTER", "INFO"])
                .await
                .contains("cluster_state:ok")
            {
                all_ok = false;
            }
        }
        if all_ok
            && ok
            && out.contains("[OK] All nodes agree about slots configuration.")
            && out.contains("[OK] All 16384 slots covered.")
            && !out.contains("[ERR]")
            && !out.contains("[WARNING]")
        {
            return out;
        }
        if Instant::now() >= deadline {
            let logs: Vec<String> = nodes
                .iter()
                .map(|n| {
                    format!(
                        "--- {} ({}) ---\n{}",
                        n.port,
                        if n.real { "real" } else { "ours" },
                        n.log()
                    )
                })
                .collect();
            panic!("cluster check failed:\n{out}\n{}", logs.join("\n"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Runs `commands` (one per line) through one `redis-cli -c` (following redirections);
/// returns one output line per command, without redis-cli's `-> Redirected to ...` notes
/// (it asserts there were some: the cluster spreads keys over its masters).
fn cli_batch(cli_path: &str, entry: &Node, commands: &str) -> Vec<String> {
    use std::io::Write;
    let mut child = Command::new(cli_path)
        .args(["-c", "-p", &entry.port.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run redis-cli");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(commands.as_bytes())
        .expect("write commands");
    let out = child.wait_with_output().expect("redis-cli output");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.lines()
            .any(|l| l.starts_with("-> Redirected to slot [")),
        "redis-cli -c was redirected: {text}"
    );
    text.lines()
        .filter(|l| !l.starts_with("-> Redirected to slot ["))
        .map(str::to_string)
        .collect()
}

/// Writes `n` keys through `redis-cli -c` and reads them back.
fn write_and_read(cli_path: &str, entry: &Node, n: usize, prefix: &str) {
    let cmds: String = (0..n).map(|i| format!("SET {prefix}:{i} v{i}\n")).collect();
    let out = cli_batch(cli_path, entry, &cmds);
    assert_eq!(
        out,
        vec!["OK".to_string(); n],
        "SETs through {}",
        entry.port
    );
    read_back(cli_path, entry, n, prefix);
}

fn read_back(cli_path: &str, entry: &Node, n: usize, prefix: &str) {
    let cmds: String = (0..n).map(|i| format!("GET {prefix}:{i}\n")).collect();
    let out = cli_batch(cli_path, entry, &cmds);
    let want: Vec<String> = (0..n).map(|i| format!("v{i}")).collect();
    assert_eq!(out, want, "GETs through {}", entry.port);
}

async fn dbsize_total(nodes: &[&Node]) -> i64 {
    let mut total = 0;
    for n in nodes {
        let role = n.call(&["ROLE"]).await;
        if role.contains("master") && !role.contains("slave") {
            let r = n.call(&["DBSIZE"]).await;
            total += r.trim().trim_start_matches(':').parse::<i64>().unwrap_or(0);
        }
    }
    total
}

async fn wait_master(node: &Node) {
    let deadline = Instant::now() + DEADLINE;
    while !node.call(&["ROLE"]).await.contains("master") {
        assert!(
            Instant::now() < deadline,
            "{} never became a master:\n{}",
            node.port,
            node.log()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_cli_manages_a_cluster_of_rediscover_servers() {
    let Some((_, cli_path)) = binaries() else {
        return;
    };
    let mut nodes = Vec::new();
    for _ in 0..6 {
        nodes.push(Node::start(OURS, false).await);
    }
    let addrs: Vec<String> = nodes.iter().map(|n| n.host_port()).collect();
    let mut args = vec!["--cluster", "create"];
    args.extend(addrs.iter().map(String::as_str));
    args.extend(["--cluster-replicas", "1", "--cluster-yes"]);
    let out = cli(&cli_path, &args);
    assert!(out.contains("[OK] All 16384 slots covered."), "{out}");
    let all: Vec<&Node> = nodes.iter().collect();
    check_ok(&cli_path, &nodes[0], &all).await;
    write_and_read(&cli_path, &nodes[0], 100, "k");

    // Reshard 500 slots (with their keys) from one master to another.
    let from = nodes[1].id().await;
    let to = nodes[0].id().await;
    cli(
        &cli_path,
        &[
            "--cluster",
            "reshard",
            &nodes[0].host_port(),
            "--cluster-from",
            &from,
            "--cluster-to",
            &to,
            "--cluster-slots",
            "200",
            "--cluster-yes",
        ],
    );
    check_ok(&cli_path, &nodes[0], &all).await;
    read_back(&cli_path, &nodes[2], 100, "k");
    assert_eq!(dbsize_total(&all).await, 100);

    // A new master joins and takes slots; a replica leaves.
    let extra = Node::start(OURS, false).await;
    let out = cli(
        &cli_path,
        &[
            "--cluster",
            "add-node",
            &extra.host_port(),
            &nodes[0].host_port(),
        ],
    );
    assert!(out.contains("[OK] New node added correctly."), "{out}");
    let mut all: Vec<&Node> = nodes.iter().collect();
    all.push(&extra);
    check_ok(&cli_path, &nodes[0], &all).await;
    let extra_id = extra.id().await;
    cli(
        &cli_path,
        &[
            "--cluster",
            "reshard",
            &nodes[0].host_port(),
            "--cluster-from",
            "all",
            "--cluster-to",
            &extra_id,
            "--cluster-slots",
            "300",
            "--cluster-yes",
        ],
    );
    check_ok(&cli_path, &nodes[0], &all).await;
    read_back(&cli_path, &extra, 100, "k");
    let replica = {
        let mut found = None;
        for n in &nodes {
            if n.call(&["ROLE"]).await.starts_with("*5") {
                found = Some(n);
                break;
            }
        }
        found.expect("a replica")
    };
    let replica_id = replica.id().await;
    let out = cli(
        &cli_path,
        &["--cluster", "del-node", &nodes[0].host_port(), &replica_id],
    );
    assert!(
        out.contains("SHUTDOWN the node") || out.contains("Sending CLUSTER RESET SOFT"),
        "{out}"
    );
    let remaining: Vec<&Node> = all
        .iter()
        .copied()
        .filter(|n| n.port != replica.port)
        .collect();
    check_ok(&cli_path, &nodes[0], &remaining).await;
    for n in &remaining {
        assert!(
            !n.call(&["CLUSTER", "NODES"]).await.contains(&replica_id),
            "{} forgot it",
            n.port
        );
    }
    // The removed node was reset: it knows only itself.
    assert!(replica
        .call(&["CLUSTER", "INFO"])
        .await
        .contains("cluster_known_nodes:1"));
    read_back(&cli_path, remaining[remaining.len() - 1], 100, "k");

    // A slot left open (IMPORTING / MIGRATING) is reported by check and closed by fix.
    let slot = "10166"; // "k:1"
    let mut owner = None;
    let mut other = None;
    for n in &remaining {
        let role = n.call(&["ROLE"]).await;
        if !role.contains("master") || role.contains("slave") {
            continue;
        }
        let count = n.call(&["CLUSTER", "COUNTKEYSINSLOT", slot]).await;
        let nodes = n.call(&["CLUSTER", "NODES"]).await;
        let mine = nodes
            .lines()
            .find(|l| l.contains("myself"))
            .is_some_and(|l| {
                l.split(' ').skip(8).any(|r| match r.split_once('-') {
                    Some((a, b)) => {
                        a.parse::<u32>().unwrap_or(u32::MAX) <= 10166
                            && b.parse::<u32>().unwrap_or(0) >= 10166
                    }
                    None => r == slot,
                })
            });
        if mine {
            assert_eq!(count, ":1\r\n", "k:1 is in slot {slot}");
            owner = Some(*n);
        } else if other.is_none() {
            other = Some(*n);
        }
    }
    let (owner, other) = (
        owner.expect("the slot's owner"),
        other.expect("another master"),
    );
    let (owner_id, other_id) = (owner.id().await, other.id().await);
    assert_eq!(
        other
            .call(&["CLUSTER", "SETSLOT", slot, "IMPORTING", &owner_id])
            .await,
        "+OK\r\n"
    );
    assert_eq!(
        owner
            .call(&["CLUSTER", "SETSLOT", slot, "MIGRATING", &other_id])
            .await,
        "+OK\r\n"
    );
    let (_, out) = cli_status(&cli_path, &["--cluster", "check", &owner.host_port()]);
    assert!(out.contains("has slots in migrating state 10166"), "{out}");
    let (_, out) = cli_status(
        &cli_path,
        &["--cluster", "fix", &owner.host_port(), "--cluster-yes"],
    );
    assert!(out.contains("10166"), "{out}");
    check_ok(&cli_path, &nodes[0], &remaining).await;
    read_back(&cli_path, remaining[0], 100, "k");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mixed_cluster_of_real_and_rediscover_nodes() {
    let Some((real_bin, cli_path)) = binaries() else {
        return;
    };
    // Masters: ours, real, ours; replicas: real, ours, real (redis-cli pairs them across).
    let mut nodes = Vec::new();
    for i in 0..6 {
        let real = i % 2 == 1;
        nodes.push(Node::start(if real { &real_bin } else { OURS }, real).await);
    }
    let addrs: Vec<String> = nodes.iter().map(|n| n.host_port()).collect();
    let mut args = vec!["--cluster", "create"];
    args.extend(addrs.iter().map(String::as_str));
    args.extend(["--cluster-replicas", "1", "--cluster-yes"]);
    let out = cli(&cli_path, &args);
    assert!(out.contains("[OK] All 16384 slots covered."), "{out}");
    let all: Vec<&Node> = nodes.iter().collect();
    check_ok(&cli_path, &nodes[1], &all).await;
    write_and_read(&cli_path, &nodes[1], 100, "m");

    // Slots move from a real master to one of ours and back: MIGRATE and RESTORE-ASKING
    // both ways.
    let mut real_master = None;
    let mut our_master = None;
    for n in &nodes {
        let role = n.call(&["ROLE"]).await;
        if role.contains("master") && !role.contains("slave") {
            if n.real {
                real_master.get_or_insert(n);
            } else {
                our_master.get_or_insert(n);
            }
        }
    }
    let (real_master, our_master) = (
        real_master.expect("a real master"),
        our_master.expect("one of ours"),
    );
    let (rid, oid) = (real_master.id().await, our_master.id().await);
    cli(
        &cli_path,
        &[
            "--cluster",
            "reshard",
            &nodes[0].host_port(),
            "--cluster-from",
            &rid,
            "--cluster-to",
            &oid,
            "--cluster-slots",
            "300",
            "--cluster-yes",
        ],
    );
    check_ok(&cli_path, &nodes[0], &all).await;
    cli(
        &cli_path,
        &[
            "--cluster",
            "reshard",
            &nodes[0].host_port(),
            "--cluster-from",
            &oid,
            "--cluster-to",
            &rid,
            "--cluster-slots",
            "200",
            "--cluster-yes",
        ],
    );
    check_ok(&cli_path, &nodes[0], &all).await;
    read_back(&cli_path, &nodes[0], 100, "m");
    assert_eq!(dbsize_total(&all).await, 100);

    // Manual failovers across implementations: a replica whose master is of the other kind
    // asks it to pause (MFSTART, PAUSED pings), catches up and is elected (FORCEACK votes).
    for _ in 0..2 {
        let mut pair = None;
        for (i, n) in nodes.iter().enumerate() {
            let role = n.call(&["ROLE"]).await;
            if !role.starts_with("*5") {
                continue;
            }
            // *5 $5 slave $9 127.0.0.1 :<port> ...
            let mport: u16 = role
                .lines()
                .nth(5)
                .unwrap_or("0")
                .trim_start_matches(':')
                .parse()
                .unwrap_or(0);
            if let Some(m) = nodes.iter().position(|x| x.port == mport) {
                if nodes[m].real != n.real {
                    pair = Some((i, m));
                    break;
                }
            }
        }
        let (r, m) = pair.expect("a replica of the other kind");
        // A master ignores MFSTART from a node it does not yet know as its replica (Redis
        // does too): right after the previous failover, wait until the master's view has it.
        let (r_id, m_id) = (nodes[r].id().await, nodes[m].id().await);
        let deadline = Instant::now() + DEADLINE;
        loop {
            let view = nodes[m].call(&["CLUSTER", "NODES"]).await;
            let knows = view
                .lines()
                .any(|l| l.starts_with(&r_id) && l.contains("slave") && l.contains(&m_id));
            if knows {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{} never saw its replica",
                nodes[m].port
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(nodes[r].call(&["CLUSTER", "FAILOVER"]).await, "+OK\r\n");
        wait_master(&nodes[r]).await;
        let deadline = Instant::now() + DEADLINE;
        while !nodes[m].call(&["ROLE"]).await.starts_with("*5") {
            assert!(
                Instant::now() < deadline,
                "the old master did not follow:\n{}",
                nodes[m].log()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        check_ok(&cli_path, &nodes[0], &all).await;
        read_back(&cli_path, &nodes[0], 100, "m");
    }

    // One of our masters is killed: its (real or ours) replica takes over, and the cluster
    // agrees again.
    let mut victim = None;
    for (i, n) in nodes.iter().enumerate() {
        let role = n.call(&["ROLE"]).await;
        if !n.real && role.contains("master") && !role.contains("slave") {
            victim = Some(i);
            break;
        }
    }
    let victim = victim.expect("one of our masters");
    let victim_id = nodes[victim].id().await;
    let mut replica_idx = None;
    for (i, n) in nodes.iter().enumerate() {
        if n.call(&["CLUSTER", "NODES"])
            .await
            .lines()
            .any(|l| l.contains("myself,slave") && l.contains(&victim_id))
        {
            replica_idx = Some(i);
        }
    }
    let replica_idx = replica_idx.expect("the victim's replica");
    nodes[victim].kill();
    wait_master(&nodes[replica_idx]).await;
    let alive: Vec<&Node> = nodes
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != victim)
        .map(|(_, n)| n)
        .collect();
    let entry = alive[0];
    let deadline = Instant::now() + DEADLINE;
    loop {
        let info = entry.call(&["CLUSTER", "INFO"]).await;
        if info.contains("cluster_state:ok") {
            break;
        }
        assert!(Instant::now() < deadline, "cluster state: {info}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    read_back(&cli_path, entry, 100, "m");
    // It comes back as a replica of its replacement.
    nodes[victim].spawn(OURS).await;
    let deadline = Instant::now() + DEADLINE;
    while !nodes[victim].call(&["ROLE"]).await.starts_with("*5") {
        assert!(
            Instant::now() < deadline,
            "the old master did not rejoin as a replica:\n{}",
            nodes[victim].log()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    check_ok(&cli_path, &nodes[0], &nodes.iter().collect::<Vec<_>>()).await;
}
