//! The per-container monitor (as conmon is for podman): a small process, started by
//! `start`/`run` and detached from the terminal, that owns one running container. It mounts
//! the overlay rootfs in a mount namespace of its own (so no mount outlives it), starts the
//! container through the runtime, writes the container's output to its log (Docker's
//! json-file format) and, when attached, to its own stdout/stderr, and records the exit code
//! and finish time when the container ends — whether or not any dokles command is waiting.
//! Its starter executes it from a sealed view of the dokles binary
//! ([`crate::runtime::exe_seal`]), since the container's init is forked from it; it refuses to
//! start a container otherwise.
//!
//! It talks to the process that started it over one pipe (fd 3): a first line saying whether
//! the container started, and, for attached runs, a last line with the exit code.
//!
//! It owns the container's input too — the pty master of a container with a terminal, the
//! stdin pipe of an interactive one — and relays between the container and the clients
//! attached through its socket ([`super::attach`]), so any later dokles command can attach
//! and detach. An interactive run starts the container only once its starter has attached.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

use anyhow::{Context, Result};
use chrono::Utc;
use nix::mount::{mount, MsFlags};
use nix::poll::{poll, PollFd, PollTimeout};
use nix::sched::{unshare, CloneFlags};
use serde::{Deserialize, Serialize};

use super::attach::{readiness, Hub, Input};
use super::logs::{LogWriter, Logging};
use super::record::{ContainerPaths, HostProcess, State, Status};
use super::spec::build_spec;
use super::store::{Container, ContainerError, ContainerStore};
use crate::events::{Event, Journal, Namespace, Overlay};
use crate::runtime::{self, exe_seal, PipeEnds, Stdio};

/// The descriptor the monitor reports on.
pub const REPORT_FD: i32 = 3;

/// What the monitor tells its starter.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "event", rename_all = "lowercase")]
pub enum Report {
    /// The attach socket listens; the container starts once the starter has attached.
    Listening,
    /// The container's process runs.
    Started,
    /// It could not start: Docker's message and exit code (125, 126, 127).
    Failed { message: String, code: i32 },
    /// It ended with this exit code.
    Exited { code: i32 },
}

/// Where an attached run's output goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttachMode {
    /// Nowhere but the log and the clients of the attach socket (a detached start).
    Detached,
    /// Also to the monitor's own stdout and stderr (`--attach`).
    Inherit,
    /// Through the attach socket: wait for the starter's connection, then start
    /// (`--attach-socket`).
    Socket,
}

