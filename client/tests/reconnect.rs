//! The managed client across broken connections: reconnect, backoff, retries, deadlines.

mod util;

use rediscover::Bytes;
use std::time::Duration;

use rediscover::{Client, Commands, Config, ErrorKind};
use rediscover_testserver::TestServer;
use util::*;

fn config(url: &str) -> Config {
    Config::from_url(url)
        .unwrap()
        .backoff(Duration::from_millis(5), Duration::from_millis(50))
}

#[tokio::test]
async fn reconnects_after_the_connection_is_cut() {
    let server = TestServer::start().await.unwrap();
    let proxy = Proxy::start(server.addr()).await;
    let client = Client::with_config(config(&proxy.url())).await.unwrap();
    assert_eq!(client.ping().await.unwrap(), "PONG");
    let first = client.connection().unwrap();
    proxy.cut();
    wait_until(|| first.is_closed()).await;
    // The next request finds the connection closed, reconnects, and succeeds.
    assert_eq!(client.echo::<Bytes>("back").await.unwrap(), &b"back"[..]);
    assert_eq!(client.reconnects(), 1);
    assert_eq!(proxy.accepted(), 2);
}

#[tokio::test]
async fn many_callers_share_one_reconnect() {
    let server = TestServer::start().await.unwrap();
    let proxy = Proxy::start(server.addr()).await;
    let client = Client::with_config(config(&proxy.url())).await.unwrap();
    let first = client.connection().unwrap();
    proxy.cut();
    wait_until(|| first.is_closed()).await;
    let mut tasks = Vec::new();
    for i in 0..50 {
        let c = client.clone();
        tasks.push(tokio::spawn(async move {
            let p = format!("p{i}");
            assert_eq!(c.echo::<Bytes>(p.clone()).await.unwrap(), p.as_bytes());
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(client.reconnects(), 1);
}

#[tokio::test]
async fn a_stopped_server_fails_fast_with_the_refused_connection_as_the_cause() {
    for timeout in [Some(Duration::from_secs(30)), None] {
        let server = TestServer::start().await.unwrap();
        // The default policy: 4 attempts, 10 ms doubling backoff (jittered).
        let config = Config::from_url(&server.url())
            .unwrap()
            .request_timeout(timeout);
        let (min, _) = config.get_backoff();
        let budget = min * (1 + 2 + 4);
        let client = Client::with_config(config).await.unwrap();
        assert_eq!(client.ping().await.unwrap(), "PONG");
        let first = client.connection().unwrap();
        server.shutdown().await;
        wait_until(|| first.is_closed()).await;
        let started = tokio::time::Instant::now();
        let e = client.ping().await.unwrap_err();
        let took = started.elapsed();
        assert_eq!(e.kind(), ErrorKind::NotSent, "{timeout:?}: {e:?}");
        assert!(e.is_not_sent());
        // The cause is the last connection attempt's: refused.
        let cause = std::error::Error::source(&e).expect("a cause");
        let cause = cause.downcast_ref::<rediscover::Error>().unwrap();
        assert_eq!(cause.kind(), ErrorKind::Io, "{cause:?}");
        assert_eq!(
            e.io_error().map(|io| io.kind()),
            Some(std::io::ErrorKind::ConnectionRefused),
            "{e:?}"
        );
        assert!(
            took >= budget / 2 && took < budget + Duration::from_secs(1),
            "{timeout:?}: failed after {took:?}, backoff budget {budget:?}"
        );
    }
}

#[tokio::test]
async fn waiting_requests_share_one_round_of_reconnect_attempts() {
    let server = TestServer::start().await.unwrap();
    let proxy = Proxy::start(server.addr()).await;
    let client = Client::with_config(config(&proxy.url()).max_retries(2))
        .await
        .unwrap();
    let first = client.connection().unwrap();
    proxy.set_down(true);
    proxy.cut();
    wait_until(|| first.is_closed()).await;
    let before = proxy.accepted();
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let c = client.clone();
            tokio::spawn(async move { c.ping().await })
        })
        .collect();
    for t in tasks {
        let e = t.await.unwrap().unwrap_err();
        assert!(e.is_not_sent(), "{e:?}");
        assert!(
            e.is_connection_broken(),
            "the cause is a broken handshake: {e:?}"
        );
    }
    assert_eq!(
        proxy.accepted() - before,
        3,
        "one round of 1 + max_retries attempts for all twenty requests"
    );
    // The server comes back: the next request reconnects.
    proxy.set_down(false);
    assert_eq!(client.ping().await.unwrap(), "PONG");
    assert_eq!(client.reconnects(), 1);
}

#[tokio::test]
async fn more_retries_ride_out_an_outage_within_the_deadline() {
    let server = TestServer::start().await.unwrap();
    let proxy = Proxy::start(server.addr()).await;
    let client = Client::with_config(
        config(&proxy.url())
            .max_retries(u32::MAX)
            .request_timeout(Some(Duration::from_secs(10))),
    )
    .await
    .unwrap();
    let first = client.connection().unwrap();
    proxy.set_down(true);
    proxy.cut();
    wait_until(|| first.is_closed()).await;
    let request = {
        let c = client.clone();
        tokio::spawn(async move { c.echo::<Bytes>("patience").await })
    };
    // Let a few reconnect attempts fail, then bring the server back.
    let before = proxy.accepted();
    wait_until(|| proxy.accepted() >= before + 3).await;
    proxy.set_down(false);
    assert_eq!(request.await.unwrap().unwrap(), &b"patience"[..]);
}

#[tokio::test]
async fn the_deadline_stays_the_upper_bound() {
    let server = TestServer::start().await.unwrap();
    let proxy = Proxy::start(server.addr()).await;
    let client = Client::with_config(
        config(&proxy.url())
            .max_retries(u32::MAX)
            .request_timeout(Some(Duration::from_millis(200))),
    )
    .await
    .unwrap();
    let first = client.connection().unwrap();
    proxy.set_down(true);
    proxy.cut();
    wait_until(|| first.is_closed()).await;
    let started = tokio::time::Instant::now();
    let e = client.ping().await.unwrap_err();
    let took = started.elapsed();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e:?}");
    assert!(e.is_not_sent(), "never reached a server: {e:?}");
    assert!(
        took >= Duration::from_millis(150) && took < Duration::from_secs(2),
        "{took:?}"
    );
}

#[tokio::test]
async fn a_request_in_flight_when_the_connection_dies_is_not_retried() {
    // The fake server swallows ECHO "hold": the request is written, then the link is cut.
    let fake = FakeServer::start(|cmd| match cmd[0].to_ascii_uppercase().as_str() {
        "HELLO" => Some(b"-ERR unknown command\r\n".to_vec()),
        "ECHO" if cmd[1] == "hold" => None,
        "ECHO" => Some(format!("${}\r\n{}\r\n", cmd[1].len(), cmd[1]).into_bytes()),
        _ => Some(b"+PONG\r\n".to_vec()),
    })
    .await;
    let proxy = Proxy::start(format!("127.0.0.1:{}", fake.port()).parse().unwrap()).await;
    let client = Client::with_config(config(&proxy.url())).await.unwrap();
    let held = {
        let c = client.clone();
        tokio::spawn(async move { c.echo::<Bytes>("hold").await })
    };
    wait_until(|| {
        fake.commands()
            .iter()
            .any(|c| c.len() > 1 && c[1] == "hold")
    })
    .await;
    proxy.cut();
    let e = held.await.unwrap().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Io, "{e:?}");
    assert!(!e.is_not_sent(), "it was written: outcome unknown");
    assert!(e.is_connection_broken());
    let holds = fake
        .commands()
        .iter()
        .filter(|c| c.len() > 1 && c[1] == "hold")
        .count();
    assert_eq!(holds, 1, "a sent request must not be resent");
    assert_eq!(client.echo::<Bytes>("later").await.unwrap(), &b"later"[..]);
}

