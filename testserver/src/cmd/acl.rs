//! ACL SETUSER / GETUSER / DELUSER / USERS / LIST / WHOAMI / CAT / LOG / GENPASS / DRYRUN / LOAD /
//! SAVE / HELP.
//!
//! Rules are stored and reported exactly as Redis shows them, and enforced by the dispatcher
//! ([`super::acl_check`]): commands, keys (with read/write permissions) and channels, by each
//! of a user's selectors.

use bytes::Bytes;

use super::server::{help, subcommand};
use super::{CmdResult, Ctx, Handler};
use crate::acl::CATEGORIES;
use crate::keyspace::ClientId;

pub(crate) const COMMANDS: &[(&str, Handler)] = &[("acl", acl)];

fn acl(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    match subcommand(argv)? {
        "acl|setuser" => {
            if argv[2].iter().any(|&c| c == b' ' || c == 0) {
                return Err("ERR Usernames can't contain spaces or null characters".into());
            }
            let ops: Vec<&[u8]> = argv[3..].iter().map(|a| &a[..]).collect();
            ctx.node
                .acl
                .set_user(&argv[2], &ops)
                .map_err(|e| format!("ERR {e}"))?;
            kill_revoked_subscribers(ctx, &argv[2]);
            ctx.out.ok();
        }
        "acl|getuser" => getuser(ctx, &argv[2]),
        "acl|deluser" => {
            if argv[2..].iter().any(|n| &n[..] == b"default") {
                return Err("ERR The 'default' user cannot be removed".into());
            }
            let mut n = 0;
            for name in &argv[2..] {
                if ctx.node.acl.users.remove(&name[..]).is_some() {
                    ctx.node.acl.rules.remove(&name[..]);
                    n += 1;
                    kill_user(ctx, name);
                }
            }
            ctx.out.int(n);
        }
        "acl|users" => {
            let names: Vec<Bytes> = ctx.node.acl.users.keys().cloned().collect();
            ctx.out.array(names.len());
            for n in names {
                ctx.out.bulk(&n);
            }
        }
        "acl|list" => {
            let lines: Vec<String> = ctx
                .node
                .acl
                .users
                .keys()
                .map(|n| ctx.node.acl.describe(n))
                .collect();
            ctx.out.array(lines.len());
            for l in lines {
                ctx.out.bulk(l.as_bytes());
            }
        }
        "acl|whoami" => {
            let user = ctx.client.user.clone();
            ctx.out.bulk(&user);
        }
        "acl|cat" => cat(ctx, argv.get(2))?,
        "acl|help" => help(ctx, "ACL", HELP),
        "acl|log" => log(ctx, argv.get(2))?,
        "acl|genpass" => genpass(ctx, argv.get(2))?,
        "acl|dryrun" => dryrun(ctx, argv)?,
        "acl|load" => load(ctx)?,
        "acl|save" => save(ctx)?,
        other => {
            return Err(rediscover::error_codes::unknown_subcommand(
                "acl",
                other.split('|').nth(1).unwrap_or(other).as_bytes(),
            )
            .into());
        }
    }
    Ok(())
}

/// The `aclfile` ACL LOAD and SAVE work on, or Redis's error when there is none.
fn aclfile(ctx: &Ctx<'_>) -> Result<String, super::Error> {
    let file = ctx.node.config.extra_or("aclfile", "");
    if file.is_empty() {
        return Err("ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration.".into());
    }
    Ok(file)
}

/// ACL LOAD: the file's users replace all users, or nothing changes. As in Redis, every user
/// but `default` is a new user afterwards, so the clients authenticated as any other user are
/// disconnected (the one running ACL LOAD after its reply), even if the file has that user
/// unchanged.
fn load(ctx: &mut Ctx<'_>) -> CmdResult {
    let file = aclfile(ctx)?;
    let dir = ctx.node.config.dir.clone();
    ctx.node
        .acl
        .load_path(&file, &dir)
        .map_err(|e| format!("ERR {e}"))?;
    let me = ctx.client.id;
    let mut victims: Vec<ClientId> = Vec::new();
    for (&id, e) in ctx.node.clients.iter() {
        let user = if id == me { &ctx.client.user } else { &e.user };
        if &user[..] != b"default" {
            victims.push(id);
        }
    }
    kill(ctx, &victims);
    ctx.out.ok();
    Ok(())
}

/// ACL SAVE: every user's ACL LIST line, written to a temporary file renamed over the
/// `aclfile`.
fn save(ctx: &mut Ctx<'_>) -> CmdResult {
    let file = aclfile(ctx)?;
    let path = crate::acl::file::resolve(&file, &ctx.node.config.dir);
    let text = ctx.node.acl.save_text();
    if let Err(line) = crate::acl::file::save_file(&path, &text) {
        ctx.node.log(crate::logging::Level::Warning, &line);
        return Err("ERR There was an error trying to save the ACLs. Please check the server logs for more information".into());
    }
    ctx.out.ok();
    Ok(())
}

