//! The libraries Redis bundles into its Lua that scripts use most: `cjson`
//! (JSON through serde_json) and `bit` (LuaBitOp's 32-bit operations,
//! written over Lua 5.4's native operators). `cmsgpack` and `struct` are
//! not provided.

use std::cell::Cell;
use std::rc::Rc;

use mlua::Lua;

use super::convert::integral;
use mlua::Table;
use mlua::Value;

/// Deepest nesting `cjson.encode` accepts, as cjson's default.
const MAX_NESTING: usize = 1000;

/// Sets the `cjson` and `bit` globals.
pub fn install(lua: &Lua) -> mlua::Result<()> {
    let cjson = lua.create_table()?;
    // cjson.encode_max_depth / decode_max_depth: kept per VM, as cjson
    // keeps them per Lua state.
    let encode_depth = Rc::new(Cell::new(MAX_NESTING));
    let decode_depth = Rc::new(Cell::new(MAX_NESTING));
    // encode_invalid_numbers: NaN and infinities are refused unless set;
    // then they are written as null (cjson writes a bare `nan`, which is
    // not JSON).
    let invalid_ok = Rc::new(Cell::new(false));
    let (depth, allow) = (encode_depth.clone(), invalid_ok.clone());
    cjson.raw_set(
        "encode",
        lua.create_function(move |lua, v: Value| {
            let json = to_json(
                &v,
                0,
                &Encode {
                    max: depth.get(),
                    invalid_ok: allow.get(),
                    left: Cell::new(ENCODE_BUDGET),
                },
            )
            .map_err(mlua::Error::RuntimeError)?;
            lua.create_string(json.to_string())
        })?,
    )?;
    let depth = decode_depth.clone();
    cjson.raw_set(
        "decode",
        lua.create_function(move |lua, s: mlua::String| {
            let json: serde_json::Value = serde_json::from_slice(&s.as_bytes())
                .map_err(|e| mlua::Error::RuntimeError(format!("cjson.decode: {e}")))?;
            from_json(lua, &json, 1, depth.get())
        })?,
    )?;
    cjson.raw_set("null", Value::NULL)?;
    for (name, cell) in [
        ("encode_max_depth", encode_depth),
        ("decode_max_depth", decode_depth),
    ] {
        cjson.raw_set(
            name,
            lua.create_function(move |_, n: Option<i64>| {
                if let Some(n) = n {
                    if n < 1 {
                        return Err(mlua::Error::RuntimeError(
                            "bad argument #1 (expected integer between 1 and 2147483647)".into(),
                        ));
                    }
                    cell.set(n as usize);
                }
                Ok(cell.get())
            })?,
        )?;
    }
    cjson.raw_set(
        "encode_invalid_numbers",
        lua.create_function(move |_, v: Value| {
            match v {
                Value::Boolean(b) => invalid_ok.set(b),
                Value::String(s) => invalid_ok.set(&*s.as_bytes() != b"off"),
                _ => {}
            }
            Ok(invalid_ok.get())
        })?,
    )?;
    // cjson's other settings: accepted, and answered with what was asked
    // (the encoder's behaviour does not change).
    let setting = lua.create_function(|_, v: mlua::MultiValue| Ok(v))?;
    for name in [
        "encode_keep_buffer",
        "encode_number_precision",
        "encode_sparse_array",
        "decode_invalid_numbers",
    ] {
        cjson.raw_set(name, setting.clone())?;
    }
    lua.globals().raw_set("cjson", cjson)?;
    lua.load(BIT).set_name("=bit").exec()
}

/// cjson.encode's settings, and what is left of its bound.
struct Encode {
    max: usize,
    invalid_ok: bool,
    /// Values and string bytes the output may still hold: shared
    /// subtables could otherwise describe an output of any size.
    left: Cell<usize>,
}

/// Values plus string bytes one `cjson.encode` may produce.
const ENCODE_BUDGET: usize = 256 << 20;

