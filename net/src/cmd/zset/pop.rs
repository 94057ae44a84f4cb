//! Pops from the first of several zsets: ZMPOP, and the blocking BZPOPMIN,
//! BZPOPMAX and BZMPOP.
//!
//! The keys are tried in command order, in runs of consecutive keys on one
//! shard, each run one atomic op: with every key on one shard the command
//! is atomic, as in Redis; across shards a key is tried after the earlier
//! ones were found empty.
//!
//! Blocking pops never block a core: like the list family's, they are
//! served by `blocking::block` (in line on the keys' shard when they share
//! one, woken by ZADD, FIFO per key; polled otherwise).

use std::rc::Rc;

use bytes::Bytes;
use shardis_shards::core::Core;
use shardis_shards::error::OpResult;
use shardis_shards::op::FirstTry;
use shardis_shards::op::Op;
use shardis_shards::op::Output;
use shardis_shards::op::ZSetOp;
use shardis_shards::slot::ShardId;

use super::super::Ctx;
use super::super::Plan;
use super::super::args::int;
use super::super::args::is;
use super::super::blocking::Blocking;
use super::super::blocking::PopKeys;
use super::super::blocking::block;
use super::super::blocking::timeout;
use super::super::output_reply;
use super::parse::err;
use super::reply::nested_pairs;
use super::reply::resp3;
use super::reply::score_reply;
use super::reply::split_pairs;
use crate::reply::CmdError;
use crate::resp::Reply;

/// A pop from the first non-empty of several keys.
#[derive(Clone)]
struct Pops {
    keys: PopKeys,
    max: bool,
    count: u64,
}

impl Pops {
    fn new(ctx: &Ctx<'_>, keys: &[Bytes], max: bool, count: u64) -> Pops {
        Pops {
            keys: PopKeys::new(ctx, keys),
            max,
            count,
        }
    }

    fn op(&self, keys: Vec<Bytes>, strict: bool) -> Op {
        Op::ZSets(ZSetOp::MPop {
            keys,
            max: self.max,
            count: self.count,
            skip_wrong_type: !strict,
        })
    }
}

impl Blocking for Pops {
    /// One attempt: [key, [member, score, ...]], or Nil when every key is
    /// empty. `strict`: a key of another type before the first zset is
    /// WRONGTYPE (the command's first try, as in Redis).
    async fn attempt(&self, core: &Rc<Core>, strict: bool) -> OpResult<Output> {
        for (shard, keys) in &self.keys.runs {
            match core.call_one(*shard, self.op(keys.clone(), strict)).await? {
                Output::Nil => {}
                out => return Ok(out),
            }
        }
        Ok(Output::Nil)
    }

    /// Read-only: whether one of the keys holds a zset now.
    async fn ready(&self, core: &Rc<Core>) -> OpResult<bool> {
        self.keys
            .any_ready(core, |keys| Op::ZSets(ZSetOp::AnyNonEmpty(keys)))
            .await
    }

    /// All keys on one shard: the shard makes the first try once the
    /// client is in line. A key others wait on is only checked for its
    /// type (ZCARD).
    fn first_in_line(&self) -> Option<FirstTry> {
        let [(_, keys)] = self.keys.runs.as_slice() else {
            return None;
        };
        Some(FirstTry {
            all: self.op(keys.clone(), true),
            keys: keys
                .iter()
                .map(|k| {
                    let card = Op::ZSets(ZSetOp::Card(k.clone()));
                    (self.op(vec![k.clone()], true), card)
                })
                .collect(),
        })
    }

    /// All keys on one shard: wait in line there, woken by writes.
    fn on_one_shard(&self) -> Option<(ShardId, Vec<(Bytes, Op)>)> {
        let [(shard, keys)] = self.keys.runs.as_slice() else {
            return None;
        };
        let attempts = keys
            .iter()
            .map(|k| (k.clone(), self.op(vec![k.clone()], false)))
            .collect();
        Some((*shard, attempts))
    }
}

/// How a pop of several keys answers.
#[derive(Clone, Copy)]
enum Shape {
    /// BZPOPMIN/BZPOPMAX: `[key, member, score]`.
    Flat,
    /// ZMPOP/BZMPOP: `[key, [[member, score], ...]]` in both protocols.
    Nested,
}

