//! The outer image archive's file tree, in memory. Docker extracts a loaded archive into a
//! directory and chroots there; dokles keeps the same tree as names, types, hard links and
//! symbolic links, resolved as the kernel resolves them inside that chroot (an absolute link
//! starts at the archive's root, `..` stops there). Nothing here touches the file system: a
//! regular file's content is a spool file chosen by the caller (`super::archive`), so no name
//! or link in the archive can reach the host, whatever the archive holds.
//!
//! The operations are those Docker's extraction makes (Go's `os.Lstat`, `os.Mkdir`,
//! `os.MkdirAll`, `os.Link`, …), failing with the error numbers the kernel would return and
//! worded as Go words them, because Docker's message for a refused archive is Go's.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;

/// The longest path the kernel accepts (`PATH_MAX`, counting its NUL).
const PATH_MAX: usize = 4096;
/// The longest file name (`NAME_MAX`).
const NAME_MAX: usize = 255;
/// Symbolic links one resolution may follow before the kernel gives up (`MAXSYMLINKS`).
const MAX_SYMLINKS: usize = 40;
/// Files, directories and links an archive may make. `docker save` writes a few per image;
/// the bound keeps a hostile archive (thousands of nested directories per entry) from
/// filling memory.
pub(super) const MAX_NODES: usize = 100_000;

/// The kernel's answers the extraction can meet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Errno {
    NoEnt,
    NotDir,
    Exist,
    Loop,
    Perm,
    NameTooLong,
}

impl Errno {
    /// Go's `syscall.Errno` text.
    fn text(self) -> &'static str {
        match self {
            Errno::NoEnt => "no such file or directory",
            Errno::NotDir => "not a directory",
            Errno::Exist => "file exists",
            Errno::Loop => "too many levels of symbolic links",
            Errno::Perm => "operation not permitted",
            Errno::NameTooLong => "file name too long",
        }
    }
}

/// A failed operation, worded as Go's `*os.PathError`, `*os.LinkError` or bare `Errno`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(super) enum FsError {
    #[error("{op} {path}: {}", errno.text())]
    Path {
        op: &'static str,
        path: String,
        errno: Errno,
    },
    #[error("{op} {old} {new}: {}", errno.text())]
    Link {
        op: &'static str,
        old: String,
        new: String,
        errno: Errno,
    },
    #[error("{}", .0.text())]
    Bare(Errno),
    #[error("the archive makes more than {MAX_NODES} files, directories and links")]
    TooManyNodes,
}

/// A path from the archive's root: components, none empty, `.` or `..`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct ArchivePath(Vec<Vec<u8>>);

impl ArchivePath {
    /// Go's `filepath.Join("/", name)`: `.` and empty components dropped, `..` taking away
    /// the component before it and nothing at the root.
    pub(super) fn clean(raw: &[u8]) -> ArchivePath {
        let mut components: Vec<Vec<u8>> = Vec::new();
        for c in raw.split(|&b| b == b'/') {
            match c {
                b"" | b"." => {}
                b".." => {
                    components.pop();
                }
                name => components.push(name.to_vec()),
            }
        }
        ArchivePath(components)
    }

    /// A path a manifest gives, relative to the archive's root (Go's `filepath.Join` with
    /// the extraction directory): `None` if its `..` components climb above the root.
    pub(super) fn scoped(raw: &[u8]) -> Option<ArchivePath> {
        let mut components: Vec<Vec<u8>> = Vec::new();
        for c in raw.split(|&b| b == b'/') {
            match c {
                b"" | b"." => {}
                b".." => {
                    components.pop()?;
                }
                name => components.push(name.to_vec()),
            }
        }
        Some(ArchivePath(components))
    }

    pub(super) fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// The directory holding this path (the root for the root).
    pub(super) fn parent(&self) -> ArchivePath {
        ArchivePath(self.0[..self.0.len().saturating_sub(1)].to_vec())
    }

    /// The length of the path as the string handed to the kernel.
    fn text_len(&self) -> usize {
        self.0.iter().map(|c| c.len() + 1).sum::<usize>().max(1)
    }
}

