//! Log lines to the local syslog socket (`/dev/log`) for `enable_syslog`, framed as
//! `<PRI>berth[pid]: message` (RFC 3164 without the timestamp, which the daemon adds).
//!
//! Written here rather than through libc's syslog(3) (or a crate over it) because that call
//! blocks when the daemon stops reading: a unix datagram queue holds about ten messages, so
//! a stalled syslogd would stall every task that logs. This socket is non-blocking and a line
//! that does not fit is dropped; a daemon that restarted is reconnected on the next line.

use std::io::{self, Write};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use tracing::{Level, Metadata};
use tracing_subscriber::fmt::MakeWriter;

/// syslog facility codes by the names `config::SYSLOG_FACILITIES` holds.
pub fn facility_code(name: &str) -> u8 {
    match name {
        "KERN" => 0,
        "USER" => 1,
        "MAIL" => 2,
        "DAEMON" => 3,
        "AUTH" => 4,
        "SYSLOG" => 5,
        "LPR" => 6,
        "NEWS" => 7,
        "UUCP" => 8,
        "CRON" => 9,
        "AUTHPRIV" => 10,
        "FTP" => 11,
        other => other
            .strip_prefix("LOCAL")
            .and_then(|n| n.parse::<u8>().ok())
            .filter(|n| *n <= 7)
            .map_or(16, |n| 16 + n),
    }
}

/// A connection to the syslog socket; hands tracing one `Line` per event.
pub struct Syslog {
    path: PathBuf,
    facility: u8,
    pid: u32,
    sock: Mutex<Option<UnixDatagram>>,
}

impl Syslog {
    /// Connects to the socket at `path` (an error when none listens there).
    pub fn connect(path: &Path, facility: u8) -> io::Result<Syslog> {
        let sock = open(path)?;
        Ok(Syslog {
            path: path.to_path_buf(),
            facility,
            pid: std::process::id(),
            sock: Mutex::new(Some(sock)),
        })
    }

    fn send(&self, severity: u8, msg: &[u8]) {
        let mut frame =
            format!("<{}>berth[{}]: ", self.facility * 8 + severity, self.pid).into_bytes();
        frame.extend_from_slice(msg.strip_suffix(b"\n").unwrap_or(msg));
        let mut sock = self.sock.lock().unwrap_or_else(|p| p.into_inner());
        for _ in 0..2 {
            if sock.is_none() {
                *sock = open(&self.path).ok();
            }
            let Some(s) = sock.as_ref() else { return };
            match s.send(&frame) {
                Ok(_) => return,
                // Full queue: drop the line rather than wait on the daemon.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                // The daemon went away (or restarted): reconnect once.
                Err(_) => *sock = None,
            }
        }
    }
}

fn open(path: &Path) -> io::Result<UnixDatagram> {
    let sock = UnixDatagram::unbound()?;
    sock.connect(path)?;
    sock.set_nonblocking(true)?;
    Ok(sock)
}

/// One event's text, sent as one datagram when tracing drops it.
pub struct Line<'a> {
    sink: &'a Syslog,
    severity: u8,
    buf: Vec<u8>,
}

impl Write for Line<'_> {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(b);
        Ok(b.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for Line<'_> {
    fn drop(&mut self) {
        if !self.buf.is_empty() {
            self.sink.send(self.severity, &self.buf);
        }
    }
}

impl<'a> MakeWriter<'a> for Syslog {
    type Writer = Line<'a>;

    fn make_writer(&'a self) -> Line<'a> {
        self.line(Level::INFO)
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> Line<'a> {
        self.line(*meta.level())
    }
}

impl Syslog {
    fn line(&self, level: Level) -> Line<'_> {
        let severity = match level {
            Level::ERROR => 3,
            Level::WARN => 4,
            Level::INFO => 6,
            _ => 7,
        };
        Line {
            sink: self,
            severity,
            buf: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facilities_map_to_their_codes() {
        assert_eq!(facility_code("KERN"), 0);
        assert_eq!(facility_code("DAEMON"), 3);
        assert_eq!(facility_code("LOCAL0"), 16);
        assert_eq!(facility_code("LOCAL7"), 23);
    }

    #[test]
    fn lines_are_framed_and_a_full_queue_drops_instead_of_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let rx = UnixDatagram::bind(&path).unwrap();
        let s = Syslog::connect(&path, facility_code("LOCAL0")).unwrap();
        {
            let mut l = s.line(Level::WARN);
            l.write_all(b"agent: hello: k=v\n").unwrap();
        }
        let mut buf = [0u8; 256];
        let n = rx.recv(&mut buf).unwrap();
        let want = format!("<132>berth[{}]: agent: hello: k=v", std::process::id());
        assert_eq!(std::str::from_utf8(&buf[..n]).unwrap(), want);
        // Nobody reads: the queue fills and later lines are dropped, not waited on.
        let start = std::time::Instant::now();
        for _ in 0..1000 {
            let mut l = s.line(Level::INFO);
            l.write_all(b"x").unwrap();
        }
        assert!(start.elapsed() < std::time::Duration::from_secs(2));
        // The daemon restarts at the same path: the next line reconnects.
        drop(rx);
        std::fs::remove_file(&path).unwrap();
        let rx = UnixDatagram::bind(&path).unwrap();
        {
            let mut l = s.line(Level::ERROR);
            l.write_all(b"after restart").unwrap();
        }
        rx.set_read_timeout(Some(std::time::Duration::from_secs(2)))
            .unwrap();
        let n = rx.recv(&mut buf).unwrap();
        assert!(std::str::from_utf8(&buf[..n])
            .unwrap()
            .ends_with("after restart"));
    }
}
