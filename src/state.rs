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
//! - Nobody but the root's owner reaches into it: the root is 0700 and so are its subtrees
//!   (`tmp`, `containers`, `image`, `les`); files get the modes in [`mode`], set explicitly,
//!   never left to the caller's umask. Where the root may be is checked in [`trust`].

mod trust;

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
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

/// The modes of what dokles keeps in the state root (Docker's where it has one).
pub mod mode {
    /// The root and every directory of dokles' own below it.
    pub const PRIVATE_DIR: u32 = 0o700;
    /// State, journal, lock, progress, transcripts, recorded keys.
    pub const PRIVATE_FILE: u32 = 0o600;
    /// A container's log (Docker's json-file: 0640).
    pub const LOG_FILE: u32 = 0o640;
    /// The root directory of a container's filesystem (an overlay upper dir, an unpacked
    /// layer): it is the container's `/`, as in Docker's overlay2.
    pub const ROOTFS_DIR: u32 = 0o755;
    /// `hostname`, `hosts`, `resolv.conf`: bind-mounted into the container for any of its
    /// users to read.
    pub const CONTAINER_FILE: u32 = 0o644;
}

/// Directories directly in the root, each private; created when missing (except `les`,
/// made by the first lesson) and repaired when an older dokles left them open.
const SUBTREES: [(&str, bool); 4] = [
    ("tmp", true),
    ("containers", true),
    ("image", true),
    ("les", false),
];

/// Files directly in the root.
const ROOT_FILES: [&str; 2] = ["events.jsonl", "lock"];

impl StateRoot {
    /// Open (creating if needed) the state root at `path`, after checking that no other
    /// user controls where it is ([`trust`]); make it and its subtrees private.
    pub fn open(path: impl Into<PathBuf>) -> Result<Self> {
        let path = trust::prepare_root(&path.into())?;
        for (name, create) in SUBTREES {
            let dir = path.join(name);
            private_dir(&dir, create)
                .with_context(|| format!("cannot make {} private", dir.display()))?;
        }
        for name in ROOT_FILES {
            let file = path.join(name);
            match fs::symlink_metadata(&file) {
                Ok(m) if m.is_file() && m.permissions().mode() & 0o7777 != mode::PRIVATE_FILE => {
                    fs::set_permissions(&file, fs::Permissions::from_mode(mode::PRIVATE_FILE))
                        .with_context(|| format!("cannot make {} private", file.display()))?
                }
                _ => {}
            }
        }
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
        let dir = tempfile::Builder::new()
            .prefix("staging-")
            .tempdir_in(self.join("tmp"))
            .context("cannot create staging directory")?;
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(mode::PRIVATE_DIR))
            .context("cannot set the mode of a staging directory")?;
        Ok(dir)
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

/// Make `dir` a private directory: created if missing (when `create`), mode fixed if not.
fn private_dir(dir: &Path, create: bool) -> io::Result<()> {
    match fs::symlink_metadata(dir) {
        Ok(m) if m.is_dir() => {
            if m.permissions().mode() & 0o7777 != mode::PRIVATE_DIR {
                fs::set_permissions(dir, fs::Permissions::from_mode(mode::PRIVATE_DIR))?;
            }
            Ok(())
        }
        Ok(_) => Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "something other than a directory is in its place",
        )),
        Err(e) if e.kind() == io::ErrorKind::NotFound && create => {
            create_dir(dir, mode::PRIVATE_DIR)
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// `mkdir -p` in the state root: every directory it creates gets exactly `mode`, whatever
/// the umask; directories already there are left as they are.
pub fn create_dir(path: &Path, mode: u32) -> io::Result<()> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => return Ok(()),
        Ok(_) => return Err(io::Error::from(io::ErrorKind::AlreadyExists)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        create_dir(parent, mode)?;
    }
    match fs::DirBuilder::new().mode(mode).create(path) {
        Ok(()) => fs::set_permissions(path, fs::Permissions::from_mode(mode)),
        // Made by another process meanwhile.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && path.is_dir() => Ok(()),
        Err(e) => Err(e),
    }
}

/// Open `path` for appending, created if missing; its mode is made exactly `mode` (also for
/// a file an older dokles created with another).
pub fn open_append(path: &Path, mode: u32) -> io::Result<File> {
    let file = OpenOptions::new()
        .append(true)
        .create(true)
        .mode(mode)
        .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
        .open(path)?;
    if file.metadata()?.permissions().mode() & 0o7777 != mode {
        file.set_permissions(fs::Permissions::from_mode(mode))?;
    }
    Ok(file)
}

/// Write `data` to `path` (created or truncated) with exactly `mode`.
pub fn write_file(path: &Path, data: &[u8], mode: u32) -> io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
        .open(path)?;
    file.set_permissions(fs::Permissions::from_mode(mode))?;
    file.write_all(data)
}

/// The umask every engine process (the docker CLI, a monitor) works with, as a Docker
/// daemon does: what it creates then never depends on the umask of whoever ran it.
pub const ENGINE_UMASK: u32 = 0o022;

/// Set [`ENGINE_UMASK`] for this process (and what it starts).
pub fn pin_engine_umask() {
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(ENGINE_UMASK));
}

/// Replace `path` with `data` atomically: readers see the old or the new content, never a mix.
pub fn atomic_write(path: &Path, data: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .with_context(|| format!("{} has no parent directory", path.display()))?;
    create_dir(dir, mode::PRIVATE_DIR)
        .with_context(|| format!("cannot create {}", dir.display()))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempfile_in(dir)
        .with_context(|| format!("cannot create temp file in {}", dir.display()))?;
    tmp.as_file()
        .set_permissions(fs::Permissions::from_mode(mode::PRIVATE_FILE))
        .with_context(|| format!("cannot set the mode of {}", path.display()))?;
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
