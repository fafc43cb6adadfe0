//! The replica side: the link to the master. Connect, handshake (PING, AUTH, REPLCONF, PSYNC),
//! load the snapshot of a full resync or continue after a partial one, then apply the stream,
//! acknowledging the offset every second and whenever the master asks (`REPLCONF GETACK`).
//!
//! One task per node manages the link ([`manage`]); it starts a fresh link whenever REPLICAOF
//! (or a fault injected by a test) changes the link generation.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use rediscover::resp::{encode_command, CommandDecoder, Limits, ReplyWriter};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::Notify;

use crate::client::{Client, ClientEntry, ClientKind};
use crate::cmd::{self, Ctx};
use crate::fault::Gated;
use crate::keyspace::{ClientId, ExpireMode};
use crate::logging::Level;
use crate::node::{Node, NodeState};
use crate::rdb::{self, LoadOptions};

use super::{LinkFault, LinkState};

/// Why a link ended.
type LinkError = String;

/// Keeps the node's link to its master up, restarting it whenever the link generation
/// changes, until the node shuts down.
pub(crate) async fn manage(node: Arc<Node>) {
    let mut generation = node.link_signal.subscribe();
    let mut shutdown = node.shutdown_signal();
    if node.is_shutting_down() {
        return;
    }
    loop {
        let current = *generation.borrow_and_update();
        let link = {
            let st = node.lock();
            st.repl
                .master
                .as_ref()
                .filter(|_| st.repl.fault != LinkFault::Partitioned)
                .map(|m| (m.host.clone(), m.port))
        };
        let task = link.map(|(host, port)| tokio::spawn(run(node.clone(), host, port)));
        let mut task = task;
        tokio::select! {
            changed = async {
                // A signal with the same generation is for the running link (pause, resume).
                loop {
                    if generation.changed().await.is_err() {
                        return Err(());
                    }
                    if *generation.borrow_and_update() != current {
                        return Ok(());
                    }
                }
            } => {
                if let Some(task) = task.take() {
                    task.abort();
                    let _ = task.await;
                }
                if changed.is_err() {
                    return;
                }
            }
            _ = async { shutdown.wait_for(|&down| down).await.is_ok() } => {
                if let Some(task) = task {
                    task.abort();
                }
                return;
            }
        }
    }
}

