//! What the blocking commands of every family share: INFO's
//! blocked_clients count, and waiting in line on a shard's core
//! (shards::blocking) when all of a command's keys live on that shard.

use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use bytes::Bytes;
use shardis_shards::core::Core;
use shardis_shards::error::OpResult;
use shardis_shards::op::Op;
use shardis_shards::op::Output;
use shardis_shards::slot::ShardId;

use super::Ctx;
use super::group_by_shard;
use crate::conn_state::ClientInfo;
use crate::shared::Shared;

/// Counts a client in INFO's blocked_clients while alive.
pub struct Counted(Arc<Shared>);

impl Counted {
    pub fn new(shared: &Arc<Shared>) -> Self {
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

/// Waits in line on `shard`'s core until one of `attempts` (per key, the
/// op that serves this client from it) succeeds, or the deadline passes
/// (Ok(Nil)). If this future is dropped (the client hung up), the shard is
/// told to forget the client.
pub async fn wait_on_shard(
    core: &Rc<Core>,
    info: &ClientInfo,
    shard: ShardId,
    attempts: Vec<(Bytes, Op)>,
    deadline: Option<Instant>,
) -> OpResult<Output> {
    struct Forget(Option<(Rc<Core>, ShardId, u64)>);
    impl Drop for Forget {
        fn drop(&mut self) {
            if let Some((core, shard, id)) = self.0.take() {
                // Fire and forget: the result is not needed.
                let _ = core.submit(shard, vec![Op::Unblock(id)]);
            }
        }
    }
    let id = next_block_id(core);
    let timeout_ms = match deadline {
        Some(d) => match d.checked_duration_since(Instant::now()) {
            // Rounded up: a client must never be answered before its timeout.
            Some(left) if !left.is_zero() => Some((left.as_micros() as u64).div_ceil(1000)),
            _ => return Ok(Output::Nil),
        },
        None => None,
    };
    let mut forget = Forget(Some((core.clone(), shard, id)));
    let op = Op::Block {
        id,
        attempts,
        timeout_ms,
    };
    // CLIENT UNBLOCK releases the client here rather than dropping this.
    info.unblock.set_target(Some((core.clone(), shard, id)));
    let r = core.call_one(shard, op).await;
    info.unblock.set_target(None);
    forget.0 = None;
    r
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
