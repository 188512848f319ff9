//! dokles' own low-level OCI runtime: given a runtime spec and a prepared rootfs, run the
//! spec's process in a container — namespaces, mounts, `pivot_root`, devices, identity,
//! capabilities, `exec`. No runc, no daemon.
//!
//! ```text
//! caller ──fork──▶ intermediate: stdio, close fds, non-dumpable, setns/unshare
//!    ▲                  └─clone(CLONE_PARENT)─▶ init (PID 1): lo up, hostname, mounts,
//!    │                                           devices, pivot_root, masks, cwd, user,
//!    └──── socket: init PID, or a typed failure ──  capabilities, exec
//! ```
//!
//! The caller learns the outcome over a close-on-exec socket: end-of-file without a failure
//! message means the container's command is running (see [`sync`]).
//!
//! Forking in a multi-threaded caller: the setup code allocates after `fork`. glibc's `fork`
//! takes and resets its malloc locks around the fork, so that is safe; the setup code takes
//! no other lock (no stdout, no environment) and ends in `execve` or `_exit`.

mod capabilities;
mod cgroups;
mod devices;
mod error;
mod in_root;
mod init;
mod mount_options;
mod namespaces;
mod process;
mod rootfs;
mod spec;
mod sync;

use std::fs::OpenOptions;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

use nix::errno::Errno;
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, ForkResult, Pid};
use oci_spec::runtime::Spec;

pub use cgroups::Cgroup;
pub use error::{ExecError, ExecErrorKind, RuntimeError};
pub use spec::{
    default_spec, DEFAULT_CAPABILITIES, DEFAULT_MASKED_PATHS, DEFAULT_READONLY_PATHS,
    DEFAULT_SHM_SIZE,
};

use init::InitPlan;
use sync::{ChildMessage, ParentEnd};

/// Where one of the container's standard descriptors comes from.
#[derive(Debug, Default)]
pub enum StdioFd {
    /// The caller's own descriptor of the same number.
    #[default]
    Inherit,
    /// `/dev/null` of the host.
    Null,
    /// This descriptor (a pipe end, a file, a pty). Create it close-on-exec: the runtime
    /// places it at 0/1/2 itself, and other children of the caller must not keep it open.
    Fd(OwnedFd),
}

/// The container's stdin, stdout and stderr.
#[derive(Debug, Default)]
pub struct Stdio {
    pub stdin: StdioFd,
    pub stdout: StdioFd,
    pub stderr: StdioFd,
}

impl Stdio {
    /// All three inherited from the caller.
    pub fn inherit() -> Self {
        Self::default()
    }

    /// All three on `/dev/null`.
    pub fn null() -> Self {
        Self {
            stdin: StdioFd::Null,
            stdout: StdioFd::Null,
            stderr: StdioFd::Null,
        }
    }

    /// Open `/dev/null` where asked; the result owns every descriptor to hand over.
    fn resolve(self) -> Result<[Option<OwnedFd>; 3], RuntimeError> {
        let open = |fd: StdioFd, write: bool| -> Result<Option<OwnedFd>, RuntimeError> {
            Ok(match fd {
                StdioFd::Inherit => None,
                StdioFd::Fd(fd) => Some(fd),
                StdioFd::Null => Some(
                    OpenOptions::new()
                        .read(!write)
                        .write(write)
                        .open("/dev/null")
                        .map_err(|e| RuntimeError::host("cannot open /dev/null", e))?
                        .into(),
                ),
            })
        };
        Ok([
            open(self.stdin, false)?,
            open(self.stdout, true)?,
            open(self.stderr, true)?,
        ])
    }
}

/// How the container's init ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    Exited(i32),
    Signaled(Signal),
}

impl ExitStatus {
    /// The exit code Docker reports: the process's own, or 128 + the signal number.
    pub fn code(self) -> i32 {
        match self {
            ExitStatus::Exited(code) => code,
            ExitStatus::Signaled(signal) => 128 + signal as i32,
        }
    }
}

/// A running container's init process, a child of the caller of [`spawn`].
#[derive(Debug)]
pub struct ContainerProcess {
    /// The init's PID as seen from the caller (it is PID 1 inside its own PID namespace).
    pub pid: Pid,
    cgroup: Option<Cgroup>,
}

impl ContainerProcess {
    /// The container's cgroup, if the spec asked for one (`linux.cgroupsPath`).
    pub fn cgroup(&self) -> Option<&Cgroup> {
        self.cgroup.as_ref()
    }

