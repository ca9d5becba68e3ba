//! Health checks against real servers: an HTTP server switched between 200, 429 and 500, a
//! TCP listener opened and closed, a UDP port, a gRPC health server, a script that exits
//! 0/1/2, an alias of a failing service, and `deregister_critical_service_after`. Each status
//! change must show in `/v1/health/checks/<service>` and in `?passing` answers.

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use warp::Filter;

use crate::harness::{config_file, free_port, Agent};
use crate::{index_of, Client};

/// Waits until check `id` of `service` has `status`; returns the check. An interval is 1 s and
/// the first run falls anywhere in it, so 6 s is generous.
async fn wait_status(c: &Client, a: &Agent, service: &str, id: &str, status: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(6);
    loop {
        let checks = c
            .get_json(&a.url(&format!("/v1/health/checks/{service}")))
            .await;
        let found = checks
            .as_array()
            .unwrap()
            .iter()
            .find(|ch| ch["CheckID"] == id)
            .cloned();
        if let Some(ch) = &found {
            if ch["Status"] == status {
                return ch.clone();
            }
        }
        assert!(
            Instant::now() < deadline,
            "check {id} never became {status}; last: {found:?}\nlog:\n{}",
            a.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Number of instances of `service` in a `?passing` answer.
async fn passing(c: &Client, a: &Agent, service: &str) -> usize {
    c.get_json(&a.url(&format!("/v1/health/service/{service}?passing")))
        .await
        .as_array()
        .unwrap()
        .len()
}

/// An HTTP server whose body changes on every request (`hit 0`, `hit 1`, ...).
async fn counter_server() -> u16 {
    let hits = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let route = warp::any().map(move || format!("hit {}", hits.fetch_add(1, Ordering::SeqCst)));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(warp::serve(route).incoming(listener).run());
    port
}

/// The output of check `id` once it has run (checks start critical with no output).
async fn wait_output(c: &Client, a: &Agent, id: &str) -> String {
    for _ in 0..60 {
        let checks = c.get_json(&a.url("/v1/agent/checks")).await;
        let out = checks[id]["Output"].as_str().unwrap_or("").to_string();
        if !out.is_empty() {
            return out;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("check {id} never ran; log:\n{}", a.log());
}

async fn register(c: &Client, a: &Agent, body: Value) {
    let r = c.put_json(&a.url("/v1/agent/service/register"), body).await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
}

/// What the switchable HTTP server last received.
#[derive(Default, Clone)]
struct Seen {
    method: String,
    token: String,
    body: String,
}

/// The request body, unbounded: acceptable in this loopback test server only, whose sole
/// client is the agent's check with a four-byte body.
#[allow(clippy::disallowed_methods)]
fn allowed_bytes() -> impl Filter<Extract = (bytes::Bytes,), Error = warp::Rejection> + Copy {
    warp::body::bytes()
}

/// An HTTP server answering every request with the code in `code` and a body of "hello".
async fn switchable_server(code: Arc<AtomicU16>, seen: Arc<Mutex<Seen>>) -> u16 {
    let route = warp::any()
        .and(warp::method())
        .and(warp::header::optional::<String>("x-token"))
        .and(allowed_bytes())
        .map(
            move |m: warp::http::Method, token: Option<String>, body: bytes::Bytes| {
                *seen.lock().unwrap() = Seen {
                    method: m.to_string(),
                    token: token.unwrap_or_default(),
                    body: String::from_utf8_lossy(&body).into_owned(),
                };
                let status = warp::http::StatusCode::from_u16(code.load(Ordering::SeqCst)).unwrap();
                warp::reply::with_status("hello", status)
            },
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(warp::serve(route).incoming(listener).run());
    port
}

#[tokio::test]
async fn http_check_follows_200_429_500() {
    let code = Arc::new(AtomicU16::new(200));
    let seen = Arc::new(Mutex::new(Seen::default()));
    let port = switchable_server(code.clone(), seen.clone()).await;
    let a = Agent::dev();
    let c = Client::new();
    let url = format!("http://127.0.0.1:{port}/health");
    register(
        &c,
        &a,
        json!({"Name": "web", "Port": port, "Check": {"HTTP": url, "Interval": "1s",
            "Method": "POST", "Header": {"X-Token": ["abc"]}, "Body": "ping"}}),
    )
    .await;
    let ch = wait_status(&c, &a, "web", "service:web", "passing").await;
    assert_eq!(
        ch["Output"],
        format!("HTTP POST {url}: 200 OK Output: hello")
    );
    assert_eq!(ch["Type"], "http");
    assert_eq!(passing(&c, &a, "web").await, 1);
    let s = seen.lock().unwrap().clone();
    assert_eq!(
        (s.method.as_str(), s.token.as_str(), s.body.as_str()),
        ("POST", "abc", "ping")
    );

    code.store(429, Ordering::SeqCst);
    let ch = wait_status(&c, &a, "web", "service:web", "warning").await;
    assert!(ch["Output"]
        .as_str()
        .unwrap()
        .contains("429 Too Many Requests"));
    assert_eq!(passing(&c, &a, "web").await, 0, "warning is not passing");

    code.store(500, Ordering::SeqCst);
    wait_status(&c, &a, "web", "service:web", "critical").await;
    assert_eq!(passing(&c, &a, "web").await, 0);

    code.store(200, Ordering::SeqCst);
    wait_status(&c, &a, "web", "service:web", "passing").await;
    assert_eq!(passing(&c, &a, "web").await, 1);
}

/// Registrator deregisters and re-registers a restarted container's service at once: the
/// re-created check starts critical and its next run must report passing again.
#[tokio::test]
async fn a_recreated_check_reports_again() {
    let code = Arc::new(AtomicU16::new(200));
    let port = switchable_server(code, Arc::default()).await;
    let a = Agent::dev();
    let c = Client::new();
    let body = json!({"Name": "again", "Check": {"HTTP": format!("http://127.0.0.1:{port}/"), "Interval": "1s"}});
    register(&c, &a, body.clone()).await;
    wait_status(&c, &a, "again", "service:again", "passing").await;
    for _ in 0..3 {
        let r = c
            .put(&a.url("/v1/agent/service/deregister/again"), "")
            .await;
        assert_eq!(r.status(), 200);
        register(&c, &a, body.clone()).await;
    }
    wait_status(&c, &a, "again", "service:again", "passing").await;
}

#[tokio::test]
async fn unchanged_results_do_not_write_to_the_catalog() {
    let code = Arc::new(AtomicU16::new(200));
    let port = switchable_server(code, Arc::default()).await;
    let a = Agent::dev();
    let c = Client::new();
    register(
        &c,
        &a,
        json!({"Name": "quiet", "Checks": [{"HTTP": format!("http://127.0.0.1:{port}/"), "Interval": "1s"},
            {"TCP": format!("127.0.0.1:{port}"), "Interval": "1s"}]}),
    )
    .await;
    wait_status(&c, &a, "quiet", "service:quiet:1", "passing").await;
    wait_status(&c, &a, "quiet", "service:quiet:2", "passing").await;
    let before = index_of(&c.get(&a.url("/v1/health/checks/quiet")).await);
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let after = index_of(&c.get(&a.url("/v1/health/checks/quiet")).await);
    assert_eq!(before, after, "passing checks rewrote the catalog");
}

/// Output that changes on every run (a counter in the body) stays on the agent: the catalog
/// keeps the first output until `check_update_interval` (5 minutes by default) runs out.
#[tokio::test]
async fn output_only_changes_wait_for_the_update_interval() {
    let port = counter_server().await;
    let a = Agent::dev();
    let c = Client::new();
    register(
        &c,
        &a,
        json!({"Name": "chatty", "Check": {"HTTP": format!("http://127.0.0.1:{port}/"), "Interval": "1s"}}),
    )
    .await;
    let first = wait_status(&c, &a, "chatty", "service:chatty", "passing").await;
    let index = index_of(&c.get(&a.url("/v1/health/checks/chatty")).await);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let r = c.get(&a.url("/v1/health/checks/chatty")).await;
    assert_eq!(
        index_of(&r),
        index,
        "an output-only change was written at once"
    );
    let catalog: Value = r.json().await.unwrap();
    assert_eq!(catalog[0]["Output"], first["Output"]);
    let local = c.get_json(&a.url("/v1/agent/checks")).await;
    assert_ne!(
        local["service:chatty"]["Output"], first["Output"],
        "the agent shows the latest output"
    );
}

#[tokio::test]
async fn tcp_check_follows_the_listener() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let a = Agent::dev();
    let c = Client::new();
    register(
        &c,
        &a,
        json!({"Name": "db", "Check": {"TCP": addr, "Interval": "1s", "Timeout": "500ms"}}),
    )
    .await;
    let ch = wait_status(&c, &a, "db", "service:db", "passing").await;
    assert_eq!(ch["Output"], format!("TCP connect {addr}: Success"));
    assert_eq!(passing(&c, &a, "db").await, 1);
    drop(listener);
    let ch = wait_status(&c, &a, "db", "service:db", "critical").await;
    assert!(ch["Output"]
        .as_str()
        .unwrap()
        .starts_with(&format!("dial tcp {addr}")));
    assert_eq!(passing(&c, &a, "db").await, 0);
}

#[tokio::test]
async fn udp_check_sees_a_closed_port() {
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = sock.local_addr().unwrap().to_string();
    let a = Agent::dev();
    let c = Client::new();
    register(
        &c,
        &a,
        json!({"Name": "dns", "Check": {"UDP": addr, "Interval": "1s", "Timeout": "300ms"}}),
    )
    .await;
    wait_status(&c, &a, "dns", "service:dns", "passing").await;
    drop(sock);
    wait_status(&c, &a, "dns", "service:dns", "critical").await;
}

#[tokio::test]
async fn grpc_check_follows_the_health_service() {
    use tonic_health::ServingStatus;
    let (reporter, service) = tonic_health::server::health_reporter();
    reporter
        .set_service_status("api", ServingStatus::Serving)
        .await;
    let port = free_port();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(service)
            .serve(addr),
    );
    let a = Agent::dev();
    let c = Client::new();
    let target = format!("127.0.0.1:{port}/api");
    register(
        &c,
        &a,
        json!({"Name": "api", "Check": {"GRPC": target, "Interval": "1s"}}),
    )
    .await;
    let ch = wait_status(&c, &a, "api", "service:api", "passing").await;
    assert_eq!(ch["Output"], format!("gRPC check {target}: success"));
    reporter
        .set_service_status("api", ServingStatus::NotServing)
        .await;
    let ch = wait_status(&c, &a, "api", "service:api", "critical").await;
    assert!(
        ch["Output"].as_str().unwrap().contains("NOT_SERVING"),
        "{ch}"
    );
    reporter
        .set_service_status("api", ServingStatus::Serving)
        .await;
    wait_status(&c, &a, "api", "service:api", "passing").await;
}

#[tokio::test]
async fn script_check_exit_codes() {
    let tmp = tempfile::tempdir().unwrap();
    let code = tmp.path().join("code");
    std::fs::write(&code, "0").unwrap();
    let a = Agent::start(&["-dev", "-enable-script-checks"]);
    let c = Client::new();
    let script = format!("echo exit=$(cat {0}); exit $(cat {0})", code.display());
    register(
        &c,
        &a,
        json!({"Name": "job", "Check": {"Args": ["/bin/sh", "-c", script], "Interval": "1s"}}),
    )
    .await;
    let ch = wait_status(&c, &a, "job", "service:job", "passing").await;
    assert_eq!(ch["Output"], "exit=0\n");
    std::fs::write(&code, "1").unwrap();
    wait_status(&c, &a, "job", "service:job", "warning").await;
    std::fs::write(&code, "2").unwrap();
    let ch = wait_status(&c, &a, "job", "service:job", "critical").await;
    assert_eq!(ch["Output"], "exit=2\n");
}

#[tokio::test]
async fn alias_mirrors_a_failing_service() {
    let a = Agent::dev();
    let c = Client::new();
    register(
        &c,
        &a,
        json!({"Name": "db", "Check": {"TTL": "60s", "Status": "passing"}}),
    )
    .await;
    register(
        &c,
        &a,
        json!({"Name": "web", "Check": {"AliasService": "db"}}),
    )
    .await;
    let ch = wait_status(&c, &a, "web", "service:web", "passing").await;
    assert_eq!(ch["Output"], "All checks passing.");
    let r = c
        .put(&a.url("/v1/agent/check/fail/service:db?note=down"), "")
        .await;
    assert_eq!(r.status(), 200);
    let ch = wait_status(&c, &a, "web", "service:web", "critical").await;
    assert!(
        ch["Output"].as_str().unwrap().contains("failing: down"),
        "{ch}"
    );
    assert_eq!(passing(&c, &a, "web").await, 0);
    // The aliased service going away is critical too.
    c.put(&a.url("/v1/agent/check/pass/service:db"), "").await;
    wait_status(&c, &a, "web", "service:web", "passing").await;
    c.put(&a.url("/v1/agent/service/deregister/db"), "").await;
    let ch = wait_status(&c, &a, "web", "service:web", "critical").await;
    let node = c.get_json(&a.url("/v1/agent/self")).await["Config"]["NodeName"].clone();
    assert_eq!(
        ch["Output"],
        format!(
            "Service db could not be found on node {}",
            node.as_str().unwrap()
        )
    );
}

#[tokio::test]
async fn critical_service_is_deregistered_after_its_limit() {
    let (_conf_dir, conf_flag) =
        config_file(r#"{"check_reap_interval": "200ms", "check_deregister_interval_min": "1s"}"#);
    let a = Agent::start(&["-dev", &conf_flag]);
    let c = Client::new();
    let closed = free_port();
    register(
        &c,
        &a,
        json!({"Name": "gone", "Check": {"TCP": format!("127.0.0.1:{closed}"), "Interval": "1s",
            "DeregisterCriticalServiceAfter": "1s"}}),
    )
    .await;
    register(&c, &a, json!({"Name": "stays", "Check": {"TTL": "60s"}})).await;
    let deadline = Instant::now() + Duration::from_secs(8);
    loop {
        let svc = c.get_json(&a.url("/v1/catalog/service/gone")).await;
        if svc.as_array().unwrap().is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "service never reaped; log:\n{}",
            a.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let agent_services = c.get_json(&a.url("/v1/agent/services")).await;
    assert!(agent_services.get("gone").is_none());
    // Critical, but without the setting: kept.
    assert!(agent_services.get("stays").is_some());
}

/// An HTTPS server with a self-signed certificate for `localhost`, answering 200 "secure".
async fn tls_server() -> u16 {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(cert.signing_key.serialize_der().into());
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![cert.cert.der().clone()], key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut buf = vec![0u8; 4096];
                let mut got = 0;
                while !buf[..got].windows(4).any(|w| w == b"\r\n\r\n") && got < buf.len() {
                    match tls.read(&mut buf[got..]).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => got += n,
                    }
                }
                let reply =
                    "HTTP/1.1 200 OK\r\nContent-Length: 6\r\nConnection: close\r\n\r\nsecure";
                let _ = tls.write_all(reply.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    port
}

#[tokio::test]
async fn https_check_verifies_unless_told_not_to() {
    let port = tls_server().await;
    let a = Agent::dev();
    let c = Client::new();
    let url = format!("https://127.0.0.1:{port}/");
    register(
        &c,
        &a,
        json!({"Name": "secure", "Checks": [
            {"HTTP": url, "Interval": "1s", "TLSSkipVerify": true},
            {"HTTP": url, "Interval": "1s", "TLSServerName": "localhost"}]}),
    )
    .await;
    let ch = wait_status(&c, &a, "secure", "service:secure:1", "passing").await;
    assert_eq!(
        ch["Output"],
        format!("HTTP GET {url}: 200 OK Output: secure")
    );
    // Self-signed: no trusted CA vouches for it, whatever the name. (Checks start critical
    // with no output: wait for a run.)
    let out = wait_output(&c, &a, "service:secure:2").await.to_lowercase();
    assert_eq!(
        c.get_json(&a.url("/v1/agent/checks")).await["service:secure:2"]["Status"],
        "critical"
    );
    assert!(
        out.contains("certificate") || out.contains("ca certificates"),
        "{out}"
    );
}

/// A server for the HTTP edge cases: `/big` (5,000 bytes), `/redirect` (302 to `/ok`), `/ok`,
/// and `/flip` answering the code in `code`.
async fn edge_server(code: Arc<AtomicU16>) -> u16 {
    let big = warp::path("big").map(|| "x".repeat(5000));
    let redirect = warp::path("redirect").map(|| {
        warp::http::Response::builder()
            .status(302)
            .header("location", "/ok")
            .body(String::new())
            .unwrap()
    });
    let ok = warp::path("ok").map(|| "fine");
    let flip = warp::path("flip").map(move || {
        let status = warp::http::StatusCode::from_u16(code.load(Ordering::SeqCst)).unwrap();
        warp::reply::with_status("flip", status)
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(
        warp::serve(big.or(redirect).or(ok).or(flip))
            .incoming(listener)
            .run(),
    );
    port
}

#[tokio::test]
async fn output_caps_redirects_and_failure_thresholds() {
    let code = Arc::new(AtomicU16::new(200));
    let port = edge_server(code.clone()).await;
    let a = Agent::dev();
    let c = Client::new();
    let url = |p: &str| format!("http://127.0.0.1:{port}/{p}");
    register(
        &c,
        &a,
        json!({"Name": "edge", "Checks": [
            {"HTTP": url("big"), "Interval": "1s"},
            {"HTTP": url("big"), "Interval": "1s", "OutputMaxSize": 10},
            {"HTTP": url("redirect"), "Interval": "1s", "DisableRedirects": true},
            {"HTTP": url("redirect"), "Interval": "1s"},
            {"HTTP": url("flip"), "Interval": "1s", "FailuresBeforeWarning": 1, "FailuresBeforeCritical": 3}]}),
    )
    .await;
    let ch = wait_status(&c, &a, "edge", "service:edge:1", "passing").await;
    let prefix = format!("HTTP GET {}: 200 OK Output: ", url("big"));
    assert_eq!(ch["Output"], format!("{prefix}{}", "x".repeat(4096)));
    let ch = wait_status(&c, &a, "edge", "service:edge:2", "passing").await;
    assert_eq!(ch["Output"], format!("{prefix}xxxxxxxxxx"));
    let out = wait_output(&c, &a, "service:edge:3").await;
    assert!(out.contains("302 Found"), "{out}");
    let ch = wait_status(&c, &a, "edge", "service:edge:4", "passing").await;
    assert!(
        ch["Output"].as_str().unwrap().ends_with("Output: fine"),
        "{ch}"
    );

    wait_status(&c, &a, "edge", "service:edge:5", "passing").await;
    code.store(500, Ordering::SeqCst);
    // One failure: warning; the third in a row: critical.
    let started = Instant::now();
    wait_status(&c, &a, "edge", "service:edge:5", "warning").await;
    wait_status(&c, &a, "edge", "service:edge:5", "critical").await;
    assert!(
        started.elapsed() >= Duration::from_millis(1500),
        "critical came before three failed runs"
    );
}

#[tokio::test]
async fn local_script_checks_come_only_from_config_files() {
    let (_conf_dir, conf_flag) = config_file(
        r#"{"enable_local_script_checks": true,
            "services": [{"name": "cfg", "check": {"args": ["/bin/sh", "-c", "echo ok"], "interval": "1s"}}]}"#,
    );
    let a = Agent::start(&["-dev", &conf_flag]);
    let c = Client::new();
    let ch = wait_status(&c, &a, "cfg", "service:cfg", "passing").await;
    assert_eq!(ch["Output"], "ok\n");
    for check in [
        json!({"Name": "s", "Args": ["/bin/true"], "Interval": "1s"}),
        json!({"Name": "d", "DockerContainerID": "x", "Args": ["/bin/true"], "Interval": "1s"}),
    ] {
        let r = c.put_json(&a.url("/v1/agent/check/register"), check).await;
        assert_eq!(r.status(), 400);
        assert!(r.text().await.unwrap().contains("enable_script_checks"));
    }
    // TTL output is cut to 4 KiB the way Consul cuts it.
    let r = c
        .put_json(
            &a.url("/v1/agent/check/register"),
            json!({"Name": "t", "TTL": "60s"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let long = "y".repeat(5000);
    let r = c
        .put_json(
            &a.url("/v1/agent/check/update/t"),
            json!({"Status": "passing", "Output": long}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let checks = c.get_json(&a.url("/v1/agent/checks")).await;
    assert_eq!(
        checks["t"]["Output"],
        format!("{} ... (captured 4096 of 5000 bytes)", "y".repeat(4096))
    );
}

#[tokio::test]
async fn deferred_output_reaches_the_catalog_after_the_update_interval() {
    let port = counter_server().await;
    let (_conf_dir, conf_flag) = config_file(r#"{"check_update_interval": "1s"}"#);
    let a = Agent::start(&["-dev", &conf_flag]);
    let c = Client::new();
    register(
        &c,
        &a,
        json!({"Name": "chatty", "Check": {"HTTP": format!("http://127.0.0.1:{port}/"), "Interval": "1s"}}),
    )
    .await;
    let first = wait_status(&c, &a, "chatty", "service:chatty", "passing").await;
    // The interval is 1 s: the timer runs out after 0.5–1.5 s and the new output is written.
    let deadline = Instant::now() + Duration::from_secs(6);
    loop {
        let checks = c.get_json(&a.url("/v1/health/checks/chatty")).await;
        if checks[0]["Output"] != first["Output"] {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "deferred output never reached the catalog"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
