//! `Tables::apply`: how each command changes the tables, and which indexes it bumps.
//!
//! A row's ModifyIndex moves only when the row really changed, so a blocking query wakes only
//! for real changes (anti-entropy re-sending the same registration is free). Every command is
//! validated in full before anything is touched: a rejected command leaves the tables as they were.

use std::collections::BTreeSet;

use super::command::{Command, Deregister, Register, Response};
use super::Tables;
use crate::model::{Check, Index, KvEntry, Node, Service};

impl Tables {
    pub(super) fn apply(&mut self, index: Index, cmd: &Command) -> Response {
        match cmd {
            Command::Register(r) => self.register(index, r),
            Command::Deregister(d) => self.deregister(index, d),
            Command::KvSet {
                key,
                value,
                flags,
                cas,
            } => self.kv_set(index, key, value, *flags, *cas),
            Command::KvDelete { key, cas } => self.kv_delete(index, key, *cas),
            Command::KvReapTombstones { up_to } => {
                self.kv_tombstones.retain(|_, i| *i > *up_to);
                Response::Ok
            }
            Command::KvDeleteTree { prefix } => {
                let keys: Vec<String> = self
                    .kv
                    .range(prefix.clone()..)
                    .take_while(|(k, _)| k.starts_with(prefix.as_str()))
                    .map(|(k, _)| k.clone())
                    .collect();
                for k in keys {
                    self.kv.remove(&k);
                    self.kv_tombstones.insert(k, index);
                    self.tables.kv = index;
                }
                Response::Ok
            }
        }
    }

    fn register(&mut self, index: Index, r: &Register) -> Response {
        let node_name = r.node.name.as_str();
        if node_name.is_empty() {
            return Response::Rejected("Must provide node".into());
        }
        // Validate before mutating: every service check must name a service that will exist.
        for c in &r.checks {
            if c.service_id.is_empty() {
                continue;
            }
            let in_request = r.service.as_ref().is_some_and(|s| s.id == c.service_id);
            let stored = self.service(node_name, &c.service_id).is_some();
            if !in_request && !stored {
                return Response::Rejected(format!(
                    "Missing service registration for check {:?}: service {:?} is not on node {:?}",
                    c.check_id, c.service_id, node_name
                ));
            }
        }
        let node_exists = self.nodes.contains_key(node_name);
        if !(r.skip_node_update && node_exists) {
            self.ensure_node(index, r);
        }
        if let Some(svc) = &r.service {
            self.ensure_service(index, node_name, svc);
        }
        for c in &r.checks {
            self.ensure_check(index, node_name, c);
        }
        Response::Ok
    }

    fn ensure_node(&mut self, index: Index, r: &Register) {
        let reg = &r.node;
        let mut node = Node {
            id: reg.id.clone(),
            name: reg.name.clone(),
            address: reg.address.clone(),
            datacenter: reg.datacenter.clone(),
            tagged_addresses: reg.tagged_addresses.clone(),
            meta: reg.meta.clone(),
            create_index: index,
            modify_index: index,
        };
        if let Some(old) = self.nodes.get(&reg.name) {
            node.create_index = old.create_index;
            node.modify_index = old.modify_index;
            if *old == node {
                return;
            }
            node.modify_index = index;
        }
        self.nodes.insert(reg.name.clone(), node);
        self.tables.nodes = index;
        self.touch_node_and_services(index, &reg.name);
    }

    fn ensure_service(&mut self, index: Index, node: &str, svc: &Service) {
        let mut new = svc.clone();
        new.node = node.to_string();
        let old = self.service(node, &svc.id).cloned();
        match &old {
            Some(old) => {
                new.create_index = old.create_index;
                new.modify_index = old.modify_index;
                if *old == new {
                    return;
                }
            }
            None => new.create_index = index,
        }
        new.modify_index = index;
        if let Some(old) = &old {
            if old.name != new.name {
                self.unindex_name(&old.name, node, &old.id);
                self.touch_service(index, &old.name);
            }
        }
        self.by_name
            .entry(new.name.clone())
            .or_default()
            .insert((node.to_string(), new.id.clone()));
        // Checks carry the service's name and tags; keep them in step.
        if let Some(checks) = self.checks.get_mut(node) {
            for c in checks.values_mut().filter(|c| c.service_id == new.id) {
                if c.service_name != new.name || c.service_tags != new.tags {
                    c.service_name = new.name.clone();
                    c.service_tags = new.tags.clone();
                    c.modify_index = index;
                    self.tables.checks = index;
                }
            }
        }
        self.touch_service(index, &new.name);
        self.touch_node(index, node);
        self.services
            .entry(node.to_string())
            .or_default()
            .insert(new.id.clone(), new);
        self.tables.services = index;
    }

    fn ensure_check(&mut self, index: Index, node: &str, c: &Check) {
        let mut new = c.clone();
        new.node = node.to_string();
        if !new.service_id.is_empty() {
            if let Some(s) = self.service(node, &new.service_id) {
                new.service_name = s.name.clone();
                new.service_tags = s.tags.clone();
            }
        } else {
            new.service_name.clear();
            new.service_tags.clear();
        }
        let table = self.checks.entry(node.to_string()).or_default();
        let mut old_owner = None;
        match table.get(&c.check_id) {
            Some(old) => {
                new.create_index = old.create_index;
                new.modify_index = old.modify_index;
                if *old == new {
                    return;
                }
                old_owner = Some(old.service_name.clone());
            }
            None => new.create_index = index,
        }
        new.modify_index = index;
        let service_name = new.service_name.clone();
        table.insert(new.check_id.clone(), new);
        self.tables.checks = index;
        // The check's old owner loses it: its readers must see that too.
        for owner in [Some(service_name), old_owner].into_iter().flatten() {
            if owner.is_empty() {
                self.touch_node_and_services(index, node);
            } else {
                self.touch_service(index, &owner);
                self.touch_node(index, node);
            }
        }
    }

