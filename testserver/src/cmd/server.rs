//! Server commands: INFO, COMMAND, TIME, LASTSAVE, SAVE, BGSAVE, ROLE, DEBUG, SHUTDOWN, SLOWLOG;
//! shared helpers for subcommand containers.

use bytes::Bytes;
use rediscover::command::{BeginSearch, CommandInfo, FindKeys};
use rediscover::error_codes::{self, msg};

use super::{eq_ic, CmdResult, Ctx, Error, Handler};

pub(crate) const COMMANDS: &[(&str, Handler)] = &[
    ("info", info),
    ("command", command),
    ("time", time),
    ("lastsave", lastsave),
    ("save", save),
    ("bgsave", bgsave),
    ("bgrewriteaof", bgrewriteaof),
    ("debug", debug),
    ("shutdown", shutdown),
    ("slowlog", slowlog),
];

/// Resolves `argv[1]` as a subcommand of `argv[0]` and checks its arity; returns its full name
/// (`config|get`). Errors are Redis's unknown-subcommand and wrong-arity texts.
pub(crate) fn subcommand(argv: &[Bytes]) -> Result<&'static str, Error> {
    let container = rediscover::command::lookup(&argv[0]).ok_or(msg::SYNTAX)?;
    let Some(sub) = container.subcommand(&argv[1]) else {
        return Err(error_codes::unknown_subcommand(container.name, &argv[1]).into());
    };
    if !sub.arity_ok(argv.len()) {
        return Err(error_codes::wrong_arity(sub.name).into());
    }
    Ok(sub.name)
}

