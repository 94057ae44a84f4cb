//! Lists over versioned sub-keys.

use crate::error::OpResult;
use crate::op::ListOp;
use crate::op::Output;
use crate::shard::Shard;

/// Runs one list op at time `now`.
pub fn execute(_sh: &mut Shard, op: ListOp, _now: i64) -> OpResult<Output> {
    match op {}
}
