//! Helpers for the Sentinel tests: Redis 7.0.15 captures, and a log of every sentinel's
//! events (a `PSUBSCRIBE *` connection per sentinel).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use rediscover::resp::{decode, Frame, Limits};

use super::RawConn;

/// A capture file of `testserver/tests/fixtures/sentinel/`.
pub fn fixture(name: &str) -> Vec<u8> {
    let path: PathBuf = [
        env!("CARGO_MANIFEST_DIR"),
        "tests",
        "fixtures",
        "sentinel",
        name,
    ]
    .iter()
    .collect();
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The exchanges of a capture transcript: `>> COMMAND args` lines, each followed by the reply
/// bytes as a Python bytes literal. Entries whose literal was cut short are skipped.
pub fn exchanges(name: &str) -> Vec<(Vec<String>, Vec<u8>)> {
    let text = String::from_utf8(fixture(name)).expect("utf-8 transcript");
    let mut out = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let Some(cmd) = line.strip_prefix(">> ") else {
            continue;
        };
        let Some(reply) = lines.next().and_then(|l| py_bytes(l.trim())) else {
            continue;
        };
        let argv = cmd
            .split(' ')
            .map(|a| {
                if a == "\"\"" {
                    String::new()
                } else {
                    a.to_string()
                }
            })
            .collect();
        out.push((argv, reply));
    }
    out
}

/// Parses `b'...'` or `b"..."` (Python's repr of bytes).
fn py_bytes(s: &str) -> Option<Vec<u8>> {
    let s = s.strip_prefix('b')?;
    let quote = s.chars().next()?;
    if quote != '\'' && quote != '"' {
        return None;
    }
    let body = s.strip_prefix(quote)?.strip_suffix(quote)?;
    let mut out = Vec::new();
    let b = body.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            out.push(b[i]);
            i += 1;
            continue;
        }
        let c = *b.get(i + 1)?;
        i += 2;
        match c {
            b'r' => out.push(b'\r'),
            b'n' => out.push(b'\n'),
            b't' => out.push(b'\t'),
            b'\\' => out.push(b'\\'),
            b'\'' => out.push(b'\''),
            b'"' => out.push(b'"'),
            b'x' => {
                let hex = std::str::from_utf8(b.get(i..i + 2)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            _ => return None,
        }
    }
    // A cut-off capture does not decode to one whole reply.
    let mut buf = BytesMut::from(&out[..]);
    match decode(&mut buf, &Limits::default()) {
        Ok(Some(_)) if buf.is_empty() => Some(out),
        _ => None,
    }
}

/// Decodes exact reply bytes.
pub fn frame(bytes: &[u8]) -> Frame {
    decode(&mut BytesMut::from(bytes), &Limits::default())
        .expect("valid RESP")
        .expect("one whole reply")
}

/// The keys of an instance map (RESP2 flat array or RESP3 map), in order.
pub fn map_keys(f: &Frame) -> Vec<String> {
    map_pairs(f).into_iter().map(|(k, _)| k).collect()
}

/// The pairs of an instance map as text.
pub fn map_pairs(f: &Frame) -> Vec<(String, String)> {
    let text = |f: &Frame| {
        f.as_bytes()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_else(|| format!("{f:?}"))
    };
    match f {
        Frame::Map(pairs) => pairs.iter().map(|(k, v)| (text(k), text(v))).collect(),
        Frame::Array(items) => items
            .chunks(2)
            .map(|kv| (text(&kv[0]), text(&kv[1])))
            .collect(),
        other => panic!("not a map: {other:?}"),
    }
}

/// The value of `key` in an instance map.
pub fn field(f: &Frame, key: &str) -> String {
    map_pairs(f)
        .into_iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("no field {key} in {f:?}"))
}

/// One event a sentinel published.
#[derive(Debug, Clone)]
pub struct Event {
    /// Which sentinel (index in the log's list).
    pub sentinel: usize,
    /// The channel, which is the event's type (`+sdown`).
    pub kind: String,
    /// The payload.
    pub text: String,
    /// When it arrived.
    pub at: Instant,
}

/// Every event of a set of sentinels, collected by one `PSUBSCRIBE *` connection each.
#[derive(Clone)]
pub struct EventLog {
    events: Arc<Mutex<Vec<Event>>>,
}

impl EventLog {
    /// Subscribes to every event of the sentinels at `addrs`.
    pub async fn start(addrs: &[SocketAddr]) -> EventLog {
        let log = EventLog {
            events: Arc::default(),
        };
        for (i, addr) in addrs.iter().enumerate() {
            log.watch(i, *addr).await;
        }
        log
    }

