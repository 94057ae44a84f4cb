//! The per-core runtime around a [`Shard`] and its Raft group: runs op
//! batches for local connections and for other cores (its inbox), sends
//! every write through the group, and drives active expiry and the
//! once-a-second fsync of `everysec`.
//!
//! Reads run directly on the shard; each run of consecutive writes in a
//! batch becomes one Raft entry (`client_write`), applied by the state
//! machine through the same `Shard::execute`. Everything here lives on one
//! glommio executor; `RefCell` borrows are never held across an `.await`.

use std::cell::Cell;
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rocksdb::DB;

use crate::durability::Durability;
use crate::durability::FsyncPolicy;
use crate::error::OpError;
use crate::error::OpResult;
use crate::msg::OpResults;
use crate::msg::ShardMsg;
use crate::op::FirstTry;
use crate::op::Op;
use crate::op::Output;
use crate::outbox::Outbox;
use crate::outbox::ReplySlot;
use crate::raft::WriteRequest;
use crate::raft::log_store::RocksLogStore;
use crate::raft::node;
use crate::raft::node::ShardRaft;
use crate::raft::state_machine::ShardStateMachine;
use crate::router::Router;
use crate::shard::Shard;
use crate::shard::ShardStats;
use crate::slot::ShardId;
use crate::storage::data_cf;
use crate::storage::raft_cf;
use crate::watch::Watched;

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

/// How reads are ordered against writes (`--read-consistency`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadConsistency {
    /// Confirm leadership before reading: the leader lease when it is
    /// valid, else a ReadIndex round (default).
    Linearizable,
    /// The leader lease only; errors (TRYAGAIN) when it has lapsed.
    Lease,
    /// Read the local state machine without any check.
    Local,
}

impl std::str::FromStr for ReadConsistency {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "linearizable" => Ok(ReadConsistency::Linearizable),
            "lease" => Ok(ReadConsistency::Lease),
            "local" => Ok(ReadConsistency::Local),
            _ => Err(format!(
                "read-consistency must be linearizable, lease or local, not '{s}'"
            )),
        }
    }
}

/// How a shard runs.
#[derive(Debug, Clone, Copy)]
pub struct CoreOptions {
    pub policy: FsyncPolicy,
    pub reads: ReadConsistency,
    /// Read cache budget of this shard, bytes.
    pub cache_bytes: usize,
    /// Build a snapshot (and purge the log) after this many applied entries.
    pub snapshot_every: u64,
    /// How long applied writes may be held in memory before they are
    /// committed to RocksDB (see `storage::shard_store`).
    pub write_behind: Duration,
}

/// One leadership check shared by the reads of a tick.
#[derive(Default)]
struct ReadCheck {
    result: RefCell<Option<Result<(), OpError>>>,
    wakers: RefCell<Vec<std::task::Waker>>,
}

impl ReadCheck {
    fn complete(&self, r: Result<(), OpError>) {
        *self.result.borrow_mut() = Some(r);
        for w in self.wakers.borrow_mut().drain(..) {
            w.wake();
        }
    }

    async fn wait(&self) -> Result<(), OpError> {
        std::future::poll_fn(|cx| match self.result.borrow().as_ref() {
            Some(r) => std::task::Poll::Ready(r.clone()),
            None => {
                self.wakers.borrow_mut().push(cx.waker().clone());
                std::task::Poll::Pending
            }
        })
        .await
    }
}

/// A batch handed to a shard whose results are not collected yet.
pub struct Pending(Rc<ReplySlot>);

/// What INFO reports about a shard's Raft group.
#[derive(Debug, Clone)]
pub struct RaftStatus {
    pub role: String,
    pub term: u64,
    pub leader: Option<u64>,
    pub last_log_index: u64,
    pub committed: u64,
    pub applied: u64,
    pub snapshot: u64,
    pub purged: u64,
}

