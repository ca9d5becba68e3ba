//! The one task that owns Foca: it is fed a closed [`Input`] (a datagram, a timer, a command, a
//! TCP join connection, a housekeeping tick) and drains foca's runtime after each.

use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use foca::{AccumulatingRuntime, Foca, OwnedNotification, PostcardCodec, Timer};
use rand_010::rngs::StdRng;
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tokio_util::time::DelayQueue;

use super::frame::Crypto;
use super::handler::{encode, Handler};
use super::members::{lock, Shared};
use super::wire::{Id, Item, JoinReply, JoinRequest, MemberInfo, PROTOCOL_VERSION};
use super::{foca_config, GossipConfig, GossipError, MemberStatus, Stats};

/// Join handshakes served at once; more are refused until some finish.
const MAX_JOIN_CONNS: usize = 32;
/// Our concrete foca.
type Swim = Foca<Id, PostcardCodec, StdRng, Handler>;

/// How often housekeeping runs: metadata re-broadcast when due, reaping, config scaling.
const TICK: Duration = Duration::from_millis(500);
/// Re-broadcast our metadata at least this often so nodes that missed it still learn it.
const META_REFRESH: Duration = Duration::from_secs(30);
/// Upper bound of the leave-intent phase before we declare ourselves down.
const LEAVE_INTENT: Duration = Duration::from_millis(700);

/// Everything that makes the task act: one closed list, so all triggers are visible here.
pub(crate) enum Input {
    /// A datagram from a peer (still sealed).
    Packet(Vec<u8>),
    /// A foca timer fired.
    Timer(Timer<Id>),
    /// A request from the handle or a join connection.
    Command(Command),
    /// A TCP join connection arrived.
    Accepted(TcpStream, SocketAddr),
    /// Housekeeping.
    Tick,
    /// The leave-intent phase is over: leave the cluster now.
    LeaveNow,
}

/// Requests into the task.
pub(crate) enum Command {
    /// A peer wants to join through us; answer with our member list or a refusal.
    RemoteJoin {
        /// The joiner's request.
        req: JoinRequest,
        /// Where the answer goes.
        reply: oneshot::Sender<JoinReply>,
    },
    /// Our join through `peer` was accepted: take its list and announce to it.
    Joined {
        /// The peer's identity.
        peer: Id,
        /// Its member list.
        members: Vec<MemberInfo>,
    },
    /// Leave gracefully within `timeout`.
    Leave {
        /// Upper bound for the whole leave.
        timeout: Duration,
        /// Answered once we are out.
        reply: oneshot::Sender<()>,
    },
    /// Force a failed node to Left (and maybe prune it).
    ForceLeave {
        /// Node name.
        name: String,
        /// Remove it from the list too.
        prune: bool,
        /// The outcome.
        reply: oneshot::Sender<Result<(), GossipError>>,
    },
}

/// The task's state.
pub(crate) struct Runner {
    pub(crate) cfg: GossipConfig,
    pub(crate) foca: Swim,
    pub(crate) rt: AccumulatingRuntime<Id>,
    pub(crate) timers: DelayQueue<Timer<Id>>,
    pub(crate) socket: Arc<UdpSocket>,
    pub(crate) listener: TcpListener,
    pub(crate) crypto: Arc<Crypto>,
    pub(crate) table: Shared,
    pub(crate) stats: Arc<Stats>,
    pub(crate) changes: watch::Sender<u64>,
    pub(crate) cmd_tx: mpsc::Sender<Command>,
    pub(crate) cmd_rx: mpsc::Receiver<Command>,
    pub(crate) conns: TaskTracker,
    /// Set by a MemberUp: re-broadcast our metadata on the next tick for the newcomer.
    pub(crate) meta_due: bool,
    /// When our metadata was last published.
    pub(crate) meta_sent: Instant,
    /// Alive count the foca config was last scaled for.
    pub(crate) scaled_for: usize,
    /// A leave in progress: when to leave the cluster, and who waits.
    pub(crate) leaving: Option<(Instant, oneshot::Sender<()>)>,
}

