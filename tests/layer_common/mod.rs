//! Helpers for the layer tests: a raw tar writer that builds the hostile archives the `tar`
//! crate's `Builder` refuses to write, a sandbox with a sentinel directory beside the layer,
//! and a tree description to compare directories by.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use rustix::buffer::spare_capacity;
use tar::EntryType;

/// One archive entry, written byte for byte as given (no path checks at all).
#[derive(Clone, Debug)]
pub struct E {
    pub path: Vec<u8>,
    pub ty: EntryType,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub mtime: u64,
    pub link: Vec<u8>,
    pub data: Vec<u8>,
    pub dev: (u32, u32),
    pub pax: Vec<(String, Vec<u8>)>,
    /// For a GNU sparse entry: the size its header claims, `data` being its last bytes.
    pub real_size: Option<u64>,
}

fn entry(path: &str, ty: EntryType, mode: u32) -> E {
    E {
        path: path.as_bytes().to_vec(),
        ty,
        mode,
        uid: 0,
        gid: 0,
        mtime: 1_600_000_000,
        link: Vec::new(),
        data: Vec::new(),
        dev: (0, 0),
        pax: Vec::new(),
        real_size: None,
    }
}

pub fn file(path: &str, data: &[u8]) -> E {
    E {
        data: data.to_vec(),
        ..entry(path, EntryType::Regular, 0o644)
    }
}

pub fn dir(path: &str) -> E {
    entry(path, EntryType::Directory, 0o755)
}

pub fn symlink(path: &str, target: &str) -> E {
    E {
        link: target.as_bytes().to_vec(),
        ..entry(path, EntryType::Symlink, 0o777)
    }
}

pub fn hardlink(path: &str, target: &str) -> E {
    E {
        link: target.as_bytes().to_vec(),
        ..entry(path, EntryType::Link, 0o644)
    }
}

pub fn chardev(path: &str, major: u32, minor: u32) -> E {
    E {
        dev: (major, minor),
        ..entry(path, EntryType::Char, 0o666)
    }
}

pub fn blockdev(path: &str, major: u32, minor: u32) -> E {
    E {
        dev: (major, minor),
        ..entry(path, EntryType::Block, 0o660)
    }
}

/// A GNU sparse entry (type 'S'): a file of `real_size` bytes, all a hole but for `data` at
/// its end — what `tar --sparse` writes for a mostly empty file. Its header claims
/// `real_size`; the archive holds only `data`.
pub fn gnu_sparse(path: &str, real_size: u64, data: &[u8]) -> E {
    E {
        data: data.to_vec(),
        real_size: Some(real_size),
        ..entry(path, EntryType::GNUSparse, 0o644)
    }
}

pub fn fifo(path: &str) -> E {
    entry(path, EntryType::Fifo, 0o644)
}

impl E {
    pub fn mode(self, mode: u32) -> E {
        E { mode, ..self }
    }
    pub fn owner(self, uid: u64, gid: u64) -> E {
        E { uid, gid, ..self }
    }
    pub fn mtime(self, mtime: u64) -> E {
        E { mtime, ..self }
    }
    pub fn pax(mut self, key: &str, value: &[u8]) -> E {
        self.pax.push((key.to_owned(), value.to_vec()));
        self
    }
}

fn pax_record(key: &str, value: &[u8]) -> Vec<u8> {
    let base = key.len() + value.len() + 3;
    let mut len = base + base.to_string().len();
    while base + len.to_string().len() != len {
        len = base + len.to_string().len();
    }
    let mut r = format!("{len} {key}=").into_bytes();
    r.extend_from_slice(value);
    r.push(b'\n');
    r
}

fn push_entry(out: &mut Vec<u8>, e: &E) {
    let mut h = match e.real_size {
        Some(real_size) => {
            let mut h = tar::Header::new_gnu();
            let gnu = h.as_gnu_mut().unwrap();
            gnu.set_real_size(real_size);
            gnu.sparse[0].set_offset(real_size - e.data.len() as u64);
            gnu.sparse[0].set_length(e.data.len() as u64);
            h
        }
        None => tar::Header::new_ustar(),
    };
    let name = &e.path[..e.path.len().min(100)];
    h.as_mut_bytes()[..name.len()].copy_from_slice(name);
    let link = &e.link[..e.link.len().min(100)];
    h.as_mut_bytes()[157..157 + link.len()].copy_from_slice(link);
    h.set_mode(e.mode);
    h.set_uid(e.uid);
    h.set_gid(e.gid);
    h.set_mtime(e.mtime);
    h.set_size(e.data.len() as u64);
    h.set_entry_type(e.ty);
    h.set_device_major(e.dev.0).unwrap();
    h.set_device_minor(e.dev.1).unwrap();
    h.set_cksum();
    out.extend_from_slice(h.as_bytes());
    out.extend_from_slice(&e.data);
    out.resize(out.len().div_ceil(512) * 512, 0);
}

