//! FAILOVER: a master hands its role to one of its replicas without losing a write, as Redis
//! 7.0's coordinated failover does.
//!
//! `FAILOVER [TO host port [FORCE]] [TIMEOUT ms]` pauses writes on the master and waits until a
//! replica (the one named, or any) has acknowledged the whole replication stream; then the
//! master turns itself into a replica of it and sends `PSYNC <replid> <offset> FAILOVER`, which
//! makes the replica a master (see [`super::master::psync`]). When the new master answers the
//! PSYNC, the old one clears the failover and unpauses: the writes that waited now meet a
//! replica and get `READONLY`. A timeout without FORCE, a refused PSYNC or `FAILOVER ABORT`
//! gives the node its master role back.

use bytes::Bytes;

use crate::cmd::{eq_ic, parse_i64, CmdResult, Ctx};
use crate::logging::Level;
use crate::node::NodeState;

/// A failover under way on this node.
#[derive(Debug, Clone)]
pub struct Failover {
    /// Where it is.
    pub state: FailoverState,
    /// The replica it goes to, once known (named by `TO`, or the first to catch up).
    pub target: Option<(String, u16)>,
    /// When it gives up (Unix ms), with `TIMEOUT`.
    pub end_ms: Option<i64>,
    /// `FORCE`: at the timeout, fail over to the target anyway.
    pub force: bool,
}

/// The stages of a failover (`master_failover_state` in INFO).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailoverState {
    /// Writes are paused; waiting for a replica to acknowledge everything.
    WaitingForSync,
    /// This node is now a replica of the target and asked it to take over.
    InProgress,
}

impl FailoverState {
    /// As INFO shows it.
    pub fn name(self) -> &'static str {
        match self {
            FailoverState::WaitingForSync => "waiting-for-sync",
            FailoverState::InProgress => "failover-in-progress",
        }
    }
}

/// `FAILOVER [TO host port [FORCE]] [ABORT] [TIMEOUT ms]`
pub(crate) fn command(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    if ctx.node.cluster.is_some() {
        return Err(
            "ERR FAILOVER not allowed in cluster mode. Use CLUSTER FAILOVER command instead."
                .into(),
        );
    }
    if argv.len() == 2 && eq_ic(&argv[1], "abort") {
        if ctx.node.repl.failover.is_none() {
            return Err("ERR No failover in progress.".into());
        }
        abort(ctx.node, "Failover manually aborted");
        ctx.out.ok();
        return Ok(());
    }
    let (mut timeout, mut force, mut target) = (0i64, false, None::<(String, i64)>);
    let mut j = 1;
    while j < argv.len() {
        let a = &argv[j];
        if eq_ic(a, "timeout") && j + 1 < argv.len() && timeout == 0 {
            timeout = parse_i64(&argv[j + 1])?;
            if timeout <= 0 {
                return Err("ERR FAILOVER timeout must be greater than 0".into());
            }
            j += 2;
        } else if eq_ic(a, "to") && j + 2 < argv.len() && target.is_none() {
            let port = parse_i64(&argv[j + 2])?;
            target = Some((String::from_utf8_lossy(&argv[j + 1]).into_owned(), port));
            j += 3;
        } else if eq_ic(a, "force") && !force {
            force = true;
            j += 1;
        } else {
            return Err(rediscover::error_codes::msg::SYNTAX.into());
        }
    }
    let st = &mut *ctx.node;
    if st.repl.failover.is_some() {
        return Err("ERR FAILOVER already in progress.".into());
    }
    if !st.repl.is_master() {
        return Err("ERR FAILOVER is not valid when server is a replica.".into());
    }
    if st.repl.replicas.is_empty() {
        return Err("ERR FAILOVER requires connected replicas.".into());
    }
    if force && (timeout == 0 || target.is_none()) {
        return Err(
            "ERR FAILOVER with force option requires both a timeout and target HOST and IP.".into(),
        );
    }
    let target = match target {
        Some((host, port)) => {
            let Some(replica) = find_replica(st, &host, port) else {
                return Err("ERR FAILOVER target HOST and PORT is not a replica.".into());
            };
            if replica.state != super::ReplicaState::Online {
                return Err("ERR FAILOVER target replica is not online.".into());
            }
            st.log(
                Level::Notice,
                &format!("FAILOVER requested to {host}:{port}."),
            );
            Some((host, port as u16))
        }
        None => {
            st.log(Level::Notice, "FAILOVER requested to any replica.");
            None
        }
    };
    st.repl.failover = Some(Failover {
        state: FailoverState::WaitingForSync,
        target,
        end_ms: (timeout > 0).then(|| crate::node::unix_ms() + timeout),
        force,
    });
    ctx.out.ok();
    Ok(())
}

