//! Sorted-set commands: ZADD and the single-key reads and writes, plus the helpers the other
//! `zset_*` files share (typed lookup, score and range parsing). Ranges live in `zset_range.rs`,
//! pops in `zset_pop.rs`, ZUNION/ZINTER/ZDIFF in `zset_algebra.rs`.

use bytes::Bytes;
use rediscover::error_codes::msg;
use rediscover::resp::format_double;

use super::lookup::{read_typed, write_typed};
use super::random::{distinct_indices, parse_count, random_index};
use super::scan::{parse_cursor, parse_scan, write_scan_reply};
use super::strtod::{strtod, Erange, Strtod};
use super::{
    eq_ic, owned, parse_i64, zset_algebra, zset_pop, zset_range, CmdResult, Ctx, Error, Handler,
};
use crate::keyspace::{
    normalize_range, scan_step, LexBound, LexRange, ListpackLimits, ScoreRange, Value, ZSet,
};

pub(crate) const COMMANDS: &[(&str, Handler)] = &[
    ("zadd", zadd),
    ("zincrby", zincrby),
    ("zrem", zrem),
    ("zcard", zcard),
    ("zscore", zscore),
    ("zmscore", zmscore),
    ("zrank", zrank),
    ("zrevrank", zrevrank),
    ("zcount", zcount),
    ("zlexcount", zlexcount),
    ("zremrangebyrank", zremrangebyrank),
    ("zremrangebyscore", zremrangebyscore),
    ("zremrangebylex", zremrangebylex),
    ("zrandmember", zrandmember),
    ("zscan", zscan),
    ("zrange", zset_range::zrange),
    ("zrangestore", zset_range::zrangestore),
    ("zrevrange", zset_range::zrevrange),
    ("zrangebyscore", zset_range::zrangebyscore),
    ("zrevrangebyscore", zset_range::zrevrangebyscore),
    ("zrangebylex", zset_range::zrangebylex),
    ("zrevrangebylex", zset_range::zrevrangebylex),
    ("zpopmin", zset_pop::zpopmin),
    ("zpopmax", zset_pop::zpopmax),
    ("bzpopmin", zset_pop::bzpopmin),
    ("bzpopmax", zset_pop::bzpopmax),
    ("zmpop", zset_pop::zmpop),
    ("bzmpop", zset_pop::bzmpop),
    ("zunion", zset_algebra::zunion),
    ("zinter", zset_algebra::zinter),
    ("zdiff", zset_algebra::zdiff),
    ("zunionstore", zset_algebra::zunionstore),
    ("zinterstore", zset_algebra::zinterstore),
    ("zdiffstore", zset_algebra::zdiffstore),
    ("zintercard", zset_algebra::zintercard),
];

const NAN_SCORE: &str = "ERR resulting score is not a number (NaN)";

/// The encoding thresholds from the node's config.
pub(super) fn limits(ctx: &Ctx<'_>) -> ListpackLimits {
    ListpackLimits {
        entries: ctx.node.config.zset_max_listpack_entries,
        value: ctx.node.config.zset_max_listpack_value,
    }
}

/// The write of the STORE commands (ZRANGESTORE, ZUNIONSTORE...): `z` replaces `dst`, or an
/// empty result deletes it; the reply is the new size.
pub(super) fn store(ctx: &mut Ctx<'_>, dst: &Bytes, z: ZSet, event: &str) -> CmdResult {
    let now = ctx.now;
    let n = z.len();
    if n == 0 {
        ctx.out.int(0);
        if ctx.db().contains(dst, now) {
            ctx.db().remove(dst);
            ctx.modified(dst);
            ctx.notify(crate::notify::class::GENERIC, "del", dst);
        }
        return Ok(());
    }
    ctx.db().set(owned(dst), Value::ZSet(z));
    ctx.modified(dst);
    ctx.notify(crate::notify::class::ZSET, event, dst);
    ctx.out.int(n as i64);
    Ok(())
}

/// Records a change of `n` elements of `key` (Redis signals the key once and counts `n` in
/// `server.dirty`), deleting the key if the set became empty.
/// `event` is the keyspace event published for the change (then `del` if the key went).
pub(super) fn changed(ctx: &mut Ctx<'_>, key: &[u8], n: usize, event: &str) {
    if n == 0 {
        return;
    }
    let now = ctx.now;
    let emptied = matches!(write_typed::<ZSet>(ctx.db(), key, now), Ok(Some(z)) if z.is_empty());
    if emptied {
        ctx.db().remove(key);
    }
    ctx.modified(key);
    ctx.notify(crate::notify::class::ZSET, event, key);
    if emptied {
        ctx.notify(crate::notify::class::GENERIC, "del", key);
    }
    ctx.dirty(n as u64 - 1);
}

