//! Operations on sorted sets. Plain, deterministic data: anything random or
//! relative to now is resolved by the coordinator before the op is built.

use serde::Deserialize;
use serde::Serialize;

/// One zset operation on one key (or on keys of one shard).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ZSetOp {}

impl ZSetOp {
    /// True when the op may change data.
    pub fn is_write(&self) -> bool {
        match *self {}
    }
}
