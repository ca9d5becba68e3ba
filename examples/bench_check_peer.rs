//! Bare HTTP prober: the denominator for `bench/checks.sh`.
//!
//! It does what 1,000 HTTP checks do on the wire and nothing else: N tasks, each a GET to the
//! same URL every interval (first run staggered over the interval), through one reqwest
//! client that keeps connections alive for 1.5 s as Berth's checks at intervals up to 1 s do.
//! No thresholds, no local state, no catalog: `Berth CPU / prober CPU` is what the check
//! machinery costs on top of the requests themselves.
//!
//! Usage: `bench_check_peer --url http://127.0.0.1:PORT/ --checks 1000 --interval-ms 1000`.

use std::time::Duration;

use rand::Rng;

fn main() {
    if let Err(e) = run() {
        eprintln!("bench_check_peer: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let (mut url, mut checks, mut interval_ms) = (String::new(), 1000usize, 1000u64);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--url" => url = value,
            "--checks" => checks = value.parse().map_err(|e| format!("--checks: {e}"))?,
            "--interval-ms" => {
                interval_ms = value.parse().map_err(|e| format!("--interval-ms: {e}"))?
            }
            _ => return Err(format!("unknown flag {flag:?}")),
        }
    }
    if url.is_empty() {
        return Err("--url is required".into());
    }
    let rt = tokio::runtime::Runtime::new().map_err(|e| format!("runtime: {e}"))?;
    rt.block_on(async move {
        let client = reqwest::Client::builder()
            .pool_idle_timeout(Duration::from_millis(1500))
            .no_proxy()
            .build()
            .map_err(|e| format!("client: {e}"))?;
        let interval = Duration::from_millis(interval_ms);
        for _ in 0..checks {
            let (client, url) = (client.clone(), url.clone());
            tokio::spawn(async move {
                let stagger = rand::thread_rng().gen_range(0..interval_ms.max(1));
                tokio::time::sleep(Duration::from_millis(stagger)).await;
                loop {
                    let ok = match client.get(&url).timeout(interval).send().await {
                        Ok(mut r) => {
                            let good = r.status().is_success();
                            while let Ok(Some(_)) = r.chunk().await {}
                            good
                        }
                        Err(_) => false,
                    };
                    std::hint::black_box(ok);
                    tokio::time::sleep(interval).await;
                }
            });
        }
        std::future::pending::<Result<(), String>>().await
    })
}
