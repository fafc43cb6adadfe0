//! MIGRATE (`migrateCommand`): keys move to another node as DUMP payloads in `RESTORE` (or
//! `RESTORE-ASKING` in a cluster) commands, over a cached connection per target.
//!
//! Redis blocks its whole event loop while MIGRATE talks to the target. Here the command
//! finishes off the lock ([`Outcome::Defer`]): the payloads are taken under the lock, the
//! keys are locked against writes (a write to one of them waits, as every client waits in
//! Redis), and the keys the target acknowledged are deleted under the lock afterwards. So a
//! key is never in neither node, and after a successful MIGRATE it is in the target only; a
//! dead or slow target leaves it where it was.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use rediscover::resp::encode_command;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

use crate::cmd::{CmdResult, Ctx, Handler, Outcome};
use crate::fault::Gated;
use crate::node::{Node, NodeState};

pub(crate) const COMMANDS: &[(&str, Handler)] = &[("migrate", migrate)];

/// How long an unused cached connection is kept (Redis: 10 s).
const IDLE: Duration = Duration::from_secs(10);
/// Most cached connections (Redis: 64).
const MAX_CACHED: usize = 64;

/// A connection to a MIGRATE target, cached by `host:port` as given.
#[derive(Debug)]
struct Cached {
    rd: BufReader<Gated<OwnedReadHalf>>,
    wr: Gated<OwnedWriteHalf>,
    last_db: i64,
    last_use: Instant,
}

/// One node's MIGRATE state: the connection cache and the keys being moved.
#[derive(Debug, Default)]
pub struct MigrateState {
    sockets: Arc<Mutex<HashMap<String, Cached>>>,
    /// (db, key) → MIGRATE commands moving it. Writes to these keys wait.
    pub locks: HashMap<(usize, Bytes), usize>,
}

impl MigrateState {
    /// Whether `key` of `db` is being moved.
    pub fn is_locked(&self, db: usize, key: &[u8]) -> bool {
        !self.locks.is_empty() && self.locks.contains_key(&(db, Bytes::copy_from_slice(key)))
    }

    fn lock(&mut self, db: usize, keys: &[Bytes]) {
        for k in keys {
            *self.locks.entry((db, k.clone())).or_default() += 1;
        }
    }

    fn unlock(&mut self, db: usize, keys: &[Bytes]) {
        for k in keys {
            let e = (db, k.clone());
            if let Some(n) = self.locks.get_mut(&e) {
                *n -= 1;
                if *n == 0 {
                    self.locks.remove(&e);
                }
            }
        }
    }

    /// Closes cached connections idle for more than 10 s (`migrateCloseTimedoutSockets`).
    pub fn close_idle(&self) {
        if let Ok(mut s) = self.sockets.lock() {
            s.retain(|_, c| c.last_use.elapsed() <= IDLE);
        }
    }
}

/// Whether the command `argv` writes a key that a MIGRATE is moving (it must wait).
pub fn must_wait(st: &NodeState, db: usize, argv: &[Bytes]) -> bool {
    if st.migrate.locks.is_empty() {
        return false;
    }
    let Some(cmd) = st.commands.get(&argv[0]) else {
        return false;
    };
    if cmd.flags & crate::cmd::flags::WRITE == 0 {
        return false;
    }
    super::gate::key_positions(cmd, argv)
        .iter()
        .any(|&i| st.migrate.is_locked(db, &argv[i]))
}

struct Request {
    host: String,
    port: String,
    db: i64,
    timeout: Duration,
    copy: bool,
    replace: bool,
    auth: Option<(Option<Bytes>, Bytes)>,
    cluster: bool,
}

