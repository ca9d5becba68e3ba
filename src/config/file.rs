//! The user format: one config file (JSON or HCL, already turned into a JSON value) read into
//! an all-optional `FileConfig`, so sources can be merged before anything is validated.
//!
//! Keys are Consul's snake_case names and are strict: an unknown key is an error that suggests
//! the nearest valid one. Service and check blocks use the lenient API decoder instead.

use std::collections::BTreeMap;

use serde_json::Value;

use super::keys;
use crate::agent::definition::{decode_check, decode_service, CheckDefinition, ServiceDefinition};

/// A value plus where it came from, so validation can say `source: key: reason`.
#[derive(Debug, Clone, PartialEq)]
pub struct Sourced<T> {
    /// The value as given.
    pub value: T,
    /// File path, or `flags`.
    pub source: String,
    /// Config key path (`ports.http`, `services[0]`).
    pub key: String,
}

impl<T> Sourced<T> {
    /// The error line for this value: `source: key: reason`.
    pub fn error(&self, reason: impl std::fmt::Display) -> String {
        format!("{}: {}: {reason}", self.source, self.key)
    }
}

/// An optional setting with its origin.
pub type Opt<T> = Option<Sourced<T>>;

/// `ports { ... }` as given; `-1` disables a listener.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FilePorts {
    /// HTTP API.
    pub http: Opt<i64>,
    /// DNS.
    pub dns: Opt<i64>,
    /// Server RPC and Raft.
    pub server: Opt<i64>,
    /// LAN gossip.
    pub serf_lan: Opt<i64>,
    /// WAN gossip.
    pub serf_wan: Opt<i64>,
    /// HTTPS: accepted so Consul configs load; only `-1` is allowed until it exists.
    pub https: Opt<i64>,
    /// gRPC: as `https`.
    pub grpc: Opt<i64>,
    /// gRPC over TLS: as `https`.
    pub grpc_tls: Opt<i64>,
}

