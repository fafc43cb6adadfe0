//! Connections from a sentinel to the instances it monitors.
//!
//! Each connection is a task that owns its socket (dialled through the node's fault gate, so
//! a frozen or partitioned sentinel stalls like a stopped or cut-off process). The sentinel
//! hands it commands with the callback their reply goes to; the task writes them, matches
//! replies in order, and delivers each to its callback under the node lock (Redis does the
//! same with hiredis's asynchronous contexts). A connection the sentinel drops stops its
//! task; one that fails tells the sentinel, which reconnects at most once per ping period.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock, Weak};

use bytes::{Bytes, BytesMut};
use rediscover::resp::{decode, encode_command, Frame, Limits};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use super::{flush_output, now_ms, InstId, Kind, LinkId, Sentinel, HELLO_CHANNEL};
use crate::fault::Faults;
use crate::logging::Level;
use crate::node::Node;

/// Where the reply to a command goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Callback {
    /// Dropped (counted off `link-pending-commands`).
    Discard,
    /// INFO: refresh what is known of the instance.
    Info(InstId),
    /// PING: liveness.
    Ping(InstId),
    /// PUBLISH of our hello: note when it went out.
    Publish(InstId),
    /// `SENTINEL is-master-down-by-addr`: the other sentinel's view and vote.
    IsMasterDown(InstId),
    /// The SUBSCRIBE of a pub/sub connection: every message after it is a hello.
    Hello(InstId),
}

/// A command for a connection.
#[derive(Debug)]
pub(crate) struct Request {
    argv: Vec<Bytes>,
    cb: Callback,
}

/// The sentinel's handle on one connection task. Dropping it closes the connection.
#[derive(Debug)]
pub(crate) struct Conn {
    tx: mpsc::UnboundedSender<Request>,
    /// Tells this connection's replies from those of an earlier one on the same link.
    pub gen: u64,
    /// Our end's address once connected (announced in hellos unless `announce-ip`).
    pub local: Arc<OnceLock<SocketAddr>>,
}

impl Sentinel {
    /// Starts a connection to `ip:port` for link `link`; `None` if the address is not one
    /// (an unresolved hostname), as a connect that fails at once.
    fn open_conn(&mut self, link: LinkId, pubsub: bool, ip: &str, port: u16) -> Option<Conn> {
        let ip: std::net::IpAddr = ip.parse().ok()?;
        let addr = SocketAddr::new(ip, port);
        let (tx, rx) = mpsc::unbounded_channel();
        let gen = self.next_id();
        let local = Arc::new(OnceLock::new());
        let task = ConnTask {
            node: self.node.clone(),
            faults: self.faults.clone(),
            link,
            pubsub,
            gen,
            addr,
            local: local.clone(),
        };
        tokio::spawn(task.run(rx));
        Some(Conn { tx, gen, local })
    }

    /// Queues a command on a connection of `link`. Returns whether there was a connection.
    /// Every command but SUBSCRIBE counts as pending until its reply.
    pub(crate) fn send_on(
        &mut self,
        link: LinkId,
        pubsub: bool,
        argv: Vec<Bytes>,
        cb: Callback,
    ) -> bool {
        let Some(l) = self.links.get_mut(&link) else {
            return false;
        };
        let conn = if pubsub { &l.pc } else { &l.cc };
        let Some(conn) = conn else {
            return false;
        };
        if conn.tx.send(Request { argv, cb }).is_err() {
            return false;
        }
        if !matches!(cb, Callback::Hello(_)) {
            l.pending_commands += 1;
        }
        true
    }

    /// Queues `command args...` on the command connection of instance `id`, with the
    /// command renamed as its master's `rename-command` says.
    pub(crate) fn send(&mut self, id: InstId, command: &str, args: &[&[u8]], cb: Callback) -> bool {
        let argv = self.argv(id, command, args);
        let link = self.inst(id).link;
        self.send_on(link, false, argv, cb)
    }

    fn argv(&self, id: InstId, command: &str, args: &[&[u8]]) -> Vec<Bytes> {
        let mut argv = Vec::with_capacity(args.len() + 1);
        argv.push(Bytes::from(self.map_command(id, command)));
        argv.extend(args.iter().map(|a| Bytes::copy_from_slice(a)));
        argv
    }

    /// Closes one connection of a link (Redis's `instanceLinkCloseConnection`).
    pub(crate) fn close_conn(&mut self, link: LinkId, pubsub: bool) {
        let Some(l) = self.links.get_mut(&link) else {
            return;
        };
        let conn = if pubsub { l.pc.take() } else { l.cc.take() };
        if conn.is_some() {
            if !pubsub {
                l.pending_commands = 0;
            }
            l.disconnected = true;
        }
    }

    /// A connection ended by itself (refused, reset, closed by the peer).
    fn conn_lost(&mut self, link: LinkId, pubsub: bool, gen: u64) {
        let Some(l) = self.links.get_mut(&link) else {
            return;
        };
        let slot = if pubsub { &mut l.pc } else { &mut l.cc };
        if slot.as_ref().is_some_and(|c| c.gen == gen) {
            *slot = None;
            l.disconnected = true;
        }
    }

