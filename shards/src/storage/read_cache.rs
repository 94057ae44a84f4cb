//! The shard's bounded read cache: committed records by key, `Absent`
//! remembered too, with random eviction.
//!
//! Why it is laid out this way: a cached read is memory-bound. LRANGE 0 99
//! makes a hundred of them per command, and profiles showed each one
//! waiting on up to five cache misses: the map's control bytes, its bucket,
//! the key on the heap, and the value's shared header and bytes on the
//! heap. Short keys and short values (list elements, hash fields, metadata
//! records) now live inside the bucket itself, so a hit touches the table
//! and nothing else, and the key is hashed once (it used to be hashed
//! twice: once to pick a segment, once inside the segment's map).

use bytes::Bytes;
use hashbrown::HashTable;
use smallvec::SmallVec;

/// Number of independent tables. A hash table doubles all at once when it
/// grows; with millions of keys one table would stall the shard for 100+
/// ms (seen as INCR max latency in redis-benchmark), so the cache is split
/// and each resize touches 1/64 of it.
const SEGMENTS: usize = 64;

/// Keys up to this long are stored in the bucket.
const INLINE_KEY: usize = 40;

/// Values up to this long are stored in the bucket.
const INLINE_VALUE: usize = 30;

/// A cached record.
enum Cached {
    /// The key is known to be absent.
    Absent,
    /// A short value, stored in place.
    Inline { len: u8, data: [u8; INLINE_VALUE] },
    /// A longer value, shared with whoever read it.
    Shared(Bytes),
    /// The key exists; its value is not kept. Written by a command that
    /// only ever asks whether the record exists (HSET, SADD: their reply
    /// counts new fields), so caching the value would only cost memory.
    /// Value readers treat it as not cached.
    Present,
}

impl Cached {
    fn new(value: Option<Bytes>) -> Cached {
        match value {
            None => Cached::Absent,
            Some(v) if v.len() <= INLINE_VALUE => {
                let mut data = [0; INLINE_VALUE];
                data[..v.len()].copy_from_slice(&v);
                Cached::Inline {
                    len: v.len() as u8,
                    data,
                }
            }
            Some(v) => Cached::Shared(v),
        }
    }

    /// The record, or `None` when only its existence is known.
    fn value(&self) -> Option<Option<Bytes>> {
        Some(match self {
            Cached::Absent => None,
            Cached::Inline { len, data } => Some(Bytes::copy_from_slice(&data[..*len as usize])),
            Cached::Shared(v) => Some(v.clone()),
            Cached::Present => return None,
        })
    }

    /// The value in place, for readers that copy it out; `None` when only
    /// its existence is known.
    fn borrow(&self) -> Option<Option<&[u8]>> {
        Some(match self {
            Cached::Absent => None,
            Cached::Inline { len, data } => Some(&data[..*len as usize]),
            Cached::Shared(v) => Some(v),
            Cached::Present => return None,
        })
    }

    /// Heap bytes held outside the bucket.
    fn heap(&self) -> usize {
        match self {
            Cached::Shared(v) => v.len() + SHARED_HEADER,
            _ => 0,
        }
    }
}

/// The header `Bytes` allocates next to a shared buffer.
const SHARED_HEADER: usize = 32;

struct Slot {
    key: SmallVec<[u8; INLINE_KEY]>,
    value: Cached,
}

impl Slot {
    /// Approximate memory of this entry: its bucket, one control byte and
    /// the table's spare capacity, and whatever it holds on the heap.
    fn cost(&self) -> usize {
        let key_heap = if self.key.spilled() {
            self.key.len()
        } else {
            0
        };
        std::mem::size_of::<Slot>() * 8 / 7 + 1 + key_heap + self.value.heap()
    }
}

pub struct ReadCache {
    segments: Vec<HashTable<Slot>>,
    bytes: usize,
    limit: usize,
    /// Segment the next eviction starts from.
    evict_from: usize,
    /// aHash, randomly keyed per process so client-chosen keys cannot
    /// flood one segment or one bucket chain.
    hasher: ahash::RandomState,
}

impl ReadCache {
    pub fn new(limit: usize) -> Self {
        ReadCache {
            segments: (0..SEGMENTS).map(|_| HashTable::new()).collect(),
            bytes: 0,
            limit,
            evict_from: 0,
            hasher: ahash::RandomState::new(),
        }
    }

    fn hash(&self, key: &[u8]) -> u64 {
        self.hasher.hash_one(key)
    }

    /// The segment of hash `h`: bits the table uses for neither the bucket
    /// index (low bits) nor the control tag (top 7 bits).
    fn segment(h: u64) -> usize {
        ((h >> 40) as usize) % SEGMENTS
    }

    /// `Some(record)` when `key` is cached (`Some(None)`: known absent).
    pub fn get(&self, key: &[u8]) -> Option<Option<Bytes>> {
        let h = self.hash(key);
        self.segments[Self::segment(h)]
            .find(h, |s| s.key.as_slice() == key)
            .and_then(|s| s.value.value())
    }

    /// `Some(exists)` when the cache knows whether `key` exists.
    pub fn contains(&self, key: &[u8]) -> Option<bool> {
        let h = self.hash(key);
        self.segments[Self::segment(h)]
            .find(h, |s| s.key.as_slice() == key)
            .map(|s| !matches!(s.value, Cached::Absent))
    }

    /// Like [`Self::get`], lending the record instead of handing out a
    /// `Bytes` (no copy for inline values, no reference count).
    pub fn get_ref(&self, key: &[u8]) -> Option<Option<&[u8]>> {
        let h = self.hash(key);
        self.segments[Self::segment(h)]
            .find(h, |s| s.key.as_slice() == key)
            .and_then(|s| s.value.borrow())
    }

