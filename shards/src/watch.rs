//! WATCH bookkeeping of one shard: which keys connections watch, and a
//! per-key epoch bumped whenever such a key is modified.
//!
//! Only watched keys are tracked, so an idle registry costs one
//! `is_empty` check per write. The registry lives in memory on the shard
//! that owns the key; the check runs on the shard's core right before the
//! transaction is proposed (see `Core::exec`), so the replicated entry
//! carries plain ops and every replica applies the same thing.

use std::collections::HashMap;

use serde::Deserialize;
use serde::Serialize;

/// What a connection learned when it watched a key, and hands back at EXEC.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Watched {
    pub key: bytes::Bytes,
    /// The key's epoch when it was watched.
    pub epoch: u64,
    /// The key was logically expired (not yet removed) when watched.
    pub expired: bool,
}

struct Entry {
    refs: usize,
    epoch: u64,
    /// Set while the key is stored but expired; see [`Registry::touch`].
    expired: bool,
}

#[derive(Default)]
pub struct Registry {
    keys: HashMap<Vec<u8>, Entry>,
    clock: u64,
}

impl Registry {
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Adds one watcher of `key`; answers its current epoch.
    pub fn watch(&mut self, key: &[u8], expired: bool) -> u64 {
        let e = self.keys.entry(key.to_vec()).or_insert(Entry {
            refs: 0,
            epoch: 0,
            expired,
        });
        e.refs += 1;
        e.epoch
    }

    pub fn unwatch(&mut self, key: &[u8]) {
        if let Some(e) = self.keys.get_mut(key) {
            e.refs -= 1;
            if e.refs == 0 {
                self.keys.remove(key);
            }
        }
    }

    /// Records a modification of `key`. Removing a key that was already
    /// expired when watched is no change to its watchers (Redis 7.0: a
    /// stale key's deletion does not fail EXEC).
    pub fn touch(&mut self, key: &[u8], exists_after: bool) {
        if let Some(e) = self.keys.get_mut(key) {
            if e.expired && !exists_after {
                e.expired = false;
                return;
            }
            self.clock += 1;
            e.epoch = self.clock;
            e.expired = false;
        }
    }

    /// Every watched key, for FLUSHDB (which touches the ones that exist).
    pub fn keys(&self) -> Vec<Vec<u8>> {
        self.keys.keys().cloned().collect()
    }

    /// True when `w` was modified since it was watched; a key that is no
    /// longer registered (leader change, restart) counts as modified.
    pub fn touched(&self, w: &Watched) -> bool {
        self.keys
            .get(w.key.as_ref())
            .is_none_or(|e| e.epoch != w.epoch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(key: &str, epoch: u64, expired: bool) -> Watched {
        Watched {
            key: bytes::Bytes::copy_from_slice(key.as_bytes()),
            epoch,
            expired,
        }
    }

    #[test]
    fn epochs_change_only_for_touched_keys() {
        let mut r = Registry::default();
        let a = r.watch(b"a", false);
        let b = r.watch(b"b", false);
        r.touch(b"a", true);
        r.touch(b"zzz", true);
        assert!(r.touched(&w("a", a, false)));
        assert!(!r.touched(&w("b", b, false)));
        r.unwatch(b"b");
        assert!(
            r.touched(&w("b", b, false)),
            "unregistered counts as touched"
        );
        assert!(!r.is_empty());
        r.unwatch(b"a");
        assert!(r.is_empty());
    }

    #[test]
    fn deleting_a_stale_key_is_not_a_change() {
        let mut r = Registry::default();
        let e = r.watch(b"k", true);
        r.touch(b"k", false);
        assert!(!r.touched(&w("k", e, true)));
        r.touch(b"k", true);
        assert!(r.touched(&w("k", e, true)));
    }
}
