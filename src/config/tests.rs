use std::fs;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::*;

fn args(s: &str) -> Vec<String> {
    s.split_whitespace().map(String::from).collect()
}

fn flags(s: &str) -> AgentFlags {
    parse_agent_flags(&args(s)).unwrap()
}

fn flag_err(s: &str) -> String {
    parse_agent_flags(&args(s)).unwrap_err().to_string()
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    fs::write(&p, text).unwrap();
    p
}

/// Loads with the given flags plus `-bind 127.0.0.1` (no host probing) and a data dir.
fn load_str(extra: &str) -> Result<RuntimeConfig, ConfigErrors> {
    load(&flags(&format!(
        "-bind 127.0.0.1 -data-dir /tmp/berth {extra}"
    )))
}

#[test]
fn flag_syntax_forms() {
    for form in [
        "-http-port=1234",
        "-http-port 1234",
        "--http-port=1234",
        "--http-port 1234",
    ] {
        let f = flags(form);
        assert_eq!(f.overlay.ports.http.unwrap().value, 1234, "{form}");
    }
    for (form, want) in [
        ("-dev", true),
        ("--dev", true),
        ("-dev=true", true),
        ("-dev=false", false),
        ("-dev=1", true),
        ("-dev=F", false),
    ] {
        assert_eq!(flags(form).dev, want, "{form}");
    }
    let f = flags("-join a -join=b -retry-join c -recursor 1.1.1.1 -node-meta k:v:w -node-meta bare -config-file x.json -config-dir d");
    assert_eq!(f.overlay.start_join, ["a", "b"]);
    assert_eq!(f.overlay.retry_join, ["c"]);
    assert_eq!(f.overlay.recursors[0].value, "1.1.1.1");
    let meta = &f.overlay.node_meta.unwrap().value;
    assert_eq!((meta["k"].as_str(), meta["bare"].as_str()), ("v:w", ""));
    assert_eq!(
        f.config_paths,
        [PathBuf::from("x.json"), PathBuf::from("d")]
    );
    assert_eq!(
        flags("-config-format hcl").config_format,
        Some(ConfigFormat::Hcl)
    );
}

#[test]
fn flag_errors() {
    let cases = [
        ("-foo", "flag provided but not defined: -foo"),
        ("--foo=1", "flag provided but not defined: -foo"),
        (
            "-http-port=x",
            r#"invalid value "x" for flag -http-port: parse error"#,
        ),
        (
            "-retry-interval 5",
            r#"invalid value "5" for flag -retry-interval: parse error"#,
        ),
        (
            "-config-format yaml",
            r#"invalid value "yaml" for flag -config-format: must be json or hcl"#,
        ),
        (
            "-dev=yes",
            r#"invalid boolean value "yes" for -dev: parse error"#,
        ),
        ("-http-port", "flag needs an argument: -http-port"),
        ("---dev", "bad flag syntax: ---dev"),
        ("extra", r#"unexpected argument "extra""#),
        ("-help", "flag: help requested"),
    ];
    for (input, want) in cases {
        assert_eq!(flag_err(input), want, "{input}");
    }
}

#[test]
fn defaults_and_dev_defaults() {
    let rc = load_str("").unwrap();
    assert_eq!(rc.datacenter, "dc1");
    assert!(!rc.server && !rc.ui && rc.leave_on_terminate && !rc.skip_leave_on_interrupt);
    assert_eq!(
        rc.ports,
        Ports {
            http: Some(8500),
            dns: Some(8600),
            server: 8300,
            serf_lan: 8301,
            serf_wan: Some(8302)
        }
    );
    assert_eq!(rc.log_level, LogLevel::Info);
    assert_eq!(
        (rc.retry_interval, rc.default_query_time, rc.max_query_time),
        (
            Duration::from_secs(30),
            Duration::from_secs(300),
            Duration::from_secs(600)
        )
    );
    assert_eq!(
        (rc.kv_max_value_size, rc.raft_multiplier, rc.domain.as_str()),
        (524_288, 5, "consul.")
    );
    assert_eq!(rc.client_addrs, ["127.0.0.1".parse::<IpAddr>().unwrap()]);
    assert_eq!(rc.advertise_addr, rc.bind_addr);
    assert!(!rc.node_name.is_empty());

    let rc = load(&flags("-dev")).unwrap();
    assert!(
        rc.dev
            && rc.server
            && rc.bootstrap
            && rc.ui
            && rc.skip_leave_on_interrupt
            && !rc.leave_on_terminate
    );
    assert_eq!(
        (rc.log_level, rc.raft_multiplier, rc.data_dir.clone()),
        (LogLevel::Debug, 1, None)
    );
    assert_eq!(rc.bind_addr, "127.0.0.1".parse::<IpAddr>().unwrap());
}

#[test]
fn json_and_hcl_files_merge_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let a = write(
        dir.path(),
        "a.json",
        r#"{
        "datacenter": "East", "retry_join": ["a"], "node_meta": {"Rack": "1"},
        "ports": {"http": 8000}, "services": [{"name": "web", "port": 80}],
        "check": {"id": "c1", "name": "c1", "ttl": "10s"}
    }"#,
    );
    let b = write(
        dir.path(),
        "b.hcl",
        r#"
        retry_join = ["b"]
        node_meta { zone = "z" }
        ports {
          dns = -1
        }
        service {
          name = "api"
          port = 81
          check {
            http     = "http://localhost:81/health"
            interval = "5s"
          }
        }
        service {
          name = "db"
          Port = 82
          tags = ["primary"]
        }
        log_level = "warning"
    "#,
    );
    let rc = load_str(&format!(
        "-config-file {} -config-file {} -retry-join c -http-port 9000",
        a.display(),
        b.display()
    ))
    .unwrap();
    assert_eq!(rc.datacenter, "east");
    assert_eq!(rc.retry_join, ["a", "b", "c"]);
    assert_eq!(rc.node_meta.len(), 2);
    assert_eq!((rc.ports.http, rc.ports.dns), (Some(9000), None));
    let names: Vec<_> = rc
        .services
        .iter()
        .map(|s| (s.name.as_str(), s.port))
        .collect();
    assert_eq!(names, [("web", 80), ("api", 81), ("db", 82)]);
    assert_eq!(
        rc.services[1].checks[0].interval,
        Some(Duration::from_secs(5))
    );
    assert_eq!(rc.services[2].tags, ["primary"]);
    assert_eq!(rc.checks[0].ttl, Some(Duration::from_secs(10)));
    assert_eq!(rc.log_level, LogLevel::Warn);
}

