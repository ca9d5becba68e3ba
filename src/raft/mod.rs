//! openraft glue: the replicated log under the catalog.
//!
//! - `node.rs`: `RaftNode`, the handle the rest of Berth uses (start, write, consistent
//!   reads, leader info for the `X-Consul-*` headers, shutdown).
//! - `log_store.rs`: the Raft log and hard state in redb (`data_dir/raft/raft.db`, or redb's
//!   in-memory backend in dev mode); `log_writer.rs` its one writer thread (pipelined appends,
//!   group commit).
//! - `state_machine.rs`: applies entries to `catalog::Store`; builds and installs snapshots.
//! - `snapshot_store.rs`: snapshot files in `data_dir/raft/snapshots/` (or memory).
//! - `network.rs`: openraft's RPCs to other servers, over `crate::rpc`, and the peers' last
//!   answers that make the leader lease.
//! - `membership.rs`: the server set: bootstrap with N voters, add (learner → voter), remove,
//!   and the configuration `/v1/operator/raft/configuration` shows.
//! - `snapshot_timer.rs`: Consul's `raft_snapshot_interval` (openraft only snapshots by count).
//!
//! Architecture Invariant: nothing here interprets a `Command`; it only carries it to
//! `Store::apply` in log order.

#[cfg(test)]
mod cluster_tests;
mod error;
mod log_store;
mod log_writer;
mod membership;
mod network;
mod node;
mod snapshot_store;
mod snapshot_timer;
mod state_machine;
#[cfg(test)]
mod tests;

use std::io::Cursor;
use std::path::PathBuf;
use std::time::Duration;

use crate::catalog::{Command, Response};
pub use error::{RaftError, WriteError};
pub use membership::RaftServer;
pub use node::{LeaderInfo, RaftNode};
pub use snapshot_timer::run_snapshot_timer;

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

/// Consul's Raft timeouts at `raft_multiplier = 1`: hashicorp/raft's `HeartbeatTimeout` and
/// `ElectionTimeout` are both 1000 ms × multiplier (Consul's default multiplier is 5).
pub const BASE_TIMEOUT: Duration = Duration::from_millis(1000);
/// Consul's `LeaderLeaseTimeout` at `raft_multiplier = 1` (500 ms × multiplier).
///
/// openraft 0.9.25 has no setting for it: its only "leader lease" is the follower-side window
/// in which a follower that heard from a leader refuses votes, hard-wired to
/// `election_timeout_max` (`EngineConfig::new`), and a leader that loses its quorum does not
/// step down on a lease. So this value is documented, not passed on; a cut-off leader still
/// stops serving writes and `?consistent` reads because neither can reach a quorum.
pub const BASE_LEADER_LEASE: Duration = Duration::from_millis(500);
/// How long one snapshot chunk may take to send and install, at `raft_multiplier = 1`.
pub const SNAPSHOT_CHUNK_TIMEOUT: Duration = Duration::from_secs(5);
/// Bytes of snapshot per InstallSnapshot message.
pub const SNAPSHOT_CHUNK_BYTES: u64 = 1024 * 1024;
/// Consul's `raft_snapshot_threshold` default: snapshot after this many entries.
pub const SNAPSHOT_THRESHOLD: u64 = 16384;
/// Consul's `raft_snapshot_interval` default.
pub const SNAPSHOT_INTERVAL: Duration = Duration::from_secs(30);
/// Consul's `raft_trailing_logs` default: entries kept behind a snapshot, so slow followers
/// catch up from the log instead of a whole snapshot.
pub const TRAILING_LOGS: u64 = 10240;

/// Raft's numeric node ID: the first 8 bytes of the node UUID (never 0). Every server derives
/// the same ID for a given UUID, so `bootstrap_expect` can name its peers from gossip tags.
pub fn raft_id(node_uuid: &str) -> u64 {
    let bytes = uuid::Uuid::parse_str(node_uuid)
        .map(|u| *u.as_bytes())
        .unwrap_or_default();
    let mut first = [0u8; 8];
    first.copy_from_slice(&bytes[..8]);
    u64::from_be_bytes(first).max(1)
}

