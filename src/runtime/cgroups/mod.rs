//! cgroups: one interface, [`CgroupManager`], with two implementations chosen at run time
//! from what the host mounts — [`v1`] (a hierarchy per controller; also hybrid hosts, whose
//! unified hierarchy holds no controllers) and [`v2`] (the unified hierarchy). Everything
//! dokles does with cgroups goes through it: a container's cgroup with its limits
//! (`linux.resources`) and device rules ([`devices`]), usage for `docker stats`, the
//! processes for `docker top`, freezing for `docker pause` and `commit`, OOM kills for
//! `inspect`, removal; and grading's per-submission cgroups: a group with limits for all
//! below it ([`CgroupManager::create_group`]), spanning every hierarchy the host mounts
//! ([`Cgroup::locate_everywhere`], so that a cgroup namespace rooted in it is rooted there
//! in all of them), leaves for processes ([`CgroupManager::create_leaf`]), and killing all
//! of it ([`CgroupManager::kill`]).
//!
//! `linux.cgroupsPath` absolute (`/dokles/abc`) is taken from the hierarchy's root; relative
//! (`dokles/abc`) from the caller's own cgroup on v1 and from its parent on v2 (the caller's
//! own cgroup holds the caller, and v2 enables controllers only where no process sits —
//! runc does the same). The cgroup is created and configured by the caller before it forks;
//! the intermediate process joins it, so the container's init is born inside it.

pub mod devices;
mod mountinfo;
mod v1;
mod v2;

use std::fmt;
use std::fs;
use std::io;
use std::ops::Deref;
use std::path::{Component, Path, PathBuf};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

use nix::unistd::Pid;
use oci_spec::runtime::{Linux, LinuxResources};

use super::error::RuntimeError;
use devices::DeviceRule;

/// Which cgroup hierarchy the host gives containers their controllers in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// cgroup v1: a hierarchy per controller (also on hybrid hosts).
    V1,
    /// cgroup v2: the unified hierarchy.
    V2,
}

/// The host's cgroup version: v1 when a v1 hierarchy holds the memory controller (v1 or
/// hybrid hosts), v2 when the unified hierarchy is mounted and no v1 one has it.
pub fn version() -> Result<Version, RuntimeError> {
    static VERSION: OnceLock<Result<Version, String>> = OnceLock::new();
    VERSION
        .get_or_init(|| {
            let mountinfo = fs::read_to_string("/proc/self/mountinfo")
                .map_err(|e| format!("cannot read /proc/self/mountinfo: {e}"))?;
            mountinfo::version(&mountinfo).ok_or_else(|| {
                "no cgroup hierarchy with the memory controller is mounted on this host".into()
            })
        })
        .clone()
        .map_err(RuntimeError::InvalidSpec)
}

/// The CPUs containers may be given (`0-3`), as Docker's daemon reads them: the cpuset
/// of the hierarchy's root, else the CPUs online.
pub fn available_cpus() -> String {
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let root_file = match version() {
        Ok(Version::V1) => mountinfo::v1_mount(&mountinfo, "cpuset")
            .map(|(_, mount_point)| Path::new(mount_point).join("cpuset.effective_cpus")),
        Ok(Version::V2) => mountinfo::unified_mount(&mountinfo)
            .map(|(_, mount_point)| Path::new(mount_point).join("cpuset.cpus.effective")),
        Err(_) => None,
    };
    root_file
        .into_iter()
        .chain([PathBuf::from("/sys/devices/system/cpu/online")])
        .find_map(|f| fs::read_to_string(f).ok())
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// A cgroup hierarchy this process sees mounted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hierarchy {
    pub mount_point: PathBuf,
    /// [`Version::V1`] for a v1 hierarchy (`cgroup`), [`Version::V2`] for the unified one
    /// (`cgroup2`), also on a hybrid host.
    pub version: Version,
    /// What mounting the hierarchy again must say: a v1 hierarchy's controllers or name and
    /// flags (`cpu,cpuacct`, `xattr,name=systemd`); empty for the unified hierarchy.
    pub options: String,
}

