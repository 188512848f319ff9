//! `docker exec`: a further process in a running container — its namespaces, cgroup,
//! user (resolved in the container's own /etc/passwd), capabilities and environment.
//!
//! The process is forked from the caller, so the caller must run from a sealed view of the
//! dokles binary ([`crate::runtime::exe_seal`]): [`run_sealed`] re-executes the calling
//! command from one, and [`exec`] refuses to run otherwise.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};

use anyhow::Context;
use nix::unistd::Pid;
use oci_spec::runtime::{Process, User};

use super::record::ContainerId;
use super::spec::{build_spec_rooted, container_seccomp, resolve_user};
use super::store::{ContainerError, ContainerStore};
use crate::events::{Event, Journal};
use crate::runtime::exe_seal::{self, SealedExe};
use crate::runtime::{self, ExecTarget, Stdio};
use crate::state::StateRoot;

/// What `docker exec` asked for.
#[derive(Debug, Clone, Default)]
pub struct ExecOptions {
    pub cmd: Vec<String>,
    pub env: Vec<String>,
    pub working_dir: Option<String>,
    pub user: Option<String>,
    pub privileged: bool,
    /// A terminal for the process (`-t`), of this size if known.
    pub tty: bool,
    pub console_size: Option<super::attach::WindowSize>,
}

/// A started exec process, a child of the caller.
pub struct ExecProcess {
    process: runtime::ContainerProcess,
    journal: Journal,
    id: ContainerId,
    name: String,
}

impl ExecProcess {
    /// The master side of the process's terminal (`-t`), for the caller to relay.
    pub fn take_console(&mut self) -> Option<std::os::fd::OwnedFd> {
        self.process.take_console()
    }

    /// Wait for it; Docker's exit code (128 + signal when killed).
    pub fn wait(self) -> Result<i32, ContainerError> {
        let code = self
            .process
            .wait()
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .code();
        self.journal.emit(Event::ExecExited {
            id: self.id.to_string(),
            name: self.name,
            pid: self.process.pid.as_raw(),
            exit_code: code,
        });
        Ok(code)
    }
}

/// Set in the environment of a command re-executed by [`run_sealed`], so that it never
/// re-executes twice.
const RESEALED_ENV: &str = "DOKLES_EXEC_RESEALED";

/// Make sure this process runs from a sealed view of the dokles binary: if it does not,
/// replace it by the same command line (same argv, environment and descriptors) executed
/// from one. Call it before the command has done anything it would do twice.
pub fn run_sealed(root: &StateRoot) -> Result<(), ContainerError> {
    if exe_seal::current_exe_is_sealed() {
        return Ok(());
    }
    let failure = |detail: String| {
        ContainerError::Start {
        message: format!(
            "OCI runtime exec failed: exec failed: unable to start container process: {detail}: unknown"
        ),
        code: 126,
    }
    };
    if std::env::var_os(RESEALED_ENV).is_some() {
        return Err(failure(
            "re-executed from a sealed copy of dokles, but not running from one".into(),
        ));
    }
    let sealed = SealedExe::of_current_exe(&root.exe_seal_scratch())
        .map_err(|e| failure(format!("cannot seal the dokles binary: {e}")))?;
    let mut argv = std::env::args_os();
    let arg0 = argv.next().unwrap_or_else(|| "dokles".into());
    let error = sealed
        .command(arg0)
        .args(argv)
        .env(RESEALED_ENV, "1")
        .exec();
    Err(failure(format!(
        "cannot execute the sealed dokles binary: {error}"
    )))
}

/// Start `opts.cmd` in container `id` with the given stdio. The caller must run from a
/// sealed binary ([`run_sealed`]).
pub fn exec(
    store: &ContainerStore,
    id: &ContainerId,
    opts: &ExecOptions,
    stdio: Stdio,
) -> Result<ExecProcess, ContainerError> {
    if !exe_seal::current_exe_is_sealed() {
        return Err(ContainerError::Start {
            message: "OCI runtime exec failed: exec failed: unable to start container process: dokles does not run from a sealed copy of its binary: unknown".into(),
            code: 126,
        });
    }
    let mut c = store.load(id)?;
    let init = match c.state.process {
        Some(p) if c.state.is_running() && p.alive() => p,
        _ => return Err(ContainerError::NotRunning(id.clone())),
    };
    // The container's own filter binds its exec'd processes too, `--privileged` ones
    // included (runc exec installs the container's seccomp config).
    let seccomp = container_seccomp(&c.config).map_err(|e| ContainerError::Start {
        message: e.to_string(),
        code: 126,
    })?;
    if opts.privileged {
        c.config.privileged = true;
    }
    // The container's files are visible through its init's root, not on the host.
    let root = PathBuf::from(format!("/proc/{}/root", init.pid));
    let start_error = |message: String, code: i32| {
        ContainerError::Start {
        message: format!(
            "OCI runtime exec failed: exec failed: unable to start container process: {message}: unknown"
        ),
        code,
    }
    };
    let user =
        resolve_user(&root, opts.user.as_deref().unwrap_or(&c.config.user)).map_err(|e| {
            ContainerError::Start {
                message: e.to_string(),
                code: 126,
            }
        })?;
    // Start from the container's own process spec, so exec gets the same identity rules.
    c.config.path = opts.cmd.first().cloned().unwrap_or_default();
    c.config.args = opts.cmd.iter().skip(1).cloned().collect();
    c.config.user = opts.user.clone().unwrap_or(c.config.user);
    c.config.tty = opts.tty;
    let spec = build_spec_rooted(&c, &root).map_err(|e| ContainerError::Start {
        message: e.to_string(),
        code: 126,
    })?;
    let mut process: Process = spec.process().clone().context("spec without a process")?;
    let mut env = process.env().clone().unwrap_or_default();
    for e in &opts.env {
        let key = e.split_once('=').map(|(k, _)| k).unwrap_or(e);
        env.retain(|x| x.split_once('=').map(|(k, _)| k).unwrap_or(x) != key);
        env.push(e.clone());
    }
    process.set_env(Some(env));
    if let Some(w) = &opts.working_dir {
        if !Path::new(w).is_absolute() {
            // runc's own check, before it starts anything.
            return Err(ContainerError::Start {
                message:
                    "OCI runtime exec failed: exec failed: Cwd must be an absolute path: unknown"
                        .into(),
                code: 126,
            });
        }
        process.set_cwd(Path::new(w).to_path_buf());
    }
    let mut u = User::default();
    u.set_uid(user.uid);
    u.set_gid(user.gid);
    u.set_additional_gids((!user.groups.is_empty()).then(|| user.groups.clone()));
    process.set_user(u);
    if let Some(size) = opts.console_size.filter(|_| opts.tty) {
        process.set_console_size(Some(size.console_box()?));
    }

    let target = ExecTarget {
        init: Pid::from_raw(init.pid),
        seccomp: seccomp.as_ref(),
    };
    match runtime::exec_in(target, &process, stdio) {
        Ok(p) => {
            let journal = Journal::open(store.root());
            journal.emit(Event::ExecStarted {
                id: id.to_string(),
                name: c.config.name.clone(),
                pid: p.pid.as_raw(),
                cmd: opts.cmd.clone(),
                tty: opts.tty,
                user: c.config.user.clone(),
            });
            Ok(ExecProcess {
                process: p,
                journal,
                id: id.clone(),
                name: c.config.name,
            })
        }
        // Whatever failed in the runtime, Docker's exec exits 126.
        Err(e) => Err(start_error(e.to_string(), 126)),
    }
}
