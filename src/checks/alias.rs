//! Alias checks (`alias_service`, `alias_node`): mirror the health of another service or
//! node. A local alias (no node, or this node) follows the agent's own state as it changes;
//! a remote one reads the catalog every second. Node-level checks count for an aliased
//! service too, as in Consul: a failing node fails every service on it.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::agent::definition::CheckDefinition;
use crate::agent::Agent;
use crate::model::{Check, Health};

/// How often a remote alias reads the catalog.
const REMOTE_POLL: Duration = Duration::from_secs(1);

/// Runs the alias check `id` until `cancel`.
pub async fn run(agent: Agent, id: String, def: CheckDefinition, cancel: CancellationToken) {
    let me = agent.identity().node_name.clone();
    let local = def.alias_node.is_empty() || def.alias_node == me;
    let mut changes = agent.subscribe_local();
    let mut failed_reads = 0u32;
    loop {
        let (status, output) = if local {
            let l = agent.local();
            let checks: Vec<&Check> = l
                .checks
                .values()
                .filter(|c| c.check.check_id != id)
                .map(|c| &c.check)
                .collect();
            let exists =
                def.alias_service.is_empty() || l.services.contains_key(&def.alias_service);
            verdict(&checks, &def, &me, true, exists)
        } else {
            match agent.catalog_node(&def.alias_node).await {
                Ok(state) => {
                    failed_reads = 0;
                    let checks: Vec<&Check> = state.checks.iter().collect();
                    let exists = def.alias_service.is_empty()
                        || state.services.iter().any(|s| s.id == def.alias_service);
                    verdict(&checks, &def, &def.alias_node, state.node.is_some(), exists)
                }
                // One failed read is tolerated (a server restarting), as in Consul.
                Err(e) => {
                    failed_reads += 1;
                    (
                        Health::Critical,
                        format!("Failure checking aliased node or service: {e}"),
                    )
                }
            }
        };
        if failed_reads != 1 {
            agent.record_check(&id, status, &output, &cancel);
        }
        let wait = async {
            if local {
                let _ = changes.changed().await;
            } else {
                tokio::time::sleep(REMOTE_POLL).await;
            }
        };
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = wait => {}
        }
    }
}

/// The aliased health: the worst of the node's checks and the service's checks.
fn verdict(
    checks: &[&Check],
    def: &CheckDefinition,
    node: &str,
    node_exists: bool,
    service_exists: bool,
) -> (Health, String) {
    let service = def.alias_service.as_str();
    if !node_exists {
        return (Health::Critical, format!("Node {node} could not be found"));
    }
    if !service_exists {
        return (
            Health::Critical,
            format!("Service {service} could not be found on node {node}"),
        );
    }
    let mut health = Health::Passing;
    let mut msg = "No checks found.".to_string();
    for c in checks {
        if !c.service_id.is_empty() && c.service_id != service {
            continue;
        }
        match c.status {
            Health::Critical => {
                return (
                    Health::Critical,
                    format!("Aliased check {:?} failing: {}", c.name, c.output),
                );
            }
            Health::Warning => {
                health = Health::Warning;
                msg = format!("Aliased check {:?} failing: {}", c.name, c.output);
            }
            Health::Passing if health == Health::Passing => msg = "All checks passing.".into(),
            Health::Passing => {}
        }
    }
    (health, msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(service: &str, name: &str, status: Health) -> Check {
        Check {
            service_id: service.into(),
            name: name.into(),
            status,
            output: "out".into(),
            ..Check::default()
        }
    }

    fn alias(service: &str) -> CheckDefinition {
        CheckDefinition {
            alias_service: service.into(),
            ..CheckDefinition::default()
        }
    }

    #[test]
    fn worst_status_of_node_and_service_checks_wins() {
        let web_alias = alias("web");
        let web = check("web", "web-http", Health::Passing);
        let other = check("db", "db", Health::Critical);
        let node_warn = check("", "disk", Health::Warning);
        let (h, m) = verdict(&[&web, &other], &web_alias, "n1", true, true);
        assert_eq!((h, m.as_str()), (Health::Passing, "All checks passing."));
        let (h, m) = verdict(&[&web, &node_warn], &web_alias, "n1", true, true);
        assert_eq!(h, Health::Warning);
        assert_eq!(m, "Aliased check \"disk\" failing: out");
        let web_down = check("web", "web-http", Health::Critical);
        assert_eq!(
            verdict(&[&node_warn, &web_down], &web_alias, "n1", true, true).0,
            Health::Critical
        );
    }

    #[test]
    fn missing_targets_are_critical() {
        let (h, m) = verdict(&[], &alias("web"), "n1", true, false);
        assert_eq!(h, Health::Critical);
        assert_eq!(m, "Service web could not be found on node n1");
        assert_eq!(
            verdict(&[], &alias(""), "n2", false, true).0,
            Health::Critical
        );
        assert_eq!(
            verdict(&[], &alias(""), "n1", true, true),
            (Health::Passing, "No checks found.".into())
        );
    }
}