/// Every cgroup hierarchy this process sees mounted, once each (its mount under
/// /sys/fs/cgroup where it has one).
pub fn hierarchies() -> Result<Vec<Hierarchy>, RuntimeError> {
    let mountinfo = read(Path::new("/proc/self/mountinfo"))?;
    Ok(mountinfo::hierarchies(&mountinfo)
        .into_iter()
        .map(|(mount_point, version, options)| Hierarchy {
            mount_point,
            version,
            options,
        })
        .collect())
}

/// A container's resource usage, the figures `docker stats` computes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CgroupStats {
    /// Memory charged to the cgroup, bytes (v1 `memory.usage_in_bytes`, v2 `memory.current`).
    pub memory_usage: u64,
    /// The page cache docker/cli leaves out of the usage it shows: `total_inactive_file` (v1)
    /// or `inactive_file` (v2) of `memory.stat`.
    pub memory_inactive_file: u64,
    /// The memory limit, bytes (`u64::MAX`-like huge numbers when there is none).
    pub memory_limit: u64,
    /// CPU time used, nanoseconds.
    pub cpu_usage_ns: u64,
    /// Tasks in the cgroup (`pids.current`).
    pub pids: u64,
}

impl CgroupStats {
    /// The memory in use as docker/cli shows it: the usage less inactive page cache.
    pub fn memory_in_use(&self) -> u64 {
        if self.memory_inactive_file < self.memory_usage {
            self.memory_usage - self.memory_inactive_file
        } else {
            self.memory_usage
        }
    }
}

/// What freezing writes, for telling students what happened under the hood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FreezerFile {
    pub path: PathBuf,
    pub frozen: &'static str,
    pub thawed: &'static str,
}

/// One cgroup, on whichever kind of hierarchy the host has.
pub trait CgroupManager: fmt::Debug + Send + Sync {
    fn version(&self) -> Version;

    /// The directories a process writes itself into to join the cgroup: one per managed v1
    /// hierarchy, the single one on v2.
    fn dirs(&self) -> &[PathBuf];

    /// Create the cgroup (and missing parents), write `resources`, and install the device
    /// `rules` (`None`: no device control, for groups of dokles' own processes). On error
    /// nothing of the new cgroup is left.
    fn create(
        &self,
        resources: Option<&LinuxResources>,
        rules: Option<&[DeviceRule]>,
    ) -> Result<(), RuntimeError>;

    /// Create the cgroup as the parent of a group of processes and containers: at most
    /// `pids_max` tasks in it and below it together, device access by `rules` for all of
    /// them (v1 copies a parent's rules into each new child, v2 runs a parent's program for
    /// every cgroup below it), and on v2 its controllers passed on to the cgroups below. On
    /// error nothing of the new cgroup is left.
    fn create_group(&self, pids_max: u64, rules: &[DeviceRule]) -> Result<(), RuntimeError>;

    /// Create the cgroup (and missing parents) only as a place for processes to sit in: no
    /// limits, no device rules of its own, and on v2 no controllers asked of its parents —
    /// so a parent may still hold a process while its leaf is made, and that process can
    /// then move down into it (v2 lets a cgroup pass controllers on only once it holds no
    /// process).
    fn create_leaf(&self) -> Result<(), RuntimeError>;

    /// The PIDs (host view) of every process directly in the cgroup.
    fn pids(&self) -> Result<Vec<i32>, RuntimeError>;

    /// Current usage figures.
    fn stats(&self) -> Result<CgroupStats, RuntimeError>;

    /// Whether the kernel's OOM killer has killed a process of the cgroup.
    fn oom_killed(&self) -> bool;

    /// Stop every process of the cgroup and below it (`docker pause`), returning once all
    /// are frozen. Frozen processes act on no signal, SIGKILL included, until thawed.
    fn freeze(&self) -> Result<(), RuntimeError>;

    /// Let the processes run again (`docker unpause`).
    fn thaw(&self) -> Result<(), RuntimeError>;

    /// The file freezing writes and its two values.
    fn freezer_file(&self) -> FreezerFile;

