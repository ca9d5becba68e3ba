//! Read-side queries over `Tables`. Each returns its rows and the index a blocking query on it
//! reports (`X-Consul-Index`), chosen so the index moves exactly when the rows do.

use std::collections::{BTreeMap, BTreeSet};

use super::Tables;
use crate::model::{Check, Health, Index, KvEntry, Node, Service};

/// One instance with its node and the checks that decide its health (node checks first).
/// Borrowed from the tables: readers render it under the read lock instead of copying rows.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceHealth<'a> {
    /// The node the instance runs on.
    pub node: &'a Node,
    /// The instance.
    pub service: &'a Service,
    /// Node-level checks, then the instance's own checks.
    pub checks: Vec<&'a Check>,
}

/// Whether `tags` holds every one of `want`, compared case-insensitively (Consul's rule).
pub fn has_tags(tags: &[String], want: &[String]) -> bool {
    want.iter()
        .all(|w| tags.iter().any(|t| t.eq_ignore_ascii_case(w)))
}

impl Tables {
    /// The index of a whole table (the last change to any of its rows).
    pub fn table_index(&self, table: super::Table) -> Index {
        match table {
            super::Table::Nodes => self.tables.nodes,
            super::Table::Services => self.tables.services,
            super::Table::Checks => self.tables.checks,
            super::Table::Kv => self.tables.kv,
        }
    }

    /// All nodes, sorted by name.
    pub fn nodes(&self) -> (Vec<&Node>, Index) {
        (self.nodes.values().collect(), self.tables.nodes)
    }

    /// Service names with the union of their instances' tags (sorted, de-duplicated).
    pub fn services(&self) -> (BTreeMap<String, Vec<String>>, Index) {
        let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for svcs in self.services.values() {
            for s in svcs.values() {
                out.entry(s.name.clone())
                    .or_default()
                    .extend(s.tags.iter().cloned());
            }
        }
        let out = out
            .into_iter()
            .map(|(k, v)| (k, v.into_iter().collect()))
            .collect();
        (out, self.tables.services)
    }

    /// Index of the last change touching service `name` (its instances, their checks and nodes).
    pub fn service_index(&self, name: &str) -> Index {
        self.service_index.get(name).copied().unwrap_or(0)
    }

    /// Index of the last change touching node `name`.
    pub fn node_index(&self, name: &str) -> Index {
        self.node_index.get(name).copied().unwrap_or(0)
    }

    /// Instances of `name` carrying every tag in `tags`, with their nodes, sorted by node then ID.
    pub fn service_nodes(&self, name: &str, tags: &[String]) -> (Vec<(&Node, &Service)>, Index) {
        let mut out = Vec::new();
        if let Some(set) = self.by_name.get(name) {
            for (node, sid) in set {
                let (Some(n), Some(s)) = (
                    self.nodes.get(node),
                    self.services.get(node).and_then(|m| m.get(sid)),
                ) else {
                    continue;
                };
                if has_tags(&s.tags, tags) {
                    out.push((n, s));
                }
            }
        }
        (out, self.service_index(name))
    }

    /// Instances of `name` with their health; with `passing`, only those whose every check passes.
    pub fn health_service(
        &self,
        name: &str,
        tags: &[String],
        passing: bool,
    ) -> (Vec<ServiceHealth<'_>>, Index) {
        let (rows, index) = self.service_nodes(name, tags);
        let out = rows
            .into_iter()
            .map(|(node, service)| {
                let checks = self.instance_checks(&node.name, &service.id);
                ServiceHealth {
                    node,
                    service,
                    checks,
                }
            })
            .filter(|h| !passing || h.checks.iter().all(|c| c.status == Health::Passing))
            .collect();
        (out, index)
    }

    /// Node-level checks followed by the instance's checks.
    fn instance_checks(&self, node: &str, sid: &str) -> Vec<&Check> {
        let Some(checks) = self.checks.get(node) else {
            return Vec::new();
        };
        let node_level = checks.values().filter(|c| c.service_id.is_empty());
        let own = checks.values().filter(|c| c.service_id == sid);
        node_level.chain(own).collect()
    }

    /// One node and its services; `None` when the node is unknown.
    pub fn node_services(&self, name: &str) -> (Option<(&Node, Vec<&Service>)>, Index) {
        let out = self.nodes.get(name).map(|n| {
            let svcs = self
                .services
                .get(name)
                .map(|m| m.values().collect())
                .unwrap_or_default();
            (n, svcs)
        });
        (out, self.node_index(name))
    }

    /// Every check on a node (node and service checks).
    pub fn node_checks(&self, name: &str) -> (Vec<&Check>, Index) {
        let out = self
            .checks
            .get(name)
            .map(|m| m.values().collect())
            .unwrap_or_default();
        (out, self.node_index(name))
    }

    /// Service-level checks of every instance of `name`, sorted by node then check ID.
    pub fn service_checks(&self, name: &str) -> (Vec<&Check>, Index) {
        let mut out = Vec::new();
        for checks in self.checks.values() {
            out.extend(checks.values().filter(|c| c.service_name == name));
        }
        (out, self.service_index(name))
    }

    /// Checks in `state`; `None` means any state.
    pub fn checks_in_state(&self, state: Option<Health>) -> (Vec<&Check>, Index) {
        let out = self
            .checks
            .values()
            .flat_map(|m| m.values())
            .filter(|c| state.is_none_or(|s| c.status == s))
            .collect();
        (out, self.tables.checks)
    }

    /// Whether any KV tombstone was written at or before `up_to` (is there anything to reap).
    pub fn has_tombstones_up_to(&self, up_to: Index) -> bool {
        self.kv_tombstones.values().any(|i| *i <= up_to)
    }

    /// One KV entry; the index is its ModifyIndex, or the index it was deleted at.
    pub fn kv_get(&self, key: &str) -> (Option<KvEntry>, Index) {
        let entry = self.kv.get(key).cloned();
        let index = entry
            .as_ref()
            .map(|e| e.modify_index)
            .or_else(|| self.kv_tombstones.get(key).copied())
            .unwrap_or(0);
        (entry, index)
    }

    /// Every entry under `prefix` (string prefix, sorted); the index covers deletions under it.
    pub fn kv_list(&self, prefix: &str) -> (Vec<KvEntry>, Index) {
        let entries: Vec<KvEntry> = self
            .kv
            .range(prefix.to_string()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(_, e)| e.clone())
            .collect();
        let live = entries.iter().map(|e| e.modify_index).max().unwrap_or(0);
        let dead = self
            .kv_tombstones
            .range(prefix.to_string()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(_, i)| *i)
            .max()
            .unwrap_or(0);
        (entries, live.max(dead))
    }

    /// Keys under `prefix`; with a separator, keys are cut after the first separator past the
    /// prefix and de-duplicated (`base/` + `/` → `base/sub/`, `base/leaf`).
    pub fn kv_keys(&self, prefix: &str, separator: Option<&str>) -> (Vec<String>, Index) {
        let (entries, index) = self.kv_list(prefix);
        let mut out: Vec<String> = Vec::new();
        for e in entries {
            let key = match separator.filter(|s| !s.is_empty()) {
                Some(sep) => match e.key[prefix.len()..].find(sep) {
                    Some(pos) => e.key[..prefix.len() + pos + sep.len()].to_string(),
                    None => e.key.clone(),
                },
                None => e.key.clone(),
            };
            if out.last() != Some(&key) {
                out.push(key);
            }
        }
        (out, index)
    }
}
