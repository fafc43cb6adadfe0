//! OBJECT ENCODING | REFCOUNT | IDLETIME | FREQ | HELP.
//!
//! IDLETIME and FREQ read the key's access stamp, which lookups keep as Redis's `lookupKey`
//! does (the LRU clock, or under an LFU policy the logarithmic counter with its decay).

use bytes::Bytes;
use rediscover::error_codes::{unknown_subcommand, wrong_arity};

use super::super::lookup::lookup_read_notouch;
use super::super::{CmdResult, Ctx};
use crate::keyspace::Value;
use crate::memory::{self, Access};

const HELP: &[&str] = &[
    "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned integer is",
    "    proportional to the logarithm of the recent access frequency of the key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
    "HELP",
    "    Prints this help.",
];

const NO_LFU: &str = "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.";
const NO_LRU: &str = "ERR An LRU maxmemory policy is not selected, access time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.";

pub(super) fn object(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let sub = &argv[1];
    let info = rediscover::command::lookup(b"object")
        .and_then(|c| c.subcommand(sub))
        .ok_or_else(|| unknown_subcommand("object", sub))?;
    if !info.arity_ok(argv.len()) {
        return Err(wrong_arity(info.name).into());
    }
    if info.name == "object|help" {
        ctx.out.array(HELP.len());
        for line in HELP {
            ctx.out.simple(line);
        }
        return Ok(());
    }
    let access = ctx.node.memory.settings.access;
    let lfu = matches!(access, Access::Lfu { .. });
    let now = ctx.now;
    let Some((value, lru)) = lookup_read_notouch(ctx, &argv[2]).0 else {
        ctx.out.null();
        return Ok(());
    };
    match info.name {
        "object|encoding" => {
            let enc = value.encoding();
            ctx.out.bulk(enc.as_bytes());
        }
        "object|refcount" => {
            let shared = matches!(value, Value::Str(s) if s.is_shared_integer());
            ctx.out.int(if shared { i64::from(i32::MAX) } else { 1 });
        }
        "object|idletime" if lfu => return Err(NO_LRU.into()),
        "object|idletime" => ctx.out.int((memory::idle_ms(lru, now) / 1000) as i64),
        "object|freq" => match access {
            Access::Lfu { decay_time, .. } => ctx
                .out
                .int(i64::from(memory::lfu_counter(lru, now, decay_time))),
            Access::Lru => return Err(NO_LFU.into()),
        },
        _ => return Err(unknown_subcommand("object", sub).into()),
    }
    Ok(())
}
