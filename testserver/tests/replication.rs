//! Replication between in-process nodes: full and partial resync, backlog overflow, chained
//! replicas, promotion with PSYNC2 continuation, WAIT, min-replicas, read-only replicas,
//! expiry, INFO and ROLE, faults on the link, and a corrupt snapshot from a master.

mod common;

use std::time::Duration;

use common::dataset::{call, dump_data, info_field, ok, populate};
use common::{connect, RawConn, TestServer};
use rediscover::resp::Frame;
use rediscover_testserver::config::Config;
use rediscover_testserver::topology::{poll_until, ReplicationSet};

const DEADLINE: Duration = Duration::from_secs(10);

async fn info(conn: &mut RawConn, field: &str) -> String {
    let reply = call(conn, &[b"INFO", b"everything"]).await;
    info_field(&reply, field)
}

async fn same_data(a: &TestServer, b: &TestServer) {
    let (mut ca, mut cb) = (connect(a).await, connect(b).await);
    let (da, db) = (dump_data(&mut ca).await, dump_data(&mut cb).await);
    assert!(!da.is_empty(), "empty dataset");
    if da != db {
        let short = |l: &String| l.chars().take(200).collect::<String>();
        let only_a: Vec<_> = da.iter().filter(|l| !db.contains(l)).map(short).collect();
        let only_b: Vec<_> = db.iter().filter(|l| !da.contains(l)).map(short).collect();
        panic!(
            "datasets differ:\n only on {}: {only_a:#?}\n only on {}: {only_b:#?}",
            a.addr(),
            b.addr()
        );
    }
}

fn int(frame: Frame) -> i64 {
    match frame {
        Frame::Integer(n) => n,
        other => panic!("not an integer: {other:?}"),
    }
}

#[tokio::test]
async fn full_sync_copies_every_type_then_streams_writes() {
    let master = TestServer::start().await.unwrap();
    let mut m = connect(&master).await;
    populate(&mut m).await;
    let replica = TestServer::builder()
        .replica_of(master.addr())
        .start()
        .await
        .unwrap();
    let set = ReplicationSet {
        master,
        replicas: vec![replica],
    };
    set.wait_in_sync(DEADLINE).await.unwrap();
    same_data(&set.master, &set.replicas[0]).await;

    // Writes after the snapshot, in several databases and through every kind of rewrite.
    let script: &[&[&[u8]]] = &[
        &[b"SET", b"s", b"1"],
        &[b"SET", b"s:ex", b"v", b"EX", b"1000"],
        &[b"SETEX", b"s:setex", b"1000", b"v"],
        &[b"INCRBYFLOAT", b"f", b"1.5"],
        &[b"HINCRBYFLOAT", b"h", b"f", b"2.5"],
        &[b"EXPIRE", b"s", b"1000"],
        &[b"GETEX", b"s", b"PERSIST"],
        &[b"GETDEL", b"str:small"],
        &[b"SADD", b"pop", b"a", b"b", b"c", b"d"],
        &[b"SPOP", b"pop"],
        &[b"SPOP", b"pop", b"2"],
        &[b"RPUSH", b"q", b"1", b"2", b"3", b"4"],
        &[b"BLPOP", b"q", b"0"],
        &[b"LMPOP", b"1", b"q", b"RIGHT", b"COUNT", b"2"],
        &[b"ZADD", b"z", b"1", b"a", b"2", b"b", b"3", b"c"],
        &[b"BZPOPMIN", b"z", b"0"],
        &[b"ZMPOP", b"1", b"z", b"MAX"],
        &[b"SELECT", b"5"],
        &[b"SET", b"in5", b"five"],
        &[b"MULTI"],
        &[b"INCR", b"counter"],
        &[b"INCR", b"counter"],
        &[b"EXEC"],
        &[b"SELECT", b"0"],
        &[b"DEL", b"list:big", b"nosuchkey"],
        &[b"RENAME", b"hash:small", b"hash:renamed"],
        &[b"SWAPDB", b"3", b"4"],
    ];
    for argv in script {
        ok(&mut m, argv).await;
    }
    set.wait_in_sync(DEADLINE).await.unwrap();
    same_data(&set.master, &set.replicas[0]).await;
    let mut r = connect(&set.replicas[0]).await;
    assert_eq!(info(&mut r, "role").await, "slave");
    assert_eq!(info(&mut r, "master_link_status").await, "up");
    assert_eq!(info(&mut m, "connected_slaves").await, "1");
    assert_eq!(info(&mut m, "sync_full").await, "1");
}

