//! RESP encoding: frames, command argv (the client's hot path) and replies written straight into
//! an output buffer (the server's hot path), in RESP2 or RESP3.

use bytes::{BufMut, BytesMut};

use super::Frame;

/// Appends the decimal form of `v`.
#[inline]
pub fn put_int(buf: &mut BytesMut, v: i64) {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    let neg = v < 0;
    let mut n = v.unsigned_abs();
    loop {
        i -= 1;
        tmp[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if neg {
        buf.put_u8(b'-');
    }
    buf.put_slice(&tmp[i..]);
}

#[inline]
fn put_header(buf: &mut BytesMut, kind: u8, len: usize) {
    buf.put_u8(kind);
    put_int(buf, len as i64);
    buf.put_slice(b"\r\n");
}

#[inline]
fn put_bulk(buf: &mut BytesMut, data: &[u8]) {
    buf.reserve(data.len() + 16);
    put_header(buf, b'$', data.len());
    buf.put_slice(data);
    buf.put_slice(b"\r\n");
}

/// Encodes a command as a RESP array of bulk strings, the form every Redis accepts.
///
/// ```
/// use bytes::BytesMut;
/// let mut buf = BytesMut::new();
/// rediscover::resp::encode_command(&mut buf, &["SET", "k", "v"]);
/// assert_eq!(&buf[..], b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n");
/// ```
pub fn encode_command<A: AsRef<[u8]>>(buf: &mut BytesMut, argv: &[A]) {
    let payload: usize = argv.iter().map(|a| a.as_ref().len() + 16).sum();
    buf.reserve(payload + 16);
    put_header(buf, b'*', argv.len());
    for arg in argv {
        put_bulk(buf, arg.as_ref());
    }
}

/// Encodes any frame in its own type (RESP3 types as RESP3; `Null` as `_`).
pub fn encode_frame(buf: &mut BytesMut, frame: &Frame) {
    match frame {
        Frame::Simple(s) => line(buf, b'+', s),
        Frame::Error(s) => line(buf, b'-', s),
        Frame::Integer(i) => {
            buf.put_u8(b':');
            put_int(buf, *i);
            buf.put_slice(b"\r\n");
        }
        Frame::Bulk(b) => put_bulk(buf, b),
        Frame::Null => buf.put_slice(b"_\r\n"),
        Frame::Array(items) => aggregate(buf, b'*', items),
        Frame::Set(items) => aggregate(buf, b'~', items),
        Frame::Push(items) => aggregate(buf, b'>', items),
        Frame::Map(pairs) => pairs_of(buf, b'%', pairs),
        Frame::Attribute { attributes, data } => {
            pairs_of(buf, b'|', attributes);
            encode_frame(buf, data);
        }
        Frame::Double(d) => {
            buf.put_u8(b',');
            buf.put_slice(format_double(*d).as_bytes());
            buf.put_slice(b"\r\n");
        }
        Frame::Boolean(b) => buf.put_slice(if *b { b"#t\r\n" } else { b"#f\r\n" }),
        Frame::BigNumber(n) => line(buf, b'(', n),
        Frame::Verbatim { format, text } => {
            put_header(buf, b'=', text.len() + 4);
            buf.put_slice(format);
            buf.put_u8(b':');
            buf.put_slice(text);
            buf.put_slice(b"\r\n");
        }
        Frame::BulkError(e) => {
            put_header(buf, b'!', e.len());
            buf.put_slice(e);
            buf.put_slice(b"\r\n");
        }
    }
}

fn line(buf: &mut BytesMut, kind: u8, s: &[u8]) {
    buf.put_u8(kind);
    buf.put_slice(s);
    buf.put_slice(b"\r\n");
}

fn aggregate(buf: &mut BytesMut, kind: u8, items: &[Frame]) {
    put_header(buf, kind, items.len());
    for item in items {
        encode_frame(buf, item);
    }
}

fn pairs_of(buf: &mut BytesMut, kind: u8, pairs: &[(Frame, Frame)]) {
    put_header(buf, kind, pairs.len());
    for (k, v) in pairs {
        encode_frame(buf, k);
        encode_frame(buf, v);
    }
}

/// Formats a double the way Redis 7.0 replies with one (`%.17g`, `inf`, `-inf`, `nan`).
///
/// ```
/// assert_eq!(rediscover::resp::format_double(1.5), "1.5");
/// assert_eq!(rediscover::resp::format_double(0.1), "0.10000000000000001");
/// assert_eq!(rediscover::resp::format_double(1e20), "1e+20");
/// ```
pub fn format_double(d: f64) -> String {
    if d.is_nan() {
        return "nan".into();
    }
    if d.is_infinite() {
        return if d > 0.0 { "inf" } else { "-inf" }.into();
    }
    if d == 0.0 {
        return if d.is_sign_negative() { "-0" } else { "0" }.into();
    }
    // %.17g: 17 significant digits; exponent form when exp < -4 or exp >= 17.
    let sci = format!("{:.16e}", d);
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..17).contains(&exp) {
        let mantissa = trim_zeros(mantissa);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.abs())
    } else {
        let fixed = format!("{:.*}", (16 - exp) as usize, d);
        trim_zeros(&fixed).to_string()
    }
}

fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// Writes replies straight into an output buffer in the protocol version the peer speaks.
///
/// This is how the test server answers: no intermediate [`Frame`] per reply. Each method writes
/// one RESP element; aggregate headers take the number of elements that follow (for maps, the
/// number of pairs — RESP2 receives a flat array twice as long).
#[derive(Debug, Default)]
pub struct ReplyWriter {
    buf: BytesMut,
    resp3: bool,
}

impl ReplyWriter {
    /// An empty writer; `resp3` selects RESP3 types.
    pub fn new(resp3: bool) -> Self {
        ReplyWriter {
            buf: BytesMut::with_capacity(16 * 1024),
            resp3,
        }
    }

    /// Whether RESP3 types are written.
    pub fn is_resp3(&self) -> bool {
        self.resp3
    }

    /// Switches protocol version (after `HELLO`).
    pub fn set_resp3(&mut self, resp3: bool) {
        self.resp3 = resp3;
    }

    /// The bytes written so far.
    pub fn buffer(&mut self) -> &mut BytesMut {
        &mut self.buf
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether nothing has been written.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Drops everything written after `len` (to retract a partial reply).
    pub fn truncate(&mut self, len: usize) {
        self.buf.truncate(len);
    }

    /// Takes everything written so far, leaving the writer empty.
    pub fn take(&mut self) -> BytesMut {
        self.buf.split()
    }

    /// `+text`
    pub fn simple(&mut self, text: &str) {
        line(&mut self.buf, b'+', text.as_bytes());
    }

    /// `+OK`
    pub fn ok(&mut self) {
        self.buf.put_slice(b"+OK\r\n");
    }

    /// `-text`: `text` is the whole error line, code included (`ERR syntax error`).
    /// CR and LF in it are replaced by spaces so the stream cannot desync.
    pub fn error(&mut self, text: &str) {
        self.error_bytes(text.as_bytes());
    }

    /// `-<text>`, from bytes that need not be UTF-8 (Redis echoes a client's bytes in some
    /// errors); CR and LF become spaces, as Redis makes them.
    pub fn error_bytes(&mut self, text: &[u8]) {
        self.buf.put_u8(b'-');
        if text.iter().any(|&b| b == b'\r' || b == b'\n') {
            for &b in text {
                self.buf
                    .put_u8(if b == b'\r' || b == b'\n' { b' ' } else { b });
            }
        } else {
            self.buf.put_slice(text);
        }
        self.buf.put_slice(b"\r\n");
    }

    /// `:n`
    pub fn int(&mut self, n: i64) {
        self.buf.put_u8(b':');
        put_int(&mut self.buf, n);
        self.buf.put_slice(b"\r\n");
    }

    /// `$len\r\ndata`
    pub fn bulk(&mut self, data: &[u8]) {
        put_bulk(&mut self.buf, data);
    }

    /// A bulk string holding the decimal form of `n`.
    pub fn bulk_int(&mut self, n: i64) {
        let mut tmp = BytesMut::with_capacity(20);
        put_int(&mut tmp, n);
        put_bulk(&mut self.buf, &tmp);
    }

    /// The null bulk string: `$-1` (RESP2) or `_` (RESP3).
    pub fn null(&mut self) {
        self.buf
            .put_slice(if self.resp3 { b"_\r\n" } else { b"$-1\r\n" });
    }

    /// The null array: `*-1` (RESP2) or `_` (RESP3).
    pub fn null_array(&mut self) {
        self.buf
            .put_slice(if self.resp3 { b"_\r\n" } else { b"*-1\r\n" });
    }

    /// An array header for `len` elements.
    pub fn array(&mut self, len: usize) {
        put_header(&mut self.buf, b'*', len);
    }

    /// A map header for `pairs` pairs (a flat array of `2 * pairs` in RESP2).
    pub fn map(&mut self, pairs: usize) {
        if self.resp3 {
            put_header(&mut self.buf, b'%', pairs);
        } else {
            put_header(&mut self.buf, b'*', pairs * 2);
        }
    }

    /// A set header (an array in RESP2).
    pub fn set(&mut self, len: usize) {
        put_header(&mut self.buf, if self.resp3 { b'~' } else { b'*' }, len);
    }

    /// A push header (an array in RESP2), for pub/sub messages.
    pub fn push(&mut self, len: usize) {
        put_header(&mut self.buf, if self.resp3 { b'>' } else { b'*' }, len);
    }

    /// A double: `,1.5` in RESP3, a bulk string in RESP2 (Redis 7.0's `%.17g` form).
    pub fn double(&mut self, d: f64) {
        let text = format_double(d);
        if self.resp3 {
            line(&mut self.buf, b',', text.as_bytes());
        } else {
            put_bulk(&mut self.buf, text.as_bytes());
        }
    }

    /// A boolean: `#t`/`#f` in RESP3, `:1`/`:0` in RESP2.
    pub fn boolean(&mut self, b: bool) {
        if self.resp3 {
            self.buf.put_slice(if b { b"#t\r\n" } else { b"#f\r\n" });
        } else {
            self.int(i64::from(b));
        }
    }

    /// A verbatim string (`=`) in RESP3, a bulk string in RESP2.
    pub fn verbatim(&mut self, format: &[u8; 3], text: &[u8]) {
        if self.resp3 {
            put_header(&mut self.buf, b'=', text.len() + 4);
            self.buf.put_slice(format);
            self.buf.put_u8(b':');
            self.buf.put_slice(text);
            self.buf.put_slice(b"\r\n");
        } else {
            put_bulk(&mut self.buf, text);
        }
    }

    /// Appends bytes that are already a complete RESP encoding.
    pub fn raw(&mut self, encoded: &[u8]) {
        self.buf.put_slice(encoded);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_like_printf_g17() {
        let cases = [
            (1.0, "1"),
            (-2.5, "-2.5"),
            (0.1, "0.10000000000000001"),
            (3.0e-5, "3.0000000000000001e-05"),
            (1.0e16, "10000000000000000"),
            (1.0e17, "1e+17"),
            (123456.789, "123456.789"),
            (f64::INFINITY, "inf"),
            (0.0001, "0.0001"),
        ];
        for (d, want) in cases {
            assert_eq!(format_double(d), want, "{d}");
        }
    }

    #[test]
    fn writer_switches_on_protocol() {
        let mut w = ReplyWriter::new(false);
        w.map(1);
        w.bulk(b"a");
        w.double(1.5);
        w.null();
        w.null_array();
        w.boolean(true);
        assert_eq!(
            &w.take()[..],
            b"*2\r\n$1\r\na\r\n$3\r\n1.5\r\n$-1\r\n*-1\r\n:1\r\n"
        );
        let mut w = ReplyWriter::new(true);
        w.map(1);
        w.bulk(b"a");
        w.double(1.5);
        w.null();
        w.boolean(true);
        assert_eq!(&w.take()[..], b"%1\r\n$1\r\na\r\n,1.5\r\n_\r\n#t\r\n");
    }

    #[test]
    fn errors_cannot_break_lines() {
        let mut w = ReplyWriter::new(false);
        w.error("ERR bad\r\nthing");
        assert_eq!(&w.take()[..], b"-ERR bad  thing\r\n");
    }

    #[test]
    fn ints() {
        for v in [0, 7, -7, i64::MAX, i64::MIN, 1000] {
            let mut b = BytesMut::new();
            put_int(&mut b, v);
            assert_eq!(std::str::from_utf8(&b).unwrap(), v.to_string());
        }
    }
}
