//! `/v1/operator/raft/*`: the Raft configuration with Consul's server names and IDs, and
//! removing a peer. Served from this server's Raft node; node names, node UUIDs and Raft
//! protocol versions come from the gossip members, matched by server RPC address as Consul
//! does (then by Raft id).

use std::net::SocketAddr;

use serde::Serialize;

use super::super::error::{ApiError, ApiResult};
use super::super::request::ApiRequest;
use super::super::response::ApiResponse;
use super::super::HttpState;
use crate::gossip::Member;
use crate::raft::{raft_id, RaftNode, RaftServer, WriteError};

/// One server in Consul's `RaftConfigurationResponse` (field order as Consul's struct).
#[derive(Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct RaftServerDto {
    /// The node UUID (Raft protocol 3 server ID), or the numeric Raft id when gossip does
    /// not know the server.
    #[serde(rename = "ID")]
    pub id: String,
    /// Node name, `(unknown)` when gossip does not know the server.
    pub node: String,
    /// Server RPC address.
    pub address: String,
    /// It leads.
    pub leader: bool,
    /// The member's `raft_vsn` tag (`unknown` without one).
    pub protocol_version: String,
    /// It votes.
    pub voter: bool,
    /// Its last log index as the leader sees it (0 when unknown).
    pub last_index: u64,
}

/// `GET /v1/operator/raft/configuration`'s body.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RaftConfigurationDto {
    /// Voters and non-voters.
    pub servers: Vec<RaftServerDto>,
    /// Always 0, as Consul ≥ 1.13 answers (clients check it).
    pub index: u64,
}

/// Names each Raft server from the gossip members.
pub fn describe(servers: &[RaftServer], members: &[Member]) -> Vec<RaftServerDto> {
    let tag = |m: &'_ Member, k: &str| m.tags.get(k).cloned();
    let rpc_addr = |m: &Member| {
        let port: u16 = m.tags.get("port")?.parse().ok()?;
        Some(SocketAddr::new(m.addr, port).to_string())
    };
    let raft_members: Vec<&Member> = members
        .iter()
        .filter(|m| m.tags.get("role").map(String::as_str) == Some("consul"))
        .collect();
    servers
        .iter()
        .map(|s| {
            let member = raft_members
                .iter()
                .find(|m| rpc_addr(m).as_deref() == Some(s.address.as_str()))
                .or_else(|| {
                    raft_members
                        .iter()
                        .find(|m| tag(m, "id").is_some_and(|id| raft_id(&id) == s.id))
                });
            let uuid = member
                .and_then(|m| tag(m, "id"))
                .filter(|id| raft_id(id) == s.id);
            RaftServerDto {
                id: uuid.unwrap_or_else(|| s.id.to_string()),
                node: member.map_or_else(|| "(unknown)".into(), |m| m.name.clone()),
                address: s.address.clone(),
                leader: s.leader,
                protocol_version: member
                    .and_then(|m| tag(m, "raft_vsn"))
                    .unwrap_or_else(|| "unknown".into()),
                voter: s.voter,
                last_index: s.last_index,
            }
        })
        .collect()
}

/// Which server `?id=` (node UUID or numeric Raft id) or `?address=` names; Consul's error
/// texts when it is not in the configuration.
pub fn find_peer(
    servers: &[RaftServer],
    id: Option<&str>,
    address: Option<&str>,
) -> Result<u64, String> {
    if let Some(addr) = address {
        return servers
            .iter()
            .find(|s| s.address == addr)
            .map(|s| s.id)
            .ok_or_else(|| format!("address {addr:?} was not found in the Raft configuration"));
    }
    let id = id.unwrap_or_default();
    let wanted = uuid::Uuid::parse_str(id)
        .ok()
        .map(|_| raft_id(id))
        .or_else(|| id.parse::<u64>().ok());
    wanted
        .filter(|w| servers.iter().any(|s| s.id == *w))
        .ok_or_else(|| format!("id {id:?} was not found in the Raft configuration"))
}

/// This server's Raft node, or the error a client agent answers with.
fn raft(state: &HttpState) -> ApiResult<&RaftNode> {
    state
        .cluster
        .raft()
        .ok_or_else(|| WriteError::NoServers.into())
}

/// `GET /v1/operator/raft/configuration[?stale]`.
pub fn raft_configuration(state: &HttpState, req: &ApiRequest) -> ApiResult<ApiResponse> {
    let raft = raft(state)?;
    if !req.flag("stale") && !raft.leader_info().known_leader {
        return Err(WriteError::NoLeader.into());
    }
    let body = RaftConfigurationDto {
        servers: describe(&raft.configuration(), &state.gossip.members()),
        index: 0,
    };
    Ok(ApiResponse::json(&body, state.pretty(req)))
}

/// `DELETE /v1/operator/raft/peer?address=ip:port` or `?id=`: 200 with an empty body.
pub async fn raft_peer(state: &HttpState, req: &ApiRequest) -> ApiResult<ApiResponse> {
    let (id, address) = (req.param("id"), req.param("address"));
    match (id, address) {
        (None, None) => {
            return Err(ApiError::BadRequest(
                "Must specify either ?id with the server's ID or ?address with IP:port of peer to remove"
                    .into(),
            ))
        }
        (Some(_), Some(_)) => {
            return Err(ApiError::BadRequest(
                "Must specify only one of ?id or ?address".into(),
            ))
        }
        _ => {}
    }
    let raft = raft(state)?;
    let target = find_peer(&raft.configuration(), id, address).map_err(ApiError::Internal)?;
    let peer = address.or(id).unwrap_or_default();
    if let Err(e) = raft.remove_server(target).await {
        tracing::warn!("agent: Failed to remove Raft peer: peer={peer} error={e}");
        return Err(e.into());
    }
    tracing::warn!("agent: Removed Raft peer: peer={peer}");
    Ok(ApiResponse::empty())
}

#[cfg(test)]
mod tests;
