//! Agent endpoints beyond registration: lenient bodies, check registration, hash blocking,
//! OPTIONS, pretty output.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::harness::Agent;
use crate::Client;

#[tokio::test]
async fn snake_case_bodies_and_nanosecond_durations() {
    let a = Agent::dev();
    let c = Client::new();
    let body = json!({"name": "cache", "id": "cache-1", "port": 6379, "enable_tag_override": true,
        "tagged_addresses": {"lan": {"address": "10.0.0.1", "port": 6379}},
        "checks": [{"ttl": 30_000_000_000u64, "status": "passing"}, {"TTL": "1m", "Name": "second"}]});
    let r = c.put_json(&a.url("/v1/agent/service/register"), body).await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let svc = c.get_json(&a.url("/v1/agent/services")).await;
    assert_eq!(svc["cache-1"]["EnableTagOverride"], true);
    assert_eq!(
        svc["cache-1"]["TaggedAddresses"]["lan"],
        json!({"Address": "10.0.0.1", "Port": 6379})
    );
    let checks = c.get_json(&a.url("/v1/agent/checks")).await;
    assert_eq!(checks["service:cache-1:1"]["Definition"]["TTL"], "30s");
    assert_eq!(checks["service:cache-1:2"]["Name"], "second");
    assert_eq!(checks["service:cache-1:2"]["Status"], "critical");
}

#[tokio::test]
async fn node_checks_register_and_deregister() {
    let a = Agent::dev();
    let c = Client::new();
    let r = c
        .put_json(
            &a.url("/v1/agent/check/register"),
            json!({"Name": "disk", "TTL": "10s", "Notes": "df"}),
        )
        .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let r = c.put(&a.url("/v1/agent/check/pass/disk?note=ok"), "").await;
    assert_eq!(r.status(), 200);
    let node = c.get_json(&a.url("/v1/health/node/test-node")).await;
    let disk = node
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["CheckID"] == "disk")
        .unwrap()
        .clone();
    assert_eq!(disk["Status"], "passing");
    assert_eq!(disk["Output"], "ok");
    assert_eq!(disk["Notes"], "df");
    // Unknown service → 404; no type → 400; H2PING (not supported) → 400 naming it.
    let r = c
        .put_json(
            &a.url("/v1/agent/check/register"),
            json!({"Name": "x", "TTL": "5s", "ServiceID": "nope"}),
        )
        .await;
    assert_eq!(r.status(), 404);
    let r = c
        .put_json(&a.url("/v1/agent/check/register"), json!({"Name": "x"}))
        .await;
    assert_eq!(r.status(), 400);
    let r = c
        .put_json(
            &a.url("/v1/agent/check/register"),
            json!({"Name": "h", "H2PING": "127.0.0.1:1", "Interval": "10s"}),
        )
        .await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("H2PING"));
    let r = c
        .put_json(
            &a.url("/v1/agent/check/register"),
            json!({"Name": "s", "Args": ["true"], "Interval": "10s"}),
        )
        .await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("Scripts are disabled"));
    assert_eq!(
        c.put(&a.url("/v1/agent/check/deregister/disk"), "")
            .await
            .status(),
        200
    );
    assert_eq!(
        c.put(&a.url("/v1/agent/check/deregister/never-existed"), "")
            .await
            .status(),
        200
    );
    assert_eq!(c.get_json(&a.url("/v1/agent/checks")).await, json!({}));
}

#[tokio::test]
async fn agent_service_blocks_on_content_hash() {
    let a = Agent::dev();
    let c = Client::new();
    c.put_json(
        &a.url("/v1/agent/service/register"),
        json!({"Name": "web", "Port": 80}),
    )
    .await;
    let r = c.get(&a.url("/v1/agent/service/web")).await;
    let hash = r.headers()["x-consul-contenthash"]
        .to_str()
        .unwrap()
        .to_string();
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["ContentHash"], hash.as_str());
    let url = a.url(&format!("/v1/agent/service/web?hash={hash}&wait=20s"));
    let waiter = tokio::spawn(async move { Client::new().get_json(&url).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!waiter.is_finished());
    let start = Instant::now();
    c.put_json(
        &a.url("/v1/agent/service/register"),
        json!({"Name": "web", "Port": 81}),
    )
    .await;
    let new = tokio::time::timeout(Duration::from_secs(2), waiter)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(new["Port"], 81);
    assert_ne!(new["ContentHash"], hash.as_str());
    assert!(start.elapsed() < Duration::from_secs(1));
    assert_eq!(c.get(&a.url("/v1/agent/service/none")).await.status(), 404);
}

