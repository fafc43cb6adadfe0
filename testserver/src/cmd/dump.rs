//! DUMP and RESTORE: a key's value as a self-checking RDB fragment, and back (Redis's
//! `cluster.c` commands, used by replicas of a master that runs RESTORE and by MIGRATE).

use bytes::Bytes;
use rediscover::error_codes::msg;

use super::lookup::lookup_read;
use super::{eq_ic, op, owned, parse_i64, CmdResult, Ctx, Error, Handler};
use crate::rdb::dump::{self as payload};
use crate::rdb::LoadOptions;

/// RESTORE-ASKING is RESTORE for MIGRATE in a cluster (its `asking` flag lets it write to a
/// slot being imported); the command itself is the same.
pub(crate) const COMMANDS: &[(&str, Handler)] = &[
    ("dump", dump),
    ("restore", restore),
    ("restore-asking", restore),
];

/// DUMP key: the payload, or a null bulk for a missing key.
fn dump(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let compression = ctx.node.config.extra_or("rdbcompression", "yes") == "yes";
    match lookup_read(ctx, &argv[1]) {
        (Some(value), out) => out.bulk(&payload::payload(value, compression)),
        (None, out) => out.null(),
    }
    Ok(())
}

/// RESTORE's options after the payload.
#[derive(Default)]
struct RestoreOpts {
    replace: bool,
    absttl: bool,
    /// IDLETIME seconds.
    idle: Option<i64>,
    /// FREQ counter.
    freq: Option<i64>,
}

/// Parses `[REPLACE] [ABSTTL] [IDLETIME s] [FREQ f]` as Redis does: IDLETIME and FREQ exclude
/// each other (the second is a syntax error). The one that fits the policy sets the key's
/// access stamp (`objectSetLRUOrLFU`).
fn restore_opts(args: &[Bytes]) -> Result<RestoreOpts, Error> {
    let mut opts = RestoreOpts::default();
    let (mut idle, mut freq) = (false, false);
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        let has_next = i + 1 < args.len();
        if eq_ic(arg, "REPLACE") {
            opts.replace = true;
        } else if eq_ic(arg, "ABSTTL") {
            opts.absttl = true;
        } else if eq_ic(arg, "IDLETIME") && has_next && !freq {
            let n = parse_i64(&args[i + 1])?;
            if n < 0 {
                return Err("ERR Invalid IDLETIME value, must be >= 0".into());
            }
            opts.idle = Some(n);
            idle = true;
            i += 1;
        } else if eq_ic(arg, "FREQ") && has_next && !idle {
            let n = parse_i64(&args[i + 1])?;
            if !(0..=255).contains(&n) {
                return Err("ERR Invalid FREQ value, must be >= 0 and <= 255".into());
            }
            opts.freq = Some(n);
            freq = true;
            i += 1;
        } else {
            return Err(msg::SYNTAX.into());
        }
        i += 1;
    }
    Ok(opts)
}

/// RESTORE key ttl payload [REPLACE] [ABSTTL] [IDLETIME s] [FREQ f], checked in Redis's order:
/// options, BUSYKEY, TTL, payload trailer, payload contents.
fn restore(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let opts = restore_opts(&argv[4..])?;
    let key = &argv[1];
    let now = ctx.now;
    if !opts.replace && ctx.db().contains(key, now) {
        return Err(msg::BUSYKEY.into());
    }
    let ttl = parse_i64(&argv[2])?;
    if ttl < 0 {
        return Err("ERR Invalid TTL value, must be >= 0".into());
    }
    let load = LoadOptions::from_config(&ctx.node.config, now);
    let value = payload::parse(&argv[3], &load).map_err(|e| Error::from(e.to_string()))?;
    let deleted = opts.replace && ctx.db().remove(key).is_some();
    // Redis adds without an overflow check: a huge relative TTL wraps negative and the key
    // counts as already expired.
    let at = if opts.absttl {
        ttl
    } else {
        ttl.wrapping_add(now)
    };
    // A key born expired is not created (a replica creates it: its master will delete it).
    if ttl != 0 && at <= now && ctx.node.repl.master.is_none() {
        if deleted {
            ctx.propagate_as(|| vec![op(b"DEL", &[&owned(key)])]);
            ctx.modified(key);
            ctx.notify(crate::notify::class::GENERIC, "del", key);
        }
        ctx.out.ok();
        return Ok(());
    }
    let access = ctx.node.memory.settings.access;
    let db = ctx.db();
    db.set(owned(key), value);
    if let Some(stamp) = crate::memory::stamp_restored(access, opts.freq, opts.idle, now) {
        db.set_access_stamp(key, stamp);
    }
    if ttl != 0 {
        db.set_expire(key, at);
        if !opts.absttl {
            // Replicas get the expiry as an absolute time, as Redis 7.0 rewrites it.
            ctx.propagate_as(|| {
                let mut args: Vec<Bytes> = argv.iter().map(owned).collect();
                args[2] = super::int_arg(at);
                args.push(Bytes::from_static(b"ABSTTL"));
                vec![args]
            });
        }
    }
    ctx.modified(key);
    ctx.notify(crate::notify::class::GENERIC, "restore", key);
    ctx.out.ok();
    Ok(())
}
