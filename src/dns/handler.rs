//! One DNS query in, one response out (bytes to bytes), for both transports: decoding, the
//! protocol checks (FORMERR, NOTIMP), routing by name (our domains, reverse names, recursion),
//! EDNS echo, Consul's UDP answer cap and SOA on NXDOMAIN/NODATA, then `wire::encode`.

use std::sync::Arc;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::{DNSClass, RecordType};

use super::answer::{self, Ask, Reply};
use super::found::Found;
use super::name::{self, Lookup, Parsed};
use super::source::{Source, Staleness};
use super::wire::{self, Limits};
use super::Settings;

/// The transport a query came over (it decides the size limit and the UDP answer cap).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// Datagrams: 512 bytes, or the client's EDNS size.
    Udp,
    /// Streams: up to 64 KiB.
    Tcp,
}

/// Answers queries; shared by the UDP and TCP loops.
pub struct Handler {
    source: Source,
    settings: Settings,
}

/// A decoded query, ready to answer.
struct Query {
    msg: Message,
    transport: Transport,
}

impl Handler {
    /// A handler reading through `source`.
    pub fn new(source: Source, settings: Settings) -> Arc<Handler> {
        Arc::new(Handler { source, settings })
    }

    /// The response to `packet`, or `None` when nothing should be sent (not a query, or too
    /// broken to answer).
    pub async fn respond(&self, packet: &[u8], transport: Transport) -> Option<Vec<u8>> {
        let msg = match Message::from_vec(packet) {
            Ok(m) => m,
            Err(_) => return form_error(packet),
        };
        if msg.metadata.message_type != MessageType::Query {
            return None;
        }
        let q = Query { msg, transport };
        if q.msg.metadata.op_code != OpCode::Query {
            return self.error(&q, ResponseCode::NotImp);
        }
        if q.msg.queries.len() != 1 {
            return self.error(&q, ResponseCode::FormErr);
        }
        let question = &q.msg.queries[0];
        let qtype = question.query_type();
        if !matches!(question.query_class(), DNSClass::IN | DNSClass::ANY)
            || matches!(qtype, RecordType::AXFR | RecordType::IXFR)
        {
            return self.error(&q, ResponseCode::NotImp);
        }
        let stale = self.staleness();
        let (lookup, domain) =
            match name::parse(&question.name().to_ascii(), &self.settings.domains) {
                Parsed::Outside => return self.recurse(&q, packet).await,
                Parsed::Reverse(ip) => {
                    let lookup = Lookup::Ptr { ip };
                    match self.source.fetch(&lookup, stale, false).await {
                        Ok(Found::Nothing) if self.settings.recursors.is_some() => {
                            return self.recurse(&q, packet).await
                        }
                        Ok(found) => {
                            let domain = self.settings.domains[0].clone();
                            return self.reply(&q, &lookup, &found, &domain);
                        }
                        Err(e) => return self.servfail(&q, &e),
                    }
                }
                Parsed::Inside(None, domain) => {
                    return self.reply(&q, &Lookup::Apex, &Found::Nothing, &domain);
                }
                Parsed::Inside(Some(lookup), domain) => (lookup, domain),
            };
        if !self.in_our_dc(&lookup) {
            return self.reply(&q, &lookup, &Found::Nothing, &domain);
        }
        let found = match &lookup {
            // Addresses are in the name itself; nothing to read.
            Lookup::Addr { .. } => Ok(Found::Nothing),
            // From the local catalog without suspending when the rules allow, else over RPC.
            _ => self.source.fetch(&lookup, stale, false).await,
        };
        match found {
            Ok(found) => self.reply(&q, &lookup, &found, &domain),
            Err(e) => self.servfail(&q, &e),
        }
    }

    fn staleness(&self) -> Staleness {
        Staleness {
            allow_stale: self.settings.allow_stale,
            max_stale: self.settings.max_stale,
        }
    }

    fn in_our_dc(&self, lookup: &Lookup) -> bool {
        let dc = match lookup {
            Lookup::Service { dc, .. } | Lookup::Node { dc, .. } | Lookup::Addr { dc, .. } => dc,
            Lookup::Apex | Lookup::Ptr { .. } => return true,
        };
        dc.as_deref()
            .is_none_or(|d| d.eq_ignore_ascii_case(&self.settings.datacenter))
    }

