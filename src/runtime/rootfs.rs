//! The container's filesystem view: mount propagation, the spec's mounts (destinations
//! resolved inside the rootfs), `pivot_root`, then masked and read-only paths.
//!
//! Order, as runc does it: make `/` recursively private so nothing leaks to the host, bind
//! the rootfs onto itself (`pivot_root` needs a mount point), mount the spec's mounts in
//! order, create devices, `pivot_root(".", ".")` and detach the old root. Read-only and
//! then masked paths are applied after the pivot, when no path can lead back to the host.

use std::fs::File;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{open, OFlag};
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::stat::{fstat, lstat, Mode, SFlag};
use nix::sys::statvfs::{statvfs, FsFlags};
use nix::unistd::{chdir, fchdir, pivot_root, symlinkat};
use oci_spec::runtime::Mount;

use super::error::RuntimeError;
use super::in_root::{fd_path, Kind, RootDir, Symlinks};
use super::mount_options::MountOptions;
use super::sync::{ChildFailure, StepContext};

const NONE: Option<&str> = None;

/// How the container's mounts relate to the host's (`linux.rootfsPropagation`): private by
/// default, or slave (host mounts appear inside, nothing flows back). Shared propagation
/// would let the container's mounts appear on the host and is refused.
pub fn root_propagation(option: Option<&str>) -> Result<MsFlags, RuntimeError> {
    match option.unwrap_or("rprivate") {
        "private" => Ok(MsFlags::MS_PRIVATE),
        "rprivate" => Ok(MsFlags::MS_PRIVATE | MsFlags::MS_REC),
        "slave" => Ok(MsFlags::MS_SLAVE),
        "rslave" => Ok(MsFlags::MS_SLAVE | MsFlags::MS_REC),
        other => Err(RuntimeError::InvalidSpec(format!(
            "rootfsPropagation {other:?} is not supported (private, rprivate, slave, rslave)"
        ))),
    }
}

/// Cut mount propagation towards the host (`propagation`, see [`root_propagation`]), then
/// bind the rootfs onto itself. Returns the rootfs descriptor that all later lookups are
/// confined to.
pub fn enter_rootfs(rootfs: &Path, propagation: MsFlags) -> Result<RootDir, ChildFailure> {
    mount(NONE, "/", NONE, propagation, NONE).step(|| "setting the propagation of /".into())?;
    mount(
        Some(rootfs),
        rootfs,
        NONE,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        NONE,
    )
    .step(|| format!("bind-mounting the rootfs {} onto itself", rootfs.display()))?;
    // Opened after the bind: lookups from here see the mounts made on top of the bind.
    RootDir::open(rootfs).step(|| format!("opening the rootfs {}", rootfs.display()))
}

/// Perform one mount of the spec, inside the rootfs.
pub fn mount_spec_entry(root: &RootDir, entry: &Mount) -> Result<(), ChildFailure> {
    let destination = entry.destination();
    let what = || format!("mounting {}", destination.display());
    if !destination.is_absolute() {
        return Err(unsafe_mount(
            destination,
            "destination is not an absolute path",
        ));
    }
    let typ = entry.typ().as_deref().unwrap_or("");
    let options = MountOptions::parse(entry.options().as_deref().unwrap_or(&[]));
    // /proc and /sys must be the real directories of the rootfs: a symlink there could make
    // the kernel mount (and later mask) something else (CVE-2019-19921).
    let symlinks = if matches!(typ, "proc" | "sysfs")
        || destination == Path::new("/proc")
        || destination == Path::new("/sys")
    {
        Symlinks::Refuse
    } else {
        Symlinks::FollowInRoot
    };

    if typ == "bind" || options.bind {
        return bind_mount(root, entry, &options, symlinks);
    }
    let target = destination_dir(root, destination, symlinks)?;
    if typ == "cgroup" {
        return cgroup_mount(root, destination, &target, &options);
    }
    let source = entry.source().clone().unwrap_or_else(|| PathBuf::from(typ));
    let data = (!options.data.is_empty()).then_some(options.data.as_str());
    mount(
        Some(&source),
        &fd_path(&target),
        Some(typ),
        options.flags,
        data,
    )
    .step(what)?;
    apply_propagation(root, destination, &options)
}

