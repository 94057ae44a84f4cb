//! Sets over versioned sub-keys.

use crate::error::OpResult;
use crate::op::Output;
use crate::op::SetOp;
use crate::shard::Shard;

/// Runs one set op at time `now`.
pub fn execute(_sh: &mut Shard, op: SetOp, _now: i64) -> OpResult<Output> {
    match op {}
}
