//! `/v1/agent/members`, `join`, `leave`, `force-leave`: the LAN gossip pool through Consul's API.

use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::{json, Value};

use super::super::error::{ApiError, ApiResult};
use super::super::request::ApiRequest;
use super::super::response::ApiResponse;
use super::super::HttpState;
use super::required;
use crate::gossip::{GossipError, Member};

/// How long a leave over HTTP may take to reach the pool.
const LEAVE_TIMEOUT: Duration = Duration::from_secs(5);

/// Consul's `Member` JSON.
pub fn member_json(m: &Member) -> Value {
    json!({
        "Name": m.name, "Addr": m.addr.to_string(), "Port": m.port, "Tags": m.tags, "Status": m.status.code(),
        "ProtocolMin": 1, "ProtocolMax": 5, "ProtocolCur": 2, "DelegateMin": 2, "DelegateMax": 5, "DelegateCur": 4,
    })
}

/// This agent as a member (what `/v1/agent/self` shows under `Member`).
pub fn self_member(state: &HttpState) -> Value {
    let me = &state.agent.identity().node_name;
    state
        .gossip
        .members()
        .iter()
        .find(|m| &m.name == me)
        .map(member_json)
        .unwrap_or(Value::Null)
}

/// `GET /v1/agent/members[?wan]`.
pub fn members(state: &HttpState, req: &ApiRequest) -> ApiResult<ApiResponse> {
    if req.param("wan").is_some_and(|v| !v.is_empty()) {
        // The WAN pool holds servers only, named `<node>.<dc>`, on the serf_wan port. WAN
        // gossip between datacenters is not built; a server is alone in its WAN pool.
        if !state.config.server {
            return Ok(ApiResponse::json(&Vec::<Value>::new(), state.pretty(req)));
        }
        let mut m = self_member(state);
        m["Name"] = Value::String(format!(
            "{}.{}",
            state.agent.identity().node_name,
            state.config.datacenter
        ));
        m["Port"] = json!(state.config.ports.serf_wan.unwrap_or(8302));
        return Ok(ApiResponse::json(&[m], state.pretty(req)));
    }
    let all: Vec<Value> = state.gossip.members().iter().map(member_json).collect();
    Ok(ApiResponse::json(&all, state.pretty(req)))
}

fn gossip_error(e: GossipError) -> ApiError {
    match e {
        GossipError::NotFound(m) => ApiError::NotFound(m),
        other => ApiError::Internal(other.to_string()),
    }
}

/// `PUT /v1/agent/join/:address`.
pub async fn join(state: &HttpState, req: &ApiRequest, tail: &str) -> ApiResult<ApiResponse> {
    let addr = required(tail, "address to join")?;
    if req.param("wan").is_some_and(|v| !v.is_empty()) {
        return Err(ApiError::Internal(
            "WAN gossip (joining other datacenters) is not available in this Berth build yet"
                .into(),
        ));
    }
    state
        .gossip
        .join(&[addr.to_string()])
        .await
        .map_err(gossip_error)?;
    Ok(ApiResponse::empty())
}

/// `PUT /v1/agent/leave`: broadcast a graceful leave, then stop the agent (the process exits;
/// Consul's clients expect the API to go away within seconds).
pub async fn leave(state: &HttpState) -> ApiResult<ApiResponse> {
    tracing::info!("agent: graceful leave requested over HTTP");
    state
        .gossip
        .leave(LEAVE_TIMEOUT)
        .await
        .map_err(gossip_error)?;
    state.left.store(true, Ordering::SeqCst);
    state.stop_agent.cancel();
    Ok(ApiResponse::empty())
}

/// `PUT /v1/agent/force-leave/:node[?prune]`.
pub async fn force_leave(
    state: &HttpState,
    req: &ApiRequest,
    tail: &str,
) -> ApiResult<ApiResponse> {
    let node = required(tail, "node name")?;
    let prune = req.flag("prune") && req.param("prune") != Some("false");
    state
        .gossip
        .force_leave(node, prune)
        .await
        .map_err(gossip_error)?;
    Ok(ApiResponse::empty())
}
