//! Query names → what they ask for, by Consul's rules (reference §3): `[tag.]svc.service`,
//! RFC 2782 `_svc._tag[.service]`, `node.node`, `hex.addr`, each optionally followed by a
//! datacenter (`.dc1` or `.dc1.dc`), under `domain` or `alt_domain`. Pure and total: any
//! input gives an answer, never a panic (the fuzz target relies on it).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Serialize};

/// What a name inside our domain asks for (sent to a server when this agent holds no catalog).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Lookup {
    /// The domain itself (SOA, NS).
    Apex,
    /// Healthy instances of a service, optionally with a tag.
    Service {
        /// Service name (lower case).
        service: String,
        /// Tag filter; `None` for none (RFC 2782's `_tcp` means none too).
        tag: Option<String>,
        /// Datacenter, when the name names one.
        dc: Option<String>,
    },
    /// A node's address.
    Node {
        /// Node name (lower case; may contain dots).
        node: String,
        /// Datacenter, when the name names one.
        dc: Option<String>,
    },
    /// An address encoded in hex (`7f000001.addr.consul`).
    Addr {
        /// The address.
        ip: IpAddr,
        /// Datacenter, when the name names one.
        dc: Option<String>,
    },
    /// Who owns an address (a PTR query under `in-addr.arpa` or `ip6.arpa`).
    Ptr {
        /// The address.
        ip: IpAddr,
    },
}

/// Where a query name falls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// Under one of our domains: the lookup (`None`: a name we do not serve → NXDOMAIN),
    /// and which domain matched (answers echo it).
    Inside(Option<Lookup>, String),
    /// A reverse name (`in-addr.arpa`, `ip6.arpa`): answered from the catalog when an address
    /// matches, else like `Outside`.
    Reverse(IpAddr),
    /// Not under our domains (recursion or REFUSED).
    Outside,
}

/// Parses `name` (any case, trailing dot optional) against `domains` (`consul.` style).
pub fn parse(name: &str, domains: &[String]) -> Parsed {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    if let Some(ip) = reverse(&name) {
        return Parsed::Reverse(ip);
    }
    for domain in domains {
        let d = domain.trim_end_matches('.').to_ascii_lowercase();
        if d.is_empty() {
            continue;
        }
        if name == d {
            return Parsed::Inside(Some(Lookup::Apex), domain.clone());
        }
        if let Some(rest) = name.strip_suffix(&d).and_then(|r| r.strip_suffix('.')) {
            let labels: Vec<&str> = rest.split('.').collect();
            return Parsed::Inside(lookup(&labels), domain.clone());
        }
    }
    Parsed::Outside
}

const KINDS: &[&str] = &[
    "service", "node", "addr", "query", "connect", "ingress", "virtual",
];

fn lookup(labels: &[&str]) -> Option<Lookup> {
    if labels.iter().any(|l| l.is_empty()) {
        return None;
    }
    let n = labels.len();
    // RFC 2782 without `.service`: `_svc._tag[.dc]`.
    let underscored = n >= 2 && labels[0].starts_with('_') && labels[1].starts_with('_');
    if underscored && (n == 2 || (n == 3 && !KINDS.contains(&labels[2]))) {
        return rfc2782(labels[0], labels[1], labels.get(2).map(|s| s.to_string()));
    }
    let (kind_at, dc) = if KINDS.contains(&labels[n - 1]) {
        (n - 1, None)
    } else if n >= 2 && KINDS.contains(&labels[n - 2]) {
        (n - 2, Some(labels[n - 1].to_string()))
    } else if n >= 3 && labels[n - 1] == "dc" && KINDS.contains(&labels[n - 3]) {
        (n - 3, Some(labels[n - 2].to_string()))
    } else {
        return None;
    };
    let prefix = &labels[..kind_at];
    if prefix.is_empty() {
        return None;
    }
    match labels[kind_at] {
        "service" => {
            if prefix.len() == 2 && prefix[0].starts_with('_') && prefix[1].starts_with('_') {
                return rfc2782(prefix[0], prefix[1], dc);
            }
            let (service, tags) = prefix.split_last()?;
            let tag = (!tags.is_empty()).then(|| tags.join("."));
            Some(Lookup::Service {
                service: service.to_string(),
                tag,
                dc,
            })
        }
        "node" => Some(Lookup::Node {
            node: prefix.join("."),
            dc,
        }),
        "addr" if prefix.len() == 1 => hex_ip(prefix[0]).map(|ip| Lookup::Addr { ip, dc }),
        // Prepared queries and mesh names are not served by Berth: NXDOMAIN.
        _ => None,
    }
}

