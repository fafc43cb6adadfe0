//! C's `strtod` over a whole argument, for the commands that read doubles with it (sorted-set
//! scores and ranges, SORT's numeric values). Redis refuses different `ERANGE` cases in each
//! place, so this reports which one happened and leaves the rule to the caller.

/// Which `ERANGE` `strtod` would report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Erange {
    /// A finite literal too large for `f64`: the value is an infinity.
    Overflow,
    /// A non-zero literal below `f64`'s range: the value is zero.
    Zero,
    /// A non-zero literal whose value is subnormal.
    Subnormal,
}

/// What `strtod` made of a whole string.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Strtod {
    /// The value; an infinity or NaN when spelled so (`inf`, `infinity`, `nan`).
    pub value: f64,
    /// Set when C would set `errno = ERANGE`.
    pub erange: Option<Erange>,
}

/// Parses `s` as `strtod` does, requiring it to use the whole string: leading C white space,
/// an optional sign, then a decimal or hexadecimal (`0x`) number, `inf`, `infinity` or `nan`
/// (any case). `None` when nothing converts or anything is left over.
pub(crate) fn strtod(s: &[u8]) -> Option<Strtod> {
    let start = s
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r'))?;
    let (negative, body) = match s[start] {
        b'-' => (true, &s[start + 1..]),
        b'+' => (false, &s[start + 1..]),
        _ => (false, &s[start..]),
    };
    let signed = |v: f64| if negative { -v } else { v };
    let lower = body.to_ascii_lowercase();
    if lower == b"inf" || lower == b"infinity" || lower == b"nan" {
        let value = if lower == b"nan" {
            f64::NAN
        } else {
            f64::INFINITY
        };
        return Some(Strtod {
            value: signed(value),
            erange: None,
        });
    }
    let (value, nonzero) = match lower.strip_prefix(b"0x") {
        Some(hex) => parse_hex(hex)?,
        None => parse_decimal(&lower)?,
    };
    let erange = if value.is_infinite() {
        Some(Erange::Overflow)
    } else if nonzero && value == 0.0 {
        Some(Erange::Zero)
    } else if value.is_subnormal() {
        Some(Erange::Subnormal)
    } else {
        None
    };
    Some(Strtod {
        value: signed(value),
        erange,
    })
}

/// An unsigned decimal float (`1`, `1.5`, `.5`, `1.`, `1e-3`); returns the value and whether
/// its digits are not all zeros.
fn parse_decimal(s: &[u8]) -> Option<(f64, bool)> {
    let mantissa_end = s.iter().position(|&b| b == b'e').unwrap_or(s.len());
    let (mantissa, exponent) = s.split_at(mantissa_end);
    let digits = mantissa.iter().filter(|b| b.is_ascii_digit()).count();
    let dots = mantissa.iter().filter(|&&b| b == b'.').count();
    if digits == 0 || dots > 1 || digits + dots != mantissa.len() {
        return None;
    }
    if !exponent.is_empty() {
        parse_exponent(&exponent[1..])?;
    }
    let value: f64 = std::str::from_utf8(s).ok()?.parse().ok()?;
    let nonzero = mantissa.iter().any(|b| (b'1'..=b'9').contains(b));
    Some((value, nonzero))
}

/// The part of a hex float after `0x` (`1.8p1`, `ff`, `.8`); value and non-zero-ness. The
/// first 60-odd significant bits are kept exactly, later non-zero digits as a sticky bit, so
/// the conversion rounds once (as glibc does) for normal results.
fn parse_hex(s: &[u8]) -> Option<(f64, bool)> {
    let mantissa_end = s.iter().position(|&b| b == b'p').unwrap_or(s.len());
    let (mantissa, exponent) = s.split_at(mantissa_end);
    let (mut bits, mut exp, mut sticky) = (0u64, 0i64, false);
    let (mut digits, mut seen_dot) = (0usize, false);
    for &b in mantissa {
        if b == b'.' && !seen_dot {
            seen_dot = true;
            continue;
        }
        let d = u64::from((b as char).to_digit(16)?);
        digits += 1;
        if bits >> 60 == 0 {
            bits = bits << 4 | d;
            if seen_dot {
                exp -= 4;
            }
        } else {
            sticky |= d != 0;
            if !seen_dot {
                exp += 4;
            }
        }
    }
    if digits == 0 {
        return None;
    }
    if !exponent.is_empty() {
        exp = exp.saturating_add(parse_exponent(&exponent[1..])?);
    }
    if bits == 0 {
        return Some((0.0, false));
    }
    // 61+ significant bits when digits were dropped: the sticky bit sits below the rounding
    // bit, so the `u64` to `f64` conversion rounds as the exact value would.
    let m = (bits | u64::from(sticky)) as f64;
    // Two factors: one `powi` alone would underflow or overflow for exponents whose product
    // is still in range.
    let exp = exp.clamp(-5000, 5000) as i32;
    Some((m * 2f64.powi(exp / 2) * 2f64.powi(exp - exp / 2), true))
}

/// `[sign]digits` of an exponent, saturating (a huge exponent only means overflow/underflow).
fn parse_exponent(s: &[u8]) -> Option<i64> {
    let (negative, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = digits.iter().fold(0i64, |n, d| {
        n.saturating_mul(10).saturating_add(i64::from(d - b'0'))
    });
    Some(if negative { -n } else { n })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(s: &str) -> Option<(f64, Option<Erange>)> {
        strtod(s.as_bytes()).map(|p| (p.value, p.erange))
    }

    #[test]
    fn decimal_and_specials() {
        assert_eq!(value(" \t+1.5e1"), Some((15.0, None)));
        assert_eq!(value("-INF"), Some((f64::NEG_INFINITY, None)));
        assert!(value("nan").is_some_and(|(v, _)| v.is_nan()));
        assert_eq!(
            value("1e400"),
            Some((f64::INFINITY, Some(Erange::Overflow)))
        );
        assert_eq!(value("1e-400"), Some((0.0, Some(Erange::Zero))));
        assert_eq!(value("0e-400"), Some((0.0, None)));
        assert_eq!(value("4e-320").map(|v| v.1), Some(Some(Erange::Subnormal)));
        for bad in [
            "", "  ", "1 ", "e1", "1e", ".", "1.2.3", "infinit", "0x", "0x.", "0x1p",
        ] {
            assert_eq!(value(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn hex_like_glibc() {
        assert_eq!(value("0x10"), Some((16.0, None)));
        assert_eq!(value("0x1.8p1"), Some((3.0, None)));
        assert_eq!(value("0X.8"), Some((0.5, None)));
        assert_eq!(value("0x0p99999"), Some((0.0, None)));
        assert_eq!(value("0x1p+-1"), None);
        // Values recorded from Redis 7.0.15 (ZADD then ZSCORE, which prints `%.17g`).
        for (hex, printed) in [
            ("0x123456789abcdef0123p0", "5.3730036427316852e+21"),
            ("0x1p-1074", "4.9406564584124654e-324"),
            ("0x10000000000p-1100", "8.0947715414629834e-320"),
        ] {
            let v = value(hex).unwrap().0;
            assert_eq!(rediscover::resp::format_double(v), printed, "{hex}");
        }
        assert_eq!(value("0x1p-2000"), Some((0.0, Some(Erange::Zero))));
        assert_eq!(value("0x1p99999").unwrap().1, Some(Erange::Overflow));
        assert_eq!(
            value("0x1.fffffffffffff8p1023").unwrap().1,
            Some(Erange::Overflow)
        );
    }
}
