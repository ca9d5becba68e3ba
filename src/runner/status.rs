//! What each template is doing, so "why is my file not rendered" has an answer:
//! `GET /v1/agent/templates` (our own endpoint) and `berth template -status` show every
//! template's dependencies with their data state, the last render, write, command result and
//! error.

use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

/// One dependency of a template.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DepStatus {
    /// consul-template's name for it (`health.service(web|passing)`).
    #[serde(rename = "Dependency")]
    pub name: String,
    /// Whether data has arrived.
    #[serde(rename = "HasData")]
    pub has_data: bool,
    /// The watch's last error, if its last attempt failed.
    #[serde(rename = "Error")]
    pub error: Option<String>,
}

/// A command's last run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CommandStatus {
    /// The command.
    #[serde(rename = "Command")]
    pub command: String,
    /// When it ran (RFC 3339).
    #[serde(rename = "At")]
    pub at: String,
    /// Whether it exited 0.
    #[serde(rename = "Ok")]
    pub ok: bool,
    /// Its output, or why it failed.
    #[serde(rename = "Output")]
    pub output: String,
}

/// One template.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct TemplateStatus {
    /// Source path, or `(inline)`.
    #[serde(rename = "Source")]
    pub source: String,
    /// Output path.
    #[serde(rename = "Destination")]
    pub destination: String,
    /// Dependencies the last render used.
    #[serde(rename = "Dependencies")]
    pub deps: Vec<DepStatus>,
    /// When it last rendered with all its data (RFC 3339).
    #[serde(rename = "LastRender")]
    pub last_render: Option<String>,
    /// When the destination was last written.
    #[serde(rename = "LastWrite")]
    pub last_write: Option<String>,
    /// Its reload command's last run.
    #[serde(rename = "LastCommand")]
    pub last_command: Option<CommandStatus>,
    /// The last parse, render, validate or write error (cleared by a good write).
    #[serde(rename = "LastError")]
    pub last_error: Option<String>,
}

/// Shared between the runner (writer) and the HTTP API (reader).
#[derive(Debug, Clone, Default)]
pub struct StatusBoard(Arc<Mutex<Vec<TemplateStatus>>>);

impl StatusBoard {
    /// A copy of every template's status.
    pub fn snapshot(&self) -> Vec<TemplateStatus> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Replaces the whole board (the runner owns the truth).
    pub fn set(&self, all: Vec<TemplateStatus>) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = all;
    }
}

/// Now, as RFC 3339 with milliseconds.
pub fn now() -> String {
    humantime::format_rfc3339_millis(SystemTime::now()).to_string()
}
