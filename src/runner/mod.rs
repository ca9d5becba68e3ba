//! consul-template's job inside Berth: keep files equal to what their templates render from
//! the catalog, and run the consumer's reload only when a file changed, never leaving it
//! broken (a failed `validate` keeps the old file; a failed render keeps the last output).
//!
//! - `config.rs`: `-template`, `-wait`, `template { ... }` blocks.
//! - `source.rs`: where data comes from (this agent in-process, or another over HTTP);
//!   `fetch.rs`: a dependency as an API query and its answer as brain data.
//! - `watch.rs`: one blocking-query watch per unique dependency.
//! - `run.rs`: the loop (render, quiescence, write, commands); `tmpl.rs`: one template's state.
//! - `write.rs`: atomic writes; `command.rs`: commands and `validate`.
//! - `status.rs`: `GET /v1/agent/templates`.

pub mod command;
pub mod config;
pub mod exec;
pub mod fetch;
mod run;
pub mod source;
pub mod status;
mod tmpl;
pub mod watch;
pub mod write;

use std::time::Duration;

pub use config::{parse_template_flag, parse_wait, TemplateSpec, Wait};
pub use run::run;
pub use status::StatusBoard;

/// What the runner runs.
#[derive(Debug, Clone, Default)]
pub struct RunnerOpts {
    /// The templates, in config order (commands run in this order).
    pub templates: Vec<TemplateSpec>,
    /// Global quiescence (`-wait`), for templates without their own.
    pub wait: Option<Wait>,
    /// `-once`: render everything once, run the commands, stop.
    pub once: bool,
    /// `-dry`: print to stdout instead of writing; never run commands.
    pub dry: bool,
    /// With `-once`: give up after this long, naming what is still missing.
    pub max_wait: Option<Duration>,
    /// Told when every template has rendered and when a pass wrote files (`-exec`).
    pub events: Option<tokio::sync::mpsc::UnboundedSender<exec::RunnerEvent>>,
}

/// Messages to a running runner.
#[derive(Debug)]
pub enum Control {
    /// New template list and global wait (SIGHUP): sources are read again; broken ones keep
    /// their last good version.
    Reload(Vec<TemplateSpec>, Option<Wait>),
}

/// How the runner ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Asked to stop.
    Stopped,
    /// `-once`: every template rendered and every command succeeded.
    OnceDone,
    /// `-once`: rendered, but a command failed.
    CommandFailed,
    /// `-once`: `max_wait` passed with these dependencies (or errors) outstanding.
    OnceMissing(Vec<String>),
    /// `-once`: a template failed to render, validate or write (these errors).
    Failed(Vec<String>),
}

/// Checks every template has a destination and can be read and parsed (at start-up, where a
/// broken template is a configuration error); the error names the file.
pub fn preflight(specs: &[TemplateSpec]) -> Result<(), String> {
    for s in specs {
        if s.destination.as_os_str().is_empty() {
            return Err(format!("template {}: destination is required", s.name()));
        }
    }
    preflight_parse(specs)
}

/// Checks every template can be read and parsed.
pub fn preflight_parse(specs: &[TemplateSpec]) -> Result<(), String> {
    for s in specs {
        tmpl::parse(s)?;
    }
    Ok(())
}
