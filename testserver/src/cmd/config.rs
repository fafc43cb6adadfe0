//! CONFIG GET / SET / RESETSTAT / REWRITE / HELP, over the directive table.

use bytes::Bytes;
use rediscover::error_codes::msg;

use super::server::{help, subcommand};
use super::{CmdResult, Ctx, Handler};
use crate::config_table::{self, Directive, DIRECTIVES};

pub(crate) const COMMANDS: &[(&str, Handler)] = &[("config", config)];

fn config(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    match subcommand(argv)? {
        "config|get" => get(ctx, &argv[2..]),
        "config|set" => set(ctx, argv),
        "config|resetstat" => {
            resetstat(ctx);
            ctx.out.ok();
            Ok(())
        }
        "config|rewrite" => rewrite(ctx),
        _ => {
            help(
                ctx,
                "CONFIG",
                &[
                    "GET <pattern>",
                    "    Return parameters matching the glob-like <pattern> and their values.",
                    "SET <directive> <value>",
                    "    Set the configuration <directive> to <value>.",
                    "RESETSTAT",
                    "    Reset statistics reported by the INFO command.",
                    "REWRITE",
                    "    Rewrite the configuration file.",
                ],
            );
            Ok(())
        }
    }
}

fn get(ctx: &mut Ctx<'_>, patterns: &[Bytes]) -> CmdResult {
    // (name as shown, directive); names compare case-insensitively, as Redis's dict does.
    let mut found: Vec<(String, &'static Directive)> = Vec::new();
    let mut add = |name: &str, d: &'static Directive| {
        if !found.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)) {
            found.push((name.to_string(), d));
        }
    };
    for pattern in patterns {
        let text = String::from_utf8_lossy(pattern);
        if !pattern.iter().any(|c| b"[*?".contains(c)) {
            if let Some(d) = config_table::lookup(&text) {
                add(&text, d);
            }
            continue;
        }
        for d in DIRECTIVES {
            for name in std::iter::once(d.name).chain(d.alias) {
                if crate::glob::glob_match(pattern, name.as_bytes(), true) {
                    add(name, d);
                }
            }
        }
    }
    let config = &ctx.node.config;
    ctx.out.map(found.len());
    for (name, d) in found {
        ctx.out.bulk(name.as_bytes());
        ctx.out.bulk(d.get(config).as_bytes());
    }
    Ok(())
}

