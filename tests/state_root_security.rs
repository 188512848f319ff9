//! The state root as a local attacker sees it: an unprivileged user on the host (here
//! `nobody`, through `setpriv`) must not reach anything in it — above all not a setuid-root
//! file that a container made in its writable layer or that an image shipped in a layer
//! (the CVE-2021-41091 class: such a file runs as root for whoever calls it by its path).
//! Nor may such a user decide where the root is: a root path they created, or a symbolic
//! link they planted on the way, is refused before anything is written. And what dokles
//! creates does not depend on the umask of whoever runs it. Runs as root.

mod common_ctr;

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common_ctr::{busybox_tar, Dokles, IMAGE};
use sha2::{Digest, Sha256};

const NOBODY: &str = "65534";

/// Run `argv` as the unprivileged user nobody, without any group. Through a shell: setpriv
/// keeps root's capabilities until its own `execve`, which would look the program up with
/// them; the shell runs as nobody through and through.
fn as_nobody(argv: &[&str]) -> Output {
    Command::new("setpriv")
        .args([
            &format!("--reuid={NOBODY}"),
            &format!("--regid={NOBODY}"),
            "--clear-groups",
            "--",
            "sh",
            "-c",
            r#"exec "$@""#,
            "sh",
        ])
        .args(argv)
        .output()
        .expect("run setpriv")
}

/// What `path` does when nobody calls it with `-u` (it is a copy of the host's `id`): the
/// effective uid it printed, if it ran at all.
fn euid_when_nobody_runs(path: &Path) -> Option<String> {
    let out = as_nobody(&[path.to_str().expect("utf-8 path"), "-u"]);
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The file is there and is setuid root: what the attack calls.
fn assert_setuid_root(path: &Path) {
    let meta = fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(meta.uid(), 0, "{} belongs to root", path.display());
    assert_ne!(meta.mode() & 0o4000, 0, "{} is setuid", path.display());
}

fn layer(entries: &[(&str, u32, Option<&[u8]>)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, mode, data) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(if data.is_some() {
            tar::EntryType::Regular
        } else {
            tar::EntryType::Directory
        });
        h.set_mode(*mode);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(1_700_000_000);
        let data = data.unwrap_or(&[]);
        h.set_size(data.len() as u64);
        b.append_data(&mut h, name, data).expect("tar entry");
    }
    b.into_inner().expect("tar")
}

/// A docker-archive of `suid:test`: the test busybox, and a layer with two copies of the
/// host's `id`: `/usr/local/bin/hostid` (plain) and `/usr/local/bin/suid-hostid` (setuid
/// root, as an image may ship it).
fn write_suid_archive(dir: &Path) -> PathBuf {
    let id = fs::read("/usr/bin/id").expect("the host's id");
    let top = layer(&[
        ("usr/", 0o755, None),
        ("usr/local/", 0o755, None),
        ("usr/local/bin/", 0o755, None),
        ("usr/local/bin/hostid", 0o755, Some(&id)),
        ("usr/local/bin/suid-hostid", 0o4755, Some(&id)),
    ]);
    let base = fs::read(busybox_tar()).expect("busybox rootfs");
    let layers = [base, top];
    let diff_ids: Vec<String> = layers
        .iter()
        .map(|l| format!("sha256:{}", hex::encode(Sha256::digest(l))))
        .collect();
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {"Cmd": ["sh"], "Env": ["PATH=/usr/local/bin:/usr/bin:/bin"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }))
    .expect("config");
    let config_name = format!("{}.json", hex::encode(Sha256::digest(&config)));
    let manifest = serde_json::to_vec(&serde_json::json!([{
        "Config": config_name,
        "RepoTags": ["suid:test"],
        "Layers": ["base/layer.tar", "top/layer.tar"],
    }]))
    .expect("manifest");
    let path = dir.join("suid.tar");
    let mut b = tar::Builder::new(fs::File::create(&path).expect("archive"));
    let mut add = |name: &str, data: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        h.set_size(data.len() as u64);
        b.append_data(&mut h, name, data).expect("archive entry");
    };
    add("base/layer.tar", &layers[0]);
    add("top/layer.tar", &layers[1]);
    add(&config_name, &config);
    add("manifest.json", &manifest);
    b.finish().expect("archive written");
    path
}

