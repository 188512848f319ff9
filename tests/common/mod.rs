//! Test harness for the docker-compatible CLI: a [`Dokles`] with its own temporary state root
//! that runs the built binary as `dokles --root <tmp> docker …`, builders for test images
//! made offline from the host's busybox-static (a root filesystem tarball for `import`, and
//! docker-archives with a fixed config for `load`), and output normalisation.
//!
//! Tests run in parallel: everything here lives in per-process or per-test temp dirs.

#![allow(dead_code)]

use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};

/// What one command printed and how it exited.
#[derive(Debug, Clone)]
pub struct Output {
    pub stdout: String,
    pub stderr: String,
    pub code: i32,
}

impl Output {
    fn from_process(o: std::process::Output) -> Self {
        Self {
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
            code: o.status.code().unwrap_or(-1),
        }
    }

    /// Assert success and return stdout.
    #[track_caller]
    pub fn ok(&self) -> &str {
        assert_eq!(self.code, 0, "command failed: {self:#?}");
        &self.stdout
    }

    /// Assert failure with `code`, nothing on stdout, and return stderr.
    #[track_caller]
    pub fn fails(&self, code: i32) -> &str {
        assert_eq!(self.code, code, "unexpected exit code: {self:#?}");
        &self.stderr
    }
}

/// The dokles binary under test.
pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_dokles")
}

/// dokles with a private state root, removed when dropped.
pub struct Dokles {
    root: tempfile::TempDir,
    work: tempfile::TempDir,
}

impl Dokles {
    pub fn new() -> Self {
        let temp = |prefix: &str| {
            tempfile::Builder::new()
                .prefix(prefix)
                .tempdir()
                .expect("temp dir")
        };
        Self {
            root: temp("dokles-test-root-"),
            work: temp("dokles-test-work-"),
        }
    }

    /// A scratch directory that lives as long as this `Dokles`.
    pub fn work(&self) -> &Path {
        self.work.path()
    }

    /// The state root (canonical, as dokles reports paths under it).
    pub fn root(&self) -> PathBuf {
        fs::canonicalize(self.root.path()).expect("canonical root")
    }

    /// `dokles --root <root> docker <args>`, not yet started.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(binary());
        c.arg("--root")
            .arg(self.root.path())
            .arg("docker")
            .args(args)
            .env_remove("DOKLES_ROOT")
            .env("TZ", "UTC")
            .stdin(Stdio::null());
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        Output::from_process(self.command(args).output().expect("run dokles"))
    }

    /// Run with `input` on stdin.
    pub fn run_stdin(&self, args: &[&str], input: &[u8]) -> Output {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn dokles");
        let mut stdin = child.stdin.take().expect("stdin");
        let data = input.to_vec();
        let writer = std::thread::spawn(move || {
            // The command may exit before reading everything; that is its business.
            let _ = stdin.write_all(&data);
        });
        let out = child.wait_with_output().expect("wait dokles");
        writer.join().expect("stdin writer");
        Output::from_process(out)
    }

    /// Run and assert success; returns stdout.
    #[track_caller]
    pub fn ok(&self, args: &[&str]) -> String {
        self.run(args).ok().to_string()
    }

    /// `docker import` the busybox rootfs as `tag`; returns the full image ID.
    #[track_caller]
    pub fn import_busybox(&self, tag: &str) -> String {
        let tar = busybox_rootfs_tar(self.work.path());
        self.ok(&["import", tar.to_str().unwrap(), tag])
            .trim()
            .to_string()
    }

    /// `docker load -i` an archive; returns stdout.
    #[track_caller]
    pub fn load(&self, archive: &Path) -> String {
        self.ok(&["load", "-i", archive.to_str().unwrap()])
    }

    /// The full ID `name` resolves to.
    #[track_caller]
    pub fn id_of(&self, name: &str) -> String {
        self.ok(&["image", "inspect", "-f", "{{.Id}}", name])
            .trim()
            .to_string()
    }

    /// Image store directories that must not hold leftovers after a writer ran.
    pub fn layer_dirs(&self) -> Vec<String> {
        list_dir(&self.root().join("image/layers"))
    }

    pub fn staging_entries(&self) -> Vec<String> {
        list_dir(&self.root().join("tmp"))
    }
}

