//! Service and check definitions as users write them: in agent API bodies and in config files.
//!
//! One decoder serves both, so a definition that works in `PUT /v1/agent/service/register`
//! works the same in a `services` block. Decoding is lenient the way Consul's is: keys in any
//! case, snake_case aliases, durations as Go strings or nanosecond numbers, `null` for absent.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::model::{Health, ServiceAddress, Weights};

mod decode;
mod kind;
pub(crate) mod lenient;
#[cfg(test)]
mod tests;

pub use decode::{decode_check, decode_service};
pub(crate) use decode::{tagged_addresses, weights};
pub use kind::check_kind;

/// Why a service or check definition was rejected. The Display is the user-facing message
/// (the HTTP layer sends it as a 400 body; config loading prefixes it with file and key).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DefinitionError {
    /// A service without `Name`.
    #[error("Missing service name")]
    MissingServiceName,
    /// A service `Address` of `0.0.0.0` or `::`, which no client could reach.
    #[error("Invalid service address")]
    InvalidServiceAddress,
    /// A check with no type, or an interval type without `Interval`.
    #[error("Must provide TTL or ScriptArgs/Args, HTTP, TCP, UDP, GRPC, H2PING, AliasService or DockerContainerID with Interval")]
    MissingCheckType,
    /// A problem with one field, named by its path as the user wrote it (`Check.Interval`).
    #[error("{path}: {reason}")]
    Field {
        /// Dotted path of the field (`Port`, `Checks[1].TTL`, `services[0].port`).
        path: String,
        /// What is wrong with it.
        reason: String,
    },
}

impl DefinitionError {
    /// A field error at `path`.
    pub fn field(path: &str, reason: impl Into<String>) -> Self {
        DefinitionError::Field {
            path: path.to_string(),
            reason: reason.into(),
        }
    }

    /// The same error seen from a containing object: `prefix` is put before the path
    /// (`services[0]` + `port` → `services[0].port`), so nested errors stay precise.
    pub fn at(self, prefix: &str) -> Self {
        match self {
            DefinitionError::Field { path, reason } => {
                DefinitionError::field(&format!("{prefix}.{path}"), reason)
            }
            other => DefinitionError::field(prefix, other.to_string()),
        }
    }
}

/// A service as registered with the local agent, before it becomes a catalog `Service`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ServiceDefinition {
    /// Instance ID; defaults to `name`.
    pub id: String,
    /// Service name (required).
    pub name: String,
    /// Tags.
    pub tags: Vec<String>,
    /// Instance address; empty means the node's.
    pub address: String,
    /// Named addresses.
    pub tagged_addresses: BTreeMap<String, ServiceAddress>,
    /// User metadata.
    pub meta: BTreeMap<String, String>,
    /// Port.
    pub port: u16,
    /// SRV weights.
    pub weights: Weights,
    /// Whether catalog tag edits survive anti-entropy.
    pub enable_tag_override: bool,
    /// Consul service kind.
    pub kind: String,
    /// Checks declared with the service (`Check` then `Checks`), IDs not yet assigned.
    pub checks: Vec<CheckDefinition>,
}

/// What runs a check. Exactly one per check.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum CheckKind {
    /// Status pushed through `/v1/agent/check/{pass,warn,fail,update}`; critical after `ttl`.
    Ttl,
    /// HTTP request.
    Http,
    /// TCP connect.
    Tcp,
    /// UDP probe.
    Udp,
    /// Command run on the host (needs `enable_script_checks`).
    Script,
    /// Command run in a container.
    Docker,
    /// gRPC health protocol.
    Grpc,
    /// HTTP/2 ping.
    H2ping,
    /// Mirrors another node's or service's health.
    Alias,
    /// Node or service maintenance mode: set and cleared only by the maintenance endpoints.
    Maintenance,
    /// A container's Docker `HEALTHCHECK` state, set only by the Docker registrar
    /// (`docker/`) from the engine's health events; nothing runs it and the TTL endpoints
    /// refuse it.
    DockerHealth,
}

impl CheckKind {
    /// Consul's `Type` string.
    pub fn as_str(&self) -> &'static str {
        match self {
            CheckKind::Ttl => "ttl",
            CheckKind::Http => "http",
            CheckKind::Tcp => "tcp",
            CheckKind::Udp => "udp",
            CheckKind::Script => "script",
            CheckKind::Docker => "docker",
            CheckKind::Grpc => "grpc",
            CheckKind::H2ping => "h2ping",
            CheckKind::Alias => "alias",
            CheckKind::Maintenance => "",
            CheckKind::DockerHealth => "docker-health",
        }
    }
}

/// A check as registered with the local agent.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct CheckDefinition {
    /// Check ID; empty means "derive it" (from the name, or `service:<id>` for service checks).
    pub id: String,
    /// Name; empty means "derive it".
    pub name: String,
    /// Service instance this check belongs to; empty for node checks.
    pub service_id: String,
    /// Free-form notes.
    pub notes: String,
    /// Initial status; `None` means critical.
    pub status: Option<Health>,
    /// TTL for TTL checks.
    pub ttl: Option<Duration>,
    /// URL for HTTP checks.
    pub http: String,
    /// HTTP method (default GET).
    pub method: String,
    /// HTTP headers.
    pub header: BTreeMap<String, Vec<String>>,
    /// HTTP body.
    pub body: String,
    /// Skip TLS verification.
    pub tls_skip_verify: bool,
    /// TLS server name.
    pub tls_server_name: String,
    /// Do not follow redirects.
    pub disable_redirects: bool,
    /// `host:port` for TCP checks.
    pub tcp: String,
    /// `host:port` for UDP checks.
    pub udp: String,
    /// gRPC target.
    pub grpc: String,
    /// gRPC over TLS.
    pub grpc_use_tls: bool,
    /// HTTP/2 ping target.
    pub h2ping: String,
    /// Command for script and docker checks (`Args`, `ScriptArgs`).
    pub args: Vec<String>,
    /// Container for docker checks.
    pub docker_container_id: String,
    /// Shell for docker checks.
    pub shell: String,
    /// Alias target node.
    pub alias_node: String,
    /// Alias target service.
    pub alias_service: String,
    /// Run interval.
    pub interval: Option<Duration>,
    /// Per-run timeout.
    pub timeout: Option<Duration>,
    /// Deregister the service after being critical this long.
    pub deregister_critical_service_after: Option<Duration>,
    /// Bytes of output kept.
    pub output_max_size: Option<u64>,
    /// Consecutive successes before passing.
    pub success_before_passing: u32,
    /// Consecutive failures before warning.
    pub failures_before_warning: u32,
    /// Consecutive failures before critical.
    pub failures_before_critical: u32,
}