impl fmt::Display for ArchivePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("/");
        }
        for c in &self.0 {
            write!(f, "/{}", String::from_utf8_lossy(c))?;
        }
        Ok(())
    }
}

/// What a regular file holds: which spool file, and how many bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Content {
    pub(super) spool: usize,
    pub(super) len: u64,
}

pub(super) type NodeId = usize;
const ROOT: NodeId = 0;

/// A file of the tree; hard links share one.
#[derive(Debug)]
pub(super) enum Node {
    Dir(BTreeMap<Vec<u8>, NodeId>),
    File(Content),
    Symlink(Vec<u8>),
    /// Device or fifo: a name, nothing to read.
    Special,
}

/// Where a path leads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Lookup {
    /// An existing node, with its parent directory and name (none for the root, or a path
    /// whose last link led to `..`).
    Found {
        node: NodeId,
        at: Option<(NodeId, Vec<u8>)>,
    },
    /// Everything but the last component exists; that one does not.
    Missing { parent: NodeId, name: Vec<u8> },
}

/// The archive's tree. Removed nodes stay in the arena, unreachable.
#[derive(Debug)]
pub(super) struct Namespace {
    nodes: Vec<Node>,
}

impl Namespace {
    pub(super) fn new() -> Self {
        Namespace {
            nodes: vec![Node::Dir(BTreeMap::new())],
        }
    }

