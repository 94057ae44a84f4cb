//! `RaftStateMachine` over a shard: applying an entry runs its ops through
//! the same `Shard::execute` (and so the same `op_*` functions) as every
//! other write, at the leader's timestamp carried in the entry.
//!
//! A stream of entries is applied into the shard's overlay: the data, the
//! last applied log id and the membership go into one WriteBatch together,
//! written behind when the overlay is due (see `storage::shard_store`), and
//! the clients' responders are answered once the overlay holds them.
//! Snapshots are files of the shard's whole column family, built and
//! installed off the executor ([`super::snapshot`]).

use std::cell::Cell;
use std::cell::RefCell;
use std::io;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;

use futures_lite::StreamExt;
use openraft::EntryPayload;
use openraft::OptionalSend;
use openraft::RaftSnapshotBuilder;
use openraft::Snapshot;
use openraft::entry::RaftEntry;
use openraft::storage::EntryResponder;
use openraft::storage::RaftStateMachine;
use rocksdb::DB;

use super::LogId;
use super::SnapshotMeta;
use super::StoredMembership;
use super::TypeConfig;
use super::WriteResponse;
use super::snapshot;
pub use super::snapshot::SnapshotFile;
use crate::codec;
use crate::error::OpError;
use crate::shard::Shard;

pub(crate) const APPLIED: &[u8] = b"applied";
pub(crate) const MEMBERSHIP: &[u8] = b"membership";

/// Snapshot payload: a file holding every record of the shard.
pub type SnapshotData = SnapshotFile;
type ShardSnapshot = openraft::type_config::alias::SnapshotOf<TypeConfig, SnapshotData>;

fn io_err(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(e.to_string())
}

impl From<OpError> for io::Error {
    fn from(e: OpError) -> Self {
        io_err(e)
    }
}

/// The snapshot last built or installed, shared by the state machine and
/// its builders.
type Current = Rc<RefCell<Option<(SnapshotMeta, SnapshotData)>>>;

/// Where a shard's snapshots live and what they are built from.
#[derive(Clone)]
struct Files {
    db: Arc<DB>,
    cf: String,
    dir: PathBuf,
}

pub struct ShardStateMachine {
    shard: Rc<RefCell<Shard>>,
    current: Current,
    files: Files,
    /// Snapshots built by this process, to make every snapshot id unique.
    built: Rc<Cell<u64>>,
    /// What was applied last, as stored: read from disk once, then kept
    /// here so an apply does not decode it again.
    last: Option<(Option<LogId>, StoredMembership)>,
}

impl ShardStateMachine {
    /// A state machine over `shard`, whose data lives in column family
    /// `cf` of `db`. The newest snapshot file left by an earlier run is
    /// the current snapshot again.
    pub fn new(shard: Rc<RefCell<Shard>>, db: Arc<DB>, cf: String) -> Self {
        let dir = snapshot::dir_of(&db, &cf);
        let current = snapshot::latest(&dir);
        ShardStateMachine {
            shard,
            current: Rc::new(RefCell::new(current)),
            files: Files { db, cf, dir },
            built: Rc::new(Cell::new(0)),
            last: None,
        }
    }
}

fn decode_applied(
    applied: Option<&[u8]>,
    membership: Option<&[u8]>,
) -> io::Result<(Option<LogId>, StoredMembership)> {
    let applied = match applied {
        Some(raw) => codec::decode(raw)?,
        None => None,
    };
    let membership = match membership {
        Some(raw) => codec::decode(raw)?,
        None => StoredMembership::default(),
    };
    Ok((applied, membership))
}

fn applied_state(shard: &Shard) -> io::Result<(Option<LogId>, StoredMembership)> {
    let applied = shard.raft_state(APPLIED)?;
    let membership = shard.raft_state(MEMBERSHIP)?;
    decode_applied(applied.as_deref(), membership.as_deref())
}

fn save_applied(
    shard: &mut Shard,
    applied: &Option<LogId>,
    membership: &StoredMembership,
) -> io::Result<()> {
    shard.set_raft_state(APPLIED, codec::encode(applied)?);
    shard.set_raft_state(MEMBERSHIP, codec::encode(membership)?);
    Ok(())
}

pub struct ShardSnapshotBuilder {
    shard: Rc<RefCell<Shard>>,
    current: Current,
    files: Files,
    built: Rc<Cell<u64>>,
}

impl RaftSnapshotBuilder<TypeConfig> for ShardSnapshotBuilder {
    type SnapshotData = SnapshotData;

    async fn build_snapshot(&mut self) -> Result<ShardSnapshot, io::Error> {
        // Whatever this tick applied is in RocksDB before the cut is taken.
        self.shard.borrow_mut().commit()?;
        let n = self.built.get() + 1;
        self.built.set(n);
        let started = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        let Files { db, cf, dir } = self.files.clone();
        let name = format!("{started}-{n}");
        let (meta, file) = snapshot::off_executor("snapshot-build", move || {
            snapshot::build(db, cf, dir, name, |applied, membership| {
                let (last_log_id, last_membership) =
                    decode_applied(applied.as_deref(), membership.as_deref())?;
                Ok(SnapshotMeta {
                    last_log_id,
                    last_membership,
                })
            })
        })
        .await?;
        *self.current.borrow_mut() = Some((meta.clone(), file.clone()));
        Ok(Snapshot {
            meta,
            snapshot: file,
        })
    }
}