#[tokio::test]
async fn auth_failure_on_reconnect_is_reported_not_retried_forever() {
    let server = TestServer::builder().password("pw").start().await.unwrap();
    let proxy = Proxy::start(server.addr()).await;
    let url = format!(
        "redis://:pw@127.0.0.1:{}",
        proxy.url().rsplit(':').next().unwrap()
    );
    let client = Client::with_config(config(&url)).await.unwrap();
    // Change the password behind the client's back, then break its connection.
    server.node().lock().acl = rediscover_testserver_acl("other");
    let first = client.connection().unwrap();
    proxy.cut();
    wait_until(|| first.is_closed()).await;
    let e = client.ping().await.unwrap_err();
    assert!(e.is_auth(), "{e:?}");
}

fn rediscover_testserver_acl(password: &str) -> rediscover_testserver::acl::Acl {
    rediscover_testserver::acl::Acl::new(Some(password.as_bytes()))
}

#[tokio::test]
async fn reconnects_after_client_kill() {
    let t = target().await;
    let client = Client::with_config(config(&t.url)).await.unwrap();
    let admin = Client::with_config(config(&t.url)).await.unwrap();
    let id: i64 = client.cmd("CLIENT").arg("ID").query().await.unwrap();
    let killed: i64 = admin
        .cmd("CLIENT")
        .arg(["KILL", "ID"])
        .arg(id)
        .query()
        .await
        .unwrap();
    assert_eq!(killed, 1);
    let first = client.connection().unwrap();
    wait_until(|| first.is_closed()).await;
    let k = unique("killed");
    client.set(&k, "after").await.unwrap();
    assert_eq!(
        client.get::<Option<Bytes>>(&k).await.unwrap().unwrap(),
        &b"after"[..]
    );
    let new_id: i64 = client.cmd("CLIENT").arg("ID").query().await.unwrap();
    assert_ne!(new_id, id);
    assert_eq!(client.reconnects(), 1);
    client.del(&k).await.unwrap();
}

#[tokio::test]
async fn slow_server_times_out_and_recovers() {
    // DEBUG SLEEP holds the whole server; the client gives up at its deadline and the late
    // reply is discarded.
    let t = target().await;
    let slow =
        Client::with_config(config(&t.url).request_timeout(Some(Duration::from_millis(100))))
            .await
            .unwrap();
    let e = slow.cmd("DEBUG").arg(["SLEEP", "0.3"]).query::<()>().await;
    match e {
        Err(e) if e.is_timeout() => {
            assert!(!e.is_not_sent());
            // Requests behind the sleeping one may time out too; once the server wakes, each
            // reply still goes to its own request.
            let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
            for i in 0.. {
                let payload = format!("after-{i}");
                match slow.echo::<Bytes>(payload.clone()).await {
                    Ok(got) => {
                        assert_eq!(got, payload.as_bytes());
                        break;
                    }
                    Err(e) => assert!(e.is_timeout(), "{e:?}"),
                }
                assert!(tokio::time::Instant::now() < deadline);
            }
        }
        // A server with DEBUG disabled (Redis 7 default): nothing to test here.
        Err(e) if e.is_server() => {}
        other => panic!("expected a timeout, got {other:?}"),
    }
}
