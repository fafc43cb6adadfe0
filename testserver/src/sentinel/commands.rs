//! A sentinel's commands: its table (Redis's sentinel-mode table: the commands flagged for
//! Sentinel), SENTINEL and its subcommands, and the sentinel versions of INFO, ROLE and
//! PUBLISH. Everything else is Redis's `unknown command`.

use std::sync::OnceLock;

use bytes::Bytes;
use rediscover::error_codes::msg;

use super::show::write_pairs;
use super::{flag, flush_output, now_ms, simfailure, Kind, Sentinel, HELLO_CHANNEL};
use crate::cmd::{eq_ic, parse_i64, CmdResult, CommandTable, Ctx, Error, Handler};
use crate::logging::Level;

/// The commands a sentinel runs. Built once per process; every sentinel node holds it.
pub fn table() -> &'static CommandTable {
    static TABLE: OnceLock<CommandTable> = OnceLock::new();
    TABLE.get_or_init(|| {
        let shared = |name: &str| -> Handler {
            crate::cmd::server_table()
                .get(name.as_bytes())
                .unwrap_or_else(|| panic!("the server implements {name}"))
                .handler
        };
        CommandTable::from_handlers(&[
            ("acl", shared("acl")),
            ("auth", shared("auth")),
            ("client", shared("client")),
            ("command", shared("command")),
            ("hello", shared("hello")),
            ("info", info),
            ("ping", shared("ping")),
            ("psubscribe", shared("psubscribe")),
            ("publish", publish),
            ("punsubscribe", shared("punsubscribe")),
            ("role", role),
            ("sentinel", sentinel),
            ("shutdown", shared("shutdown")),
            ("subscribe", shared("subscribe")),
            ("unsubscribe", shared("unsubscribe")),
        ])
    })
}

fn state<'a>(ctx: &'a mut Ctx<'_>) -> Result<&'a mut Sentinel, Error> {
    ctx.node
        .sentinel
        .as_deref_mut()
        .ok_or_else(|| Error::from("ERR This instance has Sentinel support disabled."))
}

/// INFO in sentinel mode: server, clients, stats, cpu and sentinel sections only (a plain
/// bulk string even in RESP3, as Redis sends it).
fn info(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    const SECTIONS: &[&str] = &["server", "clients", "stats", "cpu", "sentinel"];
    let mut wanted: Vec<&str> = Vec::new();
    if argv.len() == 1 {
        wanted.extend(SECTIONS);
    }
    for arg in &argv[1..] {
        let name = String::from_utf8_lossy(arg).to_ascii_lowercase();
        match name.as_str() {
            "default" | "all" | "everything" => wanted.extend(SECTIONS),
            other => {
                if let Some(s) = SECTIONS.iter().find(|s| **s == other) {
                    wanted.push(s);
                }
            }
        }
    }
    let standard: Vec<&str> = SECTIONS[..4]
        .iter()
        .copied()
        .filter(|s| wanted.contains(s))
        .collect();
    let mut text = crate::info::render_sections(ctx.node, &standard);
    if wanted.contains(&"sentinel") {
        if !text.is_empty() {
            text.push_str("\r\n");
        }
        state(ctx)?.info_section(&mut text);
    }
    ctx.out.bulk(text.as_bytes());
    Ok(())
}

