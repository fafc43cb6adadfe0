//! Generic key commands: existence, deletion, renaming and copying between databases,
//! enumeration (KEYS, SCAN, RANDOMKEY), whole-database operations (FLUSHDB, FLUSHALL, SWAPDB).
//! Expiry commands live in `keys/expire.rs`, OBJECT in `keys/object.rs`.

mod expire;
mod object;

use bytes::Bytes;
use rediscover::error_codes::msg;

use super::lookup::{lookup_read, lookup_read_notouch};
use super::scan::{parse_cursor, parse_scan, write_scan_reply};
use super::{eq_ic, owned, parse_i64, CmdResult, Ctx, Error, Handler};
use crate::keyspace::{Db, Value};

pub(crate) const COMMANDS: &[(&str, Handler)] = &[
    ("del", del),
    ("unlink", del),
    ("exists", exists),
    ("type", type_),
    ("rename", rename),
    ("renamenx", renamenx),
    ("copy", copy),
    ("move", move_),
    ("touch", exists),
    ("keys", keys),
    ("scan", scan),
    ("randomkey", randomkey),
    ("dbsize", dbsize),
    ("flushdb", flushdb),
    ("flushall", flushall),
    ("swapdb", swapdb),
    ("expire", expire::expire),
    ("pexpire", expire::pexpire),
    ("expireat", expire::expireat),
    ("pexpireat", expire::pexpireat),
    ("ttl", expire::ttl),
    ("pttl", expire::pttl),
    ("expiretime", expire::expiretime),
    ("pexpiretime", expire::pexpiretime),
    ("persist", expire::persist),
    ("object", object::object),
];

fn del(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let mut n = 0;
    for key in &argv[1..] {
        let now = ctx.now;
        // `get` first, so a key whose TTL has passed is not counted as deleted.
        if ctx.db().get(key, now).is_some() {
            ctx.db().remove(key);
            ctx.modified(key);
            ctx.notify(crate::notify::class::GENERIC, "del", key);
            n += 1;
        }
    }
    ctx.out.int(n);
    Ok(())
}

/// EXISTS and TOUCH: how many of the keys exist, duplicates counted each time.
fn exists(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    // TOUCH stamps the keys' access time; EXISTS does not.
    let touch = argv[0].eq_ignore_ascii_case(b"touch");
    let n = argv[1..]
        .iter()
        .filter(|k| match touch {
            true => lookup_read(ctx, k).0.is_some(),
            false => lookup_read_notouch(ctx, k, false).0.is_some(),
        })
        .count();
    ctx.out.int(n as i64);
    Ok(())
}

fn type_(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let name = lookup_read_notouch(ctx, &argv[1], false)
        .0
        .map_or("none", |(v, _)| v.type_name());
    ctx.out.simple(name);
    Ok(())
}

fn rename_generic(ctx: &mut Ctx<'_>, argv: &[Bytes], nx: bool) -> CmdResult {
    let (src, dst) = (&argv[1], &argv[2]);
    let now = ctx.now;
    let db = ctx.db();
    if !db.contains(src, now) {
        return Err(msg::NO_SUCH_KEY.into());
    }
    if src == dst {
        if nx {
            ctx.out.int(0);
        } else {
            ctx.out.ok();
        }
        return Ok(());
    }
    if db.contains(dst, now) {
        if nx {
            ctx.out.int(0);
            return Ok(());
        }
        db.remove(dst);
    }
    let at = db.expire_at(src);
    if let Some(value) = db.remove(src) {
        db.set(owned(dst), value);
        if let Some(at) = at {
            db.set_expire(dst, at);
        }
    }
    db.touch(src);
    db.touch(dst);
    ctx.notify(crate::notify::class::GENERIC, "rename_from", src);
    ctx.notify(crate::notify::class::GENERIC, "rename_to", dst);
    ctx.dirty(1);
    if nx {
        ctx.out.int(1);
    } else {
        ctx.out.ok();
    }
    Ok(())
}

fn rename(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    rename_generic(ctx, argv, false)
}

