//! Sets: an intset (sorted integers) while small and all-integer, a hash set otherwise.
//!
//! Redis 7.0 has exactly these two encodings. An intset lists its members in ascending numeric
//! order (so SMEMBERS of a small integer set matches real Redis byte for byte); once a set holds
//! a non-integer member or more than `set-max-intset-entries` members it becomes a table and
//! stays one.
//!
//! Read-only helpers for other commands (SORT, ZUNIONSTORE of plain sets, ...):
//! [`Set::contains`], [`Set::len`], [`Set::iter`] (yields owned [`Bytes`]).

use std::collections::{hash_set, HashSet};

use bytes::Bytes;

/// A set of byte strings.
#[derive(Debug, Clone)]
pub enum Set {
    /// All members are integers and there are few of them (`intset`), kept sorted.
    Intset(Vec<i64>),
    /// Anything else (`hashtable`).
    Table(HashSet<Bytes>),
}

impl Default for Set {
    fn default() -> Self {
        Set::Intset(Vec::new())
    }
}

/// Iterator over a set's members as owned byte strings: ascending numeric order for an intset,
/// arbitrary for a table.
pub enum SetIter<'a> {
    /// Over an intset (members are formatted as decimal strings).
    Intset(std::slice::Iter<'a, i64>),
    /// Over a table.
    Table(hash_set::Iter<'a, Bytes>),
}

impl Iterator for SetIter<'_> {
    type Item = Bytes;

    fn next(&mut self) -> Option<Bytes> {
        match self {
            SetIter::Intset(it) => it.next().map(|&n| int_bytes(n)),
            SetIter::Table(it) => it.next().cloned(),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self {
            SetIter::Intset(it) => it.size_hint(),
            SetIter::Table(it) => it.size_hint(),
        }
    }
}

impl ExactSizeIterator for SetIter<'_> {}

/// The decimal form of an intset member.
fn int_bytes(n: i64) -> Bytes {
    Bytes::from(n.to_string())
}

/// `member` as an intset entry: only the canonical decimal form counts (Redis's `string2ll`:
/// no sign `+`, no leading zeros, no spaces).
fn as_int(member: &[u8]) -> Option<i64> {
    rediscover::resp::parse_integer(member)
}

impl Set {
    /// An empty set (intset-encoded).
    pub fn new() -> Self {
        Set::default()
    }

    /// The encoding OBJECT ENCODING reports.
    pub fn encoding(&self) -> &'static str {
        match self {
            Set::Intset(_) => "intset",
            Set::Table(_) => "hashtable",
        }
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        match self {
            Set::Intset(v) => v.len(),
            Set::Table(s) => s.len(),
        }
    }

    /// Whether the set has no member (a stored set never is: the key is deleted instead).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether `member` is in the set.
    pub fn contains(&self, member: &[u8]) -> bool {
        match self {
            Set::Intset(v) => as_int(member).is_some_and(|n| v.binary_search(&n).is_ok()),
            Set::Table(s) => s.contains(member),
        }
    }

    /// All members as owned byte strings.
    pub fn iter(&self) -> SetIter<'_> {
        match self {
            Set::Intset(v) => SetIter::Intset(v.iter()),
            Set::Table(s) => SetIter::Table(s.iter()),
        }
    }

    /// The member at position `i` of [`Set::iter`]'s order (O(1) for an intset, O(n) for a
    /// table; collect [`Set::iter`] for many random picks).
    pub fn nth(&self, i: usize) -> Option<Bytes> {
        match self {
            Set::Intset(v) => v.get(i).map(|&n| int_bytes(n)),
            Set::Table(s) => s.iter().nth(i).cloned(),
        }
    }

    /// Adds `member` (copied); true if it was not there. `max_intset` is
    /// `set-max-intset-entries`: an intset growing past it becomes a table.
    pub fn insert(&mut self, member: &[u8], max_intset: usize) -> bool {
        if let Set::Intset(v) = self {
            match as_int(member) {
                Some(n) => {
                    let Err(pos) = v.binary_search(&n) else {
                        return false;
                    };
                    v.insert(pos, n);
                    if v.len() > max_intset {
                        self.convert();
                    }
                    return true;
                }
                None => self.convert(),
            }
        }
        match self {
            Set::Table(s) => {
                if s.contains(member) {
                    false
                } else {
                    s.insert(Bytes::copy_from_slice(member))
                }
            }
            Set::Intset(_) => false,
        }
    }

    /// Removes `member`; true if it was there.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        match self {
            Set::Intset(v) => match as_int(member).map(|n| v.binary_search(&n)) {
                Some(Ok(pos)) => {
                    v.remove(pos);
                    true
                }
                _ => false,
            },
            Set::Table(s) => s.remove(member),
        }
    }

    fn convert(&mut self) {
        if let Set::Intset(v) = self {
            let table = v.iter().map(|&n| int_bytes(n)).collect();
            *self = Set::Table(table);
        }
    }
}

