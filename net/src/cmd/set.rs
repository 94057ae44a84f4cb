//! Set commands.
//!
//! Multi-key commands (SMOVE, SINTER/SUNION/SDIFF and their *STORE
//! variants, SINTERCARD) are one atomic op when all their keys live on one
//! shard. Across shards they run as dependent steps: read each shard's
//! part, combine here, then write the destination's shard. Those steps are
//! not atomic: a concurrent writer may be seen between them.

use std::collections::BTreeSet;
use std::rc::Rc;

use bytes::Bytes;
use shardis_shards::core::Core;
use shardis_shards::error::OpError;
use shardis_shards::error::OpResult;
use shardis_shards::op::Op;
use shardis_shards::op::Output;
use shardis_shards::op::SetOp;
use shardis_shards::op::set::SetAlgebra;
use shardis_shards::slot::ShardId;
use shardis_shards::types::number::parse_i64;

use super::CommandSpec;
use super::Ctx;
use super::Plan;
use super::args::int;
use super::args::is;
use super::group_by_shard;
use super::on_key;
use super::output_reply;
use super::output_to_reply;
use crate::reply::CmdError;
use crate::reply::op_error_reply;
use crate::resp::Reply;

const GROUP: &str = "set";

pub static COMMANDS: &[CommandSpec] = &[
    spec!("sadd", -3, ["write", "denyoom", "fast"], 1, 1, 1, sadd),
    spec!("srem", -3, ["write", "fast"], 1, 1, 1, srem),
    spec!("smembers", 2, ["readonly"], 1, 1, 1, smembers),
    spec!("sismember", 3, ["readonly", "fast"], 1, 1, 1, sismember),
    spec!("smismember", -3, ["readonly", "fast"], 1, 1, 1, smismember),
    spec!("scard", 2, ["readonly", "fast"], 1, 1, 1, scard),
    spec!("spop", -2, ["write", "fast"], 1, 1, 1, spop),
    spec!("srandmember", -2, ["readonly"], 1, 1, 1, srandmember),
    spec!("smove", 4, ["write", "fast"], 1, 2, 1, smove),
    spec!("sinter", -2, ["readonly"], 1, -1, 1, sinter),
    spec!("sunion", -2, ["readonly"], 1, -1, 1, sunion),
    spec!("sdiff", -2, ["readonly"], 1, -1, 1, sdiff),
    spec!(
        "sinterstore",
        -3,
        ["write", "denyoom"],
        1,
        -1,
        1,
        sinterstore
    ),
    spec!(
        "sunionstore",
        -3,
        ["write", "denyoom"],
        1,
        -1,
        1,
        sunionstore
    ),
    spec!("sdiffstore", -3, ["write", "denyoom"], 1, -1, 1, sdiffstore),
    spec!(
        "sintercard",
        -3,
        ["readonly", "movablekeys"],
        0,
        0,
        0,
        sintercard
    ),
    spec!("sscan", -3, ["readonly"], 1, 1, 1, sscan),
];

/// Largest |count| SRANDMEMBER accepts: it bounds the reply a client can
/// make us build (a negative count repeats members), as HRANDFIELD does.
const MAX_RANDMEMBER: u64 = 10_000_000;

fn set_op(ctx: &Ctx<'_>, key: &Bytes, op: SetOp, finish: super::Finish) -> Plan {
    on_key(ctx, key, Op::Sets(op), finish)
}

/// Members as a RESP3 set (an array in RESP2), as SMEMBERS, SINTER and
/// SPOP with a count answer.
fn set_reply(r: OpResult<Output>) -> Reply {
    match r {
        Ok(Output::Array(items)) => Reply::Set(items.into_iter().map(output_to_reply).collect()),
        Ok(Output::Packed(p)) => Reply::PackedSet(p),
        other => output_reply(other),
    }
}

fn sadd(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    let op = SetOp::Add {
        key: a[1].clone(),
        members: a[2..].to_vec(),
    };
    Ok(set_op(ctx, &a[1], op, output_reply))
}

