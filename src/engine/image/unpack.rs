//! Safe unpacking of untrusted layer tarballs into a layer directory.
//!
//! One layer tarball (plain or gzip) becomes one directory that later serves as an overlayfs
//! lower directory, like Docker's overlay2 `diff/`. The archive is hostile until proven
//! otherwise (RUSTSEC-2021-0080): the `tar` crate only parses it; every change to the file
//! system is made here, relative to a descriptor of the destination, never following a
//! symbolic link (see [`beneath`]). Entry paths are made relative (a leading `/` is dropped, as
//! Docker does) and may not contain `..`; a symbolic link met on the way to an entry is an
//! error, not a detour. OCI whiteouts (`.wh.name`, `.wh..wh..opq`) become overlayfs whiteouts
//! (a 0:0 character device, the `trusted.overlay.opaque` attribute); AUFS bookkeeping entries
//! are skipped and the archive may not set `trusted.overlay.*` attributes itself.
//!
//! Like tar, a later entry replaces an earlier one at the same path (a directory over a
//! directory only updates its metadata), missing parents are created 0755, and directory
//! times are set after the last entry.

pub(super) mod beneath;
mod entry;
mod input;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{
    self as rfs, AtFlags, Dev, FileType, Mode, OFlags, Timespec, Timestamps, XattrFlags,
};

use beneath::WalkError;
use entry::{entry_kind, read_meta, Kind, Meta, PathProblem, Target};
use input::Input;

/// Prefix of an OCI whiteout entry: `dir/.wh.name` hides `dir/name` of the layers below.
pub const WHITEOUT_PREFIX: &[u8] = b".wh.";
/// Prefix of whiteout metadata entries (AUFS internals), of which only the opaque marker counts.
pub const WHITEOUT_META_PREFIX: &[u8] = b".wh..wh.";
/// OCI marker entry: `dir/.wh..wh..opq` makes `dir` opaque (hides everything below it).
pub const WHITEOUT_OPAQUE: &[u8] = b".wh..wh..opq";
/// The overlayfs attribute that makes a directory opaque, with value `y`.
pub const OVERLAY_OPAQUE_XATTR: &[u8] = b"trusted.overlay.opaque";
/// The longest entry path accepted (Linux's `PATH_MAX`): it also bounds how deep a layer's
/// directories can nest.
pub const MAX_PATH_LEN: usize = 4096;
/// Extended attributes of the overlay driver itself; an archive may not set them, since the
/// layer format expresses opaque directories only as `.wh..wh..opq`.
pub(super) const OVERLAY_XATTR_PREFIX: &[u8] = b"trusted.overlay.";
/// PAX record prefix carrying extended attributes (GNU tar, Go's archive/tar, Docker).
pub(super) const PAX_XATTR_PREFIX: &[u8] = b"SCHILY.xattr.";

/// How to unpack a layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnpackOptions {
    /// Create character devices, block devices and fifos found in the archive, as Docker does
    /// when running as root. When false, such entries are refused. Whiteouts (0:0 character
    /// devices made by the unpacker itself) are created either way.
    pub allow_devices: bool,
}

impl Default for UnpackOptions {
    fn default() -> Self {
        UnpackOptions {
            allow_devices: true,
        }
    }
}

/// What unpacking produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UnpackReport {
    /// Bytes of regular file content written, hard-linked files counted once: Docker's layer
    /// `Size`.
    pub size: u64,
}

