//! The instances a sentinel knows (masters, their replicas, the other sentinels watching
//! them), their addresses and links, and the table operations Redis performs on them:
//! create, release, look up, reset a master, move it to a new address.

use super::link::Conn;
use super::{now_ms, Sentinel};
use crate::logging::Level;

/// An instance's id in [`Sentinel::instances`].
pub(crate) type InstId = u64;
/// A link's id in [`Sentinel::links`].
pub(crate) type LinkId = u64;

/// Instance flags (Redis's `SRI_*`).
pub(crate) mod flag {
    pub const MASTER: u32 = 1;
    pub const SLAVE: u32 = 1 << 1;
    pub const SENTINEL: u32 = 1 << 2;
    pub const S_DOWN: u32 = 1 << 3;
    pub const O_DOWN: u32 = 1 << 4;
    pub const MASTER_DOWN: u32 = 1 << 5;
    pub const FAILOVER_IN_PROGRESS: u32 = 1 << 6;
    pub const PROMOTED: u32 = 1 << 7;
    pub const RECONF_SENT: u32 = 1 << 8;
    pub const RECONF_INPROG: u32 = 1 << 9;
    pub const RECONF_DONE: u32 = 1 << 10;
    pub const FORCE_FAILOVER: u32 = 1 << 11;
    pub const SCRIPT_KILL_SENT: u32 = 1 << 12;
    pub const MASTER_REBOOT: u32 = 1 << 13;
}

/// What an instance is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Master,
    Replica,
    Sentinel,
}

impl Kind {
    /// The name events and replies use.
    pub fn type_str(self) -> &'static str {
        match self {
            Kind::Master => "master",
            Kind::Replica => "slave",
            Kind::Sentinel => "sentinel",
        }
    }

    fn flag(self) -> u32 {
        match self {
            Kind::Master => flag::MASTER,
            Kind::Replica => flag::SLAVE,
            Kind::Sentinel => flag::SENTINEL,
        }
    }
}

/// States of a failover (Redis's `SENTINEL_FAILOVER_STATE_*`), in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum FailoverState {
    None,
    WaitStart,
    SelectSlave,
    SendSlaveofNoone,
    WaitPromotion,
    ReconfSlaves,
    UpdateConfig,
}

impl FailoverState {
    /// The name `SENTINEL MASTER` shows in `failover-state`.
    pub fn name(self) -> &'static str {
        match self {
            FailoverState::None => "none",
            FailoverState::WaitStart => "wait_start",
            FailoverState::SelectSlave => "select_slave",
            FailoverState::SendSlaveofNoone => "send_slaveof_noone",
            FailoverState::WaitPromotion => "wait_promotion",
            FailoverState::ReconfSlaves => "reconf_slaves",
            FailoverState::UpdateConfig => "update_config",
        }
    }
}

/// An instance address: the name it was given, and the IP it resolves to (the same text when
/// given as an IP; empty when a hostname could not be resolved yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Addr {
    pub hostname: String,
    pub ip: String,
    pub port: u16,
}

impl Addr {
    /// Same address: same port and same IP or (for unresolved names) same hostname.
    pub fn same(&self, other: &Addr) -> bool {
        self.port == other.port
            && (self.ip == other.ip || self.hostname.eq_ignore_ascii_case(&other.hostname))
    }
}

/// Why an address or instance could not be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CreateError {
    /// Port outside 0..=65535 (`EINVAL`).
    InvalidPort,
    /// Not an IP (or, with `resolve-hostnames`, not resolvable) (`ENOENT`).
    Unresolved,
    /// Same name (master), address (replica) or id (sentinel) already there (`EBUSY`).
    Duplicate,
}

