//! INFO: sections and fields named as Redis names them.
//!
//! Values are real where this server has them (clients, keyspace, counters, uptime, ids) and the
//! constant Redis itself shows when the feature is idle where this server has no such machinery
//! (forks, AOF, defrag: always 0 / `ok` / -1 here, truthfully). `used_memory` is an estimate:
//! a fixed startup overhead plus the bytes of every key and string value and a per-key overhead;
//! collections are counted at a flat size per key (see [`used_memory`]).

use std::fmt::Write;

use crate::node::NodeState;

/// The sections `INFO` with no argument (or `default`) shows, in Redis's order.
const DEFAULT: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "module_list",
    "errorstats",
    "cluster",
    "keyspace",
];

/// Every section, in Redis's order (`all`).
const ALL: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "module_list",
    "commandstats",
    "errorstats",
    "latencystats",
    "cluster",
    "keyspace",
];

/// Builds the INFO text for the requested section names (`args` as the client gave them).
pub fn render(st: &NodeState, args: &[impl AsRef<[u8]>]) -> String {
    let mut wanted: Vec<String> = Vec::new();
    let mut all = false;
    if args.is_empty() {
        wanted.extend(DEFAULT.iter().map(|s| s.to_string()));
    }
    for arg in args {
        let name = String::from_utf8_lossy(arg.as_ref()).to_ascii_lowercase();
        match name.as_str() {
            "default" => wanted.extend(DEFAULT.iter().map(|s| s.to_string())),
            "all" | "everything" => all = true,
            _ => wanted.push(name),
        }
    }
    let mut out = String::new();
    for &section in ALL {
        let asked = all
            || wanted.iter().any(|w| w == section)
            || (section == "module_list" && wanted.iter().any(|w| w == "modules"));
        if !asked {
            continue;
        }
        if !out.is_empty() {
            out.push_str("\r\n");
        }
        write_section(&mut out, st, section);
    }
    out
}

/// The named standard sections (Redis's names, such as `server`, `stats`), in Redis's order,
/// as INFO shows them (a sentinel shows only some).
pub fn render_sections(st: &NodeState, sections: &[&str]) -> String {
    let mut out = String::new();
    for &section in ALL {
        if sections.contains(&section) {
            if !out.is_empty() {
                out.push_str("\r\n");
            }
            write_section(&mut out, st, section);
        }
    }
    out
}

fn write_section(out: &mut String, st: &NodeState, section: &str) {
    match section {
        "server" => server(out, st),
        "clients" => clients(out, st),
        "memory" => memory(out, st),
        "persistence" => persistence(out, st),
        "stats" => stats(out, st),
        "replication" => replication(out, st),
        "cpu" => cpu(out),
        "module_list" => out.push_str("# Modules\r\n"),
        "commandstats" => commandstats(out, st),
        "errorstats" => errorstats(out, st),
        "latencystats" => latencystats(out, st),
        "cluster" => {
            let _ = write!(
                out,
                "# Cluster\r\ncluster_enabled:{}\r\n",
                u8::from(st.config.cluster_enabled)
            );
        }
        _ => keyspace(out, st),
    }
}

/// Appends `name:value\r\n` lines.
fn fields(out: &mut String, pairs: &[(&str, String)]) {
    for (k, v) in pairs {
        let _ = write!(out, "{k}:{v}\r\n");
    }
}

