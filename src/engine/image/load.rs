//! `docker load`: image archives into the store. Accepts what `docker save` writes — the
//! classic docker-archive layout (`manifest.json`, `<id>/layer.tar`, `<hex>.json`) and the
//! Docker 25+ variant that is an OCI image layout too — and plain OCI image layout tarballs
//! (`index.json`, `blobs/sha256/…`). Input may be gzip-compressed. The archive is read
//! without extracting it (`archive`, `namespace`): nothing it names is created on disk.

mod archive;
mod namespace;

use crate::events::Event;
use std::collections::HashMap;
use std::fs;
use std::io::Read;

use anyhow::{anyhow, bail, Context, Result};
use serde::Deserialize;

use archive::Archive;

use super::config::ImageConfig;
use super::digest::Digest;
use super::ingest::{have_layer, ingest_layer_file, maybe_decompress};
use super::layers::chain_ids;
use super::reference::{Reference, TaggedRef};
use super::store::{ImageStore, Transaction};
use super::unpack::UnpackError;

/// The archive could not be taken in as Docker's tar process would (cut short, not a tar, or
/// an entry its extraction refuses): worded as the daemon reports that process failing, with
/// Go's error. Docker's client prints it without the daemon prefix.
#[derive(Debug, thiserror::Error)]
#[error("Error processing tar file(exit status 1): {detail}")]
pub struct UntarFailed {
    detail: String,
}

impl UntarFailed {
    fn new(detail: String) -> Self {
        UntarFailed { detail }
    }

    /// The archive stream ends early or is no tar (the cause stays in the error chain).
    fn unexpected_eof() -> Self {
        UntarFailed::new("unexpected EOF".to_owned())
    }
}

/// What a load did, for Docker's output lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoadEvent {
    /// `The image python:latest already exists, renaming the old one with ID … to empty string`
    Renamed { tag: TaggedRef, old: Digest },
    /// `Loaded image: python:latest`
    Tagged(TaggedRef),
    /// `Loaded image ID: sha256:…` (an image without tags)
    LoadedId(Digest),
    /// A layer the store did not have, read from `bytes` of archive: Docker's
    /// `<short diff ID>: Loading layer` progress line, shown on a terminal only.
    LayerLoaded { diff_id: Digest, bytes: u64 },
}

impl std::fmt::Display for LoadEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LoadEvent::Renamed { tag, old } => write!(
                f,
                "The image {tag} already exists, renaming the old one with ID {old} to empty string"
            ),
            LoadEvent::Tagged(t) => write!(f, "Loaded image: {t}"),
            LoadEvent::LoadedId(d) => write!(f, "Loaded image ID: {d}"),
            LoadEvent::LayerLoaded { diff_id, .. } => {
                write!(f, "{}: Loading layer", diff_id.short())
            }
        }
    }
}

/// One image found in an archive: config path, layer paths (bottom first), tags, as the
/// archive names them.
struct ArchivedImage {
    config: String,
    layers: Vec<String>,
    tags: Vec<TaggedRef>,
}

#[derive(Deserialize)]
struct DockerManifestEntry {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "RepoTags", default)]
    repo_tags: Option<Vec<String>>,
    #[serde(rename = "Layers", default)]
    layers: Vec<String>,
}

#[derive(Deserialize)]
struct OciDescriptor {
    #[serde(rename = "mediaType", default)]
    media_type: String,
    digest: String,
    #[serde(default)]
    annotations: HashMap<String, String>,
    #[serde(default)]
    platform: Option<OciPlatform>,
}

#[derive(Deserialize)]
struct OciPlatform {
    architecture: String,
    os: String,
}

#[derive(Deserialize)]
struct OciIndex {
    #[serde(default)]
    manifests: Vec<OciDescriptor>,
}

#[derive(Deserialize)]
struct OciManifest {
    config: OciDescriptor,
    #[serde(default)]
    layers: Vec<OciDescriptor>,
}