    pub(super) fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id]
    }

    pub(super) fn is_dir(&self, id: NodeId) -> bool {
        matches!(self.nodes[id], Node::Dir(_))
    }

    /// Resolves `path` as the kernel would inside the chroot: every symbolic link on the way
    /// is followed within the tree, the last one only with `follow_last`.
    pub(super) fn lookup(&self, path: &ArchivePath, follow_last: bool) -> Result<Lookup, Errno> {
        if path.text_len() >= PATH_MAX {
            return Err(Errno::NameTooLong);
        }
        let mut pending: VecDeque<Vec<u8>> = path.0.iter().cloned().collect();
        let mut dirs = vec![ROOT];
        let mut links = 0;
        let mut at = None;
        while let Some(name) = pending.pop_front() {
            at = None;
            let dir = *dirs.last().unwrap_or(&ROOT);
            match name.as_slice() {
                b"" | b"." => continue,
                b".." => {
                    if dirs.len() > 1 {
                        dirs.pop();
                    }
                    continue;
                }
                _ if name.len() > NAME_MAX => return Err(Errno::NameTooLong),
                _ => {}
            }
            let last = pending.is_empty();
            let Node::Dir(children) = &self.nodes[dir] else {
                return Err(Errno::NotDir);
            };
            let Some(&id) = children.get(&name) else {
                return if last {
                    Ok(Lookup::Missing { parent: dir, name })
                } else {
                    Err(Errno::NoEnt)
                };
            };
            match &self.nodes[id] {
                Node::Symlink(target) if !last || follow_last => {
                    links += 1;
                    if links > MAX_SYMLINKS {
                        return Err(Errno::Loop);
                    }
                    if target.is_empty() {
                        return Err(Errno::NoEnt);
                    }
                    if target.starts_with(b"/") {
                        dirs.truncate(1);
                    }
                    for c in target.split(|&b| b == b'/').rev() {
                        pending.push_front(c.to_vec());
                    }
                }
                Node::Dir(_) => {
                    dirs.push(id);
                    at = Some((dir, name));
                }
                _ if last => {
                    return Ok(Lookup::Found {
                        node: id,
                        at: Some((dir, name)),
                    })
                }
                _ => return Err(Errno::NotDir),
            }
        }
        Ok(Lookup::Found {
            node: *dirs.last().unwrap_or(&ROOT),
            at,
        })
    }

    /// The node `path` names, not following a last symbolic link (Go's `os.Lstat`).
    pub(super) fn lstat(&self, path: &ArchivePath) -> Result<NodeId, Errno> {
        found(self.lookup(path, false)?)
    }

    /// The node `path` leads to, following every symbolic link (Go's `os.Stat`).
    pub(super) fn stat(&self, path: &ArchivePath) -> Result<NodeId, Errno> {
        found(self.lookup(path, true)?)
    }

    /// Removes the name `name` from `dir` (what `os.RemoveAll` does to a path that exists).
    pub(super) fn unlink(&mut self, dir: NodeId, name: &[u8]) {
        if let Node::Dir(children) = &mut self.nodes[dir] {
            children.remove(name);
        }
    }

    /// Go's `os.Mkdir`.
    pub(super) fn mkdir(&mut self, path: &ArchivePath) -> Result<(), FsError> {
        self.make(path, "mkdir", Node::Dir(BTreeMap::new()))
            .map(drop)
    }

    /// Go's `os.MkdirAll`, as Docker calls it for an entry's missing parent: each missing
    /// directory on the way is made, through symbolic links.
    pub(super) fn mkdir_all(&mut self, path: &ArchivePath) -> Result<(), FsError> {
        if let Ok(node) = self.stat(path) {
            return if self.is_dir(node) {
                Ok(())
            } else {
                Err(path_error("mkdir", path, Errno::NotDir))
            };
        }
        if path.0.len() > 1 {
            self.mkdir_all(&path.parent())?;
        }
        match self.mkdir(path) {
            Ok(()) => Ok(()),
            Err(e) => match self.lstat(path) {
                Ok(node) if self.is_dir(node) => Ok(()),
                _ => Err(e),
            },
        }
    }

    /// Go's `os.OpenFile(path, O_CREATE|O_WRONLY)` for a path the extraction has cleared:
    /// a new, empty regular file.
    pub(super) fn create(&mut self, path: &ArchivePath) -> Result<NodeId, FsError> {
        self.make(path, "open", Node::File(Content { spool: 0, len: 0 }))
    }

    /// Gives the file `id` (from [`Namespace::create`]) its content.
    pub(super) fn fill(&mut self, id: NodeId, content: Content) {
        self.nodes[id] = Node::File(content);
    }

    /// Go's `os.Symlink(target, path)`.
    pub(super) fn symlink(&mut self, target: &[u8], path: &ArchivePath) -> Result<(), FsError> {
        let as_link = |e: FsError| match e {
            FsError::Path { errno, .. } => FsError::Link {
                op: "symlink",
                old: String::from_utf8_lossy(target).into_owned(),
                new: path.to_string(),
                errno,
            },
            other => other,
        };
        if target.is_empty() {
            return Err(as_link(path_error("symlink", path, Errno::NoEnt)));
        }
        if target.len() >= PATH_MAX {
            return Err(as_link(path_error("symlink", path, Errno::NameTooLong)));
        }
        self.make(path, "symlink", Node::Symlink(target.to_vec()))
            .map(drop)
            .map_err(as_link)
    }

    /// Go's `os.Link(old, new)`: `new` becomes another name of the non-directory `old` (a
    /// last symbolic link of `old` is linked itself, not followed).
    pub(super) fn link(&mut self, old: &ArchivePath, new: &ArchivePath) -> Result<(), FsError> {
        let link_error = |errno| FsError::Link {
            op: "link",
            old: old.to_string(),
            new: new.to_string(),
            errno,
        };
        let target = self.lstat(old).map_err(link_error)?;
        if self.is_dir(target) {
            return Err(link_error(Errno::Perm));
        }
        match self.lookup(new, false).map_err(link_error)? {
            Lookup::Found { .. } => Err(link_error(Errno::Exist)),
            Lookup::Missing { parent, name } => {
                self.attach(parent, name, target);
                Ok(())
            }
        }
    }

    /// `mknod` of a device or fifo (Docker reports the bare error number).
    pub(super) fn mknod(&mut self, path: &ArchivePath) -> Result<(), FsError> {
        self.make(path, "mknod", Node::Special)
            .map(drop)
            .map_err(|e| match e {
                FsError::Path { errno, .. } => FsError::Bare(errno),
                other => other,
            })
    }

    /// A new node at `path`, whose parent must exist and which must not.
    fn make(
        &mut self,
        path: &ArchivePath,
        op: &'static str,
        node: Node,
    ) -> Result<NodeId, FsError> {
        if self.nodes.len() >= MAX_NODES {
            return Err(FsError::TooManyNodes);
        }
        match self.lookup(path, false) {
            Err(errno) => Err(path_error(op, path, errno)),
            Ok(Lookup::Found { .. }) => Err(path_error(op, path, Errno::Exist)),
            Ok(Lookup::Missing { parent, name }) => {
                let id = self.nodes.len();
                self.nodes.push(node);
                self.attach(parent, name, id);
                Ok(id)
            }
        }
    }

    fn attach(&mut self, dir: NodeId, name: Vec<u8>, id: NodeId) {
        if let Node::Dir(children) = &mut self.nodes[dir] {
            children.insert(name, id);
        }
    }
}

