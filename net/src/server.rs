//! Per-core server: the listener (SO_REUSEPORT, one per core), this core's
//! client registry, and cross-core gathering for admin commands.

use std::cell::Cell;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use futures_lite::AsyncWriteExt;
use glommio::net::TcpListener;
use shardis_shards::core::Core;
use shardis_shards::msg::ShardMsg;
use shardis_shards::slot::ShardId;

use crate::conn_state::ClientInfo;
use crate::connection;
use crate::reply::MAX_CLIENTS_REPLY;
use crate::shared::Shared;

/// This core's server state, reachable from handlers and from closures
/// other cores send here.
pub struct CoreCtx {
    pub core: Rc<Core>,
    pub shared: Arc<Shared>,
    pub clients: RefCell<HashMap<u64, Rc<ClientInfo>>>,
    pub commands_processed: Cell<u64>,
}

thread_local! {
    static CURRENT: RefCell<Option<Rc<CoreCtx>>> = const { RefCell::new(None) };
}

/// Runs `f` on every core (this one included) and returns the results in
/// shard order. For admin commands; data commands never use it.
pub async fn gather<T, F>(cx: &Rc<CoreCtx>, f: F) -> Vec<T>
where
    T: Send + 'static,
    F: Fn(&Rc<CoreCtx>) -> T + Send + Sync + 'static,
{
    let f = Arc::new(f);
    let n = cx.core.router.shard_count();
    let mut pending = Vec::with_capacity(n);
    for s in 0..n {
        if s == cx.core.id.0 {
            pending.push(Err(f(cx)));
            continue;
        }
        let (tx, rx) = flume::bounded(1);
        let f = f.clone();
        let job = Box::new(move || {
            let v = CURRENT.with(|c| c.borrow().as_ref().map(|cx| f(cx)));
            if let Some(v) = v {
                let _ = tx.send(v);
            }
        });
        cx.core.router.send(ShardId(s), ShardMsg::Run(job));
        pending.push(Ok(rx));
    }
    let mut out = Vec::with_capacity(n);
    for p in pending {
        match p {
            Err(v) => out.push(v),
            Ok(rx) => {
                if let Ok(v) = rx.recv_async().await {
                    out.push(v);
                }
            }
        }
    }
    out
}

/// Like [`gather`] for work that awaits: `f` makes a future on every core,
/// which runs there as its own task; the results come back in shard order.
pub async fn gather_async<T, F, Fut>(cx: &Rc<CoreCtx>, f: F) -> Vec<T>
where
    T: Send + 'static,
    F: Fn(Rc<CoreCtx>) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = T> + 'static,
{
    let receivers = gather(cx, move |cx| {
        let (tx, rx) = flume::bounded(1);
        let fut = f(cx.clone());
        glommio::spawn_local(async move {
            let _ = tx.send(fut.await);
        })
        .detach();
        rx
    })
    .await;
    let mut out = Vec::with_capacity(receivers.len());
    for rx in receivers {
        if let Ok(v) = rx.recv_async().await {
            out.push(v);
        }
    }
    out
}

/// Commits and syncs this core's shard; used by shutdown. Blocking is fine
/// there: nothing else runs on the core any more.
pub fn flush_current_core() -> Result<(), String> {
    CURRENT.with(|c| match c.borrow().as_ref() {
        Some(cx) => cx.core.flush_blocking().map_err(|e| e.to_string()),
        None => Ok(()),
    })
}

/// Accepts clients on this core until the listener fails. Sends the shard
/// number on `ready` once listening.
pub async fn serve(
    core: Rc<Core>,
    shared: Arc<Shared>,
    ready: std::sync::mpsc::Sender<Result<usize, String>>,
) -> std::io::Result<()> {
    let cx = Rc::new(CoreCtx {
        core,
        shared: shared.clone(),
        clients: RefCell::new(HashMap::new()),
        commands_processed: Cell::new(0),
    });
    CURRENT.with(|c| *c.borrow_mut() = Some(cx.clone()));
    let addr = format!("{}:{}", shared.opts.bind, shared.opts.port);
    let listener = TcpListener::bind(&addr)?;
    tracing::debug!(core = cx.core.id.0, %addr, "accepting clients");
    let _ = ready.send(Ok(cx.core.id.0));
    // Hold accepted connections back (they wait in the listen backlog)
    // until every core can answer cross-core admin jobs (`gather`): an INFO
    // on a client of the first core up used to miss the other shards.
    let cores = cx.core.router.shard_count();
    shared.cores_up.fetch_add(1, Ordering::SeqCst);
    while shared.cores_up.load(Ordering::SeqCst) < cores {
        glommio::timer::sleep(std::time::Duration::from_millis(1)).await;
    }
    loop {
        let mut stream = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                glommio::timer::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        shared.total_connections.fetch_add(1, Ordering::Relaxed);
        let max = shared.maxclients.load(Ordering::Relaxed);
        if shared.connected.fetch_add(1, Ordering::Relaxed) >= max {
            shared.connected.fetch_sub(1, Ordering::Relaxed);
            shared.rejected_connections.fetch_add(1, Ordering::Relaxed);
            glommio::spawn_local(async move {
                let _ = stream.write_all(MAX_CLIENTS_REPLY).await;
                let _ = stream.close().await;
            })
            .detach();
            continue;
        }
        let cx = cx.clone();
        glommio::spawn_local(async move {
            connection::run(cx.clone(), stream).await;
            cx.shared.connected.fetch_sub(1, Ordering::Relaxed);
        })
        .detach();
    }
}
