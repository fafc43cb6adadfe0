//! Replaying one AOF file (Redis's `loadSingleAppendOnlyFile`): an RDB part first if the file
//! starts with `REDIS` (an RDB BASE, or an old-style preamble), then commands in RESP form run
//! by a client that obeys like a master's link, with `aof-load-truncated` deciding what a short
//! last command means.

use std::path::Path;

use bytes::Bytes;
use rediscover::resp::ReplyWriter;

use crate::client::Client;
use crate::cmd::Ctx;
use crate::logging::Level;
use crate::node::NodeState;

/// Outcome of loading one file (Redis's `AOF_*` codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loaded {
    /// Read completely.
    Ok,
    /// The file does not exist.
    NotExist,
    /// The file is empty.
    Empty,
    /// The last command was cut short and the file was truncated after the last whole one.
    Truncated,
    /// The file could not be opened.
    OpenErr,
    /// The file could not be loaded.
    Failed,
}

/// `AOF_ANNOTATION_LINE_MAX_LEN`: the `fgets` buffer size.
const LINE_MAX: usize = 1024;

/// Where reading stopped, if early.
enum Stop {
    /// A read came up short at the end of the file.
    Eof,
    /// Not the AOF format.
    Format,
    /// A command this server does not know.
    Unknown(String),
}

/// Reads `fgets`-style: up to and including `\n`, at most `LINE_MAX - 1` bytes.
fn line<'a>(data: &'a [u8], pos: &mut usize) -> Option<&'a [u8]> {
    if *pos >= data.len() {
        return None;
    }
    let rest = &data[*pos..];
    let n = match rest.iter().take(LINE_MAX - 1).position(|&b| b == b'\n') {
        Some(p) => p + 1,
        None => rest.len().min(LINE_MAX - 1),
    };
    *pos += n;
    Some(&rest[..n])
}

/// C's `atoi`/`strtol` on the start of `s`.
fn leading_int(s: &[u8]) -> i64 {
    let mut i = 0;
    while i < s.len() && (s[i] == b' ' || s[i] == b'\t') {
        i += 1;
    }
    let neg = s.get(i) == Some(&b'-');
    if matches!(s.get(i), Some(b'-' | b'+')) {
        i += 1;
    }
    let mut n: i64 = 0;
    while i < s.len() && s[i].is_ascii_digit() {
        n = n.saturating_mul(10).saturating_add(i64::from(s[i] - b'0'));
        i += 1;
    }
    if neg {
        -n
    } else {
        n
    }
}

