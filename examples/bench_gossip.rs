//! Gossip failure-detection helper for `bench/gossip.sh`.
//!
//! Why: bash + curl polling of 20 agents takes longer than the 50 ms resolution the benchmark
//! wants, and a SIGSTOPped agent would stall a sequential loop. Here every member is polled by
//! its own task (`GET /v1/agent/members` every `--poll-ms`, 700 ms request timeout), so one
//! frozen agent delays nobody else's observations. The helper also sends the signals itself
//! (SIGSTOP, SIGKILL, SIGCONT, via libc) so the kill instant and the clock are the same.
//! The agents are started and restarted by the script, never here. Loopback URLs only.
//!
//! Subcommands (all print one `key=value ...` line on stdout):
//! - `wait --urls U1,U2,.. --alive N [--timeout-s 60]`: until every URL lists N members, all
//!   Status 1 (alive).
//! - `idle --urls .. --secs 10`: gossip bytes/packets sent per member per second, from
//!   `/v1/agent/self` `Stats.serf_lan` before and after `--secs` of idleness.
//! - `round --urls .. --target NAME --target-pid PID [--stop-pid PID --stop-name NAME
//!   --stop-ms 2000] [--watch-ms 8000] [--timeout-s 60] [--poll-ms 50]`: SIGSTOP the stop
//!   member (if any), SIGKILL the target, and time until every URL (the live members, not the
//!   target) reports the target Status 4; records any other member reported non-alive by anyone.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Per-request bound: a frozen agent must not hold its poller for long.
const REQ_TIMEOUT: Duration = Duration::from_millis(700);

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

    fn get(&self, k: &str) -> Option<&str> {
        self.0.get(k).map(String::as_str)
    }

    fn req(&self, k: &str) -> Result<&str, String> {
        self.get(k).ok_or_else(|| format!("--{k} is required"))
    }

    fn num<T: std::str::FromStr>(&self, k: &str, default: T) -> Result<T, String> {
        match self.get(k) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|_| format!("--{k}: bad number {v:?}")),
        }
    }

    fn urls(&self) -> Result<Vec<String>, String> {
        let u: Vec<String> = self
            .req("urls")?
            .split(',')
            .filter(|s| !s.is_empty())
            .map(|s| s.trim_end_matches('/').to_string())
            .collect();
        if u.is_empty() {
            return Err("--urls is empty".into());
        }
        if let Some(bad) = u.iter().find(|s| !s.starts_with("http://127.0.0.")) {
            return Err(format!(
                "only loopback 127.0.0.x URLs are allowed, got {bad}"
            ));
        }
        Ok(u)
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let cmd = args.next().unwrap_or_default();
    let flags = match Flags::parse(args) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("bench_gossip: {e}");
            std::process::exit(2);
        }
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| {
            eprintln!("bench_gossip: cannot start the runtime: {e}");
            std::process::exit(1)
        });
    let res = rt.block_on(async {
        match cmd.as_str() {
            "wait" => wait_alive(&flags).await,
            "idle" => idle(&flags).await,
            "round" => round(&flags).await,
            _ => Err(format!("unknown subcommand {cmd:?} (wait, idle, round)")),
        }
    });
    if let Err(e) = res {
        eprintln!("bench_gossip: {e}");
        std::process::exit(1);
    }
}

fn client() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .timeout(REQ_TIMEOUT)
        .no_proxy()
        .build()
        .map_err(|e| format!("http client: {e}"))
}

/// `GET {url}/v1/agent/members` → name → Status code.
async fn members(c: &reqwest::Client, url: &str) -> Option<BTreeMap<String, u64>> {
    let resp = c.get(format!("{url}/v1/agent/members")).send().await.ok()?;
    let v: Value = resp.error_for_status().ok()?.json().await.ok()?;
    let mut out = BTreeMap::new();
    for m in v.as_array()? {
        let name = m.get("Name")?.as_str()?.to_string();
        out.insert(name, m.get("Status")?.as_u64()?);
    }
    Some(out)
}

