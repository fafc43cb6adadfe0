//! The command path: table lookup, arity, gates, execution, statistics.
//!
//! Every command is a plain function `fn(&mut Ctx, &[Bytes]) -> CmdResult` that runs with the
//! node locked. It writes its reply through `ctx.out` or returns an error (the dispatcher writes
//! it, after discarding anything the handler had written). Arity, authentication, MULTI queueing
//! and the RESP2 subscriber context are checked here once, before any handler runs, in the order
//! Redis's `processCommand` checks them. A gate for cluster redirection and replica roles goes in
//! [`gate`].

mod acl;
pub mod args;
mod bits;
mod client;
mod config;
mod connection;
mod dump;
mod function;
mod geo;
mod hash;
mod hll;
mod keys;
mod latency;
mod list;
mod lolwut;
pub(crate) mod longdouble;
mod lookup;
mod memory;
mod monitor;
mod pubsub;
mod random;
mod repl;
mod scan;
pub(crate) mod script;
mod server;
mod set;
mod sort;
mod stream;
mod string;
mod strtod;
mod tx;
mod zset;
mod zset_algebra;
mod zset_pop;
mod zset_range;

use std::borrow::Cow;
use std::cell::OnceCell;
use std::sync::OnceLock;
use std::time::Instant;

use bytes::Bytes;
use rediscover::command::CommandInfo;
use rediscover::error_codes::{self, msg};
use rediscover::resp::ReplyWriter;

use crate::client::{Client, ReplyMode};
use crate::keyspace::Db;
use crate::node::{CommandStats, NodeState, TimeoutReply, Waiter};

pub use args::*;
pub use client::client_info_line;
pub use repl::WaitRequest;
pub(crate) use server::subcommand;
pub(crate) use tx::unwatch_all;

/// An error reply: the whole line after `-`, code included (`ERR syntax error`). Bytes rather
/// than text, because Redis echoes a client's bytes in some errors (an unknown command's name)
/// exactly as they came.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(pub Cow<'static, [u8]>);

impl Error {
    /// The error line as text (bytes that are not UTF-8 replaced), for logs.
    pub fn text(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.0)
    }
}

impl From<&'static str> for Error {
    fn from(s: &'static str) -> Self {
        Error(Cow::Borrowed(s.as_bytes()))
    }
}

impl From<String> for Error {
    fn from(s: String) -> Self {
        Error(Cow::Owned(s.into_bytes()))
    }
}

impl From<Vec<u8>> for Error {
    fn from(s: Vec<u8>) -> Self {
        Error(Cow::Owned(s))
    }
}

/// What a handler returns.
pub type CmdResult = Result<(), Error>;

/// Redis's `addReplySubcommandSyntaxError`: `argv[1]` is not a subcommand of `argv[0]`, or has
/// the wrong number of arguments.
pub(crate) fn subcommand_syntax(argv: &[Bytes]) -> Error {
    let sub = &argv[1][..argv[1].len().min(128)];
    format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try {} HELP.",
        String::from_utf8_lossy(sub),
        String::from_utf8_lossy(&argv[0]).to_ascii_uppercase()
    )
    .into()
}

/// A command implementation.
pub type Handler = fn(&mut Ctx<'_>, &[Bytes]) -> CmdResult;

/// What a command asks its connection task to do once it has run: the one value through which
/// a command hands work to its connection (anything that must wait, do I/O, or end the
/// connection happens there, without the node lock).
pub enum Outcome {
    /// Park the client until one of the keys receives data (a blocking command found nothing).
    Block(BlockRequest),
    /// PSYNC/SYNC was accepted: the connection becomes a replica feed.
    Sync(crate::repl::master::SyncStart),
    /// WAIT must wait for replica acknowledgements.
    Wait(WaitRequest),
    /// Close the connection once the pending replies are written (QUIT, SHUTDOWN, CLIENT KILL
    /// of itself).
    Close,
    /// Hold the replies written so far until this Unix ms (DEBUG SLEEP).
    Hold(i64),
    /// Finish the command off the lock: the connection runs the future to completion (even if
    /// the client disconnects meanwhile, as Redis finishes a command whose client left) and
    /// writes the reply bytes it returns. For commands that talk to other nodes (MIGRATE) or
    /// wait on a topology change.
    Defer(Deferred),
}

/// The asynchronous rest of a command (see [`Outcome::Defer`]): it resolves to the reply bytes,
/// already encoded for the client's protocol.
pub type Deferred = std::pin::Pin<Box<dyn std::future::Future<Output = Vec<u8>> + Send>>;

impl std::fmt::Debug for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Block(b) => f.debug_tuple("Block").field(b).finish(),
            Outcome::Sync(_) => f.write_str("Sync"),
            Outcome::Wait(w) => f.debug_tuple("Wait").field(w).finish(),
            Outcome::Close => f.write_str("Close"),
            Outcome::Hold(t) => f.debug_tuple("Hold").field(t).finish(),
            Outcome::Defer(_) => f.write_str("Defer"),
        }
    }
}

/// A blocking command's request to park the client until one of `keys` receives data.
#[derive(Debug)]
pub struct BlockRequest {
    /// Keys in the client's current database.
    pub keys: Vec<Bytes>,
    /// When to give up (`None`: never).
    pub deadline: Option<Instant>,
    /// What to answer at the deadline.
    pub on_timeout: TimeoutReply,
    /// Run again as this argv instead of the command as sent (XREAD's `$` resolved).
    pub rerun: Option<Vec<Bytes>>,
}

