//! Reconciling is a set operation per container: its desired services (the rules, with their
//! checks) against the services this agent holds for it (marked with `OWNER_META`).
//! Unchanged services are left alone (no deregister-and-register flap; a health change only
//! sets the health check's status); services registered by hand have no marker and are never
//! touched.

use std::collections::BTreeMap;

use bollard::models::ContainerInspectResponse;

use super::checks;
use super::inspect::{self, Life};
use super::rules::{self, Desired, OWNER_META};
use super::DockerOpts;
use crate::agent::definition::{CheckDefinition, CheckKind, ServiceDefinition};
use crate::agent::local::Source;
use crate::agent::{Agent, ExternalCheck};

/// `-deregister`: when a stopped container's services go.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Deregister {
    /// Whenever it stops (registrator's default).
    #[default]
    Always,
    /// Only when it exited 0 or was killed by a signal; a failed one keeps its services until
    /// it is removed or starts again.
    OnSuccess,
}

impl Deregister {
    /// registrator's spellings, `always` and `on-success`.
    pub fn parse(s: &str) -> Result<Deregister, String> {
        match s {
            "always" => Ok(Deregister::Always),
            "on-success" => Ok(Deregister::OnSuccess),
            other => Err(format!("{other:?}: expected always or on-success")),
        }
    }
}

/// One service a container should have, with its checks.
#[derive(Debug, Clone)]
pub struct Planned {
    /// The service.
    pub service: Desired,
    /// registrator's check from `SERVICE_CHECK_*`.
    pub check: Option<CheckDefinition>,
    /// The Docker `HEALTHCHECK` mirror.
    pub health: Option<ExternalCheck>,
}

/// What a container's services should become.
#[derive(Debug, Clone)]
pub enum Want {
    /// Exactly these.
    Services(Vec<Planned>),
    /// Whatever it has now (`-deregister on-success` and a failed container).
    Keep,
}

/// The services container `c` should have (None: inspect failed, it is gone).
pub fn want(c: Option<&ContainerInspectResponse>, opts: &DockerOpts) -> Want {
    let Some(c) = c else {
        return Want::Services(Vec::new());
    };
    let (info, life) = inspect::info(c);
    match life {
        Life::Running => {}
        Life::Exited(code)
            if opts.deregister == Deregister::OnSuccess && code != 0 && code & 128 == 0 =>
        {
            return Want::Keep
        }
        Life::Exited(_) | Life::Paused => return Want::Services(Vec::new()),
    }
    let mut out = Vec::new();
    for d in rules::desired(&info, &opts.rules) {
        match checks::registrator_check(&d, &info.id) {
            Ok(check) => out.push(Planned {
                health: checks::health_check(&d, info.health.as_ref()),
                check,
                service: d,
            }),
            Err(e) => tracing::warn!(
                "docker: container {}: service {} not registered: {e}",
                info.name,
                d.id
            ),
        }
    }
    Want::Services(out)
}

/// This agent's Docker services, by container ID then service ID.
pub fn ours(agent: &Agent) -> BTreeMap<String, BTreeMap<String, crate::model::Service>> {
    let local = agent.local();
    let mut out: BTreeMap<String, BTreeMap<String, crate::model::Service>> = BTreeMap::new();
    for (id, s) in &local.services {
        if let Some(owner) = s.service.meta.get(OWNER_META) {
            out.entry(owner.clone())
                .or_default()
                .insert(id.clone(), s.service.clone());
        }
    }
    out
}

/// Whether the agent holds `p` as planned: same service, same registrator check, and a
/// health check exactly when one is planned (its status may differ).
fn unchanged(agent: &Agent, existing: Option<&crate::model::Service>, p: &Planned) -> bool {
    let d = &p.service;
    let Some(s) = existing else { return false };
    let same_service = s.name == d.name
        && s.address == d.address
        && s.port == d.port
        && s.tags == d.tags
        && s.meta == d.meta;
    if !same_service {
        return false;
    }
    let local = agent.local();
    let mut defs = Vec::new();
    let mut has_health = false;
    for c in local.service_checks(&d.id) {
        match c.kind {
            CheckKind::DockerHealth => has_health = true,
            CheckKind::Maintenance => {}
            _ => defs.push(&c.definition),
        }
    }
    let want: Vec<&CheckDefinition> = p.check.iter().collect();
    defs == want && has_health == p.health.is_some()
}

/// Makes container `id`'s services exactly `want`.
pub async fn apply(agent: &Agent, id: &str, want: Want) {
    let Want::Services(planned) = want else {
        return;
    };
    let existing = ours(agent).remove(id).unwrap_or_default();
    for p in &planned {
        let d = &p.service;
        if unchanged(agent, existing.get(&d.id), p) {
            if let Some(h) = &p.health {
                agent.set_external_status(&h.id, h.status, &h.output).await;
            }
            continue;
        }
        let def = ServiceDefinition {
            id: d.id.clone(),
            name: d.name.clone(),
            address: d.address.clone(),
            port: d.port,
            tags: d.tags.clone(),
            meta: d.meta.clone(),
            checks: p.check.iter().cloned().collect(),
            ..ServiceDefinition::default()
        };
        let health = p.health.iter().cloned().collect();
        match agent
            .register_service_with(def, true, Source::Docker, health)
            .await
        {
            Ok(()) => tracing::info!("docker: registered {} ({}:{})", d.id, d.address, d.port),
            Err(e) => tracing::warn!("docker: registering {}: {e}", d.id),
        }
    }
    for sid in existing.keys() {
        if !planned.iter().any(|p| &p.service.id == sid) {
            match agent.deregister_service(sid).await {
                Ok(()) => tracing::info!("docker: deregistered {sid}"),
                Err(e) => tracing::warn!("docker: deregistering {sid}: {e}"),
            }
        }
    }
}
