//! The submission's cgroups, as the grader (on the host) makes and removes them through the
//! runtime's cgroup manager, on cgroup v1 (and hybrid) hosts and v2 hosts alike. In every
//! hierarchy the host mounts, `/dokles-nakijken/<grader pid>-<n>` is the world and
//! `…/inzending` below it the root of the submission's cgroup namespace: every line,
//! monitor and container lives there or below. Whatever cgroupfs the submission writes to or
//! mounts, it sees only that subtree, so it can neither leave it nor touch another cgroup of
//! the host.
//!
//! The world's cgroup carries the limits, so they hold for everything below: `pids.max` and
//! a device allow-list, the devices a container may use (v1 `devices.allow`, v2 an eBPF
//! program), so a node made with `mknod` for the host's disk cannot be opened. [`Group::kill_all`]
//! kills everything in the tree (cgroups the submission froze itself are thawed, or on v1
//! their processes would never die); on drop the cgroups are removed as well.
//!
//! Where the world's own processes (helper, init, judge) and the lines sit:
//!
//! * v1 hierarchies: the world's processes in the world's cgroup, above the namespace's
//!   root, so that freezing the submission's cgroup does not stop them; lines in
//!   `inzending`.
//! * the unified hierarchy beside them on a hybrid host: both in `inzending` — a process
//!   outside a cgroup namespace's root may not move processes into it in v2, so a judge
//!   above it could not place a line's shell there.
//! * a v2 host: v2 passes controllers on only from cgroups that hold no process, and the
//!   containers' cgroups below `inzending` need them, so nothing may sit in `inzending`
//!   itself: the world's processes are in the leaf `inzending/beoordelaar`, the lines in
//!   `inzending/regels`. The helper stands in `inzending` only to unshare the cgroup
//!   namespace (which is rooted where its creator stands), then moves down.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, Result};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

use crate::runtime::cgroups::{self, devices, Version};
use crate::runtime::Cgroup;

/// The cgroup all gradings live under (from each hierarchy's root).
const BASE: &str = "dokles-nakijken";

/// The submission's cgroup, below the world's (and the root of its cgroup namespace).
const SUBMISSION: &str = "inzending";

/// On a v2 host: the leaf of the submission's cgroup the world's own processes sit in.
const JUDGE: &str = "beoordelaar";

/// On a v2 host: the leaf of the submission's cgroup its lines sit in.
const LINES: &str = "regels";

/// One cgroup hierarchy: how the world mounts it again inside its cgroup namespace, and
/// where the helper stands in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hierarchy {
    /// Where the host mounts it, and the world mounts it again (`/sys/fs/cgroup/pids`, or
    /// `/sys/fs/cgroup` itself on a v2 host).
    pub mount_point: PathBuf,
    /// `cgroup` (v1) or `cgroup2`.
    pub fstype: String,
    /// The v1 mount options naming the hierarchy (`pids`, `xattr,name=systemd`); empty for
    /// v2.
    pub options: String,
    /// The submission's directory on the host (the cgroup namespace's root): the helper
    /// joins it before it unshares the namespace.
    pub submission: PathBuf,
    /// Where the world's own processes sit, on the host: the helper joins it after.
    pub judge: PathBuf,
}

/// The world's and the submission's cgroups; removed on drop, with whatever still runs in
/// them.
pub struct Group {
    world: Cgroup,
    hierarchies: Vec<Hierarchy>,
    lines: PathBuf,
}

impl Group {
    /// Create the world's cgroup `<BASE>/<unique>` in every hierarchy, with at most `pids`
    /// tasks in all and the device allow-list, and the submission's below it.
    pub fn create(unique: &str, pids: u64) -> Result<Self> {
        let failed = |e: crate::runtime::RuntimeError| anyhow!("{e}");
        let version = cgroups::version().map_err(failed)?;
        let world_path = Path::new("/").join(BASE).join(unique);
        let submission_path = world_path.join(SUBMISSION);
        let world = Cgroup::locate_everywhere(&world_path).map_err(failed)?;
        world
            .create_group(pids, &devices::only_always_allowed())
            .map_err(failed)?;
        let (judge_path, lines) = match version {
            Version::V1 => (None, PathBuf::from("/")),
            Version::V2 => (
                Some(submission_path.join(JUDGE)),
                Path::new("/").join(LINES),
            ),
        };
        // From here on, drop removes whatever was made.
        let mut group = Self {
            world,
            hierarchies: Vec::new(),
            lines,
        };
        Cgroup::locate_everywhere(&submission_path)
            .and_then(|submission| submission.create(None, None))
            .map_err(failed)?;
        if let Some(judge) = &judge_path {
            for leaf in [judge.clone(), submission_path.join(LINES)] {
                Cgroup::locate_everywhere(&leaf)
                    .and_then(|l| l.create_leaf())
                    .map_err(failed)?;
            }
        }
        let relative = |p: &Path| p.strip_prefix("/").unwrap_or(p).to_path_buf();
        for h in cgroups::hierarchies().map_err(failed)? {
            let submission = h.mount_point.join(relative(&submission_path));
            let judge = match (&judge_path, h.version) {
                (Some(judge), _) => h.mount_point.join(relative(judge)),
                (None, Version::V1) => h.mount_point.join(relative(&world_path)),
                (None, Version::V2) => submission.clone(),
            };
            group.hierarchies.push(Hierarchy {
                fstype: match h.version {
                    Version::V1 => "cgroup",
                    Version::V2 => "cgroup2",
                }
                .to_string(),
                mount_point: h.mount_point,
                options: h.options,
                submission,
                judge,
            });
        }
        Ok(group)
    }

    pub fn hierarchies(&self) -> &[Hierarchy] {
        &self.hierarchies
    }

    /// The cgroup every line joins, as the world sees it (from its cgroup namespace's root).
    pub fn lines(&self) -> &Path {
        &self.lines
    }

    /// Kill every process in the world's tree but `spare`. (The grader spares the helper,
    /// its own child: it reaps the world's init, and the grader reaps it.)
    pub fn kill_all(&self, spare: Option<u32>) {
        let spare = spare.and_then(|s| i32::try_from(s).ok()).map(Pid::from_raw);
        self.world.kill(spare);
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        if let Err(e) = self.world.kill_and_remove() {
            eprintln!("dokles: opruimen van de cgroups van het nakijken mislukt: {e}");
        }
    }
}
