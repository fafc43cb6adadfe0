//! Hash commands: HSET, HGET, HDEL, HINCRBY, HRANDFIELD, HSCAN, ...

use bytes::Bytes;
use rediscover::error_codes::{msg, wrong_arity};
use rediscover::resp::ReplyWriter;

use super::longdouble::{self, LongDouble};
use super::lookup::{read_typed, write_or_create, write_typed};
use super::random::{parse_count, random_index, Picks};
use super::scan::{parse_cursor, parse_scan, write_scan_reply};
use super::{eq_ic, parse_i64, CmdResult, Ctx, Error, Handler};
use crate::keyspace::{scan_step, Db, Hash, HashLimits, Value};

pub(crate) const COMMANDS: &[(&str, Handler)] = &[
    ("hset", hset),
    ("hmset", hmset),
    ("hsetnx", hsetnx),
    ("hget", hget),
    ("hmget", hmget),
    ("hdel", hdel),
    ("hlen", hlen),
    ("hstrlen", hstrlen),
    ("hexists", hexists),
    ("hkeys", hkeys),
    ("hvals", hvals),
    ("hgetall", hgetall),
    ("hincrby", hincrby),
    ("hincrbyfloat", hincrbyfloat),
    ("hrandfield", hrandfield),
    ("hscan", hscan),
];

/// The hash at `key` for a read-only command, if any (WRONGTYPE for another type), with the
/// reply writer; counts a keyspace hit or miss.
fn read<'a>(
    ctx: &'a mut Ctx<'_>,
    key: &[u8],
) -> Result<(Option<&'a Hash>, &'a mut ReplyWriter), Error> {
    read_typed(ctx, key)
}

/// The hash at `key` for writing, created empty if missing (Redis's
/// `hashTypeLookupWriteOrCreate`); the caller must leave at least one field in it.
fn write<'a>(db: &'a mut Db, key: &[u8], now: i64) -> Result<&'a mut Hash, Error> {
    write_or_create(db, key, now, || Value::Hash(Hash::new()))
}

fn limits(ctx: &Ctx<'_>) -> HashLimits {
    HashLimits::from_config(&ctx.node.config)
}

/// HSET and HMSET: field/value pairs, checked for pairing before the key is looked up.
fn set_pairs(ctx: &mut Ctx<'_>, argv: &[Bytes], name: &str) -> Result<usize, Error> {
    if argv.len() % 2 == 1 {
        return Err(wrong_arity(name).into());
    }
    let (now, limits) = (ctx.now, limits(ctx));
    let h = write(ctx.db(), &argv[1], now)?;
    let items: Vec<&[u8]> = argv[2..].iter().map(|a| &a[..]).collect();
    h.convert_for(&items, limits);
    let created = argv[2..]
        .chunks_exact(2)
        .filter(|pair| h.set(&pair[0], &pair[1], limits))
        .count();
    let pairs = (argv.len() - 2) / 2;
    ctx.modified(&argv[1]);
    ctx.notify(crate::notify::class::HASH, "hset", &argv[1]);
    ctx.dirty(pairs as u64 - 1);
    Ok(created)
}

fn hset(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let created = set_pairs(ctx, argv, "hset")?;
    ctx.out.int(created as i64);
    Ok(())
}

fn hmset(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    set_pairs(ctx, argv, "hmset")?;
    ctx.out.ok();
    Ok(())
}

fn hsetnx(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let (now, limits) = (ctx.now, limits(ctx));
    let h = write(ctx.db(), &argv[1], now)?;
    if h.contains(&argv[2]) {
        ctx.out.int(0);
        return Ok(());
    }
    h.set(&argv[2], &argv[3], limits);
    ctx.modified(&argv[1]);
    ctx.notify(crate::notify::class::HASH, "hset", &argv[1]);
    ctx.out.int(1);
    Ok(())
}

fn hget(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let (h, out) = read(ctx, &argv[1])?;
    match h.and_then(|h| h.get(&argv[2])) {
        Some(v) => out.bulk(v),
        None => out.null(),
    }
    Ok(())
}

fn hmget(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let (h, out) = read(ctx, &argv[1])?;
    out.array(argv.len() - 2);
    for field in &argv[2..] {
        match h.and_then(|h| h.get(field)) {
            Some(v) => out.bulk(v),
            None => out.null(),
        }
    }
    Ok(())
}

fn hdel(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let now = ctx.now;
    let db = ctx.db();
    let (deleted, empty) = match write_typed::<Hash>(db, &argv[1], now)? {
        None => (0, false),
        Some(h) => {
            let n = argv[2..].iter().filter(|f| h.remove(f)).count();
            (n, h.is_empty())
        }
    };
    if empty {
        db.remove(&argv[1]);
    }
    if deleted > 0 {
        ctx.modified(&argv[1]);
        ctx.notify(crate::notify::class::HASH, "hdel", &argv[1]);
        if empty {
            ctx.notify(crate::notify::class::GENERIC, "del", &argv[1]);
        }
        ctx.dirty(deleted as u64 - 1);
    }
    ctx.out.int(deleted as i64);
    Ok(())
}

fn hlen(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let (h, out) = read(ctx, &argv[1])?;
    out.int(h.map_or(0, Hash::len) as i64);
    Ok(())
}

fn hstrlen(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let (h, out) = read(ctx, &argv[1])?;
    let n = h.and_then(|h| h.get(&argv[2])).map_or(0, |v| v.len());
    out.int(n as i64);
    Ok(())
}

fn hexists(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let (h, out) = read(ctx, &argv[1])?;
    out.int(i64::from(h.is_some_and(|h| h.contains(&argv[2]))));
    Ok(())
}

