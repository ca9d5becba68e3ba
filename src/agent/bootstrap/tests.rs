//! Table tests for the `bootstrap_expect` rule, and the task on one in-memory node.

use std::collections::BTreeMap;

use super::*;
use crate::raft::{raft_id, RaftOptions, SnapshotOptions};

/// A node UUID whose raft id is `n`-derived, so expectations can name it.
fn uuid(n: u8) -> String {
    format!("{n:02x}000000-0000-4000-8000-000000000000")
}

/// An alive server `name` numbered `n` (address 10.0.0.n) with extra tag overrides.
fn server(name: &str, n: u8, tags: &[(&str, &str)]) -> Member {
    let mut t: BTreeMap<String, String> = [
        ("role", "consul".to_string()),
        ("dc", "dc1".to_string()),
        ("port", "8300".to_string()),
        ("id", uuid(n)),
        ("expect", "3".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    for (k, v) in tags {
        if v.is_empty() {
            t.remove(*k);
        } else {
            t.insert(k.to_string(), v.to_string());
        }
    }
    Member {
        name: name.into(),
        id: uuid(n),
        addr: format!("10.0.0.{n}").parse().unwrap(),
        port: 8301,
        tags: t,
        status: MemberStatus::Alive,
    }
}

fn with_status(mut m: Member, status: MemberStatus) -> Member {
    m.status = status;
    m
}

fn voter(n: u8) -> (u64, String) {
    (raft_id(&uuid(n)), format!("10.0.0.{n}:8300"))
}

#[test]
fn the_rule() {
    let a = server("a", 1, &[]);
    let b = server("b", 2, &[]);
    let c = server("c", 3, &[]);
    let cases: Vec<(&str, &str, Vec<Member>, Decision)> = vec![
        ("wait", "a", vec![a.clone(), b.clone()], Decision::Wait { seen: 2 }),
        (
            "chosen: lowest name, all voters",
            "a",
            vec![c.clone(), a.clone(), b.clone()],
            Decision::Bootstrap(vec![voter(1), voter(2), voter(3)]),
        ),
        (
            "not chosen",
            "b",
            vec![a.clone(), b.clone(), c.clone()],
            Decision::NotMe { chosen: "a".into() },
        ),
        (
            "other dc and clients ignored",
            "a",
            vec![
                a.clone(),
                b.clone(),
                server("d", 4, &[("dc", "dc2")]),
                server("e", 5, &[("role", "node")]),
            ],
            Decision::Wait { seen: 2 },
        ),
        (
            "failed and left members ignored, even with another expect",
            "a",
            vec![
                a.clone(),
                b.clone(),
                with_status(server("d", 4, &[("expect", "5")]), MemberStatus::Failed),
                with_status(c.clone(), MemberStatus::Left),
                with_status(server("e", 5, &[]), MemberStatus::Leaving),
            ],
            Decision::Wait { seen: 2 },
        ),
        (
            "conflicting expect",
            "a",
            vec![a.clone(), b.clone(), server("c", 3, &[("expect", "5")])],
            Decision::Conflict("Member has a conflicting expect value. All nodes should expect the same number.: member=c expect=5".into()),
        ),
        (
            "bootstrap mode",
            "b",
            vec![a.clone(), b.clone(), server("c", 3, &[("bootstrap", "1")])],
            Decision::Conflict("Member has bootstrap mode. Expect disabled.: member=c".into()),
        ),
        (
            "conflict found before enough servers",
            "a",
            vec![a.clone(), server("b", 2, &[("expect", "")])],
            Decision::Conflict("Member has no expect value; every server must set the same bootstrap_expect (3) until the cluster has formed: member=b".into()),
        ),
        (
            "shared node id",
            "a",
            vec![a.clone(), b.clone(), server("c", 3, &[("id", &uuid(1))])],
            Decision::Conflict("Member shares its node ID with another server: member=c".into()),
        ),
        (
            "me not listed alive yet",
            "z",
            vec![a.clone(), b.clone(), c.clone()],
            Decision::Wait { seen: 3 },
        ),
    ];
    for (what, me, members, want) in cases {
        assert_eq!(decide(me, "dc1", 3, &members), want, "{what}");
    }
}

#[test]
fn five_servers_and_more_than_expected() {
    let names = ["e", "d", "c", "b", "a"];
    let members: Vec<Member> = names
        .iter()
        .enumerate()
        .map(|(i, n)| server(n, i as u8 + 1, &[("expect", "5")]))
        .collect();
    let Decision::Bootstrap(voters) = decide("a", "dc1", 5, &members) else {
        panic!("a bootstraps");
    };
    // Ordered by name: a (10.0.0.5) first.
    assert_eq!(voters.first(), Some(&voter(5)));
    assert_eq!(voters.len(), 5);
    for n in &names[..4] {
        assert_eq!(
            decide(n, "dc1", 5, &members),
            Decision::NotMe { chosen: "a".into() }
        );
    }
    assert_eq!(
        decide("a", "dc1", 5, &members[..4]),
        Decision::Wait { seen: 4 }
    );
    // Six servers seen for an expect of 3 (each with expect 3): all six vote, as in Consul.
    let six: Vec<Member> = (1..=6).map(|i| server(&format!("s{i}"), i, &[])).collect();
    let Decision::Bootstrap(voters) = decide("s1", "dc1", 3, &six) else {
        panic!("s1 bootstraps");
    };
    assert_eq!(voters.len(), 6);
}

fn pristine_opts() -> RaftOptions {
    RaftOptions {
        pool: Default::default(),
        node_id: raft_id(&uuid(1)),
        rpc_addr: "10.0.0.1:8300".into(),
        data_dir: None,
        raft_multiplier: 1,
        bootstrap: false,
        snapshots: SnapshotOptions::default(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_task_bootstraps_once_expected_servers_show_up() {
    let raft = RaftNode::start(pristine_opts(), crate::catalog::Store::new())
        .await
        .unwrap();
    let (tx, rx) = watch::channel(0u64);
    let members = std::sync::Arc::new(std::sync::Mutex::new(vec![]));
    let source = members.clone();
    let stop = CancellationToken::new();
    let task = tokio::spawn(run(
        raft.clone(),
        "a".into(),
        "dc1".into(),
        1,
        move || source.lock().unwrap().clone(),
        rx,
        Default::default(),
        stop.clone(),
    ));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!raft.is_initialized().await.unwrap(), "nobody seen yet");
    *members.lock().unwrap() = vec![server("a", 1, &[("expect", "1")])];
    tx.send_modify(|n| *n += 1);
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("task exits once bootstrapped")
        .unwrap();
    raft.wait_for_leader(Duration::from_secs(5)).await.unwrap();
    assert_eq!(raft.voters(), vec![voter(1)]);
    // With Raft state, a new run returns at once.
    let (_tx, rx) = watch::channel(0u64);
    tokio::time::timeout(
        Duration::from_secs(1),
        run(
            raft.clone(),
            "a".into(),
            "dc1".into(),
            3,
            Vec::new,
            rx,
            Default::default(),
            stop,
        ),
    )
    .await
    .expect("returns at once");
    raft.shutdown().await;
}

/// Answers `RaftStatus` like a server that already belongs to a cluster.
struct Initialized;

impl crate::rpc::Service for Initialized {
    fn handle(
        &self,
        _req: crate::rpc::Request,
    ) -> futures::future::BoxFuture<'_, crate::rpc::Reply> {
        Box::pin(async { crate::rpc::Reply::RaftStatus { initialized: true } })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_with_raft_state_disables_bootstrap() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let stop = CancellationToken::new();
    tokio::spawn(crate::rpc::serve(
        listener,
        std::sync::Arc::new(Initialized),
        stop.clone(),
        Duration::from_secs(1),
    ));
    let raft = RaftNode::start(pristine_opts(), crate::catalog::Store::new())
        .await
        .unwrap();
    let mut b = server("b", 2, &[("expect", "2"), ("port", &port)]);
    b.addr = "127.0.0.1".parse().unwrap();
    let members = vec![server("a", 1, &[("expect", "2")]), b];
    let (_tx, rx) = watch::channel(0u64);
    tokio::time::timeout(
        Duration::from_secs(5),
        run(
            raft.clone(),
            "a".into(),
            "dc1".into(),
            2,
            move || members.clone(),
            rx,
            Default::default(),
            stop.clone(),
        ),
    )
    .await
    .expect("gives up bootstrapping once a peer reports Raft state");
    assert!(!raft.is_initialized().await.unwrap());
    stop.cancel();
    raft.shutdown().await;
}
