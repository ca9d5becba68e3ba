//! The Raft log and hard state (vote, committed, last purged) in one redb database.
//!
//! File-backed at `data_dir/raft/raft.db`, or redb's in-memory backend in dev mode so both
//! modes run the same code. Every change goes through the writer thread (`log_writer.rs`) in
//! the order openraft made it; `append` returns at once and reports the entries flushed only
//! after their batch's commit returned (Durability::Immediate = fsynced). Reads run on the
//! blocking pool and see queued entries too.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};

use openraft::storage::{LogFlushed, LogState, RaftLogStorage};
use openraft::{LogId, OptionalSend, RaftLogReader, StorageError, StorageIOError, Vote};
use redb::{Database, Durability, ReadableDatabase, ReadableTable, TableDefinition};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::log_writer::{self, Op, Pending, Work};
use super::{Entry, RaftError, TypeConfig};

/// Log entries by index, each a serde_json-encoded `Entry`.
pub(super) const LOGS: TableDefinition<u64, &[u8]> = TableDefinition::new("raft_log");
/// Hard state by name (`vote`, `committed`, `last_purged`), serde_json-encoded.
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("raft_meta");

/// What can go wrong inside one log store operation.
#[derive(Debug, thiserror::Error)]
pub(super) enum LogError {
    /// redb failed.
    #[error("redb: {0}")]
    Db(#[from] redb::Error),
    /// A stored value did not decode.
    #[error("corrupt raft log value: {0}")]
    Codec(#[from] serde_json::Error),
    /// The blocking task panicked or was cancelled.
    #[error("log store task: {0}")]
    Join(#[from] tokio::task::JoinError),
    /// The writer thread failed a change, or is gone.
    #[error("log writer: {0}")]
    Writer(String),
}

/// Handle on the log database; clones share it (the reader openraft asks for is a clone).
#[derive(Clone)]
pub struct LogStore {
    /// The database; redb serialises write transactions itself.
    db: Arc<Database>,
    /// Last committed index seen by `save_committed`, for `LeaderInfo::commit_index`.
    committed: Arc<AtomicU64>,
    /// The writer thread's queue.
    writer: Arc<log_writer::Writer>,
    /// Entries appended but not yet written.
    pending: Pending,
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
        let db = Arc::new(database);
        let pending = Pending::default();
        let writer = Arc::new(log_writer::start(db.clone(), pending.clone()).map_err(|e| {
            RaftError::LogStore(format!("cannot start the log writer thread: {e}"))
        })?);
        let store = LogStore {
            db,
            committed: Arc::new(AtomicU64::new(0)),
            writer,
            pending,
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

    /// Writes one meta value durably, in queue order, and waits for it.
    async fn put_meta<T: Serialize>(&self, key: &'static str, value: &T) -> Result<(), LogError> {
        let bytes = serde_json::to_vec(value)?;
        self.queued(Box::new(move |db| {
            write_meta(db, key, &bytes, Durability::Immediate).map_err(|e| e.to_string())
        }))
        .await
    }

    /// Queues one meta value without an fsync of its own and without waiting: it lands in
    /// order and becomes durable with the next durable commit.
    fn put_meta_lazy<T: Serialize>(&self, key: &'static str, value: &T) -> Result<(), LogError> {
        let bytes = serde_json::to_vec(value)?;
        let work: Work = Box::new(move |db| {
            write_meta(db, key, &bytes, Durability::None).map_err(|e| e.to_string())
        });
        self.writer
            .send(Op::Run { work, done: None })
            .map_err(|_| LogError::Writer("the writer thread is gone".into()))
    }

    /// Runs `work` on the writer thread after everything queued before it, and waits.
    async fn queued(&self, work: Work) -> Result<(), LogError> {
        let (done, rx) = tokio::sync::oneshot::channel();
        self.writer
            .send(Op::Run {
                work,
                done: Some(done),
            })
            .map_err(|_| LogError::Writer("the writer thread is gone".into()))?;
        rx.await
            .map_err(|_| LogError::Writer("the writer thread is gone".into()))?
            .map_err(LogError::Writer)
    }

    /// Queued entries in `range`, by index.
    fn pending_in(&self, range: &(Bound<u64>, Bound<u64>)) -> BTreeMap<u64, Entry> {
        let p = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        p.range(*range).map(|(i, e)| (*i, (**e).clone())).collect()
    }

    /// Drops queued entries in `range` (truncated or purged before they were written).
    fn drop_pending(&self, range: impl RangeBounds<u64>) {
        let mut p = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        let gone: Vec<u64> = p.range(range).map(|(i, _)| *i).collect();
        for i in gone {
            p.remove(&i);
        }
    }
}

/// Writes one meta value in its own transaction with `durability`.
fn write_meta(
    db: &Database,
    key: &str,
    bytes: &[u8],
    durability: Durability,
) -> Result<(), LogError> {
    let mut txn = db.begin_write().map_err(db_err)?;
    txn.set_durability(durability).map_err(db_err)?;
    txn.open_table(META)
        .map_err(db_err)?
        .insert(key, bytes)
        .map_err(db_err)?;
    txn.commit().map_err(db_err)
}

/// Converts every redb error type into `LogError` through `redb::Error`.
fn db_err<E: Into<redb::Error>>(e: E) -> LogError {
    LogError::Db(e.into())
}

/// Starts a durable write transaction.
pub(super) fn begin(db: &Database) -> Result<redb::WriteTransaction, LogError> {
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
        // Queued entries first: one written meanwhile is then found on disk as well, and the
        // queued copy (the same entry) wins.
        let queued = self.pending_in(&bounds);
        let stored: Vec<Entry> = self
            .blocking(move |db| {
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
            .map_err(|e| StorageIOError::read_logs(&e))?;
        if queued.is_empty() {
            return Ok(stored);
        }
        let mut all: BTreeMap<u64, Entry> =
            stored.into_iter().map(|e| (e.log_id.index, e)).collect();
        all.extend(queued);
        Ok(all.into_values().collect())
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
        let queued_last = {
            let p = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            p.last_key_value().map(|(_, e)| e.log_id)
        };
        Ok(LogState {
            last_purged_log_id: state.0,
            last_log_id: queued_last.or(state.1),
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
        let mut encoded = Vec::new();
        let mut queued = Vec::new();
        for e in entries {
            let bytes = serde_json::to_vec(&e).map_err(|e| StorageIOError::write_logs(&e))?;
            encoded.push((e.log_id.index, bytes));
            queued.push(Arc::new(e));
        }
        {
            let mut p = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            for e in &queued {
                p.insert(e.log_id.index, e.clone());
            }
        }
        let op = Op::Append {
            encoded,
            entries: queued,
            callback,
        };
        if let Err(mpsc::SendError(op)) = self.writer.send(op) {
            let err = LogError::Writer("the writer thread is gone".into());
            if let Op::Append { callback, .. } = op {
                callback.log_io_completed(Err(std::io::Error::other(err.to_string())));
            }
            return Err(StorageIOError::write_logs(&err).into());
        }
        Ok(())
    }

    async fn truncate(&mut self, log_id: LogId<u64>) -> Result<(), StorageError<u64>> {
        self.drop_pending(log_id.index..);
        self.queued(Box::new(move |db| {
            let txn = begin(db).map_err(|e| e.to_string())?;
            txn.open_table(LOGS)
                .map_err(|e| e.to_string())?
                .retain_in(log_id.index.., |_, _| false)
                .map_err(|e| e.to_string())?;
            txn.commit().map_err(|e| e.to_string())
        }))
        .await
        .map_err(|e| StorageIOError::write_logs(&e).into())
    }

    async fn purge(&mut self, log_id: LogId<u64>) -> Result<(), StorageError<u64>> {
        let bytes = serde_json::to_vec(&log_id).map_err(|e| StorageIOError::write_logs(&e))?;
        self.drop_pending(..=log_id.index);
        // One transaction: last_purged and the deletion become durable together.
        self.queued(Box::new(move |db| {
            let run = || -> Result<(), LogError> {
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
            };
            run().map_err(|e| e.to_string())
        }))
        .await
        .map_err(|e| StorageIOError::write_logs(&e).into())
    }
}