fn server(out: &mut String, st: &NodeState) {
    let uptime = st.started.elapsed().as_secs();
    let now_us = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros())
        .unwrap_or(0);
    let mode = if st.sentinel.is_some() {
        "sentinel"
    } else if st.config.cluster_enabled {
        "cluster"
    } else {
        "standalone"
    };
    out.push_str("# Server\r\n");
    fields(
        out,
        &[
            ("redis_version", crate::REDIS_VERSION.into()),
            ("redis_git_sha1", "00000000".into()),
            ("redis_git_dirty", "0".into()),
            ("redis_build_id", "0".into()),
            ("redis_mode", mode.into()),
            ("os", os_name()),
            ("arch_bits", (usize::BITS).to_string()),
            ("monotonic_clock", "POSIX clock_gettime".into()),
            ("multiplexing_api", "tokio".into()),
            ("atomicvar_api", "c11-builtin".into()),
            ("gcc_version", "0.0.0".into()),
            ("process_id", std::process::id().to_string()),
            ("process_supervised", "no".into()),
            ("run_id", st.run_id.clone()),
            ("tcp_port", st.config.port.to_string()),
            ("server_time_usec", now_us.to_string()),
            ("uptime_in_seconds", uptime.to_string()),
            ("uptime_in_days", (uptime / 86400).to_string()),
            ("hz", st.config.hz.to_string()),
            ("configured_hz", st.config.hz.to_string()),
            (
                "lru_clock",
                ((now_us / 1_000_000) & ((1 << 24) - 1)).to_string(),
            ),
            (
                "executable",
                std::env::current_exe()
                    .map(|p| p.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            ),
            (
                "config_file",
                st.config
                    .config_file
                    .as_ref()
                    .map(|p| p.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            ),
            ("io_threads_active", "0".into()),
        ],
    );
}

/// `uname -s -r -m` as Redis prints it (`Linux 6.1.0 x86_64`), from /proc where available.
fn os_name() -> String {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let os = match std::env::consts::OS {
        "linux" => "Linux",
        "macos" => "Darwin",
        other => other,
    };
    format!("{os} {} {}", release.trim(), std::env::consts::ARCH)
}

fn clients(out: &mut String, st: &NodeState) {
    out.push_str("# Clients\r\n");
    let blocked = st.clients.values().filter(|c| c.blocked).count();
    fields(
        out,
        &[
            // Replicas are not counted as clients (Redis subtracts them).
            (
                "connected_clients",
                st.clients
                    .len()
                    .saturating_sub(st.repl.replicas.len())
                    .to_string(),
            ),
            ("cluster_connections", "0".into()),
            ("maxclients", st.config.maxclients.to_string()),
            ("client_recent_max_input_buffer", "0".into()),
            ("client_recent_max_output_buffer", "0".into()),
            ("blocked_clients", blocked.to_string()),
            ("tracking_clients", st.tracking.clients.len().to_string()),
            ("clients_in_timeout_table", blocked.to_string()),
        ],
    );
}

/// Estimated `used_memory`: see [`crate::memory`] for what it counts.
pub fn used_memory(st: &NodeState) -> u64 {
    crate::memory::used_memory(st)
}

/// Redis's `bytesToHuman`: `967.88K`, `1.00M`, `0B`.
pub fn bytes_to_human(n: u64) -> String {
    let d = n as f64;
    const UNITS: [(f64, &str); 6] = [
        (1024.0, "K"),
        (1024.0 * 1024.0, "M"),
        (1024.0 * 1024.0 * 1024.0, "G"),
        (1024.0 * 1024.0 * 1024.0 * 1024.0, "T"),
        (1024.0 * 1024.0 * 1024.0 * 1024.0 * 1024.0, "P"),
        (1024.0 * 1024.0 * 1024.0 * 1024.0 * 1024.0 * 1024.0, "E"),
    ];
    if d < 1024.0 {
        return format!("{n}B");
    }
    for (i, (div, unit)) in UNITS.iter().enumerate() {
        if i == UNITS.len() - 1 || d < div * 1024.0 {
            return format!("{:.2}{}", d / div, unit);
        }
    }
    format!("{n}B")
}

fn memory(out: &mut String, st: &NodeState) {
    let used = used_memory(st);
    let peak = st.memory.peak.max(used);
    let overhead = {
        let mut o = crate::memory::STARTUP_MEMORY
            + crate::memory::FUNCTIONS_CACHES
            + crate::memory::backlog_memory(st);
        for db in &st.dbs {
            let (main, expires) = crate::memory::db_overhead(db);
            o += main + expires + 40 * db.len() as u64;
        }
        o
    };
    let dataset = used.saturating_sub(overhead);
    let net = used.saturating_sub(crate::memory::STARTUP_MEMORY);
    let backlog = crate::memory::backlog_memory(st);
    let system = total_system_memory();
    out.push_str("# Memory\r\n");
    fields(
        out,
        &[
            ("used_memory", used.to_string()),
            ("used_memory_human", bytes_to_human(used)),
            ("used_memory_rss", used.to_string()),
            ("used_memory_rss_human", bytes_to_human(used)),
            ("used_memory_peak", peak.to_string()),
            ("used_memory_peak_human", bytes_to_human(peak)),
            (
                "used_memory_peak_perc",
                format!("{:.2}%", used as f64 * 100.0 / peak.max(1) as f64),
            ),
            ("used_memory_overhead", overhead.to_string()),
            (
                "used_memory_startup",
                crate::memory::STARTUP_MEMORY.to_string(),
            ),
            ("used_memory_dataset", dataset.to_string()),
            (
                "used_memory_dataset_perc",
                format!(
                    "{:.2}%",
                    if net == 0 {
                        0.0
                    } else {
                        dataset as f64 * 100.0 / net as f64
                    }
                ),
            ),
            ("allocator_allocated", used.to_string()),
            ("allocator_active", used.to_string()),
            ("allocator_resident", used.to_string()),
            ("total_system_memory", system.to_string()),
            ("total_system_memory_human", bytes_to_human(system)),
            // A Lua VM and the functions engine as Redis 7.0.15 has them at startup.
            ("used_memory_lua", "32768".into()),
            ("used_memory_vm_eval", "32768".into()),
            ("used_memory_lua_human", "32.00K".into()),
            ("used_memory_scripts_eval", "0".into()),
            ("number_of_cached_scripts", "0".into()),
            ("number_of_functions", "0".into()),
            ("number_of_libraries", "0".into()),
            ("used_memory_vm_functions", "33792".into()),
            ("used_memory_vm_total", "66560".into()),
            ("used_memory_vm_total_human", "65.00K".into()),
            ("used_memory_functions", "200".into()),
            ("used_memory_scripts", "200".into()),
            ("used_memory_scripts_human", "200B".into()),
            ("maxmemory", st.config.maxmemory.to_string()),
            ("maxmemory_human", bytes_to_human(st.config.maxmemory)),
            ("maxmemory_policy", st.config.maxmemory_policy.clone()),
            ("allocator_frag_ratio", "1.00".into()),
            ("allocator_frag_bytes", "0".into()),
            ("allocator_rss_ratio", "1.00".into()),
            ("allocator_rss_bytes", "0".into()),
            ("rss_overhead_ratio", "1.00".into()),
            ("rss_overhead_bytes", "0".into()),
            ("mem_fragmentation_ratio", "1.00".into()),
            ("mem_fragmentation_bytes", "0".into()),
            ("mem_not_counted_for_evict", "0".into()),
            ("mem_replication_backlog", backlog.to_string()),
            ("mem_total_replication_buffers", backlog.to_string()),
            ("mem_clients_slaves", "0".into()),
            ("mem_clients_normal", "0".into()),
            ("mem_cluster_links", "0".into()),
            ("mem_aof_buffer", st.repl.aof.buf.capacity().to_string()),
            ("mem_allocator", "libc".into()),
            ("active_defrag_running", "0".into()),
            ("lazyfree_pending_objects", "0".into()),
            ("lazyfreed_objects", "0".into()),
        ],
    );
}

/// The machine's memory (`total_system_memory`), from /proc/meminfo where there is one.
pub fn total_system_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("MemTotal:"))?;
            let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(kb * 1024)
        })
        .unwrap_or(0)
}

