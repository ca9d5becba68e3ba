//! What Berth answers for a parsed name, read from the catalog (reference §3): healthy
//! instances only, shuffled, A/AAAA from the service address (else the node's), SRV with
//! `<node>.node.<dc>.<domain>.` (or `<hex>.addr...` for an instance with its own address)
//! and the target's address in the additional section; NXDOMAIN when nothing is healthy,
//! NODATA when the name exists but has no record of the asked type.

use std::collections::HashSet;
use std::net::IpAddr;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::rdata::{A, AAAA, CNAME, NS, PTR, SOA, SRV, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use rand::seq::SliceRandom;

use super::found::{Found, Instance, NodeEntry};
use super::name::{hex_label, Lookup};
use super::{Settings, SoaSettings};
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
    /// Instances were left out to fit the transport (`udp_answer_limit`, Consul's caps):
    /// counts as trimming for `enable_truncate`.
    pub capped: bool,
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
            capped: false,
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

/// The reply for `lookup`, built from what the catalog `found` for it.
pub fn answer(found: &Found, s: &Settings, lookup: &Lookup, ask: &Ask<'_>) -> Reply {
    let (qtype, domain, qname) = (ask.qtype, ask.domain, ask.qname);
    match (lookup, found) {
        (Lookup::Apex, Found::Servers(servers)) => apex(servers, s, ask),
        (Lookup::Apex, _) => apex(&[], s, ask),
        (Lookup::Addr { ip, .. }, _) => {
            let rec = address_record(qname.clone(), *ip, s.node_ttl, qtype);
            Reply::records(rec.into_iter().collect(), Vec::new())
        }
        (_, Found::Service { name, instances }) => service_reply(s, name, instances, ask),
        (_, Found::Node(n)) => node_reply(s, n, ask),
        (_, Found::Owner { node, name }) => {
            if !matches!(qtype, RecordType::PTR | RecordType::ANY) {
                return Reply::records(Vec::new(), Vec::new());
            }
            let kind = if *node { "node" } else { "service" };
            let Ok(target) = Name::from_ascii(format!("{name}.{kind}.{}.{domain}", s.datacenter))
            else {
                return Reply::nxdomain();
            };
            let rec = Record::from_rdata(qname.clone(), s.node_ttl, RData::PTR(PTR(target)));
            Reply::records(vec![rec], Vec::new())
        }
        _ => Reply::nxdomain(),
    }
}

/// A node's address (A/AAAA, or CNAME for a host name) and its meta as TXT records: in the
/// answer for TXT and ANY, else in the additional section (`enable_additional_node_meta_txt`).
fn node_reply(s: &Settings, n: &NodeEntry, ask: &Ask<'_>) -> Reply {
    let (qtype, qname) = (ask.qtype, ask.qname);
    if !matches!(
        qtype,
        RecordType::A | RecordType::AAAA | RecordType::ANY | RecordType::TXT
    ) {
        return Reply::records(Vec::new(), Vec::new());
    }
    let mut answers = Vec::new();
    if qtype != RecordType::TXT {
        match n.address.parse::<IpAddr>() {
            Ok(ip) => answers.extend(address_record(qname.clone(), ip, s.node_ttl, qtype)),
            Err(_) => answers.extend(cname(qname, &n.address, s.node_ttl)),
        }
    }
    let txt = meta_txt(qname, &n.meta, s.node_ttl);
    if matches!(qtype, RecordType::TXT | RecordType::ANY) {
        answers.extend(txt);
        Reply::records(answers, Vec::new())
    } else if answers.is_empty() {
        Reply::records(answers, Vec::new())
    } else {
        let extra = if s.node_meta_txt { txt } else { Vec::new() };
        Reply::records(answers, extra)
    }
}

/// Node meta as RFC 1464 TXT records (`key=value`; `rfc1035-` keys give the bare value).
fn meta_txt(name: &Name, meta: &[(String, String)], ttl: u32) -> Vec<Record> {
    meta.iter()
        .map(|(k, v)| {
            let text = match k.strip_prefix("rfc1035-") {
                Some(_) => v.clone(),
                None => format!("{k}={v}"),
            };
            Record::from_rdata(name.clone(), ttl, RData::TXT(TXT::new(vec![text])))
        })
        .collect()
}

/// A CNAME to `host` (an address that is a host name), if it is a valid name.
fn cname(name: &Name, host: &str, ttl: u32) -> Option<Record> {
    let target = Name::from_ascii(format!("{}.", host.trim_end_matches('.'))).ok()?;
    Some(Record::from_rdata(
        name.clone(),
        ttl,
        RData::CNAME(CNAME(target)),
    ))
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

/// The SOA record of `domain` (`dns_config.soa`; serial = now; record TTL = min_ttl).
pub fn soa_record(domain: &str, soa: &SoaSettings) -> Record {
    let origin = Name::from_ascii(domain).unwrap_or_else(|_| Name::root());
    let ns = Name::from_ascii(format!("ns.{domain}")).unwrap_or_else(|_| origin.clone());
    let mbox = Name::from_ascii(format!("hostmaster.{domain}")).unwrap_or_else(|_| origin.clone());
    let serial = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as u32);
    let rdata = SOA::new(
        ns,
        mbox,
        serial,
        soa.refresh as i32,
        soa.retry as i32,
        soa.expire as i32,
        soa.min_ttl,
    );
    Record::from_rdata(origin, soa.min_ttl, RData::SOA(rdata))
}

fn apex(servers: &[NodeEntry], s: &Settings, ask: &Ask<'_>) -> Reply {
    let (qtype, domain, qname) = (ask.qtype, ask.domain, ask.qname);
    match qtype {
        RecordType::SOA => Reply::records(vec![soa_record(domain, &s.soa)], Vec::new()),
        RecordType::NS | RecordType::ANY => {
            let mut answers = Vec::new();
            let mut glue = Vec::new();
            let mut servers: Vec<&NodeEntry> = servers.iter().collect();
            servers.shuffle(&mut rand::thread_rng());
            for n in servers.into_iter().take(3) {
                let Ok(target) =
                    Name::from_ascii(format!("{}.node.{}.{domain}", n.name, s.datacenter))
                else {
                    continue;
                };
                answers.push(Record::from_rdata(
                    qname.clone(),
                    s.node_ttl,
                    RData::NS(NS(target.clone())),
                ));
                if let Ok(ip) = n.address.parse::<IpAddr>() {
                    glue.extend(address_record(target, ip, s.node_ttl, RecordType::ANY));
                }
            }
            Reply::records(answers, glue)
        }
        _ => Reply::records(Vec::new(), Vec::new()),
    }
}

/// Whether an instance is served: no critical check (no warning either with `only_passing`).
fn healthy(status: Health, only_passing: bool) -> bool {
    match status {
        Health::Passing => true,
        Health::Warning => !only_passing,
        Health::Critical => false,
    }
}

fn service_reply(s: &Settings, name: &str, instances: &[Instance], ask: &Ask<'_>) -> Reply {
    let (qtype, domain, qname) = (ask.qtype, ask.domain, ask.qname);
    let mut live: Vec<&Instance> = instances
        .iter()
        .filter(|i| healthy(i.status, s.only_passing))
        .collect();
    if live.is_empty() {
        return Reply::nxdomain();
    }
    live.shuffle(&mut rand::thread_rng());
    // Consul's caps (1,024 SRV / 4,096 other records) keep the work per query bounded.
    let cap = if qtype == RecordType::SRV { 1024 } else { 4096 };
    let keep = ask.max_instances.clamp(1, cap);
    let capped = live.len() > keep;
    live.truncate(keep);
    let ttl = s.service_ttl(name);
    let mut answers = Vec::new();
    let mut additionals = Vec::new();
    match qtype {
        RecordType::SRV => {
            let mut seen = HashSet::new();
            for i in live {
                if !seen.insert((&i.node.name, &i.address, i.port)) {
                    continue;
                }
                let own: Option<IpAddr> = i.address.parse().ok();
                let target = match own {
                    Some(ip) => format!("{}.addr.{}.{domain}", hex_label(ip), s.datacenter),
                    None if !i.address.is_empty() => {
                        format!("{}.", i.address.trim_end_matches('.'))
                    }
                    None => format!("{}.node.{}.{domain}", i.node.name, s.datacenter),
                };
                let Ok(target) = Name::from_ascii(&target) else {
                    continue;
                };
                let weight = if i.status == Health::Warning {
                    i.weight_warning
                } else {
                    i.weight_passing
                };
                let srv = SRV::new(
                    1,
                    weight.min(u32::from(u16::MAX)) as u16,
                    i.port,
                    target.clone(),
                );
                answers.push(Record::from_rdata(qname.clone(), ttl, RData::SRV(srv)));
                let addr = own.or_else(|| {
                    i.address
                        .is_empty()
                        .then(|| i.node.address.parse().ok())
                        .flatten()
                });
                if let Some(ip) = addr {
                    additionals.extend(address_record(target.clone(), ip, ttl, RecordType::ANY));
                }
                if s.node_meta_txt && i.address.is_empty() {
                    additionals.extend(meta_txt(&target, &i.node.meta, ttl));
                }
            }
        }
        _ => {
            let mut seen = HashSet::new();
            let mut hosts = Vec::new();
            for i in live {
                let addr = if i.address.is_empty() {
                    &i.node.address
                } else {
                    &i.address
                };
                match addr.parse::<IpAddr>() {
                    Ok(ip) if seen.insert(ip) => {
                        answers.extend(address_record(qname.clone(), ip, ttl, qtype));
                    }
                    Ok(_) => {}
                    Err(_) if hosts.len() < 64 && !hosts.contains(addr) => hosts.push(addr.clone()),
                    Err(_) => {}
                }
            }
            // Host-name addresses answer as CNAMEs, and only when no instance has an IP.
            if seen.is_empty()
                && matches!(qtype, RecordType::A | RecordType::AAAA | RecordType::ANY)
            {
                answers.extend(hosts.iter().filter_map(|h| cname(qname, h, ttl)));
            }
            if s.a_record_limit > 0 {
                answers.truncate(s.a_record_limit);
            }
        }
    }
    Reply {
        capped,
        ..Reply::records(answers, additionals)
    }
}
