//! The valid config keys and a strict reader for them: typed getters that record
//! `source: key: reason` errors, and unknown-key detection with a "did you mean" hint.

use std::collections::BTreeMap;

use serde_json::Value;

use super::file::{Opt, Sourced};
use crate::agent::definition::lenient::type_name;

/// Top-level keys. The last three are accepted and ignored (Consul configs carry them).
pub(crate) const TOP: &[&str] = &[
    "server",
    "bootstrap",
    "bootstrap_expect",
    "datacenter",
    "data_dir",
    "node_name",
    "node_id",
    "node_meta",
    "bind_addr",
    "advertise_addr",
    "client_addr",
    "addresses",
    "ports",
    "ui",
    "ui_config",
    "log_level",
    "log_json",
    "enable_syslog",
    "syslog_facility",
    "pid_file",
    "start_join",
    "retry_join",
    "retry_interval",
    "retry_max",
    "rejoin_after_leave",
    "encrypt",
    "encrypt_verify_incoming",
    "encrypt_verify_outgoing",
    "reconnect_timeout",
    "gossip_lan",
    "leave_on_terminate",
    "skip_leave_on_interrupt",
    "enable_script_checks",
    "enable_local_script_checks",
    "check_update_interval",
    "check_output_max_size",
    "check_deregister_interval_min",
    "check_reap_interval",
    "service",
    "services",
    "template",
    "template_wait",
    "check",
    "checks",
    "default_query_time",
    "max_query_time",
    "limits",
    "performance",
    "raft_snapshot_threshold",
    "raft_snapshot_interval",
    "raft_trailing_logs",
    "dns_config",
    "docker",
    "domain",
    "alt_domain",
    "recursors",
    "disable_update_check",
    "disable_anonymous_signature",
    "disable_host_node_id",
];
/// Keys of `addresses`.
pub(crate) const ADDRESSES: &[&str] = &["http", "dns"];
/// Keys of `ports`.
pub(crate) const PORTS: &[&str] = &[
    "http", "dns", "server", "serf_lan", "serf_wan", "https", "grpc", "grpc_tls",
];
/// Keys of `ui_config`.
pub(crate) const UI_CONFIG: &[&str] = &["enabled", "content_path"];
/// Keys of `limits`.
pub(crate) const LIMITS: &[&str] = &["kv_max_value_size"];
/// Keys of `gossip_lan` (memberlist's LAN knobs, Consul's names).
pub(crate) const GOSSIP_LAN: &[&str] = &[
    "gossip_nodes",
    "gossip_interval",
    "probe_interval",
    "probe_timeout",
    "retransmit_mult",
    "suspicion_mult",
];
/// Keys of `dns_config` (all read; `use_cache` and `cache_max_age` are accepted and have no
/// effect: Berth's DNS reads the local catalog or a server, with no agent cache between).
pub(crate) const DNS_CONFIG: &[&str] = &[
    "allow_stale",
    "max_stale",
    "node_ttl",
    "service_ttl",
    "enable_truncate",
    "only_passing",
    "recursor_strategy",
    "recursor_timeout",
    "disable_compression",
    "udp_answer_limit",
    "a_record_limit",
    "enable_additional_node_meta_txt",
    "soa",
    "use_cache",
    "cache_max_age",
];
/// Keys of `dns_config.soa`, in the order `RuntimeConfig::dns_soa` holds them.
pub(crate) const DNS_SOA: &[&str] = &["refresh", "retry", "expire", "min_ttl"];
/// Keys of `docker` (registrator's flags, and the engine's TLS files).
pub(crate) const DOCKER: &[&str] = &[
    "endpoint",
    "internal",
    "explicit",
    "tags",
    "require_label",
    "ip",
    "resync",
    "deregister",
    "cleanup",
    "ca_file",
    "cert_file",
    "key_file",
];
/// Keys of `performance`.
pub(crate) const PERFORMANCE: &[&str] = &["raft_multiplier"];

/// The nearest valid key, if it is close enough to be a likely typo.
pub(crate) fn suggest<'a>(key: &str, known: &[&'a str]) -> Option<&'a str> {
    let (best, dist) = known
        .iter()
        .map(|k| (*k, strsim::levenshtein(key, k)))
        .min_by_key(|(_, d)| *d)?;
    (dist <= (key.len() / 3).max(2)).then_some(best)
}

/// Items of a block that may be one object or many (HCL repeated blocks give an array),
/// each with its key path: `service` or `services[1]`.
pub(crate) fn one_or_many<'v>(key: &str, v: &'v Value) -> Vec<(String, &'v Value)> {
    match v {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .filter(|(_, v)| !v.is_null())
            .map(|(i, v)| (format!("{key}[{i}]"), v))
            .collect(),
        Value::Null => Vec::new(),
        other => vec![(key.to_string(), other)],
    }
}