#[test]
fn config_dir_is_lexical_and_skips_other_files() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "20-b.json",
        r#"{"node_name": "second", "recursors": ["8.8.8.8"]}"#,
    );
    write(
        dir.path(),
        "10-a.hcl",
        "node_name = \"first\"\nrecursors = [\"1.1.1.1\"]\n",
    );
    write(dir.path(), "consul.log", "not config {{{");
    fs::create_dir(dir.path().join("sub.json")).unwrap();
    let rc = load_str(&format!("-config-dir {}", dir.path().display())).unwrap();
    assert_eq!(rc.node_name, "second");
    assert_eq!(rc.recursors, ["1.1.1.1", "8.8.8.8"]);
    assert_eq!(rc.warnings.len(), 1);
    assert!(rc.warnings[0].contains("consul.log"), "{:?}", rc.warnings);
}

#[test]
fn flags_override_files() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        dir.path(),
        "a.json",
        r#"{"datacenter": "file", "server": true, "log_level": "error"}"#,
    );
    let rc = load_str(&format!(
        "-config-file {} -datacenter flag -log-level trace",
        f.display()
    ))
    .unwrap();
    assert_eq!(
        (rc.datacenter.as_str(), rc.server, rc.log_level),
        ("flag", true, LogLevel::Trace)
    );
    assert!(
        !rc.leave_on_terminate && rc.skip_leave_on_interrupt,
        "server defaults"
    );
}

