//! CLIENT TRACKING: default mode, OPTIN, NOLOOP, BCAST with prefixes, REDIRECT (RESP2 pub/sub
//! and a broken redirect), FLUSHALL, CLIENT CACHING/GETREDIR/TRACKINGINFO and the error texts,
//! byte for byte as Redis 7.0.15 answered the same sequence (client ids substituted).

mod common;

use std::time::Duration;

use common::{connect, hello3, start, RawConn};

/// Everything that arrives within a short while (pushes are checked for absence this way too).
async fn drain(c: &mut RawConn) -> String {
    let mut out = Vec::new();
    while let Some(raw) = c.read_raw_timeout(Duration::from_millis(100)).await {
        out.extend(raw);
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn call(c: &mut RawConn, argv: &[&str]) -> String {
    String::from_utf8_lossy(&c.call(argv).await).into_owned()
}

/// A reply and whatever follows it at once (a push after the reply).
async fn call_all(c: &mut RawConn, argv: &[&str]) -> String {
    c.send(argv).await;
    drain(c).await
}

async fn client_id(c: &mut RawConn) -> String {
    call(c, &["CLIENT", "ID"]).await.trim()[1..].to_string()
}

const INVALIDATE_K: &str = ">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n";

#[tokio::test]
async fn default_mode_resp3() {
    let (server, mut a) = start().await;
    let mut b = connect(&server).await;
    hello3(&mut a).await;
    assert_eq!(
        call(&mut a, &["CLIENT", "TRACKINGINFO"]).await,
        "%3\r\n$5\r\nflags\r\n~1\r\n$3\r\noff\r\n$8\r\nredirect\r\n:-1\r\n$8\r\nprefixes\r\n*0\r\n"
    );
    assert_eq!(call(&mut a, &["CLIENT", "TRACKING", "ON"]).await, "+OK\r\n");
    assert_eq!(call(&mut a, &["CLIENT", "GETREDIR"]).await, ":0\r\n");
    assert_eq!(call(&mut a, &["GET", "k"]).await, "_\r\n");
    assert_eq!(call(&mut b, &["SET", "k", "1"]).await, "+OK\r\n");
    assert_eq!(drain(&mut a).await, INVALIDATE_K);
    // Invalidated once: a second write says nothing until the key is read again.
    call(&mut b, &["SET", "k", "1"]).await;
    assert_eq!(drain(&mut a).await, "");
    // Its own write: the push follows the reply.
    assert_eq!(call(&mut a, &["GET", "k"]).await, "$1\r\n1\r\n");
    assert_eq!(
        call_all(&mut a, &["SET", "k", "2"]).await,
        format!("+OK\r\n{INVALIDATE_K}")
    );
    assert_eq!(
        call(&mut a, &["MGET", "k", "j"]).await,
        "*2\r\n$1\r\n2\r\n_\r\n"
    );
    assert_eq!(call(&mut b, &["FLUSHALL"]).await, "+OK\r\n");
    assert_eq!(drain(&mut a).await, ">2\r\n$10\r\ninvalidate\r\n_\r\n");
    assert_eq!(
        call_all(&mut a, &["FLUSHALL"]).await,
        "+OK\r\n>2\r\n$10\r\ninvalidate\r\n_\r\n"
    );
    assert_eq!(
        server.node().lock().tracking.clients.len(),
        1,
        "tracking_clients"
    );
    assert_eq!(
        call(&mut a, &["CLIENT", "TRACKING", "OFF"]).await,
        "+OK\r\n"
    );
    call(&mut a, &["GET", "k"]).await;
    call(&mut b, &["SET", "k", "3"]).await;
    assert_eq!(drain(&mut a).await, "");
}

#[tokio::test]
async fn redirect_to_a_resp2_subscriber_and_broken_redirect() {
    let (server, mut a) = start().await;
    let mut b = connect(&server).await;
    let mut r = connect(&server).await;
    let rid = client_id(&mut r).await;
    call(&mut r, &["SUBSCRIBE", "__redis__:invalidate"]).await;
    assert_eq!(
        call(&mut a, &["CLIENT", "TRACKING", "ON", "REDIRECT", &rid]).await,
        "+OK\r\n"
    );
    assert_eq!(
        call(&mut a, &["CLIENT", "GETREDIR"]).await,
        format!(":{rid}\r\n")
    );
    assert_eq!(
        call(&mut a, &["CLIENT", "TRACKINGINFO"]).await,
        format!(
            "*6\r\n$5\r\nflags\r\n*1\r\n$2\r\non\r\n$8\r\nredirect\r\n:{rid}\r\n$8\r\nprefixes\r\n*0\r\n"
        )
    );
    call(&mut a, &["GET", "k"]).await;
    call(&mut b, &["SET", "k", "3"]).await;
    assert_eq!(
        drain(&mut r).await,
        "*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n*1\r\n$1\r\nk\r\n"
    );
    call(&mut b, &["FLUSHALL"]).await;
    assert_eq!(
        drain(&mut r).await,
        "*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n$-1\r\n"
    );
    assert_eq!(drain(&mut a).await, "");
    // The redirect target leaves: a RESP3 tracker is told when an invalidation is due.
    call(&mut a, &["CLIENT", "TRACKING", "OFF"]).await;
    hello3(&mut a).await;
    let mut r2 = connect(&server).await;
    let rid2 = client_id(&mut r2).await;
    call(&mut a, &["CLIENT", "TRACKING", "ON", "REDIRECT", &rid2]).await;
    call(&mut a, &["GET", "x"]).await;
    drop(r2);
    assert!(
        common::wait_until(Duration::from_secs(5), || async {
            !server
                .node()
                .lock()
                .clients
                .contains_key(&rid2.parse::<u64>().unwrap())
        })
        .await
    );
    call(&mut b, &["SET", "x", "3"]).await;
    assert_eq!(
        drain(&mut a).await,
        format!(">2\r\n$21\r\ntracking-redir-broken\r\n:{rid2}\r\n")
    );
    assert_eq!(
        call(&mut a, &["CLIENT", "TRACKINGINFO"]).await,
        format!(
            "%3\r\n$5\r\nflags\r\n~2\r\n$2\r\non\r\n$15\r\nbroken_redirect\r\n$8\r\nredirect\r\n:{rid2}\r\n$8\r\nprefixes\r\n*0\r\n"
        )
    );
}

#[tokio::test]
async fn bcast_prefixes_noloop_and_optin() {
    let (server, mut a) = start().await;
    let mut b = connect(&server).await;
    hello3(&mut a).await;
    assert_eq!(
        call(
            &mut a,
            &["CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "user:", "PREFIX", "obj:"]
        )
        .await,
        "+OK\r\n"
    );
    assert_eq!(
        call(&mut a, &["CLIENT", "TRACKINGINFO"]).await,
        "%3\r\n$5\r\nflags\r\n~2\r\n$2\r\non\r\n$5\r\nbcast\r\n$8\r\nredirect\r\n:0\r\n$8\r\nprefixes\r\n*2\r\n$4\r\nobj:\r\n$5\r\nuser:\r\n"
    );
    call(
        &mut b,
        &[
            "MSET", "user:1", "x", "obj:2", "y", "other", "z", "user:0", "w",
        ],
    )
    .await;
    assert_eq!(
        drain(&mut a).await,
        ">2\r\n$10\r\ninvalidate\r\n*1\r\n$5\r\nobj:2\r\n>2\r\n$10\r\ninvalidate\r\n*2\r\n$6\r\nuser:0\r\n$6\r\nuser:1\r\n"
    );
    assert_eq!(
        call_all(&mut a, &["SET", "user:9", "1"]).await,
        "+OK\r\n>2\r\n$10\r\ninvalidate\r\n*1\r\n$6\r\nuser:9\r\n"
    );
    call(&mut a, &["CLIENT", "TRACKING", "OFF"]).await;
    assert_eq!(
        call(&mut a, &["CLIENT", "TRACKING", "ON", "BCAST", "NOLOOP"]).await,
        "+OK\r\n"
    );
    assert_eq!(call_all(&mut a, &["SET", "user:9", "1"]).await, "+OK\r\n");
    call(&mut b, &["SET", "x", "1"]).await;
    assert_eq!(
        drain(&mut a).await,
        ">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nx\r\n"
    );
    call(&mut a, &["CLIENT", "TRACKING", "OFF"]).await;
    // OPTIN: only the read after CLIENT CACHING YES is tracked.
    assert_eq!(
        call(&mut a, &["CLIENT", "TRACKING", "ON", "OPTIN"]).await,
        "+OK\r\n"
    );
    call(&mut a, &["GET", "x"]).await;
    assert_eq!(call(&mut a, &["CLIENT", "CACHING", "YES"]).await, "+OK\r\n");
    call(&mut a, &["GET", "y"]).await;
    assert_eq!(
        call(&mut a, &["CLIENT", "TRACKINGINFO"]).await,
        "%3\r\n$5\r\nflags\r\n~2\r\n$2\r\non\r\n$5\r\noptin\r\n$8\r\nredirect\r\n:0\r\n$8\r\nprefixes\r\n*0\r\n"
    );
    call(&mut b, &["SET", "x", "2"]).await;
    call(&mut b, &["SET", "y", "2"]).await;
    assert_eq!(
        drain(&mut a).await,
        ">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\ny\r\n"
    );
}

#[tokio::test]
async fn errors_match_redis() {
    let (server, mut a) = start().await;
    let mut other = connect(&server).await;
    let rid = client_id(&mut other).await;
    let cases: Vec<(Vec<&str>, String)> = vec![
        (
            vec!["ON", "PREFIX", "a"],
            "-ERR PREFIX option requires BCAST mode to be enabled\r\n".into(),
        ),
        (
            vec!["ON", "BCAST", "OPTIN"],
            "-ERR OPTIN and OPTOUT are not compatible with BCAST\r\n".into(),
        ),
        (
            vec!["ON", "OPTIN", "OPTOUT"],
            "-ERR You can't specify both OPTIN mode and OPTOUT mode\r\n".into(),
        ),
        (
            vec!["ON", "REDIRECT", "999999"],
            "-ERR The client ID you want redirect to does not exist\r\n".into(),
        ),
        (
            vec!["ON", "REDIRECT", "x"],
            "-ERR value is not an integer or out of range\r\n".into(),
        ),
        (
            vec!["ON", "REDIRECT", &rid, "REDIRECT", &rid],
            "-ERR A client can only redirect to a single other client\r\n".into(),
        ),
        (vec!["MAYBE"], "-ERR syntax error\r\n".into()),
        (vec!["ON", "FOO"], "-ERR syntax error\r\n".into()),
        (
            vec!["ON", "BCAST", "PREFIX", "ab", "PREFIX", "a"],
            "-ERR Prefix 'ab' overlaps with another provided prefix 'a'. Prefixes for a single client must not overlap.\r\n".into(),
        ),
    ];
    for (args, want) in cases {
        let mut argv = vec!["CLIENT", "TRACKING"];
        argv.extend(&args);
        assert_eq!(call(&mut a, &argv).await, want, "{args:?}");
    }
    assert_eq!(
        call(&mut a, &["CLIENT", "CACHING", "YES"]).await,
        "-ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled\r\n"
    );
    assert_eq!(call(&mut a, &["CLIENT", "GETREDIR"]).await, ":-1\r\n");
    call(&mut a, &["CLIENT", "TRACKING", "ON"]).await;
    assert_eq!(
        call(&mut a, &["CLIENT", "CACHING", "YES"]).await,
        "-ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.\r\n"
    );
    assert_eq!(
        call(&mut a, &["CLIENT", "CACHING", "NO"]).await,
        "-ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.\r\n"
    );
    assert_eq!(
        call(&mut a, &["CLIENT", "CACHING", "MAYBE"]).await,
        "-ERR syntax error\r\n"
    );
    assert_eq!(
        call(&mut a, &["CLIENT", "TRACKING", "ON", "BCAST"]).await,
        "-ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode.\r\n"
    );
    call(&mut a, &["CLIENT", "TRACKING", "OFF"]).await;
    call(&mut a, &["CLIENT", "TRACKING", "ON", "OPTIN"]).await;
    assert_eq!(
        call(&mut a, &["CLIENT", "TRACKING", "ON", "OPTOUT"]).await,
        "-ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode.\r\n"
    );
    call(&mut a, &["CLIENT", "TRACKING", "OFF"]).await;
    call(
        &mut a,
        &["CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "ab"],
    )
    .await;
    assert_eq!(
        call(&mut a, &["CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "a"]).await,
        "-ERR Prefix 'a' overlaps with an existing prefix 'ab'. Prefixes for a single client must not overlap.\r\n"
    );
}

#[tokio::test]
async fn table_max_keys_invalidates_the_excess() {
    let (server, mut a) = start().await;
    let mut b = connect(&server).await;
    hello3(&mut a).await;
    assert_eq!(
        call(&mut b, &["CONFIG", "SET", "tracking-table-max-keys", "2"]).await,
        "+OK\r\n"
    );
    call(&mut a, &["CLIENT", "TRACKING", "ON"]).await;
    call(&mut a, &["MGET", "k1", "k2", "k3"]).await;
    // The next command finds three keys over a limit of two: one is invalidated.
    call(&mut b, &["PING"]).await;
    let pushes = drain(&mut a).await;
    assert!(
        pushes.starts_with(">2\r\n$10\r\ninvalidate\r\n*1\r\n$2\r\nk"),
        "{pushes:?}"
    );
    assert_eq!(server.node().lock().tracking.total_keys(), 2);
}

/// Which flushes invalidate everything, as Redis 7.0.15 answered the same sequence: DEBUG
/// RELOAD (not NOFLUSH) and FLUSHDB even of an empty database do; SWAPDB does not.
#[tokio::test]
async fn reload_and_flushdb_invalidate_everything_swapdb_does_not() {
    let config = rediscover_testserver::config::Config {
        enable_debug_command: "yes".into(),
        ..Default::default()
    };
    let server = common::TestServer::builder()
        .config(config)
        .start()
        .await
        .unwrap();
    let mut a = connect(&server).await;
    let mut b = connect(&server).await;
    hello3(&mut a).await;
    const FLUSHED: &str = ">2\r\n$10\r\ninvalidate\r\n_\r\n";
    assert_eq!(call(&mut a, &["CLIENT", "TRACKING", "ON"]).await, "+OK\r\n");
    call(&mut a, &["GET", "k"]).await;
    assert_eq!(call(&mut b, &["SWAPDB", "0", "1"]).await, "+OK\r\n");
    assert_eq!(drain(&mut a).await, "");
    assert_eq!(call_all(&mut a, &["SWAPDB", "0", "1"]).await, "+OK\r\n");
    assert_eq!(call(&mut b, &["DEBUG", "RELOAD"]).await, "+OK\r\n");
    assert_eq!(drain(&mut a).await, FLUSHED);
    assert_eq!(
        call_all(&mut a, &["DEBUG", "RELOAD"]).await,
        format!("+OK\r\n{FLUSHED}")
    );
    assert_eq!(
        call(&mut b, &["DEBUG", "RELOAD", "NOFLUSH"]).await,
        "+OK\r\n"
    );
    assert_eq!(drain(&mut a).await, "");
    call(&mut b, &["SELECT", "5"]).await;
    assert_eq!(call(&mut b, &["FLUSHDB"]).await, "+OK\r\n");
    assert_eq!(drain(&mut a).await, FLUSHED);
    // The table is emptied even when nobody tracks any more (tracking_total_keys 2, then 0).
    call(&mut a, &["MGET", "k", "j"]).await;
    call(&mut a, &["CLIENT", "TRACKING", "OFF"]).await;
    assert_eq!(server.node().lock().tracking.total_keys(), 2);
    call(&mut b, &["FLUSHALL"]).await;
    assert_eq!(server.node().lock().tracking.total_keys(), 0);
}

/// A replica's full sync replaces its data: its tracking clients get the flush null (as a
/// Redis 7.0.15 replica sends it when REPLICAOF makes it sync).
#[tokio::test]
async fn a_replicas_full_sync_invalidates_everything() {
    let master = common::TestServer::start().await.unwrap();
    let mut m = connect(&master).await;
    call(&mut m, &["SET", "k", "from-master"]).await;
    let (replica, mut b) = start().await;
    let mut a = connect(&replica).await;
    hello3(&mut a).await;
    call(&mut a, &["CLIENT", "TRACKING", "ON"]).await;
    call(&mut a, &["GET", "k"]).await;
    let port = master.addr().port().to_string();
    assert_eq!(
        call(&mut b, &["REPLICAOF", "127.0.0.1", &port]).await,
        "+OK\r\n"
    );
    let pushed = a.read_raw_timeout(Duration::from_secs(20)).await;
    assert_eq!(
        String::from_utf8_lossy(&pushed.expect("no invalidation within 20 s")),
        ">2\r\n$10\r\ninvalidate\r\n_\r\n"
    );
    assert_eq!(call(&mut a, &["GET", "k"]).await, "$11\r\nfrom-master\r\n");
}

/// CLUSTER RESET of a replica flushes its data (clusterReset's emptyData): its tracking clients
/// are told to drop everything, the caller after its reply.
#[tokio::test]
async fn cluster_reset_of_a_replica_invalidates_everything() {
    let cluster = rediscover_testserver::TestCluster::builder()
        .masters(3)
        .replicas_per_master(1)
        .start()
        .await
        .unwrap();
    let replica = cluster.replicas_of(cluster.masters()[0])[0];
    let addr = cluster.node(replica).addr();
    let mut a = RawConn::connect(addr).await;
    let mut b = RawConn::connect(addr).await;
    hello3(&mut a).await;
    hello3(&mut b).await;
    assert_eq!(call(&mut a, &["CLIENT", "TRACKING", "ON"]).await, "+OK\r\n");
    assert_eq!(call(&mut b, &["CLIENT", "TRACKING", "ON"]).await, "+OK\r\n");
    assert_eq!(
        call_all(&mut b, &["CLUSTER", "RESET"]).await,
        "+OK\r\n>2\r\n$10\r\ninvalidate\r\n_\r\n"
    );
    assert_eq!(drain(&mut a).await, ">2\r\n$10\r\ninvalidate\r\n_\r\n");
}
