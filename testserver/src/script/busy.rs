//! A running script as other connections see it, and how they reach the node while it runs.
//!
//! A script runs under the node lock, like any command. Redis, single-threaded, goes on
//! serving clients from inside a script that has run past `busy-reply-threshold`
//! (`processEventsWhileBlocked` from the Lua hook): it accepts connections, runs the commands
//! flagged `allow_busy` (SCRIPT KILL, FUNCTION KILL/STATS, SHUTDOWN NOSAVE, AUTH, HELLO,
//! QUIT, RESET, MULTI, WATCH...) and answers every other command `-BUSY`.
//!
//! Here the same happens, race-free:
//!
//! * Work that needs the node state while a script may run goes through
//!   [`Node::with_state`](crate::node::Node::with_state): it takes the lock if it is free, but
//!   never waits for it longer than [`LOCK_SLICE`] at a time while a script runs (the node's
//!   mutex has timed waits), so a command that raced a starting script does not wait for the
//!   whole script.
//! * While a script runs but is below the threshold, the work waits for the lock a
//!   [`LOCK_SLICE`] at a time (yielding between slices), as Redis's clients wait: most
//!   scripts end within microseconds, and the threshold is still noticed between slices.
//! * Past the threshold the work is posted here as a [`Visit`]. The script's instruction hook,
//!   which holds the state, runs the visits ([`Busy::serve`]): commands go through
//!   `cmd::process`, whose busy check answers `-BUSY` to everything not `allow_busy`.
//! * Posting and the script's end exclude each other (one small mutex, `inbox`): a visit is
//!   posted only while a script runs, and when it ends, visits it did not serve are handed
//!   back (dropped unserved), so their owner takes the lock instead. Nothing is lost and
//!   nothing waits for a script that has ended.
//!
//! The atomics let SCRIPT KILL and the hook read the script's flags cheaply.

use std::sync::atomic::{AtomicI64, AtomicU32, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::node::NodeState;

/// Longest a task waits for the node lock at once while a script may be running.
pub(crate) const LOCK_SLICE: Duration = Duration::from_millis(1);

/// Work for the node state, run by the script's hook (with the state) or dropped unserved.
pub(crate) type Visit = Box<dyn FnOnce(&mut NodeState) + Send>;

/// Flags of the running script.
pub mod flag {
    /// Run by EVAL (not FCALL): which KILL command and BUSY text apply.
    pub const EVAL: u32 = 1;
    /// It already ran a write command: it cannot be killed.
    pub const WRITE_DIRTY: u32 = 2;
    /// Sent by our master: it cannot be killed.
    pub const OBEY: u32 = 4;
    /// SCRIPT KILL / FUNCTION KILL asked it to stop.
    pub const KILL: u32 = 8;
    /// SHUTDOWN NOSAVE asked it to stop, whatever it wrote.
    pub const SHUTDOWN: u32 = 16;
}

const BUSY_EVAL: &str =
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";
const BUSY_FUNCTION: &str =
    "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.";
const NOTBUSY: &str = "NOTBUSY No scripts in execution right now.";
const UNKILLABLE_MASTER: &str = "UNKILLABLE The busy script was sent by a master instance in the context of replication and cannot be killed.";
const UNKILLABLE_WRITE: &str = "UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.";

fn clock() -> u64 {
    static BASE: OnceLock<Instant> = OnceLock::new();
    let base = *BASE.get_or_init(Instant::now);
    base.elapsed().as_nanos() as u64 + 1
}

/// Visits waiting for the running script's hook.
#[derive(Default)]
struct Inbox {
    /// A script runs: visits may be posted.
    open: bool,
    visits: Vec<Visit>,
}

/// The node's running script, if any (one per node).
#[derive(Default)]
pub struct Busy {
    /// When the running script started (a monotonic clock in ns, 0: none).
    started: AtomicU64,
    /// `busy-reply-threshold` in ms when it started.
    threshold_ms: AtomicI64,
    flags: AtomicU32,
    inbox: Mutex<Inbox>,
}

impl std::fmt::Debug for Busy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Busy")
            .field("started", &self.started)
            .field("flags", &self.flags)
            .finish_non_exhaustive()
    }
}

