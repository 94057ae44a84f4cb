//! Sorted set commands.
//!
//! Parsing follows Redis 7.0's `t_zset.c` step by step, so that a command
//! with several problems reports the same error Redis would. Arguments are
//! read in `zset/parse.rs`, replies shaped in `zset/reply.rs`, and the
//! multi-key commands live in `zset/multi.rs` and `zset/pop.rs`.

mod multi;
mod parse;
mod pop;
mod reply;

use bytes::Bytes;
use shardis_shards::op::Output;
use shardis_shards::op::ZSetOp;
use shardis_shards::op::zset::AddFlags;
use shardis_shards::op::zset::RangeQuery;
use shardis_shards::op::zset::RangeSpec;

use super::CommandSpec;
use super::Ctx;
use super::Plan;
use super::args::int;
use super::args::is;
use super::output_reply;
use crate::reply::CmdError;
use crate::resp::Reply;
use parse::By;
use parse::err;
use parse::lex_range;
use parse::parse_range;
use parse::score_arg;
use parse::score_range;
use reply::flat_pairs_reply;
use reply::on_key_with;
use reply::on_zkey;
use reply::pairs_reply;
use reply::resp3;
use reply::score_output_reply;
use reply::split_pairs;

const GROUP: &str = "sorted_set";

pub static COMMANDS: &[CommandSpec] = &[
    spec!("zadd", -4, ["write", "denyoom", "fast"], 1, 1, 1, zadd),
    spec!("zincrby", 4, ["write", "denyoom", "fast"], 1, 1, 1, zincrby),
    spec!("zrem", -3, ["write", "fast"], 1, 1, 1, zrem),
    spec!("zscore", 3, ["readonly", "fast"], 1, 1, 1, zscore),
    spec!("zmscore", -3, ["readonly", "fast"], 1, 1, 1, zmscore),
    spec!("zcard", 2, ["readonly", "fast"], 1, 1, 1, zcard),
    spec!("zcount", 4, ["readonly", "fast"], 1, 1, 1, zcount),
    spec!("zlexcount", 4, ["readonly", "fast"], 1, 1, 1, zlexcount),
    spec!("zrange", -4, ["readonly"], 1, 1, 1, zrange),
    spec!("zrangebyscore", -4, ["readonly"], 1, 1, 1, zrangebyscore),
    spec!(
        "zrevrangebyscore",
        -4,
        ["readonly"],
        1,
        1,
        1,
        zrevrangebyscore
    ),
    spec!("zrangebylex", -4, ["readonly"], 1, 1, 1, zrangebylex),
    spec!("zrevrangebylex", -4, ["readonly"], 1, 1, 1, zrevrangebylex),
    spec!("zrevrange", -4, ["readonly"], 1, 1, 1, zrevrange),
    spec!("zrank", 3, ["readonly", "fast"], 1, 1, 1, zrank),
    spec!("zrevrank", 3, ["readonly", "fast"], 1, 1, 1, zrevrank),
    spec!("zpopmin", -2, ["write", "fast"], 1, 1, 1, zpopmin),
    spec!("zpopmax", -2, ["write", "fast"], 1, 1, 1, zpopmax),
    spec!("zmpop", -4, ["write", "movablekeys"], 0, 0, 0, pop::zmpop),
    spec!(
        "bzpopmin",
        -3,
        ["write", "noscript", "blocking", "fast"],
        1,
        -2,
        1,
        pop::bzpopmin
    ),
    spec!(
        "bzpopmax",
        -3,
        ["write", "noscript", "blocking", "fast"],
        1,
        -2,
        1,
        pop::bzpopmax
    ),
    spec!(
        "bzmpop",
        -5,
        ["write", "blocking", "movablekeys"],
        0,
        0,
        0,
        pop::bzmpop
    ),
    spec!("zremrangebyrank", 4, ["write"], 1, 1, 1, zremrangebyrank),
    spec!("zremrangebyscore", 4, ["write"], 1, 1, 1, zremrangebyscore),
    spec!("zremrangebylex", 4, ["write"], 1, 1, 1, zremrangebylex),
    spec!("zscan", -3, ["readonly"], 1, 1, 1, zscan),
    spec!("zrandmember", -2, ["readonly"], 1, 1, 1, zrandmember),
    spec!(
        "zrangestore",
        -5,
        ["write", "denyoom"],
        1,
        2,
        1,
        multi::zrangestore
    ),
    spec!(
        "zunionstore",
        -4,
        ["write", "denyoom", "movablekeys"],
        1,
        1,
        1,
        multi::zunionstore
    ),
    spec!(
        "zinterstore",
        -4,
        ["write", "denyoom", "movablekeys"],
        1,
        1,
        1,
        multi::zinterstore
    ),
    spec!(
        "zdiffstore",
        -4,
        ["write", "denyoom", "movablekeys"],
        1,
        1,
        1,
        multi::zdiffstore
    ),
    spec!(
        "zunion",
        -3,
        ["readonly", "movablekeys"],
        0,
        0,
        0,
        multi::zunion
    ),
    spec!(
        "zinter",
        -3,
        ["readonly", "movablekeys"],
        0,
        0,
        0,
        multi::zinter
    ),
    spec!(
        "zdiff",
        -3,
        ["readonly", "movablekeys"],
        0,
        0,
        0,
        multi::zdiff
    ),
    spec!(
        "zintercard",
        -3,
        ["readonly", "movablekeys"],
        0,
        0,
        0,
        multi::zintercard
    ),
];

/// ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...]
fn zadd(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    let mut f = AddFlags::default();
    let mut i = 2;
    while let Some(opt) = a.get(i) {
        let flag = if is(opt, "nx") {
            &mut f.nx
        } else if is(opt, "xx") {
            &mut f.xx
        } else if is(opt, "ch") {
            &mut f.ch
        } else if is(opt, "incr") {
            &mut f.incr
        } else if is(opt, "gt") {
            &mut f.gt
        } else if is(opt, "lt") {
            &mut f.lt
        } else {
            break;
        };
        *flag = true;
        i += 1;
    }
    let rest = &a[i..];
    if rest.is_empty() || !rest.len().is_multiple_of(2) {
        return Err(CmdError::Syntax);
    }
    if f.nx && f.xx {
        return Err(err("XX and NX options at the same time are not compatible"));
    }
    if (f.nx && (f.gt || f.lt)) || (f.gt && f.lt) {
        return Err(err(
            "GT, LT, and/or NX options at the same time are not compatible",
        ));
    }
    if f.incr && rest.len() > 2 {
        return Err(err("INCR option supports a single increment-element pair"));
    }
    let mut pairs = Vec::with_capacity(rest.len() / 2);
    for p in rest.chunks(2) {
        pairs.push((score_arg(&p[0])?, p[1].clone()));
    }
    let op = ZSetOp::Add {
        key: a[1].clone(),
        pairs,
        flags: f,
    };
    if !f.incr {
        return Ok(on_zkey(ctx, &a[1], op));
    }
    let resp3 = resp3(ctx);
    Ok(on_key_with(ctx, &a[1], op, move |r| {
        score_output_reply(r, resp3)
    }))
}

fn zincrby(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    let op = ZSetOp::Add {
        key: a[1].clone(),
        pairs: vec![(score_arg(&a[2])?, a[3].clone())],
        flags: AddFlags {
            incr: true,
            ..AddFlags::default()
        },
    };
    let resp3 = resp3(ctx);
    Ok(on_key_with(ctx, &a[1], op, move |r| {
        score_output_reply(r, resp3)
    }))
}

fn zrem(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    let op = ZSetOp::Rem {
        key: a[1].clone(),
        members: a[2..].to_vec(),
    };
    Ok(on_zkey(ctx, &a[1], op))
}

