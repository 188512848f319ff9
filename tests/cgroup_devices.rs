//! The eBPF device program against the real kernel: loaded (the verifier accepts it),
//! attached to a cgroup in the unified hierarchy (on a v2 host the only one; on a hybrid
//! host the controller-less one beside the v1 hierarchies, where cgroup programs work just
//! the same), and a process in that cgroup tries to create and open device nodes. Every
//! outcome must be the emulator's — and a container's program must refuse opening a disk
//! or /dev/mem while letting `mknod` through, as Docker does.
//!
//! Runs as root.

use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use dokles::runtime::cgroups::devices::{
    bpf, container_rules, program, Access, DeviceKind, DeviceRule, Emulator,
};

/// A fresh cgroup in the unified hierarchy, removed on drop.
struct UnifiedCgroup(PathBuf);

impl UnifiedCgroup {
    fn new(name: &str) -> Self {
        let mountinfo = fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
        let mount = mountinfo
            .lines()
            .filter_map(|l| {
                let (left, right) = l.split_once(" - ")?;
                (right.split(' ').next()? == "cgroup2").then(|| left.split(' ').nth(4))?
            })
            .next()
            .expect("a cgroup2 mount");
        let dir = Path::new(mount).join(format!("dokles-test-{name}-{}", std::process::id()));
        fs::create_dir(&dir).expect("create the test cgroup");
        UnifiedCgroup(dir)
    }
}

impl Drop for UnifiedCgroup {
    fn drop(&mut self) {
        for _ in 0..200 {
            if fs::remove_dir(&self.0).is_ok() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
}

/// One attempt of the process in the cgroup: create a node, or open one for reading or
/// writing.
#[derive(Debug, Clone, Copy)]
struct Attempt {
    kind: DeviceKind,
    major: u32,
    minor: u32,
    access: Access,
}

impl Attempt {
    fn shell(&self, i: usize) -> String {
        let typ = if self.kind == DeviceKind::Block {
            "b"
        } else {
            "c"
        };
        let node = format!("n{i}");
        // Nodes to open are made outside the cgroup first (see `prepare`).
        let action = if self.access == Access::MKNOD {
            format!("mknod m{i} {typ} {} {}", self.major, self.minor)
        } else if self.access == Access::READ {
            format!("true < {node}")
        } else {
            format!("true >> {node}")
        };
        format!("if ( {action} ) 2>e{i}; then echo {i} ok; else echo {i} \"$(cat e{i})\"; fi\n")
    }

    fn prepare(&self, dir: &Path, i: usize) {
        let typ = if self.kind == DeviceKind::Block {
            "b"
        } else {
            "c"
        };
        let status = Command::new("mknod")
            .arg(dir.join(format!("n{i}")))
            .args([typ, &self.major.to_string(), &self.minor.to_string()])
            .status()
            .expect("mknod");
        assert!(status.success(), "mknod of {self:?} outside the cgroup");
    }
}

/// Run every attempt in a shell that joined `cgroup` before `exec`; whether each was
/// refused with EPERM (what the device controller answers).
fn refused_in(cgroup: &Path, attempts: &[Attempt]) -> Vec<bool> {
    let dir = tempfile::Builder::new()
        .prefix("dokles-test-devices-")
        .tempdir()
        .expect("temp dir");
    let mut script = String::new();
    for (i, attempt) in attempts.iter().enumerate() {
        if attempt.access != Access::MKNOD {
            attempt.prepare(dir.path(), i);
        }
        script.push_str(&attempt.shell(i));
    }
    let procs = cgroup.join("cgroup.procs");
    let mut command = Command::new("sh");
    command.arg("-c").arg(&script).current_dir(dir.path());
    // SAFETY: the hook runs in the forked child before exec and only writes one file
    // (glibc's malloc is fork-safe; no other lock is taken).
    unsafe {
        command.pre_exec(move || fs::write(&procs, "0"));
    }
    let out = command.output().expect("run the attempts");
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), attempts.len(), "{text}");
    lines
        .iter()
        .map(|l| l.contains("Operation not permitted"))
        .collect()
}

fn attach(cgroup: &Path, rules: &[DeviceRule]) {
    let program = program::compile(&Emulator::from_rules(rules));
    let fd = bpf::load(&program).expect("the kernel's verifier accepts the program");
    bpf::attach(&fd, cgroup).expect("the program attaches to the cgroup");
}

