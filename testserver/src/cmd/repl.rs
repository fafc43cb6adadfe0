//! REPLICAOF / SLAVEOF, REPLCONF, PSYNC, SYNC, WAIT, ROLE, FAILOVER.

use std::time::{Duration, Instant};

use bytes::Bytes;
use rediscover::error_codes::msg;

use super::{eq_ic, parse_i64, CmdResult, Ctx, Handler};
use crate::logging::Level;
use crate::repl::{master, LinkState, ReplicaState};

pub(crate) const COMMANDS: &[(&str, Handler)] = &[
    ("replicaof", replicaof),
    ("slaveof", replicaof),
    ("replconf", master::replconf),
    ("psync", master::psync),
    ("sync", master::psync),
    ("wait", wait),
    ("role", role),
    ("failover", crate::repl::failover::command),
];

/// REPLICAOF host port | NO ONE
fn replicaof(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    if ctx.node.cluster.is_some() {
        return Err("ERR REPLICAOF not allowed in cluster mode.".into());
    }
    if ctx.node.repl.failover.is_some() {
        return Err("ERR REPLICAOF not allowed while failing over.".into());
    }
    if eq_ic(&argv[1], "no") && eq_ic(&argv[2], "one") {
        if !ctx.node.repl.is_master() {
            ctx.node.become_master();
            let who = ctx.client.addr;
            ctx.node.log(
                Level::Notice,
                &format!("MASTER MODE enabled (user request from 'addr={who}')"),
            );
        }
        ctx.out.ok();
        return Ok(());
    }
    if ctx.node.repl.replica_mut(ctx.client.id).is_some() {
        return Err("ERR Command is not valid when client is a replica.".into());
    }
    let port = std::str::from_utf8(&argv[2])
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
        .filter(|p| (0..=65535).contains(p))
        .ok_or("ERR Invalid master port")?;
    let host = String::from_utf8_lossy(&argv[1]).into_owned();
    if let Some(m) = &ctx.node.repl.master {
        if m.host.eq_ignore_ascii_case(&host) && i64::from(m.port) == port {
            ctx.node.log(
                Level::Notice,
                "REPLICAOF would result into synchronization with the master we are already connected with. No operation performed.",
            );
            ctx.out.simple("OK Already connected to specified master");
            return Ok(());
        }
    }
    ctx.node.become_replica(host.clone(), port as u16);
    let who = ctx.client.addr;
    ctx.node.log(
        Level::Notice,
        &format!("REPLICAOF {host}:{port} enabled (user request from 'addr={who}')"),
    );
    ctx.out.ok();
    Ok(())
}

/// What a WAIT waits for; the connection task does the waiting.
#[derive(Debug, Clone, Copy)]
pub struct WaitRequest {
    /// The offset replicas must have acknowledged.
    pub offset: u64,
    /// How many replicas.
    pub replicas: usize,
    /// When to give up (`None`: never).
    pub deadline: Option<Instant>,
}

/// WAIT numreplicas timeout
fn wait(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    if !ctx.node.repl.is_master() {
        return Err("ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated.".into());
    }
    let replicas = parse_i64(&argv[1])?;
    let timeout =
        parse_i64(&argv[2]).map_err(|_| "ERR timeout is not an integer or out of range")?;
    if timeout < 0 {
        return Err(msg::TIMEOUT_NEGATIVE.into());
    }
    let offset = ctx.client.woff;
    let acked = ctx.node.repl.acked(offset);
    if acked as i64 >= replicas || ctx.in_exec {
        ctx.out.int(acked as i64);
        return Ok(());
    }
    // Ask every replica for its offset now rather than waiting for its next periodic ACK.
    ctx.node.repl.feed_command(&[b"REPLCONF", b"GETACK", b"*"]);
    ctx.finish_with(super::Outcome::Wait(WaitRequest {
        offset,
        replicas: replicas as usize,
        deadline: (timeout > 0).then(|| Instant::now() + Duration::from_millis(timeout as u64)),
    }));
    Ok(())
}

/// ROLE
fn role(ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CmdResult {
    let repl = &ctx.node.repl;
    match &repl.master {
        None => {
            ctx.out.array(3);
            ctx.out.bulk(b"master");
            ctx.out.int(repl.offset() as i64);
            let online: Vec<_> = repl
                .replicas
                .iter()
                .filter(|r| r.state == ReplicaState::Online)
                .collect();
            ctx.out.array(online.len());
            for r in online {
                ctx.out.array(3);
                ctx.out.bulk(r.ip.as_bytes());
                ctx.out.bulk(r.port.to_string().as_bytes());
                ctx.out.bulk(r.ack_offset.to_string().as_bytes());
            }
        }
        Some(m) => {
            ctx.out.array(5);
            ctx.out.bulk(b"slave");
            ctx.out.bulk(m.host.as_bytes());
            ctx.out.int(i64::from(m.port));
            ctx.out.bulk(m.state.name().as_bytes());
            let offset = if m.state == LinkState::Connected {
                repl.offset() as i64
            } else {
                -1
            };
            ctx.out.int(offset);
        }
    }
    Ok(())
}
