//! One client connection: read, parse every complete request in the buffer,
//! run them as one batch (ops for the same shard in one message), and write
//! all replies in request order with one write.

use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use std::time::Instant;

use bytes::BytesMut;
use futures_lite::AsyncReadExt;
use futures_lite::AsyncWriteExt;
use glommio::net::TcpStream;
use shardis_shards::core::Pending;
use shardis_shards::error::OpError;
use shardis_shards::error::OpResult;
use shardis_shards::op::Op;
use shardis_shards::op::Output;
use shardis_shards::slot::ShardId;

use crate::cmd;
use crate::cmd::Ctx;
use crate::cmd::Finish;
use crate::cmd::FinishMany;
use crate::cmd::Plan;
use crate::conn_state::ClientInfo;
use crate::conn_state::ConnState;
use crate::reply::protocol_error_reply;
use crate::resp::Limits;
use crate::resp::Protocol;
use crate::resp::Reply;
use crate::resp::RequestParser;
use crate::resp::encode;
use crate::server::CoreCtx;

/// Size of one socket read.
const READ_CHUNK: usize = 16 * 1024;
/// Most commands run as one batch before their replies are written.
const MAX_BATCH: usize = 1024;
/// Replies a batch should produce at most. A pipeline is run in waves whose
/// length adapts to the size of the replies it produced, so a deep pipeline
/// of large GETs holds a few MiB of replies, not the whole pipeline's.
const WAVE_BYTES: usize = 4 << 20;
const FIRST_WAVE: usize = 16;

/// Where a command's reply will come from.
enum Slot {
    Ready(Reply),
    One(Finish, Option<OpResult<Output>>),
    Many(FinishMany, Vec<Option<OpResult<Output>>>),
}

/// The commands of one pipeline batch, their shard ops grouped per shard.
#[derive(Default)]
struct Batch {
    slots: Vec<(Slot, Protocol)>,
    /// Per shard: the ops, and for each op the (slot, part) it answers.
    groups: Vec<ShardGroup>,
}

/// A shard, the ops a batch sends it, and the (slot, part) each answers.
type ShardGroup = (ShardId, Vec<Op>, Vec<(usize, usize)>);

impl Batch {
    fn len(&self) -> usize {
        self.slots.len()
    }

    fn add_op(&mut self, shard: ShardId, op: Op, slot: usize, part: usize) {
        match self.groups.iter_mut().find(|(s, _, _)| *s == shard) {
            Some((_, ops, dest)) => {
                ops.push(op);
                dest.push((slot, part));
            }
            None => self.groups.push((shard, vec![op], vec![(slot, part)])),
        }
    }

    /// Adds one command's plan. A dependent-steps plan runs now, and is
    /// abandoned if the client hangs up meanwhile (a blocked BLPOP must
    /// not outlive its client); answers false then. CLIENT UNBLOCK ends a
    /// blocking one early.
    async fn push(
        &mut self,
        cx: &Rc<CoreCtx>,
        plan: Plan,
        proto: Protocol,
        stream: Option<(&TcpStream, &ClientInfo)>,
    ) -> bool {
        let idx = self.slots.len();
        let slot = match plan {
            Plan::Reply(r) => Slot::Ready(r),
            Plan::One { shard, op, finish } => {
                self.add_op(shard, op, idx, 0);
                Slot::One(finish, None)
            }
            Plan::Many { parts, finish } => {
                let n = parts.len();
                for (j, (shard, op)) in parts.into_iter().enumerate() {
                    self.add_op(shard, op, idx, j);
                }
                Slot::Many(finish, (0..n).map(|_| None).collect())
            }
            Plan::Async(fut) => {
                // Dependent steps see every earlier command's effects.
                self.run_groups(cx).await;
                Slot::Ready(fut.await)
            }
            Plan::Block(fut) => {
                self.run_groups(cx).await;
                // The command steps out of flight itself while it waits
                // (cmd/blocking.rs `block`): its attempts on this core are
                // work a script has to wait for, its waiting is not (a
                // shard checks for a running script before each try it
                // makes itself).
                match stream {
                    Some((s, info)) => match info.unblock.run(until_hangup(fut, s)).await {
                        Ok(Some(r)) => Slot::Ready(r),
                        Ok(None) => return false,
                        Err(true) => Slot::Ready(Reply::error(
                            "UNBLOCKED client unblocked via CLIENT UNBLOCK",
                        )),
                        // Redis answers an unblocked client as if it timed out.
                        Err(false) => Slot::Ready(Reply::NilArray),
                    },
                    None => Slot::Ready(fut.await),
                }
            }
        };
        self.slots.push((slot, proto));
        true
    }

