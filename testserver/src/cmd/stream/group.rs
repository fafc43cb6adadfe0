//! Consumer groups: XGROUP, XACK, XPENDING, XCLAIM, XAUTOCLAIM.

use bytes::Bytes;
use rediscover::error_codes::msg;
use rediscover::resp::ReplyWriter;

use super::read::{setid_op, xclaim_op};
use super::{
    eq_ic, owned, parse_i64, parse_id, parse_strict_id, range_end, range_start, write_entry,
    write_id, CmdResult, Ctx, Error,
};
use crate::cmd::lookup::write_typed;
use crate::cmd::subcommand_syntax;
use crate::keyspace::stream::{Group, Stream, StreamId, INVALID_ENTRIES_READ};
use crate::keyspace::Value;
use crate::notify::class as ev;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn nogroup(key: &[u8], group: &[u8]) -> Error {
    format!(
        "NOGROUP No such key '{}' or consumer group '{}'",
        text(key),
        text(group)
    )
    .into()
}

/// The stream at `key` for reading (hits and misses counted); WRONGTYPE for another type.
fn stream_read<'a>(ctx: &'a mut Ctx<'_>, key: &[u8]) -> Result<Option<&'a mut Stream>, Error> {
    read_lookup(ctx, key);
    let now = ctx.now;
    write_typed::<Stream>(ctx.db(), key, now)
}

/// The lookup half of Redis's `lookupKeyRead`: expires the key if due, counts a hit or miss
/// and publishes `keymiss` for a missing key.
fn read_lookup(ctx: &mut Ctx<'_>, key: &[u8]) {
    let now = ctx.now;
    let db = ctx.client.db;
    let node = &mut *ctx.node;
    let found = node.dbs[db].get(key, now).is_some();
    crate::cmd::lookup::count_lookup(&mut node.stats, found);
    if !found {
        ctx.notify(ev::KEY_MISS, "keymiss", key);
    }
}

