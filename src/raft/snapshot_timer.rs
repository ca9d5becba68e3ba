//! `raft_snapshot_interval`: openraft snapshots on its own only by count
//! (`raft_snapshot_threshold` → `SnapshotPolicy::LogsSinceLast`), so this task also takes one
//! every interval when anything was applied since the last, which bounds what a restart replays.
//! Log compaction follows each snapshot, keeping `raft_trailing_logs` entries behind it.
//!
//! Unlike hashicorp/raft, whose interval only decides how often the threshold is checked,
//! this snapshots on the interval even below the threshold.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::RaftNode;

/// Snapshots `raft` every `interval` when at least one entry was applied since its last
/// snapshot, until `shutdown`. The daemon spawns it on servers.
pub async fn run_snapshot_timer(raft: RaftNode, interval: Duration, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(interval.max(Duration::from_millis(5)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        if !needs_snapshot(&raft) {
            continue;
        }
        if let Err(e) = raft.raft.trigger().snapshot().await {
            tracing::debug!(error = %e, "raft: snapshot timer stops: raft is down");
            return;
        }
    }
}

/// Whether entries were applied after the newest snapshot.
fn needs_snapshot(raft: &RaftNode) -> bool {
    let metrics = raft.raft.metrics();
    let m = metrics.borrow();
    let applied = m.last_applied.map_or(0, |l| l.index);
    let snapshot = m.snapshot.map_or(0, |l| l.index);
    applied > snapshot
}

#[cfg(test)]
mod tests {
    use super::super::{RaftOptions, SnapshotOptions};
    use super::*;
    use crate::catalog::{Command, Store};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn snapshots_on_the_interval_only_after_new_entries() {
        let opts = RaftOptions {
            pool: Default::default(),
            node_id: 1,
            rpc_addr: "127.0.0.1:8300".into(),
            data_dir: None,
            raft_multiplier: 1,
            bootstrap: true,
            snapshots: SnapshotOptions::default(),
        };
        let node = RaftNode::start(opts, Store::new()).await.unwrap();
        node.wait_for_leader(Duration::from_secs(5)).await.unwrap();
        node.write(Command::KvDeleteTree {
            prefix: String::new(),
        })
        .await
        .unwrap();
        let stop = CancellationToken::new();
        let timer = tokio::spawn(run_snapshot_timer(
            node.clone(),
            Duration::from_millis(50),
            stop.clone(),
        ));
        let applied = node.leader_info().applied_index;
        let snap = |n: &RaftNode| n.raft.metrics().borrow().snapshot.map_or(0, |l| l.index);
        node.raft
            .wait(Some(Duration::from_secs(5)))
            .metrics(
                |m| m.snapshot.is_some_and(|s| s.index >= applied),
                "timer snapshot",
            )
            .await
            .unwrap();
        assert!(!needs_snapshot(&node));
        let first = snap(&node);
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(snap(&node), first, "nothing new applied: no new snapshot");
        stop.cancel();
        timer.await.unwrap();
        node.shutdown().await;
    }
}
