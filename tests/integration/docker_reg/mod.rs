//! Docker registration against this machine's real engine: containers from a tiny image
//! (the static busybox, `docker import`ed; no registry) land in the catalog as registrator's
//! rules say, follow their containers' lives and health, and nothing stale stays behind
//! after socket cuts, churn or a SIGKILLed Berth.
//!
//! Every agent here registers only containers carrying its lab's label (`-require-label`),
//! so tests running side by side (and other suites' containers) never meet.

mod lifecycle;
mod outage;
mod rules;
mod tls;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::docker::{docker, import_rootfs, must, wait};
use crate::harness::{blocking_get, Agent};

/// Applets linked into the image.
const APPLETS: &[&str] = &[
    "sh", "sleep", "httpd", "test", "touch", "rm", "cat", "echo", "true", "false", "[",
];

/// `sh -c` that runs until stopped and exits 3 on SIGTERM (a "failed" exit for
/// `-deregister on-success`).
pub(crate) const LOOP: &[&str] = &[
    "/bin/sh",
    "-c",
    "trap 'exit 3' TERM; while :; do sleep 0.1; done",
];

/// Builds `tag` from the static busybox with its applets as symlinks, and `/www/index.html`.
pub(crate) fn busybox_image(tag: &str) {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    for d in ["bin", "tmp", "www", "etc"] {
        std::fs::create_dir_all(r.join(d)).unwrap();
    }
    std::fs::copy("/bin/busybox", r.join("bin/busybox"))
        .expect("the static busybox (Debian's busybox-static) must be installed");
    for a in APPLETS {
        std::os::unix::fs::symlink("busybox", r.join("bin").join(a)).unwrap();
    }
    std::fs::write(r.join("www/index.html"), "ok\n").unwrap();
    import_rootfs(r, tag);
}

/// One test's image, label, containers and networks, removed on drop.
pub(crate) struct Lab {
    /// Prefix of every name (unique per test and process).
    pub p: String,
    pub tag: String,
    pub label: String,
    containers: Vec<String>,
    nets: Vec<String>,
}

impl Lab {
    pub fn new(kind: &str) -> Lab {
        let p = format!("b{}{kind}", std::process::id());
        let lab = Lab {
            tag: format!("berth-{kind}:{}", std::process::id()),
            label: format!("berth-lab-{p}"),
            p,
            containers: Vec::new(),
            nets: Vec::new(),
        };
        busybox_image(&lab.tag);
        lab
    }

    /// `docker run -d --name <p>-<name> -l <label>=1 <opts> <image> <cmd>`; the full name.
    pub fn run(&mut self, name: &str, opts: &[String], cmd: &[&str]) -> String {
        let full = format!("{}-{name}", self.p);
        let label = format!("{}=1", self.label);
        let mut args: Vec<&str> = vec!["run", "-d", "--name", &full, "-l", &label];
        args.extend(opts.iter().map(String::as_str));
        args.push(&self.tag);
        args.extend_from_slice(cmd);
        must(&args);
        self.containers.push(full.clone());
        full
    }

    /// A user network of the lab's.
    pub fn network(&mut self, name: &str) -> String {
        let full = format!("{}-{name}", self.p);
        must(&["network", "create", &full]);
        self.nets.push(full.clone());
        full
    }

    /// Flags that make an agent register this lab's containers from the real engine.
    pub fn flags(&self, endpoint: &str) -> Vec<String> {
        vec![
            format!("-docker={endpoint}"),
            format!("-require-label={}", self.label),
        ]
    }

    /// A `-dev` agent registering this lab's containers, plus `extra` flags.
    pub fn agent(&self, extra: &[&str]) -> Agent {
        let mut args = vec!["-dev".to_string()];
        args.extend(self.flags("unix:///var/run/docker.sock"));
        args.extend(extra.iter().map(|s| s.to_string()));
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        Agent::start(&refs)
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for c in &self.containers {
            let _ = docker(&["rm", "-f", c]);
        }
        for n in &self.nets {
            let _ = docker(&["network", "rm", n]);
        }
        let _ = docker(&["rmi", "-f", &self.tag]);
    }
}

/// `Lab::run` options for a service `name` on a port published on loopback, plus `more`.
pub(crate) fn service(name: &str, more: &[&str]) -> Vec<String> {
    let mut v = opts(&["-p", "127.0.0.1::80", "-e", &format!("SERVICE_NAME={name}")]);
    v.extend(more.iter().map(|s| s.to_string()));
    v
}

