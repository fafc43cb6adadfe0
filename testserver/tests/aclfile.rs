//! ACL persistence as Redis 7.0.15 does it: `aclfile` with ACL LOAD / ACL SAVE, `user` lines in
//! the config file, CONFIG REWRITE of users. Expected texts were taken from redis-server 7.0.15;
//! with REDISCOVER_REAL_REDIS_SERVER set, the same files are also loaded by a real redis-server
//! and compared.

mod common;

use std::process::Command;

use common::dataset::TempDir;
use common::{connect, strings, RawConn, RealRedisProc};
use rediscover_testserver::config::Config;
use rediscover_testserver::config_table::apply_directive;
use rediscover_testserver::TestServer;

const NOT_CONFIGURED: &[u8] = b"-ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration.\r\n";

const GOOD: &str = "user alice on >a ~* &* +@all -@dangerous\n\
                    user bob off resetchannels -@all +get (~x -@all +set)\n\
                    user default on nopass ~* &* +@all\n";

/// ACL LIST of GOOD, as redis-server 7.0.15 shows it.
const GOOD_LIST: &[&str] = &[
    "user alice on #ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb ~* &* +@all -@dangerous",
    "user bob off resetchannels -@all +get (~x resetchannels -@all +set)",
    "user default on nopass ~* &* +@all",
];

/// A file with one of each error ACL LOAD reports (Redis 7.0.15 crashes on an unmatched
/// parenthesis, so there is none here).
const BAD: &str = "user alice on >a ~* +@all\n\
                   user alice on\n\
                   # comment\n\
                   user bob on +nosuch +alsono bogus  +get ~x ~y resetpass <zz\n\
                   foo bar\n\
                   user\n\
                   USER x on\n\
                   \n\
                   user dan on &* &x\n";

fn bad_error(file: &str) -> String {
    format!(
        "-ERR WARNING: Duplicate user 'alice' found on line 2. {file}:3 should start with user keyword followed by the username. {file}:4: Error in applying operation '+nosuch': Unknown command or category name in ACL. {file}:4: Error in applying operation '+alsono': Unknown command or category name in ACL. {file}:4: Syntax error. {file}:5 should start with user keyword followed by the username. {file}:6 should start with user keyword followed by the username. {file}:7 should start with user keyword followed by the username. {file}:9: Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels. WARNING: ACL errors detected, no change to the previously active ACL rules was performed\r\n"
    )
}

fn config(dir: &TempDir, lines: &[(&str, &[&str])]) -> Result<Config, String> {
    let mut c = Config {
        dir: dir.str().to_string(),
        ..Config::in_process()
    };
    for (name, args) in lines {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        apply_directive(&mut c, name, &args)?;
    }
    Ok(c)
}

async fn start_with(config: Config) -> (TestServer, RawConn) {
    let server = TestServer::builder()
        .config(config)
        .start()
        .await
        .expect("start");
    let c = connect(&server).await;
    (server, c)
}

async fn acl_list(c: &mut RawConn) -> Vec<String> {
    strings(c.frame(&["ACL", "LIST"]).await)
}

