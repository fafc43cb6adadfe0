//! Moving slots: one slot key by key (`clusterManagerMoveSlot`), `reshard` and `rebalance`.

use super::nodes::ClusterView;
use super::{AdminError, ClusterAdmin, Node, Result, SLOTS};
use crate::resp::Frame;

/// How slots are moved: keys per `MIGRATE`, its timeout, and what to do with keys that exist
/// on the target already.
#[derive(Debug, Clone)]
pub struct MoveOptions {
    pub(crate) pipeline: usize,
    pub(crate) timeout_ms: u64,
    pub(crate) replace: bool,
}

impl Default for MoveOptions {
    fn default() -> Self {
        MoveOptions {
            pipeline: 10,
            timeout_ms: 60000,
            replace: false,
        }
    }
}

impl MoveOptions {
    /// Keys per `CLUSTER GETKEYSINSLOT` / `MIGRATE ... KEYS` batch (`--cluster-pipeline`,
    /// default 10).
    pub fn pipeline(mut self, keys: usize) -> Self {
        self.pipeline = keys.max(1);
        self
    }

    /// `MIGRATE`'s timeout in milliseconds (`--cluster-timeout`, default 60000).
    pub fn timeout_ms(mut self, ms: u64) -> Self {
        self.timeout_ms = ms;
        self
    }

    /// Overwrite keys that exist on the target with other values (`--cluster-replace`).
    /// Without it, a key present on both sides with the same value is replaced, and one with
    /// different values stops the move with [`AdminError::KeyConflict`].
    pub fn replace(mut self, replace: bool) -> Self {
        self.replace = replace;
        self
    }
}

/// Flags of one slot move, as redis-cli's `CLUSTER_MANAGER_OPT_*`.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct MoveFlags {
    /// Move the keys only: no IMPORTING/MIGRATING before, no SETSLOT NODE after.
    pub(crate) cold: bool,
    /// Called by fix: an unserved slot is given to the target.
    pub(crate) fix: bool,
}

impl ClusterAdmin {
    /// Opens the migration of `slot` from `source` to `target` (node ids): `SETSLOT
    /// IMPORTING` on the target, then `SETSLOT MIGRATING` on the source. From here clients
    /// get `ASK` for the slot's keys that already moved.
    pub async fn open_slot(
        &self,
        view: &ClusterView,
        slot: u16,
        source: &str,
        target: &str,
    ) -> Result<()> {
        let (s, t) = (view.index(source)?, view.index(target)?);
        view.nodes[t]
            .setslot(slot, "IMPORTING", Some(source))
            .await?;
        view.nodes[s]
            .setslot(slot, "MIGRATING", Some(target))
            .await?;
        Ok(())
    }

    /// Moves every key of `slot` from `source` to `target` with `MIGRATE ... KEYS`, in batches
    /// of [`MoveOptions::pipeline`] keys, and returns how many moved. The slot should be open
    /// ([`ClusterAdmin::open_slot`]).
    pub async fn migrate_slot_keys(
        &self,
        view: &ClusterView,
        slot: u16,
        source: &str,
        target: &str,
        options: &MoveOptions,
    ) -> Result<usize> {
        let (s, t) = (view.index(source)?, view.index(target)?);
        self.migrate_keys(view, slot, s, t, options, false).await
    }

    /// Closes the migration of `slot`: `SETSLOT NODE <target>` on the target first (so that a
    /// crash cannot leave the slot without an owner), then on the source, then on every other
    /// master, as redis-cli does.
    pub async fn close_slot(
        &self,
        view: &ClusterView,
        slot: u16,
        source: &str,
        target: &str,
    ) -> Result<()> {
        let (s, t) = (view.index(source)?, view.index(target)?);
        self.finish(view, slot, s, t).await
    }

