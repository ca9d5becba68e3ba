//! Agent configuration: user formats (flags, JSON and HCL files) and the validated runtime config.
//!
//! Two stages, as in Consul's `agent/config`: every source is read into an all-optional
//! `FileConfig`, sources merge in order (defaults < files in command-line order < flags), and one
//! pass builds a `RuntimeConfig` while collecting every error (`file: key: reason`).
//!
//! Architecture Invariant: this module never calls `env::set_var` and never reaches a subsystem;
//! it turns text into a `RuntimeConfig` or a list of errors, nothing else.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::agent::definition::{CheckDefinition, ServiceDefinition};

mod build;
pub mod file;
mod flags;
pub(crate) mod keys;
mod load;
pub(crate) mod netaddr;
#[cfg(test)]
mod tests;

pub use build::parse_log_level;
pub use file::FileConfig;
pub use flags::{parse_agent_flags, AgentFlags};
pub use load::{load, validate_paths, ConfigFormat};

/// Syslog facilities `syslog_facility` accepts (Consul's names).
pub const SYSLOG_FACILITIES: &[&str] = &[
    "KERN", "USER", "MAIL", "DAEMON", "AUTH", "SYSLOG", "LPR", "NEWS", "UUCP", "CRON", "AUTHPRIV",
    "FTP", "LOCAL0", "LOCAL1", "LOCAL2", "LOCAL3", "LOCAL4", "LOCAL5", "LOCAL6", "LOCAL7",
];

/// A command-line problem, found before any file is read. Display is Go's `flag` wording.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A flag Berth does not know.
    #[error("flag provided but not defined: -{0}")]
    UnknownFlag(String),
    /// A value flag at the end of the line.
    #[error("flag needs an argument: -{0}")]
    MissingValue(String),
    /// A value that does not parse as the flag's type.
    #[error("invalid value {value:?} for flag -{flag}: {reason}")]
    InvalidValue {
        /// Flag name without dashes.
        flag: String,
        /// The value given.
        value: String,
        /// Why it was rejected.
        reason: String,
    },
    /// A boolean flag given a non-boolean (`-dev=yes`).
    #[error("invalid boolean value {value:?} for -{flag}: parse error")]
    InvalidBool {
        /// Flag name without dashes.
        flag: String,
        /// The value given.
        value: String,
    },
    /// `---x`, `-=x` and the like.
    #[error("bad flag syntax: {0}")]
    BadSyntax(String),
    /// A positional argument; `berth agent` takes none.
    #[error("unexpected argument {0:?}")]
    UnexpectedArgument(String),
    /// `-h` or `-help`: the caller prints usage.
    #[error("flag: help requested")]
    Help,
}

/// Every problem found in the config, one `source: key: reason` line each, so a user fixes
/// them all in one round.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .0.join("\n"))]
pub struct ConfigErrors(pub Vec<String>);

/// Listener ports; `None` disables a listener (Consul's `-1`).
#[derive(Debug, Clone, PartialEq)]
pub struct Ports {
    /// HTTP API (8500).
    pub http: Option<u16>,
    /// DNS (8600).
    pub dns: Option<u16>,
    /// Server RPC and Raft (8300).
    pub server: u16,
    /// LAN gossip (8301).
    pub serf_lan: u16,
    /// WAN gossip (8302).
    pub serf_wan: Option<u16>,
}

/// LAN gossip knobs, Consul's `gossip_lan` block.
#[derive(Debug, Clone, PartialEq)]
pub struct GossipLan {
    /// Members gossiped to per round.
    pub gossip_nodes: u32,
    /// Time between gossip rounds.
    pub gossip_interval: Duration,
    /// Time between failure probes.
    pub probe_interval: Duration,
    /// Wait for a probe's ack before asking others.
    pub probe_timeout: Duration,
    /// Broadcast retransmissions (scaled by log(n)).
    pub retransmit_mult: u32,
    /// Suspicion timeout multiplier (scaled by log(n)).
    pub suspicion_mult: u32,
}

/// Log verbosity, Consul's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    /// Everything.
    Trace,
    /// Debugging detail (`-dev` default).
    Debug,
    /// Normal operation (default).
    Info,
    /// Problems that were handled.
    Warn,
    /// Failures.
    Error,
}

