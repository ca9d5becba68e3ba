//! Reading config files and directories and merging every source in order:
//! defaults (in `build`) < `-dev` defaults < files in command-line order < flags.

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::build::{build, BuildOptions};
use super::file::FileConfig;
use super::{AgentFlags, ConfigErrors, RuntimeConfig};

/// Config file syntax.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigFormat {
    /// `.json`, read with serde_json.
    Json,
    /// `.hcl`, HCL2 read with hcl-rs.
    Hcl,
}

impl ConfigFormat {
    /// The format a file's extension implies, if any.
    fn of(path: &Path) -> Option<ConfigFormat> {
        match path.extension()?.to_str()? {
            "json" => Some(ConfigFormat::Json),
            "hcl" => Some(ConfigFormat::Hcl),
            _ => None,
        }
    }
}

/// Builds the runtime config from the agent's flags: reads every `-config-file`/`-config-dir`
/// (again, on each call, so SIGHUP reloads see edits), applies the flags, validates.
pub fn load(flags: &AgentFlags) -> Result<RuntimeConfig, ConfigErrors> {
    let opts = BuildOptions {
        dev: flags.dev,
        require_data_dir: true,
    };
    load_with(
        &flags.config_paths,
        flags.config_format,
        flags.overlay.clone(),
        opts,
    )
}

/// Checks files and directories the way `berth validate` does: the same loader and rules,
/// except that a missing `data_dir` is not an error (Consul's validate skips that check,
/// because `data_dir` is usually given as a flag).
pub fn validate_paths(paths: &[PathBuf]) -> Result<(), ConfigErrors> {
    if paths.is_empty() {
        return Err(ConfigErrors(vec![
            "Must specify at least one config file or directory".into(),
        ]));
    }
    let opts = BuildOptions {
        dev: false,
        require_data_dir: false,
    };
    load_with(paths, None, FileConfig::default(), opts).map(|_| ())
}

/// Reads `paths`, merges `overlay` last, and builds.
fn load_with(
    paths: &[PathBuf],
    format: Option<ConfigFormat>,
    overlay: FileConfig,
    opts: BuildOptions,
) -> Result<RuntimeConfig, ConfigErrors> {
    let mut sources = Sources::default();
    for path in paths {
        sources.read_path(path, format);
    }
    let mut merged = sources.config;
    merged.merge(overlay);
    if sources.unreadable {
        // Settings from the broken file are missing, so validation would only add noise.
        return Err(ConfigErrors(sources.errors));
    }
    let mut errors = sources.errors;
    match build(merged, opts) {
        Ok(mut rc) if errors.is_empty() => {
            rc.warnings.extend(sources.warnings);
            Ok(rc)
        }
        Ok(_) => Err(ConfigErrors(errors)),
        Err(more) => {
            errors.extend(more);
            Err(ConfigErrors(errors))
        }
    }
}

/// Everything read so far.
#[derive(Default)]
struct Sources {
    /// Merged settings of the files read.
    config: FileConfig,
    /// `source: key: reason` lines.
    errors: Vec<String>,
    /// Skipped files, shown by the agent at start.
    warnings: Vec<String>,
    /// Some file could not be read or parsed at all.
    unreadable: bool,
}

impl Sources {
    /// Reads a file, or a directory's `*.json`/`*.hcl` files in lexical order (not recursive).
    fn read_path(&mut self, path: &Path, format: Option<ConfigFormat>) {
        let meta = match fs::metadata(path) {
            Ok(m) => m,
            Err(e) => return self.fail(path, e),
        };
        if !meta.is_dir() {
            return self.read_file(path, format);
        }
        let entries = match fs::read_dir(path) {
            Ok(rd) => rd
                .filter_map(Result::ok)
                .map(|e| e.path())
                .collect::<Vec<_>>(),
            Err(e) => return self.fail(path, e),
        };
        let mut files: Vec<PathBuf> = entries.into_iter().filter(|p| p.is_file()).collect();
        files.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
        for file in files {
            self.read_file(&file, format);
        }
    }

    /// Reads one file if its extension (or `-config-format`) says how; warns otherwise.
    fn read_file(&mut self, path: &Path, format: Option<ConfigFormat>) {
        let Some(fmt) = format.or_else(|| ConfigFormat::of(path)) else {
            self.warnings.push(format!(
                "skipping file {}, extension must be .hcl or .json, or config format must be set",
                path.display()
            ));
            return;
        };
        let text = match fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => return self.fail(path, e),
        };
        let parsed: Result<Value, String> = match fmt {
            ConfigFormat::Json => serde_json::from_str(&text).map_err(|e| e.to_string()),
            ConfigFormat::Hcl => hcl::from_str(&text).map_err(|e| e.to_string()),
        };
        match parsed {
            Ok(v) => {
                let source = path.display().to_string();
                let cfg = FileConfig::from_value(&v, &source, &mut self.errors);
                self.config.merge(cfg);
            }
            Err(e) => self.fail(path, format!("parse error: {e}")),
        }
    }

    /// Records a file that could not be used at all.
    fn fail(&mut self, path: &Path, reason: impl std::fmt::Display) {
        self.errors.push(format!("{}: {reason}", path.display()));
        self.unreadable = true;
    }
}
