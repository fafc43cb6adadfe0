//! The master side: REPLCONF, PSYNC/SYNC (deciding between a partial and a full resync), and
//! the feeder that streams the snapshot and then the backlog to one replica.

use std::sync::Arc;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use rediscover::resp::CommandDecoder;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::client::ClientKind;
use crate::cmd::{CmdResult, Ctx, Outcome};
use crate::keyspace::ClientId;
use crate::logging::Level;
use crate::node::Node;

use super::{event, ReplicaInfo, ReplicaState};

/// What a replica said about itself with REPLCONF before PSYNC.
#[derive(Debug, Clone, Default)]
pub struct ReplConf {
    /// `listening-port`.
    pub listening_port: u16,
    /// `ip-address` (`replica-announce-ip`).
    pub ip_address: Option<String>,
    /// `capa eof`: it can load a snapshot of unknown length.
    pub capa_eof: bool,
    /// `capa psync2`: it understands `+CONTINUE <new id>`.
    pub capa_psync2: bool,
    /// `rdb-only 1`: it wants the snapshot only, not the stream (`redis-cli --rdb`).
    pub rdb_only: bool,
    /// `rdb-filter-only functions`: the snapshot without keys (`redis-cli --functions-rdb`).
    pub functions_only: bool,
}

/// A PSYNC/SYNC that was accepted: what the connection sends before streaming.
#[derive(Debug)]
pub struct SyncStart {
    /// The data to send as an RDB, for a full resync: copied under the lock at the offset the
    /// stream continues from, serialised by the feeder without holding the lock.
    pub snapshot: Option<Box<(Vec<crate::keyspace::Db>, crate::rdb::SaveMeta)>>,
    /// Offset of the first stream byte to send after it.
    pub next: u64,
    /// Close once the snapshot is sent (`REPLCONF rdb-only 1`).
    pub rdb_only: bool,
    /// Frame the snapshot as `$EOF:<mark>\r\n<rdb><mark>` (diskless style) instead of
    /// `$<len>\r\n<rdb>`.
    pub eof_mark: Option<String>,
}

/// Largest piece of stream handed to the socket in one write.
const FEED_CHUNK: usize = 256 * 1024;

/// REPLCONF <option> <value> ...
pub(crate) fn replconf(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    if argv.len() % 2 == 0 {
        return Err(rediscover::error_codes::msg::SYNTAX.into());
    }
    for pair in argv[1..].chunks(2) {
        let (option, value) = (&pair[0], &pair[1]);
        let option_lc = option.to_ascii_lowercase();
        match &option_lc[..] {
            b"listening-port" => {
                let port = crate::cmd::parse_i64(value)?;
                ctx.client.replconf.listening_port = port.clamp(0, 65535) as u16;
            }
            b"ip-address" => {
                if value.len() >= 46 {
                    return Err(format!(
                        "ERR REPLCONF ip-address provided by replica instance is too long: {} bytes",
                        value.len()
                    )
                    .into());
                }
                ctx.client.replconf.ip_address = Some(String::from_utf8_lossy(value).into_owned());
            }
            b"capa" => match &value.to_ascii_lowercase()[..] {
                b"eof" => ctx.client.replconf.capa_eof = true,
                b"psync2" => ctx.client.replconf.capa_psync2 = true,
                // Unknown capabilities are ignored, so replicas may announce new ones.
                _ => {}
            },
            b"ack" => {
                // Only a replica acknowledges; anything else is ignored silently, with no reply.
                if let Ok(offset) = crate::cmd::parse_i64(value) {
                    record_ack(ctx.node, ctx.client.id, offset);
                }
                return Ok(());
            }
            b"getack" => {
                // Answered by a replica's link to its master; nothing to do elsewhere.
                return Ok(());
            }
            b"rdb-only" => {
                let v = crate::cmd::parse_i64(value)?;
                if v != 0 && v != 1 {
                    return Err(rediscover::error_codes::msg::SYNTAX.into());
                }
                ctx.client.replconf.rdb_only = v == 1;
            }
            b"rdb-filter-only" => {
                let mut functions_only = false;
                for filter in value.split(|&b| b == b' ').filter(|f| !f.is_empty()) {
                    if !filter.eq_ignore_ascii_case(b"functions") {
                        return Err(format!(
                            "ERR Unsupported rdb-filter-only option: {}",
                            String::from_utf8_lossy(filter)
                        )
                        .into());
                    }
                    functions_only = true;
                }
                ctx.client.replconf.functions_only = functions_only;
            }
            _ => {
                return Err(format!(
                    "ERR Unrecognized REPLCONF option: {}",
                    String::from_utf8_lossy(option)
                )
                .into());
            }
        }
    }
    ctx.out.ok();
    Ok(())
}

