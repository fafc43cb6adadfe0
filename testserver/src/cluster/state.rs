//! One node's view of the cluster: the node table, the slot map, epochs, and the operations
//! on them that Redis's `cluster.c` names (`clusterAddSlot`, `clusterDelNode`,
//! `clusterSetMaster`, ...), kept with Redis's side effects.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use bytes::Bytes;

use super::SLOTS;
use crate::logging::Level;
use crate::node::{unix_ms, NodeState};

/// A node id: 40 lower-case characters.
pub type NodeId = [u8; 40];

/// The id as text.
pub fn name(id: &NodeId) -> &str {
    std::str::from_utf8(id).unwrap_or("????????????????????????????????????????")
}

/// A fresh random node id.
pub fn random_id() -> NodeId {
    let hex = crate::node::random_hex(40);
    let mut id = [0u8; 40];
    id.copy_from_slice(hex.as_bytes());
    id
}

/// Whether `s` is a valid node id: 40 characters of `[a-z0-9]` (Redis's `verifyClusterNodeId`).
pub fn valid_id(s: &[u8]) -> Option<NodeId> {
    if s.len() != 40
        || !s
            .iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    {
        return None;
    }
    let mut id = [0u8; 40];
    id.copy_from_slice(s);
    Some(id)
}

/// Node flags (`CLUSTER_NODE_*`), as on the bus.
pub mod flag {
    #![allow(missing_docs)]
    pub const MASTER: u16 = 1;
    pub const SLAVE: u16 = 2;
    pub const PFAIL: u16 = 4;
    pub const FAIL: u16 = 8;
    pub const MYSELF: u16 = 16;
    pub const HANDSHAKE: u16 = 32;
    pub const NOADDR: u16 = 64;
    pub const MEET: u16 = 128;
    pub const MIGRATE_TO: u16 = 256;
    pub const NOFAILOVER: u16 = 512;
}

/// Deferred work, done "before sleep" (`CLUSTER_TODO_*`).
pub mod todo {
    #![allow(missing_docs)]
    pub const HANDLE_FAILOVER: u8 = 1;
    pub const UPDATE_STATE: u8 = 2;
    pub const SAVE_CONFIG: u8 = 4;
    pub const FSYNC_CONFIG: u8 = 8;
    pub const HANDLE_MANUALFAILOVER: u8 = 16;
}

/// A slot bitmap as on the bus: slot `j` is bit `j & 7` of byte `j / 8`.
#[derive(Clone, PartialEq, Eq)]
pub struct SlotBitmap(pub Box<[u8; SLOTS / 8]>);

impl Default for SlotBitmap {
    fn default() -> Self {
        SlotBitmap(Box::new([0; SLOTS / 8]))
    }
}

impl std::fmt::Debug for SlotBitmap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SlotBitmap({} slots)", self.count())
    }
}

impl SlotBitmap {
    /// Whether slot `j` is set.
    pub fn get(&self, j: usize) -> bool {
        self.0[j / 8] & (1 << (j & 7)) != 0
    }
    /// Sets slot `j`.
    pub fn set(&mut self, j: usize) {
        self.0[j / 8] |= 1 << (j & 7);
    }
    /// Clears slot `j`.
    pub fn clear(&mut self, j: usize) {
        self.0[j / 8] &= !(1 << (j & 7));
    }
    /// Number of slots set.
    pub fn count(&self) -> usize {
        self.0.iter().map(|b| b.count_ones() as usize).sum()
    }
    /// From the 2048 bytes of a message.
    pub fn from_bytes(b: &[u8]) -> SlotBitmap {
        let mut m = SlotBitmap::default();
        m.0.copy_from_slice(&b[..SLOTS / 8]);
        m
    }
}

