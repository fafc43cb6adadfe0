//! BITFIELD and BITFIELD_RO: integers of 1 to 64 bits (unsigned up to 63) at any bit offset,
//! with Redis 7.0's overflow arithmetic ported as is (including its quirks, such as
//! `SET u8 -1` saturating to 255).

use bytes::Bytes;
use rediscover::error_codes::msg;
use rediscover::resp::ReplyWriter;

use super::{bit_offset, edit_bits, eq_ic, parse_i64, CmdResult, Ctx, Error};
use crate::cmd::lookup::read_typed;
use crate::keyspace::Str;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Overflow {
    Wrap,
    Sat,
    Fail,
}

#[derive(Clone, Copy)]
enum Kind {
    Get,
    Set(i64),
    IncrBy(i64),
}

/// One GET/SET/INCRBY, with the OVERFLOW mode in force where it appeared.
#[derive(Clone, Copy)]
struct FieldOp {
    kind: Kind,
    offset: u64,
    bits: u32,
    signed: bool,
    overflow: Overflow,
}

pub(super) fn bitfield(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    run(ctx, argv, false)
}

pub(super) fn bitfield_ro(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    run(ctx, argv, true)
}

/// A bitfield type: `i1`..`i64` or `u1`..`u63`. As Redis reads the width with `strlen`, it
/// stops at a NUL byte.
fn field_type(arg: &[u8]) -> Result<(bool, u32), Error> {
    const BAD_TYPE: &str = "ERR Invalid bitfield type. Use something like i16 u8. \
                            Note that u64 is not supported but i64 is.";
    let signed = match arg.first() {
        Some(b'i') => true,
        Some(b'u') => false,
        _ => return Err(BAD_TYPE.into()),
    };
    let digits = &arg[1..];
    let digits = &digits[..digits.iter().position(|&b| b == 0).unwrap_or(digits.len())];
    match rediscover::resp::parse_integer(digits) {
        Some(n @ 1..=64) if signed || n < 64 => Ok((signed, n as u32)),
        _ => Err(BAD_TYPE.into()),
    }
}

/// Parses every subcommand first, as Redis does, so an error anywhere runs nothing.
fn parse_ops(ctx: &Ctx<'_>, argv: &[Bytes]) -> Result<Vec<FieldOp>, Error> {
    let mut ops = Vec::new();
    let mut overflow = Overflow::Wrap;
    let mut j = 2;
    while j < argv.len() {
        let rest = argv.len() - j - 1;
        let sub = &argv[j][..];
        let (get, needs) = if eq_ic(sub, "get") {
            (true, 2)
        } else if eq_ic(sub, "set") || eq_ic(sub, "incrby") {
            (false, 3)
        } else if eq_ic(sub, "overflow") && rest >= 1 {
            let mode = &argv[j + 1][..];
            overflow = if eq_ic(mode, "wrap") {
                Overflow::Wrap
            } else if eq_ic(mode, "sat") {
                Overflow::Sat
            } else if eq_ic(mode, "fail") {
                Overflow::Fail
            } else {
                return Err("ERR Invalid OVERFLOW type specified".into());
            };
            j += 2;
            continue;
        } else {
            return Err(msg::SYNTAX.into());
        };
        if rest < needs {
            return Err(msg::SYNTAX.into());
        }
        let (signed, bits) = field_type(&argv[j + 1])?;
        let offset = bit_offset(ctx, &argv[j + 2], Some(bits))?;
        let kind = if get {
            Kind::Get
        } else {
            let v = parse_i64(&argv[j + 3])?;
            if eq_ic(sub, "set") {
                Kind::Set(v)
            } else {
                Kind::IncrBy(v)
            }
        };
        ops.push(FieldOp {
            kind,
            offset,
            bits,
            signed,
            overflow,
        });
        j += 1 + needs;
    }
    Ok(ops)
}

