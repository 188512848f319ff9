//! Writing a directory tree as a deterministic layer tarball.
//!
//! The tar looks like the layers Docker writes: relative paths without a leading `./`
//! (`bin/`, `bin/sh`), numeric owners with empty user and group names, no access or change
//! times, mtimes in whole seconds, POSIX ustar headers and PAX records only where ustar cannot
//! hold a value (long or non-ASCII names, extended attributes, big ids, sizes or times), in
//! GNU tar's `--format=posix` layout: a tree unpacked from a Debian image layer packs back to
//! the same bytes. Entries are sorted
//! by path, component by component and each byte-wise (a directory, then its contents, then
//! its next sibling: the order of `docker save` layers and GNU tar's `--sort=name`), so the
//! same tree always gives the same bytes. Hard links inside the tree become link entries
//! pointing at the first path in that order. With
//! [`PackOptions::overlay_whiteouts`], an overlayfs upper directory is turned back into OCI
//! form, as Docker's commit does: whiteout devices become `.wh.name`, opaque directories get a
//! `.wh..wh..opq` entry.

mod writer;

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags};

use super::unpack::beneath::{self, WalkError};
use super::unpack::{OVERLAY_OPAQUE_XATTR, OVERLAY_XATTR_PREFIX, WHITEOUT_OPAQUE, WHITEOUT_PREFIX};
use writer::{Entry, EntryKind, TarWriter};

/// How to pack a layer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PackOptions {
    /// The directory is an overlayfs upper directory: write its whiteouts (character devices
    /// 0:0) as `.wh.name` entries and its opaque directories (`trusted.overlay.opaque=y`) with a
    /// `.wh..wh..opq` entry, the OCI layer format.
    pub overlay_whiteouts: bool,
}

/// What packing produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PackReport {
    /// Bytes of regular file content written, hard-linked files counted once (Docker's layer
    /// `Size`, as [`super::unpack::UnpackReport::size`]).
    pub size: u64,
}

