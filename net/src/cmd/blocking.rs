//! What the blocking commands of every family share: the timeout
//! argument, the serving loop ([`block`]), INFO's blocked_clients count,
//! and waiting in line on a shard's core (shards::blocking) when all of a
//! command's keys live on that shard.

use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use std::time::Instant;

use bytes::Bytes;
use shardis_shards::core::Core;
use shardis_shards::error::OpError;
use shardis_shards::error::OpResult;
use shardis_shards::op::FirstTry;
use shardis_shards::op::Op;
use shardis_shards::op::Output;
use shardis_shards::slot::ShardId;
use shardis_shards::types::number;

use super::Ctx;
use super::Plan;
use super::group_by_shard;
use crate::conn_state::ClientInfo;
use crate::reply::CmdError;
use crate::reply::op_error_reply;
use crate::resp::Reply;
use crate::shared::Shared;

/// A blocking timeout in seconds (a float) as Redis reads it: rounded up
/// to whole milliseconds; None for 0, which waits forever. Redis 7.0 casts
/// the milliseconds to a signed 64-bit integer, which overflows to a
/// negative number for a timeout past 2^63 ms (1e300, inf): those answer
/// "timeout is negative" there, and so they do here.
pub fn timeout(arg: &[u8]) -> Result<Option<Duration>, CmdError> {
    let secs =
        number::parse_f64(arg).ok_or(CmdError::Text("timeout is not a float or out of range"))?;
    let ms = (secs * 1000.0).ceil();
    if ms < 0.0 || ms >= i64::MAX as f64 {
        return Err(CmdError::Text("timeout is negative"));
    }
    Ok((ms > 0.0).then(|| Duration::from_millis(ms as u64)))
}

/// What a family's blocking command does, for [`block`].
pub(crate) trait Blocking: Clone + 'static {
    /// One try: Nil while every key is empty. `strict` on the command's
    /// first try only (a key of another type is WRONGTYPE there, as in
    /// Redis; a retry skips it).
    async fn attempt(&self, core: &Rc<Core>, strict: bool) -> OpResult<Output>;
    /// Read-only: whether a retry may succeed now.
    async fn ready(&self, core: &Rc<Core>) -> OpResult<bool>;
    /// All keys it takes from on one shard: that shard and, per key, the
    /// op that serves the client from it (a retry's op).
    fn on_one_shard(&self) -> Option<(ShardId, Vec<(Bytes, Op)>)>;
    /// Whether an attempt, or a turn in line and what `served` does after
    /// it, must run to its end even if the client hangs up meanwhile: a
    /// pop-then-push across shards (BLMOVE) must not stop between its
    /// steps. A plain pop stops with its client instead, so an element is
    /// not popped from a later shard for nobody.
    fn finish_if_dropped(&self) -> bool {
        false
    }

    /// The first try as the shard makes it once the client is in line
    /// (see `shardis_shards::op::FirstTry`), when the command can make
    /// it there: every key on `on_one_shard`'s shard, and nothing to check
    /// elsewhere first. None: the first try runs before the client gets
    /// in line (a move across shards checks its destination's type on
    /// the other shard before it pops).
    fn first_in_line(&self) -> Option<FirstTry> {
        None
    }

    /// What a client served in line on one shard answers: by default what
    /// the shard's op gave it. A move across shards pushes the element
    /// its turn popped on here.
    async fn served(&self, core: &Rc<Core>, out: Output) -> OpResult<Output> {
        let _ = core;
        Ok(out)
    }
}

/// First and last pause between polls of a blocked client whose keys
/// span shards.
const FIRST_POLL: Duration = Duration::from_millis(1);
const MAX_POLL: Duration = Duration::from_millis(10);

