//! cgroup v1 (on v1 and hybrid hosts): the cgroup is a directory in each of the memory,
//! pids, cpu, cpuacct, freezer and devices hierarchies (and cpuset where it is mounted).
//! Limits are written to each controller's files, device rules line by line to
//! `devices.allow` / `devices.deny`, usage read from `memory.usage_in_bytes`,
//! `cpuacct.usage` and `pids.current`, freezing done with `freezer.state`.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use nix::unistd::Pid;
use oci_spec::runtime::{LinuxCpu, LinuxResources};

use super::devices::DeviceRule;
use super::{
    config_error, keyed, kill_each, mountinfo, read, read_number, remove_dir, tree, wait_empty,
    write, CgroupManager, CgroupStats, FreezerFile, Version, FREEZE_TIMEOUT,
};
use crate::runtime::error::RuntimeError;

/// The v1 controllers every container's cgroup is in.
const CONTROLLERS: [&str; 6] = ["memory", "pids", "cpu", "cpuacct", "freezer", "devices"];

/// Joined where mounted, as Docker does; required only for `--cpuset-cpus`/`--cpuset-mems`.
const CPUSET: &str = "cpuset";

/// A cgroup: one directory per managed hierarchy (or per hierarchy mounted, see
/// [`Cgroup::locate_everywhere`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cgroup {
    /// Each managed controller with its directory (co-mounted controllers share one).
    by_controller: Vec<(&'static str, PathBuf)>,
    /// The distinct directories: those of the controllers, and of other hierarchies.
    dirs: Vec<PathBuf>,
}

impl Cgroup {
    /// The cgroup at `path` (checked for `.`/`..` by the caller); absolute from each
    /// hierarchy's root, relative from the caller's own cgroup in it.
    pub fn locate(path: &Path) -> Result<Self, RuntimeError> {
        let mountinfo = read(Path::new("/proc/self/mountinfo"))?;
        let own = read(Path::new("/proc/self/cgroup"))?;
        let mut cgroup = Cgroup {
            by_controller: Vec::new(),
            dirs: Vec::new(),
        };
        for controller in CONTROLLERS.into_iter().chain([CPUSET]) {
            let Some((root, mount_point)) = mountinfo::v1_mount(&mountinfo, controller) else {
                if controller == CPUSET {
                    continue;
                }
                return Err(RuntimeError::InvalidSpec(format!(
                    "no cgroup v1 hierarchy for {controller} on this host"
                )));
            };
            let dir = if path.is_absolute() {
                Path::new(mount_point).join(path.strip_prefix("/").unwrap_or(path))
            } else {
                let own_dir = mountinfo::v1_path(&own, controller)
                    .and_then(|p| mountinfo::dir_in_mount(root, mount_point, p))
                    .ok_or_else(|| {
                        RuntimeError::InvalidSpec(format!(
                            "cannot find this process's {controller} cgroup"
                        ))
                    })?;
                own_dir.join(path)
            };
            cgroup.add(controller, dir);
        }
        Ok(cgroup)
    }

    /// The cgroup at the absolute `path` in every hierarchy mounted: the managed
    /// controllers' (all required, as for [`locate`](Self::locate)), named and other v1
    /// hierarchies, and the unified one of a hybrid host.
    pub fn locate_everywhere(path: &Path) -> Result<Self, RuntimeError> {
        let mountinfo = read(Path::new("/proc/self/mountinfo"))?;
        let relative = path.strip_prefix("/").unwrap_or(path);
        let mut cgroup = Cgroup {
            by_controller: Vec::new(),
            dirs: Vec::new(),
        };
        for (mount_point, _, options) in mountinfo::hierarchies(&mountinfo) {
            let dir = mount_point.join(relative);
            let managed: Vec<&'static str> = CONTROLLERS
                .into_iter()
                .chain([CPUSET])
                .filter(|c| options.split(',').any(|o| o == *c))
                .collect();
            for controller in &managed {
                cgroup.add(controller, dir.clone());
            }
            if managed.is_empty() && !cgroup.dirs.contains(&dir) {
                cgroup.dirs.push(dir);
            }
        }
        if let Some(missing) = CONTROLLERS.into_iter().find(|c| cgroup.dir(c).is_none()) {
            return Err(RuntimeError::InvalidSpec(format!(
                "no cgroup v1 hierarchy for {missing} on this host"
            )));
        }
        Ok(cgroup)
    }

