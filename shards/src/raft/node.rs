//! Starting a shard's Raft group. Single node for now: the group has one
//! member (this node), so its network is never used; cluster mode brings a
//! real transport (core i <-> core i between nodes).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use openraft::AnyError;
use openraft::Config;
use openraft::ServerState;
use openraft::error::RPCError;
use openraft::error::StreamingError;
use openraft::error::Unreachable;
use openraft::network::RPCOption;
use openraft::network::RaftNetworkFactory;
use openraft::network::v2::RaftNetworkV2;
use openraft::raft::AppendEntriesRequest;
use openraft::raft::AppendEntriesResponse;
use openraft::raft::SnapshotResponse;
use openraft::raft::VoteRequest;
use openraft::raft::VoteResponse;
use openraft::type_config::alias::SnapshotOf;

use super::TypeConfig;
use super::Vote;
use super::log_store::RocksLogStore;
use super::state_machine::ShardStateMachine;
use super::state_machine::SnapshotData;

/// A shard's Raft handle.
pub type ShardRaft = openraft::Raft<TypeConfig, ShardStateMachine>;

/// This node's id in every group (single node).
pub const NODE_ID: u64 = 1;

/// Network of a one-member group: there is nobody to talk to.
pub struct NoPeers;

pub struct NoPeer;

fn unreachable() -> Unreachable<TypeConfig> {
    Unreachable::new(&AnyError::error("single-node group has no peers"))
}

impl RaftNetworkFactory<TypeConfig> for NoPeers {
    type Network = NoPeer;

    async fn new_client(&mut self, _target: u64, _node: &openraft::impls::BasicNode) -> NoPeer {
        NoPeer
    }
}

impl RaftNetworkV2<TypeConfig> for NoPeer {
    type SnapshotData = SnapshotData;

    async fn append_entries(
        &mut self,
        _rpc: AppendEntriesRequest<TypeConfig>,
        _option: RPCOption,
    ) -> Result<AppendEntriesResponse<TypeConfig>, RPCError<TypeConfig>> {
        Err(RPCError::Unreachable(unreachable()))
    }

    async fn vote(
        &mut self,
        _rpc: VoteRequest<TypeConfig>,
        _option: RPCOption,
    ) -> Result<VoteResponse<TypeConfig>, RPCError<TypeConfig>> {
        Err(RPCError::Unreachable(unreachable()))
    }

    async fn full_snapshot(
        &mut self,
        _vote: Vote,
        _snapshot: SnapshotOf<TypeConfig, SnapshotData>,
        _cancel: impl std::future::Future<Output = openraft::error::ReplicationClosed> + 'static,
        _option: RPCOption,
    ) -> Result<SnapshotResponse<TypeConfig>, StreamingError<TypeConfig>> {
        Err(StreamingError::Unreachable(unreachable()))
    }
}

/// Raft timing and log policy of every shard group.
pub fn config(snapshot_every: u64) -> Result<Config, String> {
    Config {
        cluster_name: "shardis".into(),
        heartbeat_interval: 100,
        election_timeout_min: 300,
        election_timeout_max: 600,
        snapshot_policy: openraft::SnapshotPolicy::LogsSinceLast(snapshot_every),
        // Keep at most one snapshot interval of log behind a snapshot, and
        // purge in batches no larger than that interval.
        max_in_snapshot_log_to_keep: snapshot_every.min(1000),
        purge_batch_size: snapshot_every.clamp(1, 256),
        ..Default::default()
    }
    .validate()
    .map_err(|e| e.to_string())
}

/// Starts the group over `log` and `sm`, initialises it on first start
/// (one member: this node), and waits until this node leads it.
pub async fn start(
    log: RocksLogStore,
    sm: ShardStateMachine,
    snapshot_every: u64,
) -> Result<ShardRaft, String> {
    let raft = openraft::Raft::new(NODE_ID, Arc::new(config(snapshot_every)?), NoPeers, log, sm)
        .await
        .map_err(|e| e.to_string())?;
    if !raft.is_initialized().await.map_err(|e| e.to_string())? {
        raft.initialize(BTreeMap::from([(
            NODE_ID,
            openraft::impls::BasicNode::default(),
        )]))
        .await
        .map_err(|e| e.to_string())?;
    }
    raft.wait(Some(Duration::from_secs(30)))
        .state(ServerState::Leader, "single-node group elects itself")
        .await
        .map_err(|e| e.to_string())?;
    // Entries after the last applied one (acknowledged before a crash) are
    // applied once the new term's first entry commits; reads are served
    // without a check by a sole leader, so they must wait for that.
    raft.wait(Some(Duration::from_secs(30)))
        .metrics(
            |m| m.last_applied.map(|l| l.index) >= m.last_log_index,
            "every logged entry is applied",
        )
        .await
        .map_err(|e| e.to_string())?;
    Ok(raft)
}