fn log(ctx: &mut Ctx<'_>, arg: Option<&Bytes>) -> CmdResult {
    let mut count = 10usize;
    if let Some(arg) = arg {
        if arg.eq_ignore_ascii_case(b"reset") {
            ctx.node.acl.log.clear();
            ctx.out.ok();
            return Ok(());
        }
        let n = super::args::parse_i64(arg)?;
        count = usize::try_from(n).unwrap_or(0);
    }
    let now = ctx.now;
    let entries: Vec<_> = ctx.node.acl.log.iter().take(count).cloned().collect();
    let out = &mut *ctx.out;
    out.array(entries.len());
    for e in entries {
        out.map(7);
        out.bulk(b"count");
        out.int(e.count as i64);
        out.bulk(b"reason");
        out.bulk(e.reason.as_bytes());
        out.bulk(b"context");
        out.bulk(e.context.as_bytes());
        out.bulk(b"object");
        out.bulk(&e.object);
        out.bulk(b"username");
        out.bulk(&e.username);
        out.bulk(b"age-seconds");
        out.double((now - e.ctime_ms) as f64 / 1000.0);
        out.bulk(b"client-info");
        out.bulk(e.client_info.as_bytes());
    }
    Ok(())
}

fn genpass(ctx: &mut Ctx<'_>, arg: Option<&Bytes>) -> CmdResult {
    let bits = match arg {
        Some(a) => super::args::parse_i64(a)?,
        None => 256,
    };
    if !(1..=4096).contains(&bits) {
        return Err("ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096".into());
    }
    // Hex of SipHash under OS-seeded keys: unpredictable enough for a test server's passwords.
    let hex = crate::node::random_hex(((bits + 3) / 4) as usize);
    ctx.out.bulk(hex.as_bytes());
    Ok(())
}

fn dryrun(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let user = &argv[2];
    if !ctx.node.acl.users.contains_key(&user[..]) {
        return Err(format!("ERR User '{}' not found", String::from_utf8_lossy(user)).into());
    }
    let args = &argv[3..];
    let Some(cmd) = ctx.node.commands.get(&args[0]) else {
        return Err(format!(
            "ERR Command '{}' not found",
            String::from_utf8_lossy(&args[0])
        )
        .into());
    };
    let info = match args.get(1) {
        Some(sub) if !cmd.info.subcommands.is_empty() => {
            cmd.info.subcommand(sub).unwrap_or(cmd.info)
        }
        _ => cmd.info,
    };
    if !info.arity_ok(args.len()) {
        return Err(format!("ERR wrong number of arguments for '{}' command", info.name).into());
    }
    match super::acl_check(ctx.node, user, cmd, args) {
        Ok(()) => ctx.out.ok(),
        Err((denied, info)) => {
            let text = match denied {
                crate::acl::Denied::Command => format!(
                    "This user has no permissions to run the '{}' command",
                    info.name
                ),
                crate::acl::Denied::Key(i) => format!(
                    "This user has no permissions to access the '{}' key",
                    String::from_utf8_lossy(&args[i])
                ),
                crate::acl::Denied::Channel(i) => format!(
                    "This user has no permissions to access the '{}' channel",
                    String::from_utf8_lossy(&args[i])
                ),
            };
            ctx.out.bulk(text.as_bytes());
        }
    }
    Ok(())
}

const HELP: &[&str] = &[
    "CAT [<category>]",
    "    List all commands that belong to <category>, or all command categories",
    "    when no category is specified.",
    "DELUSER <username> [<username> ...]",
    "    Delete a list of users.",
    "DRYRUN <username> <command> [<arg> ...]",
    "    Returns whether the user can execute the given command without executing the command.",
    "GETUSER <username>",
    "    Get the user's details.",
    "GENPASS [<bits>]",
    "    Generate a secure 256-bit user password. The optional `bits` argument can",
    "    be used to specify a different size.",
    "LIST",
    "    Show users details in config file format.",
    "LOAD",
    "    Reload users from the ACL file.",
    "LOG [<count> | RESET]",
    "    Show the ACL log entries.",
    "SAVE",
    "    Save the current config to the ACL file.",
    "SETUSER <username> <attribute> [<attribute> ...]",
    "    Create or modify a user with the specified attributes.",
    "USERS",
    "    List all the registered usernames.",
    "WHOAMI",
    "    Return the current connection username.",
];

