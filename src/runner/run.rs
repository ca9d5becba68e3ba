//! The runner loop: one task owns the brain, the watches and every template.
//!
//! - Data arrives from watches; all queued events are drained first (a burst is one pass).
//! - Every template using a changed dependency is rendered in memory at once (cheap and
//!   pure), which discovers new dependencies immediately; watches start for new ones and
//!   stop for ones no template uses any more (their data is forgotten).
//! - A render with every dependency present whose bytes differ from the file on disk is
//!   scheduled: `wait.min` after this change, re-armed by each change, never later than
//!   `wait.max` after the first change of the burst (no wait: at once).
//! - When due: stage the file, run `validate` against it, put it in place; after all due
//!   templates are written, their commands run in config order, each distinct command once.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::config::{Command, TemplateSpec, Wait};
use super::exec::RunnerEvent;
use super::source::Source;
use super::status::{self, CommandStatus, DepStatus, StatusBoard, TemplateStatus};
use super::tmpl::{Pending, Tmpl, FIRST_RETRY};
use super::watch::{self, Event};
use super::{command, write, Control, Outcome, RunnerOpts};
use crate::template::brain::Brain;
use crate::template::dep::Dep;

/// How often template sources are checked for edits.
const SOURCE_POLL: Duration = Duration::from_millis(500);

struct Watch {
    stop: CancellationToken,
    error: Option<String>,
}

struct Runner {
    opts: RunnerOpts,
    templates: Vec<Tmpl>,
    brain: Arc<Brain>,
    watches: HashMap<Dep, Watch>,
    source: Arc<dyn Source>,
    node_name: Arc<str>,
    tx: mpsc::UnboundedSender<Event>,
    status: StatusBoard,
    stop: CancellationToken,
    command_failed: bool,
}

