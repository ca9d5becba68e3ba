//! `bootstrap_expect`: a server with no Raft state waits until gossip shows the expected
//! number of servers, then the cluster starts with all of them as voters (Consul's
//! `maybeBootstrap`).
//!
//! Consul has every server bootstrap with the same configuration. Here exactly one does: the
//! alive server with the lowest node name, which initializes Raft with every alive server it
//! sees; the others learn the configuration when it replicates to them. Before it does, it
//! asks each of them over server RPC whether it already has Raft state, and gives up
//! bootstrapping if one has (a new server joining a running cluster must be added by the
//! leader, never start a cluster of its own); an unreachable peer postpones the attempt.
//! Disagreement stops everything, as in Consul: a server with another `expect`, or in
//! `bootstrap` mode, is an error and nobody bootstraps. So is a server without `expect`.
//!
//! `decide` is the pure rule (table-tested); `run` is the task that applies it on every
//! gossip change until this server has Raft state or knows a leader.

use std::collections::BTreeSet;
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::raft_members::server_peer;
use crate::gossip::{Member, MemberStatus};
use crate::raft::RaftNode;

/// What the would-be voters said when asked for their Raft state.
enum Peers {
    /// None has any: bootstrapping is safe.
    Pristine,
    /// This one did not answer.
    Unreachable(String),
    /// This one already belongs to a cluster.
    Initialized(String),
}

/// How long a peer may take to say whether it has Raft state.
const ASK_TIMEOUT: Duration = Duration::from_secs(2);

/// Asks every voter but `me` whether it already has Raft state.
async fn peers_pristine(pool: &crate::rpc::Pool, voters: &[(u64, String)], me: u64) -> Peers {
    for (_, addr) in voters.iter().filter(|(id, _)| *id != me) {
        match pool
            .call(addr, &crate::rpc::Request::RaftStatus, ASK_TIMEOUT)
            .await
        {
            Ok(crate::rpc::Reply::RaftStatus { initialized: false }) => {}
            Ok(crate::rpc::Reply::RaftStatus { initialized: true }) => {
                return Peers::Initialized(addr.clone())
            }
            _ => return Peers::Unreachable(addr.clone()),
        }
    }
    Peers::Pristine
}

/// How often `run` also checks whether Raft state arrived from a leader meanwhile.
const RECHECK: Duration = Duration::from_secs(1);

/// What this server should do about bootstrapping now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Fewer than `expect` alive servers so far.
    Wait {
        /// Alive servers seen (this one included).
        seen: usize,
    },
    /// A server disagrees; nobody bootstraps until it is fixed (Consul's error text).
    Conflict(String),
    /// This server starts the cluster with these voters: (raft id, `ip:port`), by name.
    Bootstrap(Vec<(u64, String)>),
    /// Another server (`chosen`) starts the cluster.
    NotMe {
        /// The node name of the server that bootstraps.
        chosen: String,
    },
}

/// The rule for server `me` (node name) of datacenter `dc` expecting `expect` servers, given
/// the gossip members. Only alive servers of `dc` count; clients, other datacenters and
/// failed or departed members are ignored.
pub fn decide(me: &str, dc: &str, expect: u32, members: &[Member]) -> Decision {
    let mut servers = Vec::new();
    let mut ids = BTreeSet::new();
    for m in members.iter().filter(|m| m.status == MemberStatus::Alive) {
        let Some(p) = server_peer(m, dc) else {
            continue;
        };
        if m.tags.contains_key("bootstrap") {
            return Decision::Conflict(format!(
                "Member has bootstrap mode. Expect disabled.: member={}",
                m.name
            ));
        }
        match m.tags.get("expect").and_then(|e| e.parse::<u32>().ok()) {
            Some(n) if n == expect => {}
            Some(n) if n != 0 => {
                return Decision::Conflict(format!(
                    "Member has a conflicting expect value. All nodes should expect the same number.: member={} expect={n}",
                    m.name
                ))
            }
            _ => {
                return Decision::Conflict(format!(
                    "Member has no expect value; every server must set the same bootstrap_expect ({expect}) until the cluster has formed: member={}",
                    m.name
                ))
            }
        }
        if !ids.insert(p.id) {
            return Decision::Conflict(format!(
                "Member shares its node ID with another server: member={}",
                m.name
            ));
        }
        servers.push(p);
    }
    if servers.len() < expect as usize || !servers.iter().any(|p| p.name == me) {
        return Decision::Wait {
            seen: servers.len(),
        };
    }
    servers.sort_by(|a, b| a.name.cmp(&b.name));
    if servers[0].name != me {
        return Decision::NotMe {
            chosen: servers[0].name.clone(),
        };
    }
    Decision::Bootstrap(servers.into_iter().map(|p| (p.id, p.addr)).collect())
}

/// Applies `decide` on every gossip change (and every second) until this server has Raft
/// state (bootstrapped here or replicated from a leader) or knows a leader; does nothing
/// when the data dir already held Raft state. `me`, `dc`, `expect`: this server's node name,
/// datacenter and `bootstrap_expect`; `members` reads the gossip members.
#[allow(clippy::too_many_arguments)] // the task's inputs, handed over once by the daemon
pub async fn run(
    raft: RaftNode,
    me: String,
    dc: String,
    expect: u32,
    members: impl Fn() -> Vec<Member> + Send,
    mut changes: watch::Receiver<u64>,
    pool: crate::rpc::Pool,
    shutdown: CancellationToken,
) {
    match raft.is_initialized().await {
        Ok(true) => {
            tracing::info!("agent.server: Raft data found, disabling bootstrap mode");
            return;
        }
        Ok(false) => {}
        Err(e) => {
            tracing::warn!(error = %e, "agent.server: bootstrap: raft is not running");
            return;
        }
    }
    let mut last_conflict = String::new();
    let mut tick = tokio::time::interval(RECHECK);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            r = changes.changed() => if r.is_err() { return },
            _ = tick.tick() => {}
        }
        if raft.leader_info().known_leader || raft.is_initialized().await.unwrap_or(true) {
            return;
        }
        match decide(&me, &dc, expect, &members()) {
            Decision::Wait { seen } => {
                tracing::debug!(
                    seen,
                    expect,
                    "agent.server: waiting for servers to bootstrap"
                )
            }
            Decision::NotMe { chosen } => {
                tracing::debug!(%chosen, "agent.server: expected peers found; waiting for the chosen server to bootstrap")
            }
            Decision::Conflict(why) => {
                if why != last_conflict {
                    tracing::error!("agent.server: {why}");
                    last_conflict = why;
                }
            }
            Decision::Bootstrap(voters) => {
                let addrs: Vec<&str> = voters.iter().map(|(_, a)| a.as_str()).collect();
                tracing::info!(
                    "agent.server: Found expected number of peers, attempting bootstrap: peers={}",
                    addrs.join(",")
                );
                match peers_pristine(&pool, &voters, raft.id()).await {
                    Peers::Pristine => {}
                    Peers::Unreachable(addr) => {
                        tracing::warn!("agent.server: cannot ask {addr} for its Raft state; bootstrap postponed");
                        continue;
                    }
                    Peers::Initialized(addr) => {
                        tracing::info!("agent.server: Existing Raft peers reported by server, disabling bootstrap mode: server={addr}");
                        return;
                    }
                }
                match raft.initialize(&voters).await {
                    Ok(_) => return,
                    Err(e) => {
                        tracing::error!("agent.server: failed to bootstrap cluster: error={e}")
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