fn path_error(op: &'static str, path: &ArchivePath, errno: Errno) -> FsError {
    FsError::Path {
        op,
        path: path.to_string(),
        errno,
    }
}

fn found(lookup: Lookup) -> Result<NodeId, Errno> {
    match lookup {
        Lookup::Found { node, .. } => Ok(node),
        Lookup::Missing { .. } => Err(Errno::NoEnt),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> ArchivePath {
        ArchivePath::clean(s.as_bytes())
    }

    #[test]
    fn names_are_cleaned_as_go_joins_them_to_the_root() {
        assert_eq!(p("../../tmp/m/x").to_string(), "/tmp/m/x");
        assert_eq!(p("/a//b/./c/").to_string(), "/a/b/c");
        assert_eq!(p("a/../../b").to_string(), "/b");
        assert!(p("./").is_root());
    }

    #[test]
    fn links_resolve_inside_the_tree_and_stop_at_its_root() {
        let mut ns = Namespace::new();
        ns.mkdir(&p("a")).unwrap();
        let f = ns.create(&p("a/f")).unwrap();
        ns.symlink(b"../../../../a", &p("up")).unwrap();
        ns.symlink(b"/a/f", &p("abs")).unwrap();
        assert_eq!(ns.stat(&p("up/f")), Ok(f));
        assert_eq!(ns.stat(&p("abs")), Ok(f));
        assert_ne!(ns.lstat(&p("abs")), Ok(f));
        ns.symlink(b"loop", &p("loop")).unwrap();
        assert_eq!(ns.stat(&p("loop")), Err(Errno::Loop));
        assert_eq!(ns.stat(&p("a/f/x")), Err(Errno::NotDir));
    }

    #[test]
    fn failures_are_worded_as_go_words_them() {
        let mut ns = Namespace::new();
        ns.symlink(b"/tmp/m", &p("d")).unwrap();
        assert_eq!(
            ns.mkdir_all(&p("d/newdir")).unwrap_err().to_string(),
            "mkdir /d: file exists"
        );
        assert_eq!(
            ns.create(&p("d/new")).unwrap_err().to_string(),
            "open /d/new: no such file or directory"
        );
        assert_eq!(
            ns.link(&p("/tmp/m/victim"), &p("h"))
                .unwrap_err()
                .to_string(),
            "link /tmp/m/victim /h: no such file or directory"
        );
        assert_eq!(
            ns.symlink(b"x", &p("d")).unwrap_err().to_string(),
            "symlink x /d: file exists"
        );
        let long = "n".repeat(256);
        assert_eq!(
            ns.create(&p(&long)).unwrap_err().to_string(),
            format!("open /{long}: file name too long")
        );
    }

    #[test]
    fn the_tree_holds_a_bounded_number_of_files() {
        let mut ns = Namespace::new();
        let made = (0..MAX_NODES * 2)
            .take_while(|i| ns.create(&p(&i.to_string())).is_ok())
            .count();
        assert_eq!(made, MAX_NODES - 1, "the root is one of them");
        assert_eq!(ns.mkdir(&p("one-more")), Err(FsError::TooManyNodes));
    }
}