/// Entry point of `dokles __monitor <root> <id> [--attach | --attach-socket]`.
pub fn main(store: &ContainerStore, id: &str, attach: AttachMode) -> i32 {
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

fn run(
    store: &ContainerStore,
    id: &str,
    attach: AttachMode,
    reporter: &mut Reporter,
) -> Result<()> {
    let c = store.get(id).map_err(|e| anyhow::anyhow!("{e}"))?;
    // The container's init is forked from us: we must not be the host's binary.
    if !exe_seal::current_exe_is_sealed() {
        anyhow::bail!(
            "the container's monitor does not run from a sealed copy of dokles (it is started by `docker start`, not by hand)"
        );
    }
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
    let overlay = mount_rootfs(store, &c)?;

    let mut hub = Hub::bind(&c.paths.dir)?;
    let mut size = None;
    if attach == AttachMode::Socket {
        reporter.send(&Report::Listening);
        // A starter that dies before attaching must not keep the container from starting.
        size = hub
            .wait_first(Duration::from_secs(10))?
            .and_then(|h| h.size);
    }

    let mut spec = build_spec(&c).map_err(|e| anyhow::anyhow!("{e:#}"))?;
    if let (Some(size), Some(process)) = (size.filter(|_| c.config.tty), spec.process_mut()) {
        process.set_console_size(Some(size.console_box()?));
    }
    let (stdio, pipes) = container_stdio(c.config.tty, c.config.open_stdin)?;
    let mut process = match runtime::spawn(&spec, &c.paths.merged(), stdio) {
        Ok(p) => p,
        Err(e) => {
            let code = e.docker_exit_code();
            let message = format!(
                "failed to create shim task: OCI runtime create failed: dokles runtime create failed: unable to start container process: {e}: unknown"
            );
            Journal::open(store.root()).emit(Event::ContainerStartFailed {
                id: c.config.id.to_string(),
                name: c.config.name.clone(),
                message: message.clone(),
                exit_code: code,
            });
            record_failed_start(store, &c, code, &message)?;
            reporter.send(&Report::Failed { message, code });
            return Ok(());
        }
    };
    let started = Utc::now();
    // Read the namespaces now: a container that ends at once leaves a zombie without any.
    let namespaces = created_namespaces(&spec, process.pid.as_raw());
    let journal = Journal::open(store.root());
    // Journaled before the state shows it, so whatever reacts to the state comes after.
    journal.emit(Event::ContainerStarted {
        id: c.config.id.to_string(),
        name: c.config.name.clone(),
        pid: process.pid.as_raw(),
        cmd: spec
            .process()
            .as_ref()
            .and_then(|p| p.args().clone())
            .unwrap_or_default(),
        namespaces,
        overlay,
        cgroups: process
            .cgroup()
            .map(|cg| cg.dirs().iter().map(|d| d.display().to_string()).collect())
            .unwrap_or_default(),
        hostname: spec.hostname().clone().unwrap_or_default(),
        tty: c.config.tty,
    });
    let recorded = store.lock().map_err(ContainerError::from).and_then(|lock| {
        let mut state = State::created();
        state.status = Status::Running;
        state.process = HostProcess::of(process.pid.as_raw());
        state.monitor = HostProcess::of(std::process::id() as i32);
        state.started_at = Some(started);
        store.save_state(&lock, &c.config.id, &state)
    });
    if let Err(e) = recorded {
        // Removed while starting (`rm -f` of a created container does not wait for a start):
        // a container nobody can see or stop must not run on.
        let _ = nix::sys::signal::kill(process.pid, nix::sys::signal::Signal::SIGKILL);
        let _ = process.wait();
        return Err(e.into());
    }
    reporter.send(&Report::Started);

    let mut log = match c.config.log_config.logging() {
        Ok(Logging::Discard) => None,
        Ok(Logging::JsonFile(rotation)) => {
            Some(LogWriter::open(&c.paths.log(&c.config.id), rotation)?)
        }
        // Checked before the monitor was started.
        Err(e) => anyhow::bail!("failed to initialize logging driver: {e}"),
    };
    shed_startup_pages();
    let streams = match (process.take_console(), pipes) {
        (Some(master), _) => Streams::terminal(master, c.config.open_stdin)?,
        (None, Some(p)) => Streams::pipes(p)?,
        (None, None) => anyhow::bail!("the runtime gave no terminal for a tty container"),
    };
    pump(
        streams,
        log.as_mut(),
        &mut hub,
        attach == AttachMode::Inherit,
    )?;
    // Read the OOM count while the cgroup still exists (waiting removes it).
    let oom = process.cgroup().is_some_and(|cg| cg.oom_killed());
    let status = process.wait().map_err(|e| anyhow::anyhow!("{e}"))?;
    let code = status.code();
    // Before the state shows the exit: a `stop` or `rm -f` waiting for it journals after.
    // (The name as it is now: the container may have been renamed while it ran.)
    let name = store
        .load(&c.config.id)
        .map(|now| now.config.name)
        .unwrap_or_else(|_| c.config.name.clone());
    journal.emit(Event::ContainerExited {
        id: c.config.id.to_string(),
        name: name.clone(),
        exit_code: code,
        oom_killed: oom,
    });
    let mut removed = None;
    {
        let lock = store.lock()?;
        let mut state: State = store.load_locked(&lock, &c.config.id)?.state;
        state.status = Status::Exited;
        state.exit_code = code;
        state.oom_killed = oom;
        state.process = None;
        state.monitor = None;
        state.finished_at = Some(Utc::now());
        store.save_state(&lock, &c.config.id, &state)?;
        if c.config.auto_remove {
            removed = Some(store.forget(&lock, &c.config.id)?);
        }
    }
    if c.config.auto_remove {
        journal.emit(Event::ContainerRemoved {
            id: c.config.id.to_string(),
            name,
        });
    }
    // The container is recorded (or, with --rm, gone): the waiting client may go on while
    // the slower unmount and directory removal finish here.
    reporter.send(&Report::Exited { code });
    hub.exit(code);
    drop(hub);
    match removed {
        // Its directory is in `tmp/` now, the overlay mounted there with it.
        Some(paths) => {
            unmount_rootfs(&paths);
            store.remove_files(&paths)?;
        }
        None => {
            let _ = std::fs::remove_file(c.paths.dir.join(super::attach::SOCKET));
            unmount_rootfs(&c.paths);
        }
    }
    Ok(())
}

fn record_failed_start(
    store: &ContainerStore,
    c: &Container,
    code: i32,
    message: &str,
) -> Result<()> {
    unmount_rootfs(&c.paths);
    let lock = store.lock()?;
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
        let removed = store.forget(&lock, &c.config.id)?;
        drop(lock);
        super::store::remove_stale_cgroup(&c.config);
        store.remove_files(&removed)?;
        Journal::open(store.root()).emit(Event::ContainerRemoved {
            id: c.config.id.to_string(),
            name: c.config.name.clone(),
        });
    }
    Ok(())
}