    /// Moves `slot` with its keys from `source` to `target` (node ids), as `redis-cli
    /// --cluster reshard` moves each slot: open, migrate the keys, close. Returns how many keys
    /// moved.
    pub async fn move_slot(
        &self,
        view: &ClusterView,
        slot: u16,
        source: &str,
        target: &str,
        options: &MoveOptions,
    ) -> Result<usize> {
        let (s, t) = (view.index(source)?, view.index(target)?);
        self.move_slot_at(view, slot, s, t, options, MoveFlags::default())
            .await
    }

    pub(crate) async fn move_slot_at(
        &self,
        view: &ClusterView,
        slot: u16,
        s: usize,
        t: usize,
        options: &MoveOptions,
        flags: MoveFlags,
    ) -> Result<usize> {
        let (source, target) = (&view.nodes[s], &view.nodes[t]);
        tracing::debug!(
            target: "rediscover::cluster::admin",
            "moving slot {slot} from {} to {}", source.addr(), target.addr()
        );
        if !flags.cold {
            target
                .setslot(slot, "IMPORTING", Some(&source.info.id))
                .await?;
            source
                .setslot(slot, "MIGRATING", Some(&target.info.id))
                .await?;
        }
        let moved = self
            .migrate_keys(view, slot, s, t, options, flags.fix)
            .await?;
        if !flags.cold {
            self.finish(view, slot, s, t).await?;
        }
        Ok(moved)
    }

    async fn finish(&self, view: &ClusterView, slot: u16, s: usize, t: usize) -> Result<()> {
        let (source, target) = (&view.nodes[s], &view.nodes[t]);
        let id = target.info.id.clone();
        target.setslot(slot, "NODE", Some(&id)).await?;
        // A source that just lost its last slot to a target that told it first has turned
        // into a replica of it: not an error (redis issue #9223).
        if let Err(e) = source.setslot(slot, "NODE", Some(&id)).await {
            match &e {
                AdminError::Command { reply, .. }
                    if reply.starts_with("ERR Please use SETSLOT only with masters.") => {}
                _ => return Err(e),
            }
        }
        for (i, n) in view.nodes.iter().enumerate() {
            if i == s || i == t || n.info.has_flag("slave") {
                continue;
            }
            n.setslot(slot, "NODE", Some(&id)).await?;
        }
        Ok(())
    }

    async fn migrate_keys(
        &self,
        view: &ClusterView,
        slot: u16,
        s: usize,
        t: usize,
        options: &MoveOptions,
        fix: bool,
    ) -> Result<usize> {
        let (source, target) = (&view.nodes[s], &view.nodes[t]);
        let (slot_s, batch) = (slot.to_string(), options.pipeline.to_string());
        let mut moved = 0;
        loop {
            let keys = source
                .call_keys(&["CLUSTER", "GETKEYSINSLOT", &slot_s, &batch])
                .await?;
            if keys.is_empty() {
                return Ok(moved);
            }
            let first = source
                .call(&self.migrate_args(target, &keys, false, options))
                .await;
            let Err(err) = first else {
                moved += keys.len();
                continue;
            };
            let AdminError::Command { reply, .. } = &err else {
                return Err(err);
            };
            let busy = reply.contains("BUSYKEY");
            let not_served = !busy && !self.slot_served(source, slot).await?;
            if !busy && !not_served {
                return Err(err);
            }
            if fix && not_served {
                tracing::warn!(
                    target: "rediscover::cluster::admin",
                    "slot {slot} was not served, setting its owner to {}", target.addr()
                );
                // redis-cli ignores the outcome here.
                let _ = source.setslot(slot, "NODE", Some(&target.info.id)).await;
            }
            if busy && !options.replace {
                let diffs = differing_keys(source, target, &keys).await?;
                if !diffs.is_empty() {
                    return Err(AdminError::KeyConflict {
                        slot,
                        source_node: source.addr(),
                        target_node: target.addr(),
                        keys: diffs,
                    });
                }
            }
            source
                .call(&self.migrate_args(target, &keys, busy, options))
                .await?;
            moved += keys.len();
        }
    }

