//! `redis-cli --cluster check` and `fix`: configuration agreement, open slots, slot coverage,
//! and (on request) slots with several owners; fixing them as redis-cli does.

use std::collections::BTreeSet;
use std::fmt;

use super::migrate::{MoveFlags, MoveOptions};
use super::nodes::ClusterView;
use super::{slot_ranges, AdminError, ClusterAdmin, Result, Rng, SLOTS};
use crate::resp::Frame;

/// A problem [`ClusterAdmin::check`] found. `Display` gives redis-cli's message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Finding {
    /// The nodes' views of who serves which slots differ.
    ConfigDisagreement,
    /// A node has slots in migrating state.
    Migrating {
        /// The node's address.
        node: String,
        /// The slots.
        slots: Vec<u16>,
    },
    /// A node has slots in importing state.
    Importing {
        /// The node's address.
        node: String,
        /// The slots.
        slots: Vec<u16>,
    },
    /// Some slots are served by no reachable master.
    Uncovered {
        /// The slots.
        slots: BTreeSet<u16>,
    },
    /// A slot is claimed by, or has keys on, several masters (only looked for with
    /// [`CheckOptions::search_multiple_owners`]).
    MultipleOwners {
        /// The slot.
        slot: u16,
        /// The masters' addresses.
        owners: Vec<String>,
    },
}

fn join(slots: &[u16]) -> String {
    slots
        .iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Finding::ConfigDisagreement => {
                write!(f, "[ERR] Nodes don't agree about configuration!")
            }
            Finding::Migrating { node, slots } => write!(
                f,
                "[WARNING] Node {node} has slots in migrating state {}.",
                join(slots)
            ),
            Finding::Importing { node, slots } => write!(
                f,
                "[WARNING] Node {node} has slots in importing state {}.",
                join(slots)
            ),
            Finding::Uncovered { slots } => write!(
                f,
                "[ERR] Not all {SLOTS} slots are covered by nodes (uncovered: {}).",
                slot_ranges(slots)
            ),
            Finding::MultipleOwners { slot, owners } => write!(
                f,
                "[WARNING] Slot {slot} has {} owners: {}",
                owners.len(),
                owners.join(", ")
            ),
        }
    }
}

/// Options for [`ClusterAdmin::check`].
#[derive(Debug, Clone, Default)]
pub struct CheckOptions {
    search_multiple_owners: bool,
}

impl CheckOptions {
    /// Also look for slots claimed by, or holding keys on, several masters
    /// (`--cluster-search-multiple-owners`; one `COUNTKEYSINSLOT` per slot and master).
    pub fn search_multiple_owners(mut self, yes: bool) -> Self {
        self.search_multiple_owners = yes;
        self
    }
}

/// What [`ClusterAdmin::check`] found.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct CheckReport {
    /// The problems, in redis-cli's order.
    pub findings: Vec<Finding>,
    /// Slots open (migrating or importing) on some node.
    pub open_slots: BTreeSet<u16>,
    /// Slots served by some reachable master.
    pub covered_slots: usize,
    /// Masters the seed knows that could not be loaded.
    pub unreachable_masters: usize,
}

impl CheckReport {
    /// Whether nothing was found.
    pub fn is_ok(&self) -> bool {
        self.findings.is_empty()
    }
}

/// Options for [`ClusterAdmin::fix`].
#[derive(Debug, Clone, Default)]
pub struct FixOptions {
    check: CheckOptions,
    with_unreachable_masters: bool,
    moves: MoveOptions,
}

impl FixOptions {
    /// Also fix slots with several owners ([`CheckOptions::search_multiple_owners`]).
    pub fn search_multiple_owners(mut self, yes: bool) -> Self {
        self.check = self.check.search_multiple_owners(yes);
        self
    }

    /// Fix even though some masters are unreachable (`--cluster-fix-with-unreachable-masters`):
    /// their slots count as uncovered and are given to reachable masters, which can lose data.
    pub fn fix_with_unreachable_masters(mut self, yes: bool) -> Self {
        self.with_unreachable_masters = yes;
        self
    }