    /// The records for `lookup` from `found`, with the SOA when there are none.
    fn reply(&self, q: &Query, lookup: &Lookup, found: &Found, domain: &str) -> Option<Vec<u8>> {
        let question = &q.msg.queries[0];
        let no_edns_udp = q.transport == Transport::Udp && q.msg.edns.is_none();
        let max_instances = if no_edns_udp {
            self.settings.udp_answer_limit.clamp(1, 8)
        } else {
            usize::MAX
        };
        let ask = Ask {
            qname: question.name(),
            qtype: question.query_type(),
            domain,
            max_instances,
        };
        let reply = if matches!(found, Found::Nothing) && !matches!(lookup, Lookup::Addr { .. }) {
            Reply {
                rcode: ResponseCode::NXDomain,
                soa: true,
                ..Reply::default()
            }
        } else {
            answer::answer(found, &self.settings, lookup, &ask)
        };
        let mut resp = self.response(q, reply.rcode);
        resp.metadata.authoritative = true;
        resp.answers = reply.answers;
        resp.additionals = reply.additionals;
        if reply.soa {
            resp.authorities
                .push(answer::soa_record(domain, &self.settings.soa));
        }
        self.encode(
            q,
            resp,
            Trim::Ours {
                capped: reply.capped,
            },
        )
    }

    /// Names outside our domains: the recursors' answer, SERVFAIL when they all fail, or
    /// REFUSED when there are none.
    async fn recurse(&self, q: &Query, packet: &[u8]) -> Option<Vec<u8>> {
        let Some(recursors) = &self.settings.recursors else {
            return self.error(q, ResponseCode::Refused);
        };
        let Some(upstream) = recursors.exchange(packet).await else {
            return self.error(q, ResponseCode::ServFail);
        };
        let mut resp = self.response(q, upstream.metadata.response_code);
        resp.answers = upstream.answers;
        resp.authorities = upstream.authorities;
        resp.additionals = upstream
            .additionals
            .into_iter()
            .filter(|r| r.record_type() != RecordType::OPT)
            .collect();
        self.encode(q, resp, Trim::Recursed)
    }

    fn servfail(&self, q: &Query, e: &super::source::SourceError) -> Option<Vec<u8>> {
        tracing::warn!(error = %e, "dns: cannot read the catalog; answering SERVFAIL");
        self.error(q, ResponseCode::ServFail)
    }

    fn error(&self, q: &Query, code: ResponseCode) -> Option<Vec<u8>> {
        let resp = self.response(q, code);
        self.encode(q, resp, Trim::Ours { capped: false })
    }

    /// The response skeleton: ID, opcode, RD, RA, the question, EDNS echoed.
    fn response(&self, q: &Query, code: ResponseCode) -> Message {
        let mut resp = Message::new(
            q.msg.metadata.id,
            MessageType::Response,
            q.msg.metadata.op_code,
        );
        resp.metadata.recursion_desired = q.msg.metadata.recursion_desired;
        resp.metadata.recursion_available = self.settings.recursors.is_some();
        resp.metadata.checking_disabled = q.msg.metadata.checking_disabled;
        resp.metadata.response_code = code;
        resp.queries = q.msg.queries.clone();
        if let Some(req) = &q.msg.edns {
            let mut edns = Edns::new();
            edns.set_max_payload(req.max_payload().max(512));
            edns.set_version(0);
            resp.edns = Some(edns);
        }
        resp
    }

    fn encode(&self, q: &Query, mut resp: Message, trim: Trim) -> Option<Vec<u8>> {
        let max_size = match (q.transport, &q.msg.edns) {
            (Transport::Tcp, _) => usize::from(u16::MAX),
            (Transport::Udp, Some(edns)) => usize::from(edns.max_payload().max(512)),
            (Transport::Udp, None) => 512,
        };
        let limits = match trim {
            Trim::Ours { capped } => Limits {
                max_size,
                set_tc: self.settings.enable_truncate,
                capped,
                uncompressed: self.settings.disable_compression,
            },
            // Someone else's answer cut short must say so, or the client never retries.
            Trim::Recursed => Limits {
                max_size,
                set_tc: true,
                capped: false,
                uncompressed: self.settings.disable_compression,
            },
        };
        wire::encode(&mut resp, limits)
    }
}

/// Whose answer is being trimmed: ours follow `enable_truncate`, a recursor's always set TC.
#[derive(Debug, Clone, Copy)]
enum Trim {
    /// Built here; `capped`: instances were already left out (the UDP answer cap).
    Ours { capped: bool },
    /// Relayed from a recursor.
    Recursed,
}

/// FORMERR for a packet whose header is readable and says it is a query; else nothing.
fn form_error(packet: &[u8]) -> Option<Vec<u8>> {
    if packet.len() < 12 || packet[2] & 0x80 != 0 {
        return None;
    }
    let mut header = packet[..12].to_vec();
    // QR=1, keep opcode and RD; clear AA/TC; RA=0, rcode FORMERR; no records.
    header[2] = (header[2] & 0x79) | 0x80;
    header[3] = 0x01;
    header[4..12].fill(0);
    Some(header)
}
