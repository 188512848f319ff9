//! The world's filesystem, built by its init in a mount namespace of its own and entered
//! with `pivot_root`, so the host's tree is not merely covered but gone from the namespace:
//! nothing can be unmounted to reveal it.
//!
//! ```text
//! /                    a small tmpfs, read-only once built
//! /usr /etc (/bin …)   the host's, bound read-only (nosuid, nodev); /etc/shadow, /etc/gshadow
//!                      and /etc/ssh are masked
//! <exposed paths>      the dokles binary and its image cache, at their host paths, read-only
//! /inzending           the submission's tmpfs (--ruimte): state root, working directory …
//! /tmp /run /root      bound from /inzending/{tmp,run,home}; /var/tmp and /var/run point there
//! /dev                 a tmpfs with null, zero, full, random, urandom, tty, a devpts of its
//!                      own (ptmx) and /dev/shm from /inzending/shm
//! /proc                the world's PID namespace; Docker's read-only and masked paths
//! /sys                 a fresh sysfs (the world's network namespace), read-only
//! /sys/fs/cgroup       every hierarchy mounted again inside the cgroup namespace, as on the
//!                      host (v2: the unified one is /sys/fs/cgroup): each shows only the
//!                      submission's own cgroup tree
//! /.nakijken/bin       the `docker` shim, out of reach of `rm -rf "$DOKLES_ROOT"`
//! ```
//!
//! Not there at all: /home, /var (its state roots, /var/lib/docker, /var/lib/dokles), /run
//! (the Docker socket), /tmp, /srv, /opt, /mnt, /work … — any other dokles state root
//! included, wherever it lives.

use std::fs;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, Result};
use nix::fcntl::OFlag;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::stat::{makedev, mknod, Mode, SFlag};

use super::group::Hierarchy;

/// The submission's own filesystem.
pub const SANDBOX: &str = "/inzending";

/// The directory holding the `docker` shim.
pub const BIN_DIR: &str = "/.nakijken/bin";

/// Where the new root is assembled before `pivot_root` (in the world's own mount namespace,
/// so covering the host's /tmp there is invisible to the host).
const STAGE: &str = "/tmp";

/// The host's directories every command line needs (programs, libraries, configuration).
/// On a merged-/usr system all but `usr` and `etc` are symlinks, made again as such.
const SYSTEM: [&str; 8] = [
    "usr", "etc", "bin", "sbin", "lib", "lib32", "lib64", "libx32",
];

/// Host secrets under /etc, hidden behind empty files and directories.
const MASKED_HOST: [&str; 5] = [
    "etc/shadow",
    "etc/shadow-",
    "etc/gshadow",
    "etc/gshadow-",
    "etc/ssh",
];

/// Character devices in /dev: (name, major, minor).
const DEVICES: [(&str, u64, u64); 6] = [
    ("null", 1, 3),
    ("zero", 1, 5),
    ("full", 1, 7),
    ("random", 1, 8),
    ("urandom", 1, 9),
    ("tty", 5, 0),
];

/// What the world's filesystem is made of.
pub struct Plan<'a> {
    /// Size of the submission's tmpfs.
    pub disk_bytes: u64,
    /// Host paths to show at the same path, read-only (absolute, canonical).
    pub expose: &'a [PathBuf],
    /// The dokles executable, for the shim.
    pub exe: &'a Path,
    pub hierarchies: &'a [Hierarchy],
}

