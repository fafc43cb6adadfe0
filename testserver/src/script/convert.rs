//! Lua <-> RESP, as Redis's `script_lua.c` converts them.
//!
//! RESP -> Lua (a `redis.call` reply): integer -> number, bulk -> string, RESP2 null -> false,
//! RESP3 null -> nil, status -> `{ok=...}`, array -> table, map -> `{map={...}}`, set ->
//! `{set={k=true}}`, double -> `{double=d}`, boolean -> boolean, big number ->
//! `{big_number="..."}`, verbatim -> `{verbatim_string={format=,string=}}`; attributes are
//! dropped.
//!
//! Lua -> RESP (a script's return value): string -> bulk, number -> integer (truncated), boolean
//! -> `:1`/null (RESP2 scripts) or a RESP3 boolean, tables: `err` -> error, `ok` -> status,
//! `double`, `big_number`, `verbatim_string`, `map`, `set`, else an array up to the first nil.

use bytes::BufMut;
use mlua::{Lua, Table, Value};
use rediscover::resp::{Frame, ReplyWriter};

/// How deep a returned value may nest before the conversion gives up with Redis's error
/// (`reached lua stack limit`): where Redis's Lua stack check fails (LUAI_MAXCSTACK 8000).
const MAX_DEPTH: usize = 7995;

/// A `redis.call` reply as a Lua value. `resp3`: the script asked for RESP3 (`redis.setresp(3)`).
pub fn frame_to_lua(lua: &Lua, frame: Frame, resp3: bool) -> mlua::Result<Value> {
    Ok(match frame {
        Frame::Integer(n) => Value::Number(n as f64),
        Frame::Bulk(b) => Value::String(lua.create_string(&b)?),
        Frame::Null => {
            if resp3 {
                Value::Nil
            } else {
                Value::Boolean(false)
            }
        }
        Frame::Simple(s) => {
            let t = lua.create_table()?;
            t.raw_set("ok", lua.create_string(&s)?)?;
            Value::Table(t)
        }
        Frame::Error(e) | Frame::BulkError(e) => {
            let mut text = b"-".to_vec();
            text.extend_from_slice(&e);
            Value::Table(super::error_table(lua, &text)?)
        }
        Frame::Array(items) | Frame::Push(items) => {
            let t = lua.create_table_with_capacity(items.len(), 0)?;
            for (i, item) in items.into_iter().enumerate() {
                t.raw_set(i + 1, frame_to_lua(lua, item, resp3)?)?;
            }
            Value::Table(t)
        }
        Frame::Map(pairs) => {
            let inner = lua.create_table()?;
            for (k, v) in pairs {
                let k = frame_to_lua(lua, k, resp3)?;
                let v = frame_to_lua(lua, v, resp3)?;
                if !k.is_nil() {
                    inner.raw_set(k, v)?;
                }
            }
            let t = lua.create_table()?;
            t.raw_set("map", inner)?;
            Value::Table(t)
        }
        Frame::Set(items) => {
            let inner = lua.create_table()?;
            for item in items {
                let k = frame_to_lua(lua, item, resp3)?;
                if !k.is_nil() {
                    inner.raw_set(k, true)?;
                }
            }
            let t = lua.create_table()?;
            t.raw_set("set", inner)?;
            Value::Table(t)
        }
        Frame::Double(d) => {
            let t = lua.create_table()?;
            t.raw_set("double", d)?;
            Value::Table(t)
        }
        Frame::Boolean(b) => Value::Boolean(b),
        Frame::BigNumber(s) => {
            let t = lua.create_table()?;
            t.raw_set("big_number", lua.create_string(&s)?)?;
            Value::Table(t)
        }
        Frame::Verbatim { format, text } => {
            let inner = lua.create_table()?;
            inner.raw_set("string", lua.create_string(&text)?)?;
            inner.raw_set("format", lua.create_string(format)?)?;
            let t = lua.create_table()?;
            t.raw_set("verbatim_string", inner)?;
            Value::Table(t)
        }
        Frame::Attribute { data, .. } => frame_to_lua(lua, *data, resp3)?,
    })
}