/// The validated configuration every subsystem is built from. Shared as `Arc`.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// `-dev`: in-memory single server, bootstrapped at once.
    pub dev: bool,
    /// Run as a server (Raft voter).
    pub server: bool,
    /// `bootstrap`: self-elect as the only server.
    pub bootstrap: bool,
    /// `bootstrap_expect`: servers to wait for before bootstrapping (0 = unset).
    pub bootstrap_expect: u32,
    /// Node name (defaults to the hostname).
    pub node_name: String,
    /// Node UUID from config; `None` means generate and persist one.
    pub node_id: Option<String>,
    /// Node metadata.
    pub node_meta: BTreeMap<String, String>,
    /// Datacenter, lower-cased.
    pub datacenter: String,
    /// Directory for Raft state and agent state; `None` only in `-dev`.
    pub data_dir: Option<PathBuf>,
    /// Address cluster listeners bind to.
    pub bind_addr: IpAddr,
    /// Address advertised to other nodes and stored as the node's address.
    pub advertise_addr: IpAddr,
    /// Addresses the HTTP and DNS listeners bind to.
    pub client_addrs: Vec<IpAddr>,
    /// Addresses the HTTP listener binds to (`addresses.http`, default `client_addrs`).
    pub http_addrs: Vec<IpAddr>,
    /// Addresses the DNS listener binds to (`addresses.dns`, default `client_addrs`).
    pub dns_addrs: Vec<IpAddr>,
    /// Listener ports.
    pub ports: Ports,
    /// Serve the web UI.
    pub ui: bool,
    /// Where the UI is served (`ui_config.content_path`, `-ui-content-path`): starts and
    /// ends with `/`, default `/ui/`.
    pub ui_content_path: String,
    /// Log verbosity.
    pub log_level: LogLevel,
    /// Log as JSON lines.
    pub log_json: bool,
    /// Also log to the local syslog (`enable_syslog`, `-syslog`): the facility's name, one of
    /// `SYSLOG_FACILITIES` (`syslog_facility`, default LOCAL0); None when off.
    pub syslog: Option<String>,
    /// File to write the agent's PID to.
    pub pid_file: Option<PathBuf>,
    /// Addresses to join once at start.
    pub start_join: Vec<String>,
    /// Addresses to keep trying to join.
    pub retry_join: Vec<String>,
    /// Pause between retry-join attempts.
    pub retry_interval: Duration,
    /// Retry-join attempts (0 = forever).
    pub retry_max: u32,
    /// Rejoin the cluster after a graceful leave.
    pub rejoin_after_leave: bool,
    /// Gossip encryption key (base64 of 16, 24 or 32 bytes).
    pub encrypt: Option<String>,
    /// Reject plaintext gossip when a key is set (off only during a rolling upgrade).
    pub encrypt_verify_incoming: bool,
    /// Send encrypted gossip when a key is set (off only during a rolling upgrade).
    pub encrypt_verify_outgoing: bool,
    /// How long a failed member is kept before it is reaped (Consul: 72h, at least 8h).
    pub reconnect_timeout: Duration,
    /// LAN gossip timers (memberlist's LAN profile; faster in `-dev`).
    pub gossip_lan: GossipLan,
    /// Leave the cluster on SIGTERM.
    pub leave_on_terminate: bool,
    /// Do not leave on SIGINT.
    pub skip_leave_on_interrupt: bool,
    /// Allow script checks from any source.
    pub enable_script_checks: bool,
    /// Allow script checks from config files only.
    pub enable_local_script_checks: bool,
    /// Output-only check changes reach the catalog at most this often (Consul: 5m; 0 = at once).
    pub check_update_interval: Duration,
    /// Bytes of check output kept (Consul: 4096).
    pub check_output_max_size: usize,
    /// `deregister_critical_service_after` is raised to at least this (Consul: 1m).
    pub check_deregister_interval_min: Duration,
    /// How often services critical for too long are removed (Consul: 30s).
    pub check_reap_interval: Duration,
    /// Services from config files.
    pub services: Vec<ServiceDefinition>,
    /// Checks from config files.
    pub checks: Vec<CheckDefinition>,
    /// Templates to keep rendered (`template` blocks, `-template`), in order.
    pub templates: Vec<crate::runner::TemplateSpec>,
    /// Quiescence for templates without their own `wait` (`template_wait`, `-wait`).
    pub template_wait: Option<crate::runner::Wait>,
    /// Docker registration (registrator's settings).
    pub docker: crate::docker::DockerOpts,
    /// Blocking query wait when `?wait` is absent.
    pub default_query_time: Duration,
    /// Upper bound for `?wait`.
    pub max_query_time: Duration,
    /// Largest KV value accepted (bytes).
    pub kv_max_value_size: u64,
    /// `dns_config.allow_stale`: any server may answer DNS reads (Consul's default, true).
    pub dns_allow_stale: bool,
    /// `dns_config.max_stale`: how far behind the leader a server answering DNS may be.
    pub dns_max_stale: Duration,
    /// Scales Raft timers (1 in `-dev`, 5 by default).
    pub raft_multiplier: u32,
    /// Snapshot once this many Raft entries were applied since the last (Consul: 16384).
    pub raft_snapshot_threshold: u64,
    /// Snapshot at least this often when anything changed (Consul: 30s).
    pub raft_snapshot_interval: Duration,
    /// Raft entries kept behind a snapshot for slow followers (Consul: 10240).
    pub raft_trailing_logs: u64,
    /// `dns_config.node_ttl` in seconds (default 0).
    pub dns_node_ttl: u32,
    /// `dns_config.service_ttl`: (name or `prefix*`, seconds).
    pub dns_service_ttl: Vec<(String, u32)>,
    /// `dns_config.only_passing`: leave warning instances out of DNS answers.
    pub dns_only_passing: bool,
    /// `dns_config.a_record_limit` (0 = unlimited).
    pub dns_a_record_limit: usize,
    /// `dns_config.udp_answer_limit` (default 3).
    pub dns_udp_answer_limit: usize,
    /// `dns_config.recursor_timeout` (Consul: 2 s).
    pub dns_recursor_timeout: Duration,
    /// `dns_config.recursor_strategy = "random"` (else `sequential`).
    pub dns_recursor_random: bool,
    /// `dns_config.enable_truncate`: TC on trimmed UDP answers.
    pub dns_enable_truncate: bool,
    /// `dns_config.disable_compression`.
    pub dns_disable_compression: bool,
    /// `dns_config.enable_additional_node_meta_txt` (default true).
    pub dns_node_meta_txt: bool,
    /// `dns_config.soa`: refresh, retry, expire, min_ttl (Consul: 3600, 600, 86400, 0).
    pub dns_soa: [u32; 4],
    /// `alt_domain`: a second domain answered like `domain` (with a trailing dot).
    pub alt_domain: Option<String>,
    /// DNS domain (`consul.`).
    pub domain: String,
    /// Upstream DNS servers.
    pub recursors: Vec<String>,
    /// Non-fatal notes from loading (skipped files), for the agent to log at start.
    pub warnings: Vec<String>,
}