/// `suid:test` loaded into `d`'s root, with its layers unpacked (by creating a container).
fn load_suid_image(d: &Dokles) -> PathBuf {
    let dir = tempfile::tempdir().expect("temp dir");
    let archive = write_suid_archive(dir.path());
    d.ok(&["load", "-i", archive.to_str().expect("utf-8 path")]);
    d.ok(&["create", "--name", "unpacker", "suid:test", "true"]);
    shipped_setuid_file(d.root()).expect("the unpacked layer holds suid-hostid")
}

/// Where the unpacked layer keeps the shipped setuid file.
fn shipped_setuid_file(root: &Path) -> Option<PathBuf> {
    fs::read_dir(root.join("image/layers"))
        .ok()?
        .filter_map(|e| Some(e.ok()?.path().join("diff/usr/local/bin/suid-hostid")))
        .find(|p| p.exists())
}

/// A container of `suid:test` that copied `id` to `/tmp/rootsh` and made it setuid root in
/// its writable layer; the copy's path on the host.
fn setuid_file_made_in_a_container(d: &Dokles) -> PathBuf {
    d.ok(&[
        "run",
        "--name",
        "maker",
        "suid:test",
        "sh",
        "-c",
        "cp /usr/local/bin/hostid /tmp/rootsh && chmod 4755 /tmp/rootsh",
    ]);
    let id = d.inspect("maker", "{{.Id}}");
    let path = d.root().join("containers").join(id).join("diff/tmp/rootsh");
    assert_setuid_root(&path);
    path
}

/// Every path below `root` (as root sees them), for the "reads nothing" check.
fn everything_below(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(dir) = todo.pop() {
        for e in fs::read_dir(&dir).expect("read dir").flatten() {
            let p = e.path();
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                todo.push(p.clone());
            }
            out.push(p);
        }
    }
    out
}

