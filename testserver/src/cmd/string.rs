//! String commands: GET/SET and their variants, multi-key MGET/MSET, in-place edits (APPEND,
//! SETRANGE) and ranges. Counters live in `string/counter.rs` (INCRBYFLOAT's long double
//! arithmetic, shared with HINCRBYFLOAT, in `cmd/longdouble.rs`), LCS in `string/lcs.rs`.

mod counter;
mod lcs;

use bytes::{Bytes, BytesMut};
use rediscover::error_codes::{msg, wrong_arity};

use super::lookup::{read_typed, write_typed};
use super::{eq_ic, int_arg, op, owned, parse_i64, CmdResult, Ctx, Error, Handler};
use crate::keyspace::{Str, Value};
use crate::notify::class as ev;

pub(crate) const COMMANDS: &[(&str, Handler)] = &[
    ("get", get),
    ("set", set),
    ("setnx", setnx),
    ("setex", setex),
    ("psetex", psetex),
    ("getset", getset),
    ("getdel", getdel),
    ("getex", getex),
    ("mget", mget),
    ("mset", mset),
    ("msetnx", msetnx),
    ("append", append),
    ("strlen", strlen),
    ("getrange", getrange),
    ("substr", getrange),
    ("setrange", setrange),
    ("incr", counter::incr),
    ("decr", counter::decr),
    ("incrby", counter::incrby),
    ("decrby", counter::decrby),
    ("incrbyfloat", counter::incrbyfloat),
    ("lcs", lcs::lcs),
];

/// The string stored at `key` in the selected database (`None` if missing), or WRONGTYPE.
/// Counts a keyspace hit or miss, as Redis's `lookupKeyRead` does.
pub(crate) fn read_str(ctx: &mut Ctx<'_>, key: &[u8]) -> Result<Option<Bytes>, Error> {
    let (s, _) = read_typed::<Str>(ctx, key)?;
    Ok(s.map(|s| s.data.clone()))
}

/// `ERR invalid expire time in '<cmd>' command`.
pub(crate) fn expire_time_error(cmd: &str) -> Error {
    msg::EXPIRE_TIME.replace("%s", cmd).into()
}

/// How an expiry argument of SET/GETEX is expressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ExpireUnit {
    Ex,
    Px,
    ExAt,
    PxAt,
}

/// Converts an EX/PX/EXAT/PXAT argument to absolute Unix milliseconds, with Redis's checks
/// (`getExpireMillisecondsOrReply`): the number must be positive and must not overflow.
fn expire_at_ms(arg: &[u8], unit: ExpireUnit, now: i64, cmd: &str) -> Result<i64, Error> {
    let v = parse_i64(arg)?;
    let seconds = matches!(unit, ExpireUnit::Ex | ExpireUnit::ExAt);
    if v <= 0 || (seconds && v > i64::MAX / 1000) {
        return Err(expire_time_error(cmd));
    }
    let ms = if seconds { v * 1000 } else { v };
    match unit {
        ExpireUnit::Ex | ExpireUnit::Px => {
            ms.checked_add(now).ok_or_else(|| expire_time_error(cmd))
        }
        ExpireUnit::ExAt | ExpireUnit::PxAt => Ok(ms),
    }
}

/// Options shared by SET and GETEX (Redis's `parseExtendedStringArgumentsOrReply`).
#[derive(Default)]
struct SetOptions<'a> {
    nx: bool,
    xx: bool,
    get: bool,
    keepttl: bool,
    persist: bool,
    expire: Option<(ExpireUnit, &'a [u8])>,
}

/// Parses SET (`for_set`) or GETEX options, accepting and refusing the same combinations as
/// Redis: a repeated option is fine, two different expiry forms or an expiry with KEEPTTL or
/// PERSIST is a syntax error.
fn parse_set_options(args: &[Bytes], for_set: bool) -> Result<SetOptions<'_>, Error> {
    let mut o = SetOptions::default();
    let mut i = 0;
    while i < args.len() {
        let opt = &args[i][..];
        let next = args.get(i + 1);
        let unit = if eq_ic(opt, "EX") {
            Some(ExpireUnit::Ex)
        } else if eq_ic(opt, "PX") {
            Some(ExpireUnit::Px)
        } else if eq_ic(opt, "EXAT") {
            Some(ExpireUnit::ExAt)
        } else if eq_ic(opt, "PXAT") {
            Some(ExpireUnit::PxAt)
        } else {
            None
        };
        if let Some(unit) = unit {
            let compatible = !o.keepttl && !o.persist && o.expire.map_or(true, |(u, _)| u == unit);
            match next {
                Some(arg) if compatible => {
                    o.expire = Some((unit, &arg[..]));
                    i += 2;
                    continue;
                }
                _ => return Err(msg::SYNTAX.into()),
            }
        }
        if for_set && eq_ic(opt, "NX") && !o.xx {
            o.nx = true;
        } else if for_set && eq_ic(opt, "XX") && !o.nx {
            o.xx = true;
        } else if for_set && eq_ic(opt, "GET") {
            o.get = true;
        } else if for_set && eq_ic(opt, "KEEPTTL") && o.expire.is_none() {
            o.keepttl = true;
        } else if !for_set && eq_ic(opt, "PERSIST") && o.expire.is_none() {
            o.persist = true;
        } else {
            return Err(msg::SYNTAX.into());
        }
        i += 1;
    }
    Ok(o)
}

