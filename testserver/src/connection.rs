//! One task per client connection: read, decode a batch, run it under one lock, write once.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use rediscover::resp::{CommandDecoder, Limits, ReplyWriter};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{oneshot, Notify};

use crate::client::{oob_channel, Client, ClientEntry, ClientKind, OobReceiver};
use crate::cmd::{self, write_timeout_reply, BlockRequest, Ctx, Deferred, Outcome};
use crate::fault::Gated;
use crate::keyspace::ClientId;
use crate::node::LiveLimits;
use crate::node::{Node, NodeState, Waiter};

/// Most commands run per lock acquisition; bounds latency for other clients.
const MAX_BATCH: usize = 512;

/// Largest idle read or write buffer a connection keeps.
const BUFFER_KEEP: usize = 256 * 1024;

/// Commands after which a connection lets other tasks run before reading again.
const YIELD_AFTER: usize = 8;

/// A future that completes when the connection must close (killed, or node shutdown).
type Closed = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

/// What stopped a batch early.
enum Stop {
    /// The batch ran to its end.
    Done,
    /// A CLIENT PAUSE is in force until this Unix ms.
    Paused(i64),
    /// A command handed work to the connection.
    Then(Outcome),
}

/// A connection the accept loop admitted: already registered in the node, so that
/// `maxclients` counts it from the moment it was accepted.
pub(crate) struct Admitted {
    client: Box<Client>,
    oob_rx: OobReceiver,
    kill: Arc<Notify>,
    live: Arc<LiveLimits>,
}

/// What admission needs to know of an accepted socket, taken without the lock.
pub(crate) struct Peer {
    id: ClientId,
    addr: std::net::SocketAddr,
    laddr: std::net::SocketAddr,
    #[cfg(unix)]
    fd: Option<std::os::fd::RawFd>,
}

impl Peer {
    /// The socket's addresses (`None`: it is already gone) and a fresh client id.
    pub(crate) fn of(node: &Node, socket: &TcpStream) -> Option<Peer> {
        let (Ok(addr), Ok(laddr)) = (socket.peer_addr(), socket.local_addr()) else {
            return None;
        };
        Some(Peer {
            id: node.next_client_id(),
            addr,
            laddr,
            #[cfg(unix)]
            fd: {
                use std::os::fd::AsRawFd;
                Some(socket.as_raw_fd())
            },
        })
    }
}

/// Registers an accepted connection, or refuses it (`None`, counted in `rejected_connections`)
/// when the node already has `maxclients` clients. The check and the registration happen under
/// one lock, so a burst of connections cannot overshoot the limit. Takes the state at hand (the accept loop gets it from `Node::with_state`, so a
/// connection made while a script is busy is admitted from inside the script, as Redis
/// accepts clients while a script runs past `busy-reply-threshold`).
pub(crate) fn admit_peer(st: &mut NodeState, peer: Peer) -> Option<Admitted> {
    st.stats.connections_received += 1;
    if st.clients.len() >= st.config.maxclients {
        st.stats.rejected_connections += 1;
        return None;
    }
    let Peer {
        id, addr, laddr, ..
    } = peer;
    let (oob_tx, oob_rx) = oob_channel();
    let kill = Arc::new(Notify::new());
    let mut client = Box::new(Client::new(id, addr, laddr, oob_tx));
    client.authenticated = !st.acl.auth_required();
    #[allow(unused_mut)]
    let mut entry = ClientEntry::new(&client, kill.clone(), ClientKind::Normal);
    #[cfg(unix)]
    {
        entry.peer_fd = peer.fd;
    }
    st.clients.insert(id, entry);
    Some(Admitted {
        client,
        oob_rx,
        kill,
        live: st.live.clone(),
    })
}

/// The limits a connection decodes with, read from the node's live limits.
fn decode_limits(live: &LiveLimits) -> Limits {
    Limits {
        max_bulk_len: live.max_bulk_len.load(Ordering::Relaxed) as usize,
        ..Limits::default()
    }
}

