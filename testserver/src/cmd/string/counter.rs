//! INCR, DECR, INCRBY, DECRBY, INCRBYFLOAT: strings read as numbers, changed in place (the TTL
//! stays, as with Redis's `dbOverwrite`).

use bytes::Bytes;
use rediscover::error_codes::msg;

use super::super::{parse_i64, CmdResult, Ctx, Error};
use super::str_mut;
use crate::cmd::longdouble::{self, LongDouble};
use crate::keyspace::{Str, Value};

/// The current string at `key` (`None` if missing), or WRONGTYPE (a write lookup: no keyspace
/// hit or miss, as Redis's `lookupKeyWrite`).
fn current(ctx: &mut Ctx<'_>, key: &[u8]) -> Result<Option<Bytes>, Error> {
    Ok(str_mut(ctx, key)?.map(|s| s.data.clone()))
}

/// Stores a counter's new value, keeping the key's TTL.
fn put(ctx: &mut Ctx<'_>, key: &Bytes, value: Str, event: &str) {
    ctx.db()
        .set_keep_ttl(Bytes::copy_from_slice(key), Value::Str(value));
    ctx.modified(key);
    ctx.notify(crate::notify::class::STRING, event, key);
}

fn incr_by(ctx: &mut Ctx<'_>, key: &Bytes, delta: i64) -> CmdResult {
    let cur = match current(ctx, key)? {
        Some(v) => parse_i64(&v)?,
        None => 0,
    };
    let new = cur.checked_add(delta).ok_or(Error::from(msg::OVERFLOW))?;
    put(ctx, key, Str::new(Bytes::from(new.to_string())), "incrby");
    ctx.out.int(new);
    Ok(())
}

pub(super) fn incr(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    incr_by(ctx, &argv[1], 1)
}

pub(super) fn decr(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    incr_by(ctx, &argv[1], -1)
}

pub(super) fn incrby(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let delta = parse_i64(&argv[2])?;
    incr_by(ctx, &argv[1], delta)
}

pub(super) fn decrby(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let delta = parse_i64(&argv[2])?;
    let delta = delta
        .checked_neg()
        .ok_or(Error::from("ERR decrement would overflow"))?;
    incr_by(ctx, &argv[1], delta)
}

pub(super) fn incrbyfloat(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let key = &argv[1];
    let cur = current(ctx, key)?;
    let not_float = || Error::from(msg::NOT_FLOAT);
    let cur = match cur {
        Some(v) => longdouble::parse(&v).ok_or_else(not_float)?,
        None => LongDouble::ZERO,
    };
    let incr = longdouble::parse(&argv[2]).ok_or_else(not_float)?;
    let new = cur.add(incr);
    if new.is_inf() {
        return Err(msg::INCR_NAN.into());
    }
    let text = Bytes::from(new.to_human());
    put(ctx, key, Str::plain(text.clone()), "incrbyfloat");
    ctx.out.bulk(&text);
    // Replicas store the result: float addition must not be redone elsewhere.
    ctx.propagate_as(|| {
        vec![super::super::op(
            b"SET",
            &[key, &text, &Bytes::from_static(b"KEEPTTL")],
        )]
    });
    Ok(())
}
