//! The sentinel's configuration: the `sentinel ...` directives of its config file (read in
//! Redis's order: the ones monitors depend on, then `monitor`, then the rest, whatever their
//! order in the file), and the rewrite of that file with everything learned since (replicas,
//! sentinels, epochs, the current master address), so that a restarted sentinel resumes.

use std::path::{Path, PathBuf};

use super::instance::CreateError;
use super::monitor::{atoi, strtoull};
use super::{Kind, Sentinel};
use crate::logging::Level;

/// The `sentinel` lines of a config file, with where they came from (for error messages).
#[derive(Debug, Clone, Default)]
pub struct SentinelConfig {
    /// The file: a sentinel rewrites it with its state.
    pub path: PathBuf,
    /// Each `sentinel` line: its number, its text, and its words after `sentinel`.
    pub lines: Vec<(usize, String, Vec<String>)>,
}

impl SentinelConfig {
    /// A config for `path` with no directive yet.
    pub fn new(path: impl Into<PathBuf>) -> SentinelConfig {
        SentinelConfig {
            path: path.into(),
            lines: Vec::new(),
        }
    }
}

/// Redis's configuration error block, as printed to standard error before exiting.
pub(crate) fn fatal(line: usize, shown: &str, err: &str) -> String {
    format!(
        "\n*** FATAL CONFIG FILE ERROR (Redis {}) ***\n\
         Reading the configuration file, at line {line}\n\
         >>> '{shown}'\n{err}\n",
        crate::REDIS_VERSION
    )
}

/// Reads a sentinel config file: the `sentinel` lines into a [`SentinelConfig`], the other
/// directives applied to `config` (Redis's errors, as its FATAL CONFIG FILE ERROR block).
pub fn parse_file(
    path: &Path,
    config: &mut crate::config::Config,
) -> Result<SentinelConfig, String> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        format!(
            "Fatal error, can't open config file '{}': {e}\n",
            path.display()
        )
    })?;
    let mut out = SentinelConfig::new(path);
    for (i, raw) in text.split('\n').enumerate() {
        let shown = raw.trim();
        for (name, args) in
            crate::config_table::parse_config_file(raw).map_err(|e| fatal(i + 1, shown, &e))?
        {
            if name == "sentinel" {
                // A bare `sentinel` line is what `--sentinel` becomes: nothing to do.
                if !args.is_empty() {
                    out.lines.push((i + 1, shown.to_string(), args));
                }
            } else {
                crate::config_table::apply_directive(config, &name, &args)
                    .map_err(|e| fatal(i + 1, shown, &e))?;
            }
        }
    }
    Ok(out)
}

/// Directives applied before the monitors, wherever they are in the file.
const PRE_MONITOR: &[&str] = &[
    "announce-ip",
    "announce-port",
    "deny-scripts-reconfig",
    "sentinel-user",
    "sentinel-pass",
    "current-epoch",
    "myid",
    "resolve-hostnames",
    "announce-hostnames",
];

fn create_error(e: CreateError, kind: Kind) -> &'static str {
    match (e, kind) {
        (CreateError::Duplicate, Kind::Master) => "Duplicate master name.",
        (CreateError::Duplicate, Kind::Replica) => "Duplicate hostname and port for replica.",
        (CreateError::Duplicate, Kind::Sentinel) => "Duplicate runid for sentinel.",
        (CreateError::Unresolved, _) => "Can't resolve instance hostname.",
        (CreateError::InvalidPort, _) => "Invalid port number.",
    }
}

fn yes_no(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "yes" => Some(true),
        "no" => Some(false),
        _ => None,
    }
}

