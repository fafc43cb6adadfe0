//! Connection-level behaviour: protocol errors, inline commands, auth, HELLO, transactions.

mod common;

use common::{connect, start, TestServer};

#[tokio::test]
async fn ping_echo_and_unknown() {
    let (_server, mut c) = start().await;
    assert_reply!(c, ["PING"], b"+PONG\r\n");
    assert_reply!(c, ["ping", "hi"], b"$2\r\nhi\r\n");
    assert_reply!(c, ["ECHO", "x y"], b"$3\r\nx y\r\n");
    assert_reply!(
        c,
        ["NOSUCH", "a", "b"],
        b"-ERR unknown command 'NOSUCH', with args beginning with: 'a' 'b' \r\n"
    );
    assert_reply!(
        c,
        ["ECHO"],
        b"-ERR wrong number of arguments for 'echo' command\r\n"
    );
    assert_reply!(c, ["SELECT", "16"], b"-ERR DB index is out of range\r\n");
    assert_reply!(
        c,
        ["SELECT", "x"],
        b"-ERR value is not an integer or out of range\r\n"
    );
    assert_reply!(c, ["SELECT", "15"], b"+OK\r\n");
}

#[tokio::test]
async fn inline_and_pipelined_commands() {
    let (_server, mut c) = start().await;
    c.send_raw(b"PING\r\nECHO \"a b\"\r\n*1\r\n$4\r\nPING\r\n")
        .await;
    assert_eq!(c.read_raw().await, b"+PONG\r\n");
    assert_eq!(c.read_raw().await, b"$3\r\na b\r\n");
    assert_eq!(c.read_raw().await, b"+PONG\r\n");
}

#[tokio::test]
async fn protocol_error_closes_only_that_connection() {
    let (server, mut bad) = start().await;
    let mut good = connect(&server).await;
    bad.send_raw(b"*1\r\n$4\r\nPING\r\n*1\r\n+PING\r\n").await;
    assert_eq!(bad.read_raw().await, b"+PONG\r\n");
    assert_eq!(
        bad.read_raw().await,
        b"-ERR Protocol error: expected '$', got '+'\r\n"
    );
    assert!(bad.is_closed().await);
    assert_reply!(good, ["PING"], b"+PONG\r\n");
}

#[tokio::test]
async fn oversized_bulk_is_refused_before_allocation() {
    let (_server, mut c) = start().await;
    c.send_raw(b"*2\r\n$3\r\nGET\r\n$999999999999\r\n").await;
    assert_eq!(
        c.read_raw().await,
        b"-ERR Protocol error: invalid bulk length\r\n"
    );
    assert!(c.is_closed().await);
}

#[tokio::test]
async fn auth_and_hello() {
    let server = TestServer::builder()
        .password("secret")
        .user("alice", "pw")
        .start()
        .await
        .unwrap();
    let mut c = connect(&server).await;
    assert_reply!(c, ["PING"], b"-NOAUTH Authentication required.\r\n");
    assert_reply!(
        c,
        ["AUTH", "wrong"],
        b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
    assert_reply!(c, ["AUTH", "secret"], b"+OK\r\n");
    assert_reply!(c, ["PING"], b"+PONG\r\n");
    let mut c2 = connect(&server).await;
    let reply = c2
        .call(&["HELLO", "3", "AUTH", "alice", "pw", "SETNAME", "me"])
        .await;
    assert!(
        reply.starts_with(b"%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n"),
        "{:?}",
        String::from_utf8_lossy(&reply)
    );
    assert!(String::from_utf8_lossy(&reply).contains("$5\r\nproto\r\n:3\r\n"));
    assert_reply!(
        c2,
        ["HELLO", "4"],
        b"-NOPROTO unsupported protocol version\r\n"
    );
    assert_reply!(c2, ["PING"], b"+PONG\r\n");
}

#[tokio::test]
async fn multi_exec_discard_errors() {
    let (_server, mut c) = start().await;
    assert_reply!(c, ["EXEC"], b"-ERR EXEC without MULTI\r\n");
    assert_reply!(c, ["DISCARD"], b"-ERR DISCARD without MULTI\r\n");
    assert_reply!(c, ["MULTI"], b"+OK\r\n");
    assert_reply!(c, ["MULTI"], b"-ERR MULTI calls can not be nested\r\n");
    assert_reply!(
        c,
        ["WATCH", "x"],
        b"-ERR WATCH inside MULTI is not allowed\r\n"
    );
    assert_reply!(c, ["PING"], b"+QUEUED\r\n");
    assert_reply!(c, ["ECHO", "a"], b"+QUEUED\r\n");
    assert_reply!(c, ["EXEC"], b"*2\r\n+PONG\r\n$1\r\na\r\n");
    assert_reply!(c, ["MULTI"], b"+OK\r\n");
    assert_reply!(
        c,
        ["ECHO"],
        b"-ERR wrong number of arguments for 'echo' command\r\n"
    );
    assert_reply!(
        c,
        ["EXEC"],
        b"-EXECABORT Transaction discarded because of previous errors.\r\n"
    );
    assert_reply!(c, ["MULTI"], b"+OK\r\n");
    assert_reply!(c, ["PING"], b"+QUEUED\r\n");
    assert_reply!(c, ["DISCARD"], b"+OK\r\n");
    assert_reply!(c, ["QUIT"], b"+OK\r\n");
    assert!(c.is_closed().await);
}
