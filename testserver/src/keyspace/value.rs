//! The value stored under a key, and the encodings `OBJECT ENCODING` reports for it.

use bytes::Bytes;

use super::{Hash, List, Set, Stream, ZSet};

/// A string value. `raw` records that it was modified in place (APPEND, SETRANGE), which Redis
/// reports as the `raw` encoding whatever its length. Build one with [`Str::new`],
/// [`Str::modified`] or [`Str::plain`] rather than a struct literal.
#[derive(Debug, Clone, PartialEq)]
pub struct Str {
    /// The bytes.
    pub data: Bytes,
    /// Forced `raw` encoding.
    pub raw: bool,
    /// Stored without Redis's integer conversion (INCRBYFLOAT results): `embstr` even when
    /// the text looks like an integer.
    pub no_int: bool,
    /// A private copy of a small integer (COPY's result), never Redis's shared object.
    pub unshared: bool,
}

impl Str {
    /// A string stored as given (`int`/`embstr`/`raw` chosen by content, as `SET` does).
    pub fn new(data: Bytes) -> Str {
        Str {
            data,
            raw: false,
            no_int: false,
            unshared: false,
        }
    }

    /// A string that was modified in place (APPEND, SETRANGE): always the `raw` encoding.
    pub fn modified(data: Bytes) -> Str {
        Str {
            data,
            raw: true,
            no_int: false,
            unshared: false,
        }
    }

    /// A string Redis creates without trying the integer encoding (INCRBYFLOAT's result):
    /// `embstr` up to 44 bytes, `raw` beyond.
    pub fn plain(data: Bytes) -> Str {
        Str {
            data,
            raw: false,
            no_int: true,
            unshared: false,
        }
    }

    /// The encoding OBJECT ENCODING reports.
    pub fn encoding(&self) -> &'static str {
        if self.is_int() {
            "int"
        } else if !self.raw && self.data.len() <= 44 {
            "embstr"
        } else {
            "raw"
        }
    }

    fn is_int(&self) -> bool {
        !self.raw
            && !self.no_int
            && self.data.len() <= 20
            && rediscover::resp::parse_integer(&self.data).is_some()
    }

    /// Whether Redis would hold this value as a shared integer object (0..10000, `int`
    /// encoding), which OBJECT REFCOUNT reports as `i32::MAX`.
    pub fn is_shared_integer(&self) -> bool {
        !self.unshared
            && self.is_int()
            && matches!(rediscover::resp::parse_integer(&self.data), Some(0..=9999))
    }
}

/// A value of any type.
#[derive(Debug, Clone)]
pub enum Value {
    /// A string (also integers and floats, which Redis stores as strings).
    Str(Str),
    /// A list.
    List(List),
    /// A hash.
    Hash(Hash),
    /// A set.
    Set(Set),
    /// A sorted set.
    ZSet(ZSet),
    /// A stream.
    Stream(Box<Stream>),
}

impl Value {
    /// A string value.
    pub fn from_bytes(data: Bytes) -> Value {
        Value::Str(Str::new(data))
    }

    /// The name TYPE reports.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::List(_) => "list",
            Value::Hash(_) => "hash",
            Value::Set(_) => "set",
            Value::ZSet(_) => "zset",
            Value::Stream(_) => "stream",
        }
    }

    /// The encoding OBJECT ENCODING reports, as Redis 7.0 would choose it.
    pub fn encoding(&self) -> &'static str {
        match self {
            Value::Str(s) => s.encoding(),
            Value::List(_) => "quicklist",
            Value::Hash(h) => h.encoding(),
            Value::Set(s) => s.encoding(),
            Value::ZSet(z) => z.encoding(),
            Value::Stream(_) => "stream",
        }
    }
}
