//! The RESP value model shared by the client and the test server.

use bytes::Bytes;

/// One RESP2 or RESP3 value as it travels on the wire.
///
/// Bulk payloads are [`Bytes`] slices of the buffer they were read from, so decoding a reply does
/// not copy its payload. RESP2's two nulls (`$-1` and `*-1`) and RESP3's `_` all decode to
/// [`Frame::Null`].
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    /// `+OK`: a status line.
    Simple(Bytes),
    /// `-ERR ...`: an error line, without the leading `-`.
    Error(Bytes),
    /// `:42`
    Integer(i64),
    /// `$3\r\nfoo`
    Bulk(Bytes),
    /// `$-1`, `*-1` (RESP2) or `_` (RESP3).
    Null,
    /// `*N` followed by N frames.
    Array(Vec<Frame>),
    /// RESP3 `%N`: N key/value pairs, in wire order.
    Map(Vec<(Frame, Frame)>),
    /// RESP3 `~N`.
    Set(Vec<Frame>),
    /// RESP3 `>N`: out-of-band data such as pub/sub messages.
    Push(Vec<Frame>),
    /// RESP3 `,1.5` (also `inf`, `-inf`, `nan`).
    Double(f64),
    /// RESP3 `#t` / `#f`.
    Boolean(bool),
    /// RESP3 `(12345678901234567890`: the digits, unparsed.
    BigNumber(Bytes),
    /// RESP3 `=15\r\ntxt:Some string`.
    Verbatim {
        /// The three-byte format, such as `txt` or `mkd`.
        format: [u8; 3],
        /// The text after the `xxx:` prefix.
        text: Bytes,
    },
    /// RESP3 `!21\r\nSYNTAX invalid syntax`: an error with a binary-safe body.
    BulkError(Bytes),
    /// RESP3 `|N` attributes that precede the value they describe.
    Attribute {
        /// The attribute pairs.
        attributes: Vec<(Frame, Frame)>,
        /// The reply the attributes belong to.
        data: Box<Frame>,
    },
}

impl Frame {
    /// A bulk frame holding a copy of `data`.
    pub fn bulk(data: impl AsRef<[u8]>) -> Frame {
        Frame::Bulk(Bytes::copy_from_slice(data.as_ref()))
    }

    /// A simple status frame.
    pub fn simple(text: &'static str) -> Frame {
        Frame::Simple(Bytes::from_static(text.as_bytes()))
    }

    /// True for `-ERR` and `!` error frames.
    pub fn is_error(&self) -> bool {
        matches!(self, Frame::Error(_) | Frame::BulkError(_))
    }

    /// The bytes of a simple, bulk, verbatim, error or big-number frame.
    pub fn as_bytes(&self) -> Option<&Bytes> {
        match self {
            Frame::Simple(b)
            | Frame::Bulk(b)
            | Frame::Error(b)
            | Frame::BulkError(b)
            | Frame::BigNumber(b)
            | Frame::Verbatim { text: b, .. } => Some(b),
            _ => None,
        }
    }

    /// The integer of an `Integer` frame, or of a bulk/simple frame that holds one.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Frame::Integer(i) => Some(*i),
            Frame::Simple(b) | Frame::Bulk(b) => std::str::from_utf8(b).ok()?.parse().ok(),
            _ => None,
        }
    }

    /// The elements of an array, set or push frame.
    pub fn as_slice(&self) -> Option<&[Frame]> {
        match self {
            Frame::Array(v) | Frame::Set(v) | Frame::Push(v) => Some(v),
            _ => None,
        }
    }

    /// Consumes an array, set or push frame into its elements.
    pub fn into_vec(self) -> Option<Vec<Frame>> {
        match self {
            Frame::Array(v) | Frame::Set(v) | Frame::Push(v) => Some(v),
            _ => None,
        }
    }
}