/// One node of the cluster as this node knows it (`clusterNode`).
#[derive(Debug, Clone)]
pub struct ClusterNode {
    /// Its id.
    pub id: NodeId,
    /// `CLUSTER_NODE_*` flags.
    pub flags: u16,
    /// When this node object was created (ms).
    pub ctime: i64,
    /// Its config epoch.
    pub config_epoch: u64,
    /// The slots it serves.
    pub slots: SlotBitmap,
    /// Number of slots it serves.
    pub numslots: usize,
    /// Its replicas, in the order they were added.
    pub replicas: Vec<NodeId>,
    /// Its master, when it is a replica.
    pub slaveof: Option<NodeId>,
    /// When the pending PING was sent (0: none), ms.
    pub ping_sent: i64,
    /// When the last PONG came, ms.
    pub pong_received: i64,
    /// When anything last came from it, ms.
    pub data_received: i64,
    /// When it was flagged FAIL, ms.
    pub fail_time: i64,
    /// When we last voted for a replica of it, ms.
    pub voted_time: i64,
    /// When its replication offset was last received.
    pub repl_offset_time: i64,
    /// Since when it has been an orphaned master (0: it is not).
    pub orphaned_time: i64,
    /// Its last advertised replication offset.
    pub repl_offset: u64,
    /// Its IP ("" until known).
    pub ip: String,
    /// Client port.
    pub port: u16,
    /// Plaintext port (TLS clusters only; 0).
    pub pport: u16,
    /// Bus port.
    pub cport: u16,
    /// Announced hostname ("" if none).
    pub hostname: String,
    /// The link we opened to it.
    pub link: Option<LinkId>,
    /// The link it opened to us.
    pub inbound_link: Option<LinkId>,
    /// Masters that reported it failing, and when.
    pub fail_reports: Vec<(NodeId, i64)>,
}

impl ClusterNode {
    /// A node with `flags` (Redis's `createClusterNode`).
    pub fn new(id: NodeId, flags: u16) -> ClusterNode {
        let now = unix_ms();
        ClusterNode {
            id,
            flags,
            ctime: now,
            config_epoch: 0,
            slots: SlotBitmap::default(),
            numslots: 0,
            replicas: Vec::new(),
            slaveof: None,
            ping_sent: 0,
            pong_received: 0,
            data_received: 0,
            fail_time: 0,
            voted_time: 0,
            repl_offset_time: 0,
            orphaned_time: 0,
            repl_offset: 0,
            ip: String::new(),
            port: 0,
            pport: 0,
            cport: 0,
            hostname: String::new(),
            link: None,
            inbound_link: None,
            fail_reports: Vec::new(),
        }
    }

    /// Whether it is a master.
    pub fn is_master(&self) -> bool {
        self.flags & flag::MASTER != 0
    }
    /// Whether it is a replica.
    pub fn is_slave(&self) -> bool {
        self.flags & flag::SLAVE != 0
    }
    /// Whether it is flagged FAIL.
    pub fn failed(&self) -> bool {
        self.flags & flag::FAIL != 0
    }
    /// Whether it is flagged PFAIL.
    pub fn timed_out(&self) -> bool {
        self.flags & flag::PFAIL != 0
    }
    /// Whether it is still in handshake.
    pub fn in_handshake(&self) -> bool {
        self.flags & flag::HANDSHAKE != 0
    }
    /// Whether we know its address.
    pub fn has_addr(&self) -> bool {
        self.flags & flag::NOADDR == 0
    }
    /// Whether it is this node.
    pub fn is_myself(&self) -> bool {
        self.flags & flag::MYSELF != 0
    }
}

/// A bus link id.
pub type LinkId = u64;

/// One bus connection (`clusterLink`).
#[derive(Debug)]
pub struct Link {
    /// The node at the other end, once known (inbound links learn it from the first message).
    pub node: Option<NodeId>,
    /// Whether the other node opened it.
    pub inbound: bool,
    /// When it was created (ms).
    pub ctime: i64,
    /// Messages to write.
    pub tx: tokio::sync::mpsc::UnboundedSender<Bytes>,
    /// Bytes queued and not yet written (shared with the writer).
    pub pending: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    /// Notified when the link is freed: its tasks stop and the socket closes.
    pub closed: std::sync::Arc<tokio::sync::Notify>,
    /// The peer's IP (what `nodeIp2String` reads from the socket).
    pub peer_ip: String,
    /// Our side's IP on this link (how a node learns its own address).
    pub local_ip: String,
}

