//! HyperLogLog commands: PFADD, PFCOUNT, PFMERGE, PFDEBUG, PFSELFTEST, as Redis 7.0's
//! `hyperloglog.c`. An HLL is a plain string holding Redis's own representation
//! (`hll/sketch.rs`), so GET, DUMP and replication carry the same bytes as Redis's.

mod sketch;

use bytes::Bytes;
use rediscover::error_codes::msg;

use super::lookup::{count_lookup, lookup_read, write_typed};
use super::{owned, CmdResult, Ctx, Error, Handler};
use crate::keyspace::{Str, Value};

pub(crate) const COMMANDS: &[(&str, Handler)] = &[
    ("pfadd", pfadd),
    ("pfcount", pfcount),
    ("pfmerge", pfmerge),
    ("pfdebug", pfdebug),
    ("pfselftest", pfselftest),
];

fn not_hll() -> Error {
    msg::HLL_WRONGTYPE.into()
}

fn corrupt() -> Error {
    msg::HLL_CORRUPT.into()
}

/// `hll-sparse-max-bytes`.
fn sparse_max_bytes(ctx: &Ctx<'_>) -> usize {
    ctx.node
        .config
        .extra
        .get("hll-sparse-max-bytes")
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000)
}

/// The HLL bytes of a string value, or the HLL WRONGTYPE error (`isHLLObjectOrReply`); any
/// other type is the usual WRONGTYPE.
fn hll_of(v: &Value) -> Result<&Bytes, Error> {
    match v {
        Value::Str(s) if sketch::is_valid(&s.data) => Ok(&s.data),
        Value::Str(_) => Err(not_hll()),
        _ => Err(msg::WRONGTYPE.into()),
    }
}

/// Runs `f` on the HLL at `key` as an owned buffer (no copy unless the bytes are shared, as
/// Redis's `dbUnshareStringValue`) and stores the result back, whatever `f` answers: Redis
/// keeps what an add changed before it found corruption. `Ok(None)` if the key is missing.
fn edit_hll<R>(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    f: impl FnOnce(&mut Vec<u8>) -> R,
) -> Result<Option<R>, Error> {
    let now = ctx.now;
    let Some(s) = write_typed::<Str>(ctx.db(), key, now)? else {
        return Ok(None);
    };
    if !sketch::is_valid(&s.data) {
        return Err(not_hll());
    }
    Ok(Some(edit_str(s, f)))
}

fn edit_str<R>(s: &mut Str, f: impl FnOnce(&mut Vec<u8>) -> R) -> R {
    let mut buf = Vec::from(std::mem::take(&mut s.data));
    let r = f(&mut buf);
    *s = Str::modified(Bytes::from(buf));
    r
}

fn pfadd(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let key = &argv[1];
    let max_bytes = sparse_max_bytes(ctx);
    let add_all = |buf: &mut Vec<u8>| -> Result<u64, sketch::Corrupt> {
        let mut updated = 0;
        for ele in &argv[2..] {
            if sketch::add(buf, ele, max_bytes)? {
                updated += 1;
            }
        }
        if updated > 0 {
            sketch::invalidate_cache(buf);
        }
        Ok(updated)
    };
    let updated = match edit_hll(ctx, key, add_all)? {
        Some(r) => r.map_err(|_| corrupt())?,
        None => {
            let mut buf = sketch::new_sparse();
            sketch::invalidate_cache(&mut buf);
            let r = add_all(&mut buf);
            ctx.db()
                .set(owned(key), Value::Str(Str::modified(Bytes::from(buf))));
            r.map_err(|_| corrupt())? + 1
        }
    };
    if updated > 0 {
        ctx.db().touch(key);
        ctx.dirty(updated);
    }
    ctx.out.int(i64::from(updated > 0));
    Ok(())
}

fn pfcount(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    if argv.len() > 2 {
        let mut max = Box::new([0u8; sketch::REGISTERS]);
        for key in &argv[1..] {
            let (v, _) = lookup_read(ctx, key);
            let Some(v) = v else { continue };
            sketch::merge_into(&mut max, hll_of(v)?).map_err(|_| corrupt())?;
        }
        let card = sketch::count_raw(&max);
        ctx.out.int(card as i64);
        return Ok(());
    }
    let key = &argv[1];
    let now = ctx.now;
    let node = &mut *ctx.node;
    let found = node.dbs[ctx.client.db].get_mut(key, now);
    count_lookup(&mut node.stats, found.is_some());
    let Some(v) = found else {
        ctx.out.int(0);
        return Ok(());
    };
    let cached = sketch::cached_card(hll_of(v)?);
    let Value::Str(s) = v else {
        return Err(msg::WRONGTYPE.into());
    };
    // Redis unshares the string (it becomes `raw`) even when the cache answers.
    s.raw = true;
    if let Some(card) = cached {
        ctx.out.int(card as i64);
        return Ok(());
    }
    let card = sketch::count(&s.data).map_err(|_| corrupt())?;
    edit_str(s, |buf| sketch::set_cached_card(buf, card));
    // A read that writes the cache: Redis counts it as a change, so replicas get PFCOUNT too.
    ctx.db().touch(key);
    ctx.dirty(1);
    ctx.out.int(card as i64);
    Ok(())
}