    /// Adds sentinel `i` at `addr` (again, after a restart).
    pub async fn watch(&self, i: usize, addr: SocketAddr) {
        let mut conn = RawConn::connect(addr).await;
        let reply = conn.call(&["PSUBSCRIBE", "*"]).await;
        assert_eq!(reply, b"*3\r\n$10\r\npsubscribe\r\n$1\r\n*\r\n:1\r\n");
        let events = self.events.clone();
        tokio::spawn(async move {
            use tokio::io::AsyncReadExt;
            let mut buf = BytesMut::from(&conn.take_buffered()[..]);
            loop {
                while let Ok(Some(f)) = decode(&mut buf, &Limits::default()) {
                    let Some(parts) = f.as_slice() else { continue };
                    if parts.len() != 4 {
                        continue;
                    }
                    let text = |f: &Frame| {
                        String::from_utf8_lossy(f.as_bytes().map_or(&b""[..], |b| b)).into_owned()
                    };
                    events.lock().unwrap().push(Event {
                        sentinel: i,
                        kind: text(&parts[2]),
                        text: text(&parts[3]),
                        at: Instant::now(),
                    });
                }
                // The sentinel stopped (killed, crashed): its log ends there.
                match conn.stream.read_buf(&mut buf).await {
                    Ok(n) if n > 0 => {}
                    _ => return,
                }
            }
        });
    }

    /// Everything so far.
    pub fn all(&self) -> Vec<Event> {
        self.events.lock().unwrap().clone()
    }

    /// The events of one kind.
    pub fn of(&self, kind: &str) -> Vec<Event> {
        self.all().into_iter().filter(|e| e.kind == kind).collect()
    }

    /// The kinds sentinel `i` published, in order.
    pub fn kinds_of(&self, i: usize) -> Vec<String> {
        self.all()
            .into_iter()
            .filter(|e| e.sentinel == i)
            .map(|e| e.kind)
            .collect()
    }

    /// Waits for an event of `kind` matching `pred`; returns it.
    pub async fn wait(
        &self,
        kind: &str,
        timeout: Duration,
        pred: impl Fn(&Event) -> bool,
    ) -> Event {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(e) = self.of(kind).into_iter().find(|e| pred(e)) {
                return e;
            }
            assert!(
                Instant::now() < deadline,
                "no {kind} event within {timeout:?}; events: {:#?}",
                self.all()
                    .iter()
                    .map(|e| format!("{} {} {}", e.sentinel, e.kind, e.text))
                    .collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Waits until there are `n` events of `kind`; returns their texts in order.
    pub async fn wait_n(&self, kind: &str, n: usize, timeout: Duration) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let found = self.of(kind);
            if found.len() >= n {
                return found.into_iter().map(|e| e.text).collect();
            }
            assert!(
                Instant::now() < deadline,
                "{} {kind} events of {n} within {timeout:?}; events:\n{}",
                found.len(),
                self.dump()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// A printable list, for assertion messages.
    pub fn dump(&self) -> String {
        self.all()
            .iter()
            .map(|e| format!("[{}] {} {}", e.sentinel, e.kind, e.text))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Sends `argv` and returns the decoded reply.
pub async fn call(conn: &mut RawConn, argv: &[&str]) -> Frame {
    frame(&conn.call(argv).await)
}

/// Sends `argv` until the reply is `want` (fails after 15 s).
pub async fn wait_reply(conn: &mut RawConn, argv: &[&str], want: &[u8]) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let got = conn.call(argv).await;
        if got == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{argv:?} still answers {:?}",
            String::from_utf8_lossy(&got)
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The config file of the sentinel `s` (the one it rewrites).
pub fn config_file(s: &super::TestServer) -> std::path::PathBuf {
    s.node().lock().config.config_file.clone().unwrap()
}

/// A sentinel with Redis's default timers monitoring (quorum 2, down-after 1000 ms,
/// failover-timeout 3000 ms) a master with two replicas, with `extra` config lines.
pub async fn default_sentinel(
    extra: &str,
) -> (
    rediscover_testserver::topology::ReplicationSet,
    super::TestServer,
) {
    let set = rediscover_testserver::topology::ReplicationSet::start(2)
        .await
        .unwrap();
    let m = set.master.addr();
    let conf = format!(
        "sentinel monitor mymaster {} {} 2\n\
         sentinel down-after-milliseconds mymaster 1000\n\
         sentinel failover-timeout mymaster 3000\n{extra}",
        m.ip(),
        m.port()
    );
    let sentinel = super::TestServer::builder()
        .sentinel(conf)
        .start()
        .await
        .unwrap();
    (set, sentinel)
}
