//! Functions (Redis 7.0's `functions.c` and `function_lua.c`): libraries of named Lua functions
//! loaded with FUNCTION LOAD, kept in the RDB and replicated.
//!
//! Libraries run in their own Lua state (as Redis keeps one per engine). While a library's code
//! loads, its globals are only `redis.register_function`, `redis.log` and the version/log
//! constants; once loaded, its functions see the full sandbox (and get KEYS and ARGV as
//! arguments, not globals).

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use bytes::Bytes;
use mlua::{Function, Lua, MultiValue, Table, Value};

use super::{error_table, sflag, Engine, Scripts};

/// How long FUNCTION LOAD may run a library's code (Redis's `LOAD_TIMEOUT_MS`).
const LOAD_TIMEOUT: Duration = Duration::from_millis(500);

const BAD_NAME: &str = "Library names can only contain letters, numbers, or underscores(_) and must be at least one character long";

/// A registered function.
pub(crate) struct FunctionInfo {
    /// `description`, if given.
    pub desc: Option<Bytes>,
    /// Its flags (no-writes, ...).
    pub flags: u32,
    pub(crate) func: Function,
}

/// A loaded library.
pub(crate) struct Library {
    /// Its code, shebang included (what FUNCTION LIST WITHCODE, DUMP and the RDB hold).
    pub code: Bytes,
    /// Its functions by name.
    pub functions: BTreeMap<String, FunctionInfo>,
}

/// The libraries of a node.
#[derive(Default)]
pub(crate) struct Libraries {
    /// By library name.
    pub libs: BTreeMap<String, Library>,
    /// Function name -> library name.
    pub index: HashMap<String, String>,
}

impl Libraries {
    fn link(&mut self, name: String, lib: Library) {
        for f in lib.functions.keys() {
            self.index.insert(f.clone(), name.clone());
        }
        self.libs.insert(name, lib);
    }

    fn unlink(&mut self, name: &str) -> Option<Library> {
        let lib = self.libs.remove(name)?;
        for f in lib.functions.keys() {
            self.index.remove(f);
        }
        Some(lib)
    }

    /// The function `name` and its flags.
    pub fn function(&self, name: &str) -> Option<&FunctionInfo> {
        let lib = self.index.get(name)?;
        self.libs.get(lib)?.functions.get(name)
    }

    /// Number of functions.
    pub fn function_count(&self) -> usize {
        self.index.len()
    }
}

/// What `redis.register_function` collects while a library loads (app data of the state).
pub(super) struct LoadCtx {
    registered: Vec<(String, FunctionInfo)>,
    started: Instant,
    timeout: bool,
}

impl LoadCtx {
    /// Whether a FUNCTION LOAD ran past its time.
    pub(super) fn timed_out(&self) -> bool {
        self.timeout && self.started.elapsed() > LOAD_TIMEOUT
    }
}

fn valid_name(name: &[u8]) -> bool {
    !name.is_empty() && name.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'_')
}

fn lua_string(v: &Value) -> Option<Vec<u8>> {
    match v {
        Value::String(s) => Some(s.as_bytes().to_vec()),
        Value::Number(n) => Some(super::format_lua_number(*n).into_bytes()),
        Value::Integer(n) => Some(super::format_lua_number(*n as f64).into_bytes()),
        _ => None,
    }
}

fn read_flags(t: &Table) -> Result<u32, &'static str> {
    let mut flags = 0;
    let mut j = 1;
    loop {
        let v: Value = t.get(j).map_err(|_| "unknown flag given")?;
        if v.is_nil() {
            return Ok(flags);
        }
        let name = lua_string(&v).ok_or("unknown flag given")?;
        match sflag::NAMES
            .iter()
            .find(|(n, _)| n.as_bytes().eq_ignore_ascii_case(&name))
        {
            Some((_, f)) => flags |= f,
            None => return Err("unknown flag given"),
        }
        j += 1;
    }
}

