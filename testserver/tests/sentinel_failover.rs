//! Sentinel failovers in one process, with fast timers: the whole event sequence of a failover
//! (against a capture from Redis 7.0.15), the old master demoted when it returns, manual
//! failover, quorum not reached, a partitioned or frozen sentinel, replica-priority 0, a
//! restarted sentinel catching up through hello, TILT, a crash after election, sentinels
//! racing for the same epoch, authentication.
//!
//! Waits poll with deadlines; a fault that lasts a while (a freeze, a partition that must not
//! lead anywhere) is held for a few down-after periods before checking what did not happen.

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use common::sentinel::{call, field, fixture, wait_reply, EventLog};
use common::RawConn;
use rediscover_testserver::topology::sentinel::TestSentinel;

const WAIT: Duration = Duration::from_secs(15);

async fn events(t: &TestSentinel) -> EventLog {
    let addrs: Vec<SocketAddr> = t.sentinels.iter().map(|s| s.addr()).collect();
    EventLog::start(&addrs).await
}

/// The events of the captured failover, as `type text` lines.
fn captured_failover() -> Vec<String> {
    let raw = fixture("failover.pubsub_psubscribe_all.27101.resp");
    let mut buf = bytes::BytesMut::from(&raw[..]);
    let mut out = Vec::new();
    while let Ok(Some(f)) = rediscover::resp::decode(&mut buf, &Default::default()) {
        let parts = f.as_slice().unwrap();
        if parts.len() == 4 {
            let text =
                |i: usize| String::from_utf8_lossy(parts[i].as_bytes().unwrap()).into_owned();
            out.push(format!("{} {}", text(2), text(3)));
        }
    }
    out
}

/// Events that depend on timing: `-odown` (observers may switch before the leader's last
/// ask), role changes (verbose, seen only if INFO catches them), and SDOWNs of instances
/// that come and go.
fn racy(line: &str) -> bool {
    line.starts_with("-odown")
        || line.contains("role-change")
        || line.starts_with("+sdown slave")
        || line.starts_with("-sdown")
        || line.contains(" sentinel ")
}

