//! Sorted sets: members ordered by (score, member), with a member -> score index.
//!
//! Rank queries walk the ordered set (O(n)); a test server favours obviously correct code over
//! an order-statistics tree. Score ranges are O(log n) to find, then linear in what they return.

use std::cmp::Ordering;
use std::collections::{BTreeSet, HashMap};
use std::ops::Bound;

use bytes::Bytes;

/// A score with the total order sorted sets need (scores are never NaN). `-0.0` and `0.0`
/// compare equal, as they do in Redis's skiplist (ties are then ordered by member).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Score(pub f64);

impl Eq for Score {}

impl PartialOrd for Score {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Score {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0
            .partial_cmp(&other.0)
            .unwrap_or_else(|| self.0.total_cmp(&other.0))
    }
}

/// The `zset-max-listpack-*` thresholds that decide the encoding Redis would report.
#[derive(Debug, Clone, Copy)]
pub struct ListpackLimits {
    /// `zset-max-listpack-entries`
    pub entries: usize,
    /// `zset-max-listpack-value`
    pub value: usize,
}

/// A score interval as ZRANGEBYSCORE takes it (`(` makes an end exclusive).
#[derive(Debug, Clone, Copy)]
pub struct ScoreRange {
    /// Lower end.
    pub min: f64,
    /// Upper end.
    pub max: f64,
    /// Lower end excluded.
    pub min_ex: bool,
    /// Upper end excluded.
    pub max_ex: bool,
}

impl ScoreRange {
    /// Whether no score can be inside (Redis's `zslIsInRange` precheck).
    pub fn is_empty(&self) -> bool {
        self.min > self.max || (self.min == self.max && (self.min_ex || self.max_ex))
    }

    /// `score` is at or above the lower end.
    pub fn gte_min(&self, score: f64) -> bool {
        if self.min_ex {
            score > self.min
        } else {
            score >= self.min
        }
    }

    /// `score` is at or below the upper end.
    pub fn lte_max(&self, score: f64) -> bool {
        if self.max_ex {
            score < self.max
        } else {
            score <= self.max
        }
    }

    /// The range as bounds on the (score, member) order. Only meaningful when not empty.
    fn bounds(&self) -> (Bound<Entry>, Bound<Entry>) {
        let lo = if self.min_ex {
            Score(next_up(self.min))
        } else {
            Score(self.min)
        };
        let hi = if self.max_ex {
            Bound::Excluded((Score(self.max), Bytes::new()))
        } else if self.max == f64::INFINITY {
            Bound::Unbounded
        } else {
            Bound::Excluded((Score(next_up(self.max)), Bytes::new()))
        };
        // The empty member sorts first, so these bounds take in every member of a score.
        (Bound::Included((lo, Bytes::new())), hi)
    }
}

/// A position in the (score, member) order.
type Entry = (Score, Bytes);

/// The smallest double above `x` (`f64::next_up` is newer than the crate's MSRV).
fn next_up(x: f64) -> f64 {
    if x.is_nan() || x == f64::INFINITY {
        return x;
    }
    if x == 0.0 {
        return f64::from_bits(1);
    }
    let bits = x.to_bits();
    f64::from_bits(if x > 0.0 { bits + 1 } else { bits - 1 })
}

/// One end of a lexicographic range: `-`, `+`, `[member` or `(member`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LexBound {
    /// `-`: below every member.
    Min,
    /// `+`: above every member.
    Max,
    /// `[member`
    Incl(Bytes),
    /// `(member`
    Excl(Bytes),
}

impl LexBound {
    /// Parses a range item (None for anything else, as Redis's `zslParseLexRangeItem`).
    pub fn parse(arg: &[u8]) -> Option<LexBound> {
        match arg.first()? {
            b'+' if arg.len() == 1 => Some(LexBound::Max),
            b'-' if arg.len() == 1 => Some(LexBound::Min),
            b'[' => Some(LexBound::Incl(Bytes::copy_from_slice(&arg[1..]))),
            b'(' => Some(LexBound::Excl(Bytes::copy_from_slice(&arg[1..]))),
            _ => None,
        }
    }

