//! The hot path of a script call, on Lua's C API.
//!
//! Going through mlua's values for every step of a call (a `MultiValue` for `redis.call`'s
//! arguments, a `Frame` turned into `Value`s for its reply, `Value`s walked for the script's
//! result, a Lua wrapper around `xpcall`) cost a small script half again what Redis spends.
//! Here, as in Redis's `script_lua.c`, a call works on the Lua stack:
//!
//! * [`run`] pushes KEYS and ARGV straight from the command's arguments, calls the script with
//!   `lua_pcall` under the error handler, and writes its result from the stack
//!   ([`write_reply`]);
//! * `redis.call` and `redis.pcall` are C functions ([`redis_call`]) that read their arguments
//!   from the stack and push the command's reply as Lua values ([`push_frame`]).
//!
//! They reach the running [`Run`](super::Run) through a [`RunSlot`] owned by the engine: an
//! upvalue of the C functions, and the app data the other callbacks and the hook read.
//!
//! The conversions are Redis's. RESP -> Lua (a `redis.call` reply): integer -> number, bulk
//! -> string, RESP2 null -> false, RESP3 null -> nil, status -> `{ok=...}`, error -> `{err=...}`,
//! array -> table, map -> `{map={...}}`, set -> `{set={k=true}}`, double -> `{double=d}`,
//! boolean -> boolean, big number -> `{big_number="..."}`, verbatim ->
//! `{verbatim_string={format=,string=}}`; attributes are dropped. Lua -> RESP (a script's
//! result): string -> bulk, number -> integer (truncated), boolean -> `:1`/null (RESP2
//! scripts) or a RESP3 boolean, tables: `err` -> error, `ok` -> status, `double`,
//! `big_number`, `verbatim_string`, `map`, `set`, else an array up to the first nil.
//!
//! Lua raises errors with `longjmp`. Rust values alive in a frame it jumps over are not
//! dropped (a leak, never a double free), so the functions here raise only from frames that
//! hold none: [`redis_call`] raises after the work, done in [`call`], has returned. What is
//! left is Lua running out of memory while building a reply (no `maxmemory` limits the Lua
//! heap here, as in Redis): then the values of that call leak.

use std::ffi::{c_int, c_void, CStr};
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use mlua::ffi::{self, lua_State};
use rediscover::resp::{Frame, ReplyWriter};

use super::busy::Busy;

/// How deep a returned value may nest before the conversion gives up with Redis's error
/// (`reached lua stack limit`): where Redis's Lua stack check fails (LUAI_MAXCSTACK 8000).
const MAX_DEPTH: usize = 7995;

/// The script running in an engine, as its callbacks reach it.
pub(crate) struct RunSlot {
    /// The running `Run`, or null between scripts.
    pub(super) run: AtomicPtr<()>,
    /// The busy state the hook watches.
    pub(super) busy: Arc<Busy>,
    /// The hook stopped this run (SCRIPT KILL): logged once.
    pub(super) killed: AtomicBool,
    /// Times this run handed its worker thread back to the runtime.
    pub(super) handed_off: AtomicU32,
}

impl RunSlot {
    pub(super) fn new(busy: Arc<Busy>) -> RunSlot {
        RunSlot {
            run: AtomicPtr::new(std::ptr::null_mut()),
            busy,
            killed: AtomicBool::new(false),
            handed_off: AtomicU32::new(0),
        }
    }

    /// Points the slot at a run about to start.
    pub(super) fn enter(&self, run: *mut ()) {
        self.killed.store(false, Ordering::Relaxed);
        self.handed_off.store(0, Ordering::Relaxed);
        self.run.store(run, Ordering::Relaxed);
    }

    /// The run has ended: whether the hook killed it.
    pub(super) fn leave(&self) -> bool {
        self.run.store(std::ptr::null_mut(), Ordering::Relaxed);
        self.killed.load(Ordering::Relaxed)
    }
}

