//! Sentinel mode: a node that monitors masters and their replicas, agrees with other sentinels
//! that a master is down, elects a leader and fails over, as Redis 7.0's `redis-sentinel` does.
//!
//! The state is one [`Sentinel`] inside the node's [`NodeState`], behind the node lock, like
//! everything else a node owns. It is driven from three places, each taking the lock briefly:
//!
//! - the **timer** (`timer.rs`): Redis's `sentinelTimer`, every 52..100 ms (scaled by the node's
//!   [`Timers`](crate::config::Timers)): reconnect links, send PING / INFO / hello, check
//!   SDOWN and ODOWN, ask other sentinels, run the failover state machine;
//! - the **links** (`link.rs`): one task per connection to an instance (a command connection,
//!   and a pub/sub one to masters and replicas), dialled through the node's fault gate; every
//!   reply is handed back under the lock to the callback it was sent with (INFO parsing,
//!   PING bookkeeping, hello messages, votes), as hiredis does for Redis;
//! - **commands** (`commands.rs`): SENTINEL, INFO, ROLE, PUBLISH to the hello channel.
//!
//! Events are queued while the lock is held and published (and logged) before it is released,
//! in order, on channels named after them.

mod commands;
mod config;
mod failover;
mod failure;
mod instance;
mod link;
mod monitor;
mod scripts;
mod show;
pub(crate) mod timer;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock, Weak};
use std::time::Instant;

use crate::fault::Faults;
use crate::logging::Level;
use crate::node::{Node, NodeState};

pub use commands::table;
pub use config::{parse_file, SentinelConfig};
pub(crate) use instance::{flag, Addr, FailoverState, InstId, Instance, Kind, Link, LinkId};

/// The channel sentinels announce themselves on.
pub const HELLO_CHANNEL: &str = "__sentinel__:hello";

/// Periods a sentinel runs on, in milliseconds: the ones `SENTINEL DEBUG` shows and sets, and
/// the ones Redis hard-codes. They start from the node's [`Timers`](crate::config::Timers).
#[derive(Debug, Clone)]
pub(crate) struct Periods {
    pub tick: i64,
    pub info: i64,
    pub fast_info: i64,
    pub ping: i64,
    pub ask: i64,
    pub publish: i64,
    pub default_down_after: i64,
    pub default_failover_timeout: i64,
    pub tilt_trigger: i64,
    pub tilt_period: i64,
    pub slave_reconf_timeout: i64,
    pub min_link_reconnect: i64,
    pub election_timeout: i64,
    pub script_max_runtime: i64,
    pub script_retry_delay: i64,
    pub max_desync: i64,
}

impl Periods {
    fn from_timers(t: &crate::config::Timers) -> Periods {
        let ms = |d: std::time::Duration| d.as_millis().max(1) as i64;
        Periods {
            tick: ms(t.sentinel_tick),
            info: ms(t.sentinel_info),
            fast_info: ms(t.sentinel_fast_info),
            ping: ms(t.sentinel_ping),
            ask: ms(t.sentinel_ask),
            publish: ms(t.sentinel_publish),
            default_down_after: ms(t.sentinel_default_down_after),
            default_failover_timeout: ms(t.sentinel_default_failover_timeout),
            tilt_trigger: ms(t.sentinel_tilt_trigger),
            tilt_period: ms(t.sentinel_tilt_period),
            slave_reconf_timeout: ms(t.sentinel_slave_reconf_timeout),
            min_link_reconnect: ms(t.sentinel_min_link_reconnect),
            election_timeout: ms(t.sentinel_election_timeout),
            script_max_runtime: ms(t.sentinel_script_max_runtime),
            script_retry_delay: ms(t.sentinel_script_retry_delay),
            max_desync: ms(t.sentinel_max_desync),
        }
    }
}

/// Something to log or publish once the lock is released, in the order it happened.
#[derive(Debug)]
pub(crate) enum Output {
    /// A sentinel event: logged as `<kind> <text>` and published on channel `<kind>` (unless
    /// it is a debug-level one).
    Event {
        level: Level,
        kind: &'static str,
        text: String,
    },
    /// A plain log line.
    Log { level: Level, text: String },
}

/// `SENTINEL SIMULATE-FAILURE` flags.
pub(crate) mod simfailure {
    pub const CRASH_AFTER_ELECTION: u8 = 1;
    pub const CRASH_AFTER_PROMOTION: u8 = 2;
}