    /// How keys are moved.
    pub fn moves(mut self, moves: MoveOptions) -> Self {
        self.moves = moves;
        self
    }
}

/// What [`ClusterAdmin::fix`] did.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct FixReport {
    /// The check before fixing.
    pub before: CheckReport,
    /// What was done, one line per action, in order (also logged).
    pub actions: Vec<String>,
    /// The check after fixing.
    pub after: CheckReport,
}

impl ClusterAdmin {
    /// Checks the cluster that `seed` (`host:port`) belongs to, as `redis-cli --cluster check`
    /// does: do all nodes agree on the slots configuration, are slots open (migrating or
    /// importing) anywhere, are all 16384 slots covered.
    pub async fn check(&self, seed: &str) -> Result<CheckReport> {
        self.check_with(seed, &CheckOptions::default()).await
    }

    /// [`ClusterAdmin::check`] with options.
    pub async fn check_with(&self, seed: &str, options: &CheckOptions) -> Result<CheckReport> {
        let view = self.load(seed).await?;
        self.check_view(&view, options.search_multiple_owners).await
    }

    pub(crate) async fn check_view(
        &self,
        view: &ClusterView,
        multiple_owners: bool,
    ) -> Result<CheckReport> {
        let mut report = CheckReport {
            unreachable_masters: view.unreachable_masters,
            ..CheckReport::default()
        };
        if !self.config_consistent(&view.nodes).await? {
            report.findings.push(Finding::ConfigDisagreement);
        }
        for n in &view.nodes {
            if !n.info.migrating.is_empty() {
                let slots: Vec<u16> = n.info.migrating.iter().map(|(s, _)| *s).collect();
                report.open_slots.extend(&slots);
                report.findings.push(Finding::Migrating {
                    node: n.addr(),
                    slots,
                });
            }
            if !n.info.importing.is_empty() {
                let slots: Vec<u16> = n.info.importing.iter().map(|(s, _)| *s).collect();
                report.open_slots.extend(&slots);
                report.findings.push(Finding::Importing {
                    node: n.addr(),
                    slots,
                });
            }
        }
        let covered: BTreeSet<u16> = view
            .nodes
            .iter()
            .flat_map(|n| n.info.slots.iter().copied())
            .collect();
        report.covered_slots = covered.len();
        if covered.len() != SLOTS {
            let slots = (0..SLOTS as u16).filter(|s| !covered.contains(s)).collect();
            report.findings.push(Finding::Uncovered { slots });
        }
        if multiple_owners {
            for (slot, owners) in self.multiple_owners(view).await? {
                report.findings.push(Finding::MultipleOwners {
                    slot,
                    owners: owners.iter().map(|&i| view.nodes[i].addr()).collect(),
                });
            }
        }
        Ok(report)
    }

    /// Slots claimed by, or holding keys on, more than one master.
    async fn multiple_owners(&self, view: &ClusterView) -> Result<Vec<(u16, Vec<usize>)>> {
        let mut out = Vec::new();
        for slot in 0..SLOTS as u16 {
            let owners = self.owners(view, slot).await?;
            if owners.len() > 1 {
                out.push((slot, owners));
            }
        }
        Ok(out)
    }

    /// Masters that serve `slot` or hold keys of it.
    async fn owners(&self, view: &ClusterView, slot: u16) -> Result<Vec<usize>> {
        let mut owners = Vec::new();
        for (i, n) in view.nodes.iter().enumerate() {
            if n.info.has_flag("slave") {
                continue;
            }
            if n.info.slots.contains(&slot) || n.count_keys(slot).await? > 0 {
                owners.push(i);
            }
        }
        Ok(owners)
    }

