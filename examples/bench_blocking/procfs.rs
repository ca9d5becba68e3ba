//! Reads a server's RSS and CPU time from `/proc/<pid>`, so the client can tell when parked
//! queries cost memory and whether idle watchers burn CPU.

use std::time::{Duration, Instant};

/// `VmRSS` of `pid`, in KiB.
pub fn rss_kib(pid: u32) -> Result<u64, String> {
    let path = format!("/proc/{pid}/status");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {path}: {e}"))?;
    text.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("{path} has no VmRSS line"))
}

/// User + system CPU ticks (`utime + stime`) that `pid` has used so far.
pub fn cpu_ticks(pid: u32) -> Result<u64, String> {
    let path = format!("/proc/{pid}/stat");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {path}: {e}"))?;
    // The command name may hold spaces; fields after the last ')' start at field 3 (state).
    let rest = text
        .rsplit_once(')')
        .map(|(_, r)| r)
        .ok_or_else(|| format!("{path}: unexpected format"))?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let num = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok());
    // utime is field 14 and stime field 15, i.e. index 11 and 12 after the state field.
    match (num(11), num(12)) {
        (Some(u), Some(s)) => Ok(u + s),
        _ => Err(format!("{path}: no utime/stime")),
    }
}

/// CPU ticks `pid` used during `span` (one tick is 10 ms on Linux with USER_HZ=100).
pub async fn cpu_ticks_over(pid: u32, span: Duration) -> Result<u64, String> {
    let before = cpu_ticks(pid)?;
    tokio::time::sleep(span).await;
    Ok(cpu_ticks(pid)?.saturating_sub(before))
}

/// Waits until `pid` used no CPU and kept the same RSS for two 500 ms samples in a row
/// (all requests read and parked), or `limit` passed.
pub async fn wait_idle(pid: u32, limit: Duration) -> Result<(), String> {
    let end = Instant::now() + limit;
    let mut quiet = 0;
    let mut rss = rss_kib(pid)?;
    while quiet < 2 && Instant::now() < end {
        let ticks = cpu_ticks_over(pid, Duration::from_millis(500)).await?;
        let now = rss_kib(pid)?;
        quiet = if ticks == 0 && now == rss {
            quiet + 1
        } else {
            0
        };
        rss = now;
    }
    if quiet < 2 {
        eprintln!("warning: pid {pid} did not go idle within {limit:?}");
    }
    Ok(())
}
