//! cgroups v1 (on v1 and hybrid hosts): the container's own cgroup in the memory, pids, cpu,
//! cpuacct, freezer and devices hierarchies, its limits from `linux.resources`, its device
//! access rules, its usage (`docker stats`), freezing (`docker pause`) and removal.
//!
//! Device access is deny-by-default, as runc does it: everything denied, then the spec's
//! `linux.resources.devices` rules in order, then runc's always-allowed devices (null, zero,
//! full, random, urandom, tty, ptmx, pts, tun and `mknod` of any node), then the spec's
//! `linux.devices`. Without this, `CAP_MKNOD` (in Docker's default set) would let a
//! container create and open any host device node.
//!
//! `linux.cgroupsPath` absolute (`/dokles/abc`) is taken from each hierarchy's root; relative
//! (`dokles/abc`) from the caller's own cgroup, so containers stay inside whatever limits the
//! caller itself runs under. The cgroup is created and configured by the caller before it
//! forks; the intermediate process joins it, so the container's init is born inside it.

use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use nix::unistd::Pid;
use oci_spec::runtime::{Linux, LinuxDeviceCgroup, LinuxDeviceType, LinuxResources};

use super::error::RuntimeError;

/// The v1 controllers dokles manages.
const CONTROLLERS: [&str; 6] = ["memory", "pids", "cpu", "cpuacct", "freezer", "devices"];

/// Devices every container may use (runc's `AllowedDevices`), as `devices.allow` lines.
pub const ALWAYS_ALLOWED_DEVICES: [&str; 11] = [
    "c *:* m",
    "b *:* m",
    "c 1:3 rwm",
    "c 1:8 rwm",
    "c 1:7 rwm",
    "c 5:0 rwm",
    "c 1:5 rwm",
    "c 1:9 rwm",
    "c 136:* rwm",
    "c 5:2 rwm",
    "c 10:200 rwm",
];

/// How long `freeze` waits for every task to stop.
const FREEZE_TIMEOUT: Duration = Duration::from_secs(5);

/// A container's resource usage, as `docker stats` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CgroupStats {
    /// Memory in use, bytes (`memory.usage_in_bytes`).
    pub memory_usage: u64,
    /// The memory limit, bytes (the kernel's "unlimited" is a huge number).
    pub memory_limit: u64,
    /// CPU time used, nanoseconds (`cpuacct.usage`).
    pub cpu_usage_ns: u64,
    /// Tasks in the cgroup (`pids.current`).
    pub pids: u64,
}

/// How long `remove` waits for the container's last processes to leave the cgroup.
const REMOVE_TIMEOUT: Duration = Duration::from_secs(2);

/// A container's cgroup: one directory per managed hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cgroup {
    /// Each managed controller with its directory (co-mounted controllers share one).
    by_controller: Vec<(&'static str, PathBuf)>,
    /// The distinct directories.
    dirs: Vec<PathBuf>,
}

impl Cgroup {
    /// Create the cgroup at `path` and write the limits and device rules of `linux`.
    pub(super) fn create(path: &Path, linux: Option<&Linux>) -> Result<Self, RuntimeError> {
        let cgroup = Self::locate(path)?;
        for dir in &cgroup.dirs {
            fs::create_dir_all(dir).map_err(|e| {
                RuntimeError::host(format!("cannot create cgroup {}", dir.display()), e)
            })?;
        }
        let applied = cgroup
            .apply(linux.and_then(|l| l.resources().as_ref()))
            .and_then(|()| cgroup.restrict_devices(linux));
        if let Err(e) = applied {
            let _ = cgroup.remove();
            return Err(e);
        }
        Ok(cgroup)
    }