fn rfc2782(service: &str, tag: &str, dc: Option<String>) -> Option<Lookup> {
    let service = service.strip_prefix('_').filter(|s| !s.is_empty())?;
    let tag = tag.strip_prefix('_').filter(|s| !s.is_empty())?;
    Some(Lookup::Service {
        service: service.to_string(),
        tag: (tag != "tcp").then(|| tag.to_string()),
        dc,
    })
}

/// `4.3.2.1.in-addr.arpa` → 1.2.3.4; 32 reversed nibbles under `ip6.arpa` → an IPv6 address.
fn reverse(name: &str) -> Option<IpAddr> {
    if let Some(rest) = name.strip_suffix(".in-addr.arpa") {
        let mut octets = [0u8; 4];
        let labels: Vec<&str> = rest.split('.').collect();
        if labels.len() != 4 {
            return None;
        }
        for (i, l) in labels.iter().rev().enumerate() {
            if l.is_empty() || l.len() > 3 || !l.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            octets[i] = l.parse().ok()?;
        }
        return Some(IpAddr::V4(Ipv4Addr::from(octets)));
    }
    let rest = name.strip_suffix(".ip6.arpa")?;
    let nibbles: Vec<&str> = rest.split('.').collect();
    if nibbles.len() != 32 || nibbles.iter().any(|n| n.len() != 1) {
        return None;
    }
    let hex: String = nibbles.iter().rev().copied().collect();
    hex_ip(&hex)
}

/// `7f000001` → 127.0.0.1; 32 hex digits → an IPv6 address.
fn hex_ip(s: &str) -> Option<IpAddr> {
    if !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    match s.len() {
        8 => u32::from_str_radix(s, 16)
            .ok()
            .map(|v| IpAddr::V4(Ipv4Addr::from(v))),
        32 => u128::from_str_radix(s, 16)
            .ok()
            .map(|v| IpAddr::V6(Ipv6Addr::from(v))),
        _ => None,
    }
}

