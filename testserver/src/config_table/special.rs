//! Directives whose values need more than a type check: multi-word values (`save`, `bind`,
//! `replicaof`, `client-output-buffer-limit`), flags (`notify-keyspace-events`), paths (`dir`),
//! and the values this server refuses (`daemonize yes`, TLS, unix sockets).

use super::{num, parse_memory, DEFAULT_OBUF};
use crate::config::Config;

pub(super) fn set_bind(c: &mut Config, v: &str) -> Result<(), String> {
    let addrs: Vec<String> = v
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect();
    if addrs.len() > 16 {
        return Err("Too many bind addresses specified.".into());
    }
    c.bind = addrs;
    Ok(())
}

/// `client-output-buffer-limit`: groups of `<class> <hard> <soft> <seconds>`; the classes not
/// named keep their limits. Enforced for every class (see `Config::obuf_limits`).
pub(super) fn set_obuf(c: &mut Config, v: &str) -> Result<(), String> {
    let words: Vec<&str> = v.split(' ').filter(|w| !w.is_empty()).collect();
    if words.len() % 4 != 0 {
        return Err("Wrong number of arguments in buffer limit configuration.".into());
    }
    let current = c.extra_or("client-output-buffer-limit", DEFAULT_OBUF);
    let mut classes: Vec<[String; 4]> = current
        .split(' ')
        .collect::<Vec<_>>()
        .chunks(4)
        .map(|w| [w[0], w[1], w[2], w[3]].map(String::from))
        .collect();
    for group in words.chunks(4) {
        let class = match group[0].to_ascii_lowercase().as_str() {
            "normal" => "normal",
            "slave" | "replica" => "slave",
            "pubsub" => "pubsub",
            _ => {
                return Err("Invalid client class specified in buffer limit configuration.".into())
            }
        };
        let (hard, soft) = (parse_memory(group[1]), parse_memory(group[2]));
        let secs = strtol(group[3]).filter(|&s| s >= 0);
        let (Some(hard), Some(soft), Some(secs)) = (hard, soft, secs) else {
            return Err(
                "Error in hard, soft or soft_seconds setting in buffer limit configuration.".into(),
            );
        };
        let typed = crate::config::ObufClass {
            hard,
            soft,
            soft_seconds: secs as u64,
        };
        match class {
            "normal" => c.obuf_limits.normal = typed,
            "slave" => c.obuf_limits.replica = typed,
            _ => c.obuf_limits.pubsub = typed,
        }
        if let Some(entry) = classes.iter_mut().find(|e| e[0] == class) {
            *entry = [
                class.to_string(),
                hard.to_string(),
                soft.to_string(),
                secs.to_string(),
            ];
        }
    }
    let text: Vec<String> = classes.into_iter().flatten().collect();
    c.extra
        .insert("client-output-buffer-limit".into(), text.join(" "));
    Ok(())
}

pub(super) fn set_tls_port(_: &mut Config, v: &str) -> Result<(), String> {
    if v == "0" {
        Ok(())
    } else {
        Err("TLS is not supported by the rediscover test server".into())
    }
}

pub(super) fn set_unixsocket(_: &mut Config, v: &str) -> Result<(), String> {
    if v.is_empty() {
        Ok(())
    } else {
        Err("unix sockets are not supported by the rediscover test server".into())
    }
}

pub(super) fn set_daemonize(_: &mut Config, v: &str) -> Result<(), String> {
    if v == "no" {
        Ok(())
    } else {
        Err("the rediscover test server cannot daemonize; run it in the background instead".into())
    }
}

pub(super) fn set_supervised(_: &mut Config, v: &str) -> Result<(), String> {
    match v.to_ascii_lowercase().as_str() {
        "no" => Ok(()),
        "upstart" | "systemd" | "auto" => {
            Err("supervised mode is not supported by the rediscover test server".into())
        }
        _ => Err("argument(s) must be one of the following: upstart, systemd, auto, no".into()),
    }
}

pub(super) fn set_hz(c: &mut Config, v: &str) -> Result<(), String> {
    // Redis clamps hz into 1..=500 after accepting it.
    c.hz = num::<i64>(v)?.clamp(1, 500) as u32;
    Ok(())
}

pub(super) fn set_dir(c: &mut Config, v: &str) -> Result<(), String> {
    // Redis chdir()s; nodes here share one process, so the directory is only remembered.
    let path = std::path::Path::new(v);
    let abs = std::fs::canonicalize(path).map_err(|e| {
        e.raw_os_error()
            .map(os_error_text)
            .unwrap_or_else(|| e.to_string())
    })?;
    if !abs.is_dir() {
        return Err("Not a directory".into());
    }
    c.dir = abs.to_string_lossy().into_owned();
    Ok(())
}