/// Serves one admitted connection until it closes.
pub(crate) async fn serve(node: Arc<Node>, mut socket: TcpStream, admitted: Admitted) {
    let _ = socket.set_nodelay(true);
    let Admitted {
        mut client,
        mut oob_rx,
        kill,
        live,
    } = admitted;
    let id = client.id;
    let mut limits = decode_limits(&live);
    let mut decoder = CommandDecoder::new(limits);
    decoder.unauthenticated = !client.authenticated;
    // Bytes of out-of-band messages in `out`, counted as written once they are.
    let mut oob_in_out = 0u64;
    // Completes when the client is killed or the node shuts down. Built once per connection:
    // a fresh `notified()` per loop turn would re-register with the Notify on every request.
    let mut closed: Closed = {
        let kill = kill.clone();
        let mut shutdown = node.shutdown_signal();
        Box::pin(async move {
            tokio::select! {
                _ = kill.notified() => {}
                _ = shutdown.wait_for(|&down| down) => {}
            }
        })
    };
    let (rd, wr) = socket.split();
    // A frozen node (a test's SIGSTOP) neither reads nor writes.
    let (mut rd, mut wr) = (
        Gated::new(rd, node.faults.clone(), None),
        Gated::new(wr, node.faults.clone(), None),
    );
    let mut rbuf = BytesMut::with_capacity(16 * 1024);
    let mut out = ReplyWriter::new(false);
    // Decoded commands waiting to run, and spare argument vectors to decode into.
    let mut batch: VecDeque<Vec<Bytes>> = VecDeque::new();
    let mut spare: Vec<Vec<Bytes>> = Vec::new();
    let mut protocol_error = None;
    let mut net_in = 0u64;

    'conn: loop {
        // Commands run since this task last waited for its socket (see the yield below).
        let mut ran = 0;
        // Run everything that is buffered.
        loop {
            // A CONFIG SET on any connection applies here from the moment it returned.
            let now_limits = decode_limits(&live);
            if now_limits != limits {
                limits = now_limits;
                decoder.set_limits(limits);
            }
            // Before authentication, commands run one at a time: the ones after an AUTH are
            // decoded with the limits of an authenticated client.
            while protocol_error.is_none()
                && batch.len() < MAX_BATCH
                && (client.authenticated || batch.is_empty())
            {
                let mut argv = spare.pop().unwrap_or_default();
                match decoder.decode(&mut rbuf, &mut argv) {
                    Ok(true) => batch.push_back(argv),
                    Ok(false) => {
                        spare.push(argv);
                        break;
                    }
                    Err(e) => {
                        spare.push(argv);
                        protocol_error = Some(e);
                    }
                }
            }
            if batch.is_empty() {
                break;
            }
            ran += batch.len();
            node.faults.thawed().await;
            // Messages already moved into `out` are counted once.
            let oob_pending = oob_rx.pending().saturating_sub(oob_in_out);
            let net = std::mem::take(&mut net_in);
            // What the batch works on moves into the turn and back: while a script is busy
            // the turn may run inside it, on its thread (Node::with_state, script::busy).
            let turn = (client, out, batch, spare);
            let ((c, o, b, s), stop, over_limit) = node
                .with_state(move |st| {
                    let (mut client, mut out, mut batch, mut spare) = turn;
                    let (stop, over_limit) = locked_turn(
                        st,
                        &mut client,
                        &mut out,
                        &mut batch,
                        &mut spare,
                        net,
                        oob_pending,
                    );
                    ((client, out, batch, spare), stop, over_limit)
                })
                .await;
            (client, out, batch, spare) = (c, o, b, s);
            if over_limit {
                // Closed as soon as possible: the output past the limit is never sent.
                break 'conn;
            }
            decoder.unauthenticated = !client.authenticated;
            let outcome = match stop {
                Stop::Done => continue,
                Stop::Paused(until) => {
                    if flush(&mut wr, &mut out).await.is_err() {
                        break 'conn;
                    }
                    // Short naps, so CLIENT UNPAUSE (which clears the pause) takes effect soon.
                    let wait = (until - crate::node::unix_ms()).clamp(1, 10) as u64;
                    tokio::select! {
                        _ = tokio::time::sleep(std::time::Duration::from_millis(wait)) => {}
                        _ = &mut closed => break 'conn,
                    }
                    continue;
                }
                Stop::Then(outcome) => outcome,
            };
            match outcome {
                Outcome::Close => {
                    let _ = wr.write_all(out.buffer()).await;
                    break 'conn;
                }
                Outcome::Hold(until) => {
                    let wait = (until - crate::node::unix_ms()).max(0) as u64;
                    tokio::select! {
                        _ = tokio::time::sleep(std::time::Duration::from_millis(wait)) => {}
                        _ = &mut closed => break 'conn,
                    }
                }
                Outcome::Sync(start) => {
                    if flush(&mut wr, &mut out).await.is_err() {
                        break 'conn;
                    }
                    tokio::select! {
                        _ = crate::repl::master::feed(&node, id, start, &mut rd, &mut wr, &mut rbuf) => {}
                        _ = &mut closed => {}
                    }
                    break 'conn;
                }
                Outcome::Wait(req) => {
                    if flush(&mut wr, &mut out).await.is_err() {
                        break 'conn;
                    }
                    match wait_for_acks(&node, req, &mut closed, &mut rd, &mut rbuf).await {
                        Some(n) => out.int(n as i64),
                        None => break 'conn,
                    }
                }
                Outcome::Defer(rest) => {
                    if flush(&mut wr, &mut out).await.is_err() {
                        break 'conn;
                    }
                    match deferred(rest, &mut closed, &mut rd, &mut rbuf).await {
                        Some(reply) => out.raw(&reply),
                        None => break 'conn,
                    }
                }
                Outcome::Block(req) => {
                    if flush(&mut wr, &mut out).await.is_err() {
                        break 'conn;
                    }
                    let mut req = req;
                    let sent = batch.pop_front().unwrap_or_default();
                    let argv = req.rerun.take().unwrap_or(sent);
                    match block(
                        &node,
                        client,
                        argv,
                        req,
                        &mut closed,
                        &mut rd,
                        &mut rbuf,
                        &mut out,
                    )
                    .await
                    {
                        Some(c) => client = c,
                        None => return,
                    }
                }
            }
        }
        if let Some(e) = protocol_error.take() {
            out.error(&format!("ERR Protocol error: {}", e.message()));
            let _ = wr.write_all(out.buffer()).await;
            break;
        }
        // A killed client (CLIENT KILL, a subscriber past its queue limit) must go even while
        // its peer is not reading.
        let flushed = tokio::select! {
            r = flush(&mut wr, &mut out) => r.is_ok(),
            _ = &mut closed => false,
        };
        if !flushed {
            break;
        }
        oob_rx.written(std::mem::take(&mut oob_in_out));
        // Once consumed, the read buffer may still share the allocation a large command
        // arrived in (commands copy what they keep), or be large itself: start a fresh one,
        // as Redis shrinks idle query buffers, so one 100 MB SET does not cost the connection
        // another 100 MB until its next command.
        if rbuf.is_empty() && (rbuf.capacity() > BUFFER_KEEP || rbuf.capacity() < 1024) {
            rbuf = BytesMut::with_capacity(16 * 1024);
        }
        if out.buffer().capacity() > BUFFER_KEEP {
            *out.buffer() = BytesMut::with_capacity(16 * 1024);
        }
        // A pipelining client finds its socket readable every time and would keep its worker
        // thread until tokio's budget runs out (hundreds of batches): everyone else waits
        // milliseconds. Give way after each large batch, as Redis serves one read per client
        // per event loop turn. Request/response clients (small batches) never yield here.
        if ran >= YIELD_AFTER {
            tokio::task::yield_now().await;
        }
        tokio::select! {
            biased;
            _ = &mut closed => break,
            Some(msg) = oob_rx.recv() => {
                oob_in_out += msg.len() as u64;
                out.raw(&msg);
                while let Some(msg) = oob_rx.try_recv() {
                    oob_in_out += msg.len() as u64;
                    out.raw(&msg);
                }
            }
            read = rd.read_buf(&mut rbuf) => match read {
                Ok(0) | Err(_) => break,
                // Counted without the lock; folded in at the next batch.
                Ok(n) => {
                    net_in += n as u64;
                    if rbuf.len() as u64 > live.query_buffer.load(Ordering::Relaxed) {
                        close_for_query_limit(&node, id, &rbuf);
                        break;
                    }
                }
            },
        }
    }
    let mut st = node.lock();
    disconnect(&mut st, &mut client);
}