fn set(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    if argv.len() % 2 == 1 {
        return Err(msg::SYNTAX.into());
    }
    // (directive, the name it was found under as Redis spells it, value)
    let mut pairs: Vec<(&'static Directive, &'static str, String)> = Vec::new();
    let mut unknown: Option<String> = None;
    let mut refused: Option<(String, &str)> = None;
    for pair in argv[2..].chunks(2) {
        let name = String::from_utf8_lossy(&pair[0]).into_owned();
        let Some(d) = config_table::lookup(&name) else {
            unknown.get_or_insert(name);
            continue;
        };
        if unknown.is_some() || refused.is_some() {
            continue;
        }
        // An alias is a config of its own in Redis: `lua-time-limit` next to
        // `busy-reply-threshold` is not a duplicate (the later one wins).
        let shown = match d.alias {
            Some(a) if a.eq_ignore_ascii_case(&name) => a,
            _ => d.name,
        };
        if !d.mutable {
            refused = Some((name, "can't set immutable config"));
        } else if d.protected && !protected_allowed(ctx) {
            refused = Some((name, "can't set protected config"));
        } else if pairs
            .iter()
            .any(|(p, n, _)| std::ptr::eq(*p, d) && *n == shown)
        {
            refused = Some((name, "duplicate parameter"));
        } else {
            pairs.push((d, shown, String::from_utf8_lossy(&pair[1]).into_owned()));
        }
    }
    if let Some(name) = unknown {
        return Err(
            format!("ERR Unknown option or number of arguments for CONFIG SET - '{name}'").into(),
        );
    }
    if let Some((name, why)) = refused {
        return Err(failed(&name, why));
    }
    // All or nothing: work on a copy and keep it only if every value is accepted.
    let mut next = ctx.node.config.clone();
    for (d, name, value) in &pairs {
        d.set(&mut next, value).map_err(|e| failed(name, &e))?;
        if d.name == "dbfilename" && value.contains('/') {
            return Err(failed(name, "dbfilename can't be a path, just a filename"));
        }
    }
    let old = &ctx.node.config;
    if next.port != old.port {
        return Err(failed(
            "port",
            "Unable to listen on this port. Check server logs.",
        ));
    }
    if next.bind != old.bind {
        return Err(failed("bind", "Failed to bind to specified addresses."));
    }
    if next.requirepass != old.requirepass {
        ctx.node
            .acl
            .set_default_password(next.requirepass.as_deref());
    }
    let old_maxmemory = ctx.node.config.maxmemory;
    let old_appendonly = ctx.node.config.appendonly;
    ctx.node.config = next;
    crate::aof::sync(ctx.node);
    if ctx.node.config.appendonly != old_appendonly {
        if let Err(e) = crate::aof::config_changed(ctx.node, ctx.in_exec) {
            return Err(failed("appendonly", e));
        }
    }
    // Connections already open read these without the lock.
    ctx.node.live.update(&ctx.node.config);
    ctx.node.sync_notify_flags();
    ctx.node.memory.settings = crate::memory::Settings::from_config(&ctx.node.config);
    if ctx.node.config.maxmemory != old_maxmemory && ctx.node.config.maxmemory != 0 {
        // Redis's `updateMaxmemory`: warn when already over, and evict at once.
        let used = crate::memory::used_memory(ctx.node);
        if ctx.node.config.maxmemory < used {
            let msg = format!("WARNING: the new maxmemory value set via CONFIG SET ({}) is smaller than the current memory usage ({used}). This will result in key eviction and/or the inability to accept new write commands depending on the maxmemory-policy.", ctx.node.config.maxmemory);
            ctx.node.log(crate::logging::Level::Warning, &msg);
        }
        crate::memory::perform_evictions(ctx.node);
    }
    ctx.out.ok();
    Ok(())
}

fn failed(name: &str, why: &str) -> super::Error {
    format!("ERR CONFIG SET failed (possibly related to argument '{name}') - {why}").into()
}

/// `enable-protected-configs`: `yes`, or `local` for a loopback client.
fn protected_allowed(ctx: &Ctx<'_>) -> bool {
    match ctx
        .node
        .config
        .extra
        .get("enable-protected-configs")
        .map(String::as_str)
    {
        Some("yes") => true,
        Some("local") => ctx.client.addr.ip().is_loopback(),
        _ => false,
    }
}

/// CONFIG RESETSTAT: zeroes the counters INFO reports.
fn resetstat(ctx: &mut Ctx<'_>) {
    let stats = &mut ctx.node.stats;
    let commands = stats.commands.len();
    // The slow log is not a statistic: RESETSTAT keeps it, as in Redis.
    let slowlog = std::mem::take(&mut stats.slowlog);
    *stats = Default::default();
    stats.commands.resize(commands, Default::default());
    stats.slowlog = slowlog;
    // Each command's latency histogram goes too (resetCommandTableStats).
    ctx.node.memory.histograms.clear();
}

fn rewrite(ctx: &mut Ctx<'_>) -> CmdResult {
    let Some(path) = ctx.node.config.config_file.clone() else {
        return Err("ERR The server is running without a config file".into());
    };
    let mut text = config_table::render(&ctx.node.config);
    // Redis's `rewriteConfigUserOption`: without an ACL file the users live in the config
    // file, every one of them (`default` too) as its ACL LIST line.
    if ctx.node.config.extra_or("aclfile", "").is_empty() {
        text.push_str(&ctx.node.acl.save_text());
    }
    std::fs::write(&path, text).map_err(|e| {
        let text = e.to_string();
        let text = text.split(" (os error").next().unwrap_or(&text).to_string();
        super::Error::from(format!("ERR Rewriting config file: {text}"))
    })?;
    ctx.out.ok();
    Ok(())
}
