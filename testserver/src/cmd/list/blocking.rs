//! BLPOP, BRPOP, BLMOVE, BRPOPLPUSH and BLMPOP: serve at once when a list has data, else park
//! the client on its keys.
//!
//! A parked client's command runs again when one of its keys is created, with `ctx.ready_key`
//! set to that key. As in Redis 7.0 it is then served from that key only, and a key that now
//! holds another type leaves it blocked instead of failing it.

use std::time::Instant;

use bytes::Bytes;
use rediscover::error_codes::msg;

use super::{
    move_element, parse_end, pop_elements, reply_key_and_elements, CmdResult, Ctx, End, Error,
    Value,
};
use crate::cmd::args::parse_mpop;
use crate::cmd::{owned, parse_timeout};
use crate::node::TimeoutReply;

pub(super) fn blpop(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let (timeout, keys) = split_timeout(argv)?;
    blocking_pop(ctx, keys, End::Left, None, timeout)
}

pub(super) fn brpop(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let (timeout, keys) = split_timeout(argv)?;
    blocking_pop(ctx, keys, End::Right, None, timeout)
}

pub(super) fn blmpop(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let (keys, end, count) = parse_mpop(&argv[2..], End::parse)?;
    let timeout = parse_timeout(&argv[1])?;
    blocking_pop(ctx, keys, end, Some(count), timeout)
}

pub(super) fn blmove(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let from = parse_end(&argv[3])?;
    let to = parse_end(&argv[4])?;
    let timeout = parse_timeout(&argv[5])?;
    blocking_move(ctx, &argv[1], &argv[2], (from, to, false), timeout)
}

pub(super) fn brpoplpush(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let timeout = parse_timeout(&argv[3])?;
    blocking_move(
        ctx,
        &argv[1],
        &argv[2],
        (End::Right, End::Left, true),
        timeout,
    )
}

/// `LEFT` / `RIGHT` (`left` / `right` when `lower`).
fn end_arg(end: End, lower: bool) -> Bytes {
    Bytes::from_static(match (end, lower) {
        (End::Left, false) => b"LEFT",
        (End::Right, false) => b"RIGHT",
        (End::Left, true) => b"left",
        (End::Right, true) => b"right",
    })
}

/// `LPOP key [count]` / `RPOP key [count]`: how pops from a list are replicated.
pub(super) fn pop_op(end: End, key: &[u8], count: Option<usize>) -> Vec<Bytes> {
    let name: &'static [u8] = match end {
        End::Left => b"LPOP",
        End::Right => b"RPOP",
    };
    let mut argv = vec![Bytes::from_static(name), Bytes::copy_from_slice(key)];
    if let Some(n) = count {
        argv.push(crate::cmd::int_arg(n as i64));
    }
    argv
}

/// `key... timeout`: the parsed timeout and the keys.
fn split_timeout(argv: &[Bytes]) -> Result<(Option<Instant>, &[Bytes]), Error> {
    let (last, keys) = argv[1..].split_last().ok_or(Error::from(msg::SYNTAX))?;
    Ok((parse_timeout(last)?, keys))
}

/// Whether `key` holds a list to serve from. Another type is an error on the first run, but
/// not when the command runs again for a parked client (Redis keeps it blocked).
fn has_list(ctx: &mut Ctx<'_>, key: &[u8]) -> Result<bool, Error> {
    let rerun = ctx.ready_key.is_some();
    let now = ctx.now;
    match ctx.db().get(key, now) {
        None => Ok(false),
        Some(Value::List(list)) => Ok(!list.is_empty()),
        Some(_) if rerun => Ok(false),
        Some(_) => Err(msg::WRONGTYPE.into()),
    }
}

/// The keys to try, in order: all of them on the first run, the ready key on a rerun.
fn keys_to_serve(ctx: &Ctx<'_>, keys: &[Bytes]) -> Vec<Bytes> {
    match &ctx.ready_key {
        Some(key) => vec![key.clone()],
        None => keys.to_vec(),
    }
}

/// Parks the client on `keys` (each once).
fn block_on(ctx: &mut Ctx<'_>, keys: &[Bytes], timeout: Option<Instant>, reply: TimeoutReply) {
    let mut unique: Vec<Bytes> = Vec::with_capacity(keys.len());
    for key in keys {
        if !unique.contains(key) {
            unique.push(owned(key));
        }
    }
    ctx.block(unique, timeout, reply);
}

/// BLPOP/BRPOP (`count` is `None`: reply `[key, element]`) and BLMPOP (reply
/// `[key, [elements...]]`).
fn blocking_pop(
    ctx: &mut Ctx<'_>,
    keys: &[Bytes],
    end: End,
    count: Option<usize>,
    timeout: Option<Instant>,
) -> CmdResult {
    for key in keys_to_serve(ctx, keys) {
        if !has_list(ctx, &key)? {
            continue;
        }
        let popped = pop_elements(ctx, &key, end, count.unwrap_or(1));
        // Replicated as the non-blocking pop it turned into.
        ctx.propagate_as(|| vec![pop_op(end, &key, count.map(|_| popped.len()))]);
        match count {
            Some(_) => reply_key_and_elements(ctx, &key, &popped),
            None => {
                ctx.out.array(2);
                ctx.out.bulk(&key);
                ctx.out.bulk(popped.first().map_or(&b""[..], |v| &v[..]));
            }
        }
        return Ok(());
    }
    block_on(ctx, keys, timeout, TimeoutReply::NullArray);
    Ok(())
}

/// BLMOVE/BRPOPLPUSH (`rpoplpush` set): LMOVE when the source has data, else block.
fn blocking_move(
    ctx: &mut Ctx<'_>,
    src: &Bytes,
    dst: &Bytes,
    (from, to, rpoplpush): (End, End, bool),
    timeout: Option<Instant>,
) -> CmdResult {
    if has_list(ctx, src)? {
        // Redis 7.0 spells the ends in lower case when it serves a client that was blocked.
        let lower = ctx.ready_key.is_some();
        ctx.propagate_as(|| {
            vec![if rpoplpush {
                crate::cmd::op(b"RPOPLPUSH", &[src, dst])
            } else {
                let (f, t) = (end_arg(from, lower), end_arg(to, lower));
                crate::cmd::op(b"LMOVE", &[src, dst, &f, &t])
            }]
        });
        return move_element(ctx, src, dst, from, to);
    }
    if ctx.in_exec {
        // Redis answers a null bulk where it may not block, but a null array on a real timeout
        // (every list-blocked client times out with one).
        ctx.out.null();
    } else {
        block_on(
            ctx,
            std::slice::from_ref(src),
            timeout,
            TimeoutReply::NullArray,
        );
    }
    Ok(())
}
