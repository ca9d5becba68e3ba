//! `RaftNode`: the handle the rest of Berth holds on the Raft server.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use openraft::error::{CheckIsLeaderError, ClientWriteError, ForwardToLeader, InitializeError};
use openraft::metrics::{RaftMetrics, WaitError};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use openraft::storage::RaftLogStorage;
use openraft::{BasicNode, Raft, ServerState};
use tokio::sync::watch;

use super::log_store::LogStore;
use super::network::{Contacts, Network};

/// Longest a write waits to be committed (Consul's `rpc_hold_timeout` is 7 s): a leader cut off
/// from its quorum must answer, not hang.
const WRITE_TIMEOUT: Duration = Duration::from_secs(7);
use super::snapshot_store::SnapshotStore;
use super::state_machine::StateMachine;
use super::{RaftError, RaftOptions, TypeConfig, WriteError};
use crate::catalog::{Command, Response, Store};

/// What the HTTP layer reports about leadership (`X-Consul-KnownLeader`, `-LastContact`,
/// `/v1/status/leader`) and Raft progress (`/v1/operator/raft`, agent self).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LeaderInfo {
    /// A leader is known.
    pub known_leader: bool,
    /// The leader's RPC address, when known.
    pub leader_addr: Option<String>,
    /// Milliseconds since the leader was last heard from: 0 on the leader. Followers report
    /// 0 until the server RPC transport records leader contact.
    pub last_contact_ms: u64,
    /// This server is the leader or has heard from one (a server that never did is
    /// infinitely stale for DNS's `max_stale`, as in Consul).
    pub contacted: bool,
    /// This server is the leader.
    pub is_leader: bool,
    /// Current term.
    pub term: u64,
    /// Last index in this server's log.
    pub last_log_index: u64,
    /// Last index known committed.
    pub commit_index: u64,
    /// Last index applied to the catalog.
    pub applied_index: u64,
}

/// Cheap-to-clone handle on the running Raft server.
#[derive(Clone)]
pub struct RaftNode {
    /// The openraft instance.
    pub(super) raft: Raft<TypeConfig>,
    /// Metrics receiver, kept so `leader_info` only borrows.
    metrics: watch::Receiver<RaftMetrics<u64, BasicNode>>,
    /// Committed index as last persisted by the log store.
    committed: Arc<AtomicU64>,
    /// Set by the first `shutdown`, so later calls do nothing.
    stopped: Arc<AtomicBool>,
    /// When a leader's AppendEntries was last accepted (`X-Consul-LastContact` on followers).
    contact: Arc<Mutex<Option<Instant>>>,
    /// Peers' last answers to this node (leader lease).
    contacts: Contacts,
    /// Consul's `LeaderLeaseTimeout` (500 ms × raft_multiplier): a leader that has not heard
    /// from a quorum for this long acts as stepped down (no writes, no leader known).
    lease: Duration,
    /// Longest a write waits to commit before its outcome is reported unknown.
    write_timeout: Duration,
}

impl RaftNode {
    /// Opens the log and snapshots, restores the catalog into `store`, starts Raft, and
    /// bootstraps a single-voter cluster when asked and the node is pristine.
    pub async fn start(opts: RaftOptions, store: Store) -> Result<RaftNode, RaftError> {
        let config = opts.openraft_config()?;
        let raft_dir = opts.data_dir.as_ref().map(|d| d.join("raft"));
        let (mut log, sm) = tokio::task::spawn_blocking(move || {
            if let Some(dir) = &raft_dir {
                std::fs::create_dir_all(dir).map_err(|e| RaftError::CreateDir {
                    path: dir.clone(),
                    source: e,
                })?;
            }
            let log = LogStore::open(raft_dir.as_ref().map(|d| d.join("raft.db")).as_deref())?;
            let snapshots = SnapshotStore::new(raft_dir.map(|d| d.join("snapshots")))?;
            Ok::<_, RaftError>((log, StateMachine::open(store, snapshots)?))
        })
        .await
        .map_err(|e| RaftError::Fatal(format!("raft start task: {e}")))??;

        let state = log
            .get_log_state()
            .await
            .map_err(|e| RaftError::LogStore(e.to_string()))?;
        let applied = sm.last_applied().map_or(0, |l| l.index);
        if let Some(purged) = state.last_purged_log_id.filter(|p| p.index > applied) {
            return Err(RaftError::MissingSnapshot {
                purged: purged.index,
                applied,
                dir: sm.snapshot_location(),
            });
        }
        let committed = log.committed_index();
        let contacts = Contacts::default();
        let network = Network {
            pool: opts.pool.clone(),
            contacts: contacts.clone(),
        };
        let m = opts.raft_multiplier.max(1);
        let raft = Raft::new(opts.node_id, Arc::new(config), network, log, sm)
            .await
            .map_err(|e| RaftError::Fatal(e.to_string()))?;
        let node = RaftNode {
            metrics: raft.metrics(),
            raft,
            committed,
            stopped: Arc::new(AtomicBool::new(false)),
            contact: Arc::new(Mutex::new(None)),
            contacts,
            lease: super::BASE_LEADER_LEASE * m,
            write_timeout: WRITE_TIMEOUT,
        };
        if opts.bootstrap {
            node.bootstrap(&opts).await?;
        }
        Ok(node)
    }

