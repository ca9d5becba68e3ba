//! Blocking-query fan-out client for `bench/blocking.sh`.
//!
//! Why: Consul's known weak spot is many parked watchers (consul#8995 stalls near 10 k). This
//! opens N keep-alive connections, each parked on `GET <path>` (a blocking query), samples the
//! server's RSS before and after parking and its CPU ticks while idle, then sends one trigger
//! request and times, per connection, the change-to-full-response latency.
//!
//! Raw HTTP/1.1 over `TcpStream` keeps the client cheap and identical for Berth and the peer.
//! Usage: `bench_blocking --addr 127.0.0.1:P --pid PID --conns 10000 --path '/v1/...?index=7&wait=5m'
//!   --trigger 'PUT /v1/catalog/register' [--trigger-body FILE] [--sources K] [--label berth]`.

#[path = "bench_blocking/procfs.rs"]
mod procfs;
#[path = "bench_blocking/wire.rs"]
mod wire;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::TcpSocket;
use tokio::sync::{mpsc, Semaphore};

/// Parsed command line.
struct Args {
    addr: SocketAddr,
    pid: u32,
    conns: usize,
    path: String,
    trigger: String,
    trigger_body: Vec<u8>,
    sources: u8,
    label: String,
}

/// What one parked connection reports: when its full response arrived, or why it failed.
type Outcome = Result<Instant, String>;

fn main() {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("bench_blocking: {e}");
            std::process::exit(2);
        }
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| {
            eprintln!("bench_blocking: cannot start the runtime: {e}");
            std::process::exit(1)
        });
    if let Err(e) = rt.block_on(run(args)) {
        eprintln!("bench_blocking: {e}");
        std::process::exit(1);
    }
}

async fn run(a: Args) -> Result<(), String> {
    let rss_before = procfs::rss_kib(a.pid)?;
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: bench_blocking\r\n\r\n",
        a.path, a.addr
    );
    let request: Arc<[u8]> = Arc::from(request.into_bytes());
    let sent = Arc::new(AtomicUsize::new(0));
    let gate = Arc::new(Semaphore::new(256));
    let (tx, mut rx) = mpsc::unbounded_channel::<Outcome>();
    let t_open = Instant::now();
    for i in 0..a.conns {
        // 127.0.0.1, .2, ... as source addresses, so one address never runs out of ports.
        let src = Ipv4Addr::new(127, 0, 0, 1 + (i % a.sources as usize) as u8);
        let (request, sent, gate, tx) = (request.clone(), sent.clone(), gate.clone(), tx.clone());
        let addr = a.addr;
        tokio::spawn(async move {
            let out = park_one(addr, src, &request, &sent, &gate).await;
            let _ = tx.send(out);
        });
    }
    drop(tx);
    // Wait until every request is written (or failed), bounded at 60 s.
    let deadline = Instant::now() + Duration::from_secs(60);
    while sent.load(Ordering::Relaxed) < a.conns && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let written = sent.load(Ordering::Relaxed);
    eprintln!(
        "[{}] {written}/{} requests written in {:.2}s",
        a.label,
        a.conns,
        t_open.elapsed().as_secs_f64()
    );
    procfs::wait_idle(a.pid, Duration::from_secs(30)).await?;
    let rss_after = procfs::rss_kib(a.pid)?;
    let idle_ticks = procfs::cpu_ticks_over(a.pid, Duration::from_secs(3)).await?;

    let t_change = Instant::now();
    let trig_ms = wire::one_shot(a.addr, &a.trigger, &a.trigger_body).await?;
    let mut done = Vec::with_capacity(a.conns);
    let (mut early, mut errors) = (0usize, Vec::new());
    let collect = async {
        while let Some(o) = rx.recv().await {
            match o {
                Ok(t) if t < t_change => early += 1,
                Ok(t) => done.push(t.duration_since(t_change)),
                Err(e) => errors.push(e),
            }
        }
    };
    let timed_out = tokio::time::timeout(Duration::from_secs(60), collect)
        .await
        .is_err();
    report(&a, &mut done, early, &errors, timed_out, trig_ms);
    let per_query = (rss_after.saturating_sub(rss_before) * 1024) as f64 / a.conns as f64;
    println!(
        "RESULT label={} conns={} returned={} early={} errors={} p50_ms={:.2} p99_ms={:.2} max_ms={:.2} \
         trigger_ms={trig_ms:.2} rss_before_kib={rss_before} rss_after_kib={rss_after} \
         bytes_per_query={per_query:.0} idle_cpu_ticks_3s={idle_ticks}",
        a.label,
        a.conns,
        done.len(),
        early,
        errors.len(),
        pct(&done, 0.50),
        pct(&done, 0.99),
        pct(&done, 1.0),
    );
    Ok(())
}

