//! `ClusterClient` against the in-process `TestCluster` (fast timers): routing and hash tags,
//! one generic function over `Client` and `ClusterClient`, every redirect kind (`MOVED`,
//! `ASK`, `TRYAGAIN`, `CLUSTERDOWN`), `CROSSSLOT` caught before sending, multi-key fan-out,
//! keyless policies (`DBSIZE`, `KEYS`, `FLUSHALL`, `SCAN`), scripts, cross-slot pipelines,
//! transactions, all seeds but one down at connect. Every wait polls with a deadline.

use std::time::Duration;

use rediscover::cluster::{ClusterClient, ClusterConfig};
use rediscover::slot::key_slot;
use rediscover::{Client, Commands, Config, ErrorKind, Execute, Pipeline, Transaction};
use rediscover_testserver::TestCluster;

pub fn config(cluster: &TestCluster) -> ClusterConfig {
    ClusterConfig::new(cluster.nodes().iter().map(|n| n.addr().to_string()))
        .unwrap()
        .node(
            Config::default()
                .request_timeout(Some(Duration::from_secs(10)))
                .backoff(Duration::from_millis(5), Duration::from_millis(50)),
        )
        .refresh_min_interval(Duration::from_millis(10))
        .retry_backoff(Duration::from_millis(5), Duration::from_millis(50))
}

async fn three() -> TestCluster {
    TestCluster::builder().masters(3).start().await.unwrap()
}

/// Written once, for either client.
async fn count_visit<C: Execute>(db: &C, page: &str) -> rediscover::Result<i64> {
    db.incr(format!("visits:{{{page}}}")).await
}

/// A key served by master `want`.
fn key_on(cluster: &TestCluster, want: usize, prefix: &str) -> String {
    (0..100_000)
        .map(|i| format!("{prefix}{i}"))
        .find(|k| cluster.master_of_key(k.as_bytes()) == Some(want))
        .unwrap()
}

#[tokio::test]
async fn commands_route_by_slot_and_one_generic_function_serves_both_clients() {
    let cluster = three().await;
    let client = ClusterClient::with_config(config(&cluster)).await.unwrap();
    assert_eq!(client.masters().len(), 3);
    for i in 0..200 {
        client.set(format!("k{i}"), i).await.unwrap();
    }
    for i in 0..200 {
        let v: i64 = client.get(format!("k{i}")).await.unwrap();
        assert_eq!(v, i);
        // The key really lives on the master the cluster says.
        let key = format!("k{i}");
        let owner = cluster.master_of_key(key.as_bytes()).unwrap();
        let direct = Client::connect(&format!("redis://{}", cluster.node(owner).addr()))
            .await
            .unwrap();
        if i % 50 == 0 {
            let raw: i64 = direct.get(&key).await.unwrap();
            assert_eq!(raw, i);
        }
    }
    assert_eq!(client.stats().moved, 0, "the map was right from the start");
    // Hash tags keep keys together: a multi-key command on one slot runs as is.
    client
        .mset([("{user:1}:name", "ada"), ("{user:1}:lang", "rust")])
        .await
        .unwrap();
    let both: Vec<String> = client
        .mget(["{user:1}:name", "{user:1}:lang"])
        .await
        .unwrap();
    assert_eq!(both, ["ada", "rust"]);
    assert_eq!(
        client.node_for_key("{user:1}:name"),
        client.node_for_key("user:1")
    );
    // The same function over a Client and a ClusterClient.
    let single = rediscover_testserver::TestServer::start().await.unwrap();
    let plain = Client::connect(&single.url()).await.unwrap();
    assert_eq!(count_visit(&plain, "home").await.unwrap(), 1);
    assert_eq!(count_visit(&client, "home").await.unwrap(), 1);
    assert_eq!(count_visit(&client, "home").await.unwrap(), 2);
}

