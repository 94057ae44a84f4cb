//! Operations on lists. Plain, deterministic data: anything random or
//! relative to now is resolved by the coordinator before the op is built.

use serde::Deserialize;
use serde::Serialize;

/// One list operation on one key (or on keys of one shard).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ListOp {}

impl ListOp {
    /// True when the op may change data.
    pub fn is_write(&self) -> bool {
        match *self {}
    }
}
