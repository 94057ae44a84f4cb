//! Read-only zset ops, and the range selection the writes share.

use bytes::Bytes;

use super::INDEX;
use super::MEMBER;
use super::ZSet;
use super::index_field;
use super::load;
use super::score_bounds;
use super::score_of;
use super::score_output;
use super::score_prefix;
use super::walk;
use super::walk_all;
use crate::error::OpError;
use crate::error::OpResult;
use crate::op::Output;
use crate::op::zset::LexBound;
use crate::op::zset::LexRange;
use crate::op::zset::RangeQuery;
use crate::op::zset::RangeSpec;
use crate::op::zset::ScoreRange;
use crate::shard::Shard;
use crate::storage::keys::prefix_end;
use crate::storage::meta::RedisType;
use crate::types::collection;
use crate::types::collection::Coll;
use crate::types::sample;
use crate::types::sample::Picker;

/// Selected entries: (score, member) in reply order.
pub(super) type Entries = Vec<(f64, Vec<u8>)>;

pub fn op_score(sh: &Shard, key: &[u8], member: &[u8], now: i64) -> OpResult<Output> {
    let Some(z) = load(sh, key, now)? else {
        return Ok(Output::Nil);
    };
    Ok(score_of(sh, key, &z, member)?.map_or(Output::Nil, score_output))
}

pub fn op_mscore(sh: &Shard, key: &[u8], members: &[Bytes], now: i64) -> OpResult<Output> {
    let z = load(sh, key, now)?;
    let mut out = Vec::with_capacity(members.len());
    for m in members {
        let score = match &z {
            Some(z) => score_of(sh, key, z, m)?,
            None => None,
        };
        out.push(score.map_or(Output::Nil, score_output));
    }
    Ok(Output::Array(out))
}

pub fn op_card(sh: &Shard, key: &[u8], now: i64) -> OpResult<Output> {
    Ok(Output::Int(
        load(sh, key, now)?.map_or(0, |z| z.size as i64),
    ))
}

pub fn op_count(sh: &Shard, key: &[u8], range: &ScoreRange, now: i64) -> OpResult<Output> {
    let Some(z) = load(sh, key, now)? else {
        return Ok(Output::Int(0));
    };
    let mut n = 0;
    visit_score(sh, key, &z, range, false, |_, _| {
        n += 1;
        true
    })?;
    Ok(Output::Int(n))
}

pub fn op_lexcount(sh: &Shard, key: &[u8], range: &LexRange, now: i64) -> OpResult<Output> {
    let Some(z) = load(sh, key, now)? else {
        return Ok(Output::Int(0));
    };
    let mut n = 0;
    visit_lex(sh, key, &z, range, false, |_, _| {
        n += 1;
        true
    })?;
    Ok(Output::Int(n))
}

pub fn op_range(sh: &Shard, key: &[u8], q: &RangeQuery, now: i64) -> OpResult<Output> {
    let Some(z) = load(sh, key, now)? else {
        return Ok(Output::Array(Vec::new()));
    };
    let entries = select(sh, key, &z, &q.spec, q.rev, q.limit)?;
    Ok(flat(entries, q.withscores))
}

/// Members (and score texts) of `entries`, flat, as the range replies are.
pub(super) fn flat(entries: Entries, withscores: bool) -> Output {
    let mut out = Vec::with_capacity(entries.len() * if withscores { 2 } else { 1 });
    for (s, m) in entries {
        out.push(Output::Bulk(Bytes::from(m)));
        if withscores {
            out.push(score_output(s));
        }
    }
    Output::Array(out)
}

/// ZRANK counts the members before it from the start; ZREVRANK the ones
/// after it from the end. Either walk is as long as the rank.
pub fn op_rank(sh: &Shard, key: &[u8], member: &[u8], rev: bool, now: i64) -> OpResult<Output> {
    let Some(z) = load(sh, key, now)? else {
        return Ok(Output::Nil);
    };
    let Some(score) = score_of(sh, key, &z, member)? else {
        return Ok(Output::Nil);
    };
    let target = index_field(score, member);
    let (from, to) = if rev {
        let mut after = target;
        after.push(0);
        (after, vec![INDEX + 1])
    } else {
        (vec![INDEX], target)
    };
    let mut n = 0;
    walk(sh, key, &z, &from, &to, false, |_, _| {
        n += 1;
        true
    })?;
    Ok(Output::Int(n))
}

