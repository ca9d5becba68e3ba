//! Applying the services and checks of (re)loaded config files.

use super::definition::{CheckDefinition, ServiceDefinition};
use super::{Agent, AgentError, Source};

impl Agent {
    /// Makes the config-file services and checks exactly `services` and `checks`: entries that
    /// came from files and are gone are removed, the rest are (re)registered. API registrations
    /// are left alone. Returns every error (one per bad entry); good entries still apply.
    pub async fn load_config_entries(
        &self,
        services: &[ServiceDefinition],
        checks: &[CheckDefinition],
    ) -> Vec<AgentError> {
        let (old_services, old_checks) = {
            let l = self.local();
            let s: Vec<String> = l
                .services
                .values()
                .filter(|s| s.source == Source::Config)
                .map(|s| s.service.id.clone())
                .collect();
            // Top-level config checks only: a service's own checks go with the service.
            let embedded: Vec<String> = services
                .iter()
                .flat_map(super::register::service_check_ids)
                .collect();
            let c: Vec<String> = l
                .checks
                .values()
                .filter(|c| c.source == Source::Config && !embedded.contains(&c.check.check_id))
                .map(|c| c.check.check_id.clone())
                .collect();
            (s, c)
        };
        for id in old_services
            .iter()
            .filter(|id| !services.iter().any(|s| &s.id == *id))
        {
            let _ = self.deregister_service(id).await;
        }
        for id in old_checks.iter().filter(|id| {
            !checks
                .iter()
                .any(|c| c.id == **id || (c.id.is_empty() && c.name == **id))
        }) {
            let _ = self.deregister_check(id).await;
        }
        let mut errors = Vec::new();
        for s in services {
            if let Err(e) = self.register_service(s.clone(), true, Source::Config).await {
                errors.push(e);
            }
        }
        for c in checks {
            if let Err(e) = self.register_check(c.clone(), Source::Config).await {
                errors.push(e);
            }
        }
        self.drop_orphan_checks();
        errors
    }

    /// Removes checks whose service is no longer registered (a persisted API check whose config
    /// service was removed while the agent was down), as Consul does at start.
    pub fn drop_orphan_checks(&self) {
        let mut l = self.local();
        let orphans: Vec<String> = l
            .checks
            .values()
            .filter(|c| {
                !c.check.service_id.is_empty() && !l.services.contains_key(&c.check.service_id)
            })
            .map(|c| c.check.check_id.clone())
            .collect();
        for id in orphans {
            tracing::warn!(check = %id, "agent: removing check whose service is not registered");
            l.remove_check(&id);
        }
    }
}
