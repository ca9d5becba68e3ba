//! Request bodies: JSON parsing with Consul's messages. Field access is lenient
//! (`agent::definition::lenient`), shared with config-file decoding.

use serde_json::{Map, Value};

use super::error::{ApiError, ApiResult};

/// Parses a request body; an empty body is an empty object (clients send `""` where every
/// field is optional).
pub fn parse_body(body: &[u8]) -> ApiResult<Value> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Map::new()));
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::BadRequest(format!("Request decode failed: {e}")))
}
