//! `/v1/agent/*`: the local agent's view (self, members, services, checks) and registration.

use std::hash::{Hash, Hasher};

use serde_json::{json, Value};

use super::super::body::parse_body;
use super::super::dto::{AgentServiceDto, CheckDto};
use super::super::error::{ApiError, ApiResult};
use super::super::request::{ApiRequest, QueryOptions};
use super::super::response::ApiResponse;
use super::super::HttpState;
use super::required;
use crate::agent::definition::lenient::Obj;
use crate::agent::definition::{decode_check, decode_service};
use crate::agent::Source;
use crate::model::Health;

/// `GET /v1/agent/self`.
pub fn self_(state: &HttpState, req: &ApiRequest) -> ApiResult<ApiResponse> {
    let c = &state.config;
    let id = state.agent.identity();
    let leader = state.cluster.leader_info();
    let leader_addr = leader.leader_addr.clone().unwrap_or_default();
    let s = |v: String| Value::String(v);
    let body = json!({
        "Config": {
            "Datacenter": c.datacenter, "PrimaryDatacenter": c.datacenter, "NodeName": id.node_name,
            "NodeID": id.node_id, "Revision": format!("berth-{}", crate::VERSION), "Server": c.server,
            "Version": crate::CONSUL_VERSION, "BuildDate": "2026-11-21T00:00:00Z",
        },
        "DebugConfig": { "Bootstrap": c.bootstrap, "BootstrapExpect": c.bootstrap_expect, "DevMode": c.dev,
            "ServerMode": c.server, "Datacenter": c.datacenter, "NodeName": id.node_name },
        "Coord": { "Vec": [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], "Error": 1.5, "Adjustment": 0.0, "Height": 1.0e-5 },
        "Member": super::members::self_member(state),
        "Stats": {
            "agent": { "check_monitors": s("0".into()), "check_ttls": s(state.agent.local().checks.len().to_string()),
                "checks": s(state.agent.local().checks.len().to_string()), "services": s(state.agent.local().services.len().to_string()) },
            "build": { "version": s(crate::CONSUL_VERSION.into()), "revision": s(format!("berth-{}", crate::VERSION)), "prerelease": s(String::new()) },
            "consul": { "server": s(c.server.to_string()), "bootstrap": s(c.bootstrap.to_string()),
                "known_datacenters": s("1".into()), "leader": s(leader.is_leader.to_string()), "leader_addr": s(leader_addr) },
            "raft": { "state": s(if leader.is_leader { "Leader" } else { "Follower" }.into()), "term": s(leader.term.to_string()),
                "last_log_index": s(leader.last_log_index.to_string()), "commit_index": s(leader.commit_index.to_string()),
                "applied_index": s(leader.applied_index.to_string()), "num_peers": s(state.cluster.voters().len().saturating_sub(1).to_string()) },
            "runtime": { "arch": s(std::env::consts::ARCH.into()), "os": s(std::env::consts::OS.into()),
                "cpu_count": s(std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).to_string()) },
            "serf_lan": serf_lan_stats(state),
            "serf_wan": { "members": s(if c.server { "1" } else { "0" }.into()) },
        },
        "Meta": id.meta,
        "Docker": state.docker.snapshot(),
        "xDS": { "SupportedProxies": { "envoy": [] }, "Port": -1, "Ports": { "Plaintext": -1, "TLS": -1 } },
    });
    Ok(ApiResponse::json(&body, state.pretty(req)))
}

/// `GET /v1/agent/services`: `{id: AgentService}`.
pub fn services(state: &HttpState, req: &ApiRequest) -> ApiResult<ApiResponse> {
    let local = state.agent.local();
    let dc = state.config.datacenter.as_str();
    let out: std::collections::BTreeMap<&str, AgentServiceDto<'_>> = local
        .services
        .values()
        .map(|s| {
            (
                s.service.id.as_str(),
                AgentServiceDto::new(&s.service, dc, None),
            )
        })
        .collect();
    Ok(ApiResponse::json(&out, state.pretty(req)))
}

