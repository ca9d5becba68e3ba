//! Table tests for `Tables::apply` and the queries: index rules, validation, tombstones,
//! snapshot round trips.

use super::command::{Command, Deregister, NodeRegistration, Register};
use super::{Response, Store};
use crate::model::{Check, Health, Service};

fn node(name: &str, addr: &str) -> NodeRegistration {
    NodeRegistration {
        name: name.into(),
        address: addr.into(),
        datacenter: "dc1".into(),
        ..Default::default()
    }
}

fn svc(id: &str, name: &str, port: u16) -> Service {
    Service {
        id: id.into(),
        name: name.into(),
        port,
        ..Default::default()
    }
}

fn check(id: &str, service_id: &str, status: Health) -> Check {
    Check {
        check_id: id.into(),
        name: id.into(),
        service_id: service_id.into(),
        status,
        ..Default::default()
    }
}

fn register(
    store: &Store,
    index: u64,
    n: &str,
    s: Option<Service>,
    checks: Vec<Check>,
) -> Response {
    let reg = Register {
        node: node(n, "10.0.0.1"),
        skip_node_update: false,
        service: s,
        checks,
    };
    store.apply(index, &Command::Register(Box::new(reg)))
}

#[test]
fn unchanged_registration_keeps_indexes() {
    let store = Store::new();
    register(
        &store,
        5,
        "n1",
        Some(svc("web-1", "web", 80)),
        vec![check("c1", "web-1", Health::Passing)],
    );
    register(
        &store,
        9,
        "n1",
        Some(svc("web-1", "web", 80)),
        vec![check("c1", "web-1", Health::Passing)],
    );
    store.read(|t| {
        let (rows, idx) = t.health_service("web", &[], false);
        assert_eq!(idx, 5, "re-sending the same registration is not a change");
        assert_eq!(rows[0].service.modify_index, 5);
        assert_eq!(rows[0].checks[0].modify_index, 5);
    });
    register(&store, 12, "n1", Some(svc("web-1", "web", 81)), vec![]);
    store.read(|t| {
        let (rows, idx) = t.health_service("web", &[], false);
        assert_eq!(idx, 12);
        assert_eq!(
            (rows[0].service.create_index, rows[0].service.modify_index),
            (5, 12)
        );
    });
}

#[test]
fn node_check_changes_touch_every_service_on_the_node() {
    let store = Store::new();
    register(&store, 3, "n1", Some(svc("a", "alpha", 1)), vec![]);
    register(&store, 4, "n1", Some(svc("b", "beta", 2)), vec![]);
    register(
        &store,
        7,
        "n1",
        None,
        vec![check("serfHealth", "", Health::Critical)],
    );
    store.read(|t| {
        assert_eq!(t.service_index("alpha"), 7);
        assert_eq!(t.service_index("beta"), 7);
        let (passing, _) = t.health_service("alpha", &[], true);
        assert!(
            passing.is_empty(),
            "a critical node check fails every instance on the node"
        );
    });
}

#[test]
fn rejected_registration_changes_nothing() {
    let store = Store::new();
    let resp = register(
        &store,
        2,
        "n1",
        None,
        vec![check("c", "ghost", Health::Passing)],
    );
    assert!(
        matches!(resp, Response::Rejected(ref m) if m.contains("ghost")),
        "{resp:?}"
    );
    store.read(|t| {
        assert!(t.nodes().0.is_empty());
        assert_eq!(t.table_index(super::Table::Nodes), 0);
    });
    let empty = Register {
        node: node("", "1.2.3.4"),
        ..Default::default()
    };
    assert!(matches!(
        store.apply(3, &Command::Register(Box::new(empty))),
        Response::Rejected(_)
    ));
}

#[test]
fn deregister_service_node_and_check() {
    let store = Store::new();
    register(
        &store,
        2,
        "n1",
        Some(svc("web-1", "web", 80)),
        vec![check("c1", "web-1", Health::Passing)],
    );
    register(
        &store,
        3,
        "n1",
        None,
        vec![check("disk", "", Health::Passing)],
    );
    let d = |service_id: Option<&str>, check_id: Option<&str>| {
        Command::Deregister(Deregister {
            node: "n1".into(),
            service_id: service_id.map(str::to_string),
            check_id: check_id.map(str::to_string),
        })
    };
    store.apply(4, &d(Some("web-1"), None));
    store.read(|t| {
        assert!(t.service_nodes("web", &[]).0.is_empty());
        assert_eq!(
            t.service_index("web"),
            4,
            "deleting the last instance still moves the index"
        );
        let ids: Vec<&str> = t
            .node_checks("n1")
            .0
            .iter()
            .map(|c| c.check_id.as_str())
            .collect();
        assert_eq!(ids, ["disk"], "the service's checks go with it");
    });
    store.apply(5, &d(None, Some("disk")));
    store.read(|t| assert!(t.node_checks("n1").0.is_empty()));
    store.apply(6, &d(None, None));
    store.read(|t| {
        assert!(t.node_services("n1").0.is_none());
        assert_eq!(t.node_index("n1"), 6);
    });
    // Unknown targets are no-ops, as in Consul.
    assert_eq!(store.apply(7, &d(Some("nope"), None)), Response::Ok);
}

