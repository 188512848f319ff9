//! What cgroups do for containers, through the docker CLI, on whichever cgroup version the
//! host has (v1 or hybrid here; the VM tier, `scripts/test-vm`, runs them on v2): memory
//! limits and the OOM killer, the pids limit against a fork bomb, CPU quota, weight and
//! cpuset, freezing, `stats` and `top`, the cgroup parent, and device control.
//!
//! Runs as root; each test has its own state root (`common_ctr::Dokles`).

mod common_ctr;

use std::path::Path;
use std::time::{Duration, Instant};

use common_ctr::{wait_for, Dokles, IMAGE};
use dokles::runtime::cgroups::{version, Version};
use dokles::runtime::Cgroup;
use nix::unistd::Pid;

/// The cgroup of a running container, as the host sees it.
fn cgroup_of(d: &Dokles, name: &str) -> Cgroup {
    let pid: i32 = d
        .inspect(name, "{{.State.Pid}}")
        .parse()
        .expect("a running container's pid");
    Cgroup::of_process(Pid::from_raw(pid)).expect("the container's cgroup")
}

/// CPU time the container's cgroup has used.
fn cpu_used(d: &Dokles, name: &str) -> Duration {
    Duration::from_nanos(
        cgroup_of(d, name)
            .stats()
            .expect("cgroup stats")
            .cpu_usage_ns,
    )
}

/// A value of the container's `cpu.stat` (v1's CFS bandwidth figures have the same names).
fn cpu_stat(d: &Dokles, name: &str, key: &str) -> u64 {
    let cgroup = cgroup_of(d, name);
    // Only the cpu controller's directory has cpu.stat on v1.
    let dir = cgroup
        .dirs()
        .iter()
        .find(|d| d.join("cpu.stat").exists())
        .expect("the cpu cgroup")
        .clone();
    let text = std::fs::read_to_string(dir.join("cpu.stat")).expect("cpu.stat");
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{key} ")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("{key} in {text}"))
}

fn version_is_2() -> bool {
    version().expect("cgroup version") == Version::V2
}

#[test]
fn a_memory_hog_over_its_limit_is_oom_killed_with_137() {
    let d = Dokles::new();
    let out = d.run(&[
        "run",
        "--name",
        "hog",
        "-m",
        "64m",
        IMAGE,
        "sh",
        "-c",
        "tail /dev/zero",
    ]);
    assert_eq!(out.code, 137, "{out:?}");
    assert_eq!(
        d.inspect("hog", "{{.State.OOMKilled}} {{.State.ExitCode}}"),
        "true 137"
    );
    assert_eq!(
        d.inspect("hog", "{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}}"),
        "67108864 134217728"
    );
}

#[test]
fn the_limits_given_are_the_ones_the_kernel_applies() {
    let d = Dokles::new();
    // Shares 512 are weight 20 on v2 (runc's conversion); memory+swap 96m leaves 32m of swap.
    let script = if version_is_2() {
        "cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/cpu.weight /sys/fs/cgroup/cpu.max \
             /sys/fs/cgroup/pids.max; \
         cat /sys/fs/cgroup/memory.swap.max 2>/dev/null || echo 33554432; \
         grep Cpus_allowed_list /proc/self/status"
    } else {
        "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/cpu/cpu.shares \
             /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/pids/pids.max; \
         cat /sys/fs/cgroup/memory/memory.memsw.limit_in_bytes 2>/dev/null || echo 100663296; \
         grep Cpus_allowed_list /proc/self/status"
    };
    let out = d.ok(&[
        "run",
        "--rm",
        "-m",
        "64m",
        "--memory-swap",
        "96m",
        "-c",
        "512",
        "--cpus",
        "0.5",
        "--pids-limit",
        "50",
        "--cpuset-cpus",
        "0",
        IMAGE,
        "sh",
        "-c",
        script,
    ]);
    let expected = if version_is_2() {
        "67108864\n20\n50000 100000\n50\n33554432\nCpus_allowed_list:\t0"
    } else {
        "67108864\n512\n50000\n50\n100663296\nCpus_allowed_list:\t0"
    };
    assert_eq!(out, expected);
}

