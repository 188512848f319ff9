//! The low-level runtime, end to end: real namespaces, mounts and processes (run as root).
//!
//! Every test builds its own rootfs from the host's static busybox and runs real commands in
//! it. A container's mounts live in its own mount namespace and vanish with its processes;
//! [`Running`] kills a container that a failing test leaves behind.

use std::collections::BTreeSet;
use std::fs;
use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;

use dokles::runtime::cgroups::Version;
use dokles::runtime::{
    create, default_spec, exec_in, spawn, ContainerProcess, ExecErrorKind, ExecTarget, ExitStatus,
    RuntimeError, Stdio, StdioFd,
};
use nix::fcntl::OFlag;
use nix::sys::signal::Signal;
use nix::unistd::pipe2;
use oci_spec::runtime::{
    LinuxCpu, LinuxMemory, LinuxPids, LinuxResources, LinuxSeccompAction, LinuxSeccompArg,
    LinuxSeccompArgBuilder, LinuxSeccompBuilder, LinuxSeccompOperator, LinuxSyscall,
    LinuxSyscallBuilder, Mount, PosixRlimit, PosixRlimitBuilder, PosixRlimitType, Spec,
};
use tempfile::TempDir;

const PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The host's cgroup version (the tests run on v1/hybrid hosts and in the VM tier on v2).
fn cgroup_version() -> Version {
    dokles::runtime::cgroups::version().expect("the host's cgroup version")
}
const HOSTNAME: &str = "c0ffee123456";

/// A throw-away rootfs holding busybox and its applet links in `/bin`.
struct Rootfs {
    dir: TempDir,
}

impl Rootfs {
    fn new() -> Self {
        let dir = TempDir::new().expect("temp dir");
        let root = dir.path().join("rootfs");
        let bin = root.join("bin");
        fs::create_dir_all(&bin).expect("create bin");
        for d in ["proc", "sys", "dev", "tmp", "mnt", "etc"] {
            fs::create_dir_all(root.join(d)).expect("create rootfs dir");
        }
        fs::copy("/bin/busybox", bin.join("busybox")).expect("copy busybox");
        let list = Command::new("/bin/busybox")
            .arg("--list")
            .output()
            .expect("busybox --list");
        for applet in String::from_utf8_lossy(&list.stdout).lines() {
            if applet != "busybox" {
                symlink("busybox", bin.join(applet)).expect("applet link");
            }
        }
        Self { dir }
    }

    fn path(&self) -> PathBuf {
        self.dir.path().join("rootfs")
    }

    /// A directory beside the rootfs, on the host.
    fn host_dir(&self, name: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        fs::create_dir_all(&path).expect("host dir");
        path
    }

    fn spec(&self, args: &[&str]) -> Spec {
        default_spec(
            &self.path(),
            args.iter().map(|a| a.to_string()).collect(),
            vec![PATH.to_string()],
            Path::new("/"),
            HOSTNAME,
        )
    }
}

/// A container that is killed and reaped if the test ends before waiting for it.
struct Running {
    process: Option<ContainerProcess>,
}

impl Running {
    fn wait(mut self) -> ExitStatus {
        let process = self.process.take().expect("not waited yet");
        process.wait().expect("wait for container")
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(process) = self.process.take() {
            let _ = process.kill(Signal::SIGKILL);
            let _ = process.wait();
        }
    }
}

/// `docker exec` into `init`'s container, without seccomp.
fn target(init: &ContainerProcess) -> ExecTarget<'_> {
    ExecTarget {
        init: init.pid,
        seccomp: None,
    }
}

/// What a finished container printed and how it ended.
struct Output {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

fn pipe() -> (OwnedFd, OwnedFd) {
    pipe2(OFlag::O_CLOEXEC).expect("pipe")
}

fn read_all(fd: OwnedFd) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut text = String::new();
        fs::File::from(fd)
            .read_to_string(&mut text)
            .expect("read container output");
        text
    })
}

fn start(spec: &Spec, rootfs: &Path) -> Result<(Running, OwnedFd, OwnedFd), RuntimeError> {
    let (out_r, out_w) = pipe();
    let (err_r, err_w) = pipe();
    let stdio = Stdio {
        stdin: StdioFd::Null,
        stdout: StdioFd::Fd(out_w),
        stderr: StdioFd::Fd(err_w),
    };
    let process = spawn(spec, rootfs, stdio)?;
    Ok((
        Running {
            process: Some(process),
        },
        out_r,
        err_r,
    ))
}

fn run_spec(spec: &Spec, rootfs: &Path) -> Result<Output, RuntimeError> {
    let (running, out, err) = start(spec, rootfs)?;
    let (stdout, stderr) = (read_all(out), read_all(err));
    let status = running.wait();
    Ok(Output {
        status,
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
    })
}

/// Run `sh -c script` in a fresh default container.
fn sh(script: &str) -> Output {
    let rootfs = Rootfs::new();
    run_spec(&rootfs.spec(&["sh", "-c", script]), &rootfs.path()).expect("container runs")
}

#[test]
fn stdout_reaches_the_caller_through_a_pipe() {
    let out = sh("echo hi");
    assert_eq!(out.stdout, "hi\n");
    assert_eq!(out.status, ExitStatus::Exited(0));
}

#[test]
fn exit_codes_propagate() {
    let out = sh("echo oops >&2; exit 3");
    assert_eq!(out.stderr, "oops\n");
    assert_eq!(out.status, ExitStatus::Exited(3));
    assert_eq!(out.status.code(), 3);
}

#[test]
fn killed_by_sigkill_reports_137() {
    let rootfs = Rootfs::new();
    let (running, _out, _err) =
        start(&rootfs.spec(&["sleep", "100"]), &rootfs.path()).expect("container starts");
    running
        .process
        .as_ref()
        .expect("running")
        .kill(Signal::SIGKILL)
        .expect("kill");
    let status = running.wait();
    assert_eq!(status, ExitStatus::Signaled(Signal::SIGKILL));
    assert_eq!(status.code(), 137);
}

