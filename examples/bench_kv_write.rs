//! KV write load and leader-failover timing for `bench/raft.sh`, against Berth or etcd 3.4.
//!
//! Why one tool for both: the two systems must see the same workload from the same client.
//! Berth is driven through its HTTP API (`PUT /v1/kv/<key>`, answer `true`), etcd through its
//! v3 JSON gateway (`POST /v3/kv/put {"key":b64,"value":b64}`), which is etcd's HTTP path; both
//! are HTTP/1.1 keep-alive requests from the same client code, so the comparison is of the
//! servers, not of client libraries. (etcd's gRPC path would skip the gateway's JSON and
//! proxying cost; `etcdctl check perf` measures that path and the script can run it too.)
//!
//! Subcommands (each prints one `key=value ...` line on stdout):
//! - `load --target berth|etcd --url U --concurrency N [--secs 10] [--warmup-s 1]
//!   [--value-size 1024] [--keys 1000]`: N workers, each with its own connection, write
//!   1 KiB values to `bench/<worker>/<n % keys>` back to back; reports writes/s and latency
//!   percentiles of the measured window (after the warm-up).
//! - `leader --target berth|etcd --urls U1,U2,..`: the index of the leader in `--urls`, once
//!   every URL names the same one (waits up to `--timeout-s`, default 30).
//! - `failover --target berth|etcd --urls U1,.. --kill-pid P [--timeout-s 30]`: SIGKILLs P,
//!   then writes through every URL in `--urls` (the survivors) in parallel, 1 s per attempt,
//!   until one write succeeds; reports the time from the kill to that answer.
//!
//! Loopback URLs only.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::Value;

/// Parsed `--key value` flags (every flag takes a value).
struct Flags(BTreeMap<String, String>);

impl Flags {
    fn parse(args: impl Iterator<Item = String>) -> Result<Flags, String> {
        let mut m = BTreeMap::new();
        let mut it = args;
        while let Some(k) = it.next() {
            let key = k
                .strip_prefix("--")
                .ok_or_else(|| format!("unexpected argument {k:?}"))?;
            let v = it.next().ok_or_else(|| format!("--{key} needs a value"))?;
            m.insert(key.to_string(), v);
        }
        Ok(Flags(m))
    }

    fn req(&self, k: &str) -> Result<&str, String> {
        self.0
            .get(k)
            .map(String::as_str)
            .ok_or_else(|| format!("--{k} is required"))
    }

    fn num<T: std::str::FromStr>(&self, k: &str, default: T) -> Result<T, String> {
        match self.0.get(k) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|_| format!("--{k}: bad number {v:?}")),
        }
    }

    fn target(&self) -> Result<Target, String> {
        match self.req("target")? {
            "berth" => Ok(Target::Berth),
            "etcd" => Ok(Target::Etcd),
            other => Err(format!("--target must be berth or etcd, got {other:?}")),
        }
    }

    fn urls(&self, k: &str) -> Result<Vec<String>, String> {
        let u: Vec<String> = self
            .req(k)?
            .split(',')
            .filter(|s| !s.is_empty())
            .map(|s| s.trim_end_matches('/').to_string())
            .collect();
        if u.is_empty() {
            return Err(format!("--{k} is empty"));
        }
        if let Some(bad) = u.iter().find(|s| !s.starts_with("http://127.0.0.")) {
            return Err(format!(
                "only loopback 127.0.0.x URLs are allowed, got {bad}"
            ));
        }
        Ok(u)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Target {
    Berth,
    Etcd,
}

fn main() {
    let mut args = std::env::args().skip(1);
    let cmd = args.next().unwrap_or_default();
    let flags = match Flags::parse(args) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("bench_kv_write: {e}");
            std::process::exit(2);
        }
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| {
            eprintln!("bench_kv_write: cannot start the runtime: {e}");
            std::process::exit(1)
        });
    let res = rt.block_on(async {
        match cmd.as_str() {
            "load" => load(&flags).await,
            "leader" => leader(&flags).await,
            "failover" => failover(&flags).await,
            _ => Err(format!(
                "unknown subcommand {cmd:?} (load, leader, failover)"
            )),
        }
    });
    if let Err(e) = res {
        eprintln!("bench_kv_write: {e}");
        std::process::exit(1);
    }
}

