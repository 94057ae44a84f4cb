//! What crosses cores: typed op batches for a shard, or a closure that an
//! upper layer wants run on that core (CLIENT LIST, INFO gathering).

use crate::error::OpResult;
use crate::op::Op;
use crate::op::Output;

/// Results of an op batch, in op order.
pub type OpResults = Vec<OpResult<Output>>;

pub enum ShardMsg {
    /// Run these ops in order on the shard; reply once durable per policy.
    Ops {
        ops: Vec<Op>,
        reply: flume::Sender<OpResults>,
    },
    /// Run this on the target core's executor (admin paths, not the hot path).
    Run(Box<dyn FnOnce() + Send>),
}
