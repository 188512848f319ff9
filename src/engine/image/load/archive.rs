//! The outer archive `docker load` reads, taken in without extracting it. Docker untars it
//! into a directory, chrooted there; dokles applies every entry, by the same rules, to an
//! in-memory [`Namespace`] and writes only the content of regular files, each to a spool
//! file in the staging directory named by its number (`0`, `1`, …). The archive chooses no
//! name on disk and no link is ever followed there: whatever it holds — symbolic links out of
//! the archive, `..`, absolute names, hard links, duplicates — nothing outside the spool
//! directory is created or changed. Manifests then find their files through the namespace,
//! symbolic links resolved within the archive (`docker save`'s classic layout links
//! duplicate layers to the first copy).
//!
//! What Docker's extraction refuses is refused with Docker's words (Go's, from the tar
//! process in the chroot), so `load` of a hostile archive fails as Docker's does.

use std::fs::{self, OpenOptions};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};

use super::namespace::{ArchivePath, Content, Errno, FsError, Lookup, Namespace, Node};
use super::UntarFailed;

/// The largest JSON document (manifest, index, image config) read into memory. A real one
/// is a few kilobytes.
const MAX_DOCUMENT: u64 = 16 << 20;

impl From<FsError> for UntarFailed {
    fn from(e: FsError) -> Self {
        UntarFailed::new(e.to_string())
    }
}

/// What an entry makes, from its type flag, as Go's `archive/tar` and Docker see it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Directory,
    Regular,
    Hardlink,
    Symlink,
    /// Character or block device, fifo.
    Node,
    /// Anything else (GNU sparse `S` included): Docker's "unhandled tar header type".
    Unhandled(u8),
}

impl Kind {
    fn of(flag: u8, raw_path: &[u8]) -> Kind {
        match flag {
            // Go's reader turns an old-style regular file with a trailing slash into a directory.
            0 if raw_path.ends_with(b"/") => Kind::Directory,
            b'0' | 0 => Kind::Regular,
            b'1' => Kind::Hardlink,
            b'2' => Kind::Symlink,
            b'3' | b'4' | b'6' => Kind::Node,
            b'5' => Kind::Directory,
            other => Kind::Unhandled(other),
        }
    }
}

/// A regular file of the archive: its spool file and length.
pub(super) struct Member {
    pub(super) path: PathBuf,
    pub(super) len: u64,
}

/// The archive, read: its tree and the spool directory holding its files' content.
pub(super) struct Archive {
    tree: Namespace,
    spool_dir: PathBuf,
    spooled: usize,
}

impl Archive {
    /// Reads the whole archive from `input`, spooling file content into `spool_dir` (an
    /// empty directory of the caller's staging).
    pub(super) fn read(input: impl Read, spool_dir: &Path) -> Result<Archive> {
        let mut archive = Archive {
            tree: Namespace::new(),
            spool_dir: spool_dir.to_path_buf(),
            spooled: 0,
        };
        let mut tar = tar::Archive::new(input);
        let mut dirs = Vec::new();
        for entry in tar.entries().context(UntarFailed::unexpected_eof())? {
            let mut entry = entry.map_err(archive_fault)?;
            let flag = entry.header().as_old().linkflag[0];
            if flag == b'g' {
                continue;
            }
            let raw = entry.path_bytes().into_owned();
            let path = ArchivePath::clean(&raw);
            if path.is_root() {
                continue;
            }
            let kind = Kind::of(flag, &raw);
            archive.make_way(&path, kind)?;
            match kind {
                Kind::Directory => {
                    let is_dir =
                        matches!(archive.tree.lstat(&path), Ok(n) if archive.tree.is_dir(n));
                    if !is_dir {
                        archive.tree.mkdir(&path).map_err(UntarFailed::from)?;
                    }
                    dirs.push(path);
                }
                Kind::Regular => archive.regular(&mut entry, &path)?,
                Kind::Hardlink => {
                    let target = ArchivePath::clean(&link_name(&entry));
                    archive
                        .tree
                        .link(&target, &path)
                        .map_err(UntarFailed::from)?;
                }
                Kind::Symlink => archive
                    .tree
                    .symlink(&link_name(&entry), &path)
                    .map_err(UntarFailed::from)?,
                Kind::Node => archive.tree.mknod(&path).map_err(UntarFailed::from)?,
                Kind::Unhandled(flag) => {
                    return Err(
                        UntarFailed::new(format!("unhandled tar header type {flag}")).into(),
                    )
                }
            }
        }
        // Docker sets directory times last, by path: one that no longer leads anywhere fails.
        for dir in dirs {
            archive.tree.stat(&dir).map_err(|errno| {
                UntarFailed::from(FsError::Path {
                    op: "chtimes",
                    path: dir.to_string(),
                    errno,
                })
            })?;
        }
        Ok(archive)
    }

