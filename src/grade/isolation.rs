//! One submission's isolated world: a [`Sandbox`] (state root and working directory) on a
//! size-limited tmpfs of its own, and a cgroup of its own with a pids limit that every line
//! the submission runs joins — and that its containers' cgroups are made under
//! (`DOKLES_CGROUP_PARENT`). Filling the disk, a fork bomb in the shell or in a container,
//! or `rm -rf` on the state only ever hit this world. On drop everything goes: containers,
//! every process left in the cgroup, the cgroups, the mount and the directory.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result};

use crate::lesson::replay::Sandbox;
use crate::lesson::shell::Shell;
use crate::runtime::{Cgroup, CgroupGroup};

/// The cgroup all grading groups live under (from each hierarchy's root).
const CGROUP_BASE: &str = "/dokles-nakijken";

/// What one submission may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Size of its filesystem (state root, images, containers' files, working directory).
    pub disk_bytes: u64,
    /// Processes and threads at once: its shell lines, monitors and containers together.
    pub pids: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            disk_bytes: 2 << 30,
            pids: 512,
        }
    }
}

/// Fields drop in declaration order: the sandbox first (containers removed: their
/// monitors unmount and remove their cgroups), then whatever still runs in the group, then
/// the filesystem, then the directory.
pub struct Isolated {
    sandbox: Sandbox,
    group: Group,
    tmpfs: Tmpfs,
    /// Outside the tmpfs: the `docker` shim (`bin/`), out of the submission's reach by
    /// way of its state root.
    dir: tempfile::TempDir,
}

/// The submission's cgroup group; killed and removed on drop.
struct Group {
    cgroup: CgroupGroup,
}

impl Drop for Group {
    fn drop(&mut self) {
        if let Err(e) = self.cgroup.kill_and_remove() {
            eprintln!("dokles: opruimen van cgroup mislukt: {e}");
        }
    }
}

/// The submission's tmpfs; detached on drop.
struct Tmpfs {
    path: PathBuf,
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        if let Err(e) = nix::mount::umount2(&self.path, nix::mount::MntFlags::MNT_DETACH) {
            eprintln!(
                "dokles: ontkoppelen van {} mislukt: {e}",
                self.path.display()
            );
        }
    }
}

impl Isolated {
    pub fn new(limits: Limits) -> Result<Self> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let dir = tempfile::Builder::new()
            .prefix("dokles-nakijken-")
            .tempdir()
            .context("creating a directory for the submission")?;
        let mount = dir.path().join("fs");
        std::fs::create_dir(&mount).with_context(|| format!("creating {}", mount.display()))?;
        let unique = format!(
            "{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        nix::mount::mount(
            Some("tmpfs"),
            &mount,
            Some("tmpfs"),
            nix::mount::MsFlags::empty(),
            Some(format!("size={},mode=0755", limits.disk_bytes).as_str()),
        )
        .with_context(|| format!("mounting a tmpfs on {}", mount.display()))?;
        let tmpfs = Tmpfs { path: mount };
        let path = PathBuf::from(format!("{CGROUP_BASE}/{unique}"));
        let cgroup = CgroupGroup::create(&path, limits.pids)
            .map_err(|e| anyhow::anyhow!("{e}"))
            .context("creating the submission's cgroup")?;
        let group = Group { cgroup };
        let sandbox = Sandbox::in_dir(&tmpfs.path)?;
        Ok(Self {
            sandbox,
            group,
            tmpfs,
            dir,
        })
    }

    pub fn sandbox(&self) -> &Sandbox {
        &self.sandbox
    }

    /// The shell the submission's lines run in: inside its cgroup, its containers' cgroups
    /// made under it.
    pub fn shell(&self) -> Result<Shell> {
        let sandbox = &self.sandbox;
        let shell = Shell::for_this_binary(sandbox.root(), &sandbox.work())?
            .with_bin_dir(&self.dir.path().join("bin"))?
            .with_env(
                crate::cli::CGROUP_PARENT_ENV,
                &self.group.cgroup.path().to_string_lossy(),
            )
            // Another docker client on PATH must not reach a real Docker engine.
            .with_env("DOCKER_HOST", "unix:///dev/null");
        shell.in_cgroup(self.group.cgroup.members().dirs())
    }

    /// Stop what a finished line left running: every process directly in the submission's
    /// cgroup that is not the leader of a session of its own (container monitors detach
    /// into one; a fork bomb's processes do not). The group is frozen meanwhile, so nothing
    /// forks past the killing. Containers (in cgroups below) are left alone.
    pub fn stop_leftovers(&self) {
        use nix::sys::signal::{kill, Signal};
        use nix::unistd::{getsid, Pid};
        let cg = self.group.cgroup.members();
        let leftovers = |cg: &Cgroup| -> Vec<Pid> {
            cg.pids()
                .unwrap_or_default()
                .into_iter()
                .map(Pid::from_raw)
                .filter(|&pid| getsid(Some(pid)).is_ok_and(|sid| sid != pid))
                .collect()
        };
        // A few rounds: a process caught mid-fork may leave a child the first round missed.
        for _ in 0..10 {
            if leftovers(cg).is_empty() {
                return;
            }
            let frozen = cg.freeze().is_ok();
            for pid in leftovers(cg) {
                let _ = kill(pid, Signal::SIGKILL);
            }
            if frozen {
                let _ = cg.thaw();
            }
            // Orphans are reaped by init, which can take a second or more.
            self.group.cgroup.settle(std::time::Duration::from_secs(5));
        }
    }

    /// The directory the sandbox lives in (the tmpfs).
    pub fn base(&self) -> &Path {
        &self.tmpfs.path
    }
}
