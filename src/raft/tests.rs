//! Raft glue tests: openraft's storage conformance suite on both log store backends, and
//! restarts of a whole `RaftNode` from its data dir (with and without a snapshot).

use std::path::Path;
use std::time::Duration;

use openraft::testing::{StoreBuilder, Suite};
use openraft::{StorageError, StorageIOError};
use tempfile::TempDir;

use super::log_store::LogStore;
use super::snapshot_store::{Envelope, SnapshotStore};
use super::state_machine::StateMachine;
use super::{RaftNode, RaftOptions, SnapshotMeta, TypeConfig, WriteError};
use crate::catalog::{Command, Response, Store};

/// Builds a fresh log store and state machine in a new tempdir; `memory` picks the in-memory
/// log and snapshots.
struct Builder {
    /// Use redb's in-memory backend and memory-only snapshots.
    memory: bool,
}

impl StoreBuilder<TypeConfig, LogStore, StateMachine, TempDir> for Builder {
    async fn build(&self) -> Result<(TempDir, LogStore, StateMachine), StorageError<u64>> {
        let io = |e: &dyn std::fmt::Display| -> StorageError<u64> {
            StorageIOError::write(&std::io::Error::other(e.to_string())).into()
        };
        let dir = tempfile::tempdir().map_err(|e| io(&e))?;
        let (log, snaps) = if self.memory {
            (None, None)
        } else {
            (
                Some(dir.path().join("raft.db")),
                Some(dir.path().join("snapshots")),
            )
        };
        let log = LogStore::open(log.as_deref()).map_err(|e| io(&e))?;
        let snaps = SnapshotStore::new(snaps).map_err(|e| io(&e))?;
        let sm = StateMachine::open(Store::new(), snaps).map_err(|e| io(&e))?;
        Ok((dir, log, sm))
    }
}

#[test]
fn file_backed_store_passes_openraft_suite() {
    Suite::test_all(Builder { memory: false }).unwrap();
}

#[test]
fn in_memory_store_passes_openraft_suite() {
    Suite::test_all(Builder { memory: true }).unwrap();
}

/// Options for a bootstrapping single server in `dir` (None = dev mode).
fn opts(dir: Option<&Path>) -> RaftOptions {
    RaftOptions {
        node_id: 1,
        rpc_addr: "127.0.0.1:8300".into(),
        data_dir: dir.map(Path::to_path_buf),
        raft_multiplier: 1,
        pool: Default::default(),
        bootstrap: true,
        snapshots: super::SnapshotOptions::default(),
    }
}

/// Starts a node over a fresh store and waits for it to lead.
async fn start(dir: Option<&Path>) -> (RaftNode, Store) {
    let store = Store::new();
    let node = RaftNode::start(opts(dir), store.clone()).await.unwrap();
    node.wait_for_leader(Duration::from_secs(5)).await.unwrap();
    (node, store)
}

/// Writes `key-<i>` = `i` for each i in `range`.
async fn write_keys(node: &RaftNode, range: std::ops::Range<u32>) {
    for i in range {
        let cmd = Command::KvSet {
            key: format!("key-{i}"),
            value: i.to_string().into_bytes(),
            flags: 0,
            cas: None,
        };
        assert_eq!(node.write(cmd).await.unwrap(), Response::Ok);
    }
}

