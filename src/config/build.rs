//! One pass from merged `FileConfig` to `RuntimeConfig`: defaults, then every rule, collecting
//! every error as `source: key: reason` instead of stopping at the first.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use base64::Engine;

use super::file::{FileConfig, Opt, Sourced};
use super::{netaddr, LogLevel, Ports, RuntimeConfig};
use crate::agent::definition::{check_kind, CheckDefinition, CheckKind};

/// What differs between `berth agent` and `berth validate`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BuildOptions {
    /// `-dev`: dev defaults, no data dir.
    pub(crate) dev: bool,
    /// Whether a missing `data_dir` is an error (not for `validate`).
    pub(crate) require_data_dir: bool,
}

/// Most `node_meta` pairs Consul allows.
const MAX_NODE_META: usize = 64;

/// Collects errors while reading values with defaults.
struct B {
    /// `source: key: reason` lines.
    errs: Vec<String>,
}

impl B {
    /// The value or `default`.
    fn get<T: Clone>(&self, o: &Opt<T>, default: T) -> T {
        o.as_ref().map_or(default, |s| s.value.clone())
    }

    /// A Go duration string or `default`.
    fn duration(&mut self, o: &Opt<String>, default: Duration) -> Duration {
        let Some(s) = o else { return default };
        crate::duration::parse(&s.value).unwrap_or_else(|e| {
            self.errs.push(s.error(e));
            default
        })
    }

    /// A port: `1..=65535`, or `-1` (disabled) when `can_disable`.
    fn port(&mut self, o: &Opt<i64>, default: u16, can_disable: bool) -> Option<u16> {
        let Some(s) = o else { return Some(default) };
        match s.value {
            -1 if can_disable => None,
            -1 => {
                self.errs.push(s.error("this listener cannot be disabled"));
                Some(default)
            }
            1..=65535 => Some(s.value as u16),
            v => {
                let hint = if can_disable {
                    ", or -1 to disable"
                } else {
                    ""
                };
                self.errs
                    .push(s.error(format!("invalid port {v}: must be 1..=65535{hint}")));
                Some(default)
            }
        }
    }

    /// A non-negative integer that fits a `u32`.
    fn count(&mut self, o: &Opt<i64>, default: u32) -> u32 {
        let Some(s) = o else { return default };
        u32::try_from(s.value).unwrap_or_else(|_| {
            self.errs
                .push(s.error(format!("{} must be a non-negative integer", s.value)));
            default
        })
    }

    /// An integer of at least `min`.
    fn positive(&mut self, o: &Opt<i64>, default: u64, min: u64) -> u64 {
        let Some(s) = o else { return default };
        match u64::try_from(s.value) {
            Ok(v) if v >= min => v,
            _ => {
                self.errs
                    .push(s.error(format!("must be at least {min}, got {}", s.value)));
                default
            }
        }
    }

    /// A space-separated list of IP addresses.
    fn ips(&mut self, o: &Opt<String>, default: &str) -> Vec<IpAddr> {
        let text = o.as_ref().map_or(default, |s| s.value.as_str());
        let mut out = Vec::new();
        for word in text.split_whitespace() {
            match word.parse() {
                Ok(ip) => out.push(ip),
                Err(_) => self.errs.push(o.as_ref().map_or_else(
                    || format!("invalid address {word:?}"),
                    |s| s.error(format!("{word:?} is not an IP address")),
                )),
            }
        }
        if out.is_empty() {
            if let Some(s) = o.as_ref().filter(|_| text.trim().is_empty()) {
                self.errs.push(s.error("no address given"));
            }
        }
        out
    }

    /// One IP address.
    fn ip(&mut self, o: &Opt<String>, default: IpAddr) -> IpAddr {
        let Some(s) = o else { return default };
        s.value.trim().parse().unwrap_or_else(|_| {
            self.errs
                .push(s.error(format!("{:?} is not an IP address", s.value)));
            default
        })
    }

