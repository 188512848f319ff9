//! Where an unpacking lands. The unpacker decides what every entry does to the layer; a
//! [`Tree`] carries it out: [`super::disk::Disk`] in the layer directory on disk,
//! [`super::model::Model`] in memory (a dry run, which proves at `load` that the archive will
//! unpack, without creating a file). One set of rules, two places to apply them, so the dry
//! run refuses exactly what the real unpacking refuses.

use std::io;

use rustix::fs::{Dev, FileType, Timespec};

use super::beneath::WalkError;
use super::entry::Meta;
use super::UnpackError;

/// What an entry just made, for [`Tree::apply_meta`].
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Made {
    Directory,
    Symlink,
    /// Regular file, device, fifo or whiteout.
    Other,
}

/// The operations the unpacker performs, each on a name inside an already opened directory
/// (never on a path), and never following a symbolic link.
pub(super) trait Tree {
    /// An open directory of the layer.
    type Dir;
    /// A regular file being written.
    type File: io::Write;

    /// A fresh handle on the layer's root directory.
    fn root(&self) -> io::Result<Self::Dir>;
    fn try_clone(&self, dir: &Self::Dir) -> io::Result<Self::Dir>;
    /// The directory `name` in `dir` (component number `index` of a walk, for errors), never
    /// through a symbolic link; created with mode `create` when missing and `create` is given.
    fn open_child(
        &self,
        dir: &Self::Dir,
        name: &[u8],
        index: usize,
        create: Option<u32>,
    ) -> Result<Self::Dir, WalkError>;
    /// The type of `name` in `dir`, not following it; `None` if nothing is there.
    fn file_type_at(&self, dir: &Self::Dir, name: &[u8]) -> io::Result<Option<FileType>>;
    /// Removes `name` from `dir` whatever it is, a directory with its contents.
    fn remove_all(&self, dir: &Self::Dir, name: &[u8]) -> io::Result<()>;
    /// A new directory, private to the caller until [`Tree::apply_meta`].
    fn mkdir(&self, dir: &Self::Dir, name: &[u8]) -> io::Result<()>;
    /// A new, empty regular file; fails with `AlreadyExists` if anything is at `name`.
    fn create_file(&self, dir: &Self::Dir, name: &[u8]) -> io::Result<Self::File>;
    /// Gives a fully written file its metadata and closes it.
    fn finish_file(&self, file: Self::File, meta: &Meta, path: &str) -> Result<(), UnpackError>;
    fn symlink(&self, target: &[u8], dir: &Self::Dir, name: &[u8]) -> io::Result<()>;
    /// A hard link `dir/name` to the existing non-directory `target_dir/target_name`.
    fn hardlink(
        &self,
        target_dir: &Self::Dir,
        target_name: &[u8],
        dir: &Self::Dir,
        name: &[u8],
    ) -> io::Result<()>;
    /// A character or block device, fifo or (0:0 character device) whiteout.
    fn mknod(&self, dir: &Self::Dir, name: &[u8], kind: FileType, dev: Dev) -> io::Result<()>;
    /// Owner, permissions, extended attributes and (except directories) times of `name`.
    fn apply_meta(
        &self,
        dir: &Self::Dir,
        name: &[u8],
        meta: &Meta,
        path: &str,
        made: Made,
    ) -> Result<(), UnpackError>;
    /// Marks `dir` opaque for overlayfs.
    fn set_opaque(&self, dir: &Self::Dir) -> io::Result<()>;
    /// Sets the access and modification time of `name` in `dir`, not following it.
    fn set_times(&self, dir: &Self::Dir, name: &[u8], mtime: Timespec) -> io::Result<()>;
}
