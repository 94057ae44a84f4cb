//! List commands.
//!
//! Single-key commands are one op on the key's shard. LMOVE/RPOPLPUSH with
//! both keys on one shard is one atomic op; across shards it reads both
//! keys' types, pops from the source, then pushes to the destination.
//!
//! Blocking commands (BLPOP, BRPOP, BLMPOP, BLMOVE, BRPOPLPUSH) never block
//! a core: they are served by `blocking::block`, which waits in line on the
//! keys' shard (woken by pushes, FIFO per key) when they share one, and
//! polls otherwise.
//! Across shards LMOVE is two steps, so a reader may briefly see the
//! element in neither list.

use std::rc::Rc;

use bytes::Bytes;
use shardis_shards::core::Core;
use shardis_shards::error::OpError;
use shardis_shards::error::OpResult;
use shardis_shards::op::FirstTry;
use shardis_shards::op::ListOp;
use shardis_shards::op::Op;
use shardis_shards::op::Output;
use shardis_shards::slot::ShardId;
use shardis_shards::types::number;

use super::CommandSpec;
use super::Ctx;
use super::Plan;
use super::args::int;
use super::args::is;
use super::blocking::Blocking;
use super::blocking::PopKeys;
use super::blocking::block;
use super::blocking::timeout;
use super::on_key;
use super::output_reply;
use crate::reply::CmdError;
use crate::resp::Reply;

const GROUP: &str = "list";

pub static COMMANDS: &[CommandSpec] = &[
    spec!("lpush", -3, ["write", "denyoom", "fast"], 1, 1, 1, lpush),
    spec!("rpush", -3, ["write", "denyoom", "fast"], 1, 1, 1, rpush),
    spec!("lpushx", -3, ["write", "denyoom", "fast"], 1, 1, 1, lpushx),
    spec!("rpushx", -3, ["write", "denyoom", "fast"], 1, 1, 1, rpushx),
    spec!("lpop", -2, ["write", "fast"], 1, 1, 1, lpop),
    spec!("rpop", -2, ["write", "fast"], 1, 1, 1, rpop),
    spec!("llen", 2, ["readonly", "fast"], 1, 1, 1, llen),
    spec!("lrange", 4, ["readonly"], 1, 1, 1, lrange),
    spec!("lindex", 3, ["readonly"], 1, 1, 1, lindex),
    spec!("lset", 4, ["write", "denyoom"], 1, 1, 1, lset),
    spec!("linsert", 5, ["write", "denyoom"], 1, 1, 1, linsert),
    spec!("lrem", 4, ["write"], 1, 1, 1, lrem),
    spec!("ltrim", 4, ["write"], 1, 1, 1, ltrim),
    spec!("lpos", -3, ["readonly"], 1, 1, 1, lpos),
    spec!("lmove", 5, ["write", "denyoom"], 1, 2, 1, lmove),
    spec!("rpoplpush", 3, ["write", "denyoom"], 1, 2, 1, rpoplpush),
    spec!("lmpop", -4, ["write", "movablekeys"], 0, 0, 0, lmpop),
    spec!(
        "blpop",
        -3,
        ["write", "noscript", "blocking"],
        1,
        -2,
        1,
        blpop
    ),
    spec!(
        "brpop",
        -3,
        ["write", "noscript", "blocking"],
        1,
        -2,
        1,
        brpop
    ),
    spec!(
        "blmove",
        6,
        ["write", "denyoom", "noscript", "blocking"],
        1,
        2,
        1,
        blmove
    ),
    spec!(
        "brpoplpush",
        4,
        ["write", "denyoom", "noscript", "blocking"],
        1,
        2,
        1,
        brpoplpush
    ),
    spec!(
        "blmpop",
        -5,
        ["write", "blocking", "movablekeys"],
        0,
        0,
        0,
        blmpop
    ),
];

fn list_op(ctx: &Ctx<'_>, key: &Bytes, op: ListOp) -> Plan {
    on_key(ctx, key, Op::Lists(op), output_reply)
}

