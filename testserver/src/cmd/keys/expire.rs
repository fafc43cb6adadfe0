//! EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT (with NX/XX/GT/LT), TTL, PTTL, EXPIRETIME, PEXPIRETIME,
//! PERSIST.

use bytes::Bytes;

use super::super::lookup::lookup_read;
use super::super::string::expire_time_error;
use super::super::{eq_ic, int_arg, op, parse_i64, CmdResult, Ctx, Error};

/// The conditions of EXPIRE and friends.
#[derive(Default)]
struct Conditions {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
}

fn parse_conditions(args: &[Bytes]) -> Result<Conditions, Error> {
    let mut c = Conditions::default();
    for opt in args {
        if eq_ic(opt, "NX") {
            c.nx = true;
        } else if eq_ic(opt, "XX") {
            c.xx = true;
        } else if eq_ic(opt, "GT") {
            c.gt = true;
        } else if eq_ic(opt, "LT") {
            c.lt = true;
        } else {
            return Err(format!("ERR Unsupported option {}", String::from_utf8_lossy(opt)).into());
        }
    }
    if c.nx && (c.xx || c.gt || c.lt) {
        return Err("ERR NX and XX, GT or LT options at the same time are not compatible".into());
    }
    if c.gt && c.lt {
        return Err("ERR GT and LT options at the same time are not compatible".into());
    }
    Ok(c)
}

impl Conditions {
    /// Whether the new deadline `when` may replace `current` (`None`: no TTL, i.e. infinite).
    fn allow(&self, current: Option<i64>, when: i64) -> bool {
        match current {
            Some(_) if self.nx => false,
            None if self.xx || self.gt => false,
            Some(cur) if self.gt => when > cur,
            Some(cur) if self.lt => when < cur,
            _ => true,
        }
    }
}

/// Redis's `expireGenericCommand`: `relative` adds the current time, `seconds` scales by 1000.
fn expire_generic(
    ctx: &mut Ctx<'_>,
    argv: &[Bytes],
    name: &str,
    relative: bool,
    seconds: bool,
) -> CmdResult {
    let key = &argv[1];
    let cond = parse_conditions(&argv[3..])?;
    let mut when = parse_i64(&argv[2])?;
    if seconds {
        when = when
            .checked_mul(1000)
            .ok_or_else(|| expire_time_error(name))?;
    }
    if relative {
        when = when
            .checked_add(ctx.now)
            .ok_or_else(|| expire_time_error(name))?;
    }
    let now = ctx.now;
    let db = ctx.db();
    if !db.contains(key, now) || !cond.allow(db.expire_at(key), when) {
        ctx.out.int(0);
        return Ok(());
    }
    if when <= now {
        db.remove(key);
        ctx.propagate_as(|| vec![op(b"DEL", &[key])]);
        ctx.modified(key);
        ctx.notify(crate::notify::class::GENERIC, "del", key);
    } else {
        db.set_expire(key, when);
        // Replicas get the absolute time in ms, conditions kept.
        ctx.propagate_as(|| {
            let mut rewritten = op(b"PEXPIREAT", &[key, &int_arg(when)]);
            rewritten.extend(argv[3..].iter().cloned());
            vec![rewritten]
        });
        ctx.modified(key);
        ctx.notify(crate::notify::class::GENERIC, "expire", key);
    }
    ctx.out.int(1);
    Ok(())
}

pub(super) fn expire(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    expire_generic(ctx, argv, "expire", true, true)
}

pub(super) fn pexpire(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    expire_generic(ctx, argv, "pexpire", true, false)
}

pub(super) fn expireat(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    expire_generic(ctx, argv, "expireat", false, true)
}

pub(super) fn pexpireat(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    expire_generic(ctx, argv, "pexpireat", false, false)
}

/// What the TTL family reports about `key`: `Err(-2)` missing, `Err(-1)` no TTL, or the
/// absolute deadline in ms.
fn deadline(ctx: &mut Ctx<'_>, key: &[u8]) -> Result<i64, i64> {
    if lookup_read(ctx, key).0.is_none() {
        return Err(-2);
    }
    ctx.db().expire_at(key).ok_or(-1)
}

fn reply_ttl(ctx: &mut Ctx<'_>, key: &[u8], f: impl Fn(i64, i64) -> i64) -> CmdResult {
    let now = ctx.now;
    let n = deadline(ctx, key).map_or_else(|code| code, |at| f(at, now));
    ctx.out.int(n);
    Ok(())
}

pub(super) fn ttl(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    reply_ttl(ctx, &argv[1], |at, now| ((at - now).max(0) + 500) / 1000)
}

pub(super) fn pttl(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    reply_ttl(ctx, &argv[1], |at, now| (at - now).max(0))
}

pub(super) fn expiretime(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    reply_ttl(ctx, &argv[1], |at, _| (at.max(0) + 500) / 1000)
}

pub(super) fn pexpiretime(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    reply_ttl(ctx, &argv[1], |at, _| at.max(0))
}

pub(super) fn persist(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let key = &argv[1];
    let now = ctx.now;
    let db = ctx.db();
    let changed = db.contains(key, now) && db.clear_expire(key);
    if changed {
        ctx.modified(key);
        ctx.notify(crate::notify::class::GENERIC, "persist", key);
    }
    ctx.out.int(i64::from(changed));
    Ok(())
}
