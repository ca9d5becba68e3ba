//! The server's answers to server RPC: Raft messages go to the Raft node, writes to the
//! cluster (which applies them or forwards them once to the leader), forwarded API requests
//! to this agent's own route table, and node-state reads to the local catalog.

use std::sync::{Arc, OnceLock};

use futures::future::BoxFuture;

use crate::catalog::Store;
use crate::cluster::Cluster;
use crate::http::HttpState;
use crate::raft::RaftNode;
use crate::rpc::{Reply, Request, Service};

/// What a server answers RPC with.
pub struct RpcService {
    /// This server's Raft node.
    pub raft: RaftNode,
    /// Writes that arrive over RPC go through here.
    pub cluster: Cluster,
    /// The local catalog, for node-state reads.
    pub store: Store,
    /// The HTTP API state, set once the API is up; forwarded API requests wait for it.
    pub http: OnceLock<Arc<HttpState>>,
}

impl Service for RpcService {
    fn handle(&self, req: Request) -> BoxFuture<'_, Reply> {
        Box::pin(async move {
            match req {
                Request::Ping => Reply::Pong,
                Request::AppendEntries(r) => {
                    Reply::AppendEntries(self.raft.append_entries(r).await)
                }
                Request::Vote(r) => Reply::Vote(self.raft.vote(r).await),
                Request::InstallSnapshot(r) => {
                    Reply::InstallSnapshot(self.raft.install_snapshot(r).await)
                }
                Request::Write { cmd, forwarded } => {
                    Reply::Write(self.cluster.write_from_rpc(cmd, forwarded).await)
                }
                Request::NodeState { node } => {
                    Reply::NodeState(Ok(crate::cluster::local_node_state(&self.store, &node)))
                }
                Request::Dns {
                    lookup,
                    stale,
                    forwarded,
                } => {
                    let source =
                        crate::dns::source::Source::new(self.store.clone(), self.cluster.clone());
                    let found = source.fetch(&lookup, stale, forwarded).await;
                    Reply::Dns(found.map_err(|e| e.to_string()))
                }
                Request::RaftStatus => match self.raft.is_initialized().await {
                    Ok(initialized) => Reply::RaftStatus { initialized },
                    Err(e) => Reply::Error(e.to_string()),
                },
                Request::Http(f) => match self.http.get() {
                    Some(state) => {
                        Reply::Http(crate::http::forward::serve_forwarded(state, f).await)
                    }
                    None => Reply::Error("the server's HTTP API is still starting".into()),
                },
            }
        })
    }
}
