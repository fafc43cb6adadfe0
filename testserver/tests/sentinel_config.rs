//! A sentinel's configuration: SENTINEL MONITOR / SET / REMOVE / DEBUG / CONFIG SET and the
//! events they raise, the config file it rewrites and resumes from, startup refusals,
//! hostnames, and the notification scripts its settings name.

mod common;

use std::time::Duration;

use common::sentinel::{call, config_file, default_sentinel, field, EventLog};
use common::{RawConn, TestServer};
use rediscover_testserver::topology::sentinel::TestSentinel;

const WAIT: Duration = Duration::from_secs(10);

#[tokio::test]
async fn monitor_set_remove_raise_events_and_rewrite_the_config() {
    let (set, sentinel) = default_sentinel("").await;
    let log = EventLog::start(&[sentinel.addr()]).await;
    let mut c = RawConn::connect(sentinel.addr()).await;
    let other = TestServer::start().await.unwrap();
    let o = other.addr();
    let port = o.port().to_string();
    assert_eq!(
        c.call(&["SENTINEL", "MONITOR", "other", "127.0.0.1", &port, "1"])
            .await,
        b"+OK\r\n"
    );
    log.wait("+monitor", WAIT, |e| {
        e.text == format!("master other 127.0.0.1 {port} quorum 1")
    })
    .await;
    assert_eq!(
        c.call(&[
            "SENTINEL",
            "SET",
            "other",
            "quorum",
            "2",
            "auth-pass",
            "s3cret",
            "down-after-milliseconds",
            "5000"
        ])
        .await,
        b"+OK\r\n"
    );
    let sets: Vec<String> = log.wait_n("+set", 3, WAIT).await;
    let at = format!("master other 127.0.0.1 {port}");
    assert_eq!(
        sets,
        [
            format!("{at} quorum 2"),
            format!("{at} auth-pass ******"),
            format!("{at} down-after-milliseconds 5000")
        ]
    );
    // An error keeps what came before it (and saves it).
    assert_eq!(
        c.call(&[
            "SENTINEL",
            "SET",
            "other",
            "parallel-syncs",
            "3",
            "quorum",
            "x"
        ])
        .await,
        b"-ERR Invalid argument 'x' for SENTINEL SET 'quorum'\r\n"
    );
    let master = call(&mut c, &["SENTINEL", "MASTER", "other"]).await;
    assert_eq!(field(&master, "parallel-syncs"), "3");
    assert_eq!(field(&master, "quorum"), "2");
    let conf = std::fs::read_to_string(config_file(&sentinel)).unwrap();
    for line in [
        format!("sentinel monitor other 127.0.0.1 {port} 2"),
        "sentinel down-after-milliseconds other 5000".into(),
        "sentinel parallel-syncs other 3".into(),
        "sentinel auth-pass other s3cret".into(),
        format!(
            "sentinel monitor mymaster 127.0.0.1 {} 2",
            set.master.addr().port()
        ),
    ] {
        assert!(conf.lines().any(|l| l == line), "{line} not in\n{conf}");
    }
    assert_eq!(c.call(&["SENTINEL", "REMOVE", "other"]).await, b"+OK\r\n");
    log.wait("-monitor", WAIT, |e| e.text == at).await;
    let conf = std::fs::read_to_string(config_file(&sentinel)).unwrap();
    assert!(!conf.contains(" other "), "{conf}");
    assert_eq!(
        c.call(&["SENTINEL", "MASTER", "other"]).await,
        b"-ERR No such master with that name\r\n"
    );
    assert_eq!(c.call(&["SENTINEL", "FLUSHCONFIG"]).await, b"+OK\r\n");
}

