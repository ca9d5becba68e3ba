//! Keeps one task per runnable check in step with the local state: a registered check starts
//! running, a changed definition restarts it, a removed check stops. Re-registering the same
//! definition (a config reload, a registrator resync) leaves the running task alone.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::probe::Probe;
use super::status::Thresholds;
use super::{alias, Shared};
use crate::agent::definition::{CheckDefinition, CheckKind};
use crate::agent::Agent;

/// Granularity of first-run staggering.
const SLOT: Duration = Duration::from_millis(10);

/// A running check task: what it was started for, and how to stop it.
struct Running {
    generation: u64,
    kind: CheckKind,
    definition: CheckDefinition,
    stop: CancellationToken,
}

/// Runs until `shutdown`, then stops every check task and waits for them. Docker checks
/// reach the engine the way registration does (`docker`: endpoint and TLS files).
pub async fn run(agent: Agent, docker: super::docker::Engine, shutdown: CancellationToken) {
    let shared = Arc::new(Shared::new(docker));
    let tasks = TaskTracker::new();
    let mut running: HashMap<String, Running> = HashMap::new();
    let mut changes = agent.subscribe_local();
    loop {
        reconcile(&agent, &shared, &tasks, &mut running, &shutdown);
        tokio::select! {
            _ = shutdown.cancelled() => break,
            changed = changes.changed() => if changed.is_err() { break },
        }
    }
    for r in running.values() {
        r.stop.cancel();
    }
    tasks.close();
    tasks.wait().await;
}

fn reconcile(
    agent: &Agent,
    shared: &Arc<Shared>,
    tasks: &TaskTracker,
    running: &mut HashMap<String, Running>,
    shutdown: &CancellationToken,
) {
    let (present, wanted): (HashSet<String>, Vec<(String, Running)>) = {
        let local = agent.local();
        let present = local.checks.keys().cloned().collect();
        let wanted = local
            .checks
            .values()
            .filter(|c| runs(&c.kind))
            .filter(|c| {
                running.get(&c.check.check_id).is_none_or(|r| {
                    r.generation != c.generation || r.kind != c.kind || r.definition != c.definition
                })
            })
            .map(|c| {
                let want = Running {
                    generation: c.generation,
                    kind: c.kind.clone(),
                    definition: c.definition.clone(),
                    stop: shutdown.child_token(),
                };
                (c.check.check_id.clone(), want)
            })
            .collect();
        (present, wanted)
    };
    running.retain(|id, r| {
        let keep = present.contains(id);
        if !keep {
            r.stop.cancel();
        }
        keep
    });
    for (id, want) in wanted {
        if let Some(old) = running.remove(&id) {
            old.stop.cancel();
        }
        let (def, stop) = (want.definition.clone(), want.stop.clone());
        if want.kind == CheckKind::Alias {
            tasks.spawn(alias::run(agent.clone(), id.clone(), def, stop));
        } else if let Some(probe) = Probe::new(&want.kind, &def, shared) {
            let agent = agent.clone();
            tasks.spawn(run_interval(
                agent,
                shared.clone(),
                id.clone(),
                probe,
                def,
                stop,
            ));
        }
        running.insert(id, want);
    }
}

/// Whether the check has a task (TTL checks share one timer task; maintenance and Docker
/// health checks are set from outside and never run).
fn runs(kind: &CheckKind) -> bool {
    !matches!(
        kind,
        CheckKind::Ttl | CheckKind::Maintenance | CheckKind::H2ping | CheckKind::DockerHealth
    )
}

/// Runs `probe` every interval, the first run at a random point of the first interval so a
/// thousand checks registered together do not fire together. A run longer than the interval
/// delays the next one instead of starting two at once.
async fn run_interval(
    agent: Agent,
    shared: Arc<Shared>,
    id: String,
    probe: Probe,
    def: CheckDefinition,
    stop: CancellationToken,
) {
    let interval = def.interval.unwrap_or(Duration::from_secs(10));
    let timeout = probe.timeout(&def);
    let max_output = agent.check_settings().output_limit(def.output_max_size);
    let mut thresholds = Thresholds::new(&def);
    let mut last = None;
    let mut ticks = tokio::time::interval_at(Instant::now() + stagger(interval), interval);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = ticks.tick() => {}
        }
        let started = Instant::now();
        let outcome = tokio::select! {
            _ = stop.cancelled() => return,
            o = probe.run(&shared, timeout, max_output) => o,
        };
        // A result equal to this runner's last report changes nothing: skip the local state
        // (record_check's token test makes this memory trustworthy; see there).
        if let Some(o) = thresholds
            .apply(outcome)
            .filter(|o| last.as_ref() != Some(o))
        {
            agent.record_check(&id, o.status, &o.output, &stop);
            last = Some(o);
        }
        // A run that outlasted the interval is followed by a full interval, not at once.
        if started.elapsed() >= interval {
            ticks.reset();
        }
    }
}

/// Where in its first interval a check first runs: a random slot, so checks registered
/// together spread out, in steps of `SLOT` so that checks share timer wake-ups (1,000 checks
/// at 1 s wake the runtime 100 times a second, not 1,000). Runs then keep a fixed rate.
fn stagger(interval: Duration) -> Duration {
    let slots = (interval.as_millis() / SLOT.as_millis()).max(1) as u32;
    SLOT * rand::thread_rng().gen_range(0..slots)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_runs_spread_over_the_interval_in_slots() {
        let interval = Duration::from_secs(1);
        let picks: Vec<Duration> = (0..2000).map(|_| stagger(interval)).collect();
        assert!(picks
            .iter()
            .all(|d| *d < interval && d.as_millis() % 10 == 0));
        let slots: HashSet<Duration> = picks.iter().copied().collect();
        // 100 slots, 2,000 picks: nearly every slot is used, not a few.
        assert!(slots.len() > 90, "only {} distinct slots", slots.len());
        assert_eq!(stagger(Duration::from_millis(5)), Duration::ZERO);
    }
}
