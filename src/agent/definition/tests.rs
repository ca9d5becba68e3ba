use std::time::Duration;

use serde_json::json;

use super::*;

fn svc(v: serde_json::Value) -> ServiceDefinition {
    decode_service(&v).unwrap()
}

fn svc_err(v: serde_json::Value) -> String {
    decode_service(&v).unwrap_err().to_string()
}

fn check_err(v: serde_json::Value) -> String {
    decode_check(&v).unwrap_err().to_string()
}

#[test]
fn keys_match_in_any_case_and_snake_case() {
    for key in [
        "EnableTagOverride",
        "enable_tag_override",
        "enabletagoverride",
        "ENABLE_TAG_OVERRIDE",
    ] {
        let s = svc(json!({"Name": "web", key: true}));
        assert!(s.enable_tag_override, "{key}");
    }
    let s = svc(json!({"name": "web", "port": 80, "tags": ["a"], "id": "w1"}));
    assert_eq!(
        (s.id.as_str(), s.port, s.tags.as_slice()),
        ("w1", 80, &["a".to_string()][..])
    );
}

#[test]
fn defaults_id_to_name_and_weights_to_one() {
    let s = svc(json!({"Name": "web"}));
    assert_eq!(s.id, "web");
    assert_eq!(
        s.weights,
        Weights {
            passing: 1,
            warning: 1
        }
    );
}

#[test]
fn user_keys_are_kept_verbatim() {
    let s = svc(json!({
        "Name": "web",
        "Meta": {"Env_Name": "prod", "version": "1"},
        "TaggedAddresses": {"LAN_ipv4": {"address": "10.0.0.1", "PORT": 80}},
        "Check": {"HTTP": "http://x", "Interval": "10s", "Header": {"X-Custom_H": ["a"], "Y": "b"}},
    }));
    assert_eq!(s.meta.keys().collect::<Vec<_>>(), ["Env_Name", "version"]);
    let lan = &s.tagged_addresses["LAN_ipv4"];
    assert_eq!((lan.address.as_str(), lan.port), ("10.0.0.1", 80));
    let h = &s.checks[0].header;
    assert_eq!(h["X-Custom_H"], ["a"]);
    assert_eq!(h["Y"], ["b"]);
}

#[test]
fn nulls_mean_absent() {
    let s = svc(
        json!({"Name": "web", "Tags": null, "Check": null, "Checks": null, "Meta": null, "Port": null}),
    );
    assert!(s.tags.is_empty() && s.checks.is_empty() && s.meta.is_empty());
    assert_eq!(s.port, 0);
}

#[test]
fn check_then_checks_in_order() {
    let s = svc(json!({
        "Name": "web",
        "Checks": [{"TTL": "5s", "Name": "b"}, {"tcp": "x:1", "interval": "2s", "name": "c"}],
        "Check": {"TTL": "5s", "Name": "a"},
    }));
    let names: Vec<_> = s.checks.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["a", "b", "c"]);
    let s = svc(json!({"Name": "web", "Check": {}}));
    assert!(s.checks.is_empty(), "an empty Check is ignored");
}

#[test]
fn check_aliases_and_durations() {
    for key in ["Args", "args", "ScriptArgs", "script_args"] {
        let c = decode_check(&json!({"Name": "x", key: ["true"], "Interval": "10s"})).unwrap();
        assert_eq!(c.args, ["true"], "{key}");
        assert_eq!(check_kind(&c).unwrap(), CheckKind::Script);
    }
    let c = decode_check(&json!({"CheckID": "c1", "Name": "x", "TTL": 10_000_000_000u64})).unwrap();
    assert_eq!(
        (c.id.as_str(), c.ttl),
        ("c1", Some(Duration::from_secs(10)))
    );
    let c = decode_check(&json!({"ID": "c2", "TTL": "100ms"})).unwrap();
    assert_eq!(
        (c.id.as_str(), c.ttl),
        ("c2", Some(Duration::from_millis(100)))
    );
    let c =
        decode_check(&json!({"HTTP": "http://x", "Interval": 10, "status": "PASSING"})).unwrap();
    assert_eq!(
        c.interval,
        Some(Duration::from_secs(1)),
        "short intervals are raised to 1s"
    );
    assert_eq!(c.status, Some(crate::model::Health::Passing));
    let c = decode_check(
        &json!({"h2ping": "x:1", "interval": "100ms", "deregister_critical_service_after": "1m"}),
    )
    .unwrap();
    assert_eq!(
        c.deregister_critical_service_after,
        Some(Duration::from_secs(60))
    );
    assert_eq!(check_kind(&c).unwrap(), CheckKind::H2ping);
}

