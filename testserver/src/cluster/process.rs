//! What a node does with each bus message (`clusterProcessPacket` and the functions it calls),
//! in Redis 7.0's order.

use super::messages;
use super::state::{flag, name, todo, Cluster, ClusterNode, LinkId, NodeId, SlotBitmap};
use super::wire::{self, kind, mflag, Body, Gossip, Header};
use super::SLOTS;
use crate::logging::Level;
use crate::node::{unix_ms, NodeState};

/// Processes one whole message received on `link`.
pub fn packet(c: &mut Cluster, st: &mut NodeState, link: LinkId, raw: &[u8]) {
    let kind_ = u16::from_be_bytes([raw[12], raw[13]]);
    if kind_ < kind::COUNT {
        c.stats_received[kind_ as usize] += 1;
    }
    let msg = match wire::decode(raw) {
        Ok(m) => m,
        Err(wire::Dropped(Some(why))) => {
            st.log(Level::Warning, &why);
            return;
        }
        Err(wire::Dropped(None)) => return,
    };
    let hdr = &msg.hdr;
    let now = unix_ms();
    let Some(l) = c.links.get(&link) else { return };
    let inbound = l.inbound;
    let link_node = l.node;
    let sender = sender_of(c, link, hdr);
    if let Some(s) = sender.and_then(|s| c.nodes.get_mut(&s)) {
        s.data_received = now;
    }
    let known = sender.filter(|s| c.nodes.get(s).is_some_and(|n| !n.in_handshake()));
    if let Some(s) = known {
        if hdr.current_epoch > c.current_epoch {
            c.current_epoch = hdr.current_epoch;
        }
        let n = c.nodes.get_mut(&s).expect("known sender");
        if hdr.config_epoch > n.config_epoch {
            n.config_epoch = hdr.config_epoch;
            c.do_before_sleep(todo::SAVE_CONFIG | todo::FSYNC_CONFIG);
        }
        let n = c.nodes.get_mut(&s).expect("known sender");
        n.repl_offset = hdr.offset;
        n.repl_offset_time = now;
        if c.mf_end != 0
            && c.me().is_slave()
            && c.my_master() == Some(s)
            && hdr.mflags0 & mflag::PAUSED != 0
            && c.mf_master_offset == -1
        {
            c.mf_master_offset = hdr.offset as i64;
            c.do_before_sleep(todo::HANDLE_MANUALFAILOVER);
            st.log(
                Level::Warning,
                &format!(
                    "Received replication offset for paused master manual failover: {}",
                    c.mf_master_offset
                ),
            );
        }
    }
    let is_ping = matches!(kind_, kind::PING | kind::PONG | kind::MEET);
    if kind_ == kind::PING || kind_ == kind::MEET {
        let announce_ip = st.config.extra_or("cluster-announce-ip", "");
        if (kind_ == kind::MEET || c.me().ip.is_empty()) && announce_ip.is_empty() {
            let local = c.links.get(&link).map(|l| l.local_ip.clone());
            if let Some(ip) = local.filter(|ip| !ip.is_empty() && *ip != c.me().ip) {
                c.me_mut().ip = ip.clone();
                st.log(
                    Level::Warning,
                    &format!("IP address for this node updated to {ip}"),
                );
                c.do_before_sleep(todo::SAVE_CONFIG);
            }
        }
        if sender.is_none() && kind_ == kind::MEET {
            let mut n = ClusterNode::new(super::state::random_id(), flag::HANDSHAKE);
            n.ip = node_ip(c, link, &hdr.myip);
            n.port = hdr.port;
            n.pport = hdr.pport;
            n.cport = hdr.cport;
            c.add_node(n);
            c.do_before_sleep(todo::SAVE_CONFIG);
            if let Body::Ping { gossip, .. } = &msg.body {
                process_gossip(c, st, link, hdr, gossip);
            }
        }
        messages::send_ping(c, st, link, kind::PONG);
    }
    if is_ping {
        if !inbound {
            let Some(ln) = link_node else { return };
            let handshake = c.nodes.get(&ln).is_some_and(|n| n.in_handshake());
            if handshake {
                if let Some(s) = sender {
                    if update_address_if_needed(c, st, &s, link, hdr) {
                        c.do_before_sleep(todo::SAVE_CONFIG | todo::UPDATE_STATE);
                    }
                    c.del_node(st, &ln);
                    return;
                }
                c.rename_node(&ln, hdr.sender);
                let n = c.nodes.get_mut(&hdr.sender).expect("renamed");
                n.flags &= !flag::HANDSHAKE;
                n.flags |= hdr.flags & (flag::MASTER | flag::SLAVE);
                c.do_before_sleep(todo::SAVE_CONFIG);
            } else if ln != hdr.sender {
                if let Some(n) = c.nodes.get_mut(&ln) {
                    n.flags |= flag::NOADDR;
                    n.ip.clear();
                    n.port = 0;
                    n.pport = 0;
                    n.cport = 0;
                }
                c.free_link(link);
                c.do_before_sleep(todo::SAVE_CONFIG);
                return;
            }
        }
        if let Some(s) = sender.and_then(|s| c.nodes.get_mut(&s)) {
            s.flags = (s.flags & !flag::NOFAILOVER) | (hdr.flags & flag::NOFAILOVER);
        }
        if let Some(s) = sender {
            let in_hs = c.nodes.get(&s).is_some_and(|n| n.in_handshake());
            if kind_ == kind::PING && !in_hs && update_address_if_needed(c, st, &s, link, hdr) {
                c.do_before_sleep(todo::SAVE_CONFIG | todo::UPDATE_STATE);
            }
        }
        if !inbound && kind_ == kind::PONG {
            if let Some(id) = c.links.get(&link).and_then(|l| l.node) {
                let n = c.nodes.get_mut(&id).expect("link node");
                n.pong_received = now;
                n.ping_sent = 0;
                if n.timed_out() {
                    n.flags &= !flag::PFAIL;
                    c.do_before_sleep(todo::SAVE_CONFIG | todo::UPDATE_STATE);
                } else if n.failed() {
                    clear_failure_if_needed(c, st, &id);
                }
            }
        }
        let Some(s) = sender.filter(|s| c.nodes.contains_key(s)) else {
            return;
        };
        // Role switch.
        match hdr.slaveof {
            None => c.set_node_as_master(&s),
            Some(m) => {
                let master_known = c.nodes.contains_key(&m);
                if c.nodes[&s].is_master() {
                    c.del_node_slots(st, &s);
                    let n = c.nodes.get_mut(&s).expect("sender");
                    n.flags &= !(flag::MASTER | flag::MIGRATE_TO);
                    n.flags |= flag::SLAVE;
                    c.do_before_sleep(todo::SAVE_CONFIG | todo::UPDATE_STATE);
                }
                if master_known && c.nodes[&s].slaveof != Some(m) {
                    if let Some(old) = c.nodes[&s].slaveof {
                        c.remove_replica(&old, &s);
                    }
                    c.add_replica(&m, &s);
                    c.nodes.get_mut(&s).expect("sender").slaveof = Some(m);
                    c.do_before_sleep(todo::SAVE_CONFIG);
                }
            }
        }
        // Slots.
        let sender_node = &c.nodes[&s];
        let sender_master = if sender_node.is_master() {
            Some(s)
        } else {
            sender_node.slaveof
        };
        let dirty_slots = sender_master
            .and_then(|m| c.nodes.get(&m))
            .is_some_and(|m| m.slots != hdr.myslots);
        if c.nodes[&s].is_master() && dirty_slots {
            update_slots_config_with(c, st, &s, hdr.config_epoch, &hdr.myslots);
        }
        if dirty_slots {
            for j in 0..SLOTS {
                if !hdr.myslots.get(j) {
                    continue;
                }
                let Some(owner) = c.slots[j] else { continue };
                if owner == s || c.slot_unclaimed(j) {
                    continue;
                }
                if c.nodes[&owner].config_epoch > hdr.config_epoch {
                    st.log(
                        Level::Verbose,
                        &format!(
                            "Node {} has old slots configuration, sending an UPDATE message about {}",
                            name(&s),
                            name(&owner)
                        ),
                    );
                    let to = c.nodes[&s].link;
                    messages::send_update(c, st, to, &owner);
                    break;
                }
            }
        }
        if c.i_am_master() && c.nodes[&s].is_master() && hdr.config_epoch == c.me().config_epoch {
            handle_config_epoch_collision(c, st, &s);
        }
        if let Body::Ping {
            gossip,
            hostname,
            unknown_ext,
        } = &msg.body
        {
            process_gossip(c, st, link, hdr, gossip);
            for t in unknown_ext {
                st.log(
                    Level::Warning,
                    &format!("Received unknown extension type {t}"),
                );
            }
            if let Some(n) = c.nodes.get_mut(&s) {
                let h = hostname.clone().unwrap_or_default();
                if n.hostname != h {
                    n.hostname = h;
                    c.do_before_sleep(todo::SAVE_CONFIG);
                }
            }
        }
        return;
    }
    match (&msg.body, kind_) {
        (Body::Fail(about), _) => {
            if known.is_some() || sender.is_some() {
                let failing = c.nodes.get_mut(about);
                if let Some(f) = failing {
                    if f.flags & (flag::FAIL | flag::MYSELF) == 0 {
                        f.flags |= flag::FAIL;
                        f.fail_time = now;
                        f.flags &= !flag::PFAIL;
                        st.log(
                            Level::Notice,
                            &format!(
                                "FAIL message received from {} about {}",
                                name(&hdr.sender),
                                name(about)
                            ),
                        );
                        c.do_before_sleep(todo::SAVE_CONFIG | todo::UPDATE_STATE);
                    }
                }
            } else {
                st.log(
                    Level::Notice,
                    &format!(
                        "Ignoring FAIL message from unknown node {} about {}",
                        name(&hdr.sender),
                        name(about)
                    ),
                );
            }
        }
        (Body::Publish { channel, message }, _) => {
            if sender.is_none() {
                return;
            }
            let shard = kind_ == kind::PUBLISHSHARD;
            deliver_publish(st, channel, message, shard);
        }
        (_, kind::AUTH_REQUEST) => {
            if let Some(s) = sender {
                super::failover::send_failover_auth_if_needed(c, st, &s, hdr);
            }
        }
        (_, kind::AUTH_ACK) => {
            let Some(s) = sender else { return };
            let n = &c.nodes[&s];
            if n.is_master() && n.numslots > 0 && hdr.current_epoch >= c.failover_auth_epoch {
                c.failover_auth_count += 1;
                c.do_before_sleep(todo::HANDLE_FAILOVER);
            }
        }
        (_, kind::MFSTART) => {
            let Some(s) = sender else { return };
            if c.nodes[&s].slaveof != Some(c.myself) {
                return;
            }
            c.reset_manual_failover(st);
            c.mf_end = now + super::scaled(st, super::failover::MF_TIMEOUT);
            c.mf_slave = Some(s);
            let pause = super::scaled(st, super::failover::MF_TIMEOUT * 2);
            st.pause = Some((now + pause, true));
            st.log(
                Level::Warning,
                &format!("Manual failover requested by replica {}.", name(&s)),
            );
            messages::send_ping(c, st, link, kind::PING);
        }
        (
            Body::Update {
                config_epoch,
                nodename,
                slots,
            },
            _,
        ) => {
            if sender.is_none() {
                return;
            }
            let Some(n) = c.nodes.get(nodename) else {
                return;
            };
            if n.config_epoch >= *config_epoch {
                return;
            }
            if n.is_slave() {
                c.set_node_as_master(nodename);
            }
            c.nodes.get_mut(nodename).expect("known").config_epoch = *config_epoch;
            c.do_before_sleep(todo::SAVE_CONFIG | todo::FSYNC_CONFIG);
            update_slots_config_with(c, st, nodename, *config_epoch, slots);
        }
        (_, kind::MODULE) => {}
        (_, other) => {
            st.log(
                Level::Warning,
                &format!("Received unknown packet type: {other}"),
            );
        }
    }
}

