//! One shard's view of its column family: writes held in memory and
//! written behind in large batches, and a bounded in-memory read cache of
//! metadata records.
//!
//! Writes go into an ordered overlay map that every read consults first.
//! The overlay is committed (one RocksDB write) when it is due
//! ([`ShardStore::commit_due`]): by default at the end of every Raft apply;
//! with `--write-behind-ms` only at [`BEHIND_ENTRIES`] keys,
//! [`BEHIND_BYTES`], [`BEHIND_RANGES`] range deletes, or that many
//! milliseconds after its first write. The `WriteBatch` is built from the
//! overlay in key order (range deletes first, then each key's last write),
//! and the memtable skiplist reuses its search path between consecutive
//! inserts. Batches of up to a couple of thousand random keys (one apply,
//! or a 5 ms hold) gained nothing measurable (neighbours far apart in the
//! memtable); batches of ten thousand put neighbours close together, and a
//! key written many times in the window (a collection's metadata under
//! HSET/SADD/ZADD) costs one memtable insert:
//! 12-20% less CPU per ZADD, HSET and SADD (`benches/RESULTS.md`, session
//! 9). Why it is not the default: the commit runs on the executor, ~0.7 µs
//! per key, so at full load every commit stalls the shard for 5-9 ms.
//! Handing the batch to another thread is not enough while the data
//! shares the Raft log's DB: in RocksDB's write queue the next log append
//! would wait for the batch's memtable inserts (a DB of its own for the
//! data, as TiKV keeps, would avoid that).
//!
//! Nothing is lost by holding applied writes in memory: the Raft log,
//! written before a write is acknowledged, holds every entry, and the
//! applied log id is committed in the same batch as the data it covers. A
//! process that dies with writes held comes back at an older applied id and
//! openraft applies the log after it again. Log entries are purged only up
//! to a snapshot, and a snapshot build commits first, so the entries still
//! needed are never gone.
//!
//! Iteration merges the overlay with the database, so an operation (or a
//! whole Raft apply) iterates its own uncommitted writes and never has to
//! commit half-way, which would break the apply's atomicity.
//!
//! "This tick" below means the writes held since the last commit: one Raft
//! apply by default, several with write-behind.
//!
//! Why a cache of our own: every command reads its key's metadata record
//! first, and profiles showed the memtable skiplist walk dominating GET and
//! SET. RocksDB's row cache only fronts SST files, after the memtable, so
//! it cannot help. Only this shard's thread touches the cache, so it is
//! always exactly the committed state (write-through at commit).
//! Commit keeps metadata records and member records ([`ShardStore::put_member`])
//! in the cache and drops every other written key from it: re-adding a
//! member that exists (SADD/HSET/ZADD under `-r`) then needs no RocksDB
//! read, which under `-P 16` was a quarter of SADD's cost.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use std::time::Instant;

use bytes::Bytes;
use rocksdb::DB;
use rocksdb::WriteBatch;
use rocksdb::WriteOptions;

use super::keys;
use super::read_cache::ReadCache;
use super::scan_cache;
use super::scan_cache::Collector;
use super::scan_cache::ScanCache;
use crate::error::OpResult;

/// Commit once the overlay holds this many keys...
pub const BEHIND_ENTRIES: usize = 16 * 1024;
/// ...or about this many bytes of keys and values (a few big values must
/// not pile up in memory)...
pub const BEHIND_BYTES: usize = 8 << 20;
/// ...or this many range deletes (every point read not answered by the
/// overlay checks each visible one)...
pub const BEHIND_RANGES: usize = 16;
/// ...or when its first write is this old (`--write-behind-ms`; zero, the
/// default, commits at every Raft apply), so that a burst's writes reach
/// RocksDB (and the scan cache, which serves only committed records) soon
/// after it ends.
pub const BEHIND_AGE: Duration = Duration::ZERO;

/// A key's last write not yet committed.
struct Pending {
    /// `None`: a delete.
    value: Option<Bytes>,
    /// Keep the written record in the read cache at commit
    /// ([`ShardStore::put_member`]) instead of dropping it from there.
    remember: bool,
}

/// A range delete queued in the held batch.
struct PendingRange {
    from: Vec<u8>,
    to: Vec<u8>,
    /// Reads see it (`delete_range`): keys in it read as absent unless the
    /// overlay has a later write. `drop_unreachable` ranges are never read,
    /// so reads skip checking them.
    visible: bool,
}