/// Owned strings for `Lab::run` options.
pub(crate) fn opts(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn get_json(url: &str) -> Value {
    blocking_get(url)
        .ok()
        .and_then(|b| serde_json::from_str(&b).ok())
        .unwrap_or(Value::Null)
}

/// `/v1/catalog/service/<name>` entries.
pub(crate) fn catalog(a: &Agent, name: &str) -> Vec<Value> {
    match get_json(&a.url(&format!("/v1/catalog/service/{name}"))) {
        Value::Array(v) => v,
        _ => Vec::new(),
    }
}

/// How many instances `/v1/health/service/<name>?passing` returns.
pub(crate) fn passing(a: &Agent, name: &str) -> usize {
    match get_json(&a.url(&format!("/v1/health/service/{name}?passing"))) {
        Value::Array(v) => v.len(),
        _ => usize::MAX,
    }
}

/// Catalog service IDs on the agent's node that came from Docker, with their entries.
pub(crate) fn docker_services(a: &Agent) -> BTreeMap<String, Value> {
    let node = get_json(&a.url("/v1/agent/self"))["Config"]["NodeName"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let v = get_json(&a.url(&format!("/v1/catalog/node/{node}")));
    let mut out = BTreeMap::new();
    for (id, s) in v["Services"].as_object().into_iter().flatten() {
        if s["Meta"].get("berth-docker-container").is_some() {
            out.insert(id.clone(), s.clone());
        }
    }
    out
}

/// `/v1/agent/self`'s `Docker` object.
pub(crate) fn docker_state(a: &Agent) -> Value {
    get_json(&a.url("/v1/agent/self"))["Docker"].clone()
}

/// The host name registrator's IDs start with.
pub(crate) fn host() -> String {
    hostname::get().unwrap().to_string_lossy().into_owned()
}

/// The host port Docker published `port` (`80/tcp`) of `c` on.
pub(crate) fn host_port(c: &str, port: &str) -> u16 {
    let out = must(&["port", c, port]);
    out.lines()
        .next()
        .and_then(|l| l.rsplit(':').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no host port for {c} {port}: {out}"))
}

/// Waits up to 20 s for `f`, with the agent's log on failure.
pub(crate) fn eventually(a: &Agent, what: &str, f: impl FnMut() -> bool) {
    assert!(
        wait(Duration::from_secs(20), f),
        "{what}; agent log:\n{}",
        a.log()
    );
}

/// A unix-socket proxy to the engine that a test can cut (connections dropped, socket gone)
/// and bring back.
/// Copies `from` to `to`, sleeping `hold` before passing on a chunk that asks for `/events`.
fn pump(
    mut from: std::os::unix::net::UnixStream,
    mut to: std::os::unix::net::UnixStream,
    hold: Duration,
) {
    use std::io::{Read, Write};
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if !hold.is_zero() && buf[..n].windows(8).any(|w| w == b"/events?") {
            std::thread::sleep(hold);
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(std::net::Shutdown::Write);
}

/// A unix-socket proxy to the engine that a test can cut (and that can hold event requests).
pub(crate) struct Proxy {
    path: std::path::PathBuf,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    conns: std::sync::Arc<std::sync::Mutex<Vec<std::os::unix::net::UnixStream>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Proxy {
    pub fn start(path: &Path) -> Proxy {
        Proxy::start_delaying_events(path, Duration::ZERO)
    }

    /// A proxy that holds each `/events` request for `delay` before passing it on, which
    /// opens the window between Berth's container list and its event subscription.
    pub fn start_delaying_events(path: &Path, delay: Duration) -> Proxy {
        use std::os::unix::net::{UnixListener, UnixStream};
        let _ = std::fs::remove_file(path);
        let listener = UnixListener::bind(path).unwrap();
        listener.set_nonblocking(true).unwrap();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let conns = std::sync::Arc::new(std::sync::Mutex::new(Vec::<UnixStream>::new()));
        let (s2, c2) = (stop.clone(), conns.clone());
        let thread = std::thread::spawn(move || {
            while !s2.load(std::sync::atomic::Ordering::SeqCst) {
                let Ok((down, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                };
                down.set_nonblocking(false).unwrap();
                let Ok(up) = UnixStream::connect("/var/run/docker.sock") else {
                    continue;
                };
                let mut list = c2.lock().unwrap();
                list.push(down.try_clone().unwrap());
                list.push(up.try_clone().unwrap());
                for (i, (from, to)) in [
                    (down.try_clone().unwrap(), up.try_clone().unwrap()),
                    (up, down),
                ]
                .into_iter()
                .enumerate()
                {
                    // Only requests (downstream to upstream) are held.
                    let hold = if i == 0 { delay } else { Duration::ZERO };
                    std::thread::spawn(move || pump(from, to, hold));
                }
            }
        });
        Proxy {
            path: path.to_path_buf(),
            stop,
            conns,
            thread: Some(thread),
        }
    }

    /// Stops accepting, drops every connection and removes the socket.
    pub fn cut(mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
        for c in self.conns.lock().unwrap().drain(..) {
            let _ = c.shutdown(std::net::Shutdown::Both);
        }
        let _ = std::fs::remove_file(&self.path);
    }
}
