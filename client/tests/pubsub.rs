//! Subscriber: channels, patterns, both protocols, streams, resubscription after reconnect.

mod util;

use std::time::Duration;

use bytes::Bytes;
use rediscover::{Client, Commands, Message, Protocol, Subscriber};
use util::*;

async fn next(sub: &mut Subscriber) -> Message {
    tokio::time::timeout(Duration::from_secs(5), sub.next_message())
        .await
        .expect("no message in time")
        .unwrap()
}

#[tokio::test]
async fn channels_and_patterns_in_both_protocols() {
    let t = target().await;
    let publisher = Client::with_config(t.config()).await.unwrap();
    for proto in [Protocol::Resp3, Protocol::Resp2] {
        let mut sub = Subscriber::with_config(t.config().protocol(proto))
            .await
            .unwrap();
        let (a, b) = (unique("ch"), unique("ch"));
        let pattern_root = unique("pat");
        sub.subscribe([&a, &b]).await.unwrap();
        sub.psubscribe(format!("{pattern_root}:*")).await.unwrap();
        assert_eq!(sub.channels().count(), 2);
        assert_eq!(
            sub.patterns().cloned().collect::<Vec<_>>(),
            vec![Bytes::from(format!("{pattern_root}:*"))]
        );
        assert_eq!(publisher.publish(&a, "one").await.unwrap(), 1);
        assert_eq!(publisher.publish(&b, "two").await.unwrap(), 1);
        let pch = format!("{pattern_root}:x");
        assert_eq!(publisher.publish(&pch, "three").await.unwrap(), 1);
        let m = next(&mut sub).await;
        assert_eq!(
            (m.channel, m.payload, m.pattern),
            (Bytes::from(a.clone()), Bytes::from("one"), None)
        );
        assert_eq!(next(&mut sub).await.payload, "two");
        let m = next(&mut sub).await;
        assert_eq!(m.channel, pch.as_bytes());
        assert_eq!(
            m.pattern.as_deref(),
            Some(format!("{pattern_root}:*").as_bytes())
        );
        sub.unsubscribe(&a).await.unwrap();
        assert_eq!(publisher.publish(&a, "gone").await.unwrap(), 0);
        sub.punsubscribe(format!("{pattern_root}:*")).await.unwrap();
        assert_eq!(publisher.publish(&pch, "gone").await.unwrap(), 0);
        assert_eq!(publisher.publish(&b, "still").await.unwrap(), 1);
        assert_eq!(next(&mut sub).await.payload, "still");
    }
}

#[tokio::test]
async fn messages_arriving_during_subscribe_are_kept() {
    let t = target().await;
    let publisher = Client::with_config(t.config()).await.unwrap();
    let mut sub = publisher.subscriber().await.unwrap();
    let (a, b) = (unique("ch"), unique("ch"));
    sub.subscribe(&a).await.unwrap();
    publisher.publish(&a, "early").await.unwrap();
    // The message is read while waiting for the second subscription's confirmation.
    sub.subscribe(&b).await.unwrap();
    assert_eq!(next(&mut sub).await.payload, "early");
}

#[tokio::test]
async fn as_a_stream() {
    let t = target().await;
    let publisher = Client::with_config(t.config()).await.unwrap();
    let mut sub = Subscriber::with_config(t.config()).await.unwrap();
    let ch = unique("stream");
    sub.subscribe(&ch).await.unwrap();
    let mut stream = sub.into_stream();
    for i in 0..10 {
        publisher.publish(&ch, i.to_string()).await.unwrap();
    }
    // Through the Stream trait.
    let first = std::future::poll_fn(|cx| {
        futures_core::Stream::poll_next(std::pin::Pin::new(&mut stream), cx)
    });
    let m = tokio::time::timeout(Duration::from_secs(5), first)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(m.payload, "0");
    for i in 1..10 {
        let m = tokio::time::timeout(Duration::from_secs(5), stream.recv())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(m.payload, i.to_string().as_bytes());
    }
}

#[tokio::test]
async fn resubscribes_after_reconnect() {
    let t = target().await;
    let proxy = Proxy::start(t.addr()).await;
    let publisher = Client::with_config(t.config()).await.unwrap();
    let mut sub = Subscriber::connect(&proxy.url()).await.unwrap();
    let (ch, root) = (unique("re"), unique("repat"));
    sub.subscribe(&ch).await.unwrap();
    sub.psubscribe(format!("{root}*")).await.unwrap();
    proxy.cut();
    // Messages published while the subscriber is away are lost (pub/sub semantics), so
    // publish until one arrives after the resubscription.
    let waiter = tokio::spawn(async move {
        let m = sub.next_message().await.unwrap();
        (sub, m)
    });
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while publisher.publish(&ch, "again").await.unwrap() == 0 {
        assert!(tokio::time::Instant::now() < deadline, "never resubscribed");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let (mut sub, m) = waiter.await.unwrap();
    assert_eq!(m.payload, "again");
    assert_eq!(sub.reconnects(), 1);
    assert_eq!(publisher.publish(format!("{root}x"), "p").await.unwrap(), 1);
    let m = loop {
        let m = next(&mut sub).await;
        if m.pattern.is_some() {
            break m;
        }
    };
    assert_eq!(m.payload, "p");
}

#[tokio::test]
async fn empty_subscribe_is_a_no_op() {
    let t = target().await;
    let mut sub = Subscriber::with_config(t.config()).await.unwrap();
    // An empty list is a no-op, not a round trip.
    sub.subscribe(Vec::<String>::new()).await.unwrap();
    sub.ping().await.unwrap();
    let ch = unique("ok");
    sub.subscribe(&ch).await.unwrap();
    assert_eq!(sub.channels().count(), 1);
}

#[tokio::test]
async fn ping_keeps_messages_and_detects_a_dead_link() {
    let t = target().await;
    let proxy = Proxy::start(t.addr()).await;
    let publisher = Client::with_config(t.config()).await.unwrap();
    for proto in [Protocol::Resp3, Protocol::Resp2] {
        let config = rediscover::Config::from_url(&proxy.url())
            .unwrap()
            .protocol(proto);
        let mut sub = Subscriber::with_config(config).await.unwrap();
        let ch = unique("pinged");
        sub.subscribe(&ch).await.unwrap();
        publisher.publish(&ch, "before-ping").await.unwrap();
        sub.ping().await.unwrap();
        assert_eq!(next(&mut sub).await.payload, "before-ping");
        proxy.cut();
        assert!(sub.ping().await.is_err());
        // The next read reconnects and resubscribes.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        let waiter = tokio::spawn(async move { (sub.next_message().await, sub) });
        while publisher.publish(&ch, "after").await.unwrap() == 0 {
            assert!(tokio::time::Instant::now() < deadline);
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let (m, sub) = waiter.await.unwrap();
        assert_eq!(m.unwrap().payload, "after");
        assert_eq!(sub.reconnects(), 1);
    }
}
