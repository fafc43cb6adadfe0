//! A running script as other connections see it, without the node lock.
//!
//! A script runs under the node lock, like any command. Past `busy-reply-threshold` other
//! clients get `-BUSY` instead of waiting for the lock, and SCRIPT KILL / FUNCTION KILL /
//! SHUTDOWN NOSAVE reach the script: all of that reads and writes these atomics only. The
//! script's instruction-count hook reads the kill flag.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicI64, AtomicU32, AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rediscover::resp::ReplyWriter;

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

/// The node's running script, if any (one per node).
#[derive(Debug, Default)]
pub struct Busy {
    /// When the running script started (a monotonic clock in ns, 0: none).
    started: AtomicU64,
    /// `busy-reply-threshold` in ms when it started.
    threshold_ms: AtomicI64,
    flags: AtomicU32,
}

impl Busy {
    /// A script starts.
    pub(crate) fn start(&self, threshold_ms: i64, flags: u32) {
        self.threshold_ms.store(threshold_ms, Ordering::Relaxed);
        self.flags.store(flags, Ordering::Relaxed);
        self.started.store(clock(), Ordering::Release);
    }

    /// The script ended.
    pub(crate) fn end(&self) {
        self.started.store(0, Ordering::Release);
        self.flags.store(0, Ordering::Relaxed);
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

    fn busy_error(&self) -> &'static str {
        if self.flags.load(Ordering::Relaxed) & flag::EVAL != 0 {
            BUSY_EVAL
        } else {
            BUSY_FUNCTION
        }
    }
}

fn is(argv: &[Bytes], i: usize, word: &str) -> bool {
    argv.get(i)
        .is_some_and(|a| a.eq_ignore_ascii_case(word.as_bytes()))
}

/// Called by a connection before it takes the node lock while a script runs. Waits (without
/// the lock) until the script ends or passes the busy threshold; past it, answers the batch as
/// Redis answers while a script is busy: SCRIPT KILL and FUNCTION KILL act on the script, SHUTDOWN
/// NOSAVE stops it (and then runs under the lock), everything else gets `-BUSY`. Returns
/// whether the batch is still to be run under the lock.
pub(crate) async fn wait_or_answer(
    busy: &Busy,
    batch: &mut VecDeque<Vec<Bytes>>,
    out: &mut ReplyWriter,
) {
    loop {
        if !busy.is_running() {
            return;
        }
        let elapsed = busy.elapsed();
        let threshold = busy.threshold();
        if elapsed < threshold {
            let nap = (threshold - elapsed).min(Duration::from_millis(2));
            tokio::time::sleep(nap).await;
            continue;
        }
        let Some(argv) = batch.front() else {
            return;
        };
        if is(argv, 0, "shutdown") && argv.len() == 2 && is(argv, 1, "nosave") {
            // Stop the script whatever it did; the shutdown itself runs under the lock.
            busy.set_flag(flag::SHUTDOWN);
            tokio::time::sleep(Duration::from_millis(1)).await;
            continue;
        }
        let argv = batch.pop_front().unwrap_or_default();
        if argv.len() == 2
            && is(&argv, 1, "kill")
            && (is(&argv, 0, "script") || is(&argv, 0, "function"))
        {
            match busy.kill(is(&argv, 0, "script")) {
                Ok(()) => out.ok(),
                Err(e) => out.error(e),
            }
        } else {
            out.error(busy.busy_error());
        }
    }
}