pub struct Core {
    pub id: ShardId,
    pub router: Router,
    outbox: Rc<Outbox>,
    shard: Rc<RefCell<Shard>>,
    durability: Rc<Durability>,
    raft: ShardRaft,
    reads: ReadConsistency,
    /// The read check of this tick that has not started yet, shared by
    /// every read that arrives before it starts.
    read_check: RefCell<Option<Rc<ReadCheck>>>,
    /// Seconds of `everysec` ticks requested so far.
    ticks: Cell<u64>,
    /// Writes of this tick from every connection, proposed as one entry.
    proposal: RefCell<Proposal>,
    /// A batch task is spawned and has not taken `proposal` yet.
    batch_spawned: Cell<bool>,
    /// How much of `proposal` (ops, waiters) had queued when an EXEC took
    /// the gate while a spawned batch had not yet taken it: that batch
    /// takes only this much, so writes that arrived after the EXEC wait.
    batch_cut: Cell<Option<(usize, usize)>>,
    /// Entries proposed and not yet applied (answered).
    in_flight: Cell<usize>,
    /// Transactions with WATCHed keys waiting for their check: while
    /// non-zero, new proposals are held back (see [`Core::exec`]).
    exec_gate: Cell<usize>,
    /// Clients blocked on this shard's keys.
    waiters: RefCell<crate::blocking::Waiters>,
}

/// How [`Core::fast_path`] took a batch.
enum Fast {
    /// Served at once.
    Done(OpResults),
    /// Joined this tick's proposal; the slot gets the results.
    Queued,
    /// Needs `Core::run` in a fiber of its own; true when the batch
    /// starts with an EXEC that already holds the exec gate.
    Slow(Vec<Op>, bool),
}

/// Writes waiting to be proposed together; each waiter's ops are
/// contiguous and in order, so one entry keeps every client's order.
#[derive(Default)]
struct Proposal {
    ops: Vec<Op>,
    waiters: Vec<(usize, Rc<ReplySlot>)>,
}

fn raft_err(e: impl std::fmt::Display) -> OpError {
    OpError::Storage(e.to_string())
}

impl Core {
    /// Builds core `id`'s runtime: opens its shard, starts its Raft group
    /// (initialising a one-member group on first start, replaying the log
    /// after a restart) and its inbox, expiry and fsync fibers. Must run on
    /// that core's executor.
    pub async fn start(
        id: ShardId,
        db: Arc<DB>,
        router: Router,
        inbox: flume::Receiver<ShardMsg>,
        opts: CoreOptions,
    ) -> Result<Rc<Core>, OpError> {
        let mut shard = Shard::open(id, db.clone(), opts.cache_bytes)?;
        shard.set_write_behind(opts.write_behind);
        let shard = Rc::new(RefCell::new(shard));
        let durability = Durability::start(db.clone(), opts.policy, id.0).map_err(raft_err)?;
        let log = RocksLogStore::new(
            db.clone(),
            raft_cf(id.0),
            opts.policy == FsyncPolicy::Always,
        )
        .map_err(raft_err)?;
        let sm = ShardStateMachine::new(shard.clone(), db, data_cf(id.0));
        let raft = node::start(log.clone(), sm, opts.snapshot_every)
            .await
            .map_err(OpError::Storage)?;
        glommio::spawn_local(track_sole_member(raft.server_metrics(), log)).detach();
        let core = Rc::new(Core {
            id,
            outbox: Outbox::new(router.clone()),
            router,
            shard,
            durability,
            raft,
            reads: opts.reads,
            read_check: RefCell::new(None),
            ticks: Cell::new(0),
            proposal: RefCell::new(Proposal::default()),
            batch_spawned: Cell::new(false),
            batch_cut: Cell::new(None),
            in_flight: Cell::new(0),
            exec_gate: Cell::new(0),
            waiters: RefCell::new(Default::default()),
        });
        glommio::spawn_local(serve_inbox(Rc::downgrade(&core), inbox)).detach();
        glommio::spawn_local(active_expiry(Rc::downgrade(&core))).detach();
        if !opts.write_behind.is_zero() {
            glommio::spawn_local(write_behind(Rc::downgrade(&core), opts.write_behind)).detach();
        }
        if opts.policy == FsyncPolicy::EverySec {
            glommio::spawn_local(fsync_every_second(Rc::downgrade(&core))).detach();
        }
        Ok(core)
    }

