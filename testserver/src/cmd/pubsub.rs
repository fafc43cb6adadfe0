//! Pub/sub commands: SUBSCRIBE, PSUBSCRIBE, UNSUBSCRIBE, PUNSUBSCRIBE, PUBLISH, PUBSUB, and the
//! shard variants SSUBSCRIBE, SUNSUBSCRIBE, SPUBLISH as a standalone Redis runs them.
//!
//! (Un)subscribe commands write one confirmation per channel, each its own reply (a push frame
//! in RESP3), exactly as Redis does.

use bytes::Bytes;
use rediscover::error_codes;

use super::{owned, CmdResult, Ctx, Handler};
use crate::client::Client;
use crate::node::NodeState;
use crate::pubsub::{Kind, Subscriber};

pub(crate) const COMMANDS: &[(&str, Handler)] = &[
    ("subscribe", subscribe),
    ("unsubscribe", unsubscribe),
    ("psubscribe", psubscribe),
    ("punsubscribe", punsubscribe),
    ("ssubscribe", ssubscribe),
    ("sunsubscribe", sunsubscribe),
    ("publish", publish),
    ("spublish", spublish),
    ("pubsub", pubsub),
];

/// The confirmation word of a (un)subscribe reply.
fn verb(kind: Kind, subscribe: bool) -> &'static [u8] {
    match (kind, subscribe) {
        (Kind::Channel, true) => b"subscribe",
        (Kind::Channel, false) => b"unsubscribe",
        (Kind::Pattern, true) => b"psubscribe",
        (Kind::Pattern, false) => b"punsubscribe",
        (Kind::Shard, true) => b"ssubscribe",
        (Kind::Shard, false) => b"sunsubscribe",
    }
}

/// The count a confirmation reports: channels + patterns, or shard channels alone
/// (Redis 7.0 counts the two families separately).
fn count(ctx: &Ctx<'_>, kind: Kind) -> i64 {
    match kind {
        Kind::Shard => ctx.node.pubsub.shard_count(ctx.client.id) as i64,
        _ => (ctx.client.channels.len() + ctx.client.patterns.len()) as i64,
    }
}

fn confirm(ctx: &mut Ctx<'_>, kind: Kind, subscribe: bool, name: Option<&[u8]>) {
    let n = count(ctx, kind);
    ctx.out.push(3);
    ctx.out.bulk(verb(kind, subscribe));
    match name {
        Some(name) => ctx.out.bulk(name),
        None => ctx.out.null(),
    }
    ctx.out.int(n);
}

/// The client's own subscriptions of `kind` (shard channels are kept by the node).
fn client_set(client: &mut Client, kind: Kind) -> Option<&mut std::collections::HashSet<Bytes>> {
    match kind {
        Kind::Channel => Some(&mut client.channels),
        Kind::Pattern => Some(&mut client.patterns),
        Kind::Shard => None,
    }
}

fn is_subscribed(ctx: &mut Ctx<'_>, kind: Kind, name: &[u8]) -> bool {
    let id = ctx.client.id;
    match client_set(ctx.client, kind) {
        Some(set) => set.contains(name),
        None => ctx.node.pubsub.has_shard(id, name),
    }
}

fn subscribe_kind(ctx: &mut Ctx<'_>, argv: &[Bytes], kind: Kind) -> CmdResult {
    let id = ctx.client.id;
    for name in &argv[1..] {
        if !is_subscribed(ctx, kind, name) {
            let name = owned(name);
            if let Some(set) = client_set(ctx.client, kind) {
                set.insert(name.clone());
            }
            let sub = Subscriber {
                tx: ctx.client.oob.clone(),
                resp3: ctx.client.resp3,
            };
            ctx.node.pubsub.add(kind, name, id, sub);
            ctx.client.shard_channels = ctx.node.pubsub.shard_count(id);
        }
        confirm(ctx, kind, true, Some(name));
    }
    Ok(())
}

fn unsubscribe_one(ctx: &mut Ctx<'_>, kind: Kind, name: &[u8]) {
    let id = ctx.client.id;
    if let Some(set) = client_set(ctx.client, kind) {
        set.remove(name);
    }
    ctx.node.pubsub.remove(kind, name, id);
    ctx.client.shard_channels = ctx.node.pubsub.shard_count(id);
    confirm(ctx, kind, false, Some(name));
}

fn unsubscribe_kind(ctx: &mut Ctx<'_>, argv: &[Bytes], kind: Kind) -> CmdResult {
    if argv.len() > 1 {
        for name in &argv[1..] {
            unsubscribe_one(ctx, kind, name);
        }
        return Ok(());
    }
    let id = ctx.client.id;
    let names: Vec<Bytes> = match client_set(ctx.client, kind) {
        Some(set) => set.iter().cloned().collect(),
        None => ctx.node.pubsub.shards_of(id),
    };
    if names.is_empty() {
        confirm(ctx, kind, false, None);
    }
    for name in names {
        unsubscribe_one(ctx, kind, &name);
    }
    Ok(())
}

