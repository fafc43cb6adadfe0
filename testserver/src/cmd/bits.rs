//! Bitmap commands on strings: SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, as Redis 7.0's
//! `bitops.c` (BITFIELD and BITFIELD_RO live in `bits/field.rs`). Bit 0 is the most
//! significant bit of the first byte; a string reads as zero-padded on the right.

mod field;

use bytes::{Bytes, BytesMut};
use rediscover::error_codes::msg;

use super::lookup::{lookup_read, read_typed, write_typed};
use super::{eq_ic, owned, parse_i64, CmdResult, Ctx, Error, Handler};
use crate::keyspace::{Db, Str, Value};

pub(crate) const COMMANDS: &[(&str, Handler)] = &[
    ("setbit", setbit),
    ("getbit", getbit),
    ("bitcount", bitcount),
    ("bitpos", bitpos),
    ("bitop", bitop),
    ("bitfield", field::bitfield),
    ("bitfield_ro", field::bitfield_ro),
];

const BAD_OFFSET: &str = "ERR bit offset is not an integer or out of range";

/// A bit offset argument (Redis's `getBitOffsetFromArgument`): non-negative and inside
/// proto-max-bulk-len bytes, except for the master link, whose commands are obeyed. With
/// `hash_bits`, BITFIELD's `#N` form means `N * bits` (multiplied as C does, wrapping).
fn bit_offset(ctx: &Ctx<'_>, arg: &[u8], hash_bits: Option<u32>) -> Result<u64, Error> {
    let (digits, mul) = match (arg.first(), hash_bits) {
        (Some(b'#'), Some(bits)) => (&arg[1..], i64::from(bits)),
        _ => (arg, 1),
    };
    let n = rediscover::resp::parse_integer(digits)
        .ok_or(Error::from(BAD_OFFSET))?
        .wrapping_mul(mul);
    let limit = ctx.node.config.proto_max_bulk_len as u64;
    if n < 0 || (!ctx.client.master_link && (n as u64 >> 3) >= limit) {
        return Err(BAD_OFFSET.into());
    }
    Ok(n as u64)
}

/// Runs `f` on the bytes of the string at `key`, first creating it or zero-padding it so
/// that bit `maxbit` exists (Redis's `lookupStringForBitCommand`). `f` also learns whether
/// that already changed the key (created or grown). The string ends up `raw`, as Redis
/// unshares it even when nothing changes; its TTL stays.
fn edit_bits<R>(
    db: &mut Db,
    key: &[u8],
    now: i64,
    maxbit: u64,
    f: impl FnOnce(&mut [u8], bool) -> R,
) -> Result<R, Error> {
    let need = (maxbit >> 3) as usize + 1;
    match write_typed::<Str>(db, key, now)? {
        Some(s) => {
            s.raw = true;
            let mut data = BytesMut::from(std::mem::take(&mut s.data));
            let grown = data.len() < need;
            if grown {
                data.resize(need, 0);
            }
            let r = f(&mut data, grown);
            s.data = data.freeze();
            Ok(r)
        }
        None => {
            let mut data = BytesMut::zeroed(need);
            let r = f(&mut data, true);
            db.set(
                Bytes::copy_from_slice(key),
                Value::Str(Str::modified(data.freeze())),
            );
            Ok(r)
        }
    }
}

/// The mask of bit `offset` inside its byte.
fn bit_mask(offset: u64) -> u8 {
    0x80 >> (offset & 7)
}

fn setbit(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let key = &argv[1];
    let offset = bit_offset(ctx, &argv[2], None)?;
    let on = match parse_i64(&argv[3]) {
        Ok(v @ (0 | 1)) => v == 1,
        _ => return Err("ERR bit is not an integer or out of range".into()),
    };
    let now = ctx.now;
    let (old, changed) = edit_bits(ctx.db(), key, now, offset, |data, grown| {
        let (byte, mask) = ((offset >> 3) as usize, bit_mask(offset));
        let old = data[byte] & mask != 0;
        if on {
            data[byte] |= mask;
        } else {
            data[byte] &= !mask;
        }
        (old, grown || old != on)
    })?;
    if changed {
        ctx.modified(key);
        ctx.notify(crate::notify::class::STRING, "setbit", key);
    }
    ctx.out.int(i64::from(old));
    Ok(())
}

fn getbit(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let offset = bit_offset(ctx, &argv[2], None)?;
    let (s, out) = read_typed::<Str>(ctx, &argv[1])?;
    let set = s
        .and_then(|s| s.data.get((offset >> 3) as usize))
        .is_some_and(|b| b & bit_mask(offset) != 0);
    out.int(i64::from(set));
    Ok(())
}

