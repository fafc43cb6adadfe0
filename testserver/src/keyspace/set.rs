//! Sets: an intset (sorted integers) while small and all-integer, a hash set otherwise.

use std::collections::HashSet;

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

impl Set {
    /// The encoding OBJECT ENCODING reports.
    pub fn encoding(&self) -> &'static str {
        match self {
            Set::Intset(_) => "intset",
            Set::Table(_) => "hashtable",
        }
    }
}
