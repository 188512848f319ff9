//! `docker save`: images into one archive in the layout Docker 25+ writes, which is at once a
//! docker-archive (`manifest.json`, `repositories`) and an OCI image layout (`oci-layout`,
//! `index.json`, `blobs/sha256/…`). Older Docker engines load it through `manifest.json`.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{self, Write};

use anyhow::{Context, Result};
use serde_json::{json, Value};

use super::digest::Digest;
use super::reference::{Reference, TaggedRef};
use super::store::{Image, ImageError, ImageStore};

pub const MT_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const MT_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const MT_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";
pub const MT_INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// The images and tags a list of `save` arguments names, in argument order, by the rules of
/// Docker's `tarexport.parseNames`: a repository name without a tag saves every tag of that
/// repository (or, if it has none, the image the name finds as an ID); `name:tag` saves that
/// tag; an ID (`8ebf`, `sha256:8ebf…`) or a digest saves the image without a tag.
pub fn select(
    store: &ImageStore,
    names: &[String],
) -> Result<Vec<(Image, Vec<TaggedRef>)>, ImageError> {
    let index = store.index()?;
    let mut out: Vec<(Image, Vec<TaggedRef>)> = Vec::new();
    for name in names {
        let by_id = || {
            store.resolve(&index, name).map_err(|e| match e {
                ImageError::NoSuchImage(_) => ImageError::NoSuchImage(name.clone()),
                other => other,
            })
        };
        let by_reference = || {
            store.resolve(&index, name).map_err(|e| match e {
                ImageError::NoSuchImage(_) => {
                    ImageError::Other(anyhow::anyhow!("reference does not exist"))
                }
                other => other,
            })
        };
        let picks: Vec<(Digest, Option<TaggedRef>)> = match Reference::parse(name) {
            // "sha256:8ebf" parses as repository "sha256"; Docker takes it as an ID.
            Ok(r) if r.repo().familiar() == "sha256" => vec![(by_id()?, None)],
            Ok(r) if r.digest().is_some() => vec![(by_reference()?, None)],
            Ok(r) if r.tag().is_some() => vec![(by_reference()?, r.with_default_tag())],
            Ok(r) => {
                let tagged: Vec<(Digest, Option<TaggedRef>)> = index
                    .tags
                    .iter()
                    .filter_map(|(full, id)| {
                        let t = Reference::parse(full).ok()?.with_default_tag()?;
                        (t.repo() == r.repo()).then(|| (id.clone(), Some(t)))
                    })
                    .collect();
                if tagged.is_empty() {
                    vec![(by_id()?, None)]
                } else {
                    tagged
                }
            }
            Err(_) => vec![(by_id()?, None)],
        };
        for (id, tag) in picks {
            match out.iter_mut().find(|(i, _)| i.id == id) {
                Some((_, existing)) => {
                    if let Some(t) = tag {
                        if !existing.contains(&t) {
                            existing.push(t);
                        }
                    }
                }
                None => out.push((store.image(&index, &id)?, tag.into_iter().collect())),
            }
        }
    }
    Ok(out)
}