/// A null array where the op found no key (`LPOP key count`, LMPOP).
fn nil_array_reply(r: OpResult<Output>) -> Reply {
    match r {
        Ok(Output::Nil) => Reply::NilArray,
        other => output_reply(other),
    }
}

/// A non-negative integer, else Redis's `msg` (also for a non-integer,
/// as `getPositiveLongFromObjectOrReply` does).
fn non_negative(arg: &[u8], msg: &'static str) -> Result<u64, CmdError> {
    match number::parse_i64(arg) {
        Some(v) if v >= 0 => Ok(v as u64),
        _ => Err(CmdError::Text(msg)),
    }
}

/// A positive integer, else `msg` (`getRangeLongFromObjectOrReply(1, LONG_MAX)`).
fn positive(arg: &[u8], msg: &'static str) -> Result<u64, CmdError> {
    match non_negative(arg, msg)? {
        0 => Err(CmdError::Text(msg)),
        v => Ok(v),
    }
}

/// LEFT (true) or RIGHT.
fn side(arg: &[u8]) -> Result<bool, CmdError> {
    if is(arg, "left") {
        Ok(true)
    } else if is(arg, "right") {
        Ok(false)
    } else {
        Err(CmdError::Syntax)
    }
}

fn push(ctx: &Ctx<'_>, a: &[Bytes], left: bool, only_existing: bool) -> Result<Plan, CmdError> {
    let op = ListOp::Push {
        key: a[1].clone(),
        elements: a[2..].to_vec(),
        left,
        only_existing,
    };
    Ok(list_op(ctx, &a[1], op))
}

fn lpush(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    push(ctx, a, true, false)
}

fn rpush(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    push(ctx, a, false, false)
}

fn lpushx(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    push(ctx, a, true, true)
}

fn rpushx(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    push(ctx, a, false, true)
}

/// LPOP/RPOP key [count]: without a count one bulk (nil when absent);
/// with one an array (a null array when absent, empty for count 0).
fn pop(ctx: &Ctx<'_>, a: &[Bytes], left: bool, name: &str) -> Result<Plan, CmdError> {
    if a.len() > 3 {
        return Err(CmdError::WrongArity(name.into()));
    }
    let count = match a.get(2) {
        Some(c) => Some(non_negative(c, "value is out of range, must be positive")?),
        None => None,
    };
    let op = Op::Lists(ListOp::Pop {
        key: a[1].clone(),
        left,
        count,
    });
    let finish = if count.is_some() {
        nil_array_reply
    } else {
        output_reply
    };
    Ok(on_key(ctx, &a[1], op, finish))
}

fn lpop(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    pop(ctx, a, true, "lpop")
}

fn rpop(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    pop(ctx, a, false, "rpop")
}

fn llen(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    Ok(list_op(ctx, &a[1], ListOp::Len(a[1].clone())))
}

fn lrange(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    let (start, stop) = (int(&a[2])?, int(&a[3])?);
    let op = ListOp::Range {
        key: a[1].clone(),
        start,
        stop,
    };
    Ok(list_op(ctx, &a[1], op))
}

/// LINDEX and LSET parse their index only after the key checks, so a bad
/// index travels as None and the shard reports it in Redis's order.
fn lindex(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    let op = ListOp::Index {
        key: a[1].clone(),
        index: number::parse_i64(&a[2]),
    };
    Ok(list_op(ctx, &a[1], op))
}

fn lset(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    let op = ListOp::Set {
        key: a[1].clone(),
        index: number::parse_i64(&a[2]),
        element: a[3].clone(),
    };
    Ok(list_op(ctx, &a[1], op))
}

fn linsert(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    let before = if is(&a[2], "before") {
        true
    } else if is(&a[2], "after") {
        false
    } else {
        return Err(CmdError::Syntax);
    };
    let op = ListOp::Insert {
        key: a[1].clone(),
        before,
        pivot: a[3].clone(),
        element: a[4].clone(),
    };
    Ok(list_op(ctx, &a[1], op))
}

