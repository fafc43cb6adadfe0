//! Converting replies ([`Frame`]s) into Rust types.
//!
//! Conversions accept both protocol versions: a RESP3 map or a RESP2 flat array of pairs both
//! become a `HashMap`, a RESP3 double or a RESP2 bulk string both become an `f64`, and so on.
//! An error frame met anywhere in a reply becomes [`Error::Server`].

use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{BuildHasher, Hash};

use bytes::Bytes;

use crate::error::{Error, Result, ServerError};
use crate::resp::Frame;

/// A type a reply can be converted into.
///
/// ```
/// use rediscover::resp::Frame;
/// use rediscover::FromReply;
///
/// let reply = Frame::Array(vec![Frame::bulk("a"), Frame::Null, Frame::Integer(3)]);
/// let v: (String, Option<String>, i64) = FromReply::from_reply(reply).unwrap();
/// assert_eq!(v, ("a".to_string(), None, 3));
/// ```
pub trait FromReply: Sized {
    /// Converts `frame`, failing with [`Error::Server`] for an error frame and
    /// [`Error::Response`] for a frame of the wrong shape.
    fn from_reply(frame: Frame) -> Result<Self>;
}

impl Frame {
    /// Converts this reply into `T` (see [`FromReply`]): the one conversion from a frame to a
    /// Rust value, the same that typed commands, pipelines and transactions use.
    ///
    /// ```
    /// use rediscover::resp::Frame;
    /// let n: i64 = Frame::bulk("42").convert().unwrap();
    /// assert_eq!(n, 42);
    /// let pair = Frame::Array(vec![Frame::bulk("a"), Frame::Null]);
    /// assert_eq!(pair.convert::<(String, Option<String>)>().unwrap(), ("a".into(), None));
    /// ```
    pub fn convert<T: FromReply>(self) -> Result<T> {
        T::from_reply(self)
    }
}

/// The error for a frame that cannot become `what`: a server error stays one.
pub(crate) fn mismatch(frame: Frame, what: &str) -> Error {
    match frame {
        Frame::Error(line) | Frame::BulkError(line) => Error::Server(ServerError::new(line)),
        other => Error::response(format!("expected {what}, got {}", describe(&other))),
    }
}

fn describe(frame: &Frame) -> &'static str {
    match frame {
        Frame::Simple(_) => "a status",
        Frame::Error(_) | Frame::BulkError(_) => "an error",
        Frame::Integer(_) => "an integer",
        Frame::Bulk(_) => "a bulk string",
        Frame::Null => "nil",
        Frame::Array(_) => "an array",
        Frame::Map(_) => "a map",
        Frame::Set(_) => "a set",
        Frame::Push(_) => "a push",
        Frame::Double(_) => "a double",
        Frame::Boolean(_) => "a boolean",
        Frame::BigNumber(_) => "a big number",
        Frame::Verbatim { .. } => "a verbatim string",
        Frame::Attribute { .. } => "an attribute",
    }
}

/// Strips RESP3 attributes, which describe a reply without being it.
fn unwrap_attr(frame: Frame) -> Frame {
    match frame {
        Frame::Attribute { data, .. } => unwrap_attr(*data),
        other => other,
    }
}

impl FromReply for Frame {
    fn from_reply(frame: Frame) -> Result<Self> {
        match frame {
            Frame::Error(line) | Frame::BulkError(line) => {
                Err(Error::Server(ServerError::new(line)))
            }
            other => Ok(other),
        }
    }
}

impl FromReply for () {
    fn from_reply(frame: Frame) -> Result<Self> {
        match unwrap_attr(frame) {
            f if f.is_error() => Err(mismatch(f, "()")),
            _ => Ok(()),
        }
    }
}

