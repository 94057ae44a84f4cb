//! Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH.
//!
//! Commands between MULTI and EXEC are checked (name, arity, and that all
//! their keys live on one shard) and queued on the connection. EXEC plans
//! them and, when they touch one shard, sends them as one `Op::Multi`: one
//! Raft entry, applied atomically. A key on another shard than the keys
//! queued before it is refused with CROSSSLOT, as Redis Cluster does, and
//! like every queueing error makes EXEC answer EXECABORT. Keyless
//! node-wide commands (FLUSHALL, DBSIZE, KEYS ...) are allowed; a
//! transaction holding one runs its commands in order, but not atomically
//! across shards.
//!
//! WATCH registers keys on their shards. At EXEC the keys on other shards
//! are checked first, and the keys on the transaction's shard are checked
//! by that shard's core right before it proposes the transaction, so no
//! write can slip in between (`Core::exec`).

use std::rc::Rc;

use bytes::Bytes;
use shardis_shards::core::Core;
use shardis_shards::error::OpError;
use shardis_shards::error::OpResult;
use shardis_shards::op::Op;
use shardis_shards::op::Output;
use shardis_shards::slot::ShardId;
use shardis_shards::watch::Watched;

use super::CommandSpec;
use super::Ctx;
use super::Finish;
use super::FinishMany;
use super::Plan;
use super::key_positions;
use crate::conn_state::MultiState;
use crate::conn_state::WatchList;
use crate::reply::CmdError;
use crate::reply::op_error_reply;
use crate::resp::Reply;

const GROUP: &str = "transactions";

/// Most commands one transaction may queue; memory is bounded anyway by
/// the query buffer, this keeps one EXEC's work bounded too.
const MAX_QUEUED: usize = 1 << 20;

pub static COMMANDS: &[CommandSpec] = &[
    spec!(
        "multi",
        1,
        ["noscript", "loading", "stale", "fast", "allow_busy"],
        0,
        0,
        0,
        multi
    ),
    spec!(
        "exec",
        1,
        ["noscript", "loading", "stale", "skip_slowlog"],
        0,
        0,
        0,
        exec
    ),
    spec!(
        "discard",
        1,
        ["noscript", "loading", "stale", "fast", "allow_busy"],
        0,
        0,
        0,
        discard
    ),
    spec!(
        "watch",
        -2,
        ["noscript", "loading", "stale", "fast", "allow_busy"],
        1,
        -1,
        1,
        watch
    ),
    spec!(
        "unwatch",
        1,
        ["noscript", "loading", "stale", "fast", "allow_busy"],
        0,
        0,
        0,
        unwatch
    ),
];

/// Commands that run at once inside MULTI instead of being queued.
pub fn runs_inside_multi(spec: &CommandSpec) -> bool {
    matches!(
        spec.name,
        "exec" | "discard" | "multi" | "watch" | "quit" | "reset"
    )
}

/// Marks the open transaction (if any) as failed: a command was refused
/// while queueing, so EXEC must answer EXECABORT.
pub fn flag(ctx: &mut Ctx<'_>) {
    if let Some(m) = &mut ctx.conn.multi {
        m.dirty = true;
    }
}

/// Queues one command of an open transaction, or refuses it (and flags
/// the transaction) when its keys are not on the transaction's shard.
pub fn queue(ctx: &mut Ctx<'_>, spec: &CommandSpec, args: &[Bytes]) -> Plan {
    let router = &ctx.cx.core.router;
    let Some(m) = ctx.conn.multi.as_mut() else {
        return Plan::Reply(Reply::error("ERR EXEC without MULTI"));
    };
    if spec.flags.contains(&"no-multi") {
        m.dirty = true;
        return Plan::Reply(Reply::error("ERR Command not allowed inside a transaction"));
    }
    for i in key_positions(spec, args.len()) {
        let s = router.shard_of_key(&args[i]);
        match m.shard {
            None => m.shard = Some(s),
            Some(t) if t != s => {
                m.dirty = true;
                return Plan::Reply(Reply::error(
                    "CROSSSLOT Keys in request don't hash to the same slot",
                ));
            }
            Some(_) => {}
        }
    }
    if m.queued.len() >= MAX_QUEUED {
        m.dirty = true;
        return Plan::Reply(Reply::error("ERR too many commands queued in MULTI"));
    }
    m.queued.push(args.to_vec());
    Plan::Reply(Reply::Simple("QUEUED".into()))
}