/// Why a layer could not be packed.
#[derive(Debug, thiserror::Error)]
pub enum PackError {
    #[error("cannot open layer directory {}", path.display())]
    Source {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot {op} {path:?} in the layer directory")]
    Read {
        path: String,
        op: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("{path:?} changed while the layer was being packed")]
    Changed { path: String },
    #[error("cannot write the layer archive")]
    Write(#[source] io::Error),
}

/// Writes the contents of `dir` (not `dir` itself) to `out` as an uncompressed layer tar.
pub fn pack_layer<W: Write>(
    dir: &Path,
    out: W,
    opts: &PackOptions,
) -> Result<PackReport, PackError> {
    let root = rfs::open(
        dir,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| PackError::Source {
        path: dir.to_path_buf(),
        source: e.into(),
    })?;
    let mut nodes = collect(root.as_fd(), opts)?;
    nodes.sort_by(|a, b| components(&a.tar_path).cmp(components(&b.tar_path)));

    let mut tar = TarWriter::new(out);
    let mut first_paths = HashMap::new();
    let mut size = 0;
    for node in &nodes {
        size += write_node(&mut tar, root.as_fd(), node, &mut first_paths)?;
    }
    tar.finish()?;
    Ok(PackReport { size })
}

/// Writes the entries for one node: a hard link entry if its inode was written before, else
/// the node itself (and an opaque marker after an opaque directory). Returns the bytes of
/// regular file content written.
fn write_node<W: Write>(
    tar: &mut TarWriter<W>,
    root: BorrowedFd<'_>,
    node: &Node,
    first_paths: &mut HashMap<(u64, u64), Vec<u8>>,
) -> Result<u64, PackError> {
    let mut entry = Entry {
        name: node.tar_path.clone(),
        kind: EntryKind::Regular,
        mode: node.mode,
        uid: node.uid,
        gid: node.gid,
        mtime: node.mtime,
        size: 0,
        link: Vec::new(),
        device: (0, 0),
        xattrs: &node.xattrs,
    };
    if node.nlink > 1 && !matches!(node.kind, NodeKind::Directory | NodeKind::Whiteout) {
        if let Some(first) = first_paths.get(&node.inode) {
            entry.kind = EntryKind::Link;
            entry.link = first.clone();
            tar.write(&entry, None)?;
            return Ok(0);
        }
        first_paths.insert(node.inode, node.tar_path.clone());
    }
    match &node.kind {
        NodeKind::Directory => {
            entry.kind = EntryKind::Directory;
            entry.name.push(b'/');
            tar.write(&entry, None)?;
            if node.opaque {
                // Docker's marker: an empty file owned like its directory.
                let marker = Entry {
                    name: [&node.tar_path[..], b"/", WHITEOUT_OPAQUE].concat(),
                    kind: EntryKind::Regular,
                    mode: node.mode & 0o777,
                    xattrs: &[],
                    ..entry
                };
                tar.write(&marker, None)?;
            }
        }
        NodeKind::Regular { size } => {
            entry.size = *size;
            let mut file = open_file(root, node)?;
            tar.write(&entry, Some((&mut file, &node.tar_path)))?;
            return Ok(*size);
        }
        NodeKind::Symlink(target) => {
            entry.kind = EntryKind::Symlink;
            entry.link = target.clone();
            tar.write(&entry, None)?;
        }
        NodeKind::Device(kind, major, minor) => {
            entry.kind = *kind;
            entry.device = (*major, *minor);
            tar.write(&entry, None)?;
        }
        NodeKind::Fifo => {
            entry.kind = EntryKind::Fifo;
            tar.write(&entry, None)?;
        }
        NodeKind::Whiteout => {
            // Docker writes whiteouts as empty regular files with mode 0600.
            entry.mode = 0o600;
            entry.xattrs = &[];
            tar.write(&entry, None)?;
        }
    }
    Ok(0)
}

/// A file found in the tree.
struct Node {
    /// Path relative to the tree, components joined by `/`: the tar entry name (directories
    /// get a trailing `/` on writing). For a whiteout, the `.wh.` name it is written under.
    tar_path: Vec<u8>,
    /// Path relative to the tree as found on disk.
    disk_path: Vec<u8>,
    kind: NodeKind,
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: i64,
    inode: (u64, u64),
    nlink: u64,
    /// Sorted, without `trusted.overlay.*`.
    xattrs: Vec<(Vec<u8>, Vec<u8>)>,
    /// An opaque overlayfs directory, to be marked with `.wh..wh..opq`.
    opaque: bool,
}

enum NodeKind {
    Directory,
    Regular {
        size: u64,
    },
    Symlink(Vec<u8>),
    Device(EntryKind, u32, u32),
    Fifo,
    /// An overlayfs whiteout, written as an OCI `.wh.` entry.
    Whiteout,
}

/// Lists the whole tree beneath `root` (unsorted: the caller sorts), never following a link.
fn collect(root: BorrowedFd<'_>, opts: &PackOptions) -> Result<Vec<Node>, PackError> {
    let mut nodes = Vec::new();
    let mut pending: Vec<Vec<Vec<u8>>> = vec![Vec::new()];
    while let Some(dir_components) = pending.pop() {
        let dir_path = dir_components.join(&b'/');
        let dir = open_dir(root, &dir_components, &dir_path)?;
        let names = beneath::child_names(dir.as_fd()).map_err(read_err(&dir_path, "list"))?;
        for name in names {
            let mut disk_path = dir_path.clone();
            if !disk_path.is_empty() {
                disk_path.push(b'/');
            }
            disk_path.extend_from_slice(&name);
            let Some(node) = inspect(dir.as_fd(), &name, disk_path, opts)? else {
                continue;
            };
            if matches!(node.kind, NodeKind::Directory) {
                let mut components = dir_components.clone();
                components.push(name);
                pending.push(components);
            }
            nodes.push(node);
        }
    }
    Ok(nodes)
}

/// Reads everything the tar needs about `name` in `dir`; `None` for sockets, which tar
/// cannot hold.
fn inspect(
    dir: BorrowedFd<'_>,
    name: &[u8],
    disk_path: Vec<u8>,
    opts: &PackOptions,
) -> Result<Option<Node>, PackError> {
    let st = rfs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)
        .map_err(read_err(&disk_path, "inspect"))?;
    let mut xattrs = beneath::xattrs_at(dir, name)
        .map_err(read_err(&disk_path, "read extended attributes of"))?;
    let opaque = opts.overlay_whiteouts
        && xattrs
            .iter()
            .any(|(key, value)| key == OVERLAY_OPAQUE_XATTR && value == b"y");
    xattrs.retain(|(key, _)| !key.starts_with(OVERLAY_XATTR_PREFIX));
    let mut tar_path = disk_path.clone();
    let kind = match FileType::from_raw_mode(st.st_mode) {
        FileType::Directory => NodeKind::Directory,
        FileType::RegularFile => NodeKind::Regular {
            size: u64::try_from(st.st_size).unwrap_or(0),
        },
        FileType::Symlink => {
            let target = rfs::readlinkat(dir, name, Vec::new())
                .map_err(read_err(&disk_path, "read the link"))?;
            NodeKind::Symlink(target.into_bytes())
        }
        FileType::CharacterDevice if opts.overlay_whiteouts && st.st_rdev == 0 => {
            let (parent, file) = match disk_path.iter().rposition(|&b| b == b'/') {
                Some(slash) => (&disk_path[..=slash], &disk_path[slash + 1..]),
                None => (&disk_path[..0], &disk_path[..]),
            };
            tar_path = [parent, WHITEOUT_PREFIX, file].concat();
            NodeKind::Whiteout
        }
        FileType::CharacterDevice => NodeKind::Device(
            EntryKind::Char,
            rfs::major(st.st_rdev),
            rfs::minor(st.st_rdev),
        ),
        FileType::BlockDevice => NodeKind::Device(
            EntryKind::Block,
            rfs::major(st.st_rdev),
            rfs::minor(st.st_rdev),
        ),
        FileType::Fifo => NodeKind::Fifo,
        FileType::Socket => return Ok(None),
        FileType::Unknown => {
            return Err(PackError::Read {
                path: lossy(&disk_path),
                op: "recognise the type of",
                source: io::Error::new(io::ErrorKind::InvalidData, "unknown file type"),
            })
        }
    };
    Ok(Some(Node {
        tar_path,
        disk_path,
        kind,
        mode: st.st_mode & 0o7777,
        uid: st.st_uid,
        gid: st.st_gid,
        mtime: st.st_mtime,
        inode: (st.st_dev, st.st_ino),
        nlink: st.st_nlink,
        xattrs,
        opaque,
    }))
}

fn open_dir(
    root: BorrowedFd<'_>,
    components: &[Vec<u8>],
    path: &[u8],
) -> Result<OwnedFd, PackError> {
    beneath::open_dir(root, components, None).map_err(|e| match e {
        WalkError::Io { source } => PackError::Read {
            path: lossy(path),
            op: "open",
            source,
        },
        WalkError::Symlink { .. } | WalkError::NotDirectory { .. } | WalkError::Missing { .. } => {
            PackError::Changed { path: lossy(path) }
        }
    })
}

/// Opens a regular file found by [`collect`], checking it is still that file.
fn open_file(root: BorrowedFd<'_>, node: &Node) -> Result<File, PackError> {
    let components: Vec<Vec<u8>> = node
        .disk_path
        .split(|&b| b == b'/')
        .map(<[u8]>::to_vec)
        .collect();
    let (name, parents) = match components.split_last() {
        Some(split) => split,
        None => {
            return Err(PackError::Changed {
                path: lossy(&node.disk_path),
            })
        }
    };
    let dir = open_dir(root, parents, &node.disk_path)?;
    let flags =
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NOCTTY | OFlags::CLOEXEC | OFlags::NONBLOCK;
    let fd =
        rfs::openat(&dir, name, flags, Mode::empty()).map_err(read_err(&node.disk_path, "open"))?;
    let st = rfs::fstat(&fd).map_err(read_err(&node.disk_path, "inspect"))?;
    let same = FileType::from_raw_mode(st.st_mode) == FileType::RegularFile
        && (st.st_dev, st.st_ino) == node.inode;
    if !same {
        return Err(PackError::Changed {
            path: lossy(&node.disk_path),
        });
    }
    Ok(File::from(fd))
}

/// The components of a `/`-separated path: entries sort by these, each compared byte-wise
/// (GNU tar's `--sort=name`, Go's `filepath.Walk`): `a/`, `a/c`, `a-b`.
fn components(path: &[u8]) -> std::slice::Split<'_, u8, impl FnMut(&u8) -> bool> {
    path.split(|&b| b == b'/')
}

fn lossy(path: &[u8]) -> String {
    String::from_utf8_lossy(path).into_owned()
}

fn read_err<'p, E: Into<io::Error>>(
    path: &'p [u8],
    op: &'static str,
) -> impl FnOnce(E) -> PackError + 'p {
    move |e| PackError::Read {
        path: lossy(path),
        op,
        source: e.into(),
    }
}
