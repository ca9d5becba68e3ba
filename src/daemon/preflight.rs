//! Checks that refuse, before anything starts, what this build cannot do yet.

use super::DaemonError;
use crate::config::RuntimeConfig;

/// Refuses settings whose subsystem has not landed yet, naming them, before anything starts
/// (the CLI calls this before printing the banner).
pub fn preflight(c: &RuntimeConfig) -> Result<(), DaemonError> {
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
