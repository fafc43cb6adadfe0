//! The cluster's key check before a command runs or is queued: Redis 7.0's `getNodeByQuery`
//! step by step, and the redirection texts of `clusterRedirectClient` (from the shared error
//! table).

use bytes::Bytes;
use rediscover::error_codes::{msg, Redirect};

use super::replies::Endpoint;
use super::state::{Cluster, NodeId};
use crate::cmd::{Command, Ctx, Error, GateCall};
use crate::node::NodeState;

/// `-MOVED <slot> <endpoint>:<port>`.
pub fn moved(c: &Cluster, st: &NodeState, slot: u16, to: &NodeId) -> String {
    redirect(c, st, slot, to, false)
}

fn redirect(c: &Cluster, st: &NodeState, slot: u16, to: &NodeId, ask: bool) -> String {
    let (endpoint, port) = match c.nodes.get(to) {
        Some(n) => (Endpoint::of(st).text(n).to_string(), n.port),
        None => (String::new(), 0),
    };
    Redirect {
        ask,
        slot,
        addr: format!("{endpoint}:{port}"),
    }
    .to_line()
}

/// Positions of a command's keys as Redis's `getKeysFromCommand` finds them: the subcommand's
/// for a container (`OBJECT ENCODING k`), MIGRATE's own rule (argv[3], or what follows KEYS
/// when argv[3] is empty), SORT's key and STORE target; the shared key-spec table otherwise.
pub fn key_positions(cmd: &Command, argv: &[Bytes]) -> Vec<usize> {
    key_refs(cmd, argv)
        .into_iter()
        .map(|(pos, _)| pos)
        .collect()
}

/// As [`key_positions`], with the flags of the key specification each key comes from (SORT's
/// key is read, its STORE target written; MIGRATE's keys are read and deleted), for the ACL
/// key check.
pub fn key_refs(cmd: &Command, argv: &[Bytes]) -> Vec<(usize, &'static [&'static str])> {
    const READ: &[&str] = &["RO", "access"];
    const STORE: &[&str] = &["OW", "update"];
    const MOVE_OUT: &[&str] = &["RW", "access", "delete"];
    const UPDATE_READ: &[&str] = &["RW", "access", "update"];
    let mut info = cmd.info;
    if !info.subcommands.is_empty() {
        match argv.get(1).and_then(|s| info.subcommand(s)) {
            Some(sub) => info = sub,
            None => return Vec::new(),
        }
    }
    match info.name {
        "migrate" => {
            if argv.len() > 6 && argv[3].is_empty() {
                if let Some(i) = (6..argv.len()).find(|&i| argv[i].eq_ignore_ascii_case(b"keys")) {
                    return (i + 1..argv.len()).map(|i| (i, MOVE_OUT)).collect();
                }
            }
            vec![(3, MOVE_OUT)]
        }
        "sort" | "sort_ro" => {
            let mut keys = vec![(1, READ)];
            let mut store = None;
            let mut i = 2;
            while i < argv.len() {
                let a = &argv[i];
                if a.eq_ignore_ascii_case(b"limit") {
                    i += 2;
                } else if a.eq_ignore_ascii_case(b"get") || a.eq_ignore_ascii_case(b"by") {
                    i += 1;
                } else if a.eq_ignore_ascii_case(b"store") && i + 1 < argv.len() {
                    store = Some((i + 1, STORE));
                }
                i += 1;
            }
            keys.extend(store);
            keys
        }
        // Their flags depend on the arguments (Redis's `setGetKeys`, `bitfieldGetKeys`).
        "set" if argv.len() > 1 => {
            let get = argv.iter().skip(3).any(|a| a.eq_ignore_ascii_case(b"get"));
            vec![(1, if get { UPDATE_READ } else { STORE })]
        }
        "bitfield" if argv.len() > 1 => {
            let mut readonly = true;
            let mut i = 2;
            while i < argv.len() {
                let rest = argv.len() - i - 1;
                let a = &argv[i];
                if a.eq_ignore_ascii_case(b"get") && rest >= 2 {
                    i += 3;
                } else if a.eq_ignore_ascii_case(b"overflow") && rest >= 1 {
                    i += 2;
                } else {
                    readonly = false;
                    break;
                }
            }
            vec![(1, if readonly { READ } else { UPDATE_READ })]
        }
        _ => info.key_refs(argv),
    }
}

fn is_pubsubshard(name: &str) -> bool {
    matches!(name, "ssubscribe" | "sunsubscribe" | "spublish")
}

