//! Argument parsing with Redis's error texts.

use std::time::{Duration, Instant};

use bytes::Bytes;
use rediscover::error_codes::msg;

use super::{longdouble, Error};

/// Case-insensitive comparison of an argument with an ASCII keyword.
#[inline]
pub fn eq_ic(arg: &[u8], keyword: &str) -> bool {
    arg.eq_ignore_ascii_case(keyword.as_bytes())
}

/// An integer argument (`ERR value is not an integer or out of range`).
pub fn parse_i64(arg: &[u8]) -> Result<i64, Error> {
    rediscover::resp::parse_integer(arg).ok_or(Error::from(msg::NOT_INTEGER))
}

/// A non-negative integer argument that fits `usize`.
pub fn parse_usize(arg: &[u8]) -> Result<usize, Error> {
    match parse_i64(arg)? {
        n if n >= 0 => Ok(n as usize),
        _ => Err(Error::from(msg::NOT_INTEGER)),
    }
}

/// A float argument as Redis's `getDoubleFromObject` reads it: `strtod` syntax (including
/// `inf`, `-inf`, `+inf`), no surrounding spaces, never NaN (`ERR value is not a valid float`).
pub fn parse_f64(arg: &[u8]) -> Result<f64, Error> {
    parse_f64_opt(arg).ok_or(Error::from(msg::NOT_FLOAT))
}

/// [`parse_f64`] without the error.
pub fn parse_f64_opt(arg: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(arg).ok()?;
    if s.is_empty() || s.starts_with(char::is_whitespace) || s.ends_with(char::is_whitespace) {
        return None;
    }
    let lower = s.to_ascii_lowercase();
    let v = match lower.trim_start_matches(['+', '-']) {
        "inf" | "infinity" => {
            if lower.starts_with('-') {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            }
        }
        t if t.contains("nan") || t.contains("inf") => return None,
        _ => s.parse::<f64>().ok()?,
    };
    if v.is_nan() {
        None
    } else {
        Some(v)
    }
}

/// A blocking command's timeout in seconds (fractions allowed): `None` means wait forever.
///
/// As Redis 7.0's `getTimeoutFromObjectOrReply`: the argument is read with `strtold` (so hex
/// such as `0x10` and values beyond `f64`'s range are numbers), milliseconds are
/// `ceil(secs * 1000)` converted to a `long long`, so a tiny negative value means "forever" and
/// anything past the `long long` range (infinities included) becomes negative.
pub fn parse_timeout(arg: &[u8]) -> Result<Option<Instant>, Error> {
    let secs = longdouble::parse(arg).ok_or(Error::from(msg::TIMEOUT_NOT_FLOAT))?;
    let mut ms = (secs.to_f64() * 1000.0).ceil();
    if ms == 0.0 && secs.is_positive() {
        // Below f64's range (`1e-400`) but not zero for Redis's long double: one millisecond.
        ms = 1.0;
    }
    if !(0.0..9.223_372_036_854_776e18).contains(&ms) {
        return Err(Error::from(msg::TIMEOUT_NEGATIVE));
    }
    if ms == 0.0 {
        return Ok(None);
    }
    Ok(Instant::now().checked_add(Duration::from_millis(ms as u64)))
}

/// The arguments of LMPOP/ZMPOP (and BLMPOP/BZMPOP) from `numkeys` on:
/// `numkeys key... WHERE [COUNT count]`, checked in Redis's order. `parse_where` reads the
/// WHERE word (`LEFT|RIGHT`, `MIN|MAX`; `None` is a syntax error). Returns the keys, the WHERE
/// value and the count (1 by default).
pub(crate) fn parse_mpop<W>(
    args: &[Bytes],
    parse_where: impl Fn(&[u8]) -> Option<W>,
) -> Result<(&[Bytes], W, usize), Error> {
    let numkeys = match parse_i64(&args[0]) {
        Ok(n) if n > 0 => n as u64,
        _ => return Err("ERR numkeys should be greater than 0".into()),
    };
    let where_idx = numkeys.saturating_add(1);
    if where_idx >= args.len() as u64 {
        return Err(msg::SYNTAX.into());
    }
    let where_idx = where_idx as usize;
    let side = parse_where(&args[where_idx]).ok_or(Error::from(msg::SYNTAX))?;
    let mut count = None;
    let mut i = where_idx + 1;
    while i < args.len() {
        if count.is_none() && eq_ic(&args[i], "count") && i + 1 < args.len() {
            match parse_i64(&args[i + 1]) {
                Ok(n) if n > 0 => count = Some(n as usize),
                _ => return Err("ERR count should be greater than 0".into()),
            }
            i += 2;
        } else {
            return Err(msg::SYNTAX.into());
        }
    }
    Ok((&args[1..where_idx], side, count.unwrap_or(1)))
}

/// Copies an argument for storage, so a stored key or value does not keep the whole read
/// buffer it was sliced from alive.
#[inline]
pub fn owned(arg: &Bytes) -> Bytes {
    Bytes::copy_from_slice(arg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_like_strtod() {
        assert_eq!(parse_f64_opt(b"1.5"), Some(1.5));
        assert_eq!(parse_f64_opt(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_f64_opt(b"+inf"), Some(f64::INFINITY));
        assert_eq!(parse_f64_opt(b"1e3"), Some(1000.0));
        assert_eq!(parse_f64_opt(b".5"), Some(0.5));
        assert_eq!(parse_f64_opt(b"nan"), None);
        assert_eq!(parse_f64_opt(b" 1"), None);
        assert_eq!(parse_f64_opt(b"1x"), None);
        assert_eq!(parse_f64_opt(b""), None);
    }

    #[test]
    fn timeouts_like_redis() {
        let negative = Err(Error::from(msg::TIMEOUT_NEGATIVE));
        assert_eq!(parse_timeout(b"0"), Ok(None));
        assert_eq!(parse_timeout(b"-0.0001"), Ok(None));
        assert_eq!(parse_timeout(b"-1"), negative);
        assert_eq!(parse_timeout(b"1e16"), negative);
        assert_eq!(parse_timeout(b"inf"), negative);
        assert_eq!(parse_timeout(b"-inf"), negative);
        assert!(parse_timeout(b"nan").is_err());
        assert!(parse_timeout(b"0.0001").unwrap().is_some());
        assert!(parse_timeout(b"1e-400").unwrap().is_some());
        assert!(parse_timeout(b"9e15").is_ok());
        // strtold syntax: hex, and long double's wider range.
        assert!(parse_timeout(b"0x10").unwrap().is_some());
        assert!(parse_timeout(b"0X1P-6").unwrap().is_some());
        assert_eq!(parse_timeout(b"-0x1"), negative);
        assert_eq!(parse_timeout(b"1e400"), negative);
        assert_eq!(parse_timeout(b"-1e-400"), Ok(None));
        assert!(parse_timeout(b"0x1p-16400").unwrap().is_some());
        let not_float = Err(Error::from(msg::TIMEOUT_NOT_FLOAT));
        assert_eq!(parse_timeout(b"0x"), not_float);
        assert_eq!(parse_timeout(b"1e5000"), not_float);
        assert_eq!(parse_timeout(b"-0x1p-16500"), not_float);
        assert_eq!(parse_timeout(b" 1"), not_float);
    }
}
