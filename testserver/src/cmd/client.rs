//! CLIENT subcommands.
//!
//! The calling connection is described from `ctx.client` (always current); other connections
//! from their registry entries (`ctx.node.clients`), which the connection tasks refresh after
//! each batch. Values this server does not track (buffer sizes, memory) are reported as 0.

use bytes::Bytes;
use rediscover::error_codes::msg;
use rediscover::resp::ReplyWriter;

use super::server::{help, subcommand};
use super::{eq_ic, parse_i64, CmdResult, Ctx, Error, Handler};
use crate::client::{ClientEntry, ClientKind, ReplyMode};
use crate::keyspace::ClientId;
use crate::node::NodeState;

pub(crate) const COMMANDS: &[(&str, Handler)] = &[("client", client)];

/// Client names may not contain spaces, newlines or other special characters.
pub(crate) fn validate_name(name: &[u8]) -> Result<(), Error> {
    if name.iter().any(|&c| !(b'!'..=b'~').contains(&c)) {
        return Err(
            "ERR Client names cannot contain spaces, newlines or special characters.".into(),
        );
    }
    Ok(())
}

fn client(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    match subcommand(argv)? {
        "client|id" => ctx.out.int(ctx.client.id as i64),
        "client|getname" => match &ctx.client.name {
            Some(n) => ctx.out.bulk(n),
            None => ctx.out.null(),
        },
        "client|setname" => {
            validate_name(&argv[2])?;
            ctx.client.name = (!argv[2].is_empty()).then(|| super::owned(&argv[2]));
            ctx.out.ok();
        }
        "client|info" => {
            let line = self_line(ctx, "client|info");
            ctx.out.verbatim(b"txt", line.as_bytes());
        }
        "client|list" => list(ctx, &argv[2..])?,
        "client|kill" => kill(ctx, &argv[2..])?,
        "client|pause" if argv.len() > 4 => return Err(sub_syntax(&argv[1])),
        "client|pause" => pause(ctx, &argv[2..])?,
        "client|unpause" => {
            ctx.node.pause = None;
            ctx.out.ok();
        }
        "client|reply" => reply(ctx, &argv[2])?,
        "client|no-evict" => {
            ctx.client.no_evict = on_off(&argv[2])?;
            ctx.out.ok();
        }
        "client|unblock" if argv.len() > 4 => return Err(sub_syntax(&argv[1])),
        "client|unblock" => unblock(ctx, &argv[2..])?,
        "client|tracking" => crate::tracking::client_tracking(ctx, argv)?,
        "client|caching" => crate::tracking::client_caching(ctx, argv)?,
        "client|getredir" => crate::tracking::client_getredir(ctx),
        "client|trackinginfo" => crate::tracking::client_trackinginfo(ctx),
        "client|help" => help(ctx, "CLIENT", HELP),
        other => {
            // Known to Redis (TRACKING, CACHING, GETREDIR...) but not implemented here.
            return Err(rediscover::error_codes::unknown_subcommand(
                "client",
                other.split('|').nth(1).unwrap_or(other).as_bytes(),
            )
            .into());
        }
    }
    Ok(())
}

/// Redis's `addReplySubcommandSyntaxError`, for a known subcommand given too many arguments.
fn sub_syntax(sub: &[u8]) -> Error {
    format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try CLIENT HELP.",
        String::from_utf8_lossy(sub)
    )
    .into()
}

const HELP: &[&str] = &[
    "GETNAME",
    "    Return the name of the current connection.",
    "ID",
    "    Return the ID of the current connection.",
    "INFO",
    "    Return information about the current client connection.",
    "KILL <ip:port>",
    "    Kill connection made from <ip:port>.",
    "KILL <option> <value> [<option> <value> [...]]",
    "    Kill connections. Options are:",
    "    * ADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made from the specified address",
    "    * LADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made to specified local address",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Kill connections by type.",
    "    * USER <username>",
    "      Kill connections authenticated by <username>.",
    "    * SKIPME (YES|NO)",
    "      Skip killing current connection (default: yes).",
    "LIST [options ...]",
    "    Return information about client connections. Options:",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Return clients of specified type.",
    "UNPAUSE",
    "    Stop the current client pause, resuming traffic.",
    "PAUSE <timeout> [WRITE|ALL]",
    "    Suspend all, or just write, clients for <timeout> milliseconds.",
    "REPLY (ON|OFF|SKIP)",
    "    Control the replies sent to the current connection.",
    "SETNAME <name>",
    "    Assign the name <name> to the current connection.",
    "UNBLOCK <clientid> [TIMEOUT|ERROR]",
    "    Unblock the specified blocked client.",
    "NO-EVICT (ON|OFF)",
    "    Protect current client connection from eviction.",
];

