//! `berth operator raft list-peers` and `berth operator raft remove-peer`: Consul's commands
//! over `/v1/operator/raft/*`.

use serde_json::Value;

use super::flags::{parse, Spec};
use super::http_client::{base_url, request};
use super::members::columnize;

const USAGE: &str = "Usage: berth operator <subcommand> [options]\n\n\
    Subcommands:\n    \
    raft    Provides cluster-level tools for Consul operators";

const RAFT_USAGE: &str = "Usage: berth operator raft <subcommand> [options]\n\n\
    Subcommands:\n    \
    list-peers     Display the current Raft peer configuration\n    \
    remove-peer    Remove a Consul server from the Raft configuration";

/// `berth operator ...`; returns the exit code.
pub fn run(args: &[String]) -> i32 {
    let words: Vec<&str> = args.iter().take(2).map(String::as_str).collect();
    match words.as_slice() {
        ["raft", "list-peers", ..] => list_peers(&args[2..]),
        ["raft", "remove-peer", ..] => remove_peer(&args[2..]),
        ["raft", ..] => usage(RAFT_USAGE),
        _ => usage(USAGE),
    }
}

fn usage(text: &str) -> i32 {
    eprintln!("{text}");
    1
}

/// `list-peers [-stale]`: the Raft configuration as Consul's table.
fn list_peers(args: &[String]) -> i32 {
    let spec = Spec {
        values: &[],
        bools: &["stale"],
    };
    let flags = match parse(args, &spec) {
        Ok(f) => f,
        Err(e) => return usage(&format!("Failed to parse args: {e}")),
    };
    let stale = if flags.bool("stale") { "?stale" } else { "" };
    let url = format!("{}/v1/operator/raft/configuration{stale}", base_url(&flags));
    match request(reqwest::Method::GET, &url)
        .and_then(|b| serde_json::from_str::<Value>(&b).map_err(|e| e.to_string()))
    {
        Ok(config) => {
            print!("{}", render_peers(&config));
            0
        }
        Err(e) => {
            eprintln!("Error getting peers: Failed to retrieve raft configuration: {e}");
            1
        }
    }
}

/// Consul's list-peers table: `Commit Index` and `Trails Leader By` from each server's
/// `LastIndex` (`_` when unknown).
pub fn render_peers(config: &Value) -> String {
    let empty = Vec::new();
    let servers = config["Servers"].as_array().unwrap_or(&empty);
    let last = |s: &Value| s["LastIndex"].as_u64().unwrap_or(0);
    let leader_last = servers.iter().find(|s| s["Leader"] == true).map_or(0, last);
    let mut rows = vec![[
        "Node",
        "ID",
        "Address",
        "State",
        "Voter",
        "RaftProtocol",
        "Commit Index",
        "Trails Leader By",
    ]
    .map(String::from)
    .to_vec()];
    for s in servers {
        let text = |k: &str| s[k].as_str().unwrap_or("").to_string();
        let leader = s["Leader"] == true;
        let protocol = Some(text("ProtocolVersion"))
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| "<=1".into());
        let mut row = vec![
            text("Node"),
            text("ID"),
            text("Address"),
            if leader { "leader" } else { "follower" }.to_string(),
            (s["Voter"] == true).to_string(),
            protocol,
        ];
        if last(s) == 0 {
            row.push("-".into());
        } else {
            let trails = leader_last.saturating_sub(last(s));
            row.push(last(s).to_string());
            row.push(match trails {
                _ if leader => "-".to_string(),
                1 => "1 commit".to_string(),
                n => format!("{n} commits"),
            });
        }
        rows.push(row);
    }
    columnize(&rows)
}

/// `remove-peer -address=ip:port | -id=<id>`.
fn remove_peer(args: &[String]) -> i32 {
    let spec = Spec {
        values: &["address", "id"],
        bools: &[],
    };
    let flags = match parse(args, &spec) {
        Ok(f) => f,
        Err(e) => return usage(&format!("Failed to parse args: {e}")),
    };
    let address = flags.value("address").filter(|a| !a.is_empty());
    let id = flags.value("id").filter(|i| !i.is_empty());
    let (key, value) = match (address, id) {
        (None, None) => return fail("an address or id is required for the peer to remove"),
        (Some(_), Some(_)) => return fail("cannot give both an address and id"),
        (Some(a), None) => ("address", a),
        (None, Some(i)) => ("id", i),
    };
    let mut url = match reqwest::Url::parse(&format!("{}/v1/operator/raft/peer", base_url(&flags)))
    {
        Ok(u) => u,
        Err(e) => return fail(&format!("invalid HTTP address: {e}")),
    };
    url.query_pairs_mut().append_pair(key, value);
    match request(reqwest::Method::DELETE, url.as_str()) {
        Ok(_) => {
            println!("Removed peer with {key} {value:?}");
            0
        }
        Err(e) => fail(&e),
    }
}

fn fail(e: &str) -> i32 {
    eprintln!("Error removing peer: {e}");
    1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consul_list_peers_table() {
        let config = serde_json::json!({"Index": 0, "Servers": [
            {"ID": "11111111-0000-4000-8000-000000000001", "Node": "s1", "Address": "10.0.0.1:8300",
             "Leader": true, "ProtocolVersion": "3", "Voter": true, "LastIndex": 120},
            {"ID": "22222222-0000-4000-8000-000000000002", "Node": "s2", "Address": "10.0.0.2:8300",
             "Leader": false, "ProtocolVersion": "3", "Voter": true, "LastIndex": 119},
            {"ID": "33", "Node": "(unknown)", "Address": "10.0.0.3:8300",
             "Leader": false, "ProtocolVersion": "unknown", "Voter": false, "LastIndex": 0},
        ]});
        let text = render_peers(&config);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            [
                "Node       ID                                    Address        State     Voter  RaftProtocol  Commit Index  Trails Leader By",
                "s1         11111111-0000-4000-8000-000000000001  10.0.0.1:8300  leader    true   3             120           -",
                "s2         22222222-0000-4000-8000-000000000002  10.0.0.2:8300  follower  true   3             119           1 commit",
                "(unknown)  33                                    10.0.0.3:8300  follower  false  unknown       -",
            ]
        );
        let mut far = config.clone();
        far["Servers"][1]["LastIndex"] = 20.into();
        assert!(render_peers(&far)
            .lines()
            .nth(2)
            .unwrap()
            .ends_with("20            100 commits"));
    }
}
