//! The Raft log and hard state (vote, committed, last purged) in one redb database.
//!
//! File-backed at `data_dir/raft/raft.db`, or redb's in-memory backend in dev mode so both
//! modes run the same code. Every redb call runs on the blocking pool; `append` reports the
//! entries flushed only after their commit returned (Durability::Immediate = fsynced).

use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use openraft::storage::{LogFlushed, LogState, RaftLogStorage};
use openraft::{LogId, OptionalSend, RaftLogReader, StorageError, StorageIOError, Vote};
use redb::{Database, Durability, ReadableDatabase, ReadableTable, TableDefinition};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{Entry, RaftError, TypeConfig};

/// Log entries by index, each a serde_json-encoded `Entry`.
const LOGS: TableDefinition<u64, &[u8]> = TableDefinition::new("raft_log");
/// Hard state by name (`vote`, `committed`, `last_purged`), serde_json-encoded.
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("raft_meta");

/// What can go wrong inside one log store operation.
#[derive(Debug, thiserror::Error)]
enum LogError {
    /// redb failed.
    #[error("redb: {0}")]
    Db(#[from] redb::Error),
    /// A stored value did not decode.
    #[error("corrupt raft log value: {0}")]
    Codec(#[from] serde_json::Error),
    /// The blocking task panicked or was cancelled.
    #[error("log store task: {0}")]
    Join(#[from] tokio::task::JoinError),
}

/// Handle on the log database; clones share it (the reader openraft asks for is a clone).
#[derive(Clone)]
pub struct LogStore {
    /// The database; redb serialises write transactions itself.
    db: Arc<Database>,
    /// Last committed index seen by `save_committed`, for `LeaderInfo::commit_index`.
    committed: Arc<AtomicU64>,
}

impl LogStore {
    /// Opens (or creates) the log at `path`, or an in-memory log when `path` is None.
    pub fn open(path: Option<&Path>) -> Result<LogStore, RaftError> {
        let name = path.map_or_else(|| "memory".to_string(), |p| p.display().to_string());
        let open_err = |e: redb::Error| RaftError::OpenLog {
            path: name.clone(),
            source: e,
        };
        let database = match path {
            Some(p) => Database::create(p).map_err(|e| open_err(e.into()))?,
            None => Database::builder()
                .create_with_backend(redb::backends::InMemoryBackend::new())
                .map_err(|e| open_err(e.into()))?,
        };
        // Create both tables up front so read transactions never meet a missing table.
        let txn = database.begin_write().map_err(|e| open_err(e.into()))?;
        txn.open_table(LOGS).map_err(|e| open_err(e.into()))?;
        txn.open_table(META).map_err(|e| open_err(e.into()))?;
        txn.commit().map_err(|e| open_err(e.into()))?;
        let store = LogStore {
            db: Arc::new(database),
            committed: Arc::new(AtomicU64::new(0)),
        };
        let committed: Option<LogId<u64>> = store
            .meta_now("committed")
            .map_err(|e| RaftError::LogStore(e.to_string()))?;
        store
            .committed
            .store(committed.map_or(0, |c| c.index), Ordering::Relaxed);
        Ok(store)
    }

    /// Shared view of the committed index, updated on every `save_committed`.
    pub fn committed_index(&self) -> Arc<AtomicU64> {
        self.committed.clone()
    }

    /// Runs `f` on the blocking pool with the database.
    async fn blocking<T, F>(&self, f: F) -> Result<T, LogError>
    where
        T: Send + 'static,
        F: FnOnce(&Database) -> Result<T, LogError> + Send + 'static,
    {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || f(&db)).await?
    }

    /// Reads one meta value synchronously (only at open, before the runtime uses the store).
    fn meta_now<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, LogError> {
        read_meta(&self.db, key)
    }

    /// Reads one meta value on the blocking pool.
    async fn meta<T: DeserializeOwned + Send + 'static>(
        &self,
        key: &'static str,
    ) -> Result<Option<T>, LogError> {
        self.blocking(move |db| read_meta(db, key)).await
    }

    /// Writes one meta value durably on the blocking pool.
    async fn put_meta<T: Serialize>(&self, key: &'static str, value: &T) -> Result<(), LogError> {
        self.put_meta_with(key, value, Durability::Immediate).await
    }

    /// Writes one meta value without an fsync of its own.
    async fn put_meta_lazy<T: Serialize>(
        &self,
        key: &'static str,
        value: &T,
    ) -> Result<(), LogError> {
        self.put_meta_with(key, value, Durability::None).await
    }

    async fn put_meta_with<T: Serialize>(
        &self,
        key: &'static str,
        value: &T,
        durability: Durability,
    ) -> Result<(), LogError> {
        let bytes = serde_json::to_vec(value)?;
        self.blocking(move |db| {
            let mut txn = db.begin_write().map_err(db_err)?;
            txn.set_durability(durability).map_err(db_err)?;
            txn.open_table(META)
                .map_err(db_err)?
                .insert(key, bytes.as_slice())
                .map_err(db_err)?;
            txn.commit().map_err(db_err)
        })
        .await
    }
}

/// Converts every redb error type into `LogError` through `redb::Error`.
fn db_err<E: Into<redb::Error>>(e: E) -> LogError {
    LogError::Db(e.into())
}

/// Starts a durable write transaction.
fn begin(db: &Database) -> Result<redb::WriteTransaction, LogError> {
    let mut txn = db.begin_write().map_err(db_err)?;
    txn.set_durability(Durability::Immediate).map_err(db_err)?;
    Ok(txn)
}

/// Reads and decodes one meta value.
fn read_meta<T: DeserializeOwned>(db: &Database, key: &str) -> Result<Option<T>, LogError> {
    let txn = db.begin_read().map_err(db_err)?;
    let table = txn.open_table(META).map_err(db_err)?;
    match table.get(key).map_err(db_err)? {
        Some(v) => Ok(Some(serde_json::from_slice(v.value())?)),
        None => Ok(None),
    }
}

/// Decodes the last entry's log id, if the log has any entry.
fn last_log_id(db: &Database) -> Result<Option<LogId<u64>>, LogError> {
    let txn = db.begin_read().map_err(db_err)?;
    let table = txn.open_table(LOGS).map_err(db_err)?;
    let last = match table.last().map_err(db_err)? {
        Some((_, v)) => Some(serde_json::from_slice::<Entry>(v.value())?.log_id),
        None => None,
    };
    Ok(last)
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError<u64>> {
        let bounds: (Bound<u64>, Bound<u64>) =
            (range.start_bound().cloned(), range.end_bound().cloned());
        self.blocking(move |db| {
            let txn = db.begin_read().map_err(db_err)?;
            let table = txn.open_table(LOGS).map_err(db_err)?;
            let mut out = Vec::new();
            for item in table.range::<u64>(bounds).map_err(db_err)? {
                let (_, v) = item.map_err(db_err)?;
                out.push(serde_json::from_slice(v.value())?);
            }
            Ok(out)
        })
        .await
        .map_err(|e| StorageIOError::read_logs(&e).into())
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError<u64>> {
        let state = self
            .blocking(|db| {
                let purged: Option<LogId<u64>> = read_meta(db, "last_purged")?;
                let last = last_log_id(db)?.or(purged);
                Ok((purged, last))
            })
            .await
            .map_err(|e| StorageIOError::read_logs(&e))?;
        Ok(LogState {
            last_purged_log_id: state.0,
            last_log_id: state.1,
        })
    }

    async fn get_log_reader(&mut self) -> LogStore {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<u64>) -> Result<(), StorageError<u64>> {
        self.put_meta("vote", vote)
            .await
            .map_err(|e| StorageIOError::write_vote(&e).into())
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<u64>>, StorageError<u64>> {
        self.meta("vote")
            .await
            .map_err(|e| StorageIOError::read_vote(&e).into())
    }

    async fn save_committed(
        &mut self,
        committed: Option<LogId<u64>>,
    ) -> Result<(), StorageError<u64>> {
        // Not fsynced on its own (hashicorp/raft does not persist it at all): it becomes durable
        // with the next log append, and a lagging value only means re-applying committed
        // entries after a restart, never losing one.
        self.put_meta_lazy("committed", &committed)
            .await
            .map_err(|e| StorageIOError::write(&e))?;
        self.committed
            .store(committed.map_or(0, |c| c.index), Ordering::Relaxed);
        Ok(())
    }

    async fn read_committed(&mut self) -> Result<Option<LogId<u64>>, StorageError<u64>> {
        let committed: Option<Option<LogId<u64>>> = self
            .meta("committed")
            .await
            .map_err(|e| StorageIOError::read(&e))?;
        Ok(committed.flatten())
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), StorageError<u64>>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let encoded = entries
            .into_iter()
            .map(|e| Ok((e.log_id.index, serde_json::to_vec(&e)?)))
            .collect::<Result<Vec<_>, serde_json::Error>>()
            .map_err(|e| StorageIOError::write_logs(&e))?;
        let res = self
            .blocking(move |db| {
                let txn = begin(db)?;
                {
                    let mut table = txn.open_table(LOGS).map_err(db_err)?;
                    for (index, bytes) in &encoded {
                        table.insert(*index, bytes.as_slice()).map_err(db_err)?;
                    }
                }
                txn.commit().map_err(db_err)
            })
            .await;
        match res {
            Ok(()) => {
                callback.log_io_completed(Ok(()));
                Ok(())
            }
            Err(e) => {
                callback.log_io_completed(Err(std::io::Error::other(e.to_string())));
                Err(StorageIOError::write_logs(&e).into())
            }
        }
    }

    async fn truncate(&mut self, log_id: LogId<u64>) -> Result<(), StorageError<u64>> {
        self.blocking(move |db| {
            let txn = begin(db)?;
            txn.open_table(LOGS)
                .map_err(db_err)?
                .retain_in(log_id.index.., |_, _| false)
                .map_err(db_err)?;
            txn.commit().map_err(db_err)
        })
        .await
        .map_err(|e| StorageIOError::write_logs(&e).into())
    }

    async fn purge(&mut self, log_id: LogId<u64>) -> Result<(), StorageError<u64>> {
        let bytes = serde_json::to_vec(&log_id).map_err(|e| StorageIOError::write_logs(&e))?;
        // One transaction: last_purged and the deletion become durable together.
        self.blocking(move |db| {
            let txn = begin(db)?;
            txn.open_table(META)
                .map_err(db_err)?
                .insert("last_purged", bytes.as_slice())
                .map_err(db_err)?;
            txn.open_table(LOGS)
                .map_err(db_err)?
                .retain_in(..=log_id.index, |_, _| false)
                .map_err(db_err)?;
            txn.commit().map_err(db_err)
        })
        .await
        .map_err(|e| StorageIOError::write_logs(&e).into())
    }
}