fn record_ack(st: &mut crate::node::NodeState, id: ClientId, offset: i64) {
    if let Some(r) = st.repl.replica_mut(id) {
        if offset as u64 > r.ack_offset {
            r.ack_offset = offset as u64;
        }
        let now = Instant::now();
        r.ack_time = now;
        st.repl.events |= event::ACK;
        if let Some(entry) = st.clients.get_mut(&id) {
            entry.last_cmd = "replconf";
            entry.last_interaction = now;
        }
    }
}

/// PSYNC <replid> <offset>, and the legacy SYNC.
pub(crate) fn psync(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    if matches!(ctx.outcome, Some(Outcome::Sync(_)))
        || ctx.node.repl.replica_mut(ctx.client.id).is_some()
    {
        // Already a replica: ignore, as Redis does.
        return Ok(());
    }
    // `PSYNC <my replid> <offset> FAILOVER`: the master that sends it (FAILOVER TO this node)
    // hands over; this node takes over as master, then serves the PSYNC as usual.
    if argv.len() > 3 && argv[3].eq_ignore_ascii_case(b"failover") {
        if ctx.node.repl.is_master() {
            return Err("ERR PSYNC FAILOVER can't be sent to a master.".into());
        }
        if argv[1][..] != *ctx.node.repl.replid.as_bytes() {
            return Err("ERR PSYNC FAILOVER replid must match my replid.".into());
        }
        ctx.node.become_master();
        let who = ctx.client.addr;
        ctx.node.log(
            Level::Notice,
            &format!("MASTER MODE enabled (failover request from 'addr={who}')"),
        );
    }
    if let Some(m) = &ctx.node.repl.master {
        if m.state != super::LinkState::Connected {
            return Err("NOMASTERLINK Can't SYNC while not connected with my master".into());
        }
    }
    let legacy = argv.len() == 1;
    let who = replica_name(ctx);
    if !legacy {
        let replid = String::from_utf8_lossy(&argv[1]).into_owned();
        let offset = crate::cmd::parse_i64(&argv[2])?;
        if try_partial(ctx, &replid, offset, &who) {
            ctx.node.repl.sync_partial_ok += 1;
            return Ok(());
        }
        if replid != "?" {
            ctx.node.repl.sync_partial_err += 1;
        }
    }
    full_sync(ctx, legacy, &who);
    Ok(())
}

/// The replica's address as it announced it (REPLCONF ip-address) or as seen.
fn announced_ip(ctx: &Ctx<'_>) -> String {
    ctx.client
        .replconf
        .ip_address
        .clone()
        .unwrap_or_else(|| ctx.client.addr.ip().to_string())
}

/// `ip:port` for log lines.
fn replica_name(ctx: &Ctx<'_>) -> String {
    format!(
        "{}:{}",
        announced_ip(ctx),
        ctx.client.replconf.listening_port
    )
}

/// Redis's `masterTryPartialResynchronization`.
fn try_partial(ctx: &mut Ctx<'_>, replid: &str, offset: i64, who: &str) -> bool {
    let repl = &ctx.node.repl;
    let known = replid == repl.replid || (replid == repl.replid2 && offset <= repl.second_offset);
    if !known {
        if replid != "?" {
            let note = if replid != repl.replid2 {
                format!(
                    "Replication ID mismatch (Replica asked for '{replid}', my replication IDs are '{}' and '{}')",
                    repl.replid, repl.replid2
                )
            } else {
                format!(
                    "Requested offset for second ID was {offset}, but I can reply up to {}",
                    repl.second_offset
                )
            };
            ctx.node.log(
                Level::Notice,
                &format!("Partial resynchronization not accepted: {note}"),
            );
        } else {
            ctx.node.log(
                Level::Notice,
                &format!("Full resync requested by replica {who}"),
            );
        }
        return false;
    }
    let Some(backlog) = repl.backlog.as_ref() else {
        return false;
    };
    if offset < 0 || !backlog.can_continue_from(offset as u64) {
        ctx.node.log(
            Level::Notice,
            &format!(
                "Unable to partial resync with replica {who} for lack of backlog (Replica request was: {offset})."
            ),
        );
        return false;
    }
    let reply = if ctx.client.replconf.capa_psync2 {
        format!("+CONTINUE {}\r\n", repl.replid)
    } else {
        "+CONTINUE\r\n".to_string()
    };
    ctx.out.raw(reply.as_bytes());
    let next = offset as u64;
    let sending = ctx.node.repl.offset() + 1 - next;
    attach(ctx, ReplicaState::Online, next, false);
    ctx.finish_with(Outcome::Sync(SyncStart {
        snapshot: None,
        next,
        rdb_only: false,
        eof_mark: None,
    }));
    ctx.node.log(
        Level::Notice,
        &format!(
            "Partial resynchronization request from {who} accepted. Sending {sending} bytes of backlog starting from offset {offset}."
        ),
    );
    true
}