impl FromReply for Bytes {
    fn from_reply(frame: Frame) -> Result<Self> {
        match unwrap_attr(frame) {
            Frame::Bulk(b) | Frame::Simple(b) | Frame::BigNumber(b) => Ok(b),
            Frame::Verbatim { text, .. } => Ok(text),
            Frame::Integer(i) => Ok(Bytes::from(i.to_string())),
            Frame::Double(d) => Ok(Bytes::from(crate::resp::format_double(d))),
            other => Err(mismatch(other, "a string")),
        }
    }
}

impl FromReply for Vec<u8> {
    fn from_reply(frame: Frame) -> Result<Self> {
        Bytes::from_reply(frame).map(Vec::from)
    }
}

impl FromReply for String {
    fn from_reply(frame: Frame) -> Result<Self> {
        let bytes = Bytes::from_reply(frame)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| Error::response("reply is not valid UTF-8"))
    }
}

macro_rules! int_impl {
    ($($t:ty),*) => {$(
        impl FromReply for $t {
            fn from_reply(frame: Frame) -> Result<Self> {
                let frame = unwrap_attr(frame);
                let n = match &frame {
                    Frame::Integer(i) => Some(*i),
                    Frame::Boolean(b) => Some(i64::from(*b)),
                    Frame::Bulk(b) | Frame::Simple(b) | Frame::BigNumber(b) => {
                        crate::resp::parse_integer(b)
                    }
                    _ => None,
                };
                n.and_then(|n| <$t>::try_from(n).ok())
                    .ok_or_else(|| mismatch(frame, stringify!($t)))
            }
        }
    )*};
}
int_impl!(i64, i32, u32, u64, usize, isize, u16, i16);

impl FromReply for bool {
    fn from_reply(frame: Frame) -> Result<Self> {
        match unwrap_attr(frame) {
            Frame::Boolean(b) => Ok(b),
            Frame::Integer(i) => Ok(i != 0),
            Frame::Simple(s) if &s[..] == b"OK" => Ok(true),
            Frame::Null => Ok(false),
            Frame::Bulk(b) if &b[..] == b"1" || &b[..] == b"0" => Ok(&b[..] == b"1"),
            other => Err(mismatch(other, "a boolean")),
        }
    }
}

impl FromReply for f64 {
    fn from_reply(frame: Frame) -> Result<Self> {
        let frame = unwrap_attr(frame);
        let parsed = match &frame {
            Frame::Double(d) => Some(*d),
            Frame::Integer(i) => Some(*i as f64),
            Frame::Bulk(b) | Frame::Simple(b) => std::str::from_utf8(b).ok().and_then(parse_f64),
            _ => None,
        };
        parsed.ok_or_else(|| mismatch(frame, "a double"))
    }
}

fn parse_f64(s: &str) -> Option<f64> {
    match s {
        "inf" | "+inf" => Some(f64::INFINITY),
        "-inf" => Some(f64::NEG_INFINITY),
        _ => s.parse().ok(),
    }
}

impl<T: FromReply> FromReply for Option<T> {
    fn from_reply(frame: Frame) -> Result<Self> {
        match unwrap_attr(frame) {
            Frame::Null => Ok(None),
            other => T::from_reply(other).map(Some),
        }
    }
}

/// A reply kept as a result: an error reply (or a reply `T` cannot hold) becomes an `Err` in
/// its place rather than failing the whole conversion. `Vec<Result<T>>` is the shape of
/// per-command results for pipelines and transactions, and tuples may mix both:
///
/// ```
/// use rediscover::resp::Frame;
/// use rediscover::{ErrorCode, Result};
///
/// let replies = Frame::Array(vec![Frame::Integer(1), Frame::Error("WRONGTYPE no".into())]);
/// let (n, failed): (i64, Result<i64>) = replies.convert().unwrap();
/// assert_eq!(n, 1);
/// assert_eq!(failed.unwrap_err().code(), Some(ErrorCode::WrongType));
/// ```
impl<T: FromReply> FromReply for Result<T> {
    fn from_reply(frame: Frame) -> Result<Self> {
        Ok(T::from_reply(frame))
    }
}