/// Runs until `shutdown`, or until `-once` is done; see the module doc.
pub async fn run(
    opts: RunnerOpts,
    source: Arc<dyn Source>,
    node_name: Arc<str>,
    status: StatusBoard,
    mut control: mpsc::Receiver<Control>,
    shutdown: CancellationToken,
) -> Outcome {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let templates = opts.templates.iter().cloned().map(Tmpl::load).collect();
    let mut r = Runner {
        opts,
        templates,
        brain: Arc::new(Brain::new()),
        watches: HashMap::new(),
        source,
        node_name,
        tx,
        status,
        stop: shutdown.child_token(),
        command_failed: false,
    };
    let all: Vec<usize> = (0..r.templates.len()).collect();
    r.evaluate(&all);
    let give_up = r
        .opts
        .max_wait
        .filter(|_| r.opts.once)
        .map(|d| Instant::now() + d);
    let mut poll = tokio::time::interval(SOURCE_POLL);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut announced = false;
    let outcome = loop {
        if !announced && r.templates.iter().all(|t| t.done) {
            announced = true;
            r.tell(RunnerEvent::AllRendered);
        }
        if r.opts.once {
            let failed: Vec<String> = r
                .templates
                .iter()
                .filter(|t| !t.done)
                .filter_map(|t| t.failed.clone())
                .collect();
            if !failed.is_empty() {
                break Outcome::Failed(failed);
            }
        }
        if r.opts.once && r.templates.iter().all(|t| t.done) {
            r.fire_due(true).await;
            break if r.command_failed {
                Outcome::CommandFailed
            } else {
                Outcome::OnceDone
            };
        }
        let due = r
            .templates
            .iter()
            .filter_map(|t| t.pending.map(|p| p.due))
            .min();
        tokio::select! {
            _ = shutdown.cancelled() => break Outcome::Stopped,
            Some(ev) = rx.recv() => {
                let mut changed = HashSet::new();
                r.apply(ev, &mut changed);
                while let Ok(ev) = rx.try_recv() {
                    r.apply(ev, &mut changed);
                }
                let hit: Vec<usize> = (0..r.templates.len())
                    .filter(|i| r.templates[*i].uses_any(&changed))
                    .collect();
                r.evaluate(&hit);
            }
            _ = sleep_until(due), if due.is_some() => r.fire_due(false).await,
            Some(c) = control.recv() => match c {
                Control::Reload(specs, wait) => {
                    r.opts.wait = wait;
                    r.reload(specs);
                }
            },
            _ = poll.tick() => {
                let edited: Vec<usize> = (0..r.templates.len())
                    .filter(|i| r.templates[*i].reload_if_edited())
                    .collect();
                if !edited.is_empty() {
                    r.evaluate(&edited);
                }
            }
            _ = sleep_until(give_up), if give_up.is_some() => {
                break Outcome::OnceMissing(r.missing_report());
            }
        }
    };
    r.stop.cancel();
    outcome
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

impl Runner {
    fn tell(&self, ev: RunnerEvent) {
        if let Some(tx) = &self.opts.events {
            let _ = tx.send(ev);
        }
    }

    fn apply(&mut self, ev: Event, changed: &mut HashSet<Dep>) {
        match ev {
            Event::Data(dep, data) => {
                let Some(w) = self.watches.get_mut(&dep) else {
                    return; // no longer wanted: drop it rather than keep stale data
                };
                w.error = None;
                if Arc::make_mut(&mut self.brain).remember(dep.clone(), data) {
                    changed.insert(dep);
                }
            }
            Event::Error(dep, e) => {
                if let Some(w) = self.watches.get_mut(&dep) {
                    tracing::warn!("template: watching {}: {e} (retrying)", dep.describe());
                    w.error = Some(e);
                }
                self.publish();
            }
        }
    }

    /// Renders templates `which` in memory, schedules those whose output changed, and
    /// brings the watches in line with what every template now uses.
    fn evaluate(&mut self, which: &[usize]) {
        for &i in which {
            let wait = self.wait_for(i);
            let once = self.opts.once;
            let t = &mut self.templates[i];
            t.render(&self.brain);
            let Some(text) = &t.candidate else { continue };
            if !self.opts.dry && write::same_as_disk(&t.spec.destination, text.as_bytes()) {
                t.pending = None;
                t.done = true;
                continue;
            }
            let now = Instant::now();
            let first = t.pending.map_or(now, |p| p.first);
            let due = match wait {
                Some(w) if !once && !w.min.is_zero() => (now + w.min).min(first + w.max),
                _ => now,
            };
            t.pending = Some(Pending { first, due });
        }
        self.sync_watches();
        self.publish();
    }

    fn wait_for(&self, i: usize) -> Option<Wait> {
        self.templates[i].spec.wait.or(self.opts.wait)
    }

    fn sync_watches(&mut self) {
        let wanted: HashSet<Dep> = self
            .templates
            .iter()
            .flat_map(|t| t.used.iter().cloned())
            .collect();
        let gone: Vec<Dep> = self
            .watches
            .keys()
            .filter(|d| !wanted.contains(*d))
            .cloned()
            .collect();
        for dep in gone {
            if let Some(w) = self.watches.remove(&dep) {
                w.stop.cancel();
            }
            Arc::make_mut(&mut self.brain).forget(&dep);
        }
        for dep in wanted {
            if self.watches.contains_key(&dep) {
                continue;
            }
            let stop = self.stop.child_token();
            watch::spawn(
                dep.clone(),
                self.source.clone(),
                self.node_name.clone(),
                self.tx.clone(),
                stop.clone(),
            );
            self.watches.insert(dep, Watch { stop, error: None });
        }
    }

    /// Writes every due template (all pending ones when `all`), then runs their commands.
    async fn fire_due(&mut self, all: bool) {
        let now = Instant::now();
        let mut commands: Vec<(usize, Command)> = Vec::new();
        let mut wrote = false;
        for i in 0..self.templates.len() {
            let t = &mut self.templates[i];
            let Some(p) = t.pending else { continue };
            if !all && p.due > now {
                continue;
            }
            t.pending = None;
            let Some(text) = t.candidate.clone() else {
                continue;
            };
            if self.opts.dry {
                use std::io::Write as _;
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "> {}\n{text}", t.spec.destination.display());
                let _ = out.flush();
                t.done = true;
                continue;
            }
            match self.place(i, &text).await {
                Ok(true) => {
                    wrote = true;
                    let t = &mut self.templates[i];
                    t.done = true;
                    t.failed = None;
                    t.retry = FIRST_RETRY;
                    if let Some(c) = &t.spec.command {
                        if !commands.iter().any(|(_, x)| x == c) {
                            commands.push((i, c.clone()));
                        }
                    }
                }
                Ok(false) => {
                    let t = &mut self.templates[i];
                    t.done = true;
                    t.failed = None;
                    t.retry = FIRST_RETRY;
                }
                Err(e) => {
                    let t = &mut self.templates[i];
                    tracing::error!(
                        "template: {}: {e} (retrying in {:?})",
                        t.spec.name(),
                        t.retry
                    );
                    t.status.last_error = Some(e.clone());
                    t.failed = Some(e);
                    // A transient failure (disk full, a busy validator) must not leave a
                    // stale file until the next change: retry, backing off.
                    let due = Instant::now() + t.retry;
                    t.pending = Some(Pending { first: due, due });
                    t.retry = (t.retry * 2).min(Duration::from_secs(60));
                }
            }
        }
        if wrote {
            self.tell(RunnerEvent::Changed);
        }
        for (i, cmd) in commands {
            let timeout = self.templates[i].spec.command_timeout;
            let result = self.run_command(&cmd, timeout).await;
            match &result {
                Ok(_) => tracing::info!(
                    "template: {}: ran {:?}",
                    self.templates[i].spec.name(),
                    cmd.to_string()
                ),
                Err(e) => {
                    self.command_failed = true;
                    tracing::error!("template: {}: {e}", self.templates[i].spec.name());
                }
            }
            let (ok, output) = match result {
                Ok(o) => (true, o),
                Err(e) => (false, e),
            };
            self.templates[i].status.last_command = Some(CommandStatus {
                command: cmd.to_string(),
                at: status::now(),
                ok,
                output,
            });
        }
        self.publish();
    }

    /// Runs `cmd`, abandoning it (its process group is killed) if the runner is stopped.
    async fn run_command(&self, cmd: &Command, timeout: Duration) -> Result<String, String> {
        tokio::select! {
            r = command::run(cmd, timeout) => r,
            _ = self.stop.cancelled() => Err(format!("command {:?} stopped: shutting down", cmd.to_string())),
        }
    }

    /// Stages, validates and places template `i`'s text; Ok(false) if the disk already had it.
    async fn place(&mut self, i: usize, text: &str) -> Result<bool, String> {
        let t = &self.templates[i];
        let dest = t.spec.destination.clone();
        if write::same_as_disk(&dest, text.as_bytes()) {
            return Ok(false);
        }
        let opts = t.write_opts()?;
        let staged = write::stage(&dest, text.as_bytes(), &opts)?;
        if let Some(v) = &t.spec.validate {
            let cmd = command::validate_command(v, &staged.temp);
            let timeout = t.spec.command_timeout;
            if let Err(e) = self.run_command(&cmd, timeout).await {
                staged.discard();
                return Err(format!(
                    "validate failed, {} left as it was: {e}",
                    dest.display()
                ));
            }
        }
        if let write::Placed::InPlace(why) = staged.commit()? {
            tracing::warn!(
                "template: {}: rename failed ({why}); wrote the file in place (a single bind-mounted file?)",
                dest.display()
            );
        }
        let t = &mut self.templates[i];
        t.status.last_write = Some(status::now());
        t.status.last_error = None;
        tracing::info!("template: rendered {}", dest.display());
        Ok(true)
    }

    fn reload(&mut self, specs: Vec<TemplateSpec>) {
        tracing::info!("template: reloading {} template(s)", specs.len());
        let mut next = Vec::with_capacity(specs.len());
        for spec in specs {
            // The same template (same spec, or failing that the same destination) keeps its
            // state (pending write, status) and re-reads its source; a broken source keeps
            // the last good version under the new settings.
            let old = self
                .templates
                .iter()
                .position(|o| o.spec == spec)
                .or_else(|| {
                    self.templates
                        .iter()
                        .position(|o| o.spec.destination == spec.destination)
                });
            match old {
                Some(i) => {
                    let mut t = self.templates.swap_remove(i);
                    t.respec(spec);
                    next.push(t);
                }
                None => next.push(Tmpl::load(spec)),
            }
        }
        self.templates = next;
        let all: Vec<usize> = (0..self.templates.len()).collect();
        self.evaluate(&all);
    }

    fn publish(&self) {
        let all = self
            .templates
            .iter()
            .map(|t| {
                let deps = t
                    .used
                    .iter()
                    .map(|d| DepStatus {
                        name: d.describe(),
                        has_data: self.brain.recall(d).is_some(),
                        error: self.watches.get(d).and_then(|w| w.error.clone()),
                    })
                    .collect();
                TemplateStatus {
                    deps,
                    ..t.status.clone()
                }
            })
            .collect();
        self.status.set(all);
    }

    fn missing_report(&self) -> Vec<String> {
        let mut out = Vec::new();
        for t in &self.templates {
            for d in &t.missing {
                let why = self.watches.get(d).and_then(|w| w.error.clone());
                out.push(match why {
                    Some(e) => format!("{}: {} ({e})", t.spec.name(), d.describe()),
                    None => format!("{}: {}", t.spec.name(), d.describe()),
                });
            }
            if t.missing.is_empty() && !t.done {
                if let Some(e) = &t.status.last_error {
                    out.push(format!("{}: {e}", t.spec.name()));
                }
            }
        }
        out
    }
}
