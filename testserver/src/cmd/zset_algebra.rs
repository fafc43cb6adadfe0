//! ZUNION, ZINTER, ZDIFF, their STORE forms and ZINTERCARD, as Redis's
//! `zunionInterDiffGenericCommand`. Plain sets are accepted as inputs, every member scoring 1.

use std::cmp::Ordering;

use bytes::Bytes;
use rediscover::error_codes::msg;

use super::zset::{limits, parse_score, store, write_pairs};
use super::{eq_ic, owned, parse_i64, CmdResult, Ctx, Error};
use crate::keyspace::{Set, Value, ZSet};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

impl Aggregate {
    /// Redis's `zunionInterAggregate`: a NaN sum (inf + -inf) becomes 0, and a NaN value never
    /// wins MIN or MAX.
    fn apply(self, target: &mut f64, val: f64) {
        match self {
            Aggregate::Sum => {
                *target += val;
                if target.is_nan() {
                    *target = 0.0;
                }
            }
            Aggregate::Min => {
                if val < *target {
                    *target = val;
                }
            }
            Aggregate::Max => {
                if val > *target {
                    *target = val;
                }
            }
        }
    }
}

/// One input key: missing, a sorted set, or a plain set.
#[derive(Clone, Copy)]
enum Input<'a> {
    Missing,
    Z(&'a ZSet),
    S(&'a Set),
}

impl<'a> Input<'a> {
    fn len(&self) -> usize {
        match self {
            Input::Missing => 0,
            Input::Z(z) => z.len(),
            Input::S(s) => s.len(),
        }
    }

    fn iter(&self) -> Box<dyn Iterator<Item = (Bytes, f64)> + 'a> {
        match *self {
            Input::Missing => Box::new(std::iter::empty()),
            Input::Z(z) => Box::new(z.iter().map(|(m, s)| (m.clone(), s))),
            Input::S(s) => Box::new(s.iter().map(|m| (m, 1.0))),
        }
    }

    fn find(&self, member: &[u8]) -> Option<f64> {
        match self {
            Input::Missing => None,
            Input::Z(z) => z.score(member),
            Input::S(s) => s.contains(member).then_some(1.0),
        }
    }

    fn same(&self, other: &Input<'_>) -> bool {
        match (self, other) {
            (Input::Z(a), Input::Z(b)) => std::ptr::eq(*a, *b),
            (Input::S(a), Input::S(b)) => std::ptr::eq(*a, *b),
            _ => false,
        }
    }
}

pub(super) fn zunion(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    algebra(ctx, argv, 1, Op::Union, false)
}

pub(super) fn zinter(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    algebra(ctx, argv, 1, Op::Inter, false)
}

pub(super) fn zdiff(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    algebra(ctx, argv, 1, Op::Diff, false)
}

pub(super) fn zunionstore(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    algebra(ctx, argv, 2, Op::Union, false)
}

pub(super) fn zinterstore(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    algebra(ctx, argv, 2, Op::Inter, false)
}

pub(super) fn zdiffstore(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    algebra(ctx, argv, 2, Op::Diff, false)
}

pub(super) fn zintercard(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    algebra(ctx, argv, 1, Op::Inter, true)
}

/// Options after the input keys.
struct Options {
    weights: Vec<f64>,
    aggregate: Aggregate,
    withscores: bool,
    limit: usize,
}

