//! What an operation knows of the cluster: `CLUSTER NODES` parsed, one connection per node,
//! loaded from a seed as redis-cli's `clusterManagerLoadInfoFromNode` does.

use std::collections::BTreeSet;

use tokio::time::Instant;

use super::{addr_string, parse_addr, AdminError, ClusterAdmin, Node, Result};
use crate::slot::SLOT_COUNT;

/// One node as `CLUSTER NODES` describes it (its own line for its slots and open slots).
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NodeInfo {
    /// The node id (40 hex characters).
    pub id: String,
    /// The host it is reached at (the IP the cluster announces, or the address given).
    pub host: String,
    /// Its client port.
    pub port: u16,
    /// Its cluster bus port.
    pub bus_port: u16,
    /// Its flags (`myself` removed): `master`, `slave`, `fail?`, `fail`, `handshake`, ...
    pub flags: Vec<String>,
    /// The master it replicates, for a replica.
    pub master_id: Option<String>,
    /// Its config epoch.
    pub config_epoch: u64,
    /// The slots it serves, by its own account.
    pub slots: BTreeSet<u16>,
    /// Slots it is migrating: (slot, target node id).
    pub migrating: Vec<(u16, String)>,
    /// Slots it is importing: (slot, source node id).
    pub importing: Vec<(u16, String)>,
    /// How many of the loaded nodes replicate it.
    pub replicas: usize,
}

impl std::fmt::Debug for NodeInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeInfo")
            .field("id", &self.id)
            .field("addr", &self.addr())
            .field("bus_port", &self.bus_port)
            .field("flags", &self.flags)
            .field("master_id", &self.master_id)
            .field("config_epoch", &self.config_epoch)
            .field("slots", &super::slot_ranges(&self.slots))
            .field("migrating", &self.migrating)
            .field("importing", &self.importing)
            .field("replicas", &self.replicas)
            .finish()
    }
}

impl NodeInfo {
    /// `host:port`.
    pub fn addr(&self) -> String {
        addr_string(&self.host, self.port)
    }

    /// Whether it is a master (not flagged `slave`, no master id).
    pub fn is_master(&self) -> bool {
        self.master_id.is_none() && !self.has_flag("slave")
    }

    /// Whether it has `flag`.
    pub fn has_flag(&self, flag: &str) -> bool {
        self.flags.iter().any(|f| f == flag)
    }

    fn empty(host: String, port: u16) -> NodeInfo {
        NodeInfo {
            id: String::new(),
            host,
            port,
            bus_port: 0,
            flags: Vec::new(),
            master_id: None,
            config_epoch: 0,
            slots: BTreeSet::new(),
            migrating: Vec::new(),
            importing: Vec::new(),
            replicas: 0,
        }
    }
}

/// The cluster as an operation saw it: every reachable node, with a connection to each.
#[derive(Debug, Clone)]
pub struct ClusterView {
    pub(crate) nodes: Vec<Node>,
    pub(crate) unreachable_masters: usize,
}

impl ClusterView {
    /// Every loaded node, the seed first.
    pub fn nodes(&self) -> impl Iterator<Item = &NodeInfo> + '_ {
        self.nodes.iter().map(|n| &n.info)
    }

    /// The loaded masters.
    pub fn masters(&self) -> impl Iterator<Item = &NodeInfo> + '_ {
        self.nodes().filter(|n| n.is_master())
    }

    /// The node with id `id`.
    pub fn node(&self, id: &str) -> Option<&NodeInfo> {
        self.nodes().find(|n| n.id == id)
    }

    /// The master serving `slot`, by the masters' own accounts.
    pub fn slot_owner(&self, slot: u16) -> Option<&NodeInfo> {
        self.masters().find(|n| n.slots.contains(&slot))
    }

    /// Masters the seed listed that could not be loaded (failed, without address, or not
    /// reachable).
    pub fn unreachable_masters(&self) -> usize {
        self.unreachable_masters
    }

    pub(crate) fn index(&self, id: &str) -> Result<usize> {
        self.nodes
            .iter()
            .position(|n| n.info.id == id)
            .ok_or_else(|| AdminError::UnknownNode(id.to_string()))
    }

    /// The node whose id starts with `prefix` (redis-cli's abbreviated names).
    pub(crate) fn by_prefix(&self, prefix: &str) -> Option<usize> {
        self.nodes
            .iter()
            .position(|n| !prefix.is_empty() && n.info.id.starts_with(prefix))
    }

    /// The master with the fewest replicas (the first of them).
    pub(crate) fn least_replicas(&self, except: Option<usize>) -> Option<usize> {
        let mut best: Option<usize> = None;
        for (i, n) in self.nodes.iter().enumerate() {
            if !n.info.is_master() || Some(i) == except {
                continue;
            }
            if best.map_or(true, |b| n.info.replicas < self.nodes[b].info.replicas) {
                best = Some(i);
            }
        }
        best
    }

    fn count_replicas(&mut self) {
        for i in 0..self.nodes.len() {
            if let Some(m) = self.nodes[i].info.master_id.clone() {
                match self.nodes.iter_mut().find(|n| n.info.id == m) {
                    Some(master) => master.info.replicas += 1,
                    None => tracing::warn!(
                        target: "rediscover::cluster::admin",
                        "{} claims to be a replica of unknown node id {m}",
                        self.nodes[i].addr()
                    ),
                }
            }
        }
    }
}

