//! dokles and the real Docker Engine side by side: the same archives loaded into both must
//! list, show history and inspect alike; each one's `save` output must load into the other
//! (and run there); skopeo must read dokles' archives, and dokles the OCI layouts skopeo writes.
//!
//! These tests need a reachable Docker daemon and fail loudly without one. Every image they
//! put into Docker has a unique repository name and is removed again, even when a test fails.

mod common;
mod common_tty;

use std::path::Path;
use std::process::Command;

use common::{json, unique_name, ArchiveSpec, Dokles, Output};
use common_tty::Terminal;
use serde_json::Value;

/// Run the real docker CLI.
fn docker(args: &[&str]) -> Output {
    let out = Command::new("docker")
        .args(args)
        .env("TZ", "UTC")
        .output()
        .expect("the docker CLI is installed");
    Output {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        code: out.status.code().unwrap_or(-1),
    }
}

/// Images put into the real Docker by a test; removed on drop, pass or fail.
struct DockerImages {
    refs: Vec<String>,
}

impl DockerImages {
    /// Check that Docker answers; panics (never skips) if not.
    fn new() -> Self {
        let info = docker(&["info", "--format", "{{.ServerVersion}}"]);
        assert!(
            info.code == 0 && !info.stdout.trim().is_empty(),
            "these tests need a running Docker daemon (`docker info` failed): {info:?}"
        );
        Self { refs: Vec::new() }
    }

    fn track(&mut self, r: &str) {
        self.refs.push(r.to_string());
    }
}

impl Drop for DockerImages {
    fn drop(&mut self) {
        for r in &self.refs {
            let _ = docker(&["rmi", "-f", r]);
        }
    }
}

fn scratch() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("dokles-diff-")
        .tempdir()
        .unwrap()
}

/// Run the same docker arguments against both and require equal stdout, stderr and exit code.
#[track_caller]
fn same(d: &Dokles, args: &[&str]) -> String {
    let ours = d.run(args);
    let theirs = docker(args);
    assert_eq!(
        (ours.code, &ours.stderr, &ours.stdout),
        (theirs.code, &theirs.stderr, &theirs.stdout),
        "`docker {}` differs (left: dokles, right: Docker)",
        args.join(" ")
    );
    ours.stdout
}

/// As [`same`] for `images`, whose rows Docker's CLI groups by repository in Go map order
/// (random between runs): the rows are compared as a set, the header as is.
#[track_caller]
fn same_images(d: &Dokles, args: &[&str]) {
    let sorted = |o: Output| {
        let mut lines: Vec<String> = o.stdout.lines().map(str::to_string).collect();
        let body = if args.contains(&"-q") || args.contains(&"--format") {
            &mut lines[..]
        } else {
            &mut lines[1..]
        };
        body.sort();
        (o.code, o.stderr, lines)
    };
    assert_eq!(
        sorted(d.run(args)),
        sorted(docker(args)),
        "`docker {}` differs (left: dokles, right: Docker)",
        args.join(" ")
    );
}

/// `image inspect` output with what legitimately differs between engines blanked: the layer
/// directories on the host and the engine version that wrote the config.
fn comparable_inspect(text: &str) -> String {
    let mut v = json(text);
    for img in v.as_array_mut().unwrap() {
        let o = img.as_object_mut().unwrap();
        if let Some(data) = o
            .get_mut("GraphDriver")
            .and_then(|g| g.get_mut("Data"))
            .and_then(Value::as_object_mut)
        {
            for (_, path) in data.iter_mut() {
                *path = Value::String("<host path>".into());
            }
        }
    }
    serde_json::to_string_pretty(&v).unwrap()
}

/// Write an archive with unique repository names (and a unique base layer) for one test.
fn unique_archive(dir: &Path, tags: &[&str]) -> (std::path::PathBuf, String, Vec<String>) {
    let repo = unique_name("dokles-diff");
    let tags: Vec<String> = tags.iter().map(|t| format!("{repo}{t}")).collect();
    let tag_refs: Vec<&str> = tags.iter().map(String::as_str).collect();
    let path = dir.join("image.tar");
    let id = ArchiveSpec::new(&tag_refs, "differential\n")
        .label("org.dokles.diff", &repo)
        .salt(&repo)
        .write(&path);
    (path, id, tags)
}

