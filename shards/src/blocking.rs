//! Clients blocked on keys of this shard (BLPOP, BLMOVE ...), served in
//! arrival order per key, as Redis does.
//!
//! A blocked command waits on the shard's core, not on its connection's
//! core: the core knows when a write touched a key someone waits on (the
//! shard records those keys as it writes them) and wakes the longest
//! waiting client of that key, which retries its pop. Only the head of a
//! key's queue may take from that key; when it leaves (served, timed out
//! or its client gone) the next one is woken, so one push of five
//! elements serves up to five clients in order.
//!
//! A client gets in line before its command's first try, which the core
//! makes then ([`crate::op::FirstTry`]): the order of the line is the
//! order the commands reached the shard, and no client that came later
//! can get ahead while an earlier one's first try is on its way.

use std::collections::HashMap;
use std::collections::VecDeque;

use bytes::Bytes;

/// Per key, the ids of the clients waiting on it, oldest first; per
/// client, how to wake it.
#[derive(Default)]
pub struct Waiters {
    queues: HashMap<Bytes, VecDeque<u64>>,
    wakers: HashMap<u64, flume::Sender<()>>,
}

impl Waiters {
    /// Queues client `id` on `keys`; the receiver gets a message whenever
    /// it should retry.
    pub fn register(&mut self, id: u64, keys: &[Bytes]) -> flume::Receiver<()> {
        let (tx, rx) = flume::bounded(1);
        for k in keys {
            let q = self.queues.entry(k.clone()).or_default();
            if !q.contains(&id) {
                q.push_back(id);
            }
        }
        self.wakers.insert(id, tx);
        rx
    }

    /// How many clients are registered.
    pub fn clients(&self) -> usize {
        self.wakers.len()
    }

    /// True while `id` is registered (UNBLOCK or a hang-up removes it).
    pub fn is_waiting(&self, id: u64) -> bool {
        self.wakers.contains_key(&id)
    }

    /// True when `id` is the longest-waiting client of `key`.
    pub fn is_head(&self, key: &[u8], id: u64) -> bool {
        self.queues.get(key).and_then(|q| q.front()) == Some(&id)
    }

    /// Is anyone waiting on `key`?
    pub fn watched(&self, key: &[u8]) -> bool {
        self.queues.contains_key(key)
    }

    /// Wakes the head of `key`'s queue.
    pub fn wake(&self, key: &[u8]) {
        if let Some(id) = self.queues.get(key).and_then(|q| q.front())
            && let Some(tx) = self.wakers.get(id)
        {
            let _ = tx.try_send(());
        }
    }

    /// Removes `id` everywhere; the keys whose queue it headed get their
    /// next client woken. Answers the keys nobody waits on any more.
    pub fn unregister(&mut self, id: u64) -> Vec<Bytes> {
        self.wakers.remove(&id);
        let mut emptied = Vec::new();
        let mut rewake = Vec::new();
        for (k, q) in self.queues.iter_mut() {
            if let Some(pos) = q.iter().position(|&w| w == id) {
                q.remove(pos);
                if q.is_empty() {
                    emptied.push(k.clone());
                } else if pos == 0 {
                    rewake.push(k.clone());
                }
            }
        }
        for k in &emptied {
            self.queues.remove(k);
        }
        for k in rewake {
            self.wake(&k);
        }
        emptied
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_are_served_in_arrival_order() {
        let mut w = Waiters::default();
        let k = Bytes::from_static(b"k");
        let r1 = w.register(1, std::slice::from_ref(&k));
        let r2 = w.register(2, std::slice::from_ref(&k));
        assert!(w.is_head(b"k", 1) && !w.is_head(b"k", 2));
        w.wake(b"k");
        assert!(r1.try_recv().is_ok() && r2.try_recv().is_err());
        assert!(w.unregister(1).is_empty());
        assert!(w.is_head(b"k", 2));
        assert!(r2.try_recv().is_ok(), "the new head is woken");
        assert_eq!(w.unregister(2), vec![k]);
        assert!(!w.watched(b"k") && !w.is_waiting(2));
    }
}