/// `(long long)` of a double as x86-64 converts it: out of range and NaN give `i64::MIN`.
fn truncate(n: f64) -> i64 {
    if n.is_nan() || !(-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&n) {
        i64::MIN
    } else {
        n as i64
    }
}

fn status(out: &mut ReplyWriter, text: &[u8]) {
    let buf = out.buffer();
    buf.put_u8(b'+');
    for &b in text {
        buf.put_u8(if b == b'\r' || b == b'\n' { b' ' } else { b });
    }
    buf.put_slice(b"\r\n");
}

/// Writes a script's return value. `script_resp3`: the script's own protocol (setresp), which
/// decides how booleans convert; the writer speaks the caller's. Iterative (an explicit stack),
/// so that a deep or self-referencing table cannot overflow the thread's stack.
pub fn lua_to_reply(out: &mut ReplyWriter, v: &Value, script_resp3: bool, depth: usize) {
    let mut stack: Vec<(Value, usize)> = vec![(v.clone(), depth)];
    while let Some((v, depth)) = stack.pop() {
        if depth >= MAX_DEPTH {
            out.error("ERR reached lua stack limit");
            continue;
        }
        match &v {
            Value::String(s) => out.bulk(&s.as_bytes()),
            Value::Boolean(b) => {
                if script_resp3 {
                    out.boolean(*b);
                } else if *b {
                    out.int(1);
                } else {
                    out.null();
                }
            }
            Value::Number(n) => out.int(truncate(*n)),
            Value::Integer(n) => out.int(*n),
            Value::Table(t) => {
                let children = table_header(out, t);
                stack.extend(children.into_iter().rev().map(|c| (c, depth + 1)));
            }
            _ => out.null(),
        }
    }
}

/// Writes a table's reply, or the header of its aggregate; returns the elements still to
/// write, in order.
fn table_header(out: &mut ReplyWriter, t: &Table) -> Vec<Value> {
    if let Ok(Value::String(e)) = t.raw_get::<Value>("err") {
        out.error_bytes(&e.as_bytes());
        return Vec::new();
    }
    if let Ok(Value::String(s)) = t.raw_get::<Value>("ok") {
        status(out, &s.as_bytes());
        return Vec::new();
    }
    match t.raw_get::<Value>("double") {
        Ok(Value::Number(d)) => {
            out.double(d);
            return Vec::new();
        }
        Ok(Value::Integer(d)) => {
            out.double(d as f64);
            return Vec::new();
        }
        _ => {}
    }
    if let Ok(Value::String(s)) = t.raw_get::<Value>("big_number") {
        let digits: Vec<u8> = s
            .as_bytes()
            .iter()
            .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b })
            .collect();
        if out.is_resp3() {
            let buf = out.buffer();
            buf.put_u8(b'(');
            buf.put_slice(&digits);
            buf.put_slice(b"\r\n");
        } else {
            out.bulk(&digits);
        }
        return Vec::new();
    }
    if let Ok(Value::Table(vt)) = t.raw_get::<Value>("verbatim_string") {
        if let (Ok(Value::String(format)), Ok(Value::String(text))) =
            (vt.raw_get::<Value>("format"), vt.raw_get::<Value>("string"))
        {
            let f = format.as_bytes();
            let mut ext = [0u8; 3];
            for (d, s) in ext.iter_mut().zip(f.iter()) {
                *d = *s;
            }
            out.verbatim(&ext, &text.as_bytes());
            return Vec::new();
        }
    }
    if let Ok(Value::Table(m)) = t.raw_get::<Value>("map") {
        let mut items = Vec::new();
        for (k, v) in m.pairs::<Value, Value>().filter_map(Result::ok) {
            items.push(k);
            items.push(v);
        }
        out.map(items.len() / 2);
        return items;
    }
    if let Ok(Value::Table(s)) = t.raw_get::<Value>("set") {
        let keys: Vec<Value> = s
            .pairs::<Value, Value>()
            .filter_map(Result::ok)
            .map(|(k, _)| k)
            .collect();
        out.set(keys.len());
        return keys;
    }
    let mut items = Vec::new();
    let mut j = 1;
    loop {
        match t.raw_get::<Value>(j) {
            Ok(Value::Nil) | Err(_) => break,
            Ok(v) => items.push(v),
        }
        j += 1;
    }
    out.array(items.len());
    items
}
