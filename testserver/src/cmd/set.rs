//! Set commands: SADD, SREM, SPOP, SMOVE, the SINTER/SUNION/SDIFF algebra, SSCAN, ...

use bytes::Bytes;
use rediscover::error_codes::msg;
use rediscover::resp::ReplyWriter;

use super::lookup::{read_typed, write_or_create, write_typed, Typed};
use super::random::{distinct_indices, parse_count, random_index, Picks};
use super::scan::{parse_cursor, parse_scan, write_scan_reply};
use super::{eq_ic, parse_i64, CmdResult, Ctx, Error, Handler};
use crate::keyspace::{scan_step, Db, Set, Value};
use crate::notify::class as ev;

pub(crate) const COMMANDS: &[(&str, Handler)] = &[
    ("sadd", sadd),
    ("srem", srem),
    ("smembers", smembers),
    ("sismember", sismember),
    ("smismember", smismember),
    ("scard", scard),
    ("spop", spop),
    ("srandmember", srandmember),
    ("smove", smove),
    ("sinter", sinter),
    ("sintercard", sintercard),
    ("sinterstore", sinterstore),
    ("sunion", sunion),
    ("sunionstore", sunionstore),
    ("sdiff", sdiff),
    ("sdiffstore", sdiffstore),
    ("sscan", sscan),
];

/// The set at `key` for a read-only command, if any (WRONGTYPE for another type), with the
/// reply writer; counts a keyspace hit or miss as Redis's `lookupKeyRead` does.
fn read<'a>(
    ctx: &'a mut Ctx<'_>,
    key: &[u8],
) -> Result<(Option<&'a Set>, &'a mut ReplyWriter), Error> {
    read_typed(ctx, key)
}

/// The set at `key` for a write, if any (WRONGTYPE for another type; no hit/miss counted).
fn read_mut<'a>(db: &'a mut Db, key: &[u8], now: i64) -> Result<Option<&'a mut Set>, Error> {
    write_typed(db, key, now)
}

/// The set at `key` for adding members, created empty if missing (`setTypeCreate`).
fn write<'a>(db: &'a mut Db, key: &[u8], now: i64) -> Result<&'a mut Set, Error> {
    write_or_create(db, key, now, || Value::Set(Set::new()))
}

/// The sets at `keys` (missing keys are `None`) with the reply writer, after checking that
/// every key that exists is a set, as Redis checks all of them (each lookup counting a hit or
/// miss) before computing anything.
fn load<'a>(
    ctx: &'a mut Ctx<'_>,
    keys: &[Bytes],
) -> Result<(Vec<Option<&'a Set>>, &'a mut ReplyWriter), Error> {
    for key in keys {
        read(ctx, key)?;
    }
    // Everything due has expired above, so plain lookups see exactly the live keys.
    let db: &'a Db = &ctx.node.dbs[ctx.client.db];
    let sets = keys.iter().map(|k| db.peek(k).and_then(Set::of)).collect();
    Ok((sets, &mut *ctx.out))
}

fn max_intset(ctx: &Ctx<'_>) -> usize {
    ctx.node.config.set_max_intset_entries
}

/// Writes a whole set as a RESP3 set (an array in RESP2).
fn write_set(out: &mut ReplyWriter, members: impl ExactSizeIterator<Item = Bytes>) {
    out.set(members.len());
    for m in members {
        out.bulk(&m);
    }
}

fn sadd(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let (now, max) = (ctx.now, max_intset(ctx));
    let set = write(ctx.db(), &argv[1], now)?;
    let added = argv[2..].iter().filter(|m| set.insert(m, max)).count();
    if added > 0 {
        ctx.modified(&argv[1]);
        ctx.notify(ev::SET, "sadd", &argv[1]);
        ctx.dirty(added as u64 - 1);
    }
    ctx.out.int(added as i64);
    Ok(())
}

