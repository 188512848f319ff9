//! The image store facade: name resolution, listing, tagging, removal and garbage collection
//! over the blob store, the layer store and the index. Writers go through a [`Transaction`],
//! which holds the state root's lock and a staging directory.

use std::cell::RefCell;
use std::path::PathBuf;

use anyhow::{Context, Result};
use chrono::Utc;
use thiserror::Error;

use super::blobs::BlobStore;
use super::config::ImageConfig;
use super::digest::Digest;
use super::index::{ImageRecord, Index};
use super::layers::{chain_ids, LayerStore};
use super::reference::{Reference, ReferenceError, TaggedRef};
use crate::events::{Event, Journal};
use crate::state::{StateLock, StateRoot};

/// Errors with Docker's wording; the CLI prefixes "Error response from daemon: ".
#[derive(Debug, Error)]
pub enum ImageError {
    #[error("No such image: {0}")]
    NoSuchImage(String),
    #[error(transparent)]
    Reference(#[from] ReferenceError),
    #[error("conflict: {0}")]
    Conflict(String),
    #[error(
        "image {name} is not in dokles' offline image cache (no registry is used); cached images: {}",
        available.join(", ")
    )]
    NotCached {
        name: String,
        available: Vec<String>,
    },
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// One image as the commands see it.
#[derive(Debug, Clone)]
pub struct Image {
    pub id: Digest,
    pub config: ImageConfig,
    pub record: ImageRecord,
    /// Full tagged names, sorted.
    pub tags: Vec<TaggedRef>,
    /// Full digested names (`docker.io/library/python@sha256:…`).
    pub repo_digests: Vec<String>,
    /// Layer chain IDs, bottom first.
    pub chain: Vec<Digest>,
    /// Docker's image size: the sum of its layers' sizes.
    pub size: u64,
}

/// What `rmi` did, line by line, in Docker's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Removal {
    Untagged(String),
    Deleted(Digest),
}

#[derive(Debug, Clone)]
pub struct ImageStore {
    root: StateRoot,
    blobs: BlobStore,
    layers: LayerStore,
    index_path: PathBuf,
}

impl ImageStore {
    pub fn open(root: &StateRoot) -> Self {
        Self {
            root: root.clone(),
            blobs: BlobStore::new(root.join("image/blobs/sha256")),
            layers: LayerStore::new(root.join("image/layers")),
            index_path: root.join("image/index.json"),
        }
    }

    pub fn root(&self) -> &StateRoot {
        &self.root
    }

    pub fn blobs(&self) -> &BlobStore {
        &self.blobs
    }

    pub fn layers(&self) -> &LayerStore {
        &self.layers
    }

    pub fn index(&self) -> Result<Index> {
        Index::load(&self.index_path)
    }

    fn pins_dir(&self) -> PathBuf {
        self.root.join("image/pins")
    }

    /// Keep `chain` (layer chain IDs) from garbage collection for `owner` (a container ID)
    /// even if no image refers to them any more, as Docker's layer store does for a
    /// container's read-write layer.
    pub fn pin(&self, _lock: &StateLock, owner: &str, chain: &[Digest]) -> Result<()> {
        crate::state::atomic_write_json(&self.pins_dir().join(format!("{owner}.json")), &chain)
    }

