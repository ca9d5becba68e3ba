//! TCP and UDP checks. TCP: passing when a connection opens. UDP (Consul's rule): a datagram
//! is sent; an answer or silence until the timeout is passing, an ICMP "port unreachable"
//! (seen as a refused read) is critical.

use std::time::Duration;

use tokio::net::{TcpStream, UdpSocket};

use super::Outcome;

/// One TCP connect to `addr` (`host:port`).
pub async fn tcp(addr: &str, timeout: Duration) -> Outcome {
    match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
        Ok(Ok(_)) => Outcome::passing(format!("TCP connect {addr}: Success")),
        Ok(Err(e)) => Outcome::critical(format!("dial tcp {addr}: {e}")),
        Err(_) => Outcome::critical(format!("dial tcp {addr}: i/o timeout")),
    }
}

/// One UDP probe of `addr` (`host:port`).
pub async fn udp(addr: &str, timeout: Duration) -> Outcome {
    let target = match tokio::net::lookup_host(addr).await.map(|mut a| a.next()) {
        Ok(Some(a)) => a,
        Ok(None) | Err(_) => return Outcome::critical(format!("Failed to connect to {addr}")),
    };
    let local = if target.is_ipv4() {
        "0.0.0.0:0"
    } else {
        "[::]:0"
    };
    let sock = match UdpSocket::bind(local).await {
        Ok(s) => s,
        Err(e) => return Outcome::critical(format!("Failed to connect to {addr}: {e}")),
    };
    if sock.connect(target).await.is_err() {
        return Outcome::critical(format!("Failed to connect to {addr}"));
    }
    if !matches!(sock.send(b"data").await, Ok(n) if n > 0) {
        return Outcome::critical(format!("Failed to send data to {addr}"));
    }
    let mut buf = [0u8; 1024];
    match tokio::time::timeout(timeout, sock.recv(&mut buf)).await {
        Ok(Ok(_)) | Err(_) => Outcome::passing(format!("UDP connect {addr}: Success")),
        Ok(Err(e)) => Outcome::critical(format!("Failed to read from {addr}: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Health;

    #[tokio::test]
    async fn tcp_follows_the_listener() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap().to_string();
        let up = tcp(&addr, Duration::from_secs(2)).await;
        assert_eq!(up.status, Health::Passing, "{}", up.output);
        assert_eq!(up.output, format!("TCP connect {addr}: Success"));
        drop(l);
        let down = tcp(&addr, Duration::from_secs(2)).await;
        assert_eq!(down.status, Health::Critical);
        assert!(
            down.output.starts_with(&format!("dial tcp {addr}: ")),
            "{}",
            down.output
        );
    }

    #[tokio::test]
    async fn udp_open_port_passes_and_closed_port_fails() {
        let open = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = open.local_addr().unwrap().to_string();
        let up = udp(&addr, Duration::from_millis(300)).await;
        assert_eq!(up.status, Health::Passing, "{}", up.output);
        let mut buf = [0u8; 16];
        let (n, _) = open.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"data");
        drop(open);
        let down = udp(&addr, Duration::from_secs(2)).await;
        assert_eq!(down.status, Health::Critical, "{}", down.output);
    }
}