/// `getNodeFromLinkAndMsg`: the link's node (unless still in handshake), else the node the
/// header names — binding an inbound link to it.
fn sender_of(c: &mut Cluster, link: LinkId, hdr: &Header) -> Option<NodeId> {
    let l = c.links.get(&link)?;
    if let Some(id) = l.node {
        if c.nodes.get(&id).is_some_and(|n| !n.in_handshake()) {
            return Some(id);
        }
    }
    let s = c.nodes.get(&hdr.sender).map(|n| n.id)?;
    if l.node.is_none() {
        let old = c.nodes[&s].inbound_link;
        if let Some(old) = old.filter(|&o| o != link) {
            c.free_link(old);
        }
        if let Some(l) = c.links.get_mut(&link) {
            l.node = Some(s);
        }
        c.nodes.get_mut(&s).expect("sender").inbound_link = Some(link);
    }
    Some(s)
}

/// `nodeIp2String`: the announced IP, else the socket peer's.
fn node_ip(c: &Cluster, link: LinkId, announced: &str) -> String {
    if !announced.is_empty() {
        return announced.to_string();
    }
    c.links
        .get(&link)
        .map(|l| l.peer_ip.clone())
        .unwrap_or_default()
}

/// `nodeUpdateAddressIfNeeded`.
fn update_address_if_needed(
    c: &mut Cluster,
    st: &mut NodeState,
    id: &NodeId,
    link: LinkId,
    hdr: &Header,
) -> bool {
    let Some(n) = c.nodes.get(id) else {
        return false;
    };
    if n.link == Some(link) {
        return false;
    }
    let ip = node_ip(c, link, &hdr.myip);
    if n.port == hdr.port && n.cport == hdr.cport && n.pport == hdr.pport && n.ip == ip {
        return false;
    }
    let old_link = n.link;
    {
        let n = c.nodes.get_mut(id).expect("known");
        n.ip = ip.clone();
        n.port = hdr.port;
        n.pport = hdr.pport;
        n.cport = hdr.cport;
        n.flags &= !flag::NOADDR;
    }
    if let Some(l) = old_link {
        c.free_link(l);
    }
    st.log(
        Level::Warning,
        &format!(
            "Address updated for node {}, now {ip}:{}",
            name(id),
            hdr.port
        ),
    );
    if c.me().is_slave() && c.my_master() == Some(*id) {
        super::state::replication_set_master(st, ip, hdr.port);
    }
    true
}

