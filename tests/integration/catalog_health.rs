//! Agent registration reaching the catalog and health endpoints, Consul's JSON shapes, bad input.

use serde_json::json;

use crate::harness::Agent;
use crate::Client;

#[tokio::test]
async fn fresh_dev_agent_has_itself_and_consul_service() {
    let a = Agent::dev();
    let c = Client::new();
    let nodes = c.get_json(&a.url("/v1/catalog/nodes")).await;
    assert_eq!(nodes.as_array().unwrap().len(), 1, "{nodes}");
    assert_eq!(nodes[0]["Node"], "test-node");
    assert_eq!(
        c.get_json(&a.url("/v1/catalog/services")).await,
        json!({"consul": []})
    );
    let checks = c.get_json(&a.url("/v1/health/node/test-node")).await;
    assert_eq!(checks[0]["CheckID"], "serfHealth");
    assert_eq!(checks[0]["Status"], "passing");
    assert_eq!(c.get_json(&a.url("/v1/agent/services")).await, json!({}));
    assert_eq!(c.get_json(&a.url("/v1/agent/checks")).await, json!({}));
    let leader = c.get_json(&a.url("/v1/status/leader")).await;
    let peers = c.get_json(&a.url("/v1/status/peers")).await;
    assert!(leader.as_str().unwrap().contains(':'));
    assert_eq!(peers, json!([leader]));
    let me = c.get_json(&a.url("/v1/agent/self")).await;
    let keys: Vec<&str> = me.as_object().unwrap().keys().map(|k| k.as_str()).collect();
    // Consul's keys, plus Berth's `Docker` (the registrar's state; clients ignore extra keys).
    assert_eq!(
        keys,
        [
            "Config",
            "Coord",
            "DebugConfig",
            "Docker",
            "Member",
            "Meta",
            "Stats",
            "xDS"
        ]
    );
    let members = c.get_json(&a.url("/v1/agent/members")).await;
    assert_eq!(members[0], me["Member"]);
    assert_eq!(me["Stats"]["consul"]["leader_addr"], leader);
    assert_eq!(me["Docker"]["State"], "off");
}

#[tokio::test]
async fn registration_is_visible_on_the_next_request() {
    let a = Agent::dev();
    let c = Client::new();
    let r = c
        .put_json(
            &a.url("/v1/agent/service/register"),
            json!({"Name": "web", "ID": "web-1", "Port": 8080, "Tags": ["v1", "primary"], "Address": "10.0.0.5",
                   "Meta": {"Version": "1"}, "Check": null, "Checks": null}),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "");
    let cat = c.get_json(&a.url("/v1/catalog/service/web")).await;
    assert_eq!(cat.as_array().unwrap().len(), 1);
    assert_eq!(cat[0]["ServiceID"], "web-1");
    assert_eq!(cat[0]["ServicePort"], 8080);
    assert_eq!(cat[0]["ServiceAddress"], "10.0.0.5");
    assert_eq!(cat[0]["ServiceMeta"], json!({"Version": "1"}));
    assert_eq!(cat[0]["Node"], "test-node");
    let healthy = c.get_json(&a.url("/v1/health/service/web?passing")).await;
    assert_eq!(healthy.as_array().unwrap().len(), 1);
    assert_eq!(healthy[0]["Service"]["ID"], "web-1");
    assert_eq!(healthy[0]["Checks"][0]["CheckID"], "serfHealth");
    // Tag filter: case-insensitive, AND across repeated tags.
    assert_eq!(
        c.get_json(&a.url("/v1/catalog/service/web?tag=V1&tag=primary"))
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        c.get_json(&a.url("/v1/catalog/service/web?tag=v2")).await,
        json!([])
    );
    assert_eq!(
        c.get_json(&a.url("/v1/catalog/services")).await,
        json!({"consul": [], "web": ["primary", "v1"]})
    );
    let agent_svc = c.get_json(&a.url("/v1/agent/services")).await;
    assert_eq!(
        agent_svc["web-1"],
        json!({"ID": "web-1", "Service": "web", "Tags": ["v1", "primary"], "Meta": {"Version": "1"}, "Port": 8080,
               "Address": "10.0.0.5", "Weights": {"Passing": 1, "Warning": 1}, "EnableTagOverride": false, "Datacenter": "dc1"})
    );
    let r = c
        .put(&a.url("/v1/agent/service/deregister/web-1"), "")
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        c.get_json(&a.url("/v1/catalog/service/web")).await,
        json!([])
    );
}

