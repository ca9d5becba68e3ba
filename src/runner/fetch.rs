//! One dependency as a Consul API query, and its JSON answer as brain data, the way
//! consul-template fetches it: `service` reads `/v1/health/service/<name>` (every instance;
//! the health filter is applied by the function), an instance without its own address takes
//! its node's, KV values are base64 in JSON, a missing key is a 404.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde_json::Value;

use super::source::Reply;
use crate::template::brain::{CheckEntry, Data, KvPair, NodeEntry, NodeService, ServiceEntry};
use crate::template::dep::Dep;

/// The path and query for `dep` (`File` is read from disk, not asked for).
pub fn request(dep: &Dep, node_name: &str) -> Option<(String, Vec<(String, String)>)> {
    let mut q = Vec::new();
    let dc = |dc: &Option<String>, q: &mut Vec<(String, String)>| {
        if let Some(dc) = dc {
            q.push(("dc".to_string(), dc.clone()));
        }
    };
    let path = match dep {
        Dep::Service(s) => {
            if let Some(t) = &s.tag {
                q.push(("tag".into(), t.clone()));
            }
            if let Some(n) = &s.near {
                q.push(("near".into(), n.clone()));
            }
            dc(&s.dc, &mut q);
            format!("/v1/health/service/{}", s.name)
        }
        Dep::Services { dc: d } => {
            dc(d, &mut q);
            "/v1/catalog/services".into()
        }
        Dep::Node { name, dc: d } => {
            dc(d, &mut q);
            let name = if name.is_empty() { node_name } else { name };
            format!("/v1/catalog/node/{name}")
        }
        Dep::Nodes { dc: d, near } => {
            if let Some(n) = near {
                q.push(("near".into(), n.clone()));
            }
            dc(d, &mut q);
            "/v1/catalog/nodes".into()
        }
        Dep::Key { path, dc: d } => {
            dc(d, &mut q);
            format!("/v1/kv/{path}")
        }
        Dep::List { prefix, dc: d, .. } => {
            q.push(("recurse".into(), String::new()));
            dc(d, &mut q);
            format!("/v1/kv/{prefix}")
        }
        Dep::Datacenters { .. } => "/v1/catalog/datacenters".into(),
        Dep::File(_) => return None,
    };
    Some((path, q))
}

/// Whether the endpoint blocks on `?index=` (datacenters does not: it is polled).
pub fn blocks(dep: &Dep) -> bool {
    !matches!(dep, Dep::Datacenters { .. } | Dep::File(_))
}

/// The reply as data for `dep`; Err names what was wrong with it.
pub fn decode(dep: &Dep, reply: &Reply) -> Result<Data, String> {
    let not_found = reply.status == 404;
    if reply.status != 200 && !not_found {
        let text = String::from_utf8_lossy(&reply.body);
        return Err(format!(
            "unexpected response code: {} ({})",
            reply.status,
            text.trim()
        ));
    }
    let v: Value = if not_found {
        Value::Null
    } else {
        serde_json::from_slice(&reply.body).map_err(|e| format!("invalid JSON: {e}"))?
    };
    Ok(match dep {
        Dep::Service(_) => Data::Services(items(&v).iter().map(service_entry).collect()),
        Dep::Services { .. } => {
            let mut m = BTreeMap::new();
            if let Value::Object(o) = &v {
                for (k, tags) in o {
                    let mut t = strings(tags);
                    t.sort();
                    m.insert(k.clone(), t);
                }
            }
            Data::CatalogServices(m)
        }
        Dep::Node { .. } => match &v {
            Value::Object(o) if o.get("Node").is_some_and(|n| !n.is_null()) => {
                let node = node_entry(&o["Node"]);
                let mut services: Vec<NodeService> = match o.get("Services") {
                    Some(Value::Object(s)) => s.values().map(node_service).collect(),
                    Some(Value::Array(s)) => s.iter().map(node_service).collect(),
                    _ => Vec::new(),
                };
                services.sort_by(|a, b| (&a.service, &a.id).cmp(&(&b.service, &b.id)));
                Data::Node(Some((node, services)))
            }
            _ => Data::Node(None),
        },
        Dep::Nodes { .. } => {
            let mut nodes: Vec<NodeEntry> = items(&v).iter().map(node_entry).collect();
            nodes.sort_by(|a, b| a.node.cmp(&b.node));
            Data::Nodes(nodes)
        }
        Dep::Key { .. } => Data::Key(items(&v).first().map(kv_pair)),
        Dep::List { .. } => Data::List(items(&v).iter().map(kv_pair).collect()),
        Dep::Datacenters { .. } => Data::Datacenters(strings(&v)),
        Dep::File(_) => return Err("files are not fetched over the API".into()),
    })
}

fn items(v: &Value) -> &[Value] {
    match v {
        Value::Array(a) => a,
        _ => &[],
    }
}

