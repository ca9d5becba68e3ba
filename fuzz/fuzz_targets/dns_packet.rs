//! Any bytes as a DNS packet, through the server's own handler (decode, route, answer from a
//! small catalog, encode within the transport's size) over both transports. Nothing may
//! panic, and whatever is sent back must decode and carry the query's ID.
#![no_main]

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use berth::catalog::command::{Command, NodeRegistration, Register};
use berth::catalog::Store;
use berth::dns::handler::{Handler, Transport};
use berth::dns::source::Source;
use berth::dns::{Settings, SoaSettings};
use berth::model::{Check, Health, Service};
use hickory_proto::op::Message;
use libfuzzer_sys::fuzz_target;

fn store() -> &'static Store {
    static STORE: OnceLock<Store> = OnceLock::new();
    STORE.get_or_init(|| {
        let store = Store::new();
        for (i, addr) in ["10.0.0.1", "", "2001:db8::1", "host.example"].iter().enumerate() {
            let node = format!("n{i}");
            let reg = Register {
                node: NodeRegistration {
                    name: node.clone(),
                    address: "127.0.0.1".into(),
                    meta: [("consul-network-segment".to_string(), String::new())].into(),
                    ..NodeRegistration::default()
                },
                skip_node_update: false,
                service: Some(Service {
                    node: node.clone(),
                    id: format!("web-{i}"),
                    name: "web".into(),
                    tags: vec!["v1".into()],
                    address: addr.to_string(),
                    port: 80,
                    ..Service::default()
                }),
                checks: vec![Check {
                    node,
                    check_id: "c".into(),
                    status: if i == 3 { Health::Critical } else { Health::Passing },
                    service_id: format!("web-{i}"),
                    ..Check::default()
                }],
            };
            store.apply(i as u64 + 1, &Command::Register(Box::new(reg)));
        }
        store
    })
}

fn handler() -> &'static Arc<Handler> {
    static HANDLER: OnceLock<Arc<Handler>> = OnceLock::new();
    HANDLER.get_or_init(|| {
        let settings = Settings {
            domains: vec!["consul.".into(), "alt.test.".into()],
            datacenter: "dc1".into(),
            node_ttl: 0,
            service_ttls: vec![("w*".into(), 5)],
            only_passing: false,
            a_record_limit: 2,
            udp_answer_limit: 3,
            recursors: None,
            allow_stale: true,
            max_stale: Duration::from_secs(10),
            enable_truncate: true,
            disable_compression: false,
            node_meta_txt: true,
            soa: SoaSettings {
                refresh: 3600,
                retry: 600,
                expire: 86400,
                min_ttl: 0,
            },
        };
        Handler::new(Source::standalone(store().clone()), settings)
    })
}

fuzz_target!(|data: &[u8]| {
    for transport in [Transport::Udp, Transport::Tcp] {
        if let Some(bytes) = futures::executor::block_on(handler().respond(data, transport)) {
            // Whatever is sent must decode, carry the query's ID, and fit 512 bytes over UDP
            // when the query had no EDNS.
            Message::from_vec(&bytes).expect("the server sent an undecodable message");
            assert_eq!(&bytes[..2], &data[..2], "response ID differs from the query's");
            let plain = Message::from_vec(data).is_ok_and(|q| q.edns.is_none());
            if transport == Transport::Udp && plain {
                assert!(bytes.len() <= 512, "{} bytes over UDP without EDNS", bytes.len());
            }
        }
    }
});
