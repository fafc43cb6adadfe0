//! `rediscover::cluster::admin` against in-process cluster-enabled test servers (created into
//! a cluster by the library itself), and, when `REDISCOVER_REAL_REDIS_SERVER` names a Redis 7.0
//! `redis-server`, against real nodes, cross-checked with `redis-cli --cluster check`
//! (`REDISCOVER_REDIS_CLI`, default `redis-cli`).
//!
//! Every wait polls against a deadline.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rediscover::cluster::admin::{
    AddNodeOptions, AdminError, ClusterAdmin, CreateOptions, Finding, FixOptions, MoveOptions,
    RebalanceOptions, ReshardOptions, Sources,
};
use rediscover::resp::Frame;
use rediscover::slot::key_slot;
use rediscover::{Cmd, Config, Connection, Execute, Pipeline};
use rediscover_testserver::config::{Config as ServerConfig, Timers};
use rediscover_testserver::server::{TestServer, TestServerBuilder};
use tokio::time::Instant;

const DEADLINE: Duration = Duration::from_secs(30);

/// `n` standalone cluster-enabled test servers (fast timers; a node timeout of 2 s, so that a
/// busy machine does not make nodes flag each other as failing: nothing here fails over).
async fn start_nodes(n: usize) -> Vec<TestServer> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let config = ServerConfig {
            cluster_enabled: true,
            cluster_node_timeout: 2000,
            timers: Timers::default().faster(25),
            save: Vec::new(),
            port: 0,
            ..ServerConfig::default()
        };
        out.push(
            TestServerBuilder::default()
                .config(config)
                .port(0)
                .start()
                .await
                .expect("start a test server"),
        );
    }
    out
}

fn addrs(nodes: &[TestServer]) -> Vec<String> {
    nodes.iter().map(|n| n.addr().to_string()).collect()
}

fn admin() -> ClusterAdmin {
    ClusterAdmin::default().join_timeout(DEADLINE)
}

