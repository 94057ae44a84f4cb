//! Sorted sets over versioned sub-keys.
//!
//! A zset is a metadata record (version, size) plus two sub-keys per
//! member under the same version, told apart by the field's first byte:
//! - `0x00 + member` -> the score (f64 bits, big-endian): ZSCORE, ZADD's
//!   existence check, ZREM.
//! - `0x01 + score (8 bytes, order-preserving) + member` -> empty: the
//!   score index. Fields sort bytewise, so this part of the version prefix
//!   is the zset in Redis order (score, then member): score ranges are
//!   seeks, rank ranges walk it from the nearer end, and lex ranges walk
//!   it too (Redis defines them only when every score is the same).
//!
//! Scores are never NaN, and -0.0 is stored as 0.0 so that equal scores
//! have equal bytes.

mod algebra;
mod bounds;
mod read;
mod write;

#[cfg(test)]
mod tests;

pub use algebra::combine;
pub use bounds::IndexBounds;

use crate::error::OpResult;
use crate::op::Output;
use crate::op::ZSetOp;
use crate::shard::Shard;
use crate::storage::keys::prefix_end;
use crate::storage::meta::RedisType;

use super::collection;
use super::collection::Coll;

/// First byte of a member's score field.
const MEMBER: u8 = 0;
/// First byte of a score-index field.
const INDEX: u8 = 1;

type ZSet = Coll;

/// Runs one zset op at time `now`.
pub fn execute(sh: &mut Shard, op: ZSetOp, now: i64) -> OpResult<Output> {
    match op {
        ZSetOp::Add { key, pairs, flags } => write::op_add(sh, &key, pairs, flags, now),
        ZSetOp::Rem { key, members } => write::op_rem(sh, &key, &members, now),
        ZSetOp::Score { key, member } => read::op_score(sh, &key, &member, now),
        ZSetOp::MScore { key, members } => read::op_mscore(sh, &key, &members, now),
        ZSetOp::Card(key) => read::op_card(sh, &key, now),
        ZSetOp::Count { key, range } => read::op_count(sh, &key, &range, now),
        ZSetOp::LexCount { key, range } => read::op_lexcount(sh, &key, &range, now),
        ZSetOp::Range { key, query } => read::op_range(sh, &key, &query, now),
        ZSetOp::RangeStore { dst, src, query } => write::op_rangestore(sh, &dst, &src, &query, now),
        ZSetOp::Rank { key, member, rev } => read::op_rank(sh, &key, &member, rev, now),
        ZSetOp::Pop { key, max, count } => write::op_pop(sh, &key, max, count, now),
        ZSetOp::MPop {
            keys,
            max,
            count,
            skip_wrong_type,
        } => write::op_mpop(sh, &keys, max, count, skip_wrong_type, now),
        ZSetOp::AnyNonEmpty(keys) => read::op_any_nonempty(sh, &keys, now),
        ZSetOp::RemRange { key, spec } => write::op_remrange(sh, &key, &spec, now),
        ZSetOp::RandMember {
            key,
            count,
            withscores,
        } => read::op_randmember(sh, &key, count, withscores, now),
        ZSetOp::Combine {
            dst,
            algebra,
            keys,
            weights,
            aggregate,
        } => write::op_combine(sh, dst.as_deref(), algebra, &keys, &weights, aggregate, now),
        ZSetOp::Members(key) => read::op_members(sh, &key, now),
        ZSetOp::CheckInputs(keys) => read::op_check_inputs(sh, &keys, now),
        ZSetOp::Store { key, pairs } => write::op_store(sh, &key, pairs, now),
    }
}