    /// `-` and `+` count as exclusive, as in Redis.
    fn exclusive(&self) -> bool {
        !matches!(self, LexBound::Incl(_))
    }
}

/// Compares a member with a bound's value (Redis's `sdscmplex`).
fn cmp_lex(value: &LexValue<'_>, other: &LexValue<'_>) -> Ordering {
    match (value, other) {
        (LexValue::Min, LexValue::Min) | (LexValue::Max, LexValue::Max) => Ordering::Equal,
        (LexValue::Min, _) | (_, LexValue::Max) => Ordering::Less,
        (LexValue::Max, _) | (_, LexValue::Min) => Ordering::Greater,
        (LexValue::Str(a), LexValue::Str(b)) => a.cmp(b),
    }
}

enum LexValue<'a> {
    Min,
    Max,
    Str(&'a [u8]),
}

fn lex_value(b: &LexBound) -> LexValue<'_> {
    match b {
        LexBound::Min => LexValue::Min,
        LexBound::Max => LexValue::Max,
        LexBound::Incl(s) | LexBound::Excl(s) => LexValue::Str(s),
    }
}

/// A lexicographic interval as ZRANGEBYLEX takes it.
#[derive(Debug, Clone)]
pub struct LexRange {
    /// Lower end.
    pub min: LexBound,
    /// Upper end.
    pub max: LexBound,
}

impl LexRange {
    /// Whether nothing can be inside.
    pub fn is_empty(&self) -> bool {
        match cmp_lex(&lex_value(&self.min), &lex_value(&self.max)) {
            Ordering::Greater => true,
            Ordering::Equal => self.min.exclusive() || self.max.exclusive(),
            Ordering::Less => false,
        }
    }

    /// `member` is at or above the lower end.
    pub fn gte_min(&self, member: &[u8]) -> bool {
        let c = cmp_lex(&LexValue::Str(member), &lex_value(&self.min));
        if self.min.exclusive() {
            c == Ordering::Greater
        } else {
            c != Ordering::Less
        }
    }

    /// `member` is at or below the upper end.
    pub fn lte_max(&self, member: &[u8]) -> bool {
        let c = cmp_lex(&LexValue::Str(member), &lex_value(&self.max));
        if self.max.exclusive() {
            c == Ordering::Less
        } else {
            c != Ordering::Greater
        }
    }
}

/// An iterator over (member, score) pairs.
pub type Entries<'a> = Box<dyn Iterator<Item = (&'a Bytes, f64)> + 'a>;

/// A sorted set.
#[derive(Debug, Clone, Default)]
pub struct ZSet {
    /// Member -> score.
    pub scores: HashMap<Bytes, f64>,
    /// (score, member), in Redis's order.
    pub ordered: BTreeSet<(Score, Bytes)>,
    /// Whether Redis would still use the `listpack` encoding (it never converts back).
    pub listpack: bool,
}

impl ZSet {
    /// An empty sorted set in the listpack encoding.
    pub fn new() -> Self {
        ZSet {
            listpack: true,
            ..ZSet::default()
        }
    }

    /// A sorted set holding `pairs` (a later duplicate member replaces an earlier one), encoded
    /// as Redis encodes a freshly computed result (ZUNIONSTORE and friends): listpack when it
    /// fits the limits.
    pub fn from_pairs(
        pairs: impl IntoIterator<Item = (Bytes, f64)>,
        limits: &ListpackLimits,
    ) -> Self {
        let mut z = ZSet {
            listpack: false,
            ..ZSet::default()
        };
        let no_limits = ListpackLimits {
            entries: usize::MAX,
            value: usize::MAX,
        };
        for (m, s) in pairs {
            z.remove(&m);
            z.insert(m, s, &no_limits);
        }
        if z.len() <= limits.entries && z.scores.keys().all(|m| m.len() <= limits.value) {
            z.convert_to_listpack();
        }
        z
    }