    fn deregister(&mut self, index: Index, d: &Deregister) -> Response {
        let node = d.node.as_str();
        if node.is_empty() {
            return Response::Rejected("Must provide node".into());
        }
        match (&d.service_id, &d.check_id) {
            (Some(sid), _) => self.remove_service(index, node, sid),
            (None, Some(cid)) => self.remove_check(index, node, cid),
            (None, None) => {
                let sids: Vec<String> = self
                    .services
                    .get(node)
                    .map(|m| m.keys().cloned().collect())
                    .unwrap_or_default();
                for sid in sids {
                    self.remove_service(index, node, &sid);
                }
                let cids: Vec<String> = self
                    .checks
                    .get(node)
                    .map(|m| m.keys().cloned().collect())
                    .unwrap_or_default();
                for cid in cids {
                    self.remove_check(index, node, &cid);
                }
                self.services.remove(node);
                self.checks.remove(node);
                if self.nodes.remove(node).is_some() {
                    self.tables.nodes = index;
                    self.touch_node(index, node);
                }
            }
        }
        Response::Ok
    }

    fn remove_service(&mut self, index: Index, node: &str, sid: &str) {
        let Some(svc) = self.services.get_mut(node).and_then(|m| m.remove(sid)) else {
            return;
        };
        self.unindex_name(&svc.name, node, sid);
        self.tables.services = index;
        self.touch_service(index, &svc.name);
        self.touch_node(index, node);
        let cids: Vec<String> = self
            .checks
            .get(node)
            .map(|m| {
                m.values()
                    .filter(|c| c.service_id == sid)
                    .map(|c| c.check_id.clone())
                    .collect()
            })
            .unwrap_or_default();
        for cid in cids {
            self.remove_check(index, node, &cid);
        }
    }

    fn remove_check(&mut self, index: Index, node: &str, cid: &str) {
        let Some(c) = self.checks.get_mut(node).and_then(|m| m.remove(cid)) else {
            return;
        };
        self.tables.checks = index;
        if c.service_name.is_empty() {
            self.touch_node_and_services(index, node);
        } else {
            self.touch_service(index, &c.service_name);
            self.touch_node(index, node);
        }
    }

    fn kv_set(
        &mut self,
        index: Index,
        key: &str,
        value: &[u8],
        flags: u64,
        cas: Option<u64>,
    ) -> Response {
        let old = self.kv.get(key);
        if let Some(cas) = cas {
            let current = old.map(|e| e.modify_index).unwrap_or(0);
            if current != cas {
                return Response::Bool(false);
            }
        }
        let entry = KvEntry {
            key: key.to_string(),
            flags,
            value: value.to_vec(),
            lock_index: old.map(|e| e.lock_index).unwrap_or(0),
            session: old.and_then(|e| e.session.clone()),
            create_index: old.map(|e| e.create_index).unwrap_or(index),
            modify_index: index,
        };
        self.kv.insert(key.to_string(), entry);
        self.kv_tombstones.remove(key);
        self.tables.kv = index;
        if cas.is_some() {
            Response::Bool(true)
        } else {
            Response::Ok
        }
    }

    fn kv_delete(&mut self, index: Index, key: &str, cas: Option<u64>) -> Response {
        if let Some(cas) = cas {
            match self.kv.get(key) {
                Some(e) if e.modify_index == cas => {}
                // Consul's delete-CAS succeeds when there is nothing to delete.
                None => return Response::Bool(true),
                _ => return Response::Bool(false),
            }
        }
        if self.kv.remove(key).is_some() {
            self.kv_tombstones.insert(key.to_string(), index);
            self.tables.kv = index;
        }
        if cas.is_some() {
            Response::Bool(true)
        } else {
            Response::Ok
        }
    }

    fn service(&self, node: &str, sid: &str) -> Option<&Service> {
        self.services.get(node).and_then(|m| m.get(sid))
    }

    fn unindex_name(&mut self, name: &str, node: &str, sid: &str) {
        if let Some(set) = self.by_name.get_mut(name) {
            set.remove(&(node.to_string(), sid.to_string()));
            if set.is_empty() {
                self.by_name.remove(name);
            }
        }
    }

    fn touch_service(&mut self, index: Index, name: &str) {
        self.service_index.insert(name.to_string(), index);
    }

    fn touch_node(&mut self, index: Index, node: &str) {
        self.node_index.insert(node.to_string(), index);
    }

    /// A node-level change affects the health of every service on the node.
    fn touch_node_and_services(&mut self, index: Index, node: &str) {
        self.touch_node(index, node);
        let names: BTreeSet<String> = self
            .services
            .get(node)
            .map(|m| m.values().map(|s| s.name.clone()).collect())
            .unwrap_or_default();
        for n in names {
            self.touch_service(index, &n);
        }
    }

    /// Rebuilds derived indexes after a restore.
    pub(super) fn rebuild_derived(&mut self) {
        self.by_name.clear();
        for (node, svcs) in &self.services {
            for s in svcs.values() {
                self.by_name
                    .entry(s.name.clone())
                    .or_default()
                    .insert((node.clone(), s.id.clone()));
            }
        }
    }
}