/// The real disk the root filesystem is on, if any (not on a VM's 9p root).
fn root_disk() -> Option<(u32, u32)> {
    let block = fs::read_dir("/sys/class/block").ok()?;
    block
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("device").exists())
        .filter_map(|e| fs::read_to_string(e.path().join("dev")).ok())
        .filter_map(|dev| {
            let (major, minor) = dev.trim().split_once(':')?;
            Some((major.parse().ok()?, minor.parse().ok()?))
        })
        .next()
}

#[test]
fn a_container_may_mknod_any_device_but_open_only_the_harmless_ones() {
    let cgroup = UnifiedCgroup::new("container");
    let rules = container_rules(None).expect("rules");
    attach(&cgroup.0, &rules);
    let (disk_major, disk_minor) = root_disk().unwrap_or((8, 0));
    let (c, b) = (DeviceKind::Char, DeviceKind::Block);
    let attempts = [
        Attempt {
            kind: b,
            major: disk_major,
            minor: disk_minor,
            access: Access::MKNOD,
        },
        Attempt {
            kind: b,
            major: disk_major,
            minor: disk_minor,
            access: Access::READ,
        },
        Attempt {
            kind: c,
            major: 1,
            minor: 1,
            access: Access::MKNOD,
        },
        Attempt {
            kind: c,
            major: 1,
            minor: 1,
            access: Access::READ,
        },
        Attempt {
            kind: c,
            major: 1,
            minor: 3,
            access: Access::READ,
        },
        Attempt {
            kind: c,
            major: 1,
            minor: 3,
            access: Access::WRITE,
        },
        Attempt {
            kind: c,
            major: 1,
            minor: 5,
            access: Access::READ,
        },
        Attempt {
            kind: c,
            major: 10,
            minor: 229,
            access: Access::READ,
        },
        Attempt {
            kind: c,
            major: 4,
            minor: 1,
            access: Access::WRITE,
        },
    ];
    let refused = refused_in(&cgroup.0, &attempts);
    let emulator = Emulator::from_rules(&rules);
    for (attempt, refused) in attempts.iter().zip(&refused) {
        let allowed = emulator.allows(attempt.kind, attempt.major, attempt.minor, attempt.access);
        assert_eq!(
            !refused, allowed,
            "{attempt:?}: the kernel and the emulator disagree"
        );
    }
    // What Docker does: mknod passes, opening the disk or /dev/mem does not.
    assert_eq!(
        refused,
        [false, true, false, true, false, false, false, true, true]
    );
}

#[test]
fn a_deny_list_program_refuses_only_what_it_names() {
    let cgroup = UnifiedCgroup::new("denylist");
    let parse = |s| Access::parse(s).expect("access");
    let rules = [
        DeviceRule {
            allow: true,
            kind: DeviceKind::All,
            major: None,
            minor: None,
            access: Access::ALL,
        },
        DeviceRule {
            allow: false,
            kind: DeviceKind::Char,
            major: Some(1),
            minor: Some(5),
            access: parse("r"),
        },
        DeviceRule {
            allow: false,
            kind: DeviceKind::Char,
            major: Some(1),
            minor: None,
            access: parse("m"),
        },
    ];
    attach(&cgroup.0, &rules);
    let c = DeviceKind::Char;
    let attempts = [
        Attempt {
            kind: c,
            major: 1,
            minor: 5,
            access: Access::READ,
        },
        Attempt {
            kind: c,
            major: 1,
            minor: 5,
            access: Access::WRITE,
        },
        Attempt {
            kind: c,
            major: 1,
            minor: 3,
            access: Access::READ,
        },
        Attempt {
            kind: c,
            major: 1,
            minor: 3,
            access: Access::MKNOD,
        },
        Attempt {
            kind: c,
            major: 5,
            minor: 0,
            access: Access::MKNOD,
        },
    ];
    let refused = refused_in(&cgroup.0, &attempts);
    assert_eq!(refused, [true, false, false, true, false]);
    let emulator = Emulator::from_rules(&rules);
    for (attempt, refused) in attempts.iter().zip(&refused) {
        let allowed = emulator.allows(attempt.kind, attempt.major, attempt.minor, attempt.access);
        assert_eq!(!refused, allowed, "{attempt:?}");
    }
}
