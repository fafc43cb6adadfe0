//! `redis-cli --cluster create`: slots split evenly over the masters, replicas placed for
//! anti-affinity, then ADDSLOTS, SET-CONFIG-EPOCH, MEET, REPLICATE.

use std::collections::HashMap;

use super::nodes::ClusterView;
use super::{parse_addr, AdminError, ClusterAdmin, Node, Result, Rng, SLOTS};

/// Options for [`ClusterAdmin::create`].
#[derive(Debug, Clone)]
pub struct CreateOptions {
    replicas: usize,
    min_masters: usize,
    in_order: bool,
    meet_all: bool,
}

impl Default for CreateOptions {
    fn default() -> Self {
        CreateOptions {
            replicas: 0,
            min_masters: 3,
            in_order: false,
            meet_all: false,
        }
    }
}

impl CreateOptions {
    /// Replicas per master (`--cluster-replicas`, default 0).
    pub fn replicas(mut self, n: usize) -> Self {
        self.replicas = n;
        self
    }

    /// The fewest masters accepted (default 3, as redis-cli requires; lower it for test
    /// clusters of one or two masters).
    pub fn min_masters(mut self, n: usize) -> Self {
        self.min_masters = n.max(1);
        self
    }

    /// Keep the layout in the order given instead of redis-cli's plan: the first
    /// `nodes / (replicas + 1)` nodes are the masters, in slot order, and the rest replicate
    /// them in turn (the replicas of the first master, then of the second, ...), extra
    /// nodes going to the first masters. For callers (and test clusters) that place nodes
    /// themselves; no interleaving by host, no anti-affinity swaps.
    pub fn in_order(mut self, yes: bool) -> Self {
        self.in_order = yes;
        self
    }

    /// Make every node meet every other one directly, instead of each meeting the first node
    /// and learning the rest by gossip as with redis-cli: the handshakes run in parallel, so
    /// the cluster forms sooner (test clusters, busy machines).
    pub fn meet_all(mut self, yes: bool) -> Self {
        self.meet_all = yes;
        self
    }
}

/// How well replicas are spread over hosts (redis-cli's anti-affinity score).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AntiAffinity {
    /// No replica shares a host with its master or with another replica of its master.
    Perfect,
    /// Some replicas of the same master share a host.
    ReplicasShareHost,
    /// Some replicas are on the same host as their master.
    ReplicaWithMaster,
}

/// A planned node: its host and what it replicates (by index into the plan).
struct Planned {
    host: String,
    replicate: Option<usize>,
}

/// Per master index: whether the master is on this host, and how many of its replicas are.
type Groups = HashMap<usize, (bool, usize)>;

/// redis-cli's anti-affinity score: 10000 for each replica on its master's host, 1 for each
/// replica sharing a host with another replica of the same master. Also returns, per host and
/// group, one offending replica.
fn score(plan: &[Planned], offenders: Option<&mut Vec<usize>>) -> usize {
    // host -> master index -> "m" then one "s" per replica, as redis-cli builds it.
    let mut hosts: Vec<(&str, Groups)> = Vec::new();
    for (i, n) in plan.iter().enumerate() {
        let pos = match hosts.iter().position(|(h, _)| *h == n.host) {
            Some(p) => p,
            None => {
                hosts.push((&n.host, HashMap::new()));
                hosts.len() - 1
            }
        };
        let key = n.replicate.unwrap_or(i);
        let e = hosts[pos].1.entry(key).or_insert((false, 0));
        if n.replicate.is_some() {
            e.1 += 1;
        } else {
            e.0 = true;
        }
    }
    let mut total = 0;
    let mut out = offenders;
    for (host, groups) in &hosts {
        for (master, (has_master, replicas)) in groups {
            let len = usize::from(*has_master) + replicas;
            if len < 2 {
                continue;
            }
            total += if *has_master { 10000 * (len - 1) } else { len };
            if let Some(out) = out.as_deref_mut() {
                if let Some(r) = plan
                    .iter()
                    .position(|n| n.replicate == Some(*master) && n.host == *host)
                {
                    out.push(r);
                }
            }
        }
    }
    total
}

