//! Where a template's data comes from. Both sources speak Consul's HTTP API, so one decoder
//! serves both: `Local` runs the request through this agent's own route table in-process (a
//! server answers from its catalog, a client forwards to its servers exactly as its HTTP API
//! does), `Http` sends it to another agent (`-consul-addr`: a remote Berth or a real Consul).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;

use crate::http::request::ApiRequest;
use crate::http::HttpState;

/// One API answer.
#[derive(Debug, Clone)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// `X-Consul-Index` (0 when absent).
    pub index: u64,
    /// Body.
    pub body: Bytes,
}

/// Why a request got no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    /// The agent could not be reached.
    #[error("{0}")]
    Transport(String),
}

/// Something that answers Consul API GETs.
pub trait Source: Send + Sync + 'static {
    /// GET `path` with `query`.
    fn get<'a>(
        &'a self,
        path: &'a str,
        query: &'a [(String, String)],
    ) -> BoxFuture<'a, Result<Reply, SourceError>>;
}

/// This agent's own API, in-process.
pub struct Local(pub Arc<HttpState>);

impl Source for Local {
    fn get<'a>(
        &'a self,
        path: &'a str,
        query: &'a [(String, String)],
    ) -> BoxFuture<'a, Result<Reply, SourceError>> {
        Box::pin(async move {
            let req = ApiRequest {
                method: warp::http::Method::GET,
                path: path.to_string(),
                query: query.to_vec(),
                headers: Default::default(),
                body: Bytes::new(),
                hops: 0,
            };
            let resp = crate::http::routes::dispatch(&self.0, req).await;
            let index = resp
                .headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("x-consul-index"))
                .and_then(|(_, v)| v.to_str().ok()?.parse().ok())
                .unwrap_or(0);
            Ok(Reply {
                status: resp.status.as_u16(),
                index,
                body: resp.body,
            })
        })
    }
}

/// Another agent over HTTP.
pub struct Http {
    client: reqwest::Client,
    base: String,
    token: Option<String>,
}

impl Http {
    /// `addr` is `host:port` or `http://host:port`; `token` goes in `X-Consul-Token`.
    pub fn new(addr: &str, token: Option<String>) -> Result<Http, String> {
        let base = if addr.starts_with("https://") {
            return Err(format!(
                "-consul-addr {addr:?}: https is not supported by Berth yet (use http://)"
            ));
        } else if addr.starts_with("http://") {
            addr.trim_end_matches('/').to_string()
        } else {
            format!("http://{}", addr.trim_end_matches('/'))
        };
        url::Url::parse(&base).map_err(|e| format!("-consul-addr {addr:?}: {e}"))?;
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            // A blocking query waits up to 60 s plus Consul's jitter (wait / 16).
            .timeout(Duration::from_secs(75))
            .build()
            .map_err(|e| format!("-consul-addr: {e}"))?;
        Ok(Http {
            client,
            base,
            token: token.filter(|t| !t.is_empty()),
        })
    }
}

impl Source for Http {
    fn get<'a>(
        &'a self,
        path: &'a str,
        query: &'a [(String, String)],
    ) -> BoxFuture<'a, Result<Reply, SourceError>> {
        Box::pin(async move {
            let mut url =
                url::Url::parse(&self.base).map_err(|e| SourceError::Transport(e.to_string()))?;
            url.set_path(path);
            if !query.is_empty() {
                let mut pairs = url.query_pairs_mut();
                for (k, v) in query {
                    pairs.append_pair(k, v);
                }
            }
            let mut req = self.client.get(url);
            if let Some(t) = &self.token {
                req = req.header("X-Consul-Token", t);
            }
            let resp = req
                .send()
                .await
                .map_err(|e| SourceError::Transport(format!("{}: {e}", self.base)))?;
            let status = resp.status().as_u16();
            let index = resp
                .headers()
                .get("x-consul-index")
                .and_then(|v| v.to_str().ok()?.parse().ok())
                .unwrap_or(0);
            let body = resp
                .bytes()
                .await
                .map_err(|e| SourceError::Transport(format!("{}: {e}", self.base)))?;
            Ok(Reply {
                status,
                index,
                body,
            })
        })
    }
}
