//! List commands: pushes, pops, ranges, in-place edits, LPOS and moves between lists. The
//! blocking variants live in [`blocking`].

mod blocking;

use bytes::Bytes;
use rediscover::error_codes::msg;

use super::args::parse_mpop;
use super::lookup::{read_typed, write_typed};
use super::{eq_ic, owned, parse_i64, CmdResult, Ctx, Error, Handler};

use crate::keyspace::{normalize_range, End, List, Value};
use crate::notify::class as ev;

/// The event a push at `end` raises.
fn push_event(end: End) -> &'static str {
    match end {
        End::Left => "lpush",
        End::Right => "rpush",
    }
}

/// The event a pop at `end` raises.
fn pop_event(end: End) -> &'static str {
    match end {
        End::Left => "lpop",
        End::Right => "rpop",
    }
}

pub(crate) const COMMANDS: &[(&str, Handler)] = &[
    ("lpush", lpush),
    ("rpush", rpush),
    ("lpushx", lpushx),
    ("rpushx", rpushx),
    ("lpop", lpop),
    ("rpop", rpop),
    ("llen", llen),
    ("lrange", lrange),
    ("lindex", lindex),
    ("lset", lset),
    ("linsert", linsert),
    ("lrem", lrem),
    ("ltrim", ltrim),
    ("lpos", lpos),
    ("lmove", lmove),
    ("rpoplpush", rpoplpush),
    ("lmpop", lmpop),
    ("blpop", blocking::blpop),
    ("brpop", blocking::brpop),
    ("blmove", blocking::blmove),
    ("brpoplpush", blocking::brpoplpush),
    ("blmpop", blocking::blmpop),
];

/// `LEFT` or `RIGHT`, else a syntax error.
fn parse_end(arg: &[u8]) -> Result<End, Error> {
    End::parse(arg).ok_or(Error::from(msg::SYNTAX))
}

/// A count that must not be negative (Redis's `getPositiveLongFromObjectOrReply`): any bad
/// value, not a number included, gets `err`.
fn parse_non_negative(arg: &[u8], err: &'static str) -> Result<usize, Error> {
    match parse_i64(arg) {
        Ok(n) if n >= 0 => Ok(n as usize),
        _ => Err(err.into()),
    }
}

const MUST_BE_POSITIVE: &str = "ERR value is out of range, must be positive";

fn lpush(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    push(ctx, argv, End::Left, false)
}

fn rpush(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    push(ctx, argv, End::Right, false)
}

fn lpushx(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    push(ctx, argv, End::Left, true)
}

fn rpushx(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    push(ctx, argv, End::Right, true)
}

/// [LR]PUSH[X]: pushes `argv[2..]` one by one; `only_existing` is the X variant.
fn push(ctx: &mut Ctx<'_>, argv: &[Bytes], end: End, only_existing: bool) -> CmdResult {
    let key = &argv[1];
    let items = &argv[2..];
    let now = ctx.now;
    let (db, out) = ctx.parts();
    let len = match write_typed::<List>(db, key, now)? {
        Some(list) => {
            for item in items {
                list.push(end, item);
            }
            list.len()
        }
        None if only_existing => {
            out.int(0);
            return Ok(());
        }
        None => {
            let mut list = List::new();
            for item in items {
                list.push(end, item);
            }
            let len = list.len();
            // A new key: `set` wakes clients blocked on it.
            db.set(owned(key), Value::List(list));
            len
        }
    };
    ctx.modified(key);
    ctx.notify(ev::LIST, push_event(end), key);
    ctx.out.int(len as i64);
    ctx.dirty(items.len() as u64 - 1);
    Ok(())
}

