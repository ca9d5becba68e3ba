//! What a DNS lookup reads from the catalog, as owned data: a server reads it from its own
//! tables, a client agent (or a follower that must not answer stale) gets it from a server
//! over RPC, and `answer.rs` turns it into records with this agent's own `dns_config`, as
//! Consul's agents do with the results of their catalog RPCs.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::name::Lookup;
use crate::catalog::Tables;
use crate::model::{Health, Node};

/// The catalog's data for one lookup.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Found {
    /// No such service, node or address (NXDOMAIN).
    Nothing,
    /// A service's instances that carry the asked tag, with their health.
    Service {
        /// The service's name as registered (its TTL is looked up by it).
        name: String,
        /// Every matching instance, healthy or not: the health filter is the asking agent's.
        instances: Vec<Instance>,
    },
    /// A node.
    Node(NodeEntry),
    /// The servers (nodes running the `consul` service), for the domain's NS records.
    Servers(Vec<NodeEntry>),
    /// The owner of an address (PTR): a node name, else a service name.
    Owner {
        /// `true` for a node, `false` for a service.
        node: bool,
        /// Its name.
        name: String,
    },
}

/// A node's name, address and meta (for TXT records).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeEntry {
    /// Node name.
    pub name: String,
    /// Its address (an IP, or a host name).
    pub address: String,
    /// Node meta, in key order.
    pub meta: Vec<(String, String)>,
}

/// One service instance as DNS needs it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Instance {
    /// The node it runs on.
    pub node: NodeEntry,
    /// The service's own address; empty when it uses the node's.
    pub address: String,
    /// Its port.
    pub port: u16,
    /// SRV weight while passing.
    pub weight_passing: u32,
    /// SRV weight while warning.
    pub weight_warning: u32,
    /// Worst status among its node's and its own checks.
    pub status: Health,
}

impl NodeEntry {
    fn of(n: &Node) -> NodeEntry {
        NodeEntry {
            name: n.name.clone(),
            address: n.address.clone(),
            meta: n.meta.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        }
    }
}

/// Reads what `lookup` needs from `t` (the datacenter was checked by the caller).
pub fn fetch(t: &Tables, lookup: &Lookup) -> Found {
    match lookup {
        Lookup::Apex => {
            let (servers, _) = t.health_service("consul", &[], false);
            Found::Servers(servers.iter().map(|h| NodeEntry::of(h.node)).collect())
        }
        Lookup::Service { service, tag, .. } => service_found(t, service, tag.as_deref()),
        Lookup::Node { node, .. } => {
            // The name as asked (lower case) first; a mixed-case node name needs the scan.
            let found = t
                .nodes
                .get(node)
                .or_else(|| t.nodes.values().find(|n| n.name.eq_ignore_ascii_case(node)));
            found.map_or(Found::Nothing, |n| Found::Node(NodeEntry::of(n)))
        }
        Lookup::Addr { .. } => Found::Nothing,
        Lookup::Ptr { ip } => owner(t, *ip),
    }
}

fn service_found(t: &Tables, service: &str, tag: Option<&str>) -> Found {
    // The name as asked (lower case) first; a mixed-case service name needs the scan.
    let (mut all, _) = t.health_service(service, &[], false);
    let mut name = service.to_string();
    if all.is_empty() {
        let Some(found) = t.by_name.keys().find(|n| n.eq_ignore_ascii_case(service)) else {
            return Found::Nothing;
        };
        name = found.clone();
        all = t.health_service(&name, &[], false).0;
    }
    let instances = all
        .iter()
        .filter(|h| {
            tag.is_none_or(|tag| h.service.tags.iter().any(|x| x.eq_ignore_ascii_case(tag)))
        })
        .map(|h| Instance {
            node: NodeEntry::of(h.node),
            address: h.service.address.clone(),
            port: h.service.port,
            weight_passing: h.service.weights.passing,
            weight_warning: h.service.weights.warning,
            status: h
                .checks
                .iter()
                .map(|c| c.status)
                .max()
                .unwrap_or(Health::Passing),
        })
        .collect();
    Found::Service { name, instances }
}

/// Consul's PTR rule: a node with that address, else a service instance with it.
fn owner(t: &Tables, ip: IpAddr) -> Found {
    let same = |a: &str| a.parse::<IpAddr>().is_ok_and(|x| x == ip);
    if let Some(n) = t.nodes.values().find(|n| same(&n.address)) {
        return Found::Owner {
            node: true,
            name: n.name.clone(),
        };
    }
    t.services
        .values()
        .flat_map(|by_id| by_id.values())
        .find(|s| same(&s.address))
        .map_or(Found::Nothing, |s| Found::Owner {
            node: false,
            name: s.name.clone(),
        })
}