pub(super) fn xgroup(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let sub = crate::cmd::subcommand(argv)?;
    if sub == "xgroup|help" {
        crate::cmd::server::help(
            ctx,
            "XGROUP",
            &[
                "CREATE <key> <groupname> <id|$> [option]",
                "    Create a new consumer group. Options are:",
                "    * MKSTREAM",
                "      Create the empty stream if it does not exist.",
                "    * ENTRIESREAD entries_read",
                "      Set the group's entries_read counter (internal use).",
                "CREATECONSUMER <key> <groupname> <consumer>",
                "    Create a new consumer in the specified group.",
                "DELCONSUMER <key> <groupname> <consumer>",
                "    Remove the specified consumer.",
                "DESTROY <key> <groupname>",
                "    Remove the specified group.",
                "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
                "    Set the current group ID and entries_read counter.",
            ],
        );
        return Ok(());
    }
    let mut mkstream = false;
    let mut entries_read = INVALID_ENTRIES_READ;
    let create = sub == "xgroup|create";
    let setid = sub == "xgroup|setid";
    let mut i = 5;
    while i < argv.len() {
        if create && eq_ic(&argv[i], "mkstream") {
            mkstream = true;
            i += 1;
        } else if (create || setid) && eq_ic(&argv[i], "entriesread") && i + 1 < argv.len() {
            entries_read = parse_i64(&argv[i + 1])?;
            if entries_read < 0 && entries_read != INVALID_ENTRIES_READ {
                return Err("ERR value for ENTRIESREAD must be positive or -1".into());
            }
            i += 2;
        } else {
            return Err(subcommand_syntax(argv));
        }
    }
    let key = &argv[2];
    let gname = &argv[3];
    let now = ctx.now;
    let exists = write_typed::<Stream>(ctx.db(), key, now)?.is_some();
    if !mkstream {
        if !exists {
            return Err("ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.".into());
        }
        let s = write_typed::<Stream>(ctx.db(), key, now)?.ok_or(Error::from(msg::WRONGTYPE))?;
        if !s.groups.contains_key(&gname[..]) && !create && sub != "xgroup|destroy" {
            return Err(format!(
                "NOGROUP No such consumer group '{}' for key name '{}'",
                text(gname),
                text(key)
            )
            .into());
        }
    }
    match sub {
        "xgroup|create" => {
            if argv.len() > 8 {
                return Err(subcommand_syntax(argv));
            }
            let id = if &argv[4][..] == b"$" {
                write_typed::<Stream>(ctx.db(), key, now)?.map_or(StreamId::MIN, |s| s.last_id)
            } else {
                parse_strict_id(&argv[4], 0)?
            };
            if !exists {
                ctx.db()
                    .set(owned(key), Value::Stream(Box::new(Stream::new())));
                ctx.db().touch(key);
            }
            let s =
                write_typed::<Stream>(ctx.db(), key, now)?.ok_or(Error::from(msg::WRONGTYPE))?;
            if s.groups.contains_key(&gname[..]) {
                return Err("BUSYGROUP Consumer Group name already exists".into());
            }
            s.groups.insert(owned(gname), Group::new(id, entries_read));
            ctx.dirty(1);
            ctx.out.ok();
            ctx.notify(ev::STREAM, "xgroup-create", key);
        }
        "xgroup|setid" => {
            if argv.len() != 5 && argv.len() != 7 {
                return Err(subcommand_syntax(argv));
            }
            let s =
                write_typed::<Stream>(ctx.db(), key, now)?.ok_or(Error::from(msg::WRONGTYPE))?;
            let id = if &argv[4][..] == b"$" {
                s.last_id
            } else {
                parse_id(&argv[4], 0)?
            };
            if let Some(g) = s.groups.get_mut(&gname[..]) {
                g.last_id = id;
                g.entries_read = entries_read;
            }
            ctx.dirty(1);
            ctx.out.ok();
            ctx.notify(ev::STREAM, "xgroup-setid", key);
        }
        "xgroup|destroy" => {
            if argv.len() != 4 {
                return Err(subcommand_syntax(argv));
            }
            let s =
                write_typed::<Stream>(ctx.db(), key, now)?.ok_or(Error::from(msg::WRONGTYPE))?;
            if s.groups.remove(&gname[..]).is_some() {
                ctx.dirty(1);
                ctx.out.int(1);
                ctx.notify(ev::STREAM, "xgroup-destroy", key);
                // Blocked XREADGROUP clients of the group get -NOGROUP.
                ctx.db().signal_ready(key);
            } else {
                ctx.out.int(0);
            }
        }
        "xgroup|createconsumer" => {
            let s =
                write_typed::<Stream>(ctx.db(), key, now)?.ok_or(Error::from(msg::WRONGTYPE))?;
            let g = s
                .groups
                .get_mut(&gname[..])
                .ok_or(Error::from(msg::SYNTAX))?;
            let created =
                !g.consumers.contains_key(&argv[4][..]) && g.touch_consumer(&argv[4], now);
            if created {
                ctx.dirty(1);
                ctx.notify(ev::STREAM, "xgroup-createconsumer", key);
            }
            ctx.out.int(i64::from(created));
        }
        "xgroup|delconsumer" => {
            let s =
                write_typed::<Stream>(ctx.db(), key, now)?.ok_or(Error::from(msg::WRONGTYPE))?;
            let g = s
                .groups
                .get_mut(&gname[..])
                .ok_or(Error::from(msg::SYNTAX))?;
            let mut pending = 0;
            if let Some(c) = g.consumers.remove(&argv[4][..]) {
                pending = c.pel.len();
                for id in c.pel {
                    g.pel.remove(&id);
                }
                ctx.dirty(1);
                ctx.notify(ev::STREAM, "xgroup-delconsumer", key);
            }
            ctx.out.int(pending as i64);
        }
        _ => return Err(subcommand_syntax(argv)),
    }
    Ok(())
}

pub(super) fn xack(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let found = match stream_read(ctx, &argv[1])? {
        Some(s) => s.groups.contains_key(&argv[2][..]),
        None => false,
    };
    if !found {
        ctx.out.int(0);
        return Ok(());
    }
    let ids = argv[3..]
        .iter()
        .map(|a| parse_strict_id(a, 0))
        .collect::<Result<Vec<_>, _>>()?;
    let now = ctx.now;
    let s = write_typed::<Stream>(ctx.db(), &argv[1], now)?.ok_or(Error::from(msg::WRONGTYPE))?;
    let g = s
        .groups
        .get_mut(&argv[2][..])
        .ok_or(Error::from(msg::SYNTAX))?;
    let acked = ids.into_iter().filter(|&id| g.ack(id)).count();
    ctx.dirty(acked as u64);
    ctx.out.int(acked as i64);
    Ok(())
}