/// One monitored instance (Redis's `sentinelRedisInstance`).
#[derive(Debug)]
pub(crate) struct Instance {
    pub kind: Kind,
    pub flags: u32,
    /// Master name, `ip:port` for a replica, run id for a sentinel.
    pub name: String,
    pub runid: Option<String>,
    pub config_epoch: u64,
    pub addr: Addr,
    pub link: LinkId,
    pub last_pub_time: i64,
    pub last_hello_time: i64,
    pub last_master_down_reply_time: i64,
    pub s_down_since_time: i64,
    pub o_down_since_time: i64,
    pub down_after_period: i64,
    pub master_reboot_down_after_period: i64,
    pub master_reboot_since_time: i64,
    pub info_refresh: i64,
    /// `rename-command`: original (lower case) -> new name.
    pub renamed_commands: Vec<(String, String)>,
    /// The role INFO last reported (`None`: none yet, or INFO without a role line).
    pub role_reported: Option<Kind>,
    pub role_reported_time: i64,
    pub slave_conf_change_time: i64,
    /// The master of a replica or sentinel entry.
    pub master: Option<InstId>,
    // Master specific.
    pub sentinels: Vec<InstId>,
    pub replicas: Vec<InstId>,
    pub quorum: u32,
    pub parallel_syncs: i64,
    pub auth_pass: Option<String>,
    pub auth_user: Option<String>,
    // Replica specific.
    pub master_link_down_time: i64,
    pub slave_priority: i64,
    pub replica_announced: bool,
    pub slave_reconf_sent_time: i64,
    pub slave_master_host: Option<String>,
    pub slave_master_port: i64,
    pub slave_master_link_up: bool,
    pub slave_repl_offset: u64,
    // Failover (the leader fields also hold a sentinel's vote).
    pub leader: Option<String>,
    pub leader_epoch: u64,
    pub failover_epoch: u64,
    pub failover_state: FailoverState,
    pub failover_state_change_time: i64,
    pub failover_start_time: i64,
    pub failover_timeout: i64,
    pub failover_delay_logged: i64,
    pub promoted_slave: Option<InstId>,
    pub notification_script: Option<String>,
    pub client_reconfig_script: Option<String>,
    /// The last INFO text (INFO-CACHE).
    pub info: Option<String>,
}

/// The connection(s) to an instance and what is known of its liveness (Redis's
/// `instanceLink`). Shared by the entries of one physical sentinel under several masters.
#[derive(Debug)]
pub(crate) struct Link {
    pub refcount: u32,
    pub disconnected: bool,
    pub pending_commands: i64,
    /// Command connection.
    pub cc: Option<Conn>,
    /// Pub/sub connection (masters and replicas only).
    pub pc: Option<Conn>,
    pub cc_conn_time: i64,
    pub pc_conn_time: i64,
    pub pc_last_activity: i64,
    pub last_avail_time: i64,
    pub act_ping_time: i64,
    pub last_ping_time: i64,
    pub last_pong_time: i64,
    pub last_reconn_time: i64,
}

impl Link {
    fn new(now: i64) -> Link {
        Link {
            refcount: 1,
            disconnected: true,
            pending_commands: 0,
            cc: None,
            pc: None,
            cc_conn_time: 0,
            pc_conn_time: 0,
            pc_last_activity: 0,
            // Counted from creation, so an instance never reached goes down on time.
            last_avail_time: now,
            act_ping_time: now,
            last_ping_time: 0,
            last_pong_time: now,
            last_reconn_time: 0,
        }
    }
}

/// Reset flag: keep the sentinels of the master.
pub(crate) const RESET_NO_SENTINELS: u32 = 1;
/// Reset flag: raise `+reset-master`.
pub(crate) const RESET_GENERATE_EVENT: u32 = 2;

impl Sentinel {
    /// An address for `host:port` (Redis's `createSentinelAddr`): `host` must be an IP unless
    /// `resolve-hostnames` is on; then an unresolvable name is kept (with an empty IP) only if
    /// `accept_unresolved`.
    pub(crate) fn make_addr(
        &mut self,
        host: &str,
        port: i64,
        accept_unresolved: bool,
    ) -> Result<Addr, CreateError> {
        if !(0..=65535).contains(&port) {
            return Err(CreateError::InvalidPort);
        }
        let ip = match resolve(host, self.resolve_hostnames) {
            Some(ip) => ip,
            None => {
                self.log(
                    Level::Warning,
                    format!("Failed to resolve hostname '{host}'"),
                );
                if self.resolve_hostnames && accept_unresolved {
                    String::new()
                } else {
                    return Err(CreateError::Unresolved);
                }
            }
        };
        Ok(Addr {
            hostname: host.to_string(),
            ip,
            port: port as u16,
        })
    }