/// Pops up to `count` elements from the list at `key`, deleting the key once it is empty.
/// The caller has checked that `key` holds a list.
fn pop_elements(ctx: &mut Ctx<'_>, key: &[u8], end: End, count: usize) -> Vec<Bytes> {
    let now = ctx.now;
    let db = ctx.db();
    let Ok(Some(list)) = write_typed::<List>(db, key, now) else {
        return Vec::new();
    };
    let popped: Vec<Bytes> = (0..count.min(list.len()))
        .filter_map(|_| list.pop(end))
        .collect();
    let emptied = list.is_empty();
    if emptied {
        db.remove(key);
    }
    if !popped.is_empty() {
        ctx.modified(key);
        ctx.notify(ev::LIST, pop_event(end), key);
        if emptied {
            ctx.notify(ev::GENERIC, "del", key);
        }
        ctx.dirty(popped.len() as u64 - 1);
    }
    popped
}

/// Writes `[key, [elements...]]`, the reply of LMPOP and BLMPOP.
fn reply_key_and_elements(ctx: &mut Ctx<'_>, key: &[u8], elements: &[Bytes]) {
    ctx.out.array(2);
    ctx.out.bulk(key);
    reply_elements(ctx, elements);
}

fn reply_elements(ctx: &mut Ctx<'_>, elements: &[Bytes]) {
    ctx.out.array(elements.len());
    for e in elements {
        ctx.out.bulk(e);
    }
}

fn lpop(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    pop(ctx, argv, End::Left)
}

fn rpop(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    pop(ctx, argv, End::Right)
}

/// LPOP/RPOP `key [count]`: one element as a bulk, or with a count, an array.
fn pop(ctx: &mut Ctx<'_>, argv: &[Bytes], end: End) -> CmdResult {
    if argv.len() > 3 {
        let name = if end == End::Left { "lpop" } else { "rpop" };
        return Err(rediscover::error_codes::wrong_arity(name).into());
    }
    let count = match argv.get(2) {
        Some(arg) => Some(parse_non_negative(arg, MUST_BE_POSITIVE)?),
        None => None,
    };
    let key = &argv[1];
    let now = ctx.now;
    if write_typed::<List>(ctx.db(), key, now)?.is_none() {
        match count {
            Some(_) => ctx.out.null_array(),
            None => ctx.out.null(),
        }
        return Ok(());
    }
    match count {
        None => {
            let popped = pop_elements(ctx, key, end, 1);
            match popped.first() {
                Some(v) => ctx.out.bulk(v),
                None => ctx.out.null(),
            }
        }
        Some(n) => {
            let popped = pop_elements(ctx, key, end, n);
            reply_elements(ctx, &popped);
        }
    }
    Ok(())
}

fn llen(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let (list, out) = read_typed::<List>(ctx, &argv[1])?;
    let len = list.map_or(0, |l| l.len());
    out.int(len as i64);
    Ok(())
}

fn lrange(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let start = parse_i64(&argv[2])?;
    let end = parse_i64(&argv[3])?;
    let (list, out) = read_typed::<List>(ctx, &argv[1])?;
    let Some(list) = list else {
        out.array(0);
        return Ok(());
    };
    match normalize_range(start, end, list.len()) {
        None => out.array(0),
        Some((s, e)) => {
            out.array(e - s + 1);
            for item in list.range(s, e) {
                out.bulk(item);
            }
        }
    }
    Ok(())
}

fn lindex(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let (list, out) = read_typed::<List>(ctx, &argv[1])?;
    let Some(list) = list else {
        out.null();
        return Ok(());
    };
    let index = parse_i64(&argv[2])?;
    match list.position(index) {
        Some(i) => out.bulk(list.get(i).unwrap_or_default()),
        None => out.null(),
    }
    Ok(())
}

fn lset(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let key = &argv[1];
    let now = ctx.now;
    let (db, out) = ctx.parts();
    let Some(list) = write_typed::<List>(db, key, now)? else {
        return Err(msg::NO_SUCH_KEY.into());
    };
    let index = parse_i64(&argv[2])?;
    let Some(i) = list.position(index) else {
        return Err(msg::OUT_OF_RANGE.into());
    };
    list.set(i, &argv[3]);
    out.ok();
    ctx.modified(key);
    ctx.notify(ev::LIST, "lset", key);
    Ok(())
}

