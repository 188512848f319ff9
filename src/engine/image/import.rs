//! `docker import`: a root filesystem tarball becomes a one-layer image.

use crate::events::Event;
use std::io::Read;

use anyhow::{Context, Result};
use chrono::Utc;
use serde_json::json;

use super::changes::{apply_changes, docker_config};
use super::config::{go_rfc3339_nano, ImageConfig};
use super::digest::Digest;
use super::ingest::ingest_layer;
use super::reference::TaggedRef;
use super::store::ImageStore;

pub struct ImportOptions {
    pub tag: Option<TaggedRef>,
    pub changes: Vec<String>,
    pub message: Option<String>,
    /// Where the tarball came from, as the user named it (`-` for stdin), for the journal.
    pub source: String,
}

/// Import the tarball read from `input` and return the new image's ID.
pub fn import(store: &ImageStore, input: impl Read, opts: &ImportOptions) -> Result<Digest> {
    let mut runtime = docker_config(None);
    apply_changes(&mut runtime, &opts.changes)?;
    let mut tx = store.begin()?;
    let layer = ingest_layer(&tx, input, None, None).context("cannot import the tarball")?;
    let comment = opts
        .message
        .clone()
        .unwrap_or_else(|| "Imported from -".to_string());
    let created = go_rfc3339_nano(&Utc::now());
    let config = json!({
        "architecture": std::env::consts::ARCH.replace("x86_64", "amd64"),
        "comment": comment,
        "config": runtime,
        "container_config": docker_config(None),
        "created": created,
        "history": [{"created": created, "comment": comment}],
        "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [layer.diff_id.to_string()]},
    });
    let raw = serde_json::to_vec(&config).context("cannot encode image config")?;
    let config = ImageConfig::parse(raw)?;
    tx.store().blobs().put_bytes(config.raw())?;
    tx.add_image(&config, None)?;
    let id = config.id();
    if let Some(tag) = &opts.tag {
        tx.set_tag(tag, &id);
    }
    tx.announce(Event::ImageImported {
        id: id.to_string(),
        reference: opts.tag.as_ref().map(TaggedRef::full),
        source: opts.source.clone(),
    });
    tx.commit()?;
    Ok(id)
}
