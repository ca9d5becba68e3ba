//! Table tests for the leader's member → catalog rules.

use super::*;
use crate::catalog::Store;
use crate::model::Service;

fn member(name: &str, status: MemberState) -> MemberView {
    MemberView {
        name: name.into(),
        id: format!("id-{name}"),
        addr: "10.0.0.2".into(),
        status,
        server_port: None,
    }
}

fn apply_all(store: &Store, members: &[MemberView]) -> usize {
    apply_all_reaped(store, members, &[])
}

fn apply_all_reaped(store: &Store, members: &[MemberView], reaped: &[&str]) -> usize {
    let reaped: BTreeSet<String> = reaped.iter().map(|s| s.to_string()).collect();
    let cmds = store.read(|t| plan(t, members, &reaped, "dc1"));
    let n = cmds.len();
    let base = store.applied();
    for (i, c) in cmds.iter().enumerate() {
        store.apply(base + 1 + i as u64, c);
    }
    n
}

fn serf(store: &Store, node: &str) -> Option<Check> {
    store.read(|t| {
        t.node_checks(node)
            .0
            .into_iter()
            .find(|c| c.check_id == SERF_CHECK_ID)
            .cloned()
    })
}

#[test]
fn alive_failed_alive_left() {
    let store = Store::new();
    assert_eq!(apply_all(&store, &[member("n2", MemberState::Alive)]), 1);
    assert_eq!(serf(&store, "n2").unwrap().status, Health::Passing);
    assert_eq!(
        apply_all(&store, &[member("n2", MemberState::Alive)]),
        0,
        "nothing to do twice"
    );
    // A service on the node, registered through the catalog, follows the node's health.
    let reg = Register {
        node: NodeRegistration {
            name: "n2".into(),
            address: "10.0.0.2".into(),
            ..Default::default()
        },
        skip_node_update: true,
        service: Some(Service {
            id: "web".into(),
            name: "web".into(),
            ..Default::default()
        }),
        checks: vec![],
    };
    store.apply(store.applied() + 1, &Command::Register(Box::new(reg)));
    apply_all(&store, &[member("n2", MemberState::Failed)]);
    let c = serf(&store, "n2").unwrap();
    assert_eq!(
        (c.status, c.output.as_str()),
        (Health::Critical, FAILED_OUTPUT)
    );
    assert!(store.read(|t| t.health_service("web", &[], true).0.is_empty()));
    assert_eq!(
        store.read(|t| t.service_nodes("web", &[]).0.len()),
        1,
        "a failed node keeps its services"
    );
    apply_all(&store, &[member("n2", MemberState::Alive)]);
    assert_eq!(
        store.read(|t| t.health_service("web", &[], true).0.len()),
        1,
        "back alive: passing again"
    );
    apply_all(&store, &[member("n2", MemberState::Left)]);
    assert!(
        store.read(|t| t.node_services("n2").0.is_none()),
        "left: node deregistered"
    );
}

#[test]
fn reaped_members_go_but_catalog_only_nodes_stay() {
    let store = Store::new();
    apply_all(&store, &[member("n2", MemberState::Alive)]);
    let ext = Register {
        node: NodeRegistration {
            name: "ext".into(),
            address: "1.2.3.4".into(),
            ..Default::default()
        },
        ..Default::default()
    };
    store.apply(store.applied() + 1, &Command::Register(Box::new(ext)));
    apply_all(&store, &[]);
    assert_eq!(
        serf(&store, "n2").unwrap().status,
        Health::Critical,
        "unknown to a new leader: critical, not deleted"
    );
    apply_all_reaped(&store, &[], &["n2"]);
    assert!(
        store.read(|t| t.node_services("n2").0.is_none()),
        "reaped by gossip: deregistered"
    );
    assert!(
        store.read(|t| t.node_services("ext").0.is_some()),
        "registered through the catalog: kept"
    );
}

#[test]
fn servers_get_the_consul_service_and_keep_their_own_meta() {
    let store = Store::new();
    let mut m = member("s2", MemberState::Alive);
    m.server_port = Some(8300);
    apply_all(&store, std::slice::from_ref(&m));
    let port = store.read(|t| {
        t.node_services("s2")
            .0
            .unwrap()
            .1
            .iter()
            .find(|s| s.id == "consul")
            .map(|s| s.port)
    });
    assert_eq!(port, Some(8300));
    // The member's own agent set meta; a later failure must not wipe it.
    let own = Register {
        node: NodeRegistration {
            id: "id-s2".into(),
            name: "s2".into(),
            address: "10.0.0.2".into(),
            datacenter: "dc1".into(),
            meta: [("rack".to_string(), "a".to_string())].into(),
            ..Default::default()
        },
        ..Default::default()
    };
    store.apply(store.applied() + 1, &Command::Register(Box::new(own)));
    m.status = MemberState::Failed;
    apply_all(&store, &[m]);
    assert_eq!(
        store.read(|t| t.node_services("s2").0.unwrap().0.meta.get("rack").cloned()),
        Some("a".into())
    );
}
