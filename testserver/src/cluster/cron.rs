//! The cluster cron (`clusterCron`, every `cluster_cron`) and the deferred work that Redis
//! runs before the event loop sleeps (`clusterBeforeSleep`).

use std::sync::Arc;

use super::failover;
use super::messages;
use super::state::{flag, todo, Cluster, NodeId};
use super::wire::kind;
use crate::logging::Level;
use crate::node::{unix_ms, Node, NodeState};

/// Saves `nodes.conf`; a failure is fatal for a Redis node (`clusterSaveConfigOrDie`): the
/// node logs it and shuts down.
pub fn save_config(c: &mut Cluster, st: &mut NodeState, fsync: bool) {
    c.todo &= !(todo::SAVE_CONFIG | todo::FSYNC_CONFIG);
    if let Err(e) = super::nodes_conf::save(c, fsync) {
        st.log(
            Level::Warning,
            &format!("Fatal: can't update cluster config file. ({e})"),
        );
        st.shutdown_requested = true;
        st.shutdown_now = true;
    }
}

/// `clusterBeforeSleep`: deferred failover steps, state update and config save.
pub fn before_sleep(c: &mut Cluster, st: &mut NodeState) {
    let flags = c.todo;
    if flags == 0 {
        return;
    }
    c.todo = 0;
    if flags & todo::HANDLE_MANUALFAILOVER != 0 {
        if c.me().is_slave() {
            failover::handle_manual_failover(c, st);
            failover::handle_slave_failover(c, st);
        }
    } else if flags & todo::HANDLE_FAILOVER != 0 {
        failover::handle_slave_failover(c, st);
    }
    if flags & todo::UPDATE_STATE != 0 {
        failover::update_state(c, st);
    }
    if (flags | c.todo) & todo::SAVE_CONFIG != 0 {
        save_config(c, st, flags & todo::FSYNC_CONFIG != 0);
    }
    // Steps above may have asked for more (a won election saves and updates at once).
    c.todo &= todo::HANDLE_FAILOVER | todo::HANDLE_MANUALFAILOVER | todo::UPDATE_STATE;
}

/// One run of the cluster cron.
pub fn run(node: &Arc<Node>, c: &mut Cluster, st: &mut NodeState) {
    c.cron_iteration += 1;
    update_myself_announced(c, st);
    let now = unix_ms();
    let timeout = st.config.cluster_node_timeout;
    // Redis's floor of one second, not scaled with the cron like the other timers: a
    // handshake waits on connections and replies, not on cron runs. Nodes sharing a busy
    // thread (a debug build's test cluster) took up to 300 ms; a handshake dropped on one
    // side is never retried, so a scaled floor (40 ms, node timeout 200 ms) left clusters
    // that never formed.
    let handshake_timeout = timeout.max(1000);
    c.stats_pfail_nodes = 0;
    let ids: Vec<NodeId> = c.nodes.keys().copied().collect();
    for id in &ids {
        let Some(n) = c.nodes.get(id) else { continue };
        if n.flags & (flag::MYSELF | flag::NOADDR) != 0 {
            continue;
        }
        if n.timed_out() {
            c.stats_pfail_nodes += 1;
        }
        if n.in_handshake() && now - n.ctime > handshake_timeout {
            c.del_node(st, id);
            continue;
        }
        if n.link.is_none() {
            super::bus::connect(node, c, *id);
        }
    }
    // About once a second (every 10 runs), PING one of five random nodes: the one whose PONG
    // is oldest.
    if c.cron_iteration % 10 == 0 && !ids.is_empty() {
        let mut best: Option<(NodeId, i64)> = None;
        for _ in 0..5 {
            let id = ids[(crate::keyspace::random_u64() % ids.len() as u64) as usize];
            let Some(n) = c.nodes.get(&id) else { continue };
            if n.link.is_none()
                || n.ping_sent != 0
                || n.flags & (flag::MYSELF | flag::HANDSHAKE) != 0
            {
                continue;
            }
            if best.map_or(true, |(_, p)| p > n.pong_received) {
                best = Some((id, n.pong_received));
            }
        }
        if let Some(link) = best
            .and_then(|(id, _)| c.nodes.get(&id))
            .and_then(|n| n.link)
        {
            messages::send_ping(c, st, link, kind::PING);
        }
    }
    let mut orphaned_masters = 0;
    let mut max_slaves = 0;
    let mut this_slaves = 0;
    let mut update = false;
    let i_am_slave = c.me().is_slave();
    for id in &ids {
        let now = unix_ms();
        let Some(n) = c.nodes.get(id) else { continue };
        if n.flags & (flag::MYSELF | flag::NOADDR | flag::HANDSHAKE) != 0 {
            continue;
        }
        if i_am_slave && n.is_master() && !n.failed() {
            let ok = c.non_failing_replicas(n);
            if ok == 0 && n.numslots > 0 && n.flags & flag::MIGRATE_TO != 0 {
                orphaned_masters += 1;
            }
            max_slaves = max_slaves.max(ok);
            if c.my_master() == Some(*id) {
                this_slaves = ok;
            }
        }
        let ping_delay = now - n.ping_sent;
        let data_delay = now - n.data_received;
        if let Some(l) = n.link {
            let age = c.links.get(&l).map_or(0, |l| now - l.ctime);
            if age > timeout
                && n.ping_sent != 0
                && ping_delay > timeout / 2
                && data_delay > timeout / 2
            {
                c.free_link(l);
            }
        }
        let n = &c.nodes[id];
        if let Some(l) = n.link {
            if n.ping_sent == 0 && now - n.pong_received > timeout / 2 {
                messages::send_ping(c, st, l, kind::PING);
                continue;
            }
            if c.mf_end != 0 && c.i_am_master() && c.mf_slave == Some(*id) {
                messages::send_ping(c, st, l, kind::PING);
                continue;
            }
        }
        let n = &c.nodes[id];
        if n.ping_sent == 0 {
            continue;
        }
        if ping_delay.min(data_delay) > timeout && n.flags & (flag::PFAIL | flag::FAIL) == 0 {
            st.log(
                Level::Debug,
                &format!("*** NODE {} possibly failing", super::state::name(id)),
            );
            c.nodes.get_mut(id).expect("known").flags |= flag::PFAIL;
            update = true;
        }
    }
    // A replica whose replication is off but knows its master's address starts replicating.
    if c.me().is_slave() && st.repl.master.is_none() {
        if let Some(m) = c.my_master().and_then(|m| c.nodes.get(&m)) {
            if m.has_addr() && !m.ip.is_empty() {
                let (ip, port) = (m.ip.clone(), m.port);
                super::state::replication_set_master(st, ip, port);
            }
        }
    }
    failover::manual_failover_check_timeout(c, st);
    if c.me().is_slave() {
        failover::handle_manual_failover(c, st);
        failover::handle_slave_failover(c, st);
        let allow = st.config.extra_or("cluster-allow-replica-migration", "yes") == "yes";
        if orphaned_masters > 0 && max_slaves >= 2 && this_slaves == max_slaves && allow {
            failover::handle_slave_migration(c, st, max_slaves);
        }
    }
    if update || !c.state_ok {
        failover::update_state(c, st);
    }
    redirect_blocked_clients(c, st);
}

