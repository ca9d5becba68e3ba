//! LAN gossip: SWIM membership through foca on UDP, with Consul's member model on top.
//!
//! - `runner`: the one task that owns `Foca`, fed a closed `Input` (packet, timer, command, join
//!   connection, tick). Everything else talks to it through `Command`s.
//! - `members`: the member table (names, IDs, tags, Consul statuses) that `members()` reads.
//! - `handler` + `wire`: foca's custom broadcasts (metadata, leave intents) and the handshake types.
//! - `join`: the TCP join handshake on the gossip port; `frame` + `keyring`: sealing with AES-GCM.
//!
//! Architecture Invariant: only the runner task touches `Foca`; the table is written only from
//! it (directly or through foca's broadcast handler).

mod config;
mod error;
mod frame;
mod handler;
mod join;
mod keyring;
mod members;
mod runner;
mod start;
mod wire;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};

pub(crate) use config::foca_config;
pub use config::GossipConfig;
pub use error::GossipError;
pub use join::DEFAULT_PORT;
pub use keyring::{Keyring, SEAL_OVERHEAD};

use frame::Crypto;
use members::{lock, Shared};
use runner::Command;

/// One gossip member as `/v1/agent/members` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    /// Node name.
    pub name: String,
    /// Node ID.
    pub id: String,
    /// Gossip address.
    pub addr: IpAddr,
    /// Gossip port.
    pub port: u16,
    /// Consul member tags.
    pub tags: BTreeMap<String, String>,
    /// Consul status.
    pub status: MemberStatus,
}

/// Serf's member status, with the numbers Consul's API uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemberStatus {
    /// Unknown.
    None = 0,
    /// Answering probes.
    Alive = 1,
    /// Announced a graceful leave, not gone yet.
    Leaving = 2,
    /// Left gracefully or was force-left.
    Left = 3,
    /// Stopped answering without leaving.
    Failed = 4,
}

impl MemberStatus {
    /// The string `consul members` prints.
    pub fn as_str(self) -> &'static str {
        match self {
            MemberStatus::None => "none",
            MemberStatus::Alive => "alive",
            MemberStatus::Leaving => "leaving",
            MemberStatus::Left => "left",
            MemberStatus::Failed => "failed",
        }
    }

    /// The number in the `Status` field of Consul's Member JSON.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// Inverse of [`MemberStatus::code`]; unknown numbers are `None`.
    pub fn from_code(code: u8) -> MemberStatus {
        match code {
            1 => MemberStatus::Alive,
            2 => MemberStatus::Leaving,
            3 => MemberStatus::Left,
            4 => MemberStatus::Failed,
            _ => MemberStatus::None,
        }
    }

    /// Still a live member (alive or on its way out), so its name is taken.
    pub fn is_active(self) -> bool {
        matches!(self, MemberStatus::Alive | MemberStatus::Leaving)
    }
}

/// Counters for logs, `/v1/agent/self` Stats and the benchmark.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GossipStats {
    /// Members listed (any status).
    pub members: u64,
    /// Datagrams received.
    pub packets_received: u64,
    /// Bytes received over UDP.
    pub bytes_received: u64,
    /// Datagrams sent.
    pub packets_sent: u64,
    /// Bytes sent over UDP (sealed size).
    pub bytes_sent: u64,
    /// Datagrams dropped: failed to decrypt, refused plaintext, or malformed.
    pub dropped: u64,
}

/// Live counters shared by the task and the handle.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    pub(crate) members: AtomicU64,
    pub(crate) packets_received: AtomicU64,
    pub(crate) bytes_received: AtomicU64,
    pub(crate) packets_sent: AtomicU64,
    pub(crate) bytes_sent: AtomicU64,
    pub(crate) dropped: AtomicU64,
}

/// Handle on a running gossip node; cheap to clone, so HTTP handlers and the leader each hold one.
#[derive(Clone)]
pub struct Gossip {
    /// Shared state behind the handle.
    inner: Arc<Inner>,
}

