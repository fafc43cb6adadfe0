//! LZF compression for the RDB writer (decompression uses the `lzf` crate).
//!
//! The `lzf` crate's compressor allocates and zeroes a 512 KB hash table on every call, which
//! dominated SAVE time for datasets of many short strings. This one keeps its table across
//! calls without clearing it: a stale entry is harmless, because a candidate match is used only
//! when it lies before the current position and its bytes really match. The output is the
//! standard LZF format liblzf (and so Redis) decodes.

const HLOG: u32 = 14;
const MAX_LIT: usize = 32;
const MAX_OFF: usize = 1 << 13;
const MAX_REF: usize = (1 << 8) + (1 << 3);

/// A compressor with a reusable hash table.
pub(crate) struct Compressor {
    table: Vec<u32>,
}

impl Compressor {
    pub(crate) fn new() -> Self {
        Compressor {
            table: vec![0; 1 << HLOG],
        }
    }

    /// `input` compressed, or `None` when the result would be longer than `limit` bytes.
    pub(crate) fn compress(&mut self, input: &[u8], limit: usize) -> Option<Vec<u8>> {
        let mut out = Vec::with_capacity(limit.min(input.len()) + 1);
        let mut lit_start = 0;
        let mut ip = 0;
        while ip + 2 < input.len() {
            let h = hash(&input[ip..ip + 3]);
            let candidate = self.table[h] as usize;
            self.table[h] = ip as u32;
            let found = candidate < ip
                && ip - candidate <= MAX_OFF
                && input[candidate..candidate + 3] == input[ip..ip + 3];
            if !found {
                ip += 1;
                continue;
            }
            let max = MAX_REF.min(input.len() - ip);
            let mut len = 3;
            while len < max && input[candidate + len] == input[ip + len] {
                len += 1;
            }
            literals(&mut out, &input[lit_start..ip]);
            let off = ip - candidate - 1;
            let code = len - 2;
            if code < 7 {
                out.push(((code << 5) | (off >> 8)) as u8);
            } else {
                out.push(((7 << 5) | (off >> 8)) as u8);
                out.push((code - 7) as u8);
            }
            out.push(off as u8);
            ip += len;
            lit_start = ip;
            if out.len() > limit {
                return None;
            }
        }
        literals(&mut out, &input[lit_start..]);
        (out.len() <= limit).then_some(out)
    }
}

fn hash(three: &[u8]) -> usize {
    let v = (u32::from(three[0]) << 16) | (u32::from(three[1]) << 8) | u32::from(three[2]);
    (v.wrapping_mul(2_654_435_761) >> (32 - HLOG)) as usize
}

/// Literal runs of at most 32 bytes, each after a control byte holding its length minus one.
fn literals(out: &mut Vec<u8>, bytes: &[u8]) {
    for run in bytes.chunks(MAX_LIT) {
        out.push((run.len() - 1) as u8);
        out.extend_from_slice(run);
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
}
