//! Change notification for blocking queries: one `watch` channel per table.
//!
//! A blocking reader names the tables its query reads, runs the query, and if the result's index
//! equals the index the client already has, sleeps until one of those tables changes or the wait
//! ends, then runs the query again. It returns only when its own result index moved (or went
//! backwards, after a restore), or on timeout: a watcher returns as soon as its data changes, and
//! only then.

use std::time::Duration;

use futures::future::select_all;
use tokio::sync::watch;
use tokio::time::Instant;

use super::{Store, TableIndexes, Tables};
use crate::model::Index;

/// A table a query reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    /// Nodes.
    Nodes,
    /// Service instances.
    Services,
    /// Checks.
    Checks,
    /// KV entries.
    Kv,
}

/// The tables health queries read: a node's checks and address decide an instance's health.
pub const HEALTH: &[Table] = &[Table::Nodes, Table::Services, Table::Checks];

/// One sender per table.
pub(super) struct Watches {
    nodes: watch::Sender<Index>,
    services: watch::Sender<Index>,
    checks: watch::Sender<Index>,
    kv: watch::Sender<Index>,
}

impl Default for Watches {
    fn default() -> Self {
        Watches {
            nodes: watch::Sender::new(0),
            services: watch::Sender::new(0),
            checks: watch::Sender::new(0),
            kv: watch::Sender::new(0),
        }
    }
}

impl Watches {
    fn sender(&self, t: Table) -> &watch::Sender<Index> {
        match t {
            Table::Nodes => &self.nodes,
            Table::Services => &self.services,
            Table::Checks => &self.checks,
            Table::Kv => &self.kv,
        }
    }

    /// Wakes the watchers of each table whose index moved.
    pub(super) fn notify_changed(&self, before: &TableIndexes, after: &TableIndexes) {
        let pairs = [
            (Table::Nodes, before.nodes, after.nodes),
            (Table::Services, before.services, after.services),
            (Table::Checks, before.checks, after.checks),
            (Table::Kv, before.kv, after.kv),
        ];
        for (t, b, a) in pairs {
            if a != b {
                self.sender(t).send_replace(a);
            }
        }
    }

    /// Wakes every watcher (after a snapshot restore).
    pub(super) fn notify_all(&self, now: &TableIndexes) {
        self.nodes.send_replace(now.nodes);
        self.services.send_replace(now.services);
        self.checks.send_replace(now.checks);
        self.kv.send_replace(now.kv);
    }
}

impl Store {
    /// Runs `query` and, when `min_index > 0` and the result's index still equals `min_index`,
    /// waits up to `wait` for a change to one of `tables` that moves the result's index.
    ///
    /// The returned index is never 0 (Consul rewrites 0 to 1; clients treat 0 as "no data").
    pub async fn blocking<T>(
        &self,
        tables: &[Table],
        min_index: Index,
        wait: Duration,
        mut query: impl FnMut(&Tables) -> (T, Index),
    ) -> (T, Index) {
        let mut rxs: Vec<watch::Receiver<Index>> = tables
            .iter()
            .map(|t| self.watches.sender(*t).subscribe())
            .collect();
        let deadline = Instant::now() + wait;
        loop {
            // Mark every receiver seen *before* reading, so a change that lands after the read
            // always wakes us.
            for rx in rxs.iter_mut() {
                rx.borrow_and_update();
            }
            let (value, index) = self.read(&mut query);
            let index = index.max(1);
            if min_index == 0 || index != min_index || rxs.is_empty() {
                return (value, index);
            }
            // Parked queries hold no result: only the receivers and the deadline.
            drop(value);
            let changed = select_all(rxs.iter_mut().map(|rx| Box::pin(rx.changed())));
            tokio::select! {
                _ = changed => {}
                _ = tokio::time::sleep_until(deadline) => {
                    return self.read(|t| {
                        let (v, i) = query(t);
                        (v, i.max(1))
                    });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::command::Command;

    fn set(store: &Store, index: Index, key: &str) {
        let cmd = Command::KvSet {
            key: key.into(),
            value: b"v".to_vec(),
            flags: 0,
            cas: None,
        };
        store.apply(index, &cmd);
    }

    fn key_index(t: &Tables, key: &str) -> ((), Index) {
        ((), t.kv.get(key).map(|e| e.modify_index).unwrap_or(0))
    }

    #[tokio::test(start_paused = true)]
    async fn wakes_on_own_change_only() {
        let store = Store::new();
        set(&store, 5, "a");
        let s2 = store.clone();
        let waiter = tokio::spawn(async move {
            s2.blocking(&[Table::Kv], 5, Duration::from_secs(60), |t| {
                key_index(t, "a")
            })
            .await
        });
        tokio::time::sleep(Duration::from_millis(10)).await;
        set(&store, 6, "b"); // unrelated key: must not wake the reader
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert!(!waiter.is_finished());
        set(&store, 7, "a");
        let ((), idx) = waiter.await.unwrap();
        assert_eq!(idx, 7);
    }

    #[tokio::test(start_paused = true)]
    async fn times_out_with_same_index() {
        let store = Store::new();
        set(&store, 3, "a");
        let start = Instant::now();
        let ((), idx) = store
            .blocking(&[Table::Kv], 3, Duration::from_secs(2), |t| {
                key_index(t, "a")
            })
            .await;
        assert_eq!(idx, 3);
        assert!(start.elapsed() >= Duration::from_secs(2));
    }

    #[tokio::test]
    async fn index_never_zero_and_backwards_returns_at_once() {
        let store = Store::new();
        let ((), idx) = store
            .blocking(&[Table::Kv], 0, Duration::from_secs(1), |t| {
                key_index(t, "x")
            })
            .await;
        assert_eq!(idx, 1);
        set(&store, 4, "x");
        // A client ahead of the store (e.g. after a restore) gets an answer at once.
        let ((), idx) = store
            .blocking(&[Table::Kv], 90, Duration::from_secs(60), |t| {
                key_index(t, "x")
            })
            .await;
        assert_eq!(idx, 4);
    }
}
