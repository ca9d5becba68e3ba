//! Work only the Raft leader does. For now: reaping KV tombstones once they are older than
//! `TOMBSTONE_TTL` (Consul's default), so blocking readers had time to see the delete.
//!
//! The catalog cannot read clocks, so the leader remembers which Raft index was applied at
//! what time and reaps up to the index applied `TOMBSTONE_TTL` ago.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::catalog::{Command, Store};
use crate::cluster::Cluster;

/// How long a deleted key's tombstone is kept.
pub const TOMBSTONE_TTL: Duration = Duration::from_secs(15 * 60);
/// How often the leader samples the applied index and reaps.
const GC_INTERVAL: Duration = Duration::from_secs(60);

/// Runs until `shutdown`.
pub async fn run_tombstone_gc(cluster: Cluster, store: Store, shutdown: CancellationToken) {
    let mut marks: VecDeque<(Instant, u64)> = VecDeque::new();
    let mut tick = tokio::time::interval(GC_INTERVAL);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        let now = Instant::now();
        marks.push_back((now, store.applied()));
        let mut up_to = None;
        while marks
            .front()
            .is_some_and(|(at, _)| now.duration_since(*at) >= TOMBSTONE_TTL)
        {
            up_to = marks.pop_front().map(|(_, i)| i);
        }
        let Some(up_to) = up_to else { continue };
        if !cluster.leader_info().is_leader || !store.read(|t| t.has_tombstones_up_to(up_to)) {
            continue;
        }
        if let Err(e) = cluster.write(Command::KvReapTombstones { up_to }).await {
            tracing::warn!(error = %e, "leader: KV tombstone reaping failed; will retry");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raft::{RaftNode, RaftOptions};

    #[tokio::test(start_paused = true)]
    async fn reaps_tombstones_older_than_the_ttl() {
        let store = Store::new();
        let opts = RaftOptions {
            node_id: 1,
            rpc_addr: "127.0.0.1:1".into(),
            data_dir: None,
            raft_multiplier: 1,
            pool: Default::default(),
            bootstrap: true,
            snapshots: crate::raft::SnapshotOptions::default(),
        };
        let raft = RaftNode::start(opts, store.clone()).await.unwrap();
        raft.wait_for_leader(Duration::from_secs(5)).await.unwrap();
        raft.write(Command::KvSet {
            key: "k".into(),
            value: vec![1],
            flags: 0,
            cas: None,
        })
        .await
        .unwrap();
        raft.write(Command::KvDelete {
            key: "k".into(),
            cas: None,
        })
        .await
        .unwrap();
        let deleted_at = store.read(|t| t.kv_get("k").1);
        assert!(deleted_at > 0);
        let stop = CancellationToken::new();
        let gc = tokio::spawn(run_tombstone_gc(
            Cluster::server(raft.clone(), Default::default(), Default::default()),
            store.clone(),
            stop.clone(),
        ));
        tokio::time::sleep(TOMBSTONE_TTL - GC_INTERVAL).await;
        assert_eq!(
            store.read(|t| t.kv_get("k").1),
            deleted_at,
            "kept while younger than the TTL"
        );
        tokio::time::sleep(GC_INTERVAL * 3).await;
        assert_eq!(store.read(|t| t.kv_get("k").1), 0, "reaped after the TTL");
        stop.cancel();
        gc.await.unwrap();
        raft.shutdown().await;
    }
}