#[tokio::test]
async fn debug_and_config_set_change_what_they_say() {
    let (_set, sentinel) = default_sentinel("").await;
    let mut c = RawConn::connect(sentinel.addr()).await;
    assert_eq!(
        c.call(&[
            "SENTINEL",
            "DEBUG",
            "ping-period",
            "250",
            "tilt-period",
            "777"
        ])
        .await,
        b"+OK\r\n"
    );
    let debug = call(&mut c, &["SENTINEL", "DEBUG"]).await;
    assert_eq!(field(&debug, "PING-PERIOD"), "250");
    assert_eq!(field(&debug, "TILT-PERIOD"), "777");
    assert_eq!(
        c.call(&["SENTINEL", "CONFIG", "SET", "announce-port", "4242"])
            .await,
        b"+OK\r\n"
    );
    assert_eq!(
        c.call(&["SENTINEL", "CONFIG", "GET", "announce-port"])
            .await,
        b"*2\r\n$13\r\nannounce-port\r\n$4\r\n4242\r\n"
    );
    let conf = std::fs::read_to_string(config_file(&sentinel)).unwrap();
    assert!(conf.contains("sentinel announce-port 4242\n"), "{conf}");
    assert_eq!(
        c.call(&["SENTINEL", "SIMULATE-FAILURE", "crash-after-election"])
            .await,
        b"+OK\r\n"
    );
    let info = String::from_utf8(c.call(&["INFO", "sentinel"]).await).unwrap();
    assert!(
        info.contains("sentinel_simulate_failure_flags:1\r\n"),
        "{info}"
    );
}

#[tokio::test]
async fn restarted_sentinel_resumes_from_its_rewritten_config() {
    let mut t = TestSentinel::builder()
        .replicas(2)
        .sentinels(2)
        .start()
        .await
        .unwrap();
    let mut c = RawConn::connect(t.sentinels[0].addr()).await;
    let myid = c.call(&["SENTINEL", "MYID"]).await;
    let before = t.view(0).unwrap();
    t.sentinels[0].restart().await.unwrap();
    let mut c = RawConn::connect(t.sentinels[0].addr()).await;
    // Same id, and the replicas and the other sentinel known at once, from the file.
    assert_eq!(c.call(&["SENTINEL", "MYID"]).await, myid);
    let after = t.view(0).unwrap();
    let mut a = after.replicas.clone();
    let mut b = before.replicas.clone();
    a.sort();
    b.sort();
    assert_eq!(a, b);
    assert_eq!(after.sentinels, 1);
}

#[tokio::test]
async fn refuses_to_start_as_redis_does() {
    // A directive Redis does not know: its FATAL CONFIG FILE ERROR block.
    let err = TestServer::builder()
        .sentinel("sentinel monitor mymaster 127.0.0.1 6379 2\nsentinel bogus 1\n")
        .start()
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "\n*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\nReading the configuration file, at line 2\n>>> 'sentinel bogus 1'\nUnrecognized sentinel configuration statement.\n"
    );
    for (conf, msg) in [
        (
            "sentinel monitor m 127.0.0.1 6379 0",
            "Quorum must be 1 or greater.",
        ),
        (
            "sentinel monitor m nosuchhost 6379 1",
            "Can't resolve instance hostname.",
        ),
        (
            "sentinel monitor m 127.0.0.1 70000 1",
            "Invalid port number.",
        ),
        (
            "sentinel down-after-milliseconds m 10",
            "No such master with specified name.",
        ),
        ("sentinel myid abc", "Malformed Sentinel id in myid option."),
        (
            "sentinel deny-scripts-reconfig maybe",
            "Please specify yes or no for the deny-scripts-reconfig options.",
        ),
        (
            "sentinel monitor m 127.0.0.1 6379 1\nsentinel monitor m 127.0.0.1 6380 1",
            "Duplicate master name.",
        ),
    ] {
        let err = TestServer::builder()
            .sentinel(conf)
            .start()
            .await
            .unwrap_err();
        assert!(
            err.to_string().ends_with(&format!("{msg}\n")),
            "{conf}: {err}"
        );
    }
    // Order in the file does not matter: monitors first, then what depends on them.
    let ok = TestServer::builder()
        .sentinel("sentinel down-after-milliseconds m 1234\nsentinel monitor m 127.0.0.1 1 1\n")
        .start()
        .await
        .unwrap();
    let mut c = RawConn::connect(ok.addr()).await;
    assert_eq!(
        field(
            &call(&mut c, &["SENTINEL", "MASTER", "m"]).await,
            "down-after-milliseconds"
        ),
        "1234"
    );
}

