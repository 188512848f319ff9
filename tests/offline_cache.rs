//! The offline image cache: `pull` and `run`'s implicit pull take the images that
//! `fixtures/build` made (busybox and hello-world embedded in the binary, debian and python
//! from `fixtures/images`), with Docker's progress lines, and name resolution by digest.

mod common;

use common::Dokles;
use serde_json::Value;

fn cache_index() -> Vec<Value> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/images/index.json"
    ))
    .expect("fixtures/images/index.json");
    serde_json::from_str(&text).expect("valid cache index")
}

fn entry(name: &str) -> Value {
    cache_index()
        .into_iter()
        .find(|e| e["name"] == name)
        .unwrap_or_else(|| panic!("{name} is not in the cache index"))
}

#[test]
fn pull_prints_dockers_progress_lines_and_the_full_name() {
    let d = Dokles::new();
    let busybox = entry("busybox");
    let layer = &busybox["layers"][0]["diff_id"].as_str().unwrap()[7..19];
    let out = d.ok(&["pull", "busybox"]);
    assert_eq!(
        out,
        format!(
            "Using default tag: latest\nlatest: Pulling from library/busybox\n{layer}: Pulling fs layer\n{layer}: Verifying Checksum\n{layer}: Download complete\n{layer}: Pull complete\nDigest: {}\nStatus: Downloaded newer image for busybox:latest\ndocker.io/library/busybox:latest\n",
            busybox["manifest_digest"].as_str().unwrap()
        )
    );
    let again = d.ok(&["pull", "busybox:latest"]);
    assert!(
        again.contains("Status: Image is up to date for busybox:latest\n"),
        "{again}"
    );
    assert!(
        !again.contains("Using default tag"),
        "a tag was given: {again}"
    );
}

#[test]
fn pull_quiet_prints_only_the_name() {
    let d = Dokles::new();
    assert_eq!(
        d.ok(&["pull", "-q", "hello-world"]),
        "docker.io/library/hello-world:latest\n"
    );
}

#[test]
fn pulled_images_have_the_cached_id_and_a_repo_digest() {
    let d = Dokles::new();
    d.ok(&["pull", "busybox"]);
    let busybox = entry("busybox");
    let digest = busybox["manifest_digest"].as_str().unwrap();
    assert_eq!(
        d.ok(&["image", "inspect", "-f", "{{.Id}}", "busybox"])
            .trim(),
        busybox["id"].as_str().unwrap()
    );
    assert_eq!(
        d.ok(&["image", "inspect", "-f", "{{json .RepoDigests}}", "busybox"])
            .trim(),
        format!("[\"busybox@{digest}\"]")
    );
    // The digest names the image too, and shows in `images --digests`.
    let by_digest = format!("busybox@{digest}");
    assert_eq!(
        d.ok(&["image", "inspect", "-f", "{{.Id}}", &by_digest])
            .trim(),
        busybox["id"].as_str().unwrap()
    );
    assert!(d.ok(&["images", "--digests"]).contains(digest));
    let out = d.ok(&["rmi", &by_digest]);
    assert_eq!(
        out,
        format!("Untagged: busybox@{digest}\n"),
        "the tag keeps the image"
    );
}

#[test]
fn pull_by_digest_without_a_tag() {
    let d = Dokles::new();
    let busybox = entry("busybox");
    let digest = busybox["manifest_digest"].as_str().unwrap();
    let out = d.ok(&["pull", &format!("busybox@{digest}")]);
    assert!(
        out.ends_with(&format!("docker.io/library/busybox@{digest}\n")),
        "{out}"
    );
    assert!(d.ok(&["images"]).contains("busybox      <none>"));
}

#[test]
fn python_shares_the_debian_base_layer() {
    let d = Dokles::new();
    d.ok(&["pull", "debian"]);
    let out = d.ok(&["pull", "python"]);
    let debian = entry("debian");
    let base = &debian["layers"][0]["diff_id"].as_str().unwrap()[7..19];
    assert!(out.contains(&format!("{base}: Already exists\n")), "{out}");
    assert_eq!(
        d.layer_dirs().len(),
        2,
        "one unpacked layer each, the base once"
    );
    let out = d.ok(&["run", "--rm", "python", "python3", "-c", "print(6*7)"]);
    assert_eq!(out, "42\n");
}

