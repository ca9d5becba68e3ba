//! Check results entering the local state, with Consul's rules for what reaches the catalog:
//! a status change is pushed at once; an output-only change waits for `check_update_interval`
//! (half of it plus up to all of it, at random), so checks whose output varies do not write
//! to Raft on every run; an unchanged result writes nothing.

use std::time::Duration;

use rand::Rng;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::local::LocalState;
use super::Agent;
use crate::config::RuntimeConfig;
use crate::model::Health;

/// How this agent treats its checks (from the runtime config).
#[derive(Debug, Clone)]
pub struct CheckSettings {
    /// Script and docker checks may be registered through the API.
    pub enable_script_checks: bool,
    /// Script and docker checks may come from config files.
    pub enable_local_script_checks: bool,
    /// Output-only changes reach the catalog at most this often; zero means at once.
    pub check_update_interval: Duration,
    /// Bytes of output kept when a check does not set `output_max_size`.
    pub output_max_size: usize,
    /// `deregister_critical_service_after` is raised to at least this.
    pub deregister_interval_min: Duration,
    /// How often services critical for too long are removed.
    pub reap_interval: Duration,
}

impl Default for CheckSettings {
    /// Consul's defaults, scripts off.
    fn default() -> Self {
        CheckSettings {
            enable_script_checks: false,
            enable_local_script_checks: false,
            check_update_interval: Duration::from_secs(300),
            output_max_size: 4096,
            deregister_interval_min: Duration::from_secs(60),
            reap_interval: Duration::from_secs(30),
        }
    }
}

impl CheckSettings {
    /// The settings a runtime config asks for.
    pub fn from_config(c: &RuntimeConfig) -> Self {
        CheckSettings {
            enable_script_checks: c.enable_script_checks,
            enable_local_script_checks: c.enable_local_script_checks,
            check_update_interval: c.check_update_interval,
            output_max_size: c.check_output_max_size,
            deregister_interval_min: c.check_deregister_interval_min,
            reap_interval: c.check_reap_interval,
        }
    }
}

impl CheckSettings {
    /// Bytes of output a check keeps: its `OutputMaxSize` when set, never above the agent's
    /// `check_output_max_size` (which also applies when the check sets 0 or nothing).
    pub fn output_limit(&self, check: Option<u64>) -> usize {
        let agent = self.output_max_size.max(1);
        match check {
            Some(m) if m > 0 => usize::try_from(m).unwrap_or(usize::MAX).min(agent),
            _ => agent,
        }
    }
}

/// TTL output cut to `max` bytes the way Consul cuts it (`... (captured N of M bytes)`).
pub fn cap_ttl_output(output: &str, max: usize) -> String {
    if output.len() <= max {
        return output.to_string();
    }
    let mut cut = max;
    while !output.is_char_boundary(cut) {
        cut -= 1;
    }
    format!(
        "{} ... (captured {} of {} bytes)",
        &output[..cut],
        cut,
        output.len()
    )
}

/// What recording a result did to the local state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// Nothing the catalog needs (same status and output, or an unknown check).
    Unchanged,
    /// Status changed: the check is out of sync and must be pushed now.
    Changed,
    /// Only the output changed: kept locally; a timer must mark it out of sync later.
    Deferred,
}

impl LocalState {
    /// Records one result of check `id` (Consul's `State.UpdateCheck`). `defer` says whether
    /// output-only changes wait for the update interval.
    pub fn record_result(
        &mut self,
        id: &str,
        status: Health,
        output: &str,
        defer: bool,
    ) -> Recorded {
        let Some(c) = self.checks.get_mut(id) else {
            return Recorded::Unchanged;
        };
        if status == Health::Critical {
            c.critical_since.get_or_insert_with(Instant::now);
        } else {
            c.critical_since = None;
        }
        if c.check.status == status && c.check.output == output {
            return Recorded::Unchanged;
        }
        if defer && c.check.status == status {
            c.check.output = output.to_string();
            if c.output_deferred {
                return Recorded::Unchanged;
            }
            c.output_deferred = true;
            return Recorded::Deferred;
        }
        c.check.status = status;
        c.check.output = output.to_string();
        // The push carries the latest output too; a pending timer has nothing left to do.
        c.output_deferred = false;
        self.touch_check(id);
        Recorded::Changed
    }