    pub fn unpin(&self, _lock: &StateLock, owner: &str) -> Result<()> {
        match std::fs::remove_file(self.pins_dir().join(format!("{owner}.json"))) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(e).context("cannot remove layer pin")
            }
            _ => Ok(()),
        }
    }

    /// The owners of every layer pin (unreadable entries left out).
    pub fn pin_owners(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(self.pins_dir()) else {
            return Vec::new();
        };
        entries
            .filter_map(|e| {
                let name = e.ok()?.file_name().into_string().ok()?;
                name.strip_suffix(".json").map(str::to_string)
            })
            .collect()
    }

    fn pinned(&self) -> Result<std::collections::HashSet<Digest>> {
        let mut out = std::collections::HashSet::new();
        let entries = match std::fs::read_dir(self.pins_dir()) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(e).context("cannot read layer pins"),
        };
        for e in entries {
            let p = e.context("cannot read layer pins")?.path();
            let data = std::fs::read(&p).with_context(|| format!("cannot read {}", p.display()))?;
            let chain: Vec<Digest> = serde_json::from_slice(&data)
                .with_context(|| format!("corrupt {}", p.display()))?;
            out.extend(chain);
        }
        Ok(out)
    }

    /// Start a write: takes the lock (cleaning up after interrupted writers) and loads the index.
    pub fn begin(&self) -> Result<Transaction<'_>> {
        let lock = self.root.lock()?;
        let index = self.index()?;
        let tx = Transaction {
            store: self,
            lock,
            index,
            summaries: RefCell::new(Vec::new()),
            details: RefCell::new(Vec::new()),
        };
        tx.collect_garbage()?;
        Ok(tx)
    }

    /// Assemble the view of image `id` from the index and its blobs.
    pub fn image(&self, index: &Index, id: &Digest) -> Result<Image> {
        let record = index
            .images
            .get(id)
            .cloned()
            .with_context(|| format!("image {id} is not in the index"))?;
        let config = ImageConfig::parse(self.blobs.read(id)?)
            .with_context(|| format!("image {id} has a corrupt config"))?;
        let chain = chain_ids(config.diff_ids());
        let mut size = 0;
        for c in &chain {
            size += self.layers.meta(c)?.size;
        }
        let mut tags: Vec<TaggedRef> = index
            .tags_of(id)
            .iter()
            .filter_map(|t| Reference::parse(t).ok()?.with_default_tag())
            .collect();
        // Docker's reference store lists an image's tags sorted by their full string
        // (so `app-x:latest` comes before `app:1`).
        tags.sort_by_cached_key(|t| t.full());
        Ok(Image {
            id: id.clone(),
            config,
            record,
            tags,
            repo_digests: index.repo_digests_of(id),
            chain,
            size,
        })
    }

    /// Every image, newest first (as `docker images` lists them).
    pub fn list(&self) -> Result<Vec<Image>> {
        let index = self.index()?;
        let mut out = index
            .images
            .keys()
            .map(|id| self.image(&index, id))
            .collect::<Result<Vec<_>>>()?;
        out.sort_by(|a, b| {
            let key = |i: &Image| i.config.created().unwrap_or(i.record.added);
            key(b).cmp(&key(a)).then_with(|| a.id.cmp(&b.id))
        });
        Ok(out)
    }

    /// Resolve a name as Docker's daemon does: a reference (tag, defaulting to `latest`, or
    /// digest), a full ID (`sha256:…` or 64 hex), or a unique ID prefix.
    pub fn resolve(&self, index: &Index, name: &str) -> Result<Digest, ImageError> {
        resolve(index, name)
    }

    /// Load one image by name.
    pub fn get(&self, name: &str) -> Result<Image, ImageError> {
        let index = self.index()?;
        let id = resolve(&index, name)?;
        Ok(self.image(&index, &id)?)
    }
}

fn resolve(index: &Index, name: &str) -> Result<Digest, ImageError> {
    let not_found = |r: Option<&Reference>| {
        ImageError::NoSuchImage(match r {
            Some(r) => r.familiar_with_default_tag(),
            None => name.to_string(),
        })
    };
    // A full ID, with or without the algorithm; the daemon names it with the algorithm.
    if let Ok(d) = Digest::parse(name).or_else(|_| Digest::from_hex(name)) {
        return if index.images.contains_key(&d) {
            Ok(d)
        } else {
            Err(ImageError::NoSuchImage(d.to_string()))
        };
    }
    let reference = match Reference::parse(name) {
        Ok(r) => r,
        // Not a valid name; it can still be an ID prefix like "sha256:8ebf".
        Err(e) => {
            let e = match e {
                ReferenceError::Uppercase(_) => ReferenceError::DaemonUppercase,
                other => other,
            };
            return search_prefix(index, name).ok_or(ImageError::Reference(e));
        }
    };
    if let Some(d) = reference.digest() {
        let key = format!("{}@{d}", reference.repo().full());
        return index
            .repo_digests
            .get(&key)
            .cloned()
            .ok_or_else(|| not_found(Some(&reference)));
    }
    if let Some(tagged) = reference.with_default_tag() {
        if let Some(id) = index.tags.get(&tagged.full()) {
            return Ok(id.clone());
        }
    }
    search_prefix(index, name).ok_or_else(|| not_found(Some(&reference)))
}