impl Drop for Dokles {
    /// Removes whatever containers the test left, a failing test's too, so that no monitor,
    /// container process or mount outlives it (the state root goes with the `TempDir`).
    fn drop(&mut self) {
        let any = fs::read_dir(self.root.path().join("containers"))
            .is_ok_and(|mut entries| entries.next().is_some());
        if !any {
            return;
        }
        let Ok(listed) = self.command(&["ps", "-aq", "--no-trunc"]).output() else {
            return;
        };
        let ids = String::from_utf8_lossy(&listed.stdout).into_owned();
        let ids: Vec<&str> = ids.split_whitespace().collect();
        if !ids.is_empty() {
            let mut args = vec!["rm", "-f"];
            args.extend(ids);
            let _ = self.command(&args).output();
        }
    }
}

impl Default for Dokles {
    fn default() -> Self {
        Self::new()
    }
}

/// Names in `dir`, sorted; empty if it does not exist.
pub fn list_dir(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = match fs::read_dir(dir) {
        Ok(rd) => rd
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    };
    v.sort();
    v
}

/// A name no other test (or earlier run) uses: `prefix-<random hex>`.
pub fn unique_name(prefix: &str) -> String {
    let mut buf = [0u8; 6];
    File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .expect("urandom");
    format!("{prefix}-{}", hex::encode(buf))
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

fn sha256_file(path: &Path) -> String {
    let mut f = File::open(path).expect("open for hashing");
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).expect("read for hashing");
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    hex::encode(h.finalize())
}

/// The applets the host's busybox provides.
fn busybox_applets() -> Vec<String> {
    let out = Command::new("/bin/busybox")
        .arg("--list")
        .output()
        .expect("busybox-static is installed at /bin/busybox");
    let mut applets: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|a| !a.is_empty() && *a != "busybox")
        .map(str::to_string)
        .collect();
    applets.sort();
    applets
}

const FIXED_MTIME: u64 = 1_700_000_000;

fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_size(size);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(FIXED_MTIME);
    h
}

/// A busybox root filesystem as a tar (the same bytes on every call): `bin/busybox`, an
/// applet symlink for each applet, `etc/`, `tmp/`. Built once per test process, in memory.
pub fn busybox_rootfs() -> &'static [u8] {
    static TAR: OnceLock<Vec<u8>> = OnceLock::new();
    TAR.get_or_init(|| {
        let mut b = tar::Builder::new(Vec::new());
        for dir in ["bin/", "etc/", "tmp/"] {
            let mut h = header(tar::EntryType::Directory, 0o755, 0);
            b.append_data(&mut h, dir, std::io::empty()).unwrap();
        }
        let busybox = fs::read("/bin/busybox").expect("read /bin/busybox");
        let mut h = header(tar::EntryType::Regular, 0o755, busybox.len() as u64);
        b.append_data(&mut h, "bin/busybox", &busybox[..]).unwrap();
        for applet in busybox_applets() {
            let mut h = header(tar::EntryType::Symlink, 0o777, 0);
            b.append_link(&mut h, format!("bin/{applet}"), "busybox")
                .unwrap();
        }
        b.into_inner().unwrap()
    })
}

/// Write [`busybox_rootfs`] to `dir/busybox-rootfs.tar` (if not there yet) and return its path.
pub fn busybox_rootfs_tar(dir: &Path) -> PathBuf {
    let path = dir.join("busybox-rootfs.tar");
    if !path.exists() {
        fs::write(&path, busybox_rootfs()).expect("write rootfs tar");
    }
    path
}

/// The busybox rootfs plus `etc/salt` holding `salt`.
fn salted_rootfs(salt: &str) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut a = tar::Archive::new(busybox_rootfs());
    for e in a.entries().unwrap() {
        let e = e.unwrap();
        let h = e.header().clone();
        b.append(&h, e).unwrap();
    }
    let mut h = header(tar::EntryType::Regular, 0o644, salt.len() as u64);
    b.append_data(&mut h, "etc/salt", salt.as_bytes()).unwrap();
    b.into_inner().unwrap()
}

/// A tar holding one file.
pub fn single_file_tar(name: &str, content: &[u8]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = header(tar::EntryType::Regular, 0o644, content.len() as u64);
    b.append_data(&mut h, name, content).unwrap();
    b.into_inner().unwrap()
}

