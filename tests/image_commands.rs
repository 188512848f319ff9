//! The image commands of `dokles docker`, one behaviour per test, with the texts and exit
//! codes the real Docker CLI (client 28, engine 20.10) prints for the same command.
//!
//! Images are made offline from the host's busybox: `busybox_rootfs()` for `import`, and
//! [`ArchiveSpec`] docker-archives (two layers, a fixed config and history) for `load`.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{json, normalise, short, without_root, ArchiveSpec, Dokles};

/// A test's scratch directory for archives.
fn scratch() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("dokles-img-test-")
        .tempdir()
        .unwrap()
}

/// Write the archive described by `spec` into `dir`; returns (path, image ID).
fn archive(dir: &Path, file: &str, spec: ArchiveSpec) -> (PathBuf, String) {
    let path = dir.join(file);
    let id = spec.write(&path);
    (path, id)
}

/// Load a fresh two-tag image `app:1` / `other:latest`; returns its ID.
fn loaded(d: &Dokles, dir: &Path) -> String {
    let (a, id) = archive(
        dir,
        "app.tar",
        ArchiveSpec::new(&["app:1", "other:latest"], "app\n"),
    );
    d.load(&a);
    id
}

fn lines(s: &str) -> Vec<&str> {
    s.lines().collect()
}

// ---------------------------------------------------------------------------------------
// images / image ls

#[test]
fn images_on_an_empty_root_prints_only_the_header() {
    let d = Dokles::new();
    assert_eq!(
        d.ok(&["images"]),
        "REPOSITORY   TAG       IMAGE ID   CREATED   SIZE\n"
    );
}

#[test]
fn images_lists_each_tag_on_its_own_row_with_size_and_age() {
    let d = Dokles::new();
    let t = scratch();
    let id = loaded(&d, t.path());
    let s = short(&id);
    assert_eq!(
        d.ok(&["images"]),
        format!(
            "REPOSITORY   TAG       IMAGE ID       CREATED       SIZE\n\
             app          1         {s}   2 years ago   1.98MB\n\
             other        latest    {s}   2 years ago   1.98MB\n"
        )
    );
    assert_eq!(d.ok(&["image", "ls"]), d.ok(&["images"]));
    assert_eq!(d.ok(&["image", "list"]), d.ok(&["images"]));
}

#[test]
fn images_are_listed_newest_first() {
    let d = Dokles::new();
    let t = scratch();
    let (old, _) = archive(
        t.path(),
        "old.tar",
        ArchiveSpec::new(&["old:1"], "old\n").created("2020-05-01T00:00:00Z"),
    );
    let (new, _) = archive(
        t.path(),
        "new.tar",
        ArchiveSpec::new(&["new:1"], "new\n").created("2025-05-01T00:00:00Z"),
    );
    d.load(&old);
    d.load(&new);
    let out = d.ok(&["images", "--format", "{{.Repository}}"]);
    assert_eq!(out, "new\nold\n");
}

#[test]
fn images_quiet_prints_an_id_per_row_so_a_twice_tagged_image_shows_twice() {
    let d = Dokles::new();
    let t = scratch();
    let id = loaded(&d, t.path());
    let twice = format!("{0}\n{0}\n", short(&id));
    assert_eq!(d.ok(&["images", "-q"]), twice);
    assert_eq!(d.ok(&["images", "--quiet"]), twice);
    assert_eq!(d.ok(&["images", "-q", "app"]), format!("{}\n", short(&id)));
}

#[test]
fn images_no_trunc_shows_full_ids() {
    let d = Dokles::new();
    let t = scratch();
    let id = loaded(&d, t.path());
    let out = d.ok(&["images", "--no-trunc", "app"]);
    assert_eq!(
        lines(&out)[1],
        format!("app          1         {id}   2 years ago   1.98MB")
    );
    assert_eq!(
        d.ok(&["images", "-q", "--no-trunc"]),
        format!("{id}\n{id}\n")
    );
}

#[test]
fn images_digests_adds_a_digest_column() {
    let d = Dokles::new();
    let t = scratch();
    let id = loaded(&d, t.path());
    assert_eq!(
        d.ok(&["images", "--digests", "app"]),
        format!(
            "REPOSITORY   TAG       DIGEST    IMAGE ID       CREATED       SIZE\n\
             app          1         <none>    {}   2 years ago   1.98MB\n",
            short(&id)
        )
    );
}

#[test]
fn images_repository_argument_selects_a_repository_or_a_tag() {
    let d = Dokles::new();
    let t = scratch();
    loaded(&d, t.path());
    d.ok(&["tag", "app:1", "app:2"]);
    let repos = |args: &[&str]| {
        let mut a = vec!["images", "--format", "{{.Repository}}:{{.Tag}}"];
        a.extend_from_slice(args);
        d.ok(&a)
    };
    assert_eq!(repos(&["app"]), "app:1\napp:2\n");
    assert_eq!(repos(&["app:2"]), "app:2\n");
    assert_eq!(repos(&["nothing"]), "");
}

#[test]
fn images_accepts_at_most_one_repository() {
    let d = Dokles::new();
    // docker/cli's RequiresMaxArgs really prints "SRun".
    assert_eq!(
        d.run(&["images", "a", "b"]).fails(1),
        "docker: 'docker images' requires at most 1 argument\n\n\
         Usage:  docker images [OPTIONS] [REPOSITORY[:TAG]]\n\n\
         SRun 'docker images --help' for more information\n"
    );
}

#[test]
fn images_filter_dangling_selects_untagged_images() {
    let d = Dokles::new();
    let t = scratch();
    let tagged = loaded(&d, t.path());
    let (a, untagged) = archive(t.path(), "u.tar", ArchiveSpec::new(&[], "none\n"));
    assert_eq!(d.load(&a), format!("Loaded image ID: {untagged}\n"));
    assert_eq!(
        d.ok(&["images", "-q", "--filter", "dangling=true"]),
        format!("{}\n", short(&untagged))
    );
    assert_eq!(
        d.ok(&["images", "-q", "-f", "dangling=false"]),
        format!("{0}\n{0}\n", short(&tagged))
    );
    let out = d.ok(&["images", "--filter", "dangling=true"]);
    assert_eq!(
        lines(&out)[1],
        format!(
            "<none>       <none>    {}   2 years ago   1.98MB",
            short(&untagged)
        )
    );
}

#[test]
fn images_filter_reference_matches_globs_on_name_and_tag() {
    let d = Dokles::new();
    let t = scratch();
    loaded(&d, t.path());
    d.ok(&["tag", "app:1", "example.com/team/app:3.11"]);
    let refs = |pattern: &str| {
        d.ok(&[
            "images",
            "--format",
            "{{.Repository}}:{{.Tag}}",
            "--filter",
            &format!("reference={pattern}"),
        ])
    };
    assert_eq!(refs("app"), "app:1\n");
    assert_eq!(refs("a*"), "app:1\n");
    assert_eq!(refs("*:latest"), "other:latest\n");
    assert_eq!(refs("*/team/*:3.*"), "example.com/team/app:3.11\n");
    assert_eq!(refs("nope*"), "");
}

#[test]
fn images_filter_label_matches_key_or_key_and_value() {
    let d = Dokles::new();
    let t = scratch();
    loaded(&d, t.path());
    let (a, _) = archive(
        t.path(),
        "l.tar",
        ArchiveSpec::new(&["labelled:1"], "l\n")
            .label("tier", "web")
            .created("2025-01-01T00:00:00Z"),
    );
    d.load(&a);
    let names = |filter: &str| d.ok(&["images", "--format", "{{.Repository}}", "--filter", filter]);
    assert_eq!(names("label=tier"), "labelled\n");
    assert_eq!(names("label=tier=web"), "labelled\n");
    assert_eq!(names("label=tier=db"), "");
    assert_eq!(
        names("label=org.dokles.test=busybox"),
        "labelled\napp\nother\n"
    );
}

