//! `/v1/health/*`: instances with their checks, and checks by service, node or state.

use super::super::dto::{CheckDto, ServiceHealthDto};
use super::super::error::{ApiError, ApiResult};
use super::super::request::{parse_bool, ApiRequest};
use super::super::response::ApiResponse;
use super::super::HttpState;
use super::{json, node_meta_filter, node_meta_matches, read, required};
use crate::catalog::watch::HEALTH;
use crate::catalog::Table;
use crate::model::{Check, Health};

fn checks_json(checks: &[&Check], pretty: bool) -> Vec<u8> {
    json(
        &checks
            .iter()
            .map(|c| CheckDto::from(*c))
            .collect::<Vec<_>>(),
        pretty,
    )
}

/// `GET /v1/health/service/:name?tag=&passing`.
pub async fn service(state: &HttpState, req: &ApiRequest, tail: &str) -> ApiResult<ApiResponse> {
    let name = required(tail, "service name")?;
    let tags = req.params("tag");
    let meta = node_meta_filter(req);
    // `?passing` and `?passing=` filter; so does any ParseBool-true value.
    let passing = match req.param("passing") {
        None => false,
        Some("") => true,
        Some(v) => parse_bool(v)
            .ok_or_else(|| ApiError::BadRequest(format!("Invalid value for passing: {v:?}")))?,
    };
    read(
        state,
        req,
        HEALTH,
        |t| t.service_index(name),
        |t, pretty| {
            let (mut rows, _) = t.health_service(name, &tags, passing);
            rows.retain(|h| node_meta_matches(&h.node.meta, &meta));
            json(
                &rows.iter().map(ServiceHealthDto::from).collect::<Vec<_>>(),
                pretty,
            )
        },
    )
    .await
}

/// `GET /v1/health/checks/:service`.
pub async fn checks(state: &HttpState, req: &ApiRequest, tail: &str) -> ApiResult<ApiResponse> {
    let name = required(tail, "service name")?;
    read(
        state,
        req,
        HEALTH,
        |t| t.service_index(name),
        |t, pretty| checks_json(&t.service_checks(name).0, pretty),
    )
    .await
}

/// `GET /v1/health/node/:node`.
pub async fn node(state: &HttpState, req: &ApiRequest, tail: &str) -> ApiResult<ApiResponse> {
    let name = required(tail, "node name")?;
    read(
        state,
        req,
        HEALTH,
        |t| t.node_index(name),
        |t, pretty| checks_json(&t.node_checks(name).0, pretty),
    )
    .await
}

/// `GET /v1/health/state/:state` (`any`, `passing`, `warning`, `critical`).
pub async fn state(state: &HttpState, req: &ApiRequest, tail: &str) -> ApiResult<ApiResponse> {
    let wanted = match tail {
        "any" => None,
        s => Some(
            Health::parse(s)
                .filter(|_| s == s.to_ascii_lowercase())
                .ok_or_else(|| {
                    ApiError::BadRequest(format!(
                        "Invalid state {s:?}: must be one of any, passing, warning, critical"
                    ))
                })?,
        ),
    };
    read(
        state,
        req,
        &[Table::Checks],
        |t| t.table_index(Table::Checks),
        |t, pretty| checks_json(&t.checks_in_state(wanted).0, pretty),
    )
    .await
}
