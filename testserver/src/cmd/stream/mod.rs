//! Streams: XADD, XRANGE, XREVRANGE, XLEN, XDEL, XTRIM here; XREAD/XREADGROUP in [`read`],
//! consumer groups in [`group`], XINFO and XSETID in [`info`]. Parsing, checks, error texts
//! and replication rewrites follow Redis 7.0.15's `t_stream.c`.

mod group;
mod info;
mod read;

use bytes::Bytes;
use rediscover::error_codes::msg;
use rediscover::resp::ReplyWriter;

use super::lookup::{read_typed, write_typed, Typed};
use super::{eq_ic, owned, parse_i64, CmdResult, Ctx, Error, Handler};
use crate::keyspace::stream::{AppendError, Entry, NodeLimits, Stream, StreamId, Trim};
use crate::keyspace::Value;
use crate::notify::class as ev;

pub(crate) const COMMANDS: &[(&str, Handler)] = &[
    ("xadd", xadd),
    ("xrange", xrange),
    ("xrevrange", xrevrange),
    ("xlen", xlen),
    ("xdel", xdel),
    ("xtrim", xtrim),
    ("xread", read::xread),
    ("xreadgroup", read::xread),
    ("xgroup", group::xgroup),
    ("xack", group::xack),
    ("xpending", group::xpending),
    ("xclaim", group::xclaim),
    ("xautoclaim", group::xautoclaim),
    ("xinfo", info::xinfo),
    ("xsetid", info::xsetid),
];

impl Typed for Stream {
    fn of(v: &Value) -> Option<&Self> {
        match v {
            Value::Stream(s) => Some(&**s),
            _ => None,
        }
    }
    fn of_mut(v: &mut Value) -> Option<&mut Self> {
        match v {
            Value::Stream(s) => Some(&mut **s),
            _ => None,
        }
    }
}

pub(crate) const INVALID_ID: &str = "ERR Invalid stream ID specified as stream command argument";