/// `clusterProcessGossipSection`.
fn process_gossip(
    c: &mut Cluster,
    st: &mut NodeState,
    link: LinkId,
    hdr: &Header,
    gossip: &[Gossip],
) {
    let sender = c
        .links
        .get(&link)
        .and_then(|l| l.node)
        .or_else(|| c.nodes.get(&hdr.sender).map(|n| n.id));
    let validity = st.config.cluster_node_timeout * 2;
    let now = unix_ms();
    for g in gossip {
        let flags = g.flags;
        if c.nodes.contains_key(&g.nodename) {
            let id = g.nodename;
            let sender_is_master = sender
                .and_then(|s| c.nodes.get(&s))
                .is_some_and(|n| n.is_master());
            if let (Some(s), true) = (sender, sender_is_master && id != c.myself) {
                if flags & (flag::FAIL | flag::PFAIL) != 0 {
                    if c.add_failure_report(&id, &s, now) {
                        st.log(
                            Level::Verbose,
                            &format!(
                                "Node {} reported node {} as not reachable.",
                                name(&s),
                                name(&id)
                            ),
                        );
                    }
                    super::failover::mark_node_as_failing_if_needed(c, st, &id);
                } else if c.del_failure_report(&id, &s, validity) {
                    st.log(
                        Level::Verbose,
                        &format!(
                            "Node {} reported node {} is back online.",
                            name(&s),
                            name(&id)
                        ),
                    );
                }
            }
            let reports = c.failure_reports_count(&id, validity);
            let n = c.nodes.get_mut(&id).expect("known");
            if flags & (flag::FAIL | flag::PFAIL) == 0 && n.ping_sent == 0 && reports == 0 {
                let pongtime = i64::from(g.pong_received) * 1000;
                if pongtime <= now + 500 && pongtime > n.pong_received {
                    n.pong_received = pongtime;
                }
            }
            if n.flags & (flag::FAIL | flag::PFAIL) != 0
                && flags & flag::NOADDR == 0
                && flags & (flag::FAIL | flag::PFAIL) == 0
                && (!n.ip.eq_ignore_ascii_case(&g.ip) || n.port != g.port || n.cport != g.cport)
            {
                let old = n.link.take();
                n.ip = g.ip.clone();
                n.port = g.port;
                n.pport = g.pport;
                n.cport = g.cport;
                n.flags &= !flag::NOADDR;
                if let Some(l) = old {
                    c.free_link(l);
                }
            }
        } else if sender.is_some() && flags & flag::NOADDR == 0 && !blacklisted(c, &g.nodename) {
            let mut n = ClusterNode::new(g.nodename, flags);
            n.ip = g.ip.clone();
            n.port = g.port;
            n.pport = g.pport;
            n.cport = g.cport;
            c.add_node(n);
        }
    }
}