#[test]
fn images_filter_before_and_since_compare_creation_times() {
    let d = Dokles::new();
    let t = scratch();
    for (name, created) in [
        ("first:1", "2021-01-01T00:00:00Z"),
        ("second:1", "2022-01-01T00:00:00Z"),
        ("third:1", "2023-01-01T00:00:00Z"),
    ] {
        let (a, _) = archive(
            t.path(),
            &format!("{name}.tar"),
            ArchiveSpec::new(&[name], name).created(created),
        );
        d.load(&a);
    }
    let names = |filter: &str| d.ok(&["images", "--format", "{{.Repository}}", "-f", filter]);
    assert_eq!(names("before=second:1"), "first\n");
    assert_eq!(names("since=second:1"), "third\n");
    assert_eq!(
        d.run(&["images", "-f", "before=nope"]).fails(1),
        "Error response from daemon: No such image: nope:latest\n"
    );
}

#[test]
fn images_filter_errors_speak_dockers_language() {
    let d = Dokles::new();
    assert_eq!(
        d.run(&["images", "--filter", "foo=bar"]).fails(1),
        "Error response from daemon: Invalid filter 'foo'\n"
    );
    assert_eq!(
        d.run(&["images", "--filter", "dangling=maybe"]).fails(1),
        "Error response from daemon: Invalid filter 'dangling=[maybe]'\n"
    );
    assert_eq!(
        d.run(&["images", "--filter", "xx"]).fails(125),
        "invalid argument \"xx\" for \"-f, --filter\" flag: bad format of filter (expected name=value)\n\n\
         Usage:  docker images [OPTIONS] [REPOSITORY[:TAG]]\n\n\
         Run 'docker images --help' for more information\n"
    );
    assert!(d
        .run(&["image", "ls", "-f", "xx"])
        .fails(125)
        .contains("Usage:  docker image ls [OPTIONS] [REPOSITORY[:TAG]]"));
}

#[test]
fn images_format_renders_plain_lines_and_tables() {
    let d = Dokles::new();
    let t = scratch();
    let id = loaded(&d, t.path());
    assert_eq!(
        d.ok(&[
            "images",
            "--format",
            "{{.Repository}}:{{.Tag}} {{.ID}} {{.Size}}",
            "app"
        ]),
        format!("app:1 {} 1.98MB\n", short(&id))
    );
    assert_eq!(
        d.ok(&[
            "images",
            "--format",
            "table {{.Repository}}\\t{{.Tag}}",
            "app"
        ]),
        "REPOSITORY   TAG\napp          1\n"
    );
    assert_eq!(
        d.ok(&["images", "--format", "{{.CreatedAt}}", "app"]),
        "2024-01-02 03:04:05 +0000 UTC\n"
    );
    assert_eq!(
        d.ok(&["images", "--format", "{{json .Digest}}", "app"]),
        "\"<none>\"\n"
    );
}

// ---------------------------------------------------------------------------------------
// load / save

#[test]
fn load_prints_one_line_per_tag() {
    let d = Dokles::new();
    let t = scratch();
    let (a, _) = archive(
        t.path(),
        "a.tar",
        ArchiveSpec::new(&["app:1", "other:latest"], "x\n"),
    );
    assert_eq!(
        d.ok(&["load", "-i", a.to_str().unwrap()]),
        "Loaded image: app:1\nLoaded image: other:latest\n"
    );
    assert_eq!(
        d.ok(&["image", "load", "--input", a.to_str().unwrap()]),
        "Loaded image: app:1\nLoaded image: other:latest\n"
    );
}

#[test]
fn load_reads_stdin_when_no_input_is_given() {
    let d = Dokles::new();
    let t = scratch();
    let (a, id) = archive(t.path(), "a.tar", ArchiveSpec::new(&["app:1"], "x\n"));
    let out = d.run_stdin(&["load"], &fs::read(&a).unwrap());
    assert_eq!(out.ok(), "Loaded image: app:1\n");
    assert_eq!(d.id_of("app:1"), id);
}

#[test]
fn load_accepts_gzip_compressed_archives() {
    let d = Dokles::new();
    let t = scratch();
    let (a, id) = archive(t.path(), "a.tar", ArchiveSpec::new(&["app:1"], "x\n"));
    let gz = t.path().join("a.tar.gz");
    let mut enc =
        flate2::write::GzEncoder::new(fs::File::create(&gz).unwrap(), flate2::Compression::fast());
    std::io::copy(&mut fs::File::open(&a).unwrap(), &mut enc).unwrap();
    enc.finish().unwrap();
    d.load(&gz);
    assert_eq!(d.id_of("app:1"), id);
}

#[test]
fn load_of_an_untagged_image_prints_its_id() {
    let d = Dokles::new();
    let t = scratch();
    let (a, id) = archive(t.path(), "a.tar", ArchiveSpec::new(&[], "x\n"));
    assert_eq!(d.load(&a), format!("Loaded image ID: {id}\n"));
}

#[test]
fn load_moves_an_existing_tag_and_says_so() {
    let d = Dokles::new();
    let t = scratch();
    let (a, old) = archive(t.path(), "a.tar", ArchiveSpec::new(&["app:1"], "one\n"));
    let (b, new) = archive(t.path(), "b.tar", ArchiveSpec::new(&["app:1"], "two\n"));
    d.load(&a);
    assert_eq!(
        d.load(&b),
        format!(
            "The image app:1 already exists, renaming the old one with ID {old} to empty string\n\
             Loaded image: app:1\n"
        )
    );
    assert_eq!(d.id_of("app:1"), new);
    assert_eq!(
        d.ok(&["images", "-q", "--filter", "dangling=true"]),
        format!("{}\n", short(&old))
    );
}

#[test]
fn load_of_the_same_archive_twice_is_quiet_about_renaming() {
    let d = Dokles::new();
    let t = scratch();
    let (a, _) = archive(t.path(), "a.tar", ArchiveSpec::new(&["app:1"], "x\n"));
    d.load(&a);
    assert_eq!(d.load(&a), "Loaded image: app:1\n");
}

#[test]
fn load_does_not_set_last_tag_time() {
    let d = Dokles::new();
    let t = scratch();
    let (a, _) = archive(t.path(), "a.tar", ArchiveSpec::new(&["app:1"], "x\n"));
    d.load(&a);
    let v = json(&d.ok(&["image", "inspect", "app:1"]));
    assert_eq!(v[0]["Metadata"]["LastTagTime"], "0001-01-01T00:00:00Z");
}

#[test]
fn load_of_a_missing_file_reports_the_open_error() {
    let d = Dokles::new();
    assert_eq!(
        d.run(&["load", "-i", "/nonexistent/x.tar"]).fails(1),
        "open /nonexistent/x.tar: no such file or directory\n"
    );
}

#[test]
fn load_of_garbage_fails_and_changes_nothing() {
    let d = Dokles::new();
    let t = scratch();
    let g = t.path().join("g.tar");
    fs::write(&g, "garbage\n").unwrap();
    let out = d.run(&["load", "-i", g.to_str().unwrap()]);
    // Docker: "Error processing tar file(exit status 1): unexpected EOF".
    assert_eq!(out.code, 1, "{out:?}");
    assert!(!out.stderr.is_empty());
    assert_eq!(out.stdout, "");
    assert_eq!(d.ok(&["images", "-q"]), "");
}

#[test]
fn load_takes_no_arguments() {
    let d = Dokles::new();
    assert_eq!(
        d.run(&["load", "x"]).fails(1),
        "docker: 'docker load' accepts no arguments\n\n\
         Usage:  docker load [OPTIONS]\n\n\
         Run 'docker load --help' for more information\n"
    );
}

#[test]
fn save_then_load_restores_the_same_image_and_tags() {
    let d = Dokles::new();
    let t = scratch();
    let id = loaded(&d, t.path());
    let out = t.path().join("saved.tar");
    assert_eq!(
        d.ok(&["save", "-o", out.to_str().unwrap(), "app:1", "other"]),
        ""
    );
    let e = Dokles::new();
    assert_eq!(
        e.load(&out),
        "Loaded image: app:1\nLoaded image: other:latest\n"
    );
    assert_eq!(e.id_of("app:1"), id);
    assert_eq!(
        e.ok(&["history", "--no-trunc", "app:1"]),
        d.ok(&["history", "--no-trunc", "app:1"])
    );
}