#[test]
fn loading_the_same_archive_gives_the_same_images_history_and_inspect() {
    let mut guard = DockerImages::new();
    let t = scratch();
    let (archive, id, tags) = unique_archive(t.path(), &[":1", "-other:latest"]);
    for tag in &tags {
        guard.track(tag);
    }
    let d = Dokles::new();
    let a = archive.to_str().unwrap();
    same(&d, &["load", "-i", a]);

    let repo = tags[0].trim_end_matches(":1");
    same_images(&d, &["images", repo]);
    same_images(&d, &["images", "--no-trunc", repo]);
    same_images(&d, &["images", "--digests", &tags[1]]);
    same_images(&d, &["images", "-q", repo]);
    let reference = format!("reference={repo}*");
    same_images(&d, &["images", "--filter", &reference]);
    same_images(
        &d,
        &[
            "images",
            "--filter",
            &reference,
            "--filter",
            "label=org.dokles.test",
        ],
    );
    same_images(
        &d,
        &[
            "images",
            "--format",
            "{{.Repository}}|{{.Tag}}|{{.ID}}|{{.Size}}|{{.CreatedAt}}|{{.CreatedSince}}",
            repo,
        ],
    );

    for image in [tags[0].as_str(), id.as_str()] {
        same(&d, &["history", image]);
        same(&d, &["history", "--no-trunc", image]);
        same(&d, &["history", "-H=false", image]);
        same(&d, &["history", "-q", image]);
        same(
            &d,
            &[
                "history",
                "--format",
                "{{.ID}}|{{.CreatedAt}}|{{.CreatedBy}}|{{.Size}}|{{.Comment}}",
                image,
            ],
        );
    }

    let ours = d.ok(&["image", "inspect", &tags[0]]);
    let theirs = docker(&["image", "inspect", &tags[0]]);
    assert_eq!(theirs.code, 0, "{theirs:?}");
    assert_eq!(
        comparable_inspect(&ours),
        comparable_inspect(&theirs.stdout)
    );
    same(
        &d,
        &[
            "image",
            "inspect",
            "-f",
            "{{.Id}} {{.Size}} {{.Os}} {{.Architecture}} {{json .RepoTags}}",
            &tags[1],
        ],
    );
}

#[test]
fn output_formats_filters_and_flag_values_match() {
    let mut guard = DockerImages::new();
    let t = scratch();
    let (archive, _, tags) = unique_archive(t.path(), &[":1", ":2"]);
    for tag in &tags {
        guard.track(tag);
    }
    let d = Dokles::new();
    same(&d, &["load", "-i", archive.to_str().unwrap()]);
    let repo = tags[0].trim_end_matches(":1");
    let reference = format!("reference={repo}");

    // A row per tag, also for -q: the ID shows twice.
    same_images(&d, &["images", "-q", repo]);
    same_images(&d, &["images", "--format", "json", repo]);
    same_images(&d, &["images", "--format", "json", "-q", repo]);
    same_images(&d, &["images", "--format", "{{.ID}}", "-q", repo]);
    same(&d, &["images", "--format", "raw", &tags[0]]);
    same(&d, &["images", "--format", "raw", "--digests", &tags[0]]);
    same_images(&d, &["images", "--format", "raw", "-q", repo]);
    same(
        &d,
        &["images", "--format", "table {{.VirtualSize}}", &tags[0]],
    );
    same_images(&d, &["images", "", "--filter", &reference]);
    // Any dangling=true wins; only true and false are values.
    same_images(
        &d,
        &[
            "images",
            "--filter",
            &reference,
            "--filter",
            "dangling=false",
        ],
    );
    same_images(
        &d,
        &[
            "images",
            "--filter",
            &reference,
            "--filter",
            "dangling=true",
            "--filter",
            "dangling=false",
        ],
    );
    same(&d, &["images", "--filter", "dangling=1"]);
    same(&d, &["images", "--filter", "reference=[bad"]);

    // Bool flags take Go's bool spellings after `=`.
    same_images(&d, &["images", "-q=true", repo]);
    same_images(&d, &["images", "--quiet=1", "--all=false", repo]);
    same_images(&d, &["images", "-aq=T", repo]);
    same(&d, &["history", "-H=0", &tags[0]]);
    same(&d, &["history", "--no-trunc=True", "-q", &tags[0]]);
    same(&d, &["history", "-H=maybe", &tags[0]]);
    same(&d, &["images", "--all=maybe"]);

    same(&d, &["history", "--format", "json", &tags[0]]);
    let ours = d.ok(&["image", "inspect", "-f", "", &tags[0]]);
    let theirs = docker(&["image", "inspect", "-f", "", &tags[0]]);
    assert_eq!(
        comparable_inspect(&ours),
        comparable_inspect(&theirs.stdout)
    );
    let ours = d.ok(&["image", "inspect", "-f", "json", &tags[0], &tags[1]]);
    let theirs = docker(&["image", "inspect", "-f", "json", &tags[0], &tags[1]]);
    assert_eq!(ours.lines().count(), 1, "{ours}");
    assert_eq!(
        comparable_inspect(&ours),
        comparable_inspect(&theirs.stdout)
    );
    // A template sees the client's Go struct: `json` marshals it with its json tags (`Id`),
    // omitempty and RFC 3339 times, while fields print as Go prints them.
    let ours = d.ok(&["image", "inspect", "-f", "{{json .}}", &tags[0]]);
    let theirs = docker(&["image", "inspect", "-f", "{{json .}}", &tags[0]]);
    assert_eq!(
        comparable_inspect(&format!("[{ours}]")),
        comparable_inspect(&format!("[{}]", theirs.stdout))
    );
    same(
        &d,
        &[
            "image",
            "inspect",
            "-f",
            "{{json .Metadata}} {{.Metadata.LastTagTime}} {{json .Config}} {{.ID}} {{json .Id}}",
            &tags[0],
        ],
    );
    // Fields the 20.10 daemon does not send are zero values of the client's struct.
    same(
        &d,
        &[
            "image",
            "inspect",
            "-f",
            "{{.Config.ExposedPorts}}|{{.Config.ArgsEscaped}}|{{.Config.StopSignal}}|{{.Config.Shell}}|{{.Variant}}|{{.OsVersion}}|{{.Descriptor}}|{{.Manifests}}|{{.ContainerConfig.ExposedPorts}}|{{.Config.Labels.nope}}",
            &tags[0],
        ],
    );
    same(
        &d,
        &["image", "inspect", "-f", "{{.Config.Nope}}", &tags[0]],
    );
}