/// Everything a command can touch while it runs.
pub struct Ctx<'a> {
    /// The node's state (locked).
    pub node: &'a mut NodeState,
    /// The calling connection.
    pub client: &'a mut Client,
    /// Where the reply goes.
    pub out: &'a mut ReplyWriter,
    /// Unix time in milliseconds, fixed for the whole command (Redis caches it the same way).
    pub now: i64,
    /// What the connection task must do after the command (see [`Ctx::finish_with`]).
    pub(crate) outcome: Option<Outcome>,
    /// Inside EXEC (or a script): blocking commands answer as if they timed out.
    pub(crate) in_exec: bool,
    /// When a blocked client's command runs again: the key that received data. Redis 7.0
    /// serves the client from that key only, and keeps it blocked if the key has another type.
    pub(crate) ready_key: Option<Bytes>,
    /// When the previous command ended: the start of the next one. One clock read per command
    /// serves both ends of consecutive commands in a batch.
    pub(crate) tick: Instant,
    /// What the running command is replicated as, when not as itself (see
    /// [`Ctx::propagate_as`]).
    pub(crate) prop_ops: Option<Vec<Vec<Bytes>>>,
    /// Replicate the running command even though it changed nothing (PUBLISH).
    pub(crate) prop_force: bool,
}

impl<'a> Ctx<'a> {
    /// A context for running commands on behalf of `client`.
    pub fn new(node: &'a mut NodeState, client: &'a mut Client, out: &'a mut ReplyWriter) -> Self {
        Ctx {
            node,
            client,
            out,
            now: crate::node::unix_ms(),
            outcome: None,
            in_exec: false,
            ready_key: None,
            tick: Instant::now(),
            prop_ops: None,
            prop_force: false,
        }
    }

    /// Replicates the running command as the ops `build` returns (each an argv, run in the
    /// client's database) instead of its own argv, as Redis's `rewriteClientCommandVector` /
    /// `alsoPropagate` do: `SET k v PXAT t` for a relative expiry, `LPOP k` for a served
    /// `BLPOP`. Only sent if the command changed the dataset; `build` runs only when something
    /// replicates (a master with replicas).
    pub fn propagate_as(&mut self, build: impl FnOnce() -> Vec<Vec<Bytes>>) {
        if self.node.repl.propagating() {
            self.prop_ops = Some(build());
        }
    }

    /// Whether commands are being replicated (a master with a backlog).
    pub fn propagating(&self) -> bool {
        self.node.repl.propagating()
    }

    /// Replicates the running command even if it changed nothing (PUBLISH, so subscribers of
    /// replicas get the message too).
    pub fn force_propagation(&mut self) {
        self.prop_force = true;
    }

    /// The client's selected database.
    pub fn db(&mut self) -> &mut Db {
        &mut self.node.dbs[self.client.db]
    }

    /// The selected database and the reply writer, borrowed together.
    pub fn parts(&mut self) -> (&mut Db, &mut ReplyWriter) {
        (&mut self.node.dbs[self.client.db], self.out)
    }

    /// Counts a change to the dataset (Redis's `server.dirty++`).
    pub fn dirty(&mut self, n: u64) {
        self.node.dirty += n;
        self.node.changes += n;
    }

    /// Publishes the keyspace event `event` of `class` (see [`crate::notify::class`]) for `key`
    /// in the client's database, if that class is on (Redis's `notifyKeyspaceEvent`).
    #[inline]
    pub fn notify(&mut self, class: u32, event: &str, key: &[u8]) {
        if self.node.notify_flags & class != 0 {
            let db = self.client.db;
            self.notify_db(class, event, key, db);
        }
    }

    /// [`Ctx::notify`] for a key of database `db`.
    pub fn notify_db(&mut self, class: u32, event: &str, key: &[u8], db: usize) {
        crate::notify::keyspace_event_for(
            self.node,
            (self.client.id, &mut *self.out),
            class,
            event,
            key,
            db,
        );
    }

    /// Marks `key` in the selected database as modified and counts one change.
    pub fn modified(&mut self, key: &[u8]) {
        self.node.dbs[self.client.db].touch(key);
        self.node.dirty += 1;
        self.node.changes += 1;
    }

    /// Parks the client on `keys` until one receives data or `deadline` passes. The handler
    /// must not write a reply when it blocks. Inside MULTI/EXEC, where nothing may block, the
    /// timeout reply is written at once instead.
    pub fn block(&mut self, keys: Vec<Bytes>, deadline: Option<Instant>, on_timeout: TimeoutReply) {
        if self.in_exec {
            write_timeout_reply(self.out, on_timeout);
            return;
        }
        self.finish_with(Outcome::Block(BlockRequest {
            keys,
            deadline,
            on_timeout,
            rerun: None,
        }));
    }

    /// [`Ctx::block`], running `argv` instead of the command as sent when a key is ready.
    pub fn block_as(
        &mut self,
        argv: Vec<Bytes>,
        keys: Vec<Bytes>,
        deadline: Option<Instant>,
        on_timeout: TimeoutReply,
    ) {
        self.block(keys, deadline, on_timeout);
        if let Some(Outcome::Block(req)) = self.outcome.as_mut() {
            req.rerun = Some(argv);
        }
    }

    /// Hands the rest of the command to the connection task. A pending [`Outcome::Close`] is
    /// never replaced: a client that asked to be closed is closed.
    pub fn finish_with(&mut self, outcome: Outcome) {
        if !matches!(self.outcome, Some(Outcome::Close)) {
            self.outcome = Some(outcome);
        }
    }

