//! `berth agent` flags with Go's `flag` package syntax: `-f=v`, `-f v`, `--f`, `--f=v`, and
//! bare booleans (`-dev`, `-dev=false`). Flag values become a `FileConfig` overlay that wins
//! over every file, so a reload (SIGHUP) re-reads the files and re-applies the same flags.

use std::path::PathBuf;

use super::file::{FileConfig, Sourced};
use super::load::ConfigFormat;
use super::ConfigError;

/// What `berth agent` was started with, kept for reloads.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AgentFlags {
    /// `-dev`: in-memory single server with dev defaults.
    pub dev: bool,
    /// `-config-file` and `-config-dir` paths, in command-line order.
    pub config_paths: Vec<PathBuf>,
    /// `-config-format`: parse every file as this format regardless of extension.
    pub config_format: Option<ConfigFormat>,
    /// Every other flag, as settings that override the files (source `flags`).
    pub overlay: FileConfig,
}

/// How a flag's value is read.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    /// `-f` or `-f=bool`.
    Bool,
    /// A Go `int`.
    Int,
    /// A Go duration.
    Duration,
    /// Any string.
    Str,
}

/// Every agent flag and its kind.
const FLAGS: &[(&str, Kind)] = &[
    ("dev", Kind::Bool),
    ("server", Kind::Bool),
    ("bootstrap", Kind::Bool),
    ("bootstrap-expect", Kind::Int),
    ("node", Kind::Str),
    ("node-id", Kind::Str),
    ("datacenter", Kind::Str),
    ("data-dir", Kind::Str),
    ("config-file", Kind::Str),
    ("config-dir", Kind::Str),
    ("config-format", Kind::Str),
    ("bind", Kind::Str),
    ("advertise", Kind::Str),
    ("client", Kind::Str),
    ("http-port", Kind::Int),
    ("dns-port", Kind::Int),
    ("server-port", Kind::Int),
    ("serf-lan-port", Kind::Int),
    ("ui", Kind::Bool),
    ("ui-content-path", Kind::Str),
    ("join", Kind::Str),
    ("retry-join", Kind::Str),
    ("retry-interval", Kind::Duration),
    ("retry-max", Kind::Int),
    ("rejoin", Kind::Bool),
    ("encrypt", Kind::Str),
    ("enable-script-checks", Kind::Bool),
    ("enable-local-script-checks", Kind::Bool),
    ("log-level", Kind::Str),
    ("log-json", Kind::Bool),
    ("syslog", Kind::Bool),
    ("pid-file", Kind::Str),
    ("domain", Kind::Str),
    ("alt-domain", Kind::Str),
    ("recursor", Kind::Str),
    ("node-meta", Kind::Str),
    ("default-query-time", Kind::Duration),
    ("max-query-time", Kind::Duration),
    ("template", Kind::Str),
    ("wait", Kind::Str),
    ("docker", Kind::Str),
    ("internal", Kind::Bool),
    ("explicit", Kind::Bool),
    ("tags", Kind::Str),
    ("require-label", Kind::Str),
    ("ip", Kind::Str),
    ("resync", Kind::Str),
    ("deregister", Kind::Str),
    ("cleanup", Kind::Bool),
];

/// Parses `berth agent` arguments (without the subcommand). `-h`/`-help` gives
/// `ConfigError::Help` so the CLI can print usage.
pub fn parse_agent_flags(args: &[String]) -> Result<AgentFlags, ConfigError> {
    let mut out = AgentFlags::default();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        if arg == "--" {
            if let Some(extra) = args.get(i) {
                return Err(ConfigError::UnexpectedArgument(extra.clone()));
            }
            break;
        }
        if arg.len() < 2 || !arg.starts_with('-') {
            return Err(ConfigError::UnexpectedArgument(arg.clone()));
        }
        let body = arg.strip_prefix("--").unwrap_or(&arg[1..]);
        if body.is_empty() || body.starts_with('-') || body.starts_with('=') {
            return Err(ConfigError::BadSyntax(arg.clone()));
        }
        let (name, inline) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (body, None),
        };
        if name == "h" || name == "help" {
            return Err(ConfigError::Help);
        }
        let Some(&(_, kind)) = FLAGS.iter().find(|(n, _)| *n == name) else {
            return Err(ConfigError::UnknownFlag(name.to_string()));
        };
        let value = match (kind, inline) {
            (_, Some(v)) => v,
            (Kind::Bool, None) => "true".to_string(),
            (_, None) => {
                let v = args
                    .get(i)
                    .ok_or_else(|| ConfigError::MissingValue(name.to_string()))?;
                i += 1;
                v.clone()
            }
        };
        set(&mut out, name, kind, value)?;
    }
    Ok(out)
}

/// Go's `strconv.ParseBool`.
fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// A value set by a flag; `key` is the config key it overrides.
fn from_flag<T>(key: &str, value: T) -> Sourced<T> {
    Sourced {
        value,
        source: "flags".to_string(),
        key: key.to_string(),
    }
}