    /// Wait until the init exits. When it does, the kernel kills every other process of the
    /// container's PID namespace; the container's cgroup is then removed.
    pub fn wait(&self) -> Result<ExitStatus, RuntimeError> {
        let status = self.wait_init()?;
        if let Some(cgroup) = &self.cgroup {
            cgroup.remove()?;
        }
        Ok(status)
    }

    fn wait_init(&self) -> Result<ExitStatus, RuntimeError> {
        loop {
            match waitpid(self.pid, None) {
                Ok(WaitStatus::Exited(_, code)) => return Ok(ExitStatus::Exited(code)),
                Ok(WaitStatus::Signaled(_, signal, _)) => return Ok(ExitStatus::Signaled(signal)),
                Ok(_) | Err(Errno::EINTR) => continue,
                Err(e) => {
                    return Err(RuntimeError::host(
                        format!("cannot wait for container process {}", self.pid),
                        e,
                    ))
                }
            }
        }
    }

    /// Send `signal` to the init.
    pub fn kill(&self, signal: Signal) -> Result<(), RuntimeError> {
        kill(self.pid, signal).map_err(|e| {
            RuntimeError::host(format!("cannot signal container process {}", self.pid), e)
        })
    }
}

/// Run `spec`'s process in a new container on `rootfs` (already prepared: an overlay mount or
/// a plain directory). Returns once the process is running; setup failures — including a
/// command that cannot be executed — come back as a [`RuntimeError`].
pub fn spawn(spec: &Spec, rootfs: &Path, stdio: Stdio) -> Result<ContainerProcess, RuntimeError> {
    let plan = InitPlan::from_spec(spec, rootfs)?;
    let stdio = stdio.resolve()?;
    let (parent_end, child_end) = sync::channel()?;
    let linux = spec.linux().as_ref();
    let cgroup = match linux.and_then(|l| l.cgroups_path().as_ref()) {
        Some(path) => Some(Cgroup::create(
            path,
            linux.and_then(|l| l.resources().as_ref()),
        )?),
        None => None,
    };
    // SAFETY: the child runs only the setup code (see the module documentation on forking in
    // a multi-threaded caller) and ends in execve or _exit, never returning into the caller.
    match unsafe { fork() }.map_err(|e| RuntimeError::host("cannot fork", e))? {
        ForkResult::Child => {
            drop(parent_end);
            let raw = [0, 1, 2].map(|i| stdio[i].as_ref().map(|fd| fd.as_raw_fd()));
            init::run_intermediate(&plan, cgroup.as_ref(), child_end, raw)
        }
        ForkResult::Parent {
            child: intermediate,
        } => {
            drop(child_end);
            drop(stdio);
            match collect(&parent_end, intermediate) {
                Ok(pid) => Ok(ContainerProcess { pid, cgroup }),
                Err(e) => {
                    if let Some(cgroup) = cgroup {
                        // The setup processes are reaped: the cgroup is empty. A failure to
                        // remove it is secondary to the error being reported.
                        let _ = cgroup.remove();
                    }
                    Err(e)
                }
            }
        }
    }
}

/// Read the setup's messages until end-of-file, reap the intermediate, and turn the outcome
/// into the running init's PID or the reason it is not running.
fn collect(channel: &ParentEnd, intermediate: Pid) -> Result<Pid, RuntimeError> {
    let mut init = None;
    let mut failure = None;
    let read_error = loop {
        match channel.recv() {
            Ok(None) => break None,
            Ok(Some(ChildMessage::InitPid(pid))) => init = Some(Pid::from_raw(pid)),
            Ok(Some(ChildMessage::Failed(f))) => {
                failure.get_or_insert(f);
            }
            Err(e) => break Some(e),
        }
    };
    if read_error.is_some() {
        for pid in init.iter().chain([&intermediate]) {
            let _ = kill(*pid, Signal::SIGKILL);
        }
    }
    let intermediate_status = reap(intermediate);
    if let Some(e) = read_error {
        if let Some(pid) = init {
            reap(pid);
        }
        return Err(e);
    }
    match (failure, init) {
        (Some(failure), init) => {
            if let Some(pid) = init {
                reap(pid);
            }
            Err(failure.into())
        }
        (None, Some(pid)) => Ok(pid),
        (None, None) => Err(RuntimeError::SetupDied(format!(
            "intermediate process: {intermediate_status:?}"
        ))),
    }
}

fn reap(pid: Pid) -> Option<WaitStatus> {
    loop {
        match waitpid(pid, None) {
            Err(Errno::EINTR) => continue,
            Ok(status) => return Some(status),
            Err(_) => return None,
        }
    }
}