fn to_json(v: &Value, depth: usize, how: &Encode) -> Result<serde_json::Value, String> {
    use serde_json::Value as J;
    let cost = 1 + match v {
        Value::String(s) => s.as_bytes().len(),
        _ => 0,
    };
    match how.left.get().checked_sub(cost) {
        Some(left) => how.left.set(left),
        None => return Err("Cannot serialise: output too large".into()),
    }
    if depth > how.max.min(MAX_NESTING) {
        return Err(format!("Cannot serialise, excessive nesting ({})", depth));
    }
    Ok(match v {
        Value::Nil => J::Null,
        Value::LightUserData(u) if u.0.is_null() => J::Null,
        Value::Boolean(b) => J::Bool(*b),
        Value::Integer(i) => J::from(*i),
        // As cjson prints numbers (`%.14g`): integral ones without a
        // fraction, others to 14 significant digits (0.1 + 0.2 is 0.3).
        Value::Number(n) => match integral(*n) {
            Some(i) => J::from(i),
            None => match format!("{n:.13e}")
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
            {
                Some(n) => J::Number(n),
                None if how.invalid_ok => J::Null,
                None => return Err("Cannot serialise number: must not be NaN or Inf".into()),
            },
        },
        Value::String(s) => J::String(s.to_string_lossy()),
        Value::Table(t) => table_to_json(t, depth + 1, how)?,
        other => {
            return Err(format!(
                "Cannot serialise {}: type not supported",
                other.type_name()
            ));
        }
    })
}

/// A table is a JSON array when its keys are exactly 1..n, else an
/// object (an empty table is `{}`, as cjson encodes it).
fn table_to_json(t: &Table, depth: usize, how: &Encode) -> Result<serde_json::Value, String> {
    let mut pairs = Vec::new();
    let mut max_index = 0i64;
    let mut all_indexes = true;
    for pair in t.pairs::<Value, Value>() {
        let (k, v) = pair.map_err(|e| e.to_string())?;
        match &k {
            Value::Integer(i) if *i >= 1 => max_index = max_index.max(*i),
            _ => all_indexes = false,
        }
        pairs.push((k, v));
    }
    if all_indexes && !pairs.is_empty() && max_index as usize == pairs.len() {
        let mut items = vec![serde_json::Value::Null; pairs.len()];
        for (k, v) in &pairs {
            if let Value::Integer(i) = k {
                items[*i as usize - 1] = to_json(v, depth, how)?;
            }
        }
        return Ok(serde_json::Value::Array(items));
    }
    let mut map = serde_json::Map::new();
    for (k, v) in &pairs {
        let key = match k {
            Value::String(s) => s.to_string_lossy(),
            Value::Integer(i) => i.to_string(),
            Value::Number(n) => n.to_string(),
            _ => return Err("Cannot serialise table: table key must be a number or string".into()),
        };
        map.insert(key, to_json(v, depth, how)?);
    }
    Ok(serde_json::Value::Object(map))
}

fn from_json(lua: &Lua, j: &serde_json::Value, depth: usize, max: usize) -> mlua::Result<Value> {
    use serde_json::Value as J;
    let nested = matches!(j, J::Array(_) | J::Object(_));
    if nested && depth > max {
        return Err(mlua::Error::RuntimeError(format!(
            "Found too many nested data structures ({depth})"
        )));
    }
    Ok(match j {
        J::Null => Value::NULL,
        J::Bool(b) => Value::Boolean(*b),
        // Lua 5.1 has one number type and prints 5000.0 as 5000; Lua 5.4
        // would print a float "5000.0", so integral values become integers.
        J::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => Value::Integer(i),
            (None, f) => {
                let f = f.unwrap_or(f64::NAN);
                integral(f).map_or(Value::Number(f), Value::Integer)
            }
        },
        J::String(s) => Value::String(lua.create_string(s)?),
        J::Array(items) => {
            let t = lua.create_table_with_capacity(items.len(), 0)?;
            for (i, item) in items.iter().enumerate() {
                t.raw_set(i + 1, from_json(lua, item, depth + 1, max)?)?;
            }
            Value::Table(t)
        }
        J::Object(map) => {
            let t = lua.create_table_with_capacity(0, map.len())?;
            for (k, v) in map {
                t.raw_set(k.as_str(), from_json(lua, v, depth + 1, max)?)?;
            }
            Value::Table(t)
        }
    })
}

/// LuaBitOp's API: every result is a signed 32-bit integer.
const BIT: &str = r#"
local floor, tointeger, fmt = math.floor, math.tointeger, string.format
local function tobit(x)
  x = tointeger(x) or floor(x + 0.5)
  x = x & 0xffffffff
  if x >= 0x80000000 then x = x - 0x100000000 end
  return x