/// What goes into a test image built by [`ArchiveSpec::write`].
#[derive(Debug, Clone)]
pub struct ArchiveSpec {
    /// `RepoTags` in the archive's manifest.
    pub tags: Vec<String>,
    /// Content of `/etc/motd`, the second layer; different texts give different images.
    pub motd: String,
    /// The image's `created` time.
    pub created: String,
    /// Extra labels.
    pub labels: Vec<(String, String)>,
    /// Written as `/etc/salt` into the base layer, to give it a layer no other image has.
    pub salt: Option<String>,
}

impl ArchiveSpec {
    pub fn new(tags: &[&str], motd: &str) -> Self {
        Self {
            tags: tags.iter().map(|s| s.to_string()).collect(),
            motd: motd.to_string(),
            created: "2024-01-02T03:04:05.123456789Z".to_string(),
            labels: Vec::new(),
            salt: None,
        }
    }

    /// Make the base layer unique to this image (so removing it deletes it, whatever else a
    /// shared Docker daemon holds).
    pub fn salt(mut self, salt: &str) -> Self {
        self.salt = Some(salt.to_string());
        self
    }

    pub fn created(mut self, t: &str) -> Self {
        self.created = t.to_string();
        self
    }

    pub fn label(mut self, k: &str, v: &str) -> Self {
        self.labels.push((k.to_string(), v.to_string()));
        self
    }

    /// The image config this spec describes, given the diff IDs of its two layers.
    fn config(&self, diff_ids: &[String]) -> Vec<u8> {
        let mut labels = serde_json::Map::new();
        labels.insert("org.dokles.test".into(), json!("busybox"));
        for (k, v) in &self.labels {
            labels.insert(k.clone(), json!(v));
        }
        let c = &self.created;
        let config = json!({
            "architecture": "amd64",
            "config": {
                "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                "Cmd": ["sh"],
                "WorkingDir": "/",
                "Labels": labels,
            },
            "created": c,
            "history": [
                {"created": c, "created_by": "/bin/sh -c #(nop) ADD file:4f6f35b2b4d1e3d08e8b6f0e0d64a3e1b6a1b0a2c1f0e9d8 in / "},
                {"created": c, "created_by": "/bin/sh -c #(nop) COPY file:motd in /etc/motd ", "comment": "motd for tests"},
                {"created": c, "created_by": "/bin/sh -c #(nop)  LABEL org.dokles.test=busybox", "empty_layer": true},
                {"created": c, "created_by": "/bin/sh -c #(nop)  CMD [\"sh\"]", "empty_layer": true},
            ],
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        });
        serde_json::to_vec(&config).unwrap()
    }

    /// Write the image as a classic docker-archive (what `docker save` of Docker < 25 writes)
    /// to `path`; returns the image ID (`sha256:…`).
    pub fn write(&self, path: &Path) -> String {
        let base = match &self.salt {
            None => busybox_rootfs().to_vec(),
            Some(salt) => salted_rootfs(salt),
        };
        let motd = single_file_tar("etc/motd", self.motd.as_bytes());
        let layers = [base, motd];
        let diff_ids: Vec<String> = layers
            .iter()
            .map(|l| format!("sha256:{}", sha256_hex(l)))
            .collect();
        let config = self.config(&diff_ids);
        let id = sha256_hex(&config);
        let mut b = tar::Builder::new(File::create(path).expect("create archive"));
        let mut manifest_layers = Vec::new();
        for (layer, diff_id) in layers.iter().zip(&diff_ids) {
            let dir = diff_id.trim_start_matches("sha256:");
            let mut h = header(tar::EntryType::Directory, 0o755, 0);
            b.append_data(&mut h, format!("{dir}/"), std::io::empty())
                .unwrap();
            let mut h = header(tar::EntryType::Regular, 0o644, layer.len() as u64);
            b.append_data(&mut h, format!("{dir}/layer.tar"), &layer[..])
                .unwrap();
            manifest_layers.push(format!("{dir}/layer.tar"));
        }
        append_bytes(&mut b, &format!("{id}.json"), &config);
        let manifest = json!([{
            "Config": format!("{id}.json"),
            "RepoTags": if self.tags.is_empty() { Value::Null } else { json!(self.tags) },
            "Layers": manifest_layers,
        }]);
        append_bytes(
            &mut b,
            "manifest.json",
            &serde_json::to_vec(&manifest).unwrap(),
        );
        b.into_inner().unwrap().sync_all().unwrap();
        format!("sha256:{id}")
    }
}

