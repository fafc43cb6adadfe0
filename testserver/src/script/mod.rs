//! Lua scripting: Redis 7.0's EVAL engine on a real Lua 5.1 (`mlua`, vendored).
//!
//! One Lua state per node, made on first use, with Redis's sandbox: the globals are read-only
//! (`Attempt to modify a readonly table`), reading a missing global is an error (`Script
//! attempted to access nonexistent global variable`), only Redis's libraries are there (base
//! without `loadfile`/`dofile`/`print`, `table`, `string`, `math`, `cjson`, `cmsgpack`, `bit`,
//! `struct`) and `redis.*`. Stock Lua 5.1 has no read-only tables (Redis patches its Lua), so
//! the globals and every library table are read-only proxies; `rawset` refuses them too.
//!
//! A script runs inside its command's handler, under the node lock: its `redis.call`s go through
//! the same command table, ACL and cluster checks as a client's commands ([`call`]), on a
//! script client that carries the caller's user and database. Replies are converted between
//! RESP and Lua as Redis's `script_lua.c` converts them, on Lua's stack ([`raw`]).

pub(crate) mod busy;
pub(crate) mod function;
mod libs;
mod raw;
pub(crate) mod sha1;

use std::ffi::c_int;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use mlua::{Function, HookTriggers, Lua, LuaOptions, MultiValue, StdLib, Table, Value, VmState};
use rediscover::resp::ReplyWriter;

use crate::client::Client;
use crate::cmd::{Command, Ctx};
use crate::keyspace::FastMap;
use raw::RunSlot;

pub use busy::Busy;

/// Script flags (the shebang's `flags=`, and functions' flags).
pub mod sflag {
    /// `no-writes`
    pub const NO_WRITES: u32 = 1;
    /// `allow-oom`
    pub const ALLOW_OOM: u32 = 2;
    /// `allow-stale`
    pub const ALLOW_STALE: u32 = 4;
    /// `no-cluster`
    pub const NO_CLUSTER: u32 = 8;
    /// No shebang: an EVAL script as before Redis 7.
    pub const EVAL_COMPAT: u32 = 16;
    /// `allow-cross-slot-keys`
    pub const ALLOW_CROSS_SLOT: u32 = 32;

    /// Flag names as Redis spells them, in its order.
    pub const NAMES: &[(&str, u32)] = &[
        ("no-writes", NO_WRITES),
        ("allow-oom", ALLOW_OOM),
        ("allow-stale", ALLOW_STALE),
        ("no-cluster", NO_CLUSTER),
        ("allow-cross-slot-keys", ALLOW_CROSS_SLOT),
    ];
}

/// Flags of one run.
mod rflag {
    pub const READ_ONLY: u32 = 1;
    pub const WRITE_DIRTY: u32 = 2;
    pub const ALLOW_CROSS_SLOT: u32 = 4;
}

/// `redis.set_repl` flags.
const PROPAGATE_AOF: u8 = 1;
const PROPAGATE_REPL: u8 = 2;

/// A script in the EVAL cache.
pub(crate) struct Script {
    /// Its shebang flags.
    pub flags: u32,
    func: Arc<Function>,
}

/// A Lua state with Redis's sandbox and API.
pub(crate) struct Engine {
    lua: Lua,
    /// The proxy: scripts' environment and the state's globals.
    env: Table,
    /// Registry reference of the error handler scripts run under.
    handler: c_int,
    /// Registry reference of the real globals, behind the read-only proxy scripts see (EVAL
    /// sets KEYS and ARGV there).
    globals: c_int,
    /// Registry reference of the reply table field names ([`raw::FIELDS`]).
    fields: c_int,
    /// The running script, as the callbacks reach it.
    slot: Arc<RunSlot>,
    /// For the functions engine: (set loading mode, run a library's code).
    loader: Option<(Function, Function)>,
    /// Hook switched to every line after a kill.
    hook_tight: bool,
}

/// The node's scripting state.
#[derive(Default)]
pub struct Scripts {
    engine: Option<Engine>,
    /// The functions engine (its own Lua state, as in Redis).
    fengine: Option<Engine>,
    /// Libraries loaded with FUNCTION LOAD.
    pub(crate) libraries: function::Libraries,
    /// EVAL scripts by lower-case SHA-1.
    pub(crate) cache: FastMap<String, Script>,
    /// The running script, as other connections see it without the lock.
    pub busy: Arc<Busy>,
    /// While a busy script serves clients (script::busy): its name (SHA-1 or function) and
    /// the command that runs it, for FUNCTION STATS.
    pub(crate) serving: Option<(String, Vec<Bytes>)>,
    /// The client scripts run their commands as (kept between runs).
    client: Option<Box<Client>>,
}

impl std::fmt::Debug for Scripts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scripts")
            .field("scripts", &self.cache.len())
            .finish()
    }
}

impl Scripts {
    /// Scripting state sharing `busy` with the node's connections.
    pub fn new(busy: Arc<Busy>) -> Self {
        Scripts {
            busy,
            ..Default::default()
        }
    }

    /// SCRIPT FLUSH: a new Lua state, no cached script.
    pub(crate) fn flush(&mut self) {
        self.cache.clear();
        self.engine = None;
    }

    /// Memory used by the Lua state, in bytes (`used_memory_lua`).
    pub fn lua_memory(&self) -> usize {
        self.engine.as_ref().map_or(0, |e| e.lua.used_memory())
    }

    fn engine(&mut self) -> Result<&mut Engine, String> {
        if self.engine.is_none() {
            self.engine =
                Some(Engine::new(self.busy.clone(), false).map_err(|e| format!("ERR {e}"))?);
        }
        Ok(self.engine.as_mut().expect("just made"))
    }

