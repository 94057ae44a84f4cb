//! Data types over the shard store, one file per type. Each `op_*` runs on
//! the owning shard, takes typed arguments, and never sees RESP.

pub mod hash;
pub mod keyspace;
pub mod number;
pub mod string;
