//! registrator's rules, pure: one container (as inspected) becomes the services it should
//! have (reference §4.3–4.4). Published ports register with the binding's host IP (else
//! `-ip`, else the agent's advertise address; never a 127.x address unless the port is bound
//! only there); `-internal` registers the container's IP and exposed port; names come from the
//! image's base name (`-<port>` appended when several ports register); IDs are
//! `hostname:container:port[:udp]`; `SERVICE_*` keys come from the environment and labels
//! (labels win, `SERVICE_<port>_*` beats `SERVICE_*`), unknown keys become service meta.

use std::collections::{BTreeMap, HashMap};

/// Meta key marking a service as registered from Docker (its value: the container ID).
pub const OWNER_META: &str = "berth-docker-container";

/// What registration needs to know about one container.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContainerInfo {
    /// Full container ID.
    pub id: String,
    /// Name without the leading `/`.
    pub name: String,
    /// Image reference as configured (`registry:5000/team/app:1.2`).
    pub image: String,
    /// `KEY=value` environment entries.
    pub env: Vec<String>,
    /// Labels.
    pub labels: HashMap<String, String>,
    /// Exposed ports as `(port, "tcp"|"udp")`.
    pub exposed: Vec<(u16, String)>,
    /// Runtime bindings: `(container port, proto, host IP, host port)`.
    pub bindings: Vec<(u16, String, String, u16)>,
    /// `HostConfig.NetworkMode` (`bridge`, `default`, `host`, a network name, `container:<id>`).
    pub network_mode: String,
    /// Attached networks and the container's IP on each, in name order.
    pub networks: Vec<(String, String)>,
    /// The Docker `HEALTHCHECK` state (`starting`, `healthy`, `unhealthy`) and the output of
    /// its last run; None without a health check.
    pub health: Option<(String, String)>,
}

/// Registration settings (registrator's flags).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Settings {
    /// The name used in service IDs (the host's name).
    pub hostname: String,
    /// `-ip`: the address for every published port.
    pub ip: Option<String>,
    /// The agent's advertise address (the fallback for 0.0.0.0 bindings).
    pub advertise: String,
    /// `-internal`: container IP and exposed port.
    pub internal: bool,
    /// `-explicit`: only containers with a `SERVICE_NAME`.
    pub explicit: bool,
    /// `-tags`: added to every service.
    pub tags: Vec<String>,
    /// `-require-label`: only containers carrying this label (or `SERVICE_<label>` env/label).
    pub require_label: Option<String>,
}

/// One service a container should have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Desired {
    /// Service ID.
    pub id: String,
    /// Service name.
    pub name: String,
    /// Address.
    pub address: String,
    /// Port.
    pub port: u16,
    /// Tags, sorted.
    pub tags: Vec<String>,
    /// Meta (unknown `SERVICE_*` keys, lower-cased, plus the owner marker).
    pub meta: BTreeMap<String, String>,
    /// The `check_*` keys for this port (`http`, `interval`, ...), for check building.
    pub check: BTreeMap<String, String>,
}

/// `SERVICE_*` metadata for exposed port `port`: generic keys, overridden by port-specific
/// ones; environment first, labels over it; empty values unset.
fn metadata(c: &ContainerInfo, port: u16) -> BTreeMap<String, String> {
    let mut generic = BTreeMap::new();
    let mut specific = BTreeMap::new();
    let env = c.env.iter().filter_map(|e| e.split_once('='));
    let labels = c.labels.iter().map(|(k, v)| (k.as_str(), v.as_str()));
    for (k, v) in env.chain(labels) {
        let Some(rest) = k.strip_prefix("SERVICE_") else {
            continue;
        };
        let (target, key) = match rest.split_once('_') {
            Some((p, key)) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
                if p.parse::<u16>().ok() != Some(port) {
                    continue;
                }
                (&mut specific, key)
            }
            _ => (&mut generic, rest),
        };
        let key = key.to_ascii_lowercase();
        if v.is_empty() {
            target.remove(&key);
        } else {
            target.insert(key, v.to_string());
        }
    }
    generic.extend(specific);
    generic
}

/// Whether `SERVICE_<port>_NAME` (not the generic one) named this port.
fn named_per_port(c: &ContainerInfo, port: u16) -> bool {
    let key = format!("SERVICE_{port}_NAME");
    c.env
        .iter()
        .filter_map(|e| e.split_once('='))
        .any(|(k, v)| k == key && !v.is_empty())
        || c.labels.get(&key).is_some_and(|v| !v.is_empty())
}

