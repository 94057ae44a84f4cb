//! The command table and dispatch.
//!
//! Every command is one [`CommandSpec`] row in its family's table (arity,
//! flags, key positions, handler), in the style of Dragonfly's families.
//! A handler parses arguments into typed ops and returns a [`Plan`]: what
//! to run on which shard and how to turn the results into a reply. The
//! connection executes plans of a whole pipeline together, so ops for the
//! same shard travel in one message.

/// One table row; `GROUP` comes from the family module that uses it.
macro_rules! spec {
    ($name:literal, $arity:expr, [$($flag:literal),*], $first:expr, $last:expr, $step:expr, $handler:expr) => {
        $crate::cmd::CommandSpec {
            name: $name,
            arity: $arity,
            flags: &[$($flag),*],
            first_key: $first,
            last_key: $last,
            step: $step,
            group: GROUP,
            handler: $handler,
        }
    };
}

pub mod args;
pub mod bits;
pub mod blocking;
pub mod dump;
pub mod hash;
pub mod keys;
pub mod lcs;
pub mod list;
pub mod multi;
pub mod object;
pub mod persistence;
pub mod script;
pub mod server;
pub mod set;
pub mod sort;
pub mod string;
pub mod zset;

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::LazyLock;

use bytes::Bytes;
use shardis_shards::error::OpResult;
use shardis_shards::op::Op;
use shardis_shards::op::Output;
use shardis_shards::slot::ShardId;

use crate::conn_state::ConnState;
use crate::reply::CmdError;
use crate::reply::op_error_reply;
use crate::resp::Reply;
use crate::server::CoreCtx;

/// Context a handler runs in: this core's server state and the calling
/// connection's state.
pub struct Ctx<'a> {
    pub cx: &'a Rc<CoreCtx>,
    pub conn: &'a mut ConnState,
}

/// Turns one op's result into a reply.
pub type Finish = fn(OpResult<Output>) -> Reply;
/// Turns the results of several ops (in part order) into one reply.
pub type FinishMany = Box<dyn FnOnce(Vec<OpResult<Output>>) -> Reply>;

/// What a command needs done.
pub enum Plan {
    /// Answered without touching a shard.
    Reply(Reply),
    /// One op on one shard.
    One {
        shard: ShardId,
        op: Op,
        finish: Finish,
    },
    /// Ops on several shards, all sent at once; replies gathered in order.
    Many {
        parts: Vec<(ShardId, Op)>,
        finish: FinishMany,
    },
    /// Dependent steps (cross-shard RENAME, node-wide admin commands). Runs
    /// after every earlier command of the pipeline has completed.
    Async(Pin<Box<dyn Future<Output = Reply>>>),
    /// Like `Async`, for a command that may wait indefinitely (BLPOP...):
    /// the connection abandons it when the client hangs up, so it must be
    /// safe to drop at any await point.
    Block(Pin<Box<dyn Future<Output = Reply>>>),
}

pub type Handler = fn(&mut Ctx<'_>, &[Bytes]) -> Result<Plan, CmdError>;

/// One row of the command table.
pub struct CommandSpec {
    /// Lower-case name.
    pub name: &'static str,
    /// Redis arity: `n` exactly n arguments (name included), `-n` at least n.
    pub arity: i32,
    /// Redis command flags, as COMMAND INFO lists them.
    pub flags: &'static [&'static str],
    pub first_key: i32,
    pub last_key: i32,
    pub step: i32,
    /// Command group, as COMMAND DOCS reports it.
    pub group: &'static str,
    pub handler: Handler,
}

impl CommandSpec {
    pub fn is_write(&self) -> bool {
        self.flags.contains(&"write")
    }

    /// May grow memory: refused while over maxmemory.
    pub fn denies_oom(&self) -> bool {
        self.flags.contains(&"denyoom")
    }
}

/// Redis's reply to a `denyoom` command while used memory is over maxmemory.
pub const OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";