/// The elements of an aggregate: arrays, sets and pushes as they are, maps flattened to
/// `k1, v1, k2, v2, ...` (the RESP2 shape). Nil is the empty list (RESP2's `*-1`).
fn elements(frame: Frame, what: &str) -> Result<Vec<Frame>> {
    match unwrap_attr(frame) {
        Frame::Array(v) | Frame::Set(v) | Frame::Push(v) => Ok(v),
        Frame::Map(pairs) => Ok(pairs.into_iter().flat_map(|(k, v)| [k, v]).collect()),
        Frame::Null => Ok(Vec::new()),
        other => Err(mismatch(other, what)),
    }
}

/// Key/value pairs of a RESP3 map or a RESP2 flat array.
fn pairs(frame: Frame) -> Result<Vec<(Frame, Frame)>> {
    match unwrap_attr(frame) {
        Frame::Map(pairs) => Ok(pairs),
        other => {
            let items = elements(other, "a map")?;
            if items.len() % 2 != 0 {
                return Err(Error::response("map reply with an odd number of elements"));
            }
            let mut it = items.into_iter();
            let mut out = Vec::with_capacity(it.len() / 2);
            while let (Some(k), Some(v)) = (it.next(), it.next()) {
                out.push((k, v));
            }
            Ok(out)
        }
    }
}

impl<T: FromReply> FromReply for Vec<T> {
    fn from_reply(frame: Frame) -> Result<Self> {
        elements(frame, "an array")?
            .into_iter()
            .map(T::from_reply)
            .collect()
    }
}

impl<T: FromReply + Eq + Hash, S: BuildHasher + Default> FromReply for HashSet<T, S> {
    fn from_reply(frame: Frame) -> Result<Self> {
        elements(frame, "a set")?
            .into_iter()
            .map(T::from_reply)
            .collect()
    }
}

impl<K: FromReply + Eq + Hash, V: FromReply, S: BuildHasher + Default> FromReply
    for HashMap<K, V, S>
{
    fn from_reply(frame: Frame) -> Result<Self> {
        pairs(frame)?
            .into_iter()
            .map(|(k, v)| Ok((K::from_reply(k)?, V::from_reply(v)?)))
            .collect()
    }
}

impl<K: FromReply + Ord, V: FromReply> FromReply for BTreeMap<K, V> {
    fn from_reply(frame: Frame) -> Result<Self> {
        pairs(frame)?
            .into_iter()
            .map(|(k, v)| Ok((K::from_reply(k)?, V::from_reply(v)?)))
            .collect()
    }
}

macro_rules! tuple_impl {
    ($n:literal; $($t:ident),+) => {
        impl<$($t: FromReply),+> FromReply for ($($t,)+) {
            fn from_reply(frame: Frame) -> Result<Self> {
                let items = elements(frame, concat!("an array of ", $n))?;
                if items.len() != $n {
                    return Err(Error::response(format!(
                        "expected {} elements, got {}", $n, items.len()
                    )));
                }
                let mut it = items.into_iter();
                Ok(($($t::from_reply(it.next().unwrap_or(Frame::Null))?,)+))
            }
        }
    };
}
tuple_impl!(1; A);
tuple_impl!(2; A, B);
tuple_impl!(3; A, B, C);
tuple_impl!(4; A, B, C, D);
tuple_impl!(5; A, B, C, D, E);
tuple_impl!(6; A, B, C, D, E, F);