/// Formats a score as Redis 7.0 replies it (`%.17g`, `inf`, `-inf`):
/// 17 significant digits, so the text reads back to the same double.
pub fn format_score(v: f64) -> String {
    if v.is_infinite() {
        return if v > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    if v == 0.0 {
        return if v.is_sign_negative() { "-0" } else { "0" }.to_string();
    }
    // Integral scores below 1e17 print as plain integers under `%.17g`
    // (exactly: every such double is an integer an i64 holds). They are
    // most scores in practice, and the general path below (two exact
    // formattings, through bignum arithmetic for 17 digits) was half of
    // the shard's CPU under ZRANGE ... WITHSCORES of 100 members.
    if v.fract() == 0.0 && v.abs() < 1e17 {
        return (v as i64).to_string();
    }
    format_score_general(v)
}

/// [`format_score`] for any finite, nonzero score.
fn format_score_general(v: f64) -> String {
    // `%g` picks its style from the exponent after rounding to 17 digits.
    let sci = format!("{v:.16e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..17).contains(&exp) {
        let mantissa = trim_fraction(mantissa);
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{mantissa}e{sign}{:02}", exp.unsigned_abs());
    }
    let decimals = (16 - exp) as usize;
    trim_fraction(&format!("{v:.decimals$}")).to_string()
}

/// Drops trailing zeros of a fraction, and the point if nothing is left.
fn trim_fraction(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// The reply text of a score.
fn score_output(v: f64) -> Output {
    Output::Bulk(format_score(v).into())
}

/// -0.0 becomes 0.0, so equal scores have equal bytes.
fn normalize(v: f64) -> f64 {
    if v == 0.0 { 0.0 } else { v }
}

/// Order-preserving bytes of a score: positive doubles get the sign bit
/// flipped, negative ones all bits inverted, so they sort bytewise.
fn encode_score(v: f64) -> [u8; 8] {
    let bits = normalize(v).to_bits();
    let ordered = if bits >> 63 == 0 {
        bits ^ (1 << 63)
    } else {
        !bits
    };
    ordered.to_be_bytes()
}

fn decode_score(b: [u8; 8]) -> f64 {
    let ordered = u64::from_be_bytes(b);
    let bits = if ordered >> 63 == 1 {
        ordered ^ (1 << 63)
    } else {
        !ordered
    };
    f64::from_bits(bits)
}

fn member_field(member: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(1 + member.len());
    f.push(MEMBER);
    f.extend_from_slice(member);
    f
}

/// The index prefix of every member with score `v`.
fn score_prefix(v: f64) -> Vec<u8> {
    let mut f = Vec::with_capacity(9);
    f.push(INDEX);
    f.extend_from_slice(&encode_score(v));
    f
}

fn index_field(v: f64, member: &[u8]) -> Vec<u8> {
    let mut f = score_prefix(v);
    f.extend_from_slice(member);
    f
}

/// (score, member) of an index field.
fn parse_index(field: &[u8]) -> Option<(f64, &[u8])> {
    if field.len() < 9 || field[0] != INDEX {
        return None;
    }
    let score = decode_score(field[1..9].try_into().ok()?);
    Some((score, &field[9..]))
}

fn load(sh: &Shard, key: &[u8], now: i64) -> OpResult<Option<ZSet>> {
    collection::load(sh, key, now, RedisType::ZSet)
}

fn load_or_new(sh: &mut Shard, key: &[u8], now: i64) -> OpResult<ZSet> {
    collection::load_or_new(sh, key, now, RedisType::ZSet)
}

fn store(sh: &mut Shard, key: &[u8], z: &ZSet) {
    collection::store(sh, key, RedisType::ZSet, z)
}

/// The score of `member`, if it is in the zset.
fn score_of(sh: &Shard, key: &[u8], z: &ZSet, member: &[u8]) -> OpResult<Option<f64>> {
    let raw = sh.sub_get(key, z.version, &member_field(member))?;
    Ok(raw.and_then(|v| {
        let b: [u8; 8] = v.as_ref().try_into().ok()?;
        Some(f64::from_bits(u64::from_be_bytes(b)))
    }))
}

/// Writes both sub-keys of `member` with `score` (no size change).
fn put_member(sh: &mut Shard, key: &[u8], z: &ZSet, member: &[u8], score: f64) {
    let score = normalize(score);
    sh.sub_put_member(
        key,
        z.version,
        &member_field(member),
        score.to_bits().to_be_bytes().to_vec(),
    );
    let index = index_field(score, member);
    sh.zset_bounds_mut().added(key, z.version, &index);
    sh.sub_put_scanned(key, z.version, &index, Vec::new());
}

/// Removes both sub-keys of `member`, whose score is `score`.
fn delete_member(sh: &mut Shard, key: &[u8], z: &mut ZSet, member: &[u8], score: f64) {
    sh.sub_delete(key, z.version, &member_field(member));
    sh.sub_delete(key, z.version, &index_field(score, member));
    z.size -= 1;
}

/// Walks the score index in `[from, to)` forwards or backwards; `f(score,
/// member)` returns false to stop.
fn walk(
    sh: &Shard,
    key: &[u8],
    z: &ZSet,
    from: &[u8],
    to: &[u8],
    rev: bool,
    mut f: impl FnMut(f64, &[u8]) -> bool,
) -> OpResult<()> {
    let (from, to) = sh.zset_bounds().narrow(key, z.version, from, to);
    if from >= to {
        return Ok(());
    }
    sh.sub_scan(
        key,
        z.version,
        from,
        Some(to),
        rev,
        |field, _| match parse_index(field) {
            Some((s, m)) => f(s, m),
            None => true,
        },
    )
}

/// Walks the whole index.
fn walk_all(
    sh: &Shard,
    key: &[u8],
    z: &ZSet,
    rev: bool,
    f: impl FnMut(f64, &[u8]) -> bool,
) -> OpResult<()> {
    walk(sh, key, z, &[INDEX], &[INDEX + 1], rev, f)
}

/// Index bounds `[from, to)` holding exactly the scores of `r`.
fn score_bounds(r: &crate::op::zset::ScoreRange) -> (Vec<u8>, Vec<u8>) {
    let min = score_prefix(r.min.value);
    let max = score_prefix(r.max.value);
    let from = if r.min.exclusive {
        prefix_end(&min)
    } else {
        min
    };
    let to = if r.max.exclusive {
        max
    } else {
        prefix_end(&max)
    };
    (from, to)
}
