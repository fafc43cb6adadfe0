//! The sentinel's timer (Redis's `sentinelTimer`): every tick, handle every master, its
//! replicas and its sentinels in turn, then at most one switch to a promoted replica, then
//! the scripts. The period is jittered as Redis's random `hz` jitters it, so that sentinels
//! started together do not keep asking for votes in the same instant.

use std::sync::Arc;
use std::time::Duration;

use super::{flush_output, now_ms, rand, FailoverState, InstId, Kind, Sentinel};
use crate::logging::Level;
use crate::node::Node;

/// Runs the timer of a sentinel node until the node shuts down.
pub(crate) async fn run(node: Arc<Node>) {
    let mut shutdown = node.shutdown_signal();
    if node.is_shutting_down() {
        return;
    }
    loop {
        let tick = {
            let st = node.lock();
            st.sentinel.as_ref().map_or(100, |s| s.periods.tick)
        };
        // Redis: 1000 / (10 + rand() % 10) ms.
        let period = tick as u64 * 10 / (10 + rand() % 10);
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(period.max(1))) => {}
            _ = shutdown.wait_for(|&down| down) => return,
        }
        // A frozen node's timer does not run; the gap is what makes it TILT on thaw.
        node.faults.thawed().await;
        if node.is_shutting_down() {
            return;
        }
        let crashed = {
            let mut st = node.lock();
            let Some(s) = st.sentinel.as_mut() else {
                return;
            };
            s.timer(now_ms());
            let crashed = s.crashed;
            flush_output(&mut st);
            crashed
        };
        if crashed {
            crash(&node);
            return;
        }
    }
}

/// What `SENTINEL SIMULATE-FAILURE` does when it fires: the process exits with 99 (an
/// in-process node stops as if killed).
fn crash(node: &Node) {
    if node
        .lock()
        .sentinel
        .as_ref()
        .is_some_and(|s| s.exit_on_crash)
    {
        std::process::exit(99);
    }
    node.shutdown();
}

impl Sentinel {
    /// One tick.
    pub(crate) fn timer(&mut self, now: i64) {
        self.check_tilt(now);
        let mut switch_to = None;
        for master in self.master_ids() {
            if !self.instances.contains_key(&master) {
                continue;
            }
            self.handle_instance(master, now);
            if self.crashed {
                return;
            }
            let (replicas, sentinels) = {
                let m = self.inst(master);
                (m.replicas.clone(), m.sentinels.clone())
            };
            for id in replicas.into_iter().chain(sentinels) {
                if self.instances.contains_key(&id) {
                    self.handle_instance(id, now);
                    if self.crashed {
                        return;
                    }
                }
            }
            if self.instances.contains_key(&master)
                && self.inst(master).failover_state == FailoverState::UpdateConfig
            {
                switch_to = Some(master);
            }
        }
        if let Some(master) = switch_to {
            self.switch_to_promoted(master);
        }
        self.run_scripts(now);
    }

    /// Redis's `sentinelHandleRedisInstance`: the monitoring half always, the acting half
    /// unless in TILT.
    fn handle_instance(&mut self, id: InstId, now: i64) {
        self.reconnect_instance(id, now);
        self.send_periodic_commands(id, now);
        if self.tilt {
            if now - self.tilt_start_time < self.periods.tilt_period {
                return;
            }
            self.tilt = false;
            self.event(
                Level::Warning,
                "-tilt",
                None,
                "#tilt mode exited".to_string(),
            );
        }
        self.check_subjectively_down(id, now);
        if self.inst(id).kind == Kind::Master {
            self.check_objectively_down(id, now);
            if self.start_failover_if_needed(id, now) {
                self.ask_master_state_to_other_sentinels(id, true, now);
            }
            self.failover_state_machine(id, now);
            if self.crashed || !self.instances.contains_key(&id) {
                return;
            }
            self.ask_master_state_to_other_sentinels(id, false, now);
        }
    }
}