/// Whether a BIT|BYTE unit argument says BIT (anything else is a syntax error).
fn is_bit_unit(arg: &[u8]) -> Result<bool, Error> {
    if eq_ic(arg, "bit") {
        Ok(true)
    } else if eq_ic(arg, "byte") {
        Ok(false)
    } else {
        Err(msg::SYNTAX.into())
    }
}

/// The inclusive bit range `start..=end` covers in a `len`-byte string, the indexes counting
/// bits or bytes and negative ones from the end, clamped as BITCOUNT and BITPOS clamp them;
/// `None` when empty.
fn bit_range(start: i64, end: i64, len: usize, bits: bool) -> Option<(u64, u64)> {
    let total = if bits { len as i64 * 8 } else { len as i64 };
    let fix = |i: i64| if i < 0 { (total + i).max(0) } else { i };
    let (start, end) = (fix(start), fix(end).min(total - 1));
    if start > end {
        None
    } else if bits {
        Some((start as u64, end as u64))
    } else {
        Some((start as u64 * 8, end as u64 * 8 + 7))
    }
}

/// Bits before bit `first` in its byte.
fn head_mask(first: u64) -> u8 {
    !(0xFF >> (first & 7))
}

/// Bits after bit `last` in its byte.
fn tail_mask(last: u64) -> u8 {
    (0xFFu16 >> ((last & 7) + 1)) as u8
}

/// An 8-byte chunk as a machine word (only bit counts and equality matter, not order).
fn word(chunk: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(chunk);
    u64::from_ne_bytes(w)
}

/// The number of set bits in `data`, a word at a time (strings reach 512 MB).
fn popcount(data: &[u8]) -> u64 {
    let chunks = data.chunks_exact(8);
    let tail: u64 = chunks
        .remainder()
        .iter()
        .map(|x| u64::from(x.count_ones()))
        .sum();
    chunks.map(|c| u64::from(word(c).count_ones())).sum::<u64>() + tail
}

/// The index of the first byte of `data` other than `skip`, skipping a word at a time.
fn first_other(data: &[u8], skip: u8) -> Option<usize> {
    let run = u64::from_ne_bytes([skip; 8]);
    let whole = data.chunks_exact(8).take_while(|c| word(c) == run).count() * 8;
    data[whole..]
        .iter()
        .position(|&x| x != skip)
        .map(|i| whole + i)
}

/// The number of set bits in the bit range `first..=last` (inside `data`).
fn count_bits(data: &[u8], first: u64, last: u64) -> u64 {
    let (a, b) = ((first >> 3) as usize, (last >> 3) as usize);
    let all = popcount(&data[a..=b]);
    let outside =
        (data[a] & head_mask(first)).count_ones() + (data[b] & tail_mask(last)).count_ones();
    all - u64::from(outside)
}

/// The position of the first bit equal to `bit` in the bit range `first..=last` (inside
/// `data`).
fn find_bit(data: &[u8], first: u64, last: u64, bit: bool) -> Option<u64> {
    let (a, b) = ((first >> 3) as usize, (last >> 3) as usize);
    // Looking for a 0 is looking for a 1 in the inverted byte.
    let flip = if bit { 0 } else { 0xFF };
    let hit =
        |i: usize, byte: u8| (byte != 0).then(|| i as u64 * 8 + u64::from(byte.leading_zeros()));
    let edge = |i: usize| {
        let mut byte = data[i] ^ flip;
        if i == a {
            byte &= !head_mask(first);
        }
        if i == b {
            byte &= !tail_mask(last);
        }
        hit(i, byte)
    };
    if let Some(p) = edge(a) {
        return Some(p);
    }
    if b == a {
        return None;
    }
    if let Some(i) = first_other(&data[a + 1..b], flip) {
        let i = a + 1 + i;
        return hit(i, data[i] ^ flip);
    }
    edge(b)
}

fn bitcount(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let (s, out) = read_typed::<Str>(ctx, &argv[1])?;
    let Some(s) = s else {
        out.int(0);
        return Ok(());
    };
    let data = &s.data;
    let range = match argv.len() {
        2 => bit_range(0, -1, data.len(), false),
        4 | 5 => {
            let start = parse_i64(&argv[2])?;
            let end = parse_i64(&argv[3])?;
            // Redis answers this case before it reads the unit.
            if start < 0 && end < 0 && start > end {
                out.int(0);
                return Ok(());
            }
            let bits = match argv.get(4) {
                Some(unit) => is_bit_unit(unit)?,
                None => false,
            };
            bit_range(start, end, data.len(), bits)
        }
        _ => return Err(msg::SYNTAX.into()),
    };
    let n = range.map_or(0, |(first, last)| count_bits(data, first, last));
    out.int(n as i64);
    Ok(())
}