    /// The update-interval timer of check `id` ran out: its deferred output goes to the
    /// catalog. Returns whether anything is now out of sync.
    pub fn flush_deferred(&mut self, id: &str) -> bool {
        match self.checks.get_mut(id) {
            Some(c) if c.output_deferred => {
                c.output_deferred = false;
                self.touch_check(id);
                true
            }
            _ => false,
        }
    }
}

impl Agent {
    /// Records a check run's result (after the runner's success/failure thresholds). A status
    /// change is pushed at once, without waiting for anti-entropy.
    ///
    /// `live` is the runner's token: once it is cancelled (the check was removed or
    /// redefined and a new runner may already report), the result is dropped. The test
    /// happens under the local-state lock, so a runner that remembers its last report can
    /// trust it: no older runner can write after a newer one has started.
    pub fn record_check(&self, id: &str, status: Health, output: &str, live: &CancellationToken) {
        if self.record(id, status, output, Some(live)) == Recorded::Changed {
            self.changed_locally();
        }
    }

    /// Records a result and starts the update-interval timer of a deferred output; the caller
    /// pushes a `Changed` one.
    pub(super) fn record(
        &self,
        id: &str,
        status: Health,
        output: &str,
        live: Option<&CancellationToken>,
    ) -> Recorded {
        let interval = self.inner.checks.check_update_interval;
        let recorded = {
            let mut local = self.local();
            if live.is_some_and(CancellationToken::is_cancelled) {
                return Recorded::Unchanged;
            }
            local.record_result(id, status, output, !interval.is_zero())
        };
        match recorded {
            Recorded::Unchanged | Recorded::Changed => {}
            Recorded::Deferred => {
                let half = interval / 2;
                let stagger = rand::thread_rng().gen_range(0..=interval.as_millis() as u64);
                let after = half + Duration::from_millis(stagger);
                // A weak handle: a stopped agent is not kept alive by its pending timers.
                let weak = std::sync::Arc::downgrade(&self.inner);
                let id = id.to_string();
                tokio::spawn(async move {
                    tokio::time::sleep(after).await;
                    let Some(inner) = weak.upgrade() else { return };
                    let agent = Agent { inner };
                    if agent.local().flush_deferred(&id) {
                        agent.changed_locally();
                    }
                });
            }
        }
        recorded
    }

    /// The catalog's entries for `node` (from this server's store, or asked of a server), for
    /// alias checks of other nodes.
    pub async fn catalog_node(
        &self,
        node: &str,
    ) -> Result<crate::rpc::NodeState, crate::raft::WriteError> {
        self.inner.cluster.node_state(&self.inner.store, node).await
    }