#[tokio::test]
async fn crossslot_is_refused_before_sending_and_multi_key_commands_fan_out() {
    let cluster = three().await;
    let client = ClusterClient::with_config(config(&cluster)).await.unwrap();
    // MSET across slots: refused here, naming keys and slots; nothing written.
    let e = client.mset([("a", "1"), ("b", "2")]).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotAllowed);
    let text = e.to_string();
    assert!(
        text.contains("'a' (slot 15495)") && text.contains("'b' (slot 3300)"),
        "{text}"
    );
    assert_eq!(client.exists(["a", "b"]).await.unwrap(), 0);
    // Other multi-key commands and scripts too.
    let e = client
        .cmd("SUNIONSTORE")
        .arg(["dst", "s1", "s2"])
        .query::<i64>()
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotAllowed, "{e}");
    let e = client
        .cmd("EVAL")
        .arg("return 1")
        .arg(2)
        .arg(["a", "b"])
        .query::<i64>()
        .await
        .unwrap_err();
    assert!(e.to_string().contains("CROSSSLOT"), "{e}");
    // Fan-out, merged in the caller's order.
    let keys: Vec<String> = (0..50).map(|i| format!("fan{i}")).collect();
    for (i, k) in keys.iter().enumerate().filter(|(i, _)| i % 2 == 0) {
        client.set(k, i).await.unwrap();
    }
    let values: Vec<Option<i64>> = client.mget(&keys).await.unwrap();
    for (i, v) in values.iter().enumerate() {
        assert_eq!(*v, (i % 2 == 0).then_some(i as i64), "key {i}");
    }
    assert_eq!(client.exists(&keys).await.unwrap(), 25);
    let touched: i64 = client.cmd("TOUCH").arg(&keys).query().await.unwrap();
    assert_eq!(touched, 25);
    assert_eq!(client.del(&keys[..10]).await.unwrap(), 5);
    let unlinked: i64 = client.cmd("UNLINK").arg(&keys).query().await.unwrap();
    assert_eq!(unlinked, 20);
    // MSET split on opt-in.
    let split = ClusterClient::with_config(config(&cluster).split_mset(true))
        .await
        .unwrap();
    split
        .mset([("a", "1"), ("b", "2"), ("c", "3")])
        .await
        .unwrap();
    let abc: Vec<String> = split.mget(["a", "b", "c"]).await.unwrap();
    assert_eq!(abc, ["1", "2", "3"]);
}

#[tokio::test]
async fn keyless_commands_follow_their_policies() {
    let cluster = three().await;
    let client = ClusterClient::with_config(config(&cluster)).await.unwrap();
    for i in 0..300 {
        client.set(format!("scan:{i}"), i).await.unwrap();
    }
    let n: i64 = client.cmd("DBSIZE").query().await.unwrap();
    assert_eq!(n, 300, "summed over the masters");
    let keys: Vec<String> = client.cmd("KEYS").arg("scan:*").query().await.unwrap();
    assert_eq!(keys.len(), 300, "concatenated");
    let scanned = client
        .scan()
        .pattern("scan:*")
        .count(50)
        .collect_all()
        .await
        .unwrap();
    assert_eq!(scanned.len(), 300, "SCAN walks every master");
    assert_eq!(client.ping().await.unwrap(), "PONG");
    client.cmd("FLUSHALL").query::<()>().await.unwrap();
    let n: i64 = client.cmd("DBSIZE").query().await.unwrap();
    assert_eq!(n, 0, "FLUSHALL on every master");
}

