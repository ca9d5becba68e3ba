//! registrator's rules, case by case.

use super::*;

fn settings() -> Settings {
    Settings {
        hostname: "host1".into(),
        advertise: "10.0.0.5".into(),
        ..Settings::default()
    }
}

fn web() -> ContainerInfo {
    ContainerInfo {
        id: "c0ffee".into(),
        name: "web1".into(),
        image: "registry:5000/team/app:1.2".into(),
        exposed: vec![(80, "tcp".into())],
        bindings: vec![(80, "tcp".into(), "0.0.0.0".into(), 8080)],
        network_mode: "bridge".into(),
        networks: vec![("bridge".into(), "172.17.0.2".into())],
        ..ContainerInfo::default()
    }
}

fn one(c: &ContainerInfo, s: &Settings) -> Desired {
    let d = desired(c, s);
    assert_eq!(d.len(), 1, "{d:?}");
    d.into_iter().next().unwrap()
}

fn env(c: &mut ContainerInfo, kv: &[&str]) {
    c.env.extend(kv.iter().map(|s| s.to_string()));
}

#[test]
fn a_published_port_registers_with_the_advertise_address_and_host_port() {
    let d = one(&web(), &settings());
    assert_eq!((d.id.as_str(), d.name.as_str()), ("host1:web1:80", "app"));
    assert_eq!((d.address.as_str(), d.port), ("10.0.0.5", 8080));
    assert_eq!(d.meta.get(OWNER_META).map(String::as_str), Some("c0ffee"));
    let s = Settings {
        ip: Some("192.0.2.9".into()),
        tags: vec!["edge".into()],
        ..settings()
    };
    let d = one(&web(), &s);
    assert_eq!(
        (d.address.as_str(), d.tags.clone()),
        ("192.0.2.9", vec!["edge".to_string()])
    );
}

#[test]
fn loopback_only_when_bound_only_there() {
    let mut c = web();
    c.bindings = vec![(80, "tcp".into(), "127.0.0.1".into(), 8080)];
    assert_eq!(one(&c, &settings()).address, "127.0.0.1");
    c.bindings.push((80, "tcp".into(), "0.0.0.0".into(), 8080));
    assert_eq!(one(&c, &settings()).address, "10.0.0.5");
    c.bindings = vec![(80, "tcp".into(), "192.0.2.1".into(), 9000)];
    assert_eq!(one(&c, &settings()).address, "192.0.2.1");
}

#[test]
fn several_ports_get_port_suffixes_unless_named_per_port() {
    let mut c = web();
    c.exposed.push((443, "tcp".into()));
    c.bindings.push((443, "tcp".into(), "0.0.0.0".into(), 8443));
    let names: Vec<String> = desired(&c, &settings())
        .into_iter()
        .map(|d| d.name)
        .collect();
    assert_eq!(names, ["app-80", "app-443"]);
    env(&mut c, &["SERVICE_NAME=web", "SERVICE_443_NAME=secure"]);
    let d = desired(&c, &settings());
    let got: Vec<(&str, &str, u16)> = d
        .iter()
        .map(|d| (d.name.as_str(), d.id.as_str(), d.port))
        .collect();
    assert_eq!(
        got,
        [
            ("web-80", "host1:web1:80", 8080),
            ("secure", "host1:web1:443", 8443)
        ]
    );
}

#[test]
fn udp_ports_get_a_suffix_and_a_tag() {
    let mut c = web();
    c.exposed = vec![(53, "udp".into())];
    c.bindings = vec![(53, "udp".into(), "0.0.0.0".into(), 5353)];
    let d = one(&c, &settings());
    assert_eq!(d.id, "host1:web1:53:udp");
    assert_eq!(d.tags, ["udp"]);
}

#[test]
fn labels_beat_env_port_keys_beat_generic_and_the_rest_is_meta() {
    let mut c = web();
    env(
        &mut c,
        &[
            "SERVICE_TAGS=a,b",
            "SERVICE_REGION=us",
            "SERVICE_80_REGION=eu",
            "SERVICE_OWNER=",
            "OTHER=x",
        ],
    );
    c.labels.insert("SERVICE_TAGS".into(), r"c\,d, e".into());
    c.labels
        .insert("SERVICE_CHECK_HTTP".into(), "/health".into());
    let d = one(&c, &settings());
    assert_eq!(d.tags, ["c,d", "e"]);
    assert_eq!(d.meta.get("region").map(String::as_str), Some("eu"));
    assert!(!d.meta.contains_key("owner"));
    assert_eq!(d.check.get("http").map(String::as_str), Some("/health"));
    // registrator passes check keys on as meta too.
    assert_eq!(
        d.meta.get("check_http").map(String::as_str),
        Some("/health")
    );
    env(&mut c, &["SERVICE_ID=custom-id"]);
    assert_eq!(one(&c, &settings()).id, "custom-id");
}

#[test]
fn ignore_explicit_and_required_labels_skip() {
    let mut c = web();
    env(&mut c, &["SERVICE_IGNORE=true"]);
    assert!(desired(&c, &settings()).is_empty());
    let mut c = web();
    c.exposed.push((443, "tcp".into()));
    c.bindings.push((443, "tcp".into(), "0.0.0.0".into(), 8443));
    env(&mut c, &["SERVICE_80_IGNORE=1"]);
    assert_eq!(one(&c, &settings()).port, 8443);
    let explicit = Settings {
        explicit: true,
        ..settings()
    };
    assert!(desired(&web(), &explicit).is_empty());
    let mut named = web();
    env(&mut named, &["SERVICE_NAME=api"]);
    assert_eq!(one(&named, &explicit).name, "api");
    let require = Settings {
        require_label: Some("REGISTER".into()),
        ..settings()
    };
    assert!(desired(&web(), &require).is_empty());
    let mut labelled = web();
    labelled
        .labels
        .insert("SERVICE_REGISTER".into(), "true".into());
    assert_eq!(desired(&labelled, &require).len(), 1);
}

#[test]
fn unpublished_ports_only_with_internal_or_host_networking() {
    let mut c = web();
    c.bindings.clear();
    assert!(desired(&c, &settings()).is_empty());
    let internal = Settings {
        internal: true,
        ..settings()
    };
    let d = one(&c, &internal);
    assert_eq!((d.address.as_str(), d.port), ("172.17.0.2", 80));
    c.network_mode = "appnet".into();
    c.networks = vec![
        ("appnet".into(), "172.20.0.5".into()),
        ("other".into(), "172.21.0.7".into()),
    ];
    assert_eq!(one(&c, &internal).address, "172.20.0.5");
    env(&mut c, &["SERVICE_NETWORK=other"]);
    assert_eq!(one(&c, &internal).address, "172.21.0.7");
    let mut host = web();
    host.network_mode = "host".into();
    host.bindings.clear();
    host.exposed = vec![(9000, "tcp".into())];
    let d = one(&host, &settings());
    assert_eq!((d.address.as_str(), d.port), ("10.0.0.5", 9000));
}

#[test]
fn names_and_tag_lists() {
    assert_eq!(image_name("registry:5000/team/app:1.2"), "app");
    assert_eq!(image_name("nginx"), "nginx");
    assert_eq!(image_name("busybox@sha256:abc"), "busybox");
    assert_eq!(split_tags(r"a,,b\,c, d ,"), ["a", "b,c", "d"]);
}