    /// Records `s.error(reason)`.
    fn err<T>(&mut self, s: &Sourced<T>, reason: impl std::fmt::Display) {
        self.errs.push(s.error(reason));
    }
}

/// Validates and fills defaults. See reference §5 for each default.
pub(crate) fn build(c: FileConfig, opts: BuildOptions) -> Result<RuntimeConfig, Vec<String>> {
    let dev = opts.dev;
    let mut b = B { errs: Vec::new() };
    let server = b.get(&c.server, dev);
    let bootstrap = b.get(&c.bootstrap, dev);
    let bootstrap_expect = b.count(&c.bootstrap_expect, 0);
    if let Some(s) = c.bootstrap_expect.as_ref().filter(|_| bootstrap_expect > 0) {
        if dev {
            b.err(s, "'bootstrap_expect > 0' not allowed in dev mode");
        } else if bootstrap {
            b.err(
                s,
                "'bootstrap_expect > 0' and 'bootstrap = true' are mutually exclusive",
            );
        } else if !server {
            b.err(s, "'bootstrap_expect > 0' requires 'server = true'");
        }
    }
    if let Some(s) = c.bootstrap.as_ref().filter(|s| s.value && !server) {
        b.err(s, "'bootstrap = true' requires 'server = true'");
    }

    let datacenter = b.get(&c.datacenter, "dc1".into()).to_lowercase();
    let dc_ok = !datacenter.is_empty()
        && datacenter
            .chars()
            .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_' || ch == '-');
    if let Some(s) = c.datacenter.as_ref().filter(|_| !dc_ok) {
        b.err(
            s,
            format!(
                "invalid datacenter {:?}: only a-z, 0-9, '_' and '-' are allowed",
                s.value
            ),
        );
    }

    let node_name = match &c.node_name {
        Some(s) if s.value.trim().is_empty() => {
            b.err(s, "node name cannot be empty");
            String::new()
        }
        Some(s) => s.value.clone(),
        None => hostname::get()
            .map(|h| h.to_string_lossy().into_owned())
            .unwrap_or_default(),
    };
    if node_name.is_empty() && c.node_name.is_none() {
        b.errs
            .push("node_name: cannot read the hostname; set node_name or -node".into());
    }
    let node_id = c.node_id.as_ref().map(|s| {
        if s.value.len() != 36 || uuid::Uuid::parse_str(&s.value).is_err() {
            b.err(s, format!("{:?} is not a 36-character UUID", s.value));
        }
        s.value.to_lowercase()
    });
    let node_meta = node_meta(&mut b, &c.node_meta);

    let data_dir = match &c.data_dir {
        _ if dev => None,
        Some(s) if !s.value.is_empty() => Some(PathBuf::from(&s.value)),
        _ => {
            if opts.require_data_dir {
                b.errs.push(
                    "data_dir: required (set data_dir in a config file or pass -data-dir)".into(),
                );
            }
            None
        }
    };

    let bind_default: IpAddr = if dev {
        [127, 0, 0, 1].into()
    } else {
        [0, 0, 0, 0].into()
    };
    let bind_addr = b.ip(&c.bind_addr, bind_default);
    let advertise_addr = match &c.advertise_addr {
        Some(s) => {
            let ip = b.ip(&c.advertise_addr, bind_addr);
            if ip.is_unspecified() {
                b.err(s, "advertise address cannot be 0.0.0.0 or ::");
            }
            ip
        }
        None if bind_addr.is_unspecified() => netaddr::default_advertise(),
        None => bind_addr,
    };
    let client_addrs = b.ips(&c.client_addr, "127.0.0.1");
    let http_addrs = match &c.addresses_http {
        Some(_) => b.ips(&c.addresses_http, ""),
        None => client_addrs.clone(),
    };
    let dns_addrs = match &c.addresses_dns {
        Some(_) => b.ips(&c.addresses_dns, ""),
        None => client_addrs.clone(),
    };

    let p = &c.ports;
    let ports = Ports {
        http: b.port(&p.http, 8500, true),
        dns: b.port(&p.dns, 8600, true),
        server: b.port(&p.server, 8300, false).unwrap_or(8300),
        serf_lan: b.port(&p.serf_lan, 8301, false).unwrap_or(8301),
        serf_wan: b.port(&p.serf_wan, 8302, true),
    };
    for s in [&p.https, &p.grpc, &p.grpc_tls].into_iter().flatten() {
        if s.value != -1 {
            b.err(
                s,
                "this listener is not available yet; only -1 (disabled) is accepted",
            );
        }
    }

    let log_level = match &c.log_level {
        None if dev => LogLevel::Debug,
        None => LogLevel::Info,
        Some(s) => parse_log_level(&s.value).unwrap_or_else(|| {
            b.err(
                s,
                format!(
                    "invalid log level {:?}: want trace, debug, info, warn or error",
                    s.value
                ),
            );
            LogLevel::Info
        }),
    };

    if let Some(s) = &c.encrypt {
        match base64::engine::general_purpose::STANDARD.decode(s.value.trim()) {
            Ok(key) if [16, 24, 32].contains(&key.len()) => {}
            Ok(key) => b.err(
                s,
                format!("key must be 16, 24 or 32 bytes, got {}", key.len()),
            ),
            Err(e) => b.err(s, format!("key is not valid base64: {e}")),
        }
    }

    let syslog = b.get(&c.enable_syslog, false).then(|| {
        let name = c
            .syslog_facility
            .as_ref()
            .map_or("LOCAL0".to_string(), |s| s.value.to_ascii_uppercase());
        if let Some(s) = &c.syslog_facility {
            if !super::SYSLOG_FACILITIES.contains(&name.as_str()) {
                b.err(
                    s,
                    format!(
                        "unknown syslog facility {:?} (one of {})",
                        s.value,
                        super::SYSLOG_FACILITIES.join(", ")
                    ),
                );
            }
        }
        name
    });
    let raft_multiplier = match &c.raft_multiplier {
        None if dev => 1,
        None => 5,
        Some(s) if s.value == 0 => 5,
        Some(s) if (1..=10).contains(&s.value) => s.value as u32,
        Some(s) => {
            b.err(
                s,
                format!(
                    "raft_multiplier must be 1..=10 (0 means 5), got {}",
                    s.value
                ),
            );
            5
        }
    };
    let raft_snapshot_threshold = b.positive(&c.raft_snapshot_threshold, 16384, 1);
    let raft_snapshot_interval = b.duration(&c.raft_snapshot_interval, Duration::from_secs(30));
    if let Some(s) = &c.raft_snapshot_interval {
        if raft_snapshot_interval < Duration::from_millis(5) {
            b.err(s, "snapshot interval is too low: must be at least 5ms");
        }
    }
    let raft_trailing_logs = b.positive(&c.raft_trailing_logs, 10240, 0);
    let reconnect_timeout = b.duration(&c.reconnect_timeout, Duration::from_secs(72 * 3600));
    if let Some(s) = &c.reconnect_timeout {
        if reconnect_timeout < Duration::from_secs(8 * 3600) {
            b.err(s, "reconnect_timeout must be at least 8h");
        }
    }
    // memberlist's LAN profile; -dev uses its fast local timers, as Consul does.
    let ms = Duration::from_millis;
    let gossip_lan = crate::config::GossipLan {
        gossip_nodes: b.count(&c.gossip_nodes, 3).max(1),
        gossip_interval: b.duration(&c.gossip_interval, if dev { ms(100) } else { ms(200) }),
        probe_interval: b.duration(&c.probe_interval, if dev { ms(100) } else { ms(1000) }),
        probe_timeout: b.duration(&c.probe_timeout, if dev { ms(100) } else { ms(500) }),
        retransmit_mult: b.count(&c.retransmit_mult, 4).max(1),
        suspicion_mult: b.count(&c.suspicion_mult, if dev { 3 } else { 4 }).max(1),
    };
    let dns_allow_stale = b.get(&c.dns_allow_stale, true);
    let dns_max_stale = b.duration(&c.dns_max_stale, Duration::from_secs(87_600 * 3600));
    let kv_max_value_size = match &c.kv_max_value_size {
        None => 524_288,
        Some(s) if s.value > 0 => s.value as u64,
        Some(s) => {
            b.err(s, "must be greater than 0");
            524_288
        }
    };

    let mut domain = b.get(&c.domain, "consul.".into());
    if domain.trim_matches('.').is_empty() {
        if let Some(s) = &c.domain {
            b.err(s, "domain cannot be empty");
        }
        domain = "consul.".into();
    } else if !domain.ends_with('.') {
        domain.push('.');
    }
    let alt_domain = c
        .alt_domain
        .as_ref()
        .map(|s| s.value.trim_matches('.'))
        .filter(|d| !d.is_empty())
        .map(|d| format!("{d}."));
    let secs = |d: Duration| u32::try_from(d.as_secs()).unwrap_or(u32::MAX);
    let dns_node_ttl = secs(b.duration(&c.dns_node_ttl, Duration::ZERO));
    let mut dns_service_ttl = Vec::new();
    if let Some(m) = &c.dns_service_ttl {
        for (name, ttl) in &m.value {
            match crate::duration::parse(ttl) {
                Ok(d) => dns_service_ttl.push((name.clone(), secs(d))),
                Err(e) => b.err(m, format!("service_ttl {name:?}: {e}")),
            }
        }
    }
    let dns_a_record_limit = b.count(&c.dns_a_record_limit, 0) as usize;
    let dns_udp_answer_limit = b.positive(&c.dns_udp_answer_limit, 3, 1) as usize;
    let dns_recursor_random = match &c.dns_recursor_strategy {
        None => false,
        Some(s) if s.value == "sequential" => false,
        Some(s) if s.value == "random" => true,
        Some(s) => {
            b.err(
                s,
                format!("{:?} is not \"sequential\" or \"random\"", s.value),
            );
            false
        }
    };
    let mut dns_soa = [3600, 600, 86400, 0];
    for (slot, o) in dns_soa.iter_mut().zip(&c.dns_soa) {
        *slot = b.count(o, *slot);
    }
    for s in &c.recursors {
        if s.value.parse::<IpAddr>().is_err() && s.value.parse::<SocketAddr>().is_err() {
            b.err(s, format!("{:?} is not an IP address or ip:port", s.value));
        }
    }

    let check_output_max_size = b.positive(&c.check_output_max_size, 4096, 1) as usize;
    let enable_script_checks = b.get(&c.enable_script_checks, false);
    let enable_local_script_checks = b.get(&c.enable_local_script_checks, false);
    let scripts_allowed = enable_script_checks || enable_local_script_checks;
    let services = c
        .services
        .iter()
        .map(|s| {
            if !scripts_allowed && s.value.checks.iter().any(is_script) {
                b.err(s, SCRIPTS_DISABLED);
            }
            s.value.clone()
        })
        .collect();
    let templates = c
        .templates
        .iter()
        .map(|t| {
            if t.value.destination.as_os_str().is_empty() {
                b.err(t, "destination is required");
            }
            t.value.clone()
        })
        .collect();
    let template_wait = c.template_wait.as_ref().and_then(|w| {
        crate::runner::parse_wait(&w.value)
            .map_err(|e| b.err(w, e))
            .ok()
    });
    if let Some(e) = &c.docker_endpoint {
        if let Err(why) = crate::docker::connect::validate(&e.value) {
            b.err(e, why);
        }
    }
    let deregister = match &c.docker_deregister {
        None => crate::docker::Deregister::Always,
        Some(d) => crate::docker::Deregister::parse(&d.value).unwrap_or_else(|why| {
            b.err(d, why);
            crate::docker::Deregister::Always
        }),
    };
    let docker = crate::docker::DockerOpts {
        endpoint: c
            .docker_endpoint
            .as_ref()
            .map(|e| e.value.clone())
            .or_else(|| std::env::var("DOCKER_HOST").ok().filter(|h| !h.is_empty())),
        tls: docker_tls(&mut b, &c.docker_tls),
        deregister,
        rules: crate::docker::rules::Settings {
            hostname: hostname::get()
                .map(|h| h.to_string_lossy().into_owned())
                .unwrap_or_else(|_| "localhost".into()),
            ip: c.docker_ip.as_ref().map(|i| i.value.clone()),
            advertise: advertise_addr.to_string(),
            internal: b.get(&c.docker_internal, false),
            explicit: b.get(&c.docker_explicit, false),
            tags: c
                .docker_tags
                .as_ref()
                .map(|t| crate::docker::rules::split_tags(&t.value))
                .unwrap_or_default(),
            require_label: c.docker_require_label.as_ref().map(|l| l.value.clone()),
        },
        resync: c
            .docker_resync
            .as_ref()
            .map(|_| b.duration(&c.docker_resync, Duration::from_secs(0)))
            .filter(|d| !d.is_zero()),
    };
    let checks = c
        .checks
        .iter()
        .map(|s| {
            if !scripts_allowed && is_script(&s.value) {
                b.err(s, SCRIPTS_DISABLED);
            }
            s.value.clone()
        })
        .collect();

    let rc = RuntimeConfig {
        dev,
        server,
        bootstrap,
        bootstrap_expect,
        node_name,
        node_id,
        node_meta,
        datacenter,
        data_dir,
        bind_addr,
        advertise_addr,
        client_addrs,
        http_addrs,
        dns_addrs,
        ports,
        ui: b.get(&c.ui, dev),
        ui_content_path: {
            let p = b.get(&c.ui_content_path, "/ui/".to_string());
            let p = p.trim_matches('/');
            if p.is_empty() {
                "/".to_string()
            } else {
                format!("/{p}/")
            }
        },
        log_level,
        log_json: b.get(&c.log_json, false),
        syslog,
        pid_file: c
            .pid_file
            .as_ref()
            .filter(|s| !s.value.is_empty())
            .map(|s| PathBuf::from(&s.value)),
        start_join: c.start_join.clone(),
        retry_join: c.retry_join.clone(),
        retry_interval: b.duration(&c.retry_interval, Duration::from_secs(30)),
        retry_max: b.count(&c.retry_max, 0),
        rejoin_after_leave: b.get(&c.rejoin_after_leave, false),
        encrypt: c.encrypt.as_ref().map(|s| s.value.trim().to_string()),
        encrypt_verify_incoming: b.get(&c.encrypt_verify_incoming, true),
        encrypt_verify_outgoing: b.get(&c.encrypt_verify_outgoing, true),
        reconnect_timeout,
        gossip_lan,
        leave_on_terminate: b.get(&c.leave_on_terminate, !server),
        skip_leave_on_interrupt: b.get(&c.skip_leave_on_interrupt, server),
        enable_script_checks,
        enable_local_script_checks,
        check_update_interval: b.duration(&c.check_update_interval, Duration::from_secs(300)),
        check_output_max_size,
        check_deregister_interval_min: b
            .duration(&c.check_deregister_interval_min, Duration::from_secs(60)),
        check_reap_interval: b.duration(&c.check_reap_interval, Duration::from_secs(30)),
        services,
        checks,
        templates,
        template_wait,
        docker,
        default_query_time: b.duration(&c.default_query_time, Duration::from_secs(300)),
        max_query_time: b.duration(&c.max_query_time, Duration::from_secs(600)),
        kv_max_value_size,
        dns_allow_stale,
        dns_max_stale,
        raft_multiplier,
        raft_snapshot_threshold,
        raft_snapshot_interval,
        raft_trailing_logs,
        dns_node_ttl,
        dns_service_ttl,
        dns_only_passing: b.get(&c.dns_only_passing, false),
        dns_a_record_limit,
        dns_udp_answer_limit,
        dns_recursor_timeout: b.duration(&c.dns_recursor_timeout, Duration::from_secs(2)),
        dns_recursor_random,
        dns_enable_truncate: b.get(&c.dns_enable_truncate, false),
        dns_disable_compression: b.get(&c.dns_disable_compression, false),
        dns_node_meta_txt: b.get(&c.dns_node_meta_txt, true),
        dns_soa,
        alt_domain,
        domain,
        recursors: c.recursors.iter().map(|s| s.value.clone()).collect(),
        warnings: Vec::new(),
    };
    if b.errs.is_empty() {
        Ok(rc)
    } else {
        Err(b.errs)
    }
}

