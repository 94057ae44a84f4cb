//! Operations on sorted sets. Plain, deterministic data: anything random or
//! relative to now is resolved by the coordinator before the op is built.
//!
//! Scores travel as `f64` (never NaN; the net layer refuses it) and come
//! back as text in Redis's `%.17g` form, which reads back to the same
//! double, so results of several shards can be combined exactly.

use bytes::Bytes;
use serde::Deserialize;
use serde::Serialize;

/// ZADD's options (ZINCRBY is ZADD with `incr`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct AddFlags {
    /// Only add new members.
    pub nx: bool,
    /// Only update existing members.
    pub xx: bool,
    /// Only update when the new score is greater.
    pub gt: bool,
    /// Only update when the new score is less.
    pub lt: bool,
    /// Count changed members, not only added ones.
    pub ch: bool,
    /// Add the score to the current one and answer the result.
    pub incr: bool,
}

/// One end of a score range; `exclusive` is Redis's `(` prefix.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ScoreBound {
    pub value: f64,
    pub exclusive: bool,
}

/// Scores between `min` and `max`, as ZRANGEBYSCORE takes them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ScoreRange {
    pub min: ScoreBound,
    pub max: ScoreBound,
}

impl ScoreRange {
    pub fn above_min(&self, s: f64) -> bool {
        if self.min.exclusive {
            s > self.min.value
        } else {
            s >= self.min.value
        }
    }

    pub fn below_max(&self, s: f64) -> bool {
        if self.max.exclusive {
            s < self.max.value
        } else {
            s <= self.max.value
        }
    }

    pub fn contains(&self, s: f64) -> bool {
        self.above_min(s) && self.below_max(s)
    }

    /// True when no score can be in the range (Redis `zslIsInRange`).
    pub fn is_empty(&self) -> bool {
        self.min.value > self.max.value
            || (self.min.value == self.max.value && (self.min.exclusive || self.max.exclusive))
    }
}

/// One end of a lexicographic range: `-`, `+`, `[member` or `(member`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum LexBound {
    /// `-`: before every member.
    Min,
    /// `+`: after every member.
    Max,
    Inclusive(Bytes),
    Exclusive(Bytes),
}

/// Members between `min` and `max` in byte order, as ZRANGEBYLEX takes them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LexRange {
    pub min: LexBound,
    pub max: LexBound,
}

impl LexRange {
    pub fn above_min(&self, m: &[u8]) -> bool {
        match &self.min {
            LexBound::Min => true,
            LexBound::Max => false,
            LexBound::Inclusive(b) => m >= b.as_ref(),
            LexBound::Exclusive(b) => m > b.as_ref(),
        }
    }

    pub fn below_max(&self, m: &[u8]) -> bool {
        match &self.max {
            LexBound::Min => false,
            LexBound::Max => true,
            LexBound::Inclusive(b) => m <= b.as_ref(),
            LexBound::Exclusive(b) => m < b.as_ref(),
        }
    }
}

/// Which members a range command selects.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum RangeSpec {
    /// Ranks `start..=stop`, negative from the end (ZRANGE's default).
    Rank {
        start: i64,
        stop: i64,
    },
    Score(ScoreRange),
    Lex(LexRange),
}

/// A whole ZRANGE-family query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RangeQuery {
    pub spec: RangeSpec,
    /// Highest score (or last member) first.
    pub rev: bool,
    /// LIMIT offset count (score and lex ranges only); a negative count
    /// means no limit and a negative offset an empty answer, as in Redis.
    pub limit: Option<(i64, i64)>,
    pub withscores: bool,
}

/// How ZUNION/ZINTER merge the scores of a member found in several inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Aggregate {
    Sum,
    Min,
    Max,
}

/// The set operation of ZUNION, ZINTER and ZDIFF (and their STORE forms).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SetAlgebra {
    Union,
    Inter,
    Diff,
}

