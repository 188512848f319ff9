//! The state root: where dokles keeps everything (default `/var/lib/dokles`), how files in it
//! are written atomically, and the file locks that let several dokles processes share it.
//!
//! Rules every writer follows:
//! - A file that other processes read is replaced whole: written to a temp file in the same
//!   directory, then renamed over the old one ([`atomic_write`]).
//! - Anything built in several steps (an unpacked layer, a loaded image) is built in a staging
//!   directory under `tmp/` and renamed into place only when complete. A process killed
//!   half-way leaves only staging directories, which the next locked writer removes
//!   ([`StateRoot::lock`] does that when it takes the lock).

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use nix::fcntl::{Flock, FlockArg};

/// Default location of the state root.
pub const DEFAULT_ROOT: &str = "/var/lib/dokles";

/// Environment variable that overrides the default state root.
pub const ROOT_ENV: &str = "DOKLES_ROOT";

/// A state root directory. Cheap to clone; holds no open files.
#[derive(Debug, Clone)]
pub struct StateRoot {
    path: PathBuf,
}

/// An exclusive lock on the state root, released when dropped.
#[derive(Debug)]
pub struct StateLock {
    _flock: Flock<File>,
}

impl StateRoot {
    /// Open (creating if needed) the state root at `path`.
    pub fn open(path: impl Into<PathBuf>) -> Result<Self> {
        let path = path.into();
        fs::create_dir_all(&path)
            .with_context(|| format!("cannot create state root {}", path.display()))?;
        let path = fs::canonicalize(&path)
            .with_context(|| format!("cannot resolve state root {}", path.display()))?;
        let tmp = path.join("tmp");
        fs::create_dir_all(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
        Ok(Self { path })
    }

    /// The root chosen by `--root`, else `$DOKLES_ROOT`, else [`DEFAULT_ROOT`].
    pub fn resolve(flag: Option<&Path>) -> PathBuf {
        if let Some(p) = flag {
            return p.to_path_buf();
        }
        match std::env::var_os(ROOT_ENV) {
            Some(v) if !v.is_empty() => PathBuf::from(v),
            _ => PathBuf::from(DEFAULT_ROOT),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A path inside the root.
    pub fn join(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.path.join(rel)
    }

    /// The empty directory that sealed views of the dokles binary use as their second
    /// overlay layer (`runtime::exe_seal`); created on first use.
    pub fn exe_seal_scratch(&self) -> PathBuf {
        self.join("exe-seal")
    }

    /// Take the exclusive writer lock (blocking), then remove staging leftovers of writers
    /// that died. Everything that changes the root holds this lock while it does.
    pub fn lock(&self) -> Result<StateLock> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(self.join("lock"))
            .with_context(|| format!("cannot open lock file in {}", self.path.display()))?;
        let flock = Flock::lock(file, FlockArg::LockExclusive)
            .map_err(|(_, e)| e)
            .with_context(|| format!("cannot lock state root {}", self.path.display()))?;
        let lock = StateLock { _flock: flock };
        self.clean_staging()?;
        Ok(lock)
    }

    /// A fresh, empty staging directory under `tmp/`. Only call while holding the lock; the
    /// directory is removed by the next [`StateRoot::lock`] if it is still there.
    pub fn staging_dir(&self, _lock: &StateLock) -> Result<tempfile::TempDir> {
        tempfile::Builder::new()
            .prefix("staging-")
            .tempdir_in(self.join("tmp"))
            .context("cannot create staging directory")
    }

    fn clean_staging(&self) -> Result<()> {
        let tmp = self.join("tmp");
        let entries = match fs::read_dir(&tmp) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", tmp.display())),
        };
        for entry in entries {
            let entry = entry?;
            let path = entry.path();
            // Files of a removed container are deleted here and, after its `rm` or monitor
            // released the lock, by that process too: whoever comes second finds them gone.
            let res = entry.file_type().and_then(|t| {
                if t.is_dir() {
                    fs::remove_dir_all(&path)
                } else {
                    fs::remove_file(&path)
                }
            });
            match res {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(e)
                        .with_context(|| format!("cannot remove leftover {}", path.display()))
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// Replace `path` with `data` atomically: readers see the old or the new content, never a mix.
pub fn atomic_write(path: &Path, data: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .with_context(|| format!("{} has no parent directory", path.display()))?;
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempfile_in(dir)
        .with_context(|| format!("cannot create temp file in {}", dir.display()))?;
    // No fsync: the guarantee is atomicity against concurrent readers and killed writers
    // (rename replaces the file whole), not durability across power loss; syncing every
    // state change would cost more than a whole container start.
    tmp.write_all(data)
        .with_context(|| format!("cannot write {}", path.display()))?;
    tmp.persist(path)
        .map_err(|e| e.error)
        .with_context(|| format!("cannot replace {}", path.display()))?;
    Ok(())
}

/// Serialize `value` as pretty JSON and write it atomically.
pub fn atomic_write_json<T: serde::Serialize>(path: &Path, value: &T) -> Result<()> {
    let data = serde_json::to_vec_pretty(value).context("cannot serialize state")?;
    atomic_write(path, &data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_whole_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a/b.json");
        atomic_write(&p, b"first").unwrap();
        atomic_write(&p, b"second").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"second");
        let names: Vec<_> = fs::read_dir(p.parent().unwrap()).unwrap().collect();
        assert_eq!(names.len(), 1, "no temp files left behind");
    }

    #[test]
    fn lock_removes_staging_leftovers() {
        let dir = tempfile::tempdir().unwrap();
        let root = StateRoot::open(dir.path()).unwrap();
        fs::create_dir_all(root.join("tmp/staging-dead/layer")).unwrap();
        let _lock = root.lock().unwrap();
        assert_eq!(fs::read_dir(root.join("tmp")).unwrap().count(), 0);
    }
}
