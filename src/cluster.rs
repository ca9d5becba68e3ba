//! Where this agent's catalog writes and consistent reads go: its own Raft node when it is a
//! server, nowhere yet when it is a client.
//!
//! Clients reach the servers over server RPC once the server-cluster work lands; until then a
//! client answers catalog requests as a Consul client with no known server does
//! (`No known Consul servers`), while its agent endpoints and gossip work.

use crate::catalog::{Command, Response};
use crate::raft::{LeaderInfo, RaftNode, WriteError};

/// The agent's way into the replicated catalog.
#[derive(Clone)]
pub enum Cluster {
    /// A server: writes go through its own Raft node.
    Server(RaftNode),
    /// A client with no route to the servers yet.
    Client,
}

impl Cluster {
    /// Replicates a command (Consul's RPC write).
    pub async fn write(&self, cmd: Command) -> Result<Response, WriteError> {
        match self {
            Cluster::Server(raft) => raft.write(cmd).await,
            Cluster::Client => Err(WriteError::NoServers),
        }
    }

    /// Confirms leadership before a `?consistent` read.
    pub async fn linearizable_read(&self) -> Result<(), WriteError> {
        match self {
            Cluster::Server(raft) => raft.linearizable_read().await,
            Cluster::Client => Err(WriteError::NoServers),
        }
    }

    /// Leader and log position, for the `X-Consul-*` headers and `/v1/status/*`.
    pub fn leader_info(&self) -> LeaderInfo {
        match self {
            Cluster::Server(raft) => raft.leader_info(),
            Cluster::Client => LeaderInfo::default(),
        }
    }

    /// Raft voters as (id, server RPC address).
    pub fn voters(&self) -> Vec<(u64, String)> {
        match self {
            Cluster::Server(raft) => raft.voters(),
            Cluster::Client => Vec::new(),
        }
    }

    /// Whether this agent holds the catalog (a server): readers may serve from the local store.
    pub fn has_catalog(&self) -> bool {
        matches!(self, Cluster::Server(_))
    }
}
