//! Random picks shared by HRANDFIELD, SRANDMEMBER and SPOP.

use super::{parse_i64, Error};
use crate::keyspace::random_u64;

/// A count argument accepted between `-i64::MAX` and `i64::MAX` (Redis's
/// `getRangeLongFromObjectOrReply` for HRANDFIELD and SRANDMEMBER).
pub(crate) fn parse_count(arg: &[u8]) -> Result<i64, Error> {
    match parse_i64(arg)? {
        i64::MIN => Err(format!(
            "ERR value is out of range, value must between {} and {}",
            -i64::MAX,
            i64::MAX
        )
        .into()),
        n => Ok(n),
    }
}

/// A uniformly random index below `n` (`n > 0`).
pub(crate) fn random_index(n: usize) -> usize {
    (random_u64() % n as u64) as usize
}

/// `count` distinct random indices below `n` (`count <= n`), in random order.
pub(crate) fn distinct_indices(n: usize, count: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..n).collect();
    for i in 0..count {
        let j = i + random_index(n - i);
        idx.swap(i, j);
    }
    idx.truncate(count);
    idx
}

/// Which items HRANDFIELD/SRANDMEMBER with a count reply with, as indices into the
/// collection's items.
pub(crate) enum Picks {
    /// A negative count: exactly this many independent picks, repetitions allowed.
    Repeated(usize),
    /// A count that covers the whole collection: every index, in order. Otherwise `count`
    /// distinct indices in random order.
    Distinct(Vec<usize>),
}

impl Picks {
    /// The picks for `count` among `len > 0` items (Redis's `...RandomMember...WithCount`
    /// cases 1 to 4).
    pub fn new(len: usize, count: i64) -> Picks {
        if count < 0 {
            Picks::Repeated(count.unsigned_abs() as usize)
        } else if count as u64 >= len as u64 {
            Picks::Distinct((0..len).collect())
        } else {
            Picks::Distinct(distinct_indices(len, count as usize))
        }
    }

    /// How many items the reply has.
    pub fn len(&self) -> usize {
        match self {
            Picks::Repeated(n) => *n,
            Picks::Distinct(v) => v.len(),
        }
    }

    /// The picked indices into `len` items (drawn lazily for repetitions, which may be many).
    pub fn indices(self, len: usize) -> impl Iterator<Item = usize> {
        let (n, distinct) = match self {
            Picks::Repeated(n) => (n, None),
            Picks::Distinct(v) => (0, Some(v)),
        };
        (0..n)
            .map(move |_| random_index(len))
            .chain(distinct.into_iter().flatten())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinct_picks() {
        let mut p = distinct_indices(10, 10);
        p.sort_unstable();
        assert_eq!(p, (0..10).collect::<Vec<_>>());
        assert_eq!(distinct_indices(5, 2).len(), 2);
    }

    #[test]
    fn picks_by_count() {
        let all: Vec<usize> = Picks::new(3, 5).indices(3).collect();
        assert_eq!(all, [0, 1, 2]);
        let repeated = Picks::new(3, -7);
        assert_eq!(repeated.len(), 7);
        assert!(repeated.indices(3).all(|i| i < 3));
        let sample = Picks::new(10, 4);
        assert_eq!(sample.len(), 4);
        assert_eq!(Picks::new(10, 0).len(), 0);
    }

    #[test]
    fn counts_exclude_i64_min() {
        assert_eq!(parse_count(b"-9223372036854775807"), Ok(-i64::MAX));
        assert!(parse_count(b"-9223372036854775808").is_err());
    }
}
