//! Failure detection and failover: FAIL from a majority of masters, replica elections with
//! Redis's delays and epochs, votes, manual failover (default, FORCE, TAKEOVER), replica
//! migration, and the cluster state (`clusterUpdateState`).
//!
//! Redis's fixed delays (500 ms election delay, 1 s per rank, 2 s writable delay, 5 s manual
//! failover timeout and migration delay, 500..5000 ms rejoin delay) are given at the default
//! 100 ms cron period and scaled with [`scaled`]; everything derived from
//! `cluster-node-timeout` uses it as configured.

use super::messages::{self, PongTarget};
use super::state::{flag, name, todo, CantFailover, Cluster, NodeId};
use super::wire::{mflag, Header};
use super::{scaled, SLOTS};
use crate::logging::Level;
use crate::node::{unix_ms, NodeState};

/// `CLUSTER_MF_TIMEOUT` (ms at the default cron).
pub const MF_TIMEOUT: i64 = 5000;
/// `CLUSTER_SLAVE_MIGRATION_DELAY`.
const MIGRATION_DELAY: i64 = 5000;
/// `CLUSTER_WRITABLE_DELAY`.
const WRITABLE_DELAY: i64 = 2000;
/// `CLUSTER_MIN_REJOIN_DELAY` / `CLUSTER_MAX_REJOIN_DELAY`.
const MIN_REJOIN_DELAY: i64 = 500;
const MAX_REJOIN_DELAY: i64 = 5000;

fn random_below(n: i64) -> i64 {
    (crate::keyspace::random_u64() % n.max(1) as u64) as i64
}

/// `markNodeAsFailingIfNeeded`: PFAIL here plus reports from a majority of masters → FAIL,
/// broadcast to everyone.
pub fn mark_node_as_failing_if_needed(c: &mut Cluster, st: &mut NodeState, id: &NodeId) {
    let validity = st.config.cluster_node_timeout * 2;
    let needed = c.size / 2 + 1;
    let Some(n) = c.nodes.get(id) else { return };
    if !n.timed_out() || n.failed() {
        return;
    }
    let mut failures = c.failure_reports_count(id, validity);
    if c.i_am_master() {
        failures += 1;
    }
    if failures < needed {
        return;
    }
    st.log(
        Level::Notice,
        &format!("Marking node {} as failing (quorum reached).", name(id)),
    );
    let n = c.nodes.get_mut(id).expect("known");
    n.flags &= !flag::PFAIL;
    n.flags |= flag::FAIL;
    n.fail_time = unix_ms();
    messages::send_fail(c, st, id);
    c.do_before_sleep(todo::UPDATE_STATE | todo::SAVE_CONFIG);
}

/// `clusterSendFailoverAuthIfNeeded`: votes for a replica that asks, if Redis's rules allow.
pub fn send_failover_auth_if_needed(
    c: &mut Cluster,
    st: &mut NodeState,
    node: &NodeId,
    req: &Header,
) {
    if c.me().is_slave() || c.me().numslots == 0 {
        return;
    }
    let who = name(node).to_string();
    if req.current_epoch < c.current_epoch {
        st.log(
            Level::Warning,
            &format!(
                "Failover auth denied to {who}: reqEpoch ({}) < curEpoch({})",
                req.current_epoch, c.current_epoch
            ),
        );
        return;
    }
    if c.last_vote_epoch == c.current_epoch {
        st.log(
            Level::Warning,
            &format!(
                "Failover auth denied to {who}: already voted for epoch {}",
                c.current_epoch
            ),
        );
        return;
    }
    let n = &c.nodes[node];
    let master = n.slaveof.and_then(|m| c.nodes.get(&m));
    let force_ack = req.mflags0 & mflag::FORCEACK != 0;
    if n.is_master() || master.is_none() || (!master.is_some_and(|m| m.failed()) && !force_ack) {
        let why = if n.is_master() {
            "it is a master node"
        } else if master.is_none() {
            "I don't know its master"
        } else {
            "its master is up"
        };
        st.log(
            Level::Warning,
            &format!("Failover auth denied to {who}: {why}"),
        );
        return;
    }
    let master = master.expect("checked").id;
    let now = unix_ms();
    let gap = st.config.cluster_node_timeout * 2;
    let voted = c.nodes[&master].voted_time;
    if now - voted < gap {
        st.log(
            Level::Warning,
            &format!(
                "Failover auth denied to {who}: can't vote about this master before {} milliseconds",
                gap - (now - voted)
            ),
        );
        return;
    }
    for j in 0..SLOTS {
        if !req.myslots.get(j) || c.slot_unclaimed(j) {
            continue;
        }
        let Some(owner) = c.slots[j].and_then(|o| c.nodes.get(&o)) else {
            continue;
        };
        if owner.config_epoch <= req.config_epoch {
            continue;
        }
        st.log(
            Level::Warning,
            &format!(
                "Failover auth denied to {who}: slot {j} epoch ({}) > reqEpoch ({})",
                owner.config_epoch, req.config_epoch
            ),
        );
        return;
    }
    c.last_vote_epoch = c.current_epoch;
    c.nodes.get_mut(&master).expect("known").voted_time = now;
    c.do_before_sleep(todo::SAVE_CONFIG | todo::FSYNC_CONFIG);
    messages::send_failover_auth(c, st, node);
    st.log(
        Level::Warning,
        &format!(
            "Failover auth granted to {who} for epoch {}",
            c.current_epoch
        ),
    );
}

