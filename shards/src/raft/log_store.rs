//! `RaftLogStorage` over a shard's Raft column family.
//!
//! Entries are keyed by big-endian index (`e` + u64) so ranges are scans
//! and truncation/purge are range deletes; the vote, committed id and last
//! purged id live under fixed meta keys. Writes go to RocksDB without sync
//! on the executor; durability comes from the core's fsync thread, which
//! syncs the node's WAL and reports back, so `append` acknowledges through
//! `IOFlushed` only after the WAL holding its entries is on disk, and
//! `save_vote` returns only then (seed 004: persist before replying).

use std::cell::Cell;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt::Debug;
use std::io;
use std::ops::Bound;
use std::ops::RangeBounds;
use std::rc::Rc;
use std::sync::Arc;

use openraft::LogState;
use openraft::OptionalSend;
use openraft::RaftLogReader;
use openraft::entry::RaftEntry;
use openraft::storage::IOFlushed;
use openraft::storage::RaftLogStorage;
use rocksdb::DB;
use rocksdb::WriteBatch;

use super::Entry;
use super::LogId;
use super::TypeConfig;
use super::Vote;
use crate::codec;

const ENTRY: u8 = b'e';
const VOTE: &[u8] = b"mvote";
const PURGED: &[u8] = b"mpurged";

fn entry_key(index: u64) -> [u8; 9] {
    let mut k = [ENTRY; 9];
    k[1..].copy_from_slice(&index.to_be_bytes());
    k
}

fn io_err(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(e.to_string())
}

type Done = Box<dyn FnOnce(io::Result<()>)>;

/// Hands WAL syncs to a long-lived thread and runs each completion on the
/// executor once a sync that covers it has finished. Many requests that
/// queue during one sync share the next (group commit).
struct Syncer {
    to_thread: Option<flume::Sender<u64>>,
    thread: Option<std::thread::JoinHandle<()>>,
    next: u64,
    pending: VecDeque<(u64, Done)>,
}

