//! Generic key commands: deletion, existence, expiry, iteration, RENAME.

use bytes::Bytes;
use shardis_shards::core::now_ms;
use shardis_shards::error::OpError;
use shardis_shards::error::OpResult;
use shardis_shards::op::ExpireCond;
use shardis_shards::op::Op;
use shardis_shards::op::Output;
use shardis_shards::slot::ShardId;

use super::CommandSpec;
use super::Ctx;
use super::Plan;
use super::args::TimeUnit;
use super::args::any_expiry;
use super::args::is;
use super::args::lossy;
use super::on_every_shard;
use super::on_key;
use super::output_reply;
use super::sum_ints;
use super::sum_over_keys;
use crate::reply::CmdError;
use crate::reply::op_error_reply;
use crate::resp::Reply;

const GROUP: &str = "generic";

pub static COMMANDS: &[CommandSpec] = &[
    spec!("del", -2, ["write"], 1, -1, 1, del),
    spec!("unlink", -2, ["write", "fast"], 1, -1, 1, del),
    spec!("exists", -2, ["readonly", "fast"], 1, -1, 1, exists),
    spec!("touch", -2, ["readonly", "fast"], 1, -1, 1, touch),
    spec!("type", 2, ["readonly", "fast"], 1, 1, 1, type_),
    spec!("expire", -3, ["write", "fast"], 1, 1, 1, expire),
    spec!("pexpire", -3, ["write", "fast"], 1, 1, 1, pexpire),
    spec!("expireat", -3, ["write", "fast"], 1, 1, 1, expireat),
    spec!("pexpireat", -3, ["write", "fast"], 1, 1, 1, pexpireat),
    spec!("ttl", 2, ["readonly", "fast"], 1, 1, 1, ttl),
    spec!("pttl", 2, ["readonly", "fast"], 1, 1, 1, pttl),
    spec!("expiretime", 2, ["readonly", "fast"], 1, 1, 1, expiretime),
    spec!("pexpiretime", 2, ["readonly", "fast"], 1, 1, 1, pexpiretime),
    spec!("persist", 2, ["write", "fast"], 1, 1, 1, persist),
    spec!("keys", 2, ["readonly"], 0, 0, 0, keys),
    spec!("scan", -2, ["readonly"], 0, 0, 0, scan),
    spec!("randomkey", 1, ["readonly"], 0, 0, 0, randomkey),
    spec!("rename", 3, ["write"], 1, 2, 1, rename),
    spec!("renamenx", 3, ["write", "fast"], 1, 2, 1, renamenx),
    spec!("dbsize", 1, ["readonly", "fast"], 0, 0, 0, dbsize),
    spec!("flushdb", -1, ["write"], 0, 0, 0, flushdb),
    spec!("flushall", -1, ["write"], 0, 0, 0, flushdb),
];

fn del(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    Ok(sum_over_keys(ctx, &a[1..], Op::Del))
}

fn exists(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    Ok(sum_over_keys(ctx, &a[1..], Op::Exists))
}

fn touch(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    Ok(sum_over_keys(ctx, &a[1..], Op::Touch))
}

fn type_(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    Ok(on_key(ctx, &a[1], Op::Type(a[1].clone()), output_reply))
}

/// NX/XX/GT/LT of EXPIRE and friends, with Redis 7's compatibility rules.
fn expire_cond(opts: &[Bytes]) -> Result<ExpireCond, CmdError> {
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for o in opts {
        if is(o, "nx") {
            nx = true;
        } else if is(o, "xx") {
            xx = true;
        } else if is(o, "gt") {
            gt = true;
        } else if is(o, "lt") {
            lt = true;
        } else {
            return Err(CmdError::UnsupportedOption(lossy(o)));
        }
    }
    if nx && (xx || gt || lt) {
        return Err(CmdError::ExpireNxConflict);
    }
    if gt && lt {
        return Err(CmdError::ExpireGtLtConflict);
    }
    // GT already fails on a key without expiry, so XX adds nothing to it.
    Ok(match (nx, xx, gt, lt) {
        (true, ..) => ExpireCond::Nx,
        (_, _, true, _) => ExpireCond::Gt,
        (_, true, _, true) => ExpireCond::XxLt,
        (_, _, _, true) => ExpireCond::Lt,
        (_, true, ..) => ExpireCond::Xx,
        _ => ExpireCond::Always,
    })
}

