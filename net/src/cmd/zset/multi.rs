//! Sorted set commands over several keys: ZRANGESTORE, ZUNION, ZINTER,
//! ZDIFF (and their STORE forms) and ZINTERCARD.
//!
//! With every key on one shard a command is one op, atomic like Redis.
//! Across shards the coordinator reads each input (all shards at once),
//! computes the result with the same code the shards use, then writes the
//! destination with one op: each step is atomic on its shard, the whole is
//! not (a write landing between the reads and the store is not seen).

use bytes::Bytes;
use shardis_shards::op::Op;
use shardis_shards::op::Output;
use shardis_shards::op::ZSetOp;
use shardis_shards::op::zset::Aggregate;
use shardis_shards::op::zset::SetAlgebra;
use shardis_shards::types::zset::combine;
use shardis_shards::types::zset::format_score;

use super::super::Ctx;
use super::super::Plan;
use super::super::args::int;
use super::super::args::is;
use super::super::group_by_shard;
use super::super::output_reply;
use super::parse::err;
use super::parse::parse_range;
use super::parse::strict_float;
use super::reply::pairs_reply;
use super::reply::resp3;
use super::reply::split_pairs;
use crate::reply::CmdError;
use crate::reply::op_error_reply;
use crate::resp::Reply;

/// (member, score) pairs of a flat shard answer, scores read back exactly.
fn scored(items: Vec<Output>) -> Vec<(Bytes, f64)> {
    split_pairs(items)
        .into_iter()
        .filter_map(|(m, s)| Some((m, std::str::from_utf8(&s).ok()?.parse().ok()?)))
        .collect()
}

/// ZRANGESTORE dst src min max [BYSCORE|BYLEX] [REV] [LIMIT offset count]
pub(super) fn zrangestore(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    let mut query = parse_range(a, 2, true, None, None)?;
    query.withscores = true;
    let (dst, src) = (a[1].clone(), a[2].clone());
    let router = &ctx.cx.core.router;
    let (to, from) = (router.shard_of_key(&dst), router.shard_of_key(&src));
    if to == from {
        return Ok(Plan::One {
            shard: to,
            op: Op::ZSets(ZSetOp::RangeStore { dst, src, query }),
            finish: output_reply,
        });
    }
    let core = ctx.cx.core.clone();
    Ok(Plan::Async(Box::pin(async move {
        let read = ZSetOp::Range { key: src, query };
        let pairs = match core.call_one(from, Op::ZSets(read)).await {
            Ok(Output::Array(items)) => scored(items),
            Ok(_) => Vec::new(),
            Err(e) => return op_error_reply(&e),
        };
        let write = ZSetOp::Store { key: dst, pairs };
        output_reply(core.call_one(to, Op::ZSets(write)).await)
    })))
}

/// What distinguishes the commands sharing `zunionInterDiffGenericCommand`.
struct Kind {
    algebra: SetAlgebra,
    /// Writes its result to `argv[1]` (numkeys is then `argv[2]`).
    store: bool,
    /// ZINTERCARD: answers the result's size.
    card: bool,
    /// Redis's text for numkeys < 1, which names the command.
    no_keys: &'static str,
}

/// Options after the keys.
struct Options {
    weights: Vec<f64>,
    aggregate: Aggregate,
    withscores: bool,
    /// ZINTERCARD's LIMIT; 0 is none.
    limit: u64,
}

pub(super) fn zunionstore(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    combine_plan(
        ctx,
        a,
        Kind {
            algebra: SetAlgebra::Union,
            store: true,
            card: false,
            no_keys: "at least 1 input key is needed for 'zunionstore' command",
        },
    )
}

pub(super) fn zinterstore(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    combine_plan(
        ctx,
        a,
        Kind {
            algebra: SetAlgebra::Inter,
            store: true,
            card: false,
            no_keys: "at least 1 input key is needed for 'zinterstore' command",
        },
    )
}

pub(super) fn zdiffstore(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    combine_plan(
        ctx,
        a,
        Kind {
            algebra: SetAlgebra::Diff,
            store: true,
            card: false,
            no_keys: "at least 1 input key is needed for 'zdiffstore' command",
        },
    )
}

pub(super) fn zunion(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    combine_plan(
        ctx,
        a,
        Kind {
            algebra: SetAlgebra::Union,
            store: false,
            card: false,
            no_keys: "at least 1 input key is needed for 'zunion' command",
        },
    )
}

pub(super) fn zinter(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    combine_plan(
        ctx,
        a,
        Kind {
            algebra: SetAlgebra::Inter,
            store: false,
            card: false,
            no_keys: "at least 1 input key is needed for 'zinter' command",
        },
    )
}

pub(super) fn zdiff(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    combine_plan(
        ctx,
        a,
        Kind {
            algebra: SetAlgebra::Diff,
            store: false,
            card: false,
            no_keys: "at least 1 input key is needed for 'zdiff' command",
        },
    )
}

pub(super) fn zintercard(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    combine_plan(
        ctx,
        a,
        Kind {
            algebra: SetAlgebra::Inter,
            store: false,
            card: true,
            no_keys: "at least 1 input key is needed for 'zintercard' command",
        },
    )
}

