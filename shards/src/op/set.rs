//! Operations on sets. Plain, deterministic data: anything random or
//! relative to now is resolved by the coordinator before the op is built.

use bytes::Bytes;
use serde::Deserialize;
use serde::Serialize;

/// Which combination of sets SINTER, SUNION and SDIFF compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SetAlgebra {
    Inter,
    Union,
    /// The first set minus all the others.
    Diff,
}

/// One set operation on one key (or on keys of one shard).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum SetOp {
    /// SADD: how many members were new.
    Add {
        key: Bytes,
        members: Vec<Bytes>,
    },
    /// SREM: how many members were removed.
    Rem {
        key: Bytes,
        members: Vec<Bytes>,
    },
    /// SMEMBERS, in member order; also the read step of cross-shard commands.
    Members(Bytes),
    IsMember {
        key: Bytes,
        member: Bytes,
    },
    MIsMember {
        key: Bytes,
        members: Vec<Bytes>,
    },
    Card(Bytes),
    /// SPOP. The members removed are chosen from `seed`, which the
    /// coordinator draws, so every replica removes the same ones.
    Pop {
        key: Bytes,
        count: Option<u64>,
        seed: u64,
    },
    /// SRANDMEMBER (read-only, so the shard draws its own randomness). A
    /// negative count allows repeats; the coordinator bounds |count|.
    RandMember {
        key: Bytes,
        count: Option<i64>,
    },
    /// SMOVE with both keys on this shard.
    Move {
        src: Bytes,
        dst: Bytes,
        member: Bytes,
    },
    /// SINTER / SUNION / SDIFF of keys on this shard; with `store`, the
    /// *STORE variant writing the result there (destination on this shard).
    Combine {
        kind: SetAlgebra,
        keys: Vec<Bytes>,
        store: Option<Bytes>,
    },
    /// SINTERCARD with every key on this shard; `limit` 0 is unlimited.
    InterCard {
        keys: Vec<Bytes>,
        limit: u64,
    },
    /// Replaces whatever `key` holds with a set of these members (deleted
    /// when empty): the write step of a cross-shard *STORE.
    Replace {
        key: Bytes,
        members: Vec<Bytes>,
    },
}

impl SetOp {
    /// True when the op may change data.
    pub fn is_write(&self) -> bool {
        match self {
            SetOp::Add { .. }
            | SetOp::Rem { .. }
            | SetOp::Pop { .. }
            | SetOp::Move { .. }
            | SetOp::Replace { .. } => true,
            SetOp::Combine { store, .. } => store.is_some(),
            SetOp::Members(_)
            | SetOp::IsMember { .. }
            | SetOp::MIsMember { .. }
            | SetOp::Card(_)
            | SetOp::RandMember { .. }
            | SetOp::InterCard { .. } => false,
        }
    }
}