/// A unique image ID prefix (optionally `sha256:`-prefixed); `None` if absent or ambiguous,
/// which Docker reports alike, as "No such image".
fn search_prefix(index: &Index, name: &str) -> Option<Digest> {
    let prefix = name.strip_prefix("sha256:").unwrap_or(name);
    if prefix.is_empty()
        || !prefix
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return None;
    }
    let mut hits = index.images.keys().filter(|d| d.hex().starts_with(prefix));
    match (hits.next(), hits.next()) {
        (Some(d), None) => Some(d.clone()),
        _ => None,
    }
}

/// A write to the image store: the lock, a staging directory, and the index being changed.
/// Nothing is visible to other processes until [`Transaction::commit`] writes the index.
pub struct Transaction<'s> {
    store: &'s ImageStore,
    lock: StateLock,
    index: Index,
    /// What to journal once the change is visible: summaries (an image pulled, tagged,
    /// deleted), then details (layers unpacked).
    summaries: RefCell<Vec<Event>>,
    details: RefCell<Vec<Event>>,
}

impl<'s> Transaction<'s> {
    pub fn store(&self) -> &'s ImageStore {
        self.store
    }

    pub fn index(&self) -> &Index {
        &self.index
    }

    pub fn index_mut(&mut self) -> &mut Index {
        &mut self.index
    }

    pub fn lock(&self) -> &StateLock {
        &self.lock
    }

    /// Journal `event` when (and only if) this transaction commits, before the details.
    pub fn announce(&self, event: Event) {
        self.summaries.borrow_mut().push(event);
    }

    /// Journal `event` when this transaction commits, after the summaries.
    pub fn record(&self, event: Event) {
        self.details.borrow_mut().push(event);
    }

    /// A staging directory for this write, removed on drop (or by the next writer if this
    /// process dies).
    pub fn staging(&self) -> Result<tempfile::TempDir> {
        self.store.root.staging_dir(&self.lock)
    }

    /// Add an image whose config blob and layers are already stored; returns `true` if it
    /// is new to the index.
    pub fn add_image(&mut self, config: &ImageConfig, parent: Option<Digest>) -> Result<bool> {
        let id = config.id();
        for c in chain_ids(config.diff_ids()) {
            if !self.store.layers.contains(&c) {
                anyhow::bail!("layer {c} of image {id} is missing");
            }
        }
        if self.index.images.contains_key(&id) {
            return Ok(false);
        }
        self.index.images.insert(
            id,
            ImageRecord {
                added: Utc::now(),
                last_tag_time: None,
                parent,
            },
        );
        Ok(true)
    }

    /// Point `tag` at `id` as `docker tag` does, recording the tag time; returns the image
    /// the tag moved away from, if any.
    pub fn set_tag(&mut self, tag: &TaggedRef, id: &Digest) -> Option<Digest> {
        self.index.set_tag(tag, id, Some(Utc::now()))
    }

    /// Point `tag` at `id` as `docker load` and `pull` do: `LastTagTime` stays as it was.
    pub fn add_tag(&mut self, tag: &TaggedRef, id: &Digest) -> Option<Digest> {
        self.index.set_tag(tag, id, None)
    }

    /// Remove an image by name with Docker's `rmi` rules (moby's `ImageDelete`): a tag that is
    /// not the image's last reference is only untagged; an ID refers to the image and needs
    /// `force` when it is tagged in several repositories. `user` names a container using the
    /// image (short ID, running?): a running one blocks deletion even with `force`, a stopped
    /// one without it.
    pub fn remove(
        &mut self,
        name: &str,
        force: bool,
        user: &dyn Fn(&Digest) -> Option<(String, bool)>,
    ) -> Result<Vec<Removal>, ImageError> {
        let id = resolve(&self.index, name)?;
        let user = user(&id);
        let mut out = Vec::new();
        let by_reference = Reference::parse(name)
            .ok()
            .and_then(|r| {
                if let Some(d) = r.digest() {
                    return Some(format!("{}@{d}", r.repo().full()));
                }
                r.with_default_tag().map(|t| t.full())
            })
            .filter(|key| {
                self.index.tags.contains_key(key) || self.index.repo_digests.contains_key(key)
            });

        let quiet = by_reference.is_some();
        if let Some(key) = by_reference {
            let refs = self.index.tags_of(&id).len() + self.index.repo_digests_of(&id).len();
            if !force && self.is_single_reference(&id) {
                if let Some((cid, _)) = &user {
                    return Err(ImageError::Conflict(format!(
                        "unable to remove repository reference \"{name}\" (must force) - container {cid} is using its referenced image {}",
                        id.short()
                    )));
                }
            }
            self.untag(&key, &mut out);
            // With its repository's last tag gone, the repository's digest references go
            // too (moby's ImageDelete), so `rmi busybox` after a pull leaves no
            // `busybox@sha256:…` behind.
            if let Ok(r) = Reference::parse(&key) {
                let repo = r.repo().full();
                let tagged_elsewhere = self
                    .index
                    .tags_of(&id)
                    .iter()
                    .any(|t| Reference::parse(t).is_ok_and(|x| x.repo().full() == repo));
                if r.tag().is_some() && !tagged_elsewhere {
                    for d in self.index.repo_digests_of(&id) {
                        if d.starts_with(&format!("{repo}@")) {
                            self.untag(&d, &mut out);
                        }
                    }
                }
            }
            if refs > out.len() {
                return Ok(out);
            }
        } else {
            let tags = self.index.tags_of(&id);
            let repos: std::collections::BTreeSet<String> = tags
                .iter()
                .filter_map(|t| Reference::parse(t).ok().map(|r| r.repo().full()))
                .collect();
            if repos.len() > 1 && !force {
                return Err(ImageError::Conflict(format!(
                    "unable to delete {} (must be forced) - image is referenced in multiple repositories",
                    id.short()
                )));
            }
            if let Some(c) = self.conflict(&id, &user, force) {
                return Err(c);
            }
            for t in tags {
                self.untag(&t, &mut out);
            }
            for d in self.index.repo_digests_of(&id) {
                self.untag(&d, &mut out);
            }
        }
        if let Some(c) = self.conflict(&id, &user, force) {
            // Untagging by name already did what was asked; the image stays for its users.
            if quiet {
                return Ok(out);
            }
            return Err(c);
        }
        self.delete_image(&id, &mut out)?;
        Ok(out)
    }

    /// moby's `isSingleReference`: at most one tag, and every reference (tag or digest) in
    /// the same repository — removing it would leave the image without a name.
    fn is_single_reference(&self, id: &Digest) -> bool {
        let tags = self.index.tags_of(id);
        let digests = self.index.repo_digests_of(id);
        if tags.len() > 1 {
            return false;
        }
        let repos: std::collections::BTreeSet<String> = tags
            .iter()
            .chain(digests.iter())
            .filter_map(|r| Reference::parse(r).ok().map(|x| x.repo().full()))
            .collect();
        repos.len() == 1
    }

    /// What keeps an image from being deleted: hard conflicts (a running container, child
    /// images) always, a stopped container unless `force`.
    fn conflict(
        &self,
        id: &Digest,
        user: &Option<(String, bool)>,
        force: bool,
    ) -> Option<ImageError> {
        if !self.index.children_of(id).is_empty() {
            return Some(ImageError::Conflict(format!(
                "unable to delete {} (cannot be forced) - image has dependent child images",
                id.short()
            )));
        }
        match user {
            Some((cid, true)) => Some(ImageError::Conflict(format!(
                "unable to delete {} (cannot be forced) - image is being used by running container {cid}",
                id.short()
            ))),
            Some((cid, false)) if !force => Some(ImageError::Conflict(format!(
                "unable to delete {} (must be forced) - image is being used by stopped container {cid}",
                id.short()
            ))),
            _ => None,
        }
    }

    fn untag(&mut self, key: &str, out: &mut Vec<Removal>) {
        let shown = Reference::parse(key)
            .map(|r| match (r.tag(), r.digest()) {
                (Some(t), _) => format!("{}:{t}", r.repo().familiar()),
                (None, Some(d)) => format!("{}@{d}", r.repo().familiar()),
                (None, None) => r.repo().familiar(),
            })
            .unwrap_or_else(|_| key.to_string());
        if self.index.tags.remove(key).is_some() || self.index.repo_digests.remove(key).is_some() {
            out.push(Removal::Untagged(shown));
            self.announce(Event::ImageUntagged {
                reference: key.to_string(),
            });
        }
    }

    /// Drop an untagged image from the index and report which layers it released.
    fn delete_image(&mut self, id: &Digest, out: &mut Vec<Removal>) -> Result<()> {
        let config = ImageConfig::parse(self.store.blobs.read(id)?)?;
        self.index.images.remove(id);
        out.push(Removal::Deleted(id.clone()));
        self.announce(Event::ImageDeleted { id: id.to_string() });
        let still_used = self.used_chain_ids()?;
        for c in chain_ids(config.diff_ids()).iter().rev() {
            if !still_used.contains(c) {
                out.push(Removal::Deleted(c.clone()));
            }
        }
        Ok(())
    }

    fn used_chain_ids(&self) -> Result<std::collections::HashSet<Digest>> {
        let mut used = self.store.pinned()?;
        for id in self.index.images.keys() {
            let config = ImageConfig::parse(self.store.blobs.read(id)?)?;
            used.extend(chain_ids(config.diff_ids()));
        }
        Ok(used)
    }

    /// Remove blobs and layers no image in the index refers to: leftovers of interrupted
    /// writes and of removed images.
    fn collect_garbage(&self) -> Result<()> {
        let mut used_blobs = std::collections::HashSet::new();
        let mut used_layers = self.store.pinned()?;
        for id in self.index.images.keys() {
            let config = ImageConfig::parse(self.store.blobs.read(id)?)?;
            used_blobs.insert(id.clone());
            used_blobs.extend(config.diff_ids().iter().cloned());
            used_layers.extend(chain_ids(config.diff_ids()));
        }
        used_blobs.extend(
            self.index
                .repo_digests
                .keys()
                .filter_map(|k| k.rsplit_once('@').and_then(|(_, d)| Digest::parse(d).ok())),
        );
        for c in self.store.layers.list()? {
            if !used_layers.contains(&c) {
                self.store.layers.remove(&c)?;
            }
        }
        for b in self.store.blobs.list()? {
            if !used_blobs.contains(&b) {
                self.store.blobs.remove(&b)?;
            }
        }
        Ok(())
    }

    /// Make the changes visible, then drop what they left unreferenced.
    pub fn commit(self) -> Result<()> {
        self.index.save(&self.store.index_path)?;
        let journal = Journal::open(&self.store.root);
        for event in self.summaries.take().into_iter().chain(self.details.take()) {
            journal.emit(event);
        }
        self.collect_garbage()
    }
}