/// Load every image in the archive read from `input` and tag it as the archive says.
/// Nothing becomes visible unless the whole archive loads.
pub fn load(store: &ImageStore, input: impl Read) -> Result<Vec<LoadEvent>> {
    let mut tx = store.begin()?;
    let loaded = load_images(&mut tx, input)?;
    let mut events: Vec<LoadEvent> = loaded
        .new_layers
        .into_iter()
        .map(|(diff_id, bytes)| LoadEvent::LayerLoaded { diff_id, bytes })
        .collect();
    for (id, tags) in loaded.images {
        tx.announce(Event::ImageLoaded {
            id: id.to_string(),
            refs: tags.iter().map(TaggedRef::full).collect(),
        });
        if tags.is_empty() {
            events.push(LoadEvent::LoadedId(id.clone()));
        }
        for tag in tags {
            if let Some(old) = tx.add_tag(&tag, &id) {
                events.push(LoadEvent::Renamed {
                    tag: tag.clone(),
                    old,
                });
            }
            events.push(LoadEvent::Tagged(tag));
        }
    }
    tx.commit()?;
    Ok(events)
}

/// What [`load_images`] added.
pub struct Loaded {
    /// Each image's ID with the tags the archive gives it.
    pub images: Vec<(Digest, Vec<TaggedRef>)>,
    /// The layers the store did not have (diff ID, bytes in the archive), bottom first.
    pub new_layers: Vec<(Digest, u64)>,
}

/// Add the archive's images (layers, configs, index entries) to the transaction without
/// tagging them.
pub fn load_images(tx: &mut Transaction<'_>, input: impl Read) -> Result<Loaded> {
    let staging = tx.staging()?;
    let spool = staging.path().join("archive");
    fs::create_dir(&spool).context("cannot create staging directory")?;
    let archive = Archive::read(maybe_decompress(input)?, &spool)?;

    let images = if archive.has_file("manifest.json") {
        docker_archive_images(&archive)?
    } else if archive.has_file("index.json") {
        oci_layout_images(&archive)?
    } else {
        bail!("invalid archive: it has neither a manifest.json (docker save) nor an index.json (OCI image layout)");
    };
    if images.is_empty() {
        bail!("no images found in the archive");
    }
    let mut loaded = Loaded {
        images: Vec::new(),
        new_layers: Vec::new(),
    };
    for img in images {
        let id = load_one(tx, &archive, &img, &mut loaded.new_layers)?;
        loaded.images.push((id, img.tags));
    }
    Ok(loaded)
}

fn load_one(
    tx: &mut Transaction<'_>,
    archive: &Archive,
    img: &ArchivedImage,
    new_layers: &mut Vec<(Digest, u64)>,
) -> Result<Digest> {
    let raw = archive
        .document(&img.config)
        .with_context(|| format!("cannot read image config {}", img.config))?;
    let config = ImageConfig::parse(raw)?;
    let diff_ids = config.diff_ids();
    if diff_ids.len() != img.layers.len() {
        bail!(
            "invalid manifest: the config lists {} layers, the manifest {}",
            diff_ids.len(),
            img.layers.len()
        );
    }
    let chain = chain_ids(diff_ids);
    for (i, layer) in img.layers.iter().enumerate() {
        if have_layer(tx, &chain[i], &diff_ids[i]) {
            continue;
        }
        let member = archive.file(layer)?;
        let parent = if i == 0 { None } else { Some(&chain[i - 1]) };
        ingest_layer_file(tx, &member.path, parent, Some(&diff_ids[i]))
            .map_err(in_dockers_words)
            .with_context(|| format!("cannot load layer {layer}"))?;
        new_layers.push((diff_ids[i].clone(), member.len));
    }
    tx.store().blobs().put_bytes(config.raw())?;
    tx.add_image(&config, None)?;
    Ok(config.id())
}