#[test]
fn tag_and_rmi_print_the_same_lines() {
    let mut guard = DockerImages::new();
    let t = scratch();
    let (archive, id, tags) = unique_archive(t.path(), &[":1"]);
    let repo = tags[0].trim_end_matches(":1").to_string();
    let second = format!("{repo}-second:2");
    let third = format!("{repo}:3");
    for r in [&tags[0], &second, &third] {
        guard.track(r);
    }
    let d = Dokles::new();
    same(&d, &["load", "-i", archive.to_str().unwrap()]);
    same(&d, &["tag", &tags[0], &second]);
    same(&d, &["tag", &id, &third]);
    same_images(&d, &["images", "--filter", &format!("reference={repo}*")]);
    // In two repositories now: removing by ID needs -f.
    same(&d, &["rmi", &common::short(&id)]);
    same(&d, &["rmi", &third]);
    same(&d, &["rmi", &second, &format!("{repo}:nope")]);
    // The last tag: the image and its (unique) layers go.
    same(&d, &["rmi", &tags[0]]);
    same_images(&d, &["images", "-q", &repo]);
    same(&d, &["rmi", &tags[0]]);
}

#[test]
fn error_texts_and_exit_codes_match() {
    let _guard = DockerImages::new();
    let d = Dokles::new();
    let missing = unique_name("dokles-diff-missing");
    let missing_tag = format!("{missing}:1");
    for args in [
        vec!["rmi", missing.as_str()],
        vec!["rmi", "-f", missing.as_str()],
        vec!["rmi", "-f", "BAD"],
        vec!["rmi"],
        vec!["image", "rm"],
        vec!["rmi", "--bogus", "x"],
        vec!["images", "--bogus"],
        vec!["images", "a", "b"],
        vec!["images", "--filter", "xx"],
        vec!["images", "--filter", "foo=bar"],
        vec!["images", "--filter", "dangling=maybe"],
        vec!["image", "ls", "-f", "xx"],
        vec!["tag", "a"],
        vec!["tag", missing.as_str(), "x"],
        vec!["history"],
        vec!["history", missing.as_str()],
        vec!["image", "history", "-z", "x"],
        vec!["image", "inspect", missing.as_str()],
        vec!["image", "inspect", "-f", "{{.Id}}", missing.as_str()],
        vec!["inspect", missing.as_str()],
        vec!["inspect", "-f", "{{.Id}}", missing.as_str()],
        vec!["save", "-o", "/tmp/never-written.tar", missing.as_str()],
        vec!["save", "-o", "/tmp/never-written.tar", &missing_tag],
        vec!["save", "-o", "/tmp/never-written.tar", "sha256:0000"],
        vec!["save", "-o", "/nonexistent/dir/x.tar", missing.as_str()],
        vec!["save", "-o", "/dev/null", missing.as_str()],
        vec!["load", "extra"],
        vec!["load", "-i", "/nonexistent/archive.tar"],
        vec!["image", "load", "-i"],
        vec!["image", "prune", "x"],
        vec!["image", "prune", "--filter", "xx"],
        vec!["image", "prune", "-f", "--filter", "until=bogus"],
        vec!["image", "prune", "-f", "--filter", "reference=x"],
        vec![
            "image", "prune", "-f", "--filter", "until=1h", "--filter", "until=2h",
        ],
        vec!["import"],
        vec!["import", "/nonexistent.tar"],
        vec!["inspect", "--type", "bogus", "x"],
        vec!["image", "inspect", "--size", "x"],
        vec!["images", "--format", "table", "-q", missing.as_str()],
        vec!["pull"],
        vec!["pull", "a", "b"],
        vec!["pull", "BAD"],
        vec!["pull", "-a", "x:1"],
        vec!["pull", "--bogus", "x"],
        vec!["images", "-xyz"],
        vec!["images", "-qx"],
        // Invalid references, worded by the 20.10 daemon or the client as Docker's.
        vec!["history", "BadName"],
        vec!["save", "BadName"],
        vec!["image", "inspect", "BadName"],
        vec!["inspect", "--type", "image", "BadName"],
        vec!["inspect", "BadName"],
        vec!["image", "inspect", "x:"],
        vec!["inspect", "x:"],
        vec!["history", ""],
        vec!["rmi", ""],
        vec!["rmi", "-f", ""],
        vec!["image", "inspect", ""],
        vec!["inspect", ""],
        vec!["container", "inspect", ""],
        vec!["pull", "BadName"],
    ] {
        same(&d, &args);
    }
    // Archives that are no tar, or are cut short, fail in the daemon's tar process.
    let t = scratch();
    let junk = t.path().join("junk.tar");
    std::fs::write(&junk, "this is not a tar archive\n").unwrap();
    let cut = t.path().join("cut.tar.gz");
    let whole = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/images/busybox.tar.gz"
    ))
    .unwrap();
    std::fs::write(&cut, &whole[..10_000]).unwrap();
    same(&d, &["load", "-i", junk.to_str().unwrap()]);
    same(&d, &["load", "-i", cut.to_str().unwrap()]);
}

