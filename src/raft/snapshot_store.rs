//! Where Raft snapshots live: files in `data_dir/raft/snapshots/`, or memory in dev mode.
//!
//! A snapshot is one JSON envelope (`Envelope`): openraft's `SnapshotMeta` plus the catalog's
//! own snapshot bytes (base64). The same bytes are the file's content and the data openraft
//! ships to followers. Files are named `<term>-<index>.snap`, written to a temp file, fsynced,
//! renamed and the directory fsynced; the newest two are kept.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use base64::Engine as _;
use serde::Deserialize;

use super::SnapshotMeta;

/// Snapshot files kept on disk: the newest and one fallback in case it is damaged.
const KEEP: usize = 2;

/// Why a snapshot could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// The file system refused.
    #[error("snapshot {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The snapshot could not be serialised (a bug, never bad input).
    #[error("cannot encode raft snapshot: {0}")]
    Encode(String),
    /// The bytes are not a snapshot we wrote (truncated, edited, other program).
    #[error("snapshot {name} is corrupt: {reason}")]
    Corrupt {
        /// The file, or `received` for one sent by the leader.
        name: String,
        /// What did not decode.
        reason: String,
    },
}

/// One snapshot: Raft's metadata and the catalog's bytes.
///
/// Encoded as `MAGIC`, the metadata as one JSON line, then the catalog bytes as they are (no
/// second encoding: a snapshot of a large catalog is written, fsynced and sent as small as the
/// catalog itself). Files of the first format (one JSON document with the catalog in base64)
/// still decode.
#[derive(Debug)]
pub struct Envelope {
    /// Last log id and membership the snapshot covers.
    pub meta: SnapshotMeta,
    /// `catalog::Store::snapshot()` output.
    catalog: Vec<u8>,
}

/// First bytes of a snapshot in the current format.
const MAGIC: &[u8] = b"berth-snapshot-v2\n";

/// The first format: one JSON document, catalog in base64.
#[derive(Deserialize)]
struct EnvelopeV1 {
    /// Raft metadata.
    meta: SnapshotMeta,
    /// Base64 catalog bytes.
    catalog: String,
}

impl Envelope {
    /// Wraps catalog bytes with the Raft metadata they correspond to.
    pub fn new(meta: SnapshotMeta, catalog: &[u8]) -> Envelope {
        Envelope {
            meta,
            catalog: catalog.to_vec(),
        }
    }

    /// Encodes to the bytes stored in files and sent to followers.
    pub fn encode(&self) -> Result<Vec<u8>, SnapshotError> {
        Envelope::encode_parts(&self.meta, &self.catalog)
    }

    /// Encodes metadata and catalog bytes without building an `Envelope` (no copy).
    pub fn encode_parts(meta: &SnapshotMeta, catalog: &[u8]) -> Result<Vec<u8>, SnapshotError> {
        let head = serde_json::to_vec(meta).map_err(|e| SnapshotError::Encode(e.to_string()))?;
        let mut out = Vec::with_capacity(MAGIC.len() + head.len() + 1 + catalog.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&head);
        out.push(b'\n');
        out.extend_from_slice(catalog);
        Ok(out)
    }

    /// Decodes bytes from a file or a leader; `name` says which in the error.
    pub fn decode(bytes: &[u8], name: &str) -> Result<(Envelope, Vec<u8>), SnapshotError> {
        let corrupt = |reason: String| SnapshotError::Corrupt {
            name: name.to_string(),
            reason,
        };
        if let Some(rest) = bytes.strip_prefix(MAGIC) {
            let end = rest
                .iter()
                .position(|b| *b == b'\n')
                .ok_or_else(|| corrupt("no end to the metadata line".into()))?;
            let meta: SnapshotMeta =
                serde_json::from_slice(&rest[..end]).map_err(|e| corrupt(e.to_string()))?;
            let catalog = rest[end + 1..].to_vec();
            let env = Envelope {
                meta,
                catalog: Vec::new(),
            };
            return Ok((env, catalog));
        }
        let v1: EnvelopeV1 = serde_json::from_slice(bytes).map_err(|e| corrupt(e.to_string()))?;
        let catalog = base64::engine::general_purpose::STANDARD
            .decode(v1.catalog.as_bytes())
            .map_err(|e| corrupt(e.to_string()))?;
        let env = Envelope {
            meta: v1.meta,
            catalog: Vec::new(),
        };
        Ok((env, catalog))
    }
}

