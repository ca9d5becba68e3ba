//! `LocalState`: the services and checks registered with this agent, and whether each is in
//! sync with the catalog.
//!
//! Registrations land here first; the syncer (`ae.rs`) pushes what is out of sync through Raft.
//! Every entry carries a revision so the syncer marks an entry in sync only if it did not change
//! while its write was in flight. Deleted entries stay as tombstones until the catalog confirms.

use std::collections::{BTreeMap, BTreeSet};

use tokio::time::Instant;

use super::definition::{CheckDefinition, CheckKind};
use crate::model::{Check, Service};

/// Where a registration came from; config-file entries are replaced on reload, API ones kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// `PUT /v1/agent/...`.
    Api,
    /// A `service`/`check` block in a config file.
    Config,
    /// Registered from a Docker container (`docker/`): re-derived from the running
    /// containers, so never persisted and never touched by a config reload.
    Docker,
}

/// A service owned by this agent.
#[derive(Debug, Clone)]
pub struct LocalService {
    /// The service as the catalog should hold it (indexes 0).
    pub service: Service,
    /// Where it came from.
    pub source: Source,
    /// Bumped on every change.
    pub rev: u64,
    /// Whether the catalog holds this revision.
    pub in_sync: bool,
}

/// A check owned by this agent.
#[derive(Debug, Clone)]
pub struct LocalCheck {
    /// The check as the catalog should hold it (indexes 0).
    pub check: Check,
    /// How it runs.
    pub kind: CheckKind,
    /// The definition it was registered with (runners read their parameters here).
    pub definition: CheckDefinition,
    /// Where it came from.
    pub source: Source,
    /// For TTL checks: when the check turns critical unless refreshed.
    pub ttl_deadline: Option<Instant>,
    /// Since when the check has been critical (for `deregister_critical_service_after`).
    pub critical_since: Option<Instant>,
    /// An output-only change is waiting for its `check_update_interval` timer.
    pub output_deferred: bool,
    /// Changes when the check is created anew (not when an existing one is re-registered):
    /// a runner's memory of what it last reported is valid only within one generation.
    pub generation: u64,
    /// Bumped on every change.
    pub rev: u64,
    /// Whether the catalog holds this revision.
    pub in_sync: bool,
}

/// The agent's own services and checks.
#[derive(Debug, Default)]
pub struct LocalState {
    /// Services by ID.
    pub services: BTreeMap<String, LocalService>,
    /// Checks by ID.
    pub checks: BTreeMap<String, LocalCheck>,
    /// Services removed locally but maybe still in the catalog.
    pub deleted_services: BTreeSet<String>,
    /// Checks removed locally but maybe still in the catalog.
    pub deleted_checks: BTreeSet<String>,
    /// Whether the node entry (address, meta, serfHealth) is in the catalog.
    pub node_in_sync: bool,
    /// Source of revisions.
    next_rev: u64,
}

impl LocalState {
    fn rev(&mut self) -> u64 {
        self.next_rev += 1;
        self.next_rev
    }

    /// Adds or replaces a service (without touching its checks).
    pub fn put_service(&mut self, service: Service, source: Source) {
        let rev = self.rev();
        self.deleted_services.remove(&service.id);
        let id = service.id.clone();
        self.services.insert(
            id,
            LocalService {
                service,
                source,
                rev,
                in_sync: false,
            },
        );
    }

    /// Removes a service and its checks; returns whether it existed.
    pub fn remove_service(&mut self, id: &str) -> bool {
        if self.services.remove(id).is_none() {
            return false;
        }
        self.deleted_services.insert(id.to_string());
        let owned: Vec<String> = self
            .checks
            .values()
            .filter(|c| c.check.service_id == id)
            .map(|c| c.check.check_id.clone())
            .collect();
        for cid in owned {
            self.remove_check(&cid);
        }
        true
    }

    /// Adds or replaces a check.
    pub fn put_check(&mut self, mut check: LocalCheck) {
        check.rev = self.rev();
        check.generation = match self.checks.get(&check.check.check_id) {
            Some(old) => old.generation,
            None => check.rev,
        };
        check.in_sync = false;
        self.deleted_checks.remove(&check.check.check_id);
        self.checks.insert(check.check.check_id.clone(), check);
    }

    /// Removes a check; returns whether it existed.
    pub fn remove_check(&mut self, id: &str) -> bool {
        if self.checks.remove(id).is_none() {
            return false;
        }
        self.deleted_checks.insert(id.to_string());
        true
    }

    /// Marks a check changed (after its status or output was edited in place).
    pub fn touch_check(&mut self, id: &str) {
        let rev = self.rev();
        if let Some(c) = self.checks.get_mut(id) {
            c.rev = rev;
            c.in_sync = false;
        }
    }

    /// Checks belonging to service `id`.
    pub fn service_checks<'a>(&'a self, id: &'a str) -> impl Iterator<Item = &'a LocalCheck> + 'a {
        self.checks
            .values()
            .filter(move |c| c.check.service_id == id)
    }

    /// Whether any change awaits a sync.
    pub fn dirty(&self) -> bool {
        !self.node_in_sync
            || !self.deleted_services.is_empty()
            || !self.deleted_checks.is_empty()
            || self.services.values().any(|s| !s.in_sync)
            || self.checks.values().any(|c| !c.in_sync)
    }
}