/// Open (creating if needed) a mount destination that must be a directory.
fn destination_dir(
    root: &RootDir,
    destination: &Path,
    symlinks: Symlinks,
) -> Result<OwnedFd, ChildFailure> {
    let target = open_destination(root, destination, Kind::Directory, symlinks)?;
    let stat = fstat(target.as_raw_fd())
        .step(|| format!("inspecting mount point {}", destination.display()))?;
    if SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT != SFlag::S_IFDIR {
        return Err(unsafe_mount(destination, "it is not a directory"));
    }
    Ok(target)
}

/// Open (creating if needed) a mount destination inside the rootfs, and refuse it if a
/// symlink of the image carried it into `/proc` or `/sys` (CVE-2019-19921: a volume whose
/// mount point is a symlink to `/proc/self/attr` or `/proc/sys` would cover kernel files).
fn open_destination(
    root: &RootDir,
    destination: &Path,
    kind: Kind,
    symlinks: Symlinks,
) -> Result<OwnedFd, ChildFailure> {
    let target = root
        .create(destination, kind, symlinks)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) if symlinks == Symlinks::Refuse => unsafe_mount(
                destination,
                "it is (or passes through) a symlink; /proc and /sys must be real directories \
                 of the rootfs",
            ),
            _ => ChildFailure::Setup {
                step: format!("creating mount point {}", destination.display()),
                message: e.to_string(),
            },
        })?;
    let resolved = root
        .container_path(&target)
        .step(|| format!("resolving mount point {}", destination.display()))?;
    let kernel_fs = |p: &Path| p.starts_with("/proc") || p.starts_with("/sys");
    match resolved {
        None => Err(unsafe_mount(destination, "it resolves outside the rootfs")),
        Some(resolved) if kernel_fs(&resolved) && !kernel_fs(destination) => Err(unsafe_mount(
            destination,
            &format!("a symlink leads it to {}", resolved.display()),
        )),
        Some(_) => Ok(target),
    }
}

fn bind_mount(
    root: &RootDir,
    entry: &Mount,
    options: &MountOptions,
    symlinks: Symlinks,
) -> Result<(), ChildFailure> {
    let destination = entry.destination();
    let what = || format!("bind-mounting onto {}", destination.display());
    let Some(source) = entry.source().as_ref().filter(|s| s.is_absolute()) else {
        return Err(ChildFailure::Setup {
            step: what(),
            message: "a bind mount needs an absolute source path".into(),
        });
    };
    let source_is_dir = std::fs::metadata(source)
        .step(|| format!("inspecting bind source {}", source.display()))?
        .is_dir();
    let target = if source_is_dir {
        destination_dir(root, destination, symlinks)?
    } else {
        open_destination(root, destination, Kind::File, symlinks)?
    };
    let recursive = options.flags & MsFlags::MS_REC;
    mount(
        Some(source),
        &fd_path(&target),
        NONE,
        MsFlags::MS_BIND | recursive,
        NONE,
    )
    .step(what)?;
    let remount = options.remount_flags();
    if !remount.is_empty() {
        // The earlier descriptor names the covered directory; re-resolve to reach the bind.
        let top = root.open_path(destination, symlinks).step(what)?;
        mount(
            NONE,
            &fd_path(&top),
            NONE,
            MsFlags::MS_BIND | MsFlags::MS_REMOUNT | remount,
            NONE,
        )
        .step(|| format!("remounting {} with its options", destination.display()))?;
    }
    apply_propagation(root, destination, options)
}

fn apply_propagation(
    root: &RootDir,
    destination: &Path,
    options: &MountOptions,
) -> Result<(), ChildFailure> {
    for flag in &options.propagation {
        let top = root
            .open_path(destination, Symlinks::FollowInRoot)
            .step(|| format!("reopening {}", destination.display()))?;
        mount(NONE, &fd_path(&top), NONE, *flag, NONE)
            .step(|| format!("setting the propagation of {}", destination.display()))?;
    }
    Ok(())
}

