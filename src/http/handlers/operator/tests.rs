//! Naming Raft servers from gossip, and finding the peer a DELETE names.

use std::collections::BTreeMap;

use super::*;
use crate::gossip::MemberStatus;

const UUID_1: &str = "11111111-0000-4000-8000-000000000001";
const UUID_2: &str = "22222222-0000-4000-8000-000000000002";

fn member(name: &str, ip: &str, uuid: &str, role: &str) -> Member {
    let tags: BTreeMap<String, String> = [
        ("role", role),
        ("id", uuid),
        ("port", "8300"),
        ("raft_vsn", "3"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    Member {
        name: name.into(),
        id: uuid.into(),
        addr: ip.parse().unwrap(),
        port: 8301,
        tags,
        status: MemberStatus::Alive,
    }
}

fn server(id: u64, address: &str, leader: bool) -> RaftServer {
    RaftServer {
        id,
        address: address.into(),
        leader,
        voter: true,
        last_index: 7,
    }
}

#[test]
fn servers_are_named_from_gossip_by_address_then_id() {
    let servers = [
        server(raft_id(UUID_1), "10.0.0.1:8300", true),
        server(raft_id(UUID_2), "10.0.0.2:8300", false),
        server(99, "10.0.0.9:8300", false),
    ];
    // s2 advertises a new IP: found by id. A client at 10.0.0.9 is not a server.
    let members = [
        member("s1", "10.0.0.1", UUID_1, "consul"),
        member("s2", "10.0.0.22", UUID_2, "consul"),
        member("c9", "10.0.0.9", UUID_1, "node"),
    ];
    let got = describe(&servers, &members);
    let rows: Vec<(&str, &str, &str, bool, &str)> = got
        .iter()
        .map(|s| {
            (
                s.id.as_str(),
                s.node.as_str(),
                s.address.as_str(),
                s.leader,
                s.protocol_version.as_str(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            (UUID_1, "s1", "10.0.0.1:8300", true, "3"),
            (UUID_2, "s2", "10.0.0.2:8300", false, "3"),
            ("99", "(unknown)", "10.0.0.9:8300", false, "unknown"),
        ]
    );
    let json = serde_json::to_string(&got[0]).unwrap();
    assert_eq!(
        json,
        format!(
            r#"{{"ID":"{UUID_1}","Node":"s1","Address":"10.0.0.1:8300","Leader":true,"ProtocolVersion":"3","Voter":true,"LastIndex":7}}"#
        )
    );
}

#[test]
fn a_peer_is_found_by_address_uuid_or_numeric_id() {
    let servers = [
        server(raft_id(UUID_1), "10.0.0.1:8300", true),
        server(5, "10.0.0.5:8300", false),
    ];
    assert_eq!(find_peer(&servers, None, Some("10.0.0.5:8300")), Ok(5));
    assert_eq!(find_peer(&servers, Some(UUID_1), None), Ok(raft_id(UUID_1)));
    assert_eq!(find_peer(&servers, Some("5"), None), Ok(5));
    assert_eq!(
        find_peer(&servers, None, Some("10.0.0.7:8300")),
        Err(r#"address "10.0.0.7:8300" was not found in the Raft configuration"#.into())
    );
    assert_eq!(
        find_peer(&servers, Some(UUID_2), None),
        Err(format!(
            r#"id "{UUID_2}" was not found in the Raft configuration"#
        ))
    );
    assert!(find_peer(&servers, Some("nope"), None).is_err());
}
