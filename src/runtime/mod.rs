//! dokles' own low-level OCI runtime: given a runtime spec and a prepared rootfs, run the
//! spec's process in a container — namespaces, mounts, `pivot_root`, devices, identity,
//! capabilities, `exec`. No runc, no daemon.
//!
//! ```text
//! caller ─fork─▶ intermediate: non-dumpable, stdio, close inherited fds, join cgroup,
//!   ▲  │                       setns/unshare ─clone(CLONE_PARENT)─▶ init (PID 1):
//!   │  │          lo up, hostname, mounts (inside the rootfs), devices, pivot_root,
//!   │  │          sysctls, read-only/masked paths, cwd check, tty, rlimits, seccomp,
//!   │  │          bounding set, user, capabilities, fds close-on-exec ─▶ Ready
//!   │  └─ start ─────────────────────────────────────────────▶ PATH lookup, execve
//!   └──── socket: init PID, console fd, Ready, or a typed failure; EOF after exec
//! ```
//!
//! [`create`] returns once the container is fully set up and its init waits, just before
//! `exec`, for [`CreatedContainer::start`] (the engine moves a network interface into the
//! container in between); [`spawn`] does both. The caller learns each outcome over a
//! close-on-exec socket: end-of-file without a failure message means the container's
//! command is running (see `sync`).
//!
//! [`exec_in`] runs a further process in a running container (`docker exec`) the same
//! way, joining the container's namespaces and cgroup instead of creating them.
//!
//! The init and exec'd processes are forks of the caller and run its binary until they
//! `exec`: a caller that starts containers must itself run from a sealed view of its binary
//! ([`exe_seal`]), or a container can reach the binary through `/proc/<pid>/exe`
//! (CVE-2019-5736).
//!
//! Forking in a multi-threaded caller: the setup code allocates after `fork`. glibc's `fork`
//! takes and resets its malloc locks around the fork, so that is safe; the setup code takes
//! no other lock (no stdout, no environment) and ends in `execve` or `_exit`.

mod capabilities;
pub mod cgroups;
mod console;
mod container;
mod devices;
mod error;
pub mod exe_seal;
pub mod in_root;
mod init;
mod limits;
mod mount_options;
mod namespaces;
mod process;
mod rootfs;
mod seccomp;
mod spec;
mod sync;

pub use cgroups::devices::ALWAYS_ALLOWED_DEVICES;
pub use cgroups::{Cgroup, CgroupManager, CgroupStats};
pub use container::{
    create, exec_in, spawn, ContainerProcess, CreatedContainer, ExecTarget, ExitStatus, PipeEnds,
    Stdio, StdioFd,
};
pub use error::{ExecError, ExecErrorKind, RuntimeError};
pub use seccomp::SeccompFilter;
pub use spec::{
    default_spec, DEFAULT_CAPABILITIES, DEFAULT_MASKED_PATHS, DEFAULT_READONLY_PATHS,
    DEFAULT_SHM_SIZE,
};
