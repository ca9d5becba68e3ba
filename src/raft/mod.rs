//! openraft glue: the replicated log under the catalog.
//!
//! - `node.rs`: `RaftNode`, the handle the rest of Berth uses (start, write, consistent
//!   reads, leader info for the `X-Consul-*` headers, shutdown).
//! - `log_store.rs`: the Raft log and hard state in redb (`data_dir/raft/raft.db`, or redb's
//!   in-memory backend in dev mode).
//! - `state_machine.rs`: applies entries to `catalog::Store`; builds and installs snapshots.
//! - `snapshot_store.rs`: snapshot files in `data_dir/raft/snapshots/` (or memory).
//! - `network.rs`: openraft's RPCs to other servers, over `crate::rpc`.
//!
//! Architecture Invariant: nothing here interprets a `Command`; it only carries it to
//! `Store::apply` in log order.

#[cfg(test)]
mod cluster_tests;
mod error;
mod log_store;
mod network;
mod node;
mod snapshot_store;
mod state_machine;
#[cfg(test)]
mod tests;

use std::io::Cursor;
use std::path::PathBuf;
use std::time::Duration;

use crate::catalog::{Command, Response};
pub use error::{RaftError, WriteError};
pub use node::{LeaderInfo, RaftNode};

openraft::declare_raft_types!(
    /// Berth's Raft types: catalog commands in, catalog responses out, u64 node ids, and the
    /// server RPC address (`BasicNode { addr }`) as each node's contact point.
    pub TypeConfig:
        D = Command,
        R = Response,
        NodeId = u64,
        Node = openraft::BasicNode,
);

/// A Raft log entry of Berth's log.
type Entry = openraft::Entry<TypeConfig>;
/// Snapshot metadata (last log id, membership, id).
type SnapshotMeta = openraft::SnapshotMeta<u64, openraft::BasicNode>;
/// A snapshot with its bytes.
type Snapshot = openraft::Snapshot<TypeConfig>;
/// Membership together with the log id that set it.
type Membership = openraft::StoredMembership<u64, openraft::BasicNode>;

/// Heartbeat interval at `raft_multiplier = 1` (Consul dev mode). Scaled linearly.
pub const BASE_HEARTBEAT: Duration = Duration::from_millis(50);
/// Election timeout range at `raft_multiplier = 1`: a lone server elects itself in
/// ~150–300 ms in dev mode; at Consul's default multiplier 5 that becomes 0.75–1.5 s.
pub const BASE_ELECTION: (Duration, Duration) =
    (Duration::from_millis(150), Duration::from_millis(300));
/// Snapshot after this many entries since the last one (Consul's `raft_snapshot_threshold`).
pub const SNAPSHOT_THRESHOLD: u64 = 16384;
/// Entries kept in the log behind a snapshot, so slow followers catch up without one
/// (Consul's `raft_trailing_logs`).
pub const TRAILING_LOGS: u64 = 10240;

/// What `RaftNode::start` needs; built by `daemon` from the runtime config.
#[derive(Debug, Clone)]
pub struct RaftOptions {
    /// This server's Raft id (derived from the node UUID).
    pub node_id: u64,
    /// This server's RPC address (`host:8300`), published in the membership.
    pub rpc_addr: String,
    /// Agent data dir; Raft uses `data_dir/raft/`. None = everything in memory (`-dev`).
    pub data_dir: Option<PathBuf>,
    /// Consul's `performance.raft_multiplier` (1 = fastest, dev; Consul's default is 5).
    pub raft_multiplier: u32,
    /// Server RPC connections, shared with the rest of the agent.
    pub pool: crate::rpc::Pool,
    /// Make this server the single voter of a new cluster when its log is pristine
    /// (`-bootstrap`, `-dev`). Ignored once the node has Raft state.
    pub bootstrap: bool,
}

impl RaftOptions {
    /// openraft's config with timers scaled by `raft_multiplier` (0 counts as 1).
    fn openraft_config(&self) -> Result<openraft::Config, RaftError> {
        let m = self.raft_multiplier.max(1);
        let ms = |d: Duration| (d * m).as_millis() as u64;
        let config = openraft::Config {
            cluster_name: "berth".into(),
            heartbeat_interval: ms(BASE_HEARTBEAT),
            election_timeout_min: ms(BASE_ELECTION.0),
            election_timeout_max: ms(BASE_ELECTION.1),
            snapshot_policy: openraft::SnapshotPolicy::LogsSinceLast(SNAPSHOT_THRESHOLD),
            max_in_snapshot_log_to_keep: TRAILING_LOGS,
            ..Default::default()
        };
        Ok(config.validate()?)
    }
}