/// Stores a string the way SET does (Redis's `setKey`): replaces any value, clears the TTL
/// unless `keep_ttl`, signals the change.
fn store(ctx: &mut Ctx<'_>, key: &Bytes, value: &Bytes, keep_ttl: bool) {
    let v = Value::from_bytes(owned(value));
    if keep_ttl {
        ctx.db().set_keep_ttl(owned(key), v);
    } else {
        ctx.db().set(owned(key), v);
    }
    ctx.modified(key);
}

fn get(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    match read_str(ctx, &argv[1])? {
        Some(v) => ctx.out.bulk(&v),
        None => ctx.out.null(),
    }
    Ok(())
}

/// What SET-like commands answer.
enum SetReply {
    /// `+OK`, or a null when NX/XX prevented the write.
    Ok,
    /// `:1`, or `:0` when prevented (SETNX).
    Flag,
}

/// SET's core, shared by SETNX, SETEX and PSETEX.
fn set_generic(
    ctx: &mut Ctx<'_>,
    (cmd, key, value): (&str, &Bytes, &Bytes),
    o: &SetOptions<'_>,
    reply: SetReply,
) -> CmdResult {
    let expire = match o.expire {
        Some((unit, arg)) => Some(expire_at_ms(arg, unit, ctx.now, cmd)?),
        None => None,
    };
    let old = if o.get {
        Some(read_str(ctx, key)?)
    } else {
        None
    };
    let now = ctx.now;
    let found = ctx.db().contains(key, now);
    let done = !((o.nx && found) || (o.xx && !found));
    if done {
        store(ctx, key, value, o.keepttl);
        ctx.notify(ev::STRING, "set", key);
        if expire.is_some() {
            ctx.notify(ev::GENERIC, "expire", key);
        }
        match expire {
            // An absolute time already past: the key is gone at once (Redis's fast expiry
            // cycle removes it before the next command), and replicas delete it too.
            Some(at) if at <= now => {
                drop(ctx.db().remove(key));
                ctx.notify(ev::EXPIRED, "expired", key);
                ctx.propagate_as(|| vec![op(b"DEL", &[key])]);
            }
            Some(at) => {
                ctx.db().set_expire(key, at);
                // Replicas get the absolute time, so they expire the key when the master does.
                if !matches!(o.expire, Some((ExpireUnit::PxAt, _))) {
                    ctx.propagate_as(|| {
                        vec![op(
                            b"SET",
                            &[key, value, &Bytes::from_static(b"PXAT"), &int_arg(at)],
                        )]
                    });
                }
            }
            None => {}
        }
    }
    match (old, reply) {
        (Some(Some(v)), _) => ctx.out.bulk(&v),
        (Some(None), _) => ctx.out.null(),
        (None, SetReply::Ok) if done => ctx.out.ok(),
        (None, SetReply::Ok) => ctx.out.null(),
        (None, SetReply::Flag) => ctx.out.int(i64::from(done)),
    }
    Ok(())
}

fn set(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let o = parse_set_options(&argv[3..], true)?;
    set_generic(ctx, ("set", &argv[1], &argv[2]), &o, SetReply::Ok)?;
    if o.get && o.expire.is_none() {
        // Replicated without GET, which only shapes the reply.
        ctx.propagate_as(|| {
            let options = argv[3..].iter().filter(|a| !eq_ic(a, "GET"));
            vec![argv[..3].iter().chain(options).cloned().collect()]
        });
    }
    Ok(())
}

fn setnx(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let o = SetOptions {
        nx: true,
        ..Default::default()
    };
    set_generic(ctx, ("setnx", &argv[1], &argv[2]), &o, SetReply::Flag)
}

