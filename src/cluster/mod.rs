//! Where this agent's catalog writes and reads go. A server has its own Raft node and forwards
//! what only the leader may do to the leader; a client agent holds no Raft state and sends
//! everything to a server it learned of through gossip, trying the next one when a server
//! cannot be reached.
//!
//! - `servers.rs`: the client's list of known servers and the order it tries them in.
//!
//! Architecture Invariant: nothing here parses HTTP or interprets a `Command`; the rules for
//! which API request goes where live in `http::forward`.

mod servers;

use std::time::Duration;

pub use servers::ServerList;

use crate::catalog::{Command, Response, Store};
use crate::raft::{LeaderInfo, RaftNode, WriteError};
use crate::rpc::{ForwardedHttp, ForwardedResponse, NodeState, Pool, Reply, Request, RpcError};

/// How long a forwarded write may take before its outcome is reported unknown.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// The agent's way into the replicated catalog; cheap to clone.
#[derive(Clone)]
pub struct Cluster {
    /// This server's Raft node; `None` on a client agent.
    raft: Option<RaftNode>,
    /// Connections to servers.
    pool: Pool,
    /// Servers known from gossip (used by clients).
    servers: ServerList,
}

impl Cluster {
    /// A server's view: its own Raft node.
    pub fn server(raft: RaftNode, pool: Pool, servers: ServerList) -> Cluster {
        Cluster {
            raft: Some(raft),
            pool,
            servers,
        }
    }

    /// A client agent's view: servers from gossip.
    pub fn client(pool: Pool, servers: ServerList) -> Cluster {
        Cluster {
            raft: None,
            pool,
            servers,
        }
    }

    /// This server's Raft node (`None` on clients).
    pub fn raft(&self) -> Option<&RaftNode> {
        self.raft.as_ref()
    }

    /// Connections to servers.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// The servers this agent knows of.
    pub fn servers(&self) -> &ServerList {
        &self.servers
    }

    /// Replicates a command (Consul's RPC write): through this server's Raft when it leads,
    /// else forwarded once to the leader (from a follower) or to a server (from a client).
    pub async fn write(&self, cmd: Command) -> Result<Response, WriteError> {
        match &self.raft {
            Some(raft) => match raft.write(cmd.clone()).await {
                Err(WriteError::NotLeader { leader }) => {
                    let req = Request::Write {
                        cmd,
                        forwarded: true,
                    };
                    let reply = self.pool.call(&leader, &req, WRITE_TIMEOUT).await;
                    unpack_write(reply.map_err(rpc_error))
                }
                other => other,
            },
            None => {
                let req = Request::Write {
                    cmd,
                    forwarded: false,
                };
                unpack_write(self.call_any(&req, WRITE_TIMEOUT, false).await)
            }
        }
    }

    /// A write that arrived over RPC: a forwarded one is applied here or refused, never sent
    /// on again, so servers that disagree about the leader cannot bounce it between them.
    pub async fn write_from_rpc(
        &self,
        cmd: Command,
        forwarded: bool,
    ) -> Result<Response, WriteError> {
        match (&self.raft, forwarded) {
            (Some(raft), true) => match raft.write(cmd).await {
                Err(WriteError::NotLeader { .. }) => Err(WriteError::NoLeader),
                other => other,
            },
            (Some(_), false) => self.write(cmd).await,
            (None, _) => Err(WriteError::NoServers),
        }
    }

    /// Confirms leadership before a `?consistent` read (on the leader; others forward).
    pub async fn linearizable_read(&self) -> Result<(), WriteError> {
        match &self.raft {
            Some(raft) => raft.linearizable_read().await,
            None => Err(WriteError::NoServers),
        }
    }

    /// The catalog's entries for `node`: from the local store on a server, else from a server.
    pub async fn node_state(&self, store: &Store, node: &str) -> Result<NodeState, WriteError> {
        if self.raft.is_some() {
            return Ok(local_node_state(store, node));
        }
        let req = Request::NodeState {
            node: node.to_string(),
        };
        match self.call_any(&req, WRITE_TIMEOUT, true).await? {
            Reply::NodeState(r) => r,
            _ => Err(WriteError::Rpc(format!(
                "unexpected reply to {}",
                req.kind()
            ))),
        }
    }

