//! XREAD and XREADGROUP (`xreadCommand`), with BLOCK through the server's blocking seam.
//!
//! A blocked client's command runs again when one of its keys is signalled (XADD, a new key),
//! with `ctx.ready_key` set: as in Redis it is then served from that key only. `$` is resolved
//! when the client blocks — the command is parked as its rewritten form with concrete ids and
//! the count Redis uses for blocked reads (1000 when none was given).

use bytes::Bytes;
use rediscover::error_codes::msg;
use rediscover::resp::ReplyWriter;

use super::{eq_ic, parse_i64, parse_strict_id, write_entry, write_id, CmdResult, Ctx, Error};
use crate::keyspace::stream::{Group, Stream, StreamId};
use crate::keyspace::Value;
use crate::node::TimeoutReply;

/// What the client asked for one stream.
#[derive(Clone, Copy)]
enum Want {
    /// Entries above this id.
    After(StreamId),
    /// `>`: entries never delivered to the group.
    New,
}

const XREAD_BLOCKED_DEFAULT_COUNT: i64 = 1000;

pub(super) fn xread(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let xreadgroup = argv[0].len() == 10;
    let mut timeout: Option<i64> = None;
    let mut count: i64 = 0;
    let mut streams_arg = 0;
    let mut nstreams = 0;
    let mut group: Option<(&Bytes, &Bytes)> = None;
    let mut noack = false;
    let mut i = 1;
    while i < argv.len() {
        let more = argv.len() - i - 1;
        let o = &argv[i][..];
        if eq_ic(o, "block") && more > 0 {
            i += 1;
            let t = rediscover::resp::parse_integer(&argv[i])
                .ok_or(Error::from("ERR timeout is not an integer or out of range"))?;
            if t < 0 {
                return Err(msg::TIMEOUT_NEGATIVE.into());
            }
            timeout = Some(t);
        } else if eq_ic(o, "count") && more > 0 {
            i += 1;
            count = parse_i64(&argv[i])?.max(0);
        } else if eq_ic(o, "streams") && more > 0 {
            streams_arg = i + 1;
            let n = argv.len() - streams_arg;
            if n % 2 != 0 {
                return Err("ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.".into());
            }
            nstreams = n / 2;
            break;
        } else if eq_ic(o, "group") && more >= 2 {
            if !xreadgroup {
                return Err(
                    "ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead."
                        .into(),
                );
            }
            group = Some((&argv[i + 1], &argv[i + 2]));
            i += 2;
        } else if eq_ic(o, "noack") {
            if !xreadgroup {
                return Err(
                    "ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead."
                        .into(),
                );
            }
            noack = true;
        } else {
            return Err(msg::SYNTAX.into());
        }
        i += 1;
    }
    if streams_arg == 0 {
        return Err(msg::SYNTAX.into());
    }
    if xreadgroup && group.is_none() {
        return Err("ERR Missing GROUP option for XREADGROUP".into());
    }
    let keys = &argv[streams_arg..streams_arg + nstreams];
    let id_args = &argv[streams_arg + nstreams..];
    let ready_key = ctx.ready_key.clone();
    let mut wants = Vec::with_capacity(nstreams);
    let mut dollar = false;
    for (key, arg) in keys.iter().zip(id_args) {
        if ready_key.as_ref().is_some_and(|ready| ready != key) {
            // A parked client runs again for its ready key only; its other keys are not
            // looked at (Redis serves it from that key's blocked-client list).
            wants.push(Want::New);
            continue;
        }
        let value = if ready_key.is_some() {
            // A parked reader being served: Redis reads the key without counting a hit or
            // publishing a miss (serveClientsBlockedOnStreamKey's lookupKeyWrite).
            let (now, db) = (ctx.now, ctx.client.db);
            ctx.node.dbs[db].get(key, now)
        } else {
            super::super::lookup::lookup_read(ctx, key).0
        };
        let s = match value {
            None => None,
            Some(Value::Stream(s)) => Some(&**s),
            Some(_) => return Err(msg::WRONGTYPE.into()),
        };
        if let Some((g, _)) = group {
            if ready_key.is_some() {
                // A group that went away while its reader waited: Redis's blocked-client error.
                if s.is_none_or_missing_group(g) {
                    return Err(
                        "NOGROUP the consumer group this client was blocked on no longer exists"
                            .into(),
                    );
                }
            }
            if s.is_none_or_missing_group(g) {
                return Err(format!(
                    "NOGROUP No such key '{}' or consumer group '{}' in XREADGROUP with GROUP option",
                    text(key),
                    text(g)
                )
                .into());
            }
        }
        if &arg[..] == b"$" {
            if xreadgroup {
                return Err("ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.".into());
            }
            dollar = true;
            wants.push(Want::After(s.map_or(StreamId::MIN, |s| s.last_id)));
        } else if &arg[..] == b">" {
            if !xreadgroup {
                return Err("ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.".into());
            }
            wants.push(Want::New);
        } else {
            match parse_strict_id(arg, 0)? {
                // Redis marks `>` with the largest id: given explicitly, it means `>` too.
                StreamId::MAX if xreadgroup => wants.push(Want::New),
                id => wants.push(Want::After(id)),
            }
        }
    }

    // Serve what can be served now (on a rerun for a parked client: its ready key only).
    let mut body = ReplyWriter::new(ctx.out.is_resp3());
    let mut served = 0;
    let mut ops: Vec<Vec<Bytes>> = Vec::new();
    let ready = ctx.ready_key.clone();
    let only = ready
        .as_ref()
        .and_then(|k| keys.iter().position(|key| key == k));
    for (idx, key) in keys.iter().enumerate() {
        if ready.is_some() && only != Some(idx) {
            continue;
        }
        if ready.is_none() {
            // Redis looks every key up a second time to serve it (lookupKeyRead again: a
            // second hit, or a second `keymiss`); a parked reader's rerun is served without.
            let (value, _) = super::super::lookup::lookup_read(ctx, key);
            if value.is_none() {
                continue;
            }
        }
        let served_here = match group {
            None => serve_plain(ctx, key, wants[idx], count, &mut body),
            Some((g, consumer)) => {
                let opts = GroupRead {
                    key,
                    group: g,
                    consumer,
                    noack,
                    count,
                };
                serve_group(ctx, &opts, wants[idx], &mut body, &mut ops)?
            }
        };
        if served_here {
            served += 1;
        }
    }
    if group.is_some() {
        // Replicated as the effects only (XCLAIM, XGROUP SETID / CREATECONSUMER).
        ctx.propagate_as(|| ops);
    }
    if served > 0 {
        if ctx.out.is_resp3() {
            ctx.out.map(served);
        } else {
            ctx.out.array(served);
        }
        ctx.out.raw(&body.take());
        return Ok(());
    }
    let Some(ms) = timeout else {
        ctx.out.null_array();
        return Ok(());
    };
    let deadline = if ms == 0 {
        None
    } else {
        std::time::Instant::now().checked_add(std::time::Duration::from_millis(ms as u64))
    };
    // Parked as the command with `$` resolved and the blocked read's count.
    let mut rerun = Vec::with_capacity(argv.len() + 4);
    rerun.push(argv[0].clone());
    rerun.push(Bytes::from_static(b"BLOCK"));
    rerun.push(Bytes::from(ms.to_string()));
    rerun.push(Bytes::from_static(b"COUNT"));
    let eff = if count > 0 {
        count
    } else {
        XREAD_BLOCKED_DEFAULT_COUNT
    };
    rerun.push(Bytes::from(eff.to_string()));
    if let Some((g, c)) = group {
        rerun.push(Bytes::from_static(b"GROUP"));
        rerun.push(g.clone());
        rerun.push(c.clone());
    }
    if noack {
        rerun.push(Bytes::from_static(b"NOACK"));
    }
    rerun.push(Bytes::from_static(b"STREAMS"));
    rerun.extend(keys.iter().map(super::owned));
    for (w, arg) in wants.iter().zip(id_args) {
        rerun.push(match w {
            Want::After(id) if dollar => id.to_bytes(),
            _ => super::owned(arg),
        });
    }
    let mut unique: Vec<Bytes> = Vec::new();
    for key in keys {
        if !unique.contains(key) {
            unique.push(super::owned(key));
        }
    }
    ctx.block_as(rerun, unique, deadline, TimeoutReply::NullArray);
    Ok(())
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

trait GroupCheck {
    fn is_none_or_missing_group(&self, g: &[u8]) -> bool;
}

impl GroupCheck for Option<&Stream> {
    fn is_none_or_missing_group(&self, g: &[u8]) -> bool {
        !self.is_some_and(|s| s.groups.contains_key(g))
    }
}

/// XREAD on one stream: entries after the id, if there are any.
fn serve_plain(
    ctx: &mut Ctx<'_>,
    key: &Bytes,
    want: Want,
    count: i64,
    body: &mut ReplyWriter,
) -> bool {
    let now = ctx.now;
    let Some(Value::Stream(s)) = ctx.db().get(key, now) else {
        return false;
    };
    let Want::After(gt) = want else {
        return false;
    };
    if s.length == 0 || s.last_valid_id() <= gt {
        return false;
    }
    let Some(start) = gt.incr() else {
        return false;
    };
    let entries = s.range(start, StreamId::MAX, false, count as usize);
    if !body.is_resp3() {
        body.array(2);
    }
    body.bulk(key);
    body.array(entries.len());
    for e in entries {
        write_entry(body, e);
    }
    true
}

struct GroupRead<'a> {
    key: &'a Bytes,
    group: &'a Bytes,
    consumer: &'a Bytes,
    noack: bool,
    count: i64,
}

