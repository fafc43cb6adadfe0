//! Monitoring: the periodic PING, INFO and hello a sentinel sends every instance, and what it
//! learns from the replies (Redis's `sentinelSendPeriodicCommands`,
//! `sentinelRefreshInstanceInfo`, `sentinelPingReplyCallback` and the hello functions).

use bytes::Bytes;
use rediscover::resp::Frame;

use super::link::Callback;
use super::{
    flag, now_ms, simfailure, FailoverState, InstId, Kind, LinkId, Sentinel, HELLO_CHANNEL,
};
use crate::logging::Level;

/// Most commands waiting for replies on one link before periodic ones are held back.
const MAX_PENDING_COMMANDS: i64 = 100;

impl Sentinel {
    /// PING, INFO and hello to one instance when they are due.
    pub(crate) fn send_periodic_commands(&mut self, id: InstId, now: i64) {
        let l = self.link_of(id);
        if l.disconnected || l.pending_commands >= MAX_PENDING_COMMANDS * i64::from(l.refcount) {
            return;
        }
        let ri = self.inst(id);
        let fast = ri.kind == Kind::Replica && {
            let m = self.inst(ri.master.expect("a replica has a master"));
            m.flags & (flag::O_DOWN | flag::FAILOVER_IN_PROGRESS) != 0
                || ri.master_link_down_time != 0
        };
        let info_period = if fast {
            self.periods.fast_info
        } else {
            self.periods.info
        };
        let ping_period = ri.down_after_period.min(self.periods.ping);
        if ri.kind != Kind::Sentinel
            && (ri.info_refresh == 0 || now - ri.info_refresh > info_period)
        {
            self.send(id, "INFO", &[], Callback::Info(id));
        }
        let l = self.link_of(id);
        if now - l.last_pong_time > ping_period && now - l.last_ping_time > ping_period / 2 {
            self.send_ping(id, now);
        }
        if now - self.inst(id).last_pub_time > self.periods.publish {
            self.send_hello(id);
        }
    }

    /// The hello message for a master, as this sentinel announces it through instance `via`:
    /// `<ip>,<port>,<myid>,<epoch>,<master>,<master ip>,<master port>,<config epoch>`.
    fn hello_payload(&self, via: InstId) -> Option<String> {
        let ri = self.inst(via);
        let master = match ri.kind {
            Kind::Master => via,
            _ => ri.master?,
        };
        let ip = match &self.announce_ip {
            Some(ip) => ip.clone(),
            None => self.link_of(via).cc.as_ref()?.local.get()?.ip().to_string(),
        };
        let port = if self.announce_port != 0 {
            self.announce_port
        } else {
            self.port
        };
        let m = self.inst(master);
        let addr = self.current_master_addr(master);
        Some(format!(
            "{ip},{port},{},{},{},{},{},{}",
            self.myid,
            self.current_epoch,
            m.name,
            self.announce(addr),
            addr.port,
            m.config_epoch
        ))
    }

    /// PUBLISHes our hello on the hello channel of an instance (on a sentinel, that is its
    /// fake PUBLISH, which processes the message).
    pub(crate) fn send_hello(&mut self, id: InstId) -> bool {
        if self.link_of(id).disconnected {
            return false;
        }
        let Some(payload) = self.hello_payload(id) else {
            return false;
        };
        self.send(
            id,
            "PUBLISH",
            &[HELLO_CHANNEL.as_bytes(), payload.as_bytes()],
            Callback::Publish(id),
        )
    }

    /// Makes every instance of a master due for a hello now.
    pub(crate) fn force_hello_update(&mut self, master: InstId) {
        let period = self.periods.publish.saturating_add(1);
        let mut ids = self.children(master);
        ids.push(master);
        for id in ids {
            let ri = self.inst_mut(id);
            if ri.last_pub_time >= period {
                ri.last_pub_time -= period;
            }
        }
    }