#[test]
fn the_command_is_pid_1_of_its_own_pid_namespace() {
    assert_eq!(sh("echo $$").stdout, "1\n");
}

#[test]
fn proc_is_fresh_and_shows_only_the_container() {
    let out = sh("ls /proc");
    let pids: Vec<&str> = out
        .stdout
        .split_whitespace()
        .filter(|e| e.chars().all(|c| c.is_ascii_digit()))
        .collect();
    assert!(
        !pids.is_empty() && pids.len() <= 2,
        "pids in /proc: {pids:?}"
    );
    assert!(pids.contains(&"1"));
}

#[test]
fn hostname_is_set_in_a_uts_namespace() {
    assert_eq!(sh("hostname").stdout, format!("{HOSTNAME}\n"));
    assert_ne!(
        nix::unistd::gethostname().expect("host name"),
        HOSTNAME,
        "the host's name must not change"
    );
}

#[test]
fn capabilities_are_dockers_default_set() {
    let out = sh("grep Cap /proc/self/status");
    assert_eq!(
        out.stdout,
        "CapInh:\t0000000000000000\n\
         CapPrm:\t00000000a80425fb\n\
         CapEff:\t00000000a80425fb\n\
         CapBnd:\t00000000a80425fb\n\
         CapAmb:\t0000000000000000\n"
    );
}

#[test]
fn a_non_root_user_gets_its_ids_and_no_capabilities() {
    let rootfs = Rootfs::new();
    let mut spec = rootfs.spec(&["sh", "-c", "id; grep CapEff /proc/self/status"]);
    let process = spec.process_mut().as_mut().expect("process");
    process.user_mut().set_uid(1000);
    process.user_mut().set_gid(1000);
    process.user_mut().set_additional_gids(Some(vec![10, 20]));
    let out = run_spec(&spec, &rootfs.path()).expect("container runs");
    assert_eq!(
        out.stdout,
        "uid=1000 gid=1000 groups=10,20\nCapEff:\t0000000000000000\n"
    );
}

#[test]
fn masked_paths_are_empty() {
    let out = sh(
        "cat /proc/keys /proc/timer_list /proc/sched_debug 2>/dev/null | wc -c; \
         ls -A /sys/firmware | wc -l; \
         if [ -e /proc/kcore ]; then wc -c < /proc/kcore; else echo 0; fi",
    );
    assert_eq!(
        out.stdout.split_whitespace().collect::<Vec<_>>(),
        ["0", "0", "0"]
    );
    let host_firmware = fs::read_dir("/sys/firmware").map_or(0, |d| d.count());
    assert!(host_firmware > 0, "the host shows /sys/firmware entries");
}

#[test]
fn readonly_paths_and_sys_refuse_writes() {
    // `: >` opens for writing and writes nothing: harmless even if the path were writable.
    // (In a subshell: a failed redirection of `:` ends a POSIX shell.)
    // This kernel may lack /proc/sysrq-trigger; the runtime skips read-only paths that are
    // missing, so only test it where it exists.
    let sysrq = if Path::new("/proc/sysrq-trigger").exists() {
        "(: > /proc/sysrq-trigger) && echo sysrq-writable;"
    } else {
        ""
    };
    let out = sh(&format!(
        "{sysrq} \
         (: > /proc/sys/kernel/domainname) && echo proc-sys-writable; \
         mkdir /proc/bus/dokles-test 2>/dev/null && echo proc-bus-writable; \
         mkdir /sys/dokles-test 2>/dev/null && echo sysfs-writable; \
         grep -c ' /proc/sys ro,' /proc/self/mountinfo"
    ));
    assert_eq!(out.stdout, "1\n", "stderr: {}", out.stderr);
    assert!(
        out.stderr.contains("Read-only file system"),
        "{}",
        out.stderr
    );
}

#[test]
fn mounting_needs_cap_sys_admin_which_the_container_lacks() {
    let out = sh("mount -t tmpfs x /mnt");
    assert_ne!(out.status, ExitStatus::Exited(0));
    assert!(out.stderr.contains("ermission denied") || out.stderr.contains("not permitted"));
}

#[test]
fn no_descriptor_of_the_caller_leaks_into_the_container() {
    // Descriptors without close-on-exec, as a careless caller would have them.
    let leaked: Vec<OwnedFd> = (0..3)
        .map(|_| {
            let fd = nix::fcntl::open("/", OFlag::O_RDONLY, nix::sys::stat::Mode::empty())
                .expect("open /");
            // SAFETY: `fd` was just opened and is owned by nobody else.
            unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) }
        })
        .collect();
    let out = sh("ls /proc/self/fd");
    let fds: BTreeSet<&str> = out.stdout.split_whitespace().collect();
    // 3 is the directory `ls` itself opened to list /proc/self/fd.
    assert_eq!(fds, BTreeSet::from(["0", "1", "2", "3"]), "{leaked:?}");
}

#[test]
fn the_working_directory_cannot_escape_through_a_leaked_descriptor() {
    let rootfs = Rootfs::new();
    let host = rootfs.host_dir("host-secret");
    let leaked = nix::fcntl::open(
        &host,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY,
        nix::sys::stat::Mode::empty(),
    )
    .expect("open host dir");
    // SAFETY: `leaked` was just opened and is owned by nobody else.
    let leaked = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(leaked) };
    let mut spec = rootfs.spec(&["touch", "escaped"]);
    spec.process_mut()
        .as_mut()
        .expect("process")
        .set_cwd(PathBuf::from(format!(
            "/proc/self/fd/{}",
            leaked.as_raw_fd()
        )));
    let result = run_spec(&spec, &rootfs.path());
    assert!(
        matches!(
            result,
            Err(RuntimeError::Setup { .. } | RuntimeError::Chdir { .. })
        ),
        "expected a setup error, got {:?}",
        result.map(|o| o.status)
    );
    assert!(
        !host.join("escaped").exists(),
        "the container wrote to the host"
    );
}