fn persistence(out: &mut String, st: &NodeState) {
    out.push_str("# Persistence\r\n");
    let p = &st.persistence;
    let now = crate::node::unix_ms() / 1000;
    fields(
        out,
        &[
            ("loading", "0".into()),
            ("async_loading", "0".into()),
            // A BGSAVE is a thread sharing the data, not a fork: nothing is copied on write,
            // and no child reports its progress.
            ("current_cow_peak", "0".into()),
            ("current_cow_size", "0".into()),
            ("current_cow_size_age", "0".into()),
            ("current_fork_perc", "0.00".into()),
            ("current_save_keys_processed", "0".into()),
            ("current_save_keys_total", "0".into()),
            ("rdb_changes_since_last_save", st.dirty.to_string()),
            (
                "rdb_bgsave_in_progress",
                u8::from(p.bgsave_in_progress()).to_string(),
            ),
            ("rdb_last_save_time", st.last_save.to_string()),
            ("rdb_last_bgsave_status", p.bgsave_status().into()),
            ("rdb_last_bgsave_time_sec", p.bgsave_secs().to_string()),
            (
                "rdb_current_bgsave_time_sec",
                p.current_bgsave_secs(now).to_string(),
            ),
            ("rdb_saves", p.saves.to_string()),
            ("rdb_last_cow_size", "0".into()),
            (
                "rdb_last_load_keys_expired",
                p.last_load_keys_expired.to_string(),
            ),
            (
                "rdb_last_load_keys_loaded",
                p.last_load_keys_loaded.to_string(),
            ),
        ],
    );
    // No modules, so no module fork: its fields follow `aof_last_cow_size`, before the fields
    // only an enabled AOF has.
    let mut aof = crate::aof::info_fields(st);
    let at = aof
        .iter()
        .position(|(name, _)| *name == "aof_last_cow_size")
        .map_or(aof.len(), |i| i + 1);
    aof.splice(
        at..at,
        [
            ("module_fork_in_progress", "0".to_string()),
            ("module_fork_last_cow_size", "0".to_string()),
        ],
    );
    fields(out, &aof);
}

