//! shardis shard runtime: one shard per core, its storage over RocksDB, and
//! the data types as `op_*` functions. This crate never sees RESP: it takes
//! typed [`op::Op`]s and returns typed [`op::Output`]s.

pub mod blocking;
pub mod codec;
pub mod core;
pub mod durability;
pub mod error;
pub mod failpoint;
pub mod fresh;
pub mod glob;
pub mod msg;
pub mod op;
pub mod outbox;
pub mod raft;
pub mod router;
pub mod shard;
pub mod slot;
pub mod storage;
pub mod types;
pub mod watch;

pub use bytes::Bytes;