/// Consul's message when a config check needs scripts that are off.
const SCRIPTS_DISABLED: &str =
    "Scripts are disabled on this agent; to enable, configure 'enable_script_checks' or 'enable_local_script_checks' to true";

/// The Docker engine's TLS files: all three of `docker { ca_file, cert_file, key_file }`,
/// else the docker CLI's `DOCKER_TLS_VERIFY` with `DOCKER_CERT_PATH` (or `~/.docker`).
fn docker_tls(b: &mut B, files: &[Opt<String>; 3]) -> Option<crate::docker::TlsFiles> {
    let set: Vec<&Sourced<String>> = files.iter().flatten().collect();
    match set.len() {
        3 => {
            return Some(crate::docker::TlsFiles {
                ca: set[0].value.clone().into(),
                cert: set[1].value.clone().into(),
                key: set[2].value.clone().into(),
            })
        }
        0 => {}
        _ => {
            b.err(
                set[0],
                "docker TLS needs all of ca_file, cert_file and key_file",
            );
            return None;
        }
    }
    let verify = std::env::var("DOCKER_TLS_VERIFY").unwrap_or_default();
    if verify.is_empty() || verify == "0" {
        return None;
    }
    let dir = std::env::var("DOCKER_CERT_PATH")
        .ok()
        .filter(|d| !d.is_empty())
        .map(std::path::PathBuf::from)
        .or_else(|| {
            std::env::var("HOME")
                .ok()
                .map(|h| PathBuf::from(h).join(".docker"))
        })?;
    Some(crate::docker::TlsFiles::in_dir(&dir))
}