/// Makes `redis.call` (`pcall` false) or `redis.pcall` for the engine whose slot is `slot`;
/// the slot must outlive the Lua state (the engine keeps both).
pub(super) fn redis_call_fn(
    lua: &mlua::Lua,
    slot: &Arc<RunSlot>,
    pcall: bool,
) -> mlua::Result<mlua::Function> {
    let ptr = Arc::as_ptr(slot) as *mut c_void;
    // SAFETY: pushes one C closure over two plain upvalues.
    unsafe {
        lua.exec_raw::<mlua::Function>((), |l| {
            ffi::lua_pushlightuserdata(l, ptr);
            ffi::lua_pushboolean(l, c_int::from(pcall));
            ffi::lua_pushcclosure(l, redis_call, 2);
        })
    }
}

/// Keeps `value` in the registry for the life of the state; returns its reference.
pub(super) fn registry_ref(lua: &mlua::Lua, value: impl mlua::IntoLua) -> mlua::Result<c_int> {
    // SAFETY: pops the one value pushed as argument, pushes an integer.
    unsafe {
        lua.exec_raw::<c_int>(value, |l| {
            let r = ffi::luaL_ref(l, ffi::LUA_REGISTRYINDEX);
            ffi::lua_pushinteger(l, r as ffi::lua_Integer);
        })
    }
}

/// `redis.call` / `redis.pcall`: Redis's `luaRedisGenericCommand`. A failed command is raised
/// as its error table by `redis.call`, returned by `redis.pcall`.
unsafe extern "C-unwind" fn redis_call(l: *mut lua_State) -> c_int {
    let slot = &*(ffi::lua_touserdata(l, ffi::lua_upvalueindex(1)) as *const RunSlot);
    let pcall = ffi::lua_toboolean(l, ffi::lua_upvalueindex(2)) != 0;
    if !call(l, slot) && !pcall {
        // Nothing of `call` is alive any more: the jump skips no destructor.
        ffi::lua_error(l);
    }
    1
}

/// Runs the command in the arguments on the stack; pushes its reply (true) or the error
/// table (false).
unsafe fn call(l: *mut lua_State, slot: &RunSlot) -> bool {
    let n = ffi::lua_gettop(l);
    if n == 0 {
        push_error(
            l,
            b"Please specify at least one argument for this redis lib call",
        );
        return false;
    }
    let mut argv = Vec::with_capacity(n as usize);
    for i in 1..=n {
        match ffi::lua_type(l, i) {
            // Not `lua_tolstring`: Lua writes numbers with %.14g, Redis with %.17g.
            ffi::LUA_TNUMBER => {
                argv.push(Bytes::from(super::format_number(ffi::lua_tonumber(l, i))))
            }
            ffi::LUA_TSTRING => argv.push(Bytes::copy_from_slice(to_bytes(l, i))),
            _ => {
                push_error(
                    l,
                    b"Lua redis lib command arguments must be strings or integers",
                );
                return false;
            }
        }
    }
    let run = slot.run.load(Ordering::Relaxed) as *mut super::Run<'static, 'static>;
    if run.is_null() {
        push_error(
            l,
            b"redis.call/pcall can only be called inside a script invocation",
        );
        return false;
    }
    // SAFETY: the slot points at the live run while its script runs, on this thread; the
    // script's callbacks are the only ones touching it meanwhile.
    let run = &mut *run;
    let reply = run.call(&argv);
    drop(argv);
    let mut buf = match reply {
        Ok(buf) => buf,
        Err(text) => {
            push_error(l, &text);
            return false;
        }
    };
    let frame = rediscover::resp::decode(&mut buf, &rediscover::resp::Limits::default())
        .ok()
        .flatten()
        .unwrap_or(Frame::Null);
    if let Frame::Error(e) = &frame {
        let mut text = Vec::with_capacity(e.len() + 1);
        text.push(b'-');
        text.extend_from_slice(e);
        push_error(l, &text);
        return false;
    }
    push_frame(l, frame, run.client.resp3)
}

/// The string (or number, converted in place) at `idx`.
unsafe fn to_bytes<'l>(l: *mut lua_State, idx: c_int) -> &'l [u8] {
    let mut len = 0usize;
    let p = ffi::lua_tolstring(l, idx, &mut len);
    if p.is_null() {
        return &[];
    }
    std::slice::from_raw_parts(p as *const u8, len)
}

unsafe fn push_bytes(l: *mut lua_State, b: &[u8]) {
    ffi::lua_pushlstring(l, b.as_ptr() as *const _, b.len());
}

