//! The registration task: subscribe to Docker's events first, then list the running
//! containers and reconcile, so nothing started in between is missed. A burst of events for
//! one container is one reconcile. When the socket goes away or the stream ends, reconnect
//! with bounded backoff and reconcile everything again; Docker restarting never stops Berth.
//!
//! Reconciling is a set operation per container: its desired services (the rules) against
//! the services this agent holds for it (marked with `OWNER_META`). Unchanged services are
//! left alone (no deregister-and-register flap); services registered by hand have no marker
//! and are never touched.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use bollard::query_parameters::{EventsOptions, ListContainersOptions};
use bollard::Docker;
use futures::StreamExt;
use tokio_util::sync::CancellationToken;

use super::inspect;
use super::rules::{self, Desired, Settings, OWNER_META};
use crate::agent::definition::ServiceDefinition;
use crate::agent::local::Source;
use crate::agent::Agent;

/// How registration runs.
#[derive(Debug, Clone, Default)]
pub struct DockerOpts {
    /// The endpoint asked for (`-docker`, `DOCKER_HOST`); None: the local default socket,
    /// and registration stays off if it is not there at start; `off`: never.
    pub endpoint: Option<String>,
    /// registrator's settings.
    pub rules: Settings,
    /// `-resync`: a full reconcile this often.
    pub resync: Option<Duration>,
}

/// Events that can change a container's services.
const EVENTS: &[&str] = &[
    "start",
    "die",
    "stop",
    "kill",
    "destroy",
    "pause",
    "unpause",
    "health_status",
    "connect",
    "disconnect",
    "rename",
    "update",
];

fn connect(endpoint: Option<&str>) -> Result<Docker, String> {
    let v = bollard::API_DEFAULT_VERSION;
    let d = match endpoint {
        None => Docker::connect_with_local_defaults(),
        Some(e) if e.starts_with("unix://") || e.starts_with('/') => {
            Docker::connect_with_unix(e, 120, v)
        }
        Some(e) => Docker::connect_with_http(e, 120, v),
    };
    d.map_err(|e| e.to_string())
}

/// Runs until `stop`.
pub async fn run(agent: Agent, opts: DockerOpts, stop: CancellationToken) {
    if opts.endpoint.as_deref() == Some("off") {
        tracing::info!("docker: container registration is off (-docker=off)");
        return;
    }
    let mut backoff = Duration::from_millis(250);
    let mut first = true;
    loop {
        let attempt = async {
            let d = connect(opts.endpoint.as_deref())?;
            d.ping().await.map_err(|e| e.to_string())?;
            Ok::<Docker, String>(d)
        };
        let docker = match attempt.await {
            Ok(d) => d,
            Err(e) if first && opts.endpoint.is_none() => {
                tracing::info!(
                    "docker: no Docker engine reachable ({e}); container registration is off"
                );
                return;
            }
            Err(e) => {
                tracing::warn!("docker: cannot reach the engine: {e}; retrying in {backoff:?}");
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(10));
                continue;
            }
        };
        first = false;
        backoff = Duration::from_millis(250);
        tracing::info!("docker: connected; registering containers");
        if session(&agent, &docker, &opts, &stop).await {
            return;
        }
        tracing::warn!("docker: event stream ended; reconnecting");
    }
}

