//! MONITOR: the lines a monitoring client receives, compared with Redis 7.0.15's output for the
//! same commands (timestamps and the client's port normalised).

mod common;

use common::{connect, start, RawConn};

/// `+<secs>.<µs> [db addr] ...` with the time replaced by `T` and `port` by `PORT`.
fn normalise(line: &[u8], port: u16) -> String {
    let text = String::from_utf8_lossy(line).into_owned();
    let text = text.strip_suffix("\r\n").expect("a line");
    let rest = text.strip_prefix('+').expect("a status line");
    let (time, tail) = rest.split_once(' ').expect("a time");
    let (secs, micros) = time.split_once('.').expect("secs.micros");
    assert!(secs.parse::<u64>().is_ok() && micros.len() == 6, "{text:?}");
    format!("+T {}", tail.replace(&format!(":{port}]"), ":PORT]"))
}

async fn lines(m: &mut RawConn, n: usize, port: u16) -> Vec<String> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(normalise(&m.read_raw().await, port));
    }
    out
}

#[tokio::test]
async fn monitor_lines_match_redis() {
    let (server, mut m) = start().await;
    assert_eq!(m.call(&["MONITOR"]).await, b"+OK\r\n");
    let mut c = connect(&server).await;
    let port = c.stream.local_addr().unwrap().port();
    let commands: &[&[&str]] = &[
        &["SET", "a", "1"],
        &["GET", "a"],
        &["SET", "b c", "x\"y\n\x01\\"],
        &["AUTH", "wrong"],
        &["AUTH", "u", "p"],
        &["HELLO", "2", "AUTH", "default", "x"],
        &["HELLO", "2"],
        &["MULTI"],
        &["SET", "a", "2"],
        &["INCR", "a"],
        &["EXEC"],
        &["MULTI"],
        &["SET", "a"],
        &["EXEC"],
        &["MULTI"],
        &["GET", "a"],
        &["DISCARD"],
        &["CONFIG", "GET", "x"],
        &["SELECT", "2"],
        &["SET", "k", "12345"],
        &["PING"],
        &["NOSUCH"],
        &["GET"],
        &["MULTI"],
        &["MONITOR"],
        &["EXEC"],
        &["CLIENT", "ID"],
        &["SET", "n", "-1"],
        &["ACL", "WHOAMI"],
        &["MIGRATE", "h", "1", "k", "0", "1", "AUTH", "pw"],
        &["RESET"],
        &["SELECT", "3"],
        &["INFO", "server"],
        &["SHUTDOWN", "ABORT"],
        &["BLPOP", "nol", "0.01"],
    ];
    for argv in commands {
        c.call(argv).await;
    }
    // Recorded from Redis 7.0.15 (EVAL and DEBUG SLEEP left out of this run).
    let want = [
        r#"+T [0 127.0.0.1:PORT] "SET" "a" "1""#,
        r#"+T [0 127.0.0.1:PORT] "GET" "a""#,
        r#"+T [0 127.0.0.1:PORT] "SET" "b c" "x\"y\n\x01\\""#,
        r#"+T [0 127.0.0.1:PORT] "AUTH" "(redacted)""#,
        r#"+T [0 127.0.0.1:PORT] "AUTH" "(redacted)" "(redacted)""#,
        r#"+T [0 127.0.0.1:PORT] "HELLO" "2" "AUTH" "(redacted)" "(redacted)""#,
        r#"+T [0 127.0.0.1:PORT] "HELLO" "2""#,
        r#"+T [0 127.0.0.1:PORT] "MULTI""#,
        r#"+T [0 127.0.0.1:PORT] "SET" "a" "2""#,
        r#"+T [0 127.0.0.1:PORT] "INCR" "a""#,
        r#"+T [0 127.0.0.1:PORT] "EXEC""#,
        r#"+T [0 127.0.0.1:PORT] "MULTI""#,
        r#"+T [0 127.0.0.1:PORT] "EXEC""#,
        r#"+T [0 127.0.0.1:PORT] "MULTI""#,
        r#"+T [0 127.0.0.1:PORT] "DISCARD""#,
        r#"+T [2 127.0.0.1:PORT] "SELECT" "2""#,
        r#"+T [2 127.0.0.1:PORT] "SET" "k" "12345""#,
        r#"+T [2 127.0.0.1:PORT] "PING""#,
        r#"+T [2 127.0.0.1:PORT] "MULTI""#,
        r#"+T [2 127.0.0.1:PORT] "EXEC""#,
        r#"+T [2 127.0.0.1:PORT] "CLIENT" "ID""#,
        r#"+T [2 127.0.0.1:PORT] "SET" "n" "-1""#,
        r#"+T [2 127.0.0.1:PORT] "ACL" "WHOAMI""#,
        r#"+T [2 127.0.0.1:PORT] "MIGRATE" "h" "1" "k" "0" "1" "AUTH" "(redacted)""#,
        r#"+T [0 127.0.0.1:PORT] "RESET""#,
        r#"+T [3 127.0.0.1:PORT] "SELECT" "3""#,
        r#"+T [3 127.0.0.1:PORT] "INFO" "server""#,
        r#"+T [3 127.0.0.1:PORT] "BLPOP" "nol" "0.01""#,
    ];
    assert_eq!(lines(&mut m, want.len(), port).await, want);
    assert!(m
        .read_raw_timeout(std::time::Duration::from_millis(50))
        .await
        .is_none());
}

