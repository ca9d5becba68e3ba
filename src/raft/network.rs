//! Raft's view of the other servers. Single-server for now: every RPC to another node fails
//! as unreachable (openraft then backs off instead of retrying hot). The real transport over
//! the server RPC port comes with the server-cluster work. Never interprets commands.

use openraft::error::{InstallSnapshotError, RPCError, RaftError, Unreachable};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use openraft::BasicNode;

use super::TypeConfig;

/// The RPC error every call returns until multi-server clusters exist.
#[derive(Debug, thiserror::Error)]
#[error("cannot reach raft node {target} at {addr}: multi-server clusters come with the server-cluster work")]
pub struct NoTransport {
    /// The node asked for.
    target: u64,
    /// Its RPC address.
    addr: String,
}

/// Hands openraft a connection per peer.
#[derive(Debug, Clone, Default)]
pub struct Network;

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = Connection;

    async fn new_client(&mut self, target: u64, node: &BasicNode) -> Connection {
        Connection {
            target,
            addr: node.addr.clone(),
        }
    }
}

/// A connection to one peer; currently always unreachable.
#[derive(Debug, Clone)]
pub struct Connection {
    /// The peer's node id.
    target: u64,
    /// The peer's RPC address.
    addr: String,
}

impl Connection {
    /// The error every RPC answers with.
    fn unreachable<E: std::error::Error>(&self) -> RPCError<u64, BasicNode, E> {
        let why = NoTransport {
            target: self.target,
            addr: self.addr.clone(),
        };
        RPCError::Unreachable(Unreachable::new(&why))
    }
}

impl RaftNetwork<TypeConfig> for Connection {
    async fn append_entries(
        &mut self,
        _rpc: AppendEntriesRequest<TypeConfig>,
        _option: RPCOption,
    ) -> Result<AppendEntriesResponse<u64>, RPCError<u64, BasicNode, RaftError<u64>>> {
        Err(self.unreachable())
    }

    async fn install_snapshot(
        &mut self,
        _rpc: InstallSnapshotRequest<TypeConfig>,
        _option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<u64>,
        RPCError<u64, BasicNode, RaftError<u64, InstallSnapshotError>>,
    > {
        Err(self.unreachable())
    }

    async fn vote(
        &mut self,
        _rpc: VoteRequest<u64>,
        _option: RPCOption,
    ) -> Result<VoteResponse<u64>, RPCError<u64, BasicNode, RaftError<u64>>> {
        Err(self.unreachable())
    }
}