#[test]
fn tag_refuses_an_uppercase_name_like_docker() {
    let mut guard = DockerImages::new();
    let t = scratch();
    let (archive, _, tags) = unique_archive(t.path(), &[":1"]);
    guard.track(&tags[0]);
    let d = Dokles::new();
    same(&d, &["load", "-i", archive.to_str().unwrap()]);
    same(&d, &["tag", &tags[0], "BAD"]);
    same(&d, &["tag", &tags[0], "bad name"]);
    // The client parses with Docker 28's rules, the daemon with 20.10's: an uppercase first
    // component is a registry to the one and a repository to the other.
    same(&d, &["tag", &tags[0], "UPPER/x:1"]);
    same(&d, &["tag", &tags[0], "local.host/X"]);
    same(&d, &["tag", "UPPERsrc", "x"]);
    same(&d, &["tag", "UPPER/src", "x"]);
    // Names that look like IDs or digest algorithms are refused.
    let hex = "a".repeat(64);
    same(&d, &["tag", &tags[0], &hex]);
    same(&d, &["tag", &tags[0], &format!("sha256:{hex}")]);
    same(&d, &["tag", &tags[0], "sha256:abc"]);
    same(&d, &["tag", &tags[0], "sha256"]);
    same(&d, &["tag", &hex, "x"]);
    same(&d, &["tag", &tags[0], &format!("x@sha256:{hex}")]);
}

