//! Consul's HTTP API on `client_addr:ports.http`.
//!
//! One catch-all warp filter reads the whole request (method, decoded path, query pairs,
//! headers, body with a cap) into an `ApiRequest`; `routes::dispatch` matches it against the
//! one route table and calls a thin handler. Handlers read the catalog through `Store` and
//! write only through the agent or `Cluster::write`.
//!
//! Architecture Invariant: nothing in `http` mutates the `Store` directly.

pub mod body;
pub mod cache;
pub mod dto;
pub mod error;
pub mod forward;
pub mod handlers;
pub mod request;
pub mod response;
pub mod routes;
pub mod ui;

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use futures::{Stream, StreamExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use warp::http::{HeaderMap, Method, StatusCode};
use warp::Filter;

use crate::agent::Agent;
use crate::catalog::Store;
use crate::cluster::Cluster;
use crate::config::RuntimeConfig;
use error::ApiError;
use request::ApiRequest;
use response::ApiResponse;

/// Largest request body read for any endpoint; KV values have their own, smaller limit.
pub const MAX_BODY: usize = 8 * 1024 * 1024;

/// What handlers need: the catalog, the writer, the agent and the config.
pub struct HttpState {
    /// The catalog, read-only here.
    pub store: Store,
    /// Where writes and consistent reads go.
    pub cluster: Cluster,
    /// The local agent.
    pub agent: Agent,
    /// The running configuration.
    pub config: Arc<RuntimeConfig>,
    /// Cancelled when the agent stops; parked blocking queries return at once.
    pub shutdown: CancellationToken,
    /// Asks the daemon to reload its config files (`PUT /v1/agent/reload`).
    pub reload: mpsc::Sender<()>,
    /// Stops the whole agent (`PUT /v1/agent/leave`).
    pub stop_agent: CancellationToken,
    /// LAN gossip: members, join, leave.
    pub gossip: crate::gossip::Gossip,
    /// Set once this agent left the pool gracefully (the daemon records it for rejoin).
    pub left: Arc<std::sync::atomic::AtomicBool>,
    /// Rendered read bodies, shared per query and index.
    pub cache: cache::RenderCache,
    /// The template runner's status (`GET /v1/agent/templates`).
    pub templates: crate::runner::StatusBoard,
    /// The Docker registrar's state (`Docker` in `GET /v1/agent/self`).
    pub docker: crate::docker::Status,
}

impl HttpState {
    /// Whether JSON should be indented (always in `-dev`, as Consul; else `?pretty`).
    pub fn pretty(&self, req: &ApiRequest) -> bool {
        self.config.dev || req.flag("pretty")
    }
}

/// Serves the API on `listener` until `shutdown` is cancelled, then drains for at most `grace`.
pub async fn serve(
    listener: TcpListener,
    state: Arc<HttpState>,
    shutdown: CancellationToken,
    grace: Duration,
) {
    let filter = warp::method()
        .and(warp::path::full())
        .and(
            warp::query::<Vec<(String, String)>>()
                .or(warp::any().map(Vec::new))
                .unify(),
        )
        .and(warp::header::headers_cloned())
        .and(warp::body::stream())
        .and(warp::any().map(move || state.clone()))
        .then(
            |method: Method,
             path: warp::path::FullPath,
             query,
             headers: HeaderMap,
             body,
             state: Arc<HttpState>| async move {
                let resp = match read_request(method, path.as_str(), query, headers, body).await {
                    Ok(req) => routes::dispatch(&state, req).await,
                    Err(e) => ApiResponse::from_error(&e),
                };
                Ok::<_, Infallible>(into_reply(resp))
            },
        );
    let stop = shutdown.clone();
    let server = warp::serve(filter)
        .incoming(listener)
        .graceful(async move { stop.cancelled().await })
        .run();
    tokio::pin!(server);
    tokio::select! {
        _ = &mut server => {}
        _ = async { shutdown.cancelled().await; tokio::time::sleep(grace).await } => {
            tracing::warn!("http: connections still open after the grace period; closing them");
        }
    }
}

async fn read_request<S, B>(
    method: Method,
    raw_path: &str,
    query: Vec<(String, String)>,
    headers: HeaderMap,
    body: S,
) -> Result<ApiRequest, ApiError>
where
    S: Stream<Item = Result<B, warp::Error>>,
    B: Buf,
{
    let path = percent_encoding::percent_decode_str(raw_path)
        .decode_utf8()
        .map_err(|_| ApiError::BadRequest("Invalid URL path: not valid UTF-8".into()))?
        .into_owned();
    if path.chars().any(|c| c.is_control()) {
        return Err(ApiError::BadRequest(format!(
            "Invalid URL path: {path:?} contains unprintable characters"
        )));
    }
    let mut buf = BytesMut::new();
    tokio::pin!(body);
    while let Some(chunk) = body.next().await {
        let chunk =
            chunk.map_err(|e| ApiError::BadRequest(format!("Request body read failed: {e}")))?;
        if buf.len() + chunk.remaining() > MAX_BODY {
            return Err(ApiError::TooLarge(format!(
                "Request body too large: over {MAX_BODY} bytes"
            )));
        }
        buf.extend_from_slice(chunk.chunk());
    }
    Ok(ApiRequest {
        method,
        path,
        query,
        headers,
        body: Bytes::from(buf),
        hops: 0,
    })
}

fn into_reply(resp: ApiResponse) -> warp::http::Response<Bytes> {
    let mut builder = warp::http::Response::builder()
        .status(resp.status)
        .header("Content-Type", resp.content_type)
        .header("X-Consul-Default-ACL-Policy", "allow");
    for (name, value) in resp.headers {
        builder = builder.header(name, value);
    }
    builder.body(resp.body).unwrap_or_else(|_| {
        let mut r = warp::http::Response::new(Bytes::new());
        *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
        r
    })
}
