//! Data types over the shard store, one file per type. Each `op_*` runs on
//! the owning shard, takes typed arguments, and never sees RESP.

pub mod bits;
pub mod collection;
pub mod hash;
pub mod keyspace;
pub mod list;
pub mod number;
mod sample;
pub mod set;
pub mod sort;
pub mod string;
pub mod zset;