fn s(v: &Value, k: &str) -> String {
    v.get(k)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn u(v: &Value, k: &str) -> u64 {
    v.get(k).and_then(Value::as_u64).unwrap_or(0)
}

fn strings(v: &Value) -> Vec<String> {
    items(v)
        .iter()
        .filter_map(|x| x.as_str().map(String::from))
        .collect()
}

fn string_map(v: Option<&Value>) -> BTreeMap<String, String> {
    match v {
        Some(Value::Object(o)) => o
            .iter()
            .map(|(k, x)| (k.clone(), x.as_str().unwrap_or_default().to_string()))
            .collect(),
        _ => BTreeMap::new(),
    }
}

fn node_entry(n: &Value) -> NodeEntry {
    NodeEntry {
        id: s(n, "ID"),
        node: s(n, "Node"),
        address: s(n, "Address"),
        datacenter: s(n, "Datacenter"),
        tagged_addresses: string_map(n.get("TaggedAddresses")),
        meta: string_map(n.get("Meta")),
    }
}

fn node_service(v: &Value) -> NodeService {
    NodeService {
        id: s(v, "ID"),
        service: s(v, "Service"),
        tags: strings(v.get("Tags").unwrap_or(&Value::Null)),
        meta: string_map(v.get("Meta")),
        port: u(v, "Port") as u16,
        address: s(v, "Address"),
        enable_tag_override: v
            .get("EnableTagOverride")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    }
}

fn service_entry(e: &Value) -> ServiceEntry {
    let node = e.get("Node").unwrap_or(&Value::Null);
    let svc = e.get("Service").unwrap_or(&Value::Null);
    let node_address = s(node, "Address");
    let mut address = s(svc, "Address");
    if address.is_empty() {
        address = node_address.clone();
    }
    let tagged = match svc.get("TaggedAddresses") {
        Some(Value::Object(o)) => o
            .iter()
            .map(|(k, a)| (k.clone(), (s(a, "Address"), u(a, "Port") as u16)))
            .collect(),
        _ => BTreeMap::new(),
    };
    let weights = svc.get("Weights").unwrap_or(&Value::Null);
    let checks = items(e.get("Checks").unwrap_or(&Value::Null))
        .iter()
        .map(|c| CheckEntry {
            node: s(c, "Node"),
            check_id: s(c, "CheckID"),
            name: s(c, "Name"),
            status: s(c, "Status"),
            notes: s(c, "Notes"),
            output: s(c, "Output"),
            service_id: s(c, "ServiceID"),
            service_name: s(c, "ServiceName"),
            service_tags: strings(c.get("ServiceTags").unwrap_or(&Value::Null)),
            check_type: s(c, "Type"),
        })
        .collect();
    ServiceEntry {
        node: s(node, "Node"),
        node_id: s(node, "ID"),
        node_address,
        node_datacenter: s(node, "Datacenter"),
        node_tagged_addresses: string_map(node.get("TaggedAddresses")),
        node_meta: string_map(node.get("Meta")),
        service_meta: string_map(svc.get("Meta")),
        address,
        service_tagged_addresses: tagged,
        id: s(svc, "ID"),
        name: s(svc, "Service"),
        kind: s(svc, "Kind"),
        tags: strings(svc.get("Tags").unwrap_or(&Value::Null)),
        checks,
        port: u(svc, "Port") as u16,
        weights: (u(weights, "Passing") as u32, u(weights, "Warning") as u32),
    }
}

fn kv_pair(v: &Value) -> KvPair {
    let raw = s(v, "Value");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(raw.as_bytes())
        .unwrap_or_default();
    KvPair {
        path: s(v, "Key"),
        value: String::from_utf8_lossy(&bytes).into_owned(),
        create_index: u(v, "CreateIndex"),
        modify_index: u(v, "ModifyIndex"),
        lock_index: u(v, "LockIndex"),
        flags: u(v, "Flags"),
        session: s(v, "Session"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(status: u16, body: &str) -> Reply {
        Reply {
            status,
            index: 1,
            body: body.to_string().into(),
        }
    }

    #[test]
    fn service_entries_take_the_node_address_when_their_own_is_empty() {
        let dep = Dep::service(&["web".into()]).unwrap();
        let body = r#"[{"Node":{"Node":"n1","Address":"10.0.0.9"},
            "Service":{"ID":"w1","Service":"web","Address":"","Port":80,"Tags":["a"],
                       "Weights":{"Passing":1,"Warning":1}},
            "Checks":[{"CheckID":"serfHealth","Status":"passing"}]}]"#;
        let Data::Services(v) = decode(&dep, &reply(200, body)).unwrap() else {
            panic!()
        };
        assert_eq!(
            (v[0].address.as_str(), v[0].port, v[0].weights),
            ("10.0.0.9", 80, (1, 1))
        );
        assert_eq!(request(&dep, "me").unwrap().0, "/v1/health/service/web");
    }

    #[test]
    fn keys_are_base64_and_absent_keys_are_none() {
        let dep = Dep::Key {
            path: "a/b".into(),
            dc: None,
        };
        let got = decode(
            &dep,
            &reply(200, r#"[{"Key":"a/b","Value":"aGk=","ModifyIndex":5}]"#),
        );
        let Ok(Data::Key(Some(kv))) = got else {
            panic!()
        };
        assert_eq!((kv.value.as_str(), kv.modify_index), ("hi", 5));
        assert_eq!(decode(&dep, &reply(404, "")).unwrap(), Data::Key(None));
        assert!(decode(&dep, &reply(500, "boom"))
            .unwrap_err()
            .contains("500"));
    }
}
