//! ACL rules enforced as Redis 7.0 enforces them: commands, keys with read/write permissions,
//! channels, selectors, AUTH and HELLO never refused, EXEC re-checking, ACL LOG, DRYRUN and
//! GENPASS. Expected bytes and texts were taken from a real Redis 7.0.15.

mod common;

use common::{connect, start, RawConn};
use rediscover::resp::Frame;

/// The user these tests use, as they were set up on Redis 7.0.15 to record the replies (its
/// command rules in the order Redis lists them back).
const BOB: &[&str] = &[
    "ACL",
    "SETUSER",
    "bob",
    "on",
    ">pw",
    "%R~r*",
    "~k*",
    "%W~w*",
    "&ch*",
    "-@all",
    "+set",
    "+get",
    "+publish",
    "+lpush",
    "+subscribe",
    "+multi",
    "+exec",
    "+psubscribe",
    "(~sel*",
    "+incr)",
    "(+ping ~x &y)",
];

// Single commands come in command-table order (redis-server prints them in its hash table's
// order, which changes from one process to the next).
const BOB_LINE: &str = "user bob on #30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4 %R~r* ~k* %W~w* resetchannels &ch* -@all +exec +get +lpush +multi +psubscribe +publish +set +subscribe (~sel* resetchannels -@all +incr) (~x resetchannels &y -@all +ping)";

async fn with_bob() -> (rediscover_testserver::TestServer, RawConn) {
    let (server, mut admin) = start().await;
    assert_eq!(admin.call(BOB).await, b"+OK\r\n");
    (server, admin)
}

fn bulk_array(lines: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", lines.len()).into_bytes();
    for l in lines {
        out.extend_from_slice(format!("${}\r\n{l}\r\n", l.len()).as_bytes());
    }
    out
}

#[tokio::test]
async fn selectors_are_stored_and_shown_as_redis_shows_them() {
    let (_server, mut admin) = with_bob().await;
    assert_eq!(
        admin.call(&["ACL", "LIST"]).await,
        bulk_array(&[BOB_LINE, "user default on nopass ~* &* +@all"])
    );
    let getuser = admin.call(&["ACL", "GETUSER", "bob"]).await;
    let text = String::from_utf8_lossy(&getuser);
    assert!(
        text.contains("$4\r\nkeys\r\n$15\r\n%R~r* ~k* %W~w*\r\n$8\r\nchannels\r\n$4\r\n&ch*\r\n$9\r\nselectors\r\n*2\r\n*6\r\n$8\r\ncommands\r\n$11\r\n-@all +incr\r\n$4\r\nkeys\r\n$5\r\n~sel*\r\n$8\r\nchannels\r\n$0\r\n\r\n*6\r\n$8\r\ncommands\r\n$11\r\n-@all +ping\r\n$4\r\nkeys\r\n$2\r\n~x\r\n$8\r\nchannels\r\n$2\r\n&y\r\n"),
        "{text}"
    );
    // %R~ and %W~ on one pattern merge into ~.
    assert_reply!(
        admin,
        ["ACL", "SETUSER", "carl", "%R~b", "%W~b", "%RW~a"],
        b"+OK\r\n"
    );
    assert_eq!(
        admin.call(&["ACL", "LIST"]).await,
        bulk_array(&[
            BOB_LINE,
            "user carl off ~b ~a resetchannels -@all",
            "user default on nopass ~* &* +@all"
        ])
    );
    assert_reply!(
        admin,
        ["ACL", "SETUSER", "bob", "clearselectors"],
        b"+OK\r\n"
    );
    let getuser = admin.call(&["ACL", "GETUSER", "bob"]).await;
    assert!(getuser.ends_with(b"$9\r\nselectors\r\n*0\r\n"));
}