    /// The cgroup at `path`, which may or may not exist (to remove what a killed owner
    /// left behind).
    pub fn locate(path: &Path) -> Result<Self, RuntimeError> {
        if path
            .components()
            .any(|c| matches!(c, Component::ParentDir | Component::CurDir))
        {
            return Err(RuntimeError::InvalidSpec(format!(
                "cgroupsPath {} must not contain . or ..",
                path.display()
            )));
        }
        let mountinfo = read("/proc/self/mountinfo")?;
        let own = read("/proc/self/cgroup")?;
        let mut by_controller = Vec::new();
        let mut dirs: Vec<PathBuf> = Vec::new();
        for controller in CONTROLLERS {
            let Some(hierarchy) = hierarchy(&mountinfo, &own, controller) else {
                return Err(RuntimeError::InvalidSpec(format!(
                    "no cgroup v1 hierarchy for {controller} on this host \
                     (cgroup v2-only hosts are not supported yet)"
                )));
            };
            let dir = if path.is_absolute() {
                hierarchy
                    .mount_point
                    .join(path.strip_prefix("/").unwrap_or(path))
            } else {
                hierarchy.mount_point.join(&hierarchy.own).join(path)
            };
            if !dirs.contains(&dir) {
                dirs.push(dir.clone());
            }
            by_controller.push((controller, dir));
        }
        Ok(Cgroup {
            by_controller,
            dirs,
        })
    }

    /// The cgroup a running process belongs to (the container's init, seen from any later
    /// dokles process: `pause`, `stats`, `top`).
    pub fn of_process(pid: Pid) -> Result<Self, RuntimeError> {
        let mountinfo = read("/proc/self/mountinfo")?;
        let theirs = read(&format!("/proc/{pid}/cgroup"))?;
        let mut by_controller = Vec::new();
        let mut dirs: Vec<PathBuf> = Vec::new();
        for controller in CONTROLLERS {
            let Some(path) = theirs.lines().find_map(|line| {
                let mut fields = line.splitn(3, ':');
                let (_, controllers, path) = (fields.next()?, fields.next()?, fields.next()?);
                controllers
                    .split(',')
                    .any(|c| c == controller)
                    .then_some(path)
            }) else {
                continue;
            };
            let Some((root, mount_point)) = mount_of(&mountinfo, controller) else {
                continue;
            };
            let Ok(relative) = Path::new(path).strip_prefix(root) else {
                continue;
            };
            let dir = PathBuf::from(mount_point).join(relative);
            if !dirs.contains(&dir) {
                dirs.push(dir.clone());
            }
            by_controller.push((controller, dir));
        }
        Ok(Cgroup {
            by_controller,
            dirs,
        })
    }

    /// Whether the kernel's OOM killer has killed a process of this cgroup
    /// (`oom_kill` in v1's `memory.oom_control`).
    pub fn oom_killed(&self) -> bool {
        self.read("memory", "memory.oom_control")
            .ok()
            .and_then(|text| {
                text.lines()
                    .find_map(|l| l.strip_prefix("oom_kill "))
                    .and_then(|n| n.trim().parse::<u64>().ok())
            })
            .is_some_and(|n| n > 0)
    }

    /// The PIDs (host view) of every process in the cgroup.
    pub fn pids(&self) -> Result<Vec<i32>, RuntimeError> {
        let text = self.read("pids", "cgroup.procs")?;
        Ok(text.lines().filter_map(|l| l.trim().parse().ok()).collect())
    }

    /// The cgroup's directories, one per hierarchy.
    pub fn dirs(&self) -> &[PathBuf] {
        &self.dirs
    }

    /// Current usage figures.
    pub fn stats(&self) -> Result<CgroupStats, RuntimeError> {
        Ok(CgroupStats {
            memory_usage: self.read_number("memory", "memory.usage_in_bytes")?,
            memory_limit: self.read_number("memory", "memory.limit_in_bytes")?,
            cpu_usage_ns: self.read_number("cpuacct", "cpuacct.usage")?,
            pids: self.read_number("pids", "pids.current")?,
        })
    }

