//! The one route table: every path Berth answers, the methods each allows, and its handler.

use warp::http::{Method, StatusCode};

use super::error::{ApiError, ApiResult};
use super::handlers::{agent, catalog, health, kv, members, operator, status, ui};
use super::request::ApiRequest;
use super::response::ApiResponse;
use super::HttpState;

/// Which handler a route calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum H {
    StatusLeader,
    StatusPeers,
    OperatorRaftConfiguration,
    OperatorRaftPeer,
    CatalogRegister,
    CatalogDeregister,
    CatalogDatacenters,
    CatalogNodes,
    CatalogServices,
    CatalogService,
    CatalogNode,
    HealthService,
    HealthChecks,
    HealthNode,
    HealthState,
    UiServices,
    UiNodes,
    AgentSelf,
    AgentTemplates,
    AgentMembers,
    AgentServices,
    AgentService,
    AgentServiceRegister,
    AgentServiceDeregister,
    AgentServiceMaintenance,
    AgentChecks,
    AgentCheckRegister,
    AgentCheckDeregister,
    AgentCheckPass,
    AgentCheckWarn,
    AgentCheckFail,
    AgentCheckUpdate,
    AgentMaintenance,
    AgentReload,
    AgentLeave,
    AgentJoin,
    AgentForceLeave,
    Kv,
}

const GET: &[Method] = &[Method::GET];
const PUT: &[Method] = &[Method::PUT];
const GET_PUT: &[Method] = &[Method::GET, Method::PUT];
const DELETE: &[Method] = &[Method::DELETE];
const KV: &[Method] = &[Method::GET, Method::PUT, Method::DELETE];

/// (path, whether the path is a prefix followed by a parameter, methods, handler). First match
/// wins, so longer prefixes come before shorter ones.
const ROUTES: &[(&str, bool, &[Method], H)] = &[
    ("/v1/status/leader", false, GET, H::StatusLeader),
    ("/v1/status/peers", false, GET, H::StatusPeers),
    ("/v1/internal/ui/services", false, GET, H::UiServices),
    ("/v1/internal/ui/nodes", false, GET, H::UiNodes),
    (
        "/v1/operator/raft/configuration",
        false,
        GET,
        H::OperatorRaftConfiguration,
    ),
    ("/v1/operator/raft/peer", false, DELETE, H::OperatorRaftPeer),
    ("/v1/catalog/register", false, PUT, H::CatalogRegister),
    ("/v1/catalog/deregister", false, PUT, H::CatalogDeregister),
    ("/v1/catalog/datacenters", false, GET, H::CatalogDatacenters),
    ("/v1/catalog/nodes", false, GET, H::CatalogNodes),
    ("/v1/catalog/services", false, GET, H::CatalogServices),
    ("/v1/catalog/service/", true, GET, H::CatalogService),
    ("/v1/catalog/node/", true, GET, H::CatalogNode),
    ("/v1/health/service/", true, GET, H::HealthService),
    ("/v1/health/checks/", true, GET, H::HealthChecks),
    ("/v1/health/node/", true, GET, H::HealthNode),
    ("/v1/health/state/", true, GET, H::HealthState),
    ("/v1/agent/self", false, GET, H::AgentSelf),
    ("/v1/agent/templates", false, GET, H::AgentTemplates),
    ("/v1/agent/members", false, GET, H::AgentMembers),
    ("/v1/agent/services", false, GET, H::AgentServices),
    (
        "/v1/agent/service/register",
        false,
        PUT,
        H::AgentServiceRegister,
    ),
    (
        "/v1/agent/service/deregister/",
        true,
        PUT,
        H::AgentServiceDeregister,
    ),
    (
        "/v1/agent/service/maintenance/",
        true,
        PUT,
        H::AgentServiceMaintenance,
    ),
    ("/v1/agent/service/", true, GET, H::AgentService),
    ("/v1/agent/checks", false, GET, H::AgentChecks),
    (
        "/v1/agent/check/register",
        false,
        PUT,
        H::AgentCheckRegister,
    ),
    (
        "/v1/agent/check/deregister/",
        true,
        PUT,
        H::AgentCheckDeregister,
    ),
    ("/v1/agent/check/pass/", true, GET_PUT, H::AgentCheckPass),
    ("/v1/agent/check/warn/", true, GET_PUT, H::AgentCheckWarn),
    ("/v1/agent/check/fail/", true, GET_PUT, H::AgentCheckFail),
    ("/v1/agent/check/update/", true, PUT, H::AgentCheckUpdate),
    ("/v1/agent/maintenance", false, PUT, H::AgentMaintenance),
    ("/v1/agent/reload", false, PUT, H::AgentReload),
    ("/v1/agent/leave", false, PUT, H::AgentLeave),
    ("/v1/agent/join/", true, PUT, H::AgentJoin),
    ("/v1/agent/force-leave/", true, PUT, H::AgentForceLeave),
    ("/v1/kv/", true, KV, H::Kv),
];