#[test]
fn dot_dot_in_the_working_directory_stays_inside_the_rootfs() {
    let rootfs = Rootfs::new();
    let mut spec = rootfs.spec(&["pwd"]);
    spec.process_mut()
        .as_mut()
        .expect("process")
        .set_cwd(PathBuf::from("/../../.."));
    let out = run_spec(&spec, &rootfs.path()).expect("container runs");
    assert_eq!(out.stdout, "/\n");
}

#[test]
fn a_missing_working_directory_is_created() {
    let rootfs = Rootfs::new();
    let mut spec = rootfs.spec(&["pwd"]);
    spec.process_mut()
        .as_mut()
        .expect("process")
        .set_cwd(PathBuf::from("/work/dir"));
    let out = run_spec(&spec, &rootfs.path()).expect("container runs");
    assert_eq!(out.stdout, "/work/dir\n");
    assert!(rootfs.path().join("work/dir").is_dir());
}

#[test]
fn proc_as_a_symlink_out_of_the_rootfs_is_refused() {
    let rootfs = Rootfs::new();
    fs::remove_dir(rootfs.path().join("proc")).expect("rm proc");
    symlink("/tmp", rootfs.path().join("proc")).expect("symlink proc");
    let result = run_spec(&rootfs.spec(&["true"]), &rootfs.path());
    match result {
        Err(RuntimeError::UnsafeMount { destination, .. }) => {
            assert_eq!(destination, Path::new("/proc"))
        }
        other => panic!(
            "expected an unsafe mount error, got {:?}",
            other.map(|o| o.status)
        ),
    }
}

#[test]
fn a_symlinked_mount_destination_resolves_inside_the_rootfs() {
    let rootfs = Rootfs::new();
    let outside = rootfs.host_dir("outside");
    let volume = rootfs.host_dir("volume");
    fs::write(volume.join("marker"), "from the volume\n").expect("marker");
    // /data points at an absolute host path: it must mean that path inside the rootfs.
    symlink(&outside, rootfs.path().join("data")).expect("symlink data");
    let mut spec = rootfs.spec(&["cat", "/data/marker"]);
    let mut bind = Mount::default();
    bind.set_destination(PathBuf::from("/data"));
    bind.set_typ(Some("bind".into()));
    bind.set_source(Some(volume.clone()));
    bind.set_options(Some(vec!["rbind".into(), "ro".into()]));
    spec.mounts_mut().as_mut().expect("mounts").push(bind);
    let out = run_spec(&spec, &rootfs.path()).expect("container runs");
    assert_eq!(out.stdout, "from the volume\n");
    assert_eq!(fs::read_dir(&outside).expect("outside").count(), 0);
    let inside = rootfs
        .path()
        .join(outside.strip_prefix("/").expect("absolute"));
    assert!(inside.is_dir(), "mount point created inside the rootfs");
}

#[test]
fn a_missing_command_is_not_found_like_docker_says() {
    let rootfs = Rootfs::new();
    let err = run_spec(&rootfs.spec(&["foo"]), &rootfs.path())
        .err()
        .expect("spawn fails");
    assert_eq!(
        err.to_string(),
        "exec: \"foo\": executable file not found in $PATH"
    );
    assert!(matches!(&err, RuntimeError::Exec(e) if e.kind == ExecErrorKind::NotInPath));
    assert_eq!(err.docker_exit_code(), 127);

    let err = run_spec(&rootfs.spec(&["/nope"]), &rootfs.path())
        .err()
        .expect("spawn fails");
    assert_eq!(
        err.to_string(),
        "exec: \"/nope\": stat /nope: no such file or directory"
    );
    assert_eq!(err.docker_exit_code(), 127);
}

#[test]
fn a_directory_is_not_executable_like_docker_says() {
    let rootfs = Rootfs::new();
    let err = run_spec(&rootfs.spec(&["/etc"]), &rootfs.path())
        .err()
        .expect("spawn fails");
    assert_eq!(err.to_string(), "exec: \"/etc\": permission denied");
    assert_eq!(err.docker_exit_code(), 126);
}

#[test]
fn the_network_namespace_has_only_loopback_and_it_is_up() {
    let out = sh("ls /sys/class/net; ip -o link show lo");
    let mut lines = out.stdout.lines();
    assert_eq!(lines.next(), Some("lo"));
    let lo = lines.next().expect("ip output");
    assert!(lo.contains("<LOOPBACK,UP,LOWER_UP>"), "{lo}");
    assert_eq!(lines.next(), None);
}

#[test]
fn dev_holds_dockers_devices_and_links() {
    let out = sh("ls -l /dev; echo x > /dev/null && echo null-ok");
    for device in ["null", "zero", "full", "random", "urandom", "tty"] {
        assert!(
            out.stdout
                .lines()
                .any(|l| l.starts_with("crw-rw-rw-") && l.ends_with(device)),
            "no /dev/{device} in:\n{}",
            out.stdout
        );
    }
    for (link, target) in [
        ("fd", "/proc/self/fd"),
        ("ptmx", "pts/ptmx"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        let check = sh(&format!("readlink /dev/{link}"));
        assert_eq!(check.stdout, format!("{target}\n"));
    }
    assert!(out.stdout.ends_with("null-ok\n"), "{}", out.stdout);
}

#[test]
fn the_default_mounts_match_dockers() {
    let out = sh("cat /proc/self/mountinfo");
    let mounts: Vec<(String, String, String)> = out
        .stdout
        .lines()
        .filter_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            let left: Vec<&str> = left.split(' ').collect();
            let fstype = right.split(' ').next()?;
            Some((left[4].to_string(), left[5].to_string(), fstype.to_string()))
        })
        .collect();
    let find = |point: &str| {
        mounts
            .iter()
            .find(|(p, _, _)| p == point)
            .unwrap_or_else(|| panic!("{point} not mounted:\n{}", out.stdout))
    };
    assert_eq!(find("/proc").2, "proc");
    assert_eq!(find("/dev").2, "tmpfs");
    assert_eq!(find("/dev/pts").2, "devpts");
    assert_eq!(find("/dev/shm").2, "tmpfs");
    assert_eq!(find("/dev/mqueue").2, "mqueue");
    let sys = find("/sys");
    assert_eq!(sys.2, "sysfs");
    assert!(sys.1.starts_with("ro,"), "{sys:?}");
    // A read-only view of the container's own cgroup: per v1 hierarchy, or the v2 one.
    let cgroup = match cgroup_version() {
        Version::V1 => find("/sys/fs/cgroup/memory"),
        Version::V2 => find("/sys/fs/cgroup"),
    };
    assert!(cgroup.1.starts_with("ro,"), "{cgroup:?}");
}