    /// Fixes what [`ClusterAdmin::check`] finds, as `redis-cli --cluster fix --cluster-yes`
    /// does: open slots first (finishing or closing each migration where its keys are), then
    /// uncovered slots (given to the master holding their keys, or to a random master), then,
    /// if asked, slots with several owners.
    pub async fn fix(&self, seed: &str, options: &FixOptions) -> Result<FixReport> {
        let mut view = self.load(seed).await?;
        let before = self
            .check_view(&view, options.check.search_multiple_owners)
            .await?;
        let mut actions = Vec::new();
        let needs_fix = !before.open_slots.is_empty()
            || before.covered_slots != SLOTS
            || before
                .findings
                .iter()
                .any(|f| matches!(f, Finding::MultipleOwners { .. }));
        if needs_fix && view.unreachable_masters > 0 && !options.with_unreachable_masters {
            return Err(AdminError::UnreachableMasters(view.unreachable_masters));
        }
        for &slot in &before.open_slots {
            self.fix_open_slot(&mut view, slot, &options.moves, &mut actions)
                .await?;
        }
        let covered: BTreeSet<u16> = view
            .nodes
            .iter()
            .flat_map(|n| n.info.slots.iter().copied())
            .collect();
        if covered.len() != SLOTS {
            let uncovered: Vec<u16> = (0..SLOTS as u16).filter(|s| !covered.contains(s)).collect();
            self.fix_coverage(&mut view, &uncovered, &options.moves, &mut actions)
                .await?;
        }
        if options.check.search_multiple_owners {
            self.reload(&mut view).await?;
            for (slot, owners) in self.multiple_owners(&view).await? {
                self.fix_multiple_owners(&view, slot, &owners, &options.moves, &mut actions)
                    .await?;
            }
        }
        drop(view);
        let after = self.check_with(seed, &options.check).await?;
        Ok(FixReport {
            before,
            actions,
            after,
        })
    }

    /// `MULTI`, `DELSLOTS`, `ADDSLOTS`, [`SETSLOT STABLE`], `BUMPEPOCH`, `EXEC` on the new
    /// owner: only a failed `ADDSLOTS` is an error (redis-cli's `clusterManagerSetSlotOwner`).
    async fn set_slot_owner(
        &self,
        view: &ClusterView,
        owner: usize,
        slot: u16,
        clear: bool,
    ) -> Result<()> {
        let node = &view.nodes[owner];
        let s = slot.to_string();
        let mut pipe = crate::Pipeline::new();
        pipe.cmd("MULTI");
        pipe.cmd("CLUSTER").arg("DELSLOTS").arg(&s);
        pipe.cmd("CLUSTER").arg("ADDSLOTS").arg(&s);
        if clear {
            pipe.cmd("CLUSTER").arg("SETSLOT").arg(&s).arg("STABLE");
        }
        pipe.cmd("CLUSTER").arg("BUMPEPOCH");
        pipe.cmd("EXEC");
        let replies = crate::Execute::send_pipeline(&node.conn, &pipe)
            .await
            .map_err(|source| AdminError::Connection {
                addr: node.addr(),
                source,
            })?;
        let failed = |reply: String| AdminError::Command {
            addr: node.addr(),
            command: "CLUSTER ADDSLOTS".into(),
            reply,
        };
        match replies.last() {
            Some(Frame::Array(results)) => match results.get(1) {
                Some(Frame::Error(e)) | Some(Frame::BulkError(e)) => {
                    Err(failed(String::from_utf8_lossy(e).into_owned()))
                }
                _ => Ok(()),
            },
            Some(Frame::Error(e)) => Err(failed(String::from_utf8_lossy(e).into_owned())),
            other => Err(failed(format!("unexpected EXEC reply {other:?}"))),
        }
    }

    /// `CLUSTER DELSLOTS`, where an error about a slot that nobody serves is fine.
    async fn del_slot(&self, view: &ClusterView, i: usize, slot: u16) -> Result<()> {
        let node = &view.nodes[i];
        match node.call(&["CLUSTER", "DELSLOTS", &slot.to_string()]).await {
            Ok(_) => Ok(()),
            Err(e @ AdminError::Command { .. }) => {
                let text = node.call_text(&["CLUSTER", "NODES"]).await?;
                let lines = super::nodes::parse_nodes(&text).unwrap_or_default();
                if lines.iter().any(|l| l.info.slots.contains(&slot)) {
                    Err(e)
                } else {
                    Ok(())
                }
            }
            Err(e) => Err(e),
        }
    }

