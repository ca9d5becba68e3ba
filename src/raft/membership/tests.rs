//! What can be checked on one in-memory node: bootstrap, the configuration, idempotent
//! initialize, learners that never catch up (no transport yet), and removal.

use std::time::Duration;

use super::super::{RaftOptions, SnapshotOptions};
use super::*;
use crate::catalog::Store;

const ME: &str = "127.0.0.1:8300";

fn opts(bootstrap: bool) -> RaftOptions {
    RaftOptions {
        pool: Default::default(),
        node_id: 1,
        rpc_addr: ME.into(),
        data_dir: None,
        raft_multiplier: 1,
        bootstrap,
        snapshots: SnapshotOptions::default(),
    }
}

async fn leader() -> RaftNode {
    let node = RaftNode::start(opts(true), Store::new()).await.unwrap();
    node.wait_for_leader(Duration::from_secs(5)).await.unwrap();
    node
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bootstrapped_server_is_its_own_leader_voter() {
    let node = leader().await;
    assert!(node.is_initialized().await.unwrap());
    assert!(
        !node.initialize(&[(1, ME.into())]).await.unwrap(),
        "already initialized"
    );
    let config = node.configuration();
    assert_eq!(config.len(), 1);
    let me = &config[0];
    assert_eq!(
        (me.id, me.address.as_str(), me.leader, me.voter),
        (1, ME, true, true)
    );
    assert!(me.last_index >= 1, "{me:?}");
    node.add_server(1, ME).await.unwrap();
    assert_eq!(
        node.configuration().len(),
        1,
        "adding a voter again changes nothing"
    );
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pristine_server_waits_then_initializes_with_its_peers() {
    let node = RaftNode::start(opts(false), Store::new()).await.unwrap();
    assert!(!node.is_initialized().await.unwrap());
    assert!(node.configuration().is_empty());
    assert_eq!(
        node.add_server(2, "10.0.0.2:8300").await,
        Err(WriteError::NoLeader)
    );
    assert_eq!(node.remove_server(2).await, Err(WriteError::NoLeader));
    let err = node
        .initialize(&[(7, "10.0.0.7:8300".into())])
        .await
        .unwrap_err();
    assert!(
        matches!(err, WriteError::Fatal(_)),
        "not among the voters: {err}"
    );
    // Two voters, the other unreachable: initialized, but no quorum for a leader.
    let voters = [(1, ME.to_string()), (2, "127.0.0.1:1".to_string())];
    assert!(node.initialize(&voters).await.unwrap());
    assert!(node.is_initialized().await.unwrap());
    // The configuration is read from metrics, which follow the core asynchronously.
    let ids = || -> Vec<(u64, bool)> {
        node.configuration()
            .iter()
            .map(|s| (s.id, s.voter))
            .collect()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    while ids().is_empty() && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(ids(), [(1, true), (2, true)]);
    assert!(node
        .wait_for_leader(Duration::from_millis(1500))
        .await
        .is_err());
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_server_stays_a_learner_until_removed() {
    let node = leader().await;
    let err = node
        .add_server_within(2, "127.0.0.1:1", Duration::from_millis(300))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("did not catch up"), "{err}");
    let learner = server(&node, 2);
    assert_eq!(
        (learner.voter, learner.leader, learner.address.as_str()),
        (false, false, "127.0.0.1:1")
    );
    // Its address changes: the learner is updated, still not a voter.
    let err = node
        .add_server_within(2, "127.0.0.1:2", Duration::from_millis(300))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("did not catch up"), "{err}");
    let learner = server(&node, 2);
    assert_eq!(
        (learner.voter, learner.address.as_str()),
        (false, "127.0.0.1:2")
    );
    // The leader still writes: a learner is not part of the quorum.
    node.write(crate::catalog::Command::KvDeleteTree {
        prefix: String::new(),
    })
    .await
    .unwrap();
    node.remove_server(2).await.unwrap();
    node.remove_server(2).await.unwrap();
    settle(&node, |c| c.len() == 1).await;
    assert_eq!(node.configuration().len(), 1);
    let err = node.remove_server(1).await.unwrap_err();
    assert!(
        matches!(err, WriteError::Fatal(_)),
        "the last voter stays: {err}"
    );
    node.shutdown().await;
}

/// Waits (up to 3 s) until the configuration, read from metrics that follow the core
/// asynchronously, satisfies `ok`.
async fn settle(node: &RaftNode, ok: impl Fn(&[RaftServer]) -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    while !ok(&node.configuration()) && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Server `id` of the node's configuration.
fn server(node: &RaftNode, id: u64) -> RaftServer {
    node.configuration()
        .into_iter()
        .find(|s| s.id == id)
        .unwrap()
}