/// Write the archive for `images` to `out`.
pub fn save(store: &ImageStore, images: &[(Image, Vec<TaggedRef>)], out: impl Write) -> Result<()> {
    let mut tar = tar::Builder::new(out);
    tar.mode(tar::HeaderMode::Deterministic);
    dir_entry(&mut tar, "blobs/")?;
    dir_entry(&mut tar, "blobs/sha256/")?;

    let mut written: BTreeSet<Digest> = BTreeSet::new();
    let mut docker_manifest = Vec::new();
    let mut index_manifests = Vec::new();
    let mut repositories: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();

    for (image, tags) in images {
        let mut layers = Vec::new();
        let mut layer_paths = Vec::new();
        for diff_id in image.config.diff_ids() {
            let path = store.blobs().path(diff_id);
            let size = std::fs::metadata(&path)
                .with_context(|| format!("layer blob {diff_id} is missing"))?
                .len();
            if written.insert(diff_id.clone()) {
                let mut f =
                    File::open(&path).with_context(|| format!("cannot open {}", path.display()))?;
                file_entry(&mut tar, &blob_name(diff_id), size, &mut f)?;
            }
            layers
                .push(json!({"mediaType": MT_LAYER, "digest": diff_id.to_string(), "size": size}));
            layer_paths.push(Value::String(blob_name(diff_id)));
        }
        let config = image.config.raw();
        if written.insert(image.id.clone()) {
            file_entry(
                &mut tar,
                &blob_name(&image.id),
                config.len() as u64,
                &mut &config[..],
            )?;
        }
        let manifest = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": MT_MANIFEST,
            "config": {"mediaType": MT_CONFIG, "digest": image.id.to_string(), "size": config.len()},
            "layers": layers,
        }))
        .context("cannot encode manifest")?;
        let manifest_digest = Digest::of(&manifest);
        if written.insert(manifest_digest.clone()) {
            file_entry(
                &mut tar,
                &blob_name(&manifest_digest),
                manifest.len() as u64,
                &mut &manifest[..],
            )?;
        }
        // Go's descriptor leaves out empty annotations (`omitempty`).
        let descriptor = |annotations: Option<Value>| {
            let mut d = json!({
                "mediaType": MT_MANIFEST,
                "digest": manifest_digest.to_string(),
                "size": manifest.len(),
            });
            if let (Some(a), Some(map)) = (annotations, d.as_object_mut()) {
                map.insert("annotations".into(), a);
            }
            d
        };
        if tags.is_empty() {
            index_manifests.push(descriptor(None));
        }
        // moby's `repositories` maps each tag to the image's last layer (its diff ID), the
        // top of the legacy v1 layout, not to the config.
        let top = image
            .config
            .diff_ids()
            .last()
            .unwrap_or(&image.id)
            .hex()
            .to_string();
        for t in tags {
            index_manifests.push(descriptor(Some(json!({
                "io.containerd.image.name": t.full(),
                "org.opencontainers.image.ref.name": t.tag(),
            }))));
            repositories
                .entry(t.repo().familiar())
                .or_default()
                .insert(t.tag().to_string(), top.clone());
        }
        docker_manifest.push(json!({
            "Config": blob_name(&image.id),
            "RepoTags": if tags.is_empty() { Value::Null } else {
                Value::Array(tags.iter().map(|t| Value::String(t.familiar())).collect())
            },
            "Layers": layer_paths,
        }));
    }

    let index = json!({"schemaVersion": 2, "mediaType": MT_INDEX, "manifests": index_manifests});
    json_entry(&mut tar, "index.json", &index)?;
    // moby writes these two with Go's json.Encoder, which ends the document with a newline.
    json_line_entry(&mut tar, "manifest.json", &Value::Array(docker_manifest))?;
    json_entry(
        &mut tar,
        "oci-layout",
        &json!({"imageLayoutVersion": "1.0.0"}),
    )?;
    if !repositories.is_empty() {
        json_line_entry(
            &mut tar,
            "repositories",
            &serde_json::to_value(&repositories).context("cannot encode repositories")?,
        )?;
    }
    tar.into_inner()
        .context("cannot finish archive")?
        .flush()
        .context("cannot write archive")?;
    Ok(())
}

fn blob_name(d: &Digest) -> String {
    format!("blobs/sha256/{}", d.hex())
}

fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_size(size);
    h.set_mtime(0);
    h.set_uid(0);
    h.set_gid(0);
    h
}

fn dir_entry<W: Write>(tar: &mut tar::Builder<W>, name: &str) -> Result<()> {
    let mut h = header(tar::EntryType::Directory, 0o755, 0);
    tar.append_data(&mut h, name, io::empty())
        .context("cannot write archive")
}

fn file_entry<W: Write>(
    tar: &mut tar::Builder<W>,
    name: &str,
    size: u64,
    data: &mut impl io::Read,
) -> Result<()> {
    let mut h = header(tar::EntryType::Regular, 0o644, size);
    tar.append_data(&mut h, name, data)
        .context("cannot write archive")
}

fn json_entry<W: Write>(tar: &mut tar::Builder<W>, name: &str, value: &Value) -> Result<()> {
    let data = serde_json::to_vec(value).context("cannot encode JSON")?;
    file_entry(tar, name, data.len() as u64, &mut &data[..])
}

/// A JSON document followed by a newline, as Go's `json.Encoder` writes it.
fn json_line_entry<W: Write>(tar: &mut tar::Builder<W>, name: &str, value: &Value) -> Result<()> {
    let mut data = serde_json::to_vec(value).context("cannot encode JSON")?;
    data.push(b'\n');
    file_entry(tar, name, data.len() as u64, &mut &data[..])
}
