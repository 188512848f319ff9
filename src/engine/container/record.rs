//! What dokles records about a container: its configuration (fixed at `create`, except the
//! name) and its state (changed by start, exit, stop, …), each a JSON file in
//! `containers/<id>/`, replaced atomically.

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::logs::LogConfig;
use crate::engine::image::Digest;

/// A 64-hex container ID.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ContainerId(String);

impl ContainerId {
    /// A fresh random ID.
    pub fn generate() -> std::io::Result<Self> {
        let mut bytes = [0u8; 32];
        getrandom(&mut bytes)?;
        Ok(Self(hex::encode(bytes)))
    }

    pub fn parse(s: &str) -> Option<Self> {
        (s.len() == 64
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
        .then(|| Self(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The 12-character form `ps` shows and the hostname uses.
    pub fn short(&self) -> &str {
        &self.0[..12]
    }
}

impl std::fmt::Display for ContainerId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn getrandom(buf: &mut [u8]) -> std::io::Result<()> {
    use std::io::Read;
    std::fs::File::open("/dev/urandom")?.read_exact(buf)
}

/// The container's configuration as `create` decided it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ContainerConfig {
    pub id: ContainerId,
    /// Without the leading `/` Docker shows in `inspect`.
    pub name: String,
    pub created: DateTime<Utc>,
    /// The image as the user named it (`busybox`), shown by `ps`.
    pub image_name: String,
    pub image_id: Digest,
    /// Layer chain IDs of the image, bottom first: the overlay's lower dirs.
    pub layers: Vec<Digest>,
    /// The executable and its arguments (Docker's `Path` and `Args`).
    pub path: String,
    pub args: Vec<String>,
    /// What the user or image asked for, as `inspect`'s Config shows it.
    pub cmd: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    pub env: Vec<String>,
    pub working_dir: String,
    pub user: String,
    pub hostname: String,
    pub labels: BTreeMap<String, String>,
    pub tty: bool,
    pub open_stdin: bool,
    /// Whether a client attached at start (`run` without `-d`, `create`): Docker's
    /// Config.AttachStdout/AttachStderr.
    #[serde(default = "attached_by_default")]
    pub attached: bool,
    pub auto_remove: bool,
    pub privileged: bool,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub security_opt: Vec<String>,
    pub init: bool,
    /// Whether `--init` was given at all, `--init=false` too (Docker then shows `Init`).
    /// Records from before this field read as not given.
    #[serde(default)]
    pub init_given: bool,
    /// Resource limits (`--memory`, `--cpus`, `--pids-limit`); 0 = none.
    #[serde(default)]
    pub memory: i64,
    /// `--memory-swap`: memory plus swap, bytes; 0 = not given (twice `memory`), -1 = no
    /// swap limit.
    #[serde(default)]
    pub memory_swap: i64,
    /// `--cpu-shares`: the relative CPU weight; 0 = not given.
    #[serde(default)]
    pub cpu_shares: i64,
    /// `--cpuset-cpus`: the CPUs the container may run on (`0-2,4`); empty = all.
    #[serde(default)]
    pub cpuset_cpus: String,
    #[serde(default)]
    pub nano_cpus: i64,
    #[serde(default)]
    pub pids_limit: i64,
    /// `--ulimit name=soft[:hard]`, as given (validated at create).
    #[serde(default)]
    pub ulimits: Vec<Ulimit>,
    /// The cgroup the container's cgroup is made in (Docker's `--cgroup-parent`): absolute
    /// from the hierarchy's root, relative from the monitor's cgroup; empty for the
    /// default, `/dokles`.
    #[serde(default)]
    pub cgroup_parent: String,
    /// Docker's `CgroupnsMode`, its daemon's default for the host when created: `private`
    /// (a cgroup namespace of its own) on cgroup v2 hosts, `host` on v1. Records from
    /// before this field read as empty: `host`.
    #[serde(default)]
    pub cgroupns_mode: String,
    /// `--log-driver`/`--log-opt`; records from before them read as Docker's default.
    #[serde(default)]
    pub log_config: LogConfig,
    /// The image's own runtime config (ExposedPorts, Volumes, StopSignal, …) for `inspect`.
    pub image_config: serde_json::Value,
}

impl ContainerConfig {
    /// `--init` as Docker's HostConfig.Init pointer: `None` when the flag was not given.
    pub fn init_flag(&self) -> Option<bool> {
        (self.init || self.init_given).then_some(self.init)
    }
}

/// One `--ulimit`: a resource name as Docker spells it (`nofile`) and its limits.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Ulimit {
    pub name: String,
    pub soft: i64,
    pub hard: i64,
}

/// The resource names `--ulimit` accepts (go-units' `ulimitNameMapping`).
pub const ULIMIT_NAMES: [&str; 16] = [
    "as",
    "core",
    "cpu",
    "data",
    "fsize",
    "locks",
    "memlock",
    "msgqueue",
    "nice",
    "nofile",
    "nproc",
    "rss",
    "rtprio",
    "rttime",
    "sigpending",
    "stack",
];

impl Ulimit {
    /// Parse `name=soft[:hard]` with go-units' errors.
    pub fn parse(s: &str) -> Result<Self, String> {
        let Some((name, values)) = s.split_once('=') else {
            return Err(format!("invalid ulimit argument: {s}"));
        };
        if !ULIMIT_NAMES.contains(&name) {
            return Err(format!("invalid ulimit type: {name}"));
        }
        let number = |v: &str| {
            v.parse::<i64>()
                .map_err(|_| format!("invalid ulimit value: {v}"))
        };
        let (soft, hard) = match values.split_once(':') {
            Some((a, b)) => (number(a)?, number(b)?),
            None => (number(values)?, number(values)?),
        };
        if soft > hard {
            return Err(format!(
                "ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}"
            ));
        }
        Ok(Self {
            name: name.to_string(),
            soft,
            hard,
        })
    }
}

fn attached_by_default() -> bool {
    true
}

/// The lifecycle states Docker reports (`State.Status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Created,
    Running,
    Paused,
    Restarting,
    Removing,
    Exited,
    Dead,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Restarting => "restarting",
            Status::Removing => "removing",
            Status::Exited => "exited",
            Status::Dead => "dead",
        }
    }

    /// The status named as Docker spells it (`running`).
    pub fn parse(s: &str) -> Option<Self> {
        [
            Status::Created,
            Status::Running,
            Status::Paused,
            Status::Restarting,
            Status::Removing,
            Status::Exited,
            Status::Dead,
        ]
        .into_iter()
        .find(|st| st.as_str() == s)
    }
}

