//! MONITOR: every command run is streamed to the monitoring clients, after it ran, as Redis's
//! `replicationFeedMonitors` writes it: `+<unix>.<µs> [<db> <peer>] "cmd" "arg"...` with the
//! arguments quoted by `sdscatrepr`, credentials redacted, and administrative commands left
//! out.

use bytes::Bytes;

use super::{CmdResult, Command, Ctx, Handler};
use crate::client::Client;
use crate::node::NodeState;

pub(crate) const COMMANDS: &[(&str, Handler)] = &[("monitor", monitor)];

fn monitor(ctx: &mut Ctx<'_>, _argv: &[Bytes]) -> CmdResult {
    // Inside EXEC a client may not block, so it may not monitor either.
    if ctx.in_exec {
        return Err("ERR MONITOR isn't allowed for DENY BLOCKING client".into());
    }
    // A client already monitoring gets no reply at all, as in Redis.
    if ctx.client.monitor {
        return Ok(());
    }
    ctx.client.monitor = true;
    ctx.node
        .monitors
        .push((ctx.client.id, ctx.client.oob.clone()));
    ctx.out.ok();
    Ok(())
}

/// Takes `client` out of monitor mode (RESET, or the connection closing).
pub(crate) fn stop(node: &mut NodeState, client: &mut Client) {
    if client.monitor {
        client.monitor = false;
        node.monitors.retain(|(id, _)| *id != client.id);
    }
}

/// Sends the command just run to the monitors, unless it is one Redis does not show
/// (administrative ones, those flagged `skip_monitor`, QUIT).
pub(crate) fn feed(ctx: &mut Ctx<'_>, cmd: &Command, argv: &[Bytes]) {
    let info = match argv.get(1) {
        Some(sub) if !cmd.info.subcommands.is_empty() => {
            cmd.info.subcommand(sub).unwrap_or(cmd.info)
        }
        _ => cmd.info,
    };
    if info
        .flags
        .iter()
        .any(|f| *f == "admin" || *f == "skip_monitor")
        || cmd.info.name == "quit"
    {
        return;
    }
    let line = format_line(crate::node::unix_us(), ctx.client, argv, cmd.info.name);
    let line = Bytes::from(line);
    let me = ctx.client.id;
    for (id, tx) in &ctx.node.monitors {
        if *id == me {
            ctx.out.raw(&line);
        } else {
            tx.send(line.clone());
        }
    }
}

/// One MONITOR line for `argv` run by `client`, at `now_us` (Unix µs).
pub fn format_line(now_us: i64, client: &Client, argv: &[Bytes], name: &str) -> Vec<u8> {
    let mut out = format!(
        "+{}.{:06} [{} {}] ",
        now_us.div_euclid(1_000_000),
        now_us.rem_euclid(1_000_000),
        client.db,
        client.addr
    )
    .into_bytes();
    let redacted = redacted_args(name, argv);
    for (i, arg) in argv.iter().enumerate() {
        if redacted.contains(&i) {
            out.extend_from_slice(b"\"(redacted)\"");
        } else {
            repr(&mut out, arg);
        }
        if i + 1 != argv.len() {
            out.push(b' ');
        }
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// Positions Redis replaces with `(redacted)`: every argument of AUTH, the user and password
/// after HELLO's AUTH, the password (AUTH) or user and password (AUTH2) of MIGRATE.
fn redacted_args(name: &str, argv: &[Bytes]) -> Vec<usize> {
    let mut out = Vec::new();
    match name {
        "auth" => out.extend(1..argv.len()),
        "hello" => {
            let mut i = 2;
            while i < argv.len() {
                let more = argv.len() - 1 - i;
                if argv[i].eq_ignore_ascii_case(b"auth") && more >= 2 {
                    out.extend([i + 1, i + 2]);
                    i += 3;
                } else if argv[i].eq_ignore_ascii_case(b"setname") && more >= 1 {
                    i += 2;
                } else {
                    break;
                }
            }
        }
        "migrate" => {
            let mut i = 6;
            while i < argv.len() {
                let more = argv.len() - 1 - i;
                if argv[i].eq_ignore_ascii_case(b"auth") && more >= 1 {
                    out.push(i + 1);
                    i += 2;
                } else if argv[i].eq_ignore_ascii_case(b"auth2") && more >= 2 {
                    out.extend([i + 1, i + 2]);
                    i += 3;
                } else if argv[i].eq_ignore_ascii_case(b"copy")
                    || argv[i].eq_ignore_ascii_case(b"replace")
                {
                    i += 1;
                } else {
                    break;
                }
            }
        }
        _ => {}
    }
    out
}

/// Redis's `sdscatrepr`: the bytes in double quotes, with `\\`, `\"`, `\n`, `\r`, `\t`, `\a`,
/// `\b` escaped and other unprintable bytes as `\xhh`.
pub fn repr(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    for &b in s {
        match b {
            b'\\' | b'"' => {
                out.push(b'\\');
                out.push(b);
            }
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x07 => out.extend_from_slice(b"\\a"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x20..=0x7e => out.push(b),
            _ => out.extend_from_slice(format!("\\x{b:02x}").as_bytes()),
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::repr;

    #[test]
    fn repr_escapes_like_sdscatrepr() {
        let mut out = Vec::new();
        repr(&mut out, b"x\"y\n\x01\xff\\ \t\r\x07\x08");
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#""x\"y\n\x01\xff\\ \t\r\a\b""#
        );
    }
}
