//! `deregister_critical_service_after`: every `check_reap_interval`, a service with a check
//! critical for longer than its limit (raised to `check_deregister_interval_min`) is removed
//! from the agent with all its checks, as Consul's reaper does.

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::agent::Agent;

/// Runs until `shutdown`.
pub async fn run(agent: Agent, shutdown: CancellationToken) {
    let every = agent.check_settings().reap_interval;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
        for service in overdue(&agent) {
            tracing::info!(service = %service, "agent: check critical for too long; deregistering service");
            let _ = agent.deregister_service(&service).await;
        }
    }
}

/// Services with a check critical past its `deregister_critical_service_after`.
fn overdue(agent: &Agent) -> Vec<String> {
    let min = agent.check_settings().deregister_interval_min;
    let now = Instant::now();
    let local = agent.local();
    let mut out: Vec<String> = local
        .checks
        .values()
        .filter(|c| !c.check.service_id.is_empty())
        .filter_map(|c| {
            let after = c.definition.deregister_critical_service_after?.max(min);
            let since = c.critical_since?;
            (now.duration_since(since) > after).then(|| c.check.service_id.clone())
        })
        .collect();
    out.sort();
    out.dedup();
    out
}
