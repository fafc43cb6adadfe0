//! The failover state machine: start (a new epoch, `+try-failover`), wait to be elected,
//! select the replica, `REPLICAOF NO ONE`, wait for its promotion, reconfigure the other
//! replicas (`parallel-syncs` at a time), and switch the master's address (Redis's
//! `sentinelFailover*` functions).

use super::{flag, rand, simfailure, FailoverState, InstId, Sentinel};
use crate::logging::Level;

impl Sentinel {
    /// Starts a failover of an ODOWN master unless one runs or one started less than twice
    /// the failover timeout ago. Returns whether it started.
    pub(crate) fn start_failover_if_needed(&mut self, master: InstId, now: i64) -> bool {
        let m = self.inst(master);
        if m.flags & flag::O_DOWN == 0 || m.flags & flag::FAILOVER_IN_PROGRESS != 0 {
            return false;
        }
        if now.saturating_sub(m.failover_start_time) < m.failover_timeout.saturating_mul(2) {
            if m.failover_delay_logged != m.failover_start_time {
                let when = m
                    .failover_start_time
                    .saturating_add(m.failover_timeout.saturating_mul(2))
                    / 1000;
                let m = self.inst_mut(master);
                m.failover_delay_logged = m.failover_start_time;
                self.log(
                    Level::Warning,
                    format!(
                        "Next failover delay: I will not start a failover before {}",
                        ctime(when)
                    ),
                );
            }
            return false;
        }
        self.start_failover(master, now);
        true
    }

    /// Redis's `sentinelStartFailover`: a new epoch for this attempt.
    pub(crate) fn start_failover(&mut self, master: InstId, now: i64) {
        // Epochs are unsigned 64-bit in Redis and wrap as they do.
        self.current_epoch = self.current_epoch.wrapping_add(1);
        let epoch = self.current_epoch;
        let desync = (rand() % self.periods.max_desync as u64) as i64;
        let m = self.inst_mut(master);
        m.failover_state = FailoverState::WaitStart;
        m.flags |= flag::FAILOVER_IN_PROGRESS;
        m.failover_epoch = epoch;
        self.event(
            Level::Warning,
            "+new-epoch",
            Some(master),
            epoch.to_string(),
        );
        self.event_at(Level::Warning, "+try-failover", master, "");
        let m = self.inst_mut(master);
        m.failover_start_time = now + desync;
        m.failover_state_change_time = now;
    }

    /// One step of a running failover.
    pub(crate) fn failover_state_machine(&mut self, master: InstId, now: i64) {
        let m = self.inst(master);
        if m.flags & flag::FAILOVER_IN_PROGRESS == 0 {
            return;
        }
        match m.failover_state {
            FailoverState::WaitStart => self.failover_wait_start(master, now),
            FailoverState::SelectSlave => self.failover_select_slave(master, now),
            FailoverState::SendSlaveofNoone => self.failover_send_slaveof_noone(master, now),
            FailoverState::WaitPromotion => {
                if now - m.failover_state_change_time > m.failover_timeout {
                    self.event_at(Level::Warning, "-failover-abort-slave-timeout", master, "");
                    self.abort_failover(master, now);
                }
            }
            FailoverState::ReconfSlaves => self.failover_reconf_next_slave(master, now),
            FailoverState::None | FailoverState::UpdateConfig => {}
        }
    }

    fn failover_wait_start(&mut self, master: InstId, now: i64) {
        let epoch = self.inst(master).failover_epoch;
        let leader = self.get_leader(master, epoch, now);
        let is_leader = leader.is_some_and(|l| l.eq_ignore_ascii_case(&self.myid));
        let m = self.inst(master);
        if !is_leader && m.flags & flag::FORCE_FAILOVER == 0 {
            let election_timeout = self.periods.election_timeout.min(m.failover_timeout);
            if now - m.failover_start_time > election_timeout {
                self.event_at(Level::Warning, "-failover-abort-not-elected", master, "");
                self.abort_failover(master, now);
            }
            return;
        }
        self.event_at(Level::Warning, "+elected-leader", master, "");
        if self.simfailure & simfailure::CRASH_AFTER_ELECTION != 0 {
            self.crash();
            return;
        }
        let m = self.inst_mut(master);
        m.failover_state = FailoverState::SelectSlave;
        m.failover_state_change_time = now;
        self.event_at(Level::Warning, "+failover-state-select-slave", master, "");
    }

