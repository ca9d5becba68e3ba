//! Table tests for the leader's gossip → Raft server set rules.

use std::collections::BTreeMap;

use super::*;

const ME: u64 = 1;

fn peer(name: &str, id: u64, addr: &str, status: Option<MemberStatus>) -> ServerPeer {
    ServerPeer {
        name: name.into(),
        id,
        addr: addr.into(),
        status,
    }
}

fn alive(name: &str, id: u64, addr: &str) -> ServerPeer {
    peer(name, id, addr, Some(MemberStatus::Alive))
}

fn server(id: u64, addr: &str, voter: bool) -> RaftServer {
    RaftServer {
        id,
        address: addr.into(),
        leader: id == ME,
        voter,
        last_index: 0,
    }
}

/// The plan rendered as short strings: `+name`, `-id(why)`, `keep-self`.
fn check(peers: &[ServerPeer], config: &[RaftServer], want: &[&str]) {
    let got: Vec<String> = plan(ME, peers, config)
        .into_iter()
        .map(|c| match c {
            Change::Add(p) => format!("+{}", p.name),
            Change::Remove { id, why, .. } => format!("-{id}({why})"),
            Change::KeepSelf => "keep-self".into(),
        })
        .collect();
    assert_eq!(got, want, "peers {peers:?}\nconfig {config:?}");
}

#[test]
fn the_rules() {
    let me = alive("s1", ME, "10.0.0.1:8300");
    let s1 = server(ME, "10.0.0.1:8300", true);
    // New alive server → added; already a voter at its address → nothing.
    check(
        &[me.clone(), alive("s2", 2, "10.0.0.2:8300")],
        std::slice::from_ref(&s1),
        &["+s2"],
    );
    let s2 = server(2, "10.0.0.2:8300", true);
    check(
        &[me.clone(), alive("s2", 2, "10.0.0.2:8300")],
        &[s1.clone(), s2.clone()],
        &[],
    );
    // A learner is promoted; a voter whose address moved is updated.
    let learner = server(2, "10.0.0.2:8300", false);
    check(
        &[me.clone(), alive("s2", 2, "10.0.0.2:8300")],
        &[s1.clone(), learner],
        &["+s2"],
    );
    check(
        &[me.clone(), alive("s2", 2, "10.0.0.9:8300")],
        &[s1.clone(), s2.clone()],
        &["+s2"],
    );
    // Failed and leaving servers stay voters, and are not added while down.
    for status in [MemberStatus::Failed, MemberStatus::Leaving] {
        let p = peer("s2", 2, "10.0.0.2:8300", Some(status));
        check(&[me.clone(), p.clone()], &[s1.clone(), s2.clone()], &[]);
        check(&[me.clone(), p], std::slice::from_ref(&s1), &[]);
    }
    // Left (graceful or force-leave) and reaped servers are removed, once.
    let left = peer("s2", 2, "10.0.0.2:8300", Some(MemberStatus::Left));
    check(
        &[me.clone(), left.clone()],
        &[s1.clone(), s2.clone()],
        &["-2(left)"],
    );
    check(&[me.clone(), left], std::slice::from_ref(&s1), &[]);
    let reaped = peer("s2", 2, "10.0.0.2:8300", None);
    check(
        &[me.clone(), reaped],
        &[s1.clone(), s2.clone()],
        &["-2(reaped)"],
    );
    // A new server at an old server's address replaced it: old id out, new id in.
    check(
        &[me.clone(), alive("s2", 3, "10.0.0.2:8300")],
        &[s1.clone(), s2.clone()],
        &["-2(replaced by a server with a new id)", "+s2"],
    );
    // The leader never removes itself.
    let me_left = peer("s1", ME, "10.0.0.1:8300", Some(MemberStatus::Left));
    check(
        &[me_left, alive("s2", 2, "10.0.0.2:8300")],
        &[s1.clone(), s2.clone()],
        &["keep-self"],
    );
    // Unknown voters that gossip never named stay (a new leader may not have heard of them).
    check(&[me], &[s1, s2], &[]);
}