/// Whether `id` was forgotten less than a minute ago.
pub fn blacklisted(c: &mut Cluster, id: &NodeId) -> bool {
    let now = unix_ms();
    c.blacklist.retain(|_, until| *until > now);
    c.blacklist.contains_key(id)
}

/// `clearNodeFailureIfNeeded`: a FAIL node answered again.
fn clear_failure_if_needed(c: &mut Cluster, st: &mut NodeState, id: &NodeId) {
    let now = unix_ms();
    let timeout = st.config.cluster_node_timeout;
    let Some(n) = c.nodes.get_mut(id) else { return };
    if n.is_slave() || n.numslots == 0 {
        let what = if n.is_slave() {
            "replica"
        } else {
            "master without slots"
        };
        n.flags &= !flag::FAIL;
        st.log(
            Level::Notice,
            &format!(
                "Clear FAIL state for node {}: {what} is reachable again.",
                name(id)
            ),
        );
        c.do_before_sleep(todo::UPDATE_STATE | todo::SAVE_CONFIG);
        return;
    }
    if n.is_master() && n.numslots > 0 && now - n.fail_time > timeout * 2 {
        n.flags &= !flag::FAIL;
        st.log(
            Level::Notice,
            &format!(
                "Clear FAIL state for node {}: is reachable again and nobody is serving its slots after some time.",
                name(id)
            ),
        );
        c.do_before_sleep(todo::UPDATE_STATE | todo::SAVE_CONFIG);
    }
}

