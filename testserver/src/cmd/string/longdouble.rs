//! Just enough x87 80-bit `long double` arithmetic for INCRBYFLOAT to answer exactly as Redis on
//! x86-64 does: `strtold` both operands, add, print with `%.17Lf` and strip trailing zeros.
//!
//! A value is `mantissa * 2^exp` with a 64-bit mantissa, rounded to nearest-even like the FPU.
//! The conversions use exact big-integer arithmetic, so results match glibc digit for digit
//! (`0.1 + 0.2` is `0.3`, `100000 + 0.1` is `100000.10000000000000142`).

use std::cmp::Ordering;

/// The longest string Redis reads as a long double (`MAX_LONG_DOUBLE_CHARS`).
const MAX_CHARS: usize = 5 * 1024;
/// Binary exponent range of a normal x87 extended value, for a mantissa in `[2^63, 2^64)`.
const MAX_EXP: i64 = 16383 - 63;
const MIN_EXP: i64 = -16382 - 63 - 63;

/// An extended-precision value (never NaN).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum LongDouble {
    /// `±mantissa * 2^exp`; a zero mantissa is zero.
    Finite { neg: bool, mantissa: u64, exp: i64 },
    /// `±inf`.
    Inf { neg: bool },
}

/// An unsigned big integer, little-endian 32-bit limbs, no trailing zero limbs.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Big(Vec<u32>);

impl Big {
    fn from_u64(v: u64) -> Big {
        let mut b = Big(vec![v as u32, (v >> 32) as u32]);
        b.trim();
        b
    }

    fn trim(&mut self) {
        while self.0.last() == Some(&0) {
            self.0.pop();
        }
    }

    fn is_zero(&self) -> bool {
        self.0.is_empty()
    }

    fn bits(&self) -> i64 {
        match self.0.last() {
            None => 0,
            Some(&top) => (self.0.len() as i64 - 1) * 32 + (32 - i64::from(top.leading_zeros())),
        }
    }

    fn bit(&self, i: i64) -> bool {
        let (limb, off) = ((i / 32) as usize, i % 32);
        i >= 0 && self.0.get(limb).is_some_and(|l| l >> off & 1 == 1)
    }

    /// Whether any bit below `i` is set.
    fn any_below(&self, i: i64) -> bool {
        (0..i.min(self.bits())).any(|b| self.bit(b))
    }

    fn set_bit(&mut self, i: i64) {
        let limb = (i / 32) as usize;
        if self.0.len() <= limb {
            self.0.resize(limb + 1, 0);
        }
        self.0[limb] |= 1 << (i % 32);
    }

    fn mul_small(&mut self, m: u32, add: u32) {
        let mut carry = u64::from(add);
        for limb in &mut self.0 {
            let v = u64::from(*limb) * u64::from(m) + carry;
            *limb = v as u32;
            carry = v >> 32;
        }
        if carry > 0 {
            self.0.push(carry as u32);
        }
    }

    /// Divides in place by `d`, returning the remainder.
    fn div_small(&mut self, d: u32) -> u32 {
        let mut rem = 0u64;
        for limb in self.0.iter_mut().rev() {
            let v = (rem << 32) | u64::from(*limb);
            *limb = (v / u64::from(d)) as u32;
            rem = v % u64::from(d);
        }
        self.trim();
        rem as u32
    }

    fn pow10(n: u32) -> Big {
        let mut b = Big::from_u64(1);
        for _ in 0..n / 9 {
            b.mul_small(1_000_000_000, 0);
        }
        b.mul_small(10u32.pow(n % 9), 0);
        b
    }

    fn shl(&self, n: i64) -> Big {
        let (limbs, bits) = ((n / 32) as usize, (n % 32) as u32);
        let mut out = vec![0u32; limbs];
        let mut carry = 0u32;
        for &l in &self.0 {
            out.push(if bits == 0 { l } else { (l << bits) | carry });
            carry = if bits == 0 { 0 } else { l >> (32 - bits) };
        }
        out.push(carry);
        let mut b = Big(out);
        b.trim();
        b
    }

    /// The bits from `from` upwards (a right shift), as a u128 (the caller keeps it small).
    fn bits_from(&self, from: i64) -> u128 {
        let mut v = 0u128;
        for i in (from.max(0)..self.bits()).rev() {
            v = (v << 1) | u128::from(self.bit(i));
        }
        v
    }

    fn cmp(&self, other: &Big) -> Ordering {
        self.0
            .len()
            .cmp(&other.0.len())
            .then_with(|| self.0.iter().rev().cmp(other.0.iter().rev()))
    }

