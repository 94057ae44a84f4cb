//! State of one client connection, and the part of it other cores may read
//! (CLIENT LIST, INFO) through this core's client registry.

use std::cell::Cell;
use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;
use std::task::Poll;
use std::task::Waker;
use std::time::Instant;

use bytes::Bytes;
use shardis_shards::slot::ShardId;
use shardis_shards::watch::Watched;

use crate::resp::Protocol;

/// What CLIENT LIST shows about a connection. Owned by its core.
pub struct ClientInfo {
    pub id: u64,
    pub addr: String,
    pub laddr: String,
    pub created: Instant,
    pub name: RefCell<Option<Bytes>>,
    pub lib_name: RefCell<Option<Bytes>>,
    pub lib_ver: RefCell<Option<Bytes>>,
    pub last_active: Cell<Instant>,
    pub last_command: Cell<&'static str>,
    pub resp: Cell<u8>,
    /// CLIENT UNBLOCK's handle on a blocking command this client waits in.
    pub unblock: Unblock,
}

/// Lets CLIENT UNBLOCK (run on this client's core) end the blocking
/// command the client waits in: as if it timed out, or with an error.
#[derive(Default)]
pub struct Unblock {
    blocked: Cell<bool>,
    /// Some(true): answer -UNBLOCKED; Some(false): answer as a timeout.
    request: Cell<Option<bool>>,
    waker: RefCell<Option<Waker>>,
}

impl Unblock {
    /// Asks the waiting command to end; false when the client is not
    /// blocked (or already asked), as Redis answers 0 then.
    pub fn request(&self, error: bool) -> bool {
        if !self.blocked.get() || self.request.get().is_some() {
            return false;
        }
        self.request.set(Some(error));
        if let Some(w) = self.waker.borrow_mut().take() {
            w.wake();
        }
        true
    }

    /// Runs `fut` until it ends, or until CLIENT UNBLOCK asks (Err(error)).
    pub async fn run<T>(&self, fut: impl Future<Output = T>) -> Result<T, bool> {
        self.blocked.set(true);
        self.request.set(None);
        let asked = std::future::poll_fn(|cx| match self.request.get() {
            Some(error) => Poll::Ready(Err(error)),
            None => {
                *self.waker.borrow_mut() = Some(cx.waker().clone());
                Poll::Pending
            }
        });
        let r = futures_lite::future::or(async { Ok(fut.await) }, asked).await;
        self.blocked.set(false);
        self.request.set(None);
        self.waker.borrow_mut().take();
        r
    }
}

impl ClientInfo {
    /// One line of CLIENT LIST / CLIENT INFO, in Redis 7.0's field order.
    pub fn describe(&self) -> String {
        let now = Instant::now();
        let text = |v: &RefCell<Option<Bytes>>| {
            v.borrow()
                .as_ref()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default()
        };
        format!(
            "id={} addr={} laddr={} fd=0 name={} age={} idle={} flags=N db=0 sub=0 psub=0 ssub=0 multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd={} user=default redir=-1 resp={} lib-name={} lib-ver={}\n",
            self.id,
            self.addr,
            self.laddr,
            text(&self.name),
            now.duration_since(self.created).as_secs(),
            now.duration_since(self.last_active.get()).as_secs(),
            self.last_command.get(),
            self.resp.get(),
            text(&self.lib_name),
            text(&self.lib_ver),
        )
    }
}

/// Commands queued between MULTI and EXEC.
#[derive(Default)]
pub struct MultiState {
    /// Each queued request's arguments, name included.
    pub queued: Vec<Vec<Bytes>>,
    /// A command was refused while queueing: EXEC answers EXECABORT.
    pub dirty: bool,
    /// The shard every queued key so far belongs to.
    pub shard: Option<ShardId>,
}

/// Keys this connection WATCHes: where each lives and its epoch there.
/// Shared with the WATCH command's future, which fills it in.
pub type WatchList = Rc<RefCell<Vec<(ShardId, Watched)>>>;

/// Per-connection state that commands may change.
pub struct ConnState {
    pub info: Rc<ClientInfo>,
    pub proto: Protocol,
    /// Set by QUIT: close once the pending replies are written.
    pub closing: bool,
    /// Name of the command being run (CLIENT LIST's `cmd=`).
    pub last_command: &'static str,
    /// Inside MULTI: what is queued so far.
    pub multi: Option<MultiState>,
    pub watched: WatchList,
    /// EXEC is planning its queued commands (blocking commands don't block).
    pub in_exec: bool,
}

impl ConnState {
    pub fn new(info: Rc<ClientInfo>) -> Self {
        ConnState {
            info,
            proto: Protocol::Resp2,
            closing: false,
            last_command: "NULL",
            multi: None,
            watched: Default::default(),
            in_exec: false,
        }
    }

    pub fn set_proto(&mut self, p: Protocol) {
        self.proto = p;
        self.info.resp.set(if p == Protocol::Resp3 { 3 } else { 2 });
    }
}
