//! Consul's DNS interface on `ports.dns` (8600), UDP and TCP: a hickory `RequestHandler` that
//! answers `*.service`, `*.node` and `*.addr` names under `domain`/`alt_domain` from this
//! server's catalog (stale reads: Consul's `allow_stale` default).
//!
//! `name.rs` parses names (pure), `answer.rs` builds records from the catalog, this file
//! speaks DNS: EDNS echo, Consul's UDP answer cap, SOA on NXDOMAIN/NODATA; names outside our
//! domains go to the recursors (`recurse.rs`), or get REFUSED when there are none.

pub mod answer;
pub mod name;
pub mod recurse;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::{Edns, MessageType, Metadata, OpCode, ResponseCode};
use hickory_proto::rr::{DNSClass, Record, RecordType};
use hickory_server::net::xfer::Protocol;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponseBuilder;
use hickory_server::Server;
use tokio_util::sync::CancellationToken;

use crate::catalog::Store;
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
            }),
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

/// Answers DNS queries from the catalog.
pub struct Handler {
    store: Store,
    settings: Arc<Settings>,
}

#[async_trait::async_trait]
impl RequestHandler for Handler {
    async fn handle_request<R: ResponseHandler, T: hickory_server::net::runtime::Time>(
        &self,
        request: &Request,
        mut response_handle: R,
    ) -> ResponseInfo {
        let mut resp_edns = Edns::new();
        let edns = request.edns.as_ref().map(|req| {
            resp_edns.set_max_payload(req.max_payload().max(512));
            resp_edns.set_version(0);
            &resp_edns
        });
        let fail = |code| {
            MessageResponseBuilder::new(&request.queries, edns).error_msg(&request.metadata, code)
        };
        let info = match request.request_info() {
            Ok(i) if request.metadata.message_type == MessageType::Query => i,
            _ => return send(&mut response_handle, fail(ResponseCode::FormErr), request).await,
        };
        if request.metadata.op_code != OpCode::Query {
            return send(&mut response_handle, fail(ResponseCode::NotImp), request).await;
        }
        let q = info.query;
        let qtype = q.query_type();
        if !matches!(q.query_class(), DNSClass::IN | DNSClass::ANY)
            || matches!(qtype, RecordType::AXFR | RecordType::IXFR)
        {
            return send(&mut response_handle, fail(ResponseCode::NotImp), request).await;
        }
        let qname = q.name().clone().into();
        let (reply, domain) = match name::parse(&q.name().to_string(), &self.settings.domains) {
            name::Parsed::Outside => {
                let Some(recursors) = &self.settings.recursors else {
                    return send(&mut response_handle, fail(ResponseCode::Refused), request).await;
                };
                let Some(upstream) = recursors.exchange(request.as_slice()).await else {
                    return send(&mut response_handle, fail(ResponseCode::ServFail), request).await;
                };
                let mut md = Metadata::response_from_request(&request.metadata);
                md.recursion_available = true;
                md.response_code = upstream.metadata.response_code;
                let response = MessageResponseBuilder::new(&request.queries, edns).build(
                    md,
                    upstream.answers.iter(),
                    upstream.authorities.iter(),
                    std::iter::empty(),
                    upstream.additionals.iter(),
                );
                return send(&mut response_handle, response, request).await;
            }
            name::Parsed::Inside(None, domain) => (
                answer::Reply {
                    rcode: ResponseCode::NXDomain,
                    soa: true,
                    ..Default::default()
                },
                domain,
            ),
            name::Parsed::Inside(Some(lookup), domain) => {
                let max_instances = if info.protocol == Protocol::Udp && edns.is_none() {
                    self.settings.udp_answer_limit.clamp(1, 8)
                } else {
                    usize::MAX
                };
                let ask = answer::Ask {
                    qname: &qname,
                    qtype,
                    domain: &domain,
                    max_instances,
                };
                let reply = self
                    .store
                    .read(|t| answer::answer(t, &self.settings, &lookup, &ask));
                (reply, domain)
            }
        };
        let soa: Vec<Record> = if reply.soa {
            vec![answer::soa_record(&domain)]
        } else {
            Vec::new()
        };
        let mut md = Metadata::response_from_request(&request.metadata);
        md.authoritative = true;
        md.recursion_available = self.settings.recursors.is_some();
        md.response_code = reply.rcode;
        let response = MessageResponseBuilder::new(&request.queries, edns).build(
            md,
            reply.answers.iter(),
            std::iter::empty(),
            soa.iter(),
            reply.additionals.iter(),
        );
        send(&mut response_handle, response, request).await
    }
}

async fn send<'a, R: ResponseHandler>(
    handle: &mut R,
    response: hickory_server::zone_handler::MessageResponse<
        '_,
        'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
    >,
    request: &Request,
) -> ResponseInfo {
    match handle.send_response(response).await {
        Ok(info) => info,
        Err(e) => {
            tracing::debug!(error = %e, "dns: failed to send a response");
            let mut metadata = Metadata::response_from_request(&request.metadata);
            metadata.response_code = ResponseCode::ServFail;
            ResponseInfo::from(hickory_proto::op::Header {
                metadata,
                counts: Default::default(),
            })
        }
    }
}

/// Serves DNS on `addrs` (UDP and TCP each) until `stop`. Binding errors are returned before
/// anything is served.
pub async fn serve(
    addrs: &[SocketAddr],
    store: Store,
    settings: Settings,
    stop: CancellationToken,
) -> std::io::Result<impl std::future::Future<Output = ()>> {
    let mut server = Server::new(Handler {
        store,
        settings: Arc::new(settings),
    });
    for addr in addrs {
        server.register_socket(tokio::net::UdpSocket::bind(addr).await?);
        server.register_listener(
            tokio::net::TcpListener::bind(addr).await?,
            Duration::from_secs(5),
            64,
        );
        tracing::info!(address = %addr, "agent: started DNS server on {addr} (udp and tcp)");
    }
    Ok(async move {
        stop.cancelled().await;
        let _ = server.shutdown_gracefully().await;
    })
}
