//! The data templates read, keyed by dependency (consul-template's "brain"): the runner
//! stores each watch's latest result here, and a render reads only from it, so a render is
//! pure and repeatable. A dependency with no entry has not been fetched yet.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, OnceLock};

use gotmpl::Value;

use super::dep::Dep;
use super::value;

/// One service instance as `service` returns it (consul-template's `HealthService`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ServiceEntry {
    /// Node name.
    pub node: String,
    /// Node ID.
    pub node_id: String,
    /// Node address.
    pub node_address: String,
    /// Node datacenter.
    pub node_datacenter: String,
    /// Node tagged addresses.
    pub node_tagged_addresses: BTreeMap<String, String>,
    /// Node meta.
    pub node_meta: BTreeMap<String, String>,
    /// Service meta.
    pub service_meta: BTreeMap<String, String>,
    /// Service address, or the node's when the service has none.
    pub address: String,
    /// Service tagged addresses: name → (address, port).
    pub service_tagged_addresses: BTreeMap<String, (String, u16)>,
    /// Service ID.
    pub id: String,
    /// Service name.
    pub name: String,
    /// Service kind (empty for typical services).
    pub kind: String,
    /// Tags (sorted, as consul-template sorts them).
    pub tags: Vec<String>,
    /// Node and service checks.
    pub checks: Vec<CheckEntry>,
    /// Port.
    pub port: u16,
    /// SRV-style weights: (passing, warning).
    pub weights: (u32, u32),
}

/// One health check as templates see it (`api.HealthCheck`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CheckEntry {
    /// Node name.
    pub node: String,
    /// Check ID.
    pub check_id: String,
    /// Check name.
    pub name: String,
    /// passing, warning or critical.
    pub status: String,
    /// Notes.
    pub notes: String,
    /// Output.
    pub output: String,
    /// Service ID ("" for node checks).
    pub service_id: String,
    /// Service name.
    pub service_name: String,
    /// Service tags.
    pub service_tags: Vec<String>,
    /// Check type (ttl, http, ...).
    pub check_type: String,
}

/// A node as `nodes` returns it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NodeEntry {
    /// Node ID.
    pub id: String,
    /// Node name.
    pub node: String,
    /// Address.
    pub address: String,
    /// Datacenter.
    pub datacenter: String,
    /// Tagged addresses.
    pub tagged_addresses: BTreeMap<String, String>,
    /// Meta.
    pub meta: BTreeMap<String, String>,
}

/// A service registered on a node, as `node` returns it (`CatalogNodeService`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NodeService {
    /// Service ID.
    pub id: String,
    /// Service name.
    pub service: String,
    /// Tags.
    pub tags: Vec<String>,
    /// Meta.
    pub meta: BTreeMap<String, String>,
    /// Port.
    pub port: u16,
    /// Address.
    pub address: String,
    /// EnableTagOverride.
    pub enable_tag_override: bool,
}

/// A KV entry (`KeyPair`); `key` is relative to the listed prefix for `ls`/`tree`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct KvPair {
    /// Full key.
    pub path: String,
    /// The value, as text.
    pub value: String,
    /// CreateIndex.
    pub create_index: u64,
    /// ModifyIndex.
    pub modify_index: u64,
    /// LockIndex.
    pub lock_index: u64,
    /// Flags.
    pub flags: u64,
    /// Session holding the lock ("" for none).
    pub session: String,
}

/// What a dependency's fetch returned.
#[derive(Debug, Clone, PartialEq)]
pub enum Data {
    /// `service`: every instance matching name and tag, with its checks (the health filter
    /// is applied at render time).
    Services(Vec<ServiceEntry>),
    /// `services`: name → tags.
    CatalogServices(BTreeMap<String, Vec<String>>),
    /// `node`: the node and its services, `None` when there is no such node.
    Node(Option<(NodeEntry, Vec<NodeService>)>),
    /// `nodes`.
    Nodes(Vec<NodeEntry>),
    /// `key`: the entry, `None` when the key does not exist.
    Key(Option<KvPair>),
    /// `ls`/`tree`: every entry under the prefix (full keys).
    List(Vec<KvPair>),
    /// `file`: the contents.
    File(String),
    /// `datacenters`.
    Datacenters(Vec<String>),
}

/// One dependency's data, with what renders derive from it computed once (the template
/// values of service entries), so a render does not rebuild 1,000 entries every time.
#[derive(Debug)]
pub struct Stored {
    /// The data as fetched (service entries sorted by node, then ID).
    pub data: Data,
    values: OnceLock<Arc<[Value]>>,
}

impl Stored {
    /// The template values of `Data::Services` entries, index-aligned with them.
    pub fn service_values(&self) -> Arc<[Value]> {
        self.values
            .get_or_init(|| match &self.data {
                Data::Services(all) => all.iter().map(value::service).collect(),
                _ => Arc::from([]),
            })
            .clone()
    }
}

/// The latest data of every dependency fetched so far; cheap to clone (entries are shared).
#[derive(Debug, Clone, Default)]
pub struct Brain {
    data: HashMap<Dep, Arc<Stored>>,
}

impl Brain {
    /// An empty brain: every dependency is missing.
    pub fn new() -> Brain {
        Brain::default()
    }

    /// Stores `dep`'s latest data; returns whether it differs from what was there.
    pub fn remember(&mut self, dep: Dep, mut data: Data) -> bool {
        if let Data::Services(all) = &mut data {
            all.sort_by(|a, b| (&a.node, &a.id).cmp(&(&b.node, &b.id)));
        }
        match self.data.get(&dep) {
            Some(old) if old.data == data => false,
            _ => {
                let stored = Stored {
                    data,
                    values: OnceLock::new(),
                };
                self.data.insert(dep, Arc::new(stored));
                true
            }
        }
    }

    /// The data of `dep`, if fetched.
    pub fn recall(&self, dep: &Dep) -> Option<&Data> {
        self.data.get(dep).map(|s| &s.data)
    }

    /// The stored entry of `dep` (data plus derived values), if fetched.
    pub fn stored(&self, dep: &Dep) -> Option<Arc<Stored>> {
        self.data.get(dep).cloned()
    }

    /// Drops `dep` (no template uses it any more).
    pub fn forget(&mut self, dep: &Dep) {
        self.data.remove(dep);
    }
}
