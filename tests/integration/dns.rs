//! The DNS interface through the real `dig`: each name form, SRV targets with their addresses,
//! health filtering as checks flip, tag filters, UDP answer caps and truncation with 30
//! instances (dig falls back to TCP), NXDOMAIN/NODATA with the SOA, REFUSED outside.

use std::process::Command;

use serde_json::json;

use crate::harness::{config_file, free_port, Agent};
use crate::Client;

/// A dev agent with its DNS on a known port, plus `extra` flags.
pub(crate) fn agent(extra: &[&str]) -> (Agent, u16) {
    let port = free_port();
    let flag = format!("-dns-port={port}");
    let mut args = vec!["-dev", flag.as_str()];
    args.extend_from_slice(extra);
    (Agent::start(&args), port)
}

/// `dig` against the agent; `args` as dig takes them. Returns stdout.
pub(crate) fn dig(port: u16, args: &[&str]) -> String {
    let out = Command::new("dig")
        .args(["@127.0.0.1", "-p", &port.to_string(), "+time=2", "+tries=1"])
        .args(args)
        .output()
        .expect("dig must be installed (dnsutils; scripts/test installs it)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The `+short` answer lines, sorted.
pub(crate) fn short(port: u16, args: &[&str]) -> Vec<String> {
    let mut all = vec!["+short"];
    all.extend_from_slice(args);
    let mut lines: Vec<String> = dig(port, &all).lines().map(str::to_string).collect();
    lines.sort();
    lines
}

/// The section count dig prints in its header (`ANSWER: 3`).
pub(crate) fn count(out: &str, section: &str) -> usize {
    out.split(&format!("{section}: "))
        .nth(1)
        .and_then(|s| s.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(usize::MAX)
}

pub(crate) fn status(out: &str) -> &str {
    out.split("status: ")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .unwrap_or("")
}

pub(crate) async fn register(c: &Client, a: &Agent, body: serde_json::Value) {
    let r = c.put_json(&a.url("/v1/agent/service/register"), body).await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
}

/// Registers 30 instances of `big` (10.2.0.1–30, ports 9001–9030).
pub(crate) async fn register_big(a: &Agent) {
    let c = Client::new();
    for i in 1..=30 {
        let body = json!({"Name": "big", "ID": format!("big-{i}"), "Port": 9000 + i,
            "Address": format!("10.2.0.{i}")});
        register(&c, a, body).await;
    }
}

#[tokio::test]
async fn name_forms_and_srv_targets() {
    let (a, port) = agent(&["-node=dns1", "-alt-domain=alt.test"]);
    let c = Client::new();
    register(
        &c,
        &a,
        json!({"Name": "web", "ID": "web-1", "Port": 8001, "Address": "10.0.0.1", "Tags": ["v1"]}),
    )
    .await;
    register(
        &c,
        &a,
        json!({"Name": "web", "ID": "web-2", "Port": 8002, "Tags": ["v2"]}),
    )
    .await;
    let both = vec!["10.0.0.1".to_string(), "127.0.0.1".to_string()];
    assert_eq!(short(port, &["web.service.consul"]), both);
    assert_eq!(
        short(port, &["WEB.Service.Consul"]),
        both,
        "names are case-insensitive"
    );
    assert_eq!(short(port, &["web.service.dc1.consul"]), both);
    assert_eq!(short(port, &["web.service.alt.test"]), both);
    assert_eq!(short(port, &["v1.web.service.consul"]), vec!["10.0.0.1"]);
    assert_eq!(short(port, &["dns1.node.consul"]), vec!["127.0.0.1"]);
    assert_eq!(short(port, &["0a000001.addr.consul"]), vec!["10.0.0.1"]);
    // RFC 2782: `_tcp` is no tag filter; any other tag filters.
    assert_eq!(
        short(port, &["_web._tcp.service.consul", "SRV"]),
        vec![
            "1 1 8001 0a000001.addr.dc1.consul.".to_string(),
            "1 1 8002 dns1.node.dc1.consul.".to_string()
        ]
    );
    assert_eq!(
        short(port, &["_web._v2.service.consul", "SRV"]),
        vec!["1 1 8002 dns1.node.dc1.consul."]
    );
    let srv = dig(port, &["web.service.consul", "SRV"]);
    assert!(srv.contains("ADDITIONAL SECTION"), "{srv}");
    assert!(
        srv.contains("dns1.node.dc1.consul.\t0\tIN\tA\t127.0.0.1"),
        "{srv}"
    );
    assert!(
        srv.contains("flags: qr aa"),
        "answers are authoritative: {srv}"
    );
    // Unknown service, unknown dc: NXDOMAIN with the SOA; NODATA for a missing type.
    for name in [
        "nope.service.consul",
        "web.service.dc9.consul",
        "x.query.consul",
    ] {
        let out = dig(port, &[name]);
        assert_eq!(status(&out), "NXDOMAIN", "{name}: {out}");
        assert!(out.contains("SOA\tns.consul. hostmaster.consul."), "{out}");
    }
    let out = dig(port, &["web.service.consul", "TXT"]);
    assert_eq!(status(&out), "NOERROR");
    assert!(out.contains("ANSWER: 0") && out.contains("SOA"), "{out}");
    assert_eq!(status(&dig(port, &["example.org"])), "REFUSED");
}

#[tokio::test]
async fn only_healthy_instances_are_answered() {
    let (a, port) = agent(&[]);
    let c = Client::new();
    for i in 1..=2 {
        register(
            &c,
            &a,
            json!({"Name": "api", "ID": format!("api-{i}"), "Address": format!("10.1.0.{i}"),
                "Check": {"TTL": "60s", "Status": "passing"}}),
        )
        .await;
    }
    assert_eq!(short(port, &["api.service.consul"]).len(), 2);
    c.put(&a.url("/v1/agent/check/fail/service:api-1"), "")
        .await;
    assert_eq!(short(port, &["api.service.consul"]), vec!["10.1.0.2"]);
    // Warning still serves (no only_passing).
    c.put(&a.url("/v1/agent/check/warn/service:api-2"), "")
        .await;
    assert_eq!(short(port, &["api.service.consul"]), vec!["10.1.0.2"]);
    c.put(&a.url("/v1/agent/check/fail/service:api-2"), "")
        .await;
    let out = dig(port, &["api.service.consul"]);
    assert_eq!(status(&out), "NXDOMAIN", "no healthy instance: {out}");
    c.put(&a.url("/v1/agent/check/pass/service:api-1"), "")
        .await;
    assert_eq!(short(port, &["api.service.consul"]), vec!["10.1.0.1"]);
}

#[tokio::test]
async fn thirty_instances_udp_caps_and_tcp_fallback() {
    let (a, port) = agent(&[]);
    register_big(&a).await;
    // UDP without EDNS: Consul's udp_answer_limit (3).
    assert_eq!(short(port, &["+noedns", "big.service.consul"]).len(), 3);
    let out = dig(port, &["+noedns", "big.service.consul", "SRV"]);
    assert!(
        out.contains("ANSWER: 3, AUTHORITY: 0, ADDITIONAL: 3"),
        "targets match answers: {out}"
    );
    // EDNS with room: all 30. TCP: all 30.
    assert_eq!(
        short(port, &["+bufsize=4096", "big.service.consul"]).len(),
        30
    );
    assert_eq!(
        short(port, &["+tcp", "big.service.consul", "SRV"]).len(),
        30
    );
    // 30 SRV records do not fit 512 bytes: trimmed silently (no TC without
    // enable_truncate), each remaining SRV with its target's address.
    let out = dig(
        port,
        &["+bufsize=512", "+ignore", "big.service.consul", "SRV"],
    );
    assert!(!out.contains(" tc"), "{out}");
    let answers = count(&out, "ANSWER");
    assert!(answers > 3 && answers < 30, "{out}");
    assert_eq!(
        count(&out, "ADDITIONAL"),
        answers + 1,
        "targets + OPT: {out}"
    );
    // Answers are shuffled: two queries rarely agree on the order of 30.
    let first = dig(port, &["+short", "+bufsize=4096", "big.service.consul"]);
    let differs =
        (0..5).any(|_| dig(port, &["+short", "+bufsize=4096", "big.service.consul"]) != first);
    assert!(differs, "answers are not shuffled");
}

#[tokio::test]
async fn dns_config_ttls_limits_and_only_passing() {
    let (_conf_dir, conf_flag) = config_file(
        r#"{"dns_config": {"node_ttl": "30s", "service_ttl": {"*": "5s", "db": "10s"},
            "a_record_limit": 2, "only_passing": true, "soa": {"refresh": 100, "min_ttl": 30},
            "recursor_strategy": "random", "disable_compression": true}}"#,
    );
    let (a, port) = agent(&["-node=ttl1", &conf_flag]);
    let c = Client::new();
    for i in 1..=4 {
        register(
            &c,
            &a,
            json!({"Name": "db", "ID": format!("db-{i}"), "Address": format!("10.3.0.{i}"),
            "Check": {"TTL": "60s", "Status": "passing"}}),
        )
        .await;
    }
    register(&c, &a, json!({"Name": "cache", "Address": "10.4.0.1"})).await;
    let out = dig(
        port,
        &["+noall", "+answer", "+bufsize=4096", "db.service.consul"],
    );
    assert_eq!(out.lines().count(), 2, "a_record_limit: {out}");
    assert!(
        out.lines().all(|l| l.contains("\t10\tIN\tA\t")),
        "service_ttl db: {out}"
    );
    let out = dig(port, &["+noall", "+answer", "cache.service.consul"]);
    assert!(out.contains("\t5\tIN\tA\t10.4.0.1"), "service_ttl *: {out}");
    let out = dig(port, &["+noall", "+answer", "ttl1.node.consul"]);
    assert!(out.contains("\t30\tIN\tA\t"), "node_ttl: {out}");
    let out = dig(port, &["+noall", "+answer", "consul", "SOA"]);
    assert!(
        out.contains("\t30\tIN\tSOA\tns.consul. hostmaster.consul. ")
            && out.contains(" 100 600 86400 30"),
        "dns_config.soa: {out}"
    );
    // only_passing: a warning instance is left out.
    c.put(&a.url("/v1/agent/check/warn/service:db-1"), "").await;
    c.put(&a.url("/v1/agent/check/warn/service:db-2"), "").await;
    c.put(&a.url("/v1/agent/check/warn/service:db-3"), "").await;
    assert_eq!(short(port, &["db.service.consul"]), vec!["10.3.0.4"]);
}

#[tokio::test]
async fn bad_packets_do_not_stall_the_server() {
    let (a, port) = agent(&[]);
    let c = Client::new();
    register(&c, &a, json!({"Name": "ok", "Address": "10.5.0.1"})).await;
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(std::time::Duration::from_millis(300)))
        .unwrap();
    let mut looping = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    looping.extend_from_slice(&[0xC0, 0x0C, 0, 1, 0, 1]); // name = pointer to itself
    let mut huge = vec![0x56, 0x78, 0x01, 0x00, 0xFF, 0xFF, 0, 0, 0, 0, 0, 0];
    huge.extend(std::iter::repeat_n(0x3F, 400)); // labels that run off the end
    for packet in [&[0u8, 1, 2][..], &looping, &huge, &[0xFF; 512][..]] {
        sock.send_to(packet, ("127.0.0.1", port)).unwrap();
        let mut buf = [0u8; 1024];
        if let Ok((n, _)) = sock.recv_from(&mut buf) {
            // An answer to garbage may only be an error (FORMERR or the like), never data.
            assert!(
                n >= 12 && buf[3] & 0x0F != 0,
                "garbage got a NOERROR answer"
            );
        }
    }
    let out = dig(port, &["CH", "ok.service.consul"]);
    assert_eq!(status(&out), "NOTIMP", "{out}");
    assert_eq!(short(port, &["ok.service.consul"]), vec!["10.5.0.1"]);
}