fn linsert(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let after = if eq_ic(&argv[2], "after") {
        true
    } else if eq_ic(&argv[2], "before") {
        false
    } else {
        return Err(msg::SYNTAX.into());
    };
    let key = &argv[1];
    let now = ctx.now;
    let (db, out) = ctx.parts();
    let Some(list) = write_typed::<List>(db, key, now)? else {
        out.int(0);
        return Ok(());
    };
    let Some(pos) = list.iter().position(|e| e == &argv[3][..]) else {
        out.int(-1);
        return Ok(());
    };
    list.insert(pos + usize::from(after), &argv[4]);
    out.int(list.len() as i64);
    ctx.modified(key);
    ctx.notify(ev::LIST, "linsert", key);
    Ok(())
}

fn lrem(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let count = parse_i64(&argv[2])?;
    let key = &argv[1];
    let element = &argv[3][..];
    let now = ctx.now;
    let db = ctx.db();
    let Some(list) = write_typed::<List>(db, key, now)? else {
        ctx.out.int(0);
        return Ok(());
    };
    // 0 removes every match; a negative count removes from the tail.
    let limit = count.unsigned_abs().try_into().unwrap_or(usize::MAX);
    let removed = list.remove_matching(element, limit, count >= 0);
    let emptied = list.is_empty();
    if emptied {
        db.remove(key);
    }
    ctx.out.int(removed as i64);
    if removed > 0 {
        ctx.modified(key);
        ctx.notify(ev::LIST, "lrem", key);
        if emptied {
            ctx.notify(ev::GENERIC, "del", key);
        }
        ctx.dirty(removed as u64 - 1);
    }
    Ok(())
}

fn ltrim(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let start = parse_i64(&argv[2])?;
    let end = parse_i64(&argv[3])?;
    let key = &argv[1];
    let now = ctx.now;
    let db = ctx.db();
    let Some(list) = write_typed::<List>(db, key, now)? else {
        ctx.out.ok();
        return Ok(());
    };
    let before = list.len();
    list.trim(normalize_range(start, end, before));
    let removed = before - list.len();
    let emptied = list.is_empty();
    if emptied {
        db.remove(key);
    }
    // Redis signals the key even when nothing was trimmed, and counts removed elements.
    db.touch(key);
    ctx.notify(ev::LIST, "ltrim", key);
    if emptied {
        ctx.notify(ev::GENERIC, "del", key);
    }
    ctx.dirty(removed as u64);
    ctx.out.ok();
    Ok(())
}

/// LPOS options.
struct LposArgs {
    /// Which match to start from: 1 is the first; negative counts matches from the tail.
    rank: i64,
    /// `None`: reply with one index; `Some(0)`: all matches.
    count: Option<usize>,
    /// Compare at most this many elements (0: all).
    maxlen: usize,
}

fn parse_lpos_args(args: &[Bytes]) -> Result<LposArgs, Error> {
    let mut opts = LposArgs {
        rank: 1,
        count: None,
        maxlen: 0,
    };
    let mut i = 0;
    while i < args.len() {
        let opt = &args[i];
        let Some(value) = args.get(i + 1) else {
            return Err(msg::SYNTAX.into());
        };
        if eq_ic(opt, "rank") {
            // Redis accepts the whole range of a long here, LONG_MIN included.
            opts.rank = parse_i64(value)?;
            if opts.rank == 0 {
                return Err(
                    "ERR RANK can't be zero: use 1 to start from the first match, 2 from \
                     the second ... or use negative to start from the end of the list"
                        .into(),
                );
            }
        } else if eq_ic(opt, "count") {
            opts.count = Some(parse_non_negative(value, "ERR COUNT can't be negative")?);
        } else if eq_ic(opt, "maxlen") {
            opts.maxlen = parse_non_negative(value, "ERR MAXLEN can't be negative")?;
        } else {
            return Err(msg::SYNTAX.into());
        }
        i += 2;
    }
    Ok(opts)
}