/// One source's settings, every field optional; merged in order, then validated by `build`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FileConfig {
    /// `server`.
    pub server: Opt<bool>,
    /// `bootstrap`.
    pub bootstrap: Opt<bool>,
    /// `bootstrap_expect`.
    pub bootstrap_expect: Opt<i64>,
    /// `datacenter`.
    pub datacenter: Opt<String>,
    /// `data_dir`.
    pub data_dir: Opt<String>,
    /// `node_name`.
    pub node_name: Opt<String>,
    /// `node_id`.
    pub node_id: Opt<String>,
    /// `node_meta` (maps merge key by key).
    pub node_meta: Opt<BTreeMap<String, String>>,
    /// `bind_addr`.
    pub bind_addr: Opt<String>,
    /// `advertise_addr`.
    pub advertise_addr: Opt<String>,
    /// `client_addr` (space-separated list).
    pub client_addr: Opt<String>,
    /// `addresses.http` (space-separated list).
    pub addresses_http: Opt<String>,
    /// `addresses.dns` (space-separated list).
    pub addresses_dns: Opt<String>,
    /// `ports`.
    pub ports: FilePorts,
    /// `ui` or `ui_config.enabled`.
    pub ui: Opt<bool>,
    /// `ui_config.content_path`.
    pub ui_content_path: Opt<String>,
    /// `log_level`.
    pub log_level: Opt<String>,
    /// `log_json`.
    pub log_json: Opt<bool>,
    /// `enable_syslog`.
    pub enable_syslog: Opt<bool>,
    /// `syslog_facility`.
    pub syslog_facility: Opt<String>,
    /// `pid_file`.
    pub pid_file: Opt<String>,
    /// `start_join` (appends).
    pub start_join: Vec<String>,
    /// `retry_join` (appends).
    pub retry_join: Vec<String>,
    /// `retry_interval`.
    pub retry_interval: Opt<String>,
    /// `retry_max`.
    pub retry_max: Opt<i64>,
    /// `rejoin_after_leave`.
    pub rejoin_after_leave: Opt<bool>,
    /// `encrypt`.
    pub encrypt: Opt<String>,
    /// `encrypt_verify_incoming`.
    pub encrypt_verify_incoming: Opt<bool>,
    /// `encrypt_verify_outgoing`.
    pub encrypt_verify_outgoing: Opt<bool>,
    /// `reconnect_timeout`.
    pub reconnect_timeout: Opt<String>,
    /// `gossip_lan.gossip_nodes`.
    pub gossip_nodes: Opt<i64>,
    /// `gossip_lan.gossip_interval`.
    pub gossip_interval: Opt<String>,
    /// `gossip_lan.probe_interval`.
    pub probe_interval: Opt<String>,
    /// `gossip_lan.probe_timeout`.
    pub probe_timeout: Opt<String>,
    /// `gossip_lan.retransmit_mult`.
    pub retransmit_mult: Opt<i64>,
    /// `gossip_lan.suspicion_mult`.
    pub suspicion_mult: Opt<i64>,
    /// `leave_on_terminate`.
    pub leave_on_terminate: Opt<bool>,
    /// `skip_leave_on_interrupt`.
    pub skip_leave_on_interrupt: Opt<bool>,
    /// `enable_script_checks`.
    pub enable_script_checks: Opt<bool>,
    /// `enable_local_script_checks`.
    pub enable_local_script_checks: Opt<bool>,
    /// `check_update_interval`.
    pub check_update_interval: Opt<String>,
    /// `check_output_max_size`.
    pub check_output_max_size: Opt<i64>,
    /// `check_deregister_interval_min` (Consul's internal key; tests lower it).
    pub check_deregister_interval_min: Opt<String>,
    /// `check_reap_interval` (Consul's internal key; tests lower it).
    pub check_reap_interval: Opt<String>,
    /// `service` / `services` (appends).
    pub services: Vec<Sourced<ServiceDefinition>>,
    /// `check` / `checks` (appends).
    pub checks: Vec<Sourced<CheckDefinition>>,
    /// `template` blocks and `-template` flags (append).
    pub templates: Vec<Sourced<crate::runner::TemplateSpec>>,
    /// `template_wait` / `-wait`: quiescence for templates without their own `wait`.
    pub template_wait: Opt<String>,
    /// `-docker`: the Docker endpoint (unix socket path or tcp://host:port).
    pub docker_endpoint: Opt<String>,
    /// `-internal`: register container IPs and exposed ports.
    pub docker_internal: Opt<bool>,
    /// `-explicit`: only containers with a `SERVICE_NAME`.
    pub docker_explicit: Opt<bool>,
    /// `-tags`: tags for every container service (comma list).
    pub docker_tags: Opt<String>,
    /// `-require-label`: only containers with this label.
    pub docker_require_label: Opt<String>,
    /// `-ip`: the address for every published port.
    pub docker_ip: Opt<String>,
    /// `-resync`: full reconcile interval.
    pub docker_resync: Opt<String>,
    /// `-deregister`: `always` or `on-success`.
    pub docker_deregister: Opt<String>,
    /// `docker { ca_file, cert_file, key_file }`: client certificates for a TLS endpoint.
    pub docker_tls: [Opt<String>; 3],
    /// `default_query_time`.
    pub default_query_time: Opt<String>,
    /// `max_query_time`.
    pub max_query_time: Opt<String>,
    /// `limits.kv_max_value_size`.
    pub kv_max_value_size: Opt<i64>,
    /// `performance.raft_multiplier`.
    pub raft_multiplier: Opt<i64>,
    /// `raft_snapshot_threshold`.
    pub raft_snapshot_threshold: Opt<i64>,
    /// `raft_snapshot_interval`.
    pub raft_snapshot_interval: Opt<String>,
    /// `raft_trailing_logs`.
    pub raft_trailing_logs: Opt<i64>,
    /// `dns_config.allow_stale`.
    pub dns_allow_stale: Opt<bool>,
    /// `dns_config.max_stale`.
    pub dns_max_stale: Opt<String>,
    /// `dns_config.node_ttl`.
    pub dns_node_ttl: Opt<String>,
    /// `dns_config.service_ttl` (service name or `prefix*` → duration).
    pub dns_service_ttl: Opt<BTreeMap<String, String>>,
    /// `dns_config.only_passing`.
    pub dns_only_passing: Opt<bool>,
    /// `dns_config.a_record_limit`.
    pub dns_a_record_limit: Opt<i64>,
    /// `dns_config.recursor_timeout`.
    pub dns_recursor_timeout: Opt<String>,
    /// `dns_config.udp_answer_limit`.
    pub dns_udp_answer_limit: Opt<i64>,
    /// `dns_config.enable_truncate`.
    pub dns_enable_truncate: Opt<bool>,
    /// `dns_config.disable_compression`.
    pub dns_disable_compression: Opt<bool>,
    /// `dns_config.enable_additional_node_meta_txt`.
    pub dns_node_meta_txt: Opt<bool>,
    /// `dns_config.recursor_strategy` (`sequential` or `random`).
    pub dns_recursor_strategy: Opt<String>,
    /// `dns_config.soa.refresh`, `.retry`, `.expire`, `.min_ttl`.
    pub dns_soa: [Opt<i64>; 4],
    /// `alt_domain`.
    pub alt_domain: Opt<String>,
    /// `domain`.
    pub domain: Opt<String>,
    /// `recursors` (appends).
    pub recursors: Vec<Sourced<String>>,
}