/// One cgroup hierarchy of this process, as bind source and the name it gets inside.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Hierarchy {
    name: String,
    source: PathBuf,
}

/// `/sys/fs/cgroup` as runc mounts it: on cgroup v1 (or hybrid) a tmpfs holding, per
/// hierarchy, a read-only bind of this process's own cgroup; on pure v2 a read-only bind of
/// its own cgroup directory — or, when the process is in a cgroup namespace of its own (its
/// cgroup lies outside what the host's mount shows it), the unified hierarchy mounted anew,
/// which shows exactly that namespace's cgroup.
fn cgroup_mount(
    root: &RootDir,
    destination: &Path,
    target: &OwnedFd,
    options: &MountOptions,
) -> Result<(), ChildFailure> {
    let what = || format!("mounting cgroups at {}", destination.display());
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").step(what)?;
    let cgroups = std::fs::read_to_string("/proc/self/cgroup").step(what)?;
    let v1 = v1_hierarchies(&mountinfo, &cgroups);
    let bind_flags = MsFlags::MS_BIND | MsFlags::MS_REC;
    let ro_flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | options.remount_flags();

    if v1.is_empty() {
        match v2_cgroup(&mountinfo, &cgroups) {
            Some(own) => {
                mount(Some(&own), &fd_path(target), NONE, bind_flags, NONE).step(what)?;
            }
            None if mountinfo
                .lines()
                .any(|l| MountInfo::parse(l).is_some_and(|m| m.fstype == "cgroup2")) =>
            {
                let flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
                mount(
                    Some("cgroup2"),
                    &fd_path(target),
                    Some("cgroup2"),
                    flags,
                    NONE,
                )
                .step(what)?;
            }
            None => {
                return Err(ChildFailure::Setup {
                    step: what(),
                    message: "no cgroup hierarchy found".into(),
                })
            }
        }
        let top = root
            .open_path(destination, Symlinks::FollowInRoot)
            .step(what)?;
        return mount(NONE, &fd_path(&top), NONE, ro_flags, NONE).step(what);
    }

    let tmpfs_flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    mount(
        Some("tmpfs"),
        &fd_path(target),
        Some("tmpfs"),
        tmpfs_flags,
        Some("mode=755"),
    )
    .step(what)?;
    let tmpfs = root
        .open_path(destination, Symlinks::FollowInRoot)
        .step(what)?;
    for hierarchy in v1 {
        let dest = destination.join(&hierarchy.name);
        let sub = root
            .create(&dest, Kind::Directory, Symlinks::FollowInRoot)
            .step(|| format!("creating {}", dest.display()))?;
        mount(
            Some(&hierarchy.source),
            &fd_path(&sub),
            NONE,
            bind_flags,
            NONE,
        )
        .step(|| format!("bind-mounting {}", hierarchy.source.display()))?;
        let top = root
            .open_path(&dest, Symlinks::FollowInRoot)
            .step(|| format!("reopening {}", dest.display()))?;
        mount(NONE, &fd_path(&top), NONE, ro_flags, NONE)
            .step(|| format!("remounting {} read-only", dest.display()))?;
        // Co-mounted controllers ("cpu,cpuacct") get one symlink per controller.
        if hierarchy.name.contains(',') {
            for part in hierarchy.name.split(',') {
                match symlinkat(hierarchy.name.as_str(), Some(tmpfs.as_raw_fd()), part) {
                    Ok(()) | Err(Errno::EEXIST) => {}
                    Err(e) => return Err(e).step(|| format!("linking cgroup {part}")),
                }
            }
        }
    }
    Ok(())
}