/// One line of `CLUSTER NODES`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Line {
    pub(crate) myself: bool,
    pub(crate) info: NodeInfo,
}

/// Parses `CLUSTER NODES` output. Lines with fewer than 8 fields are an error, as for
/// redis-cli.
pub(crate) fn parse_nodes(text: &str) -> std::result::Result<Vec<Line>, String> {
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let fields: Vec<&str> = line.split(' ').collect();
        if fields.len() < 8 {
            return Err(format!("short line {line:?}"));
        }
        let (addr, _hostname) = fields[1].split_once(',').unwrap_or((fields[1], ""));
        let (hostport, bus) = addr.split_once('@').unwrap_or((addr, "0"));
        let (host, port) = hostport
            .rsplit_once(':')
            .ok_or_else(|| format!("bad address in {line:?}"))?;
        let port: u16 = port.parse().map_err(|_| format!("bad port in {line:?}"))?;
        let bus_port: u16 = bus.parse().unwrap_or(0);
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        let mut info = NodeInfo::empty(host.to_string(), port);
        info.id = fields[0].to_string();
        info.bus_port = bus_port;
        let mut myself = false;
        for flag in fields[2].split(',').filter(|f| !f.is_empty()) {
            if flag == "myself" {
                myself = true;
            } else {
                info.flags.push(flag.to_string());
            }
        }
        if info.has_flag("slave") && fields[3] != "-" {
            info.master_id = Some(fields[3].to_string());
        }
        info.config_epoch = fields[6].parse().unwrap_or(0);
        for def in &fields[8..] {
            parse_slots(def, &mut info).map_err(|e| format!("{e} in {line:?}"))?;
        }
        out.push(Line { myself, info });
    }
    Ok(out)
}

fn parse_slots(def: &str, info: &mut NodeInfo) -> std::result::Result<(), String> {
    let slot = |s: &str| -> std::result::Result<u16, String> {
        s.parse::<u16>()
            .ok()
            .filter(|&n| n < SLOT_COUNT)
            .ok_or_else(|| format!("bad slot {s:?}"))
    };
    if def.is_empty() {
        return Ok(());
    }
    if let Some(open) = def.strip_prefix('[') {
        let open = open.strip_suffix(']').unwrap_or(open);
        if let Some((s, to)) = open.split_once("->-") {
            info.migrating.push((slot(s)?, to.to_string()));
        } else if let Some((s, from)) = open.split_once("-<-") {
            info.importing.push((slot(s)?, from.to_string()));
        }
    } else if let Some((a, b)) = def.split_once('-') {
        let (a, b) = (slot(a)?, slot(b)?);
        info.slots.extend(a..=b.max(a));
    } else {
        info.slots.insert(slot(def)?);
    }
    Ok(())
}

/// The configuration signature of one `CLUSTER NODES` output, as redis-cli computes it: for
/// each node serving slots, `id:ranges` (ranges sorted as text), sorted and joined by `|`.
/// `None` when no node serves a slot.
pub(crate) fn signature(text: &str) -> Option<String> {
    let mut configs: Vec<String> = Vec::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        if fields.len() < 9 {
            continue;
        }
        let mut slots: Vec<&str> = fields[8..]
            .iter()
            .copied()
            .filter(|s| !s.is_empty() && !s.starts_with('['))
            .collect();
        if slots.is_empty() {
            continue;
        }
        slots.sort_unstable();
        configs.push(format!("{}:{}", fields[0], slots.join(",")));
    }
    if configs.is_empty() {
        return None;
    }
    configs.sort_unstable();
    Some(configs.join("|"))
}