    fn failover_select_slave(&mut self, master: InstId, now: i64) {
        match self.select_slave(master, now) {
            None => {
                self.event_at(Level::Warning, "-failover-abort-no-good-slave", master, "");
                self.abort_failover(master, now);
            }
            Some(slave) => {
                self.event_at(Level::Warning, "+selected-slave", slave, "");
                self.inst_mut(slave).flags |= flag::PROMOTED;
                let m = self.inst_mut(master);
                m.promoted_slave = Some(slave);
                m.failover_state = FailoverState::SendSlaveofNoone;
                m.failover_state_change_time = now;
                self.event_at(
                    Level::Notice,
                    "+failover-state-send-slaveof-noone",
                    slave,
                    "",
                );
            }
        }
    }

    fn failover_send_slaveof_noone(&mut self, master: InstId, now: i64) {
        let Some(promoted) = self.inst(master).promoted_slave else {
            return;
        };
        if self.link_of(promoted).disconnected {
            let m = self.inst(master);
            if now - m.failover_state_change_time > m.failover_timeout {
                self.event_at(Level::Warning, "-failover-abort-slave-timeout", master, "");
                self.abort_failover(master, now);
            }
            return;
        }
        if !self.send_slaveof(promoted, None) {
            return;
        }
        self.event_at(
            Level::Notice,
            "+failover-state-wait-promotion",
            promoted,
            "",
        );
        let m = self.inst_mut(master);
        m.failover_state = FailoverState::WaitPromotion;
        m.failover_state_change_time = now;
    }

    /// The replica to promote (Redis's `sentinelSelectSlave`): reachable, recently heard
    /// from, not priority 0, not disconnected from its master for too long; then the lowest
    /// priority, the largest replication offset, the smallest run id.
    pub(crate) fn select_slave(&self, master: InstId, now: i64) -> Option<InstId> {
        let m = self.inst(master);
        let sdown = m.flags & flag::S_DOWN != 0;
        let mut max_master_down = m.down_after_period.saturating_mul(10);
        if sdown {
            max_master_down = max_master_down.saturating_add(now - m.s_down_since_time);
        }
        let validity = if sdown {
            self.periods.ping.saturating_mul(5)
        } else {
            self.periods.info.saturating_mul(3)
        };
        let mut candidates: Vec<InstId> = m
            .replicas
            .iter()
            .copied()
            .filter(|&r| {
                let ri = self.inst(r);
                let l = self.link_of(r);
                ri.flags & (flag::S_DOWN | flag::O_DOWN) == 0
                    && !l.disconnected
                    && now - l.last_avail_time <= self.periods.ping.saturating_mul(5)
                    && ri.slave_priority != 0
                    && now - ri.info_refresh <= validity
                    && ri.master_link_down_time <= max_master_down
            })
            .collect();
        candidates.sort_by(|&a, &b| {
            let (a, b) = (self.inst(a), self.inst(b));
            a.slave_priority
                .cmp(&b.slave_priority)
                .then(b.slave_repl_offset.cmp(&a.slave_repl_offset))
                .then_with(|| match (&a.runid, &b.runid) {
                    (None, None) => std::cmp::Ordering::Equal,
                    (None, Some(_)) => std::cmp::Ordering::Greater,
                    (Some(_), None) => std::cmp::Ordering::Less,
                    (Some(x), Some(y)) => x.to_ascii_lowercase().cmp(&y.to_ascii_lowercase()),
                })
        });
        candidates.first().copied()
    }

    /// Sends `SLAVEOF <new master>` to the replicas not yet reconfigured, `parallel-syncs`
    /// at a time, then checks whether the failover is over.
    fn failover_reconf_next_slave(&mut self, master: InstId, now: i64) {
        let replicas = self.inst(master).replicas.clone();
        let parallel = self.inst(master).parallel_syncs;
        let mut in_progress = replicas
            .iter()
            .filter(|&&r| self.inst(r).flags & (flag::RECONF_SENT | flag::RECONF_INPROG) != 0)
            .count() as i64;
        for r in replicas {
            if in_progress >= parallel {
                break;
            }
            let ri = self.inst(r);
            if ri.flags & (flag::PROMOTED | flag::RECONF_DONE) != 0 {
                continue;
            }
            if ri.flags & flag::RECONF_SENT != 0
                && now.saturating_sub(ri.slave_reconf_sent_time) > self.periods.slave_reconf_timeout
            {
                self.event_at(Level::Notice, "-slave-reconf-sent-timeout", r, "");
                let ri = self.inst_mut(r);
                ri.flags &= !flag::RECONF_SENT;
                ri.flags |= flag::RECONF_DONE;
            }
            let ri = self.inst(r);
            if ri.flags & (flag::RECONF_SENT | flag::RECONF_INPROG) != 0
                || self.link_of(r).disconnected
            {
                continue;
            }
            let Some(promoted) = self.inst(master).promoted_slave else {
                break;
            };
            let addr = self.inst(promoted).addr.clone();
            if self.send_slaveof(r, Some(&addr)) {
                let ri = self.inst_mut(r);
                ri.flags |= flag::RECONF_SENT;
                ri.slave_reconf_sent_time = now;
                self.event_at(Level::Notice, "+slave-reconf-sent", r, "");
                in_progress += 1;
            }
        }
        self.failover_detect_end(master, now);
    }

