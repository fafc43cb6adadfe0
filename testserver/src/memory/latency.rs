//! The latency monitor (Redis's `latency.c`): per event class, the last 160 seconds that had a
//! sample over `latency-monitor-threshold`, one sample per second (the worst), and the maximum.

use std::time::Instant;

use crate::config::Config;

/// Samples kept per event (`LATENCY_TS_LEN`).
pub const TS_LEN: usize = 160;

/// One event class's time series.
#[derive(Debug, Clone)]
pub struct Series {
    /// (Unix seconds, latency ms); `time == 0` is an empty slot.
    pub samples: [(i64, u64); TS_LEN],
    /// The next slot to write.
    pub idx: usize,
    /// The worst latency seen.
    pub max: u64,
}

impl Series {
    fn new() -> Series {
        Series {
            samples: [(0, 0); TS_LEN],
            idx: 0,
            max: 0,
        }
    }

    /// The samples, oldest first.
    pub fn history(&self) -> impl Iterator<Item = (i64, u64)> + '_ {
        (0..TS_LEN)
            .map(move |j| self.samples[(self.idx + j) % TS_LEN])
            .filter(|s| s.0 != 0)
    }

    /// The latest sample.
    pub fn last(&self) -> (i64, u64) {
        self.samples[(self.idx + TS_LEN - 1) % TS_LEN]
    }
}

/// Every event class with samples, in the order they first had one.
#[derive(Debug, Default)]
pub struct Monitor {
    /// (event name, series).
    pub events: Vec<(String, Series)>,
}

impl Monitor {
    /// `latencyAddSampleIfNeeded`: records the time since `started` for `event` if the monitor
    /// is on and it reaches the threshold.
    pub fn add_sample_if_needed(&mut self, event: &str, started: Instant, config: &Config) {
        let threshold = config.latency_monitor_threshold;
        if threshold <= 0 {
            return;
        }
        let ms = started.elapsed().as_millis() as u64;
        if ms >= threshold as u64 {
            self.add_sample(event, ms, crate::node::unix_ms() / 1000);
        }
    }

    /// `latencyAddSampleIfNeeded` for a duration already measured, in milliseconds.
    pub fn add_ms_if_needed(&mut self, event: &str, ms: u64, config: &Config) {
        let threshold = config.latency_monitor_threshold;
        if threshold > 0 && ms >= threshold as u64 {
            self.add_sample(event, ms, crate::node::unix_ms() / 1000);
        }
    }

    /// `latencyAddSample`: one sample per second per event, the worst of that second.
    pub fn add_sample(&mut self, event: &str, latency: u64, now: i64) {
        let i = match self.events.iter().position(|(e, _)| e == event) {
            Some(i) => i,
            None => {
                self.events.push((event.to_string(), Series::new()));
                self.events.len() - 1
            }
        };
        let ts = &mut self.events[i].1;
        ts.max = ts.max.max(latency);
        let prev = (ts.idx + TS_LEN - 1) % TS_LEN;
        if ts.samples[prev].0 == now {
            ts.samples[prev].1 = ts.samples[prev].1.max(latency);
            return;
        }
        ts.samples[ts.idx] = (now, latency);
        ts.idx = (ts.idx + 1) % TS_LEN;
    }

    /// The series of `event` (case-sensitive, as Redis's dict).
    pub fn get(&self, event: &str) -> Option<&Series> {
        self.events.iter().find(|(e, _)| e == event).map(|(_, s)| s)
    }

    /// `latencyResetEvent`: drops `event` (case-insensitive), or every event; returns how many.
    pub fn reset(&mut self, event: Option<&[u8]>) -> usize {
        let before = self.events.len();
        self.events
            .retain(|(e, _)| event.is_some_and(|x| !e.as_bytes().eq_ignore_ascii_case(x)));
        before - self.events.len()
    }
}

/// Power-of-two buckets of `LATENCY HISTOGRAM`.
const BUCKETS: usize = 21;

/// A command's latency histogram, at the resolution LATENCY HISTOGRAM reports: Redis keeps an
/// HDR histogram (nanoseconds, 2 significant digits) and reports it at powers of two from 1024
/// ns; the count of each of those steps is kept here.
#[derive(Debug, Clone, Default)]
pub struct Histogram {
    counts: [u64; BUCKETS],
    /// The HDR histogram's own counts (`hdr_init(1, 1e9, 2)`: 256 sub-buckets, 23 buckets),
    /// for the percentiles of INFO latencystats; allocated by the first sample.
    hdr: Vec<u64>,
}

/// `hdr_init(1, 1000000000, 2)`'s layout: unit magnitude 0, 256 sub-buckets (half: 128).
const SUB_HALF_MAGNITUDE: u32 = 7;
const SUB_HALF: i64 = 1 << SUB_HALF_MAGNITUDE;
const SUB_COUNT: i64 = SUB_HALF * 2;
/// `(bucket_count + 1) * (sub_bucket_count / 2)` with 23 buckets.
const HDR_COUNTS: usize = 24 * SUB_HALF as usize;

/// `get_bucket_index`.
fn hdr_bucket(value: i64) -> i64 {
    let pow2ceiling = 64 - i64::from((value | (SUB_COUNT - 1)).leading_zeros());
    pow2ceiling - i64::from(SUB_HALF_MAGNITUDE + 1)
}

/// `counts_index_for`.
fn hdr_index(value: i64) -> usize {
    let bucket = hdr_bucket(value);
    let sub = value >> bucket;
    (((bucket + 1) << SUB_HALF_MAGNITUDE) + (sub - SUB_HALF)) as usize
}