    /// The master (among `candidates`) holding the most keys of `slot`.
    async fn most_keys(
        &self,
        view: &ClusterView,
        candidates: &[usize],
        slot: u16,
    ) -> Result<Option<usize>> {
        let mut best: Option<(usize, i64)> = None;
        for &i in candidates {
            if !view.nodes[i].info.is_master() {
                continue;
            }
            let n = view.nodes[i].count_keys(slot).await?;
            if best.map_or(true, |(_, b)| n > b) {
                best = Some((i, n));
            }
        }
        Ok(best.map(|(i, _)| i))
    }

    /// redis-cli's `clusterManagerFixOpenSlot`.
    async fn fix_open_slot(
        &self,
        view: &mut ClusterView,
        slot: u16,
        moves: &MoveOptions,
        actions: &mut Vec<String>,
    ) -> Result<()> {
        let mut log = |line: String| {
            tracing::info!(target: "rediscover::cluster::admin", "{line}");
            actions.push(line);
        };
        log(format!("Fixing open slot {slot}"));
        let masters: Vec<usize> = (0..view.nodes.len())
            .filter(|&i| !view.nodes[i].info.has_flag("slave"))
            .collect();
        // Nodes claiming the slot, or holding keys of it.
        let mut owners = Vec::new();
        for &i in &masters {
            if view.nodes[i].info.slots.contains(&slot) || view.nodes[i].count_keys(slot).await? > 0
            {
                owners.push(i);
            }
        }
        let mut owner = (owners.len() == 1).then(|| owners[0]);
        let mut migrating = Vec::new();
        let mut importing = Vec::new();
        for &i in &masters {
            let info = &view.nodes[i].info;
            if info.migrating.iter().any(|(s, _)| *s == slot) {
                migrating.push(i);
            } else if info.importing.iter().any(|(s, _)| *s == slot) {
                importing.push(i);
            } else if Some(i) != owner && view.nodes[i].count_keys(slot).await? > 0 {
                log(format!(
                    "Found keys about slot {slot} in node {}",
                    view.nodes[i].addr()
                ));
                importing.push(i);
            }
        }
        let addrs = |v: &[usize], view: &ClusterView| -> Vec<String> {
            v.iter().map(|&i| view.nodes[i].addr()).collect()
        };
        if owner.is_none() {
            let Some(o) = self.most_keys(view, &masters, slot).await? else {
                return Err(AdminError::UnfixableSlot {
                    slot,
                    migrating: addrs(&migrating, view),
                    importing: addrs(&importing, view),
                    owner: None,
                });
            };
            log(format!(
                "No single clear owner for slot {slot}: configuring {} as the owner",
                view.nodes[o].addr()
            ));
            view.nodes[o].setslot(slot, "STABLE", None).await?;
            self.set_slot_owner(view, o, slot, false).await?;
            view.nodes[o].info.slots.insert(slot);
            migrating.retain(|&i| i != o);
            importing.retain(|&i| i != o);
            owner = Some(o);
        }
        let owner = owner.expect("set above");
        let owner_id = view.nodes[owner].info.id.clone();
        if owners.len() > 1 {
            for &i in &owners {
                if i == owner {
                    continue;
                }
                self.del_slot(view, i, slot).await?;
                view.nodes[i].info.slots.remove(&slot);
                view.nodes[i].setslot(slot, "NODE", Some(&owner_id)).await?;
                view.nodes[i]
                    .setslot(slot, "IMPORTING", Some(&owner_id))
                    .await?;
                importing.retain(|&j| j != i);
                importing.push(i);
                migrating.retain(|&j| j != i);
            }
        }
        if migrating.len() == 1 && importing.len() == 1 {
            let (src, dst) = (migrating[0], importing[0]);
            log(format!(
                "Case 1: moving slot {slot} from {} to {}",
                view.nodes[src].addr(),
                view.nodes[dst].addr()
            ));
            let flags = MoveFlags {
                fix: true,
                ..MoveFlags::default()
            };
            self.move_slot_at(view, slot, src, dst, moves, flags)
                .await?;
            view.nodes[src].info.slots.remove(&slot);
            view.nodes[dst].info.slots.insert(slot);
        } else if migrating.is_empty() && !importing.is_empty() {
            log(format!(
                "Case 2: moving all the slot {slot} keys to its owner {}",
                view.nodes[owner].addr()
            ));
            let flags = MoveFlags {
                cold: true,
                fix: true,
            };
            for &i in &importing {
                if i == owner {
                    continue;
                }
                self.move_slot_at(view, slot, i, owner, moves, flags)
                    .await?;
                log(format!(
                    "Setting slot {slot} as STABLE in {}",
                    view.nodes[i].addr()
                ));
                view.nodes[i].setslot(slot, "STABLE", None).await?;
            }
            for &i in &masters {
                if i != owner {
                    view.nodes[i].setslot(slot, "NODE", Some(&owner_id)).await?;
                }
            }
        } else if migrating.len() == 1 && importing.len() > 1 {
            let src = migrating[0];
            let target_id = view.nodes[src]
                .info
                .migrating
                .iter()
                .find(|(s, _)| *s == slot)
                .map(|(_, id)| id.clone())
                .unwrap_or_default();
            let mut dst = None;
            for &i in &importing {
                if view.nodes[i].count_keys(slot).await? > 0 {
                    return Err(AdminError::UnfixableSlot {
                        slot,
                        migrating: addrs(&migrating, view),
                        importing: addrs(&importing, view),
                        owner: Some(view.nodes[owner].addr()),
                    });
                }
                if view.nodes[i].info.id == target_id {
                    dst = Some(i);
                }
            }
            match dst {
                Some(dst) => {
                    log(format!(
                        "Case 3: moving slot {slot} from {} to {} and closing it on all the \
                         other importing nodes",
                        view.nodes[src].addr(),
                        view.nodes[dst].addr()
                    ));
                    let flags = MoveFlags {
                        fix: true,
                        ..MoveFlags::default()
                    };
                    self.move_slot_at(view, slot, src, dst, moves, flags)
                        .await?;
                    for &i in &importing {
                        if i != dst {
                            view.nodes[i].setslot(slot, "STABLE", None).await?;
                        }
                    }
                }
                None => {
                    log(format!(
                        "Case 3: closing slot {slot} on both migrating and importing nodes"
                    ));
                    view.nodes[src].setslot(slot, "STABLE", None).await?;
                    for &i in &importing {
                        view.nodes[i].setslot(slot, "STABLE", None).await?;
                    }
                }
            }
        } else {
            let mut close = importing.is_empty() && migrating.len() == 1;
            if close && owner != migrating[0] {
                let keys = view.nodes[migrating[0]]
                    .call_keys(&["CLUSTER", "GETKEYSINSLOT", &slot.to_string(), "10"])
                    .await?;
                close = keys.is_empty();
            }
            if close {
                let n = migrating[0];
                log(format!(
                    "Case 4: closing slot {slot} on {}",
                    view.nodes[n].addr()
                ));
                view.nodes[n].setslot(slot, "STABLE", None).await?;
            } else {
                return Err(AdminError::UnfixableSlot {
                    slot,
                    migrating: addrs(&migrating, view),
                    importing: addrs(&importing, view),
                    owner: Some(view.nodes[owner].addr()),
                });
            }
        }
        Ok(())
    }