/// What this node announces may change with CONFIG SET (`cluster-announce-hostname`,
/// `-ip`, `-port`, `-bus-port`): Redis's `clusterUpdateMyself*` at each cron.
fn update_myself_announced(c: &mut Cluster, st: &NodeState) {
    let hostname = messages::announced_hostname(st);
    let (port, pport, cport) = messages::announced_ports(st);
    let ip = st.config.extra_or("cluster-announce-ip", "");
    let me = c.me_mut();
    let mut changed = false;
    if me.hostname != hostname {
        me.hostname = hostname;
        changed = true;
    }
    if (me.port, me.pport, me.cport) != (port, pport, cport) {
        (me.port, me.pport, me.cport) = (port, pport, cport);
        changed = true;
    }
    if !ip.is_empty() && me.ip != ip {
        me.ip = ip;
        changed = true;
    }
    if changed {
        c.do_before_sleep(todo::SAVE_CONFIG);
    }
}

/// `clusterRedirectBlockedClientIfNeeded`: clients blocked on keys whose slot went away get
/// the redirection (or CLUSTERDOWN) instead of waiting forever.
fn redirect_blocked_clients(c: &Cluster, st: &mut NodeState) {
    if st.waiters.is_empty() {
        return;
    }
    let ids: Vec<_> = st.waiters.keys().copied().collect();
    for id in ids {
        let Some(w) = st.waiters.get(&id) else {
            continue;
        };
        let err = if !c.state_ok {
            Some(rediscover::error_codes::msg::CLUSTERDOWN.to_string())
        } else {
            w.keys.first().and_then(|key| {
                let slot = rediscover::slot::key_slot(key);
                if c.importing.contains_key(&slot) {
                    return None;
                }
                match c.slots[slot as usize] {
                    None => Some(rediscover::error_codes::msg::CLUSTERDOWN_UNBOUND.to_string()),
                    Some(owner) if owner == c.myself => None,
                    Some(owner) => Some(super::gate::moved(c, st, slot, &owner)),
                }
            })
        };
        if let Some(err) = err {
            if let Some(w) = st.unpark(id) {
                let mut out = rediscover::resp::ReplyWriter::new(w.client.resp3);
                out.error(&err);
                let _ = w.wake.send((w.client, out.take()));
            }
        }
    }
}
