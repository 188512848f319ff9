//! The unpacker's [`Tree`] in memory: names, types, hard links and sizes of what the layer
//! would hold, nothing else. Unpacking into it is the dry run `load` does to refuse a hostile
//! or broken archive before storing it, and it yields the layer's size as Docker reports it.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashSet};
use std::io;

use rustix::fs::{Dev, FileType, Timespec};

use super::beneath::WalkError;
use super::entry::Meta;
use super::tree::{Made, Tree};
use super::UnpackError;

/// A node of the modelled layer; hard links share one.
enum Node {
    Dir(BTreeMap<Vec<u8>, NodeId>),
    File {
        size: u64,
    },
    Symlink {
        target_len: u64,
    },
    /// Device, fifo or whiteout: no size.
    Special(FileType),
}

type NodeId = usize;
const ROOT: NodeId = 0;

/// The modelled layer. Removed nodes stay in the arena, unreachable, as an unlinked
/// directory stays valid for a descriptor still open on it.
pub(super) struct Model {
    nodes: RefCell<Vec<Node>>,
}

/// A regular file being "written": only its length counts.
pub(super) struct ModelFile {
    node: NodeId,
    len: u64,
}

impl io::Write for ModelFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.len += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Model {
    pub(super) fn new() -> Self {
        Model {
            nodes: RefCell::new(vec![Node::Dir(BTreeMap::new())]),
        }
    }

    /// Docker's `directory.Size` of the layer: the sizes of everything that is not a
    /// directory (a symbolic link's is its target's length), each hard-linked file once.
    pub(super) fn size(&self) -> u64 {
        let nodes = self.nodes.borrow();
        let mut seen = HashSet::new();
        let mut total = 0;
        let mut todo = vec![ROOT];
        while let Some(id) = todo.pop() {
            match &nodes[id] {
                Node::Dir(children) => todo.extend(children.values()),
                Node::File { size } if seen.insert(id) => total += size,
                Node::Symlink { target_len } if seen.insert(id) => total += target_len,
                _ => {}
            }
        }
        total
    }

    fn child(&self, dir: NodeId, name: &[u8]) -> Option<NodeId> {
        match &self.nodes.borrow()[dir] {
            Node::Dir(children) => children.get(name).copied(),
            _ => None,
        }
    }

    /// Puts `node` at `dir/name`; the unpacker has made way for it.
    fn insert(&self, dir: NodeId, name: &[u8], node: Node) -> io::Result<NodeId> {
        let mut nodes = self.nodes.borrow_mut();
        let id = nodes.len();
        nodes.push(node);
        link(&mut nodes, dir, name, id)?;
        Ok(id)
    }
}

fn link(nodes: &mut [Node], dir: NodeId, name: &[u8], id: NodeId) -> io::Result<()> {
    match &mut nodes[dir] {
        Node::Dir(children) if children.contains_key(name) => {
            Err(io::Error::from(io::ErrorKind::AlreadyExists))
        }
        Node::Dir(children) => {
            children.insert(name.to_vec(), id);
            Ok(())
        }
        _ => Err(io::Error::from(io::ErrorKind::NotADirectory)),
    }
}

fn file_type(node: &Node) -> FileType {
    match node {
        Node::Dir(_) => FileType::Directory,
        Node::File { .. } => FileType::RegularFile,
        Node::Symlink { .. } => FileType::Symlink,
        Node::Special(kind) => *kind,
    }
}

impl Tree for Model {
    type Dir = NodeId;
    type File = ModelFile;

    fn root(&self) -> io::Result<NodeId> {
        Ok(ROOT)
    }

    fn try_clone(&self, dir: &NodeId) -> io::Result<NodeId> {
        Ok(*dir)
    }

    fn open_child(
        &self,
        dir: &NodeId,
        name: &[u8],
        index: usize,
        create: Option<u32>,
    ) -> Result<NodeId, WalkError> {
        match self.child(*dir, name) {
            Some(id) => match &self.nodes.borrow()[id] {
                Node::Dir(_) => Ok(id),
                Node::Symlink { .. } => Err(WalkError::Symlink { index }),
                _ => Err(WalkError::NotDirectory { index }),
            },
            None if create.is_some() => self
                .insert(*dir, name, Node::Dir(BTreeMap::new()))
                .map_err(|source| WalkError::Io { source }),
            None => Err(WalkError::Missing { index }),
        }
    }

    fn file_type_at(&self, dir: &NodeId, name: &[u8]) -> io::Result<Option<FileType>> {
        Ok(self
            .child(*dir, name)
            .map(|id| file_type(&self.nodes.borrow()[id])))
    }

    fn remove_all(&self, dir: &NodeId, name: &[u8]) -> io::Result<()> {
        if let Node::Dir(children) = &mut self.nodes.borrow_mut()[*dir] {
            children.remove(name);
        }
        Ok(())
    }

    fn mkdir(&self, dir: &NodeId, name: &[u8]) -> io::Result<()> {
        self.insert(*dir, name, Node::Dir(BTreeMap::new()))
            .map(drop)
    }

    fn create_file(&self, dir: &NodeId, name: &[u8]) -> io::Result<ModelFile> {
        let node = self.insert(*dir, name, Node::File { size: 0 })?;
        Ok(ModelFile { node, len: 0 })
    }

    fn finish_file(&self, file: ModelFile, _: &Meta, _: &str) -> Result<(), UnpackError> {
        self.nodes.borrow_mut()[file.node] = Node::File { size: file.len };
        Ok(())
    }

    fn symlink(&self, target: &[u8], dir: &NodeId, name: &[u8]) -> io::Result<()> {
        let target_len = target.len() as u64;
        self.insert(*dir, name, Node::Symlink { target_len })
            .map(drop)
    }

    fn hardlink(
        &self,
        target_dir: &NodeId,
        target_name: &[u8],
        dir: &NodeId,
        name: &[u8],
    ) -> io::Result<()> {
        let target = self
            .child(*target_dir, target_name)
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))?;
        link(&mut self.nodes.borrow_mut(), *dir, name, target)
    }

    fn mknod(&self, dir: &NodeId, name: &[u8], kind: FileType, _: Dev) -> io::Result<()> {
        self.insert(*dir, name, Node::Special(kind)).map(drop)
    }

    fn apply_meta(
        &self,
        _: &NodeId,
        _: &[u8],
        _: &Meta,
        _: &str,
        _: Made,
    ) -> Result<(), UnpackError> {
        Ok(())
    }

    fn set_opaque(&self, _: &NodeId) -> io::Result<()> {
        Ok(())
    }

    fn set_times(&self, _: &NodeId, _: &[u8], _: Timespec) -> io::Result<()> {
        Ok(())
    }
}
