//! `docker load` of hostile image archives. Whatever the outer archive holds — symbolic links
//! out of it, `..`, absolute names, hard links, duplicates, sparse members — nothing outside
//! the state root is created, changed or read, and `load` either fails as Docker 20.10's does
//! (its words, checked against the reference daemon) or loads the image. A marker directory
//! beside the state root stands for the host; every attack aims at it.

mod common;
mod layer_common;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{sha256_hex, Dokles};
use layer_common::{describe, dir, fifo, file, gnu_sparse, hardlink, symlink, tar, Node, E};
use serde_json::json;

/// What a sparse member claims below: 1 TiB.
const TEBIBYTE: u64 = 1 << 40;

/// A valid image archive, as entries: its one layer holds `/hello`.
struct Image {
    layer: Vec<u8>,
    config_name: String,
    config: Vec<u8>,
}

impl Image {
    fn new() -> Image {
        Image::with_layer(tar(&[file("hello", b"hello\n")]))
    }

    fn with_layer(layer: Vec<u8>) -> Image {
        let config = serde_json::to_vec(&json!({
            "architecture": "amd64",
            "os": "linux",
            "config": {"Cmd": ["/hello"]},
            "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{}", sha256_hex(&layer))]},
        }))
        .unwrap();
        Image {
            config_name: format!("{}.json", sha256_hex(&config)),
            layer,
            config,
        }
    }

    fn id(&self) -> String {
        format!("sha256:{}", self.config_name.trim_end_matches(".json"))
    }

    /// `manifest.json` tagging the image `tag`.
    fn manifest(&self, tag: &str) -> Vec<u8> {
        serde_json::to_vec(&json!([{
            "Config": self.config_name,
            "RepoTags": [tag],
            "Layers": ["layer/layer.tar"],
        }]))
        .unwrap()
    }

    /// The archive's own entries, tagging the image `hostile:1`.
    fn entries(&self) -> Vec<E> {
        vec![
            file("layer/layer.tar", &self.layer),
            file(&self.config_name, &self.config),
            file("manifest.json", &self.manifest("hostile:1")),
        ]
    }
}

/// The host, as far as the tests can see it: a directory beside the state root with a
/// victim file, a directory, and files an archive might want to read (a manifest tagging
/// `fromhost:1`, the image's layer).
struct Host {
    dir: PathBuf,
}

impl Host {
    fn new(parent: &Path, image: &Image) -> Host {
        let dir = parent.join("marker");
        fs::create_dir_all(dir.join("dir")).unwrap();
        fs::write(dir.join("victim"), b"original\n").unwrap();
        fs::write(dir.join("manifest.json"), image.manifest("fromhost:1")).unwrap();
        fs::write(dir.join("layer.tar"), &image.layer).unwrap();
        Host { dir }
    }

    /// An absolute path into the host.
    fn abs(&self, rel: &str) -> String {
        let dir = self.dir.to_string_lossy().into_owned();
        if rel.is_empty() {
            dir
        } else {
            format!("{dir}/{rel}")
        }
    }

    /// A relative path that climbs from the staging directory an extraction would write to
    /// (`<root>/tmp/<staging>/archive`) up beside the state root and into the host.
    fn climb(&self, ups: usize, rel: &str) -> String {
        let name = self.dir.parent().unwrap().file_name().unwrap();
        let climb = format!("{}{}/marker", "../".repeat(ups), name.to_string_lossy());
        if rel.is_empty() {
            climb
        } else {
            format!("{climb}/{rel}")
        }
    }

    /// Everything in the directory holding the host but a state root there, described
    /// without following links.
    fn snapshot(&self) -> BTreeMap<PathBuf, Node> {
        let mut all = describe(self.dir.parent().unwrap());
        all.retain(|path, _| !path.starts_with("root"));
        all
    }
}