/// redis-cli's `clusterManagerOptimizeAntiAffinity`: random swaps of masters between an
/// offending replica and another replica, kept unless they make the score worse.
fn optimize(plan: &mut [Planned], rng: &mut Rng) -> AntiAffinity {
    let mut maxiter = 500 * plan.len();
    if score(plan, None) > 0 {
        while maxiter > 0 {
            let mut offenders = Vec::new();
            let current = score(plan, Some(&mut offenders));
            if current == 0 || offenders.is_empty() {
                break;
            }
            let first = offenders[rng.below(offenders.len())];
            let others: Vec<usize> = (0..plan.len())
                .filter(|&i| i != first && plan[i].replicate.is_some())
                .collect();
            if others.is_empty() {
                break;
            }
            let second = others[rng.below(others.len())];
            let (a, b) = (plan[first].replicate, plan[second].replicate);
            plan[first].replicate = b;
            plan[second].replicate = a;
            if score(plan, None) > current {
                plan[first].replicate = a;
                plan[second].replicate = b;
            }
            maxiter -= 1;
        }
    }
    match score(plan, None) {
        0 => AntiAffinity::Perfect,
        s if s >= 10000 => AntiAffinity::ReplicaWithMaster,
        _ => AntiAffinity::ReplicasShareHost,
    }
}

/// The slot ranges of `masters` masters, as redis-cli splits them (0-5460, 5461-10922,
/// 10923-16383 for three).
pub(crate) fn split_slots(masters: usize) -> Vec<(usize, usize)> {
    let per = SLOTS as f32 / masters as f32;
    let (mut first, mut cursor) = (0usize, 0f32);
    let mut out = Vec::with_capacity(masters);
    for i in 0..masters {
        let mut last = (cursor + per - 1.0).round() as usize;
        if last > SLOTS || i == masters - 1 {
            last = SLOTS - 1;
        }
        let last = last.max(first);
        out.push((first, last));
        first = last + 1;
        cursor += per;
    }
    out
}

/// The masters (indexes into `hosts`, in slot order) and each node's master, as redis-cli
/// plans them: nodes interleaved by host, the first ones masters, replicas preferring other
/// hosts than their master's, extra nodes as extra replicas, then anti-affinity swaps.
fn plan(
    hosts: &[String],
    replicas: usize,
    masters_count: usize,
    rng: &mut Rng,
) -> (Vec<usize>, Vec<Option<usize>>, AntiAffinity) {
    // Interleave: one node of each host in turn.
    let mut by_host: Vec<(&str, std::collections::VecDeque<usize>)> = Vec::new();
    for (i, h) in hosts.iter().enumerate() {
        match by_host.iter_mut().find(|(k, _)| *k == h.as_str()) {
            Some((_, q)) => q.push_back(i),
            None => by_host.push((h, [i].into_iter().collect())),
        }
    }
    let mut interleaved = Vec::with_capacity(hosts.len());
    while interleaved.len() < hosts.len() {
        for (_, q) in by_host.iter_mut() {
            if let Some(i) = q.pop_front() {
                interleaved.push(i);
            }
        }
    }
    let masters: Vec<usize> = interleaved[..masters_count].to_vec();
    let mut rest: Vec<Option<usize>> = interleaved[masters_count..]
        .iter()
        .map(|&i| Some(i))
        .collect();
    // Rotating the list sometimes gives a better start for the optimizer (redis-cli).
    if !rest.is_empty() {
        rest.rotate_left(1);
    }
    let mut replicate: Vec<Option<usize>> = vec![None; hosts.len()];
    let mut available = rest.len();
    let mut start = 0;
    let mut assign_unused = false;
    loop {
        for &m in &masters {
            let mut assigned = 0;
            while assigned < replicas {
                if available == 0 {
                    break;
                }
                let mut found = None;
                let mut first_same = None;
                for (j, slot) in rest.iter_mut().enumerate().skip(start) {
                    let Some(n) = *slot else { continue };
                    if hosts[n] != hosts[m] {
                        found = Some(n);
                        *slot = None;
                        break;
                    }
                    if first_same.is_none() {
                        first_same = Some(j);
                    }
                }
                let chosen = match (found, first_same) {
                    (Some(n), _) => Some(n),
                    (None, Some(j)) => {
                        start = j + 1;
                        rest[j]
                    }
                    _ => None,
                };
                let Some(n) = chosen else { break };
                assigned += 1;
                available -= 1;
                replicate[n] = Some(m);
                if assign_unused {
                    break;
                }
            }
        }
        if assign_unused || available == 0 {
            break;
        }
        assign_unused = true;
    }
    let mut planned: Vec<Planned> = hosts
        .iter()
        .zip(&replicate)
        .map(|(h, r)| Planned {
            host: h.clone(),
            replicate: *r,
        })
        .collect();
    let affinity = optimize(&mut planned, rng);
    let replicate = planned.into_iter().map(|p| p.replicate).collect();
    (masters, replicate, affinity)
}

