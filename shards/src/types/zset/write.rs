//! Zset ops that change data.

use std::collections::HashSet;

use bytes::Bytes;

use super::ZSet;
use super::algebra::combine;
use super::delete_member;
use super::index_field;
use super::load;
use super::load_or_new;
use super::put_member;
use super::read::Entries;
use super::read::flat;
use super::read::input_pairs;
use super::read::select;
use super::score_of;
use super::score_output;
use super::store;
use super::walk_all;
use crate::error::OpError;
use crate::error::OpResult;
use crate::op::Output;
use crate::op::zset::AddFlags;
use crate::op::zset::Aggregate;
use crate::op::zset::RangeQuery;
use crate::op::zset::RangeSpec;
use crate::op::zset::SetAlgebra;
use crate::shard::Shard;
use crate::types::collection::Coll;

/// What happened to one ZADD pair.
enum Added {
    /// New member.
    New(f64),
    /// Existing member, score changed.
    Updated(f64),
    /// Existing member, same score (still "processed" for INCR's reply).
    Same(f64),
    /// Skipped by NX, XX, GT or LT.
    Skipped,
}

/// ZADD / ZINCRBY, following Redis's `zsetAdd` rule by rule.
pub fn op_add(
    sh: &mut Shard,
    key: &[u8],
    pairs: Vec<(f64, Bytes)>,
    flags: AddFlags,
    now: i64,
) -> OpResult<Output> {
    if pairs.iter().any(|(s, _)| s.is_nan()) {
        return Err(OpError::ScoreNaN);
    }
    let existing = load(sh, key, now)?;
    if existing.is_none() && flags.xx {
        return Ok(add_reply(flags, 0, 0, None));
    }
    let mut z = match existing {
        Some(z) => z,
        None => load_or_new(sh, key, now)?,
    };
    let (mut added, mut updated, mut last) = (0, 0, None);
    for (score, member) in pairs {
        match add_one(sh, key, &mut z, score, &member, flags)? {
            Added::New(s) => {
                added += 1;
                last = Some(s);
            }
            Added::Updated(s) => {
                updated += 1;
                last = Some(s);
            }
            Added::Same(s) => last = Some(s),
            Added::Skipped => {}
        }
    }
    if added + updated > 0 {
        store(sh, key, &z);
    }
    Ok(add_reply(flags, added, updated, last))
}

fn add_one(
    sh: &mut Shard,
    key: &[u8],
    z: &mut ZSet,
    score: f64,
    member: &[u8],
    flags: AddFlags,
) -> OpResult<Added> {
    let Some(cur) = score_of(sh, key, z, member)? else {
        if flags.xx {
            return Ok(Added::Skipped);
        }
        put_member(sh, key, z, member, score);
        z.size += 1;
        return Ok(Added::New(score));
    };
    if flags.nx {
        return Ok(Added::Skipped);
    }
    let new = if flags.incr { cur + score } else { score };
    if new.is_nan() {
        return Err(OpError::ScoreNaN);
    }
    if (flags.lt && new >= cur) || (flags.gt && new <= cur) {
        return Ok(Added::Skipped);
    }
    if new == cur {
        return Ok(Added::Same(new));
    }
    sh.sub_delete(key, z.version, &index_field(cur, member));
    put_member(sh, key, z, member, new);
    Ok(Added::Updated(new))
}

/// ZADD answers how many members it added (CH: or changed); with INCR,
/// the new score, or Nil when the pair was skipped.
fn add_reply(flags: AddFlags, added: i64, updated: i64, last: Option<f64>) -> Output {
    if flags.incr {
        return last.map_or(Output::Nil, score_output);
    }
    Output::Int(if flags.ch { added + updated } else { added })
}

pub fn op_rem(sh: &mut Shard, key: &[u8], members: &[Bytes], now: i64) -> OpResult<Output> {
    let Some(mut z) = load(sh, key, now)? else {
        return Ok(Output::Int(0));
    };
    let mut removed = 0;
    for m in members {
        if let Some(s) = score_of(sh, key, &z, m)? {
            delete_member(sh, key, &mut z, m, s);
            removed += 1;
        }
    }
    if removed > 0 {
        store(sh, key, &z);
    }
    Ok(Output::Int(removed))
}

