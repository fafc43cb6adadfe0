//! Hashes: a listpack (insertion-ordered pairs) while small, a hash table once large, as Redis.

use std::collections::HashMap;

use bytes::Bytes;

/// A hash of fields to values.
#[derive(Debug, Clone)]
pub enum Hash {
    /// Small hash, kept in insertion order (`listpack`).
    Listpack(Vec<(Bytes, Bytes)>),
    /// Large hash (`hashtable`).
    Table(HashMap<Bytes, Bytes>),
}

impl Default for Hash {
    fn default() -> Self {
        Hash::Listpack(Vec::new())
    }
}

impl Hash {
    /// The encoding OBJECT ENCODING reports.
    pub fn encoding(&self) -> &'static str {
        match self {
            Hash::Listpack(_) => "listpack",
            Hash::Table(_) => "hashtable",
        }
    }
}