#[tokio::test]
async fn load_and_save_round_trip() {
    let dir = TempDir::new("aclfile-rt");
    let file = dir.file("users.acl");
    std::fs::write(&file, GOOD).unwrap();
    let path = file.to_str().unwrap();
    let (_server, mut c) = start_with(config(&dir, &[("aclfile", &[path])]).unwrap()).await;
    assert_eq!(acl_list(&mut c).await, GOOD_LIST);
    let aclfile_reply = format!("*2\r\n$7\r\naclfile\r\n${}\r\n{path}\r\n", path.len());
    assert_reply!(c, ["CONFIG", "GET", "aclfile"], aclfile_reply.as_bytes());
    assert_reply!(c, ["AUTH", "alice", "a"], b"+OK\r\n");
    assert_reply!(c, ["AUTH", "default", "x"], b"+OK\r\n");
    // SAVE writes exactly the ACL LIST lines, through a file renamed over the target.
    assert_reply!(
        c,
        ["ACL", "SETUSER", "carol", "on", ">c", "%R~r*", "+@read", "-get"],
        b"+OK\r\n"
    );
    assert_reply!(c, ["ACL", "DELUSER", "bob"], b":1\r\n");
    let list = acl_list(&mut c).await;
    assert_reply!(c, ["ACL", "SAVE"], b"+OK\r\n");
    let saved = std::fs::read_to_string(&file).unwrap();
    assert_eq!(
        saved,
        list.iter().map(|l| format!("{l}\n")).collect::<String>()
    );
    let names: Vec<_> = std::fs::read_dir(dir.str())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["users.acl"], "no temporary file left");
    // LOAD brings the saved users back after changes.
    assert_reply!(c, ["ACL", "DELUSER", "carol"], b":1\r\n");
    assert_reply!(c, ["ACL", "SETUSER", "dave", "on"], b"+OK\r\n");
    assert_reply!(c, ["ACL", "LOAD"], b"+OK\r\n");
    assert_eq!(acl_list(&mut c).await, list);
    // A file without `default` gives a default user with full access and no password.
    std::fs::write(&file, "user eve on nopass +ping\n").unwrap();
    assert_reply!(c, ["ACL", "LOAD"], b"+OK\r\n");
    assert_eq!(
        acl_list(&mut c).await,
        [
            "user default on nopass ~* &* +@all",
            "user eve on nopass resetchannels -@all +ping"
        ]
    );
    // A relative aclfile is in `dir`, where redis-server runs.
    let (_s2, mut c2) = start_with(config(&dir, &[("aclfile", &["users.acl"])]).unwrap()).await;
    assert_eq!(acl_list(&mut c2).await.len(), 2);
    assert_reply!(c2, ["ACL", "SAVE"], b"+OK\r\n");
}

#[tokio::test]
async fn invalid_file_changes_nothing() {
    let dir = TempDir::new("aclfile-bad");
    let file = dir.file("users.acl");
    std::fs::write(&file, GOOD).unwrap();
    let path = file.to_str().unwrap();
    let (_server, mut c) = start_with(config(&dir, &[("aclfile", &[path])]).unwrap()).await;
    std::fs::write(&file, BAD).unwrap();
    let bad = bad_error(path);
    assert_reply!(c, ["ACL", "LOAD"], bad.as_bytes());
    assert_eq!(acl_list(&mut c).await, GOOD_LIST);
    std::fs::remove_file(&file).unwrap();
    let missing =
        format!("-ERR Error loading ACLs, opening file '{path}': No such file or directory\r\n");
    assert_reply!(c, ["ACL", "LOAD"], missing.as_bytes());
    assert_eq!(acl_list(&mut c).await, GOOD_LIST);
    // SAVE into a directory that is gone fails with Redis's text and changes nothing.
    std::fs::create_dir(dir.file("sub")).unwrap();
    let gone = dir.file("sub/users.acl");
    std::fs::write(&gone, GOOD).unwrap();
    let (_s2, mut c2) =
        start_with(config(&dir, &[("aclfile", &[gone.to_str().unwrap()])]).unwrap()).await;
    std::fs::remove_dir_all(dir.file("sub")).unwrap();
    assert_reply!(c2, ["ACL", "SAVE"], b"-ERR There was an error trying to save the ACLs. Please check the server logs for more information\r\n");
    assert_eq!(acl_list(&mut c2).await, GOOD_LIST);
    // `aclfile` is set at startup only.
    assert_reply!(c, ["CONFIG", "SET", "aclfile", "/tmp/x"], b"-ERR CONFIG SET failed (possibly related to argument 'aclfile') - can't set immutable config\r\n");
}

