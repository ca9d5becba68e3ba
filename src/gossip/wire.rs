//! What travels between nodes besides foca's own messages: the identity foca gossips, the custom
//! broadcasts carrying member metadata and leave intents, and the TCP join handshake.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

/// Protocol version of our handshake and broadcasts, checked so a future change can refuse old peers.
pub const PROTOCOL_VERSION: u8 = 1;

/// Foca's identity for a node: kept lean because it rides in every packet. `gen` grows across
/// restarts (start time in ms) and on auto-rejoin, so a restarted node wins over its old self.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Id {
    /// The UDP address others send to.
    pub addr: SocketAddr,
    /// Generation: larger is newer.
    pub gen: u64,
}

impl foca::Identity for Id {
    type Addr = SocketAddr;

    fn renew(&self) -> Option<Self> {
        Some(Id {
            addr: self.addr,
            gen: self.gen + 1,
        })
    }

    fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn win_addr_conflict(&self, other: &Self) -> bool {
        self.gen > other.gen
    }
}

/// A node's metadata, versioned by `(gen, seq)` so newer copies replace older ones everywhere.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    /// Node name (unique in the pool).
    pub name: String,
    /// Node ID (UUID); a different ID under the same name is a conflict.
    pub id: String,
    /// Foca identity of the node when it published this.
    pub foca: Id,
    /// Bumped on every re-broadcast so late joiners treat it as new information.
    pub seq: u64,
    /// Consul member tags (role, dc, port, build, vsn...).
    pub tags: BTreeMap<String, String>,
}

impl Meta {
    /// The total order of metadata versions.
    pub fn version(&self) -> (u64, u64) {
        (self.foca.gen, self.seq)
    }
}

/// A custom broadcast item.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Item {
    /// A node's metadata.
    Meta(Meta),
    /// A node announces it is leaving on purpose, so its coming MemberDown means Left.
    Leaving {
        /// Node name.
        name: String,
        /// Generation that is leaving.
        gen: u64,
    },
    /// An operator forced a failed node to Left (optionally pruning it).
    ForceLeft {
        /// Node name.
        name: String,
        /// Generation the operator saw.
        gen: u64,
        /// Remove it from the list too.
        prune: bool,
    },
}

/// Foca's dedup key for custom broadcasts: newer versions of the same subject invalidate older.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Key {
    /// Metadata of `name` at a version.
    Meta(String, (u64, u64)),
    /// A leave intent (`force` marks force-leave, `prune` too) of `name` at a generation.
    Leave(String, u64, bool, bool),
}

impl foca::Invalidates for Key {
    fn invalidates(&self, other: &Self) -> bool {
        match (self, other) {
            (Key::Meta(a, va), Key::Meta(b, vb)) => a == b && va >= vb,
            (Key::Leave(a, ga, fa, pa), Key::Leave(b, gb, fb, pb)) => {
                a == b && (ga, fa, pa) >= (gb, fb, pb)
            }
            _ => false,
        }
    }
}

/// One member as the handshake reply lists it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MemberInfo {
    /// Its metadata.
    pub meta: Meta,
    /// `MemberStatus` code.
    pub status: u8,
}

/// Joiner → peer over TCP.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct JoinRequest {
    /// [`PROTOCOL_VERSION`] of the joiner.
    pub protocol: u8,
    /// The joiner's metadata (name, id, addr, tags).
    pub meta: Meta,
}

/// Peer → joiner over TCP.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum JoinReply {
    /// Welcome: the peer's identity (to announce to) and its member list.
    Accept {
        /// Peer's foca identity.
        peer: Id,
        /// Every member the peer lists, itself included.
        members: Vec<MemberInfo>,
    },
    /// Refused, with the reason to show the operator.
    Refuse {
        /// `true` when the name is taken by another live node.
        name_conflict: bool,
        /// Human-readable reason.
        reason: String,
    },
}
