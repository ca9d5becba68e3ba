//! Just enough HTTP/1.1 for the benchmark client: write a request, read one response with a
//! `Content-Length` body. Kept raw so the client costs the same against every server.

use std::net::SocketAddr;
use std::time::Instant;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Writes all of `buf`.
pub async fn write_all(s: &mut TcpStream, buf: &[u8]) -> Result<(), String> {
    s.write_all(buf).await.map_err(|e| format!("write: {e}"))
}

/// Reads one response; returns its status code and total size in bytes.
pub async fn read_response(s: &mut TcpStream) -> Result<(u16, usize), String> {
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            break i + 4;
        }
        let n = s.read(&mut chunk).await.map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            return Err(format!(
                "closed after {} bytes, before the headers ended",
                buf.len()
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = std::str::from_utf8(&buf[..head_end]).map_err(|_| "non-UTF-8 headers")?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("bad status line in {head:?}"))?;
    let len: usize = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse().ok())
        .ok_or_else(|| format!("no Content-Length in {head:?}"))?;
    while buf.len() < head_end + len {
        let n = s
            .read(&mut chunk)
            .await
            .map_err(|e| format!("read body: {e}"))?;
        if n == 0 {
            return Err("closed in the middle of the body".into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Ok((status, head_end + len))
}

/// Sends `"METHOD /path"` with `body` on a new connection; returns the round trip in ms.
pub async fn one_shot(addr: SocketAddr, line: &str, body: &[u8]) -> Result<f64, String> {
    let t = Instant::now();
    let mut s = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("trigger connect: {e}"))?;
    let head = format!(
        "{line} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nContent-Type: application/json\r\n\r\n",
        body.len()
    );
    write_all(&mut s, head.as_bytes()).await?;
    write_all(&mut s, body).await?;
    let (status, _) = read_response(&mut s).await?;
    if status != 200 {
        return Err(format!("trigger {line:?} answered {status}"));
    }
    Ok(t.elapsed().as_secs_f64() * 1e3)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
