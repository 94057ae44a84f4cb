//! The fsync policy of one shard, and the thread that runs its fsyncs.
//!
//! RocksDB's `flush_wal(true)` blocks for milliseconds, so it never runs on
//! the executor: each core has one long-lived fsync thread. Writes of one
//! loop tick form a numbered batch; under `always` the batch number is a
//! ticket, and a reply that depends on a write waits until the thread
//! reports its batch (or a later one) synced. Requests that queue up while a
//! sync runs are merged into the next one: group commit.

use std::cell::Cell;
use std::cell::RefCell;
use std::future::poll_fn;
use std::rc::Rc;
use std::sync::Arc;
use std::task::Poll;
use std::task::Waker;

use rocksdb::DB;

use crate::error::OpError;

/// When acknowledged writes reach the disk, in the sense of Redis's `appendfsync`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsyncPolicy {
    /// Reply only after the write is fsynced (group-committed per tick).
    Always,
    /// fsync once a second; a crash of the machine loses up to ~1 s.
    EverySec,
    /// Never fsync explicitly; the OS decides.
    No,
}

impl std::str::FromStr for FsyncPolicy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "always" => Ok(FsyncPolicy::Always),
            "everysec" => Ok(FsyncPolicy::EverySec),
            "no" => Ok(FsyncPolicy::No),
            _ => Err(format!("appendfsync must be always, everysec or no, not '{s}'")),
        }
    }
}

impl FsyncPolicy {
    pub fn name(self) -> &'static str {
        match self {
            FsyncPolicy::Always => "always",
            FsyncPolicy::EverySec => "everysec",
            FsyncPolicy::No => "no",
        }
    }
}

/// Per-shard durability state; lives on the shard's executor.
pub struct Durability {
    policy: FsyncPolicy,
    /// Highest batch number known to be on disk.
    durable: Cell<u64>,
    /// Highest batch number handed to the fsync thread.
    requested: Cell<u64>,
    syncs: Cell<u64>,
    failed: RefCell<Option<String>>,
    waiters: RefCell<Vec<Waker>>,
    to_thread: flume::Sender<u64>,
}

impl Durability {
    /// Starts the fsync thread of shard `shard` and the fiber that receives
    /// its completions. Must be called on the shard's executor.
    pub fn start(db: Arc<DB>, policy: FsyncPolicy, shard: usize) -> std::io::Result<Rc<Self>> {
        let (to_thread, requests) = flume::unbounded::<u64>();
        let (done_tx, done_rx) = flume::unbounded::<Result<u64, String>>();
        std::thread::Builder::new().name(format!("fsync-{shard}")).spawn(move || {
            while let Ok(mut upto) = requests.recv() {
                // Merge every request that arrived while the last sync ran.
                for more in requests.try_iter() {
                    upto = upto.max(more);
                }
                let res = db.flush_wal(true).map(|_| upto).map_err(|e| e.into_string());
                if done_tx.send(res).is_err() {
                    return;
                }
            }
        })?;
        let d = Rc::new(Durability {
            policy,
            durable: Cell::new(0),
            requested: Cell::new(0),
            syncs: Cell::new(0),
            failed: RefCell::new(None),
            waiters: RefCell::new(Vec::new()),
            to_thread,
        });
        let weak = Rc::downgrade(&d);
        glommio::spawn_local(async move {
            while let Ok(res) = done_rx.recv_async().await {
                let Some(d) = weak.upgrade() else { return };
                match res {
                    Ok(upto) => {
                        d.syncs.set(d.syncs.get() + 1);
                        d.durable.set(d.durable.get().max(upto));
                    }
                    Err(e) => d.fail(e),
                }
                for w in d.waiters.borrow_mut().drain(..) {
                    w.wake();
                }
            }
        })
        .detach();
        Ok(d)
    }

    pub fn policy(&self) -> FsyncPolicy {
        self.policy
    }

    /// Highest batch number known to be on disk.
    pub fn durable(&self) -> u64 {
        self.durable.get()
    }

    /// Number of completed fsyncs (INFO).
    pub fn syncs(&self) -> u64 {
        self.syncs.get()
    }

    /// Why the shard stopped accepting writes, if it did.
    pub fn failure(&self) -> Option<String> {
        self.failed.borrow().clone()
    }

    /// Marks the shard failed: no write is acknowledged from now on.
    pub fn fail(&self, why: String) {
        tracing::error!(error = %why, "storage failure; shard refuses writes");
        self.failed.borrow_mut().get_or_insert(why);
        for w in self.waiters.borrow_mut().drain(..) {
            w.wake();
        }
    }

    /// Asks the fsync thread to make batches up to `upto` durable.
    pub fn request(&self, upto: u64) {
        if upto > self.requested.get() {
            self.requested.set(upto);
            if self.to_thread.send(upto).is_err() {
                self.fail("fsync thread stopped".into());
            }
        }
    }

    /// Waits until batch `ticket` is on disk.
    pub async fn wait(&self, ticket: u64) -> Result<(), OpError> {
        poll_fn(|cx| {
            if let Some(e) = self.failed.borrow().as_ref() {
                return Poll::Ready(Err(OpError::Storage(e.clone())));
            }
            if self.durable.get() >= ticket {
                return Poll::Ready(Ok(()));
            }
            self.waiters.borrow_mut().push(cx.waker().clone());
            Poll::Pending
        })
        .await
    }
}
