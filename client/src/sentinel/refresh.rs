//! Asking the sentinels again, when asked and periodically: requests are coalesced (every
//! request made before a discovery starts is served by it), spaced out, and waited for with a
//! deadline.

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Weak;
use std::time::Duration;

use tokio::sync::{watch, Notify};
use tokio::time::Instant;

use super::monitor::Monitor;
use super::SwitchCause;
use crate::error::{Error, Result};

/// The shortest pause between two discoveries; after failed ones it doubles up to
/// [`MAX_RETRY_GAP`].
const MIN_GAP: Duration = Duration::from_millis(10);
const MAX_RETRY_GAP: Duration = Duration::from_millis(250);

/// Coalesced requests for a discovery: a ticket per request, and the highest ticket the last
/// finished discovery covers (with its error).
pub(super) struct Refresh {
    requested: AtomicU64,
    done: watch::Sender<(u64, Option<Error>)>,
    notify: Notify,
    /// A `READONLY` asked for the pending discovery (for the event's cause).
    readonly: AtomicBool,
}

impl Refresh {
    pub(super) fn new() -> Refresh {
        Refresh {
            requested: AtomicU64::new(0),
            done: watch::channel((0, None)).0,
            notify: Notify::new(),
            readonly: AtomicBool::new(false),
        }
    }

    /// Whether a `READONLY` asked for the discovery under way (once).
    pub(super) fn take_readonly(&self) -> bool {
        self.readonly.swap(false, Ordering::AcqRel)
    }
}

impl Monitor {
    /// Asks for a discovery (coalesced with every other request until one starts); returns a
    /// ticket for [`Monitor::wait_refresh`]. Never blocks.
    pub(crate) fn request_refresh(&self) -> u64 {
        let ticket = self.refresh.requested.fetch_add(1, Ordering::AcqRel) + 1;
        self.refresh.notify.notify_one();
        ticket
    }

    /// A discovery because a write was answered `READONLY`.
    pub(crate) fn request_readonly_refresh(&self) -> u64 {
        self.refresh.readonly.store(true, Ordering::Release);
        self.request_refresh()
    }

    /// Waits until a discovery that started after `ticket` was taken has finished, or the
    /// master changed (an event's fast path), or the deadline; returns the discovery's error,
    /// if it failed.
    pub(crate) async fn wait_refresh(&self, ticket: u64, deadline: Instant) -> Result<()> {
        let mut done = self.refresh.done.subscribe();
        let mut switched = self.switched.subscribe();
        switched.borrow_and_update();
        let finished = async {
            tokio::select! {
                state = done.wait_for(|(c, _)| *c >= ticket) => match state {
                    Ok(state) => state.1.clone().map_or(Ok(()), Err),
                    Err(_) => Err(Error::Closed),
                },
                changed = switched.changed() => changed.map_err(|_| Error::Closed),
            }
        };
        tokio::time::timeout_at(deadline, finished)
            .await
            .unwrap_or(Err(Error::Timeout { sent: false }))
    }

    /// After a write was answered `READONLY`: asks the sentinels (as often as the refresher
    /// allows) until a master that answers `ROLE` as one is in use, or the deadline. Returns
    /// whether one is.
    pub(crate) async fn confirm_master(&self, deadline: Instant) -> bool {
        loop {
            let ticket = self.request_readonly_refresh();
            match self.wait_refresh(ticket, deadline).await {
                Ok(()) => return true,
                Err(_) if Instant::now() >= deadline || self.is_stopped() => return false,
                Err(_) => {}
            }
        }
    }
}

/// Jitters `d` by up to ±20 %.
fn jittered(d: Duration) -> Duration {
    let r = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    let fifth = d / 5;
    let nanos = u64::try_from(fifth.as_nanos()).unwrap_or(u64::MAX).max(1);
    d - fifth + Duration::from_nanos(r % (2 * nanos))
}

/// The refresher: runs discoveries when asked (coalescing requests), and periodically.
pub(super) async fn refresher(weak: Weak<Monitor>, mut shutdown: watch::Receiver<bool>) {
    let mut failures: u32 = 0;
    let mut last_run: Option<Instant> = None;
    let period = weak.upgrade().and_then(|m| m.config.get_recheck_interval());
    let mut next_periodic = period.map(|p| Instant::now() + jittered(p));
    loop {
        let Some(monitor) = weak.upgrade() else {
            return;
        };
        let pending = {
            let covered = monitor.refresh.done.borrow().0;
            monitor.refresh.requested.load(Ordering::Acquire) > covered
        };
        if !pending {
            let notified = monitor.refresh.notify.notified();
            let periodic = async {
                match next_periodic {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = notified => {}
                _ = periodic => {}
                _ = shutdown.changed() => return,
            }
        }
        if *shutdown.borrow() {
            return;
        }
        let gap = match failures {
            0 => MIN_GAP,
            n => MIN_GAP.saturating_mul(1 << n.min(10)).min(MAX_RETRY_GAP),
        };
        if let Some(at) = last_run.map(|t| t + gap) {
            tokio::select! {
                _ = tokio::time::sleep_until(at) => {}
                _ = shutdown.changed() => return,
            }
        }
        let covers = monitor.refresh.requested.load(Ordering::Acquire);
        last_run = Some(Instant::now());
        let result = monitor.discover(Some(SwitchCause::Discovery)).await;
        failures = match &result {
            Ok(()) => 0,
            Err(_) => failures.saturating_add(1),
        };
        monitor.refresh.done.send_replace((covers, result.err()));
        next_periodic = period.map(|p| Instant::now() + jittered(p));
    }
}