/// A spec with its own cgroup (relative: nested in this test process's cgroup) and limits.
fn limited_spec(rootfs: &Rootfs, script: &str) -> Spec {
    let mut spec = rootfs.spec(&["sh", "-c", script]);
    let name = rootfs
        .dir
        .path()
        .file_name()
        .expect("temp dir name")
        .to_string_lossy()
        .into_owned();
    let mut memory = LinuxMemory::default();
    memory.set_limit(Some(32 * 1024 * 1024));
    let mut pids = LinuxPids::default();
    pids.set_limit(6);
    let mut cpu = LinuxCpu::default();
    cpu.set_shares(Some(512));
    cpu.set_period(Some(100_000));
    cpu.set_quota(Some(50_000));
    let mut resources = LinuxResources::default();
    resources.set_memory(Some(memory));
    resources.set_pids(Some(pids));
    resources.set_cpu(Some(cpu));
    let linux = spec.linux_mut().as_mut().expect("linux");
    linux.set_cgroups_path(Some(PathBuf::from(format!("dokles-test-{name}"))));
    linux.set_resources(Some(resources));
    spec
}

#[test]
fn cgroup_limits_apply_and_show_inside_the_container() {
    let rootfs = Rootfs::new();
    // The container stays up until its stdin closes, so the host can look at its cgroup.
    let (script, expected) = match cgroup_version() {
        Version::V1 => (
            "cat /sys/fs/cgroup/memory/memory.limit_in_bytes \
                 /sys/fs/cgroup/pids/pids.max \
                 /sys/fs/cgroup/cpu/cpu.shares \
                 /sys/fs/cgroup/cpu/cpu.cfs_quota_us; \
             grep -c $$ /sys/fs/cgroup/memory/cgroup.procs; \
             cat > /dev/null",
            "33554432\n6\n512\n50000\n1\n",
        ),
        // Shares 512 are weight 20; the quota goes with its period.
        Version::V2 => (
            "cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max /sys/fs/cgroup/cpu.weight \
                 /sys/fs/cgroup/cpu.max; \
             grep -c $$ /sys/fs/cgroup/cgroup.procs; \
             cat > /dev/null",
            "33554432\n6\n20\n50000 100000\n1\n",
        ),
    };
    let spec = limited_spec(&rootfs, script);
    let (in_r, in_w) = pipe();
    let (out_r, out_w) = pipe();
    let stdio = Stdio {
        stdin: StdioFd::Fd(in_r),
        stdout: StdioFd::Fd(out_w),
        stderr: StdioFd::Inherit,
    };
    let running = Running {
        process: Some(spawn(&spec, &rootfs.path(), stdio).expect("container starts")),
    };
    let process = running.process.as_ref().expect("running");
    let dirs = process.cgroup().expect("a cgroup").dirs().to_vec();
    let host_pid = process.pid.to_string();
    for dir in &dirs {
        let procs = fs::read_to_string(dir.join("cgroup.procs")).expect("cgroup.procs");
        assert!(
            procs.lines().any(|p| p == host_pid),
            "init {host_pid} not in {}: {procs:?}",
            dir.display()
        );
    }
    drop(in_w);
    let stdout = read_all(out_r);
    assert_eq!(running.wait(), ExitStatus::Exited(0));
    assert_eq!(stdout.join().expect("stdout"), expected);
    for dir in dirs {
        assert!(!dir.exists(), "cgroup {} left behind", dir.display());
    }
}

#[test]
fn the_pids_limit_stops_a_fork_bomb() {
    let rootfs = Rootfs::new();
    let spec = limited_spec(
        &rootfs,
        "for i in 1 2 3 4 5 6 7 8 9 10; do sleep 2 & done; kill $(jobs -p) 2>/dev/null; wait",
    );
    let out = run_spec(&spec, &rootfs.path()).expect("container runs");
    assert!(out.stderr.contains("can't fork"), "stderr: {}", out.stderr);
}

#[test]
fn a_created_container_runs_its_command_only_when_started() {
    let rootfs = Rootfs::new();
    let spec = rootfs.spec(&["touch", "/ran"]);
    let created = create(&spec, &rootfs.path(), Stdio::null()).expect("container created");
    let pid = created.pid();
    let own_net = fs::read_link("/proc/self/ns/net").expect("own netns");
    let container_net = fs::read_link(format!("/proc/{pid}/ns/net")).expect("container netns");
    assert_ne!(
        own_net, container_net,
        "the container has a network namespace of its own"
    );
    assert!(!rootfs.path().join("ran").exists(), "ran before start");
    let running = Running {
        process: Some(created.start().expect("container starts")),
    };
    assert_eq!(running.wait(), ExitStatus::Exited(0));
    assert!(
        rootfs.path().join("ran").exists(),
        "did not run after start"
    );
}

#[test]
fn dropping_a_created_container_kills_it() {
    let rootfs = Rootfs::new();
    let spec = rootfs.spec(&["touch", "/ran"]);
    let created = create(&spec, &rootfs.path(), Stdio::null()).expect("container created");
    let pid = created.pid();
    drop(created);
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "init {pid} still there"
    );
    assert!(!rootfs.path().join("ran").exists());
}