    /// The failover ends when every reachable replica is reconfigured, or at the failover
    /// timeout (then a best-effort SLAVEOF goes to the rest).
    fn failover_detect_end(&mut self, master: InstId, now: i64) {
        let m = self.inst(master);
        let Some(promoted) = m.promoted_slave else {
            return;
        };
        if self.inst(promoted).flags & flag::S_DOWN != 0 {
            return;
        }
        let elapsed = now - m.failover_state_change_time;
        let mut not_reconfigured = m
            .replicas
            .iter()
            .filter(|&&r| {
                let f = self.inst(r).flags;
                f & (flag::PROMOTED | flag::RECONF_DONE) == 0 && f & flag::S_DOWN == 0
            })
            .count();
        let timeout = elapsed > m.failover_timeout;
        if timeout {
            not_reconfigured = 0;
            self.event_at(Level::Warning, "+failover-end-for-timeout", master, "");
        }
        if not_reconfigured == 0 {
            self.event_at(Level::Warning, "+failover-end", master, "");
            let m = self.inst_mut(master);
            m.failover_state = FailoverState::UpdateConfig;
            m.failover_state_change_time = now;
        }
        if timeout {
            let addr = self.inst(promoted).addr.clone();
            for r in self.inst(master).replicas.clone() {
                if self.inst(r).flags & (flag::PROMOTED | flag::RECONF_DONE | flag::RECONF_SENT)
                    != 0
                    || self.link_of(r).disconnected
                {
                    continue;
                }
                if self.send_slaveof(r, Some(&addr)) {
                    self.event_at(Level::Notice, "+slave-reconf-sent-be", r, "");
                    self.inst_mut(r).flags |= flag::RECONF_SENT;
                }
            }
        }
    }

    /// The end of a failover: the master entry moves to the promoted replica's address.
    pub(crate) fn switch_to_promoted(&mut self, master: InstId) {
        let m = self.inst(master);
        let new = match m.promoted_slave {
            Some(p) => self.inst(p).addr.clone(),
            None => m.addr.clone(),
        };
        let text = format!(
            "{} {} {} {} {}",
            m.name,
            self.announce(&m.addr),
            m.addr.port,
            self.announce(&new),
            new.port
        );
        self.event(Level::Warning, "+switch-master", Some(master), text);
        let _ = self.reset_master_and_change_address(master, &new.hostname, new.port.into());
    }

    /// Gives up a failover that has not promoted anyone yet.
    pub(crate) fn abort_failover(&mut self, master: InstId, now: i64) {
        let m = self.inst_mut(master);
        m.flags &= !(flag::FAILOVER_IN_PROGRESS | flag::FORCE_FAILOVER);
        m.failover_state = FailoverState::None;
        m.failover_state_change_time = now;
        if let Some(p) = m.promoted_slave.take() {
            self.inst_mut(p).flags &= !flag::PROMOTED;
        }
    }

    /// `SENTINEL SIMULATE-FAILURE` fired: log, and stop the node (the binary exits with 99).
    pub(crate) fn crash(&mut self) {
        self.log(
            Level::Warning,
            "Sentinel CRASH because of SENTINEL simulate-failure",
        );
        self.crashed = true;
    }
}

/// `ctime()` without its newline, in UTC: `Wed Dec  2 07:22:23 2026`.
fn ctime(unix_secs: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = unix_secs.div_euclid(86400);
    let secs = unix_secs.rem_euclid(86400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{} {} {:>2} {:02}:{:02}:{:02} {}",
        DAYS[days.rem_euclid(7) as usize],
        MONTHS[(month - 1) as usize],
        day,
        secs / 3600,
        secs % 3600 / 60,
        secs % 60,
        year
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn ctime_matches_libc() {
        // date -u -d @1796196133
        assert_eq!(super::ctime(1_796_196_133), "Wed Dec  2 07:22:13 2026");
        assert_eq!(super::ctime(0), "Thu Jan  1 00:00:00 1970");
    }
}
