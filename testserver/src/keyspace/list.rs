//! Lists, packed as Redis packs them: a sequence of nodes of at most 8 KB, each holding its
//! elements back to back (Redis's quicklist of listpacks), so a list of small elements costs a
//! couple of bytes per element beyond the elements themselves instead of a pointer, a length and
//! an allocation each.
//!
//! Within a node each entry is its length as a LEB128 varint, its bytes, then its length again
//! as a varint written backwards, so a node can be walked from either end (listpack's "backlen").
//! Nodes keep free room before their first entry, so pushing at the head is as cheap as pushing
//! at the tail.

use std::collections::VecDeque;

use bytes::Bytes;

/// Bytes of entries a node holds before a new node is started (Redis's `list-max-listpack-size
/// -2`). An element larger than this gets a node of its own.
const NODE_BYTES: usize = 8 * 1024;

/// A list of byte strings (Redis 7.0 always reports the `quicklist` encoding).
#[derive(Debug, Clone, Default)]
pub struct List {
    nodes: VecDeque<Node>,
    len: usize,
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

/// A run of entries in one buffer: `buf[head..]` holds them; `buf[..head]` is free room for
/// pushes at the front.
#[derive(Debug, Clone, Default)]
struct Node {
    buf: Vec<u8>,
    head: usize,
    count: usize,
}

/// Bytes a varint of `n` takes.
fn varint_len(mut n: usize) -> usize {
    let mut len = 1;
    while n >= 0x80 {
        n >>= 7;
        len += 1;
    }
    len
}

/// Bytes an entry of `len` bytes takes in a node.
fn entry_len(len: usize) -> usize {
    2 * varint_len(len) + len
}

/// Appends `n` as a LEB128 varint.
fn put_varint(mut n: usize, out: &mut Vec<u8>) {
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// Appends the encoding of `item` to `out`.
fn encode(item: &[u8], out: &mut Vec<u8>) {
    put_varint(item.len(), out);
    out.extend_from_slice(item);
    // The same varint, last byte first: read from the right it ends at its high-bit-clear byte.
    let start = out.len();
    put_varint(item.len(), out);
    out[start..].reverse();
}

/// Reads the varint at `buf[pos..]`: its value and length.
fn read_forward(buf: &[u8], pos: usize) -> (usize, usize) {
    let mut n = 0usize;
    let mut shift = 0;
    let mut i = pos;
    loop {
        let byte = buf[i];
        n |= usize::from(byte & 0x7f) << shift;
        i += 1;
        if byte & 0x80 == 0 {
            return (n, i - pos);
        }
        shift += 7;
    }
}

/// Reads the backwards varint that ends just before `end`: its value and length.
fn read_backward(buf: &[u8], end: usize) -> (usize, usize) {
    let mut n = 0usize;
    let mut shift = 0;
    let mut i = end;
    loop {
        i -= 1;
        let byte = buf[i];
        n |= usize::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return (n, end - i);
        }
        shift += 7;
    }
}

impl Node {
    fn with(items: &[&[u8]]) -> Node {
        let mut node = Node::default();
        for item in items {
            node.push_back(item);
        }
        node
    }

    /// Bytes of entries held.
    fn bytes(&self) -> usize {
        self.buf.len() - self.head
    }

    /// The entry starting at `pos`: its bytes' range and where the next entry starts.
    fn entry_at(&self, pos: usize) -> (std::ops::Range<usize>, usize) {
        let (len, n) = read_forward(&self.buf, pos);
        let start = pos + n;
        (start..start + len, start + len + varint_len(len))
    }

    /// The entry ending just before `end`: its bytes' range and where it starts.
    fn entry_before(&self, end: usize) -> (std::ops::Range<usize>, usize) {
        let (len, n) = read_backward(&self.buf, end);
        let stop = end - n;
        let start = stop - len;
        (start..stop, start - varint_len(len))
    }

    fn push_back(&mut self, item: &[u8]) {
        encode(item, &mut self.buf);
        self.count += 1;
    }

    fn push_front(&mut self, item: &[u8]) {
        let need = entry_len(item.len());
        if self.head < need {
            // Make room at the front: as much again as the node holds, so a run of pushes at
            // the head moves the node's bytes a logarithmic number of times.
            let room = need + self.bytes().max(64);
            let mut buf = Vec::with_capacity(room + self.bytes());
            buf.resize(room, 0);
            buf.extend_from_slice(&self.buf[self.head..]);
            self.buf = buf;
            self.head = room;
        }
        let mut encoded = Vec::with_capacity(need);
        encode(item, &mut encoded);
        self.head -= need;
        self.buf[self.head..self.head + need].copy_from_slice(&encoded);
        self.count += 1;
    }