/// Build the world's filesystem and enter it. Runs in the world's init, in its own mount,
/// PID, network and cgroup namespaces.
pub fn build(plan: &Plan) -> Result<()> {
    // Nothing done here may propagate to the host, nor the host's later mounts to us.
    mount(NONE, "/", NONE, MsFlags::MS_REC | MsFlags::MS_PRIVATE, NONE)
        .context("making the mount namespace private")?;
    // Open every host source before the stage covers /tmp (a source may live below it).
    let system = system_sources()?;
    let exposed = exposed_sources(plan.expose)?;
    let cgroup_links = cgroup_symlinks();

    let root = Path::new(STAGE);
    mount(
        Some("tmpfs"),
        root,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some("mode=0755,size=1m"),
    )
    .context("mounting the world's root")?;

    for (name, source) in &system {
        let target = root.join(name);
        match source {
            Source::Link(to) => std::os::unix::fs::symlink(to, &target)
                .with_context(|| format!("creating /{name}"))?,
            Source::Dir(fd) => {
                mkdir(&target)?;
                bind_read_only(fd, &target, true)?;
            }
            Source::File(_) => {}
        }
    }
    sandbox(root, plan.disk_bytes)?;
    dev(root)?;
    for (target, source) in [
        ("tmp", "inzending/tmp"),
        ("run", "inzending/run"),
        ("root", "inzending/home"),
        ("dev/shm", "inzending/shm"),
    ] {
        let target = root.join(target);
        if !target.exists() {
            mkdir(&target)?;
        }
        bind(&root.join(source), &target)?;
    }
    mkdir(&root.join("var"))?;
    for (link, to) in [("var/tmp", "../tmp"), ("var/run", "../run")] {
        std::os::unix::fs::symlink(to, root.join(link))
            .with_context(|| format!("creating /{link}"))?;
    }
    sys(root, plan.hierarchies, &cgroup_links)?;
    mkdir(&root.join("proc"))?;
    for (path, source) in &exposed {
        expose(root, path, source)?;
    }
    let bin = root.join(BIN_DIR.trim_start_matches('/'));
    fs::create_dir_all(&bin).with_context(|| format!("creating {BIN_DIR}"))?;
    std::os::unix::fs::symlink(plan.exe, bin.join("docker"))
        .with_context(|| format!("creating {BIN_DIR}/docker"))?;
    for masked in MASKED_HOST {
        mask(root, &root.join(masked))?;
    }

    enter(root)?;
    proc()?;
    // The root itself (not what is mounted on it) read-only: only the sandbox is writable.
    set_attributes(Path::new("/"), false, libc::MOUNT_ATTR_RDONLY).context("making / read-only")?;
    Ok(())
}

const NONE: Option<&str> = None;

/// A host entry as the world needs it.
enum Source {
    /// A symlink, made again with the same target.
    Link(PathBuf),
    /// A directory, bound (recursively).
    Dir(OwnedFd),
    /// A file, bound.
    File(OwnedFd),
}

fn open_path(path: &Path) -> Result<OwnedFd> {
    nix::fcntl::open(
        path,
        OFlag::O_PATH | OFlag::O_CLOEXEC | OFlag::O_NOFOLLOW,
        Mode::empty(),
    )
    .map(|fd| {
        // SAFETY: `open` just returned this descriptor, owned by nobody else.
        unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) }
    })
    .with_context(|| format!("opening {}", path.display()))
}

/// The system directories that exist on this host.
fn system_sources() -> Result<Vec<(&'static str, Source)>> {
    let mut out = Vec::new();
    for name in SYSTEM {
        let path = Path::new("/").join(name);
        let Ok(meta) = fs::symlink_metadata(&path) else {
            continue;
        };
        let source = if meta.file_type().is_symlink() {
            Source::Link(fs::read_link(&path).with_context(|| format!("reading {name}"))?)
        } else if meta.is_dir() {
            Source::Dir(open_path(&path)?)
        } else {
            continue;
        };
        out.push((name, source));
    }
    Ok(out)
}

/// The paths to expose that are not already visible through a system directory, nor
/// below another exposed path.
fn exposed_sources(expose: &[PathBuf]) -> Result<Vec<(PathBuf, Source)>> {
    let mut paths: Vec<&PathBuf> = expose
        .iter()
        .filter(|p| p.is_absolute())
        .filter(|p| !p.components().any(|c| c == Component::ParentDir))
        .filter(|p| !SYSTEM.iter().any(|s| p.starts_with(Path::new("/").join(s))))
        .collect();
    paths.sort();
    paths.dedup();
    let mut out: Vec<(PathBuf, Source)> = Vec::new();
    for p in paths {
        if out.iter().any(|(seen, _)| p.starts_with(seen)) {
            continue;
        }
        let Ok(meta) = fs::symlink_metadata(p) else {
            continue;
        };
        let source = if meta.is_dir() {
            Source::Dir(open_path(p)?)
        } else if meta.is_file() {
            Source::File(open_path(p)?)
        } else {
            continue;
        };
        out.push((p.clone(), source));
    }
    Ok(out)
}

