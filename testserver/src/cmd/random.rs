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
    fn counts_exclude_i64_min() {
        assert_eq!(parse_count(b"-9223372036854775807"), Ok(-i64::MAX));
        assert!(parse_count(b"-9223372036854775808").is_err());
    }
}