/// Writes a HELP reply the way Redis's `addReplyHelp` does: a title line, the lines, and the
/// closing `HELP` entry, as status strings.
pub(crate) fn help(ctx: &mut Ctx<'_>, command: &str, lines: &[&str]) {
    ctx.out.array(lines.len() + 3);
    ctx.out.simple(&format!(
        "{command} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    ));
    for line in lines {
        ctx.out.simple(line);
    }
    ctx.out.simple("HELP");
    ctx.out.simple("    Prints this help.");
}

fn info(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let text = crate::info::render(ctx.node, &argv[1..]);
    ctx.out.verbatim(b"txt", text.as_bytes());
    Ok(())
}

fn time(ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CmdResult {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    ctx.out.array(2);
    ctx.out.bulk(now.as_secs().to_string().as_bytes());
    ctx.out.bulk(now.subsec_micros().to_string().as_bytes());
    Ok(())
}

fn lastsave(ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CmdResult {
    ctx.out.int(ctx.node.last_save);
    Ok(())
}

/// SAVE: a synchronous save, refused while a BGSAVE runs (an AOF rewrite does not stop it).
fn save(ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CmdResult {
    if ctx.node.persistence.bgsave_in_progress() {
        return Err(BGSAVE_IN_PROGRESS.into());
    }
    ctx.node.persistence.saves += 1;
    // Redis answers a failed save with a bare `-ERR` (the reason goes to its log).
    crate::rdb::persist::save(ctx.node, ctx.now).map_err(|_| "ERR")?;
    ctx.out.ok();
    Ok(())
}

const BGSAVE_IN_PROGRESS: &str = "ERR Background save already in progress";

/// BGSAVE [SCHEDULE] (see [`crate::rdb::bgsave`]): the save runs on a thread; INFO's
/// `rdb_bgsave_in_progress` and `rdb_last_bgsave_status` tell how it goes. While an AOF
/// rewrite runs, and inside EXEC, it can only be scheduled.
fn bgsave(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let schedule = match argv.len() {
        1 => false,
        2 if eq_ic(&argv[1], "SCHEDULE") => true,
        _ => return Err(msg::SYNTAX.into()),
    };
    if ctx.node.persistence.bgsave_in_progress() {
        return Err(BGSAVE_IN_PROGRESS.into());
    }
    if crate::rdb::bgsave::active_child(ctx.node) || ctx.in_exec {
        if !(schedule || ctx.in_exec) {
            return Err("ERR Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.".into());
        }
        ctx.node.persistence.bgsave_scheduled = true;
        ctx.out.simple("Background saving scheduled");
        return Ok(());
    }
    crate::rdb::bgsave::start(ctx.node).map_err(|()| "ERR")?;
    ctx.out.simple("Background saving started");
    Ok(())
}

/// BGREWRITEAOF: starts a rewrite of the AOF (see [`crate::aof`]), or schedules one inside
/// EXEC.
fn bgrewriteaof(ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CmdResult {
    let status = crate::aof::bgrewriteaof(ctx.node, ctx.in_exec)?;
    ctx.out.simple(status);
    Ok(())
}

/// DEBUG RELOAD [MERGE] [NOFLUSH] [NOSAVE]: save, then load the file back. The file is loaded
/// completely before anything changes, so a failed load leaves the data as it was (Redis would
/// have flushed it already).
fn debug_reload(ctx: &mut Ctx<'_>, options: &[Bytes]) -> CmdResult {
    let (mut merge, mut flush, mut save) = (false, true, true);
    for opt in options {
        if eq_ic(opt, "MERGE") {
            merge = true;
        } else if eq_ic(opt, "NOFLUSH") {
            flush = false;
        } else if eq_ic(opt, "NOSAVE") {
            save = false;
        } else {
            return Err(
                "ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.".into(),
            );
        }
    }
    if save {
        crate::rdb::persist::save(ctx.node, ctx.now).map_err(|_| "ERR")?;
    }
    const LOAD_FAILED: &str = "ERR Error trying to load the RDB dump";
    let options = crate::rdb::LoadOptions::from_config(&ctx.node.config, ctx.now);
    let path = crate::rdb::persist::rdb_path(&ctx.node.config);
    let snapshot = crate::rdb::load_file(&path, &options).map_err(|_| LOAD_FAILED)?;
    crate::rdb::persist::note_loaded(ctx.node, &snapshot);
    if flush {
        crate::rdb::persist::install(ctx.node, snapshot);
        // Redis empties the data first (emptyData): tracking clients drop their caches.
        crate::tracking::invalidate_all(ctx.node, ctx.client.id);
    } else {
        crate::rdb::persist::merge(ctx.node, snapshot, merge).map_err(|_| LOAD_FAILED)?;
    }
    ctx.out.ok();
    Ok(())
}

fn shutdown(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let (mut save, mut nosave, mut abort, mut now) = (false, false, false, false);
    let mut force = false;
    for arg in &argv[1..] {
        if eq_ic(arg, "NOSAVE") {
            nosave = true;
        } else if eq_ic(arg, "SAVE") {
            save = true;
        } else if eq_ic(arg, "NOW") || eq_ic(arg, "FORCE") {
            now = true;
            force |= eq_ic(arg, "FORCE");
        } else if eq_ic(arg, "ABORT") {
            abort = true;
        } else {
            return Err(msg::SYNTAX.into());
        }
    }
    if (abort && (save || nosave || now)) || (save && nosave) {
        return Err(msg::SYNTAX.into());
    }
    if abort {
        // Only a shutdown waiting for lagging replicas can be aborted.
        if !ctx.node.shutdown_draining {
            return Err("ERR No shutdown in progress.".into());
        }
        ctx.node.shutdown_requested = false;
        ctx.node.shutdown_draining = false;
        ctx.node.pause = None;
        ctx.node
            .log(crate::logging::Level::Warning, "Shutdown manually aborted.");
        ctx.out.ok();
        return Ok(());
    }
    let busy = &ctx.node.scripts.busy;
    if busy.is_running() {
        // Served from inside a busy script (script::busy): only NOSAVE may stop it, and it
        // stops it whatever it wrote.
        if !nosave {
            return Err(busy.busy_error().into());
        }
        busy.set_flag(crate::script::busy::flag::SHUTDOWN);
    }
    // The AOF just turned on exists only once its first rewrite is done.
    if ctx.node.aof.state == crate::aof::State::WaitRewrite && ctx.node.aof.rewrite_in_progress() {
        if force {
            ctx.node.log(
                crate::logging::Level::Warning,
                "Writing initial AOF. Exit anyway.",
            );
        } else {
            ctx.node.log(
                crate::logging::Level::Warning,
                "Writing initial AOF, can't exit.",
            );
            return Err("ERR Errors trying to SHUTDOWN. Check logs.".into());
        }
    }
    // Redis's `finishShutdown`: a running BGSAVE is killed, then the RDB is saved with SAVE,
    // or with save points unless NOSAVE (an in-process server has none unless configured:
    // see `crate::rdb::bgsave`). FORCE exits even when that save fails.
    if crate::rdb::bgsave::shutdown_save(ctx.node, save, nosave).is_err() {
        if force {
            ctx.node.log(
                crate::logging::Level::Warning,
                "Error trying to save the DB. Exit anyway.",
            );
        } else {
            ctx.node.log(
                crate::logging::Level::Warning,
                "Error trying to save the DB, can't exit.",
            );
            ctx.node.log(
                crate::logging::Level::Warning,
                "Errors trying to shut down the server. Check the logs for more information.",
            );
            return Err("ERR Errors trying to SHUTDOWN. Check logs.".into());
        }
    }
    ctx.node.shutdown_requested = true;
    ctx.node.shutdown_now = now;
    ctx.close_after_reply();
    Ok(())
}

/// Whether this client may run DEBUG (`enable-debug-command`): checked with the command lookup,
/// before authentication and ACL, as Redis checks its protected commands.
pub(crate) fn debug_allowed(ctx: &Ctx<'_>) -> bool {
    match ctx.node.config.enable_debug_command.as_str() {
        "yes" => true,
        "local" => ctx.client.addr.ip().is_loopback(),
        _ => false,
    }
}

fn debug(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let sub = &argv[1];
    if eq_ic(sub, "HELP") && argv.len() == 2 {
        // Only the subcommands this server implements are listed.
        help(
            ctx,
            "DEBUG",
            &[
                "DIGEST",
                "    Output a hex signature representing the current DB content.",
                "DIGEST-VALUE <key> [<key> ...]",
                "    Output a hex signature of the values of all the specified keys.",
                "ERROR <string>",
                "    Return a Redis protocol error with <string> as message. Useful for clients",
                "    unit tests to simulate Redis errors.",
                "LOADAOF",
                "    Flush the AOF buffers on disk and reload the AOF in memory.",
                "RELOAD [option ...]",
                "    Save the RDB on disk and reload it back to memory. Valid <option> values:",
                "    * MERGE: conflicting keys will be loaded from RDB.",
                "    * NOFLUSH: the existing database will not be removed before load, but",
                "      conflicting keys will generate an exception and kill the server.",
                "    * NOSAVE: the database will be loaded from an existing RDB file.",
                "    Examples:",
                "    * DEBUG RELOAD: verify that the server is able to persist, flush and reload",
                "      the database.",
                "    * DEBUG RELOAD NOSAVE: replace the current database with the contents of an",
                "      existing RDB file.",
                "    * DEBUG RELOAD NOSAVE NOFLUSH MERGE: add the contents of an existing RDB",
                "      file to the database.",
                "SET-ACTIVE-EXPIRE <0|1>",
                "    Setting it to 0 disables expiring keys in background when they are not",
                "    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
                "    default.",
                "SLEEP <seconds>",
                "    Stop the server for <seconds>. Decimals allowed.",
            ],
        );
    } else if eq_ic(sub, "DIGEST") && argv.len() == 2 {
        let digest = crate::keyspace::digest::dataset_digest(&ctx.node.dbs);
        ctx.out.simple(&crate::keyspace::digest::hex(&digest));
    } else if eq_ic(sub, "DIGEST-VALUE") {
        // The dict itself, as Redis reads it: logically expired keys still have their digest.
        ctx.out.array(argv.len() - 2);
        for key in &argv[2..] {
            let digest = crate::keyspace::digest::key_digest(&ctx.node.dbs[ctx.client.db], key);
            ctx.out.simple(&crate::keyspace::digest::hex(&digest));
        }
    } else if eq_ic(sub, "RELOAD") {
        debug_reload(ctx, &argv[2..])?;
    } else if eq_ic(sub, "LOADAOF") && argv.len() == 2 {
        if let Err(e) = crate::aof::debug_loadaof(ctx.node) {
            // Redis exits here: the node stops, the caller gets no reply.
            ctx.node.log(crate::logging::Level::Warning, &e);
            if let Some(node) = ctx.node.self_ref.upgrade() {
                node.shutdown();
            }
            ctx.close_after_reply();
            return Ok(());
        }
        ctx.out.ok();
    } else if eq_ic(sub, "SLEEP") && argv.len() == 3 {
        // strtod semantics: garbage reads as 0.
        let secs = super::parse_f64_opt(&argv[2]).unwrap_or(0.0);
        let ms = (secs * 1000.0) as i64;
        if ms > 0 {
            // Redis freezes the whole server; here every client is paused for the duration.
            let until = ctx.now.saturating_add(ms);
            super::client::pause_clients(ctx, until, false);
            // The caller's reply, like Redis's, comes when the sleep is over.
            ctx.finish_with(super::Outcome::Hold(until));
        }
        ctx.out.ok();
    } else if eq_ic(sub, "SET-ACTIVE-EXPIRE") && argv.len() == 3 {
        // atoi: a non-number is 0.
        let on = std::str::from_utf8(&argv[2])
            .ok()
            .and_then(|s| s.trim().parse::<i64>().ok())
            .unwrap_or(0);
        ctx.node.config.active_expire_enabled = on != 0;
        ctx.out.ok();
    } else if eq_ic(sub, "ERROR") && argv.len() == 3 {
        // Written as it is, not as a failed command: Redis counts it in no error statistic.
        ctx.out.error_bytes(&argv[2]);
    } else {
        return Err(super::subcommand_syntax(argv));
    }
    Ok(())
}

fn slowlog(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    match subcommand(argv)? {
        "slowlog|get" => {
            let count = match argv.get(2) {
                None => 10,
                Some(a) => match super::parse_i64(a) {
                    Ok(n) if n >= -1 => n,
                    _ => return Err("ERR count should be greater than or equal to -1".into()),
                },
            };
            let log = &ctx.node.stats.slowlog;
            let n = if count == -1 {
                log.len()
            } else {
                log.len().min(count as usize)
            };
            let out = &mut *ctx.out;
            out.array(n);
            for e in log.entries().take(n) {
                out.array(6);
                out.int(e.id as i64);
                out.int(e.time);
                out.int(e.duration as i64);
                out.array(e.argv.len());
                for a in &e.argv {
                    out.bulk(a);
                }
                out.bulk(e.peer.as_bytes());
                out.bulk(&e.name);
            }
        }
        "slowlog|len" => ctx.out.int(ctx.node.stats.slowlog.len() as i64),
        "slowlog|reset" => {
            ctx.node.stats.slowlog.reset();
            ctx.out.ok();
        }
        _ => help(
            ctx,
            "SLOWLOG",
            &[
                "GET [<count>]",
                "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
                "    Entries are made of:",
                "    id, timestamp, time in microseconds, arguments array, client IP and port,",
                "    client name",
                "LEN",
                "    Return the length of the slowlog.",
                "RESET",
                "    Reset the slowlog.",
            ],
        ),
    }
    Ok(())
}

// ---- COMMAND ----

fn command(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    if argv.len() == 1 {
        let all = known(ctx);
        ctx.out.array(all.len());
        for info in all {
            command_info(ctx, info);
        }
        return Ok(());
    }
    match subcommand(argv)? {
        "command|count" => ctx.out.int(known(ctx).len() as i64),
        "command|info" => {
            if argv.len() == 2 {
                return command(ctx, &argv[..1]);
            }
            ctx.out.array(argv.len() - 2);
            for name in &argv[2..] {
                match known_by_name(ctx, name) {
                    Some(info) => command_info(ctx, info),
                    None => ctx.out.null(),
                }
            }
        }
        "command|docs" => docs(ctx, &argv[2..]),
        "command|list" => list(ctx, &argv[2..])?,
        "command|getkeys" => getkeys(ctx, &argv[2..], false)?,
        "command|getkeysandflags" => getkeys(ctx, &argv[2..], true)?,
        _ => help(
            ctx,
            "COMMAND",
            &[
                "(no subcommand)",
                "    Return details about all Redis commands.",
                "COUNT",
                "    Return the total number of commands in this Redis server.",
                "LIST",
                "    Return a list of all commands in this Redis server.",
                "INFO [<command-name> ...]",
                "    Return details about multiple Redis commands.",
                "    If no command names are given, documentation details for all",
                "    commands are returned.",
                "DOCS [<command-name> ...]",
                "    Return documentation details about multiple Redis commands.",
                "    If no command names are given, documentation details for all",
                "    commands are returned.",
                "GETKEYS <full-command>",
                "    Return the keys from a full Redis command.",
                "GETKEYSANDFLAGS <full-command>",
                "    Return the keys and the access flags from a full Redis command.",
            ],
        ),
    }
    Ok(())
}

/// The commands COMMAND, COMMAND INFO/DOCS/LIST/COUNT describe: for a server every Redis 7.0
/// command (one this server does not implement yet still answers `unknown command` when
/// called), for a sentinel its own table.
fn known(ctx: &Ctx<'_>) -> Vec<&'static CommandInfo> {
    if ctx.node.sentinel.is_some() {
        return ctx
            .node
            .commands
            .commands()
            .iter()
            .map(|c| c.info)
            .collect();
    }
    rediscover::command::all()
        .iter()
        .filter(|c| !rediscover::command::sentinel_only(c.name.as_bytes()))
        .collect()
}

/// A command of [`known`], by name or `container|sub` full name.
fn known_by_name(ctx: &Ctx<'_>, name: &[u8]) -> Option<&'static CommandInfo> {
    let (top, sub) = match name.iter().position(|&c| c == b'|') {
        Some(i) => (&name[..i], Some(&name[i + 1..])),
        None => (name, None),
    };
    let info = if ctx.node.sentinel.is_some() {
        ctx.node.commands.get(top)?.info
    } else {
        rediscover::command::lookup(top)
            .filter(|c| !rediscover::command::sentinel_only(c.name.as_bytes()))?
    };
    match sub {
        Some(sub) => info.subcommand(sub),
        None => Some(info),
    }
}

fn command_info(ctx: &mut Ctx<'_>, info: &'static CommandInfo) {
    let out = &mut *ctx.out;
    out.array(10);
    out.bulk(info.name.as_bytes());
    out.int(i64::from(info.arity));
    out.set(info.flags.len());
    for f in info.flags {
        out.simple(f);
    }
    out.int(i64::from(info.first_key));
    out.int(i64::from(info.last_key));
    out.int(i64::from(info.step));
    out.set(info.acl_categories.len());
    for c in info.acl_categories {
        out.simple(c);
    }
    out.set(info.tips.len());
    for t in info.tips {
        out.bulk(t.as_bytes());
    }
    key_specs(ctx, info);
    // Redis: an empty set without subcommands, an array with them.
    if info.subcommands.is_empty() {
        ctx.out.set(0);
    } else {
        ctx.out.array(info.subcommands.len());
    }
    for sub in info.subcommands {
        command_info(ctx, sub);
    }
}

fn key_specs(ctx: &mut Ctx<'_>, info: &CommandInfo) {
    let out = &mut *ctx.out;
    out.set(info.key_specs.len());
    for spec in info.key_specs {
        out.map(3 + usize::from(spec.notes.is_some()));
        if let Some(notes) = spec.notes {
            out.bulk(b"notes");
            out.bulk(notes.as_bytes());
        }
        out.bulk(b"flags");
        out.set(spec.flags.len());
        for f in spec.flags {
            out.simple(f);
        }
        out.bulk(b"begin_search");
        out.map(2);
        out.bulk(b"type");
        match spec.begin_search {
            BeginSearch::Index(i) => {
                out.bulk(b"index");
                out.bulk(b"spec");
                out.map(1);
                out.bulk(b"index");
                out.int(i64::from(i));
            }
            BeginSearch::Keyword {
                keyword,
                start_from,
            } => {
                out.bulk(b"keyword");
                out.bulk(b"spec");
                out.map(2);
                out.bulk(b"keyword");
                out.bulk(keyword.as_bytes());
                out.bulk(b"startfrom");
                out.int(i64::from(start_from));
            }
            BeginSearch::Unknown => {
                out.bulk(b"unknown");
                out.bulk(b"spec");
                out.map(0);
            }
        }
        out.bulk(b"find_keys");
        out.map(2);
        out.bulk(b"type");
        match spec.find_keys {
            FindKeys::Range {
                last_key,
                step,
                limit,
            } => {
                out.bulk(b"range");
                out.bulk(b"spec");
                out.map(3);
                out.bulk(b"lastkey");
                out.int(i64::from(last_key));
                out.bulk(b"keystep");
                out.int(i64::from(step));
                out.bulk(b"limit");
                out.int(i64::from(limit));
            }
            FindKeys::Keynum {
                keynum_index,
                first_key,
                step,
            } => {
                out.bulk(b"keynum");
                out.bulk(b"spec");
                out.map(3);
                out.bulk(b"keynumidx");
                out.int(i64::from(keynum_index));
                out.bulk(b"firstkey");
                out.int(i64::from(first_key));
                out.bulk(b"keystep");
                out.int(i64::from(step));
            }
            FindKeys::Unknown => {
                out.bulk(b"unknown");
                out.bulk(b"spec");
                out.map(0);
            }
        }
    }
}

/// COMMAND DOCS, from the shared table (generated from Redis 7.0.15's own COMMAND DOCS).
fn docs(ctx: &mut Ctx<'_>, names: &[Bytes]) {
    let found: Vec<&'static CommandInfo> = if names.is_empty() {
        known(ctx)
    } else {
        names.iter().filter_map(|n| known_by_name(ctx, n)).collect()
    };
    ctx.out.map(found.len());
    for info in found {
        ctx.out.bulk(info.name.as_bytes());
        command_docs(ctx, info);
    }
}

/// `addReplyCommandDocs`: the fields Redis has for the command, in Redis's order.
fn command_docs(ctx: &mut Ctx<'_>, info: &'static CommandInfo) {
    let has = |s: &str| !s.is_empty();
    let n = 1
        + usize::from(has(info.summary))
        + usize::from(has(info.since))
        + usize::from(has(info.complexity))
        + usize::from(!info.doc_flags.is_empty())
        + usize::from(has(info.deprecated_since))
        + usize::from(has(info.replaced_by))
        + usize::from(!info.history.is_empty())
        + usize::from(!info.arguments.is_empty())
        + usize::from(!info.subcommands.is_empty());
    let out = &mut *ctx.out;
    out.map(n);
    let text = |out: &mut rediscover::resp::ReplyWriter, name: &[u8], value: &str| {
        if !value.is_empty() {
            out.bulk(name);
            out.bulk(value.as_bytes());
        }
    };
    text(out, b"summary", info.summary);
    text(out, b"since", info.since);
    out.bulk(b"group");
    out.bulk(info.group.as_bytes());
    text(out, b"complexity", info.complexity);
    if !info.doc_flags.is_empty() {
        out.bulk(b"doc_flags");
        out.set(info.doc_flags.len());
        for f in info.doc_flags {
            out.simple(f);
        }
    }
    text(out, b"deprecated_since", info.deprecated_since);
    text(out, b"replaced_by", info.replaced_by);
    if !info.history.is_empty() {
        out.bulk(b"history");
        out.set(info.history.len());
        for (version, change) in info.history {
            out.array(2);
            out.bulk(version.as_bytes());
            out.bulk(change.as_bytes());
        }
    }
    if !info.arguments.is_empty() {
        out.bulk(b"arguments");
        argument_docs(out, info.arguments);
    }
    if !info.subcommands.is_empty() {
        ctx.out.bulk(b"subcommands");
        ctx.out.map(info.subcommands.len());
        for sub in info.subcommands {
            ctx.out.bulk(sub.name.as_bytes());
            command_docs(ctx, sub);
        }
    }
}

/// `addReplyCommandArgList`.
fn argument_docs(out: &mut rediscover::resp::ReplyWriter, args: &[rediscover::command::Arg]) {
    out.array(args.len());
    for arg in args {
        let group = matches!(arg.kind, "oneof" | "block");
        let n = 2
            + usize::from(arg.key_spec_index.is_some())
            + usize::from(arg.token.is_some())
            + usize::from(!arg.summary.is_empty())
            + usize::from(!arg.since.is_empty())
            + usize::from(!arg.deprecated_since.is_empty())
            + usize::from(!arg.flags.is_empty())
            + usize::from(group);
        out.map(n);
        out.bulk(b"name");
        out.bulk(arg.name.as_bytes());
        out.bulk(b"type");
        out.bulk(arg.kind.as_bytes());
        if let Some(i) = arg.key_spec_index {
            out.bulk(b"key_spec_index");
            out.int(i64::from(i));
        }
        if let Some(token) = arg.token {
            out.bulk(b"token");
            out.bulk(token.as_bytes());
        }
        for (name, value) in [
            (&b"summary"[..], arg.summary),
            (b"since", arg.since),
            (b"deprecated_since", arg.deprecated_since),
        ] {
            if !value.is_empty() {
                out.bulk(name);
                out.bulk(value.as_bytes());
            }
        }
        if !arg.flags.is_empty() {
            out.bulk(b"flags");
            out.set(arg.flags.len());
            for f in arg.flags {
                out.simple(f);
            }
        }
        if group {
            out.bulk(b"arguments");
            argument_docs(out, arg.arguments);
        }
    }
}

fn list(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    enum Filter<'a> {
        All,
        Module,
        AclCat(&'a [u8]),
        Pattern(&'a [u8]),
    }
    let mut filter = Filter::All;
    let mut i = 0;
    while i < args.len() {
        if eq_ic(&args[i], "FILTERBY") && args.len() - i - 1 == 2 {
            let kind = &args[i + 1];
            let arg = &args[i + 2][..];
            filter = if eq_ic(kind, "MODULE") {
                Filter::Module
            } else if eq_ic(kind, "ACLCAT") {
                Filter::AclCat(arg)
            } else if eq_ic(kind, "PATTERN") {
                Filter::Pattern(arg)
            } else {
                return Err(msg::SYNTAX.into());
            };
            i += 3;
        } else {
            return Err(msg::SYNTAX.into());
        }
    }
    let keep = |info: &CommandInfo| match filter {
        Filter::All => true,
        Filter::Module => false,
        Filter::AclCat(cat) => info
            .acl_categories
            .iter()
            .any(|c| c.as_bytes()[1..].eq_ignore_ascii_case(cat)),
        Filter::Pattern(p) => crate::glob::glob_match(p, info.name.as_bytes(), true),
    };
    let mut names = Vec::new();
    for top in known(ctx) {
        for info in std::iter::once(top).chain(top.subcommands) {
            if keep(info) {
                names.push(info.name);
            }
        }
    }
    ctx.out.array(names.len());
    for n in names {
        ctx.out.bulk(n.as_bytes());
    }
    Ok(())
}

fn getkeys(ctx: &mut Ctx<'_>, cmdline: &[Bytes], with_flags: bool) -> CmdResult {
    let Some(top) = ctx.node.commands.get(&cmdline[0]).map(|c| c.info) else {
        return Err("ERR Invalid command specified".into());
    };
    let info = if !top.subcommands.is_empty() && cmdline.len() >= 2 {
        top.subcommand(&cmdline[1])
            .ok_or("ERR Invalid command specified")?
    } else {
        top
    };
    if info.key_specs.is_empty() {
        return Err("ERR The command has no key arguments".into());
    }
    if !info.arity_ok(cmdline.len()) {
        return Err("ERR Invalid number of arguments specified for command".into());
    }
    let keys: Vec<(usize, &'static [&'static str])> = match getkeys_proc(info.name, cmdline) {
        Some(keys) => keys,
        None if keynums_in_range(info, cmdline) => info
            .key_positions(cmdline)
            .into_iter()
            .map(|pos| (pos, key_flags(info, pos, cmdline)))
            .collect(),
        None => Vec::new(),
    };
    if keys.is_empty() && !info.has_flag("no_mandatory_keys") {
        return Err("ERR Invalid arguments specified for command".into());
    }
    ctx.out.array(keys.len());
    for (pos, flags) in keys {
        if with_flags {
            ctx.out.array(2);
            ctx.out.bulk(&cmdline[pos]);
            ctx.out.set(flags.len());
            for f in flags {
                ctx.out.simple(f);
            }
        } else {
            ctx.out.bulk(&cmdline[pos]);
        }
    }
    Ok(())
}

const RW_ACCESS_DELETE: &[&str] = &["RW", "access", "delete"];
const RW_ACCESS_UPDATE: &[&str] = &["RW", "access", "update"];
const RO_ACCESS: &[&str] = &["RO", "access"];
const OW_UPDATE: &[&str] = &["OW", "update"];

/// The keys (positions and flags) of the commands whose key specs cannot say: MIGRATE's KEYS
/// and SORT's STORE are incomplete specs, SET's and BITFIELD's flags depend on the arguments.
/// Redis finds these with the command's own key function (`migrateGetKeys`, `sortGetKeys`,
/// `setGetKeys`, `bitfieldGetKeys`); `None` for every other command.
fn getkeys_proc(name: &str, argv: &[Bytes]) -> Option<Vec<(usize, &'static [&'static str])>> {
    match name {
        "migrate" => {
            // MIGRATE host port key|"" db timeout [COPY] [REPLACE] [AUTH pw] [AUTH2 u pw]
            // [KEYS key ...]: the keys after KEYS when the key argument is empty.
            let mut first = 3;
            let mut num = 1;
            let mut i = 6;
            while i < argv.len() {
                let arg = &argv[i];
                if eq_ic(arg, "KEYS") {
                    if argv[3].is_empty() {
                        first = i + 1;
                        num = argv.len() - first;
                    } else {
                        // A syntax error MIGRATE itself reports.
                        num = 0;
                    }
                    break;
                }
                if eq_ic(arg, "AUTH") {
                    i += 1;
                } else if eq_ic(arg, "AUTH2") {
                    i += 2;
                }
                i += 1;
            }
            Some(
                (first..first + num)
                    .map(|p| (p, RW_ACCESS_DELETE))
                    .collect(),
            )
        }
        "sort" => {
            // The sorted key, then the last STORE's destination; LIMIT, GET and BY arguments
            // are skipped so that a pattern named "store" is not taken for the option.
            let mut keys = vec![(1, RO_ACCESS)];
            let mut store = None;
            let mut i = 2;
            while i < argv.len() {
                let arg = &argv[i];
                if eq_ic(arg, "LIMIT") {
                    i += 2;
                } else if eq_ic(arg, "GET") || eq_ic(arg, "BY") {
                    i += 1;
                } else if eq_ic(arg, "STORE") && i + 1 < argv.len() {
                    store = Some(i + 1);
                }
                i += 1;
            }
            keys.extend(store.map(|p| (p, OW_UPDATE)));
            Some(keys)
        }
        "set" => {
            let get = argv.iter().skip(3).any(|a| eq_ic(a, "GET"));
            Some(vec![(1, if get { RW_ACCESS_UPDATE } else { OW_UPDATE })])
        }
        "bitfield" => {
            // Read only when every operation is a complete GET (or OVERFLOW).
            let mut readonly = true;
            let mut i = 2;
            while i < argv.len() {
                let rest = argv.len() - i - 1;
                let arg = &argv[i];
                if eq_ic(arg, "GET") && rest >= 2 {
                    i += 2;
                } else if eq_ic(arg, "OVERFLOW") && rest >= 1 {
                    i += 1;
                } else {
                    // SET, INCRBY, or a syntax error (assumed to write).
                    readonly = false;
                    break;
                }
                i += 1;
            }
            Some(vec![(
                1,
                if readonly {
                    RO_ACCESS
                } else {
                    RW_ACCESS_UPDATE
                },
            )])
        }
        _ => None,
    }
}

/// Redis finds no keys at all when a key count is not a positive integer or points past the
/// last argument; checking first also keeps huge counts away from the position arithmetic.
fn keynums_in_range(info: &CommandInfo, argv: &[Bytes]) -> bool {
    info.key_specs.iter().all(|spec| {
        let (
            BeginSearch::Index(first),
            FindKeys::Keynum {
                keynum_index,
                first_key,
                ..
            },
        ) = (spec.begin_search, spec.find_keys)
        else {
            return true;
        };
        let Some(arg) = argv.get((first + keynum_index) as usize) else {
            return false;
        };
        match rediscover::resp::parse_integer(arg) {
            Some(n) if n >= 0 => {
                let start = i64::from(first + first_key);
                n > 0 && start + n - 1 < argv.len() as i64
            }
            _ => false,
        }
    })
}

/// The flags of the key spec that yields the key at `pos`.
fn key_flags(info: &CommandInfo, pos: usize, argv: &[Bytes]) -> &'static [&'static str] {
    for spec in info.key_specs {
        let one = CommandInfo {
            key_specs: std::slice::from_ref(spec),
            ..*info
        };
        if one.key_positions(argv).contains(&pos) {
            return spec.flags;
        }
    }
    &[]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(words: &[&str]) -> Vec<Bytes> {
        words
            .iter()
            .map(|w| Bytes::copy_from_slice(w.as_bytes()))
            .collect()
    }

    #[test]
    fn key_counts_must_fit() {
        let eval = rediscover::command::lookup(b"eval").unwrap();
        let zu = rediscover::command::lookup(b"zunionstore").unwrap();
        assert!(keynums_in_range(eval, &argv(&["eval", "s", "1", "a"])));
        assert!(!keynums_in_range(eval, &argv(&["eval", "s", "0"])));
        assert!(!keynums_in_range(
            eval,
            &argv(&["eval", "s", "2147483647", "a"])
        ));
        assert!(!keynums_in_range(eval, &argv(&["eval", "s", "-1", "a"])));
        assert!(!keynums_in_range(
            zu,
            &argv(&["zunionstore", "d", "2", "a"])
        ));
        assert!(keynums_in_range(
            zu,
            &argv(&["zunionstore", "d", "2", "a", "b"])
        ));
    }
}