    /// Stop every process of the container (`docker pause`), waiting until all are frozen.
    /// Frozen processes do not act on signals, SIGKILL included, until thawed.
    pub fn freeze(&self) -> Result<(), RuntimeError> {
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

    /// Let the container's processes run again (`docker unpause`).
    pub fn thaw(&self) -> Result<(), RuntimeError> {
        self.write("freezer", "freezer.state", "THAWED")
    }

    /// Remove the cgroup's directories, waiting briefly for exiting processes to leave.
    pub fn remove(&self) -> Result<(), RuntimeError> {
        let deadline = Instant::now() + REMOVE_TIMEOUT;
        for dir in &self.dirs {
            loop {
                match fs::remove_dir(dir) {
                    Ok(()) => break,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => break,
                    Err(e)
                        if e.raw_os_error() == Some(libc::EBUSY) && Instant::now() < deadline =>
                    {
                        thread::sleep(Duration::from_millis(5));
                    }
                    Err(e) => {
                        return Err(RuntimeError::host(
                            format!("cannot remove cgroup {}", dir.display()),
                            e,
                        ))
                    }
                }
            }
        }
        Ok(())
    }

    /// Create an empty cgroup at `path` (absolute, from each hierarchy's root) holding at
    /// most `pids_max` tasks, itself and the cgroups below it together: a parent for a group
    /// of processes and containers (grading gives each submission one).
    pub fn create_group(path: &Path, pids_max: u64) -> Result<Self, RuntimeError> {
        if !path.is_absolute() {
            return Err(RuntimeError::InvalidSpec(format!(
                "a cgroup group needs an absolute path, not {}",
                path.display()
            )));
        }
        let cgroup = Self::locate(path)?;
        for dir in &cgroup.dirs {
            fs::create_dir_all(dir).map_err(|e| {
                RuntimeError::host(format!("cannot create cgroup {}", dir.display()), e)
            })?;
        }
        if let Err(e) = cgroup.write("pids", "pids.max", pids_max) {
            let _ = cgroup.remove();
            return Err(e);
        }
        Ok(cgroup)
    }

    /// Wait (at most `timeout`) until killed tasks of this cgroup and those below it are
    /// reaped: they count against `pids.max` until then, so a new process could not start.
    pub fn settle(&self, timeout: Duration) {
        let Some((_, pids_dir)) = self.by_controller.iter().find(|(c, _)| *c == "pids") else {
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

    /// Kill every process in this cgroup and in the cgroups below it, then remove them
    /// all. The group is frozen first (v1's freezer is hierarchical), so nothing can fork
    /// while the killing goes on — a fork bomb included.
    pub fn kill_and_remove(&self) -> Result<(), RuntimeError> {
        let frozen = self.freeze().is_ok();
        if let Some((_, pids_dir)) = self.by_controller.iter().find(|(c, _)| *c == "pids") {
            for dir in tree(pids_dir) {
                let procs = fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
                for pid in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
                    let _ = nix::sys::signal::kill(Pid::from_raw(pid), nix::sys::signal::SIGKILL);
                }
            }
        }
        if frozen {
            self.thaw()?;
        }
        let deadline = Instant::now() + REMOVE_TIMEOUT * 5;
        while self.read_number("pids", "pids.current").unwrap_or(0) > 0 {
            if Instant::now() >= deadline {
                break;
            }
            thread::sleep(Duration::from_millis(5));
        }
        for dir in &self.dirs {
            // Deepest first: a cgroup with children cannot be removed.
            for sub in tree(dir).into_iter().rev() {
                let one = Cgroup {
                    by_controller: Vec::new(),
                    dirs: vec![sub],
                };
                one.remove()?;
            }
        }
        Ok(())
    }

    /// Deny every device, then allow the ones a container may use (see the module docs).
    fn restrict_devices(&self, linux: Option<&Linux>) -> Result<(), RuntimeError> {
        self.write("devices", "devices.deny", "a")?;
        let rules = linux
            .and_then(|l| l.resources().as_ref())
            .and_then(|r| r.devices().as_ref());
        for rule in rules.into_iter().flatten() {
            let file = if rule.allow() {
                "devices.allow"
            } else {
                "devices.deny"
            };
            self.write("devices", file, device_rule(rule))?;
        }
        // After the spec's rules, whose usual first rule ("deny all") would erase them.
        for rule in ALWAYS_ALLOWED_DEVICES {
            self.write("devices", "devices.allow", rule)?;
        }
        let devices = linux.and_then(|l| l.devices().as_ref());
        for device in devices.into_iter().flatten() {
            let typ = match device.typ() {
                LinuxDeviceType::B => "b",
                LinuxDeviceType::P => continue, // FIFOs are not device-controlled.
                _ => "c",
            };
            let rule = format!("{typ} {}:{} rwm", device.major(), device.minor());
            self.write("devices", "devices.allow", rule)?;
        }
        Ok(())
    }

    fn apply(&self, resources: Option<&LinuxResources>) -> Result<(), RuntimeError> {
        let Some(resources) = resources else {
            return Ok(());
        };
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
                if self
                    .file("memory", "memory.memsw.limit_in_bytes")
                    .is_some_and(|f| f.exists())
                {
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
            if let Some(shares) = cpu.shares() {
                self.write("cpu", "cpu.shares", shares)?;
            }
            // The period first: a quota is checked against the current period.
            if let Some(period) = cpu.period() {
                self.write("cpu", "cpu.cfs_period_us", period)?;
            }
            if let Some(quota) = cpu.quota() {
                self.write("cpu", "cpu.cfs_quota_us", quota)?;
            }
        }
        Ok(())
    }

    fn file(&self, controller: &str, name: &str) -> Option<PathBuf> {
        self.by_controller
            .iter()
            .find(|(c, _)| *c == controller)
            .map(|(_, dir)| dir.join(name))
    }

    fn read(&self, controller: &str, name: &str) -> Result<String, RuntimeError> {
        let Some(file) = self.file(controller, name) else {
            return Err(RuntimeError::InvalidSpec(format!("no {controller} cgroup")));
        };
        fs::read_to_string(&file)
            .map_err(|e| RuntimeError::host(format!("cannot read {}", file.display()), e))
    }

    fn read_number(&self, controller: &str, name: &str) -> Result<u64, RuntimeError> {
        let text = self.read(controller, name)?;
        text.trim().parse().map_err(|_| {
            RuntimeError::host(
                format!("unexpected contents in {name}: {:?}", text.trim()),
                io::Error::from(io::ErrorKind::InvalidData),
            )
        })
    }

    fn write(
        &self,
        controller: &str,
        name: &str,
        value: impl ToString,
    ) -> Result<(), RuntimeError> {
        let Some(file) = self.file(controller, name) else {
            return Err(RuntimeError::InvalidSpec(format!("no {controller} cgroup")));
        };
        let value = value.to_string();
        fs::write(&file, &value).map_err(|e| {
            RuntimeError::host(format!("cannot write {value} to {}", file.display()), e)
        })
    }
}

/// The v1 cgroup directories the running process `pid` belongs to, one per hierarchy: what
/// a process joining its container (`docker exec`) must join, devices cgroup included.
pub fn dirs_of_process(pid: Pid) -> Result<Vec<PathBuf>, RuntimeError> {
    let mountinfo = read("/proc/self/mountinfo")?;
    let theirs = read(&format!("/proc/{pid}/cgroup"))?;
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
        let Some(mount) = mount_of(&mountinfo, controller) else {
            continue;
        };
        let Ok(relative) = Path::new(path).strip_prefix(mount.0) else {
            continue;
        };
        dirs.push(PathBuf::from(mount.1).join(relative));
    }
    Ok(dirs)
}

/// Move the calling process into every directory of `dirs` (its children follow).
pub fn join(dirs: &[PathBuf]) -> io::Result<()> {
    for dir in dirs {
        fs::write(dir.join("cgroup.procs"), "0")?;
    }
    Ok(())
}

/// `dir` and every cgroup directory below it, parents before children.
fn tree(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![dir.to_path_buf()];
    let mut i = 0;
    while i < out.len() {
        if let Ok(entries) = fs::read_dir(&out[i]) {
            let mut subs: Vec<PathBuf> = entries
                .filter_map(|e| e.ok())
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .map(|e| e.path())
                .collect();
            subs.sort();
            out.extend(subs);
        }
        i += 1;
    }
    out
}

/// A `linux.resources.devices` rule as a `devices.allow`/`devices.deny` line.
fn device_rule(rule: &LinuxDeviceCgroup) -> String {
    let number = |n: Option<i64>| n.map_or("*".to_string(), |n| n.to_string());
    let access = rule.access().as_deref().unwrap_or("rwm");
    match rule.typ().unwrap_or(LinuxDeviceType::A) {
        LinuxDeviceType::A => "a".to_string(),
        typ => format!(
            "{} {}:{} {access}",
            if typ == LinuxDeviceType::B { "b" } else { "c" },
            number(rule.major()),
            number(rule.minor())
        ),
    }
}

/// Where a controller's hierarchy is mounted, and the caller's cgroup in it.
struct Hierarchy {
    mount_point: PathBuf,
    /// The caller's cgroup, relative to the mount point.
    own: PathBuf,
}

fn hierarchy(mountinfo: &str, own_cgroups: &str, controller: &str) -> Option<Hierarchy> {
    let (root, mount_point) = mount_of(mountinfo, controller)?;
    let own = own_cgroups.lines().find_map(|line| {
        let mut fields = line.splitn(3, ':');
        let (_, controllers, path) = (fields.next()?, fields.next()?, fields.next()?);
        controllers
            .split(',')
            .any(|c| c == controller)
            .then_some(path)
    })?;
    let own = Path::new(own).strip_prefix(root).ok()?;
    Some(Hierarchy {
        mount_point: PathBuf::from(mount_point),
        own: own.to_path_buf(),
    })
}

/// (root, mount point) of the v1 hierarchy holding `controller` (or `name=...`).
fn mount_of<'a>(mountinfo: &'a str, controller: &str) -> Option<(&'a str, &'a str)> {
    mountinfo.lines().find_map(|line| {
        let (left, right) = line.split_once(" - ")?;
        let mut right = right.split(' ');
        if right.next()? != "cgroup" {
            return None;
        }
        let super_options = right.nth(1)?;
        if !super_options.split(',').any(|o| o == controller) {
            return None;
        }
        let left: Vec<&str> = left.split(' ').collect();
        Some((*left.get(3)?, *left.get(4)?))
    })
}

