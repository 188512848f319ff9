//! The submission's cgroups, as the grader (on the host) makes and removes them: in every
//! hierarchy mounted under /sys/fs/cgroup, `/dokles-nakijken/<grader pid>-<n>` for the
//! world (its init and its judge) and `…/inzending` below it, the root of the submission's
//! cgroup namespace: every line, monitor and container lives there or below. Whatever
//! cgroupfs the submission writes to or mounts, it sees only that subtree, so it can neither
//! leave it nor touch another cgroup of the host.
//!
//! The world's cgroup carries the limits, so they hold for everything below: `pids.max`
//! and a device allow-list (the devices a container may use: a node made with `mknod` for
//! the host's disk cannot be opened). On drop everything still in the tree is killed —
//! cgroups the submission froze itself are thawed, or their processes would never die —
//! and the cgroups are removed, deepest first.
//!
//! Only cgroup v1 and hybrid hosts: the device allow-list is a v1 file.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

/// The cgroup all gradings live under (from each hierarchy's root).
const BASE: &str = "dokles-nakijken";

/// The submission's cgroup, below the world's (and the root of its cgroup namespace).
const SUBMISSION: &str = "inzending";

/// Where the host mounts its cgroup hierarchies.
const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// How long removal waits for killed processes to be reaped.
const REAP_TIMEOUT: Duration = Duration::from_secs(10);

/// One cgroup hierarchy, as the world mounts it again inside its cgroup namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hierarchy {
    /// The mount point's name under /sys/fs/cgroup (`pids`, `cpu,cpuacct`, `unified`).
    pub name: String,
    /// `cgroup` (v1) or `cgroup2`.
    pub fstype: String,
    /// The v1 mount options naming the hierarchy (`pids`, `name=systemd`); empty for v2.
    pub options: String,
    /// The world's directory on the host.
    pub world: PathBuf,
    /// The submission's directory on the host (the cgroup namespace's root).
    pub submission: PathBuf,
}

impl Hierarchy {
    /// Whether this v1 hierarchy holds `controller`.
    pub fn has(&self, controller: &str) -> bool {
        self.fstype == "cgroup" && self.options.split(',').any(|o| o == controller)
    }
}

/// The world's and the submission's cgroups; killed and removed on drop.
pub struct Group {
    hierarchies: Vec<Hierarchy>,
}

impl Group {
    /// Create the cgroups `<BASE>/<unique>` and `<BASE>/<unique>/inzending` in every
    /// hierarchy, with at most `pids` tasks in all and the device allow-list.
    pub fn create(unique: &str, pids: u64) -> Result<Self> {
        let mountinfo =
            fs::read_to_string("/proc/self/mountinfo").context("reading /proc/self/mountinfo")?;
        let relative = Path::new(BASE).join(unique);
        let mounted = mounted_hierarchies(&mountinfo);
        let hierarchies: Vec<Hierarchy> = mounted
            .iter()
            .map(|(name, fstype, options, mount_point)| {
                let world = mount_point.join(&relative);
                let submission = world.join(SUBMISSION);
                Hierarchy {
                    name: name.clone(),
                    fstype: fstype.clone(),
                    options: options.clone(),
                    world,
                    submission,
                }
            })
            .collect();
        for needed in ["pids", "freezer", "devices"] {
            if !hierarchies.iter().any(|h| h.has(needed)) {
                bail!(
                    "geen cgroup-v1-hiërarchie voor {needed} op deze machine \
                     (nakijken werkt nog niet op cgroup v2 alleen)"
                );
            }
        }
        // From here on, drop removes whatever was made.
        let group = Self { hierarchies };
        for (h, (.., mount_point)) in group.hierarchies.iter().zip(&mounted) {
            make_dirs(mount_point, &relative, h.has("cpuset"))?;
        }
        let pids_dir = group.dir_of("pids")?;
        write(&pids_dir.join("pids.max"), &pids.to_string())?;
        // Before the cgroup has children: the kernel refuses to change the default of a
        // parent; a child copies its parent's rules when it is made.
        let devices = group.dir_of("devices")?;
        write(&devices.join("devices.deny"), "a")?;
        for rule in crate::runtime::ALWAYS_ALLOWED_DEVICES {
            write(&devices.join("devices.allow"), rule)?;
        }
        for (h, (.., mount_point)) in group.hierarchies.iter().zip(&mounted) {
            make_dirs(mount_point, &relative.join(SUBMISSION), h.has("cpuset"))?;
        }
        Ok(group)
    }

