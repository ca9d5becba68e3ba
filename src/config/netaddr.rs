//! The address to advertise when the agent binds `0.0.0.0` and none is given: the host's
//! first private IPv4, else `127.0.0.1`.
//!
//! Read from `/proc/net/fib_trie` (local `/32 host` routes) because the crate forbids the
//! `unsafe` a `getifaddrs` call would need, and opening a socket to find a route is a side
//! effect config loading must not have.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};

/// Where Linux lists the addresses of local interfaces.
const FIB_TRIE: &str = "/proc/net/fib_trie";

/// The host's first private IPv4 (RFC 1918 or RFC 6598), else loopback.
pub(crate) fn default_advertise() -> IpAddr {
    IpAddr::V4(pick(&host_ipv4s()).unwrap_or(Ipv4Addr::LOCALHOST))
}

/// This host's local IPv4 addresses (loopback included), from `/proc/net/fib_trie`.
pub(crate) fn host_ipv4s() -> Vec<Ipv4Addr> {
    let text = std::fs::read_to_string(FIB_TRIE).unwrap_or_default();
    local_ipv4s(&text)
}

/// Local addresses from `fib_trie` text: an address line (`|-- 10.0.0.5`) followed by a
/// `/32 host LOCAL` line. Listed in first-seen order, without repeats.
pub(crate) fn local_ipv4s(fib_trie: &str) -> Vec<Ipv4Addr> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    let mut last: Option<Ipv4Addr> = None;
    for line in fib_trie.lines() {
        let t = line.trim();
        if let Some(addr) = t.strip_prefix("|--") {
            last = addr.trim().parse().ok();
        } else if t.starts_with("/32 host LOCAL") {
            if let Some(ip) = last.take() {
                if seen.insert(ip) {
                    out.push(ip);
                }
            }
        }
    }
    out
}

/// The first private address in `addrs`.
pub(crate) fn pick(addrs: &[Ipv4Addr]) -> Option<Ipv4Addr> {
    addrs.iter().copied().find(|ip| {
        let o = ip.octets();
        ip.is_private() || (o[0] == 100 && (64..128).contains(&o[1]))
    })
}