/// The entries a range spec selects, in reply order, after LIMIT.
pub(super) fn select(
    sh: &Shard,
    key: &[u8],
    z: &ZSet,
    spec: &RangeSpec,
    rev: bool,
    limit: Option<(i64, i64)>,
) -> OpResult<Entries> {
    let mut out = Vec::new();
    let (mut skip, mut left) = match limit {
        None => (0, u64::MAX),
        Some((offset, _)) if offset < 0 => return Ok(out),
        Some((offset, count)) => (offset as u64, u64::try_from(count).unwrap_or(u64::MAX)),
    };
    if left == 0 {
        return Ok(out);
    }
    let mut take = |s: f64, m: &[u8]| {
        if skip > 0 {
            skip -= 1;
            return true;
        }
        out.push((s, m.to_vec()));
        left -= 1;
        left > 0
    };
    match spec {
        RangeSpec::Rank { start, stop } => return rank_entries(sh, key, z, *start, *stop, rev),
        RangeSpec::Score(r) => visit_score(sh, key, z, r, rev, &mut take)?,
        RangeSpec::Lex(r) => visit_lex(sh, key, z, r, rev, &mut take)?,
    }
    Ok(out)
}

/// Redis's rank clamping: negative ranks count from the end; None when
/// the range is empty.
pub(super) fn clamp_ranks(start: i64, stop: i64, len: u64) -> Option<(u64, u64)> {
    let len = len as i64;
    let start = if start < 0 { start + len } else { start }.max(0);
    let stop = if stop < 0 { stop + len } else { stop };
    if start > stop || start >= len {
        return None;
    }
    Some((start as u64, stop.min(len - 1) as u64))
}

/// Ranks `start..=stop` (in reply order), walked from the nearer end.
fn rank_entries(
    sh: &Shard,
    key: &[u8],
    z: &ZSet,
    start: i64,
    stop: i64,
    rev: bool,
) -> OpResult<Entries> {
    let Some((s, e)) = clamp_ranks(start, stop, z.size) else {
        return Ok(Vec::new());
    };
    let want = (e - s + 1) as usize;
    let from_far_end = z.size - 1 - e;
    let (dir, mut skip) = if s <= from_far_end {
        (rev, s)
    } else {
        (!rev, from_far_end)
    };
    let mut out = Vec::with_capacity(want.min(1 << 16));
    walk_all(sh, key, z, dir, |score, m| {
        if skip > 0 {
            skip -= 1;
            return true;
        }
        out.push((score, m.to_vec()));
        out.len() < want
    })?;
    if dir != rev {
        out.reverse();
    }
    Ok(out)
}

/// Visits the members whose score is in `r`: a seek to one end of the range.
pub(super) fn visit_score(
    sh: &Shard,
    key: &[u8],
    z: &ZSet,
    r: &ScoreRange,
    rev: bool,
    mut f: impl FnMut(f64, &[u8]) -> bool,
) -> OpResult<()> {
    if r.is_empty() {
        return Ok(());
    }
    let (from, to) = score_bounds(r);
    walk(sh, key, z, &from, &to, rev, |s, m| {
        !r.contains(s) || f(s, m)
    })
}