    /// Reconnects what is missing of an instance's link, at most once per ping period
    /// (Redis's `sentinelReconnectInstance`): the command connection authenticates, names
    /// itself and PINGs; the pub/sub one subscribes to the hello channel.
    pub(crate) fn reconnect_instance(&mut self, id: InstId, now: i64) {
        let (kind, link_id) = (self.inst(id).kind, self.inst(id).link);
        if !self.links[&link_id].disconnected || self.inst(id).addr.port == 0 {
            return;
        }
        let ping_period = self.periods.ping;
        let l = self.link_of_mut(id);
        if now - l.last_reconn_time < ping_period {
            return;
        }
        l.last_reconn_time = now;
        if self.links[&link_id].cc.is_none() {
            if self.resolve_hostnames {
                let a = self.inst(id).addr.clone();
                if let Ok(fresh) = self.make_addr(&a.hostname, a.port.into(), false) {
                    self.inst_mut(id).addr = fresh;
                }
            }
            let a = self.inst(id).addr.clone();
            match self.open_conn(link_id, false, &a.ip, a.port) {
                None => self.event_at(
                    Level::Debug,
                    "-cmd-link-reconnection",
                    id,
                    " #Name or service not known",
                ),
                Some(conn) => {
                    let l = self.link_of_mut(id);
                    l.pending_commands = 0;
                    l.cc_conn_time = now;
                    l.cc = Some(conn);
                    self.send_auth_if_needed(id, false);
                    self.set_client_name(id, false, "cmd");
                    self.send_ping(id, now);
                }
            }
        }
        if kind != Kind::Sentinel && self.links[&link_id].pc.is_none() {
            let a = self.inst(id).addr.clone();
            match self.open_conn(link_id, true, &a.ip, a.port) {
                None => self.event_at(
                    Level::Debug,
                    "-pubsub-link-reconnection",
                    id,
                    " #Name or service not known",
                ),
                Some(conn) => {
                    let l = self.link_of_mut(id);
                    l.pc_conn_time = now;
                    l.pc = Some(conn);
                    self.send_auth_if_needed(id, true);
                    self.set_client_name(id, true, "pubsub");
                    let argv = self.argv(id, "SUBSCRIBE", &[HELLO_CHANNEL.as_bytes()]);
                    self.send_on(link_id, true, argv, Callback::Hello(id));
                }
            }
        }
        let l = &self.links[&link_id];
        if l.cc.is_some() && (kind == Kind::Sentinel || l.pc.is_some()) {
            self.link_of_mut(id).disconnected = false;
        }
    }

    /// AUTH on a new connection: the master's `auth-pass` (and `auth-user`) for masters and
    /// replicas, `sentinel-pass` (or `requirepass`) for sentinels.
    fn send_auth_if_needed(&mut self, id: InstId, pubsub: bool) {
        let ri = self.inst(id);
        let (pass, user) = match ri.kind {
            Kind::Master => (ri.auth_pass.clone(), ri.auth_user.clone()),
            Kind::Replica => {
                let m = self.inst(ri.master.expect("a replica has a master"));
                (m.auth_pass.clone(), m.auth_user.clone())
            }
            Kind::Sentinel => match &self.sentinel_pass {
                Some(p) => (Some(p.clone()), self.sentinel_user.clone()),
                None => (self.requirepass.clone(), None),
            },
        };
        let Some(pass) = pass else {
            return;
        };
        let mut args: Vec<&[u8]> = Vec::new();
        if let Some(u) = &user {
            args.push(u.as_bytes());
        }
        args.push(pass.as_bytes());
        let argv = self.argv(id, "AUTH", &args);
        let link = self.inst(id).link;
        self.send_on(link, pubsub, argv, Callback::Discard);
    }

    /// `CLIENT SETNAME sentinel-<first 8 of myid>-<cmd|pubsub>`.
    fn set_client_name(&mut self, id: InstId, pubsub: bool, kind: &str) {
        let name = format!("sentinel-{}-{kind}", &self.myid[..self.myid.len().min(8)]);
        let argv = self.argv(id, "CLIENT", &[b"SETNAME", name.as_bytes()]);
        let link = self.inst(id).link;
        self.send_on(link, pubsub, argv, Callback::Discard);
    }

    /// PING on the command connection, keeping `act_ping_time` at the oldest unanswered one.
    pub(crate) fn send_ping(&mut self, id: InstId, now: i64) -> bool {
        if !self.send(id, "PING", &[], Callback::Ping(id)) {
            return false;
        }
        let l = self.link_of_mut(id);
        l.last_ping_time = now;
        if l.act_ping_time == 0 {
            l.act_ping_time = now;
        }
        true
    }