#[tokio::test]
async fn setuser_errors_are_redis_texts() {
    let (_server, mut admin) = start().await;
    assert_reply!(
        admin,
        ["ACL", "SETUSER", "bob", "(foo"],
        b"-ERR Unmatched parenthesis in acl selector starting at '(foo'.\r\n"
    );
    assert_reply!(
        admin,
        ["ACL", "SETUSER", "bob", "+config|get|x"],
        b"-ERR Error in ACL SETUSER modifier '+config|get|x': Allowing first-arg of a subcommand is not supported\r\n"
    );
    assert_reply!(
        admin,
        ["ACL", "SETUSER", "bob", "+get|"],
        b"-ERR Error in ACL SETUSER modifier '+get|': Syntax error\r\n"
    );
    assert_reply!(
        admin,
        ["ACL", "SETUSER", "bob", "%X~a"],
        b"-ERR Error in ACL SETUSER modifier '%X~a': Syntax error\r\n"
    );
    assert_reply!(
        admin,
        ["ACL", "SETUSER", "bob", "(~a +nosuch)"],
        b"-ERR Error in ACL SETUSER modifier '(~a +nosuch)': Unknown command or category name in ACL\r\n"
    );
    // Nothing of a refused SETUSER was applied.
    assert_reply!(admin, ["ACL", "GETUSER", "bob"], b"$-1\r\n");
}

#[tokio::test]
async fn dryrun_answers_as_redis_for_keys_channels_and_selectors() {
    let (_server, mut admin) = with_bob().await;
    let cases: &[(&[&str], &str)] = &[
        (&["set", "w1", "v"], "OK"),
        (&["set", "k1", "v"], "OK"),
        (
            &["set", "w1", "v", "GET"],
            "This user has no permissions to access the 'w1' key",
        ),
        (
            &["get", "w1"],
            "This user has no permissions to access the 'w1' key",
        ),
        (&["lpush", "w1", "a"], "OK"),
        (
            &["lpush", "r1", "a"],
            "This user has no permissions to access the 'r1' key",
        ),
        (&["publish", "ch1", "m"], "OK"),
        (
            &["publish", "y", "m"],
            "This user has no permissions to access the 'y' channel",
        ),
        (
            &["publish", "zz", "m"],
            "This user has no permissions to access the 'zz' channel",
        ),
        (&["psubscribe", "ch*"], "OK"),
        (
            &["psubscribe", "ch1*"],
            "This user has no permissions to access the 'ch1*' channel",
        ),
        (
            &["subscribe", "ch1", "y", "zz"],
            "This user has no permissions to access the 'y' channel",
        ),
        (&["incr", "sel1"], "OK"),
        (
            &["incr", "k1"],
            "This user has no permissions to access the 'k1' key",
        ),
        (&["ping"], "OK"),
        (
            &["get", "x"],
            "This user has no permissions to access the 'x' key",
        ),
        (&["auth", "a", "b"], "OK"),
        (&["hello", "3"], "OK"),
        (
            &["del", "k1"],
            "This user has no permissions to run the 'del' command",
        ),
    ];
    for (cmd, want) in cases {
        let mut argv = vec!["ACL", "DRYRUN", "bob"];
        argv.extend_from_slice(cmd);
        let got = admin.frame(&argv).await;
        let got = match got {
            Frame::Simple(b) | Frame::Bulk(b) => String::from_utf8(b.to_vec()).unwrap(),
            other => panic!("{cmd:?}: {other:?}"),
        };
        assert_eq!(&got, want, "{cmd:?}");
    }
    assert_reply!(
        admin,
        ["ACL", "DRYRUN", "bob", "nosuch"],
        b"-ERR Command 'nosuch' not found\r\n"
    );
    assert_reply!(
        admin,
        ["ACL", "DRYRUN", "nobody", "get"],
        b"-ERR User 'nobody' not found\r\n"
    );
    assert_reply!(
        admin,
        ["ACL", "DRYRUN", "bob", "get"],
        b"-ERR wrong number of arguments for 'get' command\r\n"
    );
}