#[tokio::test]
async fn options_and_pretty() {
    let tmp = tempfile::tempdir().unwrap();
    let data = format!("-data-dir={}", tmp.path().join("d").display());
    let a = Agent::start(&["-server", "-bootstrap", &data]);
    let c = reqwest::Client::new();
    let r = c
        .request(reqwest::Method::OPTIONS, a.url("/v1/kv/x"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["allow"], "OPTIONS,GET,PUT,DELETE");
    let compact = c
        .get(a.url("/v1/catalog/datacenters"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(compact, r#"["dc1"]"#);
    let pretty = c
        .get(a.url("/v1/catalog/datacenters?pretty"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(pretty, "[\n    \"dc1\"\n]\n");
    // Joining an address where no agent answers is an error that says so.
    let r = c
        .put(a.url("/v1/agent/join/127.0.0.1:1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 500);
    assert!(!r.text().await.unwrap().is_empty());
    // The UI is off outside -dev: `/` says so instead of redirecting.
    let root = c
        .get(a.url("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(root.contains("UI disabled"));
}

#[test]
fn json_logs() {
    let a = Agent::start(&["-dev", "-log-json"]);
    let log = a.log();
    let line = log
        .lines()
        .find(|l| l.contains("Consul agent running"))
        .expect("running line");
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    assert_eq!(v["level"], "INFO");
}

#[tokio::test]
async fn ttl_refresh_without_change_does_not_wake_watchers() {
    let a = Agent::dev();
    let c = Client::new();
    c.put_json(
        &a.url("/v1/agent/service/register"),
        json!({"Name": "api", "Check": {"TTL": "30s"}}),
    )
    .await;
    c.put(&a.url("/v1/agent/check/pass/service:api"), "").await;
    let r = c.get(&a.url("/v1/health/service/api")).await;
    let idx = crate::index_of(&r);
    let url = a.url(&format!("/v1/health/service/api?index={idx}&wait=2s"));
    let waiter = tokio::spawn(async move { crate::index_of(&Client::new().get(&url).await) });
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Same status, same output: only the TTL timer moves.
    assert_eq!(
        c.put(&a.url("/v1/agent/check/pass/service:api"), "")
            .await
            .status(),
        200
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !waiter.is_finished(),
        "a refresh that changes nothing must not wake watchers"
    );
    assert_eq!(waiter.await.unwrap(), idx);
}

#[tokio::test]
async fn maintenance_checks_cannot_be_passed_away() {
    let a = Agent::dev();
    let c = Client::new();
    c.put(&a.url("/v1/agent/maintenance?enable=true"), "").await;
    let r = c
        .put(&a.url("/v1/agent/check/pass/_node_maintenance"), "")
        .await;
    assert_eq!(r.status(), 500);
    let crit = c.get_json(&a.url("/v1/health/state/critical")).await;
    assert_eq!(crit[0]["CheckID"], "_node_maintenance");
}

#[tokio::test]
async fn client_agent_without_servers_answers_like_consul() {
    let tmp = tempfile::tempdir().unwrap();
    let data = format!("-data-dir={}", tmp.path().join("d").display());
    let a = Agent::start_client(&[&data]);
    let c = Client::new();
    let r = c.get(&a.url("/v1/catalog/services")).await;
    assert_eq!(r.status(), 500);
    assert_eq!(r.text().await.unwrap(), "No known Consul servers");
    // Status is asked of a server too (Consul's Status.Leader RPC): none is known.
    let r = c.get(&a.url("/v1/status/leader")).await;
    assert_eq!(r.status(), 500);
    assert_eq!(r.text().await.unwrap(), "No known Consul servers");
    let members = c.get_json(&a.url("/v1/agent/members")).await;
    assert_eq!(members[0]["Tags"]["role"], "node");
    // Local registration works; it reaches the catalog once servers are known.
    let r = c
        .put_json(&a.url("/v1/agent/service/register"), json!({"Name": "web"}))
        .await;
    assert_eq!(r.status(), 200);
    assert!(c.get_json(&a.url("/v1/agent/services")).await["web"].is_object());
}
