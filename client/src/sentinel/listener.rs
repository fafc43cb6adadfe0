//! One listener per known sentinel: a subscriber connection to its events, which resubscribes
//! with backoff when it loses the sentinel and asks the sentinels again once it is back.

use std::sync::{Arc, Weak};
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::AsyncWriteExt;
use tokio::sync::watch;
use tokio::time::Instant;

use super::config::Role;
use super::monitor::Monitor;
use super::NodeAddr;
use crate::cmd::Cmd;
use crate::config::Config;
use crate::conn::handshake::read_frame;
use crate::conn::source::{backoff, Connector};
use crate::conn::stream::Stream;
use crate::error::{Error, Result};
use crate::resp::Frame;

/// The events a listener subscribes to. `+promoted-slave` comes from the failover's leader at
/// the moment it starts naming the promoted replica as the master (before any
/// `+switch-master`); `+switch-master` from every sentinel as it switches; the others change
/// the replicas or the sentinels.
const CHANNELS: &[&str] = &[
    "+switch-master",
    "+promoted-slave",
    "+sentinel",
    "+reset-master",
    "+slave",
    "+sdown",
    "-sdown",
    "+convert-to-slave",
    "+role-change",
    "-role-change",
    "+slave-reconf-done",
];

/// With no frame for this long, the listener sends a `PING`; with no answer within the
/// sentinel timeout after it, the connection is given up as dead.
const PING_EVERY: Duration = Duration::from_secs(1);

/// Resubscribe backoff: from 100 ms, doubling, to 5 s, jittered.
fn resubscribe_policy() -> Config {
    Config::default().backoff(Duration::from_millis(100), Duration::from_secs(5))
}

enum Ended {
    /// The handles are gone (or the sentinel forgotten).
    Stop,
    /// The connection was lost after subscribing.
    Lost(Error),
}

pub(crate) async fn run(
    monitor: Weak<Monitor>,
    addr: NodeAddr,
    mut shutdown: watch::Receiver<bool>,
) {
    let policy = resubscribe_policy();
    let mut failures: u32 = 0;
    let mut subscribed_before = false;
    loop {
        if *shutdown.borrow() {
            return;
        }
        if failures > 0 {
            tokio::select! {
                _ = tokio::time::sleep(backoff(&policy, failures)) => {}
                _ = shutdown.changed() => return,
            }
        }
        let Some(m) = monitor.upgrade() else {
            return;
        };
        if !m.is_known_sentinel(&addr) {
            return;
        }
        let config = m.config.sentinel_at(&addr);
        drop(m);
        match session(&monitor, &addr, config, subscribed_before, &mut shutdown).await {
            Ok(Ended::Stop) => return,
            Ok(Ended::Lost(e)) => {
                tracing::debug!(target: "rediscover::sentinel", sentinel = %addr, error = %e, "listener lost its sentinel");
                subscribed_before = true;
                failures = 1;
                if let Some(m) = monitor.upgrade() {
                    m.count_listener_reconnect();
                }
            }
            Err(e) => {
                tracing::debug!(target: "rediscover::sentinel", sentinel = %addr, error = %e, "listener could not subscribe");
                failures = failures.saturating_add(1);
            }
        }
    }
}

/// Connects, subscribes, and reads events until the connection is lost.
async fn session(
    monitor: &Weak<Monitor>,
    addr: &NodeAddr,
    config: Config,
    resubscribe: bool,
    shutdown: &mut watch::Receiver<bool>,
) -> Result<Ended> {
    let timeout = config.get_connect_timeout();
    let connector = Connector::new(Arc::new(config));
    let (mut stream, mut rbuf, _) = connector.open_stream().await?;
    let subscribe = Cmd::new("SUBSCRIBE").arg(CHANNELS);
    stream
        .write_all(&subscribe.to_bytes())
        .await
        .map_err(Error::io)?;
    let confirmed = async {
        let mut acks = 0;
        while acks < CHANNELS.len() {
            let frame = read_frame(&mut stream, &mut rbuf).await?;
            match kind(&frame).as_deref() {
                Some("subscribe") => acks += 1,
                _ if frame.is_error() => {
                    return Err(Error::Server(crate::error::ServerError::new(
                        frame.as_bytes().cloned().unwrap_or_default(),
                    )))
                }
                _ => {}
            }
        }
        Ok(())
    };
    tokio::time::timeout(timeout, confirmed)
        .await
        .map_err(|_| Error::Timeout { sent: true })??;
    tracing::debug!(target: "rediscover::sentinel", sentinel = %addr, "listening");
    if resubscribe {
        // Events sent while we were away are lost: ask again.
        match monitor.upgrade() {
            Some(m) => drop(m.request_refresh()),
            None => return Ok(Ended::Stop),
        }
    }
    Ok(listen(monitor, addr, &mut stream, &mut rbuf, timeout, shutdown).await)
}