    /// The address as announced to others: the hostname with `announce-hostnames`, else the IP.
    pub(crate) fn announce<'a>(&self, a: &'a Addr) -> &'a str {
        if self.announce_hostnames {
            &a.hostname
        } else {
            &a.ip
        }
    }

    /// `ip:port` (`[ip]:port` for IPv6), the name of a replica entry.
    pub(crate) fn announce_addr_port(&self, a: &Addr) -> String {
        let host = self.announce(a);
        if host.contains(':') {
            format!("[{host}]:{}", a.port)
        } else {
            format!("{host}:{}", a.port)
        }
    }

    /// Whether `host` names `a` (Redis's `sentinelAddrEqualsHostname`).
    pub(crate) fn addr_equals_hostname(&self, a: &Addr, host: &str) -> bool {
        match resolve(host, self.resolve_hostnames) {
            Some(ip) => a.ip.eq_ignore_ascii_case(&ip),
            None => {
                let mine = if self.resolve_hostnames {
                    &a.hostname
                } else {
                    &a.ip
                };
                mine.eq_ignore_ascii_case(host)
            }
        }
    }

    /// Creates an instance (Redis's `createSentinelRedisInstance`): a master (named), or a
    /// replica (named by its address) or sentinel (named by `name`, its run id) of `master`.
    pub(crate) fn create_instance(
        &mut self,
        name: &str,
        kind: Kind,
        host: &str,
        port: i64,
        quorum: u32,
        master: Option<InstId>,
    ) -> Result<InstId, CreateError> {
        let addr = self.make_addr(host, port, true)?;
        let name = match kind {
            Kind::Replica => self.announce_addr_port(&addr),
            _ => name.to_string(),
        };
        let taken = match (kind, master) {
            (Kind::Master, _) => self.masters.iter().any(|&m| self.inst(m).name == name),
            (Kind::Replica, Some(m)) => self
                .inst(m)
                .replicas
                .iter()
                .any(|&r| self.inst(r).name == name),
            (Kind::Sentinel, Some(m)) => self
                .inst(m)
                .sentinels
                .iter()
                .any(|&r| self.inst(r).name == name),
            _ => false,
        };
        if taken {
            return Err(CreateError::Duplicate);
        }
        let now = now_ms();
        let link = self.next_id();
        self.links.insert(link, Link::new(now));
        let down_after = match master {
            Some(m) => self.inst(m).down_after_period,
            None => self.periods.default_down_after,
        };
        let id = self.next_id();
        let ri = Instance {
            kind,
            flags: kind.flag(),
            name,
            runid: None,
            config_epoch: 0,
            addr,
            link,
            last_pub_time: now,
            last_hello_time: now,
            last_master_down_reply_time: now,
            s_down_since_time: 0,
            o_down_since_time: 0,
            down_after_period: down_after,
            master_reboot_down_after_period: 0,
            master_reboot_since_time: 0,
            info_refresh: 0,
            renamed_commands: Vec::new(),
            role_reported: match kind {
                Kind::Master => Some(Kind::Master),
                Kind::Replica => Some(Kind::Replica),
                Kind::Sentinel => None,
            },
            role_reported_time: now,
            slave_conf_change_time: now,
            master,
            sentinels: Vec::new(),
            replicas: Vec::new(),
            quorum,
            parallel_syncs: 1,
            auth_pass: None,
            auth_user: None,
            master_link_down_time: 0,
            slave_priority: 100,
            replica_announced: true,
            slave_reconf_sent_time: 0,
            slave_master_host: None,
            slave_master_port: 0,
            slave_master_link_up: false,
            slave_repl_offset: 0,
            leader: None,
            leader_epoch: 0,
            failover_epoch: 0,
            failover_state: FailoverState::None,
            failover_state_change_time: 0,
            failover_start_time: 0,
            failover_timeout: self.periods.default_failover_timeout,
            failover_delay_logged: 0,
            promoted_slave: None,
            notification_script: None,
            client_reconfig_script: None,
            info: None,
        };
        self.instances.insert(id, ri);
        match (kind, master) {
            (Kind::Master, _) => self.masters.push(id),
            (Kind::Replica, Some(m)) => self.inst_mut(m).replicas.push(id),
            (Kind::Sentinel, Some(m)) => self.inst_mut(m).sentinels.push(id),
            _ => {}
        }
        Ok(id)
    }

    /// Frees an instance, its replicas and sentinels, and its link if nobody else shares it
    /// (Redis's `releaseSentinelRedisInstance`). The caller unlinks it from its table.
    pub(crate) fn release_instance(&mut self, id: InstId) {
        let Some(ri) = self.instances.remove(&id) else {
            return;
        };
        for child in ri.replicas.iter().chain(&ri.sentinels) {
            self.release_instance(*child);
        }
        self.release_link(ri.link);
        if ri.kind == Kind::Replica && ri.flags & flag::PROMOTED != 0 {
            if let Some(m) = ri.master.and_then(|m| self.instances.get_mut(&m)) {
                m.promoted_slave = None;
            }
        }
    }

    /// Drops one user of a link; the last one closes its connections. Replies still due to
    /// the released instance are ignored when they come (they name an id that is gone).
    pub(crate) fn release_link(&mut self, link: LinkId) {
        let Some(l) = self.links.get_mut(&link) else {
            return;
        };
        l.refcount -= 1;
        if l.refcount == 0 {
            self.links.remove(&link);
        }
    }

    /// Removes a replica or sentinel entry from its master's table and frees it.
    pub(crate) fn remove_child(&mut self, master: InstId, child: InstId) {
        let m = self.inst_mut(master);
        m.replicas.retain(|&r| r != child);
        m.sentinels.retain(|&r| r != child);
        self.release_instance(child);
    }

    /// Removes a master and everything under it.
    pub(crate) fn remove_master(&mut self, master: InstId) {
        self.masters.retain(|&m| m != master);
        self.release_instance(master);
    }

    /// The replica of `master` at `host:port`.
    pub(crate) fn lookup_replica(
        &mut self,
        master: InstId,
        host: &str,
        port: i64,
    ) -> Option<InstId> {
        let addr = self.make_addr(host, port, false).ok()?;
        let key = self.announce_addr_port(&addr);
        self.inst(master)
            .replicas
            .iter()
            .copied()
            .find(|&r| self.inst(r).name == key)
    }

    /// The sentinel of `master` with this run id and (if given) address (Redis's
    /// `getSentinelRedisInstanceByAddrAndRunID`).
    pub(crate) fn sentinel_by_addr_and_runid(
        &mut self,
        master: InstId,
        addr: Option<(&str, i64)>,
        runid: Option<&str>,
    ) -> Option<InstId> {
        let addr = match addr {
            Some((host, port)) => Some(self.make_addr(host, port, true).ok()?),
            None => None,
        };
        self.inst(master).sentinels.iter().copied().find(|&s| {
            let ri = self.inst(s);
            if runid.is_some() && ri.runid.is_none() {
                return false;
            }
            runid.map_or(true, |r| ri.runid.as_deref() == Some(r))
                && addr.as_ref().map_or(true, |a| ri.addr.same(a))
        })
    }

    /// Removes every sentinel of `master` with this run id; returns how many.
    pub(crate) fn remove_matching_sentinel(&mut self, master: InstId, runid: &str) -> usize {
        let matching: Vec<InstId> = self
            .inst(master)
            .sentinels
            .iter()
            .copied()
            .filter(|&s| self.inst(s).runid.as_deref() == Some(runid))
            .collect();
        for s in &matching {
            self.remove_child(master, *s);
        }
        matching.len()
    }

    /// Resets a master (Redis's `sentinelResetMaster`): forgets its replicas (and, unless
    /// `RESET_NO_SENTINELS`, its sentinels), drops its connections, ends any failover, and
    /// starts its liveness clocks again.
    pub(crate) fn reset_master(&mut self, id: InstId, flags: u32) {
        let now = now_ms();
        let replicas = std::mem::take(&mut self.inst_mut(id).replicas);
        for r in replicas {
            self.release_instance(r);
        }
        if flags & RESET_NO_SENTINELS == 0 {
            let sentinels = std::mem::take(&mut self.inst_mut(id).sentinels);
            for s in sentinels {
                self.release_instance(s);
            }
        }
        let link = self.inst(id).link;
        self.close_conn(link, false);
        self.close_conn(link, true);
        let ri = self.inst_mut(id);
        ri.flags &= flag::MASTER;
        ri.leader = None;
        ri.failover_state = FailoverState::None;
        ri.failover_state_change_time = 0;
        ri.failover_start_time = 0;
        ri.promoted_slave = None;
        ri.runid = None;
        ri.slave_master_host = None;
        ri.role_reported_time = now;
        ri.role_reported = Some(Kind::Master);
        let l = self.link_of_mut(id);
        l.act_ping_time = now;
        l.last_ping_time = 0;
        l.last_avail_time = now;
        l.last_pong_time = now;
        if flags & RESET_GENERATE_EVENT != 0 {
            self.event_at(Level::Warning, "+reset-master", id, "");
        }
    }

    /// Points a master at a new address after a failover (Redis's
    /// `sentinelResetMasterAndChangeAddress`): its replicas are forgotten and re-added from
    /// their addresses (`+slave`), the old master among them, and the config is saved.
    pub(crate) fn reset_master_and_change_address(
        &mut self,
        id: InstId,
        host: &str,
        port: i64,
    ) -> Result<(), CreateError> {
        let newaddr = self.make_addr(host, port, false)?;
        let mut keep: Vec<Addr> = self
            .inst(id)
            .replicas
            .iter()
            .map(|&r| self.inst(r).addr.clone())
            .filter(|a| !a.same(&newaddr))
            .collect();
        let old = self.inst(id).addr.clone();
        if !newaddr.same(&old) {
            keep.push(old);
        }
        self.reset_master(id, RESET_NO_SENTINELS);
        let ri = self.inst_mut(id);
        ri.addr = newaddr;
        ri.o_down_since_time = 0;
        ri.s_down_since_time = 0;
        let quorum = ri.quorum;
        for a in keep {
            if let Ok(r) = self.create_instance(
                "",
                Kind::Replica,
                &a.hostname,
                a.port.into(),
                quorum,
                Some(id),
            ) {
                self.event_at(Level::Notice, "+slave", r, "");
            }
        }
        self.flush_config();
        Ok(())
    }

    /// Whether no SDOWN or ODOWN began in the last `ms` milliseconds.
    pub(crate) fn no_down_for(&self, id: InstId, ms: i64, now: i64) -> bool {
        let ri = self.inst(id);
        let most_recent = ri.s_down_since_time.max(ri.o_down_since_time);
        most_recent == 0 || now - most_recent > ms
    }

    /// The address clients should use for a master: the promoted replica's once the failover
    /// reached the point where the new configuration is announced.
    pub(crate) fn current_master_addr(&self, id: InstId) -> &Addr {
        let ri = self.inst(id);
        match ri.promoted_slave {
            Some(p)
                if ri.flags & flag::FAILOVER_IN_PROGRESS != 0
                    && ri.failover_state >= FailoverState::ReconfSlaves =>
            {
                &self.inst(p).addr
            }
            _ => &ri.addr,
        }
    }

    /// Sets a master's down-after period on its replicas and sentinels too.
    pub(crate) fn propagate_down_after(&mut self, master: InstId) {
        let ri = self.inst(master);
        let period = ri.down_after_period;
        let children: Vec<InstId> = ri.replicas.iter().chain(&ri.sentinels).copied().collect();
        for c in children {
            self.inst_mut(c).down_after_period = period;
        }
    }

    /// The name to send `command` as to instance `id` (its master's `rename-command`).
    pub(crate) fn map_command(&self, id: InstId, command: &str) -> String {
        let ri = self.inst(id);
        let owner = match (ri.kind, ri.master) {
            (Kind::Master, _) | (_, None) => ri,
            (_, Some(m)) => self.inst(m),
        };
        owner
            .renamed_commands
            .iter()
            .find(|(from, _)| from.eq_ignore_ascii_case(command))
            .map_or_else(|| command.to_string(), |(_, to)| to.clone())
    }

    /// Every instance id under `master` (replicas then sentinels).
    pub(crate) fn children(&self, master: InstId) -> Vec<InstId> {
        let ri = self.inst(master);
        ri.replicas.iter().chain(&ri.sentinels).copied().collect()
    }
}

/// `host` as an IP: itself if it is one, or (with `resolve`) the first address it resolves to.
fn resolve(host: &str, resolve: bool) -> Option<String> {
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        return Some(ip.to_string());
    }
    if !resolve {
        return None;
    }
    use std::net::ToSocketAddrs;
    (host, 0)
        .to_socket_addrs()
        .ok()?
        .next()
        .map(|a| a.ip().to_string())
}