    /// The cgroup a running process belongs to.
    pub fn of_process(pid: Pid) -> Result<Self, RuntimeError> {
        let mountinfo = read(Path::new("/proc/self/mountinfo"))?;
        let theirs = read(Path::new(&format!("/proc/{pid}/cgroup")))?;
        let mut cgroup = Cgroup {
            by_controller: Vec::new(),
            dirs: Vec::new(),
        };
        for controller in CONTROLLERS.into_iter().chain([CPUSET]) {
            let dir = mountinfo::v1_path(&theirs, controller).and_then(|path| {
                let (root, mount_point) = mountinfo::v1_mount(&mountinfo, controller)?;
                mountinfo::dir_in_mount(root, mount_point, path)
            });
            if let Some(dir) = dir {
                cgroup.add(controller, dir);
            }
        }
        Ok(cgroup)
    }

    fn add(&mut self, controller: &'static str, dir: PathBuf) {
        if !self.dirs.contains(&dir) {
            self.dirs.push(dir.clone());
        }
        self.by_controller.push((controller, dir));
    }

    /// Create every directory. A new cpuset cgroup has no CPUs and memory nodes, and no
    /// process may join it until it has: each new level gets its parent's.
    fn create_dirs(&self) -> Result<(), RuntimeError> {
        for dir in &self.dirs {
            fs::create_dir_all(dir).map_err(|e| {
                RuntimeError::host(format!("cannot create cgroup {}", dir.display()), e)
            })?;
        }
        if let Some(cpuset) = self.dir(CPUSET) {
            let mut levels: Vec<&Path> = cpuset.ancestors().collect();
            levels.reverse();
            for level in levels {
                if !level.join("cpuset.cpus").exists() {
                    continue; // above the hierarchy's mount point
                }
                let Some(parent) = level.parent().filter(|p| p.join("cpuset.cpus").exists()) else {
                    continue; // the hierarchy's root
                };
                for file in ["cpuset.cpus", "cpuset.mems"] {
                    if read(&level.join(file))?.trim().is_empty() {
                        write(&level.join(file), read(&parent.join(file))?.trim())?;
                    }
                }
            }
        }
        Ok(())
    }

    fn dir(&self, controller: &str) -> Option<&Path> {
        self.by_controller
            .iter()
            .find(|(c, _)| *c == controller)
            .map(|(_, dir)| dir.as_path())
    }

    fn file(&self, controller: &str, name: &str) -> Result<PathBuf, RuntimeError> {
        self.dir(controller)
            .map(|dir| dir.join(name))
            .ok_or_else(|| RuntimeError::InvalidSpec(format!("no {controller} cgroup")))
    }

    fn read(&self, controller: &str, name: &str) -> Result<String, RuntimeError> {
        read(&self.file(controller, name)?)
    }

    fn read_number(&self, controller: &str, name: &str) -> Result<u64, RuntimeError> {
        read_number(&self.file(controller, name)?)
    }

    fn write(
        &self,
        controller: &str,
        name: &str,
        value: impl ToString,
    ) -> Result<(), RuntimeError> {
        write(&self.file(controller, name)?, &value.to_string())
    }

    /// Write the device rules in order (see [`super::devices`]).
    fn restrict_devices(&self, rules: &[DeviceRule]) -> Result<(), RuntimeError> {
        for rule in rules {
            let file = if rule.allow {
                "devices.allow"
            } else {
                "devices.deny"
            };
            self.write("devices", file, rule.v1_line())?;
        }
        Ok(())
    }