#[test]
fn save_writes_to_stdout_when_redirected() {
    let d = Dokles::new();
    let t = scratch();
    let id = loaded(&d, t.path());
    let out = d
        .command(&["save", "app:1"])
        .stdout(Stdio::piped())
        .output()
        .unwrap();
    assert!(out.status.success());
    let e = Dokles::new();
    assert_eq!(
        e.run_stdin(&["load"], &out.stdout).ok(),
        "Loaded image: app:1\n"
    );
    assert_eq!(e.id_of("app:1"), id);
}

#[test]
fn save_by_id_writes_an_untagged_image() {
    let d = Dokles::new();
    let t = scratch();
    let id = loaded(&d, t.path());
    let out = t.path().join("byid.tar");
    d.ok(&["image", "save", "-o", out.to_str().unwrap(), &short(&id)]);
    let e = Dokles::new();
    assert_eq!(e.load(&out), format!("Loaded image ID: {id}\n"));
    d.ok(&["save", "-o", out.to_str().unwrap(), &id]);
    assert_eq!(Dokles::new().load(&out), format!("Loaded image ID: {id}\n"));
}

/// The files at the top of a saved archive, by name.
fn archive_files(path: &Path) -> std::collections::BTreeMap<String, String> {
    let mut out = std::collections::BTreeMap::new();
    let mut ar = tar::Archive::new(std::fs::File::open(path).unwrap());
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let name = e.path().unwrap().to_string_lossy().into_owned();
        if !name.contains('/') {
            let mut s = String::new();
            std::io::Read::read_to_string(&mut e, &mut s).unwrap();
            out.insert(name, s);
        }
    }
    out
}

#[test]
fn save_writes_the_docker_25_metadata_files_as_moby_does() {
    let d = Dokles::new();
    let t = scratch();
    let id = loaded(&d, t.path());
    let out = t.path().join("meta.tar");
    d.ok(&["save", "-o", out.to_str().unwrap(), "app:1", "other"]);
    let files = archive_files(&out);
    // `repositories` maps each tag to the image's last layer, not to its config.
    let layers =
        common::json(&d.ok(&["image", "inspect", "-f", "{{json .RootFS.Layers}}", "app:1"]));
    let top = layers
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .as_str()
        .unwrap()
        .trim_start_matches("sha256:")
        .to_string();
    assert_ne!(format!("sha256:{top}"), id);
    assert_eq!(
        files["repositories"],
        format!("{{\"app\":{{\"1\":\"{top}\"}},\"other\":{{\"latest\":\"{top}\"}}}}\n")
    );
    // Go's json.Encoder ends manifest.json and repositories with a newline; index.json is
    // written with json.Marshal.
    assert!(files["manifest.json"].ends_with("]\n"));
    assert!(files["index.json"].ends_with('}'));

    // Untagged: no repositories file, no annotations on the index entry.
    d.ok(&["save", "-o", out.to_str().unwrap(), &id]);
    let files = archive_files(&out);
    assert!(!files.contains_key("repositories"));
    let index = common::json(&files["index.json"]);
    assert_eq!(index["manifests"].as_array().unwrap().len(), 1);
    assert!(index["manifests"][0].get("annotations").is_none());
}

#[test]
fn save_of_a_repository_saves_every_tag_in_it() {
    let d = Dokles::new();
    let t = scratch();
    let (a, one) = archive(t.path(), "a.tar", ArchiveSpec::new(&["app:1"], "one\n"));
    let (b, two) = archive(
        t.path(),
        "b.tar",
        ArchiveSpec::new(&["app:2", "x:1"], "two\n"),
    );
    d.load(&a);
    d.load(&b);
    let out = t.path().join("repo.tar");
    d.ok(&["save", "-o", out.to_str().unwrap(), "app"]);
    let e = Dokles::new();
    assert_eq!(e.load(&out), "Loaded image: app:1\nLoaded image: app:2\n");
    assert_eq!(e.id_of("app:1"), one);
    assert_eq!(e.id_of("app:2"), two);
    assert_eq!(
        e.run(&["image", "inspect", "x:1"]).code,
        1,
        "x:1 is not in repository app"
    );
}

#[test]
fn save_of_a_missing_tag_says_the_reference_does_not_exist() {
    let d = Dokles::new();
    let t = scratch();
    loaded(&d, t.path());
    let out = t.path().join("x.tar");
    assert_eq!(
        d.run(&["save", "-o", out.to_str().unwrap(), "app:2"])
            .fails(1),
        "Error response from daemon: reference does not exist\n"
    );
    assert_eq!(
        d.run(&["save", "-o", out.to_str().unwrap(), "sha256:0000"])
            .fails(1),
        "Error response from daemon: No such image: sha256:0000\n"
    );
}

#[test]
fn save_of_a_missing_image_fails_without_writing() {
    let d = Dokles::new();
    let t = scratch();
    loaded(&d, t.path());
    let out = t.path().join("x.tar");
    assert_eq!(
        d.run(&["save", "-o", out.to_str().unwrap(), "app:1", "nope"])
            .fails(1),
        "Error response from daemon: No such image: nope\n"
    );
    assert!(!out.exists());
    assert_eq!(
        common::list_dir(t.path()),
        vec!["app.tar".to_string()],
        "no temp file left behind"
    );
}

#[test]
fn save_checks_the_output_path_before_the_images_like_dockers_client() {
    let d = Dokles::new();
    let t = scratch();
    loaded(&d, t.path());
    // The directory is checked first, even when the image does not exist either.
    assert_eq!(
        d.run(&["save", "-o", "/nonexistent/dir/x.tar", "nope"])
            .fails(1),
        "failed to save image: invalid output path: stat /nonexistent/dir: no such file or directory\n"
    );
    // The directory is named as Go's filepath.Dir cleans it.
    assert_eq!(
        d.run(&["save", "-o", "/nonexistent/./a/../dir/x.tar", "app:1"])
            .fails(1),
        "failed to save image: invalid output path: stat /nonexistent/dir: no such file or directory\n"
    );
    assert_eq!(
        d.run(&["save", "-o", "/etc/passwd/x.tar", "app:1"])
            .fails(1),
        "failed to save image: invalid output path: stat /etc/passwd: not a directory\n"
    );
    assert_eq!(
        d.run(&["save", "-o", t.path().to_str().unwrap(), "app:1"])
            .fails(1),
        "failed to save image: cannot write to a directory\n"
    );
    assert_eq!(
        d.run(&["save", "-o", "/dev/null", "app:1"]).fails(1),
        "failed to save image: cannot write to a character device file\n"
    );
    assert_eq!(common::list_dir(t.path()), vec!["app.tar".to_string()]);
}

// ---------------------------------------------------------------------------------------
// tag and name resolution

#[test]
fn tag_defaults_to_latest() {
    let d = Dokles::new();
    let t = scratch();
    let id = loaded(&d, t.path());
    assert_eq!(d.ok(&["tag", "app:1", "mine"]), "");
    assert_eq!(d.id_of("mine:latest"), id);
    assert_eq!(d.id_of("mine"), id);
    assert_eq!(d.id_of("docker.io/library/mine:latest"), id);
}

#[test]
fn tag_sets_last_tag_time() {
    let d = Dokles::new();
    let t = scratch();
    loaded(&d, t.path());
    d.ok(&["image", "tag", "app:1", "mine:2"]);
    let v = json(&d.ok(&["image", "inspect", "mine:2"]));
    assert_ne!(v[0]["Metadata"]["LastTagTime"], "0001-01-01T00:00:00Z");
}

#[test]
fn images_resolve_by_short_and_full_ids_prefixes_and_sha256_prefixes() {
    let d = Dokles::new();
    let t = scratch();
    let id = loaded(&d, t.path());
    let hex = id.trim_start_matches("sha256:").to_string();
    for name in [
        id.clone(),
        hex.clone(),
        short(&id),
        hex[..4].to_string(),
        format!("sha256:{}", &hex[..8]),
        "app:1".to_string(),
        "docker.io/library/other:latest".to_string(),
        "other".to_string(),
    ] {
        assert_eq!(d.id_of(&name), id, "resolving {name}");
    }
}