#[tokio::test]
async fn partial_resync_after_a_dropped_link() {
    let set = ReplicationSet::start(1).await.unwrap();
    let mut m = connect(&set.master).await;
    ok(&mut m, &[b"SET", b"before", b"1"]).await;
    set.wait_in_sync(DEADLINE).await.unwrap();

    set.replicas[0].partition_from_master();
    poll_until(DEADLINE, || {
        (set.master.online_replicas() == 0)
            .then_some(())
            .ok_or_else(|| "the master to see the replica go".into())
    })
    .await
    .unwrap();
    for i in 0..100 {
        ok(&mut m, &[b"RPUSH", b"during", i.to_string().as_bytes()]).await;
    }
    set.replicas[0].heal_master_link();
    set.wait_in_sync(DEADLINE).await.unwrap();
    same_data(&set.master, &set.replicas[0]).await;
    assert_eq!(info(&mut m, "sync_full").await, "1");
    assert_eq!(info(&mut m, "sync_partial_ok").await, "1");

    // A link dropped from the master's side continues too.
    set.master.drop_replica_links();
    ok(&mut m, &[b"SET", b"after", b"2"]).await;
    set.wait_in_sync(DEADLINE).await.unwrap();
    same_data(&set.master, &set.replicas[0]).await;
    assert_eq!(info(&mut m, "sync_partial_ok").await, "2");
    assert_eq!(info(&mut m, "sync_full").await, "1");
}

#[tokio::test]
async fn full_resync_when_the_backlog_overflowed() {
    let config = Config {
        repl_backlog_size: 1024,
        ..Config::in_process()
    };
    let set = ReplicationSet::start_with(1, config).await.unwrap();
    let mut m = connect(&set.master).await;
    set.replicas[0].partition_from_master();
    for i in 0..100 {
        ok(&mut m, &[b"SET", format!("k{i}").as_bytes(), &[b'x'; 64]]).await;
    }
    let first = info(&mut m, "repl_backlog_first_byte_offset").await;
    assert!(
        first.parse::<u64>().unwrap() > 1,
        "backlog did not wrap: {first}"
    );
    assert_eq!(info(&mut m, "repl_backlog_histlen").await, "1024");
    set.replicas[0].heal_master_link();
    set.wait_in_sync(DEADLINE).await.unwrap();
    same_data(&set.master, &set.replicas[0]).await;
    assert_eq!(info(&mut m, "sync_full").await, "2");
    assert_eq!(info(&mut m, "sync_partial_err").await, "1");
}

#[tokio::test]
async fn chained_replicas_relay_the_stream_byte_for_byte() {
    let set = ReplicationSet::start(1).await.unwrap();
    let sub = TestServer::builder()
        .replica_of(set.replicas[0].addr())
        .start()
        .await
        .unwrap();
    sub.wait_link_up(DEADLINE).await.unwrap();
    let mut m = connect(&set.master).await;
    populate(&mut m).await;
    ok(&mut m, &[b"SET", b"chained", b"yes"]).await;
    set.wait_in_sync(DEADLINE).await.unwrap();
    let target = set.master.repl_offset();
    poll_until(DEADLINE, || {
        let seen = sub.repl_offset();
        (seen == target)
            .then_some(())
            .ok_or_else(|| format!("sub-replica offset {seen} to reach {target}"))
    })
    .await
    .unwrap();
    same_data(&set.master, &sub).await;
    let replid = |s: &TestServer| s.node().lock().repl.replid.clone();
    assert_eq!(replid(&sub), replid(&set.master));
}