    /// Remove the cgroup's directories, waiting briefly for exiting processes to leave.
    fn remove(&self) -> Result<(), RuntimeError>;

    /// Kill every process in the cgroup and in the cgroups below it but `spare`, so that
    /// none can fork meanwhile (a fork bomb included). Cgroups below that were frozen on
    /// their own are thawed: a process frozen by v1's freezer does not die until then.
    fn kill(&self, spare: Option<Pid>);

    /// Kill every process in the cgroup and below it ([`kill`](Self::kill)), wait until
    /// they are reaped, and remove the cgroup and every cgroup below it.
    fn kill_and_remove(&self) -> Result<(), RuntimeError>;

    /// Wait (at most `timeout`) until killed tasks of the cgroup and those below it are
    /// reaped: they count against `pids.max` until then, so a new process could not start.
    fn settle(&self, timeout: Duration);
}

/// A cgroup of this host's kind.
#[derive(Debug)]
pub struct Cgroup(Box<dyn CgroupManager>);

impl Deref for Cgroup {
    type Target = dyn CgroupManager;

    fn deref(&self) -> &Self::Target {
        self.0.as_ref()
    }
}

impl Cgroup {
    /// Create the cgroup at `path` with the limits and device rules of `linux`.
    pub(crate) fn create(path: &Path, linux: Option<&Linux>) -> Result<Self, RuntimeError> {
        let rules = devices::container_rules(linux)?;
        let cgroup = Self::locate(path)?;
        cgroup.create(linux.and_then(|l| l.resources().as_ref()), Some(&rules))?;
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
        Ok(Cgroup(match version()? {
            Version::V1 => Box::new(v1::Cgroup::locate(path)?),
            Version::V2 => Box::new(v2::Cgroup::locate(path)?),
        }))
    }

    /// The cgroup at `path` (absolute) in every hierarchy this process sees mounted: on v1
    /// not only in the controllers a container uses but in named hierarchies
    /// (`name=systemd`), the others (`blkio`, `net_cls`, …) and a hybrid host's unified
    /// one — for a cgroup that is to be the root of a cgroup namespace in all of them.
    pub fn locate_everywhere(path: &Path) -> Result<Self, RuntimeError> {
        if !path.is_absolute()
            || path
                .components()
                .any(|c| matches!(c, Component::ParentDir | Component::CurDir))
        {
            return Err(RuntimeError::InvalidSpec(format!(
                "a cgroup in every hierarchy needs an absolute path without . or .., not {}",
                path.display()
            )));
        }
        Ok(Cgroup(match version()? {
            Version::V1 => Box::new(v1::Cgroup::locate_everywhere(path)?),
            Version::V2 => Box::new(v2::Cgroup::locate(path)?),
        }))
    }

    /// The cgroup a running process belongs to (the container's init, seen from any later
    /// dokles process: `pause`, `stats`, `top`).
    pub fn of_process(pid: Pid) -> Result<Self, RuntimeError> {
        Ok(Cgroup(match version()? {
            Version::V1 => Box::new(v1::Cgroup::of_process(pid)?),
            Version::V2 => Box::new(v2::Cgroup::of_process(pid)?),
        }))
    }
}

/// The cgroup directories the running process `pid` belongs to: what a process joining its
/// container (`docker exec`) must join — on v1 every hierarchy, devices included.
pub fn dirs_of_process(pid: Pid) -> Result<Vec<PathBuf>, RuntimeError> {
    match version()? {
        Version::V1 => v1::dirs_of_process(pid),
        Version::V2 => Ok(v2::Cgroup::of_process(pid)?.dirs().to_vec()),
    }
}

/// Move the calling process into every directory of `dirs` (its children follow).
pub fn join(dirs: &[PathBuf]) -> io::Result<()> {
    for dir in dirs {
        fs::write(dir.join("cgroup.procs"), "0")?;
    }
    Ok(())
}

/// A failure to write the limits, as the error runc reports for it.
fn config_error(e: RuntimeError) -> RuntimeError {
    match e {
        RuntimeError::InvalidSpec(message) => RuntimeError::CgroupConfig(message),
        RuntimeError::CgroupConfig(_) => e,
        other => RuntimeError::CgroupConfig(other.to_string()),
    }
}

