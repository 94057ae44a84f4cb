//! Redis's conversions between command replies and Lua values (RESP2
//! rules, as EVAL documents them): integers to numbers, bulk strings to
//! strings, nulls to false, arrays to tables, status replies to
//! `{ok=...}` and errors to `{err=...}`; and back the other way, where a
//! number is truncated to an integer and an array stops at its first nil.

use bytes::Bytes;
use mlua::Lua;
use mlua::Table;
use mlua::Value;

use crate::resp::Reply;
use crate::resp::reply::format_double;

/// Deepest nesting converted either way; deeper tables (or a table that
/// contains itself) end there, as Redis stops at its Lua stack limit.
const MAX_DEPTH: usize = 64;

/// A command's reply as the Lua value `redis.call` returns.
pub fn reply_to_lua(lua: &Lua, reply: Reply) -> mlua::Result<Value> {
    to_lua(lua, reply, 0)
}

/// A Lua array of strings.
fn strings<'a>(lua: &Lua, items: impl ExactSizeIterator<Item = &'a [u8]>) -> mlua::Result<Value> {
    let t = lua.create_table_with_capacity(items.len(), 0)?;
    for (i, b) in items.enumerate() {
        t.raw_set(i + 1, lua.create_string(b)?)?;
    }
    Ok(Value::Table(t))
}

fn to_lua(lua: &Lua, reply: Reply, depth: usize) -> mlua::Result<Value> {
    let string = |b: &[u8]| lua.create_string(b).map(Value::String);
    let tagged = |tag: &str, text: &str| -> mlua::Result<Value> {
        let t = lua.create_table()?;
        t.raw_set(tag, text)?;
        Ok(Value::Table(t))
    };
    let array = |items: Vec<Reply>| -> mlua::Result<Value> {
        let t = lua.create_table_with_capacity(items.len(), 0)?;
        for (i, r) in items.into_iter().enumerate() {
            let v = if depth >= MAX_DEPTH {
                Value::Boolean(false)
            } else {
                to_lua(lua, r, depth + 1)?
            };
            t.raw_set(i + 1, v)?;
        }
        Ok(Value::Table(t))
    };
    match reply {
        Reply::Ok => tagged("ok", "OK"),
        Reply::Simple(s) => tagged("ok", &s),
        Reply::Error(e) => tagged("err", &e),
        Reply::Int(i) => Ok(Value::Integer(i)),
        Reply::Bulk(b) => string(&b),
        Reply::Nil | Reply::NilArray | Reply::Silent => Ok(Value::Boolean(false)),
        Reply::Array(items) | Reply::Set(items) => array(items),
        Reply::Bulks(items) => strings(lua, items.iter().map(|b| b.as_ref())),
        Reply::Packed(p) | Reply::PackedMap(p) | Reply::PackedSet(p) => strings(lua, p.iter()),
        Reply::Map(pairs) => array(pairs.into_iter().flat_map(|(k, v)| [k, v]).collect()),
        Reply::Double(d) => string(format_double(d).as_bytes()),
        Reply::Verbatim(s) => string(s.as_bytes()),
    }
}

/// Values one script's reply may hold in all. Tables may share subtables,
/// so a few lines of Lua can describe a reply of 2^64 elements; past this
/// many the script gets an error instead of the node spending its memory.
const MAX_VALUES: usize = 1 << 23;
/// Bytes of strings one script's reply may hold in all (a table can hold
/// the same big string many times).
const MAX_BYTES: usize = 512 << 20;
const TOO_DEEP: &str = "ERR reached lua stack limit";

/// A script's return value as the reply EVAL sends.
pub fn lua_to_reply(value: &Value) -> Reply {
    let mut budget = Budget {
        values: MAX_VALUES,
        bytes: MAX_BYTES,
    };
    to_reply(value, 0, &mut budget).unwrap_or_else(|()| Reply::error(TOO_DEEP))
}

/// What is left of a reply's bounds.
struct Budget {
    values: usize,
    bytes: usize,
}

fn to_reply(value: &Value, depth: usize, budget: &mut Budget) -> Result<Reply, ()> {
    budget.values = budget.values.checked_sub(1).ok_or(())?;
    Ok(match value {
        Value::Boolean(true) => Reply::Int(1),
        Value::Integer(i) => Reply::Int(*i),
        Value::Number(n) => Reply::Int(*n as i64),
        Value::String(s) => {
            let b = s.as_bytes();
            budget.bytes = budget.bytes.checked_sub(b.len()).ok_or(())?;
            Reply::Bulk(Bytes::copy_from_slice(&b))
        }
        Value::Table(t) => table_to_reply(t, depth, budget)?,
        Value::Error(e) => Reply::error(error_text(e)),
        _ => Reply::Nil,
    })
}