#[test]
fn dokles_save_loads_into_docker_and_runs_there() {
    let mut guard = DockerImages::new();
    let t = scratch();
    let (archive, id, tags) = unique_archive(t.path(), &[":1"]);
    guard.track(&tags[0]);
    let d = Dokles::new();
    d.load(&archive);
    let saved = t.path().join("from-dokles.tar");
    d.ok(&["save", "-o", saved.to_str().unwrap(), &tags[0]]);

    let loaded = docker(&["load", "-i", saved.to_str().unwrap()]);
    assert_eq!(loaded.code, 0, "{loaded:?}");
    assert_eq!(loaded.stdout, format!("Loaded image: {}\n", tags[0]));
    assert_eq!(
        docker(&["image", "inspect", "-f", "{{.Id}}", &tags[0]]).stdout,
        format!("{id}\n")
    );
    let run = docker(&["run", "--rm", "--network", "none", &tags[0], "echo", "ok"]);
    assert_eq!((run.code, run.stdout.as_str()), (0, "ok\n"), "{run:?}");
    let run = docker(&[
        "run",
        "--rm",
        "--network",
        "none",
        &tags[0],
        "cat",
        "/etc/motd",
    ]);
    assert_eq!(run.stdout, "differential\n", "{run:?}");
    same(&d, &["history", "--no-trunc", &tags[0]]);
}

#[test]
fn docker_save_loads_into_dokles() {
    let mut guard = DockerImages::new();
    let t = scratch();
    let (archive, id, tags) = unique_archive(t.path(), &[":1", ":2"]);
    for tag in &tags {
        guard.track(tag);
    }
    assert_eq!(docker(&["load", "-i", archive.to_str().unwrap()]).code, 0);
    let saved = t.path().join("from-docker.tar");
    let out = docker(&["save", "-o", saved.to_str().unwrap(), &tags[0], &tags[1]]);
    assert_eq!(out.code, 0, "{out:?}");

    let d = Dokles::new();
    let loaded = d.load(&saved);
    let mut lines: Vec<&str> = loaded.lines().collect();
    lines.sort();
    assert_eq!(
        lines,
        [
            format!("Loaded image: {}", tags[0]),
            format!("Loaded image: {}", tags[1])
        ]
    );
    assert_eq!(d.id_of(&tags[1]), id);
    let repo = tags[0].trim_end_matches(":1");
    same_images(&d, &["images", repo]);
    same(&d, &["history", &tags[0]]);
    let ours = d.ok(&["image", "inspect", &tags[0]]);
    let theirs = docker(&["image", "inspect", &tags[0]]).stdout;
    assert_eq!(comparable_inspect(&ours), comparable_inspect(&theirs));
}

/// `import -c` accepts what moby's `validCommitCommands` allows (HEALTHCHECK yes, STOPSIGNAL
/// no) and reads HEALTHCHECK as the Dockerfile parser does.
#[test]
fn import_changes_are_checked_and_applied_like_docker() {
    let mut guard = DockerImages::new();
    let t = scratch();
    let tar = common::busybox_rootfs_tar(t.path());
    let tar = tar.to_str().unwrap();
    let tag = format!("{}:hc", unique_name("dokles-diff"));
    guard.track(&tag);
    let d = Dokles::new();
    for change in [
        "STOPSIGNAL SIGKILL",
        "RUN echo",
        "HEALTHCHECK",
        "HEALTHCHECK CMD",
        "HEALTHCHECK NONE x",
        "HEALTHCHECK --bogus=1 CMD true",
        "HEALTHCHECK --retries=0 CMD true",
    ] {
        same(&d, &["import", "-c", change, tar, &tag]);
    }
    // Arguments after the repository are ignored; a bad one still fails first.
    same(&d, &["import", tar, "BAD", "extra"]);
    let change = "HEALTHCHECK --interval=5s --retries=2 CMD true";
    let ours = d.run(&["import", "-c", change, tar, &tag]);
    let theirs = docker(&["import", "-c", change, tar, &tag]);
    assert_eq!((ours.code, theirs.code), (0, 0), "{ours:?} {theirs:?}");
    same(&d, &["image", "inspect", "-f", "{{json .Config}}", &tag]);
}