fn lpos(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let opts = parse_lpos_args(&argv[3..])?;
    let element = &argv[2][..];
    let (list, out) = read_typed::<List>(ctx, &argv[1])?;
    let Some(list) = list else {
        match opts.count {
            Some(_) => out.array(0),
            None => out.null(),
        }
        return Ok(());
    };
    let from_tail = opts.rank < 0;
    // Like Redis, negating LONG_MIN leaves it negative: every match then qualifies.
    let rank = if from_tail {
        opts.rank.wrapping_neg()
    } else {
        opts.rank
    };
    let len = list.len();
    let scan = if opts.maxlen == 0 {
        len
    } else {
        opts.maxlen.min(len)
    };
    // One walk from the chosen end (indexing each position would walk the nodes each time).
    let items: Box<dyn Iterator<Item = (usize, &[u8])>> = if from_tail {
        Box::new(list.iter().rev().enumerate().map(|(i, e)| (len - 1 - i, e)))
    } else {
        Box::new(list.iter().enumerate())
    };
    let mut matches: i64 = 0;
    let mut found = Vec::new();
    for (pos, item) in items.take(scan) {
        if item != element {
            continue;
        }
        matches += 1;
        if matches < rank {
            continue;
        }
        found.push(pos as i64);
        match opts.count {
            None => break,
            Some(0) => {}
            Some(c) => {
                if matches.wrapping_sub(rank).wrapping_add(1) >= c as i64 {
                    break;
                }
            }
        }
    }
    match opts.count {
        Some(_) => {
            out.array(found.len());
            for pos in found {
                out.int(pos);
            }
        }
        None => match found.first() {
            Some(&pos) => out.int(pos),
            None => out.null(),
        },
    }
    Ok(())
}

fn lmove(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let from = parse_end(&argv[3])?;
    let to = parse_end(&argv[4])?;
    move_or_null(ctx, &argv[1], &argv[2], from, to)
}

fn rpoplpush(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    move_or_null(ctx, &argv[1], &argv[2], End::Right, End::Left)
}

/// LMOVE: moves one element, or replies null when the source does not exist.
fn move_or_null(ctx: &mut Ctx<'_>, src: &[u8], dst: &[u8], from: End, to: End) -> CmdResult {
    let now = ctx.now;
    if write_typed::<List>(ctx.db(), src, now)?.is_none() {
        ctx.out.null();
        return Ok(());
    }
    move_element(ctx, src, dst, from, to)
}

/// Moves one element from the (existing) list `src` to `dst` and replies with it. The
/// destination's type is checked before anything is popped, so a WRONGTYPE changes nothing.
fn move_element(ctx: &mut Ctx<'_>, src: &[u8], dst: &[u8], from: End, to: End) -> CmdResult {
    let now = ctx.now;
    let db = ctx.db();
    write_typed::<List>(db, dst, now)?;
    let Some(list) = write_typed::<List>(db, src, now)? else {
        ctx.out.null();
        return Ok(());
    };
    let Some(value) = list.pop(from) else {
        ctx.out.null();
        return Ok(());
    };
    let mut emptied = false;
    if src == dst {
        // Rotation: the element goes back into the same list, which never empties.
        list.push(to, &value);
    } else {
        if list.is_empty() {
            emptied = true;
            db.remove(src);
        }
        match write_typed::<List>(db, dst, now)? {
            Some(target) => target.push(to, &value),
            None => {
                let mut target = List::new();
                target.push(to, &value);
                db.set(Bytes::copy_from_slice(dst), Value::List(target));
            }
        }
    }
    db.touch(dst);
    ctx.notify(ev::LIST, push_event(to), dst);
    ctx.notify(ev::LIST, pop_event(from), src);
    if emptied {
        ctx.notify(ev::GENERIC, "del", src);
    }
    ctx.modified(src);
    ctx.out.bulk(&value);
    Ok(())
}

fn lmpop(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let (keys, end, count) = parse_mpop(&argv[1..], End::parse)?;
    let now = ctx.now;
    for key in keys {
        if write_typed::<List>(ctx.db(), key, now)?.is_some() {
            let popped = pop_elements(ctx, key, end, count);
            ctx.propagate_as(|| vec![blocking::pop_op(end, key, Some(popped.len()))]);
            reply_key_and_elements(ctx, key, &popped);
            return Ok(());
        }
    }
    ctx.out.null_array();
    Ok(())
}
