//! lua-cjson 2.1 as Redis bundles it (`cjson.encode`, `cjson.decode`, `cjson.null`), with its
//! defaults: numbers as `%.14g`, `/` escaped, sparse arrays refused past the 2x/10 rule, nesting
//! limited to 1000. The `encode_*`/`decode_*` settings functions are accepted and return their
//! current value, but do not change the behaviour.

use mlua::{Function, LightUserData, Lua, MultiValue, Table, Value};

use crate::script::format_lua_number;

const MAX_DEPTH: usize = 1000;

type Res = (Option<String>, Value);

fn null_value() -> Value {
    Value::LightUserData(LightUserData(std::ptr::null_mut()))
}

fn encode_string(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    for &b in s {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'/' => out.extend_from_slice(b"\\/"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            0..=0x1f | 0x7f => out.extend_from_slice(format!("\\u{:04x}", b).as_bytes()),
            _ => out.push(b),
        }
    }
    out.push(b'"');
}

fn encode_number(out: &mut Vec<u8>, n: f64) -> Result<(), String> {
    if n.is_nan() || n.is_infinite() {
        return Err("Cannot serialise number: must not be NaN or Inf".into());
    }
    out.extend_from_slice(format_lua_number(n).as_bytes());
    Ok(())
}

fn encode(out: &mut Vec<u8>, v: &Value, depth: usize) -> Result<(), String> {
    match v {
        Value::Nil => out.extend_from_slice(b"null"),
        Value::LightUserData(p) if p.0.is_null() => out.extend_from_slice(b"null"),
        Value::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Number(n) => encode_number(out, *n)?,
        Value::Integer(n) => out.extend_from_slice(n.to_string().as_bytes()),
        Value::String(s) => encode_string(out, &s.as_bytes()),
        Value::Table(t) => {
            let depth = depth + 1;
            if depth > MAX_DEPTH {
                return Err(format!("Cannot serialise, excessive nesting ({depth})"));
            }
            encode_table(out, t, depth)?
        }
        other => {
            return Err(format!(
                "Cannot serialise {}: type not supported",
                other.type_name()
            ))
        }
    }
    Ok(())
}

/// lua-cjson's `lua_array_length`: the array size, or `None` for an object.
fn array_len(t: &Table) -> Result<Option<usize>, String> {
    let mut max = 0usize;
    let mut items = 0usize;
    for pair in t.pairs::<Value, Value>() {
        let (k, _) = pair.map_err(|e| e.to_string())?;
        let n = match k {
            Value::Number(n) => n,
            Value::Integer(n) => n as f64,
            _ => return Ok(None),
        };
        if n < 1.0 || n.fract() != 0.0 {
            return Ok(None);
        }
        max = max.max(n as usize);
        items += 1;
    }
    if max > items * 2 && max > 10 {
        return Err("Cannot serialise table: excessively sparse array".into());
    }
    Ok(Some(max))
}

