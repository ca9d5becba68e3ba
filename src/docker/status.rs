//! What the Docker registrar is doing, for `/v1/agent/self` (`Docker`) and the log: whether
//! registration is on, connected or retrying, against which endpoint, and the last error.

use std::sync::{Arc, Mutex};

use serde::Serialize;

/// The registrar's state, shared with the HTTP API.
#[derive(Debug, Clone, Default)]
pub struct Status(Arc<Mutex<Snapshot>>);

/// One reading of the state.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct Snapshot {
    /// `off`, `connecting`, `connected` or `retrying`.
    pub state: String,
    /// The endpoint in use (`unix:///var/run/docker.sock`, `tcp://host:2376`).
    pub endpoint: String,
    /// Why the last attempt or stream failed (empty while connected).
    pub error: String,
    /// Services registered from containers now.
    pub services: usize,
    /// Full reconciles done (each connect and each `-resync`).
    pub reconciles: u64,
}

impl Status {
    /// The state now.
    pub fn snapshot(&self) -> Snapshot {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Waits (at most `limit`) until registration is off, retrying, or has reconciled once.
    /// The agent's first anti-entropy sync waits on it: Docker services are not persisted, so
    /// a sync before the first reconcile would remove a restarted agent's container services
    /// from the catalog, only for the reconcile to add them back a moment later (and every
    /// template over them, nginx's upstreams included, would flap).
    pub async fn settled(&self, limit: std::time::Duration) {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let s = self.snapshot();
            let pending = s.reconciles == 0 && !matches!(s.state.as_str(), "off" | "retrying");
            if !pending || tokio::time::Instant::now() >= deadline {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    /// Changes the state in place.
    pub(super) fn update(&self, f: impl FnOnce(&mut Snapshot)) {
        f(&mut self.0.lock().unwrap_or_else(|e| e.into_inner()));
    }

    /// Sets the state and error.
    pub(super) fn set(&self, state: &str, error: &str) {
        self.update(|s| {
            s.state = state.to_string();
            s.error = error.to_string();
        });
    }
}