/// `ROLE`: `sentinel` and the names of the monitored masters.
fn role(ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CmdResult {
    let s = ctx.node.sentinel.as_deref().ok_or(msg::SYNTAX)?;
    let names: Vec<String> = s.masters.iter().map(|&m| s.inst(m).name.clone()).collect();
    ctx.out.array(2);
    ctx.out.bulk(b"sentinel");
    ctx.out.array(names.len());
    for n in names {
        ctx.out.bulk(n.as_bytes());
    }
    Ok(())
}

/// PUBLISH on a sentinel only takes hello messages (how other sentinels reach it directly).
fn publish(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    if &argv[1][..] != HELLO_CHANNEL.as_bytes() {
        return Err("ERR Only HELLO messages are accepted by Sentinel instances.".into());
    }
    state(ctx)?.process_hello(&argv[2]);
    flush_output(ctx.node);
    ctx.out.int(1);
    Ok(())
}

const HELP: &[&str] = &[
    "CKQUORUM <master-name>",
    "    Check if the current Sentinel configuration is able to reach the quorum",
    "    needed to failover a master and the majority needed to authorize the",
    "    failover.",
    "CONFIG SET <param> <value>",
    "    Set a global Sentinel configuration parameter.",
    "CONFIG GET <param>",
    "    Get global Sentinel configuration parameter.",
    "DEBUG [<param> <value> ...]",
    "    Show a list of configurable time parameters and their values (milliseconds).",
    "    Or update current configurable parameters values (one or more).",
    "GET-MASTER-ADDR-BY-NAME <master-name>",
    "    Return the ip and port number of the master with that name.",
    "FAILOVER <master-name>",
    "    Manually failover a master node without asking for agreement from other",
    "    Sentinels",
    "FLUSHCONFIG",
    "    Force Sentinel to rewrite its configuration on disk, including the current",
    "    Sentinel state.",
    "INFO-CACHE <master-name>",
    "    Return last cached INFO output from masters and all its replicas.",
    "IS-MASTER-DOWN-BY-ADDR <ip> <port> <current-epoch> <runid>",
    "    Check if the master specified by ip:port is down from current Sentinel's",
    "    point of view.",
    "MASTER <master-name>",
    "    Show the state and info of the specified master.",
    "MASTERS",
    "    Show a list of monitored masters and their state.",
    "MONITOR <name> <ip> <port> <quorum>",
    "    Start monitoring a new master with the specified name, ip, port and quorum.",
    "MYID",
    "    Return the ID of the Sentinel instance.",
    "PENDING-SCRIPTS",
    "    Get pending scripts information.",
    "REMOVE <master-name>",
    "    Remove master from Sentinel's monitor list.",
    "REPLICAS <master-name>",
    "    Show a list of replicas for this master and their state.",
    "RESET <pattern>",
    "    Reset masters for specific master name matching this pattern.",
    "SENTINELS <master-name>",
    "    Show a list of Sentinel instances for this master and their state.",
    "SET <master-name> <option> <value> [<option> <value> ...]",
    "    Set configuration parameters for certain masters.",
    "SIMULATE-FAILURE [CRASH-AFTER-ELECTION] [CRASH-AFTER-PROMOTION] [HELP]",
    "    Simulate a Sentinel crash.",
];

const NO_MASTER: &str = "ERR No such master with that name";
const SAVE_FAILED: &str = "ERR Failed to save config file. Check server logs.";

/// SENTINEL <subcommand> ...
fn sentinel(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let name = crate::cmd::subcommand(argv)?;
    let result = run(ctx, name, argv);
    flush_output(ctx.node);
    result
}

fn run(ctx: &mut Ctx<'_>, name: &str, argv: &[Bytes]) -> CmdResult {
    let out = &mut *ctx.out;
    let s = ctx
        .node
        .sentinel
        .as_deref_mut()
        .ok_or_else(|| Error::from("ERR This instance has Sentinel support disabled."))?;
    let master = |s: &Sentinel, arg: &[u8]| s.master_by_name(arg).ok_or(Error::from(NO_MASTER));
    let flushed = |s: &mut Sentinel, out: &mut rediscover::resp::ReplyWriter| {
        if s.flush_config() {
            out.ok();
            Ok(())
        } else {
            Err(Error::from(SAVE_FAILED))
        }
    };
    match name {
        "sentinel|help" => {
            out.array(HELP.len() + 3);
            out.simple("SENTINEL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:");
            for line in HELP {
                out.simple(line);
            }
            out.simple("HELP");
            out.simple("    Prints this help.");
        }
        "sentinel|masters" => {
            let ids = s.master_ids();
            s.write_instances(out, &ids);
        }
        "sentinel|master" => {
            let m = master(s, &argv[2])?;
            s.write_instance(out, m);
        }
        "sentinel|replicas" | "sentinel|slaves" => {
            let m = master(s, &argv[2])?;
            let ids = s.inst(m).replicas.clone();
            s.write_instances(out, &ids);
        }
        "sentinel|sentinels" => {
            let m = master(s, &argv[2])?;
            let ids = s.inst(m).sentinels.clone();
            s.write_instances(out, &ids);
        }
        "sentinel|myid" => out.bulk(s.myid.as_bytes()),
        "sentinel|is-master-down-by-addr" => is_master_down_by_addr(s, out, argv)?,
        "sentinel|reset" => {
            let mut n = 0;
            for m in s.master_ids() {
                if crate::glob::glob_match(&argv[2], s.inst(m).name.as_bytes(), false) {
                    s.reset_master(m, super::instance::RESET_GENERATE_EVENT);
                    n += 1;
                }
            }
            out.int(n);
        }
        "sentinel|get-master-addr-by-name" => match s.master_by_name(&argv[2]) {
            None => out.null_array(),
            Some(m) => {
                let addr = s.current_master_addr(m);
                out.array(2);
                out.bulk(s.announce(addr).as_bytes());
                out.bulk(addr.port.to_string().as_bytes());
            }
        },
        "sentinel|failover" => {
            let m = master(s, &argv[2])?;
            if s.inst(m).flags & flag::FAILOVER_IN_PROGRESS != 0 {
                return Err("INPROG Failover already in progress".into());
            }
            let now = now_ms();
            if s.select_slave(m, now).is_none() {
                return Err("NOGOODSLAVE No suitable replica to promote".into());
            }
            let name = s.inst(m).name.clone();
            s.log(
                Level::Warning,
                format!("Executing user requested FAILOVER of '{name}'"),
            );
            s.start_failover(m, now);
            s.inst_mut(m).flags |= flag::FORCE_FAILOVER;
            out.ok();
        }
        "sentinel|pending-scripts" => pending_scripts(s, out),
        "sentinel|monitor" => {
            let quorum = parse_i64(&argv[5]).map_err(|_| Error::from("ERR Invalid quorum"))?;
            let port = parse_i64(&argv[4]).map_err(|_| Error::from("ERR Invalid port"))?;
            if quorum <= 0 {
                return Err("ERR Quorum must be 1 or greater.".into());
            }
            let host = String::from_utf8_lossy(&argv[3]).into_owned();
            if s.make_addr(&host, 0, false).is_err() {
                return Err("ERR Invalid IP address or hostname specified".into());
            }
            let name = String::from_utf8_lossy(&argv[2]).into_owned();
            let m = s
                .create_instance(&name, Kind::Master, &host, port, quorum as u32, None)
                .map_err(|e| {
                    Error::from(match e {
                        super::instance::CreateError::Duplicate => "ERR Duplicate master name.",
                        super::instance::CreateError::InvalidPort => "ERR Invalid port number.",
                        super::instance::CreateError::Unresolved => {
                            "ERR Can't resolve instance hostname."
                        }
                    })
                })?;
            let result = flushed(s, out);
            s.event_at(Level::Warning, "+monitor", m, &format!(" quorum {quorum}"));
            result?;
        }
        "sentinel|flushconfig" => flushed(s, out)?,
        "sentinel|remove" => {
            let m = master(s, &argv[2])?;
            s.event_at(Level::Warning, "-monitor", m, "");
            s.remove_master(m);
            flushed(s, out)?;
        }
        "sentinel|ckquorum" => {
            let m = master(s, &argv[2])?;
            let ri = s.inst(m);
            let voters = ri.sentinels.len() + 1;
            let usable = 1 + ri
                .sentinels
                .iter()
                .filter(|&&x| s.inst(x).flags & (flag::S_DOWN | flag::O_DOWN) == 0)
                .count();
            let no_quorum = usable < ri.quorum as usize;
            let no_auth = usable < voters / 2 + 1;
            if !no_quorum && !no_auth {
                out.simple(&format!(
                    "OK {usable} usable Sentinels. Quorum and failover authorization can be reached"
                ));
            } else {
                let mut e = format!("NOQUORUM {usable} usable Sentinels. ");
                if no_quorum {
                    e.push_str(
                        "Not enough available Sentinels to reach the specified quorum for this master",
                    );
                }
                if no_auth {
                    if no_quorum {
                        e.push_str(". ");
                    }
                    e.push_str(
                        "Not enough available Sentinels to reach the majority and authorize a failover",
                    );
                }
                return Err(e.into());
            }
        }
        "sentinel|set" => set(s, out, argv)?,
        "sentinel|config" => {
            let only =
                "ERR Only SENTINEL CONFIG GET <option> / SET <option> <value> are supported.";
            if eq_ic(&argv[2], "set") && argv.len() == 5 {
                config_set(s, out, &argv[3], &argv[4])?;
            } else if eq_ic(&argv[2], "get") && argv.len() == 4 {
                let pairs: Vec<(&str, String)> = s
                    .config_fields()
                    .into_iter()
                    .filter(|(k, _)| crate::glob::glob_match(&argv[3], k.as_bytes(), true))
                    .collect();
                write_pairs(out, &pairs);
            } else {
                return Err(only.into());
            }
        }
        "sentinel|info-cache" => info_cache(s, out, &argv[2..]),
        "sentinel|simulate-failure" => {
            s.simfailure = 0;
            for arg in &argv[2..] {
                if eq_ic(arg, "crash-after-election") {
                    s.simfailure |= simfailure::CRASH_AFTER_ELECTION;
                    s.log(Level::Warning, "Failure simulation: this Sentinel will crash after being successfully elected as failover leader");
                } else if eq_ic(arg, "crash-after-promotion") {
                    s.simfailure |= simfailure::CRASH_AFTER_PROMOTION;
                    s.log(Level::Warning, "Failure simulation: this Sentinel will crash after promoting the selected replica to master");
                } else if eq_ic(arg, "help") {
                    out.array(2);
                    out.bulk(b"crash-after-election");
                    out.bulk(b"crash-after-promotion");
                    return Ok(());
                } else {
                    return Err("ERR Unknown failure simulation specified".into());
                }
            }
            out.ok();
        }
        "sentinel|debug" => {
            if argv.len() == 2 {
                write_pairs(out, &s.debug_fields());
            } else {
                debug_set(s, out, argv)?;
            }
        }
        _ => return Err(rediscover::error_codes::unknown_subcommand("sentinel", &argv[1]).into()),
    }
    Ok(())
}

/// `SENTINEL IS-MASTER-DOWN-BY-ADDR <ip> <port> <current-epoch> <runid>`: whether we see the
/// master at that address down, and (unless `runid` is `*`) our vote for `runid`.
fn is_master_down_by_addr(
    s: &mut Sentinel,
    out: &mut rediscover::resp::ReplyWriter,
    argv: &[Bytes],
) -> CmdResult {
    let port = parse_i64(&argv[3])?;
    let req_epoch = parse_i64(&argv[4])?;
    let ip = String::from_utf8_lossy(&argv[2]).into_owned();
    let found = s.make_addr(&ip, port, true).ok().and_then(|addr| {
        s.masters
            .iter()
            .copied()
            .find(|&m| s.inst(m).addr.same(&addr))
    });
    let isdown = !s.tilt && found.is_some_and(|m| s.inst(m).flags & flag::S_DOWN != 0);
    let mut leader = None;
    let mut leader_epoch = 0;
    if let Some(m) = found {
        if !eq_ic(&argv[5], "*") {
            let runid = String::from_utf8_lossy(&argv[5]).into_owned();
            (leader, leader_epoch) = s.vote_leader(m, req_epoch as u64, &runid, now_ms());
        }
    }
    out.array(3);
    out.int(i64::from(isdown));
    out.bulk(leader.as_deref().unwrap_or("*").as_bytes());
    out.int(leader_epoch as i64);
    Ok(())
}

/// `SENTINEL SET <master> <option> <value> ...`: options applied left to right; an error
/// stops there, keeping (and saving) what was applied before it.
fn set(s: &mut Sentinel, out: &mut rediscover::resp::ReplyWriter, argv: &[Bytes]) -> CmdResult {
    let m = s.master_by_name(&argv[2]).ok_or(Error::from(NO_MASTER))?;
    let mut changes = 0;
    let mut j = 3;
    let result = loop {
        if j >= argv.len() {
            break Ok(());
        }
        let option = String::from_utf8_lossy(&argv[j]).into_owned();
        let more = argv.len() - 1 - j;
        let start = j;
        let bad = |v: &Bytes, o: &str| {
            Error::from(format!(
                "ERR Invalid argument '{}' for SENTINEL SET '{o}'",
                String::from_utf8_lossy(v)
            ))
        };
        let number = |v: &Bytes, min: i64| -> Option<i64> {
            rediscover::resp::parse_integer(v).filter(|&n| n >= min)
        };
        let lower = option.to_ascii_lowercase();
        let mut redacted = false;
        match (lower.as_str(), more) {
            ("down-after-milliseconds", 1..) => {
                j += 1;
                let Some(n) = number(&argv[j], 1) else {
                    break Err(bad(&argv[j], &option));
                };
                s.inst_mut(m).down_after_period = n;
                s.propagate_down_after(m);
            }
            ("failover-timeout", 1..) => {
                j += 1;
                let Some(n) = number(&argv[j], 1) else {
                    break Err(bad(&argv[j], &option));
                };
                s.inst_mut(m).failover_timeout = n;
            }
            ("parallel-syncs", 1..) => {
                j += 1;
                let Some(n) = number(&argv[j], 1) else {
                    break Err(bad(&argv[j], &option));
                };
                s.inst_mut(m).parallel_syncs = n;
            }
            ("notification-script" | "client-reconfig-script", 1..) => {
                j += 1;
                if s.deny_scripts_reconfig {
                    break Err("ERR Reconfiguration of scripts path is denied for security reasons. Check the deny-scripts-reconfig configuration directive in your Sentinel configuration".into());
                }
                let value = String::from_utf8_lossy(&argv[j]).into_owned();
                let notification = lower == "notification-script";
                if !value.is_empty() && !super::config::executable(&value) {
                    break Err(if notification {
                        "ERR Notification script seems non existing or non executable"
                    } else {
                        "ERR Client reconfiguration script seems non existing or non executable"
                    }
                    .into());
                }
                let value = (!value.is_empty()).then_some(value);
                let ri = s.inst_mut(m);
                if notification {
                    ri.notification_script = value;
                } else {
                    ri.client_reconfig_script = value;
                }
            }
            ("auth-pass" | "auth-user", 1..) => {
                j += 1;
                let value = String::from_utf8_lossy(&argv[j]).into_owned();
                let value = (!value.is_empty()).then_some(value);
                if lower == "auth-pass" {
                    s.inst_mut(m).auth_pass = value;
                    redacted = true;
                } else {
                    s.inst_mut(m).auth_user = value;
                }
                drop_instance_connections(s, m);
            }
            ("quorum", 1..) => {
                j += 1;
                let Some(n) = number(&argv[j], 1) else {
                    break Err(bad(&argv[j], &option));
                };
                s.inst_mut(m).quorum = n.min(i64::from(u32::MAX)) as u32;
            }
            ("rename-command", 2..) => {
                let (old, new) = (&argv[j + 1], &argv[j + 2]);
                j += 2;
                if old.is_empty() || new.is_empty() {
                    break Err(bad(if new.is_empty() { new } else { old }, &option));
                }
                let old = String::from_utf8_lossy(old).into_owned();
                let new = String::from_utf8_lossy(new).into_owned();
                let ri = s.inst_mut(m);
                ri.renamed_commands
                    .retain(|(from, _)| !from.eq_ignore_ascii_case(&old));
                if !old.eq_ignore_ascii_case(&new) {
                    ri.renamed_commands.push((old, new));
                }
            }
            ("master-reboot-down-after-period", 1..) => {
                j += 1;
                let Some(n) = number(&argv[j], 0) else {
                    break Err(bad(&argv[j], &option));
                };
                s.inst_mut(m).master_reboot_down_after_period = n;
            }
            _ => {
                break Err(format!(
                    "ERR Unknown option or number of arguments for SENTINEL SET '{option}'"
                )
                .into())
            }
        }
        changes += 1;
        let shown: Vec<String> = argv[start..=j]
            .iter()
            .enumerate()
            .map(|(i, a)| {
                if i == 1 && redacted {
                    "******".to_string()
                } else {
                    String::from_utf8_lossy(a).into_owned()
                }
            })
            .collect();
        let text = match shown.len() {
            2 | 3 => format!(" {}", shown.join(" ")),
            _ => format!(" {}", shown[0]),
        };
        s.event_at(Level::Warning, "+set", m, &text);
        j += 1;
    };
    match result {
        Ok(()) => {
            if s.flush_config() {
                out.ok();
                Ok(())
            } else {
                Err(SAVE_FAILED.into())
            }
        }
        Err(e) => {
            if changes > 0 {
                s.flush_config();
            }
            Err(e)
        }
    }
}

/// Closes the connections to a master and its replicas (new credentials).
fn drop_instance_connections(s: &mut Sentinel, m: super::InstId) {
    let mut ids = s.inst(m).replicas.clone();
    ids.push(m);
    for id in ids {
        let link = s.inst(id).link;
        s.close_conn(link, false);
        s.close_conn(link, true);
    }
}

/// `SENTINEL CONFIG SET <option> <value>`.
fn config_set(
    s: &mut Sentinel,
    out: &mut rediscover::resp::ReplyWriter,
    option: &Bytes,
    value: &Bytes,
) -> CmdResult {
    let text = String::from_utf8_lossy(value).into_owned();
    let name = String::from_utf8_lossy(option).into_owned();
    let bad = || {
        Error::from(format!(
            "ERR Invalid value '{text}' to SENTINEL CONFIG SET '{name}'"
        ))
    };
    let yes_no = |v: &str| match v.to_ascii_lowercase().as_str() {
        "yes" => Some(true),
        "no" => Some(false),
        _ => None,
    };
    let mut drop_conns = false;
    match name.to_ascii_lowercase().as_str() {
        "resolve-hostnames" => s.resolve_hostnames = yes_no(&text).ok_or_else(bad)?,
        "announce-hostnames" => s.announce_hostnames = yes_no(&text).ok_or_else(bad)?,
        "announce-ip" => s.announce_ip = Some(text.clone()),
        "announce-port" => {
            let port = rediscover::resp::parse_integer(value)
                .filter(|p| (0..=65535).contains(p))
                .ok_or_else(bad)?;
            s.announce_port = port as u16;
        }
        "sentinel-user" => {
            s.sentinel_user = (!text.is_empty()).then(|| text.clone());
            drop_conns = true;
        }
        "sentinel-pass" => {
            s.sentinel_pass = (!text.is_empty()).then(|| text.clone());
            drop_conns = true;
        }
        _ => return Err(format!("ERR Invalid argument '{name}' to SENTINEL CONFIG SET").into()),
    }
    let saved = s.flush_config();
    if drop_conns {
        for m in s.master_ids() {
            for id in s.inst(m).sentinels.clone() {
                let link = s.inst(id).link;
                if !s.links[&link].disconnected {
                    s.close_conn(link, true);
                    s.close_conn(link, false);
                }
            }
        }
    }
    if saved {
        out.ok();
        Ok(())
    } else {
        Err(SAVE_FAILED.into())
    }
}

/// `SENTINEL DEBUG <param> <ms> ...`.
fn debug_set(
    s: &mut Sentinel,
    out: &mut rediscover::resp::ReplyWriter,
    argv: &[Bytes],
) -> CmdResult {
    let mut j = 2;
    while j < argv.len() {
        let option = String::from_utf8_lossy(&argv[j]).into_owned();
        let more = argv.len() - 1 - j;
        let p = &mut s.periods;
        let slot = match option.to_ascii_lowercase().as_str() {
            _ if more == 0 => None,
            "info-period" => Some(&mut p.info),
            "ping-period" => Some(&mut p.ping),
            "ask-period" => Some(&mut p.ask),
            "publish-period" => Some(&mut p.publish),
            "default-down-after" => Some(&mut p.default_down_after),
            "tilt-trigger" => Some(&mut p.tilt_trigger),
            "tilt-period" => Some(&mut p.tilt_period),
            "slave-reconf-timeout" => Some(&mut p.slave_reconf_timeout),
            "min-link-reconnect-period" => Some(&mut p.min_link_reconnect),
            "default-failover-timeout" => Some(&mut p.default_failover_timeout),
            "election-timeout" => Some(&mut p.election_timeout),
            "script-max-runtime" => Some(&mut p.script_max_runtime),
            "script-retry-delay" => Some(&mut p.script_retry_delay),
            _ => None,
        };
        let Some(slot) = slot else {
            return Err(format!(
                "ERR Unknown option or number of arguments for SENTINEL DEBUG '{option}'"
            )
            .into());
        };
        j += 1;
        match rediscover::resp::parse_integer(&argv[j]).filter(|&n| n > 0) {
            Some(n) => *slot = n,
            None => {
                return Err(format!(
                    "ERR Invalid argument '{}' for SENTINEL DEBUG '{option}'",
                    String::from_utf8_lossy(&argv[j])
                )
                .into())
            }
        }
        j += 1;
    }
    out.ok();
    Ok(())
}

/// `SENTINEL INFO-CACHE [<master> ...]`: the last INFO of each master and its replicas,
/// with its age in milliseconds.
fn info_cache(s: &Sentinel, out: &mut rediscover::resp::ReplyWriter, names: &[Bytes]) {
    let now = now_ms();
    let masters: Vec<super::InstId> = if names.is_empty() {
        s.master_ids()
    } else {
        let mut v = Vec::new();
        for n in names {
            if let Some(m) = s.master_by_name(n) {
                if !v.contains(&m) {
                    v.push(m);
                }
            }
        }
        v
    };
    out.array(masters.len() * 2);
    for m in masters {
        let ri = s.inst(m);
        out.bulk(ri.name.as_bytes());
        out.array(ri.replicas.len() + 1);
        let age = |t: i64| if ri.info_refresh != 0 { now - t } else { 0 };
        for id in std::iter::once(m).chain(ri.replicas.iter().copied()) {
            let x = s.inst(id);
            out.array(2);
            out.int(age(x.info_refresh));
            match &x.info {
                Some(info) => out.bulk(info.as_bytes()),
                None => out.null(),
            }
        }
    }
}

/// `SENTINEL PENDING-SCRIPTS`.
fn pending_scripts(s: &Sentinel, out: &mut rediscover::resp::ReplyWriter) {
    let now = now_ms();
    out.array(s.scripts.queue.len());
    for job in &s.scripts.queue {
        out.map(5);
        out.bulk(b"argv");
        out.array(job.argv.len());
        for a in &job.argv {
            out.bulk(a.as_bytes());
        }
        out.bulk(b"flags");
        out.bulk(if job.running() {
            &b"running"[..]
        } else {
            b"scheduled"
        });
        out.bulk(b"pid");
        out.bulk(job.pid().to_string().as_bytes());
        if job.running() {
            out.bulk(b"run-time");
            out.bulk((now - job.start_time).to_string().as_bytes());
        } else {
            let delay = if job.start_time != 0 {
                (job.start_time - now).max(0)
            } else {
                0
            };
            out.bulk(b"run-delay");
            out.bulk(delay.to_string().as_bytes());
        }
        out.bulk(b"retry-num");
        out.bulk(job.retry_num.to_string().as_bytes());
    }
}