#[tokio::test]
async fn promoted_replica_lets_the_others_continue_with_psync2() {
    let set = ReplicationSet::start(2).await.unwrap();
    let mut m = connect(&set.master).await;
    populate(&mut m).await;
    set.wait_in_sync(DEADLINE).await.unwrap();
    let old_id = set.master.node().lock().repl.replid.clone();

    // Fail over to replica 0: promote it, point the other replica and the old master at it.
    let new_master = &set.replicas[0];
    let mut n = connect(new_master).await;
    ok(&mut n, &[b"REPLICAOF", b"NO", b"ONE"]).await;
    assert_eq!(info(&mut n, "master_replid2").await, old_id);
    let offset = set.master.repl_offset();
    assert_eq!(
        info(&mut n, "second_repl_offset").await,
        (offset + 1).to_string()
    );
    let port = new_master.addr().port().to_string();
    let mut r = connect(&set.replicas[1]).await;
    ok(&mut r, &[b"REPLICAOF", b"127.0.0.1", port.as_bytes()]).await;
    ok(&mut m, &[b"REPLICAOF", b"127.0.0.1", port.as_bytes()]).await;
    ok(&mut n, &[b"SET", b"after-failover", b"1"]).await;

    let ReplicationSet { master, replicas } = set;
    let [promoted, other]: [TestServer; 2] = replicas.try_into().unwrap();
    let set = ReplicationSet {
        master: promoted,
        replicas: vec![other, master],
    };
    set.wait_in_sync(DEADLINE).await.unwrap();
    same_data(&set.master, &set.replicas[0]).await;
    same_data(&set.master, &set.replicas[1]).await;
    // Both followers continued without a full resync.
    assert_eq!(info(&mut n, "sync_partial_ok").await, "2");
    assert_eq!(info(&mut n, "sync_full").await, "0");
}

#[tokio::test]
async fn wait_counts_real_acknowledgements() {
    let set = ReplicationSet::start(2).await.unwrap();
    let mut m = connect(&set.master).await;
    ok(&mut m, &[b"SET", b"k", b"v"]).await;
    assert_eq!(int(call(&mut m, &[b"WAIT", b"2", b"5000"]).await), 2);

    // One replica stops acknowledging: WAIT 2 times out with the one that did.
    set.replicas[1].pause_master_link();
    ok(&mut m, &[b"SET", b"k", b"w"]).await;
    assert_eq!(int(call(&mut m, &[b"WAIT", b"2", b"200"]).await), 1);
    assert_eq!(int(call(&mut m, &[b"WAIT", b"1", b"5000"]).await), 1);
    set.replicas[1].heal_master_link();
    assert_eq!(int(call(&mut m, &[b"WAIT", b"2", b"0"]).await), 2);
    // A client that wrote nothing needs no acknowledgement.
    let mut fresh = connect(&set.master).await;
    assert_eq!(int(call(&mut fresh, &[b"WAIT", b"5", b"1"]).await), 2);
    // After any command, a read too, WAIT waits for the offset the master had then, as Redis
    // sets a client's `woff` after every command: another client's write counts.
    set.replicas[1].pause_master_link();
    ok(&mut m, &[b"SET", b"k", b"x"]).await;
    let mut reader = connect(&set.master).await;
    let _ = call(&mut reader, &[b"GET", b"k"]).await;
    assert_eq!(int(call(&mut reader, &[b"WAIT", b"2", b"100"]).await), 1);
    set.replicas[1].heal_master_link();

    assert_reply!(m, ["WAIT", "1", "-1"], b"-ERR timeout is negative\r\n");
    assert_reply!(
        m,
        ["WAIT", "1", "x"],
        b"-ERR timeout is not an integer or out of range\r\n"
    );
    let mut r = connect(&set.replicas[0]).await;
    let reply = r.call(&["WAIT", "1", "0"]).await;
    assert!(
        reply.starts_with(b"-ERR WAIT cannot be used with replica instances."),
        "{}",
        String::from_utf8_lossy(&reply)
    );
}

