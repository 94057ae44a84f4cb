//! Key -> slot -> shard, and the inboxes of every core's shard.
//!
//! Slots are split into contiguous ranges, one per shard, so a range of
//! slots (what Redis Cluster hands out) always lives on one core.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering;

use crate::msg::ShardMsg;
use crate::slot::SLOT_COUNT;
use crate::slot::ShardId;
use crate::slot::Slot;
use crate::slot::key_slot;

/// Handles to every shard's inbox; cloned into each core.
#[derive(Clone)]
pub struct Router {
    inboxes: Arc<[flume::Sender<ShardMsg>]>,
    /// Node-wide: clients blocked on keys are not woken while set (a
    /// script is running; Redis serves blocked clients after it).
    wakeups_held: Arc<AtomicBool>,
    /// A shard skipped a wake-up while they were held.
    wakeups_deferred: Arc<AtomicBool>,
    /// Tries of blocked clients running on some shard ([`Router::begin_try`]).
    tries: Arc<AtomicUsize>,
}

impl Router {
    /// A router for `shards` shards and the inbox receivers, in shard order.
    ///
    /// Inboxes are unbounded channels but their depth is bounded by the
    /// callers: each connection has at most one batch in flight per shard.
    pub fn new(shards: usize) -> (Router, Vec<flume::Receiver<ShardMsg>>) {
        let (txs, rxs): (Vec<_>, Vec<_>) = (0..shards).map(|_| flume::unbounded()).unzip();
        (
            Router {
                inboxes: txs.into(),
                wakeups_held: Arc::new(AtomicBool::new(false)),
                wakeups_deferred: Arc::new(AtomicBool::new(false)),
                tries: Arc::new(AtomicUsize::new(0)),
            },
            rxs,
        )
    }

    /// Holds (or lets go) the wake-ups of blocked clients on every shard.
    /// Letting go does not wake anyone: call [`crate::core::Core::wake_blocked`]
    /// on each shard then.
    pub fn hold_wakeups(&self, hold: bool) {
        self.wakeups_held.store(hold, Ordering::SeqCst);
    }

    /// SeqCst (a plain load on x86): a shard that notes a deferred
    /// wake-up reads it again after the note, so that a script letting go
    /// meanwhile (store, then swap of the deferred flag) cannot miss it.
    pub fn wakeups_held(&self) -> bool {
        self.wakeups_held.load(Ordering::SeqCst)
    }

    /// Starts a blocked client's try on a shard, unless wake-ups are held
    /// (false: the caller tries again once they are let go). Such a client
    /// is out of flight for the script gate, so a script that took the
    /// gate waits for the tries already running instead
    /// ([`Self::tries_running`]): it holds the wake-ups first, then reads
    /// the count, both SeqCst, so either the try sees the hold or the
    /// script sees the try. End the try with [`Self::end_try`].
    pub fn begin_try(&self) -> bool {
        self.tries.fetch_add(1, Ordering::SeqCst);
        if self.wakeups_held.load(Ordering::SeqCst) {
            self.end_try();
            return false;
        }
        true
    }

    pub fn end_try(&self) {
        self.tries.fetch_sub(1, Ordering::SeqCst);
    }

    /// Blocked clients' tries running now, node-wide.
    pub fn tries_running(&self) -> usize {
        self.tries.load(Ordering::SeqCst)
    }

    /// Notes that a shard skipped a wake-up while they were held.
    pub fn defer_wakeups(&self) {
        self.wakeups_deferred.store(true, Ordering::SeqCst);
    }

    /// True (once) when some shard skipped a wake-up since the last call:
    /// every shard should then run its wake-ups.
    pub fn take_deferred_wakeups(&self) -> bool {
        self.wakeups_deferred.swap(false, Ordering::SeqCst)
    }

    pub fn shard_count(&self) -> usize {
        self.inboxes.len()
    }

    /// Shard owning `slot`: shard i owns slots `[i*16384/n, (i+1)*16384/n)`.
    pub fn shard_of_slot(&self, slot: Slot) -> ShardId {
        ShardId(slot.0 as usize * self.inboxes.len() / SLOT_COUNT as usize)
    }

    /// First and last slot of `shard`'s range.
    pub fn slot_range(&self, shard: ShardId) -> (Slot, Slot) {
        let n = self.inboxes.len();
        let first = (shard.0 * SLOT_COUNT as usize).div_ceil(n);
        let last = ((shard.0 + 1) * SLOT_COUNT as usize).div_ceil(n) - 1;
        (Slot(first as u16), Slot(last as u16))
    }

    pub fn shard_of_key(&self, key: &[u8]) -> ShardId {
        self.shard_of_slot(key_slot(key))
    }

    /// Sends `msg` to `shard`'s inbox; false when that core has stopped.
    pub fn send(&self, shard: ShardId, msg: ShardMsg) -> bool {
        self.inboxes[shard.0].send(msg).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_cover_every_slot_once_and_agree_with_lookup() {
        for n in [1, 2, 3, 7, 16] {
            let (r, _rx) = Router::new(n);
            let mut next = 0u32;
            for s in 0..n {
                let (a, b) = r.slot_range(ShardId(s));
                assert_eq!(a.0 as u32, next);
                assert_eq!(r.shard_of_slot(a), ShardId(s));
                assert_eq!(r.shard_of_slot(b), ShardId(s));
                next = b.0 as u32 + 1;
            }
            assert_eq!(next, SLOT_COUNT as u32);
        }
    }
}
