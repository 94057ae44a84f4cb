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
    spec!(
        "incrbyfloat",
        3,
        ["write", "denyoom", "fast"],
        1,
        1,
        1,
        incrbyfloat
    ),
];

fn get(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    Ok(on_key(ctx, &a[1], Op::Get(a[1].clone()), output_reply))
}

/// Parsed options of SET (and GETEX, which shares them).
struct SetOptions {
    expiry: SetExpiry,
    cond: SetCond,
    get: bool,
    persist: bool,
}

/// Which command's options are parsed: SET takes NX/XX/GET/KEEPTTL,
/// GETEX takes PERSIST; both take EX/PX/EXAT/PXAT.
#[derive(Clone, Copy, PartialEq)]
enum OptionsOf {
    Set,
    GetEx,
}

/// Redis's `parseExtendedStringArgumentsOrReply`: an option may repeat (the
/// last value wins) but not conflict; the expire value is checked after
/// all options, so a syntax error is reported before an invalid time.
fn parse_set_options(
    opts: &[Bytes],
    of: OptionsOf,
    cmd: &'static str,
) -> Result<SetOptions, CmdError> {
    let (mut nx, mut xx, mut get, mut keepttl, mut persist) = (false, false, false, false, false);
    // (unit, relative, value) of EX/PX/EXAT/PXAT.
    let mut expire: Option<(TimeUnit, bool, &Bytes)> = None;
    let mut expire_kind: Option<&'static str> = None;
    let set = of == OptionsOf::Set;
    let mut i = 0;
    while i < opts.len() {
        let a = &opts[i];
        let next = opts.get(i + 1);
        let timed = ["ex", "px", "exat", "pxat"].into_iter().find(|w| is(a, w));
        if set && is(a, "nx") && !xx {
            nx = true;
        } else if set && is(a, "xx") && !nx {
            xx = true;
        } else if set && is(a, "get") {
            get = true;
        } else if set && is(a, "keepttl") && expire_kind.is_none() {
            keepttl = true;
        } else if !set && is(a, "persist") && expire_kind.is_none() {
            persist = true;
        } else if let (Some(kind), Some(v)) = (timed, next) {
            if keepttl || persist || expire_kind.is_some_and(|k| k != kind) {
                return Err(CmdError::Syntax);
            }
            let unit = if kind == "ex" || kind == "exat" {
                TimeUnit::Seconds
            } else {
                TimeUnit::Millis
            };
            expire = Some((unit, kind == "ex" || kind == "px", v));
            expire_kind = Some(kind);
            i += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    let expiry = match expire {
        Some((unit, relative, v)) => {
            SetExpiry::At(positive_expiry(v, unit, relative, now_ms(), cmd)?)
        }
        None if keepttl => SetExpiry::Keep,
        None => SetExpiry::Clear,
    };
    let cond = if nx {
        SetCond::IfAbsent
    } else if xx {
        SetCond::IfPresent
    } else {
        SetCond::Always
    };
    Ok(SetOptions {
        expiry,
        cond,
        get,
        persist,
    })
}

fn set(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    let o = parse_set_options(&a[3..], OptionsOf::Set, "set")?;
    let op = Op::Set {
        key: a[1].clone(),
        value: a[2].clone(),
        expiry: o.expiry,
        cond: o.cond,
        get: o.get,
    };
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
    let op = Op::Set {
        key: a[1].clone(),
        value: a[2].clone(),
        expiry: SetExpiry::Clear,
        cond: SetCond::IfAbsent,
        get: false,
    };
    Ok(on_key(ctx, &a[1], op, bool_reply))
}

fn setex_with(
    ctx: &Ctx<'_>,
    a: &[Bytes],
    unit: TimeUnit,
    cmd: &'static str,
) -> Result<Plan, CmdError> {
    let at = positive_expiry(&a[2], unit, true, now_ms(), cmd)?;
    let op = Op::Set {
        key: a[1].clone(),
        value: a[3].clone(),
        expiry: SetExpiry::At(at),
        cond: SetCond::Always,
        get: false,
    };
    Ok(on_key(ctx, &a[1], op, output_reply))
}

fn setex(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    setex_with(ctx, a, TimeUnit::Seconds, "setex")
}

fn psetex(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    setex_with(ctx, a, TimeUnit::Millis, "psetex")
}

fn getset(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    let op = Op::Set {
        key: a[1].clone(),
        value: a[2].clone(),
        expiry: SetExpiry::Clear,
        cond: SetCond::Always,
        get: true,
    };
    Ok(on_key(ctx, &a[1], op, output_reply))
}

fn getdel(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    Ok(on_key(ctx, &a[1], Op::GetDel(a[1].clone()), output_reply))
}

fn getex(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    let o = parse_set_options(&a[2..], OptionsOf::GetEx, "getex")?;
    let expiry = match (o.expiry, o.persist) {
        (SetExpiry::At(t), _) => GetExExpiry::At(t),
        (_, true) => GetExExpiry::Persist,
        _ => GetExExpiry::Unchanged,
    };
    Ok(on_key(
        ctx,
        &a[1],
        Op::GetEx {
            key: a[1].clone(),
            expiry,
        },
        output_reply,
    ))
}

fn mget(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    let keys = &a[1..];
    let groups = group_by_shard(ctx, keys);
    if groups.len() == 1 {
        return Ok(Plan::One {
            shard: groups[0].0,
            op: Op::MGet(keys.to_vec()),
            finish: output_reply,
        });
    }
    let total = keys.len();
    let positions: Vec<Vec<usize>> = groups.iter().map(|(_, idx)| idx.clone()).collect();
    let parts = groups
        .into_iter()
        .map(|(s, idx)| {
            (
                s,
                Op::MGet(idx.into_iter().map(|i| keys[i].clone()).collect()),
            )
        })
        .collect();
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

/// (key, value) pairs grouped by the shard that owns the key.
type PairsByShard = Vec<(shardis_shards::slot::ShardId, Vec<(Bytes, Bytes)>)>;

fn pairs(ctx: &Ctx<'_>, a: &[Bytes], cmd: &str) -> Result<PairsByShard, CmdError> {
    if a.len().is_multiple_of(2) {
        return Err(CmdError::WrongArity(cmd.into()));
    }
    let keys: Vec<Bytes> = a[1..].iter().step_by(2).cloned().collect();
    Ok(group_by_shard(ctx, &keys)
        .into_iter()
        .map(|(s, idx)| {
            (
                s,
                idx.into_iter()
                    .map(|i| (a[1 + 2 * i].clone(), a[2 + 2 * i].clone()))
                    .collect(),
            )
        })
        .collect())
}

fn mset(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    let groups = pairs(ctx, a, "mset")?;
    let parts = groups.into_iter().map(|(s, p)| (s, Op::MSet(p))).collect();
    Ok(Plan::Many {
        parts,
        finish: Box::new(super::all_ok),
    })
}

/// MSETNX. On one shard it is one atomic op. Across shards it checks every
/// shard, then sets: a key created by another client between the two steps
/// is overwritten (noted as a known gap until cross-shard transactions).
fn msetnx(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    let groups = pairs(ctx, a, "msetnx")?;
    if groups.len() == 1 {
        let (s, p) = groups.into_iter().next().ok_or(CmdError::Syntax)?;
        return Ok(Plan::One {
            shard: s,
            op: Op::MSetNx(p),
            finish: output_reply,
        });
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
    Ok(on_key(
        ctx,
        &a[1],
        Op::Append {
            key: a[1].clone(),
            value: a[2].clone(),
        },
        output_reply,
    ))
}

fn strlen(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    Ok(on_key(ctx, &a[1], Op::StrLen(a[1].clone()), output_reply))
}

fn getrange(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    let (start, end) = (int(&a[2])?, int(&a[3])?);
    Ok(on_key(
        ctx,
        &a[1],
        Op::GetRange {
            key: a[1].clone(),
            start,
            end,
        },
        output_reply,
    ))
}

fn setrange(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    let offset = int(&a[2])?;
    if offset < 0 {
        return Err(CmdError::OffsetOutOfRange);
    }
    let op = Op::SetRange {
        key: a[1].clone(),
        offset: offset as usize,
        value: a[3].clone(),
    };
    Ok(on_key(ctx, &a[1], op, output_reply))
}

fn incr_by(ctx: &Ctx<'_>, key: &Bytes, delta: i64) -> Plan {
    on_key(
        ctx,
        key,
        Op::IncrBy {
            key: key.clone(),
            delta,
        },
        output_reply,
    )
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
    Ok(incr_by(
        ctx,
        &a[1],
        d.checked_neg().ok_or(CmdError::DecrementOverflow)?,
    ))
}

fn incrbyfloat(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    let delta = float(&a[2])?;
    if !delta.is_finite() {
        return Err(CmdError::Op(shardis_shards::error::OpError::NanOrInfinity));
    }
    Ok(on_key(
        ctx,
        &a[1],
        Op::IncrByFloat {
            key: a[1].clone(),
            delta,
        },
        output_reply,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(s: &str) -> Result<SetOptions, CmdError> {
        let v: Vec<Bytes> = s
            .split_whitespace()
            .map(|w| Bytes::copy_from_slice(w.as_bytes()))
            .collect();
        parse_set_options(&v, OptionsOf::Set, "set")
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
        // Repeats are fine, the last value wins; syntax beats a bad time.
        assert!(matches!(
            opts("EX 10 EX 20").map(|o| o.expiry),
            Ok(SetExpiry::At(_))
        ));
        assert!(opts("KEEPTTL KEEPTTL NX NX").is_ok());
        assert!(matches!(opts("EX 0 NX XX"), Err(CmdError::Syntax)));
        assert!(matches!(opts("PERSIST"), Err(CmdError::Syntax)));
    }
}
