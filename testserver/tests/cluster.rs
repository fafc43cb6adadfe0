//! Cluster commands and redirections on in-process nodes, checked byte for byte where Redis
//! 7.0.15's replies were captured (`tests/fixtures/cluster/`).

mod common;

use std::time::Duration;

use common::RawConn;
use rediscover_testserver::config::{Config, Timers};
use rediscover_testserver::{TestCluster, TestServer};

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/cluster/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

async fn lone_node() -> TestServer {
    lone_node_with(Timers::default()).await
}

async fn lone_node_with(timers: Timers) -> TestServer {
    let config = Config {
        cluster_enabled: true,
        timers,
        ..Config::in_process()
    };
    TestServer::builder().config(config).start().await.unwrap()
}

#[tokio::test]
async fn a_fresh_node_answers_like_redis() {
    let node = lone_node().await;
    let mut c = RawConn::connect(node.addr()).await;
    assert_eq!(
        c.call(&["CLUSTER", "HELP"]).await,
        fixture("cluster_help.resp")
    );
    let info = text(&c.call(&["CLUSTER", "INFO"]).await);
    // A fresh node: state fail, size 1 until its first state update after the writable
    // delay (Redis's clusterInit sets size = 1).
    let body = "cluster_state:fail\r\ncluster_slots_assigned:0\r\ncluster_slots_ok:0\r\n\
         cluster_slots_pfail:0\r\ncluster_slots_fail:0\r\ncluster_known_nodes:1\r\n\
         cluster_size:1\r\ncluster_current_epoch:0\r\ncluster_my_epoch:0\r\n\
         cluster_stats_messages_sent:0\r\ncluster_stats_messages_received:0\r\n\
         total_cluster_links_buffer_limit_exceeded:0\r\n";
    assert_eq!(info, format!("${}\r\n{body}\r\n", body.len()));
    let id = c.call(&["CLUSTER", "MYID"]).await;
    let id = text(&id[5..45]);
    let nodes = text(&c.call(&["CLUSTER", "NODES"]).await);
    let bus = node.bus_addr().unwrap().port();
    let line = format!(
        "{id} :{}@{bus} myself,master - 0 0 0 connected\n",
        node.addr().port()
    );
    assert_eq!(nodes, format!("${}\r\n{line}\r\n", line.len()));
    assert_eq!(c.call(&["CLUSTER", "SLOTS"]).await, b"*0\r\n");
    assert_eq!(c.call(&["CLUSTER", "LINKS"]).await, b"*0\r\n");
    assert_eq!(c.call(&["CLUSTER", "KEYSLOT", "foo"]).await, b":12182\r\n");
    assert_eq!(
        c.call(&["CLUSTER", "KEYSLOT", "{user1000}.following"])
            .await,
        c.call(&["CLUSTER", "KEYSLOT", "{user1000}.followers"])
            .await
    );
    // Keyed commands on a slot nobody serves.
    assert_eq!(
        c.call(&["GET", "foo"]).await,
        b"-CLUSTERDOWN Hash slot not served\r\n"
    );
    assert_eq!(c.call(&["PING"]).await, b"+PONG\r\n");
    // INFO says cluster mode.
    let info = text(&c.call(&["INFO", "cluster"]).await);
    assert!(info.contains("cluster_enabled:1"), "{info}");
}

