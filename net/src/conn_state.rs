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
use shardis_shards::core::Core;
use shardis_shards::op::Op;
use shardis_shards::slot::ShardId;
use shardis_shards::watch::Watched;

use crate::resp::Protocol;
use crate::resp::Reply;

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
    /// Where the command waits in line, once it does (`cmd::blocking`, `Line::wait`):
    /// that shard is asked to let it go, and the command is awaited to its
    /// end, so an element it popped meanwhile still reaches the client.
    target: RefCell<Option<(Rc<Core>, ShardId, u64)>>,
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

    /// The registered target, taken out (the borrow must not outlive this:
    /// the command clears its target when it ends).
    fn take_target(&self) -> Option<(Rc<Core>, ShardId, u64)> {
        self.target.borrow_mut().take()
    }

    /// Sets (or clears) the shard queue the blocked command waits in.
    pub fn set_target(&self, target: Option<(Rc<Core>, ShardId, u64)>) {
        *self.target.borrow_mut() = target;
    }

    /// Runs `fut` (a blocking command's reply; None: the client hung up)
    /// until it ends, or until CLIENT UNBLOCK asks (Err(error)). A command
    /// waiting in a shard's queue is released there and awaited: a null
    /// reply then means it was unblocked, anything else was served first.
    /// Any other wait is dropped at once.
    pub async fn run(
        &self,
        fut: impl Future<Output = Option<Reply>>,
    ) -> Result<Option<Reply>, bool> {
        self.blocked.set(true);
        self.request.set(None);
        let mut fut = std::pin::pin!(fut);
        let asked = std::future::poll_fn(|cx| match self.request.get() {
            Some(error) => Poll::Ready(Err(error)),
            None => {
                *self.waker.borrow_mut() = Some(cx.waker().clone());
                Poll::Pending
            }
        });
        let r = futures_lite::future::or(async { Ok(fut.as_mut().await) }, asked).await;
        let r = match r {
            Err(error) => match self.take_target() {
                Some((core, shard, id)) => {
                    let _ = core.submit(shard, vec![Op::Unblock(id)]);
                    match fut.await {
                        Some(Reply::NilArray | Reply::Nil) => Err(error),
                        served => Ok(served),
                    }
                }
                None => Err(error),
            },
            ok => ok,
        };
        self.blocked.set(false);
        self.request.set(None);
        self.waker.borrow_mut().take();
        self.target.borrow_mut().take();
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
