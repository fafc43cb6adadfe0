//! Sharded pub/sub through `ClusterClient` against the in-process `TestCluster`: channels of
//! many slots on their nodes, and a channel that follows its slot to another master (the old
//! one ends the subscription with `sunsubscribe`), with the event that says messages may have
//! been missed. Every wait polls with a deadline.

use std::time::{Duration, Instant};

use rediscover::cluster::{ClusterClient, ClusterConfig, ClusterEvent};
use rediscover::slot::key_slot;
use rediscover::{Commands, Config};
use rediscover_testserver::TestCluster;

fn config(cluster: &TestCluster) -> ClusterConfig {
    ClusterConfig::new(cluster.nodes().iter().map(|n| n.addr().to_string()))
        .unwrap()
        .node(
            Config::default()
                .request_timeout(Some(Duration::from_secs(10)))
                .backoff(Duration::from_millis(5), Duration::from_millis(50)),
        )
        .refresh_min_interval(Duration::from_millis(10))
        .retry_backoff(Duration::from_millis(5), Duration::from_millis(50))
}

#[tokio::test]
async fn shard_channels_are_subscribed_per_slot_and_follow_their_slot() {
    let cluster = TestCluster::builder().masters(3).start().await.unwrap();
    let client = ClusterClient::with_config(config(&cluster)).await.unwrap();
    let mut events = client.events();
    let mut sub = client.sharded_subscriber();
    let channels: Vec<String> = (0..12).map(|i| format!("chan:{i}")).collect();
    sub.ssubscribe(&channels).await.unwrap();
    let nodes: std::collections::BTreeSet<_> =
        channels.iter().filter_map(|c| sub.node_of(c)).collect();
    assert_eq!(nodes.len(), 3, "spread over the masters");
    for c in &channels {
        let n: i64 = client
            .cmd("SPUBLISH")
            .arg(c)
            .arg(format!("hello {c}"))
            .query()
            .await
            .unwrap();
        assert_eq!(n, 1, "{c}: one subscriber, on the slot's master");
    }
    let mut got = std::collections::BTreeSet::new();
    while got.len() < channels.len() {
        let m = tokio::time::timeout(Duration::from_secs(10), sub.next_message())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            m.payload,
            format!("hello {}", String::from_utf8_lossy(&m.channel))
        );
        got.insert(m.channel);
    }
    // The slot of chan:0 moves: its master ends the subscription, the subscriber follows.
    let moving = &channels[0];
    let slot = key_slot(moving.as_bytes());
    let from = cluster.master_of_slot(slot).unwrap();
    let to = cluster.masters().into_iter().find(|&m| m != from).unwrap();
    cluster.migrate_slot(slot, to).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut round = 0;
    loop {
        assert!(
            Instant::now() < deadline,
            "the subscription follows its slot"
        );
        round += 1;
        let _: i64 = client
            .cmd("SPUBLISH")
            .arg(moving)
            .arg(format!("after {round}"))
            .query()
            .await
            .unwrap();
        match tokio::time::timeout(Duration::from_millis(100), sub.next_message()).await {
            Ok(Ok(m)) if m.channel == moving.as_bytes() && m.payload.starts_with(b"after") => break,
            Ok(Ok(_)) | Err(_) => {}
            Ok(Err(e)) => panic!("{e}"),
        }
    }
    assert_eq!(
        sub.node_of(moving).unwrap().port(),
        cluster.node(to).addr().port()
    );
    let event = events.try_recv().unwrap();
    assert_eq!(
        event,
        ClusterEvent::ShardChannelMoved {
            channel: moving.as_bytes().to_vec(),
            to: sub.node_of(moving).unwrap(),
        }
    );
    // Unsubscribed channels get nothing more.
    sub.sunsubscribe(&channels[1..]).await.unwrap();
    assert_eq!(sub.channels().count(), 1);
}