/// Replaces `$dst.$f` when `$src.$f` is set (scalars: later wins).
macro_rules! later_wins {
    ($dst:expr, $src:expr; $($f:ident),* $(,)?) => {
        $( if $src.$f.is_some() { $dst.$f = $src.$f; } )*
    };
}

impl FileConfig {
    /// Merges a later source over this one: scalars are replaced, lists appended, maps merged.
    pub fn merge(&mut self, o: FileConfig) {
        later_wins!(self, o; server, bootstrap, bootstrap_expect, datacenter, data_dir, node_name,
            node_id, bind_addr, advertise_addr, client_addr, addresses_http, addresses_dns, ui, ui_content_path,
            log_level, log_json, enable_syslog, syslog_facility, pid_file, retry_interval, retry_max, rejoin_after_leave, encrypt,
            encrypt_verify_incoming, encrypt_verify_outgoing, reconnect_timeout, gossip_nodes,
            gossip_interval, probe_interval, probe_timeout, retransmit_mult, suspicion_mult,
            leave_on_terminate, skip_leave_on_interrupt, enable_script_checks,
            enable_local_script_checks, check_update_interval, check_output_max_size,
            check_deregister_interval_min, check_reap_interval, docker_endpoint, docker_internal, docker_explicit, docker_tags, docker_require_label, docker_ip, docker_resync, docker_deregister, default_query_time, max_query_time, kv_max_value_size,
            raft_multiplier, raft_snapshot_threshold, raft_snapshot_interval, raft_trailing_logs, dns_allow_stale, dns_max_stale,
            dns_node_ttl, dns_service_ttl, dns_only_passing, dns_a_record_limit,
            dns_udp_answer_limit, dns_recursor_timeout, dns_enable_truncate,
            dns_disable_compression, dns_node_meta_txt, dns_recursor_strategy, alt_domain,
            domain);
        for (mine, theirs) in self.docker_tls.iter_mut().zip(o.docker_tls) {
            if theirs.is_some() {
                *mine = theirs;
            }
        }
        for (mine, theirs) in self.dns_soa.iter_mut().zip(o.dns_soa) {
            if theirs.is_some() {
                *mine = theirs;
            }
        }
        later_wins!(self.ports, o.ports; http, dns, server, serf_lan, serf_wan, https, grpc, grpc_tls);
        match (&mut self.node_meta, o.node_meta) {
            (Some(mine), Some(theirs)) => {
                mine.value.extend(theirs.value);
                mine.source = theirs.source;
            }
            (mine, theirs @ Some(_)) => *mine = theirs,
            (_, None) => {}
        }
        self.start_join.extend(o.start_join);
        self.retry_join.extend(o.retry_join);
        self.services.extend(o.services);
        self.checks.extend(o.checks);
        self.templates.extend(o.templates);
        if o.template_wait.is_some() {
            self.template_wait = o.template_wait;
        }
        self.recursors.extend(o.recursors);
    }

    /// Reads one parsed file. Every problem is pushed to `errors` as `source: key: reason`;
    /// what could be read is still returned so later errors are found too.
    pub fn from_value(v: &Value, source: &str, errors: &mut Vec<String>) -> FileConfig {
        let mut r = keys::Reader { source, errors };
        let mut c = FileConfig::default();
        for (k, v) in r.table("", v, keys::TOP) {
            read_top(&mut r, &mut c, k, v);
        }
        c
    }
}