/// Serves a blocking command: one attempt, then waits until a retry
/// succeeds (answered by `reply`) or the timeout passes (a null array).
/// With every key it takes from on one shard (a move across shards
/// included: it takes from its source) the client waits in line on that
/// shard's core and is woken by the writes (see [`Line::wait`]); when
/// the command can make its first try there too
/// ([`Blocking::first_in_line`]), it gets in line first and the shard
/// makes the first try, so clients get in line in the order their
/// commands reached the shard;
/// otherwise it polls the keys with a read-only op, 1 ms growing to 10 ms
/// apart, so an idle wait adds nothing to the Raft log, and is served
/// within one poll interval, not in FIFO order.
pub(crate) fn block<B: Blocking>(
    ctx: &Ctx<'_>,
    what: B,
    timeout: Option<Duration>,
    reply: impl Fn(OpResult<Output>) -> Reply + 'static,
) -> Plan {
    // Plan::Block: the connection drops the wait when the client hangs up.
    let core = ctx.cx.core.clone();
    // Inside MULTI/EXEC a blocking command never blocks (Redis).
    let once = ctx.conn.in_exec;
    let shared = ctx.cx.shared.clone();
    let info = ctx.conn.info.clone();
    Plan::Block(Box::pin(async move {
        let mut counted = None;
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        let mut pause = FIRST_POLL;
        let mut first_try = true;
        // Out of flight from the first miss on (from the start when the
        // shard makes the first try): waiting is not work a script has to
        // wait for (the connection is in flight until then).
        let mut paused = None;
        let line = |shard| Line {
            core: &core,
            shared: &shared,
            info: &info,
            shard,
        };
        // Every key on one shard: get in line there at once, and let the
        // shard make the first try, so a client that sent its command
        // later cannot get in line first while this one's first try is on
        // its way (one hop, not a round trip and a Raft write, is all the
        // room left for that).
        if !once
            && let Some((shard, attempts)) = what.on_one_shard()
            && let Some(first) = what.first_in_line()
        {
            let _paused = shared.script.pause(core.id.0);
            return line(shard)
                .answer(&what, attempts, deadline, Some(first), &reply)
                .await;
        }
        loop {
            // A retry waits while a script holds the node: Redis serves
            // blocked clients only once a script has ended. In flight while
            // it pops, so a script that starts meanwhile waits for it.
            let in_flight = match paused {
                Some(_) => Some(shared.script.enter_when_free(core.id.0, pause).await),
                None => None,
            };
            let attempt = if what.finish_if_dropped() {
                // A task of its own: if the client hangs up and this
                // future is dropped, the attempt still finishes.
                let (what, core) = (what.clone(), core.clone());
                glommio::spawn_local(async move { what.attempt(&core, first_try).await })
                    .detach()
                    .await
                    .unwrap_or_else(|| Err(OpError::Storage("attempt cancelled".into())))
            } else {
                what.attempt(&core, first_try).await
            };
            drop(in_flight);
            match attempt {
                Ok(Output::Nil) if once => return Reply::NilArray,
                Ok(Output::Nil) => {}
                r => return reply(r),
            }
            first_try = false;
            if paused.is_none() {
                paused = Some(shared.script.pause(core.id.0));
            }
            // In line, the shard counts the client in blocked_clients.
            if let Some((shard, attempts)) = what.on_one_shard() {
                return line(shard)
                    .answer(&what, attempts, deadline, None, &reply)
                    .await;
            }
            if counted.is_none() {
                counted = Some(Counted::new(&shared));
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
                match what.ready(&core).await {
                    Ok(true) => break,
                    // An election in progress: keep waiting for a leader.
                    Ok(false) | Err(OpError::NoLeader) => {}
                    Err(e) => return op_error_reply(&e),
                }
            }
        }
    }))
}

/// Counts a polling client in INFO's blocked_clients while alive.
struct Counted(Arc<Shared>);

impl Counted {
    fn new(shared: &Arc<Shared>) -> Self {
        shared.blocked.fetch_add(1, Ordering::Relaxed);
        Counted(shared.clone())
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.blocked.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Ids of blocked clients: unique per node (core id in the top bits).
fn next_block_id(core: &Core) -> u64 {
    thread_local! {
        static NEXT: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
    }
    let n = NEXT.with(|c| {
        c.set(c.get() + 1);
        c.get()
    });
    ((core.id.0 as u64) << 48) | (n & ((1 << 48) - 1))
}

/// Where a blocked client waits in line: `shard`'s core, seen from the
/// client's core.
struct Line<'a> {
    core: &'a Rc<Core>,
    shared: &'a Arc<Shared>,
    info: &'a ClientInfo,
    shard: ShardId,
}

impl Line<'_> {
    /// [`Self::wait`], answered: a null array once the deadline passes,
    /// else what `reply` makes of the result.
    async fn answer<B: Blocking>(
        &self,
        what: &B,
        attempts: Vec<(Bytes, Op)>,
        deadline: Option<Instant>,
        first: Option<FirstTry>,
        reply: &impl Fn(OpResult<Output>) -> Reply,
    ) -> Reply {
        match self.wait(what, attempts, deadline, first).await {
            Ok(Output::Nil) => Reply::NilArray,
            r => reply(r),
        }
    }

