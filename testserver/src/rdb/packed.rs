//! Decoders for the packed blobs older and newer Redis versions store inside RDB strings:
//! ziplist, listpack, intset and zipmap. Every read is bounds-checked and the headers are
//! checked against the content, so a corrupt blob is an error, never a panic.

use bytes::Bytes;

/// A decoding failure, described for the error message.
pub(crate) type Result<T> = std::result::Result<T, String>;

/// Bounds-checked little-endian reads from a blob.
struct Blob<'a> {
    data: &'a [u8],
    what: &'static str,
}

impl<'a> Blob<'a> {
    fn bytes(&self, at: usize, n: usize) -> Result<&'a [u8]> {
        at.checked_add(n)
            .and_then(|end| self.data.get(at..end))
            .ok_or_else(|| format!("{} entry runs past its end", self.what))
    }

    fn byte(&self, at: usize) -> Result<u8> {
        Ok(self.bytes(at, 1)?[0])
    }

    /// A little-endian signed integer of `n` (1..=8) bytes.
    fn int_le(&self, at: usize, n: usize) -> Result<i64> {
        let b = self.bytes(at, n)?;
        let mut v: u64 = 0;
        for (i, &byte) in b.iter().enumerate() {
            v |= u64::from(byte) << (8 * i);
        }
        let shift = 64 - 8 * n as u32;
        Ok(((v << shift) as i64) >> shift)
    }

    fn u32_le(&self, at: usize) -> Result<u32> {
        Ok(self.int_le(at, 4)? as u32)
    }

    fn u16_le(&self, at: usize) -> Result<u16> {
        Ok(self.int_le(at, 2)? as u16)
    }
}

fn int_bytes(n: i64) -> Bytes {
    Bytes::from(n.to_string())
}

/// The entries of a ziplist (RDB 2.6 to 6.2 small lists, hashes, sorted sets, quicklist nodes).
pub(crate) fn ziplist(data: &[u8]) -> Result<Vec<Bytes>> {
    let b = Blob {
        data,
        what: "ziplist",
    };
    if data.len() < 11 {
        return Err("ziplist too short".into());
    }
    if b.u32_le(0)? as usize != data.len() {
        return Err("ziplist size header does not match its length".into());
    }
    let count = b.u16_le(8)?;
    let mut pos = 10;
    let mut prev_size = 0usize;
    let mut items = Vec::new();
    loop {
        let first = b.byte(pos)?;
        if first == 0xFF {
            if pos + 1 != data.len() {
                return Err("ziplist end marker before its end".into());
            }
            break;
        }
        let start = pos;
        let prevlen = if first < 254 {
            pos += 1;
            usize::from(first)
        } else {
            let n = b.u32_le(pos + 1)? as usize;
            pos += 5;
            n
        };
        if prevlen != prev_size {
            return Err("ziplist entry has a wrong previous-entry length".into());
        }
        let enc = b.byte(pos)?;
        let (item, size) = match enc >> 6 {
            0 => {
                let n = usize::from(enc & 0x3f);
                (Bytes::copy_from_slice(b.bytes(pos + 1, n)?), 1 + n)
            }
            1 => {
                let n = (usize::from(enc & 0x3f) << 8) | usize::from(b.byte(pos + 1)?);
                (Bytes::copy_from_slice(b.bytes(pos + 2, n)?), 2 + n)
            }
            2 if enc == 0x80 => {
                let n = u32::from_be_bytes(b.bytes(pos + 1, 4)?.try_into().unwrap_or_default());
                let n = n as usize;
                (Bytes::copy_from_slice(b.bytes(pos + 5, n)?), 5 + n)
            }
            3 => {
                let (width, value) = match enc {
                    0xC0 => (2, b.int_le(pos + 1, 2)?),
                    0xD0 => (4, b.int_le(pos + 1, 4)?),
                    0xE0 => (8, b.int_le(pos + 1, 8)?),
                    0xF0 => (3, b.int_le(pos + 1, 3)?),
                    0xFE => (1, b.int_le(pos + 1, 1)?),
                    0xF1..=0xFD => (0, i64::from(enc & 0x0f) - 1),
                    _ => return Err(format!("ziplist entry has unknown encoding {enc:#04x}")),
                };
                (int_bytes(value), 1 + width)
            }
            _ => return Err(format!("ziplist entry has unknown encoding {enc:#04x}")),
        };
        pos += size;
        prev_size = pos - start;
        items.push(item);
    }
    if count != u16::MAX && usize::from(count) != items.len() {
        return Err("ziplist entry count does not match its header".into());
    }
    Ok(items)
}