/// `t[key] = value at the top` for the table at `t` (absolute or below the value), popping
/// the value.
unsafe fn set_field(l: *mut lua_State, key: &CStr) {
    ffi::lua_setfield(l, -2, key.as_ptr());
}

/// Pushes `{err = text}` as Redis's `luaPushErrorBuff` makes it (see [`super::error_text`]).
unsafe fn push_error(l: *mut lua_State, text: &[u8]) {
    ffi::lua_createtable(l, 0, 1);
    push_bytes(l, &super::error_text(text));
    set_field(l, c"err");
}

/// Pushes a command's reply as Redis's `redisProtocolToLuaType` converts it. False, with an
/// error table pushed instead, when the reply nests deeper than the Lua stack allows.
unsafe fn push_frame(l: *mut lua_State, frame: Frame, resp3: bool) -> bool {
    if ffi::lua_checkstack(l, 4) == 0 {
        push_error(l, b"reached lua stack limit");
        return false;
    }
    match frame {
        Frame::Integer(n) => ffi::lua_pushnumber(l, n as f64),
        Frame::Bulk(b) => push_bytes(l, &b),
        Frame::Null if resp3 => ffi::lua_pushnil(l),
        Frame::Null => ffi::lua_pushboolean(l, 0),
        Frame::Simple(s) => {
            ffi::lua_createtable(l, 0, 1);
            push_bytes(l, &s);
            set_field(l, c"ok");
        }
        Frame::Error(e) | Frame::BulkError(e) => {
            let mut text = Vec::with_capacity(e.len() + 1);
            text.push(b'-');
            text.extend_from_slice(&e);
            push_error(l, &text);
        }
        Frame::Array(items) | Frame::Push(items) => {
            ffi::lua_createtable(l, items.len().min(c_int::MAX as usize) as c_int, 0);
            for (i, item) in items.into_iter().enumerate() {
                if !push_frame(l, item, resp3) {
                    ffi::lua_remove(l, -2);
                    return false;
                }
                ffi::lua_rawseti(l, -2, (i + 1) as ffi::lua_Integer);
            }
        }
        Frame::Map(pairs) => {
            ffi::lua_createtable(l, 0, 1);
            ffi::lua_createtable(l, 0, pairs.len().min(c_int::MAX as usize) as c_int);
            for (k, v) in pairs {
                if !push_frame(l, k, resp3) || !push_frame(l, v, resp3) {
                    return unwind_error(l, 3);
                }
                if ffi::lua_isnil(l, -2) != 0 {
                    ffi::lua_pop(l, 2);
                } else {
                    ffi::lua_rawset(l, -3);
                }
            }
            set_field(l, c"map");
        }
        Frame::Set(items) => {
            ffi::lua_createtable(l, 0, 1);
            ffi::lua_createtable(l, 0, items.len().min(c_int::MAX as usize) as c_int);
            for item in items {
                if !push_frame(l, item, resp3) {
                    return unwind_error(l, 2);
                }
                if ffi::lua_isnil(l, -1) != 0 {
                    ffi::lua_pop(l, 1);
                } else {
                    ffi::lua_pushboolean(l, 1);
                    ffi::lua_rawset(l, -3);
                }
            }
            set_field(l, c"set");
        }
        Frame::Double(d) => {
            ffi::lua_createtable(l, 0, 1);
            ffi::lua_pushnumber(l, d);
            set_field(l, c"double");
        }
        Frame::Boolean(b) => ffi::lua_pushboolean(l, c_int::from(b)),
        Frame::BigNumber(s) => {
            ffi::lua_createtable(l, 0, 1);
            push_bytes(l, &s);
            set_field(l, c"big_number");
        }
        Frame::Verbatim { format, text } => {
            ffi::lua_createtable(l, 0, 1);
            ffi::lua_createtable(l, 0, 2);
            push_bytes(l, &text);
            set_field(l, c"string");
            push_bytes(l, &format);
            set_field(l, c"format");
            set_field(l, c"verbatim_string");
        }
        Frame::Attribute { data, .. } => return push_frame(l, *data, resp3),
    }
    true
}

/// Drops the `below` values under the error table at the top, keeping the error.
unsafe fn unwind_error(l: *mut lua_State, below: c_int) -> bool {
    ffi::lua_insert(l, -1 - below);
    ffi::lua_pop(l, below);
    false
}