    pub fn hierarchies(&self) -> &[Hierarchy] {
        &self.hierarchies
    }

    fn dir_of(&self, controller: &str) -> Result<PathBuf> {
        self.hierarchies
            .iter()
            .find(|h| h.has(controller))
            .map(|h| h.world.clone())
            .with_context(|| format!("no {controller} hierarchy"))
    }

    /// Kill every process in the world's tree but `spare`: freeze it (v1's freezer is
    /// hierarchical, so nothing forks meanwhile), SIGKILL everything, then thaw every cgroup
    /// in it — also those the submission froze itself, which thawing the top does not
    /// thaw. (The grader spares the helper, its own child: it reaps the world's init, and
    /// the grader reaps it.)
    pub fn kill_all(&self, spare: Option<u32>) {
        let Ok(pids) = self.dir_of("pids") else {
            return;
        };
        let freezer = self.dir_of("freezer").ok();
        let frozen = freezer
            .as_ref()
            .is_some_and(|f| write(&f.join("freezer.state"), "FROZEN").is_ok());
        if frozen {
            // Wait (briefly) until every task stopped.
            let deadline = Instant::now() + Duration::from_secs(2);
            while freezer.as_ref().is_some_and(|f| {
                fs::read_to_string(f.join("freezer.state")).is_ok_and(|s| s.trim() == "FREEZING")
            }) && Instant::now() < deadline
            {
                thread::sleep(Duration::from_millis(2));
            }
        }
        for dir in tree(&pids) {
            let procs = fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
            for pid in procs
                .lines()
                .filter_map(|l| l.trim().parse::<i32>().ok())
                .filter(|&pid| spare.and_then(|s| i32::try_from(s).ok()) != Some(pid))
            {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
        if let Some(freezer) = &freezer {
            for dir in tree(freezer) {
                let _ = write(&dir.join("freezer.state"), "THAWED");
            }
        }
    }

    /// Wait until nothing is left in the world's tree (killed tasks are reaped).
    fn wait_empty(&self) {
        let Ok(pids) = self.dir_of("pids") else {
            return;
        };
        let deadline = Instant::now() + REAP_TIMEOUT;
        loop {
            let current = fs::read_to_string(pids.join("pids.current"))
                .ok()
                .and_then(|s| s.trim().parse::<u64>().ok())
                .unwrap_or(0);
            if current == 0 || Instant::now() >= deadline {
                return;
            }
            thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        // Twice: a process caught mid-fork in the first round is killed in the second.
        self.kill_all(None);
        self.wait_empty();
        self.kill_all(None);
        self.wait_empty();
        for h in &self.hierarchies {
            // Deepest first: a cgroup with children cannot be removed.
            for dir in tree(&h.world).into_iter().rev() {
                if let Err(e) = remove(&dir) {
                    eprintln!("dokles: opruimen van cgroup {} mislukt: {e}", dir.display());
                }
            }
        }
    }
}

/// `(name under /sys/fs/cgroup, fstype, options, mount point)` of every cgroup hierarchy
/// mounted there.
fn mounted_hierarchies(mountinfo: &str) -> Vec<(String, String, String, PathBuf)> {
    let mut out: Vec<(String, String, String, PathBuf)> = Vec::new();
    for line in mountinfo.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let mut right = right.split(' ');
        let (Some(fstype), Some(_source), Some(super_options)) =
            (right.next(), right.next(), right.next())
        else {
            continue;
        };
        if fstype != "cgroup" && fstype != "cgroup2" {
            continue;
        }
        let Some(mount_point) = left.split(' ').nth(4) else {
            continue;
        };
        let Some(name) = mount_point
            .strip_prefix(CGROUP_ROOT)
            .and_then(|n| n.strip_prefix('/'))
            .filter(|n| !n.is_empty() && !n.contains('/'))
        else {
            continue;
        };
        let options = if fstype == "cgroup" {
            hierarchy_options(super_options)
        } else {
            String::new()
        };
        // The same hierarchy mounted twice is one hierarchy.
        if out.iter().any(|(_, t, o, _)| *t == fstype && *o == options) {
            continue;
        }
        out.push((
            name.to_string(),
            fstype.to_string(),
            options,
            PathBuf::from(mount_point),
        ));
    }
    out
}

/// The options that name a v1 hierarchy (its controllers, `name=`, `none`), without the
/// generic ones (`rw`) and those only the initial cgroup namespace may give
/// (`release_agent=`).
fn hierarchy_options(super_options: &str) -> String {
    super_options
        .split(',')
        .filter(|o| !matches!(*o, "rw" | "ro") && !o.starts_with("release_agent="))
        .collect::<Vec<_>>()
        .join(",")
}

/// Create `relative` (and its parents) below the hierarchy's mount point. In the cpuset
/// hierarchy a new cgroup has no CPUs and no memory nodes, and no task can join it: each
/// new level gets its parent's.
fn make_dirs(mount_point: &Path, relative: &Path, cpuset: bool) -> Result<()> {
    let mut dir = mount_point.to_path_buf();
    for part in relative.components() {
        let parent = dir.clone();
        dir.push(part);
        match fs::create_dir(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e).with_context(|| format!("creating cgroup {}", dir.display())),
        }
        if cpuset {
            for file in ["cpuset.cpus", "cpuset.mems"] {
                let own = fs::read_to_string(dir.join(file)).unwrap_or_default();
                if own.trim().is_empty() {
                    let inherited = fs::read_to_string(parent.join(file))
                        .with_context(|| format!("reading {}", parent.join(file).display()))?;
                    write(&dir.join(file), inherited.trim())?;
                }
            }
        }
    }
    Ok(())
}

/// `dir` and every cgroup directory below it, parents before children.
fn tree(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![dir.to_path_buf()];
    let mut i = 0;
    while i < out.len() {
        if let Ok(entries) = fs::read_dir(&out[i]) {
            out.extend(
                entries
                    .filter_map(|e| e.ok())
                    .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                    .map(|e| e.path()),
            );
        }
        i += 1;
    }
    out
}

/// Remove one (empty) cgroup, waiting briefly for exiting tasks to leave it.
fn remove(dir: &Path) -> io::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        match fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && Instant::now() < deadline => {
                thread::sleep(Duration::from_millis(5));
            }
            Err(e) => return Err(e),
        }
    }
}

fn write(file: &Path, value: &str) -> Result<()> {
    fs::write(file, value).with_context(|| format!("writing {value} to {}", file.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_hierarchy_under_sys_fs_cgroup_is_found_once_with_its_naming_options() {
        let mountinfo = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,release_agent=/lib/systemd/systemd-cgroups-agent,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate
50 27 0:29 / /mnt/again rw,relatime - cgroup cgroup rw,cpu,cpuacct
51 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu,cpuacct
";
        let found = mounted_hierarchies(mountinfo);
        let names: Vec<(&str, &str, &str)> = found
            .iter()
            .map(|(n, t, o, _)| (n.as_str(), t.as_str(), o.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                ("cpu,cpuacct", "cgroup", "cpu,cpuacct"),
                ("systemd", "cgroup", "xattr,name=systemd"),
                ("unified", "cgroup2", ""),
            ]
        );
    }
}
