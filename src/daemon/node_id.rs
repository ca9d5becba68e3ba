//! The node's identity on disk: its UUID (persisted in `data_dir/node-id`) and Raft's numeric ID.

use std::path::Path;

use super::DaemonError;
use crate::config::RuntimeConfig;

/// The node UUID: from config, else persisted in `data_dir/node-id`, else generated (and
/// persisted when there is a data dir).
pub(super) fn node_id(
    config: &RuntimeConfig,
    data_dir: Option<&Path>,
) -> Result<String, DaemonError> {
    if let Some(id) = &config.node_id {
        return Ok(id.clone());
    }
    let Some(dir) = data_dir else {
        return Ok(uuid::Uuid::new_v4().to_string());
    };
    let path = dir.join("node-id");
    match std::fs::read_to_string(&path) {
        Ok(s) if uuid::Uuid::parse_str(s.trim()).is_ok() => Ok(s.trim().to_string()),
        Ok(_) => Err(DaemonError::Io {
            what: format!("reading {}", path.display()),
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, "not a UUID"),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let id = uuid::Uuid::new_v4().to_string();
            std::fs::write(&path, &id).map_err(|source| DaemonError::Io {
                what: format!("writing {}", path.display()),
                source,
            })?;
            Ok(id)
        }
        Err(source) => Err(DaemonError::Io {
            what: format!("reading {}", path.display()),
            source,
        }),
    }
}

/// Raft's numeric node ID: the first 8 bytes of the node UUID (`crate::raft::raft_id`).
pub(super) fn raft_id(node_id: &str) -> u64 {
    crate::raft::raft_id(node_id)
}
