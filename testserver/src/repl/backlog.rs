//! The replication backlog: the tail of the replication stream, shared by the replicas that are
//! streaming from it and kept for partial resyncs.
//!
//! Like Redis 7's shared replication buffer, one copy of the stream serves every replica: the
//! backlog keeps at least `repl-backlog-size` bytes for PSYNC, and whatever more the slowest
//! connected replica has yet to receive. Bytes are appended to an open tail and sealed into
//! immutable chunks that feeders hand to the socket without copying.

use std::collections::VecDeque;

use bytes::{Bytes, BytesMut};

/// Offsets are Redis's: the `n`-th byte ever written to the stream has offset `n` (the first is
/// 1); `end` is the offset of the last byte written (`master_repl_offset`).
#[derive(Debug)]
pub struct Backlog {
    /// Sealed chunks, each with the offset of its first byte, contiguous and in order.
    chunks: VecDeque<(u64, Bytes)>,
    /// Bytes appended since the last seal; they follow the last chunk.
    tail: BytesMut,
    /// Offset of the last byte written.
    end: u64,
    /// `repl-backlog-size`.
    size: u64,
}

impl Backlog {
    /// An empty backlog whose next byte will have offset `end + 1`.
    pub fn new(end: u64, size: u64) -> Self {
        Backlog {
            chunks: VecDeque::new(),
            tail: BytesMut::new(),
            end,
            size: size.max(1),
        }
    }

    /// Offset of the last byte written (`master_repl_offset`).
    pub fn end(&self) -> u64 {
        self.end
    }

    /// `repl-backlog-size`.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Changes `repl-backlog-size`; takes effect at the next trim.
    pub fn resize(&mut self, size: u64) {
        self.size = size.max(1);
    }

    /// Appends stream bytes.
    pub fn append(&mut self, bytes: &[u8]) {
        self.tail.extend_from_slice(bytes);
        self.end += bytes.len() as u64;
    }

    /// The open tail, for encoding into directly. Call [`Backlog::commit`] with the number of
    /// bytes added.
    pub fn tail_mut(&mut self) -> &mut BytesMut {
        &mut self.tail
    }

    /// Accounts for `n` bytes written through [`Backlog::tail_mut`].
    pub fn commit(&mut self, n: usize) {
        self.end += n as u64;
    }

    /// Offset of the first byte physically held.
    fn held_start(&self) -> u64 {
        match self.chunks.front() {
            Some(&(start, _)) => start,
            None => self.end + 1 - self.tail.len() as u64,
        }
    }

    /// Bytes of history usable for a partial resync (`repl_backlog_histlen`).
    pub fn histlen(&self) -> u64 {
        (self.end + 1 - self.held_start()).min(self.size)
    }

    /// Offset of the oldest byte a partial resync may start from
    /// (`repl_backlog_first_byte_offset`).
    pub fn first_byte_offset(&self) -> u64 {
        self.end + 1 - self.histlen()
    }

    /// Whether a replica asking to continue from `offset` (the offset of the first byte it
    /// lacks) can be served from here.
    pub fn can_continue_from(&self, offset: u64) -> bool {
        offset >= self.first_byte_offset() && offset <= self.end + 1
    }

    /// Seals the open tail into a chunk.
    pub fn seal(&mut self) {
        if !self.tail.is_empty() {
            let start = self.end + 1 - self.tail.len() as u64;
            let chunk = self.tail.split().freeze();
            self.chunks.push_back((start, chunk));
        }
    }

    /// Drops chunks that are outside the backlog window and that no replica still needs:
    /// `keep_from` is the offset of the oldest byte a connected replica has not received yet.
    pub fn trim(&mut self, keep_from: Option<u64>) {
        let window_start = (self.end + 1).saturating_sub(self.size);
        let limit = keep_from.map_or(window_start, |k| k.min(window_start));
        while let Some(&(start, ref chunk)) = self.chunks.front() {
            if start + chunk.len() as u64 > limit {
                break;
            }
            self.chunks.pop_front();
        }
    }

    /// Up to about `max` bytes of the stream starting at offset `from`, as shared slices.
    /// `None` when `from` is no longer held (the replica fell too far behind).
    pub fn read(&mut self, from: u64, max: usize) -> Option<Vec<Bytes>> {
        self.seal();
        if from > self.end {
            return Some(Vec::new());
        }
        if from < self.held_start() {
            return None;
        }
        let mut index = self.chunks.partition_point(|(start, _)| *start <= from) - 1;
        let mut out = Vec::new();
        let mut pos = from;
        let mut taken = 0;
        while let Some((start, chunk)) = self.chunks.get(index) {
            let skip = (pos - start) as usize;
            let piece = chunk.slice(skip..);
            pos += piece.len() as u64;
            taken += piece.len();
            out.push(piece);
            index += 1;
            if taken >= max {
                break;
            }
        }
        Some(out)
    }

    /// Bytes held, including what only slow replicas still need (`mem_replication_backlog`).
    pub fn memory(&self) -> u64 {
        self.end + 1 - self.held_start()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(parts: Vec<Bytes>) -> Vec<u8> {
        parts.concat()
    }

    #[test]
    fn offsets_and_reads() {
        let mut b = Backlog::new(100, 10);
        assert_eq!(b.histlen(), 0);
        assert_eq!(b.first_byte_offset(), 101);
        assert!(b.can_continue_from(101));
        assert!(!b.can_continue_from(102));
        b.append(b"hello");
        b.seal();
        b.append(b"world");
        assert_eq!(b.end(), 110);
        assert_eq!(collect(b.read(101, 100).unwrap()), b"helloworld");
        assert_eq!(collect(b.read(104, 100).unwrap()), b"loworld");
        assert_eq!(collect(b.read(107, 100).unwrap()), b"orld");
        assert_eq!(b.read(111, 100).unwrap().len(), 0);
        assert_eq!(b.histlen(), 10);
        assert!(b.can_continue_from(101));
    }

    #[test]
    fn trims_to_size_unless_a_replica_lags() {
        let mut b = Backlog::new(0, 4);
        for part in [b"ab", b"cd", b"ef", b"gh"] {
            b.append(part);
            b.seal();
        }
        // A replica still needs offset 3 ("c"): chunks from "cd" on stay.
        b.trim(Some(3));
        assert_eq!(collect(b.read(3, 100).unwrap()), b"cdefgh");
        assert_eq!(b.histlen(), 4, "PSYNC only sees the configured window");
        assert!(!b.can_continue_from(3));
        assert!(b.can_continue_from(5));
        b.trim(None);
        assert!(b.read(3, 100).is_none());
        assert_eq!(collect(b.read(5, 100).unwrap()), b"efgh");
        assert_eq!(b.memory(), 4);
    }

    #[test]
    fn bounded_reads() {
        let mut b = Backlog::new(0, 1024);
        for _ in 0..10 {
            b.append(&[b'x'; 100]);
            b.seal();
        }
        let parts = b.read(1, 250).unwrap();
        assert_eq!(parts.iter().map(Bytes::len).sum::<usize>(), 300);
    }
}