    pub fn insert(&mut self, key: &[u8], value: Option<Bytes>) {
        self.put(key, Cached::new(value));
    }

    /// Caches a record just written by a command that will only ask
    /// whether it exists: its value if that fits in the bucket, else just
    /// that it exists (no heap copy of a long value nobody reads back).
    pub fn insert_written(&mut self, key: &[u8], value: Bytes) {
        let cached = if value.len() <= INLINE_VALUE {
            Cached::new(Some(value))
        } else {
            Cached::Present
        };
        self.put(key, cached);
    }

    fn put(&mut self, key: &[u8], value: Cached) {
        if self.limit == 0 {
            return;
        }
        let slot = Slot {
            key: SmallVec::from_slice(key),
            value,
        };
        let cost = slot.cost();
        if cost > self.limit / 16 {
            // One huge value would evict everything else; keep it out.
            self.remove(key);
            return;
        }
        let h = self.hash(key);
        let hasher = &self.hasher;
        let entry = self.segments[Self::segment(h)].entry(
            h,
            |s| s.key.as_slice() == key,
            |s| hasher.hash_one(s.key.as_slice()),
        );
        match entry {
            hashbrown::hash_table::Entry::Occupied(mut e) => {
                self.bytes -= e.get().cost();
                *e.get_mut() = slot;
            }
            hashbrown::hash_table::Entry::Vacant(e) => {
                e.insert(slot);
            }
        }
        self.bytes += cost;
        if self.bytes > self.limit {
            self.evict();
        }
    }

    pub fn remove(&mut self, key: &[u8]) {
        let h = self.hash(key);
        let found = self.segments[Self::segment(h)].find_entry(h, |s| s.key.as_slice() == key);
        if let Ok(e) = found {
            let (old, _) = e.remove();
            self.bytes -= old.cost();
        }
    }

    /// Drops entries until 90% of the budget is used, segment by segment
    /// in turn. Within a segment the hash order is effectively random, so
    /// this is random eviction: cheap, and fair enough for a cache whose
    /// misses cost one RocksDB lookup.
    fn evict(&mut self) {
        let target = self.limit / 10 * 9;
        while self.bytes > target {
            let seg = &mut self.segments[self.evict_from];
            self.evict_from = (self.evict_from + 1) % SEGMENTS;
            // Stopping early leaves the rest of the segment in place.
            for victim in seg.extract_if(|_| true) {
                self.bytes -= victim.cost();
                if self.bytes <= target {
                    break;
                }
            }
        }
    }

    pub fn clear(&mut self) {
        for s in &mut self.segments {
            *s = HashTable::new();
        }
        self.bytes = 0;
    }

    /// Bytes accounted to the cache now.
    #[cfg(test)]
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The cost of every entry, summed afresh (tests check the running
    /// total against it).
    #[cfg(test)]
    pub fn recount(&self) -> usize {
        self.segments
            .iter()
            .flat_map(|t| t.iter())
            .map(Slot::cost)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_long_keys_and_values_round_trip() {
        let mut c = ReadCache::new(1 << 20);
        let long_key = vec![b'k'; INLINE_KEY + 5];
        let long_value = Bytes::from(vec![b'v'; INLINE_VALUE + 1]);
        c.insert(b"short", Some(Bytes::from_static(b"abc")));
        c.insert(&long_key, Some(long_value.clone()));
        c.insert(b"gone", None);
        c.insert(b"empty", Some(Bytes::new()));
        assert_eq!(c.get(b"short"), Some(Some(Bytes::from_static(b"abc"))));
        assert_eq!(c.get(&long_key), Some(Some(long_value)));
        assert_eq!(c.get(b"gone"), Some(None));
        assert_eq!(c.get(b"empty"), Some(Some(Bytes::new())));
        assert_eq!(c.get(b"never"), None);
        assert_eq!(c.contains(b"gone"), Some(false));
        assert_eq!(c.contains(b"never"), None);
        // A long written value is kept as "exists" only: value readers miss.
        c.insert_written(b"written", Bytes::from(vec![b'w'; INLINE_VALUE + 1]));
        assert_eq!(c.contains(b"written"), Some(true));
        assert_eq!((c.get(b"written"), c.get_ref(b"written")), (None, None));
        c.insert_written(b"short-written", Bytes::from_static(b"sw"));
        assert_eq!(
            c.get(b"short-written"),
            Some(Some(Bytes::from_static(b"sw")))
        );
        c.insert(b"short", Some(Bytes::from_static(b"xyz")));
        assert_eq!(c.get(b"short"), Some(Some(Bytes::from_static(b"xyz"))));
        c.remove(b"short");
        assert_eq!(c.get(b"short"), None);
        assert_eq!(c.bytes(), c.recount());
        c.clear();
        assert_eq!((c.bytes(), c.get(b"gone")), (0, None));
    }

    #[test]
    fn eviction_keeps_the_budget_and_the_count() {
        let limit = 64 * 1024;
        let mut c = ReadCache::new(limit);
        for i in 0..20_000u32 {
            let value = vec![b'x'; (i % 50) as usize];
            c.insert(format!("key{i}").as_bytes(), Some(Bytes::from(value)));
            assert!(c.bytes() <= limit);
        }
        assert_eq!(c.bytes(), c.recount());
        let kept = (0..20_000u32)
            .filter(|i| c.get(format!("key{i}").as_bytes()).is_some())
            .count();
        assert!(kept > 100, "kept {kept}");
    }

    #[test]
    fn disabled_cache_holds_nothing() {
        let mut c = ReadCache::new(0);
        c.insert(b"k", Some(Bytes::from_static(b"v")));
        assert_eq!((c.get(b"k"), c.bytes()), (None, 0));
    }
}
