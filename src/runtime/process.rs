//! The container's process itself: identity (uid, gid, groups, umask), working directory,
//! descriptor hygiene, and the final `execve` with `$PATH` searched inside the container.

use std::ffi::{CString, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::sys::stat::{umask, Mode};
use nix::unistd::{chdir, execve, getcwd, setgroups, setresgid, setresuid, Gid, Uid};
use oci_spec::runtime::Process;

use super::console::ConsoleSize;
use super::error::{ExecError, ExecErrorKind, RuntimeError};
use super::limits::Rlimit;
use super::sync::{ChildFailure, StepContext};

/// Docker's umask when the spec gives none.
const DEFAULT_UMASK: u32 = 0o022;

/// Everything about the process to run, checked and converted before forking.
#[derive(Debug, Clone)]
pub struct ProcessPlan {
    pub args: Vec<CString>,
    pub env: Vec<CString>,
    pub cwd: PathBuf,
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    pub umask: u32,
    pub no_new_privileges: bool,
    pub rlimits: Vec<Rlimit>,
    pub oom_score_adj: Option<i32>,
    /// A pty replaces stdio (`docker run -t`).
    pub terminal: bool,
    pub console_size: Option<ConsoleSize>,
}

impl ProcessPlan {
    pub fn from_spec(process: &Process) -> Result<Self, RuntimeError> {
        let args = process
            .args()
            .as_ref()
            .filter(|a| !a.is_empty())
            .ok_or_else(|| RuntimeError::InvalidSpec("process.args is empty".into()))?;
        let cstrings = |items: &[String], what: &str| {
            items
                .iter()
                .map(|s| {
                    CString::new(s.as_str()).map_err(|_| {
                        RuntimeError::InvalidSpec(format!("{what} contains a NUL byte: {s:?}"))
                    })
                })
                .collect::<Result<Vec<_>, _>>()
        };
        let cwd = process.cwd().clone();
        if !cwd.is_absolute() {
            return Err(RuntimeError::InvalidSpec(format!(
                "process.cwd must be absolute, got {}",
                cwd.display()
            )));
        }
        let user = process.user();
        Ok(Self {
            args: cstrings(args, "process.args")?,
            env: cstrings(process.env().as_deref().unwrap_or(&[]), "process.env")?,
            cwd,
            uid: user.uid(),
            gid: user.gid(),
            additional_gids: user.additional_gids().clone().unwrap_or_default(),
            umask: user.umask().unwrap_or(DEFAULT_UMASK),
            no_new_privileges: process.no_new_privileges().unwrap_or(false),
            rlimits: process
                .rlimits()
                .iter()
                .flatten()
                .map(Rlimit::from_spec)
                .collect::<Result<_, _>>()?,
            oom_score_adj: process.oom_score_adj(),
            terminal: process.terminal().unwrap_or(false),
            console_size: process
                .console_size()
                .map(|size| -> Result<ConsoleSize, RuntimeError> {
                    let fit = |n: u64| {
                        u16::try_from(n).map_err(|_| {
                            RuntimeError::InvalidSpec(format!("console size {n} too large"))
                        })
                    };
                    Ok(ConsoleSize {
                        rows: fit(size.height())?,
                        columns: fit(size.width())?,
                    })
                })
                .transpose()?,
        })
    }

    /// The value of `PATH` in the container's environment, if set.
    fn path_env(&self) -> Option<&OsStr> {
        self.env
            .iter()
            .find_map(|e| e.as_bytes().strip_prefix(b"PATH="))
            .map(OsStr::from_bytes)
    }
}

/// Change to the container's working directory and make sure it lies inside the container:
/// a directory reached through a descriptor leaked from the host shows up in `getcwd` as
/// "(unreachable)/..." (CVE-2024-21626).
pub fn enter_cwd(cwd: &Path) -> Result<(), ChildFailure> {
    chdir(cwd).map_err(|errno| ChildFailure::Chdir {
        cwd: cwd.display().to_string(),
        message: go_error_text(errno),
    })?;
    let actual = getcwd().step(|| "checking the working directory".into())?;
    if !actual.is_absolute() || actual.starts_with("(unreachable)") {
        return Err(ChildFailure::Setup {
            step: "checking the working directory".into(),
            message: format!(
                "{} resolves outside the container ({})",
                cwd.display(),
                actual.display()
            ),
        });
    }
    Ok(())
}

/// Take on the container user's identity: groups first (needs CAP_SETGID), then gid, then uid.
pub fn switch_user(plan: &ProcessPlan) -> Result<(), ChildFailure> {
    let groups: Vec<Gid> = plan
        .additional_gids
        .iter()
        .map(|g| Gid::from_raw(*g))
        .collect();
    setgroups(&groups).step(|| "setting supplementary groups".into())?;
    let gid = Gid::from_raw(plan.gid);
    setresgid(gid, gid, gid).step(|| format!("setting gid {}", plan.gid))?;
    let uid = Uid::from_raw(plan.uid);
    setresuid(uid, uid, uid).step(|| format!("setting uid {}", plan.uid))?;
    umask(Mode::from_bits_truncate(plan.umask));
    Ok(())
}

/// Mark every descriptor above 2 close-on-exec, so nothing of the runtime's (or its
/// caller's) reaches the container's process (CVE-2024-21626).
pub fn cloexec_all_but_stdio() -> Result<(), ChildFailure> {
    // SAFETY: close_range only changes descriptor flags.
    let rc = unsafe { libc::close_range(3, libc::c_uint::MAX, libc::CLOSE_RANGE_CLOEXEC as i32) };
    Errno::result(rc).step(|| "marking descriptors close-on-exec".into())?;
    Ok(())
}

/// Give the container's process the signal state a fresh process has: every signal at its
/// default action and none blocked. The caller's ignored signals (Rust ignores `SIGPIPE`)
/// and blocked mask would otherwise survive `execve`.
pub fn reset_signals() -> Result<(), ChildFailure> {
    /// The kernel's `struct sigaction` (not libc's, which refuses glibc's reserved signals).
    #[repr(C)]
    struct KernelSigaction {
        handler: libc::sighandler_t,
        flags: libc::c_ulong,
        restorer: usize,
        mask: u64,
    }
    let default = KernelSigaction {
        handler: libc::SIG_DFL,
        flags: 0,
        restorer: 0,
        mask: 0,
    };
    for signal in 1..=64 {
        if signal == libc::SIGKILL || signal == libc::SIGSTOP {
            continue;
        }
        // SAFETY: rt_sigaction reads the struct we pass (kernel layout, 8-byte sigset) and
        // writes nothing back (null old action).
        let rc = unsafe {
            libc::syscall(
                libc::SYS_rt_sigaction,
                signal,
                &default as *const KernelSigaction,
                std::ptr::null_mut::<KernelSigaction>(),
                std::mem::size_of::<u64>(),
            )
        };
        Errno::result(rc).step(|| format!("resetting signal {signal}"))?;
    }
    let empty: u64 = 0;
    // SAFETY: rt_sigprocmask reads the 8-byte set we pass and writes nothing back.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_rt_sigprocmask,
            libc::SIG_SETMASK,
            &empty as *const u64,
            std::ptr::null_mut::<u64>(),
            std::mem::size_of::<u64>(),
        )
    };
    Errno::result(rc).step(|| "unblocking signals".into())?;
    Ok(())
}