/// Splits registrator's tag lists: commas not preceded by `\`, empty items dropped.
pub fn split_tags(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = s.chars().peekable();
    while let Some(ch) = chars.next() {
        match ch {
            '\\' if chars.peek() == Some(&',') => {
                cur.push(',');
                chars.next();
            }
            ',' => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    out.push(cur);
    out.into_iter()
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .collect()
}

/// The image's base name without tag or digest (`registry:5000/team/app:1.2` → `app`).
pub fn image_name(image: &str) -> String {
    let base = image.rsplit('/').next().unwrap_or(image);
    let base = base.split('@').next().unwrap_or(base);
    base.split(':').next().unwrap_or(base).to_string()
}

fn is_loopback(ip: &str) -> bool {
    ip.parse::<std::net::IpAddr>()
        .is_ok_and(|a| a.is_loopback())
}

/// The services `c` should have under `s` (empty when it should have none).
pub fn desired(c: &ContainerInfo, s: &Settings) -> Vec<Desired> {
    if let Some(label) = &s.require_label {
        let env_key = format!("SERVICE_{label}");
        let has = c.labels.contains_key(label)
            || c.labels.contains_key(&env_key)
            || c.env
                .iter()
                .any(|e| e.split_once('=').is_some_and(|(k, _)| k == env_key));
        if !has {
            return Vec::new();
        }
    }
    let host_mode = c.network_mode == "host";
    // Candidates: every exposed port, as if published on the same port (host networking),
    // replaced by the runtime bindings where they exist.
    let mut ports: BTreeMap<(u16, String), (String, Option<u16>)> = BTreeMap::new();
    for (p, proto) in &c.exposed {
        let host_port = if host_mode || s.internal {
            Some(*p)
        } else {
            None
        };
        ports.insert((*p, proto.clone()), (String::new(), host_port));
    }
    for (p, proto, ip, hp) in &c.bindings {
        let entry = ports
            .entry((*p, proto.clone()))
            .or_insert((String::new(), None));
        // A port bound on several addresses: prefer one that is not loopback.
        if entry.1.is_none() || (is_loopback(&entry.0) && !is_loopback(ip)) {
            *entry = (ip.clone(), Some(*hp));
        }
    }
    let selected: Vec<_> = ports
        .into_iter()
        .filter(|(_, (_, hp))| s.internal || hp.is_some())
        .collect();
    let group = selected.len() > 1;
    let container_ip = match c.network_mode.as_str() {
        "bridge" | "default" | "host" | "" => c
            .networks
            .iter()
            .find(|(n, _)| n == "bridge")
            .or(c.networks.first())
            .map(|(_, ip)| ip.clone()),
        net => c
            .networks
            .iter()
            .find(|(n, _)| n == net)
            .or(c.networks.first())
            .map(|(_, ip)| ip.clone()),
    };
    let mut out = Vec::new();
    for ((port, proto), (host_ip, host_port)) in selected {
        let meta = metadata(c, port);
        if meta.contains_key("ignore") {
            continue;
        }
        let name = match meta.get("name") {
            Some(n) => {
                if group && !named_per_port(c, port) {
                    format!("{n}-{port}")
                } else {
                    n.clone()
                }
            }
            None if s.explicit => continue,
            None if group => format!("{}-{port}", image_name(&c.image)),
            None => image_name(&c.image),
        };
        let mut id = format!("{}:{}:{port}", s.hostname, c.name);
        if proto == "udp" {
            id.push_str(":udp");
        }
        if let Some(custom) = meta.get("id") {
            id = custom.clone();
        }
        let address = if s.internal {
            match (&container_ip, meta.get("network")) {
                (_, Some(net)) => c
                    .networks
                    .iter()
                    .find(|(n, _)| n == net)
                    .map(|(_, ip)| ip.clone())
                    .or(container_ip.clone())
                    .unwrap_or_default(),
                (Some(ip), None) => ip.clone(),
                (None, None) => String::new(),
            }
        } else if let Some(ip) = &s.ip {
            ip.clone()
        } else if !host_ip.is_empty() && host_ip != "0.0.0.0" && host_ip != "::" {
            host_ip.clone()
        } else {
            s.advertise.clone()
        };
        let port = if s.internal {
            port
        } else {
            host_port.unwrap_or(port)
        };
        let mut tags: Vec<String> = meta.get("tags").map(|t| split_tags(t)).unwrap_or_default();
        tags.extend(s.tags.iter().cloned());
        if proto == "udp" {
            tags.push("udp".into());
        }
        tags.sort();
        tags.dedup();
        let mut svc_meta = BTreeMap::new();
        let mut check = BTreeMap::new();
        for (k, v) in &meta {
            match k.as_str() {
                "id" | "tags" | "name" | "ignore" | "network" => {}
                // registrator passes every other key on as meta, check keys included.
                k => {
                    if let Some(c) = k.strip_prefix("check_") {
                        check.insert(c.to_string(), v.clone());
                    }
                    svc_meta.insert(k.to_string(), v.clone());
                }
            }
        }
        svc_meta.insert(OWNER_META.to_string(), c.id.clone());
        out.push(Desired {
            id,
            name,
            address,
            port,
            tags,
            meta: svc_meta,
            check,
        });
    }
    out
}

#[cfg(test)]
mod tests;
