//! Roberto Ierusalimschy's `struct` library as Redis bundles it (`struct.pack`,
//! `struct.unpack`, `struct.size`), for the x86-64 Linux build Redis ships: `long` and `size_t`
//! are 8 bytes, `int` 4, native order little-endian, maximum alignment 8.
//!
//! Formats: `>` big-endian, `<` little-endian, `![n]` maximum alignment (default 8), `x` a zero
//! byte, `b`/`B` `h`/`H` `l`/`L` `T` `i[n]`/`I[n]` signed/unsigned integers (of 1, 2, 8, 8
//! and `n` (default 4, at most 32) bytes), `c[n]` `n` chars (`c0`: the whole string when
//! packing, the previous number as length when unpacking), `s` a zero-terminated string, `f`
//! float, `d` double, ` ` ignored. Integers go through a C `long` (64 bits) as in the C
//! original, including its out-of-range conversions; sizes past 8 bytes keep 64 bits of value.

use mlua::{Function, Lua, MultiValue, Table, Value};

/// Largest `i[n]` / `I[n]` size.
const MAX_INT_SIZE: usize = 32;
/// Default maximum alignment (`!` alone): `max(alignof(double), sizeof(int))` on x86-64.
const MAX_ALIGN: usize = 8;
/// Lua 5.1's `LUAI_MAXCSTACK`: `unpack` cannot return more values than its C stack holds.
const MAX_C_STACK: usize = 8000;

type Res = (Option<String>, MultiValue);

/// Byte order and maximum alignment in force.
struct Header {
    little: bool,
    align: usize,
}

impl Default for Header {
    fn default() -> Self {
        Header {
            little: true,
            align: 1,
        }
    }
}

/// A format string being read.
struct Fmt<'a> {
    s: &'a [u8],
    pos: usize,
}

impl Fmt<'_> {
    fn next(&mut self) -> Option<u8> {
        let c = *self.s.get(self.pos)?;
        self.pos += 1;
        Some(c)
    }

    /// `getnum`: the digits at the cursor, or `default` if there are none.
    fn num(&mut self, default: usize) -> Result<usize, String> {
        if !self.s.get(self.pos).is_some_and(u8::is_ascii_digit) {
            return Ok(default);
        }
        let mut a: i32 = 0;
        while let Some(&d) = self.s.get(self.pos).filter(|d| d.is_ascii_digit()) {
            let d = i32::from(d - b'0');
            if a > i32::MAX / 10 || a * 10 > i32::MAX - d {
                return Err("integral size overflow".into());
            }
            a = a * 10 + d;
            self.pos += 1;
        }
        Ok(a as usize)
    }

    /// `optsize`: the size of option `opt` (0 for the options that are not data).
    fn size(&mut self, opt: u8) -> Result<usize, String> {
        Ok(match opt {
            b'B' | b'b' | b'x' => 1,
            b'H' | b'h' => 2,
            b'L' | b'l' | b'T' | b'd' => 8,
            b'f' => 4,
            b'c' => self.num(1)?,
            b'i' | b'I' => {
                let n = self.num(4)?;
                if n > MAX_INT_SIZE {
                    return Err(format!(
                        "integral size {n} is larger than limit of {MAX_INT_SIZE}"
                    ));
                }
                n
            }
            _ => 0,
        })
    }

    /// `controloptions`: byte order, alignment, spaces; anything else is a bad option.
    fn control(&mut self, opt: u8, h: &mut Header, func: &str) -> Result<(), String> {
        match opt {
            b' ' => {}
            b'>' => h.little = false,
            b'<' => h.little = true,
            b'!' => {
                let a = self.num(MAX_ALIGN)?;
                if !a.is_power_of_two() {
                    return Err(format!("alignment {a} is not a power of 2"));
                }
                h.align = a;
            }
            _ => {
                return Err(arg_error(
                    1,
                    func,
                    &format!("invalid format option '{}'", char::from(opt)),
                ))
            }
        }
        Ok(())
    }
}

/// `gettoalign`: padding before an item of `size` at offset `len` (C's `size_t` arithmetic).
fn to_align(len: usize, h: &Header, opt: u8, size: usize) -> usize {
    if size == 0 || opt == b'c' {
        return 0;
    }
    let size = size.min(h.align);
    size.wrapping_sub(len & size.wrapping_sub(1)) & size.wrapping_sub(1)
}

/// `luaL_argerror`'s text.
fn arg_error(i: usize, func: &str, msg: &str) -> String {
    format!("bad argument #{i} to '{func}' ({msg})")
}

/// `luaL_typerror`'s text for argument `i` (1-based) of `args`. `pack` pushes a nil after its
/// arguments before it reads them, so there the first missing one is a nil.
fn type_error(i: usize, func: &str, want: &str, args: &MultiValue) -> String {
    let got = match args.get(i - 1) {
        Some(v) => lua_type_name(v),
        None if func == "pack" && i == args.len() + 1 && i > 1 => "nil",
        None => "no value",
    };
    arg_error(i, func, &format!("{want} expected, got {got}"))
}