    /// Sends every shard its ops at once, then collects the results.
    async fn run_groups(&mut self, cx: &Rc<CoreCtx>) {
        let groups = std::mem::take(&mut self.groups);
        let mut waiting: Vec<(Pending, Vec<(usize, usize)>)> = Vec::with_capacity(groups.len());
        for (shard, ops, dest) in groups {
            waiting.push((cx.core.submit(shard, ops), dest));
        }
        for (pending, dest) in waiting {
            let results = cx.core.finish(pending).await;
            for (r, (slot, part)) in results.into_iter().zip(dest) {
                match &mut self.slots[slot].0 {
                    Slot::One(_, out) => *out = Some(r),
                    Slot::Many(_, outs) => outs[part] = Some(r),
                    Slot::Ready(_) => {}
                }
            }
        }
    }

    /// Runs what is pending and encodes every reply, in order, into `out`.
    async fn finish(&mut self, cx: &Rc<CoreCtx>, out: &mut BytesMut) {
        self.run_groups(cx).await;
        let lost = || Err(OpError::Storage("reply lost".into()));
        for (slot, proto) in self.slots.drain(..) {
            let reply = match slot {
                Slot::Ready(r) => r,
                Slot::One(f, r) => f(r.unwrap_or_else(lost)),
                Slot::Many(f, rs) => f(rs.into_iter().map(|r| r.unwrap_or_else(lost)).collect()),
            };
            encode(out, reply, proto);
        }
    }
}

/// Runs `fut` unless the client closes its side first (None then). Data
/// the client sends meanwhile stays in the socket for the next read.
async fn until_hangup(
    fut: std::pin::Pin<Box<dyn std::future::Future<Output = Reply>>>,
    stream: &TcpStream,
) -> Option<Reply> {
    let hangup = async {
        let mut probe = [0u8; 1];
        match stream.peek(&mut probe).await {
            Ok(0) | Err(_) => None,
            // More requests are queued: only the command's end matters now.
            Ok(_) => std::future::pending().await,
        }
    };
    futures_lite::future::or(async { Some(fut.await) }, hangup).await
}

/// A command that arrived while a Lua script holds the node: waits for
/// the script to end (Some(reply) when it is refused instead). Commands
/// Redis lets through a busy script run at once; the others wait, and get
/// -BUSY once the script has run past the busy threshold. Inside MULTI a
/// refused command fails the transaction, and a refused EXEC ends it with
/// EXECABORT, as in Redis.
async fn admit(
    cx: &Rc<CoreCtx>,
    batch: &mut Batch,
    conn: &mut ConnState,
    args: &[bytes::Bytes],
) -> Option<Reply> {
    let spec = cmd::lookup(&args[0])?;
    if crate::script::allowed_while_busy(spec, args) {
        return None;
    }
    // Earlier commands of this pipeline were admitted before the script
    // started: they finish first, then this connection steps aside.
    batch.run_groups(cx).await;
    let gate = &cx.shared.script;
    loop {
        let free = {
            let _paused = gate.pause(cx.core.id.0);
            gate.wait().await
        };
        if !free {
            break;
        }
        // Back in flight: only now is "no script runs" a promise (another
        // script may have taken the gate while this one was out).
        if !gate.running() {
            return None;
        }
    }
    let busy = crate::script::gate::BUSY;
    if spec.name == "exec" && conn.multi.take().is_some() {
        cmd::multi::unwatch_all(&cx.core, &conn.watched).await;
        return Some(Reply::error(format!(
            "EXECABORT Transaction discarded because of: {busy}"
        )));
    }
    if let Some(m) = &mut conn.multi {
        m.dirty = true;
    }
    Some(Reply::error(busy))
}

/// Length of the next wave after a full wave produced `bytes` of replies.
fn next_wave(wave: usize, bytes: usize) -> usize {
    if bytes > WAVE_BYTES {
        (wave / 2).max(1)
    } else if bytes < WAVE_BYTES / 4 {
        (wave * 2).min(MAX_BATCH)
    } else {
        wave
    }
}

fn register(cx: &Rc<CoreCtx>, stream: &TcpStream) -> Rc<ClientInfo> {
    let id = cx.shared.next_client_id.fetch_add(1, Ordering::Relaxed);
    let addr = |a: Result<std::net::SocketAddr, _>| a.map(|a| a.to_string()).unwrap_or_default();
    let now = Instant::now();
    let info = Rc::new(ClientInfo {
        id,
        addr: addr(stream.peer_addr()),
        laddr: addr(stream.local_addr()),
        created: now,
        name: Default::default(),
        lib_name: Default::default(),
        lib_ver: Default::default(),
        last_active: now.into(),
        last_command: "NULL".into(),
        resp: 2.into(),
        unblock: Default::default(),
    });
    cx.clients.borrow_mut().insert(id, info.clone());
    info
}

