//! Consul's DNS interface on `ports.dns` (8600), UDP and TCP: `*.service`, `*.node`,
//! `*.addr` names under `domain`/`alt_domain` and reverse names, answered from the catalog
//! (a server's own copy within `allow_stale`/`max_stale`, else the leader's; a client agent's
//! servers); other names go to the `recursors`.
//!
//! - `name.rs`: query names → `Lookup` (pure, fuzzed).
//! - `found.rs`: the catalog data a lookup needs (owned: it crosses RPC).
//! - `source.rs`: where that data comes from (consistency rules).
//! - `answer.rs`: data → records, with this agent's `dns_config`.
//! - `handler.rs`: bytes → bytes: protocol checks, routing, EDNS, SOA.
//! - `wire.rs`: encoding within the transport's size (Consul's trimming, TC rule).
//! - `udp.rs` / `tcp.rs`: the loops, with load shedding and connection limits.
//! - `recurse.rs`: asking the recursors.
//!
//! hickory-proto gives the wire format; the serving loops are ours because hickory-server's
//! UDP path spawns a task per datagram with no bound, so it cannot shed the oldest work.

pub mod answer;
pub mod found;
pub mod handler;
pub mod name;
pub mod recurse;
pub mod source;
pub mod tcp;
pub mod udp;
pub mod wire;

use std::net::SocketAddr;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::config::RuntimeConfig;

/// What the DNS answers depend on (from `domain`, `alt_domain` and `dns_config`).
#[derive(Debug, Clone)]
pub struct Settings {
    /// Our domains, `consul.` first, each with a trailing dot.
    pub domains: Vec<String>,
    /// This agent's datacenter (names for other datacenters are NXDOMAIN: no WAN yet).
    pub datacenter: String,
    /// TTL of node and addr records (`dns_config.node_ttl`, default 0).
    pub node_ttl: u32,
    /// `dns_config.service_ttl`: exact names, then `prefix*` entries, then `*`.
    pub service_ttls: Vec<(String, u32)>,
    /// `dns_config.only_passing`: warning instances are left out too.
    pub only_passing: bool,
    /// `dns_config.a_record_limit` (0 = no limit).
    pub a_record_limit: usize,
    /// `dns_config.udp_answer_limit`: answers in a UDP reply without EDNS (default 3, max 8).
    pub udp_answer_limit: usize,
    /// `recursors` with `dns_config.recursor_timeout`; `None` when there are none (REFUSED).
    pub recursors: Option<recurse::Recursors>,
    /// `dns_config.allow_stale`: any server answers from its own copy.
    pub allow_stale: bool,
    /// `dns_config.max_stale`: ...unless it last heard from the leader longer ago.
    pub max_stale: Duration,
    /// `dns_config.enable_truncate`: set TC when an answer was trimmed to fit.
    pub enable_truncate: bool,
    /// `dns_config.disable_compression`.
    pub disable_compression: bool,
    /// `dns_config.enable_additional_node_meta_txt`: node meta as TXT in additional sections.
    pub node_meta_txt: bool,
    /// `dns_config.soa`.
    pub soa: SoaSettings,
}

/// The SOA fields `dns_config.soa` sets (Consul: refresh 3600, retry 600, expire 86400,
/// min_ttl 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SoaSettings {
    /// Refresh, seconds.
    pub refresh: u32,
    /// Retry, seconds.
    pub retry: u32,
    /// Expire, seconds.
    pub expire: u32,
    /// Minimum TTL (and the SOA record's own TTL), seconds.
    pub min_ttl: u32,
}

impl Settings {
    /// The settings a runtime config asks for.
    pub fn from_config(c: &RuntimeConfig) -> Settings {
        let mut domains = vec![c.domain.clone()];
        domains.extend(c.alt_domain.iter().cloned());
        Settings {
            domains,
            datacenter: c.datacenter.clone(),
            node_ttl: c.dns_node_ttl,
            service_ttls: c.dns_service_ttl.clone(),
            only_passing: c.dns_only_passing,
            a_record_limit: c.dns_a_record_limit,
            udp_answer_limit: c.dns_udp_answer_limit,
            recursors: (!c.recursors.is_empty()).then(|| recurse::Recursors {
                addrs: c
                    .recursors
                    .iter()
                    .filter_map(|r| recurse::parse_addr(r))
                    .collect(),
                timeout: c.dns_recursor_timeout,
                random: c.dns_recursor_random,
            }),
            allow_stale: c.dns_allow_stale,
            max_stale: c.dns_max_stale,
            enable_truncate: c.dns_enable_truncate,
            disable_compression: c.dns_disable_compression,
            node_meta_txt: c.dns_node_meta_txt,
            soa: SoaSettings {
                refresh: c.dns_soa[0],
                retry: c.dns_soa[1],
                expire: c.dns_soa[2],
                min_ttl: c.dns_soa[3],
            },
        }
    }

    /// The TTL of `service`'s records: exact entry, else the longest matching `prefix*`.
    pub fn service_ttl(&self, service: &str) -> u32 {
        if let Some((_, ttl)) = self.service_ttls.iter().find(|(k, _)| k == service) {
            return *ttl;
        }
        self.service_ttls
            .iter()
            .filter_map(|(k, ttl)| {
                let prefix = k.strip_suffix('*')?;
                service.starts_with(prefix).then_some((prefix.len(), *ttl))
            })
            .max_by_key(|(len, _)| *len)
            .map_or(0, |(_, ttl)| ttl)
    }
}

/// Serves DNS on `addrs` (UDP and TCP each) until `stop`, reading through `source`. Binding
/// errors are returned before anything is served.
pub async fn serve(
    addrs: &[SocketAddr],
    source: source::Source,
    settings: Settings,
    stop: CancellationToken,
) -> std::io::Result<impl std::future::Future<Output = ()>> {
    let mut bound = Vec::new();
    for addr in addrs {
        let udp_socket = tokio::net::UdpSocket::bind(addr).await?;
        let listener = tokio::net::TcpListener::bind(addr).await?;
        bound.push((*addr, udp_socket, listener));
    }
    let handler = handler::Handler::new(source, settings);
    let mut tasks = Vec::new();
    for (addr, udp_socket, listener) in bound {
        tasks.push(tokio::spawn(udp::serve(
            udp_socket,
            handler.clone(),
            stop.clone(),
        )));
        tasks.push(tokio::spawn(tcp::serve(
            listener,
            handler.clone(),
            stop.clone(),
        )));
        tracing::info!(address = %addr, "agent: started DNS server on {addr} (udp and tcp)");
    }
    Ok(async move {
        for t in tasks {
            let _ = t.await;
        }
    })
}