#[test]
fn docker_save_of_an_imported_image_loads_into_dokles() {
    let mut guard = DockerImages::new();
    let t = scratch();
    let tag = format!("{}:imported", unique_name("dokles-diff"));
    guard.track(&tag);
    let imported = docker(&[
        "import",
        "-c",
        "CMD [\"sh\"]",
        "-m",
        "from the test",
        common::busybox_rootfs_tar(t.path()).to_str().unwrap(),
        &tag,
    ]);
    assert_eq!(imported.code, 0, "{imported:?}");
    let saved = t.path().join("imported.tar");
    assert_eq!(
        docker(&["save", "-o", saved.to_str().unwrap(), &tag]).code,
        0
    );
    let d = Dokles::new();
    assert_eq!(d.load(&saved), format!("Loaded image: {tag}\n"));
    assert_eq!(d.id_of(&tag), imported.stdout.trim());
    // Imported images carry the engine's version; inspect agrees except for host paths and
    // the tag time (Docker's import records it, a load does not).
    let mut ours = json(&d.ok(&["image", "inspect", &tag]));
    let mut theirs = json(&docker(&["image", "inspect", &tag]).stdout);
    for v in [&mut ours, &mut theirs] {
        v[0]["GraphDriver"]["Data"] = Value::Null;
        v[0]["Metadata"] = Value::Null;
    }
    assert_eq!(ours, theirs);
    // Imported just now: the CREATED column may tick between the two commands.
    assert_eq!(
        common::normalise(&d.ok(&["history", "--no-trunc", &tag])),
        common::normalise(&docker(&["history", "--no-trunc", &tag]).stdout)
    );
}