pub(super) fn os_error_text(code: i32) -> String {
    // strerror() wording, without Rust's " (os error N)" suffix.
    let s = std::io::Error::from_raw_os_error(code).to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

pub(super) fn get_save(c: &Config) -> String {
    c.save
        .iter()
        .map(|(s, n)| format!("{s} {n}"))
        .collect::<Vec<_>>()
        .join(" ")
}

pub(super) fn set_save(c: &mut Config, v: &str) -> Result<(), String> {
    let words: Vec<&str> = if v.is_empty() {
        Vec::new()
    } else {
        v.split(' ').collect()
    };
    if words.len() % 2 == 1 {
        return Err("Invalid save parameters".into());
    }
    let mut points = Vec::new();
    for pair in words.chunks(2) {
        let secs = strtol(pair[0]).filter(|&s| s >= 1);
        let changes = strtol(pair[1]).filter(|&n| n >= 0);
        match (secs, changes) {
            (Some(s), Some(n)) => points.push((s as u64, n as u64)),
            _ => return Err("Invalid save parameters".into()),
        }
    }
    c.save = points;
    Ok(())
}

/// `strtoll(s, &end, 10)` with `*end == '\0'`: optional sign, digits; empty is 0.
pub(super) fn strtol(s: &str) -> Option<i64> {
    if s.is_empty() {
        return Some(0);
    }
    s.parse().ok()
}

pub(super) fn get_replicaof(c: &Config) -> String {
    c.replicaof
        .as_ref()
        .map(|(h, p)| format!("{h} {p}"))
        .unwrap_or_default()
}

pub(super) fn set_replicaof(c: &mut Config, v: &str) -> Result<(), String> {
    let words: Vec<&str> = v.split(' ').collect();
    let [host, port] = words[..] else {
        return Err("wrong number of arguments".into());
    };
    if host.eq_ignore_ascii_case("no") && port.eq_ignore_ascii_case("one") {
        c.replicaof = None;
        return Ok(());
    }
    let port: u16 = port
        .parse()
        .map_err(|_| "Invalid master port".to_string())?;
    c.replicaof = Some((host.to_string(), port));
    Ok(())
}

/// As Redis shows it: with every class on, `A` alone (an `n` flag stays set but is not shown).
pub(super) fn get_notify(c: &Config) -> String {
    let v = &c.notify_keyspace_events;
    if v.starts_with('A') {
        v.replace('n', "")
    } else {
        v.clone()
    }
}

pub(super) fn set_notify(c: &mut Config, v: &str) -> Result<(), String> {
    c.notify_keyspace_events =
        canonical_notify(v).ok_or("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.")?;
    Ok(())
}

/// Redis's `keyspaceEventsStringToFlags` then `keyspaceEventsFlagsToString`.
pub(super) fn canonical_notify(v: &str) -> Option<String> {
    const CLASSES: &str = "g$lshzxetdn";
    let mut on = std::collections::HashSet::new();
    for ch in v.chars() {
        match ch {
            'A' => on.extend("g$lshzxetd".chars()),
            c if CLASSES.contains(c) || "KEm".contains(c) => {
                on.insert(c);
            }
            _ => return None,
        }
    }
    let mut out = String::new();
    if "g$lshzxetd".chars().all(|c| on.contains(&c)) {
        out.push('A');
        if on.contains(&'n') {
            out.push('n');
        }
    } else {
        out.extend(CLASSES.chars().filter(|c| on.contains(c)));
    }
    out.extend("KEm".chars().filter(|c| on.contains(c)));
    Some(out)
}

/// `cluster-announce-hostname`: fewer than 256 characters of letters, digits, `-` and `.`.
pub(super) fn set_announce_hostname(c: &mut Config, v: &str) -> Result<(), String> {
    if v.len() >= 256 {
        return Err("Hostnames must be less than 256 characters".into());
    }
    if !v
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
    {
        return Err("Hostnames may only contain alphanumeric characters, hyphens or dots".into());
    }
    c.extra
        .insert("cluster-announce-hostname".into(), v.to_string());
    Ok(())
}

/// `rediscover-timers-factor` (a rediscover extension): every background period of the node
/// divided by this factor ([`Timers::fast`](crate::config::Timers::fast)); 1 is Redis's
/// timing.
pub(super) fn get_timers_factor(c: &Config) -> String {
    c.extra_or("rediscover-timers-factor", "1")
}

pub(super) fn set_timers_factor(c: &mut Config, v: &str) -> Result<(), String> {
    let factor: u32 = num(v)?;
    c.timers = if factor == 1 {
        crate::config::Timers::default()
    } else {
        crate::config::Timers::fast(factor)
    };
    c.extra
        .insert("rediscover-timers-factor".into(), factor.to_string());
    Ok(())
}

/// `appendfilename`: a plain file name (Redis's `isValidAOFfilename`).
pub(super) fn set_appendfilename(c: &mut Config, v: &str) -> Result<(), String> {
    if v.is_empty() {
        return Err("appendfilename can't be empty".into());
    }
    if v.contains('/') || v.contains('\\') {
        return Err("appendfilename can't be a path, just a filename".into());
    }
    c.extra.insert("appendfilename".into(), v.into());
    Ok(())
}

/// `appenddirname`: a plain directory name (Redis's `isValidAOFdirname`).
pub(super) fn set_appenddirname(c: &mut Config, v: &str) -> Result<(), String> {
    if v.is_empty() {
        return Err("appenddirname can't be empty".into());
    }
    if v.contains('/') || v.contains('\\') {
        return Err("appenddirname can't be a path, just a dirname".into());
    }
    c.extra.insert("appenddirname".into(), v.into());
    Ok(())
}

/// `latency-tracking-info-percentiles` default: p50, p99 and p99.9.
pub(crate) const DEFAULT_PERCENTILES: &str = "50 99 99.9";

/// A percentile as Redis prints it: `%f`, then `trimDoubleString` (trailing zeros and a
/// trailing dot removed).
pub(crate) fn format_percentile(p: f64) -> String {
    let text = format!("{p:.6}");
    let text = text.trim_end_matches('0');
    text.strip_suffix('.').unwrap_or(text).to_string()
}

/// The configured percentiles (stored exactly, as Redis keeps the doubles).
pub(crate) fn percentiles(c: &Config) -> Vec<f64> {
    let stored = c.extra_or("latency-tracking-info-percentiles", DEFAULT_PERCENTILES);
    stored
        .split(' ')
        .filter(|w| !w.is_empty())
        .filter_map(|w| w.parse().ok())
        .collect()
}

pub(super) fn get_percentiles(c: &Config) -> String {
    percentiles(c)
        .into_iter()
        .map(format_percentile)
        .collect::<Vec<_>>()
        .join(" ")
}

/// `latency-tracking-info-percentiles`: space-separated numbers within [0, 100]; a single ""
/// is none. Redis's `setConfigLatencyTrackingInfoPercentilesOutputOption` texts.
pub(super) fn set_percentiles(c: &mut Config, v: &str) -> Result<(), String> {
    let mut values = Vec::new();
    if !v.is_empty() {
        for word in v.split(' ') {
            let p = crate::cmd::args::parse_f64_opt(word.as_bytes())
                .ok_or("Invalid latency-tracking-info-percentiles parameters")?;
            if !(0.0..=100.0).contains(&p) {
                return Err(
                    "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]"
                        .into(),
                );
            }
            values.push(p.to_string());
        }
    }
    c.extra
        .insert("latency-tracking-info-percentiles".into(), values.join(" "));
    Ok(())
}

/// `shutdown-on-sigint` / `shutdown-on-sigterm`: Redis's multi-argument enum of SHUTDOWN
/// flags, kept in [`Config::extra`] in its canonical form (`default`, or the flags set in
/// the order `save nosave now force`, as CONFIG GET shows them); read by
/// [`crate::node::ShutdownFlags::parse`].
fn set_shutdown_on_sig(c: &mut Config, name: &str, v: &str) -> Result<(), String> {
    const NAMES: [&str; 5] = ["default", "save", "nosave", "now", "force"];
    let mut set = [false; 5];
    let words: Vec<&str> = v.split(' ').filter(|w| !w.is_empty()).collect();
    if words.is_empty() {
        return Err(format!(
            "argument(s) must be one of the following: {}",
            NAMES.join(", ")
        ));
    }
    for word in words {
        let i = NAMES
            .iter()
            .position(|n| n.eq_ignore_ascii_case(word))
            .ok_or_else(|| {
                format!(
                    "argument(s) must be one of the following: {}",
                    NAMES.join(", ")
                )
            })?;
        set[i] = true;
    }
    if set[1] && set[2] {
        return Err("shutdown options SAVE and NOSAVE can't be used simultaneously".into());
    }
    let flags: Vec<&str> = (1..5).filter(|&i| set[i]).map(|i| NAMES[i]).collect();
    let value = if flags.is_empty() {
        "default".to_string()
    } else {
        flags.join(" ")
    };
    c.extra.insert(name.to_string(), value);
    Ok(())
}

pub(super) fn get_shutdown_on_sigint(c: &Config) -> String {
    c.extra_or("shutdown-on-sigint", "default")
}

pub(super) fn set_shutdown_on_sigint(c: &mut Config, v: &str) -> Result<(), String> {
    set_shutdown_on_sig(c, "shutdown-on-sigint", v)
}

pub(super) fn get_shutdown_on_sigterm(c: &Config) -> String {
    c.extra_or("shutdown-on-sigterm", "default")
}

pub(super) fn set_shutdown_on_sigterm(c: &mut Config, v: &str) -> Result<(), String> {
    set_shutdown_on_sig(c, "shutdown-on-sigterm", v)
}