pub struct ShardStore {
    db: Arc<DB>,
    cf: String,
    /// Range deletes held, in order; written before the overlay.
    ranges: Vec<PendingRange>,
    /// Writes not yet committed, ordered so scans can merge them with the
    /// database.
    overlay: BTreeMap<Vec<u8>, Pending>,
    /// Roughly what the overlay and ranges hold (counted per write, so
    /// overwrites count again: it only decides when to commit).
    pending_bytes: usize,
    /// When the first write not yet committed was made.
    pending_since: Option<Instant>,
    /// How old that write may get ([`BEHIND_AGE`] unless set).
    behind_age: Duration,
    cache: RefCell<ReadCache>,
    /// Small collections as their last full scan read them.
    scans: RefCell<ScanCache>,
    write_opts: WriteOptions,
}

impl ShardStore {
    /// Binds to column family `cf`, which [`super::open`] created, with a
    /// read cache of at most `cache_bytes`.
    pub fn new(db: Arc<DB>, cf: String, cache_bytes: usize) -> Self {
        assert!(
            db.cf_handle(&cf).is_some(),
            "column family {cf} was not opened"
        );
        let mut write_opts = WriteOptions::default();
        // fsync is decided by the durability policy and runs off the executor.
        write_opts.set_sync(false);
        ShardStore {
            db,
            cf,
            ranges: Vec::new(),
            overlay: BTreeMap::new(),
            pending_bytes: 0,
            pending_since: None,
            behind_age: BEHIND_AGE,
            cache: RefCell::new(ReadCache::new(cache_bytes)),
            scans: RefCell::new(ScanCache::default()),
            write_opts,
        }
    }

    pub fn db(&self) -> &Arc<DB> {
        &self.db
    }

    fn cf(&self) -> &rocksdb::ColumnFamily {
        // Checked in `new`; column families are never dropped while running.
        self.db
            .cf_handle(&self.cf)
            .expect("data column family vanished")
    }

    /// The held writes' answer for `key`: its last write, or absent under
    /// a pending range delete. `None` when no held write touches it.
    fn this_tick(&self, key: &[u8]) -> Option<Option<&Bytes>> {
        if let Some(p) = self.overlay.get(key) {
            return Some(p.value.as_ref());
        }
        self.deleted(key).then_some(None)
    }

    /// Reads `key` from RocksDB (the caller found it neither in this tick
    /// nor in the read cache) and caches what it found.
    fn fetch(&self, key: &[u8]) -> OpResult<Option<Bytes>> {
        let v = self
            .db
            .get_pinned_cf(self.cf(), key)?
            .map(|p| Bytes::copy_from_slice(&p));
        self.cache.borrow_mut().insert(key, v.clone());
        Ok(v)
    }

    /// Reads `key`, seeing this tick's uncommitted writes.
    pub fn get(&self, key: &[u8]) -> OpResult<Option<Bytes>> {
        if let Some(v) = self.this_tick(key) {
            return Ok(v.cloned());
        }
        if let Some(v) = self.cache.borrow().get(key) {
            return Ok(v);
        }
        self.fetch(key)
    }

    /// Like [`Self::get`], lending the record to `f`: range reads copy
    /// each value straight into their reply instead of sharing it.
    pub fn get_with<R>(&self, key: &[u8], f: impl FnOnce(Option<&[u8]>) -> R) -> OpResult<R> {
        match self.get_known(key, f) {
            Ok(r) => Ok(r),
            Err(f) => Ok(f(self.fetch(key)?.as_deref())),
        }
    }

    /// [`Self::get_with`] without going to RocksDB: `Err(f)` back when
    /// neither this tick's writes nor the read cache know `key`.
    pub fn get_known<R, F: FnOnce(Option<&[u8]>) -> R>(&self, key: &[u8], f: F) -> Result<R, F> {
        if let Some(v) = self.this_tick(key) {
            return Ok(f(v.map(|b| b.as_ref())));
        }
        match self.cache.borrow().get_ref(key) {
            Some(v) => Ok(f(v)),
            None => Err(f),
        }
    }

    /// Puts a record just read from a scan into the read cache, so the
    /// next read of it is a point lookup. Only committed records: a key
    /// of this tick's overlay is skipped (a range delete later in the tick
    /// would take it out of the overlay, and `commit` would then never
    /// drop it from the cache).
    pub fn remember(&self, key: &[u8], value: &[u8]) {
        if self.overlay.contains_key(key) {
            return;
        }
        self.cache
            .borrow_mut()
            .insert(key, Some(Bytes::copy_from_slice(value)));
    }

    /// Whether `key` exists, seeing this tick's writes. Unlike
    /// [`Self::get`] it is answered by a read-cache entry that knows only
    /// that the record exists ([`Self::put_member`]).
    pub fn exists(&self, key: &[u8]) -> OpResult<bool> {
        if let Some(v) = self.this_tick(key) {
            return Ok(v.is_some());
        }
        if let Some(known) = self.cache.borrow().contains(key) {
            return Ok(known);
        }
        Ok(self.fetch(key)?.is_some())
    }

