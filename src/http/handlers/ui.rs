//! `/v1/internal/ui/*`: the summaries Consul's web UI reads, one blocking query per page
//! instead of one per service or node. Shapes follow Consul's `ServiceSummary` and
//! `NodeInfo`.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};

use super::super::dto::{CheckDto, NodeDto, NodeServiceDto};
use super::super::error::ApiResult;
use super::super::request::ApiRequest;
use super::super::response::ApiResponse;
use super::super::HttpState;
use super::read;
use crate::catalog::watch::HEALTH;
use crate::catalog::Tables;
use crate::model::Health;

/// The highest index of the tables a summary reads.
fn health_index(t: &Tables) -> crate::model::Index {
    HEALTH
        .iter()
        .map(|tb| t.table_index(*tb))
        .max()
        .unwrap_or(0)
}

/// `GET /v1/internal/ui/services`: each service with its tags, nodes, instance count and
/// check counts by status (node checks included, each once per node, as Consul counts them).
pub async fn services(state: &HttpState, req: &ApiRequest) -> ApiResult<ApiResponse> {
    let dc = state.config.datacenter.clone();
    read(state, req, HEALTH, health_index, move |t, pretty| {
        let (names, _) = t.services();
        let out: Vec<Value> = names
            .keys()
            .map(|name| {
                let (rows, _) = t.health_service(name, &[], false);
                let mut tags = BTreeSet::new();
                let mut nodes = BTreeSet::new();
                let mut sources = BTreeSet::new();
                // Each check once per node, as Consul counts: two instances on one node
                // share its serfHealth.
                let mut checks = BTreeMap::new();
                for h in &rows {
                    tags.extend(h.service.tags.iter().cloned());
                    nodes.insert(h.node.name.clone());
                    sources.extend(h.service.meta.get("external-source").cloned());
                    for c in &h.checks {
                        checks.insert((h.node.name.as_str(), c.check_id.as_str()), c.status);
                    }
                }
                let mut counts = [0usize; 3];
                for status in checks.values() {
                    counts[match status {
                        Health::Passing => 0,
                        Health::Warning => 1,
                        Health::Critical => 2,
                    }] += 1;
                }
                json!({
                    "Name": name,
                    "Datacenter": dc,
                    "Tags": tags,
                    "Nodes": nodes,
                    "InstanceCount": rows.len(),
                    "ChecksPassing": counts[0],
                    "ChecksWarning": counts[1],
                    "ChecksCritical": counts[2],
                    "ExternalSources": sources,
                    // Consul's Connect fields: no gateways, proxies or Connect here.
                    "GatewayConfig": {},
                    "TransparentProxy": false,
                    "ConnectNative": false,
                    "ConnectedWithProxy": false,
                    "ConnectedWithGateway": false,
                })
            })
            .collect();
        super::json(&out, pretty)
    })
    .await
}

/// `GET /v1/internal/ui/nodes`: every node with its services and checks.
pub async fn nodes(state: &HttpState, req: &ApiRequest) -> ApiResult<ApiResponse> {
    read(state, req, HEALTH, health_index, |t, pretty| {
        let (nodes, _) = t.nodes();
        let out: Vec<Value> = nodes
            .into_iter()
            .map(|n| {
                let mut v = serde_json::to_value(NodeDto::from(n)).unwrap_or(Value::Null);
                let services: Vec<NodeServiceDto<'_>> = t
                    .node_services(&n.name)
                    .0
                    .map(|(_, s)| s.into_iter().map(NodeServiceDto::from).collect())
                    .unwrap_or_default();
                let checks: Vec<CheckDto<'_>> = t
                    .node_checks(&n.name)
                    .0
                    .into_iter()
                    .map(CheckDto::from)
                    .collect();
                if let Value::Object(m) = &mut v {
                    m.insert("Services".into(), json!(services));
                    m.insert("Checks".into(), json!(checks));
                }
                v
            })
            .collect();
        super::json(&out, pretty)
    })
    .await
}
