//! Lenient decoding of service and check definitions from JSON (HTTP bodies and config files).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use serde_json::Value;

use super::lenient::{expected, Obj};
use super::{check_kind, CheckDefinition, DefinitionError, ServiceDefinition};
use crate::model::{Health, ServiceAddress, Weights};

/// Consul raises shorter check intervals to this.
const MIN_INTERVAL: Duration = Duration::from_secs(1);

/// Decodes a service definition (`PUT /v1/agent/service/register` body or a config `service`).
pub fn decode_service(v: &Value) -> Result<ServiceDefinition, DefinitionError> {
    let o = Obj::new(v, "")?;
    let name = o.string(&["name"])?.unwrap_or_default();
    if name.is_empty() {
        return Err(DefinitionError::MissingServiceName);
    }
    let address = o.string(&["address"])?.unwrap_or_default();
    if address
        .parse::<IpAddr>()
        .is_ok_and(|ip| ip.is_unspecified())
    {
        return Err(DefinitionError::InvalidServiceAddress);
    }
    let mut svc = ServiceDefinition {
        id: o
            .string(&["id"])?
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| name.clone()),
        name,
        tags: o.strings(&["tags"])?,
        address,
        tagged_addresses: tagged_addresses(&o)?,
        meta: o.string_map(&["meta"])?,
        port: o.uint(&["port"], u64::from(u16::MAX))?.unwrap_or(0) as u16,
        weights: weights(&o)?,
        enable_tag_override: o.bool(&["enabletagoverride"])?.unwrap_or(false),
        kind: o.string(&["kind"])?.unwrap_or_default(),
        checks: Vec::new(),
    };
    for names in [["check"], ["checks"]] {
        let Some((path, v)) = o.get(&names) else {
            continue;
        };
        let items: Vec<(String, &Value)> = match v {
            Value::Array(items) => items
                .iter()
                .enumerate()
                .filter(|(_, v)| !v.is_null())
                .map(|(i, v)| (format!("{path}[{i}]"), v))
                .collect(),
            other => vec![(path, other)],
        };
        for (path, v) in items {
            if Obj::new(v, &path)?.is_empty() {
                continue;
            }
            let check = decode_check_at(v, &path)?;
            check_kind(&check).map_err(|e| e.at(&path))?;
            svc.checks.push(check);
        }
    }
    Ok(svc)
}

/// `TaggedAddresses`: user-chosen names (kept verbatim) to `{Address, Port}`.
pub(crate) fn tagged_addresses(
    o: &Obj,
) -> Result<BTreeMap<String, ServiceAddress>, DefinitionError> {
    let Some((path, v)) = o.get(&["taggedaddresses"]) else {
        return Ok(BTreeMap::new());
    };
    let Value::Object(m) = v else {
        return Err(expected(&path, "an object", v));
    };
    let mut out = BTreeMap::new();
    for (k, v) in m.iter().filter(|(_, v)| !v.is_null()) {
        let a = Obj::new(v, &format!("{path}.{k}"))?;
        let address = a.string(&["address"])?.unwrap_or_default();
        let port = a.uint(&["port"], u64::from(u16::MAX))?.unwrap_or(0) as u16;
        out.insert(k.clone(), ServiceAddress { address, port });
    }
    Ok(out)
}

/// `Weights`: absent means 1/1; present, `Passing` must be at least 1 (Consul's rule).
pub(crate) fn weights(o: &Obj) -> Result<Weights, DefinitionError> {
    let Some((path, v)) = o.get(&["weights"]) else {
        return Ok(Weights::default());
    };
    let w = Obj::new(v, &path)?;
    let passing = w.uint(&["passing"], u64::from(u32::MAX))?.unwrap_or(0);
    if passing < 1 {
        let p = w
            .get(&["passing"])
            .map_or_else(|| w.path_of("Passing"), |(p, _)| p);
        return Err(DefinitionError::field(&p, "must be greater than 0"));
    }
    let warning = w.uint(&["warning"], u64::from(u32::MAX))?.unwrap_or(0);
    Ok(Weights {
        passing: passing as u32,
        warning: warning as u32,
    })
}

/// Decodes a check definition (`PUT /v1/agent/check/register` body or a config `check`) and
/// checks it has exactly one valid type.
pub fn decode_check(v: &Value) -> Result<CheckDefinition, DefinitionError> {
    let check = decode_check_at(v, "")?;
    check_kind(&check)?;
    Ok(check)
}

/// Decodes a check sitting at `path` without validating its type.
fn decode_check_at(v: &Value, path: &str) -> Result<CheckDefinition, DefinitionError> {
    let o = Obj::new(v, path)?;
    let status = match o.get(&["status"]) {
        Some((p, Value::String(s))) if !s.is_empty() => {
            Some(Health::parse(s).ok_or_else(|| {
                DefinitionError::field(
                    &p,
                    format!("invalid status {s:?}: want passing, warning or critical"),
                )
            })?)
        }
        Some((_, Value::String(_))) | None => None,
        Some((p, other)) => return Err(expected(&p, "a string", other)),
    };
    let u32_field = |names: &[&str]| -> Result<u32, DefinitionError> {
        Ok(o.uint(names, u64::from(u32::MAX))?.unwrap_or(0) as u32)
    };
    Ok(CheckDefinition {
        id: o.string(&["checkid", "id"])?.unwrap_or_default(),
        name: o.string(&["name"])?.unwrap_or_default(),
        service_id: o.string(&["serviceid"])?.unwrap_or_default(),
        notes: o.string(&["notes"])?.unwrap_or_default(),
        status,
        ttl: o.duration(&["ttl"])?,
        http: o.string(&["http"])?.unwrap_or_default(),
        method: o.string(&["method"])?.unwrap_or_default(),
        header: o.string_list_map(&["header"])?,
        body: o.string(&["body"])?.unwrap_or_default(),
        tls_skip_verify: o.bool(&["tlsskipverify"])?.unwrap_or(false),
        tls_server_name: o.string(&["tlsservername"])?.unwrap_or_default(),
        disable_redirects: o.bool(&["disableredirects"])?.unwrap_or(false),
        tcp: o.string(&["tcp"])?.unwrap_or_default(),
        udp: o.string(&["udp"])?.unwrap_or_default(),
        grpc: o.string(&["grpc"])?.unwrap_or_default(),
        grpc_use_tls: o.bool(&["grpcusetls"])?.unwrap_or(false),
        h2ping: o.string(&["h2ping"])?.unwrap_or_default(),
        args: o.strings(&["args", "scriptargs"])?,
        docker_container_id: o.string(&["dockercontainerid"])?.unwrap_or_default(),
        shell: o.string(&["shell"])?.unwrap_or_default(),
        alias_node: o.string(&["aliasnode"])?.unwrap_or_default(),
        alias_service: o.string(&["aliasservice"])?.unwrap_or_default(),
        interval: o.duration(&["interval"])?.map(|d| d.max(MIN_INTERVAL)),
        timeout: o.duration(&["timeout"])?,
        deregister_critical_service_after: o.duration(&["deregistercriticalserviceafter"])?,
        output_max_size: o.uint(&["outputmaxsize"], u64::MAX)?,
        success_before_passing: u32_field(&["successbeforepassing"])?,
        failures_before_warning: u32_field(&["failuresbeforewarning"])?,
        failures_before_critical: u32_field(&["failuresbeforecritical"])?,
    })
}