    pub fn put(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.write(key, Some(Bytes::from(value)), false);
    }

    /// [`Self::put`] for a record the next write of the same field will
    /// look up (a hash field, set member or zset member: HSET, SADD and
    /// ZADD must know whether it exists). The record stays in the read
    /// cache after commit, so re-adding an existing member is answered
    /// from memory instead of a RocksDB read through the memtables and
    /// SST blooms. Not for list elements: nothing looks them up by key
    /// before writing, so keeping them only grows the cache.
    pub fn put_member(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.write(key, Some(Bytes::from(value)), true);
    }

    pub fn delete(&mut self, key: Vec<u8>) {
        self.write(key, None, false);
    }

    fn write(&mut self, key: Vec<u8>, value: Option<Bytes>, remember: bool) {
        self.scans.get_mut().touched(&key);
        self.note_pending(key.len() + value.as_ref().map_or(0, Bytes::len));
        self.overlay.insert(key, Pending { value, remember });
    }

    /// Queues a range delete of `[from, to)` and forgets this tick's overlay
    /// writes in it: they were made before the delete, and the batch writes
    /// range deletes before the overlay.
    fn queue_range(&mut self, from: &[u8], to: &[u8], visible: bool) {
        self.scans.get_mut().touched_range(from, to);
        self.note_pending(from.len() + to.len());
        let doomed: Vec<Vec<u8>> = self
            .overlay
            .range::<[u8], _>((
                std::ops::Bound::Included(from),
                std::ops::Bound::Excluded(to),
            ))
            .map(|(k, _)| k.clone())
            .collect();
        for k in doomed {
            self.overlay.remove(&k);
        }
        self.ranges.push(PendingRange {
            from: from.to_vec(),
            to: to.to_vec(),
            visible,
        });
    }

    /// Deletes every key in `[from, to)` as part of this tick's batch (so a
    /// Raft apply stays one atomic WriteBatch). Reads see the deletion at once.
    pub fn delete_range(&mut self, from: &[u8], to: &[u8]) -> OpResult<()> {
        if from >= to {
            return Ok(());
        }
        self.queue_range(from, to, true);
        self.cache.borrow_mut().clear();
        Ok(())
    }

    /// Queues a range delete of keys no read will ever ask for again (the
    /// sub-keys of a collection version that was deleted or replaced), so
    /// compaction reclaims them. Unlike [`Self::delete_range`] it leaves the
    /// read cache alone: nothing there can be reached anyway, and dropping a
    /// big key must not cost the cache. Overlay writes in the range (made
    /// earlier this tick) are dropped too, or they would outlive the delete.
    pub fn drop_unreachable(&mut self, from: &[u8], to: &[u8]) {
        if from >= to {
            return;
        }
        self.queue_range(from, to, false);
    }

    /// Forgets every cached read (the column family changed underneath).
    pub fn clear_cache(&mut self) {
        self.cache.borrow_mut().clear();
        self.scans.get_mut().clear();
    }

    pub fn has_pending(&self) -> bool {
        !self.overlay.is_empty() || !self.ranges.is_empty()
    }

    /// Sets how long writes may be held ([`Self::commit_due`]); zero
    /// commits at every Raft apply.
    pub fn set_write_behind(&mut self, age: Duration) {
        self.behind_age = age;
    }

    /// Keys and range deletes held, not yet committed (INFO).
    pub fn held(&self) -> usize {
        self.overlay.len() + self.ranges.len()
    }

    /// Counts a queued write towards the commit bounds.
    fn note_pending(&mut self, bytes: usize) {
        // Per-entry overhead of the map and the batch, roughly.
        self.pending_bytes += bytes + 64;
        // Without a hold every apply commits: no clock read needed.
        if self.pending_since.is_none() && !self.behind_age.is_zero() {
            self.pending_since = Some(Instant::now());
        }
    }

    /// Whether the writes held in memory should be committed now: the
    /// overlay reached one of its bounds, or its oldest write is
    /// [`BEHIND_AGE`] (or what [`Self::set_write_behind`] set) old.
    pub fn commit_due(&self) -> bool {
        (self.behind_age.is_zero() && self.has_pending())
            || self.overlay.len() >= BEHIND_ENTRIES
            || self.pending_bytes >= BEHIND_BYTES
            || self.ranges.len() >= BEHIND_RANGES
            || self
                .pending_since
                .is_some_and(|t| t.elapsed() >= self.behind_age)
    }

