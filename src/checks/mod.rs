//! Check runners: each feeds results into the agent's local state (`Agent::record_check`),
//! never the catalog; the agent decides what reaches Raft.
//!
//! `manager` keeps one task per HTTP, TCP, UDP, script, Docker, gRPC and alias check in step
//! with the registrations; `ttl` expires TTL checks; `reaper` removes services critical for
//! longer than `deregister_critical_service_after`.

pub mod alias;
pub mod docker;
mod grpc;
mod http;
pub mod manager;
mod net;
mod output;
mod probe;
pub mod reaper;
pub(crate) mod script;
pub mod status;
mod tls;
pub mod ttl;

use crate::model::Health;

/// The verdict of one run, before thresholds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Health this run saw.
    pub status: Health,
    /// What to show as the check's output.
    pub output: String,
}

impl Outcome {
    fn passing(output: String) -> Self {
        Outcome {
            status: Health::Passing,
            output,
        }
    }

    fn warning(output: String) -> Self {
        Outcome {
            status: Health::Warning,
            output,
        }
    }

    fn critical(output: String) -> Self {
        Outcome {
            status: Health::Critical,
            output,
        }
    }

    /// A command's verdict (script and docker checks): exit 0 passing, 1 warning, anything
    /// else (or killed by a signal: `None`) critical.
    fn from_exit(code: Option<i64>, output: String) -> Self {
        match code {
            Some(0) => Outcome::passing(output),
            Some(1) => Outcome::warning(output),
            _ => Outcome::critical(output),
        }
    }

    /// A command that ran past its timeout, with whatever it printed (Consul's text).
    fn timed_out(timeout: std::time::Duration, output: &str) -> Self {
        let mut msg = format!(
            "Timed out ({}) running check",
            crate::duration::format(timeout)
        );
        if !output.is_empty() {
            msg.push_str("\n\n");
            msg.push_str(output);
        }
        Outcome::critical(msg)
    }
}

/// What check tasks share: HTTP clients and the Docker connection.
#[derive(Default)]
pub struct Shared {
    http: http::Clients,
    docker: docker::Engine,
}

impl Shared {
    /// Shared state whose docker checks use `docker`.
    pub fn new(docker: docker::Engine) -> Shared {
        Shared {
            http: http::Clients::default(),
            docker,
        }
    }
}