#[test]
fn service_tags_follow_into_checks_and_tag_filter_is_case_insensitive() {
    let store = Store::new();
    let mut s = svc("web-1", "web", 80);
    s.tags = vec!["Primary".into()];
    register(
        &store,
        2,
        "n1",
        Some(s.clone()),
        vec![check("c1", "web-1", Health::Passing)],
    );
    s.tags = vec!["Secondary".into()];
    register(&store, 3, "n1", Some(s), vec![]);
    store.read(|t| {
        assert_eq!(t.node_checks("n1").0[0].service_tags, ["Secondary"]);
        assert_eq!(t.service_nodes("web", &["secondary".into()]).0.len(), 1);
        assert!(t.service_nodes("web", &["primary".into()]).0.is_empty());
    });
}

#[test]
fn kv_cas_tombstones_and_keys() {
    let store = Store::new();
    let set = |i, k: &str, cas| {
        store.apply(
            i,
            &Command::KvSet {
                key: k.into(),
                value: b"v".to_vec(),
                flags: 0,
                cas,
            },
        )
    };
    assert_eq!(set(2, "a/x", Some(0)), Response::Bool(true));
    assert_eq!(
        set(3, "a/x", Some(0)),
        Response::Bool(false),
        "cas=0 only creates"
    );
    assert_eq!(set(4, "a/x", Some(99)), Response::Bool(false));
    assert_eq!(set(5, "a/x", Some(2)), Response::Bool(true));
    set(6, "a/y/z", None);
    set(7, "b", None);
    store.read(|t| {
        assert_eq!(t.kv_get("a/x").0.unwrap().create_index, 2);
        assert_eq!(t.kv_keys("a/", Some("/")).0, ["a/x", "a/y/"]);
        assert_eq!(t.kv_list("a/").1, 6);
    });
    assert_eq!(
        store.apply(
            8,
            &Command::KvDelete {
                key: "a/x".into(),
                cas: Some(1)
            }
        ),
        Response::Bool(false)
    );
    store.apply(
        9,
        &Command::KvDelete {
            key: "a/x".into(),
            cas: None,
        },
    );
    store.read(|t| {
        assert_eq!(
            t.kv_get("a/x"),
            (None, 9),
            "a deleted key reports the delete's index"
        );
        assert_eq!(t.kv_list("a/").1, 9);
    });
    store.apply(
        10,
        &Command::KvDeleteTree {
            prefix: "a/".into(),
        },
    );
    store.read(|t| {
        assert!(t.kv_list("a/").0.is_empty());
        assert_eq!(t.kv_list("a/").1, 10);
        assert_eq!(t.kv_get("b").1, 7);
        assert!(t.has_tombstones_up_to(10));
    });
    store.apply(11, &Command::KvReapTombstones { up_to: 9 });
    store.read(|t| {
        assert_eq!(t.kv_get("a/x").1, 0, "reaped: the delete is forgotten");
        assert!(!t.has_tombstones_up_to(9));
        assert!(t.has_tombstones_up_to(10), "newer tombstones stay");
    });
}

#[test]
fn snapshot_round_trip_rebuilds_derived_indexes() {
    let store = Store::new();
    register(&store, 2, "n1", Some(svc("web-1", "web", 80)), vec![]);
    store.apply(
        3,
        &Command::KvSet {
            key: "k".into(),
            value: b"v".to_vec(),
            flags: 7,
            cas: None,
        },
    );
    let bytes = store.snapshot();
    let other = Store::new();
    other.restore(&bytes).unwrap();
    other.read(|t| {
        assert_eq!(
            t.service_nodes("web", &[]).0.len(),
            1,
            "by-name index rebuilt"
        );
        assert_eq!(t.kv_get("k").0.unwrap().flags, 7);
        assert_eq!(t.service_index("web"), 2);
    });
    assert_eq!(other.applied(), 3);
    assert!(other.restore(b"{not json").is_err());
}

#[test]
fn a_check_moving_to_another_service_moves_both_indexes() {
    let store = Store::new();
    register(
        &store,
        2,
        "n1",
        Some(svc("a", "alpha", 1)),
        vec![check("c", "a", Health::Passing)],
    );
    register(&store, 3, "n1", Some(svc("b", "beta", 2)), vec![]);
    register(
        &store,
        4,
        "n1",
        None,
        vec![check("c", "b", Health::Passing)],
    );
    store.read(|t| {
        assert_eq!(t.service_index("alpha"), 4, "alpha lost a check");
        assert_eq!(t.service_index("beta"), 4);
        assert!(t.service_checks("alpha").0.is_empty());
    });
}