/// The snapshot openraft currently serves (to followers and to `get_current_snapshot`).
struct Current {
    /// Its metadata.
    meta: SnapshotMeta,
    /// Its bytes in memory (dev mode), or None when they are in `file`.
    bytes: Option<Vec<u8>>,
    /// Its file (file-backed mode).
    file: Option<PathBuf>,
}

/// Snapshot persistence shared by the state machine and its snapshot builders.
pub struct SnapshotStore {
    /// The snapshot directory; None = dev mode, memory only.
    dir: Option<PathBuf>,
    /// The newest snapshot saved or installed.
    current: Mutex<Option<Current>>,
}

impl SnapshotStore {
    /// A store over `dir` (created if missing), or an in-memory one.
    pub fn new(dir: Option<PathBuf>) -> Result<SnapshotStore, SnapshotError> {
        if let Some(d) = &dir {
            fs::create_dir_all(d).map_err(|e| io(d, e))?;
            remove_leftover_tmp(d)?;
        }
        Ok(SnapshotStore {
            dir,
            current: Mutex::new(None),
        })
    }

    /// The snapshot directory, for messages.
    pub fn describe(&self) -> String {
        self.dir
            .as_ref()
            .map_or_else(|| "memory".into(), |d| d.display().to_string())
    }

    /// Hands the newest snapshot that decodes to `restore` and returns its metadata; a file
    /// that does not decode, or that `restore` rejects, is logged by name and the next older
    /// one is tried; bad files are renamed to `*.snap.corrupt` so pruning never keeps them
    /// over good ones. Blocking: call at start, before the runtime drives the state machine.
    pub fn load_newest<F>(&self, mut restore: F) -> Result<Option<SnapshotMeta>, SnapshotError>
    where
        F: FnMut(&[u8]) -> Result<(), String>,
    {
        let Some(dir) = &self.dir else {
            return Ok(None);
        };
        for path in list(dir)? {
            let name = path.display().to_string();
            let loaded = fs::read(&path)
                .map_err(|e| io(&path, e))
                .and_then(|b| Envelope::decode(&b, &name))
                .and_then(|(env, catalog)| {
                    restore(&catalog).map_err(|reason| SnapshotError::Corrupt { name, reason })?;
                    Ok(env)
                });
            match loaded {
                Ok(env) => {
                    self.set_current(&env.meta, None, Some(path));
                    return Ok(Some(env.meta));
                }
                Err(e) => set_aside(&path, &e),
            }
        }
        Ok(None)
    }

    /// Persists `bytes` (an encoded `Envelope`) and makes it current unless a newer one is.
    pub async fn save(&self, meta: &SnapshotMeta, bytes: Vec<u8>) -> Result<(), SnapshotError> {
        match &self.dir {
            None => self.set_current(meta, Some(bytes), None),
            Some(dir) => {
                let (dir, name) = (dir.clone(), file_name(meta));
                let path = tokio::task::spawn_blocking(move || write_atomic(&dir, &name, &bytes))
                    .await
                    .map_err(|e| io(Path::new(&file_name(meta)), std::io::Error::other(e)))??;
                self.set_current(meta, None, Some(path));
            }
        }
        Ok(())
    }

    /// The current snapshot's metadata and bytes, if any.
    pub async fn current(&self) -> Result<Option<(SnapshotMeta, Vec<u8>)>, SnapshotError> {
        let (meta, bytes, file) = {
            let cur = self.current.lock().unwrap_or_else(|e| e.into_inner());
            match cur.as_ref() {
                None => return Ok(None),
                Some(c) => (c.meta.clone(), c.bytes.clone(), c.file.clone()),
            }
        };
        match (bytes, file) {
            (Some(b), _) => Ok(Some((meta, b))),
            (None, Some(f)) => {
                let read = tokio::task::spawn_blocking(move || fs::read(&f).map_err(|e| io(&f, e)))
                    .await
                    .map_err(|e| io(Path::new("snapshot"), std::io::Error::other(e)))??;
                Ok(Some((meta, read)))
            }
            (None, None) => Ok(None),
        }
    }

    /// Records the current snapshot unless one covering a later log entry is already current.
    fn set_current(&self, meta: &SnapshotMeta, bytes: Option<Vec<u8>>, file: Option<PathBuf>) {
        let mut cur = self.current.lock().unwrap_or_else(|e| e.into_inner());
        if cur
            .as_ref()
            .is_some_and(|c| c.meta.last_log_id > meta.last_log_id)
        {
            return;
        }
        *cur = Some(Current {
            meta: meta.clone(),
            bytes,
            file,
        });
    }
}