/// The v1 hierarchies this process belongs to, paired with where its cgroup sits in the
/// host's mounts of them.
fn v1_hierarchies(mountinfo: &str, cgroups: &str) -> Vec<Hierarchy> {
    let mounts: Vec<MountInfo<'_>> = mountinfo
        .lines()
        .filter_map(MountInfo::parse)
        .filter(|m| m.fstype == "cgroup")
        .collect();
    let mut found = Vec::new();
    for line in cgroups.lines() {
        let mut fields = line.splitn(3, ':');
        let (Some(_), Some(controllers), Some(path)) =
            (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        if controllers.is_empty() {
            continue;
        }
        let wanted: Vec<&str> = controllers.split(',').collect();
        let Some(m) = mounts.iter().find(|m| {
            let opts: Vec<&str> = m.super_options.split(',').collect();
            wanted.iter().all(|w| opts.contains(w))
        }) else {
            continue;
        };
        let Some(relative) = Path::new(path).strip_prefix(m.root).ok() else {
            continue;
        };
        let Some(name) = Path::new(m.mount_point).file_name() else {
            continue;
        };
        found.push(Hierarchy {
            name: name.to_string_lossy().into_owned(),
            source: Path::new(m.mount_point).join(relative),
        });
    }
    found
}

/// This process's cgroup directory on a pure cgroup v2 host.
fn v2_cgroup(mountinfo: &str, cgroups: &str) -> Option<PathBuf> {
    let path = cgroups.lines().find_map(|l| l.strip_prefix("0::"))?;
    let m = mountinfo
        .lines()
        .filter_map(MountInfo::parse)
        .find(|m| m.fstype == "cgroup2")?;
    let relative = Path::new(path).strip_prefix(m.root).ok()?;
    Some(Path::new(m.mount_point).join(relative))
}

/// The fields of a `/proc/self/mountinfo` line that cgroup discovery needs.
struct MountInfo<'a> {
    root: &'a str,
    mount_point: &'a str,
    fstype: &'a str,
    super_options: &'a str,
}

impl<'a> MountInfo<'a> {
    fn parse(line: &'a str) -> Option<Self> {
        let (left, right) = line.split_once(" - ")?;
        let left: Vec<&str> = left.split(' ').collect();
        let right: Vec<&str> = right.split(' ').collect();
        Some(Self {
            root: left.get(3)?,
            mount_point: left.get(4)?,
            fstype: right.first()?,
            super_options: right.get(2)?,
        })
    }
}

/// Make the rootfs the root: `pivot_root(".", ".")` stacks the old root under the new one at
/// the same place; detaching it leaves only the container's mounts.
pub fn pivot(rootfs: &Path) -> Result<(), ChildFailure> {
    let what = || "pivoting into the rootfs".to_string();
    let directory = OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_CLOEXEC;
    let old_root = owned(open("/", directory, Mode::empty()).step(what)?);
    let new_root = owned(open(rootfs, directory, Mode::empty()).step(what)?);
    fchdir(new_root.as_raw_fd()).step(what)?;
    pivot_root(".", ".").step(what)?;
    fchdir(old_root.as_raw_fd()).step(what)?;
    // The old root is private or a slave (see `enter_rootfs`): detaching it cannot reach the
    // host.
    umount2(".", MntFlags::MNT_DETACH).step(|| "detaching the old root".into())?;
    chdir("/").step(what)
}

/// Hide `paths` (after the pivot): `/dev/null` over files, an empty read-only tmpfs over
/// directories. Paths that do not exist are skipped.
pub fn mask_paths(paths: &[String]) -> Result<(), ChildFailure> {
    for path in paths {
        let what = || format!("masking {path}");
        let stat = match lstat(path.as_str()) {
            Ok(stat) => stat,
            Err(Errno::ENOENT) => continue,
            Err(e) => return Err(e).step(what),
        };
        if SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR {
            mount(
                Some("tmpfs"),
                path.as_str(),
                Some("tmpfs"),
                MsFlags::MS_RDONLY,
                NONE,
            )
            .step(what)?;
        } else {
            mount(
                Some("/dev/null"),
                path.as_str(),
                NONE,
                MsFlags::MS_BIND,
                NONE,
            )
            .step(what)?;
        }
    }
    Ok(())
}