#[tokio::test]
async fn keys_and_channels_are_enforced_on_the_wire() {
    let (server, _admin) = with_bob().await;
    let mut c = connect(&server).await;
    assert_reply!(c, ["AUTH", "bob", "pw"], b"+OK\r\n");
    assert_reply!(c, ["SET", "w1", "v"], b"+OK\r\n");
    assert_reply!(
        c,
        ["GET", "w1"],
        b"-NOPERM this user has no permissions to access one of the keys used as arguments\r\n"
    );
    assert_reply!(c, ["GET", "k9"], b"$-1\r\n");
    assert_reply!(c, ["INCR", "sel1"], b":1\r\n");
    assert_reply!(
        c,
        ["PUBLISH", "zz", "m"],
        b"-NOPERM this user has no permissions to access one of the channels used as arguments\r\n"
    );
    assert_reply!(c, ["PUBLISH", "ch1", "m"], b":0\r\n");
    assert_reply!(
        c,
        ["DEL", "k1"],
        b"-NOPERM this user has no permissions to run the 'del' command\r\n"
    );
    // A refused command inside MULTI aborts the transaction, as Redis's queue-time check does.
    assert_reply!(c, ["MULTI"], b"+OK\r\n");
    assert_reply!(c, ["GET", "k1"], b"+QUEUED\r\n");
    assert_reply!(
        c,
        ["GET", "zz"],
        b"-NOPERM this user has no permissions to access one of the keys used as arguments\r\n"
    );
    assert_reply!(
        c,
        ["EXEC"],
        b"-EXECABORT Transaction discarded because of previous errors.\r\n"
    );
}

#[tokio::test]
async fn auth_and_hello_are_never_refused_by_command_rules() {
    let (server, mut admin) = start().await;
    assert_reply!(
        admin,
        ["ACL", "SETUSER", "lim", "on", ">p", "-@all", "+acl"],
        b"+OK\r\n"
    );
    assert_reply!(
        admin,
        ["ACL", "SETUSER", "other", "on", ">q", "+@all", "~*"],
        b"+OK\r\n"
    );
    let mut c = connect(&server).await;
    assert_reply!(c, ["AUTH", "lim", "p"], b"+OK\r\n");
    // The case: a user limited to +acl switches to another user.
    assert_reply!(c, ["AUTH", "other", "q"], b"+OK\r\n");
    assert_reply!(c, ["ACL", "WHOAMI"], b"$5\r\nother\r\n");
    assert_reply!(c, ["AUTH", "lim", "p"], b"+OK\r\n");
    let hello = c.call(&["HELLO", "2", "AUTH", "other", "q"]).await;
    assert!(
        hello.starts_with(b"*14\r\n"),
        "{}",
        String::from_utf8_lossy(&hello)
    );
    assert_reply!(c, ["ACL", "WHOAMI"], b"$5\r\nother\r\n");
}

#[tokio::test]
async fn exec_checks_the_rules_again() {
    let (server, mut admin) = with_bob().await;
    let mut c = connect(&server).await;
    assert_reply!(c, ["AUTH", "bob", "pw"], b"+OK\r\n");
    assert_reply!(c, ["MULTI"], b"+OK\r\n");
    assert_reply!(c, ["SET", "k1", "v"], b"+QUEUED\r\n");
    assert_reply!(c, ["GET", "k1"], b"+QUEUED\r\n");
    assert_reply!(
        admin,
        ["ACL", "SETUSER", "bob", "resetkeys", "%W~k*"],
        b"+OK\r\n"
    );
    assert_reply!(
        c,
        ["EXEC"],
        b"*2\r\n+OK\r\n-NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. This command is no longer allowed for the following reason: no permission to touch the specified keys\r\n"
    );
    let log = admin.frame(&["ACL", "LOG", "1"]).await;
    let text = format!("{log:?}");
    assert!(text.contains("multi") && text.contains("\"k1\""), "{text}");
}

