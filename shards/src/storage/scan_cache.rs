//! Whole small collections as their last full scan read them, so the next
//! HGETALL / SMEMBERS / HKEYS ... (and any range inside them) is a walk
//! over memory instead of a RocksDB iterator.
//!
//! Why: an iterator step costs ~100-200 ns even when every record sits in
//! the memtable (merge heap, internal-key parsing, visibility checks), and
//! creating the iterator a few µs more. HGETALL of a 100-field hash spent
//! 30% of the shard thread there, SMEMBERS of 100 members 47%: 0.3x of
//! redis-server, which walks a listpack.
//!
//! What is kept: for a collection's sub-key prefix (`s`, key length, key,
//! version), every record under it, in key order, as committed to
//! RocksDB. `ShardStore` fills an entry only from a scan of the whole
//! prefix that ran with nothing of this tick's writes or range deletes in
//! it: when a command reads the whole collection, or when a collection is
//! read in part a second time with no write between. It drops an entry the
//! moment any write or range delete touches its prefix (before the write
//! is even committed), and everything when a commit fails or the column
//! family is replaced, so an entry never differs from the database.

use std::collections::HashMap;

use super::keys;

/// Collections of at most this many records are kept.
pub const MAX_RECORDS: usize = 256;

/// Collections of at most this many bytes (keys and values) are kept.
pub const MAX_COLLECTION_BYTES: usize = 64 << 10;

/// Memory for all entries of one shard; past it everything is dropped
/// (cheap, and entries refill from the next scan).
const MAX_BYTES: usize = 16 << 20;

/// Estimated bytes per record besides its key and value (two vectors),
/// and per entry besides its prefix.
pub const RECORD_COST: usize = 48;

/// One collection's records: full keys and values, in key order.
pub type Records = Vec<(Vec<u8>, Vec<u8>)>;

/// Bytes of prefixes of collections read in part since their last write,
/// remembered at most (then all are forgotten).
const MAX_SEEN_BYTES: usize = 4 << 20;

#[derive(Default)]
pub struct ScanCache {
    /// Records and their estimated bytes, by collection prefix.
    by_prefix: HashMap<Vec<u8>, (Records, usize)>,
    bytes: usize,
    /// Collections read in part (a rank or score range of a zset, an
    /// LRANGE...) since their last write: `true` once a whole read found
    /// them too big to keep.
    seen: HashMap<Vec<u8>, bool>,
    seen_bytes: usize,
}

/// What to do about a partial read of a collection that is not kept.
#[derive(Debug, PartialEq)]
pub enum Partial {
    /// Read it the usual way (first read since a write, or too big).
    Scan,
    /// Read since a write before: worth reading whole and keeping.
    Fill,
}

/// The sub-key prefix that `key` starts with, if it is a sub-key (or a
/// prefix) of some collection.
pub fn subkey_prefix_of(key: &[u8]) -> Option<&[u8]> {
    if key.first() != Some(&keys::SUBKEY) || key.len() < 5 {
        return None;
    }
    let len = u32::from_be_bytes(key[1..5].try_into().ok()?) as usize;
    let end = 5usize.checked_add(len)?.checked_add(8)?;
    key.get(..end)
}

/// A collection's records gathered by a scan, in scan order, with their
/// estimated memory, until they pass the bounds of what is kept (then
/// only refused, not copied). The one place those bounds are checked.
pub struct Collector {
    records: Records,
    /// Estimated bytes of the entry: its prefix and every record.
    bytes: usize,
    over: bool,
}

impl Collector {
    /// For the collection at `prefix`.
    pub fn new(prefix: &[u8]) -> Self {
        Collector {
            records: Vec::new(),
            bytes: prefix.len() + RECORD_COST,
            over: false,
        }
    }

    /// Adds a record; false once the collection is too big to keep.
    pub fn push(&mut self, k: &[u8], v: &[u8]) -> bool {
        if self.over {
            return false;
        }
        self.bytes += k.len() + v.len() + RECORD_COST;
        if self.records.len() == MAX_RECORDS || self.bytes > MAX_COLLECTION_BYTES {
            self.over = true;
            self.records = Vec::new();
            return false;
        }
        self.records.push((k.to_vec(), v.to_vec()));
        true
    }
}

impl ScanCache {
    pub fn get(&self, prefix: &[u8]) -> Option<&Records> {
        self.by_prefix.get(prefix).map(|(r, _)| r)
    }

    /// Keeps what `c` collected as everything under `prefix` (read
    /// backwards when `reversed`) and answers true; false, and noted until
    /// the next write, when it was too big.
    pub fn keep(&mut self, prefix: &[u8], c: Collector, reversed: bool) -> bool {
        if c.over {
            self.too_big(prefix);
            return false;
        }
        let Collector {
            mut records, bytes, ..
        } = c;
        if reversed {
            records.reverse();
        }
        self.forget(prefix);
        if self.bytes + bytes > MAX_BYTES {
            self.clear();
        }
        self.bytes += bytes;
        self.by_prefix.insert(prefix.to_vec(), (records, bytes));
        true
    }

    /// Notes a partial read of the collection at `prefix`, which is not
    /// kept: the second one without a write between asks for a fill. A
    /// collection that is written between its reads never pays for one.
    pub fn partial_read(&mut self, prefix: &[u8]) -> Partial {
        match self.seen.get(prefix) {
            Some(false) => Partial::Fill,
            Some(true) => Partial::Scan,
            None => {
                self.see(prefix, false);
                Partial::Scan
            }
        }
    }

    /// A read found the collection at `prefix` too big to keep.
    fn too_big(&mut self, prefix: &[u8]) {
        self.see(prefix, true);
    }

