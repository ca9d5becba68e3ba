//! Benchmark client for `bench/template_runner.sh`: how long from a registration to the new
//! upstream file on disk (Berth's runner, and a hand-written peer: a bare blocking-query loop
//! against the same agent that writes the same file, the floor for any runner), and to nginx
//! routing requests to the new backend.
//!
//! Each change swaps the one registered backend for a new one (a fresh in-process HTTP
//! server answering its own name), so "nginx routes to it" is the first request it answers.
//!
//! Usage: bench_template_runner <agent http://host:port> <berth file> <peer file> <nginx port> <changes>

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

async fn backend(name: String) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = l.accept().await else {
                return;
            };
            let name = name.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 2048];
                let _ = s.read(&mut buf).await;
                let resp = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{name}",
                    name.len()
                );
                let _ = s.write_all(resp.as_bytes()).await;
            });
        }
    });
    port
}

/// The peer: long-polls `/v1/health/service/web` and writes the same upstream lines.
async fn peer(agent: String, file: String) {
    let http = reqwest::Client::new();
    let mut index = 0u64;
    loop {
        let url = format!("{agent}/v1/health/service/web?index={index}&wait=60s");
        let Ok(r) = http.get(&url).send().await else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let new: u64 = r
            .headers()
            .get("x-consul-index")
            .and_then(|v| v.to_str().ok()?.parse().ok())
            .unwrap_or(0);
        let v: serde_json::Value = r.json().await.unwrap_or_default();
        if new == index {
            continue;
        }
        index = new;
        let mut text = String::from("upstream http_backend {\n");
        for e in v.as_array().into_iter().flatten() {
            let addr = e["Service"]["Address"].as_str().unwrap_or("");
            text.push_str(&format!("  server {addr}:{};\n", e["Service"]["Port"]));
        }
        text.push_str("}\n");
        let tmp = format!("{file}.tmp");
        std::fs::write(&tmp, &text).unwrap();
        std::fs::rename(&tmp, &file).unwrap();
    }
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

async fn until(deadline: Duration, mut f: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < deadline {
        if f() {
            return Some(start.elapsed());
        }
        tokio::time::sleep(Duration::from_micros(500)).await;
    }
    None
}

#[tokio::main]
async fn main() {
    let a: Vec<String> = std::env::args().collect();
    let (agent, berth_file, peer_file) = (a[1].clone(), a[2].clone(), a[3].clone());
    let nginx_port: u16 = a[4].parse().unwrap();
    let changes: usize = a[5].parse().unwrap();
    tokio::spawn(peer(agent.clone(), peer_file.clone()));
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let (mut file, mut peer_t, mut route) = (Vec::new(), Vec::new(), Vec::new());
    let mut previous: Option<String> = None;
    for i in 0..changes {
        let name = format!("b{i}");
        let port = backend(name.clone()).await;
        let needle = format!(":{port};");
        tokio::time::sleep(Duration::from_millis(50)).await;
        let start = Instant::now();
        let body =
            serde_json::json!({"Name": "web", "ID": name, "Address": "127.0.0.1", "Port": port});
        http.put(format!("{agent}/v1/agent/service/register"))
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        if let Some(p) = previous.take() {
            http.put(format!("{agent}/v1/agent/service/deregister/{p}"))
                .send()
                .await
                .unwrap();
        }
        previous = Some(name.clone());
        let limit = Duration::from_secs(30);
        let bf = berth_file.clone();
        let pf = peer_file.clone();
        let mut got_file = None;
        let mut got_peer = None;
        let both = until(limit, || {
            let el = start.elapsed();
            if got_file.is_none() && std::fs::read_to_string(&bf).is_ok_and(|t| t.contains(&needle))
            {
                got_file = Some(el);
            }
            if got_peer.is_none() && std::fs::read_to_string(&pf).is_ok_and(|t| t.contains(&needle))
            {
                got_peer = Some(el);
            }
            got_file.is_some() && got_peer.is_some()
        })
        .await;
        if both.is_none() {
            eprintln!("change {i}: file not updated within {limit:?}");
            continue;
        }
        let mut routed = None;
        while start.elapsed() < limit {
            if let Ok(r) = http
                .get(format!("http://127.0.0.1:{nginx_port}/"))
                .send()
                .await
            {
                if r.text().await.is_ok_and(|t| t == name) {
                    routed = Some(start.elapsed());
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        file.push(got_file.unwrap().as_secs_f64() * 1000.0);
        peer_t.push(got_peer.unwrap().as_secs_f64() * 1000.0);
        if let Some(r) = routed {
            route.push(r.as_secs_f64() * 1000.0);
        }
    }
    let (bf50, bf99) = (pct(&mut file, 0.5), pct(&mut file, 0.99));
    let (pf50, pf99) = (pct(&mut peer_t, 0.5), pct(&mut peer_t, 0.99));
    println!(
        "registration -> file on disk: Berth p50 {bf50:.1} ms p99 {bf99:.1} ms; peer p50 {pf50:.1} ms p99 {pf99:.1} ms; ratio p50 {:.2}x ({} changes)",
        bf50 / pf50,
        file.len()
    );
    if route.is_empty() {
        println!("registration -> nginx routing: no change was routed");
    } else {
        println!(
            "registration -> nginx routing: p50 {:.1} ms p99 {:.1} ms ({} of {} changes)",
            pct(&mut route, 0.5),
            pct(&mut route, 0.99),
            route.len(),
            changes
        );
    }
}
