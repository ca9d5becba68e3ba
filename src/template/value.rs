//! Brain data as template values, with consul-template's Go field names (`.Address`,
//! `.ServiceMeta`, ...), and the field order of each Go struct so that `toJSON` writes fields in
//! the order consul-template's `encoding/json` does (template maps themselves are sorted).

use std::collections::BTreeMap;
use std::sync::Arc;

use gotmpl::Value;

use super::brain::{CheckEntry, KvPair, NodeEntry, NodeService, ServiceEntry};

/// Field order of the Go structs templates see, for `toJSON`: a map whose keys are exactly
/// one of these sets is written in that order.
pub const STRUCTS: &[&[&str]] = &[
    &[
        "Node",
        "NodeID",
        "Kind",
        "NodeAddress",
        "NodeDatacenter",
        "NodeTaggedAddresses",
        "NodeMeta",
        "ServiceMeta",
        "Address",
        "ServiceTaggedAddresses",
        "ID",
        "Name",
        "Tags",
        "Checks",
        "Status",
        "Port",
        "Weights",
        "Namespace",
        "Partition",
    ],
    &[
        "Node",
        "CheckID",
        "Name",
        "Status",
        "Notes",
        "Output",
        "ServiceID",
        "ServiceName",
        "ServiceTags",
        "Type",
        "Namespace",
        "Partition",
    ],
    &["Passing", "Warning"],
    &["Address", "Port"],
    &["Name", "Tags"],
    &[
        "ID",
        "Node",
        "Address",
        "Datacenter",
        "TaggedAddresses",
        "Meta",
    ],
    &["Node", "Services"],
    &[
        "ID",
        "Service",
        "Tags",
        "Meta",
        "Port",
        "Address",
        "EnableTagOverride",
    ],
    &[
        "Path",
        "Key",
        "Value",
        "CreateIndex",
        "ModifyIndex",
        "LockIndex",
        "Flags",
        "Session",
    ],
];

/// A map value from (name, value) pairs.
pub fn map(fields: Vec<(&str, Value)>) -> Value {
    let m: BTreeMap<Arc<str>, Value> = fields.into_iter().map(|(k, v)| (Arc::from(k), v)).collect();
    Value::Map(Arc::new(m))
}

/// A string value.
pub fn s(v: &str) -> Value {
    Value::String(Arc::from(v))
}

fn strings(v: &[String]) -> Value {
    Value::List(v.iter().map(|x| s(x)).collect())
}

fn string_map(m: &BTreeMap<String, String>) -> Value {
    let m: BTreeMap<Arc<str>, Value> = m
        .iter()
        .map(|(k, v)| (Arc::from(k.as_str()), s(v)))
        .collect();
    Value::Map(Arc::new(m))
}

/// consul-template's aggregate status: maintenance > critical > warning > passing.
pub fn aggregate_status(checks: &[CheckEntry]) -> &'static str {
    let maint = checks.iter().any(|c| {
        c.check_id == "_node_maintenance" || c.check_id.starts_with("_service_maintenance:")
    });
    if maint {
        return "maintenance";
    }
    let has = |st: &str| checks.iter().any(|c| c.status == st);
    if has("critical") {
        "critical"
    } else if has("warning") {
        "warning"
    } else {
        "passing"
    }
}

/// A check as `api.HealthCheck`.
pub fn check(c: &CheckEntry) -> Value {
    map(vec![
        ("Node", s(&c.node)),
        ("CheckID", s(&c.check_id)),
        ("Name", s(&c.name)),
        ("Status", s(&c.status)),
        ("Notes", s(&c.notes)),
        ("Output", s(&c.output)),
        ("ServiceID", s(&c.service_id)),
        ("ServiceName", s(&c.service_name)),
        ("ServiceTags", strings(&c.service_tags)),
        ("Type", s(&c.check_type)),
        ("Namespace", s("")),
        ("Partition", s("")),
    ])
}