/// Deletes `key` if its set became empty (no set stays in the keyspace empty); whether it did.
fn drop_if_empty(db: &mut Db, key: &[u8]) -> bool {
    if matches!(db.peek(key), Some(Value::Set(s)) if s.is_empty()) {
        db.remove(key);
        return true;
    }
    false
}

fn srem(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let now = ctx.now;
    let db = ctx.db();
    let removed = match read_mut(db, &argv[1], now)? {
        Some(set) => argv[2..].iter().filter(|m| set.remove(m)).count(),
        None => 0,
    };
    let emptied = drop_if_empty(db, &argv[1]);
    if removed > 0 {
        ctx.modified(&argv[1]);
        ctx.notify(ev::SET, "srem", &argv[1]);
        if emptied {
            ctx.notify(ev::GENERIC, "del", &argv[1]);
        }
        ctx.dirty(removed as u64 - 1);
    }
    ctx.out.int(removed as i64);
    Ok(())
}

fn smembers(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    match read(ctx, &argv[1])? {
        (Some(set), out) => write_set(out, set.iter()),
        (None, out) => out.set(0),
    }
    Ok(())
}

fn sismember(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let (set, out) = read(ctx, &argv[1])?;
    out.int(i64::from(set.is_some_and(|s| s.contains(&argv[2]))));
    Ok(())
}

fn smismember(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let (set, out) = read(ctx, &argv[1])?;
    out.array(argv.len() - 2);
    for m in &argv[2..] {
        out.int(i64::from(set.is_some_and(|s| s.contains(m))));
    }
    Ok(())
}

fn scard(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let (set, out) = read(ctx, &argv[1])?;
    out.int(set.map_or(0, Set::len) as i64);
    Ok(())
}

fn spop(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    match argv.len() {
        2 => spop_one(ctx, &argv[1]),
        3 => spop_count(ctx, &argv[1], &argv[2]),
        _ => Err(msg::SYNTAX.into()),
    }
}

fn spop_one(ctx: &mut Ctx<'_>, key: &[u8]) -> CmdResult {
    let now = ctx.now;
    let db = ctx.db();
    let Some(set) = read_mut(db, key, now)? else {
        ctx.out.null();
        return Ok(());
    };
    let Some(member) = set.nth(random_index(set.len())) else {
        ctx.out.null();
        return Ok(());
    };
    set.remove(&member);
    let emptied = drop_if_empty(db, key);
    ctx.modified(key);
    ctx.notify(ev::SET, "spop", key);
    if emptied {
        ctx.notify(ev::GENERIC, "del", key);
    }
    ctx.out.bulk(&member);
    // The member was picked at random: replicas remove that one.
    ctx.propagate_as(|| vec![super::op(b"SREM", &[&Bytes::copy_from_slice(key), &member])]);
    Ok(())
}

fn spop_count(ctx: &mut Ctx<'_>, key: &[u8], count: &[u8]) -> CmdResult {
    let count = match parse_i64(count) {
        Ok(n) if n >= 0 => n as u64,
        _ => return Err("ERR value is out of range, must be positive".into()),
    };
    let now = ctx.now;
    let db = ctx.db();
    let Some(set) = read_mut(db, key, now)? else {
        ctx.out.set(0);
        return Ok(());
    };
    if count == 0 {
        ctx.out.set(0);
        return Ok(());
    }
    let whole = count >= set.len() as u64;
    let popped: Vec<Bytes> = if whole {
        // The whole set, in its own order (ascending for an intset, as Redis replies).
        let all = set.iter().collect();
        db.remove(key);
        ctx.propagate_as(|| vec![super::op(b"DEL", &[&Bytes::copy_from_slice(key)])]);
        all
    } else {
        let all: Vec<Bytes> = set.iter().collect();
        let picked: Vec<Bytes> = distinct_indices(all.len(), count as usize)
            .into_iter()
            .map(|i| all[i].clone())
            .collect();
        for m in &picked {
            set.remove(m);
        }
        // One SREM per member, as Redis replicates it (wrapped in MULTI/EXEC).
        ctx.propagate_as(|| {
            let key = Bytes::copy_from_slice(key);
            picked
                .iter()
                .map(|m| super::op(b"SREM", &[&key, m]))
                .collect()
        });
        picked
    };
    ctx.modified(key);
    ctx.notify(ev::SET, "spop", key);
    if whole {
        ctx.notify(ev::GENERIC, "del", key);
    }
    write_set(ctx.out, popped.into_iter());
    Ok(())
}