#[test]
fn exec_runs_a_second_process_inside_a_running_container() {
    let rootfs = Rootfs::new();
    fs::write(rootfs.path().join("etc/motd"), "inside\n").expect("motd");
    let spec = limited_spec(&rootfs, "exec sleep 100");
    let (container, _out, _err) = start(&spec, &rootfs.path()).expect("container starts");
    let init = container.process.as_ref().expect("running");

    let mut process = spec.process().clone().expect("process");
    // In the container's cgroup: memory's and devices' on v1, the one on v2.
    let (procs, joined) = match cgroup_version() {
        Version::V1 => (
            "/sys/fs/cgroup/memory/cgroup.procs /sys/fs/cgroup/devices/cgroup.procs",
            "2",
        ),
        Version::V2 => ("/sys/fs/cgroup/cgroup.procs", "1"),
    };
    process.set_args(Some(vec![
        "sh".into(),
        "-c".into(),
        format!(
            "echo $$; hostname; cat /etc/motd /proc/1/cmdline; echo; \
             grep CapEff /proc/self/status; cat {procs} | grep -c \"^$$\\$\""
        ),
    ]));
    let (out_r, out_w) = pipe();
    let stdio = Stdio {
        stdin: StdioFd::Null,
        stdout: StdioFd::Fd(out_w),
        stderr: StdioFd::Inherit,
    };
    let exec = Running {
        process: Some(
            exec_in(
                ExecTarget {
                    init: init.pid,
                    seccomp: None,
                },
                &process,
                stdio,
            )
            .expect("exec starts"),
        ),
    };
    let stdout = read_all(out_r);
    assert_eq!(exec.wait(), ExitStatus::Exited(0));
    let stdout = stdout.join().expect("stdout");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_ne!(lines[0], "1", "the exec'd process is not the init");
    assert!(
        lines[0].parse::<u32>().is_ok_and(|pid| pid < 100),
        "{stdout}"
    );
    assert_eq!(
        &lines[1..],
        [
            HOSTNAME,
            "inside",
            "sleep\u{0}100\u{0}",
            "CapEff:\t00000000a80425fb",
            joined
        ]
    );
}

#[test]
fn exec_of_a_missing_command_is_not_found() {
    let rootfs = Rootfs::new();
    let spec = rootfs.spec(&["sleep", "100"]);
    let (container, _out, _err) = start(&spec, &rootfs.path()).expect("container starts");
    let init = container.process.as_ref().expect("running");
    let mut process = spec.process().clone().expect("process");
    process.set_args(Some(vec!["foo".into()]));
    let err = exec_in(target(init), &process, Stdio::null()).expect_err("exec fails");
    assert_eq!(
        err.to_string(),
        "exec: \"foo\": executable file not found in $PATH"
    );
    assert_eq!(err.docker_exit_code(), 127);
}

