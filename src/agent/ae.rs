//! Anti-entropy: pushes the agent's local state into the catalog through Raft.
//!
//! `sync` pushes what changed (called inline by registrations, and by the syncer task when a
//! push failed); `full_sync` compares the catalog's view of this node with the local state and
//! repairs any difference, on a timer, as Consul's `StateSyncer` does.

use std::time::Duration;

use rand::Rng;
use tokio_util::sync::CancellationToken;

use super::identity::SERF_CHECK_ID;
use super::Agent;
use crate::catalog::command::{Command, Deregister, Register};
use crate::model::{Check, Service};
use crate::raft::WriteError;

/// A service to push: its value and revision, with its checks and their revisions.
type DirtyService = (Service, u64, Vec<(Check, u64)>);

/// Pause before retrying a failed push.
const RETRY_AFTER: Duration = Duration::from_secs(1);
/// Pause before retrying when a client knows no server (a new server triggers a full sync).
const RETRY_WITHOUT_SERVERS: Duration = Duration::from_secs(15);
/// Base interval of full syncs (Consul's one minute, before jitter).
const FULL_SYNC_INTERVAL: Duration = Duration::from_secs(60);

impl Agent {
    /// Pushes every local change to the catalog. Failures are logged and retried by the syncer.
    pub async fn sync(&self) {
        self.inner.local_changed.send_modify(|n| *n += 1);
        self.persist().await;
        if !self.inner.cluster.has_catalog() {
            // A client's push crosses the network and may wait on servers: the syncer task does
            // it at once, so the API call that changed the state answers without waiting (as
            // Consul's client agents do).
            self.inner.push_notify.notify_one();
            return;
        }
        self.push().await;
    }

    /// Pushes the changes now and reports a failure to the syncer for a retry.
    async fn push(&self) {
        match self.try_sync().await {
            Ok(()) => self.note_synced(),
            // A client without servers: expected until it can reach them; retried quietly.
            Err(e @ WriteError::NoServers) => {
                tracing::debug!(error = %e, "agent: local state not synced");
                self.inner.sync_notify.notify_one();
            }
            Err(e) => {
                tracing::warn!(error = %e, "agent: failed to sync local state; will retry");
                self.inner.sync_notify.notify_one();
            }
        }
    }

    async fn try_sync(&self) -> Result<(), WriteError> {
        let _guard = self.inner.sync_lock.lock().await;
        let node = self.identity().node_registration();
        let node_name = node.name.clone();

        if !self.local().node_in_sync {
            let reg = Register {
                node: node.clone(),
                skip_node_update: false,
                service: self.identity().consul_service(),
                checks: vec![self.identity().serf_health()],
            };
            self.write(Command::Register(Box::new(reg))).await?;
            self.local().node_in_sync = true;
        }

        let (dead_services, dead_checks) = {
            let l = self.local();
            (
                l.deleted_services.iter().cloned().collect::<Vec<_>>(),
                l.deleted_checks.iter().cloned().collect::<Vec<_>>(),
            )
        };
        for sid in dead_services {
            let d = Deregister {
                node: node_name.clone(),
                service_id: Some(sid.clone()),
                check_id: None,
            };
            self.write(Command::Deregister(d)).await?;
            self.local().deleted_services.remove(&sid);
        }
        for cid in dead_checks {
            let d = Deregister {
                node: node_name.clone(),
                service_id: None,
                check_id: Some(cid.clone()),
            };
            self.write(Command::Deregister(d)).await?;
            self.local().deleted_checks.remove(&cid);
        }

        // Services go with their checks, so a service never shows up without them.
        let dirty: Vec<DirtyService> = {
            let l = self.local();
            l.services
                .values()
                .filter(|s| !s.in_sync || l.service_checks(&s.service.id).any(|c| !c.in_sync))
                .map(|s| {
                    let checks = l
                        .service_checks(&s.service.id)
                        .map(|c| (c.check.clone(), c.rev))
                        .collect();
                    (s.service.clone(), s.rev, checks)
                })
                .collect()
        };
        for (mut service, rev, checks) in dirty {
            let sid = service.id.clone();
            if service.enable_tag_override {
                // Tags edited in the catalog win (Consul's EnableTagOverride).
                let state = self
                    .inner
                    .cluster
                    .node_state(&self.inner.store, &node_name)
                    .await?;
                let catalog_tags = state
                    .services
                    .into_iter()
                    .find(|s| s.id == sid)
                    .map(|s| s.tags);
                if let Some(tags) = catalog_tags {
                    service.tags = tags;
                }
            }
            let reg = Register {
                node: node.clone(),
                skip_node_update: true,
                service: Some(service),
                checks: checks.iter().map(|(c, _)| c.clone()).collect(),
            };
            self.write(Command::Register(Box::new(reg))).await?;
            let mut l = self.local();
            if let Some(s) = l.services.get_mut(&sid) {
                s.in_sync = s.rev == rev;
            }
            for (c, crev) in checks {
                if let Some(lc) = l.checks.get_mut(&c.check_id) {
                    lc.in_sync = lc.rev == crev;
                }
            }
        }

        let node_checks: Vec<(Check, u64)> = {
            let l = self.local();
            l.checks
                .values()
                // Service checks travel with their service; a check whose service is gone
                // (`drop_orphan_checks`) must not poison this batch.
                .filter(|c| !c.in_sync && c.check.service_id.is_empty())
                .map(|c| (c.check.clone(), c.rev))
                .collect()
        };
        if !node_checks.is_empty() {
            let reg = Register {
                node: node.clone(),
                skip_node_update: true,
                service: None,
                checks: node_checks.iter().map(|(c, _)| c.clone()).collect(),
            };
            self.write(Command::Register(Box::new(reg))).await?;
            let mut l = self.local();
            for (c, rev) in node_checks {
                if let Some(lc) = l.checks.get_mut(&c.check_id) {
                    lc.in_sync = lc.rev == rev;
                }
            }
        }
        Ok(())
    }

