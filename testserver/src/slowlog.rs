//! The slow log: commands that ran longer than `slowlog-log-slower-than` microseconds, newest
//! first, at most `slowlog-max-len` of them (Redis's `slowlog.c`).

use std::collections::VecDeque;

use bytes::Bytes;
use rediscover::command::CommandInfo;

use crate::cmd::Ctx;

/// Arguments kept per entry; the last one kept says how many more there were.
const MAX_ARGC: usize = 32;
/// Bytes kept per argument.
const MAX_STRING: usize = 128;

/// One slow command.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Unique, increasing id.
    pub id: u64,
    /// When the command ran (Unix seconds).
    pub time: i64,
    /// How long it ran (µs).
    pub duration: u64,
    /// Its arguments, shortened and redacted as Redis does.
    pub argv: Vec<Bytes>,
    /// The client's `ip:port`.
    pub peer: String,
    /// The client's name (empty if none).
    pub name: Bytes,
}

/// The slow log of one node.
#[derive(Debug, Default)]
pub struct SlowLog {
    entries: VecDeque<Entry>,
    next_id: u64,
}

impl SlowLog {
    /// Entries, newest first.
    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.entries.iter()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the log is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Forgets every entry (ids keep increasing).
    pub fn reset(&mut self) {
        self.entries.clear();
    }

    fn push(&mut self, mut entry: Entry, max_len: usize) {
        entry.id = self.next_id;
        self.next_id += 1;
        self.entries.push_front(entry);
        self.entries.truncate(max_len);
    }
}

/// Records the command that just ran in `ctx`, if it was slow enough (called by the dispatcher).
pub fn observe(ctx: &mut Ctx<'_>, cmd: &CommandInfo, argv: &[Bytes], usec: u64) {
    let threshold = ctx.node.config.slowlog_log_slower_than;
    // A command that blocked is logged when it is served, like in Redis.
    if ctx.is_blocked()
        || threshold < 0
        || (usec as i64) < threshold
        || cmd.has_flag("skip_slowlog")
    {
        return;
    }
    let entry = Entry {
        id: 0,
        time: ctx.now / 1000,
        duration: usec,
        argv: shorten(&redact(argv)),
        peer: ctx.client.addr.to_string(),
        name: ctx.client.name.clone().unwrap_or_default(),
    };
    let max_len = usize::try_from(ctx.node.config.slowlog_max_len).unwrap_or(usize::MAX);
    ctx.node.stats.slowlog.push(entry, max_len);
}

/// Replaces passwords and ACL rules with `(redacted)`, as Redis does before logging.
fn redact(argv: &[Bytes]) -> Vec<Bytes> {
    const REDACTED: Bytes = Bytes::from_static(b"(redacted)");
    let mut out: Vec<Bytes> = argv.iter().map(|a| Bytes::copy_from_slice(a)).collect();
    let name = String::from_utf8_lossy(&argv[0]).to_ascii_lowercase();
    let sub = argv
        .get(1)
        .map(|a| String::from_utf8_lossy(a).to_ascii_lowercase());
    match (name.as_str(), sub.as_deref()) {
        ("auth", _) => out[1..].fill(REDACTED),
        ("acl", Some("setuser")) => out[2..].fill(REDACTED),
        ("hello", _) => {
            let mut j = 2;
            while j < out.len() {
                if out[j].eq_ignore_ascii_case(b"AUTH") && j + 2 < out.len() {
                    out[j + 1] = REDACTED;
                    out[j + 2] = REDACTED;
                    j += 3;
                } else {
                    j += 1;
                }
            }
        }
        ("config", Some("set")) => {
            for pair in out[2..].chunks_mut(2) {
                let sensitive = ["requirepass", "masterauth", "masteruser"]
                    .iter()
                    .any(|s| pair[0].eq_ignore_ascii_case(s.as_bytes()));
                if sensitive && pair.len() == 2 {
                    pair[1] = REDACTED;
                }
            }
        }
        _ => {}
    }
    out
}

/// At most 32 arguments of at most 128 bytes, with Redis's "... (N more ...)" markers.
fn shorten(argv: &[Bytes]) -> Vec<Bytes> {
    let kept = argv.len().min(MAX_ARGC);
    (0..kept)
        .map(|j| {
            if kept != argv.len() && j == kept - 1 {
                let more = argv.len() - kept + 1;
                Bytes::from(format!("... ({more} more arguments)"))
            } else if argv[j].len() > MAX_STRING {
                let mut s = argv[j][..MAX_STRING].to_vec();
                s.extend_from_slice(
                    format!("... ({} more bytes)", argv[j].len() - MAX_STRING).as_bytes(),
                );
                Bytes::from(s)
            } else {
                argv[j].clone()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_commands_are_shortened() {
        let argv: Vec<Bytes> = (0..40).map(|i| Bytes::from(i.to_string())).collect();
        let s = shorten(&argv);
        assert_eq!(s.len(), 32);
        assert_eq!(&s[31][..], b"... (9 more arguments)");
        let big = vec![Bytes::from(vec![b'x'; 130])];
        assert!(shorten(&big)[0].ends_with(b"... (2 more bytes)"));
    }

    #[test]
    fn secrets_are_redacted() {
        let argv =
            |w: &[&str]| -> Vec<Bytes> { w.iter().map(|s| Bytes::from(s.to_string())).collect() };
        assert_eq!(
            redact(&argv(&["AUTH", "u", "p"])),
            argv(&["AUTH", "(redacted)", "(redacted)"])
        );
        assert_eq!(
            redact(&argv(&["config", "set", "requirepass", "x", "hz", "5"])),
            argv(&["config", "set", "requirepass", "(redacted)", "hz", "5"])
        );
    }
}
