//! SAVE, BGSAVE, LASTSAVE, SHUTDOWN.
//!
//! Every write is already durable in its shard's Raft log as the fsync
//! policy promises, so "saving" here means what a snapshot means for Raft:
//! every shard builds a snapshot of what it has applied (off its executor)
//! and may purge its log. SHUTDOWN takes the same path as SIGTERM: every
//! shard commits and fsyncs, then the process exits.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;

use super::CommandSpec;
use super::Ctx;
use super::Plan;
use super::args::is;
use crate::reply::CmdError;
use crate::resp::Reply;
use crate::server::CoreCtx;
use crate::server::gather_async;
use crate::shared::Shared;
use crate::shared::unix_secs;

const GROUP: &str = "server";

pub static COMMANDS: &[CommandSpec] = &[
    spec!(
        "save",
        1,
        ["admin", "noscript", "no-async-loading", "no-multi"],
        0,
        0,
        0,
        save
    ),
    spec!(
        "bgsave",
        -1,
        ["admin", "noscript", "no-async-loading"],
        0,
        0,
        0,
        bgsave
    ),
    spec!(
        "lastsave",
        1,
        ["fast", "loading", "stale"],
        0,
        0,
        0,
        lastsave
    ),
    spec!(
        "shutdown",
        -1,
        [
            "admin",
            "noscript",
            "loading",
            "stale",
            "no-multi",
            "allow_busy"
        ],
        0,
        0,
        0,
        shutdown
    ),
];

/// How long one shard's snapshot may take before SAVE gives up.
const SAVE_TIMEOUT: Duration = Duration::from_secs(600);

/// Snapshots every shard; the first failure, if any.
async fn save_all(cx: &std::rc::Rc<CoreCtx>, shared: &Arc<Shared>) -> Result<(), String> {
    let results = gather_async(cx, |cx| async move {
        cx.core.save(SAVE_TIMEOUT).await.map_err(|e| e.to_string())
    })
    .await;
    results.into_iter().collect::<Result<Vec<()>, String>>()?;
    shared.last_save.store(unix_secs(), Ordering::Relaxed);
    Ok(())
}

fn save(ctx: &mut Ctx<'_>, _a: &[Bytes]) -> Result<Plan, CmdError> {
    let (cx, shared) = (ctx.cx.clone(), ctx.cx.shared.clone());
    Ok(Plan::Async(Box::pin(async move {
        if shared.saving.load(Ordering::Relaxed) {
            return Reply::error("ERR Background save already in progress");
        }
        match save_all(&cx, &shared).await {
            Ok(()) => Reply::Ok,
            Err(e) => Reply::error(format!("ERR {e}")),
        }
    })))
}

/// BGSAVE [SCHEDULE]: the snapshots run as their own task.
fn bgsave(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    match a.get(1) {
        None => {}
        Some(s) if a.len() == 2 && is(s, "schedule") => {}
        Some(_) => return Err(CmdError::Syntax),
    }
    let shared = ctx.cx.shared.clone();
    if shared.saving.swap(true, Ordering::Relaxed) {
        return Ok(Plan::Reply(Reply::error(
            "ERR Background save already in progress",
        )));
    }
    let cx = ctx.cx.clone();
    glommio::spawn_local(async move {
        if let Err(e) = save_all(&cx, &shared).await {
            tracing::error!("background save failed: {e}");
        }
        shared.saving.store(false, Ordering::Relaxed);
    })
    .detach();
    Ok(Plan::Reply(Reply::Simple(
        "Background saving started".into(),
    )))
}

fn lastsave(ctx: &mut Ctx<'_>, _a: &[Bytes]) -> Result<Plan, CmdError> {
    let t = ctx.cx.shared.last_save.load(Ordering::Relaxed);
    Ok(Plan::Reply(Reply::Int(t as i64)))
}

/// SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]: a clean stop, as on
/// SIGTERM (every acknowledged write is already in the Raft log, so NOSAVE
/// and SAVE stop the same way). No reply: the connection closes.
fn shutdown(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    let (mut nosave, mut save, mut abort) = (false, false, false);
    for arg in &a[1..] {
        if is(arg, "nosave") {
            nosave = true;
        } else if is(arg, "save") {
            save = true;
        } else if is(arg, "abort") {
            abort = true;
        } else if !(is(arg, "now") || is(arg, "force")) {
            return Err(CmdError::Syntax);
        }
    }
    if (nosave && save) || (abort && a.len() > 2) {
        return Err(CmdError::Syntax);
    }
    if abort {
        return Ok(Plan::Reply(Reply::error("ERR No shutdown in progress.")));
    }
    tracing::warn!("SHUTDOWN requested by client {}", ctx.conn.info.id);
    ctx.conn.closing = true;
    // SAFETY: kill(2) on our own pid with a signal main() waits for.
    unsafe {
        libc::kill(libc::getpid(), libc::SIGTERM);
    }
    Ok(Plan::Reply(Reply::Silent))
}
