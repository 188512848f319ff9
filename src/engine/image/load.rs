//! `docker load`: image archives into the store. Accepts what `docker save` writes — the
//! classic docker-archive layout (`manifest.json`, `<id>/layer.tar`, `<hex>.json`) and the
//! Docker 25+ variant that is an OCI image layout too — and plain OCI image layout tarballs
//! (`index.json`, `blobs/sha256/…`). Input may be gzip-compressed.

use crate::events::Event;
use std::collections::HashMap;
use std::fs::{self, File};
use std::io::Read;
use std::path::{Component, Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use serde::Deserialize;

use super::config::ImageConfig;
use super::digest::Digest;
use super::ingest::{have_layer, ingest_layer_file, maybe_decompress};
use super::layers::chain_ids;
use super::reference::{Reference, TaggedRef};
use super::store::{ImageStore, Transaction};

/// The archive stream itself could not be read (not a tar, cut short, bad compression):
/// worded as the daemon's tar process reports it. The cause stays in the error chain.
#[derive(Debug, thiserror::Error)]
#[error("Error processing tar file(exit status 1): unexpected EOF")]
pub struct UnreadableArchive;

/// Whether a failed copy out of the archive was the archive's fault rather than the disk's
/// (an OS error such as ENOSPC comes from writing).
fn archive_fault(e: std::io::Error) -> anyhow::Error {
    match e.raw_os_error() {
        Some(_) => anyhow::Error::new(e),
        None => anyhow::Error::new(e).context(UnreadableArchive),
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

/// One image found in an archive: config path, layer paths (bottom first), tags.
struct ArchivedImage {
    config: PathBuf,
    layers: Vec<PathBuf>,
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
    let dir = staging.path().join("archive");
    fs::create_dir(&dir).context("cannot create staging directory")?;
    extract_archive(maybe_decompress(input)?, &dir)?;

    let images = if dir.join("manifest.json").is_file() {
        docker_archive_images(&dir)?
    } else if dir.join("index.json").is_file() {
        oci_layout_images(&dir)?
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
        let id = load_one(tx, &dir, &img, &mut loaded.new_layers)?;
        loaded.images.push((id, img.tags));
    }
    Ok(loaded)
}

fn load_one(
    tx: &mut Transaction<'_>,
    dir: &Path,
    img: &ArchivedImage,
    new_layers: &mut Vec<(Digest, u64)>,
) -> Result<Digest> {
    let config_path = resolve_in(dir, &img.config)?;
    let raw = fs::read(&config_path)
        .with_context(|| format!("cannot read image config {}", img.config.display()))?;
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
        let path = resolve_in(dir, layer)?;
        let parent = if i == 0 { None } else { Some(&chain[i - 1]) };
        // Measured first: ingesting moves the file into the blob store.
        let bytes = fs::metadata(&path)
            .with_context(|| format!("cannot read layer {}", layer.display()))?
            .len();
        ingest_layer_file(tx, &path, parent, Some(&diff_ids[i]))
            .with_context(|| format!("cannot load layer {}", layer.display()))?;
        new_layers.push((diff_ids[i].clone(), bytes));
    }
    tx.store().blobs().put_bytes(config.raw())?;
    tx.add_image(&config, None)?;
    Ok(config.id())
}

fn docker_archive_images(dir: &Path) -> Result<Vec<ArchivedImage>> {
    let data = fs::read(dir.join("manifest.json")).context("cannot read manifest.json")?;
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
                config: PathBuf::from(e.config),
                layers: e.layers.into_iter().map(PathBuf::from).collect(),
                tags,
            })
        })
        .collect()
}

fn oci_layout_images(dir: &Path) -> Result<Vec<ArchivedImage>> {
    let mut out = Vec::new();
    collect_oci(dir, Path::new("index.json"), &[], &mut out, 0)?;
    Ok(out)
}

fn blob_path(digest: &str) -> Result<PathBuf> {
    let d = Digest::parse(digest).map_err(|e| anyhow!("invalid OCI layout: {e}"))?;
    Ok(PathBuf::from(format!("blobs/sha256/{}", d.hex())))
}

const MT_INDEX: &[&str] = &[
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];

/// Walk an OCI index (possibly nested) and collect the linux/amd64 image manifests.
fn collect_oci(
    dir: &Path,
    index_path: &Path,
    inherited_tags: &[TaggedRef],
    out: &mut Vec<ArchivedImage>,
    depth: usize,
) -> Result<()> {
    if depth > 4 {
        bail!("invalid OCI layout: indexes nested too deeply");
    }
    let data = fs::read(resolve_in(dir, index_path)?)
        .with_context(|| format!("cannot read {}", index_path.display()))?;
    let index: OciIndex = serde_json::from_slice(&data)
        .with_context(|| format!("invalid OCI index {}", index_path.display()))?;
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
            collect_oci(dir, &path, &tags, out, depth + 1)?;
            continue;
        }
        let data = fs::read(resolve_in(dir, &path)?)
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

