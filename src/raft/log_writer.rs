//! The log's one writer thread: appends are queued and returned from at once, then written
//! in batches, one fsynced redb transaction per batch, and reported flushed through openraft's
//! `LogFlushed` callback. The Raft core meanwhile replicates the same entries to followers, so
//! the leader's fsync overlaps theirs (storage-v2's pipelined append), and every append that
//! queued during an fsync shares the next one (group commit).
//!
//! Entries queued but not yet committed stay readable from `Pending` until their batch lands.
//! Every other change (vote, truncate, purge) goes through the same queue, so the order
//! openraft issued them in is the order they reach the disk.

use std::collections::BTreeMap;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use openraft::storage::LogFlushed;
use redb::Database;

use super::{Entry, TypeConfig};

/// Most appends committed in one transaction.
const MAX_BATCH: usize = 256;

/// Work the writer thread does on the database; returns a description of what failed.
pub type Work = Box<dyn FnOnce(&Database) -> Result<(), String> + Send>;

/// One queued change.
pub enum Op {
    /// Entries to write (index, encoded bytes), the shared entries in `Pending`, and the
    /// callback to call once they are durable.
    Append {
        /// Encoded entries by index.
        encoded: Vec<(u64, Vec<u8>)>,
        /// The same entries as `Pending` holds them (to drop exactly these once written).
        entries: Vec<Arc<Entry>>,
        /// Told when the entries are durable (or failed).
        callback: LogFlushed<TypeConfig>,
    },
    /// Any other change, in queue order; `done` (if any) hears the outcome.
    Run {
        /// The change.
        work: Work,
        /// Who waits for it (`None`: nobody does).
        done: Option<tokio::sync::oneshot::Sender<Result<(), String>>>,
    },
}

/// Entries appended but not yet committed, by index.
pub type Pending = Arc<Mutex<BTreeMap<u64, Arc<Entry>>>>;

/// The writer thread's handle: queues changes; when the last clone of the log store lets go
/// of it, the queue closes and the thread is joined, so the database file is closed (and can
/// be opened again) once the store is gone.
pub struct Writer {
    /// The queue; `None` only while dropping.
    tx: Option<mpsc::Sender<Op>>,
    /// The thread, joined on drop.
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Writer {
    /// Queues a change; gives it back if the thread is gone.
    pub fn send(&self, op: Op) -> Result<(), mpsc::SendError<Op>> {
        match &self.tx {
            Some(tx) => tx.send(op),
            None => Err(mpsc::SendError(op)),
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.tx.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Starts the writer thread.
pub fn start(db: Arc<Database>, pending: Pending) -> std::io::Result<Writer> {
    let (tx, rx) = mpsc::channel::<Op>();
    let thread = std::thread::Builder::new()
        .name("berth-raft-log".into())
        .spawn(move || run(&db, &pending, rx))?;
    Ok(Writer {
        tx: Some(tx),
        thread: Some(thread),
    })
}

fn run(db: &Database, pending: &Pending, rx: mpsc::Receiver<Op>) {
    let mut next: Option<Op> = None;
    loop {
        let op = match next.take() {
            Some(op) => op,
            None => match rx.recv() {
                Ok(op) => op,
                Err(_) => return,
            },
        };
        match op {
            Op::Run { work, done } => {
                let r = work(db);
                if let Some(done) = done {
                    let _ = done.send(r);
                }
            }
            Op::Append {
                encoded,
                entries,
                callback,
            } => {
                let mut batch = vec![(encoded, entries, callback)];
                // Everything queued behind it rides in the same transaction, up to the next
                // non-append change (which must come after these, in order).
                while batch.len() < MAX_BATCH {
                    match rx.try_recv() {
                        Ok(Op::Append {
                            encoded,
                            entries,
                            callback,
                        }) => batch.push((encoded, entries, callback)),
                        Ok(other) => {
                            next = Some(other);
                            break;
                        }
                        Err(_) => break,
                    }
                }
                let result = commit(db, batch.iter().flat_map(|(e, _, _)| e.iter()));
                {
                    let mut p = pending.lock().unwrap_or_else(|e| e.into_inner());
                    for entry in batch.iter().flat_map(|(_, es, _)| es.iter()) {
                        let index = entry.log_id.index;
                        if p.get(&index).is_some_and(|q| Arc::ptr_eq(q, entry)) {
                            p.remove(&index);
                        }
                    }
                }
                for (_, _, callback) in batch {
                    callback.log_io_completed(result.clone().map_err(std::io::Error::other));
                }
            }
        }
    }
}

fn commit<'a>(
    db: &Database,
    entries: impl Iterator<Item = &'a (u64, Vec<u8>)>,
) -> Result<(), String> {
    let txn = super::log_store::begin(db).map_err(|e| e.to_string())?;
    {
        let mut table = txn
            .open_table(super::log_store::LOGS)
            .map_err(|e| e.to_string())?;
        for (index, bytes) in entries {
            table
                .insert(*index, bytes.as_slice())
                .map_err(|e| e.to_string())?;
        }
    }
    txn.commit().map_err(|e| e.to_string())
}
