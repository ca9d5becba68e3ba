//! Server clusters of real processes on loopback (issue 4): agreement on one leader,
//! replication through client agents, leader failover under `kill -9` with no acknowledged
//! write lost, whole-cluster restarts from the data dirs, the Raft configuration API and CLI,
//! and linearizable KV histories across leader kills (checked by `linearizable`).
//!
//! The single-server tests run the same harness and workloads against `-bootstrap-expect=1`.

pub(crate) mod harness;
mod history;

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::{json, Value};

use self::harness::{eventually, Cluster, Spec};
use self::history::{register_worker, AckLog, Recorder};
use crate::harness::run_cli;
use crate::linearizable;

/// Failover goal at raft_multiplier=1 (performance-reliability.md §8 item 15 asks ≤ 3 s p99 for
/// writes; this bound is for one sample on a busy 2-core test machine).
const FAILOVER_LIMIT: Duration = Duration::from_secs(5);

/// (a) 3 servers + 2 clients: one leader everyone agrees on; a KV write and a service
/// registration made through a client reach every agent within a few seconds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_servers_two_clients_agree_and_replicate() {
    let mut c = Cluster::start(3, 2).await;
    let (leader, took) = c.wait_leader(Duration::from_secs(30)).await;
    let want = c.nodes[leader].rpc_addr();
    eprintln!("leader {} after {took:?}", c.nodes[leader].name);
    for i in 0..c.nodes.len() {
        let agreed = eventually(Duration::from_secs(5), || async {
            c.leader_on(i).await.as_deref() == Some(want.as_str())
        })
        .await;
        assert!(
            agreed.is_some(),
            "{} names leader {:?}, want {want}",
            c.nodes[i].name,
            c.leader_on(i).await
        );
    }
    let mut addrs: Vec<String> = c.servers().map(|i| c.nodes[i].rpc_addr()).collect();
    addrs.sort();
    let mut leaders = 0;
    for i in c.servers() {
        let mut peers: Vec<String> =
            serde_json::from_value(c.get_json(i, "/v1/status/peers").await).unwrap();
        peers.sort();
        assert_eq!(peers, addrs, "peers on {}", c.nodes[i].name);
        let me = c.get_json(i, "/v1/agent/self").await;
        if me["Stats"]["consul"]["leader"] == "true" {
            leaders += 1;
        }
    }
    assert_eq!(leaders, 1, "exactly one server says it leads");

    // A KV write through client c1, read back from every agent.
    let (c1, c2) = (c.clients().start, c.clients().start + 1);
    c.kv_put(c1, "cluster/a", "through-c1").await;
    for i in 0..c.nodes.len() {
        for q in ["cluster/a", "cluster/a?stale"] {
            let seen = eventually(Duration::from_secs(5), || c.kv_is(i, q, "through-c1")).await;
            assert!(
                seen.is_some(),
                "GET {q} on {}: {:?}",
                c.nodes[i].name,
                c.kv_read(i, q).await
            );
        }
    }
    // A consistent read through a client sees it at once.
    assert_eq!(
        c.kv_get(c2, "cluster/a?consistent").await.as_deref(),
        Some("through-c1")
    );

    // A service registered on client c2's agent reaches every agent's catalog.
    let reg = json!({"Name": "web", "ID": "web-1", "Port": 8080, "Tags": ["v1"]});
    let r = c
        .put(c2, "/v1/agent/service/register", reg.to_string())
        .await;
    assert_eq!(r.map(|(s, _)| s), Some(200));
    for i in 0..c.nodes.len() {
        let seen = eventually(Duration::from_secs(5), || async {
            match c.get(i, "/v1/catalog/service/web").await {
                Some((200, body)) => {
                    let v: Value = serde_json::from_str(&body).unwrap();
                    v.as_array().is_some_and(|a| {
                        a.len() == 1 && a[0]["Node"] == "c2" && a[0]["ServicePort"] == 8080
                    })
                }
                _ => false,
            }
        })
        .await;
        assert!(
            seen.is_some(),
            "catalog/service/web on {}: {:?}",
            c.nodes[i].name,
            c.get(i, "/v1/catalog/service/web").await
        );
    }
    // Every member is in the catalog (the leader reconciles gossip members).
    let all = eventually(Duration::from_secs(10), || async {
        match c.get(0, "/v1/catalog/nodes").await {
            Some((200, body)) => serde_json::from_str::<Value>(&body)
                .unwrap()
                .as_array()
                .is_some_and(|a| a.len() == 5),
            _ => false,
        }
    })
    .await;
    assert!(all.is_some(), "{:?}", c.get(0, "/v1/catalog/nodes").await);
}