/// The bytes a listpack entry of `len` bytes ends with (its length, readable backwards).
fn listpack_backlen(len: usize) -> ([u8; 5], usize) {
    let mut out = [0u8; 5];
    let n = match len {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2_097_150 => 3,
        2_097_151..=268_435_454 => 4,
        _ => 5,
    };
    // The last byte holds the lowest 7 bits; every byte but the first has the high bit set.
    for (i, slot) in out.iter_mut().enumerate().take(n) {
        let shift = 7 * (n - 1 - i);
        *slot = ((len >> shift) & 127) as u8;
        if i > 0 {
            *slot |= 128;
        }
    }
    (out, n)
}

/// The entries of a listpack (Redis 7 small hashes, sorted sets and quicklist nodes).
pub(crate) fn listpack(data: &[u8]) -> Result<Vec<Bytes>> {
    let b = Blob {
        data,
        what: "listpack",
    };
    if data.len() < 7 {
        return Err("listpack too short".into());
    }
    if b.u32_le(0)? as usize != data.len() {
        return Err("listpack size header does not match its length".into());
    }
    let count = b.u16_le(4)?;
    let mut pos = 6;
    let mut items = Vec::new();
    loop {
        let enc = b.byte(pos)?;
        if enc == 0xFF {
            if pos + 1 != data.len() {
                return Err("listpack end marker before its end".into());
            }
            break;
        }
        let string = |header: usize, n: usize| -> Result<(Bytes, usize)> {
            Ok((
                Bytes::copy_from_slice(b.bytes(pos + header, n)?),
                header + n,
            ))
        };
        let (item, size) = if enc & 0x80 == 0 {
            (int_bytes(i64::from(enc)), 1)
        } else if enc & 0xC0 == 0x80 {
            string(1, usize::from(enc & 0x3f))?
        } else if enc & 0xE0 == 0xC0 {
            let v = (i64::from(enc & 0x1f) << 8) | i64::from(b.byte(pos + 1)?);
            let v = if v >= 1 << 12 { v - (1 << 13) } else { v };
            (int_bytes(v), 2)
        } else if enc & 0xF0 == 0xE0 {
            string(
                2,
                (usize::from(enc & 0x0f) << 8) | usize::from(b.byte(pos + 1)?),
            )?
        } else {
            match enc {
                0xF0 => string(5, b.u32_le(pos + 1)? as usize)?,
                0xF1 => (int_bytes(b.int_le(pos + 1, 2)?), 3),
                0xF2 => (int_bytes(b.int_le(pos + 1, 3)?), 4),
                0xF3 => (int_bytes(b.int_le(pos + 1, 4)?), 5),
                0xF4 => (int_bytes(b.int_le(pos + 1, 8)?), 9),
                _ => return Err(format!("listpack entry has unknown encoding {enc:#04x}")),
            }
        };
        let (back, n) = listpack_backlen(size);
        if b.bytes(pos + size, n)? != &back[..n] {
            return Err("listpack entry has a wrong back length".into());
        }
        pos += size + n;
        items.push(item);
    }
    if count != u16::MAX && usize::from(count) != items.len() {
        return Err("listpack entry count does not match its header".into());
    }
    Ok(items)
}

/// The members of an intset, checked to be strictly ascending as Redis keeps them.
pub(crate) fn intset(data: &[u8]) -> Result<Vec<i64>> {
    let b = Blob {
        data,
        what: "intset",
    };
    let width = b.u32_le(0)? as usize;
    if !matches!(width, 2 | 4 | 8) {
        return Err(format!("intset has invalid encoding {width}"));
    }
    let count = b.u32_le(4)? as usize;
    if count.checked_mul(width).and_then(|n| n.checked_add(8)) != Some(data.len()) {
        return Err("intset size does not match its header".into());
    }
    let values = (0..count)
        .map(|i| b.int_le(8 + i * width, width))
        .collect::<Result<Vec<i64>>>()?;
    if values.windows(2).any(|w| w[0] >= w[1]) {
        return Err("intset is not sorted or has duplicates".into());
    }
    Ok(values)
}

