//! Redis-style log lines for the `rediscover-server` binary:
//! `<pid>:<role> 22 Nov 2026 01:23:45.678 <level> <message>`, to standard output or to the
//! `logfile`.
//!
//! Tools that watch a Redis log (test harnesses waiting for `Ready to accept connections`)
//! can watch this one the same way. Times are UTC.

use std::fs::OpenOptions;
use std::io::Write;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

/// Severity of a log line; the character Redis prints for it follows the role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// `.` (loglevel debug)
    Debug,
    /// `-` (loglevel verbose)
    Verbose,
    /// `*` (loglevel notice)
    Notice,
    /// `#` (loglevel warning)
    Warning,
}

impl Level {
    fn mark(self) -> char {
        match self {
            Level::Debug => '.',
            Level::Verbose => '-',
            Level::Notice => '*',
            Level::Warning => '#',
        }
    }

    /// The level named by the `loglevel` directive (`nothing` and unknown names: warnings only).
    pub fn from_config(name: &str) -> Level {
        match name.to_ascii_lowercase().as_str() {
            "debug" => Level::Debug,
            "verbose" => Level::Verbose,
            "notice" => Level::Notice,
            _ => Level::Warning,
        }
    }
}

/// The process role Redis prints after the pid: `C` before the server is set up (child/config
/// phase), `M` for a master, `S` for a replica, `X` for a sentinel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// `C`
    Config,
    /// `M`
    Master,
    /// `S`
    Replica,
    /// `X`
    Sentinel,
}

impl Role {
    fn mark(self) -> char {
        match self {
            Role::Config => 'C',
            Role::Master => 'M',
            Role::Replica => 'S',
            Role::Sentinel => 'X',
        }
    }
}

/// Writes log lines, filtered by level, to stdout or a file.
#[derive(Debug)]
pub struct Logger {
    min: Level,
    file: Option<Mutex<std::fs::File>>,
}

impl Logger {
    /// A logger for `loglevel` writing to `logfile` (empty: standard output).
    pub fn new(loglevel: &str, logfile: &str) -> std::io::Result<Logger> {
        let file = if logfile.is_empty() {
            None
        } else {
            let f = OpenOptions::new().create(true).append(true).open(logfile)?;
            Some(Mutex::new(f))
        };
        Ok(Logger {
            min: Level::from_config(loglevel),
            file,
        })
    }

    /// A logger to standard output at `notice` level.
    pub fn stdout() -> Logger {
        Logger {
            min: Level::Notice,
            file: None,
        }
    }

    /// Logs `msg` as `role` at `level`.
    pub fn log(&self, role: Role, level: Level, msg: &str) {
        if level < self.min {
            return;
        }
        let line = format!(
            "{}:{} {} {} {}\n",
            std::process::id(),
            role.mark(),
            timestamp(SystemTime::now()),
            level.mark(),
            msg
        );
        self.write(&line);
    }

    /// Logs the line Redis's signal handler writes (it has no role or millisecond time).
    pub fn signal(&self, name: &str) {
        self.from_signal_handler(&format!("Received {name} scheduling shutdown..."));
    }

    /// Logs `msg` as Redis's `serverLogFromHandler` does: `<pid>:signal-handler (<secs>) msg`.
    pub fn from_signal_handler(&self, msg: &str) {
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let line = format!("{}:signal-handler ({secs}) {msg}\n", std::process::id());
        self.write(&line);
    }

    fn write(&self, line: &str) {
        match &self.file {
            Some(f) => {
                let mut f = f.lock().unwrap_or_else(|e| e.into_inner());
                let _ = f.write_all(line.as_bytes());
            }
            None => {
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(line.as_bytes());
                let _ = out.flush();
            }
        }
    }
}

/// `22 Nov 2026 01:23:45.678` (UTC), Redis's log time format.
pub fn timestamp(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (y, m, day) = civil_from_days(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{:02} {} {} {:02}:{:02}:{:02}.{:03}",
        day,
        MONTHS[(m - 1) as usize],
        y,
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_millis()
    )
}

/// Days since 1970-01-01 to (year, month 1-12, day 1-31), Howard Hinnant's algorithm.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Bytes as Redis's `sdscatrepr` shows them in log lines and errors: double-quoted, with
/// `\\ \" \n \r \t \a \b` escaped, other unprintable bytes as `\xHH`.
pub fn repr(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 2);
    out.push('"');
    for &b in bytes {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x07 => out.push_str("\\a"),
            0x08 => out.push_str("\\b"),
            0x20..=0x7e => out.push(char::from(b)),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn redis_time_format() {
        let t = UNIX_EPOCH + Duration::from_millis(1_795_312_503_454);
        assert_eq!(timestamp(t), "22 Nov 2026 01:55:03.454");
        assert_eq!(timestamp(UNIX_EPOCH), "01 Jan 1970 00:00:00.000");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(timestamp(leap), "29 Feb 2000 00:00:00.000");
    }
}