/// A score or weight as Redis's `getDoubleFromObject` reads it: whole argument, no leading
/// space, no NaN, no overflow or underflow to zero.
pub(super) fn parse_score(arg: &[u8], err: &'static str) -> Result<f64, Error> {
    if arg.first().is_some_and(u8::is_ascii_whitespace) {
        return Err(err.into());
    }
    match strtod(arg) {
        Some(Strtod {
            value,
            erange: None | Some(Erange::Subnormal),
        }) if !value.is_nan() => Ok(value),
        _ => Err(err.into()),
    }
}

/// A score range end (`zslParseRange`): `(` for exclusive, then `strtod` — which also takes
/// leading spaces and the empty string (as 0), like Redis does.
fn parse_range_end(arg: &[u8]) -> Option<(f64, bool)> {
    let (ex, rest) = match arg.first() {
        Some(b'(') => (true, &arg[1..]),
        _ => (false, arg),
    };
    // strtod of "" converts nothing and stops at the end: Redis reads it as 0.
    let v = if rest.is_empty() {
        0.0
    } else {
        strtod(rest)?.value
    };
    (!v.is_nan()).then_some((v, ex))
}

/// `min max` of ZRANGEBYSCORE and friends.
pub(super) fn parse_score_range(min: &[u8], max: &[u8]) -> Result<ScoreRange, Error> {
    match (parse_range_end(min), parse_range_end(max)) {
        (Some((min, min_ex)), Some((max, max_ex))) => Ok(ScoreRange {
            min,
            max,
            min_ex,
            max_ex,
        }),
        _ => Err(msg::MIN_MAX_NOT_FLOAT.into()),
    }
}

/// `min max` of ZRANGEBYLEX and friends.
pub(super) fn parse_lex_range(min: &[u8], max: &[u8]) -> Result<LexRange, Error> {
    match (LexBound::parse(min), LexBound::parse(max)) {
        (Some(min), Some(max)) => Ok(LexRange { min, max }),
        _ => Err(msg::MIN_MAX_NOT_STRING.into()),
    }
}

/// A score and the member argument it goes with.
type ScoredArg<'a> = (f64, &'a Bytes);

#[derive(Default)]
struct ZaddFlags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
    ch: bool,
    incr: bool,
}

fn zadd(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    zadd_generic(ctx, argv, false)
}

fn zincrby(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    zadd_generic(ctx, argv, true)
}

/// ZADD's flags and (score, member) pairs, with Redis's checks in Redis's order.
fn parse_zadd(argv: &[Bytes], incr: bool) -> Result<(ZaddFlags, Vec<ScoredArg<'_>>), Error> {
    let mut f = ZaddFlags {
        incr,
        ..ZaddFlags::default()
    };
    let mut idx = 2;
    while let Some(arg) = argv.get(idx) {
        match arg.to_ascii_lowercase().as_slice() {
            b"nx" => f.nx = true,
            b"xx" => f.xx = true,
            b"gt" => f.gt = true,
            b"lt" => f.lt = true,
            b"ch" => f.ch = true,
            b"incr" => f.incr = true,
            _ => break,
        }
        idx += 1;
    }
    let rest = &argv[idx..];
    if rest.is_empty() || rest.len() % 2 == 1 {
        return Err(msg::SYNTAX.into());
    }
    if f.nx && f.xx {
        return Err("ERR XX and NX options at the same time are not compatible".into());
    }
    if (f.nx && (f.gt || f.lt)) || (f.gt && f.lt) {
        return Err("ERR GT, LT, and/or NX options at the same time are not compatible".into());
    }
    if f.incr && rest.len() > 2 {
        return Err("ERR INCR option supports a single increment-element pair".into());
    }
    let pairs = rest
        .chunks(2)
        .map(|p| Ok((parse_score(&p[0], msg::NOT_FLOAT)?, &p[1])))
        .collect::<Result<Vec<_>, Error>>()?;
    Ok((f, pairs))
}