fn read(path: &str) -> Result<String, RuntimeError> {
    fs::read_to_string(path).map_err(|e| RuntimeError::host(format!("cannot read {path}"), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_rules_are_written_as_the_kernel_reads_them() {
        let mut rule = LinuxDeviceCgroup::default();
        rule.set_allow(true);
        rule.set_typ(Some(LinuxDeviceType::C));
        rule.set_major(Some(136));
        rule.set_access(Some("rwm".into()));
        assert_eq!(device_rule(&rule), "c 136:* rwm");
        rule.set_typ(None);
        assert_eq!(device_rule(&rule), "a");
    }

    #[test]
    fn hierarchies_are_found_with_the_callers_own_cgroup() {
        let mountinfo = "\
35 30 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid - cgroup cgroup rw,cpu,cpuacct
36 30 0:30 / /sys/fs/cgroup/memory rw,nosuid - cgroup cgroup rw,memory
";
        let own = "4:cpu,cpuacct:/\n3:memory:/sandbox/abc\n";
        let memory = hierarchy(mountinfo, own, "memory").expect("memory");
        assert_eq!(memory.mount_point, Path::new("/sys/fs/cgroup/memory"));
        assert_eq!(memory.own, Path::new("sandbox/abc"));
        let cpuacct = hierarchy(mountinfo, own, "cpuacct").expect("cpuacct");
        assert_eq!(cpuacct.mount_point, Path::new("/sys/fs/cgroup/cpu,cpuacct"));
        assert!(hierarchy(mountinfo, own, "pids").is_none());
    }
}
