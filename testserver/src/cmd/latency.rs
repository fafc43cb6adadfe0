//! LATENCY LATEST | HISTORY | RESET | GRAPH | DOCTOR | HISTOGRAM | HELP (Redis's `latency.c`),
//! over the node's latency monitor and per-command latency histograms
//! ([`crate::memory::latency`]).

use bytes::Bytes;

use super::server::{help, subcommand};
use super::{CmdResult, Ctx, Handler};
use crate::memory::latency::{Histogram, Monitor, Series};

pub(crate) const COMMANDS: &[(&str, Handler)] = &[("latency", latency)];

const HELP: &[&str] = &[
    "DOCTOR",
    "    Return a human readable latency analysis report.",
    "GRAPH <event>",
    "    Return an ASCII latency graph for the <event> class.",
    "HISTORY <event>",
    "    Return time-latency samples for the <event> class.",
    "LATEST",
    "    Return the latest latency samples for all events.",
    "RESET [<event> ...]",
    "    Reset latency data of one or more <event> classes.",
    "    (default: reset all data for all event classes)",
    "HISTOGRAM [COMMAND ...]",
    "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
    "    If no commands are specified then all histograms are replied.",
];

/// Columns of LATENCY GRAPH (`LATENCY_GRAPH_COLS`).
const GRAPH_COLS: usize = 80;

fn latency(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    // Unknown subcommands and wrong arities get the dispatcher's errors, as in Redis.
    let sub = subcommand(argv)?.trim_start_matches("latency|").as_bytes();
    let argc = argv.len();
    let now = crate::node::unix_ms() / 1000;
    let monitor = &ctx.node.memory.latency;
    match (sub, argc) {
        (b"history", 3) => {
            let event = String::from_utf8_lossy(&argv[2]);
            match monitor.get(&event) {
                None => ctx.out.array(0),
                Some(ts) => {
                    let samples: Vec<(i64, u64)> = ts.history().collect();
                    ctx.out.array(samples.len());
                    for (time, ms) in samples {
                        ctx.out.array(2);
                        ctx.out.int(time);
                        ctx.out.int(ms as i64);
                    }
                }
            }
        }
        (b"graph", 3) => {
            let event = String::from_utf8_lossy(&argv[2]).into_owned();
            let Some(ts) = monitor.get(&event) else {
                return Err(format!("ERR No samples available for event '{event}'").into());
            };
            let graph = graph(&event, ts, now);
            ctx.out.verbatim(b"txt", graph.as_bytes());
        }
        (b"latest", 2) => {
            ctx.out.array(monitor.events.len());
            for (event, ts) in &monitor.events {
                let (time, ms) = ts.last();
                ctx.out.array(4);
                ctx.out.bulk(event.as_bytes());
                ctx.out.int(time);
                ctx.out.int(ms as i64);
                ctx.out.int(ts.max as i64);
            }
        }
        (b"doctor", 2) => {
            let report = doctor(ctx, now);
            ctx.out.verbatim(b"txt", report.as_bytes());
        }
        (b"reset", _) => {
            let monitor = &mut ctx.node.memory.latency;
            let n = if argc == 2 {
                monitor.reset(None)
            } else {
                argv[2..].iter().map(|e| monitor.reset(Some(e))).sum()
            };
            ctx.out.int(n as i64);
        }
        (b"histogram", _) => histogram(ctx, &argv[2..]),
        (b"help", 2) => help(ctx, "LATENCY", HELP),
        _ => {
            return Err(format!(
                "ERR unknown subcommand or wrong number of arguments for '{}'. Try LATENCY HELP.",
                String::from_utf8_lossy(&argv[1])
            )
            .into())
        }
    }
    Ok(())
}

/// `fillCommandCDF`: calls, then the cumulative counts at each power-of-two bucket that gained
/// any.
fn write_cdf(ctx: &mut Ctx<'_>, name: &str, h: &Histogram) {
    ctx.out.bulk(name.as_bytes());
    ctx.out.map(2);
    ctx.out.bulk(b"calls");
    ctx.out.int(h.total() as i64);
    ctx.out.bulk(b"histogram_usec");
    let cdf = h.cdf();
    ctx.out.map(cdf.len());
    for (usec, count) in cdf {
        ctx.out.int(usec as i64);
        ctx.out.int(count as i64);
    }
}

fn histogram(ctx: &mut Ctx<'_>, names: &[Bytes]) {
    let hists = &ctx.node.memory.histograms;
    let mut picked: Vec<(&'static str, Histogram)> = Vec::new();
    if names.is_empty() {
        let mut all: Vec<_> = hists.iter().map(|(n, h)| (*n, h.clone())).collect();
        all.sort_by_key(|(n, _)| *n);
        picked = all;
    } else {
        for name in names {
            let lower = String::from_utf8_lossy(name).to_ascii_lowercase();
            // A command by its full name (`config|get`), and a container's subcommands.
            let Some(info) = lookup_full(&lower) else {
                continue;
            };
            if let Some(h) = hists.get(info.name) {
                picked.push((info.name, h.clone()));
            }
            for sub in info.subcommands {
                if let Some(h) = hists.get(sub.name) {
                    picked.push((sub.name, h.clone()));
                }
            }
        }
    }
    ctx.out.map(picked.len());
    for (name, h) in &picked {
        write_cdf(ctx, name, h);
    }
}

/// A command or `container|sub` by its full lower-case name.
fn lookup_full(name: &str) -> Option<&'static rediscover::command::CommandInfo> {
    match name.split_once('|') {
        None => rediscover::command::lookup(name.as_bytes()),
        Some((top, sub)) => rediscover::command::lookup(top.as_bytes())?.subcommand(sub.as_bytes()),
    }
}