#[test]
fn a_fork_bomb_stops_at_the_pids_limit_and_goes_with_rm() {
    let d = Dokles::new();
    d.ok(&[
        "run",
        "-d",
        "--name",
        "bomb",
        "--pids-limit",
        "50",
        IMAGE,
        "sh",
        "-c",
        "bomb() { bomb | bomb & }; bomb; sleep 1000",
    ]);
    // The kernel refuses its forks (`max` in pids.events counts them) ...
    let refused = || {
        let cgroup = cgroup_of(&d, "bomb");
        let pids_dir = cgroup
            .dirs()
            .iter()
            .find(|d| d.join("pids.events").exists())
            .expect("the pids cgroup")
            .clone();
        std::fs::read_to_string(pids_dir.join("pids.events"))
            .ok()
            .and_then(|t| t.trim().strip_prefix("max ")?.parse::<u64>().ok())
            .unwrap_or(0)
    };
    wait_for("the bomb to hit its limit", || refused() > 0);
    // ... and it never has more than its 50 tasks.
    let mut most = 0;
    let deadline = Instant::now() + Duration::from_secs(1);
    while Instant::now() < deadline {
        most = most.max(cgroup_of(&d, "bomb").stats().expect("stats").pids);
    }
    assert!((1..=50).contains(&most), "{most} tasks");
    let pids: u64 = d
        .ok(&["stats", "--no-stream", "--format", "{{.PIDs}}", "bomb"])
        .parse()
        .expect("PIDs");
    assert!(pids <= 50, "stats shows {pids}");
    // The host still starts containers, and `rm -f` takes every bomb process with it
    // (`Dokles`'s drop checks that nothing is left).
    assert_eq!(
        d.ok(&["run", "--rm", IMAGE, "echo", "still here"]),
        "still here"
    );
    d.ok(&["rm", "-f", "bomb"]);
}

#[test]
fn cpus_half_gives_half_a_cpu() {
    let d = Dokles::new();
    d.ok(&[
        "run",
        "-d",
        "--name",
        "busy",
        "--cpus",
        "0.5",
        IMAGE,
        "sh",
        "-c",
        "while :; do :; done",
    ]);
    let (t0, w0) = (cpu_used(&d, "busy"), Instant::now());
    std::thread::sleep(Duration::from_secs(3));
    let (t1, w1) = (cpu_used(&d, "busy"), Instant::now());
    let share = (t1 - t0).as_secs_f64() / (w1 - w0).as_secs_f64();
    assert!(share < 0.6, "used {share:.2} of a CPU ({t0:?} to {t1:?})");
    // The kernel's bandwidth control counts the periods it watched the quota in (none
    // without one). On a loaded host the loop may not reach its half, so no throttling is
    // required.
    assert!(
        cpu_stat(&d, "busy", "nr_periods") > 0,
        "no CPU quota in force"
    );
}

#[test]
fn a_paused_container_gets_no_cpu_time_until_unpaused() {
    let d = Dokles::new();
    d.ok(&[
        "run",
        "-d",
        "--name",
        "spin",
        IMAGE,
        "sh",
        "-c",
        "while :; do :; done",
    ]);
    d.ok(&["pause", "spin"]);
    assert_eq!(d.status("spin"), "paused");
    let frozen = cpu_used(&d, "spin");
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(
        cpu_used(&d, "spin"),
        frozen,
        "a frozen process used the CPU"
    );
    d.ok(&["unpause", "spin"]);
    assert_eq!(d.status("spin"), "running");
    wait_for("it to run again", || cpu_used(&d, "spin") > frozen);
}

