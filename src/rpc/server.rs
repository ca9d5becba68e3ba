//! The listener side of server RPC: accepts connections, reads requests in order on each, hands
//! them to the `Service`, and writes the replies back.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::frame::{self, FrameError};
use super::{Reply, Request};

/// Connections served at once; more wait in the accept queue.
const MAX_CONNECTIONS: usize = 1024;

/// What answers requests: implemented by the agent for servers (Raft, forwarding, HTTP).
pub trait Service: Send + Sync + 'static {
    /// Answers one request. Errors belong in the reply; this never fails.
    fn handle(&self, req: Request) -> BoxFuture<'_, Reply>;
}

/// Serves RPC on `listener` until `shutdown` is cancelled, then waits at most `grace` for the
/// requests in flight.
pub async fn serve(
    listener: TcpListener,
    service: Arc<dyn Service>,
    shutdown: CancellationToken,
    grace: Duration,
) {
    let tracker = TaskTracker::new();
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let permit = tokio::select! {
            _ = shutdown.cancelled() => break,
            p = slots.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let (stream, peer) = tokio::select! {
            _ = shutdown.cancelled() => break,
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "rpc: accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let service = service.clone();
        let stop = shutdown.clone();
        tracker.spawn(async move {
            tokio::select! {
                r = connection(stream, service.as_ref()) => {
                    if let Err(e) = r {
                        tracing::debug!(%peer, error = %e, "rpc: connection ended");
                    }
                }
                _ = stop.cancelled() => {}
            }
            drop(permit);
        });
    }
    tracker.close();
    if tokio::time::timeout(grace, tracker.wait()).await.is_err() {
        tracing::warn!("rpc: connections still open after the grace period");
    }
}

/// Serves one connection: request, reply, in order, until the peer hangs up.
async fn connection(stream: TcpStream, service: &dyn Service) -> Result<(), FrameError> {
    let mut stream = BufReader::new(stream);
    loop {
        let req = match frame::read::<_, Request>(&mut stream).await {
            Ok(r) => r,
            Err(FrameError::Closed) => return Ok(()),
            Err(e @ (FrameError::Version { .. } | FrameError::Decode(_))) => {
                // Tell the caller why in a frame it can read, then hang up: after a version
                // mismatch nothing else on this connection can be trusted.
                let _ = frame::write(stream.get_mut(), &Reply::Error(e.to_string())).await;
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        // The caller never sends a second request before the reply, so any readiness to read
        // while the request runs means it hung up (or broke the protocol): stop the work, e.g.
        // a forwarded blocking query whose caller gave up, instead of holding its slot.
        let reply = tokio::select! {
            reply = service.handle(req) => reply,
            _ = stream.fill_buf() => return Ok(()),
        };
        frame::write(stream.get_mut(), &reply).await?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpc::{Pool, RpcError};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    struct Echo;
    impl Service for Echo {
        fn handle(&self, req: Request) -> BoxFuture<'_, Reply> {
            Box::pin(async move {
                match req {
                    Request::Ping => Reply::Pong,
                    other => Reply::Error(format!("no {}", other.kind())),
                }
            })
        }
    }

    /// Serves `Echo` on `listener`; the handle ends when the token is cancelled.
    fn spawn_echo(listener: TcpListener) -> (CancellationToken, tokio::task::JoinHandle<()>) {
        let stop = CancellationToken::new();
        let task = tokio::spawn(serve(
            listener,
            Arc::new(Echo),
            stop.clone(),
            Duration::from_secs(1),
        ));
        (stop, task)
    }

    async fn start() -> (String, CancellationToken) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        (addr, spawn_echo(listener).0)
    }

    #[tokio::test]
    async fn pooled_calls_and_refusals() {
        let (addr, stop) = start().await;
        let pool = Pool::default();
        for _ in 0..3 {
            let r = pool
                .call(&addr, &Request::Ping, Duration::from_secs(1))
                .await;
            assert!(matches!(r, Ok(Reply::Pong)), "{r:?}");
        }
        let r = pool
            .call(
                &addr,
                &Request::NodeState { node: "n".into() },
                Duration::from_secs(1),
            )
            .await;
        assert!(matches!(r, Err(RpcError::Refused { .. })), "{r:?}");
        stop.cancel();
    }

    #[tokio::test]
    async fn unknown_version_gets_a_clear_error_not_a_panic() {
        let (addr, _stop) = start().await;
        let mut s = TcpStream::connect(&addr).await.unwrap();
        s.write_all(&[0, 0, 0, 3, 9, b'{', b'}']).await.unwrap();
        let mut reply: Vec<u8> = Vec::new();
        s.read_to_end(&mut reply).await.unwrap();
        let text = String::from_utf8_lossy(&reply[5..]).to_string();
        assert!(
            text.contains("unsupported rpc protocol version 9"),
            "{text}"
        );
        // The server is still there for well-behaved callers.
        let r = Pool::default()
            .call(&addr, &Request::Ping, Duration::from_secs(1))
            .await;
        assert!(matches!(r, Ok(Reply::Pong)), "{r:?}");
    }

    #[tokio::test]
    async fn a_restarted_server_is_reached_on_a_fresh_connection() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, task) = spawn_echo(listener);
        let pool = Pool::default();
        let r = pool
            .call(&addr.to_string(), &Request::Ping, Duration::from_secs(1))
            .await;
        assert!(matches!(r, Ok(Reply::Pong)));
        stop.cancel();
        task.await.unwrap();
        let (_stop, _task) = spawn_echo(TcpListener::bind(addr).await.unwrap());
        let r = pool
            .call(&addr.to_string(), &Request::Ping, Duration::from_secs(1))
            .await;
        assert!(matches!(r, Ok(Reply::Pong)), "{r:?}");
        let down = Pool::default()
            .call("127.0.0.1:1", &Request::Ping, Duration::from_secs(1))
            .await
            .unwrap_err();
        assert!(down.never_sent(), "{down}");
    }
}
