//! Typed errors of the gossip layer, so the HTTP layer can map each kind to a status.

use std::path::PathBuf;

/// Why a gossip operation failed.
#[derive(Debug, thiserror::Error)]
pub enum GossipError {
    /// The UDP socket or TCP listener could not be bound (port taken, bad address).
    #[error("gossip: cannot bind {addr}: {source}")]
    Bind {
        /// The address we tried.
        addr: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The `encrypt` key is not base64 of 16, 24 or 32 bytes, as Consul requires.
    #[error("gossip: invalid encrypt key: {0}")]
    BadKey(String),
    /// The keyring file could not be read, parsed or written.
    #[error("gossip: keyring file {path}: {reason}")]
    KeyringFile {
        /// The `serf/local.keyring` path.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// Another live node already uses our node name with a different node ID.
    #[error("gossip: {0}")]
    NameConflict(String),
    /// The peer could not open our frames, or we could not open theirs: the keys differ.
    #[error("gossip: failed to decrypt the join handshake with {0}: check the encrypt key")]
    KeyMismatch(String),
    /// No address given to `join` answered; each reason is listed.
    #[error("gossip: join failed, no peer answered: {0}")]
    JoinFailed(String),
    /// `force_leave` named a node we do not know.
    #[error("gossip: unknown node {0:?}")]
    NotFound(String),
    /// The gossip task has stopped (shutdown or after `leave`).
    #[error("gossip: the gossip task has stopped")]
    Stopped,
}
