//! The caller's side of server RPC: a pool of idle connections per server address.
//!
//! A call takes an idle connection (or opens one), writes the request, waits for the reply and
//! puts the connection back. A connection that fails is dropped, never reused. A reused
//! connection that turns out to be dead before any reply byte arrived (the server restarted
//! since it was pooled) is retried once on a fresh connection, but only for requests that are
//! safe to repeat (Raft messages, reads): the old server may have acted on a write before it
//! died, so a write's failure is reported, never resent.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::BufReader;
use tokio::net::TcpStream;

use super::frame::{self, FrameError};
use super::{Reply, Request, RpcError};

/// Idle connections kept per server; more may be open while calls are in flight.
const MAX_IDLE_PER_ADDR: usize = 16;
/// How long opening a connection may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// One open connection.
struct Conn {
    /// Buffered for reads; writes go straight through.
    stream: BufReader<TcpStream>,
}

/// Pooled connections to other servers; cheap to clone.
#[derive(Clone, Default)]
pub struct Pool {
    /// Idle connections by `host:port`.
    idle: Arc<Mutex<HashMap<String, Vec<Conn>>>>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool").finish_non_exhaustive()
    }
}

impl Pool {
    /// Sends `req` to `addr` and waits at most `timeout` for the reply.
    pub async fn call(
        &self,
        addr: &str,
        req: &Request,
        timeout: Duration,
    ) -> Result<Reply, RpcError> {
        let reused = self.take(addr);
        let was_reused = reused.is_some();
        let conn = match reused {
            Some(c) => c,
            None => connect(addr).await?,
        };
        match self.exchange(addr, conn, req, timeout).await {
            Err(RpcError::Io { source, .. })
                if was_reused && dead_before_reply(&source) && req.idempotent() =>
            {
                // The first attempt may have been read before the server died: if the retry
                // cannot even connect, the outcome stays unknown (never "not sent").
                let conn = connect(addr).await.map_err(|_| RpcError::Io {
                    addr: addr.to_string(),
                    source,
                })?;
                self.exchange(addr, conn, req, timeout).await
            }
            other => other,
        }
    }

    /// Forgets every idle connection to `addr` (its server is known to be gone).
    pub fn forget(&self, addr: &str) {
        self.idle
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(addr);
    }

    fn take(&self, addr: &str) -> Option<Conn> {
        self.idle
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_mut(addr)
            .and_then(Vec::pop)
    }

    fn put(&self, addr: &str, conn: Conn) {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        let list = idle.entry(addr.to_string()).or_default();
        if list.len() < MAX_IDLE_PER_ADDR {
            list.push(conn);
        }
    }

    async fn exchange(
        &self,
        addr: &str,
        mut conn: Conn,
        req: &Request,
        timeout: Duration,
    ) -> Result<Reply, RpcError> {
        let io = |source| RpcError::Io {
            addr: addr.to_string(),
            source,
        };
        let round = async {
            frame::write(conn.stream.get_mut(), req).await.map_err(io)?;
            frame::read::<_, Reply>(&mut conn.stream).await.map_err(io)
        };
        let reply = match tokio::time::timeout(timeout, round).await {
            Ok(r) => r?,
            Err(_) => {
                return Err(RpcError::Timeout {
                    addr: addr.to_string(),
                    after: timeout,
                })
            }
        };
        if let Reply::Error(reason) = reply {
            return Err(RpcError::Refused {
                addr: addr.to_string(),
                reason,
            });
        }
        self.put(addr, conn);
        Ok(reply)
    }
}

/// Whether a failure on a reused connection means the peer had closed it before our request.
fn dead_before_reply(e: &FrameError) -> bool {
    match e {
        FrameError::Closed => true,
        FrameError::Io(io) => matches!(
            io.kind(),
            std::io::ErrorKind::BrokenPipe
                | std::io::ErrorKind::ConnectionReset
                | std::io::ErrorKind::ConnectionAborted
        ),
        _ => false,
    }
}

async fn connect(addr: &str) -> Result<Conn, RpcError> {
    let err = |source| RpcError::Connect {
        addr: addr.to_string(),
        source,
    };
    let stream = match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr)).await {
        Ok(s) => s.map_err(err)?,
        Err(_) => {
            return Err(err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("no answer within {CONNECT_TIMEOUT:?}"),
            )))
        }
    };
    let _ = stream.set_nodelay(true);
    Ok(Conn {
        stream: BufReader::new(stream),
    })
}