/// The fields of the ACL LOG entries, in order, as text (age and client info left out).
async fn log_entries(c: &mut RawConn, count: &str) -> Vec<Vec<String>> {
    let Frame::Array(entries) = c.frame(&["ACL", "LOG", count]).await else {
        panic!("ACL LOG is an array");
    };
    entries
        .into_iter()
        .map(|e| {
            let Frame::Array(fields) = e else {
                panic!("an entry is a flat map in RESP2")
            };
            assert_eq!(fields.len(), 14);
            let mut out = Vec::new();
            for pair in fields.chunks(2) {
                let name = match &pair[0] {
                    Frame::Bulk(b) => String::from_utf8(b.to_vec()).unwrap(),
                    other => panic!("{other:?}"),
                };
                let value = match &pair[1] {
                    Frame::Bulk(b) => String::from_utf8(b.to_vec()).unwrap(),
                    Frame::Integer(i) => i.to_string(),
                    other => panic!("{other:?}"),
                };
                match name.as_str() {
                    "age-seconds" => assert!(value.parse::<f64>().unwrap() >= 0.0),
                    "client-info" => assert!(value.starts_with("id="), "{value}"),
                    _ => out.push(format!("{name}={value}")),
                }
            }
            out
        })
        .collect()
}

#[tokio::test]
async fn acl_log_groups_refusals_and_records_failed_auth() {
    let (server, mut admin) = with_bob().await;
    let mut c = connect(&server).await;
    assert_reply!(c, ["AUTH", "bob", "pw"], b"+OK\r\n");
    c.call(&["GET", "x1"]).await;
    c.call(&["GET", "x1"]).await;
    c.call(&["PUBLISH", "zz", "m"]).await;
    c.call(&["DEL", "a"]).await;
    let mut d = connect(&server).await;
    assert_reply!(
        d,
        ["auth", "bob", "wrong"],
        b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
    let entries = log_entries(&mut admin, "10").await;
    let want = [
        [
            "count=1",
            "reason=auth",
            "context=toplevel",
            "object=auth",
            "username=bob",
        ],
        [
            "count=1",
            "reason=command",
            "context=toplevel",
            "object=del",
            "username=bob",
        ],
        [
            "count=1",
            "reason=channel",
            "context=toplevel",
            "object=zz",
            "username=bob",
        ],
        [
            "count=2",
            "reason=key",
            "context=toplevel",
            "object=x1",
            "username=bob",
        ],
    ];
    assert_eq!(entries, want);
    assert_eq!(log_entries(&mut admin, "1").await.len(), 1);
    assert_eq!(log_entries(&mut admin, "-5").await.len(), 0);
    assert_reply!(
        admin,
        ["ACL", "LOG", "x"],
        b"-ERR value is not an integer or out of range\r\n"
    );
    assert_reply!(admin, ["ACL", "LOG", "RESET"], b"+OK\r\n");
    assert_reply!(admin, ["ACL", "LOG"], b"*0\r\n");
    // acllog-max-len bounds it.
    assert_reply!(admin, ["CONFIG", "SET", "acllog-max-len", "2"], b"+OK\r\n");
    for key in ["a1", "a2", "a3"] {
        c.call(&["GET", key]).await;
    }
    let entries = log_entries(&mut admin, "10").await;
    assert_eq!(entries.len(), 2);
    assert!(entries[0].contains(&"object=a3".to_string()));
}

#[tokio::test]
async fn genpass_gives_the_bits_asked_for() {
    let (_server, mut c) = start().await;
    for (arg, len) in [
        (None, 64),
        (Some("5"), 2),
        (Some("4096"), 1024),
        (Some("1"), 1),
    ] {
        let mut argv = vec!["ACL", "GENPASS"];
        argv.extend(arg);
        let Frame::Bulk(p) = c.frame(&argv).await else {
            panic!("a bulk string")
        };
        assert_eq!(p.len(), len, "{arg:?}");
        assert!(p
            .iter()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
    }
    let a = c.frame(&["ACL", "GENPASS"]).await;
    let b = c.frame(&["ACL", "GENPASS"]).await;
    assert_ne!(a, b);
    for bad in ["0", "4097", "-1"] {
        assert_reply!(
            c,
            ["ACL", "GENPASS", bad],
            b"-ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096\r\n"
        );
    }
}

#[tokio::test]
async fn subscribers_lose_their_connection_when_their_channels_are_revoked() {
    let (server, mut admin) = with_bob().await;
    let mut sub = connect(&server).await;
    assert_reply!(sub, ["AUTH", "bob", "pw"], b"+OK\r\n");
    assert_reply!(
        sub,
        ["SUBSCRIBE", "ch1"],
        b"*3\r\n$9\r\nsubscribe\r\n$3\r\nch1\r\n:1\r\n"
    );
    let mut keeps = connect(&server).await;
    assert_reply!(keeps, ["AUTH", "bob", "pw"], b"+OK\r\n");
    assert_reply!(
        keeps,
        ["SUBSCRIBE", "ch2"],
        b"*3\r\n$9\r\nsubscribe\r\n$3\r\nch2\r\n:1\r\n"
    );
    // ch1 is no longer allowed; ch2 still is.
    assert_reply!(
        admin,
        ["ACL", "SETUSER", "bob", "resetchannels", "&ch2"],
        b"+OK\r\n"
    );
    assert!(sub.is_closed().await);
    assert_reply!(admin, ["PUBLISH", "ch2", "m"], b":1\r\n");
}

/// An unknown subcommand, or a subcommand with the wrong number of arguments, is refused with
/// the command lookup, before authentication and ACL rules: no NOAUTH, no NOPERM, no ACL LOG
/// entry (redis-py 5's `CLIENT SETINFO`, sent on every connection, relies on it against 7.0).
/// Replies recorded from Redis 7.0.15.
#[tokio::test]
async fn unknown_subcommands_are_refused_before_acl_and_auth() {
    let (server, mut admin) = start().await;
    assert_reply!(
        admin,
        ["ACL", "SETUSER", "u2", "on", ">pw", "+get"],
        b"+OK\r\n"
    );
    let mut c = connect(&server).await;
    assert_reply!(c, ["AUTH", "u2", "pw"], b"+OK\r\n");
    assert_reply!(
        c,
        ["CLIENT", "SETINFO", "LIB-NAME", "x"],
        b"-ERR unknown subcommand 'SETINFO'. Try CLIENT HELP.\r\n"
    );
    assert_reply!(
        c,
        ["client", "nosuch\r\nx"],
        b"-ERR unknown subcommand 'nosuch  x'. Try CLIENT HELP.\r\n"
    );
    assert_reply!(
        c,
        ["CONFIG", "GET"],
        b"-ERR wrong number of arguments for 'config|get' command\r\n"
    );
    assert_reply!(
        c,
        ["CLIENT"],
        b"-ERR wrong number of arguments for 'client' command\r\n"
    );
    assert_reply!(
        c,
        ["CLIENT", "ID"],
        b"-NOPERM this user has no permissions to run the 'client|id' command\r\n"
    );
    let log = log_entries(&mut admin, "10").await;
    assert_eq!(log.len(), 1, "{log:?}");
    assert!(log[0].contains(&"object=client|id".to_string()), "{log:?}");

    assert_reply!(
        admin,
        ["CONFIG", "SET", "requirepass", "sekret"],
        b"+OK\r\n"
    );
    let mut anon = connect(&server).await;
    assert_reply!(
        anon,
        ["CLIENT", "SETINFO", "LIB-NAME", "x"],
        b"-ERR unknown subcommand 'SETINFO'. Try CLIENT HELP.\r\n"
    );
    assert_reply!(
        anon,
        ["CONFIG", "GET"],
        b"-ERR wrong number of arguments for 'config|get' command\r\n"
    );
    assert_reply!(
        anon,
        ["CLIENT", "ID"],
        b"-NOAUTH Authentication required.\r\n"
    );
}