fn migrate(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let (mut copy, mut replace) = (false, false);
    let mut auth: Option<(Option<Bytes>, Bytes)> = None;
    let mut first_key = 3;
    let mut num_keys = 1;
    let mut j = 6;
    while j < argv.len() {
        let more = argv.len() - 1 - j;
        let a = &argv[j];
        if a.eq_ignore_ascii_case(b"copy") {
            copy = true;
        } else if a.eq_ignore_ascii_case(b"replace") {
            replace = true;
        } else if a.eq_ignore_ascii_case(b"auth") {
            if more == 0 {
                return Err(rediscover::error_codes::msg::SYNTAX.into());
            }
            j += 1;
            auth = Some((None, argv[j].clone()));
        } else if a.eq_ignore_ascii_case(b"auth2") {
            if more < 2 {
                return Err(rediscover::error_codes::msg::SYNTAX.into());
            }
            auth = Some((Some(argv[j + 1].clone()), argv[j + 2].clone()));
            j += 2;
        } else if a.eq_ignore_ascii_case(b"keys") {
            if !argv[3].is_empty() {
                return Err("ERR When using MIGRATE KEYS option, the key argument must be set to the empty string".into());
            }
            first_key = j + 1;
            num_keys = argv.len() - j - 1;
            break;
        } else {
            return Err(rediscover::error_codes::msg::SYNTAX.into());
        }
        j += 1;
    }
    let timeout = crate::cmd::parse_i64(&argv[5])?;
    let db = crate::cmd::parse_i64(&argv[4])?;
    let timeout = if timeout <= 0 { 1000 } else { timeout };
    let now = ctx.now;
    let compression = ctx.node.config.extra_or("rdbcompression", "yes") == "yes";
    let cdb = ctx.client.db;
    let mut keys: Vec<Bytes> = Vec::new();
    let mut items: Vec<(Bytes, i64, Vec<u8>)> = Vec::new();
    for key in &argv[first_key..first_key + num_keys] {
        let dbr = &mut ctx.node.dbs[cdb];
        let Some(value) = dbr.get(key, now) else {
            continue;
        };
        let payload = crate::rdb::dump::payload(value, compression);
        let ttl = match dbr.expire_at(key) {
            Some(at) => (at - now).max(1),
            None => 0,
        };
        keys.push(key.clone());
        items.push((key.clone(), ttl, payload));
    }
    if items.is_empty() {
        ctx.out.simple("NOKEY");
        return Ok(());
    }
    let Some(node) = ctx.node.self_ref.upgrade() else {
        return Err("ERR node is shutting down".into());
    };
    let req = Request {
        host: String::from_utf8_lossy(&argv[1]).into_owned(),
        port: String::from_utf8_lossy(&argv[2]).into_owned(),
        db,
        timeout: Duration::from_millis(timeout as u64),
        copy,
        replace,
        auth,
        cluster: ctx.node.cluster.is_some(),
    };
    if ctx.in_exec {
        // Inside a transaction nothing can wait off the lock: talk to the target right here,
        // blocking this node as Redis blocks for MIGRATE (an in-process target needs another
        // runtime thread to answer).
        // On a multi-threaded runtime this worker hands its other tasks over first, so an
        // in-process target keeps running; on a current-thread runtime an in-process target
        // cannot answer (the MIGRATE times out).
        let multi_thread = tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
        let outcome = if multi_thread {
            tokio::task::block_in_place(|| transfer_blocking(&node, &req, &items))
        } else {
            transfer_blocking(&node, &req, &items)
        };
        let (acked, reply) = finish(ctx.node, &req, cdb, outcome, false);
        if !req.copy && !acked.is_empty() {
            ctx.propagate_as(|| {
                let mut del = vec![Bytes::from_static(b"DEL")];
                del.extend(acked);
                vec![del]
            });
        }
        return reply.map(|()| ctx.out.ok()).map_err(Into::into);
    }
    ctx.node.migrate.lock(cdb, &keys);
    let resp3 = ctx.client.resp3;
    ctx.finish_with(Outcome::Defer(Box::pin(run(node, req, cdb, items, resp3))));
    Ok(())
}

/// The bytes sent to the target: AUTH, SELECT when `select`, one RESTORE per key.
fn encode_request(req: &Request, items: &[(Bytes, i64, Vec<u8>)], select: bool) -> BytesMut {
    let mut buf = BytesMut::new();
    if let Some((user, pass)) = &req.auth {
        match user {
            Some(u) => encode_command(&mut buf, &[&b"AUTH"[..], u, pass]),
            None => encode_command(&mut buf, &[&b"AUTH"[..], pass]),
        }
    }
    if select {
        encode_command(
            &mut buf,
            &[b"SELECT".to_vec(), req.db.to_string().into_bytes()],
        );
    }
    let name: &[u8] = if req.cluster {
        b"RESTORE-ASKING"
    } else {
        b"RESTORE"
    };
    for (k, ttl, payload) in items {
        let ttl = ttl.to_string();
        if req.replace {
            encode_command(&mut buf, &[name, k, ttl.as_bytes(), payload, b"REPLACE"]);
        } else {
            encode_command(&mut buf, &[name, k, ttl.as_bytes(), payload]);
        }
    }
    buf
}