impl Runner {
    /// Run until shutdown or a completed leave.
    pub(crate) async fn run(mut self, shutdown: CancellationToken) {
        let mut buf = vec![0u8; 65_536];
        let mut tick = tokio::time::interval(TICK);
        self.publish_meta();
        self.drain().await;
        loop {
            let leave_at = self.leaving.as_ref().map(|l| l.0);
            let input = tokio::select! {
                _ = shutdown.cancelled() => break,
                r = self.socket.recv_from(&mut buf) => match r {
                    Ok((n, _)) => Input::Packet(buf[..n].to_vec()),
                    Err(_) => continue,
                },
                Some(t) = std::future::poll_fn(|cx| self.timers.poll_expired(cx)),
                    if !self.timers.is_empty() => Input::Timer(t.into_inner()),
                Some(c) = self.cmd_rx.recv() => Input::Command(c),
                Ok((s, a)) = self.listener.accept() => Input::Accepted(s, a),
                _ = tick.tick() => Input::Tick,
                _ = tokio::time::sleep_until(leave_at.unwrap_or_else(Instant::now)),
                    if leave_at.is_some() => Input::LeaveNow,
            };
            let stop = self.handle(input);
            self.drain().await;
            if stop {
                break;
            }
        }
        // Nobody reads commands any more: drop the pending ones (their reply senders with them)
        // so join handshakes waiting on an answer end now instead of at their timeout.
        self.cmd_rx.close();
        while self.cmd_rx.try_recv().is_ok() {}
        self.conns.close();
        self.conns.wait().await;
    }

    /// Apply one input; `true` when the task should stop (leave completed).
    fn handle(&mut self, input: Input) -> bool {
        match input {
            Input::Packet(data) => self.on_packet(&data),
            Input::Timer(t) => {
                if let Err(e) = self.foca.handle_timer(t, &mut self.rt) {
                    tracing::debug!("gossip: timer: {e}");
                }
            }
            Input::Command(c) => self.on_command(c),
            Input::Accepted(stream, from) => {
                // A bounded number of handshakes at once: a flood of connections is dropped
                // rather than queued, and never starves probing.
                if self.conns.len() >= MAX_JOIN_CONNS {
                    tracing::warn!(
                        "gossip: too many join handshakes in flight; dropping one from {from}"
                    );
                    drop(stream);
                } else {
                    let (tx, crypto) = (self.cmd_tx.clone(), self.crypto.clone());
                    self.conns
                        .spawn(super::join::serve(stream, from, crypto, tx));
                }
            }
            Input::Tick => self.on_tick(),
            Input::LeaveNow => return self.finish_leave(),
        }
        false
    }

    fn on_packet(&mut self, data: &[u8]) {
        self.stats.packets_received.fetch_add(1, Relaxed);
        self.stats
            .bytes_received
            .fetch_add(data.len() as u64, Relaxed);
        let ok = match self.crypto.open(data) {
            Ok(pt) => self.foca.handle_data(&pt, &mut self.rt).is_ok(),
            Err(_) => false,
        };
        if !ok {
            self.stats.dropped.fetch_add(1, Relaxed);
        }
    }

    fn on_command(&mut self, c: Command) {
        match c {
            Command::RemoteJoin { req, reply } => {
                let answer = self.remote_join(req);
                let _ = reply.send(answer);
            }
            Command::Joined { peer, members } => {
                {
                    let mut t = lock(&self.table);
                    for m in members {
                        let status = MemberStatus::from_code(m.status);
                        t.apply_meta(m.meta, Some(status));
                    }
                }
                if let Err(e) = self.foca.announce(peer, &mut self.rt) {
                    tracing::warn!("gossip: announce to {}: {e}", peer.addr);
                }
                self.meta_due = true;
            }
            Command::Leave { timeout, reply } => self.start_leave(timeout, reply),
            Command::ForceLeave { name, prune, reply } => {
                let _ = reply.send(self.force_leave(&name, prune));
            }
        }
    }

    fn remote_join(&mut self, req: JoinRequest) -> JoinReply {
        if req.protocol != PROTOCOL_VERSION {
            let reason = format!(
                "protocol version {} not supported (we speak {PROTOCOL_VERSION})",
                req.protocol
            );
            return JoinReply::Refuse {
                name_conflict: false,
                reason,
            };
        }
        if let Some(reason) = lock(&self.table).conflict(&req.meta) {
            tracing::error!("gossip: refused join from {}: {reason}", req.meta.foca.addr);
            return JoinReply::Refuse {
                name_conflict: true,
                reason,
            };
        }
        // Through our own handler: applied here and passed on to every member.
        let _ = self.foca.add_broadcast(&encode(&Item::Meta(req.meta)));
        let _ = self.foca.broadcast(&mut self.rt);
        JoinReply::Accept {
            peer: *self.foca.identity(),
            members: lock(&self.table).snapshot(),
        }
    }

