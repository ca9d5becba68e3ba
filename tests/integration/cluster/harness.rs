//! A cluster of real `berth agent` processes on loopback: servers with `-bootstrap-expect`
//! joining each other by `-retry-join`, client agents joining them, each agent with its own
//! ports and data dir, which survive a kill and restart. The cluster prints every agent's log
//! tail when a test panics, and kills every agent on drop.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::bin;

/// One agent: its fixed ports, data dir and command line; the process when running.
pub struct Node {
    /// `-node` name: `s1`.. for servers, `c1`.. for clients.
    pub name: String,
    /// Whether it runs with `-server`.
    pub server: bool,
    /// HTTP API port.
    pub http: u16,
    /// DNS port (UDP and TCP).
    pub dns: u16,
    /// Server RPC port (the address `/v1/status/leader` names).
    pub rpc: u16,
    /// LAN gossip port (what `-retry-join` points at).
    pub serf: u16,
    /// Its directory: `data/`, `config.json` and `log` (stdout and stderr of every run).
    pub dir: PathBuf,
    /// Everything after `berth`.
    args: Vec<String>,
    child: Option<Child>,
}

impl Node {
    /// `http://127.0.0.1:<http>`.
    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.http)
    }

    /// Full URL of an API path.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base())
    }

    /// `127.0.0.1:<rpc>`, as `/v1/status/leader` and `/v1/status/peers` print it.
    pub fn rpc_addr(&self) -> String {
        format!("127.0.0.1:{}", self.rpc)
    }

    /// Whether the process is running.
    pub fn running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => c.try_wait().unwrap().is_none(),
            None => false,
        }
    }

    /// Starts the agent with its command line (appending to its log).
    pub fn start(&mut self) {
        assert!(!self.running(), "{} is already running", self.name);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("log"))
            .unwrap();
        let child = Command::new(bin())
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
    }

    /// `kill -9`, and reaps it.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Sends `sig` and waits up to `limit` for the exit; kills it if it is still running then.
    /// Returns the exit code (`None`: it had to be killed).
    pub fn stop(&mut self, sig: i32, limit: Duration) -> Option<i32> {
        let c = self.child.as_mut()?;
        // SAFETY: a plain kill(2) on the pid of a child we have not reaped yet.
        unsafe { libc::kill(c.id() as i32, sig) };
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Some(status) = c.try_wait().unwrap() {
                self.child = None;
                return Some(status.code().unwrap_or(-1));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.kill();
        None
    }

    /// The last `lines` lines of its log.
    pub fn log_tail(&self, lines: usize) -> String {
        let log = std::fs::read_to_string(self.dir.join("log")).unwrap_or_default();
        let all: Vec<&str> = log.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

/// How to build a cluster.
#[derive(Clone, Debug)]
pub struct Spec {
    /// Server count; `-bootstrap-expect` is set to it.
    pub servers: usize,
    /// Client agents joining the servers.
    pub clients: usize,
    /// `performance.raft_multiplier` (Consul's fastest timers are 1).
    pub raft_multiplier: u32,
}

impl Spec {
    /// `servers` servers and `clients` clients at `raft_multiplier` 1.
    pub fn new(servers: usize, clients: usize) -> Spec {
        Spec {
            servers,
            clients,
            raft_multiplier: 1,
        }
    }
}

/// A running cluster; every agent is killed on drop.
pub struct Cluster {
    /// Servers first (`s1`..), then clients (`c1`..).
    pub nodes: Vec<Node>,
    /// A client for the tests' own requests (short timeout: a dead agent fails fast).
    pub http: reqwest::Client,
    /// Owns every agent's directory.
    _tmp: tempfile::TempDir,
}

/// A port below the kernel's ephemeral range (32768+), free for TCP and UDP on 127.0.0.1 now,
/// never handed out twice by this process: an agent restarted later must find its ports free,
/// and outgoing connections (ours, the agents') only take ephemeral ports.
pub fn stable_port() -> u16 {
    use rand::Rng;
    use std::sync::Mutex;
    static GIVEN: Mutex<Vec<u16>> = Mutex::new(Vec::new());
    let mut rng = rand::thread_rng();
    loop {
        let port = rng.gen_range(20000..32000u16);
        let mut given = GIVEN.lock().unwrap();
        if given.contains(&port) {
            continue;
        }
        let tcp = std::net::TcpListener::bind(("127.0.0.1", port)).is_ok();
        let udp = std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok();
        if tcp && udp {
            given.push(port);
            return port;
        }
    }
}

impl Cluster {
    /// Starts `servers` servers (bootstrap_expect = `servers`, each retry-joining the others)
    /// and `clients` clients (retry-joining every server); waits until every agent answers
    /// HTTP and the servers agree on a leader.
    pub async fn start(servers: usize, clients: usize) -> Cluster {
        Cluster::start_spec(Spec::new(servers, clients)).await
    }

    /// [`Cluster::start`] with a full spec.
    pub async fn start_spec(spec: Spec) -> Cluster {
        let c = Cluster::create(&spec);
        let mut c = c;
        for n in &mut c.nodes {
            n.start();
        }
        c.wait_up(Duration::from_secs(30)).await;
        let (leader, _) = c.wait_leader(Duration::from_secs(30)).await;
        // Clients are ready once they have found the servers (through gossip) and the leader.
        let want = c.nodes[leader].rpc_addr();
        for i in c.clients() {
            let found = eventually(Duration::from_secs(30), || async {
                c.leader_on(i).await.as_deref() == Some(want.as_str())
            })
            .await;
            assert!(
                found.is_some(),
                "{} did not find the leader",
                c.nodes[i].name
            );
        }
        c
    }

    /// Lays out the nodes (ports, dirs, command lines) without starting any.
    pub fn create(spec: &Spec) -> Cluster {
        let tmp = tempfile::tempdir().unwrap();
        let total = spec.servers + spec.clients;
        let ports: Vec<[u16; 4]> = (0..total)
            .map(|_| [stable_port(), stable_port(), stable_port(), stable_port()])
            .collect();
        let server_serf: Vec<u16> = ports[..spec.servers].iter().map(|p| p[3]).collect();
        let mut nodes = Vec::new();
        for (i, [http, dns, rpc, serf]) in ports.into_iter().enumerate() {
            let server = i < spec.servers;
            let name = if server {
                format!("s{}", i + 1)
            } else {
                format!("c{}", i + 1 - spec.servers)
            };
            let dir = tmp.path().join(&name);
            std::fs::create_dir_all(dir.join("data")).unwrap();
            let config = dir.join("config.json");
            std::fs::write(
                &config,
                format!(
                    r#"{{"performance":{{"raft_multiplier":{}}}}}"#,
                    spec.raft_multiplier
                ),
            )
            .unwrap();
            let mut args = vec![
                "agent".to_string(),
                format!("-node={name}"),
                "-bind=127.0.0.1".into(),
                "-client=127.0.0.1".into(),
                format!("-data-dir={}", dir.join("data").display()),
                format!("-http-port={http}"),
                format!("-dns-port={dns}"),
                format!("-server-port={rpc}"),
                format!("-serf-lan-port={serf}"),
                format!("-config-file={}", config.display()),
                "-retry-interval=1s".into(),
            ];
            if server {
                args.push("-server".into());
                args.push(format!("-bootstrap-expect={}", spec.servers));
            }
            for &s in server_serf.iter().filter(|&&s| s != serf) {
                args.push(format!("-retry-join=127.0.0.1:{s}"));
            }
            nodes.push(Node {
                name,
                server,
                http,
                dns,
                rpc,
                serf,
                dir,
                args,
                child: None,
            });
        }
        Cluster {
            nodes,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(3))
                .no_proxy()
                .build()
                .unwrap(),
            _tmp: tmp,
        }
    }

    /// Indexes of the servers.
    pub fn servers(&self) -> std::ops::Range<usize> {
        0..self.nodes.iter().filter(|n| n.server).count()
    }

    /// Indexes of the clients.
    pub fn clients(&self) -> std::ops::Range<usize> {
        self.servers().end..self.nodes.len()
    }

    /// GET returning (status, body); `None` when the agent cannot be reached.
    pub async fn get(&self, i: usize, path: &str) -> Option<(u16, String)> {
        let r = self.http.get(self.nodes[i].url(path)).send().await.ok()?;
        let status = r.status().as_u16();
        Some((status, r.text().await.ok()?))
    }

    /// GET that must answer 200 with JSON.
    pub async fn get_json(&self, i: usize, path: &str) -> Value {
        match self.get(i, path).await {
            Some((200, body)) => serde_json::from_str(&body).unwrap(),
            other => panic!("GET {path} on {}: {other:?}", self.nodes[i].name),
        }
    }

    /// PUT returning (status, body); `None` when the agent cannot be reached.
    pub async fn put(
        &self,
        i: usize,
        path: &str,
        body: impl Into<reqwest::Body>,
    ) -> Option<(u16, String)> {
        let r = self
            .http
            .put(self.nodes[i].url(path))
            .body(body)
            .send()
            .await
            .ok()?;
        let status = r.status().as_u16();
        Some((status, r.text().await.ok()?))
    }

    /// `PUT /v1/kv/<key>` that must answer `true`.
    pub async fn kv_put(&self, i: usize, key: &str, value: &str) {
        let r = self
            .put(i, &format!("/v1/kv/{key}"), value.to_string())
            .await;
        assert_eq!(
            r.as_ref().map(|(s, b)| (*s, b.trim())),
            Some((200, "true")),
            "PUT {key} on {}",
            self.nodes[i].name
        );
    }

    /// The value of a key (decoded), `None` on 404; panics on anything else.
    pub async fn kv_get(&self, i: usize, key_and_query: &str) -> Option<String> {
        self.kv_read(i, key_and_query)
            .await
            .unwrap_or_else(|e| panic!("GET {key_and_query} on {}: {e}", self.nodes[i].name))
    }

    /// The value of a key (decoded), `Ok(None)` on 404, `Err` on any other answer or none
    /// (for polling).
    pub async fn kv_read(&self, i: usize, key_and_query: &str) -> Result<Option<String>, String> {
        match self.get(i, &format!("/v1/kv/{key_and_query}")).await {
            Some((404, _)) => Ok(None),
            Some((200, body)) => {
                let v: Value = serde_json::from_str(&body).map_err(|e| e.to_string())?;
                Ok(Some(decode_value(&v[0])))
            }
            other => Err(format!("{other:?}")),
        }
    }

    /// Whether a read of the key on node `i` answers `want` now (never panics).
    pub async fn kv_is(&self, i: usize, key_and_query: &str, want: &str) -> bool {
        self.kv_read(i, key_and_query)
            .await
            .ok()
            .flatten()
            .as_deref()
            == Some(want)
    }

    /// What agent `i` says the leader is (`Some("")` when it knows none; `None`: no answer).
    pub async fn leader_on(&self, i: usize) -> Option<String> {
        let (status, body) = self.get(i, "/v1/status/leader").await?;
        if status != 200 {
            return None;
        }
        serde_json::from_str::<String>(&body).ok()
    }

    /// The leader's node index, if every running server names the same one and it is running.
    pub async fn leader(&mut self) -> Option<usize> {
        let mut agreed: Option<String> = None;
        for i in self.servers() {
            if !self.nodes[i].running() {
                continue;
            }
            let l = self.leader_on(i).await?;
            if l.is_empty() || agreed.as_ref().is_some_and(|a| *a != l) {
                return None;
            }
            agreed = Some(l);
        }
        let addr = agreed?;
        let i = self.servers().find(|&i| self.nodes[i].rpc_addr() == addr)?;
        self.nodes[i].running().then_some(i)
    }

    /// Waits until the running servers agree on a running leader; returns it and how long it took.
    pub async fn wait_leader(&mut self, limit: Duration) -> (usize, Duration) {
        let start = Instant::now();
        loop {
            if let Some(l) = self.leader().await {
                return (l, start.elapsed());
            }
            if start.elapsed() > limit {
                panic!("no agreed leader within {limit:?}");
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Waits until every running agent answers `/v1/agent/self`; panics naming an agent that
    /// exited or stays silent.
    pub async fn wait_up(&mut self, limit: Duration) {
        let start = Instant::now();
        for i in 0..self.nodes.len() {
            if self.nodes[i].child.is_none() {
                continue;
            }
            loop {
                if !self.nodes[i].running() {
                    panic!("{} exited during start", self.nodes[i].name);
                }
                if let Some((200, _)) = self.get(i, "/v1/agent/self").await {
                    break;
                }
                if start.elapsed() > limit {
                    panic!(
                        "{} did not answer HTTP within {limit:?}",
                        self.nodes[i].name
                    );
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }

    /// Restarts a stopped node with the same data dir and ports; waits until it answers HTTP.
    pub async fn restart(&mut self, i: usize) {
        self.nodes[i].start();
        self.wait_up(Duration::from_secs(30)).await;
    }
}

/// Polls `f` every 50 ms until it holds or `limit` passes; returns how long it took.
pub async fn eventually<F, Fut>(limit: Duration, mut f: F) -> Option<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        if f().await {
            return Some(start.elapsed());
        }
        if start.elapsed() > limit {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A KV entry's `Value`, decoded from base64 (`""` for null).
pub fn decode_value(entry: &Value) -> String {
    use base64::Engine;
    let Some(b64) = entry["Value"].as_str() else {
        return String::new();
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    String::from_utf8(bytes).unwrap()
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for n in &mut self.nodes {
            n.kill();
        }
        if std::thread::panicking() {
            for n in &self.nodes {
                eprintln!(
                    "----- {} (http {}, rpc {}, serf {}) log tail -----\n{}",
                    n.name,
                    n.http,
                    n.rpc,
                    n.serf,
                    n.log_tail(40)
                );
            }
        }
    }
}
