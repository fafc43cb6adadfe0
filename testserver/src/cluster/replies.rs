//! What CLUSTER NODES, INFO, SLOTS, SHARDS, LINKS and REPLICAS answer, built as Redis 7.0
//! builds them (`clusterGenNodeDescription`, `clusterReplyMultiBulkSlots`, ...).

use rediscover::resp::ReplyWriter;

use super::state::{flag, name, Cluster, ClusterNode, NodeId};
use super::wire::type_name;
use super::SLOTS;
use crate::node::NodeState;

/// `representClusterNodeFlags`.
pub fn flags_text(flags: u16) -> String {
    const TABLE: &[(u16, &str)] = &[
        (flag::MYSELF, "myself"),
        (flag::MASTER, "master"),
        (flag::SLAVE, "slave"),
        (flag::PFAIL, "fail?"),
        (flag::FAIL, "fail"),
        (flag::HANDSHAKE, "handshake"),
        (flag::NOADDR, "noaddr"),
        (flag::NOFAILOVER, "nofailover"),
    ];
    let words: Vec<&str> = TABLE
        .iter()
        .filter(|(f, _)| flags & f != 0)
        .map(|(_, w)| *w)
        .collect();
    if words.is_empty() {
        "noflags".into()
    } else {
        words.join(",")
    }
}

/// Runs of consecutive slots owned by `id` in the slot map.
pub fn owned_ranges(c: &Cluster, id: &NodeId) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = None;
    for j in 0..=SLOTS {
        let mine = j < SLOTS && c.slots[j].as_ref() == Some(id);
        match (mine, start) {
            (true, None) => start = Some(j),
            (false, Some(s)) => {
                out.push((s, j - 1));
                start = None;
            }
            _ => {}
        }
    }
    out
}

/// Runs of consecutive slots in a node's own bitmap.
fn bitmap_ranges(n: &ClusterNode) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = None;
    for j in 0..=SLOTS {
        let set = j < SLOTS && n.slots.get(j);
        match (set, start) {
            (true, None) => start = Some(j),
            (false, Some(s)) => {
                out.push((s, j - 1));
                start = None;
            }
            _ => {}
        }
    }
    out
}

/// One CLUSTER NODES line, without the newline. `from_map`: take the slots from the slot
/// map (CLUSTER NODES, nodes.conf) rather than the node's own bitmap (CLUSTER REPLICAS).
pub fn node_line(c: &Cluster, n: &ClusterNode, from_map: bool) -> String {
    let mut s = String::with_capacity(128);
    s.push_str(name(&n.id));
    s.push(' ');
    s.push_str(&n.ip);
    s.push_str(&format!(":{}@{}", n.port, n.cport));
    if !n.hostname.is_empty() {
        s.push(',');
        s.push_str(&n.hostname);
    }
    s.push(' ');
    s.push_str(&flags_text(n.flags));
    s.push(' ');
    match &n.slaveof {
        Some(m) => s.push_str(name(m)),
        None => s.push('-'),
    }
    let link = if n.link.is_some() || n.is_myself() {
        "connected"
    } else {
        "disconnected"
    };
    s.push_str(&format!(
        " {} {} {} {link}",
        n.ping_sent,
        n.pong_received,
        c.node_epoch(n)
    ));
    let ranges = if from_map {
        if n.numslots > 0 {
            owned_ranges(c, &n.id)
        } else {
            Vec::new()
        }
    } else {
        bitmap_ranges(n)
    };
    for (a, b) in ranges {
        if a == b {
            s.push_str(&format!(" {a}"));
        } else {
            s.push_str(&format!(" {a}-{b}"));
        }
    }
    if n.is_myself() {
        for j in 0..SLOTS as u16 {
            if let Some(to) = c.migrating.get(&j) {
                s.push_str(&format!(" [{j}->-{}]", name(to)));
            } else if let Some(from) = c.importing.get(&j) {
                s.push_str(&format!(" [{j}-<-{}]", name(from)));
            }
        }
    }
    s
}

