//! Recursion for names outside our domains (Consul's `recursors`): each recursor in order
//! (the `sequential` strategy, or a random order with `random`), each given `recursor_timeout`; a truncated UDP answer is asked
//! again over TCP; an answer other than NOERROR or NXDOMAIN moves on to the next recursor. When
//! all fail the caller answers SERVFAIL.

use std::net::SocketAddr;
use std::time::Duration;

use hickory_proto::op::{Message, ResponseCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

/// The upstream servers and how long each may take.
#[derive(Debug, Clone)]
pub struct Recursors {
    /// `ip:port` of each recursor, in the order they are tried.
    pub addrs: Vec<SocketAddr>,
    /// `dns_config.recursor_timeout` (Consul: 2 s).
    pub timeout: Duration,
    /// `recursor_strategy = "random"`: a fresh random order for every query.
    pub random: bool,
}

impl Recursors {
    /// The first usable answer to `query` (the client's raw packet), or `None`.
    pub async fn exchange(&self, query: &[u8]) -> Option<Message> {
        let mut order = self.addrs.clone();
        if self.random {
            use rand::seq::SliceRandom;
            order.shuffle(&mut rand::thread_rng());
        }
        for addr in &order {
            let answer = tokio::time::timeout(self.timeout, ask(*addr, query)).await;
            match answer {
                Ok(Some(msg))
                    if matches!(
                        msg.metadata.response_code,
                        ResponseCode::NoError | ResponseCode::NXDomain
                    ) =>
                {
                    return Some(msg)
                }
                Ok(_) | Err(_) => {
                    tracing::debug!(recursor = %addr, "dns: recursor failed; trying the next");
                }
            }
        }
        None
    }
}

/// Parses `ip` or `ip:port` (port 53 by default), as `recursors` entries are written.
pub fn parse_addr(s: &str) -> Option<SocketAddr> {
    s.parse::<SocketAddr>().ok().or_else(|| {
        s.parse::<std::net::IpAddr>()
            .ok()
            .map(|ip| SocketAddr::new(ip, 53))
    })
}

async fn ask(addr: SocketAddr, query: &[u8]) -> Option<Message> {
    let msg = udp(addr, query).await?;
    if msg.metadata.truncation {
        return tcp(addr, query).await;
    }
    Some(msg)
}

async fn udp(addr: SocketAddr, query: &[u8]) -> Option<Message> {
    let local = if addr.is_ipv4() {
        "0.0.0.0:0"
    } else {
        "[::]:0"
    };
    let sock = UdpSocket::bind(local).await.ok()?;
    sock.connect(addr).await.ok()?;
    sock.send(query).await.ok()?;
    let mut buf = vec![0u8; 65535];
    loop {
        let n = sock.recv(&mut buf).await.ok()?;
        // Only the answer to our query (same ID) counts.
        if n >= 2 && query.len() >= 2 && buf[..2] == query[..2] {
            return Message::from_vec(&buf[..n]).ok();
        }
    }
}

async fn tcp(addr: SocketAddr, query: &[u8]) -> Option<Message> {
    let mut stream = TcpStream::connect(addr).await.ok()?;
    let len = u16::try_from(query.len()).ok()?;
    stream.write_all(&len.to_be_bytes()).await.ok()?;
    stream.write_all(query).await.ok()?;
    let mut len = [0u8; 2];
    stream.read_exact(&mut len).await.ok()?;
    let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
    stream.read_exact(&mut buf).await.ok()?;
    Message::from_vec(&buf).ok()
}