/// ZADD and ZINCRBY (which Redis runs as ZADD with INCR, flags parsing included).
fn zadd_generic(ctx: &mut Ctx<'_>, argv: &[Bytes], incr: bool) -> CmdResult {
    let key = &argv[1];
    let (f, pairs) = parse_zadd(argv, incr)?;
    let limits = limits(ctx);
    let now = ctx.now;
    let db = ctx.db();
    let exists = write_typed::<ZSet>(db, key, now)?.is_some();
    let (mut added, mut updated, mut processed, mut last) = (0usize, 0usize, 0usize, 0.0);
    let mut nan = false;
    if exists || !f.xx {
        if !exists {
            db.set(owned(key), Value::ZSet(ZSet::new()));
        }
        let Some(z) = write_typed::<ZSet>(db, key, now)? else {
            return Err(msg::WRONGTYPE.into());
        };
        for (score, member) in pairs {
            match z.score(member) {
                Some(cur) => {
                    if f.nx {
                        continue;
                    }
                    let new = if f.incr { score + cur } else { score };
                    if new.is_nan() {
                        nan = true;
                        break;
                    }
                    if (f.lt && new >= cur) || (f.gt && new <= cur) {
                        continue;
                    }
                    processed += 1;
                    last = new;
                    if new != cur {
                        z.insert(owned(member), new, &limits);
                        updated += 1;
                    }
                }
                None if f.xx => {}
                None => {
                    z.insert(owned(member), score, &limits);
                    added += 1;
                    processed += 1;
                    last = score;
                }
            }
        }
    }
    changed(
        ctx,
        key,
        added + updated,
        if f.incr { "zincr" } else { "zadd" },
    );
    if nan {
        return Err(NAN_SCORE.into());
    }
    if f.incr {
        if processed > 0 {
            ctx.out.double(last);
        } else {
            ctx.out.null();
        }
    } else {
        ctx.out
            .int((if f.ch { added + updated } else { added }) as i64);
    }
    Ok(())
}

fn zrem(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let now = ctx.now;
    let mut deleted = 0;
    if let Some(z) = write_typed::<ZSet>(ctx.db(), &argv[1], now)? {
        for m in &argv[2..] {
            if z.remove(m).is_some() {
                deleted += 1;
                if z.is_empty() {
                    break;
                }
            }
        }
    }
    changed(ctx, &argv[1], deleted, "zrem");
    ctx.out.int(deleted as i64);
    Ok(())
}

fn zcard(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let (z, out) = read_typed::<ZSet>(ctx, &argv[1])?;
    out.int(z.map_or(0, |z| z.len()) as i64);
    Ok(())
}

fn zscore(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let (z, out) = read_typed::<ZSet>(ctx, &argv[1])?;
    match z.and_then(|z| z.score(&argv[2])) {
        Some(s) => out.double(s),
        None => out.null(),
    }
    Ok(())
}

fn zmscore(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let (z, out) = read_typed::<ZSet>(ctx, &argv[1])?;
    out.array(argv.len() - 2);
    for m in &argv[2..] {
        match z.and_then(|z| z.score(m)) {
            Some(s) => out.double(s),
            None => out.null(),
        }
    }
    Ok(())
}

fn zrank(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    rank_generic(ctx, argv, false)
}

fn zrevrank(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    rank_generic(ctx, argv, true)
}

fn rank_generic(ctx: &mut Ctx<'_>, argv: &[Bytes], rev: bool) -> CmdResult {
    let (z, out) = read_typed::<ZSet>(ctx, &argv[1])?;
    match z.and_then(|z| z.rank(&argv[2], rev)) {
        Some(r) => out.int(r as i64),
        None => out.null(),
    }
    Ok(())
}

fn zcount(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let range = parse_score_range(&argv[2], &argv[3])?;
    let (z, out) = read_typed::<ZSet>(ctx, &argv[1])?;
    let n = z.map_or(0, |z| z.range_by_score(&range, false, 0).count());
    out.int(n as i64);
    Ok(())
}

fn zlexcount(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let range = parse_lex_range(&argv[2], &argv[3])?;
    let (z, out) = read_typed::<ZSet>(ctx, &argv[1])?;
    let n = z.map_or(0, |z| z.range_by_lex(&range, false, 0).count());
    out.int(n as i64);
    Ok(())
}

/// Which members a ZREMRANGEBY* command removes.
enum RemRange {
    Rank(i64, i64),
    Score(ScoreRange),
    Lex(LexRange),
}

fn zremrangebyrank(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let range = RemRange::Rank(parse_i64(&argv[2])?, parse_i64(&argv[3])?);
    zremrange(ctx, &argv[1], range)
}

fn zremrangebyscore(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let range = RemRange::Score(parse_score_range(&argv[2], &argv[3])?);
    zremrange(ctx, &argv[1], range)
}

fn zremrangebylex(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let range = RemRange::Lex(parse_lex_range(&argv[2], &argv[3])?);
    zremrange(ctx, &argv[1], range)
}

