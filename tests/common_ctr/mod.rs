//! Harness for the container tests: a fresh dokles state root per test, the dokles binary
//! run as `dokles --root ROOT docker …`, a busybox test image, and a guard that removes every
//! container of the root when the test ends — and fails the test if any process, mount or
//! cgroup of it is left behind.
//!
//! The busybox image is a rootfs made of the host's static busybox with all its applet links
//! (`busybox --list-full`), an /etc/passwd with root and nobody, an /etc/group and a 1777
//! /tmp, imported with `CMD ["sh"]`. Its tarball is built once per test process, in a temp
//! dir of its own; tests run in parallel and share no fixed path.

#![allow(dead_code)]

use std::ffi::CString;
use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// The image name tests use.
pub const IMAGE: &str = "busybox:test";

/// The effective capabilities of Docker's default set, as /proc/<pid>/status shows them.
pub const DEFAULT_CAP_EFF: &str = "00000000a80425fb";

/// What a command did.
#[derive(Debug, Clone)]
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    fn of(o: std::process::Output) -> Self {
        Self {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

/// The busybox rootfs tarball, built on first use; its directory is removed at exit.
pub fn busybox_tar() -> &'static Path {
    static TAR: OnceLock<PathBuf> = OnceLock::new();
    TAR.get_or_init(|| {
        let dir = TempDir::with_prefix("dokles-ctr-image-").expect("image temp dir");
        let tar = dir.path().join("rootfs.tar");
        build_busybox_tar(&dir.path().join("rootfs"), &tar);
        let dir = dir.keep();
        IMAGE_DIR.set(dir).expect("image dir set once");
        // SAFETY: registering a plain extern "C" function with no captured state.
        unsafe { libc::atexit(remove_image_dir) };
        tar
    })
}

static IMAGE_DIR: OnceLock<PathBuf> = OnceLock::new();

extern "C" fn remove_image_dir() {
    if let Some(d) = IMAGE_DIR.get() {
        let _ = fs::remove_dir_all(d);
    }
}

fn build_busybox_tar(root: &Path, tar: &Path) {
    for d in ["bin", "etc", "tmp", "proc", "sys", "dev", "root", "mnt"] {
        fs::create_dir_all(root.join(d)).expect("rootfs dir");
    }
    fs::set_permissions(root.join("tmp"), fs::Permissions::from_mode(0o1777)).expect("chmod tmp");
    fs::copy("/bin/busybox", root.join("bin/busybox")).expect("copy busybox");
    let list = Command::new("/bin/busybox")
        .arg("--list-full")
        .output()
        .expect("busybox --list-full");
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        if applet == "bin/busybox" {
            continue;
        }
        let link = root.join(applet);
        fs::create_dir_all(link.parent().expect("applet dir")).expect("applet dir");
        symlink("/bin/busybox", &link).expect("applet link");
    }
    fs::write(
        root.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
    )
    .expect("passwd");
    fs::write(root.join("etc/group"), "root:x:0:\nnogroup:x:65534:\n").expect("group");
    let status = Command::new("tar")
        .arg("-C")
        .arg(root)
        .arg("-cf")
        .arg(tar)
        .arg(".")
        .status()
        .expect("tar");
    assert!(status.success(), "tar of the busybox rootfs failed");
}

/// One test's dokles: its own state root holding the busybox image. Dropping it removes
/// every container and checks nothing of them is left.
pub struct Dokles {
    _dir: TempDir,
    root: PathBuf,
    /// The dokles binary every command runs, and variables set in its environment.
    exe: PathBuf,
    env: Vec<(String, String)>,
}

impl Dokles {
    /// A fresh root with [`IMAGE`] imported.
    pub fn new() -> Self {
        let dir = TempDir::with_prefix("dokles-ctr-").expect("state temp dir");
        let root = dir.path().to_path_buf();
        Self::with_image(dir, root, Path::new(env!("CARGO_BIN_EXE_dokles")))
    }

    /// A fresh root in a directory below `parent` (a tmpfs makes large images unpack
    /// fast), with [`IMAGE`] imported, whose commands run the dokles binary `exe`.
    pub fn with_binary_in(parent: &Path, exe: &Path) -> Self {
        let dir = TempDir::with_prefix_in("dokles-ctr-", parent).expect("state temp dir");
        let root = dir.path().to_path_buf();
        Self::with_image(dir, root, exe)
    }

