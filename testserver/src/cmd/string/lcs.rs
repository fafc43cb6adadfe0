//! LCS: the longest common subsequence of two strings, with Redis's table walk so LEN, IDX,
//! MINMATCHLEN and WITHMATCHLEN give the same matches in the same order.

use bytes::Bytes;

use super::super::lookup::lookup_read;
use super::super::{eq_ic, parse_i64, CmdResult, Ctx, Error};
use crate::keyspace::Value;

const NOT_STRINGS: &str = "ERR The specified keys must contain string values";

/// The string at `key` for LCS: missing keys are empty, other types are an error.
fn operand(ctx: &mut Ctx<'_>, key: &[u8]) -> Result<Bytes, Error> {
    match lookup_read(ctx, key).0 {
        None => Ok(Bytes::new()),
        Some(Value::Str(s)) => Ok(s.data.clone()),
        Some(_) => Err(NOT_STRINGS.into()),
    }
}

#[derive(Default)]
struct Options {
    len: bool,
    idx: bool,
    with_match_len: bool,
    min_match_len: usize,
}

fn parse_options(args: &[Bytes]) -> Result<Options, Error> {
    let mut o = Options::default();
    let mut i = 0;
    while i < args.len() {
        let opt = &args[i][..];
        if eq_ic(opt, "IDX") {
            o.idx = true;
        } else if eq_ic(opt, "LEN") {
            o.len = true;
        } else if eq_ic(opt, "WITHMATCHLEN") {
            o.with_match_len = true;
        } else if eq_ic(opt, "MINMATCHLEN") && i + 1 < args.len() {
            o.min_match_len = parse_i64(&args[i + 1])?.max(0) as usize;
            i += 1;
        } else {
            return Err(rediscover::error_codes::msg::SYNTAX.into());
        }
        i += 1;
    }
    if o.idx && o.len {
        return Err("ERR If you want both the length and indexes, please just use IDX.".into());
    }
    Ok(o)
}

/// One matching run: inclusive ranges in `a` and `b`.
struct Match {
    a: (usize, usize),
    b: (usize, usize),
}

pub(super) fn lcs(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    // Both lookups come first: a wrong type wins over an option error, as in Redis.
    let a = operand(ctx, &argv[1]);
    let b = operand(ctx, &argv[2]);
    let (a, b) = (a?, b?);
    let o = parse_options(&argv[3..])?;
    let cells = (a.len() + 1).saturating_mul(b.len() + 1);
    if cells.saturating_mul(4) > ctx.node.config.proto_max_bulk_len {
        return Err(
            "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len".into(),
        );
    }
    let width = b.len() + 1;
    let mut table = vec![0u32; cells];
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            table[i * width + j] = if a[i - 1] == b[j - 1] {
                table[(i - 1) * width + j - 1] + 1
            } else {
                table[(i - 1) * width + j].max(table[i * width + j - 1])
            };
        }
    }
    let at = |i: usize, j: usize| table[i * width + j];
    let total = at(a.len(), b.len()) as usize;
    if o.len {
        ctx.out.int(total as i64);
        return Ok(());
    }
    // Walk back from the end, collecting the subsequence and the runs of contiguous matches.
    let mut result = vec![0u8; total];
    let mut matches = Vec::new();
    let mut current: Option<Match> = None;
    let (mut i, mut j, mut idx) = (a.len(), b.len(), total);
    while i > 0 && j > 0 {
        let mut emit = false;
        if a[i - 1] == b[j - 1] {
            result[idx - 1] = a[i - 1];
            match current.as_mut() {
                None => {
                    current = Some(Match {
                        a: (i - 1, i - 1),
                        b: (j - 1, j - 1),
                    })
                }
                Some(m) if m.a.0 == i && m.b.0 == j => {
                    m.a.0 -= 1;
                    m.b.0 -= 1;
                }
                Some(_) => emit = true,
            }
            if current.as_ref().is_some_and(|m| m.a.0 == 0 || m.b.0 == 0) {
                emit = true;
            }
            idx -= 1;
            i -= 1;
            j -= 1;
        } else {
            if at(i - 1, j) > at(i, j - 1) {
                i -= 1;
            } else {
                j -= 1;
            }
            emit = current.is_some();
        }
        if emit {
            if let Some(m) = current.take() {
                if m.a.1 - m.a.0 + 1 >= o.min_match_len {
                    matches.push(m);
                }
            }
        }
    }
    if !o.idx {
        ctx.out.bulk(&result);
        return Ok(());
    }
    let out = &mut *ctx.out;
    out.map(2);
    out.bulk(b"matches");
    out.array(matches.len());
    for m in &matches {
        out.array(2 + usize::from(o.with_match_len));
        for (s, e) in [m.a, m.b] {
            out.array(2);
            out.int(s as i64);
            out.int(e as i64);
        }
        if o.with_match_len {
            out.int((m.a.1 - m.a.0 + 1) as i64);
        }
    }
    out.bulk(b"len");
    out.int(total as i64);
    Ok(())
}