/// Asserts the store holds `key-<i>` = `i` for every i below `n`.
fn assert_keys(store: &Store, n: u32) {
    for i in 0..n {
        let (entry, _) = store.read(|t| t.kv_get(&format!("key-{i}")));
        let entry = entry.unwrap_or_else(|| panic!("key-{i} missing after restart"));
        assert_eq!(entry.value, i.to_string().into_bytes());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_mode_elects_writes_and_reads() {
    let started = std::time::Instant::now();
    let (node, store) = start(None).await;
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "dev election took {:?}",
        started.elapsed()
    );
    write_keys(&node, 0..5).await;
    node.linearizable_read().await.unwrap();
    assert_keys(&store, 5);
    // Metrics trail the write's reply a little; wait for them before reading leader_info.
    let timeout = Some(Duration::from_secs(5));
    node.raft
        .wait(timeout)
        .applied_index_at_least(Some(6), "applied")
        .await
        .unwrap();
    let info = node.leader_info();
    assert!(info.is_leader && info.known_leader);
    assert_eq!(info.leader_addr.as_deref(), Some("127.0.0.1:8300"));
    assert!(info.applied_index >= 6 && info.commit_index >= info.applied_index.min(6));
    assert_eq!(node.voters(), vec![(1, "127.0.0.1:8300".to_string())]);
    node.shutdown().await;
    node.shutdown().await;
    assert!(matches!(
        node.write(Command::KvDeleteTree {
            prefix: String::new()
        })
        .await,
        Err(WriteError::Fatal(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_replays_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let (node, _) = start(Some(dir.path())).await;
    write_keys(&node, 0..20).await;
    let before = node.leader_info();
    node.shutdown().await;

    let (node, store) = start(Some(dir.path())).await;
    assert_keys(&store, 20);
    let after = node.leader_info();
    assert!(after.term >= before.term);
    assert_eq!(node.voters(), vec![(1, "127.0.0.1:8300".to_string())]);
    write_keys(&node, 20..25).await;
    assert_keys(&store, 25);
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_loads_snapshot_then_log_and_survives_a_corrupt_one() {
    let dir = tempfile::tempdir().unwrap();
    let (node, _) = start(Some(dir.path())).await;
    write_keys(&node, 0..30).await;
    node.raft.trigger().snapshot().await.unwrap();
    let applied = node.leader_info().applied_index;
    let m = node
        .raft
        .wait(Some(Duration::from_secs(5)))
        .metrics(
            |m| m.snapshot.is_some_and(|s| s.index >= applied),
            "snapshot built",
        )
        .await
        .unwrap();
    let snap_index = m.snapshot.unwrap().index;
    node.raft.trigger().purge_log(snap_index).await.unwrap();
    node.raft
        .wait(Some(Duration::from_secs(5)))
        .metrics(
            |m| m.purged.is_some_and(|p| p.index >= snap_index),
            "log purged",
        )
        .await
        .unwrap();
    write_keys(&node, 30..40).await;
    node.shutdown().await;

    let snapshots = dir.path().join("raft/snapshots");
    let (node, store) = start(Some(dir.path())).await;
    assert_keys(&store, 40);
    node.shutdown().await;

    // Newer but damaged snapshots (bad JSON; good envelope with a bad catalog) are skipped
    // in favour of the good one.
    std::fs::write(snapshots.join("99-99999.snap"), b"{ not json").unwrap();
    let bad_catalog = Envelope::new(SnapshotMeta::default(), b"not a catalog");
    std::fs::write(
        snapshots.join("98-99998.snap"),
        bad_catalog.encode().unwrap(),
    )
    .unwrap();
    let (node, store) = start(Some(dir.path())).await;
    assert_keys(&store, 40);
    assert!(snapshots.join("99-99999.snap.corrupt").exists());
    assert!(snapshots.join("98-99998.snap.corrupt").exists());
    node.shutdown().await;

    // With every snapshot gone the purged log cannot rebuild the catalog: refuse to start.
    std::fs::remove_dir_all(&snapshots).unwrap();
    let err = RaftNode::start(opts(Some(dir.path())), Store::new())
        .await
        .err()
        .expect("start must fail");
    assert!(
        matches!(err, super::RaftError::MissingSnapshot { .. }),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pristine_node_without_bootstrap_has_no_leader() {
    let node = RaftNode::start(
        RaftOptions {
            bootstrap: false,
            ..opts(None)
        },
        Store::new(),
    )
    .await
    .unwrap();
    let err = node
        .wait_for_leader(Duration::from_millis(400))
        .await
        .unwrap_err();
    assert!(matches!(err, super::RaftError::LeaderTimeout(_)), "{err}");
    let err = node
        .write(Command::KvDeleteTree {
            prefix: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(err, WriteError::NoLeader);
    assert_eq!(err.to_string(), "No cluster leader");
    assert_eq!(
        node.linearizable_read().await.unwrap_err(),
        WriteError::NoLeader
    );
    let info = node.leader_info();
    assert!(!info.known_leader && !info.is_leader && info.leader_addr.is_none());
    assert!(node.voters().is_empty());
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_without_bootstrap_keeps_leading() {
    let dir = tempfile::tempdir().unwrap();
    let (node, _) = start(Some(dir.path())).await;
    write_keys(&node, 0..3).await;
    node.shutdown().await;
    let store = Store::new();
    let o = RaftOptions {
        bootstrap: false,
        ..opts(Some(dir.path()))
    };
    let node = RaftNode::start(o, store.clone()).await.unwrap();
    node.wait_for_leader(Duration::from_secs(5)).await.unwrap();
    assert_keys(&store, 3);
    node.shutdown().await;
}