    fn apply(&self, resources: &LinuxResources) -> Result<(), RuntimeError> {
        if let Some(memory) = resources.memory() {
            if let Some(limit) = memory.limit() {
                self.write("memory", "memory.limit_in_bytes", limit)?;
            }
            if let Some(reservation) = memory.reservation() {
                self.write("memory", "memory.soft_limit_in_bytes", reservation)?;
            }
            if let Some(swap) = memory.swap() {
                // memory+swap; only on kernels with swap accounting. Docker warns and goes on
                // without; so does dokles (the engine tells the user).
                if self.file("memory", "memory.memsw.limit_in_bytes")?.exists() {
                    self.write("memory", "memory.memsw.limit_in_bytes", swap)?;
                }
            }
            if let Some(swappiness) = memory.swappiness() {
                self.write("memory", "memory.swappiness", swappiness)?;
            }
        }
        if let Some(pids) = resources.pids() {
            let limit = pids.limit();
            if limit > 0 {
                self.write("pids", "pids.max", limit)?;
            } else {
                self.write("pids", "pids.max", "max")?;
            }
        }
        if let Some(cpu) = resources.cpu() {
            self.apply_cpu(cpu)?;
        }
        Ok(())
    }

    fn apply_cpu(&self, cpu: &LinuxCpu) -> Result<(), RuntimeError> {
        if let Some(shares) = cpu.shares() {
            self.write("cpu", "cpu.shares", shares)?;
            // The kernel clamps silently; runc reports it, and so does dokles.
            let set = self.read_number("cpu", "cpu.shares")?;
            if set > shares {
                return Err(RuntimeError::InvalidSpec(format!(
                    "the minimum allowed cpu-shares is {set}"
                )));
            }
            if set < shares {
                return Err(RuntimeError::InvalidSpec(format!(
                    "the maximum allowed cpu-shares is {set}"
                )));
            }
        }
        // The period first: a quota is checked against the current period.
        if let Some(period) = cpu.period() {
            self.write("cpu", "cpu.cfs_period_us", period)?;
        }
        if let Some(quota) = cpu.quota() {
            self.write("cpu", "cpu.cfs_quota_us", quota)?;
        }
        for (value, file) in [(cpu.cpus(), "cpuset.cpus"), (cpu.mems(), "cpuset.mems")] {
            if let Some(value) = value.as_deref().filter(|v| !v.is_empty()) {
                if self.dir(CPUSET).is_none() {
                    return Err(RuntimeError::InvalidSpec(
                        "no cgroup v1 hierarchy for cpuset on this host".into(),
                    ));
                }
                self.write(CPUSET, file, value)?;
            }
        }
        Ok(())
    }
}

impl CgroupManager for Cgroup {
    fn version(&self) -> Version {
        Version::V1
    }

    fn dirs(&self) -> &[PathBuf] {
        &self.dirs
    }

    fn create(
        &self,
        resources: Option<&LinuxResources>,
        rules: Option<&[DeviceRule]>,
    ) -> Result<(), RuntimeError> {
        let created = self.create_dirs().and_then(|()| {
            if let Some(resources) = resources {
                self.apply(resources).map_err(config_error)?;
            }
            match rules {
                Some(rules) => self.restrict_devices(rules),
                None => Ok(()),
            }
        });
        if created.is_err() {
            let _ = self.remove();
        }
        created
    }

    /// The device rules go in before the group has children: the kernel copies a parent's
    /// rules into each new child, and refuses to change the default of a parent.
    fn create_group(&self, pids_max: u64, rules: &[DeviceRule]) -> Result<(), RuntimeError> {
        let created = self
            .create_dirs()
            .and_then(|()| self.write("pids", "pids.max", pids_max))
            .and_then(|()| self.restrict_devices(rules));
        if created.is_err() {
            let _ = self.remove();
        }
        created
    }

    fn create_leaf(&self) -> Result<(), RuntimeError> {
        let created = self.create_dirs();
        if created.is_err() {
            let _ = self.remove();
        }
        created
    }

    fn pids(&self) -> Result<Vec<i32>, RuntimeError> {
        let text = self.read("pids", "cgroup.procs")?;
        Ok(text.lines().filter_map(|l| l.trim().parse().ok()).collect())
    }