impl ClusterAdmin {
    /// Connects to `host:port`, checks that it runs in cluster mode and returns it as a node
    /// with its own `CLUSTER NODES` line loaded (id, flags, slots, open slots).
    pub(crate) async fn open_node(&self, host: &str, port: u16) -> Result<Node> {
        let conn = self.connect(host, port).await?;
        let mut node = Node {
            info: NodeInfo::empty(host.to_string(), port),
            conn,
        };
        self.ensure_cluster_node(&node).await?;
        self.refresh_node(&mut node).await?;
        Ok(node)
    }

    /// Reloads a node's own line of `CLUSTER NODES`, keeping the address it is reached at.
    pub(crate) async fn refresh_node(&self, node: &mut Node) -> Result<Vec<Line>> {
        let text = node.call_text(&["CLUSTER", "NODES"]).await?;
        let lines = parse_nodes(&text).map_err(|detail| AdminError::BadReply {
            addr: node.addr(),
            command: "CLUSTER NODES".into(),
            detail,
        })?;
        let me = lines
            .iter()
            .find(|l| l.myself)
            .ok_or_else(|| AdminError::BadReply {
                addr: node.addr(),
                command: "CLUSTER NODES".into(),
                detail: "no line flagged myself".into(),
            })?;
        let (host, port, replicas) = (node.info.host.clone(), node.info.port, node.info.replicas);
        node.info = NodeInfo {
            host,
            port,
            replicas,
            ..me.info.clone()
        };
        Ok(lines)
    }

    /// Fails unless the node runs in cluster mode (`INFO cluster`).
    pub(crate) async fn ensure_cluster_node(&self, node: &Node) -> Result<()> {
        let info = node.call_text(&["INFO", "cluster"]).await?;
        if info.lines().any(|l| l.trim() == "cluster_enabled:1") {
            Ok(())
        } else {
            Err(AdminError::NotClusterNode(node.addr()))
        }
    }

    /// Fails unless the node holds no key in db0 and knows no other node.
    pub(crate) async fn ensure_empty(&self, node: &Node) -> Result<()> {
        let info = node.call_text(&["INFO"]).await?;
        if info.contains("db0:") {
            return Err(AdminError::NodeNotEmpty(node.addr()));
        }
        let info = node.call_text(&["CLUSTER", "INFO"]).await?;
        let known = info
            .lines()
            .find_map(|l| l.trim().strip_prefix("cluster_known_nodes:"))
            .and_then(|v| v.parse::<u64>().ok());
        if known == Some(1) {
            Ok(())
        } else {
            Err(AdminError::NodeNotEmpty(node.addr()))
        }
    }

    /// Loads the cluster from `seed` (`host:port`): the seed's `CLUSTER NODES`, then each
    /// node it lists, as `redis-cli --cluster` does before every operation.
    pub async fn load(&self, seed: &str) -> Result<ClusterView> {
        let (host, port) = parse_addr(seed)?;
        let mut first = self.open_node(&host, port).await?;
        let lines = self.refresh_node(&mut first).await?;
        let mut view = ClusterView {
            nodes: vec![first],
            unreachable_masters: 0,
        };
        for line in lines.into_iter().filter(|l| !l.myself) {
            let seen = line.info;
            // A node still in handshake has a temporary id: it is listed again under its own
            // once the handshake ends.
            let invalid = seen.host.is_empty()
                || seen.port == 0
                || ["noaddr", "disconnected", "fail", "handshake"]
                    .iter()
                    .any(|f| seen.has_flag(f));
            let loaded = if invalid {
                None
            } else {
                match self.open_node(&seen.host, seen.port).await {
                    Ok(node) if !node.info.has_flag("fail") && !node.info.has_flag("noaddr") => {
                        Some(node)
                    }
                    Ok(_) => None,
                    Err(e) => {
                        tracing::warn!(
                            target: "rediscover::cluster::admin",
                            "unable to load info for node {}: {e}", seen.addr()
                        );
                        None
                    }
                }
            };
            match loaded {
                Some(node) => view.nodes.push(node),
                None if seen.is_master() => view.unreachable_masters += 1,
                None => {}
            }
        }
        view.count_replicas();
        Ok(view)
    }

    /// A view of exactly these nodes (`host:port` each), without following the cluster's
    /// node list: for stepping through a slot migration ([`ClusterAdmin::open_slot`], ...)
    /// between known nodes while others may be down.
    pub async fn view<A: AsRef<str>>(&self, addrs: &[A]) -> Result<ClusterView> {
        let mut view = ClusterView {
            nodes: Vec::with_capacity(addrs.len()),
            unreachable_masters: 0,
        };
        for a in addrs {
            let (host, port) = parse_addr(a.as_ref())?;
            view.nodes.push(self.open_node(&host, port).await?);
        }
        view.count_replicas();
        Ok(view)
    }

