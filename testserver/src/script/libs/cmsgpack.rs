//! lua-cmsgpack 0.4.0 as Redis bundles it: `cmsgpack.pack(...)`, `cmsgpack.unpack(s)`,
//! `cmsgpack.unpack_one(s [, offset])` and `cmsgpack.unpack_limit(s, limit [, offset])`.
//! Integral numbers pack as the smallest integer form, others as float32 when exact, else
//! float64; tables with keys 1..n as arrays, other tables as maps; nesting past 16 packs nil.

use mlua::{Function, Lua, MultiValue, Table, Value};

const MAX_NESTING: usize = 16;

type Res = (Option<String>, MultiValue);

fn pack_int(out: &mut Vec<u8>, n: i64) {
    if n >= 0 {
        if n <= 127 {
            out.push(n as u8);
        } else if n <= 0xff {
            out.extend_from_slice(&[0xcc, n as u8]);
        } else if n <= 0xffff {
            out.push(0xcd);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        } else if n <= 0xffff_ffff {
            out.push(0xce);
            out.extend_from_slice(&(n as u32).to_be_bytes());
        } else {
            out.push(0xcf);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    } else if n >= -32 {
        out.push(n as i8 as u8);
    } else if n >= -128 {
        out.extend_from_slice(&[0xd0, n as i8 as u8]);
    } else if n >= -32768 {
        out.push(0xd1);
        out.extend_from_slice(&(n as i16).to_be_bytes());
    } else if n >= -2_147_483_648 {
        out.push(0xd2);
        out.extend_from_slice(&(n as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn pack_len(out: &mut Vec<u8>, len: usize, fix: u8, fix_max: usize, b16: u8, b32: u8) {
    if len < fix_max {
        out.push(fix | len as u8);
    } else if len <= 0xffff {
        out.push(b16);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(b32);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
}

fn pack(out: &mut Vec<u8>, v: &Value, level: usize) {
    match v {
        Value::Nil => out.push(0xc0),
        Value::Boolean(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Integer(n) => pack_int(out, *n),
        Value::Number(n) => {
            let n = *n;
            if n.fract() == 0.0
                && (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&n)
            {
                pack_int(out, n as i64);
            } else if (n as f32) as f64 == n || n.is_nan() {
                out.push(0xca);
                out.extend_from_slice(&(n as f32).to_be_bytes());
            } else {
                out.push(0xcb);
                out.extend_from_slice(&n.to_be_bytes());
            }
        }
        Value::String(s) => {
            let b = s.as_bytes();
            let len = b.len();
            if len < 32 {
                out.push(0xa0 | len as u8);
            } else if len <= 0xff {
                out.extend_from_slice(&[0xd9, len as u8]);
            } else if len <= 0xffff {
                out.push(0xda);
                out.extend_from_slice(&(len as u16).to_be_bytes());
            } else {
                out.push(0xdb);
                out.extend_from_slice(&(len as u32).to_be_bytes());
            }
            out.extend_from_slice(&b);
        }
        Value::Table(t) if level < MAX_NESTING => pack_table(out, t, level + 1),
        _ => out.push(0xc0),
    }
}

fn pack_table(out: &mut Vec<u8>, t: &Table, level: usize) {
    let pairs: Vec<(Value, Value)> = t
        .clone()
        .pairs::<Value, Value>()
        .filter_map(Result::ok)
        .collect();
    let mut max = 0usize;
    let is_array = pairs.iter().all(|(k, _)| match k {
        Value::Number(n) if *n >= 1.0 && n.fract() == 0.0 => {
            max = max.max(*n as usize);
            true
        }
        Value::Integer(n) if *n >= 1 => {
            max = max.max(*n as usize);
            true
        }
        _ => false,
    }) && max == pairs.len();
    if is_array {
        pack_len(out, max, 0x90, 16, 0xdc, 0xdd);
        for i in 1..=max {
            let v: Value = t.raw_get(i).unwrap_or(Value::Nil);
            pack(out, &v, level);
        }
    } else {
        pack_len(out, pairs.len(), 0x80, 16, 0xde, 0xdf);
        for (k, v) in &pairs {
            pack(out, k, level);
            pack(out, v, level);
        }
    }
}

struct Unpacker<'a> {
    s: &'a [u8],
    pos: usize,
}

const MISSING: &str = "Missing bytes in input.";
const BAD: &str = "Bad data format in input.";

impl Unpacker<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], &'static str> {
        if self.s.len() - self.pos < n {
            return Err(MISSING);
        }
        let b = &self.s[self.pos..self.pos + n];
        self.pos += n;
        Ok(b)
    }

    fn uint(&mut self, n: usize) -> Result<u64, &'static str> {
        Ok(self
            .take(n)?
            .iter()
            .fold(0u64, |a, &b| (a << 8) | u64::from(b)))
    }

    fn value(&mut self, lua: &Lua) -> Result<Value, &'static str> {
        let c = self.take(1)?[0];
        let lua_err = |_| BAD;
        Ok(match c {
            0x00..=0x7f => Value::Number(f64::from(c)),
            0xe0..=0xff => Value::Number(f64::from(c as i8)),
            0xcc => Value::Number(self.uint(1)? as f64),
            0xcd => Value::Number(self.uint(2)? as f64),
            0xce => Value::Number(self.uint(4)? as f64),
            0xcf => Value::Number(self.uint(8)? as f64),
            0xd0 => Value::Number(f64::from(self.uint(1)? as u8 as i8)),
            0xd1 => Value::Number(f64::from(self.uint(2)? as u16 as i16)),
            0xd2 => Value::Number(f64::from(self.uint(4)? as u32 as i32)),
            0xd3 => Value::Number(self.uint(8)? as i64 as f64),
            0xc0 => Value::Nil,
            0xc2 => Value::Boolean(false),
            0xc3 => Value::Boolean(true),
            0xca => Value::Number(f64::from(f32::from_bits(self.uint(4)? as u32))),
            0xcb => Value::Number(f64::from_bits(self.uint(8)?)),
            0xa0..=0xbf | 0xd9 | 0xda | 0xdb | 0xc4 | 0xc5 | 0xc6 => {
                let len = match c {
                    0xa0..=0xbf => (c & 0x1f) as usize,
                    0xd9 | 0xc4 => self.uint(1)? as usize,
                    0xda | 0xc5 => self.uint(2)? as usize,
                    _ => self.uint(4)? as usize,
                };
                let b = self.take(len)?.to_vec();
                Value::String(lua.create_string(&b).map_err(lua_err)?)
            }
            0x90..=0x9f | 0xdc | 0xdd => {
                let len = match c {
                    0x90..=0x9f => (c & 0x0f) as usize,
                    0xdc => self.uint(2)? as usize,
                    _ => self.uint(4)? as usize,
                };
                let t = lua.create_table().map_err(lua_err)?;
                for i in 1..=len {
                    let v = self.value(lua)?;
                    t.raw_set(i, v).map_err(lua_err)?;
                }
                Value::Table(t)
            }
            0x80..=0x8f | 0xde | 0xdf => {
                let len = match c {
                    0x80..=0x8f => (c & 0x0f) as usize,
                    0xde => self.uint(2)? as usize,
                    _ => self.uint(4)? as usize,
                };
                let t = lua.create_table().map_err(lua_err)?;
                for _ in 0..len {
                    let k = self.value(lua)?;
                    let v = self.value(lua)?;
                    if !k.is_nil() {
                        t.raw_set(k, v).map_err(lua_err)?;
                    }
                }
                Value::Table(t)
            }
            _ => return Err(BAD),
        })
    }
}

/// `luaL_checkinteger` / `luaL_optinteger` on argument `i` (1-based): a number or numeric
/// string, truncated as C converts a double to `long`.
fn integer_arg(
    lua: &Lua,
    args: &MultiValue,
    i: usize,
    func: &str,
    default: Option<i64>,
) -> Result<i64, String> {
    let v = args.get(i - 1).cloned().unwrap_or(Value::Nil);
    if let (Value::Nil, Some(d)) = (&v, default) {
        return Ok(d);
    }
    match lua.coerce_number(v) {
        Ok(Some(n)) if n > -9.223_372_036_854_776e18 && n < 9.223_372_036_854_776e18 => {
            Ok(n as i64)
        }
        // x86-64's conversion of an out-of-range double.
        Ok(Some(_)) => Ok(i64::MIN),
        _ => Err(type_error(args, i, func, "number")),
    }
}

/// `luaL_typerror`'s text for argument `i` (1-based).
fn type_error(args: &MultiValue, i: usize, func: &str, want: &str) -> String {
    let got = match args.get(i - 1) {
        None => "no value",
        Some(Value::LightUserData(_)) => "userdata",
        Some(v) => v.type_name(),
    };
    format!("bad argument #{i} to '{func}' ({want} expected, got {got})")
}

/// `cmsgpack.unpack(s)`, `cmsgpack.unpack_one(s [, offset])` and
/// `cmsgpack.unpack_limit(s, limit [, offset])` (`mp_unpack_full`): decode up to `limit`
/// values (all of them when limit and offset are both 0) from byte `offset` of `s`; unless
/// all were asked for, the offset where decoding stopped comes first (-1: at the end).
fn unpack_call(lua: &Lua, args: &MultiValue, func: &str) -> Res {
    let fail = |e: String| (Some(e), MultiValue::new());
    let (limit, offset) = match func {
        "unpack_one" => match integer_arg(lua, args, 2, func, Some(0)) {
            Ok(o) => (1, o),
            Err(e) => return fail(e),
        },
        "unpack_limit" => {
            let limit = match integer_arg(lua, args, 2, func, None) {
                Ok(l) => l,
                Err(e) => return fail(e),
            };
            match integer_arg(lua, args, 3, func, Some(0)) {
                Ok(o) => (limit, o),
                Err(e) => return fail(e),
            }
        }
        _ => (0, 0),
    };
    let data = match args.front().cloned().map(|v| lua.coerce_string(v)) {
        Some(Ok(Some(s))) => s.as_bytes().to_vec(),
        _ => return fail(type_error(args, 1, func, "string")),
    };
    let len = data.len();
    if offset < 0 || limit < 0 {
        // The C reports the input length where it means the limit.
        return fail(format!(
            "Invalid request to unpack with offset of {} and limit of {}.",
            offset as i32, len as i32
        ));
    }
    if offset as u64 > len as u64 {
        return fail(format!(
            "Start offset {} greater than input length {}.",
            offset as i32, len as i32
        ));
    }
    let decode_all = limit == 0 && offset == 0;
    let limit = if decode_all {
        i64::from(i32::MAX)
    } else {
        limit
    };
    let mut u = Unpacker {
        s: &data,
        pos: offset as usize,
    };
    let mut values = Vec::new();
    let mut count = 0;
    while u.pos < len && count < limit {
        match u.value(lua) {
            Ok(v) => values.push(v),
            Err(e) => return fail(e.into()),
        }
        count += 1;
    }
    if !decode_all {
        let next = if u.pos == len { -1.0 } else { u.pos as f64 };
        values.insert(0, Value::Number(next));
    }
    (None, MultiValue::from_iter(values))
}

pub(super) fn table(
    lua: &Lua,
    wrap: &dyn Fn(Function) -> mlua::Result<Function>,
) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    let pack_fn = lua.create_function(|lua, args: MultiValue| -> mlua::Result<Res> {
        if args.is_empty() {
            return Ok((
                Some("bad argument #0 to 'pack' (MessagePack pack needs input.)".into()),
                MultiValue::new(),
            ));
        }
        let mut out = Vec::new();
        for v in args.iter() {
            pack(&mut out, v, 0);
        }
        let s = lua.create_string(&out)?;
        Ok((None, MultiValue::from_iter([Value::String(s)])))
    })?;
    t.raw_set("pack", wrap(pack_fn)?)?;
    let unpack_fn = lua.create_function(|lua, args: MultiValue| -> mlua::Result<Res> {
        Ok(unpack_call(lua, &args, "unpack"))
    })?;
    t.raw_set("unpack", wrap(unpack_fn)?)?;
    let unpack_one = lua.create_function(|lua, args: MultiValue| -> mlua::Result<Res> {
        Ok(unpack_call(lua, &args, "unpack_one"))
    })?;
    t.raw_set("unpack_one", wrap(unpack_one)?)?;
    let unpack_limit = lua.create_function(|lua, args: MultiValue| -> mlua::Result<Res> {
        Ok(unpack_call(lua, &args, "unpack_limit"))
    })?;
    t.raw_set("unpack_limit", wrap(unpack_limit)?)?;
    t.raw_set("_NAME", "cmsgpack")?;
    t.raw_set("_VERSION", "lua-cmsgpack 0.4.0")?;
    Ok(t)
}
