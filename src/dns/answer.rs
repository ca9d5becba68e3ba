//! What Berth answers for a parsed name, read from the catalog (reference §3): healthy
//! instances only, shuffled, A/AAAA from the service address (else the node's), SRV with
//! `<node>.node.<dc>.<domain>.` (or `<hex>.addr...` for an instance with its own address)
//! and the target's address in the additional section; NXDOMAIN when nothing is healthy,
//! NODATA when the name exists but has no record of the asked type.

use std::net::IpAddr;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::rdata::{A, AAAA, NS, SOA, SRV};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use rand::seq::SliceRandom;

use super::name::{hex_label, Lookup};
use super::Settings;
use crate::catalog::query::ServiceHealth;
use crate::catalog::Tables;
use crate::model::Health;

/// The sections of a reply.
#[derive(Debug, Default)]
pub struct Reply {
    /// NOERROR, NXDOMAIN, ...
    pub rcode: ResponseCode,
    /// Answer section.
    pub answers: Vec<Record>,
    /// Additional section (SRV targets' addresses).
    pub additionals: Vec<Record>,
    /// Whether the authority section carries the SOA (NXDOMAIN, NODATA).
    pub soa: bool,
}

impl Reply {
    fn nxdomain() -> Reply {
        Reply {
            rcode: ResponseCode::NXDomain,
            soa: true,
            ..Reply::default()
        }
    }

    fn records(answers: Vec<Record>, additionals: Vec<Record>) -> Reply {
        let soa = answers.is_empty();
        Reply {
            rcode: ResponseCode::NoError,
            answers,
            additionals,
            soa,
        }
    }
}

/// The reply for `lookup` of type `qtype`; `domain` is the domain the query used.
/// What a reply may hold: the query's name and type, the domain it used, and how many service
/// instances fit (UDP without EDNS: Consul's `udp_answer_limit`).
pub struct Ask<'a> {
    /// The name asked, as it goes into the answers.
    pub qname: &'a Name,
    /// The record type asked.
    pub qtype: RecordType,
    /// Our domain the name is under.
    pub domain: &'a str,
    /// At most this many instances are answered (chosen after the shuffle).
    pub max_instances: usize,
}

/// The reply for `lookup`.
pub fn answer(t: &Tables, s: &Settings, lookup: &Lookup, ask: &Ask<'_>) -> Reply {
    let (qtype, domain, qname) = (ask.qtype, ask.domain, ask.qname);
    let dc_ok = |dc: &Option<String>| {
        dc.as_deref()
            .is_none_or(|d| d.eq_ignore_ascii_case(&s.datacenter))
    };
    match lookup {
        Lookup::Apex => apex(t, s, qtype, domain, qname),
        Lookup::Service { dc, .. } | Lookup::Node { dc, .. } | Lookup::Addr { dc, .. }
            if !dc_ok(dc) =>
        {
            Reply::nxdomain()
        }
        Lookup::Service { service, tag, .. } => service_reply(t, s, service, tag.as_deref(), ask),
        Lookup::Node { node, .. } => {
            // The name as asked (lower case) first; a mixed-case node name needs the scan.
            let found = t
                .nodes
                .get(node)
                .or_else(|| t.nodes.values().find(|n| n.name.eq_ignore_ascii_case(node)));
            let Some(n) = found else {
                return Reply::nxdomain();
            };
            let Ok(ip) = n.address.parse::<IpAddr>() else {
                return Reply::records(Vec::new(), Vec::new());
            };
            let rec = address_record(qname.clone(), ip, s.node_ttl, qtype);
            Reply::records(rec.into_iter().collect(), Vec::new())
        }
        Lookup::Addr { ip, .. } => {
            let rec = address_record(qname.clone(), *ip, s.node_ttl, qtype);
            Reply::records(rec.into_iter().collect(), Vec::new())
        }
    }
}

/// A or AAAA for `ip` when `qtype` asks for that family (or ANY).
fn address_record(name: Name, ip: IpAddr, ttl: u32, qtype: RecordType) -> Option<Record> {
    match (ip, qtype) {
        (IpAddr::V4(v4), RecordType::A | RecordType::ANY) => {
            Some(Record::from_rdata(name, ttl, RData::A(A(v4))))
        }
        (IpAddr::V6(v6), RecordType::AAAA | RecordType::ANY) => {
            Some(Record::from_rdata(name, ttl, RData::AAAA(AAAA(v6))))
        }
        _ => None,
    }
}