fn table_to_reply(t: &Table, depth: usize, budget: &mut Budget) -> Result<Reply, ()> {
    if let Ok(Value::String(e)) = t.raw_get::<Value>("err") {
        return Ok(Reply::error(e.to_string_lossy()));
    }
    if let Ok(Value::String(s)) = t.raw_get::<Value>("ok") {
        return Ok(Reply::Simple(s.to_string_lossy().into()));
    }
    if depth >= MAX_DEPTH {
        return Err(());
    }
    let mut items = Vec::new();
    for i in 1.. {
        match t.raw_get::<Value>(i) {
            Ok(Value::Nil) | Err(_) => break,
            Ok(v) => items.push(to_reply(&v, depth + 1, budget)?),
        }
    }
    Ok(Reply::Array(items))
}

/// `n` as an integer when it has no fraction and is exactly representable:
/// how Lua 5.1 (Redis's Lua, one number type) treats such a number, where
/// Lua 5.4 keeps a float that prints as `5.0`.
pub fn integral(n: f64) -> Option<i64> {
    (n.fract() == 0.0 && n.abs() < 9.0e15).then_some(n as i64)
}

/// The text of a Lua error as a Redis error reply: the innermost message,
/// with `ERR` in front unless it already starts with an error code.
pub fn error_text(e: &mlua::Error) -> String {
    with_code(&innermost(e))
}

/// `msg` with `ERR` in front unless it already starts with an error code.
pub fn with_code(msg: &str) -> String {
    if starts_with_code(msg) {
        msg.to_string()
    } else {
        format!("ERR {msg}")
    }
}

fn innermost(e: &mlua::Error) -> String {
    match e {
        mlua::Error::CallbackError { cause, .. } => innermost(cause),
        mlua::Error::RuntimeError(m) => m.clone(),
        mlua::Error::SyntaxError { message, .. } => message.clone(),
        mlua::Error::WithContext { cause, .. } => innermost(cause),
        other => other.to_string(),
    }
}

/// True when `msg` starts with an upper-case error code (`ERR`, `WRONGTYPE`...).
fn starts_with_code(msg: &str) -> bool {
    let word = msg.split(' ').next().unwrap_or("");
    msg.contains(' ') && !word.is_empty() && word.bytes().all(|b| b.is_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(lua: &Lua, r: Reply) -> Reply {
        let v = reply_to_lua(lua, r).unwrap();
        lua_to_reply(&v)
    }

    #[test]
    fn replies_survive_the_trip_through_lua() {
        let lua = Lua::new();
        assert_eq!(round_trip(&lua, Reply::Int(-7)), Reply::Int(-7));
        assert_eq!(round_trip(&lua, Reply::bulk("x")), Reply::bulk("x"));
        assert_eq!(round_trip(&lua, Reply::Ok), Reply::Simple("OK".into()));
        assert_eq!(
            round_trip(&lua, Reply::error("WRONGTYPE no")),
            Reply::error("WRONGTYPE no")
        );
        // Nulls become false, and false comes back as a null.
        assert_eq!(round_trip(&lua, Reply::Nil), Reply::Nil);
        assert_eq!(
            round_trip(
                &lua,
                Reply::Array(vec![Reply::Int(1), Reply::Bulks(vec![Bytes::from("a")])])
            ),
            Reply::Array(vec![Reply::Int(1), Reply::Array(vec![Reply::bulk("a")])])
        );
        let items: [&[u8]; 3] = [b"a", b"", b"c"];
        assert_eq!(
            round_trip(&lua, Reply::Packed(items.iter().copied().collect())),
            Reply::Array(items.iter().map(|b| Reply::bulk(b.to_vec())).collect())
        );
    }

    #[test]
    fn lua_values_follow_redis_rules() {
        let lua = Lua::new();
        let eval = |src: &str| lua_to_reply(&lua.load(src).eval::<Value>().unwrap());
        assert_eq!(eval("return 3.99"), Reply::Int(3));
        assert_eq!(eval("return true"), Reply::Int(1));
        assert_eq!(eval("return false"), Reply::Nil);
        assert_eq!(
            eval("return {1, 'two', nil, 4}"),
            Reply::Array(vec![Reply::Int(1), Reply::bulk("two")])
        );
        assert_eq!(eval("return {err='My Error'}"), Reply::error("My Error"));
        // A table that holds itself, or shares subtables into a huge
        // tree, is refused instead of walked.
        assert_eq!(
            eval("local t = {} t[1] = t return t"),
            Reply::error(TOO_DEEP)
        );
        assert_eq!(
            eval("local a = {1} for i = 1, 60 do a = {a, a} end return a"),
            Reply::error(TOO_DEEP)
        );
    }

    #[test]
    fn error_codes_are_kept_or_added() {
        let e = mlua::Error::RuntimeError("boom".into());
        assert_eq!(error_text(&e), "ERR boom");
        let e = mlua::Error::RuntimeError("NOSCRIPT gone".into());
        assert_eq!(error_text(&e), "NOSCRIPT gone");
    }
}