/// `latencyCommandGenSparkeline`: a title, a rule, and the samples as a filled sparkline with
/// "how long ago" labels written vertically.
pub fn graph(event: &str, ts: &Series, now: i64) -> String {
    let samples: Vec<(u64, String)> = ts
        .history()
        .map(|(time, ms)| {
            let elapsed = now - time;
            let label = if elapsed < 60 {
                format!("{elapsed}s")
            } else if elapsed < 3600 {
                format!("{}m", elapsed / 60)
            } else if elapsed < 3600 * 24 {
                format!("{}h", elapsed / 3600)
            } else {
                format!("{}d", elapsed / (3600 * 24))
            };
            (ms, label)
        })
        .collect();
    let min = samples.iter().map(|s| s.0).min().unwrap_or(0);
    let max = samples.iter().map(|s| s.0).max().unwrap_or(0);
    let mut out = format!(
        "{event} - high {max} ms, low {min} ms (all time high {} ms)\n",
        ts.max
    );
    out.push_str(&"-".repeat(GRAPH_COLS));
    out.push('\n');
    let mut j = 0;
    while j < samples.len() {
        let end = (j + GRAPH_COLS).min(samples.len());
        if j != 0 {
            out.push('\n');
        }
        render_range(&mut out, &samples[j..end], min as f64, max as f64, 4);
        j = end;
    }
    out
}

/// `sparklineRenderRange` with `SPARKLINE_FILL` (every sample has a label).
fn render_range(out: &mut String, samples: &[(u64, String)], min: f64, max: f64, rows: usize) {
    const FILL: &[u8] = b"_o#";
    let charset_len = FILL.len() as i64;
    let mut relmax = max - min;
    if relmax == 0.0 {
        relmax = 1.0;
    }
    let steps = charset_len * rows as i64;
    let mut row = 0usize;
    loop {
        let mut more = false;
        let mut chars = vec![b' '; samples.len()];
        for (j, (value, label)) in samples.iter().enumerate() {
            let relval = *value as f64 - min;
            let mut step = (((relval * steps as f64) as i64) as f64 / relmax) as i64;
            step = step.clamp(0, steps - 1);
            if row < rows {
                let charidx = step - (rows - row - 1) as i64 * charset_len;
                more = true;
                if (0..charset_len).contains(&charidx) {
                    chars[j] = FILL[charidx as usize];
                } else if charidx >= charset_len {
                    chars[j] = b'|';
                }
            } else {
                // One blank row between the graph and the labels.
                if row - rows < 1 {
                    more = true;
                    break;
                }
                let at = row - rows - 1;
                if let Some(&c) = label.as_bytes().get(at) {
                    more = true;
                    chars[j] = c;
                }
            }
        }
        if !more {
            break;
        }
        row += 1;
        out.push_str(&String::from_utf8_lossy(&chars));
        out.push('\n');
    }
}

/// `analyzeLatencyForEvent`: (samples, average, mean absolute deviation, period in seconds).
fn analyze(ts: &Series, now: i64) -> (u64, u64, u64, i64) {
    let samples: Vec<(i64, u64)> = ts.samples.iter().copied().filter(|s| s.0 != 0).collect();
    if samples.is_empty() {
        return (0, 0, 0, 0);
    }
    let n = samples.len() as u64;
    let avg = samples.iter().map(|s| s.1).sum::<u64>() / n;
    let oldest = samples.iter().map(|s| s.0).min().unwrap_or(now);
    let mut period = now - oldest;
    if period == 0 {
        period = 1;
    }
    let mad = samples
        .iter()
        .map(|s| (avg as i64 - s.1 as i64).unsigned_abs())
        .sum::<u64>()
        / n;
    (n, avg, mad, period)
}