/// CLUSTER NODES (`filter`: flags of nodes to leave out, HANDSHAKE for nodes.conf).
pub fn nodes_text(c: &Cluster, filter: u16) -> String {
    let mut out = String::new();
    for n in c.nodes.values() {
        if n.flags & filter != 0 {
            continue;
        }
        out.push_str(&node_line(c, n, true));
        out.push('\n');
    }
    out
}

/// CLUSTER INFO.
pub fn info_text(c: &Cluster) -> String {
    let (mut assigned, mut ok, mut pfail, mut fail) = (0, 0, 0, 0);
    for owner in c.slots.iter().flatten() {
        assigned += 1;
        match c.nodes.get(owner) {
            Some(n) if n.failed() => fail += 1,
            Some(n) if n.timed_out() => pfail += 1,
            _ => ok += 1,
        }
    }
    let me = c.me();
    let my_epoch = c.node_epoch(me);
    let mut s = format!(
        "cluster_state:{}\r\ncluster_slots_assigned:{assigned}\r\ncluster_slots_ok:{ok}\r\n\
         cluster_slots_pfail:{pfail}\r\ncluster_slots_fail:{fail}\r\ncluster_known_nodes:{}\r\n\
         cluster_size:{}\r\ncluster_current_epoch:{}\r\ncluster_my_epoch:{my_epoch}\r\n",
        if c.state_ok { "ok" } else { "fail" },
        c.nodes.len(),
        c.size,
        c.current_epoch,
    );
    for (dir, stats) in [("sent", &c.stats_sent), ("received", &c.stats_received)] {
        let mut total = 0;
        for (t, &n) in stats.iter().enumerate() {
            if n == 0 {
                continue;
            }
            total += n;
            s.push_str(&format!(
                "cluster_stats_messages_{}_{dir}:{n}\r\n",
                type_name(t as u16)
            ));
        }
        s.push_str(&format!("cluster_stats_messages_{dir}:{total}\r\n"));
    }
    s.push_str(&format!(
        "total_cluster_links_buffer_limit_exceeded:{}\r\n",
        c.links_buffer_limit_exceeded
    ));
    s
}

/// `cluster-preferred-endpoint-type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `ip`.
    Ip,
    /// `hostname`.
    Hostname,
    /// `unknown-endpoint`.
    Unknown,
}

impl Endpoint {
    /// The node's setting.
    pub fn of(st: &NodeState) -> Endpoint {
        match st
            .config
            .extra_or("cluster-preferred-endpoint-type", "ip")
            .as_str()
        {
            "hostname" => Endpoint::Hostname,
            "unknown-endpoint" => Endpoint::Unknown,
            _ => Endpoint::Ip,
        }
    }

    /// `getPreferredEndpoint`.
    pub fn text(self, n: &ClusterNode) -> &str {
        match self {
            Endpoint::Ip => &n.ip,
            Endpoint::Hostname if n.hostname.is_empty() => "?",
            Endpoint::Hostname => &n.hostname,
            Endpoint::Unknown => "",
        }
    }
}

/// `addNodeToNodeReply`.
fn node_entry(out: &mut ReplyWriter, n: &ClusterNode, ep: Endpoint) {
    out.array(4);
    match ep {
        Endpoint::Ip => out.bulk(n.ip.as_bytes()),
        Endpoint::Hostname => out.bulk(ep.text(n).as_bytes()),
        Endpoint::Unknown => out.null(),
    }
    out.int(i64::from(n.port));
    out.bulk(&n.id);
    let with_ip = ep != Endpoint::Ip;
    let with_host = ep != Endpoint::Hostname && !n.hostname.is_empty();
    out.map(usize::from(with_ip) + usize::from(with_host));
    if with_ip {
        out.bulk(b"ip");
        out.bulk(n.ip.as_bytes());
    }
    if with_host {
        out.bulk(b"hostname");
        out.bulk(n.hostname.as_bytes());
    }
}

/// A replica's offset as this node knows it (its own when it is myself).
fn offset_of(c: &Cluster, st: &NodeState, n: &ClusterNode) -> u64 {
    if n.id == c.myself {
        st.repl.offset()
    } else {
        n.repl_offset
    }
}

