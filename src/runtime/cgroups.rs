//! cgroups v1 (on v1 and hybrid hosts): the container's own cgroup in the memory, pids, cpu
//! and cpuacct hierarchies, its limits from `linux.resources`, and its removal.
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

use oci_spec::runtime::LinuxResources;

use super::error::RuntimeError;

/// The v1 controllers dokles manages.
const CONTROLLERS: [&str; 4] = ["memory", "pids", "cpu", "cpuacct"];

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
    /// Create the cgroup at `path` and write the limits of `resources`.
    pub fn create(path: &Path, resources: Option<&LinuxResources>) -> Result<Self, RuntimeError> {
        let cgroup = Self::locate(path)?;
        for dir in &cgroup.dirs {
            fs::create_dir_all(dir).map_err(|e| {
                RuntimeError::host(format!("cannot create cgroup {}", dir.display()), e)
            })?;
        }
        if let Err(e) = cgroup.apply(resources) {
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

    /// The cgroup's directories, one per hierarchy.
    pub fn dirs(&self) -> &[PathBuf] {
        &self.dirs
    }

    /// Move the calling process into the cgroup (its future children follow).
    pub fn join_self(&self) -> io::Result<()> {
        for dir in &self.dirs {
            fs::write(dir.join("cgroup.procs"), "0")?;
        }
        Ok(())
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

/// Where a controller's hierarchy is mounted, and the caller's cgroup in it.
struct Hierarchy {
    mount_point: PathBuf,
    /// The caller's cgroup, relative to the mount point.
    own: PathBuf,
}

fn hierarchy(mountinfo: &str, own_cgroups: &str, controller: &str) -> Option<Hierarchy> {
    let (root, mount_point) = mountinfo.lines().find_map(|line| {
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
    })?;
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

fn read(path: &str) -> Result<String, RuntimeError> {
    fs::read_to_string(path).map_err(|e| RuntimeError::host(format!("cannot read {path}"), e))
}

#[cfg(test)]
mod tests {
    use super::*;

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
