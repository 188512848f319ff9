//! The unpacker's [`Tree`] on disk: a layer directory, reached only through descriptors and
//! the confined operations of [`beneath`].

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::fs::{self as rfs, AtFlags, Dev, FileType, Mode, OFlags, Timespec, Timestamps};

use super::beneath::{self, WalkError};
use super::entry::Meta;
use super::tree::{Made, Tree};
use super::{io_err, UnpackError, OVERLAY_OPAQUE_XATTR};

/// The layer directory being filled.
pub(super) struct Disk {
    root: OwnedFd,
}

impl Disk {
    pub(super) fn new(root: OwnedFd) -> Self {
        Disk { root }
    }
}

impl Tree for Disk {
    type Dir = OwnedFd;
    type File = File;

    fn root(&self) -> io::Result<OwnedFd> {
        beneath::reopen_dir(self.root.as_fd())
    }

    fn try_clone(&self, dir: &OwnedFd) -> io::Result<OwnedFd> {
        dir.try_clone()
    }

    fn open_child(
        &self,
        dir: &OwnedFd,
        name: &[u8],
        index: usize,
        create: Option<u32>,
    ) -> Result<OwnedFd, WalkError> {
        beneath::open_child(dir.as_fd(), name, index, create.map(Mode::from_raw_mode))
    }

    fn file_type_at(&self, dir: &OwnedFd, name: &[u8]) -> io::Result<Option<FileType>> {
        beneath::file_type_at(dir.as_fd(), name)
    }

    fn remove_all(&self, dir: &OwnedFd, name: &[u8]) -> io::Result<()> {
        beneath::remove_all(dir.as_fd(), name)
    }

    fn mkdir(&self, dir: &OwnedFd, name: &[u8]) -> io::Result<()> {
        Ok(rfs::mkdirat(dir, name, Mode::RWXU)?)
    }

    fn create_file(&self, dir: &OwnedFd, name: &[u8]) -> io::Result<File> {
        let flags =
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        Ok(File::from(rfs::openat(
            dir,
            name,
            flags,
            Mode::RUSR | Mode::WUSR,
        )?))
    }

    /// The file is ours and open: its metadata is set through the descriptor, no lookup.
    /// Owner first (a chown clears set-id bits and capabilities), then mode, extended
    /// attributes, times.
    fn finish_file(&self, file: File, meta: &Meta, path: &str) -> Result<(), UnpackError> {
        let fd = file.as_fd();
        rfs::fchown(fd, Some(meta.uid), Some(meta.gid)).map_err(io_err(path, "changing owner"))?;
        rfs::fchmod(fd, Mode::from_raw_mode(meta.mode)).map_err(io_err(path, "changing mode"))?;
        for (key, value) in &meta.xattrs {
            rfs::fsetxattr(fd, key.as_slice(), value, rfs::XattrFlags::empty())
                .map_err(|e| xattr_error(path, key, e.into()))?;
        }
        let times = Timestamps {
            last_access: meta.mtime,
            last_modification: meta.mtime,
        };
        rfs::futimens(fd, &times).map_err(io_err(path, "setting modification time"))
    }

    fn symlink(&self, target: &[u8], dir: &OwnedFd, name: &[u8]) -> io::Result<()> {
        Ok(rfs::symlinkat(target, dir, name)?)
    }

    fn hardlink(
        &self,
        target_dir: &OwnedFd,
        target_name: &[u8],
        dir: &OwnedFd,
        name: &[u8],
    ) -> io::Result<()> {
        Ok(rfs::linkat(
            target_dir,
            target_name,
            dir,
            name,
            AtFlags::empty(),
        )?)
    }

    fn mknod(&self, dir: &OwnedFd, name: &[u8], kind: FileType, dev: Dev) -> io::Result<()> {
        Ok(rfs::mknodat(dir, name, kind, Mode::RUSR | Mode::WUSR, dev)?)
    }

    /// Ownership, then permissions (a chown clears setuid bits), then extended attributes (a
    /// chown clears `security.capability`), then times, as fits what was made: symbolic links
    /// have no permissions of their own, directories get their times at the end.
    fn apply_meta(
        &self,
        dir: &OwnedFd,
        name: &[u8],
        meta: &Meta,
        path: &str,
        made: Made,
    ) -> Result<(), UnpackError> {
        let dir = dir.as_fd();
        rfs::chownat(
            dir,
            name,
            Some(meta.uid),
            Some(meta.gid),
            AtFlags::SYMLINK_NOFOLLOW,
        )
        .map_err(io_err(path, "changing owner"))?;
        if made != Made::Symlink {
            beneath::chmod_at(dir, name, meta.mode).map_err(io_err(path, "changing mode"))?;
        }
        for (key, value) in &meta.xattrs {
            beneath::set_xattr_at(dir, name, key, value)
                .map_err(|source| xattr_error(path, key, source))?;
        }
        if made != Made::Directory {
            set_times(dir, name, meta.mtime).map_err(io_err(path, "setting modification time"))?;
        }
        Ok(())
    }

    fn set_opaque(&self, dir: &OwnedFd) -> io::Result<()> {
        Ok(rfs::fsetxattr(
            dir,
            OVERLAY_OPAQUE_XATTR,
            b"y",
            rfs::XattrFlags::empty(),
        )?)
    }

    fn set_times(&self, dir: &OwnedFd, name: &[u8], mtime: Timespec) -> io::Result<()> {
        Ok(set_times(dir.as_fd(), name, mtime)?)
    }
}

fn set_times(dir: BorrowedFd<'_>, name: &[u8], mtime: Timespec) -> rustix::io::Result<()> {
    let times = Timestamps {
        last_access: mtime,
        last_modification: mtime,
    };
    rfs::utimensat(dir, name, &times, AtFlags::SYMLINK_NOFOLLOW)
}

fn xattr_error(path: &str, key: &[u8], source: io::Error) -> UnpackError {
    UnpackError::Xattr {
        path: path.to_owned(),
        key: String::from_utf8_lossy(key).into_owned(),
        source,
    }
}