/// CLUSTER SLOTS.
pub fn slots_reply(c: &Cluster, st: &NodeState, out: &mut ReplyWriter) {
    let ep = Endpoint::of(st);
    let mut ranges: Vec<(usize, usize, NodeId)> = Vec::new();
    for j in 0..SLOTS {
        if let Some(owner) = c.slots[j] {
            match ranges.last_mut() {
                Some(last) if last.2 == owner && last.1 + 1 == j => last.1 = j,
                _ => ranges.push((j, j, owner)),
            }
        }
    }
    out.array(ranges.len());
    for (a, b, owner) in ranges {
        let Some(m) = c.nodes.get(&owner) else {
            out.array(2);
            out.int(a as i64);
            out.int(b as i64);
            continue;
        };
        let replicas: Vec<&ClusterNode> = m
            .replicas
            .iter()
            .filter_map(|r| c.nodes.get(r))
            .filter(|r| !r.failed() && offset_of(c, st, r) != 0)
            .collect();
        out.array(3 + replicas.len());
        out.int(a as i64);
        out.int(b as i64);
        node_entry(out, m, ep);
        for r in replicas {
            node_entry(out, r, ep);
        }
    }
}

/// CLUSTER SHARDS.
pub fn shards_reply(c: &Cluster, st: &NodeState, out: &mut ReplyWriter) {
    let ep = Endpoint::of(st);
    let masters: Vec<&ClusterNode> = c.nodes.values().filter(|n| n.is_master()).collect();
    out.array(masters.len());
    for m in masters {
        out.map(2);
        out.bulk(b"slots");
        let ranges = owned_ranges(c, &m.id);
        out.array(ranges.len() * 2);
        for (a, b) in ranges {
            out.int(a as i64);
            out.int(b as i64);
        }
        out.bulk(b"nodes");
        let members: Vec<&ClusterNode> = std::iter::once(m)
            .chain(m.replicas.iter().filter_map(|r| c.nodes.get(r)))
            .collect();
        out.array(members.len());
        for n in members {
            let offset = offset_of(c, st, n);
            let hostname = !n.hostname.is_empty();
            out.map(7 + usize::from(hostname));
            out.bulk(b"id");
            out.bulk(&n.id);
            out.bulk(b"port");
            out.int(i64::from(n.port));
            out.bulk(b"ip");
            out.bulk(n.ip.as_bytes());
            out.bulk(b"endpoint");
            out.bulk(ep.text(n).as_bytes());
            if hostname {
                out.bulk(b"hostname");
                out.bulk(n.hostname.as_bytes());
            }
            out.bulk(b"role");
            out.bulk(if n.is_slave() { b"replica" } else { b"master" });
            out.bulk(b"replication-offset");
            out.int(offset as i64);
            out.bulk(b"health");
            out.bulk(if n.failed() {
                b"fail".as_slice()
            } else if n.is_slave() && offset == 0 {
                b"loading"
            } else {
                b"online"
            });
        }
    }
}

/// CLUSTER LINKS.
pub fn links_reply(c: &Cluster, out: &mut ReplyWriter) {
    let mut entries = Vec::new();
    for n in c.nodes.values() {
        for l in [n.link, n.inbound_link].into_iter().flatten() {
            if let Some(link) = c.links.get(&l) {
                entries.push((n.id, link));
            }
        }
    }
    out.array(entries.len());
    for (id, link) in entries {
        let used = link.pending.load(std::sync::atomic::Ordering::Relaxed);
        out.map(6);
        out.bulk(b"direction");
        out.bulk(if link.inbound { b"from" } else { b"to" });
        out.bulk(b"node");
        out.bulk(&id);
        out.bulk(b"create-time");
        out.int(link.ctime);
        out.bulk(b"events");
        out.bulk(if used > 0 { b"rw" } else { b"r" });
        out.bulk(b"send-buffer-allocated");
        out.int(used as i64);
        out.bulk(b"send-buffer-used");
        out.int(used as i64);
    }
}