    /// Whether a read already found the collection at `prefix` too big
    /// (since its last write).
    pub fn known_big(&self, prefix: &[u8]) -> bool {
        self.seen.get(prefix) == Some(&true)
    }

    fn see(&mut self, prefix: &[u8], big: bool) {
        if !self.seen.contains_key(prefix) {
            if self.seen_bytes + prefix.len() + RECORD_COST > MAX_SEEN_BYTES {
                self.seen.clear();
                self.seen_bytes = 0;
            }
            self.seen_bytes += prefix.len() + RECORD_COST;
        }
        self.seen.insert(prefix.to_vec(), big);
    }

    /// A write to `key` is coming: drop the collection it belongs to.
    pub fn touched(&mut self, key: &[u8]) {
        if self.by_prefix.is_empty() && self.seen.is_empty() {
            return;
        }
        if let Some(p) = subkey_prefix_of(key) {
            self.forget(p);
        }
    }

    /// A range delete of `[from, to)` is coming: drop what it may cover.
    pub fn touched_range(&mut self, from: &[u8], to: &[u8]) {
        if self.by_prefix.is_empty() && self.seen.is_empty() {
            return;
        }
        match subkey_prefix_of(from) {
            Some(p) if to <= keys::prefix_end(p).as_slice() => {
                let p = p.to_vec();
                self.forget(&p);
            }
            // Wider than one collection (FLUSHDB, a snapshot install...).
            _ => self.clear(),
        }
    }

    pub fn clear(&mut self) {
        self.by_prefix.clear();
        self.bytes = 0;
        self.seen.clear();
        self.seen_bytes = 0;
    }

    fn forget(&mut self, prefix: &[u8]) {
        if self.seen.remove(prefix).is_some() {
            self.seen_bytes -= prefix.len() + RECORD_COST;
        }
        if let Some((_, bytes)) = self.by_prefix.remove(prefix) {
            self.bytes -= bytes;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(prefix: &[u8], n: usize) -> Collector {
        let mut c = Collector::new(prefix);
        for i in 0..n {
            let mut k = prefix.to_vec();
            k.extend_from_slice(format!("f{i:04}").as_bytes());
            c.push(&k, b"v");
        }
        c
    }

    #[test]
    fn prefixes_are_parsed_from_subkeys_only() {
        let p = keys::subkey_prefix(b"hash", 7);
        let k = keys::subkey(b"hash", 7, b"field");
        assert_eq!(subkey_prefix_of(&k), Some(p.as_slice()));
        assert_eq!(subkey_prefix_of(&p), Some(p.as_slice()));
        assert_eq!(subkey_prefix_of(&keys::meta_key(b"hash")), None);
        // A length that runs past the key is no prefix.
        assert_eq!(subkey_prefix_of(&p[..p.len() - 1]), None);
        assert_eq!(subkey_prefix_of(b"s\xff\xff\xff\xffab"), None);
    }

    #[test]
    fn writes_and_range_deletes_drop_what_they_touch() {
        let (a, b) = (keys::subkey_prefix(b"a", 1), keys::subkey_prefix(b"b", 1));
        let mut c = ScanCache::default();
        assert!(c.keep(&a, records(&a, 3), false));
        assert!(c.keep(&b, records(&b, 3), false));
        c.touched(&keys::meta_key(b"a"));
        assert!(c.get(&a).is_some(), "a metadata write is no sub-key write");
        c.touched(&keys::subkey(b"a", 1, b"new"));
        assert!(c.get(&a).is_none() && c.get(&b).is_some());
        assert!(c.keep(&a, records(&a, 3), false));
        c.touched_range(&keys::subkey(b"b", 1, b"f0001"), &keys::prefix_end(&b));
        assert!(c.get(&b).is_none() && c.get(&a).is_some());
        assert!(c.keep(&b, records(&b, 3), false));
        c.touched_range(&[keys::SUBKEY], b"t");
        assert!(c.get(&a).is_none() && c.get(&b).is_none());
        assert_eq!(c.bytes, 0);
    }

    #[test]
    fn a_second_partial_read_without_a_write_between_asks_for_a_fill() {
        let a = keys::subkey_prefix(b"a", 1);
        let mut c = ScanCache::default();
        assert_eq!(c.partial_read(&a), Partial::Scan);
        assert_eq!(c.partial_read(&a), Partial::Fill);
        c.touched(&keys::subkey(b"a", 1, b"x"));
        assert_eq!(c.partial_read(&a), Partial::Scan);
        assert_eq!(c.partial_read(&a), Partial::Fill);
        c.too_big(&a);
        assert_eq!(c.partial_read(&a), Partial::Scan);
        assert_eq!(c.partial_read(&a), Partial::Scan);
        c.touched_range(&a, &keys::prefix_end(&a));
        assert_eq!(c.partial_read(&a), Partial::Scan);
        assert_eq!(c.partial_read(&a), Partial::Fill);
    }

    #[test]
    fn big_collections_are_not_kept() {
        let a = keys::subkey_prefix(b"a", 1);
        let mut c = ScanCache::default();
        assert!(!c.keep(&a, records(&a, MAX_RECORDS + 1), false));
        assert!(c.get(&a).is_none() && c.known_big(&a));
        assert!(c.keep(&a, records(&a, MAX_RECORDS), true));
        let kept = c.get(&a).unwrap();
        assert_eq!(kept.len(), MAX_RECORDS);
        // `reversed` turns a backwards walk's order around.
        assert!(kept.first().unwrap().0 > kept.last().unwrap().0);
    }
}