#[tokio::test]
async fn startup_refuses_a_bad_or_missing_file() {
    let dir = TempDir::new("aclfile-startup");
    let file = dir.file("users.acl");
    let path = file.to_str().unwrap();
    let err = TestServer::builder()
        .config(config(&dir, &[("aclfile", &[path])]).unwrap())
        .start()
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("Aborting Redis startup because of ACL errors: Error loading ACLs, opening file '{path}': No such file or directory")
    );
    std::fs::write(&file, BAD).unwrap();
    let err = TestServer::builder()
        .config(config(&dir, &[("aclfile", &[path])]).unwrap())
        .start()
        .await
        .unwrap_err();
    let want = bad_error(path);
    let want = want.trim_start_matches("-ERR ").trim_end();
    assert_eq!(
        err.to_string(),
        format!("Aborting Redis startup because of ACL errors: {want}")
    );
}

#[tokio::test]
async fn load_and_save_need_an_aclfile() {
    let (_server, mut c) = common::start().await;
    assert_reply!(c, ["ACL", "LOAD"], NOT_CONFIGURED);
    assert_reply!(c, ["ACL", "SAVE"], NOT_CONFIGURED);
}

#[tokio::test]
async fn config_user_lines() {
    let dir = TempDir::new("aclfile-conf");
    let c = config(
        &dir,
        &[
            ("requirepass", &["secret"]),
            ("user", &["alice", "on", ">a", "(~x", "+get)", "+ping"]),
            ("user", &["bob", "on", "nopass", "~b*", "+@read"]),
        ],
    )
    .unwrap();
    assert_eq!(c.users.len(), 2);
    let (_server, mut conn) = start_with(c).await;
    assert_reply!(conn, ["AUTH", "secret"], b"+OK\r\n");
    assert_eq!(
        acl_list(&mut conn).await,
        [
            "user alice on #ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb resetchannels -@all +ping (~x resetchannels -@all +get)",
            "user bob on nopass ~b* resetchannels -@all +@read",
            "user default on #2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b ~* &* +@all",
        ]
    );
    // A `user default` line replaces requirepass's default user (Redis starts it from `reset`).
    let c = config(
        &dir,
        &[
            ("requirepass", &["secret"]),
            ("user", &["default", "on", ">other", "+@all"]),
        ],
    )
    .unwrap();
    let (_server, mut conn) = start_with(c).await;
    assert_reply!(conn, ["AUTH", "other"], b"+OK\r\n");
    assert_eq!(
        acl_list(&mut conn).await,
        ["user default on sanitize-payload #d9298a10d1b0735837dc4bd85dac641b0f3cef27a47e5d53a54f2f3f5b2fcffa resetchannels +@all"]
    );
}

#[test]
fn config_user_line_errors() {
    let dir = TempDir::new("aclfile-conf-err");
    let err = |lines: &[(&str, &[&str])]| config(&dir, lines).unwrap_err();
    // Redis names the line's argument at the index of the failing rule, `user` and the name
    // included (its quirk, kept).
    assert_eq!(
        err(&[("user", &["bob", "on", "bogus"])]),
        "Error in user declaration 'bob': Syntax error"
    );
    assert_eq!(
        err(&[("user", &["bob", "on", ">x", "(+get ~x)", "bogus"])]),
        "Error in user declaration '>x': Syntax error"
    );
    assert_eq!(
        err(&[("user", &["bob", "on"]), ("user", &["bob", "off"])]),
        "Error in user declaration 'bob': Duplicate user found. A user can only be defined once in config files"
    );
    assert_eq!(
        err(&[("user", &["bob", "on", "(+get", "~x"])]),
        "Error in user declaration 'bob': Unknown command or category name in ACL"
    );
    assert_eq!(
        err(&[("user", &[])]),
        "Bad directive or wrong number of arguments"
    );
}

