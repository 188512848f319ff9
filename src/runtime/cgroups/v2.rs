//! cgroup v2 (the unified hierarchy): the cgroup is one directory. Its parents get the
//! controllers it needs in `cgroup.subtree_control` (a cgroup with processes of its own
//! cannot give its children controllers — the "no internal processes" rule — which is why
//! relative paths start from the caller's parent and grading's groups keep their own
//! processes in a leaf). Limits go to `memory.max`, `memory.swap.max`, `memory.low`,
//! `cpu.max`, `cpu.weight`, `pids.max`, `cpuset.cpus`/`cpuset.mems`, converted from the OCI
//! (v1-shaped) values as runc does; device rules become an eBPF program attached to the
//! cgroup ([`super::devices`]) — a container is never created without it. Freezing is
//! `cgroup.freeze` (confirmed by `frozen 1` in `cgroup.events`), killing everything
//! `cgroup.kill` where the kernel has it (5.14+), usage comes from `memory.current`,
//! `memory.stat`, `cpu.stat` and `pids.current`, OOM kills from `memory.events`.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use nix::unistd::Pid;
use oci_spec::runtime::{LinuxCpu, LinuxMemory, LinuxResources};

use super::devices::{bpf, program, DeviceRule, Emulator};
use super::{
    config_error, keyed, kill_each, mountinfo, read, read_number, remove_dir, tree, wait_empty,
    write, CgroupManager, CgroupStats, FreezerFile, Version, FREEZE_TIMEOUT,
};
use crate::runtime::error::RuntimeError;

/// The controllers a container's parents enable for it, where the host has them.
const CONTROLLERS: [&str; 5] = ["cpuset", "cpu", "io", "memory", "pids"];

/// A cgroup: one directory in the unified hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cgroup {
    /// The cgroup's directory, alone (the interface hands out every directory to join).
    dirs: [PathBuf; 1],
    /// Where the hierarchy is mounted: no parent above it is touched.
    mount_point: PathBuf,
}

impl Cgroup {
    /// The cgroup at `path` (checked for `.`/`..` by the caller); absolute from the
    /// hierarchy's root, relative from the parent of the caller's own cgroup.
    pub fn locate(path: &Path) -> Result<Self, RuntimeError> {
        let mountinfo = read(Path::new("/proc/self/mountinfo"))?;
        let (root, mount_point) = unified(&mountinfo)?;
        let dir = if path.is_absolute() {
            Path::new(mount_point).join(path.strip_prefix("/").unwrap_or(path))
        } else {
            let own = read(Path::new("/proc/self/cgroup"))?;
            let own_dir = mountinfo::unified_path(&own)
                .and_then(|p| mountinfo::dir_in_mount(root, mount_point, p))
                .ok_or_else(|| {
                    RuntimeError::InvalidSpec("cannot find this process's cgroup".into())
                })?;
            // The caller's own cgroup holds the caller: its parent can give a new child
            // controllers (unless the caller sits at the top already).
            let base = match own_dir.parent() {
                Some(parent) if own_dir != Path::new(mount_point) => parent.to_path_buf(),
                _ => own_dir,
            };
            base.join(path)
        };
        Ok(Cgroup {
            dirs: [dir],
            mount_point: PathBuf::from(mount_point),
        })
    }

    /// The cgroup a running process belongs to.
    pub fn of_process(pid: Pid) -> Result<Self, RuntimeError> {
        let mountinfo = read(Path::new("/proc/self/mountinfo"))?;
        let (root, mount_point) = unified(&mountinfo)?;
        let theirs = read(Path::new(&format!("/proc/{pid}/cgroup")))?;
        let dir = mountinfo::unified_path(&theirs)
            .and_then(|p| mountinfo::dir_in_mount(root, mount_point, p))
            .ok_or_else(|| {
                RuntimeError::InvalidSpec(format!("cannot find the cgroup of process {pid}"))
            })?;
        Ok(Cgroup {
            dirs: [dir],
            mount_point: PathBuf::from(mount_point),
        })
    }

    fn dir(&self) -> &Path {
        &self.dirs[0]
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir().join(name)
    }

