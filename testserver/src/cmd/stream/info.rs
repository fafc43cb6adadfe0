//! XINFO STREAM [FULL [COUNT n]] / GROUPS / CONSUMERS, and XSETID.

use bytes::Bytes;
use rediscover::error_codes::msg;
use rediscover::resp::ReplyWriter;

use super::{
    eq_ic, parse_i64, parse_strict_id, write_entries, write_entry, write_id, CmdResult, Ctx,
};
use crate::cmd::lookup::{read_typed, write_typed};
use crate::cmd::subcommand_syntax;
use crate::keyspace::stream::{Group, Stream, StreamId, INVALID_ENTRIES_READ};

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn opt_int(out: &mut ReplyWriter, v: Option<i64>) {
    match v {
        Some(n) => out.int(n),
        None => out.null(),
    }
}

fn entries_read(g: &Group) -> Option<i64> {
    (g.entries_read != INVALID_ENTRIES_READ).then_some(g.entries_read)
}

pub(super) fn xinfo(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let sub = crate::cmd::subcommand(argv)?;
    if sub == "xinfo|help" {
        crate::cmd::server::help(
            ctx,
            "XINFO",
            &[
                "CONSUMERS <key> <groupname>",
                "    Show consumers of <groupname>.",
                "GROUPS <key>",
                "    Show the stream consumer groups.",
                "STREAM <key> [FULL [COUNT <count>]",
                "    Show information about the stream.",
            ],
        );
        return Ok(());
    }
    let key = &argv[2];
    let now = ctx.now;
    let (s, out) = read_typed::<Stream>(ctx, key)?;
    let Some(s) = s else {
        return Err(msg::NO_SUCH_KEY.into());
    };
    match sub {
        "xinfo|consumers" => {
            let Some(g) = s.groups.get(&argv[3][..]) else {
                return Err(format!(
                    "NOGROUP No such consumer group '{}' for key name '{}'",
                    text(&argv[3]),
                    text(key)
                )
                .into());
            };
            out.array(g.consumers.len());
            for (name, c) in &g.consumers {
                out.map(3);
                out.bulk(b"name");
                out.bulk(name);
                out.bulk(b"pending");
                out.int(c.pel.len() as i64);
                out.bulk(b"idle");
                out.int((now - c.seen_time).max(0));
            }
        }
        "xinfo|groups" => {
            out.array(s.groups.len());
            for (name, g) in &s.groups {
                out.map(6);
                out.bulk(b"name");
                out.bulk(name);
                out.bulk(b"consumers");
                out.int(g.consumers.len() as i64);
                out.bulk(b"pending");
                out.int(g.pel.len() as i64);
                out.bulk(b"last-delivered-id");
                write_id(out, g.last_id);
                out.bulk(b"entries-read");
                opt_int(out, entries_read(g));
                out.bulk(b"lag");
                opt_int(out, s.lag(g));
            }
        }
        _ => stream_info(out, s, argv)?,
    }
    Ok(())
}