    /// What Docker does before creating an entry: make its missing parent directories, and
    /// remove whatever is at its path unless a directory meets a directory.
    fn make_way(&mut self, path: &ArchivePath, kind: Kind) -> Result<(), UntarFailed> {
        let parent = path.parent();
        if !parent.is_root() && self.tree.lstat(&parent) == Err(Errno::NoEnt) {
            self.tree.mkdir_all(&parent)?;
        }
        if let Ok(Lookup::Found {
            node,
            at: Some((dir, name)),
        }) = self.tree.lookup(path, false)
        {
            if !(self.tree.is_dir(node) && kind == Kind::Directory) {
                self.tree.unlink(dir, &name);
            }
        }
        Ok(())
    }

    /// A regular file: its content goes to the next spool file.
    fn regular<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        path: &ArchivePath,
    ) -> Result<()> {
        if let Some(records) = entry.pax_extensions().map_err(archive_fault)? {
            for record in records {
                if record
                    .map_err(archive_fault)?
                    .key_bytes()
                    .starts_with(b"GNU.sparse.")
                {
                    bail!(
                        "invalid archive: {path} is a sparse file (GNU.sparse PAX records); \
                         dokles does not expand sparse files"
                    );
                }
            }
        }
        let node = self.tree.create(path).map_err(UntarFailed::from)?;
        let spool = self.spooled;
        self.spooled += 1;
        let file = self.spool_path(spool);
        let mut out = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&file)
            .with_context(|| format!("cannot create {}", file.display()))?;
        let len = io::copy(entry, &mut out)
            .map_err(archive_fault)
            .with_context(|| format!("cannot copy {path} out of the archive"))?;
        if len != entry.size() {
            return Err(anyhow!("{path} ends after {len} of {} bytes", entry.size())
                .context(UntarFailed::unexpected_eof()));
        }
        self.tree.fill(node, Content { spool, len });
        Ok(())
    }

    fn spool_path(&self, spool: usize) -> PathBuf {
        self.spool_dir.join(spool.to_string())
    }

    /// The regular file a manifest names by `reference`, symbolic links resolved within the
    /// archive (Docker's `FollowSymlinkInScope`).
    pub(super) fn file(&self, reference: &str) -> Result<Member> {
        let path = ArchivePath::scoped(reference.as_bytes())
            .ok_or_else(|| anyhow!("{reference} leaves the archive"))?;
        let node = self.tree.stat(&path).map_err(|errno| match errno {
            Errno::Loop => anyhow!("too many symbolic links resolving {reference}"),
            _ => anyhow!("{reference} is missing from the archive"),
        })?;
        match self.tree.node(node) {
            Node::File(Content { spool, len }) => Ok(Member {
                path: self.spool_path(*spool),
                len: *len,
            }),
            Node::Dir(_) => bail!("{reference} is a directory in the archive, not a file"),
            Node::Symlink(_) | Node::Special => {
                bail!("{reference} is not a regular file in the archive")
            }
        }
    }

    /// Whether `reference` leads to a regular file.
    pub(super) fn has_file(&self, reference: &str) -> bool {
        self.file(reference).is_ok()
    }

    /// The content of the JSON document `reference`, at most [`MAX_DOCUMENT`] bytes.
    pub(super) fn document(&self, reference: &str) -> Result<Vec<u8>> {
        let member = self.file(reference)?;
        if member.len > MAX_DOCUMENT {
            bail!(
                "{reference} is too large ({} bytes; a manifest, index or config may have {MAX_DOCUMENT})",
                member.len
            );
        }
        fs::read(&member.path).with_context(|| format!("cannot read {reference}"))
    }
}

/// A link entry's target (empty if it has none, which the namespace refuses as Go does).
fn link_name<R: Read>(entry: &tar::Entry<'_, R>) -> Vec<u8> {
    entry
        .link_name_bytes()
        .map(|l| l.into_owned())
        .unwrap_or_default()
}

/// Whether a failed copy out of the archive was the archive's fault rather than the disk's
/// (an OS error such as ENOSPC comes from writing).
fn archive_fault(e: io::Error) -> anyhow::Error {
    match e.raw_os_error() {
        Some(_) => anyhow::Error::new(e),
        None => anyhow::Error::new(e).context(UntarFailed::unexpected_eof()),
    }
}
