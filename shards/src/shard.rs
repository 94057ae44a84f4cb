//! `Shard`: the per-core owner of one slice of the keyspace.
//!
//! A shard is only ever touched by the executor of its own core, so nothing
//! in it is shared or locked. It owns the shard's store (with this tick's
//! pending writes), the key counters INFO and DBSIZE report, and SCAN
//! cursors. Operations run to completion synchronously (`execute` never
//! yields), which is what makes each command atomic on its shard.

use std::collections::HashMap;
use std::collections::VecDeque;
use std::sync::Arc;

use bytes::Bytes;
use rand::Rng;
use rand::SeedableRng;
use rand::rngs::SmallRng;
use rocksdb::DB;

use crate::error::OpResult;
use crate::op::Op;
use crate::op::Output;
use crate::slot::ShardId;
use crate::storage::ShardStore;
use crate::storage::data_cf;
use crate::storage::keys;
use crate::storage::meta::Body;
use crate::storage::meta::Meta;
use crate::types::bits;
use crate::types::hash;
use crate::types::keyspace;
use crate::types::list;
use crate::types::set;
use crate::types::sort;
use crate::types::string;
use crate::types::zset;

/// Collections up to this many elements are garbage-collected with point
/// deletes, bigger ones with a range tombstone (see `Shard::drop_sub_keys`).
const POINT_DELETE_MAX: u64 = 256;

/// The stored state of one key as read at the start of an operation.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The record on disk, even when it has expired but is not yet removed.
    pub stored: Option<Meta>,
    /// `stored` unless it is expired at the operation's time.
    live: bool,
}

impl Entry {
    pub fn live(&self) -> Option<&Meta> {
        if self.live {
            self.stored.as_ref()
        } else {
            None
        }
    }

    pub fn exists(&self) -> bool {
        self.live
    }
}

/// Remembers where SCAN stopped: a RocksDB position is a key, not a number,
/// so cursors are tokens into a bounded table (as Kvrocks does).
struct ScanCursors {
    next: u64,
    map: HashMap<u64, Vec<u8>>,
    order: VecDeque<u64>,
}

/// Tokens kept per shard. An evicted token restarts its shard's walk, so
/// the table is large enough for many concurrent scanners (~64K last keys).
const MAX_SCAN_CURSORS: usize = 65_536;

impl ScanCursors {
    fn insert(&mut self, last_key: Vec<u8>) -> u64 {
        self.next = self.next.wrapping_add(1).max(1);
        if self.order.len() >= MAX_SCAN_CURSORS
            && let Some(old) = self.order.pop_front()
        {
            self.map.remove(&old);
        }
        self.map.insert(self.next, last_key);
        self.order.push_back(self.next);
        self.next
    }
}

/// A one-shard database in a temp dir, for unit tests of the `op_*` functions.
#[cfg(test)]
pub(crate) fn test_shard() -> (tempfile::TempDir, Shard) {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = crate::storage::open(dir.path(), 1, &Default::default()).expect("open rocksdb");
    (
        dir,
        Shard::open(ShardId(0), db, 1 << 20).expect("open shard"),
    )
}