fn srem(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    let op = SetOp::Rem {
        key: a[1].clone(),
        members: a[2..].to_vec(),
    };
    Ok(set_op(ctx, &a[1], op, output_reply))
}

fn smembers(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    Ok(set_op(ctx, &a[1], SetOp::Members(a[1].clone()), set_reply))
}

fn sismember(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    let op = SetOp::IsMember {
        key: a[1].clone(),
        member: a[2].clone(),
    };
    Ok(set_op(ctx, &a[1], op, output_reply))
}

fn smismember(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    let op = SetOp::MIsMember {
        key: a[1].clone(),
        members: a[2..].to_vec(),
    };
    Ok(set_op(ctx, &a[1], op, output_reply))
}

fn scard(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    Ok(set_op(ctx, &a[1], SetOp::Card(a[1].clone()), output_reply))
}

/// SPOP key [count]. The coordinator draws the seed, so the replicated op
/// removes the same members everywhere.
fn spop(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    if a.len() > 3 {
        return Err(CmdError::Syntax);
    }
    let count = match a.get(2) {
        Some(c) => Some(
            parse_i64(c)
                .and_then(|n| u64::try_from(n).ok())
                .ok_or(CmdError::Text("value is out of range, must be positive"))?,
        ),
        None => None,
    };
    let op = SetOp::Pop {
        key: a[1].clone(),
        count,
        seed: rand::random(),
    };
    let finish = if count.is_some() {
        set_reply
    } else {
        output_reply
    };
    Ok(set_op(ctx, &a[1], op, finish))
}

/// SRANDMEMBER key [count], with Redis's count rules: a positive count
/// gives distinct members, a negative one |count| members that may repeat.
fn srandmember(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    if a.len() > 3 {
        return Err(CmdError::Syntax);
    }
    let count = match a.get(2) {
        Some(c) => Some(int(c)?),
        None => None,
    };
    match count {
        Some(i64::MIN) => {
            return Err(CmdError::Text(
                "value is out of range, value must between -9223372036854775807 and 9223372036854775807",
            ));
        }
        Some(c) if c.unsigned_abs() > MAX_RANDMEMBER => {
            return Err(CmdError::Text("value is out of range"));
        }
        _ => {}
    }
    let op = SetOp::RandMember {
        key: a[1].clone(),
        count,
    };
    Ok(set_op(ctx, &a[1], op, output_reply))
}

/// SMOVE source destination member.
fn smove(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    let (src, dst, member) = (a[1].clone(), a[2].clone(), a[3].clone());
    let router = &ctx.cx.core.router;
    let (from, to) = (router.shard_of_key(&src), router.shard_of_key(&dst));
    if from == to {
        let op = SetOp::Move { src, dst, member };
        return Ok(set_op(ctx, &a[1], op, output_reply));
    }
    let core = ctx.cx.core.clone();
    Ok(Plan::Async(Box::pin(async move {
        smove_across(&core, (from, src), (to, dst), member)
            .await
            .unwrap_or_else(|e| op_error_reply(&e))
    })))
}

async fn call_set(core: &Rc<Core>, shard: ShardId, op: SetOp) -> OpResult<Output> {
    core.call_one(shard, Op::Sets(op)).await
}

/// SMOVE across shards, keeping Redis's order of checks: an absent source
/// answers 0, then a wrong-type source, then a wrong-type destination
/// errors. The member is removed from the source, then added to the
/// destination; should that fail (the destination changed type meanwhile)
/// it is put back.
async fn smove_across(
    core: &Rc<Core>,
    (from, src): (ShardId, Bytes),
    (to, dst): (ShardId, Bytes),
    member: Bytes,
) -> OpResult<Reply> {
    if let Err(dst_err) = call_set(core, to, SetOp::Card(dst.clone())).await {
        // An absent source still answers 0, a wrong-type source its error.
        return match call_set(core, from, SetOp::Card(src)).await? {
            Output::Int(0) => Ok(Reply::Int(0)),
            _ => Err(dst_err),
        };
    }
    let one = vec![member];
    let rem = SetOp::Rem {
        key: src.clone(),
        members: one.clone(),
    };
    if call_set(core, from, rem).await? != Output::Int(1) {
        return Ok(Reply::Int(0));
    }
    let add = SetOp::Add {
        key: dst,
        members: one.clone(),
    };
    if let Err(e) = call_set(core, to, add).await {
        let undo = SetOp::Add {
            key: src,
            members: one,
        };
        call_set(core, from, undo).await?;
        return Err(e);
    }
    Ok(Reply::Int(1))
}