/// `clusterGetSlaveRank`: how many sibling replicas have a better offset than mine.
fn slave_rank(c: &Cluster, st: &NodeState) -> usize {
    let Some(master) = c.my_master().and_then(|m| c.nodes.get(&m)) else {
        return 0;
    };
    let mine = st.repl.offset();
    master
        .replicas
        .iter()
        .filter(|r| **r != c.myself)
        .filter_map(|r| c.nodes.get(r))
        .filter(|r| r.flags & flag::NOFAILOVER == 0 && r.repl_offset > mine)
        .count()
}

/// `clusterLogCantFailover`: rate-limited.
fn log_cant_failover(c: &mut Cluster, st: &NodeState, reason: CantFailover) {
    let now = unix_ms();
    const NOLOG: i64 = 300_000;
    if reason == c.cant_failover_reason && now - c.cant_failover_logged < NOLOG {
        return;
    }
    c.cant_failover_reason = reason;
    let fail_time = c
        .my_master()
        .and_then(|m| c.nodes.get(&m))
        .map_or(0, |m| m.fail_time);
    if fail_time != 0 && now - fail_time < st.config.cluster_node_timeout + scaled(st, 5000) {
        return;
    }
    c.cant_failover_logged = now;
    let msg = match reason {
        CantFailover::DataAge => "Disconnected from master for longer than allowed. Please check the 'cluster-replica-validity-factor' configuration option.",
        CantFailover::WaitingDelay => "Waiting the delay before I can start a new failover.",
        CantFailover::Expired => "Failover attempt expired.",
        CantFailover::WaitingVotes => "Waiting for votes, but majority still not reached.",
        CantFailover::None => return,
    };
    st.log(
        Level::Warning,
        &format!("Currently unable to failover: {msg}"),
    );
}

/// `clusterFailoverReplaceYourMaster`: become master, take the old master's slots, tell
/// everyone.
pub fn replace_your_master(c: &mut Cluster, st: &mut NodeState) {
    let Some(old) = c.my_master() else { return };
    if c.i_am_master() {
        return;
    }
    let me = c.myself;
    c.set_node_as_master(&me);
    st.become_master();
    let slots: Vec<usize> = (0..SLOTS)
        .filter(|&j| c.nodes.get(&old).is_some_and(|n| n.slots.get(j)))
        .collect();
    for j in slots {
        c.del_slot(st, j);
        c.add_slot(&me, j);
    }
    update_state(c, st);
    super::cron::save_config(c, st, true);
    messages::broadcast_pong(c, st, PongTarget::All);
    c.reset_manual_failover(st);
}

