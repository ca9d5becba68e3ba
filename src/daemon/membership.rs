//! Starting LAN gossip for the agent: its config from `RuntimeConfig`, the member tags Consul
//! shows, `-join` at start, `-retry-join` in the background, and the rejoin snapshot that lets
//! a restarted agent find its pool again (`serf/members.json`, as Consul's serf snapshot).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use super::DaemonError;
use crate::agent::reconcile::{MemberState, MemberView};
use crate::config::RuntimeConfig;
use crate::gossip::{Gossip, GossipConfig, Keyring, Member, MemberStatus};

/// Consul's LAN member tags for this agent.
pub fn member_tags(c: &RuntimeConfig, node_id: &str) -> BTreeMap<String, String> {
    let mut t = BTreeMap::new();
    let mut tag = |k: &str, v: String| {
        t.insert(k.to_string(), v);
    };
    tag("role", if c.server { "consul" } else { "node" }.into());
    tag("dc", c.datacenter.clone());
    tag("segment", String::new());
    tag("id", node_id.to_string());
    tag("vsn", "2".into());
    tag("vsn_min", "2".into());
    tag("vsn_max", "3".into());
    tag(
        "build",
        format!("{}:berth-{}", crate::CONSUL_VERSION, crate::VERSION),
    );
    if c.server {
        tag("port", c.ports.server.to_string());
        tag("raft_vsn", "3".into());
        if c.bootstrap || c.dev {
            tag("bootstrap", "1".into());
        }
        if c.bootstrap_expect > 0 {
            tag("expect", c.bootstrap_expect.to_string());
        }
    }
    t
}

/// Starts gossip on `bind_addr:serf_lan`, then joins `start_join` (failing start-up when no
/// address answers, as Consul does).
pub async fn start(
    c: &RuntimeConfig,
    node_id: &str,
    data_dir: Option<&Path>,
    shutdown: CancellationToken,
) -> Result<(Gossip, tokio::task::JoinHandle<()>), DaemonError> {
    let mut g = GossipConfig::new(
        SocketAddr::new(c.bind_addr, c.ports.serf_lan),
        &c.node_name,
        node_id,
    );
    g.advertise = SocketAddr::new(c.advertise_addr, c.ports.serf_lan);
    g.tags = member_tags(c, node_id);
    g.keyring = match &c.encrypt {
        Some(key) => Some(
            Keyring::from_base64(key).map_err(|e| DaemonError::Gossip(format!("encrypt: {e}")))?,
        ),
        None => None,
    };
    g.encrypt_verify_incoming = c.encrypt_verify_incoming;
    g.encrypt_verify_outgoing = c.encrypt_verify_outgoing;
    g.probe_interval = c.gossip_lan.probe_interval;
    g.probe_timeout = c.gossip_lan.probe_timeout;
    g.suspicion_mult = c.gossip_lan.suspicion_mult;
    g.gossip_interval = c.gossip_lan.gossip_interval;
    g.gossip_nodes = c.gossip_lan.gossip_nodes as usize;
    g.reconnect_timeout = c.reconnect_timeout;
    g.data_dir = data_dir.map(Path::to_path_buf);
    let (gossip, task) = Gossip::start(g, shutdown.clone())
        .await
        .map_err(|e| DaemonError::Gossip(e.to_string()))?;
    tracing::info!(address = %gossip.local_addr(), encrypted = gossip.encrypted(), "agent: started LAN gossip");
    if !c.start_join.is_empty() {
        match gossip.join(&c.start_join).await {
            Ok(n) => tracing::info!("agent: (LAN) joined: number_of_nodes={n}"),
            Err(e) => {
                // Stop the gossip task before failing start-up, so nothing is left bound.
                shutdown.cancel();
                let _ = task.await;
                return Err(DaemonError::Gossip(format!(
                    "failed to join any of {:?} (-join / start_join): {e}",
                    c.start_join
                )));
            }
        }
    }
    Ok((gossip, task))
}

/// `-retry-join`: tries every `retry_interval` until one address answers or `retry_max`
/// attempts are spent (0 = forever); then, as Consul, the agent gives up and stops
/// (`give_up` is cancelled).
pub async fn retry_join(
    gossip: Gossip,
    addrs: Vec<String>,
    interval: Duration,
    max: u32,
    shutdown: CancellationToken,
    give_up: CancellationToken,
) {
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        match gossip.join(&addrs).await {
            Ok(n) => {
                tracing::info!("agent: Join cluster completed. Synced with {n} initial agents");
                return;
            }
            Err(e) => tracing::warn!(
                attempt,
                "agent: Join cluster failed, will retry: retry_interval={}: error={e}",
                crate::duration::format(interval)
            ),
        }
        if max != 0 && attempt >= max {
            tracing::error!(
                "agent: Join cluster failed: max join retry exhausted ({max} attempts); stopping the agent"
            );
            give_up.cancel();
            return;
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(interval) => {}
        }
    }
}