fn renamenx(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    rename_generic(ctx, argv, true)
}

/// A database number argument (`getIntFromObject` + `selectDb`): not an `int` is
/// `not_integer`, outside the configured databases is `ERR DB index is out of range`.
fn db_index(ctx: &Ctx<'_>, arg: &[u8], not_integer: &'static str) -> Result<usize, Error> {
    let id = parse_db_number(arg, not_integer)?;
    usize::try_from(id)
        .ok()
        .filter(|&i| i < ctx.node.dbs.len())
        .ok_or(Error::from(msg::DB_INDEX))
}

/// Writes `value` (with its absolute TTL) under `key` in database `db`, replacing what is
/// there, and signals the change.
fn put_in_db(ctx: &mut Ctx<'_>, db: usize, key: &[u8], value: Value, at: Option<i64>) {
    let target = &mut ctx.node.dbs[db];
    let key = Bytes::copy_from_slice(key);
    target.remove(&key);
    target.set(key.clone(), value);
    if let Some(at) = at {
        target.set_expire(&key, at);
    }
    target.touch(&key);
}

fn copy(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let (src, dst) = (&argv[1], &argv[2]);
    let src_db = ctx.client.db;
    let mut dst_db = src_db;
    let mut replace = false;
    let mut i = 3;
    while i < argv.len() {
        if eq_ic(&argv[i], "REPLACE") {
            replace = true;
        } else if eq_ic(&argv[i], "DB") && i + 1 < argv.len() {
            dst_db = db_index(ctx, &argv[i + 1], msg::NOT_INTEGER)?;
            i += 1;
        } else {
            return Err(msg::SYNTAX.into());
        }
        i += 1;
    }
    if ctx.node.cluster.is_some() && (src_db != 0 || dst_db != 0) {
        return Err("ERR Copying to another database is not allowed in cluster mode".into());
    }
    if src_db == dst_db && src == dst {
        return Err(msg::SAME_OBJECT.into());
    }
    let now = ctx.now;
    if lookup_read(ctx, src).0.is_none() || (!replace && ctx.node.dbs[dst_db].contains(dst, now)) {
        ctx.out.int(0);
        return Ok(());
    }
    let Some(mut value) = ctx.db().peek(src).cloned() else {
        ctx.out.int(0);
        return Ok(());
    };
    if let Value::Str(s) = &mut value {
        // Redis duplicates the object, so a copied small integer is not the shared one.
        s.unshared = true;
    }
    let at = ctx.db().expire_at(src);
    put_in_db(ctx, dst_db, dst, value, at);
    ctx.notify_db(crate::notify::class::GENERIC, "copy_to", dst, dst_db);
    ctx.dirty(1);
    ctx.out.int(1);
    Ok(())
}

fn move_(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    if ctx.node.cluster.is_some() {
        return Err("ERR MOVE is not allowed in cluster mode".into());
    }
    let key = &argv[1];
    let src_db = ctx.client.db;
    let dst_db = db_index(ctx, &argv[2], msg::NOT_INTEGER)?;
    if src_db == dst_db {
        return Err(msg::SAME_OBJECT.into());
    }
    let now = ctx.now;
    if !ctx.db().contains(key, now) || ctx.node.dbs[dst_db].contains(key, now) {
        ctx.out.int(0);
        return Ok(());
    }
    let at = ctx.db().expire_at(key);
    if let Some(value) = ctx.db().remove(key) {
        put_in_db(ctx, dst_db, key, value, at);
    }
    ctx.db().touch(key);
    ctx.notify(crate::notify::class::GENERIC, "move_from", key);
    ctx.notify_db(crate::notify::class::GENERIC, "move_to", key, dst_db);
    ctx.dirty(1);
    ctx.out.int(1);
    Ok(())
}

fn keys(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let now = ctx.now;
    let (db, out) = ctx.parts();
    let keys = db.matching_keys(&argv[1], now);
    out.array(keys.len());
    for k in &keys {
        out.bulk(k);
    }
    Ok(())
}

