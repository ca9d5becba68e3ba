//! Three Raft nodes in one process, talking over real server RPC sockets on loopback:
//! replication, leader loss and catch-up by snapshot go through `network.rs` and `crate::rpc`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use openraft::BasicNode;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::{RaftNode, RaftOptions};
use crate::catalog::{Command, Store};
use crate::rpc::{Pool, Reply, Request, Service};

/// Hands Raft messages to one node, as the daemon's RPC service does.
struct RaftOnly(RaftNode);

impl Service for RaftOnly {
    fn handle(&self, req: Request) -> BoxFuture<'_, Reply> {
        Box::pin(async move {
            match req {
                Request::AppendEntries(r) => Reply::AppendEntries(self.0.append_entries(r).await),
                Request::Vote(r) => Reply::Vote(self.0.vote(r).await),
                Request::InstallSnapshot(r) => {
                    Reply::InstallSnapshot(self.0.install_snapshot(r).await)
                }
                other => Reply::Error(format!("{} not served here", other.kind())),
            }
        })
    }
}

/// One running node: its Raft handle, catalog, and the token that stops its RPC listener.
struct Member {
    raft: RaftNode,
    store: Store,
    stop: CancellationToken,
    addr: String,
}

async fn start(id: u64, listener: TcpListener, dir: &std::path::Path) -> Member {
    let addr = listener.local_addr().unwrap().to_string();
    let store = Store::new();
    let opts = RaftOptions {
        node_id: id,
        rpc_addr: addr.clone(),
        data_dir: Some(dir.to_path_buf()),
        raft_multiplier: 1,
        pool: Pool::default(),
        bootstrap: false,
        snapshots: Default::default(),
    };
    let raft = RaftNode::start(opts, store.clone()).await.unwrap();
    let stop = CancellationToken::new();
    tokio::spawn(crate::rpc::serve(
        listener,
        Arc::new(RaftOnly(raft.clone())),
        stop.clone(),
        Duration::from_secs(1),
    ));
    Member {
        raft,
        store,
        stop,
        addr,
    }
}

async fn wait_for<F: Fn() -> bool>(what: &str, f: F) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while !f() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn kv(store: &Store, key: &str) -> Option<Vec<u8>> {
    store.read(|t| t.kv_get(key).0.map(|e| e.value))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_replicate_fail_over_and_catch_up_over_rpc() {
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let mut listeners = Vec::new();
    for _ in 0..3 {
        listeners.push(TcpListener::bind("127.0.0.1:0").await.unwrap());
    }
    let addrs: Vec<_> = listeners.iter().map(|l| l.local_addr().unwrap()).collect();
    let mut members = Vec::new();
    for (i, l) in listeners.into_iter().enumerate() {
        members.push(Some(start(i as u64 + 1, l, dirs[i].path()).await));
    }
    let voters: BTreeMap<u64, BasicNode> = members
        .iter()
        .enumerate()
        .map(|(i, m)| (i as u64 + 1, BasicNode::new(&m.as_ref().unwrap().addr)))
        .collect();
    members[0]
        .as_ref()
        .unwrap()
        .raft
        .raft
        .initialize(voters)
        .await
        .unwrap();
    let leader_of = |ms: &Vec<Option<Member>>| {
        ms.iter()
            .flatten()
            .find(|m| m.raft.leader_info().is_leader)
            .map(|m| m.addr.clone())
    };
    wait_for("a leader", || leader_of(&members).is_some()).await;
    let leader = leader_of(&members).unwrap();
    let li = members
        .iter()
        .position(|m| m.as_ref().unwrap().addr == leader)
        .unwrap();

    let set = |k: &str| Command::KvSet {
        key: k.into(),
        value: k.as_bytes().to_vec(),
        flags: 0,
        cas: None,
    };
    let lr = members[li].as_ref().unwrap().raft.clone();
    lr.write(set("a")).await.unwrap();
    wait_for("replication to every node", || {
        members
            .iter()
            .flatten()
            .all(|m| kv(&m.store, "a").is_some())
    })
    .await;

    // A follower refuses writes and names the leader (the cluster layer forwards there).
    let follower = members.iter().flatten().find(|m| m.addr != leader).unwrap();
    match follower.raft.write(set("x")).await {
        Err(super::WriteError::NotLeader { leader: l }) => assert_eq!(l, leader),
        other => panic!("{other:?}"),
    }

    // Stop the leader: the other two elect a new one and keep writing.
    let old = members[li].take().unwrap();
    old.stop.cancel();
    old.raft.shutdown().await;
    drop(old);
    wait_for("a new leader", || leader_of(&members).is_some()).await;
    let new_leader = members
        .iter()
        .flatten()
        .find(|m| m.raft.leader_info().is_leader)
        .unwrap();
    for i in 0..50 {
        new_leader.raft.write(set(&format!("b{i}"))).await.unwrap();
    }
    // Compact the new leader's log so the old leader must catch up from a snapshot.
    new_leader.raft.raft.trigger().snapshot().await.unwrap();
    new_leader.raft.raft.trigger().purge_log(40).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Restart the old leader from its data dir, on its old address: it rejoins as a follower.
    let listener = TcpListener::bind(addrs[li]).await.unwrap();
    members[li] = Some(start(li as u64 + 1, listener, dirs[li].path()).await);
    let back = members[li].as_ref().unwrap();
    wait_for("the old leader to catch up", || {
        kv(&back.store, "b49").is_some()
    })
    .await;
    assert!(!back.raft.leader_info().is_leader || leader_of(&members).is_some());
    for m in members.iter().flatten() {
        m.stop.cancel();
        m.raft.shutdown().await;
    }
}
