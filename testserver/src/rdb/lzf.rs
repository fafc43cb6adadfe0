//! LZF compression for the RDB writer (decompression uses the `lzf` crate).
//!
//! The output is byte for byte what Redis 7.0's bundled liblzf 3.6 (`lzf_c.c` as Redis builds
//! it: `HLOG` 16, `VERY_FAST`, no `ULTRA_FAST`, `CHECK_INPUT`) produces for the same input and
//! output limit, so DUMP payloads and RDB strings equal Redis's. The same choices are made:
//! the 3-byte rolling hash and its table index, a candidate accepted only when it is not the
//! input's first byte, lies within 8 KB and its first three bytes match, the match length
//! rules (including the unrolled first 16 comparisons, which can take a match two bytes
//! further than the later loop would), the two hash updates after a match, and the points
//! where a too-small output buffer makes it give up.
//!
//! liblzf's table lives on the stack and is not cleared between calls (`INIT_HTAB` 0); this
//! one is reused too but stamped with a call number, so entries of earlier calls are never
//! used: the result is that of a clean table, with no 256 KB clearing per call.

const HLOG: u32 = 16;
const HSIZE: usize = 1 << HLOG;
const MAX_LIT: usize = 1 << 5;
const MAX_OFF: usize = 1 << 13;
const MAX_REF: usize = (1 << 8) + (1 << 3);

/// A compressor with a reusable hash table.
pub(crate) struct Compressor {
    /// Per slot: the call that wrote it and the input position it holds.
    table: Vec<(u32, u32)>,
    /// The current call's stamp (never 0, so a fresh table is empty).
    call: u32,
}

/// liblzf's `IDX` with `VERY_FAST`: the slot of a hash of three bytes.
#[inline]
fn idx(h: u32) -> usize {
    ((h >> (3 * 8 - HLOG)).wrapping_sub(h.wrapping_mul(5)) as usize) & (HSIZE - 1)
}

impl Compressor {
    pub(crate) fn new() -> Self {
        // The table (512 KB) is allocated by the first compression: most writers (a DUMP of
        // a short value) never need it.
        Compressor {
            table: Vec::new(),
            call: 0,
        }
    }