/// `Bytes` of a string literal, for unit tests.
#[cfg(test)]
pub(crate) fn test_bytes(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

/// Counters INFO reports for a shard.
#[derive(Debug, Default, Clone, Copy)]
pub struct ShardStats {
    pub keys: u64,
    pub expires: u64,
    pub expired_keys: u64,
    pub ops: u64,
    /// Keys and range deletes applied but not yet written to RocksDB.
    pub held_writes: u64,
}

pub struct Shard {
    pub id: ShardId,
    store: ShardStore,
    stats: ShardStats,
    cursors: ScanCursors,
    rng: SmallRng,
    /// Last collection version handed out outside a Raft entry.
    version: u64,
    /// Inside a Raft entry: (log index << 20, versions handed out in it).
    entry_versions: Option<(u64, u64)>,
    /// Keys connections WATCH, with their modification epochs.
    watch: crate::watch::Registry,
    /// Keys blocked clients wait on, and those of them written since the
    /// core last looked (it wakes their waiters).
    blocked_keys: std::collections::HashSet<Bytes>,
    ready_keys: Vec<Bytes>,
    /// Where recently popped zsets' live index fields start and end.
    zset_bounds: crate::types::zset::IndexBounds,
    /// Fields of the collections created since start (skips the store
    /// read that asks whether a member is new; see [`crate::fresh`]).
    fresh: crate::fresh::FreshFields,
}

impl Shard {
    /// Binds shard `id` to its column family and counts its keys.
    /// `cache_bytes` bounds the shard's in-memory read cache.
    pub fn open(id: ShardId, db: Arc<DB>, cache_bytes: usize) -> OpResult<Self> {
        let store = ShardStore::new(db, data_cf(id.0), cache_bytes);
        let mut stats = ShardStats::default();
        store.scan(&[keys::META], &[keys::META + 1], |_, v| {
            stats.keys += 1;
            if Meta::peek_expire(v).is_some() {
                stats.expires += 1;
            }
            true
        })?;
        Ok(Shard {
            id,
            store,
            stats,
            cursors: ScanCursors {
                next: 0,
                map: HashMap::new(),
                order: VecDeque::new(),
            },
            rng: SmallRng::from_entropy(),
            version: 0,
            entry_versions: None,
            watch: Default::default(),
            blocked_keys: Default::default(),
            ready_keys: Vec::new(),
            zset_bounds: Default::default(),
            fresh: Default::default(),
        })
    }

    pub fn stats(&self) -> ShardStats {
        ShardStats {
            held_writes: self.store.held() as u64,
            ..self.stats
        }
    }

    /// How long applied writes may stay in memory before they are
    /// committed ([`crate::storage::ShardStore::commit_due`]).
    pub fn set_write_behind(&mut self, age: std::time::Duration) {
        self.store.set_write_behind(age);
    }

    /// Runs one op at time `now_ms`. Never yields.
    pub fn execute(&mut self, op: Op, now_ms: i64) -> OpResult<Output> {
        self.stats.ops += 1;
        match op {
            Op::Get(k) => string::op_get(self, &k, now_ms),
            Op::Set {
                key,
                value,
                expiry,
                cond,
                get,
            } => string::op_set(self, &key, value, expiry, cond, get, now_ms),
            Op::GetDel(k) => string::op_getdel(self, &k, now_ms),
            Op::GetEx { key, expiry } => string::op_getex(self, &key, expiry, now_ms),
            Op::Append { key, value } => string::op_append(self, &key, &value, now_ms),
            Op::StrLen(k) => string::op_strlen(self, &k, now_ms),
            Op::GetRange { key, start, end } => string::op_getrange(self, &key, start, end, now_ms),
            Op::SetRange { key, offset, value } => {
                string::op_setrange(self, &key, offset, &value, now_ms)
            }
            Op::IncrBy { key, delta } => string::op_incrby(self, &key, delta, now_ms),
            Op::IncrByFloat { key, delta } => string::op_incrbyfloat(self, &key, delta, now_ms),
            Op::MGet(ks) => string::op_mget(self, &ks, now_ms),
            Op::MSet(pairs) => string::op_mset(self, pairs, now_ms),
            Op::MSetNx(pairs) => string::op_msetnx(self, pairs, now_ms),
            Op::Exists(ks) | Op::Touch(ks) => keyspace::op_exists(self, &ks, now_ms),
            Op::Del(ks) => keyspace::op_del(self, &ks, now_ms),
            Op::Type(k) => keyspace::op_type(self, &k, now_ms),
            Op::Expire { key, at_ms, cond } => keyspace::op_expire(self, &key, at_ms, cond, now_ms),
            Op::Pttl(k) => keyspace::op_pttl(self, &k, now_ms),
            Op::PexpireTime(k) => keyspace::op_pexpiretime(self, &k, now_ms),
            Op::Persist(k) => keyspace::op_persist(self, &k, now_ms),
            Op::Keys(pattern) => keyspace::op_keys(self, &pattern, now_ms),
            Op::Scan {
                cursor,
                pattern,
                count,
                type_name,
            } => keyspace::op_scan(
                self,
                cursor,
                pattern.as_deref(),
                count,
                type_name.as_deref(),
                now_ms,
            ),
            Op::RandomKey => keyspace::op_randomkey(self, now_ms),
            Op::DbSize => Ok(Output::Int(self.stats.keys as i64)),
            Op::FlushDb => keyspace::op_flushdb(self, now_ms),
            Op::Dump(k) => keyspace::op_dump(self, &k, now_ms),
            Op::ExpireDue(due) => self.expire_due(due, now_ms),
            Op::HSet { key, pairs, nx } => hash::op_hset(self, &key, pairs, nx, now_ms),
            Op::HGet { key, field } => hash::op_hget(self, &key, &field, now_ms),
            Op::HMGet { key, fields } => hash::op_hmget(self, &key, &fields, now_ms),
            Op::HDel { key, fields } => hash::op_hdel(self, &key, &fields, now_ms),
            Op::HLen(key) => hash::op_hlen(self, &key, now_ms),
            Op::HExists { key, field } => hash::op_hexists(self, &key, &field, now_ms),
            Op::HGetAll { key, what } => hash::op_hgetall(self, &key, what, now_ms),
            Op::HIncrBy { key, field, delta } => {
                hash::op_hincrby(self, &key, &field, delta, now_ms)
            }
            Op::HIncrByFloat { key, field, delta } => {
                hash::op_hincrbyfloat(self, &key, &field, delta, now_ms)
            }
            Op::HStrLen { key, field } => hash::op_hstrlen(self, &key, &field, now_ms),
            Op::HRandField {
                key,
                count,
                with_values,
            } => hash::op_hrandfield(self, &key, count, with_values, now_ms),
            Op::DeleteIfSame { key, record } => {
                keyspace::op_delete_if_same(self, &key, &record, now_ms)
            }
            Op::Restore { key, record, nx } => {
                keyspace::op_restore(self, &key, &record, nx, now_ms)
            }
            Op::RestoreDump {
                key,
                dumped,
                replace,
                expire_at,
            } => keyspace::op_restore_dump(self, &key, &dumped, replace, expire_at, now_ms),
            Op::Rename { src, dst, nx } => keyspace::op_rename(self, &src, &dst, nx, now_ms),
            Op::Lists(op) => list::execute(self, op, now_ms),
            Op::Sets(op) => set::execute(self, op, now_ms),
            Op::ZSets(op) => zset::execute(self, op, now_ms),
            Op::Watch(ks) => Ok(self.watch_keys(&ks, now_ms)?),
            Op::Unwatch(ks) => {
                for k in &ks {
                    self.watch.unwatch(k);
                }
                Ok(Output::Ok)
            }
            Op::WatchTouched(ws) => Ok(Output::Int(i64::from(self.watch_touched(&ws, now_ms)?))),
            Op::Multi(ops) => Ok(Output::Multi(
                ops.into_iter().map(|op| self.execute(op, now_ms)).collect(),
            )),
            Op::Encoding(k) => keyspace::op_encoding(self, &k, now_ms),
            Op::SortSource(k) => sort::op_sort_source(self, &k, now_ms),
            Op::Lookup(items) => sort::op_lookup(self, &items, now_ms),
            Op::SetBit { key, offset, on } => bits::op_setbit(self, &key, offset, on, now_ms),
            Op::GetBit { key, offset } => bits::op_getbit(self, &key, offset, now_ms),
            Op::BitCount { key, span } => bits::op_bitcount(self, &key, span, now_ms),
            Op::Copy { src, dst, replace } => keyspace::op_copy(self, &src, &dst, replace, now_ms),
            Op::Exec { .. } | Op::Block { .. } | Op::Unblock(_) => Err(
                crate::error::OpError::Storage("a core-level op reached the shard".into()),
            ),
        }
    }

    /// Reads the record of `key` as of `now_ms`.
    pub fn entry(&self, key: &[u8], now_ms: i64) -> OpResult<Entry> {
        let stored = match self.store.get(&keys::meta_key(key))? {
            Some(raw) => Meta::decode_bytes(&raw),
            None => None,
        };
        let live = stored.as_ref().is_some_and(|m| !m.is_expired(now_ms));
        Ok(Entry { stored, live })
    }

    /// Writes `new` as the record of `key`, whose previous state was `old`.
    pub fn put(&mut self, key: &[u8], old: &Entry, new: &Meta) {
        let old_exp = old.stored.as_ref().and_then(|m| m.expire_at);
        if old.stored.is_none() {
            self.stats.keys += 1;
        }
        match (old_exp, new.expire_at) {
            (None, Some(_)) => self.stats.expires += 1,
            (Some(_), None) => self.stats.expires -= 1,
            _ => {}
        }
        if old_exp != new.expire_at {
            if let Some(t) = old_exp {
                self.store.delete(keys::expire_key(t, key));
            }
            if let Some(t) = new.expire_at {
                self.store.put(keys::expire_key(t, key), Vec::new());
            }
        }
        if let Some(old) = &old.stored {
            let keeps = match (&old.body, &new.body) {
                (Body::Collection { version: a, .. }, Body::Collection { version: b, .. }) => {
                    a == b
                }
                _ => false,
            };
            if !keeps {
                self.drop_sub_keys(key, old);
            }
        }
        self.store.put(keys::meta_key(key), new.encode());
        self.touched(key);
        if !self.blocked_keys.is_empty() && self.blocked_keys.contains(key) {
            self.ready_keys.push(Bytes::copy_from_slice(key));
        }
    }

    /// Blocked clients wait on `key` (or no longer, with `false`).
    pub fn set_blocked_key(&mut self, key: &Bytes, blocked: bool) {
        if blocked {
            self.blocked_keys.insert(key.clone());
        } else {
            self.blocked_keys.remove(key);
        }
    }

    /// Some key with waiters was written since the last `take_ready_keys`.
    pub fn has_ready_keys(&self) -> bool {
        !self.ready_keys.is_empty()
    }

    /// Marks `key` ready, so the next wake-up looks at its waiters.
    pub fn mark_ready(&mut self, key: &Bytes) {
        self.ready_keys.push(key.clone());
    }

    /// Keys with waiters written since the last call.
    pub fn take_ready_keys(&mut self) -> Vec<Bytes> {
        std::mem::take(&mut self.ready_keys)
    }

    /// Gives the live key `key` a new expiry (None: persist), keeping its
    /// value; an expiry at or before `now_ms` deletes it, as Redis does.
    pub fn set_expiry(&mut self, key: &[u8], e: &Entry, expire_at: Option<i64>, now_ms: i64) {
        let Some(m) = e.live() else { return };
        match expire_at {
            Some(t) if t <= now_ms => self.remove(key, e),
            _ => {
                let new = Meta {
                    expire_at,
                    body: m.body.clone(),
                };
                self.put(key, e, &new);
            }
        }
    }

    /// Removes `key`, whose state was `old`; a no-op when nothing is stored.
    pub fn remove(&mut self, key: &[u8], old: &Entry) {
        let Some(stored) = &old.stored else { return };
        self.stats.keys -= 1;
        if let Some(t) = stored.expire_at {
            self.stats.expires -= 1;
            self.store.delete(keys::expire_key(t, key));
        }
        self.drop_sub_keys(key, stored);
        self.store.delete(keys::meta_key(key));
        if !self.watch.is_empty() {
            self.watch.touch(key, false);
        }
    }

    /// Garbage collection of a deleted or replaced collection, in the same
    /// batch as the metadata change. A big one gets one range tombstone over
    /// its version's sub-keys: DEL stays O(1) (no walk over a million
    /// elements) and compaction drops the covered records later. A small
    /// one has its sub-keys deleted one by one: every range tombstone in a
    /// memtable makes later reads of that memtable slower (measured: a
    /// thousand of them cost each read milliseconds), so they are kept for
    /// the keys that need them, and `storage` flushes a memtable that
    /// collects too many. An empty collection has no sub-keys left.
    fn drop_sub_keys(&mut self, key: &[u8], old: &Meta) {
        let Body::Collection { version, size, .. } = old.body else {
            return;
        };
        self.fresh.forget_version(key, version);
        if size == 0 {
            return;
        }
        let prefix = keys::subkey_prefix(key, version);
        if size > POINT_DELETE_MAX {
            self.store
                .drop_unreachable(&prefix, &keys::prefix_end(&prefix));
            return;
        }
        let mut fields = Vec::new();
        // A failed read only leaves unreachable records behind (space, not
        // correctness): the metadata change goes ahead either way.
        let _ = self.sub_scan(key, version, b"", None, false, |f, _| {
            fields.push(f.to_vec());
            true
        });
        for f in fields {
            self.store.delete(keys::subkey(key, version, &f));
        }
    }

    /// Marks the start of applying the Raft entry at `log_index`: versions
    /// handed out until the next entry derive from the index, so every
    /// replica names a new collection's sub-keys the same way.
    pub fn begin_entry(&mut self, log_index: u64) {
        self.entry_versions = Some((log_index << 20, 0));
    }

    /// A version for a new collection. It only has to differ from every
    /// earlier version of the same key, so that sub-keys of a deleted or
    /// overwritten value never show through: inside a Raft entry it is the
    /// entry's log index (shifted) plus a count; outside (unit tests, local
    /// tools) a counter above the clock.
    pub fn new_version(&mut self, now_ms: i64) -> u64 {
        if let Some((base, n)) = &mut self.entry_versions {
            *n += 1;
            return *base + *n;
        }
        self.version = (self.version + 1).max((now_ms.max(0) as u64) << 16);
        self.version
    }

    pub fn sub_get(&self, key: &[u8], version: u64, field: &[u8]) -> OpResult<Option<Bytes>> {
        if self.fresh.absent(key, version, field) {
            return Ok(None);
        }
        self.store.get(&keys::subkey(key, version, field))
    }

    /// Point reads of several fields of one collection version, in the
    /// order given; `f` is lent each field's value (no `Bytes` per value:
    /// see `ShardStore::get_with`). The sub-key prefix is built once
    /// (LRANGE reads a hundred elements per command).
    pub fn sub_get_many<F: AsRef<[u8]>>(
        &self,
        key: &[u8],
        version: u64,
        fields: impl IntoIterator<Item = F>,
        mut f: impl FnMut(Option<&[u8]>),
    ) -> OpResult<()> {
        let mut k = keys::SubKeys::new(key, version);
        for field in fields {
            self.store.get_with(k.of(field.as_ref()), &mut f)?;
        }
        Ok(())
    }

    /// [`Self::sub_get_many`] from memory only (this tick's writes and the
    /// read cache): stops at the first field neither knows and returns how
    /// many fields it answered.
    pub fn sub_get_known<F: AsRef<[u8]>>(
        &self,
        key: &[u8],
        version: u64,
        fields: impl IntoIterator<Item = F>,
        mut f: impl FnMut(Option<&[u8]>),
    ) -> usize {
        let mut k = keys::SubKeys::new(key, version);
        let mut answered = 0;
        for field in fields {
            if self.store.get_known(k.of(field.as_ref()), &mut f).is_err() {
                break;
            }
            answered += 1;
        }
        answered
    }

    pub fn sub_put(&mut self, key: &[u8], version: u64, field: &[u8], value: Vec<u8>) {
        self.fresh.added(key, version, field);
        self.store.put(keys::subkey(key, version, field), value);
        self.touched(key);
    }

    /// A record of `key` (its metadata or a sub-key) was written or a
    /// sub-key deleted, `key` itself still existing: WATCHers see it.
    fn touched(&mut self, key: &[u8]) {
        if !self.watch.is_empty() {
            self.watch.touch(key, true);
        }
    }

    /// [`Self::sub_put`] of a hash field, set member or zset member
    /// record: kept in the read cache after commit, because the next write
    /// of the same field asks whether it exists (`ShardStore::put_member`).
    pub fn sub_put_member(&mut self, key: &[u8], version: u64, field: &[u8], value: Vec<u8>) {
        self.fresh.added(key, version, field);
        self.store
            .put_member(keys::subkey(key, version, field), value);
        self.touched(key);
    }

    /// [`Self::sub_put`] of a record that is only ever scanned, never read
    /// by field (a zset's score-index entry): it skips the fresh-fields
    /// index, which would otherwise hold two fingerprints per ZADD member
    /// and fill its bound twice as fast. Never use it for a field that
    /// `sub_get`/`sub_exists` may ask about: to them an unrecorded field of
    /// a fresh collection reads as absent.
    pub fn sub_put_scanned(&mut self, key: &[u8], version: u64, field: &[u8], value: Vec<u8>) {
        self.store.put(keys::subkey(key, version, field), value);
        self.touched(key);
    }

    /// Whether `field` exists in the collection version: cheaper than
    /// [`Self::sub_get`] when the read cache knows only that it exists.
    pub fn sub_exists(&self, key: &[u8], version: u64, field: &[u8]) -> OpResult<bool> {
        if self.fresh.absent(key, version, field) {
            return Ok(false);
        }
        self.store.exists(&keys::subkey(key, version, field))
    }

    pub fn sub_delete(&mut self, key: &[u8], version: u64, field: &[u8]) {
        self.store.delete(keys::subkey(key, version, field));
        self.touched(key);
    }

    /// WATCH: registers `ks` and answers `[epoch, expired]` per key.
    fn watch_keys(&mut self, ks: &[Bytes], now_ms: i64) -> OpResult<Output> {
        let mut out = Vec::with_capacity(ks.len());
        for k in ks {
            let e = self.entry(k, now_ms)?;
            let expired = e.stored.is_some() && !e.exists();
            let epoch = self.watch.watch(k, expired);
            out.push(Output::Array(vec![
                Output::Int(epoch as i64),
                Output::Int(i64::from(expired)),
            ]));
        }
        Ok(Output::Array(out))
    }

    /// True when a watched key changed since WATCH, or (Redis 7.0) was
    /// live when watched and has expired since.
    pub fn watch_touched(&self, ws: &[crate::watch::Watched], now_ms: i64) -> OpResult<bool> {
        for w in ws {
            if self.watch.touched(w) {
                return Ok(true);
            }
            if !w.expired {
                let e = self.entry(&w.key, now_ms)?;
                if e.stored.is_some() && !e.exists() {
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }

    /// FLUSHDB/FLUSHALL: every watched key that exists now is modified.
    pub(crate) fn touch_all_watched(&mut self, now_ms: i64) -> OpResult<()> {
        for k in self.watch.keys() {
            if self.entry(&k, now_ms)?.stored.is_some() {
                self.watch.touch(&k, false);
            }
        }
        Ok(())
    }

    /// Every (field, value) of a collection version, in field order.
    pub fn sub_fields(&self, key: &[u8], version: u64) -> OpResult<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut out = Vec::new();
        self.sub_scan(key, version, b"", None, false, |f, v| {
            out.push((f.to_vec(), v.to_vec()));
            true
        })?;
        Ok(out)
    }

    /// Walks the sub-keys of a collection version whose field is in
    /// `[from, to)` (`to` None: to the end), in field order or backwards,
    /// seeing this tick's writes. `f(field, value)` returns false to stop.
    /// Ranges by rank, score or index are seeks here, not full loads.
    pub fn sub_scan(
        &self,
        key: &[u8],
        version: u64,
        from: &[u8],
        to: Option<&[u8]>,
        reverse: bool,
        mut f: impl FnMut(&[u8], &[u8]) -> bool,
    ) -> OpResult<()> {
        let prefix = keys::subkey_prefix(key, version);
        let start = keys::subkey(key, version, from);
        let end = match to {
            Some(t) => keys::subkey(key, version, t),
            None => keys::prefix_end(&prefix),
        };
        let n = prefix.len();
        let g = |k: &[u8], v: &[u8]| f(&k[n..], v);
        if reverse {
            self.store.scan_rev(&start, &end, g)
        } else {
            self.store.scan(&start, &end, g)
        }
    }

    /// [`Self::sub_scan`] of `[from, to)` that also puts every record it
    /// reads into the read cache: a bounded range that will be read again
    /// with point lookups (see `types::list`).
    pub fn sub_scan_filling(
        &self,
        key: &[u8],
        version: u64,
        from: &[u8],
        to: &[u8],
        reverse: bool,
        mut f: impl FnMut(&[u8]),
    ) -> OpResult<()> {
        let mut k = keys::SubKeys::new(key, version);
        self.sub_scan(key, version, from, Some(to), reverse, |field, v| {
            self.store.remember(k.of(field), v);
            f(v);
            true
        })
    }

    /// A cursor over the fields of `key`'s collection at `version`, for
    /// many edge lookups on one iterator ([`SubCursor::edge`]).
    pub fn sub_cursor(&self, key: &[u8], version: u64) -> SubCursor<'_> {
        let prefix = keys::subkey_prefix(key, version);
        let end = keys::prefix_end(&prefix);
        SubCursor {
            cursor: self.store.cursor(&prefix, &end),
            end,
            prefix,
        }
    }

    /// Raft state stored beside the data (`r` namespace).
    pub fn raft_state(&self, name: &[u8]) -> OpResult<Option<Bytes>> {
        self.store.get(&keys::raft_key(name))
    }

    /// Writes Raft state into this tick's batch, atomically with the data.
    pub fn set_raft_state(&mut self, name: &[u8], value: Vec<u8>) {
        self.store.put(keys::raft_key(name), value);
    }

    /// Every record of the shard, Raft state included (snapshot build).
    pub fn dump_all(&mut self) -> OpResult<Vec<(Vec<u8>, Vec<u8>)>> {
        self.commit()?;
        let mut out = Vec::new();
        self.store.scan(&[0], keys::END, |k, v| {
            out.push((k.to_vec(), v.to_vec()));
            true
        })?;
        Ok(out)
    }

    /// The shard's column family was replaced under it (snapshot install):
    /// forget cached reads and take the new counters.
    pub fn installed(&mut self, keys: u64, expires: u64) {
        self.forget_derived();
        self.stats.keys = keys;
        self.stats.expires = expires;
    }

    /// Drops everything this shard knows about its column family besides
    /// RocksDB itself (read and scan caches, fresh fields, zset pop
    /// bounds): after a snapshot install, or one that failed part-way and
    /// may have replaced the column family anyway.
    pub fn forget_derived(&mut self) {
        self.store.clear_cache();
        self.zset_bounds.clear();
        self.fresh.clear();
    }

    /// Commits the writes held in memory if they are due
    /// ([`crate::storage::ShardStore::commit_due`]); the Raft
    /// apply and the write-behind timer call this instead of committing
    /// every apply.
    pub fn commit_if_due(&mut self) -> OpResult<()> {
        if self.store.commit_due() {
            self.commit()
        } else {
            Ok(())
        }
    }

    /// Writes every held write to RocksDB now (see
    /// [`crate::storage::ShardStore::commit`]).
    pub fn commit(&mut self) -> OpResult<()> {
        let r = self.store.commit();
        if r.is_err() {
            // The writes stay held, and the bounds agree with them; drop
            // the bounds anyway, as nothing here needs them to be right.
            self.zset_bounds.clear();
        }
        r
    }

    /// Starts tracking the fields of `key`'s collection at `version`, a
    /// version just handed out (so it has no fields yet).
    pub(crate) fn track_fresh(&mut self, key: &[u8], version: u64) {
        self.fresh.start(key, version);
    }

    pub(crate) fn zset_bounds(&self) -> &crate::types::zset::IndexBounds {
        &self.zset_bounds
    }

    pub(crate) fn zset_bounds_mut(&mut self) -> &mut crate::types::zset::IndexBounds {
        &mut self.zset_bounds
    }

    /// fsyncs the node's WAL on the calling thread (shutdown only).
    pub fn sync_wal(&self) -> OpResult<()> {
        Ok(self.store.db().flush_wal(true)?)
    }

    pub(crate) fn store(&self) -> &ShardStore {
        &self.store
    }

    pub(crate) fn store_mut(&mut self) -> &mut ShardStore {
        &mut self.store
    }

    /// After FLUSHDB / FLUSHALL: no keys, and no collections to track.
    pub(crate) fn reset_counts(&mut self) {
        self.stats.keys = 0;
        self.stats.expires = 0;
        self.fresh.clear();
    }

    pub(crate) fn save_cursor(&mut self, last_key: Vec<u8>) -> u64 {
        self.cursors.insert(last_key)
    }

    pub(crate) fn cursor_position(&self, token: u64) -> Option<&[u8]> {
        self.cursors.map.get(&token).map(|v| v.as_slice())
    }

    /// Active expiry, first half: up to `max` (expire-at, key) entries of
    /// the expiry index that are due at `now_ms`. Read-only; the leader
    /// proposes them as [`Op::ExpireDue`].
    pub fn due_expiries(&mut self, now_ms: i64, max: usize) -> OpResult<Vec<(i64, Bytes)>> {
        let mut due = Vec::new();
        let upper = keys::expire_key(now_ms.saturating_add(1), b"");
        self.store.scan(&[keys::EXPIRE], &upper, |k, _| {
            if let Some((at, user)) = keys::parse_expire_key(k) {
                due.push((at, Bytes::copy_from_slice(user)));
            }
            due.len() < max
        })?;
        Ok(due)
    }

    /// Active expiry, second half (applied through Raft): removes the keys
    /// still due at `now_ms`; answers how many were removed.
    fn expire_due(&mut self, due: Vec<(i64, Bytes)>, now_ms: i64) -> OpResult<Output> {
        let mut removed = 0;
        for (at, user) in due {
            let e = self.entry(&user, now_ms)?;
            match &e.stored {
                Some(m) if m.expire_at == Some(at) && m.is_expired(now_ms) => {
                    self.remove(&user, &e);
                    self.stats.expired_keys += 1;
                    removed += 1;
                }
                Some(m) if m.expire_at == Some(at) => {}
                // A stale index entry (the key was rewritten): drop it.
                _ => self.store.delete(keys::expire_key(at, &user)),
            }
        }
        Ok(Output::Int(removed))
    }

    pub(crate) fn random_u64(&mut self) -> u64 {
        self.rng.r#gen()
    }
}

/// [`Shard::sub_cursor`]: a [`crate::storage::Cursor`] speaking in fields.
pub struct SubCursor<'a> {
    cursor: crate::storage::Cursor<'a>,
    prefix: Vec<u8>,
    end: Vec<u8>,
}

impl SubCursor<'_> {
    /// The first (with `last`, the last) field in `[from, to)` (`to` None:
    /// every field from `from` on).
    pub fn edge(
        &mut self,
        from: &[u8],
        to: Option<&[u8]>,
        last: bool,
    ) -> OpResult<Option<Vec<u8>>> {
        let lo = [self.prefix.as_slice(), from].concat();
        let hi = match to {
            Some(t) => [self.prefix.as_slice(), t].concat(),
            None => self.end.clone(),
        };
        let n = self.prefix.len();
        Ok(self.cursor.edge(&lo, &hi, last)?.map(|k| k[n..].to_vec()))
    }
}
