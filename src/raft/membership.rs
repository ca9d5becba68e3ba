//! The server set: bootstrapping a new cluster with its first voters, adding a server (as a
//! learner first, so a new voter never costs the quorum an unreachable member), removing one,
//! and the configuration `/v1/operator/raft/configuration` shows.
//!
//! Every change is leader-only and answers with `WriteError` (`NoLeader`, `NotLeader`,
//! `Fatal`), as writes do, so the layer that forwards writes to the leader can forward these
//! too. Adding and removing are idempotent, so the leader's reconcile can simply retry.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use openraft::error::{ClientWriteError, InitializeError};
use openraft::{BasicNode, ChangeMembers, ServerState};

use super::node::not_leader;
use super::{RaftNode, WriteError};

/// How far (in entries) a new server may trail the leader and still count as caught up:
/// autopilot's `max_trailing_logs` default.
const MAX_TRAILING: u64 = 250;
/// How long `add_server` waits for a new server to catch up. A server that does not stays a
/// non-voter (it costs the quorum nothing) and the next call waits again.
const CATCH_UP_TIMEOUT: Duration = Duration::from_secs(30);

/// One server of the Raft configuration, as the leader (or this server) sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RaftServer {
    /// Raft node id (`raft_id` of the node UUID).
    pub id: u64,
    /// Server RPC address (`ip:port`).
    pub address: String,
    /// It is the current leader.
    pub leader: bool,
    /// It votes (a learner does not).
    pub voter: bool,
    /// Its last log index as far as this server knows (0 = unknown): exact for itself, the
    /// replicated index for others when this server leads.
    pub last_index: u64,
}

/// Maps a failed membership change into `WriteError`.
fn change_error(
    e: openraft::error::RaftError<u64, ClientWriteError<u64, BasicNode>>,
) -> WriteError {
    match e {
        openraft::error::RaftError::APIError(ClientWriteError::ForwardToLeader(f)) => not_leader(f),
        openraft::error::RaftError::APIError(ClientWriteError::ChangeMembershipError(c)) => {
            WriteError::Fatal(format!("raft configuration change refused: {c}"))
        }
        openraft::error::RaftError::Fatal(f) => WriteError::Fatal(f.to_string()),
    }
}

impl RaftNode {
    /// Whether this server has Raft state (a log or a snapshot): such a server never
    /// bootstraps again.
    pub async fn is_initialized(&self) -> Result<bool, WriteError> {
        self.raft
            .is_initialized()
            .await
            .map_err(|e| WriteError::Fatal(e.to_string()))
    }

    /// Starts a new cluster whose voters are `voters` (id, RPC address); this server must be
    /// one of them. Returns false, without error, when the node already has state.
    pub async fn initialize(&self, voters: &[(u64, String)]) -> Result<bool, WriteError> {
        let members: BTreeMap<u64, BasicNode> = voters
            .iter()
            .map(|(id, addr)| (*id, BasicNode::new(addr)))
            .collect();
        match self.raft.initialize(members).await {
            Ok(()) => Ok(true),
            Err(openraft::error::RaftError::APIError(InitializeError::NotAllowed(_))) => Ok(false),
            Err(e) => Err(WriteError::Fatal(e.to_string())),
        }
    }

    /// This server's Raft node id.
    pub fn id(&self) -> u64 {
        self.raft.metrics().borrow().id
    }

    /// The servers of the current configuration (voters and learners), ordered by id.
    pub fn configuration(&self) -> Vec<RaftServer> {
        let metrics = self.raft.metrics();
        let m = metrics.borrow();
        let membership = m.membership_config.membership();
        let voters: BTreeSet<u64> = membership.voter_ids().collect();
        membership
            .nodes()
            .map(|(id, node)| RaftServer {
                id: *id,
                address: node.addr.clone(),
                leader: m.current_leader == Some(*id),
                voter: voters.contains(id),
                last_index: if *id == m.id {
                    m.last_log_index.unwrap_or(0)
                } else {
                    m.replication
                        .as_ref()
                        .and_then(|r| r.get(id).cloned().flatten())
                        .map_or(0, |l| l.index)
                },
            })
            .collect()
    }

    /// Makes `id` at `addr` a voter: added as a learner, given time to catch up, then
    /// promoted. Nothing to do when it already votes at that address; a member whose address
    /// changed gets the new one. Leader only.
    pub async fn add_server(&self, id: u64, addr: &str) -> Result<(), WriteError> {
        self.add_server_within(id, addr, CATCH_UP_TIMEOUT).await
    }

