//! Building and sending each kind of bus message, as Redis 7.0 does (`clusterBuildMessageHdr`,
//! `clusterSendPing`, `clusterBroadcastPong`, `clusterSendFail`, ...).

use bytes::{Bytes, BytesMut};

use super::state::{flag, Cluster, LinkId, NodeId};
use super::wire::{self, kind, mflag, Gossip, Header};
use crate::node::{unix_ms, NodeState};

/// The ports this node announces: client, plaintext (TLS only: 0) and bus.
pub fn announced_ports(st: &NodeState) -> (u16, u16, u16) {
    let num = |name: &str| -> u16 { st.config.extra_or(name, "0").parse().unwrap_or(0) };
    let port = match num("cluster-announce-port") {
        0 => st.config.port,
        p => p,
    };
    let cport = match num("cluster-announce-bus-port") {
        0 => bus_port(st),
        p => p,
    };
    (port, 0, cport)
}

/// The bus port this node listens on: `cluster-port`, or the client port + 10000.
pub fn bus_port(st: &NodeState) -> u16 {
    match st.config.extra_or("cluster-port", "0").parse::<u16>() {
        Ok(0) | Err(_) => st.config.port.wrapping_add(10000),
        Ok(p) => p,
    }
}

/// `cluster-announce-hostname`.
pub fn announced_hostname(st: &NodeState) -> String {
    st.config.extra_or("cluster-announce-hostname", "")
}

/// The header of a message of type `kind_` from this node.
pub fn header(c: &Cluster, st: &NodeState, kind_: u16) -> Header {
    let me = c.me();
    let master = match me.slaveof.and_then(|m| c.nodes.get(&m)) {
        Some(m) if me.is_slave() => m,
        _ => me,
    };
    let (port, pport, cport) = announced_ports(st);
    let mut mflags0 = 0;
    if me.is_master() && c.mf_end != 0 {
        mflags0 |= mflag::PAUSED;
    }
    Header {
        kind: kind_,
        port,
        count: 0,
        current_epoch: c.current_epoch,
        config_epoch: master.config_epoch,
        offset: st.repl.offset(),
        sender: c.myself,
        myslots: master.slots.clone(),
        slaveof: if me.is_slave() { me.slaveof } else { None },
        myip: st.config.extra_or("cluster-announce-ip", ""),
        extensions: 0,
        pport,
        cport,
        flags: me.flags,
        state: u8::from(!c.state_ok),
        mflags0,
    }
}

fn finish(hdr: &Header, body: impl FnOnce(&mut BytesMut)) -> Bytes {
    let mut out = BytesMut::with_capacity(wire::HEADER_LEN + 256);
    wire::encode_header(hdr, &mut out);
    body(&mut out);
    wire::finish(&mut out);
    out.freeze()
}

/// A message with no body (AUTH_REQUEST, AUTH_ACK, MFSTART).
fn bare(c: &Cluster, st: &NodeState, kind_: u16, mflags0: u8) -> Bytes {
    let mut hdr = header(c, st, kind_);
    hdr.mflags0 |= mflags0;
    finish(&hdr, |_| {})
}

fn gossip_of(n: &super::ClusterNode) -> Gossip {
    Gossip {
        nodename: n.id,
        ping_sent: (n.ping_sent / 1000) as u32,
        pong_received: (n.pong_received / 1000) as u32,
        ip: n.ip.clone(),
        port: n.port,
        cport: n.cport,
        flags: n.flags,
        pport: n.pport,
    }
}