/// Everything readable from a pty master until the slave side is gone (EIO).
fn read_console(master: OwnedFd) -> String {
    let mut file = fs::File::from(master);
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match file.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => bytes.extend_from_slice(&chunk[..n]),
            Err(e) if e.raw_os_error() == Some(libc::EIO) => break,
            Err(e) => panic!("reading the console: {e}"),
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

#[test]
fn a_terminal_is_a_pty_of_the_containers_own_devpts() {
    let rootfs = Rootfs::new();
    let mut spec = rootfs.spec(&[
        "sh",
        "-c",
        "tty; stty size; [ -t 0 ] && [ -t 2 ] && echo stdio-is-tty; \
         [ /dev/console -ef /dev/pts/0 ] && echo console-is-pts0",
    ]);
    let process = spec.process_mut().as_mut().expect("process");
    process.set_terminal(Some(true));
    let size = oci_spec::runtime::BoxBuilder::default()
        .height(24u64)
        .width(80u64)
        .build()
        .expect("console size");
    process.set_console_size(Some(size));
    let mut created = create(&spec, &rootfs.path(), Stdio::null()).expect("container created");
    let master = created.take_console().expect("a console");
    let reader = thread::spawn(move || read_console(master));
    let running = Running {
        process: Some(created.start().expect("container starts")),
    };
    assert_eq!(running.wait(), ExitStatus::Exited(0));
    assert_eq!(
        reader.join().expect("console reader"),
        "/dev/pts/0\r\n24 80\r\nstdio-is-tty\r\nconsole-is-pts0\r\n"
    );
}

#[test]
fn exec_can_have_a_terminal_of_its_own() {
    let rootfs = Rootfs::new();
    let spec = rootfs.spec(&["sleep", "100"]);
    let (container, _out, _err) = start(&spec, &rootfs.path()).expect("container starts");
    let init = container.process.as_ref().expect("running");
    let mut process = spec.process().clone().expect("process");
    process.set_args(Some(vec!["tty".into()]));
    process.set_terminal(Some(true));
    let mut exec = exec_in(target(init), &process, Stdio::null()).expect("exec starts");
    let master = exec.take_console().expect("a console");
    let reader = thread::spawn(move || read_console(master));
    let exec = Running {
        process: Some(exec),
    };
    assert_eq!(exec.wait(), ExitStatus::Exited(0));
    assert_eq!(reader.join().expect("console reader"), "/dev/pts/0\r\n");
}

fn rlimit(typ: PosixRlimitType, soft: u64, hard: u64) -> PosixRlimit {
    PosixRlimitBuilder::default()
        .typ(typ)
        .soft(soft)
        .hard(hard)
        .build()
        .expect("rlimit")
}

#[test]
fn rlimits_and_oom_score_adj_apply_to_the_process() {
    let rootfs = Rootfs::new();
    let mut spec = rootfs.spec(&[
        "sh",
        "-c",
        "ulimit -n; ulimit -Hn; cat /proc/self/oom_score_adj",
    ]);
    let process = spec.process_mut().as_mut().expect("process");
    process.set_rlimits(Some(vec![rlimit(PosixRlimitType::RlimitNofile, 256, 512)]));
    process.set_oom_score_adj(Some(500));
    let out = run_spec(&spec, &rootfs.path()).expect("container runs");
    assert_eq!(out.stdout, "256\n512\n500\n");
}

#[test]
fn raising_a_hard_rlimit_fails_clearly() {
    let rootfs = Rootfs::new();
    let mut spec = rootfs.spec(&["true"]);
    let (_, hard) = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        .expect("own limit");
    let above = hard.saturating_mul(2).max(hard + 1);
    spec.process_mut()
        .as_mut()
        .expect("process")
        .set_rlimits(Some(vec![rlimit(
            PosixRlimitType::RlimitNofile,
            above,
            above,
        )]));
    match run_spec(&spec, &rootfs.path()) {
        // Root with CAP_SYS_RESOURCE may raise it; where that is refused, the error says so.
        Ok(out) => assert_eq!(out.status, ExitStatus::Exited(0)),
        Err(RuntimeError::Setup { step, message }) => {
            assert_eq!(step, format!("setting RLIMIT_NOFILE to {above}:{above}"));
            assert!(
                message.contains(&format!("may not be raised above {hard}")),
                "{message}"
            );
        }
        Err(other) => panic!("unexpected error: {other}"),
    }
}

#[test]
fn namespaced_sysctls_are_set_and_others_refused() {
    let rootfs = Rootfs::new();
    let mut spec = rootfs.spec(&[
        "cat",
        "/proc/sys/kernel/shmmni",
        "/proc/sys/net/ipv4/tcp_keepalive_time",
    ]);
    let linux = spec.linux_mut().as_mut().expect("linux");
    linux.set_sysctl(Some(
        [
            ("kernel.shmmni".to_string(), "1234".to_string()),
            ("net.ipv4.tcp_keepalive_time".to_string(), "600".to_string()),
        ]
        .into(),
    ));
    let out = run_spec(&spec, &rootfs.path()).expect("container runs");
    assert_eq!(out.stdout, "1234\n600\n");
    assert_ne!(
        fs::read_to_string("/proc/sys/kernel/shmmni").expect("host shmmni"),
        "1234\n",
        "the host's value must not change"
    );

    let linux = spec.linux_mut().as_mut().expect("linux");
    linux.set_sysctl(Some(
        [("vm.swappiness".to_string(), "10".to_string())].into(),
    ));
    let err = run_spec(&spec, &rootfs.path()).err().map(|e| e.to_string());
    assert!(
        err.as_deref()
            .is_some_and(|e| e.contains("sysctl \"vm.swappiness\" is not allowed")),
        "{err:?}"
    );
}

fn syscall_rule(
    names: &[&str],
    action: LinuxSeccompAction,
    args: Vec<LinuxSeccompArg>,
) -> LinuxSyscall {
    let mut rule = LinuxSyscallBuilder::default()
        .names(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
        .action(action)
        .build()
        .expect("rule");
    if action == LinuxSeccompAction::ScmpActErrno {
        rule.set_errno_ret(Some(libc::ENOSYS as u32));
    }
    if !args.is_empty() {
        rule.set_args(Some(args));
    }
    rule
}

fn arg(
    index: usize,
    op: LinuxSeccompOperator,
    value: u64,
    value_two: Option<u64>,
) -> LinuxSeccompArg {
    let mut builder = LinuxSeccompArgBuilder::default()
        .index(index)
        .op(op)
        .value(value);
    if let Some(two) = value_two {
        builder = builder.value_two(two);
    }
    builder.build().expect("seccomp arg")
}

#[test]
fn seccomp_filters_system_calls_by_name_and_argument() {
    use LinuxSeccompOperator::*;
    let rootfs = Rootfs::new();
    let mut spec = rootfs.spec(&[
        "sh",
        "-c",
        "grep Seccomp: /proc/self/status; \
         mkdir /made && echo mkdir-allowed; \
         for pid in 1 77 500 501 66 322 200000; do kill -0 $pid; done",
    ]);
    let errno = LinuxSeccompAction::ScmpActErrno;
    let seccomp = LinuxSeccompBuilder::default()
        .default_action(LinuxSeccompAction::ScmpActAllow)
        .syscalls(vec![
            syscall_rule(&["mkdir", "mkdirat", "no_such_syscall"], errno, vec![]),
            syscall_rule(&["kill"], errno, vec![arg(0, ScmpCmpEq, 500, None)]),
            syscall_rule(&["kill"], errno, vec![arg(0, ScmpCmpGt, 100_000, None)]),
            syscall_rule(
                &["kill"],
                errno,
                vec![arg(0, ScmpCmpMaskedEq, 0xff, Some(0x42))],
            ),
        ])
        .build()
        .expect("seccomp");
    spec.linux_mut()
        .as_mut()
        .expect("linux")
        .set_seccomp(Some(seccomp));
    let out = run_spec(&spec, &rootfs.path()).expect("container runs");
    assert_eq!(out.stdout, "Seccomp:\t2\n", "stderr: {}", out.stderr);
    let denied = |what: &str| format!("{what}: Function not implemented");
    let missing = |pid: u32| format!("can't kill pid {pid}: No such process");
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert!(
        lines[0].ends_with(&denied("can't create directory '/made'")),
        "{lines:?}"
    );
    let kills: Vec<String> = [77, 500, 501, 66, 322, 200_000]
        .iter()
        .map(|&pid| match pid {
            77 | 501 => missing(pid),
            _ => denied(&format!("can't kill pid {pid}")),
        })
        .collect();
    assert_eq!(lines.len(), 1 + kills.len(), "{lines:?}");
    for (line, want) in lines[1..].iter().zip(&kills) {
        assert!(
            line.ends_with(want.as_str()),
            "{line:?} should end with {want:?}"
        );
    }
}

/// An overlay mount on the host, unmounted when dropped.
struct Overlay {
    merged: PathBuf,
}

impl Overlay {
    fn new(lower: &Path, scratch: &Path) -> Self {
        let (upper, work, merged) = (
            scratch.join("upper"),
            scratch.join("work"),
            scratch.join("merged"),
        );
        for dir in [&upper, &work, &merged] {
            fs::create_dir_all(dir).expect("overlay dir");
        }
        let data = format!(
            "lowerdir={},upperdir={},workdir={}",
            lower.display(),
            upper.display(),
            work.display()
        );
        nix::mount::mount(
            Some("overlay"),
            &merged,
            Some("overlay"),
            nix::mount::MsFlags::empty(),
            Some(data.as_str()),
        )
        .expect("mount overlay");
        Self { merged }
    }
}

impl Drop for Overlay {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.merged, nix::mount::MntFlags::MNT_DETACH);
    }
}

