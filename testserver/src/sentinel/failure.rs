//! Failure detection and agreement: SDOWN (no valid reply for down-after-milliseconds), ODOWN
//! (enough sentinels say so), asking the other sentinels, and the vote for a failover leader
//! (one vote per epoch; a leader needs max(quorum, majority of the known sentinels)).

use rediscover::resp::Frame;

use super::link::Callback;
use super::{flag, rand, FailoverState, InstId, Kind, Sentinel};
use crate::logging::Level;

impl Sentinel {
    /// Redis's `sentinelCheckSubjectivelyDown`: closes links that look stuck, then sets or
    /// clears SDOWN.
    pub(crate) fn check_subjectively_down(&mut self, id: InstId, now: i64) {
        let ri = self.inst(id);
        let link_id = ri.link;
        let down_after = ri.down_after_period;
        let l = self.link_of(id);
        let elapsed = if l.act_ping_time != 0 {
            now - l.act_ping_time
        } else if l.disconnected {
            now - l.last_avail_time
        } else {
            0
        };
        if l.cc.is_some()
            && now - l.cc_conn_time > self.periods.min_link_reconnect
            && l.act_ping_time != 0
            && now - l.act_ping_time > down_after / 2
            && now - l.last_pong_time > down_after / 2
        {
            self.close_conn(link_id, false);
        }
        let l = self.link_of(id);
        if l.pc.is_some()
            && now - l.pc_conn_time > self.periods.min_link_reconnect
            && now - l.pc_last_activity > self.periods.publish.saturating_mul(3)
        {
            self.close_conn(link_id, true);
        }
        let ri = self.inst(id);
        let down = elapsed > down_after
            || (ri.kind == Kind::Master
                && ri.role_reported == Some(Kind::Replica)
                && now - ri.role_reported_time
                    > down_after.saturating_add(self.periods.info.saturating_mul(2)))
            || (ri.flags & flag::MASTER_REBOOT != 0
                && now - ri.master_reboot_since_time > ri.master_reboot_down_after_period);
        if down {
            if ri.flags & flag::S_DOWN == 0 {
                self.event_at(Level::Warning, "+sdown", id, "");
                let ri = self.inst_mut(id);
                ri.s_down_since_time = now;
                ri.flags |= flag::S_DOWN;
            }
        } else if ri.flags & flag::S_DOWN != 0 {
            self.event_at(Level::Warning, "-sdown", id, "");
            self.inst_mut(id).flags &= !(flag::S_DOWN | flag::SCRIPT_KILL_SENT);
        }
    }

    /// Redis's `sentinelCheckObjectivelyDown`: ODOWN when we and enough others (by their
    /// last IS-MASTER-DOWN-BY-ADDR replies) see the master down.
    pub(crate) fn check_objectively_down(&mut self, master: InstId, now: i64) {
        let m = self.inst(master);
        let mut quorum = 0;
        let mut odown = false;
        if m.flags & flag::S_DOWN != 0 {
            quorum = 1 + m
                .sentinels
                .iter()
                .filter(|&&s| self.inst(s).flags & flag::MASTER_DOWN != 0)
                .count() as u32;
            odown = quorum >= m.quorum;
        }
        if odown {
            if m.flags & flag::O_DOWN == 0 {
                let q = m.quorum;
                self.event_at(
                    Level::Warning,
                    "+odown",
                    master,
                    &format!(" #quorum {quorum}/{q}"),
                );
                let m = self.inst_mut(master);
                m.flags |= flag::O_DOWN;
                m.o_down_since_time = now;
            }
        } else if m.flags & flag::O_DOWN != 0 {
            self.event_at(Level::Warning, "-odown", master, "");
            self.inst_mut(master).flags &= !flag::O_DOWN;
        }
    }

    /// Asks the other sentinels whether they see the master down (and, during a failover, for
    /// their vote): every ask period while we see it SDOWN, or at once when `forced`.
    pub(crate) fn ask_master_state_to_other_sentinels(
        &mut self,
        master: InstId,
        forced: bool,
        now: i64,
    ) {
        let sentinels = self.inst(master).sentinels.clone();
        let m = self.inst(master);
        let sdown = m.flags & flag::S_DOWN != 0;
        let ip = self.announce(&m.addr).to_string();
        let port = m.addr.port.to_string();
        let runid = if m.failover_state > FailoverState::None {
            self.myid.clone()
        } else {
            "*".to_string()
        };
        let epoch = self.current_epoch.to_string();
        let stale = self.periods.ask.saturating_mul(5);
        for s in sentinels {
            let ri = self.inst_mut(s);
            let elapsed = now - ri.last_master_down_reply_time;
            if elapsed > stale {
                ri.flags &= !flag::MASTER_DOWN;
                ri.leader = None;
            }
            if !sdown || self.link_of(s).disconnected {
                continue;
            }
            if !forced && now - self.inst(s).last_master_down_reply_time < self.periods.ask {
                continue;
            }
            self.send(
                s,
                "SENTINEL",
                &[
                    b"is-master-down-by-addr",
                    ip.as_bytes(),
                    port.as_bytes(),
                    epoch.as_bytes(),
                    runid.as_bytes(),
                ],
                Callback::IsMasterDown(s),
            );
        }
    }

