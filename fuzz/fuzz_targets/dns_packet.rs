//! Any bytes as a DNS packet: decoded the way the server decodes it, then every query is
//! parsed and answered from a small catalog. Nothing may panic.
#![no_main]

use std::sync::OnceLock;

use berth::catalog::command::{Command, NodeRegistration, Register};
use berth::catalog::Store;
use berth::dns::answer::{answer, Ask};
use berth::dns::name::{parse, Parsed};
use berth::dns::Settings;
use berth::model::{Check, Health, Service};
use hickory_proto::op::Message;
use libfuzzer_sys::fuzz_target;

fn store() -> &'static Store {
    static STORE: OnceLock<Store> = OnceLock::new();
    STORE.get_or_init(|| {
        let store = Store::new();
        for (i, addr) in ["10.0.0.1", "", "2001:db8::1", "not-an-ip"].iter().enumerate() {
            let node = format!("n{i}");
            let reg = Register {
                node: NodeRegistration {
                    name: node.clone(),
                    address: "127.0.0.1".into(),
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

fuzz_target!(|data: &[u8]| {
    let Ok(msg) = Message::from_vec(data) else { return };
    let settings = Settings {
        domains: vec!["consul.".into()],
        datacenter: "dc1".into(),
        node_ttl: 0,
        service_ttls: vec![("w*".into(), 5)],
        only_passing: false,
        a_record_limit: 2,
        udp_answer_limit: 3,
        recursors: None,
    };
    for q in &msg.queries {
        let name = q.name().to_string();
        if let Parsed::Inside(Some(lookup), domain) = parse(&name, &settings.domains) {
            let ask = Ask {
                qname: q.name(),
                qtype: q.query_type(),
                domain: &domain,
                max_instances: 3,
            };
            store().read(|t| answer(t, &settings, &lookup, &ask));
        }
    }
});
