//! Operations on lists. Plain, deterministic data: anything random or
//! relative to now is resolved by the coordinator before the op is built.

use bytes::Bytes;
use serde::Deserialize;
use serde::Serialize;

/// One list operation on one key (or on keys of one shard).
///
/// `left` picks the head of a list (LPUSH, LPOP, LEFT), else the tail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ListOp {
    /// LPUSH/RPUSH; with `only_existing`, LPUSHX/RPUSHX. Answers the new length.
    Push {
        key: Bytes,
        elements: Vec<Bytes>,
        left: bool,
        only_existing: bool,
    },
    /// LPOP/RPOP. `count` None: one element as a bulk (Nil when absent);
    /// Some: an array of up to `count` elements (Nil when absent).
    Pop {
        key: Bytes,
        left: bool,
        count: Option<u64>,
    },
    /// One attempt of BLPOP/BRPOP/LMPOP/BLMPOP on the keys of one shard:
    /// pops from the first key holding a list. Answers `[key, element]`
    /// (`count` None) or `[key, [elements]]`, Nil when every key is empty.
    /// A key of another type before it is WRONGTYPE, unless
    /// `skip_wrong_type` (a blocked client is only served by lists).
    PopFirst {
        keys: Vec<Bytes>,
        left: bool,
        count: Option<u64>,
        skip_wrong_type: bool,
    },
    /// Read-only poll of a blocked client: 1 when one of `keys` holds a
    /// list, else 0 (keys of other types count as empty).
    AnyNonEmpty(Vec<Bytes>),
    Len(Bytes),
    /// LRANGE with Redis's index rules (negative counts from the end).
    Range {
        key: Bytes,
        start: i64,
        stop: i64,
    },
    /// LINDEX. `index` None: the argument was not an integer, which Redis
    /// reports only after the key and type checks.
    Index {
        key: Bytes,
        index: Option<i64>,
    },
    /// LSET; `index` None as for [`ListOp::Index`].
    Set {
        key: Bytes,
        index: Option<i64>,
        element: Bytes,
    },
    /// LINSERT BEFORE (`before`) or AFTER the first `pivot`.
    Insert {
        key: Bytes,
        before: bool,
        pivot: Bytes,
        element: Bytes,
    },
    /// LREM: `count` > 0 from the head, < 0 from the tail, 0 all.
    Rem {
        key: Bytes,
        count: i64,
        element: Bytes,
    },
    Trim {
        key: Bytes,
        start: i64,
        stop: i64,
    },
    /// LPOS. `rank` is never 0 (checked by the coordinator); `count` None
    /// answers one index, Some (0: all matches) an array; `maxlen` 0 scans all.
    Pos {
        key: Bytes,
        element: Bytes,
        rank: i64,
        count: Option<u64>,
        maxlen: u64,
    },
    /// LMOVE/RPOPLPUSH with both keys on this shard, atomically.
    Move {
        src: Bytes,
        dst: Bytes,
        from_left: bool,
        to_left: bool,
    },
    /// A blocked BLMOVE/BRPOPLPUSH served within one shard: [`ListOp::Move`],
    /// except that a source of another type reads as empty, so the client
    /// keeps waiting (Redis serves blocked clients from lists only). A
    /// destination of another type is still WRONGTYPE, before any pop.
    /// (Last, so the variants before it keep their encoding in the log.)
    ServeMove {
        src: Bytes,
        dst: Bytes,
        from_left: bool,
        to_left: bool,
    },
}

impl ListOp {
    /// True when the op may change data.
    pub fn is_write(&self) -> bool {
        !matches!(
            self,
            ListOp::AnyNonEmpty(_)
                | ListOp::Len(_)
                | ListOp::Range { .. }
                | ListOp::Index { .. }
                | ListOp::Pos { .. }
        )
    }
}
