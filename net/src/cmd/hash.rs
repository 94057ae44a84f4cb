//! Hash commands.

use bytes::Bytes;
use shardis_shards::error::OpResult;
use shardis_shards::op::HashPart;
use shardis_shards::op::Op;
use shardis_shards::op::Output;

use super::CommandSpec;
use super::Ctx;
use super::Plan;
use super::args::float;
use super::args::int;
use super::on_key;
use super::output_reply;
use super::output_to_reply;
use crate::reply::CmdError;
use crate::reply::op_error_reply;
use crate::resp::Reply;

const GROUP: &str = "hash";

pub static COMMANDS: &[CommandSpec] = &[
    spec!("hset", -4, ["write", "denyoom", "fast"], 1, 1, 1, hset),
    spec!("hmset", -4, ["write", "denyoom", "fast"], 1, 1, 1, hmset),
    spec!("hsetnx", 4, ["write", "denyoom", "fast"], 1, 1, 1, hsetnx),
    spec!("hget", 3, ["readonly", "fast"], 1, 1, 1, hget),
    spec!("hmget", -3, ["readonly", "fast"], 1, 1, 1, hmget),
    spec!("hdel", -3, ["write", "fast"], 1, 1, 1, hdel),
    spec!("hlen", 2, ["readonly", "fast"], 1, 1, 1, hlen),
    spec!("hexists", 3, ["readonly", "fast"], 1, 1, 1, hexists),
    spec!("hgetall", 2, ["readonly"], 1, 1, 1, hgetall),
    spec!("hkeys", 2, ["readonly"], 1, 1, 1, hkeys),
    spec!("hvals", 2, ["readonly"], 1, 1, 1, hvals),
    spec!("hincrby", 4, ["write", "denyoom", "fast"], 1, 1, 1, hincrby),
    spec!(
        "hincrbyfloat",
        4,
        ["write", "denyoom", "fast"],
        1,
        1,
        1,
        hincrbyfloat
    ),
    spec!("hstrlen", 3, ["readonly", "fast"], 1, 1, 1, hstrlen),
    spec!("hscan", -3, ["readonly"], 1, 1, 1, hscan),
    spec!("hrandfield", -2, ["readonly"], 1, 1, 1, hrandfield),
];

/// Field/value pairs of HSET and HMSET; an odd count is an arity error.
fn pairs(a: &[Bytes], cmd: &str) -> Result<Vec<(Bytes, Bytes)>, CmdError> {
    if !(a.len() - 2).is_multiple_of(2) {
        return Err(CmdError::WrongArity(cmd.into()));
    }
    Ok(a[2..]
        .chunks(2)
        .map(|p| (p[0].clone(), p[1].clone()))
        .collect())
}

fn hset(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    let op = Op::HSet {
        key: a[1].clone(),
        pairs: pairs(a, "hset")?,
        nx: false,
    };
    Ok(on_key(ctx, &a[1], op, output_reply))
}

fn ok_reply(r: OpResult<Output>) -> Reply {
    match r {
        Ok(_) => Reply::Ok,
        Err(e) => op_error_reply(&e),
    }
}

fn hmset(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    let op = Op::HSet {
        key: a[1].clone(),
        pairs: pairs(a, "hmset")?,
        nx: false,
    };
    Ok(on_key(ctx, &a[1], op, ok_reply))
}

fn hsetnx(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    let op = Op::HSet {
        key: a[1].clone(),
        pairs: vec![(a[2].clone(), a[3].clone())],
        nx: true,
    };
    Ok(on_key(ctx, &a[1], op, output_reply))
}

fn hget(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    Ok(on_key(
        ctx,
        &a[1],
        Op::HGet {
            key: a[1].clone(),
            field: a[2].clone(),
        },
        output_reply,
    ))
}

fn hmget(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    Ok(on_key(
        ctx,
        &a[1],
        Op::HMGet {
            key: a[1].clone(),
            fields: a[2..].to_vec(),
        },
        output_reply,
    ))
}

fn hdel(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    Ok(on_key(
        ctx,
        &a[1],
        Op::HDel {
            key: a[1].clone(),
            fields: a[2..].to_vec(),
        },
        output_reply,
    ))
}

fn hlen(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    Ok(on_key(ctx, &a[1], Op::HLen(a[1].clone()), output_reply))
}

fn hexists(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    Ok(on_key(
        ctx,
        &a[1],
        Op::HExists {
            key: a[1].clone(),
            field: a[2].clone(),
        },
        output_reply,
    ))
}

/// HGETALL answers a map in RESP3 (a flat array in RESP2).
fn map_reply(r: OpResult<Output>) -> Reply {
    match r {
        // Field, value, field, value ... in one buffer: no Reply per element.
        Ok(Output::Packed(p)) => Reply::PackedMap(p),
        r => flat_pairs(r).map_or_else(|reply| reply, Reply::Map),
    }
}

fn hgetall(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    Ok(on_key(
        ctx,
        &a[1],
        Op::HGetAll {
            key: a[1].clone(),
            what: HashPart::Both,
        },
        map_reply,
    ))
}

fn hkeys(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    Ok(on_key(
        ctx,
        &a[1],
        Op::HGetAll {
            key: a[1].clone(),
            what: HashPart::Fields,
        },
        output_reply,
    ))
}