/// Options after the keys, as Redis reads them: WEIGHTS needs a weight
/// per key, and each option is only known to the commands that take it.
fn parse_options(rest: &[Bytes], n: usize, kind: &Kind) -> Result<Options, CmdError> {
    let mut o = Options {
        weights: Vec::new(),
        aggregate: Aggregate::Sum,
        withscores: false,
        limit: 0,
    };
    let algebraic = kind.algebra != SetAlgebra::Diff && !kind.card;
    let mut j = 0;
    while j < rest.len() {
        let (opt, remaining) = (&rest[j], rest.len() - j);
        if algebraic && remaining > n && is(opt, "weights") {
            o.weights = rest[j + 1..=j + n]
                .iter()
                .map(|w| strict_float(w).ok_or_else(|| err("weight value is not a float")))
                .collect::<Result<_, _>>()?;
            j += n + 1;
        } else if algebraic && remaining >= 2 && is(opt, "aggregate") {
            let v = &rest[j + 1];
            o.aggregate = if is(v, "sum") {
                Aggregate::Sum
            } else if is(v, "min") {
                Aggregate::Min
            } else if is(v, "max") {
                Aggregate::Max
            } else {
                return Err(CmdError::Syntax);
            };
            j += 2;
        } else if !kind.store && !kind.card && is(opt, "withscores") {
            o.withscores = true;
            j += 1;
        } else if kind.card && remaining >= 2 && is(opt, "limit") {
            // Redis gives this one text for a negative and a non-integer LIMIT.
            let negative = || err("LIMIT can't be negative");
            let l = int(&rest[j + 1]).map_err(|_| negative())?;
            o.limit = u64::try_from(l).map_err(|_| negative())?;
            j += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    Ok(o)
}

/// Parses like `zunionInterDiffGenericCommand` and plans the command. As
/// in Redis, a wrong-type input is reported before a bad option, so a bad
/// option first checks the inputs' types.
fn combine_plan(ctx: &Ctx<'_>, a: &[Bytes], kind: Kind) -> Result<Plan, CmdError> {
    let at = if kind.store { 2 } else { 1 };
    let n = int(&a[at])?;
    if n < 1 {
        return Err(err(kind.no_keys));
    }
    let given = (a.len() - at - 1) as i64;
    if n > given {
        return Err(CmdError::Syntax);
    }
    let n = n as usize;
    let keys = a[at + 1..=at + n].to_vec();
    let opts = parse_options(&a[at + 1 + n..], n, &kind);
    let dst = kind.store.then(|| a[1].clone());
    let opts = match opts {
        Ok(o) => o,
        Err(e) => return Ok(check_then_fail(ctx, &keys, e)),
    };
    let mut all = keys.clone();
    all.extend(dst.clone());
    let resp3 = resp3(ctx);
    let finish = Finisher {
        kind,
        withscores: opts.withscores,
        limit: opts.limit,
        resp3,
    };
    let groups = group_by_shard(ctx, &all);
    if let [(shard, _)] = groups.as_slice() {
        let op = ZSetOp::Combine {
            dst,
            algebra: finish.kind.algebra,
            keys,
            weights: opts.weights,
            aggregate: opts.aggregate,
        };
        return Ok(Plan::Many {
            parts: vec![(*shard, Op::ZSets(op))],
            finish: Box::new(move |mut results| match results.pop() {
                Some(Ok(Output::Array(items))) => finish.pairs(scored(items)),
                Some(other) => output_reply(other),
                None => Reply::error("ERR no result"),
            }),
        });
    }
    let sources = group_by_shard(ctx, &keys);
    let dst = dst.map(|d| (ctx.cx.core.router.shard_of_key(&d), d));
    let core = ctx.cx.core.clone();
    Ok(Plan::Async(Box::pin(async move {
        // Read every input at once, one batch per shard.
        let pending: Vec<_> = sources
            .into_iter()
            .map(|(shard, idx)| {
                let ops = idx
                    .iter()
                    .map(|&i| Op::ZSets(ZSetOp::Members(keys[i].clone())))
                    .collect();
                (idx, core.submit(shard, ops))
            })
            .collect();
        let mut inputs = vec![Vec::new(); keys.len()];
        for (idx, p) in pending {
            for (i, r) in idx.into_iter().zip(core.finish(p).await) {
                match r {
                    Ok(Output::Array(items)) => inputs[i] = scored(items),
                    Ok(_) => {}
                    Err(e) => return op_error_reply(&e),
                }
            }
        }
        let result = combine(finish.kind.algebra, inputs, &opts.weights, opts.aggregate);
        match dst {
            Some((shard, key)) => {
                let store = ZSetOp::Store { key, pairs: result };
                output_reply(core.call_one(shard, Op::ZSets(store)).await)
            }
            None => finish.pairs(result),
        }
    })))
}

/// How a non-store result (or a store's size) becomes the reply.
struct Finisher {
    kind: Kind,
    withscores: bool,
    limit: u64,
    resp3: bool,
}

impl Finisher {
    /// The reply to a computed result. A store op answers its size instead
    /// of pairs; that never reaches here.
    fn pairs(&self, result: Vec<(Bytes, f64)>) -> Reply {
        if self.kind.card {
            let n = result.len() as u64;
            let n = if self.limit > 0 { n.min(self.limit) } else { n };
            return Reply::Int(n as i64);
        }
        let texts = result
            .into_iter()
            .map(|(m, s)| (m, Bytes::from(format_score(s))))
            .collect();
        pairs_reply(texts, self.withscores, self.resp3, true)
    }
}

/// A bad option: answer WRONGTYPE if an input has the wrong type, else
/// the option's error.
fn check_then_fail(ctx: &Ctx<'_>, keys: &[Bytes], e: CmdError) -> Plan {
    let parts = group_by_shard(ctx, keys)
        .into_iter()
        .map(|(s, idx)| {
            let group = idx.into_iter().map(|i| keys[i].clone()).collect();
            (s, Op::ZSets(ZSetOp::CheckInputs(group)))
        })
        .collect();
    Plan::Many {
        parts,
        finish: Box::new(
            move |results| match results.into_iter().find_map(|r| r.err()) {
                Some(op_err) => op_error_reply(&op_err),
                None => e.to_reply(),
            },
        ),
    }
}