/// Visits the members in lex range `r` like Redis does: from one end, skip
/// members until one is inside, then take them until one is outside.
/// When every score is the same (the case Redis defines), the walk starts
/// with a seek to the range's first member.
pub(super) fn visit_lex(
    sh: &Shard,
    key: &[u8],
    z: &ZSet,
    r: &LexRange,
    rev: bool,
    mut f: impl FnMut(f64, &[u8]) -> bool,
) -> OpResult<()> {
    let (from, to) = match same_score(sh, key, z)? {
        Some(s) => lex_bounds(s, r),
        None => (vec![INDEX], vec![INDEX + 1]),
    };
    let (first_in, still_in): (LexTest, LexTest) = if rev {
        (LexRange::below_max, LexRange::above_min)
    } else {
        (LexRange::above_min, LexRange::below_max)
    };
    let mut started = false;
    walk(sh, key, z, &from, &to, rev, |s, m| {
        if !started {
            if !first_in(r, m) {
                return true;
            }
            started = true;
        }
        still_in(r, m) && f(s, m)
    })
}

/// One side of a lex range test.
type LexTest = fn(&LexRange, &[u8]) -> bool;

/// The score every member has, if they all have the same one.
fn same_score(sh: &Shard, key: &[u8], z: &ZSet) -> OpResult<Option<f64>> {
    let (mut first, mut last) = (None, None);
    walk_all(sh, key, z, false, |s, _| {
        first = Some(s);
        false
    })?;
    walk_all(sh, key, z, true, |s, _| {
        last = Some(s);
        false
    })?;
    Ok(match (first, last) {
        (Some(a), Some(b)) if a == b => Some(a),
        _ => None,
    })
}

/// Index bounds of lex range `r` among the members of score `s`.
fn lex_bounds(s: f64, r: &LexRange) -> (Vec<u8>, Vec<u8>) {
    let p = score_prefix(s);
    let end = prefix_end(&p);
    let at = |b: &[u8]| [p.as_slice(), b].concat();
    let from = match &r.min {
        LexBound::Min => p.clone(),
        LexBound::Max => end.clone(),
        LexBound::Inclusive(b) | LexBound::Exclusive(b) => at(b),
    };
    let to = match &r.max {
        LexBound::Max => end,
        LexBound::Min => p.clone(),
        LexBound::Inclusive(b) => [p.as_slice(), b, &[0]].concat(),
        LexBound::Exclusive(b) => at(b),
    };
    (from, to)
}

/// ZRANDMEMBER, with Redis's count rules: a positive count gives distinct
/// members (the whole zset, highest first as Redis lists it, when it asks
/// for at least that many), a negative one exactly |count| members that
/// may repeat.
pub fn op_randmember(
    sh: &mut Shard,
    key: &[u8],
    count: Option<i64>,
    withscores: bool,
    now: i64,
) -> OpResult<Output> {
    let Some(z) = load(sh, key, now)? else {
        return Ok(match count {
            None => Output::Nil,
            Some(_) => Output::Array(Vec::new()),
        });
    };
    let wanted = match count {
        None => 1,
        Some(c) => c.unsigned_abs(),
    };
    let whole = count.is_some_and(|c| c >= 0 && c as u64 >= z.size);
    if wanted > 0 && !whole && sample::descends(z.size, wanted) {
        let mut rng = Picker(sh.random_u64());
        let distinct = count.is_some_and(|c| c > 0);
        let picks = sample_members(sh, key, &z, wanted, distinct, withscores, &mut rng)?;
        if let Some(mut picked) = picks {
            if count.is_none() {
                return Ok(Output::bulk_or_nil(
                    picked.pop().map(|(_, m)| Bytes::from(m)),
                ));
            }
            return Ok(flat(picked, withscores));
        }
    }
    let mut all = Vec::with_capacity(z.size.min(1 << 16) as usize);
    walk_all(sh, key, &z, false, |s, m| {
        all.push((s, m.to_vec()));
        true
    })?;
    if all.is_empty() {
        return Ok(Output::Nil);
    }
    let n = all.len() as u64;
    let Some(count) = count else {
        let i = (sh.random_u64() % n) as usize;
        return Ok(Output::Bulk(Bytes::from(all.swap_remove(i).1)));
    };
    let chosen: Entries = if count < 0 {
        (0..count.unsigned_abs())
            .map(|_| all[(sh.random_u64() % n) as usize].clone())
            .collect()
    } else if count as u64 >= n {
        // Redis walks the zset from its end here.
        all.reverse();
        all
    } else {
        // Partial Fisher-Yates: the first `count` slots end up a uniform sample.
        let count = count as usize;
        for i in 0..count {
            let j = i + (sh.random_u64() % (n - i as u64)) as usize;
            all.swap(i, j);
        }
        all.truncate(count);
        all
    };
    Ok(flat(chosen, withscores))
}

