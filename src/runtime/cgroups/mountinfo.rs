//! Finding cgroup hierarchies in `/proc/<pid>/mountinfo` and a process's place in them in
//! `/proc/<pid>/cgroup`. Pure functions of the files' text.

use std::path::{Path, PathBuf};

use super::Version;

/// The fields of a mountinfo line cgroup discovery needs.
struct Mount<'a> {
    /// The mounted directory of the filesystem (a cgroup, for cgroup filesystems).
    root: &'a str,
    mount_point: &'a str,
    fstype: &'a str,
    super_options: &'a str,
}

fn mounts(mountinfo: &str) -> impl Iterator<Item = Mount<'_>> {
    mountinfo.lines().filter_map(|line| {
        let (left, right) = line.split_once(" - ")?;
        let left: Vec<&str> = left.split(' ').collect();
        let mut right = right.split(' ');
        let fstype = right.next()?;
        let super_options = right.nth(1)?;
        Some(Mount {
            root: left.get(3)?,
            mount_point: left.get(4)?,
            fstype,
            super_options,
        })
    })
}

/// v1 when a v1 hierarchy holds the memory controller; else v2 when the unified hierarchy
/// is mounted; else none.
pub fn version(mountinfo: &str) -> Option<Version> {
    if v1_mount(mountinfo, "memory").is_some() {
        Some(Version::V1)
    } else if unified_mount(mountinfo).is_some() {
        Some(Version::V2)
    } else {
        None
    }
}

/// (root, mount point) of the v1 hierarchy holding `controller` (or `name=...`).
pub fn v1_mount<'a>(mountinfo: &'a str, controller: &str) -> Option<(&'a str, &'a str)> {
    mounts(mountinfo)
        .find(|m| m.fstype == "cgroup" && m.super_options.split(',').any(|o| o == controller))
        .map(|m| (m.root, m.mount_point))
}

/// (root, mount point) of the unified hierarchy: the mount at `/sys/fs/cgroup` if it is
/// one, else the first.
pub fn unified_mount(mountinfo: &str) -> Option<(&str, &str)> {
    let unified: Vec<Mount<'_>> = mounts(mountinfo)
        .filter(|m| m.fstype == "cgroup2")
        .collect();
    let chosen = unified
        .iter()
        .find(|m| m.mount_point == "/sys/fs/cgroup")
        .or(unified.first())?;
    Some((chosen.root, chosen.mount_point))
}

/// Every cgroup hierarchy mounted, once each: `(mount point, version, naming options)`,
/// the mount under /sys/fs/cgroup preferred where a hierarchy is mounted twice. A v1
/// hierarchy is named by its mount options without the generic ones (`rw`, `ro`) and those
/// only the initial cgroup namespace may give (`release_agent=`): what mounting it again
/// must say (`cpu,cpuacct`, `xattr,name=systemd`). The unified hierarchy needs none.
pub fn hierarchies(mountinfo: &str) -> Vec<(PathBuf, Version, String)> {
    let mut found: Vec<(PathBuf, Version, String)> = Vec::new();
    for m in mounts(mountinfo) {
        let (version, options) = match m.fstype {
            "cgroup" => (
                Version::V1,
                m.super_options
                    .split(',')
                    .filter(|o| !matches!(*o, "rw" | "ro") && !o.starts_with("release_agent="))
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            "cgroup2" => (Version::V2, String::new()),
            _ => continue,
        };
        let mount_point = PathBuf::from(m.mount_point);
        let preferred = mount_point.starts_with(CGROUP_ROOT);
        match found
            .iter_mut()
            .find(|(_, v, o)| *v == version && *o == options)
        {
            Some(seen) if preferred && !seen.0.starts_with(CGROUP_ROOT) => seen.0 = mount_point,
            Some(_) => {}
            None => found.push((mount_point, version, options)),
        }
    }
    found
}

/// Where hosts mount their cgroup hierarchies.
const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// A process's cgroup in the unified hierarchy (the `0::` line), as a path from the
/// hierarchy's root.
pub fn unified_path(proc_cgroup: &str) -> Option<&str> {
    proc_cgroup.lines().find_map(|l| l.strip_prefix("0::"))
}

/// A process's cgroup in the v1 hierarchy holding `controller`.
pub fn v1_path<'a>(proc_cgroup: &'a str, controller: &str) -> Option<&'a str> {
    proc_cgroup.lines().find_map(|line| {
        let mut fields = line.splitn(3, ':');
        let (_, controllers, path) = (fields.next()?, fields.next()?, fields.next()?);
        controllers
            .split(',')
            .any(|c| c == controller)
            .then_some(path)
    })
}