#[tokio::test]
async fn killed_master_fails_over_as_redis_does_and_rejoins_as_replica() {
    let mut t = TestSentinel::builder().start().await.unwrap();
    let log = events(&t).await;
    let old = t.servers[0].addr();
    let mut m = RawConn::connect(old).await;
    assert_eq!(m.call(&["SET", "before", "1"]).await, b"+OK\r\n");

    t.servers[0].kill().await;
    let new = t.wait_for_failover(old, WAIT).await.unwrap();
    let leader = log.wait("+elected-leader", WAIT, |_| true).await.sentinel;
    log.wait("+switch-master", WAIT, |e| e.sentinel == leader)
        .await;
    let other = t.servers[1..]
        .iter()
        .map(|s| s.addr())
        .find(|a| *a != new)
        .unwrap();
    let leader_id = t.sentinels[leader]
        .node()
        .lock()
        .sentinel
        .as_ref()
        .unwrap()
        .id()
        .to_string();

    // The leader's events, with this deployment's addresses and id written as the capture's.
    let ours: Vec<String> = log
        .all()
        .into_iter()
        .filter(|e| e.sentinel == leader)
        .map(|e| {
            format!("{} {}", e.kind, e.text)
                .replace(&format!("127.0.0.1:{}", old.port()), "127.0.0.1:7100")
                .replace(&format!("127.0.0.1:{}", new.port()), "127.0.0.1:7101")
                .replace(&format!("127.0.0.1:{}", other.port()), "127.0.0.1:7102")
                .replace(&format!(" {}", old.port()), " 7100")
                .replace(&format!(" {}", new.port()), " 7101")
                .replace(&format!(" {}", other.port()), " 7102")
                .replace(&leader_id, "82da60180932d4446273136849944d8f29e3b8d8")
                .replace("#quorum 3/2", "#quorum 2/2")
        })
        .filter(|l| !racy(l))
        .collect();
    let want: Vec<String> = captured_failover()
        .into_iter()
        .filter(|l| !racy(l))
        .collect();
    // It saw the master down, then agreed with the others that it is.
    assert!(
        ours[0].starts_with("+sdown master mymaster 127.0.0.1 7100"),
        "{ours:#?}"
    );
    assert!(
        ours[1].starts_with("+odown master mymaster 127.0.0.1 7100 #quorum "),
        "{ours:#?}"
    );
    // Votes can split (in Redis too): compare the attempt it won, from its epoch on.
    let elected = ours
        .iter()
        .position(|l| l.starts_with("+elected-leader"))
        .unwrap();
    let start = ours[..elected]
        .iter()
        .rposition(|l| l.starts_with("+new-epoch "))
        .unwrap();
    let epoch = ours[start]["+new-epoch ".len()..].to_string();
    let end = ours
        .iter()
        .position(|l| l.starts_with("+slave slave 127.0.0.1:7100"))
        .map_or(ours.len(), |i| i + 1);
    let won: Vec<String> = ours[start..end]
        .iter()
        .map(|l| match l.strip_suffix(&format!(" {epoch}")) {
            Some(head) if l.starts_with("+new-epoch") || l.starts_with("+vote-for-leader") => {
                format!("{head} 1")
            }
            _ => l.clone(),
        })
        .collect();
    let from = want.iter().position(|l| l == "+new-epoch 1").unwrap();
    assert_eq!(won, want[from..], "leader events:\n{}", log.dump());

    // The observers switched on the leader's hello.
    for i in (0..3).filter(|&i| i != leader) {
        log.wait("+config-update-from", WAIT, |e| e.sentinel == i)
            .await;
        log.wait("+switch-master", WAIT, |e| {
            e.sentinel == i && e.text.ends_with(&format!("{} {}", new.ip(), new.port()))
        })
        .await;
    }
    let mut c = RawConn::connect(new).await;
    assert!(c
        .call(&["ROLE"])
        .await
        .starts_with(b"*3\r\n$6\r\nmaster\r\n"));
    assert_eq!(c.call(&["GET", "before"]).await, b"$1\r\n1\r\n");
    assert_eq!(c.call(&["SET", "after", "2"]).await, b"+OK\r\n");
    t.wait_replica_of(other, new, WAIT).await.unwrap();

    // The old master comes back as a master, and is turned into a replica of the new one.
    t.servers[0].restart().await.unwrap();
    log.wait("+convert-to-slave", WAIT, |e| {
        e.text.contains(&format!(":{} ", old.port()))
    })
    .await;
    t.wait_replica_of(old, new, WAIT).await.unwrap();
    let mut o = RawConn::connect(old).await;
    wait_reply(&mut o, &["GET", "after"], b"$1\r\n2\r\n").await;
    assert_eq!(
        o.call(&["SET", "x", "1"]).await,
        b"-READONLY You can't write against a read only replica.\r\n"
    );
}

#[tokio::test]
async fn no_failover_without_quorum() {
    let t = TestSentinel::builder().quorum(3).start().await.unwrap();
    let log = events(&t).await;
    let old = t.servers[0].addr();
    // One sentinel of three stops: the other two see the master down but are not three.
    t.sentinels[2].freeze();
    let mut t = t;
    t.servers[0].kill().await;
    for i in 0..2 {
        log.wait("+sdown", WAIT, |e| {
            e.sentinel == i && e.text.starts_with("master")
        })
        .await;
    }
    let mut c = RawConn::connect(t.sentinels[0].addr()).await;
    log.wait("+sdown", WAIT, |e| {
        e.sentinel == 0 && e.text.starts_with("sentinel")
    })
    .await;
    assert_eq!(
        c.call(&["SENTINEL", "CKQUORUM", "mymaster"]).await,
        b"-NOQUORUM 2 usable Sentinels. Not enough available Sentinels to reach the specified quorum for this master\r\n"
    );
    // Hold it for many failover times: nothing happens.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        log.of("+odown").is_empty() && log.of("+try-failover").is_empty(),
        "{}",
        log.dump()
    );
    for i in 0..2 {
        assert_eq!(t.view(i).unwrap().master, old);
    }
    t.sentinels[2].thaw();
}

