//! The image index (`image/index.json`): which images exist, their tags and repo digests.
//! It is the single place that makes an image visible: blobs and layers are written first,
//! the index last, atomically, so an interrupted operation never shows half an image.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::digest::Digest;
use super::reference::TaggedRef;

/// What the store knows about one image beyond its config blob.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ImageRecord {
    /// When the image entered this store.
    pub added: DateTime<Utc>,
    /// When a tag was last set on it (`Metadata.LastTagTime`).
    pub last_tag_time: Option<DateTime<Utc>>,
    /// The local parent image (set by `commit`), as Docker's `Parent`.
    #[serde(default)]
    pub parent: Option<Digest>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Index {
    /// Image ID (config digest) → record.
    pub images: BTreeMap<Digest, ImageRecord>,
    /// Full tagged name (`docker.io/library/python:latest`) → image ID.
    pub tags: BTreeMap<String, Digest>,
    /// Full digested name (`docker.io/library/python@sha256:…`) → image ID.
    pub repo_digests: BTreeMap<String, Digest>,
}

impl Index {
    pub fn load(path: &Path) -> Result<Self> {
        match fs::read(path) {
            Ok(data) => serde_json::from_slice(&data)
                .with_context(|| format!("corrupt image index {}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        crate::state::atomic_write_json(path, self)
    }

    /// Tags pointing at `id`, as full names, sorted.
    pub fn tags_of(&self, id: &Digest) -> Vec<String> {
        self.tags
            .iter()
            .filter(|(_, v)| *v == id)
            .map(|(k, _)| k.clone())
            .collect()
    }

    pub fn repo_digests_of(&self, id: &Digest) -> Vec<String> {
        self.repo_digests
            .iter()
            .filter(|(_, v)| *v == id)
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Point `tag` at `id`; returns the image the tag was taken from, if another one.
    /// `tag_time` becomes the image's `LastTagTime` when given (Docker records it for
    /// `docker tag` and `import`, not for `load` or `pull`).
    pub fn set_tag(
        &mut self,
        tag: &TaggedRef,
        id: &Digest,
        tag_time: Option<DateTime<Utc>>,
    ) -> Option<Digest> {
        let old = self.tags.insert(tag.full(), id.clone());
        if let (Some(rec), Some(t)) = (self.images.get_mut(id), tag_time) {
            rec.last_tag_time = Some(t);
        }
        old.filter(|o| o != id)
    }

    /// Whether the image has no tag (Docker calls these dangling when they have no children).
    pub fn is_untagged(&self, id: &Digest) -> bool {
        !self.tags.values().any(|v| v == id)
    }

    /// Images whose local parent is `id`.
    pub fn children_of(&self, id: &Digest) -> Vec<Digest> {
        self.images
            .iter()
            .filter(|(_, r)| r.parent.as_ref() == Some(id))
            .map(|(k, _)| k.clone())
            .collect()
    }
}