/// `<term>-<index>.snap` of the last log entry the snapshot covers (`0-0` for none).
fn file_name(meta: &SnapshotMeta) -> String {
    let (term, index) = meta
        .last_log_id
        .map_or((0, 0), |l| (l.leader_id.term, l.index));
    format!("{term}-{index}.snap")
}

/// Parses `<term>-<index>.snap` back into (term, index).
fn parse_name(name: &str) -> Option<(u64, u64)> {
    let (term, index) = name.strip_suffix(".snap")?.split_once('-')?;
    Some((term.parse().ok()?, index.parse().ok()?))
}

/// Snapshot files in `dir`, newest first.
fn list(dir: &Path) -> Result<Vec<PathBuf>, SnapshotError> {
    let mut found = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| io(dir, e))? {
        let path = entry.map_err(|e| io(dir, e))?.path();
        if let Some(key) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(parse_name)
        {
            found.push((key, path));
        }
    }
    found.sort_by_key(|(key, _)| std::cmp::Reverse(*key));
    Ok(found.into_iter().map(|(_, p)| p).collect())
}

/// Writes `dir/name` atomically and durably, then drops all but the newest `KEEP` files.
fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> Result<PathBuf, SnapshotError> {
    let path = dir.join(name);
    let tmp = dir.join(format!("{name}.tmp"));
    let mut f = fs::File::create(&tmp).map_err(|e| io(&tmp, e))?;
    f.write_all(bytes)
        .and_then(|_| f.sync_all())
        .map_err(|e| io(&tmp, e))?;
    drop(f);
    fs::rename(&tmp, &path).map_err(|e| io(&path, e))?;
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io(dir, e))?;
    for old in list(dir)?.into_iter().skip(KEEP) {
        if let Err(e) = fs::remove_file(&old) {
            tracing::warn!(file = %old.display(), error = %e, "cannot remove old raft snapshot");
        }
    }
    Ok(path)
}

/// Renames an unloadable snapshot out of the way (kept for inspection) and logs why.
fn set_aside(path: &Path, why: &SnapshotError) {
    let aside = path.with_extension("snap.corrupt");
    tracing::warn!(error = %why, moved_to = %aside.display(), "skipping unreadable raft snapshot");
    if let Err(e) = fs::rename(path, &aside) {
        tracing::warn!(file = %path.display(), error = %e, "cannot set aside corrupt raft snapshot");
    }
}

/// Removes temp files of snapshot writes a crash interrupted (only at open: none in flight).
fn remove_leftover_tmp(dir: &Path) -> Result<(), SnapshotError> {
    for entry in fs::read_dir(dir).map_err(|e| io(dir, e))? {
        let path = entry.map_err(|e| io(dir, e))?.path();
        if path.to_str().is_some_and(|p| p.ends_with(".snap.tmp")) {
            if let Err(e) = fs::remove_file(&path) {
                tracing::warn!(file = %path.display(), error = %e, "cannot remove raft snapshot temp file");
            }
        }
    }
    Ok(())
}

/// Builds an `Io` error for `path`.
fn io(path: &Path, source: std::io::Error) -> SnapshotError {
    SnapshotError::Io {
        path: path.to_path_buf(),
        source,
    }
}

#[cfg(test)]
mod envelope_tests {
    use super::*;

    #[test]
    fn round_trip_and_the_first_format_still_reads() {
        let meta = SnapshotMeta {
            snapshot_id: "3-7".into(),
            ..Default::default()
        };
        let bytes = Envelope::new(meta.clone(), b"{\"catalog\":\n1}")
            .encode()
            .unwrap();
        assert!(bytes.starts_with(MAGIC));
        let (env, catalog) = Envelope::decode(&bytes, "t").unwrap();
        assert_eq!(
            (env.meta.snapshot_id.as_str(), &catalog[..]),
            ("3-7", &b"{\"catalog\":\n1}"[..])
        );
        // A snapshot written by the first format (base64 catalog in one JSON document).
        let v1 = serde_json::json!({
            "meta": serde_json::to_value(&meta).unwrap(),
            "catalog": base64::engine::general_purpose::STANDARD.encode(b"old"),
        });
        let (env, catalog) = Envelope::decode(v1.to_string().as_bytes(), "t").unwrap();
        assert_eq!(
            (env.meta.snapshot_id.as_str(), &catalog[..]),
            ("3-7", &b"old"[..])
        );
        let cut = &bytes[..MAGIC.len() + 3];
        let e = Envelope::decode(cut, "file x").unwrap_err().to_string();
        assert!(e.contains("file x") && e.contains("corrupt"), "{e}");
    }
}