/// A keep-alive client; `conns` idle connections are kept per host.
fn client(timeout: Duration, conns: usize) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .timeout(timeout)
        .pool_max_idle_per_host(conns)
        .no_proxy()
        .tcp_nodelay(true)
        .build()
        .map_err(|e| format!("http client: {e}"))
}

/// One write of `value` to `key`; `Ok` only when the server acknowledged it.
async fn put(
    c: &reqwest::Client,
    t: Target,
    url: &str,
    key: &str,
    value: &[u8],
) -> Result<(), String> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let resp = match t {
        Target::Berth => {
            c.put(format!("{url}/v1/kv/{key}"))
                .body(value.to_vec())
                .send()
                .await
        }
        Target::Etcd => {
            let body = format!(
                r#"{{"key":"{}","value":"{}"}}"#,
                b64.encode(key),
                b64.encode(value)
            );
            c.post(format!("{url}/v3/kv/put")).body(body).send().await
        }
    }
    .map_err(|e| format!("{e}"))?;
    let status = resp.status();
    let body = resp.text().await.map_err(|e| format!("{e}"))?;
    let ok = status.is_success()
        && match t {
            Target::Berth => body.trim() == "true",
            // A put answers {"header":{...}}; an error answers {"error":..,"code":..}.
            Target::Etcd => body.contains("\"header\"") && !body.contains("\"error\""),
        };
    if ok {
        Ok(())
    } else {
        Err(format!("{status}: {}", body.trim()))
    }
}

/// Nearest-rank percentile of sorted samples.
fn pct(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1e3)
}

async fn load(f: &Flags) -> Result<(), String> {
    let t = f.target()?;
    let url = f.urls("url")?.remove(0);
    let n: usize = f.num("concurrency", 1)?;
    let secs: f64 = f.num("secs", 10.0)?;
    let warmup: f64 = f.num("warmup-s", 1.0)?;
    let size: usize = f.num("value-size", 1024)?;
    let keys: usize = f.num("keys", 1000)?;
    let c = client(Duration::from_secs(10), n)?;
    let value: Arc<[u8]> = Arc::from(vec![b'v'; size]);
    let start = Instant::now();
    let measure_from = start + Duration::from_secs_f64(warmup);
    let end = measure_from + Duration::from_secs_f64(secs);
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for w in 0..n {
        let (c, url, value, stop) = (c.clone(), url.clone(), value.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = Vec::new();
            let mut i = 0usize;
            while !stop.load(Ordering::Relaxed) {
                let key = format!("bench/{w}/{}", i % keys);
                i += 1;
                let t0 = Instant::now();
                let r = put(&c, t, &url, &key, &value).await;
                let t1 = Instant::now();
                if t0 >= measure_from && t1 <= end {
                    match r {
                        Ok(()) => lat.push(t1 - t0),
                        Err(e) => errors.push(e),
                    }
                }
                if t1 >= end {
                    break;
                }
            }
            (lat, errors)
        }));
    }
    tokio::time::sleep_until(end.into()).await;
    stop.store(true, Ordering::Relaxed);
    let mut lat = Vec::new();
    let mut errors = Vec::new();
    for task in tasks {
        let (l, e) = task.await.map_err(|e| e.to_string())?;
        lat.extend(l);
        errors.extend(e);
    }
    lat.sort();
    let rate = lat.len() as f64 / secs;
    println!(
        "target={} concurrency={n} secs={secs} writes={} writes_per_s={rate:.0} p50_ms={} p99_ms={} max_ms={} errors={}{}",
        if t == Target::Berth { "berth" } else { "etcd" },
        lat.len(),
        ms(pct(&lat, 50.0)),
        ms(pct(&lat, 99.0)),
        ms(lat.last().copied().unwrap_or_default()),
        errors.len(),
        errors
            .first()
            .map(|e| format!(" first_error={:?}", e))
            .unwrap_or_default()
    );
    Ok(())
}

/// Sends `req` and decodes its JSON answer; `None` on any failure (the caller polls).
async fn json_of<T: serde::de::DeserializeOwned>(req: reqwest::RequestBuilder) -> Option<T> {
    req.send().await.ok()?.json().await.ok()
}