fn hvals(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    Ok(on_key(
        ctx,
        &a[1],
        Op::HGetAll {
            key: a[1].clone(),
            what: HashPart::Values,
        },
        output_reply,
    ))
}

fn hincrby(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    let delta = int(&a[3])?;
    Ok(on_key(
        ctx,
        &a[1],
        Op::HIncrBy {
            key: a[1].clone(),
            field: a[2].clone(),
            delta,
        },
        output_reply,
    ))
}

fn hincrbyfloat(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    let delta = float(&a[3])?;
    if !delta.is_finite() {
        // Redis checks the increment itself here (HINCRBYFLOAT only).
        return Ok(Plan::Reply(Reply::error("ERR value is NaN or Infinity")));
    }
    Ok(on_key(
        ctx,
        &a[1],
        Op::HIncrByFloat {
            key: a[1].clone(),
            field: a[2].clone(),
            delta,
        },
        output_reply,
    ))
}

fn hstrlen(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    Ok(on_key(
        ctx,
        &a[1],
        Op::HStrLen {
            key: a[1].clone(),
            field: a[2].clone(),
        },
        output_reply,
    ))
}

/// The (field, value) pairs of an HGETALL-style flat result.
fn flat_pairs(r: OpResult<Output>) -> Result<Vec<(Reply, Reply)>, Reply> {
    match r {
        Ok(Output::Packed(p)) => {
            let mut it = p.iter().map(|b| Reply::Bulk(Bytes::copy_from_slice(b)));
            let mut pairs = Vec::new();
            while let (Some(f), Some(v)) = (it.next(), it.next()) {
                pairs.push((f, v));
            }
            Ok(pairs)
        }
        Ok(Output::Array(flat)) => {
            let mut it = flat.into_iter().map(output_to_reply);
            let mut pairs = Vec::new();
            while let (Some(f), Some(v)) = (it.next(), it.next()) {
                pairs.push((f, v));
            }
            Ok(pairs)
        }
        Ok(other) => Err(output_to_reply(other)),
        Err(e) => Err(op_error_reply(&e)),
    }
}

/// HSCAN key cursor [MATCH pattern] [COUNT count]. Like Redis does for
/// small hashes, one call returns every matching field and cursor 0 (COUNT
/// is a hint); a hash is read in one go either way.
fn hscan(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    let cursor = super::args::cursor(&a[2])?;
    let pattern = super::args::scan_match(a)?;
    let op = Op::HGetAll {
        key: a[1].clone(),
        what: HashPart::Both,
    };
    Ok(Plan::Many {
        parts: vec![(ctx.cx.core.router.shard_of_key(&a[1]), op)],
        finish: Box::new(move |mut results| {
            // A cursor other than 0 means a previous call already returned everything.
            let pairs = match (cursor, results.pop()) {
                (0, Some(r)) => match flat_pairs(r) {
                    Ok(p) => p,
                    Err(reply) => return reply,
                },
                _ => Vec::new(),
            };
            let mut items = Vec::new();
            for (f, v) in pairs {
                let keep = match (&pattern, &f) {
                    (Some(p), Reply::Bulk(name)) => shardis_shards::glob::glob_match(p, name),
                    _ => true,
                };
                if keep {
                    items.push(f);
                    items.push(v);
                }
            }
            Reply::Array(vec![Reply::bulk("0"), Reply::Array(items)])
        }),
    })
}

/// Largest |count| HRANDFIELD accepts.
const MAX_RANDFIELD: u64 = 10_000_000;

/// HRANDFIELD key [count [WITHVALUES]], with Redis's count rules: a
/// positive count gives distinct fields (at most the hash's size), a
/// negative one exactly |count| fields that may repeat.
fn hrandfield(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    let count = match a.get(2) {
        Some(c) => Some(int(c)?),
        None => None,
    };
    let with_values = match a.get(3) {
        None => false,
        Some(w) if a.len() == 4 && super::args::is(w, "withvalues") => true,
        Some(_) => return Err(CmdError::Syntax),
    };
    if let Some(c) = count {
        // Redis refuses |count| > LONG_MAX/2; we also bound the reply a
        // client can make us build (a negative count repeats fields).
        if c.unsigned_abs() > MAX_RANDFIELD {
            return Err(CmdError::Text("value is out of range"));
        }
    }
    let op = Op::HRandField {
        key: a[1].clone(),
        count,
        with_values,
    };
    // RESP3 answers WITHVALUES as [field, value] pairs.
    let nested = with_values && ctx.conn.proto == crate::resp::Protocol::Resp3;
    Ok(Plan::Many {
        parts: vec![(ctx.cx.core.router.shard_of_key(&a[1]), op)],
        finish: Box::new(move |mut results| {
            let r = results.pop().unwrap_or(Ok(Output::Nil));
            if !nested {
                return output_reply(r);
            }
            match flat_pairs(r) {
                Ok(pairs) => Reply::Array(
                    pairs
                        .into_iter()
                        .map(|(f, v)| Reply::Array(vec![f, v]))
                        .collect(),
                ),
                Err(reply) => reply,
            }
        }),
    })
}