    fn pop_front(&mut self) -> Option<Bytes> {
        if self.count == 0 {
            return None;
        }
        let (range, next) = self.entry_at(self.head);
        let item = Bytes::copy_from_slice(&self.buf[range]);
        self.head = next;
        self.count -= 1;
        if self.count == 0 {
            self.buf = Vec::new();
            self.head = 0;
        }
        Some(item)
    }

    fn pop_back(&mut self) -> Option<Bytes> {
        if self.count == 0 {
            return None;
        }
        let (range, start) = self.entry_before(self.buf.len());
        let item = Bytes::copy_from_slice(&self.buf[range]);
        self.buf.truncate(start);
        self.count -= 1;
        if self.count == 0 {
            self.buf = Vec::new();
            self.head = 0;
        }
        Some(item)
    }

    /// Where the `i`th entry starts (walking from the nearer end).
    fn offset_of(&self, i: usize) -> usize {
        if i <= self.count / 2 {
            let mut pos = self.head;
            for _ in 0..i {
                pos = self.entry_at(pos).1;
            }
            pos
        } else {
            let mut pos = self.buf.len();
            for _ in i..self.count {
                pos = self.entry_before(pos).1;
            }
            pos
        }
    }

    fn get(&self, i: usize) -> &[u8] {
        let (range, _) = self.entry_at(self.offset_of(i));
        &self.buf[range]
    }

    /// Replaces the bytes from `at` to `end` (entry boundaries) with `with` entries.
    fn splice(&mut self, at: usize, end: usize, with: &[u8], removed: usize, added: usize) {
        self.buf.splice(at..end, with.iter().copied());
        self.count = self.count + added - removed;
    }

    fn set(&mut self, i: usize, item: &[u8]) {
        let at = self.offset_of(i);
        let (_, end) = self.entry_at(at);
        let mut encoded = Vec::with_capacity(entry_len(item.len()));
        encode(item, &mut encoded);
        self.splice(at, end, &encoded, 1, 1);
    }

    fn insert(&mut self, i: usize, item: &[u8]) {
        let at = if i == self.count {
            self.buf.len()
        } else {
            self.offset_of(i)
        };
        let mut encoded = Vec::with_capacity(entry_len(item.len()));
        encode(item, &mut encoded);
        self.splice(at, at, &encoded, 0, 1);
    }

    fn remove(&mut self, i: usize) {
        let at = self.offset_of(i);
        let (_, end) = self.entry_at(at);
        self.splice(at, end, &[], 1, 0);
    }

    fn iter(&self) -> NodeIter<'_> {
        NodeIter {
            node: self,
            front: self.head,
            back: self.buf.len(),
            left: self.count,
        }
    }

    /// Keeps the entries from `from` on, `keep` of them.
    fn keep_range(&mut self, from: usize, keep: usize) {
        let start = self.offset_of(from);
        let mut end = start;
        for _ in 0..keep {
            end = self.entry_at(end).1;
        }
        self.buf.truncate(end);
        self.head = start;
        self.count = keep;
        if self.head > self.buf.len() / 2 {
            self.buf.drain(..self.head);
            self.head = 0;
        }
    }
}

/// The entries of a node, from either end.
struct NodeIter<'a> {
    node: &'a Node,
    front: usize,
    back: usize,
    left: usize,
}

impl<'a> Iterator for NodeIter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.left == 0 {
            return None;
        }
        let (range, next) = self.node.entry_at(self.front);
        self.front = next;
        self.left -= 1;
        Some(&self.node.buf[range])
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl DoubleEndedIterator for NodeIter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        let (range, start) = self.node.entry_before(self.back);
        self.back = start;
        self.left -= 1;
        Some(&self.node.buf[range])
    }
}

impl ExactSizeIterator for NodeIter<'_> {}

impl List {
    /// An empty list.
    pub fn new() -> List {
        List::default()
    }

