//! Starts the real `berth` binary on free loopback ports with a temp data dir, and kills it on
//! drop. Tests talk to it with a real HTTP client over a real socket.

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running agent.
pub struct Agent {
    /// The process.
    pub child: Option<Child>,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// Temp dir holding the data dir, config dir and the log.
    pub dir: PathBuf,
    /// Kept so the temp dir lives as long as the agent (None when the caller owns the dir).
    _tmp: Option<tempfile::TempDir>,
}

/// A port nothing listens on right now, for TCP and UDP alike (gossip binds both), and not
/// handed out twice by this test process.
pub fn free_port() -> u16 {
    use std::sync::Mutex;
    static GIVEN: Mutex<Vec<u16>> = Mutex::new(Vec::new());
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let udp_free = std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok();
        let mut given = GIVEN.lock().unwrap();
        if udp_free && !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}

/// A config file holding `contents` in a fresh temp dir (kept while the returned dir lives)
/// and the `-config-file=` flag that loads it.
pub fn config_file(contents: impl AsRef<[u8]>) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.json");
    std::fs::write(&path, contents).unwrap();
    let flag = format!("-config-file={}", path.display());
    (dir, flag)
}

/// Path of the binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_berth")
}

impl Agent {
    /// `berth agent -dev` on free ports.
    pub fn dev() -> Agent {
        Agent::start(&["-dev"])
    }

    /// `berth agent <extra>` on free ports, in a fresh temp dir; waits until it has a leader.
    pub fn start(extra: &[&str]) -> Agent {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let mut a = Agent::start_in(&dir, extra, free_port());
        a._tmp = Some(tmp);
        a
    }

    /// Starts in `dir` (its `log` file collects stdout and stderr) on a given HTTP port.
    pub fn start_in(dir: &Path, extra: &[&str], http_port: u16) -> Agent {
        let child = spawn(dir, extra, http_port);
        let mut a = Agent {
            child: Some(child),
            base: format!("http://127.0.0.1:{http_port}"),
            dir: dir.to_path_buf(),
            _tmp: None,
        };
        a.wait_ready();
        a
    }

    /// A client agent (no -server): ready once its HTTP API answers.
    pub fn start_client(extra: &[&str]) -> Agent {
        let tmp = tempfile::tempdir().unwrap();
        let mut a = Agent::start_client_in(tmp.path(), extra);
        a._tmp = Some(tmp);
        a
    }

    /// A client agent whose log goes to `dir/log`.
    pub fn start_client_in(dir: &Path, extra: &[&str]) -> Agent {
        let port = free_port();
        let child = spawn(dir, extra, port);
        let mut a = Agent {
            child: Some(child),
            base: format!("http://127.0.0.1:{port}"),
            dir: dir.to_path_buf(),
            _tmp: None,
        };
        a.wait_for("/v1/agent/self", |_| true);
        a
    }

    fn wait_ready(&mut self) {
        self.wait_for("/v1/status/leader", |body| body.len() > 2);
    }

    fn wait_for(&mut self, path: &str, ok: impl Fn(&str) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let url = format!("{}{path}", self.base);
        while Instant::now() < deadline {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("agent exited early with {status}; log:\n{}", self.log());
            }
            if let Ok(body) = blocking_get(&url) {
                if ok(&body) {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("agent did not become ready; log:\n{}", self.log());
    }

    /// The agent's combined stdout and stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("log")).unwrap_or_default()
    }

    /// Full URL of an API path.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Sends a signal to the agent.
    pub fn signal(&self, sig: i32) {
        let pid = self.child.as_ref().unwrap().id() as i32;
        // SAFETY-free: libc::kill through the std process id.
        let rc = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(pid.to_string())
            .status()
            .unwrap();
        assert!(rc.success());
    }

    /// Waits up to `limit` for the process to exit; returns its exit code.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<i32> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                return Some(status.code().unwrap_or(-1));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

fn spawn(dir: &Path, extra: &[&str], http_port: u16) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("log"))
        .unwrap();
    let mut args: Vec<String> = vec!["agent".into(), format!("-http-port={http_port}")];
    if !extra.iter().any(|e| e.starts_with("-node=")) {
        args.push("-node=test-node".into());
    }
    args.extend(extra.iter().map(|s| s.to_string()));
    // Containers on this machine are not the test's: no Docker registration unless asked.
    if !extra.iter().any(|e| e.starts_with("-docker")) {
        args.push("-docker=off".into());
    }
    // Ports of later issues must not clash between parallel tests.
    for flag in ["-dns-port", "-server-port", "-serf-lan-port"] {
        if !extra.iter().any(|e| e.starts_with(flag)) {
            args.push(format!("{flag}={}", free_port()));
        }
    }
    Command::new(bin())
        .args(&args)
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap()
}

impl Drop for Agent {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A tiny blocking GET (readiness probing without a runtime).
pub fn blocking_get(url: &str) -> std::io::Result<String> {
    use std::io::Write;
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_at(rest.find('/').unwrap());
    let mut s = std::net::TcpStream::connect(host)?;
    s.set_read_timeout(Some(Duration::from_secs(2)))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    if !out.starts_with("HTTP/1.1 200") {
        return Err(std::io::Error::other(out));
    }
    Ok(out.split("\r\n\r\n").nth(1).unwrap_or("").to_string())
}

/// Runs `berth <args>` to completion; returns (exit code, stdout, stderr).
pub fn run_cli(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(bin()).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A tool the test needs: missing under CI is a failure, elsewhere a skip with a reason.
pub fn have(tool: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found && std::env::var("CI").as_deref() == Ok("true") {
        panic!("{tool} is not installed (scripts/test installs it)");
    }
    if !found {
        eprintln!("skipping: {tool} is not installed");
    }
    found
}