#[tokio::test]
async fn manual_failover_and_inprog() {
    let t = TestSentinel::builder().start().await.unwrap();
    let log = events(&t).await;
    let old = t.servers[0].addr();
    let mut c = RawConn::connect(t.sentinels[1].addr()).await;
    assert_eq!(
        c.call(&["SENTINEL", "FAILOVER", "mymaster"]).await,
        b"+OK\r\n"
    );
    assert_eq!(
        c.call(&["SENTINEL", "FAILOVER", "mymaster"]).await,
        b"-INPROG Failover already in progress\r\n"
    );
    assert_eq!(
        c.call(&["SENTINEL", "FAILOVER", "nosuch"]).await,
        b"-ERR No such master with that name\r\n"
    );
    let master = call(&mut c, &["SENTINEL", "MASTER", "mymaster"]).await;
    assert!(field(&master, "flags").contains("failover_in_progress"));
    let new = t.wait_for_failover(old, WAIT).await.unwrap();
    // No agreement needed: the requested sentinel leads.
    assert_eq!(
        log.wait("+elected-leader", WAIT, |_| true).await.sentinel,
        1
    );
    assert!(log.of("+odown").is_empty());
    // The old master is alive; it is told to follow the new one.
    t.wait_replica_of(old, new, WAIT).await.unwrap();
    for s in &t.servers {
        if s.addr() != new {
            t.wait_replica_of(s.addr(), new, WAIT).await.unwrap();
        }
    }
}

#[tokio::test]
async fn replica_priority_zero_is_never_promoted() {
    let mut t = TestSentinel::builder()
        .replica_priority(0, 0)
        .start()
        .await
        .unwrap();
    let log = events(&t).await;
    let never = t.servers[1].addr();
    let old = t.servers[0].addr();
    t.servers[0].kill().await;
    let new = t.wait_for_failover(old, WAIT).await.unwrap();
    assert_eq!(new, t.servers[2].addr());
    t.wait_replica_of(never, new, WAIT).await.unwrap();
    // Now only the priority-0 replica is left: the failover is abandoned.
    t.server_mut(new).unwrap().kill().await;
    log.wait("-failover-abort-no-good-slave", WAIT, |_| true)
        .await;
    assert!(!t.server(never).unwrap().is_master());
    assert!(t.view(0).is_some_and(|v| v.master == new));
}

#[tokio::test]
async fn restarted_sentinel_learns_the_new_master_through_hello() {
    let mut t = TestSentinel::builder().start().await.unwrap();
    let old = t.servers[0].addr();
    t.sentinels[2].kill().await;
    t.servers[0].kill().await;
    let new = t
        .wait_for_failover_seen_by(&[0, 1], old, WAIT)
        .await
        .unwrap();
    // Its file still names the old master.
    t.sentinels[2].restart().await.unwrap();
    assert_eq!(t.view(2).unwrap().master, old);
    let log = EventLog::start(&[t.sentinels[2].addr()]).await;
    t.wait_for_failover(old, WAIT).await.unwrap();
    assert_eq!(t.view(2).unwrap().master, new);
    log.wait("+switch-master", WAIT, |_| true).await;
    log.wait("+config-update-from", WAIT, |_| true).await;
}

