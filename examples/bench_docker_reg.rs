//! Docker registration latency (bench/docker_reg.sh): from the engine emitting a container's
//! `start` event (its own `timeNano`) to the service being visible in
//! `/v1/catalog/service/<name>` (a blocking query returning with it), over N starts.
//!
//! Measured in the same run, on the same starts:
//! - Berth: agent A registers containers itself (`-docker`, in-process).
//! - peer, registrator's way: this program subscribes to the same events, inspects the
//!   container and `PUT`s `/v1/agent/service/register` on agent B (`-docker=off`), as
//!   registrator does against a Consul agent.
//! - floor: event received + inspect answered, the least any registrar must do.
//!
//! Usage: bench_docker_reg <agent A url> <agent B url> <image> <label> <starts> [bridge|host]
//! (`host`: host networking, so no network `connect` event comes before `start`).

use std::collections::HashMap;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bollard::query_parameters::EventsOptions;
use bollard::Docker;
use futures::StreamExt;

const SERVICE: &str = "benchsvc";

fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i64
}

fn docker(args: &[&str]) -> String {
    let out = Command::new("docker").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Start events seen: container ID → (emitted ns, floor done ns).
type Seen = Arc<Mutex<HashMap<String, (i64, Option<i64>)>>>;

/// The peer: events → inspect → register on agent B; die → deregister.
async fn peer(d: Docker, b: String, label: String, seen: Seen, host: String) {
    let http = reqwest::Client::new();
    let filters = HashMap::from([
        ("type".to_string(), vec!["container".to_string()]),
        (
            "event".to_string(),
            vec!["start".to_string(), "die".to_string()],
        ),
        ("label".to_string(), vec![label]),
    ]);
    let mut events = d.events(Some(EventsOptions {
        filters: Some(filters),
        ..Default::default()
    }));
    while let Some(Ok(ev)) = events.next().await {
        let Some(id) = ev.actor.as_ref().and_then(|a| a.id.clone()) else {
            continue;
        };
        let emitted = ev.time_nano.unwrap_or_default();
        let action = ev.action.unwrap_or_default();
        if action == "start" {
            seen.lock().unwrap().insert(id.clone(), (emitted, None));
        }
        let Ok(c) = d.inspect_container(&id, None).await else {
            continue;
        };
        let name = c.name.clone().unwrap_or_default();
        let name = name.trim_start_matches('/');
        let sid = format!("{host}:{name}:80");
        if action == "start" {
            if let Some(e) = seen.lock().unwrap().get_mut(&id) {
                e.1 = Some(now_ns());
            }
            let port: u16 = c
                .network_settings
                .and_then(|n| n.ports)
                .and_then(|p| p.get("80/tcp").cloned().flatten())
                .and_then(|b| b.first().and_then(|b| b.host_port.clone()))
                .and_then(|p| p.parse().ok())
                .unwrap_or(0);
            let body = serde_json::json!({"ID": sid, "Name": SERVICE,
                "Address": "127.0.0.1", "Port": port});
            let _ = http
                .put(format!("{b}/v1/agent/service/register"))
                .body(body.to_string())
                .send()
                .await;
        } else {
            let _ = http
                .put(format!("{b}/v1/agent/service/deregister/{sid}"))
                .send()
                .await;
        }
    }
}

/// Blocks on `/v1/catalog/service/<SERVICE>` until `sid` is (or, `present` false, is not)
/// there; the ns it returned at.
async fn visible(http: &reqwest::Client, base: &str, sid: &str, present: bool) -> i64 {
    let mut index = 0u64;
    loop {
        let url = format!("{base}/v1/catalog/service/{SERVICE}?index={index}&wait=10s");
        let r = http.get(&url).send().await.unwrap();
        index = r
            .headers()
            .get("X-Consul-Index")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let body = r.text().await.unwrap();
        if body.contains(&format!("\"{sid}\"")) == present {
            return now_ns();
        }
    }
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i]
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (a, b, image, label) = (&args[1], &args[2], &args[3], &args[4]);
    let starts: usize = args[5].parse().unwrap();
    let host_net = args.get(6).map(String::as_str) == Some("host");
    let host = hostname::get().unwrap().to_string_lossy().into_owned();
    let d = Docker::connect_with_local_defaults()
        .unwrap()
        .negotiate_version()
        .await
        .unwrap();
    let seen: Seen = Arc::default();
    tokio::spawn(peer(
        d.clone(),
        b.clone(),
        label.clone(),
        seen.clone(),
        host.clone(),
    ));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let http = reqwest::Client::new();
    let (mut berth, mut reg, mut floor) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..starts {
        let name = format!("berth-bench-{}-{i}", std::process::id());
        let sid = format!("{host}:{name}:80");
        let lbl = format!("{label}=1");
        let env = format!("SERVICE_NAME={SERVICE}");
        let mut create = vec!["create", "--name", &name, "-l", &lbl, "-e", &env];
        if host_net {
            create.extend(["--network", "host", "--expose", "80"]);
        } else {
            create.extend(["-p", "127.0.0.1::80"]);
        }
        create.extend([image.as_str(), "/bin/sleep", "3600"]);
        let id = docker(&create);
        let wa = tokio::spawn({
            let (h, a, s) = (http.clone(), a.clone(), sid.clone());
            async move { visible(&h, &a, &s, true).await }
        });
        let wb = tokio::spawn({
            let (h, b, s) = (http.clone(), b.clone(), sid.clone());
            async move { visible(&h, &b, &s, true).await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        docker(&["start", &name]);
        let (ta, tb) = (wa.await.unwrap(), wb.await.unwrap());
        let (emitted, done) = seen.lock().unwrap().get(&id).cloned().expect("start event");
        let ms = |t: i64| (t - emitted) as f64 / 1e6;
        berth.push(ms(ta));
        reg.push(ms(tb));
        floor.push(ms(done.unwrap_or(emitted)));
        docker(&["rm", "-f", &name]);
        visible(&http, a, &sid, false).await;
        visible(&http, b, &sid, false).await;
    }
    let line = |what: &str, v: &mut Vec<f64>| {
        let (p50, p99) = (pct(v, 0.5), pct(v, 0.99));
        println!("{what:<44} p50 {p50:7.2} ms  p99 {p99:7.2} ms");
        (p50, p99)
    };
    let net = if host_net {
        "host network"
    } else {
        "bridge, published port"
    };
    println!("start event -> visible in /v1/catalog/service/{SERVICE}, {starts} starts ({net}):");
    let (b50, b99) = line("Berth (-docker, in-process)", &mut berth);
    let (r50, r99) = line("peer: events+inspect+PUT register (registrator)", &mut reg);
    let (f50, _) = line("floor: event received + inspect answered", &mut floor);
    println!(
        "ratio Berth/peer: p50 {:.2}x, p99 {:.2}x; Berth over the floor: {:.2} ms at p50",
        b50 / r50,
        b99 / r99,
        b50 - f50
    );
}