/// Why a layer could not be unpacked. Entry paths are shown as written in the archive.
#[derive(Debug, thiserror::Error)]
pub enum UnpackError {
    #[error("cannot open layer directory {}", path.display())]
    Destination {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("layer archive is {compression}-compressed, which is not supported (only gzip is)")]
    UnsupportedCompression { compression: &'static str },
    #[error("layer archive is corrupt or truncated{}", after_entry(.after))]
    Archive {
        /// The last entry read successfully, if any.
        after: Option<String>,
        #[source]
        source: io::Error,
    },
    #[error("layer entry {path:?} is truncated: the header announces {expected} bytes, the archive holds {found}")]
    Truncated {
        path: String,
        expected: u64,
        found: u64,
    },
    #[error("layer entry {path:?} has an invalid {field} field")]
    InvalidHeader {
        path: String,
        field: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("layer archive holds an entry with an empty path")]
    EmptyPath,
    #[error("layer entry {path:?} contains a NUL byte in its path")]
    NulInPath { path: String },
    #[error("layer entry {path:?} has a path longer than {MAX_PATH_LEN} bytes")]
    PathTooLong { path: String },
    #[error("layer entry {path:?} contains a `..` component; refusing to leave the layer")]
    PathTraversal { path: String },
    #[error("layer entry {path:?} lies beneath {component:?}, which is a symbolic link; unpacking never follows one")]
    SymlinkInPath { path: String, component: String },
    #[error("layer entry {path:?} lies beneath {component:?}, which is not a directory")]
    NotADirectory { path: String, component: String },
    #[error("layer entry {path:?} would replace the layer directory itself with a non-directory")]
    RootNotDirectory { path: String },
    #[error("layer entry {path:?} has unsupported type {kind}")]
    UnsupportedType { path: String, kind: String },
    #[error("layer entry {path:?} is a device or fifo, and devices are not allowed here")]
    DeviceNotAllowed { path: String },
    #[error("layer entry {path:?} is not a valid whiteout (it hides no name)")]
    InvalidWhiteout { path: String },
    #[error("hard link {path:?} points to {target:?}, which contains a `..` component; refusing to leave the layer")]
    HardlinkTraversal { path: String, target: String },
    #[error("hard link {path:?} points to {target:?}, which lies beneath the symbolic link {component:?}; unpacking never follows one")]
    HardlinkThroughSymlink {
        path: String,
        target: String,
        component: String,
    },
    #[error("hard link {path:?} points to {target:?}, which does not exist earlier in the layer")]
    HardlinkTargetMissing { path: String, target: String },
    #[error("hard link {path:?} points to {target:?}, which is a directory")]
    HardlinkToDirectory { path: String, target: String },
    #[error("layer entry {path:?}: cannot set extended attribute {key:?}")]
    Xattr {
        path: String,
        key: String,
        #[source]
        source: io::Error,
    },
    #[error("layer entry {path:?}: {op} failed")]
    Io {
        path: String,
        op: &'static str,
        #[source]
        source: io::Error,
    },
}

fn after_entry(after: &Option<String>) -> String {
    match after {
        Some(path) => format!(" after entry {path:?}"),
        None => String::new(),
    }
}

/// Unpacks the layer tarball `reader` (uncompressed or gzip) into the existing, empty directory
/// `dest`. Nothing outside `dest` is created or changed, whatever the archive holds. On error
/// `dest` is left half-filled: the caller stages it and removes it.
///
/// The whole input is consumed, up to its end, so that a caller hashing the stream on the way
/// (for a diff ID) sees every byte.
pub fn unpack_layer<R: Read>(
    reader: R,
    dest: &Path,
    opts: &UnpackOptions,
) -> Result<UnpackReport, UnpackError> {
    let root = rfs::open(
        dest,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| UnpackError::Destination {
        path: dest.to_path_buf(),
        source: e.into(),
    })?;
    let input = Input::sniff(reader)?;
    let mut archive = tar::Archive::new(input);
    let mut layer = Layer::new(root, opts);
    let mut last: Option<String> = None;
    let archive_error = |after: &Option<String>, source| UnpackError::Archive {
        after: after.clone(),
        source,
    };
    for entry in archive.entries().map_err(|e| archive_error(&last, e))? {
        let mut entry = entry.map_err(|e| archive_error(&last, e))?;
        last = Some(layer.unpack_entry(&mut entry)?);
    }
    layer.finish()?;
    io::copy(&mut archive.into_inner(), &mut io::sink()).map_err(|e| archive_error(&last, e))?;
    Ok(UnpackReport { size: layer.size })
}

/// The unpacking in progress.
struct Layer<'o> {
    root: OwnedFd,
    opts: &'o UnpackOptions,
    size: u64,
    /// Directory mtimes, set at the end since creating entries inside changes them.
    dir_times: BTreeMap<Vec<Vec<u8>>, Timespec>,
    buf: Vec<u8>,
    /// The directories of the path last opened by [`Layer::open_dir`], outermost first
    /// (entry `i` is the directory `components[..=i]`). Layers list a tree depth first, so
    /// the next entry's parent shares most of this path: only the components below the
    /// shared part are walked (each still without following symlinks). Dropped whenever
    /// anything that could be one of these directories is removed or replaced.
    dir_stack: std::cell::RefCell<Vec<(Vec<u8>, OwnedFd)>>,
}