fn stream_info(out: &mut ReplyWriter, s: &Stream, argv: &[Bytes]) -> CmdResult {
    let opts = &argv[3..];
    let mut full = false;
    let mut count: i64 = 10;
    if !opts.is_empty() {
        if (opts.len() != 1 && opts.len() != 3) || !eq_ic(&opts[0], "full") {
            return Err(subcommand_syntax(argv));
        }
        full = true;
        if opts.len() == 3 {
            if !eq_ic(&opts[1], "count") {
                return Err(subcommand_syntax(argv));
            }
            count = parse_i64(&opts[2])?;
            if count < 0 {
                count = 10;
            }
        }
    }
    out.map(if full { 9 } else { 10 });
    out.bulk(b"length");
    out.int(s.length as i64);
    out.bulk(b"radix-tree-keys");
    out.int(s.node_count() as i64);
    out.bulk(b"radix-tree-nodes");
    out.int(s.rax_nodes() as i64);
    out.bulk(b"last-generated-id");
    write_id(out, s.last_id);
    out.bulk(b"max-deleted-entry-id");
    write_id(out, s.max_deleted_entry_id);
    out.bulk(b"entries-added");
    out.int(s.entries_added as i64);
    out.bulk(b"recorded-first-entry-id");
    write_id(out, s.first_id);
    if !full {
        out.bulk(b"groups");
        out.int(s.groups.len() as i64);
        out.bulk(b"first-entry");
        match s.range(StreamId::MIN, StreamId::MAX, false, 1).first() {
            Some(e) => write_entry(out, e),
            None => out.null(),
        }
        out.bulk(b"last-entry");
        match s.range(StreamId::MIN, StreamId::MAX, true, 1).first() {
            Some(e) => write_entry(out, e),
            None => out.null(),
        }
        return Ok(());
    }
    let limit = |n: usize| if count == 0 { n } else { n.min(count as usize) };
    out.bulk(b"entries");
    write_entries(
        out,
        &s.range(StreamId::MIN, StreamId::MAX, false, count as usize),
    );
    out.bulk(b"groups");
    out.array(s.groups.len());
    for (name, g) in &s.groups {
        out.map(7);
        out.bulk(b"name");
        out.bulk(name);
        out.bulk(b"last-delivered-id");
        write_id(out, g.last_id);
        out.bulk(b"entries-read");
        opt_int(out, entries_read(g));
        out.bulk(b"lag");
        opt_int(out, s.lag(g));
        out.bulk(b"pel-count");
        out.int(g.pel.len() as i64);
        out.bulk(b"pending");
        out.array(limit(g.pel.len()));
        for (id, n) in g.pel.iter().take(limit(g.pel.len())) {
            out.array(4);
            write_id(out, *id);
            out.bulk(&n.consumer);
            out.int(n.delivery_time);
            out.int(n.delivery_count as i64);
        }
        out.bulk(b"consumers");
        out.array(g.consumers.len());
        for (cname, c) in &g.consumers {
            out.map(4);
            out.bulk(b"name");
            out.bulk(cname);
            out.bulk(b"seen-time");
            out.int(c.seen_time);
            out.bulk(b"pel-count");
            out.int(c.pel.len() as i64);
            out.bulk(b"pending");
            out.array(limit(c.pel.len()));
            for id in c.pel.iter().take(limit(c.pel.len())) {
                let n = &g.pel[id];
                out.array(3);
                write_id(out, *id);
                out.int(n.delivery_time);
                out.int(n.delivery_count as i64);
            }
        }
    }
    Ok(())
}

pub(super) fn xsetid(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let id = parse_strict_id(&argv[2], 0)?;
    let mut entries_added: i64 = -1;
    let mut max_xdel = StreamId::MIN;
    let mut i = 3;
    while i < argv.len() {
        let more = argv.len() - 1 - i;
        if eq_ic(&argv[i], "entriesadded") && more > 0 {
            entries_added = parse_i64(&argv[i + 1])?;
            if entries_added < 0 {
                return Err("ERR entries_added must be positive".into());
            }
            i += 2;
        } else if eq_ic(&argv[i], "maxdeletedid") && more > 0 {
            max_xdel = parse_strict_id(&argv[i + 1], 0)?;
            if id < max_xdel {
                return Err("ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id".into());
            }
            i += 2;
        } else {
            return Err(msg::SYNTAX.into());
        }
    }
    let now = ctx.now;
    let Some(s) = write_typed::<Stream>(ctx.db(), &argv[1], now)? else {
        return Err(msg::NO_SUCH_KEY.into());
    };
    if s.length > 0 {
        if id < s.last_valid_id() {
            return Err(
                "ERR The ID specified in XSETID is smaller than the target stream top item".into(),
            );
        }
        if entries_added != -1 && s.length > entries_added as u64 {
            return Err("ERR The entries_added specified in XSETID is smaller than the target stream length".into());
        }
    }
    s.last_id = id;
    if entries_added != -1 {
        s.entries_added = entries_added as u64;
    }
    if !max_xdel.is_zero() {
        s.max_deleted_entry_id = max_xdel;
    }
    ctx.dirty(1);
    ctx.out.ok();
    ctx.notify(crate::notify::class::STREAM, "xsetid", &argv[1]);
    Ok(())
}