    /// A list of `items`, head first.
    pub fn from_items<I, T>(items: I) -> List
    where
        I: IntoIterator<Item = T>,
        T: AsRef<[u8]>,
    {
        let mut list = List::new();
        for item in items {
            list.push(End::Right, item.as_ref());
        }
        list
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the list has no elements (such a list must not stay in the keyspace).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Adds `item` at `end`.
    pub fn push(&mut self, end: End, item: &[u8]) {
        let need = entry_len(item.len());
        let node = match end {
            End::Left => self.nodes.front_mut(),
            End::Right => self.nodes.back_mut(),
        };
        let room = node.filter(|n| n.bytes() + need <= NODE_BYTES);
        match (room, end) {
            (Some(node), End::Left) => node.push_front(item),
            (Some(node), End::Right) => node.push_back(item),
            (None, End::Left) => self.nodes.push_front(Node::with(&[item])),
            (None, End::Right) => self.nodes.push_back(Node::with(&[item])),
        }
        self.len += 1;
    }

    /// Removes and returns the element at `end`.
    pub fn pop(&mut self, end: End) -> Option<Bytes> {
        let item = match end {
            End::Left => {
                let node = self.nodes.front_mut()?;
                let item = node.pop_front();
                if node.count == 0 {
                    self.nodes.pop_front();
                }
                item
            }
            End::Right => {
                let node = self.nodes.back_mut()?;
                let item = node.pop_back();
                if node.count == 0 {
                    self.nodes.pop_back();
                }
                item
            }
        }?;
        self.len -= 1;
        Some(item)
    }

    /// The node holding element `i` (which must be inside the list) and its index there,
    /// walking from the nearer end.
    fn locate(&self, i: usize) -> (usize, usize) {
        if i < self.len / 2 {
            let mut i = i;
            for (n, node) in self.nodes.iter().enumerate() {
                if i < node.count {
                    return (n, i);
                }
                i -= node.count;
            }
        } else {
            let mut from_end = self.len - i;
            for (n, node) in self.nodes.iter().enumerate().rev() {
                if from_end <= node.count {
                    return (n, node.count - from_end);
                }
                from_end -= node.count;
            }
        }
        unreachable!("element {i} is inside a list of {}", self.len)
    }

    /// The element at position `i`, if it is inside the list.
    pub fn get(&self, i: usize) -> Option<&[u8]> {
        if i >= self.len {
            return None;
        }
        let (n, at) = self.locate(i);
        Some(self.nodes[n].get(at))
    }

    /// Replaces the element at position `i` (inside the list).
    pub fn set(&mut self, i: usize, item: &[u8]) {
        if i >= self.len {
            return;
        }
        let (n, at) = self.locate(i);
        self.nodes[n].set(at, item);
        self.split_if_large(n);
    }

    /// Inserts `item` so that it becomes element `i` (`i == len()`: at the tail).
    pub fn insert(&mut self, i: usize, item: &[u8]) {
        if i >= self.len {
            self.push(End::Right, item);
            return;
        }
        let (n, at) = self.locate(i);
        self.nodes[n].insert(at, item);
        self.len += 1;
        self.split_if_large(n);
    }

    /// Removes the element at position `i` (inside the list).
    pub fn remove(&mut self, i: usize) {
        if i >= self.len {
            return;
        }
        let (n, at) = self.locate(i);
        self.nodes[n].remove(at);
        self.len -= 1;
        if self.nodes[n].count == 0 {
            self.nodes.remove(n);
        }
    }

    /// A node grown past twice the node size by inserts is split in two.
    fn split_if_large(&mut self, n: usize) {
        let node = &self.nodes[n];
        if node.bytes() <= 2 * NODE_BYTES || node.count < 2 {
            return;
        }
        let half = node.count / 2;
        let items: Vec<&[u8]> = node.iter().collect();
        let (first, second) = (Node::with(&items[..half]), Node::with(&items[half..]));
        self.nodes[n] = first;
        self.nodes.insert(n + 1, second);
    }

    /// The elements, head first (reversible).
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &[u8]> + '_ {
        self.nodes.iter().flat_map(Node::iter)
    }