#[test]
fn an_ambiguous_id_prefix_is_no_such_image() {
    let d = Dokles::new();
    let t = scratch();
    // Make images until two share a first hex digit.
    let mut ids: Vec<String> = Vec::new();
    let mut n = 0;
    let shared = loop {
        let (a, id) = archive(
            t.path(),
            &format!("{n}.tar"),
            ArchiveSpec::new(&[&format!("img{n}:1")], &n.to_string()),
        );
        d.load(&a);
        let c = id["sha256:".len()..][..1].to_string();
        if ids.iter().any(|i| i["sha256:".len()..].starts_with(&c)) {
            break c;
        }
        ids.push(id);
        n += 1;
    };
    assert_eq!(
        d.run(&["tag", &shared, "x"]).fails(1),
        format!("Error response from daemon: No such image: {shared}:latest\n")
    );
}

#[test]
fn tag_of_a_missing_image_fails() {
    let d = Dokles::new();
    assert_eq!(
        d.run(&["tag", "nope", "x"]).fails(1),
        "Error response from daemon: No such image: nope:latest\n"
    );
}

#[test]
fn tag_refuses_an_invalid_target() {
    let d = Dokles::new();
    let t = scratch();
    loaded(&d, t.path());
    assert_eq!(
        d.run(&["tag", "app:1", "BAD"]).fails(1),
        "Error parsing reference: \"BAD\" is not a valid repository/tag: invalid reference format: repository name (library/BAD) must be lowercase\n"
    );
}

#[test]
fn tag_refuses_a_digest_target() {
    let d = Dokles::new();
    let t = scratch();
    loaded(&d, t.path());
    let digest = format!("x@sha256:{}", "0".repeat(64));
    assert_eq!(
        d.run(&["tag", "app:1", &digest]).fails(1),
        "refusing to create a tag with a digest reference\n"
    );
}

#[test]
fn tags_may_name_registries_and_nested_repositories() {
    let d = Dokles::new();
    let t = scratch();
    let id = loaded(&d, t.path());
    d.ok(&["tag", "app:1", "a/b/c:x"]);
    d.ok(&["tag", "app:1", "localhost:5000/x/y:1"]);
    assert_eq!(d.id_of("localhost:5000/x/y:1"), id);
    assert_eq!(
        d.ok(&["image", "inspect", "-f", "{{json .RepoTags}}", "app:1"]),
        "[\"a/b/c:x\",\"app:1\",\"other:latest\",\"localhost:5000/x/y:1\"]\n"
    );
    assert_eq!(
        d.ok(&[
            "images",
            "--format",
            "{{.Repository}}:{{.Tag}}",
            "--filter",
            "reference=*/*/*"
        ]),
        "a/b/c:x\nlocalhost:5000/x/y:1\n"
    );
}

#[test]
fn tag_requires_exactly_two_arguments() {
    let d = Dokles::new();
    assert_eq!(
        d.run(&["tag", "a"]).fails(1),
        "docker: 'docker tag' requires 2 arguments\n\n\
         Usage:  docker tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]\n\n\
         Run 'docker tag --help' for more information\n"
    );
}

// ---------------------------------------------------------------------------------------
// rmi / image rm

#[test]
fn rmi_of_one_of_several_tags_only_untags() {
    let d = Dokles::new();
    let t = scratch();
    let id = loaded(&d, t.path());
    assert_eq!(d.ok(&["rmi", "app:1"]), "Untagged: app:1\n");
    assert_eq!(d.id_of("other"), id);
}

#[test]
fn rmi_of_the_last_tag_deletes_the_image_and_its_layers() {
    let d = Dokles::new();
    let t = scratch();
    let (a, id) = archive(t.path(), "a.tar", ArchiveSpec::new(&["app:1"], "x\n"));
    d.load(&a);
    let out = d.ok(&["rmi", "app:1"]);
    let l = lines(&out);
    assert_eq!(l[0], "Untagged: app:1");
    assert_eq!(l[1], format!("Deleted: {id}"));
    assert_eq!(l.len(), 4, "the image and its two layers: {out}");
    assert!(l[2..].iter().all(|l| l.starts_with("Deleted: sha256:")));
    assert_eq!(d.ok(&["images", "-q"]), "");
    assert_eq!(d.layer_dirs(), Vec::<String>::new());
    assert_eq!(
        common::list_dir(&d.root().join("image/blobs/sha256")),
        Vec::<String>::new()
    );
}

#[test]
fn rmi_keeps_layers_other_images_still_use() {
    let d = Dokles::new();
    let t = scratch();
    let (a, id) = archive(t.path(), "a.tar", ArchiveSpec::new(&["a:1"], "a\n"));
    let (b, _) = archive(t.path(), "b.tar", ArchiveSpec::new(&["b:1"], "b\n"));
    d.load(&a);
    d.load(&b);
    let out = d.ok(&["rmi", "a:1"]);
    // The busybox base layer stays for b:1; only a's top layer goes.
    assert_eq!(lines(&out).len(), 3, "{out}");
    assert_eq!(lines(&out)[1], format!("Deleted: {id}"));
    assert_eq!(d.layer_dirs().len(), 2);
    assert_eq!(d.ok(&["history", "-q", "b:1"]).lines().count(), 4);
}

#[test]
fn rmi_by_id_of_an_image_in_several_repositories_needs_force() {
    let d = Dokles::new();
    let t = scratch();
    let id = loaded(&d, t.path());
    assert_eq!(
        d.run(&["rmi", &short(&id)]).fails(1),
        format!(
            "Error response from daemon: conflict: unable to delete {} (must be forced) - image is referenced in multiple repositories\n",
            short(&id)
        )
    );
    let out = d.ok(&["rmi", "-f", &short(&id)]);
    let l = lines(&out);
    assert_eq!(
        &l[..3],
        [
            "Untagged: app:1",
            "Untagged: other:latest",
            &format!("Deleted: {id}")
        ]
    );
    assert_eq!(d.ok(&["images", "-q"]), "");
}

#[test]
fn rmi_by_id_of_an_image_tagged_in_one_repository_untags_all_and_deletes() {
    let d = Dokles::new();
    let t = scratch();
    let (a, id) = archive(t.path(), "a.tar", ArchiveSpec::new(&["app:1"], "x\n"));
    d.load(&a);
    d.ok(&["tag", "app:1", "app:2"]);
    let out = d.ok(&["rmi", &id]);
    assert_eq!(
        &lines(&out)[..3],
        [
            "Untagged: app:1",
            "Untagged: app:2",
            &format!("Deleted: {id}")
        ]
    );
}

#[test]
fn rmi_continues_past_a_missing_image_and_exits_1() {
    let d = Dokles::new();
    let t = scratch();
    loaded(&d, t.path());
    let out = d.run(&["rmi", "nope", "app:1"]);
    assert_eq!(out.code, 1);
    assert_eq!(out.stdout, "Untagged: app:1\n");
    assert_eq!(
        out.stderr,
        "Error response from daemon: No such image: nope:latest\n"
    );
}

