//! ACL SETUSER / GETUSER / DELUSER / USERS / LIST / WHOAMI / CAT / HELP.
//!
//! Rules are stored and reported exactly as Redis shows them. Command rules are enforced by the
//! dispatcher (NOPERM); key and channel patterns are not enforced.

use bytes::Bytes;

use super::server::{help, subcommand};
use super::{CmdResult, Ctx, Handler};
use crate::acl::CATEGORIES;

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
        other => {
            // DRYRUN, GENPASS, LOAD, SAVE, LOG: known to Redis, not implemented here.
            return Err(rediscover::error_codes::unknown_subcommand(
                "acl",
                other.split('|').nth(1).unwrap_or(other).as_bytes(),
            )
            .into());
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
    "GETUSER <username>",
    "    Get the user's details.",
    "LIST",
    "    Show users details in config file format.",
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
    let mut close_me = false;
    for (&id, e) in ctx.node.clients.iter_mut() {
        let user = if id == me { &ctx.client.user } else { &e.user };
        if &user[..] != name {
            continue;
        }
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
    out.bulk(b"commands");
    out.bulk(rules.commands.join(" ").as_bytes());
    out.bulk(b"keys");
    out.bulk(rules.keys.join(" ").as_bytes());
    out.bulk(b"channels");
    out.bulk(rules.channels.join(" ").as_bytes());
    out.bulk(b"selectors");
    out.array(0);
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
