//! Checks that refuse, before anything starts, what this build cannot do yet.

use super::DaemonError;
use crate::config::RuntimeConfig;

/// Refuses settings whose subsystem has not landed yet, naming them, before anything starts
/// (the CLI calls this before printing the banner).
pub fn preflight(c: &RuntimeConfig) -> Result<(), DaemonError> {
    if c.server && !(c.dev || c.bootstrap || c.bootstrap_expect == 1) {
        let why = if c.bootstrap_expect > 1 {
            format!(
                "bootstrap_expect={} waits for other servers",
                c.bootstrap_expect
            )
        } else {
            "a server without -bootstrap or -bootstrap-expect waits to be added to a cluster"
                .to_string()
        };
        return Err(DaemonError::Unsupported(format!(
            "{why}, which needs the server cluster this Berth build does not have yet; use -bootstrap or -bootstrap-expect=1"
        )));
    }
    let mut problems: Vec<String> = Vec::new();
    if !c.recursors.is_empty() {
        problems.push("-recursor / recursors needs the DNS interface, which this Berth build does not have yet".into());
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(DaemonError::Unsupported(format!(
            "not available yet: {}",
            problems.join("; ")
        )))
    }
}
