//! Checks whose status another part of Berth sets rather than a runner: today a container's
//! Docker `HEALTHCHECK` state, which the Docker registrar reads from the engine's events.
//! They register together with their service (`register_service_with`) and change status
//! through `set_external_status`; users cannot flip them through the TTL endpoints.

use tokio::time::Instant;

use super::definition::{CheckDefinition, CheckKind};
use super::{Agent, LocalCheck, Source};
use crate::model::{Check, Health, Service};

/// One externally set check of a service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalCheck {
    /// Check ID.
    pub id: String,
    /// Check name.
    pub name: String,
    /// Notes shown with the check.
    pub notes: String,
    /// Current status.
    pub status: Health,
    /// Current output.
    pub output: String,
}

impl ExternalCheck {
    /// The local check for `service` on node `node`.
    pub(super) fn local(self, node: &str, service: &Service, source: Source) -> LocalCheck {
        let check = Check {
            node: node.to_string(),
            check_id: self.id,
            name: self.name,
            status: self.status,
            notes: self.notes,
            output: self.output,
            service_id: service.id.clone(),
            service_name: service.name.clone(),
            service_tags: service.tags.clone(),
            kind: CheckKind::DockerHealth.as_str().to_string(),
            ..Check::default()
        };
        let critical_since = (check.status == Health::Critical).then(Instant::now);
        LocalCheck {
            check,
            kind: CheckKind::DockerHealth,
            definition: CheckDefinition::default(),
            source,
            ttl_deadline: None,
            critical_since,
            output_deferred: false,
            generation: 0,
            rev: 0,
            in_sync: false,
        }
    }
}

impl Agent {
    /// Sets an external check's status and output; pushes the change at once. False when no
    /// external check has this ID (it was removed with its service).
    pub async fn set_external_status(&self, id: &str, status: Health, output: &str) -> bool {
        {
            let local = self.local();
            match local.checks.get(id) {
                Some(c) if c.kind == CheckKind::DockerHealth => {
                    if c.check.status == status && c.check.output == output {
                        return true;
                    }
                }
                _ => return false,
            }
        }
        if self.record(id, status, output, None) == super::check_status::Recorded::Changed {
            self.sync().await;
        }
        true
    }
}
