//! The registration task: note the daemon's clock, list the running containers and
//! reconcile, then stream events from that moment on (Docker replays what happened
//! since), so nothing started in between is missed. A burst of events for
//! one container is one reconcile. When the socket goes away or the stream ends, reconnect
//! with bounded backoff and reconcile everything again; Docker restarting never stops Berth.
//! Only read verbs are used (events, list, inspect); exec only for `SERVICE_CHECK_CMD`.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use bollard::query_parameters::{EventsOptions, ListContainersOptions};
use bollard::Docker;
use futures::StreamExt;
use tokio_util::sync::CancellationToken;

use super::connect::{self, TlsFiles};
use super::reconcile::{self, Deregister};
use super::rules::Settings;
use super::status::Status;
use crate::agent::Agent;

/// How registration runs.
#[derive(Debug, Clone, Default)]
pub struct DockerOpts {
    /// The endpoint asked for (`-docker`, `docker { endpoint }`, `DOCKER_HOST`); None: the
    /// default socket, and registration stays off if it is not there at start; `off`: never.
    pub endpoint: Option<String>,
    /// Client certificates for a TLS endpoint.
    pub tls: Option<TlsFiles>,
    /// registrator's settings.
    pub rules: Settings,
    /// `-resync`: a full reconcile this often.
    pub resync: Option<Duration>,
    /// `-deregister`.
    pub deregister: Deregister,
}

/// Events that can change a container's services (`health_status` matches its
/// `health_status: healthy` forms).
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

/// Longest wait between connection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// Runs until `stop`, reporting what it does in `status`.
pub async fn run(agent: Agent, opts: DockerOpts, status: Status, stop: CancellationToken) {
    let endpoint = opts
        .endpoint
        .clone()
        .unwrap_or_else(|| connect::DEFAULT_ENDPOINT.to_string());
    status.update(|s| s.endpoint = endpoint.clone());
    if opts.endpoint.as_deref() == Some("off") {
        status.set("off", "");
        tracing::info!("docker: container registration is off (-docker=off)");
        return;
    }
    let mut backoff = Duration::from_millis(250);
    let mut first = true;
    loop {
        status.set(if first { "connecting" } else { "retrying" }, "");
        let attempt = async {
            let d = connect::connect(opts.endpoint.as_deref(), opts.tls.as_ref())?;
            d.ping().await.map_err(|e| format!("{endpoint}: {e}"))?;
            Ok::<Docker, String>(d)
        };
        let docker = match attempt.await {
            Ok(d) => d,
            Err(e) if first && opts.endpoint.is_none() => {
                status.set("off", &e);
                tracing::info!(
                    "docker: no Docker engine reachable ({e}); container registration is off"
                );
                return;
            }
            Err(e) => {
                status.set("retrying", &e);
                tracing::warn!("docker: cannot reach the engine: {e}; retrying in {backoff:?}");
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        };
        first = false;
        backoff = Duration::from_millis(250);
        tracing::info!("docker: connected to {endpoint}; registering containers");
        let why = match session(&agent, &docker, &opts, &status, &stop).await {
            None => return,
            Some(why) => why,
        };
        status.set("retrying", &why);
        tracing::warn!("docker: {why}; reconnecting");
    }
}

/// One connection: events, a full reconcile, then event-driven ones. None when stopped,
/// else why the connection is over.
async fn session(
    agent: &Agent,
    docker: &Docker,
    opts: &DockerOpts,
    status: &Status,
    stop: &CancellationToken,
) -> Option<String> {
    let mut filters = HashMap::new();
    filters.insert(
        "type".to_string(),
        vec!["container".to_string(), "network".to_string()],
    );
    filters.insert(
        "event".to_string(),
        EVENTS.iter().map(|e| e.to_string()).collect(),
    );
    // bollard's event stream is lazy: its request goes out on the first poll, after the
    // list. `since` (taken before the list) makes Docker replay what happened in between.
    let since = daemon_now(docker).await;
    let mut events = docker.events(Some(EventsOptions {
        since: Some(since),
        filters: Some(filters),
        ..Default::default()
    }));
    if let Err(e) = reconcile_all(agent, docker, opts, status).await {
        return Some(format!("listing containers: {e}"));
    }
    status.set("connected", "");
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
            _ = stop.cancelled() => return None,
            _ = tick => {
                if let Err(e) = reconcile_all(agent, docker, opts, status).await {
                    return Some(format!("resync: {e}"));
                }
                continue;
            }
            ev = events.next() => match ev {
                Some(Ok(m)) => touched.extend(container_of(&m)),
                Some(Err(e)) => return Some(format!("event stream: {e}")),
                None => return Some("the event stream ended".into()),
            },
        }
        // A burst for one container (die, stop, destroy...) is one reconcile.
        let window = tokio::time::sleep(Duration::from_millis(10));
        tokio::pin!(window);
        let mut ended = None;
        loop {
            tokio::select! {
                _ = &mut window => break,
                ev = events.next() => match ev {
                    Some(Ok(m)) => touched.extend(container_of(&m)),
                    Some(Err(e)) => { ended = Some(format!("event stream: {e}")); break }
                    None => { ended = Some("the event stream ended".into()); break }
                },
            }
        }
        for id in touched {
            // Cannot tell (the engine went away mid-burst): the reconnect reconciles it.
            let inspected = match inspect(docker, &id).await {
                Ok(c) => c,
                Err(e) => return Some(e),
            };
            reconcile::apply(agent, &id, reconcile::want(inspected.as_ref(), opts)).await;
        }
        count(agent, status);
        if ended.is_some() {
            return ended;
        }
    }
}