#[tokio::test]
async fn partitioned_sentinel_cannot_fail_over_alone() {
    // Quorum 1: the isolated sentinel reaches ODOWN by itself, but not a majority of votes.
    let t = TestSentinel::builder().quorum(1).start().await.unwrap();
    let log = events(&t).await;
    let old = t.servers[0].addr();
    let alone = &t.sentinels[0];
    let rest: Vec<_> = t.sentinels[1..].iter().chain([&t.servers[0]]).collect();
    TestSentinel::partition(&[alone], &rest);
    log.wait("+try-failover", WAIT, |e| e.sentinel == 0).await;
    log.wait("-failover-abort-not-elected", WAIT, |e| e.sentinel == 0)
        .await;
    assert!(log.of("+elected-leader").is_empty(), "{}", log.dump());
    for s in &t.servers[1..] {
        assert!(!s.is_master());
    }
    for i in 1..3 {
        assert_eq!(t.view(i).unwrap().master, old);
    }
    TestSentinel::heal(&[alone], &rest);
    log.wait("-sdown", WAIT, |e| {
        e.sentinel == 0 && e.text.starts_with("master")
    })
    .await;
}

#[tokio::test]
async fn frozen_sentinel_tilts_and_recovers() {
    let t = TestSentinel::builder().start().await.unwrap();
    let log = events(&t).await;
    let mut c = RawConn::connect(t.sentinels[0].addr()).await;
    assert_eq!(
        c.call(&[
            "SENTINEL",
            "DEBUG",
            "tilt-trigger",
            "150",
            "tilt-period",
            "400"
        ])
        .await,
        b"+OK\r\n"
    );
    // Stopped for longer than the trigger, as SIGSTOP would.
    t.sentinels[0].freeze();
    tokio::time::sleep(Duration::from_millis(400)).await;
    t.sentinels[0].thaw();
    let e = log.wait("+tilt", WAIT, |e| e.sentinel == 0).await;
    assert_eq!(e.text, "#tilt mode entered");
    let info = String::from_utf8(c.call(&["INFO", "sentinel"]).await).unwrap();
    assert!(info.contains("sentinel_tilt:1\r\n"), "{info}");
    // In TILT it answers that nothing is down.
    let m = t.servers[0].addr();
    let (ip, port) = (m.ip().to_string(), m.port().to_string());
    assert_eq!(
        c.call(&["SENTINEL", "is-master-down-by-addr", &ip, &port, "0", "*"])
            .await,
        b"*3\r\n:0\r\n$1\r\n*\r\n:0\r\n"
    );
    let e = log.wait("-tilt", WAIT, |e| e.sentinel == 0).await;
    assert_eq!(e.text, "#tilt mode exited");
    let info = String::from_utf8(c.call(&["INFO", "sentinel"]).await).unwrap();
    assert!(
        info.contains("sentinel_tilt:0\r\nsentinel_tilt_since_seconds:-1\r\n"),
        "{info}"
    );
    // The others saw it go and come back.
    log.wait("+sdown", WAIT, |e| {
        e.sentinel != 0 && e.text.starts_with("sentinel")
    })
    .await;
    log.wait("-sdown", WAIT, |e| {
        e.sentinel != 0 && e.text.starts_with("sentinel")
    })
    .await;
}

#[tokio::test]
async fn one_leader_per_epoch_when_sentinels_race() {
    // Quorum 1: every sentinel may start its own failover as soon as it sees the master down.
    let mut t = TestSentinel::builder().quorum(1).start().await.unwrap();
    let log = events(&t).await;
    let old = t.servers[0].addr();
    t.servers[0].kill().await;
    let new = t.wait_for_failover(old, WAIT).await.unwrap();
    let mut leaders: HashMap<String, Vec<usize>> = HashMap::new();
    let mut epoch_of: HashMap<usize, String> = HashMap::new();
    for e in log.all() {
        match e.kind.as_str() {
            "+new-epoch" => {
                epoch_of.insert(e.sentinel, e.text.clone());
            }
            "+elected-leader" => leaders
                .entry(epoch_of[&e.sentinel].clone())
                .or_default()
                .push(e.sentinel),
            _ => {}
        }
    }
    assert!(!leaders.is_empty());
    for (epoch, who) in &leaders {
        assert_eq!(
            who.len(),
            1,
            "epoch {epoch} had leaders {who:?}\n{}",
            log.dump()
        );
    }
    for i in 0..3 {
        assert_eq!(t.view(i).unwrap().master, new);
    }
}

