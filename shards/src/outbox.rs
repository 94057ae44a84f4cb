//! Cross-core forwarding, batched per loop tick.
//!
//! Every connection on a core that needs another core's shard appends its
//! ops to that shard's outbox; once the fibers that are ready now have run,
//! each non-empty outbox goes out as one message, and its one reply is split
//! back to the waiting connections. A wake-up of a parked core costs tens of
//! microseconds here, so one hop per tick per shard pair instead of one per
//! connection is what keeps forwarding cheap under many clients.

use std::cell::Cell;
use std::cell::RefCell;
use std::future::poll_fn;
use std::rc::Rc;
use std::task::Poll;
use std::task::Waker;

use crate::error::OpError;
use crate::msg::OpResults;
use crate::msg::ShardMsg;
use crate::op::Op;
use crate::router::Router;
use crate::slot::ShardId;

/// Where one forwarded batch's results land.
#[derive(Default)]
pub struct ReplySlot {
    results: RefCell<Option<OpResults>>,
    waker: RefCell<Option<Waker>>,
}

impl ReplySlot {
    pub(crate) fn fill(&self, results: OpResults) {
        *self.results.borrow_mut() = Some(results);
        if let Some(w) = self.waker.borrow_mut().take() {
            w.wake();
        }
    }

    /// Waits for the results.
    pub async fn wait(&self) -> OpResults {
        poll_fn(|cx| match self.results.borrow_mut().take() {
            Some(r) => Poll::Ready(r),
            None => {
                *self.waker.borrow_mut() = Some(cx.waker().clone());
                Poll::Pending
            }
        })
        .await
    }
}

#[derive(Default)]
struct Queue {
    ops: Vec<Op>,
    /// How many of `ops` belong to each waiter, in order.
    waiters: Vec<(usize, Rc<ReplySlot>)>,
}

pub struct Outbox {
    queues: RefCell<Vec<Queue>>,
    flush_scheduled: Cell<bool>,
    router: Router,
}

fn stopped(n: usize) -> OpResults {
    vec![Err(OpError::Storage("shard stopped".into())); n]
}

impl Outbox {
    pub fn new(router: Router) -> Rc<Outbox> {
        let queues = (0..router.shard_count())
            .map(|_| Queue::default())
            .collect();
        Rc::new(Outbox {
            queues: RefCell::new(queues),
            flush_scheduled: Cell::new(false),
            router,
        })
    }

    /// Queues `ops` for `shard`; the returned slot fills once they ran there.
    ///
    /// A blocked command's wait in line ([`Op::Block`]) travels alone, right
    /// after what is queued for its shard so far: a message's results come
    /// back together, so any op batched with it would wait until the
    /// blocked client is served or times out.
    pub fn push(self: &Rc<Self>, shard: ShardId, ops: Vec<Op>) -> Rc<ReplySlot> {
        let slot = Rc::new(ReplySlot::default());
        if ops.iter().any(|op| matches!(op, Op::Block { .. })) {
            let queued = std::mem::take(&mut self.queues.borrow_mut()[shard.0]);
            if !queued.ops.is_empty() {
                self.send(shard.0, queued);
            }
            let waiters = vec![(ops.len(), slot.clone())];
            self.send(shard.0, Queue { ops, waiters });
            return slot;
        }
        {
            let mut queues = self.queues.borrow_mut();
            let q = &mut queues[shard.0];
            q.waiters.push((ops.len(), slot.clone()));
            q.ops.extend(ops);
        }
        if !self.flush_scheduled.replace(true) {
            let me = self.clone();
            glommio::spawn_local(async move {
                futures_lite::future::yield_now().await;
                me.flush();
            })
            .detach();
        }
        slot
    }

    /// Sends every queued batch as one message per shard.
    fn flush(&self) {
        self.flush_scheduled.set(false);
        let queues: Vec<(usize, Queue)> = self
            .queues
            .borrow_mut()
            .iter_mut()
            .enumerate()
            .filter(|(_, q)| !q.ops.is_empty())
            .map(|(i, q)| (i, std::mem::take(q)))
            .collect();
        for (shard, q) in queues {
            self.send(shard, q);
        }
    }

    /// Sends one batch to `shard`; its results are split back to its
    /// waiters when they come.
    fn send(&self, shard: usize, q: Queue) {
        let n = q.ops.len();
        let (tx, rx) = flume::bounded(1);
        if !self.router.send(
            ShardId(shard),
            ShardMsg::Ops {
                ops: q.ops,
                reply: tx,
            },
        ) {
            distribute(stopped(n), q.waiters);
            return;
        }
        glommio::spawn_local(async move {
            let results = rx.recv_async().await.unwrap_or_else(|_| stopped(n));
            distribute(results, q.waiters);
        })
        .detach();
    }
}

/// Splits one batch's results back to the waiters, in order.
pub(crate) fn distribute(results: OpResults, waiters: Vec<(usize, Rc<ReplySlot>)>) {
    let mut it = results.into_iter();
    for (n, slot) in waiters {
        let mine: OpResults = it.by_ref().take(n).collect();
        let missing = n - mine.len();
        let mut mine = mine;
        mine.extend(stopped(missing));
        slot.fill(mine);
    }
}
