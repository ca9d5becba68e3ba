//! registrator's rules on real containers: several ports, UDP, env and label metadata,
//! `SERVICE_IGNORE`, unpublished ports, host networking, `-internal` on user networks (with
//! `SERVICE_NETWORK` and a network connected later), and hand-registered services.

use serde_json::{json, Value};

use super::{catalog, docker_services, eventually, host, host_port, opts, Lab, LOOP};
use crate::docker::must;

fn tags(e: &Value) -> Value {
    e["ServiceTags"].clone()
}

#[test]
fn containers_land_in_the_catalog_as_registrators_rules_say() {
    let mut lab = Lab::new("rules");
    let p = lab.p.clone();
    let a = lab.agent(&["-tags=fromdocker"]);
    let manual = json!({"Name": format!("{p}manual"), "ID": "manual-1", "Port": 1});
    let put = std::process::Command::new("curl")
        .args(["-sf", "-X", "PUT", &a.url("/v1/agent/service/register")])
        .args(["-d", &manual.to_string()])
        .status()
        .unwrap();
    assert!(put.success());

    let multi = lab.run(
        "multi",
        &opts(&[
            "-p",
            "127.0.0.1::80",
            "-p",
            "127.0.0.1::443",
            "-e",
            &format!("SERVICE_NAME={p}multi"),
            "-e",
            &format!("SERVICE_443_NAME={p}tls"),
            "-l",
            "SERVICE_80_TAGS=http,v1",
        ]),
        LOOP,
    );
    let udp = lab.run(
        "dns",
        &opts(&[
            "-p",
            "127.0.0.1::53/udp",
            "-e",
            &format!("SERVICE_NAME={p}dns"),
        ]),
        LOOP,
    );
    let meta = lab.run(
        "meta",
        &opts(&[
            "-p",
            "127.0.0.1::80",
            "-e",
            &format!("SERVICE_NAME={p}meta"),
            "-e",
            "SERVICE_REGION=us",
            "-l",
            "SERVICE_REGION=eu",
            "-e",
            "SERVICE_OWNER=nobody",
            "-e",
            "SERVICE_80_OWNER=team",
            "-e",
            &format!("SERVICE_ID={p}-custom-id"),
        ]),
        LOOP,
    );
    let plain = lab.run("plain", &opts(&["-p", "127.0.0.1::8080"]), LOOP);
    lab.run(
        "ignored",
        &opts(&[
            "-p",
            "127.0.0.1::80",
            "-e",
            &format!("SERVICE_NAME={p}ign"),
            "-e",
            "SERVICE_IGNORE=1",
        ]),
        LOOP,
    );
    lab.run(
        "unpub",
        &opts(&["--expose", "80", "-e", &format!("SERVICE_NAME={p}unpub")]),
        LOOP,
    );
    let hostnet = lab.run(
        "hostnet",
        &opts(&[
            "--network",
            "host",
            "--expose",
            "7001",
            "-e",
            &format!("SERVICE_NAME={p}hostnet"),
        ]),
        LOOP,
    );
    // 5 containers give 6 services: multi has two.
    eventually(&a, "six services from five containers", || {
        docker_services(&a).len() == 6
    });
    let h = host();
    let one = |name: &str| {
        let e = catalog(&a, name);
        assert_eq!(e.len(), 1, "{name}: {e:?}");
        e[0].clone()
    };
    let e = one(&format!("{p}multi-80"));
    assert_eq!(e["ServiceID"], format!("{h}:{multi}:80"));
    assert_eq!(e["ServiceAddress"], "127.0.0.1");
    assert_eq!(e["ServicePort"], host_port(&multi, "80/tcp"));
    assert_eq!(tags(&e), json!(["fromdocker", "http", "v1"]));
    // The port-specific name has no -port suffix.
    let e = one(&format!("{p}tls"));
    assert_eq!(e["ServiceID"], format!("{h}:{multi}:443"));
    assert_eq!(e["ServicePort"], host_port(&multi, "443/tcp"));
    assert_eq!(tags(&e), json!(["fromdocker"]));
    let e = one(&format!("{p}dns"));
    assert_eq!(e["ServiceID"], format!("{h}:{udp}:53:udp"));
    assert_eq!(e["ServicePort"], host_port(&udp, "53/udp"));
    assert_eq!(tags(&e), json!(["fromdocker", "udp"]));
    let e = one(&format!("{p}meta"));
    assert_eq!(e["ServiceID"], format!("{p}-custom-id"));
    assert_eq!(e["ServiceMeta"]["region"], "eu", "labels beat env");
    assert_eq!(e["ServiceMeta"]["owner"], "team", "port keys beat generic");
    assert_eq!(
        e["ServiceMeta"]["berth-docker-container"],
        must(&["inspect", "-f", "{{.Id}}", &meta])
    );
    // No SERVICE_NAME: the image's base name.
    let e = one("berth-rules");
    assert_eq!(e["ServiceID"], format!("{h}:{plain}:8080"));
    // Host networking: every exposed port, on the agent's address.
    let e = one(&format!("{p}hostnet"));
    assert_eq!(e["ServiceID"], format!("{h}:{hostnet}:7001"));
    assert_eq!(e["ServicePort"], 7001);
    assert_eq!(e["ServiceAddress"], "127.0.0.1");
    assert!(catalog(&a, &format!("{p}ign")).is_empty());
    assert!(catalog(&a, &format!("{p}unpub")).is_empty());
    assert_eq!(catalog(&a, &format!("{p}manual")).len(), 1);

    // -internal: the container's IP and exposed port, on the network SERVICE_NETWORK names
    // once the container joins it (a network connect event re-registers it).
    let net_a = lab.network("na");
    let net_b = lab.network("nb");
    let internal = lab.agent(&["-internal"]);
    let inet = lab.run(
        "inet",
        &opts(&[
            "--network",
            &net_a,
            "--expose",
            "8080",
            "-e",
            &format!("SERVICE_NAME={p}inet"),
            "-e",
            &format!("SERVICE_NETWORK={net_b}"),
        ]),
        LOOP,
    );
    let ip_on = |net: &str| {
        must(&[
            "inspect",
            "-f",
            &format!("{{{{(index .NetworkSettings.Networks \"{net}\").IPAddress}}}}"),
            &inet,
        ])
    };
    let ip_a = ip_on(&net_a);
    let address = || {
        catalog(&internal, &format!("{p}inet"))
            .first()
            .map(|e| (e["ServiceAddress"].clone(), e["ServicePort"].clone()))
    };
    eventually(&internal, "internal service on the first network", || {
        address() == Some((json!(ip_a), json!(8080)))
    });
    must(&["network", "connect", &net_b, &inet]);
    let ip_b = ip_on(&net_b);
    eventually(
        &internal,
        "internal service moved to SERVICE_NETWORK",
        || address() == Some((json!(ip_b), json!(8080))),
    );
    // Not published: the non-internal agent never had it.
    assert!(catalog(&a, &format!("{p}inet")).is_empty());
    // The hand-registered service outlived every reconcile.
    assert_eq!(catalog(&a, &format!("{p}manual")).len(), 1);
}