/// Starts a full resync: snapshot and offset taken together under the lock, so the stream
/// that follows the snapshot starts exactly where it ends.
fn full_sync(ctx: &mut Ctx<'_>, legacy: bool, who: &str) {
    let size = ctx.node.config.repl_backlog_size;
    let st = &mut *ctx.node;
    if st.repl.backlog.is_none() {
        st.repl.ensure_backlog(size);
        st.log(
            Level::Notice,
            &format!(
                "Replication backlog created, my new replication IDs are '{}' and '{}'",
                st.repl.replid, st.repl.replid2
            ),
        );
    }
    st.repl.sync_full += 1;
    let offset = st.repl.offset();
    // With a backlog (or a live link) the snapshot says where the stream continues.
    let aux = crate::rdb::persist::replication_aux(st);
    st.log(
        Level::Notice,
        &format!("Starting BGSAVE for SYNC with target: replicas sockets ({who})"),
    );
    let meta = crate::rdb::persist::save_meta(st, ctx.now, aux);
    let dbs: Vec<crate::keyspace::Db> = if ctx.client.replconf.functions_only {
        // Functions only, and this server has none: a snapshot with no keys.
        st.dbs.iter().map(|_| Default::default()).collect()
    } else {
        // Copying the keyspace is a walk that shares the values' bytes; serialising it (the
        // slow part) happens in the feeder, so the node is not held up the way Redis avoids it
        // by forking.
        st.dbs.iter().map(crate::keyspace::Db::snapshot).collect()
    };
    // The stream after the snapshot must say which database it writes to.
    if st.repl.master.is_none() {
        st.repl.seldb = -1;
    }
    if !legacy {
        ctx.out
            .raw(format!("+FULLRESYNC {} {offset}\r\n", ctx.node.repl.replid).as_bytes());
    }
    attach(ctx, ReplicaState::WaitBgsave, offset + 1, legacy);
    // Like Redis's default `repl-diskless-sync yes`, a replica that can read a snapshot of
    // unknown length gets it framed by a random end mark rather than a length (there is no
    // `repl-diskless-sync-delay` wait: nothing here benefits from batching replicas).
    let eof_mark = (ctx.client.replconf.capa_eof
        && ctx.node.config.extra_or("repl-diskless-sync", "yes") == "yes")
        .then(|| crate::node::random_hex(40));
    ctx.finish_with(Outcome::Sync(SyncStart {
        snapshot: Some(Box::new((dbs, meta))),
        next: offset + 1,
        rdb_only: ctx.client.replconf.rdb_only,
        eof_mark,
    }));
}

fn attach(ctx: &mut Ctx<'_>, state: ReplicaState, next: u64, legacy: bool) {
    let info = ReplicaInfo {
        client: ctx.client.id,
        ip: announced_ip(ctx),
        port: ctx.client.replconf.listening_port,
        state,
        ack_offset: 0,
        ack_time: Instant::now(),
        next,
        legacy,
    };
    ctx.node.repl.replicas.push(info);
    if let Some(entry) = ctx.node.clients.get_mut(&ctx.client.id) {
        entry.kind = ClientKind::Replica;
    }
}

/// Detaches a replica whose connection ended.
pub(crate) fn detach(st: &mut crate::node::NodeState, id: ClientId) {
    let before = st.repl.replicas.len();
    st.repl.replicas.retain(|r| r.client != id);
    if st.repl.replicas.len() != before {
        st.log(Level::Notice, "Connection with replica lost.");
        st.repl.events |= event::ACK;
    }
}