/// Connects to the master again and again (as Redis's replication cron does, about once a
/// second) until aborted.
async fn run(node: Arc<Node>, host: String, port: u16) {
    let cap = node.lock().config.timers.repl_cron;
    let mut delay = Duration::from_millis(20).min(cap);
    loop {
        let (result, streamed) = {
            let mut link = Link::new(node.clone());
            let result = link.session(&host, port).await;
            (result, link.client_id.is_some())
        };
        if let Err(e) = &result {
            node.lock().log(Level::Warning, e);
        }
        if streamed {
            // The link worked until it dropped: reconnect soon, not after earlier back-off.
            delay = Duration::from_millis(20);
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(cap);
    }
}

/// One connection to the master. Dropping it removes the master client from the node.
struct Link {
    node: Arc<Node>,
    client_id: Option<ClientId>,
}

impl Drop for Link {
    /// Runs however the link ends (error, CLIENT KILL, REPLICAOF elsewhere, task aborted).
    fn drop(&mut self) {
        let mut st = self.node.lock();
        if let Some(id) = self.client_id.take() {
            st.clients.remove(&id);
            st.log(Level::Notice, "Connection with master lost.");
        }
        if let Some(m) = st.repl.master.as_mut() {
            if m.state == LinkState::Connected {
                m.down_since = Some(Instant::now());
            }
            m.state = LinkState::Connect;
            m.client = None;
        }
    }
}

/// Reads lines and payloads from the master, with `repl-timeout` on every read.
struct Reader {
    rd: Gated<OwnedReadHalf>,
    buf: BytesMut,
    timeout: Duration,
}

impl Reader {
    async fn fill(&mut self) -> Result<(), LinkError> {
        match tokio::time::timeout(self.timeout, self.rd.read_buf(&mut self.buf)).await {
            Ok(Ok(0)) => Err("MASTER closed the connection".into()),
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(format!("Error reading from MASTER: {e}")),
            Err(_) => Err("Timeout connecting to the MASTER...".into()),
        }
    }

    /// One line without its `\r\n`. Empty lines are the newlines a master sends to keep the
    /// link alive while it prepares a snapshot; callers skip them.
    async fn line(&mut self) -> Result<String, LinkError> {
        loop {
            if let Some(nl) = self.buf.iter().position(|&b| b == b'\n') {
                let line = self.buf.split_to(nl + 1);
                let text = line.strip_suffix(b"\n").unwrap_or(&line);
                let text = text.strip_suffix(b"\r").unwrap_or(text);
                return Ok(String::from_utf8_lossy(text).into_owned());
            }
            if self.buf.len() > 64 * 1024 {
                return Err("Protocol error: line too long from MASTER".into());
            }
            self.fill().await?;
        }
    }

    /// The next non-empty line.
    async fn reply(&mut self) -> Result<String, LinkError> {
        loop {
            let line = self.line().await?;
            if !line.is_empty() {
                return Ok(line);
            }
        }
    }
}

async fn send(wr: &mut Gated<OwnedWriteHalf>, argv: &[&[u8]]) -> Result<(), LinkError> {
    let mut buf = BytesMut::new();
    encode_command(&mut buf, argv);
    wr.write_all(&buf)
        .await
        .map_err(|e| format!("Error writing to MASTER: {e}"))
}

/// How the master answered PSYNC.
enum Psync {
    Full { replid: String, offset: u64 },
    Continue { replid: Option<String> },
}

impl Link {
    fn new(node: Arc<Node>) -> Self {
        Link {
            node,
            client_id: None,
        }
    }

    fn set_state(&self, state: LinkState) {
        if let Some(m) = self.node.lock().repl.master.as_mut() {
            m.state = state;
        }
    }

    async fn session(&mut self, host: &str, port: u16) -> Result<(), LinkError> {
        let (timeout, auth, announce_port, announce_ip, psync, handing_over) = {
            let mut st = self.node.lock();
            st.log(
                Level::Notice,
                &format!("Connecting to MASTER {host}:{port}"),
            );
            if let Some(m) = st.repl.master.as_mut() {
                m.state = LinkState::Connecting;
            }
            let c = &st.config;
            let auth = c
                .masterauth
                .clone()
                .map(|pass| (c.masteruser.clone(), pass));
            let announce_port = match c.extra_or("replica-announce-port", "0").parse::<u16>() {
                Ok(p) if p != 0 => p,
                _ => c.port,
            };
            let announce_ip = Some(c.extra_or("replica-announce-ip", ""))
                .filter(|ip| !ip.is_empty())
                .map(|ip| ip.to_string());
            // Offer the history we hold: our stream since the last sync, or a demoted
            // master's own.
            let psync = (st.repl.backlog.is_some() || st.repl.cached)
                .then(|| (st.repl.replid.clone(), (st.repl.offset() + 1).to_string()));
            (
                Duration::from_secs(st.config.repl_timeout.max(1) as u64),
                auth,
                announce_port,
                announce_ip,
                psync,
                super::failover::handing_over(&st),
            )
        };
        let faults = self.node.faults.clone();
        let stream = tokio::time::timeout(timeout, async {
            let addr = tokio::net::lookup_host((host, port))
                .await?
                .next()
                .ok_or_else(|| std::io::Error::other("no address"))?;
            faults.connect(addr).await
        })
        .await
        .map_err(|_| "Timeout connecting to the MASTER...".to_string())?
        .map_err(|e| format!("Error condition on socket for SYNC: {e}"))?;
        let (peer, local) = (
            stream.get_ref().peer_addr().map_err(|e| e.to_string())?,
            stream.get_ref().local_addr().map_err(|e| e.to_string())?,
        );
        self.node
            .lock()
            .log(Level::Notice, "MASTER <-> REPLICA sync started");
        self.set_state(LinkState::Handshake);
        let (rd, mut wr) = stream.into_split();
        let mut rd = Reader {
            rd,
            buf: BytesMut::with_capacity(64 * 1024),
            timeout,
        };

        send(&mut wr, &[b"PING"]).await?;
        let pong = rd.reply().await?;
        let accepted = pong.starts_with('+')
            || pong.starts_with("-NOAUTH")
            || pong.starts_with("-NOPERM")
            || pong.starts_with("-ERR operation not permitted");
        if !accepted {
            return Err(format!("Error reply to PING from master: '{pong}'"));
        }
        self.node.lock().log(
            Level::Notice,
            "Master replied to PING, replication can continue...",
        );
        if let Some((user, pass)) = auth {
            match &user {
                Some(u) => send(&mut wr, &[b"AUTH", u.as_bytes(), &pass]).await?,
                None => send(&mut wr, &[b"AUTH", &pass]).await?,
            }
            let reply = rd.reply().await?;
            if reply.starts_with('-') {
                return Err(format!("Unable to AUTH to MASTER: {reply}"));
            }
        }
        let port_text = announce_port.to_string();
        send(
            &mut wr,
            &[b"REPLCONF", b"listening-port", port_text.as_bytes()],
        )
        .await?;
        let reply = rd.reply().await?;
        if reply.starts_with('-') {
            self.log_notice(&format!(
                "(Non critical) Master does not understand REPLCONF listening-port: {reply}"
            ));
        }
        if let Some(ip) = &announce_ip {
            send(&mut wr, &[b"REPLCONF", b"ip-address", ip.as_bytes()]).await?;
            let reply = rd.reply().await?;
            if reply.starts_with('-') {
                self.log_notice(&format!(
                    "(Non critical) Master does not understand REPLCONF ip-address: {reply}"
                ));
            }
        }
        send(&mut wr, &[b"REPLCONF", b"capa", b"eof", b"capa", b"psync2"]).await?;
        let reply = rd.reply().await?;
        if reply.starts_with('-') {
            self.log_notice(&format!(
                "(Non critical) Master does not understand REPLCONF capa: {reply}"
            ));
        }

        match &psync {
            // A FAILOVER hands over: the target takes the master role on this PSYNC.
            Some((id, offset)) if handing_over => {
                self.log_notice(&format!(
                    "Trying a partial resynchronization (request {id}:{offset})."
                ));
                send(
                    &mut wr,
                    &[b"PSYNC", id.as_bytes(), offset.as_bytes(), b"FAILOVER"],
                )
                .await?;
            }
            Some((id, offset)) => {
                self.log_notice(&format!(
                    "Trying a partial resynchronization (request {id}:{offset})."
                ));
                send(&mut wr, &[b"PSYNC", id.as_bytes(), offset.as_bytes()]).await?;
            }
            None => {
                self.log_notice("Partial resynchronization not possible (no cached master)");
                send(&mut wr, &[b"PSYNC", b"?", b"-1"]).await?;
            }
        }
        let reply = rd.reply().await?;
        let outcome = parse_psync_reply(&reply);
        if handing_over {
            let mut st = self.node.lock();
            match &outcome {
                Ok(_) => super::failover::finished(&mut st),
                Err(_) => super::failover::abort(&mut st, "Failover target rejected psync request"),
            }
        }
        let outcome = outcome?;
        let stream_db = match outcome {
            Psync::Full { replid, offset } => {
                self.log_notice(&format!("Full resync from master: {replid}:{offset}"));
                self.full_sync(&mut rd, replid, offset).await?
            }
            Psync::Continue { replid } => self.partial_sync(replid),
        };
        self.stream(rd, wr, peer, local, stream_db).await
    }

    fn log_notice(&self, msg: &str) {
        self.node.lock().log(Level::Notice, msg);
    }

    /// Receives and loads the snapshot, then installs it in one step under the lock. Returns
    /// the database the stream continues in.
    async fn full_sync(
        &mut self,
        rd: &mut Reader,
        replid: String,
        offset: u64,
    ) -> Result<usize, LinkError> {
        self.set_state(LinkState::Transfer);
        let header = rd.reply().await?;
        if header.starts_with('-') {
            return Err(format!(
                "MASTER aborted replication with an error: {header}"
            ));
        }
        let Some(spec) = header.strip_prefix('$') else {
            return Err(format!(
                "Bad protocol from MASTER, the first byte is not '$' (we received '{header}'), are you sure the host and port are right?"
            ));
        };
        let data = if let Some(mark) = spec.strip_prefix("EOF:") {
            let mark = mark.as_bytes().to_vec();
            if mark.len() != 40 {
                return Err("Bad EOF mark from MASTER".into());
            }
            self.transfer_started(-1);
            self.read_until_mark(rd, &mark).await?
        } else {
            let len: usize = spec
                .parse()
                .map_err(|_| format!("Bad snapshot length from MASTER: '{spec}'"))?;
            self.transfer_started(len as i64);
            self.read_exact(rd, len).await?
        };
        self.log_notice(&format!(
            "MASTER <-> REPLICA sync: receiving {} bytes from master to disk",
            data.len()
        ));
        let options = {
            let st = self.node.lock();
            LoadOptions {
                drop_expired_before: None,
                ..LoadOptions::from_config(&st.config, 0)
            }
        };
        // Parsing a large snapshot is CPU work: keep it off the reactor.
        let loaded = tokio::task::spawn_blocking(move || rdb::load(&data, &options))
            .await
            .map_err(|e| format!("Snapshot loading task failed: {e}"))?;
        let mut snapshot = loaded.map_err(|e| {
            format!("Failed trying to load the MASTER synchronization DB from socket: {e}")
        })?;
        let stream_db = snapshot
            .aux("repl-stream-db")
            .and_then(|v| std::str::from_utf8(v).ok()?.parse::<usize>().ok())
            .unwrap_or(0);
        let mut st = self.node.lock();
        st.log(Level::Notice, "MASTER <-> REPLICA sync: Flushing old data");
        st.log(
            Level::Notice,
            "MASTER <-> REPLICA sync: Loading DB in memory",
        );
        for (db, fresh) in st.dbs.iter_mut().zip(snapshot.dbs.iter_mut()) {
            db.touch_existing_watched();
            db.swap_data(fresh);
            db.touch_existing_watched();
            db.expire_mode = ExpireMode::Keep;
        }
        crate::rdb::persist::install_functions(&mut st, &snapshot.functions);
        crate::rdb::persist::note_loaded(&mut st, &snapshot);
        // The old data was flushed (Redis's emptyData, or swapMainDbWithTempDb when loading
        // diskless into a temporary db): every tracking client is told to drop its cache.
        crate::tracking::invalidate_all(&mut st, 0);
        cmd::after_command(&mut st);
        let size = st.config.repl_backlog_size;
        st.repl.reset_history(replid, offset, size);
        // Our replicas followed a history that no longer exists here.
        st.disconnect_replicas();
        st.log(
            Level::Notice,
            "MASTER <-> REPLICA sync: Finished with success",
        );
        if st.aof.state != crate::aof::State::Off {
            // The AOF describes the old data: start it again from the new (Redis's
            // `restartAOFAfterSYNC`).
            crate::aof::stop_append_only(&mut st);
            if crate::aof::start_append_only(&mut st, false).is_err() {
                st.log(Level::Warning, "Failed enabling the AOF after successful master synchronization! Trying it again in one second.");
            }
        }
        Ok(stream_db)
    }

    fn transfer_started(&self, size: i64) {
        if let Some(m) = self.node.lock().repl.master.as_mut() {
            m.transfer_size = size;
            m.transfer_read = 0;
            m.transfer_started = Instant::now();
        }
    }

    fn transfer_progress(&self, read: usize) {
        if let Some(m) = self.node.lock().repl.master.as_mut() {
            m.transfer_read = read as u64;
            m.last_io = Instant::now();
        }
    }

    async fn read_exact(&self, rd: &mut Reader, len: usize) -> Result<Vec<u8>, LinkError> {
        let mut data = Vec::with_capacity(len.min(1 << 30));
        loop {
            let take = (len - data.len()).min(rd.buf.len());
            data.extend_from_slice(&rd.buf.split_to(take));
            if data.len() == len {
                return Ok(data);
            }
            rd.fill().await?;
            self.transfer_progress(data.len() + rd.buf.len().min(len - data.len()));
        }
    }

    async fn read_until_mark(&self, rd: &mut Reader, mark: &[u8]) -> Result<Vec<u8>, LinkError> {
        let mut data = Vec::new();
        loop {
            data.extend_from_slice(&rd.buf.split());
            if data.len() >= mark.len() && data.ends_with(mark) {
                data.truncate(data.len() - mark.len());
                return Ok(data);
            }
            rd.fill().await?;
            self.transfer_progress(data.len() + rd.buf.len());
        }
    }

    /// `+CONTINUE`: keep the data, adopt the master's id if it changed. Returns the database
    /// the stream continues in.
    fn partial_sync(&mut self, replid: Option<String>) -> usize {
        let mut st = self.node.lock();
        st.log(
            Level::Notice,
            "Successful partial resynchronization with master.",
        );
        if let Some(new) = replid {
            if new != st.repl.replid {
                st.repl.adopt_replid(new.clone());
                st.log(
                    Level::Notice,
                    &format!("Master replication ID changed to {new}"),
                );
                // Our replicas must learn the new id: they reconnect and continue.
                st.disconnect_replicas();
            }
        }
        let size = st.config.repl_backlog_size;
        if st.repl.backlog.is_none() {
            st.repl.ensure_backlog(size);
        }
        st.log(
            Level::Notice,
            "MASTER <-> REPLICA sync: Master accepted a Partial Resynchronization.",
        );
        st.repl.master.as_ref().map_or(0, |m| m.db)
    }

    /// Applies the master's stream until the link fails.
    async fn stream(
        &mut self,
        mut rd: Reader,
        mut wr: Gated<OwnedWriteHalf>,
        peer: std::net::SocketAddr,
        local: std::net::SocketAddr,
        stream_db: usize,
    ) -> Result<(), LinkError> {
        let node = self.node.clone();
        let id = node.next_client_id();
        let kill = Arc::new(Notify::new());
        let (oob, _oob_rx) = crate::client::oob_channel();
        let mut client = Box::new(Client::new(id, peer, local, oob));
        client.master_link = true;
        client.authenticated = true;
        client.db = stream_db;
        {
            let mut st = node.lock();
            let mut entry = ClientEntry::new(&client, kill.clone(), ClientKind::Master);
            // What CLIENT LIST shows for a master link: it runs with no ACL user.
            entry.user = bytes::Bytes::from_static(b"(superuser)");
            st.clients.insert(id, entry);
            self.client_id = Some(id);
            let offset = st.repl.offset();
            if let Some(m) = st.repl.master.as_mut() {
                m.state = LinkState::Connected;
                m.down_since = None;
                m.client = Some(id);
                m.last_io = Instant::now();
                m.db = stream_db;
                m.read_offset = offset;
            }
            st.repl.cached = false;
        }
        // Redis exempts its master from proto-max-bulk-len; a bound still keeps a broken
        // master from making us reserve absurd amounts.
        let max_bulk_len = node.lock().config.proto_max_bulk_len.max(512 << 20);
        let mut decoder = CommandDecoder::new(Limits {
            max_bulk_len,
            max_inline_len: 64 * 1024,
            ..Limits::default()
        });
        let mut argv: Vec<Bytes> = Vec::new();
        let mut out = ReplyWriter::new(false);
        let mut acks = BytesMut::new();
        let mut ticker = tokio::time::interval(node.lock().config.timers.repl_cron);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut faults = node.link_signal.subscribe();
        loop {
            node.faults.thawed().await;
            let paused = node.lock().repl.fault == LinkFault::Paused;
            if paused {
                tokio::select! {
                    _ = faults.changed() => continue,
                    _ = kill.notified() => return Err("Master link killed".into()),
                }
            }
            // Apply what is buffered, under one lock, then let this node's clients run before
            // reading more (a busy master always has more to read).
            if !rd.buf.is_empty() {
                {
                    let mut st = node.lock();
                    apply(
                        &mut st,
                        &mut client,
                        &mut decoder,
                        &mut rd.buf,
                        &mut argv,
                        &mut out,
                        &mut acks,
                    )?;
                }
                tokio::task::yield_now().await;
            }
            if !acks.is_empty() {
                wr.write_all(&acks)
                    .await
                    .map_err(|e| format!("Error writing to MASTER: {e}"))?;
                acks.clear();
            }
            tokio::select! {
                read = rd.fill() => read?,
                _ = ticker.tick() => {
                    let (offset, silent) = {
                        let st = node.lock();
                        let silent = st.repl.master.as_ref().is_some_and(|m| {
                            m.last_io.elapsed().as_secs() > st.config.repl_timeout.max(1) as u64
                        });
                        (st.repl.offset().to_string(), silent)
                    };
                    if silent {
                        return Err("MASTER timeout: no data nor PING received...".into());
                    }
                    send(&mut wr, &[b"REPLCONF", b"ACK", offset.as_bytes()]).await?;
                }
                _ = kill.notified() => return Err("Master link killed".into()),
                _ = faults.changed() => {}
            }
        }
    }
}

/// Runs every whole command in `buf` as the master client, relaying each one's exact bytes
/// into this node's own stream so replicas of this replica see the same offsets.
#[allow(clippy::too_many_arguments)]
fn apply(
    st: &mut NodeState,
    client: &mut Client,
    decoder: &mut CommandDecoder,
    buf: &mut BytesMut,
    argv: &mut Vec<Bytes>,
    out: &mut ReplyWriter,
    acks: &mut BytesMut,
) -> Result<(), LinkError> {
    // The master decides when keys expire: its DELs arrive in the stream.
    st.set_expire_mode(ExpireMode::Ignore);
    // One context for everything buffered, as a client's batch gets one.
    let mut ctx = Ctx::new(st, client, out);
    let result = loop {
        let raw = match decoder.decode_raw(buf, argv) {
            Ok(Some(raw)) => raw,
            Ok(None) => break Ok(()),
            Err(e) => break Err(format!("Protocol error from MASTER: {}", e.message())),
        };
        let getack = argv.len() >= 2
            && argv[0].eq_ignore_ascii_case(b"replconf")
            && argv[1].eq_ignore_ascii_case(b"getack");
        if getack {
            // Acknowledge what was processed before this request, as Redis does.
            let offset = ctx.node.repl.offset().to_string();
            encode_command(acks, &[&b"REPLCONF"[..], b"ACK", offset.as_bytes()]);
        } else if !argv.is_empty() {
            cmd::process(&mut ctx, argv);
            if ctx.out.buffer().first() == Some(&b'-') {
                // Replies to the master are never sent; an error means the datasets diverge.
                let error = String::from_utf8_lossy(&ctx.out.buffer()[1..]).into_owned();
                ctx.node.log(
                    Level::Warning,
                    &format!(
                        "== CRITICAL == This replica is sending an error to its master: '{}' after processing the command '{}'",
                        error.trim_end(),
                        String::from_utf8_lossy(&argv[0]).to_ascii_lowercase()
                    ),
                );
            }
        }
        ctx.out.buffer().clear();
        ctx.node.repl.feed_raw(&raw);
    };
    drop(ctx);
    st.set_expire_mode(ExpireMode::Keep);
    let offset = st.repl.offset();
    if let Some(m) = st.repl.master.as_mut() {
        m.last_io = Instant::now();
        m.read_offset = offset;
        m.db = client.db;
    }
    if let Some(e) = st.clients.get_mut(&client.id) {
        e.db = client.db;
        e.last_cmd = client.last_cmd;
        e.last_interaction = Instant::now();
    }
    result
}

fn parse_psync_reply(reply: &str) -> Result<Psync, LinkError> {
    if let Some(rest) = reply.strip_prefix("+FULLRESYNC") {
        let mut parts = rest.split_whitespace();
        let (Some(replid), Some(offset)) = (parts.next(), parts.next()) else {
            return Err(format!("Bad FULLRESYNC reply from MASTER: '{reply}'"));
        };
        let offset = offset
            .parse::<u64>()
            .map_err(|_| format!("Bad FULLRESYNC offset from MASTER: '{reply}'"))?;
        if replid.len() != 40 {
            return Err(format!("Bad replication id from MASTER: '{reply}'"));
        }
        return Ok(Psync::Full {
            replid: replid.to_string(),
            offset,
        });
    }
    if let Some(rest) = reply.strip_prefix("+CONTINUE") {
        let id = rest.trim();
        return Ok(Psync::Continue {
            replid: (id.len() == 40).then(|| id.to_string()),
        });
    }
    if reply.starts_with("-NOMASTERLINK") || reply.starts_with("-LOADING") {
        return Err(format!(
            "Master is currently unable to PSYNC but should be in the future: {reply}"
        ));
    }
    Err(format!("Unexpected reply to PSYNC from master: {reply}"))
}