/// One zset operation on one key (or on keys of one shard).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ZSetOp {
    /// ZADD and ZINCRBY: (score, member) pairs.
    Add {
        key: Bytes,
        pairs: Vec<(f64, Bytes)>,
        flags: AddFlags,
    },
    Rem {
        key: Bytes,
        members: Vec<Bytes>,
    },
    Score {
        key: Bytes,
        member: Bytes,
    },
    MScore {
        key: Bytes,
        members: Vec<Bytes>,
    },
    Card(Bytes),
    Count {
        key: Bytes,
        range: ScoreRange,
    },
    LexCount {
        key: Bytes,
        range: LexRange,
    },
    /// ZRANGE and its older forms: members (and scores when asked), flat.
    Range {
        key: Bytes,
        query: RangeQuery,
    },
    /// ZRANGESTORE with both keys on this shard.
    RangeStore {
        dst: Bytes,
        src: Bytes,
        query: RangeQuery,
    },
    /// ZRANK / ZREVRANK.
    Rank {
        key: Bytes,
        member: Bytes,
        rev: bool,
    },
    /// ZPOPMIN / ZPOPMAX (`max`): up to `count` (member, score) pairs.
    Pop {
        key: Bytes,
        max: bool,
        count: u64,
    },
    /// ZMPOP (and a blocked BZPOP*'s attempt) over keys of this shard:
    /// pops from the first key that has members; answers [key, [member,
    /// score, ...]] or Nil. A key of another type before it is WRONGTYPE,
    /// or passed over with `skip_wrong_type` (a woken blocked client).
    MPop {
        keys: Vec<Bytes>,
        max: bool,
        count: u64,
        skip_wrong_type: bool,
    },
    /// Int 1 when one of the keys holds a zset (read-only: what a blocked
    /// BZPOP* polls).
    AnyNonEmpty(Vec<Bytes>),
    /// ZREMRANGEBYRANK / BYSCORE / BYLEX.
    RemRange {
        key: Bytes,
        spec: RangeSpec,
    },
    /// ZRANDMEMBER (read-only, so it may use the shard's rng). `count`
    /// None: one member or Nil; negative: |count| members with repeats.
    RandMember {
        key: Bytes,
        count: Option<i64>,
        withscores: bool,
    },
    /// ZUNION/ZINTER/ZDIFF[STORE] with every key on this shard. With a
    /// `dst` the result replaces it (answer: its size); without, the
    /// result's (member, score) pairs in order.
    Combine {
        dst: Option<Bytes>,
        algebra: SetAlgebra,
        keys: Vec<Bytes>,
        weights: Vec<f64>,
        aggregate: Aggregate,
    },
    /// Every (member, score) of a zset, or of a set with score 1: one
    /// input of a cross-shard ZUNION and friends.
    Members(Bytes),
    /// Ok when every key is a zset, a set or absent, else WRONGTYPE.
    CheckInputs(Vec<Bytes>),
    /// Replaces `key` with a zset of these pairs (deleted when empty), the
    /// last step of a cross-shard STORE command.
    Store {
        key: Bytes,
        pairs: Vec<(Bytes, f64)>,
    },
}

impl ZSetOp {
    /// True when the op may change data.
    pub fn is_write(&self) -> bool {
        match self {
            ZSetOp::Add { .. }
            | ZSetOp::Rem { .. }
            | ZSetOp::RangeStore { .. }
            | ZSetOp::Pop { .. }
            | ZSetOp::MPop { .. }
            | ZSetOp::RemRange { .. }
            | ZSetOp::Store { .. } => true,
            ZSetOp::Combine { dst, .. } => dst.is_some(),
            ZSetOp::Score { .. }
            | ZSetOp::MScore { .. }
            | ZSetOp::Card(_)
            | ZSetOp::Count { .. }
            | ZSetOp::LexCount { .. }
            | ZSetOp::Range { .. }
            | ZSetOp::Rank { .. }
            | ZSetOp::RandMember { .. }
            | ZSetOp::Members(_)
            | ZSetOp::CheckInputs(_)
            | ZSetOp::AnyNonEmpty(_) => false,
        }
    }
}