    /// Hands a reply to its callback, unless it comes from a connection that has since been
    /// closed or replaced.
    fn on_reply(&mut self, link: LinkId, pubsub: bool, gen: u64, cb: Callback, frame: Frame) {
        let now = now_ms();
        let Some(l) = self.links.get_mut(&link) else {
            return;
        };
        let current = if pubsub { &l.pc } else { &l.cc };
        if current.as_ref().map(|c| c.gen) != Some(gen) {
            return;
        }
        if !matches!(cb, Callback::Hello(_)) {
            l.pending_commands -= 1;
        }
        match cb {
            Callback::Discard => {}
            Callback::Info(id) => {
                if self.instances.contains_key(&id) {
                    let text = match &frame {
                        Frame::Bulk(b) | Frame::Verbatim { text: b, .. } => {
                            Some(String::from_utf8_lossy(b).into_owned())
                        }
                        _ => None,
                    };
                    if let Some(text) = text {
                        self.refresh_instance_info(id, &text, now);
                    }
                }
            }
            Callback::Ping(id) => self.ping_reply(link, id, &frame, now),
            Callback::Publish(id) => {
                if !frame.is_error() {
                    if let Some(ri) = self.instances.get_mut(&id) {
                        ri.last_pub_time = now;
                    }
                }
            }
            Callback::IsMasterDown(id) => {
                if self.instances.contains_key(&id) {
                    self.is_master_down_reply(id, &frame, now);
                }
            }
            Callback::Hello(id) => self.receive_hello(link, id, &frame, now),
        }
    }
}

/// One connection's task.
struct ConnTask {
    node: Weak<Node>,
    faults: Arc<Faults>,
    link: LinkId,
    pubsub: bool,
    gen: u64,
    addr: SocketAddr,
    local: Arc<OnceLock<SocketAddr>>,
}

impl ConnTask {
    async fn run(self, mut rx: mpsc::UnboundedReceiver<Request>) {
        let Some(mut shutdown) = self.node.upgrade().map(|n| n.shutdown_signal()) else {
            return;
        };
        let mut queued = Vec::new();
        // Commands queue up while connecting, as in hiredis; a connect across a partition
        // waits for it to heal.
        let connect = self.faults.connect(self.addr);
        tokio::pin!(connect);
        let stream = loop {
            tokio::select! {
                s = &mut connect => break s,
                req = rx.recv() => match req {
                    Some(r) => queued.push(r),
                    None => return,
                },
                _ = shutdown.wait_for(|&down| down) => return,
            }
        };
        let Ok(stream) = stream else {
            self.lost();
            return;
        };
        if let Ok(local) = stream.get_ref().local_addr() {
            let _ = self.local.set(local);
        }
        let (mut rd, mut wr) = stream.into_split();
        let mut pending: VecDeque<Callback> = VecDeque::new();
        let mut wbuf = BytesMut::new();
        for r in queued {
            encode_command(&mut wbuf, &r.argv);
            pending.push_back(r.cb);
        }
        let mut rbuf = BytesMut::with_capacity(16 * 1024);
        let limits = Limits::default();
        loop {
            if !wbuf.is_empty() {
                tokio::select! {
                    w = wr.write_all(&wbuf) => if w.is_err() { break },
                    _ = shutdown.wait_for(|&down| down) => return,
                }
                wbuf.clear();
            }
            tokio::select! {
                req = rx.recv() => match req {
                    Some(r) => {
                        encode_command(&mut wbuf, &r.argv);
                        pending.push_back(r.cb);
                        while let Ok(r) = rx.try_recv() {
                            encode_command(&mut wbuf, &r.argv);
                            pending.push_back(r.cb);
                        }
                    }
                    // The sentinel closed this connection.
                    None => return,
                },
                read = rd.read_buf(&mut rbuf) => {
                    if !matches!(read, Ok(n) if n > 0) {
                        break;
                    }
                    let mut frames = Vec::new();
                    let mut broken = false;
                    loop {
                        match decode(&mut rbuf, &limits) {
                            Ok(Some(f)) => frames.push(f),
                            Ok(None) => break,
                            Err(_) => {
                                broken = true;
                                break;
                            }
                        }
                    }
                    if !frames.is_empty() && !self.deliver(&mut pending, frames) {
                        return;
                    }
                    if broken {
                        break;
                    }
                }
                _ = shutdown.wait_for(|&down| down) => return,
            }
        }
        self.lost();
    }

    /// Runs the callbacks of `frames` under the lock; `false` if the node is gone.
    fn deliver(&self, pending: &mut VecDeque<Callback>, frames: Vec<Frame>) -> bool {
        let Some(node) = self.node.upgrade() else {
            return false;
        };
        let mut st = node.lock();
        for frame in frames {
            // After SUBSCRIBE every message belongs to it.
            let cb = match pending.front() {
                Some(&cb @ Callback::Hello(_)) => cb,
                Some(_) => pending.pop_front().expect("front exists"),
                None => continue,
            };
            if let Some(s) = st.sentinel.as_mut() {
                s.on_reply(self.link, self.pubsub, self.gen, cb, frame);
            }
        }
        flush_output(&mut st);
        true
    }

    fn lost(&self) {
        if let Some(node) = self.node.upgrade() {
            let mut st = node.lock();
            if let Some(s) = st.sentinel.as_mut() {
                s.conn_lost(self.link, self.pubsub, self.gen);
            }
        }
    }
}