#[tokio::test]
async fn bad_input_gets_redis_errors() {
    let node = lone_node_with(Timers::default().faster(50)).await;
    let mut c = RawConn::connect(node.addr()).await;
    let cases: &[(&[&str], &str)] = &[
        (&["CLUSTER"], "-ERR wrong number of arguments for 'cluster' command"),
        (&["CLUSTER", "FOO"], "-ERR unknown subcommand 'FOO'. Try CLUSTER HELP."),
        (&["CLUSTER", "SETSLOT", "1"], "-ERR wrong number of arguments for 'cluster|setslot' command"),
        (&["CLUSTER", "ADDSLOTS", "x"], "-ERR Invalid or out of range slot"),
        (&["CLUSTER", "ADDSLOTS", "16384"], "-ERR Invalid or out of range slot"),
        (&["CLUSTER", "ADDSLOTS", "1", "1"], "-ERR Slot 1 specified multiple times"),
        (&["CLUSTER", "DELSLOTS", "5"], "-ERR Slot 5 is already unassigned"),
        (&["CLUSTER", "ADDSLOTSRANGE", "1"], "-ERR wrong number of arguments for 'cluster|addslotsrange' command"),
        (&["CLUSTER", "ADDSLOTSRANGE", "1", "2", "3"], "-ERR wrong number of arguments for 'cluster|addslotsrange' command"),
        (&["CLUSTER", "ADDSLOTSRANGE", "9", "2"], "-ERR start slot number 9 is greater than end slot number 2"),
        (&["CLUSTER", "COUNTKEYSINSLOT", "x"], "-ERR value is not an integer or out of range"),
        (&["CLUSTER", "COUNTKEYSINSLOT", "-1"], "-ERR Invalid slot"),
        (&["CLUSTER", "GETKEYSINSLOT", "1", "-1"], "-ERR Invalid slot or number of keys"),
        (&["CLUSTER", "SETSLOT", "1", "MIGRATING", "abc"], "-ERR I'm not the owner of hash slot 1"),
        (&["CLUSTER", "SETSLOT", "1", "IMPORTING", "abc"], "-ERR I don't know about node abc"),
        (&["CLUSTER", "SETSLOT", "1", "NODE", "abc"], "-ERR Unknown node abc"),
        (&["CLUSTER", "SETSLOT", "1", "BOGUS"], "-ERR Invalid CLUSTER SETSLOT action or number of arguments. Try CLUSTER HELP"),
        (&["CLUSTER", "SETSLOT", "99999", "STABLE"], "-ERR Invalid or out of range slot"),
        (&["CLUSTER", "FORGET", "abc"], "-ERR Unknown node abc"),
        (&["CLUSTER", "REPLICATE", "abc"], "-ERR Unknown node abc"),
        (&["CLUSTER", "REPLICAS", "abc"], "-ERR Unknown node abc"),
        (&["CLUSTER", "COUNT-FAILURE-REPORTS", "abc"], "-ERR Unknown node abc"),
        (&["CLUSTER", "FAILOVER", "NOW"], "-ERR syntax error"),
        (&["CLUSTER", "FAILOVER"], "-ERR You should send CLUSTER FAILOVER to a replica"),
        (&["CLUSTER", "FAILOVER", "A", "B"], "-ERR unknown subcommand or wrong number of arguments for 'FAILOVER'. Try CLUSTER HELP."),
        (&["CLUSTER", "RESET", "NOW"], "-ERR syntax error"),
        (&["CLUSTER", "SET-CONFIG-EPOCH", "-1"], "-ERR Invalid config epoch specified: -1"),
        (&["CLUSTER", "MEET", "nohost", "7000"], "-ERR Invalid node address specified: nohost:7000"),
        (&["CLUSTER", "MEET", "127.0.0.1", "x"], "-ERR Invalid TCP base port specified: x"),
        (&["CLUSTER", "MEET", "127.0.0.1", "7000", "y"], "-ERR Invalid TCP bus port specified: y"),
        (&["CLUSTER", "MEET", "127.0.0.1", "70000"], "-ERR Invalid node address specified: 127.0.0.1:70000"),
        (&["SELECT", "1"], "-ERR SELECT is not allowed in cluster mode"),
        (&["SWAPDB", "0", "1"], "-ERR SWAPDB is not allowed in cluster mode"),
        (&["REPLICAOF", "127.0.0.1", "1"], "-ERR REPLICAOF not allowed in cluster mode."),
        // Routing comes first: a key of an unserved slot.
        (&["MIGRATE", "h", "1", "k", "0", "10", "AUTH"], "-CLUSTERDOWN Hash slot not served"),
    ];
    for (argv, want) in cases {
        assert_eq!(text(&c.call(argv).await), format!("{want}\r\n"), "{argv:?}");
    }
    assert_eq!(c.call(&["SELECT", "0"]).await, b"+OK\r\n");
    assert_eq!(c.call(&["CLUSTER", "ADDSLOTS", "5"]).await, b"+OK\r\n");
    assert_eq!(
        c.call(&["CLUSTER", "ADDSLOTS", "5"]).await,
        b"-ERR Slot 5 is already busy\r\n"
    );
    assert_eq!(
        c.call(&["CLUSTER", "SETSLOT", "5", "IMPORTING", "abc"])
            .await,
        b"-ERR I'm already the owner of hash slot 5\r\n"
    );
    let id = c.call(&["CLUSTER", "MYID"]).await;
    let id = text(&id[5..45]);
    assert_eq!(
        text(&c.call(&["CLUSTER", "FORGET", &id]).await),
        "-ERR I tried hard but I can't forget myself...\r\n"
    );
    assert_eq!(
        text(&c.call(&["CLUSTER", "REPLICATE", &id]).await),
        "-ERR Can't replicate myself\r\n"
    );
    assert_eq!(
        c.call(&["CLUSTER", "SET-CONFIG-EPOCH", "7"]).await,
        b"+OK\r\n"
    );
    assert_eq!(
        c.call(&["CLUSTER", "SET-CONFIG-EPOCH", "8"]).await,
        b"-ERR Node config epoch is already non-zero\r\n"
    );
    assert_eq!(c.call(&["CLUSTER", "BUMPEPOCH"]).await, b"+STILL 7\r\n");
    // Keys in slot 5 block FLUSHSLOTS and a SETSLOT NODE elsewhere.
    let key = "{zn}"; // slot of "zn"
    let slot = rediscover::slot::key_slot(b"zn");
    assert_eq!(
        c.call(&["CLUSTER", "ADDSLOTS", &slot.to_string()]).await,
        b"+OK\r\n"
    );
    // Without full coverage the node is down...
    assert_eq!(
        c.call(&["SET", key, "v"]).await,
        b"-CLUSTERDOWN The cluster is down\r\n"
    );
    // ...unless it does not require it.
    assert_eq!(
        c.call(&["CONFIG", "SET", "cluster-require-full-coverage", "no"])
            .await,
        b"+OK\r\n"
    );
    let addr = node.addr();
    assert!(
        common::wait_until(Duration::from_secs(5), || async move {
            let info = RawConn::connect(addr)
                .await
                .call(&["CLUSTER", "INFO"])
                .await;
            text(&info).contains("cluster_state:ok")
        })
        .await
    );
    assert_eq!(c.call(&["SET", key, "v"]).await, b"+OK\r\n");
    assert_eq!(
        c.call(&["CLUSTER", "FLUSHSLOTS"]).await,
        b"-ERR DB must be empty to perform CLUSTER FLUSHSLOTS.\r\n"
    );
    assert_eq!(
        c.call(&["CLUSTER", "COUNTKEYSINSLOT", &slot.to_string()])
            .await,
        b":1\r\n"
    );
    assert_eq!(
        text(
            &c.call(&["CLUSTER", "GETKEYSINSLOT", &slot.to_string(), "10"])
                .await
        ),
        "*1\r\n$4\r\n{zn}\r\n"
    );
    assert_eq!(
        c.call(&["CLUSTER", "RESET"]).await,
        b"-ERR CLUSTER RESET can't be called with master nodes containing keys\r\n"
    );
    assert_eq!(
        c.call(&["MIGRATE", "127.0.0.1", "1", "{zn}nokey", "0", "10"])
            .await,
        b"+NOKEY\r\n"
    );
    assert_eq!(c.call(&["DEL", key]).await, b":1\r\n");
    assert_eq!(c.call(&["CLUSTER", "FLUSHSLOTS"]).await, b"+OK\r\n");
    assert_eq!(c.call(&["CLUSTER", "RESET", "HARD"]).await, b"+OK\r\n");
    let new_id = c.call(&["CLUSTER", "MYID"]).await;
    assert_ne!(text(&new_id[5..45]), id, "RESET HARD takes a new id");
}