/// `clusterHandleConfigEpochCollision`.
fn handle_config_epoch_collision(c: &mut Cluster, st: &mut NodeState, sender: &NodeId) {
    let s = &c.nodes[sender];
    if s.config_epoch != c.me().config_epoch || !s.is_master() || !c.i_am_master() {
        return;
    }
    if s.id <= c.myself {
        return;
    }
    c.current_epoch += 1;
    let epoch = c.current_epoch;
    c.me_mut().config_epoch = epoch;
    super::cron::save_config(c, st, true);
    st.log(
        Level::Verbose,
        &format!(
            "WARNING: configEpoch collision with node {}. configEpoch set to {epoch}",
            name(sender)
        ),
    );
}

/// `clusterUpdateSlotsConfigWith`: rebinds slots a master claims with a newer epoch, and
/// demotes this node when it lost its last slot to it.
pub fn update_slots_config_with(
    c: &mut Cluster,
    st: &mut NodeState,
    sender: &NodeId,
    sender_epoch: u64,
    slots: &SlotBitmap,
) {
    if *sender == c.myself {
        st.log(Level::Warning, "Discarding UPDATE message about myself.");
        return;
    }
    let curmaster = if c.i_am_master() {
        Some(c.myself)
    } else {
        c.my_master()
    };
    let mut newmaster = None;
    let mut dirty: Vec<usize> = Vec::new();
    let (mut sender_slots, mut migrated_our_slots) = (0, 0);
    for j in 0..SLOTS {
        if slots.get(j) {
            sender_slots += 1;
            if c.slots[j] == Some(*sender) {
                c.owner_not_claiming.clear(j);
                continue;
            }
            if c.importing.contains_key(&(j as u16)) {
                continue;
            }
            let older = c.slots[j]
                .and_then(|o| c.nodes.get(&o))
                .is_some_and(|o| o.config_epoch < sender_epoch);
            if c.slot_unclaimed(j) || older {
                if c.slots[j] == Some(c.myself) && st.dbs[0].count_in_slot(j as u16) > 0 {
                    dirty.push(j);
                }
                if c.slots[j].is_some() && c.slots[j] == curmaster {
                    newmaster = Some(*sender);
                    migrated_our_slots += 1;
                }
                c.del_slot(st, j);
                c.add_slot(sender, j);
                c.owner_not_claiming.clear(j);
                c.do_before_sleep(todo::SAVE_CONFIG | todo::UPDATE_STATE | todo::FSYNC_CONFIG);
            }
        } else if c.slots[j] == Some(*sender) {
            c.owner_not_claiming.set(j);
        }
    }
    let allow_migration = st.config.extra_or("cluster-allow-replica-migration", "yes") == "yes";
    let cur_numslots = curmaster
        .and_then(|m| c.nodes.get(&m))
        .map_or(0, |m| m.numslots);
    if newmaster.is_some()
        && cur_numslots == 0
        && (allow_migration || sender_slots == migrated_our_slots)
    {
        st.log(
            Level::Warning,
            &format!(
                "Configuration change detected. Reconfiguring myself as a replica of {}",
                name(sender)
            ),
        );
        c.set_master(st, sender);
        c.do_before_sleep(todo::SAVE_CONFIG | todo::UPDATE_STATE | todo::FSYNC_CONFIG);
    } else if let Some(grand) = c
        .my_master()
        .and_then(|m| c.nodes.get(&m))
        .and_then(|m| m.slaveof)
        .filter(|g| *g != c.myself)
    {
        st.log(
            Level::Warning,
            &format!(
                "I'm a sub-replica! Reconfiguring myself as a replica of grandmaster {}",
                name(&grand)
            ),
        );
        c.set_master(st, &grand);
        c.do_before_sleep(todo::SAVE_CONFIG | todo::UPDATE_STATE | todo::FSYNC_CONFIG);
    } else if !dirty.is_empty() {
        for j in dirty {
            del_keys_in_slot(st, j as u16);
        }
    }
}