/// Answers one request.
pub async fn dispatch(state: &HttpState, req: ApiRequest) -> ApiResponse {
    match route(state, &req).await {
        Ok(resp) => resp,
        Err(e) => ApiResponse::from_error(&e),
    }
}

/// Whether another agent must answer: `/v1/agent/*` is always local; `/v1/status/*` is local on
/// servers (each reports what it knows); everything else follows `forward::target`.
fn forward_target(
    state: &HttpState,
    req: &ApiRequest,
    h: H,
) -> ApiResult<Option<super::forward::Target>> {
    let status = matches!(h, H::StatusLeader | H::StatusPeers);
    let agent = matches!(
        h,
        H::AgentSelf
            | H::AgentTemplates
            | H::AgentMembers
            | H::AgentServices
            | H::AgentService
            | H::AgentServiceRegister
            | H::AgentServiceDeregister
            | H::AgentServiceMaintenance
            | H::AgentChecks
            | H::AgentCheckRegister
            | H::AgentCheckDeregister
            | H::AgentCheckPass
            | H::AgentCheckWarn
            | H::AgentCheckFail
            | H::AgentCheckUpdate
            | H::AgentMaintenance
            | H::AgentReload
            | H::AgentLeave
            | H::AgentJoin
            | H::AgentForceLeave
    );
    if agent || (status && state.cluster.has_catalog()) {
        return Ok(None);
    }
    super::forward::target(state, req)
}

fn allow_header(methods: &[Method]) -> String {
    let mut s = String::from("OPTIONS");
    for m in methods {
        s.push(',');
        s.push_str(m.as_str());
    }
    s
}

async fn route(state: &HttpState, req: &ApiRequest) -> ApiResult<ApiResponse> {
    let path = req.path.as_str();
    let found = ROUTES.iter().find_map(|(p, prefix, methods, h)| {
        if *prefix {
            path.strip_prefix(p).map(|tail| (tail, *methods, *h))
        } else {
            (path == *p).then_some(("", *methods, *h))
        }
    });
    let Some((tail, methods, h)) = found else {
        return not_routed(state, req);
    };
    if req.method == Method::OPTIONS {
        return Ok(ApiResponse::empty().header("Allow", allow_header(methods)));
    }
    if !methods.contains(&req.method) {
        return Err(ApiError::MethodNotAllowed {
            method: req.method.to_string(),
            allow: allow_header(methods),
        });
    }
    if req.param("filter").is_some_and(|f| !f.is_empty()) {
        return Err(ApiError::BadRequest(
            "filter expressions (?filter=) are not supported by this Berth build yet".into(),
        ));
    }
    if let Some(dc) = req.param("dc") {
        if !dc.is_empty() && !dc.eq_ignore_ascii_case(&state.config.datacenter) {
            return Err(ApiError::Internal("No path to datacenter".into()));
        }
    }
    if let Some(target) = forward_target(state, req, h)? {
        return super::forward::forward(state, target, req).await;
    }
    match h {
        H::StatusLeader => status::leader(state),
        H::StatusPeers => status::peers(state),
        H::OperatorRaftConfiguration => operator::raft_configuration(state, req),
        H::OperatorRaftPeer => operator::raft_peer(state, req).await,
        H::CatalogRegister => catalog::register(state, req).await,
        H::CatalogDeregister => catalog::deregister(state, req).await,
        H::CatalogDatacenters => catalog::datacenters(state, req),
        H::CatalogNodes => catalog::nodes(state, req).await,
        H::UiServices => ui::services(state, req).await,
        H::UiNodes => ui::nodes(state, req).await,
        H::CatalogServices => catalog::services(state, req).await,
        H::CatalogService => catalog::service(state, req, tail).await,
        H::CatalogNode => catalog::node(state, req, tail).await,
        H::HealthService => health::service(state, req, tail).await,
        H::HealthChecks => health::checks(state, req, tail).await,
        H::HealthNode => health::node(state, req, tail).await,
        H::HealthState => health::state(state, req, tail).await,
        H::AgentSelf => agent::self_(state, req),
        H::AgentTemplates => Ok(ApiResponse::json(
            &state.templates.snapshot(),
            state.pretty(req),
        )),
        H::AgentMembers => members::members(state, req),
        H::AgentServices => agent::services(state, req),
        H::AgentService => agent::service(state, req, tail).await,
        H::AgentServiceRegister => agent::service_register(state, req).await,
        H::AgentServiceDeregister => agent::service_deregister(state, tail).await,
        H::AgentServiceMaintenance => agent::service_maintenance(state, req, tail).await,
        H::AgentChecks => agent::checks(state, req),
        H::AgentCheckRegister => agent::check_register(state, req).await,
        H::AgentCheckDeregister => agent::check_deregister(state, tail).await,
        H::AgentCheckPass => {
            agent::check_ttl(state, req, tail, crate::model::Health::Passing).await
        }
        H::AgentCheckWarn => {
            agent::check_ttl(state, req, tail, crate::model::Health::Warning).await
        }
        H::AgentCheckFail => {
            agent::check_ttl(state, req, tail, crate::model::Health::Critical).await
        }
        H::AgentCheckUpdate => agent::check_update(state, req, tail).await,
        H::AgentMaintenance => agent::maintenance(state, req).await,
        H::AgentReload => agent::reload(state).await,
        H::AgentLeave => members::leave(state).await,
        H::AgentJoin => members::join(state, req, tail).await,
        H::AgentForceLeave => members::force_leave(state, req, tail).await,
        H::Kv => kv::handle(state, req, tail).await,
    }
}