/// The SOA record of `domain` (Consul's fixed fields; serial = now).
pub fn soa_record(domain: &str) -> Record {
    let origin = Name::from_ascii(domain).unwrap_or_else(|_| Name::root());
    let ns = Name::from_ascii(format!("ns.{domain}")).unwrap_or_else(|_| origin.clone());
    let mbox = Name::from_ascii(format!("hostmaster.{domain}")).unwrap_or_else(|_| origin.clone());
    let serial = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as u32);
    Record::from_rdata(
        origin,
        0,
        RData::SOA(SOA::new(ns, mbox, serial, 3600, 600, 86400, 0)),
    )
}

fn apex(t: &Tables, s: &Settings, qtype: RecordType, domain: &str, qname: &Name) -> Reply {
    match qtype {
        RecordType::SOA => Reply::records(vec![soa_record(domain)], Vec::new()),
        RecordType::NS | RecordType::ANY => {
            let mut answers = Vec::new();
            let mut glue = Vec::new();
            let (servers, _) = t.health_service("consul", &[], false);
            for h in servers.iter().take(3) {
                let Ok(target) =
                    Name::from_ascii(format!("{}.node.{}.{domain}", h.node.name, s.datacenter))
                else {
                    continue;
                };
                answers.push(Record::from_rdata(
                    qname.clone(),
                    s.node_ttl,
                    RData::NS(NS(target.clone())),
                ));
                if let Ok(ip) = h.node.address.parse::<IpAddr>() {
                    glue.extend(address_record(target, ip, s.node_ttl, RecordType::ANY));
                }
            }
            Reply::records(answers, glue)
        }
        _ => Reply::records(Vec::new(), Vec::new()),
    }
}

/// Whether an instance is served: no critical check (no warning either with `only_passing`).
fn healthy(h: &ServiceHealth<'_>, only_passing: bool) -> bool {
    h.checks.iter().all(|c| match c.status {
        Health::Passing => true,
        Health::Warning => !only_passing,
        Health::Critical => false,
    })
}

#[allow(clippy::too_many_arguments)]
fn service_reply(
    t: &Tables,
    s: &Settings,
    service: &str,
    tag: Option<&str>,
    ask: &Ask<'_>,
) -> Reply {
    let (qtype, domain, qname) = (ask.qtype, ask.domain, ask.qname);
    // The name as asked (lower case) first; a mixed-case service name needs the scan.
    let (mut all, _) = t.health_service(service, &[], false);
    let mut name = service.to_string();
    if all.is_empty() {
        let (names, _) = t.services();
        let Some(found) = names.keys().find(|n| n.eq_ignore_ascii_case(service)) else {
            return Reply::nxdomain();
        };
        name = found.clone();
        all = t.health_service(&name, &[], false).0;
    }
    let mut live: Vec<&ServiceHealth<'_>> = all
        .iter()
        .filter(|h| {
            tag.is_none_or(|tag| h.service.tags.iter().any(|x| x.eq_ignore_ascii_case(tag)))
        })
        .filter(|h| healthy(h, s.only_passing))
        .collect();
    if live.is_empty() {
        return Reply::nxdomain();
    }
    live.shuffle(&mut rand::thread_rng());
    live.truncate(ask.max_instances.max(1));
    let ttl = s.service_ttl(&name);
    let mut answers = Vec::new();
    let mut additionals = Vec::new();
    match qtype {
        RecordType::SRV => {
            for h in live {
                let own: Option<IpAddr> = h.service.address.parse().ok();
                let addr = own.or_else(|| h.node.address.parse().ok());
                let target = match own {
                    Some(ip) => format!("{}.addr.{}.{domain}", hex_label(ip), s.datacenter),
                    None => format!("{}.node.{}.{domain}", h.node.name, s.datacenter),
                };
                let Ok(target) = Name::from_ascii(&target) else {
                    continue;
                };
                let warning = h.checks.iter().any(|c| c.status == Health::Warning);
                let w = if warning {
                    h.service.weights.warning
                } else {
                    h.service.weights.passing
                };
                let srv = SRV::new(
                    1,
                    w.min(u32::from(u16::MAX)) as u16,
                    h.service.port,
                    target.clone(),
                );
                answers.push(Record::from_rdata(qname.clone(), ttl, RData::SRV(srv)));
                if let Some(ip) = addr {
                    additionals.extend(address_record(target, ip, ttl, RecordType::ANY));
                }
            }
        }
        _ => {
            let mut seen = Vec::new();
            for h in live {
                let addr = if h.service.address.is_empty() {
                    &h.node.address
                } else {
                    &h.service.address
                };
                let Ok(ip) = addr.parse::<IpAddr>() else {
                    continue;
                };
                if seen.contains(&ip) {
                    continue;
                }
                seen.push(ip);
                answers.extend(address_record(qname.clone(), ip, ttl, qtype));
            }
            if s.a_record_limit > 0 {
                answers.truncate(s.a_record_limit);
            }
        }
    }
    Reply::records(answers, additionals)
}