#[test]
fn an_overlay_rootfs_takes_the_containers_writes_in_its_upper_layer() {
    let rootfs = Rootfs::new();
    let scratch = rootfs.host_dir("overlay");
    let overlay = Overlay::new(&rootfs.path(), &scratch);
    let spec = default_spec(
        &overlay.merged,
        vec![
            "sh".into(),
            "-c".into(),
            "echo data > /written; rm /bin/vi; echo done".into(),
        ],
        vec![PATH.to_string()],
        Path::new("/"),
        HOSTNAME,
    );
    let out = run_spec(&spec, &overlay.merged).expect("container runs");
    assert_eq!(out.stdout, "done\n", "stderr: {}", out.stderr);
    assert_eq!(
        fs::read_to_string(scratch.join("upper/written")).expect("upper layer"),
        "data\n"
    );
    assert!(
        !rootfs.path().join("written").exists(),
        "the lower layer is untouched"
    );
    assert!(
        rootfs.path().join("bin/vi").exists(),
        "the lower layer is untouched"
    );
    drop(overlay);
}

#[test]
fn a_read_only_file_bind_mount_is_read_only() {
    let rootfs = Rootfs::new();
    let host_file = rootfs.host_dir("config").join("hostname");
    fs::write(&host_file, "from-the-host\n").expect("host file");
    let mut spec = rootfs.spec(&[
        "sh",
        "-c",
        "cat /etc/hostname; (echo x > /etc/hostname) && echo writable",
    ]);
    let mut bind = Mount::default();
    bind.set_destination(PathBuf::from("/etc/hostname"));
    bind.set_typ(Some("bind".into()));
    bind.set_source(Some(host_file.clone()));
    bind.set_options(Some(vec!["rbind".into(), "ro".into()]));
    spec.mounts_mut().as_mut().expect("mounts").push(bind);
    let out = run_spec(&spec, &rootfs.path()).expect("container runs");
    assert_eq!(out.stdout, "from-the-host\n");
    assert!(
        out.stderr.contains("Read-only file system"),
        "{}",
        out.stderr
    );
    assert_eq!(
        fs::read_to_string(&host_file).expect("host file"),
        "from-the-host\n"
    );
}

#[test]
fn a_read_only_root_filesystem_refuses_writes() {
    let rootfs = Rootfs::new();
    let mut spec = rootfs.spec(&[
        "sh",
        "-c",
        "touch /x || echo refused; touch /dev/shm/ok && echo tmpfs-ok",
    ]);
    spec.root_mut()
        .as_mut()
        .expect("root")
        .set_readonly(Some(true));
    let out = run_spec(&spec, &rootfs.path()).expect("container runs");
    assert_eq!(out.stdout, "refused\ntmpfs-ok\n");
    assert!(
        out.stderr.contains("Read-only file system"),
        "{}",
        out.stderr
    );
    assert!(!rootfs.path().join("x").exists());
}

#[test]
fn a_container_can_join_another_containers_network_namespace() {
    let first = Rootfs::new();
    let (a, _out, _err) = start(&first.spec(&["sleep", "100"]), &first.path()).expect("first");
    let a_pid = a.process.as_ref().expect("running").pid;
    let a_net = format!("/proc/{a_pid}/ns/net");

    let second = Rootfs::new();
    let mut spec = second.spec(&["sleep", "100"]);
    let namespaces = spec
        .linux_mut()
        .as_mut()
        .and_then(|l| l.namespaces_mut().as_mut())
        .expect("namespaces");
    for ns in namespaces.iter_mut() {
        if ns.typ() == oci_spec::runtime::LinuxNamespaceType::Network {
            ns.set_path(Some(PathBuf::from(&a_net)));
        }
    }
    let created = create(&spec, &second.path(), Stdio::null()).expect("second created");
    let b_net = format!("/proc/{}/ns/net", created.pid());
    assert_eq!(
        fs::read_link(&a_net).expect("first netns"),
        fs::read_link(&b_net).expect("second netns")
    );
    assert_ne!(
        fs::read_link("/proc/self/ns/net").expect("own netns"),
        fs::read_link(&b_net).expect("second netns")
    );
}

#[test]
fn try_wait_reports_a_running_container_and_then_its_end() {
    let rootfs = Rootfs::new();
    let (mut running, _out, _err) =
        start(&rootfs.spec(&["sleep", "100"]), &rootfs.path()).expect("container starts");
    let process = running.process.as_ref().expect("running");
    assert_eq!(process.try_wait().expect("try_wait"), None);
    process.kill(Signal::SIGKILL).expect("kill");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let status = loop {
        if let Some(status) = process.try_wait().expect("try_wait") {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still running after SIGKILL"
        );
        thread::sleep(std::time::Duration::from_millis(5));
    };
    // Reaped: the guard must not signal the (possibly reused) PID again.
    running.process = None;
    assert_eq!(status.code(), 137);
}

