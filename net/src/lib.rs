//! shardis network edge: RESP framing and replies, the command table and
//! its families, connections and the per-core listener. Shard work is
//! handed to `shardis-shards` as typed ops.

pub mod cmd;
pub mod conn_state;
pub mod connection;
pub mod info;
pub mod reply;
pub mod resp;
pub mod script;
pub mod server;
pub mod shared;