fn expire_with(
    ctx: &Ctx<'_>,
    a: &[Bytes],
    unit: TimeUnit,
    absolute: bool,
    cmd: &'static str,
) -> Result<Plan, CmdError> {
    let base = if absolute { 0 } else { now_ms() };
    let at_ms = any_expiry(&a[2], unit, base, cmd)?;
    let cond = expire_cond(&a[3..])?;
    Ok(on_key(
        ctx,
        &a[1],
        Op::Expire {
            key: a[1].clone(),
            at_ms,
            cond,
        },
        output_reply,
    ))
}

fn expire(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    expire_with(ctx, a, TimeUnit::Seconds, false, "expire")
}

fn pexpire(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    expire_with(ctx, a, TimeUnit::Millis, false, "pexpire")
}

fn expireat(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    expire_with(ctx, a, TimeUnit::Seconds, true, "expireat")
}

fn pexpireat(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    expire_with(ctx, a, TimeUnit::Millis, true, "pexpireat")
}

/// Milliseconds to seconds, rounded as Redis does for TTL and EXPIRETIME.
fn ms_to_secs(r: OpResult<Output>) -> Reply {
    match r {
        Ok(Output::Int(ms)) if ms >= 0 => Reply::Int((ms + 500) / 1000),
        other => output_reply(other),
    }
}

fn ttl(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    Ok(on_key(ctx, &a[1], Op::Pttl(a[1].clone()), ms_to_secs))
}

fn pttl(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    Ok(on_key(ctx, &a[1], Op::Pttl(a[1].clone()), output_reply))
}

fn expiretime(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    Ok(on_key(
        ctx,
        &a[1],
        Op::PexpireTime(a[1].clone()),
        ms_to_secs,
    ))
}

fn pexpiretime(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    Ok(on_key(
        ctx,
        &a[1],
        Op::PexpireTime(a[1].clone()),
        output_reply,
    ))
}

fn persist(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    Ok(on_key(ctx, &a[1], Op::Persist(a[1].clone()), output_reply))
}

fn keys(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    Ok(on_every_shard(
        ctx,
        Op::Keys(a[1].clone()),
        Box::new(|results| {
            let mut all = Vec::new();
            for r in results {
                match r {
                    Ok(Output::Array(ks)) => all.extend(ks.into_iter().map(super::output_to_reply)),
                    Ok(_) => {}
                    Err(e) => return op_error_reply(&e),
                }
            }
            Reply::Array(all)
        }),
    ))
}

/// Bits of a SCAN cursor that name the shard; the rest is the shard's token.
const SCAN_SHARD_BITS: u32 = 10;

fn scan(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    let cursor = super::args::cursor(&a[1])?;
    let super::args::ScanOptions {
        pattern,
        count,
        type_name,
    } = super::args::scan_options(a, 2, true)?;
    let count = count.map_or(10, |n| n.min(1 << 20) as usize);
    let shards = ctx.cx.core.router.shard_count() as u64;
    let shard = (cursor & ((1 << SCAN_SHARD_BITS) - 1)) % shards;
    let token = cursor >> SCAN_SHARD_BITS;
    let op = Op::Scan {
        cursor: token,
        pattern,
        count,
        type_name,
    };
    Ok(Plan::Many {
        parts: vec![(ShardId(shard as usize), op)],
        finish: Box::new(move |mut results| match results.pop() {
            Some(Ok(Output::Scan { cursor: next, keys })) => {
                let global = match next {
                    0 if shard + 1 < shards => shard + 1,
                    0 => 0,
                    t => (t << SCAN_SHARD_BITS) | shard,
                };
                Reply::Array(vec![
                    Reply::bulk(global.to_string()),
                    Reply::Array(keys.into_iter().map(Reply::Bulk).collect()),
                ])
            }
            Some(Err(e)) => op_error_reply(&e),
            _ => Reply::error("ERR scan failed"),
        }),
    })
}

