//! SORT and SORT_RO, following Redis 7.0's `sortCommandGeneric`: options are parsed first, then
//! the elements of a list, set or sorted set are loaded, scored (numerically with `strtod`, or
//! as strings with ALPHA), ordered, cut by LIMIT, expanded by GET patterns, and either returned
//! or stored as a list.

use std::cmp::Ordering;

use bytes::Bytes;
use rediscover::error_codes::msg;
use rediscover::resp::ReplyWriter;

use super::lookup::count_lookup;
use super::strtod::strtod;
use super::{eq_ic, owned, parse_i64, CmdResult, Ctx, Error, Handler};
use crate::keyspace::{List, Value};
use crate::node::NodeState;

pub(crate) const COMMANDS: &[(&str, Handler)] = &[("sort", sort), ("sort_ro", sort_ro)];

fn sort(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    sort_generic(ctx, argv, false)
}

fn sort_ro(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    sort_generic(ctx, argv, true)
}

/// The parsed options.
#[derive(Default)]
struct SortOptions<'a> {
    desc: bool,
    alpha: bool,
    /// LIMIT offset count (a negative count means "to the end").
    limit: Option<(i64, i64)>,
    store: Option<&'a Bytes>,
    by: Option<&'a [u8]>,
    /// BY with a pattern without `*`: keep the natural order.
    dont_sort: bool,
    gets: Vec<&'a [u8]>,
}

fn parse_options(args: &[Bytes], readonly: bool) -> Result<SortOptions<'_>, Error> {
    let mut opts = SortOptions::default();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        let left = args.len() - i - 1;
        if eq_ic(arg, "asc") {
            opts.desc = false;
        } else if eq_ic(arg, "desc") {
            opts.desc = true;
        } else if eq_ic(arg, "alpha") {
            opts.alpha = true;
        } else if eq_ic(arg, "limit") && left >= 2 {
            opts.limit = Some((parse_i64(&args[i + 1])?, parse_i64(&args[i + 2])?));
            i += 2;
        } else if !readonly && eq_ic(arg, "store") && left >= 1 {
            opts.store = Some(&args[i + 1]);
            i += 1;
        } else if eq_ic(arg, "by") && left >= 1 {
            let pattern = &args[i + 1][..];
            // Like Redis, a later BY with a `*` does not undo an earlier one without.
            if !pattern.contains(&b'*') {
                opts.dont_sort = true;
            }
            opts.by = Some(pattern);
            i += 1;
        } else if eq_ic(arg, "get") && left >= 1 {
            opts.gets.push(&args[i + 1][..]);
            i += 1;
        } else {
            return Err(msg::SYNTAX.into());
        }
        i += 1;
    }
    Ok(opts)
}

/// Where the elements come from, which decides the natural order used without sorting.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Source {
    List,
    Set,
    ZSet,
}

/// Loads the elements of `key` (none if it does not exist). Lists and sorted sets come in their
/// own order, reversed for DESC when they will not be sorted; sets in their iteration order.
fn load(
    keys: &mut Reader<'_>,
    key: &[u8],
    opts: &SortOptions<'_>,
) -> Result<(Source, Vec<Bytes>), Error> {
    let natural_desc = opts.dont_sort && opts.desc;
    let value = keys.node.dbs[keys.db].get_mut(key, keys.now);
    count_lookup(&mut keys.node.stats, value.is_some());
    match value {
        None => Ok((Source::List, Vec::new())),
        Some(Value::List(list)) => {
            let mut items: Vec<Bytes> = list.iter().map(Bytes::copy_from_slice).collect();
            if natural_desc {
                items.reverse();
            }
            Ok((Source::List, items))
        }
        Some(Value::Set(set)) => Ok((Source::Set, set.iter().collect())),
        Some(Value::ZSet(zset)) => {
            // Redis converts a sorted set to its skiplist encoding to sort it.
            zset.listpack = false;
            let items: Vec<Bytes> = if natural_desc {
                zset.ordered.iter().rev().map(|(_, m)| m.clone()).collect()
            } else {
                zset.ordered.iter().map(|(_, m)| m.clone()).collect()
            };
            Ok((Source::ZSet, items))
        }
        Some(_) => Err(msg::WRONGTYPE.into()),
    }
}

/// The LIMIT window over `len` elements, as Redis clamps it.
fn window(limit: Option<(i64, i64)>, len: usize) -> std::ops::Range<usize> {
    let Some((offset, count)) = limit else {
        return 0..len;
    };
    let start = offset.clamp(0, len as i64) as usize;
    let take = if count < 0 {
        len
    } else {
        count.min(len as i64) as usize
    };
    start..start.saturating_add(take).min(len)
}

/// What an element is ordered by.
enum SortKey {
    /// Numeric order (ties broken by the element's bytes).
    Score(f64),
    /// ALPHA with BY: the looked-up value, missing ones first.
    Alpha(Option<Bytes>),
    /// ALPHA without BY: the element itself.
    Element,
}