#[tokio::test]
async fn migrate_syntax_errors() {
    let node = TestServer::start().await.unwrap();
    let mut c = RawConn::connect(node.addr()).await;
    let cases: &[(&[&str], &str)] = &[
        (
            &["MIGRATE", "h", "1", "k", "0", "10", "AUTH"],
            "-ERR syntax error",
        ),
        (
            &["MIGRATE", "h", "1", "k", "0", "10", "AUTH2", "u"],
            "-ERR syntax error",
        ),
        (
            &["MIGRATE", "h", "1", "k", "0", "10", "NOPE"],
            "-ERR syntax error",
        ),
        (
            &["MIGRATE", "h", "1", "k", "0", "10", "KEYS", "a"],
            "-ERR When using MIGRATE KEYS option, the key argument must be set to the empty string",
        ),
        (
            &["MIGRATE", "h", "1", "k", "x", "10"],
            "-ERR value is not an integer or out of range",
        ),
        (
            &["MIGRATE", "h", "1", "k", "0", "x"],
            "-ERR value is not an integer or out of range",
        ),
        (&["MIGRATE", "h", "1", "k", "0", "10"], "+NOKEY"),
    ];
    for (argv, want) in cases {
        assert_eq!(text(&c.call(argv).await), format!("{want}\r\n"), "{argv:?}");
    }
}