#[tokio::test]
async fn min_replicas_refuses_writes_without_enough_good_replicas() {
    let set = ReplicationSet::start(1).await.unwrap();
    let mut m = connect(&set.master).await;
    assert_reply!(
        m,
        ["CONFIG", "SET", "min-replicas-to-write", "2"],
        b"+OK\r\n"
    );
    assert_reply!(
        m,
        ["SET", "k", "v"],
        b"-NOREPLICAS Not enough good replicas to write.\r\n"
    );
    assert_reply!(m, ["GET", "k"], b"$-1\r\n");
    assert_eq!(info(&mut m, "min_slaves_good_slaves").await, "1");
    assert_reply!(
        m,
        ["CONFIG", "SET", "min-replicas-to-write", "1"],
        b"+OK\r\n"
    );
    assert_reply!(m, ["SET", "k", "v"], b"+OK\r\n");
    // A replica that stops acknowledging stops counting after min-replicas-max-lag.
    assert_reply!(
        m,
        ["CONFIG", "SET", "min-replicas-max-lag", "1"],
        b"+OK\r\n"
    );
    set.replicas[0].pause_master_link();
    poll_until(DEADLINE, || {
        let st = set.master.node().lock();
        let good = st.repl.good_replicas(1, std::time::Instant::now());
        (good == 0)
            .then_some(())
            .ok_or_else(|| format!("good replicas {good} to drop to 0"))
    })
    .await
    .unwrap();
    assert_reply!(
        m,
        ["SET", "k", "w"],
        b"-NOREPLICAS Not enough good replicas to write.\r\n"
    );
}

#[tokio::test]
async fn replicas_are_read_only_and_say_so() {
    let set = ReplicationSet::start(1).await.unwrap();
    let mut m = connect(&set.master).await;
    ok(&mut m, &[b"SET", b"k", b"v"]).await;
    set.wait_in_sync(DEADLINE).await.unwrap();
    let mut r = connect(&set.replicas[0]).await;
    assert_reply!(r, ["GET", "k"], b"$1\r\nv\r\n");
    let readonly = b"-READONLY You can't write against a read only replica.\r\n";
    assert_reply!(r, ["SET", "k", "x"], readonly);
    assert_reply!(r, ["MULTI"], b"+OK\r\n");
    assert_reply!(r, ["INCR", "k"], readonly);
    assert_reply!(
        r,
        ["EXEC"],
        b"-EXECABORT Transaction discarded because of previous errors.\r\n"
    );
    assert_reply!(r, ["CONFIG", "SET", "replica-read-only", "no"], b"+OK\r\n");
    assert_reply!(r, ["SET", "local", "1"], b"+OK\r\n");

    // ROLE on both sides.
    let port = set.master.addr().port();
    let offset = set.replicas[0].repl_offset();
    let want = format!(
        "*5\r\n$5\r\nslave\r\n$9\r\n127.0.0.1\r\n:{port}\r\n$9\r\nconnected\r\n:{offset}\r\n"
    );
    assert_reply!(r, ["ROLE"], want.as_bytes());
    assert_eq!(int(call(&mut m, &[b"WAIT", b"1", b"5000"]).await), 1);
    let role = call(&mut m, &[b"ROLE"]).await;
    let Frame::Array(parts) = role else {
        panic!("ROLE: {role:?}")
    };
    assert_eq!(parts[0], Frame::Bulk("master".into()));
    let Frame::Array(replicas) = &parts[2] else {
        panic!("ROLE replicas: {parts:?}")
    };
    let rport = set.replicas[0].addr().port().to_string();
    let Frame::Array(entry) = &replicas[0] else {
        panic!("ROLE replica: {replicas:?}")
    };
    assert_eq!(
        entry[..2],
        [
            Frame::Bulk("127.0.0.1".into()),
            Frame::Bulk(rport.clone().into())
        ]
    );
    let Frame::Bulk(acked) = &entry[2] else {
        panic!("ROLE replica offset: {entry:?}")
    };
    let acked: u64 = std::str::from_utf8(acked).unwrap().parse().unwrap();
    assert!(acked > 0 && acked <= set.master.repl_offset());
    let slave0 = info(&mut m, "slave0").await;
    assert!(
        slave0.starts_with(&format!("ip=127.0.0.1,port={rport},state=online,offset=")),
        "{slave0}"
    );
}

