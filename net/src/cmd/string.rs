//! String commands: parse arguments into typed ops, route them to the
//! owning shard, and shape the replies.

use bytes::Bytes;
use shardis_shards::core::now_ms;
use shardis_shards::error::OpResult;
use shardis_shards::op::GetExExpiry;
use shardis_shards::op::Op;
use shardis_shards::op::Output;
use shardis_shards::op::SetCond;
use shardis_shards::op::SetExpiry;

use super::CommandSpec;
use super::Ctx;
use super::Plan;
use super::args::TimeUnit;
use super::args::float;
use super::args::int;
use super::args::is;
use super::args::positive_expiry;
use super::group_by_shard;
use super::on_key;
use super::output_reply;
use crate::reply::CmdError;
use crate::reply::op_error_reply;
use crate::resp::Reply;

const GROUP: &str = "string";

pub static COMMANDS: &[CommandSpec] = &[
    spec!("get", 2, ["readonly", "fast"], 1, 1, 1, get),
    spec!("set", -3, ["write", "denyoom"], 1, 1, 1, set),
    spec!("setnx", 3, ["write", "denyoom", "fast"], 1, 1, 1, setnx),
    spec!("setex", 4, ["write", "denyoom"], 1, 1, 1, setex),
    spec!("psetex", 4, ["write", "denyoom"], 1, 1, 1, psetex),
    spec!("getset", 3, ["write", "denyoom", "fast"], 1, 1, 1, getset),
    spec!("getdel", 2, ["write", "fast"], 1, 1, 1, getdel),
    spec!("getex", -2, ["write", "fast"], 1, 1, 1, getex),
    spec!("mget", -2, ["readonly", "fast"], 1, -1, 1, mget),
    spec!("mset", -3, ["write", "denyoom"], 1, -1, 2, mset),
    spec!("msetnx", -3, ["write", "denyoom"], 1, -1, 2, msetnx),
    spec!("append", 3, ["write", "denyoom", "fast"], 1, 1, 1, append),
    spec!("strlen", 2, ["readonly", "fast"], 1, 1, 1, strlen),
    spec!("getrange", 4, ["readonly"], 1, 1, 1, getrange),
    spec!("substr", 4, ["readonly"], 1, 1, 1, getrange),
    spec!("setrange", 4, ["write", "denyoom"], 1, 1, 1, setrange),
    spec!("incr", 2, ["write", "denyoom", "fast"], 1, 1, 1, incr),
    spec!("decr", 2, ["write", "denyoom", "fast"], 1, 1, 1, decr),
    spec!("incrby", 3, ["write", "denyoom", "fast"], 1, 1, 1, incrby),
    spec!("decrby", 3, ["write", "denyoom", "fast"], 1, 1, 1, decrby),
    spec!("incrbyfloat", 3, ["write", "denyoom", "fast"], 1, 1, 1, incrbyfloat),
];

fn get(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    Ok(on_key(ctx, &a[1], Op::Get(a[1].clone()), output_reply))
}

/// Parsed options of SET.
struct SetOptions {
    expiry: SetExpiry,
    cond: SetCond,
    get: bool,
}