fn sort_generic(ctx: &mut Ctx<'_>, argv: &[Bytes], readonly: bool) -> CmdResult {
    let mut opts = parse_options(&argv[2..], readonly)?;
    let mut keys = Reader {
        node: &mut *ctx.node,
        db: ctx.client.db,
        now: ctx.now,
    };
    let (source, mut items) = load(&mut keys, &argv[1], &opts)?;
    if opts.dont_sort && source == Source::Set && opts.store.is_some() {
        // A set's order is arbitrary; what is stored (and replicated) must not be.
        opts.dont_sort = false;
        opts.alpha = true;
        opts.by = None;
    }
    if !opts.dont_sort {
        sort_items(&mut keys, &opts, &mut items)?;
    }
    let range = window(opts.limit, items.len());
    let selected = &items[range];
    match opts.store {
        None => reply(&mut keys, ctx.out, &opts, selected),
        Some(dest) => {
            let results = expand(&mut keys, &opts, selected, |v| v.unwrap_or_default());
            store(ctx, results, dest);
        }
    }
    Ok(())
}

/// Read access to the database SORT works on. Its lookups count keyspace hits and misses, as
/// Redis's `lookupKeyRead` does for the sorted key and for every BY and GET key.
struct Reader<'a> {
    node: &'a mut NodeState,
    db: usize,
    now: i64,
}

impl Reader<'_> {
    fn get(&mut self, key: &[u8]) -> Option<&Value> {
        let node = &mut *self.node;
        let value = node.dbs[self.db].get(key, self.now);
        count_lookup(&mut node.stats, value.is_some());
        value
    }
}

/// Orders `items` as Redis's `sortCompare` does; fails if a numeric score is not a number.
fn sort_items(keys: &mut Reader<'_>, opts: &SortOptions<'_>, items: &mut Vec<Bytes>) -> CmdResult {
    let mut keyed = Vec::with_capacity(items.len());
    let mut bad_score = false;
    for item in items.drain(..) {
        let by_value = match opts.by {
            Some(pattern) => lookup_by_pattern(keys, pattern, &item),
            None => Some(item.clone()),
        };
        let key = if opts.alpha {
            if opts.by.is_some() {
                SortKey::Alpha(by_value)
            } else {
                SortKey::Element
            }
        } else {
            // A missing BY value scores 0.
            let score = match by_value {
                None => 0.0,
                Some(v) => strtod_score(&v).unwrap_or_else(|| {
                    bad_score = true;
                    0.0
                }),
            };
            SortKey::Score(score)
        };
        keyed.push((key, item));
    }
    if bad_score {
        return Err("ERR One or more scores can't be converted into double".into());
    }
    // Stable, like glibc's merge-sort qsort: ALPHA ties keep their loading order.
    keyed.sort_by(|(ka, a), (kb, b)| {
        let ord = compare(ka, a, kb, b);
        if opts.desc {
            ord.reverse()
        } else {
            ord
        }
    });
    items.extend(keyed.into_iter().map(|(_, item)| item));
    Ok(())
}

fn compare(ka: &SortKey, a: &Bytes, kb: &SortKey, b: &Bytes) -> Ordering {
    match (ka, kb) {
        (SortKey::Score(x), SortKey::Score(y)) => x
            .partial_cmp(y)
            .unwrap_or(Ordering::Equal)
            .then_with(|| a.cmp(b)),
        (SortKey::Alpha(x), SortKey::Alpha(y)) => x.cmp(y),
        _ => a.cmp(b),
    }
}

/// The results for `selected`: the elements themselves, or without them, the value of every
/// GET pattern for each (`missing` decides what a value that is not there becomes).
fn expand<T>(
    keys: &mut Reader<'_>,
    opts: &SortOptions<'_>,
    selected: &[Bytes],
    missing: impl Fn(Option<Bytes>) -> T,
) -> Vec<T> {
    if opts.gets.is_empty() {
        return selected.iter().map(|e| missing(Some(e.clone()))).collect();
    }
    let mut results = Vec::with_capacity(selected.len() * opts.gets.len());
    for item in selected {
        for pattern in &opts.gets {
            results.push(missing(lookup_by_pattern(keys, pattern, item)));
        }
    }
    results
}

/// Replies with the results; a missing GET value is a null.
fn reply(keys: &mut Reader<'_>, out: &mut ReplyWriter, opts: &SortOptions<'_>, selected: &[Bytes]) {
    let results = expand(keys, opts, selected, |v| v);
    out.array(results.len());
    for result in results {
        match result {
            Some(v) => out.bulk(&v),
            None => out.null(),
        }
    }
}