fn lrem(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    let op = ListOp::Rem {
        key: a[1].clone(),
        count: int(&a[2])?,
        element: a[3].clone(),
    };
    Ok(list_op(ctx, &a[1], op))
}

fn ltrim(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    let (start, stop) = (int(&a[2])?, int(&a[3])?);
    let op = ListOp::Trim {
        key: a[1].clone(),
        start,
        stop,
    };
    Ok(list_op(ctx, &a[1], op))
}

/// LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len].
fn lpos(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    let (mut rank, mut count, mut maxlen) = (1, None, 0);
    let mut j = 3;
    while j < a.len() {
        let value = a.get(j + 1);
        match value {
            Some(v) if is(&a[j], "rank") => {
                rank = int(v)?;
                if rank == 0 {
                    return Err(CmdError::Text(
                        "RANK can't be zero: use 1 to start from the first match, 2 from the \
                         second ... or use negative to start from the end of the list",
                    ));
                }
            }
            Some(v) if is(&a[j], "count") => {
                count = Some(non_negative(v, "COUNT can't be negative")?);
            }
            Some(v) if is(&a[j], "maxlen") => {
                maxlen = non_negative(v, "MAXLEN can't be negative")?;
            }
            _ => return Err(CmdError::Syntax),
        }
        j += 2;
    }
    let op = ListOp::Pos {
        key: a[1].clone(),
        element: a[2].clone(),
        rank,
        count,
        maxlen,
    };
    Ok(list_op(ctx, &a[1], op))
}

/// One LMOVE: the keys and ends, with the shards that own the keys.
#[derive(Clone)]
struct Move {
    src: Bytes,
    dst: Bytes,
    from: ShardId,
    to: ShardId,
    from_left: bool,
    to_left: bool,
}

impl Move {
    fn new(ctx: &Ctx<'_>, src: &Bytes, dst: &Bytes, from_left: bool, to_left: bool) -> Move {
        let router = &ctx.cx.core.router;
        Move {
            src: src.clone(),
            dst: dst.clone(),
            from: router.shard_of_key(src),
            to: router.shard_of_key(dst),
            from_left,
            to_left,
        }
    }

    fn same_shard_op(&self) -> Op {
        Op::Lists(ListOp::Move {
            src: self.src.clone(),
            dst: self.dst.clone(),
            from_left: self.from_left,
            to_left: self.to_left,
        })
    }

    /// Runs the move: the moved element, or Nil when the source is empty.
    /// Across shards the source is checked (absent: Nil) and so is the
    /// destination's type before anything is popped, as Redis orders its
    /// checks. Should the push still fail (the destination changed type
    /// in between), the element goes back where it came from.
    async fn run(&self, core: &Rc<Core>) -> OpResult<Output> {
        if self.from == self.to {
            return core.call_one(self.from, self.same_shard_op()).await;
        }
        let src_len = core.submit(self.from, vec![Op::Lists(ListOp::Len(self.src.clone()))]);
        let dst_len = core.submit(self.to, vec![Op::Lists(ListOp::Len(self.dst.clone()))]);
        let src_len = first(core.finish(src_len).await);
        let dst_len = first(core.finish(dst_len).await);
        if src_len? == Output::Int(0) {
            return Ok(Output::Nil);
        }
        dst_len?;
        let pop = ListOp::Pop {
            key: self.src.clone(),
            left: self.from_left,
            count: None,
        };
        match core.call_one(self.from, Op::Lists(pop)).await? {
            Output::Bulk(v) => self.push_popped(core, v).await,
            _ => Ok(Output::Nil),
        }
    }