fn encode_table(out: &mut Vec<u8>, t: &Table, depth: usize) -> Result<(), String> {
    match array_len(t)? {
        Some(len) if len > 0 => {
            out.push(b'[');
            for i in 1..=len {
                if i > 1 {
                    out.push(b',');
                }
                let v: Value = t.raw_get(i).map_err(|e| e.to_string())?;
                encode(out, &v, depth)?;
            }
            out.push(b']');
        }
        _ => {
            out.push(b'{');
            let mut first = true;
            for pair in t.pairs::<Value, Value>() {
                let (k, v) = pair.map_err(|e| e.to_string())?;
                if !first {
                    out.push(b',');
                }
                first = false;
                match &k {
                    Value::String(s) => encode_string(out, &s.as_bytes()),
                    Value::Number(n) => encode_string(out, format_lua_number(*n).as_bytes()),
                    Value::Integer(n) => encode_string(out, n.to_string().as_bytes()),
                    _ => {
                        return Err(
                            "Cannot serialise table: table key must be a number or string".into(),
                        )
                    }
                }
                out.push(b':');
                encode(out, &v, depth)?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}

struct Decoder<'a> {
    s: &'a [u8],
    pos: usize,
    lua: &'a Lua,
    depth: usize,
}

impl Decoder<'_> {
    fn ws(&mut self) {
        while self.pos < self.s.len() && matches!(self.s[self.pos], b' ' | b'\t' | b'\n' | b'\r') {
            self.pos += 1;
        }
    }

    fn err(&self, what: &str) -> String {
        let found = match self.s.get(self.pos) {
            None => "T_END".to_string(),
            Some(b'{') => "T_OBJ_BEGIN".into(),
            Some(b'}') => "T_OBJ_END".into(),
            Some(b'[') => "T_ARR_BEGIN".into(),
            Some(b']') => "T_ARR_END".into(),
            Some(b',') => "T_COMMA".into(),
            Some(b':') => "T_COLON".into(),
            Some(b'"') => "T_STRING".into(),
            Some(b'-' | b'0'..=b'9') => "T_NUMBER".into(),
            Some(b't' | b'f')
                if self.s[self.pos..].starts_with(b"true")
                    || self.s[self.pos..].starts_with(b"false") =>
            {
                "T_BOOLEAN".into()
            }
            Some(b'n') if self.s[self.pos..].starts_with(b"null") => "T_NULL".into(),
            Some(_) => "invalid token".into(),
        };
        format!(
            "Expected {what} but found {found} at character {}",
            self.pos + 1
        )
    }

    fn value(&mut self) -> Result<Value, String> {
        self.ws();
        let Some(&c) = self.s.get(self.pos) else {
            return Err(self.err("value"));
        };
        match c {
            b'{' => {
                self.depth += 1;
                if self.depth > MAX_DEPTH {
                    return Err(format!(
                        "Found too many nested data structures ({}) at character {}",
                        self.depth,
                        self.pos + 1
                    ));
                }
                self.pos += 1;
                let t = self.lua.create_table().map_err(|e| e.to_string())?;
                self.ws();
                if self.s.get(self.pos) == Some(&b'}') {
                    self.pos += 1;
                    self.depth -= 1;
                    return Ok(Value::Table(t));
                }
                loop {
                    self.ws();
                    if self.s.get(self.pos) != Some(&b'"') {
                        return Err(self.err("object key string"));
                    }
                    let k = self.string()?;
                    self.ws();
                    if self.s.get(self.pos) != Some(&b':') {
                        return Err(self.err("colon"));
                    }
                    self.pos += 1;
                    let v = self.value()?;
                    t.raw_set(k, v).map_err(|e| e.to_string())?;
                    self.ws();
                    match self.s.get(self.pos) {
                        Some(b',') => self.pos += 1,
                        Some(b'}') => {
                            self.pos += 1;
                            break;
                        }
                        _ => return Err(self.err("comma or object end")),
                    }
                }
                self.depth -= 1;
                Ok(Value::Table(t))
            }
            b'[' => {
                self.depth += 1;
                if self.depth > MAX_DEPTH {
                    return Err(format!(
                        "Found too many nested data structures ({}) at character {}",
                        self.depth,
                        self.pos + 1
                    ));
                }
                self.pos += 1;
                let t = self.lua.create_table().map_err(|e| e.to_string())?;
                self.ws();
                if self.s.get(self.pos) == Some(&b']') {
                    self.pos += 1;
                    self.depth -= 1;
                    return Ok(Value::Table(t));
                }
                let mut i = 1;
                loop {
                    let v = self.value()?;
                    t.raw_set(i, v).map_err(|e| e.to_string())?;
                    i += 1;
                    self.ws();
                    match self.s.get(self.pos) {
                        Some(b',') => self.pos += 1,
                        Some(b']') => {
                            self.pos += 1;
                            break;
                        }
                        _ => return Err(self.err("comma or array end")),
                    }
                }
                self.depth -= 1;
                Ok(Value::Table(t))
            }
            b'"' => {
                let s = self.string()?;
                Ok(Value::String(s))
            }
            b't' if self.s[self.pos..].starts_with(b"true") => {
                self.pos += 4;
                Ok(Value::Boolean(true))
            }
            b'f' if self.s[self.pos..].starts_with(b"false") => {
                self.pos += 5;
                Ok(Value::Boolean(false))
            }
            b'n' if self.s[self.pos..].starts_with(b"null") => {
                self.pos += 4;
                Ok(null_value())
            }
            b'-' | b'0'..=b'9' => {
                let start = self.pos;
                self.pos += 1;
                while self.pos < self.s.len()
                    && matches!(
                        self.s[self.pos],
                        b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-'
                    )
                {
                    self.pos += 1;
                }
                let text = std::str::from_utf8(&self.s[start..self.pos]).unwrap_or("");
                match text.parse::<f64>() {
                    Ok(n) => Ok(Value::Number(n)),
                    Err(_) => {
                        self.pos = start;
                        Err(self.err("value"))
                    }
                }
            }
            _ => Err(self.err("value")),
        }
    }

    fn string(&mut self) -> Result<mlua::String, String> {
        let start = self.pos;
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            let Some(&c) = self.s.get(self.pos) else {
                self.pos = start;
                return Err(format!(
                    "Expected value but found unexpected end of string at character {}",
                    start + 1
                ));
            };
            self.pos += 1;
            match c {
                b'"' => break,
                b'\\' => {
                    let Some(&e) = self.s.get(self.pos) else {
                        return Err(format!(
                            "Expected value but found invalid escape code at character {}",
                            start + 1
                        ));
                    };
                    self.pos += 1;
                    match e {
                        b'"' | b'\\' | b'/' => out.push(e),
                        b'b' => out.push(8),
                        b'f' => out.push(12),
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'u' => {
                            let cp = self.hex4().ok_or_else(|| format!("Expected value but found invalid unicode escape code at character {}", start + 1))?;
                            let cp = if (0xD800..0xDC00).contains(&cp)
                                && self.s.get(self.pos) == Some(&b'\\')
                                && self.s.get(self.pos + 1) == Some(&b'u')
                            {
                                self.pos += 2;
                                let lo = self.hex4().ok_or_else(|| format!("Expected value but found invalid unicode escape code at character {}", start + 1))?;
                                0x10000 + ((cp - 0xD800) << 10) + (lo.wrapping_sub(0xDC00) & 0x3ff)
                            } else {
                                cp
                            };
                            let ch = char::from_u32(cp).unwrap_or('\u{fffd}');
                            let mut buf = [0u8; 4];
                            out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                        }
                        _ => {
                            return Err(format!(
                                "Expected value but found invalid escape code at character {}",
                                start + 1
                            ))
                        }
                    }
                }
                _ => out.push(c),
            }
        }
        self.lua.create_string(&out).map_err(|e| e.to_string())
    }

    fn hex4(&mut self) -> Option<u32> {
        let h = self.s.get(self.pos..self.pos + 4)?;
        let v = u32::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok()?;
        self.pos += 4;
        Some(v)
    }
}

