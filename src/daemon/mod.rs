//! The one place that wires the agent: builds every part from `RuntimeConfig`, starts them in
//! order, and stops them in reverse (root `CancellationToken` + `TaskTracker`), each step
//! bounded by a grace timeout.
//!
//! Start order: node ID → server RPC listener and Raft (servers; the catalog it applies to) →
//! local agent (config services) → first sync → gossip → HTTP listener → background tasks.
//! Stop order: HTTP intake, checks and syncer, gossip, server RPC, Raft, PID file.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::agent::{Agent, Identity};
use crate::catalog::Store;
use crate::cluster::{Cluster, ServerList};
use crate::config::{LogLevel, RuntimeConfig};
use crate::raft::{RaftNode, RaftOptions};
use crate::rpc::Pool;

mod membership;
mod node_id;
mod rpc_service;

/// Longest a graceful stop waits for each part.
const GRACE: Duration = Duration::from_secs(5);

/// Why the agent could not start.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// A file or socket operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The persisted agent state could not be read.
    #[error("agent state: {0}")]
    State(String),
    /// Raft could not start.
    #[error("raft: {0}")]
    Raft(String),
    /// Gossip could not start or `-join` found nobody.
    #[error("gossip: {0}")]
    Gossip(String),
}

/// How long a graceful leave may take to reach the pool.
const LEAVE_TIMEOUT: Duration = Duration::from_secs(5);

/// Hooks the daemon calls back into the binary's edge: config reload and log level.
pub struct Hooks {
    /// Re-reads the config sources (flags and files) for SIGHUP and `/v1/agent/reload`.
    pub reload: Box<dyn Fn() -> Result<RuntimeConfig, String> + Send + Sync>,
    /// Applies a new log level.
    pub set_log_level: Box<dyn Fn(LogLevel) + Send + Sync>,
}

/// Runs the agent until SIGINT/SIGTERM (or `stop` is cancelled), then shuts it down.
pub async fn run(
    config: RuntimeConfig,
    hooks: Hooks,
    stop: CancellationToken,
) -> Result<(), DaemonError> {
    let signals = Signals::install()?;
    let data_dir = if config.dev {
        None
    } else {
        config.data_dir.clone()
    };
    if let Some(dir) = &data_dir {
        std::fs::create_dir_all(dir).map_err(|source| DaemonError::Io {
            what: format!("creating data_dir {}", dir.display()),
            source,
        })?;
    }
    let node_id = node_id::node_id(&config, data_dir.as_deref())?;
    if let Some(pid) = &config.pid_file {
        std::fs::write(pid, format!("{}\n", std::process::id())).map_err(|source| {
            DaemonError::Io {
                what: format!("writing pid_file {}", pid.display()),
                source,
            }
        })?;
    }
    let config = Arc::new(config);
    let store = Store::new();
    let pool = Pool::default();
    let servers = ServerList::default();
    let result = if !config.server {
        let cluster = Cluster::client(pool, servers);
        serve(
            &config, hooks, stop, signals, cluster, store, node_id, data_dir, None,
        )
        .await
    } else {
        // Bind the server port first: a taken port fails start-up before Raft opens its log.
        let rpc_addr = SocketAddr::new(config.bind_addr, config.ports.server);
        let rpc_listener = match TcpListener::bind(rpc_addr).await {
            Ok(l) => l,
            Err(source) => {
                if let Some(pid) = &config.pid_file {
                    let _ = std::fs::remove_file(pid);
                }
                return Err(DaemonError::Io {
                    what: format!("binding server RPC on {rpc_addr}"),
                    source,
                });
            }
        };
        let raft_opts = RaftOptions {
            node_id: node_id::raft_id(&node_id),
            rpc_addr: SocketAddr::new(config.advertise_addr, config.ports.server).to_string(),
            data_dir: data_dir.clone(),
            raft_multiplier: config.raft_multiplier,
            pool: pool.clone(),
            bootstrap: config.dev || config.bootstrap || config.bootstrap_expect == 1,
            snapshots: crate::raft::SnapshotOptions::from_config(&config),
        };
        let single = raft_opts.bootstrap;
        match RaftNode::start(raft_opts, store.clone()).await {
            Ok(raft) => {
                // Whatever happens from here on, Raft is shut down and the PID file removed.
                let cluster = Cluster::server(raft.clone(), pool, servers);
                let service = Arc::new(rpc_service::RpcService {
                    raft: raft.clone(),
                    cluster: cluster.clone(),
                    store: store.clone(),
                    http: std::sync::OnceLock::new(),
                });
                let rpc_stop = CancellationToken::new();
                let rpc_task = tokio::spawn(crate::rpc::serve(
                    rpc_listener,
                    service.clone(),
                    rpc_stop.clone(),
                    GRACE,
                ));
                tracing::info!(address = %rpc_addr, "agent: started server RPC on {rpc_addr} (tcp)");
                if single {
                    // A lone bootstrapped server elects itself at once; waiting here keeps
                    // `-dev` answering writes from its first request. Others wait for peers.
                    let leader_wait = Duration::from_secs(10) * config.raft_multiplier.max(1);
                    if let Err(e) = raft.wait_for_leader(leader_wait).await {
                        tracing::warn!("agent: {e}; serving without a leader");
                    }
                }
                let result = serve(
                    &config,
                    hooks,
                    stop,
                    signals,
                    cluster,
                    store,
                    node_id,
                    data_dir,
                    Some(service),
                )
                .await;
                rpc_stop.cancel();
                let _ = tokio::time::timeout(GRACE * 2, rpc_task).await;
                raft.shutdown().await;
                result
            }
            Err(e) => Err(DaemonError::Raft(e.to_string())),
        }
    };
    if let Some(pid) = &config.pid_file {
        let _ = std::fs::remove_file(pid);
    }
    if result.is_ok() {
        tracing::info!("agent: shutdown complete");
    }
    result
}

