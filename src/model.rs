//! Domain types shared by the catalog, the agent and the readers.
//!
//! These are the facts Berth stores; they carry no Consul JSON casing (that lives in `http::dto`)
//! and do no I/O. They are `Serialize` because they travel inside Raft log entries and snapshots.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The Raft log index at which something was written. It doubles as Consul's
/// `CreateIndex`/`ModifyIndex` and as the `X-Consul-Index` of blocking queries.
pub type Index = u64;

/// A check's state, ordered so that `max()` gives the worst one.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    /// The check succeeded.
    Passing,
    /// The check degraded (HTTP 429, script exit 1, TTL `warn`).
    Warning,
    /// The check failed; new checks start here unless told otherwise, as in Consul.
    #[default]
    Critical,
}

impl Health {
    /// Consul's lower-case name, as in JSON bodies and query paths.
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Passing => "passing",
            Health::Warning => "warning",
            Health::Critical => "critical",
        }
    }

    /// Parses Consul's names (`passing`, `warning`, `critical`), case-insensitively.
    pub fn parse(s: &str) -> Option<Health> {
        match s.to_ascii_lowercase().as_str() {
            "passing" => Some(Health::Passing),
            "warning" => Some(Health::Warning),
            "critical" => Some(Health::Critical),
            _ => None,
        }
    }
}

/// A node (host) in the catalog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Node {
    /// Node UUID (Consul's `ID`); may be empty for nodes registered through the catalog API.
    pub id: String,
    /// Unique node name.
    pub name: String,
    /// Address other hosts reach the node at.
    pub address: String,
    /// Datacenter the node belongs to.
    pub datacenter: String,
    /// Named addresses (`lan`, `wan`, ...).
    pub tagged_addresses: BTreeMap<String, String>,
    /// User metadata.
    pub meta: BTreeMap<String, String>,
    /// Index at which the node was first registered.
    pub create_index: Index,
    /// Index of the last change to the node itself.
    pub modify_index: Index,
}

/// An address and port under a name, as in a service's `TaggedAddresses`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ServiceAddress {
    /// Host or IP.
    pub address: String,
    /// Port.
    pub port: u16,
}

/// Relative weights DNS SRV answers use for passing and warning instances.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Weights {
    /// Weight while all checks pass.
    pub passing: u32,
    /// Weight while some check warns.
    pub warning: u32,
}

impl Default for Weights {
    fn default() -> Self {
        Weights {
            passing: 1,
            warning: 1,
        }
    }
}

/// One instance of a service on a node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Service {
    /// Node the instance runs on.
    pub node: String,
    /// Instance ID, unique on its node.
    pub id: String,
    /// Service name shared by all instances.
    pub name: String,
    /// Tags, in registration order.
    pub tags: Vec<String>,
    /// Instance address; empty means "use the node's address".
    pub address: String,
    /// Named addresses of the instance.
    pub tagged_addresses: BTreeMap<String, ServiceAddress>,
    /// User metadata.
    pub meta: BTreeMap<String, String>,
    /// Port; 0 when none.
    pub port: u16,
    /// SRV weights.
    pub weights: Weights,
    /// Whether catalog edits to tags survive anti-entropy.
    pub enable_tag_override: bool,
    /// Consul's service kind (`""` for a typical service, `connect-proxy`, ...).
    pub kind: String,
    /// Index at which the instance was first registered.
    pub create_index: Index,
    /// Index of the last change to the instance.
    pub modify_index: Index,
}

/// How a check is run, kept so the APIs can show it (`Type`, `Definition`, `Interval`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct CheckSpec {
    /// HTTP URL for `http` checks.
    pub http: String,
    /// HTTP method.
    pub method: String,
    /// HTTP headers.
    pub header: BTreeMap<String, Vec<String>>,
    /// HTTP request body.
    pub body: String,
    /// Whether TLS certificates are not verified.
    pub tls_skip_verify: bool,
    /// TLS server name to verify.
    pub tls_server_name: String,
    /// `host:port` for `tcp` checks.
    pub tcp: String,
    /// `host:port` for `udp` checks.
    pub udp: String,
    /// gRPC target.
    pub grpc: String,
    /// Whether gRPC uses TLS.
    pub grpc_use_tls: bool,
    /// Command for `script` checks.
    pub script_args: Vec<String>,
    /// Container for `docker` checks.
    pub docker_container_id: String,
    /// Shell used by `docker` checks.
    pub shell: String,
    /// How often the check runs.
    pub interval: Option<Duration>,
    /// How long one run may take.
    pub timeout: Option<Duration>,
    /// TTL for `ttl` checks.
    pub ttl: Option<Duration>,
    /// Remove the service after the check has been critical this long.
    pub deregister_critical_service_after: Option<Duration>,
}

/// A health check on a node, possibly bound to one service instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Check {
    /// Node the check belongs to.
    pub node: String,
    /// Check ID, unique on its node.
    pub check_id: String,
    /// Human name.
    pub name: String,
    /// Current state.
    pub status: Health,
    /// Free-form notes set at registration.
    pub notes: String,
    /// Output of the last run.
    pub output: String,
    /// Service instance the check belongs to; empty for node checks.
    pub service_id: String,
    /// Name of that service.
    pub service_name: String,
    /// Tags of that service.
    pub service_tags: Vec<String>,
    /// Consul's check type (`ttl`, `http`, `tcp`, `script`, ...; `""` for serfHealth and maintenance).
    pub kind: String,
    /// How the check runs.
    pub spec: CheckSpec,
    /// Index at which the check was first registered.
    pub create_index: Index,
    /// Index of the last change to the check.
    pub modify_index: Index,
}

/// One KV entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct KvEntry {
    /// Full key.
    pub key: String,
    /// Opaque client flags.
    pub flags: u64,
    /// Value bytes; empty is a valid value (shown as `null`).
    #[serde(with = "base64_bytes")]
    pub value: Vec<u8>,
    /// Number of times a lock on the key was acquired.
    pub lock_index: u64,
    /// Session holding the lock, if any.
    pub session: Option<String>,
    /// Index at which the key was created.
    pub create_index: Index,
    /// Index of the last change.
    pub modify_index: Index,
}

/// Byte strings as base64 text in serde formats: the Raft log, snapshots and server RPC are
/// JSON, where a plain `Vec<u8>` would be an array of numbers 3–4× its size.
pub mod base64_bytes {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes the bytes as one base64 string.
    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(bytes))
    }

    /// Reads one base64 string back into bytes.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        STANDARD
            .decode(text.as_bytes())
            .map_err(serde::de::Error::custom)
    }
}