#[test]
fn rmi_force_reports_missing_images_but_succeeds() {
    let d = Dokles::new();
    let t = scratch();
    loaded(&d, t.path());
    let out = d.run(&["rmi", "-f", "nope", "app:1"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.stdout, "Untagged: app:1\n");
    assert_eq!(
        out.stderr,
        "Error response from daemon: No such image: nope:latest\n"
    );
    assert_eq!(
        d.run(&["rmi", "-f", "nope"]).stderr,
        "Error response from daemon: No such image: nope:latest\n"
    );
    assert_eq!(d.run(&["rmi", "-f", "nope"]).code, 0);
    // Other errors still fail the command.
    assert_eq!(
        d.run(&["rmi", "-f", "BAD"]).fails(1),
        "Error response from daemon: invalid reference format: repository name must be lowercase\n"
    );
}

#[test]
fn rmi_of_a_tag_takes_latest_by_default() {
    let d = Dokles::new();
    let t = scratch();
    loaded(&d, t.path());
    assert_eq!(
        d.run(&["rmi", "app"]).fails(1),
        "Error response from daemon: No such image: app:latest\n"
    );
    assert_eq!(d.ok(&["image", "rm", "other"]), "Untagged: other:latest\n");
}

#[test]
fn rmi_requires_at_least_one_argument() {
    let d = Dokles::new();
    assert_eq!(
        d.run(&["rmi"]).fails(1),
        "docker: 'docker rmi' requires at least 1 argument\n\n\
         Usage:  docker rmi [OPTIONS] IMAGE [IMAGE...]\n\n\
         See 'docker rmi --help' for more information\n"
    );
    assert_eq!(
        d.run(&["image", "rm"]).fails(1),
        "docker: 'docker image rm' requires at least 1 argument\n\n\
         Usage:  docker image rm [OPTIONS] IMAGE [IMAGE...]\n\n\
         See 'docker image rm --help' for more information\n"
    );
}

#[test]
fn an_unknown_flag_exits_125_with_usage() {
    let d = Dokles::new();
    assert_eq!(
        d.run(&["rmi", "--bogus", "x"]).fails(125),
        "unknown flag: --bogus\n\n\
         Usage:  docker rmi [OPTIONS] IMAGE [IMAGE...]\n\n\
         Run 'docker rmi --help' for more information\n"
    );
    assert_eq!(
        d.run(&["images", "-z"]).fails(125),
        "unknown shorthand flag: 'z' in -z\n\n\
         Usage:  docker images [OPTIONS] [REPOSITORY[:TAG]]\n\n\
         Run 'docker images --help' for more information\n"
    );
}

// ---------------------------------------------------------------------------------------
// image prune

#[test]
fn image_prune_removes_only_dangling_images() {
    let d = Dokles::new();
    let t = scratch();
    let tagged = loaded(&d, t.path());
    let (a, dangling) = archive(t.path(), "u.tar", ArchiveSpec::new(&[], "dangling!\n"));
    d.load(&a);
    let out = d.ok(&["image", "prune", "-f"]);
    let l = lines(&out);
    assert_eq!(l[0], "Deleted Images:");
    assert_eq!(l[1], format!("deleted: {dangling}"));
    // Its own top layer (a 10-byte /etc/motd) goes; the shared base stays.
    assert_eq!(l.len(), 5, "{out}");
    assert_eq!(l[3], "");
    assert_eq!(l[4], "Total reclaimed space: 10B");
    assert_eq!(
        d.ok(&["images", "-q"]),
        format!("{0}\n{0}\n", short(&tagged))
    );
}

#[test]
fn image_prune_all_removes_tagged_images_too() {
    let d = Dokles::new();
    let t = scratch();
    let id = loaded(&d, t.path());
    let out = d.ok(&["image", "prune", "-a", "-f"]);
    let l = lines(&out);
    assert_eq!(
        &l[..4],
        [
            "Deleted Images:",
            "untagged: app:1",
            "untagged: other:latest",
            &format!("deleted: {id}")
        ]
    );
    assert_eq!(l.last().unwrap(), &"Total reclaimed space: 1.984MB");
    assert_eq!(d.ok(&["images", "-q"]), "");
    assert_eq!(d.layer_dirs(), Vec::<String>::new());
}

#[test]
fn image_prune_with_nothing_to_do_reclaims_zero() {
    let d = Dokles::new();
    let t = scratch();
    loaded(&d, t.path());
    assert_eq!(
        d.ok(&["image", "prune", "-f"]),
        "Total reclaimed space: 0B\n"
    );
}

#[test]
fn image_prune_label_filter_limits_what_goes() {
    let d = Dokles::new();
    let t = scratch();
    loaded(&d, t.path());
    let (a, l) = archive(
        t.path(),
        "l.tar",
        ArchiveSpec::new(&["keep:1"], "l\n").label("keep", "yes"),
    );
    d.load(&a);
    assert_eq!(
        d.ok(&["image", "prune", "-af", "--filter", "label=nothing"]),
        "Total reclaimed space: 0B\n"
    );
    let out = d.ok(&["image", "prune", "-af", "--filter", "label=keep=yes"]);
    assert!(out.contains(&format!("deleted: {l}")), "{out}");
    assert_eq!(
        d.ok(&["images", "--format", "{{.Repository}}"]),
        "app\nother\n"
    );
}

#[test]
fn image_prune_until_keeps_images_created_after_the_time() {
    let d = Dokles::new();
    let t = scratch();
    loaded(&d, t.path());
    let (a, old) = archive(
        t.path(),
        "old.tar",
        ArchiveSpec::new(&["old:1"], "old\n").created("2020-01-01T00:00:00Z"),
    );
    d.load(&a);
    let (b, _) = archive(
        t.path(),
        "new.tar",
        ArchiveSpec::new(&["new:1"], "new\n").created("2099-01-01T00:00:00Z"),
    );
    d.load(&b);
    // A duration before now, Go's units; then an RFC 3339 time.
    assert_eq!(
        d.ok(&["image", "prune", "-af", "--filter", "until=1000000h"]),
        "Total reclaimed space: 0B\n"
    );
    let out = d.ok(&[
        "image",
        "prune",
        "-af",
        "--filter",
        "until=2021-01-01T00:00:00Z",
    ]);
    assert!(out.contains(&format!("deleted: {old}")), "{out}");
    assert!(d.run(&["image", "inspect", "new:1"]).code == 0);
    assert!(d.run(&["image", "inspect", "app:1"]).code == 0);
    // 2h30m ago: everything but the image from the future.
    d.ok(&["image", "prune", "-af", "--filter", "until=2h30m"]);
    assert_eq!(d.ok(&["images", "--format", "{{.Repository}}"]), "new\n");
}

#[test]
fn image_prune_label_filters_and_dangling_false_as_moby_applies_them() {
    let d = Dokles::new();
    let t = scratch();
    loaded(&d, t.path());
    let (a, _) = archive(
        t.path(),
        "k.tar",
        ArchiveSpec::new(&["keep:1"], "k\n").label("keep", "yes"),
    );
    d.load(&a);
    // label!=: images carrying the label stay; dangling=false works like -a.
    let out = d.ok(&[
        "image",
        "prune",
        "-f",
        "--filter",
        "dangling=false",
        "--filter",
        "label!=keep",
    ]);
    assert!(out.contains("untagged: app:1"), "{out}");
    assert_eq!(d.ok(&["images", "--format", "{{.Repository}}"]), "keep\n");
    assert_eq!(
        d.ok(&["image", "prune", "-af", "--filter", "label=keep=no"]),
        "Total reclaimed space: 0B\n"
    );
    d.ok(&["image", "prune", "-af", "--filter", "label=keep=yes"]);
    assert_eq!(d.ok(&["images", "-q"]), "");
}

#[test]
fn image_prune_filter_errors_are_the_daemons() {
    let d = Dokles::new();
    for (filter, err) in [
        (
            "until=bogus",
            "failed to parse value as time or duration: \"bogus\"",
        ),
        ("reference=x", "Invalid filter 'reference'"),
        ("foo=bar", "Invalid filter 'foo'"),
    ] {
        assert_eq!(
            d.run(&["image", "prune", "-f", "--filter", filter])
                .fails(1),
            format!("Error response from daemon: {err}\n")
        );
    }
    assert_eq!(
        d.run(&["image", "prune", "-f", "--filter", "until=1h", "--filter", "until=2h"])
            .fails(1),
        "Error response from daemon: more than one until filter specified\n"
    );
}

#[test]
fn image_prune_asks_before_removing() {
    let d = Dokles::new();
    let t = scratch();
    let (a, _) = archive(t.path(), "u.tar", ArchiveSpec::new(&[], "u\n"));
    d.load(&a);
    let out = d.run_stdin(&["image", "prune"], b"n\n");
    assert_eq!(
        out.ok(),
        "WARNING! This will remove all dangling images.\nAre you sure you want to continue? [y/N] "
    );
    assert_eq!(d.ok(&["images", "-q"]).lines().count(), 1);
    let out = d.run_stdin(&["image", "prune"], b"y\n");
    assert!(out.ok().contains("Deleted Images:"));
    assert_eq!(d.ok(&["images", "-q"]), "");
}

#[test]
fn image_prune_takes_no_arguments() {
    let d = Dokles::new();
    assert_eq!(
        d.run(&["image", "prune", "x"]).fails(1),
        "docker: 'docker image prune' accepts no arguments\n\n\
         Usage:  docker image prune [OPTIONS]\n\n\
         Run 'docker image prune --help' for more information\n"
    );
}

// ---------------------------------------------------------------------------------------
// history

const HISTORY: &str = "\
IMAGE          CREATED       CREATED BY                                      SIZE      COMMENT
{id}   2 years ago   /bin/sh -c #(nop)  CMD [\"sh\"]                   0B        
<missing>      2 years ago   /bin/sh -c #(nop)  LABEL org.dokles.test=bus…   0B        
<missing>      2 years ago   /bin/sh -c #(nop) COPY file:motd in /etc/mot…   4B        motd for tests
<missing>      2 years ago   /bin/sh -c #(nop) ADD file:4f6f35b2b4d1e3d08…   1.98MB    
";

#[test]
fn history_lists_layers_newest_first_with_truncated_commands() {
    let d = Dokles::new();
    let t = scratch();
    let id = loaded(&d, t.path());
    assert_eq!(
        d.ok(&["history", "app:1"]),
        HISTORY.replace("{id}", &short(&id))
    );
    assert_eq!(
        d.ok(&["image", "history", "app:1"]),
        d.ok(&["history", "app:1"])
    );
}

#[test]
fn history_no_trunc_shows_full_ids_and_commands() {
    let d = Dokles::new();
    let t = scratch();
    let id = loaded(&d, t.path());
    let out = d.ok(&["history", "--no-trunc", "app:1"]);
    let l = lines(&out);
    assert!(l[1].starts_with(&format!(
        "{id}   2 years ago   /bin/sh -c #(nop)  CMD [\"sh\"]  "
    )));
    assert!(l[4].contains(
        "/bin/sh -c #(nop) ADD file:4f6f35b2b4d1e3d08e8b6f0e0d64a3e1b6a1b0a2c1f0e9d8 in /    1.98MB"
    ));
}

#[test]
fn history_quiet_prints_ids_and_missing() {
    let d = Dokles::new();
    let t = scratch();
    let id = loaded(&d, t.path());
    assert_eq!(
        d.ok(&["history", "-q", "app:1"]),
        format!("{}\n<missing>\n<missing>\n<missing>\n", short(&id))
    );
}

#[test]
fn history_human_false_prints_rfc3339_times_and_bytes() {
    let d = Dokles::new();
    let t = scratch();
    let id = loaded(&d, t.path());
    let out = d.ok(&["history", "-H=false", "app:1"]);
    let l = lines(&out);
    assert_eq!(
        l[0],
        "IMAGE          CREATED AT             CREATED BY                                      SIZE      COMMENT"
    );
    assert_eq!(
        l[1],
        format!("{}   2024-01-02T03:04:05Z   /bin/sh -c #(nop)  CMD [\"sh\"]                   0         ", short(&id))
    );
    assert!(l[4].ends_with("1984132   "), "{}", l[4]);
}

#[test]
fn history_format_selects_fields() {
    let d = Dokles::new();
    let t = scratch();
    loaded(&d, t.path());
    assert_eq!(
        d.ok(&["history", "--format", "{{.Size}}|{{.Comment}}|{{.CreatedAt}}", "app:1"]),
        "0B||2024-01-02T03:04:05Z\n0B||2024-01-02T03:04:05Z\n4B|motd for tests|2024-01-02T03:04:05Z\n1.98MB||2024-01-02T03:04:05Z\n"
    );
}

#[test]
fn history_of_a_missing_image_fails() {
    let d = Dokles::new();
    assert_eq!(
        d.run(&["history", "nope"]).fails(1),
        "Error response from daemon: No such image: nope:latest\n"
    );
}

#[test]
fn history_of_an_imported_image_has_one_entry_with_the_import_comment() {
    let d = Dokles::new();
    let id = d.import_busybox("imp:1");
    let out = normalise(&d.ok(&["history", "imp:1"]));
    assert_eq!(
        out,
        format!(
            "IMAGE | CREATED | CREATED BY | SIZE | COMMENT\n{} | <ago> | 1.98MB | Imported from -\n",
            short(&id)
        )
    );
}

// ---------------------------------------------------------------------------------------
// inspect

#[test]
fn image_inspect_prints_dockers_fields_in_order() {
    let d = Dokles::new();
    let t = scratch();
    let id = loaded(&d, t.path());
    let out = d.ok(&["image", "inspect", "app:1"]);
    let v = json(&out);
    let o = v[0].as_object().unwrap();
    let keys: Vec<&str> = o.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "Id",
            "RepoTags",
            "RepoDigests",
            "Parent",
            "Comment",
            "Created",
            "Container",
            "ContainerConfig",
            "DockerVersion",
            "Author",
            "Config",
            "Architecture",
            "Os",
            "Size",
            "VirtualSize",
            "GraphDriver",
            "RootFS",
            "Metadata"
        ]
    );
    assert_eq!(o["Id"], id.as_str());
    assert_eq!(o["RepoTags"], serde_json::json!(["app:1", "other:latest"]));
    assert_eq!(o["Created"], "2024-01-02T03:04:05.123456789Z");
    assert_eq!(o["Config"]["Cmd"], serde_json::json!(["sh"]));
    assert_eq!(o["Size"], 1984132 + 4);
    assert_eq!(o["RootFS"]["Layers"].as_array().unwrap().len(), 2);
    assert_eq!(o["GraphDriver"]["Name"], "overlay2");
    // Four-space indentation, as Go's json.MarshalIndent.
    assert!(out.starts_with("[\n    {\n        \"Id\": "));
    // The layer paths point into this state root: the top layer's directory, where its files
    // appear once a container needs them.
    let upper = o["GraphDriver"]["Data"]["UpperDir"].as_str().unwrap();
    assert!(without_root(upper, &d.root()).starts_with("<root>/image/layers/"));
    let layer = Path::new(upper).parent().unwrap();
    assert!(layer.join("layer.json").is_file());
    assert!(
        !Path::new(upper).exists(),
        "not unpacked before a container needs it"
    );
}

