//! Layers: `image/layers/<chain-id>/layer.json` records a stored layer's identity and size
//! (its tar is the blob named by its diff ID); `diff/` beside it, once the layer has been
//! unpacked, is the layer's filesystem diff, an overlayfs lower directory shared by every
//! image whose layer chain reaches it (as Docker's overlay2 driver keys layers by chain ID).

use std::collections::HashSet;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use super::blobs::list_hex_dir;
use super::digest::Digest;

/// What dokles records about a stored layer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LayerMeta {
    pub chain_id: Digest,
    pub diff_id: Digest,
    pub parent: Option<Digest>,
    /// Docker's layer size: bytes of the files in the diff, hardlinks once, directories not.
    pub size: u64,
}

#[derive(Debug, Clone)]
pub struct LayerStore {
    dir: PathBuf,
}

/// Chain IDs of a stack of diff IDs, bottom first (OCI image spec, "ChainID").
pub fn chain_ids(diff_ids: &[Digest]) -> Vec<Digest> {
    let mut out: Vec<Digest> = Vec::with_capacity(diff_ids.len());
    for d in diff_ids {
        let next = match out.last() {
            None => d.clone(),
            Some(parent) => Digest::of(format!("{parent} {d}").as_bytes()),
        };
        out.push(next);
    }
    out
}

impl LayerStore {
    pub fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    pub fn layer_dir(&self, chain_id: &Digest) -> PathBuf {
        self.dir.join(chain_id.hex())
    }

    /// The directory an overlay mount uses as this layer's lower dir.
    pub fn diff_dir(&self, chain_id: &Digest) -> PathBuf {
        self.layer_dir(chain_id).join("diff")
    }

    /// Whether the layer is stored (recorded, its tar in the blob store).
    pub fn contains(&self, chain_id: &Digest) -> bool {
        self.layer_dir(chain_id).join("layer.json").is_file()
    }

    /// Whether the layer's files are unpacked (`diff/` only ever appears whole, by rename).
    pub fn is_unpacked(&self, chain_id: &Digest) -> bool {
        self.diff_dir(chain_id).is_dir()
    }

    pub fn meta(&self, chain_id: &Digest) -> Result<LayerMeta> {
        let p = self.layer_dir(chain_id).join("layer.json");
        let data = fs::read(&p).with_context(|| format!("cannot read {}", p.display()))?;
        serde_json::from_slice(&data).with_context(|| format!("corrupt {}", p.display()))
    }

    /// Record a stored layer. The metadata file appears atomically, so a layer is recorded
    /// whole or not at all; recording one twice changes nothing.
    pub fn record(&self, meta: &LayerMeta) -> Result<()> {
        if self.contains(&meta.chain_id) {
            return Ok(());
        }
        let dir = self.layer_dir(&meta.chain_id);
        crate::state::create_dir(&dir, crate::state::mode::PRIVATE_DIR)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        crate::state::atomic_write_json(&dir.join("layer.json"), meta)
    }

    /// Move a completely unpacked, staged `diff` directory into place as the layer's files.
    pub fn adopt_diff(&self, chain_id: &Digest, staged: &Path) -> Result<()> {
        let dest = self.diff_dir(chain_id);
        fs::rename(staged, &dest)
            .with_context(|| format!("cannot move the unpacked layer to {}", dest.display()))
    }

    pub fn list(&self) -> Result<Vec<Digest>> {
        list_hex_dir(&self.dir)
    }

    pub fn remove(&self, chain_id: &Digest) -> Result<()> {
        let dir = self.layer_dir(chain_id);
        match fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(e).with_context(|| format!("cannot remove layer {}", dir.display()))
            }
            _ => Ok(()),
        }
    }
}

/// Docker's `directory.Size`: the sum of the sizes of everything under `dir` that is not a
/// directory, counting each inode once.
pub fn dir_size(dir: &Path) -> Result<u64> {
    fn walk(p: &Path, seen: &mut HashSet<(u64, u64)>, total: &mut u64) -> Result<()> {
        for entry in fs::read_dir(p).with_context(|| format!("cannot read {}", p.display()))? {
            let entry = entry.with_context(|| format!("cannot read {}", p.display()))?;
            let md = entry
                .metadata()
                .with_context(|| format!("cannot stat {}", entry.path().display()))?;
            if md.is_dir() {
                walk(&entry.path(), seen, total)?;
            } else if md.len() > 0 && seen.insert((md.dev(), md.ino())) {
                *total += md.len();
            }
        }
        Ok(())
    }
    let mut seen = HashSet::new();
    let mut total = 0;
    walk(dir, &mut seen, &mut total)?;
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_id_of_single_layer_is_its_diff_id() {
        let a = Digest::of(b"a");
        assert_eq!(chain_ids(std::slice::from_ref(&a)), vec![a]);
    }

    #[test]
    fn chain_id_follows_the_oci_formula() {
        let (a, b) = (Digest::of(b"a"), Digest::of(b"b"));
        let ids = chain_ids(&[a.clone(), b.clone()]);
        assert_eq!(ids[1], Digest::of(format!("{a} {b}").as_bytes()));
    }

    #[test]
    fn dir_size_counts_hardlinks_once_and_skips_directories() {
        let t = tempfile::tempdir().unwrap();
        fs::write(t.path().join("f"), b"12345").unwrap();
        fs::hard_link(t.path().join("f"), t.path().join("g")).unwrap();
        fs::create_dir(t.path().join("d")).unwrap();
        std::os::unix::fs::symlink("f", t.path().join("d/l")).unwrap();
        assert_eq!(dir_size(t.path()).unwrap(), 5 + 1);
    }
}