#[tokio::test]
async fn stale_data_is_refused_when_configured() {
    let set = ReplicationSet::start(1).await.unwrap();
    let mut r = connect(&set.replicas[0]).await;
    assert_reply!(
        r,
        ["CONFIG", "SET", "replica-serve-stale-data", "no"],
        b"+OK\r\n"
    );
    set.replicas[0].partition_from_master();
    poll_until(DEADLINE, || {
        (!set.replicas[0].node().lock().link_up())
            .then_some(())
            .ok_or_else(|| "the link to go down".into())
    })
    .await
    .unwrap();
    assert_reply!(
        r,
        ["GET", "k"],
        b"-MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.\r\n"
    );
    assert_reply!(
        r,
        ["PING"],
        b"-MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.\r\n"
    );
    // Commands flagged `stale` still run.
    assert_eq!(info(&mut r, "master_link_status").await, "down");
    assert_reply!(r, ["ECHO", "x"], b"$1\r\nx\r\n");
    set.replicas[0].heal_master_link();
    set.wait_in_sync(DEADLINE).await.unwrap();
    assert_reply!(r, ["GET", "k"], b"$-1\r\n");
}

#[tokio::test]
async fn expiry_is_the_masters_to_decide() {
    let set = ReplicationSet::start(1).await.unwrap();
    let mut m = connect(&set.master).await;
    // As DEBUG SET-ACTIVE-EXPIRE 0: only lazy expiry on the master.
    set.master.node().lock().config.active_expire_enabled = false;
    ok(&mut m, &[b"SET", b"short", b"v", b"PX", b"50"]).await;
    set.wait_in_sync(DEADLINE).await.unwrap();
    let mut r = connect(&set.replicas[0]).await;
    // Past its TTL the key reads as missing on the replica, but stays until the master's DEL.
    poll_until(DEADLINE, || {
        let expired = set.replicas[0].node().lock().dbs[0]
            .is_expired(b"short", rediscover_testserver::node::unix_ms());
        expired
            .then_some(())
            .ok_or_else(|| "the TTL to pass".into())
    })
    .await
    .unwrap();
    assert_reply!(r, ["GET", "short"], b"$-1\r\n");
    assert_reply!(r, ["DBSIZE"], b":1\r\n");
    // The master expires it on access and replicates a DEL.
    assert_reply!(m, ["GET", "short"], b"$-1\r\n");
    set.wait_in_sync(DEADLINE).await.unwrap();
    assert_reply!(r, ["DBSIZE"], b":0\r\n");
}

/// A fake master that answers the handshake and sends `payload` as a snapshot announced as
/// `claimed` bytes long, then closes. Returns its address and a signal per connection.
async fn fake_master(
    payload: Vec<u8>,
    claimed: usize,
) -> (std::net::SocketAddr, tokio::sync::mpsc::Receiver<()>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let _ = tx.send(()).await;
            let payload = payload.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let mut seen = Vec::new();
                // PING, REPLCONF x2, PSYNC: answer each as it arrives.
                let mut answered = 0;
                while answered < 4 {
                    let Ok(n) = sock.read(&mut buf).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    seen.extend_from_slice(&buf[..n]);
                    let commands = seen.iter().filter(|&&b| b == b'*').count();
                    while answered < commands.min(4) {
                        let reply: &[u8] = match answered {
                            0 => b"+PONG\r\n",
                            1 | 2 => b"+OK\r\n",
                            _ => b"+FULLRESYNC 0123456789012345678901234567890123456789 100\r\n",
                        };
                        let _ = sock.write_all(reply).await;
                        answered += 1;
                    }
                }
                let _ = sock.write_all(format!("${claimed}\r\n").as_bytes()).await;
                let _ = sock.write_all(&payload).await;
                // Keep the link open a moment, then drop it.
                tokio::time::sleep(Duration::from_millis(50)).await;
            });
        }
    });
    (addr, rx)
}