/// Loads `dir/name` into the node. An RDB part replaces the dataset (only a BASE file, always
/// the first, has one). `old_style`: the file is an old single-file AOF (for log lines).
pub fn load_file(st: &mut NodeState, dir: &Path, name: &str, old_style: bool) -> Loaded {
    let path = dir.join(name);
    let data = match std::fs::read(&path) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            st.log(
                Level::Warning,
                &format!("The append log file {name} doesn't exist: {e}"),
            );
            return Loaded::NotExist;
        }
        Err(e) => {
            st.log(
                Level::Warning,
                &format!("Fatal error: can't open the append log file {name} for reading: {e}"),
            );
            return Loaded::OpenErr;
        }
    };
    if data.is_empty() {
        return Loaded::Empty;
    }
    let mut pos = 0;
    if data.starts_with(b"REDIS") {
        st.log(
            Level::Notice,
            if old_style {
                "Reading RDB preamble from AOF file..."
            } else {
                "Reading RDB base file on AOF loading..."
            },
        );
        let mut options = crate::rdb::LoadOptions::from_config(&st.config, crate::node::unix_ms());
        // RDBFLAGS_AOF_PREAMBLE: keys already expired are loaded (and expire afterwards).
        options.drop_expired_before = None;
        match crate::rdb::load(&data, &options) {
            Ok(snapshot) => {
                pos = snapshot.consumed;
                crate::rdb::persist::install(st, snapshot);
                if old_style {
                    st.log(Level::Notice, "Reading the remaining AOF tail...");
                }
            }
            Err(e) => {
                let what = if old_style {
                    format!("Error reading the RDB preamble of the AOF file {name}, AOF loading aborted")
                } else {
                    format!("Error reading the RDB base file {name}, AOF loading aborted")
                };
                // An RDB that cannot be read is fatal, truncated or not (Redis exits in
                // `rdbReportError`).
                st.log(Level::Warning, &format!("{e}"));
                st.log(Level::Warning, &what);
                return Loaded::Failed;
            }
        }
    }
    let truncated_ok = st.config.extra_or("aof-load-truncated", "yes") == "yes";
    let (oob, _rx) = crate::client::oob_channel();
    let any: std::net::SocketAddr = ([0, 0, 0, 0], 0).into();
    // CLIENT_ID_AOF.
    let mut client = Client::new(u64::MAX, any, any, oob);
    client.master_link = true;
    client.authenticated = true;
    let mut out = ReplyWriter::new(false);
    let mut valid_up_to = pos;
    let mut valid_before_multi = pos;
    let stop = {
        let mut ctx = Ctx::new(st, &mut client, &mut out);
        let mut argv: Vec<Bytes> = Vec::new();
        loop {
            let Some(head) = line(&data, &mut pos) else {
                break None;
            };
            if head[0] == b'#' {
                continue;
            }
            if head[0] != b'*' {
                break Some(Stop::Format);
            }
            if head.len() == 1 {
                break Some(Stop::Eof);
            }
            let argc = leading_int(&head[1..]);
            if argc < 1 {
                break Some(Stop::Format);
            }
            argv.clear();
            let mut stop = None;
            for _ in 0..argc {
                let Some(l) = line(&data, &mut pos) else {
                    stop = Some(Stop::Eof);
                    break;
                };
                if l[0] != b'$' {
                    stop = Some(Stop::Format);
                    break;
                }
                let len = leading_int(&l[1..]).max(0) as usize;
                if data.len() - pos < len {
                    stop = Some(Stop::Eof);
                    break;
                }
                argv.push(Bytes::copy_from_slice(&data[pos..pos + len]));
                pos += len;
                if data.len() - pos < 2 {
                    stop = Some(Stop::Eof);
                    break;
                }
                pos += 2;
            }
            if stop.is_some() {
                break stop;
            }
            if ctx.node.commands.get(&argv[0]).is_none() {
                break Some(Stop::Unknown(
                    String::from_utf8_lossy(&argv[0]).into_owned(),
                ));
            }
            if argv[0].eq_ignore_ascii_case(b"multi") {
                valid_before_multi = valid_up_to;
            }
            crate::cmd::process(&mut ctx, &argv);
            ctx.out.buffer().clear();
            if truncated_ok {
                valid_up_to = pos;
            }
        }
    };
    crate::cmd::after_command(st);
    match stop {
        None if client.multi.is_some() => {
            st.log(
                Level::Warning,
                &format!("Revert incomplete MULTI/EXEC transaction in AOF file {name}"),
            );
            uxeof_or_fail(st, &path, name, valid_before_multi)
        }
        None => Loaded::Ok,
        Some(Stop::Eof) => uxeof_or_fail(st, &path, name, valid_up_to),
        Some(Stop::Format) => {
            st.log(
                Level::Warning,
                &format!("Bad file format reading the append only file {name}: make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>"),
            );
            Loaded::Failed
        }
        Some(Stop::Unknown(cmd)) => {
            st.log(
                Level::Warning,
                &format!("Unknown command '{cmd}' reading the append only file {name}"),
            );
            Loaded::Failed
        }
    }
}

/// An unexpected end of file: with `aof-load-truncated yes` the file is cut after the last
/// whole command and loading goes on; otherwise loading fails.
fn uxeof_or_fail(st: &mut NodeState, path: &Path, name: &str, valid_up_to: usize) -> Loaded {
    if st.config.extra_or("aof-load-truncated", "yes") == "yes" {
        st.log(
            Level::Warning,
            &format!("!!! Warning: short read while loading the AOF file {name}!!!"),
        );
        st.log(
            Level::Warning,
            &format!("!!! Truncating the AOF {name} at offset {valid_up_to} !!!"),
        );
        let cut = std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .and_then(|f| f.set_len(valid_up_to as u64));
        match cut {
            Ok(()) => {
                st.log(
                    Level::Warning,
                    &format!("AOF {name} loaded anyway because aof-load-truncated is enabled"),
                );
                return Loaded::Truncated;
            }
            Err(e) => st.log(
                Level::Warning,
                &format!("Error truncating the AOF file {name}: {e}"),
            ),
        }
    }
    st.log(
        Level::Warning,
        &format!("Unexpected end of file reading the append only file {name}. You can: 1) Make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>. 2) Alternatively you can set the 'aof-load-truncated' configuration option to yes and restart the server."),
    );
    Loaded::Failed
}
