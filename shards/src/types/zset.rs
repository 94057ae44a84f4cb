//! Sorted sets over versioned sub-keys.

use crate::error::OpResult;
use crate::op::Output;
use crate::op::ZSetOp;
use crate::shard::Shard;

/// Runs one zset op at time `now`.
pub fn execute(_sh: &mut Shard, op: ZSetOp, _now: i64) -> OpResult<Output> {
    match op {}
}