/// The paths of `paths` that nobody can open (read a file, list a directory, connect to…
/// stat at least): one `sh` as nobody tries them all.
fn reachable_by_nobody(paths: &[PathBuf]) -> Vec<String> {
    let list = tempfile::NamedTempFile::new().expect("list file");
    let text: String = paths.iter().map(|p| format!("{}\n", p.display())).collect();
    fs::write(list.path(), text).expect("write list");
    fs::set_permissions(list.path(), fs::Permissions::from_mode(0o644)).expect("chmod list");
    let out = as_nobody(&[
        "sh",
        "-c",
        r#"while IFS= read -r p; do
             if [ -d "$p" ]; then ls "$p" >/dev/null 2>&1 && echo "$p";
             elif [ -e "$p" ] || [ -L "$p" ]; then
               (cat "$p" >/dev/null 2>&1 || stat "$p" >/dev/null 2>&1) && echo "$p";
             fi
           done < "$1""#,
        "sh",
        list.path().to_str().expect("utf-8 path"),
    ]);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn a_setuid_file_made_in_a_container_does_not_run_as_root_for_other_users() {
    let d = Dokles::in_open_directory();
    load_suid_image(&d);
    let rootsh = setuid_file_made_in_a_container(&d);
    assert_eq!(
        euid_when_nobody_runs(&rootsh),
        None,
        "nobody ran {} (setuid root, made in a container)",
        rootsh.display()
    );
}

#[test]
fn a_setuid_file_shipped_in_a_loaded_layer_does_not_run_as_root_for_other_users() {
    let d = Dokles::in_open_directory();
    let shipped = load_suid_image(&d);
    assert_setuid_root(&shipped);
    assert_eq!(
        euid_when_nobody_runs(&shipped),
        None,
        "nobody ran {} (setuid root, shipped in a layer)",
        shipped.display()
    );
}

#[test]
fn other_users_reach_nothing_in_the_state_root() {
    let d = Dokles::in_open_directory();
    load_suid_image(&d);
    setuid_file_made_in_a_container(&d);
    d.ok(&[
        "run",
        "-d",
        "--name",
        "talker",
        IMAGE,
        "sh",
        "-c",
        "echo secret; sleep 60",
    ]);
    common_ctr::wait_for("the log line", || {
        d.ok(&["logs", "talker"]).contains("secret")
    });
    // The root itself, and everything in it: logs, state, journal, layers, the attach socket.
    let mut paths = vec![d.root().to_path_buf()];
    paths.extend(everything_below(d.root()));
    assert!(paths.len() > 100, "the root is populated: {}", paths.len());
    assert_eq!(reachable_by_nobody(&paths), Vec::<String>::new());
}

#[test]
fn a_state_root_an_older_dokles_left_open_is_closed_on_next_use() {
    let d = Dokles::in_open_directory();
    load_suid_image(&d);
    let rootsh = setuid_file_made_in_a_container(&d);
    // As dokles before this fix left it: directories 0755, files 0644 (setuid kept).
    let status = Command::new("chmod")
        .args(["-R", "go+rX"])
        .arg(d.root())
        .status()
        .expect("chmod");
    assert!(status.success());
    assert_eq!(
        euid_when_nobody_runs(&rootsh).as_deref(),
        Some("0"),
        "the open root is attackable (the test's premise)"
    );
    d.ok(&["ps", "-a"]);
    assert_eq!(euid_when_nobody_runs(&rootsh), None);
    assert_eq!(fs::metadata(d.root()).expect("root").mode() & 0o7777, 0o700);
    for sub in ["containers", "image", "tmp"] {
        let mode = fs::metadata(d.root().join(sub)).expect("subtree").mode() & 0o7777;
        assert_eq!(mode, 0o700, "{sub}");
    }
    assert_eq!(
        fs::metadata(d.root().join("events.jsonl"))
            .expect("journal")
            .mode()
            & 0o7777,
        0o600
    );
}

/// A directory like `/tmp`: root's, sticky, everyone may create entries.
fn shared_tmp() -> tempfile::TempDir {
    let t = tempfile::Builder::new()
        .prefix("dokles-shared-")
        .tempdir()
        .expect("temp dir");
    fs::set_permissions(t.path(), fs::Permissions::from_mode(0o1777)).expect("chmod");
    t
}

fn dokles(root: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dokles"))
        .arg("--root")
        .arg(root)
        .arg("docker")
        .args(args)
        .output()
        .expect("run dokles")
}

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn a_state_root_another_user_created_first_is_refused() {
    let shared = shared_tmp();
    let root = shared.path().join("les");
    let made = as_nobody(&["mkdir", "-m", "777", root.to_str().expect("utf-8")]);
    assert!(
        made.status.success(),
        "nobody creates the root's path first"
    );
    let out = dokles(&root, &["images"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("belongs to uid 65534"), "{err}");
    assert_eq!(
        entries(&root),
        Vec::<String>::new(),
        "nothing written in it"
    );
    assert_eq!(fs::metadata(&root).expect("root").mode() & 0o7777, 0o777);
}

#[test]
fn a_symbolic_link_another_user_planted_is_not_followed() {
    let shared = shared_tmp();
    // Something of root's that must not become a state root: were it followed, its mode
    // would change and its `tmp/` would be emptied by the next writer.
    let victim = tempfile::tempdir().expect("victim");
    fs::set_permissions(victim.path(), fs::Permissions::from_mode(0o755)).expect("chmod");
    fs::create_dir(victim.path().join("tmp")).expect("victim tmp");
    fs::write(victim.path().join("tmp/keep"), "precious").expect("victim file");
    let root = shared.path().join("les");
    let planted = as_nobody(&[
        "ln",
        "-s",
        victim.path().to_str().expect("utf-8"),
        root.to_str().expect("utf-8"),
    ]);
    assert!(planted.status.success(), "nobody plants the link");
    for args in [&["images"][..], &["run", "--rm", "busybox:test", "true"]] {
        let out = dokles(&root, args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("belongs to another user (uid 65534)"), "{err}");
    }
    assert_eq!(entries(victim.path()), vec!["tmp"]);
    assert_eq!(entries(&victim.path().join("tmp")), vec!["keep"]);
    assert_eq!(
        fs::metadata(victim.path()).expect("victim").mode() & 0o7777,
        0o755
    );
}

#[test]
fn a_state_root_in_a_directory_others_may_write_to_is_refused() {
    let open = tempfile::tempdir().expect("temp dir");
    fs::set_permissions(open.path(), fs::Permissions::from_mode(0o777)).expect("chmod");
    let out = dokles(&open.path().join("les"), &["images"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("other users may write to it (mode 0777)"),
        "{err}"
    );
    assert_eq!(entries(open.path()), Vec::<String>::new());
}

#[test]
fn what_dokles_creates_does_not_follow_the_callers_umask() {
    for umask in ["077", "000"] {
        let d = Dokles::in_open_directory();
        let run = |args: &str| {
            Command::new("sh")
                .arg("-c")
                .arg(format!(
                    "umask {umask}; exec {} --root {} docker {args}",
                    env!("CARGO_BIN_EXE_dokles"),
                    d.root().display()
                ))
                .output()
                .expect("run dokles")
        };
        // A user other than root in the container still reads its /etc files and runs
        // programs from its `/`, which is 0755 as in Docker.
        let out = run(&format!(
            "run --name modes --user 65534 {IMAGE} sh -c 'stat -c %a / /tmp; cat /etc/hosts >/dev/null && echo hosts readable'"
        ));
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "755\n1777\nhosts readable\n",
            "umask {umask}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let id = d.inspect("modes", "{{.Id}}");
        let dir = d.root().join("containers").join(&id);
        let mode = |p: PathBuf| fs::metadata(&p).expect("stat").mode() & 0o7777;
        assert_eq!(mode(d.root().to_path_buf()), 0o700, "umask {umask}");
        assert_eq!(mode(dir.clone()), 0o700, "umask {umask}");
        assert_eq!(mode(dir.join("diff")), 0o755, "umask {umask}");
        assert_eq!(mode(dir.join("hosts")), 0o644, "umask {umask}");
        assert_eq!(mode(dir.join("config.json")), 0o600, "umask {umask}");
        assert_eq!(
            mode(dir.join(format!("{id}-json.log"))),
            0o640,
            "umask {umask}"
        );
        assert_eq!(mode(d.root().join("events.jsonl")), 0o600, "umask {umask}");
    }
}

#[test]
fn a_directory_of_other_things_is_not_taken_for_a_state_root() {
    // What `--root /` would meet: a `tmp` among things that are not dokles'.
    let dir = tempfile::tempdir().expect("temp dir");
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).expect("chmod");
    fs::create_dir(dir.path().join("tmp")).expect("tmp");
    fs::write(dir.path().join("tmp/keep"), "precious").expect("file");
    fs::write(dir.path().join("etc"), "not a state root").expect("file");
    for args in [&["images"][..], &["run", "--rm", "busybox:test", "true"]] {
        let out = dokles(dir.path(), args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("holds other things than dokles' state"),
            "{err}"
        );
    }
    assert_eq!(entries(dir.path()), vec!["etc", "tmp"]);
    assert_eq!(entries(&dir.path().join("tmp")), vec!["keep"]);
    assert_eq!(
        fs::metadata(dir.path()).expect("dir").mode() & 0o7777,
        0o755
    );
}
