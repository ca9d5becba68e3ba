//! TTL checks: one task for all of them, sleeping until the earliest deadline.
//!
//! A TTL check turns critical with output `TTL expired` when no pass/warn/fail/update arrived
//! within its TTL. The task is woken whenever a TTL check is registered or refreshed.

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::agent::Agent;
use crate::model::Health;

/// Output of a TTL check whose TTL ran out (Consul's text).
pub const TTL_EXPIRED: &str = "TTL expired";

/// Runs until `shutdown`; expires TTL checks on time.
pub async fn run(agent: Agent, shutdown: CancellationToken) {
    loop {
        let next = expire_due(&agent);
        if next.1 {
            agent.sync().await;
        }
        let sleep = async {
            match next.0 {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = agent.ttl_changed().notified() => {}
            _ = sleep => {}
        }
    }
}

/// Marks every overdue TTL check critical; returns the next deadline and whether any expired.
fn expire_due(agent: &Agent) -> (Option<Instant>, bool) {
    let now = Instant::now();
    let mut local = agent.local();
    let due: Vec<String> = local
        .checks
        .values()
        .filter(|c| c.ttl_deadline.is_some_and(|d| d <= now))
        .map(|c| c.check.check_id.clone())
        .collect();
    for id in &due {
        let Some(c) = local.checks.get_mut(id) else {
            continue;
        };
        c.ttl_deadline = None;
        let output = if c.check.output.is_empty() {
            TTL_EXPIRED.to_string()
        } else {
            format!(
                "{TTL_EXPIRED} (last output before timeout follows): {}",
                c.check.output
            )
        };
        local.record_result(id, Health::Critical, &output, false);
    }
    let next = local.checks.values().filter_map(|c| c.ttl_deadline).min();
    (next, !due.is_empty())
}