    /// Create the missing parents and the cgroup; every parent (from the hierarchy's root
    /// down) enables the controllers for the level below.
    fn create_dir(&self) -> Result<(), RuntimeError> {
        let mut levels: Vec<&Path> = self
            .dir()
            .ancestors()
            .skip(1)
            .take_while(|a| a.starts_with(&self.mount_point))
            .collect();
        levels.reverse();
        for level in levels {
            make_dir(level)?;
            enable_controllers(level, &self.mount_point)?;
        }
        make_dir(self.dir())
    }

    fn apply(&self, resources: &LinuxResources) -> Result<(), RuntimeError> {
        if let Some(memory) = resources.memory() {
            self.apply_memory(memory)?;
        }
        if let Some(pids) = resources.pids() {
            let limit = pids.limit();
            let value = if limit > 0 {
                limit.to_string()
            } else {
                "max".to_string()
            };
            self.write("pids.max", &value)?;
        }
        if let Some(cpu) = resources.cpu() {
            self.apply_cpu(cpu)?;
        }
        Ok(())
    }

    fn apply_memory(&self, memory: &LinuxMemory) -> Result<(), RuntimeError> {
        let limit = memory.limit();
        // `memory.swap.max` exists only with swap accounting: without it Docker warns and
        // goes on without a swap limit, as on v1.
        if let Some(swap) = swap_max(memory.swap(), limit)? {
            if self.file("memory.swap.max").exists() {
                self.write("memory.swap.max", &swap)?;
            }
        }
        if let Some(limit) = limit {
            self.write("memory.max", &max_or(limit))?;
        }
        if let Some(reservation) = memory.reservation() {
            self.write("memory.low", &max_or(reservation))?;
        }
        // Swappiness has no v2 file; Docker's daemon warns that it is discarded.
        Ok(())
    }

    fn apply_cpu(&self, cpu: &LinuxCpu) -> Result<(), RuntimeError> {
        if let Some(shares) = cpu.shares() {
            self.write("cpu.weight", &shares_to_weight(shares)?.to_string())?;
        }
        if let Some(max) = cpu_max(cpu.quota(), cpu.period()) {
            self.write("cpu.max", &max)?;
        }
        for (value, file) in [(cpu.cpus(), "cpuset.cpus"), (cpu.mems(), "cpuset.mems")] {
            if let Some(value) = value.as_deref().filter(|v| !v.is_empty()) {
                self.write(file, value)?;
            }
        }
        Ok(())
    }

    /// Compile the device rules and attach the program: from here on the kernel asks it
    /// about every device node opened or created in the cgroup.
    fn restrict_devices(&self, rules: &[DeviceRule]) -> Result<(), RuntimeError> {
        let program = program::compile(&Emulator::from_rules(rules));
        let fd = bpf::load(&program)
            .map_err(|e| RuntimeError::host("cannot load the device control program", e))?;
        bpf::attach(&fd, self.dir()).map_err(|e| {
            RuntimeError::host(
                format!(
                    "cannot attach the device control program to {}",
                    self.dir().display()
                ),
                e,
            )
        })
    }

    /// Write `value` to the cgroup's `name`, saying which controller is missing when the
    /// file is not there.
    fn write(&self, name: &str, value: &str) -> Result<(), RuntimeError> {
        let file = self.file(name);
        if !file.exists() {
            let controller = name.split('.').next().unwrap_or(name);
            return Err(RuntimeError::host(
                format!(
                    "cannot write {value} to {}: the {controller} controller is not enabled \
                     for this cgroup",
                    file.display()
                ),
                io::Error::from(io::ErrorKind::NotFound),
            ));
        }
        write(&file, value)
    }

    fn read(&self, name: &str) -> Result<String, RuntimeError> {
        read(&self.file(name))
    }

    /// Whether any process is in the cgroup or below it (`populated` in `cgroup.events`).
    fn populated(&self) -> bool {
        self.read("cgroup.events")
            .ok()
            .and_then(|t| keyed(&t, "populated"))
            .is_some_and(|n| n > 0)
    }
}

impl CgroupManager for Cgroup {
    fn version(&self) -> Version {
        Version::V2
    }