/// SIGTERM, SIGINT and SIGHUP, installed before anything starts.
struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> Result<Signals, DaemonError> {
        let one = |kind: SignalKind, name: &str| {
            signal(kind).map_err(|source| DaemonError::Io {
                what: format!("installing {name} handler"),
                source,
            })
        };
        Ok(Signals {
            term: one(SignalKind::terminate(), "SIGTERM")?,
            int: one(SignalKind::interrupt(), "SIGINT")?,
            hup: one(SignalKind::hangup(), "SIGHUP")?,
        })
    }
}

/// Everything after Raft: the agent, the listeners and tasks, the signal loop, and the stop of
/// the tasks. Returns before Raft is shut down.
#[allow(clippy::too_many_arguments)] // the daemon's parts, handed over once
async fn serve(
    config: &Arc<RuntimeConfig>,
    hooks: Hooks,
    stop: CancellationToken,
    mut signals: Signals,
    cluster: Cluster,
    store: Store,
    node_id: String,
    data_dir: Option<std::path::PathBuf>,
    rpc: Option<Arc<rpc_service::RpcService>>,
) -> Result<(), DaemonError> {
    let identity = Identity {
        node_id,
        node_name: config.node_name.clone(),
        datacenter: config.datacenter.clone(),
        address: config.advertise_addr.to_string(),
        meta: config.node_meta.clone(),
        server: config.server,
        server_port: config.ports.server,
    };
    let state_file = data_dir.as_deref().map(crate::agent::persist::path);
    let agent = Agent::new(
        identity,
        cluster.clone(),
        store.clone(),
        state_file,
        crate::agent::CheckSettings::from_config(config),
    );
    agent
        .restore_persisted()
        .map_err(|e| DaemonError::State(e.to_string()))?;
    for e in agent
        .load_config_entries(&config.services, &config.checks)
        .await
    {
        tracing::error!(error = %e, "agent: config service or check refused");
    }
    agent.full_sync().await;

    let root = stop.child_token();
    // Gossip stops after the other tasks (it is not a child of `root`).
    let gossip_stop = stop.child_token();
    let (gossip, gossip_task) = membership::start(
        config,
        &agent.identity().node_id,
        data_dir.as_deref(),
        gossip_stop.clone(),
    )
    .await?;
    let snapshot = data_dir.as_deref().map(membership::snapshot_path);
    // Bind every listener before starting any task, so a failed bind leaves nothing running.
    let mut listeners = Vec::new();
    if let Some(port) = config.ports.http {
        for ip in &config.http_addrs {
            let addr = SocketAddr::new(*ip, port);
            let listener = TcpListener::bind(addr)
                .await
                .map_err(|source| DaemonError::Io {
                    what: format!("binding HTTP on {addr}"),
                    source,
                })?;
            listeners.push(listener);
        }
    }

    // DNS reads this server's catalog, or (client agents) a server's over RPC.
    let mut dns_task = None;
    if let Some(port) = config.ports.dns {
        let addrs: Vec<SocketAddr> = config
            .dns_addrs
            .iter()
            .map(|ip| SocketAddr::new(*ip, port))
            .collect();
        let settings = crate::dns::Settings::from_config(config);
        let source = crate::dns::source::Source::new(store.clone(), cluster.clone());
        let task = crate::dns::serve(&addrs, source, settings, root.child_token())
            .await
            .map_err(|source| DaemonError::Io {
                what: format!("binding DNS on port {port}"),
                source,
            })?;
        dns_task = Some(task);
    }

    let tracker = TaskTracker::new();
    if let Some(task) = dns_task {
        tracker.spawn(task);
    }
    let (reload_tx, mut reload_rx) = mpsc::channel::<()>(4);
    let left = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let http_stop = root.child_token();
    let state = Arc::new(crate::http::HttpState {
        store: store.clone(),
        cluster: cluster.clone(),
        agent: agent.clone(),
        config: config.clone(),
        shutdown: http_stop.clone(),
        reload: reload_tx,
        stop_agent: root.clone(),
        gossip: gossip.clone(),
        left: left.clone(),
        cache: crate::http::cache::RenderCache::default(),
        templates: crate::runner::StatusBoard::default(),
        docker: crate::docker::Status::default(),
    });
    if let Some(rpc) = &rpc {
        let _ = rpc.http.set(state.clone());
    }
    for listener in listeners {
        if let Ok(bound) = listener.local_addr() {
            tracing::info!(address = %bound, "agent: started HTTP server on {bound} (tcp)");
        }
        tracker.spawn(crate::http::serve(
            listener,
            state.clone(),
            http_stop.clone(),
            GRACE,
        ));
    }
    let bg_stop = root.child_token();
    tracker.spawn(crate::checks::ttl::run(agent.clone(), bg_stop.clone()));
    let engine = crate::checks::docker::Engine::new(
        config.docker.endpoint.clone(),
        config.docker.tls.clone(),
    );
    tracker.spawn(crate::checks::manager::run(
        agent.clone(),
        engine,
        bg_stop.clone(),
    ));
    tracker.spawn(crate::checks::reaper::run(agent.clone(), bg_stop.clone()));
    tracker.spawn({
        // The first sync waits for the first Docker reconcile (see `Status::settled`).
        let (agent, docker, stop) = (agent.clone(), state.docker.clone(), bg_stop.clone());
        async move {
            docker.settled(Duration::from_secs(5)).await;
            agent.run_syncer(stop).await;
        }
    });
    tracker.spawn(crate::agent::leader::run_tombstone_gc(
        cluster.clone(),
        store.clone(),
        bg_stop.clone(),
    ));
    if let Some(path) = &snapshot {
        tracker.spawn(membership::rejoin_from_snapshot(
            gossip.clone(),
            path.clone(),
            config.rejoin_after_leave,
        ));
    }
    if !config.retry_join.is_empty() {
        tracker.spawn(membership::retry_join(
            gossip.clone(),
            config.retry_join.clone(),
            config.retry_interval,
            config.retry_max,
            bg_stop.clone(),
            root.clone(),
        ));
    }
    if let Some(path) = snapshot.clone() {
        tracker.spawn(membership::keep_snapshot(
            gossip.clone(),
            path,
            config.node_name.clone(),
            bg_stop.clone(),
        ));
    }
    let up = agent.clone();
    tracker.spawn(membership::track_servers(
        gossip.clone(),
        cluster.clone(),
        config.datacenter.clone(),
        move || up.server_up(),
        bg_stop.clone(),
    ));
    if let Some(raft) = cluster.raft() {
        tracker.spawn(crate::raft::run_snapshot_timer(
            raft.clone(),
            config.raft_snapshot_interval,
            bg_stop.clone(),
        ));
        let g = gossip.clone();
        tracker.spawn(crate::agent::raft_members::run(
            raft.clone(),
            config.datacenter.clone(),
            gossip.subscribe(),
            move || (g.members(), g.forgotten().into_iter().collect()),
            bg_stop.clone(),
        ));
        if config.bootstrap_expect > 1 {
            // bootstrap_expect = 1 bootstraps at Raft start, as `-bootstrap` does.
            let g = gossip.clone();
            tracker.spawn(crate::agent::bootstrap::run(
                raft.clone(),
                config.node_name.clone(),
                config.datacenter.clone(),
                config.bootstrap_expect,
                move || g.members(),
                gossip.subscribe(),
                cluster.pool().clone(),
                bg_stop.clone(),
            ));
        }
    }
    if cluster.has_catalog() {
        let g = gossip.clone();
        tracker.spawn(crate::agent::reconcile::run(
            cluster.clone(),
            store.clone(),
            config.datacenter.clone(),
            gossip.subscribe(),
            move || {
                (
                    g.members().iter().map(membership::member_view).collect(),
                    g.forgotten().into_iter().collect(),
                )
            },
            bg_stop.clone(),
        ));
    }
    // The template runner reads through this agent's own API in-process (a client's
    // requests go to its servers as its HTTP API's do).
    let (template_ctl, template_rx) = mpsc::channel(4);
    let runner_opts = crate::runner::RunnerOpts {
        templates: config.templates.clone(),
        wait: config.template_wait,
        ..Default::default()
    };
    tracker.spawn({
        let source = Arc::new(crate::runner::source::Local(state.clone()));
        let node: Arc<str> = Arc::from(config.node_name.as_str());
        let board = state.templates.clone();
        let stop = bg_stop.clone();
        let agent = agent.clone();
        async move {
            // Templates first render once this agent's own services are in the catalog
            // (see `Agent::synced`); a cluster that cannot be reached delays them 10 s.
            tokio::select! {
                _ = agent.synced(Duration::from_secs(10)) => {}
                _ = stop.cancelled() => return,
            }
            crate::runner::run(runner_opts, source, node, board, template_rx, stop).await;
        }
    });
    tracker.spawn(crate::docker::run(
        agent.clone(),
        config.docker.clone(),
        state.docker.clone(),
        bg_stop.clone(),
    ));
    tracker.close();
    for w in &config.warnings {
        tracing::warn!("agent: {w}");
    }
    tracing::info!(node = %config.node_name, datacenter = %config.datacenter, "agent: Consul agent running!");

    let mut leave = false;
    loop {
        tokio::select! {
            _ = signals.term.recv() => {
                tracing::info!("agent: caught signal: terminated");
                leave = config.leave_on_terminate;
                break;
            }
            _ = signals.int.recv() => {
                tracing::info!("agent: caught signal: interrupt");
                leave = !config.skip_leave_on_interrupt;
                break;
            }
            _ = root.cancelled() => break,
            _ = signals.hup.recv() => reload(&agent, &hooks, &template_ctl).await,
            Some(()) = reload_rx.recv() => reload(&agent, &hooks, &template_ctl).await,
        }
    }

    if leave {
        tracing::info!("agent: gracefully leaving the cluster");
        match gossip.leave(LEAVE_TIMEOUT).await {
            Ok(()) => left.store(true, std::sync::atomic::Ordering::SeqCst),
            Err(e) => tracing::warn!("agent: graceful leave failed: {e}"),
        }
    }
    tracing::info!("agent: requesting shutdown");
    root.cancel();
    if tokio::time::timeout(GRACE * 2, tracker.wait())
        .await
        .is_err()
    {
        tracing::warn!("agent: some tasks did not stop within the grace period");
    }
    gossip_stop.cancel();
    if tokio::time::timeout(GRACE, gossip_task).await.is_err() {
        tracing::warn!("agent: gossip did not stop within the grace period");
    }
    if left.load(std::sync::atomic::Ordering::SeqCst) {
        if let Some(path) = &snapshot {
            let mut snap = membership::load_snapshot(path);
            snap.left = true;
            membership::save_snapshot(path, &snap);
        }
    }
    Ok(())
}

async fn reload(agent: &Agent, hooks: &Hooks, templates: &mpsc::Sender<crate::runner::Control>) {
    tracing::info!("agent: reloading configuration");
    let new = match (hooks.reload)() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("agent: reload failed, keeping the running configuration: {e}");
            return;
        }
    };
    (hooks.set_log_level)(new.log_level);
    for e in agent.load_config_entries(&new.services, &new.checks).await {
        tracing::error!(error = %e, "agent: config service or check refused on reload");
    }
    let reload = crate::runner::Control::Reload(new.templates.clone(), new.template_wait);
    if templates.try_send(reload).is_err() {
        tracing::warn!("agent: the template runner is busy; templates reload on the next SIGHUP");
    }
    tracing::info!("agent: configuration reloaded");
}