    /// `self - other`, for `self >= other`.
    fn sub(&self, other: &Big) -> Big {
        let mut out = Vec::with_capacity(self.0.len());
        let mut borrow = 0i64;
        for (i, &l) in self.0.iter().enumerate() {
            let mut v = i64::from(l) - borrow - i64::from(other.0.get(i).copied().unwrap_or(0));
            borrow = 0;
            if v < 0 {
                v += 1 << 32;
                borrow = 1;
            }
            out.push(v as u32);
        }
        let mut b = Big(out);
        b.trim();
        b
    }

    fn add(&self, other: &Big) -> Big {
        let mut out = Vec::with_capacity(self.0.len().max(other.0.len()) + 1);
        let mut carry = 0u64;
        for i in 0..self.0.len().max(other.0.len()) {
            let v = u64::from(self.0.get(i).copied().unwrap_or(0))
                + u64::from(other.0.get(i).copied().unwrap_or(0))
                + carry;
            out.push(v as u32);
            carry = v >> 32;
        }
        out.push(carry as u32);
        let mut b = Big(out);
        b.trim();
        b
    }

    fn to_decimal(&self) -> String {
        if self.is_zero() {
            return "0".into();
        }
        let mut n = self.clone();
        let mut chunks = Vec::new();
        while !n.is_zero() {
            chunks.push(n.div_small(1_000_000_000));
        }
        let mut s = chunks.pop().unwrap_or(0).to_string();
        for c in chunks.iter().rev() {
            s.push_str(&format!("{c:09}"));
        }
        s
    }
}

/// Rounds `n * 2^exp` (plus a nonzero fraction below bit 0 if `sticky`) to a 64-bit mantissa,
/// nearest-even.
fn round(neg: bool, n: &Big, exp: i64, sticky: bool) -> LongDouble {
    let bits = n.bits();
    if bits == 0 {
        return LongDouble::Finite {
            neg,
            mantissa: 0,
            exp: 0,
        };
    }
    let shift = bits - 64;
    let (mut mantissa, mut exp) = if shift <= 0 {
        (n.bits_from(0) << -shift, exp + shift)
    } else {
        let kept = n.bits_from(shift);
        let half = n.bit(shift - 1);
        let rest = sticky || n.any_below(shift - 1);
        let up = half && (rest || kept & 1 == 1);
        (kept + u128::from(up), exp + shift)
    };
    if mantissa >> 64 != 0 {
        mantissa >>= 1;
        exp += 1;
    }
    if exp > MAX_EXP {
        return LongDouble::Inf { neg };
    }
    LongDouble::Finite {
        neg,
        mantissa: mantissa as u64,
        exp,
    }
}

