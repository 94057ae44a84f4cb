//! The fsync policy of a shard, its once-a-second fsync thread, and the
//! shard's "storage failed" state.
//!
//! Under `always` durability comes from the Raft log store: an entry is
//! acknowledged (and so committed, applied and answered) only after the WAL
//! holding it is synced. Under `everysec` this module's thread syncs the
//! node's WAL once a second; `fdatasync` blocks for milliseconds, so it
//! never runs on the executor.

use std::cell::Cell;
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use rocksdb::DB;

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
            _ => Err(format!(
                "appendfsync must be always, everysec or no, not '{s}'"
            )),
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
    /// Highest request number handed to the fsync thread.
    requested: Cell<u64>,
    syncs: Cell<u64>,
    failed: RefCell<Option<String>>,
    to_thread: flume::Sender<u64>,
}

impl Durability {
    /// Starts the fsync thread of shard `shard` and the fiber that receives
    /// its completions. Must be called on the shard's executor.
    pub fn start(db: Arc<DB>, policy: FsyncPolicy, shard: usize) -> std::io::Result<Rc<Self>> {
        let (to_thread, requests) = flume::unbounded::<u64>();
        let (done_tx, done_rx) = flume::unbounded::<Result<u64, String>>();
        std::thread::Builder::new()
            .name(format!("fsync-{shard}"))
            .spawn(move || {
                while let Ok(mut upto) = requests.recv() {
                    // Merge every request that arrived while the last sync ran.
                    for more in requests.try_iter() {
                        upto = upto.max(more);
                    }
                    let res = if crate::failpoint::fail("wal-sync") {
                        Err("injected WAL sync failure".to_string())
                    } else {
                        db.flush_wal(true)
                            .map(|_| upto)
                            .map_err(|e| e.into_string())
                    };
                    if done_tx.send(res).is_err() {
                        return;
                    }
                }
            })?;
        let d = Rc::new(Durability {
            policy,
            requested: Cell::new(0),
            syncs: Cell::new(0),
            failed: RefCell::new(None),
            to_thread,
        });
        let weak = Rc::downgrade(&d);
        glommio::spawn_local(async move {
            while let Ok(res) = done_rx.recv_async().await {
                let Some(d) = weak.upgrade() else { return };
                match res {
                    Ok(_) => d.syncs.set(d.syncs.get() + 1),
                    Err(e) => d.fail(e),
                }
            }
        })
        .detach();
        Ok(d)
    }

    pub fn policy(&self) -> FsyncPolicy {
        self.policy
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
    }

    /// Asks the fsync thread for a sync; `upto` grows with every request
    /// (requests queued during a sync are merged into one).
    pub fn request(&self, upto: u64) {
        if upto > self.requested.get() {
            self.requested.set(upto);
            if self.to_thread.send(upto).is_err() {
                self.fail("fsync thread stopped".into());
            }
        }
    }
}