/// Streams to a replica whose PSYNC/SYNC was accepted: the snapshot first (for a full
/// resync), then the backlog from `start.next` on, while reading its acknowledgements.
/// Returns when the connection ends.
pub(crate) async fn feed<R, W>(
    node: &Arc<Node>,
    id: ClientId,
    start: SyncStart,
    rd: &mut R,
    wr: &mut W,
    rbuf: &mut BytesMut,
) where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    if let Some(snapshot) = start.snapshot {
        let rdb = tokio::task::spawn_blocking(move || {
            let (dbs, meta) = *snapshot;
            crate::rdb::write(&dbs, &meta)
        })
        .await;
        let Ok(rdb) = rdb else {
            return;
        };
        if let Some(r) = node.lock().repl.replica_mut(id) {
            r.state = ReplicaState::SendBulk;
        }
        let (header, trailer) = match &start.eof_mark {
            Some(mark) => (format!("$EOF:{mark}\r\n"), mark.as_bytes()),
            None => (format!("${}\r\n", rdb.len()), &b""[..]),
        };
        if wr.write_all(header.as_bytes()).await.is_err()
            || wr.write_all(&rdb).await.is_err()
            || wr.write_all(trailer).await.is_err()
        {
            return;
        }
        let mut st = node.lock();
        if let Some(r) = st.repl.replica_mut(id) {
            r.state = ReplicaState::Online;
            r.ack_time = Instant::now();
        }
        st.log(Level::Notice, "Synchronization with replica succeeded");
    }
    if start.rdb_only {
        return;
    }
    // After an end-mark snapshot a replica finds the mark only at the end of what it has
    // read, so nothing may follow until it says it is done, with its first ACK (Redis's
    // "Waiting for REPLCONF ACK from slave to enable streaming").
    let (first_ack, acked) = tokio::sync::oneshot::channel();
    let wait_for_ack = start.eof_mark.is_some();
    let writer = async {
        if wait_for_ack && acked.await.is_err() {
            return;
        }
        stream(node, id, start.next, wr).await
    };
    let reader = acks(node, id, rd, rbuf, Some(first_ack));
    tokio::select! {
        _ = writer => {}
        _ = reader => {}
    }
}

async fn stream<W: AsyncWrite + Unpin>(node: &Arc<Node>, id: ClientId, mut next: u64, wr: &mut W) {
    let mut signal = node.stream_signal.subscribe();
    let mut buf = Vec::with_capacity(FEED_CHUNK);
    loop {
        let parts = {
            let mut st = node.lock();
            if let Some(r) = st.repl.replica_mut(id) {
                r.next = next;
            }
            let Some(backlog) = st.repl.backlog.as_mut() else {
                return;
            };
            match backlog.read(next, FEED_CHUNK) {
                Some(parts) => parts,
                None => {
                    st.log(
                        Level::Warning,
                        "Client scheduled to be closed ASAP for overcoming of output buffer limits.",
                    );
                    return;
                }
            }
        };
        if parts.is_empty() {
            if signal.changed().await.is_err() {
                return;
            }
            continue;
        }
        let n: usize = parts.iter().map(Bytes::len).sum();
        let result = if parts.len() == 1 {
            wr.write_all(&parts[0]).await
        } else {
            buf.clear();
            for p in &parts {
                buf.extend_from_slice(p);
            }
            wr.write_all(&buf).await
        };
        if result.is_err() {
            return;
        }
        next += n as u64;
    }
}

/// Reads the replica's acknowledgements until the connection ends; `first_ack` fires on the
/// first one.
async fn acks<R: AsyncRead + Unpin>(
    node: &Arc<Node>,
    id: ClientId,
    rd: &mut R,
    rbuf: &mut BytesMut,
    mut first_ack: Option<tokio::sync::oneshot::Sender<()>>,
) {
    let mut decoder = CommandDecoder::default();
    let mut argv = Vec::new();
    loop {
        loop {
            match decoder.decode(rbuf, &mut argv) {
                Ok(true) => {}
                Ok(false) => break,
                Err(_) => return,
            }
            let is_ack = argv.len() >= 3
                && argv[0].eq_ignore_ascii_case(b"replconf")
                && argv[1].eq_ignore_ascii_case(b"ack");
            if is_ack {
                if let Ok(offset) = crate::cmd::parse_i64(&argv[2]) {
                    let mut st = node.lock();
                    record_ack(&mut st, id, offset);
                }
                if let Some(tx) = first_ack.take() {
                    let _ = tx.send(());
                }
            }
        }
        // Silence is judged by the replication cron (repl-timeout), not here.
        match rd.read_buf(rbuf).await {
            Ok(n) if n > 0 => {}
            _ => return,
        }
    }
}
