//! `/v1/kv/*`: get (one key, `recurse`, `keys`, `raw`), put (`flags`, `cas`) and delete.

use super::super::dto::DirEntryDto;
use super::super::error::{ApiError, ApiResult};
use super::super::request::ApiRequest;
use super::super::response::ApiResponse;
use super::super::HttpState;
use super::fetch;
use crate::catalog::{Command, Response, Table};
use warp::http::{Method, StatusCode};

/// Dispatches on the method.
pub async fn handle(state: &HttpState, req: &ApiRequest, key: &str) -> ApiResult<ApiResponse> {
    if req.flag("acquire") || req.flag("release") {
        return Err(ApiError::BadRequest(
            "KV locks (?acquire, ?release) need sessions, which this Berth build does not have yet"
                .into(),
        ));
    }
    match req.method {
        Method::PUT => put(state, req, key).await,
        Method::DELETE => delete(state, req, key).await,
        _ => get(state, req, key).await,
    }
}

async fn get(state: &HttpState, req: &ApiRequest, key: &str) -> ApiResult<ApiResponse> {
    let recurse = req.flag("recurse");
    let keys = req.flag("keys");
    if key.is_empty() && !recurse && !keys {
        return Err(ApiError::BadRequest("Missing key name".into()));
    }
    let pretty = state.pretty(req);
    let leader = || state.cluster.leader_info();
    if keys {
        let sep = req
            .param("separator")
            .or_else(|| req.param("seperator"))
            .map(str::to_string);
        let (list, index, opts) =
            fetch(state, req, &[Table::Kv], |t| t.kv_keys(key, sep.as_deref())).await?;
        if list.is_empty() && !key.is_empty() {
            return Ok(ApiResponse::text(StatusCode::NOT_FOUND, "").with_meta(
                index,
                &leader(),
                &opts,
            ));
        }
        return Ok(ApiResponse::json(&list, pretty).with_meta(index, &leader(), &opts));
    }
    if recurse {
        let (list, index, opts) = fetch(state, req, &[Table::Kv], |t| t.kv_list(key)).await?;
        if list.is_empty() {
            return Ok(ApiResponse::text(StatusCode::NOT_FOUND, "").with_meta(
                index,
                &leader(),
                &opts,
            ));
        }
        let dto: Vec<DirEntryDto<'_>> = list.iter().map(DirEntryDto::from).collect();
        return Ok(ApiResponse::json(&dto, pretty).with_meta(index, &leader(), &opts));
    }
    let (entry, index, opts) = fetch(state, req, &[Table::Kv], |t| t.kv_get(key)).await?;
    let Some(entry) = entry else {
        return Ok(ApiResponse::text(StatusCode::NOT_FOUND, "").with_meta(index, &leader(), &opts));
    };
    if req.flag("raw") {
        let mut resp = ApiResponse::text(StatusCode::OK, entry.value);
        resp.content_type = "text/plain; charset=utf-8";
        return Ok(resp.with_meta(index, &leader(), &opts));
    }
    Ok(ApiResponse::json(&[DirEntryDto::from(&entry)], pretty).with_meta(index, &leader(), &opts))
}

async fn put(state: &HttpState, req: &ApiRequest, key: &str) -> ApiResult<ApiResponse> {
    if key.is_empty() {
        return Err(ApiError::BadRequest("Missing key name".into()));
    }
    let max = state.config.kv_max_value_size;
    if req.body.len() as u64 > max {
        return Err(ApiError::TooLarge(format!(
            "Request body({} bytes) too large, max size: {max} bytes. See https://developer.hashicorp.com/consul/docs/agent/config/config-files#kv_max_value_size.",
            req.body.len()
        )));
    }
    let flags = req.u64_param("flags")?.unwrap_or(0);
    let cas = req.u64_param("cas")?;
    let cmd = Command::KvSet {
        key: key.to_string(),
        value: req.body.to_vec(),
        flags,
        cas,
    };
    write_bool(state, req, cmd).await
}

async fn delete(state: &HttpState, req: &ApiRequest, key: &str) -> ApiResult<ApiResponse> {
    let cmd = if req.flag("recurse") {
        Command::KvDeleteTree {
            prefix: key.to_string(),
        }
    } else {
        if key.is_empty() {
            return Err(ApiError::BadRequest("Missing key name".into()));
        }
        Command::KvDelete {
            key: key.to_string(),
            cas: req.u64_param("cas")?,
        }
    };
    write_bool(state, req, cmd).await
}

async fn write_bool(state: &HttpState, req: &ApiRequest, cmd: Command) -> ApiResult<ApiResponse> {
    let ok = match state.cluster.write(cmd).await? {
        Response::Ok => true,
        Response::Bool(b) => b,
        Response::Rejected(reason) => return Err(ApiError::Internal(reason)),
    };
    Ok(ApiResponse::json(&ok, state.pretty(req)))
}