    /// redis-cli's `clusterManagerFixSlotsCoverage`.
    async fn fix_coverage(
        &self,
        view: &mut ClusterView,
        uncovered: &[u16],
        moves: &MoveOptions,
        actions: &mut Vec<String>,
    ) -> Result<()> {
        let mut log = |line: String| {
            tracing::info!(target: "rediscover::cluster::admin", "{line}");
            actions.push(line);
        };
        let masters: Vec<usize> = (0..view.nodes.len())
            .filter(|&i| view.nodes[i].info.is_master())
            .collect();
        // Which masters hold keys of each uncovered slot.
        let mut holders: Vec<(u16, Vec<usize>)> = Vec::new();
        for &slot in uncovered {
            let mut with_keys = Vec::new();
            for &i in &masters {
                let keys = view.nodes[i]
                    .call_keys(&["CLUSTER", "GETKEYSINSLOT", &slot.to_string(), "1"])
                    .await?;
                if !keys.is_empty() {
                    with_keys.push(i);
                }
            }
            holders.push((slot, with_keys));
        }
        let mut rng = Rng::new();
        // No keys anywhere: a random master.
        for (slot, _) in holders.iter().filter(|(_, h)| h.is_empty()) {
            if masters.is_empty() {
                break;
            }
            let n = masters[rng.below(masters.len())];
            log(format!(
                "Covering slot {slot} with {}",
                view.nodes[n].addr()
            ));
            self.set_slot_owner(view, n, *slot, false).await?;
            view.nodes[n].info.slots.insert(*slot);
        }
        // Keys on one master: that one.
        for (slot, h) in holders.iter().filter(|(_, h)| h.len() == 1) {
            let n = h[0];
            log(format!(
                "Covering slot {slot} with {}",
                view.nodes[n].addr()
            ));
            self.set_slot_owner(view, n, *slot, false).await?;
            view.nodes[n].info.slots.insert(*slot);
        }
        // Keys on several masters: the one with most keys, and the others' keys moved there.
        for (slot, h) in holders.iter().filter(|(_, h)| h.len() > 1) {
            let slot = *slot;
            let Some(target) = self.most_keys(view, h, slot).await? else {
                continue;
            };
            log(format!(
                "Covering slot {slot} moving keys to {}",
                view.nodes[target].addr()
            ));
            self.set_slot_owner(view, target, slot, true).await?;
            view.nodes[target].info.slots.insert(slot);
            let target_id = view.nodes[target].info.id.clone();
            for &src in h {
                if src == target {
                    continue;
                }
                view.nodes[src]
                    .setslot(slot, "NODE", Some(&target_id))
                    .await?;
                // Importing, so that MIGRATE is not redirected.
                view.nodes[src]
                    .setslot(slot, "IMPORTING", Some(&target_id))
                    .await?;
                let flags = MoveFlags {
                    cold: true,
                    fix: true,
                };
                self.move_slot_at(view, slot, src, target, moves, flags)
                    .await?;
                view.nodes[src].setslot(slot, "STABLE", None).await?;
            }
        }
        Ok(())
    }

