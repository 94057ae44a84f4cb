//! OBJECT (introspection of one key) and COPY.

use bytes::Bytes;
use shardis_shards::op::Op;
use shardis_shards::op::Output;

use super::CommandSpec;
use super::Ctx;
use super::Plan;
use super::args::int;
use super::args::is;
use super::args::lossy;
use super::on_key;
use super::output_reply;
use crate::reply::CmdError;
use crate::reply::op_error_reply;
use crate::resp::Reply;

const GROUP: &str = "generic";

pub static COMMANDS: &[CommandSpec] = &[
    spec!("object", -2, ["readonly"], 2, 2, 1, object),
    spec!("copy", -3, ["write", "denyoom"], 1, 2, 1, copy),
    spec!("memory", -2, ["readonly"], 0, 0, 0, memory),
];

/// MEMORY USAGE: values live in RocksDB, so there is no allocation to
/// measure; a present key reports a nominal size (INFO says the allocator
/// is libc, which tells Redis's own tests not to compare sizes).
fn memory(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    if is(&a[1], "usage") && a.len() >= 3 {
        let key = a[2].clone();
        return Ok(on_key(ctx, &key, Op::Type(key.clone()), |r| {
            exists_then(r, 64)
        }));
    }
    if is(&a[1], "doctor") {
        return Ok(Plan::Reply(Reply::bulk(
            "Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base.",
        )));
    }
    Err(CmdError::UnknownSubcommand {
        command: "memory".into(),
        sub: lossy(&a[1]),
    })
}

const OBJECT_HELP: &[&str] = &[
    "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned integer is",
    "    proportional to the logarithm of the recent access frequency of the key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
    "HELP",
    "    Prints this help.",
];

/// Nil for a missing key, else `value` (REFCOUNT and IDLETIME, which we
/// do not track: every value has one reference and no idle time).
fn exists_then(r: shardis_shards::error::OpResult<Output>, value: i64) -> Reply {
    match r {
        Ok(Output::Status(t)) if t == "none" => Reply::Nil,
        Ok(_) => Reply::Int(value),
        Err(e) => op_error_reply(&e),
    }
}

fn object(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    let sub = &a[1];
    if is(sub, "help") && a.len() == 2 {
        return Ok(Plan::Reply(Reply::Array(
            OBJECT_HELP
                .iter()
                .map(|l| Reply::Simple((*l).into()))
                .collect(),
        )));
    }
    let known = ["encoding", "refcount", "idletime", "freq"];
    if a.len() != 3 || !known.iter().any(|k| is(sub, k)) {
        return Err(CmdError::UnknownSubcommand {
            command: "object".into(),
            sub: lossy(sub),
        });
    }
    let key = a[2].clone();
    if is(sub, "encoding") {
        return Ok(on_key(ctx, &key, Op::Encoding(key.clone()), output_reply));
    }
    if is(sub, "freq") {
        return Ok(Plan::Reply(Reply::error(
            "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.",
        )));
    }
    let finish = if is(sub, "refcount") {
        |r| exists_then(r, 1)
    } else {
        |r| exists_then(r, 0)
    };
    Ok(on_key(ctx, &key, Op::Type(key.clone()), finish))
}

/// COPY source destination [DB index] [REPLACE]. One database, so DB may
/// only name database 0. Across shards it is a dump and a restore.
fn copy(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    let (src, dst) = (a[1].clone(), a[2].clone());
    let mut replace = false;
    let mut i = 3;
    while i < a.len() {
        if is(&a[i], "replace") {
            replace = true;
        } else if is(&a[i], "db") && i + 1 < a.len() {
            i += 1;
            let db = int(&a[i]).map_err(|_| CmdError::NotInteger)?;
            if db != 0 {
                return Err(CmdError::DbIndexOutOfRange);
            }
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    if src == dst {
        return Ok(Plan::Reply(Reply::error(
            "ERR source and destination objects are the same",
        )));
    }
    let router = &ctx.cx.core.router;
    let (from, to) = (router.shard_of_key(&src), router.shard_of_key(&dst));
    if from == to {
        return Ok(Plan::One {
            shard: from,
            op: Op::Copy { src, dst, replace },
            finish: output_reply,
        });
    }
    let core = ctx.cx.core.clone();
    Ok(Plan::Async(Box::pin(async move {
        let record = match core.call_one(from, Op::Dump(src)).await {
            Ok(Output::Bulk(r)) => r,
            Ok(_) => return Reply::Int(0),
            Err(e) => return op_error_reply(&e),
        };
        let op = Op::Restore {
            key: dst,
            record,
            nx: !replace,
        };
        output_reply(core.call_one(to, op).await)
    })))
}