#[test]
fn image_inspect_format_renders_each_image() {
    let d = Dokles::new();
    let t = scratch();
    let id = loaded(&d, t.path());
    assert_eq!(
        d.ok(&[
            "image",
            "inspect",
            "-f",
            "{{.Id}} {{.Os}}",
            "app:1",
            "other"
        ]),
        format!("{id} linux\n{id} linux\n")
    );
    assert_eq!(
        d.ok(&[
            "image",
            "inspect",
            "--format",
            "{{json .RepoTags}}",
            "app:1"
        ]),
        "[\"app:1\",\"other:latest\"]\n"
    );
}

#[test]
fn image_inspect_of_a_missing_image_prints_an_empty_list_and_the_error() {
    let d = Dokles::new();
    let out = d.run(&["image", "inspect", "nope"]);
    assert_eq!(out.code, 1);
    assert_eq!(out.stdout, "[]\n");
    assert_eq!(
        out.stderr,
        "Error response from daemon: no such image: nope: No such image: nope:latest\n"
    );
}

#[test]
fn image_inspect_prints_what_it_found_before_failing() {
    let d = Dokles::new();
    let t = scratch();
    let id = loaded(&d, t.path());
    let out = d.run(&["image", "inspect", "nope", "app:1"]);
    assert_eq!(out.code, 1);
    assert_eq!(json(&out.stdout)[0]["Id"], id.as_str());
    assert_eq!(
        out.stderr,
        "Error response from daemon: no such image: nope: No such image: nope:latest\n"
    );
    let out = d.run(&["image", "inspect", "-f", "{{.Os}}", "app:1", "nope"]);
    assert_eq!(out.code, 1);
    assert_eq!(out.stdout, "linux\n");
}

#[test]
fn inspect_of_a_missing_object_says_no_such_object() {
    let d = Dokles::new();
    let out = d.run(&["inspect", "nope"]);
    assert_eq!(out.code, 1);
    assert_eq!(out.stdout, "[]\n");
    assert_eq!(out.stderr, "Error: No such object: nope\n");
    // With a template and nothing found, Docker flushes a bare newline.
    let out = d.run(&["inspect", "-f", "{{.Id}}", "nope"]);
    assert_eq!(out.code, 1);
    assert_eq!(out.stdout, "\n");
    assert_eq!(out.stderr, "Error: No such object: nope\n");
}

#[test]
fn inspect_size_is_ignored_for_images_with_a_warning() {
    let d = Dokles::new();
    let t = scratch();
    loaded(&d, t.path());
    let out = d.run(&["inspect", "-s", "-f", "{{.Size}}", "app:1"]);
    assert_eq!(out.ok(), "1984136\n");
    assert_eq!(out.stderr, "WARNING: --size ignored for image\n");
    assert!(d
        .run(&["image", "inspect", "--size", "app:1"])
        .fails(125)
        .starts_with("unknown flag: --size\n"));
}

