//! Incremental RESP decoding: bytes in, frames out, no I/O.
//!
//! Every decoder here works on a `BytesMut` that holds whatever has been read so far. It either
//! takes one whole value off the front (`Ok(Some(..))`), leaves the buffer untouched because the
//! value is not complete yet (`Ok(None)`), or reports that the bytes can never become a valid value
//! (`Err`). Limits are checked from the headers alone, so an oversized bulk or aggregate is refused
//! before any memory is reserved for it.

use bytes::{Bytes, BytesMut};

use super::Frame;

/// Size limits enforced while decoding. The defaults are Redis's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest bulk string accepted (`proto-max-bulk-len`, 512 MiB).
    pub max_bulk_len: usize,
    /// Most elements accepted in one aggregate (Redis refuses counts above `INT_MAX`).
    pub max_array_len: usize,
    /// Deepest nesting of aggregates accepted (client side only: commands are flat).
    pub max_depth: usize,
    /// Longest inline command line (`PROTO_INLINE_MAX_SIZE`, 64 KiB); also bounds header lines.
    pub max_inline_len: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bulk_len: 512 * 1024 * 1024,
            max_array_len: i32::MAX as usize,
            max_depth: 128,
            max_inline_len: 64 * 1024,
        }
    }
}

/// Bytes that can never decode to a valid value. The connection that produced them is out of sync
/// and must be closed.
///
/// The `Display` text is what Redis puts after `-ERR Protocol error: ` for the same input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ProtocolError {
    message: String,
}

impl ProtocolError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        ProtocolError {
            message: message.into(),
        }
    }

    /// The error text, as Redis words it where Redis has a word for it.
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// Decodes one RESP2/RESP3 value from the front of `buf`.
///
/// ```
/// use bytes::BytesMut;
/// use rediscover::resp::{decode, Frame, Limits};
///
/// let mut buf = BytesMut::from(&b"$3\r\nfoo\r\n:1"[..]);
/// assert_eq!(decode(&mut buf, &Limits::default()).unwrap(), Some(Frame::bulk("foo")));
/// // `:1` has no line end yet: incomplete, and left in place.
/// assert_eq!(decode(&mut buf, &Limits::default()).unwrap(), None);
/// assert_eq!(&buf[..], b":1");
/// ```
pub fn decode(buf: &mut BytesMut, limits: &Limits) -> Result<Option<Frame>, ProtocolError> {
    FrameDecoder::new(*limits).decode(buf)
}

/// A decoder of RESP2/RESP3 values that keeps its progress through a value that is not
/// complete yet, so that a large reply arriving in many reads is scanned once, not once per
/// read. Use one per byte stream; [`decode`] is the same without memory between calls.
///
/// ```
/// use bytes::BytesMut;
/// use rediscover::resp::{Frame, FrameDecoder, Limits};
///
/// let mut decoder = FrameDecoder::new(Limits::default());
/// let mut buf = BytesMut::from(&b"*2\r\n:1\r\n"[..]);
/// assert_eq!(decoder.decode(&mut buf).unwrap(), None);
/// buf.extend_from_slice(b":2\r\n");
/// let two = Frame::Array(vec![Frame::Integer(1), Frame::Integer(2)]);
/// assert_eq!(decoder.decode(&mut buf).unwrap(), Some(two));
/// ```
#[derive(Debug, Clone)]
pub struct FrameDecoder {
    limits: Limits,
    /// Where the next element to scan starts (0 when no value is in progress).
    pos: usize,
    /// Elements still to scan in each open aggregate, outermost first.
    open: Vec<usize>,
    /// Bytes examined since the decoder was made.
    work: u64,
}

/// One element scanned on its own: a whole scalar, or an aggregate's header.
enum Element {
    /// A scalar that ends just before this index.
    Scalar(usize),
    /// An aggregate header: how many elements follow, and where the first starts.
    Aggregate(usize, usize),
}