/// Redis's `string2ull`: a canonical non-negative integer, else whatever `strtoull` accepts
/// in full (leading spaces, a sign, leading zeros; a `-` wraps around as in C).
fn string2ull(s: &[u8]) -> Option<u64> {
    if let Some(n) = rediscover::resp::parse_integer(s) {
        if n.to_string().as_bytes() == s {
            return (n >= 0).then_some(n as u64);
        }
    }
    let mut i = 0;
    while i < s.len() && matches!(s[i], b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r') {
        i += 1;
    }
    let mut neg = false;
    if i < s.len() && (s[i] == b'+' || s[i] == b'-') {
        neg = s[i] == b'-';
        i += 1;
    }
    if i >= s.len() {
        return None;
    }
    let mut v: u64 = 0;
    for &c in &s[i..] {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    Some(if neg { v.wrapping_neg() } else { v })
}

/// Redis's `streamGenericParseIDOrReply`. `seq_star`: accept `<ms>-*` (then the second value
/// is false: the sequence was not given).
pub(crate) fn parse_id_full(
    arg: &[u8],
    missing_seq: u64,
    strict: bool,
    seq_star: bool,
) -> Result<(StreamId, bool), Error> {
    let invalid = || Error::from(INVALID_ID);
    if arg.len() > 127 {
        return Err(invalid());
    }
    // C string semantics: the text ends at the first NUL.
    let arg = arg.split(|&b| b == 0).next().unwrap_or(b"");
    if strict && (arg == b"-" || arg == b"+") {
        return Err(invalid());
    }
    if arg == b"-" {
        return Ok((StreamId::MIN, true));
    }
    if arg == b"+" {
        return Ok((StreamId::MAX, true));
    }
    match arg.iter().position(|&b| b == b'-') {
        Some(dash) => {
            let ms = string2ull(&arg[..dash]).ok_or_else(invalid)?;
            let rest = &arg[dash + 1..];
            if seq_star && rest == b"*" {
                return Ok((StreamId::new(ms, 0), false));
            }
            let seq = string2ull(rest).ok_or_else(invalid)?;
            Ok((StreamId::new(ms, seq), true))
        }
        None => {
            let ms = string2ull(arg).ok_or_else(invalid)?;
            Ok((StreamId::new(ms, missing_seq), true))
        }
    }
}

/// `streamParseIDOrReply` (accepts `-` and `+`).
pub(crate) fn parse_id(arg: &[u8], missing_seq: u64) -> Result<StreamId, Error> {
    Ok(parse_id_full(arg, missing_seq, false, false)?.0)
}

/// `streamParseStrictIDOrReply` (refuses `-` and `+`).
pub(crate) fn parse_strict_id(arg: &[u8], missing_seq: u64) -> Result<StreamId, Error> {
    Ok(parse_id_full(arg, missing_seq, true, false)?.0)
}

/// A range bound (`streamParseIntervalIDOrReply`): `(` makes it exclusive.
pub(crate) fn parse_interval(arg: &[u8], missing_seq: u64) -> Result<(StreamId, bool), Error> {
    if arg.len() > 1 && arg[0] == b'(' {
        Ok((parse_strict_id(&arg[1..], missing_seq)?, true))
    } else {
        Ok((parse_id(arg, missing_seq)?, false))
    }
}

/// The start of a range: exclusive bounds move up one.
pub(crate) fn range_start(arg: &[u8]) -> Result<StreamId, Error> {
    let (id, ex) = parse_interval(arg, 0)?;
    if ex {
        return id
            .incr()
            .ok_or(Error::from("ERR invalid start ID for the interval"));
    }
    Ok(id)
}

/// The end of a range: exclusive bounds move down one.
pub(crate) fn range_end(arg: &[u8]) -> Result<StreamId, Error> {
    let (id, ex) = parse_interval(arg, u64::MAX)?;
    if ex {
        return id
            .decr()
            .ok_or(Error::from("ERR invalid end ID for the interval"));
    }
    Ok(id)
}

/// Writes a stream id as a bulk string.
pub(crate) fn write_id(out: &mut ReplyWriter, id: StreamId) {
    let mut buf = [0u8; 41];
    let n = format_id(&mut buf, id);
    out.bulk(&buf[..n]);
}

fn format_u64(buf: &mut [u8], mut v: u64) -> usize {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    let n = tmp.len() - i;
    buf[..n].copy_from_slice(&tmp[i..]);
    n
}

fn format_id(buf: &mut [u8; 41], id: StreamId) -> usize {
    let a = format_u64(&mut buf[..], id.ms);
    buf[a] = b'-';
    a + 1 + format_u64(&mut buf[a + 1..], id.seq)
}

/// Writes one entry: `[id, [field, value, ...]]`.
pub(crate) fn write_entry(out: &mut ReplyWriter, e: &Entry) {
    out.array(2);
    write_id(out, e.id);
    out.array(e.items.len());
    for item in &e.items {
        out.bulk(item);
    }
}

/// Writes entries as an array.
pub(crate) fn write_entries(out: &mut ReplyWriter, entries: &[&Entry]) {
    out.array(entries.len());
    for e in entries {
        write_entry(out, e);
    }
}

/// The node limits from the configuration.
pub(crate) fn node_limits(ctx: &Ctx<'_>) -> NodeLimits {
    let extra = &ctx.node.config.extra;
    let read = |name: &str, default: u64| {
        extra
            .get(name)
            .and_then(|v| crate::config_table::parse_memory(v))
            .unwrap_or(default)
    };
    if extra.is_empty() {
        return NodeLimits::default();
    }
    NodeLimits {
        max_bytes: read("stream-node-max-bytes", 4096),
        max_entries: read("stream-node-max-entries", 100),
    }
}

/// Trimming options shared by XADD and XTRIM.
#[derive(Debug, Default)]
struct AddTrimArgs {
    id: Option<(StreamId, bool)>,
    no_mkstream: bool,
    trim: Option<Trim>,
    /// Index of the MAXLEN/MINID value in argv (for the replication rewrite).
    trim_arg: usize,
    approx: bool,
    limit: i64,
    /// Index of the id (XADD).
    id_pos: usize,
}

const TRIM_CONFLICT: &str =
    "ERR syntax error, MAXLEN and MINID options at the same time are not compatible";

/// `streamParseAddOrTrimArgsOrReply`.
fn parse_add_trim(ctx: &Ctx<'_>, argv: &[Bytes], xadd: bool) -> Result<AddTrimArgs, Error> {
    let mut a = AddTrimArgs::default();
    let mut limit_given = false;
    let mut i = 2;
    while i < argv.len() {
        let more = argv.len() - 1 - i;
        let opt = &argv[i][..];
        if xadd && opt == b"*" {
            break;
        } else if eq_ic(opt, "maxlen") && more > 0 {
            if a.trim.is_some() {
                return Err(TRIM_CONFLICT.into());
            }
            a.approx = false;
            let next = &argv[i + 1][..];
            if more >= 2 && next == b"~" {
                a.approx = true;
                i += 1;
            } else if more >= 2 && next == b"=" {
                i += 1;
            }
            let n = parse_i64(&argv[i + 1])?;
            if n < 0 {
                return Err("ERR The MAXLEN argument must be >= 0.".into());
            }
            i += 1;
            a.trim = Some(Trim::MaxLen(n as u64));
            a.trim_arg = i;
        } else if eq_ic(opt, "minid") && more > 0 {
            if a.trim.is_some() {
                return Err(TRIM_CONFLICT.into());
            }
            a.approx = false;
            let next = &argv[i + 1][..];
            if more >= 2 && next == b"~" {
                a.approx = true;
                i += 1;
            } else if more >= 2 && next == b"=" {
                i += 1;
            }
            let id = parse_strict_id(&argv[i + 1], 0)?;
            i += 1;
            a.trim = Some(Trim::MinId(id));
            a.trim_arg = i;
        } else if eq_ic(opt, "limit") && more > 0 {
            let n = parse_i64(&argv[i + 1])?;
            if n < 0 {
                return Err("ERR The LIMIT argument must be >= 0.".into());
            }
            a.limit = n;
            limit_given = true;
            i += 1;
        } else if xadd && eq_ic(opt, "nomkstream") {
            a.no_mkstream = true;
        } else if xadd {
            a.id = Some(parse_id_full(opt, 0, true, true)?);
            break;
        } else {
            return Err(msg::SYNTAX.into());
        }
        i += 1;
    }
    a.id_pos = i;
    if a.limit != 0 && a.trim.is_none() {
        return Err(
            "ERR syntax error, LIMIT cannot be used without specifying a trimming strategy".into(),
        );
    }
    if !xadd && a.trim.is_none() {
        return Err("ERR syntax error, XTRIM must be called with a trimming strategy".into());
    }
    if ctx.client.master_link {
        a.limit = 0;
    } else if limit_given {
        if !a.approx {
            return Err(
                "ERR syntax error, LIMIT cannot be used without the special ~ option".into(),
            );
        }
    } else if a.approx {
        let per_node = node_limits(ctx).max_entries as i64;
        a.limit = per_node.saturating_mul(100);
        if a.limit <= 0 {
            a.limit = 10000;
        }
        if a.limit > 1_000_000 {
            a.limit = 1_000_000;
        }
    } else {
        a.limit = 0;
    }
    Ok(a)
}

/// The argv replicated for an approximate trim: `=` and the resulting length or first id, as
/// `streamRewriteApproxSpecifier` / `streamRewriteTrimArgument` do.
fn rewrite_trim(argv: &mut [Bytes], a: &AddTrimArgs, s: &Stream) {
    if !a.approx {
        return;
    }
    argv[a.trim_arg - 1] = Bytes::from_static(b"=");
    argv[a.trim_arg] = match a.trim {
        Some(Trim::MaxLen(_)) => Bytes::from(s.length.to_string()),
        _ => s.first_id_with_tombstones().to_bytes(),
    };
}

fn xadd(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let a = parse_add_trim(ctx, argv, true)?;
    let field_pos = a.id_pos + 1;
    let nitems = argv.len().saturating_sub(field_pos);
    if argv.len() < field_pos || nitems < 2 || nitems % 2 == 1 {
        return Err(rediscover::error_codes::wrong_arity("xadd").into());
    }
    if let Some((id, true)) = a.id {
        if id.is_zero() {
            return Err("ERR The ID specified in XADD must be greater than 0-0".into());
        }
    }
    let limits = node_limits(ctx);
    let propagating = ctx.propagating();
    let now = ctx.now;
    let key = &argv[1];
    let existed = match write_typed::<Stream>(ctx.db(), key, now)? {
        Some(_) => true,
        None if a.no_mkstream => {
            ctx.out.null();
            return Ok(());
        }
        None => {
            ctx.db()
                .set(owned(key), Value::Stream(Box::new(Stream::new())));
            false
        }
    };
    let s = write_typed::<Stream>(ctx.db(), key, now)?.ok_or(Error::from(msg::WRONGTYPE))?;
    if s.last_id == StreamId::MAX {
        return Err(
            "ERR The stream has exhausted the last possible ID, unable to add more items".into(),
        );
    }
    let items: Vec<Bytes> = argv[field_pos..].to_vec();
    let id = match s.append(items, a.id, now.max(0) as u64, limits) {
        Ok(id) => id,
        Err(AppendError::IdTooSmall) => {
            return Err(
                "ERR The ID specified in XADD is equal or smaller than the target stream top item"
                    .into(),
            )
        }
        Err(AppendError::TooLarge) => return Err("ERR Elements are too large to be stored".into()),
    };
    let trimmed = a
        .trim
        .is_some_and(|trim| s.trim(trim, a.approx, a.limit as u64) > 0);
    let rewrite = propagating.then(|| {
        let mut rewritten = argv.to_vec();
        rewrite_trim(&mut rewritten, &a, s);
        if !matches!(a.id, Some((_, true))) {
            rewritten[a.id_pos] = id.to_bytes();
        }
        rewritten
    });
    write_id(ctx.out, id);
    ctx.modified(key);
    ctx.notify(ev::STREAM, "xadd", key);
    if trimmed {
        ctx.notify(ev::STREAM, "xtrim", key);
    }
    if let Some(rewritten) = rewrite {
        ctx.propagate_as(|| vec![rewritten]);
    }
    if existed {
        ctx.db().signal_ready(key);
    }
    Ok(())
}

fn xrange(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    range_generic(ctx, argv, false)
}

fn xrevrange(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    range_generic(ctx, argv, true)
}

fn range_generic(ctx: &mut Ctx<'_>, argv: &[Bytes], rev: bool) -> CmdResult {
    let (start_arg, end_arg) = if rev {
        (&argv[3], &argv[2])
    } else {
        (&argv[2], &argv[3])
    };
    let start = range_start(start_arg)?;
    let end = range_end(end_arg)?;
    let mut count: i64 = -1;
    let mut j = 4;
    while j < argv.len() {
        if eq_ic(&argv[j], "count") && j + 1 < argv.len() {
            count = parse_i64(&argv[j + 1])?.max(0);
            j += 2;
        } else {
            return Err(msg::SYNTAX.into());
        }
    }
    let (s, out) = read_typed::<Stream>(ctx, &argv[1])?;
    let Some(s) = s else {
        out.array(0);
        return Ok(());
    };
    if count == 0 {
        out.null_array();
        return Ok(());
    }
    let count = if count < 0 { 0 } else { count as usize };
    let entries = s.range(start, end, rev, count);
    write_entries(out, &entries);
    Ok(())
}

fn xlen(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let (s, out) = read_typed::<Stream>(ctx, &argv[1])?;
    out.int(s.map_or(0, |s| s.length as i64));
    Ok(())
}

fn xdel(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let now = ctx.now;
    if write_typed::<Stream>(ctx.db(), &argv[1], now)?.is_none() {
        ctx.out.int(0);
        return Ok(());
    }
    let ids = argv[2..]
        .iter()
        .map(|a| parse_strict_id(a, 0))
        .collect::<Result<Vec<_>, _>>()?;
    let s = write_typed::<Stream>(ctx.db(), &argv[1], now)?.ok_or(Error::from(msg::WRONGTYPE))?;
    let deleted = s.delete_ids(&ids);
    if deleted > 0 {
        ctx.modified(&argv[1]);
        ctx.notify(ev::STREAM, "xdel", &argv[1]);
        ctx.dirty(deleted - 1);
    }
    ctx.out.int(deleted as i64);
    Ok(())
}

fn xtrim(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let a = parse_add_trim(ctx, argv, false)?;
    let now = ctx.now;
    let Some(s) = write_typed::<Stream>(ctx.db(), &argv[1], now)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let trim = a.trim.ok_or(Error::from(msg::SYNTAX))?;
    let deleted = s.trim(trim, a.approx, a.limit as u64);
    if deleted > 0 {
        let rewritten = a.approx.then(|| {
            let mut r = argv.to_vec();
            rewrite_trim(&mut r, &a, s);
            r
        });
        ctx.notify(ev::STREAM, "xtrim", &argv[1]);
        ctx.modified(&argv[1]);
        ctx.dirty(deleted - 1);
        if let Some(r) = rewritten {
            ctx.propagate_as(|| vec![r]);
        }
    }
    ctx.out.int(deleted as i64);
    Ok(())
}
