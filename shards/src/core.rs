//! The per-core runtime around a [`Shard`]: runs op batches for local
//! connections and for other cores (its inbox), commits the tick's writes,
//! and drives the fsync policy and active expiry.
//!
//! Everything here lives on one glommio executor. `RefCell` borrows are
//! never held across an `.await`.

use std::cell::Cell;
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use rocksdb::DB;

use crate::durability::Durability;
use crate::durability::FsyncPolicy;
use crate::error::OpError;
use crate::error::OpResult;
use crate::msg::OpResults;
use crate::msg::ShardMsg;
use crate::op::Op;
use crate::op::Output;
use crate::outbox::Outbox;
use crate::outbox::ReplySlot;
use crate::router::Router;
use crate::shard::Shard;
use crate::shard::ShardStats;
use crate::slot::ShardId;

/// Current unix time in milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// How often active expiry runs, and how many keys one round may remove.
const EXPIRE_PERIOD: Duration = Duration::from_millis(100);
const EXPIRE_BATCH: usize = 200;

/// A batch of ops handed to a shard whose results are not collected yet.
pub enum Pending {
    /// Ran here; waits only for durability (the ticket, under `always`).
    Local(OpResults, Option<u64>),
    /// Queued for another core; the reply arrives once durable there.
    Remote(Rc<ReplySlot>),
}

pub struct Core {
    pub id: ShardId,
    pub router: Router,
    outbox: Rc<Outbox>,
    shard: RefCell<Shard>,
    durability: Rc<Durability>,
    /// Number of the write batch this tick is filling; earlier ones are committed.
    batch_seq: Cell<u64>,
    /// Batch number of the latest write op (0: none yet).
    last_write_seq: Cell<u64>,
    commit_scheduled: Cell<bool>,
}

/// Pending writes above this size are committed before the tick ends, so a
/// pipeline of large writes cannot pile up memory in one batch.
const MAX_PENDING_BYTES: usize = 8 << 20;

impl Core {
    /// Builds core `id`'s runtime and starts its inbox, expiry and fsync
    /// fibers. Must run on that core's executor.
    pub fn start(
        id: ShardId,
        db: Arc<DB>,
        router: Router,
        inbox: flume::Receiver<ShardMsg>,
        policy: FsyncPolicy,
        cache_bytes: usize,
    ) -> Result<Rc<Core>, OpError> {
        let shard = Shard::open(id, db.clone(), cache_bytes)?;
        let durability = Durability::start(db, policy, id.0).map_err(|e| OpError::Storage(e.to_string()))?;
        let core = Rc::new(Core {
            id,
            outbox: Outbox::new(router.clone()),
            router,
            shard: RefCell::new(shard),
            durability,
            batch_seq: Cell::new(1),
            last_write_seq: Cell::new(0),
            commit_scheduled: Cell::new(false),
        });
        glommio::spawn_local(serve_inbox(Rc::downgrade(&core), inbox)).detach();
        glommio::spawn_local(active_expiry(Rc::downgrade(&core))).detach();
        if policy == FsyncPolicy::EverySec {
            glommio::spawn_local(fsync_every_second(Rc::downgrade(&core))).detach();
        }
        Ok(core)
    }

    pub fn stats(&self) -> ShardStats {
        self.shard.borrow().stats()
    }

    pub fn durability(&self) -> &Durability {
        &self.durability
    }

    /// Runs `ops` on this core's shard in order. Returns the results and,
    /// under `always`, the batch ticket the replies must wait for.
    fn run_local(self: &Rc<Self>, ops: Vec<Op>) -> (OpResults, Option<u64>) {
        let now = now_ms();
        let mut wrote = false;
        let mut results = Vec::with_capacity(ops.len());
        for op in ops {
            let write = op.is_write();
            if write {
                // Checked per op: an earlier op of this batch may have failed.
                if let Some(e) = self.durability.failure() {
                    results.push(Err(OpError::Storage(e)));
                    continue;
                }
            }
            let (r, big) = {
                let mut shard = self.shard.borrow_mut();
                let r = shard.execute(op, now);
                (r, shard.pending_bytes() > MAX_PENDING_BYTES)
            };
            if let Err(OpError::Storage(e)) = &r {
                self.durability.fail(e.clone());
            }
            if write {
                wrote = true;
                self.last_write_seq.set(self.batch_seq.get());
            }
            results.push(r);
            if big {
                // Bound the tick's pending writes: commit now, keep going.
                self.commit_now();
            }
        }
        if wrote {
            self.schedule_commit();
        }
        if self.durability.policy() != FsyncPolicy::Always {
            return (results, None);
        }
        // Under `always` no reply leaves before the writes it may have
        // observed are on disk, reads included (Redis fsyncs in beforeSleep,
        // before it writes any reply).
        let last = self.last_write_seq.get();
        let ticket = (last > self.durability.durable()).then_some(last);
        (results, ticket)
    }

