//! Writing a rendered file without ever leaving a half-written one: a temp file in the
//! destination's directory (so the rename stays on one filesystem), fsync, the mode and owner
//! (given, else the old file's, else 0644 and ours), an optional `.bak` hard link of the old
//! file, then rename. When rename cannot work (a single bind-mounted file: EBUSY; another
//! filesystem: EXDEV) the bytes are written in place and the caller logs it.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// How the file is written.
#[derive(Debug, Clone, Default)]
pub struct WriteOpts {
    /// Mode; None keeps the existing file's mode, else 0644.
    pub perms: Option<u32>,
    /// Owner uid; None keeps the existing owner.
    pub uid: Option<u32>,
    /// Group gid; None keeps the existing group.
    pub gid: Option<u32>,
    /// Hard-link the old file to `<dest>.bak` first.
    pub backup: bool,
    /// Create missing parent directories (0755).
    pub create_dirs: bool,
}

/// A new version written next to the destination, not yet in place.
#[derive(Debug)]
pub struct Staged {
    /// The temp file (validate commands read it).
    pub temp: PathBuf,
    dest: PathBuf,
    contents: Vec<u8>,
    backup: bool,
}

/// Whether the file on disk already holds exactly `contents`.
pub fn same_as_disk(dest: &Path, contents: &[u8]) -> bool {
    fs::read(dest).is_ok_and(|old| old == contents)
}

/// Writes `contents` to a synced temp file beside `dest` with the right mode and owner.
pub fn stage(dest: &Path, contents: &[u8], opts: &WriteOpts) -> Result<Staged, String> {
    let dir = match dest.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !dir.exists() {
        if !opts.create_dirs {
            return Err(format!(
                "{}: directory does not exist (create_dest_dirs is false)",
                dir.display()
            ));
        }
        fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let _ = fs::set_permissions(&dir, fs::Permissions::from_mode(0o755));
    }
    let old = fs::metadata(dest).ok();
    let mode = opts
        .perms
        .or(old.as_ref().map(|m| m.mode() & 0o7777))
        .unwrap_or(0o644);
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    let temp = dir.join(format!(".{name}.berth-{}", std::process::id()));
    let result = (|| {
        // Created private, given its owner and final mode, and only then filled, so a secret
        // is never readable by others while it is being written.
        let _ = fs::remove_file(&temp);
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temp)?;
        let uid = opts.uid.or(old.as_ref().map(|m| m.uid()));
        let gid = opts.gid.or(old.as_ref().map(|m| m.gid()));
        if uid.is_some() || gid.is_some() {
            std::os::unix::fs::chown(&temp, uid, gid)?;
        }
        fs::set_permissions(&temp, fs::Permissions::from_mode(mode))?;
        f.write_all(contents)?;
        f.sync_all()?;
        Ok::<(), std::io::Error>(())
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&temp);
        return Err(format!("{}: {e}", temp.display()));
    }
    Ok(Staged {
        temp,
        dest: dest.to_path_buf(),
        contents: contents.to_vec(),
        backup: opts.backup,
    })
}

/// How the new file got into place.
#[derive(Debug, PartialEq, Eq)]
pub enum Placed {
    /// Renamed over the old one (atomic).
    Renamed,
    /// Rename failed for this reason; written in place instead.
    InPlace(String),
}

impl Staged {
    /// Puts the staged file in place of the destination.
    pub fn commit(self) -> Result<Placed, String> {
        if self.backup && self.dest.exists() {
            let bak = PathBuf::from(format!("{}.bak", self.dest.display()));
            let _ = fs::remove_file(&bak);
            if fs::hard_link(&self.dest, &bak).is_err() {
                fs::copy(&self.dest, &bak).map_err(|e| format!("{}: {e}", bak.display()))?;
            }
        }
        match fs::rename(&self.temp, &self.dest) {
            Ok(()) => Ok(Placed::Renamed),
            Err(e) => {
                let why = e.to_string();
                let r = OpenOptions::new()
                    .write(true)
                    .truncate(true)
                    .create(true)
                    .open(&self.dest)
                    .and_then(|mut f| {
                        f.write_all(&self.contents)?;
                        f.sync_all()
                    });
                let _ = fs::remove_file(&self.temp);
                r.map_err(|e2| {
                    format!(
                        "{}: rename failed ({why}), in-place write failed: {e2}",
                        self.dest.display()
                    )
                })?;
                Ok(Placed::InPlace(why))
            }
        }
    }

    /// Drops the staged file (validation failed): the old file stays as it was.
    pub fn discard(self) {
        let _ = fs::remove_file(&self.temp);
    }
}

/// A user or group given by name (looked up in `/etc/passwd` or `/etc/group`) or number.
pub fn resolve_id(what: &str, name: &str) -> Result<u32, String> {
    if let Ok(n) = name.parse::<u32>() {
        return Ok(n);
    }
    let file = if what == "user" {
        "/etc/passwd"
    } else {
        "/etc/group"
    };
    let text = fs::read_to_string(file).map_err(|e| format!("{file}: {e}"))?;
    text.lines()
        .filter_map(|l| {
            let mut f = l.split(':');
            let n = f.next()?;
            let id = f.nth(1)?.parse::<u32>().ok()?;
            (n == name).then_some(id)
        })
        .next()
        .ok_or_else(|| format!("{what} {name:?}: not found in {file}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_keeps_mode_backs_up_and_renames() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("sub/out.conf");
        let opts = WriteOpts {
            create_dirs: true,
            backup: true,
            ..WriteOpts::default()
        };
        stage(&dest, b"one", &opts).unwrap().commit().unwrap();
        assert_eq!(fs::read(&dest).unwrap(), b"one");
        assert_eq!(fs::metadata(&dest).unwrap().mode() & 0o777, 0o644);
        fs::set_permissions(&dest, fs::Permissions::from_mode(0o600)).unwrap();
        let staged = stage(&dest, b"two", &opts).unwrap();
        assert!(staged.temp.starts_with(dest.parent().unwrap()));
        assert_eq!(staged.commit().unwrap(), Placed::Renamed);
        assert_eq!(fs::read(&dest).unwrap(), b"two");
        assert_eq!(fs::metadata(&dest).unwrap().mode() & 0o777, 0o600);
        assert_eq!(
            fs::read(dir.path().join("sub/out.conf.bak")).unwrap(),
            b"one"
        );
        assert!(same_as_disk(&dest, b"two"));
        stage(&dest, b"three", &opts).unwrap().discard();
        assert_eq!(fs::read(&dest).unwrap(), b"two");
        assert_eq!(fs::read_dir(dest.parent().unwrap()).unwrap().count(), 2);
        let no_dirs = WriteOpts::default();
        assert!(stage(&dir.path().join("nope/x"), b"x", &no_dirs).is_err());
        assert_eq!(resolve_id("user", "root").unwrap(), 0);
        assert!(resolve_id("user", "no-such-user-here").is_err());
    }
}
