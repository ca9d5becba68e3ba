//! Node-local truth: this agent's identity, its own services and checks, and their sync into
//! the catalog.
//!
//! The HTTP agent endpoints, config files and (later) the Docker watcher register here; the
//! syncer (`ae.rs`) turns local changes into Raft writes. A registration is pushed before the
//! API call returns, so it is visible in `/v1/catalog/*` on the very next request.
//!
//! Architecture Invariant: this module writes the catalog only through `Cluster::write` (Raft).

pub mod ae;
pub mod bootstrap;
mod check_status;
pub mod definition;
mod external;
mod identity;
pub mod leader;
pub mod local;
pub mod persist;
pub mod raft_members;
pub mod reconcile;
mod register;
mod reload;

use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

pub use check_status::CheckSettings;
pub use external::ExternalCheck;
pub use identity::Identity;
pub use local::{LocalCheck, LocalService, LocalState, Source};
pub use register::AgentError;

use crate::catalog::Store;
use crate::cluster::Cluster;

/// Handle on the local agent; clones share state.
#[derive(Clone)]
pub struct Agent {
    inner: Arc<Inner>,
}

struct Inner {
    /// Who this node is.
    identity: Identity,
    /// Registered services and checks. A std mutex: never held across an await.
    local: Mutex<LocalState>,
    /// Where writes go.
    cluster: Cluster,
    /// The catalog, read by full syncs.
    store: Store,
    /// Serialises syncs so two pushes of the same entry never race.
    sync_lock: tokio::sync::Mutex<()>,
    /// Wakes the syncer task after a change that was not pushed inline.
    sync_notify: Notify,
    /// Wakes the TTL timer task after a TTL check changed.
    ttl_notify: Notify,
    /// Asks the syncer to push local changes now (client agents push off the request path).
    push_notify: Notify,
    /// Asks the syncer for a full sync now: a server became reachable (Consul's `ServerUp`).
    full_sync_notify: Notify,
    /// Bumped after every local change, for hash-based blocking on `/v1/agent/service/:id`.
    local_changed: tokio::sync::watch::Sender<u64>,
    /// True once the catalog has held everything registered here (the first clean sync).
    synced: tokio::sync::watch::Sender<bool>,
    /// Where API registrations are persisted (`None` in `-dev`).
    state_file: Option<std::path::PathBuf>,
    /// The bytes last written to `state_file`, to skip identical writes. An async mutex held
    /// from capture to rename, so saves never interleave or land out of order.
    last_saved: tokio::sync::Mutex<Vec<u8>>,
    /// How checks are allowed, reported and reaped.
    checks: CheckSettings,
}

impl Agent {
    /// A new agent with no services or checks yet.
    pub fn new(
        identity: Identity,
        cluster: Cluster,
        store: Store,
        state_file: Option<std::path::PathBuf>,
        checks: CheckSettings,
    ) -> Agent {
        Agent {
            inner: Arc::new(Inner {
                identity,
                local: Mutex::new(LocalState::default()),
                cluster,
                store,
                sync_lock: tokio::sync::Mutex::new(()),
                sync_notify: Notify::new(),
                ttl_notify: Notify::new(),
                full_sync_notify: Notify::new(),
                push_notify: Notify::new(),
                local_changed: tokio::sync::watch::Sender::new(0),
                synced: tokio::sync::watch::Sender::new(false),
                state_file,
                last_saved: tokio::sync::Mutex::new(Vec::new()),
                checks,
            }),
        }
    }

    /// A server joined or came back: compare with the catalog and push at once, instead of
    /// waiting for the next interval (Consul's `StateSyncer.ServerUp`).
    pub fn server_up(&self) {
        self.inner.full_sync_notify.notify_one();
    }

    /// Waits (at most `limit`) until the catalog has held this agent's services once. The
    /// in-process template runner starts after it, so a restarted agent's first render sees
    /// its own services (a restarted edge renders the file it had, and nginx is not
    /// reloaded), not the moment in between when the catalog lacks them.
    pub async fn synced(&self, limit: std::time::Duration) {
        let mut rx = self.inner.synced.subscribe();
        let _ = tokio::time::timeout(limit, rx.wait_for(|s| *s)).await;
    }

    /// After a successful push: marks the first clean sync (nothing left to push).
    fn note_synced(&self) {
        if !*self.inner.synced.borrow() && !self.local().dirty() {
            self.inner
                .synced
                .send_if_modified(|s| !std::mem::replace(s, true));
        }
    }

    /// This node's identity.
    pub fn identity(&self) -> &Identity {
        &self.inner.identity
    }

    /// Locks the local state for reading or editing. Never hold the guard across an await.
    pub fn local(&self) -> MutexGuard<'_, LocalState> {
        self.inner.local.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Loads API registrations persisted by an earlier run (before the first sync).
    pub fn restore_persisted(&self) -> Result<(), persist::PersistError> {
        let Some(file) = &self.inner.state_file else {
            return Ok(());
        };
        let state = persist::load(file)?;
        persist::restore(&mut self.local(), state);
        Ok(())
    }

    /// Writes API registrations to the state file when they changed since the last write.
    async fn persist(&self) {
        let Some(file) = self.inner.state_file.clone() else {
            return;
        };
        let mut last = self.inner.last_saved.lock().await;
        let state = persist::capture(&self.local());
        let bytes = serde_json::to_vec(&state).unwrap_or_default();
        if *last == bytes {
            return;
        }
        match tokio::task::spawn_blocking(move || persist::save(&file, &state)).await {
            Ok(Ok(())) => *last = bytes,
            Ok(Err(e)) => {
                tracing::error!(error = %e, "agent: failed to persist local services and checks")
            }
            Err(e) => tracing::error!(error = %e, "agent: persisting task failed"),
        }
    }

    /// A receiver that sees every local change (registrations, status updates).
    pub fn subscribe_local(&self) -> tokio::sync::watch::Receiver<u64> {
        self.inner.local_changed.subscribe()
    }

    /// How checks are allowed, reported and reaped.
    pub fn check_settings(&self) -> &CheckSettings {
        &self.inner.checks
    }

    /// Notified whenever a TTL check changes (the TTL task waits on it).
    pub fn ttl_changed(&self) -> &Notify {
        &self.inner.ttl_notify
    }
}
