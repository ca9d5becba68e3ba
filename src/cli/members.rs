//! `berth members`: Consul's member table from `/v1/agent/members`.

use serde_json::Value;

use super::flags::{parse, Spec};
use super::http_client::{base_url, request};

const SPEC: Spec = Spec {
    values: &["status", "segment", "partition", "filter"],
    bools: &["detailed", "wan"],
};

/// Prints the members; exit 2 when nothing matches (Consul's rule).
pub fn run(args: &[String]) -> i32 {
    let flags = match parse(args, &SPEC) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("{e}");
            return 1;
        }
    };
    let status_re = match regex::Regex::new(flags.value("status").unwrap_or(".*")) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("Failed to compile status regexp: {e}");
            return 1;
        }
    };
    let wan = if flags.bool("wan") { "?wan=1" } else { "" };
    let url = format!("{}/v1/agent/members{wan}", base_url(&flags));
    let members: Vec<Value> = match request(reqwest::Method::GET, &url)
        .and_then(|b| serde_json::from_str(&b).map_err(|e| e.to_string()))
    {
        Ok(m) => m,
        Err(e) => {
            eprintln!("Error retrieving members: {e}");
            return 1;
        }
    };
    let mut rows: Vec<&Value> = members
        .iter()
        .filter(|m| status_re.is_match(status_name(m)))
        .collect();
    // Servers first, then by name.
    rows.sort_by_key(|m| {
        (
            tag(m, "role") != "consul",
            m["Name"].as_str().unwrap_or("").to_string(),
        )
    });
    if rows.is_empty() {
        return 2;
    }
    let table = if flags.bool("detailed") {
        detailed(&rows)
    } else {
        standard(&rows)
    };
    print!("{}", columnize(&table));
    0
}

fn tag<'a>(m: &'a Value, k: &str) -> &'a str {
    m["Tags"][k].as_str().unwrap_or("")
}

/// Consul's status names for the numeric `Status`.
pub fn status_name(m: &Value) -> &'static str {
    match m["Status"].as_u64() {
        Some(1) => "alive",
        Some(2) => "leaving",
        Some(3) => "left",
        Some(4) => "failed",
        _ => "none",
    }
}

fn address(m: &Value) -> String {
    format!("{}:{}", m["Addr"].as_str().unwrap_or(""), m["Port"])
}

fn standard(rows: &[&Value]) -> Vec<Vec<String>> {
    let mut out = vec![[
        "Node",
        "Address",
        "Status",
        "Type",
        "Build",
        "Protocol",
        "DC",
        "Partition",
        "Segment",
    ]
    .map(String::from)
    .to_vec()];
    for m in rows {
        let server = tag(m, "role") == "consul";
        out.push(vec![
            m["Name"].as_str().unwrap_or("").to_string(),
            address(m),
            status_name(m).to_string(),
            if server { "server" } else { "client" }.to_string(),
            tag(m, "build").split(':').next().unwrap_or("").to_string(),
            tag(m, "vsn").to_string(),
            tag(m, "dc").to_string(),
            "default".to_string(),
            if server { "<all>" } else { "<default>" }.to_string(),
        ]);
    }
    out
}

fn detailed(rows: &[&Value]) -> Vec<Vec<String>> {
    let mut out = vec![["Node", "Address", "Status", "Tags"]
        .map(String::from)
        .to_vec()];
    for m in rows {
        let mut tags: Vec<String> = m["Tags"]
            .as_object()
            .map(|t| {
                t.iter()
                    .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                    .collect()
            })
            .unwrap_or_default();
        tags.sort();
        out.push(vec![
            m["Name"].as_str().unwrap_or("").to_string(),
            address(m),
            status_name(m).to_string(),
            tags.join(","),
        ]);
    }
    out
}

/// Left-aligned columns separated by two spaces (ryanuber/columnize, as Consul prints).
pub fn columnize(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for r in rows {
        let mut line = String::new();
        for (c, cell) in r.iter().enumerate() {
            if c + 1 < r.len() {
                line.push_str(&format!("{cell:<w$}  ", w = widths[c]));
            } else {
                line.push_str(cell);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consul_table_shape() {
        let m: Value = serde_json::json!({"Name": "n1", "Addr": "127.0.0.1", "Port": 8301, "Status": 1,
            "Tags": {"role": "consul", "dc": "dc1", "build": "1.20.1:abc", "vsn": "2"}});
        let text = columnize(&standard(&[&m]));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "Node  Address         Status  Type    Build   Protocol  DC   Partition  Segment"
        );
        assert_eq!(
            lines[1],
            "n1    127.0.0.1:8301  alive   server  1.20.1  2         dc1  default    <all>"
        );
        let d = columnize(&detailed(&[&m]));
        assert!(d
            .lines()
            .nth(1)
            .unwrap()
            .ends_with("build=1.20.1:abc,dc=dc1,role=consul,vsn=2"));
    }
}