impl Set {
    /// Builds a set by adding `members` one by one, which gives the encoding Redis gives a
    /// computed set (SUNIONSTORE and friends): intset while every member is an integer and
    /// there are at most `max_intset` of them.
    pub fn from_members<'a>(
        members: impl IntoIterator<Item = &'a [u8]>,
        max_intset: usize,
    ) -> Self {
        let mut set = Set::new();
        for m in members {
            set.insert(m, max_intset);
        }
        set
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(s: &Set) -> Vec<Bytes> {
        s.iter().collect()
    }

    #[test]
    fn intset_stays_sorted_and_canonical() {
        let mut s = Set::new();
        assert!(s.insert(b"3", 512));
        assert!(s.insert(b"-1", 512));
        assert!(s.insert(b"2", 512));
        assert!(!s.insert(b"2", 512));
        assert_eq!(members(&s), ["-1", "2", "3"]);
        assert_eq!(s.encoding(), "intset");
        assert!(s.contains(b"2"));
        assert!(!s.contains(b"02"));
        assert!(!s.contains(b"+2"));
        assert!(!s.remove(b"02"));
        assert!(s.remove(b"2"));
        assert_eq!(members(&s), ["-1", "3"]);
    }

    #[test]
    fn non_canonical_integers_make_a_table() {
        for m in [
            &b"01"[..],
            b"+1",
            b" 1",
            b"-0",
            b"1.0",
            b"a",
            b"9223372036854775808",
        ] {
            let mut s = Set::new();
            s.insert(b"1", 512);
            s.insert(m, 512);
            assert_eq!(s.encoding(), "hashtable", "{m:?}");
            assert_eq!(s.len(), 2);
            assert!(s.contains(b"1") && s.contains(m));
        }
        let mut s = Set::new();
        s.insert(b"-9223372036854775808", 512);
        assert_eq!(s.encoding(), "intset");
    }

    #[test]
    fn intset_converts_past_the_limit_and_never_back() {
        let mut s = Set::new();
        for i in 0..4 {
            s.insert(i.to_string().as_bytes(), 4);
        }
        assert_eq!(s.encoding(), "intset");
        s.insert(b"4", 4);
        assert_eq!(s.encoding(), "hashtable");
        for i in 0..5 {
            assert!(s.remove(i.to_string().as_bytes()));
        }
        s.insert(b"1", 4);
        assert_eq!(s.encoding(), "hashtable");
        assert!(s.contains(b"1"));
    }

    #[test]
    fn collected_sets_choose_encodings_like_redis() {
        let s = Set::from_members([&b"5"[..], b"1"], 512);
        assert_eq!(s.encoding(), "intset");
        assert_eq!(members(&s), ["1", "5"]);
        let s = Set::from_members([&b"5"[..], b"x"], 512);
        assert_eq!(s.encoding(), "hashtable");
        assert_eq!(s.nth(5), None);
    }
}