    fn dirs(&self) -> &[PathBuf] {
        &self.dirs
    }

    fn create(
        &self,
        resources: Option<&LinuxResources>,
        rules: Option<&[DeviceRule]>,
    ) -> Result<(), RuntimeError> {
        self.create_dir()?;
        let configured = resources
            .map_or(Ok(()), |r| self.apply(r).map_err(config_error))
            .and_then(|()| rules.map_or(Ok(()), |r| self.restrict_devices(r)));
        if configured.is_err() {
            let _ = self.remove();
        }
        configured
    }

    fn create_group(&self, pids_max: u64, rules: &[DeviceRule]) -> Result<(), RuntimeError> {
        self.create_dir()?;
        let configured = enable_controllers(self.dir(), &self.mount_point)
            .and_then(|()| self.write("pids.max", &pids_max.to_string()))
            .and_then(|()| self.restrict_devices(rules));
        if configured.is_err() {
            let _ = self.remove();
        }
        configured
    }

    fn create_leaf(&self) -> Result<(), RuntimeError> {
        let mut levels: Vec<&Path> = self
            .dir()
            .ancestors()
            .take_while(|a| a.starts_with(&self.mount_point) && *a != self.mount_point)
            .collect();
        levels.reverse();
        for level in levels {
            make_dir(level)?;
        }
        Ok(())
    }

    fn pids(&self) -> Result<Vec<i32>, RuntimeError> {
        let text = self.read("cgroup.procs")?;
        Ok(text.lines().filter_map(|l| l.trim().parse().ok()).collect())
    }

    fn stats(&self) -> Result<CgroupStats, RuntimeError> {
        let memory_stat = self.read("memory.stat")?;
        let cpu_stat = self.read("cpu.stat")?;
        Ok(CgroupStats {
            memory_usage: read_number(&self.file("memory.current"))?,
            memory_inactive_file: keyed(&memory_stat, "inactive_file").unwrap_or(0),
            memory_limit: read_number(&self.file("memory.max"))?,
            cpu_usage_ns: keyed(&cpu_stat, "usage_usec")
                .unwrap_or(0)
                .saturating_mul(1000),
            pids: read_number(&self.file("pids.current"))?,
        })
    }

    /// `oom_kill` in `memory.events`.
    fn oom_killed(&self) -> bool {
        self.read("memory.events")
            .ok()
            .and_then(|text| keyed(&text, "oom_kill"))
            .is_some_and(|n| n > 0)
    }

    fn freeze(&self) -> Result<(), RuntimeError> {
        self.write("cgroup.freeze", "1")?;
        let deadline = Instant::now() + FREEZE_TIMEOUT;
        loop {
            if keyed(&self.read("cgroup.events")?, "frozen") == Some(1) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                // Leave nothing half-frozen behind.
                let _ = self.thaw();
                return Err(RuntimeError::host(
                    "cannot freeze the container",
                    io::Error::from(io::ErrorKind::TimedOut),
                ));
            }
            thread::sleep(Duration::from_millis(2));
        }
    }

    fn thaw(&self) -> Result<(), RuntimeError> {
        self.write("cgroup.freeze", "0")
    }

    fn freezer_file(&self) -> FreezerFile {
        FreezerFile {
            path: self.file("cgroup.freeze"),
            frozen: "1",
            thawed: "0",
        }
    }

    fn remove(&self) -> Result<(), RuntimeError> {
        remove_dir(self.dir())
    }

    /// `cgroup.kill` kills the whole tree at once, racing no fork (Linux 5.14+). To spare
    /// a process, or without it, the tree is frozen while each process is sent SIGKILL.
    /// (A fatal signal ends a process frozen by v2's freezer: nothing needs thawing.)
    fn kill(&self, spare: Option<Pid>) {
        if spare.is_none()
            && self.file("cgroup.kill").exists()
            && self.write("cgroup.kill", "1").is_ok()
        {
            return;
        }
        let frozen = self.freeze().is_ok();
        kill_each(&tree(self.dir()), spare);
        if frozen {
            let _ = self.thaw();
        }
    }

    fn kill_and_remove(&self) -> Result<(), RuntimeError> {
        if !self.dir().exists() {
            return Ok(());
        }
        self.kill(None);
        wait_empty(self, || !self.populated());
        // Deepest first: a cgroup with children cannot be removed.
        for sub in tree(self.dir()).into_iter().rev() {
            remove_dir(&sub)?;
        }
        Ok(())
    }

    fn settle(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let charged = read_number(&self.file("pids.current")).unwrap_or(0);
            let alive: u64 = tree(self.dir())
                .iter()
                .map(|d| {
                    fs::read_to_string(d.join("cgroup.threads"))
                        .map(|t| t.lines().count() as u64)
                        .unwrap_or(0)
                })
                .sum();
            if charged <= alive || Instant::now() >= deadline {
                return;
            }
            thread::sleep(Duration::from_millis(5));
        }
    }
}

