//! Success and failure thresholds (`success_before_passing`, `failures_before_warning`,
//! `failures_before_critical`): a run's result is reported only once enough runs agree, as
//! Consul's `StatusHandler` does. Warning counts as a success here, as it does in Consul.
//! The counters start full, as Consul's do: a check's first result applies at once, and the
//! thresholds only hold back a change after that.

use super::Outcome;
use crate::agent::definition::CheckDefinition;
use crate::model::Health;

/// Consecutive-result counters of one check.
#[derive(Debug, Clone)]
pub struct Thresholds {
    success_before_passing: u32,
    failures_before_warning: u32,
    failures_before_critical: u32,
    successes: u32,
    failures: u32,
}

impl Thresholds {
    /// Counters for a check; `failures_before_warning` defaults to `failures_before_critical`.
    pub fn new(def: &CheckDefinition) -> Self {
        let critical = def.failures_before_critical;
        let warning = if def.failures_before_warning == 0 {
            critical
        } else {
            def.failures_before_warning
        };
        Thresholds {
            success_before_passing: def.success_before_passing,
            failures_before_warning: warning,
            failures_before_critical: critical,
            successes: def.success_before_passing,
            failures: critical,
        }
    }

    /// What to report for this run, or `None` while a threshold is not reached yet.
    pub fn apply(&mut self, run: Outcome) -> Option<Outcome> {
        if run.status != Health::Critical {
            self.successes = self.successes.saturating_add(1);
            self.failures = 0;
            return (self.successes >= self.success_before_passing).then_some(run);
        }
        self.failures = self.failures.saturating_add(1);
        self.successes = 0;
        if self.failures >= self.failures_before_critical {
            return Some(run);
        }
        if self.failures >= self.failures_before_warning {
            return Some(Outcome {
                status: Health::Warning,
                output: run.output,
            });
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(sbp: u32, fbw: u32, fbc: u32) -> CheckDefinition {
        CheckDefinition {
            success_before_passing: sbp,
            failures_before_warning: fbw,
            failures_before_critical: fbc,
            ..CheckDefinition::default()
        }
    }

    fn status(t: &mut Thresholds, h: Health) -> Option<Health> {
        t.apply(Outcome {
            status: h,
            output: String::new(),
        })
        .map(|o| o.status)
    }

    #[test]
    fn no_thresholds_report_every_run() {
        let mut t = Thresholds::new(&def(0, 0, 0));
        assert_eq!(status(&mut t, Health::Passing), Some(Health::Passing));
        assert_eq!(status(&mut t, Health::Critical), Some(Health::Critical));
        assert_eq!(status(&mut t, Health::Warning), Some(Health::Warning));
    }

    #[test]
    fn first_result_applies_at_once() {
        let mut t = Thresholds::new(&def(3, 0, 3));
        assert_eq!(status(&mut t, Health::Passing), Some(Health::Passing));
        let mut t = Thresholds::new(&def(3, 0, 3));
        assert_eq!(status(&mut t, Health::Critical), Some(Health::Critical));
    }

    #[test]
    fn failures_warn_then_go_critical() {
        let mut t = Thresholds::new(&def(0, 1, 3));
        assert_eq!(status(&mut t, Health::Passing), Some(Health::Passing));
        assert_eq!(status(&mut t, Health::Critical), Some(Health::Warning));
        assert_eq!(status(&mut t, Health::Critical), Some(Health::Warning));
        assert_eq!(status(&mut t, Health::Critical), Some(Health::Critical));
        // A success resets the failure count.
        assert_eq!(status(&mut t, Health::Passing), Some(Health::Passing));
        assert_eq!(status(&mut t, Health::Critical), Some(Health::Warning));
    }

    #[test]
    fn warning_defaults_to_critical_threshold() {
        let mut t = Thresholds::new(&def(0, 0, 2));
        assert_eq!(status(&mut t, Health::Passing), Some(Health::Passing));
        assert_eq!(status(&mut t, Health::Critical), None);
        assert_eq!(status(&mut t, Health::Critical), Some(Health::Critical));
    }

    #[test]
    fn successes_needed_before_passing() {
        let mut t = Thresholds::new(&def(2, 0, 0));
        assert_eq!(status(&mut t, Health::Critical), Some(Health::Critical));
        assert_eq!(status(&mut t, Health::Passing), None);
        assert_eq!(status(&mut t, Health::Passing), Some(Health::Passing));
    }
}