/// XREADGROUP on one stream: the consumer's history (an explicit id) or new entries (`>`).
fn serve_group(
    ctx: &mut Ctx<'_>,
    r: &GroupRead<'_>,
    want: Want,
    body: &mut ReplyWriter,
    ops: &mut Vec<Vec<Bytes>>,
) -> Result<bool, Error> {
    let now = ctx.now;
    let db = ctx.client.db;
    let Some(Value::Stream(s)) = ctx.node.dbs[db].get_mut(r.key, now) else {
        return Ok(false);
    };
    let Some(mut g) = s.groups.remove(&r.group[..]) else {
        return Ok(false);
    };
    let (start, history) = match want {
        Want::After(id) => (id.incr(), true),
        Want::New => {
            if s.length > 0 && s.last_valid_id() > g.last_id {
                (g.last_id.incr(), false)
            } else {
                s.groups.insert(super::owned(r.group), g);
                return Ok(false);
            }
        }
    };
    let created = g.touch_consumer(r.consumer, now);
    let mut dirty = 1;
    if created {
        dirty += 1;
        if r.noack {
            ops.push(vec![
                Bytes::from_static(b"XGROUP"),
                Bytes::from_static(b"CREATECONSUMER"),
                super::owned(r.key),
                super::owned(r.group),
                super::owned(r.consumer),
            ]);
        }
    }
    if !body.is_resp3() {
        body.array(2);
    }
    body.bulk(r.key);
    match start {
        None => body.array(0),
        Some(start) if history => serve_history(s, &mut g, r, start, now, body),
        Some(start) => serve_new(s, &mut g, r, start, now, body, ops),
    }
    s.groups.insert(super::owned(r.group), g);
    ctx.dirty(dirty);
    if created {
        ctx.notify(crate::notify::class::STREAM, "xgroup-createconsumer", r.key);
    }
    Ok(true)
}