    /// Compiles and caches `body` (EVAL, SCRIPT LOAD); returns its SHA-1. Errors are Redis's
    /// (`ERR Error compiling script (new function): ...`, shebang errors).
    pub(crate) fn create(&mut self, body: &Bytes) -> Result<String, String> {
        let sha = sha1::sha1_hex(body);
        if self.cache.contains_key(&sha) {
            return Ok(sha);
        }
        let (flags, shebang_len) = shebang_flags(body)?;
        let engine = self.engine()?;
        let func = engine
            .compile(&body[shebang_len..], "@user_script")
            .map_err(|e| format!("ERR Error compiling script (new function): {e}"))?;
        self.cache.insert(
            sha.clone(),
            Script {
                flags,
                func: Arc::new(func),
            },
        );
        Ok(sha)
    }
}

/// Parses a script's shebang (`#!lua flags=no-writes,...`): its flags and the shebang's length
/// (the line feed after it stays, so line numbers do not move). No shebang: EVAL_COMPAT.
pub(crate) fn shebang_flags(body: &[u8]) -> Result<(u32, usize), String> {
    if !body.starts_with(b"#!") {
        return Ok((sflag::EVAL_COMPAT, 0));
    }
    let Some(end) = body.iter().position(|&b| b == b'\n') else {
        return Err("ERR Invalid script shebang".into());
    };
    let parts = rediscover::resp::split_args(&body[..end]).unwrap_or_default();
    let Some(engine) = parts.first() else {
        return Err("ERR Invalid engine in script shebang".into());
    };
    if engine.as_slice() != b"#!lua" {
        return Err(format!(
            "ERR Unexpected engine in script shebang: {}",
            String::from_utf8_lossy(engine)
        ));
    }
    let mut flags = 0;
    for part in &parts[1..] {
        let Some(list) = part.strip_prefix(b"flags=") else {
            return Err(format!(
                "ERR Unknown lua shebang option: {}",
                String::from_utf8_lossy(part)
            ));
        };
        flags |= parse_flag_list(list)?;
    }
    Ok((flags, end))
}

fn parse_flag_list(list: &[u8]) -> Result<u32, String> {
    let mut flags = 0;
    // sdssplitlen of an empty string gives no element.
    if list.is_empty() {
        return Ok(0);
    }
    for name in list.split(|&b| b == b',') {
        match sflag::NAMES.iter().find(|(n, _)| n.as_bytes() == name) {
            Some((_, f)) => flags |= f,
            None => {
                return Err(format!(
                    "ERR Unexpected flag in script shebang: {}",
                    String::from_utf8_lossy(name)
                ))
            }
        }
    }
    Ok(flags)
}

/// Lua source that wires the sandbox and `redis.*` from the Rust pieces it is given.
const GLUE: &str = r#"
local B, lib, R, fmode = ...
local error, type, rawget, rawset, select, setmetatable, tostring =
      error, type, rawget, rawset, select, setmetatable, tostring
local rawpcall = pcall
local protected = setmetatable({}, {__mode = 'k'})
local function readonly() error('Attempt to modify a readonly table', 2) end
local function proxy(t)
  local p = setmetatable({}, {__index = t, __newindex = readonly, __metatable = false})
  protected[p] = true
  return p
end
local redis = {
  call = R.call,
  pcall = R.pcall,
  sha1hex = R.sha1hex,
  error_reply = R.error_reply,
  status_reply = R.status_reply,
  log = R.log,
  setresp = R.setresp,
  set_repl = R.set_repl,
  acl_check_cmd = R.acl_check_cmd,
  replicate_commands = function() return true end,
  breakpoint = function() return false end,
  debug = function() end,
  REDIS_VERSION = '7.0.15',
  REDIS_VERSION_NUM = 458767,
  LOG_DEBUG = 0, LOG_VERBOSE = 1, LOG_NOTICE = 2, LOG_WARNING = 3,
  REPL_NONE = 0, REPL_AOF = 1, REPL_SLAVE = 2, REPL_REPLICA = 2, REPL_ALL = 3,
}
local errtext = R.errtext
local function fix(ok, ...)
  if ok then return ok, ... end
  local e = ...
  if type(e) == 'table' then
    local m = e.err
    if type(m) == 'string' or type(m) == 'number' then return false, m end
  elseif type(e) == 'userdata' then
    return false, errtext(e)
  end
  return false, e
end
B.pcall = function(f, ...) return fix(rawpcall(f, ...)) end
B.rawset = function(t, k, v)
  if protected[t] then error('Attempt to modify a readonly table', 0) end
  return rawset(t, k, v)
end
local math = {}
for k, v in pairs(lib.math) do math[k] = v end
math.random = R.random
math.randomseed = R.randomseed
B.math = proxy(math)
for _, name in ipairs({'string', 'table', 'coroutine', 'cjson', 'bit', 'struct', 'cmsgpack'}) do
  if lib[name] then B[name] = proxy(lib[name]) end
end
B.redis = proxy(redis)
local env_mt = {__index = B, __newindex = readonly, __metatable = false}
local env = setmetatable({}, env_mt)
protected[env] = true
B._G = env
setmetatable(B, {__index = function(_, k)
  error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
end, __newindex = readonly, __metatable = false})
local smt = getmetatable('')
smt.__index = B.string
smt.__metatable = false
setfenv(0, env)
local setloading, runload
if fmode then
  local function nonexistent(_, k)
    error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
  end
  local function errproxy(t)
    setmetatable(t, {__index = nonexistent, __newindex = readonly, __metatable = false})
    return proxy(t)
  end
  local libredis = {register_function = R.register_function, log = R.log,
    REDIS_VERSION = redis.REDIS_VERSION, REDIS_VERSION_NUM = redis.REDIS_VERSION_NUM,
    LOG_DEBUG = 0, LOG_VERBOSE = 1, LOG_NOTICE = 2, LOG_WARNING = 3}
  local libapi = errproxy({redis = errproxy(libredis)})
  setloading = function(on)
    if on then env_mt.__index = libapi else env_mt.__index = B end
  end
  runload = function(f) return rawpcall(f) end
end
return env, setloading, runload
"#;