/// MIGRATE with blocking I/O (inside EXEC), on a fresh connection.
fn transfer_blocking(node: &Node, req: &Request, items: &[(Bytes, i64, Vec<u8>)]) -> Transfer {
    use std::io::{BufRead, Write};
    use std::net::ToSocketAddrs;
    let Some(addr) = req
        .port
        .parse::<u16>()
        .ok()
        .and_then(|p| (req.host.as_str(), p).to_socket_addrs().ok()?.next())
    else {
        return Transfer::Connect;
    };
    if node.faults.is_cut(&addr) {
        return Transfer::Connect;
    }
    let Ok(stream) = std::net::TcpStream::connect_timeout(&addr, req.timeout) else {
        return Transfer::Connect;
    };
    let _ = stream.set_read_timeout(Some(req.timeout));
    let _ = stream.set_write_timeout(Some(req.timeout));
    let _ = stream.set_nodelay(true);
    let buf = encode_request(req, items, true);
    let mut wr = &stream;
    if let Err(e) = wr.write_all(&buf) {
        return Transfer::Socket {
            writing: true,
            acked: Vec::new(),
            first_reply: true,
            timed_out: e.kind() == std::io::ErrorKind::WouldBlock,
        };
    }
    let mut rd = std::io::BufReader::new(&stream);
    let mut read = || -> Result<String, bool> {
        let mut l = String::new();
        match rd.read_line(&mut l) {
            Ok(n) if n > 0 => Ok(l.trim_end_matches(['\r', '\n']).to_string()),
            Ok(_) => Err(false),
            Err(e) => Err(matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            )),
        }
    };
    let mut first_err: Option<String> = None;
    for _ in 0..usize::from(req.auth.is_some()) + 1 {
        match read() {
            Ok(l) => {
                if let Some(e) = l.strip_prefix('-') {
                    first_err.get_or_insert_with(|| e.to_string());
                }
            }
            Err(timed_out) => {
                return Transfer::Socket {
                    writing: false,
                    acked: Vec::new(),
                    first_reply: true,
                    timed_out,
                }
            }
        }
    }
    let mut acked = Vec::new();
    let mut target_error = first_err.clone();
    for (i, (k, _, _)) in items.iter().enumerate() {
        match read() {
            Ok(l) if first_err.is_none() && !l.starts_with('-') => acked.push(k.clone()),
            Ok(l) => {
                if target_error.is_none() {
                    target_error = Some(l[1..].to_string());
                }
            }
            Err(timed_out) => {
                if target_error.is_some() {
                    return Transfer::Done(acked, target_error);
                }
                return Transfer::Socket {
                    writing: false,
                    acked,
                    first_reply: i == 0,
                    timed_out,
                };
            }
        }
    }
    Transfer::Done(acked, target_error)
}

/// Under the lock, after the transfer: deletes the keys the target took (unless COPY), and
/// when `replicate` replicates that as DEL; returns those keys and the reply.
fn finish(
    st: &mut NodeState,
    req: &Request,
    db: usize,
    outcome: Transfer,
    replicate: bool,
) -> (Vec<Bytes>, Result<(), String>) {
    let (acked, reply) = match outcome {
        Transfer::Done(acked, None) => (acked, Ok(())),
        Transfer::Done(acked, Some(e)) => (
            acked,
            Err(format!("ERR Target instance replied with error: {e}")),
        ),
        Transfer::Socket { writing, acked, .. } => (
            acked,
            Err(format!(
                "IOERR error or timeout {} to target instance",
                if writing { "writing" } else { "reading" }
            )),
        ),
        Transfer::Connect => (
            Vec::new(),
            Err("IOERR error or timeout connecting to the client".to_string()),
        ),
    };
    if !req.copy && !acked.is_empty() {
        for k in &acked {
            st.dbs[db].remove(k);
            st.dbs[db].touch(k);
            crate::notify::keyspace_event(st, crate::notify::class::GENERIC, "del", k, db);
            st.dirty += 1;
            st.changes += 1;
        }
        if replicate {
            if st.repl.propagating() {
                let mut del = vec![Bytes::from_static(b"DEL")];
                del.extend(acked.iter().cloned());
                st.repl.push(db, del);
                st.repl.flush_pending();
            }
            crate::cmd::after_command(st);
        }
    }
    (acked, reply)
}

/// How a transfer ended.
enum Transfer {
    /// Every reply read: the keys the target took, and the first error it sent.
    Done(Vec<Bytes>, Option<String>),
    /// A socket error: while `writing` or reading, after `acked` keys were taken.
    Socket {
        writing: bool,
        acked: Vec<Bytes>,
        first_reply: bool,
        timed_out: bool,
    },
    /// Could not connect.
    Connect,
}