/// `GET /v1/agent/service/:id`, with `ContentHash` and `X-Consul-ContentHash`; with
/// `?hash=`, blocks until the service's hash differs from it (or `wait` passes).
pub async fn service(state: &HttpState, req: &ApiRequest, tail: &str) -> ApiResult<ApiResponse> {
    let id = required(tail, "service ID")?;
    let opts = QueryOptions::parse(
        req,
        state.config.default_query_time,
        state.config.max_query_time,
    )?;
    let want = req.param("hash").filter(|h| !h.is_empty());
    let mut changes = state.agent.subscribe_local();
    let deadline = tokio::time::Instant::now() + opts.wait;
    loop {
        changes.borrow_and_update();
        let (body, hash) = render_service(state, id)?;
        if want != Some(hash.as_str()) {
            return Ok(
                ApiResponse::json(&body, state.pretty(req)).header("X-Consul-ContentHash", hash)
            );
        }
        tokio::select! {
            _ = changes.changed() => {}
            _ = tokio::time::sleep_until(deadline) => {
                return Ok(ApiResponse::json(&body, state.pretty(req)).header("X-Consul-ContentHash", hash));
            }
            _ = state.shutdown.cancelled() => {
                return Ok(ApiResponse::json(&body, state.pretty(req)).header("X-Consul-ContentHash", hash));
            }
        }
    }
}

/// The service's JSON (with `ContentHash`) and its hash.
fn render_service(state: &HttpState, id: &str) -> ApiResult<(Value, String)> {
    let local = state.agent.local();
    let Some(s) = local.services.get(id) else {
        return Err(ApiError::NotFound(format!("unknown service ID: {id}")));
    };
    let dc = state.config.datacenter.as_str();
    let plain = serde_json::to_vec(&AgentServiceDto::new(&s.service, dc, None)).unwrap_or_default();
    let mut h = std::collections::hash_map::DefaultHasher::new();
    plain.hash(&mut h);
    let hash = format!("{:016x}", h.finish());
    let body = serde_json::to_value(AgentServiceDto::new(&s.service, dc, Some(hash.clone())))
        .unwrap_or_default();
    Ok((body, hash))
}

/// `GET /v1/agent/checks`: `{id: HealthCheck}` (no serfHealth: that one is catalog-only).
pub fn checks(state: &HttpState, req: &ApiRequest) -> ApiResult<ApiResponse> {
    let local = state.agent.local();
    let out: std::collections::BTreeMap<&str, CheckDto<'_>> = local
        .checks
        .values()
        .map(|c| (c.check.check_id.as_str(), CheckDto::from(&c.check)))
        .collect();
    Ok(ApiResponse::json(&out, state.pretty(req)))
}

/// `PUT /v1/agent/service/register[?replace-existing-checks]`.
pub async fn service_register(state: &HttpState, req: &ApiRequest) -> ApiResult<ApiResponse> {
    let body = parse_body(&req.body)?;
    let def = decode_service(&body)?;
    let replace = req
        .param("replace-existing-checks")
        .is_some_and(|v| v.is_empty() || v == "true" || v == "1");
    state
        .agent
        .register_service(def, replace, Source::Api)
        .await?;
    Ok(ApiResponse::empty())
}

/// `PUT /v1/agent/service/deregister/:id`.
pub async fn service_deregister(state: &HttpState, tail: &str) -> ApiResult<ApiResponse> {
    let id = required(tail, "service ID")?;
    state.agent.deregister_service(id).await?;
    Ok(ApiResponse::empty())
}

/// `PUT /v1/agent/service/maintenance/:id?enable=&reason=`.
pub async fn service_maintenance(
    state: &HttpState,
    req: &ApiRequest,
    tail: &str,
) -> ApiResult<ApiResponse> {
    let id = required(tail, "service ID")?;
    let enable = req
        .bool_param("enable")?
        .ok_or_else(|| ApiError::BadRequest("Missing value for enable".into()))?;
    state
        .agent
        .set_service_maintenance(id, enable, req.param("reason").unwrap_or(""))
        .await?;
    Ok(ApiResponse::empty())
}