/// Globals of Lua's base library that Redis keeps.
const BASE_ALLOWED: &[&str] = &[
    "xpcall",
    "tostring",
    "getfenv",
    "setmetatable",
    "next",
    "assert",
    "tonumber",
    "rawequal",
    "collectgarbage",
    "getmetatable",
    "rawget",
    "type",
    "select",
    "unpack",
    "gcinfo",
    "pairs",
    "loadstring",
    "ipairs",
    "_VERSION",
    "setfenv",
    "load",
    "error",
    "newproxy",
];

impl Engine {
    fn new(busy: Arc<Busy>, functions: bool) -> mlua::Result<Engine> {
        let lua = Lua::new_with(
            StdLib::TABLE | StdLib::STRING | StdLib::MATH,
            LuaOptions::default(),
        )?;
        let globals = lua.globals();
        let backing = lua.create_table()?;
        for name in BASE_ALLOWED {
            let v: Value = globals.raw_get(*name)?;
            backing.raw_set(*name, v)?;
        }
        let lib = lua.create_table()?;
        for name in ["string", "table", "math", "coroutine"] {
            let v: Value = globals.raw_get(name)?;
            lib.raw_set(name, v)?;
        }
        libs::register(&lua, &lib)?;
        let slot = Arc::new(RunSlot::new(busy.clone()));
        let r = lua.create_table()?;
        register_api(&lua, &r)?;
        r.raw_set("call", raw::redis_call_fn(&lua, &slot, false)?)?;
        r.raw_set("pcall", raw::redis_call_fn(&lua, &slot, true)?)?;
        lua.set_app_data(slot.clone());
        if functions {
            let f = function::register_function(&lua)?;
            r.raw_set("register_function", raising(&lua, f)?)?;
        }
        type Glue = (Table, Option<Function>, Option<Function>);
        let (env, setloading, runload): Glue =
            lua.load(GLUE)
                .set_name("=[redis]")
                .call((backing.clone(), lib, r, functions))?;
        let hook_busy = busy.clone();
        lua.set_hook(
            HookTriggers::new().every_nth_instruction(100_000),
            move |lua, d| hook(lua, &hook_busy, d),
        );
        let handler = raw::registry_ref(&lua, lua.create_function(error_handler)?)?;
        let globals = raw::registry_ref(&lua, &backing)?;
        let fields = raw::registry_ref(&lua, lua.create_sequence_from(raw::FIELDS)?)?;
        Ok(Engine {
            lua,
            env,
            handler,
            globals,
            fields,
            slot,
            loader: setloading.zip(runload),
            hook_tight: false,
        })
    }

    /// Compiles `code` as a chunk named `name`, in the sandbox.
    fn compile(&self, code: &[u8], name: &str) -> Result<Function, String> {
        self.lua
            .load(code)
            .set_name(name)
            .set_environment(self.env.clone())
            .into_function()
            .map_err(|e| match e {
                mlua::Error::SyntaxError { message, .. } => message,
                other => other.to_string(),
            })
    }
}

/// The instruction-count hook: serves the clients that visit a busy script, stops a killed
/// one; lets a long one give its worker thread back to the runtime meanwhile.
fn hook(lua: &Lua, busy: &Busy, debug: mlua::Debug) -> mlua::Result<VmState> {
    // Never stop inside our own glue (the code around the script that turns its error into
    // a reply): only the script's code is interrupted.
    if debug.source().source.as_deref() == Some("=[redis]") {
        return Ok(VmState::Continue);
    }
    if lua
        .app_data_ref::<function::LoadCtx>()
        .is_some_and(|l| l.timed_out())
    {
        lua.set_hook(HookTriggers::new().every_line(), {
            let b = Arc::new(Busy::default());
            move |lua, d| hook(lua, &b, d)
        });
        return Err(mlua::Error::RuntimeError(
            "ERR FUNCTION LOAD timeout".into(),
        ));
    }
    // Past busy-reply-threshold the script serves the clients that visit it (script::busy):
    // SCRIPT KILL among them stops it just below. A script already told to stop serves no
    // one: it is about to end, and whoever waits takes the lock then.
    if !busy.must_stop() && busy.until_threshold().is_zero() && busy.has_visits() {
        with_run(lua, |run| {
            let running = (run.name.to_owned(), run.argv.to_vec());
            run.ctx.node.scripts.serving = Some(running);
            busy.serve(run.ctx.node);
            run.ctx.node.scripts.serving = None;
        });
    }
    if busy.must_stop() {
        // On every line from now on, as Redis does, so a pcall in the script cannot swallow
        // the kill for long.
        let slot = run_slot(lua);
        lua.set_hook(HookTriggers::new().every_line(), {
            let b = slot.as_ref().map(|s| s.busy.clone());
            move |lua, d| match &b {
                Some(b) => hook(lua, b, d),
                None => Ok(VmState::Continue),
            }
        });
        let first = slot.is_some_and(|s| {
            !s.run.load(Ordering::Relaxed).is_null() && !s.killed.swap(true, Ordering::Relaxed)
        });
        if first {
            with_run(lua, |run| {
                run.ctx.node.log(
                    crate::logging::Level::Warning,
                    "Lua script killed by user with SCRIPT KILL.",
                )
            });
        }
        return Err(mlua::Error::RuntimeError(
            "ERR Script killed by user with SCRIPT KILL...".into(),
        ));
    }
    if busy.elapsed() > std::time::Duration::from_millis(20) {
        let handed = match run_slot(lua) {
            Some(s) => s.handed_off.fetch_add(1, Ordering::Relaxed) >= 20,
            None => true,
        };
        if !handed {
            let multi = tokio::runtime::Handle::try_current()
                .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
            if multi {
                tokio::task::block_in_place(|| {
                    std::thread::sleep(std::time::Duration::from_millis(1))
                });
            }
        }
    }
    Ok(VmState::Continue)
}

/// The engine's run slot (app data of its state).
fn run_slot(lua: &Lua) -> Option<Arc<RunSlot>> {
    lua.app_data_ref::<Arc<RunSlot>>().map(|s| Arc::clone(&s))
}

