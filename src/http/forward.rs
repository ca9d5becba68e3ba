//! Which API requests this agent cannot answer itself, and carrying them to the agent that can.
//!
//! Consul's rules: a client agent sends every catalog, health, KV, status and operator request
//! to a server; a server answers `?stale` reads from its own state (unless it has not heard
//! from the leader within `?max_stale`) and sends every other read, and every write, to the
//! leader. A request is carried at most twice (client → server → leader), so servers that
//! disagree about the leader cannot bounce it. The answer comes back unchanged, headers and
//! all, so `X-Consul-Index` and `X-Consul-KnownLeader` are the serving server's.

use std::time::Duration;

use bytes::Bytes;
use warp::http::{HeaderMap, HeaderValue, Method, StatusCode};

use super::error::{ApiError, ApiResult};
use super::request::ApiRequest;
use super::response::ApiResponse;
use super::HttpState;
use crate::rpc::{ForwardedHttp, ForwardedResponse};

/// Where a request must go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Any server (this agent is a client).
    AnyServer,
    /// The leader, at this RPC address.
    Leader(String),
}

/// Hops after which a server answers (or refuses) instead of forwarding again.
const MAX_HOPS: u8 = 2;

/// Extra time a forwarded request gets beyond its own blocking wait.
const FORWARD_SLACK: Duration = Duration::from_secs(15);

/// Decides whether `req` (a catalog-family route, never `/v1/agent/*`) is answered elsewhere.
pub fn target(state: &HttpState, req: &ApiRequest) -> ApiResult<Option<Target>> {
    let Some(raft) = state.cluster.raft() else {
        return Ok(Some(Target::AnyServer));
    };
    let info = raft.leader_info();
    if info.is_leader {
        return Ok(None);
    }
    let read = req.method == Method::GET || req.method == Method::HEAD;
    let stale = req.flag("stale") || req.param("max_stale").is_some();
    if stale && req.flag("consistent") {
        return Err(ApiError::BadRequest(
            "Cannot specify ?stale with ?consistent, conflicting semantics.".into(),
        ));
    }
    if read && stale {
        let too_old = match req.param("max_stale").filter(|v| !v.is_empty()) {
            None => false,
            Some(v) => {
                let limit = crate::duration::parse(v)
                    .map_err(|_| ApiError::BadRequest(format!("Invalid max_stale value {v:?}")))?;
                !info.known_leader || Duration::from_millis(info.last_contact_ms) > limit
            }
        };
        if !too_old {
            return Ok(None);
        }
    }
    if req.hops >= MAX_HOPS {
        return Err(ApiError::Internal("No cluster leader".into()));
    }
    match info.leader_addr {
        Some(addr) if info.known_leader => Ok(Some(Target::Leader(addr))),
        _ => Err(ApiError::Internal("No cluster leader".into())),
    }
}

/// Sends `req` to `target` and returns its answer as this agent's.
pub async fn forward(
    state: &HttpState,
    target: Target,
    req: &ApiRequest,
) -> ApiResult<ApiResponse> {
    let timeout = deadline(state, req);
    let mut query = req.query.clone();
    if blocking(req) && req.param("wait").is_none_or(str::is_empty) {
        // The serving agent would block for its own default; ours bounds the round trip.
        query.retain(|(k, _)| k != "wait");
        query.push((
            "wait".into(),
            crate::duration::format(state.config.default_query_time),
        ));
    }
    let f = ForwardedHttp {
        method: req.method.to_string(),
        path: req.path.clone(),
        query,
        headers: req
            .headers
            .iter()
            .filter(|(name, _)| !HOP_BY_HOP.contains(&name.as_str()))
            .filter_map(|(name, v)| Some((name.to_string(), v.to_str().ok()?.to_string())))
            .collect(),
        body: req.body.to_vec(),
        hops: req.hops + 1,
    };
    let addr = match &target {
        Target::AnyServer => None,
        Target::Leader(a) => Some(a.as_str()),
    };
    let resp = tokio::select! {
        r = state.cluster.forward_http(addr, f, timeout) => r?,
        _ = state.shutdown.cancelled() => {
            return Err(ApiError::Internal("agent is shutting down".into()))
        }
    };
    Ok(into_response(resp))
}

/// Answers a request another agent forwarded here, through this agent's own route table.
/// Only what agents forward is served: `/v1/agent/*` belongs to the local agent and is never
/// reachable over the server port.
pub async fn serve_forwarded(state: &HttpState, f: ForwardedHttp) -> ForwardedResponse {
    let resp = match from_forwarded(f) {
        Ok(req) if req.hops == 0 || req.path.starts_with("/v1/agent/") => ApiResponse::from_error(
            &ApiError::Forbidden(format!("{} is not served over server RPC", req.path)),
        ),
        Ok(req) => super::routes::dispatch(state, req).await,
        Err(e) => ApiResponse::from_error(&e),
    };
    let mut headers = vec![("Content-Type".to_string(), resp.content_type.to_string())];
    headers.extend(
        resp.headers
            .iter()
            .filter_map(|(n, v)| Some((n.to_string(), v.to_str().ok()?.to_string()))),
    );
    ForwardedResponse {
        status: resp.status.as_u16(),
        headers,
        body: resp.body.to_vec(),
    }
}