/// Make `paths` read-only (after the pivot) by binding each onto itself and remounting the
/// bind read-only, keeping its other flags. Paths that do not exist are skipped.
pub fn readonly_paths(paths: &[String]) -> Result<(), ChildFailure> {
    for path in paths {
        let what = || format!("making {path} read-only");
        match mount(
            Some(path.as_str()),
            path.as_str(),
            NONE,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            NONE,
        ) {
            Ok(()) => {}
            Err(Errno::ENOENT) => continue,
            Err(e) => return Err(e).step(what),
        }
        remount_read_only(Path::new(path)).step(what)?;
    }
    Ok(())
}

/// Remount the bind mount at `path` read-only, keeping nosuid/nodev/noexec and atime flags.
pub fn remount_read_only(path: &Path) -> nix::Result<()> {
    let current = statvfs(path)?.flags();
    let mut flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY;
    for (fs, ms) in [
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
    ] {
        if current.contains(fs) {
            flags |= ms;
        }
    }
    mount(Some(path), path, NONE, flags, NONE)
}

fn unsafe_mount(destination: &Path, reason: &str) -> ChildFailure {
    ChildFailure::UnsafeMount {
        destination: destination.display().to_string(),
        reason: reason.to_string(),
    }
}

fn owned(fd: std::os::fd::RawFd) -> OwnedFd {
    // SAFETY: `fd` was just returned by a successful open(2) and is owned by nobody else.
    OwnedFd::from(unsafe { <File as std::os::fd::FromRawFd>::from_raw_fd(fd) })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO: &str = "\
30 1 254:0 / / rw,relatime - ext4 /dev/vda rw
35 30 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid - cgroup cgroup rw,cpu,cpuacct
36 30 0:30 / /sys/fs/cgroup/memory rw,nosuid - cgroup cgroup rw,memory
37 30 0:31 / /sys/fs/cgroup/systemd rw,nosuid - cgroup cgroup rw,xattr,name=systemd
38 30 0:32 / /sys/fs/cgroup/unified rw,nosuid - cgroup2 cgroup2 rw,nsdelegate
";
    const CGROUP: &str = "\
4:cpu,cpuacct:/user.slice
3:memory:/user.slice/session-1.scope
1:name=systemd:/user.slice/session-1.scope
0::/user.slice/session-1.scope
";

    #[test]
    fn v1_hierarchies_point_at_this_process_cgroup() {
        let found = v1_hierarchies(MOUNTINFO, CGROUP);
        let pairs: Vec<(&str, &Path)> = found
            .iter()
            .map(|h| (h.name.as_str(), h.source.as_path()))
            .collect();
        assert_eq!(
            pairs,
            vec![
                (
                    "cpu,cpuacct",
                    Path::new("/sys/fs/cgroup/cpu,cpuacct/user.slice")
                ),
                (
                    "memory",
                    Path::new("/sys/fs/cgroup/memory/user.slice/session-1.scope")
                ),
                (
                    "systemd",
                    Path::new("/sys/fs/cgroup/systemd/user.slice/session-1.scope")
                ),
            ]
        );
    }

    #[test]
    fn shared_root_propagation_is_refused() {
        assert_eq!(
            root_propagation(None).ok(),
            Some(MsFlags::MS_PRIVATE | MsFlags::MS_REC)
        );
        assert_eq!(
            root_propagation(Some("rslave")).ok(),
            Some(MsFlags::MS_SLAVE | MsFlags::MS_REC)
        );
        assert!(root_propagation(Some("rshared")).is_err());
    }

    #[test]
    fn v2_cgroup_is_found_under_the_cgroup2_mount() {
        assert_eq!(
            v2_cgroup(MOUNTINFO, CGROUP),
            Some(PathBuf::from(
                "/sys/fs/cgroup/unified/user.slice/session-1.scope"
            ))
        );
    }
}