#[tokio::test]
async fn leader_crashing_after_election_is_replaced() {
    let mut t = TestSentinel::builder().start().await.unwrap();
    let log = events(&t).await;
    for s in &t.sentinels {
        let mut c = RawConn::connect(s.addr()).await;
        assert_eq!(
            c.call(&["SENTINEL", "SIMULATE-FAILURE", "crash-after-election"])
                .await,
            b"+OK\r\n"
        );
    }
    let old = t.servers[0].addr();
    t.servers[0].kill().await;
    // The elected one exits (its last events die with it, as with Redis's exit(99)).
    let deadline = std::time::Instant::now() + WAIT;
    let crashed = loop {
        if let Some(i) = (0..3).find(|&i| !t.sentinels[i].is_running()) {
            break i;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no leader crashed\n{}",
            log.dump()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let crashed_id = t.sentinels[crashed]
        .node()
        .lock()
        .sentinel
        .as_ref()
        .unwrap()
        .id()
        .to_string();
    log.wait("+vote-for-leader", WAIT, |e| {
        e.sentinel != crashed && e.text.starts_with(&crashed_id)
    })
    .await;
    // SIMULATE-FAILURE resets the flags first: HELP clears them on the others.
    let rest: Vec<usize> = (0..3).filter(|&i| i != crashed).collect();
    for &i in &rest {
        let mut c = RawConn::connect(t.sentinels[i].addr()).await;
        c.call(&["SENTINEL", "SIMULATE-FAILURE", "HELP"]).await;
    }
    // Another one takes over once the failed attempt's epoch times out.
    let new = t.wait_for_failover_seen_by(&rest, old, WAIT).await.unwrap();
    assert_ne!(new, old);
}

#[tokio::test]
async fn fails_over_masters_that_require_a_password() {
    let config = rediscover_testserver::config::Config {
        requirepass: Some(b"s3cret".to_vec()),
        masterauth: Some(b"s3cret".to_vec()),
        ..Default::default()
    };
    let mut t = TestSentinel::builder()
        .server_config(config)
        .sentinel_conf("sentinel auth-pass mymaster s3cret")
        .start()
        .await
        .unwrap();
    let old = t.servers[0].addr();
    t.servers[0].kill().await;
    let new = t.wait_for_failover(old, WAIT).await.unwrap();
    let other = t.servers[1..]
        .iter()
        .map(|s| s.addr())
        .find(|a| *a != new)
        .unwrap();
    t.wait_replica_of(other, new, WAIT).await.unwrap();
}

#[tokio::test]
async fn client_reconfig_script_runs_on_leader_and_observers() {
    use std::os::unix::fs::PermissionsExt;
    let dir = common::dataset::TempDir::new("sentinel-reconf");
    let script = dir.file("reconf.sh");
    let out = dir.file("reconf.out");
    std::fs::write(
        &script,
        format!("#!/bin/sh\necho \"$@\" >> {}\n", out.display()),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut t = TestSentinel::builder()
        .sentinel_conf(format!(
            "sentinel client-reconfig-script mymaster {}",
            script.display()
        ))
        .start()
        .await
        .unwrap();
    let old = t.servers[0].addr();
    t.servers[0].kill().await;
    let new = t.wait_for_failover(old, WAIT).await.unwrap();
    let tail = format!(
        "start {} {} {} {}",
        old.ip(),
        old.port(),
        new.ip(),
        new.port()
    );
    // The leader at promotion, each observer when it switches.
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let text = std::fs::read_to_string(&out).unwrap_or_default();
        let mut lines: Vec<&str> = text.lines().collect();
        lines.sort();
        if lines.len() == 3 {
            assert_eq!(
                lines,
                [
                    format!("mymaster leader {tail}"),
                    format!("mymaster observer {tail}"),
                    format!("mymaster observer {tail}")
                ]
            );
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{text}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