/// One script invocation: the caller's context and the script client.
pub(crate) struct Run<'r, 'a> {
    ctx: &'r mut Ctx<'a>,
    client: Box<Client>,
    out: ReplyWriter,
    flags: u32,
    repl: u8,
    /// Slot of the keys accessed so far (cluster), for the cross-slot check.
    slot: Option<u16>,
    busy: Arc<Busy>,
    /// The script's name (SHA-1 or function) and the command that runs it.
    name: &'r str,
    argv: &'r [Bytes],
}

/// Runs `f` with the current run's context, if a script is running.
fn with_run<R>(lua: &Lua, f: impl FnOnce(&mut Run<'_, '_>) -> R) -> Option<R> {
    let ptr = lua
        .app_data_ref::<Arc<RunSlot>>()?
        .run
        .load(Ordering::Relaxed);
    if ptr.is_null() {
        return None;
    }
    // SAFETY: set by `execute` from a live `Run` for the duration of the Lua call on this
    // thread; only the script's callbacks, one at a time, touch that `Run` until it returns.
    let run = unsafe { &mut *(ptr as *mut Run<'static, 'static>) };
    Some(f(run))
}

/// Builds an error table `{err = "CODE msg"}` the way Redis's `luaPushErrorBuff` does: a
/// leading `-` means the code is the first word; otherwise the code is ERR.
pub(crate) fn error_table(lua: &Lua, text: &[u8]) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set("err", lua.create_string(error_text(text))?)?;
    Ok(t)
}

/// The `err` text of [`error_table`].
pub(crate) fn error_text(text: &[u8]) -> Vec<u8> {
    let (code, msg): (&[u8], &[u8]) = match text.strip_prefix(b"-") {
        Some(rest) => match rest.iter().position(|&b| b == b' ') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (b"ERR", rest),
        },
        None => (b"ERR", text),
    };
    let msg = trim_crlf(msg);
    let mut out = Vec::with_capacity(code.len() + 1 + msg.len());
    out.extend_from_slice(code);
    out.push(b' ');
    out.extend_from_slice(msg);
    out
}

fn trim_crlf(mut s: &[u8]) -> &[u8] {
    while let [b'\r' | b'\n', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b'\r' | b'\n'] = s {
        s = rest;
    }
    s
}

/// Argument of `redis.call` as Redis makes it: strings as they are, numbers as `%.17g`.
fn arg_bytes(v: &Value) -> Option<Bytes> {
    match v {
        Value::String(s) => Some(Bytes::copy_from_slice(&s.as_bytes())),
        Value::Number(n) => Some(Bytes::from(format_number(*n))),
        // mlua hands integral numbers over as integers: still a double to Lua and Redis.
        Value::Integer(n) => Some(Bytes::from(format_number(*n as f64))),
        _ => None,
    }
}

/// `%.17g` of a Lua number.
pub(crate) fn format_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        if n == 0.0 && n.is_sign_negative() {
            return "-0".into();
        }
        return (n as i64).to_string();
    }
    rediscover::resp::format_double(n)
}

