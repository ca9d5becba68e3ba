//! The TCP loop: RFC 1035 length-prefixed messages, answered in order on each connection. At
//! most `MAX_CONNECTIONS` connections are served at once (more are closed at once), and a
//! connection idle for `IDLE` (no complete query, or an answer it does not read) is closed,
//! so slow or silent clients cannot hold slots for long.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use super::handler::{Handler, Transport};

/// Connections served at once.
pub const MAX_CONNECTIONS: usize = 64;
/// A connection with no complete query for this long is closed.
pub const IDLE: Duration = Duration::from_secs(5);

/// Serves `listener` until `stop`.
pub async fn serve(listener: TcpListener, handler: Arc<Handler>, stop: CancellationToken) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let conn = tokio::select! {
            c = listener.accept() => c,
            _ = stop.cancelled() => return,
        };
        let Ok((stream, _)) = conn else {
            // Out of descriptors and the like: pause briefly rather than spin.
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            tracing::debug!("dns: too many tcp connections; closing a new one");
            continue;
        };
        let (handler, stop) = (handler.clone(), stop.clone());
        tokio::spawn(async move {
            tokio::select! {
                _ = connection(stream, &handler) => {}
                _ = stop.cancelled() => {}
            }
            drop(permit);
        });
    }
}

async fn connection(mut stream: TcpStream, handler: &Handler) {
    loop {
        let mut len = [0u8; 2];
        match tokio::time::timeout(IDLE, stream.read_exact(&mut len)).await {
            Ok(Ok(_)) => {}
            _ => return,
        }
        let mut packet = vec![0u8; usize::from(u16::from_be_bytes(len))];
        match tokio::time::timeout(IDLE, stream.read_exact(&mut packet)).await {
            Ok(Ok(_)) => {}
            _ => return,
        }
        let Some(answer) = handler.respond(&packet, Transport::Tcp).await else {
            continue;
        };
        let Ok(n) = u16::try_from(answer.len()) else {
            return;
        };
        let mut out = Vec::with_capacity(answer.len() + 2);
        out.extend_from_slice(&n.to_be_bytes());
        out.extend_from_slice(&answer);
        // A client that stops reading loses its connection (and slot) after IDLE.
        match tokio::time::timeout(IDLE, stream.write_all(&out)).await {
            Ok(Ok(())) => {}
            _ => return,
        }
    }
}