    /// A PING reply: PONG, LOADING and MASTERDOWN mean the instance is alive.
    pub(crate) fn ping_reply(&mut self, link: LinkId, id: InstId, frame: &Frame, now: i64) {
        if !self.instances.contains_key(&id) {
            return;
        }
        if let Frame::Simple(text) | Frame::Error(text) = frame {
            let alive = [&b"PONG"[..], b"LOADING", b"MASTERDOWN"]
                .iter()
                .any(|p| text.starts_with(p));
            if alive {
                if let Some(l) = self.links.get_mut(&link) {
                    l.last_avail_time = now;
                    l.act_ping_time = 0;
                }
                let ri = self.inst_mut(id);
                if ri.flags & flag::MASTER_REBOOT != 0 && text.starts_with(b"PONG") {
                    ri.flags &= !flag::MASTER_REBOOT;
                }
            } else if text.starts_with(b"BUSY")
                && self.inst(id).flags & flag::S_DOWN != 0
                && self.inst(id).flags & flag::SCRIPT_KILL_SENT == 0
            {
                self.send(id, "SCRIPT", &[b"KILL"], Callback::Discard);
                self.inst_mut(id).flags |= flag::SCRIPT_KILL_SENT;
            }
        }
        if let Some(l) = self.links.get_mut(&link) {
            l.last_pong_time = now;
        }
    }

    /// An INFO reply: learn the run id, role, replicas and replication state, then act on
    /// what changed (Redis's `sentinelRefreshInstanceInfo`).
    pub(crate) fn refresh_instance_info(&mut self, id: InstId, info: &str, now: i64) {
        let mut role: Option<Kind> = None;
        {
            let ri = self.inst_mut(id);
            ri.info = Some(info.to_string());
            ri.master_link_down_time = 0;
        }
        let is_master = self.inst(id).kind == Kind::Master;
        for l in info.split("\r\n") {
            if l.len() >= 47 && l.starts_with("run_id:") {
                let runid = l.get(7..47).unwrap_or_default().to_string();
                let ri = self.inst_mut(id);
                match &ri.runid {
                    None => ri.runid = Some(runid),
                    Some(old) if *old != runid => {
                        self.event_at(Level::Notice, "+reboot", id, "");
                        let ri = self.inst_mut(id);
                        if ri.kind == Kind::Master && ri.master_reboot_down_after_period != 0 {
                            ri.flags |= flag::MASTER_REBOOT;
                            ri.master_reboot_since_time = now;
                        }
                        ri.runid = Some(runid);
                    }
                    _ => {}
                }
            }
            if is_master
                && l.len() >= 7
                && l.starts_with("slave")
                && l.as_bytes()[5].is_ascii_digit()
            {
                if let Some((ip, port)) = replica_line(l) {
                    let port = atoi(port);
                    if self.lookup_replica(id, ip, port).is_none() {
                        let quorum = self.inst(id).quorum;
                        if let Ok(r) =
                            self.create_instance("", Kind::Replica, ip, port, quorum, Some(id))
                        {
                            self.event_at(Level::Notice, "+slave", r, "");
                            self.flush_config();
                        }
                    }
                }
            }
            if l.len() >= 32 && l.starts_with("master_link_down_since_seconds") {
                self.inst_mut(id).master_link_down_time = strtoll(&l[31..]).saturating_mul(1000);
            }
            if l.starts_with("role:master") {
                role = Some(Kind::Master);
            } else if l.starts_with("role:slave") {
                role = Some(Kind::Replica);
            }
            if role == Some(Kind::Replica) {
                let ri = self.inst_mut(id);
                if let Some(host) = l.strip_prefix("master_host:") {
                    if !ri
                        .slave_master_host
                        .as_deref()
                        .is_some_and(|h| h.eq_ignore_ascii_case(host))
                    {
                        ri.slave_master_host = Some(host.to_string());
                        ri.slave_conf_change_time = now;
                    }
                }
                if let Some(port) = l.strip_prefix("master_port:") {
                    let port = atoi(port);
                    if ri.slave_master_port != port {
                        ri.slave_master_port = port;
                        ri.slave_conf_change_time = now;
                    }
                }
                if let Some(status) = l.strip_prefix("master_link_status:") {
                    ri.slave_master_link_up = status.eq_ignore_ascii_case("up");
                }
                if let Some(p) = l.strip_prefix("slave_priority:") {
                    ri.slave_priority = atoi(p);
                }
                if let Some(o) = l.strip_prefix("slave_repl_offset:") {
                    ri.slave_repl_offset = strtoull(o);
                }
                if let Some(a) = l.strip_prefix("replica_announced:") {
                    ri.replica_announced = atoi(a) != 0;
                }
            }
        }
        self.inst_mut(id).info_refresh = now;

        // The acting half.
        let ri = self.inst(id);
        if role != ri.role_reported {
            let kind = ri.kind;
            let ri = self.inst_mut(id);
            ri.role_reported_time = now;
            ri.role_reported = role;
            if role == Some(Kind::Replica) {
                ri.slave_conf_change_time = now;
            }
            let coherent = role == Some(kind) && kind != Kind::Sentinel;
            let name = if role == Some(Kind::Master) {
                "master"
            } else {
                "slave"
            };
            self.event_at(
                Level::Verbose,
                if coherent {
                    "+role-change"
                } else {
                    "-role-change"
                },
                id,
                &format!(" new reported role is {name}"),
            );
        }
        if self.tilt {
            return;
        }
        let ri = self.inst(id);
        if ri.kind != Kind::Replica {
            // A master reporting itself a replica goes SDOWN in time; nothing to do here.
            return;
        }
        let master = ri.master.expect("a replica has a master");
        if role == Some(Kind::Master) {
            self.replica_reports_master(id, master, now);
        }
        let ri = self.inst(id);
        let m = self.inst(master);
        if role == Some(Kind::Replica)
            && (ri.slave_master_port != i64::from(m.addr.port)
                || !ri
                    .slave_master_host
                    .as_deref()
                    .is_some_and(|h| self.addr_equals_hostname(&m.addr, h)))
        {
            let wait = m.failover_timeout;
            if self.master_looks_sane(master, now)
                && self.no_down_for(id, wait, now)
                && now - ri.slave_conf_change_time > wait
            {
                let addr = m.addr.clone();
                if self.send_slaveof(id, Some(&addr)) {
                    self.event_at(Level::Notice, "+fix-slave-config", id, "");
                }
            }
        }
        let ri = self.inst(id);
        if role == Some(Kind::Replica) && ri.flags & (flag::RECONF_SENT | flag::RECONF_INPROG) != 0
        {
            let promoted = self
                .inst(master)
                .promoted_slave
                .map(|p| self.inst(p).addr.clone());
            if let (true, Some(p), Some(host)) = (
                ri.flags & flag::RECONF_SENT != 0,
                promoted.as_ref(),
                ri.slave_master_host.as_deref(),
            ) {
                if self.addr_equals_hostname(p, host) && ri.slave_master_port == i64::from(p.port) {
                    let ri = self.inst_mut(id);
                    ri.flags &= !flag::RECONF_SENT;
                    ri.flags |= flag::RECONF_INPROG;
                    self.event_at(Level::Notice, "+slave-reconf-inprog", id, "");
                }
            }
            let ri = self.inst(id);
            if ri.flags & flag::RECONF_INPROG != 0 && ri.slave_master_link_up {
                let ri = self.inst_mut(id);
                ri.flags &= !flag::RECONF_INPROG;
                ri.flags |= flag::RECONF_DONE;
                self.event_at(Level::Notice, "+slave-reconf-done", id, "");
            }
        }
    }