/// How long removal waits for the container's last processes to leave the cgroup.
const REMOVE_TIMEOUT: Duration = Duration::from_secs(2);

/// How long [`CgroupManager::kill_and_remove`] waits for killed processes to be reaped.
const REAP_TIMEOUT: Duration = Duration::from_secs(10);

/// How long freezing waits for every task to stop.
const FREEZE_TIMEOUT: Duration = Duration::from_secs(5);

/// Remove the cgroup directory `dir`, waiting up to `REMOVE_TIMEOUT` while it is busy (its
/// last processes exiting). A directory already gone is fine.
fn remove_dir(dir: &Path) -> Result<(), RuntimeError> {
    let deadline = Instant::now() + REMOVE_TIMEOUT;
    loop {
        match fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && Instant::now() < deadline => {
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

/// SIGKILL every process directly in the cgroup directories `dirs` but `spare`.
fn kill_each(dirs: &[PathBuf], spare: Option<Pid>) {
    for dir in dirs {
        let procs = fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
        for pid in procs
            .lines()
            .filter_map(|l| l.trim().parse::<i32>().ok())
            .map(Pid::from_raw)
            .filter(|&pid| Some(pid) != spare)
        {
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::SIGKILL);
        }
    }
}

/// Wait until `empty` says so or [`REAP_TIMEOUT`] passes, killing again halfway (a process
/// caught mid-fork by the first round): whether it is empty.
fn wait_empty(manager: &dyn CgroupManager, empty: impl Fn() -> bool) -> bool {
    let start = Instant::now();
    let mut killed_again = false;
    while !empty() {
        if start.elapsed() >= REAP_TIMEOUT {
            return false;
        }
        if !killed_again && start.elapsed() >= REAP_TIMEOUT / 2 {
            manager.kill(None);
            killed_again = true;
        }
        thread::sleep(Duration::from_millis(5));
    }
    true
}

fn read(path: &Path) -> Result<String, RuntimeError> {
    fs::read_to_string(path)
        .map_err(|e| RuntimeError::host(format!("cannot read {}", path.display()), e))
}

fn write(path: &Path, value: &str) -> Result<(), RuntimeError> {
    fs::write(path, value)
        .map_err(|e| RuntimeError::host(format!("cannot write {value} to {}", path.display()), e))
}

fn read_number(path: &Path) -> Result<u64, RuntimeError> {
    let text = read(path)?;
    parse_number(&text).ok_or_else(|| {
        RuntimeError::host(
            format!(
                "unexpected contents in {}: {:?}",
                path.display(),
                text.trim()
            ),
            io::Error::from(io::ErrorKind::InvalidData),
        )
    })
}

/// A cgroup file's number; v2's `max` is `u64::MAX`.
fn parse_number(text: &str) -> Option<u64> {
    match text.trim() {
        "max" => Some(u64::MAX),
        n => n.parse().ok(),
    }
}

/// The value of `key` in a flat-keyed file (`memory.stat`, `cpu.stat`, `memory.events`).
fn keyed(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_stats_leaves_the_inactive_page_cache_out() {
        let stats = CgroupStats {
            memory_usage: 10_000,
            memory_inactive_file: 4_000,
            memory_limit: u64::MAX,
            cpu_usage_ns: 0,
            pids: 1,
        };
        assert_eq!(stats.memory_in_use(), 6_000);
        let odd = CgroupStats {
            memory_inactive_file: 20_000,
            ..stats
        };
        assert_eq!(odd.memory_in_use(), 10_000, "never below zero");
    }

    #[test]
    fn keyed_files_and_max_are_read() {
        assert_eq!(keyed("anon 5\ninactive_file 7\n", "inactive_file"), Some(7));
        assert_eq!(keyed("total_inactive_file 9\n", "inactive_file"), None);
        assert_eq!(parse_number("max\n"), Some(u64::MAX));
        assert_eq!(parse_number("42\n"), Some(42));
    }
}
