//! `ApiRequest`: one HTTP request as the router sees it, and the query parameters every
//! read endpoint shares (blocking, consistency, datacenter).

use std::time::Duration;

use bytes::Bytes;
use rand::Rng;
use warp::http::{HeaderMap, Method};

use super::error::{ApiError, ApiResult};
use crate::model::Index;

/// A request, fully read.
#[derive(Debug)]
pub struct ApiRequest {
    /// HTTP method.
    pub method: Method,
    /// Path, percent-decoded.
    pub path: String,
    /// Query pairs in order, percent-decoded; a bare `?recurse` gives `("recurse", "")`.
    pub query: Vec<(String, String)>,
    /// Request headers.
    pub headers: HeaderMap,
    /// Body bytes (empty for GET).
    pub body: Bytes,
    /// Agents this request was forwarded through (0 when a user sent it here).
    pub hops: u8,
}

impl ApiRequest {
    /// First value of a query parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a repeatable query parameter (`tag`).
    pub fn params(&self, name: &str) -> Vec<String> {
        self.query
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// Whether a presence-style flag (`?recurse`, `?raw`, `?stale`) is set.
    pub fn flag(&self, name: &str) -> bool {
        self.query.iter().any(|(k, _)| k == name)
    }

    /// Parses a numeric query parameter, naming it on error.
    pub fn u64_param(&self, name: &str) -> ApiResult<Option<u64>> {
        match self.param(name) {
            None => Ok(None),
            Some(v) => v.parse().map(Some).map_err(|_| {
                ApiError::BadRequest(format!(
                    "Invalid {name}: {v:?} is not a non-negative integer"
                ))
            }),
        }
    }

    /// Go `strconv.ParseBool`, used by `enable` and `passing`.
    pub fn bool_param(&self, name: &str) -> ApiResult<Option<bool>> {
        match self.param(name) {
            None => Ok(None),
            Some(v) => parse_bool(v).map(Some).ok_or_else(|| {
                ApiError::BadRequest(format!("Invalid value for {name}: {v:?} is not a boolean"))
            }),
        }
    }
}

/// Go's `strconv.ParseBool`.
pub fn parse_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// Consistency mode of a read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Consistency {
    /// Leader answers without a quorum check.
    Default,
    /// Any server answers from its own state.
    Stale,
    /// Leader confirms leadership with a quorum first.
    Consistent,
}

impl Consistency {
    /// `X-Consul-Effective-Consistency` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Consistency::Default => "leader",
            Consistency::Stale => "stale",
            Consistency::Consistent => "consistent",
        }
    }
}

/// Parameters of a read: blocking and consistency.
#[derive(Debug, Clone, Copy)]
pub struct QueryOptions {
    /// `?index`: block until the result's index differs from this (0 = don't block).
    pub min_index: Index,
    /// How long to block, jitter and cap applied.
    pub wait: Duration,
    /// Consistency mode.
    pub consistency: Consistency,
}

impl QueryOptions {
    /// Reads `index`, `wait`, `stale`, `consistent` with the agent's default and max query time.
    pub fn parse(
        req: &ApiRequest,
        default_wait: Duration,
        max_wait: Duration,
    ) -> ApiResult<QueryOptions> {
        let min_index = match req.param("index") {
            None | Some("") => 0,
            Some(v) => v
                .parse()
                .map_err(|_| ApiError::BadRequest("Invalid index".into()))?,
        };
        let wait = match req.param("wait") {
            None | Some("") => default_wait,
            Some(v) => crate::duration::parse(v)
                .map_err(|_| ApiError::BadRequest("Invalid wait time".into()))?,
        };
        let wait = if wait.is_zero() {
            default_wait
        } else {
            wait.min(max_wait)
        };
        let jitter_max = wait.as_nanos() as u64 / 16;
        let jitter = if jitter_max > 0 {
            rand::thread_rng().gen_range(0..jitter_max)
        } else {
            0
        };
        let wait = (wait + Duration::from_nanos(jitter)).min(max_wait);
        let stale = req.flag("stale");
        let consistent = req.flag("consistent");
        let consistency = match (stale, consistent) {
            (true, true) => {
                return Err(ApiError::BadRequest(
                    "Cannot specify ?stale with ?consistent, conflicting semantics.".into(),
                ))
            }
            (true, false) => Consistency::Stale,
            (false, true) => Consistency::Consistent,
            _ => Consistency::Default,
        };
        Ok(QueryOptions {
            min_index,
            wait,
            consistency,
        })
    }
}