    /// The second step of a move across shards: pushes `value`, already
    /// popped from the source, onto the destination. If that fails (a
    /// destination of another type), the element goes back where it came
    /// from and the client gets the error, as Redis does for a blocked
    /// BLMOVE it cannot serve.
    async fn push_popped(&self, core: &Rc<Core>, value: Bytes) -> OpResult<Output> {
        let push = |key: &Bytes, left| {
            Op::Lists(ListOp::Push {
                key: key.clone(),
                elements: vec![value.clone()],
                left,
                only_existing: false,
            })
        };
        match core.call_one(self.to, push(&self.dst, self.to_left)).await {
            Ok(_) => Ok(Output::Bulk(value.clone())),
            Err(e) => {
                let _ = core
                    .call_one(self.from, push(&self.src, self.from_left))
                    .await;
                Err(e)
            }
        }
    }
}

/// The result of a one-op batch.
fn first(results: Vec<OpResult<Output>>) -> OpResult<Output> {
    results
        .into_iter()
        .next()
        .unwrap_or(Err(OpError::Storage("no result".into())))
}

fn lmove_with(ctx: &Ctx<'_>, m: Move) -> Plan {
    if m.from == m.to {
        return Plan::One {
            shard: m.from,
            op: m.same_shard_op(),
            finish: output_reply,
        };
    }
    let core = ctx.cx.core.clone();
    Plan::Async(Box::pin(async move { output_reply(m.run(&core).await) }))
}

fn lmove(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    let (from_left, to_left) = (side(&a[3])?, side(&a[4])?);
    Ok(lmove_with(
        ctx,
        Move::new(ctx, &a[1], &a[2], from_left, to_left),
    ))
}

fn rpoplpush(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    Ok(lmove_with(ctx, Move::new(ctx, &a[1], &a[2], false, true)))
}

/// A pop from the first non-empty of several keys (BLPOP, LMPOP ...).
#[derive(Clone)]
struct MultiPop {
    keys: PopKeys,
    left: bool,
    /// None: reply `[key, element]`; Some: `[key, [elements]]`.
    count: Option<u64>,
}

impl MultiPop {
    fn new(ctx: &Ctx<'_>, keys: &[Bytes], left: bool, count: Option<u64>) -> MultiPop {
        MultiPop {
            keys: PopKeys::new(ctx, keys),
            left,
            count,
        }
    }

    /// One attempt: Nil when every key is empty. `strict`: a key of another
    /// type before the first list is WRONGTYPE (the command's first try).
    async fn run(&self, core: &Rc<Core>, strict: bool) -> OpResult<Output> {
        for (shard, keys) in &self.keys.runs {
            let op = ListOp::PopFirst {
                keys: keys.clone(),
                left: self.left,
                count: self.count,
                skip_wrong_type: !strict,
            };
            match core.call_one(*shard, Op::Lists(op)).await? {
                Output::Nil => {}
                out => return Ok(out),
            }
        }
        Ok(Output::Nil)
    }

    /// Read-only: whether one of the keys holds a list now.
    async fn ready(&self, core: &Rc<Core>) -> OpResult<bool> {
        self.keys
            .any_ready(core, |keys| Op::Lists(ListOp::AnyNonEmpty(keys)))
            .await
    }
}

/// What a blocked client waits to do.
#[derive(Clone)]
enum Blocked {
    Pop(MultiPop),
    Move(Move),
}

impl Blocking for Blocked {
    /// A move across shards pops, then pushes: it must not stop between.
    fn finish_if_dropped(&self) -> bool {
        matches!(self, Blocked::Move(m) if m.from != m.to)
    }