/// When snapshots are taken and how much log stays behind them (Consul's
/// `raft_snapshot_threshold`, `raft_snapshot_interval`, `raft_trailing_logs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotOptions {
    /// Snapshot once this many entries were applied since the last one.
    pub threshold: u64,
    /// How often `run_snapshot_timer` snapshots when anything was applied since the last one.
    pub interval: Duration,
    /// Entries kept in the log behind a snapshot.
    pub trailing_logs: u64,
}

impl Default for SnapshotOptions {
    fn default() -> SnapshotOptions {
        SnapshotOptions {
            threshold: SNAPSHOT_THRESHOLD,
            interval: SNAPSHOT_INTERVAL,
            trailing_logs: TRAILING_LOGS,
        }
    }
}

impl SnapshotOptions {
    /// The settings from the agent config, so the daemon fills `RaftOptions` in one line.
    pub fn from_config(c: &crate::config::RuntimeConfig) -> SnapshotOptions {
        SnapshotOptions {
            threshold: c.raft_snapshot_threshold,
            interval: c.raft_snapshot_interval,
            trailing_logs: c.raft_trailing_logs,
        }
    }
}

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
    /// Snapshot and log-compaction settings.
    pub snapshots: SnapshotOptions,
}

impl RaftOptions {
    /// openraft's config with Consul's timers scaled by `raft_multiplier` (0 counts as 1).
    ///
    /// hashicorp/raft: a follower that hears nothing for a random time in [T, 2T]
    /// (T = `HeartbeatTimeout` = 1000 ms × m) starts an election, and a leader sends
    /// heartbeats every T/10. In openraft a follower that heard from a leader waits
    /// `election_timeout_max` (its hard-wired vote lease) plus a random timeout in
    /// [`election_timeout_min`, `election_timeout_max`) before it campaigns, so T/2..T gives
    /// 1.5T..2T, inside Consul's window; 1000..2000 ms × m would give 3T..4T. A candidate
    /// retries after T/2..T. A single voter elects itself at once (see `RaftNode::start`).
    fn openraft_config(&self) -> Result<openraft::Config, RaftError> {
        let m = self.raft_multiplier.max(1);
        let ms = |d: Duration| (d * m).as_millis() as u64;
        let s = &self.snapshots;
        let config = openraft::Config {
            cluster_name: "berth".into(),
            heartbeat_interval: ms(BASE_TIMEOUT / 10),
            election_timeout_min: ms(BASE_TIMEOUT / 2),
            election_timeout_max: ms(BASE_TIMEOUT),
            snapshot_policy: openraft::SnapshotPolicy::LogsSinceLast(staggered(s.threshold)),
            max_in_snapshot_log_to_keep: s.trailing_logs,
            // openraft's 200 ms would cut off a chunk that a loaded follower must also apply;
            // 1 MiB chunks keep each JSON frame (bytes as numbers, ~3.6×) a few MB.
            install_snapshot_timeout: ms(SNAPSHOT_CHUNK_TIMEOUT),
            snapshot_max_chunk_size: SNAPSHOT_CHUNK_BYTES,
            ..Default::default()
        };
        Ok(config.validate()?)
    }
}

/// The snapshot threshold this server uses: `threshold` plus up to a quarter more, drawn once
/// at start. Servers of one cluster reach the same index together; without the spread they
/// would all snapshot (copy, encode, fsync the whole catalog) at the same moment and stall
/// commits, where hashicorp/raft's randomized snapshot timer spreads them out.
fn staggered(threshold: u64) -> u64 {
    use rand::Rng;
    let threshold = threshold.max(1);
    threshold + rand::thread_rng().gen_range(0..=threshold / 4)
}