impl<'o> Layer<'o> {
    fn new(root: OwnedFd, opts: &'o UnpackOptions) -> Self {
        Layer {
            root,
            opts,
            size: 0,
            dir_times: BTreeMap::new(),
            buf: vec![0; 64 * 1024],
            dir_stack: std::cell::RefCell::new(Vec::new()),
        }
    }

    /// Unpacks one entry; returns its path for error context.
    fn unpack_entry<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
    ) -> Result<String, UnpackError> {
        let raw = entry.path_bytes().into_owned();
        let path = String::from_utf8_lossy(&raw).into_owned();
        let kind = entry_kind(entry, &raw, &path)?;
        if matches!(kind, Kind::Nothing) {
            return Ok(path);
        }
        let target = Target::parse(&raw).map_err(|problem| match problem {
            PathProblem::Empty => UnpackError::EmptyPath,
            PathProblem::TooLong => UnpackError::PathTooLong { path: path.clone() },
            PathProblem::Nul => UnpackError::NulInPath { path: path.clone() },
            PathProblem::Traversal => UnpackError::PathTraversal { path: path.clone() },
        })?;
        let meta = read_meta(entry, &path)?;
        let components = match target {
            Target::Root => {
                return match kind {
                    Kind::Directory => {
                        self.apply_meta(self.root.as_fd(), b".", &meta, &path, Made::Directory)?;
                        self.dir_times.insert(Vec::new(), meta.mtime);
                        Ok(path)
                    }
                    _ => Err(UnpackError::RootNotDirectory { path }),
                };
            }
            Target::Beneath(components) => components,
        };
        let is_aufs_meta = components[0].starts_with(WHITEOUT_META_PREFIX)
            && !(components.len() == 1 && components[0] == WHITEOUT_OPAQUE);
        if is_aufs_meta {
            // AUFS bookkeeping (`.wh..wh.plnk`, `.wh..wh.aufs`): Docker skips it too.
            return Ok(path);
        }
        let name = &components[components.len() - 1];
        if name == WHITEOUT_OPAQUE {
            self.opaque(&components[..components.len() - 1], &path)?;
        } else if let Some(hidden) = name.strip_prefix(WHITEOUT_PREFIX) {
            self.whiteout(&components, hidden, &meta, &path)?;
        } else {
            match kind {
                Kind::Directory => self.directory(&components, &meta, &path)?,
                Kind::Regular => self.regular(entry, &components, &meta, &path)?,
                Kind::Symlink(target) => self.symlink(&components, &target, &meta, &path)?,
                Kind::Hardlink(target) => self.hardlink(&components, &target, &path)?,
                Kind::Node(file_type, dev) => {
                    self.node(&components, file_type, dev, &meta, &path)?
                }
                Kind::Nothing => {}
            }
        }
        Ok(path)
    }

    fn directory(
        &mut self,
        components: &[Vec<u8>],
        meta: &Meta,
        path: &str,
    ) -> Result<(), UnpackError> {
        let (name, parent) = self.parent_of(components, path)?;
        let existing =
            beneath::file_type_at(parent.as_fd(), name).map_err(io_err(path, "inspecting"))?;
        if existing != Some(FileType::Directory) {
            self.clear(parent.as_fd(), components, path)?;
            rfs::mkdirat(&parent, name, Mode::RWXU).map_err(io_err(path, "creating directory"))?;
        }
        self.apply_meta(parent.as_fd(), name, meta, path, Made::Directory)?;
        self.dir_times.insert(components.to_vec(), meta.mtime);
        Ok(())
    }

    fn regular<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        components: &[Vec<u8>],
        meta: &Meta,
        path: &str,
    ) -> Result<(), UnpackError> {
        let (name, parent) = self.parent_of(components, path)?;
        let flags =
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let create = || rfs::openat(&parent, name, flags, Mode::RUSR | Mode::WUSR);
        // Usually nothing is there yet; only when something is, make way for the file (an
        // earlier entry of the same path is replaced, as tar does).
        let fd = match create() {
            Err(rustix::io::Errno::EXIST) => {
                self.clear(parent.as_fd(), components, path)?;
                create()
            }
            other => other,
        }
        .map_err(io_err(path, "creating file"))?;
        let mut file = File::from(fd);
        let mut found = 0u64;
        loop {
            let n = match entry.read(&mut self.buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(source) => {
                    return Err(UnpackError::Archive {
                        after: Some(path.to_owned()),
                        source,
                    })
                }
            };
            file.write_all(&self.buf[..n])
                .map_err(|e| UnpackError::Io {
                    path: path.to_owned(),
                    op: "writing file",
                    source: e,
                })?;
            found += n as u64;
        }
        let expected = entry.size();
        if found != expected {
            return Err(UnpackError::Truncated {
                path: path.to_owned(),
                expected,
                found,
            });
        }
        self.size += found;
        // The file is ours and open: set its metadata through the descriptor, no lookup.
        apply_meta_fd(file.as_fd(), meta, path)
    }

    fn symlink(
        &mut self,
        components: &[Vec<u8>],
        target: &[u8],
        meta: &Meta,
        path: &str,
    ) -> Result<(), UnpackError> {
        let (name, parent) = self.parent_of(components, path)?;
        self.clear(parent.as_fd(), components, path)?;
        rfs::symlinkat(target, &parent, name).map_err(io_err(path, "creating symbolic link"))?;
        self.apply_meta(parent.as_fd(), name, meta, path, Made::Symlink)
    }

    fn hardlink(
        &mut self,
        components: &[Vec<u8>],
        target_raw: &[u8],
        path: &str,
    ) -> Result<(), UnpackError> {
        let target = String::from_utf8_lossy(target_raw).into_owned();
        let target_components = match Target::parse(target_raw) {
            Ok(Target::Beneath(c)) => c,
            Ok(Target::Root) => {
                return Err(UnpackError::HardlinkToDirectory {
                    path: path.to_owned(),
                    target,
                })
            }
            Err(PathProblem::Traversal) => {
                return Err(UnpackError::HardlinkTraversal {
                    path: path.to_owned(),
                    target,
                })
            }
            Err(PathProblem::Empty | PathProblem::Nul | PathProblem::TooLong) => {
                return Err(UnpackError::HardlinkTargetMissing {
                    path: path.to_owned(),
                    target,
                })
            }
        };
        let (target_name, target_parents) = split_last(&target_components);
        let target_parent =
            beneath::open_dir(self.root.as_fd(), target_parents, None).map_err(|e| {
                let component = |index: usize| join(&target_parents[..=index]);
                match e {
                    WalkError::Symlink { index } => UnpackError::HardlinkThroughSymlink {
                        path: path.to_owned(),
                        target: target.clone(),
                        component: component(index),
                    },
                    WalkError::NotDirectory { .. } | WalkError::Missing { .. } => {
                        UnpackError::HardlinkTargetMissing {
                            path: path.to_owned(),
                            target: target.clone(),
                        }
                    }
                    WalkError::Io { source, .. } => UnpackError::Io {
                        path: path.to_owned(),
                        op: "opening the hard link target's directory",
                        source,
                    },
                }
            })?;
        match beneath::file_type_at(target_parent.as_fd(), target_name)
            .map_err(io_err(path, "inspecting the hard link target"))?
        {
            None => {
                return Err(UnpackError::HardlinkTargetMissing {
                    path: path.to_owned(),
                    target,
                })
            }
            Some(FileType::Directory) => {
                return Err(UnpackError::HardlinkToDirectory {
                    path: path.to_owned(),
                    target,
                })
            }
            Some(_) => {}
        }
        if target_components == components {
            // A link to itself: the file is already there.
            return Ok(());
        }
        let (name, parent) = self.parent_of(components, path)?;
        self.clear(parent.as_fd(), components, path)?;
        rfs::linkat(&target_parent, target_name, &parent, name, AtFlags::empty())
            .map_err(io_err(path, "creating hard link"))?;
        Ok(())
    }

    fn node(
        &mut self,
        components: &[Vec<u8>],
        file_type: FileType,
        dev: Dev,
        meta: &Meta,
        path: &str,
    ) -> Result<(), UnpackError> {
        if !self.opts.allow_devices {
            return Err(UnpackError::DeviceNotAllowed {
                path: path.to_owned(),
            });
        }
        let (name, parent) = self.parent_of(components, path)?;
        self.clear(parent.as_fd(), components, path)?;
        rfs::mknodat(&parent, name, file_type, Mode::RUSR | Mode::WUSR, dev)
            .map_err(io_err(path, "creating device node"))?;
        self.apply_meta(parent.as_fd(), name, meta, path, Made::Other)
    }

    /// `dir/.wh.name`: an overlayfs whiteout, the character device 0:0, at `dir/name`.
    fn whiteout(
        &mut self,
        components: &[Vec<u8>],
        hidden: &[u8],
        meta: &Meta,
        path: &str,
    ) -> Result<(), UnpackError> {
        self.forget_dir();
        if hidden.is_empty() || hidden == b"." || hidden == b".." {
            return Err(UnpackError::InvalidWhiteout {
                path: path.to_owned(),
            });
        }
        let mut hidden_path = components.to_vec();
        if let Some(last) = hidden_path.last_mut() {
            *last = hidden.to_vec();
        }
        let (name, parent) = self.parent_of(&hidden_path, path)?;
        self.clear(parent.as_fd(), &hidden_path, path)?;
        rfs::mknodat(
            &parent,
            name,
            FileType::CharacterDevice,
            Mode::empty(),
            rfs::makedev(0, 0),
        )
        .map_err(io_err(path, "creating whiteout"))?;
        // Overlayfs' own whiteouts carry no permission bits and no extended attributes.
        let meta = Meta {
            mode: 0,
            xattrs: Vec::new(),
            ..meta.clone()
        };
        self.apply_meta(parent.as_fd(), name, &meta, path, Made::Other)
    }

    /// `dir/.wh..wh..opq`: marks `dir` opaque for overlayfs.
    fn opaque(&mut self, dir: &[Vec<u8>], path: &str) -> Result<(), UnpackError> {
        self.forget_dir();
        let fd = self.open_dir(dir, path)?;
        rfs::fsetxattr(&fd, OVERLAY_OPAQUE_XATTR, b"y", XattrFlags::empty()).map_err(|e| {
            UnpackError::Xattr {
                path: path.to_owned(),
                key: String::from_utf8_lossy(OVERLAY_OPAQUE_XATTR).into_owned(),
                source: e.into(),
            }
        })
    }

    /// Sets the directory mtimes recorded on the way; the layer is complete after this.
    fn finish(&mut self) -> Result<(), UnpackError> {
        for (components, mtime) in &self.dir_times {
            let path = String::from_utf8_lossy(&join_bytes(components)).into_owned();
            let (parent, name): (OwnedFd, &[u8]) = match components.split_last() {
                None => (
                    beneath::reopen_dir(self.root.as_fd()).map_err(io_err(&path, "opening"))?,
                    b".",
                ),
                Some((name, parents)) => {
                    let parent = beneath::open_dir(self.root.as_fd(), parents, None)
                        .map_err(|e| walk_error(&path, parents, e))?;
                    (parent, name)
                }
            };
            let is_dir = beneath::file_type_at(parent.as_fd(), name)
                .map_err(io_err(&path, "inspecting"))?
                == Some(FileType::Directory);
            if is_dir {
                set_times(parent.as_fd(), name, *mtime)
                    .map_err(io_err(&path, "setting modification time"))?;
            }
        }
        Ok(())
    }

    /// The last component of `components` and an open descriptor of its parent directory,
    /// creating missing parents (mode 0755, like Docker).
    fn parent_of<'c>(
        &self,
        components: &'c [Vec<u8>],
        path: &str,
    ) -> Result<(&'c [u8], OwnedFd), UnpackError> {
        let (name, parents) = split_last(components);
        Ok((name, self.open_dir(parents, path)?))
    }

    /// Opens (creating it if missing) the directory `components` beneath the layer root.
    fn open_dir(&self, components: &[Vec<u8>], path: &str) -> Result<OwnedFd, UnpackError> {
        let mut stack = self.dir_stack.borrow_mut();
        let shared = stack
            .iter()
            .zip(components)
            .take_while(|((name, _), c)| name == *c)
            .count();
        stack.truncate(shared);
        for (index, name) in components.iter().enumerate().skip(shared) {
            let child = {
                let parent = match stack.last() {
                    Some((_, fd)) => fd.as_fd(),
                    None => self.root.as_fd(),
                };
                beneath::open_child(parent, name, index, Some(Mode::from_raw_mode(0o755)))
                    .map_err(|e| walk_error(path, components, e))?
            };
            stack.push((name.clone(), child));
        }
        match stack.last() {
            Some((_, fd)) => fd.try_clone(),
            None => beneath::reopen_dir(self.root.as_fd()),
        }
        .map_err(io_err(path, "opening"))
    }

    /// Forget the open directories: something in the layer is being removed or replaced.
    fn forget_dir(&self) {
        self.dir_stack.borrow_mut().clear();
    }

    /// Makes way for a new entry at `components` (whose parent is `parent`): whatever is there
    /// goes, a directory with its contents, as tar and Docker do.
    fn clear(
        &mut self,
        parent: BorrowedFd<'_>,
        components: &[Vec<u8>],
        path: &str,
    ) -> Result<(), UnpackError> {
        let (name, _) = split_last(components);
        // Only a directory that goes away can be (or contain) the cached one.
        if beneath::file_type_at(parent, name).map_err(io_err(path, "inspecting"))?
            == Some(FileType::Directory)
        {
            self.forget_dir();
        }
        beneath::remove_all(parent, name).map_err(io_err(path, "removing the existing file"))?;
        self.dir_times.retain(|dir, _| {
            !(dir.len() >= components.len() && dir[..components.len()] == *components)
        });
        Ok(())
    }

    /// Applies ownership, then permissions (a chown clears setuid bits), then extended
    /// attributes (a chown clears `security.capability`), then times, as fits what was made:
    /// symbolic links have no permissions of their own, directories get their times at the end.
    fn apply_meta(
        &self,
        parent: BorrowedFd<'_>,
        name: &[u8],
        meta: &Meta,
        path: &str,
        made: Made,
    ) -> Result<(), UnpackError> {
        rfs::chownat(
            parent,
            name,
            Some(meta.uid),
            Some(meta.gid),
            AtFlags::SYMLINK_NOFOLLOW,
        )
        .map_err(io_err(path, "changing owner"))?;
        if made != Made::Symlink {
            beneath::chmod_at(parent, name, meta.mode).map_err(io_err(path, "changing mode"))?;
        }
        for (key, value) in &meta.xattrs {
            beneath::set_xattr_at(parent, name, key, value).map_err(|source| {
                UnpackError::Xattr {
                    path: path.to_owned(),
                    key: String::from_utf8_lossy(key).into_owned(),
                    source,
                }
            })?;
        }
        if made != Made::Directory {
            set_times(parent, name, meta.mtime)
                .map_err(io_err(path, "setting modification time"))?;
        }
        Ok(())
    }
}

