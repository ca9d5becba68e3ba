//! The UDP loop, with load shedding: datagrams are drained from the socket into a bounded
//! backlog that drops its oldest entry when full, and entries that waited longer than a client
//! waits (`MAX_AGE`) are dropped unanswered. Answers that need no network (the local catalog)
//! are sent inline; the rest (recursion, a server over RPC) run as tasks, at most
//! `MAX_IN_FLIGHT` at once; beyond that the oldest task is aborted for the new query.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::handler::{Handler, Transport};

/// Datagrams held before the oldest is dropped.
pub const BACKLOG: usize = 4096;
/// A query older than this is dropped: its client has retried or given up (dig and the stub
/// resolvers retry after 1–5 s).
pub const MAX_AGE: Duration = Duration::from_secs(1);
/// Queries waiting on the network at once; a new one beyond this aborts the oldest.
pub const MAX_IN_FLIGHT: usize = 256;

/// A bounded FIFO that sheds its oldest entries.
#[derive(Debug)]
pub struct Backlog<T> {
    items: VecDeque<(Instant, T)>,
    cap: usize,
    /// Entries dropped so far (full, or too old).
    pub shed: u64,
}

impl<T> Backlog<T> {
    /// An empty backlog holding at most `cap` entries.
    pub fn new(cap: usize) -> Backlog<T> {
        Backlog {
            items: VecDeque::with_capacity(cap.min(1024)),
            cap: cap.max(1),
            shed: 0,
        }
    }

    /// Adds an entry received `at`, dropping the oldest when full.
    pub fn push(&mut self, at: Instant, item: T) {
        if self.items.len() == self.cap {
            self.items.pop_front();
            self.shed += 1;
        }
        self.items.push_back((at, item));
    }

    /// The oldest entry no older than `max_age` at `now`; older ones are dropped.
    pub fn pop(&mut self, now: Instant, max_age: Duration) -> Option<T> {
        while let Some((at, item)) = self.items.pop_front() {
            if now.saturating_duration_since(at) <= max_age {
                return Some(item);
            }
            self.shed += 1;
        }
        None
    }

    /// Whether nothing is waiting.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Whether the backlog is full.
    pub fn is_full(&self) -> bool {
        self.items.len() == self.cap
    }
}

/// Serves `socket` until `stop`.
pub async fn serve(socket: UdpSocket, handler: Arc<Handler>, stop: CancellationToken) {
    let socket = Arc::new(socket);
    // Tasks waiting on the network, oldest first.
    let mut in_flight: VecDeque<JoinHandle<()>> = VecDeque::new();
    let mut backlog: Backlog<(Vec<u8>, SocketAddr)> = Backlog::new(BACKLOG);
    let mut buf = vec![0u8; 65535];
    let mut reported = 0;
    let mut served: u32 = 0;
    loop {
        if stop.is_cancelled() {
            break;
        }
        served = served.wrapping_add(1);
        if served.is_multiple_of(256) {
            // Under sustained load the loop never waits; let the runtime's other tasks run.
            tokio::task::yield_now().await;
        }
        if backlog.is_empty() {
            tokio::select! {
                r = socket.readable() => if r.is_err() { break },
                _ = stop.cancelled() => break,
            }
        }
        // Drain what the kernel holds (a bounded number per round, so answering goes on).
        let now = Instant::now();
        for _ in 0..BACKLOG {
            match socket.try_recv_from(&mut buf) {
                Ok((n, from)) => backlog.push(now, (buf[..n].to_vec(), from)),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => {
                    tracing::debug!(error = %e, "dns: udp receive failed");
                    break;
                }
            }
            if backlog.is_full() {
                break;
            }
        }
        let Some((packet, from)) = backlog.pop(Instant::now(), MAX_AGE) else {
            continue;
        };
        let mut answer = Box::pin({
            let handler = handler.clone();
            async move { handler.respond(&packet, Transport::Udp).await }
        });
        match futures::poll!(answer.as_mut()) {
            std::task::Poll::Ready(Some(bytes)) => send(&socket, &bytes, from).await,
            std::task::Poll::Ready(None) => {}
            std::task::Poll::Pending => {
                if in_flight.len() >= MAX_IN_FLIGHT {
                    in_flight.retain(|t| !t.is_finished());
                }
                if in_flight.len() >= MAX_IN_FLIGHT {
                    // The oldest query's client has waited longest: it goes first.
                    if let Some(oldest) = in_flight.pop_front() {
                        oldest.abort();
                        backlog.shed += 1;
                    }
                }
                let socket = socket.clone();
                in_flight.push_back(tokio::spawn(async move {
                    if let Some(bytes) = answer.await {
                        send(&socket, &bytes, from).await;
                    }
                }));
            }
        }
        if backlog.shed >= reported + 1000 || (reported == 0 && backlog.shed > 0) {
            tracing::warn!(
                shed = backlog.shed,
                "dns: overloaded; dropped {} queries so far (oldest first)",
                backlog.shed
            );
            reported = backlog.shed;
        }
    }
    for task in in_flight {
        task.abort();
    }
}

async fn send(socket: &UdpSocket, bytes: &[u8], to: SocketAddr) {
    if let Err(e) = socket.send_to(bytes, to).await {
        tracing::debug!(error = %e, to = %to, "dns: udp send failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_backlog_drops_its_oldest_entries() {
        let t0 = Instant::now();
        let mut b = Backlog::new(3);
        for i in 0..5 {
            b.push(t0, i);
        }
        assert_eq!(b.shed, 2);
        assert_eq!(b.pop(t0, MAX_AGE), Some(2));
        assert_eq!(b.pop(t0, MAX_AGE), Some(3));
        assert_eq!(b.pop(t0, MAX_AGE), Some(4));
        assert_eq!(b.pop(t0, MAX_AGE), None);
    }

    #[test]
    fn entries_older_than_max_age_are_dropped_unanswered() {
        let t0 = Instant::now();
        let mut b = Backlog::new(10);
        b.push(t0, "old");
        b.push(t0 + Duration::from_millis(900), "new");
        let now = t0 + Duration::from_millis(1500);
        assert_eq!(b.pop(now, MAX_AGE), Some("new"));
        assert_eq!(b.shed, 1);
        assert!(b.is_empty());
    }
}
