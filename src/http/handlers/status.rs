//! `/v1/status/*`: the leader's and the voters' server RPC addresses.

use super::super::error::ApiResult;
use super::super::response::ApiResponse;
use super::super::HttpState;

/// `GET /v1/status/leader`: `"ip:port"`, or `""` without a leader.
pub fn leader(state: &HttpState) -> ApiResult<ApiResponse> {
    let addr = state.cluster.leader_info().leader_addr.unwrap_or_default();
    Ok(ApiResponse::json(&addr, false))
}

/// `GET /v1/status/peers`: the Raft voters' addresses.
pub fn peers(state: &HttpState) -> ApiResult<ApiResponse> {
    let peers: Vec<String> = state
        .cluster
        .voters()
        .into_iter()
        .map(|(_, addr)| addr)
        .collect();
    Ok(ApiResponse::json(&peers, false))
}
