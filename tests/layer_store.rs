//! Layers are stored when an image comes in — `load`, `pull`, `import`, `commit` keep the
//! layer's tar, verified against its diff ID and proven by a dry run to unpack — and unpacked
//! by the first container that needs them, once, for every container and image sharing them.
//! These tests run as root (containers).

mod common_ctr;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common_ctr::{Dokles, IMAGE};
use dokles::events::{Event, Journal};
use dokles::state::StateRoot;

/// The layer directories of the store, by chain ID.
fn layer_dirs(d: &Dokles) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = fs::read_dir(d.root().join("image/layers"))
        .expect("the layer store")
        .map(|e| e.expect("a layer").path())
        .collect();
    dirs.sort();
    dirs
}

fn unpacked(d: &Dokles) -> Vec<PathBuf> {
    layer_dirs(d)
        .into_iter()
        .filter(|l| l.join("diff").is_dir())
        .collect()
}

/// The directories unpacked since journal offset `from`, as journaled.
fn unpacked_since(d: &Dokles, from: u64) -> Vec<String> {
    journal(d)
        .read_since(from)
        .expect("read the journal")
        .0
        .into_iter()
        .filter_map(|e| match e.event {
            Event::LayerUnpacked { dir, .. } => Some(dir),
            _ => None,
        })
        .collect()
}

fn journal(d: &Dokles) -> Journal {
    Journal::open(&StateRoot::open(d.root()).expect("state root"))
}

fn end(d: &Dokles) -> u64 {
    journal(d).end_offset().expect("journal end")
}

/// Names in the state root's staging area.
fn staging(d: &Dokles) -> Vec<String> {
    match fs::read_dir(d.root().join("tmp")) {
        Ok(entries) => entries
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    }
}

#[test]
fn a_stored_layer_is_unpacked_by_the_first_container_only() {
    let d = Dokles::new();
    let layers = layer_dirs(&d);
    assert_eq!(layers.len(), 1, "busybox is one layer");
    assert!(layers[0].join("layer.json").is_file());
    assert!(unpacked(&d).is_empty(), "import stores, it does not unpack");

    // `create` alone unpacks: the container's filesystem must exist before it starts.
    let from = end(&d);
    d.ok(&["create", "--name", "eerste", IMAGE, "true"]);
    let diff = layers[0].join("diff");
    assert_eq!(unpacked_since(&d, from), [diff.display().to_string()]);
    assert!(diff.join("bin/busybox").is_file());

    let from = end(&d);
    d.ok(&["start", "-a", "eerste"]);
    assert_eq!(
        d.ok(&["run", "--rm", IMAGE, "cat", "/etc/group"])
            .lines()
            .count(),
        2
    );
    assert!(
        unpacked_since(&d, from).is_empty(),
        "later containers share it"
    );
}

#[test]
fn an_image_on_a_shared_base_unpacks_only_its_own_layers() {
    let d = Dokles::new();
    d.ok(&["pull", "debian"]);
    d.ok(&["run", "--rm", "debian", "true"]);
    let base = unpacked(&d);
    assert_eq!(base.len(), 1, "debian's one layer, not busybox's: {base:?}");

    d.ok(&["pull", "python"]);
    let from = end(&d);
    assert_eq!(
        d.ok(&["run", "--rm", "python", "python3", "-c", "print(6*7)"]),
        "42"
    );
    let new = unpacked_since(&d, from);
    assert_eq!(new.len(), 1, "python's own layer only: {new:?}");
    assert!(!base.iter().any(|b| Path::new(&new[0]).starts_with(b)));
}

#[test]
fn a_layer_that_cannot_be_unpacked_fails_the_create_and_leaves_nothing() {
    let d = Dokles::new();
    let diff_id = d.ok(&[
        "image",
        "inspect",
        "-f",
        "{{index .RootFS.Layers 0}}",
        IMAGE,
    ]);
    let hex = diff_id
        .trim()
        .strip_prefix("sha256:")
        .expect("a sha256 diff ID");
    let blob = d.root().join("image/blobs/sha256").join(hex);
    let good = fs::read(&blob).expect("the layer's tar");
    // The disk lost the end of the stored tar since the import checked it.
    fs::write(&blob, &good[..good.len() / 2]).expect("truncate the blob");

    let o = d.run(&["run", "--name", "kapot", IMAGE, "true"]);
    assert_eq!(o.code, 125, "{o:?}");
    assert!(
        o.stderr
            .contains(&format!("cannot unpack layer {}", diff_id.trim()))
            && o.stderr.contains("is truncated"),
        "{}",
        o.stderr
    );
    assert_eq!(d.ok(&["ps", "-aq"]), "", "no container was created");
    assert!(unpacked(&d).is_empty(), "no half layer");
    assert_eq!(staging(&d), Vec::<String>::new());

    fs::write(&blob, &good).expect("restore the blob");
    d.ok(&["run", "--rm", "--name", "heel", IMAGE, "true"]);
    assert_eq!(unpacked(&d).len(), 1);
}

#[test]
fn a_first_container_killed_while_unpacking_leaves_no_half_layer() {
    let d = Dokles::new();
    d.ok(&["pull", "python"]);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_dokles"))
        .arg("--root")
        .arg(d.root())
        .args(["docker", "create", "--name", "half", "python"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn dokles");
    // Kill it hard once it is unpacking (a staged diff with files in it).
    let deadline = Instant::now() + Duration::from_secs(60);
    let unpacking = || {
        staging(&d).iter().any(|s| {
            fs::read_dir(d.root().join("tmp").join(s).join("diff"))
                .is_ok_and(|mut entries| entries.next().is_some())
        })
    };
    while !unpacking() {
        assert!(
            Instant::now() < deadline,
            "the create never started unpacking"
        );
        assert!(
            child.try_wait().expect("wait").is_none(),
            "the create ended before it was killed"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("wait");

    // No container, and the half-unpacked layer is nowhere but in the staging area...
    assert_eq!(d.ok(&["ps", "-aq"]), "");
    let complete = unpacked(&d);
    assert!(
        complete.len() < 2,
        "at most the base layer was finished before the kill"
    );
    // ...which the next writer empties, and the next container runs.
    assert_eq!(
        d.ok(&["run", "--rm", "python", "python3", "-c", "print(6*7)"]),
        "42"
    );
    assert_eq!(staging(&d), Vec::<String>::new());
    assert_eq!(unpacked(&d).len(), 2, "python's two layers");
}