fn unified(mountinfo: &str) -> Result<(&str, &str), RuntimeError> {
    mountinfo::unified_mount(mountinfo)
        .ok_or_else(|| RuntimeError::InvalidSpec("no cgroup2 hierarchy on this host".into()))
}

fn make_dir(dir: &Path) -> Result<(), RuntimeError> {
    match fs::create_dir(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(RuntimeError::host(
            format!("cannot create cgroup {}", dir.display()),
            e,
        )),
    }
}

/// Let the cgroups below `dir` use the controllers dokles needs that `dir` has and does
/// not pass on yet. A cgroup holding processes of its own (the hierarchy's root aside) may
/// not: that is refused before anything is written. Should the kernel refuse some of them
/// together, each is tried alone: cpuset and io are extras (their limits fail later, with
/// their name, when asked for); cpu, memory and pids are what every container's limits and
/// `stats` use.
fn enable_controllers(dir: &Path, mount_point: &Path) -> Result<(), RuntimeError> {
    const REQUIRED: [&str; 3] = ["cpu", "memory", "pids"];
    let available = read(&dir.join("cgroup.controllers"))?;
    let enabled = read(&dir.join("cgroup.subtree_control"))?;
    let missing: Vec<&str> = CONTROLLERS
        .into_iter()
        .filter(|c| available.split_whitespace().any(|a| a == *c))
        .filter(|c| !enabled.split_whitespace().any(|e| e == *c))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    if dir != mount_point && !read(&dir.join("cgroup.procs"))?.trim().is_empty() {
        return Err(RuntimeError::host(
            format!(
                "cannot enable the {} controllers in {}: it holds processes of its own, and \
                 cgroup v2 gives controllers to child cgroups only of cgroups without \
                 processes (choose another cgroup parent)",
                missing.join(" "),
                dir.display()
            ),
            io::Error::from_raw_os_error(libc::EBUSY),
        ));
    }
    let file = dir.join("cgroup.subtree_control");
    let plus = |names: &[&str]| names.iter().map(|c| format!("+{c}")).collect::<Vec<_>>();
    if fs::write(&file, plus(&missing).join(" ")).is_ok() {
        return Ok(());
    }
    for controller in missing {
        match fs::write(&file, format!("+{controller}")) {
            Ok(()) => {}
            Err(_) if !REQUIRED.contains(&controller) => {}
            Err(e) => {
                return Err(RuntimeError::host(
                    format!(
                        "cannot enable the {controller} controller in {}",
                        dir.display()
                    ),
                    e,
                ));
            }
        }
    }
    Ok(())
}

/// A v1-style number as a v2 value: negative is `max`.
fn max_or(value: i64) -> String {
    if value < 0 {
        "max".to_string()
    } else {
        value.to_string()
    }
}

