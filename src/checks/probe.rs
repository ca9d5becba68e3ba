//! One run of an interval check, whatever its kind, and the timeout each kind gets.

use std::time::Duration;

use super::grpc::GrpcProbe;
use super::http::HttpProbe;
use super::{docker, net, script, Outcome, Shared};
use crate::agent::definition::{CheckDefinition, CheckKind};

/// Network checks time out after this unless `timeout` is set (or the interval is shorter).
const NETWORK_TIMEOUT: Duration = Duration::from_secs(10);
/// Script and docker checks time out after this unless `timeout` is set (Consul's 30 s).
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(30);

/// What an interval check does on each run.
pub enum Probe {
    /// HTTP request.
    Http(HttpProbe),
    /// TCP connect to `host:port`.
    Tcp(String),
    /// UDP datagram to `host:port`.
    Udp(String),
    /// Command on the host.
    Script(Vec<String>),
    /// Command inside a container.
    Docker {
        /// Container ID or name.
        container: String,
        /// The command.
        args: Vec<String>,
    },
    /// gRPC health call.
    Grpc(GrpcProbe),
    /// The definition cannot run (bad URL, no CA certificates): every run reports why.
    Broken(String),
}

impl Probe {
    /// The probe for an interval check; `None` for kinds that do not run on an interval.
    pub fn new(kind: &CheckKind, def: &CheckDefinition, shared: &Shared) -> Option<Probe> {
        let probe = match kind {
            CheckKind::Http => HttpProbe::new(def, &shared.http).map(Probe::Http),
            CheckKind::Tcp => Ok(Probe::Tcp(def.tcp.clone())),
            CheckKind::Udp => Ok(Probe::Udp(def.udp.clone())),
            CheckKind::Script => Ok(Probe::Script(def.args.clone())),
            CheckKind::Docker => Ok(Probe::Docker {
                container: def.docker_container_id.clone(),
                args: def.args.clone(),
            }),
            CheckKind::Grpc => GrpcProbe::new(def).map(Probe::Grpc),
            CheckKind::Ttl
            | CheckKind::Alias
            | CheckKind::Maintenance
            | CheckKind::H2ping
            | CheckKind::DockerHealth => return None,
        };
        Some(probe.unwrap_or_else(Probe::Broken))
    }

    /// How long one run may take: `timeout` if set; else 10 s for network checks (or the
    /// interval when shorter, so a run ends before the next), 30 s for commands.
    pub fn timeout(&self, def: &CheckDefinition) -> Duration {
        if let Some(t) = def.timeout.filter(|t| !t.is_zero()) {
            return t;
        }
        match self {
            Probe::Script(_) | Probe::Docker { .. } => SCRIPT_TIMEOUT,
            _ => def
                .interval
                .map_or(NETWORK_TIMEOUT, |i| i.min(NETWORK_TIMEOUT)),
        }
    }

    /// One run.
    pub async fn run(&self, shared: &Shared, timeout: Duration, max_output: usize) -> Outcome {
        match self {
            Probe::Http(p) => p.run(timeout, max_output).await,
            Probe::Tcp(addr) => net::tcp(addr, timeout).await,
            Probe::Udp(addr) => net::udp(addr, timeout).await,
            Probe::Script(args) => script::run(args, timeout, max_output).await,
            Probe::Docker { container, args } => {
                docker::run(&shared.docker, container, args, timeout, max_output).await
            }
            Probe::Grpc(p) => p.run(timeout).await,
            Probe::Broken(why) => Outcome::critical(why.clone()),
        }
    }
}
