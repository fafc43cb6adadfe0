//! What a key and its value would cost in a Redis 7.0 built with jemalloc: Redis's own
//! `objectComputeSize` (MEMORY USAGE) over Redis's structures, with jemalloc's size classes,
//! computed from this server's values.
//!
//! The numbers are estimates of Redis's memory, not of this process's: a string, an intset or a
//! listpack hash comes out at Redis's byte count; hashtables, skiplists and quicklists are
//! sampled as Redis samples them (the first `samples` elements or nodes, scaled to the whole).

use crate::keyspace::{Hash, List, Set, Str, Value, ZSet};

/// `sizeof(robj)`.
const ROBJ: usize = 16;
/// `sizeof(dictEntry)`.
pub const DICT_ENTRY: usize = 24;
/// `sizeof(dict)` (7.0: type, two tables, two used counts, rehashidx, pause, exps).
pub const DICT: usize = 56;
/// `sizeof(quicklist)`.
const QUICKLIST: usize = 40;
/// `sizeof(quicklistNode)`, as jemalloc rounds it.
const QUICKLIST_NODE: usize = 40;
/// `sizeof(zset)` + `sizeof(zskiplist)`.
const ZSET_SKIPLIST: usize = 16 + 32;
/// A skiplist header node: `zskiplistNode` with 32 levels.
const ZSL_HEADER: usize = 24 + 32 * 16;
/// A skiplist node's expected allocation: `24 + 16 * level` bytes with Redis's random level
/// (p = 1/4), averaged over jemalloc's classes (48 for one level, 64 for two, ...).
const ZSL_NODE_AVG: usize = 53;
/// Default MEMORY USAGE samples.
pub const DEFAULT_SAMPLES: usize = 5;

/// jemalloc's size class for an allocation of `n` bytes (`zmalloc_size`).
pub fn jemalloc_size(n: usize) -> usize {
    if n <= 8 {
        8
    } else if n <= 128 {
        n.div_ceil(16) * 16
    } else {
        let step = n.next_power_of_two() / 8;
        n.div_ceil(step) * step
    }
}

/// The allocation of an sds string of `len` bytes (`sdsZmallocSize` of `sdsnewlen`).
pub fn sds_size(len: usize) -> usize {
    let header = if len < 32 {
        1
    } else if len < 256 {
        3
    } else if len < 65536 {
        5
    } else if (len as u64) < (1 << 32) {
        9
    } else {
        17
    };
    jemalloc_size(header + len + 1)
}

/// Bytes one listpack entry takes (encoding, data, backlen), for an element as Redis stores it
/// (integers in their compact forms).
fn lp_entry(item: &[u8]) -> usize {
    let data = match rediscover::resp::parse_integer(item).filter(|_| item.len() <= 20) {
        Some(n) if (0..=127).contains(&n) => 1,
        Some(n) if (-4096..4096).contains(&n) => 2,
        Some(n) if (-32768..32768).contains(&n) => 3,
        Some(n) if (-(1 << 23)..(1 << 23)).contains(&n) => 4,
        Some(n) if (-(1 << 31)..(1 << 31)).contains(&n) => 5,
        Some(_) => 9,
        None if item.len() < 64 => 1 + item.len(),
        None if item.len() < 4096 => 2 + item.len(),
        None => 5 + item.len(),
    };
    data + backlen(data)
}

/// Bytes of a listpack's backlen for an entry of `n` bytes.
fn backlen(n: usize) -> usize {
    match n {
        0..=127 => 1,
        128..=16383 => 2,
        16384..=2097151 => 3,
        2097152..=268435455 => 4,
        _ => 5,
    }
}

/// Header and terminator of a listpack.
const LP_OVERHEAD: usize = 6 + 1;

/// A score as a sorted-set listpack holds it (`d2string`, then integer compaction).
fn lp_score(score: f64) -> usize {
    if score.fract() == 0.0 && score.abs() < 1e17 {
        lp_entry((score as i64).to_string().as_bytes())
    } else {
        lp_entry(rediscover::resp::format_double(score).as_bytes())
    }
}

/// Slots of a Redis dict grown one insert at a time to `n` entries.
fn dict_slots(n: usize) -> usize {
    if n == 0 {
        0
    } else {
        n.next_power_of_two().max(4)
    }
}

/// Scales the cost of the `samples` elements measured to `total` elements, as Redis does
/// (`(double)elesize/samples*total`).
fn scaled(elesize: usize, samples: usize, total: usize) -> usize {
    if samples == 0 {
        0
    } else {
        (elesize as f64 / samples as f64 * total as f64) as usize
    }
}

fn samples_or_all(samples: usize) -> usize {
    if samples == 0 {
        usize::MAX
    } else {
        samples
    }
}

/// `objectComputeSize`: the value's estimated size, sampling up to `samples` elements
/// (0: all of them).
pub fn value_size(value: &Value, samples: usize) -> usize {
    let samples = samples_or_all(samples);
    match value {
        Value::Str(s) => str_size(s),
        Value::List(l) => list_size(l, samples),
        Value::Hash(h) => hash_size(h, samples),
        Value::Set(s) => set_size(s, samples),
        Value::ZSet(z) => zset_size(z, samples),
        Value::Stream(s) => stream_size(s, samples),
    }
}

