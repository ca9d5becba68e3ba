//! The replicated state: nodes, services, checks and KV, as Raft's state machine holds them.
//!
//! `Store` is a cheap-to-clone handle on the tables. `Store::apply` is the only mutator and is
//! called only by `raft::state_machine`, with the Raft log index of the entry it applies; that
//! index becomes the rows' ModifyIndex and the tables' index. Readers (HTTP, DNS, templates)
//! take a short read lock through `Store::read` and wait for changes through `watch`.
//!
//! Architecture Invariant: apart from the waiting helper in `watch.rs`, nothing here awaits,
//! does I/O, reads a clock or draws random numbers, so replaying a log always yields the same
//! tables.

mod apply;
pub mod command;
pub mod query;
pub mod snapshot;
pub mod watch;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, RwLock};

use serde::{Deserialize, Serialize};

use crate::model::{Check, Index, KvEntry, Node, Service};
pub use command::{Command, Response};
pub use watch::Table;

/// Per-table indexes: the Raft index of the last change to each table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableIndexes {
    /// Last change to any node.
    pub nodes: Index,
    /// Last change to any service instance.
    pub services: Index,
    /// Last change to any check.
    pub checks: Index,
    /// Last change to any KV entry.
    pub kv: Index,
}

/// The catalog's tables. Read them through `Store::read` and the functions in `query`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Tables {
    /// Nodes by name.
    pub(crate) nodes: BTreeMap<String, Node>,
    /// Service instances by node, then instance ID.
    pub(crate) services: BTreeMap<String, BTreeMap<String, Service>>,
    /// Checks by node, then check ID.
    pub(crate) checks: BTreeMap<String, BTreeMap<String, Check>>,
    /// KV entries by key.
    pub(crate) kv: BTreeMap<String, KvEntry>,
    /// Index at which each deleted key was deleted, so a blocking read on it sees the delete.
    pub(crate) kv_tombstones: BTreeMap<String, Index>,
    /// Last change touching each service name (an instance, its checks or its node).
    pub(crate) service_index: BTreeMap<String, Index>,
    /// Last change touching each node (the node, its services or checks).
    pub(crate) node_index: BTreeMap<String, Index>,
    /// Per-table indexes.
    pub(crate) tables: TableIndexes,
    /// Last applied Raft index.
    pub(crate) applied: Index,
    /// Derived: (node, service ID) pairs of each service name. Rebuilt on restore.
    #[serde(skip)]
    pub(crate) by_name: BTreeMap<String, BTreeSet<(String, String)>>,
}

/// Handle on the catalog; clones share the same tables and watchers.
#[derive(Clone, Default)]
pub struct Store {
    /// The tables. A std lock: no holder ever awaits while holding it.
    tables: Arc<RwLock<Tables>>,
    /// One watch channel per table, bumped after each apply that changed it.
    watches: Arc<watch::Watches>,
}

impl Store {
    /// An empty catalog.
    pub fn new() -> Store {
        Store::default()
    }

    /// Applies one command at Raft index `index`. Only the Raft state machine calls this.
    pub fn apply(&self, index: Index, cmd: &Command) -> Response {
        let (resp, before, after) = {
            let mut t = self.tables.write().unwrap_or_else(|e| e.into_inner());
            let before = t.tables;
            let resp = t.apply(index, cmd);
            t.applied = t.applied.max(index);
            (resp, before, t.tables)
        };
        self.watches.notify_changed(&before, &after);
        resp
    }

    /// Records that Raft applied `index` without a catalog command (blank or membership entry).
    pub fn mark_applied(&self, index: Index) {
        let mut t = self.tables.write().unwrap_or_else(|e| e.into_inner());
        t.applied = t.applied.max(index);
    }

    /// Runs `f` against the tables under a read lock. Keep `f` short and non-blocking.
    pub fn read<R>(&self, f: impl FnOnce(&Tables) -> R) -> R {
        let t = self.tables.read().unwrap_or_else(|e| e.into_inner());
        f(&t)
    }

    /// Last applied Raft index.
    pub fn applied(&self) -> Index {
        self.read(|t| t.applied)
    }
}