    fn force_leave(&mut self, name: &str, prune: bool) -> Result<(), GossipError> {
        let (status, gen) = lock(&self.table)
            .lookup(name)
            .ok_or_else(|| GossipError::NotFound(name.to_string()))?;
        let applies = match status {
            MemberStatus::Failed => true,
            MemberStatus::Left => prune,
            // Consul leaves live nodes alone: force-leave only affects failed ones.
            _ => false,
        };
        if applies {
            let gen = gen.max(1);
            let item = Item::ForceLeft {
                name: name.to_string(),
                gen,
                prune,
            };
            let _ = self.foca.add_broadcast(&encode(&item));
            let _ = self.foca.broadcast(&mut self.rt);
        }
        Ok(())
    }

    fn start_leave(&mut self, timeout: Duration, reply: oneshot::Sender<()>) {
        let me = *self.foca.identity();
        let name = lock(&self.table).my_meta().name;
        lock(&self.table).set_my_status(MemberStatus::Leaving);
        let _ = self
            .foca
            .add_broadcast(&encode(&Item::Leaving { name, gen: me.gen }));
        let _ = self.foca.broadcast(&mut self.rt);
        let _ = self.foca.gossip(&mut self.rt);
        let phase = (timeout / 2).min(LEAVE_INTENT);
        self.leaving = Some((Instant::now() + phase, reply));
    }

    fn finish_leave(&mut self) -> bool {
        if let Err(e) = self.foca.leave_cluster(&mut self.rt) {
            tracing::warn!("gossip: leave: {e}");
        }
        lock(&self.table).set_my_status(MemberStatus::Left);
        if let Some((_, reply)) = self.leaving.take() {
            let _ = reply.send(());
        }
        true
    }

    fn on_tick(&mut self) {
        if self.leaving.is_some() {
            // Keep pushing the leave intent out while it lasts.
            let _ = self.foca.broadcast(&mut self.rt);
            return;
        }
        if self.meta_due || self.meta_sent.elapsed() >= META_REFRESH {
            self.publish_meta();
        }
        lock(&self.table).reap(self.cfg.reconnect_timeout, self.cfg.tombstone_timeout);
        let alive = self.foca.num_members() + 1;
        if alive != self.scaled_for {
            self.scaled_for = alive;
            if let Err(e) = self.foca.set_config(foca_config(&self.cfg, alive)) {
                tracing::debug!("gossip: rescale: {e}");
            }
        }
    }

    /// Publish our metadata with a bumped sequence number.
    fn publish_meta(&mut self) {
        let mut meta = lock(&self.table).my_meta();
        meta.seq += 1;
        meta.foca = *self.foca.identity();
        lock(&self.table).set_my_meta(meta.clone());
        if let Err(e) = self.foca.add_broadcast(&encode(&Item::Meta(meta))) {
            tracing::warn!("gossip: metadata broadcast: {e}");
        }
        self.meta_due = false;
        self.meta_sent = Instant::now();
    }

    /// Send, schedule and react to whatever foca produced; loops since reactions produce more.
    async fn drain(&mut self) {
        loop {
            let mut any = false;
            while let Some((to, data)) = self.rt.to_send() {
                any = true;
                let frame = self.crypto.seal(&data);
                if self.socket.send_to(&frame, to.addr).await.is_ok() {
                    self.stats.packets_sent.fetch_add(1, Relaxed);
                    self.stats.bytes_sent.fetch_add(frame.len() as u64, Relaxed);
                }
            }
            while let Some((after, t)) = self.rt.to_schedule() {
                any = true;
                self.timers.insert(t, after);
            }
            while let Some(n) = self.rt.to_notify() {
                any = true;
                self.on_notification(n);
            }
            if !any {
                break;
            }
        }
        let mut t = lock(&self.table);
        if t.changed {
            t.changed = false;
            let (n, _) = t.counts();
            self.stats.members.store(n as u64, Relaxed);
            drop(t);
            self.changes.send_modify(|v| *v += 1);
        }
    }

    fn on_notification(&mut self, n: OwnedNotification<Id>) {
        match n {
            OwnedNotification::MemberUp(id) => {
                lock(&self.table).member_up(&id);
                self.meta_due = true;
            }
            OwnedNotification::MemberDown(id) => lock(&self.table).member_down(&id),
            OwnedNotification::Rename(_, new) => lock(&self.table).renamed(&new),
            OwnedNotification::Rejoin(id) => {
                tracing::info!(
                    "gossip: we were declared down; rejoined as generation {}",
                    id.gen
                );
                self.publish_meta();
            }
            OwnedNotification::Defunct => tracing::warn!("gossip: this node was declared down"),
            OwnedNotification::Active | OwnedNotification::Idle => {}
        }
    }
}