fn multi(ctx: &mut Ctx<'_>, _a: &[Bytes]) -> Result<Plan, CmdError> {
    if ctx.conn.multi.is_some() {
        return Ok(Plan::Reply(Reply::error(
            "ERR MULTI calls can not be nested",
        )));
    }
    ctx.conn.multi = Some(MultiState::default());
    Ok(Plan::Reply(Reply::Ok))
}

fn discard(ctx: &mut Ctx<'_>, _a: &[Bytes]) -> Result<Plan, CmdError> {
    if ctx.conn.multi.take().is_none() {
        return Ok(Plan::Reply(Reply::error("ERR DISCARD without MULTI")));
    }
    Ok(unwatch_then(ctx, Reply::Ok))
}

fn unwatch(ctx: &mut Ctx<'_>, _a: &[Bytes]) -> Result<Plan, CmdError> {
    Ok(unwatch_then(ctx, Reply::Ok))
}

/// Drops every WATCH of the connection, then answers `reply`.
fn unwatch_then(ctx: &Ctx<'_>, reply: Reply) -> Plan {
    if ctx.conn.watched.borrow().is_empty() {
        return Plan::Reply(reply);
    }
    let (core, list) = (ctx.cx.core.clone(), ctx.conn.watched.clone());
    Plan::Async(Box::pin(async move {
        unwatch_all(&core, &list).await;
        reply
    }))
}

/// Unregisters the keys in `list` on their shards and empties it (also
/// run when a connection closes).
pub async fn unwatch_all(core: &Rc<Core>, list: &WatchList) {
    let keys = std::mem::take(&mut *list.borrow_mut());
    for (shard, ws) in by_shard(keys) {
        let _ = core
            .call_one(shard, Op::Unwatch(ws.into_iter().map(|w| w.key).collect()))
            .await;
    }
}

fn by_shard(keys: Vec<(ShardId, Watched)>) -> Vec<(ShardId, Vec<Watched>)> {
    let mut groups: Vec<(ShardId, Vec<Watched>)> = Vec::new();
    for (s, w) in keys {
        match groups.iter_mut().find(|(g, _)| *g == s) {
            Some((_, v)) => v.push(w),
            None => groups.push((s, vec![w])),
        }
    }
    groups
}

fn watch(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    if ctx.conn.multi.is_some() {
        return Ok(Plan::Reply(Reply::error(
            "ERR WATCH inside MULTI is not allowed",
        )));
    }
    let keys = a[1..].to_vec();
    let groups = super::group_by_shard(ctx, &keys);
    let (core, list) = (ctx.cx.core.clone(), ctx.conn.watched.clone());
    Ok(Plan::Async(Box::pin(async move {
        for (shard, idx) in groups {
            let ks: Vec<Bytes> = idx.iter().map(|&i| keys[i].clone()).collect();
            let epochs = match core.call_one(shard, Op::Watch(ks.clone())).await {
                Ok(Output::Array(e)) => e,
                Ok(_) => return Reply::error("ERR unexpected WATCH result"),
                Err(e) => return op_error_reply(&e),
            };
            let mut list = list.borrow_mut();
            for (key, e) in ks.into_iter().zip(epochs) {
                if let Output::Array(pair) = e
                    && let [Output::Int(epoch), Output::Int(expired)] = pair.as_slice()
                {
                    list.push((
                        shard,
                        Watched {
                            key,
                            epoch: *epoch as u64,
                            expired: *expired != 0,
                        },
                    ));
                }
            }
        }
        Reply::Ok
    })))
}

/// Where each queued command's reply comes from.
enum Part {
    Ready(Reply),
    One(Finish, usize),
    Many(FinishMany, Vec<usize>),
}

fn exec(ctx: &mut Ctx<'_>, _a: &[Bytes]) -> Result<Plan, CmdError> {
    let Some(m) = ctx.conn.multi.take() else {
        return Ok(Plan::Reply(Reply::error("ERR EXEC without MULTI")));
    };
    if m.dirty {
        return Ok(unwatch_then(
            ctx,
            Reply::error("EXECABORT Transaction discarded because of previous errors."),
        ));
    }
    // Redis checks a transaction as one command whose flags are the union
    // of its commands': one that may grow memory fails it while over the limit.
    let grows = m
        .queued
        .iter()
        .any(|args| super::lookup(&args[0]).is_some_and(|s| s.denies_oom()));
    if grows && ctx.cx.shared.over_maxmemory() {
        return Ok(unwatch_then(
            ctx,
            Reply::error(format!(
                "EXECABORT Transaction discarded because of: {}",
                super::OOM
            )),
        ));
    }
    ctx.conn.in_exec = true;
    let plans: Vec<Plan> = m.queued.iter().map(|args| super::plan(ctx, args)).collect();
    ctx.conn.in_exec = false;
    let (core, list) = (ctx.cx.core.clone(), ctx.conn.watched.clone());
    Ok(Plan::Async(Box::pin(async move {
        let reply = run_exec(&core, &list, plans).await;
        unwatch_all(&core, &list).await;
        reply
    })))
}