#[tokio::test]
async fn startup_refuses_users_and_aclfile_together_and_unknown_commands() {
    let dir = TempDir::new("aclfile-both");
    let file = dir.file("users.acl");
    std::fs::write(&file, GOOD).unwrap();
    let both = config(
        &dir,
        &[
            ("user", &["bob", "on"]),
            ("aclfile", &[file.to_str().unwrap()]),
        ],
    )
    .unwrap();
    let err = TestServer::builder()
        .config(both)
        .start()
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "Configuring Redis with users defined in redis.conf and at the same setting an ACL file path is invalid. This setup is very likely to lead to configuration errors and security holes, please define either an ACL file or declare users directly in your redis.conf, but not both.");
    // Unknown commands pass the config file's check and stop the startup.
    let unknown = config(&dir, &[("user", &["bob", "on", "+nosuchcmd"])]).unwrap();
    let err = TestServer::builder()
        .config(unknown)
        .start()
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Error loading ACL rule '+nosuchcmd' for the user named 'bob': Unknown command or category name in ACL\nCritical error while loading ACLs. Exiting."
    );
}

#[tokio::test]
async fn config_rewrite_writes_users_unless_there_is_an_aclfile() {
    let dir = TempDir::new("aclfile-rewrite");
    let conf = dir.file("redis.conf");
    std::fs::write(&conf, "").unwrap();
    let mut c = config(&dir, &[("user", &["bob", "on", ">b", "+get"])]).unwrap();
    c.config_file = Some(conf.clone());
    let (_server, mut conn) = start_with(c).await;
    assert_reply!(
        conn,
        ["ACL", "SETUSER", "carol", "on", "nopass", "&news", "+@pubsub"],
        b"+OK\r\n"
    );
    assert_reply!(conn, ["CONFIG", "REWRITE"], b"+OK\r\n");
    let list = acl_list(&mut conn).await;
    let text = std::fs::read_to_string(&conf).unwrap();
    let users: Vec<&str> = text.lines().filter(|l| l.starts_with("user ")).collect();
    assert_eq!(users, list);
    // The rewritten file starts a server with the same users.
    let mut again = Config::default();
    for (name, args) in rediscover_testserver::config_table::parse_config_file(&text).unwrap() {
        apply_directive(&mut again, &name, &args).unwrap();
    }
    again.port = 0;
    again.dir = dir.str().to_string();
    let (_s2, mut conn2) = start_with(again).await;
    // ... except that a `user default` line starts from `reset`, which adds sanitize-payload
    // (redis-server 7.0.15 does the same).
    let mut expected = list.clone();
    expected[2] = "user default on nopass sanitize-payload ~* &* +@all".into();
    assert_eq!(acl_list(&mut conn2).await, expected);

    // With an aclfile, users stay out of the config file.
    let file = dir.file("users.acl");
    std::fs::write(&file, GOOD).unwrap();
    let mut c = config(&dir, &[("aclfile", &[file.to_str().unwrap()])]).unwrap();
    c.config_file = Some(conf.clone());
    let (_s3, mut conn3) = start_with(c).await;
    assert_reply!(conn3, ["CONFIG", "REWRITE"], b"+OK\r\n");
    let text = std::fs::read_to_string(&conf).unwrap();
    assert!(!text.lines().any(|l| l.starts_with("user ")), "{text}");
    assert!(text.contains("aclfile "), "{text}");
}

#[tokio::test]
async fn acl_load_disconnects_every_client_of_a_non_default_user() {
    let dir = TempDir::new("aclfile-kill");
    let file = dir.file("users.acl");
    let users = format!("{GOOD}user root on >r ~* &* +@all\n");
    std::fs::write(&file, &users).unwrap();
    let (server, mut admin) =
        start_with(config(&dir, &[("aclfile", &[file.to_str().unwrap()])]).unwrap()).await;
    let mut alice = connect(&server).await;
    assert_reply!(alice, ["AUTH", "alice", "a"], b"+OK\r\n");
    let mut loader = connect(&server).await;
    assert_reply!(loader, ["AUTH", "root", "r"], b"+OK\r\n");
    // A failed LOAD disconnects nobody.
    std::fs::write(&file, "bogus\n").unwrap();
    let reply = loader.call(&["ACL", "LOAD"]).await;
    assert!(
        reply.starts_with(b"-ERR "),
        "{}",
        String::from_utf8_lossy(&reply)
    );
    assert_reply!(alice, ["PING"], b"+PONG\r\n");
    // alice and root are in the file unchanged, yet are new users after LOAD: their clients
    // go, the one that ran LOAD after its reply; the default user's clients stay.
    std::fs::write(&file, &users).unwrap();
    assert_reply!(loader, ["ACL", "LOAD"], b"+OK\r\n");
    assert!(loader.is_closed().await);
    assert!(alice.is_closed().await);
    assert_reply!(admin, ["PING"], b"+PONG\r\n");
    assert_reply!(admin, ["ACL", "WHOAMI"], b"$7\r\ndefault\r\n");
}

