//! FUNCTION (LOAD, DELETE, FLUSH, LIST, DUMP, RESTORE, STATS, KILL, HELP), FCALL, FCALL_RO
//! (Redis's `functions.c`).

use bytes::Bytes;

use super::{eq_ic, subcommand, CmdResult, Ctx, Error, Handler};
use crate::script::function::RestorePolicy;
use crate::script::{self, sflag, Call};

pub(crate) const COMMANDS: &[(&str, Handler)] = &[
    ("function", function),
    ("fcall", fcall),
    ("fcall_ro", fcall),
];

fn fcall(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let name = String::from_utf8_lossy(&argv[1]).into_owned();
    let Some((func, flags)) = ctx.node.scripts.function(&name) else {
        return Err("ERR Function not found".into());
    };
    let Some(n) = rediscover::resp::parse_integer(&argv[2]) else {
        return Err("ERR Bad number of keys provided".into());
    };
    if n > argv.len() as i64 - 3 {
        return Err("ERR Number of keys can't be greater than number of args".into());
    }
    if n < 0 {
        return Err("ERR Number of keys can't be negative".into());
    }
    let nkeys = n as usize;
    let ro = argv[0].eq_ignore_ascii_case(b"fcall_ro");
    script::prepare_checks(ctx, flags, ro)?;
    script::execute(
        ctx,
        &func,
        Call {
            name: &name,
            argv,
            keys: &argv[3..3 + nkeys],
            args: &argv[3 + nkeys..],
            flags,
            ro,
            eval: false,
        },
    );
    Ok(())
}

const HELP: &[&str] = &[
    "LOAD [REPLACE] <FUNCTION CODE>",
    "    Create a new library with the given library name and code.",
    "DELETE <LIBRARY NAME>",
    "    Delete the given library.",
    "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
    "    Return general information on all the libraries:",
    "    * Library name",
    "    * The engine used to run the Library",
    "    * Library description",
    "    * Functions list",
    "    * Library code (if WITHCODE is given)",
    "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
    "STATS",
    "    Return information about the current function running:",
    "    * Function name",
    "    * Command used to run the function",
    "    * Duration in MS that the function is running",
    "    If no function is running, return nil",
    "    In addition, returns a list of available engines.",
    "KILL",
    "    Kill the current running function.",
    "FLUSH [ASYNC|SYNC]",
    "    Delete all the libraries.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the libraries.",
    "    * SYNC: Synchronously flush the libraries.",
    "DUMP",
    "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
    "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
    "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
    "    control how to handle existing libraries (default APPEND):",
    "    * FLUSH: delete all existing libraries.",
    "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
    "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
    "      libraries with the new libraries (notice that even on this option there is a chance of failure",
    "      in case of functions name collision with another library).",
];

fn syntax_error(argv: &[Bytes]) -> Error {
    rediscover::error_codes::unknown_subcommand("function", &argv[1]).into()
}

fn function(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    match subcommand(argv)? {
        "function|help" => super::server::help(ctx, "FUNCTION", HELP),
        "function|load" => {
            let mut replace = false;
            let mut i = 2;
            while i < argv.len() - 1 {
                if eq_ic(&argv[i], "replace") {
                    replace = true;
                    i += 1;
                    continue;
                }
                return Err(format!(
                    "ERR Unknown option given: {}",
                    String::from_utf8_lossy(&argv[i])
                )
                .into());
            }
            if i >= argv.len() {
                return Err("ERR Function code is missing".into());
            }
            let timeout = !ctx.client.master_link;
            let name = ctx
                .node
                .scripts
                .load_library(&argv[i], replace, timeout)
                .map_err(|e| format!("ERR {e}"))?;
            ctx.dirty(1);
            ctx.out.bulk(name.as_bytes());
        }
        "function|delete" => {
            let name = String::from_utf8_lossy(&argv[2]).into_owned();
            if !ctx.node.scripts.delete_library(&name) {
                return Err("ERR Library not found".into());
            }
            ctx.dirty(1);
            ctx.out.ok();
        }
        "function|flush" => {
            if argv.len() > 3 {
                return Err(syntax_error(argv));
            }
            if argv.len() == 3 && !eq_ic(&argv[2], "sync") && !eq_ic(&argv[2], "async") {
                return Err("ERR FUNCTION FLUSH only supports SYNC|ASYNC option".into());
            }
            ctx.node.scripts.flush_functions();
            ctx.dirty(1);
            ctx.out.ok();
        }
        "function|kill" => {
            // Runs while a script is busy: its hook serves the command (script::busy).
            ctx.node.scripts.busy.kill(false)?;
            ctx.out.ok();
        }
        "function|stats" => stats(ctx)?,
        "function|list" => list(ctx, argv)?,
        "function|dump" => {
            let codes = ctx.node.scripts.library_codes();
            let payload = crate::rdb::function_payload(&codes);
            ctx.out.bulk(&payload);
        }
        "function|restore" => {
            if argv.len() > 4 {
                return Err(syntax_error(argv));
            }
            let policy = match argv.get(3) {
                None => RestorePolicy::Append,
                Some(p) if eq_ic(p, "append") => RestorePolicy::Append,
                Some(p) if eq_ic(p, "replace") => RestorePolicy::Replace,
                Some(p) if eq_ic(p, "flush") => RestorePolicy::Flush,
                Some(_) => return Err("ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.".into()),
            };
            let codes = match crate::rdb::parse_function_payload(&argv[2]) {
                Ok(codes) => codes,
                Err(e) => return Err(format!("ERR {e}").into()),
            };
            ctx.node
                .scripts
                .restore_libraries(&codes, policy)
                .map_err(|e| format!("ERR {e}"))?;
            ctx.dirty(1);
            ctx.out.ok();
        }
        _ => return Err(syntax_error(argv)),
    }
    Ok(())
}

