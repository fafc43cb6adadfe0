//! Server administration: CONFIG, INFO, COMMAND, CLIENT, ACL, DEBUG, SHUTDOWN, TIME, ROLE.
//! Expected bytes were taken from a real Redis 7.0.15.

mod common;

use std::time::Duration;

use common::{connect, hello3, start, TestServer};
use rediscover::resp::Frame;
use rediscover_testserver::config::Config;

async fn start_with(config: Config) -> TestServer {
    TestServer::builder().config(config).start().await.unwrap()
}

/// The text of a bulk or verbatim reply.
fn text(frame: Frame) -> String {
    match frame {
        Frame::Bulk(b) => String::from_utf8(b.to_vec()).unwrap(),
        other => panic!("expected a bulk string, got {other:?}"),
    }
}

#[tokio::test]
async fn config_get_and_set() {
    let (server, mut c) = start().await;
    assert_reply!(
        c,
        ["CONFIG", "GET", "maxmemory"],
        b"*2\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n"
    );
    assert_reply!(
        c,
        ["CONFIG", "GET", "MAXMEMORY"],
        b"*2\r\n$9\r\nMAXMEMORY\r\n$1\r\n0\r\n"
    );
    assert_reply!(
        c,
        ["CONFIG", "GET", "maxmemory", "maxmemory", "MAXMEMORY"],
        b"*2\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n"
    );
    // An in-process server starts with `save ""` (a redis-server started so answers the same);
    // the binary has Redis's default save points.
    assert_reply!(
        c,
        ["CONFIG", "GET", "save"],
        b"*2\r\n$4\r\nsave\r\n$0\r\n\r\n"
    );
    assert_reply!(c, ["CONFIG", "GET", "nosuch"], b"*0\r\n");
    assert_reply!(
        c,
        [
            "CONFIG",
            "SET",
            "maxmemory",
            "10mb",
            "maxmemory-policy",
            "allkeys-lru"
        ],
        b"+OK\r\n"
    );
    assert_reply!(
        c,
        ["CONFIG", "GET", "maxmemory"],
        b"*2\r\n$9\r\nmaxmemory\r\n$8\r\n10485760\r\n"
    );
    // All or nothing: the bad policy leaves maxmemory unchanged.
    assert_reply!(
        c,
        ["CONFIG", "SET", "maxmemory", "1", "maxmemory-policy", "bad"],
        b"-ERR CONFIG SET failed (possibly related to argument 'maxmemory-policy') - argument(s) must be one of the following: volatile-lru, volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction\r\n"
    );
    assert_reply!(
        c,
        ["CONFIG", "GET", "maxmemory"],
        b"*2\r\n$9\r\nmaxmemory\r\n$8\r\n10485760\r\n"
    );
    assert_reply!(
        c,
        ["CONFIG", "SET", "hash-max-ziplist-entries", "100"],
        b"+OK\r\n"
    );
    assert_reply!(
        c,
        ["CONFIG", "GET", "hash-max-listpack-entries"],
        b"*2\r\n$25\r\nhash-max-listpack-entries\r\n$3\r\n100\r\n"
    );
    assert_eq!(server.node().lock().config.hash_max_listpack_entries, 100);
    assert_reply!(
        c,
        ["CONFIG", "SET", "notify-keyspace-events", "KEA"],
        b"+OK\r\n"
    );
    assert_reply!(
        c,
        ["CONFIG", "GET", "notify-keyspace-events"],
        b"*2\r\n$22\r\nnotify-keyspace-events\r\n$3\r\nAKE\r\n"
    );
    assert_reply!(
        c,
        ["CONFIG", "SET", "notify-keyspace-events", "Kn"],
        b"+OK\r\n"
    );
    assert_reply!(
        c,
        ["CONFIG", "GET", "notify-keyspace-events"],
        b"*2\r\n$22\r\nnotify-keyspace-events\r\n$2\r\nnK\r\n"
    );
    assert_reply!(
        c,
        ["CONFIG", "SET", "notify-keyspace-events", "An"],
        b"+OK\r\n"
    );
    assert_reply!(
        c,
        ["CONFIG", "GET", "notify-keyspace-events"],
        b"*2\r\n$22\r\nnotify-keyspace-events\r\n$1\r\nA\r\n"
    );
    assert_eq!(server.node().lock().config.notify_keyspace_events, "An");
    // An alias and its directive are distinct parameters: the later value wins.
    assert_reply!(
        c,
        [
            "CONFIG",
            "SET",
            "lua-time-limit",
            "1",
            "busy-reply-threshold",
            "2"
        ],
        b"+OK\r\n"
    );
    assert_reply!(
        c,
        ["CONFIG", "GET", "busy-reply-threshold"],
        b"*2\r\n$20\r\nbusy-reply-threshold\r\n$1\r\n2\r\n"
    );
    let port = server.addr().port().to_string();
    assert_reply!(c, ["CONFIG", "SET", "port", &port], b"+OK\r\n");
    assert_reply!(c, ["CONFIG", "SET", "save", ""], b"+OK\r\n");
    assert_reply!(
        c,
        ["CONFIG", "GET", "save"],
        b"*2\r\n$4\r\nsave\r\n$0\r\n\r\n"
    );
    assert_reply!(c, ["CONFIG", "SET", "lua-time-limit", "100"], b"+OK\r\n");
    assert_reply!(
        c,
        ["CONFIG", "GET", "lua-time-limit"],
        b"*2\r\n$14\r\nlua-time-limit\r\n$3\r\n100\r\n"
    );
}

