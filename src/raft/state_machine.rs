//! openraft's state machine over `catalog::Store`: the only caller of `Store::apply`.
//!
//! Applies committed entries in order, tracks the last applied log id and membership, builds
//! snapshots (catalog bytes + Raft metadata, see `snapshot_store`) and installs the leader's.

use std::io::Cursor;
use std::sync::Arc;

use openraft::storage::RaftStateMachine;
use openraft::{
    EntryPayload, LogId, OptionalSend, RaftSnapshotBuilder, StorageError, StorageIOError,
    StoredMembership,
};

use super::snapshot_store::{Envelope, SnapshotStore};
use super::{Entry, Membership, Snapshot, SnapshotMeta, TypeConfig};
use crate::catalog::{Response, Store};

/// Applies Raft entries to the catalog and keeps its snapshots.
pub struct StateMachine {
    /// The catalog being driven.
    store: Store,
    /// Last entry applied (or covered by the loaded snapshot).
    last_applied: Option<LogId<u64>>,
    /// Last membership applied, reported to openraft and carried in snapshots.
    last_membership: Membership,
    /// Snapshot persistence, shared with snapshot builders running beside `apply`.
    snapshots: Arc<SnapshotStore>,
}

impl StateMachine {
    /// A state machine over `store`, restored from the newest loadable snapshot in `snapshots`.
    /// Blocking (reads a file); call before handing it to openraft.
    pub fn open(store: Store, snapshots: SnapshotStore) -> Result<StateMachine, super::RaftError> {
        let mut sm = StateMachine {
            store,
            last_applied: None,
            last_membership: StoredMembership::default(),
            snapshots: Arc::new(snapshots),
        };
        let store = sm.store.clone();
        let loaded = sm
            .snapshots
            .load_newest(|catalog| store.restore(catalog).map_err(|e| e.to_string()))?;
        if let Some(meta) = loaded {
            tracing::info!(snapshot = %meta.snapshot_id, "restored catalog from raft snapshot");
            sm.last_applied = meta.last_log_id;
            sm.last_membership = meta.last_membership;
        }
        Ok(sm)
    }

    /// Last applied log id, for start-up checks.
    pub fn last_applied(&self) -> Option<LogId<u64>> {
        self.last_applied
    }

    /// The snapshot directory, for messages.
    pub fn snapshot_location(&self) -> String {
        self.snapshots.describe()
    }
}

/// A point-in-time copy of the catalog, written out as a snapshot off the apply path.
pub struct SnapshotBuilder {
    /// Metadata of the copy.
    meta: SnapshotMeta,
    /// The tables as they were when the builder was made (encoded when building).
    catalog: Arc<crate::catalog::Tables>,
    /// Where to save it.
    snapshots: Arc<SnapshotStore>,
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    async fn build_snapshot(&mut self) -> Result<Snapshot, StorageError<u64>> {
        let sig = Some(self.meta.signature());
        let tables = self.catalog.clone();
        let meta = self.meta.clone();
        // Encoding a large catalog takes a while: do it on the blocking pool, never on the
        // state machine's task, so applies go on meanwhile.
        let bytes = tokio::task::spawn_blocking(move || {
            Envelope::encode_parts(&meta, &crate::catalog::snapshot::encode(&tables))
        })
        .await
        .map_err(|e| StorageIOError::write_snapshot(sig.clone(), &e))?
        .map_err(|e| StorageIOError::write_snapshot(sig.clone(), &e))?;
        self.snapshots
            .save(&self.meta, bytes.clone())
            .await
            .map_err(|e| StorageIOError::write_snapshot(sig, &e))?;
        Ok(Snapshot {
            meta: self.meta.clone(),
            snapshot: Box::new(Cursor::new(bytes)),
        })
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = SnapshotBuilder;

    async fn applied_state(
        &mut self,
    ) -> Result<(Option<LogId<u64>>, Membership), StorageError<u64>> {
        Ok((self.last_applied, self.last_membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<Response>, StorageError<u64>>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut out = Vec::new();
        for entry in entries {
            let index = entry.log_id.index;
            match entry.payload {
                EntryPayload::Normal(cmd) => out.push(self.store.apply(index, &cmd)),
                EntryPayload::Blank => {
                    self.store.mark_applied(index);
                    out.push(Response::Ok);
                }
                EntryPayload::Membership(m) => {
                    self.store.mark_applied(index);
                    self.last_membership = StoredMembership::new(Some(entry.log_id), m);
                    out.push(Response::Ok);
                }
            }
            self.last_applied = Some(entry.log_id);
        }
        Ok(out)
    }

    async fn get_snapshot_builder(&mut self) -> SnapshotBuilder {
        let (term, index) = self
            .last_applied
            .map_or((0, 0), |l| (l.leader_id.term, l.index));
        SnapshotBuilder {
            meta: SnapshotMeta {
                last_log_id: self.last_applied,
                last_membership: self.last_membership.clone(),
                snapshot_id: format!("{term}-{index}"),
            },
            catalog: Arc::new(self.store.copy_tables()),
            snapshots: self.snapshots.clone(),
        }
    }

    async fn begin_receiving_snapshot(
        &mut self,
    ) -> Result<Box<Cursor<Vec<u8>>>, StorageError<u64>> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError<u64>> {
        let bytes = snapshot.into_inner();
        let sig = || Some(meta.signature());
        let (_, catalog) = Envelope::decode(&bytes, &format!("received {}", meta.snapshot_id))
            .map_err(|e| StorageIOError::read_snapshot(sig(), &e))?;
        self.store
            .restore(&catalog)
            .map_err(|e| StorageIOError::read_snapshot(sig(), &e))?;
        self.last_applied = meta.last_log_id;
        self.last_membership = meta.last_membership.clone();
        // Re-encode with openraft's metadata so the file always matches what we installed.
        let bytes = Envelope::new(meta.clone(), &catalog)
            .encode()
            .map_err(|e| StorageIOError::write_snapshot(sig(), &e))?;
        self.snapshots
            .save(meta, bytes)
            .await
            .map_err(|e| StorageIOError::write_snapshot(sig(), &e).into())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot>, StorageError<u64>> {
        let current = self
            .snapshots
            .current()
            .await
            .map_err(|e| StorageIOError::read_snapshot(None, &e))?;
        Ok(current.map(|(meta, bytes)| Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(bytes)),
        }))
    }
}
