//! KV over HTTP: values in base64, raw, recurse, keys with separator, flags, cas, 404 headers,
//! the size limit.

use base64::Engine;
use serde_json::json;

use crate::harness::Agent;
use crate::{index_of, Client};

#[tokio::test]
async fn put_get_list_delete() {
    let a = Agent::dev();
    let c = Client::new();
    let r = c.get(&a.url("/v1/kv/missing")).await;
    assert_eq!(r.status(), 404);
    assert!(index_of(&r) >= 1, "404 still carries X-Consul-Index");
    assert_eq!(r.headers()["x-consul-knownleader"], "true");
    assert!(r.headers().contains_key("x-consul-lastcontact"));

    let r = c.put(&a.url("/v1/kv/app/config?flags=42"), "hello").await;
    assert_eq!(r.text().await.unwrap().trim(), "true");
    let v = c.get_json(&a.url("/v1/kv/app/config")).await;
    assert_eq!(v[0]["Key"], "app/config");
    assert_eq!(v[0]["Flags"], 42);
    assert_eq!(
        v[0]["Value"],
        base64::engine::general_purpose::STANDARD.encode("hello")
    );
    assert_eq!(v[0]["LockIndex"], 0);
    assert_eq!(
        c.get(&a.url("/v1/kv/app/config?raw"))
            .await
            .text()
            .await
            .unwrap(),
        "hello"
    );

    c.put(&a.url("/v1/kv/app/empty"), "").await;
    assert_eq!(
        c.get_json(&a.url("/v1/kv/app/empty")).await[0]["Value"],
        serde_json::Value::Null
    );
    c.put(&a.url("/v1/kv/app/sub/x"), "1").await;
    c.put(&a.url("/v1/kv/apple"), "2").await;

    let list = c.get_json(&a.url("/v1/kv/app?recurse")).await;
    let keys: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["Key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["app/config", "app/empty", "app/sub/x", "apple"]);
    assert_eq!(
        c.get_json(&a.url("/v1/kv/app/?keys&separator=/")).await,
        json!(["app/config", "app/empty", "app/sub/"])
    );
    assert_eq!(c.get(&a.url("/v1/kv/nothing/?keys")).await.status(), 404);
    assert_eq!(c.get(&a.url("/v1/kv/?keys")).await.status(), 200);
    assert_eq!(c.get(&a.url("/v1/kv/")).await.status(), 400);

    // cas=0 only creates; a stale cas fails and changes nothing.
    assert_eq!(
        c.put(&a.url("/v1/kv/app/config?cas=0"), "x")
            .await
            .text()
            .await
            .unwrap()
            .trim(),
        "false"
    );
    let before = c.get(&a.url("/v1/kv/app/config")).await;
    let idx = index_of(&before);
    let modify = before.json::<serde_json::Value>().await.unwrap()[0]["ModifyIndex"]
        .as_u64()
        .unwrap();
    assert_eq!(
        c.delete(&a.url(&format!("/v1/kv/app/config?cas={}", modify + 100)))
            .await
            .text()
            .await
            .unwrap()
            .trim(),
        "false"
    );
    let after = c.get(&a.url("/v1/kv/app/config")).await;
    assert_eq!(index_of(&after), idx);
    assert_eq!(
        c.put(&a.url(&format!("/v1/kv/app/config?cas={modify}")), "new")
            .await
            .text()
            .await
            .unwrap()
            .trim(),
        "true"
    );
    assert_eq!(
        c.get(&a.url("/v1/kv/app/config?raw"))
            .await
            .text()
            .await
            .unwrap(),
        "new"
    );

    assert_eq!(
        c.delete(&a.url("/v1/kv/app?recurse"))
            .await
            .text()
            .await
            .unwrap()
            .trim(),
        "true"
    );
    assert_eq!(c.get(&a.url("/v1/kv/app?recurse")).await.status(), 404);
}

#[tokio::test]
async fn value_size_limit() {
    let a = Agent::dev();
    let c = Client::new();
    let big = vec![b'x'; 512 * 1024 + 1];
    let r = c.put(&a.url("/v1/kv/big"), big).await;
    assert_eq!(r.status(), 413);
    assert_eq!(c.get(&a.url("/v1/kv/big")).await.status(), 404);
    let ok = vec![b'x'; 512 * 1024];
    assert_eq!(c.put(&a.url("/v1/kv/big"), ok).await.status(), 200);
}