    /// Makes this server the single voter of a new cluster, unless it already has state.
    async fn bootstrap(&self, opts: &RaftOptions) -> Result<(), RaftError> {
        let initialized = self
            .raft
            .is_initialized()
            .await
            .map_err(|e| RaftError::Fatal(e.to_string()))?;
        if initialized {
            tracing::debug!("raft already initialized; not bootstrapping again");
            return Ok(());
        }
        let members = BTreeMap::from([(opts.node_id, BasicNode::new(&opts.rpc_addr))]);
        match self.raft.initialize(members).await {
            Ok(()) => {
                tracing::info!(id = opts.node_id, addr = %opts.rpc_addr, "bootstrapped a new raft cluster");
                Ok(())
            }
            Err(openraft::error::RaftError::APIError(InitializeError::NotAllowed(e))) => {
                tracing::debug!(reason = %e, "raft already initialized; not bootstrapping again");
                Ok(())
            }
            Err(e) => Err(RaftError::Fatal(e.to_string())),
        }
    }

    /// Waits until some server is known to lead, or fails after `timeout`.
    pub async fn wait_for_leader(&self, timeout: Duration) -> Result<(), RaftError> {
        match self
            .raft
            .wait(Some(timeout))
            .metrics(|m| m.current_leader.is_some(), "a leader is known")
            .await
        {
            Ok(_) => Ok(()),
            Err(WaitError::Timeout(..)) => Err(RaftError::LeaderTimeout(timeout)),
            Err(WaitError::ShuttingDown) => Err(RaftError::Fatal("raft is shutting down".into())),
        }
    }

    /// Replicates `cmd` and returns what applying it produced. Only the leader accepts writes.
    pub async fn write(&self, cmd: Command) -> Result<Response, WriteError> {
        if self.leader_without_quorum() {
            return Err(WriteError::NoLeader);
        }
        let write = tokio::time::timeout(self.write_timeout, self.raft.client_write(cmd));
        match write.await {
            Ok(Ok(resp)) => Ok(resp.data),
            Ok(Err(openraft::error::RaftError::APIError(ClientWriteError::ForwardToLeader(f)))) => {
                Err(not_leader(f))
            }
            Ok(Err(e)) => Err(WriteError::Fatal(e.to_string())),
            Err(_) => Err(WriteError::Timeout(self.write_timeout)),
        }
    }

    /// Whether this node is Raft's leader but has not heard from a quorum within the lease:
    /// Consul's leader steps down then; openraft's does not, so Berth acts as if it had.
    fn leader_without_quorum(&self) -> bool {
        let m = self.metrics.borrow();
        if m.state != ServerState::Leader {
            return false;
        }
        let voters: Vec<u64> = m.membership_config.membership().voter_ids().collect();
        !self.contacts.quorum_within(m.id, &voters, self.lease)
    }