fn run(ctx: &mut Ctx<'_>, argv: &[Bytes], read_only: bool) -> CmdResult {
    let key = &argv[1];
    let ops = parse_ops(ctx, argv)?;
    let highest = ops
        .iter()
        .filter(|op| !matches!(op.kind, Kind::Get))
        .map(|op| op.offset + u64::from(op.bits) - 1)
        .max();
    let Some(highest) = highest else {
        // Only GETs: a read lookup, and a missing key reads as zeros.
        let (s, out) = read_typed::<Str>(ctx, key)?;
        let data = s.map_or(&[][..], |s| &s.data[..]);
        out.array(ops.len());
        for op in &ops {
            write_get(out, data, op);
        }
        return Ok(());
    };
    if read_only {
        return Err("ERR BITFIELD_RO only supports the GET subcommand".into());
    }
    let now = ctx.now;
    let (db, out) = ctx.parts();
    let changes = edit_bits(db, key, now, highest, |data, grown| {
        out.array(ops.len());
        let mut changes = 0;
        for op in &ops {
            changes += apply(out, data, op, grown);
        }
        changes
    })?;
    if changes > 0 {
        ctx.modified(key);
        ctx.notify(crate::notify::class::STRING, "setbit", key);
        ctx.dirty(changes - 1);
    }
    Ok(())
}

fn write_get(out: &mut ReplyWriter, data: &[u8], op: &FieldOp) {
    let raw = get_bits(data, op.offset, op.bits);
    out.int(if op.signed {
        sign_extend(raw, op.bits)
    } else {
        raw as i64
    });
}

/// Runs one op on a string long enough for it, writing its reply; returns 1 if it counts as
/// a change (a write of a different value, or any write to a created or grown string).
fn apply(out: &mut ReplyWriter, data: &mut [u8], op: &FieldOp, grown: bool) -> u64 {
    let (incr, is_set) = match op.kind {
        Kind::Get => {
            write_get(out, data, op);
            return 0;
        }
        Kind::Set(v) => (v, true),
        Kind::IncrBy(v) => (v, false),
    };
    let raw = get_bits(data, op.offset, op.bits);
    // Values travel as u64 bit patterns; signed ones are sign-extended.
    let (old, checked) = if op.signed {
        let old = sign_extend(raw, op.bits);
        let checked = if is_set {
            signed_overflow(incr, 0, op.bits, op.overflow).map(|o| o.map(|v| v as u64))
        } else {
            signed_overflow(old, incr, op.bits, op.overflow).map(|o| o.map(|v| v as u64))
        };
        (old as u64, checked)
    } else {
        let checked = if is_set {
            unsigned_overflow(incr as u64, 0, op.bits, op.overflow)
        } else {
            unsigned_overflow(raw, incr, op.bits, op.overflow)
        };
        (raw, checked)
    };
    let new = match checked {
        Some(None) => {
            // OVERFLOW FAIL: nothing written, a null reply.
            out.null();
            return 0;
        }
        Some(Some(limited)) => limited,
        None if is_set => incr as u64,
        None => old.wrapping_add(incr as u64),
    };
    out.int((if is_set { old } else { new }) as i64);
    set_bits(data, op.offset, op.bits, new);
    u64::from(grown || mask(new, op.bits) != mask(old, op.bits))
}

/// `v` truncated to its low `bits` bits.
fn mask(v: u64, bits: u32) -> u64 {
    if bits >= 64 {
        v
    } else {
        v & ((1u64 << bits) - 1)
    }
}

/// The `bits`-bit unsigned integer at bit `offset`, most significant bit first; bits past
/// the end of `data` read as zero.
fn get_bits(data: &[u8], offset: u64, bits: u32) -> u64 {
    (offset..offset + u64::from(bits)).fold(0, |v, pos| {
        let byte = data.get((pos >> 3) as usize).copied().unwrap_or(0);
        (v << 1) | u64::from(byte & super::bit_mask(pos) != 0)
    })
}

