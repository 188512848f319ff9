//! Whether a state root's location can be trusted, and making it private.
//!
//! dokles runs as root and keeps setuid-capable files (container layers) and its state in the
//! root, so nobody but its owner may reach into it — nor decide where it is. A local user who
//! could pre-create the root's path (`DOKLES_ROOT=/tmp/les` in a world-writable `/tmp`), plant
//! a symlink there, or rename a directory on the way could make root write, chmod or clean up
//! wherever they like. So the path is resolved here one component at a time, without trusting
//! anything another user controls:
//!
//! - every directory on the way is owned by root or by us, and writable by nobody else unless
//!   it is sticky (`/tmp`: others cannot rename or remove what is ours there);
//! - a symbolic link on the way is followed only if nobody else could have made it: its
//!   directory is writable only by root or us, or the link itself is owned by root or us
//!   (the kernel's `protected_symlinks` rule, enforced whether or not the sysctl is on);
//! - the root itself is owned by us and writable by nobody else; it is made 0700 (an older
//!   dokles left it 0755). Missing directories are created, the root with mode 0700 from the
//!   start and its parents 0755; a directory someone else creates first is found by the
//!   check that follows every creation;
//! - an existing directory is taken as a root only if it is empty or holds dokles' state, so
//!   a slip (`--root /`, `--root /etc`) is refused instead of made private and filled.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use anyhow::{bail, Context, Result};

/// The mode of the state root.
pub const ROOT_MODE: u32 = 0o700;

/// The mode of directories created on the way to a new state root.
const PARENT_MODE: u32 = 0o755;

/// Symbolic links followed before giving up, as the kernel's `MAXSYMLINKS`.
const MAX_LINKS: usize = 40;

/// Resolve `path` to a trusted, private state root directory, creating it if needed; the
/// canonical path.
pub fn prepare_root(path: &Path) -> Result<PathBuf> {
    let me = nix::unistd::geteuid().as_raw();
    let absolute = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .context("cannot read the working directory")?
            .join(path)
    };
    // A directory another user creates between our look and our mkdir makes the mkdir fail;
    // the walk after it then finds (and refuses) theirs. Each round creates at least one
    // component or ends, so the rounds are bounded by the path's length.
    for _ in 0..=absolute.components().count() {
        match walk(&absolute, me)? {
            Walked::Found(dir) => {
                check_root(&dir, me)?;
                return Ok(dir);
            }
            Walked::Missing { existing, rest } => {
                let name = &rest[0];
                let last = rest.len() == 1;
                let dir = existing.join(name);
                let mode = if last { ROOT_MODE } else { PARENT_MODE };
                match fs::DirBuilder::new().mode(mode).create(&dir) {
                    Ok(()) => {
                        // Exactly `mode`, whatever the umask took away.
                        fs::set_permissions(&dir, fs::Permissions::from_mode(mode))
                            .with_context(|| format!("cannot set the mode of {}", dir.display()))?
                    }
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                    Err(e) => {
                        return Err(e)
                            .with_context(|| format!("cannot create state root {}", dir.display()))
                    }
                }
            }
        }
    }
    bail!(
        "cannot create state root {}: it keeps changing",
        path.display()
    )
}

/// How far a path resolved.
enum Walked {
    /// To this existing directory (canonical).
    Found(PathBuf),
    /// Up to `existing` (canonical, checked); `rest` is missing below it (plain names).
    Missing {
        existing: PathBuf,
        rest: Vec<OsString>,
    },
}