    /// A replica entry says it is a master: either the replica we promoted has taken the
    /// role (the failover moves on), or someone else's change that we undo after a while.
    fn replica_reports_master(&mut self, id: InstId, master: InstId, now: i64) {
        let ri = self.inst(id);
        let m = self.inst(master);
        if ri.flags & flag::PROMOTED != 0
            && m.flags & flag::FAILOVER_IN_PROGRESS != 0
            && m.failover_state == FailoverState::WaitPromotion
        {
            let m = self.inst_mut(master);
            m.config_epoch = m.failover_epoch;
            m.failover_state = FailoverState::ReconfSlaves;
            m.failover_state_change_time = now;
            self.flush_config();
            self.event_at(Level::Warning, "+promoted-slave", id, "");
            if self.simfailure & simfailure::CRASH_AFTER_PROMOTION != 0 {
                self.crash();
                return;
            }
            self.event_at(Level::Warning, "+failover-state-reconf-slaves", master, "");
            let (from, to) = (self.inst(master).addr.clone(), self.inst(id).addr.clone());
            self.call_client_reconfig_script(master, "leader", "start", &from, &to);
            self.force_hello_update(master);
        } else {
            let wait = self.periods.publish.saturating_mul(4);
            if ri.flags & flag::PROMOTED == 0
                && self.master_looks_sane(master, now)
                && self.no_down_for(id, wait, now)
                && now - ri.role_reported_time > wait
            {
                let addr = self.inst(master).addr.clone();
                if self.send_slaveof(id, Some(&addr)) {
                    self.event_at(Level::Notice, "+convert-to-slave", id, "");
                }
            }
        }
    }

    /// A master we can trust: configured and reporting as one, not down, INFO fresh.
    pub(crate) fn master_looks_sane(&self, master: InstId, now: i64) -> bool {
        let m = self.inst(master);
        m.kind == Kind::Master
            && m.role_reported == Some(Kind::Master)
            && m.flags & (flag::S_DOWN | flag::O_DOWN) == 0
            && now - m.info_refresh < self.periods.info.saturating_mul(2)
    }