#[tokio::test]
async fn config_set_errors() {
    let (_server, mut c) = start().await;
    let cases: &[(&[&str], &str)] = &[
        (&["CONFIG", "SET", "foo", "bar"], "-ERR Unknown option or number of arguments for CONFIG SET - 'foo'\r\n"),
        (&["CONFIG", "SET", "port", "0", "foo", "1"], "-ERR Unknown option or number of arguments for CONFIG SET - 'foo'\r\n"),
        (&["CONFIG", "SET", "maxmemory", "abc"], "-ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be a memory value\r\n"),
        (&["CONFIG", "SET", "maxmemory", "1", "maxmemory", "2"], "-ERR CONFIG SET failed (possibly related to argument 'maxmemory') - duplicate parameter\r\n"),
        (&["CONFIG", "SET", "daemonize", "yes"], "-ERR CONFIG SET failed (possibly related to argument 'daemonize') - can't set immutable config\r\n"),
        (&["CONFIG", "SET", "appendonly", "maybe"], "-ERR CONFIG SET failed (possibly related to argument 'appendonly') - argument must be 'yes' or 'no'\r\n"),
        (&["CONFIG", "SET", "timeout", "-1"], "-ERR CONFIG SET failed (possibly related to argument 'timeout') - argument must be between 0 and 2147483647 inclusive\r\n"),
        (&["CONFIG", "SET", "timeout", "x"], "-ERR CONFIG SET failed (possibly related to argument 'timeout') - argument couldn't be parsed into an integer\r\n"),
        (&["CONFIG", "SET", "lua-time-limit", "x"], "-ERR CONFIG SET failed (possibly related to argument 'lua-time-limit') - argument couldn't be parsed into an integer\r\n"),
        (&["CONFIG", "SET", "dir", "/tmp"], "-ERR CONFIG SET failed (possibly related to argument 'dir') - can't set protected config\r\n"),
        (&["CONFIG", "SET", "save", "1 2 3"], "-ERR CONFIG SET failed (possibly related to argument 'save') - Invalid save parameters\r\n"),
        (&["CONFIG", "SET", "save", "a", "b"], "-ERR syntax error\r\n"),
        (&["CONFIG", "SET", "maxmemory"], "-ERR wrong number of arguments for 'config|set' command\r\n"),
        (&["CONFIG", "GET"], "-ERR wrong number of arguments for 'config|get' command\r\n"),
        (&["CONFIG", "FOO"], "-ERR unknown subcommand 'FOO'. Try CONFIG HELP.\r\n"),
        (&["CONFIG", "REWRITE"], "-ERR The server is running without a config file\r\n"),
    ];
    for (argv, want) in cases {
        let got = c.call(argv).await;
        assert_eq!(String::from_utf8_lossy(&got), *want, "{argv:?}");
    }
    assert_reply!(c, ["CONFIG", "RESETSTAT"], b"+OK\r\n");
    let help = c.call(&["CONFIG", "HELP"]).await;
    assert!(help.starts_with(
        b"*11\r\n+CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n"
    ));
}

