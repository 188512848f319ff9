//! The JSON view of an image that `docker image inspect` prints (Docker Engine 20.10's
//! field names and order), also the data `--format` templates see.

use serde_json::{json, Map, Value};

use super::changes::docker_config;
use super::config::go_rfc3339_nano;
use super::store::{Image, ImageStore};

pub fn inspect(store: &ImageStore, image: &Image) -> Value {
    let c = &image.config;
    let created = c
        .created()
        .map(|t| go_rfc3339_nano(&t))
        .unwrap_or_else(|| "0001-01-01T00:00:00Z".to_string());
    let mut o = Map::new();
    o.insert("Id".into(), json!(image.id.to_string()));
    o.insert(
        "RepoTags".into(),
        json!(image.tags.iter().map(|t| t.familiar()).collect::<Vec<_>>()),
    );
    o.insert(
        "RepoDigests".into(),
        json!(familiar_digests(&image.repo_digests)),
    );
    o.insert(
        "Parent".into(),
        json!(image
            .record
            .parent
            .as_ref()
            .map(|p| p.to_string())
            .unwrap_or_default()),
    );
    o.insert("Comment".into(), json!(c.str_field("comment")));
    o.insert("Created".into(), json!(created));
    o.insert("Container".into(), json!(c.str_field("container")));
    o.insert(
        "ContainerConfig".into(),
        docker_config(c.json().get("container_config")),
    );
    o.insert("DockerVersion".into(), json!(c.str_field("docker_version")));
    o.insert("Author".into(), json!(c.str_field("author")));
    o.insert("Config".into(), docker_config(c.runtime_config()));
    o.insert("Architecture".into(), json!(c.str_field("architecture")));
    if !c.str_field("variant").is_empty() {
        o.insert("Variant".into(), json!(c.str_field("variant")));
    }
    o.insert("Os".into(), json!(c.str_field("os")));
    o.insert("Size".into(), json!(image.size));
    o.insert("VirtualSize".into(), json!(image.size));
    o.insert("GraphDriver".into(), graph_driver(store, image));
    o.insert(
        "RootFS".into(),
        json!({"Type": "layers", "Layers": c.diff_ids().iter().map(|d| d.to_string()).collect::<Vec<_>>()}),
    );
    o.insert(
        "Metadata".into(),
        json!({"LastTagTime": image.record.last_tag_time.map(|t| go_rfc3339_nano(&t)).unwrap_or_else(|| "0001-01-01T00:00:00Z".into())}),
    );
    Value::Object(o)
}

/// `python@sha256:…` instead of `docker.io/library/python@sha256:…`.
fn familiar_digests(full: &[String]) -> Vec<String> {
    full.iter()
        .map(|d| match d.rsplit_once('@') {
            Some((repo, digest)) => match super::reference::Reference::parse(repo) {
                Ok(r) => format!("{}@{digest}", r.repo().familiar()),
                Err(_) => d.clone(),
            },
            None => d.clone(),
        })
        .collect()
}

/// Where the layers live, as overlay2 shows it: the top layer is the "upper" dir, the others
/// the lower dirs (top first, `:`-joined).
fn graph_driver(store: &ImageStore, image: &Image) -> Value {
    let mut data = Map::new();
    if let Some(top) = image.chain.last() {
        let lowers: Vec<String> = image.chain[..image.chain.len() - 1]
            .iter()
            .rev()
            .map(|c| store.layers().diff_dir(c).display().to_string())
            .collect();
        if !lowers.is_empty() {
            data.insert("LowerDir".into(), json!(lowers.join(":")));
        }
        let dir = store.layers().layer_dir(top);
        data.insert(
            "MergedDir".into(),
            json!(dir.join("merged").display().to_string()),
        );
        data.insert(
            "UpperDir".into(),
            json!(dir.join("diff").display().to_string()),
        );
        data.insert(
            "WorkDir".into(),
            json!(dir.join("work").display().to_string()),
        );
    }
    json!({"Data": data, "Name": "overlay2"})
}
