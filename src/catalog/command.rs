//! The Raft log payload: every change to the catalog is one `Command`.
//!
//! Commands are plain data (serde) so they can be replicated and replayed; `Store::apply`
//! interprets them deterministically.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::{Check, Service};

/// One replicated change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Command {
    /// Register or update a node, optionally with one service and its checks
    /// (Consul's `Catalog.Register`).
    Register(Box<Register>),
    /// Remove a node, one of its services, or one of its checks.
    Deregister(Deregister),
    /// Write a KV entry; with `cas`, only if the entry's ModifyIndex matches (0 = absent).
    KvSet {
        /// Full key.
        key: String,
        /// New value.
        #[serde(with = "crate::model::base64_bytes")]
        value: Vec<u8>,
        /// Client flags.
        flags: u64,
        /// Compare-and-set index.
        cas: Option<u64>,
    },
    /// Delete one KV entry; with `cas`, only if its ModifyIndex matches.
    KvDelete {
        /// Full key.
        key: String,
        /// Compare-and-set index.
        cas: Option<u64>,
    },
    /// Delete every KV entry whose key starts with `prefix`.
    KvDeleteTree {
        /// Key prefix.
        prefix: String,
    },
    /// Forget KV tombstones written at or before `up_to` (the leader's periodic GC), so
    /// deleted keys do not cost memory and snapshot space forever.
    KvReapTombstones {
        /// Highest delete index to forget.
        up_to: u64,
    },
}

/// The node part of a registration (indexes are assigned by the store).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct NodeRegistration {
    /// Node UUID, may be empty.
    pub id: String,
    /// Node name.
    pub name: String,
    /// Node address.
    pub address: String,
    /// Datacenter.
    pub datacenter: String,
    /// Named addresses.
    pub tagged_addresses: BTreeMap<String, String>,
    /// Metadata.
    pub meta: BTreeMap<String, String>,
}

/// Register a node with an optional service and checks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Register {
    /// The node.
    pub node: NodeRegistration,
    /// Keep the stored node as is when it exists (Consul's `SkipNodeUpdate`).
    pub skip_node_update: bool,
    /// A service instance on the node (its `node` field is overwritten with the node name).
    pub service: Option<Service>,
    /// Checks on the node (their `node` field is overwritten).
    pub checks: Vec<Check>,
}

/// Remove the node (when both IDs are `None`), one service with its checks, or one check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Deregister {
    /// Node name.
    pub node: String,
    /// Service instance to remove.
    pub service_id: Option<String>,
    /// Check to remove.
    pub check_id: Option<String>,
}

/// What applying a command produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Response {
    /// Applied (or nothing to do).
    #[default]
    Ok,
    /// Result of a conditional write (`cas`): whether it happened.
    Bool(bool),
    /// Refused; nothing changed. The reason is shown to the client.
    Rejected(String),
}
