//! MULTI, EXEC, DISCARD, WATCH, UNWATCH.

use bytes::Bytes;
use rediscover::error_codes::msg;

use super::{call, CmdResult, Ctx, Handler};

pub(crate) const COMMANDS: &[(&str, Handler)] = &[
    ("multi", multi),
    ("exec", exec),
    ("discard", discard),
    ("watch", watch),
    ("unwatch", unwatch),
];

/// Commands that run immediately even inside MULTI (everything else is queued).
pub(crate) fn runs_inside_multi(name: &str) -> bool {
    matches!(
        name,
        "exec" | "discard" | "multi" | "watch" | "quit" | "reset"
    )
}

fn multi(ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CmdResult {
    if ctx.client.multi.is_some() {
        return Err("ERR MULTI calls can not be nested".into());
    }
    ctx.client.multi = Some(Vec::new());
    ctx.client.multi_error = false;
    ctx.out.ok();
    Ok(())
}

/// Forgets every WATCH of the calling client.
pub(crate) fn unwatch_all(ctx: &mut Ctx<'_>) {
    let id = ctx.client.id;
    for (db, key) in ctx.client.watching.drain(..) {
        if let Some(db) = ctx.node.dbs.get_mut(db) {
            db.unwatch(&key, id);
        }
    }
    ctx.node.watch_dirty.remove(&id);
}

fn exec(ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CmdResult {
    let Some(queued) = ctx.client.multi.take() else {
        return Err(msg::EXEC_WITHOUT_MULTI.into());
    };
    let aborted = std::mem::take(&mut ctx.client.multi_error);
    let dirty = ctx.node.watch_dirty.contains(&ctx.client.id);
    unwatch_all(ctx);
    if aborted {
        return Err(msg::EXECABORT.into());
    }
    if dirty {
        ctx.out.null_array();
        return Ok(());
    }
    ctx.out.array(queued.len());
    let was_in_exec = std::mem::replace(&mut ctx.in_exec, true);
    ctx.tick = std::time::Instant::now();
    for argv in &queued {
        // Queued commands passed lookup and arity when they were queued.
        let Some(cmd) = ctx.node.commands.get(&argv[0]) else {
            continue;
        };
        // ACL rules are checked again: they may have changed since the command was queued.
        if !ctx.client.master_link {
            if let Err((denied, info)) = super::acl_check(ctx.node, &ctx.client.user, cmd, argv) {
                super::log_denial(ctx, denied, info, argv, "multi");
                ctx.out.error(&denied.exec_reply());
                continue;
            }
        }
        call(ctx, cmd, argv);
    }
    ctx.in_exec = was_in_exec;
    Ok(())
}

fn discard(ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CmdResult {
    if ctx.client.multi.take().is_none() {
        return Err(msg::DISCARD_WITHOUT_MULTI.into());
    }
    ctx.client.multi_error = false;
    unwatch_all(ctx);
    ctx.out.ok();
    Ok(())
}

fn watch(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    if ctx.client.multi.is_some() {
        return Err(msg::WATCH_IN_MULTI.into());
    }
    let db = ctx.client.db;
    for key in &argv[1..] {
        if ctx
            .client
            .watching
            .iter()
            .any(|(d, k)| *d == db && k == key)
        {
            continue;
        }
        let key = super::owned(key);
        ctx.node.dbs[db].watch(key.clone(), ctx.client.id);
        ctx.client.watching.push((db, key));
    }
    ctx.out.ok();
    Ok(())
}

fn unwatch(ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CmdResult {
    unwatch_all(ctx);
    ctx.out.ok();
    Ok(())
}
