//! The caller's side of a container: stdio hand-over, creating (set up, waiting to exec),
//! starting, waiting for and signalling the container's init.

use std::fs::OpenOptions;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use nix::errno::Errno;
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{fork, ForkResult, Pid};
use oci_spec::runtime::{LinuxSeccomp, Process, Spec};

use super::cgroups::{self, Cgroup};
use super::error::RuntimeError;
use super::init::{self, InitPlan};
use super::sync::{self, ChildMessage, ParentEnd};

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

/// The caller's ends of the pipes [`Stdio::pipes`] made: write to `stdin`, read the others.
#[derive(Debug)]
pub struct PipeEnds {
    pub stdin: Option<OwnedFd>,
    pub stdout: OwnedFd,
    pub stderr: OwnedFd,
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
    /// Fresh close-on-exec pipes for the process's stdout and stderr and, with `stdin`, its
    /// stdin (else `/dev/null`): the stdio to hand over, and the caller's ends.
    pub fn pipes(stdin: bool) -> Result<(Self, PipeEnds), RuntimeError> {
        let pipe = || {
            nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
                .map_err(|e| RuntimeError::host("cannot create a pipe", e))
        };
        let (out_r, out_w) = pipe()?;
        let (err_r, err_w) = pipe()?;
        let (theirs, ours) = if stdin {
            let (r, w) = pipe()?;
            (StdioFd::Fd(r), Some(w))
        } else {
            (StdioFd::Null, None)
        };
        let stdio = Stdio {
            stdin: theirs,
            stdout: StdioFd::Fd(out_w),
            stderr: StdioFd::Fd(err_w),
        };
        let ends = PipeEnds {
            stdin: ours,
            stdout: out_r,
            stderr: err_r,
        };
        Ok((stdio, ends))
    }

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

/// A running container's init process (or an [`exec_in`] process), a child of the caller.
///
/// Dropping it leaves the process running: call [`wait`](Self::wait) or
/// [`try_wait`](Self::try_wait) until it has exited, or it stays a zombie and its cgroup
/// stays behind.
#[derive(Debug)]
pub struct ContainerProcess {
    /// The init's PID as seen from the caller (it is PID 1 inside its own PID namespace).
    pub pid: Pid,
    cgroup: Option<Cgroup>,
    console: Option<OwnedFd>,
}

impl ContainerProcess {
    /// The master side of the process's terminal (`process.terminal`), for the caller to
    /// relay; `None` without a terminal or once taken.
    pub fn take_console(&mut self) -> Option<OwnedFd> {
        self.console.take()
    }

    /// The container's cgroup (`linux.cgroupsPath`, or one of dokles' choosing); `None` for
    /// an [`exec_in`] process, which joins its container's.
    pub fn cgroup(&self) -> Option<&Cgroup> {
        self.cgroup.as_ref()
    }

    /// Wait until the init exits. When it does, the kernel kills every other process of the
    /// container's PID namespace; the container's cgroup is then removed (if processes
    /// outside that namespace keep it busy, [`RuntimeError::CgroupNotRemoved`] still carries
    /// the exit status).
    pub fn wait(&self) -> Result<ExitStatus, RuntimeError> {
        loop {
            if let Some(status) = self.wait_with(None)? {
                return Ok(status);
            }
        }
    }

    /// The exit status if the init has exited (reaping it and removing the cgroup, as
    /// [`wait`](Self::wait)), `None` if it still runs. For monitors that also watch a clock,
    /// e.g. `docker stop`'s grace period.
    pub fn try_wait(&self) -> Result<Option<ExitStatus>, RuntimeError> {
        self.wait_with(Some(WaitPidFlag::WNOHANG))
    }

    fn wait_with(&self, flags: Option<WaitPidFlag>) -> Result<Option<ExitStatus>, RuntimeError> {
        let status = loop {
            match waitpid(self.pid, flags) {
                Ok(WaitStatus::Exited(_, code)) => break ExitStatus::Exited(code),
                Ok(WaitStatus::Signaled(_, signal, _)) => break ExitStatus::Signaled(signal),
                Ok(WaitStatus::StillAlive) => return Ok(None),
                Ok(_) | Err(Errno::EINTR) => continue,
                Err(e) => {
                    return Err(RuntimeError::host(
                        format!("cannot wait for container process {}", self.pid),
                        e,
                    ))
                }
            }
        };
        if let Some(cgroup) = &self.cgroup {
            cgroup
                .remove()
                .map_err(|e| RuntimeError::CgroupNotRemoved {
                    status,
                    source: Box::new(e),
                })?;
        }
        Ok(Some(status))
    }