static TABLE: LazyLock<ahash::AHashMap<&'static str, &'static CommandSpec>> = LazyLock::new(|| {
    let mut m = ahash::AHashMap::new();
    for family in [
        string::COMMANDS,
        keys::COMMANDS,
        dump::COMMANDS,
        hash::COMMANDS,
        list::COMMANDS,
        multi::COMMANDS,
        script::COMMANDS,
        object::COMMANDS,
        persistence::COMMANDS,
        bits::COMMANDS,
        lcs::COMMANDS,
        set::COMMANDS,
        sort::COMMANDS,
        zset::COMMANDS,
        server::COMMANDS,
    ] {
        for spec in family {
            m.insert(spec.name, spec);
        }
    }
    m
});

/// Every command, for COMMAND and COMMAND COUNT.
pub fn all_commands() -> impl Iterator<Item = &'static CommandSpec> {
    TABLE.values().copied()
}

/// Finds a command by name, case-insensitively.
pub fn lookup(name: &[u8]) -> Option<&'static CommandSpec> {
    let mut lower = [0u8; 32];
    if name.len() > lower.len() {
        return None;
    }
    for (d, s) in lower.iter_mut().zip(name) {
        *d = s.to_ascii_lowercase();
    }
    let lower = std::str::from_utf8(&lower[..name.len()]).ok()?;
    TABLE.get(lower).copied()
}

pub fn arity_ok(arity: i32, argc: usize) -> bool {
    if arity >= 0 {
        argc == arity as usize
    } else {
        argc >= (-arity) as usize
    }
}

/// Redis's "unknown command" text: the name and up to ~128 bytes of arguments.
fn unknown_command(args: &[Bytes]) -> CmdError {
    let name = String::from_utf8_lossy(&args[0][..args[0].len().min(128)]).into_owned();
    let mut shown = String::new();
    for a in &args[1..] {
        if shown.len() >= 128 {
            break;
        }
        let room = 128 - shown.len();
        let text = String::from_utf8_lossy(&a[..a.len().min(room)]);
        shown.push_str(&format!("'{text}' "));
    }
    CmdError::UnknownCommand { name, args: shown }
}