/// `clusterHandleSlaveFailover`: a replica whose master failed (or that was asked to) runs
/// an election.
pub fn handle_slave_failover(c: &mut Cluster, st: &mut NodeState) {
    let now = unix_ms();
    let auth_age = now - c.failover_auth_time;
    let needed = c.size / 2 + 1;
    let manual = c.mf_end != 0 && c.mf_can_start;
    c.todo &= !todo::HANDLE_FAILOVER;
    let timeout = st.config.cluster_node_timeout;
    let auth_timeout = (timeout * 2).max(scaled(st, 2000));
    let auth_retry_time = auth_timeout * 2;
    let no_failover = st.config.extra_or("cluster-replica-no-failover", "no") == "yes";
    let master = c.my_master().and_then(|m| c.nodes.get(&m));
    if c.i_am_master()
        || master.is_none()
        || (!master.is_some_and(|m| m.failed()) && !manual)
        || (no_failover && !manual)
        || master.is_some_and(|m| m.numslots == 0)
    {
        c.cant_failover_reason = CantFailover::None;
        return;
    }
    // Seconds resolution, as Redis measures it.
    let data_age = {
        let secs = |i: std::time::Instant| i.elapsed().as_secs() as i64 * 1000;
        match &st.repl.master {
            Some(m) if m.state == crate::repl::LinkState::Connected => secs(m.last_io),
            Some(m) => m.down_since.map_or(0, secs),
            None => 0,
        }
    };
    let data_age = if data_age > timeout {
        data_age - timeout
    } else {
        data_age
    };
    let factor: i64 = st
        .config
        .extra_or("cluster-replica-validity-factor", "10")
        .parse()
        .unwrap_or(10);
    if factor != 0
        && data_age > st.config.repl_ping_replica_period * 1000 + timeout * factor
        && !manual
    {
        log_cant_failover(c, st, CantFailover::DataAge);
        return;
    }
    if auth_age > auth_retry_time {
        c.failover_auth_time = now + scaled(st, 500) + random_below(scaled(st, 500));
        c.failover_auth_count = 0;
        c.failover_auth_sent = false;
        c.failover_auth_rank = slave_rank(c, st);
        c.failover_auth_time += c.failover_auth_rank as i64 * scaled(st, 1000);
        if c.mf_end != 0 {
            c.failover_auth_time = now;
            c.failover_auth_rank = 0;
            c.do_before_sleep(todo::HANDLE_FAILOVER);
        }
        st.log(
            Level::Warning,
            &format!(
                "Start of election delayed for {} milliseconds (rank #{}, offset {}).",
                c.failover_auth_time - now,
                c.failover_auth_rank,
                st.repl.offset()
            ),
        );
        messages::broadcast_pong(c, st, PongTarget::LocalReplicas);
        return;
    }
    if !c.failover_auth_sent && c.mf_end == 0 {
        let rank = slave_rank(c, st);
        if rank > c.failover_auth_rank {
            let added = (rank - c.failover_auth_rank) as i64 * scaled(st, 1000);
            c.failover_auth_time += added;
            c.failover_auth_rank = rank;
            st.log(
                Level::Warning,
                &format!("Replica rank updated to #{rank}, added {added} milliseconds of delay."),
            );
        }
    }
    if now < c.failover_auth_time {
        log_cant_failover(c, st, CantFailover::WaitingDelay);
        return;
    }
    if auth_age > auth_timeout {
        log_cant_failover(c, st, CantFailover::Expired);
        return;
    }
    if !c.failover_auth_sent {
        c.current_epoch += 1;
        c.failover_auth_epoch = c.current_epoch;
        st.log(
            Level::Warning,
            &format!(
                "Starting a failover election for epoch {}.",
                c.current_epoch
            ),
        );
        messages::request_failover_auth(c, st);
        c.failover_auth_sent = true;
        c.do_before_sleep(todo::SAVE_CONFIG | todo::UPDATE_STATE | todo::FSYNC_CONFIG);
        return;
    }
    if c.failover_auth_count >= needed {
        st.log(Level::Warning, "Failover election won: I'm the new master.");
        if c.me().config_epoch < c.failover_auth_epoch {
            let e = c.failover_auth_epoch;
            c.me_mut().config_epoch = e;
            st.log(
                Level::Warning,
                &format!("configEpoch set to {e} after successful failover"),
            );
        }
        replace_your_master(c, st);
    } else {
        log_cant_failover(c, st, CantFailover::WaitingVotes);
    }
}

/// `clusterHandleManualFailover`: the election may start once this replica processed the
/// master's stream up to the offset the master had when it paused.
pub fn handle_manual_failover(c: &mut Cluster, st: &mut NodeState) {
    if c.mf_end == 0 || c.mf_can_start || c.mf_master_offset == -1 {
        return;
    }
    if c.mf_master_offset == st.repl.offset() as i64 {
        c.mf_can_start = true;
        st.log(
            Level::Warning,
            "All master replication stream processed, manual failover can start.",
        );
        c.do_before_sleep(todo::HANDLE_FAILOVER);
        return;
    }
    c.do_before_sleep(todo::HANDLE_MANUALFAILOVER);
}

