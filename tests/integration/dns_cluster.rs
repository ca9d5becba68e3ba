//! DNS across a real cluster (3 servers, 2 client agents on loopback): every agent answers,
//! clients through their servers; with the leader and a second server killed, the last server
//! and a client with `allow_stale` (the default) still answer from the stale catalog, while a
//! client with `allow_stale = false` gets SERVFAIL (Consul's rule: only the leader answers).

use std::time::Duration;

use crate::cluster::harness::{eventually, Cluster, Spec};
use crate::dns::{dig, short, status};

#[tokio::test]
async fn clients_answer_through_servers_and_stale_reads_survive_the_leader() {
    let mut cl = Cluster::create(&Spec::new(3, 2));
    // c2 (the last node) insists on the leader's view.
    let c2 = cl.nodes.len() - 1;
    std::fs::write(
        cl.nodes[c2].dir.join("config.json"),
        r#"{"performance": {"raft_multiplier": 1}, "dns_config": {"allow_stale": false}}"#,
    )
    .unwrap();
    for n in &mut cl.nodes {
        n.start();
    }
    cl.wait_up(Duration::from_secs(30)).await;
    let (leader, _) = cl.wait_leader(Duration::from_secs(30)).await;
    let c1 = cl.clients().start;
    let body = serde_json::json!({"Name": "web", "Address": "10.7.0.1", "Port": 80});
    let (code, text) = cl
        .put(c1, "/v1/agent/service/register", body.to_string())
        .await
        .unwrap();
    assert_eq!(code, 200, "{text}");

    // Every agent, servers and clients alike, answers once the registration has synced.
    for i in 0..cl.nodes.len() {
        let port = cl.nodes[i].dns;
        let seen = eventually(Duration::from_secs(15), || async move {
            short(port, &["web.service.consul"]) == ["10.7.0.1"]
        })
        .await;
        assert!(seen.is_some(), "{} never answered", cl.nodes[i].name);
    }

    // Leave one follower alone: no leader, no quorum.
    let survivor = cl.servers().find(|&i| i != leader).unwrap();
    for i in cl.servers().filter(|&i| i != survivor) {
        cl.nodes[i].kill();
    }
    let (s_port, c1_port, c2_port) = (cl.nodes[survivor].dns, cl.nodes[c1].dns, cl.nodes[c2].dns);
    assert_eq!(short(s_port, &["web.service.consul"]), vec!["10.7.0.1"]);
    let back = eventually(Duration::from_secs(10), || async move {
        short(c1_port, &["web.service.consul"]) == ["10.7.0.1"]
    })
    .await;
    assert!(
        back.is_some(),
        "the client did not fail over to the survivor"
    );
    let refused = eventually(Duration::from_secs(15), || async move {
        status(&dig(c2_port, &["web.service.consul"])) == "SERVFAIL"
    })
    .await;
    assert!(
        refused.is_some(),
        "allow_stale=false answered without a leader: {}",
        dig(c2_port, &["web.service.consul"])
    );
}