/// A host process identified beyond its PID: the start time from `/proc/<pid>/stat` guards
/// against PID reuse after a reboot or a long time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostProcess {
    pub pid: i32,
    pub start_time: u64,
}

impl HostProcess {
    /// Identify the live process `pid`.
    pub fn of(pid: i32) -> Option<Self> {
        proc_start_time(pid).map(|start_time| Self { pid, start_time })
    }

    /// Whether this very process still exists (and is not a zombie).
    pub fn alive(&self) -> bool {
        proc_start_time(self.pid) == Some(self.start_time)
    }

    /// This process's live children (their parent PID read from `/proc/<pid>/stat`).
    pub fn children(&self) -> Vec<HostProcess> {
        if !self.alive() {
            return Vec::new();
        }
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        entries
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
            .filter(|pid| proc_stat_field(*pid, 1).and_then(|f| f.parse().ok()) == Some(self.pid))
            .filter_map(HostProcess::of)
            .collect()
    }
}

/// Field 22 of `/proc/<pid>/stat`, or `None` if the process is gone or a zombie.
fn proc_start_time(pid: i32) -> Option<u64> {
    proc_stat_field(pid, 19)?.parse().ok()
}

/// Field `n` after the command name of `/proc/<pid>/stat` (0: the state, 1: the parent,
/// 19: the start time), or `None` if the process is gone or a zombie.
fn proc_stat_field(pid: i32, n: usize) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may contain spaces; fields follow the last ')'.
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    if fields.first() == Some(&"Z") || fields.first() == Some(&"X") {
        return None;
    }
    fields.get(n).map(|f| f.to_string())
}

/// The container's changing state.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct State {
    pub status: Status,
    /// The container's init on the host, while running.
    pub process: Option<HostProcess>,
    /// The monitor that owns the container while it runs.
    pub monitor: Option<HostProcess>,
    pub exit_code: i32,
    pub error: String,
    pub oom_killed: bool,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Set by `stop`/`kill` so a restart policy (later) knows the user stopped it.
    #[serde(default)]
    pub stopped_by_user: bool,
}

impl State {
    pub fn created() -> Self {
        Self {
            status: Status::Created,
            process: None,
            monitor: None,
            exit_code: 0,
            error: String::new(),
            oom_killed: false,
            started_at: None,
            finished_at: None,
            stopped_by_user: false,
        }
    }

    pub fn is_running(&self) -> bool {
        matches!(
            self.status,
            Status::Running | Status::Paused | Status::Restarting
        )
    }
}

/// Where a container's files live.
#[derive(Debug, Clone)]
pub struct ContainerPaths {
    pub dir: PathBuf,
}

impl ContainerPaths {
    pub fn config(&self) -> PathBuf {
        self.dir.join("config.json")
    }
    pub fn state(&self) -> PathBuf {
        self.dir.join("state.json")
    }
    pub fn log(&self, id: &ContainerId) -> PathBuf {
        self.dir.join(format!("{id}-json.log"))
    }
    pub fn upper(&self) -> PathBuf {
        self.dir.join("diff")
    }
    pub fn work(&self) -> PathBuf {
        self.dir.join("work")
    }
    pub fn merged(&self) -> PathBuf {
        self.dir.join("merged")
    }
    pub fn hostname(&self) -> PathBuf {
        self.dir.join("hostname")
    }
    pub fn hosts(&self) -> PathBuf {
        self.dir.join("hosts")
    }
    pub fn resolv_conf(&self) -> PathBuf {
        self.dir.join("resolv.conf")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_are_64_hex_and_distinct() {
        let a = ContainerId::generate().unwrap();
        let b = ContainerId::generate().unwrap();
        assert!(ContainerId::parse(a.as_str()).is_some());
        assert_ne!(a, b);
        assert_eq!(a.short().len(), 12);
    }

    #[test]
    fn own_process_is_alive_and_identified() {
        let me = HostProcess::of(std::process::id() as i32).unwrap();
        assert!(me.alive());
        let other = HostProcess {
            start_time: me.start_time + 1,
            ..me
        };
        assert!(!other.alive(), "a different start time is another process");
    }

    #[test]
    fn children_are_found_by_their_parent() {
        let mut child = std::process::Command::new("sleep")
            .arg("10")
            .spawn()
            .unwrap();
        let me = HostProcess::of(std::process::id() as i32).unwrap();
        let found = me.children();
        let _ = child.kill();
        let _ = child.wait();
        assert!(
            found.iter().any(|p| p.pid == child.id() as i32),
            "{found:?}"
        );
    }
}