    /// `MIGRATE host port "" 0 timeout [REPLACE] [AUTH pw | AUTH2 user pw] KEYS k...`.
    fn migrate_args(
        &self,
        target: &Node,
        keys: &[bytes::Bytes],
        replace: bool,
        options: &MoveOptions,
    ) -> Vec<Vec<u8>> {
        let mut args: Vec<Vec<u8>> = vec![
            b"MIGRATE".to_vec(),
            target.info.host.as_bytes().to_vec(),
            target.info.port.to_string().into_bytes(),
            Vec::new(),
            b"0".to_vec(),
            options.timeout_ms.to_string().into_bytes(),
        ];
        if replace {
            args.push(b"REPLACE".to_vec());
        }
        if let Some(pw) = self.base.get_password() {
            match self.base.get_username() {
                Some(user) => {
                    args.push(b"AUTH2".to_vec());
                    args.push(user.as_bytes().to_vec());
                }
                None => args.push(b"AUTH".to_vec()),
            }
            args.push(pw.as_bytes().to_vec());
        }
        args.push(b"KEYS".to_vec());
        args.extend(keys.iter().map(|k| k.to_vec()));
        args
    }

    /// Whether `node` sees `slot` served by some node (`CLUSTER SLOTS`).
    async fn slot_served(&self, node: &Node, slot: u16) -> Result<bool> {
        let Frame::Array(ranges) = node.call(&["CLUSTER", "SLOTS"]).await? else {
            return Ok(false);
        };
        Ok(ranges.iter().any(|r| match r {
            Frame::Array(r) => matches!(
                (r.first(), r.get(1)),
                (Some(Frame::Integer(a)), Some(Frame::Integer(b)))
                    if *a <= i64::from(slot) && i64::from(slot) <= *b
            ),
            _ => false,
        }))
    }
}

/// The keys whose values differ between `a` and `b` (`DEBUG DIGEST-VALUE`), as redis-cli
/// checks them before replacing keys that exist on both sides.
async fn differing_keys(a: &Node, b: &Node, keys: &[bytes::Bytes]) -> Result<Vec<String>> {
    let mut args: Vec<&[u8]> = vec![b"DEBUG", b"DIGEST-VALUE"];
    args.extend(keys.iter().map(|k| k.as_ref()));
    let (da, db) = (a.call(&args).await?, b.call(&args).await?);
    let (Frame::Array(da), Frame::Array(db)) = (da, db) else {
        return Err(a.bad_reply(&args, "DEBUG DIGEST-VALUE: not an array".into()));
    };
    const ZERO: &[u8] = b"0000000000000000000000000000000000000000";
    let digest = |f: Option<&Frame>| match f {
        Some(Frame::Bulk(b)) | Some(Frame::Simple(b)) => b.to_vec(),
        _ => Vec::new(),
    };
    let mut out = Vec::new();
    for (i, k) in keys.iter().enumerate() {
        let (x, y) = (digest(da.get(i)), digest(db.get(i)));
        if x != ZERO && y != ZERO && x != y {
            out.push(String::from_utf8_lossy(k).into_owned());
        }
    }
    Ok(out)
}

/// Where [`ClusterAdmin::reshard`] takes slots from.
#[derive(Debug, Clone)]
pub enum Sources {
    /// Every master but the target (`--cluster-from all`).
    All,
    /// These masters (node ids).
    Nodes(Vec<String>),
}

/// Options for [`ClusterAdmin::reshard`] (`redis-cli --cluster reshard --cluster-yes`).
#[derive(Debug, Clone)]
pub struct ReshardOptions {
    slots: usize,
    from: Sources,
    to: String,
    moves: MoveOptions,
}

impl ReshardOptions {
    /// Move `slots` slots from `from` to the master `to` (a node id).
    pub fn new(slots: usize, from: Sources, to: impl Into<String>) -> Self {
        ReshardOptions {
            slots,
            from,
            to: to.into(),
            moves: MoveOptions::default(),
        }
    }