#[test]
fn stats_and_top_show_the_containers_figures_and_processes() {
    let d = Dokles::new();
    // 20 MiB in the container's /dev/shm (shared memory is charged to its cgroup and is
    // no inactive file cache), then a shell waiting for its sleep: two processes.
    d.ok(&[
        "run",
        "-d",
        "--name",
        "holder",
        "-m",
        "100m",
        IMAGE,
        "sh",
        "-c",
        "dd if=/dev/zero of=/dev/shm/fill bs=1M count=20 2>/dev/null; touch /tmp/ready; \
         sleep 1000 & wait",
    ]);
    wait_for("the memory to be held", || {
        d.run(&["exec", "holder", "test", "-e", "/tmp/ready"]).code == 0
    });
    let row = d.ok(&[
        "stats",
        "--no-stream",
        "--format",
        "{{.Name}}|{{.MemUsage}}|{{.MemPerc}}|{{.PIDs}}",
        "holder",
    ]);
    let fields: Vec<&str> = row.split('|').collect();
    assert_eq!(fields[0], "holder");
    let (usage, limit) = fields[1].split_once(" / ").expect("usage / limit");
    assert_eq!(limit, "100MiB");
    let mib: f64 = usage
        .strip_suffix("MiB")
        .unwrap_or_else(|| panic!("{usage} in MiB"))
        .parse()
        .expect("a number");
    assert!((20.0..100.0).contains(&mib), "{usage}");
    let percent: f64 = fields[2]
        .trim_end_matches('%')
        .parse()
        .expect("a percentage");
    assert!(
        (percent - mib).abs() < 0.1,
        "{} is not {usage} of 100MiB",
        fields[2]
    );
    assert_eq!(fields[3], "2", "sh and sleep");
    let top = d.ok(&["top", "holder", "-o", "pid,comm"]);
    let commands: Vec<&str> = top
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().nth(1))
        .collect();
    assert_eq!(commands, ["sh", "sleep"], "{top}");
}

#[test]
fn the_cgroup_parent_holds_the_containers_cgroup() {
    let d = Dokles::new();
    let parent = format!("/dokles-test-cgparent-{}", std::process::id());
    d.ok(&[
        "run",
        "-d",
        "--name",
        "child",
        "--cgroup-parent",
        &parent,
        IMAGE,
        "sleep",
        "1000",
    ]);
    let id = d.inspect("child", "{{.Id}}");
    let dirs = cgroup_of(&d, "child").dirs().to_vec();
    d.ok(&["rm", "-f", "child"]);
    let _ = Cgroup::locate(Path::new(&parent)).map(|p| p.remove());
    assert!(!dirs.is_empty());
    for dir in dirs {
        assert!(
            dir.ends_with(format!("{}/{id}", &parent[1..])),
            "{}",
            dir.display()
        );
    }
}

#[test]
fn a_container_may_mknod_the_hosts_disk_but_not_read_it() {
    let d = Dokles::new();
    // The host's first disk (none in the VM tier's 9p root: sda's numbers then).
    let disk = std::fs::read_dir("/sys/class/block")
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("device").exists())
        .find_map(|e| std::fs::read_to_string(e.path().join("dev")).ok())
        .map(|dev| dev.trim().replace(':', " "))
        .unwrap_or_else(|| "8 0".to_string());
    for (node, kind) in [(disk.as_str(), "b"), ("1 1", "c")] {
        let script = format!("mknod /tmp/dev {kind} {node} && echo made && head -c 1 /tmp/dev");
        let out = d.run(&["run", "--rm", IMAGE, "sh", "-c", &script]);
        assert_eq!(
            out.stdout, "made\n",
            "mknod is allowed, as in Docker: {out:?}"
        );
        assert_eq!(
            out.stderr, "head: /tmp/dev: Operation not permitted\n",
            "{kind} {node}"
        );
        assert_eq!(out.code, 1);
    }
}

#[test]
fn a_container_sees_its_cgroup_as_under_docker() {
    let d = Dokles::new();
    d.ok(&["run", "-d", "--name", "ns", IMAGE, "sleep", "1000"]);
    let id = d.inspect("ns", "{{.Id}}");
    let mode = d.inspect("ns", "{{.HostConfig.CgroupnsMode}}");
    let own = d.ok(&["exec", "ns", "cat", "/proc/self/cgroup"]);
    let files = d.ok(&["exec", "ns", "ls", "/sys/fs/cgroup"]);
    if version_is_2() {
        // Docker's default on v2: a cgroup namespace of its own, rooted at its cgroup.
        assert_eq!(mode, "private");
        assert_eq!(own, "0::/");
        assert!(files.lines().any(|f| f == "memory.max"), "{files}");
    } else {
        assert_eq!(mode, "host");
        let memory = own
            .lines()
            .find(|l| l.contains(":memory:"))
            .expect("memory");
        assert!(memory.ends_with(&format!(":/dokles/{id}")), "{own}");
        assert!(files.lines().any(|f| f == "memory"), "{files}");
    }
}