pub fn append_bytes<W: Write>(b: &mut tar::Builder<W>, name: &str, data: &[u8]) {
    let mut h = header(tar::EntryType::Regular, 0o644, data.len() as u64);
    b.append_data(&mut h, name, data).unwrap();
}

/// A docker-archive whose only layer is a single file of `size` random bytes; returns the
/// image ID. Used to have a load that takes long enough to be interrupted.
pub fn write_big_archive(dir: &Path, tag: &str, size: u64) -> PathBuf {
    let layer_path = dir.join("big-layer.tar");
    {
        let mut b = tar::Builder::new(File::create(&layer_path).unwrap());
        let mut h = header(tar::EntryType::Regular, 0o644, size);
        let random = File::open("/dev/urandom").unwrap().take(size);
        b.append_data(&mut h, "random.bin", random).unwrap();
        b.into_inner().unwrap().sync_all().unwrap();
    }
    let diff_id = format!("sha256:{}", sha256_file(&layer_path));
    let config = serde_json::to_vec(&json!({
        "architecture": "amd64",
        "config": {"Cmd": ["sh"]},
        "created": "2024-01-02T03:04:05Z",
        "history": [{"created": "2024-01-02T03:04:05Z", "created_by": "random data"}],
        "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    }))
    .unwrap();
    let id = sha256_hex(&config);
    let archive = dir.join("big.tar");
    let mut b = tar::Builder::new(File::create(&archive).unwrap());
    append_bytes(&mut b, &format!("{id}.json"), &config);
    let manifest =
        json!([{"Config": format!("{id}.json"), "RepoTags": [tag], "Layers": ["layer/layer.tar"]}]);
    append_bytes(
        &mut b,
        "manifest.json",
        &serde_json::to_vec(&manifest).unwrap(),
    );
    b.append_path_with_name(&layer_path, "layer/layer.tar")
        .unwrap();
    b.into_inner().unwrap().sync_all().unwrap();
    fs::remove_file(&layer_path).unwrap();
    archive
}

/// Replace Docker's relative times ("Less than a second ago", "3 seconds ago",
/// "About a minute ago") by `<ago>` and re-align tables on runs of two or more spaces, so
/// that outputs taken a moment apart compare equal.
pub fn normalise(s: &str) -> String {
    let mut out = String::new();
    for line in s.lines() {
        let line = normalise_times(line);
        let cols: Vec<&str> = line
            .split("  ")
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .collect();
        out.push_str(&cols.join(" | "));
        out.push('\n');
    }
    out
}

fn normalise_times(line: &str) -> String {
    let mut line = line.replace("Less than a second ago", "<ago>");
    line = line.replace("About a minute ago", "<ago>");
    // "N seconds ago", "1 second ago"
    let words: Vec<&str> = line.split(' ').collect();
    let mut res: Vec<String> = Vec::new();
    let mut i = 0;
    while i < words.len() {
        if i + 2 < words.len()
            && words[i].chars().all(|c| c.is_ascii_digit())
            && !words[i].is_empty()
            && (words[i + 1] == "seconds" || words[i + 1] == "second")
            && words[i + 2] == "ago"
        {
            res.push("<ago>".to_string());
            i += 3;
        } else {
            res.push(words[i].to_string());
            i += 1;
        }
    }
    res.join(" ")
}

/// Replace image IDs — `sha256:` + 64 hex, bare 64 hex, and 12-hex short IDs standing as
/// words — by `<id>`, for outputs whose IDs depend on when an image was made (`import`).
pub fn mask_ids(s: &str) -> String {
    let is_hex = |w: &str| {
        w.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    let mut out = String::with_capacity(s.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        let bare = word.strip_prefix("sha256:").unwrap_or(word);
        if (bare.len() == 64 || (bare.len() == 12 && bare.len() == word.len())) && is_hex(bare) {
            out.push_str("<id>");
        } else {
            out.push_str(word);
        }
        word.clear();
    };
    for c in s.chars() {
        if c.is_ascii_alphanumeric() || c == ':' {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

/// Replace `path` (a state root) by `<root>`.
pub fn without_root(s: &str, root: &Path) -> String {
    s.replace(root.to_str().unwrap(), "<root>")
}

/// Short (12 hex) form of a `sha256:` ID.
pub fn short(id: &str) -> String {
    id.trim_start_matches("sha256:")[..12].to_string()
}

/// Parse JSON output.
#[track_caller]
pub fn json(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
}