fn stats(out: &mut String, st: &NodeState) {
    let s = &st.stats;
    out.push_str("# Stats\r\n");
    fields(
        out,
        &[
            (
                "total_connections_received",
                s.connections_received.to_string(),
            ),
            ("total_commands_processed", s.commands_processed.to_string()),
            ("instantaneous_ops_per_sec", "0".into()),
            ("total_net_input_bytes", s.net_input_bytes.to_string()),
            ("total_net_output_bytes", s.net_output_bytes.to_string()),
            ("rejected_connections", s.rejected_connections.to_string()),
            ("sync_full", st.repl.sync_full.to_string()),
            ("sync_partial_ok", st.repl.sync_partial_ok.to_string()),
            ("sync_partial_err", st.repl.sync_partial_err.to_string()),
            ("expired_keys", s.expired_keys.to_string()),
            ("evicted_keys", st.memory.evicted_keys.to_string()),
            ("evicted_clients", "0".into()),
            (
                "total_eviction_exceeded_time",
                st.memory.exceeded_ms().0.to_string(),
            ),
            (
                "current_eviction_exceeded_time",
                st.memory.exceeded_ms().1.to_string(),
            ),
            ("keyspace_hits", s.keyspace_hits.to_string()),
            ("keyspace_misses", s.keyspace_misses.to_string()),
            ("pubsub_channels", st.pubsub.channels.len().to_string()),
            ("pubsub_patterns", st.pubsub.patterns.len().to_string()),
            ("pubsubshard_channels", "0".into()),
            ("latest_fork_usec", "0".into()),
            ("total_forks", "0".into()),
            ("unexpected_error_replies", "0".into()),
            ("total_error_replies", s.error_replies.to_string()),
            // Reported by Redis from 7.2; the limits themselves are 7.0's.
            (
                "client_query_buffer_limit_disconnections",
                s.query_buffer_disconnections.to_string(),
            ),
            (
                "client_output_buffer_limit_disconnections",
                s.output_buffer_disconnections.to_string(),
            ),
        ],
    );
}

