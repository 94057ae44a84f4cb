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
//! sub-key write goes through `Shard::sub_put` or `sub_put_member`, which
//! record the field's fingerprint here. (`sub_put_scanned` does not: zset
//! score-index entries are only ever scanned, never asked about here.) So for a tracked version, a fingerprint that is not
//! here means the field does not exist. A fingerprint that is here (a
//! field written, maybe deleted since, or a hash collision) or a version
//! not tracked means "ask RocksDB", exactly as before. Forgetting is
//! therefore always safe: a restart, a snapshot install or the size bound
//! drop whole collections, never make an answer wrong. A collection that
//! is deleted, replaced or flushed is forgotten at once, so dead keys do
//! not fill the bound.

use std::collections::HashMap;

use hashbrown::HashTable;

/// Memory the index may use per shard, estimated as [`TRACKED_COST`] per
/// collection plus its key, and [`FINGERPRINT_COST`] per field. When full,
/// new collections are not tracked and a collection whose write would pass
/// it is forgotten. A bound on bytes, not on fields, because a workload of
/// many small collections would otherwise pay mostly for the per-key
/// overhead.
pub const MAX_BYTES: usize = 32 << 20;

/// Estimated bytes per tracked collection besides its key: the map entry,
/// the key's allocation header and an empty fingerprint table.
const TRACKED_COST: usize = 128;

/// Estimated bytes per fingerprint (8, plus the table's control bytes,
/// spare capacity and growth).
const FINGERPRINT_COST: usize = 16;

/// One tracked collection version and its fields' fingerprints.
struct Tracked {
    version: u64,
    /// Fingerprints (`hasher` over the field), stored as their own hash.
    fields: HashTable<u64>,
}

pub struct FreshFields {
    by_key: HashMap<Vec<u8>, Tracked>,
    /// Fingerprints held.
    total: usize,
    /// Estimated bytes held, bounded by `max`.
    bytes: usize,
    max: usize,
    hasher: ahash::RandomState,
}

impl Default for FreshFields {
    fn default() -> Self {
        Self::with_max(MAX_BYTES)
    }
}

impl FreshFields {
    /// An index of at most `max` estimated bytes.
    pub fn with_max(max: usize) -> Self {
        FreshFields {
            by_key: HashMap::new(),
            total: 0,
            bytes: 0,
            max,
            hasher: ahash::RandomState::new(),
        }
    }

    /// `key`'s collection now has the fresh `version`, with no fields yet
    /// (replacing whatever an older version of `key` had here).
    pub fn start(&mut self, key: &[u8], version: u64) {
        self.forget(key);
        let cost = TRACKED_COST + key.len();
        if self.bytes + cost > self.max {
            return;
        }
        let tracked = Tracked {
            version,
            fields: HashTable::new(),
        };
        self.by_key.insert(key.to_vec(), tracked);
        self.bytes += cost;
    }

    /// `field` of `key`'s collection at `version` was written.
    pub fn added(&mut self, key: &[u8], version: u64, field: &[u8]) {
        let full = self.bytes + FINGERPRINT_COST > self.max;
        // Untracked keys (every list, everything older than this process)
        // pay one map lookup, not a hash of the field too.
        let Some(t) = self.by_key.get_mut(key) else {
            return;
        };
        if t.version != version {
            return;
        }
        let fp = self.hasher.hash_one(field);
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
        self.bytes += FINGERPRINT_COST;
    }

    /// True when `field` is known not to exist in `key`'s collection at
    /// `version`; false means "maybe", ask the store.
    pub fn absent(&self, key: &[u8], version: u64, field: &[u8]) -> bool {
        if self.by_key.is_empty() {
            return false;
        }
        match self.by_key.get(key) {
            Some(t) if t.version == version => {
                let fp = self.hasher.hash_one(field);
                t.fields.find(fp, |&x| x == fp).is_none()
            }
            _ => false,
        }
    }

    /// Stops tracking `key` if it is tracked at `version` (the collection
    /// was deleted or replaced; a newer version started since is kept).
    pub fn forget_version(&mut self, key: &[u8], version: u64) {
        if self.by_key.get(key).is_some_and(|t| t.version == version) {
            self.forget(key);
        }
    }

    /// Stops tracking `key`.
    pub fn forget(&mut self, key: &[u8]) {
        if let Some(old) = self.by_key.remove(key) {
            self.total -= old.fields.len();
            self.bytes -= TRACKED_COST + key.len() + old.fields.len() * FINGERPRINT_COST;
        }
    }

    /// Stops tracking everything (the store changed underneath).
    pub fn clear(&mut self) {
        self.by_key.clear();
        self.total = 0;
        self.bytes = 0;
    }

    /// Fingerprints held (tests).
    pub fn len(&self) -> usize {
        self.total
    }

    /// Estimated bytes held (tests).
    pub fn bytes(&self) -> usize {
        self.bytes
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
        // Room for two one-byte keys and three fingerprints.
        let mut f = FreshFields::with_max(2 * (TRACKED_COST + 1) + 3 * FINGERPRINT_COST);
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
        f.start(b"j", 8);
        f.added(b"j", 8, b"x");
        f.added(b"j", 8, b"y");
        f.added(b"k", 9, b"a");
        assert_eq!(f.bytes(), 2 * (TRACKED_COST + 1) + 3 * FINGERPRINT_COST);
        f.start(b"new", 1);
        assert!(
            !f.absent(b"new", 1, b"a"),
            "full: a new collection is not tracked"
        );
        f.forget_version(b"k", 1);
        assert!(
            f.absent(b"k", 9, b"b"),
            "an older version's drop keeps the new one"
        );
        f.forget_version(b"k", 9);
        assert!(!f.absent(b"k", 9, b"b"), "a dropped version is forgotten");
        f.clear();
        assert_eq!((f.len(), f.bytes()), (0, 0));
        assert!(!f.absent(b"k", 9, b"a"));
    }
}
