//! In-process clusters on 127.0.0.1 with OS-chosen ports; every wait is bounded.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::*;

/// A 32-byte key, base64 (what `consul keygen` prints).
const KEY_A: &str = "pUqJrVyVRj5jsiYEkM/tFQYfWyJIv4s3XkvDwy7Cu5s=";
/// Another valid 32-byte key.
const KEY_B: &str = "Y4Dg3ZLYZ/mLrnYqkS7TUqcDy/1xgMo0ClE2jPDUkWU=";

/// One started node with what it takes to stop it.
struct Node {
    g: Gossip,
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl Node {
    /// Stop abruptly: no leave, the socket is dropped with the task.
    async fn kill(self) {
        self.stop.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(5), self.task).await;
    }
}

fn cfg(name: &str, id: &str) -> GossipConfig {
    let mut c = GossipConfig::new("127.0.0.1:0".parse().unwrap(), name, id);
    c.tags.insert("role".into(), "node".into());
    c.tags.insert("dc".into(), "dc1".into());
    c
}

async fn start(c: GossipConfig) -> Node {
    let stop = CancellationToken::new();
    let (g, task) = Gossip::start(c, stop.clone()).await.expect("start");
    Node { g, stop, task }
}

async fn node(name: &str) -> Node {
    start(cfg(name, &format!("id-{name}"))).await
}

fn seed(n: &Node) -> Vec<String> {
    vec![n.g.local_addr().to_string()]
}

fn statuses(g: &Gossip) -> BTreeMap<String, MemberStatus> {
    g.members()
        .into_iter()
        .map(|m| (m.name, m.status))
        .collect()
}

