//! ZRANGE and its older spellings (ZREVRANGE, ZRANGEBYSCORE, ...), and ZRANGESTORE: one parser
//! and one range walk, as Redis's `zrangeGenericCommand`.

use bytes::Bytes;
use rediscover::error_codes::msg;

use super::lookup::read_typed;
use super::zset::{limits, parse_lex_range, parse_score_range, store, write_pairs};
use super::{eq_ic, owned, parse_i64, CmdResult, Ctx};
use crate::keyspace::{normalize_range, ZSet};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Auto,
    Rank,
    Score,
    Lex,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Dir {
    Auto,
    Forward,
    Reverse,
}

pub(super) fn zrange(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    zrange_generic(ctx, argv, 1, false, Kind::Auto, Dir::Auto)
}

pub(super) fn zrangestore(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    zrange_generic(ctx, argv, 2, true, Kind::Auto, Dir::Auto)
}

pub(super) fn zrevrange(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    zrange_generic(ctx, argv, 1, false, Kind::Rank, Dir::Reverse)
}

pub(super) fn zrangebyscore(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    zrange_generic(ctx, argv, 1, false, Kind::Score, Dir::Forward)
}

pub(super) fn zrevrangebyscore(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    zrange_generic(ctx, argv, 1, false, Kind::Score, Dir::Reverse)
}

pub(super) fn zrangebylex(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    zrange_generic(ctx, argv, 1, false, Kind::Lex, Dir::Forward)
}

pub(super) fn zrevrangebylex(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    zrange_generic(ctx, argv, 1, false, Kind::Lex, Dir::Reverse)
}

/// `argv[src]` is the source key, followed by the two range ends and the options; with
/// `store`, `argv[1]` is the destination.
fn zrange_generic(
    ctx: &mut Ctx<'_>,
    argv: &[Bytes],
    src: usize,
    store: bool,
    mut kind: Kind,
    mut dir: Dir,
) -> CmdResult {
    let mut withscores = false;
    let (mut offset, mut limit) = (0i64, -1i64);
    let mut j = src + 3;
    while j < argv.len() {
        let left = argv.len() - j - 1;
        let a = &argv[j];
        if !store && eq_ic(a, "withscores") {
            withscores = true;
        } else if eq_ic(a, "limit") && left >= 2 {
            offset = parse_i64(&argv[j + 1])?;
            limit = parse_i64(&argv[j + 2])?;
            j += 2;
        } else if dir == Dir::Auto && eq_ic(a, "rev") {
            dir = Dir::Reverse;
        } else if kind == Kind::Auto && eq_ic(a, "bylex") {
            kind = Kind::Lex;
        } else if kind == Kind::Auto && eq_ic(a, "byscore") {
            kind = Kind::Score;
        } else {
            return Err(msg::SYNTAX.into());
        }
        j += 1;
    }
    let rev = dir == Dir::Reverse;
    if kind == Kind::Auto {
        kind = Kind::Rank;
    }
    if limit != -1 && kind == Kind::Rank {
        return Err(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"
                .into(),
        );
    }
    if withscores && kind == Kind::Lex {
        return Err("ERR syntax error, WITHSCORES not supported in combination with BYLEX".into());
    }
    // Reversed score and lex ranges are written max first.
    let (lo, hi) = if rev && kind != Kind::Rank {
        (&argv[src + 2], &argv[src + 1])
    } else {
        (&argv[src + 1], &argv[src + 2])
    };
    enum Parsed {
        Rank(i64, i64),
        Score(crate::keyspace::ScoreRange),
        Lex(crate::keyspace::LexRange),
    }
    let parsed = match kind {
        Kind::Score => Parsed::Score(parse_score_range(lo, hi)?),
        Kind::Lex => Parsed::Lex(parse_lex_range(lo, hi)?),
        _ => Parsed::Rank(parse_i64(lo)?, parse_i64(hi)?),
    };

    // Redis reads the source with lookupKeyRead, STORE variant included: it counts a hit/miss.
    let found: Option<Vec<(Bytes, f64)>> = read_typed::<ZSet>(ctx, &argv[src])?.0.map(|z| {
        // A negative offset skips everything (Redis's `while (offset--)`), a negative limit
        // takes everything.
        let take = usize::try_from(limit).unwrap_or(usize::MAX);
        let skip = usize::try_from(offset).ok();
        let items: Box<dyn Iterator<Item = (&Bytes, f64)>> = match (&parsed, skip) {
            (Parsed::Rank(a, b), _) => match normalize_range(*a, *b, z.len()) {
                Some((a, b)) => z.range_by_rank(a, b, rev),
                None => Box::new(std::iter::empty()),
            },
            (_, None) => Box::new(std::iter::empty()),
            (Parsed::Score(r), Some(skip)) => Box::new(z.range_by_score(r, rev, skip).take(take)),
            (Parsed::Lex(r), Some(skip)) => Box::new(z.range_by_lex(r, rev, skip).take(take)),
        };
        items.map(|(m, s)| (m.clone(), s)).collect()
    });
    if store {
        let rank_mode = matches!(parsed, Parsed::Rank(..));
        return store_result(ctx, &argv[1], found.unwrap_or_default(), rank_mode);
    }
    let items = found.unwrap_or_default();
    write_pairs(
        ctx.out,
        items.iter().map(|(m, s)| (m.as_ref(), *s)),
        items.len(),
        withscores,
    );
    Ok(())
}

/// ZRANGESTORE's write: the result replaces `dst`, or deletes it when empty.
fn store_result(
    ctx: &mut Ctx<'_>,
    dst: &Bytes,
    items: Vec<(Bytes, f64)>,
    rank_mode: bool,
) -> CmdResult {
    let limits = limits(ctx);
    // Redis starts a rank result bigger than the listpack limit as a skiplist, anything else as
    // a listpack that converts while filling (which matters only for how `-0` is kept).
    let mut z = ZSet::new();
    if rank_mode && items.len() > limits.entries {
        z.listpack = false;
    }
    for (m, s) in items {
        z.insert(owned(&m), s, &limits);
    }
    store(ctx, dst, z, "zrangestore")
}
