//! One shard's view of its column family, with writes batched per loop tick.
//!
//! Writes go into a pending `WriteBatch` plus an overlay map so that later
//! operations in the same tick read their own writes; the shard runtime
//! commits the batch once per tick (one RocksDB write for many commands).
//! Iteration reads the database only, so callers commit before iterating.

use std::collections::HashMap;
use std::sync::Arc;

use rocksdb::DB;
use rocksdb::WriteBatch;
use rocksdb::WriteOptions;

use crate::error::OpResult;

pub struct ShardStore {
    db: Arc<DB>,
    cf: String,
    batch: WriteBatch,
    overlay: HashMap<Vec<u8>, Option<Vec<u8>>>,
    write_opts: WriteOptions,
}

impl ShardStore {
    /// Binds to column family `cf`, which [`super::open`] created.
    pub fn new(db: Arc<DB>, cf: String) -> Self {
        assert!(db.cf_handle(&cf).is_some(), "column family {cf} was not opened");
        let mut write_opts = WriteOptions::default();
        // fsync is decided by the durability policy and runs off the executor.
        write_opts.set_sync(false);
        ShardStore { db, cf, batch: WriteBatch::default(), overlay: HashMap::new(), write_opts }
    }

    pub fn db(&self) -> &Arc<DB> {
        &self.db
    }

    fn cf(&self) -> &rocksdb::ColumnFamily {
        // Checked in `new`; column families are never dropped while running.
        self.db.cf_handle(&self.cf).expect("data column family vanished")
    }

    /// Reads `key`, seeing this tick's uncommitted writes.
    pub fn get(&self, key: &[u8]) -> OpResult<Option<Vec<u8>>> {
        if let Some(v) = self.overlay.get(key) {
            return Ok(v.clone());
        }
        Ok(self.db.get_pinned_cf(self.cf(), key)?.map(|p| p.to_vec()))
    }

    pub fn put(&mut self, key: Vec<u8>, value: Vec<u8>) {
        let cf = self.db.cf_handle(&self.cf).expect("data column family vanished");
        self.batch.put_cf(cf, &key, &value);
        self.overlay.insert(key, Some(value));
    }

    pub fn delete(&mut self, key: Vec<u8>) {
        let cf = self.db.cf_handle(&self.cf).expect("data column family vanished");
        self.batch.delete_cf(cf, &key);
        self.overlay.insert(key, None);
    }

    /// Deletes every key in `[from, to)`. Commits first so the overlay cannot
    /// shadow the range delete.
    pub fn delete_range(&mut self, from: &[u8], to: &[u8]) -> OpResult<()> {
        self.commit()?;
        let cf = self.db.cf_handle(&self.cf).expect("data column family vanished");
        self.batch.delete_range_cf(cf, from, to);
        self.commit()
    }

    pub fn has_pending(&self) -> bool {
        !self.batch.is_empty()
    }

    /// Writes this tick's batch to RocksDB (WAL + memtable, no fsync).
    pub fn commit(&mut self) -> OpResult<()> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let batch = std::mem::take(&mut self.batch);
        self.overlay.clear();
        self.db.write_opt(batch, &self.write_opts)?;
        Ok(())
    }

    /// Iterates committed keys in `[from, to)` in order; `f` returns false to stop.
    pub fn scan(&self, from: &[u8], to: &[u8], mut f: impl FnMut(&[u8], &[u8]) -> bool) -> OpResult<()> {
        debug_assert!(!self.has_pending(), "commit before scanning");
        let mut ro = rocksdb::ReadOptions::default();
        ro.set_iterate_upper_bound(to.to_vec());
        let mut it = self.db.raw_iterator_cf_opt(self.cf(), ro);
        it.seek(from);
        while it.valid() {
            let (Some(k), Some(v)) = (it.key(), it.value()) else { break };
            if !f(k, v) {
                return Ok(());
            }
            it.next();
        }
        it.status()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, ShardStore) {
        let dir = tempfile::tempdir().unwrap();
        let db = super::super::open(dir.path(), 1, &Default::default()).unwrap();
        (dir, ShardStore::new(db, super::super::data_cf(0)))
    }

    #[test]
    fn reads_see_uncommitted_writes_and_commit_persists_them() {
        let (_d, mut s) = store();
        s.put(b"a".to_vec(), b"1".to_vec());
        assert_eq!(s.get(b"a").unwrap(), Some(b"1".to_vec()));
        s.delete(b"a".to_vec());
        assert_eq!(s.get(b"a").unwrap(), None);
        s.put(b"b".to_vec(), b"2".to_vec());
        s.commit().unwrap();
        assert!(!s.has_pending());
        assert_eq!(s.get(b"b").unwrap(), Some(b"2".to_vec()));
        assert_eq!(s.get(b"a").unwrap(), None);
        let mut seen = vec![];
        s.scan(b"", b"\xff", |k, _| {
            seen.push(k.to_vec());
            true
        })
        .unwrap();
        assert_eq!(seen, vec![b"b".to_vec()]);
        s.delete_range(b"a", b"c").unwrap();
        assert_eq!(s.get(b"b").unwrap(), None);
    }
}