/// Polls `check` until it reports nothing and every node says `cluster_state:ok`.
async fn wait_ok(admin: &ClusterAdmin, seeds: &[String]) {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let report = admin.check(&seeds[0]).await;
        let mut ok = matches!(&report, Ok(r) if r.is_ok());
        if ok {
            for s in seeds {
                if !cluster_info(s).await.contains("cluster_state:ok") {
                    ok = false;
                }
            }
        }
        if ok {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the cluster did not settle: {report:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn conn(addr: &str) -> Connection {
    let (host, port) = addr.rsplit_once(':').unwrap();
    Connection::connect(&Config::default().host(host).port(port.parse().unwrap()))
        .await
        .expect("connect")
}

async fn call(addr: &str, args: &[&str]) -> Frame {
    let mut cmd = Cmd::new(args[0]);
    for a in &args[1..] {
        cmd.add(*a);
    }
    match conn(addr).await.send_command(cmd).await {
        Ok(f) => f,
        Err(rediscover::Error::Server(e)) => Frame::Error(e.line().to_vec().into()),
        Err(e) => panic!("{addr}: {e}"),
    }
}

async fn cluster_info(addr: &str) -> String {
    match call(addr, &["CLUSTER", "INFO"]).await {
        Frame::Bulk(b) | Frame::Verbatim { text: b, .. } => String::from_utf8_lossy(&b).into(),
        other => format!("{other:?}"),
    }
}

/// A minimal redirect-following router for test workloads: a slot map fixed by MOVED, ASK
/// answered with ASKING, TRYAGAIN retried. (The ClusterClient is built elsewhere; this keeps
/// the admin tests independent of it.)
struct Router {
    slots: Vec<String>,
    conns: HashMap<String, Connection>,
}

impl Router {
    fn new(seed: &str) -> Router {
        Router {
            slots: vec![seed.to_string(); 16384],
            conns: HashMap::new(),
        }
    }

    async fn conn(&mut self, addr: &str) -> Connection {
        if let Some(c) = self.conns.get(addr) {
            return c.clone();
        }
        let c = conn(addr).await;
        self.conns.insert(addr.to_string(), c.clone());
        c
    }

    /// Runs a single-key command; any error reply other than a redirect fails the test.
    async fn run(&mut self, args: &[&str]) -> Frame {
        let slot = key_slot(args[1].as_bytes()) as usize;
        let mut addr = self.slots[slot].clone();
        let mut asking = false;
        for _ in 0..100 {
            let c = self.conn(&addr).await;
            let mut cmd = Cmd::new(args[0]);
            for a in &args[1..] {
                cmd.add(*a);
            }
            let reply = if asking {
                let mut p = Pipeline::new();
                p.cmd("ASKING");
                p.add(&cmd);
                let mut replies = c.send_pipeline(&p).await.expect("pipeline");
                replies.pop().expect("two replies")
            } else {
                match c.send_command(cmd).await {
                    Ok(f) => f,
                    Err(rediscover::Error::Server(e)) => Frame::Error(e.line().to_vec().into()),
                    Err(e) => panic!("{addr}: {e}"),
                }
            };
            let Frame::Error(e) = &reply else {
                return reply;
            };
            let e = String::from_utf8_lossy(e).into_owned();
            let words: Vec<&str> = e.split(' ').collect();
            match words[0] {
                "MOVED" => {
                    addr = words[2].to_string();
                    self.slots[slot] = addr.clone();
                    asking = false;
                }
                "ASK" => {
                    addr = words[2].to_string();
                    asking = true;
                }
                "TRYAGAIN" => tokio::time::sleep(Duration::from_millis(2)).await,
                _ => panic!("{args:?} on {addr}: {e}"),
            }
        }
        panic!("{args:?}: too many redirects");
    }
}

fn int(f: &Frame) -> i64 {
    match f {
        Frame::Integer(n) => *n,
        Frame::Bulk(b) => std::str::from_utf8(b).unwrap().parse().unwrap(),
        other => panic!("not a number: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_lays_out_masters_and_replicas_as_redis_cli() {
    let nodes = start_nodes(6).await;
    let addrs = addrs(&nodes);
    let admin = admin();
    // Two nodes with one replica each: one master, fewer than redis-cli accepts.
    let err = admin
        .create(&addrs[..2], &CreateOptions::default().replicas(1))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            AdminError::TooFewMasters {
                masters: 1,
                needed: 6,
                ..
            }
        ),
        "{err}"
    );
    let view = admin
        .create(&addrs, &CreateOptions::default().replicas(1))
        .await
        .unwrap();
    let mut counts: Vec<usize> = view.masters().map(|m| m.slots.len()).collect();
    counts.sort();
    assert_eq!(counts, vec![5461, 5461, 5462]);
    // Every master has one replica (one host: anti-affinity cannot help, but none is left
    // without a replica).
    wait_ok(&admin, &addrs).await;
    let view = admin.load(&addrs[0]).await.unwrap();
    for m in view.masters() {
        assert_eq!(m.replicas, 1, "{m:?}");
    }
    assert_eq!(view.nodes().filter(|n| !n.is_master()).count(), 3);
    // The nodes are no longer empty: creating again is refused.
    let err = admin
        .create(&addrs, &CreateOptions::default().replicas(1))
        .await
        .unwrap_err();
    assert!(matches!(err, AdminError::NodeNotEmpty(_)), "{err}");
    assert!(err.to_string().contains("is not empty"), "{err}");
    // Not a cluster node.
    let plain = TestServer::start().await.unwrap();
    let err = admin.load(&plain.addr().to_string()).await.unwrap_err();
    assert!(matches!(err, AdminError::NotClusterNode(_)), "{err}");
}

/// Three masters, created in order (node i serves the i-th third of the slots).
async fn three_masters() -> (Vec<TestServer>, Vec<String>, Vec<String>) {
    let nodes = start_nodes(3).await;
    let addrs = addrs(&nodes);
    let admin = admin();
    admin
        .create(&addrs, &CreateOptions::default().in_order(true))
        .await
        .unwrap();
    wait_ok(&admin, &addrs).await;
    let view = admin.load(&addrs[0]).await.unwrap();
    let ids = addrs
        .iter()
        .map(|a| view.nodes().find(|n| n.addr() == *a).unwrap().id.clone())
        .collect();
    (nodes, addrs, ids)
}

/// Keys whose slot is `slot`.
fn keys_in_slot(slot: u16, n: usize) -> Vec<String> {
    (0..)
        .map(|i| format!("key:{i}"))
        .filter(|k| key_slot(k.as_bytes()) == slot)
        .take(n)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_finds_open_and_uncovered_slots_and_fix_closes_them() {
    let (_nodes, addrs, ids) = three_masters().await;
    let admin = admin();
    let mut router = Router::new(&addrs[0]);

    // Migrations left open by hand. Slot 100 (node 0's): open towards node 1, no key moved
    // yet: fix finishes it (redis-cli's case 1).
    let keys = keys_in_slot(100, 12);
    for k in &keys {
        router.run(&["SET", k, k]).await;
    }
    let setslot = |addr: String, slot: &'static str, how: &'static str, id: String| async move {
        let reply = call(&addr, &["CLUSTER", "SETSLOT", slot, how, &id]).await;
        assert!(matches!(reply, Frame::Simple(_)), "{reply:?}");
    };
    setslot(addrs[1].clone(), "100", "IMPORTING", ids[0].clone()).await;
    setslot(addrs[0].clone(), "100", "MIGRATING", ids[1].clone()).await;
    // Slot 300 (node 0's): open towards node 2 with 2 of its 10 keys moved: keys on two
    // nodes, so the owner becomes the one with most keys (node 0) and the rest move there
    // (case 2).
    let keys300 = keys_in_slot(300, 10);
    for k in &keys300 {
        router.run(&["SET", k, k]).await;
    }
    setslot(addrs[2].clone(), "300", "IMPORTING", ids[0].clone()).await;
    setslot(addrs[0].clone(), "300", "MIGRATING", ids[2].clone()).await;
    let port2 = addrs[2].rsplit_once(':').unwrap().1;
    let mut migrate = vec!["MIGRATE", "127.0.0.1", port2, "", "0", "5000", "KEYS"];
    migrate.extend(keys300[..2].iter().map(|k| k.as_str()));
    assert!(matches!(call(&addrs[0], &migrate).await, Frame::Simple(_)));
    // Slot 11000 (node 2's): migrating on its owner alone, no key moved (an interrupted
    // reshard): fix closes it (case 4).
    setslot(addrs[2].clone(), "11000", "MIGRATING", ids[0].clone()).await;

    let report = admin.check(&addrs[0]).await.unwrap();
    assert!(!report.is_ok());
    assert_eq!(
        report.open_slots.iter().copied().collect::<Vec<_>>(),
        vec![100, 300, 11000]
    );
    assert!(
        report.findings.contains(&Finding::Migrating {
            node: addrs[0].clone(),
            slots: vec![100, 300]
        }),
        "{:?}",
        report.findings
    );
    assert!(report.findings.contains(&Finding::Importing {
        node: addrs[1].clone(),
        slots: vec![100]
    }));
    let text: Vec<String> = report.findings.iter().map(|f| f.to_string()).collect();
    assert!(
        text.contains(&format!(
            "[WARNING] Node {} has slots in migrating state 100,300.",
            addrs[0]
        )),
        "{text:?}"
    );
    // Reshard and rebalance refuse a cluster with problems.
    let err = admin
        .reshard(
            &addrs[0],
            &ReshardOptions::new(10, Sources::All, ids[0].clone()),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, AdminError::ClusterNotOk(_)), "{err}");
    let err = admin
        .rebalance(&addrs[0], &RebalanceOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(err, AdminError::ClusterNotOk(_)), "{err}");

    let fixed = admin.fix(&addrs[0], &FixOptions::default()).await.unwrap();
    for case in ["Case 1", "Case 2", "Case 4"] {
        assert!(
            fixed.actions.iter().any(|a| a.starts_with(case)),
            "{case}: {:?}",
            fixed.actions
        );
    }
    wait_ok(&admin, &addrs).await;
    let view = admin.load(&addrs[0]).await.unwrap();
    assert_eq!(view.slot_owner(100).unwrap().id, ids[1]);
    assert_eq!(view.slot_owner(300).unwrap().id, ids[0]);
    assert_eq!(view.slot_owner(11000).unwrap().id, ids[2]);
    assert_eq!(
        int(&call(&addrs[1], &["CLUSTER", "COUNTKEYSINSLOT", "100"]).await),
        12
    );
    assert_eq!(
        int(&call(&addrs[0], &["CLUSTER", "COUNTKEYSINSLOT", "300"]).await),
        10
    );
    for k in keys.iter().chain(&keys300) {
        assert_eq!(router.run(&["GET", k]).await, Frame::bulk(k));
    }

    // An uncovered slot with keys on one node: fix gives it back to that node.
    let k = keys_in_slot(12000, 1).pop().unwrap();
    router.run(&["SET", &k, "v"]).await;
    call(&addrs[2], &["CLUSTER", "DELSLOTS", "12000"]).await;
    let report = admin.check(&addrs[0]).await.unwrap();
    assert!(
        report
            .findings
            .iter()
            .any(|f| matches!(f, Finding::Uncovered { slots } if slots.contains(&12000))),
        "{:?}",
        report.findings
    );
    assert_eq!(report.covered_slots, 16383);
    let fixed = admin.fix(&addrs[0], &FixOptions::default()).await.unwrap();
    assert!(
        fixed
            .actions
            .contains(&format!("Covering slot 12000 with {}", addrs[2])),
        "{:?}",
        fixed.actions
    );
    wait_ok(&admin, &addrs).await;
    assert_eq!(router.run(&["GET", &k]).await, Frame::bulk("v"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reshard_under_a_writing_workload_loses_no_key() {
    let (_nodes, addrs, ids) = three_masters().await;
    let admin = admin();
    // Resharding 40 slots from all to node 0 takes, as redis-cli plans it, the lowest 21 of
    // node 1 (5461-10922, one slot more) and the lowest 19 of node 2: the workload writes
    // keys there.
    let moving = |s: u16| (5461..5482).contains(&s) || (10923..10942).contains(&s);
    let keys: Vec<String> = (0..)
        .map(|i| format!("w:{i}"))
        .filter(|k| moving(key_slot(k.as_bytes())))
        .take(200)
        .collect();
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (stop, keys, seed) = (stop.clone(), keys.clone(), addrs[0].clone());
        tokio::spawn(async move {
            let mut router = Router::new(&seed);
            let mut counts: HashMap<String, i64> = HashMap::new();
            let mut round = 0usize;
            // At least one full round, then until the reshard ends.
            while round < keys.len() || !stop.load(Ordering::Relaxed) {
                let k = &keys[round % keys.len()];
                let n = int(&router.run(&["INCR", k]).await);
                let c = counts.entry(k.clone()).or_default();
                *c += 1;
                assert_eq!(n, *c, "{k}: a write was lost or applied twice");
                round += 1;
            }
            (counts, router)
        })
    };
    let report = admin
        .reshard(
            &addrs[0],
            &ReshardOptions::new(40, Sources::All, ids[0].clone())
                .moves(MoveOptions::default().pipeline(3)),
        )
        .await
        .unwrap();
    stop.store(true, Ordering::Relaxed);
    let (counts, mut router) = writer.await.unwrap();
    assert_eq!(report.moved.len(), 40);
    assert!(report.keys > 0);
    assert!(
        report.moved.iter().all(|(s, _)| moving(*s)),
        "{:?}",
        report.moved
    );
    wait_ok(&admin, &addrs).await;
    let view = admin.load(&addrs[0]).await.unwrap();
    assert_eq!(view.node(&ids[0]).unwrap().slots.len(), 5461 + 40);
    for k in &keys {
        let got = router.run(&["GET", k]).await;
        assert_eq!(int(&got), counts[k], "{k}");
        assert_eq!(view.slot_owner(key_slot(k.as_bytes())).unwrap().id, ids[0]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rebalance_evens_slots() {
    let (_nodes, addrs, ids) = three_masters().await;
    let admin = admin();
    // 30 slots from node 1 to node 0: within redis-cli's default 2% threshold.
    admin
        .reshard(
            &addrs[0],
            &ReshardOptions::new(30, Sources::Nodes(vec![ids[1].clone()]), ids[0].clone()),
        )
        .await
        .unwrap();
    wait_ok(&admin, &addrs).await;
    let report = admin
        .rebalance(&addrs[0], &RebalanceOptions::default())
        .await
        .unwrap();
    assert!(!report.needed);
    // Weights are checked against the masters.
    let err = admin
        .rebalance(&addrs[0], &RebalanceOptions::default().weight("zzz", 2.0))
        .await
        .unwrap_err();
    assert!(matches!(err, AdminError::InvalidWeight(_)), "{err}");
    // A simulation plans without moving.
    let report = admin
        .rebalance(
            &addrs[0],
            &RebalanceOptions::default().threshold(0.1).simulate(true),
        )
        .await
        .unwrap();
    // (Node 0 gives its 30 extra slots; node 2's extra slot counts as node 1's or node 2's
    // depending on the order CLUSTER NODES lists them, as for redis-cli.)
    assert!(report.moves.iter().all(|(from, _, _)| *from == ids[0]));
    assert_eq!(report.moves.iter().map(|m| m.2).sum::<usize>(), 30);
    assert_eq!(report.keys, 0);
    // With a 0.1% threshold, the 30 slots go back.
    let report = admin
        .rebalance(&addrs[0], &RebalanceOptions::default().threshold(0.1))
        .await
        .unwrap();
    assert!(report.needed);
    assert_eq!(report.moves.iter().map(|m| m.2).sum::<usize>(), 30);
    wait_ok(&admin, &addrs).await;
    let view = admin.load(&addrs[0]).await.unwrap();
    let mut counts: Vec<usize> = ids
        .iter()
        .map(|id| view.node(id).unwrap().slots.len())
        .collect();
    assert_eq!(counts[0], 5461);
    counts.sort();
    assert_eq!(counts, vec![5461, 5461, 5462]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_node_and_del_node() {
    let (_nodes, addrs, ids) = three_masters().await;
    let extra = start_nodes(2).await;
    let (new_master, new_replica) = (extra[0].addr().to_string(), extra[1].addr().to_string());
    let admin = admin();

    let m_id = admin
        .add_node(&new_master, &addrs[0], &AddNodeOptions::master())
        .await
        .unwrap();
    let r_id = admin
        .add_node(
            &new_replica,
            &addrs[0],
            &AddNodeOptions::replica_of(m_id.clone()),
        )
        .await
        .unwrap();
    // Adding a node twice: it is no longer empty.
    let err = admin
        .add_node(&new_master, &addrs[0], &AddNodeOptions::master())
        .await
        .unwrap_err();
    assert!(matches!(err, AdminError::NodeNotEmpty(_)), "{err}");
    let mut all = addrs.clone();
    all.extend([new_master.clone(), new_replica.clone()]);
    wait_ok(&admin, &all).await;
    let view = admin.load(&addrs[0]).await.unwrap();
    assert_eq!(view.nodes().count(), 5);
    assert_eq!(
        view.node(&r_id).unwrap().master_id.as_deref(),
        Some(m_id.as_str())
    );
    assert_eq!(view.node(&m_id).unwrap().replicas, 1);
    // An empty master takes part in a rebalance only when asked: a quarter of the slots.
    let report = admin
        .rebalance(&addrs[0], &RebalanceOptions::default())
        .await
        .unwrap();
    assert!(!report.needed);
    let report = admin
        .rebalance(
            &addrs[0],
            &RebalanceOptions::default()
                .use_empty_masters(true)
                .simulate(true),
        )
        .await
        .unwrap();
    assert!(report.moves.iter().all(|(_, to, _)| *to == m_id));
    assert_eq!(report.moves.iter().map(|m| m.2).sum::<usize>(), 4096);
    // A master with slots can't be deleted.
    let err = admin.del_node(&addrs[0], &ids[2]).await.unwrap_err();
    assert!(
        matches!(err, AdminError::NodeHasSlots { slots: 5461, .. }),
        "{err}"
    );
    let err = admin.del_node(&addrs[0], "nosuchid").await.unwrap_err();
    assert!(matches!(err, AdminError::UnknownNode(_)), "{err}");
    // The empty master goes: its replica moves to another master, every node forgets it, and
    // it is reset.
    admin.del_node(&addrs[0], &m_id).await.unwrap();
    assert!(cluster_info(&new_master)
        .await
        .contains("cluster_known_nodes:1"));
    let mut remaining = addrs.clone();
    remaining.push(new_replica.clone());
    wait_ok(&admin, &remaining).await;
    let view = admin.load(&addrs[0]).await.unwrap();
    assert!(view.node(&m_id).is_none());
    let replica = view.node(&r_id).unwrap();
    assert!(
        ids.contains(replica.master_id.as_ref().unwrap()),
        "{replica:?}"
    );
    // Then the replica.
    admin.del_node(&addrs[0], &r_id).await.unwrap();
    wait_ok(&admin, &addrs).await;
    assert_eq!(admin.load(&addrs[0]).await.unwrap().nodes().count(), 3);
}

/// Real Redis 7.0 nodes (`REDISCOVER_REAL_REDIS_SERVER`): create, reshard, rebalance and check
/// with the library, each result accepted by `redis-cli --cluster check`.
mod interop {
    use super::*;
    use std::process::{Child, Command, Stdio};

    struct RealNode {
        child: Child,
        port: u16,
        dir: std::path::PathBuf,
    }

    impl Drop for RealNode {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    impl RealNode {
        fn addr(&self) -> String {
            format!("127.0.0.1:{}", self.port)
        }
    }

    /// A port `p` with `p` and `p + 10000` free.
    fn free_cluster_port() -> u16 {
        loop {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let p = l.local_addr().unwrap().port();
            if p <= 55535 && std::net::TcpListener::bind(("127.0.0.1", p + 10000)).is_ok() {
                return p;
            }
        }
    }

    async fn start(server: &str) -> RealNode {
        let port = free_cluster_port();
        let dir =
            std::env::temp_dir().join(format!("rediscover-admin-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let child = Command::new(server)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--cluster-enabled", "yes", "--cluster-node-timeout", "2000"])
            .args(["--save", "", "--appendonly", "no"])
            .args(["--dir", dir.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn redis-server");
        let node = RealNode { child, port, dir };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let config = Config::default().host("127.0.0.1").port(port);
            if let Ok(c) = Connection::connect(&config).await {
                if c.send_command(Cmd::new("PING")).await.is_ok() {
                    return node;
                }
            }
            assert!(Instant::now() < deadline, "redis-server did not start");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// `redis-cli --cluster check`: exit status and output.
    fn cli_check(addr: &str) -> (bool, String) {
        let cli = std::env::var("REDISCOVER_REDIS_CLI").unwrap_or_else(|_| "redis-cli".into());
        let out = Command::new(cli)
            .args(["--cluster", "check", addr])
            .output()
            .expect("run redis-cli");
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        (out.status.success(), text)
    }

    fn assert_cli_accepts(addr: &str) {
        let (ok, text) = cli_check(addr);
        assert!(ok, "redis-cli --cluster check failed:\n{text}");
        assert!(
            text.contains("[OK] All nodes agree about slots configuration."),
            "{text}"
        );
        assert!(text.contains("[OK] All 16384 slots covered."), "{text}");
        assert!(!text.contains("[WARNING]"), "{text}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn real_redis_create_reshard_rebalance_check() {
        let Ok(server) = std::env::var("REDISCOVER_REAL_REDIS_SERVER") else {
            eprintln!("skipped: set REDISCOVER_REAL_REDIS_SERVER to run");
            return;
        };
        let mut nodes = Vec::new();
        for _ in 0..6 {
            nodes.push(start(&server).await);
        }
        let addrs: Vec<String> = nodes.iter().map(|n| n.addr()).collect();
        let admin = ClusterAdmin::default().join_timeout(Duration::from_secs(60));
        let view = admin
            .create(&addrs, &CreateOptions::default().replicas(1))
            .await
            .unwrap();
        assert_eq!(view.masters().count(), 3);
        wait_ok(&admin, &addrs).await;
        assert_cli_accepts(&addrs[0]);

        // Some keys, then a reshard of 500 slots to the first master, reading them back.
        let mut router = Router::new(&addrs[0]);
        let keys: Vec<String> = (0..300).map(|i| format!("k:{i}")).collect();
        for k in &keys {
            router.run(&["SET", k, k]).await;
        }
        let first = view.masters().next().unwrap().id.clone();
        let report = admin
            .reshard(
                &addrs[0],
                &ReshardOptions::new(500, Sources::All, first.clone()),
            )
            .await
            .unwrap();
        assert_eq!(report.moved.len(), 500);
        wait_ok(&admin, &addrs).await;
        assert_cli_accepts(&addrs[0]);
        // The library's check agrees with redis-cli's.
        assert!(admin.check(&addrs[0]).await.unwrap().is_ok());
        for k in &keys {
            assert_eq!(router.run(&["GET", k]).await, Frame::bulk(k));
        }

        // Rebalance (threshold 1%) evens it out again.
        let report = admin
            .rebalance(&addrs[0], &RebalanceOptions::default().threshold(1.0))
            .await
            .unwrap();
        assert!(report.needed);
        wait_ok(&admin, &addrs).await;
        assert_cli_accepts(&addrs[0]);
        let view = admin.load(&addrs[0]).await.unwrap();
        for m in view.masters() {
            let n = m.slots.len();
            assert!((5460..=5462).contains(&n), "{n}");
        }
        for k in &keys {
            assert_eq!(router.run(&["GET", k]).await, Frame::bulk(k));
        }

        // An open slot made by hand: both checks see it, fix closes it, both accept.
        let owner = view.slot_owner(42).unwrap().clone();
        let other = view.masters().find(|m| m.id != owner.id).unwrap().clone();
        call(
            &other.addr(),
            &["CLUSTER", "SETSLOT", "42", "IMPORTING", &owner.id],
        )
        .await;
        call(
            &owner.addr(),
            &["CLUSTER", "SETSLOT", "42", "MIGRATING", &other.id],
        )
        .await;
        let report = admin.check(&addrs[0]).await.unwrap();
        assert_eq!(report.open_slots.iter().copied().collect::<Vec<_>>(), [42]);
        let (ok, text) = cli_check(&addrs[0]);
        assert!(
            !ok && text.contains("The following slots are open: 42"),
            "{text}"
        );
        admin.fix(&addrs[0], &FixOptions::default()).await.unwrap();
        wait_ok(&admin, &addrs).await;
        assert_cli_accepts(&addrs[0]);
    }
}