fn subscribe(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    subscribe_kind(ctx, argv, Kind::Channel)
}

fn psubscribe(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    subscribe_kind(ctx, argv, Kind::Pattern)
}

fn ssubscribe(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    subscribe_kind(ctx, argv, Kind::Shard)
}

fn unsubscribe(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    unsubscribe_kind(ctx, argv, Kind::Channel)
}

fn punsubscribe(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    unsubscribe_kind(ctx, argv, Kind::Pattern)
}

fn sunsubscribe(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    unsubscribe_kind(ctx, argv, Kind::Shard)
}

fn publish_to(ctx: &mut Ctx<'_>, argv: &[Bytes], shard: bool) -> CmdResult {
    let node = &mut *ctx.node;
    let me = (ctx.client.id, &mut *ctx.out);
    let mut over_limit = Vec::new();
    let n = node.pubsub.publish(
        &mut node.clients,
        &node.config.obuf_limits.pubsub,
        me,
        crate::pubsub::Message {
            channel: &argv[1],
            payload: &argv[2],
            shard,
        },
        &mut over_limit,
    );
    for id in over_limit {
        node.close_for_output_limit(id);
    }
    ctx.out.int(n as i64);
    if ctx.node.cluster.is_some() {
        // A cluster sends it over the bus (PUBLISH to every node, SPUBLISH to the shard's),
        // not through the replication stream.
        crate::cluster::with(ctx.node, |c, st| {
            crate::cluster::messages::propagate_publish(c, st, &argv[1], &argv[2], shard)
        });
    } else {
        // Subscribers of replicas get the message too.
        ctx.force_propagation();
    }
    Ok(())
}

fn publish(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    publish_to(ctx, argv, false)
}

fn spublish(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    publish_to(ctx, argv, true)
}

const HELP: &[&str] = &[
    "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CHANNELS [<pattern>]",
    "    Return the currently active channels matching a <pattern> (default: '*').",
    "NUMPAT",
    "    Return number of subscriptions to patterns.",
    "NUMSUB [<channel> ...]",
    "    Return the number of subscribers for the specified channels, excluding",
    "    pattern subscriptions(default: no channels).",
    "SHARDCHANNELS [<pattern>]",
    "    Return the currently active shard level channels matching a <pattern> (default: '*').",
    "SHARDNUMSUB [<shardchannel> ...]",
    "    Return the number of subscribers for the specified shard level channel(s)",
    "HELP",
    "    Prints this help.",
];

fn pubsub(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let info = rediscover::command::lookup(b"pubsub").and_then(|c| c.subcommand(&argv[1]));
    let Some(info) = info else {
        return Err(error_codes::unknown_subcommand("pubsub", &argv[1]).into());
    };
    if !info.arity_ok(argv.len()) {
        return Err(error_codes::wrong_arity(info.name).into());
    }
    let sub = info.name.rsplit('|').next().unwrap_or_default();
    match sub {
        "help" => {
            ctx.out.array(HELP.len());
            for line in HELP {
                ctx.out.simple(line);
            }
        }
        "channels" | "shardchannels" => {
            if argv.len() > 3 {
                return Err(format!(
                    "ERR unknown subcommand or wrong number of arguments for '{}'. Try PUBSUB HELP.",
                    String::from_utf8_lossy(&argv[1])
                )
                .into());
            }
            let map = if sub == "channels" {
                &ctx.node.pubsub.channels
            } else {
                &ctx.node.pubsub.shard_channels
            };
            let names: Vec<&Bytes> = map
                .keys()
                .filter(|ch| {
                    argv.get(2)
                        .map_or(true, |p| crate::glob::glob_match(p, ch, false))
                })
                .collect();
            ctx.out.array(names.len());
            for name in names {
                ctx.out.bulk(name);
            }
        }
        "numsub" | "shardnumsub" => {
            let map = if sub == "numsub" {
                &ctx.node.pubsub.channels
            } else {
                &ctx.node.pubsub.shard_channels
            };
            ctx.out.array((argv.len() - 2) * 2);
            for ch in &argv[2..] {
                ctx.out.bulk(ch);
                ctx.out.int(map.get(&ch[..]).map_or(0, |s| s.len()) as i64);
            }
        }
        "numpat" => ctx.out.int(ctx.node.pubsub.patterns.len() as i64),
        _ => return Err(error_codes::unknown_subcommand("pubsub", &argv[1]).into()),
    }
    Ok(())
}

/// Removes every subscription of `client` (RESET, disconnect).
pub(crate) fn unsubscribe_all(node: &mut NodeState, client: &mut Client) {
    for ch in client.channels.drain() {
        node.pubsub.remove(Kind::Channel, &ch, client.id);
    }
    for p in client.patterns.drain() {
        node.pubsub.remove(Kind::Pattern, &p, client.id);
    }
    for ch in node.pubsub.shards_of(client.id) {
        node.pubsub.remove(Kind::Shard, &ch, client.id);
    }
    client.shard_channels = 0;
}