/// Tar up a directory's contents (as a student would with `tar -C dir -cf out .`).
fn tar_dir(dir: &Path, out: &Path) {
    let status = Command::new("tar")
        .arg("-C")
        .arg(dir)
        .arg("-cf")
        .arg(out)
        .arg(".")
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn skopeo_reads_dokles_archives_and_dokles_loads_skopeos_oci_layouts() {
    let _guard = DockerImages::new();
    let t = scratch();
    let (archive, id, tags) = unique_archive(t.path(), &[":1"]);
    let d = Dokles::new();
    d.load(&archive);
    let saved = t.path().join("saved.tar");
    d.ok(&["save", "-o", saved.to_str().unwrap(), &tags[0]]);

    let inspect = Command::new("skopeo")
        .arg("inspect")
        .arg(format!("docker-archive:{}", saved.display()))
        .output()
        .unwrap();
    assert!(
        inspect.status.success(),
        "skopeo inspect: {}",
        String::from_utf8_lossy(&inspect.stderr)
    );
    let v = json(&String::from_utf8_lossy(&inspect.stdout));
    assert_eq!(v["Architecture"], "amd64");
    assert_eq!(v["Os"], "linux");
    assert_eq!(v["Layers"].as_array().unwrap().len(), 2);
    assert_eq!(v["Labels"]["org.dokles.test"], "busybox");
    let raw_config = Command::new("skopeo")
        .args(["inspect", "--config", "--raw"])
        .arg(format!("docker-archive:{}", saved.display()))
        .output()
        .unwrap();
    assert_eq!(
        format!("sha256:{}", common::sha256_hex(&raw_config.stdout)),
        id,
        "the config skopeo reads is the image's config"
    );

    let oci = t.path().join("oci");
    let copy = Command::new("skopeo")
        .arg("copy")
        .arg(format!("docker-archive:{}", saved.display()))
        .arg(format!("oci:{}:{}", oci.display(), "v1"))
        .output()
        .unwrap();
    assert!(
        copy.status.success(),
        "skopeo copy: {}",
        String::from_utf8_lossy(&copy.stderr)
    );
    let oci_tar = t.path().join("oci.tar");
    tar_dir(&oci, &oci_tar);

    // skopeo rewrites the config as an OCI config (other key order), so the image ID in the
    // layout is the digest of that new config.
    let index = json(&std::fs::read_to_string(oci.join("index.json")).unwrap());
    let manifest_digest = index["manifests"][0]["digest"].as_str().unwrap();
    let manifest = json(
        &std::fs::read_to_string(oci.join("blobs/sha256").join(&manifest_digest[7..])).unwrap(),
    );
    let oci_id = manifest["config"]["digest"].as_str().unwrap().to_string();
    assert_eq!(
        manifest["layers"][0]["mediaType"],
        "application/vnd.oci.image.layer.v1.tar+gzip"
    );

    let e = Dokles::new();
    // skopeo names the manifest "v1", a bare tag without a repository: the image loads
    // untagged.
    assert_eq!(e.load(&oci_tar), format!("Loaded image ID: {oci_id}\n"));
    // Same layers (the diff IDs of the gzip-compressed blobs), same history, same size.
    let layers = "{{json .RootFS.Layers}} {{.Size}} {{.Created}}";
    assert_eq!(
        e.ok(&["image", "inspect", "-f", layers, &oci_id]),
        d.ok(&["image", "inspect", "-f", layers, &id])
    );
    let history = |x: &Dokles, image: &str| {
        x.ok(&[
            "history",
            "--no-trunc",
            "--format",
            "{{.CreatedBy}}|{{.Size}}|{{.Comment}}",
            image,
        ])
    };
    assert_eq!(history(&e, &oci_id), history(&d, &id));
    // And what dokles saves from it loads into a third root as the same image.
    let again = t.path().join("again.tar");
    e.ok(&["save", "-o", again.to_str().unwrap(), &oci_id]);
    let f = Dokles::new();
    assert_eq!(f.load(&again), format!("Loaded image ID: {oci_id}\n"));
}

/// The offline cache's own archives (what students pull) read the same in both engines.
#[test]
fn the_fixture_images_load_alike_in_both_engines() {
    let mut guard = DockerImages::new();
    let index: Vec<Value> = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fixtures/images/index.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let d = Dokles::new();
    for name in ["busybox", "hello-world", "python"] {
        let entry = index.iter().find(|e| e["name"] == name).unwrap();
        let archive = format!(
            "{}/fixtures/images/{}",
            env!("CARGO_MANIFEST_DIR"),
            entry["file"].as_str().unwrap()
        );
        for tag in entry["tags"].as_array().unwrap() {
            // The daemon is shared: remove afterwards only what this test added.
            let r = format!("{name}:{}", tag.as_str().unwrap());
            if docker(&["image", "inspect", "-f", "{{.Id}}", &r]).code != 0 {
                guard.track(&r);
            }
        }
        let id = entry["id"].as_str().unwrap();
        // An image Docker already had keeps the time it was last tagged there.
        let had = docker(&["image", "inspect", id]).code == 0;
        same(&d, &["load", "-i", &archive]);
        same_images(&d, &["images", name]);
        same(&d, &["history", id]);
        same(&d, &["history", "--no-trunc", id]);
        let ours = d.ok(&["image", "inspect", id]);
        let theirs = docker(&["image", "inspect", id]);
        assert_eq!(theirs.code, 0, "{theirs:?}");
        let comparable = |text: &str| {
            let text = comparable_inspect(text);
            match had {
                true => text
                    .lines()
                    .filter(|l| !l.contains("\"LastTagTime\""))
                    .collect::<Vec<_>>()
                    .join("\n"),
                false => text,
            }
        };
        assert_eq!(comparable(&ours), comparable(&theirs.stdout), "{name}");
    }
}

#[test]
fn load_on_a_terminal_shows_each_new_layer_as_docker() {
    let mut guard = DockerImages::new();
    let t = scratch();
    let (archive, _, tags) = unique_archive(t.path(), &[":1"]);
    guard.track(&tags[0]);
    let d = Dokles::new();
    let a = archive.to_str().unwrap();
    // On a 120-column terminal, each layer the engine did not have gets a full bar.
    let term = Terminal::new();
    let screen = |command: String| {
        term.clear();
        term.type_line(&format!("{command}; echo done-$?"));
        let shown = term.wait_for("done-0");
        shown
            .lines()
            .filter(|l| l.contains(": Loading layer") || l.starts_with("Loaded image"))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    let ours = format!("{} --root {} docker", common::binary(), d.root().display());
    let first = screen(format!("{ours} load -i {a}"));
    assert_eq!(first, screen(format!("docker load -i {a}")));
    assert_eq!(first.len(), 3, "two layers and the Loaded line: {first:?}");
    let bar = format!(": Loading layer [{}>] ", "=".repeat(50));
    assert!(first[0].contains(&bar), "{first:?}");
    // Loaded again: no layer is new, so no progress; -q never shows it.
    let again = screen(format!("{ours} load -i {a}"));
    assert_eq!(again, screen(format!("docker load -i {a}")));
    assert_eq!(again, [format!("Loaded image: {}", tags[0])]);
    let d2 = Dokles::new();
    let quiet = format!("{} --root {} docker", common::binary(), d2.root().display());
    assert_eq!(screen(format!("{quiet} load -q -i {a}")), again);
}