/// A PING, PONG or MEET with gossip about a few random nodes and every PFAIL node, and the
/// hostname extension (`clusterSendPing`).
pub fn ping_message(c: &mut Cluster, st: &NodeState, link: Option<LinkId>, kind_: u16) -> Bytes {
    let now = unix_ms();
    let total = c.nodes.len();
    let freshnodes = total.saturating_sub(2);
    let wanted = (total / 10).max(3).min(freshnodes);
    let pfail_wanted = c.stats_pfail_nodes;
    if kind_ == kind::PING {
        if let Some(id) = link.and_then(|l| c.links.get(&l)).and_then(|l| l.node) {
            if let Some(n) = c.nodes.get_mut(&id) {
                n.ping_sent = now;
            }
        }
    }
    let ids: Vec<NodeId> = c.nodes.keys().copied().collect();
    let mut chosen: Vec<NodeId> = Vec::new();
    let mut iterations = wanted * 3;
    while freshnodes > 0 && chosen.len() < wanted && iterations > 0 {
        iterations -= 1;
        let id = ids[(crate::keyspace::random_u64() % ids.len() as u64) as usize];
        let n = &c.nodes[&id];
        if n.is_myself()
            || n.flags & flag::PFAIL != 0
            || n.flags & (flag::HANDSHAKE | flag::NOADDR) != 0
            || (n.link.is_none() && n.numslots == 0)
            || chosen.contains(&id)
        {
            continue;
        }
        chosen.push(id);
    }
    if pfail_wanted > 0 {
        let mut added = 0;
        for n in c.nodes.values() {
            if added >= pfail_wanted {
                break;
            }
            if n.flags & (flag::HANDSHAKE | flag::NOADDR) != 0 || n.flags & flag::PFAIL == 0 {
                continue;
            }
            chosen.push(n.id);
            added += 1;
        }
    }
    let mut hdr = header(c, st, kind_);
    hdr.count = chosen.len() as u16;
    let hostname = announced_hostname(st);
    if !hostname.is_empty() {
        hdr.extensions = 1;
        hdr.mflags0 |= mflag::EXT_DATA;
    }
    finish(&hdr, |out| {
        for id in &chosen {
            wire::encode_gossip(&gossip_of(&c.nodes[id]), out);
        }
        if !hostname.is_empty() {
            wire::encode_hostname_ext(&hostname, out);
        }
    })
}

/// Sends a PING, PONG or MEET on `link`.
pub fn send_ping(c: &mut Cluster, st: &NodeState, link: LinkId, kind_: u16) {
    let msg = ping_message(c, st, Some(link), kind_);
    c.send(Some(link), &msg);
}

/// An outbound link just connected (`clusterLinkConnectHandler`): MEET a node we were told to
/// meet, PING the others, keeping a PING that was already pending.
pub fn link_connected(c: &mut Cluster, st: &NodeState, link: LinkId) {
    let Some(id) = c.links.get(&link).and_then(|l| l.node) else {
        return;
    };
    let Some(n) = c.nodes.get(&id) else { return };
    let old_ping_sent = n.ping_sent;
    let kind_ = if n.flags & flag::MEET != 0 {
        kind::MEET
    } else {
        kind::PING
    };
    send_ping(c, st, link, kind_);
    if let Some(n) = c.nodes.get_mut(&id) {
        if old_ping_sent != 0 {
            n.ping_sent = old_ping_sent;
        }
        n.flags &= !flag::MEET;
    }
}

/// `clusterBroadcastMessage`: to every node with an outbound link, except myself and nodes in
/// handshake.
pub fn broadcast(c: &mut Cluster, msg: &Bytes) {
    let links: Vec<Option<LinkId>> = c
        .nodes
        .values()
        .filter(|n| n.flags & (flag::MYSELF | flag::HANDSHAKE) == 0)
        .map(|n| n.link)
        .collect();
    for l in links {
        c.send(l, msg);
    }
}

/// Who a PONG broadcast goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PongTarget {
    /// Every node.
    All,
    /// The other replicas of my master.
    LocalReplicas,
}

/// `clusterBroadcastPong`.
pub fn broadcast_pong(c: &mut Cluster, st: &NodeState, target: PongTarget) {
    let my_master = c.my_master();
    let targets: Vec<LinkId> = c
        .nodes
        .values()
        .filter(|n| n.flags & (flag::MYSELF | flag::HANDSHAKE) == 0 && n.link.is_some())
        .filter(|n| {
            target == PongTarget::All
                || (n.is_slave() && n.slaveof.is_some() && n.slaveof == my_master)
        })
        .filter_map(|n| n.link)
        .collect();
    for l in targets {
        send_ping(c, st, l, kind::PONG);
    }
}