    /// Closes the connection once the pending replies are written.
    pub fn close_after_reply(&mut self) {
        self.outcome = Some(Outcome::Close);
    }

    /// Whether the running command blocked the client.
    pub(crate) fn is_blocked(&self) -> bool {
        matches!(self.outcome, Some(Outcome::Block(_)))
    }

    /// Takes back a [`Outcome::Block`] (leaving any other outcome in place).
    pub(crate) fn take_block(&mut self) -> Option<BlockRequest> {
        match self.outcome.take() {
            Some(Outcome::Block(req)) => Some(req),
            other => {
                self.outcome = other;
                None
            }
        }
    }
}

/// An argv from a command name and arguments (for [`Ctx::propagate_as`]).
pub fn op(name: &'static [u8], args: &[&Bytes]) -> Vec<Bytes> {
    let mut argv = Vec::with_capacity(args.len() + 1);
    argv.push(Bytes::from_static(name));
    argv.extend(args.iter().map(|a| (*a).clone()));
    argv
}

/// An integer argument (for [`Ctx::propagate_as`]).
pub fn int_arg(n: i64) -> Bytes {
    Bytes::from(n.to_string())
}

/// Writes what a blocked command answers on timeout.
pub fn write_timeout_reply(out: &mut ReplyWriter, on_timeout: TimeoutReply) {
    match on_timeout {
        TimeoutReply::NullArray => out.null_array(),
        TimeoutReply::NullBulk => out.null(),
    }
}

/// Precomputed command flags (from the shared table's flag words).
pub mod flags {
    #![allow(missing_docs)]
    pub const WRITE: u32 = 1;
    pub const READONLY: u32 = 1 << 1;
    pub const ADMIN: u32 = 1 << 2;
    pub const NO_AUTH: u32 = 1 << 3;
    pub const NO_MULTI: u32 = 1 << 4;
    pub const PUBSUB: u32 = 1 << 5;
    pub const LOADING: u32 = 1 << 6;
    pub const STALE: u32 = 1 << 7;
    pub const DENYOOM: u32 = 1 << 8;
    pub const BLOCKING: u32 = 1 << 9;
    pub const FAST: u32 = 1 << 10;
    pub const NOSCRIPT: u32 = 1 << 11;
    /// Never replicated as itself (EXEC: its commands are).
    pub const NO_PROPAGATE: u32 = 1 << 12;
    /// Runs while a script is busy (`allow_busy`); every other command gets `-BUSY` then.
    pub const ALLOW_BUSY: u32 = 1 << 13;

    pub fn from_words(words: &[&str]) -> u32 {
        words
            .iter()
            .map(|w| match *w {
                "write" => WRITE,
                "readonly" => READONLY,
                "admin" => ADMIN,
                "no_auth" => NO_AUTH,
                "no_multi" => NO_MULTI,
                "pubsub" => PUBSUB,
                "loading" => LOADING,
                "stale" => STALE,
                "denyoom" => DENYOOM,
                "blocking" => BLOCKING,
                "fast" => FAST,
                "noscript" => NOSCRIPT,
                "allow_busy" => ALLOW_BUSY,
                _ => 0,
            })
            .fold(0, |a, b| a | b)
    }
}

/// A command the server implements.
pub struct Command {
    /// The shared table's entry (arity, flags, keys, docs).
    pub info: &'static CommandInfo,
    /// The implementation.
    pub handler: Handler,
    /// Flags, precomputed.
    pub flags: u32,
    /// Index into per-command statistics.
    pub index: usize,
}

impl std::fmt::Debug for CommandTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommandTable")
            .field("commands", &self.commands.len())
            .finish()
    }
}

/// Every command the server implements, by lower-case name.
pub struct CommandTable {
    by_name: crate::keyspace::FastMap<&'static [u8], usize>,
    commands: Vec<Command>,
}

