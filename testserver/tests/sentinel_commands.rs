//! A sentinel's commands, reply for reply against Redis 7.0.15 `redis-sentinel` (captures in
//! `fixtures/sentinel/`): the command table, SENTINEL subcommands and their errors, instance
//! maps in RESP2 and RESP3, INFO, ROLE, HELLO, PUBLISH, votes, RESET, INFO-CACHE, ACL and
//! AUTH. Runtime configuration is in `sentinel_config.rs`.

mod common;

use std::time::Duration;

use common::sentinel::{
    call, config_file, default_sentinel, exchanges, field, fixture, frame, map_keys, EventLog,
};
use common::RawConn;
use rediscover::resp::Frame;
use rediscover_testserver::topology::sentinel::TestSentinel;

const WAIT: Duration = Duration::from_secs(10);

/// Replies that do not depend on the deployment, as captured from Redis.
#[tokio::test]
async fn replies_match_redis_byte_for_byte() {
    let (_set, sentinel) = default_sentinel("").await;
    let mut c = RawConn::connect(sentinel.addr()).await;
    let mut checked = 0;
    for file in ["errors_and_misc.txt", "commands_misc.txt"] {
        for (argv, want) in exchanges(file) {
            let line = argv.join(" ");
            // These show the live deployment the capture came from (ids, times, counts).
            let varies = [
                "SENTINEL myid",
                "SENTINEL ckquorum mymaster",
                "SENTINEL Masters",
            ]
            .contains(&line.as_str())
                || line.starts_with("SENTINEL info-cache mymaster")
                || line.starts_with("HELLO")
                || (line.starts_with("INFO")
                    && line != "INFO keyspace"
                    && line != "INFO replication");
            if varies {
                continue;
            }
            let args: Vec<&str> = argv.iter().map(String::as_str).collect();
            let got = c.call(&args).await;
            assert_eq!(
                String::from_utf8_lossy(&got),
                String::from_utf8_lossy(&want),
                "reply to {line}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 80, "only {checked} replies compared");
}

#[tokio::test]
async fn unknown_commands_role_and_hello_as_redis() {
    let (_set, sentinel) = default_sentinel("").await;
    let mut c = RawConn::connect(sentinel.addr()).await;
    assert_eq!(
        c.call(&["GET", "foo"]).await,
        fixture("pre.unknown_cmd_on_sentinel.resp")
    );
    assert_eq!(
        c.call(&["ROLE"]).await,
        fixture("pre.role_sentinel27100.resp")
    );
    assert_eq!(
        c.call(&["SENTINEL", "get-master-addr-by-name", "nosuch"])
            .await,
        fixture("pre.get_master_addr_unknown.resp")
    );
    // HELLO 3: the same map, but for the client id.
    let got = c.call(&["HELLO", "3"]).await;
    let want = fixture("pre.hello3_sentinel27100.resp");
    let strip_id = |b: &[u8]| {
        let s = String::from_utf8_lossy(b).into_owned();
        let i = s.find("$2\r\nid\r\n:").unwrap();
        let j = s[i + 9..].find("\r\n").unwrap() + i + 9;
        format!("{}{}", &s[..i], &s[j..])
    };
    assert_eq!(strip_id(&got), strip_id(&want));
    // RESP3 replies (captured): null for an unknown master, maps for DEBUG and CONFIG GET,
    // a plain bulk string for INFO.
    for (argv, want) in exchanges("resp3.txt") {
        let line = argv.join(" ");
        if [
            "SENTINEL get-master-addr-by-name nosuch",
            "SENTINEL config get announce-port",
            "SENTINEL debug",
            "SENTINEL failover nosuch",
            "SENTINEL info-cache nosuch",
            "SENTINEL reset nomatch",
            "ROLE",
        ]
        .contains(&line.as_str())
        {
            let args: Vec<&str> = argv.iter().map(String::as_str).collect();
            assert_eq!(
                String::from_utf8_lossy(&c.call(&args).await),
                String::from_utf8_lossy(&want),
                "RESP3 reply to {line}"
            );
        }
    }
    assert!(c.call(&["INFO", "sentinel"]).await.starts_with(b"$"));
}

#[tokio::test]
async fn instance_maps_have_redis_fields_in_resp2_and_resp3() {
    let t = TestSentinel::builder()
        .down_after_ms(1000)
        .failover_timeout_ms(3000)
        .start()
        .await
        .unwrap();
    let mut c = RawConn::connect(t.sentinels[0].addr()).await;
    let master_addr = t.servers[0].addr();

    let want = frame(&fixture("pre.sentinel_masters.resp"));
    let got = call(&mut c, &["SENTINEL", "MASTERS"]).await;
    let (want, got) = (&want.as_slice().unwrap()[0], &got.as_slice().unwrap()[0]);
    assert_eq!(map_keys(got), map_keys(want));
    for key in [
        "name",
        "flags",
        "link-refcount",
        "down-after-milliseconds",
        "role-reported",
        "config-epoch",
        "num-slaves",
        "num-other-sentinels",
        "quorum",
        "failover-timeout",
        "parallel-syncs",
    ] {
        assert_eq!(field(got, key), field(want, key), "{key}");
    }
    assert_eq!(field(got, "port"), master_addr.port().to_string());
    assert_eq!(field(got, "runid"), t.servers[0].node().lock().run_id);

    let want = frame(&fixture("pre.sentinel_replicas.resp"));
    let got = call(&mut c, &["SENTINEL", "REPLICAS", "mymaster"]).await;
    assert_eq!(got.as_slice().unwrap().len(), 2);
    for (g, w) in got.as_slice().unwrap().iter().zip(want.as_slice().unwrap()) {
        assert_eq!(map_keys(g), map_keys(w));
        for key in [
            "flags",
            "link-refcount",
            "role-reported",
            "master-link-status",
            "master-host",
            "slave-priority",
            "replica-announced",
        ] {
            assert_eq!(field(g, key), field(w, key), "{key}");
        }
        assert_eq!(field(g, "master-port"), master_addr.port().to_string());
    }
    // SLAVES is the old name.
    assert_eq!(
        call(&mut c, &["SENTINEL", "SLAVES", "mymaster"])
            .await
            .as_slice()
            .unwrap()
            .len(),
        2
    );

    let want = frame(&fixture("pre.sentinel_sentinels.resp"));
    let got = call(&mut c, &["SENTINEL", "SENTINELS", "mymaster"]).await;
    assert_eq!(got.as_slice().unwrap().len(), 2);
    for (g, w) in got.as_slice().unwrap().iter().zip(want.as_slice().unwrap()) {
        assert_eq!(map_keys(g), map_keys(w));
        for key in [
            "flags",
            "link-refcount",
            "voted-leader",
            "voted-leader-epoch",
        ] {
            assert_eq!(field(g, key), field(w, key), "{key}");
        }
        assert_eq!(field(g, "name"), field(g, "runid"));
    }

    // RESP3: the same fields as maps.
    c.call(&["HELLO", "3"]).await;
    let got = call(&mut c, &["SENTINEL", "MASTER", "mymaster"]).await;
    assert!(matches!(got, Frame::Map(_)), "{got:?}");
    assert_eq!(field(&got, "num-slaves"), "2");

    // GET-MASTER-ADDR-BY-NAME and INFO sentinel as captured, with this deployment's port.
    let mut c = RawConn::connect(t.sentinels[0].addr()).await;
    let port = master_addr.port().to_string();
    let want = String::from_utf8(fixture("pre.get_master_addr.resp"))
        .unwrap()
        .replace("$4\r\n7100", &format!("${}\r\n{port}", port.len()));
    assert_eq!(
        String::from_utf8(
            c.call(&["SENTINEL", "get-master-addr-by-name", "mymaster"])
                .await
        )
        .unwrap(),
        want
    );
    let want = String::from_utf8(fixture("pre.info_sentinel27100.resp")).unwrap();
    let body = want[want.find("\r\n").unwrap() + 2..want.len() - 2].replace("7100", &port);
    assert_eq!(
        String::from_utf8(c.call(&["INFO", "sentinel"]).await).unwrap(),
        format!("${}\r\n{body}\r\n", body.len())
    );
    assert_eq!(
        c.call(&["SENTINEL", "CKQUORUM", "mymaster"]).await,
        b"+OK 3 usable Sentinels. Quorum and failover authorization can be reached\r\n"
    );
}

#[tokio::test]
async fn info_has_only_sentinel_sections() {
    let (_set, sentinel) = default_sentinel("").await;
    let mut c = RawConn::connect(sentinel.addr()).await;
    for args in [&["INFO"][..], &["INFO", "all"], &["INFO", "default"]] {
        let text = String::from_utf8(c.call(args).await).unwrap();
        let sections: Vec<&str> = text.lines().filter(|l| l.starts_with("# ")).collect();
        assert_eq!(
            sections,
            ["# Server", "# Clients", "# Stats", "# CPU", "# Sentinel"],
            "{args:?}"
        );
        assert!(text.contains("redis_mode:sentinel\r\n"));
        assert!(text.ends_with("sentinels=1\r\n\r\n"), "{text}");
    }
    let text = String::from_utf8(c.call(&["INFO", "cpu", "server"]).await).unwrap();
    assert!(text.contains("# Server\r\n") && text.contains("\r\n\r\n# CPU\r\n"));
    assert!(text.find("# Server").unwrap() < text.find("# CPU").unwrap());
    assert_eq!(c.call(&["COMMAND", "COUNT"]).await, b":15\r\n");
    // Subcommand arity comes from the shared table (generated from redis-sentinel).
    assert_eq!(
        c.call(&["COMMAND", "INFO", "sentinel"]).await[..4].to_vec(),
        b"*1\r\n".to_vec()
    );
}

#[tokio::test]
async fn votes_once_per_epoch_and_persists_its_vote() {
    let (_set, sentinel) = default_sentinel("").await;
    let log = EventLog::start(&[sentinel.addr()]).await;
    let mut c = RawConn::connect(sentinel.addr()).await;
    let m = _set.master.addr();
    let (ip, port) = (m.ip().to_string(), m.port().to_string());
    let a = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let b = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
    let reply = |leader: &str, epoch: u64| {
        format!("*3\r\n:0\r\n${}\r\n{leader}\r\n:{epoch}\r\n", leader.len())
    };
    async fn ask(c: &mut RawConn, ip: &str, port: &str, epoch: &str, runid: &str) -> String {
        let argv = ["SENTINEL", "is-master-down-by-addr", ip, port, epoch, runid];
        String::from_utf8(c.call(&argv).await).unwrap()
    }
    assert_eq!(ask(&mut c, &ip, &port, "5", a).await, reply(a, 5));
    // Same epoch, another candidate: the earlier vote comes back.
    assert_eq!(ask(&mut c, &ip, &port, "5", b).await, reply(a, 5));
    assert_eq!(ask(&mut c, &ip, &port, "4", b).await, reply(a, 5));
    // A later epoch gets a new vote.
    assert_eq!(ask(&mut c, &ip, &port, "6", b).await, reply(b, 6));
    // Not asking for a vote: `*`, epoch 0.
    assert_eq!(
        ask(&mut c, &ip, &port, "6", "*").await,
        "*3\r\n:0\r\n$1\r\n*\r\n:0\r\n"
    );
    log.wait("+vote-for-leader", WAIT, |e| e.text == format!("{b} 6"))
        .await;
    assert_eq!(
        log.of("+new-epoch")
            .iter()
            .map(|e| e.text.as_str())
            .collect::<Vec<_>>(),
        ["5", "6"]
    );
    let conf = std::fs::read_to_string(config_file(&sentinel)).unwrap();
    assert!(conf.contains("sentinel current-epoch 6\n"), "{conf}");
    assert!(
        conf.contains("sentinel leader-epoch mymaster 6\n"),
        "{conf}"
    );
}

#[tokio::test]
async fn hello_published_to_it_adds_a_sentinel() {
    let (set, sentinel) = default_sentinel("").await;
    let log = EventLog::start(&[sentinel.addr()]).await;
    let mut c = RawConn::connect(sentinel.addr()).await;
    let m = set.master.addr();
    let id = "0123456789abcdef0123456789abcdef01234567";
    let hello = format!("127.0.0.1,9,{id},3,mymaster,{},{},0", m.ip(), m.port());
    assert_eq!(
        c.call(&["PUBLISH", "__sentinel__:hello", &hello]).await,
        b":1\r\n"
    );
    let e = log.wait("+sentinel", WAIT, |_| true).await;
    assert_eq!(
        e.text,
        format!(
            "sentinel {id} 127.0.0.1 9 @ mymaster 127.0.0.1 {}",
            m.port()
        )
    );
    log.wait("+new-epoch", WAIT, |e| e.text == "3").await;
    let sentinels = call(&mut c, &["SENTINEL", "SENTINELS", "mymaster"]).await;
    assert_eq!(field(&sentinels.as_slice().unwrap()[0], "runid"), id);
    let conf = std::fs::read_to_string(config_file(&sentinel)).unwrap();
    assert!(
        conf.contains(&format!(
            "sentinel known-sentinel mymaster 127.0.0.1 9 {id}\n"
        )),
        "{conf}"
    );
    // Malformed hellos change nothing and still get :1.
    for bad in ["garbage", "a,b,c", "1,2,3,4,nosuch,6,7,8"] {
        assert_eq!(
            c.call(&["PUBLISH", "__sentinel__:hello", bad]).await,
            b":1\r\n"
        );
    }
    assert_eq!(
        call(&mut c, &["SENTINEL", "SENTINELS", "mymaster"])
            .await
            .as_slice()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn sentinels_with_a_password_authenticate_to_each_other() {
    let t = TestSentinel::builder()
        .sentinel_conf("requirepass s3cret")
        .start()
        .await
        .unwrap();
    let mut c = RawConn::connect(t.sentinels[0].addr()).await;
    assert_eq!(
        c.call(&["SENTINEL", "MYID"]).await,
        b"-NOAUTH Authentication required.\r\n"
    );
    assert_eq!(c.call(&["AUTH", "s3cret"]).await, b"+OK\r\n");
    // They AUTH with requirepass when no sentinel-pass is set: their PINGs get PONGs (a
    // NOAUTH is not a valid reply and would make the others look down).
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let sentinels = call(&mut c, &["SENTINEL", "SENTINELS", "mymaster"]).await;
        let fresh = sentinels.as_slice().unwrap().iter().all(|s| {
            field(s, "flags") == "sentinel"
                && field(s, "last-ok-ping-reply").parse::<u64>().unwrap() < 300
                && field(s, "last-ping-reply").parse::<u64>().unwrap() < 300
        });
        // Past the first down-after period, a valid reply must have come recently.
        if fresh && t.sentinels[0].node().lock().started.elapsed() > Duration::from_millis(600) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{sentinels:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn acl_knows_the_commands_of_its_mode() {
    let (set, sentinel) = default_sentinel("").await;
    let mut s = RawConn::connect(sentinel.addr()).await;
    let cat = String::from_utf8(s.call(&["ACL", "CAT", "admin"]).await).unwrap();
    assert!(
        cat.contains("\r\nsentinel|masters\r\n") && !cat.contains("\r\ndebug\r\n"),
        "{cat}"
    );
    assert_eq!(
        s.call(&["ACL", "SETUSER", "u", "+get"]).await,
        b"-ERR Error in ACL SETUSER modifier '+get': Unknown command or category name in ACL\r\n"
    );
    assert_eq!(s.call(&["ACL", "SETUSER", "u", "+ping"]).await, b"+OK\r\n");
    // A server has no SENTINEL command.
    let mut m = RawConn::connect(set.master.addr()).await;
    let cat = String::from_utf8(m.call(&["ACL", "CAT", "admin"]).await).unwrap();
    assert!(
        !cat.contains("sentinel") && cat.contains("\r\ndebug\r\n"),
        "{cat}"
    );
    assert_eq!(
        m.call(&["ACL", "SETUSER", "u", "+sentinel"]).await,
        b"-ERR Error in ACL SETUSER modifier '+sentinel': Unknown command or category name in ACL\r\n"
    );
    assert_eq!(
        m.call(&["SENTINEL", "MASTERS"]).await,
        b"-ERR unknown command 'SENTINEL', with args beginning with: 'MASTERS' \r\n"
    );
}

#[tokio::test]
async fn reset_forgets_and_relearns() {
    let t = TestSentinel::builder().start().await.unwrap();
    let log = EventLog::start(&[t.sentinels[0].addr()]).await;
    let mut c = RawConn::connect(t.sentinels[0].addr()).await;
    assert_eq!(c.call(&["SENTINEL", "RESET", "my*"]).await, b":1\r\n");
    log.wait("+reset-master", WAIT, |e| {
        e.text.starts_with("master mymaster")
    })
    .await;
    let m = call(&mut c, &["SENTINEL", "MASTER", "mymaster"]).await;
    assert_eq!(field(&m, "num-slaves"), "0");
    assert_eq!(field(&m, "num-other-sentinels"), "0");
    // Replicas come back with the master's next INFO, sentinels with their hellos.
    t.wait_discovered(WAIT).await.unwrap();
    let cache = call(&mut c, &["SENTINEL", "INFO-CACHE", "mymaster"]).await;
    let parts = cache.as_slice().unwrap();
    assert_eq!(parts[0].as_bytes().unwrap().as_ref(), b"mymaster");
    let infos = parts[1].as_slice().unwrap();
    assert_eq!(infos.len(), 3, "the master and its two replicas");
    for i in infos {
        let pair = i.as_slice().unwrap();
        assert!(matches!(pair[0], Frame::Integer(_)));
        assert!(pair[1].as_bytes().unwrap().starts_with(b"# Server\r\n"));
    }
}