/// Poll `cond` every 50 ms until it holds or `limit` passes; returns the time it took.
async fn wait_for(limit: Duration, mut cond: impl FnMut() -> bool) -> Option<Duration> {
    let t0 = Instant::now();
    while t0.elapsed() < limit {
        if cond() {
            return Some(t0.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    cond().then(|| t0.elapsed())
}

/// Every node in `nodes` lists `name` with `status`.
fn all_see(nodes: &[&Gossip], name: &str, status: Option<MemberStatus>) -> bool {
    nodes
        .iter()
        .all(|g| statuses(g).get(name).copied() == status)
}

async fn cluster(n: usize) -> Vec<Node> {
    let mut nodes = vec![node("n0").await];
    for i in 1..n {
        let x = node(&format!("n{i}")).await;
        assert_eq!(x.g.join(&seed(&nodes[0])).await.expect("join"), 1);
        nodes.push(x);
    }
    nodes
}

fn all_alive(nodes: &[&Gossip], n: usize) -> bool {
    nodes.iter().all(|g| {
        let s = statuses(g);
        s.len() == n && s.values().all(|v| *v == MemberStatus::Alive)
    })
}

#[tokio::test]
async fn five_nodes_join_through_one_seed() {
    let nodes = cluster(5).await;
    let gs: Vec<&Gossip> = nodes.iter().map(|n| &n.g).collect();
    let took = wait_for(Duration::from_secs(2), || all_alive(&gs, 5)).await;
    assert!(
        took.is_some(),
        "not all alive in 2 s: {:?}",
        gs.iter().map(|g| statuses(g)).collect::<Vec<_>>()
    );
    let m = nodes[4].g.members();
    let n0 = m.iter().find(|m| m.name == "n0").unwrap();
    assert_eq!(n0.id, "id-n0");
    assert_eq!(n0.tags.get("dc").map(String::as_str), Some("dc1"));
    assert_eq!(n0.port, nodes[0].g.local_addr().port());
    assert!(!nodes[0].g.encrypted());
    assert_eq!(nodes[0].g.stats().members, 5);
    eprintln!("5 nodes alive everywhere after {took:?}");
}

#[tokio::test]
async fn killed_node_fails_then_rejoins_and_force_leave() {
    let mut nodes = cluster(5).await;
    let victim = nodes.pop().unwrap();
    let gs: Vec<&Gossip> = nodes.iter().map(|n| &n.g).collect();
    assert!(wait_for(Duration::from_secs(2), || all_see(
        &gs,
        "n4",
        Some(MemberStatus::Alive)
    ))
    .await
    .is_some());
    let mut rx = nodes[0].g.subscribe();
    let before = *rx.borrow_and_update();
    let victim_addr = victim.g.local_addr();
    victim.kill().await;
    let took = wait_for(Duration::from_secs(10), || {
        all_see(&gs, "n4", Some(MemberStatus::Failed))
    })
    .await;
    assert!(
        took.is_some(),
        "n4 not failed everywhere in 10 s: {:?}",
        gs.iter().map(|g| statuses(g)).collect::<Vec<_>>()
    );
    eprintln!("killed node failed everywhere after {took:?}");
    assert_ne!(*rx.borrow(), before, "watch bumped");

    // Restarted with the same name, ID and port (as Consul's fixed 8301): alive again everywhere.
    let mut c = cfg("n4", "id-n4");
    c.bind = victim_addr;
    c.advertise = victim_addr;
    let back = start(c).await;
    back.g.join(&seed(&nodes[0])).await.expect("rejoin");
    let mut all: Vec<&Gossip> = gs.clone();
    all.push(&back.g);
    let took = wait_for(Duration::from_secs(5), || all_alive(&all, 5)).await;
    assert!(
        took.is_some(),
        "not alive again: {:?}",
        all.iter().map(|g| statuses(g)).collect::<Vec<_>>()
    );
    eprintln!("restarted node alive everywhere after {took:?}");

    // Kill it again, then force-leave: Left everywhere, then pruned.
    back.kill().await;
    assert!(wait_for(Duration::from_secs(10), || all_see(
        &gs,
        "n4",
        Some(MemberStatus::Failed)
    ))
    .await
    .is_some());
    assert!(matches!(
        nodes[1].g.force_leave("nope", false).await,
        Err(GossipError::NotFound(_))
    ));
    nodes[1]
        .g
        .force_leave("n4", false)
        .await
        .expect("force-leave");
    let took = wait_for(Duration::from_secs(3), || {
        all_see(&gs, "n4", Some(MemberStatus::Left))
    })
    .await;
    assert!(
        took.is_some(),
        "not left: {:?}",
        gs.iter().map(|g| statuses(g)).collect::<Vec<_>>()
    );
    nodes[2].g.force_leave("n4", true).await.expect("prune");
    let took = wait_for(Duration::from_secs(3), || all_see(&gs, "n4", None)).await;
    assert!(
        took.is_some(),
        "not pruned: {:?}",
        gs.iter().map(|g| statuses(g)).collect::<Vec<_>>()
    );
    // Live members are untouched by force-leave.
    nodes[1]
        .g
        .force_leave("n2", false)
        .await
        .expect("alive is a no-op");
    assert!(all_alive(&gs, 4));
}

#[tokio::test]
async fn graceful_leave_is_left_not_failed() {
    let nodes = cluster(4).await;
    let gs: Vec<&Gossip> = nodes[..3].iter().map(|n| &n.g).collect();
    assert!(wait_for(Duration::from_secs(2), || all_see(
        &gs,
        "n3",
        Some(MemberStatus::Alive)
    ))
    .await
    .is_some());
    nodes[3]
        .g
        .leave(Duration::from_secs(2))
        .await
        .expect("leave");
    let mut saw_failed = false;
    let took = wait_for(Duration::from_secs(5), || {
        saw_failed |= gs
            .iter()
            .any(|g| statuses(g).get("n3") == Some(&MemberStatus::Failed));
        all_see(&gs, "n3", Some(MemberStatus::Left))
    })
    .await;
    assert!(
        took.is_some(),
        "not left: {:?}",
        gs.iter().map(|g| statuses(g)).collect::<Vec<_>>()
    );
    assert!(!saw_failed, "a member saw the leaver as failed");
    assert_eq!(statuses(&nodes[3].g).get("n3"), Some(&MemberStatus::Left));
    // Stay Left (a failure detector must not turn it into Failed later).
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(all_see(&gs, "n3", Some(MemberStatus::Left)));
    eprintln!("leave seen everywhere after {took:?}");
}

#[tokio::test]
async fn name_conflict_is_refused() {
    let nodes = cluster(2).await;
    let gs: Vec<&Gossip> = nodes.iter().map(|n| &n.g).collect();
    assert!(wait_for(Duration::from_secs(2), || all_alive(&gs, 2))
        .await
        .is_some());
    let impostor = start(cfg("n1", "another-id")).await;
    let err = impostor.g.join(&seed(&nodes[0])).await.unwrap_err();
    assert!(matches!(err, GossipError::NameConflict(_)), "{err}");
    assert!(err.to_string().contains("n1"), "{err}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    for g in &gs {
        let m = g.members();
        assert_eq!(m.len(), 2);
        assert!(m.iter().all(|m| m.id == format!("id-{}", m.name)));
    }
}

#[tokio::test]
async fn encryption_keys_must_match() {
    let dir = tempfile::tempdir().unwrap();
    let keyed = |name: &str, key: Option<&str>| {
        let mut c = cfg(name, &format!("id-{name}"));
        c.keyring = key.map(|k| Keyring::from_base64(k).unwrap());
        c
    };
    let mut c0 = keyed("e0", Some(KEY_A));
    c0.data_dir = Some(dir.path().to_path_buf());
    let a = start(c0).await;
    let b = start(keyed("e1", Some(KEY_A))).await;
    assert!(a.g.encrypted());
    assert_eq!(b.g.join(&seed(&a)).await.expect("same key joins"), 1);
    let gs = [&a.g, &b.g];
    assert!(wait_for(Duration::from_secs(2), || all_alive(&gs, 2))
        .await
        .is_some());

    let wrong = start(keyed("e2", Some(KEY_B))).await;
    let err = wrong.g.join(&seed(&a)).await.unwrap_err();
    assert!(matches!(err, GossipError::KeyMismatch(_)), "{err}");
    let plain = start(keyed("e3", None)).await;
    let err = plain.g.join(&seed(&a)).await.unwrap_err();
    assert!(matches!(err, GossipError::KeyMismatch(_)), "{err}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(all_alive(&gs, 2), "members changed: {:?}", statuses(&a.g));

    // Bad key lengths are refused.
    assert!(matches!(
        Keyring::from_base64("AAAAAAAAAAAAAA=="),
        Err(GossipError::BadKey(_))
    ));
    assert!(Keyring::from_base64("not base64!").is_err());
    assert!(Keyring::from_base64("AAAAAAAAAAAAAAAAAAAAAA==").is_ok()); // 16 bytes
    assert!(Keyring::from_base64("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").is_ok()); // 24 bytes

    // The keyring file was written; a restart without a key loads it and can join.
    let path = Keyring::file_path(dir.path());
    assert_eq!(
        Keyring::load(&path).unwrap().to_base64_list(),
        vec![KEY_A.to_string()]
    );
    let mut c4 = keyed("e4", None);
    c4.data_dir = Some(dir.path().to_path_buf());
    let reloaded = start(c4).await;
    assert!(reloaded.g.encrypted());
    reloaded
        .g
        .join(&seed(&a))
        .await
        .expect("reloaded key joins");
}

#[tokio::test]
async fn garbage_is_dropped_and_probing_goes_on() {
    use rand_010::RngExt;
    let nodes = cluster(3).await;
    let gs: Vec<&Gossip> = nodes.iter().map(|n| &n.g).collect();
    assert!(wait_for(Duration::from_secs(2), || all_alive(&gs, 3))
        .await
        .is_some());
    let target = nodes[1].g.local_addr();
    let before = nodes[1].g.stats();
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut rng = rand_010::rng();
    for i in 0..1000usize {
        let len = rng.random_range(0..1500usize);
        let mut pkt: Vec<u8> = (0..len).map(|_| rng.random()).collect();
        match i % 3 {
            0 if !pkt.is_empty() => pkt[0] = 1, // looks sealed
            1 if !pkt.is_empty() => pkt[0] = 0, // looks plaintext
            _ => pkt.truncate(i % 7),
        }
        let _ = sock.send_to(&pkt, target).await;
        if i % 100 == 99 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = nodes[1].g.stats();
    assert!(
        after.dropped - before.dropped >= 900,
        "{before:?} → {after:?}"
    );
    assert!(
        after.packets_sent > before.packets_sent + 5,
        "still probing: {before:?} → {after:?}"
    );
    assert!(
        all_alive(&gs, 3),
        "{:?}",
        gs.iter().map(|g| statuses(g)).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn rolling_upgrade_accepts_plaintext() {
    let plain = node("p0").await;
    let mut c = cfg("p1", "id-p1");
    c.keyring = Some(Keyring::from_base64(KEY_A).unwrap());
    c.encrypt_verify_incoming = false;
    c.encrypt_verify_outgoing = false;
    let upgrading = start(c).await;
    upgrading
        .g
        .join(&seed(&plain))
        .await
        .expect("plaintext join");
    let gs = [&plain.g, &upgrading.g];
    assert!(wait_for(Duration::from_secs(2), || all_alive(&gs, 2))
        .await
        .is_some());
}

#[tokio::test]
async fn table_reaps_and_forgets() {
    use super::members::Table;
    use super::wire::{Id, Meta};
    let meta = |name: &str, port: u16, gen: u64| Meta {
        name: name.into(),
        id: format!("id-{name}"),
        foca: Id {
            addr: format!("127.0.0.1:{port}").parse().unwrap(),
            gen,
        },
        seq: 1,
        tags: BTreeMap::new(),
    };
    let mut t = Table::new(meta("me", 1, 1));
    assert!(t.apply_meta(meta("a", 2, 5), None));
    assert!(
        !t.apply_meta(meta("a", 2, 5), None),
        "same version is not news"
    );
    t.member_down(&Id {
        addr: "127.0.0.1:2".parse().unwrap(),
        gen: 5,
    });
    assert_eq!(t.lookup("a").map(|x| x.0), Some(MemberStatus::Failed));
    t.reap(Duration::ZERO, Duration::from_secs(3600));
    assert_eq!(t.lookup("a"), None);
    assert!(
        !t.apply_meta(meta("a", 2, 5), None),
        "an echo does not resurrect a reaped node"
    );
    assert!(t.apply_meta(meta("a", 2, 6), None), "a restart does");
    assert_eq!(t.lookup("a").map(|x| x.0), Some(MemberStatus::Alive));
    assert!(t
        .conflict(&Meta {
            id: "other".into(),
            ..meta("a", 3, 7)
        })
        .is_some());
    assert!(t
        .conflict(&Meta {
            id: "other".into(),
            ..meta("me", 3, 7)
        })
        .is_some());
}
