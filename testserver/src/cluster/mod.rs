//! Redis Cluster, as a Redis 7.0 node runs it: slots, the node table, the cluster bus,
//! failure detection, failover and slot migration.
//!
//! Layers, each in its own file:
//!
//! - [`state`]: the node table and slot map of one node ([`Cluster`]), and the operations on it
//!   that Redis's `cluster.c` names (add/delete slot, set master, bump epoch...).
//! - [`nodes_conf`]: `nodes.conf`, written atomically and reloaded at startup.
//! - [`wire`]: the bus message format of Redis 7.0 (`cluster.h`), byte for byte, no I/O.
//! - [`bus`]: the bus port: links to every known node, reading and writing messages.
//! - [`messages`]: building and sending each kind of message.
//! - [`process`]: what a node does with each message it receives (`clusterProcessPacket`).
//! - [`cron`]: the cluster cron (PINGs, PFAIL, reconnects) and what runs "before sleep".
//! - [`failover`]: elections, votes, manual failover, replica migration, cluster state.
//! - [`gate`]: the key check before a command runs (`getNodeByQuery`).
//! - [`commands`] and [`replies`]: CLUSTER and its subcommands, READONLY, READWRITE, ASKING.
//! - [`migrate`]: MIGRATE, on the DUMP/RESTORE payloads.
//!
//! Everything lives in the node's [`NodeState`](crate::node::NodeState) (`cluster`), behind the
//! node lock, so a cluster node has the same single order of events as the Redis event loop.
//! Timers run on the node's [`Timers`](crate::config::Timers): Redis's fixed delays (the 100 ms
//! cron, the 500 ms election delay, the 2 s writable delay...) are scaled by the cron period,
//! so a test cluster with a fast cron and a short `cluster-node-timeout` fails over in
//! milliseconds with Redis's formulas.

pub mod bus;
pub mod commands;
pub mod cron;
pub mod failover;
pub mod gate;
pub mod messages;
pub mod migrate;
pub mod nodes_conf;
pub mod process;
pub mod replies;
pub mod state;
pub mod testing;

pub mod wire;

pub use state::{Cluster, ClusterNode, NodeId};

use crate::node::NodeState;

/// Number of hash slots.
pub const SLOTS: usize = 16384;

/// Runs `f` with the node's cluster state taken out of `st`, so that `f` can use both the
/// cluster and the rest of the node (replication, data, pub/sub) without borrow conflicts.
/// Does nothing (returns `None`) on a node that is not a cluster node.
pub fn with<R>(st: &mut NodeState, f: impl FnOnce(&mut Cluster, &mut NodeState) -> R) -> Option<R> {
    let mut c = st.cluster.take()?;
    let r = f(&mut c, st);
    st.cluster = Some(c);
    Some(r)
}

/// A Redis delay of `base_ms` (at the default 100 ms cron) scaled to this node's cron period.
pub fn scaled(st: &NodeState, base_ms: i64) -> i64 {
    let cron = st.config.timers.cluster_cron.as_micros() as i64;
    (base_ms * cron / 100_000).max(1)
}

/// The path of `nodes.conf`: `cluster-config-file`, relative to `dir`.
pub fn config_path(st: &NodeState) -> std::path::PathBuf {
    let file = std::path::Path::new(&st.config.cluster_config_file);
    if file.is_absolute() {
        file.to_path_buf()
    } else {
        std::path::Path::new(&st.config.dir).join(file)
    }
}

/// Makes a node with `cluster-enabled yes` a cluster node: locks `nodes.conf` and loads it, or
/// starts as a new node with a fresh id and saves it (Redis's `clusterInit`). Errors are the
/// messages Redis exits with (a corrupt or locked file).
pub fn init(st: &mut NodeState) -> Result<(), String> {
    use crate::logging::Level;
    if !st.config.cluster_enabled {
        return Ok(());
    }
    let path = config_path(st);
    let lock = nodes_conf::lock(&path)?;
    let text = std::fs::read_to_string(&path).map_err(|e| {
        format!(
            "Loading the cluster node config from {}: {e}",
            path.display()
        )
    })?;
    let mut c = match nodes_conf::parse(&text, &path)? {
        Some(loaded) => {
            for w in &loaded.warnings {
                st.log(Level::Warning, w);
            }
            let c = loaded.cluster;
            st.log(
                Level::Notice,
                &format!("Node configuration loaded, I'm {}", state::name(&c.myself)),
            );
            c
        }
        None => {
            let mut c = Cluster::new(state::random_id(), path.clone());
            c.me_mut().ip.clear();
            st.log(
                Level::Notice,
                &format!(
                    "No cluster configuration found, I'm {}",
                    state::name(&c.myself)
                ),
            );
            nodes_conf::save(&mut c, true)
                .map_err(|e| format!("Fatal: can't update cluster config file. ({e})"))?;
            c
        }
    };
    c.config_lock = Some(lock);
    let (port, pport, cport) = messages::announced_ports(st);
    let no_failover = st.config.extra_or("cluster-replica-no-failover", "no") == "yes";
    let hostname = messages::announced_hostname(st);
    {
        let me = c.me_mut();
        me.port = port;
        me.pport = pport;
        me.cport = cport;
        me.hostname = hostname;
        if no_failover {
            me.flags |= state::flag::NOFAILOVER;
        } else {
            me.flags &= !state::flag::NOFAILOVER;
        }
        me.flags |= state::flag::MYSELF;
    }
    let announce_ip = st.config.extra_or("cluster-announce-ip", "");
    if !announce_ip.is_empty() {
        c.me_mut().ip = announce_ip;
    }
    c.state_ok = false;
    // A cluster node replicates whom nodes.conf says, not `replicaof`.
    st.config.replicaof = None;
    st.dbs[0].index_slots(true);
    st.cluster = Some(Box::new(c));
    Ok(())
}

/// `verifyClusterConfigWithData`, after the data is loaded: keys only in db 0; a master claims
/// unassigned slots it has keys for and imports slots assigned elsewhere.
pub fn verify_with_data(st: &mut NodeState) -> Result<(), String> {
    use crate::logging::Level;
    let Some(mut c) = st.cluster.take() else {
        return Ok(());
    };
    let result = (|| {
        if c.me().is_slave() {
            return Ok(());
        }
        if st.dbs.iter().skip(1).any(|db| !db.is_empty()) {
            return Err(
                "You can't have keys in a DB different than DB 0 when in Cluster mode. Exiting."
                    .to_string(),
            );
        }
        let mut changed = false;
        let me = c.myself;
        for j in 0..SLOTS {
            if st.dbs[0].count_in_slot(j as u16) == 0
                || c.slots[j] == Some(me)
                || c.importing.contains_key(&(j as u16))
            {
                continue;
            }
            changed = true;
            match c.slots[j] {
                None => {
                    st.log(
                        Level::Warning,
                        &format!(
                            "I have keys for unassigned slot {j}. Taking responsibility for it."
                        ),
                    );
                    c.add_slot(&me, j);
                }
                Some(owner) => {
                    st.log(Level::Warning, &format!("I have keys for slot {j}, but the slot is assigned to another node. Setting it to importing state."));
                    c.importing.insert(j as u16, owner);
                }
            }
        }
        if changed {
            cron::save_config(&mut c, st, true);
        }
        Ok(())
    })();
    st.cluster = Some(c);
    result
}