/// dokles with a state root, the host beside it (in its work directory) and a place for
/// archives elsewhere.
struct World {
    d: Dokles,
    host: Host,
    image: Image,
    archives: tempfile::TempDir,
}

impl World {
    fn new() -> World {
        let d = Dokles::new();
        d.ok(&["images", "-q"]);
        let image = Image::new();
        let host = Host::new(d.work(), &image);
        World {
            d,
            host,
            image,
            archives: tempfile::tempdir().unwrap(),
        }
    }

    /// `load -i` of the archive of `entries`; checks that the host and the state root's
    /// staging are as they were, and on failure that the store is too.
    #[track_caller]
    fn load(&self, case: &str, entries: &[E]) -> common::Output {
        let path = self.archives.path().join(format!("{case}.tar"));
        fs::write(&path, tar(entries)).unwrap();
        let host = self.host.snapshot();
        let store = store_files(&self.d.root());
        let out = self.d.run(&["load", "-i", path.to_str().unwrap()]);
        assert_eq!(self.host.snapshot(), host, "{case}: the host changed");
        assert_eq!(self.d.staging_entries(), Vec::<String>::new(), "{case}");
        if out.code != 0 {
            assert_eq!(out.stdout, "", "{case}");
            assert_eq!(
                store_files(&self.d.root()),
                store,
                "{case}: a failed load changed the store"
            );
        }
        out
    }

    /// The archive: the image's own entries with `extra` appended.
    fn appended(&self, extra: Vec<E>) -> Vec<E> {
        let mut entries = self.image.entries();
        entries.extend(extra);
        entries
    }
}

/// Every file of the state root but its journal, lock and staging, with its content
/// (directories without their times).
fn store_files(root: &Path) -> BTreeMap<PathBuf, Node> {
    let mut files = describe(root);
    files.retain(|p, _| {
        !["events.jsonl", "lock", "tmp"]
            .iter()
            .any(|s| p.starts_with(s))
    });
    for node in files.values_mut().filter(|n| n.kind == "dir") {
        node.mtime = 0;
    }
    files
}

/// Docker's message for a refused archive: its tar process failing, with Go's error.
fn untar(go_error: &str) -> String {
    format!("Error processing tar file(exit status 1): {go_error}\n")
}

#[test]
fn the_three_tricks_of_the_issue_fail_as_dockers_load_and_touch_nothing() {
    let w = World::new();
    let host = |rel: &str| w.host.abs(rel);
    // A file beneath a symbolic link out of the archive: Docker's chroot has no such place.
    let out = w.load(
        "beneath",
        &w.appended(vec![symlink("x", &host("")), file("x/new", b"pwned\n")]),
    );
    assert_eq!(
        out.fails(1),
        untar("open /x/new: no such file or directory")
    );
    // Directories beneath one.
    let out = w.load(
        "directories",
        &w.appended(vec![symlink("d", &host("")), dir("d/newdir/deeper/")]),
    );
    assert_eq!(out.fails(1), untar("mkdir /d: file exists"));
    // A file over a symbolic link to a host file replaces the link, inside the archive.
    let out = w.load(
        "over",
        &w.appended(vec![
            symlink("v", &host("victim")),
            file("v", b"clobbered\n"),
        ]),
    );
    assert_eq!(out.ok(), "Loaded image: hostile:1\n");
    assert_eq!(w.d.id_of("hostile:1"), w.image.id());
}