/// Parses and plans one request. `args` is non-empty.
pub fn plan(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Plan {
    let Some(spec) = lookup(&args[0]) else {
        multi::flag(ctx);
        return Plan::Reply(unknown_command(args).to_reply());
    };
    if !arity_ok(spec.arity, args.len()) {
        multi::flag(ctx);
        return Plan::Reply(CmdError::WrongArity(spec.name.to_string()).to_reply());
    }
    ctx.conn.last_command = spec.name;
    // Inside EXEC the transaction was checked as a whole (multi::exec).
    if !ctx.conn.in_exec && spec.denies_oom() && ctx.cx.shared.over_maxmemory() {
        multi::flag(ctx);
        return Plan::Reply(Reply::error(OOM));
    }
    if ctx.conn.multi.is_some() && !multi::runs_inside_multi(spec) {
        return multi::queue(ctx, spec, args);
    }
    (spec.handler)(ctx, args).unwrap_or_else(|e| Plan::Reply(e.to_reply()))
}

/// Runs one plan to its reply, on its own: no batching with other
/// commands (a transaction that spans shards, a script's `redis.call`).
/// Parts of a multi-shard plan go one after the other.
pub async fn run_plan(core: &Rc<shardis_shards::core::Core>, plan: Plan) -> Reply {
    match plan {
        Plan::Reply(r) => r,
        Plan::One { shard, op, finish } => finish(core.call_one(shard, op).await),
        Plan::Many { parts, finish } => {
            let mut results = Vec::with_capacity(parts.len());
            for (shard, op) in parts {
                results.push(core.call_one(shard, op).await);
            }
            finish(results)
        }
        Plan::Async(f) | Plan::Block(f) => f.await,
    }
}

/// Positions of the keys in `args`, from the table's first/last/step.
pub fn key_positions(spec: &CommandSpec, argc: usize) -> impl Iterator<Item = usize> {
    let first = spec.first_key.max(0) as usize;
    let last = if spec.last_key < 0 {
        argc as i32 + spec.last_key
    } else {
        spec.last_key
    };
    let step = spec.step.max(1) as usize;
    let end = if first == 0 || last < 0 {
        0
    } else {
        (last as usize + 1).min(argc)
    };
    (first..end.max(first)).step_by(step)
}

/// The usual mapping of a shard result to a reply.
pub fn output_reply(r: OpResult<Output>) -> Reply {
    match r {
        Ok(o) => output_to_reply(o),
        Err(e) => op_error_reply(&e),
    }
}

pub fn output_to_reply(o: Output) -> Reply {
    match o {
        Output::Ok => Reply::Ok,
        Output::Nil => Reply::Nil,
        Output::Int(i) => Reply::Int(i),
        Output::Bulk(b) => Reply::Bulk(b),
        Output::Status(s) => Reply::Simple(s),
        Output::Array(a) if a.iter().all(|o| matches!(o, Output::Bulk(_))) => Reply::Bulks(
            a.into_iter()
                .filter_map(|o| match o {
                    Output::Bulk(b) => Some(b),
                    _ => None,
                })
                .collect(),
        ),
        Output::Array(a) => Reply::Array(a.into_iter().map(output_to_reply).collect()),
        Output::Packed(p) => Reply::Packed(p),
        Output::Scan { cursor, keys } => Reply::Array(vec![
            Reply::bulk(cursor.to_string()),
            Reply::Array(keys.into_iter().map(Reply::Bulk).collect()),
        ]),
        Output::Multi(results) => Reply::Array(results.into_iter().map(output_reply).collect()),
    }
}

/// A plan that runs one op on the shard owning `key`.
pub fn on_key(ctx: &Ctx<'_>, key: &Bytes, op: Op, finish: Finish) -> Plan {
    Plan::One {
        shard: ctx.cx.core.router.shard_of_key(key),
        op,
        finish,
    }
}

/// Groups key positions by owning shard, preserving first-seen shard order.
pub fn group_by_shard(ctx: &Ctx<'_>, keys: &[Bytes]) -> Vec<(ShardId, Vec<usize>)> {
    group_keys(&ctx.cx.core.router, keys)
}

/// [`group_by_shard`] for code that holds the router but no `Ctx` (the
/// steps of an async plan).
pub fn group_keys(
    router: &shardis_shards::router::Router,
    keys: &[Bytes],
) -> Vec<(ShardId, Vec<usize>)> {
    let mut groups: Vec<(ShardId, Vec<usize>)> = Vec::new();
    for (i, k) in keys.iter().enumerate() {
        let s = router.shard_of_key(k);
        match groups.iter_mut().find(|(g, _)| *g == s) {
            Some((_, v)) => v.push(i),
            None => groups.push((s, vec![i])),
        }
    }
    groups
}

/// A plan that sends `make(keys of shard)` to every shard owning one of
/// `keys` and adds up the integer replies (DEL, EXISTS, TOUCH ...).
pub fn sum_over_keys(ctx: &Ctx<'_>, keys: &[Bytes], make: fn(Vec<Bytes>) -> Op) -> Plan {
    let parts = group_by_shard(ctx, keys)
        .into_iter()
        .map(|(s, idx)| (s, make(idx.into_iter().map(|i| keys[i].clone()).collect())))
        .collect();
    Plan::Many {
        parts,
        finish: Box::new(sum_ints),
    }
}

/// Adds integer results; the first error wins.
pub fn sum_ints(results: Vec<OpResult<Output>>) -> Reply {
    let mut n = 0;
    for r in results {
        match r {
            Ok(Output::Int(i)) => n += i,
            Ok(_) => {}
            Err(e) => return op_error_reply(&e),
        }
    }
    Reply::Int(n)
}

/// `+OK` when every part succeeded, else the first error (MSET, FLUSHALL).
pub fn all_ok(results: Vec<OpResult<Output>>) -> Reply {
    results
        .into_iter()
        .find_map(|r| r.err())
        .map_or(Reply::Ok, |e| op_error_reply(&e))
}

/// A plan that runs `op` on every shard of the node.
pub fn on_every_shard(ctx: &Ctx<'_>, op: Op, finish: FinishMany) -> Plan {
    let n = ctx.cx.core.router.shard_count();
    Plan::Many {
        parts: (0..n).map(|s| (ShardId(s), op.clone())).collect(),
        finish,
    }
}