impl CommandTable {
    fn build() -> CommandTable {
        let groups: &[&[(&'static str, Handler)]] = &[
            acl::COMMANDS,
            bits::COMMANDS,
            client::COMMANDS,
            config::COMMANDS,
            connection::COMMANDS,
            dump::COMMANDS,
            geo::COMMANDS,
            function::COMMANDS,
            hash::COMMANDS,
            hll::COMMANDS,
            keys::COMMANDS,
            latency::COMMANDS,
            list::COMMANDS,
            lolwut::COMMANDS,
            monitor::COMMANDS,
            memory::COMMANDS,
            pubsub::COMMANDS,
            repl::COMMANDS,
            script::COMMANDS,
            server::COMMANDS,
            set::COMMANDS,
            sort::COMMANDS,
            stream::COMMANDS,
            string::COMMANDS,
            tx::COMMANDS,
            zset::COMMANDS,
            crate::cluster::commands::COMMANDS,
            crate::cluster::migrate::COMMANDS,
        ];
        let all: Vec<(&'static str, Handler)> =
            groups.iter().flat_map(|g| g.iter().copied()).collect();
        CommandTable::from_handlers(&all)
    }

    /// A table of the named commands (each must be in the shared command table), with their
    /// handlers: a server's, or a sentinel's.
    pub fn from_handlers(handlers: &[(&'static str, Handler)]) -> CommandTable {
        let mut table = CommandTable {
            by_name: Default::default(),
            commands: Vec::new(),
        };
        for &(name, handler) in handlers {
            let info = rediscover::command::lookup(name.as_bytes())
                .unwrap_or_else(|| panic!("command {name} is missing from the shared table"));
            let index = table.commands.len();
            let prev = table.by_name.insert(info.name.as_bytes(), index);
            assert!(prev.is_none(), "command {name} registered twice");
            table.commands.push(Command {
                info,
                handler,
                flags: flags::from_words(info.flags)
                    | if name == "exec" || script::replicated_as_effects(name) {
                        flags::NO_PROPAGATE
                    } else {
                        0
                    },
                index,
            });
        }
        table
    }

    /// Looks up `name` case-insensitively.
    pub fn get(&self, name: &[u8]) -> Option<&Command> {
        let mut lower = [0u8; 32];
        if name.len() > lower.len() {
            return None;
        }
        for (d, s) in lower.iter_mut().zip(name) {
            *d = s.to_ascii_lowercase();
        }
        self.by_name
            .get(&lower[..name.len()])
            .map(|&i| &self.commands[i])
    }

    /// All implemented commands.
    pub fn commands(&self) -> &[Command] {
        &self.commands
    }

    /// Number of implemented commands.
    pub fn len(&self) -> usize {
        self.commands.len()
    }

    /// Whether no command is implemented.
    pub fn is_empty(&self) -> bool {
        self.commands.is_empty()
    }
}

/// The table of a Redis server (standalone, replica or cluster node). It is code, not state, so
/// it is built once per process; each node holds the table it runs with
/// ([`NodeState::commands`]), so nodes of different kinds (a sentinel, with its own table) can
/// share a process.
pub fn server_table() -> &'static CommandTable {
    static TABLE: OnceLock<CommandTable> = OnceLock::new();
    TABLE.get_or_init(CommandTable::build)
}

/// Writes an error reply for a command that was refused before it ran, and counts it.
/// The INFO commandstats counters of `cmd` (the table grows on first use: a command refused
/// before it ever ran still counts its rejection).
pub(crate) fn command_stats<'a>(node: &'a mut NodeState, cmd: &Command) -> &'a mut CommandStats {
    if node.stats.commands.len() <= cmd.index {
        node.stats
            .commands
            .resize(node.commands.len().max(cmd.index + 1), Default::default());
    }
    &mut node.stats.commands[cmd.index]
}

fn reject(ctx: &mut Ctx<'_>, cmd: Option<&Command>, err: &[u8]) {
    if ctx.client.multi.is_some() {
        ctx.client.multi_error = true;
    }
    if let Some(cmd) = cmd {
        command_stats(ctx.node, cmd).rejected_calls += 1;
        // Redis's `execCommandAbort`: a refused EXEC discards the transaction and says why.
        if cmd.info.name.eq_ignore_ascii_case("exec") {
            ctx.client.multi = None;
            ctx.client.multi_error = false;
            tx::unwatch_all(ctx);
            let mut abort = b"EXECABORT Transaction discarded because of: ".to_vec();
            abort.extend_from_slice(err.strip_prefix(b"-").unwrap_or(err));
            count_error(ctx.node, &abort);
            ctx.out.error_bytes(&abort);
            return;
        }
    }
    count_error(ctx.node, err);
    ctx.out.error_bytes(err);
}

/// Counts an error reply in INFO errorstats (for errors not written by [`call`], such as a
/// script's rejected `redis.call`).
pub(crate) fn count_error_text(node: &mut NodeState, err: &[u8]) {
    count_error(node, err)
}

fn count_error(node: &mut NodeState, err: &[u8]) {
    node.stats.error_replies += 1;
    let code = err.split(|&b| b == b' ').next().unwrap_or(b"ERR");
    let code = std::str::from_utf8(code).unwrap_or("ERR");
    match node.stats.errors.get_mut(code) {
        Some(n) => *n += 1,
        None => {
            node.stats.errors.insert(code.to_string(), 1);
        }
    }
}

/// Runs one command from a client, with every check Redis makes before it.
pub fn process(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let mark = ctx.out.len();
    if ctx.node.tracking.active() {
        crate::tracking::limit_keys(ctx.node);
    }
    process_inner(ctx, argv);
    if ctx.node.tracking.active() && ctx.client.multi.is_none() && !eq_ic(&argv[0], "client") {
        // CLIENT CACHING applies to the next command only (or to the next transaction).
        if let Some(mode) = ctx.node.tracking.clients.get_mut(&ctx.client.id) {
            mode.caching = false;
        }
    }
    // ASKING is good for one command (kept through a transaction).
    if ctx.client.asking && ctx.client.multi.is_none() && !argv[0].eq_ignore_ascii_case(b"asking") {
        ctx.client.asking = false;
    }
    match ctx.client.reply_mode {
        ReplyMode::On => {}
        ReplyMode::Off => ctx.out.truncate(mark),
        ReplyMode::Skip => ctx.client.reply_mode = ReplyMode::SkipThis,
        ReplyMode::SkipThis => {
            ctx.out.truncate(mark);
            ctx.client.reply_mode = ReplyMode::On;
        }
    }
}

fn process_inner(ctx: &mut Ctx<'_>, argv: &[Bytes]) {
    let Some(cmd) = ctx.node.commands.get(&argv[0]) else {
        let err = error_codes::unknown_command(&argv[0], &argv[1..]);
        reject(ctx, None, &err);
        return;
    };
    if !cmd.info.arity_ok(argv.len()) {
        reject(
            ctx,
            Some(cmd),
            error_codes::wrong_arity(cmd.info.name).as_bytes(),
        );
        return;
    }
    // Redis resolves the subcommand with the command (`lookupCommand`): an unknown one, or one
    // with the wrong number of arguments, is refused before authentication and ACL checks.
    if argv.len() >= 2 && !cmd.info.subcommands.is_empty() {
        match cmd.info.subcommand(&argv[1]) {
            None => {
                let err = error_codes::unknown_subcommand(cmd.info.name, &argv[1]);
                reject(ctx, None, &err);
                return;
            }
            Some(sub) if !sub.arity_ok(argv.len()) => {
                reject(
                    ctx,
                    Some(cmd),
                    error_codes::wrong_arity(sub.name).as_bytes(),
                );
                return;
            }
            Some(_) => {}
        }
    }
    // A protected command (`enable-debug-command`) is refused before AUTH and ACL, and counts as
    // rejected.
    if cmd.info.name == "debug" && !server::debug_allowed(ctx) {
        reject(ctx, Some(cmd), msg::DEBUG_DISABLED.as_bytes());
        return;
    }
    if !ctx.client.authenticated && cmd.flags & flags::NO_AUTH == 0 {
        reject(ctx, Some(cmd), msg::NOAUTH.as_bytes());
        return;
    }
    if ctx.client.master_link {
        // A replica obeys its master: no ACL, no role gate.
    } else {
        if let Err((denied, info)) = acl_check(ctx.node, &ctx.client.user, cmd, argv) {
            let context = if ctx.client.multi.is_some() {
                "multi"
            } else {
                "toplevel"
            };
            log_denial(ctx, denied, info, argv, context);
            reject(ctx, Some(cmd), denied.reply(info).as_bytes());
            return;
        }
        if let Err(e) = gate(ctx, cmd, argv) {
            reject(ctx, Some(cmd), &e.0);
            return;
        }
    }
    if ctx.client.multi.is_some()
        && !tx::runs_inside_multi(cmd.info.name)
        && cmd.flags & flags::NO_MULTI != 0
    {
        reject(
            ctx,
            Some(cmd),
            b"ERR Command not allowed inside a transaction",
        );
        return;
    }
    if ctx.client.in_resp2_pubsub() && !allowed_in_resp2_pubsub(cmd.info.name) {
        let err = msg::SUBSCRIBE_CONTEXT.replace("%s", &cmd.info.name.to_ascii_lowercase());
        reject(ctx, Some(cmd), err.as_bytes());
        return;
    }
    // Commands only run here while a script is busy when its hook serves clients
    // (script::busy): past Redis's other checks, only `allow_busy` ones run.
    if ctx.node.scripts.busy.is_running() && !allowed_while_busy(cmd, argv) {
        let err = ctx.node.scripts.busy.busy_error();
        reject(ctx, Some(cmd), err.as_bytes());
        return;
    }
    if ctx.client.multi.is_some() && !tx::runs_inside_multi(cmd.info.name) {
        if cmd.flags & flags::NO_MULTI != 0 {
            reject(
                ctx,
                Some(cmd),
                b"ERR Command not allowed inside a transaction",
            );
            return;
        }
        if let Some(queue) = ctx.client.multi.as_mut() {
            queue.push(argv.to_vec());
        }
        ctx.out.simple("QUEUED");
        return;
    }
    call(ctx, cmd, argv);
    // A later WAIT waits for the replication offset as of this command, whatever it was (a
    // read too), as Redis sets `c->woff` after every command it runs.
    ctx.client.woff = ctx.node.repl.offset();
}

/// Whether a command runs while a script is busy: its own `allow_busy` flag, or its
/// subcommand's for a container (SCRIPT KILL, FUNCTION STATS). An unknown subcommand goes on to
/// its container's "unknown subcommand" error, which Redis gives before the busy check.
fn allowed_while_busy(cmd: &Command, argv: &[Bytes]) -> bool {
    match argv.get(1) {
        Some(sub) if !cmd.info.subcommands.is_empty() => cmd
            .info
            .subcommand(sub)
            .map_or(true, |info| info.flags.contains(&"allow_busy")),
        _ => cmd.flags & flags::ALLOW_BUSY != 0,
    }
}

/// Redis's `ACLCheckAllPerm`: whether `user` may run `cmd` with these arguments, by its command
/// rules and the keys and channels the arguments name. On refusal, why, and the command or
/// subcommand refused.
pub(crate) fn acl_check(
    node: &NodeState,
    user: &[u8],
    cmd: &Command,
    argv: &[Bytes],
) -> Result<(), (crate::acl::Denied, &'static CommandInfo)> {
    let Some(rules) = node.acl.rules.get(user) else {
        return Ok(());
    };
    let info = match argv.get(1) {
        Some(sub) if !cmd.info.subcommands.is_empty() => {
            cmd.info.subcommand(sub).unwrap_or(cmd.info)
        }
        _ => cmd.info,
    };
    let keys: Vec<(usize, crate::acl::KeyAccess)> = crate::cluster::gate::key_refs(cmd, argv)
        .into_iter()
        .map(|(pos, flags)| (pos, crate::acl::KeyAccess::from_flags(flags)))
        .collect();
    // Redis's channel table (`commands_with_channels`); unsubscribing is never refused.
    let channels: Vec<(usize, bool)> = match info.name {
        "subscribe" | "ssubscribe" => (1..argv.len()).map(|i| (i, false)).collect(),
        "psubscribe" => (1..argv.len()).map(|i| (i, true)).collect(),
        "publish" | "spublish" => vec![(1, false)],
        _ => Vec::new(),
    };
    let req = crate::acl::Request {
        info,
        argv,
        keys: &keys,
        channels: &channels,
    };
    rules.check(&req).map_err(|d| (d, info))
}

/// Adds a refusal to the ACL LOG (Redis's `addACLLogEntry`).
pub(crate) fn log_denial(
    ctx: &mut Ctx<'_>,
    denied: crate::acl::Denied,
    info: &CommandInfo,
    argv: &[Bytes],
    context: &'static str,
) {
    let entry = crate::acl::LogEntry {
        count: 1,
        reason: denied.reason(),
        context,
        object: denied.object(info, argv),
        username: ctx.client.user.to_vec(),
        ctime_ms: ctx.now,
        client_info: client::self_line(ctx, info.name),
    };
    let max = ctx.node.config.extra_or("acllog-max-len", "128");
    ctx.node.acl.log(entry, max.parse().unwrap_or(128));
}

/// What the gate knows about the command it checks: the table entry, the arguments, and
/// (computed on first use, from the shared key-spec table) the positions of its keys.
pub struct GateCall<'a> {
    /// The command.
    pub cmd: &'a Command,
    /// Its arguments, name included.
    pub argv: &'a [Bytes],
    keys: OnceCell<Vec<usize>>,
}

impl<'a> GateCall<'a> {
    fn new(cmd: &'a Command, argv: &'a [Bytes]) -> Self {
        Self::for_script(cmd, argv)
    }