#[test]
fn binary_exits_on_users_and_aclfile_together() {
    let dir = TempDir::new("aclfile-bin");
    let file = dir.file("users.acl");
    std::fs::write(&file, GOOD).unwrap();
    let conf = dir.file("redis.conf");
    std::fs::write(
        &conf,
        format!("port 0\nuser bob on\naclfile {}\n", file.display()),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_rediscover-server"))
        .arg(&conf)
        .output()
        .expect("run rediscover-server");
    assert!(!out.status.success());
    let log = String::from_utf8_lossy(&out.stdout);
    assert!(
        log.lines().last().unwrap_or_default().ends_with("# Configuring Redis with users defined in redis.conf and at the same setting an ACL file path is invalid. This setup is very likely to lead to configuration errors and security holes, please define either an ACL file or declare users directly in your redis.conf, but not both."),
        "{log}"
    );
    // A config file error is reported as redis-server reports it.
    std::fs::write(&conf, "port 0\nuser bob on bogus\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_rediscover-server"))
        .arg(&conf)
        .output()
        .expect("run rediscover-server");
    assert!(!out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "\n*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\nReading the configuration file, at line 2\n>>> 'user bob on bogus'\nError in user declaration 'bob': Syntax error\n"
    );
}

// ---- against a real Redis (REDISCOVER_REAL_REDIS_SERVER=/usr/bin/redis-server) ----

/// A real redis-server using `aclfile`.
async fn real_redis(binary: &str, dir: &TempDir, aclfile: &str) -> (RealRedisProc, RawConn) {
    let proc = RealRedisProc::spawn(binary, &["--dir", dir.str(), "--aclfile", aclfile]).await;
    let conn = RawConn::connect(proc.addr()).await;
    (proc, conn)
}

/// An ACL LIST line with each selector's single command rules sorted: redis-server prints
/// them in the order of its command hash table, which is seeded per process.
fn normalized(line: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut singles: Vec<String> = Vec::new();
    let flush = |out: &mut Vec<String>, singles: &mut Vec<String>| {
        singles.sort();
        out.append(singles);
    };
    for word in line.split(' ') {
        let inner = word.trim_start_matches('(');
        if inner.len() < word.len() {
            flush(&mut out, &mut singles);
        }
        let bare = inner.trim_end_matches(')');
        let single =
            (bare.starts_with('+') || bare.starts_with('-')) && !bare[1..].starts_with('@');
        if single && bare.len() == word.len() {
            singles.push(word.to_string());
        } else if single && word.ends_with(')') {
            singles.push(bare.to_string());
            flush(&mut out, &mut singles);
            out.push(")".into());
        } else {
            flush(&mut out, &mut singles);
            out.push(word.to_string());
        }
    }
    flush(&mut out, &mut singles);
    out.join(" ")
}

const MIXED: &str = "user alice on >a ~* &* +@all -@dangerous +config|get -config|set +client|id\n\
                     user bob on nopass %R~r* ~k* resetchannels &ch* -@all +@read +@fast -@string +select|0 (~sel* +incr +hget -@all +@hash)\n\
                     user carol off +get +set -@all +@string -del\n\
                     user dan on #ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb -@all +@geo +@sortedset -zadd +xadd +info\n\
                     user default on nopass ~* &* +@all\n";