/// `memory.swap.max` from OCI's memory+swap total, as runc converts it: `-1` is `max`,
/// `0` (or none) leaves it alone, else the total less the memory limit. No value when
/// nothing is to be written.
fn swap_max(swap: Option<i64>, limit: Option<i64>) -> Result<Option<String>, RuntimeError> {
    let (swap, limit) = (swap.unwrap_or(0), limit.unwrap_or(0));
    match (swap, limit) {
        // Memory unlimited and swap not given: both unlimited, as v1 would have it.
        (0, -1) => Ok(Some("max".into())),
        (-1, _) => Ok(Some("max".into())),
        (0, _) => Ok(None),
        (_, 0) | (_, -1) => Err(RuntimeError::InvalidSpec(
            "unable to set swap limit without memory limit".into(),
        )),
        (swap, limit) if limit < 0 || swap < 0 => Err(RuntimeError::InvalidSpec(format!(
            "invalid memory value {limit} or memory+swap value {swap}"
        ))),
        (swap, limit) if swap < limit => Err(RuntimeError::InvalidSpec(
            "memory+swap limit should be >= memory limit".into(),
        )),
        (swap, limit) => Ok(Some((swap - limit).to_string())),
    }
}

/// `cpu.weight` (1–10000) from v1's `cpu.shares` (2–262144), with the linear mapping of
/// runc 1.1 — the runc Debian's Docker uses — which maps the ends of one range onto the
/// other's. Shares the kernel would clamp on v1 are refused as runc refuses them there.
fn shares_to_weight(shares: u64) -> Result<u64, RuntimeError> {
    const MIN: u64 = 2;
    const MAX: u64 = 262_144;
    if shares < MIN {
        return Err(RuntimeError::InvalidSpec(format!(
            "the minimum allowed cpu-shares is {MIN}"
        )));
    }
    if shares > MAX {
        return Err(RuntimeError::InvalidSpec(format!(
            "the maximum allowed cpu-shares is {MAX}"
        )));
    }
    Ok(1 + ((shares - MIN) * 9999) / (MAX - MIN))
}

/// `cpu.max` ("QUOTA PERIOD", `max` for no quota) when a quota or period is given.
fn cpu_max(quota: Option<i64>, period: Option<u64>) -> Option<String> {
    let (quota, period) = (quota.unwrap_or(0), period.unwrap_or(0));
    if quota == 0 && period == 0 {
        return None;
    }
    let mut max = if quota > 0 {
        quota.to_string()
    } else {
        "max".to_string()
    };
    if period != 0 {
        max.push_str(&format!(" {period}"));
    }
    Some(max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_shares_map_onto_weights_as_runc_maps_them() {
        assert_eq!(shares_to_weight(2).expect("min"), 1);
        assert_eq!(shares_to_weight(1024).expect("default"), 39);
        assert_eq!(shares_to_weight(512).expect("half"), 20);
        assert_eq!(shares_to_weight(262_144).expect("max"), 10_000);
        assert_eq!(
            shares_to_weight(1).expect_err("too few").to_string(),
            "invalid runtime spec: the minimum allowed cpu-shares is 2"
        );
        assert!(shares_to_weight(262_145).is_err());
    }

    #[test]
    fn cpus_become_a_quota_per_period() {
        // --cpus 0.5: 50 ms in every 100 ms.
        assert_eq!(
            cpu_max(Some(50_000), Some(100_000)).as_deref(),
            Some("50000 100000")
        );
        assert_eq!(cpu_max(None, Some(100_000)).as_deref(), Some("max 100000"));
        assert_eq!(cpu_max(Some(-1), None).as_deref(), Some("max"));
        assert_eq!(cpu_max(None, None), None);
    }

    #[test]
    fn swap_is_what_the_memory_and_swap_total_leaves_beside_memory() {
        let mib = 1 << 20;
        // -m 64m: Docker asks for 128m memory+swap, so 64m of swap.
        assert_eq!(
            swap_max(Some(128 * mib), Some(64 * mib))
                .expect("ok")
                .as_deref(),
            Some("67108864")
        );
        assert_eq!(
            swap_max(Some(-1), Some(64 * mib)).expect("ok").as_deref(),
            Some("max")
        );
        assert_eq!(
            swap_max(None, Some(-1)).expect("ok").as_deref(),
            Some("max")
        );
        assert_eq!(swap_max(None, Some(64 * mib)).expect("ok"), None);
        assert!(swap_max(Some(mib), None).is_err(), "swap without memory");
        assert!(
            swap_max(Some(mib), Some(2 * mib)).is_err(),
            "total below memory"
        );
    }
}