/// One connection: events, a full reconcile, then event-driven ones. True when stopped.
async fn session(
    agent: &Agent,
    docker: &Docker,
    opts: &DockerOpts,
    stop: &CancellationToken,
) -> bool {
    let mut filters = HashMap::new();
    filters.insert(
        "type".to_string(),
        vec!["container".to_string(), "network".to_string()],
    );
    filters.insert(
        "event".to_string(),
        EVENTS.iter().map(|e| e.to_string()).collect(),
    );
    let mut events = docker.events(Some(EventsOptions {
        filters: Some(filters),
        ..Default::default()
    }));
    if let Err(e) = reconcile_all(agent, docker, &opts.rules).await {
        tracing::warn!("docker: listing containers: {e}");
        return false;
    }
    let mut resync = opts
        .resync
        .map(|d| tokio::time::interval_at(tokio::time::Instant::now() + d, d));
    loop {
        let tick = async {
            match resync.as_mut() {
                Some(i) => {
                    i.tick().await;
                }
                None => std::future::pending().await,
            }
        };
        let mut touched = BTreeSet::new();
        tokio::select! {
            _ = stop.cancelled() => return true,
            _ = tick => {
                if let Err(e) = reconcile_all(agent, docker, &opts.rules).await {
                    tracing::warn!("docker: resync: {e}");
                    return false;
                }
                continue;
            }
            ev = events.next() => match ev {
                Some(Ok(m)) => touched.extend(container_of(&m)),
                Some(Err(e)) => {
                    tracing::warn!("docker: event stream: {e}");
                    return false;
                }
                None => return false,
            },
        }
        // A burst for one container (die, stop, destroy...) is one reconcile.
        let window = tokio::time::sleep(Duration::from_millis(10));
        tokio::pin!(window);
        loop {
            tokio::select! {
                _ = &mut window => break,
                ev = events.next() => match ev {
                    Some(Ok(m)) => touched.extend(container_of(&m)),
                    _ => break,
                },
            }
        }
        for id in touched {
            let desired = match docker.inspect_container(&id, None).await {
                Ok(c) => {
                    let (info, running) = inspect::info(&c);
                    if running {
                        rules::desired(&info, &opts.rules)
                    } else {
                        Vec::new()
                    }
                }
                // Gone (destroyed): it should have nothing.
                Err(_) => Vec::new(),
            };
            apply(agent, &id, desired).await;
        }
    }
}

/// The container an event is about (network events name it in an attribute).
fn container_of(m: &bollard::models::EventMessage) -> Option<String> {
    let actor = m.actor.as_ref()?;
    let is_network = matches!(m.typ, Some(bollard::models::EventMessageTypeEnum::NETWORK));
    if is_network {
        return actor.attributes.as_ref()?.get("container").cloned();
    }
    actor.id.clone()
}

/// This agent's Docker services, by container ID then service ID.
fn ours(agent: &Agent) -> BTreeMap<String, BTreeMap<String, crate::model::Service>> {
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

/// Every running container against every service of ours.
async fn reconcile_all(agent: &Agent, docker: &Docker, s: &Settings) -> Result<(), String> {
    let list = docker
        .list_containers(Some(ListContainersOptions::default()))
        .await
        .map_err(|e| e.to_string())?;
    let mut seen = BTreeSet::new();
    for c in list {
        let Some(id) = c.id else { continue };
        let desired = match docker.inspect_container(&id, None).await {
            Ok(c) => {
                let (info, running) = inspect::info(&c);
                if running {
                    rules::desired(&info, s)
                } else {
                    Vec::new()
                }
            }
            Err(_) => Vec::new(),
        };
        apply(agent, &id, desired).await;
        seen.insert(id);
    }
    for (owner, _) in ours(agent) {
        if !seen.contains(&owner) {
            apply(agent, &owner, Vec::new()).await;
        }
    }
    Ok(())
}

/// Makes container `id`'s services exactly `desired`.
async fn apply(agent: &Agent, id: &str, desired: Vec<Desired>) {
    let existing = ours(agent).remove(id).unwrap_or_default();
    for d in &desired {
        let same = existing.get(&d.id).is_some_and(|s| {
            s.name == d.name
                && s.address == d.address
                && s.port == d.port
                && s.tags == d.tags
                && s.meta == d.meta
        });
        if same {
            continue;
        }
        if !d.check.is_empty() {
            tracing::warn!(
                "docker: {}: SERVICE_CHECK_* is not supported by Berth yet; registered without a check",
                d.id
            );
        }
        let def = ServiceDefinition {
            id: d.id.clone(),
            name: d.name.clone(),
            address: d.address.clone(),
            port: d.port,
            tags: d.tags.clone(),
            meta: d.meta.clone(),
            ..ServiceDefinition::default()
        };
        match agent.register_service(def, true, Source::Docker).await {
            Ok(()) => tracing::info!("docker: registered {} ({}:{})", d.id, d.address, d.port),
            Err(e) => tracing::warn!("docker: registering {}: {e}", d.id),
        }
    }
    for sid in existing.keys() {
        if !desired.iter().any(|d| &d.id == sid) {
            match agent.deregister_service(sid).await {
                Ok(()) => tracing::info!("docker: deregistered {sid}"),
                Err(e) => tracing::warn!("docker: deregistering {sid}: {e}"),
            }
        }
    }
}