/// What a script is run with.
pub(super) struct Start<'x> {
    /// Registry reference of the error handler.
    pub handler: c_int,
    /// Registry reference of the real globals (EVAL sets KEYS and ARGV there).
    pub globals: c_int,
    /// Registry reference of the [`FIELDS`] array.
    pub fields: c_int,
    pub keys: &'x [Bytes],
    pub args: &'x [Bytes],
    /// EVAL (KEYS and ARGV as globals) rather than a function (KEYS and ARGV as arguments).
    pub eval: bool,
}

/// How a script ended.
pub(super) enum Outcome {
    /// Its result was written.
    Replied,
    /// It raised: the error table's `err`, and where it was raised (`source`, `line`).
    Raised {
        err: Vec<u8>,
        place: Option<(Vec<u8>, Vec<u8>)>,
    },
    /// It failed without an error table (the handler itself failed): the message.
    Failed(Vec<u8>),
}

/// Runs the function at stack index 1 (the only value on the stack) as a script for `run`
/// (the run its slot points at) and, when it returns, writes its result to the caller's reply
/// in the script's protocol of the moment (it may have called `redis.setresp`). Call inside
/// `Lua::exec_raw`.
pub(super) unsafe fn run(
    l: *mut lua_State,
    start: &Start<'_>,
    run: *mut super::Run<'_, '_>,
) -> Outcome {
    ffi::lua_rawgeti(l, ffi::LUA_REGISTRYINDEX, start.handler as _);
    ffi::lua_pushvalue(l, 1);
    let nargs = if start.eval {
        ffi::lua_rawgeti(l, ffi::LUA_REGISTRYINDEX, start.globals as _);
        ffi::lua_pushlstring(l, c"KEYS".as_ptr(), 4);
        push_array(l, start.keys);
        ffi::lua_rawset(l, -3);
        ffi::lua_pushlstring(l, c"ARGV".as_ptr(), 4);
        push_array(l, start.args);
        ffi::lua_rawset(l, -3);
        ffi::lua_pop(l, 1);
        0
    } else {
        push_array(l, start.keys);
        push_array(l, start.args);
        2
    };
    let status = ffi::lua_pcall(l, nargs, 1, 2);
    // Only the field names and the result (or error) stay: a deep result has the whole stack
    // to nest in.
    ffi::lua_rawgeti(l, ffi::LUA_REGISTRYINDEX, start.fields as _);
    ffi::lua_replace(l, FIELDS_AT);
    ffi::lua_replace(l, 2);
    ffi::lua_settop(l, 2);
    let outcome = if status == 0 {
        // SAFETY: the script has returned; nothing else reaches `run` now.
        let run = &mut *run;
        write_reply(l, run.ctx.out, run.client.resp3);
        Outcome::Replied
    } else if ffi::lua_type(l, -1) != ffi::LUA_TTABLE {
        Outcome::Failed(match ffi::lua_type(l, -1) {
            ffi::LUA_TSTRING => to_bytes(l, -1).to_vec(),
            _ => b"execution failure".to_vec(),
        })
    } else {
        let err = field_bytes(l, c"err").unwrap_or_default();
        let source = field_bytes(l, c"source");
        let line = field_bytes(l, c"line");
        Outcome::Raised {
            err,
            place: source.zip(line),
        }
    };
    ffi::lua_settop(l, 0);
    outcome
}

/// The string (or number, as Lua writes it) in field `key` of the table at the top.
unsafe fn field_bytes(l: *mut lua_State, key: &CStr) -> Option<Vec<u8>> {
    ffi::lua_pushstring(l, key.as_ptr());
    ffi::lua_rawget(l, -2);
    let v = match ffi::lua_type(l, -1) {
        ffi::LUA_TSTRING => Some(to_bytes(l, -1).to_vec()),
        ffi::LUA_TNUMBER => Some(super::format_lua_number(ffi::lua_tonumber(l, -1)).into_bytes()),
        _ => None,
    };
    ffi::lua_pop(l, 1);
    v
}

/// Pushes a Lua array of the strings in `items`.
unsafe fn push_array(l: *mut lua_State, items: &[Bytes]) {
    ffi::lua_createtable(l, items.len().min(c_int::MAX as usize) as c_int, 0);
    for (i, item) in items.iter().enumerate() {
        push_bytes(l, item);
        ffi::lua_rawseti(l, -2, (i + 1) as ffi::lua_Integer);
    }
}

