//! EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT (Redis's `eval.c`).

use bytes::Bytes;
use rediscover::error_codes::msg;

use super::{eq_ic, parse_i64, subcommand, CmdResult, Command, Ctx, Error, Handler};
use crate::script::{self, sflag, Call};

pub(crate) const COMMANDS: &[(&str, Handler)] = &[
    ("eval", eval),
    ("evalsha", evalsha),
    ("eval_ro", eval),
    ("evalsha_ro", evalsha),
    ("script", script_cmd),
];

/// Commands replicated as their effects, never as themselves.
pub(crate) fn replicated_as_effects(name: &str) -> bool {
    matches!(
        name,
        "eval" | "evalsha" | "eval_ro" | "evalsha_ro" | "fcall" | "fcall_ro"
    )
}

fn eval(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    generic(ctx, argv, false)
}

fn evalsha(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    if argv[1].len() != 40 {
        return Err(msg::NOSCRIPT.into());
    }
    generic(ctx, argv, true)
}

/// The number of keys of an EVAL or FCALL, checked against the arguments.
pub(crate) fn numkeys(argv: &[Bytes]) -> Result<usize, Error> {
    let n = parse_i64(&argv[2])?;
    if n > argv.len() as i64 - 3 {
        return Err("ERR Number of keys can't be greater than number of args".into());
    }
    if n < 0 {
        return Err("ERR Number of keys can't be negative".into());
    }
    Ok(n as usize)
}

/// The script cache's key for an EVALSHA digest: lower-cased into `buf`, without allocating.
/// None when it cannot name a script.
fn digest_key<'b>(digest: &[u8], buf: &'b mut [u8; 40]) -> Option<&'b str> {
    if digest.len() != buf.len() {
        return None;
    }
    buf.copy_from_slice(digest);
    buf.make_ascii_lowercase();
    std::str::from_utf8(buf).ok()
}

fn generic(ctx: &mut Ctx<'_>, argv: &[Bytes], evalsha: bool) -> CmdResult {
    let nkeys = numkeys(argv)?;
    let mut buf = [0u8; 40];
    let computed;
    let sha = if evalsha {
        digest_key(&argv[1], &mut buf).ok_or(msg::NOSCRIPT)?
    } else {
        computed = script::sha1::sha1_hex(&argv[1]);
        computed.as_str()
    };
    let found = match script::cached(&ctx.node.scripts, sha) {
        Some(f) => f,
        None if evalsha => return Err(msg::NOSCRIPT.into()),
        None => {
            ctx.node.scripts.create(&argv[1])?;
            script::cached(&ctx.node.scripts, sha).ok_or(msg::NOSCRIPT)?
        }
    };
    let (func, flags) = found;
    let ro = argv[0].len() > 4 && argv[0][argv[0].len() - 3..].eq_ignore_ascii_case(b"_ro");
    script::prepare_checks(ctx, flags, ro)?;
    script::execute(
        ctx,
        &func,
        Call {
            name: sha,
            argv,
            keys: &argv[3..3 + nkeys],
            args: &argv[3 + nkeys..],
            flags,
            ro,
            eval: true,
        },
    );
    Ok(())
}