    /// Writes the held writes to RocksDB as one batch (WAL + memtable, no
    /// fsync), then moves the written metadata and member records into the
    /// read cache. If the write fails nothing landed (a RocksDB batch is
    /// all or nothing) and every write stays held: reads keep seeing what
    /// was applied (and, with write-behind, already acknowledged), and the
    /// next commit tries again.
    pub fn commit(&mut self) -> OpResult<()> {
        if !self.has_pending() {
            return Ok(());
        }
        if crate::failpoint::fail("data-commit") {
            return Err(crate::error::OpError::Storage(
                "injected data commit failure".into(),
            ));
        }
        let mut batch = WriteBatch::default();
        let cf = self.cf();
        for r in &self.ranges {
            batch.delete_range_cf(cf, &r.from, &r.to);
        }
        for (k, p) in &self.overlay {
            match &p.value {
                Some(v) => batch.put_cf(cf, k, v),
                None => batch.delete_cf(cf, k),
            }
        }
        self.db.write_opt(batch, &self.write_opts)?;
        self.pending_bytes = 0;
        self.pending_since = None;
        self.ranges.clear();
        let mut cache = self.cache.borrow_mut();
        for (k, p) in std::mem::take(&mut self.overlay) {
            match p.value {
                v if k.first() == Some(&keys::META) => cache.insert(&k, v),
                Some(v) if p.remember => cache.insert_written(&k, v),
                // Nobody asked to keep it: forget it.
                _ => cache.remove(&k),
            }
        }
        Ok(())
    }

    /// Iterates the keys in `[from, to)` in order, this tick's writes
    /// included; `f` returns false to stop.
    pub fn scan(
        &self,
        from: &[u8],
        to: &[u8],
        f: impl FnMut(&[u8], &[u8]) -> bool,
    ) -> OpResult<()> {
        self.scan_dir(from, to, false, f)
    }

    /// Like [`Self::scan`], from the last key of the range backwards.
    pub fn scan_rev(
        &self,
        from: &[u8],
        to: &[u8],
        f: impl FnMut(&[u8], &[u8]) -> bool,
    ) -> OpResult<()> {
        self.scan_dir(from, to, true, f)
    }

    fn deleted(&self, key: &[u8]) -> bool {
        self.ranges
            .iter()
            .any(|r| r.visible && key >= r.from.as_slice() && key < r.to.as_slice())
    }

    /// Walks `[from, to)`: from the scan cache when the range lies inside a
    /// collection it holds (or can fill, see `scan_cache`) and this tick
    /// has no writes or range deletes there; otherwise [`Self::scan_merged`].
    fn scan_dir(
        &self,
        from: &[u8],
        to: &[u8],
        reverse: bool,
        mut f: impl FnMut(&[u8], &[u8]) -> bool,
    ) -> OpResult<()> {
        if from >= to {
            return Ok(());
        }
        // Uncommitted writes and range deletes are not in the scan cache,
        // so it answers (and is filled) only where there are none.
        let quiet = self.untouched(from, to);
        let Some(prefix) = scan_cache::subkey_prefix_of(from).filter(|_| quiet) else {
            return self.scan_merged(from, to, reverse, f);
        };
        let prefix_end = keys::prefix_end(prefix);
        if to > prefix_end.as_slice() {
            return self.scan_merged(from, to, reverse, f);
        }
        if self.scans.borrow().get(prefix).is_none() {
            let whole = from == prefix && to == prefix_end.as_slice();
            if !whole {
                // Part of a collection (a zset rank range...): fill on the
                // second such read without a write between, if nothing of
                // this tick is in the collection (entries hold committed
                // records only).
                let partial = match self.scans.try_borrow_mut() {
                    Ok(mut scans) => scans.partial_read(prefix),
                    // A scan inside another scan's callback: no caching.
                    Err(_) => scan_cache::Partial::Scan,
                };
                if partial == scan_cache::Partial::Scan
                    || !self.untouched(prefix, &prefix_end)
                    || !self.fill(prefix, &prefix_end)?
                {
                    return self.scan_merged(from, to, reverse, f);
                }
            } else if self.scans.borrow().known_big(prefix) {
                return self.scan_merged(from, to, reverse, f);
            } else {
                // A whole collection: remember it if it is small and `f`
                // reads it to the end.
                let mut records = Collector::new(prefix);
                let mut complete = true;
                self.scan_merged(from, to, reverse, |k, v| {
                    records.push(k, v);
                    complete = f(k, v);
                    complete
                })?;
                if complete && let Ok(mut scans) = self.scans.try_borrow_mut() {
                    scans.keep(prefix, records, reverse);
                }
                return Ok(());
            }
        }
        {
            let scans = self.scans.borrow();
            if let Some(records) = scans.get(prefix) {
                let lo = records.partition_point(|(k, _)| k.as_slice() < from);
                let hi = records.partition_point(|(k, _)| k.as_slice() < to);
                let mut walk = |(k, v): &(Vec<u8>, Vec<u8>)| f(k, v);
                if reverse {
                    let _ = records[lo..hi].iter().rev().all(&mut walk);
                } else {
                    let _ = records[lo..hi].iter().all(&mut walk);
                }
                return Ok(());
            }
        }
        self.scan_merged(from, to, reverse, f)
    }