/// A script that appends its arguments to `out` and exits with `code`.
fn script(dir: &std::path::Path, name: &str, code: i32) -> (String, std::path::PathBuf) {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    let out = dir.join(format!("{name}.out"));
    std::fs::write(
        &path,
        format!("#!/bin/sh\necho \"$@\" >> {}\nexit {code}\n", out.display()),
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    (path.to_string_lossy().into_owned(), out)
}

#[tokio::test]
async fn notification_scripts_run_on_warnings_and_retry() {
    let dir = common::dataset::TempDir::new("sentinel-scripts");
    let (ok, ok_out) = script(&dir.0, "notify.sh", 0);
    let (failing, failing_out) = script(&dir.0, "failing.sh", 1);
    let (_set, sentinel) = default_sentinel(&format!(
        "sentinel notification-script mymaster {ok}\nsentinel deny-scripts-reconfig no\n"
    ))
    .await;
    let port = _set.master.addr().port();
    let mut c = RawConn::connect(sentinel.addr()).await;
    assert_eq!(
        c.call(&["SENTINEL", "SET", "mymaster", "quorum", "1"])
            .await,
        b"+OK\r\n"
    );
    // `+monitor` (at startup) and `+set` are warnings about the master: its notification
    // script runs with each event.
    // (They run side by side, so in either order.)
    let mut want = vec![
        format!("+monitor master mymaster 127.0.0.1 {port} quorum 2"),
        format!("+set master mymaster 127.0.0.1 {port} quorum 1"),
    ];
    want.sort();
    let lines = |p: &std::path::Path| {
        let mut v: Vec<String> = std::fs::read_to_string(p)
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect();
        v.sort();
        v
    };
    let deadline = std::time::Instant::now() + WAIT;
    while lines(&ok_out) != want {
        assert!(
            std::time::Instant::now() < deadline,
            "script output: {:?}",
            std::fs::read_to_string(&ok_out)
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // A script that exits with 1 is retried later; meanwhile it is pending.
    assert_eq!(
        c.call(&[
            "SENTINEL",
            "SET",
            "mymaster",
            "notification-script",
            &failing
        ])
        .await,
        b"+OK\r\n"
    );
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let pending = call(&mut c, &["SENTINEL", "PENDING-SCRIPTS"]).await;
        let jobs = pending.as_slice().unwrap();
        if let Some(job) = jobs.first() {
            if field(job, "retry-num") == "1" && field(job, "flags") == "scheduled" {
                assert_eq!(field(job, "pid"), "0");
                assert!(field(job, "run-delay").parse::<u64>().unwrap() > 0);
                break;
            }
        }
        assert!(std::time::Instant::now() < deadline, "{pending:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(std::fs::read_to_string(&failing_out)
        .unwrap()
        .starts_with("+set master mymaster"));
    // Path checks, as Redis makes them.
    assert_eq!(
        c.call(&[
            "SENTINEL",
            "SET",
            "mymaster",
            "client-reconfig-script",
            "/nonexistent"
        ])
        .await,
        b"-ERR Client reconfiguration script seems non existing or non executable\r\n"
    );
    let info = String::from_utf8(c.call(&["INFO", "sentinel"]).await).unwrap();
    assert!(
        info.contains("sentinel_scripts_queue_length:1\r\n"),
        "{info}"
    );
}

#[tokio::test]
async fn hostnames_resolve_and_announce_when_asked() {
    use std::net::ToSocketAddrs;
    let ip = ("localhost", 0)
        .to_socket_addrs()
        .unwrap()
        .next()
        .unwrap()
        .ip()
        .to_string();
    // Without resolve-hostnames a hostname is refused, as Redis refuses it.
    let err = TestServer::builder()
        .sentinel("sentinel monitor m localhost 6379 1\n")
        .start()
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .ends_with("Can't resolve instance hostname.\n"),
        "{err}"
    );
    let s = TestServer::builder()
        .sentinel("sentinel resolve-hostnames yes\nsentinel monitor m localhost 6379 1\n")
        .start()
        .await
        .unwrap();
    let mut c = RawConn::connect(s.addr()).await;
    let addr = call(&mut c, &["SENTINEL", "GET-MASTER-ADDR-BY-NAME", "m"]).await;
    assert_eq!(
        addr.as_slice().unwrap()[0].as_bytes().unwrap().as_ref(),
        ip.as_bytes()
    );
    assert_eq!(
        c.call(&["SENTINEL", "CONFIG", "SET", "announce-hostnames", "yes"])
            .await,
        b"+OK\r\n"
    );
    assert_eq!(
        c.call(&["SENTINEL", "GET-MASTER-ADDR-BY-NAME", "m"]).await,
        b"*2\r\n$9\r\nlocalhost\r\n$4\r\n6379\r\n"
    );
    let conf = std::fs::read_to_string(config_file(&s)).unwrap();
    assert!(conf.contains("sentinel resolve-hostnames yes\n"), "{conf}");
    assert!(conf.contains("sentinel announce-hostnames yes\n"), "{conf}");
    assert!(
        conf.contains("sentinel monitor m localhost 6379 1\n"),
        "{conf}"
    );
}

#[tokio::test]
async fn extreme_values_are_accepted_and_harmless() {
    let t = TestSentinel::builder().start().await.unwrap();
    let mut c = RawConn::connect(t.sentinels[0].addr()).await;
    let max = i64::MAX.to_string();
    for (opt, v) in [
        ("failover-timeout", max.as_str()),
        ("down-after-milliseconds", max.as_str()),
        ("master-reboot-down-after-period", max.as_str()),
        ("parallel-syncs", max.as_str()),
        ("quorum", max.as_str()),
    ] {
        assert_eq!(
            c.call(&["SENTINEL", "SET", "mymaster", opt, v]).await,
            b"+OK\r\n",
            "{opt}"
        );
    }
    for p in [
        "info-period",
        "ping-period",
        "ask-period",
        "publish-period",
        "tilt-period",
    ] {
        assert_eq!(c.call(&["SENTINEL", "DEBUG", p, &max]).await, b"+OK\r\n");
    }
    // Epochs at the top of their range, from a hello.
    let m = t.servers[0].addr();
    let hello = format!(
        "127.0.0.1,9,{},18446744073709551615,mymaster,{},{},18446744073709551615",
        "f".repeat(40),
        m.ip(),
        m.port()
    );
    assert_eq!(
        c.call(&["PUBLISH", "__sentinel__:hello", &hello]).await,
        b":1\r\n"
    );
    let log = EventLog::start(&[t.sentinels[0].addr()]).await;
    assert_eq!(
        c.call(&["SENTINEL", "FAILOVER", "mymaster"]).await,
        b"+OK\r\n"
    );
    // The timer keeps running on them: the failover goes on, tick after tick.
    log.wait("+elected-leader", WAIT, |_| true).await;
    log.wait("+selected-slave", WAIT, |_| true).await;
    assert_eq!(c.call(&["PING"]).await, b"+PONG\r\n");
    let info = String::from_utf8(c.call(&["INFO", "sentinel"]).await).unwrap();
    assert!(info.contains("sentinel_masters:1"), "{info}");
    assert!(
        t.view(0).is_some_and(|v| v.epoch == 0),
        "the epoch wrapped as Redis's does"
    );
}