fn sinter(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    Ok(combine(ctx, SetAlgebra::Inter, a[1..].to_vec(), None))
}

fn sunion(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    Ok(combine(ctx, SetAlgebra::Union, a[1..].to_vec(), None))
}

fn sdiff(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    Ok(combine(ctx, SetAlgebra::Diff, a[1..].to_vec(), None))
}

fn sinterstore(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    let dst = Some(a[1].clone());
    Ok(combine(ctx, SetAlgebra::Inter, a[2..].to_vec(), dst))
}

fn sunionstore(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    let dst = Some(a[1].clone());
    Ok(combine(ctx, SetAlgebra::Union, a[2..].to_vec(), dst))
}

fn sdiffstore(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    let dst = Some(a[1].clone());
    Ok(combine(ctx, SetAlgebra::Diff, a[2..].to_vec(), dst))
}

/// SINTER/SUNION/SDIFF (`dst` None) or their *STORE variant.
fn combine(ctx: &Ctx<'_>, kind: SetAlgebra, keys: Vec<Bytes>, dst: Option<Bytes>) -> Plan {
    let mut all = keys.clone();
    all.extend(dst.iter().cloned());
    let groups = group_by_shard(ctx, &all);
    if let [(shard, _)] = groups[..] {
        let finish = if dst.is_some() {
            output_reply
        } else {
            set_reply
        };
        let op = SetOp::Combine {
            kind,
            keys,
            store: dst,
        };
        return Plan::One {
            shard,
            op: Op::Sets(op),
            finish,
        };
    }
    let parts = partial_ops(ctx, kind, &keys);
    let core = ctx.cx.core.clone();
    let dst = dst.map(|d| (core.router.shard_of_key(&d), d));
    Plan::Async(Box::pin(async move {
        let result = match gather(&core, kind, parts).await {
            Ok(members) => members,
            Err(e) => return op_error_reply(&e),
        };
        let members: Vec<Bytes> = result.into_iter().collect();
        match dst {
            Some((shard, key)) => {
                output_reply(call_set(&core, shard, SetOp::Replace { key, members }).await)
            }
            None => Reply::Set(members.into_iter().map(Reply::Bulk).collect()),
        }
    }))
}

/// One read op per shard holding some of `keys`, whose results combine
/// into the answer: intersections (unions) of each shard's keys for
/// SINTER (SUNION); for SDIFF, the first key's shard subtracts its own
/// other keys and every other shard answers the union of its keys.
fn partial_ops(ctx: &Ctx<'_>, kind: SetAlgebra, keys: &[Bytes]) -> Vec<(ShardId, SetOp)> {
    group_by_shard(ctx, keys)
        .into_iter()
        .enumerate()
        .map(|(g, (shard, idx))| {
            let kind = match kind {
                // group_by_shard keeps first-seen order: group 0 holds keys[0].
                SetAlgebra::Diff if g > 0 => SetAlgebra::Union,
                k => k,
            };
            let keys = idx.into_iter().map(|i| keys[i].clone()).collect();
            let op = SetOp::Combine {
                kind,
                keys,
                store: None,
            };
            (shard, op)
        })
        .collect()
}