/// A sentinel's whole state (Redis's `struct sentinelState` and the instances it monitors).
#[derive(Debug)]
pub struct Sentinel {
    /// This sentinel's id (`SENTINEL MYID`), persisted in the config file.
    pub(crate) myid: String,
    /// The epoch: raised by failovers and votes, shared by all masters.
    pub(crate) current_epoch: u64,
    /// Monitored masters, in the order they were added.
    pub(crate) masters: Vec<InstId>,
    /// Every instance (masters, replicas, sentinels), by id.
    pub(crate) instances: HashMap<InstId, Instance>,
    /// Connections to instances, shared by the entries of one physical sentinel.
    pub(crate) links: HashMap<LinkId, Link>,
    next_id: u64,
    pub(crate) tilt: bool,
    pub(crate) tilt_start_time: i64,
    pub(crate) previous_time: i64,
    pub(crate) announce_ip: Option<String>,
    pub(crate) announce_port: u16,
    pub(crate) deny_scripts_reconfig: bool,
    pub(crate) resolve_hostnames: bool,
    pub(crate) announce_hostnames: bool,
    pub(crate) sentinel_user: Option<String>,
    pub(crate) sentinel_pass: Option<String>,
    pub(crate) simfailure: u8,
    pub(crate) periods: Periods,
    /// The config file it rewrites with what it learns.
    pub(crate) config_file: PathBuf,
    /// The port it listens on (announced in hello messages unless `announce-port`).
    pub(crate) port: u16,
    /// `requirepass`: what it authenticates to other sentinels with when no `sentinel-pass`.
    pub(crate) requirepass: Option<String>,
    pub(crate) scripts: scripts::Scripts,
    /// Events and log lines waiting for the lock to be released.
    pub(crate) out: Vec<Output>,
    /// `SENTINEL SIMULATE-FAILURE` fired: the node must die now (exit code 99).
    pub(crate) crashed: bool,
    /// A crash ends the process (the `rediscover-server` binary), not just the node.
    pub(crate) exit_on_crash: bool,
    node: Weak<Node>,
    faults: Arc<Faults>,
}

/// Milliseconds on a clock that never goes back, on the scale of Unix time (Redis's
/// `mstime()`, without its jumps).
pub(crate) fn now_ms() -> i64 {
    static ANCHOR: OnceLock<(Instant, i64)> = OnceLock::new();
    let (at, unix) = ANCHOR.get_or_init(|| (Instant::now(), crate::node::unix_ms()));
    unix + at.elapsed().as_millis() as i64
}

/// A random number (Redis's `rand()`).
pub(crate) fn rand() -> u64 {
    crate::keyspace::random_u64()
}

impl Sentinel {
    fn new(config: SentinelConfig, node: &Arc<Node>, st: &NodeState) -> Sentinel {
        let now = now_ms();
        Sentinel {
            myid: String::new(),
            current_epoch: 0,
            masters: Vec::new(),
            instances: HashMap::new(),
            links: HashMap::new(),
            next_id: 1,
            tilt: false,
            tilt_start_time: 0,
            previous_time: now,
            announce_ip: None,
            announce_port: 0,
            deny_scripts_reconfig: true,
            resolve_hostnames: false,
            announce_hostnames: false,
            sentinel_user: None,
            sentinel_pass: None,
            simfailure: 0,
            periods: Periods::from_timers(&st.config.timers),
            config_file: config.path.clone(),
            port: st.config.port,
            requirepass: st
                .config
                .requirepass
                .as_ref()
                .map(|p| String::from_utf8_lossy(p).into_owned()),
            scripts: Default::default(),
            out: Vec::new(),
            crashed: false,
            exit_on_crash: false,
            node: Arc::downgrade(node),
            faults: node.faults.clone(),
        }
    }

    /// This sentinel's id (`SENTINEL MYID`; empty until the node has [`started`]).
    pub fn id(&self) -> &str {
        &self.myid
    }

    /// Makes `SENTINEL SIMULATE-FAILURE` end the whole process with exit code 99, as Redis
    /// does, rather than only stop this node (for the `rediscover-server` binary).
    pub fn exit_on_crash(&mut self, exit: bool) {
        self.exit_on_crash = exit;
    }

    pub(crate) fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// The instance `id`. Ids come from the instance tables, so a missing one is a bug.
    pub(crate) fn inst(&self, id: InstId) -> &Instance {
        &self.instances[&id]
    }

    /// The instance `id`, mutably.
    pub(crate) fn inst_mut(&mut self, id: InstId) -> &mut Instance {
        self.instances
            .get_mut(&id)
            .expect("instance ids come from the instance tables")
    }

    /// The link of instance `id`.
    pub(crate) fn link_of(&self, id: InstId) -> &Link {
        &self.links[&self.inst(id).link]
    }

    /// The link of instance `id`, mutably.
    pub(crate) fn link_of_mut(&mut self, id: InstId) -> &mut Link {
        let link = self.inst(id).link;
        self.links
            .get_mut(&link)
            .expect("every instance holds a live link")
    }

    /// Queues a log line.
    pub(crate) fn log(&mut self, level: Level, text: impl Into<String>) {
        self.out.push(Output::Log {
            level,
            text: text.into(),
        });
    }

    /// `%@`: how an event names an instance: `master <name> <ip> <port>`, or for a replica or
    /// a sentinel `<type> <name> <ip> <port> @ <master> <ip> <port>`.
    pub(crate) fn at(&self, id: InstId) -> String {
        let ri = self.inst(id);
        let own = format!(
            "{} {} {} {}",
            ri.kind.type_str(),
            ri.name,
            self.announce(&ri.addr),
            ri.addr.port
        );
        match ri.master {
            Some(m) if ri.kind != Kind::Master => {
                let m = self.inst(m);
                format!(
                    "{own} @ {} {} {}",
                    m.name,
                    self.announce(&m.addr),
                    m.addr.port
                )
            }
            _ => own,
        }
    }