async fn listen(
    monitor: &Weak<Monitor>,
    addr: &NodeAddr,
    stream: &mut Stream,
    rbuf: &mut BytesMut,
    answer_within: Duration,
    shutdown: &mut watch::Receiver<bool>,
) -> Ended {
    let mut last_heard = Instant::now();
    let mut ping_sent: Option<Instant> = None;
    loop {
        let check_at = match ping_sent {
            Some(at) => at + answer_within,
            None => last_heard + PING_EVERY,
        };
        tokio::select! {
            // Cancel-safe: a frame read in part stays in `rbuf` for the next call.
            read = tokio::time::timeout_at(check_at, read_frame(stream, rbuf)) => match read {
                Ok(Ok(frame)) => {
                    last_heard = Instant::now();
                    ping_sent = None;
                    let Some(m) = monitor.upgrade() else {
                        return Ended::Stop;
                    };
                    if let Some((channel, payload)) = message(frame) {
                        handle(&m, addr, &channel, &payload);
                    }
                }
                Ok(Err(e)) => return Ended::Lost(e),
                Err(_) if ping_sent.is_some() => return Ended::Lost(Error::Timeout { sent: true }),
                Err(_) => {
                    if let Err(e) = stream.write_all(&Cmd::new("PING").to_bytes()).await {
                        return Ended::Lost(Error::io(e));
                    }
                    ping_sent = Some(Instant::now());
                }
            },
            _ = shutdown.changed() => return Ended::Stop,
        }
    }
}

/// The first element of a pub/sub frame, lowercased.
fn kind(frame: &Frame) -> Option<String> {
    let first = frame.as_slice()?.first()?.as_bytes()?;
    Some(String::from_utf8_lossy(first).to_ascii_lowercase())
}

/// `(channel, payload)` of a `message` frame.
fn message(frame: Frame) -> Option<(String, String)> {
    if kind(&frame).as_deref() != Some("message") {
        return None;
    }
    let items = frame.into_vec()?;
    let text = |f: &Frame| {
        f.as_bytes()
            .map(|b| String::from_utf8_lossy(b).into_owned())
    };
    Some((text(items.get(1)?)?, text(items.get(2)?)?))
}

/// What an event means for us (payload formats in `sentinel.c`'s `sentinelEvent`).
fn handle(monitor: &Arc<Monitor>, sentinel: &NodeAddr, channel: &str, payload: &str) {
    let name = monitor.config.master_name();
    let w: Vec<&str> = payload.split(' ').collect();
    let addr_at = |i: usize| -> Option<NodeAddr> {
        let port = w.get(i + 1)?.parse().ok().filter(|p| *p != 0)?;
        Some(NodeAddr::new(*w.get(i)?, port))
    };
    // `<type> <name> <ip> <port> @ <master> <mip> <mport>` for replicas and sentinels.
    let of_our_master = w.len() >= 8 && w[4] == "@" && w[5] == name;
    tracing::trace!(target: "rediscover::sentinel", %sentinel, channel, payload, "event");
    match channel {
        // `<name> <old-ip> <old-port> <new-ip> <new-port>`
        "+switch-master" if w.len() >= 5 && w[0] == name => {
            if let Some(target) = addr_at(3) {
                spawn_announced(monitor, sentinel, target);
            }
        }
        "+promoted-slave" if of_our_master && w[0] == "slave" => {
            if let Some(target) = addr_at(2) {
                spawn_announced(monitor, sentinel, target);
            }
        }
        "+sentinel" if of_our_master && w[0] == "sentinel" => {
            if let Some(addr) = addr_at(2) {
                monitor.learn_sentinel(addr);
            }
        }
        // `master <name> <ip> <port>`
        "+reset-master" if w.len() >= 2 && w[1] == name => {
            monitor.request_refresh();
        }
        _ if of_our_master && w[0] == "slave" && monitor.config.get_role() != Role::Master => {
            monitor.request_refresh();
        }
        _ => {}
    }
}

fn spawn_announced(monitor: &Arc<Monitor>, sentinel: &NodeAddr, target: NodeAddr) {
    let (monitor, sentinel) = (monitor.clone(), sentinel.clone());
    tokio::spawn(async move { monitor.announced(&sentinel, target).await });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_in_both_protocols() {
        let b = |s: &str| Frame::bulk(s);
        let resp2 = Frame::Array(vec![b("message"), b("+switch-master"), b("m 1 2 3 4")]);
        assert_eq!(
            message(resp2),
            Some(("+switch-master".into(), "m 1 2 3 4".into()))
        );
        let resp3 = Frame::Push(vec![b("message"), b("+sdown"), b("x")]);
        assert_eq!(message(resp3), Some(("+sdown".into(), "x".into())));
        let ack = Frame::Push(vec![b("subscribe"), b("+sdown"), Frame::Integer(1)]);
        assert_eq!(kind(&ack).as_deref(), Some("subscribe"));
        assert_eq!(message(ack), None);
    }
}