    /// No uncommitted write or range delete in `[from, to)`.
    fn untouched(&self, from: &[u8], to: &[u8]) -> bool {
        let ranged = self
            .ranges
            .iter()
            .any(|r| r.from.as_slice() < to && from < r.to.as_slice());
        !ranged
            && self
                .overlay
                .range::<[u8], _>((
                    std::ops::Bound::Included(from),
                    std::ops::Bound::Excluded(to),
                ))
                .next()
                .is_none()
    }

    /// Reads the whole collection at `prefix` into the scan cache; false
    /// (and noted) when it is too big to keep.
    fn fill(&self, prefix: &[u8], prefix_end: &[u8]) -> OpResult<bool> {
        let mut records = Collector::new(prefix);
        self.scan_merged(prefix, prefix_end, false, |k, v| records.push(k, v))?;
        Ok(self
            .scans
            .try_borrow_mut()
            .is_ok_and(|mut scans| scans.keep(prefix, records, false)))
    }

    /// Merges the overlay (which wins on equal keys) with a database
    /// iterator over the same bounds, skipping range-deleted database keys.
    fn scan_merged(
        &self,
        from: &[u8],
        to: &[u8],
        reverse: bool,
        mut f: impl FnMut(&[u8], &[u8]) -> bool,
    ) -> OpResult<()> {
        let range = self.overlay.range::<[u8], _>((
            std::ops::Bound::Included(from),
            std::ops::Bound::Excluded(to),
        ));
        let range = range.map(|(k, p)| (k, &p.value));
        let mut over: Box<dyn Iterator<Item = (&Vec<u8>, &Option<Bytes>)>> = if reverse {
            Box::new(range.rev())
        } else {
            Box::new(range)
        };
        let mut ro = rocksdb::ReadOptions::default();
        ro.set_iterate_lower_bound(from.to_vec());
        ro.set_iterate_upper_bound(to.to_vec());
        let mut it = self.db.raw_iterator_cf_opt(self.cf(), ro);
        if reverse {
            it.seek_to_last();
        } else {
            it.seek(from);
        }
        let mut next_over = over.next();
        loop {
            let db_key = if it.valid() { it.key() } else { None };
            // Which side comes next in iteration order.
            let take_over = match (db_key, &next_over) {
                (None, None) => break,
                (None, Some(_)) => true,
                (Some(_), None) => false,
                (Some(dk), Some((ok, _))) => {
                    if reverse {
                        ok.as_slice() >= dk
                    } else {
                        ok.as_slice() <= dk
                    }
                }
            };
            if take_over {
                let (ok, ov) = next_over.expect("checked above");
                // The overlay shadows the database copy of the same key.
                if db_key == Some(ok.as_slice()) {
                    step(&mut it, reverse);
                }
                if let Some(v) = ov
                    && !f(ok, v)
                {
                    return Ok(());
                }
                next_over = over.next();
            } else {
                let (Some(k), Some(v)) = (it.key(), it.value()) else {
                    break;
                };
                if !self.deleted(k) && !f(k, v) {
                    return Ok(());
                }
                step(&mut it, reverse);
            }
        }
        it.status()?;
        Ok(())
    }
}

/// Finds the first or last live key of sub-ranges of one range, many times,
/// over one RocksDB iterator. Why: creating an iterator (a merge over every
/// memtable and SST) costs more than the seek itself, and a random pick
/// ([`crate::types::sample`]) asks for two range edges per byte it descends.
/// Sees what [`ShardStore::scan`] sees: this tick's writes, and range
/// deletes.
pub struct Cursor<'a> {
    store: &'a ShardStore,
    it: rocksdb::DBRawIteratorWithThreadMode<'a, DB>,
}

impl Cursor<'_> {
    /// The first (with `last`, the last) live key in `[lo, hi)`, within the
    /// range the cursor was opened on.
    pub fn edge(&mut self, lo: &[u8], hi: &[u8], last: bool) -> OpResult<Option<Vec<u8>>> {
        if lo >= hi {
            return Ok(None);
        }
        let range = self
            .store
            .overlay
            .range::<[u8], _>((std::ops::Bound::Included(lo), std::ops::Bound::Excluded(hi)));
        // The overlay's live keys win over the database's copies.
        let over = if last {
            range.rev().find(|(_, p)| p.value.is_some())
        } else {
            range.clone().find(|(_, p)| p.value.is_some())
        }
        .map(|(k, _)| k.as_slice());
        if last {
            self.it.seek_for_prev(hi);
            if self.it.key() == Some(hi) {
                self.it.prev();
            }
        } else {
            self.it.seek(lo);
        }
        let mut db = None;
        while let Some(k) = self.it.key() {
            if k < lo || k >= hi {
                break;
            }
            // Past the overlay's candidate nothing from the database can win.
            if over.is_some_and(|o| if last { k <= o } else { k >= o }) {
                break;
            }
            if !self.store.overlay.contains_key(k) && !self.store.deleted(k) {
                db = Some(k.to_vec());
                break;
            }
            step(&mut self.it, last);
        }
        self.it.status()?;
        Ok(match (db, over) {
            (Some(d), _) => Some(d),
            (None, o) => o.map(<[u8]>::to_vec),
        })
    }
}