/// [`Layer::apply_meta`] for a regular file just created and still open: owner (first: a
/// chown clears set-id bits and capabilities), mode, extended attributes, times.
fn apply_meta_fd(fd: BorrowedFd<'_>, meta: &Meta, path: &str) -> Result<(), UnpackError> {
    rfs::fchown(fd, Some(meta.uid), Some(meta.gid)).map_err(io_err(path, "changing owner"))?;
    rfs::fchmod(fd, Mode::from_raw_mode(meta.mode)).map_err(io_err(path, "changing mode"))?;
    for (key, value) in &meta.xattrs {
        rfs::fsetxattr(fd, key.as_slice(), value, rustix::fs::XattrFlags::empty()).map_err(
            |e| UnpackError::Xattr {
                path: path.to_owned(),
                key: String::from_utf8_lossy(key).into_owned(),
                source: e.into(),
            },
        )?;
    }
    let times = Timestamps {
        last_access: meta.mtime,
        last_modification: meta.mtime,
    };
    rfs::futimens(fd, &times).map_err(io_err(path, "setting modification time"))
}

/// What an entry just made, for [`Layer::apply_meta`].
#[derive(Clone, Copy, PartialEq, Eq)]
enum Made {
    Directory,
    Symlink,
    /// Regular file, device, fifo or whiteout.
    Other,
}