    /// The gate's view of a command a script runs.
    pub(crate) fn for_script(cmd: &'a Command, argv: &'a [Bytes]) -> Self {
        GateCall {
            cmd,
            argv,
            keys: OnceCell::new(),
        }
    }

    /// Positions in `argv` of the command's keys, as Redis's `getKeysFromCommand` finds them
    /// (the shared key-spec table, a container's subcommand, MIGRATE's and SORT's own rules).
    pub fn key_positions(&self) -> &[usize] {
        self.keys
            .get_or_init(|| crate::cluster::gate::key_positions(self.cmd, self.argv))
    }

    /// The command's keys.
    pub fn keys(&self) -> impl Iterator<Item = &'a Bytes> + '_ {
        self.key_positions().iter().map(|&i| &self.argv[i])
    }
}

/// Checks that depend on the node's role and topology, before a command runs or is queued, in
/// Redis's order: cluster slot ownership first (when the node is a cluster node), then not
/// enough good replicas (`min-replicas-to-write`), a read-only replica, a replica whose master
/// is down and that must not serve stale data.
fn gate(ctx: &mut Ctx<'_>, cmd: &Command, argv: &[Bytes]) -> CmdResult {
    let call = GateCall::new(cmd, argv);
    if ctx.node.cluster.is_some() {
        crate::cluster::gate::check(ctx, &call)?;
    }
    maxmemory_gate(ctx, cmd)?;
    role_gate(ctx, &call)
}

/// Redis's maxmemory step of `processCommand`: evict by the policy, and when that cannot bring
/// the node under `maxmemory`, refuse commands that may grow the dataset (`denyoom`, an EXEC
/// queuing one) and anything but EXEC/DISCARD/QUIT/RESET inside MULTI.
fn maxmemory_gate(ctx: &mut Ctx<'_>, cmd: &Command) -> CmdResult {
    if ctx.node.config.maxmemory == 0 {
        return Ok(());
    }
    let out_of_memory = crate::memory::perform_evictions(ctx.node) == crate::memory::Evict::Fail;
    if !out_of_memory {
        return Ok(());
    }
    let name = cmd.info.name;
    let denyoom = cmd.flags & flags::DENYOOM != 0
        || (name == "exec" && queued_flags(ctx.node.commands, ctx.client) & flags::DENYOOM != 0);
    let in_multi =
        ctx.client.multi.is_some() && !matches!(name, "exec" | "discard" | "quit" | "reset");
    if denyoom || in_multi {
        return Err(msg::OOM.into());
    }
    Ok(())
}

/// The replication role's part of [`gate`].
fn role_gate(ctx: &mut Ctx<'_>, call: &GateCall<'_>) -> CmdResult {
    let cmd = call.cmd;
    // EVAL of a script with a shebang is a write or a read as its flags say (looked up only
    // when a check needs it).
    let cmd_flags = || script::gate_flags(ctx, cmd, call.argv);
    let st = &*ctx.node;
    let is_write = || {
        cmd_flags() & flags::WRITE != 0
            || (cmd.flags & flags::NO_PROPAGATE != 0
                && queued_flags(st.commands, ctx.client) & flags::WRITE != 0)
    };
    // Writes are refused after a failed BGSAVE (with save points and
    // `stop-writes-on-bgsave-error`) until a save works, PING too, as Redis's
    // `writeCommandsDeniedByDiskError`.
    if crate::rdb::bgsave::writes_denied(st) && (cmd.info.name == "ping" || is_write()) {
        return Err(crate::rdb::bgsave::MISCONF.into());
    }
    // Writes the AOF could not take are refused until it can again (PING too, as Redis).
    if let Some(e) = st.aof.write_error() {
        if cmd.info.name == "ping" || is_write() {
            return Err(format!("MISCONF Errors writing to the AOF file: {e}").into());
        }
    }
    if st.repl.is_master() {
        let min = st.config.min_replicas_to_write;
        if min > 0
            && st.config.min_replicas_max_lag > 0
            && is_write()
            && (st
                .repl
                .good_replicas(st.config.min_replicas_max_lag, Instant::now())
                as i64)
                < min
        {
            return Err(msg::NOREPLICAS.into());
        }
        return Ok(());
    }
    if st.config.replica_read_only && is_write() {
        return Err(msg::READONLY.into());
    }
    let link_up = st
        .repl
        .master
        .as_ref()
        .is_some_and(|m| m.state == crate::repl::LinkState::Connected);
    if !link_up && !st.config.replica_serve_stale_data && cmd_flags() & flags::STALE == 0 {
        return Err(msg::MASTERDOWN.into());
    }
    Ok(())
}

/// Flags of the commands queued in the client's MULTI, or-ed together.
pub fn queued_flags(table: &CommandTable, client: &Client) -> u32 {
    client.multi.as_ref().map_or(0, |queue| {
        queue
            .iter()
            .filter_map(|argv| table.get(&argv[0]))
            .fold(0, |acc, c| acc | c.flags)
    })
}

fn allowed_in_resp2_pubsub(name: &str) -> bool {
    matches!(
        name,
        "subscribe"
            | "psubscribe"
            | "unsubscribe"
            | "punsubscribe"
            | "ping"
            | "quit"
            | "reset"
            | "ssubscribe"
            | "sunsubscribe"
    )
}

/// Runs a command that passed every check (also used by EXEC for queued commands).
pub fn call(ctx: &mut Ctx<'_>, cmd: &Command, argv: &[Bytes]) {
    let mark = ctx.out.len();
    ctx.client.last_cmd = match argv.get(1) {
        Some(sub) if !cmd.info.subcommands.is_empty() => {
            cmd.info.subcommand(sub).map_or(cmd.info.name, |s| s.name)
        }
        _ => cmd.info.name,
    };
    let started = ctx.tick;
    let changes = ctx.node.changes;
    ctx.node.dbs[ctx.client.db].access = ctx.node.memory.settings.access;
    // EXEC runs commands through here: keep its own propagation state apart from theirs.
    let outer_ops = ctx.prop_ops.take();
    let outer_force = std::mem::take(&mut ctx.prop_force);
    if !ctx.node.monitors.is_empty() && ctx.ready_key.is_none() {
        monitor::feed_script(ctx, cmd, argv);
    }
    let result = (cmd.handler)(ctx, argv);
    let ops = std::mem::replace(&mut ctx.prop_ops, outer_ops);
    let force = std::mem::replace(&mut ctx.prop_force, outer_force);
    if ctx.node.repl.propagating() {
        propagate(ctx, cmd, argv, ctx.node.changes != changes || force, ops);
    }
    if ctx.node.changes != changes {
        crate::memory::note_peak(ctx.node);
    }
    let ended = Instant::now();
    ctx.tick = ended;
    let usec = ended.saturating_duration_since(started).as_micros() as u64;
    crate::slowlog::observe(ctx, cmd.info, argv, usec);
    let event = if cmd.flags & flags::FAST != 0 {
        "fast-command"
    } else {
        "command"
    };
    ctx.node
        .memory
        .latency
        .add_ms_if_needed(event, usec / 1000, &ctx.node.config);
    if ctx.node.memory.settings.latency_tracking && !ctx.is_blocked() {
        let name = ctx.client.last_cmd;
        let hists = &mut ctx.node.memory.histograms;
        match hists.get_mut(name) {
            Some(h) => h.record(usec),
            None => hists.entry(name).or_default().record(usec),
        }
    }
    let node = &mut *ctx.node;
    node.stats.commands_processed += 1;
    let stats = command_stats(node, cmd);
    stats.calls += 1;
    stats.usec += usec;
    if let Err(e) = result {
        stats.failed_calls += 1;
        ctx.out.truncate(mark);
        ctx.take_block();
        count_error(ctx.node, &e.0);
        ctx.out.error_bytes(&e.0);
    }
    if ctx.node.tracking.active() {
        track_after_call(ctx, cmd, argv);
    }
    // A blocked client's command is shown once, when it first ran.
    if !ctx.node.monitors.is_empty() && ctx.ready_key.is_none() {
        monitor::feed(ctx, cmd, argv);
    }
    if ctx.node.notify_flags != 0 {
        // Events the databases raised (`new`, `expired`) and no later event published.
        crate::notify::flush_pending(ctx.node, (ctx.client.id, &mut *ctx.out));
    }
    // A transaction is one command to blocked clients: they are served after EXEC, not between
    // its commands (EXEC itself goes through here).
    if !ctx.in_exec {
        after_command(ctx.node);
    }
}

/// CLIENT TRACKING's part of a command: the keys a read fetched are remembered for its client
/// (unless OPTIN/OPTOUT say otherwise), keys the command modified are invalidated, and at the
/// top level the client's own invalidations follow its reply.
fn track_after_call(ctx: &mut Ctx<'_>, cmd: &Command, argv: &[Bytes]) {
    let me = ctx.client.id;
    if cmd.flags & flags::READONLY != 0 && cmd.flags & flags::PUBSUB == 0 {
        if let Some(mode) = ctx.node.tracking.clients.get(&me) {
            let skip = mode.bcast || (mode.optin && !mode.caching) || (mode.optout && mode.caching);
            if !skip {
                let keys = crate::cluster::gate::key_positions(cmd, argv);
                ctx.node
                    .tracking
                    .remember(me, keys.into_iter().map(|i| owned(&argv[i])));
            }
        }
    }
    crate::tracking::invalidate_touched(ctx.node, me);
    if !ctx.in_exec {
        crate::tracking::flush_self(ctx.node, me, ctx.out);
        crate::tracking::broadcast(ctx.node, Some((me, &mut *ctx.out)));
    }
}

/// Queues what the command just run is replicated as, and at the top level (not inside EXEC)
/// encodes it into the stream.
fn propagate(
    ctx: &mut Ctx<'_>,
    cmd: &Command,
    argv: &[Bytes],
    changed: bool,
    ops: Option<Vec<Vec<Bytes>>>,
) {
    // Keys the command found expired are deleted on replicas first.
    ctx.node.note_expired();
    if changed && cmd.flags & flags::NO_PROPAGATE == 0 {
        let db = ctx.client.db;
        match ops {
            Some(ops) => {
                for op in ops {
                    ctx.node.repl.push(db, op);
                }
            }
            None => ctx.node.repl.push(db, argv.to_vec()),
        }
    }
    if !ctx.in_exec && ctx.node.repl.flush_pending() {
        ctx.client.woff = ctx.node.repl.offset();
    }
}

/// Bookkeeping after any command: WATCH invalidation and serving clients blocked on keys that
/// just received data.
pub fn after_command(node: &mut NodeState) {
    node.collect_db_events();
    if node.tracking.active() {
        // Keys modified outside a client's command (active expiry), then BCAST batches.
        crate::tracking::invalidate_touched(node, 0);
        crate::tracking::broadcast(node, None);
    }
    serve_ready_keys(node);
}

/// Runs the commands of clients blocked on keys that have received data, in arrival order,
/// until no ready key is left (a served BLMOVE can make another key ready).
fn serve_ready_keys(node: &mut NodeState) {
    loop {
        if node.dbs.iter().all(|db| db.ready.is_empty()) {
            return;
        }
        let mut ready = Vec::new();
        for (i, db) in node.dbs.iter_mut().enumerate() {
            for key in db.ready.drain(..) {
                ready.push((i, key));
            }
        }
        if ready.is_empty() {
            return;
        }
        for (db, key) in ready {
            let Some(queue) = node.wait_queues.get(&(db, key.clone())) else {
                continue;
            };
            let ids: Vec<_> = queue.iter().copied().collect();
            for id in ids {
                let now = crate::node::unix_ms();
                let type_name = node.dbs[db].get(&key, now).map(|v| v.type_name());
                // XREADGROUP depends on the stream and its group: when the stream is deleted
                // or replaced, its readers are failed rather than left waiting (Redis's
                // unblockDeletedStreamReadgroupClients).
                let group_reader = node
                    .waiters
                    .get(&id)
                    .is_some_and(|w| w.argv[0].eq_ignore_ascii_case(b"xreadgroup"));
                if group_reader && type_name != Some("stream") {
                    if let Some(waiter) = node.unpark(id) {
                        fail_waiter(node, waiter, b"UNBLOCKED the stream key no longer exists");
                    }
                    continue;
                }
                let Some(type_name) = type_name else {
                    continue;
                };
                // A waiter is served only by a value of the type it pops: BLPOP stays blocked
                // when the key is created as a string, as in Redis.
                let wants = node
                    .waiters
                    .get(&id)
                    .and_then(|w| node.commands.get(&w.argv[0]))
                    .map(|c| waited_type(c.info));
                if wants.is_some_and(|t| t != type_name) {
                    continue;
                }
                let Some(waiter) = node.unpark(id) else {
                    continue;
                };
                serve_waiter(node, waiter, &key);
            }
        }
    }
}

/// The value type a blocking command pops from, from its ACL category.
fn waited_type(info: &CommandInfo) -> &'static str {
    if info.acl_categories.contains(&"@sortedset") {
        "zset"
    } else if info.acl_categories.contains(&"@stream") {
        "stream"
    } else {
        "list"
    }
}

