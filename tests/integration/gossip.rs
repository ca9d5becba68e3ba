//! LAN gossip across real agent processes on loopback: join, failure detection into the
//! catalog, rejoin, graceful leave, encryption.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::harness::{free_port, run_cli, Agent};
use crate::Client;

/// A server (`-dev`: in-memory, bootstrapped, fast gossip) with a known serf port.
fn server(serf: u16, extra: &[&str]) -> Agent {
    let mut args = vec![
        "-dev".to_string(),
        "-node=s1".into(),
        format!("-serf-lan-port={serf}"),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    Agent::start(&refs)
}

/// A client agent joining `seed`, with its own data dir under `dir`.
fn client(dir: &std::path::Path, name: &str, serf: u16, seed: u16, extra: &[&str]) -> Agent {
    let join = format!("-join=127.0.0.1:{seed}");
    let mut args = vec![join.as_str()];
    args.extend_from_slice(extra);
    bare_client(dir, name, serf, &args)
}

/// Polls until `a` lists exactly `n` members.
fn member_count(a: &Agent, n: usize) -> impl std::future::Future<Output = bool> {
    let url = a.url("/v1/agent/members");
    async move { Client::new().get_json(&url).await.as_array().unwrap().len() == n }
}

async fn members(c: &Client, a: &Agent) -> Vec<(String, u64)> {
    let m: Value = c.get_json(&a.url("/v1/agent/members")).await;
    m.as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["Name"].as_str().unwrap().to_string(),
                m["Status"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// Polls until `f` holds or `limit` passes; returns how long it took.
async fn eventually<F, Fut>(limit: Duration, mut f: F) -> Option<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while start.elapsed() < limit {
        if f().await {
            return Some(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_agents_join_fail_rejoin_and_leave() {
    let tmp = tempfile::tempdir().unwrap();
    let seed = free_port();
    let s = server(seed, &[]);
    let names = ["c1", "c2", "c3", "c4"];
    let ports: Vec<u16> = names.iter().map(|_| free_port()).collect();
    let mut clients: Vec<Agent> = names
        .iter()
        .zip(&ports)
        .map(|(n, p)| client(tmp.path(), n, *p, seed, &[]))
        .collect();
    let c = Client::new();
    let all_alive = |a: &Agent| {
        let url = a.url("/v1/agent/members");
        async move {
            let m: Value = Client::new().get_json(&url).await;
            m.as_array()
                .unwrap()
                .iter()
                .filter(|m| m["Status"] == 1)
                .count()
                == 5
        }
    };
    for a in std::iter::once(&s).chain(clients.iter()) {
        let took = eventually(Duration::from_secs(2), || all_alive(a)).await;
        assert!(
            took.is_some(),
            "{} lists {:?}",
            a.base,
            members(&c, a).await
        );
    }
    // The leader put every member in the catalog with serfHealth passing.
    let nodes = c.get_json(&s.url("/v1/catalog/nodes")).await;
    assert_eq!(nodes.as_array().unwrap().len(), 5, "{nodes}");

    // A service on c2, registered with c2's agent (which syncs it to the servers, and keeps it
    // in its data dir across the restart below: its anti-entropy owns c2's catalog entries).
    let reg = json!({"Name": "web", "ID": "web-c2", "Port": 80});
    assert_eq!(
        c.put_json(&clients[1].url("/v1/agent/service/register"), reg)
            .await
            .status(),
        200
    );
    let synced = || async {
        Client::new()
            .get_json(&s.url("/v1/health/service/web?passing"))
            .await
            .as_array()
            .unwrap()
            .len()
            == 1
    };
    assert!(eventually(Duration::from_secs(5), synced).await.is_some());

    // kill -9 c2: failed everywhere within 10 s, and web leaves ?passing.
    let c2 = clients.remove(1);
    c2.signal(9);
    drop(c2);
    for a in std::iter::once(&s).chain(clients.iter()) {
        assert!(
            eventually(Duration::from_secs(10), || status_on(a, "c2", 4))
                .await
                .is_some(),
            "{:?}",
            members(&c, a).await
        );
    }
    let gone = || async {
        Client::new()
            .get_json(&s.url("/v1/health/service/web?passing"))
            .await
            .as_array()
            .unwrap()
            .is_empty()
    };
    assert!(eventually(Duration::from_secs(5), gone).await.is_some());
    assert_eq!(
        c.get_json(&s.url("/v1/catalog/service/web"))
            .await
            .as_array()
            .unwrap()
            .len(),
        1,
        "a failed node keeps its services"
    );

    // Restart c2 with -rejoin: alive and passing again.
    let c2 = client(tmp.path(), "c2", ports[1], seed, &["-rejoin"]);
    let back = || async {
        Client::new()
            .get_json(&s.url("/v1/health/service/web?passing"))
            .await
            .as_array()
            .unwrap()
            .len()
            == 1
    };
    assert!(
        eventually(Duration::from_secs(10), back).await.is_some(),
        "{:?}\n{}",
        members(&c, &s).await,
        c2.log()
    );
    clients.insert(1, c2);

    // Graceful leave of c3: left everywhere, gone from the catalog.
    let (code, _, err) = run_cli(&["leave", &format!("-http-addr={}", clients[2].base)]);
    assert_eq!(code, 0, "{err}");
    assert!(
        eventually(Duration::from_secs(5), || status_on(&s, "c3", 3))
            .await
            .is_some(),
        "{:?}",
        members(&c, &s).await
    );
    let node_gone = |node: &'static str| {
        let url = s.url(&format!("/v1/catalog/node/{node}"));
        async move { Client::new().get(&url).await.text().await.unwrap().trim() == "null" }
    };
    assert!(eventually(Duration::from_secs(5), || node_gone("c3"))
        .await
        .is_some());

    // force-leave: a failed member moves to left everywhere and leaves the catalog.
    let c4 = clients.pop().unwrap();
    c4.signal(9);
    drop(c4);
    assert!(
        eventually(Duration::from_secs(10), || status_on(&s, "c4", 4))
            .await
            .is_some()
    );
    let (code, _, err) = run_cli(&["force-leave", &format!("-http-addr={}", s.base), "c4"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        eventually(Duration::from_secs(5), || status_on(&s, "c4", 3))
            .await
            .is_some()
    );
    assert!(
        eventually(Duration::from_secs(5), || status_on(&clients[0], "c4", 3))
            .await
            .is_some(),
        "left on every member"
    );
    assert!(eventually(Duration::from_secs(5), || node_gone("c4"))
        .await
        .is_some());
    let r = c.put(&s.url("/v1/agent/force-leave/nobody"), "").await;
    assert_eq!(r.status(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encryption_keys_must_match() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, key, _) = run_cli(&["keygen"]);
    let (_, other, _) = run_cli(&["keygen"]);
    let seed = free_port();
    let enc = format!("-encrypt={}", key.trim());
    let s = server(seed, &[&enc]);
    let c = Client::new();
    // Same key: joins.
    let ok = client(tmp.path(), "good", free_port(), seed, &[&enc]);
    assert!(eventually(Duration::from_secs(3), || member_count(&s, 2))
        .await
        .is_some());
    drop(ok);
    // Wrong key and no key: -join fails start-up, with the reason in the log; members unchanged.
    for (name, extra) in [
        ("wrong", format!("-encrypt={}", other.trim())),
        ("none", String::new()),
    ] {
        let data = tmp.path().join(name);
        std::fs::create_dir_all(&data).unwrap();
        let (code, _, err) = run_cli(
            &[
                "agent",
                &format!("-node={name}"),
                "-bind=127.0.0.1",
                &format!("-data-dir={}", data.display()),
                &format!("-serf-lan-port={}", free_port()),
                &format!("-http-port={}", free_port()),
                &format!("-join=127.0.0.1:{seed}"),
                &extra,
            ]
            .into_iter()
            .filter(|a| !a.is_empty())
            .collect::<Vec<_>>(),
        );
        assert_ne!(code, 0, "{name} must not join");
        assert!(err.to_lowercase().contains("join"), "{name}: {err}");
        let names: Vec<String> = members(&c, &s).await.into_iter().map(|(n, _)| n).collect();
        assert!(!names.contains(&name.to_string()), "{names:?}");
    }
    // A key of bad length is a config error.
    let (code, _, err) = run_cli(&["agent", "-dev", "-encrypt=c2hvcnQ="]);
    assert_eq!(code, 64);
    assert!(err.contains("encrypt"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_are_unique_and_sigterm_leaves_a_client() {
    let tmp = tempfile::tempdir().unwrap();
    let seed = free_port();
    let s = server(seed, &[]);
    let mut c1 = client(tmp.path(), "c1", free_port(), seed, &[]);
    let c = Client::new();
    assert!(eventually(Duration::from_secs(3), || member_count(&s, 2))
        .await
        .is_some());
    // A second agent with a taken name is refused, and says why.
    let dup = tmp.path().join("dup");
    std::fs::create_dir_all(&dup).unwrap();
    let (code, _, err) = run_cli(&[
        "agent",
        "-node=c1",
        "-bind=127.0.0.1",
        &format!("-data-dir={}", dup.display()),
        &format!("-serf-lan-port={}", free_port()),
        &format!("-http-port={}", free_port()),
        &format!("-join=127.0.0.1:{seed}"),
    ]);
    assert_ne!(code, 0);
    assert!(err.contains("c1"), "the refusal names the node: {err}");
    assert_eq!(members(&c, &s).await.len(), 2, "members unchanged");
    // SIGTERM: a client leaves gracefully (leave_on_terminate defaults to true for clients).
    c1.signal(15);
    assert_eq!(
        c1.wait_exit(Duration::from_secs(10)),
        Some(0),
        "{}",
        c1.log()
    );
    assert!(
        eventually(Duration::from_secs(5), || status_on(&s, "c1", 3))
            .await
            .is_some(),
        "{:?}",
        members(&c, &s).await
    );
}

/// A client with its own data dir and ports, joining only through the given flags.
fn bare_client(dir: &std::path::Path, name: &str, serf: u16, extra: &[&str]) -> Agent {
    let data = dir.join(name);
    std::fs::create_dir_all(&data).unwrap();
    let mut args = vec![
        format!("-node={name}"),
        "-bind=127.0.0.1".into(),
        format!("-data-dir={}", data.display()),
        format!("-serf-lan-port={serf}"),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    Agent::start_client_in(&data, &refs)
}

fn status_on(
    s: &Agent,
    node: &'static str,
    status: u64,
) -> impl std::future::Future<Output = bool> {
    let url = s.url("/v1/agent/members");
    async move {
        let m: Value = Client::new().get_json(&url).await;
        m.as_array()
            .unwrap()
            .iter()
            .any(|m| m["Name"] == node && m["Status"] == status)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_join_and_rejoin_after_leave() {
    let tmp = tempfile::tempdir().unwrap();
    let seed = free_port();
    // The client starts first and keeps retrying until the server is up.
    let retry = format!("-retry-join=127.0.0.1:{seed}");
    let c1_port = free_port();
    let mut c1 = bare_client(tmp.path(), "c1", c1_port, &[&retry, "-retry-interval=1s"]);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let s = server(seed, &[]);
    assert!(
        eventually(Duration::from_secs(5), || status_on(&s, "c1", 1))
            .await
            .is_some(),
        "{}",
        c1.log()
    );
    // Graceful leave (SIGTERM on a client), then a restart without -join: without -rejoin it
    // stays out; with -rejoin it finds the pool again from its snapshot.
    c1.signal(15);
    assert_eq!(c1.wait_exit(Duration::from_secs(10)), Some(0));
    drop(c1);
    assert!(
        eventually(Duration::from_secs(5), || status_on(&s, "c1", 3))
            .await
            .is_some()
    );
    let c1 = bare_client(tmp.path(), "c1", c1_port, &[]);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(status_on(&s, "c1", 3).await, "no -rejoin: stays left");
    c1.signal(2);
    drop(c1);
    let c1 = bare_client(tmp.path(), "c1", c1_port, &["-rejoin"]);
    assert!(
        eventually(Duration::from_secs(5), || status_on(&s, "c1", 1))
            .await
            .is_some(),
        "{}",
        c1.log()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_join_connections_do_no_harm() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let seed = free_port();
    let s = server(seed, &[]);
    // An oversized join request is refused before it is buffered.
    let mut conn = tokio::net::TcpStream::connect(("127.0.0.1", seed))
        .await
        .unwrap();
    conn.write_all(&(16u32 << 20).to_be_bytes()).await.unwrap();
    let _ = conn.write_all(&[0u8; 1024]).await;
    let mut buf = [0u8; 16];
    let closed = tokio::time::timeout(Duration::from_secs(3), conn.read(&mut buf)).await;
    assert!(
        matches!(closed, Ok(Ok(0)) | Ok(Err(_))),
        "the agent hangs up: {closed:?}"
    );
    // A flood of idle connections and garbage datagrams: the agent keeps answering.
    let mut idle = Vec::new();
    for _ in 0..200 {
        if let Ok(c) = tokio::net::TcpStream::connect(("127.0.0.1", seed)).await {
            idle.push(c);
        }
    }
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    for i in 0..2000u32 {
        let _ = udp.send_to(
            &i.to_le_bytes().repeat((i % 50) as usize),
            ("127.0.0.1", seed),
        );
    }
    // The gossip task drains the datagrams on its own time: wait for the count.
    let c = Client::new();
    let counted = eventually(Duration::from_secs(5), || async {
        let me = c.get_json(&s.url("/v1/agent/self")).await;
        assert_eq!(me["Member"]["Status"], 1);
        let dropped: u64 = me["Stats"]["serf_lan"]["dropped"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        dropped > 0
    })
    .await;
    assert!(counted.is_some(), "garbage is counted as dropped");
    // Once the flood is over, a real client can join.
    drop(idle);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let tmp = tempfile::tempdir().unwrap();
    let _c1 = client(tmp.path(), "c1", free_port(), seed, &[]);
    assert!(
        eventually(Duration::from_secs(5), || status_on(&s, "c1", 1))
            .await
            .is_some()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_keeps_its_services_until_a_server_appears_then_syncs_them() {
    let tmp = tempfile::tempdir().unwrap();
    let seed = free_port();
    let retry = format!("-retry-join=127.0.0.1:{seed}");
    let c1 = bare_client(
        tmp.path(),
        "c1",
        free_port(),
        &[&retry, "-retry-interval=1s"],
    );
    let c = Client::new();
    // No server yet: local registration works, catalog requests say why they cannot.
    let r = c
        .put_json(
            &c1.url("/v1/agent/service/register"),
            json!({"Name": "web", "ID": "web-1", "Port": 80}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let r = c.get(&c1.url("/v1/catalog/service/web")).await;
    assert_eq!(r.status(), 500);
    assert_eq!(r.text().await.unwrap(), "No known Consul servers");
    // A server comes up: the client joins, and its service reaches the catalog without a new
    // registration, readable through the client (forwarded) and the server.
    let s = server(seed, &[]);
    for base in [&c1, &s] {
        let url = base.url("/v1/catalog/service/web");
        let synced = eventually(Duration::from_secs(10), || {
            let url = url.clone();
            async move {
                let r = Client::new().get(&url).await;
                r.status() == 200 && r.json::<Value>().await.unwrap()[0]["Node"] == "c1"
            }
        })
        .await;
        assert!(synced.is_some(), "{}\n{}", url, c1.log());
    }
}

/// An alias check on a client follows a service on another node (read from a server over
/// RPC): passing while it passes, critical once it fails.
#[tokio::test]
async fn client_alias_follows_a_service_on_another_node() {
    let seed = free_port();
    let s = server(seed, &[]);
    let tmp = tempfile::tempdir().unwrap();
    let cl = client(tmp.path(), "c1", free_port(), seed, &[]);
    let c = Client::new();
    let r = c
        .put_json(
            &s.url("/v1/agent/service/register"),
            json!({"Name": "db", "Check": {"TTL": "60s", "Status": "passing"}}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let r = c
        .put_json(
            &cl.url("/v1/agent/service/register"),
            json!({"Name": "web", "Check": {"AliasNode": "s1", "AliasService": "db"}}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let alias_is = |want: &'static str| {
        let url = cl.url("/v1/agent/checks");
        move || {
            let url = url.clone();
            async move {
                let checks = Client::new().get_json(&url).await;
                checks["service:web"]["Status"] == want
            }
        }
    };
    assert!(
        eventually(Duration::from_secs(10), alias_is("passing"))
            .await
            .is_some(),
        "alias never passed; client log:\n{}",
        cl.log()
    );
    let r = c
        .put(&s.url("/v1/agent/check/fail/service:db?note=down"), "")
        .await;
    assert_eq!(r.status(), 200);
    assert!(
        eventually(Duration::from_secs(10), alias_is("critical"))
            .await
            .is_some(),
        "alias never followed the failure"
    );
    let checks = c.get_json(&cl.url("/v1/agent/checks")).await;
    assert!(checks["service:web"]["Output"]
        .as_str()
        .unwrap()
        .contains("failing: down"));
}