    /// Reap the init (already dying) and remove the cgroup, for paths that report another
    /// error.
    fn tear_down(self) {
        reap(self.pid);
        if let Some(cgroup) = &self.cgroup {
            let _ = cgroup.remove();
        }
    }

    /// Send `signal` to the init.
    pub fn kill(&self, signal: Signal) -> Result<(), RuntimeError> {
        kill(self.pid, signal).map_err(|e| {
            RuntimeError::host(format!("cannot signal container process {}", self.pid), e)
        })
    }
}

/// A container whose setup is complete and whose init waits to `exec` the command.
///
/// Dropping it without [`start`](Self::start) kills the init and removes its cgroup.
#[derive(Debug)]
pub struct CreatedContainer {
    pid: Pid,
    cgroup: Option<Cgroup>,
    console: Option<OwnedFd>,
    channel: ParentEnd,
    /// Set once ownership of the init has passed on (started, or torn down).
    done: bool,
}

impl CreatedContainer {
    /// The init's PID as seen from the caller: `/proc/<pid>/ns/net` is the container's
    /// network namespace.
    pub fn pid(&self) -> Pid {
        self.pid
    }

    /// The container's cgroup (`linux.cgroupsPath`, or one of dokles' choosing).
    pub fn cgroup(&self) -> Option<&Cgroup> {
        self.cgroup.as_ref()
    }

    /// The master side of the container's terminal (`process.terminal`), for the caller to
    /// relay; `None` without a terminal or once taken.
    pub fn take_console(&mut self) -> Option<OwnedFd> {
        self.console.take()
    }