fn register_api(lua: &Lua, r: &Table) -> mlua::Result<()> {
    r.raw_set(
        "sha1hex",
        lua.create_function(|lua, args: MultiValue| {
            if args.len() != 1 {
                return Ok((
                    Value::Table(error_table(lua, b"wrong number of arguments")?),
                    Value::Nil,
                ));
            }
            let data = match &args[0] {
                Value::String(s) => s.as_bytes().to_vec(),
                Value::Number(n) => format_lua_number(*n).into_bytes(),
                // An integral number (`lua_tolstring` writes it as Lua does).
                Value::Integer(n) => format_lua_number(*n as f64).into_bytes(),
                _ => Vec::new(),
            };
            Ok((
                Value::Nil,
                Value::String(lua.create_string(sha1::sha1_hex(&data))?),
            ))
        })?,
    )?;
    r.raw_set(
        "error_reply",
        lua.create_function(|lua, args: MultiValue| {
            let t = match (args.len(), args.front()) {
                (1, Some(Value::String(s))) => {
                    let s = s.as_bytes();
                    let mut text = Vec::with_capacity(s.len() + 1);
                    if !s.starts_with(b"-") {
                        text.push(b'-');
                    }
                    text.extend_from_slice(&s);
                    error_table(lua, &text)?
                }
                _ => error_table(lua, b"wrong number or type of arguments")?,
            };
            Ok(t)
        })?,
    )?;
    r.raw_set(
        "status_reply",
        lua.create_function(|lua, args: MultiValue| {
            let t = match (args.len(), args.front()) {
                (1, Some(Value::String(s))) => {
                    let t = lua.create_table()?;
                    t.raw_set("ok", s.clone())?;
                    t
                }
                _ => error_table(lua, b"wrong number or type of arguments")?,
            };
            Ok(t)
        })?,
    )?;
    r.raw_set(
        "log",
        lua.create_function(|lua, args: MultiValue| {
            let fail = |text: &[u8]| Ok((Value::Table(error_table(lua, text)?), Value::Nil));
            if args.len() < 2 {
                return fail(b"redis.log() requires two arguments or more.");
            }
            let level = match &args[0] {
                Value::Number(n) => *n as i64,
                Value::Integer(n) => *n,
                Value::String(s) => match std::str::from_utf8(&s.as_bytes())
                    .ok()
                    .and_then(|t| t.trim().parse::<f64>().ok())
                {
                    Some(n) => n as i64,
                    None => return fail(b"First argument must be a number (log level)."),
                },
                _ => return fail(b"First argument must be a number (log level)."),
            };
            if !(0..=3).contains(&level) {
                return fail(b"Invalid debug level.");
            }
            let mut line = Vec::new();
            for (i, v) in args.iter().skip(1).enumerate() {
                let part = match v {
                    Value::String(s) => s.as_bytes().to_vec(),
                    Value::Number(n) => format_lua_number(*n).into_bytes(),
                    Value::Integer(n) => format_lua_number(*n as f64).into_bytes(),
                    _ => continue,
                };
                if i > 0 {
                    line.push(b' ');
                }
                line.extend_from_slice(&part);
            }
            with_run(lua, |run| {
                let level = match level {
                    0 => crate::logging::Level::Debug,
                    1 => crate::logging::Level::Verbose,
                    2 => crate::logging::Level::Notice,
                    _ => crate::logging::Level::Warning,
                };
                run.ctx.node.log(level, &String::from_utf8_lossy(&line));
            });
            Ok((Value::Nil, Value::Nil))
        })?,
    )?;
    r.raw_set(
        "setresp",
        lua.create_function(|lua, args: MultiValue| {
            let fail = |text: &[u8]| Ok((Value::Table(error_table(lua, text)?), Value::Nil));
            if args.len() != 1 {
                return fail(b"redis.setresp() requires one argument.");
            }
            let resp = lua_to_int(&args[0]);
            if resp != 2 && resp != 3 {
                return fail(b"RESP version must be 2 or 3.");
            }
            let ran = with_run(lua, |run| {
                run.client.resp3 = resp == 3;
                run.out.set_resp3(resp == 3);
            });
            if ran.is_none() {
                return fail(b"redis.setresp can only be called inside a script invocation");
            }
            Ok((Value::Nil, Value::Nil))
        })?,
    )?;
    r.raw_set(
        "set_repl",
        lua.create_function(|lua, args: MultiValue| {
            let fail = |text: &[u8]| Ok((Value::Table(error_table(lua, text)?), Value::Nil));
            if with_run(lua, |_| ()).is_none() {
                return fail(b"redis.set_repl can only be called inside a script invocation");
            }
            if args.len() != 1 {
                return fail(b"redis.set_repl() requires two arguments.");
            }
            let flags = lua_to_int(&args[0]);
            if flags & !3 != 0 {
                return fail(
                    b"Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.",
                );
            }
            with_run(lua, |run| run.repl = flags as u8);
            Ok((Value::Nil, Value::Nil))
        })?,
    )?;
    r.raw_set(
        "acl_check_cmd",
        lua.create_function(|lua, args: MultiValue| {
            let fail = |text: &[u8]| Ok((Value::Table(error_table(lua, text)?), Value::Nil));
            if args.is_empty() {
                return fail(b"Please specify at least one argument for this redis lib call");
            }
            let mut argv = Vec::with_capacity(args.len());
            for a in args.iter() {
                match arg_bytes(a) {
                    Some(b) => argv.push(b),
                    None => {
                        return fail(b"Lua redis lib command arguments must be strings or integers")
                    }
                }
            }
            let allowed = with_run(lua, |run| {
                let cmd = run.ctx.node.commands.get(&argv[0])?;
                Some(crate::cmd::acl_check(run.ctx.node, &run.ctx.client.user, cmd, &argv).is_ok())
            })
            .flatten();
            match allowed {
                Some(ok) => Ok((Value::Nil, Value::Boolean(ok))),
                None => fail(b"Invalid command passed to redis.acl_check_cmd()"),
            }
        })?,
    )?;
    r.raw_set(
        "random",
        lua.create_function(|lua, args: MultiValue| {
            let r = (lrand48() % 0x7fff_ffff) as f64 / 0x7fff_ffff as f64;
            let err = |m: &str| Ok((Value::String(lua.create_string(m)?), Value::Nil));
            let int_arg = |v: &Value| -> Option<i64> {
                match v {
                    Value::Number(n) => Some(*n as i32 as i64),
                    Value::Integer(n) => Some(*n),
                    Value::String(s) => std::str::from_utf8(&s.as_bytes())
                        .ok()
                        .and_then(|t| t.trim().parse::<f64>().ok())
                        .map(|n| n as i32 as i64),
                    _ => None,
                }
            };
            let bad =
                |n: usize| format!("bad argument #{n} to 'random' (number expected, got no value)");
            match args.len() {
                0 => Ok((Value::Nil, Value::Number(r))),
                1 => {
                    let Some(u) = int_arg(&args[0]) else {
                        return err(&bad(1));
                    };
                    if u < 1 {
                        return err("bad argument #1 to 'random' (interval is empty)");
                    }
                    Ok((Value::Nil, Value::Number((r * u as f64).floor() + 1.0)))
                }
                2 => {
                    let Some(l) = int_arg(&args[0]) else {
                        return err(&bad(1));
                    };
                    let Some(u) = int_arg(&args[1]) else {
                        return err(&bad(2));
                    };
                    if l > u {
                        return err("bad argument #2 to 'random' (interval is empty)");
                    }
                    Ok((
                        Value::Nil,
                        Value::Number((r * (u - l + 1) as f64).floor() + l as f64),
                    ))
                }
                _ => err("wrong number of arguments"),
            }
        })?,
    )?;
    r.raw_set(
        "randomseed",
        lua.create_function(|lua, args: MultiValue| {
            match args
                .front()
                .filter(|v| matches!(v, Value::Number(_) | Value::Integer(_)))
            {
                Some(v) => {
                    srand48(lua_to_int(v) as i32);
                    Ok((Value::Nil, Value::Nil))
                }
                None => Ok((
                    Value::String(lua.create_string(
                        "bad argument #1 to 'randomseed' (number expected, got no value)",
                    )?),
                    Value::Nil,
                )),
            }
        })?,
    )?;
    r.raw_set(
        "errtext",
        lua.create_function(|lua, v: Value| match v {
            Value::Error(e) => Ok(Value::String(lua.create_string(mlua_error_text(&e))?)),
            other => Ok(other),
        })?,
    )?;
    for name in [
        "sha1hex",
        "log",
        "setresp",
        "set_repl",
        "acl_check_cmd",
        "random",
        "randomseed",
    ] {
        let f: Function = r.raw_get(name)?;
        r.raw_set(name, raising(lua, f)?)?;
    }
    Ok(())
}

