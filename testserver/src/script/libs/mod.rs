//! The libraries Redis bundles into its Lua (`bit`, `cjson`, `cmsgpack`, `struct`), written in Rust and
//! registered into the sandbox. Each function returns its error (or nil) first; a C closure
//! ([`super::raising`]) raises it at the caller's line, as `luaL_error` does in the C originals.

mod bit;
mod cjson;
mod cmsgpack;
mod structlib;

use mlua::{Function, Lua, Table};

/// Adds the libraries to `lib` (by name) for the sandbox to expose.
pub(super) fn register(lua: &Lua, lib: &Table) -> mlua::Result<()> {
    let wrap = |f: Function| super::raising(lua, f);
    lib.raw_set("bit", bit::table(lua, &wrap)?)?;
    lib.raw_set("cjson", cjson::table(lua, &wrap)?)?;
    lib.raw_set("cmsgpack", cmsgpack::table(lua, &wrap)?)?;
    lib.raw_set("struct", structlib::table(lua, &wrap)?)?;
    Ok(())
}
