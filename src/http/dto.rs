//! Consul's JSON shapes (PascalCase), built from the domain model. Serialisation only: request
//! bodies are read leniently in `body.rs`.

use std::collections::BTreeMap;

use base64::Engine;
use serde::Serialize;

use crate::catalog::query::ServiceHealth;
use crate::duration;
use crate::model::{Check, KvEntry, Node, Service, ServiceAddress, Weights};

/// An empty JSON object (`{}`), for fields Consul always emits.
#[derive(Serialize, Default)]
pub struct Empty {}

/// `Proxy` of a plain service.
#[derive(Serialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct Proxy {
    mesh_gateway: Empty,
    expose: Empty,
}

/// `{Passing, Warning}`.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct WeightsDto {
    passing: u32,
    warning: u32,
}

impl From<Weights> for WeightsDto {
    fn from(w: Weights) -> Self {
        WeightsDto {
            passing: w.passing,
            warning: w.warning,
        }
    }
}

/// `{Address, Port}`.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AddrDto<'a> {
    address: &'a str,
    port: u16,
}

fn tagged(m: &BTreeMap<String, ServiceAddress>) -> BTreeMap<&str, AddrDto<'_>> {
    m.iter()
        .map(|(k, v)| {
            (
                k.as_str(),
                AddrDto {
                    address: &v.address,
                    port: v.port,
                },
            )
        })
        .collect()
}

/// Consul's `Node`.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct NodeDto<'a> {
    #[serde(rename = "ID")]
    id: &'a str,
    node: &'a str,
    address: &'a str,
    datacenter: &'a str,
    tagged_addresses: &'a BTreeMap<String, String>,
    meta: &'a BTreeMap<String, String>,
    create_index: u64,
    modify_index: u64,
}

impl<'a> From<&'a Node> for NodeDto<'a> {
    fn from(n: &'a Node) -> Self {
        NodeDto {
            id: &n.id,
            node: &n.name,
            address: &n.address,
            datacenter: &n.datacenter,
            tagged_addresses: &n.tagged_addresses,
            meta: &n.meta,
            create_index: n.create_index,
            modify_index: n.modify_index,
        }
    }
}

/// Consul's `NodeService` (catalog/node `Services` values, health/service `Service`).
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct NodeServiceDto<'a> {
    #[serde(skip_serializing_if = "str::is_empty")]
    kind: &'a str,
    #[serde(rename = "ID")]
    id: &'a str,
    service: &'a str,
    tags: &'a [String],
    address: &'a str,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    tagged_addresses: BTreeMap<&'a str, AddrDto<'a>>,
    meta: &'a BTreeMap<String, String>,
    port: u16,
    weights: WeightsDto,
    enable_tag_override: bool,
    proxy: Proxy,
    connect: Empty,
    create_index: u64,
    modify_index: u64,
}

impl<'a> From<&'a Service> for NodeServiceDto<'a> {
    fn from(s: &'a Service) -> Self {
        NodeServiceDto {
            kind: &s.kind,
            id: &s.id,
            service: &s.name,
            tags: &s.tags,
            address: &s.address,
            tagged_addresses: tagged(&s.tagged_addresses),
            meta: &s.meta,
            port: s.port,
            weights: s.weights.into(),
            enable_tag_override: s.enable_tag_override,
            proxy: Proxy::default(),
            connect: Empty {},
            create_index: s.create_index,
            modify_index: s.modify_index,
        }
    }
}

/// Consul's `CatalogService` (catalog/service elements).
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CatalogServiceDto<'a> {
    #[serde(rename = "ID")]
    id: &'a str,
    node: &'a str,
    address: &'a str,
    datacenter: &'a str,
    tagged_addresses: &'a BTreeMap<String, String>,
    node_meta: &'a BTreeMap<String, String>,
    service_kind: &'a str,
    #[serde(rename = "ServiceID")]
    service_id: &'a str,
    service_name: &'a str,
    service_tags: &'a [String],
    service_address: &'a str,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    service_tagged_addresses: BTreeMap<&'a str, AddrDto<'a>>,
    service_weights: WeightsDto,
    service_meta: &'a BTreeMap<String, String>,
    service_port: u16,
    service_socket_path: &'a str,
    service_enable_tag_override: bool,
    service_proxy: Proxy,
    service_connect: Empty,
    create_index: u64,
    modify_index: u64,
}

impl<'a> CatalogServiceDto<'a> {
    /// One instance with its node.
    pub fn new(n: &'a Node, s: &'a Service) -> Self {
        CatalogServiceDto {
            id: &n.id,
            node: &n.name,
            address: &n.address,
            datacenter: &n.datacenter,
            tagged_addresses: &n.tagged_addresses,
            node_meta: &n.meta,
            service_kind: &s.kind,
            service_id: &s.id,
            service_name: &s.name,
            service_tags: &s.tags,
            service_address: &s.address,
            service_tagged_addresses: tagged(&s.tagged_addresses),
            service_weights: s.weights.into(),
            service_meta: &s.meta,
            service_port: s.port,
            service_socket_path: "",
            service_enable_tag_override: s.enable_tag_override,
            service_proxy: Proxy::default(),
            service_connect: Empty {},
            create_index: s.create_index,
            modify_index: s.modify_index,
        }
    }
}