#[test]
fn variants_of_the_tricks_touch_nothing_either() {
    let w = World::new();
    let host = |rel: &str| w.host.abs(rel);
    let climb = |rel: &str| w.host.climb(4, rel);
    let refused: Vec<(&str, Vec<E>, String)> = vec![
        (
            "relative symlink out",
            vec![symlink("x", &climb("")), file("x/new", b"pwned\n")],
            untar("open /x/new: no such file or directory"),
        ),
        (
            "symlink chain",
            vec![
                symlink("x", &host("")),
                symlink("y", "x"),
                file("y/chain", b"pwned\n"),
            ],
            untar("open /y/chain: no such file or directory"),
        ),
        (
            "symlink loop",
            vec![
                symlink("l1", "l2"),
                symlink("l2", "l1"),
                file("l1/x", b"pwned\n"),
            ],
            untar("open /l1/x: too many levels of symbolic links"),
        ),
        (
            "hard link to a host file",
            vec![hardlink("h", &host("victim"))],
            untar(&format!(
                "link {} /h: no such file or directory",
                host("victim")
            )),
        ),
        (
            "hard link climbing out",
            vec![hardlink("h", &climb("victim"))],
            untar(&format!(
                "link /{} /h: no such file or directory",
                climb("victim").trim_start_matches("../")
            )),
        ),
        (
            "hard link through a symlink out",
            vec![symlink("s", &host("")), hardlink("h", "s/victim")],
            untar("link /s/victim /h: no such file or directory"),
        ),
        (
            "hard link to a directory",
            vec![hardlink("h", "layer")],
            untar("link /layer /h: operation not permitted"),
        ),
        (
            "file beneath a file",
            vec![file("manifest.json/x", b"pwned\n")],
            untar("open /manifest.json/x: not a directory"),
        ),
        (
            "a directory gone before its time is set",
            vec![dir("d/e/f/"), symlink("d", &host(""))],
            untar("chtimes /d/e/f: no such file or directory"),
        ),
        (
            "unhandled type",
            vec![E {
                ty: tar::EntryType::new(b'7'),
                ..file("contiguous", b"x")
            }],
            untar("unhandled tar header type 55"),
        ),
    ];
    for (case, extra, expected) in refused {
        let out = w.load(case, &w.appended(extra));
        assert_eq!(out.fails(1), expected, "{case}");
    }

    // Entries that stay inside the archive load as Docker loads them.
    let loaded: Vec<(&str, Vec<E>)> = vec![
        ("absolute name", vec![file(&host("abs"), b"inside\n")]),
        ("climbing name", vec![file(&climb("pwned"), b"inside\n")]),
        (
            "link to the archive's root",
            vec![symlink("s", "/"), hardlink("h", "s")],
        ),
        ("fifo", vec![fifo("p")]),
        (
            "symlink to a host directory",
            vec![symlink("z", &host("dir"))],
        ),
    ];
    for (case, extra) in loaded {
        let out = w.load(case, &w.appended(extra));
        assert_eq!(out.ok(), "Loaded image: hostile:1\n", "{case}");
    }
}

#[test]
fn an_archive_cannot_make_load_read_host_files() {
    let w = World::new();
    let host = |rel: &str| w.host.abs(rel);
    // The host holds a manifest tagging `fromhost:1`; the archive's own is replaced by a link to it.
    let out = w.load(
        "manifest from the host",
        &w.appended(vec![symlink("manifest.json", &host("manifest.json"))]),
    );
    assert!(out.fails(1).contains("neither a manifest.json"), "{out:?}");
    // The layer replaced by a link to a copy of it on the host.
    let out = w.load(
        "layer from the host",
        &w.appended(vec![symlink("layer/layer.tar", &host("layer.tar"))]),
    );
    assert_eq!(
        out.fails(1),
        "Error response from daemon: layer/layer.tar is missing from the archive\n"
    );
    assert_eq!(w.d.run(&["image", "inspect", "fromhost:1"]).code, 1);
}

#[test]
fn hostile_entries_before_the_images_own_fail_as_dockers_load() {
    // A link planted first makes the archive's own file land beneath it.
    let w = World::new();
    let mut entries = vec![symlink("layer", &w.host.abs(""))];
    entries.extend(w.image.entries());
    let out = w.load("planted", &entries);
    assert_eq!(
        out.fails(1),
        untar("open /layer/layer.tar: no such file or directory")
    );
}