    /// When every key lives on one shard: that shard and, per key, the op
    /// that serves this client from it. The client then waits on that
    /// shard's core, in line with other clients (see shards::blocking).
    fn on_one_shard(&self) -> Option<(ShardId, Vec<(Bytes, Op)>)> {
        match self {
            Blocked::Pop(p) => {
                let [(shard, keys)] = p.keys.runs.as_slice() else {
                    return None;
                };
                let attempts = keys
                    .iter()
                    .map(|k| {
                        let op = ListOp::PopFirst {
                            keys: vec![k.clone()],
                            left: p.left,
                            count: p.count,
                            skip_wrong_type: true,
                        };
                        (k.clone(), Op::Lists(op))
                    })
                    .collect();
                Some((*shard, attempts))
            }
            // A retry skips a source of another type (the client waits on),
            // as Redis serves blocked clients from lists only.
            Blocked::Move(m) if m.from == m.to => {
                let serve = ListOp::ServeMove {
                    src: m.src.clone(),
                    dst: m.dst.clone(),
                    from_left: m.from_left,
                    to_left: m.to_left,
                };
                Some((m.from, vec![(m.src.clone(), Op::Lists(serve))]))
            }
            // Across shards the client still waits in line on the source's
            // shard, so pushes serve blocked moves and pops in the order
            // they blocked; its turn pops the element there (a key of
            // another type is skipped, as for BLPOP), and `served` pushes
            // it on.
            Blocked::Move(m) => {
                let pop = ListOp::PopFirst {
                    keys: vec![m.src.clone()],
                    left: m.from_left,
                    count: None,
                    skip_wrong_type: true,
                };
                Some((m.from, vec![(m.src.clone(), Op::Lists(pop))]))
            }
        }
    }

    /// A pop, or a move within one shard: the shard makes the first try
    /// once the client is in line. A key others wait on is only checked
    /// for its type (LLEN).
    fn first_in_line(&self) -> Option<FirstTry> {
        let len = |k: &Bytes| Op::Lists(ListOp::Len(k.clone()));
        match self {
            Blocked::Pop(p) => {
                let [(_, keys)] = p.keys.runs.as_slice() else {
                    return None;
                };
                let pop = |keys: Vec<Bytes>| {
                    Op::Lists(ListOp::PopFirst {
                        keys,
                        left: p.left,
                        count: p.count,
                        skip_wrong_type: false,
                    })
                };
                Some(FirstTry {
                    all: pop(keys.clone()),
                    keys: keys
                        .iter()
                        .map(|k| (pop(vec![k.clone()]), len(k)))
                        .collect(),
                })
            }
            Blocked::Move(m) if m.from == m.to => Some(FirstTry {
                all: m.same_shard_op(),
                keys: vec![(m.same_shard_op(), len(&m.src))],
            }),
            Blocked::Move(_) => None,
        }
    }

    async fn served(&self, core: &Rc<Core>, out: Output) -> OpResult<Output> {
        match (self, out) {
            // `[key, element]` from the source's pop.
            (Blocked::Move(m), Output::Array(mut kv)) if m.from != m.to && kv.len() == 2 => {
                match kv.pop() {
                    Some(Output::Bulk(v)) => m.push_popped(core, v).await,
                    _ => Err(OpError::Storage("unexpected pop result".into())),
                }
            }
            (_, out) => Ok(out),
        }
    }

    async fn attempt(&self, core: &Rc<Core>, first_try: bool) -> OpResult<Output> {
        match self {
            Blocked::Pop(p) => p.run(core, first_try).await,
            Blocked::Move(m) => m.run(core).await,
        }
    }

    async fn ready(&self, core: &Rc<Core>) -> OpResult<bool> {
        match self {
            Blocked::Pop(p) => p.ready(core).await,
            // Never polled: a move always waits in line on its source's
            // shard (`on_one_shard`). Answered anyway for the trait.
            Blocked::Move(m) => {
                let op = Op::Lists(ListOp::AnyNonEmpty(vec![m.src.clone()]));
                Ok(core.call_one(m.from, op).await? == Output::Int(1))
            }
        }
    }
}

fn bpop(ctx: &Ctx<'_>, a: &[Bytes], left: bool) -> Result<Plan, CmdError> {
    let timeout = timeout(&a[a.len() - 1])?;
    let pop = MultiPop::new(ctx, &a[1..a.len() - 1], left, None);
    Ok(block(ctx, Blocked::Pop(pop), timeout, output_reply))
}

fn blpop(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    bpop(ctx, a, true)
}

fn brpop(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    bpop(ctx, a, false)
}