fn replication(out: &mut String, st: &NodeState) {
    use crate::repl::{LinkState, ReplicaState};
    let repl = &st.repl;
    let now = std::time::Instant::now();
    let secs = |t: std::time::Instant| now.saturating_duration_since(t).as_secs() as i64;
    out.push_str("# Replication\r\n");
    let mut f: Vec<(&str, String)> = Vec::new();
    match &repl.master {
        None => f.push(("role", "master".into())),
        Some(m) => {
            let connected = m.state == LinkState::Connected;
            f.push(("role", "slave".into()));
            f.push(("master_host", m.host.clone()));
            f.push(("master_port", m.port.to_string()));
            f.push((
                "master_link_status",
                if connected { "up" } else { "down" }.into(),
            ));
            f.push((
                "master_last_io_seconds_ago",
                if connected { secs(m.last_io) } else { -1 }.to_string(),
            ));
            let transfer = m.state == LinkState::Transfer;
            f.push(("master_sync_in_progress", u8::from(transfer).to_string()));
            f.push(("slave_read_repl_offset", m.read_offset.to_string()));
            f.push(("slave_repl_offset", repl.offset().to_string()));
            if transfer {
                let read = m.transfer_read as i64;
                let left = if m.transfer_size < 0 {
                    0
                } else {
                    m.transfer_size - read
                };
                let perc = if m.transfer_size > 0 {
                    read as f64 * 100.0 / m.transfer_size as f64
                } else {
                    0.0
                };
                f.push(("master_sync_total_bytes", m.transfer_size.to_string()));
                f.push(("master_sync_read_bytes", read.to_string()));
                f.push(("master_sync_left_bytes", left.to_string()));
                f.push(("master_sync_perc", format!("{perc:.2}")));
                f.push((
                    "master_sync_last_io_seconds_ago",
                    secs(m.last_io).to_string(),
                ));
            }
            if !connected {
                f.push((
                    "master_link_down_since_seconds",
                    m.down_since.map_or(-1, secs).to_string(),
                ));
            }
            f.push(("slave_priority", st.config.replica_priority.to_string()));
            f.push((
                "slave_read_only",
                u8::from(st.config.replica_read_only).to_string(),
            ));
            f.push((
                "replica_announced",
                u8::from(st.config.extra_or("replica-announced", "yes") == "yes").to_string(),
            ));
        }
    }
    f.push(("connected_slaves", repl.replicas.len().to_string()));
    if st.config.min_replicas_to_write > 0 && st.config.min_replicas_max_lag > 0 {
        f.push((
            "min_slaves_good_slaves",
            repl.good_replicas(st.config.min_replicas_max_lag, now)
                .to_string(),
        ));
    }
    fields(out, &f);
    for (i, r) in repl.replicas.iter().enumerate() {
        let lag = if r.state == ReplicaState::Online {
            secs(r.ack_time)
        } else {
            0
        };
        let _ = write!(
            out,
            "slave{i}:ip={},port={},state={},offset={},lag={lag}\r\n",
            r.ip,
            r.port,
            r.state.name(),
            r.ack_offset
        );
    }
    let backlog = repl.backlog.as_ref();
    fields(
        out,
        &[
            (
                "master_failover_state",
                st.repl
                    .failover
                    .as_ref()
                    .map_or("no-failover", |f| f.state.name())
                    .into(),
            ),
            ("master_replid", repl.replid.clone()),
            ("master_replid2", repl.replid2.clone()),
            ("master_repl_offset", repl.offset().to_string()),
            ("second_repl_offset", repl.second_offset.to_string()),
            (
                "repl_backlog_active",
                u8::from(backlog.is_some()).to_string(),
            ),
            (
                "repl_backlog_size",
                backlog
                    .map_or(st.config.repl_backlog_size, |b| b.size())
                    .to_string(),
            ),
            (
                "repl_backlog_first_byte_offset",
                backlog.map_or(0, |b| b.first_byte_offset()).to_string(),
            ),
            (
                "repl_backlog_histlen",
                backlog.map_or(0, |b| b.histlen()).to_string(),
            ),
        ],
    );
}