pub(super) fn xpending(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let justinfo = argv.len() == 3;
    if argv.len() != 3 && (argv.len() < 6 || argv.len() > 9) {
        return Err(msg::SYNTAX.into());
    }
    let mut range = None;
    let mut consumer = None;
    let mut minidle = 0;
    if argv.len() >= 6 {
        let mut start_idx = 3;
        if eq_ic(&argv[3], "idle") {
            minidle = parse_i64(&argv[4])?;
            if argv.len() < 8 {
                return Err(msg::SYNTAX.into());
            }
            start_idx += 2;
        }
        let count = parse_i64(&argv[start_idx + 2])?.max(0);
        let start = range_start(&argv[start_idx])?;
        let end = range_end(&argv[start_idx + 1])?;
        if start_idx + 3 < argv.len() {
            consumer = Some(&argv[start_idx + 3]);
        }
        range = Some((start, end, count));
    }
    let now = ctx.now;
    let key = &argv[1];
    let gname = &argv[2];
    let resp3 = ctx.out.is_resp3();
    let s = stream_read(ctx, key)?;
    let Some(g) = s.and_then(|s| s.groups.get(&gname[..])) else {
        return Err(nogroup(key, gname));
    };
    let mut out = ReplyWriter::new(resp3);
    if justinfo {
        out.array(4);
        out.int(g.pel.len() as i64);
        match (g.pel.keys().next(), g.pel.keys().next_back()) {
            (Some(&first), Some(&last)) => {
                write_id(&mut out, first);
                write_id(&mut out, last);
                let owners: Vec<_> = g
                    .consumers
                    .iter()
                    .filter(|(_, c)| !c.pel.is_empty())
                    .collect();
                out.array(owners.len());
                for (name, c) in owners {
                    out.array(2);
                    out.bulk(name);
                    out.bulk_int(c.pel.len() as i64);
                }
            }
            _ => {
                out.null();
                out.null();
                out.null_array();
            }
        }
    } else if let Some((start, end, count)) = range {
        let ids: Vec<StreamId> = match consumer {
            Some(name) => match g.consumers.get(&name[..]) {
                Some(c) => c.pel.range(start..).copied().collect(),
                None => Vec::new(),
            },
            None => g.pel.range(start..).map(|(k, _)| *k).collect(),
        };
        let mut rows = Vec::new();
        for id in ids {
            if rows.len() as i64 >= count || id > end {
                break;
            }
            let Some(n) = g.pel.get(&id) else { continue };
            if minidle != 0 && now - n.delivery_time < minidle {
                continue;
            }
            rows.push((id, n));
        }
        out.array(rows.len());
        for (id, n) in rows {
            out.array(4);
            write_id(&mut out, id);
            out.bulk(&n.consumer);
            out.int((now - n.delivery_time).max(0));
            out.int(n.delivery_count as i64);
        }
    }
    ctx.out.raw(&out.take());
    Ok(())
}

fn int_opt(arg: &[u8], err: &'static str) -> Result<i64, Error> {
    rediscover::resp::parse_integer(arg).ok_or(Error::from(err))
}