#[test]
fn unknown_keys_suggest_the_nearest() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        dir.path(),
        "a.json",
        r#"{"datacentre": "dc1", "ports": {"htttp": 1}, "zzzzzz": 1}"#,
    );
    let err = load_str(&format!("-config-file {}", f.display())).unwrap_err();
    let p = f.display();
    assert_eq!(
        err.0,
        [
            format!(r#"{p}: unknown key "datacentre" (did you mean "datacenter"?)"#),
            format!(r#"{p}: unknown key "zzzzzz""#),
            format!(r#"{p}: ports: unknown key "htttp" (did you mean "http"?)"#),
        ]
    );
}

#[test]
fn every_error_is_reported_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        dir.path(),
        "a.json",
        r#"{
        "datacenter": "bad dc!", "bootstrap": true, "bootstrap_expect": 3, "node_id": "nope",
        "retry_interval": "5", "log_level": "loud", "ports": {"http": 70000, "https": 8501},
        "encrypt": "c2hvcnQ=", "bind_addr": "999.1.1.1", "server": "yes",
        "performance": {"raft_multiplier": 11},
        "services": [{"name": "web", "port": "80"}, {"port": 1}],
        "checks": [{"name": "s", "args": ["true"], "interval": "1s"}]
    }"#,
    );
    let err = load(&flags(&format!("-config-file {}", f.display()))).unwrap_err();
    let p = f.display().to_string();
    let want = [
        format!("{p}: server: expected a boolean, got string"),
        format!("{p}: services[0].port: expected a number, got string"),
        format!("{p}: services[1]: Missing service name"),
        format!("{p}: bootstrap_expect: 'bootstrap_expect > 0' and 'bootstrap = true' are mutually exclusive"),
        format!("{p}: bootstrap: 'bootstrap = true' requires 'server = true'"),
        format!(r#"{p}: datacenter: invalid datacenter "bad dc!": only a-z, 0-9, '_' and '-' are allowed"#),
        format!(r#"{p}: node_id: "nope" is not a 36-character UUID"#),
        "data_dir: required (set data_dir in a config file or pass -data-dir)".to_string(),
        format!(r#"{p}: bind_addr: "999.1.1.1" is not an IP address"#),
        format!("{p}: ports.http: invalid port 70000: must be 1..=65535, or -1 to disable"),
        format!("{p}: ports.https: this listener is not available yet; only -1 (disabled) is accepted"),
        format!(r#"{p}: log_level: invalid log level "loud": want trace, debug, info, warn or error"#),
        format!("{p}: encrypt: key must be 16, 24 or 32 bytes, got 5"),
        format!("{p}: performance.raft_multiplier: raft_multiplier must be 1..=10 (0 means 5), got 11"),
        format!("{p}: checks[0]: Scripts are disabled on this agent; to enable, configure 'enable_script_checks' or 'enable_local_script_checks' to true"),
        format!(r#"{p}: retry_interval: invalid duration "5""#),
    ];
    assert_eq!(err.0, want, "\n{err}");
    assert_eq!(err.to_string().lines().count(), want.len());
}

#[test]
fn parse_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "bad.hcl", "ports { dns = 8600 grpc = -1 }");
    let err = validate_paths(std::slice::from_ref(&f)).unwrap_err();
    assert!(
        err.0[0].starts_with(&format!("{}: parse error", f.display())),
        "{err}"
    );
    let missing = dir.path().join("missing.json");
    assert!(validate_paths(&[missing]).is_err());
    assert!(validate_paths(&[]).is_err());
}

#[test]
fn validate_skips_the_data_dir_rule() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "a.json",
        r#"{"server": true, "bootstrap_expect": 3, "bind_addr": "127.0.0.1"}"#,
    );
    validate_paths(&[dir.path().to_path_buf()]).unwrap();
    let f = write(dir.path(), "b.json", r#"{"ports": {"dns": 0}}"#);
    assert!(validate_paths(&[f]).is_err());
}

#[test]
fn addresses_and_client_lists() {
    let err = load_str("-client=").unwrap_err();
    assert_eq!(err.to_string(), "flags: client_addr: no address given");
    let rc = load_str("-client=127.0.0.1 -advertise 10.1.2.3").unwrap();
    assert_eq!(rc.advertise_addr, "10.1.2.3".parse::<IpAddr>().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        dir.path(),
        "a.json",
        r#"{"client_addr": "127.0.0.1 ::1", "addresses": {"dns": "127.0.0.2"}}"#,
    );
    let rc = load_str(&format!("-config-file {}", f.display())).unwrap();
    assert_eq!(rc.client_addrs.len(), 2);
    assert_eq!(rc.http_addrs, rc.client_addrs);
    assert_eq!(rc.dns_addrs, ["127.0.0.2".parse::<IpAddr>().unwrap()]);
}

#[test]
fn advertise_picks_first_private_ipv4() {
    let trie = "Main:\n  +-- 0.0.0.0/0 3 0 5\n     |-- 127.0.0.1\n        /32 host LOCAL\n     |-- 172.17.0.2\n        /32 host LOCAL\n     |-- 172.17.255.255\n        /32 link BROADCAST\n     |-- 192.168.1.5\n        /32 host LOCAL\nLocal:\n     |-- 172.17.0.2\n        /32 host LOCAL\n";
    let ips = netaddr::local_ipv4s(trie);
    assert_eq!(ips.len(), 3);
    assert_eq!(netaddr::pick(&ips), Some("172.17.0.2".parse().unwrap()));
    assert_eq!(netaddr::pick(&ips[..1]), None);
}

#[test]
fn gossip_keys_and_their_defaults() {
    let c = load_str("").unwrap();
    assert_eq!(c.gossip_lan.probe_interval, Duration::from_secs(1));
    assert_eq!(c.gossip_lan.probe_timeout, Duration::from_millis(500));
    assert_eq!(c.gossip_lan.suspicion_mult, 4);
    assert_eq!(c.reconnect_timeout, Duration::from_secs(72 * 3600));
    assert!(c.encrypt_verify_incoming && c.encrypt_verify_outgoing);
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        dir.path(),
        "g.json",
        r#"{"gossip_lan": {"probe_interval": "2s", "suspicion_mult": 6}, "encrypt_verify_incoming": false, "reconnect_timeout": "1h"}"#,
    );
    let err = load_str(&format!("-config-file {}", f.display()))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("reconnect_timeout") && err.contains("8h"),
        "{err}"
    );
    let f = write(
        dir.path(),
        "g.json",
        r#"{"gossip_lan": {"probe_interval": "2s", "suspicion_mult": 6}, "encrypt_verify_incoming": false}"#,
    );
    let c = load_str(&format!("-config-file {}", f.display())).unwrap();
    assert_eq!(c.gossip_lan.probe_interval, Duration::from_secs(2));
    assert_eq!(c.gossip_lan.suspicion_mult, 6);
    assert!(!c.encrypt_verify_incoming);
}