/// Rejoins the members remembered in the snapshot (in the background, so start-up does not
/// wait on dead addresses); after a graceful leave only with `rejoin_after_leave`.
pub async fn rejoin_from_snapshot(gossip: Gossip, path: PathBuf, rejoin_after_leave: bool) {
    let snap = load_snapshot(&path);
    if snap.members.is_empty() {
        return;
    }
    if snap.left && !rejoin_after_leave {
        tracing::info!(
            "agent: left gracefully last time; not rejoining (set -rejoin / rejoin_after_leave)"
        );
        return;
    }
    match gossip.join(&snap.members).await {
        Ok(n) => tracing::info!("agent: rejoined the pool from the snapshot: {n} members answered"),
        Err(e) => tracing::warn!("agent: could not rejoin members from the snapshot: {e}"),
    }
}

/// What a restarted agent remembers of its pool.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Snapshot {
    /// Gossip addresses (`ip:port`) of the other members last seen alive.
    pub members: Vec<String>,
    /// Whether the agent left gracefully (then it rejoins only with `rejoin_after_leave`).
    pub left: bool,
}

/// `data_dir/serf/members.json`.
pub fn snapshot_path(data_dir: &Path) -> PathBuf {
    data_dir.join("serf").join("members.json")
}

/// Reads the snapshot; a missing or unreadable one is empty.
pub fn load_snapshot(path: &Path) -> Snapshot {
    std::fs::read(path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

/// Writes the snapshot atomically (temp file + rename).
pub fn save_snapshot(path: &Path, s: &Snapshot) {
    let tmp = path.with_extension("json.tmp");
    let write = || -> std::io::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&tmp, serde_json::to_vec(s).unwrap_or_default())?;
        std::fs::rename(&tmp, path)
    };
    if let Err(e) = write() {
        tracing::warn!(path = %path.display(), error = %e, "agent: could not save the gossip snapshot");
    }
}

/// Keeps the snapshot in step with membership until `shutdown`.
pub async fn keep_snapshot(gossip: Gossip, path: PathBuf, me: String, shutdown: CancellationToken) {
    let mut changes = gossip.subscribe();
    loop {
        let members: Vec<String> = gossip
            .members()
            .into_iter()
            .filter(|m| m.name != me && m.status == MemberStatus::Alive)
            .map(|m| SocketAddr::new(m.addr, m.port).to_string())
            .collect();
        if !members.is_empty() {
            save_snapshot(
                &path,
                &Snapshot {
                    members,
                    left: false,
                },
            );
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            r = changes.changed() => if r.is_err() { return },
        }
    }
}

/// A gossip member as the leader's reconcile sees it.
pub fn member_view(m: &Member) -> MemberView {
    MemberView {
        name: m.name.clone(),
        id: m.id.clone(),
        addr: m.addr.to_string(),
        status: match m.status {
            MemberStatus::Alive => MemberState::Alive,
            MemberStatus::Leaving => MemberState::Leaving,
            MemberStatus::Left => MemberState::Left,
            MemberStatus::Failed | MemberStatus::None => MemberState::Failed,
        },
        server_port: (m.tags.get("role").map(String::as_str) == Some("consul"))
            .then(|| m.tags.get("port").and_then(|p| p.parse().ok()))
            .flatten(),
    }
}

/// Keeps `servers` equal to the alive servers of `datacenter` that gossip knows, as their
/// server RPC addresses, so client agents know where to send requests; calls `server_up`
/// when a server appears that was not there before, and closes pooled connections to servers
/// that went away.
pub async fn track_servers(
    gossip: Gossip,
    cluster: crate::cluster::Cluster,
    datacenter: String,
    server_up: impl Fn(),
    stop: CancellationToken,
) {
    let servers = cluster.servers();
    let mut changes = gossip.subscribe();
    loop {
        let now = server_addrs(&gossip.members(), &datacenter);
        let before = servers.order();
        // A server that left or failed: its idle pooled connections are dead, close them.
        for gone in before.iter().filter(|a| !now.contains(a)) {
            cluster.pool().forget(gone);
        }
        if now.iter().any(|a| !before.contains(a)) {
            servers.set(now);
            server_up();
        } else {
            servers.set(now);
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            r = changes.changed() => if r.is_err() { return },
        }
    }
}

/// Server RPC addresses of the alive servers of `datacenter` among `members`.
pub fn server_addrs(members: &[Member], datacenter: &str) -> Vec<String> {
    members
        .iter()
        .filter(|m| m.status == MemberStatus::Alive)
        .filter(|m| m.tags.get("dc").map(String::as_str) == Some(datacenter))
        .filter_map(|m| {
            let port: u16 = member_view(m).server_port?;
            Some(SocketAddr::new(m.addr, port).to_string())
        })
        .collect()
}