/// STORE: replaces `dest` with a list of the results (missing GET values are empty strings),
/// or deletes it when there are none; replies with the number of results.
fn store(ctx: &mut Ctx<'_>, results: Vec<Bytes>, dest: &Bytes) {
    let len = results.len();
    let db = ctx.db();
    if len > 0 {
        let list = List::from_items(results);
        // `set` also wakes clients blocked on the destination.
        db.set(owned(dest), Value::List(list));
        ctx.modified(dest);
        ctx.notify(crate::notify::class::LIST, "sortstore", dest);
        ctx.dirty(len as u64 - 1);
    } else if db.remove(dest).is_some() {
        ctx.modified(dest);
        ctx.notify(crate::notify::class::GENERIC, "del", dest);
    }
    ctx.out.int(len as i64);
}

/// Redis's `lookupKeyByPattern`: `#` is the element itself; otherwise the first `*` of the
/// pattern is replaced by the element, and the key's string value is returned, or with
/// `key->field` the field of the hash at that key. Anything else (no `*`, missing key, other
/// type) is `None`.
fn lookup_by_pattern(keys: &mut Reader<'_>, pattern: &[u8], element: &[u8]) -> Option<Bytes> {
    if pattern == b"#" {
        return Some(Bytes::copy_from_slice(element));
    }
    let star = pattern.iter().position(|&b| b == b'*')?;
    let after = &pattern[star + 1..];
    // `->` after the `*` starts a hash field, if a field name follows it.
    let (suffix, field) = match after.windows(2).position(|w| w == b"->") {
        Some(i) if i + 2 < after.len() => (&after[..i], Some(&after[i + 2..])),
        _ => (after, None),
    };
    let mut key = Vec::with_capacity(pattern.len() + element.len());
    key.extend_from_slice(&pattern[..star]);
    key.extend_from_slice(element);
    key.extend_from_slice(suffix);
    match (keys.get(&key)?, field) {
        (Value::Str(s), None) => Some(s.data.clone()),
        (Value::Hash(hash), Some(field)) => hash.get(field).cloned(),
        _ => None,
    }
}

/// A score as Redis reads it with `strtod`: leading white space is skipped, the whole string
/// must be used (C-string semantics: it ends at a NUL byte), hex floats and infinities are
/// accepted, NaN and out-of-range values (overflow, or underflow to zero or a subnormal) are
/// not. An empty string is 0.
fn strtod_score(bytes: &[u8]) -> Option<f64> {
    let s = match bytes.iter().position(|&b| b == 0) {
        Some(nul) => &bytes[..nul],
        None => bytes,
    };
    if s.is_empty() {
        return Some(0.0);
    }
    let parsed = strtod(s)?;
    (parsed.erange.is_none() && !parsed.value.is_nan()).then_some(parsed.value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_like_strtod() {
        assert_eq!(strtod_score(b""), Some(0.0));
        assert_eq!(strtod_score(b" 1"), Some(1.0));
        assert_eq!(strtod_score(b"1 "), None);
        assert_eq!(strtod_score(b"  "), None);
        assert_eq!(strtod_score(b"+.5"), Some(0.5));
        assert_eq!(strtod_score(b"1."), Some(1.0));
        assert_eq!(strtod_score(b"-1e3"), Some(-1000.0));
        assert_eq!(strtod_score(b"0x10"), Some(16.0));
        assert_eq!(strtod_score(b"0x1.8p1"), Some(3.0));
        assert_eq!(strtod_score(b"0x"), None);
        assert_eq!(strtod_score(b"-INF"), Some(f64::NEG_INFINITY));
        assert_eq!(strtod_score(b"infinity"), Some(f64::INFINITY));
        assert_eq!(strtod_score(b"infinit"), None);
        assert_eq!(strtod_score(b"nan"), None);
        assert_eq!(strtod_score(b"1e400"), None);
        assert_eq!(strtod_score(b"1e-400"), None);
        assert_eq!(strtod_score(b"4e-320"), None);
        assert_eq!(strtod_score(b"0e-400"), Some(0.0));
        assert_eq!(
            strtod_score(b"2.2250738585072014e-308"),
            Some(2.2250738585072014e-308)
        );
        assert_eq!(strtod_score(b"3\0junk"), Some(3.0));
        assert_eq!(strtod_score(b"1e"), None);
        assert_eq!(strtod_score(b"e1"), None);
    }

    #[test]
    fn limit_windows() {
        assert_eq!(window(None, 5), 0..5);
        assert_eq!(window(Some((1, 2)), 5), 1..3);
        assert_eq!(window(Some((-3, 2)), 5), 0..2);
        assert_eq!(window(Some((3, -1)), 5), 3..5);
        assert_eq!(window(Some((7, 2)), 5), 5..5);
        assert_eq!(window(Some((0, 0)), 5), 0..0);
        assert_eq!(window(Some((i64::MAX, i64::MAX)), 5), 5..5);
        assert_eq!(window(Some((2, i64::MAX)), 5), 2..5);
    }
}
