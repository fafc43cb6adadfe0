//! Sorted sets: members ordered by (score, member), with a member -> score index.

use std::cmp::Ordering;
use std::collections::{BTreeSet, HashMap};

use bytes::Bytes;

/// A score with the total order sorted sets need (scores are never NaN).
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
        self.0.total_cmp(&other.0)
    }
}

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

    /// The encoding OBJECT ENCODING reports.
    pub fn encoding(&self) -> &'static str {
        if self.listpack {
            "listpack"
        } else {
            "skiplist"
        }
    }
}