/// Whether `path` could be run (`access(path, X_OK)`).
pub(crate) fn executable(path: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

impl Sentinel {
    /// Applies the `sentinel` directives (Redis's `loadSentinelConfigFromQueue`).
    pub(crate) fn apply_config(&mut self, config: &SentinelConfig) -> Result<(), String> {
        let is_pre = |a: &[String]| PRE_MONITOR.iter().any(|p| a[0].eq_ignore_ascii_case(p));
        let is_monitor = |a: &[String]| a[0].eq_ignore_ascii_case("monitor");
        let pre = config.lines.iter().filter(|l| is_pre(&l.2));
        let monitors = config.lines.iter().filter(|l| is_monitor(&l.2));
        let post = config
            .lines
            .iter()
            .filter(|l| !is_pre(&l.2) && !is_monitor(&l.2));
        for (number, shown, args) in pre.chain(monitors).chain(post) {
            self.handle_directive(args)
                .map_err(|e| fatal(*number, shown, e))?;
        }
        Ok(())
    }

    /// One `sentinel` directive (Redis's `sentinelHandleConfiguration`).
    fn handle_directive(&mut self, argv: &[String]) -> Result<(), &'static str> {
        let name = argv[0].to_ascii_lowercase();
        let argc = argv.len();
        let master = |s: &Sentinel| {
            s.master_by_name(argv[1].as_bytes())
                .ok_or("No such master with specified name.")
        };
        match (name.as_str(), argc) {
            ("monitor", 5) => {
                let quorum = atoi(&argv[4]);
                if quorum <= 0 {
                    return Err("Quorum must be 1 or greater.");
                }
                self.create_instance(
                    &argv[1],
                    Kind::Master,
                    &argv[2],
                    atoi(&argv[3]),
                    quorum as u32,
                    None,
                )
                .map_err(|e| create_error(e, Kind::Master))?;
            }
            ("down-after-milliseconds", 3) => {
                let m = master(self)?;
                let v = atoi(&argv[2]);
                self.inst_mut(m).down_after_period = v;
                if v <= 0 {
                    return Err("negative or zero time parameter.");
                }
                self.propagate_down_after(m);
            }
            ("failover-timeout", 3) => {
                let m = master(self)?;
                let v = atoi(&argv[2]);
                self.inst_mut(m).failover_timeout = v;
                if v <= 0 {
                    return Err("negative or zero time parameter.");
                }
            }
            ("parallel-syncs", 3) => {
                let m = master(self)?;
                self.inst_mut(m).parallel_syncs = atoi(&argv[2]);
            }
            ("notification-script", 3) => {
                let m = master(self)?;
                if !executable(&argv[2]) {
                    return Err("Notification script seems non existing or non executable.");
                }
                self.inst_mut(m).notification_script = Some(argv[2].clone());
            }
            ("client-reconfig-script", 3) => {
                let m = master(self)?;
                if !executable(&argv[2]) {
                    return Err(
                        "Client reconfiguration script seems non existing or non executable.",
                    );
                }
                self.inst_mut(m).client_reconfig_script = Some(argv[2].clone());
            }
            ("auth-pass", 3) => {
                let m = master(self)?;
                self.inst_mut(m).auth_pass = Some(argv[2].clone());
            }
            ("auth-user", 3) => {
                let m = master(self)?;
                self.inst_mut(m).auth_user = Some(argv[2].clone());
            }
            ("current-epoch", 2) => {
                let e = strtoull(&argv[1]);
                if e > self.current_epoch {
                    self.current_epoch = e;
                }
            }
            ("myid", 2) => {
                if argv[1].len() != 40 {
                    return Err("Malformed Sentinel id in myid option.");
                }
                self.myid = argv[1].clone();
            }
            ("config-epoch", 3) => {
                let m = master(self)?;
                let e = strtoull(&argv[2]);
                self.inst_mut(m).config_epoch = e;
                if e > self.current_epoch {
                    self.current_epoch = e;
                }
            }
            ("leader-epoch", 3) => {
                let m = master(self)?;
                self.inst_mut(m).leader_epoch = strtoull(&argv[2]);
            }
            ("known-slave" | "known-replica", 4) => {
                let m = master(self)?;
                let quorum = self.inst(m).quorum;
                self.create_instance("", Kind::Replica, &argv[2], atoi(&argv[3]), quorum, Some(m))
                    .map_err(|e| create_error(e, Kind::Replica))?;
            }
            ("known-sentinel", 4) => {} // The old form without a run id is ignored.
            ("known-sentinel", 5) => {
                let m = master(self)?;
                let quorum = self.inst(m).quorum;
                let s = self
                    .create_instance(
                        &argv[4],
                        Kind::Sentinel,
                        &argv[2],
                        atoi(&argv[3]),
                        quorum,
                        Some(m),
                    )
                    .map_err(|e| create_error(e, Kind::Sentinel))?;
                self.inst_mut(s).runid = Some(argv[4].clone());
                self.share_known_sentinel_link(s);
            }
            ("rename-command", 4) => {
                let m = master(self)?;
                let ri = self.inst_mut(m);
                if ri
                    .renamed_commands
                    .iter()
                    .any(|(from, _)| from.eq_ignore_ascii_case(&argv[2]))
                {
                    return Err("Same command renamed multiple times with rename-command.");
                }
                ri.renamed_commands.push((argv[2].clone(), argv[3].clone()));
            }
            ("announce-ip", 2) => {
                if !argv[1].is_empty() {
                    self.announce_ip = Some(argv[1].clone());
                }
            }
            ("announce-port", 2) => self.announce_port = atoi(&argv[1]) as u16,
            ("deny-scripts-reconfig", 2) => {
                self.deny_scripts_reconfig = yes_no(&argv[1])
                    .ok_or("Please specify yes or no for the deny-scripts-reconfig options.")?;
            }
            ("sentinel-user", 2) => {
                if !argv[1].is_empty() {
                    self.sentinel_user = Some(argv[1].clone());
                }
            }
            ("sentinel-pass", 2) => {
                if !argv[1].is_empty() {
                    self.sentinel_pass = Some(argv[1].clone());
                }
            }
            ("resolve-hostnames", 2) => {
                self.resolve_hostnames = yes_no(&argv[1])
                    .ok_or("Please specify yes or no for the resolve-hostnames option.")?;
            }
            ("announce-hostnames", 2) => {
                self.announce_hostnames = yes_no(&argv[1])
                    .ok_or("Please specify yes or no for the announce-hostnames option.")?;
            }
            ("master-reboot-down-after-period", 3) => {
                let m = master(self)?;
                let v = atoi(&argv[2]);
                self.inst_mut(m).master_reboot_down_after_period = v;
                if v < 0 {
                    return Err("negative time parameter.");
                }
            }
            _ => return Err("Unrecognized sentinel configuration statement."),
        }
        Ok(())
    }

    /// A sentinel read from the config shares the link of its entries under other masters.
    fn share_known_sentinel_link(&mut self, id: super::InstId) {
        let Some(runid) = self.inst(id).runid.clone() else {
            return;
        };
        let own = self.inst(id).master;
        for m in self.master_ids() {
            if Some(m) == own {
                continue;
            }
            if let Some(other) = self.sentinel_by_addr_and_runid(m, None, Some(&runid)) {
                let old = self.inst(id).link;
                let shared = self.inst(other).link;
                if old != shared {
                    self.release_link(old);
                    self.inst_mut(id).link = shared;
                    if let Some(l) = self.links.get_mut(&shared) {
                        l.refcount += 1;
                    }
                }
                return;
            }
        }
    }

    /// The `sentinel` lines describing the current state, each with its rewrite key (Redis's
    /// `rewriteConfigSentinelOption`, in its order).
    fn state_lines(&self) -> Vec<(&'static str, String)> {
        let mut out = vec![("myid", format!("sentinel myid {}", self.myid))];
        if !self.deny_scripts_reconfig {
            out.push((
                "deny-scripts-reconfig",
                "sentinel deny-scripts-reconfig no".into(),
            ));
        }
        if self.resolve_hostnames {
            out.push(("resolve-hostnames", "sentinel resolve-hostnames yes".into()));
        }
        if self.announce_hostnames {
            out.push((
                "announce-hostnames",
                "sentinel announce-hostnames yes".into(),
            ));
        }
        for &m in &self.masters {
            let ri = self.inst(m);
            let name = &ri.name;
            let addr = self.current_master_addr(m);
            out.push((
                "monitor",
                format!(
                    "sentinel monitor {name} {} {} {}",
                    self.announce(addr),
                    addr.port,
                    ri.quorum
                ),
            ));
            if ri.down_after_period != self.periods.default_down_after {
                out.push((
                    "down-after-milliseconds",
                    format!(
                        "sentinel down-after-milliseconds {name} {}",
                        ri.down_after_period
                    ),
                ));
            }
            if ri.failover_timeout != self.periods.default_failover_timeout {
                out.push((
                    "failover-timeout",
                    format!("sentinel failover-timeout {name} {}", ri.failover_timeout),
                ));
            }
            if ri.parallel_syncs != 1 {
                out.push((
                    "parallel-syncs",
                    format!("sentinel parallel-syncs {name} {}", ri.parallel_syncs),
                ));
            }
            if let Some(s) = &ri.notification_script {
                out.push((
                    "notification-script",
                    format!("sentinel notification-script {name} {s}"),
                ));
            }
            if let Some(s) = &ri.client_reconfig_script {
                out.push((
                    "client-reconfig-script",
                    format!("sentinel client-reconfig-script {name} {s}"),
                ));
            }
            if let Some(p) = &ri.auth_pass {
                out.push(("auth-pass", format!("sentinel auth-pass {name} {p}")));
            }
            if let Some(u) = &ri.auth_user {
                out.push(("auth-user", format!("sentinel auth-user {name} {u}")));
            }
            if ri.master_reboot_down_after_period != 0 {
                out.push((
                    "master-reboot-down-after-period",
                    format!(
                        "sentinel master-reboot-down-after-period {name} {}",
                        ri.master_reboot_down_after_period
                    ),
                ));
            }
            out.push((
                "config-epoch",
                format!("sentinel config-epoch {name} {}", ri.config_epoch),
            ));
            out.push((
                "leader-epoch",
                format!("sentinel leader-epoch {name} {}", ri.leader_epoch),
            ));
            for &r in &ri.replicas {
                // The promoted replica, once announced as the master, is written as the old
                // master's address (the one that will be its replica).
                let mut a = &self.inst(r).addr;
                if a.same(addr) {
                    a = &ri.addr;
                }
                out.push((
                    "known-replica",
                    format!(
                        "sentinel known-replica {name} {} {}",
                        self.announce(a),
                        a.port
                    ),
                ));
            }
            for &s in &ri.sentinels {
                let si = self.inst(s);
                if let Some(runid) = &si.runid {
                    out.push((
                        "known-sentinel",
                        format!(
                            "sentinel known-sentinel {name} {} {} {runid}",
                            self.announce(&si.addr),
                            si.addr.port
                        ),
                    ));
                }
            }
            for (from, to) in &ri.renamed_commands {
                out.push((
                    "rename-command",
                    format!("sentinel rename-command {name} {from} {to}"),
                ));
            }
        }
        out.push((
            "current-epoch",
            format!("sentinel current-epoch {}", self.current_epoch),
        ));
        if let Some(ip) = &self.announce_ip {
            out.push(("announce-ip", format!("sentinel announce-ip {}", repr(ip))));
        }
        if self.announce_port != 0 {
            out.push((
                "announce-port",
                format!("sentinel announce-port {}", self.announce_port),
            ));
        }
        if let Some(u) = &self.sentinel_user {
            out.push(("sentinel-user", format!("sentinel sentinel-user {u}")));
        }
        if let Some(p) = &self.sentinel_pass {
            out.push(("sentinel-pass", format!("sentinel sentinel-pass {p}")));
        }
        out
    }

    /// The config file rewritten with the current state: each `sentinel` line of the old
    /// file is replaced in place by the next new line of the same kind (or dropped), other
    /// lines are kept, and the new lines left over are appended, as Redis's rewrite does.
    fn rewritten_config(&self, old: &str) -> String {
        let mut fresh: Vec<(&'static str, String)> = self.state_lines();
        let mut out: Vec<String> = Vec::new();
        let mut wrote_port = false;
        for raw in old.split('\n') {
            let words = rediscover::resp::split_args(raw.trim().as_bytes()).unwrap_or_default();
            let first = words
                .first()
                .map(|w| String::from_utf8_lossy(w).to_ascii_lowercase());
            match first.as_deref() {
                Some("sentinel") if words.len() >= 2 => {
                    let key = String::from_utf8_lossy(&words[1]).to_ascii_lowercase();
                    let key = if key == "known-slave" {
                        "known-replica".to_string()
                    } else {
                        key
                    };
                    if let Some(i) = fresh.iter().position(|(k, _)| *k == key) {
                        out.push(fresh.remove(i).1);
                    }
                }
                Some("port") if !raw.trim_start().starts_with('#') => {
                    out.push(format!("port {}", self.port));
                    wrote_port = true;
                }
                _ => out.push(raw.to_string()),
            }
        }
        while out.last().is_some_and(|l| l.trim().is_empty()) {
            out.pop();
        }
        let mut appended = Vec::new();
        if !wrote_port && self.port != 26379 {
            appended.push(format!("port {}", self.port));
        }
        appended.extend(fresh.into_iter().map(|(_, l)| l));
        if !appended.is_empty() {
            if !out.iter().any(|l| l == "# Generated by CONFIG REWRITE") {
                out.push("# Generated by CONFIG REWRITE".into());
            }
            out.extend(appended);
        }
        let mut text = out.join("\n");
        text.push('\n');
        text
    }

    /// Saves the state into the config file (Redis's `sentinelFlushConfig`). Failures are
    /// logged, as Redis logs them, and returned.
    pub(crate) fn flush_config(&mut self) -> bool {
        let path = self.config_file.clone();
        let result = std::fs::read_to_string(&path)
            .or_else(|e| match e.kind() {
                std::io::ErrorKind::NotFound => Ok(String::new()),
                _ => Err(e),
            })
            .and_then(|old| {
                let text = self.rewritten_config(&old);
                let tmp = path.with_extension(format!("tmp-{}", crate::node::random_hex(6)));
                std::fs::write(&tmp, text)?;
                std::fs::rename(&tmp, &path).inspect_err(|_| {
                    let _ = std::fs::remove_file(&tmp);
                })
            });
        match result {
            Ok(()) => {
                self.log(Level::Notice, "Sentinel new configuration saved on disk");
                true
            }
            Err(e) => {
                let text = e.to_string();
                let text = text.split(" (os error").next().unwrap_or(&text).to_string();
                self.log(
                    Level::Warning,
                    format!(
                        "WARNING: Sentinel was not able to save the new configuration on disk!!!: {text}"
                    ),
                );
                false
            }
        }
    }
}

/// `sdscatrepr`: a double-quoted string with C escapes.
fn repr(s: &str) -> String {
    crate::logging::repr(s.as_bytes())
}