/// Who `url` says leads: Berth's leader RPC address, or etcd's leader member id (with the
/// answering member's own id).
async fn leader_of(c: &reqwest::Client, t: Target, url: &str) -> Option<(String, String)> {
    match t {
        Target::Berth => {
            let l: String = json_of(c.get(format!("{url}/v1/status/leader"))).await?;
            let me: Value = json_of(c.get(format!("{url}/v1/agent/self"))).await?;
            // The leader itself says so in its stats; a follower is "not me".
            let own = match me.pointer("/Stats/consul/leader").and_then(Value::as_str) {
                Some("true") => l.clone(),
                _ => String::from("-"),
            };
            (!l.is_empty()).then_some((l, own))
        }
        Target::Etcd => {
            let v: Value =
                json_of(c.post(format!("{url}/v3/maintenance/status")).body("{}")).await?;
            let id = |p: &str| {
                v.pointer(p)
                    .map(|x| x.to_string().trim_matches('"').to_string())
            };
            let leader = id("/leader")?;
            (leader != "0").then_some((leader, id("/header/member_id")?))
        }
    }
}

async fn leader(f: &Flags) -> Result<(), String> {
    let t = f.target()?;
    let urls = f.urls("urls")?;
    let limit = Duration::from_secs(f.num("timeout-s", 30)?);
    let c = client(Duration::from_secs(2), 1)?;
    let start = Instant::now();
    let mut last = Vec::new();
    while start.elapsed() < limit {
        let views = futures::future::join_all(urls.iter().map(|u| leader_of(&c, t, u))).await;
        let agreed = views
            .iter()
            .all(|v| v.as_ref().map(|x| &x.0) == views[0].as_ref().map(|x| &x.0));
        if agreed {
            if let Some((l, _)) = &views[0] {
                if let Some(i) = views
                    .iter()
                    .position(|v| v.as_ref().is_some_and(|x| x.1 == *l))
                {
                    println!(
                        "leader={i} url={} wait_ms={}",
                        urls[i],
                        start.elapsed().as_millis()
                    );
                    return Ok(());
                }
            }
        }
        last = views;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(format!("no agreed leader within {limit:?}: {last:?}"))
}

async fn failover(f: &Flags) -> Result<(), String> {
    let t = f.target()?;
    let urls = f.urls("urls")?;
    let pid: i32 = f.req("kill-pid")?.parse().map_err(|_| "bad --kill-pid")?;
    let limit = Duration::from_secs(f.num("timeout-s", 30)?);
    let c = client(Duration::from_secs(3), 64)?;
    // Connections are open before the kill, so the clock measures the cluster, not connects.
    for u in &urls {
        let _ = put(&c, t, u, "bench/failover/warm", b"w").await;
    }
    let killed = Instant::now();
    // SAFETY: kill(2) on the pid the script gave us (its own child); no memory is involved.
    if unsafe { libc::kill(pid, libc::SIGKILL) } != 0 {
        return Err(format!("kill({pid}): {}", std::io::Error::last_os_error()));
    }
    // A new attempt through every survivor each 50 ms, without waiting for the earlier ones
    // (a write sent to a follower while there is no leader can hang until its timeout), so
    // the first acknowledgement is seen within ~50 ms of the cluster taking writes again.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(usize, Duration)>();
    let mut attempts = 0u64;
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    let deadline = tokio::time::sleep(limit);
    tokio::pin!(deadline);
    let first = loop {
        tokio::select! {
            _ = tick.tick() => {
                for (i, u) in urls.iter().enumerate() {
                    attempts += 1;
                    let (c, u, tx) = (c.clone(), u.clone(), tx.clone());
                    let key = format!("bench/failover/{i}/{attempts}");
                    tokio::spawn(async move {
                        if put(&c, t, &u, &key, b"x").await.is_ok() {
                            let _ = tx.send((i, killed.elapsed()));
                        }
                    });
                }
            }
            Some(won) = rx.recv() => break Some(won),
            _ = &mut deadline => break None,
        }
    };
    match first {
        Some((i, took)) => {
            println!(
                "failover_ms={} via={} attempts={attempts}",
                ms(took),
                urls[i]
            );
            Ok(())
        }
        None => Err(format!(
            "no write succeeded within {limit:?} after the kill"
        )),
    }
}