impl RaftStateMachine<TypeConfig> for ShardStateMachine {
    type SnapshotData = SnapshotData;
    type SnapshotBuilder = ShardSnapshotBuilder;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership), io::Error> {
        applied_state(&self.shard.borrow())
    }

    async fn apply<Strm>(&mut self, mut entries: Strm) -> Result<(), io::Error>
    where
        Strm: futures_lite::Stream<Item = Result<EntryResponder<TypeConfig>, io::Error>>
            + Unpin
            + OptionalSend,
    {
        // Collect the stream first: once applying starts it must not yield,
        // so no other fiber commits or reads a half-applied batch.
        let mut items = Vec::new();
        while let Some(item) = entries.next().await {
            items.push(item?);
        }
        let mut shard = self.shard.borrow_mut();
        let (mut applied, mut membership) = match self.last.take() {
            Some(last) => last,
            None => applied_state(&shard)?,
        };
        let mut membership_changed = false;
        let mut replies = Vec::with_capacity(items.len());
        for (entry, responder) in items {
            let log_id = entry.log_id();
            shard.begin_entry(log_id.index);
            let response = match entry.payload {
                EntryPayload::Blank => WriteResponse(Vec::new()),
                EntryPayload::Normal(req) => WriteResponse(
                    req.ops
                        .into_iter()
                        .map(|op| shard.execute(op, req.now_ms))
                        .collect(),
                ),
                EntryPayload::Membership(m) => {
                    membership = StoredMembership::new(Some(log_id), m);
                    membership_changed = true;
                    WriteResponse(Vec::new())
                }
            };
            applied = Some(log_id);
            if let Some(r) = responder {
                replies.push((r, response));
            }
        }
        // The membership record changes only with a membership entry; the
        // applied id changes with every batch.
        if membership_changed {
            save_applied(&mut shard, &applied, &membership)?;
        } else {
            shard.set_raft_state(APPLIED, codec::encode(&applied)?);
        }
        // Held in memory until due (`ShardStore`'s write-behind); readers
        // see it at once, and the Raft log holds it until then.
        shard.commit_if_due()?;
        drop(shard);
        self.last = Some((applied, membership));
        for (r, response) in replies {
            r.send(response);
        }
        Ok(())
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        ShardSnapshotBuilder {
            shard: self.shard.clone(),
            current: self.current.clone(),
            files: self.files.clone(),
            built: self.built.clone(),
        }
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta,
        snapshot: SnapshotData,
    ) -> Result<(), io::Error> {
        // Nothing of this shard may be pending while its CF is replaced.
        self.shard.borrow_mut().commit()?;
        self.last = None;
        let Files { db, cf, dir } = self.files.clone();
        let installed = snapshot::off_executor("snapshot-install", move || {
            snapshot::install(db, cf, dir, snapshot)
        })
        .await;
        let (found, own) = match installed {
            Ok(r) => r,
            Err(e) => {
                // The column family may have been replaced before the
                // failure (the file work comes after the write): nothing
                // cached or indexed from before may answer for it.
                self.shard.borrow_mut().forget_derived();
                return Err(e);
            }
        };
        self.shard.borrow_mut().installed(found.keys, found.expires);
        // The file's own records carry its applied state; make sure they
        // agree with what openraft was told.
        let (applied, membership) = applied_state(&self.shard.borrow())?;
        if applied != meta.last_log_id || membership != meta.last_membership {
            let mut shard = self.shard.borrow_mut();
            save_applied(&mut shard, &meta.last_log_id, &meta.last_membership)?;
            shard.commit()?;
        }
        *self.current.borrow_mut() = Some((meta.clone(), own));
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<ShardSnapshot>, io::Error> {
        Ok(self.current.borrow().as_ref().map(|(meta, data)| Snapshot {
            meta: meta.clone(),
            snapshot: data.clone(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::rc::Rc;

    use openraft::StorageError;
    use openraft::testing::log::StoreBuilder;
    use openraft::testing::log::Suite;
    use openraft::type_config::TypeConfigExt;

    use super::ShardStateMachine;
    use crate::raft::TypeConfig;
    use crate::raft::log_store::RocksLogStore;
    use crate::shard::Shard;
    use crate::slot::ShardId;
    use crate::storage;

    /// Builds a fresh store; `sole_reader`: as for a group of one node,
    /// whose log reads move entries out of the in-memory tail.
    struct Builder {
        sole_reader: bool,
    }

    impl StoreBuilder<TypeConfig, RocksLogStore, ShardStateMachine, tempfile::TempDir> for Builder {
        async fn build(
            &self,
        ) -> Result<(tempfile::TempDir, RocksLogStore, ShardStateMachine), StorageError<TypeConfig>>
        {
            let dir = tempfile::tempdir().expect("temp dir");
            let db = storage::open(dir.path(), 1, &Default::default()).expect("open rocksdb");
            let shard = Shard::open(ShardId(0), db.clone(), 1 << 20).expect("open shard");
            let log = RocksLogStore::new(db.clone(), storage::raft_cf(0), true).expect("log store");
            log.set_sole_reader(self.sole_reader);
            let sm = ShardStateMachine::new(Rc::new(RefCell::new(shard)), db, storage::data_cf(0));
            Ok((dir, log, sm))
        }
    }

    /// openraft's storage conformance suite on our RocksDB log store and
    /// state machine, run on the glommio runtime.
    #[test]
    fn openraft_storage_suite() {
        TypeConfig::run(async {
            let builder = Builder { sole_reader: false };
            Suite::test_all(builder).await.expect("storage suite");
        });
    }

    /// The same suite with log reads moving entries out of the in-memory
    /// tail: reads that come again (the suite reads ranges repeatedly)
    /// must get the same entries, from RocksDB.
    #[test]
    fn openraft_storage_suite_sole_reader() {
        TypeConfig::run(async {
            let builder = Builder { sole_reader: true };
            Suite::test_all(builder).await.expect("storage suite");
        });
    }

    fn shard_in(dir: &std::path::Path) -> (Rc<RefCell<Shard>>, ShardStateMachine) {
        let db = storage::open(dir, 1, &Default::default()).expect("open rocksdb");
        let shard = Rc::new(RefCell::new(
            Shard::open(ShardId(0), db.clone(), 1 << 20).expect("open shard"),
        ));
        let sm = ShardStateMachine::new(shard.clone(), db, storage::data_cf(0));
        (shard, sm)
    }

    /// A snapshot bigger than one chunk, built from one shard and installed
    /// over different data in another, leaves both with the same records
    /// and counters; the file survives a restart as the current snapshot.
    #[test]
    fn snapshot_files_round_trip_across_shards_and_restarts() {
        use openraft::RaftSnapshotBuilder;
        use openraft::storage::RaftStateMachine;

        use crate::op::Op;
        use crate::op::SetCond;
        use crate::op::SetExpiry;

        fn set(sh: &mut Shard, k: String, v: Vec<u8>, expiry: SetExpiry) {
            let op = Op::Set {
                key: k.into(),
                value: v.into(),
                expiry,
                cond: SetCond::Always,
                get: false,
            };
            sh.execute(op, 1000).unwrap();
        }

        let (a_dir, b_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let ((a, mut sm_a), (b, mut sm_b)) = (shard_in(a_dir.path()), shard_in(b_dir.path()));
        for i in 0..3000 {
            let expiry = if i % 3 == 0 {
                SetExpiry::At(1_000_000 + i)
            } else {
                SetExpiry::Clear
            };
            set(
                &mut a.borrow_mut(),
                format!("k{i}"),
                vec![b'x'; 1000],
                expiry,
            );
        }
        set(
            &mut b.borrow_mut(),
            "stale".into(),
            b"gone".to_vec(),
            SetExpiry::Clear,
        );
        a.borrow_mut().commit().unwrap();
        b.borrow_mut().commit().unwrap();
        TypeConfig::run(async move {
            let snap = sm_a
                .get_snapshot_builder()
                .await
                .build_snapshot()
                .await
                .unwrap();
            assert!(std::fs::metadata(&snap.snapshot.path).unwrap().len() > 3_000_000);
            sm_b.install_snapshot(&snap.meta, snap.snapshot.clone())
                .await
                .unwrap();
            let cur = sm_b.get_current_snapshot().await.unwrap().unwrap();
            assert_eq!(cur.meta, snap.meta);
            assert_ne!(
                cur.snapshot.path, snap.snapshot.path,
                "the follower keeps its own copy"
            );
        });
        assert_eq!(
            a.borrow_mut().dump_all().unwrap(),
            b.borrow_mut().dump_all().unwrap()
        );
        let (sa, sb) = (a.borrow().stats(), b.borrow().stats());
        assert_eq!((sa.keys, sa.expires), (sb.keys, sb.expires));
        assert_eq!((sb.keys, sb.expires), (3000, 1000));
        drop((a, b));
        // Restart: the newest file is the current snapshot again.
        let (_b, mut sm_b) = shard_in(b_dir.path());
        TypeConfig::run(async move {
            assert!(sm_b.get_current_snapshot().await.unwrap().is_some());
        });
    }

    /// A file that is not a snapshot is refused with an error, and the
    /// shard keeps its data.
    #[test]
    fn garbage_snapshot_is_an_error() {
        use openraft::storage::RaftStateMachine;

        let dir = tempfile::tempdir().unwrap();
        let (shard, mut sm) = shard_in(dir.path());
        let junk = dir.path().join("junk");
        std::fs::write(&junk, b"SHDSNAP1\xff\xff\xff\xffnope").unwrap();
        let file = super::SnapshotFile { path: junk };
        TypeConfig::run(async move {
            let meta = Default::default();
            assert!(sm.install_snapshot(&meta, file).await.is_err());
        });
        assert!(shard.borrow_mut().dump_all().is_ok());
    }
}