    /// Let the init `exec` the container's command. Returns once it runs; a command that
    /// cannot be executed comes back as [`RuntimeError::Exec`].
    pub fn start(mut self) -> Result<ContainerProcess, RuntimeError> {
        self.done = true;
        let outcome = self.channel.send_start().and_then(|()| {
            let mut failure = None;
            while let Some(received) = self.channel.recv()? {
                if let ChildMessage::Failed(f) = received.message {
                    failure.get_or_insert(f);
                }
            }
            Ok(failure)
        });
        let process = ContainerProcess {
            pid: self.pid,
            cgroup: self.cgroup.take(),
            console: self.console.take(),
        };
        match outcome {
            Ok(None) => Ok(process),
            Ok(Some(failure)) => {
                process.tear_down();
                Err(failure.into())
            }
            Err(e) => {
                let _ = process.kill(Signal::SIGKILL);
                process.tear_down();
                Err(e)
            }
        }
    }
}

impl Drop for CreatedContainer {
    fn drop(&mut self) {
        if !self.done {
            let process = ContainerProcess {
                pid: self.pid,
                cgroup: self.cgroup.take(),
                console: self.console.take(),
            };
            let _ = process.kill(Signal::SIGKILL);
            process.tear_down();
        }
    }
}

/// Create a container for `spec`'s process on `rootfs` (already prepared: an overlay mount
/// or a plain directory): namespaces, cgroup, mounts, devices, identity and capabilities are
/// all in place when this returns, and the init waits for [`CreatedContainer::start`].
pub fn create(spec: &Spec, rootfs: &Path, stdio: Stdio) -> Result<CreatedContainer, RuntimeError> {
    let plan = InitPlan::from_spec(spec, rootfs)?;
    let linux = spec.linux().as_ref();
    // Every container gets a cgroup, if only for its device rules.
    let path = linux
        .and_then(|l| l.cgroups_path().clone())
        .unwrap_or_else(unique_cgroup_path);
    let cgroup = Cgroup::create(&path, linux)?;
    match launch(&plan, cgroup.dirs(), stdio) {
        Ok((pid, channel, console)) => Ok(CreatedContainer {
            pid,
            cgroup: Some(cgroup),
            console,
            channel,
            done: false,
        }),
        Err(e) => {
            // The setup processes are reaped, so the cgroup is empty. Failing to remove it
            // is secondary to the error being reported.
            let _ = cgroup.remove();
            Err(e)
        }
    }
}

/// A cgroup path for a spec that names none: relative (under the caller's own cgroup) and
/// unique among the caller's containers and across callers.
fn unique_cgroup_path() -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    PathBuf::from(format!(
        "dokles-{}-{}-{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ))
}

/// The running container an [`exec_in`] process joins.
#[derive(Debug, Clone, Copy)]
pub struct ExecTarget<'a> {
    /// The container's init, as [`ContainerProcess::pid`] gives it. Its namespaces and
    /// cgroups are the ones joined.
    pub init: Pid,
    /// The container's seccomp profile (`linux.seccomp` of its spec), applied if given.
    pub seccomp: Option<&'a LinuxSeccomp>,
}

/// Run `process` inside a running container (`docker exec`): join its namespaces and
/// cgroups (those of its init); then user, capabilities, seccomp and `exec` as for the init. Returns once the
/// process runs.
pub fn exec_in(
    target: ExecTarget<'_>,
    process: &Process,
    stdio: Stdio,
) -> Result<ContainerProcess, RuntimeError> {
    let plan = InitPlan::for_exec(target.init, process, target.seccomp)?;
    let cgroup_dirs = cgroups::dirs_of_process(target.init)?;
    let (pid, channel, console) = launch(&plan, &cgroup_dirs, stdio)?;
    CreatedContainer {
        pid,
        // The cgroup belongs to the container, not to this process.
        cgroup: None,
        console,
        channel,
        done: false,
    }
    .start()
}

/// Fork the setup processes for `plan` and wait until the process is ready to `exec`.
fn launch(
    plan: &InitPlan,
    cgroup_dirs: &[PathBuf],
    stdio: Stdio,
) -> Result<(Pid, ParentEnd, Option<OwnedFd>), RuntimeError> {
    let stdio = stdio.resolve()?;
    let (parent_end, child_end) = sync::channel()?;
    // SAFETY: the child runs only the setup code (see the module documentation on forking in
    // a multi-threaded caller) and ends in execve or _exit, never returning into the caller.
    match unsafe { fork() }.map_err(|e| RuntimeError::host("cannot fork", e))? {
        ForkResult::Child => {
            drop(parent_end);
            let raw = [0, 1, 2].map(|i| stdio[i].as_ref().map(|fd| fd.as_raw_fd()));
            init::run_intermediate(plan, cgroup_dirs, child_end, raw)
        }
        ForkResult::Parent { child } => {
            drop(child_end);
            drop(stdio);
            let (pid, console) = wait_until_ready(&parent_end, child)?;
            Ok((pid, parent_end, console))
        }
    }
}

/// [`create`] and [`start`](CreatedContainer::start) in one: returns once the container's
/// command runs; setup failures — including a command that cannot be executed — come back
/// as a [`RuntimeError`].
pub fn spawn(spec: &Spec, rootfs: &Path, stdio: Stdio) -> Result<ContainerProcess, RuntimeError> {
    create(spec, rootfs, stdio)?.start()
}

/// Read the setup's messages until the init reports it is ready, reap the intermediate, and
/// return the init's PID — or the reason there is no ready init (every setup process reaped).
fn wait_until_ready(
    channel: &ParentEnd,
    intermediate: Pid,
) -> Result<(Pid, Option<OwnedFd>), RuntimeError> {
    let mut init = None;
    let mut console = None;
    let mut ready = false;
    let mut failure: Option<RuntimeError> = None;
    // The init may report `Ready` before the intermediate gets to report the init's PID; after
    // a failure, read on to end-of-file to learn the init's PID, so it can be reaped.
    loop {
        match channel.recv().map(|r| r.map(|r| (r.message, r.fd))) {
            Ok(Some((ChildMessage::InitPid(pid), _))) => init = Some(Pid::from_raw(pid)),
            Ok(Some((ChildMessage::Console, fd))) => console = fd,
            Ok(Some((ChildMessage::Ready, _))) => ready = true,
            Ok(Some((ChildMessage::Failed(f), _))) => {
                failure.get_or_insert(f.into());
            }
            Ok(None) => break,
            Err(e) => {
                failure.get_or_insert(e);
                break;
            }
        }
        if failure.is_none() && ready && init.is_some() {
            break;
        }
    }
    let intermediate_status = reap(intermediate);
    match (failure, init) {
        (None, Some(pid)) if ready => Ok((pid, console)),
        (failure, init) => {
            let init_status = init.and_then(|pid| {
                let _ = kill(pid, Signal::SIGKILL);
                reap(pid)
            });
            Err(failure.unwrap_or_else(|| {
                RuntimeError::SetupDied(format!(
                    "intermediate: {intermediate_status:?}, init: {init_status:?}"
                ))
            }))
        }
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