    /// Starts `ops` on `shard`: runs them now when the shard is this
    /// core's, else queues them for its core (sent once per tick with every
    /// other connection's ops for that shard).
    pub fn submit(self: &Rc<Self>, shard: ShardId, ops: Vec<Op>) -> Pending {
        if shard == self.id {
            let (results, ticket) = self.run_local(ops);
            return Pending::Local(results, ticket);
        }
        Pending::Remote(self.outbox.push(shard, ops))
    }

    /// Results of a submitted batch, once they may be sent to a client
    /// under the fsync policy.
    pub async fn finish(&self, pending: Pending) -> OpResults {
        match pending {
            Pending::Local(results, ticket) => self.settle(results, ticket).await,
            Pending::Remote(slot) => slot.wait().await,
        }
    }

    /// Runs `ops` on `shard` and waits for the results.
    pub async fn call(self: &Rc<Self>, shard: ShardId, ops: Vec<Op>) -> OpResults {
        let p = self.submit(shard, ops);
        self.finish(p).await
    }

    /// Convenience for one op.
    pub async fn call_one(self: &Rc<Self>, shard: ShardId, op: Op) -> OpResult<Output> {
        self.call(shard, vec![op]).await.pop().unwrap_or(Err(OpError::Storage("no result".into())))
    }

    /// Waits for `ticket` to be durable; on a storage failure every result
    /// becomes that error, since none of the writes may be acknowledged.
    async fn settle(&self, results: OpResults, ticket: Option<u64>) -> OpResults {
        match ticket {
            None => results,
            Some(t) => match self.durability.wait(t).await {
                Ok(()) => results,
                Err(e) => results.into_iter().map(|_| Err(e.clone())).collect(),
            },
        }
    }

    /// Commits the tick's writes once the fibers that are ready now have run.
    fn schedule_commit(self: &Rc<Self>) {
        if self.commit_scheduled.replace(true) {
            return;
        }
        let core = self.clone();
        glommio::spawn_local(async move {
            futures_lite::future::yield_now().await;
            core.commit_now();
        })
        .detach();
    }

    fn commit_now(&self) {
        self.commit_scheduled.set(false);
        let seq = self.batch_seq.get();
        self.batch_seq.set(seq + 1);
        if self.durability.failure().is_some() {
            // A failed shard acknowledges nothing more; drop what is pending.
            self.shard.borrow_mut().discard_pending();
            return;
        }
        if let Err(e) = self.shard.borrow_mut().commit() {
            self.durability.fail(e.to_string());
            return;
        }
        if self.durability.policy() == FsyncPolicy::Always {
            self.durability.request(seq);
        }
    }

    /// Commits pending writes and syncs the WAL on the calling thread. Only
    /// for shutdown, when blocking the executor no longer matters.
    pub fn flush_blocking(&self) -> OpResult<()> {
        let mut shard = self.shard.borrow_mut();
        shard.commit()?;
        shard.sync_wal()
    }

    /// Runs a closure sent by another core.
    fn handle(self: &Rc<Self>, msg: ShardMsg) {
        match msg {
            ShardMsg::Ops { ops, reply } => {
                let (results, ticket) = self.run_local(ops);
                match ticket {
                    None => {
                        let _ = reply.send(results);
                    }
                    Some(_) => {
                        let core = self.clone();
                        glommio::spawn_local(async move {
                            let results = core.settle(results, ticket).await;
                            let _ = reply.send(results);
                        })
                        .detach();
                    }
                }
            }
            ShardMsg::Run(f) => f(),
        }
    }
}

/// Drains the inbox in batches: everything queued is handled before the
/// fiber waits again, so one wake-up serves many messages.
async fn serve_inbox(core: std::rc::Weak<Core>, inbox: flume::Receiver<ShardMsg>) {
    while let Ok(msg) = inbox.recv_async().await {
        let Some(core) = core.upgrade() else { return };
        core.handle(msg);
        while let Ok(more) = inbox.try_recv() {
            core.handle(more);
        }
    }
}

async fn active_expiry(core: std::rc::Weak<Core>) {
    loop {
        glommio::timer::sleep(EXPIRE_PERIOD).await;
        let Some(core) = core.upgrade() else { return };
        if core.durability.failure().is_some() {
            continue;
        }
        let res = core.shard.borrow_mut().expire_cycle(now_ms(), EXPIRE_BATCH);
        match res {
            Ok((removed, _)) if removed > 0 => {
                // The cycle committed its deletes itself; make them durable
                // with the next batch like any other write.
                core.schedule_commit();
            }
            Ok(_) => {}
            Err(e) => core.durability.fail(e.to_string()),
        }
    }
}

async fn fsync_every_second(core: std::rc::Weak<Core>) {
    loop {
        glommio::timer::sleep(Duration::from_secs(1)).await;
        let Some(core) = core.upgrade() else { return };
        core.durability.request(core.batch_seq.get() - 1);
    }
}