impl ShardStore {
    /// A [`Cursor`] over the keys in `[from, to)`.
    pub fn cursor(&self, from: &[u8], to: &[u8]) -> Cursor<'_> {
        let mut ro = rocksdb::ReadOptions::default();
        ro.set_iterate_lower_bound(from.to_vec());
        ro.set_iterate_upper_bound(to.to_vec());
        Cursor {
            store: self,
            it: self.db.raw_iterator_cf_opt(self.cf(), ro),
        }
    }
}

fn step(it: &mut rocksdb::DBRawIteratorWithThreadMode<'_, DB>, reverse: bool) {
    if reverse {
        it.prev();
    } else {
        it.next();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(cache: usize) -> (tempfile::TempDir, ShardStore) {
        let dir = tempfile::tempdir().unwrap();
        let db = super::super::open(dir.path(), 1, &Default::default()).unwrap();
        (dir, ShardStore::new(db, super::super::data_cf(0), cache))
    }

    /// A cursor's edges agree with a scan's first and last keys over the
    /// committed keys, this tick's puts and deletes, and a range delete.
    #[test]
    fn cursor_edges_match_scans() {
        let (_d, mut s) = store(1 << 20);
        for k in ["a1", "a3", "a5", "b2", "b4", "c1"] {
            s.put(k.as_bytes().to_vec(), b"v".to_vec());
        }
        s.commit().unwrap();
        s.put(b"a4".to_vec(), b"v".to_vec());
        s.delete(b"a1".to_vec());
        s.delete(b"c1".to_vec());
        s.delete_range(b"b3", b"b5").unwrap();
        s.put(b"b45".to_vec(), b"v".to_vec());
        let scan_edge = |lo: &[u8], hi: &[u8], last: bool| {
            let mut keys = Vec::new();
            s.scan(lo, hi, |k, _| {
                keys.push(k.to_vec());
                true
            })
            .unwrap();
            if last {
                keys.pop()
            } else {
                keys.into_iter().next()
            }
        };
        let bounds: &[&[u8]] = &[
            b"", b"a", b"a1", b"a2", b"a4", b"a5", b"a6", b"b", b"b3", b"b45", b"b5", b"c", b"c2",
            b"z",
        ];
        let mut cursor = s.cursor(b"", b"z");
        for lo in bounds {
            for hi in bounds {
                for last in [false, true] {
                    assert_eq!(
                        cursor.edge(lo, hi, last).unwrap(),
                        scan_edge(lo, hi, last),
                        "[{lo:?}, {hi:?}) last={last}"
                    );
                }
            }
        }
    }

    #[test]
    fn reads_see_uncommitted_writes_and_commit_persists_them() {
        for cache in [0, 1 << 20] {
            let (_d, mut s) = store(cache);
            s.put(b"ma".to_vec(), b"1".to_vec());
            assert_eq!(s.get(b"ma").unwrap(), Some(Bytes::from("1")));
            s.delete(b"ma".to_vec());
            assert_eq!(s.get(b"ma").unwrap(), None);
            s.put(b"mb".to_vec(), b"2".to_vec());
            s.commit().unwrap();
            assert!(!s.has_pending());
            assert_eq!(s.get(b"mb").unwrap(), Some(Bytes::from("2")));
            assert_eq!(s.get(b"ma").unwrap(), None);
            let mut seen = vec![];
            s.scan(b"", b"\xff", |k, _| {
                seen.push(k.to_vec());
                true
            })
            .unwrap();
            assert_eq!(seen, vec![b"mb".to_vec()]);
            s.delete_range(b"m", b"n").unwrap();
            assert_eq!(s.get(b"mb").unwrap(), None);
            s.put(b"mc".to_vec(), b"3".to_vec());
            assert_eq!(s.get(b"mc").unwrap(), Some(Bytes::from("3")));
            s.commit().unwrap();
            assert_eq!(s.get(b"mb").unwrap(), None);
            assert_eq!(s.get(b"mc").unwrap(), Some(Bytes::from("3")));
        }
    }

    /// Writes are held until one of the write-behind bounds is reached;
    /// held writes are not in RocksDB, and a commit puts them there.
    #[test]
    fn writes_are_held_until_a_bound_is_reached() {
        let (_d, mut s) = store(1 << 20);
        s.set_write_behind(Duration::from_secs(3600));
        assert!(!s.commit_due());
        let cf = |s: &ShardStore, k: &[u8]| s.db.get_cf(s.cf(), k).unwrap();
        for i in 0..BEHIND_ENTRIES - 1 {
            s.put(format!("k{i:06}").into_bytes(), b"v".to_vec());
        }
        assert!(!s.commit_due());
        assert_eq!(s.held(), BEHIND_ENTRIES - 1);
        assert_eq!(cf(&s, b"k000001"), None, "held writes reached RocksDB");
        assert_eq!(s.get(b"k000001").unwrap(), Some(Bytes::from("v")));
        s.put(b"last".to_vec(), b"v".to_vec());
        assert!(s.commit_due(), "entry bound");
        s.commit().unwrap();
        assert_eq!(s.held(), 0);
        assert!(!s.commit_due());
        assert_eq!(cf(&s, b"k000001"), Some(b"v".to_vec()));

        // A few big values reach the byte bound long before the entry one.
        for i in 0..(BEHIND_BYTES >> 20) {
            s.put(format!("big{i}").into_bytes(), vec![b'x'; 1 << 20]);
        }
        assert!(s.commit_due(), "byte bound");
        s.commit().unwrap();

        for i in 0..BEHIND_RANGES {
            let (from, to) = (format!("r{i}a"), format!("r{i}b"));
            s.delete_range(from.as_bytes(), to.as_bytes()).unwrap();
        }
        assert!(s.commit_due(), "range bound");
        s.commit().unwrap();

        // Age: with no hold at all, any write is due at once.
        s.set_write_behind(Duration::ZERO);
        assert!(!s.commit_due(), "nothing held");
        s.put(b"a".to_vec(), b"1".to_vec());
        assert!(s.commit_due(), "age bound");
    }

    /// The scan cache neither answers nor fills where a held range delete
    /// overlaps the collection, and does again once it is committed.
    #[test]
    fn scan_cache_waits_for_held_range_deletes() {
        let (_d, mut s) = store(1 << 20);
        let prefix = keys::subkey_prefix(b"c", 1);
        let end = keys::prefix_end(&prefix);
        let sub = |f: &str| [prefix.as_slice(), f.as_bytes()].concat();
        for f in ["a", "b", "c"] {
            s.put(sub(f), b"v".to_vec());
        }
        s.commit().unwrap();
        let all = |s: &ShardStore| {
            let mut out = Vec::new();
            s.scan(&prefix, &end, |k, _| {
                out.push(k.to_vec());
                true
            })
            .unwrap();
            out
        };
        assert_eq!(all(&s).len(), 3);
        s.delete_range(&sub("b"), &sub("c")).unwrap();
        assert_eq!(all(&s), vec![sub("a"), sub("c")]);
        assert_eq!(all(&s), vec![sub("a"), sub("c")]);
        s.commit().unwrap();
        assert_eq!(all(&s), vec![sub("a"), sub("c")]);
    }

    /// A member write stays in the read cache after commit: as its value
    /// when short, as "exists" when long. Value reads of the long one still
    /// go to RocksDB, and deletes, range deletes and overwrites by a plain
    /// put all leave the cache right.
    #[test]
    fn member_writes_stay_cached_and_exact() {
        let (_d, mut s) = store(1 << 20);
        let long = vec![b'v'; 100];
        s.put_member(b"sk-short".to_vec(), b"1".to_vec());
        s.put_member(b"sk-long".to_vec(), long.clone());
        s.commit().unwrap();
        assert_eq!(s.cache.borrow().contains(b"sk-long"), Some(true));
        assert_eq!(s.cache.borrow().get(b"sk-long"), None);
        assert_eq!(
            s.cache.borrow().get(b"sk-short"),
            Some(Some(Bytes::from("1")))
        );
        assert!(s.exists(b"sk-long").unwrap());
        assert_eq!(s.get(b"sk-long").unwrap(), Some(Bytes::from(long)));
        assert_eq!(s.get(b"sk-short").unwrap(), Some(Bytes::from("1")));
        s.delete(b"sk-short".to_vec());
        s.put(b"sk-long".to_vec(), b"2".to_vec());
        s.commit().unwrap();
        assert!(!s.exists(b"sk-short").unwrap());
        assert_eq!(s.get(b"sk-long").unwrap(), Some(Bytes::from("2")));
        s.put_member(b"sk-other".to_vec(), vec![b'w'; 100]);
        s.commit().unwrap();
        s.delete_range(b"sk", b"sl").unwrap();
        s.commit().unwrap();
        for k in [&b"sk-long"[..], b"sk-short", b"sk-other"] {
            assert!(!s.exists(k).unwrap());
            assert_eq!(s.get(k).unwrap(), None);
        }
    }

    fn collect(s: &ShardStore, reverse: bool) -> Vec<(String, String)> {
        let mut out = vec![];
        let f = |k: &[u8], v: &[u8]| {
            out.push((
                String::from_utf8_lossy(k).into_owned(),
                String::from_utf8_lossy(v).into_owned(),
            ));
            true
        };
        if reverse {
            s.scan_rev(b"s", b"t", f).unwrap();
        } else {
            s.scan(b"s", b"t", f).unwrap();
        }
        out
    }

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    /// The batch is built from the overlay with range deletes first: writes
    /// made before a range delete in the same tick must not survive it, and
    /// writes made after it must. Checked on disk, past the cache.
    #[test]
    fn range_deletes_order_against_writes_of_the_same_tick() {
        let (_d, mut s) = store(0);
        s.put(b"sa1".to_vec(), b"old".to_vec());
        s.put(b"sb1".to_vec(), b"old".to_vec());
        s.commit().unwrap();
        // Written, then dropped as unreachable, in one tick: gone.
        s.put(b"sa2".to_vec(), b"x".to_vec());
        s.drop_unreachable(b"sa", b"sb");
        // Range-deleted, then written, in one tick: the write stays.
        s.delete_range(b"sb", b"sc").unwrap();
        s.put(b"sb2".to_vec(), b"new".to_vec());
        // The same key written three times is one write of the last value.
        for v in ["1", "2", "3"] {
            s.put(b"mk".to_vec(), v.as_bytes().to_vec());
        }
        s.commit().unwrap();
        let cf = s.db.cf_handle(&s.cf).unwrap();
        let on_disk = |k: &[u8]| s.db.get_cf(cf, k).unwrap();
        assert_eq!(on_disk(b"sa1"), None);
        assert_eq!(on_disk(b"sa2"), None);
        assert_eq!(on_disk(b"sb1"), None);
        assert_eq!(on_disk(b"sb2"), Some(b"new".to_vec()));
        assert_eq!(on_disk(b"mk"), Some(b"3".to_vec()));
    }

    #[test]
    fn scans_merge_uncommitted_writes_both_ways() {
        let (_d, mut s) = store(1 << 20);
        for k in ["sa", "sc", "se", "sg"] {
            s.put(k.as_bytes().to_vec(), b"db".to_vec());
        }
        s.put(b"r0".to_vec(), b"outside".to_vec());
        s.commit().unwrap();
        s.put(b"sb".to_vec(), b"new".to_vec());
        s.put(b"sc".to_vec(), b"over".to_vec());
        s.delete(b"se".to_vec());
        s.put(b"sh".to_vec(), b"new".to_vec());
        let want = pairs(&[
            ("sa", "db"),
            ("sb", "new"),
            ("sc", "over"),
            ("sg", "db"),
            ("sh", "new"),
        ]);
        assert_eq!(collect(&s, false), want);
        let mut rev = want.clone();
        rev.reverse();
        assert_eq!(collect(&s, true), rev);
        // A range delete hides database keys; later writes show again.
        s.delete_range(b"sb", b"sg").unwrap();
        s.put(b"sd".to_vec(), b"late".to_vec());
        let want = pairs(&[("sa", "db"), ("sd", "late"), ("sg", "db"), ("sh", "new")]);
        assert_eq!(collect(&s, false), want);
        s.commit().unwrap();
        assert_eq!(collect(&s, false), want);
        let mut rev = want.clone();
        rev.reverse();
        assert_eq!(collect(&s, true), rev);
        // Stopping early works on both sides of the merge.
        let mut n = 0;
        s.scan(b"s", b"t", |_, _| {
            n += 1;
            n < 2
        })
        .unwrap();
        assert_eq!(n, 2);
    }

    #[test]
    fn cache_stays_within_budget_and_correct() {
        let (_d, mut s) = store(64 * 1024);
        for i in 0..5000u32 {
            s.put(format!("mkey{i}").into_bytes(), vec![b'x'; 100]);
            if i % 100 == 0 {
                s.commit().unwrap();
            }
        }
        s.commit().unwrap();
        assert!(s.cache.borrow().bytes() <= 64 * 1024);
        assert_eq!(s.cache.borrow().recount(), s.cache.borrow().bytes());
        for i in (0..5000u32).step_by(37) {
            assert_eq!(
                s.get(format!("mkey{i}").as_bytes())
                    .unwrap()
                    .map(|v| v.len()),
                Some(100)
            );
        }
    }
}