/// The flags the gate sees for EVAL/EVALSHA of a script with a shebang (Redis's
/// `evalGetCommandFlags`): `write` unless `no-writes`, `stale` with `allow-stale`.
pub(crate) fn gate_flags(ctx: &Ctx<'_>, cmd: &Command, argv: &[Bytes]) -> u32 {
    let name = cmd.info.name;
    if matches!(name, "fcall" | "fcall_ro") && argv.len() >= 2 {
        let fname = String::from_utf8_lossy(&argv[1]);
        return match ctx.node.scripts.function(&fname) {
            Some((_, flags)) => script_cmd_flags(cmd.flags, flags),
            None => cmd.flags,
        };
    }
    if !matches!(name, "eval" | "evalsha" | "eval_ro" | "evalsha_ro") || argv.len() < 2 {
        return cmd.flags;
    }
    let evalsha = name.starts_with("evalsha");
    let flags = if evalsha {
        let mut buf = [0u8; 40];
        let Some(sha) = digest_key(&argv[1], &mut buf) else {
            return cmd.flags;
        };
        match ctx.node.scripts.cache.get(sha) {
            Some(s) => s.flags,
            None => return cmd.flags,
        }
    } else {
        let sha = script::sha1::sha1_hex(&argv[1]);
        match ctx.node.scripts.cache.get(&sha) {
            Some(s) => s.flags,
            None => match script::shebang_flags(&argv[1]) {
                Ok((fl, _)) => fl,
                Err(_) => return cmd.flags,
            },
        }
    };
    script_cmd_flags(cmd.flags, flags)
}

/// Redis's `scriptFlagsToCmdFlags`.
pub(crate) fn script_cmd_flags(cmd_flags: u32, script_flags: u32) -> u32 {
    use super::flags as f;
    if script_flags & sflag::EVAL_COMPAT != 0 {
        return cmd_flags;
    }
    let mut out = cmd_flags & !(f::STALE | f::DENYOOM | f::WRITE);
    if script_flags & (sflag::ALLOW_OOM | sflag::NO_WRITES) == 0 {
        out |= f::DENYOOM;
    }
    if script_flags & sflag::NO_WRITES == 0 {
        out |= f::WRITE;
    }
    if script_flags & sflag::ALLOW_STALE != 0 {
        out |= f::STALE;
    }
    out
}

const HELP: &[&str] = &[
    "DEBUG (YES|SYNC|NO)",
    "    Set the debug mode for subsequent scripts executed.",
    "EXISTS <sha1> [<sha1> ...]",
    "    Return information about the existence of the scripts in the script cache.",
    "FLUSH [ASYNC|SYNC]",
    "    Flush the Lua scripts cache. Very dangerous on replicas.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the scripts cache.",
    "    * SYNC: Synchronously flush the scripts cache.",
    "KILL",
    "    Kill the currently executing Lua script.",
    "LOAD <script>",
    "    Load a script into the scripts cache without executing it.",
];

fn script_cmd(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let name = subcommand(argv)?;
    match name {
        "script|help" => super::server::help(ctx, "SCRIPT", HELP),
        "script|flush" => {
            if argv.len() == 3 && !(eq_ic(&argv[2], "sync") || eq_ic(&argv[2], "async"))
                || argv.len() > 3
            {
                return Err("ERR SCRIPT FLUSH only support SYNC|ASYNC option".into());
            }
            ctx.node.scripts.flush();
            ctx.out.ok();
        }
        "script|exists" => {
            ctx.out.array(argv.len() - 2);
            let mut buf = [0u8; 40];
            for sha in &argv[2..] {
                let known = digest_key(sha, &mut buf)
                    .is_some_and(|k| ctx.node.scripts.cache.contains_key(k));
                ctx.out.int(i64::from(known));
            }
        }
        "script|load" => {
            let sha = ctx.node.scripts.create(&argv[2])?;
            ctx.out.bulk(sha.as_bytes());
        }
        // Runs while a script is busy: its hook serves the command (script::busy).
        "script|kill" => {
            ctx.node.scripts.busy.kill(true)?;
            ctx.out.ok();
        }
        "script|debug" => {
            if eq_ic(&argv[2], "no") {
                ctx.out.ok();
            } else if eq_ic(&argv[2], "yes") || eq_ic(&argv[2], "sync") {
                return Err(
                    "ERR SCRIPT DEBUG (the Lua debugger) is not supported by this server".into(),
                );
            } else {
                return Err("ERR Use SCRIPT DEBUG YES/SYNC/NO".into());
            }
        }
        _ => return Err(rediscover::error_codes::unknown_subcommand("script", &argv[1]).into()),
    }
    Ok(())
}
