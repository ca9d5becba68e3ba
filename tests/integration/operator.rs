//! `/v1/operator/raft/*` and `berth operator raft` against a single `-dev` server.

use crate::harness::{run_cli, Agent};
use crate::Client;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raft_configuration_and_peer_removal_on_one_server() {
    let a = Agent::dev();
    let c = Client::new();
    let config = c.get_json(&a.url("/v1/operator/raft/configuration")).await;
    let me = c.get_json(&a.url("/v1/agent/self")).await;
    let peers = c.get_json(&a.url("/v1/status/peers")).await;
    assert_eq!(config["Index"], 0, "{config}");
    let servers = config["Servers"].as_array().unwrap();
    assert_eq!(servers.len(), 1, "{config}");
    let s = &servers[0];
    assert_eq!(s["Node"], "test-node");
    assert_eq!(s["ID"], me["Config"]["NodeID"]);
    assert_eq!(s["Address"], peers[0], "status/peers lists the RPC address");
    assert!(s["Address"].as_str().unwrap().starts_with("127.0.0.1:"));
    assert_eq!((&s["Leader"], &s["Voter"]), (&true.into(), &true.into()));
    assert_eq!(s["ProtocolVersion"], "3");

    let r = c.delete(&a.url("/v1/operator/raft/peer")).await;
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.text().await.unwrap(),
        "Must specify either ?id with the server's ID or ?address with IP:port of peer to remove"
    );
    let r = c
        .delete(&a.url("/v1/operator/raft/peer?address=10.9.9.9:8300"))
        .await;
    assert_eq!(r.status(), 500);
    assert_eq!(
        r.text().await.unwrap(),
        r#"address "10.9.9.9:8300" was not found in the Raft configuration"#
    );

    let addr = format!("-http-addr={}", a.base);
    let (code, out, err) = run_cli(&["operator", "raft", "list-peers", &addr]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(
        lines[0].starts_with("Node") && lines[0].contains("RaftProtocol"),
        "{out}"
    );
    let cols: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(
        &cols[..6],
        [
            "test-node",
            s["ID"].as_str().unwrap(),
            s["Address"].as_str().unwrap(),
            "leader",
            "true",
            "3"
        ]
    );

    let (code, _, err) = run_cli(&[
        "operator",
        "raft",
        "remove-peer",
        &addr,
        "-address=10.9.9.9:8300",
    ]);
    assert_eq!(code, 1);
    assert_eq!(
        err.trim(),
        r#"Error removing peer: Unexpected response code: 500 (address "10.9.9.9:8300" was not found in the Raft configuration)"#
    );
    let (code, _, err) = run_cli(&["operator", "raft", "remove-peer", &addr]);
    assert_eq!(
        (code, err.trim()),
        (
            1,
            "Error removing peer: an address or id is required for the peer to remove"
        )
    );
    let config = c.get_json(&a.url("/v1/operator/raft/configuration")).await;
    assert_eq!(
        config["Servers"].as_array().unwrap().len(),
        1,
        "still there"
    );
}