impl FrameDecoder {
    /// A decoder with these limits.
    pub fn new(limits: Limits) -> Self {
        FrameDecoder {
            limits,
            pos: 0,
            open: Vec::new(),
            work: 0,
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Bytes examined since the decoder was made (header lines and payloads stepped over):
    /// each input byte a bounded number of times, however the input is split into reads.
    pub fn work(&self) -> u64 {
        self.work
    }

    /// Takes one whole value off the front of `buf`, or returns `Ok(None)` (buffer untouched,
    /// progress kept) when it is not complete yet. Between calls `buf` may only grow at its end.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, ProtocolError> {
        let end = match self.scan(buf) {
            Ok(Some(end)) => end,
            Ok(None) => return Ok(None),
            Err(e) => {
                self.reset();
                return Err(e);
            }
        };
        self.reset();
        let bytes = buf.split_to(end).freeze();
        let mut pos = 0;
        Ok(Some(parse(&bytes, &mut pos)))
    }

    fn reset(&mut self) {
        self.pos = 0;
        self.open.clear();
    }

    /// Scans on from where the last call stopped; the end of the value once it is whole.
    fn scan(&mut self, buf: &[u8]) -> Result<Option<usize>, ProtocolError> {
        if self.pos > buf.len() {
            // The caller replaced the buffer: start over.
            self.reset();
        }
        loop {
            let element = match scan_one(buf, self.pos, self.open.len(), &self.limits)? {
                Some(element) => element,
                None => return Ok(None),
            };
            let (next, children) = match element {
                Element::Scalar(end) => (end, 0),
                Element::Aggregate(children, next) => (next, children),
            };
            self.work += (next - self.pos) as u64;
            self.pos = next;
            if children > 0 {
                self.open.push(children);
                continue;
            }
            // An element is complete: so is every aggregate it was the last element of.
            loop {
                match self.open.last_mut() {
                    None => return Ok(Some(self.pos)),
                    Some(left) => {
                        *left -= 1;
                        if *left > 0 {
                            break;
                        }
                        self.open.pop();
                    }
                }
            }
        }
    }
}

/// Finds the end of the line that starts at `pos`: the index of its `\r`.
///
/// `Ok(None)` means no full line yet; a line longer than `max` without a terminator is an error.
fn line_end(
    buf: &[u8],
    pos: usize,
    max: usize,
    what: &str,
) -> Result<Option<usize>, ProtocolError> {
    let rest = &buf[pos..];
    match rest.iter().position(|&b| b == b'\r') {
        Some(i) => {
            if pos + i + 1 >= buf.len() {
                return Ok(None);
            }
            if buf[pos + i + 1] != b'\n' {
                return Err(ProtocolError::new(format!("expected CRLF after {what}")));
            }
            Ok(Some(pos + i))
        }
        None if rest.len() > max => Err(ProtocolError::new(format!("too big {what} string"))),
        None => Ok(None),
    }
}

/// Parses a strict decimal `i64` (optional `-`, no `+`, no leading zeros beyond "0", no spaces),
/// the way Redis's `string2ll` does.
pub(crate) fn parse_i64(s: &[u8]) -> Option<i64> {
    let (neg, digits) = match s.first()? {
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || digits.len() > 19 || (digits[0] == b'0' && s.len() > 1) {
        return None;
    }
    let mut v: u64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u64::from(d - b'0');
    }
    if neg {
        if v > i64::MAX as u64 + 1 {
            None
        } else {
            Some((v as i64).wrapping_neg())
        }
    } else if v > i64::MAX as u64 {
        None
    } else {
        Some(v as i64)
    }
}

/// Reads a length header (`*N`, `$N`, ...) whose line starts at `pos + 1`.
/// Returns the length (`-1` for RESP2 nulls) and the index just past the CRLF.
fn header(
    buf: &[u8],
    pos: usize,
    limits: &Limits,
    what: &str,
) -> Result<Option<(i64, usize)>, ProtocolError> {
    let Some(cr) = line_end(buf, pos + 1, limits.max_inline_len, what)? else {
        return Ok(None);
    };
    match parse_i64(&buf[pos + 1..cr]) {
        Some(n) if n >= -1 => Ok(Some((n, cr + 2))),
        _ => Err(ProtocolError::new(format!("invalid {what} length"))),
    }
}

/// Validates the element starting at `pos` (at nesting `depth`): a whole scalar, or an
/// aggregate's header.
fn scan_one(
    buf: &[u8],
    pos: usize,
    depth: usize,
    limits: &Limits,
) -> Result<Option<Element>, ProtocolError> {
    let Some(&kind) = buf.get(pos) else {
        return Ok(None);
    };
    match kind {
        b'+' | b'-' | b':' | b',' | b'#' | b'(' | b'_' => {
            let Some(cr) = line_end(buf, pos + 1, limits.max_inline_len, "line")? else {
                return Ok(None);
            };
            let line = &buf[pos + 1..cr];
            let valid = match kind {
                b':' => parse_i64(line).is_some(),
                b',' => parse_double(line).is_some(),
                b'#' => line == b"t" || line == b"f",
                b'(' => is_big_number(line),
                b'_' => line.is_empty(),
                _ => true,
            };
            if !valid {
                return Err(ProtocolError::new(format!(
                    "invalid '{}' line",
                    char::from(kind).escape_default()
                )));
            }
            Ok(Some(Element::Scalar(cr + 2)))
        }
        b'$' | b'=' | b'!' => {
            let Some((len, start)) = header(buf, pos, limits, "bulk")? else {
                return Ok(None);
            };
            if len == -1 {
                return if kind == b'$' {
                    Ok(Some(Element::Scalar(start)))
                } else {
                    Err(ProtocolError::new("invalid bulk length"))
                };
            }
            let len = len as usize;
            if len > limits.max_bulk_len {
                return Err(ProtocolError::new("invalid bulk length"));
            }
            if kind == b'=' && (len < 4 || buf.len() > start + 3 && buf[start + 3] != b':') {
                return Err(ProtocolError::new("invalid verbatim string"));
            }
            let end = start + len;
            if buf.len() < end + 2 {
                return Ok(None);
            }
            if &buf[end..end + 2] != b"\r\n" {
                return Err(ProtocolError::new("expected CRLF after bulk payload"));
            }
            Ok(Some(Element::Scalar(end + 2)))
        }
        b'*' | b'~' | b'>' | b'%' | b'|' => {
            let Some((len, next)) = header(buf, pos, limits, "multibulk")? else {
                return Ok(None);
            };
            if len == -1 {
                return if kind == b'*' {
                    Ok(Some(Element::Scalar(next)))
                } else {
                    Err(ProtocolError::new("invalid multibulk length"))
                };
            }
            let len = len as usize;
            if len > limits.max_array_len {
                return Err(ProtocolError::new("invalid multibulk length"));
            }
            if depth >= limits.max_depth {
                return Err(ProtocolError::new("nesting too deep"));
            }
            let count = match kind {
                b'%' => len.checked_mul(2),
                // Attributes are followed by the value they annotate.
                b'|' => len.checked_mul(2).and_then(|n| n.checked_add(1)),
                _ => Some(len),
            }
            .ok_or_else(|| ProtocolError::new("invalid multibulk length"))?;
            Ok(Some(Element::Aggregate(count, next)))
        }
        other => Err(ProtocolError::new(format!(
            "invalid type byte '{}'",
            char::from(other).escape_default()
        ))),
    }
}

fn is_big_number(s: &[u8]) -> bool {
    let digits = s.strip_prefix(b"-").unwrap_or(s);
    !digits.is_empty() && digits.iter().all(u8::is_ascii_digit)
}

/// Parses a RESP3 double (`1.5`, `-3e2`, `inf`, `-inf`, `nan`).
pub(crate) fn parse_double(s: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(s).ok()?;
    match s {
        "inf" | "+inf" => Some(f64::INFINITY),
        "-inf" => Some(f64::NEG_INFINITY),
        "nan" | "-nan" => Some(f64::NAN),
        _ if s.is_empty()
            || s.contains(|c: char| c.is_ascii_alphabetic() && c != 'e' && c != 'E') =>
        {
            None
        }
        _ => s.parse().ok(),
    }
}

/// Builds the frame at `pos` from bytes that [`scan`] has already validated.
fn parse(bytes: &Bytes, pos: &mut usize) -> Frame {
    let kind = bytes[*pos];
    let line_start = *pos + 1;
    let cr = line_start
        + bytes[line_start..]
            .iter()
            .position(|&b| b == b'\r')
            .unwrap_or(bytes.len() - line_start);
    *pos = cr + 2;
    let line = &bytes[line_start..cr];
    let int = || parse_i64(line).unwrap_or(0);
    match kind {
        b'+' => Frame::Simple(bytes.slice(line_start..cr)),
        b'-' => Frame::Error(bytes.slice(line_start..cr)),
        b':' => Frame::Integer(int()),
        b',' => Frame::Double(parse_double(line).unwrap_or(f64::NAN)),
        b'#' => Frame::Boolean(line == b"t"),
        b'(' => Frame::BigNumber(bytes.slice(line_start..cr)),
        b'_' => Frame::Null,
        b'$' | b'=' | b'!' => {
            let len = int();
            if len < 0 {
                return Frame::Null;
            }
            let start = *pos;
            let end = start + len as usize;
            *pos = end + 2;
            match kind {
                b'$' => Frame::Bulk(bytes.slice(start..end)),
                b'!' => Frame::BulkError(bytes.slice(start..end)),
                _ => Frame::Verbatim {
                    format: [bytes[start], bytes[start + 1], bytes[start + 2]],
                    text: bytes.slice(start + 4..end),
                },
            }
        }
        _ => {
            let len = int();
            if len < 0 {
                return Frame::Null;
            }
            let len = len as usize;
            match kind {
                b'%' | b'|' => {
                    let pairs = parse_pairs(bytes, pos, len);
                    if kind == b'%' {
                        Frame::Map(pairs)
                    } else {
                        Frame::Attribute {
                            attributes: pairs,
                            data: Box::new(parse(bytes, pos)),
                        }
                    }
                }
                _ => {
                    let items = (0..len).map(|_| parse(bytes, pos)).collect();
                    match kind {
                        b'~' => Frame::Set(items),
                        b'>' => Frame::Push(items),
                        _ => Frame::Array(items),
                    }
                }
            }
        }
    }
}

fn parse_pairs(bytes: &Bytes, pos: &mut usize, len: usize) -> Vec<(Frame, Frame)> {
    (0..len)
        .map(|_| {
            let k = parse(bytes, pos);
            let v = parse(bytes, pos);
            (k, v)
        })
        .collect()
}

/// Server-side decoder for client commands: multibulk arrays of bulk strings, or inline lines
/// (what `telnet` and `redis-cli` in a pipe send).
///
/// Arguments are handed out as `Bytes` slices of the read buffer: no copy per argument. Error
/// texts are Redis's, so the server can send `-ERR Protocol error: <text>` and close.
#[derive(Debug, Default)]
pub struct CommandDecoder {
    limits: Limits,
    /// When set, apply Redis's limits for clients that have not authenticated yet
    /// (at most 10 arguments, 16 KiB per argument).
    pub unauthenticated: bool,
    /// Argument spans of the multibulk being decoded, relative to the buffer's start.
    spans: Vec<(usize, usize)>,
    /// Progress through a multibulk that is not complete yet, so that a command arriving in
    /// many reads is parsed once, not once per read (Redis keeps the same state in its client).
    partial: Option<Partial>,
    /// Bytes examined so far (header lines scanned, arguments stepped over).
    work: u64,
}

/// A multibulk whose header and first `spans.len()` arguments have been parsed.
#[derive(Debug, Clone, Copy)]
struct Partial {
    /// Arguments announced by the `*<count>` header.
    count: usize,
    /// Where the next argument's `$` header starts.
    pos: usize,
}

impl CommandDecoder {
    /// A decoder with the given limits.
    pub fn new(limits: Limits) -> Self {
        CommandDecoder {
            limits,
            unauthenticated: false,
            spans: Vec::new(),
            partial: None,
            work: 0,
        }
    }

