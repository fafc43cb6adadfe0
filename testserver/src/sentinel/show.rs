//! Replies that describe a sentinel's state: the instance maps of SENTINEL MASTERS / MASTER /
//! REPLICAS / SENTINELS (every value a bulk string, a map in RESP3 and a flat array in RESP2),
//! SENTINEL DEBUG and CONFIG GET, the `# Sentinel` INFO section and ROLE.

use std::fmt::Write;

use rediscover::resp::ReplyWriter;

use super::{flag, now_ms, InstId, Kind, Sentinel};

impl Sentinel {
    /// The field/value pairs of one instance, in Redis's order
    /// (`addReplySentinelRedisInstance`).
    pub(crate) fn instance_fields(&self, id: InstId) -> Vec<(&'static str, String)> {
        let now = now_ms();
        let ri = self.inst(id);
        let l = self.link_of(id);
        let mut f: Vec<(&'static str, String)> = vec![
            ("name", ri.name.clone()),
            ("ip", self.announce(&ri.addr).to_string()),
            ("port", ri.addr.port.to_string()),
            ("runid", ri.runid.clone().unwrap_or_default()),
            ("flags", flags_text(ri.flags, l.disconnected)),
            ("link-pending-commands", l.pending_commands.to_string()),
            ("link-refcount", l.refcount.to_string()),
        ];
        if ri.flags & flag::FAILOVER_IN_PROGRESS != 0 {
            f.push(("failover-state", ri.failover_state.name().to_string()));
        }
        let since = |t: i64| if t != 0 { now - t } else { 0 };
        f.push(("last-ping-sent", since(l.act_ping_time).to_string()));
        f.push(("last-ok-ping-reply", (now - l.last_avail_time).to_string()));
        f.push(("last-ping-reply", (now - l.last_pong_time).to_string()));
        if ri.flags & flag::S_DOWN != 0 {
            f.push(("s-down-time", (now - ri.s_down_since_time).to_string()));
        }
        if ri.flags & flag::O_DOWN != 0 {
            f.push(("o-down-time", (now - ri.o_down_since_time).to_string()));
        }
        f.push(("down-after-milliseconds", ri.down_after_period.to_string()));
        if ri.kind != Kind::Sentinel {
            f.push(("info-refresh", since(ri.info_refresh).to_string()));
            let role = if ri.role_reported == Some(Kind::Master) {
                "master"
            } else {
                "slave"
            };
            f.push(("role-reported", role.to_string()));
            f.push((
                "role-reported-time",
                (now - ri.role_reported_time).to_string(),
            ));
        }
        match ri.kind {
            Kind::Master => {
                f.push(("config-epoch", ri.config_epoch.to_string()));
                f.push(("num-slaves", ri.replicas.len().to_string()));
                f.push(("num-other-sentinels", ri.sentinels.len().to_string()));
                f.push(("quorum", ri.quorum.to_string()));
                f.push(("failover-timeout", ri.failover_timeout.to_string()));
                f.push(("parallel-syncs", ri.parallel_syncs.to_string()));
                if let Some(s) = &ri.notification_script {
                    f.push(("notification-script", s.clone()));
                }
                if let Some(s) = &ri.client_reconfig_script {
                    f.push(("client-reconfig-script", s.clone()));
                }
            }
            Kind::Replica => {
                f.push((
                    "master-link-down-time",
                    ri.master_link_down_time.to_string(),
                ));
                f.push((
                    "master-link-status",
                    if ri.slave_master_link_up { "ok" } else { "err" }.to_string(),
                ));
                f.push((
                    "master-host",
                    ri.slave_master_host.clone().unwrap_or_else(|| "?".into()),
                ));
                f.push(("master-port", ri.slave_master_port.to_string()));
                f.push(("slave-priority", ri.slave_priority.to_string()));
                f.push(("slave-repl-offset", ri.slave_repl_offset.to_string()));
                f.push((
                    "replica-announced",
                    u8::from(ri.replica_announced).to_string(),
                ));
            }
            Kind::Sentinel => {
                f.push(("last-hello-message", (now - ri.last_hello_time).to_string()));
                f.push((
                    "voted-leader",
                    ri.leader.clone().unwrap_or_else(|| "?".into()),
                ));
                f.push(("voted-leader-epoch", ri.leader_epoch.to_string()));
            }
        }
        f
    }

    /// Writes one instance map.
    pub(crate) fn write_instance(&self, out: &mut ReplyWriter, id: InstId) {
        write_pairs(out, &self.instance_fields(id));
    }

    /// Writes an array of instance maps, leaving out replicas that asked not to be
    /// announced (`replica-announced no`).
    pub(crate) fn write_instances(&self, out: &mut ReplyWriter, ids: &[InstId]) {
        let shown: Vec<InstId> = ids
            .iter()
            .copied()
            .filter(|&id| {
                let ri = self.inst(id);
                ri.kind != Kind::Replica || ri.replica_announced
            })
            .collect();
        out.array(shown.len());
        for id in shown {
            self.write_instance(out, id);
        }
    }