/// Extract the outer archive (not a layer: only files, directories and symlinks between its
/// own files) into `dir`, refusing any path that leaves it.
fn extract_archive(input: impl Read, dir: &Path) -> Result<()> {
    let mut archive = tar::Archive::new(input);
    for entry in archive.entries().context(UnreadableArchive)? {
        let mut entry = entry.map_err(archive_fault)?;
        let raw = entry
            .path()
            .context("invalid path in archive")?
            .into_owned();
        let rel = clean_relative(&raw)
            .with_context(|| format!("invalid path {:?} in archive", raw.display()))?;
        if rel.as_os_str().is_empty() {
            continue;
        }
        let dest = dir.join(&rel);
        if let Some(parent) = dest.parent() {
            fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        match entry.header().entry_type() {
            tar::EntryType::Directory => fs::create_dir_all(&dest)
                .with_context(|| format!("cannot create {}", dest.display()))?,
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let mut f = File::create(&dest)
                    .with_context(|| format!("cannot create {}", dest.display()))?;
                std::io::copy(&mut entry, &mut f)
                    .map_err(archive_fault)
                    .with_context(|| format!("cannot extract {}", rel.display()))?;
            }
            tar::EntryType::Symlink => {
                // Kept as a link inside the staging dir and resolved by `resolve_in`.
                let target = entry
                    .link_name()
                    .context("invalid link in archive")?
                    .with_context(|| format!("symlink {} has no target", rel.display()))?;
                std::os::unix::fs::symlink(target.as_ref(), &dest)
                    .with_context(|| format!("cannot create {}", dest.display()))?;
            }
            tar::EntryType::XGlobalHeader | tar::EntryType::XHeader => {}
            other => bail!(
                "unsupported entry {:?} of type {other:?} in image archive",
                rel.display()
            ),
        }
    }
    Ok(())
}

/// Normalise an archive path: strip `./` and a leading `/`, refuse `..`.
fn clean_relative(p: &Path) -> Result<PathBuf> {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::Normal(x) => out.push(x),
            Component::CurDir | Component::RootDir => {}
            Component::ParentDir => bail!("path leaves the archive"),
            Component::Prefix(_) => bail!("unsupported path"),
        }
    }
    Ok(out)
}

/// Resolve `rel` inside `dir`, following symlinks only as long as they stay inside `dir`.
fn resolve_in(dir: &Path, rel: &Path) -> Result<PathBuf> {
    let mut current = PathBuf::new();
    let mut pending: Vec<PathBuf> = clean_relative(rel)?
        .components()
        .rev()
        .map(|c| PathBuf::from(c.as_os_str()))
        .collect();
    let mut hops = 0;
    while let Some(c) = pending.pop() {
        if c.as_os_str() == ".." {
            if !current.pop() {
                bail!("{} leaves the archive", rel.display());
            }
            continue;
        }
        let next = current.join(&c);
        let full = dir.join(&next);
        match fs::symlink_metadata(&full) {
            Ok(md) if md.file_type().is_symlink() => {
                hops += 1;
                if hops > 40 {
                    bail!("too many symlinks resolving {}", rel.display());
                }
                let target = fs::read_link(&full)?;
                if target.is_absolute() {
                    current = PathBuf::new();
                }
                for t in target.components().rev() {
                    match t {
                        Component::Normal(x) => pending.push(PathBuf::from(x)),
                        Component::ParentDir => pending.push(PathBuf::from("..")),
                        _ => {}
                    }
                }
            }
            Ok(_) => current = next,
            Err(_) => bail!("{} is missing from the archive", rel.display()),
        }
    }
    Ok(dir.join(current))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archive_paths_may_not_climb_out() {
        assert!(clean_relative(Path::new("../x")).is_err());
        assert_eq!(
            clean_relative(Path::new("./a/b")).unwrap(),
            PathBuf::from("a/b")
        );
        assert_eq!(clean_relative(Path::new("/a")).unwrap(), PathBuf::from("a"));
    }

    #[test]
    fn symlinks_resolve_only_inside_the_archive() {
        let t = tempfile::tempdir().unwrap();
        fs::create_dir_all(t.path().join("a")).unwrap();
        fs::write(t.path().join("a/layer.tar"), b"x").unwrap();
        fs::create_dir_all(t.path().join("b")).unwrap();
        std::os::unix::fs::symlink("../a/layer.tar", t.path().join("b/layer.tar")).unwrap();
        std::os::unix::fs::symlink("../../../etc/passwd", t.path().join("b/evil")).unwrap();
        assert_eq!(
            resolve_in(t.path(), Path::new("b/layer.tar")).unwrap(),
            t.path().join("a/layer.tar")
        );
        assert!(resolve_in(t.path(), Path::new("b/evil")).is_err());
    }
}