#[tokio::test]
async fn config_set_requirepass_updates_default_user() {
    let (server, mut c) = start().await;
    assert_reply!(c, ["CONFIG", "SET", "requirepass", "s3cret"], b"+OK\r\n");
    let mut other = connect(&server).await;
    assert_reply!(other, ["PING"], b"-NOAUTH Authentication required.\r\n");
    assert_reply!(
        other,
        ["AUTH", "wrong"],
        b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
    assert_reply!(other, ["AUTH", "s3cret"], b"+OK\r\n");
    assert_reply!(c, ["CONFIG", "SET", "requirepass", ""], b"+OK\r\n");
    let mut third = connect(&server).await;
    assert_reply!(third, ["PING"], b"+PONG\r\n");
}

#[tokio::test]
async fn config_rewrite_writes_the_file() {
    let dir = std::env::temp_dir().join(format!("rediscover-admin-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("redis.conf");
    std::fs::write(&path, "port 0\n").unwrap();
    let config = Config {
        config_file: Some(path.clone()),
        ..Config::in_process()
    };
    let server = start_with(config).await;
    let mut c = connect(&server).await;
    assert_reply!(c, ["CONFIG", "SET", "maxmemory", "1mb"], b"+OK\r\n");
    assert_reply!(c, ["CONFIG", "REWRITE"], b"+OK\r\n");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("\nmaxmemory 1048576\n"), "{text}");
    // The file reads back into the same configuration.
    let mut again = Config::default();
    for (name, args) in rediscover_testserver::config_table::parse_config_file(&text).unwrap() {
        rediscover_testserver::config_table::apply_directive(&mut again, &name, &args).unwrap();
    }
    assert_eq!(again.maxmemory, 1 << 20);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn info_sections_and_fields() {
    let (server, mut c) = start().await;
    let _ = c.call(&["NOSUCH"]).await;
    let info = text(c.frame(&["INFO"]).await);
    for header in [
        "# Server\r\n",
        "# Clients\r\n",
        "# Memory\r\n",
        "# Persistence\r\n",
        "# Stats\r\n",
        "# Replication\r\n",
        "# CPU\r\n",
        "# Modules\r\n",
        "# Errorstats\r\n",
        "# Cluster\r\n",
        "# Keyspace\r\n",
    ] {
        assert!(info.contains(header), "{header} missing");
    }
    assert!(!info.contains("# Commandstats"));
    assert!(info.starts_with("# Server\r\nredis_version:7.0.15\r\n"));
    let run_id = server.node().lock().run_id.clone();
    assert!(info.contains(&format!("\r\nrun_id:{run_id}\r\n")));
    assert!(info.contains(&format!("\r\ntcp_port:{}\r\n", server.addr().port())));
    assert!(info.contains("\r\nconnected_clients:1\r\n"));
    assert!(info.contains("\r\nrole:master\r\nconnected_slaves:0\r\n"));
    assert!(info.contains("\r\nerrorstat_ERR:count=1\r\n"));
    assert!(info.contains("\r\ncluster_enabled:0\r\n"));
    assert!(info.contains(&format!("\r\nprocess_id:{}\r\n", std::process::id())));
    let replid = info.split("master_replid:").nth(1).unwrap();
    assert!(replid[..40].bytes().all(|b| b.is_ascii_hexdigit()) && &replid[40..42] == "\r\n");

    let only = text(c.frame(&["INFO", "CLUSTER", "keyspace"]).await);
    assert_eq!(only, "# Cluster\r\ncluster_enabled:0\r\n\r\n# Keyspace\r\n");
    let stats = text(c.frame(&["INFO", "commandstats"]).await);
    assert!(stats.starts_with("# Commandstats\r\ncmdstat_"), "{stats}");
    // The running INFO is not counted yet, as in Redis.
    assert!(stats.contains("cmdstat_info:calls=2,usec="), "{stats}");
    assert!(stats.contains(",rejected_calls=0,failed_calls=0\r\n"));
    let all = text(c.frame(&["INFO", "all"]).await);
    assert!(all.contains("# Commandstats\r\n") && all.contains("# Keyspace\r\n"));
    assert!(text(c.frame(&["INFO", "nosuch"]).await).is_empty());

    // RESP3: a verbatim string.
    hello3(&mut c).await;
    let raw = c.call(&["INFO", "cluster"]).await;
    assert_eq!(raw, b"=34\r\ntxt:# Cluster\r\ncluster_enabled:0\r\n\r\n");
}

#[tokio::test]
async fn command_introspection() {
    let (_server, mut c) = start().await;
    // Every Redis 7.0.15 command, implemented here or not.
    let count = 240;
    let want = format!(":{count}\r\n");
    assert_reply!(c, ["COMMAND", "COUNT"], want.as_bytes());
    assert_reply!(
        c,
        ["COMMAND", "INFO", "ping"],
        b"*1\r\n*10\r\n$4\r\nping\r\n:-1\r\n*1\r\n+fast\r\n:0\r\n:0\r\n:0\r\n*2\r\n+@fast\r\n+@connection\r\n*2\r\n$25\r\nrequest_policy:all_shards\r\n$29\r\nresponse_policy:all_succeeded\r\n*0\r\n*0\r\n"
    );
    assert_reply!(c, ["COMMAND", "INFO", "nosuch"], b"*1\r\n$-1\r\n");
    match c.frame(&["COMMAND"]).await {
        Frame::Array(items) => assert_eq!(items.len(), count),
        other => panic!("{other:?}"),
    }
    let cfg = c.call(&["COMMAND", "INFO", "config|get"]).await;
    assert!(cfg.starts_with(b"*1\r\n*10\r\n$10\r\nconfig|get\r\n:-3\r\n*4\r\n+admin\r\n+noscript\r\n+loading\r\n+stale\r\n"));
    assert_reply!(
        c,
        ["COMMAND", "GETKEYS", "foo", "a"],
        b"-ERR Invalid command specified\r\n"
    );
    assert_reply!(
        c,
        ["COMMAND", "GETKEYS", "ping", "x"],
        b"-ERR The command has no key arguments\r\n"
    );
    assert_reply!(
        c,
        ["COMMAND", "GETKEYS", "config", "get", "x"],
        b"-ERR The command has no key arguments\r\n"
    );
    assert_reply!(
        c,
        ["COMMAND", "GETKEYS"],
        b"-ERR wrong number of arguments for 'command|getkeys' command\r\n"
    );
    assert_reply!(c, ["COMMAND", "LIST", "x"], b"-ERR syntax error\r\n");
    assert_reply!(
        c,
        ["COMMAND", "LIST", "FILTERBY", "foo", "x"],
        b"-ERR syntax error\r\n"
    );
    assert_reply!(
        c,
        ["COMMAND", "LIST", "FILTERBY", "pattern", "conf*"],
        // Real Redis lists these six in hash order; ours are sorted.
        b"*6\r\n$6\r\nconfig\r\n$10\r\nconfig|get\r\n$11\r\nconfig|help\r\n$16\r\nconfig|resetstat\r\n$14\r\nconfig|rewrite\r\n$10\r\nconfig|set\r\n"
    );
    assert_reply!(
        c,
        ["COMMAND", "GETKEYSANDFLAGS", "config", "get", "x"],
        b"-ERR The command has no key arguments\r\n"
    );
    assert_reply!(c, ["COMMAND", "LIST", "FILTERBY", "module", "x"], b"*0\r\n");
    assert_reply!(
        c,
        ["COMMAND", "DOCS", "time"],
        b"*2\r\n$4\r\ntime\r\n*8\r\n$7\r\nsummary\r\n$30\r\nReturn the current server time\r\n$5\r\nsince\r\n$5\r\n2.6.0\r\n$5\r\ngroup\r\n$6\r\nserver\r\n$10\r\ncomplexity\r\n$4\r\nO(1)\r\n"
    );
    assert_reply!(
        c,
        ["COMMAND", "FOO"],
        b"-ERR unknown subcommand 'FOO'. Try COMMAND HELP.\r\n"
    );
}

/// MIGRATE, SORT, SET and BITFIELD: commands whose key specs are incomplete or whose key flags
/// depend on the arguments, which Redis answers with the command's own key function. Replies
/// recorded from Redis 7.0.15.
#[tokio::test]
async fn command_getkeys_uses_the_command_key_functions() {
    let (_server, mut c) = start().await;
    let cases: &[(&[&str], &[u8])] = &[
        (
            &["COMMAND", "GETKEYS", "MIGRATE", "h", "1", "", "0", "5000", "COPY", "AUTH",
              "keys", "AUTH2", "u", "p", "KEYS", "a", "b"],
            b"*2\r\n$1\r\na\r\n$1\r\nb\r\n",
        ),
        (
            &["COMMAND", "GETKEYSANDFLAGS", "MIGRATE", "h", "1", "", "0", "5000", "KEYS", "a", "b"],
            b"*2\r\n*2\r\n$1\r\na\r\n*3\r\n+RW\r\n+access\r\n+delete\r\n*2\r\n$1\r\nb\r\n*3\r\n+RW\r\n+access\r\n+delete\r\n",
        ),
        (
            &["COMMAND", "GETKEYS", "MIGRATE", "h", "1", "k", "0", "5000", "KEYS", "a", "b"],
            b"-ERR Invalid arguments specified for command\r\n",
        ),
        (
            &["COMMAND", "GETKEYSANDFLAGS", "MIGRATE", "h", "1", "k", "0", "5000"],
            b"*1\r\n*2\r\n$1\r\nk\r\n*3\r\n+RW\r\n+access\r\n+delete\r\n",
        ),
        (
            &["COMMAND", "GETKEYSANDFLAGS", "SORT", "k", "BY", "store", "LIMIT", "0", "1", "GET",
              "#", "STORE", "d1", "store", "d2"],
            b"*2\r\n*2\r\n$1\r\nk\r\n*2\r\n+RO\r\n+access\r\n*2\r\n$2\r\nd2\r\n*2\r\n+OW\r\n+update\r\n",
        ),
        (
            &["COMMAND", "GETKEYSANDFLAGS", "SORT", "k", "STORE"],
            b"*1\r\n*2\r\n$1\r\nk\r\n*2\r\n+RO\r\n+access\r\n",
        ),
        (
            &["COMMAND", "GETKEYSANDFLAGS", "SET", "k", "v", "EX", "1", "get"],
            b"*1\r\n*2\r\n$1\r\nk\r\n*3\r\n+RW\r\n+access\r\n+update\r\n",
        ),
        (
            &["COMMAND", "GETKEYSANDFLAGS", "SET", "k", "v", "getx"],
            b"*1\r\n*2\r\n$1\r\nk\r\n*2\r\n+OW\r\n+update\r\n",
        ),
        (
            &["COMMAND", "GETKEYSANDFLAGS", "BITFIELD", "k", "GET", "u8", "0", "OVERFLOW", "SAT"],
            b"*1\r\n*2\r\n$1\r\nk\r\n*2\r\n+RO\r\n+access\r\n",
        ),
        (
            &["COMMAND", "GETKEYSANDFLAGS", "BITFIELD", "k", "GET", "u8", "0", "INCRBY", "u8",
              "0", "1"],
            b"*1\r\n*2\r\n$1\r\nk\r\n*3\r\n+RW\r\n+access\r\n+update\r\n",
        ),
        (
            &["COMMAND", "GETKEYSANDFLAGS", "BITFIELD", "k", "GET", "u8"],
            b"*1\r\n*2\r\n$1\r\nk\r\n*3\r\n+RW\r\n+access\r\n+update\r\n",
        ),
    ];
    for (argv, want) in cases {
        let got = c.call(argv).await;
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(want),
            "{argv:?}"
        );
    }
}

#[tokio::test]
async fn client_name_id_and_list() {
    let (server, mut c) = start().await;
    assert_reply!(c, ["CLIENT", "GETNAME"], b"$-1\r\n");
    assert_reply!(
        c,
        ["CLIENT", "SETNAME", "a b"],
        b"-ERR Client names cannot contain spaces, newlines or special characters.\r\n"
    );
    assert_reply!(c, ["CLIENT", "SETNAME", "worker"], b"+OK\r\n");
    assert_reply!(c, ["CLIENT", "GETNAME"], b"$6\r\nworker\r\n");
    let id = match c.frame(&["CLIENT", "ID"]).await {
        Frame::Integer(n) => n,
        other => panic!("{other:?}"),
    };
    let list = text(c.frame(&["CLIENT", "LIST"]).await);
    let addr = c.stream.local_addr().unwrap();
    let want = format!(
        "id={id} addr={addr} laddr={} fd=0 name=worker age=0 idle=0 flags=N db=0 sub=0 psub=0 ssub=0 multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd=client|list user=default redir=-1 resp=2\n",
        server.addr()
    );
    assert_eq!(list, want);
    assert_eq!(
        text(c.frame(&["CLIENT", "INFO"]).await),
        want.replace("client|list", "client|info")
    );
    assert_reply!(
        c,
        ["CLIENT", "LIST", "TYPE", "foo"],
        b"-ERR Unknown client type 'foo'\r\n"
    );
    assert_reply!(
        c,
        ["CLIENT", "LIST", "ID", "x"],
        b"-ERR Invalid client ID\r\n"
    );
    assert_reply!(c, ["CLIENT", "LIST", "ID", "999"], b"$0\r\n\r\n");
    assert_reply!(c, ["CLIENT", "LIST", "foo"], b"-ERR syntax error\r\n");
    assert_reply!(
        c,
        ["CLIENT", "KILL", "1.2.3.4:5"],
        b"-ERR No such client\r\n"
    );
    assert_reply!(c, ["CLIENT", "KILL", "ID", "9999"], b":0\r\n");
    assert_reply!(
        c,
        ["CLIENT", "KILL", "ID", "x"],
        b"-ERR client-id should be greater than 0\r\n"
    );
    assert_reply!(
        c,
        ["CLIENT", "KILL", "USER", "nosuch"],
        b"-ERR No such user 'nosuch'\r\n"
    );
    assert_reply!(
        c,
        ["CLIENT", "KILL", "SKIPME", "maybe"],
        b"-ERR syntax error\r\n"
    );
    assert_reply!(
        c,
        ["CLIENT", "PAUSE", "x"],
        b"-ERR timeout is not an integer or out of range\r\n"
    );
    assert_reply!(
        c,
        ["CLIENT", "PAUSE", "-1"],
        b"-ERR timeout is negative\r\n"
    );
    assert_reply!(
        c,
        ["CLIENT", "PAUSE", "10", "FOO"],
        b"-ERR CLIENT PAUSE mode must be WRITE or ALL\r\n"
    );
    assert_reply!(c, ["CLIENT", "UNBLOCK", "9999"], b":0\r\n");
    assert_reply!(
        c,
        ["CLIENT", "UNBLOCK", "1", "FOO"],
        b"-ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR\r\n"
    );
    assert_reply!(c, ["CLIENT", "NO-EVICT", "x"], b"-ERR syntax error\r\n");
    assert_reply!(c, ["CLIENT", "NO-EVICT", "on"], b"+OK\r\n");
    assert_reply!(c, ["CLIENT", "REPLY", "FOO"], b"-ERR syntax error\r\n");
}

#[tokio::test]
async fn client_reply_off_and_skip() {
    let (_server, mut c) = start().await;
    c.send(&["CLIENT", "REPLY", "OFF"]).await;
    c.send(&["PING"]).await;
    c.send(&["CLIENT", "REPLY", "ON"]).await;
    assert_eq!(c.read_raw().await, b"+OK\r\n");
    c.send(&["CLIENT", "REPLY", "SKIP"]).await;
    c.send(&["ECHO", "skipped"]).await;
    assert_reply!(c, ["ECHO", "seen"], b"$4\r\nseen\r\n");
}

#[tokio::test]
async fn client_kill_closes_the_other_connection() {
    let (server, mut killer) = start().await;
    let mut victim = connect(&server).await;
    let victim_id = match victim.frame(&["CLIENT", "ID"]).await {
        Frame::Integer(n) => n.to_string(),
        other => panic!("{other:?}"),
    };
    assert_reply!(killer, ["CLIENT", "KILL", "ID", &victim_id], b":1\r\n");
    assert!(victim.is_closed().await);

    // Old form by address.
    let mut victim = connect(&server).await;
    assert_reply!(victim, ["PING"], b"+PONG\r\n");
    let addr = victim.stream.local_addr().unwrap().to_string();
    assert_reply!(killer, ["CLIENT", "KILL", &addr], b"+OK\r\n");
    assert!(victim.is_closed().await);

    // Killing yourself answers first, then closes.
    assert_reply!(killer, ["CLIENT", "KILL", "SKIPME", "no"], b":1\r\n");
    assert!(killer.is_closed().await);
}

#[tokio::test]
async fn client_pause_holds_commands_until_it_ends() {
    let (server, mut admin) = start().await;
    let mut other = connect(&server).await;
    // WRITE pauses only writes: a read-only command goes through at once.
    assert_reply!(admin, ["CLIENT", "PAUSE", "100000", "WRITE"], b"+OK\r\n");
    assert_reply!(other, ["PING"], b"+PONG\r\n");
    assert_reply!(admin, ["CLIENT", "UNPAUSE"], b"+OK\r\n");
    // ALL pauses everything: PING gets no answer until the pause ends.
    assert_reply!(admin, ["CLIENT", "PAUSE", "300", "ALL"], b"+OK\r\n");
    other.send(&["PING"]).await;
    assert!(other
        .read_raw_timeout(Duration::from_millis(100))
        .await
        .is_none());
    assert_eq!(other.read_raw().await, b"+PONG\r\n");
}

#[tokio::test]
async fn acl_users() {
    let (server, mut c) = start().await;
    assert_reply!(
        c,
        ["ACL", "GETUSER", "default"],
        b"*12\r\n$5\r\nflags\r\n*2\r\n$2\r\non\r\n$6\r\nnopass\r\n$9\r\npasswords\r\n*0\r\n$8\r\ncommands\r\n$5\r\n+@all\r\n$4\r\nkeys\r\n$2\r\n~*\r\n$8\r\nchannels\r\n$2\r\n&*\r\n$9\r\nselectors\r\n*0\r\n"
    );
    assert_reply!(
        c,
        ["ACL", "SETUSER", "bob", "on", ">pw", "~k*", "+get"],
        b"+OK\r\n"
    );
    assert_reply!(
        c,
        ["ACL", "GETUSER", "bob"],
        b"*12\r\n$5\r\nflags\r\n*1\r\n$2\r\non\r\n$9\r\npasswords\r\n*1\r\n$64\r\n30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4\r\n$8\r\ncommands\r\n$10\r\n-@all +get\r\n$4\r\nkeys\r\n$3\r\n~k*\r\n$8\r\nchannels\r\n$0\r\n\r\n$9\r\nselectors\r\n*0\r\n"
    );
    assert_reply!(
        c,
        ["ACL", "LIST"],
        b"*2\r\n$106\r\nuser bob on #30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4 ~k* resetchannels -@all +get\r\n$34\r\nuser default on nopass ~* &* +@all\r\n"
    );
    assert_reply!(c, ["ACL", "USERS"], b"*2\r\n$3\r\nbob\r\n$7\r\ndefault\r\n");
    assert_reply!(c, ["ACL", "WHOAMI"], b"$7\r\ndefault\r\n");
    assert_reply!(
        c,
        ["ACL", "SETUSER", "bob", "foo"],
        b"-ERR Error in ACL SETUSER modifier 'foo': Syntax error\r\n"
    );
    assert_reply!(
        c,
        ["ACL", "SETUSER", "bob", "+nosuch"],
        b"-ERR Error in ACL SETUSER modifier '+nosuch': Unknown command or category name in ACL\r\n"
    );
    assert_reply!(
        c,
        ["ACL", "SETUSER", "bob", "<nopw"],
        b"-ERR Error in ACL SETUSER modifier '<nopw': The password you are trying to remove from the user does not exist\r\n"
    );
    assert_reply!(
        c,
        ["ACL", "SETUSER", "bob", "#abc"],
        b"-ERR Error in ACL SETUSER modifier '#abc': The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters\r\n"
    );
    assert_reply!(c, ["ACL", "GETUSER", "nosuch"], b"$-1\r\n");
    assert_reply!(
        c,
        ["ACL", "SETUSER", "a b"],
        b"-ERR Usernames can't contain spaces or null characters\r\n"
    );
    assert_reply!(c, ["ACL", "CAT", "foo"], b"-ERR Unknown category 'foo'\r\n");
    let cats = c.call(&["ACL", "CAT"]).await;
    assert!(cats.starts_with(b"*21\r\n$8\r\nkeyspace\r\n$4\r\nread\r\n"));

    // Authenticate as the new user on another connection.
    let mut b = connect(&server).await;
    assert_reply!(
        b,
        ["AUTH", "bob", "nope"],
        b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
    assert_reply!(b, ["AUTH", "bob", "pw"], b"+OK\r\n");
    // bob may only run GET.
    assert_reply!(
        b,
        ["ACL", "WHOAMI"],
        b"-NOPERM this user has no permissions to run the 'acl|whoami' command\r\n"
    );
    assert!(server
        .node()
        .lock()
        .clients
        .values()
        .any(|e| &e.user[..] == b"bob"));

    assert_reply!(
        c,
        ["ACL", "DELUSER", "default"],
        b"-ERR The 'default' user cannot be removed\r\n"
    );
    assert_reply!(c, ["ACL", "DELUSER", "bob", "x"], b":1\r\n");
    // Deleting a user disconnects its clients.
    assert!(b.is_closed().await);
    assert_reply!(c, ["ACL", "SETUSER", "alice"], b"+OK\r\n");
    assert_reply!(
        c,
        ["ACL", "GETUSER", "alice"],
        b"*12\r\n$5\r\nflags\r\n*1\r\n$3\r\noff\r\n$9\r\npasswords\r\n*0\r\n$8\r\ncommands\r\n$5\r\n-@all\r\n$4\r\nkeys\r\n$0\r\n\r\n$8\r\nchannels\r\n$0\r\n\r\n$9\r\nselectors\r\n*0\r\n"
    );
}

#[tokio::test]
async fn misc_server_commands() {
    let (server, mut c) = start().await;
    assert_reply!(c, ["ROLE"], b"*3\r\n$6\r\nmaster\r\n:0\r\n*0\r\n");
    match c.frame(&["TIME"]).await {
        Frame::Array(parts) => assert_eq!(parts.len(), 2),
        other => panic!("{other:?}"),
    }
    let last = server.node().lock().last_save;
    let want = format!(":{last}\r\n");
    assert_reply!(c, ["LASTSAVE"], want.as_bytes());
    assert_reply!(
        c,
        ["DEBUG", "SLEEP", "0"],
        b"-ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.\r\n"
    );
    assert_reply!(c, ["SHUTDOWN", "FOO"], b"-ERR syntax error\r\n");
    assert_reply!(c, ["SHUTDOWN", "NOSAVE", "SAVE"], b"-ERR syntax error\r\n");
    assert_reply!(
        c,
        ["SHUTDOWN", "ABORT"],
        b"-ERR No shutdown in progress.\r\n"
    );
}

/// A disabled DEBUG is refused before authentication and ACL rules, and counted as rejected
/// (Redis's protected-command check in processCommand). Replies recorded from Redis 7.0.15.
#[tokio::test]
async fn disabled_debug_is_refused_before_auth_and_acl() {
    const DISABLED: &[u8] = b"-ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.\r\n";
    let config = Config {
        requirepass: Some(b"pw".to_vec()),
        ..Config::default()
    };
    let server = start_with(config).await;
    let mut c = connect(&server).await;
    assert_reply!(c, ["DEBUG", "SLEEP", "0"], DISABLED);
    assert_reply!(
        c,
        ["DEBUG"],
        b"-ERR wrong number of arguments for 'debug' command\r\n"
    );
    assert_reply!(c, ["AUTH", "pw"], b"+OK\r\n");
    assert_reply!(c, ["ACL", "SETUSER", "lim", "on", ">p", "+get"], b"+OK\r\n");
    assert_reply!(c, ["AUTH", "lim", "p"], b"+OK\r\n");
    assert_reply!(c, ["DEBUG", "SLEEP", "0"], DISABLED);
    assert_reply!(c, ["AUTH", "pw"], b"+OK\r\n");
    assert_reply!(c, ["ACL", "LOG"], b"*0\r\n");
    let stats = text(c.frame(&["INFO", "commandstats"]).await);
    assert!(
        stats.contains(
            "cmdstat_debug:calls=0,usec=0,usec_per_call=0.00,rejected_calls=3,failed_calls=0"
        ),
        "{stats}"
    );
}

#[tokio::test]
async fn debug_when_enabled() {
    let config = Config {
        enable_debug_command: "yes".into(),
        ..Config::in_process()
    };
    let server = start_with(config).await;
    let mut c = connect(&server).await;
    assert_reply!(c, ["DEBUG", "SLEEP", "0"], b"+OK\r\n");
    // DEBUG SLEEP holds every client, the sleeper included, for its duration; its own +OK
    // comes at the end, as in Redis.
    let mut other = connect(&server).await;
    c.send(&["DEBUG", "SLEEP", "0.5"]).await;
    let node = server.node().clone();
    assert!(
        common::wait_until(Duration::from_secs(5), || {
            let node = node.clone();
            async move { node.lock().pause.is_some() }
        })
        .await
    );
    other.send(&["PING"]).await;
    assert!(other
        .read_raw_timeout(Duration::from_millis(100))
        .await
        .is_none());
    assert!(c
        .read_raw_timeout(Duration::from_millis(50))
        .await
        .is_none());
    assert_eq!(c.read_raw().await, b"+OK\r\n");
    assert_eq!(other.read_raw().await, b"+PONG\r\n");
    assert_reply!(
        c,
        ["DEBUG", "JMAP"],
        b"-ERR unknown subcommand or wrong number of arguments for 'JMAP'. Try DEBUG HELP.\r\n"
    );
    assert_reply!(c, ["DEBUG", "SET-ACTIVE-EXPIRE", "0"], b"+OK\r\n");
    assert!(!server.node().lock().config.active_expire_enabled);
}

/// DEBUG ERROR replies with its argument as the error line (clients' test suites use it to
/// simulate LOADING, READONLY, OOM, ... replies). Replies recorded from Redis 7.0.15.
#[tokio::test]
async fn debug_error_replies_with_the_given_error() {
    let config = Config {
        enable_debug_command: "yes".into(),
        ..Config::default()
    };
    let server = start_with(config).await;
    let mut c = connect(&server).await;
    assert_reply!(
        c,
        ["DEBUG", "ERROR", "LOADING fake message"],
        b"-LOADING fake message\r\n"
    );
    assert_reply!(c, ["debug", "error", "a\nb\rc"], b"-a b c\r\n");
    assert_reply!(c, ["DEBUG", "ERROR", ""], b"-\r\n");
    assert_reply!(
        c,
        ["DEBUG", "ERROR", "x", "y"],
        b"-ERR unknown subcommand or wrong number of arguments for 'ERROR'. Try DEBUG HELP.\r\n"
    );
    // Written as is, not as a failed call: no error statistic counts it.
    let info = text(c.frame(&["INFO", "errorstats"]).await);
    assert!(
        !info.contains("errorstat_LOADING") && info.contains("errorstat_ERR:count=1"),
        "{info}"
    );
    let stats = text(c.frame(&["INFO", "commandstats"]).await);
    let debug = stats
        .lines()
        .find(|l| l.starts_with("cmdstat_debug:"))
        .expect(&stats);
    assert!(
        debug.contains("calls=4,") && debug.contains("failed_calls=1"),
        "{debug}"
    );
}

#[tokio::test]
async fn shutdown_closes_and_stops() {
    let (server, mut c) = start().await;
    c.send(&["SHUTDOWN", "NOSAVE"]).await;
    assert!(c.is_closed().await);
    assert!(server.node().is_shutting_down());
}

#[tokio::test]
async fn acl_command_rules_are_enforced() {
    let (server, mut admin) = start().await;
    assert_reply!(
        admin,
        [
            "ACL",
            "SETUSER",
            "lim",
            "on",
            ">p",
            "+config|get",
            "+@connection",
            "-ping"
        ],
        b"+OK\r\n"
    );
    let mut c = connect(&server).await;
    assert_reply!(c, ["AUTH", "lim", "p"], b"+OK\r\n");
    assert_reply!(
        c,
        ["CONFIG", "GET", "hz"],
        b"*2\r\n$2\r\nhz\r\n$2\r\n10\r\n"
    );
    assert_reply!(
        c,
        ["CONFIG", "SET", "hz", "10"],
        b"-NOPERM this user has no permissions to run the 'config|set' command\r\n"
    );
    assert_reply!(
        c,
        ["PING"],
        b"-NOPERM this user has no permissions to run the 'ping' command\r\n"
    );
    assert_reply!(c, ["ECHO", "a"], b"$1\r\na\r\n");
    assert_reply!(
        c,
        ["MULTI"],
        b"-NOPERM this user has no permissions to run the 'multi' command\r\n"
    );
}

#[tokio::test]
async fn info_keyspace_counts_keys() {
    let server = TestServer::start().await.unwrap();
    {
        let mut st = server.node().lock();
        let value = |s: &'static [u8]| rediscover_testserver::keyspace::Value::from_bytes(s.into());
        st.dbs[0].set(bytes::Bytes::from_static(b"a"), value(b"1"));
        st.dbs[0].set(bytes::Bytes::from_static(b"b"), value(b"2"));
        st.dbs[0].set_expire(b"b", i64::MAX / 2);
        st.dbs[3].set(bytes::Bytes::from_static(b"c"), value(b"3"));
    }
    let mut c = connect(&server).await;
    assert_eq!(
        text(c.frame(&["INFO", "keyspace"]).await),
        "# Keyspace\r\ndb0:keys=2,expires=1,avg_ttl=0\r\ndb3:keys=1,expires=0,avg_ttl=0\r\n"
    );
    let memory = text(c.frame(&["INFO", "memory"]).await);
    assert!(memory.starts_with("# Memory\r\nused_memory:"), "{memory}");
    assert!(
        memory.contains("\r\nmaxmemory:0\r\nmaxmemory_human:0B\r\nmaxmemory_policy:noeviction\r\n")
    );
}

#[tokio::test]
async fn resp3_shapes() {
    let (_server, mut c) = start().await;
    hello3(&mut c).await;
    assert_reply!(
        c,
        ["CONFIG", "GET", "maxmemory"],
        b"%1\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n"
    );
    assert_reply!(
        c,
        ["ACL", "GETUSER", "default"],
        b"%6\r\n$5\r\nflags\r\n~2\r\n$2\r\non\r\n$6\r\nnopass\r\n$9\r\npasswords\r\n*0\r\n$8\r\ncommands\r\n$5\r\n+@all\r\n$4\r\nkeys\r\n$2\r\n~*\r\n$8\r\nchannels\r\n$2\r\n&*\r\n$9\r\nselectors\r\n*0\r\n"
    );
    assert_reply!(c, ["CLIENT", "LIST", "ID", "99999"], b"=4\r\ntxt:\r\n");
    assert_reply!(c, ["COMMAND", "DOCS", "nosuch"], b"%0\r\n");
    assert_reply!(
        c,
        ["COMMAND", "INFO", "ping"],
        b"*1\r\n*10\r\n$4\r\nping\r\n:-1\r\n~1\r\n+fast\r\n:0\r\n:0\r\n:0\r\n~2\r\n+@fast\r\n+@connection\r\n~2\r\n$25\r\nrequest_policy:all_shards\r\n$29\r\nresponse_policy:all_succeeded\r\n~0\r\n~0\r\n"
    );
}

#[tokio::test]
async fn client_unpause_releases_paused_clients() {
    let (server, mut admin) = start().await;
    let mut other = connect(&server).await;
    assert_reply!(admin, ["CLIENT", "PAUSE", "100000"], b"+OK\r\n");
    other.send(&["PING"]).await;
    assert!(other
        .read_raw_timeout(Duration::from_millis(50))
        .await
        .is_none());
    // An ALL pause holds the admin too (as in Redis), so lift it the way CLIENT UNPAUSE does:
    // the waiting client must notice well before the 100 s deadline.
    server.node().lock().pause = None;
    assert_eq!(other.read_raw().await, b"+PONG\r\n");
}

#[tokio::test]
async fn client_unblock_answers_the_parked_client() {
    use rediscover_testserver::client::Client;
    use rediscover_testserver::node::{TimeoutReply, Waiter};

    let (server, mut c) = start().await;
    // Park a client as a blocking command would (no blocking command is needed for this).
    let park = |id: u64| {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let (oob, _) = rediscover_testserver::client::oob_channel();
        let addr = "127.0.0.1:1".parse().unwrap();
        server.node().lock().park(Waiter {
            client: Box::new(Client::new(id, addr, addr, oob)),
            argv: vec![bytes::Bytes::from_static(b"blpop")],
            keys: vec![bytes::Bytes::from_static(b"k")],
            db: 0,
            on_timeout: TimeoutReply::NullArray,
            wake: tx,
        });
        rx
    };
    let rx = park(1000);
    assert_reply!(c, ["CLIENT", "UNBLOCK", "1000"], b":1\r\n");
    let (_, reply) = rx.await.unwrap();
    assert_eq!(&reply[..], b"*-1\r\n");
    assert_reply!(c, ["CLIENT", "UNBLOCK", "1000"], b":0\r\n");

    let rx = park(1001);
    assert_reply!(c, ["CLIENT", "UNBLOCK", "1001", "ERROR"], b":1\r\n");
    let (_, reply) = rx.await.unwrap();
    assert_eq!(
        &reply[..],
        b"-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n"
    );
}

#[tokio::test]
async fn slowlog_records_slow_commands() {
    let (_server, mut c) = start().await;
    assert_reply!(c, ["SLOWLOG", "LEN"], b":0\r\n");
    assert_reply!(
        c,
        ["CONFIG", "SET", "slowlog-log-slower-than", "0"],
        b"+OK\r\n"
    );
    assert_reply!(c, ["CLIENT", "SETNAME", "nm"], b"+OK\r\n");
    assert_reply!(c, ["ECHO", "hi"], b"$2\r\nhi\r\n");
    let _ = c.call(&["AUTH", "a", "b"]).await;
    let peer = c.stream.local_addr().unwrap().to_string();
    match c.frame(&["SLOWLOG", "GET", "2"]).await {
        Frame::Array(entries) => {
            assert_eq!(entries.len(), 2);
            let Frame::Array(auth) = &entries[0] else {
                panic!("{entries:?}")
            };
            assert_eq!(auth[0], Frame::Integer(3));
            assert_eq!(
                auth[3],
                Frame::Array(vec![
                    Frame::Bulk("AUTH".into()),
                    Frame::Bulk("(redacted)".into()),
                    Frame::Bulk("(redacted)".into()),
                ])
            );
            assert_eq!(auth[4], Frame::Bulk(peer.into()));
            assert_eq!(auth[5], Frame::Bulk("nm".into()));
        }
        other => panic!("{other:?}"),
    }
    // CONFIG SET, CLIENT SETNAME, ECHO, AUTH and the SLOWLOG GET itself.
    assert_reply!(c, ["SLOWLOG", "LEN"], b":5\r\n");
    assert_reply!(
        c,
        ["SLOWLOG", "GET", "-2"],
        b"-ERR count should be greater than or equal to -1\r\n"
    );
    assert_reply!(
        c,
        ["CONFIG", "SET", "slowlog-log-slower-than", "10000"],
        b"+OK\r\n"
    );
    assert_reply!(c, ["SLOWLOG", "GET", "0"], b"*0\r\n");
    assert_reply!(c, ["SLOWLOG", "RESET"], b"+OK\r\n");
    assert_reply!(c, ["SLOWLOG", "LEN"], b":0\r\n");
}

/// CLIENT LIST names each client's last command, subcommands as `container|sub` (Redis 7.0).
#[tokio::test]
async fn client_list_shows_last_command() {
    let server = TestServer::start().await.unwrap();
    let mut a = connect(&server).await;
    let mut b = connect(&server).await;
    assert_reply!(a, ["GET", "x"], b"$-1\r\n");
    let list = String::from_utf8(b.call(&["CLIENT", "LIST"]).await).unwrap();
    let lines: Vec<&str> = list.lines().filter(|l| l.contains("id=")).collect();
    assert_eq!(lines.len(), 2, "{list}");
    assert!(lines.iter().any(|l| l.contains(" cmd=get ")), "{list}");
    assert!(
        lines.iter().any(|l| l.contains(" cmd=client|list ")),
        "{list}"
    );
}

/// `flags=` and `redir=` of client `id` in CLIENT LIST ID, polled until they are `want`
/// (another connection's entry is refreshed after its batch of commands).
async fn flags_become(obs: &mut common::RawConn, id: &str, want: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let line = text(obs.frame(&["CLIENT", "LIST", "ID", id]).await);
        let got: Vec<&str> = line
            .split_whitespace()
            .filter(|f| f.starts_with("flags=") || f.starts_with("redir="))
            .collect();
        let got = got.join(" ");
        if got == want {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "client {id}: {got:?}, want {want:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn client_id(c: &mut common::RawConn) -> String {
    match c.frame(&["CLIENT", "ID"]).await {
        Frame::Integer(n) => n.to_string(),
        other => panic!("{other:?}"),
    }
}

/// CLIENT LIST's flags in Redis's order and its `redir=`, as a real Redis 7.0.15 listed the
/// same clients (redirect ids substituted).
#[tokio::test]
async fn client_list_flags_match_redis() {
    let (server, mut obs) = start().await;
    let mut m = connect(&server).await;
    let mid = client_id(&mut m).await;
    assert_reply!(m, ["MONITOR"], b"+OK\r\n");
    flags_become(&mut obs, &mid, "flags=O redir=-1").await;
    // A monitor is a normal client for TYPE.
    let normal = text(obs.frame(&["CLIENT", "LIST", "TYPE", "normal"]).await);
    assert!(normal.contains(&format!("id={mid} ")), "{normal}");
    let replicas = text(obs.frame(&["CLIENT", "LIST", "TYPE", "replica"]).await);
    assert!(!replicas.contains(&format!("id={mid} ")), "{replicas}");

    let mut t = connect(&server).await;
    let tid = client_id(&mut t).await;
    assert_reply!(t, ["CLIENT", "TRACKING", "ON"], b"+OK\r\n");
    flags_become(&mut obs, &tid, "flags=t redir=0").await;

    let mut r = connect(&server).await;
    let rid = client_id(&mut r).await;
    let mut tb = connect(&server).await;
    let tbid = client_id(&mut tb).await;
    assert_reply!(
        tb,
        ["CLIENT", "TRACKING", "ON", "REDIRECT", &rid, "BCAST", "PREFIX", "a"],
        b"+OK\r\n"
    );
    flags_become(&mut obs, &tbid, &format!("flags=tB redir={rid}")).await;
    drop(r);
    let rid_n: u64 = rid.parse().unwrap();
    assert!(
        common::wait_until(Duration::from_secs(10), || async {
            !server.node().lock().clients.contains_key(&rid_n)
        })
        .await
    );
    // The redirect is found broken when an invalidation is due.
    assert_reply!(obs, ["SET", "a1", "1"], b"+OK\r\n");
    flags_become(&mut obs, &tbid, &format!("flags=tRB redir={rid}")).await;

    let mut w = connect(&server).await;
    let wid = client_id(&mut w).await;
    assert_reply!(w, ["WATCH", "wk"], b"+OK\r\n");
    assert_reply!(obs, ["SET", "wk", "1"], b"+OK\r\n");
    flags_become(&mut obs, &wid, "flags=d redir=-1").await;
    assert_reply!(w, ["MULTI"], b"+OK\r\n");
    flags_become(&mut obs, &wid, "flags=xd redir=-1").await;

    let mut ne = connect(&server).await;
    let neid = client_id(&mut ne).await;
    assert_reply!(ne, ["CLIENT", "NO-EVICT", "on"], b"+OK\r\n");
    flags_become(&mut obs, &neid, "flags=e redir=-1").await;

    let mut p3 = connect(&server).await;
    let p3id = client_id(&mut p3).await;
    hello3(&mut p3).await;
    assert_reply!(p3, ["CLIENT", "TRACKING", "ON", "OPTIN"], b"+OK\r\n");
    p3.call(&["SUBSCRIBE", "x"]).await;
    flags_become(&mut obs, &p3id, "flags=Pt redir=0").await;

    let mut b = connect(&server).await;
    let bid = client_id(&mut b).await;
    b.send(&["BLPOP", "nolist", "0"]).await;
    flags_become(&mut obs, &bid, "flags=b redir=-1").await;

    let mut t2 = connect(&server).await;
    let t2id = client_id(&mut t2).await;
    assert_reply!(t2, ["CLIENT", "TRACKING", "ON"], b"+OK\r\n");
    assert_reply!(t2, ["MULTI"], b"+OK\r\n");
    flags_become(&mut obs, &t2id, "flags=xt redir=0").await;
    assert_reply!(t2, ["EXEC"], b"*0\r\n");
    let own = text(t2.frame(&["CLIENT", "INFO"]).await);
    assert!(
        own.contains(" flags=t ") && own.contains(" redir=0 "),
        "{own}"
    );
}