fn parse_options(
    argv: &[Bytes],
    setnum: usize,
    op: Op,
    store: bool,
    card_only: bool,
) -> Result<Options, Error> {
    let mut o = Options {
        weights: vec![1.0; setnum],
        aggregate: Aggregate::Sum,
        withscores: false,
        limit: 0,
    };
    let mut j = 0;
    while j < argv.len() {
        let remaining = argv.len() - j;
        let a = &argv[j];
        let algebra_opts = op != Op::Diff && !card_only;
        if algebra_opts && remaining > setnum && eq_ic(a, "weights") {
            for (i, w) in argv[j + 1..=j + setnum].iter().enumerate() {
                o.weights[i] = parse_score(w, "ERR weight value is not a float")?;
            }
            j += setnum + 1;
        } else if algebra_opts && remaining >= 2 && eq_ic(a, "aggregate") {
            let v = &argv[j + 1];
            o.aggregate = if eq_ic(v, "sum") {
                Aggregate::Sum
            } else if eq_ic(v, "min") {
                Aggregate::Min
            } else if eq_ic(v, "max") {
                Aggregate::Max
            } else {
                return Err(msg::SYNTAX.into());
            };
            j += 2;
        } else if !store && !card_only && eq_ic(a, "withscores") {
            o.withscores = true;
            j += 1;
        } else if card_only && remaining >= 2 && eq_ic(a, "limit") {
            o.limit = match parse_i64(&argv[j + 1]) {
                Ok(n) if n >= 0 => usize::try_from(n).unwrap_or(usize::MAX),
                _ => return Err("ERR LIMIT can't be negative".into()),
            };
            j += 2;
        } else {
            return Err(msg::SYNTAX.into());
        }
    }
    Ok(o)
}

