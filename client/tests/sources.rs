//! The managed-connection seams: address sources (where the next connection goes, and a check
//! of each new connection), connections that know their peer and can be closed.

mod util;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rediscover::{
    AddressSource, BoxFuture, Client, Commands, Config, Connection, ErrorKind, Pool, Result,
    Subscriber,
};
use rediscover_testserver::TestServer;
use util::*;

/// A source whose answer the test changes, counting how often it was asked and verified.
#[derive(Clone, Default)]
struct Switchable {
    target: Arc<Mutex<Option<Config>>>,
    asked: Arc<AtomicUsize>,
    verified: Arc<AtomicUsize>,
    /// Refuse this many connections in `verify` before accepting.
    refuse: Arc<AtomicUsize>,
}

impl Switchable {
    fn pointing_at(url: &str) -> Switchable {
        let s = Switchable::default();
        s.point_at(url);
        s
    }

    fn point_at(&self, url: &str) {
        let config = Config::from_url(url)
            .unwrap()
            .backoff(Duration::from_millis(1), Duration::from_millis(5));
        *self.target.lock().unwrap() = Some(config);
    }
}

impl AddressSource for Switchable {
    fn next_config(&self) -> BoxFuture<'_, Result<Config>> {
        self.asked.fetch_add(1, Ordering::SeqCst);
        let config = self.target.lock().unwrap().clone();
        Box::pin(async move {
            config.ok_or_else(|| rediscover::Error::Config("nowhere to connect".into()))
        })
    }

    fn verify<'a>(&'a self, conn: &'a Connection) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            self.verified.fetch_add(1, Ordering::SeqCst);
            // Like a Sentinel source checking ROLE: ask the new connection something.
            let role: Vec<rediscover::resp::Frame> = conn.cmd("ROLE").query().await?;
            assert!(!role.is_empty());
            let refuse = self.refuse.load(Ordering::SeqCst);
            if refuse > 0 {
                self.refuse.store(refuse - 1, Ordering::SeqCst);
                return Err(rediscover::Error::NotAllowed("not the master (yet)".into()));
            }
            Ok(())
        })
    }
}

fn policy() -> Config {
    Config::default().backoff(Duration::from_millis(1), Duration::from_millis(5))
}

#[tokio::test]
async fn the_client_follows_its_address_source_after_a_failure() {
    let (old, new) = (
        TestServer::start().await.unwrap(),
        TestServer::start().await.unwrap(),
    );
    let source = Switchable::pointing_at(&old.url());
    let client = Client::with_source(policy(), source.clone()).await.unwrap();
    client.set("where", "old").await.unwrap();
    assert_eq!(client.connection().unwrap().peer_addr(), old.addr());
    // A failover: the source now names the new server, and the old one goes away.
    source.point_at(&new.url());
    old.shutdown().await;
    let first = client.connection().unwrap();
    wait_until(|| first.is_closed()).await;
    let got: Option<String> = client.get("where").await.unwrap();
    assert_eq!(
        got, None,
        "reconnected to the new server, which has no such key"
    );
    assert_eq!(client.connection().unwrap().peer_addr(), new.addr());
    assert_eq!(client.reconnects(), 1);
    assert_eq!(source.asked.load(Ordering::SeqCst), 2);
    // Blocking commands (dedicated connections) go where the source says too.
    let popped: Option<(String, String)> = client.blpop("nothing", 0.01).await.unwrap();
    assert_eq!(popped, None);
    assert!(source.asked.load(Ordering::SeqCst) >= 3);
}

#[tokio::test]
async fn verify_rejections_are_failed_attempts_with_backoff() {
    let server = TestServer::start().await.unwrap();
    let source = Switchable::pointing_at(&server.url());
    let client = Client::with_source(policy().max_retries(3), source.clone())
        .await
        .unwrap();
    assert_eq!(source.verified.load(Ordering::SeqCst), 1);
    // The next two connections are refused by the source, the third accepted.
    source.refuse.store(2, Ordering::SeqCst);
    client.connection().unwrap().close();
    assert_eq!(client.ping().await.unwrap(), "PONG");
    assert_eq!(source.verified.load(Ordering::SeqCst), 4);
    assert_eq!(client.reconnects(), 1);
    // Refusing every attempt: the request fails with the refusal as the cause.
    source.refuse.store(100, Ordering::SeqCst);
    client.connection().unwrap().close();
    let e = client.ping().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotSent, "{e:?}");
    let cause = std::error::Error::source(&e)
        .and_then(|c| c.downcast_ref::<rediscover::Error>())
        .unwrap();
    assert_eq!(cause.kind(), ErrorKind::NotAllowed, "{cause:?}");
    assert_eq!(source.verified.load(Ordering::SeqCst), 4 + 4);
    // A source with nowhere to go is a configuration problem: reported at once.
    *source.target.lock().unwrap() = None;
    source.refuse.store(0, Ordering::SeqCst);
    let asked = source.asked.load(Ordering::SeqCst);
    let e = client.ping().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config, "{e:?}");
    assert_eq!(
        source.asked.load(Ordering::SeqCst),
        asked + 1,
        "not retried"
    );
}

#[tokio::test]
async fn pools_and_subscribers_use_the_source_too() {
    let server = TestServer::start().await.unwrap();
    let source = Switchable::pointing_at(&server.url());
    let pool = Pool::with_source(policy(), source.clone(), 2).unwrap();
    let conn = pool.get().await.unwrap();
    assert_eq!(conn.peer_addr(), server.addr());
    assert_eq!(source.verified.load(Ordering::SeqCst), 1);
    drop(conn);
    let client = Client::connect(&server.url()).await.unwrap();
    let mut sub = Subscriber::with_source(policy(), source.clone())
        .await
        .unwrap();
    sub.subscribe("ch").await.unwrap();
    assert_eq!(client.publish("ch", "hi").await.unwrap(), 1);
    assert_eq!(sub.next_message().await.unwrap().payload, "hi");
    assert_eq!(source.asked.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_connection_knows_its_peer_and_can_be_closed() {
    // A server that never answers ECHO: one request is in flight when the connection closes.
    let fake = FakeServer::start(|cmd| match cmd[0].to_ascii_uppercase().as_str() {
        "HELLO" => Some(b"-ERR unknown command\r\n".to_vec()),
        "ECHO" => None,
        _ => Some(b"+PONG\r\n".to_vec()),
    })
    .await;
    let conn = Connection::connect(&Config::default().port(fake.port()))
        .await
        .unwrap();
    assert_eq!(
        conn.peer_addr(),
        format!("127.0.0.1:{}", fake.port()).parse().unwrap()
    );
    assert_eq!(conn.ping().await.unwrap(), "PONG");
    let held = {
        let c = conn.clone();
        tokio::spawn(async move { c.echo::<String>("held").await })
    };
    wait_until(|| conn.in_flight() == 1).await;
    conn.close();
    assert!(conn.is_closed());
    let e = held.await.unwrap().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Closed, "it was written: {e:?}");
    assert!(!e.is_not_sent());
    let e = conn.ping().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotSent, "{e:?}");
    wait_until(|| fake.open_connections() == 0).await;
    conn.close(); // twice is fine
}