/// Sets access and modification time of `name` in `dir` to `mtime`, not following it.
fn set_times(dir: BorrowedFd<'_>, name: &[u8], mtime: Timespec) -> rustix::io::Result<()> {
    let times = Timestamps {
        last_access: mtime,
        last_modification: mtime,
    };
    rfs::utimensat(dir, name, &times, AtFlags::SYMLINK_NOFOLLOW)
}

fn split_last(components: &[Vec<u8>]) -> (&[u8], &[Vec<u8>]) {
    match components.split_last() {
        Some((name, parents)) => (name.as_slice(), parents),
        // Targets beneath the root always have a component; "." stands for the root itself.
        None => (b".", components),
    }
}

fn join_bytes(components: &[Vec<u8>]) -> Vec<u8> {
    components.join(&b'/')
}

fn join(components: &[Vec<u8>]) -> String {
    String::from_utf8_lossy(&join_bytes(components)).into_owned()
}

fn walk_error(path: &str, components: &[Vec<u8>], e: WalkError) -> UnpackError {
    match e {
        WalkError::Symlink { index } => UnpackError::SymlinkInPath {
            path: path.to_owned(),
            component: join(&components[..=index]),
        },
        WalkError::NotDirectory { index } | WalkError::Missing { index } => {
            UnpackError::NotADirectory {
                path: path.to_owned(),
                component: join(&components[..=index]),
            }
        }
        WalkError::Io { source, .. } => UnpackError::Io {
            path: path.to_owned(),
            op: "opening the parent directory",
            source,
        },
    }
}

fn io_err<'p, E: Into<io::Error>>(
    path: &'p str,
    op: &'static str,
) -> impl FnOnce(E) -> UnpackError + 'p {
    move |e| UnpackError::Io {
        path: path.to_owned(),
        op,
        source: e.into(),
    }
}