/// `redis.register_function(name, callback)` or `redis.register_function{function_name=...,
/// callback=..., flags=..., description=...}`: Redis's argument checks and texts.
fn register(lua: &Lua, args: MultiValue) -> Result<(), String> {
    if lua.app_data_ref::<LoadCtx>().is_none() {
        return Err("redis.register_function can only be called on FUNCTION LOAD command".into());
    }
    if args.is_empty() || args.len() > 2 {
        return Err("wrong number of arguments to redis.register_function".into());
    }
    let (name, desc, flags, func) = if args.len() == 1 {
        let Value::Table(t) = &args[0] else {
            return Err("calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).".into());
        };
        let (mut name, mut desc, mut flags, mut func) = (None, None, 0, None);
        for pair in t.pairs::<Value, Value>() {
            let (k, v) = pair.map_err(|e| e.to_string())?;
            let Some(key) = lua_string(&k) else {
                return Err(
                    "named argument key given to redis.register_function is not a string".into(),
                );
            };
            if key.eq_ignore_ascii_case(b"function_name") {
                name = Some(lua_string(&v).ok_or(
                    "function_name argument given to redis.register_function must be a string",
                )?);
            } else if key.eq_ignore_ascii_case(b"description") {
                desc = Some(lua_string(&v).ok_or(
                    "description argument given to redis.register_function must be a string",
                )?);
            } else if key.eq_ignore_ascii_case(b"callback") {
                let Value::Function(f) = v else {
                    return Err(
                        "callback argument given to redis.register_function must be a function"
                            .into(),
                    );
                };
                func = Some(f);
            } else if key.eq_ignore_ascii_case(b"flags") {
                let Value::Table(ft) = v else {
                    return Err("flags argument to redis.register_function must be a table representing function flags".into());
                };
                flags = read_flags(&ft)?;
            } else {
                return Err("unknown argument given to redis.register_function".into());
            }
        }
        let name = name.ok_or("redis.register_function must get a function name argument")?;
        let func = func.ok_or("redis.register_function must get a callback argument")?;
        (name, desc, flags, func)
    } else {
        let name = lua_string(&args[0])
            .ok_or("first argument to redis.register_function must be a string")?;
        let Value::Function(f) = &args[1] else {
            return Err("second argument to redis.register_function must be a function".into());
        };
        (name, None, 0, f.clone())
    };
    if !valid_name(&name) {
        return Err(BAD_NAME.into());
    }
    let name = String::from_utf8_lossy(&name).into_owned();
    let mut load = lua
        .app_data_mut::<LoadCtx>()
        .ok_or("redis.register_function can only be called on FUNCTION LOAD command")?;
    if load.registered.iter().any(|(n, _)| *n == name) {
        return Err("Function already exists in the library".into());
    }
    load.registered.push((
        name,
        FunctionInfo {
            desc: desc.map(Bytes::from),
            flags,
            func,
        },
    ));
    Ok(())
}

/// The `register_function` given to the functions engine's glue.
pub(super) fn register_function(lua: &Lua) -> mlua::Result<Function> {
    lua.create_function(|lua, args: MultiValue| match register(lua, args) {
        Ok(()) => Ok((Value::Nil, Value::Nil)),
        Err(e) => Ok((Value::Table(error_table(lua, e.as_bytes())?), Value::Nil)),
    })
}