fn lua_type_name(v: &Value) -> &'static str {
    match v {
        Value::LightUserData(_) => "userdata",
        other => other.type_name(),
    }
}

/// `luaL_checknumber`: numbers and numeric strings.
fn check_number(lua: &Lua, args: &MultiValue, i: usize, func: &str) -> Result<f64, String> {
    let v = args.get(i - 1).cloned().unwrap_or(Value::Nil);
    match lua.coerce_number(v) {
        Ok(Some(n)) => Ok(n),
        _ => Err(type_error(i, func, "number", args)),
    }
}

/// `luaL_checklstring`: strings, and numbers as Lua writes them.
fn check_string(lua: &Lua, args: &MultiValue, i: usize, func: &str) -> Result<Vec<u8>, String> {
    let v = args.get(i - 1).cloned().unwrap_or(Value::Nil);
    match lua.coerce_string(v) {
        Ok(Some(s)) => Ok(s.as_bytes().to_vec()),
        _ => Err(type_error(i, func, "string", args)),
    }
}

/// x86-64's double to `long` conversion (`cvttsd2si`): out of range and NaN give `LONG_MIN`.
fn to_long(n: f64) -> i64 {
    if n > -9_223_372_036_854_775_809.0 && n < 9_223_372_036_854_775_808.0 {
        n as i64
    } else {
        i64::MIN
    }
}

/// gcc's double to `unsigned long` conversion on x86-64: below 2^63 (and NaN) through `long`,
/// above it through `long` of `n - 2^63` with the top bit flipped (so 2^64 and more give 0).
fn to_ulong(n: f64) -> u64 {
    const TWO63: f64 = 9_223_372_036_854_775_808.0;
    if n < TWO63 || n.is_nan() {
        to_long(n) as u64
    } else {
        (to_long(n - TWO63) as u64) ^ (1 << 63)
    }
}

/// `putinteger`: `size` bytes of `n` as a C `unsigned long`, in the given order.
fn put_integer(out: &mut Vec<u8>, n: f64, little: bool, size: usize) {
    let value = if n < 0.0 {
        to_long(n) as u64
    } else {
        to_ulong(n)
    };
    let byte = |i: usize| if i < 8 { (value >> (8 * i)) as u8 } else { 0 };
    if little {
        out.extend((0..size).map(byte));
    } else {
        out.extend((0..size).rev().map(byte));
    }
}

/// `getinteger`: the number in `b` (the last 8 bytes read count), signed or not.
fn get_integer(b: &[u8], little: bool, signed: bool) -> f64 {
    let fold = |l: u64, &x: &u8| (l << 8) | u64::from(x);
    let l = if little {
        b.iter().rev().fold(0, fold)
    } else {
        b.iter().fold(0, fold)
    };
    if !signed {
        return l as f64;
    }
    // The C shifts by `size*8 - 1`, which x86 takes modulo 64.
    let shift = (b.len() * 8).wrapping_sub(1) & 63;
    let mask = u64::MAX << shift;
    let l = if l & mask != 0 { l | mask } else { l };
    l as i64 as f64
}

fn pack(lua: &Lua, args: &MultiValue) -> Result<Vec<u8>, String> {
    const F: &str = "pack";
    let fmt = check_string(lua, args, 1, F)?;
    let mut fmt = Fmt { s: &fmt, pos: 0 };
    let mut h = Header::default();
    let mut arg = 2;
    let mut out = Vec::new();
    let mut total = 0usize;
    while let Some(opt) = fmt.next() {
        let mut size = fmt.size(opt)?;
        let pad = to_align(total, &h, opt, size);
        total = total.wrapping_add(pad);
        out.resize(out.len() + pad, 0);
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let n = check_number(lua, args, arg, F)?;
                arg += 1;
                put_integer(&mut out, n, h.little, size);
            }
            b'x' => out.push(0),
            b'f' => {
                let f = check_number(lua, args, arg, F)? as f32;
                arg += 1;
                out.extend(if h.little {
                    f.to_le_bytes()
                } else {
                    f.to_be_bytes()
                });
            }
            b'd' => {
                let d = check_number(lua, args, arg, F)?;
                arg += 1;
                out.extend(if h.little {
                    d.to_le_bytes()
                } else {
                    d.to_be_bytes()
                });
            }
            b'c' | b's' => {
                let s = check_string(lua, args, arg, F)?;
                arg += 1;
                if size == 0 {
                    size = s.len();
                }
                // The C checks after moving to the next argument, and names that one.
                if s.len() < size {
                    return Err(arg_error(arg, F, "string too short"));
                }
                out.extend_from_slice(&s[..size]);
                if opt == b's' {
                    out.push(0);
                    size += 1;
                }
            }
            _ => fmt.control(opt, &mut h, F)?,
        }
        total = total.wrapping_add(size);
    }
    Ok(out)
}