/// A service instance as `HealthService`.
pub fn service(e: &ServiceEntry) -> Value {
    let tagged: BTreeMap<Arc<str>, Value> = e
        .service_tagged_addresses
        .iter()
        .map(|(k, (addr, port))| {
            let v = map(vec![
                ("Address", s(addr)),
                ("Port", Value::Int(i64::from(*port))),
            ]);
            (Arc::from(k.as_str()), v)
        })
        .collect();
    let mut tags = e.tags.clone();
    tags.sort();
    map(vec![
        ("Node", s(&e.node)),
        ("NodeID", s(&e.node_id)),
        ("Kind", s(&e.kind)),
        ("NodeAddress", s(&e.node_address)),
        ("NodeDatacenter", s(&e.node_datacenter)),
        ("NodeTaggedAddresses", string_map(&e.node_tagged_addresses)),
        ("NodeMeta", string_map(&e.node_meta)),
        ("ServiceMeta", string_map(&e.service_meta)),
        ("Address", s(&e.address)),
        ("ServiceTaggedAddresses", Value::Map(Arc::new(tagged))),
        ("ID", s(&e.id)),
        ("Name", s(&e.name)),
        ("Tags", strings(&tags)),
        ("Checks", Value::List(e.checks.iter().map(check).collect())),
        ("Status", s(aggregate_status(&e.checks))),
        ("Port", Value::Int(i64::from(e.port))),
        (
            "Weights",
            map(vec![
                ("Passing", Value::Int(i64::from(e.weights.0))),
                ("Warning", Value::Int(i64::from(e.weights.1))),
            ]),
        ),
        ("Namespace", s("")),
        ("Partition", s("")),
    ])
}

/// A node as `catalog.Node`.
pub fn node(n: &NodeEntry) -> Value {
    map(vec![
        ("ID", s(&n.id)),
        ("Node", s(&n.node)),
        ("Address", s(&n.address)),
        ("Datacenter", s(&n.datacenter)),
        ("TaggedAddresses", string_map(&n.tagged_addresses)),
        ("Meta", string_map(&n.meta)),
    ])
}

/// A node's service as `CatalogNodeService`.
pub fn node_service(v: &NodeService) -> Value {
    map(vec![
        ("ID", s(&v.id)),
        ("Service", s(&v.service)),
        ("Tags", strings(&v.tags)),
        ("Meta", string_map(&v.meta)),
        ("Port", Value::Int(i64::from(v.port))),
        ("Address", s(&v.address)),
        ("EnableTagOverride", Value::Bool(v.enable_tag_override)),
    ])
}

/// A KV entry as `KeyPair`, `key` relative to the listed prefix.
pub fn kv_pair(p: &KvPair, key: &str) -> Value {
    map(vec![
        ("Path", s(&p.path)),
        ("Key", s(key)),
        ("Value", s(&p.value)),
        ("CreateIndex", Value::Int(p.create_index as i64)),
        ("ModifyIndex", Value::Int(p.modify_index as i64)),
        ("LockIndex", Value::Int(p.lock_index as i64)),
        ("Flags", Value::Int(p.flags as i64)),
        ("Session", s(&p.session)),
    ])
}

/// The Go type of each entry of `STRUCTS`, for Go's "can't evaluate field" errors.
pub const GO_TYPES: &[&str] = &[
    "*dependency.HealthService",
    "*api.HealthCheck",
    "api.AgentWeights",
    "api.ServiceAddress",
    "*dependency.CatalogSnippet",
    "*dependency.Node",
    "*dependency.CatalogNodeServices",
    "*dependency.CatalogService",
    "*dependency.KeyPair",
];

/// The Go type a map stands for, when its keys are exactly one of `STRUCTS`.
pub fn struct_type(m: &BTreeMap<Arc<str>, Value>) -> Option<&'static str> {
    let fields = struct_order(m)?;
    let i = STRUCTS.iter().position(|f| std::ptr::eq(*f, fields))?;
    GO_TYPES.get(i).copied()
}

/// The Go struct field order for a map with exactly these keys, if it is one of `STRUCTS`.
pub fn struct_order(m: &BTreeMap<Arc<str>, Value>) -> Option<&'static [&'static str]> {
    STRUCTS
        .iter()
        .find(|fields| fields.len() == m.len() && fields.iter().all(|f| m.contains_key(*f)))
        .copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_struct_has_a_go_type() {
        assert_eq!(STRUCTS.len(), GO_TYPES.len());
        let m = match service(&ServiceEntry::default()) {
            Value::Map(m) => m,
            _ => unreachable!(),
        };
        assert_eq!(struct_type(&m), Some("*dependency.HealthService"));
    }
}
