//! CLUSTER and its subcommands, READONLY, READWRITE and ASKING, with Redis 7.0's replies and
//! error texts (`clusterCommand`).

use bytes::Bytes;
use rediscover::error_codes::{self, msg};

use super::messages::{self, PongTarget};
use super::state::{flag, name, todo, valid_id, Cluster, ClusterNode, NodeId};
use super::SLOTS;
use crate::cmd::{CmdResult, Ctx, Error, Handler};
use crate::logging::Level;

pub(crate) const COMMANDS: &[(&str, Handler)] = &[
    ("cluster", cluster),
    ("asking", asking),
    ("readonly", readonly),
    ("readwrite", readwrite),
];

const DISABLED: &str = "ERR This instance has cluster support disabled";

fn asking(ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CmdResult {
    if ctx.node.cluster.is_none() {
        return Err(DISABLED.into());
    }
    ctx.client.asking = true;
    ctx.out.ok();
    Ok(())
}

fn readonly(ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CmdResult {
    if ctx.node.cluster.is_none() {
        return Err(DISABLED.into());
    }
    ctx.client.readonly = true;
    ctx.out.ok();
    Ok(())
}

fn readwrite(ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CmdResult {
    if ctx.node.cluster.is_none() {
        return Err(DISABLED.into());
    }
    ctx.client.readonly = false;
    ctx.out.ok();
    Ok(())
}

const HELP: &[&str] = &[
    "CLUSTER <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ADDSLOTS <slot> [<slot> ...]",
    "    Assign slots to current node.",
    "ADDSLOTSRANGE <start slot> <end slot> [<start slot> <end slot> ...]",
    "    Assign slots which are between <start-slot> and <end-slot> to current node.",
    "BUMPEPOCH",
    "    Advance the cluster config epoch.",
    "COUNT-FAILURE-REPORTS <node-id>",
    "    Return number of failure reports for <node-id>.",
    "COUNTKEYSINSLOT <slot>",
    "    Return the number of keys in <slot>.",
    "DELSLOTS <slot> [<slot> ...]",
    "    Delete slots information from current node.",
    "DELSLOTSRANGE <start slot> <end slot> [<start slot> <end slot> ...]",
    "    Delete slots information which are between <start-slot> and <end-slot> from current node.",
    "FAILOVER [FORCE|TAKEOVER]",
    "    Promote current replica node to being a master.",
    "FORGET <node-id>",
    "    Remove a node from the cluster.",
    "GETKEYSINSLOT <slot> <count>",
    "    Return key names stored by current node in a slot.",
    "FLUSHSLOTS",
    "    Delete current node own slots information.",
    "INFO",
    "    Return information about the cluster.",
    "KEYSLOT <key>",
    "    Return the hash slot for <key>.",
    "MEET <ip> <port> [<bus-port>]",
    "    Connect nodes into a working cluster.",
    "MYID",
    "    Return the node id.",
    "NODES",
    "    Return cluster configuration seen by node. Output format:",
    "    <id> <ip:port> <flags> <master> <pings> <pongs> <epoch> <link> <slot> ...",
    "REPLICATE <node-id>",
    "    Configure current node as replica to <node-id>.",
    "RESET [HARD|SOFT]",
    "    Reset current node (default: soft).",
    "SET-CONFIG-EPOCH <epoch>",
    "    Set config epoch of current node.",
    "SETSLOT <slot> (IMPORTING <node-id>|MIGRATING <node-id>|STABLE|NODE <node-id>)",
    "    Set slot state.",
    "REPLICAS <node-id>",
    "    Return <node-id> replicas.",
    "SAVECONFIG",
    "    Force saving cluster configuration on disk.",
    "SLOTS",
    "    Return information about slots range mappings. Each range is made of:",
    "    start, end, master and replicas IP addresses, ports and ids",
    "SHARDS",
    "    Return information about slot range mappings and the nodes associated with them.",
    "LINKS",
    "    Return information about all network links between this node and its peers.",
    "    Output format is an array where each array element is a map containing attributes of a link",
    "HELP",
    "    Prints this help.",
];

fn cluster(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let info = rediscover::command::lookup(b"cluster").and_then(|c| c.subcommand(&argv[1]));
    let Some(info) = info else {
        return Err(error_codes::unknown_subcommand("cluster", &argv[1]).into());
    };
    if !info.arity_ok(argv.len()) {
        return Err(error_codes::wrong_arity(info.name).into());
    }
    let Some(mut c) = ctx.node.cluster.take() else {
        return Err(DISABLED.into());
    };
    let sub = info.name.rsplit('|').next().unwrap_or_default();
    let result = subcommand(&mut c, ctx, sub, argv);
    super::cron::before_sleep(&mut c, ctx.node);
    ctx.node.cluster = Some(c);
    result
}

fn syntax_error(argv: &[Bytes]) -> Error {
    format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try CLUSTER HELP.",
        String::from_utf8_lossy(&argv[1])
    )
    .into()
}

/// `getSlotOrReply`.
fn slot_arg(arg: &[u8]) -> Result<usize, Error> {
    match rediscover::resp::parse_integer(arg) {
        Some(s) if (0..SLOTS as i64).contains(&s) => Ok(s as usize),
        _ => Err("ERR Invalid or out of range slot".into()),
    }
}

/// `clusterLookupNode`: only well-formed ids are looked up.
fn lookup(c: &Cluster, arg: &[u8]) -> Option<NodeId> {
    valid_id(arg).filter(|id| c.nodes.contains_key(id))
}

fn text(arg: &[u8]) -> String {
    String::from_utf8_lossy(arg).into_owned()
}

fn subcommand(c: &mut Cluster, ctx: &mut Ctx<'_>, sub: &str, argv: &[Bytes]) -> CmdResult {
    let st = &mut *ctx.node;
    match sub {
        "help" => {
            ctx.out.array(HELP.len());
            for line in HELP {
                ctx.out.simple(line);
            }
        }
        "meet" => {
            if argv.len() > 5 {
                return Err(syntax_error(argv));
            }
            let port = rediscover::resp::parse_integer(&argv[3]).ok_or_else(|| {
                Error::from(format!(
                    "ERR Invalid TCP base port specified: {}",
                    text(&argv[3])
                ))
            })?;
            let cport = match argv.get(4) {
                Some(a) => rediscover::resp::parse_integer(a).ok_or_else(|| {
                    Error::from(format!("ERR Invalid TCP bus port specified: {}", text(a)))
                })?,
                None => port + 10000,
            };
            let invalid = || {
                Error::from(format!(
                    "ERR Invalid node address specified: {}:{}",
                    text(&argv[2]),
                    text(&argv[3])
                ))
            };
            let ip: std::net::IpAddr = text(&argv[2]).parse().map_err(|_| invalid())?;
            if !(1..=65535).contains(&port) || !(1..=65535).contains(&cport) {
                return Err(invalid());
            }
            start_handshake(c, &ip.to_string(), port as u16, cport as u16);
            ctx.out.ok();
        }
        "nodes" => {
            let text = super::replies::nodes_text(c, 0);
            ctx.out.verbatim(b"txt", text.as_bytes());
        }
        "myid" => ctx.out.bulk(&c.myself),
        "slots" => super::replies::slots_reply(c, st, ctx.out),
        "shards" => super::replies::shards_reply(c, st, ctx.out),
        "links" => super::replies::links_reply(c, ctx.out),
        "info" => {
            let text = super::replies::info_text(c);
            ctx.out.verbatim(b"txt", text.as_bytes());
        }
        "flushslots" => {
            if !st.dbs[0].is_empty() {
                return Err("ERR DB must be empty to perform CLUSTER FLUSHSLOTS.".into());
            }
            let me = c.myself;
            c.del_node_slots(st, &me);
            c.do_before_sleep(todo::UPDATE_STATE | todo::SAVE_CONFIG);
            ctx.out.ok();
        }
        "addslots" | "delslots" | "addslotsrange" | "delslotsrange" => {
            let del = sub.starts_with("del");
            let range = sub.ends_with("range");
            if range && argv.len() % 2 == 1 {
                return Err(error_codes::wrong_arity(&format!("cluster|{sub}")).into());
            }
            let mut marks = vec![0u8; SLOTS];
            let mut pairs = Vec::new();
            if range {
                for pair in argv[2..].chunks(2) {
                    let a = slot_arg(&pair[0])?;
                    let b = slot_arg(&pair[1])?;
                    if a > b {
                        return Err(format!(
                            "ERR start slot number {a} is greater than end slot number {b}"
                        )
                        .into());
                    }
                    check_assignments(c, &mut marks, del, a, b)?;
                    pairs.push((a, b));
                }
            } else {
                let slots: Vec<usize> = argv[2..]
                    .iter()
                    .map(|a| slot_arg(a))
                    .collect::<Result<_, _>>()?;
                for s in slots {
                    check_assignments(c, &mut marks, del, s, s)?;
                }
            }
            let me = c.myself;
            for (j, m) in marks.iter().enumerate() {
                if *m == 0 {
                    continue;
                }
                c.importing.remove(&(j as u16));
                if del {
                    c.del_slot(st, j);
                } else {
                    c.add_slot(&me, j);
                }
            }
            c.do_before_sleep(todo::UPDATE_STATE | todo::SAVE_CONFIG);
            ctx.out.ok();
        }
        "setslot" => {
            setslot(c, ctx, argv)?;
            c.do_before_sleep(todo::SAVE_CONFIG | todo::UPDATE_STATE);
            ctx.out.ok();
        }
        "bumpepoch" => {
            let bumped = c.bump_epoch_without_consensus(st);
            let epoch = c.me().config_epoch;
            ctx.out.simple(&format!(
                "{} {epoch}",
                if bumped { "BUMPED" } else { "STILL" }
            ));
        }
        "saveconfig" => match super::nodes_conf::save(c, true) {
            Ok(()) => ctx.out.ok(),
            Err(e) => return Err(format!("ERR error saving the cluster node config: {e}").into()),
        },
        "keyslot" => ctx.out.int(i64::from(rediscover::slot::key_slot(&argv[2]))),
        "countkeysinslot" => {
            let slot = crate::cmd::parse_i64(&argv[2])?;
            if !(0..SLOTS as i64).contains(&slot) {
                return Err("ERR Invalid slot".into());
            }
            ctx.out.int(st.dbs[0].count_in_slot(slot as u16) as i64);
        }
        "getkeysinslot" => {
            let slot = crate::cmd::parse_i64(&argv[2])?;
            let max = crate::cmd::parse_i64(&argv[3])?;
            if !(0..SLOTS as i64).contains(&slot) || max < 0 {
                return Err("ERR Invalid slot or number of keys".into());
            }
            let keys = st.dbs[0].keys_in_slot(slot as u16, max as usize);
            ctx.out.array(keys.len());
            for k in keys {
                ctx.out.bulk(&k);
            }
        }
        "forget" => {
            let Some(id) = lookup(c, &argv[2]) else {
                return Err(format!("ERR Unknown node {}", text(&argv[2])).into());
            };
            if id == c.myself {
                return Err("ERR I tried hard but I can't forget myself...".into());
            }
            if c.me().is_slave() && c.my_master() == Some(id) {
                return Err("ERR Can't forget my master!".into());
            }
            let until = crate::node::unix_ms() + 60_000;
            c.blacklist.insert(id, until);
            c.del_node(st, &id);
            c.do_before_sleep(todo::UPDATE_STATE | todo::SAVE_CONFIG);
            ctx.out.ok();
        }
        "replicate" => {
            let Some(id) = lookup(c, &argv[2]) else {
                return Err(format!("ERR Unknown node {}", text(&argv[2])).into());
            };
            if id == c.myself {
                return Err("ERR Can't replicate myself".into());
            }
            if c.nodes[&id].is_slave() {
                return Err("ERR I can only replicate a master, not a replica.".into());
            }
            if c.i_am_master() && (c.me().numslots != 0 || !st.dbs[0].is_empty()) {
                return Err(
                    "ERR To set a master the node must be empty and without assigned slots.".into(),
                );
            }
            c.set_master(st, &id);
            c.do_before_sleep(todo::UPDATE_STATE | todo::SAVE_CONFIG);
            ctx.out.ok();
        }
        "replicas" | "slaves" => {
            let Some(id) = lookup(c, &argv[2]) else {
                return Err(format!("ERR Unknown node {}", text(&argv[2])).into());
            };
            let n = &c.nodes[&id];
            if n.is_slave() {
                return Err("ERR The specified node is not a master".into());
            }
            let lines: Vec<String> = n
                .replicas
                .iter()
                .filter_map(|r| c.nodes.get(r))
                .map(|r| super::replies::node_line(c, r, false))
                .collect();
            ctx.out.array(lines.len());
            for l in lines {
                ctx.out.bulk(l.as_bytes());
            }
        }
        "count-failure-reports" => {
            let Some(id) = lookup(c, &argv[2]) else {
                return Err(format!("ERR Unknown node {}", text(&argv[2])).into());
            };
            let validity = st.config.cluster_node_timeout * 2;
            ctx.out.int(c.failure_reports_count(&id, validity) as i64);
        }
        "failover" => {
            if argv.len() > 3 {
                return Err(syntax_error(argv));
            }
            let (mut force, mut takeover) = (false, false);
            if let Some(opt) = argv.get(2) {
                if opt.eq_ignore_ascii_case(b"force") {
                    force = true;
                } else if opt.eq_ignore_ascii_case(b"takeover") {
                    takeover = true;
                    force = true;
                } else {
                    return Err(msg::SYNTAX.into());
                }
            }
            if c.i_am_master() {
                return Err("ERR You should send CLUSTER FAILOVER to a replica".into());
            }
            let Some(master) = c.my_master().and_then(|m| c.nodes.get(&m)) else {
                return Err("ERR I'm a replica but my master is unknown to me".into());
            };
            if !force && (master.failed() || master.link.is_none()) {
                return Err(
                    "ERR Master is down or failed, please use CLUSTER FAILOVER FORCE".into(),
                );
            }
            let master = master.id;
            c.reset_manual_failover(st);
            c.mf_end = crate::node::unix_ms() + super::scaled(st, super::failover::MF_TIMEOUT);
            if takeover {
                st.log(Level::Warning, "Taking over the master (user request).");
                c.bump_epoch_without_consensus(st);
                super::failover::replace_your_master(c, st);
            } else if force {
                st.log(Level::Warning, "Forced failover user request accepted.");
                c.mf_can_start = true;
            } else {
                st.log(Level::Warning, "Manual failover user request accepted.");
                messages::send_mfstart(c, st, &master);
            }
            ctx.out.ok();
        }
        "set-config-epoch" => {
            let epoch = crate::cmd::parse_i64(&argv[2])?;
            if epoch < 0 {
                return Err(format!("ERR Invalid config epoch specified: {epoch}").into());
            } else if c.nodes.len() > 1 {
                return Err("ERR The user can assign a config epoch only when the node does not know any other node.".into());
            } else if c.me().config_epoch != 0 {
                return Err("ERR Node config epoch is already non-zero".into());
            }
            c.me_mut().config_epoch = epoch as u64;
            st.log(
                Level::Warning,
                &format!("configEpoch set to {epoch} via CLUSTER SET-CONFIG-EPOCH"),
            );
            if c.current_epoch < epoch as u64 {
                c.current_epoch = epoch as u64;
            }
            c.do_before_sleep(todo::UPDATE_STATE | todo::SAVE_CONFIG);
            ctx.out.ok();
        }
        "reset" => {
            if argv.len() > 3 {
                return Err(syntax_error(argv));
            }
            let hard = match argv.get(2) {
                None => false,
                Some(a) if a.eq_ignore_ascii_case(b"hard") => true,
                Some(a) if a.eq_ignore_ascii_case(b"soft") => false,
                Some(_) => return Err(msg::SYNTAX.into()),
            };
            if c.i_am_master() && !st.dbs[ctx.client.db].is_empty() {
                return Err(
                    "ERR CLUSTER RESET can't be called with master nodes containing keys".into(),
                );
            }
            reset(c, st, hard, ctx.client.id);
            ctx.out.ok();
        }
        _ => return Err(syntax_error(argv)),
    }
    Ok(())
}

/// `checkSlotAssignmentsOrReply`.
fn check_assignments(
    c: &Cluster,
    marks: &mut [u8],
    del: bool,
    from: usize,
    to: usize,
) -> Result<(), Error> {
    for (j, mark) in marks.iter_mut().enumerate().take(to + 1).skip(from) {
        if del && c.slots[j].is_none() {
            return Err(format!("ERR Slot {j} is already unassigned").into());
        } else if !del && c.slots[j].is_some() {
            return Err(format!("ERR Slot {j} is already busy").into());
        }
        *mark += 1;
        if *mark == 2 {
            return Err(format!("ERR Slot {j} specified multiple times").into());
        }
    }
    Ok(())
}

fn setslot(c: &mut Cluster, ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let st = &mut *ctx.node;
    if c.me().is_slave() {
        return Err("ERR Please use SETSLOT only with masters.".into());
    }
    let slot = slot_arg(&argv[2])?;
    let action = &argv[3];
    let node_arg = |c: &Cluster, unknown: &str| -> Result<NodeId, Error> {
        let id = lookup(c, &argv[4])
            .ok_or_else(|| Error::from(format!("ERR {unknown} {}", text(&argv[4]))))?;
        if c.nodes[&id].is_slave() {
            return Err("ERR Target node is not a master".into());
        }
        Ok(id)
    };
    if action.eq_ignore_ascii_case(b"migrating") && argv.len() == 5 {
        if c.slots[slot] != Some(c.myself) {
            return Err(format!("ERR I'm not the owner of hash slot {slot}").into());
        }
        let id = node_arg(c, "I don't know about node")?;
        c.migrating.insert(slot as u16, id);
    } else if action.eq_ignore_ascii_case(b"importing") && argv.len() == 5 {
        if c.slots[slot] == Some(c.myself) {
            return Err(format!("ERR I'm already the owner of hash slot {slot}").into());
        }
        let id = node_arg(c, "I don't know about node")?;
        c.importing.insert(slot as u16, id);
    } else if action.eq_ignore_ascii_case(b"stable") && argv.len() == 4 {
        c.importing.remove(&(slot as u16));
        c.migrating.remove(&(slot as u16));
    } else if action.eq_ignore_ascii_case(b"node") && argv.len() == 5 {
        let id = node_arg(c, "Unknown node")?;
        let keys = st.dbs[0].count_in_slot(slot as u16);
        let me = c.myself;
        if c.slots[slot] == Some(me) && id != me && keys != 0 {
            return Err(format!("ERR Can't assign hashslot {slot} to a different node while I still hold keys for this hash slot.").into());
        }
        if keys == 0 {
            c.migrating.remove(&(slot as u16));
        }
        let was_mine = c.slots[slot] == Some(me);
        c.del_slot(st, slot);
        c.add_slot(&id, slot);
        let allow = st.config.extra_or("cluster-allow-replica-migration", "yes") == "yes";
        if was_mine && id != me && c.me().numslots == 0 && allow {
            st.log(
                Level::Warning,
                &format!(
                    "Configuration change detected. Reconfiguring myself as a replica of {}",
                    name(&id)
                ),
            );
            c.set_master(st, &id);
            c.do_before_sleep(todo::SAVE_CONFIG | todo::UPDATE_STATE | todo::FSYNC_CONFIG);
        }
        if id == me && c.importing.contains_key(&(slot as u16)) {
            if c.bump_epoch_without_consensus(st) {
                st.log(
                    Level::Warning,
                    &format!("configEpoch updated after importing slot {slot}"),
                );
            }
            c.importing.remove(&(slot as u16));
            messages::broadcast_pong(c, st, PongTarget::All);
        }
    } else {
        return Err(
            "ERR Invalid CLUSTER SETSLOT action or number of arguments. Try CLUSTER HELP".into(),
        );
    }
    Ok(())
}

/// `clusterStartHandshake`: a node to MEET (nothing if a handshake with it is running).
pub fn start_handshake(c: &mut Cluster, ip: &str, port: u16, cport: u16) {
    let running = c.nodes.values().any(|n| {
        n.in_handshake() && n.ip.eq_ignore_ascii_case(ip) && n.port == port && n.cport == cport
    });
    if running {
        return;
    }
    let mut n = ClusterNode::new(super::state::random_id(), flag::HANDSHAKE | flag::MEET);
    n.ip = ip.to_string();
    n.port = port;
    n.cport = cport;
    c.add_node(n);
}

/// `clusterReset`: forget every other node and all slots; HARD also resets the epochs and
/// takes a new id. A replica's data is flushed, which tells tracking clients to drop their
/// caches (`caller`, the client running CLUSTER RESET, after its reply).
pub fn reset(
    c: &mut Cluster,
    st: &mut crate::node::NodeState,
    hard: bool,
    caller: crate::keyspace::ClientId,
) {
    if c.me().is_slave() {
        let me = c.myself;
        c.set_node_as_master(&me);
        st.become_master();
        for db in st.dbs.iter_mut() {
            db.clear();
        }
        crate::tracking::invalidate_all(st, caller);
        st.dirty += 1;
    }
    c.close_all_slots();
    c.reset_manual_failover(st);
    for j in 0..SLOTS {
        c.del_slot(st, j);
    }
    let others: Vec<NodeId> = c
        .nodes
        .keys()
        .filter(|id| **id != c.myself)
        .copied()
        .collect();
    for id in others {
        c.del_node(st, &id);
    }
    if hard {
        c.current_epoch = 0;
        c.last_vote_epoch = 0;
        c.me_mut().config_epoch = 0;
        st.log(
            Level::Warning,
            "configEpoch set to 0 via CLUSTER RESET HARD",
        );
        let old = c.myself;
        let new = super::state::random_id();
        c.rename_node(&old, new);
        c.myself = new;
        st.log(
            Level::Notice,
            &format!("Node hard reset, now I'm {}", name(&new)),
        );
    }
    c.do_before_sleep(todo::UPDATE_STATE | todo::SAVE_CONFIG | todo::FSYNC_CONFIG);
}
