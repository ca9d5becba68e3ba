//! Whole-store encode and restore, for Raft snapshots.

use super::{Store, Tables};

/// Why a snapshot could not be restored.
#[derive(Debug, thiserror::Error)]
#[error("catalog snapshot is corrupt: {0}")]
pub struct RestoreError(#[from] serde_json::Error);

impl Store {
    /// Encodes every table (not the derived indexes) as one byte string.
    pub fn snapshot(&self) -> Vec<u8> {
        self.read(encode)
    }

    /// A point-in-time copy of every table: taken under the read lock (a memory copy, much
    /// cheaper than encoding), encoded later with `encode` off the apply path.
    pub fn copy_tables(&self) -> Tables {
        self.read(Tables::clone)
    }

    /// Replaces every table with the snapshot's contents and wakes every watcher.
    pub fn restore(&self, bytes: &[u8]) -> Result<(), RestoreError> {
        let mut fresh: Tables = serde_json::from_slice(bytes)?;
        fresh.rebuild_derived();
        let now = fresh.tables;
        {
            let mut t = self.tables.write().unwrap_or_else(|e| e.into_inner());
            *t = fresh;
        }
        self.watches.notify_all(&now);
        Ok(())
    }
}

/// Encodes tables as `Store::snapshot` does (what `Store::restore` reads).
pub fn encode(tables: &Tables) -> Vec<u8> {
    serde_json::to_vec(tables).expect("catalog tables always serialize")
}