fn randomkey(ctx: &mut Ctx<'_>, _a: &[Bytes]) -> Result<Plan, CmdError> {
    let core = ctx.cx.core.clone();
    let n = core.router.shard_count();
    let start = rand::random::<usize>() % n;
    Ok(Plan::Async(Box::pin(async move {
        for i in 0..n {
            match core.call_one(ShardId((start + i) % n), Op::RandomKey).await {
                Ok(Output::Bulk(k)) => return Reply::Bulk(k),
                Ok(_) => {}
                Err(e) => return op_error_reply(&e),
            }
        }
        Reply::Nil
    })))
}

fn rename(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    rename_with(ctx, a, false)
}

fn renamenx(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    rename_with(ctx, a, true)
}

/// RENAME/RENAMENX. When both keys are on one shard it is one atomic op.
/// Across shards: copy the source's record (with its TTL) to the
/// destination, then delete the source only if it is unchanged. A failure
/// part-way leaves the value in both places, never in neither; a concurrent
/// reader may briefly see both keys.
fn rename_with(ctx: &Ctx<'_>, a: &[Bytes], nx: bool) -> Result<Plan, CmdError> {
    let (src, dst) = (a[1].clone(), a[2].clone());
    let router = &ctx.cx.core.router;
    let (from, to) = (router.shard_of_key(&src), router.shard_of_key(&dst));
    if from == to {
        return Ok(Plan::One {
            shard: from,
            op: Op::Rename { src, dst, nx },
            finish: output_reply,
        });
    }
    let core = ctx.cx.core.clone();
    Ok(Plan::Async(Box::pin(async move {
        let record = match core.call_one(from, Op::Dump(src.clone())).await {
            Ok(Output::Bulk(r)) => r,
            Ok(_) => return op_error_reply(&OpError::NoSuchKey),
            Err(e) => return op_error_reply(&e),
        };
        match core
            .call_one(
                to,
                Op::Restore {
                    key: dst,
                    record: record.clone(),
                    nx,
                },
            )
            .await
        {
            Ok(Output::Int(1)) => {}
            Ok(_) => return Reply::Int(0),
            Err(e) => return op_error_reply(&e),
        }
        if let Err(e) = core
            .call_one(from, Op::DeleteIfSame { key: src, record })
            .await
        {
            return op_error_reply(&e);
        }
        if nx { Reply::Int(1) } else { Reply::Ok }
    })))
}

fn dbsize(ctx: &mut Ctx<'_>, _a: &[Bytes]) -> Result<Plan, CmdError> {
    Ok(on_every_shard(ctx, Op::DbSize, Box::new(sum_ints)))
}

fn flushdb(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    match a.get(1) {
        None => {}
        Some(m) if a.len() == 2 && (is(m, "async") || is(m, "sync")) => {}
        _ => return Err(CmdError::Syntax),
    }
    Ok(on_every_shard(ctx, Op::FlushDb, Box::new(super::all_ok)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cond(s: &str) -> Result<ExpireCond, CmdError> {
        let v: Vec<Bytes> = s
            .split_whitespace()
            .map(|w| Bytes::copy_from_slice(w.as_bytes()))
            .collect();
        expire_cond(&v)
    }

    #[test]
    fn expire_options_follow_redis7() {
        assert_eq!(cond(""), Ok(ExpireCond::Always));
        assert_eq!(cond("nx"), Ok(ExpireCond::Nx));
        assert_eq!(cond("XX"), Ok(ExpireCond::Xx));
        assert_eq!(cond("gt xx"), Ok(ExpireCond::Gt));
        assert_eq!(cond("xx lt"), Ok(ExpireCond::XxLt));
        assert_eq!(cond("nx xx"), Err(CmdError::ExpireNxConflict));
        assert_eq!(cond("gt lt"), Err(CmdError::ExpireGtLtConflict));
        assert_eq!(cond("foo"), Err(CmdError::UnsupportedOption("foo".into())));
    }
}
