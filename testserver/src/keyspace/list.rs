//! Lists.

use std::collections::VecDeque;

use bytes::Bytes;

/// A list of byte strings (Redis 7.0 always reports the `quicklist` encoding).
#[derive(Debug, Clone, Default)]
pub struct List {
    /// The elements, head first.
    pub items: VecDeque<Bytes>,
}