#[test]
fn duplicates_replace_earlier_entries_inside_the_archive() {
    let w = World::new();
    let host = |rel: &str| w.host.abs(rel);
    // Links to host files first, then the archive's own files of the same names: each
    // replaces its link, as in Docker's extraction, and writes nothing through it.
    let mut entries = vec![
        symlink("manifest.json", &host("manifest.json")),
        symlink("layer", &host("dir")),
    ];
    entries.extend([dir("layer/")]);
    entries.extend(w.image.entries());
    let out = w.load("links first", &entries);
    assert_eq!(out.ok(), "Loaded image: hostile:1\n");
    // A second manifest wins.
    let second = w.image.manifest("second:1");
    let out = w.load(
        "second manifest",
        &w.appended(vec![file("manifest.json", &second)]),
    );
    assert_eq!(out.ok(), "Loaded image: second:1\n");
}

#[test]
fn a_second_layer_of_the_same_name_wins() {
    let w = World::new();
    let other = tar(&[file("hello", b"not the layer the config names\n")]);
    let mut entries = vec![symlink("layer/layer.tar", &w.host.abs("layer.tar"))];
    entries.extend(w.image.entries());
    entries.push(file("layer/layer.tar", &other));
    let out = w.load("second layer", &entries);
    assert!(out.fails(1).contains("invalid diffID for layer"), "{out:?}");
}

#[test]
fn sparse_members_of_the_archive_are_refused() {
    let w = World::new();
    let out = w.load(
        "gnu sparse member",
        &w.appended(vec![gnu_sparse("blob", TEBIBYTE, b"tail")]),
    );
    assert_eq!(out.fails(1), untar("unhandled tar header type 83"));
    let pax_sparse = file("GNUSparseFile.0/blob", b"1\n0\n4\n")
        .pax("GNU.sparse.major", b"1")
        .pax("GNU.sparse.minor", b"0")
        .pax("GNU.sparse.realsize", TEBIBYTE.to_string().as_bytes());
    let out = w.load("pax sparse member", &w.appended(vec![pax_sparse]));
    assert!(out.fails(1).contains("is a sparse file"), "{out:?}");
}

#[test]
fn a_layer_claiming_a_sparse_terabyte_is_refused_at_load() {
    // Docker 20.10 reads the claimed terabyte of zeros (29 minutes of CPU on this machine)
    // before it refuses the layer with these words; dokles' dry run refuses at the header.
    let w = World::new();
    let layer = tar(&[
        file("small", b"x"),
        gnu_sparse("huge", TEBIBYTE, b"the last bytes"),
    ]);
    let image = Image::with_layer(layer);
    let started = Instant::now();
    let out = w.load("sparse layer", &image.entries());
    assert_eq!(out.fails(1), untar("unhandled tar header type 83"));
    assert!(started.elapsed() < Duration::from_secs(20));
    assert_eq!(w.d.layer_dirs(), Vec::<String>::new());

    // The PAX form, which Docker expands by writing every hole out.
    let mut data = b"1\n0\n4\n".to_vec();
    data.resize(512, 0);
    data.extend_from_slice(b"tail");
    let layer = tar(&[file("GNUSparseFile.0/huge", &data)
        .pax("GNU.sparse.major", b"1")
        .pax("GNU.sparse.minor", b"0")
        .pax("GNU.sparse.realsize", TEBIBYTE.to_string().as_bytes())]);
    let out = w.load("pax sparse layer", &Image::with_layer(layer).entries());
    assert!(
        out.fails(1)
            .contains("is a sparse file (GNU.sparse PAX records)"),
        "{out:?}"
    );
    assert_eq!(w.d.layer_dirs(), Vec::<String>::new());
}

// ---------------------------------------------------------------------------------------------
// Generated archives
// ---------------------------------------------------------------------------------------------

/// A small deterministic generator (xorshift64*), so every failure names a reproducible seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick(&mut self, items: &[String]) -> String {
        items[self.below(items.len())].clone()
    }
}