/// The daemon's clock minus a second, as Docker's `since` takes it (`secs.nanos`). The
/// daemon's own time, so a remote daemon's clock skew cannot hide events; this host's clock
/// if the daemon does not say. Replaying an event twice is harmless: reconciles are
/// idempotent.
async fn daemon_now(docker: &Docker) -> String {
    let daemon = docker
        .info()
        .await
        .ok()
        .and_then(|i| i.system_time)
        .and_then(|t| humantime::parse_rfc3339_weak(&t).ok());
    let now = daemon.unwrap_or_else(std::time::SystemTime::now) - Duration::from_secs(1);
    let d = now
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    format!("{}.{:09}", d.as_secs(), d.subsec_nanos())
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

/// The container, None when it no longer exists; an error when the engine cannot say.
async fn inspect(
    docker: &Docker,
    id: &str,
) -> Result<Option<bollard::models::ContainerInspectResponse>, String> {
    match docker.inspect_container(id, None).await {
        Ok(c) => Ok(Some(c)),
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => Ok(None),
        Err(e) => Err(format!("inspecting {id}: {e}")),
    }
}

fn count(agent: &Agent, status: &Status) {
    let n = reconcile::ours(agent).values().map(|s| s.len()).sum();
    status.update(|s| s.services = n);
}

/// Every container against every service of ours: running ones get theirs, ours whose
/// container is gone (or stopped) lose them.
async fn reconcile_all(
    agent: &Agent,
    docker: &Docker,
    opts: &DockerOpts,
    status: &Status,
) -> Result<(), String> {
    let list = docker
        .list_containers(Some(ListContainersOptions::default()))
        .await
        .map_err(|e| e.to_string())?;
    let mut seen = BTreeSet::new();
    for c in list {
        let Some(id) = c.id else { continue };
        let inspected = inspect(docker, &id).await?;
        reconcile::apply(agent, &id, reconcile::want(inspected.as_ref(), opts)).await;
        seen.insert(id);
    }
    for owner in reconcile::ours(agent).into_keys() {
        if !seen.contains(&owner) {
            // Not running: stopped (maybe kept by -deregister on-success) or gone.
            let inspected = inspect(docker, &owner).await?;
            reconcile::apply(agent, &owner, reconcile::want(inspected.as_ref(), opts)).await;
        }
    }
    status.update(|s| s.reconciles += 1);
    count(agent, status);
    Ok(())
}