#[test]
fn raft_snapshot_keys_defaults_values_and_errors() {
    let c = load_str("").unwrap();
    assert_eq!(
        (
            c.raft_snapshot_threshold,
            c.raft_snapshot_interval,
            c.raft_trailing_logs
        ),
        (16384, Duration::from_secs(30), 10240)
    );
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        dir.path(),
        "r.hcl",
        "raft_snapshot_threshold = 100\nraft_snapshot_interval = \"1m30s\"\nraft_trailing_logs = 0\n",
    );
    let c = load_str(&format!("-config-file {}", f.display())).unwrap();
    assert_eq!(
        (
            c.raft_snapshot_threshold,
            c.raft_snapshot_interval,
            c.raft_trailing_logs
        ),
        (100, Duration::from_secs(90), 0)
    );
    let f = write(
        dir.path(),
        "r.json",
        r#"{"raft_snapshot_threshold": 0, "raft_snapshot_interval": "1ms", "raft_trailing_logs": -1}"#,
    );
    let err = load_str(&format!("-config-file {}", f.display())).unwrap_err();
    let p = f.display().to_string();
    assert_eq!(
        err.0,
        [
            format!("{p}: raft_snapshot_threshold: must be at least 1, got 0"),
            format!(
                "{p}: raft_snapshot_interval: snapshot interval is too low: must be at least 5ms"
            ),
            format!("{p}: raft_trailing_logs: must be at least 0, got -1"),
        ]
    );
}

#[test]
fn dns_config_stale_keys_and_the_rest_of_the_block() {
    let c = load_str("").unwrap();
    assert!(c.dns_allow_stale);
    assert_eq!(c.dns_max_stale, Duration::from_secs(87_600 * 3600));
    let dir = tempfile::tempdir().unwrap();
    let from = |json: &str| {
        let f = write(dir.path(), "d.json", json);
        load_str(&format!("-config-file {}", f.display()))
    };
    let c = from(
        r#"{"dns_config": {"allow_stale": false, "max_stale": "10s", "enable_truncate": true,
            "service_ttl": {"*": "5s"}, "soa": {"min_ttl": 0}}}"#,
    )
    .unwrap();
    assert!(!c.dns_allow_stale);
    assert_eq!(c.dns_max_stale, Duration::from_secs(10));
    let e = from(r#"{"dns_config": {"max_stale": "soon", "alow_stale": true}}"#)
        .unwrap_err()
        .to_string();
    assert!(e.contains("dns_config.max_stale"), "{e}");
    assert!(e.contains("allow_stale"), "did-you-mean hint: {e}");
}

#[test]
fn syslog_settings() {
    assert_eq!(load_str("").unwrap().syslog, None);
    assert_eq!(
        load_str("-syslog").unwrap().syslog.as_deref(),
        Some("LOCAL0")
    );
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        dir.path(),
        "s.json",
        r#"{"enable_syslog": true, "syslog_facility": "daemon"}"#,
    );
    let rc = load_str(&format!("-config-file {}", f.display())).unwrap();
    assert_eq!(rc.syslog.as_deref(), Some("DAEMON"));
    let bad = write(
        dir.path(),
        "bad.json",
        r#"{"enable_syslog": true, "syslog_facility": "LOCAL9"}"#,
    );
    let err = load_str(&format!("-config-file {}", bad.display())).unwrap_err();
    assert_eq!(
        err.0,
        [format!(
            r#"{}: syslog_facility: unknown syslog facility "LOCAL9" (one of {})"#,
            bad.display(),
            crate::config::SYSLOG_FACILITIES.join(", ")
        )]
    );
}