/// Symlinks the host keeps in /sys/fs/cgroup (`cpu -> cpu,cpuacct`).
fn cgroup_symlinks() -> Vec<(String, PathBuf)> {
    fs::read_dir("/sys/fs/cgroup")
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .filter(|e| e.file_type().is_ok_and(|t| t.is_symlink()))
                .filter_map(|e| {
                    let to = fs::read_link(e.path()).ok()?;
                    Some((e.file_name().to_string_lossy().into_owned(), to))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The submission's tmpfs with its directories for /tmp, /run, /root and /dev/shm.
fn sandbox(root: &Path, disk_bytes: u64) -> Result<()> {
    let dir = root.join(SANDBOX.trim_start_matches('/'));
    mkdir(&dir)?;
    mount(
        Some("tmpfs"),
        &dir,
        Some("tmpfs"),
        MsFlags::empty(),
        Some(format!("size={disk_bytes},mode=0755").as_str()),
    )
    .context("mounting the submission's tmpfs")?;
    for (name, mode) in [
        ("tmp", 0o1777),
        ("run", 0o755),
        ("home", 0o700),
        ("shm", 0o1777),
    ] {
        let sub = dir.join(name);
        mkdir(&sub)?;
        fs::set_permissions(&sub, fs::Permissions::from_mode(mode))
            .with_context(|| format!("setting the mode of {}", sub.display()))?;
    }
    Ok(())
}

/// /dev: the harmless character devices, a devpts instance of the world's own (the host's
/// terminals are not in it) and the usual symlinks.
fn dev(root: &Path) -> Result<()> {
    let dev = root.join("dev");
    mkdir(&dev)?;
    mount(
        Some("tmpfs"),
        &dev,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
        Some("mode=0755,size=64k"),
    )
    .context("mounting /dev")?;
    for (name, major, minor) in DEVICES {
        let node = dev.join(name);
        mknod(
            &node,
            SFlag::S_IFCHR,
            Mode::from_bits_truncate(0o666),
            makedev(major, minor),
        )
        .with_context(|| format!("creating /dev/{name}"))?;
        fs::set_permissions(&node, fs::Permissions::from_mode(0o666))
            .with_context(|| format!("setting the mode of /dev/{name}"))?;
    }
    for (link, to) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
        ("ptmx", "pts/ptmx"),
    ] {
        std::os::unix::fs::symlink(to, dev.join(link))
            .with_context(|| format!("creating /dev/{link}"))?;
    }
    let pts = dev.join("pts");
    mkdir(&pts)?;
    mount(
        Some("devpts"),
        &pts,
        Some("devpts"),
        MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
        Some("newinstance,ptmxmode=0666,mode=0620"),
    )
    .context("mounting /dev/pts")?;
    mkdir(&dev.join("shm"))?;
    Ok(())
}

/// /sys: a fresh read-only sysfs, and /sys/fs/cgroup with every hierarchy mounted again
/// from inside the cgroup namespace, where the host has it: on a v2 host the unified
/// hierarchy is /sys/fs/cgroup itself; otherwise a read-only tmpfs holds each hierarchy
/// (and the host's symlinks, `cpu -> cpu,cpuacct`).
fn sys(root: &Path, hierarchies: &[Hierarchy], links: &[(String, PathBuf)]) -> Result<()> {
    let sys = root.join("sys");
    mkdir(&sys)?;
    let hidden = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    mount(
        Some("sysfs"),
        &sys,
        Some("sysfs"),
        hidden | MsFlags::MS_RDONLY,
        NONE,
    )
    .context("mounting /sys")?;
    let cgroup = sys.join("fs/cgroup");
    let mount_hierarchy = |h: &Hierarchy, target: &Path| {
        let options = (!h.options.is_empty()).then_some(h.options.as_str());
        mount(
            Some(h.fstype.as_str()),
            target,
            Some(h.fstype.as_str()),
            hidden,
            options,
        )
        .with_context(|| format!("mounting the {} cgroup hierarchy", h.mount_point.display()))
    };
    if let Some(unified) = hierarchies
        .iter()
        .find(|h| h.mount_point == Path::new(CGROUP_ROOT))
    {
        return mount_hierarchy(unified, &cgroup);
    }
    mount(
        Some("tmpfs"),
        &cgroup,
        Some("tmpfs"),
        hidden,
        Some("mode=0755,size=64k"),
    )
    .context("mounting /sys/fs/cgroup")?;
    for h in hierarchies {
        // A hierarchy the host mounts elsewhere only is not shown (its cgroup namespace
        // is rooted in the submission's cgroup all the same).
        let Some(name) = h
            .mount_point
            .strip_prefix(CGROUP_ROOT)
            .ok()
            .filter(|n| n.components().count() == 1)
        else {
            continue;
        };
        let target = cgroup.join(name);
        mkdir(&target)?;
        mount_hierarchy(h, &target)?;
    }
    for (name, to) in links {
        let _ = std::os::unix::fs::symlink(to, cgroup.join(name));
    }
    mount(
        NONE,
        &cgroup,
        NONE,
        MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | hidden,
        NONE,
    )
    .context("making /sys/fs/cgroup read-only")?;
    Ok(())
}

/// Where hosts mount their cgroup hierarchies.
const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// Show the host's `path` at the same path in the world, read-only.
fn expose(root: &Path, path: &Path, source: &Source) -> Result<()> {
    let target = root.join(path.strip_prefix("/").unwrap_or(path));
    let parent = target.parent().context("an exposed path has a parent")?;
    fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    match source {
        Source::Dir(fd) => {
            mkdir(&target)?;
            bind_read_only(fd, &target, true)
        }
        Source::File(fd) => {
            fs::File::create(&target).with_context(|| format!("creating {}", target.display()))?;
            bind_read_only(fd, &target, false)
        }
        Source::Link(_) => Ok(()),
    }
}

/// Cover `target` (if it exists) with an empty file or directory, read-only.
fn mask(root: &Path, target: &Path) -> Result<()> {
    let Ok(meta) = fs::symlink_metadata(target) else {
        return Ok(());
    };
    if meta.is_dir() {
        mount(
            Some("tmpfs"),
            target,
            Some("tmpfs"),
            MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
            Some("size=4k"),
        )
        .with_context(|| format!("masking {}", target.display()))
    } else if meta.is_file() {
        bind(&root.join("dev/null"), target)
            .with_context(|| format!("masking {}", target.display()))
    } else {
        Ok(())
    }
}

/// Make `root` the root of the mount namespace and let go of the host's tree.
fn enter(root: &Path) -> Result<()> {
    std::env::set_current_dir(root).context("entering the world's root")?;
    // pivot_root(".", "."): the old root ends up on top of the new one, then is detached.
    nix::unistd::pivot_root(".", ".").context("pivot_root into the world")?;
    umount2(".", MntFlags::MNT_DETACH).context("detaching the host's tree")?;
    std::env::set_current_dir("/").context("entering /")?;
    Ok(())
}

/// /proc of the world's PID namespace, with Docker's read-only and masked paths.
fn proc() -> Result<()> {
    mount(
        Some("proc"),
        "/proc",
        Some("proc"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        NONE,
    )
    .context("mounting /proc")?;
    for path in crate::runtime::DEFAULT_READONLY_PATHS {
        let path = Path::new(path);
        if !path.exists() {
            continue;
        }
        bind(path, path)?;
        set_attributes(path, true, libc::MOUNT_ATTR_RDONLY)
            .with_context(|| format!("making {} read-only", path.display()))?;
    }
    for path in crate::runtime::DEFAULT_MASKED_PATHS {
        mask(Path::new("/"), Path::new(path))?;
    }
    Ok(())
}

fn mkdir(path: &Path) -> Result<()> {
    fs::create_dir(path).with_context(|| format!("creating {}", path.display()))
}

fn bind(source: &Path, target: &Path) -> Result<()> {
    mount(
        Some(source),
        target,
        NONE,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        NONE,
    )
    .with_context(|| format!("binding {} to {}", source.display(), target.display()))
}

/// Bind the host object behind `fd` to `target` and make it (and, `recursive`, every mount
/// below it) read-only, without devices or set-user-ID programs.
fn bind_read_only(fd: &OwnedFd, target: &Path, recursive: bool) -> Result<()> {
    let source = PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()));
    let rec = if recursive {
        MsFlags::MS_REC
    } else {
        MsFlags::empty()
    };
    mount(Some(&source), target, NONE, MsFlags::MS_BIND | rec, NONE)
        .with_context(|| format!("binding the host's {}", target.display()))?;
    set_attributes(
        target,
        recursive,
        libc::MOUNT_ATTR_RDONLY | libc::MOUNT_ATTR_NOSUID | libc::MOUNT_ATTR_NODEV,
    )
    .with_context(|| format!("making {} read-only", target.display()))
}

/// `mount_setattr(2)`: set `attributes` on the mount at `path` (and every mount below it).
fn set_attributes(path: &Path, recursive: bool, attributes: u64) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
    let attr = libc::mount_attr {
        attr_set: attributes,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    let flags = if recursive { libc::AT_RECURSIVE } else { 0 };
    // SAFETY: mount_setattr reads the NUL-terminated path and `size` bytes of `attr`, both
    // alive for the call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            libc::AT_FDCWD,
            path.as_ptr(),
            flags,
            &attr as *const libc::mount_attr,
            std::mem::size_of::<libc::mount_attr>(),
        )
    };
    if rc < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}