pub(super) fn table(
    lua: &Lua,
    wrap: &dyn Fn(Function) -> mlua::Result<Function>,
) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    let enc = lua.create_function(|lua, args: MultiValue| -> mlua::Result<Res> {
        if args.len() != 1 {
            return Ok((
                Some("bad argument #1 to 'encode' (expected 1 argument)".into()),
                Value::Nil,
            ));
        }
        let mut out = Vec::new();
        Ok(match encode(&mut out, &args[0], 0) {
            Ok(()) => (None, Value::String(lua.create_string(&out)?)),
            Err(e) => (Some(e), Value::Nil),
        })
    })?;
    t.raw_set("encode", wrap(enc)?)?;
    let dec = lua.create_function(|lua, args: MultiValue| -> mlua::Result<Res> {
        let s = match args.front() {
            Some(Value::String(s)) if args.len() == 1 => s.as_bytes().to_vec(),
            Some(Value::Number(n)) if args.len() == 1 => format_lua_number(*n).into_bytes(),
            _ => {
                return Ok((
                    Some("bad argument #1 to 'decode' (expected 1 argument)".into()),
                    Value::Nil,
                ))
            }
        };
        let mut d = Decoder {
            s: &s,
            pos: 0,
            lua,
            depth: 0,
        };
        let v = match d.value() {
            Ok(v) => v,
            Err(e) => return Ok((Some(e), Value::Nil)),
        };
        d.ws();
        if d.pos < s.len() {
            return Ok((Some(d.err("the end")), Value::Nil));
        }
        Ok((None, v))
    })?;
    t.raw_set("decode", wrap(dec)?)?;
    t.raw_set("null", null_value())?;
    for (name, value) in [
        ("encode_sparse_array", Value::Boolean(false)),
        ("encode_max_depth", Value::Number(1000.0)),
        ("decode_max_depth", Value::Number(1000.0)),
        ("encode_number_precision", Value::Number(14.0)),
        ("encode_keep_buffer", Value::Boolean(true)),
        ("encode_invalid_numbers", Value::Boolean(false)),
        ("decode_invalid_numbers", Value::Boolean(true)),
    ] {
        let f = lua.create_function(move |_, _: MultiValue| Ok(value.clone()))?;
        t.raw_set(name, f)?;
    }
    t.raw_set("_NAME", "cjson")?;
    t.raw_set("_VERSION", "2.1.0")?;
    Ok(t)
}
