//! Operations a shard executes on its own keys, and what they return.
//!
//! An `Op` is typed and deterministic: relative times (EX, PX, EXPIRE ...)
//! are resolved to absolute unix milliseconds by the coordinator before the
//! op is sent, so the same op gives the same result wherever it is applied.
//! That is what lets the Raft layer replicate ops instead of RESP.

pub mod list;
pub mod packed;
pub mod set;
pub mod zset;

use bytes::Bytes;
use serde::Deserialize;
use serde::Serialize;

pub use list::ListOp;
pub use packed::Packed;
pub use set::SetOp;
pub use zset::ZSetOp;

/// Expiry to apply when writing a string.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum SetExpiry {
    /// Remove any expiry (plain SET).
    Clear,
    /// Keep the current expiry (KEEPTTL).
    Keep,
    /// Expire at this absolute unix time in ms.
    At(i64),
}

/// Existence condition of SET.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum SetCond {
    Always,
    /// Only when the key does not exist (NX).
    IfAbsent,
    /// Only when the key exists (XX).
    IfPresent,
}

/// Condition flags of EXPIRE and friends (Redis 7).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum ExpireCond {
    Always,
    /// NX: only when the key has no expiry.
    Nx,
    /// XX: only when the key has an expiry.
    Xx,
    /// GT: only when the new expiry is greater than the current one.
    Gt,
    /// LT: only when the new expiry is less than the current one.
    Lt,
    /// XX and LT together: the key has an expiry and the new one is less.
    XxLt,
}

/// What GETEX does to the expiry.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum GetExExpiry {
    Unchanged,
    Persist,
    At(i64),
}

/// Which parts of a hash HGETALL-like commands return.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum HashPart {
    /// Field, value, field, value ... (HGETALL).
    Both,
    Fields,
    Values,
}