/// Why a replica cannot fail over (for the rate-limited log line).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CantFailover {
    /// Nothing to report.
    None,
    /// The data is too old.
    DataAge,
    /// Waiting the election delay.
    WaitingDelay,
    /// The election expired.
    Expired,
    /// Waiting for votes.
    WaitingVotes,
}

/// One node's cluster state (`clusterState` plus `myself`).
#[derive(Debug)]
pub struct Cluster {
    /// This node's id.
    pub myself: NodeId,
    /// The current epoch.
    pub current_epoch: u64,
    /// The epoch of our last vote.
    pub last_vote_epoch: u64,
    /// `cluster_state:ok`.
    pub state_ok: bool,
    /// Masters serving at least one slot (from the last state update).
    pub size: usize,
    /// Every known node, this one included.
    pub nodes: HashMap<NodeId, ClusterNode>,
    /// Forgotten nodes, not re-added from gossip until the time (ms).
    pub blacklist: HashMap<NodeId, i64>,
    /// Owner of each slot.
    pub slots: Vec<Option<NodeId>>,
    /// Slots whose owner stopped claiming them.
    pub owner_not_claiming: SlotBitmap,
    /// Slots this node migrates to another.
    pub migrating: BTreeMap<u16, NodeId>,
    /// Slots this node imports from another.
    pub importing: BTreeMap<u16, NodeId>,
    /// Election: when it starts (ms).
    pub failover_auth_time: i64,
    /// Election: votes received.
    pub failover_auth_count: usize,
    /// Election: votes asked.
    pub failover_auth_sent: bool,
    /// Election: our rank.
    pub failover_auth_rank: usize,
    /// Election: its epoch.
    pub failover_auth_epoch: u64,
    /// Last reason we could not fail over.
    pub cant_failover_reason: CantFailover,
    /// When it was logged.
    pub cant_failover_logged: i64,
    /// Manual failover deadline (0: none).
    pub mf_end: i64,
    /// Manual failover: the replica asking (on a master).
    pub mf_slave: Option<NodeId>,
    /// Manual failover: the master's offset once paused (-1: not yet).
    pub mf_master_offset: i64,
    /// Manual failover: the election may start.
    pub mf_can_start: bool,
    /// Deferred work (`todo::*`).
    pub todo: u8,
    /// Messages sent, by type.
    pub stats_sent: [u64; 11],
    /// Messages received, by type.
    pub stats_received: [u64; 11],
    /// Nodes in PFAIL (counted by the last cron).
    pub stats_pfail_nodes: usize,
    /// Links closed for their send buffer.
    pub links_buffer_limit_exceeded: u64,
    /// Open bus links.
    pub links: HashMap<LinkId, Link>,
    /// Next link id.
    pub next_link: LinkId,
    /// Cron calls so far.
    pub cron_iteration: u64,
    /// First call of the state update (ms; 0: not yet).
    pub first_update_state: i64,
    /// Last time we were in a minority (ms).
    pub among_minority_time: i64,
    /// `nodes.conf`.
    pub config_path: PathBuf,
    /// The open, locked `nodes.conf` (held for the node's life).
    pub config_lock: Option<std::fs::File>,
    /// Last saved content, so an unchanged configuration is not written again.
    pub saved: String,
    /// Whether saves are crash-proof: written to a temporary file that is fsynced (where
    /// Redis fsyncs) and renamed over `nodes.conf`. The `rediscover-server` binary saves so;
    /// an in-process node, whose "crash" never loses the page cache, rewrites the file in
    /// place as Redis 7.0 does (a rename over an existing file flushes it to disk on ext4,
    /// milliseconds per topology change).
    pub durable: bool,
}