    /// redis-cli's `clusterManagerFixMultipleSlotOwners`.
    async fn fix_multiple_owners(
        &self,
        view: &ClusterView,
        slot: u16,
        owners: &[usize],
        moves: &MoveOptions,
        actions: &mut Vec<String>,
    ) -> Result<()> {
        let owner = match self.most_keys(view, owners, slot).await? {
            Some(o) => o,
            None => owners[0],
        };
        let line = format!(
            "Fixing multiple owners for slot {slot}: owner {}",
            view.nodes[owner].addr()
        );
        tracing::info!(target: "rediscover::cluster::admin", "{line}");
        actions.push(line);
        self.set_slot_owner(view, owner, slot, false).await?;
        let owner_id = view.nodes[owner].info.id.clone();
        for i in 0..view.nodes.len() {
            if i == owner || view.nodes[i].info.has_flag("slave") {
                continue;
            }
            let count = view.nodes[i].count_keys(slot).await?;
            self.del_slot(view, i, slot).await?;
            view.nodes[i].setslot(slot, "NODE", Some(&owner_id)).await?;
            if count > 0 {
                let flags = MoveFlags {
                    cold: true,
                    fix: true,
                };
                self.move_slot_at(view, slot, i, owner, moves, flags)
                    .await?;
            }
        }
        Ok(())
    }
}
