//! `redis-cli --cluster add-node` and `del-node`.

use super::nodes::ClusterView;
use super::{parse_addr, AdminError, ClusterAdmin, Result};
use crate::resp::Frame;

/// Options for [`ClusterAdmin::add_node`].
#[derive(Debug, Clone, Default)]
pub struct AddNodeOptions {
    replica: bool,
    master_id: Option<String>,
}

impl AddNodeOptions {
    /// Add the node as a master (the default; it gets no slots until a reshard or rebalance).
    pub fn master() -> Self {
        AddNodeOptions::default()
    }

    /// Add the node as a replica of the master with the fewest replicas (`--cluster-slave`).
    pub fn replica() -> Self {
        AddNodeOptions {
            replica: true,
            master_id: None,
        }
    }

    /// Add the node as a replica of this master (`--cluster-slave --cluster-master-id`).
    pub fn replica_of(master_id: impl Into<String>) -> Self {
        AddNodeOptions {
            replica: true,
            master_id: Some(master_id.into()),
        }
    }
}

impl ClusterAdmin {
    /// Adds the empty, cluster-enabled node `new` (`host:port`) to the cluster that
    /// `existing` belongs to, as `redis-cli --cluster add-node` does: the cluster is checked
    /// first (any problem stops it), a new master gets the cluster's functions (`FUNCTION
    /// DUMP`/`RESTORE`, skipped where the cluster has no FUNCTION command), the node meets the
    /// seed, and a replica then `REPLICATE`s its master. Returns the new node's id, once every
    /// node agrees on the configuration.
    pub async fn add_node(
        &self,
        new: &str,
        existing: &str,
        options: &AddNodeOptions,
    ) -> Result<String> {
        let view = self.load(existing).await?;
        let report = self.check_view(&view, false).await?;
        if !report.is_ok() {
            return Err(AdminError::ClusterNotOk(report.findings));
        }
        let master = if options.replica {
            Some(match &options.master_id {
                Some(id) => {
                    let i = view.index(id)?;
                    if !view.nodes[i].info.is_master() {
                        return Err(AdminError::NotAMaster(id.clone()));
                    }
                    i
                }
                None => view
                    .least_replicas(None)
                    .ok_or_else(|| AdminError::UnknownNode("(any master)".into()))?,
            })
        } else {
            None
        };
        let (host, port) = parse_addr(new)?;
        let node = self.open_node(&host, port).await?;
        self.ensure_empty(&node).await?;
        let first = &view.nodes[0];
        if master.is_none() {
            match first.call(&["FUNCTION", "DUMP"]).await {
                Ok(Frame::Bulk(dump)) => {
                    match node.call(&["FUNCTION", "LIST"]).await? {
                        Frame::Array(l) if l.is_empty() => {}
                        _ => return Err(AdminError::NodeNotEmpty(node.addr())),
                    }
                    let args: [&[u8]; 3] = [b"FUNCTION", b"RESTORE", &dump];
                    node.call(&args).await?;
                }
                Ok(_) => {}
                // A server without functions: nothing to copy (redis-cli goes on too).
                Err(AdminError::Command { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        let ip = super::create::resolve(&first.info.host, first.info.port).await?;
        let fport = first.info.port.to_string();
        let bus = first.info.bus_port;
        if bus == 0 || u32::from(bus) == u32::from(first.info.port) + 10000 {
            node.call(&["CLUSTER", "MEET", &ip, &fport]).await?;
        } else {
            node.call(&["CLUSTER", "MEET", &ip, &fport, &bus.to_string()])
                .await?;
        }
        let id = node.info.id.clone();
        let mut nodes = view.nodes.clone();
        nodes.push(node);
        self.wait_for_join(&nodes).await?;
        if let Some(m) = master {
            let master_id = view.nodes[m].info.id.clone();
            nodes
                .last()
                .expect("just pushed")
                .call(&["CLUSTER", "REPLICATE", &master_id])
                .await?;
        }
        Ok(id)
    }

    /// Removes the node `id` from the cluster that `seed` belongs to, as `redis-cli --cluster
    /// del-node` does: the node must serve no slots; its replicas are moved to the master with
    /// the fewest replicas; every other node `CLUSTER FORGET`s it; then it is reset with
    /// `CLUSTER RESET SOFT` (it forgets the cluster and can be reused).
    pub async fn del_node(&self, seed: &str, id: &str) -> Result<()> {
        let view: ClusterView = self.load(seed).await?;
        let target = view.index(id)?;
        let node = &view.nodes[target];
        if !node.info.slots.is_empty() {
            return Err(AdminError::NodeHasSlots {
                addr: node.addr(),
                slots: node.info.slots.len(),
            });
        }
        for (i, n) in view.nodes.iter().enumerate() {
            if i == target {
                continue;
            }
            if n.info
                .master_id
                .as_deref()
                .is_some_and(|m| m.eq_ignore_ascii_case(id))
            {
                let m = view
                    .least_replicas(Some(target))
                    .ok_or_else(|| AdminError::UnknownNode("(another master)".into()))?;
                let master_id = view.nodes[m].info.id.clone();
                tracing::info!(
                    target: "rediscover::cluster::admin",
                    "{} as replica of {}", n.addr(), view.nodes[m].addr()
                );
                n.call(&["CLUSTER", "REPLICATE", &master_id]).await?;
            }
            n.call(&["CLUSTER", "FORGET", id]).await?;
        }
        node.call(&["CLUSTER", "RESET", "SOFT"]).await?;
        Ok(())
    }
}
