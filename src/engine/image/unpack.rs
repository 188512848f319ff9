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
//!
//! A layer expands to no more than its archive describes: sparse entries (GNU `S`, PAX
//! `GNU.sparse.*`), whose headers claim more content than the archive holds, are refused at
//! the header, and a layer makes at most one file or directory per 512-byte block of archive
//! read, plus [`INODE_SLACK`] for parent directories an archive leaves out.
//!
//! The rules live in [`Layer`]; what they do lands in a [`tree::Tree`]: the layer directory
//! ([`unpack_layer`]) or an in-memory model of it ([`check_layer`], the dry run `load` makes
//! before storing a layer it will only unpack for a container later).

pub(super) mod beneath;
mod disk;
mod entry;
mod input;
mod model;
mod tree;

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use rustix::fs::{self as rfs, Dev, FileType, Mode, OFlags, Timespec};

use beneath::WalkError;
use disk::Disk;
use entry::{entry_kind, read_meta, Kind, Meta, PathProblem, Target};
use input::Input;
use model::Model;
use tree::{Made, Tree};

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
/// PAX record prefix of GNU's sparse file formats (0.0, 0.1, 1.0), which are refused.
pub(super) const PAX_SPARSE_PREFIX: &[u8] = b"GNU.sparse.";
/// Files and directories a layer may make beyond one per 512-byte block of archive read.
pub const INODE_SLACK: u64 = 1024;

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
    /// Docker's words for a type its extraction does not handle (GNU sparse is 83).
    #[error("layer entry {path:?}: unhandled tar header type {flag}")]
    UnsupportedType { path: String, flag: u8 },
    #[error("layer entry {path:?} is a sparse file (GNU.sparse PAX records), which is not supported: its holes would be written out in full")]
    SparsePax { path: String },
    #[error("layer entry {path:?} would make file or directory number {count} of the layer from only {read} bytes of archive: a layer may hold one per 512-byte block of its archive (plus {INODE_SLACK})")]
    TooManyFiles { path: String, count: u64, read: u64 },
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

/// What a dry run ([`check_layer`]) learned about a layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayerCheck {
    /// Docker's layer size once unpacked (`directory.Size`): everything that is not a
    /// directory, a symbolic link by its target's length, hard-linked files once.
    pub size: u64,
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
    let layer = run(reader, Layer::new(Disk::new(root), opts))?;
    Ok(UnpackReport { size: layer.size })
}

/// A dry run of [`unpack_layer`]: the same rules applied to the same archive, in memory.
/// Whatever [`unpack_layer`] would refuse is refused with the same error, so an archive that
/// passes unpacks later unless the system itself fails (a full disk, a file system without
/// extended attributes). Consumes the whole input, as [`unpack_layer`] does.
pub fn check_layer<R: Read>(reader: R, opts: &UnpackOptions) -> Result<LayerCheck, UnpackError> {
    let layer = run(reader, Layer::new(Model::new(), opts))?;
    Ok(LayerCheck {
        size: layer.tree.size(),
    })
}

/// Feeds every entry of the archive in `reader` to `layer` and reads the input to its end.
fn run<R: Read, T: Tree>(reader: R, mut layer: Layer<'_, T>) -> Result<Layer<'_, T>, UnpackError> {
    let input = Input::sniff(reader)?;
    let mut archive = tar::Archive::new(input);
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
    Ok(layer)
}

/// The unpacking in progress, into the tree `T`.
struct Layer<'o, T: Tree> {
    tree: T,
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
    dir_stack: std::cell::RefCell<Vec<(Vec<u8>, T::Dir)>>,
    /// Files and directories made so far (hard links make none).
    made: std::cell::Cell<u64>,
    /// Bytes of (uncompressed) archive read up to the current entry's data.
    read: u64,
}

impl<'o, T: Tree> Layer<'o, T> {
    fn new(tree: T, opts: &'o UnpackOptions) -> Self {
        Layer {
            tree,
            opts,
            size: 0,
            dir_times: BTreeMap::new(),
            buf: vec![0; 64 * 1024],
            dir_stack: std::cell::RefCell::new(Vec::new()),
            made: std::cell::Cell::new(0),
            read: 0,
        }
    }