    /// The reply to our IS-MASTER-DOWN-BY-ADDR: `[down, leader runid or *, leader epoch]`;
    /// any other shape is ignored.
    pub(crate) fn is_master_down_reply(&mut self, id: InstId, frame: &Frame, now: i64) {
        let Some([Frame::Integer(down), Frame::Bulk(leader), Frame::Integer(epoch)]) =
            frame.as_slice()
        else {
            return;
        };
        let name = self.inst(id).name.clone();
        let ri = self.inst_mut(id);
        ri.last_master_down_reply_time = now;
        if *down == 1 {
            ri.flags |= flag::MASTER_DOWN;
        } else {
            ri.flags &= !flag::MASTER_DOWN;
        }
        if &leader[..] != b"*" {
            let leader = String::from_utf8_lossy(leader).into_owned();
            let changed = ri.leader_epoch as i64 != *epoch;
            ri.leader = Some(leader.clone());
            ri.leader_epoch = *epoch as u64;
            if changed {
                self.log(
                    Level::Warning,
                    format!("{name} voted for {leader} {}", *epoch as u64),
                );
            }
        }
    }

    /// Votes for `req_runid` as leader of a failover of `master` in `req_epoch`, unless we
    /// already voted in that epoch or a later one; returns our vote and its epoch (Redis's
    /// `sentinelVoteLeader`).
    pub(crate) fn vote_leader(
        &mut self,
        master: InstId,
        req_epoch: u64,
        req_runid: &str,
        now: i64,
    ) -> (Option<String>, u64) {
        if req_epoch > self.current_epoch {
            self.current_epoch = req_epoch;
            self.flush_config();
            self.event(
                Level::Warning,
                "+new-epoch",
                Some(master),
                self.current_epoch.to_string(),
            );
        }
        let current = self.current_epoch;
        let m = self.inst_mut(master);
        if m.leader_epoch < req_epoch && current <= req_epoch {
            m.leader = Some(req_runid.to_string());
            m.leader_epoch = current;
            self.flush_config();
            self.event(
                Level::Warning,
                "+vote-for-leader",
                Some(master),
                format!("{req_runid} {current}"),
            );
            if !req_runid.eq_ignore_ascii_case(&self.myid) {
                let desync = (rand() % self.periods.max_desync as u64) as i64;
                self.inst_mut(master).failover_start_time = now + desync;
            }
        }
        let m = self.inst(master);
        (m.leader.clone(), m.leader_epoch)
    }

    /// The leader of `master`'s failover in `epoch`, if one has enough votes (ours included:
    /// we vote for the most voted sentinel, or for ourselves).
    pub(crate) fn get_leader(&mut self, master: InstId, epoch: u64, now: i64) -> Option<String> {
        let m = self.inst(master);
        let voters = m.sentinels.len() as u64 + 1;
        let mut counters: Vec<(String, u64)> = Vec::new();
        let count = |counters: &mut Vec<(String, u64)>, who: &str| -> u64 {
            match counters.iter_mut().find(|(r, _)| r == who) {
                Some((_, n)) => {
                    *n += 1;
                    *n
                }
                None => {
                    counters.push((who.to_string(), 1));
                    1
                }
            }
        };
        for &s in &m.sentinels {
            let ri = self.inst(s);
            if let Some(leader) = &ri.leader {
                if ri.leader_epoch == self.current_epoch {
                    count(&mut counters, leader);
                }
            }
        }
        let mut winner: Option<String> = None;
        let mut max_votes = 0;
        for (runid, votes) in &counters {
            if *votes > max_votes {
                max_votes = *votes;
                winner = Some(runid.clone());
            }
        }
        let candidate = winner.clone().unwrap_or_else(|| self.myid.clone());
        let (myvote, leader_epoch) = self.vote_leader(master, epoch, &candidate, now);
        if let Some(myvote) = myvote {
            if leader_epoch == epoch {
                let votes = count(&mut counters, &myvote);
                if votes > max_votes {
                    max_votes = votes;
                    winner = Some(myvote);
                }
            }
        }
        let quorum = u64::from(self.inst(master).quorum);
        // An absolute majority of the voters, and at least the quorum.
        let majority = voters / 2 + 1;
        winner.filter(|_| max_votes >= majority && max_votes >= quorum)
    }

    /// Redis's `sentinelCheckTiltCondition`: a tick that comes too late (the process was
    /// stopped, the machine stalled) or too early (the clock went back) means every timeout
    /// measured across it is wrong; stop acting for the TILT period.
    pub(crate) fn check_tilt(&mut self, now: i64) {
        let delta = now - self.previous_time;
        if delta < 0 || delta > self.periods.tilt_trigger {
            self.tilt = true;
            self.tilt_start_time = now;
            self.event(
                Level::Warning,
                "+tilt",
                None,
                "#tilt mode entered".to_string(),
            );
        }
        self.previous_time = now;
    }
}
