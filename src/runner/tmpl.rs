//! One template inside the runner: its spec, its last good parse, what its last render used
//! and produced, its pending write, and its status.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::SystemTime;

use tokio::time::Instant;

use super::config::TemplateSpec;
use super::status::{self, TemplateStatus};
use super::write::{self, WriteOpts};
use crate::template::brain::Brain;
use crate::template::dep::Dep;
use crate::template::{Options, Template};

/// A scheduled write: the burst began at `first`; write at `due`.
#[derive(Debug, Clone, Copy)]
pub struct Pending {
    /// First change of this burst.
    pub first: Instant,
    /// When to write.
    pub due: Instant,
}

/// A template and its runtime state.
pub struct Tmpl {
    /// What the user configured.
    pub spec: TemplateSpec,
    /// The last source that parsed.
    pub parsed: Option<Template>,
    /// Dependencies the last render touched.
    pub used: Vec<Dep>,
    /// Of those, the ones still without data.
    pub missing: Vec<Dep>,
    /// The last complete render's text (None while data is missing or after an error).
    pub candidate: Option<String>,
    /// A write waiting for quiescence.
    pub pending: Option<Pending>,
    /// Rendered with all data at least once and on disk (for `-once`).
    pub done: bool,
    /// What status shows.
    pub status: TemplateStatus,
    /// The last render, validate or write failure with nothing missing (`-once` stops on it).
    pub failed: Option<String>,
    /// Delay before retrying a failed write (doubles to a minute; reset by a good write).
    pub retry: std::time::Duration,
    stamp: Option<(u64, Option<SystemTime>)>,
}

/// First retry delay after a failed write.
pub const FIRST_RETRY: std::time::Duration = std::time::Duration::from_secs(1);

/// Reads and parses a template's source; the error names the file.
pub fn parse(spec: &TemplateSpec) -> Result<Template, String> {
    let (name, text) = match (&spec.source, &spec.contents) {
        (Some(p), _) => {
            let text = std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
            (p.display().to_string(), text)
        }
        (None, Some(c)) => ("(inline)".to_string(), c.clone()),
        (None, None) => return Err("template has neither source nor contents".into()),
    };
    let opts = Options {
        left_delim: spec.left_delimiter.clone(),
        right_delim: spec.right_delimiter.clone(),
        error_on_missing_key: spec.error_on_missing_key,
        function_denylist: spec.function_denylist.clone(),
    };
    Template::parse(&name, &text, &opts).map_err(|e| e.to_string())
}

fn stamp(spec: &TemplateSpec) -> Option<(u64, Option<SystemTime>)> {
    let m = std::fs::metadata(spec.source.as_ref()?).ok()?;
    Some((m.len(), m.modified().ok()))
}

impl Tmpl {
    /// Loads `spec`; a parse error is kept in status (and `parsed` stays None).
    pub fn load(spec: TemplateSpec) -> Tmpl {
        let mut status = TemplateStatus {
            source: spec.name(),
            destination: spec.destination.display().to_string(),
            ..TemplateStatus::default()
        };
        let parsed = match parse(&spec) {
            Ok(t) => Some(t),
            Err(e) => {
                tracing::error!("template: {e}");
                status.last_error = Some(e);
                None
            }
        };
        Tmpl {
            stamp: stamp(&spec),
            spec,
            parsed,
            used: Vec::new(),
            missing: Vec::new(),
            candidate: None,
            pending: None,
            done: false,
            status,
            failed: None,
            retry: FIRST_RETRY,
        }
    }

    /// Takes `spec` (a reload) and reads the source again; a source that no longer parses
    /// keeps the last good template and says why.
    pub fn respec(&mut self, spec: TemplateSpec) {
        self.stamp = stamp(&spec);
        match parse(&spec) {
            Ok(t) => {
                self.parsed = Some(t);
                self.status.last_error = None;
            }
            Err(e) => {
                tracing::error!("template: {e} (keeping the previous version)");
                self.status.last_error = Some(e);
            }
        }
        self.status.source = spec.name();
        self.status.destination = spec.destination.display().to_string();
        self.spec = spec;
    }

    /// Re-parses the source if it changed on disk; true if the new version parsed (a broken
    /// edit keeps the last good template and says why in status).
    pub fn reload_if_edited(&mut self) -> bool {
        let now = stamp(&self.spec);
        if now.is_none() || now == self.stamp {
            return false;
        }
        self.stamp = now;
        match parse(&self.spec) {
            Ok(t) => {
                tracing::info!("template: {} changed; re-rendering", self.spec.name());
                self.parsed = Some(t);
                self.status.last_error = None;
                true
            }
            Err(e) => {
                tracing::error!("template: {e} (keeping the previous version)");
                self.status.last_error = Some(e);
                false
            }
        }
    }

    /// Whether the last render used any of `deps` (a template never rendered uses everything).
    pub fn uses_any(&self, deps: &HashSet<Dep>) -> bool {
        self.used.is_empty() || self.used.iter().any(|d| deps.contains(d))
    }

    /// Renders against `brain`, keeping what it used; `candidate` is set only when nothing
    /// was missing and the render succeeded.
    pub fn render(&mut self, brain: &Arc<Brain>) {
        let Some(t) = &self.parsed else {
            self.candidate = None;
            return;
        };
        let (result, used, missing) = t.render_tracked(brain.clone());
        self.used = used;
        self.missing = missing;
        match result {
            Ok(text) if self.missing.is_empty() => {
                self.status.last_render = Some(status::now());
                self.candidate = Some(text);
                self.failed = None;
            }
            Ok(_) => self.candidate = None,
            Err(e) => {
                self.candidate = None;
                self.pending = None;
                if self.missing.is_empty() {
                    tracing::error!("template: {e} (keeping the last good output)");
                    self.failed = Some(e.to_string());
                }
                self.status.last_error = Some(e.to_string());
            }
        }
    }

    /// Mode and owner settings for writing.
    pub fn write_opts(&self) -> Result<WriteOpts, String> {
        let id = |what: &str, v: &Option<String>| {
            v.as_deref().map(|n| write::resolve_id(what, n)).transpose()
        };
        Ok(WriteOpts {
            perms: self.spec.perms,
            uid: id("user", &self.spec.user)?,
            gid: id("group", &self.spec.group)?,
            backup: self.spec.backup,
            create_dirs: self.spec.create_dest_dirs,
        })
    }
}