/// A check's `Definition`: only the fields that are set.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DefinitionDto<'a> {
    #[serde(rename = "HTTP", skip_serializing_if = "str::is_empty")]
    http: &'a str,
    #[serde(rename = "TLSServerName", skip_serializing_if = "str::is_empty")]
    tls_server_name: &'a str,
    #[serde(rename = "TLSSkipVerify", skip_serializing_if = "is_false")]
    tls_skip_verify: bool,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    header: &'a BTreeMap<String, Vec<String>>,
    #[serde(skip_serializing_if = "str::is_empty")]
    method: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    body: &'a str,
    #[serde(rename = "TCP", skip_serializing_if = "str::is_empty")]
    tcp: &'a str,
    #[serde(rename = "UDP", skip_serializing_if = "str::is_empty")]
    udp: &'a str,
    #[serde(rename = "GRPC", skip_serializing_if = "str::is_empty")]
    grpc: &'a str,
    #[serde(rename = "GRPCUseTLS", skip_serializing_if = "is_false")]
    grpc_use_tls: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    interval: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    timeout: Option<String>,
    #[serde(rename = "TTL", skip_serializing_if = "Option::is_none")]
    ttl: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    deregister_critical_service_after: Option<String>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    script_args: &'a [String],
}

/// Consul's `HealthCheck`.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CheckDto<'a> {
    node: &'a str,
    #[serde(rename = "CheckID")]
    check_id: &'a str,
    name: &'a str,
    status: &'static str,
    notes: &'a str,
    output: &'a str,
    #[serde(rename = "ServiceID")]
    service_id: &'a str,
    service_name: &'a str,
    service_tags: &'a [String],
    #[serde(rename = "Type")]
    kind: &'a str,
    interval: String,
    timeout: String,
    exposed_port: u16,
    definition: DefinitionDto<'a>,
    create_index: u64,
    modify_index: u64,
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn dur(d: Option<std::time::Duration>) -> Option<String> {
    d.map(duration::format)
}

impl<'a> From<&'a Check> for CheckDto<'a> {
    fn from(c: &'a Check) -> Self {
        let s = &c.spec;
        CheckDto {
            node: &c.node,
            check_id: &c.check_id,
            name: &c.name,
            status: c.status.as_str(),
            notes: &c.notes,
            output: &c.output,
            service_id: &c.service_id,
            service_name: &c.service_name,
            service_tags: &c.service_tags,
            kind: &c.kind,
            interval: dur(s.interval).unwrap_or_default(),
            timeout: dur(s.timeout).unwrap_or_default(),
            exposed_port: 0,
            definition: DefinitionDto {
                http: &s.http,
                tls_server_name: &s.tls_server_name,
                tls_skip_verify: s.tls_skip_verify,
                header: &s.header,
                method: &s.method,
                body: &s.body,
                tcp: &s.tcp,
                udp: &s.udp,
                grpc: &s.grpc,
                grpc_use_tls: s.grpc_use_tls,
                interval: dur(s.interval),
                timeout: dur(s.timeout),
                ttl: dur(s.ttl),
                deregister_critical_service_after: dur(s.deregister_critical_service_after),
                script_args: &s.script_args,
            },
            create_index: c.create_index,
            modify_index: c.modify_index,
        }
    }
}

/// One element of `/v1/health/service/:name`.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ServiceHealthDto<'a> {
    node: NodeDto<'a>,
    service: NodeServiceDto<'a>,
    checks: Vec<CheckDto<'a>>,
}

impl<'a> From<&ServiceHealth<'a>> for ServiceHealthDto<'a> {
    fn from(h: &ServiceHealth<'a>) -> Self {
        ServiceHealthDto {
            node: h.node.into(),
            service: h.service.into(),
            checks: h.checks.iter().map(|c| CheckDto::from(*c)).collect(),
        }
    }
}

/// Consul's `AgentService` (no indexes: agent-local).
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AgentServiceDto<'a> {
    #[serde(skip_serializing_if = "str::is_empty")]
    kind: &'a str,
    #[serde(rename = "ID")]
    id: &'a str,
    service: &'a str,
    tags: &'a [String],
    meta: &'a BTreeMap<String, String>,
    port: u16,
    address: &'a str,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    tagged_addresses: BTreeMap<&'a str, AddrDto<'a>>,
    weights: WeightsDto,
    enable_tag_override: bool,
    datacenter: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    content_hash: Option<String>,
}

impl<'a> AgentServiceDto<'a> {
    /// A local service; `content_hash` only on `/v1/agent/service/:id`.
    pub fn new(s: &'a Service, datacenter: &'a str, content_hash: Option<String>) -> Self {
        AgentServiceDto {
            kind: &s.kind,
            id: &s.id,
            service: &s.name,
            tags: &s.tags,
            meta: &s.meta,
            port: s.port,
            address: &s.address,
            tagged_addresses: tagged(&s.tagged_addresses),
            weights: s.weights.into(),
            enable_tag_override: s.enable_tag_override,
            datacenter,
            content_hash,
        }
    }
}

/// Consul's KV `DirEntry`.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DirEntryDto<'a> {
    lock_index: u64,
    key: &'a str,
    flags: u64,
    value: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    session: Option<&'a str>,
    create_index: u64,
    modify_index: u64,
}

impl<'a> From<&'a KvEntry> for DirEntryDto<'a> {
    fn from(e: &'a KvEntry) -> Self {
        DirEntryDto {
            lock_index: e.lock_index,
            key: &e.key,
            flags: e.flags,
            value: (!e.value.is_empty())
                .then(|| base64::engine::general_purpose::STANDARD.encode(&e.value)),
            session: e.session.as_deref(),
            create_index: e.create_index,
            modify_index: e.modify_index,
        }
    }
}