/// Whether the request is a blocking query (`?index` above 0).
fn blocking(req: &ApiRequest) -> bool {
    req.param("index")
        .is_some_and(|i| !i.is_empty() && i != "0")
}

/// Request headers that describe one connection, not the request.
const HOP_BY_HOP: &[&str] = &[
    "host",
    "connection",
    "content-length",
    "transfer-encoding",
    "keep-alive",
];

/// Response headers our handlers set; others from a peer are dropped.
const KNOWN_HEADERS: &[&str] = &[
    "Allow",
    "X-Consul-ContentHash",
    "X-Consul-Effective-Consistency",
    "X-Consul-Index",
    "X-Consul-KnownLeader",
    "X-Consul-LastContact",
];

/// Content types our handlers use.
const CONTENT_TYPES: &[&str] = &["application/json", "text/plain; charset=utf-8"];

fn from_forwarded(f: ForwardedHttp) -> ApiResult<ApiRequest> {
    let method = Method::from_bytes(f.method.as_bytes())
        .map_err(|_| ApiError::BadRequest(format!("Invalid method {:?}", f.method)))?;
    let mut headers = HeaderMap::new();
    for (name, value) in f.headers {
        if let (Ok(n), Ok(v)) = (
            warp::http::HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            headers.append(n, v);
        }
    }
    Ok(ApiRequest {
        method,
        path: f.path,
        query: f.query,
        headers,
        body: Bytes::from(f.body),
        hops: f.hops,
    })
}

fn into_response(r: ForwardedResponse) -> ApiResponse {
    let mut resp = ApiResponse::text(
        StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        Bytes::from(r.body),
    );
    for (name, value) in &r.headers {
        if name.eq_ignore_ascii_case("content-type") {
            if let Some(ct) = CONTENT_TYPES.iter().find(|c| c.eq_ignore_ascii_case(value)) {
                resp.content_type = ct;
            }
        } else if let Some(known) = KNOWN_HEADERS.iter().find(|k| k.eq_ignore_ascii_case(name)) {
            resp = resp.header(known, value);
        }
    }
    resp
}

/// How long to wait for a forwarded answer that does not block: a write waits at most its
/// commit timeout on the leader, so a server that stays silent longer is gone.
const NON_BLOCKING_DEADLINE: Duration = Duration::from_secs(10);

/// How long to wait for a forwarded answer: the request's own blocking wait plus slack.
fn deadline(state: &HttpState, req: &ApiRequest) -> Duration {
    if !blocking(req) {
        return NON_BLOCKING_DEADLINE;
    }
    let wait = req
        .param("wait")
        .and_then(|w| crate::duration::parse(w).ok())
        .filter(|w| !w.is_zero())
        .unwrap_or(state.config.default_query_time)
        .min(state.config.max_query_time);
    wait + wait / 16 + FORWARD_SLACK
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_come_back_with_their_status_headers_and_type() {
        let r = into_response(ForwardedResponse {
            status: 404,
            headers: vec![
                ("Content-Type".into(), "application/json".into()),
                ("X-Consul-Index".into(), "7".into()),
                ("X-Evil".into(), "1".into()),
            ],
            body: b"[]".to_vec(),
        });
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        assert_eq!(r.content_type, "application/json");
        assert_eq!(r.headers.len(), 1);
        assert_eq!(r.headers[0].0, "X-Consul-Index");
        assert_eq!(&r.body[..], b"[]");
    }

    #[test]
    fn forwarded_requests_keep_method_query_body_and_hops() {
        let req = from_forwarded(ForwardedHttp {
            method: "PUT".into(),
            path: "/v1/kv/a".into(),
            query: vec![("cas".into(), "0".into())],
            headers: vec![("X-Consul-Token".into(), "t".into())],
            body: b"v".to_vec(),
            hops: 1,
        })
        .unwrap();
        assert_eq!(req.method, Method::PUT);
        assert_eq!(req.param("cas"), Some("0"));
        assert_eq!(req.headers["x-consul-token"], "t");
        assert_eq!(&req.body[..], b"v");
        assert_eq!(req.hops, 1);
        assert!(from_forwarded(ForwardedHttp {
            method: "BAD METHOD".into(),
            path: "/".into(),
            query: vec![],
            headers: vec![],
            body: vec![],
            hops: 1,
        })
        .is_err());
    }
}