/// Resolve `path` from `/`, checking every directory and link on the way.
fn walk(path: &Path, me: u32) -> Result<Walked> {
    let mut resolved = PathBuf::from("/");
    let mut shared = check_dir(&resolved, me)?;
    let mut queue: VecDeque<OsString> = names(path);
    let mut links = 0;
    while let Some(name) = queue.pop_front() {
        if name == ".." {
            // `resolved` has no links left in it, so its parent is the real one.
            resolved.pop();
            shared = check_dir(&resolved, me)?;
            continue;
        }
        let candidate = resolved.join(&name);
        let meta = match fs::symlink_metadata(&candidate) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let mut rest = vec![name];
                rest.extend(queue);
                if rest.iter().any(|n| n == "..") {
                    bail!(
                        "cannot create state root {}: `..` after a missing directory",
                        path.display()
                    );
                }
                return Ok(Walked::Missing {
                    existing: resolved,
                    rest,
                });
            }
            Err(e) => {
                return Err(e).with_context(|| format!("cannot inspect {}", candidate.display()))
            }
        };
        if meta.file_type().is_symlink() {
            if shared && !trusted_owner(meta.uid(), me) {
                bail!(
                    "refusing state root {}: the symbolic link {} belongs to another user (uid {}) in a directory everyone may write to",
                    path.display(),
                    candidate.display(),
                    meta.uid()
                );
            }
            links += 1;
            if links > MAX_LINKS {
                bail!(
                    "cannot resolve state root {}: too many symbolic links",
                    path.display()
                );
            }
            let target = fs::read_link(&candidate)
                .with_context(|| format!("cannot read the link {}", candidate.display()))?;
            if target.is_absolute() {
                resolved = PathBuf::from("/");
                shared = check_dir(&resolved, me)?;
            }
            for n in names(&target).into_iter().rev() {
                queue.push_front(n);
            }
            continue;
        }
        if !meta.is_dir() {
            bail!(
                "cannot use state root {}: {} is not a directory",
                path.display(),
                candidate.display()
            );
        }
        resolved = candidate;
        // The root itself is judged by `check_root`; everything above it here.
        if !queue.is_empty() {
            shared = check_dir(&resolved, me)?;
        }
    }
    Ok(Walked::Found(resolved))
}

/// The path's names, `.` dropped, `..` kept (resolved against the real directories).
fn names(path: &Path) -> VecDeque<OsString> {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some(OsString::from("..")),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => None,
        })
        .collect()
}

fn trusted_owner(uid: u32, me: u32) -> bool {
    uid == 0 || uid == me
}

/// A directory on the way to the root: owned by root or us, and writable by nobody else
/// unless sticky. Returns whether others may create entries in it (a sticky shared
/// directory such as `/tmp`).
fn check_dir(dir: &Path, me: u32) -> Result<bool> {
    let meta = fs::metadata(dir).with_context(|| format!("cannot inspect {}", dir.display()))?;
    if !trusted_owner(meta.uid(), me) {
        bail!(
            "refusing state root below {}: it belongs to another user (uid {}), who could replace what is in it",
            dir.display(),
            meta.uid()
        );
    }
    let writable_by_others = meta.mode() & 0o022 != 0;
    let sticky = meta.mode() & 0o1000 != 0;
    if writable_by_others && !sticky {
        bail!(
            "refusing state root below {}: other users may write to it (mode {:04o}) and could replace what is in it",
            dir.display(),
            meta.mode() & 0o7777
        );
    }
    Ok(writable_by_others)
}

/// What dokles keeps directly in a root; a directory holding only these (or nothing) may be
/// made one.
const ROOT_ENTRIES: [&str; 6] = ["tmp", "containers", "image", "les", "events.jsonl", "lock"];

/// Whether `dir` is empty or holds dokles' state: its journal or lock (written by every
/// docker command and every writer), or nothing but dokles' own directories.
fn holds_no_stranger(dir: &Path) -> Result<bool> {
    let mut only_ours = true;
    for entry in fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
        let entry = entry.with_context(|| format!("cannot read {}", dir.display()))?;
        let name = entry.file_name();
        if (name == "events.jsonl" || name == "lock")
            && entry.file_type().is_ok_and(|t| t.is_file())
        {
            return Ok(true);
        }
        only_ours &= ROOT_ENTRIES.iter().any(|ours| name == *ours);
    }
    Ok(only_ours)
}

