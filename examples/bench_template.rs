//! Template render time (bench/template.sh): the 16 KB haproxy template of the corpus (05) with
//! 100 services × 10 instances, and the shipped nginx template with 1,000 instances, each
//! rendered from a full brain; the peer for nginx is the same output built by hand-written
//! Rust (`String` pushes), the floor for any template engine.
//!
//! Usage: cargo run --release --example bench_template [rounds]

use std::sync::Arc;
use std::time::{Duration, Instant};

use berth::template::brain::{Brain, CheckEntry, Data, KvPair, ServiceEntry};
use berth::template::dep::Dep;
use berth::template::{Options, Template};

fn entry(service: &str, i: usize) -> ServiceEntry {
    ServiceEntry {
        node: format!("node-{i:04}"),
        node_address: format!("10.{}.{}.{}", i / 65536, (i / 256) % 256, i % 256),
        address: format!("10.{}.{}.{}", i / 65536, (i / 256) % 256, i % 256),
        id: format!("{service}-{i}"),
        name: service.into(),
        tags: vec!["http".into(), "backend".into()],
        checks: vec![CheckEntry {
            status: "passing".into(),
            ..CheckEntry::default()
        }],
        port: 8000 + (i % 1000) as u16,
        weights: (1, 1),
        ..ServiceEntry::default()
    }
}

/// Renders until every dependency has data, filling services with `per` instances each.
fn prepare(t: &Template, services: usize, per: usize) -> Brain {
    let mut brain = Brain::new();
    for _ in 0..10 {
        let r = t.render(Arc::new(brain.clone())).expect("render");
        if r.missing.is_empty() {
            break;
        }
        for dep in r.missing {
            let data = match &dep {
                Dep::Service(q) => Data::Services((0..per).map(|i| entry(&q.name, i)).collect()),
                Dep::Services { .. } => Data::CatalogServices(
                    (0..services)
                        .map(|i| (format!("svc-{i:03}"), vec!["http".to_string()]))
                        .collect(),
                ),
                Dep::Key { path, .. } => Data::Key(Some(KvPair {
                    path: path.clone(),
                    value: "1".into(),
                    ..KvPair::default()
                })),
                Dep::List { prefix, .. } => Data::List(
                    (0..3)
                        .map(|i| KvPair {
                            path: format!("{prefix}/k{i}"),
                            value: "v".into(),
                            ..KvPair::default()
                        })
                        .collect(),
                ),
                _ => Data::Datacenters(vec!["dc1".into()]),
            };
            brain.remember(dep, data);
        }
    }
    brain
}

/// (p50, p99, bytes) of `rounds` calls of `f`.
fn time(rounds: usize, mut f: impl FnMut() -> usize) -> (Duration, Duration, usize) {
    let mut samples = Vec::with_capacity(rounds);
    let mut bytes = 0;
    for _ in 0..rounds {
        let t0 = Instant::now();
        bytes = f();
        samples.push(t0.elapsed());
    }
    samples.sort();
    (
        samples[rounds / 2],
        samples[(rounds * 99 / 100).min(rounds - 1)],
        bytes,
    )
}

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(500);
    let root = env!("CARGO_MANIFEST_DIR");
    let haproxy = std::fs::read_to_string(format!(
        "{root}/tests/data/ctmpl/05_haproxy_ab_define_executeTemplate.ctmpl"
    ))
    .expect("corpus template 05");
    let haproxy = haproxy.split_once('\n').map_or("", |(_, rest)| rest);
    let t = Template::parse("haproxy", haproxy, &Options::default()).expect("parse 05");
    let brain = Arc::new(prepare(&t, 100, 10));
    let (p50, p99, bytes) = time(rounds, || {
        t.render(brain.clone()).expect("render").text.len()
    });
    println!(
        "haproxy (05, {} B source) 100 services x 10 instances: p50 {:.3} ms, p99 {:.3} ms, output {bytes} B (goal < 1 ms)",
        haproxy.len(),
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3
    );

    let nginx = std::fs::read_to_string(format!("{root}/templates/nginx-upstream.ctmpl"))
        .expect("templates/nginx-upstream.ctmpl");
    let t = Template::parse("nginx", &nginx, &Options::default()).expect("parse nginx");
    let brain = Arc::new(prepare(&t, 1, 1000));
    let (p50, p99, bytes) = time(rounds, || {
        t.render(brain.clone()).expect("render").text.len()
    });
    let entries: Vec<ServiceEntry> = (0..1000).map(|i| entry("nginx", i)).collect();
    let (h50, h99, hbytes) = time(rounds, || {
        let mut out = String::from("upstream http_backend {");
        for e in &entries {
            out.push_str("\n  server ");
            out.push_str(&e.address);
            out.push(':');
            out.push_str(&e.port.to_string());
            out.push(';');
        }
        out.push_str("\n}\n\nserver {\n  listen 1216;\n\n  location / {\n    proxy_pass http://http_backend;\n    proxy_set_header Host $host;\n    proxy_set_header X-Real-IP $remote_addr;\n    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n    proxy_set_header X-Forwarded-Proto $scheme;\n  }\n}\n");
        out.len()
    });
    println!(
        "nginx 1,000 instances: p50 {:.3} ms, p99 {:.3} ms, output {bytes} B (goal < 5 ms); hand-written peer p50 {:.3} ms, p99 {:.3} ms, {hbytes} B; ratio p50 {:.1}x",
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3,
        h50.as_secs_f64() * 1e3,
        h99.as_secs_f64() * 1e3,
        p50.as_secs_f64() / h50.as_secs_f64().max(1e-9)
    );
}