/// `/` and everything outside the route table: the web UI's redirects and files (GET and
/// HEAD only), else Consul's 404s.
fn not_routed(state: &HttpState, req: &ApiRequest) -> ApiResult<ApiResponse> {
    let path = req.path.as_str();
    let content = state.config.ui_content_path.as_str();
    let ui_path = !path.starts_with("/v1/")
        && (path == "/" || path == content.trim_end_matches('/') || path.starts_with(content));
    if state.config.ui && ui_path && req.method != Method::GET && req.method != Method::HEAD {
        return Err(ApiError::MethodNotAllowed {
            method: req.method.to_string(),
            allow: "GET, HEAD".into(),
        });
    }
    if state.config.ui {
        if path == "/" && content != "/" {
            return Ok(
                ApiResponse::text(StatusCode::MOVED_PERMANENTLY, "").header("Location", content)
            );
        }
        if path == content.trim_end_matches('/') {
            return Ok(
                ApiResponse::text(StatusCode::MOVED_PERMANENTLY, "").header("Location", content)
            );
        }
        if let Some(rest) = path.strip_prefix(content) {
            if let Some((ty, body)) = super::ui::asset(rest) {
                let mut r = ApiResponse::text(StatusCode::OK, body)
                    // Revalidated on each load, so an upgraded agent serves its own UI.
                    .header("Cache-Control", "no-cache")
                    .header("X-Content-Type-Options", "nosniff")
                    // The browser enforces "nothing but this agent", and no framing (a
                    // Delete button must not be clickable through someone else's page).
                    .header(
                        "Content-Security-Policy",
                        "default-src 'self'; frame-ancestors 'none'",
                    )
                    .header("X-Frame-Options", "DENY");
                r.content_type = ty;
                return Ok(r);
            }
        }
    } else if path == "/" {
        return Ok(ApiResponse::text(
            StatusCode::OK,
            "Consul Agent: UI disabled. To enable, set ui_config.enabled=true in the agent configuration and restart.",
        ));
    }
    if path.contains("/v1/") {
        return Err(ApiError::NotFound(
            "Invalid URL path: not a recognized HTTP API endpoint".into(),
        ));
    }
    Err(ApiError::NotFound(
        "Invalid URL path: if attempting to use the HTTP API, ensure the path starts with '/v1/'"
            .into(),
    ))
}