/// The namespaces the runtime created for the container: those of its spec without a path
/// to join, each with its inode from `/proc/<pid>/ns` when the process can still be seen.
fn created_namespaces(spec: &oci_spec::runtime::Spec, pid: i32) -> Vec<Namespace> {
    use oci_spec::runtime::LinuxNamespaceType as T;
    let listed = spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().clone())
        .unwrap_or_default();
    listed
        .iter()
        .filter(|n| n.path().is_none())
        .map(|n| {
            let kind = match n.typ() {
                T::Pid => "pid",
                T::Mount => "mnt",
                T::Uts => "uts",
                T::Ipc => "ipc",
                T::Network => "net",
                T::Cgroup => "cgroup",
                T::User => "user",
                T::Time => "time",
            };
            Namespace {
                kind: kind.to_string(),
                inode: namespace_inode(pid, kind),
            }
        })
        .collect()
}

/// The inode of `/proc/<pid>/ns/<kind>` (`net:[4026532281]`).
fn namespace_inode(pid: i32, kind: &str) -> Option<u64> {
    let link = std::fs::read_link(format!("/proc/{pid}/ns/{kind}")).ok()?;
    let text = link.to_str()?;
    text.strip_prefix(kind)?
        .strip_prefix(":[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// Mount the overlay: the image's layers (top first) below the container's own upper dir.
/// Returns what was mounted.
fn mount_rootfs(store: &ContainerStore, c: &Container) -> Result<Overlay> {
    let layers = crate::engine::image::ImageStore::open(store.root());
    let lowers: Vec<String> = c
        .config
        .layers
        .iter()
        .rev()
        .map(|l| layers.layers().diff_dir(l).display().to_string())
        .collect();
    let overlay = Overlay {
        lowerdirs: lowers,
        upperdir: c.paths.upper().display().to_string(),
        workdir: c.paths.work().display().to_string(),
        merged: c.paths.merged().display().to_string(),
    };
    let data = format!(
        "lowerdir={},upperdir={},workdir={}",
        overlay.lowerdirs.join(":"),
        overlay.upperdir,
        overlay.workdir
    );
    mount(
        Some("overlay"),
        &c.paths.merged(),
        Some("overlay"),
        MsFlags::empty(),
        Some(data.as_str()),
    )
    .with_context(|| format!("cannot mount the overlay rootfs of {}", c.config.id.short()))?;
    Ok(overlay)
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
fn unmount_rootfs(paths: &ContainerPaths) {
    let _ = nix::mount::umount2(&paths.merged(), nix::mount::MntFlags::MNT_DETACH);
}

/// The stdio to hand the runtime: with a terminal the runtime puts the pty on 0, 1 and 2;
/// without one, pipes for stdout and stderr and, when interactive, for stdin.
fn container_stdio(tty: bool, open_stdin: bool) -> Result<(Stdio, Option<PipeEnds>)> {
    if tty {
        return Ok((Stdio::null(), None));
    }
    let (stdio, ends) = Stdio::pipes(open_stdin).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok((stdio, Some(ends)))
}

fn set_nonblocking(fd: &impl AsRawFd) -> Result<()> {
    use nix::fcntl::{fcntl, FcntlArg, OFlag};
    let flags = OFlag::from_bits_truncate(fcntl(fd.as_raw_fd(), FcntlArg::F_GETFL)?);
    fcntl(fd.as_raw_fd(), FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK))?;
    Ok(())
}

/// The container's input as the monitor feeds it: bytes waiting to be written (the
/// descriptor is non-blocking, so a container that does not read cannot stall its output).
struct StdinSink {
    file: File,
    pending: Vec<u8>,
    /// Close once `pending` is written (a client closed stdin; pipes only).
    closing: bool,
}

/// Stop reading clients while this much input waits for the container.
const STDIN_BACKLOG: usize = 64 * 1024;

/// The container's side of the relay.
struct Streams {
    /// stdout (or the pty master), stderr.
    outputs: [Option<File>; 2],
    stdin: Option<StdinSink>,
    /// The pty master, for resizes.
    terminal: Option<File>,
}

impl Streams {
    fn terminal(master: OwnedFd, open_stdin: bool) -> Result<Self> {
        set_nonblocking(&master).context("cannot make the terminal non-blocking")?;
        let master = File::from(master);
        let dup = |f: &File| f.try_clone().context("cannot share the terminal");
        Ok(Self {
            stdin: if open_stdin {
                Some(StdinSink {
                    file: dup(&master)?,
                    pending: Vec::new(),
                    closing: false,
                })
            } else {
                None
            },
            terminal: Some(dup(&master)?),
            outputs: [Some(master), None],
        })
    }

    fn pipes(p: PipeEnds) -> Result<Self> {
        let stdin = match p.stdin {
            Some(w) => {
                set_nonblocking(&w).context("cannot make the stdin pipe non-blocking")?;
                Some(StdinSink {
                    file: File::from(w),
                    pending: Vec::new(),
                    closing: false,
                })
            }
            None => None,
        };
        Ok(Self {
            outputs: [Some(File::from(p.stdout)), Some(File::from(p.stderr))],
            stdin,
            terminal: None,
        })
    }

    fn take_input(&mut self, input: Input) {
        match input {
            Input::Stdin(data) => {
                if let Some(s) = self.stdin.as_mut().filter(|s| !s.closing) {
                    s.pending.extend_from_slice(&data);
                }
            }
            Input::CloseStdin => {
                // A terminal stays: other clients may still type into it.
                if self.terminal.is_none() {
                    if let Some(s) = self.stdin.as_mut() {
                        s.closing = true;
                    }
                }
            }
            Input::Resize(size) => {
                if let Some(t) = &self.terminal {
                    size.apply(t);
                }
            }
        }
    }

    /// Write what waits for the container's stdin, as far as it takes it.
    fn flush_stdin(&mut self) {
        let Some(s) = self.stdin.as_mut() else {
            return;
        };
        while !s.pending.is_empty() {
            match s.file.write(&s.pending) {
                Ok(n) => {
                    s.pending.drain(..n);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
                Err(_) => {
                    // The container closed its stdin: input has nowhere to go.
                    s.pending.clear();
                    s.closing = true;
                }
            }
        }
        if s.closing {
            self.stdin = None;
        }
    }
}

/// Relay until the container's output is closed: its stdout and stderr (or terminal) into
/// the log, to the attached clients and, with `inherit`, to our own stdout/stderr; the
/// clients' input to the container.
fn pump(
    mut streams: Streams,
    mut log: Option<&mut LogWriter>,
    hub: &mut Hub,
    inherit: bool,
) -> Result<()> {
    use nix::poll::PollFlags;
    let mut buf = vec![0u8; 32 * 1024];
    let mut host_out = std::io::stdout();
    let mut host_err = std::io::stderr();
    while streams.outputs.iter().any(Option::is_some) {
        let backlog = streams.stdin.as_ref().map_or(0, |s| s.pending.len());
        let mut fds = Vec::new();
        let mut slots = Vec::new();
        for (i, s) in streams.outputs.iter().enumerate() {
            if let Some(f) = s {
                fds.push(PollFd::new(f.as_fd(), PollFlags::POLLIN));
                slots.push(Some(i));
            }
        }
        if let Some(s) = streams.stdin.as_ref().filter(|s| !s.pending.is_empty()) {
            fds.push(PollFd::new(s.file.as_fd(), PollFlags::POLLOUT));
            slots.push(None);
        }
        let ours = fds.len();
        fds.extend(hub.poll_fds(backlog < STDIN_BACKLOG));
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e).context("poll"),
        }
        let ready = readiness(&fds);
        drop(fds);
        for (k, slot) in slots.iter().enumerate() {
            if !ready[k] {
                continue;
            }
            let Some(i) = *slot else {
                continue;
            };
            let Some(f) = streams.outputs[i].as_mut() else {
                continue;
            };
            let n = match f.read(&mut buf) {
                Ok(n) => n,
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::Interrupted | std::io::ErrorKind::WouldBlock
                    ) =>
                {
                    continue
                }
                // EIO on a pty master: every slave descriptor is closed.
                Err(_) => 0,
            };
            let stream = if i == 0 { "stdout" } else { "stderr" };
            // A log that cannot be written (a full disk) loses those lines, as Docker's
            // driver does; the container and its attached clients go on.
            if n == 0 {
                if let Some(log) = log.as_deref_mut() {
                    let _ = log.finish(stream);
                }
                streams.outputs[i] = None;
                continue;
            }
            if let Some(log) = log.as_deref_mut() {
                let _ = log.write(stream, &buf[..n]);
            }
            hub.broadcast(i == 1, &buf[..n]);
            if inherit {
                // The attached client may be gone; the log still gets everything.
                let _ = if i == 0 {
                    host_out.write_all(&buf[..n]).and_then(|_| host_out.flush())
                } else {
                    host_err.write_all(&buf[..n]).and_then(|_| host_err.flush())
                };
            }
        }
        for input in hub.handle(&ready[ours..]) {
            streams.take_input(input);
        }
        streams.flush_stdin();
    }
    Ok(())
}