/// HKEYS, HVALS and HGETALL: which halves of each pair to reply with.
fn get_all(ctx: &mut Ctx<'_>, key: &[u8], fields: bool, values: bool) -> CmdResult {
    let (h, out) = read(ctx, key)?;
    let Some(h) = h else {
        if fields && values {
            out.map(0);
        } else {
            out.array(0);
        }
        return Ok(());
    };
    if fields && values {
        out.map(h.len());
    } else {
        out.array(h.len());
    }
    for (f, v) in h.iter() {
        if fields {
            out.bulk(f);
        }
        if values {
            out.bulk(v);
        }
    }
    Ok(())
}

fn hkeys(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    get_all(ctx, &argv[1], true, false)
}

fn hvals(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    get_all(ctx, &argv[1], false, true)
}

fn hgetall(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    get_all(ctx, &argv[1], true, true)
}

fn hincrby(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let incr = parse_i64(&argv[3])?;
    let (now, limits) = (ctx.now, limits(ctx));
    let h = write(ctx.db(), &argv[1], now)?;
    let current = match h.get(&argv[2]) {
        Some(v) => rediscover::resp::parse_integer(v).ok_or(Error::from(msg::HASH_NOT_INTEGER))?,
        None => 0,
    };
    let value = current
        .checked_add(incr)
        .ok_or(Error::from(msg::OVERFLOW))?;
    h.set(&argv[2], value.to_string().as_bytes(), limits);
    ctx.modified(&argv[1]);
    ctx.notify(crate::notify::class::HASH, "hincrby", &argv[1]);
    ctx.out.int(value);
    Ok(())
}

fn hincrbyfloat(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let incr = longdouble::parse(&argv[3]).ok_or(Error::from(msg::NOT_FLOAT))?;
    if incr.is_inf() {
        return Err("ERR value is NaN or Infinity".into());
    }
    let (now, limits) = (ctx.now, limits(ctx));
    let h = write(ctx.db(), &argv[1], now)?;
    let current = match h.get(&argv[2]) {
        Some(v) => longdouble::parse(v).ok_or(Error::from(msg::HASH_NOT_FLOAT))?,
        None => LongDouble::ZERO,
    };
    // Redis adds in long double and stores "%.17Lf" without trailing zeros.
    let value = current.add(incr);
    if value.is_inf() {
        return Err(msg::INCR_NAN.into());
    }
    let text = Bytes::from(value.to_human());
    h.set(&argv[2], &text, limits);
    ctx.modified(&argv[1]);
    ctx.notify(crate::notify::class::HASH, "hincrbyfloat", &argv[1]);
    ctx.out.bulk(&text);
    ctx.propagate_as(|| vec![super::op(b"HSET", &[&argv[1], &argv[2], &text])]);
    Ok(())
}

fn hrandfield(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    if argv.len() == 2 {
        let (h, out) = read(ctx, &argv[1])?;
        match h {
            Some(h) => match h.iter().nth(random_index(h.len())) {
                Some((f, _)) => out.bulk(f),
                None => out.null(),
            },
            None => out.null(),
        }
        return Ok(());
    }
    let count = parse_count(&argv[2])?;
    let with_values = match argv.len() {
        3 => false,
        4 if eq_ic(&argv[3], "withvalues") => true,
        _ => return Err(msg::SYNTAX.into()),
    };
    if with_values && !(-i64::MAX / 2..=i64::MAX / 2).contains(&count) {
        return Err("ERR value is out of range".into());
    }
    let (h, out) = read(ctx, &argv[1])?;
    let Some(h) = h else {
        out.array(0);
        return Ok(());
    };
    let pairs: Vec<(&Bytes, &Bytes)> = h.iter().collect();
    let mut picks = Picks::new(pairs.len(), count);
    if let Picks::Distinct(sample) = &mut picks {
        if matches!(h, Hash::Listpack(_)) && sample.len().saturating_mul(3) <= pairs.len() {
            // A small sample of a listpack comes back in listpack order in Redis (larger ones
            // go through a temporary dict, in no particular order).
            sample.sort_unstable();
        }
    }
    write_pairs_header(out, picks.len(), with_values);
    for i in picks.indices(pairs.len()) {
        write_pair(out, pairs[i], with_values);
    }
    Ok(())
}

fn write_pairs_header(out: &mut ReplyWriter, n: usize, with_values: bool) {
    if with_values && !out.is_resp3() {
        out.array(n * 2);
    } else {
        out.array(n);
    }
}

/// One HRANDFIELD entry: the field, or field and value (a 2-element array in RESP3).
fn write_pair(out: &mut ReplyWriter, (f, v): (&Bytes, &Bytes), with_values: bool) {
    if with_values {
        if out.is_resp3() {
            out.array(2);
        }
        out.bulk(f);
        out.bulk(v);
    } else {
        out.bulk(f);
    }
}

fn hscan(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let cursor = parse_cursor(&argv[2])?;
    let (h, out) = read(ctx, &argv[1])?;
    let Some(h) = h else {
        write_scan_reply(out, 0, std::iter::empty());
        return Ok(());
    };
    let args = parse_scan(argv, cursor, 3, false)?;
    // A listpack is small: Redis returns all of it in one call, whatever the cursor.
    let (next, pairs): (u64, Vec<(&Bytes, &Bytes)>) = match h {
        Hash::Listpack(v) => (0, v.iter().map(|(f, v)| (f, v)).collect()),
        Hash::Table(m) => scan_step(m.keys(), args.cursor, args.count, |f| (f, &m[f])),
    };
    let items: Vec<&[u8]> = pairs
        .into_iter()
        .filter(|(f, _)| args.matches(f))
        .flat_map(|(f, v)| [&f[..], &v[..]])
        .collect();
    write_scan_reply(out, next, items.into_iter());
    Ok(())
}