async fn flush<W: AsyncWriteExt + Unpin>(wr: &mut W, out: &mut ReplyWriter) -> std::io::Result<()> {
    if !out.is_empty() {
        wr.write_all(out.buffer()).await?;
        out.buffer().clear();
    }
    Ok(())
}

/// One turn under the node state: runs the batch and does what follows every batch. Returns
/// what stopped the batch and whether the client went over its output limit.
fn locked_turn(
    st: &mut NodeState,
    client: &mut Client,
    out: &mut ReplyWriter,
    batch: &mut VecDeque<Vec<Bytes>>,
    spare: &mut Vec<Vec<Bytes>>,
    net_in: u64,
    oob_pending: u64,
) -> (Stop, bool) {
    st.stats.net_input_bytes += net_in;
    let stop = run_batch(st, client, out, batch, spare);
    sync_entry(st, client);
    if st.cluster.is_some() {
        crate::cluster::with(st, crate::cluster::cron::before_sleep);
    }
    let pending = out.len() as u64 + oob_pending;
    let over_limit = check_output_limit(st, client.id, pending);
    if st.shutdown_requested && !st.shutdown_draining {
        st.shutdown_draining = true;
        if let Some(node) = st.self_ref.upgrade() {
            tokio::spawn(async move { node.shutdown_after_replicas().await });
        }
    }
    (stop, over_limit)
}

