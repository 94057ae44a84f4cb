//! Pops from the first of several zsets: ZMPOP, and the blocking BZPOPMIN,
//! BZPOPMAX and BZMPOP.
//!
//! The keys are tried in command order, in runs of consecutive keys on one
//! shard, each run one atomic op: with every key on one shard the command
//! is atomic, as in Redis; across shards a key is tried after the earlier
//! ones were found empty.
//!
//! Blocking pops never block a core (as the list family's do): they try
//! once and, while every key is empty, sleep on glommio's timer and poll
//! the keys with a read-only op, retrying the pop when one holds a zset,
//! until the timeout. Polls are reads, so an idle wait adds nothing to the
//! Raft log. Against Redis: a ZADD does not wake the client directly (it
//! is seen at the next poll, 1 ms growing to 10 ms apart), clients blocked
//! on one key are not served in FIFO order, and a client that disconnects
//! is only noticed when its wait ends.

use std::rc::Rc;
use std::time::Duration;
use std::time::Instant;

use bytes::Bytes;
use shardis_shards::core::Core;
use shardis_shards::error::OpError;
use shardis_shards::error::OpResult;
use shardis_shards::op::Op;
use shardis_shards::op::Output;
use shardis_shards::op::ZSetOp;
use shardis_shards::types::number;

use super::super::Ctx;
use super::super::Plan;
use super::super::args::int;
use super::super::args::is;
use super::super::blocking::PopKeys;
use super::super::output_reply;
use super::parse::err;
use super::reply::nested_pairs;
use super::reply::resp3;
use super::reply::score_reply;
use super::reply::split_pairs;
use crate::reply::CmdError;
use crate::reply::op_error_reply;
use crate::resp::Reply;

/// A pop from the first non-empty of several keys.
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
    Ok(block(ctx, pops, timeout, Shape::Flat))
}

/// BZMPOP timeout numkeys key [key ...] MIN|MAX [COUNT count]
pub(super) fn bzmpop(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    let (keys, max, count) = mpop_args(a, 2)?;
    let timeout = timeout(&a[1])?;
    let pops = Pops::new(ctx, &keys, max, count);
    Ok(block(ctx, pops, timeout, Shape::Nested))
}

/// A blocking timeout in seconds (a float) as Redis reads it: rounded up
/// to whole milliseconds; None for 0, which waits forever.
fn timeout(arg: &[u8]) -> Result<Option<Duration>, CmdError> {
    let secs = number::parse_f64(arg).ok_or(err("timeout is not a float or out of range"))?;
    let ms = (secs * 1000.0).ceil();
    if ms < 0.0 {
        return Err(err("timeout is negative"));
    }
    // `as` saturates: a huge timeout is as good as forever.
    Ok((ms > 0.0).then(|| Duration::from_millis(ms as u64)))
}

/// First and last pause between polls of a blocked client.
const FIRST_POLL: Duration = Duration::from_millis(1);
const MAX_POLL: Duration = Duration::from_millis(10);

/// Serves a blocking pop: one attempt, then polls until a key holds a zset
/// and the retried attempt succeeds, or until the timeout (a null array).
fn block(ctx: &Ctx<'_>, pops: Pops, timeout: Option<Duration>, shape: Shape) -> Plan {
    let core = ctx.cx.core.clone();
    let resp3 = resp3(ctx);
    // Inside MULTI/EXEC a blocking command never blocks (Redis).
    let once = ctx.conn.in_exec;
    let shared = ctx.cx.shared.clone();
    let info = ctx.conn.info.clone();
    Plan::Block(Box::pin(async move {
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        let mut pause = FIRST_POLL;
        let mut first_try = true;
        let mut counted = None;
        // Out of flight from the first miss on; each retry waits while a
        // script holds the node and is in flight while it pops (see
        // list.rs `block`).
        let mut paused = None;
        loop {
            let in_flight = match paused {
                Some(_) => Some(shared.script.enter_when_free(core.id.0, pause).await),
                None => None,
            };
            let attempt = pops.attempt(&core, first_try).await;
            drop(in_flight);
            match attempt {
                Ok(Output::Nil) if once => return Reply::NilArray,
                Ok(Output::Nil) => {}
                r => return popped_reply(r, shape, resp3),
            }
            first_try = false;
            if paused.is_none() {
                paused = Some(shared.script.pause(core.id.0));
            }
            if counted.is_none() {
                counted = Some(crate::cmd::blocking::Counted::new(&shared));
            }
            // All keys on one shard: wait in line there, woken by writes.
            if let [(shard, keys)] = pops.keys.runs.as_slice() {
                let attempts = keys
                    .iter()
                    .map(|k| (k.clone(), pops.op(vec![k.clone()], false)))
                    .collect();
                let r =
                    crate::cmd::blocking::wait_on_shard(&core, &info, *shard, attempts, deadline)
                        .await;
                return match r {
                    Ok(Output::Nil) => Reply::NilArray,
                    r => popped_reply(r, shape, resp3),
                };
            }
            loop {
                let wait = match deadline {
                    Some(end) => match end.checked_duration_since(Instant::now()) {
                        Some(left) if !left.is_zero() => pause.min(left),
                        _ => return Reply::NilArray,
                    },
                    None => pause,
                };
                glommio::timer::sleep(wait).await;
                pause = (pause * 2).min(MAX_POLL);
                match pops.ready(&core).await {
                    Ok(true) => break,
                    // An election in progress: keep waiting for a leader.
                    Ok(false) | Err(OpError::NoLeader) => {}
                    Err(e) => return op_error_reply(&e),
                }
            }
        }
    }))
}