/// Random archives over the image's own names, names and links into the host (absolute and
/// climbing), `..`, duplicates, in random order: the host never changes, staging never
/// outlives the load, and each load either loads or fails cleanly.
#[test]
fn generated_archives_never_reach_the_host() {
    use dokles::engine::image::load::load;
    use dokles::engine::image::store::ImageStore;
    use dokles::state::StateRoot;

    let world = tempfile::tempdir().unwrap();
    let root = StateRoot::open(world.path().join("root")).unwrap();
    let store = ImageStore::open(&root);
    let image = Image::new();
    let host = Host::new(world.path(), &image);
    let before = host.snapshot();
    let second = image.manifest("second:1");

    // Names entries are made at, and targets links point to.
    let mut names: Vec<String> = [
        "x",
        "v",
        "d",
        "y",
        "x/new",
        "v/w",
        "d/newdir/deeper",
        "x/new/deeper",
        "y/a/b",
        "layer",
        "layer/layer.tar",
        "layer/x/y",
        "manifest.json",
        "./x/../v",
        "../x",
        "/abs",
    ]
    .map(String::from)
    .to_vec();
    names.push(image.config_name.clone());
    for ups in 3..=5 {
        names.push(host.climb(ups, "pwned"));
        names.push(host.climb(ups, "victim"));
    }
    names.push(host.abs("abs"));
    let mut targets: Vec<String> = ["", ".", "..", "/", "x", "y", "layer", "layer/layer.tar"]
        .map(String::from)
        .to_vec();
    targets.extend([
        host.abs(""),
        host.abs("victim"),
        host.abs("dir"),
        host.abs("layer.tar"),
    ]);
    for ups in 3..=6 {
        targets.push(host.climb(ups, ""));
        targets.push(host.climb(ups, "victim"));
    }
    targets.push(host.abs("manifest.json"));

    let mut outcomes = BTreeMap::<String, usize>::new();
    for seed in 1..=2000u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let mut entries = image.entries();
        for _ in 0..1 + rng.below(8) {
            let name = rng.pick(&names);
            let entry = match rng.below(12) {
                0..=2 => symlink(&name, &rng.pick(&targets)),
                3 => hardlink(&name, &rng.pick(&targets)),
                4 | 5 => dir(&format!("{name}/")),
                6 | 7 => file(&name, b"pwned\n"),
                8 => file("manifest.json", &second),
                9 => file(&name, &image.layer),
                10 => fifo(&name),
                _ => gnu_sparse(&name, TEBIBYTE, b"tail"),
            };
            let at = rng.below(entries.len() + 1);
            entries.insert(at, entry);
        }
        let archive = tar(&entries);
        let result = std::panic::catch_unwind(|| load(&store, &archive[..]));
        let result = result.unwrap_or_else(|_| panic!("seed {seed}: {entries:?}"));
        assert_eq!(
            host.snapshot(),
            before,
            "seed {seed} reached the host: {entries:?}"
        );
        assert_eq!(
            common::list_dir(&root.join("tmp")),
            Vec::<String>::new(),
            "seed {seed} left staging"
        );
        let outcome = match result {
            Ok(_) => "loaded".to_owned(),
            Err(e) => {
                let message = e.to_string();
                match message.strip_prefix("Error processing tar file(exit status 1): ") {
                    Some(go) => format!("refused: {}", go.rsplit(": ").next().unwrap()),
                    None => "refused by dokles".to_owned(),
                }
            }
        };
        *outcomes.entry(outcome).or_default() += 1;
    }
    // The generator reaches the interesting cases, not just one of them.
    for kind in [
        "loaded",
        "refused by dokles",
        "refused: no such file or directory",
        "refused: not a directory",
        "refused: file exists",
        "refused: unhandled tar header type 83",
    ] {
        assert!(
            outcomes.get(kind).copied().unwrap_or(0) >= 5,
            "{kind}: {outcomes:?}"
        );
    }
}
