//! Unpacking on first use. `load`, `pull`, `import` and `commit` store a layer as its tar,
//! verified against its diff ID and proven to unpack by a dry run (`super::ingest`); the
//! first container whose image needs the layer unpacks it into `layers/<chain-id>/diff`,
//! staged and moved into place whole, and every later container and image sharing the layer
//! uses that directory. Like containerd's split between its content store and snapshots: an
//! image that is only loaded, saved or inspected never costs a file per file it holds.

use std::fs::File;
use std::io::BufReader;

use anyhow::{Context, Result};

use super::digest::Digest;
use super::store::ImageStore;
use super::unpack::{unpack_layer, UnpackOptions};
use crate::events::{Event, Journal};
use crate::state::StateLock;

impl ImageStore {
    /// Unpack the layers of `chain` (chain IDs, bottom first) that are not unpacked yet.
    /// The caller holds the lock and has pinned the chain, so no layer can be collected
    /// meanwhile. Emits one `layer_unpacked` event per layer unpacked.
    pub fn unpack_layers(&self, lock: &StateLock, chain: &[Digest]) -> Result<()> {
        for chain_id in chain {
            if !self.layers().is_unpacked(chain_id) {
                self.unpack_one(lock, chain_id)?;
            }
        }
        Ok(())
    }

    fn unpack_one(&self, lock: &StateLock, chain_id: &Digest) -> Result<()> {
        let meta = self.layers().meta(chain_id)?;
        let blob = self.blobs().path(&meta.diff_id);
        let tar = File::open(&blob).with_context(|| {
            format!(
                "cannot open the tar of layer {} ({})",
                meta.diff_id,
                blob.display()
            )
        })?;
        let staging = self.root().staging_dir(lock)?;
        let diff = staging.path().join("diff");
        // The container's `/` unless the layer's tar says otherwise (its `./` entry).
        crate::state::create_dir(&diff, crate::state::mode::ROOTFS_DIR)
            .with_context(|| format!("cannot create {}", diff.display()))?;
        unpack_layer(
            BufReader::with_capacity(1 << 20, tar),
            &diff,
            &UnpackOptions::default(),
        )
        .with_context(|| format!("cannot unpack layer {}", meta.diff_id))?;
        self.layers().adopt_diff(chain_id, &diff)?;
        Journal::open(self.root()).emit(Event::LayerUnpacked {
            chain_id: chain_id.to_string(),
            diff_id: meta.diff_id.to_string(),
            dir: self.layers().diff_dir(chain_id).display().to_string(),
            bytes: meta.size,
        });
        Ok(())
    }
}
