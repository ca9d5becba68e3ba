//! `/v1/catalog/*`: direct catalog registration and the catalog reads.

use std::collections::BTreeMap;

use super::super::body::parse_body;
use super::super::dto::{CatalogServiceDto, NodeDto, NodeServiceDto};
use super::super::error::{ApiError, ApiResult};
use super::super::request::ApiRequest;
use super::super::response::ApiResponse;
use super::super::HttpState;
use super::{json, node_meta_filter, node_meta_matches, read, required};
use crate::agent::definition::lenient::Obj;
use crate::agent::definition::{tagged_addresses, weights};
use crate::catalog::command::{Command, Deregister, NodeRegistration, Register};
use crate::catalog::{Response, Table};
use crate::model::{Check, Health, Service};

/// `PUT /v1/catalog/register`.
pub async fn register(state: &HttpState, req: &ApiRequest) -> ApiResult<ApiResponse> {
    let body = parse_body(&req.body)?;
    let reg = decode_register(&Obj::new(&body, "")?, &state.config.datacenter)?;
    write(state, req, Command::Register(Box::new(reg))).await
}

fn decode_register(o: &Obj<'_>, dc: &str) -> ApiResult<Register> {
    let name = o.string(&["node"])?.unwrap_or_default();
    if name.is_empty() {
        return Err(ApiError::BadRequest("Must provide node".into()));
    }
    let skip_node_update = o.bool(&["skipnodeupdate"])?.unwrap_or(false);
    let address = o.string(&["address"])?.unwrap_or_default();
    if address.is_empty() && !skip_node_update {
        return Err(ApiError::BadRequest(
            "Must provide address if SkipNodeUpdate is not set".into(),
        ));
    }
    let datacenter = o
        .string(&["datacenter"])?
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| dc.to_string());
    let node = NodeRegistration {
        id: o.string(&["id"])?.unwrap_or_default(),
        name: name.clone(),
        address,
        datacenter,
        tagged_addresses: o.string_map(&["taggedaddresses"])?,
        meta: o.string_map(&["nodemeta"])?,
    };
    let service = o
        .obj(&["service"])?
        .map(|s| decode_service(&s, &name))
        .transpose()?;
    let mut checks = Vec::new();
    for c in o.objs(&["check"])?.into_iter().chain(o.objs(&["checks"])?) {
        checks.push(decode_check(&c, &name)?);
    }
    Ok(Register {
        node,
        skip_node_update,
        service,
        checks,
    })
}

/// A catalog `Service` (a `NodeService`: the name is under `Service`, not `Name`).
fn decode_service(s: &Obj<'_>, node: &str) -> ApiResult<Service> {
    let name = s.string(&["service"])?.unwrap_or_default();
    if name.is_empty() {
        return Err(ApiError::BadRequest(
            "Must provide service name with Service.Service".into(),
        ));
    }
    let id = s
        .string(&["id"])?
        .filter(|i| !i.is_empty())
        .unwrap_or_else(|| name.clone());
    Ok(Service {
        node: node.to_string(),
        id,
        name,
        tags: s.strings(&["tags"])?,
        address: s.string(&["address"])?.unwrap_or_default(),
        tagged_addresses: tagged_addresses(s)?,
        meta: s.string_map(&["meta"])?,
        port: s.uint(&["port"], u64::from(u16::MAX))?.unwrap_or(0) as u16,
        weights: weights(s)?,
        enable_tag_override: s.bool(&["enabletagoverride"])?.unwrap_or(false),
        kind: s.string(&["kind"])?.unwrap_or_default(),
        create_index: 0,
        modify_index: 0,
    })
}

fn decode_check(c: &Obj<'_>, node: &str) -> ApiResult<Check> {
    let name = c.string(&["name"])?.unwrap_or_default();
    let check_id = c
        .string(&["checkid"])?
        .filter(|i| !i.is_empty())
        .unwrap_or_else(|| name.clone());
    if check_id.is_empty() {
        return Err(ApiError::BadRequest(
            "Must provide a CheckID or Name for each check".into(),
        ));
    }
    let status = match c.string(&["status"])?.filter(|s| !s.is_empty()) {
        None => Health::Critical,
        Some(s) => Health::parse(&s)
            .ok_or_else(|| ApiError::BadRequest(format!("Invalid check status {s:?}")))?,
    };
    Ok(Check {
        node: node.to_string(),
        check_id,
        name,
        status,
        notes: c.string(&["notes"])?.unwrap_or_default(),
        output: c.string(&["output"])?.unwrap_or_default(),
        service_id: c.string(&["serviceid"])?.unwrap_or_default(),
        kind: c.string(&["type"])?.unwrap_or_default(),
        ..Check::default()
    })
}