impl Cluster {
    /// A cluster state whose only node is `myself`, a master.
    pub fn new(myself: NodeId, config_path: PathBuf) -> Cluster {
        let mut me = ClusterNode::new(myself, flag::MYSELF | flag::MASTER);
        me.ctime = unix_ms();
        let mut nodes = HashMap::new();
        nodes.insert(myself, me);
        Cluster {
            myself,
            current_epoch: 0,
            last_vote_epoch: 0,
            state_ok: false,
            size: 1,
            nodes,
            blacklist: HashMap::new(),
            slots: vec![None; SLOTS],
            owner_not_claiming: SlotBitmap::default(),
            migrating: BTreeMap::new(),
            importing: BTreeMap::new(),
            failover_auth_time: 0,
            failover_auth_count: 0,
            failover_auth_sent: false,
            failover_auth_rank: 0,
            failover_auth_epoch: 0,
            cant_failover_reason: CantFailover::None,
            cant_failover_logged: 0,
            mf_end: 0,
            mf_slave: None,
            mf_master_offset: -1,
            mf_can_start: false,
            todo: 0,
            stats_sent: [0; 11],
            stats_received: [0; 11],
            stats_pfail_nodes: 0,
            links_buffer_limit_exceeded: 0,
            links: HashMap::new(),
            next_link: 1,
            cron_iteration: 0,
            first_update_state: 0,
            among_minority_time: 0,
            config_path,
            config_lock: None,
            saved: String::new(),
            durable: false,
        }
    }

    /// This node.
    pub fn me(&self) -> &ClusterNode {
        &self.nodes[&self.myself]
    }

    /// This node, mutably.
    pub fn me_mut(&mut self) -> &mut ClusterNode {
        self.nodes
            .get_mut(&self.myself)
            .expect("myself is always known")
    }

    /// Whether this node is a master.
    pub fn i_am_master(&self) -> bool {
        self.me().is_master()
    }

    /// This node's master, if it is a replica.
    pub fn my_master(&self) -> Option<NodeId> {
        self.me().slaveof
    }

    /// Asks for deferred work.
    pub fn do_before_sleep(&mut self, flags: u8) {
        self.todo |= flags;
    }

    /// A node's config epoch as CLUSTER NODES and the bus show it: its master's for a replica.
    pub fn node_epoch(&self, n: &ClusterNode) -> u64 {
        match n.slaveof.and_then(|m| self.nodes.get(&m)) {
            Some(m) if n.is_slave() => m.config_epoch,
            _ => n.config_epoch,
        }
    }

    /// `clusterNodeAddFailureReport`: true if the report is new.
    pub fn add_failure_report(&mut self, failing: &NodeId, sender: &NodeId, now: i64) -> bool {
        let Some(n) = self.nodes.get_mut(failing) else {
            return false;
        };
        if let Some(r) = n.fail_reports.iter_mut().find(|r| r.0 == *sender) {
            r.1 = now;
            return false;
        }
        n.fail_reports.push((*sender, now));
        true
    }

    /// `clusterNodeDelFailureReport`: true if there was one.
    pub fn del_failure_report(&mut self, node: &NodeId, sender: &NodeId, validity: i64) -> bool {
        let Some(n) = self.nodes.get_mut(node) else {
            return false;
        };
        let before = n.fail_reports.len();
        n.fail_reports.retain(|r| r.0 != *sender);
        if n.fail_reports.len() == before {
            return false;
        }
        let now = unix_ms();
        n.fail_reports.retain(|r| now - r.1 <= validity);
        true
    }

    /// `clusterNodeFailureReportsCount`: valid reports (old ones are dropped first).
    pub fn failure_reports_count(&mut self, node: &NodeId, validity: i64) -> usize {
        let now = unix_ms();
        match self.nodes.get_mut(node) {
            Some(n) => {
                n.fail_reports.retain(|r| now - r.1 <= validity);
                n.fail_reports.len()
            }
            None => 0,
        }
    }

