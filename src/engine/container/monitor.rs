//! The per-container monitor (as conmon is for podman): a small process, started by
//! `start`/`run` and detached from the terminal, that owns one running container. It mounts
//! the overlay rootfs in a mount namespace of its own (so no mount outlives it), starts the
//! container through the runtime, writes the container's output to its log (Docker's
//! json-file format) and, when attached, to its own stdout/stderr, and records the exit code
//! and finish time when the container ends — whether or not any dokles command is waiting.
//!
//! It talks to the process that started it over one pipe (fd 3): a first line saying whether
//! the container started, and, for attached runs, a last line with the exit code.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, FromRawFd, OwnedFd};

use anyhow::{Context, Result};
use chrono::Utc;
use nix::mount::{mount, MsFlags};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sched::{unshare, CloneFlags};
use serde::{Deserialize, Serialize};

use super::logs::LogWriter;
use super::record::{HostProcess, State, Status};
use super::spec::build_spec;
use super::store::{Container, ContainerStore};
use crate::runtime::{self, Stdio, StdioFd};

/// The descriptor the monitor reports on.
pub const REPORT_FD: i32 = 3;

/// What the monitor tells its starter.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "event", rename_all = "lowercase")]
pub enum Report {
    /// The container's process runs.
    Started,
    /// It could not start: Docker's message and exit code (125, 126, 127).
    Failed { message: String, code: i32 },
    /// It ended with this exit code.
    Exited { code: i32 },
}

/// Entry point of `dokles __monitor <root> <id> [--attach]`.
pub fn main(store: &ContainerStore, id: &str, attach: bool) -> i32 {
    // SAFETY: fd 3 was placed there by the starter for this process alone; if it is not
    // open, writes fail and are ignored.
    let report = unsafe { File::from_raw_fd(REPORT_FD) };
    let mut reporter = Reporter(Some(report));
    if let Err(e) = run(store, id, attach, &mut reporter) {
        reporter.send(&Report::Failed {
            message: format!("{e:#}"),
            code: 125,
        });
        return 125;
    }
    0
}

struct Reporter(Option<File>);

impl Reporter {
    fn send(&mut self, r: &Report) {
        if let Some(f) = &mut self.0 {
            let line = serde_json::to_string(r).unwrap_or_default();
            if writeln!(f, "{line}").is_err() {
                // The starter went away (a detached start); nobody listens any more.
                self.0 = None;
            }
        }
    }
}

fn run(store: &ContainerStore, id: &str, attach: bool, reporter: &mut Reporter) -> Result<()> {
    let c = store.get(id).map_err(|e| anyhow::anyhow!("{e}"))?;
    // A mount namespace of our own: the overlay and the bind mounts live and die with us.
    unshare(CloneFlags::CLONE_NEWNS).context("cannot create the monitor's mount namespace")?;
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .context("cannot make the monitor's mounts private")?;
    mount_rootfs(store, &c)?;

    let spec = build_spec(&c).map_err(|e| anyhow::anyhow!("{e:#}"))?;
    let (out_r, out_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).context("pipe")?;
    let (err_r, err_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).context("pipe")?;
    let stdio = Stdio {
        stdin: StdioFd::Null,
        stdout: StdioFd::Fd(out_w),
        stderr: StdioFd::Fd(err_w),
    };
    let process = match runtime::spawn(&spec, &c.paths.merged(), stdio) {
        Ok(p) => p,
        Err(e) => {
            let code = e.docker_exit_code();
            let message = format!(
                "failed to create shim task: OCI runtime create failed: dokles runtime create failed: unable to start container process: {e}: unknown"
            );
            record_failed_start(store, &c, code, &message)?;
            reporter.send(&Report::Failed { message, code });
            return Ok(());
        }
    };
    let started = Utc::now();
    {
        let lock = store.root().lock()?;
        let mut state = State::created();
        state.status = Status::Running;
        state.process = HostProcess::of(process.pid.as_raw());
        state.monitor = HostProcess::of(std::process::id() as i32);
        state.started_at = Some(started);
        store.save_state(&lock, &c.config.id, &state)?;
    }
    reporter.send(&Report::Started);

    let mut log = LogWriter::open(&c.paths.log(&c.config.id))?;
    shed_startup_pages();
    pump(out_r, err_r, &mut log, attach)?;
    // Read the OOM count while the cgroup still exists (waiting removes it).
    let oom = process.cgroup().is_some_and(|cg| cg.oom_killed());
    let status = process.wait().map_err(|e| anyhow::anyhow!("{e}"))?;
    let code = status.code();
    {
        let lock = store.root().lock()?;
        let mut state: State = store.load(&c.config.id)?.state;
        state.status = Status::Exited;
        state.exit_code = code;
        state.oom_killed = oom;
        state.process = None;
        state.monitor = None;
        state.finished_at = Some(Utc::now());
        store.save_state(&lock, &c.config.id, &state)?;
        if c.config.auto_remove {
            store.forget(&lock, &c.config.id)?;
        }
    }
    // The container is recorded (or, with --rm, gone): the waiting client may go on while
    // the slower unmount and directory removal finish here.
    reporter.send(&Report::Exited { code });
    unmount_rootfs(&c);
    if c.config.auto_remove {
        store.remove_files(&c.config.id)?;
    }
    Ok(())
}

