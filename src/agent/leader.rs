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

/// Runs until `shutdown`, with Consul's TTL.
pub async fn run_tombstone_gc(cluster: Cluster, store: Store, shutdown: CancellationToken) {
    reap_tombstones(cluster, store, TOMBSTONE_TTL, GC_INTERVAL, shutdown).await
}

/// Reaps tombstones older than `ttl`, looking every `every`.
async fn reap_tombstones(
    cluster: Cluster,
    store: Store,
    ttl: Duration,
    every: Duration,
    shutdown: CancellationToken,
) {
    let mut marks: VecDeque<(Instant, u64)> = VecDeque::new();
    let mut tick = tokio::time::interval(every);
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
            .is_some_and(|(at, _)| now.duration_since(*at) >= ttl)
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

    // Real time with a short TTL: the Raft log's writer thread is outside tokio's clock, so
    // paused time would run ahead of it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reaps_tombstones_older_than_the_ttl() {
        const TTL: Duration = Duration::from_millis(600);
        const EVERY: Duration = Duration::from_millis(100);
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
        let gc = tokio::spawn(reap_tombstones(
            Cluster::server(raft.clone(), Default::default(), Default::default()),
            store.clone(),
            TTL,
            EVERY,
            stop.clone(),
        ));
        tokio::time::sleep(TTL - EVERY * 2).await;
        assert_eq!(
            store.read(|t| t.kv_get("k").1),
            deleted_at,
            "kept while younger than the TTL"
        );
        let deadline = Instant::now() + TTL * 5;
        while store.read(|t| t.kv_get("k").1) != 0 && Instant::now() < deadline {
            tokio::time::sleep(EVERY).await;
        }
        assert_eq!(store.read(|t| t.kv_get("k").1), 0, "reaped after the TTL");
        stop.cancel();
        gc.await.unwrap();
        raft.shutdown().await;
    }
}