    /// `clusterNodeRemoveSlave`.
    pub fn remove_replica(&mut self, master: &NodeId, replica: &NodeId) -> bool {
        let Some(m) = self.nodes.get_mut(master) else {
            return false;
        };
        let Some(pos) = m.replicas.iter().position(|r| r == replica) else {
            return false;
        };
        m.replicas.remove(pos);
        if m.replicas.is_empty() {
            m.flags &= !flag::MIGRATE_TO;
        }
        true
    }

    /// `clusterNodeAddSlave`.
    pub fn add_replica(&mut self, master: &NodeId, replica: &NodeId) -> bool {
        let Some(m) = self.nodes.get_mut(master) else {
            return false;
        };
        if m.replicas.contains(replica) {
            return false;
        }
        m.replicas.push(*replica);
        m.flags |= flag::MIGRATE_TO;
        true
    }

    /// `clusterCountNonFailingSlaves`.
    pub fn non_failing_replicas(&self, master: &ClusterNode) -> usize {
        master
            .replicas
            .iter()
            .filter(|r| self.nodes.get(*r).is_some_and(|n| !n.failed()))
            .count()
    }

    /// `clusterMastersHaveSlaves`.
    pub fn masters_have_replicas(&self) -> bool {
        self.nodes
            .values()
            .filter(|n| !n.is_slave())
            .any(|n| !n.replicas.is_empty())
    }

    /// `clusterNodeSetSlotBit`: returns the old bit.
    fn set_slot_bit(&mut self, id: &NodeId, slot: usize) -> bool {
        let have_replicas = self.masters_have_replicas();
        let Some(n) = self.nodes.get_mut(id) else {
            return false;
        };
        let old = n.slots.get(slot);
        n.slots.set(slot);
        if !old {
            n.numslots += 1;
            if n.numslots == 1 && have_replicas {
                n.flags |= flag::MIGRATE_TO;
            }
        }
        old
    }

    /// `clusterAddSlot`: false if the slot is already assigned.
    pub fn add_slot(&mut self, id: &NodeId, slot: usize) -> bool {
        if self.slots[slot].is_some() {
            return false;
        }
        self.set_slot_bit(id, slot);
        self.slots[slot] = Some(*id);
        true
    }

    /// The master a node serves slots for: itself, or its master.
    pub fn primary_of(&self, id: &NodeId) -> Option<NodeId> {
        let n = self.nodes.get(id)?;
        if n.is_master() {
            Some(n.id)
        } else {
            n.slaveof
        }
    }

    /// `clusterDelSlot`: false if the slot was unassigned. Shard subscribers of this node lose
    /// the slot's channels when this node serves it (its owner or a replica of the owner).
    pub fn del_slot(&mut self, st: &mut NodeState, slot: usize) -> bool {
        let Some(owner) = self.slots[slot] else {
            return false;
        };
        let serving = self.primary_of(&owner).is_some_and(|p| {
            p == self.myself
                || self
                    .nodes
                    .get(&p)
                    .is_some_and(|m| m.replicas.contains(&self.myself))
        });
        if serving {
            remove_channels_in_slot(st, slot as u16);
        }
        if let Some(n) = self.nodes.get_mut(&owner) {
            if n.slots.get(slot) {
                n.slots.clear(slot);
                n.numslots -= 1;
            }
        }
        self.slots[slot] = None;
        true
    }

    /// `clusterDelNodeSlots`.
    pub fn del_node_slots(&mut self, st: &mut NodeState, id: &NodeId) -> usize {
        let owned: Vec<usize> = match self.nodes.get(id) {
            Some(n) => (0..SLOTS).filter(|&j| n.slots.get(j)).collect(),
            None => return 0,
        };
        for &j in &owned {
            self.del_slot(st, j);
        }
        owned.len()
    }