#[tokio::test]
async fn moved_ask_and_tryagain_are_followed() {
    let cluster = three().await;
    let client = ClusterClient::with_config(config(&cluster)).await.unwrap();
    // MOVED: the slot moves behind the client's back.
    let key = key_on(&cluster, 0, "moved:");
    let slot = key_slot(key.as_bytes());
    client.set(&key, "before").await.unwrap();
    cluster.migrate_slot(slot, 1).await.unwrap();
    let v: String = client.get(&key).await.unwrap();
    assert_eq!(v, "before");
    assert!(client.stats().moved >= 1, "{:?}", client.stats());
    assert_eq!(
        client.node_for_key(&key).unwrap().port(),
        cluster.node(1).addr().port()
    );

    // ASK: the slot is half migrated; a key not yet on the source is created on the target.
    let key = key_on(&cluster, 0, "ask:");
    let slot = key_slot(key.as_bytes());
    let from = cluster.begin_slot_migration(slot, 2).await.unwrap();
    assert_eq!(from, 0);
    let n: i64 = client.incr(&key).await.unwrap();
    assert_eq!(n, 1);
    assert!(client.stats().ask >= 1, "{:?}", client.stats());
    let n: i64 = client.incr(&key).await.unwrap();
    assert_eq!(n, 2, "found on the target again, after ASKING");

    cluster.move_slot_keys(slot, from, 2, 10).await.unwrap();
    cluster.finish_slot_migration(slot, from, 2).await.unwrap();
    let n: i64 = client.incr(&key).await.unwrap();
    assert_eq!(n, 3);
}

#[tokio::test]
async fn tryagain_is_retried_until_the_migration_ends() {
    let cluster = three().await;
    let client = ClusterClient::with_config(config(&cluster)).await.unwrap();
    let tag = key_on(&cluster, 0, "t");
    let (a, b) = (format!("{{{tag}}}:a"), format!("{{{tag}}}:b"));
    client.set(&a, "1").await.unwrap();
    client.set(&b, "2").await.unwrap();
    let slot = key_slot(a.as_bytes());
    cluster.begin_slot_migration(slot, 1).await.unwrap();
    // Move only `a`: MGET a b on the source now answers ASK (a missing), on the target
    // TRYAGAIN (b missing) until the rest moves.
    let addr = cluster.node(1).addr();
    let reply = rediscover_testserver::cluster::testing::call(
        cluster.node(0).addr(),
        &[
            b"MIGRATE",
            addr.ip().to_string().as_bytes(),
            addr.port().to_string().as_bytes(),
            a.as_bytes(),
            b"0",
            b"5000",
        ],
    )
    .await
    .unwrap();
    assert!(!reply.is_error(), "{reply:?}");
    let reader = client.clone();
    let (a2, b2) = (a.clone(), b.clone());
    let read = tokio::spawn(async move {
        let v: Vec<String> = reader.mget([a2, b2]).await.unwrap();
        v
    });
    // Let the read see TRYAGAIN at least once, then finish the migration.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while client.stats().retries == 0 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    cluster.move_slot_keys(slot, 0, 1, 10).await.unwrap();
    cluster.finish_slot_migration(slot, 0, 1).await.unwrap();
    assert_eq!(read.await.unwrap(), ["1", "2"]);
    assert!(client.stats().retries >= 1, "{:?}", client.stats());
}

#[tokio::test]
async fn cross_slot_pipelines_and_transactions() {
    let cluster = three().await;
    let client = ClusterClient::with_config(config(&cluster)).await.unwrap();
    let mut p = Pipeline::new();
    for i in 0..100 {
        p.cmd("INCR").arg(format!("p{i}"));
    }
    p.cmd("PING");
    p.cmd("GET").arg("p7");
    let results = p.execute(&client).await.unwrap();
    assert_eq!(results.len(), 102);
    for r in &results[..100] {
        assert_eq!(r.as_ref().unwrap(), &rediscover::resp::Frame::Integer(1));
    }
    // A cross-slot command inside a pipeline is refused before anything is sent.
    let mut bad = Pipeline::new();
    bad.cmd("INCR").arg("p0");
    bad.cmd("MSET").arg([("a", "1"), ("b", "2")]);
    let e = bad.execute(&client).await.unwrap_err();
    assert!(e.to_string().contains("CROSSSLOT"), "{e}");
    let v: i64 = client.get("p0").await.unwrap();
    assert_eq!(v, 1, "nothing of the refused pipeline ran");
    // Transactions: one slot.
    let mut t = Transaction::new();
    t.cmd("INCR").arg("{acct}:a");
    t.cmd("INCRBY").arg("{acct}:b").arg(10);
    let (a, b): (i64, i64) = t.query(&client).await.unwrap().unwrap();
    assert_eq!((a, b), (1, 10));
    let mut cross = Transaction::new();
    cross.cmd("INCR").arg("a");
    cross.cmd("INCR").arg("b");
    let e = cross.exec(&client).await.unwrap_err();
    assert!(e.to_string().contains("CROSSSLOT"), "{e}");
    // WATCH on the slot's master.
    let moved: Option<(i64, i64)> = client
        .transaction(["{acct}:a", "{acct}:b"], |tx| async move {
            let a: i64 = tx.get("{acct}:a").await?;
            let mut t = Transaction::new();
            t.cmd("DECRBY").arg("{acct}:a").arg(a);
            t.cmd("INCRBY").arg("{acct}:b").arg(a);
            Ok(Some(t))
        })
        .await
        .unwrap();
    assert_eq!(moved, Some((0, 11)));
}