async fn wait_alive(f: &Flags) -> Result<(), String> {
    let urls = f.urls()?;
    let want: usize = f.num("alive", urls.len())?;
    let limit = Duration::from_secs(f.num("timeout-s", 60)?);
    let c = client()?;
    let start = Instant::now();
    let mut last = Vec::new();
    while start.elapsed() < limit {
        let views = futures::future::join_all(urls.iter().map(|u| members(&c, u.as_str()))).await;
        let ok = views.iter().all(|v| {
            v.as_ref()
                .is_some_and(|m| m.len() == want && m.values().all(|s| *s == 1))
        });
        if ok {
            println!("wait_ms={}", start.elapsed().as_millis());
            return Ok(());
        }
        last = views;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut why = String::new();
    for (u, v) in urls.iter().zip(&last) {
        match v {
            None => why.push_str(&format!("\n  {u}: no answer")),
            Some(m) => {
                let bad: Vec<String> = m
                    .iter()
                    .filter(|(_, s)| **s != 1)
                    .map(|(n, s)| format!("{n}={s}"))
                    .collect();
                why.push_str(&format!(
                    "\n  {u}: {} members, not alive: [{}]",
                    m.len(),
                    bad.join(" ")
                ));
            }
        }
    }
    Err(format!(
        "timed out after {} s waiting for {want} alive members everywhere:{why}",
        limit.as_secs()
    ))
}

/// `Stats.serf_lan.{bytes_sent,packets_sent}` of one member.
async fn sent(c: &reqwest::Client, url: &str) -> Result<(u64, u64), String> {
    let v: Value = c
        .get(format!("{url}/v1/agent/self"))
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(|e| format!("{url}: {e}"))?
        .json()
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    let field = |k: &str| -> Result<u64, String> {
        v.pointer(&format!("/Stats/serf_lan/{k}"))
            .and_then(Value::as_str)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("{url}: no Stats.serf_lan.{k}"))
    };
    Ok((field("bytes_sent")?, field("packets_sent")?))
}

async fn sample(c: &reqwest::Client, urls: &[String]) -> Result<Vec<(u64, u64)>, String> {
    futures::future::join_all(urls.iter().map(|u| sent(c, u)))
        .await
        .into_iter()
        .collect()
}

async fn idle(f: &Flags) -> Result<(), String> {
    let urls = f.urls()?;
    let secs: u64 = f.num("secs", 10)?;
    let c = client()?;
    let t0 = Instant::now();
    let a = sample(&c, &urls).await?;
    tokio::time::sleep(Duration::from_secs(secs)).await;
    let b = sample(&c, &urls).await?;
    let dt = t0.elapsed().as_secs_f64();
    let bps: Vec<f64> = a
        .iter()
        .zip(&b)
        .map(|(x, y)| y.0.saturating_sub(x.0) as f64 / dt)
        .collect();
    let pps: Vec<f64> = a
        .iter()
        .zip(&b)
        .map(|(x, y)| y.1.saturating_sub(x.1) as f64 / dt)
        .collect();
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let max = |v: &[f64]| v.iter().copied().fold(0.0, f64::max);
    let min = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
    println!(
        "members={} secs={dt:.1} bytes_per_s_mean={:.0} bytes_per_s_min={:.0} bytes_per_s_max={:.0} packets_per_s_mean={:.1} packets_per_s_max={:.1}",
        urls.len(),
        mean(&bps),
        min(&bps),
        max(&bps),
        mean(&pps),
        max(&pps)
    );
    Ok(())
}

/// What one poller saw during a round (times since the kill).
#[derive(Default)]
struct Seen {
    /// First answer that listed the target with Status 4.
    target_failed: Option<Duration>,
    /// Other members this poller's agent reported not alive: name → (first time, status).
    others: BTreeMap<String, (Duration, u64)>,
    /// Successful polls after the kill.
    polls: u64,
}

fn send_signal(pid: i32, sig: i32) -> Result<(), String> {
    // SAFETY: kill(2) with a pid the script gave us (its own child); no memory is involved.
    if unsafe { libc::kill(pid, sig) } == 0 {
        Ok(())
    } else {
        Err(format!(
            "kill({pid}, {sig}): {}",
            std::io::Error::last_os_error()
        ))
    }
}