    pub fn stats(&self) -> ShardStats {
        self.shard.borrow().stats()
    }

    /// Clients in line on this shard's keys (INFO blocked_clients). A
    /// client counts from the moment the shard has it in line, before its
    /// first try, so a client seen here is ahead of every client that gets
    /// in line later. So, unlike Redis, the count briefly includes a
    /// client whose first try is about to serve it.
    pub fn in_line(&self) -> usize {
        self.waiters.borrow().clients()
    }

    pub fn durability(&self) -> &Durability {
        &self.durability
    }

    /// The group's state for INFO. Reads the metrics without holding them.
    pub fn raft_status(&self) -> RaftStatus {
        use openraft_rt::WatchReceiver;
        let m = self.raft.metrics().borrow_watched().clone();
        let idx = |id: Option<crate::raft::LogId>| id.map_or(0, |l| l.index);
        RaftStatus {
            role: format!("{:?}", m.state).to_lowercase(),
            term: m.current_term,
            leader: m.current_leader,
            last_log_index: m.last_log_index.unwrap_or(0),
            committed: idx(m.cluster_committed),
            applied: idx(m.last_applied),
            snapshot: idx(m.snapshot),
            purged: idx(m.purged),
        }
    }

    /// Proposes `ops` as one entry and waits until it is applied.
    async fn write(&self, ops: Vec<Op>) -> OpResults {
        self.in_flight.set(self.in_flight.get() + 1);
        let r = self.write_inner(ops).await;
        self.in_flight.set(self.in_flight.get() - 1);
        self.wake_blocked();
        r
    }

    /// Wakes the clients waiting on keys the last writes touched, unless
    /// wake-ups are held node-wide (then the keys stay ready until the
    /// next call after they are let go).
    pub fn wake_blocked(&self) {
        if self.router.wakeups_held() {
            if !self.shard.borrow().has_ready_keys() {
                return;
            }
            self.router.defer_wakeups();
            // A script that let go between the check and the note may
            // have looked for deferred wake-ups already: look again, and
            // wake now if it did let go (`Router::wakeups_held`).
            if self.router.wakeups_held() {
                return;
            }
        }
        let ready = self.shard.borrow_mut().take_ready_keys();
        if ready.is_empty() {
            return;
        }
        let waiters = self.waiters.borrow();
        for k in ready {
            waiters.wake(&k);
        }
    }