/// Broadcasts FAIL about `id`.
pub fn send_fail(c: &mut Cluster, st: &NodeState, id: &NodeId) {
    let hdr = header(c, st, kind::FAIL);
    let msg = finish(&hdr, |out| out.extend_from_slice(id));
    broadcast(c, &msg);
}

/// Sends UPDATE about `about` on `link` (slots it no longer claims left out).
pub fn send_update(c: &mut Cluster, st: &NodeState, link: Option<LinkId>, about: &NodeId) {
    let Some(n) = c.nodes.get(about) else { return };
    let mut slots = n.slots.clone();
    for (i, b) in slots.0.iter_mut().enumerate() {
        *b &= !c.owner_not_claiming.0[i];
    }
    let (epoch, id) = (n.config_epoch, n.id);
    let hdr = header(c, st, kind::UPDATE);
    let msg = finish(&hdr, |out| {
        out.extend_from_slice(&epoch.to_be_bytes());
        out.extend_from_slice(&id);
        out.extend_from_slice(&slots.0[..]);
    });
    c.send(link, &msg);
}

/// A PUBLISH or PUBLISHSHARD message.
fn publish_message(
    c: &Cluster,
    st: &NodeState,
    channel: &[u8],
    message: &[u8],
    shard: bool,
) -> Bytes {
    let hdr = header(
        c,
        st,
        if shard {
            kind::PUBLISHSHARD
        } else {
            kind::PUBLISH
        },
    );
    finish(&hdr, |out| {
        out.extend_from_slice(&(channel.len() as u32).to_be_bytes());
        out.extend_from_slice(&(message.len() as u32).to_be_bytes());
        out.extend_from_slice(channel);
        out.extend_from_slice(message);
    })
}

/// `clusterPropagatePublish`: PUBLISH goes to every node, SPUBLISH to the nodes of my shard.
pub fn propagate_publish(
    c: &mut Cluster,
    st: &NodeState,
    channel: &[u8],
    message: &[u8],
    shard: bool,
) {
    let msg = publish_message(c, st, channel, message, shard);
    if !shard {
        broadcast(c, &msg);
        return;
    }
    let me = c.myself;
    let links: Vec<Option<LinkId>> = c
        .nodes_serving_slots_of(&me)
        .iter()
        .filter_map(|id| c.nodes.get(id))
        .filter(|n| n.flags & (flag::MYSELF | flag::HANDSHAKE) == 0)
        .map(|n| n.link)
        .collect();
    for l in links {
        c.send(l, &msg);
    }
}

/// Broadcasts FAILOVER_AUTH_REQUEST (`clusterRequestFailoverAuth`).
pub fn request_failover_auth(c: &mut Cluster, st: &NodeState) {
    let force = if c.mf_end != 0 { mflag::FORCEACK } else { 0 };
    let msg = bare(c, st, kind::AUTH_REQUEST, force);
    broadcast(c, &msg);
}

/// Sends FAILOVER_AUTH_ACK to `to`.
pub fn send_failover_auth(c: &mut Cluster, st: &NodeState, to: &NodeId) {
    let Some(link) = c.nodes.get(to).and_then(|n| n.link) else {
        return;
    };
    let msg = bare(c, st, kind::AUTH_ACK, 0);
    c.send(Some(link), &msg);
}

/// Sends MFSTART to `to` (my master).
pub fn send_mfstart(c: &mut Cluster, st: &NodeState, to: &NodeId) {
    let Some(link) = c.nodes.get(to).and_then(|n| n.link) else {
        return;
    };
    let msg = bare(c, st, kind::MFSTART, 0);
    c.send(Some(link), &msg);
}