/// (b) `kill -9` of the leader under a steady write load: a new leader within 5 s, writes
/// resume, every acknowledged write survives, and the old leader comes back as a follower that
/// catches up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_kill9_fails_over_and_keeps_acknowledged_writes() {
    let mut c = Cluster::start(3, 0).await;
    let (old, _) = c.wait_leader(Duration::from_secs(30)).await;
    let bases: Vec<String> = c.servers().map(|i| c.nodes[i].base()).collect();
    let log = AckLog::new();
    let writer = tokio::spawn(log.clone().run(bases, "b/".into()));
    tokio::time::sleep(Duration::from_millis(800)).await;
    let before = log.keys().len();
    assert!(before > 0, "writes go through before the kill");

    let killed_at = log.elapsed();
    c.nodes[old].kill();
    let (new, elected) = c.wait_leader(Duration::from_secs(30)).await;
    assert_ne!(new, old);
    assert!(
        elected <= FAILOVER_LIMIT,
        "new leader after {elected:?} (limit {FAILOVER_LIMIT:?})"
    );
    let resumed = eventually(Duration::from_secs(10), || async {
        log.first_ack_after(killed_at).is_some()
    })
    .await;
    assert!(resumed.is_some(), "no write succeeded after the kill");
    let first_write = log.first_ack_after(killed_at).unwrap() - killed_at;
    eprintln!(
        "failover: new leader {} after {elected:?}, first write after {first_write:?}",
        c.nodes[new].name
    );
    assert!(
        first_write <= FAILOVER_LIMIT,
        "first write after {first_write:?}"
    );

    // The old leader restarts as a follower of the new one and catches up.
    c.restart(old).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    log.stop.store(true, Ordering::Relaxed);
    writer.await.unwrap();
    let acked = log.keys();
    assert!(acked.len() > before, "writes continued after the failover");
    // Its log is behind, so it cannot win an election; it names the cluster's leader. (A
    // leadership change caused by its return is allowed but reported: Consul avoids it.)
    let (now, _) = c.wait_leader(Duration::from_secs(10)).await;
    assert_ne!(
        now, old,
        "the restarted server leads although its log was behind"
    );
    if now != new {
        eprintln!(
            "note: leadership moved from {} to {} when {} came back",
            c.nodes[new].name, c.nodes[now].name, c.nodes[old].name
        );
    }
    let me = c.get_json(old, "/v1/agent/self").await;
    assert_eq!(me["Stats"]["consul"]["leader"], "false");
    let new = now;

    // Every acknowledged write is on the leader (consistent) and, soon, on the old leader
    // (stale reads served from its own copy).
    let last = acked.last().unwrap().clone();
    for (i, q) in [(new, "?consistent"), (old, "?stale")] {
        let all = eventually(Duration::from_secs(5), || async {
            let keys = kv_keys(&c, i, &format!("/v1/kv/b/?keys&{}", &q[1..])).await;
            acked.iter().all(|k| keys.contains(k))
        })
        .await;
        let keys = kv_keys(&c, i, &format!("/v1/kv/b/?keys&{}", &q[1..])).await;
        let missing: Vec<&String> = acked.iter().filter(|k| !keys.contains(*k)).collect();
        assert!(
            all.is_some(),
            "{} of {} acknowledged writes missing on {} ({q}): {:?}",
            missing.len(),
            acked.len(),
            c.nodes[i].name,
            &missing[..missing.len().min(10)]
        );
    }
    assert_eq!(
        c.kv_get(old, &format!("{last}?stale")).await,
        Some(last.clone())
    );
}

/// `?keys` listing on node `i` (empty on 404 or error).
async fn kv_keys(c: &Cluster, i: usize, path: &str) -> BTreeSet<String> {
    match c.get(i, path).await {
        Some((200, body)) => serde_json::from_str(&body).unwrap_or_default(),
        _ => BTreeSet::new(),
    }
}