/// ZPOPMIN / ZPOPMAX: removes and answers up to `count` (member, score)
/// pairs from the low (or high) end.
pub fn op_pop(sh: &mut Shard, key: &[u8], max: bool, count: u64, now: i64) -> OpResult<Output> {
    let Some(mut z) = load(sh, key, now)? else {
        return Ok(Output::Array(Vec::new()));
    };
    let want = count.min(z.size);
    let mut popped: Entries = Vec::with_capacity(want.min(1 << 16) as usize);
    if want > 0 {
        walk_all(sh, key, &z, max, |s, m| {
            popped.push((s, m.to_vec()));
            (popped.len() as u64) < want
        })?;
    }
    remove_entries(sh, key, &mut z, &popped);
    if let Some((s, m)) = popped.last() {
        // Every field before the last popped one (after it, for ZPOPMAX)
        // is gone now: later walks start past their tombstones.
        let field = index_field(*s, m);
        let bounds = sh.zset_bounds_mut();
        if max {
            bounds.popped_back(key, z.version, field);
        } else {
            bounds.popped_front(key, z.version, field);
        }
    }
    Ok(flat(popped, true))
}

/// ZMPOP: pops from the first of `keys` that holds members. As in Redis,
/// a key of another type before that one is an error (unless skipped),
/// one after is not looked at.
pub fn op_mpop(
    sh: &mut Shard,
    keys: &[Bytes],
    max: bool,
    count: u64,
    skip_wrong_type: bool,
    now: i64,
) -> OpResult<Output> {
    for k in keys {
        let popped = match op_pop(sh, k, max, count, now) {
            Err(OpError::WrongType) if skip_wrong_type => continue,
            r => r?,
        };
        match popped {
            Output::Array(items) if !items.is_empty() => {
                return Ok(Output::Array(vec![
                    Output::Bulk(k.clone()),
                    Output::Array(items),
                ]));
            }
            _ => {}
        }
    }
    Ok(Output::Nil)
}

/// ZREMRANGEBYRANK / BYSCORE / BYLEX: the number of members removed.
pub fn op_remrange(sh: &mut Shard, key: &[u8], spec: &RangeSpec, now: i64) -> OpResult<Output> {
    let Some(mut z) = load(sh, key, now)? else {
        return Ok(Output::Int(0));
    };
    let gone = select(sh, key, &z, spec, false, None)?;
    remove_entries(sh, key, &mut z, &gone);
    Ok(Output::Int(gone.len() as i64))
}

fn remove_entries(sh: &mut Shard, key: &[u8], z: &mut ZSet, entries: &Entries) {
    for (s, m) in entries {
        delete_member(sh, key, z, m, *s);
    }
    if !entries.is_empty() {
        store(sh, key, z);
    }
}

/// ZRANGESTORE with both keys here: the selected range replaces `dst`
/// (deleted when the range is empty or `src` absent).
pub fn op_rangestore(
    sh: &mut Shard,
    dst: &[u8],
    src: &[u8],
    q: &RangeQuery,
    now: i64,
) -> OpResult<Output> {
    let entries = match load(sh, src, now)? {
        Some(z) => select(sh, src, &z, &q.spec, q.rev, q.limit)?,
        None => Vec::new(),
    };
    let pairs = entries
        .into_iter()
        .map(|(s, m)| (Bytes::from(m), s))
        .collect();
    op_store(sh, dst, pairs, now)
}

/// Replaces `key`, whatever it held, with a zset of `pairs` (without
/// expiry, as Redis's STORE commands do); an empty result deletes it.
pub fn op_store(
    sh: &mut Shard,
    key: &[u8],
    pairs: Vec<(Bytes, f64)>,
    now: i64,
) -> OpResult<Output> {
    let entry = sh.entry(key, now)?;
    let mut z = Coll {
        entry,
        expire_at: None,
        version: sh.new_version(now),
        size: 0,
        head: 0,
    };
    let mut seen = HashSet::with_capacity(pairs.len());
    for (m, s) in &pairs {
        if s.is_nan() || !seen.insert(m.as_ref()) {
            continue;
        }
        put_member(sh, key, &z, m, *s);
        z.size += 1;
    }
    store(sh, key, &z);
    Ok(Output::Int(z.size as i64))
}

/// ZUNION/ZINTER/ZDIFF[STORE] with every key on this shard: one atomic op.
pub fn op_combine(
    sh: &mut Shard,
    dst: Option<&[u8]>,
    algebra: SetAlgebra,
    keys: &[Bytes],
    weights: &[f64],
    aggregate: Aggregate,
    now: i64,
) -> OpResult<Output> {
    let mut inputs = Vec::with_capacity(keys.len());
    for k in keys {
        inputs.push(input_pairs(sh, k, now)?);
    }
    let result = combine(algebra, inputs, weights, aggregate);
    if let Some(dst) = dst {
        return op_store(sh, dst, result, now);
    }
    let mut out = Vec::with_capacity(result.len() * 2);
    for (m, s) in result {
        out.push(Output::Bulk(m));
        out.push(score_output(s));
    }
    Ok(Output::Array(out))
}
