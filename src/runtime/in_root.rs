//! Paths inside the container's rootfs, resolved the way the container will see them.
//!
//! Every lookup goes through `openat2(2)` with `RESOLVE_IN_ROOT` on a descriptor of the rootfs,
//! so `..` and absolute symlinks stop at the rootfs and can never lead to the host
//! (CVE-2021-30465). Mounts then target `/proc/self/fd/N` of the opened destination, so the
//! kernel mounts on exactly what was resolved, with no second lookup to race against.

use std::collections::VecDeque;
use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{openat2, readlinkat, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::{mkdirat, mknodat, Mode, SFlag};

/// How strict a lookup is about symlinks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Symlinks {
    /// Follow symlinks, resolved inside the rootfs.
    FollowInRoot,
    /// Refuse any symlink on the way (`ELOOP`): for `/proc` and `/sys`, which must be real
    /// directories of the rootfs (CVE-2019-19921).
    Refuse,
}

/// What to create at the end of a path that does not exist yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Directory,
    File,
}

/// Symlinks followed while creating a path before giving up with `ELOOP` (as the kernel).
const MAX_SYMLINK_HOPS: u32 = 40;

/// An `O_PATH` descriptor of the rootfs that lookups are confined to.
#[derive(Debug)]
pub struct RootDir {
    fd: OwnedFd,
    path: PathBuf,
}

impl RootDir {
    /// Open the rootfs at `path` (canonical: no symlinks in it).
    pub fn open(path: &Path) -> io::Result<Self> {
        let how = OpenHow::new().flags(OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC);
        let fd = openat2(libc::AT_FDCWD, path, how)?;
        Ok(Self {
            fd: owned(fd),
            path: path.to_path_buf(),
        })
    }

    /// Where the file behind `fd` is, as the container will see it (`None` if outside the
    /// rootfs, which lookups through this type never produce).
    pub fn container_path(&self, fd: &OwnedFd) -> io::Result<Option<PathBuf>> {
        let host = std::fs::read_link(fd_path(fd))?;
        Ok(host
            .strip_prefix(&self.path)
            .ok()
            .map(|inside| Path::new("/").join(inside)))
    }

    /// Open an existing `path` (taken relative to the rootfs even if absolute) as `O_PATH`.
    pub fn open_path(&self, path: &Path, symlinks: Symlinks) -> io::Result<OwnedFd> {
        self.openat(&relative(path), OFlag::O_PATH, symlinks)
    }

    /// Open `path`, creating missing directories on the way and, at the end, a `kind` entry.
    ///
    /// A dangling symlink on the way is followed inside the rootfs and its target created
    /// there, as `mkdir -p` in a `chroot` would (runc does the same).
    pub fn create(&self, path: &Path, kind: Kind, symlinks: Symlinks) -> io::Result<OwnedFd> {
        let mut pending: VecDeque<OsString> = components(&relative(path));
        let mut walked = PathBuf::new();
        let mut hops = 0;
        while let Some(name) = pending.pop_front() {
            let candidate = walked.join(&name);
            match self.openat(&candidate, OFlag::O_PATH, symlinks) {
                Ok(_) => walked = candidate,
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) && name != ".." => {
                    let parent = self.openat(&walked, OFlag::O_PATH, symlinks)?;
                    match readlinkat(Some(parent.as_raw_fd()), name.as_os_str()) {
                        Ok(target) => {
                            hops += 1;
                            if symlinks == Symlinks::Refuse || hops > MAX_SYMLINK_HOPS {
                                return Err(Errno::ELOOP.into());
                            }
                            let target = PathBuf::from(target);
                            if target.is_absolute() {
                                walked = PathBuf::new();
                            }
                            let mut rest = components(&relative(&target));
                            rest.extend(pending);
                            pending = rest;
                        }
                        Err(Errno::ENOENT) | Err(Errno::EINVAL) => {
                            let want = if pending.is_empty() {
                                kind
                            } else {
                                Kind::Directory
                            };
                            make(&parent, &name, want)?;
                            walked = candidate;
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
                Err(e) => return Err(e),
            }
        }
        self.openat(&walked, OFlag::O_PATH, symlinks)
    }

    fn openat(&self, rel: &Path, flags: OFlag, symlinks: Symlinks) -> io::Result<OwnedFd> {
        let mut resolve = ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS;
        if symlinks == Symlinks::Refuse {
            resolve |= ResolveFlag::RESOLVE_NO_SYMLINKS;
        }
        let how = OpenHow::new()
            .flags(flags | OFlag::O_CLOEXEC)
            .resolve(resolve);
        let path = if rel.as_os_str().is_empty() {
            Path::new(".")
        } else {
            rel
        };
        loop {
            match openat2(self.fd.as_raw_fd(), path, how) {
                Err(Errno::EAGAIN) | Err(Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
                Ok(fd) => return Ok(owned(fd)),
            }
        }
    }
}

/// Create one entry in `parent`; losing a race to another creator is fine.
fn make(parent: &OwnedFd, name: &OsStr, kind: Kind) -> io::Result<()> {
    let made = match kind {
        Kind::Directory => mkdirat(
            Some(parent.as_raw_fd()),
            name,
            Mode::from_bits_truncate(0o755),
        ),
        Kind::File => mknodat(
            Some(parent.as_raw_fd()),
            name,
            SFlag::S_IFREG,
            Mode::from_bits_truncate(0o644),
            0,
        ),
    };
    match made {
        Ok(()) | Err(Errno::EEXIST) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

fn components(path: &Path) -> VecDeque<OsString> {
    path.components()
        .filter(|c| !matches!(c, Component::CurDir))
        .map(|c| c.as_os_str().to_os_string())
        .collect()
}

/// The magic-link path through which the kernel reaches exactly the file `fd` refers to.
pub fn fd_path(fd: &OwnedFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

/// `path` without its root, so it is relative to the rootfs descriptor.
fn relative(path: &Path) -> PathBuf {
    path.components()
        .filter(|c| !matches!(c, Component::RootDir | Component::Prefix(_)))
        .collect()
}

fn owned(fd: RawFd) -> OwnedFd {
    // SAFETY: `fd` was just returned by a successful openat2 and is owned by nobody else.
    unsafe { OwnedFd::from_raw_fd(fd) }
}