/// Close every descriptor above 2 except `keep` (the setup channel), right after the fork,
/// before anything could use a leaked host descriptor.
pub fn close_inherited_fds(keep: &[i32]) -> nix::Result<()> {
    let mut keep: Vec<u32> = keep
        .iter()
        .filter_map(|fd| u32::try_from(*fd).ok())
        .collect();
    keep.sort_unstable();
    let mut first = 3u32;
    for fd in keep.into_iter().filter(|fd| *fd >= 3) {
        if fd > first {
            close_range(first, fd - 1)?;
        }
        first = fd + 1;
    }
    close_range(first, libc::c_uint::MAX)
}

fn close_range(first: u32, last: u32) -> nix::Result<()> {
    // SAFETY: closing descriptors this process no longer uses; Rust objects owning any of
    // them are never used again in this (about to exec or exit) process.
    Errno::result(unsafe { libc::close_range(first, last, 0) }).map(drop)
}

/// Replace this process with the container's command. Only returns on failure.
pub fn exec(plan: &ProcessPlan) -> ExecError {
    let raw_command = OsStr::from_bytes(plan.args[0].as_bytes());
    let command = raw_command.to_string_lossy().into_owned();
    let program = match find_executable(raw_command, plan.path_env()) {
        Ok(program) => program,
        Err((kind, detail)) => {
            return ExecError {
                command,
                kind,
                detail,
            }
        }
    };
    let errno = match CString::new(program.as_os_str().as_bytes()) {
        Ok(path) => match execve(&path, &plan.args, &plan.env) {
            Err(errno) => errno,
            Ok(never) => match never {},
        },
        Err(_) => Errno::EINVAL,
    };
    let kind = match errno {
        Errno::EACCES => ExecErrorKind::PermissionDenied,
        Errno::ENOENT => ExecErrorKind::NoSuchFile,
        _ => ExecErrorKind::Other,
    };
    ExecError {
        command,
        kind,
        detail: go_error_text(errno),
    }
}