/// Redis disconnects the clients authenticated as a deleted user.
fn kill_user(ctx: &mut Ctx<'_>, name: &[u8]) {
    let me = ctx.client.id;
    let mut victims: Vec<ClientId> = Vec::new();
    for (&id, e) in ctx.node.clients.iter() {
        let user = if id == me { &ctx.client.user } else { &e.user };
        if &user[..] == name {
            victims.push(id);
        }
    }
    kill(ctx, &victims);
}

/// Redis's `ACLKillPubsubClientsIfNeeded`: after a user's rules change, its clients subscribed
/// to a channel or pattern the rules no longer allow are disconnected.
fn kill_revoked_subscribers(ctx: &mut Ctx<'_>, name: &[u8]) {
    let me = ctx.client.id;
    let node = &*ctx.node;
    let user_of = |id: ClientId| -> Option<&[u8]> {
        if id == me {
            Some(&ctx.client.user[..])
        } else {
            node.clients.get(&id).map(|e| &e.user[..])
        }
    };
    let mut victims: Vec<ClientId> = Vec::new();
    let tables = [
        (&node.pubsub.channels, false),
        (&node.pubsub.shard_channels, false),
        (&node.pubsub.patterns, true),
    ];
    for (table, is_pattern) in tables {
        for (channel, subscribers) in table {
            for &id in subscribers.keys() {
                if user_of(id) == Some(name)
                    && !victims.contains(&id)
                    && !node.acl.allows_channel(name, channel, is_pattern)
                {
                    victims.push(id);
                }
            }
        }
    }
    kill(ctx, &victims);
}

fn kill(ctx: &mut Ctx<'_>, victims: &[ClientId]) {
    let me = ctx.client.id;
    for &id in victims {
        if id == me {
            ctx.close_after_reply();
        } else if let Some(e) = ctx.node.clients.get_mut(&id) {
            e.killed = true;
            e.kill.notify_one();
        }
    }
}

fn getuser(ctx: &mut Ctx<'_>, name: &[u8]) {
    let acl = &ctx.node.acl;
    if !acl.users.contains_key(name) {
        ctx.out.null();
        return;
    }
    let flags = acl.flags_of(name);
    let hashes = acl.hashes_of(name);
    let rules = acl.rules_of(name);
    let out = &mut *ctx.out;
    out.map(6);
    out.bulk(b"flags");
    out.set(flags.len());
    for f in flags {
        out.bulk(f.as_bytes());
    }
    out.bulk(b"passwords");
    out.array(hashes.len());
    for h in hashes {
        out.bulk(h.as_bytes());
    }
    let sentinel = acl.sentinel_mode;
    selector_fields(out, &rules.root, sentinel);
    out.bulk(b"selectors");
    out.array(rules.selectors.len());
    for sel in &rules.selectors {
        out.map(3);
        selector_fields(out, sel, sentinel);
    }
}

/// GETUSER's `commands`, `keys` and `channels` fields of one selector.
fn selector_fields(
    out: &mut rediscover::resp::ReplyWriter,
    sel: &crate::acl::Selector,
    sentinel: bool,
) {
    out.bulk(b"commands");
    out.bulk(sel.command_rules(sentinel).as_bytes());
    out.bulk(b"keys");
    out.bulk(sel.keys_text().as_bytes());
    out.bulk(b"channels");
    out.bulk(sel.channels_text().as_bytes());
}

fn cat(ctx: &mut Ctx<'_>, category: Option<&Bytes>) -> CmdResult {
    let Some(category) = category else {
        ctx.out.array(CATEGORIES.len());
        for c in CATEGORIES {
            ctx.out.bulk(c.as_bytes());
        }
        return Ok(());
    };
    let wanted = String::from_utf8_lossy(category).to_ascii_lowercase();
    if !CATEGORIES.contains(&wanted.as_str()) {
        return Err(format!(
            "ERR Unknown category '{}'",
            String::from_utf8_lossy(category)
        )
        .into());
    }
    let tag = format!("@{wanted}");
    let mut names = Vec::new();
    // Every command Redis registers in this mode, as ACL rules accept any of them (not only
    // those implemented here): a server's, or a sentinel's.
    let sentinel = ctx.node.sentinel.is_some();
    let registered = |name: &str| {
        if sentinel {
            ctx.node.commands.get(name.as_bytes()).is_some()
        } else {
            !rediscover::command::sentinel_only(name.as_bytes())
        }
    };
    for cmd in rediscover::command::all()
        .iter()
        .filter(|c| registered(c.name))
    {
        for info in std::iter::once(cmd).chain(cmd.subcommands) {
            if info.acl_categories.contains(&tag.as_str()) {
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