    /// Reconfigures an instance as a replica of `addr` (or a master, for `None`) with the
    /// transaction Redis sends: `MULTI, SLAVEOF, CONFIG REWRITE, CLIENT KILL TYPE normal,
    /// CLIENT KILL TYPE pubsub, EXEC` (the kills make clients reconnect and find the new
    /// configuration; CONFIG REWRITE makes the change survive a restart).
    pub(crate) fn send_slaveof(&mut self, id: InstId, addr: Option<&super::Addr>) -> bool {
        let (host, port) = match addr {
            Some(a) => (self.announce(a).to_string(), a.port.to_string()),
            None => ("NO".to_string(), "ONE".to_string()),
        };
        if !self.send(id, "MULTI", &[], Callback::Discard) {
            return false;
        }
        self.send(
            id,
            "SLAVEOF",
            &[host.as_bytes(), port.as_bytes()],
            Callback::Discard,
        );
        self.send(id, "CONFIG", &[b"REWRITE"], Callback::Discard);
        for kind in [&b"normal"[..], b"pubsub"] {
            self.send(id, "CLIENT", &[b"KILL", b"TYPE", kind], Callback::Discard);
        }
        self.send(id, "EXEC", &[], Callback::Discard);
        true
    }

    /// A message on a pub/sub connection: hellos of other sentinels.
    pub(crate) fn receive_hello(&mut self, link: LinkId, id: InstId, frame: &Frame, now: i64) {
        if !self.instances.contains_key(&id) {
            return;
        }
        if let Some(l) = self.links.get_mut(&link) {
            l.pc_last_activity = now;
        }
        let Some(parts) = frame.as_slice() else {
            return;
        };
        let [Frame::Bulk(kind), Frame::Bulk(_), Frame::Bulk(payload)] = parts else {
            return;
        };
        if &kind[..] != b"message" {
            return;
        }
        // Our own hellos come back too.
        if contains(payload, self.myid.as_bytes()) {
            return;
        }
        self.process_hello(payload);
    }

    /// A hello, from a pub/sub channel or PUBLISHed to us directly (Redis's
    /// `sentinelProcessHelloMessage`): learn the sentinel, adopt a newer epoch, and switch
    /// to a newer configuration of the master.
    pub(crate) fn process_hello(&mut self, payload: &Bytes) {
        let text = String::from_utf8_lossy(payload);
        let token: Vec<&str> = text.split(',').collect();
        if token.len() != 8 {
            return;
        }
        let Some(master) = self.master_by_name(token[4].as_bytes()) else {
            return;
        };
        let now = now_ms();
        let port = atoi(token[1]);
        let master_port = atoi(token[6]);
        let current_epoch = strtoull(token[3]);
        let master_config_epoch = strtoull(token[7]);
        let mut si =
            self.sentinel_by_addr_and_runid(master, Some((token[0], port)), Some(token[2]));
        if si.is_none() {
            let removed = self.remove_matching_sentinel(master, token[2]);
            if removed > 0 {
                self.event_at(
                    Level::Notice,
                    "+sentinel-address-switch",
                    master,
                    &format!(" ip {} port {port} for {}", token[0], token[2]),
                );
            } else if let Some(other) =
                self.sentinel_by_addr_and_runid(master, Some((token[0], port)), None)
            {
                self.event_at(Level::Notice, "+sentinel-invalid-addr", other, "");
                if let Some(obsolete) = self.inst(other).runid.clone() {
                    for m in self.master_ids() {
                        self.remove_matching_sentinel(m, &obsolete);
                    }
                }
            }
            let quorum = self.inst(master).quorum;
            si = self
                .create_instance(
                    token[2],
                    Kind::Sentinel,
                    token[0],
                    port,
                    quorum,
                    Some(master),
                )
                .ok();
            if let Some(s) = si {
                if removed == 0 {
                    self.event_at(Level::Notice, "+sentinel", s, "");
                }
                self.inst_mut(s).runid = Some(token[2].to_string());
                self.try_connection_sharing(s);
                if removed > 0 {
                    self.update_sentinel_address_in_all_masters(s);
                }
                self.flush_config();
            }
        }
        if current_epoch > self.current_epoch {
            self.current_epoch = current_epoch;
            self.flush_config();
            self.event(
                Level::Warning,
                "+new-epoch",
                Some(master),
                current_epoch.to_string(),
            );
        }
        if let Some(s) = si {
            if self.inst(master).config_epoch < master_config_epoch {
                self.inst_mut(master).config_epoch = master_config_epoch;
                let maddr = self.inst(master).addr.clone();
                if master_port != i64::from(maddr.port)
                    || !self.addr_equals_hostname(&maddr, token[5])
                {
                    self.event_at(Level::Warning, "+config-update-from", s, "");
                    let text = format!(
                        "{} {} {} {} {master_port}",
                        self.inst(master).name,
                        self.announce(&maddr),
                        maddr.port,
                        token[5]
                    );
                    self.event(Level::Warning, "+switch-master", Some(master), text);
                    if self
                        .reset_master_and_change_address(master, token[5], master_port)
                        .is_ok()
                    {
                        let new = self.inst(master).addr.clone();
                        self.call_client_reconfig_script(master, "observer", "start", &maddr, &new);
                    }
                }
            }
            self.inst_mut(s).last_hello_time = now;
        }
    }