    /// Unpacks one entry; returns its path for error context.
    fn unpack_entry<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
    ) -> Result<String, UnpackError> {
        let raw = entry.path_bytes().into_owned();
        let path = String::from_utf8_lossy(&raw).into_owned();
        self.read = entry.raw_file_position();
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
                        let root = self.tree.root().map_err(io_err(&path, "opening"))?;
                        self.tree
                            .apply_meta(&root, b".", &meta, &path, Made::Directory)?;
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
        let existing = self
            .tree
            .file_type_at(&parent, name)
            .map_err(io_err(path, "inspecting"))?;
        if existing != Some(FileType::Directory) {
            self.clear(&parent, components, path)?;
            self.count_made(path)?;
            self.tree
                .mkdir(&parent, name)
                .map_err(io_err(path, "creating directory"))?;
        }
        self.tree
            .apply_meta(&parent, name, meta, path, Made::Directory)?;
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
        self.count_made(path)?;
        // Usually nothing is there yet; only when something is, make way for the file (an
        // earlier entry of the same path is replaced, as tar does).
        let mut file = match self.tree.create_file(&parent, name) {
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                self.clear(&parent, components, path)?;
                self.tree.create_file(&parent, name)
            }
            other => other,
        }
        .map_err(io_err(path, "creating file"))?;
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
        self.tree.finish_file(file, meta, path)
    }

    fn symlink(
        &mut self,
        components: &[Vec<u8>],
        target: &[u8],
        meta: &Meta,
        path: &str,
    ) -> Result<(), UnpackError> {
        let (name, parent) = self.parent_of(components, path)?;
        self.clear(&parent, components, path)?;
        self.count_made(path)?;
        self.tree
            .symlink(target, &parent, name)
            .map_err(io_err(path, "creating symbolic link"))?;
        self.tree
            .apply_meta(&parent, name, meta, path, Made::Symlink)
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
        let target_parent = self.walk(target_parents).map_err(|e| {
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
        match self
            .tree
            .file_type_at(&target_parent, target_name)
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
        self.clear(&parent, components, path)?;
        self.tree
            .hardlink(&target_parent, target_name, &parent, name)
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
        self.clear(&parent, components, path)?;
        self.count_made(path)?;
        self.tree
            .mknod(&parent, name, file_type, dev)
            .map_err(io_err(path, "creating device node"))?;
        self.tree.apply_meta(&parent, name, meta, path, Made::Other)
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
        self.clear(&parent, &hidden_path, path)?;
        self.count_made(path)?;
        self.tree
            .mknod(&parent, name, FileType::CharacterDevice, rfs::makedev(0, 0))
            .map_err(io_err(path, "creating whiteout"))?;
        // Overlayfs' own whiteouts carry no permission bits and no extended attributes.
        let meta = Meta {
            mode: 0,
            xattrs: Vec::new(),
            ..meta.clone()
        };
        self.tree
            .apply_meta(&parent, name, &meta, path, Made::Other)
    }

    /// `dir/.wh..wh..opq`: marks `dir` opaque for overlayfs.
    fn opaque(&mut self, dir: &[Vec<u8>], path: &str) -> Result<(), UnpackError> {
        self.forget_dir();
        let dir = self.open_dir(dir, path)?;
        self.tree
            .set_opaque(&dir)
            .map_err(|source| UnpackError::Xattr {
                path: path.to_owned(),
                key: String::from_utf8_lossy(OVERLAY_OPAQUE_XATTR).into_owned(),
                source,
            })
    }

    /// Sets the directory mtimes recorded on the way; the layer is complete after this.
    fn finish(&mut self) -> Result<(), UnpackError> {
        for (components, mtime) in &self.dir_times {
            let path = String::from_utf8_lossy(&join_bytes(components)).into_owned();
            let (parent, name): (T::Dir, &[u8]) = match components.split_last() {
                None => (self.tree.root().map_err(io_err(&path, "opening"))?, b"."),
                Some((name, parents)) => {
                    let parent = self
                        .walk(parents)
                        .map_err(|e| walk_error(&path, parents, e))?;
                    (parent, name)
                }
            };
            let is_dir = self
                .tree
                .file_type_at(&parent, name)
                .map_err(io_err(&path, "inspecting"))?
                == Some(FileType::Directory);
            if is_dir {
                self.tree
                    .set_times(&parent, name, *mtime)
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
    ) -> Result<(&'c [u8], T::Dir), UnpackError> {
        let (name, parents) = split_last(components);
        Ok((name, self.open_dir(parents, path)?))
    }

    /// Opens (creating it if missing) the directory `components` beneath the layer root.
    fn open_dir(&self, components: &[Vec<u8>], path: &str) -> Result<T::Dir, UnpackError> {
        let mut stack = self.dir_stack.borrow_mut();
        let shared = stack
            .iter()
            .zip(components)
            .take_while(|((name, _), c)| name == *c)
            .count();
        stack.truncate(shared);
        for (index, name) in components.iter().enumerate().skip(shared) {
            let root;
            let parent = match stack.last() {
                Some((_, dir)) => dir,
                None => {
                    root = self.tree.root().map_err(io_err(path, "opening"))?;
                    &root
                }
            };
            let child = match self.tree.open_child(parent, name, index, None) {
                Err(WalkError::Missing { .. }) => {
                    self.count_made(path)?;
                    self.tree.open_child(parent, name, index, Some(0o755))
                }
                other => other,
            }
            .map_err(|e| walk_error(path, components, e))?;
            stack.push((name.clone(), child));
        }
        match stack.last() {
            Some((_, dir)) => self.tree.try_clone(dir),
            None => self.tree.root(),
        }
        .map_err(io_err(path, "opening"))
    }

    /// Counts a file or directory about to be made for the entry `path`. A layer may not
    /// expand beyond what its archive describes: one per 512-byte block read so far (every
    /// entry has a header block) plus [`INODE_SLACK`] for parent directories an archive
    /// leaves out. Without the bound, one entry with a 4 KB path makes 2,000 directories.
    fn count_made(&self, path: &str) -> Result<(), UnpackError> {
        let count = self.made.get() + 1;
        self.made.set(count);
        if count > INODE_SLACK + self.read / 512 {
            return Err(UnpackError::TooManyFiles {
                path: path.to_owned(),
                count,
                read: self.read,
            });
        }
        Ok(())
    }

    /// Opens the existing directory `components` beneath the layer root, creating nothing.
    fn walk(&self, components: &[Vec<u8>]) -> Result<T::Dir, WalkError> {
        let mut dir = self
            .tree
            .root()
            .map_err(|source| WalkError::Io { source })?;
        for (index, name) in components.iter().enumerate() {
            dir = self.tree.open_child(&dir, name, index, None)?;
        }
        Ok(dir)
    }

    /// Forget the open directories: something in the layer is being removed or replaced.
    fn forget_dir(&self) {
        self.dir_stack.borrow_mut().clear();
    }

    /// Makes way for a new entry at `components` (whose parent is `parent`): whatever is there
    /// goes, a directory with its contents, as tar and Docker do.
    fn clear(
        &mut self,
        parent: &T::Dir,
        components: &[Vec<u8>],
        path: &str,
    ) -> Result<(), UnpackError> {
        let (name, _) = split_last(components);
        // Only a directory that goes away can be (or contain) the cached one.
        if self
            .tree
            .file_type_at(parent, name)
            .map_err(io_err(path, "inspecting"))?
            == Some(FileType::Directory)
        {
            self.forget_dir();
        }
        self.tree
            .remove_all(parent, name)
            .map_err(io_err(path, "removing the existing file"))?;
        self.dir_times.retain(|dir, _| {
            !(dir.len() >= components.len() && dir[..components.len()] == *components)
        });
        Ok(())
    }
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