    /// Sends an API request to `addr` (a server, or `None` for any server) and returns its
    /// answer as is.
    pub async fn forward_http(
        &self,
        addr: Option<&str>,
        req: ForwardedHttp,
        timeout: Duration,
    ) -> Result<ForwardedResponse, WriteError> {
        match self.ask(addr, Request::Http(req), timeout).await? {
            Reply::Http(r) => Ok(r),
            _ => Err(WriteError::Rpc("unexpected reply to Http".into())),
        }
    }

    /// Sends a read request to `addr` (a server, e.g. the leader), or `None` for any server
    /// this agent knows (a read that failed on one goes on to the next, as Consul's client
    /// retries reads); the reply is the caller's to match.
    pub async fn ask(
        &self,
        addr: Option<&str>,
        req: Request,
        timeout: Duration,
    ) -> Result<Reply, WriteError> {
        match addr {
            Some(a) => self.pool.call(a, &req, timeout).await.map_err(rpc_error),
            None => {
                let read = match &req {
                    Request::Http(h) => matches!(h.method.as_str(), "GET" | "HEAD"),
                    _ => true,
                };
                self.call_any(&req, timeout, read).await
            }
        }
    }

    /// Leader and log position, for the `X-Consul-*` headers and `/v1/status/*`.
    pub fn leader_info(&self) -> LeaderInfo {
        self.raft
            .as_ref()
            .map(RaftNode::leader_info)
            .unwrap_or_default()
    }

    /// Raft voters as (id, server RPC address).
    pub fn voters(&self) -> Vec<(u64, String)> {
        self.raft.as_ref().map(RaftNode::voters).unwrap_or_default()
    }

    /// Whether this agent holds the catalog (a server): readers may serve from the local store.
    pub fn has_catalog(&self) -> bool {
        self.raft.is_some()
    }

    /// Sends `req` to the known servers in turn until one takes it. A server that could not
    /// be connected to is skipped. Once a write was sent its failure is final (the server may
    /// have acted on it); a read (`retry_sent`) goes on to the next server, so a server that
    /// died under a pooled connection does not fail the reads that reach it first.
    async fn call_any(
        &self,
        req: &Request,
        timeout: Duration,
        retry_sent: bool,
    ) -> Result<Reply, WriteError> {
        let order = self.servers.order();
        if order.is_empty() {
            return Err(WriteError::NoServers);
        }
        let mut last = None;
        for addr in order {
            match self.pool.call(&addr, req, timeout).await {
                Ok(reply) => {
                    self.servers.worked(&addr);
                    return Ok(reply);
                }
                Err(e) if e.never_sent() || (retry_sent && e.retry_read()) => {
                    self.servers.failed(&addr);
                    last = Some(e);
                }
                Err(e) => {
                    self.servers.failed(&addr);
                    return Err(rpc_error(e));
                }
            }
        }
        Err(last.map_or(WriteError::NoServers, rpc_error))
    }
}

fn rpc_error(e: RpcError) -> WriteError {
    WriteError::Rpc(e.to_string())
}

fn unpack_write(reply: Result<Reply, WriteError>) -> Result<Response, WriteError> {
    match reply? {
        Reply::Write(r) => r,
        _ => Err(WriteError::Rpc("unexpected reply to Write".into())),
    }
}

/// The node's row, services and checks as this server's catalog has them.
pub fn local_node_state(store: &Store, node: &str) -> NodeState {
    store.read(|t| {
        let (found, _) = t.node_services(node);
        let (checks, _) = t.node_checks(node);
        let (node, services) = match found {
            Some((n, s)) => (Some(n.clone()), s.into_iter().cloned().collect()),
            None => (None, Vec::new()),
        };
        NodeState {
            node,
            services,
            checks: checks.into_iter().cloned().collect(),
        }
    })
}
