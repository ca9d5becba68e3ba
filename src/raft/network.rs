//! Raft's view of the other servers: every openraft RPC goes over server RPC (`crate::rpc`),
//! pooled per peer. Never interprets commands.
//!
//! Error mapping: a peer that cannot be connected to is `Unreachable` (openraft backs off); a
//! connection that broke or timed out mid-call is a `NetworkError` (openraft retries); an
//! error the peer's Raft returned is a `RemoteError`.

use openraft::error::{
    InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable,
};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use openraft::BasicNode;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::TypeConfig;
use crate::rpc::{Pool, Reply, Request, RpcError};

/// When each peer last answered this node's AppendEntries or granted its vote: the leader's
/// lease (Consul's `LeaderLeaseTimeout`) holds while a quorum answered recently.
#[derive(Debug, Clone, Default)]
pub struct Contacts(Arc<Mutex<HashMap<u64, Instant>>>);

impl Contacts {
    fn record(&self, peer: u64) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(peer, Instant::now());
    }

    /// Whether `me` plus the voters heard from within `lease` make a majority of `voters`.
    pub fn quorum_within(&self, me: u64, voters: &[u64], lease: Duration) -> bool {
        let seen = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let fresh = voters
            .iter()
            .filter(|v| **v == me || seen.get(v).is_some_and(|t| t.elapsed() <= lease))
            .count();
        fresh * 2 > voters.len()
    }
}

/// Hands openraft a connection per peer, all sharing the agent's RPC pool.
#[derive(Debug, Clone, Default)]
pub struct Network {
    /// The agent's server RPC connections.
    pub pool: Pool,
    /// Peers' last answers, for the leader lease.
    pub contacts: Contacts,
}

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = Connection;

    async fn new_client(&mut self, target: u64, node: &BasicNode) -> Connection {
        Connection {
            target,
            addr: node.addr.clone(),
            pool: self.pool.clone(),
            contacts: self.contacts.clone(),
        }
    }
}

/// The way to one peer.
#[derive(Debug, Clone)]
pub struct Connection {
    /// The peer's node id.
    target: u64,
    /// The peer's RPC address.
    addr: String,
    /// Shared connections.
    pool: Pool,
    /// Where answers are recorded.
    contacts: Contacts,
}

/// Sends `req` and unpacks the reply variant `$variant`, mapping every failure.
macro_rules! call {
    ($self:ident, $req:expr, $option:ident, $variant:path, $kind:literal) => {{
        match $self
            .pool
            .call(&$self.addr, &$req, $option.hard_ttl())
            .await
        {
            Ok($variant(Ok(resp))) => Ok(resp),
            Ok($variant(Err(e))) => Err(RPCError::RemoteError(RemoteError::new($self.target, e))),
            Ok(_) => Err(network(&RpcError::UnexpectedReply {
                addr: $self.addr.clone(),
                request: $kind,
            })),
            Err(e @ RpcError::Connect { .. }) => Err(RPCError::Unreachable(Unreachable::new(&e))),
            Err(e) => Err(network(&e)),
        }
    }};
}

fn network<E: std::error::Error>(e: &RpcError) -> RPCError<u64, BasicNode, E> {
    RPCError::Network(NetworkError::new(e))
}

impl RaftNetwork<TypeConfig> for Connection {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<u64>, RPCError<u64, BasicNode, RaftError<u64>>> {
        let resp = call!(
            self,
            Request::AppendEntries(rpc),
            option,
            Reply::AppendEntries,
            "AppendEntries"
        );
        if matches!(&resp, Ok(r) if !matches!(r, AppendEntriesResponse::HigherVote(_))) {
            self.contacts.record(self.target);
        }
        resp
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<u64>,
        RPCError<u64, BasicNode, RaftError<u64, InstallSnapshotError>>,
    > {
        call!(
            self,
            Request::InstallSnapshot(rpc),
            option,
            Reply::InstallSnapshot,
            "InstallSnapshot"
        )
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<u64>,
        option: RPCOption,
    ) -> Result<VoteResponse<u64>, RPCError<u64, BasicNode, RaftError<u64>>> {
        let resp = call!(self, Request::Vote(rpc), option, Reply::Vote, "Vote");
        if matches!(&resp, Ok(r) if r.vote_granted) {
            self.contacts.record(self.target);
        }
        resp
    }
}