/// SET's options, with Redis's conflict rules (`parseExtendedStringArgumentsOrReply`).
fn parse_set_options(opts: &[Bytes]) -> Result<SetOptions, CmdError> {
    let mut o = SetOptions { expiry: SetExpiry::Clear, cond: SetCond::Always, get: false };
    let mut expiry_seen = false;
    let now = now_ms();
    let mut i = 0;
    while i < opts.len() {
        let a = &opts[i];
        let next = opts.get(i + 1);
        if is(a, "nx") && o.cond != SetCond::IfPresent {
            o.cond = SetCond::IfAbsent;
        } else if is(a, "xx") && o.cond != SetCond::IfAbsent {
            o.cond = SetCond::IfPresent;
        } else if is(a, "get") {
            o.get = true;
        } else if is(a, "keepttl") && !expiry_seen {
            o.expiry = SetExpiry::Keep;
            expiry_seen = true;
        } else if !expiry_seen && next.is_some() && (is(a, "ex") || is(a, "px") || is(a, "exat") || is(a, "pxat")) {
            let unit = if is(a, "ex") || is(a, "exat") { TimeUnit::Seconds } else { TimeUnit::Millis };
            let relative = is(a, "ex") || is(a, "px");
            o.expiry = SetExpiry::At(positive_expiry(next.unwrap_or(a), unit, relative, now, "set")?);
            expiry_seen = true;
            i += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    Ok(o)
}

fn set(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    let o = parse_set_options(&a[3..])?;
    let op = Op::Set { key: a[1].clone(), value: a[2].clone(), expiry: o.expiry, cond: o.cond, get: o.get };
    Ok(on_key(ctx, &a[1], op, output_reply))
}

fn bool_reply(r: OpResult<Output>) -> Reply {
    match r {
        Ok(Output::Ok) => Reply::Int(1),
        Ok(_) => Reply::Int(0),
        Err(e) => op_error_reply(&e),
    }
}

fn setnx(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    let op =
        Op::Set { key: a[1].clone(), value: a[2].clone(), expiry: SetExpiry::Clear, cond: SetCond::IfAbsent, get: false };
    Ok(on_key(ctx, &a[1], op, bool_reply))
}

fn setex_with(ctx: &Ctx<'_>, a: &[Bytes], unit: TimeUnit, cmd: &'static str) -> Result<Plan, CmdError> {
    let at = positive_expiry(&a[2], unit, true, now_ms(), cmd)?;
    let op = Op::Set { key: a[1].clone(), value: a[3].clone(), expiry: SetExpiry::At(at), cond: SetCond::Always, get: false };
    Ok(on_key(ctx, &a[1], op, output_reply))
}

fn setex(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    setex_with(ctx, a, TimeUnit::Seconds, "setex")
}

fn psetex(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    setex_with(ctx, a, TimeUnit::Millis, "psetex")
}

fn getset(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    let op = Op::Set { key: a[1].clone(), value: a[2].clone(), expiry: SetExpiry::Clear, cond: SetCond::Always, get: true };
    Ok(on_key(ctx, &a[1], op, output_reply))
}

fn getdel(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    Ok(on_key(ctx, &a[1], Op::GetDel(a[1].clone()), output_reply))
}

fn getex(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    let now = now_ms();
    let mut expiry = GetExExpiry::Unchanged;
    let mut seen = false;
    let mut i = 2;
    while i < a.len() {
        let opt = &a[i];
        if is(opt, "persist") && !seen {
            expiry = GetExExpiry::Persist;
        } else if !seen && i + 1 < a.len() && (is(opt, "ex") || is(opt, "px") || is(opt, "exat") || is(opt, "pxat")) {
            let unit = if is(opt, "ex") || is(opt, "exat") { TimeUnit::Seconds } else { TimeUnit::Millis };
            let relative = is(opt, "ex") || is(opt, "px");
            expiry = GetExExpiry::At(positive_expiry(&a[i + 1], unit, relative, now, "getex")?);
            i += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        seen = true;
        i += 1;
    }
    Ok(on_key(ctx, &a[1], Op::GetEx { key: a[1].clone(), expiry }, output_reply))
}

fn mget(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    let keys = &a[1..];
    let groups = group_by_shard(ctx, keys);
    if groups.len() == 1 {
        return Ok(Plan::One { shard: groups[0].0, op: Op::MGet(keys.to_vec()), finish: output_reply });
    }
    let total = keys.len();
    let positions: Vec<Vec<usize>> = groups.iter().map(|(_, idx)| idx.clone()).collect();
    let parts = groups.into_iter().map(|(s, idx)| (s, Op::MGet(idx.into_iter().map(|i| keys[i].clone()).collect()))).collect();
    Ok(Plan::Many {
        parts,
        finish: Box::new(move |results| {
            let mut out = vec![Reply::Nil; total];
            for (r, pos) in results.into_iter().zip(positions) {
                match r {
                    Ok(Output::Array(values)) => {
                        for (v, p) in values.into_iter().zip(pos) {
                            out[p] = super::output_to_reply(v);
                        }
                    }
                    Ok(_) => {}
                    Err(e) => return op_error_reply(&e),
                }
            }
            Reply::Array(out)
        }),
    })
}

fn pairs(ctx: &Ctx<'_>, a: &[Bytes], cmd: &str) -> Result<Vec<(shardis_shards::slot::ShardId, Vec<(Bytes, Bytes)>)>, CmdError> {
    if a.len() % 2 == 0 {
        return Err(CmdError::WrongArity(cmd.into()));
    }
    let keys: Vec<Bytes> = a[1..].iter().step_by(2).cloned().collect();
    Ok(group_by_shard(ctx, &keys)
        .into_iter()
        .map(|(s, idx)| (s, idx.into_iter().map(|i| (a[1 + 2 * i].clone(), a[2 + 2 * i].clone())).collect()))
        .collect())
}

fn mset(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    let groups = pairs(ctx, a, "mset")?;
    let parts = groups.into_iter().map(|(s, p)| (s, Op::MSet(p))).collect();
    Ok(Plan::Many {
        parts,
        finish: Box::new(|results| {
            results.into_iter().find_map(|r| r.err()).map_or(Reply::Ok, |e| op_error_reply(&e))
        }),
    })
}

/// MSETNX. On one shard it is one atomic op. Across shards it checks every
/// shard, then sets: a key created by another client between the two steps
/// is overwritten (noted as a known gap until cross-shard transactions).
fn msetnx(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    let groups = pairs(ctx, a, "msetnx")?;
    if groups.len() == 1 {
        let (s, p) = groups.into_iter().next().ok_or(CmdError::Syntax)?;
        return Ok(Plan::One { shard: s, op: Op::MSetNx(p), finish: output_reply });
    }
    let core = ctx.cx.core.clone();
    Ok(Plan::Async(Box::pin(async move {
        for (s, p) in &groups {
            let keys = p.iter().map(|(k, _)| k.clone()).collect();
            match core.call_one(*s, Op::Exists(keys)).await {
                Ok(Output::Int(0)) => {}
                Ok(_) => return Reply::Int(0),
                Err(e) => return op_error_reply(&e),
            }
        }
        for (s, p) in groups {
            if let Err(e) = core.call_one(s, Op::MSet(p)).await {
                return op_error_reply(&e);
            }
        }
        Reply::Int(1)
    })))
}

fn append(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    Ok(on_key(ctx, &a[1], Op::Append { key: a[1].clone(), value: a[2].clone() }, output_reply))
}

fn strlen(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    Ok(on_key(ctx, &a[1], Op::StrLen(a[1].clone()), output_reply))
}

fn getrange(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    let (start, end) = (int(&a[2])?, int(&a[3])?);
    Ok(on_key(ctx, &a[1], Op::GetRange { key: a[1].clone(), start, end }, output_reply))
}

fn setrange(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    let offset = int(&a[2])?;
    if offset < 0 {
        return Err(CmdError::OffsetOutOfRange);
    }
    let op = Op::SetRange { key: a[1].clone(), offset: offset as usize, value: a[3].clone() };
    Ok(on_key(ctx, &a[1], op, output_reply))
}

fn incr_by(ctx: &Ctx<'_>, key: &Bytes, delta: i64) -> Plan {
    on_key(ctx, key, Op::IncrBy { key: key.clone(), delta }, output_reply)
}

fn incr(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    Ok(incr_by(ctx, &a[1], 1))
}

fn decr(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    Ok(incr_by(ctx, &a[1], -1))
}

fn incrby(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    Ok(incr_by(ctx, &a[1], int(&a[2])?))
}

fn decrby(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    let d = int(&a[2])?;
    Ok(incr_by(ctx, &a[1], d.checked_neg().ok_or(CmdError::DecrementOverflow)?))
}

fn incrbyfloat(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    let delta = float(&a[2])?;
    if !delta.is_finite() {
        return Err(CmdError::Op(shardis_shards::error::OpError::NanOrInfinity));
    }
    Ok(on_key(ctx, &a[1], Op::IncrByFloat { key: a[1].clone(), delta }, output_reply))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(s: &str) -> Result<SetOptions, CmdError> {
        let v: Vec<Bytes> = s.split_whitespace().map(|w| Bytes::copy_from_slice(w.as_bytes())).collect();
        parse_set_options(&v)
    }

    #[test]
    fn set_option_conflicts_are_syntax_errors() {
        assert!(opts("NX GET").is_ok());
        assert!(opts("xx keepttl").is_ok());
        assert!(matches!(opts("NX XX"), Err(CmdError::Syntax)));
        assert!(matches!(opts("EX 10 PX 10"), Err(CmdError::Syntax)));
        assert!(matches!(opts("EX 10 KEEPTTL"), Err(CmdError::Syntax)));
        assert!(matches!(opts("EX"), Err(CmdError::Syntax)));
        assert!(matches!(opts("EX 0"), Err(CmdError::InvalidExpire("set"))));
        assert!(matches!(opts("EX ten"), Err(CmdError::NotInteger)));
        assert!(matches!(opts("BOGUS"), Err(CmdError::Syntax)));
    }
}