#[test]
fn inspect_refuses_an_unknown_type() {
    let d = Dokles::new();
    assert_eq!(
        d.run(&["inspect", "--type", "bogus", "x"]).fails(1),
        "unknown type: \"bogus\": must be one of \"config\", \"container\", \"image\", \"network\", \"node\", \"plugin\", \"secret\", \"service\", \"task\", \"volume\"\n"
    );
}

#[test]
fn a_format_of_just_table_is_the_default_table() {
    let d = Dokles::new();
    let t = scratch();
    loaded(&d, t.path());
    assert_eq!(d.ok(&["images", "--format", "table"]), d.ok(&["images"]));
    assert_eq!(
        d.ok(&["images", "-q", "--format", "table"]),
        d.ok(&["images", "-q"])
    );
    assert_eq!(
        d.ok(&["history", "--format", "table", "app:1"]),
        d.ok(&["history", "app:1"])
    );
    assert_eq!(
        d.ok(&["history", "-H=false", "--format", "table", "app:1"]),
        d.ok(&["history", "-H=false", "app:1"])
    );
}

#[test]
fn inspect_finds_images() {
    let d = Dokles::new();
    let t = scratch();
    let id = loaded(&d, t.path());
    assert_eq!(
        d.ok(&["inspect", "-f", "{{.Id}}", "app:1"]),
        format!("{id}\n")
    );
    assert_eq!(
        d.ok(&["inspect", "--type", "image", "-f", "{{.Id}}", "app:1"]),
        format!("{id}\n")
    );
}

// ---------------------------------------------------------------------------------------
// import

#[test]
fn import_from_a_file_creates_a_one_layer_image() {
    let d = Dokles::new();
    let id = d.import_busybox("imp:1");
    assert!(id.starts_with("sha256:") && id.len() == 71, "{id}");
    let v = json(&d.ok(&["image", "inspect", "imp:1"]));
    assert_eq!(v[0]["Id"], id.as_str());
    assert_eq!(v[0]["Comment"], "Imported from -");
    assert_eq!(v[0]["Size"], 1984132);
    assert_eq!(v[0]["Architecture"], "amd64");
    assert_eq!(v[0]["Os"], "linux");
    assert_eq!(v[0]["Config"]["Cmd"], serde_json::Value::Null);
    assert_eq!(v[0]["RootFS"]["Layers"].as_array().unwrap().len(), 1);
    assert_ne!(v[0]["Metadata"]["LastTagTime"], "0001-01-01T00:00:00Z");
}

#[test]
fn import_from_stdin_without_a_tag_makes_a_dangling_image() {
    let d = Dokles::new();
    let tar = common::busybox_rootfs();
    let out = d.run_stdin(&["import", "-"], tar);
    let id = out.ok().trim().to_string();
    assert_eq!(common::mask_ids(&id), "<id>");
    assert_eq!(
        d.ok(&["images", "-q", "--filter", "dangling=true"]),
        format!("{}\n", short(&id))
    );
    assert_eq!(
        normalise(&common::mask_ids(&d.ok(&["images"]))),
        "REPOSITORY | TAG | IMAGE ID | CREATED | SIZE\n<none> | <none> | <id> | <ago> | 1.98MB\n"
    );
}

#[test]
fn import_applies_changes_and_message() {
    let d = Dokles::new();
    let tar = common::busybox_rootfs_tar(d.work())
        .to_str()
        .unwrap()
        .to_string();
    d.ok(&[
        "import",
        "-c",
        "CMD [\"echo\", \"hi\"]",
        "--change",
        "ENV A=b",
        "-c",
        "WORKDIR /tmp",
        "-m",
        "my message",
        &tar,
        "imp:2",
    ]);
    let v = json(&d.ok(&["image", "inspect", "imp:2"]));
    assert_eq!(v[0]["Config"]["Cmd"], serde_json::json!(["echo", "hi"]));
    assert_eq!(v[0]["Config"]["Env"], serde_json::json!(["A=b"]));
    assert_eq!(v[0]["Config"]["WorkingDir"], "/tmp");
    assert_eq!(v[0]["Comment"], "my message");
    assert!(d.ok(&["history", "imp:2"]).contains("my message"));
}

#[test]
fn import_changes_allow_healthcheck_but_not_stopsignal() {
    let d = Dokles::new();
    let tar = common::busybox_rootfs_tar(d.work())
        .to_str()
        .unwrap()
        .to_string();
    // `import` and `commit` accept moby's validCommitCommands only; the error names the
    // instruction in lower case.
    assert_eq!(
        d.run(&["import", "-c", "STOPSIGNAL SIGKILL", &tar, "imp:1"])
            .fails(1),
        "Error response from daemon: stopsignal is not a valid change command\n"
    );
    assert_eq!(
        d.run(&["import", "-c", "HEALTHCHECK", &tar, "imp:1"])
            .fails(1),
        "Error response from daemon: HEALTHCHECK requires at least one argument\n"
    );
    d.ok(&["import", "-c", "HEALTHCHECK CMD true", &tar, "imp:1"]);
    let v = json(&d.ok(&["image", "inspect", "imp:1"]));
    assert_eq!(
        v[0]["Config"]["Healthcheck"],
        serde_json::json!({"Test": ["CMD-SHELL", "true"]})
    );
}

#[test]
fn import_ignores_arguments_after_the_repository() {
    let d = Dokles::new();
    let tar = common::busybox_rootfs_tar(d.work())
        .to_str()
        .unwrap()
        .to_string();
    // (The extra name is no hex digit, so it cannot match the new image's ID as a prefix.)
    let id = d.ok(&["import", &tar, "a", "extra"]);
    assert_eq!(d.id_of("a:latest"), id.trim());
    assert_eq!(d.run(&["image", "inspect", "extra"]).code, 1);
}

#[test]
fn import_of_a_missing_file_fails() {
    let d = Dokles::new();
    assert_eq!(
        d.run(&["import", "/nonexistent.tar"]).fails(1),
        "open /nonexistent.tar: no such file or directory\n"
    );
}

#[test]
fn import_refuses_an_invalid_tag() {
    let d = Dokles::new();
    let tar = common::busybox_rootfs_tar(d.work())
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(
        d.run(&["import", &tar, "BAD"]).fails(1),
        "invalid reference format: repository name (library/BAD) must be lowercase\n"
    );
    assert_eq!(d.ok(&["images", "-q"]), "");
}

// ---------------------------------------------------------------------------------------
// robustness: interrupted writers, concurrent writers, hostile archives

/// A snapshot of the store files other than staging, to check "nothing changed".
fn store_snapshot(d: &Dokles) -> Vec<(String, Vec<u8>)> {
    fn walk(base: &Path, p: &Path, out: &mut Vec<(String, Vec<u8>)>) {
        let Ok(rd) = fs::read_dir(p) else { return };
        for e in rd {
            let e = e.unwrap();
            let path = e.path();
            let rel = path.strip_prefix(base).unwrap().display().to_string();
            // The journal records every command, failed ones included: no store state.
            if rel == "tmp" || rel == "lock" || rel == "events.jsonl" {
                continue;
            }
            let md = fs::symlink_metadata(&path).unwrap();
            if md.is_dir() {
                out.push((rel.clone() + "/", Vec::new()));
                walk(base, &path, out);
            } else if md.is_file() && md.len() < 1 << 20 {
                out.push((rel, fs::read(&path).unwrap()));
            } else {
                out.push((rel, md.len().to_le_bytes().to_vec()));
            }
        }
    }
    let mut out = Vec::new();
    let root = d.root();
    walk(&root, &root, &mut out);
    out.sort();
    out
}

