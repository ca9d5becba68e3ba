//! `ApiError`: every way a request fails, mapped to Consul's status codes in one place.

use warp::http::StatusCode;

use crate::agent::AgentError;
use crate::raft::WriteError;

/// A failed request. The body is plain text, as Consul's error bodies are.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: bad input; the text names the field or parameter.
    #[error("{0}")]
    BadRequest(String),
    /// 404 with a reason.
    #[error("{0}")]
    NotFound(String),
    /// 405 with the methods the path allows.
    #[error("method {method} not allowed")]
    MethodNotAllowed {
        /// The method used.
        method: String,
        /// What the path allows (for the `Allow` header).
        allow: String,
    },
    /// 403: not allowed on this path (agent endpoints over server RPC).
    #[error("{0}")]
    Forbidden(String),
    /// 413: body over the limit.
    #[error("{0}")]
    TooLarge(String),
    /// 500: anything else (no leader, unknown datacenter, refused writes).
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    /// The HTTP status Consul uses for this error.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<WriteError> for ApiError {
    fn from(e: WriteError) -> Self {
        ApiError::Internal(e.to_string())
    }
}

impl From<crate::agent::definition::DefinitionError> for ApiError {
    fn from(e: crate::agent::definition::DefinitionError) -> Self {
        ApiError::BadRequest(e.to_string())
    }
}

impl From<AgentError> for ApiError {
    fn from(e: AgentError) -> Self {
        match e {
            AgentError::Invalid(m) => ApiError::BadRequest(m),
            AgentError::NotFound(m) => ApiError::NotFound(m),
            AgentError::Refused(m) => ApiError::Internal(m),
        }
    }
}

/// Shorthand for handler results.
pub type ApiResult<T> = Result<T, ApiError>;