/// The root itself: ours, never writable by others (what they could have put in it cannot
/// be trusted), dokles' own, and made private.
fn check_root(dir: &Path, me: u32) -> Result<()> {
    let meta = fs::metadata(dir).with_context(|| format!("cannot inspect {}", dir.display()))?;
    if meta.uid() != me {
        bail!(
            "refusing state root {}: it belongs to uid {}, not to the user running dokles (uid {me})",
            dir.display(),
            meta.uid()
        );
    }
    if meta.mode() & 0o022 != 0 {
        bail!(
            "refusing state root {}: other users may write to it (mode {:04o}), so what is in it cannot be trusted; check it and `chmod 700` it",
            dir.display(),
            meta.mode() & 0o7777
        );
    }
    if !holds_no_stranger(dir)? {
        bail!(
            "refusing state root {}: it holds other things than dokles' state; choose an empty or new directory",
            dir.display()
        );
    }
    if meta.mode() & 0o7777 != ROOT_MODE {
        fs::set_permissions(dir, fs::Permissions::from_mode(ROOT_MODE))
            .with_context(|| format!("cannot make state root {} private", dir.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(p: &Path) -> u32 {
        fs::metadata(p).unwrap().mode() & 0o7777
    }

    #[test]
    fn a_new_root_and_its_parents_are_created_with_fixed_modes() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("a/b/root");
        let got = prepare_root(&root).unwrap();
        assert_eq!(got, fs::canonicalize(&root).unwrap());
        assert_eq!(mode(&root), 0o700);
        assert_eq!(mode(&t.path().join("a/b")), 0o755);
    }

    #[test]
    fn an_open_root_is_made_private() {
        let t = tempfile::tempdir().unwrap();
        fs::set_permissions(t.path(), fs::Permissions::from_mode(0o755)).unwrap();
        prepare_root(t.path()).unwrap();
        assert_eq!(mode(t.path()), 0o700);
    }

    #[test]
    fn a_root_others_may_write_to_is_refused() {
        let t = tempfile::tempdir().unwrap();
        fs::set_permissions(t.path(), fs::Permissions::from_mode(0o777)).unwrap();
        let e = prepare_root(t.path()).unwrap_err().to_string();
        assert!(e.contains("other users may write to it"), "{e}");
    }

    #[test]
    fn a_root_below_a_non_sticky_shared_directory_is_refused() {
        let t = tempfile::tempdir().unwrap();
        fs::set_permissions(t.path(), fs::Permissions::from_mode(0o777)).unwrap();
        let e = prepare_root(&t.path().join("root"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("other users may write to it"), "{e}");
        assert!(!t.path().join("root").exists());
    }

    #[test]
    fn a_directory_of_other_things_is_not_taken_over() {
        let t = tempfile::tempdir().unwrap();
        fs::set_permissions(t.path(), fs::Permissions::from_mode(0o755)).unwrap();
        // Like `/`: a `tmp` among other things.
        fs::create_dir(t.path().join("tmp")).unwrap();
        fs::write(t.path().join("notes.txt"), "mine").unwrap();
        let e = prepare_root(t.path()).unwrap_err().to_string();
        assert!(e.contains("holds other things than dokles' state"), "{e}");
        assert_eq!(mode(t.path()), 0o755);
        // With dokles' journal in it, it is a root (an older one, say).
        fs::write(t.path().join("events.jsonl"), "").unwrap();
        prepare_root(t.path()).unwrap();
        assert_eq!(mode(t.path()), 0o700);
    }

    #[test]
    fn links_and_dots_resolve_to_the_real_directory() {
        let t = tempfile::tempdir().unwrap();
        fs::create_dir_all(t.path().join("real/root")).unwrap();
        std::os::unix::fs::symlink("real", t.path().join("link")).unwrap();
        let got = prepare_root(&t.path().join("link/./x/../root")).unwrap_err();
        assert!(got.to_string().contains("`..` after a missing"), "{got}");
        let got = prepare_root(&t.path().join("link/../link/root")).unwrap();
        assert_eq!(got, fs::canonicalize(t.path().join("real/root")).unwrap());
    }
}