    /// The elements from position `start` to `end` inclusive (clamped to the list).
    pub fn range(&self, start: usize, end: usize) -> impl Iterator<Item = &[u8]> + '_ {
        let take = if start < self.len && start <= end {
            end.min(self.len - 1) + 1 - start
        } else {
            0
        };
        // Whole nodes before the first element are skipped without walking their entries.
        let (first, mut skip) = if take > 0 {
            self.locate(start)
        } else {
            (self.nodes.len(), 0)
        };
        self.nodes
            .range(first..)
            .flat_map(move |n| n.iter().skip(std::mem::take(&mut skip)))
            .take(take)
    }

    /// Removes the elements equal to `element`: from the head up to `limit` of them when
    /// `from_head`, from the tail otherwise (`limit` 0: all). Returns how many were removed.
    pub fn remove_matching(&mut self, element: &[u8], limit: usize, from_head: bool) -> usize {
        let mut kept: Vec<Vec<u8>> = Vec::new();
        let mut removed = 0;
        let limit = if limit == 0 { usize::MAX } else { limit };
        let mut changed = false;
        let mut scan = |item: &[u8], kept: &mut Vec<Vec<u8>>| {
            if removed < limit && item == element {
                removed += 1;
                changed = true;
            } else {
                kept.push(item.to_vec());
            }
        };
        if from_head {
            for item in self.iter() {
                scan(item, &mut kept);
            }
        } else {
            for item in self.iter().rev() {
                scan(item, &mut kept);
            }
            kept.reverse();
        }
        if changed {
            *self = List::from_items(kept);
        }
        removed
    }

    /// Keeps only the elements from position `start` to `end` inclusive (`None`: none).
    pub fn trim(&mut self, range: Option<(usize, usize)>) {
        let Some((start, end)) = range.filter(|&(s, e)| s <= e && s < self.len) else {
            self.nodes.clear();
            self.len = 0;
            return;
        };
        let end = end.min(self.len - 1);
        let (first, first_at) = self.locate(start);
        let (last, last_at) = self.locate(end);
        self.nodes.truncate(last + 1);
        self.nodes.drain(..first);
        let last = last - first;
        if last == 0 {
            self.nodes[0].keep_range(first_at, last_at - first_at + 1);
        } else {
            self.nodes[last].keep_range(0, last_at + 1);
            let head = &mut self.nodes[0];
            let keep = head.count - first_at;
            head.keep_range(first_at, keep);
        }
        self.len = end - start + 1;
    }

    /// Removes every element.
    pub fn clear(&mut self) {
        self.nodes.clear();
        self.len = 0;
    }

    /// The position of a Redis index (negative counts from the tail), if it is inside the list.
    pub fn position(&self, index: i64) -> Option<usize> {
        let len = self.len as i64;
        let i = if index < 0 { len + index } else { index };
        (0..len).contains(&i).then_some(i as usize)
    }

    /// Number of nodes (Redis's quicklist length).
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Bytes of entries in each node, head first (what Redis's listpack of that node holds,
    /// within a few bytes: both encode a length before and after each element).
    pub fn node_bytes(&self) -> impl Iterator<Item = usize> + '_ {
        self.nodes.iter().map(|n| n.buf.len() - n.head)
    }

    /// Bytes the elements take in memory, node overhead included (MEMORY USAGE estimates).
    pub fn allocated(&self) -> usize {
        self.nodes
            .iter()
            .map(|n| n.buf.capacity() + std::mem::size_of::<Node>())
            .sum()
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
    use proptest::prelude::*;

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
        let list = List::from_items(["a", "b", "c"]);
        assert_eq!(list.position(-1), Some(2));
        assert_eq!(list.position(-3), Some(0));
        assert_eq!(list.position(-4), None);
        assert_eq!(list.position(3), None);
        assert_eq!(list.position(i64::MIN), None);
    }

    #[test]
    fn varints_round_trip_both_ways() {
        for len in [0usize, 1, 127, 128, 16_383, 16_384, 1 << 21, (1 << 28) + 5] {
            let item = vec![7u8; len.min(300_000)];
            let mut buf = Vec::new();
            encode(&item, &mut buf);
            let (n, _) = read_forward(&buf, 0);
            assert_eq!(n, item.len());
            let (m, k) = read_backward(&buf, buf.len());
            assert_eq!(m, item.len());
            assert_eq!(k, varint_len(item.len()));
            assert_eq!(buf.len(), entry_len(item.len()));
        }
    }

    #[test]
    fn small_elements_are_packed() {
        let mut list = List::new();
        for i in 0..100_000 {
            list.push(End::Right, format!("element:{i}").as_bytes());
        }
        // Under 20 bytes per 12-byte element, nodes included.
        assert!(list.allocated() < 100_000 * 20, "{}", list.allocated());
        assert_eq!(list.get(99_999), Some(&b"element:99999"[..]));
    }

    #[derive(Debug, Clone)]
    enum Op {
        Push(bool, Vec<u8>),
        Pop(bool),
        Set(usize, Vec<u8>),
        Insert(usize, Vec<u8>),
        Remove(usize),
        RemoveMatching(Vec<u8>, usize, bool),
        Trim(usize, usize),
    }

    fn item() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            4 => proptest::collection::vec(b'a'..=b'c', 0..3),
            1 => proptest::collection::vec(any::<u8>(), 100..400),
            1 => Just(vec![b'x'; 9000]),
        ]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            6 => (any::<bool>(), item()).prop_map(|(l, i)| Op::Push(l, i)),
            2 => any::<bool>().prop_map(Op::Pop),
            1 => (any::<usize>(), item()).prop_map(|(i, v)| Op::Set(i, v)),
            1 => (any::<usize>(), item()).prop_map(|(i, v)| Op::Insert(i, v)),
            1 => any::<usize>().prop_map(Op::Remove),
            1 => (item(), 0usize..3, any::<bool>()).prop_map(|(e, n, h)| Op::RemoveMatching(e, n, h)),
            1 => (any::<usize>(), any::<usize>()).prop_map(|(s, e)| Op::Trim(s, e)),
        ]
    }

    proptest! {
        /// The packed list behaves exactly as a `VecDeque` of the same elements.
        #[test]
        fn behaves_like_a_deque(ops in proptest::collection::vec(op(), 0..300)) {
            let mut list = List::new();
            let mut model: VecDeque<Vec<u8>> = VecDeque::new();
            for op in ops {
                match op {
                    Op::Push(left, v) => {
                        if left {
                            list.push(End::Left, &v);
                            model.push_front(v);
                        } else {
                            list.push(End::Right, &v);
                            model.push_back(v);
                        }
                    }
                    Op::Pop(left) => {
                        let (got, want) = if left {
                            (list.pop(End::Left), model.pop_front())
                        } else {
                            (list.pop(End::Right), model.pop_back())
                        };
                        prop_assert_eq!(got.map(|b| b.to_vec()), want);
                    }
                    Op::Set(i, v) if !model.is_empty() => {
                        let i = i % model.len();
                        list.set(i, &v);
                        model[i] = v;
                    }
                    Op::Insert(i, v) => {
                        let i = i % (model.len() + 1);
                        list.insert(i, &v);
                        model.insert(i, v);
                    }
                    Op::Remove(i) if !model.is_empty() => {
                        let i = i % model.len();
                        list.remove(i);
                        model.remove(i);
                    }
                    Op::RemoveMatching(e, limit, head) => {
                        let removed = list.remove_matching(&e, limit, head);
                        let lim = if limit == 0 { usize::MAX } else { limit };
                        let mut n = 0;
                        let mut kept: VecDeque<Vec<u8>> = VecDeque::new();
                        let items: Vec<Vec<u8>> = if head {
                            model.iter().cloned().collect()
                        } else {
                            model.iter().rev().cloned().collect()
                        };
                        for it in items {
                            if n < lim && it == e {
                                n += 1;
                            } else if head {
                                kept.push_back(it);
                            } else {
                                kept.push_front(it);
                            }
                        }
                        model = kept;
                        prop_assert_eq!(removed, n);
                    }
                    Op::Trim(s, e) => {
                        let len = model.len();
                        let range = (len > 0).then(|| (s % len, e % len)).filter(|(s, e)| s <= e);
                        list.trim(range);
                        match range {
                            Some((s, e)) => {
                                model = model.iter().skip(s).take(e - s + 1).cloned().collect();
                            }
                            None => model.clear(),
                        }
                    }
                    _ => {}
                }
                prop_assert_eq!(list.len(), model.len());
                let got: Vec<&[u8]> = list.iter().collect();
                let want: Vec<&[u8]> = model.iter().map(|v| &v[..]).collect();
                prop_assert_eq!(&got, &want);
                let back: Vec<&[u8]> = list.iter().rev().collect();
                let want_back: Vec<&[u8]> = model.iter().rev().map(|v| &v[..]).collect();
                prop_assert_eq!(back, want_back);
                for (i, want) in model.iter().enumerate() {
                    prop_assert_eq!(list.get(i), Some(&want[..]));
                }
                if !model.is_empty() {
                    let s = model.len() / 3;
                    let e = model.len() - 1;
                    let got: Vec<&[u8]> = list.range(s, e).collect();
                    prop_assert_eq!(got, want[s..=e].to_vec());
                }
            }
        }
    }
}