#[test]
fn many_containers_start_concurrently_from_many_threads() {
    let rootfs = Rootfs::new();
    let root = rootfs.path();
    let workers: Vec<_> = (0..16)
        .map(|i| {
            let root = root.clone();
            thread::spawn(move || {
                let spec = default_spec(
                    &root,
                    vec!["sh".into(), "-c".into(), format!("echo {i} $$")],
                    vec![PATH.to_string()],
                    Path::new("/"),
                    HOSTNAME,
                );
                run_spec(&spec, &root).map(|out| (out.status, out.stdout))
            })
        })
        .collect();
    for (i, worker) in workers.into_iter().enumerate() {
        let (status, stdout) = worker.join().expect("worker").expect("container runs");
        assert_eq!(
            (status, stdout),
            (ExitStatus::Exited(0), format!("{i} 1\n"))
        );
    }
}

#[test]
fn signals_start_at_their_defaults_whatever_the_caller_ignores() {
    // The test harness, like every Rust program, ignores SIGPIPE; the container must not.
    let out = sh("grep -E 'Sig(Blk|Ign)' /proc/self/status; yes | head -n 1");
    assert_eq!(
        out.stdout, "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\ny\n",
        "stderr: {}",
        out.stderr
    );
}

#[test]
fn a_container_reports_usage_and_can_be_frozen_and_thawed() {
    use std::time::{Duration, Instant};
    let rootfs = Rootfs::new();
    let spec = limited_spec(
        &rootfs,
        "i=0; while :; do i=$((i+1)); echo $i > /tmp/count; done",
    );
    let (running, _out, _err) = start(&spec, &rootfs.path()).expect("container starts");
    let cgroup = running
        .process
        .as_ref()
        .and_then(|p| p.cgroup())
        .expect("a cgroup");
    let count = || fs::read_to_string(rootfs.path().join("tmp/count")).unwrap_or_default();
    let changes = |within: Duration| {
        let (before, deadline) = (count(), Instant::now() + within);
        while Instant::now() < deadline {
            if count() != before {
                return true;
            }
            thread::sleep(Duration::from_millis(10));
        }
        false
    };
    assert!(changes(Duration::from_secs(10)), "the loop never ran");

    let stats = cgroup.stats().expect("stats");
    assert_eq!(stats.memory_limit, 32 * 1024 * 1024);
    assert!(stats.memory_usage > 0, "{stats:?}");
    assert!(stats.cpu_usage_ns > 0, "{stats:?}");
    assert!(stats.pids >= 1, "{stats:?}");

    cgroup.freeze().expect("freeze");
    assert!(!changes(Duration::from_millis(300)), "ran while frozen");
    cgroup.thaw().expect("thaw");
    assert!(
        changes(Duration::from_secs(10)),
        "did not resume after thaw"
    );
}

#[test]
fn a_volume_cannot_be_redirected_into_proc_by_a_symlink_in_the_image() {
    let rootfs = Rootfs::new();
    let volume = rootfs.host_dir("volume");
    symlink("/proc/sys/kernel", rootfs.path().join("vol")).expect("symlink vol");
    let mut spec = rootfs.spec(&["true"]);
    let mut bind = Mount::default();
    bind.set_destination(PathBuf::from("/vol"));
    bind.set_typ(Some("bind".into()));
    bind.set_source(Some(volume));
    bind.set_options(Some(vec!["rbind".into()]));
    spec.mounts_mut().as_mut().expect("mounts").push(bind);
    match run_spec(&spec, &rootfs.path()) {
        Err(RuntimeError::UnsafeMount {
            destination,
            reason,
        }) => {
            assert_eq!(destination, Path::new("/vol"));
            assert!(reason.contains("/proc/sys/kernel"), "{reason}");
        }
        other => panic!(
            "expected an unsafe mount error, got {:?}",
            other.map(|o| o.status)
        ),
    }
}

#[test]
fn devices_are_deny_by_default_like_dockers() {
    // CAP_MKNOD lets the container create any node; the devices cgroup decides what opens.
    let out = sh("cat /sys/fs/cgroup/devices/devices.list; \
         mknod /dev/fuse c 10 229 && (exec 3</dev/fuse) && echo fuse-opened; \
         mknod /dev/null2 c 1 3 && echo x > /dev/null2 && echo null-ok");
    let rules: BTreeSet<&str> = out.stdout.lines().filter(|l| !l.ends_with("-ok")).collect();
    let docker: BTreeSet<&str> = [
        "b *:* m",
        "c *:* m",
        "c 1:3 rwm",
        "c 1:5 rwm",
        "c 1:7 rwm",
        "c 1:8 rwm",
        "c 1:9 rwm",
        "c 5:0 rwm",
        "c 5:1 rwm",
        "c 5:2 rwm",
        "c 10:200 rwm",
        "c 136:* rwm",
    ]
    .into();
    assert_eq!(rules, docker, "stderr: {}", out.stderr);
    assert!(out.stdout.ends_with("null-ok\n"), "{}", out.stdout);
    assert!(!out.stdout.contains("fuse-opened"));
    assert!(
        out.stderr.contains("Operation not permitted"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_symlink_loop_at_a_mount_destination_fails_cleanly() {
    let rootfs = Rootfs::new();
    symlink("/b", rootfs.path().join("a")).expect("a -> b");
    symlink("/a", rootfs.path().join("b")).expect("b -> a");
    let mut spec = rootfs.spec(&["true"]);
    let mut tmpfs = Mount::default();
    tmpfs.set_destination(PathBuf::from("/a/data"));
    tmpfs.set_typ(Some("tmpfs".into()));
    tmpfs.set_source(Some(PathBuf::from("tmpfs")));
    spec.mounts_mut().as_mut().expect("mounts").push(tmpfs);
    match run_spec(&spec, &rootfs.path()) {
        Err(RuntimeError::Setup { step, message }) => {
            assert_eq!(step, "creating mount point /a/data");
            assert!(message.contains("symbolic links"), "{message}");
        }
        other => panic!("expected a setup error, got {:?}", other.map(|o| o.status)),
    }
}