#[tokio::test]
async fn same_file_same_users_as_real_redis() {
    let Some(binary) = common::real_redis_binary() else {
        return;
    };
    let dir = TempDir::new("aclfile-real");
    let theirs = dir.file("real.acl");
    let ours = dir.file("ours.acl");
    std::fs::write(&theirs, MIXED).unwrap();
    std::fs::write(&ours, MIXED).unwrap();
    let (_real, mut r) = real_redis(&binary, &dir, theirs.to_str().unwrap()).await;
    let (_server, mut c) =
        start_with(config(&dir, &[("aclfile", &[ours.to_str().unwrap()])]).unwrap()).await;
    let real_list = acl_list(&mut r).await;
    let our_list = acl_list(&mut c).await;
    assert_eq!(
        our_list.iter().map(|l| normalized(l)).collect::<Vec<_>>(),
        real_list.iter().map(|l| normalized(l)).collect::<Vec<_>>()
    );
    // Each saves; each loads the other's file.
    assert_reply!(r, ["ACL", "SAVE"], b"+OK\r\n");
    assert_reply!(c, ["ACL", "SAVE"], b"+OK\r\n");
    let their_text = std::fs::read(&theirs).unwrap();
    let our_text = std::fs::read(&ours).unwrap();
    std::fs::write(&theirs, &our_text).unwrap();
    std::fs::write(&ours, &their_text).unwrap();
    assert_reply!(r, ["ACL", "LOAD"], b"+OK\r\n");
    assert_reply!(c, ["ACL", "LOAD"], b"+OK\r\n");
    let norm = |v: Vec<String>| v.iter().map(|l| normalized(l)).collect::<Vec<_>>();
    assert_eq!(norm(acl_list(&mut r).await), norm(real_list.clone()));
    assert_eq!(norm(acl_list(&mut c).await), norm(real_list));
    // A bad file: the same error text from both, given the same path.
    let shared = theirs.to_str().unwrap();
    let (_s2, mut c2) = start_with(config(&dir, &[("aclfile", &[shared])]).unwrap()).await;
    std::fs::write(&theirs, BAD).unwrap();
    let real_err = r.call(&["ACL", "LOAD"]).await;
    assert_eq!(String::from_utf8_lossy(&real_err), bad_error(shared));
    assert_eq!(c2.call(&["ACL", "LOAD"]).await, real_err);
}

#[tokio::test]
async fn sentinel_user_lines_name_sentinel_commands() {
    let server = TestServer::builder()
        .sentinel(
            "sentinel monitor m 127.0.0.1 6999 1\n\
             user watcher on nopass -@all +sentinel|masters +ping\n",
        )
        .start()
        .await
        .expect("start");
    let mut c = connect(&server).await;
    assert_eq!(
        acl_list(&mut c).await,
        [
            "user default on nopass ~* &* +@all",
            "user watcher on nopass resetchannels -@all +ping +sentinel|masters"
        ]
    );
    assert_reply!(c, ["AUTH", "watcher", "x"], b"+OK\r\n");
    assert_reply!(c, ["PING"], b"+PONG\r\n");
    assert_reply!(
        c,
        ["SENTINEL", "MYID"],
        b"-NOPERM this user has no permissions to run the 'sentinel|myid' command\r\n"
    );
    // A server's command is unknown to a sentinel.
    let err = TestServer::builder()
        .sentinel("sentinel monitor m 127.0.0.1 6999 1\nuser w on +get\n")
        .start()
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Error loading ACL rule '+get' for the user named 'w': Unknown command or category name in ACL\nCritical error while loading ACLs. Exiting."
    );
}

