//! The value stored under a key, and the encodings `OBJECT ENCODING` reports for it.

use bytes::Bytes;

use super::{Hash, List, Set, ZSet};

/// A string value. `raw` records that it was modified in place (APPEND, SETRANGE), which Redis
/// reports as the `raw` encoding whatever its length.
#[derive(Debug, Clone, PartialEq)]
pub struct Str {
    /// The bytes.
    pub data: Bytes,
    /// Forced `raw` encoding.
    pub raw: bool,
}

impl Str {
    /// A string stored as given (`int`/`embstr`/`raw` chosen by content, as `SET` does).
    pub fn new(data: Bytes) -> Str {
        Str { data, raw: false }
    }

    /// A string that was modified in place (APPEND, SETRANGE): always the `raw` encoding.
    pub fn modified(data: Bytes) -> Str {
        Str { data, raw: true }
    }

    /// Whether Redis would hold this value as a shared integer object (0..10000, `int`
    /// encoding), which OBJECT REFCOUNT reports as `i32::MAX`.
    pub fn is_shared_integer(&self) -> bool {
        !self.raw
            && self.data.len() <= 5
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
        }
    }

    /// The encoding OBJECT ENCODING reports, as Redis 7.0 would choose it.
    pub fn encoding(&self) -> &'static str {
        match self {
            Value::Str(s) => {
                if !s.raw
                    && s.data.len() <= 20
                    && rediscover::resp::parse_integer(&s.data).is_some()
                {
                    "int"
                } else if !s.raw && s.data.len() <= 44 {
                    "embstr"
                } else {
                    "raw"
                }
            }
            Value::List(_) => "quicklist",
            Value::Hash(h) => h.encoding(),
            Value::Set(s) => s.encoding(),
            Value::ZSet(z) => z.encoding(),
        }
    }
}