    /// A blocked command on this shard: gets in each key's queue, makes
    /// the command's first try when it brought one ([`FirstTry`]), and
    /// then, when woken as the head of a key's queue, runs that key's
    /// attempt. See [`crate::blocking`].
    async fn block(
        self: &Rc<Self>,
        id: u64,
        attempts: Vec<(Bytes, Op)>,
        timeout_ms: Option<u64>,
        mut first: Option<Box<FirstTry>>,
        finishes_elsewhere: bool,
    ) -> OpResult<Output> {
        let keys: Vec<Bytes> = attempts.iter().map(|(k, _)| k.clone()).collect();
        let wake = self.waiters.borrow_mut().register(id, &keys);
        {
            let mut shard = self.shard.borrow_mut();
            for k in &keys {
                shard.set_blocked_key(k, true);
            }
        }
        let deadline = timeout_ms.map(|t| std::time::Instant::now() + Duration::from_millis(t));
        // The first pass makes the first try, when the client sent one;
        // every later pass retries the keys this client heads.
        let result = 'wait: loop {
            if !self.waiters.borrow().is_waiting(id) {
                break Ok(Output::Nil);
            }
            if let Some(f) = first.take() {
                match self.first_try(id, &keys, *f).await {
                    Ok(Output::Nil) => {}
                    r => break 'wait r,
                }
            } else {
                for (key, op) in &attempts {
                    if !self.waiters.borrow().is_head(key, id) {
                        continue;
                    }
                    // Wake-ups are held (a script runs): no attempt now, the
                    // key is looked at again once they are let go. A script
                    // that starts later waits for this attempt to end.
                    let Some(trying) = self.begin_try() else {
                        self.shard.borrow_mut().mark_ready(key);
                        // Noted for the script's end; `wake_blocked` looks
                        // again in case it has just let go.
                        self.wake_blocked();
                        continue;
                    };
                    match self.run_one(op.clone()).await {
                        Ok(Output::Nil) => {}
                        r => {
                            if finishes_elsewhere && matches!(r, Ok(ref out) if *out != Output::Nil)
                            {
                                // The client's core ends this try once it
                                // has finished the command (`Op::Block`).
                                std::mem::forget(trying);
                            }
                            break 'wait r;
                        }
                    }
                }
            }
            let woken = async { wake.recv_async().await.is_ok() };
            let expired = async {
                match deadline {
                    Some(d) => {
                        let left = d.saturating_duration_since(std::time::Instant::now());
                        glommio::timer::sleep(left).await;
                        false
                    }
                    None => std::future::pending().await,
                }
            };
            if !futures_lite::future::or(woken, expired).await {
                break Ok(Output::Nil);
            }
        };
        let emptied = self.waiters.borrow_mut().unregister(id);
        let mut shard = self.shard.borrow_mut();
        for k in &emptied {
            shard.set_blocked_key(k, false);
        }
        result
    }

    /// A blocked command's first try, made once client `id` is in line
    /// on `keys`: with nobody else waiting on any of them, the command's
    /// own op; otherwise key by key, trying those it heads and only
    /// checking the type of the others, so it takes nothing a push left
    /// for an earlier client. Waits while a script holds the node (the
    /// client is out of flight already), and a script that starts later
    /// waits for it, as for a retry.
    async fn first_try(
        self: &Rc<Self>,
        id: u64,
        keys: &[Bytes],
        first: FirstTry,
    ) -> OpResult<Output> {
        let _trying = loop {
            if let Some(t) = self.begin_try() {
                break t;
            }
            glommio::timer::sleep(Duration::from_millis(1)).await;
            if !self.waiters.borrow().is_waiting(id) {
                return Ok(Output::Nil);
            }
        };
        let heads = {
            let w = self.waiters.borrow();
            keys.iter().map(|k| w.is_head(k, id)).collect::<Vec<_>>()
        };
        if heads.iter().all(|&h| h) {
            return self.try_in_turn(first.all).await;
        }
        for ((try_key, check), head) in first.keys.into_iter().zip(heads) {
            if head {
                match self.try_in_turn(try_key).await? {
                    Output::Nil => {}
                    out => return Ok(out),
                }
            } else {
                self.shard.borrow_mut().execute(check, now_ms())?;
            }
        }
        Ok(Output::Nil)
    }

    /// Starts a blocked client's try, unless a script holds the node
    /// ([`Router::begin_try`]); the try lasts while the guard lives.
    fn begin_try(&self) -> Option<Trying<'_>> {
        self.router.begin_try().then_some(Trying(&self.router))
    }

    /// A first try's op in its turn among the commands that reached the
    /// shard: a write joins this tick's proposal (behind the writes that
    /// came before it, and behind an EXEC that holds proposals back).
    async fn try_in_turn(self: &Rc<Self>, op: Op) -> OpResult<Output> {
        if !op.is_write() {
            return self.shard.borrow_mut().execute(op, now_ms());
        }
        only(self.propose(vec![op]).await)
    }

    /// One op, through Raft when it writes.
    async fn run_one(&self, op: Op) -> OpResult<Output> {
        if op.is_write() {
            only(self.write(vec![op]).await)
        } else {
            self.shard.borrow_mut().execute(op, now_ms())
        }
    }

    async fn write_inner(&self, ops: Vec<Op>) -> OpResults {
        let n = ops.len();
        if crate::failpoint::fail("no-leader") {
            return vec![Err(OpError::NoLeader); n];
        }
        if let Some(e) = self.durability.failure() {
            return vec![Err(OpError::Storage(e)); n];
        }
        match self
            .raft
            .client_write(WriteRequest {
                now_ms: now_ms(),
                ops,
            })
            .await
        {
            Ok(resp) => resp.data.0,
            Err(openraft::error::RaftError::APIError(
                openraft::error::ClientWriteError::ForwardToLeader(_),
            )) => {
                vec![Err(OpError::NoLeader); n]
            }
            Err(e) => {
                let e = raft_err(e);
                if let OpError::Storage(why) = &e {
                    self.durability.fail(why.clone());
                }
                vec![Err(e); n]
            }
        }
    }

    /// Queues `ops` for this tick's entry: once the fibers that are ready
    /// now have run, all queued writes go to Raft as one entry (fewer
    /// entries, fewer log writes, one apply) and the results are split back.
    async fn propose(self: &Rc<Self>, ops: Vec<Op>) -> OpResults {
        let slot = Rc::new(ReplySlot::default());
        self.enqueue_proposal(ops, slot.clone());
        slot.wait().await
    }

    /// Adds `ops` to this tick's entry; `slot` gets their results.
    fn enqueue_proposal(self: &Rc<Self>, ops: Vec<Op>, slot: Rc<ReplySlot>) {
        let first = {
            let mut p = self.proposal.borrow_mut();
            p.waiters.push((ops.len(), slot));
            p.ops.extend(ops);
            p.waiters.len() == 1
        };
        if first && self.exec_gate.get() == 0 {
            self.spawn_batch();
        }
    }

    /// Starts the task that proposes everything queued in `proposal` once
    /// the fibers that are ready now have run.
    fn spawn_batch(self: &Rc<Self>) {
        self.batch_spawned.set(true);
        let core = self.clone();
        glommio::spawn_local(async move {
            futures_lite::future::yield_now().await;
            core.batch_spawned.set(false);
            let Proposal { ops, waiters } = {
                let mut p = core.proposal.borrow_mut();
                match core.batch_cut.take() {
                    Some((n_ops, n_waiters)) => Proposal {
                        ops: {
                            let rest = p.ops.split_off(n_ops);
                            std::mem::replace(&mut p.ops, rest)
                        },
                        waiters: {
                            let rest = p.waiters.split_off(n_waiters);
                            std::mem::replace(&mut p.waiters, rest)
                        },
                    },
                    None => std::mem::take(&mut *p),
                }
            };
            // What stayed behind the cut goes next, unless an EXEC still
            // holds it back (then its release spawns it).
            if core.exec_gate.get() == 0 && !core.proposal.borrow().waiters.is_empty() {
                core.spawn_batch();
            }
            if waiters.is_empty() {
                return;
            }
            let results = core.write(ops).await;
            crate::outbox::distribute(results, waiters);
        })
        .detach();
    }

    /// EXEC of a transaction whose WATCHed keys (on this shard) are
    /// `watched`. The check must see every write ordered before the
    /// transaction, and nothing may be ordered between the check and the
    /// transaction, yet the log must stay free of WATCH state (replicas
    /// have none). So: hold new proposals back, wait until every entry in
    /// flight is applied, check, and propose the transaction as the next
    /// entry; then let the held proposals go. Answers Nil when a watched
    /// key was modified (EXEC's null reply).
    ///
    /// The caller holds the exec gate ([`Self::hold_proposals`]); this
    /// releases it.
    async fn exec(self: &Rc<Self>, watched: Vec<Watched>, ops: Vec<Op>) -> OpResult<Output> {
        let result = async {
            while self.in_flight.get() > 0 || self.batch_spawned.get() {
                glommio::timer::sleep(Duration::from_micros(20)).await;
            }
            if self.shard.borrow().watch_touched(&watched, now_ms())? {
                return Ok(Output::Nil);
            }
            self.run_one(Op::Multi(ops)).await
        }
        .await;
        self.release_proposals();
        result
    }

    /// Holds new proposals back (they queue) until [`Self::release_proposals`].
    /// A batch already spawned keeps only what queued before the first hold.
    fn hold_proposals(&self) {
        if self.exec_gate.get() == 0 && self.batch_spawned.get() {
            let p = self.proposal.borrow();
            self.batch_cut.set(Some((p.ops.len(), p.waiters.len())));
        }
        self.exec_gate.set(self.exec_gate.get() + 1);
    }

    /// Ends one [`Self::hold_proposals`]; the last one lets the queued
    /// proposals go.
    fn release_proposals(self: &Rc<Self>) {
        let gate = self.exec_gate.get() - 1;
        self.exec_gate.set(gate);
        if gate == 0 && !self.batch_spawned.get() && !self.proposal.borrow().waiters.is_empty() {
            self.spawn_batch();
        }
    }

    /// Joins this tick's read check, starting one if none is pending: the
    /// check begins after every read that joined it arrived, so one lease
    /// or ReadIndex round serves all reads of the tick.
    async fn linearize_shared(self: &Rc<Self>) -> Result<(), OpError> {
        let pending = self.read_check.borrow().clone();
        let check = match pending {
            Some(c) => c,
            None => {
                let c = Rc::new(ReadCheck::default());
                *self.read_check.borrow_mut() = Some(c.clone());
                let (core, c2) = (self.clone(), c.clone());
                glommio::spawn_local(async move {
                    futures_lite::future::yield_now().await;
                    // Reads arriving from now on wait for the next check.
                    core.read_check.borrow_mut().take();
                    c2.complete(core.linearize().await);
                })
                .detach();
                c
            }
        };
        check.wait().await
    }

    /// True when this node leads a group in which it is the only voter.
    /// Such a leader cannot be deposed without its own vote and answers
    /// writes only once applied, so its state machine is linearizable as
    /// it stands: reads need no lease or ReadIndex round. (After a restart
    /// `node::start` returns only once the log is applied again.)
    fn sole_leader(&self) -> bool {
        use openraft_rt::WatchReceiver;
        let m = self.raft.metrics();
        let m = m.borrow_watched();
        m.state == openraft::ServerState::Leader
            && m.membership_config
                .membership()
                .voter_ids()
                .eq([node::NODE_ID])
    }

    /// Confirms, per `--read-consistency`, that reads may be served here
    /// and that everything committed before now is applied.
    async fn linearize(&self) -> Result<(), OpError> {
        use openraft::ReadPolicy;
        let lease = self.raft.ensure_linearizable(ReadPolicy::LeaseRead).await;
        match (lease, self.reads) {
            (Ok(_), _) | (_, ReadConsistency::Local) => Ok(()),
            (Err(_), ReadConsistency::Lease) => Err(OpError::NoLeader),
            (Err(_), ReadConsistency::Linearizable) => self
                .raft
                .ensure_linearizable(ReadPolicy::ReadIndex)
                .await
                .map(|_| ())
                .map_err(|_| OpError::NoLeader),
        }
    }

    /// Runs `ops` in order: reads on the shard, each run of writes through
    /// Raft (so a pipeline's reads see its earlier writes).
    /// `exec_gated`: the first op is an EXEC whose gate is already held.
    async fn run(self: Rc<Self>, ops: Vec<Op>, mut exec_gated: bool) -> OpResults {
        if self.reads != ReadConsistency::Local
            && ops.iter().any(Op::needs_read_check)
            && !self.sole_leader()
            && let Err(e) = self.linearize_shared().await
        {
            if exec_gated {
                self.release_proposals();
            }
            return ops.iter().map(|_| Err(e.clone())).collect();
        }
        let mut results = Vec::with_capacity(ops.len());
        let mut ops = ops.into_iter().peekable();
        while let Some(op) = ops.next() {
            if let Op::Exec { watched, ops } = op {
                if !std::mem::take(&mut exec_gated) {
                    self.hold_proposals();
                }
                results.push(self.exec(watched, ops).await);
                continue;
            }
            if let Op::Block {
                id,
                attempts,
                timeout_ms,
                first,
                finishes_elsewhere,
            } = op
            {
                let r = self
                    .block(id, attempts, timeout_ms, first, finishes_elsewhere)
                    .await;
                results.push(r);
                continue;
            }
            if let Op::Unblock(id) = op {
                let emptied = self.waiters.borrow_mut().unregister(id);
                for k in &emptied {
                    self.shard.borrow_mut().set_blocked_key(k, false);
                }
                results.push(Ok(Output::Ok));
                continue;
            }
            if !op.is_write() {
                let r = self.shard.borrow_mut().execute(op, now_ms());
                results.push(r);
                continue;
            }
            let mut writes = vec![op];
            while let Some(next) = ops.next_if(Op::is_write) {
                writes.push(next);
            }
            results.extend(self.propose(writes).await);
        }
        results
    }

    /// Starts `ops` on `shard`: here in a fiber of its own when the shard is
    /// this core's, else queued for its core (one message per tick per shard).
    pub fn submit(self: &Rc<Self>, shard: ShardId, ops: Vec<Op>) -> Pending {
        if shard != self.id {
            return Pending(self.outbox.push(shard, ops));
        }
        let slot = Rc::new(ReplySlot::default());
        match self.fast_path(ops, &slot) {
            Fast::Done(results) => slot.fill(results),
            Fast::Queued => {}
            Fast::Slow(ops, gated) => {
                let (core, out) = (self.clone(), slot.clone());
                glommio::spawn_local(async move { out.fill(core.run(ops, gated).await) }).detach();
            }
        }
        Pending(slot)
    }

    /// The common batches need no fiber of their own (spawning one per
    /// command was ~10% of a SET's instructions): reads that may be served
    /// at once run now, and a batch of writes joins this tick's proposal
    /// with `slot` as its waiter. Everything else (mixed batches, EXEC,
    /// blocking, reads that need a leadership check) goes the slow way.
    fn fast_path(self: &Rc<Self>, ops: Vec<Op>, slot: &Rc<ReplySlot>) -> Fast {
        let special = |op: &Op| matches!(op, Op::Exec { .. } | Op::Block { .. } | Op::Unblock(_));
        if ops.is_empty() || ops.iter().any(special) {
            // An EXEC holds new proposals back from the moment it arrives,
            // not from when its fiber first runs: Redis runs commands in
            // arrival order, and a write read in the same tick (or a blocked
            // client it serves) could otherwise touch a WATCHed key first.
            let gated = matches!(ops.first(), Some(Op::Exec { .. }));
            if gated {
                self.hold_proposals();
            }
            return Fast::Slow(ops, gated);
        }
        if ops.iter().all(Op::is_write) {
            self.enqueue_proposal(ops, slot.clone());
            return Fast::Queued;
        }
        if ops.iter().any(Op::is_write) {
            return Fast::Slow(ops, false);
        }
        if self.reads != ReadConsistency::Local && !self.sole_leader() {
            return Fast::Slow(ops, false);
        }
        let now = now_ms();
        let mut shard = self.shard.borrow_mut();
        Fast::Done(ops.into_iter().map(|op| shard.execute(op, now)).collect())
    }

    /// Results of a submitted batch.
    pub async fn finish(&self, pending: Pending) -> OpResults {
        pending.0.wait().await
    }

    /// Runs `ops` on `shard` and waits for the results.
    pub async fn call(self: &Rc<Self>, shard: ShardId, ops: Vec<Op>) -> OpResults {
        let p = self.submit(shard, ops);
        self.finish(p).await
    }

    /// Convenience for one op.
    pub async fn call_one(self: &Rc<Self>, shard: ShardId, op: Op) -> OpResult<Output> {
        only(self.call(shard, vec![op]).await)
    }

    /// SAVE for this shard: builds a Raft snapshot covering everything
    /// applied so far (off the executor, see `raft::snapshot`) and waits
    /// until the group reports it. Bounded by `timeout`.
    pub async fn save(&self, timeout: Duration) -> OpResult<()> {
        use openraft_rt::WatchReceiver;
        let applied = {
            let m = self.raft.metrics();
            let m = m.borrow_watched();
            m.last_applied.map_or(0, |l| l.index)
        };
        // openraft ignores a trigger while a build runs, and that build's
        // cut may be older than `applied`: trigger again until one covers it.
        let deadline = std::time::Instant::now() + timeout;
        loop {
            self.raft.trigger().snapshot().await.map_err(raft_err)?;
            let done = self
                .raft
                .wait(Some(Duration::from_secs(1)))
                .metrics(
                    |m| m.snapshot.is_some_and(|s| s.index >= applied),
                    "snapshot covers every applied entry",
                )
                .await;
            match done {
                Ok(_) => return Ok(()),
                Err(e) if std::time::Instant::now() >= deadline => return Err(raft_err(e)),
                Err(_) => {}
            }
        }
    }

    /// Syncs the WAL on the calling thread. Only for shutdown, when
    /// blocking the executor no longer matters.
    pub fn flush_blocking(&self) -> OpResult<()> {
        let mut shard = self.shard.borrow_mut();
        shard.commit()?;
        shard.sync_wal()
    }

    fn handle(self: &Rc<Self>, msg: ShardMsg) {
        match msg {
            ShardMsg::Ops { ops, reply } => {
                let slot = Rc::new(ReplySlot::default());
                match self.fast_path(ops, &slot) {
                    Fast::Done(results) => {
                        let _ = reply.send(results);
                    }
                    Fast::Queued => {
                        glommio::spawn_local(async move {
                            let _ = reply.send(slot.wait().await);
                        })
                        .detach();
                    }
                    Fast::Slow(ops, gated) => {
                        let core = self.clone();
                        glommio::spawn_local(async move {
                            let _ = reply.send(core.run(ops, gated).await);
                        })
                        .detach();
                    }
                }
            }
            ShardMsg::Run(f) => f(),
        }
    }
}