/// `getNodeByQuery` for a command about to run or be queued on a cluster node: `Ok` when this
/// node serves it, else the redirection or error to answer. EXEC checks the queued commands
/// together; a redirected EXEC discards the transaction.
pub fn check(ctx: &mut Ctx<'_>, call: &GateCall<'_>) -> Result<(), Error> {
    let is_exec = call.cmd.info.name == "exec";
    match query(ctx, call) {
        Ok(()) => Ok(()),
        Err(e) => Err(fail(ctx, is_exec, e)),
    }
}

fn query(ctx: &Ctx<'_>, call: &GateCall<'_>) -> Result<(), String> {
    let Some(c) = ctx.node.cluster.as_deref() else {
        return Ok(());
    };
    let cmd = call.cmd;
    let is_exec = cmd.info.name == "exec";
    let queued: Vec<(&Command, &[Bytes])>;
    let commands: Vec<(&Command, &[Bytes])> = if is_exec {
        let Some(q) = ctx.client.multi.as_ref() else {
            return Ok(());
        };
        queued = q
            .iter()
            .filter_map(|argv| ctx.node.commands.get(&argv[0]).map(|c| (c, &argv[..])))
            .collect();
        queued
    } else {
        vec![(cmd, call.argv)]
    };
    let pubsubshard = is_pubsubshard(cmd.info.name);
    let now = crate::node::unix_ms();
    let mut first: Option<&Bytes> = None;
    let mut slot = 0u16;
    let mut owner: Option<NodeId> = None;
    let (mut migrating, mut importing, mut multiple_keys) = (false, false, false);
    let (mut missing, mut existing) = (0, 0);
    for (mcmd, margv) in &commands {
        let positions = if is_exec {
            key_positions(mcmd, margv)
        } else {
            call.key_positions().to_vec()
        };
        for pos in positions {
            let key = &margv[pos];
            let this = rediscover::slot::key_slot(key);
            match first {
                None => {
                    first = Some(key);
                    slot = this;
                    let Some(n) = c.slots[this as usize] else {
                        return Err(msg::CLUSTERDOWN_UNBOUND.to_string());
                    };
                    owner = Some(n);
                    if n == c.myself && c.migrating.contains_key(&this) {
                        migrating = true;
                    } else if c.importing.contains_key(&this) {
                        importing = true;
                    }
                }
                Some(f) => {
                    if f != key {
                        if slot != this {
                            return Err(msg::CROSSSLOT.to_string());
                        }
                        multiple_keys = true;
                    }
                }
            }
            if (migrating || importing) && !pubsubshard {
                let db = &ctx.node.dbs[0];
                if db.peek(key).is_some() && !db.is_expired(key, now) {
                    existing += 1;
                } else {
                    missing += 1;
                }
            }
        }
    }
    let Some(n) = owner else {
        return Ok(());
    };
    let st = &*ctx.node;
    let cfg = |name: &str, default: &str| st.config.extra_or(name, default) == "yes";
    if !c.state_ok {
        if pubsubshard {
            if !cfg("cluster-allow-pubsubshard-when-down", "yes") {
                return Err(msg::CLUSTERDOWN.to_string());
            }
        } else if !cfg("cluster-allow-reads-when-down", "no") {
            return Err(msg::CLUSTERDOWN.to_string());
        } else if cmd.flags & crate::cmd::flags::WRITE != 0 {
            return Err(
                "CLUSTERDOWN The cluster is down and only accepts read commands".to_string(),
            );
        }
    }
    if (migrating || importing) && cmd.info.name == "migrate" {
        return Ok(());
    }
    if migrating && missing > 0 {
        if existing > 0 {
            return Err(msg::TRYAGAIN.to_string());
        }
        let to = c.migrating[&slot];
        let e = redirect(c, st, slot, &to, true);
        return Err(e);
    }
    if importing && (ctx.client.asking || cmd.info.has_flag("asking")) {
        if multiple_keys && missing > 0 {
            return Err(msg::TRYAGAIN.to_string());
        }
        return Ok(());
    }
    let is_write = cmd.flags & crate::cmd::flags::WRITE != 0
        || (is_exec
            && crate::cmd::queued_flags(st.commands, ctx.client) & crate::cmd::flags::WRITE != 0);
    if (ctx.client.readonly || pubsubshard)
        && !is_write
        && c.me().is_slave()
        && c.my_master() == Some(n)
    {
        return Ok(());
    }
    if n != c.myself {
        let e = moved(c, st, slot, &n);
        return Err(e);
    }
    Ok(())
}

/// A redirected EXEC discards its transaction (the reply is the redirection itself).
fn fail(ctx: &mut Ctx<'_>, is_exec: bool, err: String) -> Error {
    if is_exec {
        ctx.client.multi = None;
        ctx.client.multi_error = false;
        crate::cmd::unwatch_all(ctx);
    }
    Error::from(err)
}