/// `(long long)` of a double as x86-64 converts it: out of range and NaN give `i64::MIN`.
fn truncate(n: f64) -> i64 {
    if n.is_nan() || !(-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&n) {
        i64::MIN
    } else {
        n as i64
    }
}

/// Tables being written, innermost last. Each keeps its table on the Lua stack (maps and
/// sets their iteration key above it) until it is done.
enum Walk {
    /// An array: the next index, and its length.
    Array { next: i64, len: i64 },
    /// A set's keys.
    Set,
    /// A map: whether the pair's value comes next (its key was written).
    Map { value_next: bool },
}

/// Writes the value at the top of the stack as a script's reply (Redis's
/// `luaReplyToRedisReply`) and pops it. `script_resp3`: the script's own protocol
/// (`redis.setresp`), which decides how booleans convert; `out` speaks the caller's.
/// Iterative, so a deep or self-referencing table cannot overflow the thread's stack.
unsafe fn write_reply(l: *mut lua_State, out: &mut ReplyWriter, script_resp3: bool) {
    let mut open: Vec<Walk> = Vec::new();
    write_top(l, out, script_resp3, &mut open);
    while let Some(walk) = open.last_mut() {
        match walk {
            Walk::Array { next, len } => {
                if *next > *len {
                    ffi::lua_pop(l, 1);
                    open.pop();
                    continue;
                }
                ffi::lua_rawgeti(l, -1, *next);
                *next += 1;
            }
            Walk::Set => {
                if ffi::lua_next(l, -2) == 0 {
                    ffi::lua_pop(l, 1);
                    open.pop();
                    continue;
                }
                ffi::lua_pop(l, 1);
                ffi::lua_pushvalue(l, -1);
            }
            Walk::Map { value_next } => {
                if *value_next {
                    // The value is at the top, its key below it.
                    *value_next = false;
                } else {
                    if ffi::lua_next(l, -2) == 0 {
                        ffi::lua_pop(l, 1);
                        open.pop();
                        continue;
                    }
                    *value_next = true;
                    ffi::lua_pushvalue(l, -2);
                }
            }
        }
        write_top(l, out, script_resp3, &mut open);
    }
}

/// Writes the value at the top and pops it, or, for an aggregate, writes its header and opens
/// a [`Walk`] over it.
unsafe fn write_top(
    l: *mut lua_State,
    out: &mut ReplyWriter,
    script_resp3: bool,
    open: &mut Vec<Walk>,
) {
    if open.len() >= MAX_DEPTH || ffi::lua_checkstack(l, 4) == 0 {
        out.error("ERR reached lua stack limit");
        ffi::lua_pop(l, 1);
        return;
    }
    match ffi::lua_type(l, -1) {
        ffi::LUA_TSTRING => out.bulk(to_bytes(l, -1)),
        ffi::LUA_TBOOLEAN => {
            let b = ffi::lua_toboolean(l, -1) != 0;
            if script_resp3 {
                out.boolean(b);
            } else if b {
                out.int(1);
            } else {
                out.null();
            }
        }
        ffi::LUA_TNUMBER => out.int(truncate(ffi::lua_tonumber(l, -1))),
        ffi::LUA_TTABLE => {
            if let Some(walk) = write_table(l, out) {
                open.push(walk);
                return;
            }
        }
        _ => out.null(),
    }
    ffi::lua_pop(l, 1);
}

/// The fields that make a script's table a special reply, in [`FIELDS`] (a Lua array kept
/// at [`FIELDS_AT`] while a reply is written, so no name is hashed again).
#[derive(Clone, Copy)]
enum Field {
    Err = 1,
    Ok,
    Double,
    BigNumber,
    VerbatimString,
    Map,
    Set,
    Format,
    String,
}

/// The names of [`Field`], in order.
pub(super) const FIELDS: [&str; 9] = [
    "err",
    "ok",
    "double",
    "big_number",
    "verbatim_string",
    "map",
    "set",
    "format",
    "string",
];

/// Where the [`FIELDS`] array is while a reply is written.
const FIELDS_AT: c_int = 1;