/// The result of a one-op batch.
fn only(mut results: OpResults) -> OpResult<Output> {
    results
        .pop()
        .unwrap_or(Err(OpError::Storage("no result".into())))
}

/// A blocked client's try in progress, counted node-wide for scripts.
struct Trying<'a>(&'a Router);

impl Drop for Trying<'_> {
    fn drop(&mut self) {
        self.0.end_try();
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

/// The leader finds keys whose expiry passed and proposes their removal,
/// so every replica removes the same keys.
async fn active_expiry(core: std::rc::Weak<Core>) {
    loop {
        glommio::timer::sleep(EXPIRE_PERIOD).await;
        let Some(core) = core.upgrade() else { return };
        if core.durability.failure().is_some() {
            continue;
        }
        let due: Vec<(i64, Bytes)> =
            match core.shard.borrow_mut().due_expiries(now_ms(), EXPIRE_BATCH) {
                Ok(d) => d,
                Err(e) => {
                    core.durability.fail(e.to_string());
                    continue;
                }
            };
        if !due.is_empty() {
            let _ = core.write(vec![Op::ExpireDue(due)]).await;
        }
    }
}

/// Commits the shard's held writes once they are old enough, when no
/// Raft apply came along to do it (the writes stopped). Checks four times
/// per hold time, so a write is held at most a quarter longer than asked.
async fn write_behind(core: std::rc::Weak<Core>, age: Duration) {
    let every = (age / 4).max(Duration::from_millis(1));
    loop {
        glommio::timer::sleep(every).await;
        let Some(core) = core.upgrade() else { return };
        let mut shard = core.shard.borrow_mut();
        if let Err(e) = shard.commit_if_due() {
            // The writes stay held and reads still see them, but they are
            // not reaching RocksDB: stop taking writes, as for any storage
            // failure (a restart replays them from the Raft log).
            core.durability.fail(e.to_string());
        }
    }
}

async fn fsync_every_second(core: std::rc::Weak<Core>) {
    loop {
        glommio::timer::sleep(Duration::from_secs(1)).await;
        let Some(core) = core.upgrade() else { return };
        core.ticks.set(core.ticks.get() + 1);
        core.durability.request(core.ticks.get());
    }
}

/// Tells the log store whether this node is its group's only member (the
/// group's effective membership, which counts learners too), so that its
/// state machine may take applied entries instead of copies. Holds only
/// the metrics' receiver, so it ends with the group.
async fn track_sole_member(
    mut rx: openraft::type_config::alias::WatchReceiverOf<
        crate::raft::TypeConfig,
        openraft::metrics::RaftServerMetrics<crate::raft::TypeConfig>,
    >,
    log: RocksLogStore,
) {
    use openraft_rt::WatchReceiver;
    loop {
        let sole = rx
            .borrow_watched()
            .membership_config
            .membership()
            .nodes()
            .count()
            == 1;
        log.set_sole_reader(sole);
        if rx.changed().await.is_err() {
            return;
        }
    }
}