/// `PUT /v1/agent/maintenance?enable=&reason=`.
pub async fn maintenance(state: &HttpState, req: &ApiRequest) -> ApiResult<ApiResponse> {
    let enable = req
        .bool_param("enable")?
        .ok_or_else(|| ApiError::BadRequest("Missing value for enable".into()))?;
    state
        .agent
        .set_node_maintenance(enable, req.param("reason").unwrap_or(""))
        .await;
    Ok(ApiResponse::empty())
}

/// `PUT /v1/agent/check/register`.
pub async fn check_register(state: &HttpState, req: &ApiRequest) -> ApiResult<ApiResponse> {
    let body = parse_body(&req.body)?;
    let def = decode_check(&body)?;
    state.agent.register_check(def, Source::Api).await?;
    Ok(ApiResponse::empty())
}

/// `PUT /v1/agent/check/deregister/:id`; an unknown ID is fine (clients clean up blindly).
pub async fn check_deregister(state: &HttpState, tail: &str) -> ApiResult<ApiResponse> {
    let id = required(tail, "check ID")?;
    match state.agent.deregister_check(id).await {
        Ok(()) | Err(crate::agent::AgentError::NotFound(_)) => Ok(ApiResponse::empty()),
        Err(e) => Err(e.into()),
    }
}

/// `PUT|GET /v1/agent/check/{pass,warn,fail}/:id?note=`.
pub async fn check_ttl(
    state: &HttpState,
    req: &ApiRequest,
    tail: &str,
    status: Health,
) -> ApiResult<ApiResponse> {
    let id = required(tail, "check ID")?;
    state
        .agent
        .update_ttl(id, status, req.param("note").unwrap_or(""))
        .await?;
    Ok(ApiResponse::empty())
}

/// `PUT /v1/agent/check/update/:id` with `{Status, Output}`.
pub async fn check_update(
    state: &HttpState,
    req: &ApiRequest,
    tail: &str,
) -> ApiResult<ApiResponse> {
    let id = required(tail, "check ID")?;
    let body = parse_body(&req.body)?;
    let o = Obj::new(&body, "")?;
    let status = o.string(&["status"])?.unwrap_or_default();
    let status = Health::parse(&status)
        .ok_or_else(|| ApiError::BadRequest(format!("Invalid check status: {status:?}")))?;
    let output = o.string(&["output"])?.unwrap_or_default();
    state.agent.update_ttl(id, status, &output).await?;
    Ok(ApiResponse::empty())
}

/// `PUT /v1/agent/reload`: re-reads the config files, like SIGHUP.
pub async fn reload(state: &HttpState) -> ApiResult<ApiResponse> {
    // try_send: once the agent's main loop has stopped nobody reads, and a handler must not hang.
    state.reload.try_send(()).map_err(|_| {
        ApiError::Internal("agent is shutting down or already reloading; try again".into())
    })?;
    Ok(ApiResponse::empty())
}

/// `Stats.serf_lan`: member counts by status and gossip traffic (strings, as Consul's stats).
fn serf_lan_stats(state: &HttpState) -> Value {
    use crate::gossip::MemberStatus;
    let members = state.gossip.members();
    let count = |st: MemberStatus| {
        members
            .iter()
            .filter(|m| m.status == st)
            .count()
            .to_string()
    };
    let st = state.gossip.stats();
    json!({
        "members": members.iter().filter(|m| m.status.is_active()).count().to_string(),
        "failed": count(MemberStatus::Failed),
        "left": count(MemberStatus::Left),
        "encrypted": state.gossip.encrypted().to_string(),
        "packets_sent": st.packets_sent.to_string(),
        "bytes_sent": st.bytes_sent.to_string(),
        "packets_received": st.packets_received.to_string(),
        "bytes_received": st.bytes_received.to_string(),
        "dropped": st.dropped.to_string(),
    })
}