fn zremrange(ctx: &mut Ctx<'_>, key: &Bytes, range: RemRange) -> CmdResult {
    let now = ctx.now;
    let mut deleted = 0;
    if let Some(z) = write_typed::<ZSet>(ctx.db(), key, now)? {
        let victims: Vec<Bytes> = match &range {
            RemRange::Rank(start, stop) => match normalize_range(*start, *stop, z.len()) {
                Some((a, b)) => z
                    .range_by_rank(a, b, false)
                    .map(|(m, _)| m.clone())
                    .collect(),
                None => Vec::new(),
            },
            RemRange::Score(r) => z
                .range_by_score(r, false, 0)
                .map(|(m, _)| m.clone())
                .collect(),
            RemRange::Lex(r) => z
                .range_by_lex(r, false, 0)
                .map(|(m, _)| m.clone())
                .collect(),
        };
        for m in &victims {
            z.remove(m);
        }
        deleted = victims.len();
    }
    let event = match range {
        RemRange::Rank(..) => "zremrangebyrank",
        RemRange::Score(_) => "zremrangebyscore",
        RemRange::Lex(_) => "zremrangebylex",
    };
    changed(ctx, key, deleted, event);
    ctx.out.int(deleted as i64);
    Ok(())
}

/// Replies bigger than this many elements are refused rather than built in memory (Redis
/// would try and run out of memory; no test can rely on that).
const MAX_RANDOM_REPLY: u64 = 1 << 24;

fn zrandmember(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    if argv.len() == 2 {
        let (z, out) = read_typed::<ZSet>(ctx, &argv[1])?;
        match z {
            None => out.null(),
            Some(z) => {
                let i = random_index(z.len());
                if let Some((m, _)) = z.iter().nth(i) {
                    out.bulk(m);
                }
            }
        }
        return Ok(());
    }
    let count = parse_count(&argv[2])?;
    if argv.len() > 4 || (argv.len() == 4 && !eq_ic(&argv[3], "withscores")) {
        return Err(msg::SYNTAX.into());
    }
    let withscores = argv.len() == 4;
    if withscores && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&count) {
        return Err("ERR value is out of range".into());
    }
    let (z, out) = read_typed::<ZSet>(ctx, &argv[1])?;
    let Some(z) = z else {
        out.array(0);
        return Ok(());
    };
    if count == 0 {
        out.array(0);
        return Ok(());
    }
    let all: Vec<(&Bytes, f64)> = z.iter().collect();
    let picks = random_positions(all.len(), count)?;
    write_pairs(
        out,
        picks.iter().map(|&i| (all[i].0.as_ref(), all[i].1)),
        picks.len(),
        withscores,
    );
    Ok(())
}

/// Which ranks ZRANDMEMBER returns for a non-zero `count` out of `len` (> 0) members: with a
/// negative count (or 1) any member each time; with a count covering the set, all of it from
/// the top (Redis walks it with `zuiNext`); otherwise distinct members at random.
fn random_positions(len: usize, count: i64) -> Result<Vec<usize>, Error> {
    let n = count.unsigned_abs();
    if count < 0 || n == 1 {
        if n > MAX_RANDOM_REPLY {
            return Err("ERR value is out of range".into());
        }
        return Ok((0..n).map(|_| random_index(len)).collect());
    }
    if n >= len as u64 {
        return Ok((0..len).rev().collect());
    }
    Ok(distinct_indices(len, n as usize))
}

/// Writes `len` members, with scores as [`ZRANGE`](super::zset_range) replies them: a flat
/// array in RESP2, [member, score] pairs in RESP3.
pub(super) fn write_pairs<'a>(
    out: &mut rediscover::resp::ReplyWriter,
    items: impl Iterator<Item = (&'a [u8], f64)>,
    len: usize,
    withscores: bool,
) {
    let resp3 = out.is_resp3();
    out.array(if withscores && !resp3 { len * 2 } else { len });
    for (m, s) in items {
        if withscores && resp3 {
            out.array(2);
        }
        out.bulk(m);
        if withscores {
            out.double(s);
        }
    }
}

/// ZSCAN through the shared SCAN-family parser and reply.
fn zscan(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let cursor = parse_cursor(&argv[2])?;
    let (z, out) = read_typed::<ZSet>(ctx, &argv[1])?;
    let Some(z) = z else {
        write_scan_reply(out, 0, std::iter::empty());
        return Ok(());
    };
    let args = parse_scan(argv, cursor, 3, false)?;
    // A listpack is scanned whole in one call, as Redis does.
    let (next, members): (u64, Vec<&Bytes>) = if z.listpack {
        (0, z.iter().map(|(m, _)| m).collect())
    } else {
        scan_step(z.scores.keys(), args.cursor, args.count, |k| k)
    };
    let pairs: Vec<(&Bytes, Bytes)> = members
        .into_iter()
        .filter(|m| args.matches(m))
        .map(|m| (m, Bytes::from(format_double(z.score(m).unwrap_or(0.0)))))
        .collect();
    let items: Vec<&[u8]> = pairs
        .iter()
        .flat_map(|(m, score)| [&m[..], &score[..]])
        .collect();
    write_scan_reply(out, next, items.into_iter());
    Ok(())
}
