//! Raft for shards: every shard will be its own openraft group (issue 4).
//! So far: the glommio `AsyncRuntime` openraft runs on.

pub mod runtime;