fn record_failed_start(
    store: &ContainerStore,
    c: &Container,
    code: i32,
    message: &str,
) -> Result<()> {
    unmount_rootfs(c);
    let lock = store.root().lock()?;
    let mut state = c.state.clone();
    state.status = if c.config.auto_remove {
        Status::Exited
    } else {
        Status::Created
    };
    state.exit_code = code;
    state.error = message.to_string();
    store.save_state(&lock, &c.config.id, &state)?;
    if c.config.auto_remove {
        store.delete(&lock, &c.config.id)?;
    }
    Ok(())
}

/// Mount the overlay: the image's layers (top first) below the container's own upper dir.
fn mount_rootfs(store: &ContainerStore, c: &Container) -> Result<()> {
    let layers = crate::engine::image::ImageStore::open(store.root());
    let lowers: Vec<String> = c
        .config
        .layers
        .iter()
        .rev()
        .map(|l| layers.layers().diff_dir(l).display().to_string())
        .collect();
    let data = format!(
        "lowerdir={},upperdir={},workdir={}",
        lowers.join(":"),
        c.paths.upper().display(),
        c.paths.work().display()
    );
    mount(
        Some("overlay"),
        &c.paths.merged(),
        Some("overlay"),
        MsFlags::empty(),
        Some(data.as_str()),
    )
    .with_context(|| format!("cannot mount the overlay rootfs of {}", c.config.id.short()))
}

/// The monitor idles for the container's whole life in a small loop; the code and read-only
/// data that start-up touched (argument parsing, JSON, the runtime) need not stay resident.
/// Mappings of files that this process never wrote to (no private or anonymous pages) are
/// dropped from its page tables with `MADV_DONTNEED`: lossless for such mappings, since any
/// page needed again is read back from the file. That keeps an idle monitor small.
fn shed_startup_pages() {
    let Ok(smaps) = std::fs::read_to_string("/proc/self/smaps") else {
        return;
    };
    let mut current: Option<(usize, usize)> = None;
    let mut clean = true;
    let flush = |range: Option<(usize, usize)>, clean: bool| {
        if let (Some((start, end)), true) = (range, clean) {
            // SAFETY: the range is a file mapping of this process, never written (checked
            // from smaps, and this process is single-threaded here): dropping its pages
            // loses nothing.
            unsafe {
                libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED);
            }
        }
    };
    for line in smaps.lines() {
        let first = line.split_whitespace().next().unwrap_or("");
        if let Some((a, b)) = first.split_once('-').filter(|_| !first.ends_with(':')) {
            flush(current.take(), clean);
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (perms, inode) = (
                fields.get(1).copied().unwrap_or(""),
                fields.get(4).copied().unwrap_or("0"),
            );
            clean = inode != "0" && !perms.contains('w');
            current = match (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16)) {
                (Ok(a), Ok(b)) => Some((a, b)),
                _ => None,
            };
        } else if let Some(kb) = line
            .strip_prefix("Private_Dirty:")
            .or_else(|| line.strip_prefix("Anonymous:"))
        {
            if kb.trim().trim_end_matches("kB").trim() != "0" {
                clean = false;
            }
        }
    }
    flush(current, clean);
}

/// Unmount the overlay (and what is mounted below it) before the directories go away.
fn unmount_rootfs(c: &Container) {
    let _ = nix::mount::umount2(&c.paths.merged(), nix::mount::MntFlags::MNT_DETACH);
}

/// Copy the container's stdout and stderr into the log (and to our own stdout/stderr when
/// attached) until both are closed.
fn pump(out: OwnedFd, err: OwnedFd, log: &mut LogWriter, attach: bool) -> Result<()> {
    let mut streams = [Some(File::from(out)), Some(File::from(err))];
    let mut buf = vec![0u8; 32 * 1024];
    let mut host_out = std::io::stdout();
    let mut host_err = std::io::stderr();
    while streams.iter().any(Option::is_some) {
        let mut fds = Vec::new();
        let mut which = Vec::new();
        for (i, s) in streams.iter().enumerate() {
            if let Some(f) = s {
                fds.push(PollFd::new(f.as_fd(), PollFlags::POLLIN));
                which.push(i);
            }
        }
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e).context("poll"),
        }
        let ready: Vec<usize> = fds
            .iter()
            .zip(&which)
            .filter(|(p, _)| p.revents().is_some_and(|r| !r.is_empty()))
            .map(|(_, i)| *i)
            .collect();
        drop(fds);
        for i in ready {
            let Some(f) = streams[i].as_mut() else {
                continue;
            };
            let n = match f.read(&mut buf) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => 0,
            };
            let stream = if i == 0 { "stdout" } else { "stderr" };
            if n == 0 {
                log.finish(stream)?;
                streams[i] = None;
                continue;
            }
            log.write(stream, &buf[..n])?;
            if attach {
                // The attached client may be gone; the log still gets everything.
                let _ = if i == 0 {
                    host_out.write_all(&buf[..n]).and_then(|_| host_out.flush())
                } else {
                    host_err.write_all(&buf[..n]).and_then(|_| host_err.flush())
                };
            }
        }
    }
    Ok(())
}
