//! A client's dedicated connections: a small bounded set of connections for the commands that
//! would hold up a shared one (blocking commands, `WAIT`, `WATCH` transactions).
//!
//! A connection is lent for one command (or one transaction) and comes back only if nothing is
//! left on it: a caller that gave up while its command was blocked leaves a reply owed, so that
//! connection is closed instead (the server then unblocks it), and the next lease opens a new
//! one. Connections are opened through the client's [`Connector`], so they go wherever the
//! shared connection goes.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::Config;
use crate::conn::source::{backoff, worth_retrying, Connector};
use crate::conn::Connection;
use crate::error::{Error, Result};

pub(crate) struct Dedicated {
    connector: Connector,
    policy: Config,
    idle: Arc<Mutex<Vec<Connection>>>,
    permits: Arc<Semaphore>,
    /// Bumped by [`Dedicated::retire_idle`]: a connection lent before is closed when it comes
    /// back rather than kept.
    retired: Arc<AtomicU64>,
}

/// A dedicated connection on loan; see [`Lease::done`].
pub(crate) struct Lease {
    conn: Connection,
    idle: Arc<Mutex<Vec<Connection>>>,
    clean: bool,
    retired: Arc<AtomicU64>,
    /// `retired` when it was lent.
    lent_at: u64,
    _permit: OwnedSemaphorePermit,
}

impl Dedicated {
    pub(crate) fn new(connector: Connector, policy: Config) -> Dedicated {
        let size = policy.get_dedicated_connections();
        Dedicated {
            connector,
            permits: Arc::new(Semaphore::new(size)),
            idle: Arc::new(Mutex::new(Vec::with_capacity(size))),
            retired: Arc::new(AtomicU64::new(0)),
            policy,
        }
    }

    /// Dedicated connections open and idle.
    pub(crate) fn idle(&self) -> usize {
        self.idle.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Closes the idle connections `stale` picks (those to a server that is no longer the
    /// master); lent ones are left to their commands, and closed when they come back. Returns
    /// how many were closed.
    pub(crate) fn retire_idle(&self, stale: impl Fn(&Connection) -> bool) -> usize {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        // Under the lock, so that a lease sees the bump and the retired set together.
        self.retired.fetch_add(1, Ordering::AcqRel);
        let before = idle.len();
        idle.retain(|c| {
            let keep = !stale(c);
            if !keep {
                c.close();
            }
            keep
        });
        before - idle.len()
    }

    /// Lends a connection: an idle one, or a new one (with the reconnect policy's attempts and
    /// backoff). When all are lent, waits up to the connect timeout for one to come back.
    pub(crate) async fn lease(&self) -> Result<Lease> {
        let size = self.policy.get_dedicated_connections();
        if size == 0 {
            return Err(Error::Pool(
                "this client has no dedicated connections (Config::dedicated_connections is 0) \
                 for blocking commands and transactions"
                    .into(),
            ));
        }
        let permit = match self.permits.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                let wait = self.policy.get_connect_timeout();
                match tokio::time::timeout(wait, self.permits.clone().acquire_owned()).await {
                    Ok(Ok(p)) => p,
                    _ => {
                        return Err(Error::Pool(format!(
                            "all {size} dedicated connections of this client are busy with \
                             blocking commands or transactions (waited {wait:?}); raise \
                             Config::dedicated_connections, or use a Pool for many concurrent \
                             blocking calls"
                        )))
                    }
                }
            }
        };
        let (idle, lent_at) = {
            let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
            idle.retain(|c| !c.is_closed());
            // Read under the lock (see `retire_idle`): a connection retired later is closed
            // when it comes back.
            (idle.pop(), self.retired.load(Ordering::Acquire))
        };
        let conn = match idle {
            Some(conn) => conn,
            None => self.open().await?,
        };
        Ok(Lease {
            conn,
            idle: self.idle.clone(),
            clean: false,
            retired: self.retired.clone(),
            lent_at,
            _permit: permit,
        })
    }

    async fn open(&self) -> Result<Connection> {
        let attempts = self.policy.get_max_retries().saturating_add(1);
        let mut last = Error::Closed;
        for attempt in 0..attempts {
            if attempt > 0 {
                tokio::time::sleep(backoff(&self.policy, attempt)).await;
            }
            match self.connector.connect().await {
                Ok(conn) => return Ok(conn),
                Err(e) if !worth_retrying(&e) => return Err(e),
                Err(e) => last = e,
            }
        }
        Err(Error::not_sent(last))
    }
}

impl Lease {
    pub(crate) fn conn(&self) -> &Connection {
        &self.conn
    }

    /// Marks the connection as left in its initial state (no reply owed, no `WATCH`, no
    /// `MULTI`), so it can be lent again.
    pub(crate) fn done(mut self) {
        self.clean = true;
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        let retired = self.retired.load(Ordering::Acquire) != self.lent_at;
        if self.clean && !retired && !self.conn.is_closed() && self.conn.in_flight() == 0 {
            self.idle
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(self.conn.clone());
        } else {
            // A reply is owed (the caller gave up on a blocked command) or the state is
            // unknown: this connection cannot be trusted with another command.
            self.conn.close();
        }
    }
}
