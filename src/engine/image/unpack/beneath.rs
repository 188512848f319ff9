//! File-system access confined beneath one directory.
//!
//! Every path is walked one component at a time from a directory file descriptor, opening each
//! component with `O_DIRECTORY | O_NOFOLLOW`: a symbolic link anywhere on the way stops the walk
//! instead of being followed, and `..` never reaches the kernel (callers reject it first). The
//! last component of a path is always handled with an `*at` call on the verified parent
//! directory and the bare name, without following it. Extended attributes have no `*at`
//! system call that Debian's libc exposes, so they go through `/proc/self/fd/<parent>/<name>`
//! with the `l*xattr` calls: the magic link jumps to the verified parent and the final name is
//! not followed.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use rustix::buffer::spare_capacity;
use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags, XattrFlags};

/// Why walking down to a directory stopped. `index` is the offending component.
#[derive(Debug)]
pub(crate) enum WalkError {
    /// The component is a symbolic link, which is never followed.
    Symlink { index: usize },
    /// The component exists but is not a directory.
    NotDirectory { index: usize },
    /// The component does not exist (and was not to be created).
    Missing { index: usize },
    /// Any other failure of the system.
    Io { source: io::Error },
}

/// Opens the directory `components` beneath `root`, never following a symbolic link.
/// With `create`, missing directories are made with exactly that mode, owned by the caller
/// (like `mkdir -p`, but without the umask).
pub(crate) fn open_dir(
    root: BorrowedFd<'_>,
    components: &[Vec<u8>],
    create: Option<Mode>,
) -> Result<OwnedFd, WalkError> {
    let mut dir = reopen_dir(root).map_err(|source| WalkError::Io { source })?;
    for (index, name) in components.iter().enumerate() {
        dir = open_child(dir.as_fd(), name, index, create)?;
    }
    Ok(dir)
}

/// One step of [`open_dir`]: the directory `name` inside `dir` (component number `index`
/// of the walk, for errors), never through a symbolic link, made with `create` if missing.
pub(crate) fn open_child(
    dir: BorrowedFd<'_>,
    name: &[u8],
    index: usize,
    create: Option<Mode>,
) -> Result<OwnedFd, WalkError> {
    match (open_child_dir(dir, name), create) {
        (Ok(child), _) => Ok(child),
        (Err(rustix::io::Errno::NOENT), Some(mode)) => {
            let created = match rfs::mkdirat(dir, name, Mode::RWXU) {
                Ok(()) => true,
                Err(rustix::io::Errno::EXIST) => false,
                Err(e) => return Err(WalkError::Io { source: e.into() }),
            };
            let child = open_child_dir(dir, name).map_err(|e| classify_at(dir, name, index, e))?;
            if created {
                rfs::fchmod(&child, mode).map_err(|e| WalkError::Io { source: e.into() })?;
            }
            Ok(child)
        }
        (Err(e), _) => Err(classify_at(dir, name, index, e)),
    }
}

/// A fresh descriptor for the directory `dir` itself.
pub(crate) fn reopen_dir(dir: BorrowedFd<'_>) -> io::Result<OwnedFd> {
    Ok(rfs::openat(dir, c".", dir_flags(), Mode::empty())?)
}

fn open_child_dir(dir: BorrowedFd<'_>, name: &[u8]) -> rustix::io::Result<OwnedFd> {
    rfs::openat(dir, name, dir_flags(), Mode::empty())
}

fn dir_flags() -> OFlags {
    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC
}

/// Turns a failed `open(O_DIRECTORY | O_NOFOLLOW)` into the reason a reader can act on.
fn classify_at(
    dir: BorrowedFd<'_>,
    name: &[u8],
    index: usize,
    err: rustix::io::Errno,
) -> WalkError {
    match err {
        rustix::io::Errno::NOENT => WalkError::Missing { index },
        rustix::io::Errno::NOTDIR | rustix::io::Errno::LOOP => match file_type_at(dir, name) {
            Ok(Some(FileType::Symlink)) => WalkError::Symlink { index },
            Ok(_) => WalkError::NotDirectory { index },
            Err(source) => WalkError::Io { source },
        },
        e => WalkError::Io { source: e.into() },
    }
}

