//! The content-addressed blob store: `image/blobs/sha256/<hex>`. Configs, manifests and
//! uncompressed layer tarballs live here under their sha256, written once, never modified.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::digest::Digest;

#[derive(Debug, Clone)]
pub struct BlobStore {
    dir: PathBuf,
}

impl BlobStore {
    pub fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    pub fn path(&self, d: &Digest) -> PathBuf {
        self.dir.join(d.hex())
    }

    pub fn contains(&self, d: &Digest) -> bool {
        self.path(d).is_file()
    }

    pub fn read(&self, d: &Digest) -> Result<Vec<u8>> {
        fs::read(self.path(d)).with_context(|| format!("cannot read blob {d}"))
    }

    /// Store `data` under its digest (atomically; a no-op if present).
    pub fn put_bytes(&self, data: &[u8]) -> Result<Digest> {
        let d = Digest::of(data);
        if !self.contains(&d) {
            crate::state::atomic_write(&self.path(&d), data)?;
        }
        Ok(d)
    }

    /// Move a staged file whose digest the caller computed into the store.
    pub fn adopt(&self, staged: &Path, d: &Digest) -> Result<()> {
        crate::state::create_dir(&self.dir, crate::state::mode::PRIVATE_DIR)
            .with_context(|| format!("cannot create {}", self.dir.display()))?;
        if self.contains(d) {
            return Ok(());
        }
        fs::rename(staged, self.path(d)).with_context(|| format!("cannot store blob {d}"))
    }

    /// All digests present (for garbage collection).
    pub fn list(&self) -> Result<Vec<Digest>> {
        list_hex_dir(&self.dir)
    }

    pub fn remove(&self, d: &Digest) -> Result<()> {
        match fs::remove_file(self.path(d)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(e).with_context(|| format!("cannot remove blob {d}"))
            }
            _ => Ok(()),
        }
    }
}

/// Entries of `dir` whose names are 64-hex digests; other names are ignored.
pub(crate) fn list_hex_dir(dir: &Path) -> Result<Vec<Digest>> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", dir.display())),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot read {}", dir.display()))?;
        if let Some(d) = entry
            .file_name()
            .to_str()
            .and_then(|n| Digest::from_hex(n).ok())
        {
            out.push(d);
        }
    }
    Ok(out)
}