pub(super) fn xclaim(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let key = &argv[1];
    let gname = &argv[2];
    let has_group = stream_read(ctx, key)?.is_some_and(|s| s.groups.contains_key(&gname[..]));
    if !has_group {
        return Err(nogroup(key, gname));
    }
    let minidle = int_opt(&argv[4], "ERR Invalid min-idle-time argument for XCLAIM")?.max(0);
    let mut ids = Vec::new();
    let mut j = 5;
    while j < argv.len() {
        match parse_strict_id(&argv[j], 0) {
            Ok(id) => ids.push((id, j)),
            Err(_) => break,
        }
        j += 1;
    }
    let now = ctx.now;
    let mut force = false;
    let mut justid = false;
    let mut retrycount: i64 = -1;
    let mut deliverytime: i64 = -1;
    let mut last_id = StreamId::MIN;
    while j < argv.len() {
        let more = argv.len() - 1 - j;
        let opt = &argv[j][..];
        if eq_ic(opt, "force") {
            force = true;
        } else if eq_ic(opt, "justid") {
            justid = true;
        } else if eq_ic(opt, "idle") && more > 0 {
            j += 1;
            deliverytime = now - int_opt(&argv[j], "ERR Invalid IDLE option argument for XCLAIM")?;
        } else if eq_ic(opt, "time") && more > 0 {
            j += 1;
            deliverytime = int_opt(&argv[j], "ERR Invalid TIME option argument for XCLAIM")?;
        } else if eq_ic(opt, "retrycount") && more > 0 {
            j += 1;
            retrycount = int_opt(
                &argv[j],
                "ERR Invalid RETRYCOUNT option argument for XCLAIM",
            )?;
        } else if eq_ic(opt, "lastid") && more > 0 {
            j += 1;
            last_id = parse_strict_id(&argv[j], 0)?;
        } else {
            return Err(format!("ERR Unrecognized XCLAIM option '{}'", text(opt)).into());
        }
        j += 1;
    }
    let resp3 = ctx.out.is_resp3();
    let s = write_typed::<Stream>(ctx.db(), key, now)?.ok_or(Error::from(msg::WRONGTYPE))?;
    let Some(mut g) = s.groups.remove(&gname[..]) else {
        return Err(nogroup(key, gname));
    };
    let mut propagate_last_id = false;
    if last_id > g.last_id {
        g.last_id = last_id;
        propagate_last_id = true;
    }
    if deliverytime != -1 {
        if deliverytime < 0 || deliverytime > now {
            deliverytime = now;
        }
    } else {
        deliverytime = now;
    }
    let name = &argv[3];
    let mut consumer_ready = false;
    let mut created_consumer = false;
    let mut dirty = 0u64;
    let mut ops = Vec::new();
    let mut body = ReplyWriter::new(resp3);
    let mut n = 0;
    for (id, arg_idx) in ids {
        let in_pel = g.pel.contains_key(&id);
        if s.get(id).is_none() {
            if let Some(nack) = g.pel.get(&id) {
                ops.push(claim_op_arg(
                    key,
                    gname,
                    &nack.consumer,
                    &argv[arg_idx],
                    nack.delivery_time,
                    nack.delivery_count,
                    g.last_id,
                ));
                propagate_last_id = false;
                dirty += 1;
                g.ack(id);
            }
            continue;
        }
        if !in_pel && !force {
            continue;
        }
        if in_pel && minidle != 0 {
            let nack = &g.pel[&id];
            if now - nack.delivery_time < minidle {
                continue;
            }
        }
        if !consumer_ready {
            if g.touch_consumer(name, now) {
                created_consumer = true;
                dirty += 1;
            }
            consumer_ready = true;
        }
        let nack = g.assign(id, name);
        nack.delivery_time = deliverytime;
        if retrycount >= 0 {
            nack.delivery_count = retrycount as u64;
        } else if !justid {
            nack.delivery_count += 1;
        }
        let (t, c) = (nack.delivery_time, nack.delivery_count);
        if justid {
            write_id(&mut body, id);
        } else if let Some(e) = s.get(id) {
            write_entry(&mut body, e);
        }
        n += 1;
        ops.push(claim_op_arg(
            key,
            gname,
            name,
            &argv[arg_idx],
            t,
            c,
            g.last_id,
        ));
        propagate_last_id = false;
        dirty += 1;
    }
    if propagate_last_id {
        ops.push(setid_op(key, gname, &g));
        dirty += 1;
    }
    s.groups.insert(owned(gname), g);
    ctx.dirty(dirty);
    if created_consumer {
        ctx.notify(ev::STREAM, "xgroup-createconsumer", key);
    }
    ctx.propagate_as(|| ops);
    ctx.out.array(n);
    ctx.out.raw(&body.take());
    Ok(())
}

/// [`xclaim_op`] with the id as the client wrote it (XCLAIM propagates its own argument).
fn claim_op_arg(
    key: &[u8],
    group: &[u8],
    consumer: &[u8],
    id_arg: &Bytes,
    time: i64,
    count: u64,
    last: StreamId,
) -> Vec<Bytes> {
    let mut op = xclaim_op(key, group, consumer, StreamId::MIN, time, count, last);
    op[5] = owned(id_arg);
    op
}

