//! Typed errors of the Raft glue: one for starting the node, one for writes and reads.

use std::path::PathBuf;
use std::time::Duration;

use super::snapshot_store::SnapshotError;

/// Why the Raft node could not start or reach a usable state.
#[derive(Debug, thiserror::Error)]
pub enum RaftError {
    /// A directory under the data dir could not be created.
    #[error("cannot create directory {path}: {source}")]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The redb log file could not be opened (locked by another process, corrupt, ...).
    #[error("cannot open the raft log {path}: {source}")]
    OpenLog {
        /// The log file, or `memory` in dev mode.
        path: String,
        /// redb's reason.
        source: redb::Error,
    },
    /// Reading the log store's state at start failed.
    #[error("raft log store: {0}")]
    LogStore(String),
    /// No snapshot on disk could be loaded.
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    /// The log was compacted past every snapshot we could load, so state would be lost.
    #[error(
        "the raft log was compacted up to index {purged} but the newest loadable snapshot \
         only covers index {applied}; restore a snapshot into {dir} or wipe the data dir"
    )]
    MissingSnapshot {
        /// Last index removed from the log.
        purged: u64,
        /// Last index covered by the loaded snapshot (0 = none).
        applied: u64,
        /// The snapshot directory.
        dir: String,
    },
    /// openraft rejected the timer settings.
    #[error("invalid raft configuration: {0}")]
    Config(Box<openraft::ConfigError>),
    /// openraft stopped or refused to start.
    #[error("raft: {0}")]
    Fatal(String),
    /// No leader was known within the wait.
    #[error("no cluster leader after {0:?}")]
    LeaderTimeout(Duration),
}

/// Why a write or a consistent read did not go through. Serializable: servers send it back to
/// the agent that forwarded the request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
pub enum WriteError {
    /// No leader is known (election running, or quorum lost). Consul's exact text, which
    /// clients match on.
    #[error("No cluster leader")]
    NoLeader,
    /// Another server leads (returned by a server's own Raft; the cluster layer forwards).
    #[error("this server is not the leader (leader: {leader})")]
    NotLeader {
        /// The leader's RPC address.
        leader: String,
    },
    /// The server the request was sent to could not be reached or did not answer; Consul's
    /// prefix, which clients match on. The request's outcome may be unknown.
    #[error("rpc error making call: {0}")]
    Rpc(String),
    /// The write was not committed in time (a leader cut off from its quorum); it may still
    /// be applied later.
    #[error("timed out after {0:?} waiting for the write to be committed; its outcome is unknown")]
    Timeout(std::time::Duration),
    /// Raft stopped or storage failed; the request's outcome is unknown.
    #[error("raft: {0}")]
    Fatal(String),
    /// This agent is a client and knows no server to send the request to (Consul's text).
    #[error("No known Consul servers")]
    NoServers,
}

impl From<openraft::ConfigError> for RaftError {
    fn from(e: openraft::ConfigError) -> RaftError {
        RaftError::Config(Box::new(e))
    }
}