#[tokio::test]
async fn a_corrupt_snapshot_is_rejected_and_the_replica_retries() {
    // A real snapshot with one byte of its data flipped: the checksum fails.
    let source = TestServer::start().await.unwrap();
    let mut s = connect(&source).await;
    ok(&mut s, &[b"SET", b"from-master", b"x"]).await;
    let mut rdb = {
        let st = source.node().lock();
        rediscover_testserver::rdb::persist::encode(&st, 0, Vec::new())
    };
    let at = rdb.len() - 12;
    rdb[at] ^= 0xff;
    let len = rdb.len();
    let (addr, mut connections) = fake_master(rdb, len).await;

    let replica = TestServer::start().await.unwrap();
    let mut r = connect(&replica).await;
    ok(&mut r, &[b"SET", b"mine", b"1"]).await;
    replica.replicate(addr);
    // It keeps trying...
    for _ in 0..2 {
        tokio::time::timeout(DEADLINE, connections.recv())
            .await
            .expect("the replica retries")
            .unwrap();
    }
    // ...and never shows a half-loaded dataset: its own data stays until a good sync.
    assert_reply!(r, ["GET", "mine"], b"$1\r\n1\r\n");
    assert_reply!(r, ["GET", "from-master"], b"$-1\r\n");
    assert_eq!(info(&mut r, "master_link_status").await, "down");

    // A snapshot cut short is no better.
    let truncated = {
        let st = source.node().lock();
        let mut rdb = rediscover_testserver::rdb::persist::encode(&st, 0, Vec::new());
        rdb.truncate(rdb.len() / 2);
        rdb
    };
    // Cut short twice: a complete-looking file that ends early, and a link dropped in the
    // middle of the announced length.
    for claimed in [truncated.len(), truncated.len() * 2] {
        let (addr, mut connections) = fake_master(truncated.clone(), claimed).await;
        replica.replicate(addr);
        for _ in 0..2 {
            tokio::time::timeout(DEADLINE, connections.recv())
                .await
                .expect("the replica connects again")
                .unwrap();
        }
        assert_reply!(r, ["GET", "mine"], b"$1\r\n1\r\n");
        assert_reply!(r, ["GET", "from-master"], b"$-1\r\n");
    }
    // A good master at last: its data replaces ours in one step.
    replica.replicate(source.addr());
    replica.wait_link_up(DEADLINE).await.unwrap();
    assert_reply!(r, ["GET", "from-master"], b"$1\r\nx\r\n");
    assert_reply!(r, ["GET", "mine"], b"$-1\r\n");
}

#[tokio::test]
async fn writes_acknowledged_by_wait_survive_a_failover() {
    let set = ReplicationSet::start(2).await.unwrap();
    let mut m = connect(&set.master).await;
    for i in 0..200 {
        let key = format!("acked:{i}");
        ok(&mut m, &[b"SET", key.as_bytes(), b"v"]).await;
        // WAIT returns once `numreplicas` acknowledged, with the count at that moment (as
        // Redis's, which counts the ACKs read in one event-loop turn): ask for both, so that
        // whichever replica is promoted below has every write.
        assert_eq!(int(call(&mut m, &[b"WAIT", b"2", b"5000"]).await), 2);
    }
    // The master dies; a replica takes over.
    let ReplicationSet { master, replicas } = set;
    master.shutdown().await;
    let [promoted, other]: [TestServer; 2] = replicas.try_into().unwrap();
    promoted.promote();
    let mut p = connect(&promoted).await;
    for i in 0..200 {
        let key = format!("acked:{i}");
        assert_eq!(
            call(&mut p, &[b"GET", key.as_bytes()]).await,
            Frame::Bulk("v".into())
        );
    }
    assert_eq!(info(&mut p, "role").await, "master");
    // The other replica follows the new master without a full resync.
    other.replicate(promoted.addr());
    let set = ReplicationSet {
        master: promoted,
        replicas: vec![other],
    };
    set.wait_in_sync(DEADLINE).await.unwrap();
    assert_eq!(info(&mut p, "sync_partial_ok").await, "1");
    assert_eq!(info(&mut p, "sync_full").await, "0");
}