/// A library's metadata line: (name, engine, code after the shebang, line feed kept).
fn metadata(code: &[u8]) -> Result<(String, Vec<u8>, usize), String> {
    if !code.starts_with(b"#!") {
        return Err("Missing library metadata".into());
    }
    let Some(end) = code.iter().position(|&b| b == b'\n') else {
        return Err("Invalid library metadata".into());
    };
    let parts = rediscover::resp::split_args(&code[..end]).unwrap_or_default();
    let Some(first) = parts.first() else {
        return Err("Invalid library metadata".into());
    };
    let engine = first[2.min(first.len())..].to_vec();
    let mut name: Option<Vec<u8>> = None;
    for part in &parts[1..] {
        if part.len() >= 5 && part[..5].eq_ignore_ascii_case(b"name=") {
            if name.is_some() {
                return Err(
                    "Invalid metadata value, name argument was given multiple times".into(),
                );
            }
            name = Some(part[5..].to_vec());
            continue;
        }
        return Err(format!(
            "Invalid metadata value given: {}",
            String::from_utf8_lossy(part)
        ));
    }
    let name = name.ok_or("Library name was not given")?;
    if !valid_name(&name) {
        return Err(BAD_NAME.into());
    }
    Ok((String::from_utf8_lossy(&name).into_owned(), engine, end))
}

/// Compiles and runs a library's code, collecting the functions it registers. `timeout`: the
/// 500 ms load limit applies (not for our master's commands). Errors are Redis's texts.
fn build(engine: &mut Engine, code: &Bytes, timeout: bool) -> Result<(String, Library), String> {
    let (name, engine_name, shebang_end) = metadata(code)?;
    if !engine_name.eq_ignore_ascii_case(b"lua") {
        return Err(format!(
            "Engine '{}' not found",
            String::from_utf8_lossy(&engine_name)
        ));
    }
    Ok((name, build_checked(engine, code, shebang_end, timeout)?))
}

fn build_checked(
    engine: &mut Engine,
    code: &Bytes,
    shebang_end: usize,
    timeout: bool,
) -> Result<Library, String> {
    let func = engine
        .compile(&code[shebang_end..], "@user_function")
        .map_err(|e| format!("Error compiling function: {e}"))?;
    let (setloading, runload) = engine
        .loader
        .clone()
        .ok_or("Error registering functions: no loader")?;
    let lua = engine.lua.clone();
    lua.set_app_data(LoadCtx {
        registered: Vec::new(),
        started: Instant::now(),
        timeout,
    });
    let _ = setloading.call::<()>(true);
    let result = runload.call::<(bool, Value)>(func);
    let _ = setloading.call::<()>(false);
    let load = lua.remove_app_data::<LoadCtx>();
    if load.as_ref().is_some_and(|l| l.timed_out()) {
        engine.hook_tight = true;
    }
    let (ok, err) = result.map_err(|e| format!("Error registering functions: {e}"))?;
    if !ok {
        let msg = match err {
            Value::String(s) => format!("ERR {}", s.to_string_lossy()),
            Value::Table(t) => t
                .raw_get::<Option<mlua::String>>("err")
                .ok()
                .flatten()
                .map(|s| s.to_string_lossy())
                .unwrap_or_default(),
            Value::Error(e) => super::mlua_error_text(&e),
            other => format!("ERR {other:?}"),
        };
        return Err(format!("Error registering functions: {msg}"));
    }
    let registered = load.map(|l| l.registered).unwrap_or_default();
    if registered.is_empty() {
        return Err("No functions registered".into());
    }
    Ok(Library {
        code: code.clone(),
        functions: registered.into_iter().collect(),
    })
}

/// How FUNCTION RESTORE treats existing libraries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RestorePolicy {
    /// Keep them; a name collision aborts.
    Append,
    /// Replace libraries of the same name.
    Replace,
    /// Drop them all first.
    Flush,
}

impl Scripts {
    pub(super) fn functions_engine(&mut self) -> Result<&mut Engine, String> {
        if self.fengine.is_none() {
            self.fengine =
                Some(Engine::new(self.busy.clone(), true).map_err(|e| format!("ERR {e}"))?);
        }
        Ok(self.fengine.as_mut().expect("just made"))
    }