    /// A root that dokles creates itself, in a directory everyone may enter (as
    /// `/var/lib` is for the default root), with [`IMAGE`] imported.
    pub fn in_open_directory() -> Self {
        let dir = TempDir::with_prefix("dokles-ctr-").expect("state temp dir");
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).expect("chmod");
        let root = dir.path().join("state");
        Self::with_image(dir, root, Path::new(env!("CARGO_BIN_EXE_dokles")))
    }

    fn with_image(dir: TempDir, root: PathBuf, exe: &Path) -> Self {
        let d = Self {
            _dir: dir,
            root,
            exe: exe.to_path_buf(),
            env: Vec::new(),
        };
        let tar = busybox_tar().to_str().expect("utf-8 temp path").to_string();
        d.ok(&["import", "-c", r#"CMD ["sh"]"#, &tar, IMAGE]);
        d
    }

    /// Every later command also gets `key=value` in its environment.
    pub fn set_env(&mut self, key: &str, value: &str) {
        self.env.push((key.to_string(), value.to_string()));
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `docker <args>` on this root, not yet run (stdin on /dev/null).
    pub fn command(&self, args: &[&str]) -> Command {
        self.command_with(&self.exe, args)
    }

    /// `docker <args>` on this root run by the dokles binary `exe`, not yet run.
    pub fn command_with(&self, exe: &Path, args: &[&str]) -> Command {
        let mut c = Command::new(exe);
        c.arg("--root").arg(self.root()).arg("docker").args(args);
        c.envs(self.env.iter().map(|(k, v)| (k, v)));
        c.stdin(Stdio::null());
        c
    }

    /// Run `docker <args>` and collect what it did.
    pub fn run(&self, args: &[&str]) -> Out {
        Out::of(self.command(args).output().expect("run dokles"))
    }

    /// Run `docker <args>`, which must succeed; its stdout without the last newline.
    pub fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert_eq!(
            o.code, 0,
            "docker {args:?} failed: {}\nstdout: {}",
            o.stderr, o.stdout
        );
        o.stdout.trim_end_matches('\n').to_string()
    }

    /// Run `docker <args>`, which must fail with `code`; its stderr.
    pub fn fails(&self, args: &[&str], code: i32) -> String {
        let o = self.run(args);
        assert_eq!(
            o.code, code,
            "docker {args:?}: expected exit {code}\nstdout: {}\nstderr: {}",
            o.stdout, o.stderr
        );
        o.stderr
    }

    /// Start `docker <args>` without waiting (for `logs -f`, `wait`, a slow `stop`).
    pub fn spawn(&self, args: &[&str]) -> std::process::Child {
        self.command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn dokles")
    }

    /// `docker inspect -f TEMPLATE name`.
    pub fn inspect(&self, name: &str, template: &str) -> String {
        self.ok(&["inspect", "-f", template, name])
    }

    /// The container's `inspect` document.
    pub fn inspect_json(&self, name: &str) -> serde_json::Value {
        let out = self.ok(&["inspect", name]);
        let mut v: serde_json::Value = serde_json::from_str(&out).expect("inspect JSON");
        v.as_array_mut()
            .and_then(|a| a.pop())
            .expect("one inspect object")
    }

    /// `State.Status` of a container.
    pub fn status(&self, name: &str) -> String {
        self.inspect(name, "{{.State.Status}}")
    }

    /// Wait (up to 20 s) until the container's status is `status`.
    pub fn wait_status(&self, name: &str, status: &str) {
        wait_for(&format!("{name} to be {status}"), || {
            self.status(name) == status
        });
    }

    /// Full IDs of every container of this root.
    pub fn all_ids(&self) -> Vec<String> {
        self.ok(&["ps", "-aq", "--no-trunc"])
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// Everything of this root that outlives its containers: monitor or container processes,
    /// mounts, cgroups of the given container IDs. Empty when all is clean.
    pub fn leftovers(&self, ids: &[String]) -> Vec<String> {
        let root = self.root().to_string_lossy().into_owned();
        let mut found = Vec::new();
        for pid in processes() {
            let cmdline = fs::read(format!("/proc/{pid}/cmdline"))
                .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
                .unwrap_or_default();
            let proc_root = fs::read_link(format!("/proc/{pid}/root"))
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default();
            if cmdline.contains(&root) || proc_root.starts_with(&root) {
                found.push(format!("process {pid}: {cmdline} (root {proc_root})"));
            }
        }
        let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        found.extend(
            mountinfo
                .lines()
                .filter(|l| l.contains(&root))
                .map(|l| format!("mount: {l}")),
        );
        for id in ids {
            for dir in container_cgroup_dirs(id) {
                if dir.exists() {
                    found.push(format!("cgroup {}", dir.display()));
                }
            }
        }
        found
    }

    /// Wait (up to 10 s: a monitor unmounts after recording the exit) until nothing of
    /// these containers is left; what is left then.
    pub fn wait_clean(&self, ids: &[String]) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left = self.leftovers(ids);
            if left.is_empty() || Instant::now() > deadline {
                return left;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Remove every container (`rm -f`) and return what is left of them.
    pub fn remove_all(&self) -> Vec<String> {
        // Not `all_ids`: this runs in `drop`, where a failing `ps` must not panic.
        let ps = self.run(&["ps", "-aq", "--no-trunc"]);
        if ps.code != 0 {
            return vec![format!("ps -a failed: {}", ps.stderr)];
        }
        let ids: Vec<String> = ps.stdout.lines().map(str::to_string).collect();
        if !ids.is_empty() {
            let mut args = vec!["rm", "-f"];
            args.extend(ids.iter().map(String::as_str));
            let o = self.run(&args);
            if o.code != 0 {
                return vec![format!("rm -f failed: {}", o.stderr)];
            }
        }
        self.wait_clean(&ids)
    }
}

impl Drop for Dokles {
    fn drop(&mut self) {
        let left = self.remove_all();
        if !left.is_empty() {
            // Last resort so one failure does not leak into other tests.
            kill_processes_under(self.root());
            if !std::thread::panicking() {
                panic!("left behind after rm -f:\n{}", left.join("\n"));
            }
        }
    }
}

/// The directories of container `id`'s cgroup (default parent): one per v1 hierarchy, or
/// the one of cgroup v2.
pub fn container_cgroup_dirs(id: &str) -> Vec<PathBuf> {
    dokles::runtime::Cgroup::locate(Path::new(&format!("/dokles/{id}")))
        .expect("the host's cgroups")
        .dirs()
        .to_vec()
}

/// PIDs of all processes.
pub fn processes() -> Vec<i32> {
    fs::read_dir("/proc")
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// The PID of the `__monitor` process of container `id`.
pub fn monitor_pid(id: &str) -> Option<i32> {
    processes().into_iter().find(|pid| {
        fs::read(format!("/proc/{pid}/cmdline"))
            .map(|b| {
                let args: Vec<&[u8]> = b.split(|c| *c == 0).collect();
                args.contains(&&b"__monitor"[..]) && args.contains(&id.as_bytes())
            })
            .unwrap_or(false)
    })
}

/// Whether process `pid` exists and is not a zombie.
pub fn alive(pid: i32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            let state = s[s.rfind(')')? + 2..].chars().next()?;
            Some(state != 'Z' && state != 'X')
        })
        .unwrap_or(false)
}

fn kill_processes_under(root: &Path) {
    let root = root.to_string_lossy();
    for pid in processes() {
        let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        // Container processes (their root is under the state root) and monitors.
        let proc_root = fs::read_link(format!("/proc/{pid}/root")).unwrap_or_default();
        if String::from_utf8_lossy(&cmdline).contains(root.as_ref())
            || proc_root.starts_with(root.as_ref())
        {
            // SAFETY: kill(2) with a PID and a signal number has no memory effects.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
    let c = CString::new(root.as_bytes()).expect("path without NUL");
    // SAFETY: umount2 with a NUL-terminated path; failure is fine (nothing mounted).
    unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
}

/// Poll `cond` every 20 ms for up to 20 s; panic naming `what` if it never holds.
pub fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}
