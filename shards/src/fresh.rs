//! Which fields exist in the sets, hashes and zsets this shard created
//! since it started, so "is this member new?" rarely needs RocksDB.
//!
//! Why: SADD, HSET and ZADD must know whether each member already exists
//! (their reply counts the new ones, and the size in the metadata follows).
//! For a new member that question is a RocksDB `Get` that misses: the
//! memtable blooms, then the filter of every L0 file and of the last level,
//! each through the block cache. Profiled under SADD it was ~15% of the
//! shard thread, the biggest single cost after sending replies.
//!
//! A collection version handed out by `collection::load_or_new` is fresh
//! (versions are never reused, so it has no sub-keys yet), and every
//! sub-key write goes through `Shard::sub_put`, which records the field's
//! fingerprint here. So for a tracked version, a fingerprint that is not
//! here means the field does not exist. A fingerprint that is here (a
//! field written, maybe deleted since, or a hash collision) or a version
//! not tracked means "ask RocksDB", exactly as before. Forgetting is
//! therefore always safe: a restart, a snapshot install or the size bound
//! drop whole collections, never make an answer wrong.

use std::collections::HashMap;

use hashbrown::HashTable;

/// Fingerprints kept per shard at most (~10-20 bytes each). When a write
/// would pass it, the collection being written stops being tracked.
pub const MAX_FINGERPRINTS: usize = 1 << 21;

/// One tracked collection version and its fields' fingerprints.
struct Tracked {
    version: u64,
    /// Fingerprints, stored as their own hash.
    fields: HashTable<u64>,
}

pub struct FreshFields {
    by_key: HashMap<Vec<u8>, Tracked>,
    total: usize,
    max: usize,
    hasher: ahash::RandomState,
}

impl Default for FreshFields {
    fn default() -> Self {
        Self::with_max(MAX_FINGERPRINTS)
    }
}

impl FreshFields {
    pub fn with_max(max: usize) -> Self {
        FreshFields {
            by_key: HashMap::new(),
            total: 0,
            max,
            hasher: ahash::RandomState::new(),
        }
    }

    fn fingerprint(&self, field: &[u8]) -> u64 {
        self.hasher.hash_one(field)
    }

    /// `key`'s collection now has the fresh `version`, with no fields yet
    /// (replacing whatever an older version of `key` had here).
    pub fn start(&mut self, key: &[u8], version: u64) {
        let tracked = Tracked {
            version,
            fields: HashTable::new(),
        };
        if let Some(old) = self.by_key.insert(key.to_vec(), tracked) {
            self.total -= old.fields.len();
        }
    }

    /// `field` of `key`'s collection at `version` was written.
    pub fn added(&mut self, key: &[u8], version: u64, field: &[u8]) {
        if self.by_key.is_empty() {
            return;
        }
        let fp = self.fingerprint(field);
        let full = self.total >= self.max;
        let Some(t) = self.by_key.get_mut(key) else {
            return;
        };
        if t.version != version {
            return;
        }
        if t.fields.find(fp, |&x| x == fp).is_some() {
            return;
        }
        if full {
            // Forget this collection rather than bound the others.
            self.forget(key);
            return;
        }
        t.fields.insert_unique(fp, fp, |&x| x);
        self.total += 1;
    }

    /// True when `field` is known not to exist in `key`'s collection at
    /// `version`; false means "maybe", ask the store.
    pub fn absent(&self, key: &[u8], version: u64, field: &[u8]) -> bool {
        if self.by_key.is_empty() {
            return false;
        }
        match self.by_key.get(key) {
            Some(t) if t.version == version => {
                let fp = self.fingerprint(field);
                t.fields.find(fp, |&x| x == fp).is_none()
            }
            _ => false,
        }
    }

    /// Stops tracking `key`.
    pub fn forget(&mut self, key: &[u8]) {
        if let Some(old) = self.by_key.remove(key) {
            self.total -= old.fields.len();
        }
    }

    /// Stops tracking everything (the store changed underneath).
    pub fn clear(&mut self) {
        self.by_key.clear();
        self.total = 0;
    }

    /// Fingerprints held (tests, INFO).
    pub fn len(&self) -> usize {
        self.total
    }

    pub fn is_empty(&self) -> bool {
        self.total == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracked_versions_answer_absent_and_everything_else_maybe() {
        let mut f = FreshFields::with_max(3);
        assert!(!f.absent(b"k", 1, b"a"), "untracked: maybe");
        f.start(b"k", 1);
        assert!(f.absent(b"k", 1, b"a"));
        f.added(b"k", 1, b"a");
        assert!(!f.absent(b"k", 1, b"a"));
        assert!(f.absent(b"k", 1, b"b"));
        assert!(!f.absent(b"k", 2, b"b"), "another version: maybe");
        f.added(b"k", 2, b"b");
        assert!(
            f.absent(b"k", 1, b"b"),
            "a write to another version is not ours"
        );
        f.added(b"k", 1, b"a");
        assert_eq!(f.len(), 1, "a field counts once");
        f.start(b"j", 7);
        f.added(b"j", 7, b"x");
        f.added(b"j", 7, b"y");
        assert_eq!(f.len(), 3);
        // Full: the collection written next is forgotten, the others stay.
        f.added(b"j", 7, b"z");
        assert!(!f.absent(b"j", 7, b"q"), "forgotten: maybe");
        assert!(f.absent(b"k", 1, b"b"));
        assert_eq!(f.len(), 1);
        f.start(b"k", 9);
        assert_eq!(f.len(), 0, "a new version replaces the old one");
        assert!(f.absent(b"k", 9, b"a"));
        f.clear();
        assert!(!f.absent(b"k", 9, b"a"));
    }
}