/// A tar of `entries`, with a PAX header where an entry asks for one or its path is long.
pub fn tar(entries: &[E]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries {
        let mut pax = e.pax.clone();
        if e.path.len() > 100 {
            pax.push(("path".to_owned(), e.path.clone()));
        }
        if !pax.is_empty() {
            let data: Vec<u8> = pax.iter().flat_map(|(k, v)| pax_record(k, v)).collect();
            let header = E {
                data,
                ..entry("PaxHeaders.0/entry", EntryType::XHeader, 0)
            };
            push_entry(&mut out, &header);
        }
        push_entry(&mut out, e);
    }
    out.extend_from_slice(&[0; 1024]);
    out
}

/// A temporary directory holding the layer directory (three levels down, so that `../..`
/// stays inside the sandbox) and a sentinel directory beside it.
pub struct Sandbox {
    pub tmp: tempfile::TempDir,
    pub dest: PathBuf,
    pub sentinel: PathBuf,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        let tmp = tempfile::tempdir().unwrap();
        let dest = tmp.path().join("a/b/layer");
        fs::create_dir_all(&dest).unwrap();
        let sentinel = tmp.path().join("sentinel");
        fs::create_dir_all(sentinel.join("dir")).unwrap();
        fs::write(sentinel.join("secret"), b"top secret").unwrap();
        Sandbox {
            tmp,
            dest,
            sentinel,
        }
    }

    /// Everything in the sandbox except the layer directory.
    pub fn outside(&self) -> BTreeMap<PathBuf, Node> {
        let mut all = describe(self.tmp.path());
        let layer = self
            .dest
            .strip_prefix(self.tmp.path())
            .unwrap()
            .to_path_buf();
        all.retain(|path, _| !path.starts_with(&layer));
        all
    }
}

/// How one file looks, for comparing trees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub kind: &'static str,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub mtime: i64,
    pub content: Option<Vec<u8>>,
    pub link: Option<PathBuf>,
    pub rdev: u64,
    pub xattrs: BTreeMap<String, Vec<u8>>,
    /// For files with more than one link: the first path (in sort order) of that inode.
    pub same_as: Option<PathBuf>,
}

/// Every path beneath `root` (relative, not `root` itself), described without following links.
pub fn describe(root: &Path) -> BTreeMap<PathBuf, Node> {
    let mut paths = Vec::new();
    walk(root, root, &mut paths);
    paths.sort();
    let mut first_of_inode: BTreeMap<(u64, u64), PathBuf> = BTreeMap::new();
    let mut tree = BTreeMap::new();
    for rel in paths {
        let full = root.join(&rel);
        let meta = fs::symlink_metadata(&full).unwrap();
        let ft = meta.file_type();
        let kind = if ft.is_dir() {
            "dir"
        } else if ft.is_file() {
            "file"
        } else if ft.is_symlink() {
            "symlink"
        } else if ft.is_char_device() {
            "char"
        } else if ft.is_block_device() {
            "block"
        } else if ft.is_fifo() {
            "fifo"
        } else {
            "socket"
        };
        let same_as = if !ft.is_dir() && meta.nlink() > 1 {
            Some(
                first_of_inode
                    .entry((meta.dev(), meta.ino()))
                    .or_insert(rel.clone())
                    .clone(),
            )
        } else {
            None
        };
        tree.insert(
            rel,
            Node {
                kind,
                mode: meta.mode() & 0o7777,
                uid: meta.uid(),
                gid: meta.gid(),
                mtime: meta.mtime(),
                content: ft.is_file().then(|| fs::read(&full).unwrap()),
                link: ft.is_symlink().then(|| fs::read_link(&full).unwrap()),
                rdev: meta.rdev(),
                xattrs: xattrs(&full),
                same_as,
            },
        );
    }
    tree
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let path = entry.path();
        out.push(path.strip_prefix(root).unwrap().to_path_buf());
        if entry.file_type().unwrap().is_dir() {
            walk(root, &path, out);
        }
    }
}

/// The extended attributes of `path` (not following it).
pub fn xattrs(path: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut list = Vec::with_capacity(4096);
    rustix::fs::llistxattr(path, spare_capacity(&mut list)).unwrap();
    let mut attrs = BTreeMap::new();
    for key in list.split(|&b| b == 0).filter(|k| !k.is_empty()) {
        let mut value = Vec::with_capacity(4096);
        rustix::fs::lgetxattr(path, key, spare_capacity(&mut value)).unwrap();
        attrs.insert(String::from_utf8_lossy(key).into_owned(), value);
    }
    attrs
}

/// Unmounts `path` when dropped, also when the test panics.
pub struct MountGuard(pub PathBuf);

impl Drop for MountGuard {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.0, nix::mount::MntFlags::MNT_DETACH);
    }
}