/// Entries of the consumer's own PEL from `start` (deleted ones as `[id, nil]`).
fn serve_history(
    s: &Stream,
    g: &mut Group,
    r: &GroupRead<'_>,
    start: StreamId,
    now: i64,
    body: &mut ReplyWriter,
) {
    let ids: Vec<StreamId> = g
        .consumers
        .get(&r.consumer[..])
        .map(|c| {
            let it = c.pel.range(start..).copied();
            if r.count > 0 {
                it.take(r.count as usize).collect()
            } else {
                it.collect()
            }
        })
        .unwrap_or_default();
    body.array(ids.len());
    for id in ids {
        match s.get(id) {
            Some(e) => {
                write_entry(body, e);
                if let Some(n) = g.pel.get_mut(&id) {
                    n.delivery_time = now;
                    n.delivery_count += 1;
                }
            }
            None => {
                body.array(2);
                write_id(body, id);
                body.null_array();
            }
        }
    }
}

/// New entries from `start`: they move the group's last id and (without NOACK) enter the
/// PEL, each replicated as Redis's `streamPropagateXCLAIM` does.
fn serve_new(
    s: &Stream,
    g: &mut Group,
    r: &GroupRead<'_>,
    start: StreamId,
    now: i64,
    body: &mut ReplyWriter,
    ops: &mut Vec<Vec<Bytes>>,
) {
    let entries = s.range(start, StreamId::MAX, false, r.count.max(0) as usize);
    let mut propagate_last_id = false;
    body.array(entries.len());
    for e in entries {
        if e.id > g.last_id {
            s.advance_group(g, e.id);
            if r.noack {
                propagate_last_id = true;
            }
        }
        write_entry(body, e);
        if !r.noack {
            let nack = g.assign(e.id, r.consumer);
            nack.delivery_time = now;
            nack.delivery_count = 1;
            let (time, count) = (nack.delivery_time, nack.delivery_count);
            ops.push(xclaim_op(
                r.key, r.group, r.consumer, e.id, time, count, g.last_id,
            ));
        }
    }
    if propagate_last_id {
        ops.push(setid_op(r.key, r.group, g));
    }
}

/// `XCLAIM key group consumer 0 id TIME t RETRYCOUNT n FORCE JUSTID LASTID last`: how Redis
/// replicates a change to a pending entry (`streamPropagateXCLAIM`).
pub(super) fn xclaim_op(
    key: &[u8],
    group: &[u8],
    consumer: &[u8],
    id: StreamId,
    time: i64,
    count: u64,
    last: StreamId,
) -> Vec<Bytes> {
    vec![
        Bytes::from_static(b"XCLAIM"),
        Bytes::copy_from_slice(key),
        Bytes::copy_from_slice(group),
        Bytes::copy_from_slice(consumer),
        Bytes::from_static(b"0"),
        id.to_bytes(),
        Bytes::from_static(b"TIME"),
        Bytes::from(time.to_string()),
        Bytes::from_static(b"RETRYCOUNT"),
        Bytes::from(count.to_string()),
        Bytes::from_static(b"FORCE"),
        Bytes::from_static(b"JUSTID"),
        Bytes::from_static(b"LASTID"),
        last.to_bytes(),
    ]
}

/// `XGROUP SETID key group id ENTRIESREAD n` (`streamPropagateGroupID`).
pub(super) fn setid_op(key: &[u8], group: &[u8], g: &Group) -> Vec<Bytes> {
    vec![
        Bytes::from_static(b"XGROUP"),
        Bytes::from_static(b"SETID"),
        Bytes::copy_from_slice(key),
        Bytes::copy_from_slice(group),
        g.last_id.to_bytes(),
        Bytes::from_static(b"ENTRIESREAD"),
        Bytes::from(g.entries_read.to_string()),
    ]
}