fn unpack(lua: &Lua, args: &MultiValue) -> Result<MultiValue, String> {
    const F: &str = "unpack";
    let fmt = check_string(lua, args, 1, F)?;
    let data = check_string(lua, args, 2, F)?;
    // `luaL_optinteger`: absent or nil is 1; a number is truncated, and a negative one wraps
    // around as C's `size_t` does (then the data is "too short").
    let pos = match args.get(2) {
        None | Some(Value::Nil) => 1u64,
        Some(_) => to_long(check_number(lua, args, 3, F)?) as u64,
    };
    if pos == 0 {
        return Err(arg_error(3, F, "offset must be 1 or greater"));
    }
    let mut pos = (pos - 1) as usize;
    let ld = data.len();
    let mut fmt = Fmt { s: &fmt, pos: 0 };
    let mut h = Header::default();
    let mut results: Vec<Value> = Vec::new();
    let string = |b: &[u8]| lua.create_string(b).map(Value::String);
    while let Some(opt) = fmt.next() {
        let mut size = fmt.size(opt)?;
        pos = pos.wrapping_add(to_align(pos, &h, opt, size));
        if !(size <= ld && pos <= ld - size) {
            return Err(arg_error(2, F, "data string too short"));
        }
        // `luaL_checkstack(L, 2, ...)` on the C function's stack: its arguments and results.
        if args.len() + results.len() + 2 > MAX_C_STACK {
            return Err("stack overflow (too many results)".into());
        }
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let n = get_integer(&data[pos..pos + size], h.little, opt.is_ascii_lowercase());
                results.push(Value::Number(n));
            }
            b'x' => {}
            b'f' => {
                let b: [u8; 4] = data[pos..pos + 4].try_into().unwrap_or_default();
                let f = if h.little {
                    f32::from_le_bytes(b)
                } else {
                    f32::from_be_bytes(b)
                };
                results.push(Value::Number(f64::from(f)));
            }
            b'd' => {
                let b: [u8; 8] = data[pos..pos + 8].try_into().unwrap_or_default();
                let d = if h.little {
                    f64::from_le_bytes(b)
                } else {
                    f64::from_be_bytes(b)
                };
                results.push(Value::Number(d));
            }
            b'c' => {
                if size == 0 {
                    // The previous result is the length, if it is a number (or numeric
                    // string), and is replaced by the string.
                    let prev = results.last().cloned().unwrap_or(Value::Nil);
                    let n = match (&prev, lua.coerce_number(prev.clone())) {
                        (Value::Number(_) | Value::String(_), Ok(Some(n))) => n,
                        _ => return Err("format 'c0' needs a previous size".into()),
                    };
                    size = to_ulong(n) as usize;
                    results.pop();
                    if !(size <= ld && pos <= ld - size) {
                        return Err(arg_error(2, F, "data string too short"));
                    }
                }
                results.push(string(&data[pos..pos + size]).map_err(|e| e.to_string())?);
            }
            b's' => {
                let Some(len) = data[pos..].iter().position(|&b| b == 0) else {
                    return Err("unfinished string in data".into());
                };
                size = len + 1;
                results.push(string(&data[pos..pos + len]).map_err(|e| e.to_string())?);
            }
            _ => fmt.control(opt, &mut h, F)?,
        }
        pos = pos.wrapping_add(size);
    }
    results.push(Value::Number(pos.wrapping_add(1) as f64));
    Ok(MultiValue::from_iter(results))
}

fn size(lua: &Lua, args: &MultiValue) -> Result<f64, String> {
    const F: &str = "size";
    let fmt = check_string(lua, args, 1, F)?;
    let mut fmt = Fmt { s: &fmt, pos: 0 };
    let mut h = Header::default();
    let mut pos = 0usize;
    while let Some(opt) = fmt.next() {
        let size = fmt.size(opt)?;
        pos = pos.wrapping_add(to_align(pos, &h, opt, size));
        if opt == b's' {
            return Err(arg_error(1, F, "option 's' has no fixed size"));
        } else if opt == b'c' && size == 0 {
            return Err(arg_error(1, F, "option 'c0' has no fixed size"));
        }
        // Unknown letters and digits are skipped: only other characters are checked.
        if !opt.is_ascii_alphanumeric() {
            fmt.control(opt, &mut h, F)?;
        }
        pos = pos.wrapping_add(size);
    }
    Ok(pos as f64)
}

pub(super) fn table(
    lua: &Lua,
    wrap: &dyn Fn(Function) -> mlua::Result<Function>,
) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    let reg = |name: &'static str,
               f: fn(&Lua, &MultiValue) -> Result<MultiValue, String>|
     -> mlua::Result<()> {
        let raw = lua.create_function(move |lua, args: MultiValue| -> mlua::Result<Res> {
            Ok(match f(lua, &args) {
                Ok(v) => (None, v),
                Err(e) => (Some(e), MultiValue::new()),
            })
        })?;
        t.raw_set(name, wrap(raw)?)
    };
    reg("pack", |lua, a| {
        let s = lua
            .create_string(pack(lua, a)?)
            .map_err(|e| e.to_string())?;
        Ok(MultiValue::from_iter([Value::String(s)]))
    })?;
    reg("unpack", unpack)?;
    reg("size", |lua, a| {
        Ok(MultiValue::from_iter([Value::Number(size(lua, a)?)]))
    })?;
    Ok(t)
}