/// Runs the partial ops of [`partial_ops`] on their shards at once and
/// combines their member lists.
async fn gather(
    core: &Rc<Core>,
    kind: SetAlgebra,
    parts: Vec<(ShardId, SetOp)>,
) -> OpResult<BTreeSet<Bytes>> {
    let pending: Vec<_> = parts
        .into_iter()
        .map(|(shard, op)| core.submit(shard, vec![Op::Sets(op)]))
        .collect();
    let mut sets = Vec::with_capacity(pending.len());
    for p in pending {
        let r = core
            .finish(p)
            .await
            .pop()
            .unwrap_or(Err(OpError::Storage("no result".into())));
        sets.push(members_of(r?));
    }
    let mut sets = sets.into_iter();
    let mut acc = sets.next().unwrap_or_default();
    for s in sets {
        match kind {
            SetAlgebra::Inter => acc.retain(|m| s.contains(m)),
            SetAlgebra::Union => acc.extend(s),
            SetAlgebra::Diff => acc.retain(|m| !s.contains(m)),
        }
    }
    Ok(acc)
}

fn members_of(o: Output) -> BTreeSet<Bytes> {
    match o {
        Output::Packed(p) => p.iter().map(Bytes::copy_from_slice).collect(),
        Output::Array(items) => items
            .into_iter()
            .filter_map(|m| match m {
                Output::Bulk(b) => Some(b),
                _ => None,
            })
            .collect(),
        _ => BTreeSet::new(),
    }
}

/// SINTERCARD numkeys key [key ...] [LIMIT limit].
fn sintercard(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    let numkeys = parse_i64(&a[1])
        .filter(|n| *n >= 1)
        .ok_or(CmdError::Text("numkeys should be greater than 0"))?;
    if numkeys > (a.len() - 2) as i64 {
        return Err(CmdError::Text(
            "Number of keys can't be greater than number of args",
        ));
    }
    let end = 2 + numkeys as usize;
    let mut limit = 0u64;
    let mut i = end;
    while i < a.len() {
        if is(&a[i], "limit") && i + 1 < a.len() {
            limit = parse_i64(&a[i + 1])
                .and_then(|n| u64::try_from(n).ok())
                .ok_or(CmdError::Text("LIMIT can't be negative"))?;
            i += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let keys = a[2..end].to_vec();
    let groups = group_by_shard(ctx, &keys);
    if let [(shard, _)] = groups[..] {
        let op = SetOp::InterCard { keys, limit };
        return Ok(Plan::One {
            shard,
            op: Op::Sets(op),
            finish: output_reply,
        });
    }
    let parts = partial_ops(ctx, SetAlgebra::Inter, &keys);
    let core = ctx.cx.core.clone();
    Ok(Plan::Async(Box::pin(async move {
        match gather(&core, SetAlgebra::Inter, parts).await {
            Ok(common) => {
                let n = common.len() as u64;
                Reply::Int(if limit == 0 { n } else { n.min(limit) } as i64)
            }
            Err(e) => op_error_reply(&e),
        }
    })))
}

/// SSCAN key cursor [MATCH pattern] [COUNT count]. Like Redis does for
/// small sets, one call returns every matching member and cursor 0 (COUNT
/// is a hint); a later non-zero cursor finds nothing left.
fn sscan(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    let cursor = super::args::cursor(&a[2])?;
    let options = super::args::scan_match(a);
    let op = Op::Sets(SetOp::Members(a[1].clone()));
    Ok(Plan::Many {
        parts: vec![(ctx.cx.core.router.shard_of_key(&a[1]), op)],
        finish: Box::new(move |mut results| {
            let members = match results.pop() {
                Some(Ok(o)) => members_of(o),
                Some(Err(e)) => return op_error_reply(&e),
                None => BTreeSet::new(),
            };
            let scan =
                |items: Vec<Reply>| Reply::Array(vec![Reply::bulk("0"), Reply::Array(items)]);
            // An absent key answers an empty scan before options are read.
            if members.is_empty() {
                return scan(Vec::new());
            }
            let pattern = match options {
                Ok(p) => p,
                Err(e) => return e.to_reply(),
            };
            if cursor != 0 {
                return scan(Vec::new());
            }
            let items = members
                .into_iter()
                .filter(|m| {
                    pattern
                        .as_ref()
                        .is_none_or(|p| shardis_shards::glob::glob_match(p, m))
                })
                .map(Reply::Bulk)
                .collect();
            scan(items)
        }),
    })
}
