//! Server RPC on `ports.server` (8300): one framed, versioned protocol for Raft traffic and
//! for the requests that clients and followers forward to a server or the leader.
//!
//! - `frame.rs`: the wire format: `[u32 length][u8 version][JSON body]`, capped in size.
//! - `message.rs`: the closed `Request` / `Reply` enums every frame carries.
//! - `pool.rs`: the caller's side: pooled connections per address, reconnect on failure.
//! - `server.rs`: the listener: one task per connection, each request handed to a `Service`.
//!
//! Architecture Invariant: nothing here parses HTTP, interprets a `Command`, or touches the
//! catalog or Raft; requests are carried to a `Service` and replies carried back.

mod frame;
mod message;
mod pool;
mod server;

pub use frame::{FrameError, MAX_FRAME, PROTOCOL_VERSION};
pub use message::{ForwardedHttp, ForwardedResponse, NodeState, Reply, Request};
pub use pool::Pool;
pub use server::{serve, Service};

use std::time::Duration;

/// Why a call to another server failed.
#[derive(Debug, thiserror::Error)]
pub enum RpcError {
    /// No connection could be opened (refused, unreachable, timed out).
    #[error("rpc: cannot connect to {addr}: {source}")]
    Connect {
        /// The server's RPC address.
        addr: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The connection broke while the request was in flight; its outcome is unknown.
    #[error("rpc: connection to {addr} failed: {source}")]
    Io {
        /// The server's RPC address.
        addr: String,
        /// What broke.
        source: FrameError,
    },
    /// No reply within the deadline; the outcome is unknown.
    #[error("rpc: no reply from {addr} within {after:?}")]
    Timeout {
        /// The server's RPC address.
        addr: String,
        /// The deadline that passed.
        after: Duration,
    },
    /// The server refused the request at the protocol level (unknown version, bad frame).
    #[error("rpc: {addr} refused the request: {reason}")]
    Refused {
        /// The server's RPC address.
        addr: String,
        /// The server's reason.
        reason: String,
    },
    /// The reply was not the kind the request expects.
    #[error("rpc: {addr} sent an unexpected reply to {request}")]
    UnexpectedReply {
        /// The server's RPC address.
        addr: String,
        /// The request's kind.
        request: &'static str,
    },
}

impl RpcError {
    /// Whether the server surely did not act on the request (safe to send elsewhere).
    pub fn never_sent(&self) -> bool {
        // A refusal is a protocol-level answer: the request was not acted on.
        matches!(self, RpcError::Connect { .. } | RpcError::Refused { .. })
    }

    /// Whether another server should be tried for a read: the request never arrived, or the
    /// connection broke under it (a server that went away). A timeout is not retried: the
    /// next server would make the caller wait that long again.
    pub fn retry_read(&self) -> bool {
        self.never_sent() || matches!(self, RpcError::Io { .. })
    }
}