#[tokio::test]
async fn all_seeds_but_one_down_at_connect() {
    let mut cluster = three().await;
    let seeds: Vec<String> = cluster
        .nodes()
        .iter()
        .map(|n| n.addr().to_string())
        .collect();
    // Two of three seeds dead (the cluster keeps one master alive... connect needs only one
    // answer); the other two masters are killed after the client learnt the map would not
    // work, so kill nothing that serves slots: use unused ports as dead seeds instead.
    let dead: Vec<String> = (0..2)
        .map(|_| {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().to_string()
        })
        .collect();
    let mut list = dead.clone();
    list.push(seeds[2].clone());
    let client = ClusterClient::with_config(
        ClusterConfig::new(&list)
            .unwrap()
            .node(Config::default().backoff(Duration::from_millis(1), Duration::from_millis(5))),
    )
    .await
    .unwrap();
    assert_eq!(
        client.masters().len(),
        3,
        "the one live seed gave the whole map"
    );
    client.set("x", 1).await.unwrap();
    // None alive: a clear error.
    cluster.kill(0).await;
    cluster.kill(1).await;
    cluster.kill(2).await;
    let e = ClusterClient::with_config(
        ClusterConfig::new(&seeds)
            .unwrap()
            .node(Config::default().backoff(Duration::from_millis(1), Duration::from_millis(5))),
    )
    .await
    .unwrap_err();
    assert!(e.is_not_sent(), "{e:?}");
}

#[tokio::test]
async fn clusterdown_is_waited_out_until_the_slot_is_served_again() {
    let cluster = three().await;
    let client = ClusterClient::with_config(config(&cluster)).await.unwrap();
    let key = "down:1";
    client.set(key, "v").await.unwrap();
    let slot = key_slot(key.as_bytes()).to_string();
    let owner = cluster.master_of_key(key.as_bytes()).unwrap();
    let call = |i: usize, argv: Vec<Vec<u8>>| {
        let addr = cluster.node(i).addr();
        async move {
            let argv: Vec<&[u8]> = argv.iter().map(|a| a.as_slice()).collect();
            rediscover_testserver::cluster::testing::call(addr, &argv)
                .await
                .unwrap()
        }
    };
    // The slot is left unassigned everywhere: the cluster goes down (full coverage required).
    for i in 0..3 {
        call(
            i,
            vec![
                b"CLUSTER".to_vec(),
                b"DELSLOTS".to_vec(),
                slot.clone().into_bytes(),
            ],
        )
        .await;
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let info = call(owner, vec![b"CLUSTER".to_vec(), b"INFO".to_vec()]).await;
        if String::from_utf8_lossy(info.as_bytes().unwrap()).contains("cluster_state:fail") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the cluster goes down"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let reader = client.clone();
    let read = tokio::spawn(async move { reader.get::<Option<String>>(key).await });
    let retries = client.stats().retries;
    while client.stats().retries == retries {
        assert!(std::time::Instant::now() < deadline, "the read is retried");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    call(
        owner,
        vec![b"CLUSTER".to_vec(), b"ADDSLOTS".to_vec(), slot.into_bytes()],
    )
    .await;
    assert_eq!(read.await.unwrap().unwrap().as_deref(), Some("v"));
}