async fn run(
    node: Arc<Node>,
    req: Request,
    db: usize,
    items: Vec<(Bytes, i64, Vec<u8>)>,
    resp3: bool,
) -> Vec<u8> {
    let sockets = node.lock().migrate.sockets.clone();
    let key = format!("{}:{}", req.host, req.port);
    let mut may_retry = true;
    let outcome = loop {
        let t = transfer(&node, &sockets, &key, &req, &items).await;
        match &t {
            Transfer::Socket {
                first_reply: true,
                timed_out: false,
                ..
            } if may_retry => {
                may_retry = false;
                continue;
            }
            _ => break t,
        }
    };
    let keys: Vec<Bytes> = items.iter().map(|i| i.0.clone()).collect();
    let mut st = node.lock();
    st.migrate.unlock(db, &keys);
    let (_, reply) = finish(&mut st, &req, db, outcome, true);
    drop(st);
    let mut out = rediscover::resp::ReplyWriter::new(resp3);
    match reply {
        Ok(()) => out.ok(),
        Err(e) => out.error(&e),
    }
    out.take().to_vec()
}

/// One reply line (`syncReadLine`); `Err(timed_out)` on a socket error.
async fn read_reply(cs: &mut Cached, timeout: Duration) -> Result<String, bool> {
    let mut l = String::new();
    match tokio::time::timeout(timeout, cs.rd.read_line(&mut l)).await {
        Ok(Ok(n)) if n > 0 => Ok(l.trim_end_matches(['\r', '\n']).to_string()),
        Ok(_) => Err(false),
        Err(_) => Err(true),
    }
}

fn take_socket(sockets: &Mutex<HashMap<String, Cached>>, key: &str) -> Option<Cached> {
    let mut s = sockets.lock().ok()?;
    s.retain(|_, c| c.last_use.elapsed() <= IDLE);
    s.remove(key)
}

fn put_socket(sockets: &Mutex<HashMap<String, Cached>>, key: String, c: Cached) {
    if let Ok(mut s) = sockets.lock() {
        if s.len() >= MAX_CACHED {
            if let Some(k) = s.keys().next().cloned() {
                s.remove(&k);
            }
        }
        s.insert(key, c);
    }
}

async fn connect(node: &Node, req: &Request) -> Option<Cached> {
    let port: u16 = req.port.parse().ok()?;
    let attempt = async {
        let addr = tokio::net::lookup_host((req.host.as_str(), port))
            .await
            .ok()?
            .next()?;
        node.faults.connect(addr).await.ok()
    };
    let stream = tokio::time::timeout(req.timeout, attempt).await.ok()??;
    let (rd, wr) = stream.into_split();
    Some(Cached {
        rd: BufReader::new(rd),
        wr,
        last_db: -1,
        last_use: Instant::now(),
    })
}

async fn transfer(
    node: &Node,
    sockets: &Mutex<HashMap<String, Cached>>,
    key: &str,
    req: &Request,
    items: &[(Bytes, i64, Vec<u8>)],
) -> Transfer {
    let mut cs = match take_socket(sockets, key) {
        Some(c) => c,
        None => match connect(node, req).await {
            Some(c) => c,
            None => return Transfer::Connect,
        },
    };
    let select = cs.last_db != req.db;
    let buf = encode_request(req, items, select);
    for chunk in buf.chunks(64 * 1024) {
        match tokio::time::timeout(req.timeout, cs.wr.write_all(chunk)).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => {
                return Transfer::Socket {
                    writing: true,
                    acked: Vec::new(),
                    first_reply: true,
                    timed_out: false,
                }
            }
            Err(_) => {
                return Transfer::Socket {
                    writing: true,
                    acked: Vec::new(),
                    first_reply: true,
                    timed_out: true,
                }
            }
        }
    }
    let mut first_err: Option<String> = None;
    for _ in [req.auth.is_some(), select].iter().filter(|b| **b) {
        match read_reply(&mut cs, req.timeout).await {
            Ok(l) => {
                if let Some(e) = l.strip_prefix('-') {
                    first_err.get_or_insert_with(|| e.to_string());
                }
            }
            Err(timed_out) => {
                return Transfer::Socket {
                    writing: false,
                    acked: Vec::new(),
                    first_reply: true,
                    timed_out,
                }
            }
        }
    }
    let mut acked = Vec::new();
    let mut target_error = first_err.clone();
    for (i, (k, _, _)) in items.iter().enumerate() {
        match read_reply(&mut cs, req.timeout).await {
            Ok(l) => {
                if first_err.is_some() || l.starts_with('-') {
                    if target_error.is_none() {
                        target_error = Some(l[1..].to_string());
                    }
                } else {
                    acked.push(k.clone());
                }
            }
            Err(timed_out) => {
                if target_error.is_some() {
                    // The error is what the client hears; the socket is dropped.
                    return Transfer::Done(acked, target_error);
                }
                return Transfer::Socket {
                    writing: false,
                    acked,
                    first_reply: i == 0,
                    timed_out,
                };
            }
        }
    }
    cs.last_db = if target_error.is_some() { -1 } else { req.db };
    cs.last_use = Instant::now();
    put_socket(sockets, key.to_string(), cs);
    Transfer::Done(acked, target_error)
}