/// Pushes field `f` of the table at the top (raw); returns its type.
unsafe fn get_field(l: *mut lua_State, f: Field) -> c_int {
    get_field_of(l, ffi::lua_gettop(l), f)
}

/// Pushes field `f` of the table at absolute index `t` (raw); returns its type.
unsafe fn get_field_of(l: *mut lua_State, t: c_int, f: Field) -> c_int {
    ffi::lua_rawgeti(l, FIELDS_AT, f as ffi::lua_Integer);
    ffi::lua_rawget(l, t);
    ffi::lua_type(l, -1)
}

/// For the table at the top: writes the reply of an error, status, double, big number or
/// verbatim table and returns None; or writes a map's, set's or array's header and returns
/// its walk, leaving on the stack what the walk needs (the table, and nil as the first key
/// of a map or set).
unsafe fn write_table(l: *mut lua_State, out: &mut ReplyWriter) -> Option<Walk> {
    if get_field(l, Field::Err) == ffi::LUA_TSTRING {
        out.error_bytes(to_bytes(l, -1));
        ffi::lua_pop(l, 1);
        return None;
    }
    ffi::lua_pop(l, 1);
    if get_field(l, Field::Ok) == ffi::LUA_TSTRING {
        let text = to_bytes(l, -1);
        let buf = out.buffer();
        buf.reserve(text.len() + 3);
        bytes::BufMut::put_u8(buf, b'+');
        for &b in text {
            bytes::BufMut::put_u8(buf, if b == b'\r' || b == b'\n' { b' ' } else { b });
        }
        bytes::BufMut::put_slice(buf, b"\r\n");
        ffi::lua_pop(l, 1);
        return None;
    }
    ffi::lua_pop(l, 1);
    if get_field(l, Field::Double) == ffi::LUA_TNUMBER {
        out.double(ffi::lua_tonumber(l, -1));
        ffi::lua_pop(l, 1);
        return None;
    }
    ffi::lua_pop(l, 1);
    if get_field(l, Field::BigNumber) == ffi::LUA_TSTRING {
        let digits: Vec<u8> = to_bytes(l, -1)
            .iter()
            .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b })
            .collect();
        if out.is_resp3() {
            let buf = out.buffer();
            bytes::BufMut::put_u8(buf, b'(');
            bytes::BufMut::put_slice(buf, &digits);
            bytes::BufMut::put_slice(buf, b"\r\n");
        } else {
            out.bulk(&digits);
        }
        ffi::lua_pop(l, 1);
        return None;
    }
    ffi::lua_pop(l, 1);
    if get_field(l, Field::VerbatimString) == ffi::LUA_TTABLE {
        let vt = ffi::lua_gettop(l);
        let format = get_field_of(l, vt, Field::Format);
        let text = get_field_of(l, vt, Field::String);
        if format == ffi::LUA_TSTRING && text == ffi::LUA_TSTRING {
            let mut ext = [0u8; 3];
            for (d, s) in ext.iter_mut().zip(to_bytes(l, -2)) {
                *d = *s;
            }
            out.verbatim(&ext, to_bytes(l, -1));
            ffi::lua_pop(l, 3);
            return None;
        }
        ffi::lua_pop(l, 2);
    }
    ffi::lua_pop(l, 1);
    for (key, map) in [(Field::Map, true), (Field::Set, false)] {
        if get_field(l, key) == ffi::LUA_TTABLE {
            // The inner table replaces the outer one; count its pairs first.
            ffi::lua_replace(l, -2);
            let mut n = 0;
            ffi::lua_pushnil(l);
            while ffi::lua_next(l, -2) != 0 {
                ffi::lua_pop(l, 1);
                n += 1;
            }
            ffi::lua_pushnil(l);
            return Some(if map {
                out.map(n);
                Walk::Map { value_next: false }
            } else {
                out.set(n);
                Walk::Set
            });
        }
        ffi::lua_pop(l, 1);
    }
    // An array, up to the first nil.
    let mut len = 0;
    loop {
        ffi::lua_rawgeti(l, -1, len + 1);
        let end = ffi::lua_isnil(l, -1) != 0;
        ffi::lua_pop(l, 1);
        if end {
            break;
        }
        len += 1;
    }
    out.array(len as usize);
    Some(Walk::Array { next: 1, len })
}