/// Wraps `f` (a Rust function returning its error, or nil, then its results) in a C function
/// that raises that error, as Redis's C functions do: a string gets the caller's position
/// (`luaL_where(L, 1)`), a table (`{err=...}`) is raised as it is. Being a C function, it
/// leaves the script's frame on the stack even when called as a tail call, so errors report
/// the script's line.
pub(crate) fn raising(lua: &Lua, f: Function) -> mlua::Result<Function> {
    unsafe extern "C-unwind" fn raise_first(l: *mut mlua::ffi::lua_State) -> std::os::raw::c_int {
        use mlua::ffi;
        let n = ffi::lua_gettop(l);
        ffi::lua_pushvalue(l, ffi::lua_upvalueindex(1));
        ffi::lua_insert(l, 1);
        ffi::lua_call(l, n, ffi::LUA_MULTRET);
        let nres = ffi::lua_gettop(l);
        if nres >= 1 && ffi::lua_toboolean(l, 1) != 0 {
            if ffi::lua_type(l, 1) == ffi::LUA_TSTRING {
                ffi::luaL_where(l, 1);
                ffi::lua_pushvalue(l, 1);
                ffi::lua_concat(l, 2);
            } else {
                ffi::lua_pushvalue(l, 1);
            }
            ffi::lua_error(l)
        } else {
            (nres - 1).max(0)
        }
    }
    // SAFETY: pushes one C closure with `f` (the only argument on the stack) as upvalue.
    unsafe {
        lua.exec_raw::<Function>(f, |state| {
            mlua::ffi::lua_pushcclosure(state, raise_first, 1);
        })
    }
}

fn lua_to_int(v: &Value) -> i64 {
    match v {
        Value::Number(n) => *n as i64,
        Value::Integer(n) => *n,
        Value::String(s) => std::str::from_utf8(&s.as_bytes())
            .ok()
            .and_then(|t| t.trim().parse::<f64>().ok())
            .map_or(0, |n| n as i64),
        _ => 0,
    }
}

/// Lua's own `tostring` of a number (`%.14g`).
pub(crate) fn format_lua_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e14 {
        return (n as i64).to_string();
    }
    if n.is_nan() {
        return if n.is_sign_negative() { "-nan" } else { "nan" }.into();
    }
    if n.is_infinite() {
        return if n > 0.0 { "inf" } else { "-inf" }.into();
    }
    let sci = format!("{:.13e}", n);
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let trim = |s: &str| -> String {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s.to_string()
        }
    };
    if !(-4..14).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", trim(mantissa), exp.abs())
    } else {
        trim(&format!("{:.*}", (13 - exp) as usize, n))
    }
}

/// The message of an error raised from Rust code (a killed script).
fn mlua_error_text(e: &mlua::Error) -> String {
    match e {
        mlua::Error::RuntimeError(s) => s.clone(),
        mlua::Error::CallbackError { cause, .. } => mlua_error_text(cause),
        other => format!("ERR {other}"),
    }
}

/// The error handler of a script call, as Redis's `__redis__err__handler`: the error as a
/// table `{err=..., source=..., line=...}`, with the place in the script that raised it.
fn error_handler(lua: &Lua, err: Value) -> mlua::Result<Table> {
    let t = match err {
        Value::Table(t) => t,
        // Our own errors (a killed script) carry their code: `ERR Script killed...`.
        Value::Error(e) => error_table(lua, format!("-{}", mlua_error_text(&e)).as_bytes())?,
        other => {
            let text = match &other {
                Value::String(s) => s.as_bytes().to_vec(),
                Value::Number(n) => format_lua_number(*n).into_bytes(),
                Value::Nil => b"nil".to_vec(),
                Value::Boolean(b) => b.to_string().into_bytes(),
                v => format!("{}: {:p}", v.type_name(), v.to_pointer()).into_bytes(),
            };
            let t = lua.create_table()?;
            let mut msg = b"ERR ".to_vec();
            msg.extend_from_slice(&text);
            t.raw_set("err", lua.create_string(msg)?)?;
            t
        }
    };
    // The frame that raised: the first Lua frame that is not our glue (Redis looks at the
    // caller of the handler, or its caller when that is a C function).
    for level in 1..64 {
        let found = lua.inspect_stack(level).map(|d| {
            let src = d.source();
            if src.what == "C" || src.source.as_deref() == Some("=[redis]") {
                return None;
            }
            Some((
                src.source.map(|s| s.into_owned()).unwrap_or_default(),
                d.curr_line(),
            ))
        });
        match found {
            None => break,
            Some(None) => continue,
            Some(Some((source, line))) => {
                t.raw_set("source", source)?;
                t.raw_set("line", i64::from(line))?;
                break;
            }
        }
    }
    Ok(t)
}

thread_local! {}

static RAND48: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0x1234_ABCD_330E);

/// Redis's `redisLrand48` (rand48 with its own state, so every platform gives the same
/// sequence).
fn lrand48() -> i64 {
    use std::sync::atomic::Ordering;
    let x = RAND48.load(Ordering::Relaxed);
    let next = (x.wrapping_mul(0x5_DEEC_E66D).wrapping_add(0xB)) & 0xFFFF_FFFF_FFFF;
    RAND48.store(next, Ordering::Relaxed);
    (next >> 17) as i64
}

fn srand48(seed: i32) {
    let seed = seed as u32 as u64;
    RAND48.store((seed << 16) | 0x330E, std::sync::atomic::Ordering::Relaxed);
}

impl Run<'_, '_> {
    /// Runs one command for the script, with Redis's `scriptCall` checks. Ok: the reply bytes.
    fn call(&mut self, argv: &[Bytes]) -> Result<BytesMut, Vec<u8>> {
        let node = &*self.ctx.node;
        let Some(cmd) = node.commands.get(&argv[0]) else {
            return Err(b"Unknown Redis command called from script".to_vec());
        };
        if !cmd.info.arity_ok(argv.len()) {
            return Err(b"Wrong number of args calling Redis command from script".to_vec());
        }
        let cmd: &'static Command = unsafe_static(cmd);
        let result = self.check(cmd, argv);
        if let Err(e) = result {
            crate::cmd::command_stats(self.ctx.node, cmd).rejected_calls += 1;
            crate::cmd::count_error_text(self.ctx.node, &error_text(&e));
            return Err(e);
        }
        let mark = self.out.len();
        let pending = self.ctx.node.repl.pending.len();
        let db_before = self.client.db;
        {
            let mut sctx = Ctx::new(self.ctx.node, &mut self.client, &mut self.out);
            sctx.now = self.ctx.now;
            sctx.in_exec = true;
            crate::cmd::call(&mut sctx, cmd, argv);
        }
        let _ = db_before;
        if self.repl & PROPAGATE_REPL == 0 {
            self.ctx.node.repl.pending.truncate(pending);
        }
        Ok(self.out.buffer().split_off(mark))
    }