fn zscore(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    let op = ZSetOp::Score {
        key: a[1].clone(),
        member: a[2].clone(),
    };
    let resp3 = resp3(ctx);
    Ok(on_key_with(ctx, &a[1], op, move |r| {
        score_output_reply(r, resp3)
    }))
}

fn zmscore(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    let op = ZSetOp::MScore {
        key: a[1].clone(),
        members: a[2..].to_vec(),
    };
    let resp3 = resp3(ctx);
    Ok(on_key_with(ctx, &a[1], op, move |r| match r {
        Ok(Output::Array(items)) => Reply::Array(
            items
                .into_iter()
                .map(|o| score_output_reply(Ok(o), resp3))
                .collect(),
        ),
        other => output_reply(other),
    }))
}

fn zcard(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    Ok(on_zkey(ctx, &a[1], ZSetOp::Card(a[1].clone())))
}

fn zcount(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    let op = ZSetOp::Count {
        key: a[1].clone(),
        range: score_range(&a[2], &a[3])?,
    };
    Ok(on_zkey(ctx, &a[1], op))
}

fn zlexcount(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    let op = ZSetOp::LexCount {
        key: a[1].clone(),
        range: lex_range(&a[2], &a[3])?,
    };
    Ok(on_zkey(ctx, &a[1], op))
}

fn range_plan(
    ctx: &Ctx<'_>,
    a: &[Bytes],
    by: Option<By>,
    rev: Option<bool>,
) -> Result<Plan, CmdError> {
    let query = parse_range(a, 1, false, by, rev)?;
    let withscores = query.withscores;
    let op = ZSetOp::Range {
        key: a[1].clone(),
        query,
    };
    let resp3 = resp3(ctx);
    Ok(on_key_with(ctx, &a[1], op, move |r| {
        if withscores {
            flat_pairs_reply(r, true, resp3, true)
        } else {
            output_reply(r)
        }
    }))
}

fn zrange(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    range_plan(ctx, a, None, None)
}

fn zrangebyscore(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    range_plan(ctx, a, Some(By::Score), Some(false))
}

fn zrevrangebyscore(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    range_plan(ctx, a, Some(By::Score), Some(true))
}

fn zrangebylex(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    range_plan(ctx, a, Some(By::Lex), Some(false))
}

fn zrevrangebylex(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    range_plan(ctx, a, Some(By::Lex), Some(true))
}

fn zrevrange(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    range_plan(ctx, a, Some(By::Rank), Some(true))
}

fn rank_plan(ctx: &Ctx<'_>, a: &[Bytes], rev: bool) -> Plan {
    let op = ZSetOp::Rank {
        key: a[1].clone(),
        member: a[2].clone(),
        rev,
    };
    on_zkey(ctx, &a[1], op)
}

fn zrank(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    Ok(rank_plan(ctx, a, false))
}

fn zrevrank(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    Ok(rank_plan(ctx, a, true))
}

/// ZPOPMIN/ZPOPMAX key [count]: a flat (member, score) array; in RESP3
/// the pairs are nested when a count was given.
fn pop_plan(ctx: &Ctx<'_>, a: &[Bytes], max: bool) -> Result<Plan, CmdError> {
    if a.len() > 3 {
        return Err(CmdError::Syntax);
    }
    let count = match a.get(2) {
        Some(c) => {
            // Redis has one text for a negative and a non-integer count.
            let positive = || err("value is out of range, must be positive");
            let n = int(c).map_err(|_| positive())?;
            Some(u64::try_from(n).map_err(|_| positive())?)
        }
        None => None,
    };
    let op = ZSetOp::Pop {
        key: a[1].clone(),
        max,
        count: count.unwrap_or(1),
    };
    let (resp3, nest) = (resp3(ctx), count.is_some());
    Ok(on_key_with(ctx, &a[1], op, move |r| {
        flat_pairs_reply(r, true, resp3, nest)
    }))
}