#[test]
fn pulling_an_image_present_under_another_tag_prints_no_layer_lines() {
    let d = Dokles::new();
    d.ok(&["pull", "python"]);
    let python = entry("python");
    let digest = python["manifest_digest"].as_str().unwrap();
    // moby's pull stops before the layers when the image's config is already there.
    assert_eq!(
        d.ok(&["pull", "python:3.11"]),
        format!(
            "3.11: Pulling from library/python\nDigest: {digest}\nStatus: Downloaded newer image for python:3.11\ndocker.io/library/python:3.11\n"
        )
    );
    assert_eq!(
        d.ok(&["pull", "python:3.11"]),
        format!(
            "3.11: Pulling from library/python\nDigest: {digest}\nStatus: Image is up to date for python:3.11\ndocker.io/library/python:3.11\n"
        )
    );
}

#[test]
fn pull_all_tags_ends_with_one_status_for_the_repository() {
    let d = Dokles::new();
    let debian = entry("debian");
    let digest = debian["manifest_digest"].as_str().unwrap();
    let layer = &debian["layers"][0]["diff_id"].as_str().unwrap()[7..19];
    // Tags in a registry's (sorted) order, each with its digest; the status names the
    // repository once, without a tag, and so does the last line.
    assert_eq!(
        d.ok(&["pull", "-a", "debian"]),
        format!(
            "bookworm: Pulling from library/debian\n\
             {layer}: Pulling fs layer\n{layer}: Verifying Checksum\n\
             {layer}: Download complete\n{layer}: Pull complete\n\
             Digest: {digest}\n\
             latest: Pulling from library/debian\nDigest: {digest}\n\
             Status: Downloaded newer image for debian\ndocker.io/library/debian\n"
        )
    );
    let again = d.ok(&["pull", "--all-tags", "debian"]);
    assert!(
        again.ends_with("Status: Image is up to date for debian\ndocker.io/library/debian\n"),
        "{again}"
    );
    assert_eq!(
        d.ok(&["pull", "-q", "-a", "debian"]),
        "docker.io/library/debian\n"
    );
}

#[test]
fn run_pulls_a_missing_image_with_dockers_lines() {
    let d = Dokles::new();
    let out = d.run(&["run", "--rm", "hello-world"]);
    let stdout = out.ok();
    assert!(stdout.contains("Hallo van dokles!"), "{stdout}");
    assert!(stdout.contains("Hello from dokles!"), "{stdout}");
    assert!(
        out.stderr.starts_with("Unable to find image 'hello-world:latest' locally\nlatest: Pulling from library/hello-world\n"),
        "{}",
        out.stderr
    );
    assert!(out
        .stderr
        .contains("Status: Downloaded newer image for hello-world:latest\n"));
    assert!(!out.stderr.contains("Using default tag"), "{}", out.stderr);
    assert!(!out.stderr.contains("docker.io/library"), "{}", out.stderr);
}

#[test]
fn an_image_outside_the_cache_is_refused_with_the_list_of_cached_ones() {
    let d = Dokles::new();
    let out = d.run(&["pull", "ubuntu"]);
    let err = out.fails(1);
    assert!(
        err.contains("ubuntu:latest is not in dokles' offline image cache"),
        "{err}"
    );
    for name in [
        "busybox:latest",
        "hello-world:latest",
        "debian:bookworm",
        "python:latest",
    ] {
        assert!(err.contains(name), "{name} missing from: {err}");
    }
    let out = d.run(&["run", "--rm", "alpine", "true"]);
    assert!(out
        .fails(125)
        .contains("alpine:latest is not in dokles' offline image cache"));
}

#[test]
fn the_small_images_are_embedded_in_the_binary() {
    // A cache directory that holds nothing: busybox still comes from the binary itself.
    let d = Dokles::new();
    let empty = tempfile::tempdir().unwrap();
    let out = d
        .command(&["pull", "busybox"])
        .env("DOKLES_IMAGES", empty.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
