//! Thin handlers, one file per API family. Each parses parameters, reads or writes, and
//! builds a DTO; the shared read path (consistency, blocking, headers) is `read` here.

pub mod agent;
pub mod catalog;
pub mod health;
pub mod kv;
pub mod members;
pub mod operator;
pub mod status;
pub mod ui;

use serde::Serialize;

use super::error::{ApiError, ApiResult};
use super::request::{ApiRequest, Consistency, QueryOptions};
use super::response::ApiResponse;
use super::HttpState;
use crate::catalog::{Table, Tables};
use crate::model::Index;

/// Runs a catalog read with Consul's read semantics: consistency mode, blocking on `?index`
/// until the result's index moves, and the `X-Consul-*` headers. `index` gives the query's
/// index cheaply; `render` writes its JSON body from the tables under the read lock (no row
/// copies). Bodies are cached per query and index, so readers at the same index share one.
pub async fn read(
    state: &HttpState,
    req: &ApiRequest,
    tables: &[Table],
    index: impl Fn(&Tables) -> Index,
    render: impl Fn(&Tables, bool) -> Vec<u8>,
) -> ApiResult<ApiResponse> {
    let pretty = state.pretty(req);
    let key = cache_key(req, pretty);
    let (body, index, opts) = fetch(state, req, tables, |t| {
        let i = index(t);
        (state.cache.get_or_render(&key, i, || render(t, pretty)), i)
    })
    .await?;
    Ok(ApiResponse::json_bytes(body).with_meta(index, &state.cluster.leader_info(), &opts))
}

/// Serialises a value as Consul does (`pretty`: 4-space indent and a newline).
pub fn json<T: Serialize + ?Sized>(value: &T, pretty: bool) -> Vec<u8> {
    ApiResponse::render_json(value, pretty)
}

/// What identifies a read's body: the path and the parameters that shape it.
fn cache_key(req: &ApiRequest, pretty: bool) -> String {
    const NOT_SHAPING: &[&str] = &[
        "index",
        "wait",
        "stale",
        "consistent",
        "leader",
        "cached",
        "pretty",
        "token",
    ];
    let mut key = String::with_capacity(req.path.len() + 32);
    key.push_str(if pretty { "P" } else { "C" });
    key.push_str(&format!("{}:{}", req.path.len(), req.path));
    for (k, v) in req
        .query
        .iter()
        .filter(|(k, _)| !NOT_SHAPING.contains(&k.as_str()))
    {
        // Length-prefixed, so no value can imitate a separator and collide with another query.
        key.push_str(&format!("|{}:{k}{}:{v}", k.len(), v.len()));
    }
    key
}

/// Like `read`, but hands back the rows so the handler can choose the response (404, raw).
pub async fn fetch<T>(
    state: &HttpState,
    req: &ApiRequest,
    tables: &[Table],
    mut query: impl FnMut(&Tables) -> (T, Index),
) -> ApiResult<(T, Index, QueryOptions)> {
    let opts = QueryOptions::parse(
        req,
        state.config.default_query_time,
        state.config.max_query_time,
    )?;
    if !state.cluster.has_catalog() {
        return Err(ApiError::Internal(
            crate::raft::WriteError::NoServers.to_string(),
        ));
    }
    match opts.consistency {
        Consistency::Consistent => state.cluster.linearizable_read().await?,
        Consistency::Default if !state.cluster.leader_info().known_leader => {
            return Err(ApiError::Internal("No cluster leader".into()))
        }
        _ => {}
    }
    let store = &state.store;
    let (value, index) = tokio::select! {
        r = store.blocking(tables, opts.min_index, opts.wait, &mut query) => r,
        _ = state.shutdown.cancelled() => {
            let (v, i) = store.read(&mut query);
            (v, i.max(1))
        }
    };
    Ok((value, index, opts))
}

/// Parses repeated `node-meta=key:value` filters.
pub fn node_meta_filter(req: &ApiRequest) -> Vec<(String, String)> {
    req.params("node-meta")
        .into_iter()
        .map(|kv| match kv.split_once(':') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (kv, String::new()),
        })
        .collect()
}

/// Whether a node's metadata has every `key:value` pair of a `node-meta` filter.
pub fn node_meta_matches(
    meta: &std::collections::BTreeMap<String, String>,
    want: &[(String, String)],
) -> bool {
    want.iter().all(|(k, v)| meta.get(k) == Some(v))
}

/// Non-empty path parameter, or a 400 naming what is missing.
pub fn required<'a>(tail: &'a str, what: &str) -> ApiResult<&'a str> {
    if tail.is_empty() {
        Err(ApiError::BadRequest(format!("Missing {what}")))
    } else {
        Ok(tail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use warp::http::{HeaderMap, Method};

    fn req(path: &str, query: &[(&str, &str)]) -> ApiRequest {
        ApiRequest {
            method: Method::GET,
            path: path.into(),
            query: query
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            headers: HeaderMap::new(),
            body: Default::default(),
            hops: 0,
        }
    }

    #[test]
    fn cache_keys_ignore_blocking_params_and_never_collide() {
        let plain = cache_key(&req("/v1/health/service/web", &[("passing", "")]), false);
        let blocking = cache_key(
            &req(
                "/v1/health/service/web",
                &[("passing", ""), ("index", "7"), ("wait", "1m")],
            ),
            false,
        );
        assert_eq!(plain, blocking);
        let two = cache_key(
            &req("/v1/catalog/service/web", &[("tag", "a"), ("tag", "b")]),
            false,
        );
        let sneaky = cache_key(
            &req("/v1/catalog/service/web", &[("tag", "a|3:tag1:b")]),
            false,
        );
        assert_ne!(two, sneaky);
        assert_ne!(
            plain,
            cache_key(&req("/v1/health/service/web", &[("passing", "")]), true)
        );
    }
}