/// FUNCTION STATS under the lock: no script can be running then (a running one holds it).
fn stats(ctx: &mut Ctx<'_>) -> CmdResult {
    let busy = &ctx.node.scripts.busy;
    // It runs while a script is busy: from inside that script (script::busy).
    if busy.is_running() && busy.is_eval() {
        return Err(busy.busy_error().into());
    }
    let libs = ctx.node.scripts.libraries.libs.len() as i64;
    let funcs = ctx.node.scripts.libraries.function_count() as i64;
    let running = ctx
        .node
        .scripts
        .serving
        .as_ref()
        .filter(|_| busy.is_running());
    let duration = busy.elapsed().as_millis() as i64;
    let out = &mut *ctx.out;
    out.map(2);
    out.bulk(b"running_script");
    match running {
        None => out.null(),
        Some((name, argv)) => {
            out.map(3);
            out.bulk(b"name");
            out.bulk(name.as_bytes());
            out.bulk(b"command");
            out.array(argv.len());
            for a in argv {
                out.bulk(a);
            }
            out.bulk(b"duration_ms");
            out.int(duration);
        }
    }
    out.bulk(b"engines");
    out.map(1);
    out.bulk(b"LUA");
    out.map(2);
    out.bulk(b"libraries_count");
    out.int(libs);
    out.bulk(b"functions_count");
    out.int(funcs);
    Ok(())
}

fn list(ctx: &mut Ctx<'_>, argv: &[Bytes]) -> CmdResult {
    let mut with_code = false;
    let mut pattern: Option<&Bytes> = None;
    let mut i = 2;
    while i < argv.len() {
        if !with_code && eq_ic(&argv[i], "withcode") {
            with_code = true;
            i += 1;
            continue;
        }
        if pattern.is_none() && eq_ic(&argv[i], "libraryname") {
            if i >= argv.len() - 1 {
                return Err("ERR library name argument was not given".into());
            }
            pattern = Some(&argv[i + 1]);
            i += 2;
            continue;
        }
        return Err(format!("ERR Unknown argument {}", String::from_utf8_lossy(&argv[i])).into());
    }
    let libs: Vec<_> = ctx
        .node
        .scripts
        .libraries
        .libs
        .iter()
        .filter(|(name, _)| {
            pattern.map_or(true, |p| crate::glob::glob_match(p, name.as_bytes(), true))
        })
        .collect();
    let out = &mut *ctx.out;
    out.array(libs.len());
    for (name, lib) in libs {
        out.map(if with_code { 4 } else { 3 });
        out.bulk(b"library_name");
        out.bulk(name.as_bytes());
        out.bulk(b"engine");
        out.bulk(b"LUA");
        out.bulk(b"functions");
        out.array(lib.functions.len());
        for (fname, f) in &lib.functions {
            out.map(3);
            out.bulk(b"name");
            out.bulk(fname.as_bytes());
            out.bulk(b"description");
            match &f.desc {
                Some(d) => out.bulk(d),
                None => out.null(),
            }
            out.bulk(b"flags");
            let set: Vec<&str> = sflag::NAMES
                .iter()
                .filter(|(_, fl)| f.flags & fl != 0)
                .map(|(n, _)| *n)
                .collect();
            out.set(set.len());
            for n in set {
                out.simple(n);
            }
        }
        if with_code {
            out.bulk(b"library_code");
            out.bulk(&lib.code);
        }
    }
    Ok(())
}