    async fn write(&self, cmd: Command) -> Result<(), WriteError> {
        match self.inner.cluster.write(cmd).await? {
            crate::catalog::Response::Rejected(reason) => Err(WriteError::Fatal(reason)),
            _ => Ok(()),
        }
    }

    /// Compares the catalog's entries for this node with the local state, marks differences
    /// out of sync (and catalog-only entries for removal), then pushes.
    pub async fn full_sync(&self) {
        // No push may run while we compare and mark, or it could mark our repairs in sync.
        let guard = self.inner.sync_lock.lock().await;
        let me = self.identity().node_name.clone();
        let state = match self.inner.cluster.node_state(&self.inner.store, &me).await {
            Ok(s) => s,
            Err(e) => {
                // Nothing was compared, so nothing is marked; the next full sync tries again.
                tracing::debug!(error = %e, "agent: anti-entropy could not read the catalog");
                drop(guard);
                self.sync().await;
                return;
            }
        };
        let (catalog_services, catalog_checks, catalog_node) =
            (state.services, state.checks, state.node);
        {
            let mut l = self.local();
            let want = self.identity().node_registration();
            let node_ok = catalog_node.is_some_and(|n| {
                n.address == want.address
                    && n.meta == want.meta
                    && n.id == want.id
                    && n.tagged_addresses == want.tagged_addresses
            });
            if !node_ok {
                l.node_in_sync = false;
            }
            for s in &catalog_services {
                match l.services.get_mut(&s.id) {
                    Some(local) => {
                        let mut expected = local.service.clone();
                        expected.create_index = s.create_index;
                        expected.modify_index = s.modify_index;
                        if s.enable_tag_override {
                            expected.tags = s.tags.clone();
                        }
                        if &expected != s {
                            local.in_sync = false;
                        }
                    }
                    None if s.id == "consul" && self.identity().server => {}
                    None => {
                        l.deleted_services.insert(s.id.clone());
                    }
                }
            }
            for id in l.services.keys().cloned().collect::<Vec<_>>() {
                if !catalog_services.iter().any(|s| s.id == id) {
                    if let Some(s) = l.services.get_mut(&id) {
                        s.in_sync = false;
                    }
                }
            }
            for c in &catalog_checks {
                match l.checks.get_mut(&c.check_id) {
                    Some(local) => {
                        let mut expected = local.check.clone();
                        expected.node = c.node.clone();
                        expected.create_index = c.create_index;
                        expected.modify_index = c.modify_index;
                        // The catalog copies these from the service (tag overrides included).
                        expected.service_tags = c.service_tags.clone();
                        // Output waiting for its update-interval timer is not a difference.
                        if local.output_deferred {
                            expected.output = c.output.clone();
                        }
                        if &expected != c {
                            local.in_sync = false;
                        }
                    }
                    None if c.check_id == SERF_CHECK_ID => {
                        if c.status != crate::model::Health::Passing {
                            l.node_in_sync = false;
                        }
                    }
                    None => {
                        l.deleted_checks.insert(c.check_id.clone());
                    }
                }
            }
            for id in l.checks.keys().cloned().collect::<Vec<_>>() {
                if !catalog_checks.iter().any(|c| c.check_id == id) {
                    if let Some(c) = l.checks.get_mut(&id) {
                        c.in_sync = false;
                    }
                }
            }
            if !catalog_checks.iter().any(|c| c.check_id == SERF_CHECK_ID) {
                l.node_in_sync = false;
            }
        }
        drop(guard);
        self.sync().await;
    }

    /// The syncer task: a full sync at start and then every minute (plus jitter), and retries
    /// of failed pushes. Returns when `shutdown` is cancelled.
    pub async fn run_syncer(self, shutdown: CancellationToken) {
        loop {
            self.full_sync().await;
            let jitter = rand::thread_rng().gen_range(0..FULL_SYNC_INTERVAL.as_millis() as u64 / 4);
            let next_full = tokio::time::sleep(FULL_SYNC_INTERVAL + Duration::from_millis(jitter));
            tokio::pin!(next_full);
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = &mut next_full => break,
                    _ = self.inner.full_sync_notify.notified() => break,
                    _ = self.inner.push_notify.notified() => self.push().await,
                    _ = self.inner.sync_notify.notified() => {
                        let pause = if self.inner.cluster.has_catalog()
                            || !self.inner.cluster.servers().order().is_empty()
                        {
                            RETRY_AFTER
                        } else {
                            RETRY_WITHOUT_SERVERS
                        };
                        // A new change or a server coming up ends the pause early.
                        tokio::select! {
                            _ = shutdown.cancelled() => return,
                            _ = tokio::time::sleep(pause) => {}
                            _ = self.inner.push_notify.notified() => {}
                            _ = self.inner.full_sync_notify.notified() => break,
                        }
                        if self.local().dirty() {
                            self.push().await;
                        }
                    }
                }
            }
        }
    }
}
