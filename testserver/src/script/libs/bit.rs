//! LuaBitOp 1.0.2 (`bit.*`): 32-bit operations on Lua numbers, results as signed 32-bit.

use mlua::{Function, Lua, MultiValue, Table, Value};

/// LuaBitOp's number conversion: round to an integer (ties to even, via the 2^52+2^51 trick)
/// and keep the low 32 bits.
fn tobit(v: &Value) -> Option<i32> {
    let n = match v {
        Value::Number(n) => *n,
        Value::Integer(n) => *n as f64,
        Value::String(s) => std::str::from_utf8(&s.as_bytes())
            .ok()?
            .trim()
            .parse()
            .ok()?,
        _ => return None,
    };
    let biased = n + 6_755_399_441_055_744.0;
    Some(biased.to_bits() as u32 as i32)
}

fn bad(i: usize, name: &str, v: Option<&Value>) -> String {
    let got = v.map_or("no value", |v| v.type_name());
    format!("bad argument #{i} to '{name}' (number expected, got {got})")
}

type Res = (Option<String>, Value);

fn args_i32(name: &str, args: &MultiValue, at_least: usize) -> Result<Vec<i32>, String> {
    let mut out = Vec::with_capacity(args.len());
    for i in 0..args.len().max(at_least) {
        match args.get(i).and_then(tobit) {
            Some(x) => out.push(x),
            None => return Err(bad(i + 1, name, args.get(i))),
        }
    }
    Ok(out)
}

fn num(x: i32) -> Value {
    Value::Number(x as f64)
}

pub(super) fn table(
    lua: &Lua,
    wrap: &dyn Fn(Function) -> mlua::Result<Function>,
) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    let reg = |name: &'static str,
               f: fn(&str, &MultiValue) -> Result<Value, String>|
     -> mlua::Result<()> {
        let raw = lua.create_function(move |_, args: MultiValue| -> mlua::Result<Res> {
            Ok(match f(name, &args) {
                Ok(v) => (None, v),
                Err(e) => (Some(e), Value::Nil),
            })
        })?;
        t.raw_set(name, wrap(raw)?)
    };
    reg("tobit", |n, a| Ok(num(args_i32(n, a, 1)?[0])))?;
    reg("bnot", |n, a| Ok(num(!args_i32(n, a, 1)?[0])))?;
    reg("band", |n, a| {
        Ok(num(args_i32(n, a, 1)?.into_iter().fold(-1, |x, y| x & y)))
    })?;
    reg("bor", |n, a| {
        Ok(num(args_i32(n, a, 1)?.into_iter().fold(0, |x, y| x | y)))
    })?;
    reg("bxor", |n, a| {
        Ok(num(args_i32(n, a, 1)?.into_iter().fold(0, |x, y| x ^ y)))
    })?;
    reg("lshift", |n, a| {
        let v = args_i32(n, a, 2)?;
        Ok(num(((v[0] as u32) << (v[1] as u32 & 31)) as i32))
    })?;
    reg("rshift", |n, a| {
        let v = args_i32(n, a, 2)?;
        Ok(num(((v[0] as u32) >> (v[1] as u32 & 31)) as i32))
    })?;
    reg("arshift", |n, a| {
        let v = args_i32(n, a, 2)?;
        Ok(num(v[0] >> (v[1] as u32 & 31)))
    })?;
    reg("rol", |n, a| {
        let v = args_i32(n, a, 2)?;
        Ok(num((v[0] as u32).rotate_left(v[1] as u32 & 31) as i32))
    })?;
    reg("ror", |n, a| {
        let v = args_i32(n, a, 2)?;
        Ok(num((v[0] as u32).rotate_right(v[1] as u32 & 31) as i32))
    })?;
    reg("bswap", |n, a| Ok(num(args_i32(n, a, 1)?[0].swap_bytes())))?;
    let tohex = lua.create_function(|lua, args: MultiValue| -> mlua::Result<Res> {
        let Some(x) = args.front().and_then(tobit) else {
            return Ok((Some(bad(1, "tohex", args.front())), Value::Nil));
        };
        let mut n = match args.get(1) {
            None | Some(Value::Nil) => 8,
            Some(v) => match tobit(v) {
                Some(n) => n,
                None => return Ok((Some(bad(2, "tohex", args.get(1))), Value::Nil)),
            },
        };
        let upper = n < 0;
        if upper {
            n = -n;
        }
        let n = n.clamp(0, 8) as usize;
        let digits = if upper {
            format!("{:08X}", x as u32)
        } else {
            format!("{:08x}", x as u32)
        };
        Ok((None, Value::String(lua.create_string(&digits[8 - n..])?)))
    })?;
    t.raw_set("tohex", wrap(tohex)?)?;
    Ok(t)
}