    /// `input` compressed into at most `limit` bytes as liblzf's `lzf_compress(input,
    /// input.len(), out, limit)` does, or `None` where it returns 0 (the output would not fit,
    /// or either length is 0).
    pub(crate) fn compress(&mut self, input: &[u8], limit: usize) -> Option<Vec<u8>> {
        let in_len = input.len();
        if in_len == 0 || limit == 0 {
            return None;
        }
        if self.table.is_empty() {
            self.table = vec![(0, 0); HSIZE];
        }
        self.call = self.call.wrapping_add(1);
        if self.call == 0 {
            // Wrapped: old stamps could look current again.
            self.table.iter_mut().for_each(|e| *e = (0, 0));
            self.call = 1;
        }
        let call = self.call;
        let mut out = vec![0u8; limit];
        let out_end = limit;
        let mut lit: usize = 0;
        let mut op: usize = 1; // start run
        let mut ip: usize = 0;
        let mut hval: u32 = if in_len >= 2 {
            (u32::from(input[0]) << 8) | u32::from(input[1])
        } else {
            0
        };
        while ip + 2 < in_len {
            hval = (hval << 8) | u32::from(input[ip + 2]);
            let slot = idx(hval);
            let (stamp, pos) = self.table[slot];
            let reference = (stamp == call).then_some(pos as usize);
            self.table[slot] = (call, ip as u32);
            let matched = reference.filter(|&r| {
                r < ip
                    && ip - r - 1 < MAX_OFF
                    && r > 0
                    && input[r + 2] == input[ip + 2]
                    && input[r] == input[ip]
                    && input[r + 1] == input[ip + 1]
            });
            if let Some(r) = matched {
                let off = ip - r - 1;
                let mut len: usize = 2;
                let maxlen = (in_len - ip - len).min(MAX_REF);
                if op + 3 + 1 >= out_end && op - usize::from(lit == 0) + 3 + 1 >= out_end {
                    return None;
                }
                // Stop the literal run (or undo its reserved control byte).
                out[op - lit - 1] = (lit as u8).wrapping_sub(1);
                op -= usize::from(lit == 0);
                'extend: {
                    if maxlen > 16 {
                        for _ in 0..16 {
                            len += 1;
                            if input[r + len] != input[ip + len] {
                                break 'extend;
                            }
                        }
                    }
                    loop {
                        len += 1;
                        if !(len < maxlen && input[r + len] == input[ip + len]) {
                            break;
                        }
                    }
                }
                len -= 2; // now the number of octets - 1
                ip += 1;
                if len < 7 {
                    out[op] = ((off >> 8) + (len << 5)) as u8;
                    op += 1;
                } else {
                    out[op] = ((off >> 8) + (7 << 5)) as u8;
                    out[op + 1] = (len - 7) as u8;
                    op += 2;
                }
                out[op] = off as u8;
                op += 1;
                lit = 0;
                op += 1; // start run
                ip += len + 1;
                if ip + 2 >= in_len {
                    break;
                }
                // VERY_FAST: hash the two positions before the new one.
                ip -= 2;
                hval = (u32::from(input[ip]) << 8) | u32::from(input[ip + 1]);
                hval = (hval << 8) | u32::from(input[ip + 2]);
                self.table[idx(hval)] = (call, ip as u32);
                ip += 1;
                hval = (hval << 8) | u32::from(input[ip + 2]);
                self.table[idx(hval)] = (call, ip as u32);
                ip += 1;
            } else {
                // One more literal byte.
                if op >= out_end {
                    return None;
                }
                lit += 1;
                out[op] = input[ip];
                op += 1;
                ip += 1;
                if lit == MAX_LIT {
                    out[op - lit - 1] = (lit - 1) as u8;
                    lit = 0;
                    op += 1;
                }
            }
        }
        if op + 3 > out_end {
            return None;
        }
        // At most two bytes are left; `out` has room for them (checked just above).
        while ip < in_len {
            lit += 1;
            out[op] = input[ip];
            op += 1;
            ip += 1;
            if lit == MAX_LIT {
                out[op - lit - 1] = (lit - 1) as u8;
                lit = 0;
                op += 1;
            }
        }
        out[op - lit - 1] = (lit as u8).wrapping_sub(1);
        op -= usize::from(lit == 0);
        out.truncate(op);
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decompresses_back() {
        let mut c = Compressor::new();
        let mut inputs: Vec<Vec<u8>> = vec![
            b"abcabcabcabcabcabcabcabcabcabc".to_vec(),
            vec![b'x'; 10_000],
            (0..20_000u32).map(|i| (i % 251) as u8).collect(),
            (0..5_000u32)
                .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
                .collect(),
            b"value-value-value-value-12345".to_vec(),
        ];
        // Text with repeats farther apart than the 8 KB window.
        let mut far = (0..9_000u32)
            .map(|i| (i * 7 % 256) as u8)
            .collect::<Vec<_>>();
        far.extend_from_slice(&far.clone()[..100]);
        inputs.push(far);
        // Repeats ending 17 to 19 bytes before the end (the unrolled comparisons).
        for tail in 17..=21 {
            let mut v = b"0123456789abcdefghijklmnopqrstuv".to_vec();
            v.extend_from_slice(&v.clone()[..tail]);
            inputs.push(v);
        }
        for input in inputs {
            match c.compress(&input, input.len() + input.len() / 16 + 64) {
                Some(packed) => {
                    let back = lzf::decompress(&packed, input.len()).expect("valid LZF");
                    assert_eq!(back, input);
                }
                None => panic!("no output within a generous limit"),
            }
        }
        assert!(c.compress(&[0u8; 100], 3).is_none());
    }

    #[test]
    fn output_is_liblzfs() {
        // lzf_compress(in, len, out, len - 4) in Redis 7.0.15 (the bytes inside its DUMP
        // payloads of the same strings).
        let mut c = Compressor::new();
        let rep = b"ab".repeat(50);
        assert_eq!(
            hex(&c.compress(&rep, rep.len() - 4).unwrap()),
            "02616261e056010161 62".replace(' ', "")
        );
        let mixed: Vec<u8> = (0..300).map(|i| b'a' + ((i * 7) % 26) as u8).collect();
        assert_eq!(
            hex(&c.compress(&mixed, mixed.len() - 4).unwrap()),
            "1a61686f76636a7178656c737a676e7562697077646b7279666d7461e0ff19a11d01676e"
        );
        // A 3-element HyperLogLog (27 bytes) does not shrink by 4 bytes with liblzf.
        let hll = b"HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x60\xf3\x80\x50\xb1\x84\x4b\xfb\x80\x42\x5a";
        assert_eq!(c.compress(hll, hll.len() - 4), None);
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }
}