fn cpu(out: &mut String) {
    // Process CPU time from /proc (Linux); 0 elsewhere.
    let (user, sys) = proc_cpu().unwrap_or((0.0, 0.0));
    out.push_str("# CPU\r\n");
    fields(
        out,
        &[
            ("used_cpu_sys", format!("{sys:.6}")),
            ("used_cpu_user", format!("{user:.6}")),
            ("used_cpu_sys_children", "0.000000".into()),
            ("used_cpu_user_children", "0.000000".into()),
        ],
    );
}

/// (user, system) CPU seconds of this process, from `/proc/self/stat`.
fn proc_cpu() -> Option<(f64, f64)> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    // Fields 14 and 15 of stat(5), counted after the command name: indexes 11 and 12 here.
    let ticks = 100.0; // sysconf(_SC_CLK_TCK) on every Linux this runs on
    Some((
        f.get(11)?.parse::<f64>().ok()? / ticks,
        f.get(12)?.parse::<f64>().ok()? / ticks,
    ))
}

fn commandstats(out: &mut String, st: &NodeState) {
    out.push_str("# Commandstats\r\n");
    let table = st.commands;
    for cmd in table.commands() {
        let Some(s) = st.stats.commands.get(cmd.index) else {
            continue;
        };
        if s.calls == 0 && s.rejected_calls == 0 && s.failed_calls == 0 {
            continue;
        }
        let per_call = if s.calls == 0 {
            0.0
        } else {
            s.usec as f64 / s.calls as f64
        };
        let _ = write!(
            out,
            "cmdstat_{}:calls={},usec={},usec_per_call={:.2},rejected_calls={},failed_calls={}\r\n",
            cmd.info.name, s.calls, s.usec, per_call, s.rejected_calls, s.failed_calls
        );
    }
}

/// `# Latencystats`: per command that ran since the last reset, the configured percentiles
/// of its latency histogram in microseconds (`latency_percentiles_usec_<cmd>:p50=...`), with
/// `latency-tracking yes`. Redis lists them in its command table's hash order; here by name.
fn latencystats(out: &mut String, st: &NodeState) {
    out.push_str("# Latencystats\r\n");
    if !st.memory.settings.latency_tracking {
        return;
    }
    let percentiles = crate::config_table::percentiles(&st.config);
    let mut names: Vec<&&'static str> = st.memory.histograms.keys().collect();
    names.sort();
    for name in names {
        let h = &st.memory.histograms[*name];
        let _ = write!(out, "latency_percentiles_usec_{name}:");
        for (i, &p) in percentiles.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let usec = h.value_at_percentile(p) as f64 / 1000.0;
            let _ = write!(
                out,
                "p{}={usec:.3}",
                crate::config_table::format_percentile(p)
            );
        }
        out.push_str("\r\n");
    }
}

fn errorstats(out: &mut String, st: &NodeState) {
    out.push_str("# Errorstats\r\n");
    let mut codes: Vec<_> = st.stats.errors.iter().collect();
    codes.sort();
    for (code, n) in codes {
        let _ = write!(out, "errorstat_{code}:count={n}\r\n");
    }
}

fn keyspace(out: &mut String, st: &NodeState) {
    out.push_str("# Keyspace\r\n");
    for (i, db) in st.dbs.iter().enumerate() {
        if !db.is_empty() || db.expires_len() > 0 {
            let _ = write!(
                out,
                "db{i}:keys={},expires={},avg_ttl=0\r\n",
                db.len(),
                db.expires_len()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_bytes() {
        assert_eq!(bytes_to_human(0), "0B");
        assert_eq!(bytes_to_human(991_104), "967.88K");
        assert_eq!(bytes_to_human(1 << 20), "1.00M");
    }
}