fn run_batch(
    st: &mut NodeState,
    client: &mut Client,
    out: &mut ReplyWriter,
    batch: &mut VecDeque<Vec<Bytes>>,
    spare: &mut Vec<Vec<Bytes>>,
) -> Stop {
    if client.shard_channels > 0 {
        // The server may have unsubscribed it (a cluster slot moved away).
        client.shard_channels = st.pubsub.shard_count(client.id);
    }
    let mut ctx = Ctx::new(st, client, out);
    while let Some(argv) = batch.front() {
        // A write to a key that MIGRATE is moving waits for it, as every client waits while
        // Redis runs MIGRATE.
        if crate::cluster::migrate::must_wait(ctx.node, ctx.client.db, argv) {
            return Stop::Paused(ctx.now + 1);
        }
        // A FAILOVER pauses writes until it hands over or gives up.
        if ctx.node.repl.failover.is_some()
            && ctx
                .node
                .commands
                .get(&argv[0])
                .is_some_and(|c| c.info.is_write())
        {
            return Stop::Paused(ctx.now + 10);
        }
        if let Some((until, writes_only)) = ctx.node.pause {
            if until <= ctx.now {
                ctx.node.pause = None;
            } else if !writes_only
                || ctx
                    .node
                    .commands
                    .get(&argv[0])
                    .is_some_and(|c| c.info.is_write())
            {
                return Stop::Paused(until);
            }
        }
        cmd::process(&mut ctx, argv);
        match ctx.outcome.take() {
            None => {}
            // The blocking command stays at the front of the batch; the caller parks it.
            Some(block @ Outcome::Block(_)) => return Stop::Then(block),
            // The connection turns into a replica feed: whatever followed PSYNC is not run.
            Some(sync @ Outcome::Sync(_)) => {
                batch.clear();
                return Stop::Then(sync);
            }
            Some(other) => {
                if let Some(mut argv) = batch.pop_front() {
                    argv.clear();
                    spare.push(argv);
                }
                return Stop::Then(other);
            }
        }
        if let Some(mut argv) = batch.pop_front() {
            argv.clear();
            spare.push(argv);
        }
    }
    Stop::Done
}

fn sync_entry(st: &mut NodeState, client: &Client) {
    if let Some(e) = st.clients.get_mut(&client.id) {
        e.db = client.db;
        e.resp = if client.resp3 { 3 } else { 2 };
        e.sub = client.channels.len();
        e.psub = client.patterns.len();
        e.multi = client.multi.as_ref().map_or(-1, |q| q.len() as i64);
        e.last_interaction = std::time::Instant::now();
        e.last_cmd = client.last_cmd;
        e.no_evict = client.no_evict;
        e.readonly = client.readonly;
        if e.name != client.name {
            e.name = client.name.clone();
        }
        if e.user != client.user {
            e.user = client.user.clone();
        }
        if e.kind == ClientKind::Normal && client.subscriptions() > 0 {
            e.kind = ClientKind::PubSub;
        } else if e.kind == ClientKind::PubSub && client.subscriptions() == 0 {
            e.kind = ClientKind::Normal;
        }
        if e.killed {
            e.kill.notify_one();
        }
    }
}