/// The directory of the cgroup `path` (from the hierarchy's root) in a hierarchy mounted at
/// `mount_point` showing the cgroup `root`; `None` if the mount does not show it.
pub fn dir_in_mount(root: &str, mount_point: &str, path: &str) -> Option<PathBuf> {
    let relative = Path::new(path).strip_prefix(root).ok()?;
    Some(Path::new(mount_point).join(relative))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
35 30 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid - cgroup cgroup rw,cpu,cpuacct
36 30 0:30 / /sys/fs/cgroup/memory rw,nosuid - cgroup cgroup rw,memory
37 30 0:31 / /sys/fs/cgroup/systemd rw,nosuid - cgroup cgroup rw,xattr,name=systemd
38 30 0:32 / /sys/fs/cgroup/unified rw,nosuid - cgroup2 cgroup2 rw,nsdelegate
";
    const UNIFIED: &str = "\
24 1 0:22 / / ro,relatime - 9p /dev/root ro
30 24 0:26 / /sys/fs/cgroup rw,relatime - cgroup2 cgroup2 rw
";

    #[test]
    fn hybrid_hosts_are_v1_and_unified_hosts_v2() {
        assert_eq!(version(HYBRID), Some(Version::V1));
        assert_eq!(version(UNIFIED), Some(Version::V2));
        assert_eq!(version("24 1 0:22 / / rw - ext4 /dev/vda rw\n"), None);
        assert_eq!(unified_mount(HYBRID), Some(("/", "/sys/fs/cgroup/unified")));
        assert_eq!(unified_mount(UNIFIED), Some(("/", "/sys/fs/cgroup")));
    }

    #[test]
    fn every_hierarchy_is_listed_once_with_its_naming_options() {
        let mountinfo = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
50 27 0:29 / /mnt/again rw,relatime - cgroup cgroup rw,cpu,cpuacct
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,release_agent=/lib/systemd/systemd-cgroups-agent,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate
51 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu,cpuacct
";
        assert_eq!(
            hierarchies(mountinfo),
            [
                (
                    PathBuf::from("/sys/fs/cgroup/cpu,cpuacct"),
                    Version::V1,
                    "cpu,cpuacct".to_string()
                ),
                (
                    PathBuf::from("/sys/fs/cgroup/systemd"),
                    Version::V1,
                    "xattr,name=systemd".to_string()
                ),
                (
                    PathBuf::from("/sys/fs/cgroup/unified"),
                    Version::V2,
                    String::new()
                ),
            ]
        );
        assert_eq!(
            hierarchies(UNIFIED),
            [(PathBuf::from("/sys/fs/cgroup"), Version::V2, String::new())]
        );
    }

    #[test]
    fn hierarchies_are_found_with_a_process_cgroup() {
        let own = "4:cpu,cpuacct:/\n3:memory:/sandbox/abc\n0::/user.slice\n";
        assert_eq!(
            v1_mount(HYBRID, "cpuacct"),
            Some(("/", "/sys/fs/cgroup/cpu,cpuacct"))
        );
        assert_eq!(v1_mount(HYBRID, "pids"), None);
        assert_eq!(v1_path(own, "memory"), Some("/sandbox/abc"));
        assert_eq!(unified_path(own), Some("/user.slice"));
        assert_eq!(
            dir_in_mount("/", "/sys/fs/cgroup/memory", "/sandbox/abc"),
            Some(PathBuf::from("/sys/fs/cgroup/memory/sandbox/abc"))
        );
        // A mount of a sub-cgroup shows only what is below it.
        assert_eq!(dir_in_mount("/sandbox", "/mnt", "/other"), None);
        assert_eq!(
            dir_in_mount("/sandbox", "/mnt", "/sandbox/abc"),
            Some(PathBuf::from("/mnt/abc"))
        );
    }
}
