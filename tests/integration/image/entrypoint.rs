//! The image's entrypoint keeps the official Consul image's conventions: CONSUL_LOCAL_CONFIG
//! lands in /consul/config/local.json, CONSUL_BIND_INTERFACE and CONSUL_CLIENT_INTERFACE pick
//! that interface's address, the agent runs as `consul` (joining the Docker socket's group),
//! flags alone mean `agent`, other subcommands run as they are, and `consul` is Berth.

use std::time::Duration;

use super::{eventually, get_json, images, ip_of};
use crate::docker::{docker, must};

/// Removes the container on drop.
struct Container(String);

impl Drop for Container {
    fn drop(&mut self) {
        let _ = docker(&["rm", "-f", &self.0]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entrypoint_follows_the_consul_image_conventions() {
    let img = images();
    let name = format!("berth-entry-{}", std::process::id());
    let local = r#"{"node_name": "from-local-config", "ui_config": {"enabled": true}}"#;
    let c = Container(must(&[
        "run",
        "-d",
        "--name",
        &name,
        "-e",
        &format!("CONSUL_LOCAL_CONFIG={local}"),
        "-e",
        "CONSUL_BIND_INTERFACE=eth0",
        "-e",
        "CONSUL_CLIENT_INTERFACE=eth0",
        "-v",
        "/var/run/docker.sock:/var/run/docker.sock",
        &img.berth,
        // Flags alone: the entrypoint makes them `berth agent …`.
        "-dev",
        "-require-label",
        "berth-entrypoint-test",
    ]));
    let ip = ip_of(&c.0);
    let api = format!("http://{ip}:8500");
    // Registration connects (the socket's group was joined) soon after the agent answers.
    let me = eventually(
        Duration::from_secs(30),
        "the agent answers on eth0's address, with Docker registration connected",
        async || {
            get_json(&format!("{api}/v1/agent/self"))
                .await
                .filter(|me| me["Docker"]["State"] == "connected")
        },
    )
    .await;
    assert_eq!(me["Config"]["NodeName"], "from-local-config", "{me}");
    assert_eq!(me["Member"]["Addr"], ip.as_str(), "{me}");
    assert_eq!(
        must(&["exec", &c.0, "cat", "/consul/config/local.json"]),
        local
    );
    // CONSUL_CLIENT_INTERFACE: HTTP listens on eth0's address, not on loopback.
    let (ok, _) = docker(&[
        "exec",
        &c.0,
        "bash",
        "-c",
        "exec 3<>/dev/tcp/127.0.0.1/8500",
    ]);
    assert!(
        !ok,
        "HTTP should not listen on 127.0.0.1 with CONSUL_CLIENT_INTERFACE=eth0"
    );

    // The agent runs as `consul`, with the socket's group among its groups.
    let uid = must(&["exec", &c.0, "id", "-u", "consul"]);
    let sock_gid = must(&["exec", &c.0, "stat", "-c", "%g", "/var/run/docker.sock"]);
    let status = must(&[
        "exec",
        &c.0,
        "bash",
        "-c",
        "for p in /proc/[0-9]*; do if [ \"$(cat $p/comm)\" = berth ]; then cat $p/status; fi; done",
    ]);
    let field = |k: &str| {
        status
            .lines()
            .find(|l| l.starts_with(k))
            .unwrap_or_else(|| panic!("no {k} in {status}"))
            .to_string()
    };
    assert!(
        field("Uid:").split_whitespace().nth(1) == Some(uid.as_str()),
        "{status}"
    );
    assert!(
        field("Groups:").split_whitespace().any(|g| g == sock_gid),
        "{status}"
    );

    // `consul` is Berth; subcommands run as they are.
    let members = must(&[
        "exec",
        &c.0,
        "consul",
        "members",
        "-http-addr",
        &format!("{ip}:8500"),
    ]);
    assert!(members.contains("from-local-config"), "{members}");
    let version = must(&["run", "--rm", &img.berth, "version"]);
    assert!(
        version.starts_with("Consul v") || version.contains("Berth"),
        "{version}"
    );
    let (ok, out) = docker(&[
        "run",
        "--rm",
        "-e",
        &format!("CONSUL_LOCAL_CONFIG={local}"),
        &img.berth,
        "validate",
        "/consul/config",
    ]);
    assert!(
        ok && out.contains("Configuration is valid!"),
        "validate /consul/config: {out}"
    );
}