#[test]
fn five_servers_two_join_one_leaves() {
    let addr = |i: u64| format!("10.0.0.{i}:8300");
    let mut peers: Vec<ServerPeer> = (1..=5)
        .map(|i| alive(&format!("s{i}"), i, &addr(i)))
        .collect();
    peers[4].status = Some(MemberStatus::Left);
    let config: Vec<RaftServer> = (1..=3)
        .map(|i| server(i, &addr(i), true))
        .chain([server(5, &addr(5), true)])
        .collect();
    check(&peers, &config, &["-5(left)", "+s4"]);
}

fn member(name: &str, tags: &[(&str, &str)]) -> Member {
    Member {
        name: name.into(),
        id: String::new(),
        addr: "10.0.0.2".parse().unwrap(),
        port: 8301,
        tags: tags
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>(),
        status: MemberStatus::Alive,
    }
}

#[test]
fn only_servers_of_this_datacenter_count() {
    let uuid = "8a3b1c2d-0000-4000-8000-000000000001";
    let good = [
        ("role", "consul"),
        ("dc", "dc1"),
        ("port", "8300"),
        ("id", uuid),
    ];
    let p = server_peer(&member("s2", &good), "dc1").unwrap();
    assert_eq!(
        (p.id, p.addr.as_str(), p.status),
        (raft_id(uuid), "10.0.0.2:8300", Some(MemberStatus::Alive))
    );
    assert!(
        server_peer(&member("s2", &good), "dc2").is_none(),
        "other dc"
    );
    let client = [
        ("role", "node"),
        ("dc", "dc1"),
        ("port", "8300"),
        ("id", uuid),
    ];
    assert!(
        server_peer(&member("c1", &client), "dc1").is_none(),
        "client"
    );
    let no_port = [("role", "consul"), ("dc", "dc1"), ("id", uuid)];
    assert!(server_peer(&member("s3", &no_port), "dc1").is_none());
    let bad_id = [
        ("role", "consul"),
        ("dc", "dc1"),
        ("port", "8300"),
        ("id", "x"),
    ];
    assert!(server_peer(&member("s4", &bad_id), "dc1").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_leader_removes_a_server_that_left() {
    use crate::raft::{RaftOptions, SnapshotOptions};
    let uuid_me = "8a3b1c2d-0000-4000-8000-000000000001";
    let uuid_s2 = "9a3b1c2d-0000-4000-8000-000000000002";
    let opts = RaftOptions {
        pool: Default::default(),
        node_id: raft_id(uuid_me),
        rpc_addr: "10.0.0.2:8300".into(),
        data_dir: None,
        raft_multiplier: 1,
        bootstrap: true,
        snapshots: SnapshotOptions::default(),
    };
    let raft = RaftNode::start(opts, crate::catalog::Store::new())
        .await
        .unwrap();
    raft.wait_for_leader(Duration::from_secs(5)).await.unwrap();
    // s2 becomes a learner (it never catches up: there is no transport in unit tests).
    let adding = tokio::spawn({
        let raft = raft.clone();
        async move { raft.add_server(raft_id(uuid_s2), "10.0.0.3:8300").await }
    });
    while raft.configuration().len() < 2 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    adding.abort();
    let tags = |uuid: &str| {
        [
            ("role", "consul"),
            ("dc", "dc1"),
            ("port", "8300"),
            ("id", uuid),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    };
    let me = Member {
        tags: tags(uuid_me),
        ..member("s1", &[])
    };
    let s2 = Member {
        tags: tags(uuid_s2),
        addr: "10.0.0.3".parse().unwrap(),
        status: MemberStatus::Left,
        ..member("s2", &[])
    };
    let (tx, rx) = watch::channel(0u64);
    let stop = CancellationToken::new();
    let task = tokio::spawn(run(
        raft.clone(),
        "dc1".into(),
        rx,
        move || (vec![me.clone(), s2.clone()], BTreeSet::new()),
        stop.clone(),
    ));
    tx.send_modify(|n| *n += 1);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while raft.configuration().len() > 1 {
        assert!(tokio::time::Instant::now() < deadline, "s2 was not removed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        raft.voters(),
        vec![(raft_id(uuid_me), "10.0.0.2:8300".to_string())]
    );
    stop.cancel();
    task.await.unwrap();
    raft.shutdown().await;
}