/// What every handle clone shares.
struct Inner {
    /// Commands into the runner task.
    cmd: mpsc::Sender<Command>,
    /// The member table.
    table: Shared,
    /// Bumped on every member change.
    changes: watch::Receiver<u64>,
    /// Counters.
    stats: Arc<Stats>,
    /// Sealing rules, also for our side of the join handshake.
    crypto: Arc<Crypto>,
    /// The bound gossip address (UDP and TCP).
    local_addr: SocketAddr,
}

impl Gossip {
    /// The bound gossip address, so tests and logs know the port chosen for port 0.
    pub fn local_addr(&self) -> SocketAddr {
        self.inner.local_addr
    }

    /// Join through each address ("host:port" or "host", port 8301); returns how many answered.
    /// Fails if none did: with `NameConflict` if our name is taken, `KeyMismatch` on a key mismatch.
    pub async fn join(&self, addrs: &[String]) -> Result<usize, GossipError> {
        let me = lock(&self.inner.table).my_meta();
        let (mut ok, mut first_err, mut reasons) = (0, None, Vec::new());
        for a in addrs {
            match join::join_one(a, me.clone(), &self.inner.crypto, &self.inner.cmd).await {
                Ok(()) => ok += 1,
                Err(e) => {
                    reasons.push(e.to_string());
                    let specific = matches!(
                        e,
                        GossipError::NameConflict(_) | GossipError::KeyMismatch(_)
                    );
                    if specific || first_err.is_none() {
                        first_err = Some(e);
                    }
                }
            }
        }
        match first_err {
            _ if ok > 0 => Ok(ok),
            Some(e @ (GossipError::NameConflict(_) | GossipError::KeyMismatch(_))) => Err(e),
            _ if reasons.is_empty() => Err(GossipError::JoinFailed("no address given".into())),
            _ => Err(GossipError::JoinFailed(reasons.join("; "))),
        }
    }

    /// Leave gracefully: members see us Left, not Failed. Bounded by `timeout`; the task stops.
    pub async fn leave(&self, timeout: Duration) -> Result<(), GossipError> {
        let (reply, rx) = oneshot::channel();
        (self.inner.cmd)
            .send(Command::Leave { timeout, reply })
            .await
            .map_err(|_| GossipError::Stopped)?;
        let _ = tokio::time::timeout(timeout, rx).await;
        Ok(())
    }

    /// Move a failed member to Left on every member (`prune`: drop it from the list). Live
    /// members are left alone, as Consul does; an unknown name is `NotFound`.
    pub async fn force_leave(&self, node: &str, prune: bool) -> Result<(), GossipError> {
        let (reply, rx) = oneshot::channel();
        let name = node.to_string();
        (self.inner.cmd)
            .send(Command::ForceLeave { name, prune, reply })
            .await
            .map_err(|_| GossipError::Stopped)?;
        rx.await.map_err(|_| GossipError::Stopped)?
    }

    /// Every listed member, ourselves included, sorted by name.
    pub fn members(&self) -> Vec<Member> {
        lock(&self.inner.table).members()
    }

    /// Names gossip reaped (failed past reconnect_timeout, left past the tombstone time) or
    /// pruned: the leader removes these from the catalog.
    pub fn forgotten(&self) -> Vec<String> {
        lock(&self.inner.table).forgotten_names()
    }

    /// A counter bumped on every member change (status or tags), for the leader's reconciler.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.inner.changes.clone()
    }

    /// Whether gossip is encrypted (Consul's `encrypted` in `/v1/agent/self` Stats).
    pub fn encrypted(&self) -> bool {
        self.inner.crypto.keyring.is_some()
    }

    /// Counters for logs and the benchmark.
    pub fn stats(&self) -> GossipStats {
        let s = &self.inner.stats;
        GossipStats {
            members: s.members.load(Relaxed),
            packets_received: s.packets_received.load(Relaxed),
            bytes_received: s.bytes_received.load(Relaxed),
            packets_sent: s.packets_sent.load(Relaxed),
            bytes_sent: s.bytes_sent.load(Relaxed),
            dropped: s.dropped.load(Relaxed),
        }
    }
}