async fn round(f: &Flags) -> Result<(), String> {
    let urls = f.urls()?;
    let target = f.req("target")?.to_string();
    let target_pid: i32 = f
        .req("target-pid")?
        .parse()
        .map_err(|_| "bad --target-pid")?;
    let stop_pid: i32 = f.num("stop-pid", 0)?;
    let stop_name = f.get("stop-name").unwrap_or("-").to_string();
    let stop_for = Duration::from_millis(f.num("stop-ms", 2000)?);
    let watch = Duration::from_millis(f.num("watch-ms", 8000)?);
    let limit = Duration::from_secs(f.num("timeout-s", 60)?);
    let poll = Duration::from_millis(f.num("poll-ms", 50)?);
    let c = client()?;

    // Baseline: every live member answers and lists the target alive.
    for u in &urls {
        match members(&c, u).await {
            Some(m) if m.get(&target) == Some(&1) => {}
            other => {
                return Err(format!(
                    "{u}: target {target} not alive before the kill: {other:?}"
                ))
            }
        }
    }

    let seen: Vec<Arc<Mutex<Seen>>> = urls.iter().map(|_| Arc::default()).collect();
    let t0 = Instant::now();
    if stop_pid > 0 {
        send_signal(stop_pid, libc::SIGSTOP)?;
    }
    let killed = send_signal(target_pid, libc::SIGKILL);
    let mut tasks = Vec::new();
    for (u, s) in urls.iter().zip(&seen) {
        let (c, u, s, target) = (c.clone(), u.clone(), s.clone(), target.clone());
        tasks.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(poll);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(m) = members(&c, &u).await else {
                    continue;
                };
                let at = t0.elapsed();
                let mut s = s.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                s.polls += 1;
                for (name, status) in m {
                    if name == target {
                        if status == 4 && s.target_failed.is_none() {
                            s.target_failed = Some(at);
                        }
                    } else if status != 1 {
                        s.others.entry(name).or_insert((at, status));
                    }
                }
            }
        }));
    }
    let mut resumed = stop_pid <= 0;
    let mut cont_err = None;
    loop {
        tokio::time::sleep(Duration::from_millis(10)).await;
        let now = t0.elapsed();
        if !resumed && now >= stop_for {
            cont_err = send_signal(stop_pid, libc::SIGCONT).err();
            resumed = true;
        }
        let all = seen.iter().all(|s| {
            s.lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .target_failed
                .is_some()
        });
        if (all && now >= watch && resumed) || now >= limit {
            break;
        }
    }
    if !resumed {
        cont_err = send_signal(stop_pid, libc::SIGCONT).err();
    }
    for t in &tasks {
        t.abort();
    }
    killed?;
    if let Some(e) = cont_err {
        return Err(e);
    }

    let ms = |d: Duration| d.as_millis();
    let mut detected = Vec::new();
    let mut per = Vec::new();
    let mut false_fail: BTreeMap<String, (Duration, u64)> = BTreeMap::new();
    for s in &seen {
        let s = s.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(d) = s.target_failed {
            detected.push(d);
            per.push(ms(d).to_string());
        } else {
            per.push("none".into());
        }
        for (n, (at, st)) in &s.others {
            let e = false_fail.entry(n.clone()).or_insert((*at, *st));
            if *at < e.0 {
                *e = (*at, *st);
            }
        }
    }
    let complete = detected.len() == urls.len();
    let last = detected.iter().max().copied();
    let first = detected.iter().min().copied();
    let ff: Vec<String> = false_fail
        .iter()
        .map(|(n, (at, st))| format!("{n}:status{st}@{}ms", ms(*at)))
        .collect();
    let stopped_failed = false_fail.get(&stop_name).is_some_and(|(_, st)| *st == 4);
    println!(
        "target={target} stop={stop_name} complete={complete} detect_ms={} first_ms={} detected={}/{} false={} stopped_marked_failed={} per_member_ms={}",
        last.filter(|_| complete).map_or("timeout".to_string(), |d| ms(d).to_string()),
        first.map_or("none".to_string(), |d| ms(d).to_string()),
        detected.len(),
        urls.len(),
        if ff.is_empty() { "-".to_string() } else { ff.join(",") },
        u8::from(stopped_failed),
        per.join(",")
    );
    Ok(())
}