fn srandmember(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    if argv.len() == 2 {
        let (set, out) = read(ctx, &argv[1])?;
        match set.and_then(|s| s.nth(random_index(s.len().max(1)))) {
            Some(m) => out.bulk(&m),
            None => out.null(),
        }
        return Ok(());
    }
    if argv.len() > 3 {
        return Err(msg::SYNTAX.into());
    }
    let count = parse_count(&argv[2])?;
    let (set, out) = read(ctx, &argv[1])?;
    let Some(set) = set else {
        out.array(0);
        return Ok(());
    };
    if count == 0 {
        out.array(0);
        return Ok(());
    }
    let all: Vec<Bytes> = set.iter().collect();
    let picks = Picks::new(all.len(), count);
    out.array(picks.len());
    for i in picks.indices(all.len()) {
        out.bulk(&all[i]);
    }
    Ok(())
}

fn smove(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let (src, dst, member) = (&argv[1], &argv[2], &argv[3]);
    let (now, max) = (ctx.now, max_intset(ctx));
    let db = ctx.db();
    let Some(in_src) = read_mut(db, src, now)?.map(|s| s.contains(member)) else {
        ctx.out.int(0);
        return Ok(());
    };
    read_mut(db, dst, now)?;
    if src == dst {
        ctx.out.int(i64::from(in_src));
        return Ok(());
    }
    if !in_src {
        ctx.out.int(0);
        return Ok(());
    }
    if let Some(set) = read_mut(db, src, now)? {
        set.remove(member);
    }
    let emptied = drop_if_empty(db, src);
    ctx.notify(ev::SET, "srem", src);
    if emptied {
        ctx.notify(ev::GENERIC, "del", src);
    }
    let added = write(ctx.db(), dst, now)?.insert(member, max);
    ctx.modified(src);
    if added {
        ctx.modified(dst);
        ctx.notify(ev::SET, "sadd", dst);
    }
    ctx.out.int(1);
    Ok(())
}

/// The members common to all `sets`, in the order of the smallest set, stopping after `limit`
/// members (0: no limit). A missing set makes the intersection empty.
fn intersect(sets: &[Option<&Set>], limit: usize) -> Vec<Bytes> {
    let Some(mut sets) = sets.iter().copied().collect::<Option<Vec<&Set>>>() else {
        return Vec::new();
    };
    sets.sort_by_key(|s| s.len());
    let Some((first, rest)) = sets.split_first() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for m in first.iter() {
        if rest.iter().all(|s| s.contains(&m)) {
            out.push(m);
            if out.len() == limit {
                break;
            }
        }
    }
    out
}

/// SUNION (`diff == false`) or SDIFF of `sets`, built as Redis builds it: a new set whose
/// encoding (and so reply order) follows from its members.
fn combine(sets: &[Option<&Set>], diff: bool, max_intset: usize) -> Set {
    let mut result = Set::new();
    if diff {
        if let Some((Some(first), rest)) = sets.split_first() {
            for m in first.iter() {
                if !rest.iter().flatten().any(|s| s.contains(&m)) {
                    result.insert(&m, max_intset);
                }
            }
        }
    } else {
        for m in sets.iter().flatten().flat_map(|s| s.iter()) {
            result.insert(&m, max_intset);
        }
    }
    result
}