    /// How keys are moved (batch size, timeout, replace).
    pub fn moves(mut self, moves: MoveOptions) -> Self {
        self.moves = moves;
        self
    }
}

/// What [`ClusterAdmin::reshard`] did.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ReshardReport {
    /// Each moved slot and the node id it came from, in order.
    pub moved: Vec<(u16, String)>,
    /// Keys moved with them.
    pub keys: usize,
}

/// redis-cli's `clusterManagerComputeReshardTable`: sources sorted by slot count (most first),
/// each giving its share of `numslots` (the first rounded up, the others down), lowest slots
/// first. Returns (slot, source index).
fn reshard_table(view: &ClusterView, sources: &[usize], numslots: usize) -> Vec<(u16, usize)> {
    let mut sorted = sources.to_vec();
    sorted.sort_by_key(|&i| std::cmp::Reverse(view.nodes[i].info.slots.len()));
    let total: usize = sorted.iter().map(|&i| view.nodes[i].info.slots.len()).sum();
    let mut moved = Vec::new();
    if total == 0 {
        return moved;
    }
    for (k, &i) in sorted.iter().enumerate() {
        let share = numslots as f32 / total as f32 * view.nodes[i].info.slots.len() as f32;
        let max = if k == 0 { share.ceil() } else { share.floor() } as usize;
        for (count, &slot) in view.nodes[i].info.slots.iter().enumerate() {
            if count >= max || moved.len() >= numslots {
                break;
            }
            moved.push((slot, i));
        }
    }
    moved
}

impl ClusterAdmin {
    /// Moves slots to a master, as `redis-cli --cluster reshard --cluster-yes` does: loads the
    /// cluster from `seed`, refuses if [`ClusterAdmin::check`] finds problems, computes
    /// redis-cli's plan and moves each slot with [`ClusterAdmin::move_slot`]'s sequence.
    pub async fn reshard(&self, seed: &str, options: &ReshardOptions) -> Result<ReshardReport> {
        if options.slots == 0 || options.slots > SLOTS {
            return Err(AdminError::InvalidSlotCount(options.slots));
        }
        let view = self.load(seed).await?;
        let report = self.check_view(&view, false).await?;
        if !report.is_ok() {
            return Err(AdminError::ClusterNotOk(report.findings));
        }
        let target = master_index(&view, &options.to)?;
        let sources: Vec<usize> = match &options.from {
            Sources::All => (0..view.nodes.len())
                .filter(|&i| i != target && view.nodes[i].info.is_master())
                .collect(),
            Sources::Nodes(ids) => {
                let mut out = Vec::new();
                for id in ids {
                    let i = master_index(&view, id)?;
                    if i == target {
                        return Err(AdminError::TargetIsSource(id.clone()));
                    }
                    out.push(i);
                }
                out
            }
        };
        if sources.is_empty() {
            return Err(AdminError::NoSources);
        }
        let table = reshard_table(&view, &sources, options.slots);
        let mut report = ReshardReport::default();
        for (slot, s) in table {
            report.keys += self
                .move_slot_at(&view, slot, s, target, &options.moves, MoveFlags::default())
                .await?;
            report.moved.push((slot, view.nodes[s].info.id.clone()));
        }
        Ok(report)
    }
}