/// `PUT /v1/catalog/deregister`.
pub async fn deregister(state: &HttpState, req: &ApiRequest) -> ApiResult<ApiResponse> {
    let body = parse_body(&req.body)?;
    let o = Obj::new(&body, "")?;
    let node = o.string(&["node"])?.unwrap_or_default();
    if node.is_empty() {
        return Err(ApiError::BadRequest("Must provide node".into()));
    }
    let d = Deregister {
        node,
        service_id: o.string(&["serviceid"])?.filter(|s| !s.is_empty()),
        check_id: o.string(&["checkid"])?.filter(|s| !s.is_empty()),
    };
    write(state, req, Command::Deregister(d)).await
}

async fn write(state: &HttpState, req: &ApiRequest, cmd: Command) -> ApiResult<ApiResponse> {
    match state.cluster.write(cmd).await? {
        Response::Rejected(reason) => Err(ApiError::Internal(reason)),
        Response::Bool(b) => Ok(ApiResponse::json(&b, state.pretty(req))),
        Response::Ok => Ok(ApiResponse::json(&true, state.pretty(req))),
    }
}

/// `GET /v1/catalog/datacenters`.
pub fn datacenters(state: &HttpState, req: &ApiRequest) -> ApiResult<ApiResponse> {
    Ok(ApiResponse::json(
        &[&state.config.datacenter],
        state.pretty(req),
    ))
}

/// `GET /v1/catalog/nodes?node-meta=k:v`.
pub async fn nodes(state: &HttpState, req: &ApiRequest) -> ApiResult<ApiResponse> {
    let meta = node_meta_filter(req);
    read(
        state,
        req,
        &[Table::Nodes],
        |t| t.table_index(Table::Nodes),
        |t, pretty| {
            let (mut nodes, _) = t.nodes();
            nodes.retain(|n| node_meta_matches(&n.meta, &meta));
            json(
                &nodes.into_iter().map(NodeDto::from).collect::<Vec<_>>(),
                pretty,
            )
        },
    )
    .await
}

/// `GET /v1/catalog/services`: names with the union of their tags.
pub async fn services(state: &HttpState, req: &ApiRequest) -> ApiResult<ApiResponse> {
    read(
        state,
        req,
        &[Table::Services],
        |t| t.table_index(Table::Services),
        |t, pretty| json(&t.services().0, pretty),
    )
    .await
}

/// `GET /v1/catalog/service/:name?tag=`.
pub async fn service(state: &HttpState, req: &ApiRequest, tail: &str) -> ApiResult<ApiResponse> {
    let name = required(tail, "service name")?;
    let tags = req.params("tag");
    let meta = node_meta_filter(req);
    read(
        state,
        req,
        &[Table::Nodes, Table::Services],
        |t| t.service_index(name),
        |t, pretty| {
            let (mut rows, _) = t.service_nodes(name, &tags);
            rows.retain(|(n, _)| node_meta_matches(&n.meta, &meta));
            json(
                &rows
                    .iter()
                    .map(|(n, s)| CatalogServiceDto::new(n, s))
                    .collect::<Vec<_>>(),
                pretty,
            )
        },
    )
    .await
}

/// `GET /v1/catalog/node/:node`: the node and its services, or `null`.
pub async fn node(state: &HttpState, req: &ApiRequest, tail: &str) -> ApiResult<ApiResponse> {
    let name = required(tail, "node name")?;
    read(
        state,
        req,
        &[Table::Nodes, Table::Services],
        |t| t.node_index(name),
        |t, pretty| {
            let (found, _) = t.node_services(name);
            let body = found.map(|(n, svcs)| {
                let services: BTreeMap<&str, NodeServiceDto<'_>> = svcs
                    .iter()
                    .map(|s| (s.id.as_str(), NodeServiceDto::from(*s)))
                    .collect();
                serde_json::json!({ "Node": NodeDto::from(n), "Services": services })
            });
            json(&body, pretty)
        },
    )
    .await
}