    /// `clusterCloseAllSlots`.
    pub fn close_all_slots(&mut self) {
        self.migrating.clear();
        self.importing.clear();
    }

    /// `isSlotUnclaimed`.
    pub fn slot_unclaimed(&self, slot: usize) -> bool {
        self.slots[slot].is_none() || self.owner_not_claiming.get(slot)
    }

    /// Adds a node (`clusterAddNode`).
    pub fn add_node(&mut self, node: ClusterNode) {
        self.nodes.insert(node.id, node);
    }

    /// Frees a link: it closes, and the node it belonged to loses it.
    pub fn free_link(&mut self, link: LinkId) {
        let Some(l) = self.links.remove(&link) else {
            return;
        };
        l.closed.notify_one();
        if let Some(id) = l.node {
            if let Some(n) = self.nodes.get_mut(&id) {
                if n.link == Some(link) {
                    n.link = None;
                }
                if n.inbound_link == Some(link) {
                    n.inbound_link = None;
                }
            }
        }
    }

    /// `clusterDelNode`: forgets a node, its slots, its reports and its links.
    pub fn del_node(&mut self, st: &mut NodeState, id: &NodeId) {
        self.importing.retain(|_, n| n != id);
        self.migrating.retain(|_, n| n != id);
        for j in 0..SLOTS {
            if self.slots[j] == Some(*id) {
                self.del_slot(st, j);
            }
        }
        for n in self.nodes.values_mut() {
            if n.id != *id {
                n.fail_reports.retain(|r| r.0 != *id);
            }
        }
        let Some(node) = self.nodes.get(id).cloned() else {
            return;
        };
        for r in &node.replicas {
            if let Some(rn) = self.nodes.get_mut(r) {
                rn.slaveof = None;
            }
        }
        if node.is_slave() {
            if let Some(m) = node.slaveof {
                self.remove_replica(&m, id);
            }
        }
        if let Some(l) = node.link {
            self.free_link(l);
        }
        if let Some(l) = node.inbound_link {
            self.free_link(l);
        }
        self.nodes.remove(id);
    }

    /// `clusterRenameNode`: a handshake node learns its real id.
    pub fn rename_node(&mut self, old: &NodeId, new: NodeId) {
        let Some(mut n) = self.nodes.remove(old) else {
            return;
        };
        n.id = new;
        for l in [n.link, n.inbound_link].into_iter().flatten() {
            if let Some(link) = self.links.get_mut(&l) {
                link.node = Some(new);
            }
        }
        self.nodes.insert(new, n);
    }

    /// `clusterGetMaxEpoch`.
    pub fn max_epoch(&self) -> u64 {
        self.nodes
            .values()
            .map(|n| n.config_epoch)
            .max()
            .unwrap_or(0)
            .max(self.current_epoch)
    }

    /// `clusterBumpConfigEpochWithoutConsensus`: true if the epoch changed.
    pub fn bump_epoch_without_consensus(&mut self, st: &NodeState) -> bool {
        let max = self.max_epoch();
        let mine = self.me().config_epoch;
        if mine == 0 || mine != max {
            self.current_epoch += 1;
            let epoch = self.current_epoch;
            self.me_mut().config_epoch = epoch;
            self.do_before_sleep(todo::SAVE_CONFIG | todo::FSYNC_CONFIG);
            st.log(Level::Warning, &format!("New configEpoch set to {epoch}"));
            true
        } else {
            false
        }
    }

    /// `clusterSetNodeAsMaster`: a node we thought a replica acts as a master.
    pub fn set_node_as_master(&mut self, id: &NodeId) {
        let Some(n) = self.nodes.get(id) else {
            return;
        };
        if n.is_master() {
            return;
        }
        if let Some(m) = n.slaveof {
            self.remove_replica(&m, id);
            if *id != self.myself {
                if let Some(n) = self.nodes.get_mut(id) {
                    n.flags |= flag::MIGRATE_TO;
                }
            }
        }
        if let Some(n) = self.nodes.get_mut(id) {
            n.flags &= !flag::SLAVE;
            n.flags |= flag::MASTER;
            n.slaveof = None;
        }
        self.do_before_sleep(todo::SAVE_CONFIG | todo::UPDATE_STATE);
    }