/// `delKeysInSlot`: deletes a slot's keys (and replicates the deletions).
pub fn del_keys_in_slot(st: &mut NodeState, slot: u16) -> usize {
    let keys = st.dbs[0].keys_in_slot(slot, usize::MAX);
    let n = keys.len();
    for key in keys {
        st.dbs[0].remove(&key);
        st.dbs[0].touch(&key);
        st.dirty += 1;
        st.changes += 1;
        if st.repl.propagating() {
            st.repl
                .push(0, vec![bytes::Bytes::from_static(b"DEL"), key]);
        }
    }
    if n > 0 {
        st.repl.flush_pending();
    }
    n
}

/// Delivers a PUBLISH / PUBLISHSHARD from another node to local subscribers only.
pub fn deliver_publish(st: &mut NodeState, channel: &[u8], message: &[u8], shard: bool) {
    let mut sink = rediscover::resp::ReplyWriter::new(false);
    let node = &mut *st;
    let mut over_limit = Vec::new();
    node.pubsub.publish(
        &mut node.clients,
        &node.config.obuf_limits.pubsub,
        (0, &mut sink),
        crate::pubsub::Message {
            channel,
            payload: message,
            shard,
        },
        &mut over_limit,
    );
    for id in over_limit {
        node.close_for_output_limit(id);
    }
}