/// Redis's `findReplica`: the replica announcing this address (REPLCONF ip-address, or the
/// address it connected from) and listening port.
fn find_replica<'a>(st: &'a NodeState, host: &str, port: i64) -> Option<&'a super::ReplicaInfo> {
    st.repl
        .replicas
        .iter()
        .find(|r| r.ip.eq_ignore_ascii_case(host) && i64::from(r.port) == port)
}

/// Redis's `updateFailoverStatus`, run by the node's cron: time out, or hand over to a replica
/// that has acknowledged the whole stream.
pub(crate) fn update(st: &mut NodeState) {
    let Some(f) = st.repl.failover.as_ref() else {
        return;
    };
    if f.state != FailoverState::WaitingForSync {
        return;
    }
    if f.end_ms.is_some_and(|end| end <= crate::node::unix_ms()) {
        match (f.force, f.target.clone()) {
            (true, Some((host, port))) => {
                st.log(
                    Level::Notice,
                    &format!("FAILOVER to {host}:{port} time out exceeded, failing over."),
                );
                hand_over(st, host, port);
            }
            _ => abort(st, "Replica never caught up before timeout"),
        }
        return;
    }
    let offset = st.repl.offset();
    let synced = match &f.target {
        Some((host, port)) => find_replica(st, host, i64::from(*port))
            .filter(|r| r.ack_offset == offset)
            .map(|_| (host.clone(), *port)),
        None => st
            .repl
            .replicas
            .iter()
            .find(|r| r.ack_offset == offset)
            .map(|r| (r.ip.clone(), r.port)),
    };
    if let Some((host, port)) = synced {
        st.log(
            Level::Notice,
            &format!("Failover target {host}:{port} is synced, failing over."),
        );
        hand_over(st, host, port);
    }
}

/// Becomes a replica of the target; the link's PSYNC carries `FAILOVER`.
fn hand_over(st: &mut NodeState, host: String, port: u16) {
    if let Some(f) = st.repl.failover.as_mut() {
        f.state = FailoverState::InProgress;
        f.target = Some((host.clone(), port));
    }
    st.become_replica(host, port);
}

/// Redis's `abortFailover`: logs why, gives the master role back if the hand-over started,
/// and unpauses.
pub(crate) fn abort(st: &mut NodeState, why: &str) {
    let Some(f) = st.repl.failover.take() else {
        return;
    };
    match &f.target {
        Some((host, port)) => st.log(
            Level::Notice,
            &format!("FAILOVER to {host}:{port} aborted: {why}"),
        ),
        None => st.log(
            Level::Notice,
            &format!("FAILOVER to any replica aborted: {why}"),
        ),
    }
    if f.state == FailoverState::InProgress {
        st.become_master();
    }
}

/// The new master answered the PSYNC: the failover is over (writes resume, as a replica's).
pub(crate) fn finished(st: &mut NodeState) {
    st.repl.failover = None;
}

/// Whether the hand-over PSYNC must carry `FAILOVER`.
pub(crate) fn handing_over(st: &NodeState) -> bool {
    st.repl
        .failover
        .as_ref()
        .is_some_and(|f| f.state == FailoverState::InProgress)
}