/// One operation on one shard's keys.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Op {
    Get(Bytes),
    Set {
        key: Bytes,
        value: Bytes,
        expiry: SetExpiry,
        cond: SetCond,
        get: bool,
    },
    GetDel(Bytes),
    GetEx {
        key: Bytes,
        expiry: GetExExpiry,
    },
    Append {
        key: Bytes,
        value: Bytes,
    },
    StrLen(Bytes),
    GetRange {
        key: Bytes,
        start: i64,
        end: i64,
    },
    SetRange {
        key: Bytes,
        offset: usize,
        value: Bytes,
    },
    IncrBy {
        key: Bytes,
        delta: i64,
    },
    IncrByFloat {
        key: Bytes,
        delta: f64,
    },
    /// Values of these keys, Nil where absent or not a string.
    MGet(Vec<Bytes>),
    MSet(Vec<(Bytes, Bytes)>),
    /// Sets all pairs only if none of the keys exists (atomic on one shard).
    MSetNx(Vec<(Bytes, Bytes)>),
    /// Number of the keys that exist (duplicates count twice, like Redis).
    Exists(Vec<Bytes>),
    Del(Vec<Bytes>),
    Touch(Vec<Bytes>),
    Type(Bytes),
    Expire {
        key: Bytes,
        at_ms: i64,
        cond: ExpireCond,
    },
    /// Remaining time to live in ms, -1 without expiry, -2 without key.
    Pttl(Bytes),
    /// Absolute expiry in ms, -1 without expiry, -2 without key.
    PexpireTime(Bytes),
    Persist(Bytes),
    Keys(Bytes),
    Scan {
        cursor: u64,
        pattern: Option<Bytes>,
        count: usize,
        type_name: Option<Bytes>,
    },
    RandomKey,
    DbSize,
    FlushDb,
    /// The encoded record of a live key, Nil when absent (cross-shard RENAME).
    Dump(Bytes),
    /// Deletes `key` only if its record is still the dumped one: the last
    /// step of a cross-shard RENAME, so a key rewritten meanwhile survives.
    DeleteIfSame {
        key: Bytes,
        record: Bytes,
    },
    /// Writes an encoded record from `Dump`; with `nx`, only if absent.
    Restore {
        key: Bytes,
        record: Bytes,
        nx: bool,
    },
    /// HSET/HMSET (`nx`: HSETNX, only fields that do not exist).
    HSet {
        key: Bytes,
        pairs: Vec<(Bytes, Bytes)>,
        nx: bool,
    },
    HGet {
        key: Bytes,
        field: Bytes,
    },
    HMGet {
        key: Bytes,
        fields: Vec<Bytes>,
    },
    HDel {
        key: Bytes,
        fields: Vec<Bytes>,
    },
    HLen(Bytes),
    HExists {
        key: Bytes,
        field: Bytes,
    },
    /// HGETALL / HKEYS / HVALS.
    HGetAll {
        key: Bytes,
        what: HashPart,
    },
    HIncrBy {
        key: Bytes,
        field: Bytes,
        delta: i64,
    },
    HIncrByFloat {
        key: Bytes,
        field: Bytes,
        delta: f64,
    },
    HStrLen {
        key: Bytes,
        field: Bytes,
    },
    /// HRANDFIELD: `count` None picks one field; a positive count picks
    /// distinct fields, a negative one |count| that may repeat.
    HRandField {
        key: Bytes,
        count: Option<i64>,
        with_values: bool,
    },
    /// Active expiry, decided by the leader: removes each (expire-at, key)
    /// whose record still carries that expiry and is expired at the
    /// entry's time; drops stale expiry-index entries.
    ExpireDue(Vec<(i64, Bytes)>),
    /// RENAME / RENAMENX with both keys on this shard.
    Rename {
        src: Bytes,
        dst: Bytes,
        nx: bool,
    },
    /// List commands (`op/list.rs`).
    Lists(ListOp),
    /// Set commands (`op/set.rs`).
    Sets(SetOp),
    /// Sorted-set commands (`op/zset.rs`).
    ZSets(ZSetOp),
    /// WATCH: registers the keys on their shard; answers an array of
    /// `[epoch, expired]` pairs, one per key.
    Watch(Vec<Bytes>),
    /// UNWATCH (also EXEC, DISCARD and disconnect): drops registrations.
    Unwatch(Vec<Bytes>),
    /// Int 1 when any of these watched keys was modified (EXEC checks the
    /// keys on shards other than the transaction's own first).
    WatchTouched(Vec<crate::watch::Watched>),
    /// A transaction (MULTI/EXEC) on one shard: the ops run in order as one
    /// unit, one Raft entry; answers [`Output::Multi`]. The WATCH check is
    /// done by the core before this is proposed, never in the log.
    Multi(Vec<Op>),
    /// EXEC with WATCHed keys on this shard: handled by the shard's core
    /// (`Core::exec`), which checks the keys and proposes `Multi(ops)`.
    /// Never replicated; the shard itself refuses it.
    Exec {
        watched: Vec<crate::watch::Watched>,
        ops: Vec<Op>,
    },
    /// COPY within one shard: Int 1 when copied, 0 when the source is
    /// missing or the destination exists without `replace`.
    Copy {
        src: Bytes,
        dst: Bytes,
        replace: bool,
    },
    /// SETBIT: answers the previous bit.
    SetBit {
        key: Bytes,
        offset: u64,
        on: bool,
    },
    GetBit {
        key: Bytes,
        offset: u64,
    },
    /// BITCOUNT over `[start, end]` (bits when the flag is set) or all.
    BitCount {
        key: Bytes,
        span: Option<(i64, i64, bool)>,
    },
    /// A blocked client (BLPOP ...) waiting on this shard's core: `attempts`
    /// holds, per key in command order, the op that serves it from that
    /// key (Nil when the key has nothing). Answers the first non-Nil
    /// result, or Nil after `timeout_ms` (None: forever). With `first`,
    /// the command's first try runs here too, after the client got in
    /// line (see [`FirstTry`]). Handled by the core (`Core::block`); never
    /// replicated.
    Block {
        id: u64,
        attempts: Vec<(Bytes, Op)>,
        timeout_ms: Option<u64>,
        first: Option<Box<FirstTry>>,
        /// The command finishes on the client's core after this op (a move
        /// across shards pushes the element there): an attempt that serves
        /// the client stays counted as a running try until that core calls
        /// `Router::end_try`, so a script cannot start between the pop
        /// here and the push there.
        finishes_elsewhere: bool,
    },
    /// The blocked client `id` is gone: stop waiting.
    Unblock(u64),
    /// OBJECT ENCODING: the Redis encoding name a key would have.
    Encoding(Bytes),
    /// RESTORE of a DUMP payload (its checksum already verified): writes
    /// `dumped` as `key` with `expire_at` (None: no expiry). Without
    /// `replace` an existing key is BUSYKEY; an `expire_at` already past
    /// only deletes `key` (with `replace`), as Redis does.
    RestoreDump {
        key: Bytes,
        dumped: Bytes,
        replace: bool,
        expire_at: Option<i64>,
    },
    /// SORT's input: `[type, [elements]]` of a list, set or zset.
    SortSource(Bytes),
    /// SORT's BY/GET lookups: per (key, hash field), the value or Nil.
    Lookup(Vec<(Bytes, Option<Bytes>)>),
}

