//! Process lifecycle from outside: restart keeps data, SIGTERM stops in bounded time, SIGHUP
//! reloads config files.

use std::time::Duration;

use serde_json::json;

use crate::harness::{free_port, Agent};
use crate::Client;

#[tokio::test]
async fn server_restart_keeps_every_acknowledged_write() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let data_flag = format!("-data-dir={}", data.display());
    let args = ["-server", "-bootstrap", data_flag.as_str()];
    let port = free_port();
    let c = Client::new();
    {
        let mut a = Agent::start_in(tmp.path(), &args, port);
        c.put_json(
            &a.url("/v1/agent/service/register"),
            json!({"Name": "web", "Port": 80}),
        )
        .await;
        for i in 0..50 {
            assert_eq!(
                c.put(&a.url(&format!("/v1/kv/k/{i}")), format!("v{i}"))
                    .await
                    .status(),
                200
            );
        }
        c.put_json(
            &a.url("/v1/catalog/register"),
            json!({"Node": "ext", "Address": "10.9.9.9",
            "Service": {"Service": "legacy", "Port": 5000}}),
        )
        .await;
        a.signal(15);
        assert_eq!(
            a.wait_exit(Duration::from_secs(10)),
            Some(0),
            "log:\n{}",
            a.log()
        );
    }
    let a = Agent::start_in(tmp.path(), &args, port);
    // A fresh client: the old one pools a connection to the dead process on the same port.
    let c = Client::new();
    let keys = c.get_json(&a.url("/v1/kv/k/?keys")).await;
    assert_eq!(keys.as_array().unwrap().len(), 50);
    assert_eq!(
        c.get(&a.url("/v1/kv/k/49?raw")).await.text().await.unwrap(),
        "v49"
    );
    assert_eq!(
        c.get_json(&a.url("/v1/catalog/service/legacy")).await[0]["Node"],
        "ext"
    );
    assert_eq!(
        c.get_json(&a.url("/v1/catalog/service/web"))
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn sigterm_and_sigint_stop_within_bounded_time() {
    for sig in [15, 2] {
        let mut a = Agent::dev();
        // A parked blocking query must not hold shutdown up.
        let url = a.url("/v1/kv/x?index=1&wait=5m");
        let _parked = tokio::spawn(async move { reqwest::get(url).await });
        tokio::time::sleep(Duration::from_millis(200)).await;
        a.signal(sig);
        assert_eq!(
            a.wait_exit(Duration::from_secs(8)),
            Some(0),
            "signal {sig}; log:\n{}",
            a.log()
        );
        assert!(a.log().contains("shutdown complete"));
    }
}

#[tokio::test]
async fn sighup_reloads_services_from_config_files() {
    let tmp = tempfile::tempdir().unwrap();
    let conf = tmp.path().join("conf.d");
    std::fs::create_dir(&conf).unwrap();
    std::fs::write(
        conf.join("a.json"),
        r#"{"service": {"name": "alpha", "port": 1000}, "checks": [{"name": "disk", "ttl": "60s"}]}"#,
    )
    .unwrap();
    let conf_flag = format!("-config-dir={}", conf.display());
    let a = Agent::start_in(tmp.path(), &["-dev", conf_flag.as_str()], free_port());
    let c = Client::new();
    assert_eq!(
        c.get_json(&a.url("/v1/catalog/service/alpha"))
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // A service registered through the API is not the config files' to remove.
    let r = c
        .put(
            &a.url("/v1/agent/service/register"),
            r#"{"Name": "from-api", "Port": 3000}"#,
        )
        .await;
    assert_eq!(r.status(), 200);
    std::fs::write(
        conf.join("a.json"),
        r#"{"services": [{"name": "beta", "port": 2000}], "checks": [{"name": "disk", "ttl": "60s"}]}"#,
    )
    .unwrap();
    assert_eq!(
        c.put(&a.url("/v1/agent/check/pass/disk"), "")
            .await
            .status(),
        200
    );
    a.signal(1);
    let mut ok = false;
    for _ in 0..100 {
        let beta = c.get_json(&a.url("/v1/catalog/service/beta")).await;
        let alpha = c.get_json(&a.url("/v1/catalog/service/alpha")).await;
        if beta.as_array().unwrap().len() == 1 && alpha.as_array().unwrap().is_empty() {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ok, "reload did not swap alpha for beta; log:\n{}", a.log());
    let api = c.get_json(&a.url("/v1/catalog/service/from-api")).await;
    assert_eq!(
        api.as_array().unwrap().len(),
        1,
        "reload removed an API service"
    );
    let checks = c.get_json(&a.url("/v1/agent/checks")).await;
    assert_eq!(
        checks["disk"]["Status"], "passing",
        "a reload keeps the state of unchanged checks"
    );
    // A broken file on reload keeps the running config.
    std::fs::write(
        conf.join("a.json"),
        r#"{"services": [{"name": "gamma", "port": "x"}]}"#,
    )
    .unwrap();
    a.signal(1);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        c.get_json(&a.url("/v1/catalog/service/beta"))
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert!(a.log().contains("reload failed"), "log:\n{}", a.log());
}

#[tokio::test]
async fn leave_over_http_stops_the_agent() {
    let mut a = Agent::dev();
    let r = reqwest::Client::new()
        .put(a.url("/v1/agent/leave"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        a.wait_exit(Duration::from_secs(5)),
        Some(0),
        "log:\n{}",
        a.log()
    );
}