    /// Shares the link of the same physical sentinel known under another master.
    fn try_connection_sharing(&mut self, id: InstId) {
        let Some(runid) = self.inst(id).runid.clone() else {
            return;
        };
        if self.link_of(id).refcount > 1 {
            return;
        }
        let own_master = self.inst(id).master;
        for m in self.master_ids() {
            if Some(m) == own_master {
                continue;
            }
            let Some(matched) = self.sentinel_by_addr_and_runid(m, None, Some(&runid)) else {
                continue;
            };
            if matched == id {
                continue;
            }
            let old = self.inst(id).link;
            let shared = self.inst(matched).link;
            self.release_link(old);
            self.inst_mut(id).link = shared;
            if let Some(l) = self.links.get_mut(&shared) {
                l.refcount += 1;
            }
            return;
        }
    }

    /// After a sentinel changed address: drop its links everywhere and copy the new address
    /// into its entries under other masters.
    fn update_sentinel_address_in_all_masters(&mut self, id: InstId) {
        let Some(runid) = self.inst(id).runid.clone() else {
            return;
        };
        let mut reconfigured = 0;
        for m in self.master_ids() {
            let Some(matched) = self.sentinel_by_addr_and_runid(m, None, Some(&runid)) else {
                continue;
            };
            let link = self.inst(matched).link;
            self.close_conn(link, false);
            self.close_conn(link, true);
            if matched == id {
                continue;
            }
            let addr = self.inst(id).addr.clone();
            self.inst_mut(matched).addr = addr;
            reconfigured += 1;
        }
        if reconfigured > 0 {
            self.event_at(
                Level::Notice,
                "+sentinel-address-update",
                id,
                &format!(" {reconfigured} additional matching instances"),
            );
        }
    }
}

/// The address of a `slaveN:` INFO line, old (`slave0:<ip>,<port>,<state>`) or new format
/// (`slave0:ip=...,port=...,...`).
fn replica_line(l: &str) -> Option<(&str, &str)> {
    if !l.contains("ip=") {
        let rest = &l[l.find(':')? + 1..];
        let mut parts = rest.splitn(3, ',');
        let ip = parts.next()?;
        let port = parts.next()?;
        parts.next()?;
        return Some((ip, port));
    }
    let ip = &l[l.find("ip=")? + 3..];
    let port = &l[l.find("port=")? + 5..];
    let ip = ip.split(',').next().unwrap_or(ip);
    let port = port.split(',').next().unwrap_or(port);
    Some((ip, port))
}

/// C's `atoi`: leading whitespace, a sign, digits; anything else ends it (0 if none).
pub(crate) fn atoi(s: &str) -> i64 {
    strtoll(s)
}

fn strtoll(s: &str) -> i64 {
    let s = s.trim_start();
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let mut n: i64 = 0;
    for b in digits.bytes().take_while(u8::is_ascii_digit) {
        n = n.saturating_mul(10).saturating_add(i64::from(b - b'0'));
    }
    if neg {
        -n
    } else {
        n
    }
}

/// C's `strtoull` (base 10): digits up to the first other character.
pub(crate) fn strtoull(s: &str) -> u64 {
    let s = s.trim_start();
    let s = s.strip_prefix('+').unwrap_or(s);
    let mut n: u64 = 0;
    for b in s.bytes().take_while(u8::is_ascii_digit) {
        n = n.saturating_mul(10).saturating_add(u64::from(b - b'0'));
    }
    n
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}