/// Stores `result` at `dest` (replacing any value) or deletes `dest` when it is empty; replies
/// with the size.
fn store(ctx: &mut Ctx<'_>, dest: &[u8], result: Set, event: &str) {
    let n = result.len();
    let changed = if n == 0 {
        ctx.db().remove(dest).is_some()
    } else {
        ctx.db()
            .set(Bytes::copy_from_slice(dest), Value::Set(result));
        true
    };
    if changed {
        ctx.modified(dest);
        if n == 0 {
            ctx.notify(ev::GENERIC, "del", dest);
        } else {
            ctx.notify(ev::SET, event, dest);
        }
    }
    ctx.out.int(n as i64);
}

fn sinter(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let (sets, out) = load(ctx, &argv[1..])?;
    let members = intersect(&sets, 0);
    write_set(out, members.into_iter());
    Ok(())
}

fn sinterstore(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let max = max_intset(ctx);
    let members = intersect(&load(ctx, &argv[2..])?.0, 0);
    let result = Set::from_members(members.iter().map(|m| &m[..]), max);
    store(ctx, &argv[1], result, "sinterstore");
    Ok(())
}

fn sintercard(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let numkeys = match parse_i64(&argv[1]) {
        Ok(n) if n >= 1 => n as u64,
        _ => return Err("ERR numkeys should be greater than 0".into()),
    };
    if numkeys > (argv.len() - 2) as u64 {
        return Err("ERR Number of keys can't be greater than number of args".into());
    }
    let keys_end = 2 + numkeys as usize;
    let mut limit = 0;
    let mut i = keys_end;
    while i < argv.len() {
        if eq_ic(&argv[i], "limit") && i + 1 < argv.len() {
            limit = match parse_i64(&argv[i + 1]) {
                Ok(n) if n >= 0 => usize::try_from(n).unwrap_or(usize::MAX),
                _ => return Err("ERR LIMIT can't be negative".into()),
            };
            i += 2;
        } else {
            return Err(msg::SYNTAX.into());
        }
    }
    let (sets, out) = load(ctx, &argv[2..keys_end])?;
    out.int(intersect(&sets, limit).len() as i64);
    Ok(())
}

/// SUNION/SDIFF: replies with the combined set.
fn combine_reply(ctx: &mut Ctx<'_>, keys: &[Bytes], diff: bool) -> CmdResult {
    let max = max_intset(ctx);
    let (sets, out) = load(ctx, keys)?;
    let result = combine(&sets, diff, max);
    write_set(out, result.iter());
    Ok(())
}

/// SUNIONSTORE/SDIFFSTORE.
fn combine_store(ctx: &mut Ctx<'_>, argv: &[Bytes], diff: bool) -> CmdResult {
    let max = max_intset(ctx);
    let result = combine(&load(ctx, &argv[2..])?.0, diff, max);
    let event = if diff { "sdiffstore" } else { "sunionstore" };
    store(ctx, &argv[1], result, event);
    Ok(())
}

fn sunion(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    combine_reply(ctx, &argv[1..], false)
}

fn sdiff(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    combine_reply(ctx, &argv[1..], true)
}

fn sunionstore(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    combine_store(ctx, argv, false)
}

fn sdiffstore(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    combine_store(ctx, argv, true)
}

fn sscan(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let cursor = parse_cursor(&argv[2])?;
    let (set, out) = read(ctx, &argv[1])?;
    let Some(set) = set else {
        write_scan_reply(out, 0, std::iter::empty());
        return Ok(());
    };
    let args = parse_scan(argv, cursor, 3, false)?;
    // An intset is small: Redis returns all of it in one call, whatever the cursor.
    let (next, members): (u64, Vec<Bytes>) = match set {
        Set::Intset(_) => (0, set.iter().collect()),
        Set::Table(t) => scan_step(t.iter(), args.cursor, args.count, |m| m.clone()),
    };
    let members: Vec<&[u8]> = members
        .iter()
        .filter(|m| args.matches(m))
        .map(|m| &m[..])
        .collect();
    write_scan_reply(out, next, members.into_iter());
    Ok(())
}