fn on_off(arg: &[u8]) -> Result<bool, Error> {
    if eq_ic(arg, "ON") {
        Ok(true)
    } else if eq_ic(arg, "OFF") {
        Ok(false)
    } else {
        Err(msg::SYNTAX.into())
    }
}

/// The fields of one CLIENT LIST line that differ between clients.
struct Line<'a> {
    id: ClientId,
    addr: std::net::SocketAddr,
    laddr: std::net::SocketAddr,
    name: &'a [u8],
    age: u64,
    idle: u64,
    flags: String,
    db: usize,
    sub: usize,
    psub: usize,
    multi: i64,
    cmd: &'a str,
    user: &'a [u8],
    redir: i64,
    resp: u8,
}

impl Line<'_> {
    /// Redis 7.0's `getClientInfoString`, with 0 for the buffers and memory it does not track.
    fn render(&self) -> String {
        format!(
            "id={} addr={} laddr={} fd=0 name={} age={} idle={} flags={} db={} sub={} psub={} \
             ssub=0 multi={} qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 \
             omem=0 tot-mem=0 events=r cmd={} user={} redir={} resp={}\n",
            self.id,
            self.addr,
            self.laddr,
            String::from_utf8_lossy(self.name),
            self.age,
            self.idle,
            self.flags,
            self.db,
            self.sub,
            self.psub,
            self.multi,
            self.cmd,
            String::from_utf8_lossy(self.user),
            self.redir,
            self.resp,
        )
    }
}

/// What a client's `flags=` field is made of.
struct FlagState {
    kind: ClientKind,
    multi: bool,
    blocked: bool,
    /// Scheduled to be closed (CLIENT KILL, output limit): Redis's `CLIENT_CLOSE_ASAP`.
    closing: bool,
    readonly: bool,
    no_evict: bool,
}

impl FlagState {
    /// Redis 7.0's flag letters, in `catClientInfoString`'s order: `O` (MONITOR) or `S`, `M`,
    /// `P`, `x`, `b`, `t` (tracking), `R` (its redirect target went away), `B` (BCAST), `d`
    /// (a WATCHed key changed), `A`, `r`, `e`; `N` for none. (`c`, `u` and `U` never show
    /// here: no unix sockets, and no client is caught between its reply and its close.)
    fn render(&self, node: &NodeState, id: ClientId) -> String {
        let mut f = String::new();
        if node.monitors.iter().any(|(m, _)| *m == id) {
            f.push('O');
        }
        match self.kind {
            ClientKind::Replica => f.push('S'),
            ClientKind::Master => f.push('M'),
            ClientKind::PubSub => f.push('P'),
            ClientKind::Normal => {}
        }
        if self.multi {
            f.push('x');
        }
        if self.blocked {
            f.push('b');
        }
        if let Some(mode) = node.tracking.clients.get(&id) {
            f.push('t');
            if mode.broken_redirect {
                f.push('R');
            }
            if mode.bcast {
                f.push('B');
            }
        }
        if node.watch_dirty.contains(&id) {
            f.push('d');
        }
        if self.closing {
            f.push('A');
        }
        if self.readonly {
            f.push('r');
        }
        if self.no_evict {
            f.push('e');
        }
        if f.is_empty() {
            f.push('N');
        }
        f
    }
}

/// `redir=`: the tracking redirect (0 for none) of a tracking client, -1 otherwise.
fn redir(node: &NodeState, id: ClientId) -> i64 {
    node.tracking
        .clients
        .get(&id)
        .map_or(-1, |m| m.redirect as i64)
}

pub(crate) fn self_line(ctx: &Ctx<'_>, cmd: &str) -> String {
    let c = &*ctx.client;
    let kind = ctx
        .node
        .clients
        .get(&c.id)
        .map(|e| e.kind)
        .filter(|k| !matches!(k, ClientKind::Normal | ClientKind::PubSub))
        .unwrap_or(if c.subscriptions() > 0 {
            ClientKind::PubSub
        } else {
            ClientKind::Normal
        });
    let flags = FlagState {
        kind,
        multi: c.multi.is_some(),
        blocked: false,
        closing: false,
        readonly: c.readonly,
        no_evict: c.no_evict,
    };
    Line {
        id: c.id,
        addr: c.addr,
        laddr: c.laddr,
        name: c.name.as_deref().unwrap_or_default(),
        age: c.created.elapsed().as_secs(),
        idle: 0,
        flags: flags.render(ctx.node, c.id),
        db: c.db,
        sub: c.channels.len(),
        psub: c.patterns.len(),
        multi: c.multi.as_ref().map_or(-1, |q| q.len() as i64),
        cmd,
        user: &c.user,
        redir: redir(ctx.node, c.id),
        resp: if c.resp3 { 3 } else { 2 },
    }
    .render()
}