    /// Reloads every node of `view` in place (after changes), keeping the same nodes.
    pub(crate) async fn reload(&self, view: &mut ClusterView) -> Result<()> {
        for node in &mut view.nodes {
            node.info.replicas = 0;
            self.refresh_node(node).await?;
        }
        view.count_replicas();
        Ok(())
    }

    /// Whether every node of `nodes` has the same configuration signature (redis-cli's
    /// `clusterManagerIsConfigConsistent`).
    pub(crate) async fn config_consistent(&self, nodes: &[Node]) -> Result<bool> {
        if nodes.len() <= 1 {
            return Ok(true);
        }
        let mut first: Option<String> = None;
        for node in nodes {
            let text = node.call_text(&["CLUSTER", "NODES"]).await?;
            let Some(sig) = signature(&text) else {
                return Ok(false);
            };
            match &first {
                None => first = Some(sig),
                Some(f) if *f != sig => return Ok(false),
                _ => {}
            }
        }
        Ok(true)
    }

    /// Waits until the nodes agree on the configuration and each knows all the others
    /// (out of handshake), polling every 20 ms up to the join timeout.
    pub(crate) async fn wait_for_join(&self, nodes: &[Node]) -> Result<()> {
        let deadline = Instant::now() + self.join_timeout;
        loop {
            if self.all_known(nodes).await? && self.config_consistent(nodes).await? {
                return Ok(());
            }
            if Instant::now() >= deadline {
                // What each node sees goes into the error: a cluster that never agrees is
                // diagnosed from it.
                let mut what =
                    String::from("the nodes to join the cluster and agree on its configuration");
                for n in nodes {
                    if let Ok(t) = n.call_text(&["CLUSTER", "NODES"]).await {
                        tracing::warn!(
                            target: "rediscover::cluster::admin",
                            "still no agreement; CLUSTER NODES of {}:\n{t}", n.addr()
                        );
                        what.push_str(&format!(
                            "\nCLUSTER NODES of {}:\n{}",
                            n.addr(),
                            t.trim_end()
                        ));
                    }
                }
                return Err(AdminError::Timeout {
                    what,
                    timeout: self.join_timeout,
                });
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    async fn all_known(&self, nodes: &[Node]) -> Result<bool> {
        let ids: Vec<&str> = nodes.iter().map(|n| n.info.id.as_str()).collect();
        for node in nodes {
            let text = node.call_text(&["CLUSTER", "NODES"]).await?;
            let lines = parse_nodes(&text).unwrap_or_default();
            let known = ids.iter().all(|id| {
                lines
                    .iter()
                    .any(|l| l.info.id == *id && !l.info.has_flag("handshake"))
            });
            if !known {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NODES: &str = "\
07c37dfeb235213a872192d90877d0cd55635b91 127.0.0.1:30004@31004,host-a slave e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 0 1426238317239 4 connected
67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1 127.0.0.1:30002@31002 master - 0 1426238316232 2 connected 5461-10922
292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f 127.0.0.1:30003@31003 master - 0 1426238318243 3 connected 10923-16383 [10923->-67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1]
e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 127.0.0.1:30001@31001 myself,master - 0 0 1 connected 0-5460 [5461-<-67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1]
";

    #[test]
    fn parses_cluster_nodes() {
        let lines = parse_nodes(NODES).unwrap();
        assert_eq!(lines.len(), 4);
        let replica = &lines[0].info;
        assert!(!replica.is_master());
        assert_eq!(replica.bus_port, 31004);
        assert_eq!(
            replica.master_id.as_deref(),
            Some("e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca")
        );
        let me = lines.iter().find(|l| l.myself).unwrap();
        assert_eq!(me.info.slots.len(), 5461);
        assert_eq!(me.info.importing[0].0, 5461);
        assert!(me.info.flags.iter().all(|f| f != "myself"));
        assert_eq!(lines[2].info.migrating[0].0, 10923);
        assert_eq!(lines[2].info.config_epoch, 3);
        assert!(parse_nodes("abc 1.2.3.4:5@6 master").is_err());
        assert!(parse_nodes("a 1.2.3.4:5@6 master - 0 0 1 connected 99999").is_err());
    }

    #[test]
    fn signatures_ignore_open_slots_and_order() {
        let sig = signature(NODES).unwrap();
        assert_eq!(
            sig,
            "292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f:10923-16383|\
             67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1:5461-10922|\
             e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca:0-5460"
        );
        assert_eq!(signature("a 1:2@3 master - 0 0 1 connected\n"), None);
    }
}
