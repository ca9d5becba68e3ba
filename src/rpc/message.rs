//! What travels over server RPC: one closed `Request` enum and the matching `Reply`.
//!
//! Raft messages are openraft's own types; `Write` carries a catalog `Command` to the leader;
//! `Http` carries an API request that a client or follower cannot answer itself to a server
//! (the server runs it through its own route table, so there is one implementation of every
//! endpoint); `NodeState` gives a client's anti-entropy the catalog's view of its node.

use openraft::error::{InstallSnapshotError, RaftError};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use serde::{Deserialize, Serialize};

use crate::catalog::{Command, Response};
use crate::dns::found::Found;
use crate::dns::name::Lookup;
use crate::dns::source::Staleness;
use crate::model::{Check, Node, Service};
use crate::raft::{TypeConfig, WriteError};

/// A request to a server.
#[derive(Debug, Serialize, Deserialize)]
pub enum Request {
    /// Liveness probe; answered with `Pong`.
    Ping,
    /// Raft log replication and heartbeat.
    AppendEntries(AppendEntriesRequest<TypeConfig>),
    /// Raft election.
    Vote(VoteRequest<u64>),
    /// One chunk of a Raft snapshot.
    InstallSnapshot(InstallSnapshotRequest<TypeConfig>),
    /// A catalog write for the leader, from a client (`forwarded: false`: the server may send
    /// it on to the leader) or from a follower (`forwarded: true`: apply or refuse, never
    /// send on).
    Write {
        /// The command.
        cmd: Command,
        /// Already passed through a server.
        forwarded: bool,
    },
    /// An HTTP API request the caller cannot serve itself.
    Http(ForwardedHttp),
    /// The catalog's entries for one node (anti-entropy on client agents).
    NodeState {
        /// The node's name.
        node: String,
    },
    /// Whether the server already has Raft state (asked before `bootstrap_expect` starts a
    /// cluster, as Consul asks its peers for their Raft peers).
    RaftStatus,
    /// The catalog data for a DNS lookup, from a client agent (or from a follower to the
    /// leader, `forwarded: true`, when it may not answer stale).
    Dns {
        /// What the name asks for.
        lookup: Lookup,
        /// The asking agent's `allow_stale` / `max_stale`.
        stale: Staleness,
        /// Already passed through a server: answer or fail, never send on.
        forwarded: bool,
    },
}

impl Request {
    /// Whether sending the request twice has the effect of sending it once: Raft's messages
    /// are (by design), reads are; writes and non-GET API requests are not.
    pub fn idempotent(&self) -> bool {
        match self {
            Request::Ping
            | Request::AppendEntries(_)
            | Request::Vote(_)
            | Request::InstallSnapshot(_)
            | Request::NodeState { .. }
            | Request::Dns { .. }
            | Request::RaftStatus => true,
            Request::Write { .. } => false,
            Request::Http(h) => h.method == "GET" || h.method == "HEAD",
        }
    }

    /// The request's kind, for errors and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Request::Ping => "Ping",
            Request::AppendEntries(_) => "AppendEntries",
            Request::Vote(_) => "Vote",
            Request::InstallSnapshot(_) => "InstallSnapshot",
            Request::Write { .. } => "Write",
            Request::Http(_) => "Http",
            Request::NodeState { .. } => "NodeState",
            Request::RaftStatus => "RaftStatus",
            Request::Dns { .. } => "Dns",
        }
    }
}

/// A server's answer; each request kind has its own variant, `Error` is protocol-level.
#[derive(Debug, Serialize, Deserialize)]
pub enum Reply {
    /// Answer to `Ping`.
    Pong,
    /// Answer to `AppendEntries`.
    AppendEntries(Result<AppendEntriesResponse<u64>, RaftError<u64>>),
    /// Answer to `Vote`.
    Vote(Result<VoteResponse<u64>, RaftError<u64>>),
    /// Answer to `InstallSnapshot`.
    InstallSnapshot(Result<InstallSnapshotResponse<u64>, RaftError<u64, InstallSnapshotError>>),
    /// Answer to `Write`: what applying it produced, or why it did not happen.
    Write(Result<Response, WriteError>),
    /// Answer to `Http`.
    Http(ForwardedResponse),
    /// Answer to `NodeState`.
    NodeState(Result<NodeState, WriteError>),
    /// Answer to `RaftStatus`: whether the server has Raft state (a configuration).
    RaftStatus {
        /// Initialized (bootstrapped, or replicated to from a cluster).
        initialized: bool,
    },
    /// Answer to `Dns`: the data, or why the server could not read it.
    Dns(Result<Found, String>),
    /// The request could not be handled at all (not a server, bad version, bad frame).
    Error(String),
}

/// An API request, as the receiving server's route table needs it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ForwardedHttp {
    /// HTTP method.
    pub method: String,
    /// Decoded path.
    pub path: String,
    /// Decoded query pairs, in order.
    pub query: Vec<(String, String)>,
    /// Request headers that shape the answer (token, index-related, content type).
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    #[serde(with = "crate::model::base64_bytes")]
    pub body: Vec<u8>,
    /// Servers this request already passed through; a server forwards at most once more, so
    /// a request can never loop between servers that disagree on the leader.
    pub hops: u8,
}

/// A server's HTTP answer to a forwarded request, returned to the caller as is.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ForwardedResponse {
    /// HTTP status code.
    pub status: u16,
    /// Response headers (`X-Consul-*`, content type).
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    #[serde(with = "crate::model::base64_bytes")]
    pub body: Vec<u8>,
}

/// The catalog's entries for one node.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct NodeState {
    /// The node, if registered.
    pub node: Option<Node>,
    /// Its services.
    pub services: Vec<Service>,
    /// Its checks.
    pub checks: Vec<Check>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip_through_json() {
        let req = Request::Http(ForwardedHttp {
            method: "PUT".into(),
            path: "/v1/kv/a".into(),
            query: vec![("cas".into(), "3".into())],
            headers: vec![],
            body: vec![0, 255, 7],
            hops: 1,
        });
        let text = serde_json::to_string(&req).unwrap();
        assert!(text.contains("\"AP8H\""), "{text}");
        match serde_json::from_str::<Request>(&text).unwrap() {
            Request::Http(h) => assert_eq!(h.body, [0, 255, 7]),
            other => panic!("{other:?}"),
        }
        let reply = Reply::Write(Err(WriteError::NoLeader));
        let text = serde_json::to_string(&reply).unwrap();
        assert!(matches!(
            serde_json::from_str::<Reply>(&text).unwrap(),
            Reply::Write(Err(WriteError::NoLeader))
        ));
    }
}