/// (c) Stops every server with `sig` (or `kill -9`), starts them again on the same data dirs:
/// a leader is elected and the KV data and catalog are as before.
async fn restart_whole_cluster(servers: usize, sig: i32) {
    let mut c = Cluster::start(servers, 0).await;
    for n in 0..20 {
        c.kv_put(n % servers, &format!("c/k{n}"), &format!("v{n}"))
            .await;
    }
    let reg =
        json!({"Node": "ext", "Address": "10.0.0.9", "Service": {"Service": "db", "Port": 5432}});
    let r = c.put(0, "/v1/catalog/register", reg.to_string()).await;
    assert_eq!(
        r.map(|(s, b)| (s, b.trim().to_string())),
        Some((200, "true".into()))
    );
    let leader = c.wait_leader(Duration::from_secs(10)).await.0;
    let index_before = kv_index(&c, leader).await;

    for i in c.servers() {
        if sig == libc::SIGKILL {
            c.nodes[i].kill();
        } else {
            let code = c.nodes[i].stop(sig, Duration::from_secs(15));
            assert_eq!(code, Some(0), "{} exit after signal {sig}", c.nodes[i].name);
        }
    }
    for i in c.servers() {
        c.nodes[i].start();
    }
    c.wait_up(Duration::from_secs(30)).await;
    let (leader, took) = c.wait_leader(Duration::from_secs(30)).await;
    eprintln!("leader {} {took:?} after the restart", c.nodes[leader].name);
    for i in c.servers() {
        for n in 0..20 {
            // A follower may still be catching up: give it a moment.
            let (q, want) = (format!("c/k{n}?stale"), format!("v{n}"));
            let found = eventually(Duration::from_secs(5), || c.kv_is(i, &q, &want)).await;
            assert!(
                found.is_some(),
                "c/k{n} on {}: {:?}",
                c.nodes[i].name,
                c.kv_read(i, &q).await
            );
        }
        let db = eventually(Duration::from_secs(5), || async {
            match c.get(i, "/v1/catalog/service/db?stale").await {
                Some((200, body)) => {
                    serde_json::from_str::<Value>(&body).unwrap()[0]["ServicePort"] == 5432
                }
                _ => false,
            }
        })
        .await;
        assert!(
            db.is_some(),
            "catalog/service/db on {}: {:?}",
            c.nodes[i].name,
            c.get(i, "/v1/catalog/service/db?stale").await
        );
    }
    assert_eq!(
        c.kv_get(leader, "c/k7?consistent").await.as_deref(),
        Some("v7")
    );
    assert!(
        kv_index(&c, leader).await >= index_before,
        "the index went backwards"
    );
    // And it takes writes again.
    c.kv_put(leader, "c/after", "yes").await;
}

