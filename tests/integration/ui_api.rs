//! `/v1/internal/ui/services` and `/v1/internal/ui/nodes`, the summaries the web UI reads:
//! Consul's shapes, counts that follow check changes, and blocking on them.

use std::time::Duration;

use serde_json::json;

use crate::harness::Agent;
use crate::Client;

#[tokio::test]
async fn ui_summaries_count_instances_and_checks_and_block() {
    let a = Agent::dev();
    let c = Client::new();
    for (id, tag) in [("web-1", "v1"), ("web-2", "v2")] {
        let r = c
            .put_json(
                &a.url("/v1/agent/service/register"),
                json!({"Name": "web", "ID": id, "Port": 80, "Tags": [tag], "Check": {"TTL": "30s"}}),
            )
            .await;
        assert_eq!(r.status(), 200);
    }
    c.put(&a.url("/v1/agent/check/pass/service:web-1"), "")
        .await;
    let r = c
        .put_json(
            &a.url("/v1/agent/service/register"),
            json!({"Name": "ext", "Port": 81, "Meta": {"external-source": "kubernetes"}}),
        )
        .await;
    assert_eq!(r.status(), 200);

    let find = |list: &serde_json::Value, name: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|s| s["Name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("{name} not in {list}"))
    };
    // Registration reaches the catalog through anti-entropy: wait for both instances.
    let mut services = json!([]);
    for _ in 0..100 {
        services = c.get_json(&a.url("/v1/internal/ui/services")).await;
        if services
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["Name"] == "web" && s["InstanceCount"] == 2 && s["ChecksPassing"] == 2)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let web = find(&services, "web");
    // The node's serfHealth once (both instances share it, as Consul counts) + each
    // instance's TTL: web-1 passing, web-2 critical.
    assert_eq!(
        web,
        json!({
            "Name": "web", "Datacenter": "dc1", "Tags": ["v1", "v2"], "Nodes": ["test-node"],
            "InstanceCount": 2, "ChecksPassing": 2, "ChecksWarning": 0, "ChecksCritical": 1,
            "ExternalSources": [], "GatewayConfig": {}, "TransparentProxy": false,
            "ConnectNative": false, "ConnectedWithProxy": false, "ConnectedWithGateway": false
        })
    );
    assert_eq!(find(&services, "consul")["InstanceCount"], 1);
    assert_eq!(
        find(&services, "ext")["ExternalSources"],
        json!(["kubernetes"])
    );

    let nodes = c.get_json(&a.url("/v1/internal/ui/nodes")).await;
    let node = &nodes[0];
    assert_eq!(node["Node"], "test-node");
    let ids: Vec<&str> = node["Services"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["ID"].as_str())
        .collect();
    assert!(ids.contains(&"web-1") && ids.contains(&"web-2"), "{node}");
    let checks: Vec<&str> = node["Checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["CheckID"].as_str())
        .collect();
    assert!(
        checks.contains(&"serfHealth") && checks.contains(&"service:web-2"),
        "{node}"
    );

    // A blocking query on the summary returns when a check turns.
    let r = c.get(&a.url("/v1/internal/ui/services")).await;
    let index: u64 = r.headers()["X-Consul-Index"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let url = a.url(&format!("/v1/internal/ui/services?index={index}&wait=10s"));
    let waiter = tokio::spawn(async move { Client::new().get_json(&url).await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !waiter.is_finished(),
        "the blocking query returned before any change"
    );
    c.put(&a.url("/v1/agent/check/pass/service:web-2"), "")
        .await;
    let after = tokio::time::timeout(Duration::from_secs(5), waiter)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(find(&after, "web")["ChecksCritical"], 0, "{after}");
    assert_eq!(find(&after, "web")["ChecksPassing"], 3, "{after}");
}

/// The UI's files under `/ui/` (or `ui_config.content_path`), `/` redirecting there, and
/// nothing served when the UI is off.
#[tokio::test]
async fn ui_is_served_under_its_content_path() {
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let a = Agent::dev();
    let r = plain.get(a.url("/")).send().await.unwrap();
    assert_eq!(r.status(), 301);
    assert_eq!(r.headers()["location"], "/ui/");
    let r = plain.get(a.url("/ui")).send().await.unwrap();
    assert_eq!(
        (
            r.status().as_u16(),
            r.headers()["location"].to_str().unwrap()
        ),
        (301, "/ui/")
    );
    for (path, ty, needle) in [
        ("/ui/", "text/html", "<main id=\"main\""),
        ("/ui/app.js", "text/javascript", "/v1/internal/ui/services"),
        ("/ui/style.css", "text/css", "@media (max-width"),
    ] {
        let r = plain.get(a.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with(ty),
            "{path}"
        );
        assert!(r.text().await.unwrap().contains(needle), "{path}");
    }
    // Revalidated on every load, the browser told to fetch nothing from elsewhere, and no
    // framing; only GET and HEAD.
    let r = plain.get(a.url("/ui/")).send().await.unwrap();
    assert_eq!(r.headers()["cache-control"], "no-cache");
    assert_eq!(
        r.headers()["content-security-policy"],
        "default-src 'self'; frame-ancestors 'none'"
    );
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    let r = plain.post(a.url("/ui/")).send().await.unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(r.headers()["allow"], "GET, HEAD");
    assert_eq!(
        plain
            .get(a.url("/ui/nope.js"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );

    let (_dir, file) =
        crate::harness::config_file(r#"{"ui_config": {"enabled": true, "content_path": "/dash"}}"#);
    let b = Agent::start(&["-dev", &file]);
    let r = plain.get(b.url("/")).send().await.unwrap();
    assert_eq!(r.headers()["location"], "/dash/");
    assert_eq!(
        plain
            .get(b.url("/dash/app.js"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(plain.get(b.url("/ui/")).send().await.unwrap().status(), 404);

    let (_dir2, off) = crate::harness::config_file(r#"{"ui_config": {"enabled": false}}"#);
    let c = Agent::start(&["-dev", &off]);
    assert_eq!(plain.get(c.url("/ui/")).send().await.unwrap().status(), 404);
    let root = plain
        .get(c.url("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(root.contains("UI disabled"), "{root}");
}
