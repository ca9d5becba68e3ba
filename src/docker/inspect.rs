//! Docker's inspect answer as the few facts the rules read, and whether the container should
//! have services at all (running and not paused).

use bollard::models::ContainerInspectResponse;

use super::rules::ContainerInfo;

/// The facts of `c`, and whether it is running (not paused).
pub fn info(c: &ContainerInspectResponse) -> (ContainerInfo, bool) {
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
    let running = state.and_then(|s| s.running).unwrap_or(false)
        && !state.and_then(|s| s.paused).unwrap_or(false);
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
    };
    (info, running)
}

/// `80/tcp` → (80, "tcp").
fn port_key(key: &str) -> Option<(u16, String)> {
    let (port, proto) = key.split_once('/').unwrap_or((key, "tcp"));
    Some((port.parse().ok()?, proto.to_string()))
}