/// [`CreateOptions::in_order`]'s layout.
fn ordered_plan(
    hosts: &[String],
    replicas: usize,
    masters_count: usize,
) -> (Vec<usize>, Vec<Option<usize>>, AntiAffinity) {
    let masters: Vec<usize> = (0..masters_count).collect();
    let mut replicate = vec![None; hosts.len()];
    for (k, r) in replicate.iter_mut().enumerate().skip(masters_count) {
        let j = k - masters_count;
        *r = Some(if replicas > 0 && j < masters_count * replicas {
            j / replicas
        } else {
            j % masters_count
        });
    }
    let planned: Vec<Planned> = hosts
        .iter()
        .zip(&replicate)
        .map(|(h, r)| Planned {
            host: h.clone(),
            replicate: *r,
        })
        .collect();
    let affinity = match score(&planned, None) {
        0 => AntiAffinity::Perfect,
        s if s >= 10000 => AntiAffinity::ReplicaWithMaster,
        _ => AntiAffinity::ReplicasShareHost,
    };
    (masters, replicate, affinity)
}

impl ClusterAdmin {
    /// Creates a cluster of the given empty, cluster-enabled nodes (`host:port` each), as
    /// `redis-cli --cluster create --cluster-replicas N --cluster-yes` does, and returns it
    /// loaded from the first node.
    ///
    /// Nodes are interleaved by host; the first `nodes / (replicas + 1)` are masters and get
    /// the slots split evenly (`ADDSLOTS`); the others become replicas, placed away from their
    /// master's host where possible (with redis-cli's anti-affinity optimization); every node
    /// gets a distinct config epoch, meets the first node, and once all agree the replicas
    /// `REPLICATE` their masters.
    pub async fn create<A: AsRef<str>>(
        &self,
        addrs: &[A],
        options: &CreateOptions,
    ) -> Result<ClusterView> {
        let mut nodes: Vec<Node> = Vec::with_capacity(addrs.len());
        for a in addrs {
            let (host, port) = parse_addr(a.as_ref())?;
            let node = self.open_node(&host, port).await?;
            self.ensure_empty(&node).await?;
            nodes.push(node);
        }
        let replicas = options.replicas;
        let masters_count = nodes.len() / (replicas + 1);
        if masters_count < options.min_masters {
            return Err(AdminError::TooFewMasters {
                min: options.min_masters,
                nodes: nodes.len(),
                replicas,
                masters: masters_count,
                needed: options.min_masters * (replicas + 1),
            });
        }
        let hosts: Vec<String> = nodes.iter().map(|n| n.info.host.clone()).collect();
        let (masters, replicate, affinity) = if options.in_order {
            ordered_plan(&hosts, replicas, masters_count)
        } else {
            plan(&hosts, replicas, masters_count, &mut Rng::new())
        };
        tracing::info!(
            target: "rediscover::cluster::admin",
            "creating a cluster of {} masters and {} replicas ({affinity:?} anti-affinity)",
            masters.len(),
            replicate.iter().flatten().count()
        );

        // Masters take their slots.
        for (&m, (first, last)) in masters.iter().zip(split_slots(masters_count)) {
            let mut args = vec!["CLUSTER".to_string(), "ADDSLOTS".to_string()];
            args.extend((first..=last).map(|s| s.to_string()));
            nodes[m].call(&args).await?;
        }
        // Replicas can only REPLICATE a master they know: that waits for the join.
        for (epoch, node) in nodes.iter().enumerate() {
            let epoch = (epoch + 1).to_string();
            // redis-cli ignores this reply (a node that already has an epoch refuses).
            if let Err(e) = node.call(&["CLUSTER", "SET-CONFIG-EPOCH", &epoch]).await {
                tracing::warn!(target: "rediscover::cluster::admin", "{e}");
            }
        }
        let meet_count = if options.meet_all { nodes.len() } else { 1 };
        for i in 0..meet_count.min(nodes.len()) {
            let target = &nodes[i];
            // MEET needs an IP.
            let ip = resolve(&target.info.host, target.info.port).await?;
            let port = target.info.port.to_string();
            let bus = target.info.bus_port;
            for node in &nodes[i + 1..] {
                if bus == 0 || u32::from(bus) == u32::from(target.info.port) + 10000 {
                    node.call(&["CLUSTER", "MEET", &ip, &port]).await?;
                } else {
                    node.call(&["CLUSTER", "MEET", &ip, &port, &bus.to_string()])
                        .await?;
                }
            }
        }
        self.wait_for_join(&nodes).await?;
        for (i, node) in nodes.iter().enumerate() {
            if let Some(m) = replicate[i] {
                let id = nodes[m].info.id.clone();
                node.call(&["CLUSTER", "REPLICATE", &id]).await?;
            }
        }
        let first = nodes[0].addr();
        drop(nodes);
        self.load(&first).await
    }
}