/// A client's CLIENT LIST line (without the newline), as Redis's log lines quote a client.
pub fn client_info_line(node: &NodeState, id: ClientId, e: &ClientEntry) -> String {
    let flags = FlagState {
        kind: e.kind,
        multi: e.multi >= 0,
        blocked: e.blocked,
        closing: e.killed,
        readonly: e.readonly,
        no_evict: e.no_evict,
    };
    Line {
        id,
        addr: e.addr,
        laddr: e.laddr,
        name: e.name.as_deref().unwrap_or_default(),
        age: e.created.elapsed().as_secs(),
        idle: e.last_interaction.elapsed().as_secs(),
        flags: flags.render(node, id),
        db: e.db,
        sub: e.sub,
        psub: e.psub,
        multi: e.multi,
        cmd: e.last_cmd,
        user: &e.user,
        redir: redir(node, id),
        resp: e.resp,
    }
    .render()
}

/// CLIENT LIST / KILL `TYPE` names.
fn parse_type(arg: &[u8]) -> Result<ClientKind, Error> {
    let t = String::from_utf8_lossy(arg).to_ascii_lowercase();
    match t.as_str() {
        "normal" => Ok(ClientKind::Normal),
        "replica" | "slave" => Ok(ClientKind::Replica),
        "master" => Ok(ClientKind::Master),
        "pubsub" => Ok(ClientKind::PubSub),
        _ => Err(format!("ERR Unknown client type '{}'", String::from_utf8_lossy(arg)).into()),
    }
}

fn list(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let mut kind = None;
    let mut ids: Option<Vec<ClientId>> = None;
    if !args.is_empty() {
        if eq_ic(&args[0], "TYPE") && args.len() == 2 {
            kind = Some(parse_type(&args[1])?);
        } else if eq_ic(&args[0], "ID") && args.len() >= 2 {
            let mut v = Vec::new();
            for a in &args[1..] {
                match parse_i64(a) {
                    Ok(n) if n > 0 => v.push(n as ClientId),
                    _ => return Err("ERR Invalid client ID".into()),
                }
            }
            ids = Some(v);
        } else {
            return Err(msg::SYNTAX.into());
        }
    }
    let mut ordered: Vec<ClientId> = match &ids {
        Some(v) => v.clone(),
        None => ctx.node.clients.keys().copied().collect(),
    };
    if ids.is_none() {
        ordered.sort_unstable();
    }
    let mut text = String::new();
    for id in ordered {
        let Some(e) = ctx.node.clients.get(&id) else {
            continue;
        };
        if kind.is_some_and(|k| e.kind != k) {
            continue;
        }
        if id == ctx.client.id {
            text.push_str(&self_line(ctx, "client|list"));
        } else {
            text.push_str(&client_info_line(ctx.node, id, e));
        }
    }
    ctx.out.verbatim(b"txt", text.as_bytes());
    Ok(())
}

#[derive(Default)]
struct KillFilter {
    id: Option<ClientId>,
    addr: Option<String>,
    laddr: Option<String>,
    kind: Option<ClientKind>,
    user: Option<Bytes>,
    skipme: bool,
}

fn kill(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    if args.len() == 1 {
        // Old form: CLIENT KILL ip:port, replies +OK or an error.
        let f = KillFilter {
            addr: Some(String::from_utf8_lossy(&args[0]).into_owned()),
            ..Default::default()
        };
        if kill_matching(ctx, &f) == 0 {
            return Err("ERR No such client".into());
        }
        ctx.out.ok();
        return Ok(());
    }
    if args.len() % 2 == 1 {
        return Err(msg::SYNTAX.into());
    }
    let mut f = KillFilter {
        skipme: true,
        ..Default::default()
    };
    for pair in args.chunks(2) {
        let (opt, val) = (&pair[0], &pair[1]);
        if eq_ic(opt, "ID") {
            match parse_i64(val) {
                Ok(n) if n > 0 => f.id = Some(n as ClientId),
                _ => return Err("ERR client-id should be greater than 0".into()),
            }
        } else if eq_ic(opt, "TYPE") {
            f.kind = Some(parse_type(val)?);
        } else if eq_ic(opt, "ADDR") {
            f.addr = Some(String::from_utf8_lossy(val).into_owned());
        } else if eq_ic(opt, "LADDR") {
            f.laddr = Some(String::from_utf8_lossy(val).into_owned());
        } else if eq_ic(opt, "USER") {
            if !ctx.node.acl.users.contains_key(&val[..]) {
                return Err(format!("ERR No such user '{}'", String::from_utf8_lossy(val)).into());
            }
            f.user = Some(super::owned(val));
        } else if eq_ic(opt, "SKIPME") {
            f.skipme = if eq_ic(val, "YES") {
                true
            } else if eq_ic(val, "NO") {
                false
            } else {
                return Err(msg::SYNTAX.into());
            };
        } else {
            return Err(msg::SYNTAX.into());
        }
    }
    let n = kill_matching(ctx, &f);
    ctx.out.int(n as i64);
    Ok(())
}