/// One top-level key.
fn read_top(r: &mut keys::Reader, c: &mut FileConfig, k: &str, v: &Value) {
    match k {
        "server" => c.server = r.bool(k, v),
        "bootstrap" => c.bootstrap = r.bool(k, v),
        "bootstrap_expect" => c.bootstrap_expect = r.int(k, v),
        "datacenter" => c.datacenter = r.string(k, v),
        "data_dir" => c.data_dir = r.string(k, v),
        "node_name" => c.node_name = r.string(k, v),
        "node_id" => c.node_id = r.string(k, v),
        "node_meta" => c.node_meta = r.string_map(k, v),
        "bind_addr" => c.bind_addr = r.string(k, v),
        "advertise_addr" => c.advertise_addr = r.string(k, v),
        "client_addr" => c.client_addr = r.string(k, v),
        "addresses" => {
            for (sub, v) in r.table(k, v, keys::ADDRESSES) {
                let key = format!("{k}.{sub}");
                match sub {
                    "http" => c.addresses_http = r.string(&key, v),
                    _ => c.addresses_dns = r.string(&key, v),
                }
            }
        }
        "ports" => {
            for (sub, v) in r.table(k, v, keys::PORTS) {
                let p = r.int(&format!("{k}.{sub}"), v);
                let ports = &mut c.ports;
                match sub {
                    "http" => ports.http = p,
                    "dns" => ports.dns = p,
                    "server" => ports.server = p,
                    "serf_lan" => ports.serf_lan = p,
                    "serf_wan" => ports.serf_wan = p,
                    "https" => ports.https = p,
                    "grpc" => ports.grpc = p,
                    _ => ports.grpc_tls = p,
                }
            }
        }
        "ui" => c.ui = r.bool(k, v),
        "ui_config" => {
            for (sub, v) in r.table(k, v, keys::UI_CONFIG) {
                let key = format!("{k}.{sub}");
                match sub {
                    "content_path" => c.ui_content_path = r.string(&key, v),
                    _ => c.ui = r.bool(&key, v),
                }
            }
        }
        "log_level" => c.log_level = r.string(k, v),
        "log_json" => c.log_json = r.bool(k, v),
        "enable_syslog" => c.enable_syslog = r.bool(k, v),
        "syslog_facility" => c.syslog_facility = r.string(k, v),
        "pid_file" => c.pid_file = r.string(k, v),
        "start_join" => c
            .start_join
            .extend(r.strings(k, v).into_iter().map(|s| s.value)),
        "retry_join" => c
            .retry_join
            .extend(r.strings(k, v).into_iter().map(|s| s.value)),
        "retry_interval" => c.retry_interval = r.string(k, v),
        "retry_max" => c.retry_max = r.int(k, v),
        "rejoin_after_leave" => c.rejoin_after_leave = r.bool(k, v),
        "encrypt" => c.encrypt = r.string(k, v),
        "encrypt_verify_incoming" => c.encrypt_verify_incoming = r.bool(k, v),
        "encrypt_verify_outgoing" => c.encrypt_verify_outgoing = r.bool(k, v),
        "reconnect_timeout" => c.reconnect_timeout = r.string(k, v),
        "gossip_lan" => {
            for (sub, v) in r.table(k, v, keys::GOSSIP_LAN) {
                let key = format!("{k}.{sub}");
                match sub {
                    "gossip_nodes" => c.gossip_nodes = r.int(&key, v),
                    "gossip_interval" => c.gossip_interval = r.string(&key, v),
                    "probe_interval" => c.probe_interval = r.string(&key, v),
                    "probe_timeout" => c.probe_timeout = r.string(&key, v),
                    "retransmit_mult" => c.retransmit_mult = r.int(&key, v),
                    _ => c.suspicion_mult = r.int(&key, v),
                }
            }
        }
        "leave_on_terminate" => c.leave_on_terminate = r.bool(k, v),
        "skip_leave_on_interrupt" => c.skip_leave_on_interrupt = r.bool(k, v),
        "enable_script_checks" => c.enable_script_checks = r.bool(k, v),
        "enable_local_script_checks" => c.enable_local_script_checks = r.bool(k, v),
        "check_update_interval" => c.check_update_interval = r.string(k, v),
        "check_output_max_size" => c.check_output_max_size = r.int(k, v),
        "check_deregister_interval_min" => c.check_deregister_interval_min = r.string(k, v),
        "check_reap_interval" => c.check_reap_interval = r.string(k, v),
        "service" | "services" => {
            for (key, v) in keys::one_or_many(k, v) {
                match decode_service(v) {
                    Ok(s) => c.services.push(r.sourced(&key, s)),
                    Err(e) => r.push(e.at(&key)),
                }
            }
        }
        "check" | "checks" => {
            for (key, v) in keys::one_or_many(k, v) {
                match decode_check(v) {
                    Ok(ch) if ch.name.is_empty() => r.push(format!("{key}: Missing check name")),
                    Ok(ch) => c.checks.push(r.sourced(&key, ch)),
                    Err(e) => r.push(e.at(&key)),
                }
            }
        }
        "template" => {
            for (key, v) in keys::one_or_many(k, v) {
                match crate::runner::config::decode_block(&key, v) {
                    Ok(t) => c.templates.push(r.sourced(&key, t)),
                    Err(e) => r.push(e),
                }
            }
        }
        "template_wait" => c.template_wait = r.string(k, v),
        "default_query_time" => c.default_query_time = r.string(k, v),
        "max_query_time" => c.max_query_time = r.string(k, v),
        "limits" => {
            for (sub, v) in r.table(k, v, keys::LIMITS) {
                c.kv_max_value_size = r.int(&format!("{k}.{sub}"), v);
            }
        }
        "performance" => {
            for (sub, v) in r.table(k, v, keys::PERFORMANCE) {
                c.raft_multiplier = r.int(&format!("{k}.{sub}"), v);
            }
        }
        "raft_snapshot_threshold" => c.raft_snapshot_threshold = r.int(k, v),
        "raft_snapshot_interval" => c.raft_snapshot_interval = r.string(k, v),
        "raft_trailing_logs" => c.raft_trailing_logs = r.int(k, v),
        "dns_config" => {
            for (sub, v) in r.table(k, v, keys::DNS_CONFIG) {
                let key = format!("{k}.{sub}");
                match sub {
                    "allow_stale" => c.dns_allow_stale = r.bool(&key, v),
                    "max_stale" => c.dns_max_stale = r.string(&key, v),
                    "node_ttl" => c.dns_node_ttl = r.string(&key, v),
                    "service_ttl" => c.dns_service_ttl = r.string_map(&key, v),
                    "only_passing" => c.dns_only_passing = r.bool(&key, v),
                    "a_record_limit" => c.dns_a_record_limit = r.int(&key, v),
                    "udp_answer_limit" => c.dns_udp_answer_limit = r.int(&key, v),
                    "recursor_timeout" => c.dns_recursor_timeout = r.string(&key, v),
                    "enable_truncate" => c.dns_enable_truncate = r.bool(&key, v),
                    "disable_compression" => c.dns_disable_compression = r.bool(&key, v),
                    "enable_additional_node_meta_txt" => c.dns_node_meta_txt = r.bool(&key, v),
                    "recursor_strategy" => c.dns_recursor_strategy = r.string(&key, v),
                    "soa" => {
                        for (field, v) in r.table(&key, v, keys::DNS_SOA) {
                            let at = keys::DNS_SOA.iter().position(|f| *f == field);
                            let value = r.int(&format!("{key}.{field}"), v);
                            if let Some(i) = at {
                                c.dns_soa[i] = value;
                            }
                        }
                    }
                    // use_cache / cache_max_age: Berth's DNS reads need no agent cache.
                    _ => {}
                }
            }
        }
        "docker" => {
            for (sub, v) in r.table(k, v, keys::DOCKER) {
                let key = format!("{k}.{sub}");
                match sub {
                    "endpoint" => c.docker_endpoint = r.string(&key, v),
                    "internal" => c.docker_internal = r.bool(&key, v),
                    "explicit" => c.docker_explicit = r.bool(&key, v),
                    "tags" => c.docker_tags = r.string(&key, v),
                    "require_label" => c.docker_require_label = r.string(&key, v),
                    "ip" => c.docker_ip = r.string(&key, v),
                    "resync" => c.docker_resync = r.string(&key, v),
                    "deregister" => c.docker_deregister = r.string(&key, v),
                    "ca_file" => c.docker_tls[0] = r.string(&key, v),
                    "cert_file" => c.docker_tls[1] = r.string(&key, v),
                    "key_file" => c.docker_tls[2] = r.string(&key, v),
                    // cleanup: implied (every connect reconciles our services as a set).
                    _ => {
                        r.bool(&key, v);
                    }
                }
            }
        }
        "domain" => c.domain = r.string(k, v),
        "alt_domain" => c.alt_domain = r.string(k, v),
        "recursors" => c.recursors.extend(r.strings(k, v)),
        // Accepted for compatibility with Consul configs and ignored.
        _ => {
            r.bool(k, v);
        }
    }
}
