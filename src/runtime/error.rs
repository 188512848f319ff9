//! The runtime's error type, and the typed failures of the container's final `exec`.
//!
//! Errors raised inside the container's setup process travel to the parent as a
//! [`ChildFailure`](crate::runtime::sync::ChildFailure) and come out here as
//! [`RuntimeError::Setup`] or [`RuntimeError::Exec`], with the step that failed.

use std::fmt;
use std::io;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::container::ExitStatus;

/// Everything that can go wrong while creating or waiting for a container.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The spec asks for something this runtime refuses or does not implement.
    #[error("invalid runtime spec: {0}")]
    InvalidSpec(String),

    /// A system call in the calling (host-side) process failed.
    #[error("{context}: {source}")]
    Host {
        context: String,
        #[source]
        source: io::Error,
    },

    /// A step of the container setup failed inside the new namespaces.
    #[error("container setup failed while {step}: {message}")]
    Setup { step: String, message: String },

    /// The process's working directory could not be entered, worded as runc's.
    #[error("chdir to cwd ({cwd:?}) set in config.json failed: {message}")]
    Chdir { cwd: String, message: String },

    /// Setup went well, but the container's process could not be executed.
    #[error("{0}")]
    Exec(ExecError),

    /// A mount destination would lead out of the rootfs or onto a symlink where the kernel
    /// must see a real directory (CVE-2019-19921, CVE-2021-30465).
    #[error("unsafe mount destination {destination}: {reason}")]
    UnsafeMount {
        destination: PathBuf,
        reason: String,
    },

    /// The container exited, but processes it left behind (outside its PID namespace, e.g.
    /// with the host's) keep its cgroup busy. The exit status is still known.
    #[error("container exited ({status:?}) but its cgroup could not be removed: {source}")]
    CgroupNotRemoved {
        status: ExitStatus,
        #[source]
        source: Box<RuntimeError>,
    },

    /// The container's limits could not be written to its cgroup (worded as runc's).
    #[error("error during container init: error setting cgroup config for procHooks process: {0}")]
    CgroupConfig(String),

    /// The setup process died without saying why (killed, or crashed).
    #[error("container setup process exited unexpectedly ({0})")]
    SetupDied(String),
}

impl RuntimeError {
    pub(crate) fn host(context: impl Into<String>, source: impl Into<io::Error>) -> Self {
        RuntimeError::Host {
            context: context.into(),
            source: source.into(),
        }
    }

    /// The exit code Docker reports when a container fails to start with this error:
    /// 127 for a command that does not exist, 126 for one that cannot be executed,
    /// and 125 (Docker's "the daemon failed") for everything else.
    pub fn docker_exit_code(&self) -> i32 {
        match self {
            RuntimeError::Exec(e) => e.kind.docker_exit_code(),
            _ => 125,
        }
    }
}

/// Why the container's process could not be executed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExecErrorKind {
    /// A bare command name was not found on the container's `$PATH`.
    NotInPath,
    /// A path (containing `/`) does not exist, or its interpreter does not.
    NoSuchFile,
    /// The file exists but is a directory or has no execute permission.
    PermissionDenied,
    /// `execve` failed otherwise (e.g. `exec format error`).
    Other,
}

impl ExecErrorKind {
    /// Docker's mapping from a failed start to an exit code.
    pub fn docker_exit_code(self) -> i32 {
        match self {
            ExecErrorKind::NotInPath | ExecErrorKind::NoSuchFile => 127,
            ExecErrorKind::PermissionDenied => 126,
            ExecErrorKind::Other => 125,
        }
    }
}

/// A failed `exec` of the container's process, worded as runc words it (Go's `exec.LookPath`
/// errors), because Docker passes that text on to the user:
/// `exec: "foo": executable file not found in $PATH`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecError {
    /// The command as the spec gave it (`process.args[0]`).
    pub command: String,
    pub kind: ExecErrorKind,
    /// The system's explanation, e.g. `stat /nope: no such file or directory`.
    pub detail: String,
}

impl fmt::Display for ExecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "exec: {:?}: {}", self.command, self.detail)
    }
}

impl std::error::Error for ExecError {}