/// `createLatencyReport`, for the events this server records (commands, fast commands, the
/// expire cycle and eviction).
fn doctor(ctx: &Ctx<'_>, now: i64) -> String {
    let monitor: &Monitor = &ctx.node.memory.latency;
    let threshold = ctx.node.config.latency_monitor_threshold;
    if monitor.events.is_empty() && threshold == 0 {
        return "I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis instance. You may use \"CONFIG SET latency-monitor-threshold <milliseconds>.\" in order to enable it. If we weren't in a deep space mission I'd suggest to take a look at https://redis.io/topics/latency-monitor.\n".into();
    }
    let slower_than = ctx
        .node
        .config
        .extra_or("slowlog-log-slower-than", "10000")
        .parse::<i64>()
        .unwrap_or(10000);
    let hz = ctx.node.config.hz;
    let mut report = String::new();
    let mut advices = 0;
    let (mut slowlog_enabled, mut slowlog_tuning, mut slowlog_inspect) = (false, false, false);
    let (mut scheduler, mut large_objects, mut hz_advice, mut mass_eviction) =
        (false, false, false, false);
    for (i, (event, ts)) in monitor.events.iter().enumerate() {
        if i == 0 {
            report.push_str("Dave, I have observed latency spikes in this Redis instance. You don't mind talking about it, do you Dave?\n\n");
        }
        let (n, avg, mad, period) = analyze(ts, now);
        report.push_str(&format!(
            "{}. {}: {} latency spikes (average {}ms, mean deviation {}ms, period {:.2} sec). Worst all time event {}ms.",
            i + 1,
            event,
            n,
            avg,
            mad,
            period as f64 / n.max(1) as f64,
            ts.max
        ));
        match event.to_ascii_lowercase().as_str() {
            "command" => {
                if slower_than < 0 {
                    slowlog_enabled = true;
                    advices += 1;
                } else if slower_than / 1000 > threshold {
                    slowlog_tuning = true;
                    advices += 1;
                }
                slowlog_inspect = true;
                large_objects = true;
                advices += 2;
            }
            "fast-command" => {
                scheduler = true;
                advices += 1;
            }
            "expire-cycle" => {
                hz_advice = true;
                large_objects = true;
                advices += 2;
            }
            "eviction-del" => {
                large_objects = true;
                advices += 1;
            }
            "eviction-cycle" => {
                mass_eviction = true;
                advices += 1;
            }
            _ => {}
        }
        report.push('\n');
    }
    let events = monitor.events.len();
    if events == 0 && advices == 0 {
        report.push_str("Dave, no latency spike was observed during the lifetime of this Redis instance, not in the slightest bit. I honestly think you ought to sit down calmly, take a stress pill, and think things over.\n");
        return report;
    }
    if advices == 0 {
        report.push_str("\nWhile there are latency events logged, I'm not able to suggest any easy fix. Please use the Redis community to get some help, providing this report in your help request.\n");
        return report;
    }
    report.push_str("\nI have a few advices for you:\n\n");
    let micros = threshold.max(0) as u64 * 1000;
    if slowlog_enabled {
        report.push_str(&format!("- There are latency issues with potentially slow commands you are using. Try to enable the Slow Log Redis feature using the command 'CONFIG SET slowlog-log-slower-than {micros}'. If the Slow log is disabled Redis is not able to log slow commands execution for you.\n"));
    }
    if slowlog_tuning {
        report.push_str(&format!("- Your current Slow Log configuration only logs events that are slower than your configured latency monitor threshold. Please use 'CONFIG SET slowlog-log-slower-than {micros}'.\n"));
    }
    if slowlog_inspect {
        report.push_str("- Check your Slow Log to understand what are the commands you are running which are too slow to execute. Please check https://redis.io/commands/slowlog for more information.\n");
    }
    if scheduler {
        report.push_str("- The system is slow to execute Redis code paths not containing system calls. This usually means the system does not provide Redis CPU time to run for long periods. You should try to:\n  1) Lower the system load.\n  2) Use a computer / VM just for Redis if you are running other software in the same system.\n  3) Check if you have a \"noisy neighbour\" problem.\n  4) Check with 'redis-cli --intrinsic-latency 100' what is the intrinsic latency in your system.\n  5) Check if the problem is allocator-related by recompiling Redis with MALLOC=libc, if you are using Jemalloc. However this may create fragmentation problems.\n");
    }
    if hz_advice && hz < 100 {
        report.push_str("- In order to make the Redis keys expiring process more incremental, try to set the 'hz' configuration parameter to 100 using 'CONFIG SET hz 100'.\n");
    }
    if large_objects {
        report.push_str("- Deleting, expiring or evicting (because of maxmemory policy) large objects is a blocking operation. If you have very large objects that are often deleted, expired, or evicted, try to fragment those objects into multiple smaller objects.\n");
    }
    if mass_eviction {
        report.push_str("- Sudden changes to the 'maxmemory' setting via 'CONFIG SET', or allocation of large objects via sets or sorted sets intersections, STORE option of SORT, Redis Cluster large keys migrations (RESTORE command), may create sudden memory pressure forcing the server to block trying to evict keys. \n");
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graph_like_redis() {
        let mut m = Monitor::default();
        m.add_sample("command", 100, 1000);
        m.add_sample("command", 300, 1001);
        m.add_sample("command", 200, 1070);
        let g = graph("command", m.get("command").unwrap(), 1075);
        // 100 ms 75 s ago, 300 ms 74 s ago, 200 ms 5 s ago: four rows of fill, a blank row,
        // then the labels top to bottom (worked through sparklineRenderRange by hand).
        let expected = format!(
            "command - high 300 ms, low 100 ms (all time high 300 ms)\n{}\n # \n |_\n ||\n_||\n   \n115\nmms\n",
            "-".repeat(80)
        );
        assert_eq!(g, expected);
    }
}