/// A layer entry of a type Docker's extraction does not handle (GNU sparse above all) fails
/// the load as it fails Docker's: as its tar process failing, with Go's words.
fn in_dockers_words(e: anyhow::Error) -> anyhow::Error {
    match e.downcast_ref::<UnpackError>() {
        Some(&UnpackError::UnsupportedType { flag, .. }) => e.context(UntarFailed::new(format!(
            "unhandled tar header type {flag}"
        ))),
        _ => e,
    }
}

fn docker_archive_images(archive: &Archive) -> Result<Vec<ArchivedImage>> {
    let data = archive
        .document("manifest.json")
        .context("cannot read manifest.json")?;
    let entries: Vec<DockerManifestEntry> =
        serde_json::from_slice(&data).context("invalid manifest.json")?;
    entries
        .into_iter()
        .map(|e| {
            let tags = e
                .repo_tags
                .unwrap_or_default()
                .iter()
                .map(|t| parse_tag(t))
                .collect::<Result<Vec<_>>>()?;
            Ok(ArchivedImage {
                config: e.config,
                layers: e.layers,
                tags,
            })
        })
        .collect()
}

fn oci_layout_images(archive: &Archive) -> Result<Vec<ArchivedImage>> {
    let mut out = Vec::new();
    collect_oci(archive, "index.json", &[], &mut out, 0)?;
    Ok(out)
}

fn blob_path(digest: &str) -> Result<String> {
    let d = Digest::parse(digest).map_err(|e| anyhow!("invalid OCI layout: {e}"))?;
    Ok(format!("blobs/sha256/{}", d.hex()))
}

const MT_INDEX: &[&str] = &[
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];

/// Walk an OCI index (possibly nested) and collect the linux/amd64 image manifests.
fn collect_oci(
    archive: &Archive,
    index_path: &str,
    inherited_tags: &[TaggedRef],
    out: &mut Vec<ArchivedImage>,
    depth: usize,
) -> Result<()> {
    if depth > 4 {
        bail!("invalid OCI layout: indexes nested too deeply");
    }
    let data = archive
        .document(index_path)
        .with_context(|| format!("cannot read {index_path}"))?;
    let index: OciIndex =
        serde_json::from_slice(&data).with_context(|| format!("invalid OCI index {index_path}"))?;
    for m in index.manifests {
        if let Some(p) = &m.platform {
            if p.os != "linux"
                || p.architecture != std::env::consts::ARCH.replace("x86_64", "amd64")
            {
                continue;
            }
        }
        let mut tags = inherited_tags.to_vec();
        if let Some(name) = m
            .annotations
            .get("io.containerd.image.name")
            .or_else(|| m.annotations.get("org.opencontainers.image.ref.name"))
        {
            // A bare tag ("latest") names no repository; only full references tag an image.
            if let Ok(t) = parse_tag(name) {
                if name.contains(':') || name.contains('/') {
                    tags.push(t);
                }
            }
        }
        let path = blob_path(&m.digest)?;
        if MT_INDEX.contains(&m.media_type.as_str()) {
            collect_oci(archive, &path, &tags, out, depth + 1)?;
            continue;
        }
        let data = archive
            .document(&path)
            .with_context(|| format!("cannot read manifest {}", m.digest))?;
        let manifest: OciManifest = serde_json::from_slice(&data)
            .with_context(|| format!("invalid manifest {}", m.digest))?;
        out.push(ArchivedImage {
            config: blob_path(&manifest.config.digest)?,
            layers: manifest
                .layers
                .iter()
                .map(|l| blob_path(&l.digest))
                .collect::<Result<_>>()?,
            tags,
        });
    }
    Ok(())
}

fn parse_tag(s: &str) -> Result<TaggedRef> {
    Reference::parse(s)
        .ok()
        .and_then(|r| r.with_default_tag())
        .ok_or_else(|| anyhow!("invalid tag {s:?} in archive"))
}