    /// Confirms leadership with a quorum and waits until the catalog has applied everything
    /// committed before the call (Consul's `?consistent`).
    pub async fn linearizable_read(&self) -> Result<(), WriteError> {
        if self.leader_without_quorum() {
            return Err(WriteError::NoLeader);
        }
        let check = tokio::time::timeout(self.write_timeout, self.raft.ensure_linearizable());
        match check.await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(openraft::error::RaftError::APIError(CheckIsLeaderError::ForwardToLeader(
                f,
            )))) => Err(not_leader(f)),
            Ok(Err(openraft::error::RaftError::APIError(CheckIsLeaderError::QuorumNotEnough(
                _,
            )))) => Err(WriteError::NoLeader),
            Ok(Err(e)) => Err(WriteError::Fatal(e.to_string())),
            Err(_) => Err(WriteError::NoLeader),
        }
    }

    /// Leadership and progress from the latest metrics; cheap (no await, no lock held long).
    pub fn leader_info(&self) -> LeaderInfo {
        let contact = *self.contact.lock().unwrap_or_else(|p| p.into_inner());
        let stepped_down = self.leader_without_quorum();
        let m = self.metrics.borrow();
        let is_leader = m.state == ServerState::Leader && !stepped_down;
        let leader = m.current_leader.filter(|_| !stepped_down);
        let leader_addr = leader.and_then(|id| {
            m.membership_config
                .membership()
                .get_node(&id)
                .map(|n| n.addr.clone())
        });
        LeaderInfo {
            known_leader: leader.is_some(),
            leader_addr,
            contacted: is_leader || contact.is_some(),
            last_contact_ms: match contact {
                Some(at) if !is_leader => at.elapsed().as_millis() as u64,
                _ => 0,
            },
            is_leader,
            term: m.current_term,
            last_log_index: m.last_log_index.unwrap_or(0),
            commit_index: self.committed.load(Ordering::Relaxed),
            applied_index: m.last_applied.map_or(0, |l| l.index),
        }
    }

    /// Voters of the current membership as (id, RPC address), ordered by id.
    pub fn voters(&self) -> Vec<(u64, String)> {
        let m = self.metrics.borrow();
        let membership = m.membership_config.membership();
        membership
            .voter_ids()
            .map(|id| {
                (
                    id,
                    membership
                        .get_node(&id)
                        .map(|n| n.addr.clone())
                        .unwrap_or_default(),
                )
            })
            .collect()
    }

    /// Hands a leader's AppendEntries (received over server RPC) to Raft, and notes the contact.
    pub async fn append_entries(
        &self,
        req: AppendEntriesRequest<TypeConfig>,
    ) -> Result<AppendEntriesResponse<u64>, openraft::error::RaftError<u64>> {
        let resp = self.raft.append_entries(req).await;
        if matches!(&resp, Ok(r) if !matches!(r, AppendEntriesResponse::HigherVote(_))) {
            *self.contact.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
        }
        resp
    }

    /// Hands a candidate's vote request (received over server RPC) to Raft.
    pub async fn vote(
        &self,
        req: VoteRequest<u64>,
    ) -> Result<VoteResponse<u64>, openraft::error::RaftError<u64>> {
        self.raft.vote(req).await
    }

    /// Hands a snapshot chunk (received over server RPC) to Raft.
    pub async fn install_snapshot(
        &self,
        req: InstallSnapshotRequest<TypeConfig>,
    ) -> Result<
        InstallSnapshotResponse<u64>,
        openraft::error::RaftError<u64, openraft::error::InstallSnapshotError>,
    > {
        let resp = self.raft.install_snapshot(req).await;
        if resp.is_ok() {
            *self.contact.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
        }
        resp
    }

    /// Stops Raft; later calls do nothing. Errors are logged, not returned: shutdown goes on.
    pub async fn shutdown(&self) {
        if self.stopped.swap(true, Ordering::SeqCst) {
            return;
        }
        if let Err(e) = self.raft.shutdown().await {
            tracing::warn!(error = %e, "raft did not shut down cleanly");
        }
    }
}

/// Maps openraft's "ask the leader" into ours: no leader known, or the leader's RPC address
/// (the cluster layer forwards there).
pub(super) fn not_leader(f: ForwardToLeader<u64, BasicNode>) -> WriteError {
    match (f.leader_id, f.leader_node) {
        (None, _) => WriteError::NoLeader,
        (Some(_), Some(node)) => WriteError::NotLeader { leader: node.addr },
        // A leader whose address this node does not know yet cannot be forwarded to.
        (Some(_), None) => WriteError::NoLeader,
    }
}
