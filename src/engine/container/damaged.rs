//! Damaged containers: an entry of `containers/` that cannot be read as a container (a
//! record cut short by a full disk or a power cut, garbage, a missing file, a file where a
//! directory belongs, another container's config copied in). What exactly is wrong, what
//! could still be read, and what still runs of it — so that one damaged container is
//! reported and removed, and never stops a command about any other.
//!
//! Docker's daemon skips a container it cannot load at start and logs why; dokles has no
//! daemon log, so the store hands damaged entries to whoever lists or names them: `ps`
//! warns on stderr, `inspect` and the other commands say what is wrong, `rm -f` removes it.

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde::de::DeserializeOwned;

use super::record::{ContainerConfig, ContainerId, ContainerPaths, HostProcess, State};
use crate::state::StateRoot;

/// No record dokles writes comes near this; anything larger is not read at all.
const MAX_RECORD: u64 = 4 << 20;

/// What is wrong with a damaged container (the first thing found wrong).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// `containers/<id>` is a file or a symlink.
    NotADirectory,
    Missing(&'static str),
    /// A symlink, FIFO, device or directory where a record belongs.
    NotAFile(&'static str),
    TooLarge(&'static str),
    Empty(&'static str),
    Unreadable(&'static str, String),
    /// Not JSON, or not the record dokles writes (the parser's words).
    Invalid(&'static str, String),
    /// `config.json` names another container: a copy, which must not stand in for it.
    ForeignConfig(ContainerId),
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::NotADirectory => write!(f, "it is not a directory"),
            Problem::Missing(name) => write!(f, "its {name} is missing"),
            Problem::NotAFile(name) => write!(f, "its {name} is not a regular file"),
            Problem::TooLarge(name) => write!(f, "its {name} is larger than any dokles writes"),
            Problem::Empty(name) => write!(f, "its {name} is empty"),
            Problem::Unreadable(name, e) => write!(f, "its {name} cannot be read ({e})"),
            Problem::Invalid(name, e) => write!(f, "its {name} is not valid ({e})"),
            Problem::ForeignConfig(other) => {
                write!(f, "its config.json is that of container {}", other.short())
            }
        }
    }
}

/// An entry of `containers/` that is not a whole container, with what could be read of it.
#[derive(Debug, Clone)]
pub struct Damaged {
    pub id: ContainerId,
    pub paths: ContainerPaths,
    pub problem: Problem,
    /// The config, if it could be read (and is this container's).
    pub config: Option<ContainerConfig>,
    pub state: Option<State>,
}

impl std::fmt::Display for Damaged {
    /// One sentence for the user: what is wrong and the way out.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let short = self.id.short();
        write!(
            f,
            "container {short} is damaged: {}. Remove it with: docker rm -f {short}",
            self.problem
        )
    }
}

impl Damaged {
    /// The name, if the config could still be read.
    pub fn name(&self) -> Option<&str> {
        self.config.as_ref().map(|c| c.name.as_str())
    }

    /// What still runs of this container: the processes its state file names, else its
    /// monitor found by its command line (`dokles __monitor --root ROOT ID`) and that
    /// monitor's children (the container's init is one, by `CLONE_PARENT`).
    pub fn remains(&self, root: &StateRoot) -> Remains {
        let recorded = self.state.as_ref().filter(|s| s.is_running());
        let monitor = recorded
            .and_then(|s| s.monitor)
            .filter(HostProcess::alive)
            .or_else(|| find_monitor(root, &self.id));
        let mut inits: Vec<HostProcess> = recorded
            .and_then(|s| s.process)
            .filter(HostProcess::alive)
            .into_iter()
            .collect();
        if let Some(m) = monitor {
            for child in m.children() {
                if !inits.contains(&child) {
                    inits.push(child);
                }
            }
        }
        Remains { monitor, inits }
    }
}

/// The processes left of a damaged container.
#[derive(Debug, Default)]
pub struct Remains {
    pub monitor: Option<HostProcess>,
    pub inits: Vec<HostProcess>,
}

impl Remains {
    pub fn is_empty(&self) -> bool {
        self.monitor.is_none() && self.inits.is_empty()
    }

    /// Kill the container's processes and let its monitor end (it reaps the init and
    /// removes the cgroup); a monitor that has not ended after `grace` is killed too.
    pub fn stop(&self, grace: Duration) {
        for p in &self.inits {
            if p.alive() {
                // The init may end by itself meanwhile; it is gone either way.
                let _ = kill(Pid::from_raw(p.pid), Signal::SIGKILL);
            }
        }
        let Some(monitor) = self.monitor else {
            return;
        };
        let deadline = Instant::now() + grace;
        while monitor.alive() {
            if Instant::now() >= deadline {
                let _ = kill(Pid::from_raw(monitor.pid), Signal::SIGKILL);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// The monitor process of container `id` of `root`, if one runs.
fn find_monitor(root: &StateRoot, id: &ContainerId) -> Option<HostProcess> {
    let root = root.path().as_os_str().as_encoded_bytes();
    let entries = std::fs::read_dir("/proc").ok()?;
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .find(|pid| {
            let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
                return false;
            };
            let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
            let wanted: [&[u8]; 4] = [b"__monitor", b"--root", root, id.as_str().as_bytes()];
            args.get(1..5) == Some(&wanted[..])
        })
        .and_then(HostProcess::of)
}

/// Read one of a container's records, refusing what dokles never writes there: a symlink
/// (not followed), a FIFO or device (not waited on), anything over [`MAX_RECORD`].
pub fn read_record<T: DeserializeOwned>(dir: &Path, name: &'static str) -> Result<T, Problem> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(dir.join(name))
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ENOENT) => Problem::Missing(name),
            Some(libc::ELOOP) => Problem::NotAFile(name),
            _ => Problem::Unreadable(name, e.to_string()),
        })?;
    let meta = file
        .metadata()
        .map_err(|e| Problem::Unreadable(name, e.to_string()))?;
    if !meta.is_file() {
        return Err(Problem::NotAFile(name));
    }
    if meta.len() > MAX_RECORD {
        return Err(Problem::TooLarge(name));
    }
    let mut data = Vec::with_capacity(meta.len() as usize);
    File::take(file, MAX_RECORD + 1)
        .read_to_end(&mut data)
        .map_err(|e| Problem::Unreadable(name, e.to_string()))?;
    if data.is_empty() {
        return Err(Problem::Empty(name));
    }
    if data.len() as u64 > MAX_RECORD {
        return Err(Problem::TooLarge(name));
    }
    serde_json::from_slice(&data).map_err(|e| Problem::Invalid(name, e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(content: Option<&[u8]>) -> Result<State, Problem> {
        let dir = tempfile::tempdir().unwrap();
        if let Some(c) = content {
            std::fs::write(dir.path().join("state.json"), c).unwrap();
        }
        read_record(dir.path(), "state.json")
    }

    #[test]
    fn each_kind_of_bad_record_is_named() {
        assert_eq!(read(None).unwrap_err(), Problem::Missing("state.json"));
        assert_eq!(read(Some(b"")).unwrap_err(), Problem::Empty("state.json"));
        assert!(matches!(
            read(Some(b"{\"status\":")).unwrap_err(),
            Problem::Invalid("state.json", e) if e.contains("EOF")
        ));
        let good = serde_json::to_vec(&State::created()).unwrap();
        assert_eq!(read(Some(&good)).unwrap(), State::created());
    }

    #[test]
    fn a_fifo_symlink_or_huge_file_is_refused_without_reading_it() {
        let dir = tempfile::tempdir().unwrap();
        nix::unistd::mkfifo(
            &dir.path().join("fifo"),
            nix::sys::stat::Mode::from_bits_truncate(0o600),
        )
        .unwrap();
        assert_eq!(
            read_record::<State>(dir.path(), "fifo").unwrap_err(),
            Problem::NotAFile("fifo")
        );
        std::fs::write(dir.path().join("target"), b"{}").unwrap();
        std::os::unix::fs::symlink(dir.path().join("target"), dir.path().join("link")).unwrap();
        assert_eq!(
            read_record::<State>(dir.path(), "link").unwrap_err(),
            Problem::NotAFile("link")
        );
        let big = File::create(dir.path().join("big")).unwrap();
        big.set_len(MAX_RECORD + 1).unwrap();
        assert_eq!(
            read_record::<State>(dir.path(), "big").unwrap_err(),
            Problem::TooLarge("big")
        );
    }
}
