//! Starting a node: keyring resolution, binding UDP and TCP on one port, spawning the task.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use foca::{AccumulatingRuntime, Foca, PostcardCodec};
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tokio_util::time::DelayQueue;

use super::frame::Crypto;
use super::handler::Handler;
use super::members::Table;
use super::runner::Runner;
use super::wire::{Id, Meta};
use super::{foca_config, Gossip, GossipConfig, GossipError, Inner, Keyring, Stats};

/// Attempts at finding a port free for both UDP and TCP when the bind port is 0.
const BIND_ATTEMPTS: usize = 20;

impl Gossip {
    /// Bind UDP and TCP on `cfg.bind`, spawn the gossip task, and return its handle and join
    /// handle. The task stops on `shutdown` or after `leave`.
    pub async fn start(
        mut cfg: GossipConfig,
        shutdown: CancellationToken,
    ) -> Result<(Gossip, JoinHandle<()>), GossipError> {
        cfg.keyring = resolve_keyring(&cfg)?;
        let (socket, listener, local) = bind(cfg.bind).await?;
        let mut advertise = cfg.advertise;
        if advertise.ip().is_unspecified() {
            advertise.set_ip(local.ip());
        }
        if advertise.port() == 0 {
            advertise.set_port(local.port());
        }
        cfg.advertise = advertise;
        let id = Id {
            addr: advertise,
            gen: generation(),
        };
        let meta = Meta {
            name: cfg.node_name.clone(),
            id: cfg.node_id.clone(),
            foca: id,
            seq: 0,
            tags: cfg.tags.clone(),
        };
        let table = Arc::new(Mutex::new(Table::new(meta)));
        let crypto = Arc::new(Crypto {
            keyring: cfg.keyring.clone(),
            verify_incoming: cfg.encrypt_verify_incoming,
            verify_outgoing: cfg.encrypt_verify_outgoing,
        });
        let handler = Handler {
            table: table.clone(),
        };
        let rng: rand_010::rngs::StdRng = rand_010::make_rng();
        let foca =
            Foca::with_custom_broadcast(id, foca_config(&cfg, 1), rng, PostcardCodec, handler);
        let (cmd_tx, cmd_rx) = mpsc::channel(64);
        let (changes, changes_rx) = watch::channel(0u64);
        let stats = Arc::new(Stats::default());
        tracing::info!(
            "gossip: {} listening on {local} (udp+tcp), advertising {advertise}, encrypted: {}",
            cfg.node_name,
            crypto.keyring.is_some()
        );
        let runner = Runner {
            cfg,
            foca,
            rt: AccumulatingRuntime::new(),
            timers: DelayQueue::new(),
            socket: Arc::new(socket),
            listener,
            crypto: crypto.clone(),
            table: table.clone(),
            stats: stats.clone(),
            changes,
            cmd_tx: cmd_tx.clone(),
            cmd_rx,
            conns: TaskTracker::new(),
            meta_due: false,
            meta_sent: Instant::now(),
            scaled_for: 1,
            leaving: None,
        };
        let task = tokio::spawn(runner.run(shutdown));
        let inner = Inner {
            cmd: cmd_tx,
            table,
            changes: changes_rx,
            stats,
            crypto,
            local_addr: local,
        };
        Ok((
            Gossip {
                inner: Arc::new(inner),
            },
            task,
        ))
    }
}

/// As Consul: an existing `data_dir/serf/local.keyring` wins (it may hold rotated keys) and a
/// different `encrypt` is ignored with a warning; without a file the given key is written
/// there, so a restart needs no `encrypt` flag.
fn resolve_keyring(cfg: &GossipConfig) -> Result<Option<Keyring>, GossipError> {
    let path = cfg.data_dir.as_deref().map(Keyring::file_path);
    match (&cfg.keyring, path) {
        (Some(k), Some(p)) if p.exists() => {
            let file = Keyring::load(&p)?;
            if file.to_base64_list().first() != k.to_base64_list().first() {
                tracing::warn!(path = %p.display(), "gossip: the keyring file exists; the encrypt key is ignored (its primary key differs)");
            }
            Ok(Some(file))
        }
        (Some(k), Some(p)) => {
            k.save(&p)?;
            Ok(Some(k.clone()))
        }
        (None, Some(p)) if p.exists() => Keyring::load(&p).map(Some),
        (k, _) => Ok(k.clone()),
    }
}

/// Milliseconds since the epoch: grows across restarts, so a restarted node wins over its old self.
fn generation() -> u64 {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    u64::try_from(ms).unwrap_or(u64::MAX)
}

/// Bind UDP, then TCP on the same port; with port 0, retry until a port is free for both.
async fn bind(addr: SocketAddr) -> Result<(UdpSocket, TcpListener, SocketAddr), GossipError> {
    let err = |e| GossipError::Bind {
        addr: addr.to_string(),
        source: e,
    };
    let mut last = None;
    for _ in 0..BIND_ATTEMPTS {
        let udp = UdpSocket::bind(addr).await.map_err(err)?;
        let local = udp.local_addr().map_err(err)?;
        match TcpListener::bind(local).await {
            Ok(tcp) => return Ok((udp, tcp, local)),
            Err(e) if addr.port() == 0 => last = Some(e),
            Err(e) => return Err(err(e)),
        }
    }
    Err(err(
        last.unwrap_or_else(|| std::io::ErrorKind::AddrInUse.into())
    ))
}
