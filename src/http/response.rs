//! `ApiResponse`: what a handler returns, plus the Consul headers of read endpoints.

use bytes::Bytes;
use serde::Serialize;
use warp::http::{HeaderValue, StatusCode};

use super::error::ApiError;
use super::request::QueryOptions;
use crate::model::Index;
use crate::raft::LeaderInfo;

/// A response ready to send.
#[derive(Debug)]
pub struct ApiResponse {
    /// Status code.
    pub status: StatusCode,
    /// Extra headers.
    pub headers: Vec<(&'static str, HeaderValue)>,
    /// Content type (JSON unless stated).
    pub content_type: &'static str,
    /// Body.
    pub body: Bytes,
}

impl ApiResponse {
    /// 200 with a JSON body; `pretty` indents it as Consul's `?pretty` does.
    pub fn json<T: Serialize + ?Sized>(value: &T, pretty: bool) -> ApiResponse {
        ApiResponse::json_bytes(ApiResponse::render_json(value, pretty).into())
    }

    /// 200 with an already rendered JSON body.
    pub fn json_bytes(body: Bytes) -> ApiResponse {
        ApiResponse {
            status: StatusCode::OK,
            headers: Vec::new(),
            content_type: "application/json",
            body,
        }
    }

    /// Serialises as Consul does: compact, or Go's `MarshalIndent(v, "", "    ")` plus a newline.
    pub fn render_json<T: Serialize + ?Sized>(value: &T, pretty: bool) -> Vec<u8> {
        if pretty {
            let mut v = Vec::new();
            let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
            let mut ser = serde_json::Serializer::with_formatter(&mut v, fmt);
            value.serialize(&mut ser).expect("DTOs always serialize");
            v.push(b'\n');
            v
        } else {
            serde_json::to_vec(value).expect("DTOs always serialize")
        }
    }

    /// 200 with an empty body, as Consul's write endpoints that return nothing.
    pub fn empty() -> ApiResponse {
        ApiResponse::text(StatusCode::OK, "")
    }

    /// A plain-text body with a status.
    pub fn text(status: StatusCode, body: impl Into<Bytes>) -> ApiResponse {
        ApiResponse {
            status,
            headers: Vec::new(),
            content_type: "text/plain; charset=utf-8",
            body: body.into(),
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: &'static str, value: impl AsRef<str>) -> ApiResponse {
        if let Ok(v) = HeaderValue::from_str(value.as_ref()) {
            self.headers.push((name, v));
        }
        self
    }

    /// Adds `X-Consul-Index`, `X-Consul-KnownLeader`, `X-Consul-LastContact` and
    /// `X-Consul-Effective-Consistency`.
    pub fn with_meta(self, index: Index, leader: &LeaderInfo, opts: &QueryOptions) -> ApiResponse {
        self.header("X-Consul-Index", index.max(1).to_string())
            .header(
                "X-Consul-KnownLeader",
                if leader.known_leader { "true" } else { "false" },
            )
            .header("X-Consul-LastContact", leader.last_contact_ms.to_string())
            .header("X-Consul-Effective-Consistency", opts.consistency.as_str())
    }

    /// The plain-text answer for an error.
    pub fn from_error(e: &ApiError) -> ApiResponse {
        let resp = ApiResponse::text(e.status(), e.to_string());
        match e {
            ApiError::MethodNotAllowed { allow, .. } => resp.header("Allow", allow),
            _ => resp,
        }
    }
}