    fn check(&mut self, cmd: &'static Command, argv: &[Bytes]) -> Result<(), Vec<u8>> {
        use crate::cmd::flags as f;
        if cmd.flags & f::NOSCRIPT != 0 {
            return Err(b"This Redis command is not allowed from script".to_vec());
        }
        let obey = self.ctx.client.master_link;
        let node = &*self.ctx.node;
        if !node.repl.is_master()
            && !node.config.replica_serve_stale_data
            && cmd.flags & f::STALE == 0
            && !node
                .repl
                .master
                .as_ref()
                .is_some_and(|m| m.state == crate::repl::LinkState::Connected)
        {
            return Err(b"Can not execute the command on a stale replica".to_vec());
        }
        if !obey {
            let refused = crate::cmd::acl_check(node, &self.client.user, cmd, argv).err();
            if let Some((denied, info)) = refused {
                crate::cmd::log_denial(&mut *self.ctx, denied, info, argv, "lua");
                return Err(
                    format!("The user executing the script {}", denied.script_reason())
                        .into_bytes(),
                );
            }
        }
        let node = &*self.ctx.node;
        let may_replicate = cmd.info.flags.contains(&"may_replicate");
        if self.flags & rflag::READ_ONLY != 0 && (cmd.flags & f::WRITE != 0 || may_replicate) {
            return Err(b"Write commands are not allowed from read-only scripts.".to_vec());
        }
        if cmd.flags & f::WRITE != 0 && self.flags & rflag::WRITE_DIRTY == 0 {
            if !node.repl.is_master() && node.config.replica_read_only && !obey {
                return Err(format!("-{}", rediscover::error_codes::msg::READONLY).into_bytes());
            }
            let min = node.config.min_replicas_to_write;
            if node.repl.is_master()
                && min > 0
                && node.config.min_replicas_max_lag > 0
                && (node
                    .repl
                    .good_replicas(node.config.min_replicas_max_lag, std::time::Instant::now())
                    as i64)
                    < min
            {
                return Err(format!("-{}", rediscover::error_codes::msg::NOREPLICAS).into_bytes());
            }
        }
        if cmd.flags & f::WRITE != 0 {
            self.flags |= rflag::WRITE_DIRTY;
            self.busy.set_flag(busy::flag::WRITE_DIRTY);
        }
        if self.ctx.node.cluster.is_some() && !obey {
            self.cluster_check(cmd, argv)?;
        }
        Ok(())
    }