impl Busy {
    fn inbox(&self) -> std::sync::MutexGuard<'_, Inbox> {
        self.inbox.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A script starts.
    pub(crate) fn start(&self, threshold_ms: i64, flags: u32) {
        self.threshold_ms.store(threshold_ms, Ordering::Relaxed);
        self.flags.store(flags, Ordering::Relaxed);
        self.started.store(clock(), Ordering::Release);
        self.inbox().open = true;
    }

    /// The script ended: visits it did not serve go back to their owners (dropped unserved).
    pub(crate) fn end(&self) {
        let unserved = {
            let mut inbox = self.inbox();
            inbox.open = false;
            self.started.store(0, Ordering::Release);
            self.flags.store(0, Ordering::Relaxed);
            std::mem::take(&mut inbox.visits)
        };
        drop(unserved);
    }

    /// Posts `visit` for the running script's hook; gives it back if no script runs.
    pub(crate) fn post(&self, visit: Visit) -> Result<(), Visit> {
        let mut inbox = self.inbox();
        if !inbox.open {
            return Err(visit);
        }
        inbox.visits.push(visit);
        Ok(())
    }

    /// Runs the posted visits with the state (from the script's hook, past the threshold).
    pub(crate) fn serve(&self, st: &mut NodeState) {
        loop {
            let visits = std::mem::take(&mut self.inbox().visits);
            if visits.is_empty() {
                return;
            }
            for visit in visits {
                visit(st);
            }
        }
    }

    /// Whether visits are waiting (a cheap check for the hook).
    pub(crate) fn has_visits(&self) -> bool {
        !self.inbox().visits.is_empty()
    }

    /// Whether a script is running.
    pub fn is_running(&self) -> bool {
        self.started.load(Ordering::Acquire) != 0
    }

    /// How long the running script has run.
    pub fn elapsed(&self) -> Duration {
        let started = self.started.load(Ordering::Acquire);
        if started == 0 {
            return Duration::ZERO;
        }
        Duration::from_nanos(clock().saturating_sub(started))
    }

    /// How long until the running script passes `busy-reply-threshold` (zero: it has).
    pub(crate) fn until_threshold(&self) -> Duration {
        self.threshold().saturating_sub(self.elapsed())
    }

    /// Notes that the script ran a write command.
    pub(crate) fn set_flag(&self, f: u32) {
        self.flags.fetch_or(f, Ordering::Relaxed);
    }

    /// Whether the script must stop now (checked by its hook).
    pub(crate) fn must_stop(&self) -> bool {
        self.flags.load(Ordering::Relaxed) & (flag::KILL | flag::SHUTDOWN) != 0
    }

    fn threshold(&self) -> Duration {
        Duration::from_millis(self.threshold_ms.load(Ordering::Relaxed).max(0) as u64)
    }

    /// SCRIPT KILL (`eval`) or FUNCTION KILL: Redis's `scriptKill` checks, in its order.
    pub(crate) fn kill(&self, eval: bool) -> Result<(), &'static str> {
        if !self.is_running() {
            return Err(NOTBUSY);
        }
        let f = self.flags.load(Ordering::Relaxed);
        if f & flag::OBEY != 0 {
            return Err(UNKILLABLE_MASTER);
        }
        if f & flag::WRITE_DIRTY != 0 {
            return Err(UNKILLABLE_WRITE);
        }
        if eval && f & flag::EVAL == 0 {
            return Err(BUSY_FUNCTION);
        }
        if !eval && f & flag::EVAL != 0 {
            return Err(BUSY_EVAL);
        }
        self.set_flag(flag::KILL);
        Ok(())
    }

    /// Whether the running script is an EVAL one (not a function).
    pub(crate) fn is_eval(&self) -> bool {
        self.flags.load(Ordering::Relaxed) & flag::EVAL != 0
    }

    /// The `-BUSY` error for the running script (EVAL or function).
    pub(crate) fn busy_error(&self) -> &'static str {
        if self.flags.load(Ordering::Relaxed) & flag::EVAL != 0 {
            BUSY_EVAL
        } else {
            BUSY_FUNCTION
        }
    }
}
