//! `RaftStateMachine` over a shard: applying an entry runs its ops through
//! the same `Shard::execute` (and so the same `op_*` functions) as every
//! other write, at the leader's timestamp carried in the entry.
//!
//! A stream of entries is applied as one WriteBatch: the data, the last
//! applied log id and the membership commit together, and only then are
//! the clients' responders answered. Snapshots are the shard's whole
//! column family, encoded by the codec module.

use std::cell::RefCell;
use std::io;
use std::rc::Rc;

use futures_lite::StreamExt;
use openraft::EntryPayload;
use openraft::OptionalSend;
use openraft::RaftSnapshotBuilder;
use openraft::Snapshot;
use openraft::entry::RaftEntry;
use openraft::storage::EntryResponder;
use openraft::storage::RaftStateMachine;

use super::LogId;
use super::SnapshotMeta;
use super::StoredMembership;
use super::TypeConfig;
use super::WriteResponse;
use crate::codec;
use crate::error::OpError;
use crate::shard::Shard;

const APPLIED: &[u8] = b"applied";
const MEMBERSHIP: &[u8] = b"membership";

/// Snapshot payload: every record of the shard, encoded.
pub type SnapshotData = Vec<u8>;
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

pub struct ShardStateMachine {
    shard: Rc<RefCell<Shard>>,
    current: Current,
}

impl ShardStateMachine {
    pub fn new(shard: Rc<RefCell<Shard>>) -> Self {
        ShardStateMachine {
            shard,
            current: Rc::new(RefCell::new(None)),
        }
    }
}

fn applied_state(shard: &Shard) -> io::Result<(Option<LogId>, StoredMembership)> {
    let applied = match shard.raft_state(APPLIED)? {
        Some(raw) => codec::decode(&raw)?,
        None => None,
    };
    let membership = match shard.raft_state(MEMBERSHIP)? {
        Some(raw) => codec::decode(&raw)?,
        None => StoredMembership::default(),
    };
    Ok((applied, membership))
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
}

impl RaftSnapshotBuilder<TypeConfig> for ShardSnapshotBuilder {
    type SnapshotData = SnapshotData;

    async fn build_snapshot(&mut self) -> Result<ShardSnapshot, io::Error> {
        // TODO(issue 4): stream a RocksDB point-in-time snapshot from a
        // thread; this walks the column family on the executor.
        let (meta, data) = {
            let mut shard = self.shard.borrow_mut();
            let (last_log_id, last_membership) = applied_state(&shard)?;
            let records = shard.dump_all()?;
            (
                SnapshotMeta {
                    last_log_id,
                    last_membership,
                    ..Default::default()
                },
                codec::encode(&records)?,
            )
        };
        *self.current.borrow_mut() = Some((meta.clone(), data.clone()));
        Ok(Snapshot {
            meta,
            snapshot: data,
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
        let (mut applied, mut membership) = applied_state(&shard)?;
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
                    WriteResponse(Vec::new())
                }
            };
            applied = Some(log_id);
            if let Some(r) = responder {
                replies.push((r, response));
            }
        }
        save_applied(&mut shard, &applied, &membership)?;
        shard.commit()?;
        drop(shard);
        for (r, response) in replies {
            r.send(response);
        }
        Ok(())
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        ShardSnapshotBuilder {
            shard: self.shard.clone(),
            current: self.current.clone(),
        }
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta,
        snapshot: SnapshotData,
    ) -> Result<(), io::Error> {
        let records: Vec<(Vec<u8>, Vec<u8>)> = codec::decode(&snapshot)?;
        {
            let mut shard = self.shard.borrow_mut();
            shard.replace_all(records)?;
            save_applied(&mut shard, &meta.last_log_id, &meta.last_membership)?;
            shard.commit()?;
        }
        *self.current.borrow_mut() = Some((meta.clone(), snapshot));
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

    struct Builder;

    impl StoreBuilder<TypeConfig, RocksLogStore, ShardStateMachine, tempfile::TempDir> for Builder {
        async fn build(
            &self,
        ) -> Result<(tempfile::TempDir, RocksLogStore, ShardStateMachine), StorageError<TypeConfig>>
        {
            let dir = tempfile::tempdir().expect("temp dir");
            let db = storage::open(dir.path(), 1, &Default::default()).expect("open rocksdb");
            let shard = Shard::open(ShardId(0), db.clone(), 1 << 20).expect("open shard");
            let log = RocksLogStore::new(db, storage::raft_cf(0), true).expect("log store");
            Ok((
                dir,
                log,
                ShardStateMachine::new(Rc::new(RefCell::new(shard))),
            ))
        }
    }

    /// openraft's storage conformance suite on our RocksDB log store and
    /// state machine, run on the glommio runtime.
    #[test]
    fn openraft_storage_suite() {
        TypeConfig::run(async {
            Suite::test_all(Builder).await.expect("storage suite");
        });
    }
}