#[test]
fn check_kinds() {
    let cases = [
        (json!({"TTL": "1s"}), CheckKind::Ttl),
        (json!({"HTTP": "h", "Interval": "1s"}), CheckKind::Http),
        (json!({"TCP": "h:1", "Interval": "1s"}), CheckKind::Tcp),
        (json!({"UDP": "h:1", "Interval": "1s"}), CheckKind::Udp),
        (json!({"GRPC": "h:1", "Interval": "1s"}), CheckKind::Grpc),
        (
            json!({"DockerContainerID": "c", "Args": ["x"], "Interval": "1s"}),
            CheckKind::Docker,
        ),
        (json!({"AliasService": "web"}), CheckKind::Alias),
        (json!({"AliasNode": "n1"}), CheckKind::Alias),
    ];
    for (v, want) in cases {
        let c = decode_check(&v).unwrap();
        assert_eq!(check_kind(&c).unwrap(), want, "{v}");
    }
}

#[test]
fn errors_name_the_field() {
    let cases = [
        (json!({"Name": "web", "Port": "80"}), "Port: expected a number, got string"),
        (json!({"Name": "web", "port": 70000}), "port: 70000 is out of range 0..=65535"),
        (json!({"Name": "web", "Port": -1}), "Port: -1 is out of range 0..=65535"),
        (json!({"Name": "web", "Check": {"HTTP": "h", "Interval": "abc"}}), r#"Check.Interval: invalid duration "abc""#),
        (json!({"Name": "web", "Checks": [{"TTL": "1s"}, {"HTTP": "h"}]}), "Checks[1]: Must provide TTL or ScriptArgs/Args, HTTP, TCP, UDP, GRPC, H2PING, AliasService or DockerContainerID with Interval"),
        (json!({"Name": "web", "Tags": [1]}), "Tags[0]: expected a string, got number"),
        (json!({"Name": "web", "Meta": {"k": 1}}), "Meta.k: expected a string, got number"),
        (json!({"Name": "web", "Weights": {"Passing": 0}}), "Weights.Passing: must be greater than 0"),
        (json!({"Name": "web", "EnableTagOverride": "yes"}), "EnableTagOverride: expected a boolean, got string"),
        (json!({"Port": 80}), "Missing service name"),
        (json!({"Name": "web", "Address": "0.0.0.0"}), "Invalid service address"),
        (json!({"Name": "web", "Address": "::"}), "Invalid service address"),
        (json!("web"), "body: expected an object, got string"),
    ];
    for (v, want) in cases {
        assert_eq!(svc_err(v.clone()), want, "{v}");
    }
}

#[test]
fn check_errors() {
    let missing = DefinitionError::MissingCheckType.to_string();
    let cases = [
        (json!({"Name": "x"}), missing.clone()),
        (json!({"HTTP": "h"}), missing.clone()),
        (json!({"Args": ["x"]}), missing),
        (
            json!({"TTL": "1s", "Status": "bogus"}),
            r#"Status: invalid status "bogus": want passing, warning or critical"#.to_string(),
        ),
        (
            json!({"TTL": "1s", "HTTP": "h", "Interval": "1s"}),
            "Type: a check must have exactly one type, got ttl and http".to_string(),
        ),
        (
            json!({"TTL": "1s", "Interval": "1s"}),
            "Interval: Interval and TTL cannot both be specified".to_string(),
        ),
        (
            json!({"DockerContainerID": "c", "Interval": "1s"}),
            "Args: docker checks need Args (the command to run)".to_string(),
        ),
        (
            json!({"TTL": true}),
            "TTL: expected a duration, got bool".to_string(),
        ),
    ];
    for (v, want) in cases {
        assert_eq!(check_err(v.clone()), want, "{v}");
    }
}

#[test]
fn at_prefixes_paths() {
    let e = DefinitionError::field("port", "bad").at("services[0]");
    assert_eq!(e.to_string(), "services[0].port: bad");
    let e = DefinitionError::MissingServiceName.at("services[1]");
    assert_eq!(e.to_string(), "services[1]: Missing service name");
}