/// Whether the check runs a command (script or docker).
fn is_script(c: &CheckDefinition) -> bool {
    matches!(check_kind(c), Ok(CheckKind::Script | CheckKind::Docker))
}

/// Consul's level names, case-insensitive, with its `err` and `warning` aliases.
pub fn parse_log_level(s: &str) -> Option<LogLevel> {
    Some(match s.to_ascii_lowercase().as_str() {
        "trace" => LogLevel::Trace,
        "debug" => LogLevel::Debug,
        "info" => LogLevel::Info,
        "warn" | "warning" => LogLevel::Warn,
        "err" | "error" => LogLevel::Error,
        _ => return None,
    })
}

/// `node_meta` with Consul's limits: at most 64 pairs, keys of `[A-Za-z0-9_-]` up to 128
/// characters and not starting `consul-` (reserved), values up to 512 characters.
fn node_meta(b: &mut B, o: &Opt<BTreeMap<String, String>>) -> BTreeMap<String, String> {
    let Some(s) = o else { return BTreeMap::new() };
    if s.value.len() > MAX_NODE_META {
        b.err(
            s,
            format!(
                "too many pairs: {} (at most {MAX_NODE_META})",
                s.value.len()
            ),
        );
    }
    for (k, v) in &s.value {
        let ok_chars = k
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == '-');
        if k.is_empty() || k.len() > 128 || !ok_chars {
            b.err(
                s,
                format!("invalid key {k:?}: use 1 to 128 of A-Z a-z 0-9 _ -"),
            );
        } else if k.starts_with("consul-") {
            b.err(s, format!("key {k:?} uses the reserved prefix \"consul-\""));
        }
        if v.len() > 512 {
            b.err(s, format!("value of {k:?} is longer than 512 characters"));
        }
    }
    s.value.clone()
}