    /// Waits in line until one of `attempts` (per key, the op that serves
    /// this client from it) succeeds, then finishes the command with
    /// `what.served`; Ok(Nil) once the deadline passes. With `first`, the
    /// shard makes the command's first try once the client is in line (a
    /// deadline already past still gets it, with a zero timeout after). If this future is
    /// dropped (the client hung up), the shard is told to forget the
    /// client. A command that must finish once started
    /// (`finish_if_dropped`: a move across shards, whose turn pops the
    /// element) runs its turn and its push as a task of its own, so a
    /// hang-up cannot drop the element between them.
    async fn wait<B: Blocking>(
        &self,
        what: &B,
        attempts: Vec<(Bytes, Op)>,
        deadline: Option<Instant>,
        first: Option<FirstTry>,
    ) -> OpResult<Output> {
        struct Forget(Option<(Rc<Core>, ShardId, u64)>);
        impl Drop for Forget {
            fn drop(&mut self) {
                if let Some((core, shard, id)) = self.0.take() {
                    // Fire and forget: the result is not needed. Harmless
                    // once the shard has served the client.
                    let _ = core.submit(shard, vec![Op::Unblock(id)]);
                }
            }
        }
        let (core, shard) = (self.core, self.shard);
        let id = next_block_id(core);
        let timeout_ms = match deadline {
            Some(d) => match d.checked_duration_since(Instant::now()) {
                // Rounded up: a client must never be answered before its timeout.
                Some(left) if !left.is_zero() => Some((left.as_micros() as u64).div_ceil(1000)),
                // Past already: the first try, if the shard makes it, is
                // still owed; then nothing more.
                _ if first.is_some() => Some(0),
                _ => return Ok(Output::Nil),
            },
            None => None,
        };
        let mut forget = Forget(Some((core.clone(), shard, id)));
        let finishes_elsewhere = what.finish_if_dropped();
        let op = Op::Block {
            id,
            attempts,
            timeout_ms,
            first: first.map(Box::new),
            finishes_elsewhere,
        };
        // CLIENT UNBLOCK releases the client here rather than dropping
        // this, until the command has finished (a move's push included).
        self.info
            .unblock
            .set_target(Some((core.clone(), shard, id)));
        let turn = {
            let (what, core, shared) = (what.clone(), core.clone(), self.shared.clone());
            async move {
                match core.call_one(shard, op).await {
                    Ok(Output::Nil) => Ok(Output::Nil),
                    // In flight while it finishes. A move across shards
                    // is still counted as a running try, from its pop on
                    // the shard until its push here is done, so a script
                    // never sees the element in neither list.
                    Ok(out) => {
                        let _in_flight = shared.script.enter(core.id.0);
                        let r = what.served(&core, out).await;
                        if finishes_elsewhere {
                            core.router.end_try();
                        }
                        r
                    }
                    Err(e) => Err(e),
                }
            }
        };
        let r = if what.finish_if_dropped() {
            glommio::spawn_local(turn)
                .detach()
                .await
                .unwrap_or_else(|| Err(OpError::Storage("blocked move cancelled".into())))
        } else {
            turn.await
        };
        self.info.unblock.set_target(None);
        forget.0 = None;
        r
    }
}

/// The keys of a pop from the first non-empty of several keys (BLPOP,
/// LMPOP, BZPOPMIN, ZMPOP ...), as the shards hold them.
#[derive(Clone)]
pub struct PopKeys {
    /// Consecutive keys on one shard, in command order: attempts follow
    /// it, so the first non-empty key in the command's order wins.
    pub runs: Vec<(ShardId, Vec<Bytes>)>,
    /// Every key per shard, for the read-only polls.
    pub by_shard: Vec<(ShardId, Vec<Bytes>)>,
}

impl PopKeys {
    pub fn new(ctx: &Ctx<'_>, keys: &[Bytes]) -> PopKeys {
        let router = &ctx.cx.core.router;
        let mut runs: Vec<(ShardId, Vec<Bytes>)> = Vec::new();
        for k in keys {
            let s = router.shard_of_key(k);
            match runs.last_mut() {
                Some((last, run)) if *last == s => run.push(k.clone()),
                _ => runs.push((s, vec![k.clone()])),
            }
        }
        let by_shard = group_by_shard(ctx, keys)
            .into_iter()
            .map(|(s, idx)| (s, idx.into_iter().map(|i| keys[i].clone()).collect()))
            .collect();
        PopKeys { runs, by_shard }
    }

    /// Read-only poll: whether one of the keys holds an element now. Asks
    /// every shard at once, with the op `probe` builds for its keys (the
    /// family's `AnyNonEmpty`, which answers 1 when one does).
    pub async fn any_ready(
        &self,
        core: &Rc<Core>,
        probe: impl Fn(Vec<Bytes>) -> Op,
    ) -> OpResult<bool> {
        let pending: Vec<_> = self
            .by_shard
            .iter()
            .map(|(s, keys)| core.submit(*s, vec![probe(keys.clone())]))
            .collect();
        let mut ready = Ok(false);
        for p in pending {
            for r in core.finish(p).await {
                match r {
                    Ok(Output::Int(1)) => ready = ready.map(|_| true),
                    Ok(_) => {}
                    Err(e) => ready = Err(e),
                }
            }
        }
        ready
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_follow_redis() {
        assert_eq!(timeout(b"0"), Ok(None));
        assert_eq!(timeout(b"1.5"), Ok(Some(Duration::from_millis(1500))));
        assert_eq!(timeout(b"0.0001"), Ok(Some(Duration::from_millis(1))));
        // ceil(-0.1 ms) is 0: Redis waits forever rather than complain.
        assert_eq!(timeout(b"-0.0001"), Ok(None));
        assert_eq!(timeout(b"-1"), Err(CmdError::Text("timeout is negative")));
        assert_eq!(
            timeout(b"abc"),
            Err(CmdError::Text("timeout is not a float or out of range"))
        );
        // Past 2^63 ms Redis 7.0's cast overflows to a negative timeout.
        let negative = Err(CmdError::Text("timeout is negative"));
        assert_eq!(timeout(b"1e300"), negative);
        assert_eq!(timeout(b"inf"), negative);
        assert_eq!(timeout(b"-inf"), negative);
        assert!(timeout(b"9.2e15").unwrap().is_some());
    }
}