    fn stats(&self) -> Result<CgroupStats, RuntimeError> {
        let memory_stat = self.read("memory", "memory.stat")?;
        Ok(CgroupStats {
            memory_usage: self.read_number("memory", "memory.usage_in_bytes")?,
            memory_inactive_file: keyed(&memory_stat, "total_inactive_file").unwrap_or(0),
            memory_limit: self.read_number("memory", "memory.limit_in_bytes")?,
            cpu_usage_ns: self.read_number("cpuacct", "cpuacct.usage")?,
            pids: self.read_number("pids", "pids.current")?,
        })
    }

    /// `oom_kill` in `memory.oom_control`.
    fn oom_killed(&self) -> bool {
        self.read("memory", "memory.oom_control")
            .ok()
            .and_then(|text| keyed(&text, "oom_kill"))
            .is_some_and(|n| n > 0)
    }

    fn freeze(&self) -> Result<(), RuntimeError> {
        self.write("freezer", "freezer.state", "FROZEN")?;
        let deadline = Instant::now() + FREEZE_TIMEOUT;
        loop {
            if self.read("freezer", "freezer.state")?.trim() == "FROZEN" {
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
        self.write("freezer", "freezer.state", "THAWED")
    }

    fn freezer_file(&self) -> FreezerFile {
        FreezerFile {
            path: self
                .file("freezer", "freezer.state")
                .unwrap_or_else(|_| PathBuf::from("freezer.state")),
            frozen: "FROZEN",
            thawed: "THAWED",
        }
    }

    fn remove(&self) -> Result<(), RuntimeError> {
        for dir in &self.dirs {
            remove_dir(dir)?;
        }
        Ok(())
    }

    /// The tree is frozen first (v1's freezer is hierarchical), so nothing forks while
    /// every process in it is sent SIGKILL; then every cgroup in it is thawed.
    fn kill(&self, spare: Option<Pid>) {
        // Killed either way: a freeze that does not take in time is undone by `freeze`.
        let _ = self.freeze();
        if let Some(pids_dir) = self.dir("pids") {
            kill_each(&tree(pids_dir), spare);
        }
        if let Some(freezer) = self.dir("freezer") {
            for dir in tree(freezer) {
                let _ = write(&dir.join("freezer.state"), "THAWED");
            }
        }
    }

    fn kill_and_remove(&self) -> Result<(), RuntimeError> {
        self.kill(None);
        wait_empty(self, || {
            self.read_number("pids", "pids.current").unwrap_or(0) == 0
        });
        for dir in &self.dirs {
            // Deepest first: a cgroup with children cannot be removed.
            for sub in tree(dir).into_iter().rev() {
                remove_dir(&sub)?;
            }
        }
        Ok(())
    }

    fn settle(&self, timeout: Duration) {
        let Some(pids_dir) = self.dir("pids") else {
            return;
        };
        let deadline = Instant::now() + timeout;
        loop {
            let charged = self.read_number("pids", "pids.current").unwrap_or(0);
            let alive: u64 = tree(pids_dir)
                .iter()
                .map(|d| {
                    fs::read_to_string(d.join("tasks"))
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

/// Every v1 cgroup directory the running process `pid` belongs to, one per hierarchy.
pub fn dirs_of_process(pid: Pid) -> Result<Vec<PathBuf>, RuntimeError> {
    let mountinfo = read(Path::new("/proc/self/mountinfo"))?;
    let theirs = read(Path::new(&format!("/proc/{pid}/cgroup")))?;
    let mut dirs = Vec::new();
    for line in theirs.lines() {
        let mut fields = line.splitn(3, ':');
        let (Some(_), Some(controllers), Some(path)) =
            (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        let Some(controller) = controllers.split(',').find(|c| !c.is_empty()) else {
            continue; // the v2 line of a hybrid host: dokles does not use it
        };
        // Locate the hierarchy through the caller's view, then apply their path.
        let dir = mountinfo::v1_mount(&mountinfo, controller)
            .and_then(|(root, mount_point)| mountinfo::dir_in_mount(root, mount_point, path));
        dirs.extend(dir);
    }
    Ok(dirs)
}