/// Parks the client until its blocking command is served, times out, or the connection ends.
/// Returns the client state back, or `None` if the connection is finished.
#[allow(clippy::too_many_arguments)]
async fn block<R: AsyncReadExt + Unpin>(
    node: &Node,
    client: Box<Client>,
    argv: Vec<Bytes>,
    req: BlockRequest,
    closed: &mut Closed,
    rd: &mut R,
    rbuf: &mut BytesMut,
    out: &mut ReplyWriter,
) -> Option<Box<Client>> {
    let id = client.id;
    let db = client.db;
    let (tx, mut rx) = oneshot::channel();
    {
        let mut st = node.lock();
        st.park(Waiter {
            client,
            argv,
            keys: req.keys,
            db,
            on_timeout: req.on_timeout,
            wake: tx,
        });
    }
    let deadline = req.deadline;
    let sleep = async {
        match deadline {
            Some(d) => tokio::time::sleep_until(d.into()).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(sleep);
    let mut gone = false;
    loop {
        tokio::select! {
            served = &mut rx => {
                if let Ok((client, reply)) = served {
                    out.raw(&reply);
                    return Some(client);
                }
                break;
            }
            _ = &mut sleep => break,
            _ = &mut *closed => { gone = true; break }
            read = rd.read_buf(rbuf) => match read {
                // Commands pipelined behind the blocked one wait in the buffer.
                Ok(n) if n > 0 => {}
                _ => { gone = true; break }
            },
        }
    }
    // Timed out or the connection ended: take the client back, unless it was served meanwhile.
    let mut st = node.lock();
    let mut client = match st.unpark(id) {
        Some(w) => {
            write_timeout_reply(out, w.on_timeout);
            w.client
        }
        None => match rx.try_recv() {
            Ok((client, reply)) => {
                out.raw(&reply);
                client
            }
            Err(_) => return None,
        },
    };
    if gone {
        out.buffer().clear();
        disconnect(&mut st, &mut client);
        return None;
    }
    Some(client)
}

/// Waits until enough replicas acknowledged the offset WAIT asked for, or its timeout.
/// Returns how many did, or `None` if the connection ended meanwhile.
async fn wait_for_acks<R: AsyncReadExt + Unpin>(
    node: &Node,
    req: cmd::WaitRequest,
    closed: &mut Closed,
    rd: &mut R,
    rbuf: &mut BytesMut,
) -> Option<usize> {
    let mut acks = node.ack_signal.subscribe();
    let sleep = async {
        match req.deadline {
            Some(d) => tokio::time::sleep_until(d.into()).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(sleep);
    loop {
        let acked = node.lock().repl.acked(req.offset);
        if acked >= req.replicas {
            return Some(acked);
        }
        tokio::select! {
            _ = acks.changed() => {}
            _ = &mut sleep => return Some(node.lock().repl.acked(req.offset)),
            _ = &mut *closed => return None,
            read = rd.read_buf(rbuf) => match read {
                // Commands pipelined behind WAIT wait in the buffer.
                Ok(n) if n > 0 => {}
                _ => return None,
            },
        }
    }
}

/// Runs the asynchronous rest of a command (see [`Outcome::Defer`]) and returns its reply, or
/// `None` if the connection ended meanwhile. The work runs as its own task, so it is finished
/// even when the client goes away (as Redis finishes a command whose client disconnected).
async fn deferred<R: AsyncReadExt + Unpin>(
    rest: Deferred,
    closed: &mut Closed,
    rd: &mut R,
    rbuf: &mut BytesMut,
) -> Option<Vec<u8>> {
    let mut task = tokio::spawn(rest);
    loop {
        tokio::select! {
            done = &mut task => return done.ok(),
            _ = &mut *closed => return None,
            read = rd.read_buf(rbuf) => match read {
                // Commands pipelined behind it wait in the buffer.
                Ok(n) if n > 0 => {}
                _ => return None,
            },
        }
    }
}

/// Closes a client whose pending output (replies not yet written, messages queued) passed its
/// class of `client-output-buffer-limit` (normal or pubsub; a replica's is its lag in the
/// backlog). Replies are written after every batch, so a normal client's output is one batch's
/// replies: a limit smaller than that is what closes it, as in Redis.
fn check_output_limit(st: &mut NodeState, id: ClientId, used: u64) -> bool {
    let Some(entry) = st.clients.get_mut(&id) else {
        return false;
    };
    let class = match entry.kind {
        ClientKind::Normal => st.config.obuf_limits.normal,
        ClientKind::PubSub => st.config.obuf_limits.pubsub,
        ClientKind::Replica | ClientKind::Master => return false,
    };
    if class.hard == 0 && class.soft == 0 {
        return false;
    }
    let over = class.exceeded(used, &mut entry.obuf_soft_since, std::time::Instant::now());
    if over {
        st.close_for_output_limit(id);
    }
    over
}

/// Closes a client whose unparsed input passed `client-query-buffer-limit`, with Redis's log
/// line.
fn close_for_query_limit(node: &Node, id: ClientId, rbuf: &[u8]) {
    let mut st = node.lock();
    st.stats.query_buffer_disconnections += 1;
    let info = st
        .clients
        .get(&id)
        .map(|e| cmd::client_info_line(&st, id, e))
        .unwrap_or_default();
    let head = crate::logging::repr(&rbuf[..rbuf.len().min(64)]);
    st.log(
        crate::logging::Level::Warning,
        &format!("Closing client that reached max query buffer length: {info} (qbuf initial bytes: {head})"),
    );
}

/// Removes every trace of a connection from the node.
fn disconnect(st: &mut NodeState, client: &mut Client) {
    crate::repl::master::detach(st, client.id);
    st.unpark(client.id);
    st.clients.remove(&client.id);
    let mut out = ReplyWriter::new(false);
    let mut ctx = Ctx::new(st, client, &mut out);
    cmd::forget_client(&mut ctx);
}