/// SETEX/PSETEX: `key ttl value`.
fn setex_generic(ctx: &mut Ctx<'_>, argv: &[Bytes], cmd: &str, unit: ExpireUnit) -> CmdResult {
    let o = SetOptions {
        expire: Some((unit, &argv[2][..])),
        ..Default::default()
    };
    set_generic(ctx, (cmd, &argv[1], &argv[3]), &o, SetReply::Ok)
}

fn setex(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    setex_generic(ctx, argv, "setex", ExpireUnit::Ex)
}

fn psetex(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    setex_generic(ctx, argv, "psetex", ExpireUnit::Px)
}

fn getset(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let old = read_str(ctx, &argv[1])?;
    store(ctx, &argv[1], &argv[2], false);
    ctx.notify(ev::STRING, "set", &argv[1]);
    ctx.propagate_as(|| vec![op(b"SET", &[&argv[1], &argv[2]])]);
    match old {
        Some(v) => ctx.out.bulk(&v),
        None => ctx.out.null(),
    }
    Ok(())
}

fn getdel(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let Some(v) = read_str(ctx, &argv[1])? else {
        ctx.out.null();
        return Ok(());
    };
    ctx.out.bulk(&v);
    ctx.db().remove(&argv[1]);
    ctx.modified(&argv[1]);
    ctx.notify(ev::GENERIC, "del", &argv[1]);
    ctx.propagate_as(|| vec![op(b"DEL", &[&argv[1]])]);
    Ok(())
}

fn getex(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let o = parse_set_options(&argv[2..], false)?;
    let key = &argv[1];
    let Some(v) = read_str(ctx, key)? else {
        ctx.out.null();
        return Ok(());
    };
    let now = ctx.now;
    let expire = match o.expire {
        Some((unit, arg)) => Some((unit, expire_at_ms(arg, unit, now, "getex")?)),
        None => None,
    };
    ctx.out.bulk(&v);
    match expire {
        Some((ExpireUnit::ExAt | ExpireUnit::PxAt, at)) if at <= now => {
            ctx.db().remove(key);
            ctx.modified(key);
            ctx.notify(ev::GENERIC, "del", key);
            ctx.propagate_as(|| vec![op(b"DEL", &[key])]);
        }
        Some((_, at)) => {
            ctx.db().set_expire(key, at);
            ctx.modified(key);
            ctx.notify(ev::GENERIC, "expire", key);
            ctx.propagate_as(|| vec![op(b"PEXPIREAT", &[key, &int_arg(at)])]);
        }
        None if o.persist && ctx.db().clear_expire(key) => {
            ctx.modified(key);
            ctx.notify(ev::GENERIC, "persist", key);
            ctx.propagate_as(|| vec![op(b"PERSIST", &[key])]);
        }
        None => {}
    }
    Ok(())
}

fn mget(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    ctx.out.array(argv.len() - 1);
    for key in &argv[1..] {
        match read_str(ctx, key) {
            Ok(Some(v)) => ctx.out.bulk(&v),
            _ => ctx.out.null(),
        }
    }
    Ok(())
}

/// MSET/MSETNX's pairs, or the arity error Redis gives for an odd count.
fn pairs<'a>(argv: &'a [Bytes], name: &str) -> Result<std::slice::ChunksExact<'a, Bytes>, Error> {
    if argv.len() % 2 == 0 {
        return Err(wrong_arity(name).into());
    }
    Ok(argv[1..].chunks_exact(2))
}

fn mset(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    for pair in pairs(argv, "mset")? {
        store(ctx, &pair[0], &pair[1], false);
        ctx.notify(ev::STRING, "set", &pair[0]);
    }
    ctx.out.ok();
    Ok(())
}

fn msetnx(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let now = ctx.now;
    let mut any = false;
    for pair in pairs(argv, "msetnx")? {
        any |= ctx.db().contains(&pair[0], now);
    }
    if any {
        ctx.out.int(0);
        return Ok(());
    }
    for pair in pairs(argv, "msetnx")? {
        store(ctx, &pair[0], &pair[1], false);
        ctx.notify(ev::STRING, "set", &pair[0]);
    }
    ctx.out.int(1);
    Ok(())
}

/// `ERR string exceeds maximum allowed size (proto-max-bulk-len)` unless `len + extra` fits
/// (Redis's `checkStringLength`).
fn check_length(ctx: &Ctx<'_>, len: usize, extra: usize) -> CmdResult {
    match len.checked_add(extra) {
        Some(total) if total <= ctx.node.config.proto_max_bulk_len => Ok(()),
        _ => Err("ERR string exceeds maximum allowed size (proto-max-bulk-len)".into()),
    }
}