/// `strtold` as Redis's `getLongDoubleFromObject` uses it: the whole string must be a decimal
/// number or an infinity, with no surrounding spaces; NaN, overflow and underflow are refused.
pub(super) fn parse(s: &[u8]) -> Option<LongDouble> {
    if s.is_empty() || s.len() >= MAX_CHARS {
        return None;
    }
    let (neg, body) = match s[0] {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if body.eq_ignore_ascii_case(b"inf") || body.eq_ignore_ascii_case(b"infinity") {
        return Some(LongDouble::Inf { neg });
    }
    if body.len() > 2 && body[0] == b'0' && matches!(body[1], b'x' | b'X') {
        return parse_hex(neg, &body[2..]);
    }
    let mut digits = Big(Vec::new());
    let (mut ndigits, mut exp10, mut seen_digit, mut i) = (0i64, 0i64, false, 0);
    let mut int_part = true;
    while i < body.len() {
        match body[i] {
            d @ b'0'..=b'9' => {
                seen_digit = true;
                if !digits.is_zero() || d != b'0' {
                    digits.mul_small(10, u32::from(d - b'0'));
                    ndigits += 1;
                }
                if !int_part {
                    exp10 -= 1;
                }
            }
            b'.' if int_part => int_part = false,
            _ => break,
        }
        i += 1;
    }
    if !seen_digit {
        return None;
    }
    if i < body.len() {
        if !matches!(body[i], b'e' | b'E') {
            return None;
        }
        exp10 += parse_exponent(&body[i + 1..])?;
    }
    if digits.is_zero() {
        return Some(LongDouble::Finite {
            neg,
            mantissa: 0,
            exp: 0,
        });
    }
    // Decimal magnitude bounds of the extended range (about 1.19e4932 .. 3.6e-4951).
    let magnitude = exp10 + ndigits;
    if !(-4950..=4933).contains(&magnitude) {
        return None;
    }
    let value = if exp10 >= 0 {
        let mut n = digits;
        let p = Big::pow10(exp10 as u32);
        n = mul(&n, &p);
        round(neg, &n, 0, false)
    } else {
        let p = Big::pow10((-exp10) as u32);
        // Scale so the quotient has about 66 bits (enough to round), then divide bit by bit.
        // Bits shifted out of a long numerator only matter as a sticky bit.
        let shift = p.bits() - digits.bits() + 66;
        let (num, dropped) = if shift >= 0 {
            (digits.shl(shift), false)
        } else {
            (shr(&digits, -shift), digits.any_below(-shift))
        };
        let (q, rem_nonzero) = divide(&num, &p);
        round(neg, &q, -shift, rem_nonzero || dropped)
    };
    match value {
        LongDouble::Finite { exp, .. } if exp < MIN_EXP => None,
        LongDouble::Inf { .. } => None,
        v => Some(v),
    }
}

/// An exponent's digits (after `e` or `p`), saturated: anything this large overflows or
/// underflows anyway.
fn parse_exponent(e: &[u8]) -> Option<i64> {
    let (negative, ds) = match e.first() {
        Some(b'-') => (true, &e[1..]),
        Some(b'+') => (false, &e[1..]),
        _ => (false, e),
    };
    if ds.is_empty() || !ds.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let v = ds
        .iter()
        .fold(0i64, |acc, d| (acc * 10 + i64::from(d - b'0')).min(1 << 40));
    Some(if negative { -v } else { v })
}

/// A C99 hexadecimal float after its `0x`: hex digits, an optional point, an optional `p`
/// binary exponent.
fn parse_hex(neg: bool, body: &[u8]) -> Option<LongDouble> {
    let mut n = Big(Vec::new());
    let (mut exp2, mut seen, mut frac, mut i) = (0i64, false, false, 0);
    while i < body.len() {
        match body[i] {
            b'.' if !frac => frac = true,
            c if c.is_ascii_hexdigit() => {
                seen = true;
                let d = (c as char).to_digit(16).unwrap_or(0);
                if n.bits() < 16500 {
                    n.mul_small(16, d);
                    if frac {
                        exp2 -= 4;
                    }
                } else if !frac {
                    exp2 += 4;
                }
            }
            _ => break,
        }
        i += 1;
    }
    if !seen {
        return None;
    }
    if i < body.len() {
        if !matches!(body[i], b'p' | b'P') {
            return None;
        }
        exp2 += parse_exponent(&body[i + 1..])?;
    }
    if n.is_zero() {
        return Some(LongDouble::Finite {
            neg,
            mantissa: 0,
            exp: 0,
        });
    }
    match round(neg, &n, exp2, false) {
        LongDouble::Finite { exp, .. } if exp < MIN_EXP => None,
        LongDouble::Inf { .. } => None,
        v => Some(v),
    }
}

fn mul(a: &Big, b: &Big) -> Big {
    let mut out = vec![0u32; a.0.len() + b.0.len() + 1];
    for (i, &x) in a.0.iter().enumerate() {
        let mut carry = 0u64;
        for (j, &y) in b.0.iter().enumerate() {
            let v = u64::from(out[i + j]) + u64::from(x) * u64::from(y) + carry;
            out[i + j] = v as u32;
            carry = v >> 32;
        }
        let mut k = i + b.0.len();
        while carry > 0 {
            let v = u64::from(out[k]) + carry;
            out[k] = v as u32;
            carry = v >> 32;
            k += 1;
        }
    }
    let mut r = Big(out);
    r.trim();
    r
}

/// `num / den` by binary long division: (quotient, whether a remainder is left).
fn divide(num: &Big, den: &Big) -> (Big, bool) {
    let mut q = Big(Vec::new());
    let mut rem = num.clone();
    let top = num.bits() - den.bits();
    for bit in (0..=top.max(0)).rev() {
        let shifted = den.shl(bit);
        if rem.cmp(&shifted) != Ordering::Less {
            rem = rem.sub(&shifted);
            q.set_bit(bit);
        }
    }
    (q, !rem.is_zero())
}

impl LongDouble {
    /// Positive zero.
    pub(super) const ZERO: LongDouble = LongDouble::Finite {
        neg: false,
        mantissa: 0,
        exp: 0,
    };

    /// `self + other`, rounded once, as the FPU adds.
    pub(super) fn add(self, other: LongDouble) -> LongDouble {
        use LongDouble::{Finite, Inf};
        match (self, other) {
            (Inf { neg: a }, Inf { neg: b }) if a != b => Inf { neg: a }, // NaN: callers reject
            (Inf { neg }, _) | (_, Inf { neg }) => Inf { neg },
            (Finite { mantissa: 0, .. }, x) | (x, Finite { mantissa: 0, .. }) => x,
            (
                Finite {
                    neg: na,
                    mantissa: ma,
                    exp: ea,
                },
                Finite {
                    neg: nb,
                    mantissa: mb,
                    exp: eb,
                },
            ) => {
                let e0 = ea.min(eb);
                let a = Big::from_u64(ma).shl(ea - e0);
                let b = Big::from_u64(mb).shl(eb - e0);
                if na == nb {
                    return round(na, &a.add(&b), e0, false);
                }
                match a.cmp(&b) {
                    Ordering::Equal => Finite {
                        neg: false,
                        mantissa: 0,
                        exp: 0,
                    },
                    Ordering::Greater => round(na, &a.sub(&b), e0, false),
                    Ordering::Less => round(nb, &b.sub(&a), e0, false),
                }
            }
        }
    }

    /// Whether this is an infinity (also what a NaN sum reports as).
    pub(super) fn is_inf(self) -> bool {
        matches!(self, LongDouble::Inf { .. })
    }

    /// `%.17Lf` with trailing zeros (and a trailing point) removed, and `-0` printed as `0`:
    /// Redis's `ld2string(..., LD_STR_HUMAN)`.
    pub(super) fn to_human(self) -> String {
        let LongDouble::Finite { neg, mantissa, exp } = self else {
            return "inf".into();
        };
        // round(mantissa * 2^exp * 10^17), nearest-even.
        let mut n = Big::from_u64(mantissa);
        n = mul(&n, &Big::pow10(17));
        let scaled = if exp >= 0 {
            n.shl(exp)
        } else {
            let s = -exp;
            let kept = Big(n.0.clone());
            let q = shr(&kept, s);
            let half = n.bit(s - 1);
            let rest = n.any_below(s - 1);
            if half && (rest || q.bit(0)) {
                q.add(&Big::from_u64(1))
            } else {
                q
            }
        };
        let digits = format!("{:0>18}", scaled.to_decimal());
        let (int, frac) = digits.split_at(digits.len() - 17);
        let frac = frac.trim_end_matches('0');
        let mut s = String::new();
        if neg {
            s.push('-');
        }
        s.push_str(int);
        if !frac.is_empty() {
            s.push('.');
            s.push_str(frac);
        }
        if s == "-0" {
            s = "0".into();
        }
        s
    }
}

fn shr(n: &Big, s: i64) -> Big {
    let (limbs, bits) = ((s / 32) as usize, (s % 32) as u32);
    if limbs >= n.0.len() {
        return Big(Vec::new());
    }
    let src = &n.0[limbs..];
    let mut out = Vec::with_capacity(src.len());
    for (i, &l) in src.iter().enumerate() {
        let hi = src.get(i + 1).copied().unwrap_or(0);
        out.push(if bits == 0 {
            l
        } else {
            (l >> bits) | (hi << (32 - bits))
        });
    }
    let mut b = Big(out);
    b.trim();
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    fn incr(a: &str, b: &str) -> String {
        parse(a.as_bytes())
            .unwrap()
            .add(parse(b.as_bytes()).unwrap())
            .to_human()
    }

    #[test]
    fn matches_redis_on_x86_64() {
        assert_eq!(incr("10.5", "0.1"), "10.6");
        assert_eq!(incr("0.1", "0.2"), "0.3");
        assert_eq!(incr("100000", "0.1"), "100000.10000000000000142");
        assert_eq!(incr("1e-20", "0"), "0");
        assert_eq!(incr("3.0", "1.5e10"), "15000000003");
        assert_eq!(
            incr("15000000003", "1.23456789012345678"),
            "15000000004.23456788994371891"
        );
        assert_eq!(incr("1e30", "1"), "1000000000000000000024696061952");
        assert_eq!(incr("5", "-5"), "0");
        assert_eq!(incr("0", "-0.0000001"), "-0.0000001");
        assert_eq!(incr("5.0e3", "0"), "5000");
        assert_eq!(incr(".5", "300"), "300.5");
        assert_eq!(incr("0x10", "0x1.8p3"), "28");
        let long = format!("{}.5", "1".repeat(4000));
        assert_eq!(incr(&long, "0").len(), 4000);
    }

    #[test]
    fn parses_like_strtold() {
        for bad in [
            "", " 1", "1 ", "abc", "1e", "e5", ".", "nan", "1x", "0x", "0xg", "1e5000", "1e-5000",
            "--1",
        ] {
            assert!(parse(bad.as_bytes()).is_none(), "{bad:?}");
        }
        for good in [
            "1",
            "-1",
            "+1.5",
            "1.",
            ".5",
            "1E3",
            "1e+3",
            "1e-3",
            "inf",
            "-Infinity",
            "0e-99999",
        ] {
            assert!(parse(good.as_bytes()).is_some(), "{good:?}");
        }
    }
}