/// Device control is no option: when the container's rules cannot be installed — v1: the
/// parent cgroup denies every device, so a child may allow none; v2: the parent holds an
/// exclusive device program, so no other may be attached below it — the container is not
/// started.
#[test]
fn a_container_whose_device_rules_cannot_be_installed_does_not_start() {
    let d = Dokles::new();
    let parent = format!("/dokles-test-nodevices-{}", std::process::id());
    let group = Cgroup::locate(Path::new(&parent)).expect("the parent cgroup");
    group.create(None, None).expect("create the parent cgroup");
    if version_is_2() {
        attach_exclusive_allow_all(&group.dirs()[0]);
    } else {
        let devices = group
            .dirs()
            .iter()
            .find(|d| d.join("devices.deny").exists())
            .expect("the devices cgroup");
        std::fs::write(devices.join("devices.deny"), "a").expect("deny every device");
    }
    let out = d.run(&[
        "run",
        "--name",
        "unguarded",
        "--cgroup-parent",
        &parent,
        IMAGE,
        "echo",
        "ran",
    ]);
    let state = d.inspect("unguarded", "{{.State.Status}} {{.State.Pid}}");
    let _ = group.remove();
    assert_eq!(out.code, 125, "{out:?}");
    assert_eq!(out.stdout, "", "the command must not run");
    let expected = if version_is_2() {
        "cannot attach the device control program"
    } else {
        "devices.allow"
    };
    assert!(out.stderr.contains(expected), "{}", out.stderr);
    assert_eq!(state, "created 0");
}

/// Attach an allow-all device program to `dir` without `BPF_F_ALLOW_MULTI` or
/// `BPF_F_ALLOW_OVERRIDE`: the kernel then lets no cgroup below it have a program.
fn attach_exclusive_allow_all(dir: &Path) {
    use dokles::runtime::cgroups::devices::{bpf, program, Emulator};
    use std::os::fd::AsRawFd;
    let fd = bpf::load(&program::compile(&Emulator::default())).expect("load");
    let cgroup = std::fs::File::open(dir).expect("open the cgroup");
    // union bpf_attr for BPF_PROG_ATTACH: target_fd, attach_bpf_fd, attach_type, flags.
    let attr: [u32; 5] = [cgroup.as_raw_fd() as u32, fd.as_raw_fd() as u32, 6, 0, 0];
    // SAFETY: bpf(BPF_PROG_ATTACH = 8) reads `attr` (a live, initialised array of the
    // attach command's layout) for the size given.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            8,
            attr.as_ptr(),
            std::mem::size_of_val(&attr),
        )
    };
    assert_eq!(ret, 0, "attach: {}", std::io::Error::last_os_error());
}

/// cgroup v2's no-internal-process rule: a parent that holds a process of its own cannot
/// give a container's cgroup controllers, and `run` says so; v1 has no such rule.
#[test]
fn a_cgroup_parent_holding_a_process_is_refused_on_v2_only() {
    use std::os::unix::process::CommandExt;
    let d = Dokles::new();
    let parent = format!("/dokles-test-occupied-{}", std::process::id());
    let group = Cgroup::locate(Path::new(&parent)).expect("the parent cgroup");
    group.create(None, None).expect("create the parent cgroup");
    let procs: Vec<_> = group
        .dirs()
        .iter()
        .map(|d| d.join("cgroup.procs"))
        .collect();
    let mut command = std::process::Command::new("sleep");
    command.arg("60");
    // SAFETY: the hook runs in the forked child before exec and only writes files (glibc's
    // malloc is fork-safe; no other lock is taken).
    unsafe {
        command.pre_exec(move || procs.iter().try_for_each(|p| std::fs::write(p, "0")));
    }
    let mut occupant = command.spawn().expect("a process in the parent");
    let out = d.run(&[
        "run",
        "--rm",
        "--cgroup-parent",
        &parent,
        IMAGE,
        "echo",
        "ran",
    ]);
    let _ = occupant.kill();
    let _ = occupant.wait();
    let _ = group.remove();
    if version_is_2() {
        assert_eq!(out.code, 125, "{out:?}");
        assert!(
            out.stderr.contains("holds processes of its own"),
            "{}",
            out.stderr
        );
    } else {
        assert_eq!((out.code, out.stdout.as_str()), (0, "ran\n"), "{out:?}");
    }
}