    /// Redis's `scriptVerifyClusterState`: keys must be served here, and (unless the script
    /// allows it) hash to one slot.
    fn cluster_check(&mut self, cmd: &'static Command, argv: &[Bytes]) -> Result<(), Vec<u8>> {
        self.client.asking = self.ctx.client.asking;
        self.client.readonly = self.ctx.client.readonly;
        let call = crate::cmd::GateCall::for_script(cmd, argv);
        let result = {
            let mut sctx = Ctx::new(self.ctx.node, &mut self.client, &mut self.out);
            crate::cluster::gate::check(&mut sctx, &call)
        };
        if let Err(e) = result {
            let text = e.text();
            return Err(
                if text.starts_with("CLUSTERDOWN") && text.contains("read") {
                    b"Script attempted to execute a write command while the cluster is down and readonly".to_vec()
                } else if text.starts_with("CLUSTERDOWN") {
                    b"Script attempted to execute a command while the cluster is down".to_vec()
                } else {
                    b"Script attempted to access a non local key in a cluster node".to_vec()
                },
            );
        }
        if self.flags & rflag::ALLOW_CROSS_SLOT == 0 {
            if let Some(key) = call.keys().next() {
                let slot = rediscover::slot::key_slot(key);
                match self.slot {
                    None => self.slot = Some(slot),
                    Some(s) if s != slot => {
                        return Err(
                            b"Script attempted to access keys that do not hash to the same slot"
                                .to_vec(),
                        )
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }
}

/// Command table entries live in a `'static` table.
fn unsafe_static(cmd: &Command) -> &'static Command {
    // SAFETY: every node's table is a `&'static CommandTable` (see `NodeState::commands`).
    unsafe { &*(cmd as *const Command) }
}

/// What a script is called with.
pub(crate) struct Call<'x> {
    /// Script name for errors (the SHA-1, or the function's name).
    pub name: &'x str,
    /// The whole command (EVAL ..., FCALL ...).
    pub argv: &'x [Bytes],
    /// KEYS and ARGV.
    pub keys: &'x [Bytes],
    /// ARGV.
    pub args: &'x [Bytes],
    /// Script flags.
    pub flags: u32,
    /// EVAL_RO / FCALL_RO.
    pub ro: bool,
    /// EVAL (globals KEYS/ARGV) rather than a function (arguments).
    pub eval: bool,
}

/// Redis's `scriptPrepareForRun` checks, before a script starts (the error line, or Ok).
pub(crate) fn prepare_checks(ctx: &Ctx<'_>, flags: u32, ro: bool) -> Result<(), String> {
    let node = &*ctx.node;
    let link_up = node
        .repl
        .master
        .as_ref()
        .is_some_and(|m| m.state == crate::repl::LinkState::Connected);
    let running_stale = !node.repl.is_master() && !link_up && !node.config.replica_serve_stale_data;
    let obey = ctx.client.master_link;
    if flags & sflag::EVAL_COMPAT == 0 {
        if flags & sflag::NO_CLUSTER != 0 && node.cluster.is_some() {
            return Err("ERR Can not run script on cluster, 'no-cluster' flag is set.".into());
        }
        if running_stale && flags & sflag::ALLOW_STALE == 0 {
            return Err("MASTERDOWN Link with MASTER is down, replica-serve-stale-data is set to 'no' and 'allow-stale' flag is not set on the script.".into());
        }
        if flags & sflag::NO_WRITES == 0 {
            if !node.repl.is_master() && node.config.replica_read_only && !obey {
                return Err(
                    "READONLY Can not run script with write flag on readonly replica".into(),
                );
            }
            if ro {
                return Err(
                    "ERR Can not execute a script with write flag using *_ro command.".into(),
                );
            }
            let min = node.config.min_replicas_to_write;
            if node.repl.is_master()
                && node.config.min_replicas_max_lag > 0
                && min > 0
                && (node
                    .repl
                    .good_replicas(node.config.min_replicas_max_lag, std::time::Instant::now())
                    as i64)
                    < min
            {
                return Err(rediscover::error_codes::msg::NOREPLICAS.into());
            }
        }
    } else if running_stale {
        return Err(rediscover::error_codes::msg::MASTERDOWN.into());
    }
    Ok(())
}

/// Runs `func` (an EVAL script or a library function) for the caller in `ctx` and writes its
/// reply. The caller checked [`prepare_checks`].
pub(crate) fn execute(ctx: &mut Ctx<'_>, func: &Function, call: Call<'_>) {
    let busy = ctx.node.scripts.busy.clone();
    let mut client = ctx.node.scripts.client.take().unwrap_or_else(|| {
        Box::new(Client::new(
            0,
            ctx.client.addr,
            ctx.client.laddr,
            ctx.client.oob.clone(),
        ))
    });
    client.db = ctx.client.db;
    client.resp3 = false;
    client.user = ctx.client.user.clone();
    client.authenticated = true;
    client.master_link = ctx.client.master_link;
    client.multi = None;
    let mut flags = 0;
    if call.ro || (call.flags & sflag::EVAL_COMPAT == 0 && call.flags & sflag::NO_WRITES != 0) {
        flags |= rflag::READ_ONLY;
    }
    if call.flags & sflag::EVAL_COMPAT != 0 || call.flags & sflag::ALLOW_CROSS_SLOT != 0 {
        flags |= rflag::ALLOW_CROSS_SLOT;
    }
    let threshold = ctx.node.config.busy_reply_threshold;
    let mut bflags = 0;
    if call.eval {
        bflags |= busy::flag::EVAL;
    }
    if ctx.client.master_link {
        bflags |= busy::flag::OBEY;
    }
    busy.start(threshold, bflags);
    let engine = if call.eval {
        ctx.node.scripts.engine()
    } else {
        ctx.node.scripts.functions_engine()
    };
    let Ok(engine) = engine else {
        busy.end();
        ctx.out.error("ERR Lua engine unavailable");
        return;
    };
    let lua = engine.lua.clone();
    let start = raw::Start {
        handler: engine.handler,
        globals: engine.globals,
        fields: engine.fields,
        keys: call.keys,
        args: call.args,
        eval: call.eval,
    };
    let slot = engine.slot.clone();
    if engine.hook_tight {
        let hb = engine.slot.busy.clone();
        lua.set_hook(
            HookTriggers::new().every_nth_instruction(100_000),
            move |lua, d| hook(lua, &hb, d),
        );
        engine.hook_tight = false;
    }
    let mut run = Run {
        ctx,
        client,
        // Starts empty: most scripts' commands reply in a few bytes.
        out: ReplyWriter::default(),
        flags,
        repl: PROPAGATE_AOF | PROPAGATE_REPL,
        slot: None,
        busy: busy.clone(),
        name: call.name,
        argv: call.argv,
    };
    let mut outcome_slot = None;
    let run_ptr: *mut Run<'_, '_> = &mut run;
    slot.enter(run_ptr as *mut ());
    // SAFETY: `raw::run` keeps the stack balanced and raises nothing itself; while the script
    // runs, `run` is reached only through the slot (and the pointer), one callback at a time.
    let result = unsafe {
        lua.exec_raw::<()>(func, |l| {
            outcome_slot = Some(raw::run(l, &start, run_ptr));
        })
    };
    if slot.leave() {
        let scripts = &mut run.ctx.node.scripts;
        let engine = if call.eval {
            scripts.engine.as_mut()
        } else {
            scripts.fengine.as_mut()
        };
        if let Some(e) = engine {
            e.hook_tight = true;
        }
    }
    let Run {
        ctx, client, out, ..
    } = run;
    drop(out);
    match (result, outcome_slot) {
        (Ok(()), Some(raw::Outcome::Replied)) => {}
        (Ok(()), Some(raw::Outcome::Raised { mut err, place })) => {
            if let Some((source, line)) = place {
                err.extend_from_slice(format!(" script: {}, on ", call.name).as_bytes());
                err.extend_from_slice(&source);
                err.push(b':');
                err.extend_from_slice(&line);
                err.push(b'.');
            }
            ctx.out.error_bytes(&err);
        }
        (Ok(()), Some(raw::Outcome::Failed(msg))) => {
            let msg: String = String::from_utf8_lossy(&msg).chars().take(100).collect();
            ctx.out
                .error(&format!("ERR Error running script {}, {msg}", call.name));
        }
        (Err(e), _) => {
            ctx.out.error(&format!(
                "ERR Error running script {}, {}",
                call.name,
                mlua_error_text(&e)
            ));
        }
        (Ok(()), None) => unreachable!("exec_raw runs its closure or fails"),
    }
    ctx.node.scripts.client = Some(client);
    // Redis also steps the collector by 50 KB every 50 scripts; Lua's own incremental
    // collector, paced by allocation, keeps the heap bounded without it (that step finished a
    // whole cycle each time: a tenth of a small script's cost).
    busy.end();
}

/// Looks up an EVAL script's function (for EVALSHA).
pub(crate) fn cached(scripts: &Scripts, sha: &str) -> Option<(Arc<Function>, u32)> {
    scripts.cache.get(sha).map(|s| (s.func.clone(), s.flags))
}