    /// `add_server` with the catch-up wait as a parameter (tests use a short one).
    pub(super) async fn add_server_within(
        &self,
        id: u64,
        addr: &str,
        catch_up: Duration,
    ) -> Result<(), WriteError> {
        self.require_leader()?;
        let (known, voter) = {
            let metrics = self.raft.metrics();
            let m = metrics.borrow();
            let membership = m.membership_config.membership();
            (
                membership.get_node(&id).map(|n| n.addr.clone()),
                membership.voter_ids().any(|v| v == id),
            )
        };
        let node = BasicNode::new(addr);
        match known.as_deref() {
            Some(a) if a == addr && voter => return Ok(()),
            Some(old) if old != addr => {
                tracing::info!(id, old, new = addr, "raft: updating a server's address");
                let change = ChangeMembers::SetNodes(BTreeMap::from([(id, node)]));
                bounded(self.raft.change_membership(change, true)).await?;
            }
            Some(_) => {}
            None => {
                tracing::info!(id, addr, "raft: adding server as a non-voter");
                bounded(self.raft.add_learner(id, node, false)).await?;
            }
        }
        if voter {
            return Ok(());
        }
        self.wait_caught_up(id, addr, catch_up).await?;
        tracing::info!(id, addr, "raft: promoting server to voter");
        let change = ChangeMembers::AddVoterIds(BTreeSet::from([id]));
        bounded(self.raft.change_membership(change, false)).await?;
        Ok(())
    }

    /// Removes `id` from the configuration (voter or learner). Nothing to do when it is not
    /// there. Leader only; removing the last voter is refused.
    pub async fn remove_server(&self, id: u64) -> Result<(), WriteError> {
        self.require_leader()?;
        let (known, voter) = {
            let metrics = self.raft.metrics();
            let m = metrics.borrow();
            let membership = m.membership_config.membership();
            (
                membership.get_node(&id).is_some(),
                membership.voter_ids().any(|v| v == id),
            )
        };
        if !known {
            return Ok(());
        }
        let ids = BTreeSet::from([id]);
        let change = if voter {
            ChangeMembers::RemoveVoters(ids)
        } else {
            ChangeMembers::RemoveNodes(ids)
        };
        bounded(self.raft.change_membership(change, false)).await?;
        tracing::info!(id, "raft: removed server");
        Ok(())
    }

    /// Ok on the leader; otherwise the error a write would get.
    fn require_leader(&self) -> Result<(), WriteError> {
        let metrics = self.raft.metrics();
        let m = metrics.borrow();
        if m.state == ServerState::Leader {
            return Ok(());
        }
        let leader_node = m
            .current_leader
            .and_then(|l| m.membership_config.membership().get_node(&l).cloned());
        Err(not_leader(openraft::error::ForwardToLeader {
            leader_id: m.current_leader,
            leader_node,
        }))
    }

    /// Waits until learner `id` holds the configuration that added it and trails the leader
    /// by at most `MAX_TRAILING` entries. Returns early (Ok) when this server stops leading,
    /// so the promotion that follows fails with the leader's address.
    async fn wait_caught_up(
        &self,
        id: u64,
        addr: &str,
        within: Duration,
    ) -> Result<(), WriteError> {
        let caught_up = |m: &openraft::RaftMetrics<u64, BasicNode>| {
            let Some(repl) = &m.replication else {
                return true;
            };
            let config_index = m.membership_config.log_id().map_or(0, |l| l.index);
            let last = m.last_log_index.unwrap_or(0);
            repl.get(&id).cloned().flatten().is_some_and(|matched| {
                matched.index >= config_index && matched.index + MAX_TRAILING >= last
            })
        };
        match self
            .raft
            .wait(Some(within))
            .metrics(caught_up, "new server caught up")
            .await
        {
            Ok(_) => Ok(()),
            Err(openraft::metrics::WaitError::Timeout(..)) => Err(WriteError::Fatal(format!(
                "server {id} at {addr} did not catch up within {within:?}; it stays a non-voter \
                 until it does"
            ))),
            Err(openraft::metrics::WaitError::ShuttingDown) => {
                Err(WriteError::Fatal("raft is shutting down".into()))
            }
        }
    }
}

#[cfg(test)]
mod tests;

/// Longest a membership change may wait to commit: a leader that lost its quorum after the
/// lease check must answer, not hang (the change may still commit later).
const CHANGE_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs a membership change with `CHANGE_TIMEOUT`, mapping its errors.
async fn bounded<T>(
    change: impl std::future::Future<
        Output = Result<T, openraft::error::RaftError<u64, ClientWriteError<u64, BasicNode>>>,
    >,
) -> Result<T, WriteError> {
    match tokio::time::timeout(CHANGE_TIMEOUT, change).await {
        Ok(r) => r.map_err(change_error),
        Err(_) => Err(WriteError::Timeout(CHANGE_TIMEOUT)),
    }
}
