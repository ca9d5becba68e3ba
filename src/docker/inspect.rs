//! Docker's inspect answer as the few facts the rules read, and whether the container should
//! have services at all (running and not paused).

use bollard::models::ContainerInspectResponse;

use super::rules::ContainerInfo;

/// Where a container is in its life, as far as its services go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Life {
    /// Running and not paused: it has its services.
    Running,
    /// Paused: out of the catalog until unpaused.
    Paused,
    /// Stopped with this exit code (`-deregister on-success` keeps a failed one's services).
    Exited(i64),
}

/// The facts of `c`, and where it is in its life.
pub fn info(c: &ContainerInspectResponse) -> (ContainerInfo, Life) {
    let config = c.config.as_ref();
    let net = c.network_settings.as_ref();
    let exposed = config
        .and_then(|cfg| cfg.exposed_ports.as_ref())
        .map(|ports| ports.iter().filter_map(|p| port_key(p)).collect())
        .unwrap_or_default();
    let mut bindings = Vec::new();
    for (key, list) in net.and_then(|n| n.ports.as_ref()).into_iter().flatten() {
        let Some((port, proto)) = port_key(key) else {
            continue;
        };
        for b in list.iter().flatten() {
            let host_port = b.host_port.as_deref().and_then(|p| p.parse().ok());
            if let Some(hp) = host_port {
                let ip = b.host_ip.clone().unwrap_or_default();
                bindings.push((port, proto.clone(), ip, hp));
            }
        }
    }
    let mut networks: Vec<(String, String)> = net
        .and_then(|n| n.networks.as_ref())
        .map(|m| {
            m.iter()
                .filter_map(|(name, e)| {
                    let ip = e.ip_address.clone().filter(|ip| !ip.is_empty())?;
                    Some((name.clone(), ip))
                })
                .collect()
        })
        .unwrap_or_default();
    networks.sort();
    let state = c.state.as_ref();
    let life = match state {
        Some(s) if s.paused == Some(true) => Life::Paused,
        Some(s) if s.running == Some(true) => Life::Running,
        s => Life::Exited(s.and_then(|s| s.exit_code).unwrap_or(0)),
    };
    let health = state.and_then(|s| s.health.as_ref()).and_then(|h| {
        let status = h.status.as_ref()?.to_string();
        let last = h
            .log
            .as_ref()
            .and_then(|l| l.last())
            .and_then(|r| r.output.clone())
            .unwrap_or_default();
        Some((status, last))
    });
    let info = ContainerInfo {
        id: c.id.clone().unwrap_or_default(),
        name: c
            .name
            .as_deref()
            .unwrap_or_default()
            .trim_start_matches('/')
            .to_string(),
        image: config.and_then(|cfg| cfg.image.clone()).unwrap_or_default(),
        env: config.and_then(|cfg| cfg.env.clone()).unwrap_or_default(),
        labels: config
            .and_then(|cfg| cfg.labels.clone())
            .unwrap_or_default(),
        exposed,
        bindings,
        network_mode: c
            .host_config
            .as_ref()
            .and_then(|h| h.network_mode.clone())
            .unwrap_or_default(),
        networks,
        health,
    };
    (info, life)
}

/// `80/tcp` → (80, "tcp").
fn port_key(key: &str) -> Option<(u16, String)> {
    let (port, proto) = key.split_once('/').unwrap_or((key, "tcp"));
    Some((port.parse().ok()?, proto.to_string()))
}