    /// Switches to the listpack encoding, which stores `-0` as `0`.
    fn convert_to_listpack(&mut self) {
        self.listpack = true;
        let zeros: Vec<Bytes> = self
            .ordered
            .iter()
            .filter(|(s, _)| s.0 == 0.0 && s.0.is_sign_negative())
            .map(|(_, m)| m.clone())
            .collect();
        for m in zeros {
            self.ordered.remove(&(Score(0.0), m.clone()));
            self.ordered.insert((Score(0.0), m.clone()));
            self.scores.insert(m, 0.0);
        }
    }

    /// The encoding OBJECT ENCODING reports.
    pub fn encoding(&self) -> &'static str {
        if self.listpack {
            "listpack"
        } else {
            "skiplist"
        }
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        self.scores.len()
    }

    /// Whether there are no members (such a set must not stay in the keyspace).
    pub fn is_empty(&self) -> bool {
        self.scores.is_empty()
    }

    /// The score of `member`.
    pub fn score(&self, member: &[u8]) -> Option<f64> {
        self.scores.get(member).copied()
    }

    /// Adds `member` or changes its score; returns the previous score. An update to an equal
    /// score (including `-0` vs `0`) changes nothing, as Redis's `score != curscore` test. A new
    /// member past the limits converts the set to the skiplist encoding first; the listpack
    /// encoding stores `-0` as `0` (its number text), the skiplist keeps the sign.
    pub fn insert(&mut self, member: Bytes, score: f64, limits: &ListpackLimits) -> Option<f64> {
        if let Some(&old) = self.scores.get(&member) {
            if old != score {
                let score = self.stored(score);
                self.ordered.remove(&(Score(old), member.clone()));
                self.ordered.insert((Score(score), member.clone()));
                self.scores.insert(member, score);
            }
            return Some(old);
        }
        if self.listpack && (self.len() + 1 > limits.entries || member.len() > limits.value) {
            self.listpack = false;
        }
        let score = self.stored(score);
        self.ordered.insert((Score(score), member.clone()));
        self.scores.insert(member, score);
        None
    }

    fn stored(&self, score: f64) -> f64 {
        if self.listpack && score == 0.0 {
            0.0
        } else {
            score
        }
    }

    /// Removes `member`; returns its score.
    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let (m, score) = self.scores.remove_entry(member)?;
        self.ordered.remove(&(Score(score), m));
        Some(score)
    }

    /// Removes and returns the lowest (`max == false`) or highest member.
    pub fn pop(&mut self, max: bool) -> Option<(Bytes, f64)> {
        let (score, member) = if max {
            self.ordered.pop_last()?
        } else {
            self.ordered.pop_first()?
        };
        self.scores.remove(&member);
        Some((member, score.0))
    }

    /// 0-based rank of `member`, from the lowest score (or the highest with `rev`). O(n).
    pub fn rank(&self, member: &[u8], rev: bool) -> Option<usize> {
        let score = self.score(member)?;
        let below = self
            .ordered
            .range(..(Score(score), Bytes::copy_from_slice(member)))
            .count();
        Some(if rev { self.len() - 1 - below } else { below })
    }

    /// All (member, score) pairs in order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&Bytes, f64)> + ExactSizeIterator {
        self.ordered.iter().map(|(s, m)| (m, s.0))
    }

    /// Members at ranks `start..=stop` (already clamped to the set), lowest first or, with
    /// `rev`, highest first.
    pub fn range_by_rank(&self, start: usize, stop: usize, rev: bool) -> Entries<'_> {
        let n = stop + 1 - start;
        if rev {
            Box::new(self.iter().rev().skip(start).take(n))
        } else {
            Box::new(self.iter().skip(start).take(n))
        }
    }

    /// Members whose score is in `range`, skipping the first `offset` from where the range
    /// starts (walking down from the top with `rev`).
    pub fn range_by_score(&self, range: &ScoreRange, rev: bool, offset: usize) -> Entries<'_> {
        if range.is_empty() || self.is_empty() {
            return Box::new(std::iter::empty());
        }
        let r = *range;
        let inner = self.ordered.range(range.bounds()).map(|(s, m)| (m, s.0));
        if rev {
            Box::new(
                inner
                    .rev()
                    .skip(offset)
                    .take_while(move |(_, s)| r.gte_min(*s)),
            )
        } else {
            Box::new(inner.skip(offset).take_while(move |(_, s)| r.lte_max(*s)))
        }
    }

    /// Members in the lexicographic `range`, skipping `offset` from where it starts.
    ///
    /// Meaningful when all scores are equal (what Redis documents). With mixed scores this
    /// reproduces Redis's listpack walk: find the first member (in score order) at or past the
    /// start, skip `offset` members, then take members while they are inside the far end.
    pub fn range_by_lex(&self, range: &LexRange, rev: bool, offset: usize) -> Entries<'_> {
        let (Some((_, first)), Some((_, last))) = (self.ordered.first(), self.ordered.last())
        else {
            return Box::new(std::iter::empty());
        };
        if range.is_empty() || !range.gte_min(last) || !range.lte_max(first) {
            return Box::new(std::iter::empty());
        }
        let (r, from) = (range.clone(), range.clone());
        // The walk starts at the first member past the near end; if that one is already beyond
        // the far end the result is empty, whatever the offset.
        if rev {
            let mut start = self
                .iter()
                .rev()
                .skip_while(move |(m, _)| !from.lte_max(m))
                .peekable();
            if !start.peek().is_some_and(|(m, _)| range.gte_min(m)) {
                return Box::new(std::iter::empty());
            }
            Box::new(start.skip(offset).take_while(move |(m, _)| r.gte_min(m)))
        } else {
            let mut start = self
                .iter()
                .skip_while(move |(m, _)| !from.gte_min(m))
                .peekable();
            if !start.peek().is_some_and(|(m, _)| range.lte_max(m)) {
                return Box::new(std::iter::empty());
            }
            Box::new(start.skip(offset).take_while(move |(m, _)| r.lte_max(m)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: ListpackLimits = ListpackLimits {
        entries: 2,
        value: 3,
    };

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    #[test]
    fn insert_update_and_encoding() {
        let mut z = ZSet::new();
        assert_eq!(z.insert(b("a"), -0.0, &LIMITS), None);
        assert!(
            z.score(b"a").unwrap().is_sign_positive(),
            "listpack stores 0"
        );
        assert_eq!(z.insert(b("b"), 1.0, &LIMITS), None);
        assert!(z.listpack);
        z.insert(b("c"), -0.0, &LIMITS);
        assert!(!z.listpack);
        assert!(
            z.score(b"c").unwrap().is_sign_negative(),
            "skiplist keeps -0"
        );
        assert_eq!(z.rank(b"c", false), Some(1));
        assert_eq!(z.rank(b"b", true), Some(0));
        z.remove(b"c");
        z.remove(b"b");
        assert!(!z.listpack, "never converts back");
    }

    #[test]
    fn next_up_steps_one_ulp() {
        assert_eq!(next_up(0.0), 5e-324);
        assert_eq!(next_up(-0.0), 5e-324);
        assert_eq!(next_up(1.0), 1.0 + f64::EPSILON);
        assert_eq!(next_up(-5e-324), -0.0);
        assert_eq!(next_up(f64::NEG_INFINITY), f64::MIN);
    }

    #[test]
    fn score_ranges() {
        let z = ZSet::from_pairs(
            [(b("a"), 1.0), (b("b"), 2.0), (b("c"), 2.0), (b("d"), 3.0)],
            &LIMITS,
        );
        let r = ScoreRange {
            min: 1.0,
            max: 2.0,
            min_ex: true,
            max_ex: false,
        };
        let got: Vec<_> = z
            .range_by_score(&r, false, 0)
            .map(|(m, _)| m.clone())
            .collect();
        assert_eq!(got, vec![b("b"), b("c")]);
        let got: Vec<_> = z
            .range_by_score(&r, true, 1)
            .map(|(m, _)| m.clone())
            .collect();
        assert_eq!(got, vec![b("b")]);
    }
}