#[tokio::test]
async fn cluster_support_disabled() {
    let node = TestServer::start().await.unwrap();
    let mut c = RawConn::connect(node.addr()).await;
    for argv in [
        &["CLUSTER", "INFO"][..],
        &["CLUSTER", "HELP"],
        &["READONLY"],
        &["READWRITE"],
        &["ASKING"],
    ] {
        assert_eq!(
            c.call(argv).await,
            b"-ERR This instance has cluster support disabled\r\n"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_of_every_kind() {
    let cluster = TestCluster::builder()
        .masters(3)
        .replicas_per_master(1)
        .start()
        .await
        .unwrap();
    let owner = cluster.master_of_key(b"foo").unwrap();
    let other = cluster.masters().into_iter().find(|&m| m != owner).unwrap();
    let owner_port = cluster.node(owner).addr().port();
    let mut o = RawConn::connect(cluster.node(owner).addr()).await;
    let mut x = RawConn::connect(cluster.node(other).addr()).await;
    let moved = format!("-MOVED 12182 127.0.0.1:{owner_port}\r\n");
    assert_eq!(text(&x.call(&["GET", "foo"]).await), moved);
    assert_eq!(text(&x.call(&["SET", "foo", "1"]).await), moved);
    assert_eq!(o.call(&["SET", "foo", "bar"]).await, b"+OK\r\n");
    // CROSSSLOT before anything else; same slot (hash tags) is fine.
    assert_eq!(
        o.call(&["MSET", "foo", "1", "bar", "2"]).await,
        fixture("crossslot_mset_on_7000.resp")
    );
    assert_eq!(
        o.call(&["MGET", "foo", "bar"]).await,
        fixture("crossslot_mget_on_7000.resp")
    );
    assert_eq!(
        o.call(&["MSET", "{foo}a", "1", "{foo}b", "2"]).await,
        b"+OK\r\n"
    );
    assert_eq!(
        o.call(&["MGET", "foo", "foo"]).await,
        b"*2\r\n$3\r\nbar\r\n$3\r\nbar\r\n"
    );
    // A container command's key (OBJECT ENCODING k) is routed too.
    assert_eq!(text(&x.call(&["OBJECT", "ENCODING", "foo"]).await), moved);
    // Replica: MOVED without READONLY, reads with it, writes still MOVED.
    let replica = cluster.replicas_of(owner)[0];
    let mut r = RawConn::connect(cluster.node(replica).addr()).await;
    assert_eq!(text(&r.call(&["GET", "foo"]).await), moved);
    assert_eq!(r.call(&["READONLY"]).await, fixture("readonly_reply.resp"));
    common::wait_until(Duration::from_secs(5), || {
        let addr = cluster.node(replica).addr();
        async move { RawConn::connect(addr).await.call(&["READONLY"]).await == b"+OK\r\n" }
    })
    .await;
    let mut got = Vec::new();
    for _ in 0..500 {
        got = r.call(&["GET", "foo"]).await;
        if got == b"$3\r\nbar\r\n" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert_eq!(text(&got), "$3\r\nbar\r\n");
    assert_eq!(text(&r.call(&["SET", "foo", "x"]).await), moved);
    assert_eq!(r.call(&["READWRITE"]).await, b"+OK\r\n");
    assert_eq!(text(&r.call(&["GET", "foo"]).await), moved);
    // MULTI: a queued command for another node is refused with MOVED, EXEC then aborts.
    assert_eq!(x.call(&["MULTI"]).await, b"+OK\r\n");
    assert_eq!(text(&x.call(&["SET", "foo", "1"]).await), moved);
    assert_eq!(
        x.call(&["EXEC"]).await,
        b"-EXECABORT Transaction discarded because of previous errors.\r\n"
    );
    // Keys of different slots across a transaction: CROSSSLOT at EXEC, transaction gone.
    assert_eq!(o.call(&["MULTI"]).await, b"+OK\r\n");
    assert_eq!(o.call(&["GET", "foo"]).await, b"+QUEUED\r\n");
    assert_eq!(o.call(&["GET", "{foo}a"]).await, b"+QUEUED\r\n");
    assert_eq!(
        text(&o.call(&["EXEC"]).await),
        "*2\r\n$3\r\nbar\r\n$1\r\n1\r\n"
    );

    // A slot half-migrated from `owner` to `other`.
    let from = cluster.begin_slot_migration(12182, other).await.unwrap();
    assert_eq!(from, owner);
    let other_port = cluster.node(other).addr().port();
    // Present keys are served by the source; absent ones are asked elsewhere.
    assert_eq!(o.call(&["GET", "foo"]).await, b"$3\r\nbar\r\n");
    assert_eq!(
        text(&o.call(&["GET", "{foo}missing"]).await),
        format!("-ASK 12182 127.0.0.1:{other_port}\r\n")
    );
    assert_eq!(
        o.call(&["MGET", "foo", "{foo}missing"]).await,
        b"-TRYAGAIN Multiple keys request during rehashing of slot\r\n"
    );
    // The target serves the slot only right after ASKING, once.
    assert_eq!(text(&x.call(&["GET", "{foo}missing"]).await), moved);
    assert_eq!(x.call(&["ASKING"]).await, fixture("asking_reply.resp"));
    assert_eq!(x.call(&["GET", "{foo}missing"]).await, b"$-1\r\n");
    assert_eq!(text(&x.call(&["GET", "{foo}missing"]).await), moved);
    assert_eq!(x.call(&["ASKING"]).await, b"+OK\r\n");
    assert_eq!(
        x.call(&["MGET", "{foo}m1", "{foo}m2"]).await,
        b"-TRYAGAIN Multiple keys request during rehashing of slot\r\n"
    );
    // The source's CLUSTER NODES line shows the migration.
    let nodes = text(&o.call(&["CLUSTER", "NODES"]).await);
    let myself = nodes
        .lines()
        .find(|l| l.contains("myself"))
        .unwrap()
        .to_string();
    let other_id = cluster.node_id(other);
    assert!(
        myself.ends_with(&format!(" [12182->-{other_id}]")),
        "{myself}"
    );
    // Move the keys, close the migration: the target owns the slot.
    let moved_keys = cluster
        .move_slot_keys(12182, owner, other, 10)
        .await
        .unwrap();
    assert_eq!(moved_keys, 3);
    cluster
        .finish_slot_migration(12182, owner, other)
        .await
        .unwrap();
    cluster.wait_stable().await.unwrap();
    assert_eq!(x.call(&["GET", "foo"]).await, b"$3\r\nbar\r\n");
    assert_eq!(
        text(&o.call(&["GET", "foo"]).await),
        format!("-MOVED 12182 127.0.0.1:{other_port}\r\n")
    );
    assert_eq!(
        o.call(&["CLUSTER", "COUNTKEYSINSLOT", "12182"]).await,
        b":0\r\n"
    );
}

/// A reply with what differs between clusters masked: node ids, ports, offsets.
fn shape(frame: &rediscover::resp::Frame) -> String {
    use rediscover::resp::Frame;
    fn walk(f: &Frame, mask_next: bool, out: &mut String) {
        match f {
            Frame::Bulk(b) if b.len() == 40 => out.push_str("<id> "),
            Frame::Integer(_) if mask_next => out.push_str("<n> "),
            Frame::Bulk(b) => out.push_str(&format!("{:?} ", String::from_utf8_lossy(b))),
            Frame::Integer(n) => out.push_str(&format!("{n} ")),
            Frame::Array(items) | Frame::Push(items) | Frame::Set(items) => {
                out.push_str(&format!("[{} ", items.len()));
                // A node entry [ip, port, id, {..}], or flat field/value pairs.
                let node_entry = items.len() == 4 && matches!(items[1], Frame::Integer(_));
                let mut prev_key = String::new();
                for (i, it) in items.iter().enumerate() {
                    let mask = (node_entry && i == 1)
                        || matches!(prev_key.as_str(), "port" | "replication-offset");
                    walk(it, mask, out);
                    prev_key = match it {
                        Frame::Bulk(b) => String::from_utf8_lossy(b).into_owned(),
                        _ => String::new(),
                    };
                }
                out.push_str("] ");
            }
            Frame::Map(pairs) => {
                out.push_str(&format!("{{{} ", pairs.len()));
                for (k, v) in pairs {
                    walk(k, false, out);
                    let key = match k {
                        Frame::Bulk(b) => String::from_utf8_lossy(b).into_owned(),
                        _ => String::new(),
                    };
                    walk(
                        v,
                        matches!(key.as_str(), "port" | "replication-offset"),
                        out,
                    );
                }
                out.push_str("} ");
            }
            other => out.push_str(&format!("{other:?} ")),
        }
    }
    let mut out = String::new();
    walk(frame, false, &mut out);
    out
}

fn decode_all(raw: &[u8]) -> rediscover::resp::Frame {
    rediscover::resp::decode(
        &mut bytes::BytesMut::from(raw),
        &rediscover::resp::Limits::default(),
    )
    .unwrap()
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slots_and_shards_have_redis_shape_in_resp2_and_resp3() {
    let cluster = TestCluster::builder()
        .masters(3)
        .replicas_per_master(1)
        .start()
        .await
        .unwrap();
    // Replicas with offset 0 are left out of CLUSTER SLOTS (as "loading"): write to every
    // master and wait until the offsets travelled over the bus.
    for m in cluster.masters() {
        let mut c = RawConn::connect(cluster.node(m).addr()).await;
        let slot = (0..)
            .map(|i| format!("k{i}"))
            .find(|k| cluster.master_of_key(k.as_bytes()) == Some(m))
            .unwrap();
        assert_eq!(c.call(&["SET", &slot, "v"]).await, b"+OK\r\n");
    }
    cluster.wait_stable().await.unwrap();
    // The node on slots 0-5460 answers, like port 7000 in the captures.
    let first = cluster.master_of_slot(0).unwrap();
    let addr = cluster.node(first).addr();
    assert!(
        common::wait_until(Duration::from_secs(10), || async move {
            let raw = RawConn::connect(addr)
                .await
                .call(&["CLUSTER", "SLOTS"])
                .await;
            text(&raw).matches("*4\r\n:").count() == 3
                && shape(&decode_all(&raw)) == shape(&decode_all(&fixture("cluster_slots.resp")))
        })
        .await,
        "CLUSTER SLOTS like Redis's:\n{}\nvs\n{}",
        shape(&decode_all(
            &RawConn::connect(addr)
                .await
                .call(&["CLUSTER", "SLOTS"])
                .await
        )),
        shape(&decode_all(&fixture("cluster_slots.resp")))
    );
    let mut c = RawConn::connect(addr).await;
    // Shards come in node-table order: compare them as a set of shapes.
    let sorted_shards = |raw: &[u8]| {
        let rediscover::resp::Frame::Array(items) = decode_all(raw) else {
            panic!("shards: {}", text(raw))
        };
        let mut v: Vec<String> = items.iter().map(shape).collect();
        v.sort();
        v
    };
    assert_eq!(
        sorted_shards(&c.call(&["CLUSTER", "SHARDS"]).await),
        sorted_shards(&fixture("cluster_shards.resp"))
    );
    // RESP3: maps and verbatim strings.
    c.call(&["HELLO", "3"]).await;
    assert_eq!(
        shape(&decode_all(&c.call(&["CLUSTER", "SLOTS"]).await)),
        shape(&decode_all(&fixture("cluster_slots.resp3.resp")))
    );
    assert_eq!(
        sorted_shards(&c.call(&["CLUSTER", "SHARDS"]).await),
        sorted_shards(&fixture("cluster_shards.resp3.resp"))
    );
    let info = c.call(&["CLUSTER", "INFO"]).await;
    assert!(text(&info).starts_with('='), "{}", text(&info));
    assert!(
        text(&info).contains("\r\ntxt:cluster_state:ok\r\n")
            || text(&info).contains("txt:cluster_state:ok\r\n")
    );
    // CLUSTER INFO lists the same fields, in the same order, as Redis's.
    let field_names = |raw: &[u8]| -> Vec<String> {
        text(raw)
            .split("\r\n")
            .filter_map(|l| {
                l.split_once(':')
                    .map(|(k, _)| k.trim_start_matches("txt:").to_string())
            })
            .filter(|k| !k.starts_with('=') && !k.starts_with('$'))
            .collect()
    };
    let ours = field_names(&info);
    let theirs = field_names(&fixture("cluster_info.resp3.resp"));
    let fixed = |v: &[String]| -> Vec<String> {
        v.iter()
            .filter(|k| !k.starts_with("cluster_stats_messages_"))
            .cloned()
            .collect()
    };
    assert_eq!(fixed(&ours), fixed(&theirs));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocked_client_is_redirected_when_its_slot_moves() {
    let cluster = TestCluster::builder().masters(3).start().await.unwrap();
    let slot = rediscover::slot::key_slot(b"queue");
    let from = cluster.master_of_slot(slot).unwrap();
    let to = cluster.masters().into_iter().find(|&m| m != from).unwrap();
    let mut blocked = RawConn::connect(cluster.node(from).addr()).await;
    blocked.send(&["BLPOP", "queue", "0"]).await;
    // Let the BLPOP park before the slot moves.
    assert!(
        common::wait_until(Duration::from_secs(5), || async {
            let mut c = RawConn::connect(cluster.node(from).addr()).await;
            text(&c.call(&["CLIENT", "LIST"]).await).contains("cmd=blpop")
        })
        .await
    );
    cluster.migrate_slot(slot, to).await.unwrap();
    let port = cluster.node(to).addr().port();
    assert_eq!(
        text(&blocked.read_raw().await),
        format!("-MOVED {slot} 127.0.0.1:{port}\r\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostnames_travel_in_the_ping_extension() {
    let cluster = TestCluster::builder().masters(3).start().await.unwrap();
    let owner = cluster.master_of_key(b"foo").unwrap();
    let other = cluster.masters().into_iter().find(|&m| m != owner).unwrap();
    let mut o = RawConn::connect(cluster.node(owner).addr()).await;
    assert_eq!(
        o.call(&["CONFIG", "SET", "cluster-announce-hostname", "bad_name"])
            .await[..4],
        b"-ERR"[..]
    );
    assert_eq!(
        o.call(&[
            "CONFIG",
            "SET",
            "cluster-announce-hostname",
            "node-a.example"
        ])
        .await,
        b"+OK\r\n"
    );
    let mut x = RawConn::connect(cluster.node(other).addr()).await;
    assert_eq!(
        x.call(&[
            "CONFIG",
            "SET",
            "cluster-preferred-endpoint-type",
            "hostname"
        ])
        .await,
        b"+OK\r\n"
    );
    let port = cluster.node(owner).addr().port();
    let want = format!("-MOVED 12182 node-a.example:{port}\r\n");
    let addr = cluster.node(other).addr();
    let want2 = want.clone();
    assert!(
        common::wait_until(Duration::from_secs(10), || {
            let want = want2.clone();
            async move { text(&RawConn::connect(addr).await.call(&["GET", "foo"]).await) == want }
        })
        .await,
        "{}",
        text(&x.call(&["GET", "foo"]).await)
    );
    let nodes = text(&x.call(&["CLUSTER", "NODES"]).await);
    assert!(
        nodes.contains(&format!(":{port}@")) && nodes.contains(",node-a.example "),
        "{nodes}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_between_standalone_nodes_and_inside_a_transaction() {
    let (a, b) = (
        TestServer::start().await.unwrap(),
        TestServer::start().await.unwrap(),
    );
    let mut ca = RawConn::connect(a.addr()).await;
    let mut cb = RawConn::connect(b.addr()).await;
    let port = b.addr().port().to_string();
    assert_eq!(ca.call(&["SELECT", "3"]).await, b"+OK\r\n");
    assert_eq!(ca.call(&["RPUSH", "l", "x", "y"]).await, b":2\r\n");
    // From db 3 here to db 5 there, with a plain RESTORE (not in cluster mode).
    assert_eq!(
        ca.call(&["MIGRATE", "127.0.0.1", &port, "l", "5", "5000"])
            .await,
        b"+OK\r\n"
    );
    assert_eq!(ca.call(&["EXISTS", "l"]).await, b":0\r\n");
    assert_eq!(cb.call(&["SELECT", "5"]).await, b"+OK\r\n");
    assert_eq!(
        cb.call(&["LRANGE", "l", "0", "-1"]).await,
        b"*2\r\n$1\r\nx\r\n$1\r\ny\r\n"
    );
    // Inside MULTI/EXEC the reply comes in its place in EXEC's array.
    assert_eq!(ca.call(&["SET", "s", "1"]).await, b"+OK\r\n");
    assert_eq!(ca.call(&["MULTI"]).await, b"+OK\r\n");
    assert_eq!(
        ca.call(&["MIGRATE", "127.0.0.1", &port, "s", "5", "5000"])
            .await,
        b"+QUEUED\r\n"
    );
    assert_eq!(ca.call(&["EXISTS", "s"]).await, b"+QUEUED\r\n");
    assert_eq!(ca.call(&["EXEC"]).await, b"*2\r\n+OK\r\n:0\r\n");
    assert_eq!(cb.call(&["GET", "s"]).await, b"$1\r\n1\r\n");
    // The key is there already: BUSYKEY from the target, nothing deleted here.
    assert_eq!(ca.call(&["SET", "s", "2"]).await, b"+OK\r\n");
    assert_eq!(
        text(
            &ca.call(&["MIGRATE", "127.0.0.1", &port, "s", "5", "5000"])
                .await
        ),
        "-ERR Target instance replied with error: BUSYKEY Target key name already exists.\r\n"
    );
    assert_eq!(ca.call(&["GET", "s"]).await, b"$1\r\n2\r\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn colliding_config_epochs_are_resolved_over_the_bus() {
    // Two masters created without SET-CONFIG-EPOCH: both at epoch 0 after they meet.
    let timers = Timers::default().faster(25);
    let (a, b) = (
        lone_node_with(timers.clone()).await,
        lone_node_with(timers).await,
    );
    let mut ca = RawConn::connect(a.addr()).await;
    let mut cb = RawConn::connect(b.addr()).await;
    assert_eq!(
        ca.call(&["CLUSTER", "ADDSLOTSRANGE", "0", "8191"]).await,
        b"+OK\r\n"
    );
    assert_eq!(
        cb.call(&["CLUSTER", "ADDSLOTSRANGE", "8192", "16383"])
            .await,
        b"+OK\r\n"
    );
    let port = b.addr().port().to_string();
    let bus = b.bus_addr().unwrap().port().to_string();
    assert_eq!(
        ca.call(&["CLUSTER", "MEET", "127.0.0.1", &port, &bus])
            .await,
        b"+OK\r\n"
    );
    let epoch = |raw: Vec<u8>| -> String {
        text(&raw)
            .lines()
            .find_map(|l| l.strip_prefix("cluster_my_epoch:").map(str::to_string))
            .unwrap_or_default()
    };
    let (aa, ba) = (a.addr(), b.addr());
    assert!(
        common::wait_until(Duration::from_secs(10), || async move {
            let ea = epoch(RawConn::connect(aa).await.call(&["CLUSTER", "INFO"]).await);
            let eb = epoch(RawConn::connect(ba).await.call(&["CLUSTER", "INFO"]).await);
            ea != eb && (ea == "1" || eb == "1")
        })
        .await,
        "the node with the smaller id moves to epoch 1"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_reports_replicas_saveconfig_and_forget() {
    let cluster = TestCluster::builder()
        .masters(3)
        .node_timeout(300)
        .start()
        .await
        .unwrap();
    let mut a = RawConn::connect(cluster.node(0).addr()).await;
    // A link to and from each of the two others.
    let links = decode_all(&a.call(&["CLUSTER", "LINKS"]).await);
    let rediscover::resp::Frame::Array(links) = links else {
        panic!()
    };
    assert_eq!(links.len(), 4);
    let s = shape(&rediscover::resp::Frame::Array(links));
    assert_eq!(s.matches("\"direction\" \"to\"").count(), 2, "{s}");
    assert_eq!(s.matches("\"direction\" \"from\"").count(), 2, "{s}");
    // No replicas.
    let b_id = cluster.node_id(1);
    assert_eq!(a.call(&["CLUSTER", "REPLICAS", &b_id]).await, b"*0\r\n");
    assert_eq!(a.call(&["CLUSTER", "SAVECONFIG"]).await, b"+OK\r\n");
    let conf = std::fs::read_to_string(
        std::path::Path::new(&cluster.node(0).node().lock().config.dir).join("nodes.conf"),
    )
    .unwrap();
    assert_eq!(conf.lines().count(), 4, "{conf}");
    // A frozen master is reported by the others.
    cluster.freeze(2);
    let c_id = cluster.node_id(2);
    let addr = cluster.node(0).addr();
    let c2 = c_id.clone();
    assert!(
        common::wait_until(Duration::from_secs(10), || {
            let c = c2.clone();
            async move {
                RawConn::connect(addr)
                    .await
                    .call(&["CLUSTER", "COUNT-FAILURE-REPORTS", &c])
                    .await
                    == b":1\r\n"
            }
        })
        .await
    );
    cluster.thaw(2);
    // FORGET is local, and gossip does not bring the node back for a minute.
    assert_eq!(a.call(&["CLUSTER", "FORGET", &c_id]).await, b"+OK\r\n");
    let nodes = text(&a.call(&["CLUSTER", "NODES"]).await);
    assert!(!nodes.contains(&c_id), "{nodes}");
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let nodes = text(&a.call(&["CLUSTER", "NODES"]).await);
        assert!(!nodes.contains(&c_id), "re-added by gossip: {nodes}");
    }
    // DELSLOTSRANGE unassigns; the slots are then not served here.
    assert_eq!(
        a.call(&["CLUSTER", "DELSLOTSRANGE", "0", "9"]).await,
        b"+OK\r\n"
    );
    assert_eq!(
        a.call(&["GET", "{06S}"]).await,
        b"-CLUSTERDOWN Hash slot not served\r\n"
    );
}