/// The string at `key` for a write or an in-place edit (`None` if missing), or WRONGTYPE; no
/// keyspace hit or miss is counted.
fn str_mut<'a>(ctx: &'a mut Ctx<'_>, key: &[u8]) -> Result<Option<&'a mut Str>, Error> {
    let now = ctx.now;
    write_typed(ctx.db(), key, now)
}

/// Takes a string's bytes for editing; no copy when nothing else shares them.
fn edit(s: &mut Str) -> BytesMut {
    s.raw = true;
    BytesMut::from(std::mem::take(&mut s.data))
}

fn append(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let (key, tail) = (&argv[1], &argv[2]);
    let cur_len = match str_mut(ctx, key)? {
        Some(s) => s.data.len(),
        None => {
            // A new key is stored like SET stores it (int/embstr encodings still possible).
            ctx.db().set(owned(key), Value::from_bytes(owned(tail)));
            ctx.modified(key);
            ctx.notify(ev::STRING, "append", key);
            ctx.out.int(tail.len() as i64);
            return Ok(());
        }
    };
    check_length(ctx, cur_len, tail.len())?;
    let len = match str_mut(ctx, key)? {
        Some(s) => {
            let mut data = edit(s);
            data.extend_from_slice(tail);
            s.data = data.freeze();
            s.data.len()
        }
        None => 0,
    };
    ctx.modified(key);
    ctx.notify(ev::STRING, "append", key);
    ctx.out.int(len as i64);
    Ok(())
}

fn strlen(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let len = read_str(ctx, &argv[1])?.map_or(0, |v| v.len());
    ctx.out.int(len as i64);
    Ok(())
}

/// The byte range `start..=end` (negative from the end) of a `len`-byte string, as GETRANGE
/// clamps it; `None` when empty.
fn clamp_range(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    if (start < 0 && end < 0 && start > end) || len == 0 {
        return None;
    }
    let fix = |i: i64| if i < 0 { (len + i).max(0) } else { i };
    let (start, end) = (fix(start), fix(end).min(len - 1));
    if start > end {
        return None;
    }
    Some((start as usize, end as usize))
}

fn getrange(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let start = parse_i64(&argv[2])?;
    let end = parse_i64(&argv[3])?;
    let v = read_str(ctx, &argv[1])?.unwrap_or_default();
    match clamp_range(start, end, v.len()) {
        Some((s, e)) => ctx.out.bulk(&v[s..=e]),
        None => ctx.out.bulk(b""),
    }
    Ok(())
}

fn setrange(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let (key, value) = (&argv[1], &argv[3]);
    let offset = parse_i64(&argv[2])?;
    let offset = usize::try_from(offset).map_err(|_| Error::from("ERR offset is out of range"))?;
    let cur_len = str_mut(ctx, key)?.map(|s| s.data.len());
    if value.is_empty() {
        ctx.out.int(cur_len.unwrap_or(0) as i64);
        return Ok(());
    }
    check_length(ctx, offset, value.len())?;
    let end = offset + value.len();
    let len = match str_mut(ctx, key)? {
        Some(s) => {
            let mut data = edit(s);
            if data.len() < end {
                data.resize(end, 0);
            }
            data[offset..end].copy_from_slice(value);
            s.data = data.freeze();
            s.data.len()
        }
        None => {
            let mut data = BytesMut::zeroed(end);
            data[offset..].copy_from_slice(value);
            ctx.db()
                .set(owned(key), Value::Str(Str::modified(data.freeze())));
            end
        }
    };
    ctx.modified(key);
    ctx.notify(ev::STRING, "setrange", key);
    ctx.out.int(len as i64);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::clamp_range;

    #[test]
    fn ranges_clamp_like_redis() {
        assert_eq!(clamp_range(0, -1, 5), Some((0, 4)));
        assert_eq!(clamp_range(-3, -1, 5), Some((2, 4)));
        assert_eq!(clamp_range(-1, -3, 5), None);
        assert_eq!(clamp_range(3, 100, 5), Some((3, 4)));
        assert_eq!(clamp_range(-100, 1, 5), Some((0, 1)));
        assert_eq!(clamp_range(4, 2, 5), None);
        assert_eq!(clamp_range(0, 0, 0), None);
        assert_eq!(clamp_range(7, 9, 5), None);
    }
}