    /// Bytes examined since the decoder was made: header lines scanned and argument payloads
    /// stepped over. Each input byte is examined a bounded number of times however the input
    /// is split into reads (tests check that parsing stays linear).
    pub fn work(&self) -> u64 {
        self.work
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Changes the limits (`CONFIG SET proto-max-bulk-len`).
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    /// Decodes one command from the front of `buf` into `argv` (cleared first).
    ///
    /// Returns `Ok(false)` when no whole command is buffered yet. Empty commands (`*0`, a blank
    /// inline line) are consumed and skipped, as Redis does.
    pub fn decode(
        &mut self,
        buf: &mut BytesMut,
        argv: &mut Vec<Bytes>,
    ) -> Result<bool, ProtocolError> {
        loop {
            match self.decode_raw(buf, argv)? {
                None => return Ok(false),
                Some(_) if argv.is_empty() => continue,
                Some(_) => return Ok(true),
            }
        }
    }

    /// Decodes one command like [`decode`](Self::decode) and also returns the exact bytes it
    /// was read from. Empty commands are returned (with an empty `argv`) rather than skipped:
    /// a replica counts every byte of its master's stream and relays it unchanged.
    pub fn decode_raw(
        &mut self,
        buf: &mut BytesMut,
        argv: &mut Vec<Bytes>,
    ) -> Result<Option<Bytes>, ProtocolError> {
        argv.clear();
        if buf.is_empty() {
            return Ok(None);
        }
        if buf[0] == b'*' {
            self.multibulk(buf, argv)
        } else {
            self.inline(buf, argv)
        }
    }

    fn multibulk(
        &mut self,
        buf: &mut BytesMut,
        argv: &mut Vec<Bytes>,
    ) -> Result<Option<Bytes>, ProtocolError> {
        let max_line = self.limits.max_inline_len;
        let Partial { count, mut pos } = match self.partial.take() {
            // Between calls the buffer only grows until the command is taken off its front.
            Some(p) if p.pos <= buf.len() => p,
            _ => {
                self.spans.clear();
                let Some(cr) = line_end(buf, 1, max_line, "mbulk count")? else {
                    return Ok(None);
                };
                self.work += cr as u64;
                let count = match parse_i64(&buf[1..cr]) {
                    Some(n) if n <= i64::from(i32::MAX) => n,
                    _ => return Err(ProtocolError::new("invalid multibulk length")),
                };
                if self.unauthenticated && count > 10 {
                    return Err(ProtocolError::new("unauthenticated multibulk length"));
                }
                let pos = cr + 2;
                if count <= 0 {
                    return Ok(Some(buf.split_to(pos).freeze()));
                }
                Partial {
                    count: count as usize,
                    pos,
                }
            }
        };
        while self.spans.len() < count {
            let Some(&first) = buf.get(pos) else {
                self.partial = Some(Partial { count, pos });
                return Ok(None);
            };
            if first != b'$' {
                self.spans.clear();
                return Err(ProtocolError::new(format!(
                    "expected '$', got '{}'",
                    char::from(first)
                )));
            }
            let Some(cr) = line_end(buf, pos + 1, max_line, "bulk count")? else {
                self.partial = Some(Partial { count, pos });
                return Ok(None);
            };
            self.work += (cr - pos) as u64;
            let len = match parse_i64(&buf[pos + 1..cr]) {
                Some(n) if n >= 0 && n as u64 <= self.limits.max_bulk_len as u64 => n as usize,
                _ => {
                    self.spans.clear();
                    return Err(ProtocolError::new("invalid bulk length"));
                }
            };
            if self.unauthenticated && len > 16384 {
                self.spans.clear();
                return Err(ProtocolError::new("unauthenticated bulk length"));
            }
            let start = cr + 2;
            if buf.len() < start + len + 2 {
                // Reserve room for the whole argument once, now that its length is known
                // (and within limits), instead of growing the buffer read by read.
                buf.reserve(start + len + 2 - buf.len());
                self.partial = Some(Partial { count, pos });
                return Ok(None);
            }
            self.work += len as u64 + 2;
            self.spans.push((start, start + len));
            pos = start + len + 2;
        }
        let frozen = buf.split_to(pos).freeze();
        argv.extend(self.spans.drain(..).map(|(s, e)| frozen.slice(s..e)));
        Ok(Some(frozen))
    }

    fn inline(
        &mut self,
        buf: &mut BytesMut,
        argv: &mut Vec<Bytes>,
    ) -> Result<Option<Bytes>, ProtocolError> {
        // Redis finds the line end with strchr, which stops at a NUL: such a line never ends.
        let end = buf.iter().position(|&b| b == b'\n' || b == 0);
        let Some(nl) = end.filter(|&i| buf[i] == b'\n') else {
            if buf.len() > self.limits.max_inline_len {
                return Err(ProtocolError::new("too big inline request"));
            }
            return Ok(None);
        };
        let line = buf.split_to(nl + 1).freeze();
        let mut text = &line[..nl];
        if let Some(stripped) = text.strip_suffix(b"\r") {
            text = stripped;
        }
        match split_args(text) {
            Some(args) => {
                argv.extend(args.into_iter().map(Bytes::from));
                Ok(Some(line))
            }
            None => Err(ProtocolError::new("unbalanced quotes in request")),
        }
    }
}

/// Splits an inline command line into arguments the way Redis's `sdssplitargs` does: spaces
/// separate, `"..."` understands `\n \r \t \b \a \\ \" \xHH`, `'...'` understands `\'`, and a
/// closing quote must be followed by a space or the end of the line. `None` for unbalanced quotes.
pub fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    // sdssplitargs works on a C string: a NUL ends the line (and the loop below relies on it).
    let line = &line[..line.iter().position(|&b| b == 0).unwrap_or(line.len())];
    let mut args = Vec::new();
    let mut i = 0;
    let n = line.len();
    loop {
        while i < n && line[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= n {
            return Some(args);
        }
        let mut cur = Vec::new();
        let mut in_dq = false;
        let mut in_sq = false;
        loop {
            if in_dq {
                if i >= n {
                    return None;
                }
                let c = line[i];
                if c == b'\\'
                    && i + 3 < n
                    && line[i + 1] == b'x'
                    && line[i + 2].is_ascii_hexdigit()
                    && line[i + 3].is_ascii_hexdigit()
                {
                    let hex = |b: u8| (b as char).to_digit(16).unwrap_or(0) as u8;
                    cur.push(hex(line[i + 2]) * 16 + hex(line[i + 3]));
                    i += 3;
                } else if c == b'\\' && i + 1 < n {
                    i += 1;
                    cur.push(match line[i] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 8,
                        b'a' => 7,
                        other => other,
                    });
                } else if c == b'"' {
                    if i + 1 < n && !line[i + 1].is_ascii_whitespace() {
                        return None;
                    }
                    i += 1;
                    break;
                } else {
                    cur.push(c);
                }
            } else if in_sq {
                if i >= n {
                    return None;
                }
                let c = line[i];
                if c == b'\\' && i + 1 < n && line[i + 1] == b'\'' {
                    i += 1;
                    cur.push(b'\'');
                } else if c == b'\'' {
                    if i + 1 < n && !line[i + 1].is_ascii_whitespace() {
                        return None;
                    }
                    i += 1;
                    break;
                } else {
                    cur.push(c);
                }
            } else {
                if i >= n {
                    break;
                }
                match line[i] {
                    b' ' | b'\n' | b'\r' | b'\t' | 0 => break,
                    b'"' => in_dq = true,
                    b'\'' => in_sq = true,
                    c => cur.push(c),
                }
            }
            i += 1;
        }
        args.push(cur);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(input: &[u8]) -> Result<Option<Frame>, ProtocolError> {
        decode(&mut BytesMut::from(input), &Limits::default())
    }

    #[test]
    fn decodes_every_type() {
        assert_eq!(dec(b"+OK\r\n").unwrap(), Some(Frame::simple("OK")));
        assert_eq!(
            dec(b"-ERR x\r\n").unwrap(),
            Some(Frame::Error(Bytes::from_static(b"ERR x")))
        );
        assert_eq!(dec(b":-42\r\n").unwrap(), Some(Frame::Integer(-42)));
        assert_eq!(dec(b"$-1\r\n").unwrap(), Some(Frame::Null));
        assert_eq!(dec(b"*-1\r\n").unwrap(), Some(Frame::Null));
        assert_eq!(dec(b"_\r\n").unwrap(), Some(Frame::Null));
        assert_eq!(dec(b"$0\r\n\r\n").unwrap(), Some(Frame::bulk("")));
        assert_eq!(dec(b",1.5\r\n").unwrap(), Some(Frame::Double(1.5)));
        assert_eq!(
            dec(b",-inf\r\n").unwrap(),
            Some(Frame::Double(f64::NEG_INFINITY))
        );
        assert_eq!(dec(b"#f\r\n").unwrap(), Some(Frame::Boolean(false)));
        assert_eq!(
            dec(b"(-123456789012345678901234\r\n").unwrap(),
            Some(Frame::BigNumber(Bytes::from_static(
                b"-123456789012345678901234"
            )))
        );
        assert_eq!(
            dec(b"=8\r\ntxt:abcd\r\n").unwrap(),
            Some(Frame::Verbatim {
                format: *b"txt",
                text: Bytes::from_static(b"abcd")
            })
        );
        assert_eq!(
            dec(b"!5\r\nERR x\r\n").unwrap(),
            Some(Frame::BulkError(Bytes::from_static(b"ERR x")))
        );
        assert_eq!(
            dec(b"%1\r\n+a\r\n:1\r\n").unwrap(),
            Some(Frame::Map(vec![(Frame::simple("a"), Frame::Integer(1))]))
        );
        assert_eq!(
            dec(b"|1\r\n+ttl\r\n:3\r\n$1\r\nv\r\n").unwrap(),
            Some(Frame::Attribute {
                attributes: vec![(Frame::simple("ttl"), Frame::Integer(3))],
                data: Box::new(Frame::bulk("v")),
            })
        );
        assert_eq!(
            dec(b">2\r\n+a\r\n~1\r\n:1\r\n").unwrap(),
            Some(Frame::Push(vec![
                Frame::simple("a"),
                Frame::Set(vec![Frame::Integer(1)])
            ]))
        );
    }

    #[test]
    fn incomplete_is_not_invalid() {
        let whole = b"*2\r\n$3\r\nfoo\r\n%1\r\n+a\r\n,2.5\r\n";
        for cut in 0..whole.len() {
            let mut buf = BytesMut::from(&whole[..cut]);
            assert_eq!(
                decode(&mut buf, &Limits::default()).unwrap(),
                None,
                "cut {cut}"
            );
            assert_eq!(
                buf.len(),
                cut,
                "an incomplete frame must stay in the buffer"
            );
        }
        assert!(dec(whole).unwrap().is_some());
    }

    #[test]
    fn invalid_input_is_reported() {
        for bad in [
            &b"?\r\n"[..],
            b":12a\r\n",
            b"$-2\r\n",
            b"$3\r\nfooXY",
            b"#x\r\n",
            b"*-5\r\n",
            b"=2\r\nab\r\n",
            b"+a\rb",
        ] {
            assert!(dec(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn limits_are_checked_from_headers() {
        let limits = Limits {
            max_bulk_len: 10,
            max_array_len: 3,
            max_depth: 2,
            ..Limits::default()
        };
        let mut big = BytesMut::from(&b"$11\r\n"[..]);
        assert!(decode(&mut big, &limits).is_err());
        let mut many = BytesMut::from(&b"*4\r\n"[..]);
        assert!(decode(&mut many, &limits).is_err());
        let mut deep = BytesMut::from(&b"*1\r\n*1\r\n*1\r\n:1\r\n"[..]);
        assert!(decode(&mut deep, &limits).is_err());
        let mut line = BytesMut::from(vec![b'+'; 70 * 1024].as_slice());
        assert!(decode(&mut line, &Limits::default()).is_err());
    }

    #[test]
    fn commands_multibulk_and_inline() {
        let mut d = CommandDecoder::default();
        let mut argv = Vec::new();
        let mut buf = BytesMut::from(
            &b"*2\r\n$3\r\nGET\r\n$3\r\nfoo\r\nSET a \"b c\\x41\"\r\n\r\n*0\r\n"[..],
        );
        assert!(d.decode(&mut buf, &mut argv).unwrap());
        assert_eq!(argv, [&b"GET"[..], b"foo"]);
        assert!(d.decode(&mut buf, &mut argv).unwrap());
        assert_eq!(argv, [&b"SET"[..], b"a", b"b cA"]);
        assert!(!d.decode(&mut buf, &mut argv).unwrap());
        assert!(buf.is_empty());
    }

    #[test]
    fn command_errors_use_redis_texts() {
        let cases: [(&[u8], &str); 5] = [
            (b"*1\r\n+x\r\n", "expected '$', got '+'"),
            (b"*x\r\n", "invalid multibulk length"),
            (b"*1\r\n$-1\r\n", "invalid bulk length"),
            (b"GET \"a\r\n", "unbalanced quotes in request"),
            (b"*3000000000\r\n", "invalid multibulk length"),
        ];
        for (input, text) in cases {
            let mut d = CommandDecoder::default();
            let err = d
                .decode(&mut BytesMut::from(input), &mut Vec::new())
                .unwrap_err();
            assert_eq!(err.message(), text);
        }
        let mut d = CommandDecoder::default();
        let long = vec![b'a'; 65 * 1024];
        let err = d
            .decode(&mut BytesMut::from(&long[..]), &mut Vec::new())
            .unwrap_err();
        assert_eq!(err.message(), "too big inline request");
    }

    #[test]
    fn split_args_matches_sdssplitargs() {
        assert_eq!(
            split_args(b"  set 'it\\'s' \"a\\tb\"  ").unwrap(),
            vec![b"set".to_vec(), b"it's".to_vec(), b"a\tb".to_vec()]
        );
        assert!(split_args(b"\"abc\"def").is_none());
        assert!(split_args(b"'abc").is_none());
        assert_eq!(split_args(b"").unwrap(), Vec::<Vec<u8>>::new());
    }
}