/// The hex label of an address (the inverse of `hex_ip`), for SRV targets.
pub fn hex_label(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => format!("{:08x}", u32::from(v4)),
        IpAddr::V6(v6) => format!("{:032x}", u128::from(v6)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(name: &str) -> Option<Lookup> {
        match parse(name, &["consul.".into(), "alt.example.".into()]) {
            Parsed::Inside(l, _) => l,
            other => panic!("{name} is not inside: {other:?}"),
        }
    }

    fn svc(service: &str, tag: Option<&str>, dc: Option<&str>) -> Option<Lookup> {
        Some(Lookup::Service {
            service: service.into(),
            tag: tag.map(Into::into),
            dc: dc.map(Into::into),
        })
    }

    #[test]
    fn service_forms() {
        assert_eq!(p("web.service.consul."), svc("web", None, None));
        assert_eq!(p("WEB.Service.CONSUL"), svc("web", None, None));
        assert_eq!(p("v1.web.service.consul."), svc("web", Some("v1"), None));
        assert_eq!(p("a.b.web.service.consul."), svc("web", Some("a.b"), None));
        assert_eq!(p("web.service.dc1.consul."), svc("web", None, Some("dc1")));
        assert_eq!(
            p("web.service.dc1.dc.consul."),
            svc("web", None, Some("dc1"))
        );
        assert_eq!(p("_web._tcp.service.consul."), svc("web", None, None));
        assert_eq!(p("_web._v1.service.consul."), svc("web", Some("v1"), None));
        assert_eq!(p("_web._tcp.consul."), svc("web", None, None));
        assert_eq!(
            p("_web._v1.dc2.consul."),
            svc("web", Some("v1"), Some("dc2"))
        );
        assert_eq!(p("web.service.alt.example."), svc("web", None, None));
    }

    #[test]
    fn node_addr_and_apex() {
        assert_eq!(p("consul."), Some(Lookup::Apex));
        assert_eq!(
            p("n1.node.consul."),
            Some(Lookup::Node {
                node: "n1".into(),
                dc: None
            })
        );
        assert_eq!(
            p("n1.example.com.node.dc1.consul."),
            Some(Lookup::Node {
                node: "n1.example.com".into(),
                dc: Some("dc1".into())
            })
        );
        assert_eq!(
            p("7f000001.addr.consul."),
            Some(Lookup::Addr {
                ip: "127.0.0.1".parse().unwrap(),
                dc: None
            })
        );
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        assert_eq!(
            p(&format!("{}.addr.consul.", hex_label(v6))),
            Some(Lookup::Addr { ip: v6, dc: None })
        );
    }

    /// Random names built from DNS-ish pieces (dots, underscores, hex, kind labels, odd
    /// bytes): the parser never panics, and every service it returns is one of the labels.
    #[test]
    fn random_names_never_panic() {
        use rand::{Rng, SeedableRng};
        let pieces = [
            "service", "node", "addr", "query", "dc", "consul", "_web", "_tcp", "_", ".", "..",
            "7f000001", "zz", "web", "v1", "é", "\\", "\u{0}", "-", "*", "A",
        ];
        let mut rng = rand::rngs::StdRng::seed_from_u64(6);
        let domains = ["consul.".to_string(), "alt.test.".to_string()];
        for _ in 0..20_000 {
            let n = rng.gen_range(0..10);
            let mut name = String::new();
            for _ in 0..n {
                name.push_str(pieces[rng.gen_range(0..pieces.len())]);
                if rng.gen_bool(0.7) {
                    name.push('.');
                }
            }
            name.push_str(if rng.gen_bool(0.8) {
                "consul."
            } else {
                "example."
            });
            if let Parsed::Inside(Some(Lookup::Service { service, .. }), _) = parse(&name, &domains)
            {
                assert!(
                    !service.is_empty() && name.to_ascii_lowercase().contains(&service),
                    "{name}"
                );
            }
        }
    }

    #[test]
    fn unknown_names_are_nxdomain_and_others_outside() {
        for name in [
            "service.consul.",
            "foo.consul.",
            "x.query.consul.",
            "zz.addr.consul.",
            "a..b.service.consul.",
            "web.connect.consul.",
        ] {
            assert_eq!(p(name), None, "{name}");
        }
        assert_eq!(parse("example.org.", &["consul.".into()]), Parsed::Outside);
        assert_eq!(parse("notconsul.", &["consul.".into()]), Parsed::Outside);
    }

    #[test]
    fn reverse_names() {
        let d = ["consul.".to_string()];
        assert_eq!(
            parse("1.0.0.127.in-addr.arpa.", &d),
            Parsed::Reverse("127.0.0.1".parse().unwrap())
        );
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        let nibbles: Vec<String> = hex_label(v6).chars().rev().map(String::from).collect();
        assert_eq!(
            parse(&format!("{}.ip6.arpa.", nibbles.join(".")), &d),
            Parsed::Reverse(v6)
        );
        for bad in [
            "1.0.127.in-addr.arpa.",
            "256.0.0.1.in-addr.arpa.",
            "in-addr.arpa.",
        ] {
            assert_eq!(parse(bad, &d), Parsed::Outside, "{bad}");
        }
    }
}
