//! Replies of the zset commands. Shards answer scores as `%.17g` text
//! (Redis 7.0's RESP2 form); RESP3 connections get doubles, and (member,
//! score) pairs nested as Redis nests them.

use bytes::Bytes;
use shardis_shards::error::OpError;
use shardis_shards::error::OpResult;
use shardis_shards::op::Op;
use shardis_shards::op::Output;
use shardis_shards::op::ZSetOp;

use super::super::Ctx;
use super::super::Plan;
use super::super::on_key;
use super::super::output_reply;
use crate::resp::Protocol;
use crate::resp::Reply;

pub(super) fn resp3(ctx: &Ctx<'_>) -> bool {
    ctx.conn.proto == Protocol::Resp3
}

/// A plan running one op on `key`'s shard, whose reply may depend on the
/// connection (RESP3 doubles and pairs).
pub(super) fn on_key_with(
    ctx: &Ctx<'_>,
    key: &Bytes,
    op: ZSetOp,
    finish: impl FnOnce(OpResult<Output>) -> Reply + 'static,
) -> Plan {
    Plan::Many {
        parts: vec![(ctx.cx.core.router.shard_of_key(key), Op::ZSets(op))],
        finish: Box::new(move |mut results| {
            finish(
                results
                    .pop()
                    .unwrap_or(Err(OpError::Storage("no result".into()))),
            )
        }),
    }
}

pub(super) fn on_zkey(ctx: &Ctx<'_>, key: &Bytes, op: ZSetOp) -> Plan {
    on_key(ctx, key, Op::ZSets(op), output_reply)
}

/// A score text from a shard: a bulk string in RESP2, a double in RESP3.
pub(super) fn score_reply(text: Bytes, resp3: bool) -> Reply {
    match std::str::from_utf8(&text).ok().and_then(|t| t.parse().ok()) {
        Some(v) if resp3 => Reply::Double(v),
        _ => Reply::Bulk(text),
    }
}

/// A single score (or Nil) answered by a shard.
pub(super) fn score_output_reply(r: OpResult<Output>, resp3: bool) -> Reply {
    match r {
        Ok(Output::Bulk(t)) => score_reply(t, resp3),
        other => output_reply(other),
    }
}

/// (member, score text) pairs of a flat shard answer.
pub(super) fn split_pairs(items: Vec<Output>) -> Vec<(Bytes, Bytes)> {
    let mut it = items.into_iter();
    let mut pairs = Vec::new();
    while let (Some(Output::Bulk(m)), Some(Output::Bulk(s))) = (it.next(), it.next()) {
        pairs.push((m, s));
    }
    pairs
}

/// Members, or members with scores: flat in RESP2, `[member, score]`
/// pairs in RESP3 (when `nest`), as Redis answers ZRANGE WITHSCORES.
pub(super) fn pairs_reply(
    pairs: Vec<(Bytes, Bytes)>,
    withscores: bool,
    resp3: bool,
    nest: bool,
) -> Reply {
    let mut out = Vec::with_capacity(pairs.len() * if withscores { 2 } else { 1 });
    for (m, s) in pairs {
        if !withscores {
            out.push(Reply::Bulk(m));
        } else if resp3 && nest {
            out.push(Reply::Array(vec![Reply::Bulk(m), score_reply(s, true)]));
        } else {
            out.push(Reply::Bulk(m));
            out.push(score_reply(s, resp3));
        }
    }
    Reply::Array(out)
}

/// `[member, score]` pairs, nested in both protocols (ZMPOP).
pub(super) fn nested_pairs(pairs: Vec<(Bytes, Bytes)>, resp3: bool) -> Reply {
    Reply::Array(
        pairs
            .into_iter()
            .map(|(m, s)| Reply::Array(vec![Reply::Bulk(m), score_reply(s, resp3)]))
            .collect(),
    )
}

/// The reply to a flat (member, score, ...) shard answer.
pub(super) fn flat_pairs_reply(
    r: OpResult<Output>,
    withscores: bool,
    resp3: bool,
    nest: bool,
) -> Reply {
    match r {
        Ok(Output::Array(items)) => pairs_reply(split_pairs(items), withscores, resp3, nest),
        other => output_reply(other),
    }
}