fn bitpos(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let bit = match parse_i64(&argv[2])? {
        b @ (0 | 1) => b == 1,
        _ => return Err("ERR The bit argument must be 1 or 0.".into()),
    };
    let (value, out) = lookup_read(ctx, &argv[1]);
    let data = match value {
        None => {
            // A missing key is an endless run of zeros.
            out.int(if bit { -1 } else { 0 });
            return Ok(());
        }
        Some(Value::Str(s)) => &s.data,
        Some(_) => return Err(msg::WRONGTYPE.into()),
    };
    let (range, end_given) = match argv.len() {
        3 => (bit_range(0, -1, data.len(), false), false),
        4..=6 => {
            let start = parse_i64(&argv[3])?;
            let bits = match argv.get(5) {
                Some(unit) => is_bit_unit(unit)?,
                None => false,
            };
            match argv.get(4) {
                Some(end) => (bit_range(start, parse_i64(end)?, data.len(), bits), true),
                None => (bit_range(start, -1, data.len(), bits), false),
            }
        }
        _ => return Err(msg::SYNTAX.into()),
    };
    let pos = match range {
        None => -1,
        Some((first, last)) => match find_bit(data, first, last, bit) {
            Some(p) => p as i64,
            // Without an explicit end the string counts as zero-padded: the first clear bit
            // is the one just past the range.
            None if !bit && !end_given => last as i64 + 1,
            None => -1,
        },
    };
    out.int(pos);
    Ok(())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum BitOp {
    And,
    Or,
    Xor,
    Not,
}

fn bitop(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let name = &argv[1][..];
    let op = [
        ("and", BitOp::And),
        ("or", BitOp::Or),
        ("xor", BitOp::Xor),
        ("not", BitOp::Not),
    ]
    .into_iter()
    .find(|(n, _)| eq_ic(name, n))
    .map(|(_, op)| op)
    .ok_or(Error::from(msg::SYNTAX))?;
    if op == BitOp::Not && argv.len() != 4 {
        return Err("ERR BITOP NOT must be called with a single source key.".into());
    }
    let dest = &argv[2];
    let mut sources = Vec::with_capacity(argv.len() - 3);
    for key in &argv[3..] {
        match lookup_read(ctx, key).0 {
            None => sources.push(Bytes::new()),
            Some(Value::Str(s)) => sources.push(s.data.clone()),
            Some(_) => return Err(msg::WRONGTYPE.into()),
        }
    }
    let result = combine(op, &sources);
    let len = result.len();
    if len > 0 {
        ctx.db()
            .set(owned(dest), Value::Str(Str::modified(Bytes::from(result))));
        ctx.modified(dest);
        ctx.notify(crate::notify::class::STRING, "set", dest);
    } else if ctx.db().remove(dest).is_some() {
        ctx.modified(dest);
        ctx.notify(crate::notify::class::GENERIC, "del", dest);
    }
    ctx.out.int(len as i64);
    Ok(())
}

/// BITOP's result: as long as the longest source, shorter ones zero-padded.
fn combine(op: BitOp, sources: &[Bytes]) -> Vec<u8> {
    let len = sources.iter().map(Bytes::len).max().unwrap_or(0);
    let mut res = vec![0u8; len];
    let Some((first, rest)) = sources.split_first() else {
        return res;
    };
    res[..first.len()].copy_from_slice(first);
    match op {
        BitOp::Not => res.iter_mut().for_each(|b| *b = !*b),
        BitOp::And => {
            for s in rest {
                res.iter_mut().zip(s.iter()).for_each(|(r, b)| *r &= b);
                res[s.len()..].fill(0);
            }
        }
        BitOp::Or => {
            for s in rest {
                res.iter_mut().zip(s.iter()).for_each(|(r, b)| *r |= b);
            }
        }
        BitOp::Xor => {
            for s in rest {
                res.iter_mut().zip(s.iter()).for_each(|(r, b)| *r ^= b);
            }
        }
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_and_masks() {
        assert_eq!(bit_range(0, -1, 3, false), Some((0, 23)));
        assert_eq!(bit_range(5, 30, 3, true), Some((5, 23)));
        assert_eq!(bit_range(-1, -1, 0, false), None);
        assert_eq!(bit_range(2, 1, 3, false), None);
        assert_eq!(head_mask(3), 0b1110_0000);
        assert_eq!(tail_mask(3), 0b0000_1111);
        assert_eq!(tail_mask(7), 0);
        assert_eq!(count_bits(&[0xFF, 0xFF], 3, 12), 10);
        assert_eq!(find_bit(&[0xFF, 0xFF, 0xF0], 0, 23, false), Some(20));
        assert_eq!(find_bit(&[0, 0, 1], 0, 23, true), Some(23));
        assert_eq!(find_bit(&[0, 0, 1], 0, 22, true), None);
        assert_eq!(find_bit(&[0xFF], 2, 5, false), None);
    }
}