    /// `clusterSetMaster`: this node becomes a replica of `master` and starts replicating.
    pub fn set_master(&mut self, st: &mut NodeState, master: &NodeId) {
        let me = self.myself;
        if self.i_am_master() {
            let n = self.me_mut();
            n.flags &= !(flag::MASTER | flag::MIGRATE_TO);
            n.flags |= flag::SLAVE;
            self.close_all_slots();
        } else if let Some(old) = self.my_master() {
            self.remove_replica(&old, &me);
        }
        self.me_mut().slaveof = Some(*master);
        self.add_replica(master, &me);
        if let Some(m) = self.nodes.get(master) {
            if m.has_addr() && !m.ip.is_empty() {
                let (ip, port) = (m.ip.clone(), m.port);
                replication_set_master(st, ip, port);
            }
        }
        self.reset_manual_failover(st);
    }

    /// `resetManualFailover`: clears the manual failover state (a master unpauses writes).
    pub fn reset_manual_failover(&mut self, st: &mut NodeState) {
        if self.mf_slave.is_some() {
            st.pause = None;
        }
        self.mf_end = 0;
        self.mf_can_start = false;
        self.mf_slave = None;
        self.mf_master_offset = -1;
    }

    /// Number of keys in `slot` (db 0).
    pub fn keys_in_slot(st: &NodeState, slot: usize) -> usize {
        st.dbs[0].count_in_slot(slot as u16)
    }

    /// The masters and replicas that serve `id`'s slots (`clusterGetNodesServingMySlots`).
    pub fn nodes_serving_slots_of(&self, id: &NodeId) -> Vec<NodeId> {
        let Some(primary) = self.primary_of(id) else {
            return Vec::new();
        };
        let mut out = vec![primary];
        if let Some(p) = self.nodes.get(&primary) {
            out.extend(p.replicas.iter().copied());
        }
        out
    }
}

/// Makes the node replicate `ip:port` (`replicationSetMaster`), unless it already does.
pub fn replication_set_master(st: &mut NodeState, ip: String, port: u16) {
    let same = st
        .repl
        .master
        .as_ref()
        .is_some_and(|m| m.host == ip && m.port == port);
    if same {
        return;
    }
    st.become_replica(ip, port);
    // The cluster configuration, not `replicaof`, says whom a cluster node replicates.
    st.config.replicaof = None;
}

/// `removeChannelsInSlot`: shard channels of `slot` lose their subscribers, each told with a
/// `sunsubscribe` message.
pub fn remove_channels_in_slot(st: &mut NodeState, slot: u16) {
    let channels: Vec<Bytes> = st
        .pubsub
        .shard_channels
        .keys()
        .filter(|ch| rediscover::slot::key_slot(ch) == slot)
        .cloned()
        .collect();
    for ch in channels {
        let subs: Vec<(crate::keyspace::ClientId, crate::pubsub::Subscriber)> = st
            .pubsub
            .shard_channels
            .get(&ch)
            .map(|m| m.iter().map(|(id, s)| (*id, s.clone())).collect())
            .unwrap_or_default();
        for (id, sub) in subs {
            st.pubsub.remove(crate::pubsub::Kind::Shard, &ch, id);
            let left = st.pubsub.shard_count(id) as i64;
            let resp3 = st.clients.get(&id).map_or(sub.resp3, |e| e.resp == 3);
            let mut out = rediscover::resp::ReplyWriter::new(resp3);
            out.push(3);
            out.bulk(b"sunsubscribe");
            out.bulk(&ch);
            out.int(left);
            let _ = sub.tx.send(out.take().freeze());
        }
    }
}