/// Names outside `consul.` go to the recursors in order: a dead one is skipped, the answer
/// (or NXDOMAIN) of the next is passed on with RA set; with every recursor dead, SERVFAIL.
/// The recursor is another Berth serving the `test.` domain, started by this test.
#[tokio::test]
async fn recursion_through_loopback_recursors() {
    let (upstream, up_port) = agent(&["-domain=test"]);
    let c = Client::new();
    register(&c, &upstream, json!({"Name": "far", "Address": "10.9.0.1"})).await;
    let dead = free_port();
    let (_conf_dir, conf_flag) = config_file(format!(
        r#"{{"recursors": ["127.0.0.1:{dead}", "127.0.0.1:{up_port}"],
                "dns_config": {{"recursor_timeout": "500ms"}}}}"#
    ));
    let (_a, port) = agent(&[&conf_flag]);
    assert_eq!(short(port, &["far.service.test"]), vec!["10.9.0.1"]);
    let out = dig(port, &["far.service.test"]);
    assert!(out.contains(" ra"), "recursion available: {out}");
    assert_eq!(status(&dig(port, &["nope.service.test"])), "NXDOMAIN");
    let only_dead = format!("-recursor=127.0.0.1:{dead}");
    let (_b, port_b) = agent(&[&only_dead]);
    assert_eq!(status(&dig(port_b, &["far.service.test"])), "SERVFAIL");
}
