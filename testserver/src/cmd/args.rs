//! Argument parsing with Redis's error texts.

use std::time::{Duration, Instant};

use bytes::Bytes;
use rediscover::error_codes::msg;

use super::Error;

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
pub fn parse_timeout(arg: &[u8]) -> Result<Option<Instant>, Error> {
    let secs = match parse_f64_opt(arg) {
        Some(v) if v.is_finite() => v,
        _ => return Err(Error::from(msg::TIMEOUT_NOT_FLOAT)),
    };
    if secs < 0.0 {
        return Err(Error::from(msg::TIMEOUT_NEGATIVE));
    }
    if secs == 0.0 {
        return Ok(None);
    }
    let d = Duration::try_from_secs_f64(secs).map_err(|_| Error::from(msg::TIMEOUT_NOT_FLOAT))?;
    Ok(Instant::now().checked_add(d))
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
}
