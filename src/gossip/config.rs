//! Gossip settings, with memberlist's LAN defaults, and their translation into foca's config.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::num::{NonZeroU32, NonZeroUsize};
use std::path::PathBuf;
use std::time::Duration;

use super::keyring::{Keyring, SEAL_OVERHEAD};

/// UDP payload budget before sealing, as memberlist's UDPBufferSize: stays under a LAN MTU.
const UDP_BUDGET: usize = 1400;

/// What a gossip node needs; `daemon` builds it from the runtime config.
#[derive(Clone, Debug)]
pub struct GossipConfig {
    /// Serf LAN bind address (UDP, and TCP for the join handshake). Port 0 picks one.
    pub bind: SocketAddr,
    /// What others dial; an unspecified IP or port 0 is filled from the bound socket.
    pub advertise: SocketAddr,
    /// Node name, unique in the pool.
    pub node_name: String,
    /// Node ID (UUID); a restart keeps it, so a rejoin under the same name is accepted.
    pub node_id: String,
    /// Consul's member tags (role, dc, port, build, vsn...), carried as metadata.
    pub tags: BTreeMap<String, String>,
    /// `None` = plaintext (unless a keyring file exists under `data_dir`).
    pub keyring: Option<Keyring>,
    /// Refuse plaintext input when encrypted (turn off during a rolling upgrade).
    pub encrypt_verify_incoming: bool,
    /// Seal output when encrypted (turn off during a rolling upgrade).
    pub encrypt_verify_outgoing: bool,
    /// How often a random member is probed.
    pub probe_interval: Duration,
    /// How long a direct probe may take before indirect probes start.
    pub probe_timeout: Duration,
    /// Members asked to probe indirectly.
    pub indirect_probes: u8,
    /// Suspicion lasts `suspicion_mult × max(1, log10 n) × probe_interval`.
    pub suspicion_mult: u32,
    /// How often updates are gossiped.
    pub gossip_interval: Duration,
    /// To how many members each gossip round goes.
    pub gossip_nodes: usize,
    /// Failed members are reaped after this (Consul: 72h).
    pub reconnect_timeout: Duration,
    /// Left members stay listed this long (Consul: 24h).
    pub tombstone_timeout: Duration,
    /// Holds `serf/local.keyring` when set.
    pub data_dir: Option<PathBuf>,
}

impl GossipConfig {
    /// Consul's LAN defaults for a node; callers set tags, keyring and data dir.
    pub fn new(bind: SocketAddr, node_name: &str, node_id: &str) -> GossipConfig {
        GossipConfig {
            bind,
            advertise: bind,
            node_name: node_name.to_string(),
            node_id: node_id.to_string(),
            tags: BTreeMap::new(),
            keyring: None,
            encrypt_verify_incoming: true,
            encrypt_verify_outgoing: true,
            probe_interval: Duration::from_secs(1),
            probe_timeout: Duration::from_millis(500),
            indirect_probes: 3,
            suspicion_mult: 4,
            gossip_interval: Duration::from_millis(200),
            gossip_nodes: 3,
            reconnect_timeout: Duration::from_secs(72 * 3600),
            tombstone_timeout: Duration::from_secs(24 * 3600),
            data_dir: None,
        }
    }
}

/// How often failed members are asked to rejoin (serf's reconnect interval).
pub const RECONNECT_INTERVAL: Duration = Duration::from_secs(30);

/// Foca's LAN profile with our knobs, scaled for `alive` members (suspicion and retransmits).
pub(crate) fn foca_config(cfg: &GossipConfig, alive: usize) -> foca::Config {
    let n = u32::try_from(alive.max(1)).unwrap_or(u32::MAX);
    let mut c = foca::Config::new_lan(NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN));
    c.probe_period = cfg.probe_interval;
    c.probe_rtt = cfg.probe_timeout.min(cfg.probe_interval / 2);
    c.num_indirect_probes =
        NonZeroUsize::new(cfg.indirect_probes.max(1).into()).unwrap_or(NonZeroUsize::MIN);
    let scale = f64::from(n).log10().max(1.0);
    c.suspect_to_down_after = cfg
        .probe_interval
        .mul_f64(f64::from(cfg.suspicion_mult.max(1)) * scale);
    c.max_transmissions = c
        .max_transmissions
        .max(std::num::NonZeroU8::new(6).unwrap_or(std::num::NonZeroU8::MIN));
    c.periodic_gossip = Some(foca::PeriodicParams {
        frequency: cfg.gossip_interval,
        num_members: NonZeroUsize::new(cfg.gossip_nodes.max(1)).unwrap_or(NonZeroUsize::MIN),
    });
    // Failed members are retried every 30 s, as memberlist's reconnect does (foca's LAN
    // default is 65 s), so a healed partition closes within about half a minute.
    c.periodic_announce_to_down_members = Some(foca::PeriodicParams {
        frequency: RECONNECT_INTERVAL,
        num_members: NonZeroUsize::new(2).unwrap_or(NonZeroUsize::MIN),
    });
    c.remove_down_after = Some(cfg.reconnect_timeout.max(cfg.tombstone_timeout));
    c.max_packet_size = NonZeroUsize::new(UDP_BUDGET - SEAL_OVERHEAD).unwrap_or(NonZeroUsize::MIN);
    c
}
