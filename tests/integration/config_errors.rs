//! Flag and config-file errors: named, all at once, exit 64 before any port is bound.

use crate::harness::{free_port, run_cli};

#[test]
fn unknown_flag_and_bad_value_are_named() {
    let (code, _, err) = run_cli(&["agent", "-dev", "-bogus"]);
    assert_eq!(code, 64);
    assert!(err.contains("-bogus"), "{err}");
    let (code, _, err) = run_cli(&["agent", "-dev", "-http-port=abc"]);
    assert_eq!(code, 64);
    assert!(err.contains("-http-port"), "{err}");
}

#[test]
fn every_file_error_is_reported_with_file_and_key() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("bad.json");
    std::fs::write(
        &f,
        r#"{"datacentre": "x", "ports": {"http": "high"}, "retry_interval": "soon"}"#,
    )
    .unwrap();
    let port = free_port();
    let (code, _, err) = run_cli(&[
        "agent",
        "-dev",
        &format!("-http-port={port}"),
        &format!("-config-file={}", f.display()),
    ]);
    assert_eq!(code, 64, "{err}");
    assert!(err.contains("bad.json"), "{err}");
    assert!(
        err.contains("datacentre") && err.contains("datacenter"),
        "suggests the nearest key: {err}"
    );
    assert!(err.contains("retry_interval"), "{err}");
    assert!(err.contains("ports.http") || err.contains("http"), "{err}");
    // Nothing was bound.
    assert!(std::net::TcpListener::bind(("127.0.0.1", port)).is_ok());
}

#[test]
fn validate_command() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("a.json"),
        r#"{"datacenter": "east", "server": true}"#,
    )
    .unwrap();
    std::fs::write(
        tmp.path().join("b.hcl"),
        "node_name = \"n1\"\nservice {\n  name = \"web\"\n  port = 80\n}\n",
    )
    .unwrap();
    std::fs::write(tmp.path().join("notes.txt"), "ignored").unwrap();
    let (code, out, err) = run_cli(&["validate", tmp.path().to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Configuration is valid!"));
    std::fs::write(
        tmp.path().join("c.json"),
        r#"{"bootstrap_expect": "three"}"#,
    )
    .unwrap();
    let (code, _, err) = run_cli(&["validate", tmp.path().to_str().unwrap()]);
    assert_ne!(code, 0);
    assert!(
        err.contains("c.json") && err.contains("bootstrap_expect"),
        "{err}"
    );
}

#[test]
fn later_issue_settings_say_what_is_missing() {
    let tmp = tempfile::tempdir().unwrap();
    let conf = tmp.path().join("https.json");
    std::fs::write(&conf, r#"{"ports": {"https": 8501}}"#).unwrap();
    let (code, _, err) = run_cli(&[
        "agent",
        "-dev",
        &format!("-http-port={}", free_port()),
        &format!("-config-file={}", conf.display()),
    ]);
    assert_eq!(code, 64);
    assert!(err.to_lowercase().contains("not available"), "{err}");
}

#[test]
fn version_prints_consul_compatible_lines() {
    let (code, out, _) = run_cli(&["version"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("Consul v1."), "{out}");
}

/// Docker registration settings: bad flags and `docker {}` keys are named, with hints.
#[test]
fn docker_settings_errors_are_named() {
    for (flag, words) in [
        ("-deregister=sometimes", "on-success"),
        ("-docker=docker.sock", "unix://"),
        ("-resync=often", "-resync"),
    ] {
        let (code, _, err) = run_cli(&["agent", "-dev", flag]);
        assert_eq!(code, 64, "{flag}: {err}");
        assert!(err.contains(words), "{flag}: {err}");
    }
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("docker.hcl");
    std::fs::write(
        &f,
        "docker {\n  endpont = \"unix:///x\"\n  deregister = \"never\"\n  ca_file = \"/ca.pem\"\n}\n",
    )
    .unwrap();
    let (code, _, err) = run_cli(&["agent", "-dev", &format!("-config-file={}", f.display())]);
    assert_eq!(code, 64, "{err}");
    assert!(
        err.contains("docker: unknown key \"endpont\" (did you mean \"endpoint\"?)"),
        "{err}"
    );
    assert!(err.contains("never"), "{err}");
    assert!(
        err.contains("cert_file"),
        "TLS needs all three files: {err}"
    );
}