#[tokio::test]
async fn ttl_checks_gate_passing_and_expire() {
    let a = Agent::dev();
    let c = Client::new();
    let r = c
        .put_json(
            &a.url("/v1/agent/service/register"),
            json!({"name": "api", "port": 9000, "check": {"ttl": "1s", "status": "passing"}}),
        )
        .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let checks = c.get_json(&a.url("/v1/agent/checks")).await;
    assert_eq!(checks["service:api"]["Status"], "passing");
    assert_eq!(checks["service:api"]["Type"], "ttl");
    assert_eq!(
        c.get_json(&a.url("/v1/health/service/api?passing"))
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let r = c
        .put(&a.url("/v1/agent/check/warn/service:api?note=slow"), "")
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        c.get_json(&a.url("/v1/health/service/api?passing")).await,
        json!([])
    );
    let all = c.get_json(&a.url("/v1/health/service/api")).await;
    assert_eq!(all[0]["Checks"][1]["Status"], "warning");
    assert_eq!(all[0]["Checks"][1]["Output"], "slow");
    tokio::time::sleep(std::time::Duration::from_millis(1600)).await;
    let all = c.get_json(&a.url("/v1/health/checks/api")).await;
    assert_eq!(all[0]["Status"], "critical");
    assert_eq!(
        all[0]["Output"],
        "TTL expired (last output before timeout follows): slow"
    );
    let r = c
        .put_json(
            &a.url("/v1/agent/check/update/service:api"),
            json!({"Status": "bogus"}),
        )
        .await;
    assert_eq!(r.status(), 400);
    let r = c.put(&a.url("/v1/agent/check/pass/nope"), "").await;
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn maintenance_mode_marks_node_critical() {
    let a = Agent::dev();
    let c = Client::new();
    c.put_json(&a.url("/v1/agent/service/register"), json!({"Name": "db"}))
        .await;
    assert_eq!(
        c.put(&a.url("/v1/agent/maintenance"), "").await.status(),
        400
    );
    assert_eq!(
        c.put(
            &a.url("/v1/agent/maintenance?enable=true&reason=patching"),
            ""
        )
        .await
        .status(),
        200
    );
    assert_eq!(
        c.get_json(&a.url("/v1/health/service/db?passing")).await,
        json!([])
    );
    let crit = c.get_json(&a.url("/v1/health/state/critical")).await;
    assert_eq!(crit[0]["CheckID"], "_node_maintenance");
    assert_eq!(crit[0]["Notes"], "patching");
    assert_eq!(
        c.put(&a.url("/v1/agent/maintenance?enable=false"), "")
            .await
            .status(),
        200
    );
    assert_eq!(
        c.get_json(&a.url("/v1/health/service/db?passing"))
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        c.put(&a.url("/v1/agent/service/maintenance/db?enable=true"), "")
            .await
            .status(),
        200
    );
    assert_eq!(
        c.get_json(&a.url("/v1/health/service/db?passing")).await,
        json!([])
    );
    assert_eq!(
        c.put(&a.url("/v1/agent/service/maintenance/nope?enable=true"), "")
            .await
            .status(),
        404
    );
    assert_eq!(c.get(&a.url("/v1/health/state/bogus")).await.status(), 400);
}

#[tokio::test]
async fn catalog_register_and_deregister() {
    let a = Agent::dev();
    let c = Client::new();
    let body = json!({"Node": "n1", "Address": "10.1.0.1", "NodeMeta": {"rack": "a"},
        "Service": {"Service": "redis", "ID": "redis1", "Port": 6379, "Tags": ["master"]},
        "Check": {"Name": "redis alive", "ServiceID": "redis1", "Status": "passing"}});
    let r = c.put_json(&a.url("/v1/catalog/register"), body).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap().trim(), "true");
    let node = c.get_json(&a.url("/v1/catalog/node/n1")).await;
    assert_eq!(node["Node"]["Address"], "10.1.0.1");
    assert_eq!(node["Services"]["redis1"]["Port"], 6379);
    assert_eq!(
        c.get_json(&a.url("/v1/catalog/node/unknown")).await,
        serde_json::Value::Null
    );
    assert_eq!(
        c.get_json(&a.url("/v1/catalog/nodes?node-meta=rack:a"))
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        c.get_json(&a.url("/v1/health/service/redis?passing"))
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let r = c
        .put_json(
            &a.url("/v1/catalog/deregister"),
            json!({"Node": "n1", "ServiceID": "redis1"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        c.get_json(&a.url("/v1/catalog/service/redis")).await,
        json!([])
    );
    assert!(c.get_json(&a.url("/v1/catalog/node/n1")).await.is_object());
}

#[tokio::test]
async fn bad_input_is_refused_and_changes_nothing() {
    let a = Agent::dev();
    let c = Client::new();
    let r = c
        .put(&a.url("/v1/agent/service/register"), "{not json")
        .await;
    assert_eq!(r.status(), 400);
    let r = c
        .put_json(
            &a.url("/v1/agent/service/register"),
            json!({"Name": "web", "Port": "80"}),
        )
        .await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("Port"));
    let r = c
        .put_json(&a.url("/v1/agent/service/register"), json!({"Port": 80}))
        .await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("Missing service name"));
    let r = c
        .put_json(
            &a.url("/v1/catalog/register"),
            json!({"Node": "n2", "Address": "1.2.3.4",
        "Check": {"Name": "c", "ServiceID": "ghost"}}),
        )
        .await;
    assert_eq!(r.status(), 500);
    assert_eq!(
        c.get_json(&a.url("/v1/catalog/nodes"))
            .await
            .as_array()
            .unwrap()
            .len(),
        1,
        "rejected register must not add the node"
    );
    assert_eq!(c.get_json(&a.url("/v1/agent/services")).await, json!({}));
    let r = c.get(&a.url("/v1/catalog/service/web?index=abc")).await;
    assert_eq!(r.status(), 400);
    assert_eq!(r.text().await.unwrap(), "Invalid index");
    let r = c.get(&a.url("/v1/catalog/service/web?wait=forever")).await;
    assert_eq!(r.status(), 400);
    let r = c.get(&a.url("/v1/catalog/services?stale&consistent")).await;
    assert_eq!(r.status(), 400);
    let r = c.get(&a.url("/v1/catalog/services?dc=dc2")).await;
    assert_eq!(r.status(), 500);
    assert_eq!(r.text().await.unwrap(), "No path to datacenter");
    let r = c.delete(&a.url("/v1/catalog/services")).await;
    assert_eq!(r.status(), 405);
    assert!(r.headers()["allow"].to_str().unwrap().contains("GET"));
    let r = c.get(&a.url("/v1/nonsense")).await;
    assert_eq!(r.status(), 404);
    // -dev turns the UI on: `/` leads to it.
    let r = c.get(&a.url("/")).await;
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("<script src=\"app.js\">"));
    let r = c
        .get(&a.url("/v1/catalog/services?filter=Service%20%3D%3D%20web"))
        .await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("filter"));
}