/// The one shard all plans touch, None when they touch none, Err when
/// they need several shards or dependent steps.
fn single_shard(plans: &[Plan]) -> Result<Option<ShardId>, ()> {
    let mut shard = None;
    let mut see = |s: ShardId| match shard {
        None => {
            shard = Some(s);
            Ok(())
        }
        Some(t) if t == s => Ok(()),
        Some(_) => Err(()),
    };
    for p in plans {
        match p {
            Plan::Reply(_) => {}
            Plan::One { shard, .. } => see(*shard)?,
            Plan::Many { parts, .. } => {
                for (s, _) in parts {
                    see(*s)?;
                }
            }
            Plan::Async(_) | Plan::Block(_) => return Err(()),
        }
    }
    Ok(shard)
}

async fn run_exec(core: &Rc<Core>, list: &WatchList, plans: Vec<Plan>) -> Reply {
    let watched = list.borrow().clone();
    let target = single_shard(&plans);
    let home = target.ok().flatten();
    // Keys on other shards than the transaction's are checked first.
    let mut here = Vec::new();
    let mut elsewhere = Vec::new();
    for (s, w) in watched {
        if Some(s) == home {
            here.push(w);
        } else {
            elsewhere.push((s, w));
        }
    }
    for (shard, ws) in by_shard(elsewhere) {
        match core.call_one(shard, Op::WatchTouched(ws)).await {
            Ok(Output::Int(0)) => {}
            Ok(_) => return Reply::NilArray,
            Err(e) => return op_error_reply(&e),
        }
    }
    match (target, home) {
        (Ok(Some(shard)), _) => atomic(core, shard, here, plans).await,
        (Ok(None), _) => Reply::Array(
            plans
                .into_iter()
                .map(|p| match p {
                    Plan::Reply(r) => r,
                    _ => Reply::error("ERR internal: shard plan without a shard"),
                })
                .collect(),
        ),
        (Err(()), _) => in_order(core, plans).await,
    }
}

/// Runs the plans as one `Op::Multi` on `shard` (checking `watched` there).
async fn atomic(core: &Rc<Core>, shard: ShardId, watched: Vec<Watched>, plans: Vec<Plan>) -> Reply {
    let mut ops = Vec::new();
    let mut parts = Vec::with_capacity(plans.len());
    for p in plans {
        parts.push(match p {
            Plan::Reply(r) => Part::Ready(r),
            Plan::One { op, finish, .. } => {
                ops.push(op);
                Part::One(finish, ops.len() - 1)
            }
            Plan::Many { parts, finish } => {
                let mut idx = Vec::with_capacity(parts.len());
                for (_, op) in parts {
                    ops.push(op);
                    idx.push(ops.len() - 1);
                }
                Part::Many(finish, idx)
            }
            Plan::Async(_) | Plan::Block(_) => {
                Part::Ready(Reply::error("ERR internal: async plan"))
            }
        });
    }
    let op = if watched.is_empty() {
        Op::Multi(ops)
    } else {
        Op::Exec { watched, ops }
    };
    let mut results: Vec<Option<OpResult<Output>>> = match core.call_one(shard, op).await {
        Ok(Output::Multi(rs)) => rs.into_iter().map(Some).collect(),
        Ok(Output::Nil) => return Reply::NilArray,
        Ok(_) => return Reply::error("ERR unexpected EXEC result"),
        Err(e) => return op_error_reply(&e),
    };
    let mut take = |i: usize| {
        results
            .get_mut(i)
            .and_then(Option::take)
            .unwrap_or(Err(OpError::Storage("reply lost".into())))
    };
    Reply::Array(
        parts
            .into_iter()
            .map(|p| match p {
                Part::Ready(r) => r,
                Part::One(f, i) => f(take(i)),
                Part::Many(f, idx) => f(idx.into_iter().map(&mut take).collect()),
            })
            .collect(),
    )
}

/// Runs plans that span shards one after the other (not atomic).
async fn in_order(core: &Rc<Core>, plans: Vec<Plan>) -> Reply {
    let mut replies = Vec::with_capacity(plans.len());
    for p in plans {
        replies.push(super::run_plan(core, p).await);
    }
    Reply::Array(replies)
}