/// Checks `value` against `kind` and stores it.
fn set(out: &mut AgentFlags, name: &str, kind: Kind, value: String) -> Result<(), ConfigError> {
    let invalid = |reason: &str| ConfigError::InvalidValue {
        flag: name.to_string(),
        value: value.clone(),
        reason: reason.to_string(),
    };
    let (mut b, mut n) = (None, None);
    match kind {
        Kind::Bool => {
            b = Some(parse_bool(&value).ok_or_else(|| ConfigError::InvalidBool {
                flag: name.to_string(),
                value: value.clone(),
            })?)
        }
        Kind::Int => n = Some(value.parse::<i64>().map_err(|_| invalid("parse error"))?),
        Kind::Duration => {
            crate::duration::parse(&value).map_err(|_| invalid("parse error"))?;
        }
        Kind::Str => {}
    }
    let bool_at = |key: &str| b.map(|value| from_flag(key, value));
    let int_at = |key: &str| n.map(|value| from_flag(key, value));
    let str_at = |key: &str| Some(from_flag(key, value.clone()));
    let o = &mut out.overlay;
    match name {
        "dev" => out.dev = b.unwrap_or(false),
        "server" => o.server = bool_at("server"),
        "bootstrap" => o.bootstrap = bool_at("bootstrap"),
        "bootstrap-expect" => o.bootstrap_expect = int_at("bootstrap_expect"),
        "node" => o.node_name = str_at("node_name"),
        "node-id" => o.node_id = str_at("node_id"),
        "datacenter" => o.datacenter = str_at("datacenter"),
        "data-dir" => o.data_dir = str_at("data_dir"),
        "config-file" | "config-dir" => out.config_paths.push(PathBuf::from(&value)),
        "config-format" => {
            out.config_format = Some(match value.as_str() {
                "json" => ConfigFormat::Json,
                "hcl" => ConfigFormat::Hcl,
                _ => return Err(invalid("must be json or hcl")),
            })
        }
        "bind" => o.bind_addr = str_at("bind_addr"),
        "advertise" => o.advertise_addr = str_at("advertise_addr"),
        "client" => o.client_addr = str_at("client_addr"),
        "http-port" => o.ports.http = int_at("ports.http"),
        "dns-port" => o.ports.dns = int_at("ports.dns"),
        "server-port" => o.ports.server = int_at("ports.server"),
        "serf-lan-port" => o.ports.serf_lan = int_at("ports.serf_lan"),
        "ui" => o.ui = bool_at("ui"),
        "ui-content-path" => o.ui_content_path = str_at("ui_content_path"),
        "join" => o.start_join.push(value.clone()),
        "retry-join" => o.retry_join.push(value.clone()),
        "retry-interval" => o.retry_interval = str_at("retry_interval"),
        "retry-max" => o.retry_max = int_at("retry_max"),
        "rejoin" => o.rejoin_after_leave = bool_at("rejoin_after_leave"),
        "encrypt" => o.encrypt = str_at("encrypt"),
        "enable-script-checks" => o.enable_script_checks = bool_at("enable_script_checks"),
        "enable-local-script-checks" => {
            o.enable_local_script_checks = bool_at("enable_local_script_checks")
        }
        "log-level" => o.log_level = str_at("log_level"),
        "log-json" => o.log_json = bool_at("log_json"),
        "syslog" => o.enable_syslog = bool_at("enable_syslog"),
        "pid-file" => o.pid_file = str_at("pid_file"),
        "domain" => o.domain = str_at("domain"),
        "alt-domain" => o.alt_domain = str_at("alt_domain"),
        "recursor" => o.recursors.extend(str_at("recursors")),
        "node-meta" => {
            // Consul's parseMetaPair: `key:value`, a missing `:` means an empty value.
            let (k, v) = value.split_once(':').unwrap_or((&value, ""));
            let meta = o
                .node_meta
                .get_or_insert_with(|| from_flag("node_meta", Default::default()));
            meta.value.insert(k.to_string(), v.to_string());
        }
        "default-query-time" => o.default_query_time = str_at("default_query_time"),
        "template" => {
            let spec = crate::runner::parse_template_flag(&value).map_err(|e| invalid(&e))?;
            o.templates.push(from_flag("template", spec));
        }
        "docker" => o.docker_endpoint = str_at("docker_endpoint"),
        "internal" => o.docker_internal = bool_at("docker_internal"),
        "explicit" => o.docker_explicit = bool_at("docker_explicit"),
        "tags" => o.docker_tags = str_at("docker_tags"),
        "require-label" => o.docker_require_label = str_at("docker_require_label"),
        "ip" => {
            value
                .parse::<std::net::IpAddr>()
                .map_err(|_| invalid("not an IP address"))?;
            o.docker_ip = str_at("docker_ip");
        }
        // registrator's -resync is whole seconds; a Go duration works too.
        "resync" => {
            let secs = value.parse::<u64>().ok().map(|n| format!("{n}s"));
            let v = secs.unwrap_or_else(|| value.clone());
            crate::duration::parse(&v).map_err(|_| invalid("expected seconds or a duration"))?;
            o.docker_resync = Some(from_flag("docker_resync", v));
        }
        "deregister" => {
            crate::docker::Deregister::parse(&value).map_err(|e| invalid(&e))?;
            o.docker_deregister = str_at("docker_deregister");
        }
        // Berth reconciles our Docker services as a set at every (re)connect, so services
        // of containers gone while it was down are always removed: -cleanup is implied.
        "cleanup" => {}
        "wait" => {
            crate::runner::parse_wait(&value).map_err(|e| invalid(&e))?;
            o.template_wait = str_at("template_wait");
        }
        _ => o.max_query_time = str_at("max_query_time"),
    }
    Ok(())
}