/// Converts a flat list of pairs (`HGETALL`, `ZRANGE ... WITHSCORES` in RESP2, or RESP3 arrays
/// of 2-element arrays) into a vector of tuples.
pub(crate) fn pair_list<K: FromReply, V: FromReply>(frame: Frame) -> Result<Vec<(K, V)>> {
    let items = elements(frame, "a list of pairs")?;
    if items
        .iter()
        .all(|f| matches!(f, Frame::Array(v) if v.len() == 2))
        && !items.is_empty()
    {
        return items.into_iter().map(<(K, V)>::from_reply).collect();
    }
    pairs(Frame::Array(items))?
        .into_iter()
        .map(|(k, v)| Ok((K::from_reply(k)?, V::from_reply(v)?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error_codes::ErrorCode;

    #[test]
    fn scalars() {
        assert_eq!(i64::from_reply(Frame::Integer(5)).unwrap(), 5);
        assert_eq!(i64::from_reply(Frame::bulk("-7")).unwrap(), -7);
        assert!(
            i64::from_reply(Frame::bulk("x")).unwrap_err().kind() == crate::ErrorKind::Response
        );
        assert_eq!(f64::from_reply(Frame::bulk("1.5")).unwrap(), 1.5);
        assert_eq!(f64::from_reply(Frame::Double(2.5)).unwrap(), 2.5);
        assert_eq!(
            f64::from_reply(Frame::bulk("-inf")).unwrap(),
            f64::NEG_INFINITY
        );
        assert!(bool::from_reply(Frame::Integer(1)).unwrap());
        assert!(!bool::from_reply(Frame::Boolean(false)).unwrap());
        assert_eq!(String::from_reply(Frame::simple("OK")).unwrap(), "OK");
        assert_eq!(Option::<String>::from_reply(Frame::Null).unwrap(), None);
        assert_eq!(Vec::<u8>::from_reply(Frame::bulk("ab")).unwrap(), b"ab");
        <()>::from_reply(Frame::simple("OK")).unwrap();
    }

    #[test]
    fn errors_stay_server_errors() {
        let e = String::from_reply(Frame::Error(Bytes::from_static(b"WRONGTYPE x"))).unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::WrongType));
        let nested = Frame::Array(vec![
            Frame::Integer(1),
            Frame::Error(Bytes::from_static(b"ERR y")),
        ]);
        assert_eq!(
            Vec::<i64>::from_reply(nested).unwrap_err().code(),
            Some(ErrorCode::Err)
        );
    }

    #[test]
    fn maps_from_both_protocols() {
        let resp2 = Frame::Array(vec![
            Frame::bulk("a"),
            Frame::bulk("1"),
            Frame::bulk("b"),
            Frame::bulk("2"),
        ]);
        let resp3 = Frame::Map(vec![
            (Frame::bulk("a"), Frame::bulk("1")),
            (Frame::bulk("b"), Frame::bulk("2")),
        ]);
        let want: HashMap<String, i64> = [("a".into(), 1), ("b".into(), 2)].into();
        assert_eq!(
            HashMap::<String, i64>::from_reply(resp2.clone()).unwrap(),
            want
        );
        assert_eq!(HashMap::<String, i64>::from_reply(resp3).unwrap(), want);
        let pl: Vec<(String, f64)> = pair_list(resp2).unwrap();
        assert_eq!(pl, vec![("a".into(), 1.0), ("b".into(), 2.0)]);
        let nested = Frame::Array(vec![Frame::Array(vec![
            Frame::bulk("m"),
            Frame::Double(1.5),
        ])]);
        let pl: Vec<(String, f64)> = pair_list(nested).unwrap();
        assert_eq!(pl, vec![("m".into(), 1.5)]);
        let odd = Frame::Array(vec![Frame::bulk("a")]);
        assert!(HashMap::<String, String>::from_reply(odd).is_err());
    }

    #[test]
    fn tuples_and_sets() {
        let f = Frame::Array(vec![Frame::bulk("x"), Frame::Integer(2)]);
        let (a, b): (String, i64) = FromReply::from_reply(f).unwrap();
        assert_eq!((a.as_str(), b), ("x", 2));
        let s = Frame::Set(vec![Frame::bulk("a"), Frame::bulk("b")]);
        assert_eq!(HashSet::<String>::from_reply(s).unwrap().len(), 2);
        assert!(<(i64, i64)>::from_reply(Frame::Array(vec![Frame::Integer(1)])).is_err());
    }
}