/// `hdr_value_at_index`: the lowest value counted at `index`.
fn hdr_value_at_index(index: usize) -> i64 {
    let index = index as i64;
    let mut bucket = (index >> SUB_HALF_MAGNITUDE) - 1;
    let mut sub = (index & (SUB_HALF - 1)) + SUB_HALF;
    if bucket < 0 {
        sub -= SUB_HALF;
        bucket = 0;
    }
    sub << bucket
}

/// `lowest_equivalent_value` and `highest_equivalent_value`.
fn hdr_equivalent_range(value: i64) -> (i64, i64) {
    let bucket = hdr_bucket(value);
    let sub = value >> bucket;
    let lowest = sub << bucket;
    let adjusted = if sub >= SUB_COUNT { bucket + 1 } else { bucket };
    (lowest, lowest + (1i64 << adjusted) - 1)
}

/// The highest value (ns) that the HDR histogram treats as equal to the reporting level
/// `1024 * 2^k` (`hdr_iter_log` with 2 significant digits: 256 sub-buckets).
fn level_highest(k: usize) -> u64 {
    let level = 1024u64 << k;
    let unit = 1u64 << (3 + k);
    level + unit - 1
}

impl Histogram {
    /// Records a command that ran for `usec` microseconds (`updateCommandLatencyHistogram`:
    /// nanoseconds, clamped to 1 ns .. 1 s).
    pub fn record(&mut self, usec: u64) {
        let ns = usec.saturating_mul(1000).clamp(1, 1_000_000_000);
        let k = (0..BUCKETS)
            .find(|&k| ns <= level_highest(k))
            .unwrap_or(BUCKETS - 1);
        self.counts[k] += 1;
        if self.hdr.is_empty() {
            self.hdr = vec![0; HDR_COUNTS];
        }
        self.hdr[hdr_index(ns as i64)] += 1;
    }

    /// `hdr_value_at_percentile`: the value (ns) at `percentile` (0 to 100) of the samples.
    pub fn value_at_percentile(&self, percentile: f64) -> i64 {
        let requested = percentile.min(100.0);
        let total = self.total();
        let wanted = (((requested / 100.0) * total as f64) + 0.5) as u64;
        let wanted = wanted.max(1);
        let mut seen = 0;
        let mut value = 0;
        for (index, &n) in self.hdr.iter().enumerate() {
            seen += n;
            if seen >= wanted {
                value = hdr_value_at_index(index);
                break;
            }
        }
        let (lowest, highest) = hdr_equivalent_range(value);
        if percentile == 0.0 {
            lowest
        } else {
            highest
        }
    }

    /// Number of commands recorded.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// `fillCommandCDF`: (microseconds, cumulative count) at each level where the count grew.
    pub fn cdf(&self) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        let mut cumulative = 0;
        for (k, &n) in self.counts.iter().enumerate() {
            if n > 0 {
                cumulative += n;
                out.push((level_highest(k) / 1000, cumulative));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_levels_are_redis_reporting_points() {
        let points: Vec<u64> = (0..12).map(|k| level_highest(k) / 1000).collect();
        assert_eq!(points, [1, 2, 4, 8, 16, 33, 66, 132, 264, 528, 1056, 2113]);
        let mut h = Histogram::default();
        for usec in [0, 1, 1, 3, 40, 2_000_000] {
            h.record(usec);
        }
        assert_eq!(h.total(), 6);
        assert_eq!(h.cdf(), vec![(1, 3), (4, 4), (66, 5), (1082130, 6)]);
    }

    #[test]
    fn percentiles_are_hdr_histograms() {
        // hdr_init(1, 1e9, 2): values below 256 ns are exact, then 2 significant digits.
        let mut h = Histogram::default();
        for usec in [1, 2, 3, 4, 5, 6, 7, 8, 9, 1000] {
            h.record(usec);
        }
        // 10 samples: p50 is the 5th (5000 ns, within [4992, 5023]), p99 the 10th (1 s
        // range of 1 ms: [999424, 1003519]); p0 the lowest value of the first (1000 exactly).
        assert_eq!(h.value_at_percentile(50.0), 5023);
        assert_eq!(h.value_at_percentile(99.0), 1_003_519);
        assert_eq!(h.value_at_percentile(0.0), 1000);
        assert_eq!(hdr_index(1), 1);
        assert_eq!(hdr_index(255), 255);
        assert_eq!(hdr_index(256), 256);
        assert_eq!(hdr_value_at_index(hdr_index(1_000_000_000)), 998_244_352);
        assert!(hdr_index(1_000_000_000) < HDR_COUNTS);
    }

    #[test]
    fn one_sample_per_second_keeps_the_worst() {
        let mut m = Monitor::default();
        m.add_sample("command", 5, 100);
        m.add_sample("command", 9, 100);
        m.add_sample("command", 3, 100);
        m.add_sample("command", 4, 101);
        let s = m.get("command").unwrap();
        assert_eq!(s.history().collect::<Vec<_>>(), vec![(100, 9), (101, 4)]);
        assert_eq!(s.max, 9);
        assert_eq!(s.last(), (101, 4));
        for t in 0..200 {
            m.add_sample("command", 1, 200 + t);
        }
        assert_eq!(m.get("command").unwrap().history().count(), TS_LEN);
        assert_eq!(m.reset(Some(b"COMMAND")), 1);
        assert_eq!(m.reset(None), 0);
    }
}
