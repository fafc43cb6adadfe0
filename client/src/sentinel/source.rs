//! The [`AddressSource`]s that point connections where the sentinels say: at the master, at
//! the next replica, or at one given replica.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::config::Role;
use super::monitor::Monitor;
use super::NodeAddr;
use crate::config::Config;
use crate::conn::source::{AddressSource, BoxFuture};
use crate::conn::Connection;
use crate::error::{Error, Result};

/// How long a connection attempt waits for a discovery it asked for.
fn discovery_wait(monitor: &Monitor) -> Duration {
    monitor.config.get_sentinel_timeout() * 2 + Duration::from_millis(50)
}

/// Checks that `conn` reports `wanted` (`master` or `slave`).
async fn check_role(
    monitor: &Monitor,
    conn: &Connection,
    wanted: &'static str,
) -> Result<NodeAddr> {
    let cfg = conn.config();
    let addr = NodeAddr::new(cfg.get_host(), cfg.get_port());
    let timeout = monitor.config.node_config().get_connect_timeout();
    let role = tokio::time::timeout(timeout, conn.role())
        .await
        .map_err(|_| Error::not_sent(Error::Timeout { sent: true }))??;
    if role == wanted {
        return Ok(addr);
    }
    if wanted == "master" {
        monitor.count_role_mismatch(&addr, &role);
    }
    monitor.request_refresh();
    Err(Error::not_sent(Error::WrongRole {
        addr,
        wanted,
        found: role,
    }))
}

/// Connections to the master in use.
pub(crate) struct MasterSource {
    pub(crate) monitor: Arc<Monitor>,
}

impl AddressSource for MasterSource {
    fn next_config(&self) -> BoxFuture<'_, Result<Config>> {
        Box::pin(async move {
            let m = &self.monitor;
            if m.is_suspect() {
                // The last attempt at the master failed: let the sentinels say where it is now
                // rather than knock at the same door again. When they name no reachable
                // master (a failover under way), that is this attempt's error; when they
                // cannot be asked, the master we know may still be fine: try it.
                let ticket = m.request_refresh();
                let deadline = Instant::now() + discovery_wait(m);
                if let Err(e @ Error::NoMaster { .. }) = m.wait_refresh(ticket, deadline).await {
                    if m.is_suspect() {
                        return Err(Error::not_sent(e));
                    }
                }
            }
            Ok(m.master().addr.config(m.config.node_config()))
        })
    }

    fn verify<'a>(&'a self, conn: &'a Connection) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let addr = check_role(&self.monitor, conn, "master").await?;
            let current = self.monitor.master();
            if current.addr != addr {
                // The master moved while this connection was being opened.
                return Err(Error::not_sent(Error::MasterChanged {
                    from: addr,
                    to: current.addr.clone(),
                }));
            }
            self.monitor.master_verified();
            Ok(())
        })
    }

    fn connect_failed(&self, config: &Config, _: &Error) {
        self.monitor
            .connect_failed(&NodeAddr::new(config.get_host(), config.get_port()));
    }
}

/// Connections to the replicas, one after the other (for a pool): each new connection goes to
/// the next replica; with [`Role::PreferReplica`], to the master when there is none.
pub(crate) struct ReplicasSource {
    pub(crate) monitor: Arc<Monitor>,
}

impl AddressSource for ReplicasSource {
    fn next_config(&self) -> BoxFuture<'_, Result<Config>> {
        Box::pin(async move {
            let m = &self.monitor;
            let mut replica = m.pick_replica();
            if replica.is_none() {
                let ticket = m.request_refresh();
                let _ = m
                    .wait_refresh(ticket, Instant::now() + discovery_wait(m))
                    .await;
                replica = m.pick_replica();
            }
            match replica {
                Some(addr) => Ok(addr.config(m.config.node_config())),
                None if m.config.get_role() == Role::PreferReplica => {
                    Ok(m.master().addr.config(m.config.node_config()))
                }
                None => Err(Error::not_sent(Error::NoReplica {
                    name: m.config.master_name().into(),
                })),
            }
        })
    }

    fn verify<'a>(&'a self, conn: &'a Connection) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let m = &self.monitor;
            let cfg = conn.config();
            let to_master = m.master().addr == NodeAddr::new(cfg.get_host(), cfg.get_port());
            let wanted = if to_master { "master" } else { "slave" };
            check_role(m, conn, wanted).await.map(drop)
        })
    }

    fn connect_failed(&self, config: &Config, _: &Error) {
        self.monitor
            .connect_failed(&NodeAddr::new(config.get_host(), config.get_port()));
    }
}

/// Connections to one replica (the shared client keeps one multiplexed connection per
/// replica).
pub(crate) struct ReplicaSource {
    pub(crate) monitor: Arc<Monitor>,
    pub(crate) addr: NodeAddr,
}

impl AddressSource for ReplicaSource {
    fn next_config(&self) -> BoxFuture<'_, Result<Config>> {
        let config = self.addr.config(self.monitor.config.node_config());
        Box::pin(std::future::ready(Ok(config)))
    }

    fn verify<'a>(&'a self, conn: &'a Connection) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move { check_role(&self.monitor, conn, "slave").await.map(drop) })
    }

    fn connect_failed(&self, _: &Config, _: &Error) {
        self.monitor.connect_failed(&self.addr);
    }
}