pub(super) fn xautoclaim(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let key = &argv[1];
    let gname = &argv[2];
    // Looked up before the arguments are parsed, as Redis does (a miss is published even
    // when the command then fails on its arguments).
    read_lookup(ctx, key);
    let minidle = int_opt(
        &argv[4],
        "ERR Invalid min-idle-time argument for XAUTOCLAIM",
    )?
    .max(0);
    let start = range_start(&argv[5])?;
    let mut count: i64 = 100;
    let mut justid = false;
    let mut j = 6;
    while j < argv.len() {
        let more = argv.len() - 1 - j;
        if eq_ic(&argv[j], "count") && more > 0 {
            let max = i64::MAX / 16;
            count = match rediscover::resp::parse_integer(&argv[j + 1]) {
                Some(n) if (1..=max).contains(&n) => n,
                _ => return Err("ERR COUNT must be > 0".into()),
            };
            j += 1;
        } else if eq_ic(&argv[j], "justid") {
            justid = true;
        } else {
            return Err(msg::SYNTAX.into());
        }
        j += 1;
    }
    let now = ctx.now;
    let has_group = write_typed::<Stream>(ctx.db(), key, now)?
        .is_some_and(|s| s.groups.contains_key(&gname[..]));
    if !has_group {
        return Err(nogroup(key, gname));
    }
    // Redis allocates COUNT stream ids up front and fails when it cannot; a terabyte stands
    // for "more than this machine can give".
    if (count as u64).saturating_mul(16) > 1 << 40 {
        return Err(
            "ERR Insufficient memory, failed allocating transient memory, COUNT too high.".into(),
        );
    }
    let resp3 = ctx.out.is_resp3();
    let s = write_typed::<Stream>(ctx.db(), key, now)?.ok_or(Error::from(msg::WRONGTYPE))?;
    let Some(mut g) = s.groups.remove(&gname[..]) else {
        return Err(nogroup(key, gname));
    };
    let name = &argv[3];
    let mut attempts = count.saturating_mul(10);
    let mut consumer_ready = false;
    let mut created_consumer = false;
    let mut dirty = 0u64;
    let mut ops = Vec::new();
    let mut deleted = Vec::new();
    let mut body = ReplyWriter::new(resp3);
    let mut n = 0;
    let mut cursor = start;
    let next: Option<StreamId>;
    loop {
        let Some(id) = g.pel.range(cursor..).next().map(|(k, _)| *k) else {
            next = None;
            break;
        };
        if attempts == 0 || count == 0 {
            next = Some(id);
            break;
        }
        attempts -= 1;
        cursor = match id.incr() {
            Some(c) => c,
            None => StreamId::MAX,
        };
        let last_possible = id == StreamId::MAX;
        if s.get(id).is_none() {
            let nack = &g.pel[&id];
            ops.push(xclaim_op(
                key,
                gname,
                &nack.consumer,
                id,
                nack.delivery_time,
                nack.delivery_count,
                g.last_id,
            ));
            dirty += 1;
            g.ack(id);
            deleted.push(id);
            count -= 1;
        } else {
            let idle_ok = minidle == 0 || now - g.pel[&id].delivery_time >= minidle;
            if idle_ok {
                if !consumer_ready {
                    if g.touch_consumer(name, now) {
                        created_consumer = true;
                        dirty += 1;
                    }
                    consumer_ready = true;
                }
                let nack = g.assign(id, name);
                nack.delivery_time = now;
                if !justid {
                    nack.delivery_count += 1;
                }
                let (t, c) = (nack.delivery_time, nack.delivery_count);
                if justid {
                    write_id(&mut body, id);
                } else if let Some(e) = s.get(id) {
                    write_entry(&mut body, e);
                }
                n += 1;
                count -= 1;
                ops.push(xclaim_op(key, gname, name, id, t, c, g.last_id));
                dirty += 1;
            }
        }
        if last_possible {
            next = None;
            break;
        }
    }
    s.groups.insert(owned(gname), g);
    ctx.dirty(dirty);
    if created_consumer {
        ctx.notify(ev::STREAM, "xgroup-createconsumer", key);
    }
    ctx.propagate_as(|| ops);
    let out = &mut *ctx.out;
    out.array(3);
    write_id(out, next.unwrap_or(StreamId::MIN));
    out.array(n);
    out.raw(&body.take());
    out.array(deleted.len());
    for id in deleted {
        write_id(out, id);
    }
    Ok(())
}
