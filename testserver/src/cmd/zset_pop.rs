//! ZPOPMIN/ZPOPMAX, ZMPOP and their blocking forms, as Redis's `genericZpopCommand` and
//! `blockingGenericZpopCommand`.

use crate::keyspace::ZSet;
use bytes::Bytes;
use rediscover::error_codes::msg;

use super::args::parse_mpop;
use super::lookup::write_typed;
use super::zset::changed;
use super::{eq_ic, owned, parse_i64, parse_timeout, CmdResult, Ctx};
use crate::node::TimeoutReply;

/// How a pop replies.
#[derive(Clone, Copy)]
struct Shape {
    /// Prefix the key (BZPOP*, ZMPOP, BZMPOP).
    emit_key: bool,
    /// [member, score] pairs instead of a flat list.
    nested: bool,
    /// Null array instead of an empty array when no key has data (ZMPOP).
    nil_when_empty: bool,
}

pub(super) fn zpopmin(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    zpop(ctx, argv, false)
}

pub(super) fn zpopmax(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    zpop(ctx, argv, true)
}

fn zpop(ctx: &mut Ctx<'_>, argv: &[Bytes], max: bool) -> CmdResult {
    if argv.len() > 3 {
        return Err(msg::SYNTAX.into());
    }
    let count = match argv.get(2) {
        Some(arg) => match parse_i64(arg) {
            Ok(n) if n >= 0 => Some(n as u64),
            _ => return Err("ERR value is out of range, must be positive".into()),
        },
        None => None,
    };
    let shape = Shape {
        emit_key: false,
        nested: ctx.client.resp3 && count.is_some(),
        nil_when_empty: false,
    };
    pop_first(ctx, &argv[1..2], max, count, shape)
}

/// Pops from the first of `keys` that exists; `count` `None` is the plain single pop.
fn pop_first(
    ctx: &mut Ctx<'_>,
    keys: &[Bytes],
    max: bool,
    count: Option<u64>,
    shape: Shape,
) -> CmdResult {
    let now = ctx.now;
    let mut found = None;
    for key in keys {
        if write_typed::<ZSet>(ctx.db(), key, now)?.is_some() {
            found = Some(key);
            break;
        }
    }
    let Some(key) = found else {
        if shape.nil_when_empty {
            ctx.out.null_array();
        } else {
            ctx.out.array(0);
        }
        return Ok(());
    };
    if count == Some(0) {
        ctx.out.array(0);
        return Ok(());
    }
    let mut popped = Vec::new();
    if let Some(z) = write_typed::<ZSet>(ctx.db(), key, now)? {
        let n = count.unwrap_or(1).min(z.len() as u64);
        for _ in 0..n {
            match z.pop(max) {
                Some(p) => popped.push(p),
                None => break,
            }
        }
    }
    let n = popped.len();
    changed(ctx, key, n, if max { "zpopmax" } else { "zpopmin" });
    if shape.emit_key {
        // BZPOP* and [B]ZMPOP replicate as the plain pop they turned into.
        let name: &'static [u8] = if max { b"ZPOPMAX" } else { b"ZPOPMIN" };
        ctx.propagate_as(|| {
            vec![if shape.nested {
                crate::cmd::op(name, &[key, &crate::cmd::int_arg(n as i64)])
            } else {
                crate::cmd::op(name, &[key])
            }]
        });
    }
    let out = &mut *ctx.out;
    match (shape.emit_key, shape.nested) {
        (false, false) => out.array(n * 2),
        (false, true) => out.array(n),
        (true, false) => {
            out.array(n * 2 + 1);
            out.bulk(key);
        }
        (true, true) => {
            out.array(2);
            out.bulk(key);
            out.array(n);
        }
    }
    for (m, s) in popped {
        if shape.nested {
            out.array(2);
        }
        out.bulk(&m);
        out.double(s);
    }
    Ok(())
}

/// Pops from the first of `keys` holding data, or blocks on all of them.
fn pop_or_block(
    ctx: &mut Ctx<'_>,
    keys: &[Bytes],
    timeout: &[u8],
    max: bool,
    count: Option<u64>,
    shape: Shape,
) -> CmdResult {
    let deadline = parse_timeout(timeout)?;
    let now = ctx.now;
    for key in keys {
        if write_typed::<ZSet>(ctx.db(), key, now)?.is_some_and(|z| !z.is_empty()) {
            return pop_first(ctx, std::slice::from_ref(key), max, count, shape);
        }
    }
    ctx.block(
        keys.iter().map(owned).collect(),
        deadline,
        TimeoutReply::NullArray,
    );
    Ok(())
}

pub(super) fn bzpopmin(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    bzpop(ctx, argv, false)
}

pub(super) fn bzpopmax(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    bzpop(ctx, argv, true)
}

fn bzpop(ctx: &mut Ctx<'_>, argv: &[Bytes], max: bool) -> CmdResult {
    let shape = Shape {
        emit_key: true,
        nested: false,
        nil_when_empty: false,
    };
    let last = argv.len() - 1;
    pop_or_block(ctx, &argv[1..last], &argv[last], max, None, shape)
}

pub(super) fn zmpop(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    zmpop_generic(ctx, argv, 1, false)
}

pub(super) fn bzmpop(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    zmpop_generic(ctx, argv, 2, true)
}

/// `[timeout] numkeys key... MIN|MAX [COUNT n]`, numkeys at `argv[numkeys_idx]`.
fn zmpop_generic(ctx: &mut Ctx<'_>, argv: &[Bytes], numkeys_idx: usize, block: bool) -> CmdResult {
    let (keys, max, count) = parse_mpop(&argv[numkeys_idx..], |w| {
        if eq_ic(w, "min") {
            Some(false)
        } else if eq_ic(w, "max") {
            Some(true)
        } else {
            None
        }
    })?;
    let count = Some(count as u64);
    let shape = Shape {
        emit_key: true,
        nested: true,
        nil_when_empty: true,
    };
    if block {
        pop_or_block(ctx, keys, &argv[1], max, count, shape)
    } else {
        pop_first(ctx, keys, max, count, shape)
    }
}