/// Go's `exec.LookPath`, as runc runs it inside the container: a name with a slash is used
/// as is, a bare name is searched on `PATH`, and only regular files with an execute bit count.
fn find_executable(
    command: &OsStr,
    path_env: Option<&OsStr>,
) -> Result<PathBuf, (ExecErrorKind, String)> {
    if command.as_bytes().contains(&b'/') {
        let path = PathBuf::from(command);
        return match std::fs::metadata(&path) {
            Err(e) => Err((
                ExecErrorKind::NoSuchFile,
                format!(
                    "stat {}: {}",
                    command.to_string_lossy(),
                    go_error_text(Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))
                ),
            )),
            Ok(meta) if is_executable(&meta) => Ok(path),
            Ok(_) => Err((ExecErrorKind::PermissionDenied, "permission denied".into())),
        };
    }
    let dirs = path_env.map(|p| p.as_bytes()).unwrap_or_default();
    if !dirs.is_empty() {
        for dir in dirs.split(|b| *b == b':') {
            let dir = if dir.is_empty() { b"." as &[u8] } else { dir };
            let candidate = Path::new(OsStr::from_bytes(dir)).join(command);
            if std::fs::metadata(&candidate).is_ok_and(|m| is_executable(&m)) {
                return Ok(candidate);
            }
        }
    }
    Err((
        ExecErrorKind::NotInPath,
        "executable file not found in $PATH".into(),
    ))
}

fn is_executable(meta: &std::fs::Metadata) -> bool {
    !meta.is_dir() && meta.permissions().mode() & 0o111 != 0
}

/// An errno as Go's `syscall.Errno.Error()` words it (lower case, as runc reports).
fn go_error_text(errno: Errno) -> String {
    let text = errno.desc();
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_text_matches_go() {
        assert_eq!(go_error_text(Errno::ENOENT), "no such file or directory");
        assert_eq!(go_error_text(Errno::EACCES), "permission denied");
    }

    #[test]
    fn bare_names_are_searched_on_path_only() {
        let sh = OsStr::new("sh");
        let found = find_executable(sh, Some(OsStr::new("/nonexistent:/bin")));
        assert_eq!(found, Ok(PathBuf::from("/bin/sh")));
        let missing = find_executable(sh, None);
        assert_eq!(
            missing,
            Err((
                ExecErrorKind::NotInPath,
                "executable file not found in $PATH".to_string()
            ))
        );
    }

    #[test]
    fn paths_are_checked_like_go_lookpath() {
        assert_eq!(
            find_executable(OsStr::new("/nope"), None),
            Err((
                ExecErrorKind::NoSuchFile,
                "stat /nope: no such file or directory".to_string()
            ))
        );
        assert_eq!(
            find_executable(OsStr::new("/etc"), None),
            Err((
                ExecErrorKind::PermissionDenied,
                "permission denied".to_string()
            ))
        );
    }
}
