//! MEMORY USAGE | STATS | DOCTOR | MALLOC-STATS | PURGE | HELP, from the node's own memory
//! figures ([`crate::memory`]).

use bytes::Bytes;
use rediscover::error_codes::msg;
use rediscover::resp::parse_integer;

use super::server::{help, subcommand};
use super::{eq_ic, CmdResult, Ctx, Handler};
use crate::memory::{size, Report};

pub(crate) const COMMANDS: &[(&str, Handler)] = &[("memory", memory)];

const HELP: &[&str] = &[
    "DOCTOR",
    "    Return memory problems reports.",
    "MALLOC-STATS",
    "    Return internal statistics report from the memory allocator.",
    "PURGE",
    "    Attempt to purge dirty pages for reclamation by the allocator.",
    "STATS",
    "    Return information about the memory usage of the server.",
    "USAGE <key> [SAMPLES <count>]",
    "    Return memory in bytes used by <key> and its value. Nested values are",
    "    sampled up to <count> times (default: 5, 0 means sample all).",
];

/// `dictMetadataSize` of a cluster node's main dict: the slot-to-keys links of each key.
const CLUSTER_KEY_METADATA: u64 = 16;

fn memory(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    match subcommand(argv)? {
        "memory|help" => help(ctx, "MEMORY", HELP),
        "memory|usage" => return usage(ctx, argv),
        "memory|stats" => stats(ctx),
        "memory|doctor" => {
            let text = doctor(&Report::new(ctx.node));
            ctx.out.verbatim(b"txt", text.as_bytes());
        }
        // Nodes share their process's allocator, so there are no per-node allocator
        // statistics: the reply of a Redis built without jemalloc.
        "memory|malloc-stats" => ctx
            .out
            .bulk(b"Stats not supported for the current allocator"),
        "memory|purge" => ctx.out.ok(),
        _ => unreachable!("the shared table lists MEMORY's subcommands"),
    }
    Ok(())
}

fn usage(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let mut samples = size::DEFAULT_SAMPLES;
    let mut j = 3;
    while j < argv.len() {
        if eq_ic(&argv[j], "samples") && j + 1 < argv.len() {
            let n = parse_integer(&argv[j + 1]).ok_or(msg::NOT_INTEGER)?;
            if n < 0 {
                return Err(msg::SYNTAX.into());
            }
            samples = if n == 0 { usize::MAX } else { n as usize };
            j += 2;
        } else {
            return Err(msg::SYNTAX.into());
        }
    }
    let cluster = ctx.node.cluster.is_some();
    let db = &ctx.node.dbs[ctx.client.db];
    match db.peek(&argv[2]) {
        None => ctx.out.null(),
        Some(value) => {
            let mut n = size::key_size(&argv[2], value, samples) as u64;
            if cluster {
                n += CLUSTER_KEY_METADATA;
            }
            ctx.out.int(n as i64);
        }
    }
    Ok(())
}

/// A ratio as Redis computes it, in single precision, for `addReplyDouble`.
fn f32_ratio(x: f64) -> f64 {
    f64::from(x as f32)
}

fn stats(ctx: &mut Ctx<'_>) {
    let r = Report::new(ctx.node);
    let cluster = ctx.node.cluster.is_some();
    let slot_to_keys = |db: usize| -> u64 {
        if cluster {
            CLUSTER_KEY_METADATA * ctx.node.dbs[db].len() as u64
        } else {
            0
        }
    };
    let slot_bytes: u64 = r.dbs.iter().map(|&(i, _, _)| slot_to_keys(i)).sum();
    let overhead = r.overhead + slot_bytes;
    let dataset = r.total.saturating_sub(overhead);
    let net = r.total.saturating_sub(r.startup).max(1);
    let dbs: Vec<(usize, u64, u64, u64)> = r
        .dbs
        .iter()
        .map(|&(i, main, expires)| (i, main, expires, slot_to_keys(i)))
        .collect();
    let aof_buffer = ctx.node.repl.aof.buf.capacity() as u64;
    let out = &mut *ctx.out;
    out.map(27 + dbs.len());
    let int = |out: &mut rediscover::resp::ReplyWriter, name: &str, v: u64| {
        out.bulk(name.as_bytes());
        out.int(v as i64);
    };
    int(out, "peak.allocated", r.peak);
    int(out, "total.allocated", r.total);
    int(out, "startup.allocated", r.startup);
    int(out, "replication.backlog", r.backlog);
    int(out, "clients.slaves", 0);
    int(out, "clients.normal", 0);
    int(out, "cluster.links", 0);
    int(out, "aof.buffer", aof_buffer);
    int(out, "lua.caches", 0);
    int(out, "functions.caches", r.functions_caches);
    for (i, main, expires, slots) in dbs {
        out.bulk(format!("db.{i}").as_bytes());
        out.map(3);
        int(out, "overhead.hashtable.main", main);
        int(out, "overhead.hashtable.expires", expires);
        int(out, "overhead.hashtable.slot-to-keys", slots);
    }
    int(out, "overhead.total", overhead);
    int(out, "keys.count", r.keys);
    int(
        out,
        "keys.bytes-per-key",
        net.checked_div(r.keys).unwrap_or(0),
    );
    int(out, "dataset.bytes", dataset);
    out.bulk(b"dataset.percentage");
    out.double(f32_ratio(dataset as f64 * 100.0 / net as f64));
    out.bulk(b"peak.percentage");
    out.double(f32_ratio(r.peak_perc()));
    // No allocator of its own: the allocator's figures are the node's, with no fragmentation.
    int(out, "allocator.allocated", r.total);
    int(out, "allocator.active", r.total);
    int(out, "allocator.resident", r.total);
    for name in ["allocator-fragmentation", "allocator-rss", "rss-overhead"] {
        out.bulk(format!("{name}.ratio").as_bytes());
        out.double(1.0);
        int(out, &format!("{name}.bytes"), 0);
    }
    out.bulk(b"fragmentation");
    out.double(1.0);
    int(out, "fragmentation.bytes", 0);
}

/// `getMemoryDoctorReport`, for the conditions this node can have: nearly empty (under 5 MB), a
/// peak over 150% of the memory used now, or nothing to report. (Fragmentation, RSS, client
/// and replica buffers and the script cache are not counted here, so never reported.)
fn doctor(r: &Report) -> String {
    if r.total < 5 * 1024 * 1024 {
        return "Hi Sam, this instance is empty or is using very little memory, my issues detector can't be used in these conditions. Please, leave for your mission on Earth and fill it with some data. The new Sam and I will be back to our programming as soon as I finished rebooting.\n".into();
    }
    if (r.peak as f32 / r.total as f32) > 1.5 {
        return "Sam, I detected a few issues in this Redis instance memory implants:\n\n * Peak memory: In the past this instance used more than 150% the memory that is currently using. The allocator is normally not able to release memory after a peak, so you can expect to see a big fragmentation ratio, however this is actually harmless and is only due to the memory peak, and if the Redis instance Resident Set Size (RSS) is currently bigger than expected, the memory will be used as soon as you fill the Redis instance with more data. If the memory peak was only occasional and you want to try to reclaim memory, please try the MEMORY PURGE command, otherwise the only other option is to shutdown and restart the instance.\n\nI'm here to keep you safe, Sam. I want to help you.\n".into();
    }
    "Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base.\n".into()
}