    /// Tells watchers of the local state and the syncer that something changed; the syncer
    /// pushes it off the caller's path.
    pub(crate) fn changed_locally(&self) {
        self.inner.local_changed.send_modify(|n| *n += 1);
        self.inner.push_notify.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::definition::{CheckDefinition, CheckKind};
    use crate::agent::{LocalCheck, Source};
    use crate::model::Check;

    fn state_with(id: &str, status: Health) -> LocalState {
        let mut l = LocalState::default();
        l.put_check(LocalCheck {
            check: Check {
                check_id: id.into(),
                status,
                ..Check::default()
            },
            kind: CheckKind::Http,
            definition: CheckDefinition::default(),
            source: Source::Api,
            ttl_deadline: None,
            critical_since: None,
            output_deferred: false,
            generation: 0,
            rev: 0,
            in_sync: false,
        });
        l.checks.get_mut(id).unwrap().in_sync = true;
        l
    }

    #[test]
    fn status_change_is_pushed_and_same_result_is_not() {
        let mut l = state_with("c", Health::Critical);
        assert_eq!(
            l.record_result("c", Health::Passing, "ok", true),
            Recorded::Changed
        );
        assert!(!l.checks["c"].in_sync);
        l.checks.get_mut("c").unwrap().in_sync = true;
        assert_eq!(
            l.record_result("c", Health::Passing, "ok", true),
            Recorded::Unchanged
        );
        assert!(l.checks["c"].in_sync);
        assert_eq!(
            l.record_result("nope", Health::Passing, "ok", true),
            Recorded::Unchanged
        );
    }

    #[test]
    fn output_only_change_is_deferred_once() {
        let mut l = state_with("c", Health::Passing);
        assert_eq!(
            l.record_result("c", Health::Passing, "a", true),
            Recorded::Deferred
        );
        assert!(
            l.checks["c"].in_sync,
            "deferred output must not mark the check dirty"
        );
        assert_eq!(l.checks["c"].check.output, "a");
        assert_eq!(
            l.record_result("c", Health::Passing, "b", true),
            Recorded::Unchanged
        );
        assert!(l.flush_deferred("c"));
        assert!(!l.checks["c"].in_sync);
        assert!(!l.flush_deferred("c"));
        // Without an update interval an output change is pushed at once.
        assert_eq!(
            l.record_result("c", Health::Passing, "z", false),
            Recorded::Changed
        );
    }

    #[tokio::test]
    async fn a_cancelled_runner_cannot_record() {
        let identity = crate::agent::Identity {
            node_id: "id".into(),
            node_name: "n1".into(),
            datacenter: "dc1".into(),
            address: "127.0.0.1".into(),
            meta: Default::default(),
            server: false,
            server_port: 8300,
        };
        let cluster = crate::cluster::Cluster::client(Default::default(), Default::default());
        let agent = Agent::new(
            identity,
            cluster,
            crate::catalog::Store::new(),
            None,
            CheckSettings::default(),
        );
        let seeded = state_with("c", Health::Critical)
            .checks
            .remove("c")
            .unwrap();
        agent.local().put_check(seeded);
        let live = CancellationToken::new();
        agent.record_check("c", Health::Passing, "ok", &live);
        assert_eq!(agent.local().checks["c"].check.status, Health::Passing);
        live.cancel();
        agent.record_check("c", Health::Critical, "late", &live);
        assert_eq!(agent.local().checks["c"].check.status, Health::Passing);
    }

    #[test]
    fn output_limits() {
        let s = CheckSettings::default();
        assert_eq!(s.output_limit(None), 4096);
        assert_eq!(s.output_limit(Some(0)), 4096);
        assert_eq!(s.output_limit(Some(10)), 10);
        assert_eq!(s.output_limit(Some(1 << 40)), 4096);
        assert_eq!(cap_ttl_output("short", 10), "short");
        assert_eq!(
            cap_ttl_output("abcdef", 3),
            "abc ... (captured 3 of 6 bytes)"
        );
        // Never inside a UTF-8 sequence.
        assert_eq!(cap_ttl_output("aé", 2), "a ... (captured 1 of 3 bytes)");
    }

    #[test]
    fn generation_changes_only_when_a_check_is_created_anew() {
        let mut l = state_with("c", Health::Passing);
        let first = l.checks["c"].generation;
        let same = l.checks["c"].clone();
        l.put_check(same.clone());
        assert_eq!(l.checks["c"].generation, first, "re-registration keeps it");
        l.remove_check("c");
        l.put_check(same);
        assert_ne!(l.checks["c"].generation, first, "re-creation changes it");
    }

    #[test]
    fn critical_since_is_kept_while_critical() {
        let mut l = state_with("c", Health::Passing);
        l.record_result("c", Health::Critical, "down", true);
        let since = l.checks["c"].critical_since.expect("critical since set");
        l.record_result("c", Health::Critical, "still down", true);
        assert_eq!(l.checks["c"].critical_since, Some(since));
        l.record_result("c", Health::Warning, "better", true);
        assert_eq!(l.checks["c"].critical_since, None);
    }
}