    /// FUNCTION LOAD: creates (or with `replace`, replaces) a library. Returns its name.
    pub(crate) fn load_library(
        &mut self,
        code: &Bytes,
        replace: bool,
        timeout: bool,
    ) -> Result<String, String> {
        let (name, _, shebang_end) = metadata(code)?;
        let (_, engine_name, _) = metadata(code)?;
        if !engine_name.eq_ignore_ascii_case(b"lua") {
            return Err(format!(
                "Engine '{}' not found",
                String::from_utf8_lossy(&engine_name)
            ));
        }
        if self.libraries.libs.contains_key(&name) && !replace {
            return Err(format!("Library '{name}' already exists"));
        }
        let engine = self.functions_engine()?;
        let lib = build_checked(engine, code, shebang_end, timeout)?;
        for f in lib.functions.keys() {
            if self
                .libraries
                .index
                .get(f)
                .is_some_and(|owner| *owner != name)
            {
                return Err(format!("Function {f} already exists"));
            }
        }
        self.libraries.unlink(&name);
        self.libraries.link(name.clone(), lib);
        Ok(name)
    }

    /// FUNCTION DELETE.
    pub(crate) fn delete_library(&mut self, name: &str) -> bool {
        self.libraries.unlink(name).is_some()
    }

    /// FUNCTION FLUSH.
    pub(crate) fn flush_functions(&mut self) {
        self.libraries = Libraries::default();
        self.fengine = None;
    }

    /// Library codes, for FUNCTION DUMP and the RDB.
    pub fn library_codes(&self) -> Vec<Bytes> {
        self.libraries
            .libs
            .values()
            .map(|l| l.code.clone())
            .collect()
    }

    /// FUNCTION RESTORE (and loading an RDB's functions): libraries from `codes`, joined to the
    /// existing ones under `policy`. All or nothing.
    pub(crate) fn restore_libraries(
        &mut self,
        codes: &[Bytes],
        policy: RestorePolicy,
    ) -> Result<(), String> {
        let mut fresh = Libraries::default();
        {
            let engine = self.functions_engine()?;
            for code in codes {
                let (name, lib) = build(engine, code, false)?;
                if fresh.libs.contains_key(&name) {
                    return Err(format!("Library '{name}' already exists"));
                }
                if let Some(f) = lib.functions.keys().find(|f| fresh.index.contains_key(*f)) {
                    return Err(format!("Function {f} already exists"));
                }
                fresh.link(name, lib);
            }
        }
        if policy == RestorePolicy::Flush {
            self.libraries = fresh;
            return Ok(());
        }
        let mut kept = std::mem::take(&mut self.libraries);
        let mut replaced = Vec::new();
        for name in fresh.libs.keys() {
            if kept.libs.contains_key(name) {
                if policy == RestorePolicy::Append {
                    self.libraries = kept;
                    return Err(format!("Library {name} already exists"));
                }
                if let Some(old) = kept.unlink(name) {
                    replaced.push((name.clone(), old));
                }
            }
        }
        if let Some(f) = fresh.index.keys().find(|f| kept.index.contains_key(*f)) {
            let err = format!("Function {f} already exists");
            for (name, old) in replaced {
                kept.link(name, old);
            }
            self.libraries = kept;
            return Err(err);
        }
        let Libraries { libs, .. } = fresh;
        for (name, lib) in libs {
            kept.link(name, lib);
        }
        self.libraries = kept;
        Ok(())
    }

    /// Replaces every library with those of a loaded RDB (a full sync, a restart). Libraries
    /// that fail to load are logged and skipped by the caller.
    pub fn install_functions(&mut self, codes: &[Bytes]) -> Result<(), String> {
        self.flush_functions();
        self.restore_libraries(codes, RestorePolicy::Flush)
    }

    /// Memory of the functions engine (`used_memory_vm_functions`).
    pub fn functions_memory(&self) -> usize {
        self.fengine.as_ref().map_or(0, |e| e.lua.used_memory())
    }

    /// (function, flags) of FCALL's target.
    pub(crate) fn function(&self, name: &str) -> Option<(Function, u32)> {
        self.libraries
            .function(name)
            .map(|f| (f.func.clone(), f.flags))
    }
}