#[tokio::test]
async fn restart_keeps_users_as_config_rewrite_would_or_reads_the_aclfile() {
    let dir = TempDir::new("aclfile-restart");
    let mut server = TestServer::builder()
        .config(config(&dir, &[("requirepass", &["pw"])]).unwrap())
        .start()
        .await
        .expect("start");
    let mut c = connect(&server).await;
    assert_reply!(c, ["AUTH", "pw"], b"+OK\r\n");
    assert_reply!(
        c,
        ["ACL", "SETUSER", "bob", "on", ">b", "~k*", "(", "+get", "~x", ")", "+set"],
        b"+OK\r\n"
    );
    let before = acl_list(&mut c).await;
    server.restart().await.unwrap();
    let mut c = connect(&server).await;
    assert_reply!(c, ["AUTH", "bob", "b"], b"+OK\r\n");
    let mut expected = before.clone();
    expected[1] = expected[1].replacen(" on ", " on sanitize-payload ", 1);
    assert_reply!(c, ["AUTH", "default", "pw"], b"+OK\r\n");
    assert_eq!(acl_list(&mut c).await, expected);

    // With an aclfile, what was not saved is gone.
    let file = dir.file("users.acl");
    std::fs::write(&file, GOOD).unwrap();
    let mut server = TestServer::builder()
        .config(config(&dir, &[("aclfile", &[file.to_str().unwrap()])]).unwrap())
        .start()
        .await
        .expect("start");
    let mut c = connect(&server).await;
    assert_reply!(c, ["ACL", "SETUSER", "zed", "on"], b"+OK\r\n");
    server.restart().await.unwrap();
    let mut c = connect(&server).await;
    assert_eq!(acl_list(&mut c).await, GOOD_LIST);
}

/// Random command rules: ACL SETUSER's reply and the ACL LIST line (single rules sorted) are
/// the same from a real redis-server and from ours, which rebuilds the rules from what they
/// allow as Redis does.
#[tokio::test]
async fn random_command_rules_render_as_real_redis() {
    let Some(binary) = common::real_redis_binary() else {
        return;
    };
    let dir = TempDir::new("aclfile-random");
    let file = dir.file("users.acl");
    std::fs::write(&file, "").unwrap();
    let (_real, mut r) = real_redis(&binary, &dir, file.to_str().unwrap()).await;
    let (_server, mut c) = common::start().await;
    // Every category, and `all`.
    let cats: Vec<&str> = rediscover_testserver::acl::CATEGORIES
        .iter()
        .copied()
        .chain(["all"])
        .collect();
    const CMDS: &[&str] = &[
        "get",
        "set",
        "del",
        "config",
        "config|get",
        "config|set",
        "client|id",
        "client",
        "hget",
        "zadd",
        "xadd",
        "ping",
        "info",
        "flushall",
        "keys",
        "publish",
        "subscribe",
        "eval",
        "multi",
        "exec",
        "object|encoding",
        "memory",
        "sort",
        "debug",
        "xinfo|stream",
        "select",
        "lpush",
        "pfadd",
        "geoadd",
        "setbit",
        "acl|whoami",
        "script|load",
    ];
    let mut rng = common::Rng(0x5eed_ac1f);
    for case in 0..200 {
        let mut rules: Vec<String> = vec!["reset".into(), "on".into()];
        for _ in 0..1 + rng.below(8) {
            let sign = if rng.chance(50) { "+" } else { "-" };
            let rule = match rng.below(10) {
                0..=4 => format!("{sign}@{}", rng.pick(&cats)),
                5..=8 => format!("{sign}{}", rng.pick(CMDS)),
                _ => format!(
                    "+{}|{}",
                    rng.pick(&["select", "debug"]),
                    rng.pick(&["0", "1", "object"])
                ),
            };
            rules.push(rule);
        }
        let mut argv = vec!["ACL", "SETUSER", "t"];
        argv.extend(rules.iter().map(String::as_str));
        let theirs = r.call(&argv).await;
        assert_eq!(c.call(&argv).await, theirs, "case {case}: {rules:?}");
        let line = |v: Vec<String>| {
            v.into_iter()
                .find(|l| l.starts_with("user t "))
                .map(|l| normalized(&l))
        };
        assert_eq!(
            line(acl_list(&mut c).await),
            line(acl_list(&mut r).await),
            "case {case}: {rules:?}"
        );
    }
}