fn pfmerge(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let mut max = Box::new([0u8; sketch::REGISTERS]);
    let mut use_dense = false;
    // The destination is a source too.
    for key in &argv[1..] {
        let (v, _) = lookup_read(ctx, key);
        let Some(v) = v else { continue };
        let s = hll_of(v)?;
        use_dense |= s[4] == sketch::DENSE;
        sketch::merge_into(&mut max, s).map_err(|_| corrupt())?;
    }
    let key = &argv[1];
    let max_bytes = sparse_max_bytes(ctx);
    let fill = |buf: &mut Vec<u8>| -> Result<(), sketch::Corrupt> {
        if use_dense {
            sketch::to_dense(buf)?;
        }
        for (i, &m) in max.iter().enumerate() {
            if m == 0 {
                continue;
            }
            if buf[4] == sketch::DENSE {
                sketch::dense_raise(&mut buf[sketch::HDR..], i, m);
            } else {
                // Redis ignores a failure here (the sources were checked already).
                let _ = sketch::sparse_set(buf, i, m, max_bytes);
            }
        }
        sketch::invalidate_cache(buf);
        Ok(())
    };
    let now = ctx.now;
    let r = match write_typed::<Str>(ctx.db(), key, now)? {
        Some(s) => edit_str(s, fill),
        None => {
            let mut buf = sketch::new_sparse();
            let r = fill(&mut buf);
            ctx.db()
                .set(owned(key), Value::Str(Str::modified(Bytes::from(buf))));
            r
        }
    };
    r.map_err(|_| corrupt())?;
    ctx.modified(key);
    ctx.out.ok();
    Ok(())
}

fn pfdebug(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let (sub, key) = (&argv[1], &argv[2]);
    let now = ctx.now;
    let s = match write_typed::<Str>(ctx.db(), key, now)? {
        Some(s) => s,
        None => return Err("ERR The specified key does not exist".into()),
    };
    if !sketch::is_valid(&s.data) {
        return Err(not_hll());
    }
    let lower = sub.to_ascii_lowercase();
    match &lower[..] {
        b"getreg" | b"todense" => {
            let converted = if s.data[4] == sketch::SPARSE {
                edit_str(s, sketch::to_dense).map_err(|_| corrupt())?;
                true
            } else {
                // Redis unshares the string even when it stays as it is.
                s.raw = true;
                false
            };
            let regs: Option<Vec<i64>> = (&lower[..] == b"getreg").then(|| {
                let data = &s.data[sketch::HDR..];
                (0..sketch::REGISTERS)
                    .map(|i| i64::from(sketch::dense_get(data, i)))
                    .collect()
            });
            if converted {
                // Forces propagation of the encoding change.
                ctx.dirty(1);
            }
            match regs {
                Some(regs) => {
                    ctx.out.array(regs.len());
                    for r in regs {
                        ctx.out.int(r);
                    }
                }
                None => ctx.out.int(i64::from(converted)),
            }
        }
        b"decode" => {
            if s.data[4] != sketch::SPARSE {
                return Err("ERR HLL encoding is not sparse".into());
            }
            let text = sketch::decode(&s.data);
            s.raw = true;
            ctx.out.bulk(text.as_bytes());
        }
        b"encoding" => {
            let enc = if s.data[4] == sketch::DENSE {
                "dense"
            } else {
                "sparse"
            };
            s.raw = true;
            ctx.out.simple(enc);
        }
        _ => {
            let mut e = b"ERR Unknown PFDEBUG subcommand '".to_vec();
            e.extend_from_slice(sub);
            e.push(b'\'');
            return Err(e.into());
        }
    }
    Ok(())
}

fn pfselftest(ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CmdResult {
    let max_bytes = sparse_max_bytes(ctx);
    // A xorshift generator stands in for C's rand(): the test only needs varied values.
    let mut state = crate::keyspace::random_u64() | 1;
    let rand = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state >> 33
    };
    sketch::self_test(1000, 10_000_000, max_bytes, rand)?;
    ctx.out.ok();
    Ok(())
}
