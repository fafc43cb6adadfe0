//! The `timeout` idle kill: a client idle for more than `timeout` seconds is closed, unless it
//! is blocked, subscribed, monitoring, a replica or a master link (Redis's
//! `clientsCronHandleTimeout`).

mod common;

use std::time::Duration;

use common::{connect, start, wait_until};

#[tokio::test]
async fn idle_clients_are_closed_but_not_blocked_subscribed_or_monitoring() {
    let (server, mut admin) = start().await;
    assert_eq!(
        admin.call(&["CONFIG", "SET", "timeout", "1"]).await,
        b"+OK\r\n"
    );
    let mut idle = connect(&server).await;
    assert_eq!(idle.call(&["PING"]).await, b"+PONG\r\n");
    let mut blocked = connect(&server).await;
    blocked.send(&["BLPOP", "never", "0"]).await;
    let mut sub = connect(&server).await;
    sub.call(&["SUBSCRIBE", "ch"]).await;
    let mut mon = connect(&server).await;
    assert_eq!(mon.call(&["MONITOR"]).await, b"+OK\r\n");
    let before = server.node().lock().clients.len();
    // The idle client goes once it has been idle for more than a second (the admin
    // connection too: it is idle as well).
    assert!(idle.is_closed().await);
    assert!(
        wait_until(Duration::from_secs(5), || async {
            server.node().lock().clients.len() == before - 2
        })
        .await
    );
    // The others stay, and still work.
    let mut pusher = connect(&server).await;
    assert_eq!(pusher.call(&["RPUSH", "never", "x"]).await, b":1\r\n");
    assert_eq!(
        blocked.read_raw().await,
        b"*2\r\n$5\r\nnever\r\n$1\r\nx\r\n"
    );
    assert_eq!(pusher.call(&["PUBLISH", "ch", "m"]).await, b":1\r\n");
    assert_eq!(
        sub.read_raw().await,
        b"*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$1\r\nm\r\n"
    );
    assert!(mon
        .read_raw()
        .await
        .ends_with(b"\"RPUSH\" \"never\" \"x\"\r\n"));
    // With timeout 0 (the default) nobody is closed for idling.
    assert_eq!(
        pusher.call(&["CONFIG", "SET", "timeout", "0"]).await,
        b"+OK\r\n"
    );
}