    /// Raises an event (Redis's `sentinelEvent`). Warnings about an instance also run its
    /// master's notification script.
    pub(crate) fn event(
        &mut self,
        level: Level,
        kind: &'static str,
        ri: Option<InstId>,
        text: String,
    ) {
        if level == Level::Warning {
            if let Some(id) = ri {
                let master = match self.inst(id).kind {
                    Kind::Master => Some(id),
                    _ => self.inst(id).master,
                };
                if let Some(script) = master.and_then(|m| self.inst(m).notification_script.clone())
                {
                    self.schedule_script(script, vec![kind.to_string(), text.clone()]);
                }
            }
        }
        self.out.push(Output::Event { level, kind, text });
    }

    /// An event about instance `id` whose text is `%@` followed by `rest`.
    pub(crate) fn event_at(&mut self, level: Level, kind: &'static str, id: InstId, rest: &str) {
        let text = format!("{}{rest}", self.at(id));
        self.event(level, kind, Some(id), text);
    }

    /// Masters, in order.
    pub(crate) fn master_ids(&self) -> Vec<InstId> {
        self.masters.clone()
    }

    /// The master named `name`.
    pub(crate) fn master_by_name(&self, name: &[u8]) -> Option<InstId> {
        self.masters
            .iter()
            .copied()
            .find(|&m| self.inst(m).name.as_bytes() == name)
    }
}

/// Publishes and logs what the sentinel queued while the lock was held. Call before
/// releasing the lock after any sentinel work.
pub(crate) fn flush_output(st: &mut NodeState) {
    let Some(s) = st.sentinel.as_mut() else {
        return;
    };
    if s.out.is_empty() {
        return;
    }
    let out = std::mem::take(&mut s.out);
    for o in out {
        match o {
            Output::Log { level, text } => st.log(level, &text),
            Output::Event { level, kind, text } => {
                st.log(level, &format!("{kind} {text}"));
                if level != Level::Debug {
                    let mut sink = rediscover::resp::ReplyWriter::new(false);
                    let mut over_limit = Vec::new();
                    st.pubsub.publish(
                        &mut st.clients,
                        &st.config.obuf_limits.pubsub,
                        (0, &mut sink),
                        crate::pubsub::Message {
                            channel: kind.as_bytes(),
                            payload: text.as_bytes(),
                            shard: false,
                        },
                        &mut over_limit,
                    );
                    for id in over_limit {
                        st.close_for_output_limit(id);
                    }
                }
            }
        }
    }
}

/// Makes a node in sentinel mode from `config` (whose `config_file` names the sentinel's
/// configuration file) and the sentinel directives read from it, with the given faults (a
/// restarted node keeps its predecessor's). Errors are Redis's startup refusals: a bad
/// directive (its FATAL CONFIG FILE ERROR block) or a config file it cannot rewrite. Call
/// [`started`] once the node listens.
pub fn new_node(
    config: crate::config::Config,
    sentinel: SentinelConfig,
    faults: Arc<Faults>,
) -> Result<Arc<Node>, String> {
    // Redis refuses to run a sentinel whose state it could not save.
    if let Err(e) = std::fs::OpenOptions::new()
        .append(true)
        .open(&sentinel.path)
    {
        let text = e.to_string();
        let text = text.split(" (os error").next().unwrap_or(&text).to_string();
        return Err(format!(
            "Sentinel config file {} is not writable: {text}. Exiting...",
            sentinel.path.display()
        ));
    }
    let node = Node::with_faults(config, faults);
    {
        let mut guard = node.lock();
        let st = &mut *guard;
        st.commands = table();
        // `user` lines and `aclfile` again, now that rules may name only a sentinel's commands.
        st.acl = crate::acl::Acl::at_startup(&st.config, true).map_err(|lines| lines.join("\n"))?;
        let mut s = Sentinel::new(sentinel.clone(), &node, st);
        s.apply_config(&sentinel)?;
        st.sentinel = Some(Box::new(s));
    }
    Ok(node)
}

/// A sentinel node made by [`new_node`] now listens on `port`: it saves a new id if it has
/// none, and logs `Sentinel ID is ...` and a `+monitor` event per master, as Redis does once
/// it runs.
pub fn started(node: &Node, port: u16) {
    let mut guard = node.lock();
    let st = &mut *guard;
    let Some(s) = st.sentinel.as_mut() else {
        return;
    };
    s.port = port;
    if s.myid.is_empty() {
        s.myid = crate::node::random_hex(40);
        s.flush_config();
    }
    let id = s.myid.clone();
    s.log(Level::Warning, format!("Sentinel ID is {id}"));
    for m in s.master_ids() {
        let quorum = s.inst(m).quorum;
        s.event_at(Level::Warning, "+monitor", m, &format!(" quorum {quorum}"));
    }
    flush_output(st);
}