/// The type of `name` in `dir` without following it; `None` if nothing is there.
pub(crate) fn file_type_at(dir: BorrowedFd<'_>, name: &[u8]) -> io::Result<Option<FileType>> {
    match rfs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => Ok(Some(FileType::from_raw_mode(st.st_mode))),
        Err(rustix::io::Errno::NOENT) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Removes `name` from `dir` whatever it is; a directory goes with all its contents.
/// Symbolic links are removed, never followed.
pub(crate) fn remove_all(dir: BorrowedFd<'_>, name: &[u8]) -> io::Result<()> {
    match file_type_at(dir, name)? {
        None => Ok(()),
        Some(FileType::Directory) => {
            let child = open_child_dir(dir, name)?;
            for entry in child_names(child.as_fd())? {
                remove_all(child.as_fd(), &entry)?;
            }
            Ok(rfs::unlinkat(dir, name, AtFlags::REMOVEDIR)?)
        }
        Some(_) => Ok(rfs::unlinkat(dir, name, AtFlags::empty())?),
    }
}

/// The names in directory `dir`, without `.` and `..`, in the order the file system gives.
pub(crate) fn child_names(dir: BorrowedFd<'_>) -> io::Result<Vec<Vec<u8>>> {
    let mut names = Vec::new();
    for entry in rfs::Dir::read_from(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_bytes();
        if name != b"." && name != b".." {
            names.push(name.to_vec());
        }
    }
    Ok(names)
}

/// `/proc/self/fd/<fd>`, the magic link to exactly the file `fd` refers to.
pub(crate) fn proc_fd_path(fd: BorrowedFd<'_>) -> Vec<u8> {
    format!("/proc/self/fd/{}", fd.as_raw_fd()).into_bytes()
}

/// `/proc/self/fd/<dir>/<name>`: `name` in the verified directory `dir`, for the `l*` calls.
fn proc_child_path(dir: BorrowedFd<'_>, name: &[u8]) -> Vec<u8> {
    let mut path = proc_fd_path(dir);
    path.push(b'/');
    path.extend_from_slice(name);
    path
}

/// Sets the permission bits of `name` in `dir`, which must not be a symbolic link.
///
/// `fchmodat` has no working no-follow flag on Linux before `fchmodat2`, so the node is pinned
/// with `O_PATH | O_NOFOLLOW`, checked, and changed through its `/proc/self/fd` magic link.
pub(crate) fn chmod_at(dir: BorrowedFd<'_>, name: &[u8], mode: u32) -> io::Result<()> {
    let node = rfs::openat(
        dir,
        name,
        OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let st = rfs::fstat(&node)?;
    if FileType::from_raw_mode(st.st_mode) == FileType::Symlink {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "refusing to chmod a symbolic link",
        ));
    }
    Ok(rfs::chmodat(
        rfs::CWD,
        proc_fd_path(node.as_fd()),
        Mode::from_raw_mode(mode),
        AtFlags::empty(),
    )?)
}

/// Sets extended attribute `key` on `name` in `dir` (not following `name`).
pub(crate) fn set_xattr_at(
    dir: BorrowedFd<'_>,
    name: &[u8],
    key: &[u8],
    value: &[u8],
) -> io::Result<()> {
    Ok(rfs::lsetxattr(
        proc_child_path(dir, name),
        key,
        value,
        XattrFlags::empty(),
    )?)
}

/// All extended attributes of `name` in `dir` (not following `name`), sorted by key.
/// A file system without xattr support yields none.
pub(crate) fn xattrs_at(dir: BorrowedFd<'_>, name: &[u8]) -> io::Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let path = proc_child_path(dir, name);
    let list = loop {
        let wanted = match rfs::llistxattr_query(&path) {
            Ok(0) | Err(rustix::io::Errno::NOTSUP) => return Ok(Vec::new()),
            Ok(n) => n,
            Err(e) => return Err(e.into()),
        };
        let mut list = Vec::with_capacity(wanted);
        match rfs::llistxattr(&path, spare_capacity(&mut list)) {
            Ok(_) => break list,
            // The list grew between the two calls: ask again.
            Err(rustix::io::Errno::RANGE) => continue,
            Err(e) => return Err(e.into()),
        }
    };
    let mut attrs = Vec::new();
    for key in list.split(|&b| b == 0).filter(|k| !k.is_empty()) {
        if let Some(value) = xattr_value(&path, key)? {
            attrs.push((key.to_vec(), value));
        }
    }
    attrs.sort();
    Ok(attrs)
}

/// One attribute's value; `None` if it vanished after being listed.
fn xattr_value(path: &[u8], key: &[u8]) -> io::Result<Option<Vec<u8>>> {
    loop {
        let wanted = match rfs::lgetxattr_query(path, key) {
            Ok(0) => return Ok(Some(Vec::new())),
            Ok(n) => n,
            Err(rustix::io::Errno::NODATA) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let mut value = Vec::with_capacity(wanted);
        match rfs::lgetxattr(path, key, spare_capacity(&mut value)) {
            Ok(_) => return Ok(Some(value)),
            // The value grew between the two calls: ask again.
            Err(rustix::io::Errno::RANGE) => continue,
            Err(rustix::io::Errno::NODATA) => return Ok(None),
            Err(e) => return Err(e.into()),
        }
    }
}