/// redis-cli's rebalance plan for masters with `counts` slots and `weights`: `None` when every
/// master is within `threshold` percent of its expected count, else the moves (source index,
/// target index, number of slots) in order.
pub(crate) fn rebalance_plan(
    counts: &[usize],
    weights: &[f32],
    threshold: f32,
) -> Option<Vec<(usize, usize, usize)>> {
    let total_weight: f32 = weights.iter().sum();
    let mut balance = vec![0i64; counts.len()];
    let mut total_balance = 0i64;
    let mut over = false;
    for i in 0..counts.len() {
        let count = counts[i] as i64;
        let expected = ((SLOTS as f32 / total_weight) * weights[i]) as i64;
        balance[i] = count - expected;
        total_balance += balance[i];
        if threshold > 0.0 {
            if count > 0 {
                let err = (100.0 - (100.0 * expected as f64 / count as f64)).abs();
                over |= err > f64::from(threshold);
            } else if expected > 1 {
                over = true;
            }
        }
    }
    if !over {
        return None;
    }
    // Rounding can leave the balances summing above zero: givers must be matched.
    while total_balance > 0 {
        for b in balance.iter_mut() {
            if *b <= 0 && total_balance > 0 {
                *b -= 1;
                total_balance -= 1;
            }
        }
    }
    let mut sorted: Vec<usize> = (0..counts.len()).collect();
    sorted.sort_by_key(|&i| balance[i]);
    let mut moves = Vec::new();
    let (mut dst, mut src) = (0usize, sorted.len().saturating_sub(1));
    while dst < src {
        let (d, s) = (sorted[dst], sorted[src]);
        let n = balance[d].unsigned_abs().min(balance[s].unsigned_abs()) as usize;
        if n > 0 {
            moves.push((s, d, n));
        }
        balance[d] += n as i64;
        balance[s] -= n as i64;
        if balance[d] == 0 {
            dst += 1;
        }
        if balance[s] == 0 {
            src = src.saturating_sub(1);
        }
    }
    Some(moves)
}

fn master_index(view: &ClusterView, id: &str) -> Result<usize> {
    let i = view.index(id)?;
    if !view.nodes[i].info.is_master() {
        return Err(AdminError::NotAMaster(id.to_string()));
    }
    Ok(i)
}

/// Options for [`ClusterAdmin::rebalance`] (`redis-cli --cluster rebalance`).
#[derive(Debug, Clone)]
pub struct RebalanceOptions {
    weights: Vec<(String, f32)>,
    threshold: f32,
    use_empty_masters: bool,
    simulate: bool,
    moves: MoveOptions,
}

impl Default for RebalanceOptions {
    fn default() -> Self {
        RebalanceOptions {
            weights: Vec::new(),
            threshold: 2.0,
            use_empty_masters: false,
            simulate: false,
            moves: MoveOptions::default(),
        }
    }
}

impl RebalanceOptions {
    /// The weight of the master whose id starts with `id_prefix` (`--cluster-weight
    /// <prefix>=<weight>`; every master weighs 1 by default, 0 gives its slots away).
    pub fn weight(mut self, id_prefix: impl Into<String>, weight: f32) -> Self {
        self.weights.push((id_prefix.into(), weight));
        self
    }

    /// Rebalance only when some master is off its expected slot count by more than this
    /// percentage (`--cluster-threshold`, default 2).
    pub fn threshold(mut self, percent: f32) -> Self {
        self.threshold = percent;
        self
    }

    /// Give slots to masters that have none (`--cluster-use-empty-masters`).
    pub fn use_empty_masters(mut self, yes: bool) -> Self {
        self.use_empty_masters = yes;
        self
    }

    /// Compute the moves without making them (`--cluster-simulate`).
    pub fn simulate(mut self, yes: bool) -> Self {
        self.simulate = yes;
        self
    }

    /// How keys are moved.
    pub fn moves(mut self, moves: MoveOptions) -> Self {
        self.moves = moves;
        self
    }
}

/// What [`ClusterAdmin::rebalance`] did (or would do, when simulating).
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct RebalanceReport {
    /// `false` when every master was within the threshold: nothing moved.
    pub needed: bool,
    /// (source id, target id, number of slots), in order.
    pub moves: Vec<(String, String, usize)>,
    /// Keys moved.
    pub keys: usize,
}