/// Reads values from one source, collecting errors.
pub(crate) struct Reader<'a> {
    /// File path or `flags`.
    pub(crate) source: &'a str,
    /// Where errors go.
    pub(crate) errors: &'a mut Vec<String>,
}

impl Reader<'_> {
    /// Records `source: msg`.
    pub(crate) fn push(&mut self, msg: impl std::fmt::Display) {
        self.errors.push(format!("{}: {msg}", self.source));
    }

    /// Wraps a value with this source and `key`.
    pub(crate) fn sourced<T>(&self, key: &str, value: T) -> Sourced<T> {
        Sourced {
            value,
            source: self.source.to_string(),
            key: key.to_string(),
        }
    }

    /// The non-null entries of an object (or of each object in an array: repeated HCL blocks),
    /// reporting unknown keys. `prefix` is the block's key, empty at the top level.
    pub(crate) fn table<'v>(
        &mut self,
        prefix: &str,
        v: &'v Value,
        known: &[&str],
    ) -> Vec<(&'v str, &'v Value)> {
        let maps: Vec<&serde_json::Map<String, Value>> = match v {
            Value::Object(m) => vec![m],
            Value::Array(items) if items.iter().all(Value::is_object) => {
                items.iter().filter_map(Value::as_object).collect()
            }
            other => {
                let at = if prefix.is_empty() {
                    String::new()
                } else {
                    format!("{prefix}: ")
                };
                self.push(format!("{at}expected an object, got {}", type_name(other)));
                return Vec::new();
            }
        };
        let mut out = Vec::new();
        for (k, v) in maps.into_iter().flatten() {
            if !known.contains(&k.as_str()) {
                let at = if prefix.is_empty() {
                    String::new()
                } else {
                    format!("{prefix}: ")
                };
                let hint = suggest(k, known)
                    .map(|s| format!(" (did you mean {s:?}?)"))
                    .unwrap_or_default();
                self.push(format!("{at}unknown key {k:?}{hint}"));
            } else if !v.is_null() {
                out.push((k.as_str(), v));
            }
        }
        out
    }

    /// Records a type error for `key`.
    fn expected(&mut self, key: &str, what: &str, v: &Value) {
        self.push(format!("{key}: expected {what}, got {}", type_name(v)));
    }

    /// A boolean.
    pub(crate) fn bool(&mut self, key: &str, v: &Value) -> Opt<bool> {
        match v {
            Value::Bool(b) => Some(self.sourced(key, *b)),
            other => {
                self.expected(key, "a boolean", other);
                None
            }
        }
    }

    /// An integer (range checks happen in `build`).
    pub(crate) fn int(&mut self, key: &str, v: &Value) -> Opt<i64> {
        let n = v
            .as_i64()
            .or_else(|| v.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64));
        match n {
            Some(n) => Some(self.sourced(key, n)),
            None => {
                self.expected(key, "an integer", v);
                None
            }
        }
    }

    /// A string.
    pub(crate) fn string(&mut self, key: &str, v: &Value) -> Opt<String> {
        match v {
            Value::String(s) => Some(self.sourced(key, s.clone())),
            other => {
                self.expected(key, "a string", other);
                None
            }
        }
    }

    /// A list of strings, each sourced as `key[i]`; a lone string is a one-item list.
    pub(crate) fn strings(&mut self, key: &str, v: &Value) -> Vec<Sourced<String>> {
        let mut out = Vec::new();
        for (k, item) in one_or_many(key, v) {
            if let Some(s) = self.string(&k, item) {
                out.push(s);
            }
        }
        out
    }

    /// A map of user-chosen keys to strings (`node_meta`).
    pub(crate) fn string_map(&mut self, key: &str, v: &Value) -> Opt<BTreeMap<String, String>> {
        let mut out = BTreeMap::new();
        let maps: Vec<&serde_json::Map<String, Value>> = match v {
            Value::Object(m) => vec![m],
            Value::Array(items) if items.iter().all(Value::is_object) => {
                items.iter().filter_map(Value::as_object).collect()
            }
            other => {
                self.expected(key, "an object", other);
                return None;
            }
        };
        for (k, v) in maps.into_iter().flatten() {
            if let Some(s) = self.string(&format!("{key}.{k}"), v) {
                out.insert(k.clone(), s.value);
            }
        }
        Some(self.sourced(key, out))
    }
}
