//! Lists.

use std::collections::VecDeque;

use bytes::Bytes;

/// A list of byte strings (Redis 7.0 always reports the `quicklist` encoding).
#[derive(Debug, Clone, Default)]
pub struct List {
    /// The elements, head first.
    pub items: VecDeque<Bytes>,
}

/// One end of a list: `LEFT` is the head, `RIGHT` the tail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The head (LPUSH, LPOP).
    Left,
    /// The tail (RPUSH, RPOP).
    Right,
}

impl End {
    /// Parses `LEFT` or `RIGHT`, case-insensitively.
    pub fn parse(arg: &[u8]) -> Option<End> {
        if arg.eq_ignore_ascii_case(b"left") {
            Some(End::Left)
        } else if arg.eq_ignore_ascii_case(b"right") {
            Some(End::Right)
        } else {
            None
        }
    }
}

impl List {
    /// An empty list.
    pub fn new() -> List {
        List::default()
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether the list has no elements (such a list must not stay in the keyspace).
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Adds `item` at `end`.
    pub fn push(&mut self, end: End, item: Bytes) {
        match end {
            End::Left => self.items.push_front(item),
            End::Right => self.items.push_back(item),
        }
    }

    /// Removes and returns the element at `end`.
    pub fn pop(&mut self, end: End) -> Option<Bytes> {
        match end {
            End::Left => self.items.pop_front(),
            End::Right => self.items.pop_back(),
        }
    }

    /// The position of a Redis index (negative counts from the tail), if it is inside the list.
    pub fn position(&self, index: i64) -> Option<usize> {
        let len = self.items.len() as i64;
        let i = if index < 0 { len + index } else { index };
        (0..len).contains(&i).then_some(i as usize)
    }
}

/// Normalises an inclusive Redis range (`LRANGE`, `LTRIM`, `ZRANGE`...) over `len` elements:
/// negative indexes count from the end, and out-of-range bounds are clamped. Returns the
/// inclusive `(start, end)` positions, or `None` when the range selects nothing.
pub fn normalize_range(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let start = if start < 0 { len + start } else { start }.max(0);
    let end = if end < 0 { len + end } else { end };
    if start > end || start >= len {
        return None;
    }
    Some((start as usize, end.min(len - 1) as usize))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_like_redis() {
        assert_eq!(normalize_range(0, -1, 3), Some((0, 2)));
        assert_eq!(normalize_range(-100, 100, 3), Some((0, 2)));
        assert_eq!(normalize_range(2, 1, 3), None);
        assert_eq!(normalize_range(3, 5, 3), None);
        assert_eq!(normalize_range(0, -4, 3), None);
        assert_eq!(normalize_range(i64::MIN, i64::MAX, 3), Some((0, 2)));
        assert_eq!(normalize_range(0, 0, 0), None);
    }

    #[test]
    fn positions() {
        let list = List {
            items: ["a", "b", "c"].into_iter().map(Bytes::from).collect(),
        };
        assert_eq!(list.position(-1), Some(2));
        assert_eq!(list.position(-3), Some(0));
        assert_eq!(list.position(-4), None);
        assert_eq!(list.position(3), None);
        assert_eq!(list.position(i64::MIN), None);
    }
}