/// The fields and values, alternating, of a zipmap (hashes in RDB files before 2.6).
pub(crate) fn zipmap(data: &[u8]) -> Result<Vec<Bytes>> {
    let b = Blob {
        data,
        what: "zipmap",
    };
    let mut pos = 1; // The first byte is a count hint, possibly saturated.
    let mut items = Vec::new();
    let len_at = |pos: usize| -> Result<(usize, usize)> {
        match b.byte(pos)? {
            254 => Ok((b.u32_le(pos + 1)? as usize, 5)),
            255 => Err("zipmap ends in the middle of an entry".into()),
            n => Ok((usize::from(n), 1)),
        }
    };
    loop {
        if b.byte(pos)? == 255 {
            if pos + 1 != data.len() {
                return Err("zipmap end marker before its end".into());
            }
            break;
        }
        let (klen, n) = len_at(pos)?;
        items.push(Bytes::copy_from_slice(b.bytes(pos + n, klen)?));
        pos += n + klen;
        let (vlen, n) = len_at(pos)?;
        let free = usize::from(b.byte(pos + n)?);
        items.push(Bytes::copy_from_slice(b.bytes(pos + n + 1, vlen)?));
        pos += n + 1 + vlen;
        b.bytes(pos, free)?;
        pos += free;
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strs(items: &[Bytes]) -> Vec<&str> {
        items
            .iter()
            .map(|b| std::str::from_utf8(b).unwrap())
            .collect()
    }

    #[test]
    fn listpack_entries() {
        // A listpack holding "a", 1, -3000 (13-bit int) and 70000 (24-bit int).
        let mut lp = vec![0, 0, 0, 0, 4, 0];
        lp.extend_from_slice(&[0x81, b'a', 2]);
        lp.extend_from_slice(&[0x01, 1]);
        let v: i64 = -3000 + (1 << 13);
        lp.extend_from_slice(&[0xC0 | (v >> 8) as u8, v as u8, 2]);
        lp.extend_from_slice(&[0xF2, 0x70, 0x11, 0x01, 4]);
        lp.push(0xFF);
        let n = lp.len() as u32;
        lp[..4].copy_from_slice(&n.to_le_bytes());
        assert_eq!(strs(&listpack(&lp).unwrap()), ["a", "1", "-3000", "70000"]);
        // Every truncation is an error, not a panic.
        for cut in 0..lp.len() {
            assert!(listpack(&lp[..cut]).is_err());
        }
    }

    #[test]
    fn backlen_round_trip() {
        for len in [
            1usize,
            127,
            128,
            16382,
            16383,
            2_097_150,
            2_097_151,
            300_000_000,
        ] {
            let (b, n) = listpack_backlen(len);
            // Decode backwards, as lpDecodeBacklen does.
            let mut v = 0usize;
            for (i, byte) in b[..n].iter().rev().enumerate() {
                v |= usize::from(byte & 127) << (7 * i);
            }
            assert_eq!(v, len);
            assert_eq!(b[0] & 128, 0);
        }
    }

    #[test]
    fn ziplist_entries() {
        let mut zl = vec![0; 10];
        zl.extend_from_slice(&[0, 0x03, b'f', b'o', b'o']);
        zl.extend_from_slice(&[5, 0xF3]); // 2
        zl.extend_from_slice(&[2, 0xC0, 0x39, 0x30]); // 12345
        zl.extend_from_slice(&[4, 0xFE, 0x80]); // -128
        zl.push(0xFF);
        let n = zl.len() as u32;
        zl[..4].copy_from_slice(&n.to_le_bytes());
        zl[8] = 4;
        assert_eq!(strs(&ziplist(&zl).unwrap()), ["foo", "2", "12345", "-128"]);
        for cut in 0..zl.len() {
            assert!(ziplist(&zl[..cut]).is_err());
        }
    }

    #[test]
    fn intsets() {
        let mut s = vec![2, 0, 0, 0, 2, 0, 0, 0];
        s.extend_from_slice(&(-3i16).to_le_bytes());
        s.extend_from_slice(&7i16.to_le_bytes());
        assert_eq!(intset(&s).unwrap(), [-3, 7]);
        s[8..10].copy_from_slice(&9i16.to_le_bytes());
        assert!(intset(&s).is_err());
        assert!(intset(&s[..9]).is_err());
    }

    #[test]
    fn zipmaps() {
        let zm = [
            2, 1, b'a', 2, 0, b'x', b'y', 1, b'b', 1, 3, b'z', 0, 0, 0, 0xFF,
        ];
        assert_eq!(strs(&zipmap(&zm).unwrap()), ["a", "xy", "b", "z"]);
        for cut in 0..zm.len() {
            assert!(zipmap(&zm[..cut]).is_err());
        }
    }
}