/// The reply to an attempt's answer; Nil (nothing popped) is a null array.
fn popped_reply(r: OpResult<Output>, shape: Shape, resp3: bool) -> Reply {
    let (key, items) = match r {
        Ok(Output::Array(mut parts)) if parts.len() == 2 => {
            match (parts.remove(0), parts.remove(0)) {
                (Output::Bulk(k), Output::Array(items)) => (k, items),
                _ => return Reply::NilArray,
            }
        }
        Ok(Output::Nil) => return Reply::NilArray,
        other => return output_reply(other),
    };
    let pairs = split_pairs(items);
    match shape {
        Shape::Nested => Reply::Array(vec![Reply::Bulk(key), nested_pairs(pairs, resp3)]),
        Shape::Flat => {
            let mut out = vec![Reply::Bulk(key)];
            for (m, s) in pairs {
                out.push(Reply::Bulk(m));
                out.push(score_reply(s, resp3));
            }
            Reply::Array(out)
        }
    }
}

/// `numkeys key [key ...] MIN|MAX [COUNT count]` of ZMPOP and BZMPOP, with
/// numkeys at `a[at]`, read like Redis's `zmpopGenericCommand`.
fn mpop_args(a: &[Bytes], at: usize) -> Result<(Vec<Bytes>, bool, u64), CmdError> {
    let bad_numkeys = || err("numkeys should be greater than 0");
    let n = int(&a[at]).map_err(|_| bad_numkeys())?;
    let n = usize::try_from(n)
        .ok()
        .filter(|&n| n > 0)
        .ok_or_else(bad_numkeys)?;
    let where_at = n
        .checked_add(at + 1)
        .filter(|&w| w < a.len())
        .ok_or(CmdError::Syntax)?;
    let max = if is(&a[where_at], "max") {
        true
    } else if is(&a[where_at], "min") {
        false
    } else {
        return Err(CmdError::Syntax);
    };
    let mut count = None;
    let mut j = where_at + 1;
    while j < a.len() {
        if count.is_some() || !is(&a[j], "count") || j + 1 == a.len() {
            return Err(CmdError::Syntax);
        }
        let bad_count = || err("count should be greater than 0");
        let c = int(&a[j + 1]).map_err(|_| bad_count())?;
        count = Some(
            u64::try_from(c)
                .ok()
                .filter(|&c| c > 0)
                .ok_or_else(bad_count)?,
        );
        j += 2;
    }
    Ok((a[at + 1..where_at].to_vec(), max, count.unwrap_or(1)))
}

/// ZMPOP numkeys key [key ...] MIN|MAX [COUNT count]
pub(super) fn zmpop(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    let (keys, max, count) = mpop_args(a, 1)?;
    let pops = Pops::new(ctx, &keys, max, count);
    let resp3 = resp3(ctx);
    if let [(shard, _)] = pops.keys.runs.as_slice() {
        return Ok(Plan::Many {
            parts: vec![(*shard, pops.op(keys, true))],
            finish: Box::new(move |mut results| {
                popped_reply(
                    results.pop().unwrap_or(Ok(Output::Nil)),
                    Shape::Nested,
                    resp3,
                )
            }),
        });
    }
    let core = ctx.cx.core.clone();
    Ok(Plan::Async(Box::pin(async move {
        popped_reply(pops.attempt(&core, true).await, Shape::Nested, resp3)
    })))
}

/// BZPOPMIN key [key ...] timeout
pub(super) fn bzpopmin(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    bzpop(ctx, a, false)
}

/// BZPOPMAX key [key ...] timeout
pub(super) fn bzpopmax(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    bzpop(ctx, a, true)
}

fn bzpop(ctx: &Ctx<'_>, a: &[Bytes], max: bool) -> Result<Plan, CmdError> {
    let timeout = timeout(&a[a.len() - 1])?;
    let pops = Pops::new(ctx, &a[1..a.len() - 1], max, 1);
    let resp3 = resp3(ctx);
    Ok(block(ctx, pops, timeout, move |r| {
        popped_reply(r, Shape::Flat, resp3)
    }))
}

/// BZMPOP timeout numkeys key [key ...] MIN|MAX [COUNT count]
pub(super) fn bzmpop(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    let (keys, max, count) = mpop_args(a, 2)?;
    let timeout = timeout(&a[1])?;
    let pops = Pops::new(ctx, &keys, max, count);
    let resp3 = resp3(ctx);
    Ok(block(ctx, pops, timeout, move |r| {
        popped_reply(r, Shape::Nested, resp3)
    }))
}