fn blmove(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    let (from_left, to_left) = (side(&a[3])?, side(&a[4])?);
    let timeout = timeout(&a[5])?;
    let m = Move::new(ctx, &a[1], &a[2], from_left, to_left);
    Ok(block(ctx, Blocked::Move(m), timeout, output_reply))
}

fn brpoplpush(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    let timeout = timeout(&a[3])?;
    let m = Move::new(ctx, &a[1], &a[2], false, true);
    Ok(block(ctx, Blocked::Move(m), timeout, output_reply))
}

/// The arguments of LMPOP/BLMPOP after `numkeys` (at `a[at]`): the keys,
/// the side and the count (default 1), with Redis's checks in its order.
fn mpop_args(a: &[Bytes], at: usize) -> Result<(Vec<Bytes>, bool, u64), CmdError> {
    let numkeys = positive(&a[at], "numkeys should be greater than 0")?;
    let where_at = usize::try_from(numkeys)
        .ok()
        .and_then(|n| n.checked_add(at + 1))
        .filter(|&w| w < a.len())
        .ok_or(CmdError::Syntax)?;
    let left = side(&a[where_at])?;
    let mut count = None;
    let mut j = where_at + 1;
    while j < a.len() {
        match a.get(j + 1) {
            Some(v) if count.is_none() && is(&a[j], "count") => {
                count = Some(positive(v, "count should be greater than 0")?);
            }
            _ => return Err(CmdError::Syntax),
        }
        j += 2;
    }
    Ok((a[at + 1..where_at].to_vec(), left, count.unwrap_or(1)))
}

/// LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count].
fn lmpop(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    let (keys, left, count) = mpop_args(a, 1)?;
    let pop = MultiPop::new(ctx, &keys, left, Some(count));
    if let [(shard, keys)] = &pop.keys.runs[..] {
        let op = ListOp::PopFirst {
            keys: keys.clone(),
            left,
            count: Some(count),
            skip_wrong_type: false,
        };
        return Ok(Plan::One {
            shard: *shard,
            op: Op::Lists(op),
            finish: nil_array_reply,
        });
    }
    let core = ctx.cx.core.clone();
    Ok(Plan::Async(Box::pin(async move {
        nil_array_reply(pop.run(&core, true).await)
    })))
}

/// BLMPOP timeout numkeys key [key ...] LEFT|RIGHT [COUNT count].
fn blmpop(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    let (keys, left, count) = mpop_args(a, 2)?;
    let timeout = timeout(&a[1])?;
    let pop = MultiPop::new(ctx, &keys, left, Some(count));
    Ok(block(ctx, Blocked::Pop(pop), timeout, output_reply))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<Bytes> {
        s.split_whitespace()
            .map(|w| Bytes::copy_from_slice(w.as_bytes()))
            .collect()
    }

    #[test]
    fn mpop_arguments_follow_redis() {
        let a = args("lmpop 2 a b left count 3");
        assert_eq!(mpop_args(&a, 1), Ok((args("a b"), true, 3)));
        assert_eq!(
            mpop_args(&args("lmpop 1 a RIGHT"), 1),
            Ok((args("a"), false, 1))
        );
        let bad = |s: &str| mpop_args(&args(s), 1).unwrap_err();
        let numkeys = CmdError::Text("numkeys should be greater than 0");
        assert_eq!(bad("lmpop 0 a left"), numkeys);
        assert_eq!(bad("lmpop x a left"), numkeys);
        assert_eq!(bad("lmpop 3 a left"), CmdError::Syntax);
        assert_eq!(bad("lmpop 9223372036854775807 a left"), CmdError::Syntax);
        assert_eq!(bad("lmpop 1 a up"), CmdError::Syntax);
        assert_eq!(bad("lmpop 1 a left count"), CmdError::Syntax);
        assert_eq!(bad("lmpop 1 a left count 1 count 2"), CmdError::Syntax);
        assert_eq!(
            bad("lmpop 1 a left count 0"),
            CmdError::Text("count should be greater than 0")
        );
    }
}