/// Serves one client until it disconnects, sends QUIT, violates the
/// protocol, or stops reading its replies for too long.
pub async fn run(cx: Rc<CoreCtx>, mut stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let timeout = cx.shared.output_timeout_ms.load(Ordering::Relaxed);
    if timeout > 0 {
        let _ = stream.set_write_timeout(Some(Duration::from_millis(timeout)));
    }
    let info = register(&cx, &stream);
    let id = info.id;
    let mut conn = ConnState::new(info);
    if let Err(e) = serve(&cx, &mut stream, &mut conn).await {
        tracing::debug!(client = id, error = %e, "connection closed");
    }
    let _ = stream.close().await;
    crate::cmd::multi::unwatch_all(&cx.core, &conn.watched).await;
    cx.clients.borrow_mut().remove(&id);
}

async fn serve(
    cx: &Rc<CoreCtx>,
    stream: &mut TcpStream,
    conn: &mut ConnState,
) -> std::io::Result<()> {
    let mut rbuf = BytesMut::with_capacity(READ_CHUNK);
    // Reads land here first: reading straight into `rbuf` would zero-fill
    // its spare capacity on every read.
    let mut scratch = vec![0u8; 64 * 1024];
    let mut wbuf = BytesMut::with_capacity(READ_CHUNK);
    let mut parser = RequestParser::default();
    let mut batch = Batch::default();
    let mut wave = FIRST_WAVE;
    loop {
        let shared = &cx.shared;
        let limits = Limits {
            max_bulk: shared.proto_max_bulk_len.load(Ordering::Relaxed),
            ..Limits::default()
        };
        if rbuf.len() >= shared.query_buffer_limit.load(Ordering::Relaxed) {
            tracing::warn!(
                client = conn.info.id,
                "closing client that reached max query buffer length"
            );
            return Ok(());
        }
        if rbuf.is_empty() && rbuf.capacity() > 1 << 20 {
            // A large request is done: give its memory back.
            rbuf = BytesMut::with_capacity(READ_CHUNK);
        }
        rbuf.reserve(parser.bytes_wanted(rbuf.len()).clamp(READ_CHUNK, 4 << 20));
        let n = stream.read(&mut scratch).await?;
        if n == 0 {
            return Ok(());
        }
        rbuf.extend_from_slice(&scratch[..n]);
        let mut in_flight = Some(cx.shared.script.enter(cx.core.id.0));
        // Socket calls may complete without suspending; let the commit,
        // forwarding and expiry fibers run under a relentless pipeline.
        glommio::yield_if_needed().await;
        conn.info.last_active.set(Instant::now());

        let mut close = false;
        loop {
            match parser.next(&mut rbuf, &limits) {
                Ok(None) => break,
                Ok(Some(args)) if args.is_empty() => continue,
                Ok(Some(args)) => {
                    if cx.shared.script.running()
                        && let Some(refused) = admit(cx, &mut batch, conn, &args).await
                    {
                        batch.push(cx, Plan::Reply(refused), conn.proto, None).await;
                        continue;
                    }
                    cx.commands_processed.set(cx.commands_processed.get() + 1);
                    let proto_before = conn.proto;
                    let plan = cmd::plan(&mut Ctx { cx, conn }, &args);
                    conn.info.last_command.set(conn.last_command);
                    // HELLO answers in the protocol it switches to.
                    let proto = if args[0].eq_ignore_ascii_case(b"hello") {
                        conn.proto
                    } else {
                        proto_before
                    };
                    if !batch
                        .push(cx, plan, proto, Some((&*stream, &conn.info)))
                        .await
                    {
                        return Ok(());
                    }
                    if conn.closing {
                        close = true;
                        break;
                    }
                    if batch.len() >= wave {
                        batch.finish(cx, &mut wbuf).await;
                        wave = next_wave(wave, wbuf.len());
                        // A client slow to read must not hold up a script.
                        let paused = cx.shared.script.pause(cx.core.id.0);
                        stream.write_all(&wbuf).await?;
                        drop(paused);
                        wbuf.clear();
                    }
                }
                Err(e) => {
                    batch
                        .push(
                            cx,
                            Plan::Reply(protocol_error_reply(&e.0)),
                            conn.proto,
                            None,
                        )
                        .await;
                    close = true;
                    break;
                }
            }
        }
        batch.finish(cx, &mut wbuf).await;
        // Every command of this read has run; writing the replies is not
        // work a script has to wait for.
        drop(in_flight.take());
        if wbuf.len() > WAVE_BYTES {
            wave = next_wave(wave, wbuf.len());
        }
        if !wbuf.is_empty() {
            stream.write_all(&wbuf).await?;
            wbuf.clear();
            if wbuf.capacity() > 1 << 20 {
                wbuf = BytesMut::with_capacity(READ_CHUNK);
            }
        }
        if close {
            return Ok(());
        }
    }
}