fn scan(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let cursor = parse_cursor(&argv[1])?;
    let args = parse_scan(argv, cursor, 2, true)?;
    let now = ctx.now;
    let (db, out) = ctx.parts();
    let (next, keys) = db.scan(args.cursor, args.count);
    let keys: Vec<Bytes> = keys
        .into_iter()
        .filter(|k| args.matches(k))
        .filter(|k| match db.get(k, now) {
            None => false,
            Some(v) => args.type_name.map_or(true, |t| eq_ic(t, v.type_name())),
        })
        .collect();
    write_scan_reply(out, next, keys.iter().map(|k| &k[..]));
    Ok(())
}

fn randomkey(ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CmdResult {
    let now = ctx.now;
    let (db, out) = ctx.parts();
    match db.random_key(now) {
        Some(k) => out.bulk(&k),
        None => out.null(),
    }
    Ok(())
}

fn dbsize(ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CmdResult {
    let n = ctx.db().len();
    ctx.out.int(n as i64);
    Ok(())
}

/// FLUSHDB/FLUSHALL's optional `ASYNC`/`SYNC` (both mean the same here: freeing is immediate).
fn flush_mode(argv: &[Bytes]) -> CmdResult {
    match argv {
        [_] => Ok(()),
        [_, mode] if eq_ic(mode, "ASYNC") || eq_ic(mode, "SYNC") => Ok(()),
        _ => Err(msg::SYNTAX.into()),
    }
}

fn flushdb(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    flush_mode(argv)?;
    let removed = ctx.db().clear();
    crate::tracking::invalidate_all(ctx.node, ctx.client.id);
    ctx.dirty(removed as u64);
    ctx.out.ok();
    Ok(())
}

fn flushall(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    flush_mode(argv)?;
    let removed: usize = ctx.node.dbs.iter_mut().map(Db::clear).sum();
    crate::tracking::invalidate_all(ctx.node, ctx.client.id);
    // Redis counts the keys removed (`rdb_changes_since_last_save`) and always propagates
    // FLUSHALL, even of empty data (`forceCommandPropagation`).
    ctx.dirty(removed as u64);
    ctx.force_propagation();
    // Redis's `flushAllDataAndResetRDB`: a running BGSAVE (of the old data) is killed, and
    // with save points the now empty dataset is saved at once (its outcome only logged).
    crate::rdb::bgsave::kill(ctx.node);
    if !ctx.node.config.save.is_empty() {
        let _ = crate::rdb::persist::save(ctx.node, ctx.now);
    }
    ctx.out.ok();
    Ok(())
}

fn swapdb(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    if ctx.node.cluster.is_some() {
        return Err("ERR SWAPDB is not allowed in cluster mode".into());
    }
    let first = parse_db_number(&argv[1], "ERR invalid first DB index")?;
    let second = parse_db_number(&argv[2], "ERR invalid second DB index")?;
    let dbs = ctx.node.dbs.len();
    let (a, b) = match (usize::try_from(first), usize::try_from(second)) {
        (Ok(a), Ok(b)) if a < dbs && b < dbs => (a.min(b), a.max(b)),
        _ => return Err(msg::DB_INDEX.into()),
    };
    if a != b {
        let (low, high) = ctx.node.dbs.split_at_mut(b);
        let (x, y) = (&mut low[a], &mut high[0]);
        // Watched keys that exist on either side before or after the swap change value
        // (Redis's `touchAllWatchedKeysInDb(emptied, replaced_with)`).
        x.touch_existing_watched();
        y.touch_existing_watched();
        x.swap_data(y);
        x.touch_existing_watched();
        y.touch_existing_watched();
    }
    ctx.dirty(1);
    ctx.out.ok();
    Ok(())
}

/// An `int` argument with a command-specific error text.
fn parse_db_number(arg: &[u8], err: &'static str) -> Result<i64, Error> {
    parse_i64(arg)
        .ok()
        .filter(|&n| i32::try_from(n).is_ok())
        .ok_or(Error::from(err))
}
