//! The leader keeps the Raft server set in line with gossip, as Consul's leader does
//! (`joinConsulServer` / `removeConsulServer` plus autopilot's promotion): an alive server of
//! this datacenter that does not vote is added (learner → caught up → voter); a server that
//! left (gracefully or by force-leave) or that gossip forgot (reaped, pruned) is removed. A
//! failed server stays a voter: it may come back, and dropping it would hide the lost quorum.
//! A server at the address of a voter with another id replaced it: the old id is removed.
//!
//! The leader never removes itself: a leaving leader steps down first.
//!
//! `plan` is pure (servers + configuration → changes) and table-tested; `run` is the leader's
//! task that applies it on every membership change and every few seconds.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::gossip::{Member, MemberStatus};
use crate::raft::{raft_id, RaftNode, RaftServer, WriteError};

/// How often the leader re-checks without a membership change.
const INTERVAL: Duration = Duration::from_secs(5);

/// A Consul server of this datacenter, as gossip shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerPeer {
    /// Node name.
    pub name: String,
    /// Raft id (`raft_id` of its `id` tag).
    pub id: u64,
    /// Server RPC address: gossip address with the `port` tag.
    pub addr: String,
    /// Gossip status; `None` once gossip forgot the node (reaped or pruned).
    pub status: Option<MemberStatus>,
}

/// Reads a gossip member as a server of datacenter `dc`: role `consul`, same `dc` tag, an
/// `id` tag and a valid `port` tag. Anything else is not a server here.
pub fn server_peer(m: &Member, dc: &str) -> Option<ServerPeer> {
    let tag = |k: &str| m.tags.get(k).map(String::as_str);
    if tag("role") != Some("consul") || tag("dc") != Some(dc) {
        return None;
    }
    let port: u16 = tag("port")?.parse().ok()?;
    let uuid = tag("id").filter(|id| uuid::Uuid::parse_str(id).is_ok())?;
    Some(ServerPeer {
        name: m.name.clone(),
        id: raft_id(uuid),
        addr: SocketAddr::new(m.addr, port).to_string(),
        status: Some(m.status),
    })
}

/// One change the leader makes to the Raft configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Make this server a voter (or give it its new address).
    Add(ServerPeer),
    /// Take this server out of the configuration.
    Remove {
        /// Node name, for the log.
        name: String,
        /// Raft id.
        id: u64,
        /// Its address in the configuration.
        addr: String,
        /// Why (for the log).
        why: &'static str,
    },
    /// This leader is leaving: it does not remove itself (it steps down first).
    KeepSelf,
}

/// The changes that bring `config` in line with `peers` (the servers gossip lists, plus the
/// ones it forgot with `status: None`). `me` is this leader's Raft id. Removals come first.
pub fn plan(me: u64, peers: &[ServerPeer], config: &[RaftServer]) -> Vec<Change> {
    let by_id: BTreeMap<u64, &RaftServer> = config.iter().map(|s| (s.id, s)).collect();
    let mut removes = Vec::new();
    let mut adds = Vec::new();
    let mut keep_self = false;
    for p in peers {
        let gone = matches!(p.status, None | Some(MemberStatus::Left));
        if p.id == me {
            keep_self |= gone;
            continue;
        }
        if gone {
            if let Some(s) = by_id.get(&p.id) {
                let why = if p.status.is_none() { "reaped" } else { "left" };
                removes.push(remove(&p.name, s, why));
            }
            continue;
        }
        if p.status != Some(MemberStatus::Alive) {
            continue;
        }
        for s in config
            .iter()
            .filter(|s| s.address == p.addr && s.id != p.id)
        {
            if s.id != me {
                removes.push(remove(&p.name, s, "replaced by a server with a new id"));
            }
        }
        let current = by_id.get(&p.id);
        if !current.is_some_and(|s| s.voter && s.address == p.addr) {
            adds.push(Change::Add(p.clone()));
        }
    }
    let mut seen = BTreeSet::new();
    removes.retain(|c| matches!(c, Change::Remove { id, .. } if seen.insert(*id)));
    removes.extend(adds);
    if keep_self {
        removes.push(Change::KeepSelf);
    }
    removes
}

fn remove(name: &str, s: &RaftServer, why: &'static str) -> Change {
    Change::Remove {
        name: name.to_string(),
        id: s.id,
        addr: s.address.clone(),
        why,
    }
}

/// The leader's loop: on every membership change and every `INTERVAL` while this server
/// leads, applies `plan`. `members` reads the gossip members and the names gossip forgot
/// (as for `reconcile::run`); `dc` is this server's datacenter. Runs until `shutdown`.
pub async fn run(
    raft: RaftNode,
    dc: String,
    mut changes: watch::Receiver<u64>,
    members: impl Fn() -> (Vec<Member>, BTreeSet<String>) + Send,
    shutdown: CancellationToken,
) {
    let me = raft.id();
    // Servers seen alive or failed, so a name gossip later forgets can be found by id.
    let mut seen: BTreeMap<String, ServerPeer> = BTreeMap::new();
    let mut warned_self = false;
    let mut tick = tokio::time::interval(INTERVAL);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            r = changes.changed() => if r.is_err() { return },
            _ = tick.tick() => {}
        }
        let (current, forgotten) = members();
        let mut peers: Vec<ServerPeer> =
            current.iter().filter_map(|m| server_peer(m, &dc)).collect();
        for p in &peers {
            seen.insert(p.name.clone(), p.clone());
        }
        let listed: BTreeSet<&str> = current.iter().map(|m| m.name.as_str()).collect();
        seen.retain(|name, _| listed.contains(name.as_str()) || forgotten.contains(name));
        for name in forgotten.iter().filter(|n| !listed.contains(n.as_str())) {
            if let Some(p) = seen.get(name) {
                peers.push(ServerPeer {
                    status: None,
                    ..p.clone()
                });
            }
        }
        if !raft.leader_info().is_leader {
            continue;
        }
        for change in plan(me, &peers, &raft.configuration()) {
            // A change may wait for a learner to catch up: shutdown does not wait for it.
            let applied = tokio::select! {
                _ = shutdown.cancelled() => return,
                ok = apply(&raft, change, &mut warned_self) => ok,
            };
            if !applied {
                break;
            }
        }
    }
}

/// Applies one change; false when the rest should wait (leadership lost).
async fn apply(raft: &RaftNode, change: Change, warned_self: &mut bool) -> bool {
    let result = match &change {
        Change::Add(p) => {
            tracing::info!(
                "agent.leader: adding server to the raft configuration: server={} address={}",
                p.name,
                p.addr
            );
            raft.add_server(p.id, &p.addr).await
        }
        Change::Remove {
            name,
            id,
            addr,
            why,
        } => {
            tracing::info!(
                "agent.leader: removing server from the raft configuration ({why}): server={name} address={addr}"
            );
            raft.remove_server(*id).await
        }
        Change::KeepSelf => {
            if !*warned_self {
                tracing::warn!("agent.leader: this leader is leaving; not removing itself from the raft configuration");
                *warned_self = true;
            }
            Ok(())
        }
    };
    match result {
        Ok(()) => true,
        Err(e @ (WriteError::NotLeader { .. } | WriteError::NoLeader)) => {
            tracing::debug!(error = %e, "agent.leader: lost leadership during a raft membership change");
            false
        }
        Err(e) => {
            tracing::warn!(error = %e, "agent.leader: raft membership change failed; will retry");
            true
        }
    }
}

#[cfg(test)]
mod tests;