#[test]
fn a_load_killed_midway_leaves_no_half_image_and_the_next_writer_cleans_up() {
    let d = Dokles::new();
    let t = scratch();
    loaded(&d, t.path());
    let before = store_snapshot(&d);
    let big = common::write_big_archive(t.path(), "big:1", 200 << 20);
    let mut child = d
        .command(&["load", "-i", big.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the load is well under way (16 of its 200 MB staged), then kill it hard.
    let deadline = Instant::now() + Duration::from_secs(60);
    let staged = || {
        let out = std::process::Command::new("du")
            .args(["-sb"])
            .arg(d.root().join("tmp"))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .next()
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0)
    };
    while staged() < 16 << 20 {
        assert!(Instant::now() < deadline, "the load never staged 16 MB");
        assert!(
            child.try_wait().unwrap().is_none(),
            "the load ended before it was killed"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(
        !d.staging_entries().is_empty(),
        "the killed load left its staging behind"
    );

    // Readers see the store as it was.
    assert_eq!(
        d.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]),
        "app:1\nother:latest\n"
    );
    assert_eq!(
        d.run(&["image", "inspect", "big:1"]).code,
        1,
        "no half-loaded image is visible"
    );

    // The next writer removes the leftovers.
    assert_eq!(
        d.ok(&["image", "prune", "-f"]),
        "Total reclaimed space: 0B\n"
    );
    assert_eq!(d.staging_entries(), Vec::<String>::new());
    assert_eq!(
        store_snapshot(&d),
        before,
        "no orphan layers or blobs remain"
    );

    // And the same archive loads fine afterwards.
    assert_eq!(d.load(&big), "Loaded image: big:1\n");
}

#[test]
fn concurrent_loads_and_tags_into_one_root_keep_the_index_whole() {
    let d = Dokles::new();
    let t = scratch();
    let base = loaded(&d, t.path());
    let mut archives = Vec::new();
    for i in 0..4 {
        archives.push(archive(
            t.path(),
            &format!("c{i}.tar"),
            ArchiveSpec::new(&[&format!("conc{i}:1")], &format!("conc {i}\n")),
        ));
    }
    let mut children = Vec::new();
    for (path, _) in &archives {
        children.push(
            d.command(&["load", "-i", path.to_str().unwrap()])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap(),
        );
    }
    for i in 0..6 {
        children.push(
            d.command(&["tag", "app:1", &format!("tagged{i}:x")])
                .stderr(Stdio::piped())
                .spawn()
                .unwrap(),
        );
    }
    // Readers at the same time never see a broken index.
    for _ in 0..10 {
        d.ok(&["images", "-q"]);
    }
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    for (i, (_, id)) in archives.iter().enumerate() {
        assert_eq!(&d.id_of(&format!("conc{i}:1")), id);
    }
    for i in 0..6 {
        assert_eq!(d.id_of(&format!("tagged{i}:x")), base);
    }
    let ids: std::collections::BTreeSet<String> = d
        .ok(&["images", "-q"])
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(ids.len(), 5);
    assert_eq!(d.staging_entries(), Vec::<String>::new());
}

/// A docker-archive whose manifest is `manifest` plus the given extra entries.
fn hostile_archive(path: &Path, manifest: serde_json::Value, symlinks: &[(&str, &str)]) {
    let mut b = tar::Builder::new(fs::File::create(path).unwrap());
    for (name, target) in symlinks {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        h.set_mode(0o777);
        b.append_link(&mut h, name, target).unwrap();
    }
    common::append_bytes(
        &mut b,
        "manifest.json",
        &serde_json::to_vec(&manifest).unwrap(),
    );
    b.into_inner().unwrap();
}

#[test]
fn an_archive_pointing_outside_itself_is_refused_and_nothing_changes() {
    let d = Dokles::new();
    let t = scratch();
    loaded(&d, t.path());
    let before = store_snapshot(&d);
    let cases = [
        (
            "config-dotdot.tar",
            serde_json::json!([{"Config": "../../etc/passwd", "RepoTags": ["evil:1"], "Layers": []}]),
            vec![],
        ),
        (
            "layer-dotdot.tar",
            serde_json::json!([{"Config": "../../../../../../etc/passwd", "RepoTags": ["evil:1"], "Layers": ["../../../../../../etc/passwd"]}]),
            vec![],
        ),
        (
            "symlink-up.tar",
            serde_json::json!([{"Config": "cfg.json", "RepoTags": ["evil:1"], "Layers": ["l/layer.tar"]}]),
            vec![
                ("cfg.json", "../../../../../../../../etc/passwd"),
                ("l", "../../../../../../../../etc"),
            ],
        ),
        (
            "symlink-abs.tar",
            serde_json::json!([{"Config": "cfg.json", "RepoTags": ["evil:1"], "Layers": ["layer.tar"]}]),
            vec![("cfg.json", "/etc/passwd"), ("layer.tar", "/etc/hostname")],
        ),
    ];
    for (file, manifest, links) in cases {
        let path = t.path().join(file);
        hostile_archive(&path, manifest, &links);
        let out = d.run(&["load", "-i", path.to_str().unwrap()]);
        assert_eq!(out.code, 1, "{file}: {out:?}");
        assert!(
            out.stderr.starts_with("Error response from daemon: "),
            "{file}: {out:?}"
        );
        assert_eq!(out.stdout, "", "{file}");
        assert_eq!(store_snapshot(&d), before, "{file} changed the store");
        assert_eq!(d.staging_entries(), Vec::<String>::new(), "{file}");
    }
    // An archive entry that itself climbs out is refused too.
    let path = t.path().join("entry-dotdot.tar");
    {
        let mut b = tar::Builder::new(fs::File::create(&path).unwrap());
        let mut h = tar::Header::new_gnu();
        h.set_size(4);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        // `append_data` refuses "..", so write the raw name.
        h.as_old_mut().name[..13].copy_from_slice(b"../escaped.tx");
        h.set_cksum();
        b.append(&h, &b"evil"[..]).unwrap();
        b.into_inner().unwrap();
    }
    let out = d.run(&["load", "-i", path.to_str().unwrap()]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(!d.root().join("escaped.tx").exists());
    assert!(!d.root().join("tmp/escaped.tx").exists());
    assert_eq!(store_snapshot(&d), before);
}

// ---------------------------------------------------------------------------------------
// pull (from the offline cache) and how dokles is invoked

#[test]
fn pull_checks_its_arguments_like_docker() {
    let d = Dokles::new();
    assert_eq!(
        d.run(&["pull"]).fails(1),
        "docker: 'docker pull' requires 1 argument\n\n\
         Usage:  docker pull [OPTIONS] NAME[:TAG|@DIGEST]\n\n\
         Run 'docker pull --help' for more information\n"
    );
    assert_eq!(
        d.run(&["pull", "BAD"]).fails(1),
        "invalid reference format: repository name (library/BAD) must be lowercase\n"
    );
    assert_eq!(
        d.run(&["pull", "-a", "x:1"]).fails(1),
        "tag can't be used with --all-tags/-a\n"
    );
}

#[test]
fn pull_of_an_image_missing_from_the_offline_cache_fails_and_says_so() {
    let d = Dokles::new();
    let out = d.run(&["pull", "dokles-not-cached"]);
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(out.stdout, "Using default tag: latest\n");
    assert!(
        out.stderr.starts_with(
            "Error response from daemon: image dokles-not-cached:latest is not in dokles' offline image cache"
        ),
        "{out:?}"
    );
    assert_eq!(d.ok(&["images", "-q"]), "");
}

#[test]
fn the_state_root_comes_from_dokles_root_when_no_flag_is_given() {
    let d = Dokles::new();
    let t = scratch();
    let id = loaded(&d, t.path());
    let out = std::process::Command::new(common::binary())
        .args(["docker", "images", "-q", "app"])
        .env("DOKLES_ROOT", d.root())
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("{}\n", short(&id))
    );
}

#[test]
fn a_docker_symlink_to_dokles_is_the_docker_cli() {
    let d = Dokles::new();
    let t = scratch();
    let id = loaded(&d, t.path());
    let link = t.path().join("docker");
    std::os::unix::fs::symlink(common::binary(), &link).unwrap();
    let out = std::process::Command::new(&link)
        .args(["image", "inspect", "-f", "{{.Id}}", "app:1"])
        .env("DOKLES_ROOT", d.root())
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), format!("{id}\n"));
    let out = std::process::Command::new(&link)
        .args(["rmi", "nope"])
        .env("DOKLES_ROOT", d.root())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "Error response from daemon: No such image: nope:latest\n"
    );
}