/// Reads until the peer closes the connection (within `DEADLINE`).
async fn closes(conn: &mut RawConn) -> bool {
    use tokio::io::AsyncReadExt;
    let mut chunk = vec![0u8; 64 * 1024];
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        match tokio::time::timeout_at(deadline, conn.stream.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => {}
            Err(_) => return false,
        }
    }
}

#[tokio::test]
async fn replicas_authenticate_and_announce_themselves() {
    let master = TestServer::builder()
        .password("secret")
        .user("repl", "pw")
        .start()
        .await
        .unwrap();
    let mut m = connect(&master).await;
    ok(&mut m, &[b"AUTH", b"secret"]).await;
    ok(&mut m, &[b"SET", b"k", b"v"]).await;

    // Without credentials the handshake fails and the link stays down.
    let replica = TestServer::start().await.unwrap();
    replica.replicate(master.addr());
    let mut r = connect(&replica).await;
    assert!(replica
        .wait_link_up(Duration::from_millis(300))
        .await
        .is_err());

    // masteruser + masterauth, and the address it announces.
    for (directive, value) in [
        (&b"masteruser"[..], &b"repl"[..]),
        (b"masterauth", b"pw"),
        (b"replica-announce-ip", b"10.0.0.9"),
        (b"replica-announce-port", b"7777"),
    ] {
        ok(&mut r, &[b"CONFIG", b"SET", directive, value]).await;
    }
    replica.drop_master_link();
    replica.wait_link_up(DEADLINE).await.unwrap();
    assert_reply!(r, ["GET", "k"], b"$1\r\nv\r\n");
    let slave0 = info(&mut m, "slave0").await;
    assert!(
        slave0.starts_with("ip=10.0.0.9,port=7777,state=online,offset="),
        "{slave0}"
    );
}

#[tokio::test]
async fn legacy_sync_gets_the_snapshot_then_the_stream() {
    let master = TestServer::start().await.unwrap();
    let mut m = connect(&master).await;
    ok(&mut m, &[b"SET", b"k", b"v"]).await;
    let mut legacy = connect(&master).await;
    legacy.send_raw(b"SYNC\r\n").await;
    // `$<len>\r\n<rdb>` with no +FULLRESYNC line before it.
    let mut buf = Vec::new();
    let rdb_len = loop {
        buf.extend_from_slice(&legacy.read_unframed().await);
        if let Some(nl) = buf.windows(2).position(|w| w == b"\r\n") {
            assert_eq!(buf[0], b'$', "{:?}", String::from_utf8_lossy(&buf));
            let len: usize = std::str::from_utf8(&buf[1..nl]).unwrap().parse().unwrap();
            buf.drain(..nl + 2);
            break len;
        }
    };
    while buf.len() < rdb_len {
        buf.extend_from_slice(&legacy.read_unframed().await);
    }
    assert_eq!(&buf[..9], b"REDIS0009");
    buf.drain(..rdb_len);
    ok(&mut m, &[b"SET", b"after", b"1"]).await;
    let want = b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$5\r\nafter\r\n$1\r\n1\r\n";
    while buf.len() < want.len() {
        buf.extend_from_slice(&legacy.read_unframed().await);
    }
    assert_eq!(String::from_utf8_lossy(&buf), String::from_utf8_lossy(want));
    let slave0 = info(&mut m, "slave0").await;
    assert!(
        slave0.starts_with("ip=127.0.0.1,port=0,state=online,"),
        "{slave0}"
    );
}

#[tokio::test]
async fn the_master_pings_and_drops_silent_replicas() {
    let master = TestServer::start().await.unwrap();
    let mut m = connect(&master).await;
    ok(
        &mut m,
        &[b"CONFIG", b"SET", b"repl-ping-replica-period", b"1"],
    )
    .await;
    ok(&mut m, &[b"CONFIG", b"SET", b"repl-timeout", b"1"]).await;
    // A replica that never acknowledges.
    let mut fake = connect(&master).await;
    fake.send(&["PSYNC", "?", "-1"]).await;
    // The periodic PING arrives in the stream (lower case, as Redis sends it)...
    let mut stream = Vec::new();
    while !stream.windows(14).any(|w| w == b"*1\r\n$4\r\nping\r\n") {
        stream.extend_from_slice(&fake.read_unframed().await);
    }
    // ...and after repl-timeout without an ACK the master lets the replica go.
    assert!(closes(&mut fake).await, "the silent replica was kept");
    assert_eq!(info(&mut m, "connected_slaves").await, "0");
}