/// Answers a parked client with an error and unparks it for good.
fn fail_waiter(node: &mut NodeState, waiter: Waiter, err: &[u8]) {
    let mut out = ReplyWriter::new(waiter.client.resp3);
    out.error_bytes(err);
    count_error(node, err);
    let _ = waiter.wake.send((waiter.client, out.take()));
}

/// Runs a parked client's command again. `ready_key` is the key that received data: Redis 7.0
/// serves the client from that key, whatever the order of keys in its command.
fn serve_waiter(node: &mut NodeState, waiter: Waiter, ready_key: &Bytes) {
    let Waiter {
        mut client,
        argv,
        keys,
        db,
        on_timeout,
        wake,
    } = waiter;
    let Some(cmd) = node.commands.get(&argv[0]) else {
        return;
    };
    let mut out = ReplyWriter::new(client.resp3);
    let blocked = {
        let mut ctx = Ctx::new(node, &mut client, &mut out);
        ctx.ready_key = Some(ready_key.clone());
        call(&mut ctx, cmd, &argv);
        ctx.take_block()
    };
    if blocked.is_some() {
        // Still nothing for it (another waiter took the data first): park it again.
        node.park(Waiter {
            client,
            argv,
            keys,
            db,
            on_timeout,
            wake,
        });
        return;
    }
    // If the connection is gone the reply is dropped; what its command did stays done, as it
    // would in Redis if the client vanished right after being served.
    let _ = wake.send((client, out.take()));
}

/// Drops a departing client's WATCHes and subscriptions.
pub fn forget_client(ctx: &mut Ctx<'_>) {
    monitor::stop(ctx.node, ctx.client);
    if ctx.node.tracking.clients.contains_key(&ctx.client.id) {
        ctx.node.tracking.disable(ctx.client.id);
        ctx.node.sync_tracking();
    }
    tx::unwatch_all(ctx);
    pubsub::unsubscribe_all(ctx.node, ctx.client);
}