fn algebra(ctx: &mut Ctx<'_>, argv: &[Bytes], nk: usize, op: Op, card_only: bool) -> CmdResult {
    let store = nk == 2;
    let setnum = parse_i64(&argv[nk])?;
    if setnum < 1 {
        return Err(format!(
            "ERR at least 1 input key is needed for '{}' command",
            String::from_utf8_lossy(&argv[0]).to_ascii_lowercase()
        )
        .into());
    }
    let first = nk + 1;
    let setnum = match usize::try_from(setnum) {
        Ok(n) if n <= argv.len() - first => n,
        _ => return Err(msg::SYNTAX.into()),
    };
    let keys = &argv[first..first + setnum];
    let now = ctx.now;
    // Expire and type-check every input first (Redis reports WRONGTYPE before option errors).
    // Each input is a read lookup in Redis (STORE variants included): it counts a hit or miss.
    for key in keys {
        let (found, wrong) = match ctx.db().get(key, now) {
            None => (false, false),
            Some(Value::ZSet(_)) | Some(Value::Set(_)) => (true, false),
            Some(_) => (true, true),
        };
        super::lookup::count_lookup(&mut ctx.node.stats, found);
        if !found {
            ctx.notify(crate::notify::class::KEY_MISS, "keymiss", key);
        }
        if wrong {
            return Err(msg::WRONGTYPE.into());
        }
    }
    let o = parse_options(&argv[first + setnum..], setnum, op, store, card_only)?;
    let db = &*ctx.db();
    let mut inputs: Vec<(Input<'_>, f64)> = keys
        .iter()
        .zip(&o.weights)
        .map(|(k, &w)| {
            let input = match db.peek(k) {
                Some(Value::ZSet(z)) => Input::Z(z),
                Some(Value::Set(s)) => Input::S(s),
                _ => Input::Missing,
            };
            (input, w)
        })
        .collect();
    if op != Op::Diff {
        inputs.sort_by_key(|(i, _)| i.len());
    }
    if card_only {
        let n = intersection(&inputs, o.aggregate, o.limit).len();
        ctx.out.int(n as i64);
        return Ok(());
    }
    let mut result = match op {
        Op::Union => union(&inputs, o.aggregate),
        Op::Inter => intersection(&inputs, o.aggregate, 0),
        Op::Diff => difference(&inputs),
    };
    result.sort_by(|a, b| {
        a.1.partial_cmp(&b.1)
            .unwrap_or(Ordering::Equal)
            .then_with(|| a.0.cmp(&b.0))
    });
    if store {
        let event = match op {
            Op::Union => "zunionstore",
            Op::Inter => "zinterstore",
            Op::Diff => "zdiffstore",
        };
        return store_result(ctx, &argv[1], result, event);
    }
    write_pairs(
        ctx.out,
        result.iter().map(|(m, s)| (m.as_ref(), *s)),
        result.len(),
        o.withscores,
    );
    Ok(())
}

fn union(inputs: &[(Input<'_>, f64)], agg: Aggregate) -> Vec<(Bytes, f64)> {
    let mut acc: std::collections::HashMap<Bytes, f64> = std::collections::HashMap::new();
    for (input, weight) in inputs {
        for (m, s) in input.iter() {
            let mut score = weight * s;
            if score.is_nan() {
                score = 0.0;
            }
            match acc.get_mut(&m) {
                Some(t) => agg.apply(t, score),
                None => {
                    acc.insert(m, score);
                }
            }
        }
    }
    acc.into_iter().collect()
}

/// Members of every input; stops after `limit` members when `limit > 0` (ZINTERCARD).
fn intersection(inputs: &[(Input<'_>, f64)], agg: Aggregate, limit: usize) -> Vec<(Bytes, f64)> {
    let mut out = Vec::new();
    let Some(((first, w0), rest)) = inputs.split_first() else {
        return out;
    };
    'members: for (m, s) in first.iter() {
        let mut score = w0 * s;
        if score.is_nan() {
            score = 0.0;
        }
        for (input, w) in rest {
            let value = if input.same(first) {
                s * w
            } else {
                match input.find(&m) {
                    Some(v) => v * w,
                    None => continue 'members,
                }
            };
            agg.apply(&mut score, value);
        }
        out.push((m, score));
        if limit > 0 && out.len() >= limit {
            break;
        }
    }
    out
}

fn difference(inputs: &[(Input<'_>, f64)]) -> Vec<(Bytes, f64)> {
    let Some(((first, _), rest)) = inputs.split_first() else {
        return Vec::new();
    };
    first
        .iter()
        .filter(|(m, _)| rest.iter().all(|(i, _)| i.find(m).is_none()))
        .collect()
}

/// The STORE forms' write: the result replaces `dst`, or deletes it when empty.
fn store_result(
    ctx: &mut Ctx<'_>,
    dst: &Bytes,
    result: Vec<(Bytes, f64)>,
    event: &str,
) -> CmdResult {
    let limits = limits(ctx);
    let z = ZSet::from_pairs(result.into_iter().map(|(m, s)| (owned(&m), s)), &limits);
    store(ctx, dst, z, event)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::ListpackLimits;

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    fn sorted(mut v: Vec<(Bytes, f64)>) -> Vec<(Bytes, f64)> {
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    #[test]
    fn plain_sets_score_one() {
        let limits = ListpackLimits {
            entries: 128,
            value: 64,
        };
        let ints = Set::Intset(vec![1, 2, 3]);
        let strs = Set::Table([b("a"), b("2"), b("01")].into_iter().collect());
        let z = ZSet::from_pairs([(b("2"), 7.0), (b("a"), 5.0)], &limits);
        let inputs = [
            (Input::S(&ints), 1.0),
            (Input::S(&strs), 2.0),
            (Input::Z(&z), 1.0),
        ];
        assert_eq!(
            sorted(union(&inputs, Aggregate::Sum)),
            vec![
                (b("01"), 2.0),
                (b("1"), 1.0),
                (b("2"), 10.0),
                (b("3"), 1.0),
                (b("a"), 7.0),
            ]
        );
        assert_eq!(
            intersection(&inputs, Aggregate::Max, 0),
            vec![(b("2"), 7.0)]
        );
        // "01" is not the integer 1 of an intset.
        let pair = [(Input::S(&strs), 1.0), (Input::S(&ints), 1.0)];
        assert_eq!(intersection(&pair, Aggregate::Sum, 0), vec![(b("2"), 2.0)]);
        assert_eq!(
            sorted(difference(&[(Input::S(&ints), 1.0), (Input::Z(&z), 1.0)])),
            vec![(b("1"), 1.0), (b("3"), 1.0)]
        );
    }
}