#[tokio::test]
async fn a_stalled_replica_is_dropped_past_its_output_buffer_limit() {
    let set = ReplicationSet::start(1).await.unwrap();
    let mut m = connect(&set.master).await;
    ok(
        &mut m,
        &[
            b"CONFIG",
            b"SET",
            b"client-output-buffer-limit",
            b"replica 2000000 0 0",
        ],
    )
    .await;
    set.replicas[0].pause_master_link();
    let value = vec![b'x'; 1 << 20];
    for i in 0..40 {
        ok(&mut m, &[b"SET", format!("big{i}").as_bytes(), &value]).await;
    }
    poll_until(DEADLINE, || {
        (set.master.node().lock().repl.replicas.is_empty())
            .then_some(())
            .ok_or_else(|| "the stalled replica to be dropped".into())
    })
    .await
    .unwrap();
    // The backlog no longer holds the stream for it.
    let held: u64 = info(&mut m, "mem_replication_backlog")
        .await
        .parse()
        .unwrap();
    assert!(held <= 2 << 20, "backlog still holds {held} bytes");
    // Once it reads again it finds the link gone, resyncs, and catches up.
    set.replicas[0].heal_master_link();
    set.wait_in_sync(DEADLINE).await.unwrap();
    same_data(&set.master, &set.replicas[0]).await;
}

#[tokio::test]
async fn shutdown_waits_for_lagging_replicas() {
    let set = ReplicationSet::start(1).await.unwrap();
    let mut m = connect(&set.master).await;
    set.replicas[0].pause_master_link();
    ok(&mut m, &[b"SET", b"last-write", b"1"]).await;
    m.send(&["SHUTDOWN", "NOSAVE"]).await;
    // The master waits: reads are served, writes are held, and SHUTDOWN ABORT cancels.
    let mut other = connect(&set.master).await;
    common::wait_until(DEADLINE, || async {
        set.master.node().lock().shutdown_requested
    })
    .await;
    assert_reply!(other, ["GET", "last-write"], b"$1\r\n1\r\n");
    assert_reply!(other, ["SHUTDOWN", "ABORT"], b"+OK\r\n");
    assert_reply!(other, ["SET", "after-abort", "1"], b"+OK\r\n");
    assert_reply!(
        other,
        ["SHUTDOWN", "ABORT"],
        b"-ERR No shutdown in progress.\r\n"
    );

    // Again, and this time the replica catches up: then the master goes, losing nothing.
    other.send(&["SHUTDOWN", "NOSAVE"]).await;
    common::wait_until(DEADLINE, || async {
        set.master.node().lock().shutdown_requested
    })
    .await;
    assert!(!set.master.node().is_shutting_down());
    set.replicas[0].heal_master_link();
    common::wait_until(DEADLINE, || async { set.master.node().is_shutting_down() }).await;
    assert!(set.master.node().is_shutting_down());
    let mut r = connect(&set.replicas[0]).await;
    assert_reply!(
        r,
        ["MGET", "last-write", "after-abort"],
        b"*2\r\n$1\r\n1\r\n$1\r\n1\r\n"
    );
}

#[tokio::test]
async fn shutdown_gives_up_on_replicas_after_shutdown_timeout() {
    let set = ReplicationSet::start(1).await.unwrap();
    let mut m = connect(&set.master).await;
    ok(&mut m, &[b"CONFIG", b"SET", b"shutdown-timeout", b"1"]).await;
    set.replicas[0].pause_master_link();
    ok(&mut m, &[b"SET", b"k", b"v"]).await;
    m.send(&["SHUTDOWN"]).await;
    assert!(
        common::wait_until(DEADLINE, || async { set.master.node().is_shutting_down() }).await,
        "the master never shut down"
    );
}