end
local function fold(op)
  return function(a, ...)
    local r = tobit(a)
    for i = 1, select('#', ...) do r = op(r, tobit((select(i, ...)))) end
    return tobit(r)
  end
end
bit = {
  tobit = tobit,
  bnot = function(x) return tobit(~tobit(x)) end,
  band = fold(function(a, b) return a & b end),
  bor = fold(function(a, b) return a | b end),
  bxor = fold(function(a, b) return a ~ b end),
  lshift = function(x, n) return tobit((tobit(x) & 0xffffffff) << (tobit(n) & 31)) end,
  rshift = function(x, n) return tobit((tobit(x) & 0xffffffff) >> (tobit(n) & 31)) end,
  arshift = function(x, n) return tobit(tobit(x) // (1 << (tobit(n) & 31))) end,
  rol = function(x, n) x = tobit(x) & 0xffffffff n = tobit(n) & 31 return tobit((x << n) | (x >> (32 - n))) end,
  ror = function(x, n) x = tobit(x) & 0xffffffff n = tobit(n) & 31 return tobit((x >> n) | (x << (32 - n))) end,
  bswap = function(x)
    x = tobit(x) & 0xffffffff
    return tobit(((x & 0xff) << 24) | ((x & 0xff00) << 8) | ((x >> 8) & 0xff00) | (x >> 24))
  end,
  tohex = function(x, n)
    n = n or 8
    local upper = n < 0
    if upper then n = -n end
    local s = fmt(upper and '%08X' or '%08x', tobit(x) & 0xffffffff)
    return s:sub(-n)
  end,
}
"#;

#[cfg(test)]
mod tests {
    use super::*;

    fn lua() -> Lua {
        let lua = Lua::new();
        install(&lua).unwrap();
        lua
    }

    #[test]
    fn cjson_round_trips() {
        let lua = lua();
        let s: String = lua
            .load("return cjson.encode({1, 2, {a = 'x'}})")
            .eval()
            .unwrap();
        assert_eq!(s, r#"[1,2,{"a":"x"}]"#);
        let s: String = lua.load("return cjson.encode({})").eval().unwrap();
        assert_eq!(s, "{}");
        let s: String = lua
            .load("return cjson.encode({10 / 2, 0.1 + 0.2, 1.5, -3})")
            .eval()
            .unwrap();
        assert_eq!(s, "[5,0.3,1.5,-3]");
        let ok: bool = lua
            .load(
                r#"local t = cjson.decode('{"keya": "a", "n": [1, 2.5, null]}')
                   return t.keya == 'a' and t.n[1] == 1 and t.n[2] == 2.5 and t.n[3] == cjson.null
                      and table.concat(cjson.decode('[0.0, -5e3, 0.3e-3]'), ' ') == '0 -5000 0.0003'"#,
            )
            .eval()
            .unwrap();
        assert!(ok);
        assert!(
            lua.load("return cjson.decode('{bad')")
                .eval::<Value>()
                .is_err()
        );
        assert!(
            lua.load("return cjson.encode(print)")
                .eval::<Value>()
                .is_err()
        );
        assert!(
            lua.load("local t = {} t[1] = t return cjson.encode(t)")
                .eval::<Value>()
                .is_err()
        );
    }

    #[test]
    fn bit_matches_luabitop() {
        let lua = lua();
        let eval = |s: &str| lua.load(s).eval::<i64>().unwrap();
        assert_eq!(eval("return bit.tobit(0xffffffff)"), -1);
        assert_eq!(eval("return bit.band(0x12345678, 0xff)"), 0x78);
        assert_eq!(eval("return bit.bor(1, 2, 4)"), 7);
        assert_eq!(eval("return bit.bxor(5, 1)"), 4);
        assert_eq!(eval("return bit.bnot(0)"), -1);
        assert_eq!(eval("return bit.lshift(1, 31)"), -2147483648);
        assert_eq!(eval("return bit.rshift(-1, 28)"), 15);
        assert_eq!(eval("return bit.arshift(-256, 4)"), -16);
        assert_eq!(eval("return bit.rol(0x12345678, 8)"), 0x34567812);
        assert_eq!(eval("return bit.bswap(0x12345678)"), 0x78563412);
        let hex: String = lua.load("return bit.tohex(255, 4)").eval().unwrap();
        assert_eq!(hex, "00ff");
    }
}