impl ClusterAdmin {
    /// Evens out slots between masters according to their weights, as `redis-cli --cluster
    /// rebalance` does: each master's balance (slots it has minus slots its weight gives it)
    /// is computed, and slots move from the most over-served to the most under-served until
    /// every balance is zero. Masters without slots take part only with
    /// [`RebalanceOptions::use_empty_masters`]. Refuses if [`ClusterAdmin::check`] finds
    /// problems.
    pub async fn rebalance(
        &self,
        seed: &str,
        options: &RebalanceOptions,
    ) -> Result<RebalanceReport> {
        let mut view = self.load(seed).await?;
        let mut weights = vec![1f32; view.nodes.len()];
        for (prefix, w) in &options.weights {
            let i = view
                .by_prefix(prefix)
                .filter(|&i| view.nodes[i].info.is_master())
                .ok_or_else(|| AdminError::InvalidWeight(format!("{prefix}={w}")))?;
            weights[i] = *w;
        }
        let mut involved = Vec::new();
        for (i, n) in view.nodes.iter().enumerate() {
            if !n.info.is_master() {
                continue;
            }
            if !options.use_empty_masters && n.info.slots.is_empty() {
                weights[i] = 0.0;
                continue;
            }
            involved.push(i);
        }
        let report = self.check_view(&view, false).await?;
        if !report.is_ok() {
            return Err(AdminError::ClusterNotOk(report.findings));
        }
        let counts: Vec<usize> = involved
            .iter()
            .map(|&i| view.nodes[i].info.slots.len())
            .collect();
        let w: Vec<f32> = involved.iter().map(|&i| weights[i]).collect();
        let mut out = RebalanceReport::default();
        let Some(plan) = rebalance_plan(&counts, &w, options.threshold) else {
            tracing::info!(
                target: "rediscover::cluster::admin",
                "no rebalancing needed: all nodes are within the {:.2}% threshold",
                options.threshold
            );
            return Ok(out);
        };
        out.needed = true;
        for (src, dst, n) in plan {
            let (s, d) = (involved[src], involved[dst]);
            let table = reshard_table(&view, &[s], n);
            if table.len() != n {
                return Err(AdminError::BadReply {
                    addr: view.nodes[s].addr(),
                    command: "rebalance".into(),
                    detail: format!("planned {} slots to move instead of {n}", table.len()),
                });
            }
            if !options.simulate {
                for (slot, _) in table {
                    out.keys += self
                        .move_slot_at(&view, slot, s, d, &options.moves, MoveFlags::default())
                        .await?;
                    // redis-cli's OPT_UPDATE: the next plan sees the moved slots.
                    view.nodes[s].info.slots.remove(&slot);
                    view.nodes[d].info.slots.insert(slot);
                }
            }
            out.moves.push((
                view.nodes[s].info.id.clone(),
                view.nodes[d].info.id.clone(),
                n,
            ));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rebalance_plans_like_redis_cli() {
        // Balanced within 2%: nothing to do; with a tighter threshold, the surplus moves.
        assert_eq!(rebalance_plan(&[5491, 5431, 5462], &[1.0; 3], 2.0), None);
        assert_eq!(
            rebalance_plan(&[5491, 5431, 5462], &[1.0; 3], 0.1),
            Some(vec![(0, 1, 30), (2, 1, 1)])
        );
        // An empty fourth master takes a quarter of the slots, a little from each.
        let plan = rebalance_plan(&[5461, 5461, 5462, 0], &[1.0; 4], 2.0).unwrap();
        assert!(plan.iter().all(|&(_, d, _)| d == 3));
        assert_eq!(plan.iter().map(|m| m.2).sum::<usize>(), 4096);
        // Weights: 2,1,1,0 gives 8192, 4096, 4096, 0.
        let counts = [4096usize, 4096, 4096, 4096];
        let plan = rebalance_plan(&counts, &[2.0, 1.0, 1.0, 0.0], 2.0).unwrap();
        let mut after = counts.map(|c| c as i64);
        for (s, d, n) in plan {
            after[s] -= n as i64;
            after[d] += n as i64;
        }
        assert_eq!(after, [8192, 4096, 4096, 0]);
    }
}