fn zpopmin(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    pop_plan(ctx, a, false)
}

fn zpopmax(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    pop_plan(ctx, a, true)
}

fn remrange_plan(ctx: &Ctx<'_>, a: &[Bytes], spec: RangeSpec) -> Plan {
    let op = ZSetOp::RemRange {
        key: a[1].clone(),
        spec,
    };
    on_zkey(ctx, &a[1], op)
}

fn zremrangebyrank(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    let spec = RangeSpec::Rank {
        start: int(&a[2])?,
        stop: int(&a[3])?,
    };
    Ok(remrange_plan(ctx, a, spec))
}

fn zremrangebyscore(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    let spec = RangeSpec::Score(score_range(&a[2], &a[3])?);
    Ok(remrange_plan(ctx, a, spec))
}

fn zremrangebylex(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    let spec = RangeSpec::Lex(lex_range(&a[2], &a[3])?);
    Ok(remrange_plan(ctx, a, spec))
}

/// ZSCAN key cursor [MATCH pattern] [COUNT count]. Like Redis does for
/// small zsets (and as HSCAN does here), one call returns every matching
/// member with its score and cursor 0; COUNT is a hint.
fn zscan(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    let cursor = super::args::cursor(&a[2])?;
    let pattern = super::args::scan_match(a)?;
    let op = ZSetOp::Range {
        key: a[1].clone(),
        query: RangeQuery {
            spec: RangeSpec::Rank { start: 0, stop: -1 },
            rev: false,
            limit: None,
            withscores: true,
        },
    };
    Ok(on_key_with(ctx, &a[1], op, move |r| {
        let items = match r {
            Ok(Output::Array(items)) => items,
            other => return output_reply(other),
        };
        let mut out = Vec::new();
        // A cursor other than 0 means a previous call already returned everything.
        if cursor == 0 {
            for (m, s) in split_pairs(items) {
                if pattern
                    .as_ref()
                    .is_none_or(|p| shardis_shards::glob::glob_match(p, &m))
                {
                    out.push(Reply::Bulk(m));
                    out.push(Reply::Bulk(s));
                }
            }
        }
        Reply::Array(vec![Reply::bulk("0"), Reply::Array(out)])
    }))
}

/// Largest |count| of a negative ZRANDMEMBER count (its reply repeats
/// members, so the client could otherwise make us build any size).
const MAX_RANDMEMBER: u64 = 10_000_000;

/// ZRANDMEMBER key [count [WITHSCORES]].
fn zrandmember(ctx: &mut Ctx<'_>, a: &[Bytes]) -> Result<Plan, CmdError> {
    let Some(c) = a.get(2) else {
        let op = ZSetOp::RandMember {
            key: a[1].clone(),
            count: None,
            withscores: false,
        };
        return Ok(on_zkey(ctx, &a[1], op));
    };
    let count = int(c)?;
    if count == i64::MIN {
        return Err(err(
            "value is out of range, value must between -9223372036854775807 and 9223372036854775807",
        ));
    }
    let withscores = match a.get(3) {
        None => false,
        Some(w) if a.len() == 4 && is(w, "withscores") => true,
        Some(_) => return Err(CmdError::Syntax),
    };
    let out_of_range = if withscores {
        count.unsigned_abs() > (i64::MAX / 2) as u64
    } else {
        false
    };
    if out_of_range || (count < 0 && count.unsigned_abs() > MAX_RANDMEMBER) {
        return Err(err("value is out of range"));
    }
    let op = ZSetOp::RandMember {
        key: a[1].clone(),
        count: Some(count),
        withscores,
    };
    let resp3 = resp3(ctx);
    Ok(on_key_with(ctx, &a[1], op, move |r| match r {
        Ok(Output::Array(items)) if withscores => {
            pairs_reply(split_pairs(items), true, resp3, true)
        }
        other => output_reply(other),
    }))
}
