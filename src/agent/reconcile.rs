//! The leader turns gossip membership into catalog state, as Consul's leader does
//! (`reconcileMember`): alive → node registered with `serfHealth` passing (and the `consul`
//! service for servers); failed → `serfHealth` critical, so every service on the node leaves
//! `?passing` answers; left, or gone from gossip altogether (reaped) → node deregistered.
//! A node coming back alive is passing again without anyone re-registering it.
//!
//! `plan` is pure (tables + members → commands) so the rules are table-tested; `run` is the
//! leader's task that applies the plan whenever membership changes and once a minute.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::identity::{consul_service, SERF_CHECK_ID};
use crate::catalog::command::{Command, Deregister, NodeRegistration, Register};
use crate::catalog::Tables;
use crate::cluster::Cluster;
use crate::model::{Check, Health};

/// Output of `serfHealth` while the member is alive (Consul's text).
pub const ALIVE_OUTPUT: &str = "Agent alive and reachable";
/// Output of `serfHealth` once the member failed (Consul's text).
pub const FAILED_OUTPUT: &str = "Agent not live or unreachable";
/// How often the leader reconciles even without a membership change.
const INTERVAL: Duration = Duration::from_secs(60);

/// What the leader needs to know of one gossip member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberView {
    /// Node name.
    pub name: String,
    /// Node UUID.
    pub id: String,
    /// Address other nodes reach it at.
    pub addr: String,
    /// Gossip status.
    pub status: MemberState,
    /// Server RPC port when the member is a server.
    pub server_port: Option<u16>,
}

/// The gossip states the catalog cares about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberState {
    /// Reachable.
    Alive,
    /// Announced it is leaving; nothing changes until it has left.
    Leaving,
    /// Left gracefully (or was force-left).
    Left,
    /// Unreachable.
    Failed,
}

fn serf_check(node: &str, status: Health) -> Check {
    let output = if status == Health::Passing {
        ALIVE_OUTPUT
    } else {
        FAILED_OUTPUT
    };
    Check {
        node: node.into(),
        check_id: SERF_CHECK_ID.into(),
        name: "Serf Health Status".into(),
        status,
        output: output.into(),
        ..Check::default()
    }
}

/// The commands that bring the catalog in line with `members` (and `reaped`, the names gossip
/// forgot), in datacenter `dc`.
pub fn plan(
    t: &Tables,
    members: &[MemberView],
    reaped: &BTreeSet<String>,
    dc: &str,
) -> Vec<Command> {
    let mut out = Vec::new();
    let (nodes, _) = t.nodes();
    let known: BTreeMap<&str, _> = nodes.iter().map(|n| (n.name.as_str(), *n)).collect();
    for m in members {
        let node = known.get(m.name.as_str());
        let serf = t
            .node_checks(&m.name)
            .0
            .into_iter()
            .find(|c| c.check_id == SERF_CHECK_ID);
        match m.status {
            MemberState::Alive | MemberState::Failed => {
                let want = if m.status == MemberState::Alive {
                    Health::Passing
                } else {
                    Health::Critical
                };
                let addr_ok = node.is_some_and(|n| n.address == m.addr && n.id == m.id);
                let check_ok = serf.is_some_and(|c| {
                    c.status == want && c.output == serf_check(&m.name, want).output
                });
                let consul_ok = match m.server_port {
                    Some(port) if want == Health::Passing => t
                        .node_services(&m.name)
                        .0
                        .is_some_and(|(_, s)| s.iter().any(|s| s.id == "consul" && s.port == port)),
                    _ => true,
                };
                if addr_ok && check_ok && consul_ok {
                    continue;
                }
                // Keep what the member's own agent registered (meta, tagged addresses).
                let (meta, tagged) = node
                    .filter(|n| n.address == m.addr)
                    .map(|n| (n.meta.clone(), n.tagged_addresses.clone()))
                    .unwrap_or_else(|| {
                        let tagged = ["lan", "lan_ipv4", "wan", "wan_ipv4"]
                            .iter()
                            .map(|k| (k.to_string(), m.addr.clone()))
                            .collect();
                        (BTreeMap::new(), tagged)
                    });
                let reg = Register {
                    node: NodeRegistration {
                        id: m.id.clone(),
                        name: m.name.clone(),
                        address: m.addr.clone(),
                        datacenter: dc.to_string(),
                        tagged_addresses: tagged,
                        meta,
                    },
                    skip_node_update: false,
                    service: m
                        .server_port
                        .filter(|_| want == Health::Passing)
                        .map(|p| consul_service(&m.name, p)),
                    checks: vec![serf_check(&m.name, want)],
                };
                out.push(Command::Register(Box::new(reg)));
            }
            MemberState::Left if node.is_some() => {
                out.push(Command::Deregister(Deregister {
                    node: m.name.clone(),
                    service_id: None,
                    check_id: None,
                }));
            }
            MemberState::Left | MemberState::Leaving => {}
        }
    }
    // Nodes gossip brought into the catalog (they carry serfHealth) that gossip does not list:
    // reaped or pruned ones are deregistered; unknown ones (this leader just started and has
    // not heard of them yet) only turn critical, and come back when they rejoin.
    let names: BTreeSet<&str> = members.iter().map(|m| m.name.as_str()).collect();
    for n in nodes {
        if names.contains(n.name.as_str()) {
            continue;
        }
        let Some(serf) = t
            .node_checks(&n.name)
            .0
            .into_iter()
            .find(|c| c.check_id == SERF_CHECK_ID)
        else {
            continue;
        };
        if reaped.contains(&n.name) {
            out.push(Command::Deregister(Deregister {
                node: n.name.clone(),
                service_id: None,
                check_id: None,
            }));
        } else if serf.status != Health::Critical {
            let reg = Register {
                node: NodeRegistration {
                    name: n.name.clone(),
                    ..Default::default()
                },
                skip_node_update: true,
                service: None,
                checks: vec![serf_check(&n.name, Health::Critical)],
            };
            out.push(Command::Register(Box::new(reg)));
        }
    }
    out
}

/// The leader's reconcile loop: on every membership change (and every minute) while this
/// server leads, applies `plan`. `members` reads the current membership and the reaped names.
pub async fn run(
    cluster: Cluster,
    store: crate::catalog::Store,
    dc: String,
    mut changes: watch::Receiver<u64>,
    members: impl Fn() -> (Vec<MemberView>, BTreeSet<String>) + Send,
    shutdown: CancellationToken,
) {
    let mut tick = tokio::time::interval(INTERVAL);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            r = changes.changed() => if r.is_err() { return },
            _ = tick.tick() => {}
        }
        if !cluster.leader_info().is_leader {
            continue;
        }
        let (current, reaped) = members();
        let commands = store.read(|t| plan(t, &current, &reaped, &dc));
        for cmd in commands {
            if let Err(e) = cluster.write(cmd).await {
                tracing::warn!(error = %e, "leader: failed to reconcile a member into the catalog; will retry");
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests;