/// `manualFailoverCheckTimeout`.
pub fn manual_failover_check_timeout(c: &mut Cluster, st: &mut NodeState) {
    if c.mf_end != 0 && c.mf_end < unix_ms() {
        st.log(Level::Warning, "Manual failover timed out.");
        c.reset_manual_failover(st);
    }
}

/// `clusterHandleSlaveMigration`: a replica of a well-covered master moves to an orphaned one.
pub fn handle_slave_migration(c: &mut Cluster, st: &mut NodeState, max_slaves: usize) {
    if !c.state_ok {
        return;
    }
    let Some(mymaster) = c.my_master().and_then(|m| c.nodes.get(&m)) else {
        return;
    };
    let okslaves = mymaster
        .replicas
        .iter()
        .filter_map(|r| c.nodes.get(r))
        .filter(|r| !r.failed() && !r.timed_out())
        .count();
    let barrier: usize = st
        .config
        .extra_or("cluster-migration-barrier", "1")
        .parse()
        .unwrap_or(1);
    if okslaves <= barrier {
        return;
    }
    let now = unix_ms();
    let mut candidate = c.myself;
    let mut target: Option<NodeId> = None;
    let ids: Vec<NodeId> = c.nodes.keys().copied().collect();
    for id in ids {
        let n = &c.nodes[&id];
        let mut orphaned = !(n.is_slave() || n.failed()) && n.flags & flag::MIGRATE_TO != 0;
        let ok = if n.is_master() {
            c.non_failing_replicas(n)
        } else {
            0
        };
        if ok > 0 {
            orphaned = false;
        }
        if ok == max_slaves {
            for r in &n.replicas {
                if *r < candidate {
                    candidate = *r;
                }
            }
        }
        let numslots = n.numslots;
        let n = c.nodes.get_mut(&id).expect("known");
        if orphaned {
            if target.is_none() && numslots > 0 {
                target = Some(id);
            }
            if n.orphaned_time == 0 {
                n.orphaned_time = now;
            }
        } else {
            n.orphaned_time = 0;
        }
    }
    if let Some(t) = target {
        if candidate == c.myself && now - c.nodes[&t].orphaned_time > scaled(st, MIGRATION_DELAY) {
            st.log(
                Level::Warning,
                &format!("Migrating to orphaned master {}", name(&t)),
            );
            c.set_master(st, &t);
        }
    }
}

/// `clusterUpdateState`: ok when every slot is served by a reachable master (with full
/// coverage) and a majority of masters is reachable, with Redis's writable and rejoin delays.
pub fn update_state(c: &mut Cluster, st: &mut NodeState) {
    let now = unix_ms();
    c.todo &= !todo::UPDATE_STATE;
    if c.first_update_state == 0 {
        c.first_update_state = now;
    }
    if c.i_am_master() && !c.state_ok && now - c.first_update_state < scaled(st, WRITABLE_DELAY) {
        return;
    }
    let mut ok = true;
    if st.config.extra_or("cluster-require-full-coverage", "yes") == "yes" {
        ok = c
            .slots
            .iter()
            .all(|o| o.and_then(|o| c.nodes.get(&o)).is_some_and(|n| !n.failed()));
    }
    let mut size = 0;
    let mut reachable = 0;
    for n in c.nodes.values() {
        if n.is_master() && n.numslots > 0 {
            size += 1;
            if n.flags & (flag::FAIL | flag::PFAIL) == 0 {
                reachable += 1;
            }
        }
    }
    c.size = size;
    if reachable < size / 2 + 1 {
        ok = false;
        c.among_minority_time = now;
    }
    if ok != c.state_ok {
        let rejoin = st
            .config
            .cluster_node_timeout
            .clamp(scaled(st, MIN_REJOIN_DELAY), scaled(st, MAX_REJOIN_DELAY));
        if ok && c.i_am_master() && now - c.among_minority_time < rejoin {
            return;
        }
        st.log(
            Level::Warning,
            &format!("Cluster state changed: {}", if ok { "ok" } else { "fail" }),
        );
        c.state_ok = ok;
    }
}