impl Op {
    /// True when the op reads data that a read check (`--read-consistency`)
    /// must confirm first: any op that does not write, except a blocked
    /// client's wait in line and its end. Those must reach the line in the
    /// order they arrived, and a read check may end out of order; what
    /// they pop goes through Raft anyway.
    pub fn needs_read_check(&self) -> bool {
        !self.is_write() && !matches!(self, Op::Block { .. } | Op::Unblock(_))
    }

    /// True when the op may change data (it then waits on the durability policy).
    pub fn is_write(&self) -> bool {
        match self {
            Op::Multi(ops) => return ops.iter().any(Op::is_write),
            Op::Lists(op) => return op.is_write(),
            Op::Sets(op) => return op.is_write(),
            Op::ZSets(op) => return op.is_write(),
            _ => {}
        }
        !matches!(
            self,
            Op::Get(_)
                | Op::StrLen(_)
                | Op::GetRange { .. }
                | Op::MGet(_)
                | Op::Exists(_)
                | Op::Touch(_)
                | Op::Type(_)
                | Op::Pttl(_)
                | Op::PexpireTime(_)
                | Op::Keys(_)
                | Op::Scan { .. }
                | Op::RandomKey
                | Op::DbSize
                | Op::Dump(_)
                | Op::HGet { .. }
                | Op::HMGet { .. }
                | Op::HLen(_)
                | Op::HExists { .. }
                | Op::HGetAll { .. }
                | Op::HStrLen { .. }
                | Op::HRandField { .. }
                | Op::Watch(_)
                | Op::Unwatch(_)
                | Op::WatchTouched(_)
                | Op::Encoding(_)
                | Op::SortSource(_)
                | Op::Lookup(_)
                | Op::Exec { .. }
                | Op::Block { .. }
                | Op::Unblock(_)
                | Op::GetBit { .. }
                | Op::BitCount { .. }
        )
    }
}

/// A blocking command's first try, run by the shard once the client is
/// in line, so that a client that sent its command later cannot get in
/// line ahead of it while the first try is on its way. A first try answers
/// WRONGTYPE for a key of another type, as Redis's command does before it
/// blocks; a retry of a pop skips such a key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FirstTry {
    /// The command's own op over every key, used when nobody else waits
    /// on any of them.
    pub all: Op,
    /// Per key, in the order of `Op::Block`'s attempts: the op that tries
    /// that key alone, used when this client heads its line, and a
    /// read-only op that fails on a key of another type (LLEN, ZCARD),
    /// used when others wait on it (the key is theirs: it is empty, or
    /// holds what a push left for the head of its line).
    pub keys: Vec<(Op, Op)>,
}

/// The value an op produced. Plain data: the net crate decides how it looks on the wire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Output {
    Ok,
    Nil,
    Int(i64),
    Bulk(Bytes),
    /// A status word, such as the TYPE name.
    Status(std::borrow::Cow<'static, str>),
    Array(Vec<Output>),
    /// An array of bulk strings in one buffer (range reads: LRANGE).
    Packed(Packed),
    /// SCAN: next cursor (0 when done) and the keys of this step.
    Scan {
        cursor: u64,
        keys: Vec<Bytes>,
    },
    /// The results of a transaction's ops, in order; an error of one op
    /// does not stop the others (Redis EXEC semantics).
    Multi(Vec<Result<Output, crate::error::OpError>>),
}

impl Output {
    pub fn bulk_or_nil(v: Option<Bytes>) -> Self {
        v.map_or(Output::Nil, Output::Bulk)
    }

    /// A [`Output::Packed`] as the array of bulks it stands for, for
    /// callers that take elements apart (SORT); anything else as is.
    pub fn unpacked(self) -> Self {
        match self {
            Output::Packed(p) => Output::Array(
                p.iter()
                    .map(|s| Output::Bulk(Bytes::copy_from_slice(s)))
                    .collect(),
            ),
            o => o,
        }
    }
}
