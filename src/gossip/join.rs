//! The TCP join handshake on the gossip port, like serf's push/pull: the joiner sends its
//! metadata, the peer answers with its member list or a refusal. Frames are sealed like packets.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};

use super::frame::{
    read_frame, read_frame_limited, write_frame, Crypto, OpenError, KEY_MISMATCH, MAX_JOIN_REQUEST,
};
use super::runner::Command;
use super::wire::{JoinReply, JoinRequest, Meta, PROTOCOL_VERSION};
use super::GossipError;

/// Bound on one handshake, both sides, so a silent peer cannot hold a join or a connection task.
pub(crate) const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// Consul's Serf LAN port, used when `join` is given a bare host.
pub const DEFAULT_PORT: u16 = 8301;

/// Peer side: answer one join connection.
pub(crate) async fn serve(
    mut stream: TcpStream,
    from: SocketAddr,
    crypto: Arc<Crypto>,
    tx: mpsc::Sender<Command>,
) {
    let work = async {
        let frame = read_frame_limited(&mut stream, MAX_JOIN_REQUEST)
            .await
            .ok()?;
        let pt = match crypto.open(&frame) {
            Ok(pt) => pt,
            Err(OpenError::Decrypt) | Err(OpenError::Refused) => {
                tracing::error!(
                    "gossip: failed to decrypt join request from {from}: check the encrypt key"
                );
                let _ = write_frame(&mut stream, &[KEY_MISMATCH]).await;
                return None;
            }
        };
        let req: JoinRequest = serde_json::from_slice(&pt).ok()?;
        let (reply, rx) = oneshot::channel();
        tx.send(Command::RemoteJoin { req, reply }).await.ok()?;
        let answer = rx.await.ok()?;
        let body = serde_json::to_vec(&answer).ok()?;
        write_frame(&mut stream, &crypto.seal(&body)).await.ok()
    };
    let _ = tokio::time::timeout(HANDSHAKE_TIMEOUT, work).await;
}

/// Joiner side: handshake with one address; on success the task announces to the peer.
pub(crate) async fn join_one(
    addr: &str,
    me: Meta,
    crypto: &Crypto,
    tx: &mpsc::Sender<Command>,
) -> Result<(), GossipError> {
    let target = resolve(addr).await?;
    let failed = |why: String| GossipError::JoinFailed(format!("{addr}: {why}"));
    let exchange = async {
        let mut stream = TcpStream::connect(target)
            .await
            .map_err(|e| failed(e.to_string()))?;
        let req = JoinRequest {
            protocol: PROTOCOL_VERSION,
            meta: me,
        };
        let body = serde_json::to_vec(&req).map_err(|e| failed(e.to_string()))?;
        write_frame(&mut stream, &crypto.seal(&body))
            .await
            .map_err(|e| failed(e.to_string()))?;
        read_frame(&mut stream)
            .await
            .map_err(|e| failed(e.to_string()))
    };
    let frame = tokio::time::timeout(HANDSHAKE_TIMEOUT, exchange)
        .await
        .map_err(|_| failed("handshake timed out".into()))??;
    if frame.first() == Some(&KEY_MISMATCH) {
        tracing::error!(
            "gossip: {target} failed to decrypt our join request: check the encrypt key"
        );
        return Err(GossipError::KeyMismatch(target.to_string()));
    }
    let pt = crypto.open(&frame).map_err(|_| {
        tracing::error!(
            "gossip: failed to decrypt join reply from {target}: check the encrypt key"
        );
        GossipError::KeyMismatch(target.to_string())
    })?;
    let reply: JoinReply = serde_json::from_slice(&pt).map_err(|e| failed(e.to_string()))?;
    match reply {
        JoinReply::Accept { peer, members } => tx
            .send(Command::Joined { peer, members })
            .await
            .map_err(|_| GossipError::Stopped),
        JoinReply::Refuse {
            name_conflict: true,
            reason,
        } => {
            tracing::error!("gossip: {target} refused our join: {reason}");
            Err(GossipError::NameConflict(reason))
        }
        JoinReply::Refuse { reason, .. } => Err(failed(reason)),
    }
}

/// "host:port" or "host" (port 8301) to one socket address.
async fn resolve(addr: &str) -> Result<SocketAddr, GossipError> {
    if let Ok(sa) = addr.parse::<SocketAddr>() {
        return Ok(sa);
    }
    let with_port = match addr.parse::<std::net::IpAddr>() {
        Ok(ip) => SocketAddr::new(ip, DEFAULT_PORT).to_string(),
        Err(_) if addr.contains(':') => addr.to_string(),
        Err(_) => format!("{addr}:{DEFAULT_PORT}"),
    };
    let mut found = tokio::net::lookup_host(&with_port)
        .await
        .map_err(|e| GossipError::JoinFailed(format!("{addr}: {e}")))?;
    found
        .next()
        .ok_or_else(|| GossipError::JoinFailed(format!("{addr}: no address")))
}