/// The first IP address of `host`.
pub(crate) async fn resolve(host: &str, port: u16) -> Result<String> {
    let mut addrs =
        tokio::net::lookup_host((host, port))
            .await
            .map_err(|e| AdminError::Connection {
                addr: super::addr_string(host, port),
                source: crate::Error::io(e),
            })?;
    addrs
        .next()
        .map(|a| a.ip().to_string())
        .ok_or_else(|| AdminError::InvalidAddress(super::addr_string(host, port)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_split_like_redis_cli() {
        assert_eq!(
            split_slots(3),
            vec![(0, 5460), (5461, 10922), (10923, 16383)]
        );
        assert_eq!(split_slots(1), vec![(0, 16383)]);
        let four = split_slots(4);
        assert_eq!(four[0], (0, 4095));
        assert_eq!(four[3].1, 16383);
    }

    #[test]
    fn one_host_plans_every_replica() {
        let hosts = vec!["127.0.0.1".to_string(); 6];
        let (masters, replicate, affinity) = plan(&hosts, 1, 3, &mut Rng::new());
        assert_eq!(masters, vec![0, 1, 2]);
        let mut of: Vec<usize> = replicate.iter().flatten().copied().collect();
        of.sort();
        assert_eq!(of, vec![0, 1, 2]);
        assert_eq!(affinity, AntiAffinity::ReplicaWithMaster);
    }

    #[test]
    fn in_order_keeps_the_callers_layout() {
        let hosts = vec!["h".to_string(); 7];
        let (masters, replicate, _) = ordered_plan(&hosts, 1, 3);
        assert_eq!(masters, vec![0, 1, 2]);
        assert_eq!(
            replicate,
            vec![None, None, None, Some(0), Some(1), Some(2), Some(0)]
        );
        let hosts = vec!["h".to_string(); 9];
        let (_, replicate, _) = ordered_plan(&hosts, 2, 3);
        assert_eq!(
            &replicate[3..],
            &[Some(0), Some(0), Some(1), Some(1), Some(2), Some(2)]
        );
    }

    #[test]
    fn replicas_leave_their_masters_host() {
        // Three hosts, two nodes each: each replica lands on another host than its master.
        let hosts: Vec<String> = ["a", "a", "b", "b", "c", "c"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let (masters, replicate, affinity) = plan(&hosts, 1, 3, &mut Rng::new());
        assert_eq!(affinity, AntiAffinity::Perfect);
        assert_eq!(masters.len(), 3);
        for (i, r) in replicate.iter().enumerate() {
            if let Some(m) = r {
                assert_ne!(hosts[i], hosts[*m]);
            }
        }
        // Extra nodes become extra replicas.
        let hosts = vec!["h".to_string(); 7];
        let (_, replicate, _) = plan(&hosts, 1, 3, &mut Rng::new());
        assert_eq!(replicate.iter().flatten().count(), 4);
    }
}
