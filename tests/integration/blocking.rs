//! Blocking queries: wake on change, wait when nothing changes, honour `wait`, ignore
//! unrelated changes.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::harness::Agent;
use crate::{index_of, Client};

#[tokio::test]
async fn wakes_within_milliseconds_of_a_change() {
    let a = Agent::dev();
    let c = Client::new();
    c.put_json(
        &a.url("/v1/agent/service/register"),
        json!({"Name": "web", "ID": "w1", "Port": 1}),
    )
    .await;
    let r = c.get(&a.url("/v1/health/service/web?passing")).await;
    let idx = index_of(&r);
    let url = a.url(&format!(
        "/v1/health/service/web?passing&index={idx}&wait=30s"
    ));
    let waiter = tokio::spawn(async move {
        let c = Client::new();
        let r = c.get(&url).await;
        (
            Instant::now(),
            index_of(&r),
            r.json::<serde_json::Value>().await.unwrap(),
        )
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!waiter.is_finished(), "must block while nothing changes");
    // An unrelated change must not wake it.
    c.put(&a.url("/v1/kv/unrelated"), "x").await;
    c.put_json(
        &a.url("/v1/agent/service/register"),
        json!({"Name": "other", "Port": 2}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !waiter.is_finished(),
        "unrelated changes must not wake the query"
    );
    let changed_at = Instant::now();
    c.put_json(
        &a.url("/v1/agent/service/register"),
        json!({"Name": "web", "ID": "w2", "Port": 2}),
    )
    .await;
    let (returned_at, new_idx, body) = waiter.await.unwrap();
    assert!(new_idx > idx);
    assert_eq!(body.as_array().unwrap().len(), 2);
    let latency = returned_at.duration_since(changed_at);
    assert!(
        latency < Duration::from_millis(500),
        "returned {latency:?} after the change"
    );
}

#[tokio::test]
async fn honours_wait_and_returns_same_index() {
    let a = Agent::dev();
    let c = Client::new();
    c.put(&a.url("/v1/kv/k"), "v").await;
    let idx = index_of(&c.get(&a.url("/v1/kv/k")).await);
    let start = Instant::now();
    let r = c
        .get(&a.url(&format!("/v1/kv/k?index={idx}&wait=1s")))
        .await;
    let took = start.elapsed();
    assert_eq!(r.status(), 200);
    assert_eq!(index_of(&r), idx);
    // wait plus at most wait/16 jitter.
    assert!(
        took >= Duration::from_millis(1000) && took < Duration::from_millis(1500),
        "{took:?}"
    );
}

#[tokio::test]
async fn kv_key_wakes_on_delete_and_create() {
    let a = Agent::dev();
    let c = Client::new();
    let r = c.get(&a.url("/v1/kv/later")).await;
    assert_eq!(r.status(), 404);
    let idx = index_of(&r);
    let url = a.url(&format!("/v1/kv/later?index={idx}&wait=20s"));
    let waiter = tokio::spawn(async move { Client::new().get(&url).await.status() });
    tokio::time::sleep(Duration::from_millis(200)).await;
    c.put(&a.url("/v1/kv/later"), "now").await;
    assert_eq!(
        tokio::time::timeout(Duration::from_secs(2), waiter)
            .await
            .unwrap()
            .unwrap(),
        200
    );
}