    /// `SENTINEL DEBUG` with no arguments: the configurable periods.
    pub(crate) fn debug_fields(&self) -> Vec<(&'static str, String)> {
        let p = &self.periods;
        vec![
            ("INFO-PERIOD", p.info.to_string()),
            ("PING-PERIOD", p.ping.to_string()),
            ("ASK-PERIOD", p.ask.to_string()),
            ("PUBLISH-PERIOD", p.publish.to_string()),
            ("DEFAULT-DOWN-AFTER", p.default_down_after.to_string()),
            (
                "DEFAULT-FAILOVER-TIMEOUT",
                p.default_failover_timeout.to_string(),
            ),
            ("TILT-TRIGGER", p.tilt_trigger.to_string()),
            ("TILT-PERIOD", p.tilt_period.to_string()),
            ("SLAVE-RECONF-TIMEOUT", p.slave_reconf_timeout.to_string()),
            (
                "MIN-LINK-RECONNECT-PERIOD",
                p.min_link_reconnect.to_string(),
            ),
            ("ELECTION-TIMEOUT", p.election_timeout.to_string()),
            ("SCRIPT-MAX-RUNTIME", p.script_max_runtime.to_string()),
            ("SCRIPT-RETRY-DELAY", p.script_retry_delay.to_string()),
        ]
    }

    /// `SENTINEL CONFIG GET` candidates, in Redis's order.
    pub(crate) fn config_fields(&self) -> Vec<(&'static str, String)> {
        let yn = |b: bool| if b { "yes" } else { "no" }.to_string();
        vec![
            ("resolve-hostnames", yn(self.resolve_hostnames)),
            ("announce-hostnames", yn(self.announce_hostnames)),
            ("announce-ip", self.announce_ip.clone().unwrap_or_default()),
            ("announce-port", self.announce_port.to_string()),
            (
                "sentinel-user",
                self.sentinel_user.clone().unwrap_or_default(),
            ),
            (
                "sentinel-pass",
                self.sentinel_pass.clone().unwrap_or_default(),
            ),
        ]
    }

    /// The `# Sentinel` section of INFO.
    pub(crate) fn info_section(&self, out: &mut String) {
        let now = now_ms();
        let tilt_since = if self.tilt {
            (now - self.tilt_start_time) / 1000
        } else {
            -1
        };
        let _ = write!(
            out,
            "# Sentinel\r\nsentinel_masters:{}\r\nsentinel_tilt:{}\r\n\
             sentinel_tilt_since_seconds:{tilt_since}\r\nsentinel_running_scripts:{}\r\n\
             sentinel_scripts_queue_length:{}\r\nsentinel_simulate_failure_flags:{}\r\n",
            self.masters.len(),
            u8::from(self.tilt),
            self.scripts.running(),
            self.scripts.queue.len(),
            self.simfailure
        );
        for (i, &m) in self.masters.iter().enumerate() {
            let ri = self.inst(m);
            let status = if ri.flags & flag::O_DOWN != 0 {
                "odown"
            } else if ri.flags & flag::S_DOWN != 0 {
                "sdown"
            } else {
                "ok"
            };
            let _ = write!(
                out,
                "master{i}:name={},status={status},address={}:{},slaves={},sentinels={}\r\n",
                ri.name,
                self.announce(&ri.addr),
                ri.addr.port,
                ri.replicas.len(),
                ri.sentinels.len() + 1
            );
        }
    }
}

/// Writes field/value pairs as a map of bulk strings.
pub(crate) fn write_pairs(out: &mut ReplyWriter, pairs: &[(&str, String)]) {
    out.map(pairs.len());
    for (k, v) in pairs {
        out.bulk(k.as_bytes());
        out.bulk(v.as_bytes());
    }
}

/// The `flags` field: `s_down,o_down,master,...` in Redis's order.
fn flags_text(flags: u32, disconnected: bool) -> String {
    let names: [(bool, &str); 14] = [
        (flags & flag::S_DOWN != 0, "s_down"),
        (flags & flag::O_DOWN != 0, "o_down"),
        (flags & flag::MASTER != 0, "master"),
        (flags & flag::SLAVE != 0, "slave"),
        (flags & flag::SENTINEL != 0, "sentinel"),
        (disconnected, "disconnected"),
        (flags & flag::MASTER_DOWN != 0, "master_down"),
        (
            flags & flag::FAILOVER_IN_PROGRESS != 0,
            "failover_in_progress",
        ),
        (flags & flag::PROMOTED != 0, "promoted"),
        (flags & flag::RECONF_SENT != 0, "reconf_sent"),
        (flags & flag::RECONF_INPROG != 0, "reconf_inprog"),
        (flags & flag::RECONF_DONE != 0, "reconf_done"),
        (flags & flag::FORCE_FAILOVER != 0, "force_failover"),
        (flags & flag::SCRIPT_KILL_SENT != 0, "script_kill_sent"),
    ];
    names
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, n)| *n)
        .collect::<Vec<_>>()
        .join(",")
}
