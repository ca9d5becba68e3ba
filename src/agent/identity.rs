//! The node's identity as the catalog shows it.

use std::collections::BTreeMap;

use crate::catalog::command::NodeRegistration;
use crate::model::{Check, Health, Service};

/// Who this agent is.
#[derive(Debug, Clone)]
pub struct Identity {
    /// Node UUID.
    pub node_id: String,
    /// Node name.
    pub node_name: String,
    /// Datacenter.
    pub datacenter: String,
    /// Advertised address.
    pub address: String,
    /// Node metadata.
    pub meta: BTreeMap<String, String>,
    /// Whether this agent is a server (it then also registers the `consul` service).
    pub server: bool,
    /// Server RPC port, shown as the `consul` service's port.
    pub server_port: u16,
}

/// Check ID of the gossip health check every node carries.
pub const SERF_CHECK_ID: &str = "serfHealth";

impl Identity {
    /// The node entry this agent keeps in the catalog.
    pub fn node_registration(&self) -> NodeRegistration {
        let mut tagged = BTreeMap::new();
        for k in ["lan", "lan_ipv4", "wan", "wan_ipv4"] {
            tagged.insert(k.to_string(), self.address.clone());
        }
        let mut meta = self.meta.clone();
        meta.entry("consul-network-segment".into()).or_default();
        meta.entry("consul-version".into())
            .or_insert_with(|| crate::CONSUL_VERSION.into());
        NodeRegistration {
            id: self.node_id.clone(),
            name: self.node_name.clone(),
            address: self.address.clone(),
            datacenter: self.datacenter.clone(),
            tagged_addresses: tagged,
            meta,
        }
    }

    /// The `serfHealth` check: passing while this agent runs (gossip takes it over later).
    pub fn serf_health(&self) -> Check {
        Check {
            node: self.node_name.clone(),
            check_id: SERF_CHECK_ID.into(),
            name: "Serf Health Status".into(),
            status: Health::Passing,
            output: "Agent alive and reachable".into(),
            ..Check::default()
        }
    }

    /// The `consul` service servers register, as Consul does.
    pub fn consul_service(&self) -> Option<Service> {
        self.server
            .then(|| consul_service(&self.node_name, self.server_port))
    }
}

/// The `consul` service a server carries in the catalog (port = its server RPC port).
pub fn consul_service(node: &str, server_port: u16) -> Service {
    let meta = [
        ("raft_version", "3"),
        ("serf_protocol_current", "2"),
        ("serf_protocol_max", "5"),
        ("serf_protocol_min", "1"),
        ("version", crate::CONSUL_VERSION),
        ("non_voter", "false"),
        ("read_replica", "false"),
    ];
    Service {
        node: node.to_string(),
        id: "consul".into(),
        name: "consul".into(),
        port: server_port,
        meta: meta
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..Service::default()
    }
}