/// `n` (score, member) pairs of a big zset picked by descending its member
/// fields instead of walking it (see [`sample`]); with `distinct`, in random
/// order, and None when the picks keep colliding (walk instead). Scores are
/// read only `with_scores` (0 otherwise): each is one more read.
fn sample_members(
    sh: &Shard,
    key: &[u8],
    z: &ZSet,
    n: u64,
    distinct: bool,
    with_scores: bool,
    rng: &mut Picker,
) -> OpResult<Option<Entries>> {
    let (from, to) = ([MEMBER], [INDEX]);
    let Some(fields) = sample::shuffled_picks(
        sample::Fields {
            from: &from,
            to: Some(&to),
            ..sample::Fields::all(sh, key, z.version)
        },
        n,
        distinct,
        rng,
    )?
    else {
        return Ok(None);
    };
    let mut out = Vec::with_capacity(fields.len());
    for f in fields {
        let member = &f[1..];
        if !with_scores {
            out.push((0.0, member.to_vec()));
            continue;
        }
        // Found in this same state a moment ago, so it has a score.
        if let Some(score) = score_of(sh, key, z, member)? {
            out.push((score, member.to_vec()));
        }
    }
    Ok(Some(out))
}

/// A zset or a set (members scored 1) read as an input of ZUNION and
/// friends; an absent key is an empty input.
pub(super) fn input_pairs(sh: &Shard, key: &[u8], now: i64) -> OpResult<Vec<(Bytes, f64)>> {
    let mut out = Vec::new();
    match input_kind(sh, key, now)? {
        None => {}
        Some((RedisType::ZSet, z)) => walk_all(sh, key, &z, false, |s, m| {
            out.push((Bytes::copy_from_slice(m), s));
            true
        })?,
        Some((_, set)) => sh.sub_scan(key, set.version, b"", None, false, |m, _| {
            out.push((Bytes::copy_from_slice(m), 1.0));
            true
        })?,
    }
    Ok(out)
}

/// The collection under `key` if it is a zset or a set; WRONGTYPE for
/// anything else.
fn input_kind(sh: &Shard, key: &[u8], now: i64) -> OpResult<Option<(RedisType, Coll)>> {
    match load(sh, key, now) {
        Ok(z) => Ok(z.map(|z| (RedisType::ZSet, z))),
        Err(OpError::WrongType) => {
            Ok(collection::load(sh, key, now, RedisType::Set)?.map(|s| (RedisType::Set, s)))
        }
        Err(e) => Err(e),
    }
}

pub fn op_members(sh: &Shard, key: &[u8], now: i64) -> OpResult<Output> {
    let mut out = Vec::new();
    for (m, s) in input_pairs(sh, key, now)? {
        out.push(Output::Bulk(m));
        out.push(score_output(s));
    }
    Ok(Output::Array(out))
}

pub fn op_any_nonempty(sh: &Shard, keys: &[Bytes], now: i64) -> OpResult<Output> {
    for k in keys {
        if let Ok(Some(_)) = load(sh, k, now) {
            return Ok(Output::Int(1));
        }
    }
    Ok(Output::Int(0))
}

pub fn op_check_inputs(sh: &Shard, keys: &[Bytes], now: i64) -> OpResult<Output> {
    for k in keys {
        input_kind(sh, k, now)?;
    }
    Ok(Output::Ok)
}

/// Every (score, member) of a zset, in order.
#[cfg(test)]
pub(super) fn all_entries(sh: &Shard, key: &[u8], now: i64) -> OpResult<Entries> {
    let Some(z) = load(sh, key, now)? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    walk_all(sh, key, &z, false, |s, m| {
        out.push((s, m.to_vec()));
        true
    })?;
    Ok(out)
}