/// `X-Consul-Index` of a consistent KV read on node `i`.
async fn kv_index(c: &Cluster, i: usize) -> u64 {
    let r = c
        .http
        .get(c.nodes[i].url("/v1/kv/c/k0?consistent"))
        .send()
        .await
        .unwrap();
    crate::index_of(&r)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_servers_sigterm_then_restart_keep_data() {
    restart_whole_cluster(3, libc::SIGTERM).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_servers_kill9_then_restart_keep_data() {
    restart_whole_cluster(3, libc::SIGKILL).await;
}

/// (c) with one server: works on today's single-node build too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_server_kill9_then_restart_keeps_data() {
    restart_whole_cluster(1, libc::SIGKILL).await;
}

/// (d) The Raft configuration lists the 3 voters, over HTTP and in
/// `berth operator raft list-peers`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raft_configuration_lists_three_voters() {
    let mut c = Cluster::start(3, 0).await;
    let leader = c.wait_leader(Duration::from_secs(30)).await.0;
    let mut want: Vec<(String, String)> = c
        .servers()
        .map(|i| (c.nodes[i].name.clone(), c.nodes[i].rpc_addr()))
        .collect();
    want.sort();
    for i in c.servers() {
        let conf = c.get_json(i, "/v1/operator/raft/configuration").await;
        let servers = conf["Servers"]
            .as_array()
            .unwrap_or_else(|| panic!("{conf}"));
        let mut got: Vec<(String, String)> = servers
            .iter()
            .map(|s| {
                (
                    s["Node"].as_str().unwrap().to_string(),
                    s["Address"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        got.sort();
        assert_eq!(got, want, "{conf}");
        assert!(servers.iter().all(|s| s["Voter"] == true), "{conf}");
        let leaders: Vec<&Value> = servers.iter().filter(|s| s["Leader"] == true).collect();
        assert_eq!(leaders.len(), 1, "{conf}");
        assert_eq!(leaders[0]["Address"], c.nodes[leader].rpc_addr().as_str());
    }
    let (code, out, err) = run_cli(&[
        "operator",
        "raft",
        "list-peers",
        &format!("-http-addr=127.0.0.1:{}", c.nodes[0].http),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].split_whitespace().collect::<Vec<_>>()[..6]
            == ["Node", "ID", "Address", "State", "Voter", "RaftProtocol"],
        "{out}"
    );
    for (name, addr) in &want {
        let row = lines
            .iter()
            .find(|l| l.split_whitespace().next() == Some(name.as_str()))
            .unwrap_or_else(|| panic!("no row for {name}:\n{out}"));
        let cols: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(cols[2], addr, "{out}");
        let state = if *addr == c.nodes[leader].rpc_addr() {
            "leader"
        } else {
            "follower"
        };
        assert_eq!((cols[3], cols[4]), (state, "true"), "{out}");
    }
}

/// Register histories under leader kills: `workers` clients spread over the servers do
/// `?consistent` reads, writes and CAS on 3 keys while the leader is `kill -9`ed and restarted
/// `kills` times; the history must be linearizable and every acknowledged write (distinct keys
/// from a separate writer) must survive.
async fn linearizable_under_kills(servers: usize, workers: usize, kills: usize) {
    let mut c = Cluster::start_spec(Spec::new(servers, 0)).await;
    let rec = Recorder::new();
    let keys: Vec<String> = (0..3).map(|k| format!("lin/r{k}")).collect();
    let bases: Vec<String> = c.servers().map(|i| c.nodes[i].base()).collect();
    let mut tasks = Vec::new();
    for w in 0..workers {
        tasks.push(tokio::spawn(register_worker(
            rec.clone(),
            w,
            bases[w % bases.len()].clone(),
            keys.clone(),
            w as u64,
        )));
    }
    let log = AckLog::new();
    let writer = tokio::spawn(log.clone().run(bases.clone(), "lin/ack/".into()));

    let mut failovers = Vec::new();
    for _ in 0..kills {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let (old, _) = c.wait_leader(Duration::from_secs(30)).await;
        let killed_at = log.elapsed();
        c.nodes[old].kill();
        if servers > 1 {
            let (_, took) = c.wait_leader(Duration::from_secs(30)).await;
            failovers.push(took);
            tokio::time::sleep(Duration::from_millis(1000)).await;
            c.restart(old).await;
        } else {
            tokio::time::sleep(Duration::from_millis(300)).await;
            c.restart(old).await;
            c.wait_leader(Duration::from_secs(30)).await;
        }
        let back = eventually(Duration::from_secs(10), || async {
            log.first_ack_after(killed_at).is_some()
        })
        .await;
        assert!(back.is_some(), "writes did not resume after a kill");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    tokio::time::sleep(Duration::from_millis(1000)).await;
    rec.stop.store(true, Ordering::Relaxed);
    log.stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.unwrap();
    }
    writer.await.unwrap();

    // A final consistent read of each key through the leader closes the history.
    let leader = c.wait_leader(Duration::from_secs(30)).await.0;
    let http = reqwest::Client::new();
    for k in &keys {
        let read = rec.read(&http, 999, &c.nodes[leader].base(), k).await;
        assert!(read.is_some(), "final read of {k}");
    }
    let (done, ambiguous) = rec.counts();
    eprintln!(
        "{servers} servers: {done} completed + {ambiguous} ambiguous register ops, {} acknowledged \
         distinct writes ({} unknown), failovers {failovers:?}",
        log.keys().len(),
        log.unknown.load(Ordering::Relaxed)
    );
    assert!(done >= 200, "too few operations to say much: {done}");
    let anomalies = rec.anomalies.lock().unwrap().clone();
    assert!(anomalies.is_empty(), "{anomalies:#?}");

    let ops = rec.ops.lock().unwrap().clone();
    let verdict = std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(move || linearizable::check_all(&ops))
        .unwrap()
        .join()
        .unwrap();
    if let Err(v) = verdict {
        panic!("{}", v.report);
    }

    let acked = log.keys();
    let keys = kv_keys(&c, leader, "/v1/kv/lin/ack/?keys&consistent").await;
    let missing: Vec<&String> = acked.iter().filter(|k| !keys.contains(*k)).collect();
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged writes lost: {:?}",
        missing.len(),
        acked.len(),
        &missing[..missing.len().min(10)]
    );
}

/// 3 servers, 6 clients (2 per server), 3 leader kills.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_history_is_linearizable_across_leader_kills() {
    linearizable_under_kills(3, 6, 3).await;
}

/// The same on one server (`-bootstrap-expect=1`), killed and restarted twice: crash
/// durability of a single node (etcd#14370 lost a write exactly there).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_server_history_is_linearizable_across_kills() {
    linearizable_under_kills(1, 4, 2).await;
}