/// Redis's `streamRadixTreeMemoryUsage`: 16 bytes per element, a 4-byte header and 30 words
/// per node.
fn rax_usage(elements: usize, nodes: u64) -> usize {
    elements * 16 + nodes as usize * (4 + 8 * 30)
}

/// `objectComputeSize` for a stream: the stream, its rax, its listpacks (the first `samples`
/// measured, the last one exactly), and its groups' and consumers' PELs.
fn stream_size(s: &crate::keyspace::stream::Stream, samples: usize) -> usize {
    use crate::keyspace::stream::Stream;
    const STREAM: usize = 80;
    const GROUP: usize = 40;
    const NACK: usize = 24;
    const CONSUMER: usize = 24;
    let mut size = ROBJ + STREAM + rax_usage(s.nodes.len(), s.rax_nodes());
    let lp = |n: &crate::keyspace::stream::Node| jemalloc_size(n.lp_bytes());
    let measured: Vec<usize> = s.nodes.values().take(samples).map(lp).collect();
    if s.nodes.len() <= measured.len() {
        size += measured.iter().sum::<usize>();
    } else {
        let average = measured.iter().sum::<usize>() / measured.len().max(1);
        size += average * (s.nodes.len() - 1);
        size += s.nodes.values().next_back().map(lp).unwrap_or(0);
    }
    for g in s.groups.values() {
        size += GROUP + rax_usage(g.pel.len(), Stream::rax_nodes_of(g.pel.keys()));
        size += NACK * g.pel.len();
        for (name, c) in &g.consumers {
            size += CONSUMER + name.len();
            size += rax_usage(c.pel.len(), Stream::rax_nodes_of(c.pel.iter()));
        }
    }
    size
}

/// What MEMORY USAGE reports for a key: the value, the key's sds and its dict entry.
pub fn key_size(key: &[u8], value: &Value, samples: usize) -> usize {
    value_size(value, samples) + sds_size(key.len()) + DICT_ENTRY
}

fn str_size(s: &Str) -> usize {
    match s.encoding() {
        "int" => ROBJ,
        "embstr" => jemalloc_size(ROBJ + 3 + s.data.len() + 1),
        _ => ROBJ + sds_size(s.data.len()),
    }
}

fn list_size(l: &List, samples: usize) -> usize {
    let mut elesize = 0;
    let mut n = 0;
    for bytes in l.node_bytes().take(samples) {
        elesize += QUICKLIST_NODE + jemalloc_size(bytes + LP_OVERHEAD);
        n += 1;
    }
    ROBJ + QUICKLIST + scaled(elesize, n, l.node_count())
}

fn hash_size(h: &Hash, samples: usize) -> usize {
    match h {
        Hash::Listpack(pairs) => {
            let lp: usize = pairs.iter().map(|(f, v)| lp_entry(f) + lp_entry(v)).sum();
            ROBJ + jemalloc_size(lp + LP_OVERHEAD)
        }
        Hash::Table(map) => {
            let mut elesize = 0;
            let mut n = 0;
            for (f, v) in map.iter().take(samples) {
                elesize += sds_size(f.len()) + sds_size(v.len()) + DICT_ENTRY;
                n += 1;
            }
            ROBJ + DICT + 8 * dict_slots(map.len()) + scaled(elesize, n, map.len())
        }
    }
}

fn set_size(s: &Set, samples: usize) -> usize {
    match s {
        Set::Intset(v) => {
            let (lo, hi) = (
                v.first().copied().unwrap_or(0),
                v.last().copied().unwrap_or(0),
            );
            let width = if lo >= i64::from(i16::MIN) && hi <= i64::from(i16::MAX) {
                2
            } else if lo >= i64::from(i32::MIN) && hi <= i64::from(i32::MAX) {
                4
            } else {
                8
            };
            ROBJ + jemalloc_size(8 + width * v.len())
        }
        Set::Table(set) => {
            let mut elesize = 0;
            let mut n = 0;
            for m in set.iter().take(samples) {
                elesize += DICT_ENTRY + sds_size(m.len());
                n += 1;
            }
            ROBJ + DICT + 8 * dict_slots(set.len()) + scaled(elesize, n, set.len())
        }
    }
}

fn zset_size(z: &ZSet, samples: usize) -> usize {
    if z.listpack {
        let lp: usize = z
            .ordered
            .iter()
            .map(|(s, m)| lp_entry(m) + lp_score(s.0))
            .sum();
        return ROBJ + jemalloc_size(lp + LP_OVERHEAD);
    }
    let mut elesize = 0;
    let mut n = 0;
    for (_, m) in z.ordered.iter().take(samples) {
        elesize += sds_size(m.len()) + DICT_ENTRY + ZSL_NODE_AVG;
        n += 1;
    }
    ROBJ + ZSET_SKIPLIST
        + DICT
        + 8 * dict_slots(z.len())
        + jemalloc_size(ZSL_HEADER)
        + scaled(elesize, n, z.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jemalloc_classes() {
        let classes: Vec<usize> = [1, 8, 9, 16, 17, 33, 65, 120, 129, 161, 257, 1025, 5000]
            .iter()
            .map(|&n| jemalloc_size(n))
            .collect();
        assert_eq!(
            classes,
            [8, 8, 16, 16, 32, 48, 80, 128, 160, 192, 320, 1280, 5120]
        );
    }
}