#[tokio::test]
async fn monitor_rules_and_leaving() {
    let (server, mut m) = start().await;
    // Refused inside EXEC (bytes from Redis 7.0.15), silent when already monitoring.
    assert_eq!(m.call(&["MULTI"]).await, b"+OK\r\n");
    assert_eq!(m.call(&["MONITOR"]).await, b"+QUEUED\r\n");
    assert_eq!(
        m.call(&["EXEC"]).await,
        b"*1\r\n-ERR MONITOR isn't allowed for DENY BLOCKING client\r\n"
    );
    assert_eq!(m.call(&["MONITOR"]).await, b"+OK\r\n");
    m.send(&["MONITOR"]).await;
    assert!(m
        .read_raw_timeout(std::time::Duration::from_millis(50))
        .await
        .is_none());
    // The monitor sees its own commands after their replies.
    m.send(&["PING"]).await;
    assert_eq!(m.read_raw().await, b"+PONG\r\n");
    let port = m.stream.local_addr().unwrap().port();
    assert_eq!(
        normalise(&m.read_raw().await, port),
        r#"+T [0 127.0.0.1:PORT] "PING""#
    );
    // A served blocked command is shown once, when it blocked.
    let mut b = connect(&server).await;
    let bport = b.stream.local_addr().unwrap().port();
    b.send(&["BLPOP", "q", "0"]).await;
    assert_eq!(
        normalise(&m.read_raw().await, bport),
        r#"+T [0 127.0.0.1:PORT] "BLPOP" "q" "0""#
    );
    let mut p = connect(&server).await;
    let pport = p.stream.local_addr().unwrap().port();
    p.call(&["RPUSH", "q", "x"]).await;
    assert_eq!(
        normalise(&m.read_raw().await, pport),
        r#"+T [0 127.0.0.1:PORT] "RPUSH" "q" "x""#
    );
    b.read_raw().await;
    // RESET ends monitor mode.
    assert_eq!(m.call(&["RESET"]).await, b"+RESET\r\n");
    p.call(&["PING"]).await;
    assert!(m
        .read_raw_timeout(std::time::Duration::from_millis(50))
        .await
        .is_none());
    // A monitor that quits is forgotten.
    let mut m2 = connect(&server).await;
    assert_eq!(m2.call(&["MONITOR"]).await, b"+OK\r\n");
    assert_eq!(m2.call(&["QUIT"]).await, b"+OK\r\n");
    assert!(m2.is_closed().await);
    assert!(
        common::wait_until(std::time::Duration::from_secs(5), || async {
            server.node().lock().monitors.is_empty()
        })
        .await
    );
}