/// Stores the low `bits` bits of `value` at bit `offset` (inside `data`).
fn set_bits(data: &mut [u8], offset: u64, bits: u32, value: u64) {
    for j in 0..u64::from(bits) {
        let pos = offset + j;
        let m = super::bit_mask(pos);
        let byte = &mut data[(pos >> 3) as usize];
        if (value >> (u64::from(bits) - 1 - j)) & 1 == 1 {
            *byte |= m;
        } else {
            *byte &= !m;
        }
    }
}

/// A `bits`-bit two's complement pattern as an i64.
fn sign_extend(raw: u64, bits: u32) -> i64 {
    if bits < 64 && raw & (1u64 << (bits - 1)) != 0 {
        (raw | (u64::MAX << bits)) as i64
    } else {
        raw as i64
    }
}

/// Redis's `checkUnsignedBitfieldOverflow`: `None` when `value + incr` fits in `bits` bits,
/// else `Some(result)` with the wrapped or saturated result (`Some(None)` for FAIL).
fn unsigned_overflow(value: u64, incr: i64, bits: u32, mode: Overflow) -> Option<Option<u64>> {
    let max = mask(u64::MAX, bits);
    let max_incr = max.wrapping_sub(value) as i64;
    let min_incr = value.wrapping_neg() as i64;
    let limit = if value > max || (incr > 0 && incr > max_incr) {
        max
    } else if incr < 0 && incr < min_incr {
        0
    } else {
        return None;
    };
    Some(match mode {
        Overflow::Wrap => Some(mask(value.wrapping_add(incr as u64), bits)),
        Overflow::Sat => Some(limit),
        Overflow::Fail => None,
    })
}

/// Redis's `checkSignedBitfieldOverflow`, in the same form as [`unsigned_overflow`].
fn signed_overflow(value: i64, incr: i64, bits: u32, mode: Overflow) -> Option<Option<i64>> {
    let max = if bits == 64 {
        i64::MAX
    } else {
        (1i64 << (bits - 1)) - 1
    };
    let min = -max - 1;
    let max_incr = (max as u64).wrapping_sub(value as u64) as i64;
    let min_incr = min.wrapping_sub(value);
    let limit = if value > max
        || (bits != 64 && incr > max_incr)
        || (value >= 0 && incr > 0 && incr > max_incr)
    {
        max
    } else if value < min
        || (bits != 64 && incr < min_incr)
        || (value < 0 && incr < 0 && incr < min_incr)
    {
        min
    } else {
        return None;
    };
    Some(match mode {
        Overflow::Wrap => Some(sign_extend(
            mask((value as u64).wrapping_add(incr as u64), bits),
            bits,
        )),
        Overflow::Sat => Some(limit),
        Overflow::Fail => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overflow_like_redis() {
        assert_eq!(unsigned_overflow(250, 10, 8, Overflow::Wrap), Some(Some(4)));
        assert_eq!(
            unsigned_overflow(250, 10, 8, Overflow::Sat),
            Some(Some(255))
        );
        assert_eq!(unsigned_overflow(5, -10, 8, Overflow::Sat), Some(Some(0)));
        assert_eq!(
            unsigned_overflow(u64::MAX, 0, 8, Overflow::Sat),
            Some(Some(255))
        );
        assert_eq!(unsigned_overflow(5, 10, 8, Overflow::Fail), None);
        assert_eq!(
            signed_overflow(100, 100, 8, Overflow::Wrap),
            Some(Some(-56))
        );
        assert_eq!(
            signed_overflow(-100, -100, 8, Overflow::Sat),
            Some(Some(-128))
        );
        assert_eq!(
            signed_overflow(i64::MAX, 1, 64, Overflow::Wrap),
            Some(Some(i64::MIN))
        );
        assert_eq!(signed_overflow(1, 1, 64, Overflow::Fail), None);
    }

    #[test]
    fn bits_round_trip() {
        let mut d = [0u8; 2];
        set_bits(&mut d, 7, 5, 23);
        assert_eq!(d, [0b0000_0001, 0b0111_0000]);
        assert_eq!(get_bits(&d, 7, 5), 23);
        assert_eq!(sign_extend(get_bits(&[0xFF], 0, 8), 8), -1);
    }
}