impl Drop for Syncer {
    /// Stops the thread and waits for it, so the last `Arc<DB>` is never
    /// dropped by a thread racing process exit (RocksDB aborts then).
    fn drop(&mut self) {
        self.to_thread.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Syncer {
    fn start(db: Arc<DB>, name: String) -> io::Result<Rc<RefCell<Syncer>>> {
        let (to_thread, requests) = flume::unbounded::<u64>();
        let (done_tx, done_rx) = flume::unbounded::<(u64, Result<(), String>)>();
        let thread = std::thread::Builder::new().name(name).spawn(move || {
            while let Ok(mut upto) = requests.recv() {
                for more in requests.try_iter() {
                    upto = upto.max(more);
                }
                let res = if crate::failpoint::fail("log-sync") {
                    Err("injected log sync failure".to_string())
                } else {
                    db.flush_wal(true).map_err(|e| e.into_string())
                };
                if done_tx.send((upto, res)).is_err() {
                    return;
                }
            }
        })?;
        let syncer = Rc::new(RefCell::new(Syncer {
            to_thread: Some(to_thread),
            thread: Some(thread),
            next: 0,
            pending: VecDeque::new(),
        }));
        let weak = Rc::downgrade(&syncer);
        glommio::spawn_local(async move {
            while let Ok((upto, res)) = done_rx.recv_async().await {
                let Some(s) = weak.upgrade() else { return };
                let mut ready = Vec::new();
                {
                    let mut s = s.borrow_mut();
                    while s
                        .pending
                        .front()
                        .is_some_and(|(seq, _)| res.is_err() || *seq <= upto)
                    {
                        ready.extend(s.pending.pop_front().map(|(_, f)| f));
                    }
                }
                for f in ready {
                    f(res.clone().map_err(io_err));
                }
            }
        })
        .detach();
        Ok(syncer)
    }

    /// Runs `done` once everything written so far is synced.
    fn after_sync(&mut self, done: Done) {
        self.next += 1;
        self.pending.push_back((self.next, done));
        if self
            .to_thread
            .as_ref()
            .is_none_or(|t| t.send(self.next).is_err())
            && let Some((_, f)) = self.pending.pop_back()
        {
            f(Err(io_err("fsync thread stopped")));
        }
    }
}

struct Inner {
    db: Arc<DB>,
    cf: String,
    syncer: Rc<RefCell<Syncer>>,
    /// Under `always` appends are acknowledged after the WAL sync; under
    /// `everysec`/`no` right after the write (the shard's once-a-second
    /// fsync, or the OS, makes them durable later).
    sync_appends: bool,
    /// The latest appended entries, contiguous: the state machine reads
    /// entries back right after they are appended, and serving them from
    /// here saves a RocksDB iterator and a decode per apply.
    recent: RefCell<Recent>,
    /// The group has no other member, so nothing but the state machine
    /// reads the log's tail (no replication stream): a read moves its
    /// entries out of `recent` instead of cloning them (every op's
    /// arguments, reference counts and all), dropping older ones with them
    /// (`Recent::take`); a later read of those, should one come, is served
    /// from RocksDB.
    sole_reader: Cell<bool>,
}

/// Bounded tail of the log kept in memory (see `Inner::recent`).
#[derive(Default)]
struct Recent {
    entries: VecDeque<(Entry, usize)>,
    bytes: usize,
}

impl Recent {
    const MAX_ENTRIES: usize = 1024;
    const MAX_BYTES: usize = 64 << 20;

    fn push(&mut self, e: Entry, size: usize) {
        let follows = self
            .entries
            .back()
            .is_none_or(|(last, _)| last.index() + 1 == e.index());
        if !follows {
            self.entries.clear();
            self.bytes = 0;
        }
        self.bytes += size;
        self.entries.push_back((e, size));
        while self.entries.len() > Self::MAX_ENTRIES || self.bytes > Self::MAX_BYTES {
            match self.entries.pop_front() {
                Some((_, n)) => self.bytes -= n,
                None => break,
            }
        }
    }

    /// Keeps only entries for which `keep(index)` holds (truncate, purge).
    fn retain(&mut self, keep: impl Fn(u64) -> bool) {
        let bytes = &mut self.bytes;
        self.entries.retain(|(e, n)| {
            let k = keep(e.index());
            if !k {
                *bytes -= n;
            }
            k
        });
    }

    /// Entries `[start, end)`, moved out, if all of them are here; older
    /// entries go too (the caller is the log's only reader, and has read
    /// past them: what was read before the group knew it was alone, at
    /// start-up, would otherwise stay at the front for good). Anything
    /// dropped is still in RocksDB.
    fn take(&mut self, start: u64, end: u64) -> Option<Vec<Entry>> {
        let first = self.entries.front()?.0.index();
        let last = self.entries.back()?.0.index();
        if start < first || start >= end || end > last + 1 {
            return None;
        }
        let skip = (start - first) as usize;
        let mut taken = Vec::with_capacity((end - start) as usize);
        for (i, (e, size)) in self.entries.drain(..(end - first) as usize).enumerate() {
            self.bytes -= size;
            if i >= skip {
                taken.push(e);
            }
        }
        Some(taken)
    }

    /// Entries `[start, end)` if all of them are here.
    fn get(&self, start: u64, end: u64) -> Option<Vec<Entry>> {
        let first = self.entries.front()?.0.index();
        let last = self.entries.back()?.0.index();
        if start < first || end > last + 1 || start >= end {
            return None;
        }
        let from = (start - first) as usize;
        let to = (end - first) as usize;
        Some(
            self.entries
                .range(from..to)
                .map(|(e, _)| e.clone())
                .collect(),
        )
    }
}

impl Inner {
    fn cf(&self) -> io::Result<&rocksdb::ColumnFamily> {
        self.db
            .cf_handle(&self.cf)
            .ok_or_else(|| io_err(format!("column family {} missing", self.cf)))
    }

    fn get<T: serde::de::DeserializeOwned>(&self, key: &[u8]) -> io::Result<Option<T>> {
        match self.db.get_pinned_cf(self.cf()?, key).map_err(io_err)? {
            Some(raw) => Ok(Some(codec::decode(&raw)?)),
            None => Ok(None),
        }
    }

    fn put<T: serde::Serialize>(&self, key: &[u8], value: &T) -> io::Result<()> {
        self.db
            .put_cf(self.cf()?, key, codec::encode(value)?)
            .map_err(io_err)
    }

    fn last_entry(&self) -> io::Result<Option<Entry>> {
        let mut ro = rocksdb::ReadOptions::default();
        ro.set_iterate_lower_bound(vec![ENTRY]);
        ro.set_iterate_upper_bound(vec![ENTRY + 1]);
        let mut it = self.db.raw_iterator_cf_opt(self.cf()?, ro);
        it.seek_to_last();
        let found = match it.value() {
            Some(v) => Some(codec::decode(v)?),
            None => None,
        };
        it.status().map_err(io_err)?;
        Ok(found)
    }

    fn wait_synced(&self) -> impl std::future::Future<Output = io::Result<()>> + use<> {
        let (tx, rx) = flume::bounded(1);
        self.syncer.borrow_mut().after_sync(Box::new(move |r| {
            let _ = tx.send(r);
        }));
        async move {
            rx.recv_async()
                .await
                .unwrap_or_else(|_| Err(io_err("fsync thread stopped")))
        }
    }
}

/// A shard's Raft log; clones share the store (a reader sees later appends).
#[derive(Clone)]
pub struct RocksLogStore {
    inner: Rc<Inner>,
}

impl RocksLogStore {
    /// Binds to column family `cf` (created by `storage::open`) and starts
    /// its fsync thread. Must run on the shard's executor.
    pub fn new(db: Arc<DB>, cf: String, sync_appends: bool) -> io::Result<Self> {
        if db.cf_handle(&cf).is_none() {
            return Err(io_err(format!("column family {cf} missing")));
        }
        let syncer = Syncer::start(db.clone(), format!("raft-fsync-{cf}"))?;
        Ok(RocksLogStore {
            inner: Rc::new(Inner {
                db,
                cf,
                syncer,
                sync_appends,
                recent: RefCell::new(Recent::default()),
                sole_reader: Cell::new(false),
            }),
        })
    }

    /// Whether the group has no member but this node (see
    /// `Inner::sole_reader`). Only a matter of speed: when it is wrong,
    /// entries are cloned needlessly, or read back from RocksDB.
    pub fn set_sole_reader(&self, sole: bool) {
        self.inner.sole_reader.set(sole);
    }
}

impl RaftLogReader<TypeConfig> for RocksLogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, io::Error> {
        let start = match range.start_bound() {
            Bound::Included(&i) => i,
            Bound::Excluded(&i) => i.saturating_add(1),
            Bound::Unbounded => 0,
        };
        let end = match range.end_bound() {
            Bound::Included(&i) => i.saturating_add(1),
            Bound::Excluded(&i) => i,
            Bound::Unbounded => u64::MAX,
        };
        let found = if self.inner.sole_reader.get() {
            self.inner.recent.borrow_mut().take(start, end)
        } else {
            self.inner.recent.borrow().get(start, end)
        };
        if let Some(found) = found {
            return Ok(found);
        }
        let mut ro = rocksdb::ReadOptions::default();
        match range.end_bound() {
            Bound::Included(&i) if i < u64::MAX => {
                ro.set_iterate_upper_bound(entry_key(i + 1).to_vec())
            }
            Bound::Excluded(&i) => ro.set_iterate_upper_bound(entry_key(i).to_vec()),
            _ => ro.set_iterate_upper_bound(vec![ENTRY + 1]),
        }
        let inner = &self.inner;
        let mut it = inner.db.raw_iterator_cf_opt(inner.cf()?, ro);
        it.seek(entry_key(start));
        let mut out = Vec::new();
        while let Some(v) = it.value() {
            out.push(codec::decode(v)?);
            it.next();
        }
        it.status().map_err(io_err)?;
        Ok(out)
    }

    async fn read_vote(&mut self) -> Result<Option<Vote>, io::Error> {
        self.inner.get(VOTE)
    }
}

impl RaftLogStorage<TypeConfig> for RocksLogStore {
    type LogReader = Self;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, io::Error> {
        let last_purged_log_id: Option<LogId> = self.inner.get(PURGED)?;
        let last_log_id = match self.inner.last_entry()? {
            Some(e) => Some(e.log_id()),
            None => last_purged_log_id,
        };
        Ok(LogState {
            last_purged_log_id,
            last_log_id,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote) -> Result<(), io::Error> {
        self.inner.put(VOTE, vote)?;
        self.inner.wait_synced().await
    }

    /// Not kept: it would cost a RocksDB write (and a WAL write) per
    /// commit, and the state machine already persists what it applied
    /// atomically with the data. After a restart the leader re-commits the
    /// entries after `last_applied` (openraft treats this as optional).
    async fn save_committed(&mut self, _committed: Option<LogId>) -> Result<(), io::Error> {
        Ok(())
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, io::Error> {
        Ok(None)
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: IOFlushed<TypeConfig>,
    ) -> Result<(), io::Error>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let inner = &self.inner;
        let cf = inner.cf()?;
        let mut batch = WriteBatch::default();
        let mut appended = Vec::new();
        for e in entries {
            let bytes = codec::encode(&e)?;
            batch.put_cf(cf, entry_key(e.index()), &bytes);
            appended.push((e, bytes.len()));
        }
        inner.db.write(batch).map_err(io_err)?;
        let mut recent = inner.recent.borrow_mut();
        for (e, size) in appended {
            recent.push(e, size);
        }
        drop(recent);
        if inner.sync_appends {
            // Readable now; acknowledged once the WAL holding it is synced.
            inner
                .syncer
                .borrow_mut()
                .after_sync(Box::new(move |r| callback.io_completed(r)));
        } else {
            callback.io_completed(Ok(()));
        }
        Ok(())
    }

    async fn truncate_after(&mut self, last_log_id: Option<LogId>) -> Result<(), io::Error> {
        let from = match last_log_id {
            Some(id) if id.index == u64::MAX => return Ok(()),
            Some(id) => entry_key(id.index + 1).to_vec(),
            None => vec![ENTRY],
        };
        let inner = &self.inner;
        let keep_upto = last_log_id.map(|id| id.index);
        inner
            .recent
            .borrow_mut()
            .retain(|i| keep_upto.is_some_and(|k| i <= k));
        inner
            .db
            .delete_range_cf(inner.cf()?, from, vec![ENTRY + 1])
            .map_err(io_err)
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), io::Error> {
        let inner = &self.inner;
        inner.recent.borrow_mut().retain(|i| i > log_id.index);
        let cf = inner.cf()?;
        let mut batch = WriteBatch::default();
        batch.put_cf(cf, PURGED, codec::encode(&log_id)?);
        let end = if log_id.index == u64::MAX {
            vec![ENTRY + 1]
        } else {
            entry_key(log_id.index + 1).to_vec()
        };
        batch.delete_range_cf(cf, vec![ENTRY], end);
        inner.db.write(batch).map_err(io_err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(i: u64) -> Entry {
        use openraft::impls::leader_id_adv::LeaderId;
        Entry {
            log_id: openraft::LogId::new(
                LeaderId {
                    term: 1,
                    node_id: 1,
                },
                i,
            ),
            payload: openraft::EntryPayload::Blank,
        }
    }

    /// `take` moves a range out with everything older, as at start-up:
    /// a copy read first (before the group knew it was alone) must not
    /// keep later takes from moving; later appends still follow on.
    #[test]
    fn recent_take_moves_the_range_and_drops_older_entries() {
        let mut r = Recent::default();
        for i in 1..=5 {
            r.push(entry(i), 10);
        }
        let idx =
            |v: Option<Vec<Entry>>| v.map(|v| v.iter().map(|e| e.index()).collect::<Vec<_>>());
        // Start-up: a copy, nothing removed.
        assert_eq!(idx(r.get(1, 3)), Some(vec![1, 2]));
        assert_eq!(r.entries.len(), 5);
        // Then takes: entries 3 and 4 moved out, 1 and 2 dropped.
        assert_eq!(idx(r.take(3, 5)), Some(vec![3, 4]));
        assert_eq!(r.entries.len(), 1);
        assert_eq!(r.bytes, 10);
        // Gone now (served from RocksDB by the caller).
        assert_eq!(idx(r.take(1, 2)), None);
        assert_eq!(idx(r.take(4, 5)), None);
        r.push(entry(6), 10);
        assert_eq!(idx(r.take(5, 7)), Some(vec![5, 6]));
        assert!(r.entries.is_empty());
        assert_eq!(r.bytes, 0);
    }
}
