//! Raft for shards: every shard is its own openraft group (issue 4).
//!
//! The replicated payload is a [`WriteRequest`]: typed, deterministic ops
//! plus the leader's clock, so every replica computes the same result.
//! Storage: [`log_store`] over the shard's Raft column family and
//! [`state_machine`] over its data column family, both in the shard's own
//! RocksDB (its own WAL); [`runtime`] runs openraft on the shard's glommio executor.

pub mod log_store;
pub mod node;
pub mod runtime;
pub mod snapshot;
pub mod state_machine;

use std::fmt;

use serde::Deserialize;
use serde::Serialize;

use crate::error::OpResult;
use crate::op::Op;
use crate::op::Output;

/// One Raft entry's application data: ops applied in order as one atomic
/// step, with the leader's time so expiry decisions replay identically.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WriteRequest {
    pub now_ms: i64,
    pub ops: Vec<Op>,
}

impl fmt::Display for WriteRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WriteRequest({} ops @ {})", self.ops.len(), self.now_ms)
    }
}

/// The results of a [`WriteRequest`]'s ops, in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WriteResponse(pub Vec<OpResult<Output>>);

openraft::declare_raft_types!(
    /// Type configuration of every shard's Raft group.
    pub TypeConfig:
        D = WriteRequest,
        R = WriteResponse,
        AsyncRuntime = runtime::GlommioRuntime,
);

/// openraft's names for our types.
pub type LogId = openraft::LogId<openraft::impls::leader_id_adv::LeaderId<u64, u64>>;
pub type Vote = openraft::type_config::alias::VoteOf<TypeConfig>;
pub type Entry = openraft::type_config::alias::EntryOf<TypeConfig>;
pub type StoredMembership = openraft::type_config::alias::StoredMembershipOf<TypeConfig>;
pub type SnapshotMeta = openraft::type_config::alias::SnapshotMetaOf<TypeConfig>;
