//! Persisting API-registered services and checks in `data_dir/agent/local.json`, so a restart
//! re-registers them (Consul keeps them under `data_dir/services` and `data_dir/checks`).
//! Config-file entries are not persisted: the files are read again at start.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::definition::{CheckDefinition, CheckKind};
use super::{LocalCheck, LocalState, Source};
use crate::model::{Check, Service};

/// The file's contents.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Persisted {
    /// API-registered services.
    pub services: Vec<Service>,
    /// API-registered checks with how they run and their last status.
    pub checks: Vec<PersistedCheck>,
}

/// One persisted check.
#[derive(Debug, Serialize, Deserialize)]
pub struct PersistedCheck {
    /// The check as last known (status and output are restored).
    pub check: Check,
    /// How it runs.
    pub kind: CheckKind,
    /// Its definition.
    pub definition: CheckDefinition,
}

/// Why the local state could not be saved or loaded.
#[derive(Debug, thiserror::Error)]
pub enum PersistError {
    /// Reading or writing the file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is not valid.
    #[error("{path}: corrupt agent state: {source}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// The decode error.
        source: serde_json::Error,
    },
}

/// Path of the state file under a data dir.
pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join("agent").join("local.json")
}

/// What to persist from the local state.
pub fn capture(local: &LocalState) -> Persisted {
    Persisted {
        services: local
            .services
            .values()
            .filter(|s| s.source == Source::Api)
            .map(|s| s.service.clone())
            .collect(),
        checks: local
            .checks
            .values()
            .filter(|c| c.source == Source::Api)
            .map(|c| PersistedCheck {
                check: persisted_check(c),
                kind: c.kind.clone(),
                definition: c.definition.clone(),
            })
            .collect(),
    }
}

/// The check as persisted: TTL checks keep their last status and output (nothing else would
/// restore them after a restart); checks that run come back critical until their first run,
/// as in Consul (a service that died with the agent must not look healthy), and their results
/// do not rewrite the file on every status change.
fn persisted_check(c: &LocalCheck) -> Check {
    let mut check = c.check.clone();
    if c.kind != CheckKind::Ttl {
        check.status = crate::model::Health::Critical;
        check.output = String::new();
    }
    check
}

/// Writes atomically: temp file, fsync, rename.
pub fn save(file: &Path, state: &Persisted) -> Result<(), PersistError> {
    let io = |source| PersistError::Io {
        path: file.to_path_buf(),
        source,
    };
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let tmp = file.with_extension("json.tmp");
    let bytes = serde_json::to_vec_pretty(state).expect("agent state always serializes");
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&tmp).map_err(io)?;
        f.write_all(&bytes).map_err(io)?;
        f.sync_all().map_err(io)?;
    }
    std::fs::rename(&tmp, file).map_err(io)
}

/// Reads the file; a missing file is an empty state.
pub fn load(file: &Path) -> Result<Persisted, PersistError> {
    match std::fs::read(file) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|source| PersistError::Corrupt {
            path: file.to_path_buf(),
            source,
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Persisted::default()),
        Err(source) => Err(PersistError::Io {
            path: file.to_path_buf(),
            source,
        }),
    }
}

/// Puts persisted entries back into the local state (TTL timers restart from now).
pub fn restore(local: &mut LocalState, p: Persisted) {
    for s in p.services {
        local.put_service(s, Source::Api);
    }
    for c in p.checks {
        let ttl_deadline = c
            .definition
            .ttl
            .map(|ttl| tokio::time::Instant::now() + ttl);
        let critical_since =
            (c.check.status == crate::model::Health::Critical).then(tokio::time::Instant::now);
        local.put_check(LocalCheck {
            critical_since,
            output_deferred: false,
            generation: 0,
            check: c.check,
            kind: c.kind,
            definition: c.definition,
            source: Source::Api,
            ttl_deadline,
            rev: 0,
            in_sync: false,
        });
    }
}