/// Connects from `src`, writes the blocking request, then waits for the whole response.
async fn park_one(
    addr: SocketAddr,
    src: Ipv4Addr,
    request: &[u8],
    sent: &AtomicUsize,
    gate: &Semaphore,
) -> Outcome {
    let permit = gate.acquire().await.map_err(|e| e.to_string())?;
    let stream = async {
        let sock = TcpSocket::new_v4().map_err(|e| format!("socket: {e}"))?;
        if src != Ipv4Addr::LOCALHOST {
            bind_source(&sock, src)?;
        }
        let mut s = sock
            .connect(addr)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        wire::write_all(&mut s, request).await?;
        Ok::<_, String>(s)
    }
    .await;
    sent.fetch_add(1, Ordering::Relaxed);
    drop(permit);
    let mut s = stream?;
    let (status, _) = wire::read_response(&mut s).await?;
    let at = Instant::now();
    if status != 200 {
        return Err(format!("blocking query answered {status}"));
    }
    Ok(at)
}

/// Binds `sock` to `src` but lets `connect` pick the port: without IP_BIND_ADDRESS_NO_PORT
/// every `bind(ip, 0)` searches the ephemeral range, which takes seconds at 10 k sockets.
fn bind_source(sock: &TcpSocket, src: Ipv4Addr) -> Result<(), String> {
    use std::os::fd::AsRawFd;
    let one: libc::c_int = 1;
    // SAFETY: a valid fd and a pointer to a c_int of the stated length.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::IPPROTO_IP,
            libc::IP_BIND_ADDRESS_NO_PORT,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(format!(
            "IP_BIND_ADDRESS_NO_PORT: {}",
            std::io::Error::last_os_error()
        ));
    }
    sock.bind(SocketAddr::new(IpAddr::V4(src), 0))
        .map_err(|e| format!("bind {src}: {e}"))
}

fn report(
    a: &Args,
    done: &mut [Duration],
    early: usize,
    errors: &[String],
    timed_out: bool,
    trig_ms: f64,
) {
    done.sort();
    eprintln!(
        "[{}] trigger answered in {trig_ms:.2} ms; {} of {} returned after the change, {early} before it, {} errors{}",
        a.label,
        done.len(),
        a.conns,
        errors.len(),
        if timed_out { " (timed out after 60 s)" } else { "" }
    );
    if let Some(e) = errors.first() {
        eprintln!("[{}] first error: {e}", a.label);
    }
}

/// The `q` quantile of sorted durations, in ms (NaN when empty).
fn pct(sorted: &[Duration], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i].as_secs_f64() * 1e3
}

fn parse_args(mut it: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut a = Args {
        addr: SocketAddr::from(([127, 0, 0, 1], 8500)),
        pid: 0,
        conns: 10_000,
        path: String::new(),
        trigger: String::new(),
        trigger_body: Vec::new(),
        sources: 0,
        label: "server".into(),
    };
    while let Some(flag) = it.next() {
        let v = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let bad = |e: &dyn std::fmt::Display| format!("bad {flag} {v:?}: {e}");
        match flag.as_str() {
            "--addr" => a.addr = v.parse().map_err(|e| bad(&e))?,
            "--pid" => a.pid = v.parse().map_err(|e| bad(&e))?,
            "--conns" => a.conns = v.parse().map_err(|e| bad(&e))?,
            "--sources" => a.sources = v.parse().map_err(|e| bad(&e))?,
            "--path" => a.path = v,
            "--trigger" => a.trigger = v,
            "--trigger-body" => {
                a.trigger_body = std::fs::read(&v).map_err(|e| bad(&e))?;
            }
            "--label" => a.label = v,
            _ => return Err(format!("unknown flag {flag:?}")),
        }
    }
    if a.pid == 0 || a.path.is_empty() || a.trigger.is_empty() {
        return Err("--pid, --path and --trigger are required".into());
    }
    if !a.addr.ip().is_loopback() {
        return Err(format!(
            "--addr {} is not loopback; this benchmark stays on 127.0.0.1",
            a.addr
        ));
    }
    if a.sources == 0 {
        // About 28 k ephemeral ports per source address; stay well under.
        a.sources = a.conns.div_ceil(20_000).clamp(1, 250) as u8;
    }
    Ok(a)
}
