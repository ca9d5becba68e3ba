//! Where a DNS lookup's data comes from, by Consul's consistency rules for DNS (reference §3):
//! with `allow_stale` (the default) any server answers from its own catalog unless it last
//! heard from the leader more than `max_stale` ago, when it asks the leader; without it, only
//! the leader answers and other servers ask it. A client agent holds no catalog and asks a
//! server, which applies the client's settings.

use std::time::Duration;

use super::found::{fetch, Found};
use super::name::Lookup;
use crate::catalog::Store;
use crate::cluster::Cluster;
use crate::rpc::{Reply, Request};

/// How long a server may take to answer a lookup sent over RPC.
const RPC_TIMEOUT: Duration = Duration::from_secs(2);

/// `dns_config.allow_stale` and `max_stale`, as they travel with a forwarded lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Staleness {
    /// Any server may answer from its own copy.
    pub allow_stale: bool,
    /// ...unless it last heard from the leader longer ago than this.
    pub max_stale: Duration,
}

/// Why no data could be had (answered SERVFAIL, as Consul answers an RPC failure).
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// This server may not answer and no leader is known.
    #[error("dns: no cluster leader to read from")]
    NoLeader,
    /// A server could not be asked.
    #[error("dns: asking a server failed: {0}")]
    Rpc(String),
}

/// The agent's way to the catalog for DNS.
#[derive(Clone)]
pub struct Source {
    /// The local catalog (servers only).
    store: Option<Store>,
    /// Raft state and the way to other servers; `None` for a catalog of its own (tests, fuzzing).
    cluster: Option<Cluster>,
}

impl Source {
    /// A server's source: its own catalog, else the leader. A client's: its servers.
    pub fn new(store: Store, cluster: Cluster) -> Source {
        let store = cluster.has_catalog().then_some(store);
        Source {
            store,
            cluster: Some(cluster),
        }
    }

    /// A catalog that stands alone: always read locally (unit tests and the fuzz targets).
    pub fn standalone(store: Store) -> Source {
        Source {
            store: Some(store),
            cluster: None,
        }
    }

    /// The data, when this agent may read it from its own catalog right now (no waiting).
    pub fn local(&self, lookup: &Lookup, stale: Staleness) -> Option<Found> {
        let store = self.store.as_ref()?;
        let Some(cluster) = &self.cluster else {
            return Some(store.read(|t| fetch(t, lookup)));
        };
        let info = cluster.leader_info();
        // A server that never heard from a leader is infinitely stale (Consul's rule): it may
        // be new and empty, and must not answer NXDOMAIN for what the cluster has.
        let fresh_enough =
            info.contacted && u128::from(info.last_contact_ms) <= stale.max_stale.as_millis();
        (info.is_leader || (stale.allow_stale && fresh_enough))
            .then(|| store.read(|t| fetch(t, lookup)))
    }

    /// The data from wherever the rules allow: the local catalog, else the leader (servers),
    /// else any server (clients). `forwarded`: the lookup came from another server and must
    /// not be sent on again.
    pub async fn fetch(
        &self,
        lookup: &Lookup,
        stale: Staleness,
        forwarded: bool,
    ) -> Result<Found, SourceError> {
        if let Some(found) = self.local(lookup, stale) {
            return Ok(found);
        }
        let Some(cluster) = &self.cluster else {
            return Err(SourceError::NoLeader);
        };
        let to = if self.store.is_some() {
            if forwarded {
                return Err(SourceError::NoLeader);
            }
            Some(
                cluster
                    .leader_info()
                    .leader_addr
                    .ok_or(SourceError::NoLeader)?,
            )
        } else {
            None
        };
        let req = Request::Dns {
            lookup: lookup.clone(),
            stale,
            forwarded: to.is_some(),
        };
        match cluster.ask(to.as_deref(), req, RPC_TIMEOUT).await {
            Ok(Reply::Dns(Ok(found))) => Ok(found),
            Ok(Reply::Dns(Err(e))) => Err(SourceError::Rpc(e)),
            Ok(_) => Err(SourceError::Rpc("unexpected reply to Dns".into())),
            Err(e) => Err(SourceError::Rpc(e.to_string())),
        }
    }
}
