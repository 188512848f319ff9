//! `docker commit`: a container's changes (its overlay upper dir) become a new layer on top
//! of its image's, with the container's configuration and `--change` instructions applied,
//! so `history` shows the new layer and a new container sees the container's files.

use crate::events::Event;
use std::fs::File;
use std::io::BufWriter;

use anyhow::{Context, Result};
use chrono::Utc;
use nix::unistd::Pid;
use serde_json::{json, Value};

use super::record::Status;
use super::store::{Container, ContainerError, ContainerStore};
use crate::engine::image::changes::{apply_changes, docker_config};
use crate::engine::image::config::{go_rfc3339_nano, ImageConfig};
use crate::engine::image::ingest::ingest_layer;
use crate::engine::image::pack::{pack_layer, PackOptions};
use crate::engine::image::{Digest, ImageStore, TaggedRef};
use crate::runtime::Cgroup;

/// What `docker commit` asked for.
#[derive(Debug, Clone, Default)]
pub struct CommitOptions {
    pub tag: Option<TaggedRef>,
    pub author: String,
    pub message: String,
    pub changes: Vec<String>,
    /// Freeze a running container while its files are read (Docker's default).
    pub pause: bool,
}

/// Freezes a running container for the guard's lifetime.
struct Paused(Option<Cgroup>);

impl Drop for Paused {
    fn drop(&mut self) {
        if let Some(cg) = &self.0 {
            let _ = cg.thaw();
        }
    }
}

fn pause(c: &Container, wanted: bool) -> Result<Paused> {
    let running = c.state.status == Status::Running;
    match c.state.process.filter(|_| running && wanted) {
        Some(p) => {
            let cg = Cgroup::of_process(Pid::from_raw(p.pid))
                .map_err(|e| anyhow::anyhow!("cannot find the container's cgroup: {e}"))?;
            cg.freeze()
                .map_err(|e| anyhow::anyhow!("cannot pause the container: {e}"))?;
            Ok(Paused(Some(cg)))
        }
        None => Ok(Paused(None)),
    }
}

/// Commit container `name` as a new image; returns its ID.
pub fn commit(
    containers: &ContainerStore,
    name: &str,
    opts: &CommitOptions,
) -> Result<Digest, ContainerError> {
    let c = containers.get(name)?;
    let images = ImageStore::open(containers.root());
    let index = images.index()?;
    let base = index
        .images
        .contains_key(&c.config.image_id)
        .then(|| images.image(&index, &c.config.image_id))
        .transpose()?;
    // The base's layers are pinned by the container even if its image was removed.
    let base_diff_ids: Vec<Digest> = c
        .config
        .layers
        .iter()
        .map(|l| images.layers().meta(l).map(|m| m.diff_id))
        .collect::<Result<_>>()?;

    let mut runtime = docker_config(Some(&container_config_json(&c)));
    apply_changes(&mut runtime, &opts.changes)
        .map_err(|e| ContainerError::Other(anyhow::anyhow!("{e}")))?;

    let mut tx = images.begin()?;
    let staging = tx.staging()?;
    let tar_path = staging.path().join("commit.tar");
    {
        let _paused = pause(&c, opts.pause)?;
        let out =
            BufWriter::new(File::create(&tar_path).context("cannot create the commit layer")?);
        pack_layer(
            &c.paths.upper(),
            out,
            &PackOptions {
                overlay_whiteouts: true,
            },
        )
        .map_err(|e| anyhow::anyhow!("cannot read the container's changes: {e}"))?;
    }
    let layer = ingest_layer(
        &tx,
        File::open(&tar_path).context("cannot read the commit layer")?,
        c.config.layers.last(),
        None,
    )?;

    let created = go_rfc3339_nano(&Utc::now());
    let mut history: Vec<Value> = base
        .as_ref()
        .map(|b| b.config.history().into_iter().cloned().collect())
        .unwrap_or_default();
    let created_by = std::iter::once(c.config.path.clone())
        .chain(c.config.args.iter().cloned())
        .collect::<Vec<_>>()
        .join(" ");
    let mut entry = json!({"created": created, "created_by": created_by});
    if !opts.author.is_empty() {
        entry["author"] = json!(opts.author);
    }
    if !opts.message.is_empty() {
        entry["comment"] = json!(opts.message);
    }
    history.push(entry);
    let mut diff_ids: Vec<String> = base_diff_ids.iter().map(|d| d.to_string()).collect();
    diff_ids.push(layer.diff_id.to_string());
    let mut config = json!({
        "architecture": std::env::consts::ARCH.replace("x86_64", "amd64"),
        "config": runtime,
        "container": c.config.id.as_str(),
        "container_config": docker_config(Some(&container_config_json(&c))),
        "created": created,
        "history": history,
        "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    });
    if !opts.author.is_empty() {
        config["author"] = json!(opts.author);
    }
    if !opts.message.is_empty() {
        config["comment"] = json!(opts.message);
    }
    let raw = serde_json::to_vec(&config).context("cannot encode the image config")?;
    let config = ImageConfig::parse(raw)?;
    tx.store().blobs().put_bytes(config.raw())?;
    let parent = base.map(|b| b.id);
    tx.add_image(&config, parent)?;
    let id = config.id();
    if let Some(tag) = &opts.tag {
        tx.set_tag(tag, &id);
    }
    tx.announce(Event::ImageCommitted {
        container_id: c.config.id.to_string(),
        container_name: c.config.name.clone(),
        id: id.to_string(),
        reference: opts.tag.as_ref().map(|t| t.full()),
    });
    drop(staging);
    tx.commit()?;
    Ok(id)
}

/// The container's configuration in the image-config shape Docker's commit starts from.
fn container_config_json(c: &Container) -> Value {
    let cfg = &c.config;
    let mut v = cfg.image_config.clone();
    if !v.is_object() {
        v = json!({});
    }
    v["Hostname"] = json!(cfg.hostname);
    v["User"] = json!(cfg.user);
    v["Env"] = json!(cfg.env);
    v["Cmd"] = json!(cfg.cmd);
    v["Entrypoint"] = json!(cfg.entrypoint);
    v["WorkingDir"] = json!(cfg.working_dir);
    v["Labels"] = if cfg.labels.is_empty() {
        Value::Null
    } else {
        json!(cfg.labels)
    };
    v["Image"] = json!(cfg.image_name);
    v["Tty"] = json!(cfg.tty);
    v["OpenStdin"] = json!(cfg.open_stdin);
    v["StdinOnce"] = json!(cfg.open_stdin);
    v["AttachStdout"] = json!(true);
    v["AttachStderr"] = json!(true);
    v
}