/// Closes every connection `f` selects; the caller's own connection closes after its reply.
fn kill_matching(ctx: &mut Ctx<'_>, f: &KillFilter) -> usize {
    let me = ctx.client.id;
    let mut killed = 0;
    let mut close_me = false;
    for (&id, e) in ctx.node.clients.iter_mut() {
        let user = if id == me { &ctx.client.user } else { &e.user };
        let selected = f.id.map_or(true, |x| x == id)
            && f.addr.as_ref().map_or(true, |a| *a == e.addr.to_string())
            && f.laddr.as_ref().map_or(true, |a| *a == e.laddr.to_string())
            && f.kind.map_or(true, |k| k == e.kind)
            && f.user.as_ref().map_or(true, |u| u == user)
            && !(f.skipme && id == me);
        if !selected {
            continue;
        }
        killed += 1;
        if id == me {
            close_me = true;
        } else {
            e.killed = true;
            e.kill.notify_one();
        }
    }
    if close_me {
        ctx.close_after_reply();
    }
    killed
}

fn pause(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let timeout = parse_i64(&args[0])
        .map_err(|_| Error::from("ERR timeout is not an integer or out of range"))?;
    if timeout < 0 {
        return Err(msg::TIMEOUT_NEGATIVE.into());
    }
    let writes_only = match args.get(1) {
        None => false,
        Some(m) if eq_ic(m, "WRITE") => true,
        Some(m) if eq_ic(m, "ALL") => false,
        Some(_) => return Err("ERR CLIENT PAUSE mode must be WRITE or ALL".into()),
    };
    pause_clients(ctx, ctx.now.saturating_add(timeout), writes_only);
    ctx.out.ok();
    Ok(())
}

/// Pauses clients until `until` (Unix ms). A pause already in force keeps its later end and
/// its stricter (ALL) mode.
pub(super) fn pause_clients(ctx: &mut Ctx<'_>, until: i64, writes_only: bool) {
    ctx.node.pause = Some(match ctx.node.pause {
        Some((end, wo)) if end > ctx.now => (end.max(until), wo && writes_only),
        _ => (until, writes_only),
    });
}

fn reply(ctx: &mut Ctx<'_>, mode: &[u8]) -> CmdResult {
    if eq_ic(mode, "ON") {
        ctx.client.reply_mode = ReplyMode::On;
        ctx.out.ok();
    } else if eq_ic(mode, "OFF") {
        ctx.client.reply_mode = ReplyMode::Off;
    } else if eq_ic(mode, "SKIP") {
        if ctx.client.reply_mode != ReplyMode::Off {
            ctx.client.reply_mode = ReplyMode::Skip;
        }
    } else {
        return Err(msg::SYNTAX.into());
    }
    Ok(())
}

fn unblock(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let id = parse_i64(&args[0])?;
    let as_error = match args.get(1) {
        None => false,
        Some(r) if eq_ic(r, "TIMEOUT") => false,
        Some(r) if eq_ic(r, "ERROR") => true,
        Some(_) => return Err("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR".into()),
    };
    let waiter = u64::try_from(id).ok().and_then(|id| ctx.node.unpark(id));
    let Some(w) = waiter else {
        ctx.out.int(0);
        return Ok(());
    };
    let mut out = ReplyWriter::new(w.client.resp3);
    if as_error {
        out.error("UNBLOCKED client unblocked via CLIENT UNBLOCK");
    } else {
        super::write_timeout_reply(&mut out, w.on_timeout);
    }
    // If the connection is already gone there is nobody left to answer.
    let _ = w.wake.send((w.client, out.take()));
    ctx.out.int(1);
    Ok(())
}
