//! The container lifecycle: create, start (through a monitor), attach, stop, kill, remove,
//! wait.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use chrono::Utc;
use nix::sys::signal::{kill as send_signal, SigSet, Signal};
use nix::unistd::Pid;
use serde_json::Value;

use super::attach::{Hello, Session};
use super::logs::LogConfig;
use super::monitor::{Report, REPORT_FD};
use super::names::{random_name, valid_name};
use super::record::{ContainerConfig, ContainerId};
use super::spec::{normalize_capabilities, write_etc_files};
use super::store::{remove_stale_cgroup, ContainerError, ContainerStore};
use crate::engine::image::{Image, ImageStore};
use crate::events::{Event, FreezerWrite, Journal};
use crate::runtime::exe_seal::SealedExe;

/// What `docker create`/`run` asked for.
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    /// The image as the user named it.
    pub image_name: String,
    pub name: Option<String>,
    /// Replaces the image's Cmd when given.
    pub cmd: Option<Vec<String>>,
    /// Replaces the image's Entrypoint (and drops its Cmd) when given; "" clears it.
    pub entrypoint: Option<String>,
    pub env: Vec<String>,
    pub working_dir: Option<String>,
    pub user: Option<String>,
    pub hostname: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub tty: bool,
    pub open_stdin: bool,
    /// `run -d`: no client attaches.
    pub detach: bool,
    pub auto_remove: bool,
    pub privileged: bool,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub security_opt: Vec<String>,
    /// `--init`: `None` when not given.
    pub init: Option<bool>,
    pub memory: i64,
    /// Memory plus swap (`--memory-swap`); 0 = not given, -1 = unlimited.
    pub memory_swap: i64,
    pub cpu_shares: i64,
    pub cpuset_cpus: String,
    pub nano_cpus: i64,
    pub pids_limit: i64,
    pub ulimits: Vec<super::record::Ulimit>,
    /// The cgroup to make the container's cgroup in (empty: `/dokles`).
    pub cgroup_parent: String,
    /// `--log-driver` and `--log-opt`.
    pub log_config: LogConfig,
}

fn string_list(v: Option<&Value>) -> Option<Vec<String>> {
    v.and_then(Value::as_array).map(|a| {
        a.iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect()
    })
}

/// Create a container from `image` (already resolved and present).
pub fn create(
    store: &ContainerStore,
    image: &Image,
    opts: &CreateOptions,
) -> Result<ContainerId, ContainerError> {
    let runtime = image
        .config
        .runtime_config()
        .cloned()
        .unwrap_or(Value::Null);
    let image_entrypoint = string_list(runtime.get("Entrypoint"));
    let image_cmd = string_list(runtime.get("Cmd"));
    let entrypoint = match &opts.entrypoint {
        Some(e) if e.is_empty() => None,
        Some(e) => Some(vec![e.clone()]),
        None => image_entrypoint,
    };
    let cmd = match (&opts.cmd, &opts.entrypoint) {
        (Some(c), _) if !c.is_empty() => Some(c.clone()),
        (_, Some(_)) => None,
        _ => image_cmd,
    };
    let mut argv: Vec<String> = entrypoint.clone().unwrap_or_default();
    argv.extend(cmd.clone().unwrap_or_default());
    let Some((path, args)) = argv.split_first() else {
        return Err(ContainerError::Start {
            message: "No command specified".into(),
            code: 125,
        });
    };
    let mut env: Vec<String> = string_list(runtime.get("Env")).unwrap_or_default();
    for e in &opts.env {
        let key = e.split_once('=').map(|(k, _)| k).unwrap_or(e);
        env.retain(|x| x.split_once('=').map(|(k, _)| k).unwrap_or(x) != key);
        env.push(e.clone());
    }
    let mut labels: BTreeMap<String, String> = runtime
        .get("Labels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                .collect()
        })
        .unwrap_or_default();
    labels.extend(opts.labels.clone());

    let invalid = |message: String| ContainerError::Start { message, code: 125 };
    if let Some(dir) = opts.working_dir.as_deref() {
        if !dir.is_empty() && !dir.starts_with('/') {
            return Err(invalid(format!(
                "the working directory '{dir}' is invalid, it needs to be an absolute path"
            )));
        }
    }
    check_security_opts(&opts.security_opt).map_err(invalid)?;
    opts.log_config.check_for_create().map_err(invalid)?;
    let cap_add = normalize_capabilities(&opts.cap_add, "CapAdd").map_err(invalid)?;
    let cap_drop = normalize_capabilities(&opts.cap_drop, "CapDrop").map_err(invalid)?;

    let id = ContainerId::generate().context("cannot generate a container ID")?;
    let lock = store.lock()?;
    let name = match &opts.name {
        Some(n) => {
            let n = n.strip_prefix('/').unwrap_or(n).to_string();
            if !valid_name(&n) {
                return Err(ContainerError::InvalidName(n));
            }
            if let Some(other) = store.find_name(&lock, &n)? {
                return Err(ContainerError::NameInUse { name: n, id: other });
            }
            n
        }
        None => {
            let mut retry = 0;
            loop {
                let n = random_name(retry);
                if store.find_name(&lock, &n)?.is_none() {
                    break n;
                }
                retry += 1;
            }
        }
    };
    let hostname = opts
        .hostname
        .clone()
        .unwrap_or_else(|| id.short().to_string());
    let config = ContainerConfig {
        id: id.clone(),
        name,
        created: Utc::now(),
        image_name: opts.image_name.clone(),
        image_id: image.id.clone(),
        layers: image.chain.clone(),
        path: path.clone(),
        args: args.to_vec(),
        cmd,
        entrypoint,
        env,
        working_dir: opts.working_dir.clone().unwrap_or_else(|| {
            runtime
                .get("WorkingDir")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        }),
        user: opts.user.clone().unwrap_or_else(|| {
            runtime
                .get("User")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        }),
        hostname: hostname.clone(),
        labels,
        tty: opts.tty,
        open_stdin: opts.open_stdin,
        attached: !opts.detach,
        auto_remove: opts.auto_remove,
        privileged: opts.privileged,
        cap_add,
        cap_drop,
        security_opt: opts.security_opt.clone(),
        init: opts.init.unwrap_or(false),
        init_given: opts.init.is_some(),
        memory: opts.memory,
        memory_swap: opts.memory_swap,
        cpu_shares: opts.cpu_shares,
        cpuset_cpus: opts.cpuset_cpus.clone(),
        nano_cpus: opts.nano_cpus,
        pids_limit: opts.pids_limit,
        ulimits: opts.ulimits.clone(),
        cgroup_parent: opts.cgroup_parent.clone(),
        cgroupns_mode: match crate::runtime::cgroups::version() {
            Ok(crate::runtime::cgroups::Version::V2) => "private".into(),
            _ => "host".into(),
        },
        log_config: opts.log_config.clone(),
        image_config: runtime,
    };
    // Built in staging and renamed into place whole: a kill before that leaves only staging
    // and at most a pin without its container, both cleaned up by the next writer.
    let staged = store.stage(&lock, &config)?;
    write_etc_files(&staged.paths(), &hostname)?;
    let images = ImageStore::open(store.root());
    images.pin(&lock, id.as_str(), &image.chain)?;
    // The first container of an image unpacks its layers (see `engine::image::unpacked`).
    if let Err(e) = images.unpack_layers(&lock, &image.chain) {
        // Clean-up is best effort: the unpacking error is what the user must see.
        let _ = images.unpin(&lock, id.as_str());
        return Err(e.into());
    }
    store.insert(&lock, staged)?;
    drop(lock);
    Journal::open(store.root()).emit(Event::ContainerCreated {
        id: id.to_string(),
        name: config.name,
        image: config.image_name,
        image_id: config.image_id.to_string(),
        cmd: argv,
    });
    Ok(id)
}

/// The daemon's check of `--security-opt`: the options it knows (`label`, `apparmor`,
/// `seccomp`, `no-new-privileges[=bool]`), with Docker's messages for the others.
fn check_security_opts(opts: &[String]) -> Result<(), String> {
    for opt in opts {
        if opt == "no-new-privileges" || opt == "disable" {
            continue;
        }
        let Some((key, value)) = opt.split_once('=').or_else(|| opt.split_once(':')) else {
            return Err(format!("invalid --security-opt 1: {opt:?}"));
        };
        let known = match key {
            "label" | "apparmor" | "seccomp" => true,
            "no-new-privileges" => super::spec::parse_go_bool(value).is_some(),
            _ => false,
        };
        if !known {
            return Err(format!("invalid --security-opt 2: {opt:?}"));
        }
    }
    Ok(())
}

/// A started container whose monitor reports its exit to us (attached runs).
pub struct Attached {
    child: Child,
    reports: BufReader<std::fs::File>,
    store: ContainerStore,
    id: ContainerId,
    /// Blocked since before the monitor started, so none is lost before [`Attached::wait`].
    signals: SigSet,
}

/// The signals an attached client passes on to its container, as Docker's `--sig-proxy`
/// (on by default) does: Ctrl-C on `docker run` interrupts the container, not just the
/// client.
const PROXIED_SIGNALS: [Signal; 7] = [
    Signal::SIGHUP,
    Signal::SIGINT,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGALRM,
    Signal::SIGTERM,
];

/// Block [`PROXIED_SIGNALS`] in this thread (and so in threads it starts): they wait, pending,
/// for [`proxy_signals`]. (The monitor unblocks them before it runs: see [`start`].)
fn block_proxied_signals() -> Result<SigSet> {
    let mut set = SigSet::empty();
    for s in PROXIED_SIGNALS {
        set.add(s);
    }
    set.thread_block()
        .context("cannot block signals to forward them")?;
    Ok(set)
}

/// Forward each blocked signal received to the container from a thread of its own, until the
/// process exits.
fn proxy_signals(set: SigSet, store: ContainerStore, id: ContainerId) -> Result<()> {
    std::thread::Builder::new()
        .name("sig-proxy".into())
        .spawn(move || {
            while let Ok(signal) = set.wait() {
                // The container may have just ended; there is nobody left to tell.
                let _ = kill(&store, &id, signal);
            }
        })
        .context("cannot start the signal proxy")?;
    Ok(())
}

impl Attached {
    /// Wait for the container to end, passing on the signals we get; its exit code. The
    /// monitor may still be cleaning up (unmounting, `--rm`) when this returns.
    pub fn wait(mut self) -> Result<i32> {
        proxy_signals(self.signals, self.store.clone(), self.id.clone())?;
        let mut line = String::new();
        loop {
            line.clear();
            if self
                .reports
                .read_line(&mut line)
                .context("cannot read from the monitor")?
                == 0
            {
                let _ = self.child.wait();
                anyhow::bail!("the container's monitor ended without reporting an exit code");
            }
            if let Ok(Report::Exited { code }) = serde_json::from_str(line.trim()) {
                return Ok(code);
            }
        }
    }
}

/// Start container `id` with a new monitor. With `attach`, the container's output goes to
/// our stdout/stderr too and the returned handle waits for its exit code.
pub fn start(
    store: &ContainerStore,
    id: &ContainerId,
    attach: bool,
) -> Result<Option<Attached>, ContainerError> {
    let c = store.load(id)?;
    if c.state.is_running() {
        return Ok(None);
    }
    check_logging(store, &c)?;
    // Signals to pass on are blocked before the monitor starts, so none is lost.
    let signals = if attach {
        Some(block_proxied_signals()?)
    } else {
        None
    };
    let (child, mut reports) = spawn_monitor(store, id, attach.then_some("--attach"))?;
    match next_report(&mut reports)? {
        Some(Report::Started) => Ok(signals.map(|signals| Attached {
            child,
            reports,
            store: store.clone(),
            id: id.clone(),
            signals,
        })),
        other => Err(start_failure(other)),
    }
}

/// Start container `id` with a new monitor and attach to it through its socket before the
/// container's process starts, so that nothing it prints is missed (`run -i`/`-t`,
/// `start -a` of such a container). `None` if it already runs.
pub fn start_attached(
    store: &ContainerStore,
    id: &ContainerId,
    hello: Hello,
) -> Result<Option<Session>, ContainerError> {
    let c = store.load(id)?;
    if c.state.is_running() {
        return Ok(None);
    }
    check_logging(store, &c)?;
    let (_child, mut reports) = spawn_monitor(store, id, Some("--attach-socket"))?;
    match next_report(&mut reports)? {
        Some(Report::Listening) => {}
        other => return Err(start_failure(other)),
    }
    let session = Session::connect(&c.paths.dir, hello)?;
    match next_report(&mut reports)? {
        // The monitor goes on alone: it records the exit whether or not we still listen.
        Some(Report::Started) => Ok(Some(session)),
        other => Err(start_failure(other)),
    }
}

/// Attach to running container `id` through its monitor's socket.
pub fn attach(
    store: &ContainerStore,
    id: &ContainerId,
    hello: Hello,
) -> Result<Session, ContainerError> {
    let c = store.load(id)?;
    let session = Session::connect(&c.paths.dir, hello)?;
    Journal::open(store.root()).emit(Event::ContainerAttached {
        id: id.to_string(),
        name: c.config.name,
    });
    Ok(session)
}

/// The logging driver's checks of its options as the container starts (Docker's
/// `StartLogger`): a container whose log options the driver refuses does not start; its
/// state keeps the reason and exit code 128, as Docker records it.
fn check_logging(
    store: &ContainerStore,
    c: &super::store::Container,
) -> Result<(), ContainerError> {
    let Err(reason) = c.config.log_config.logging() else {
        return Ok(());
    };
    let message = format!("failed to initialize logging driver: {reason}");
    const EXIT_CODE: i32 = 128;
    {
        let lock = store.root().lock()?;
        let mut state = store.load(&c.config.id)?.state;
        state.error = message.clone();
        state.exit_code = EXIT_CODE;
        store.save_state(&lock, &c.config.id, &state)?;
    }
    Journal::open(store.root()).emit(Event::ContainerStartFailed {
        id: c.config.id.to_string(),
        name: c.config.name.clone(),
        message: message.clone(),
        exit_code: EXIT_CODE,
    });
    Err(ContainerError::Start { message, code: 125 })
}

fn spawn_monitor(
    store: &ContainerStore,
    id: &ContainerId,
    flag: Option<&str>,
) -> Result<(Child, BufReader<std::fs::File>), ContainerError> {
    let (report_r, report_w) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).context("cannot create a pipe")?;
    // The container's init is forked from the monitor: the monitor runs from a sealed view
    // of dokles, so that no container process is ever the host's binary (CVE-2019-5736).
    let exe = SealedExe::of_current_exe(&store.root().exe_seal_scratch())
        .context("cannot seal the dokles binary for the container's monitor")?;
    let arg0 = std::env::current_exe().unwrap_or_else(|_| "dokles".into());
    let mut cmd = exe.command(arg0);
    cmd.arg("__monitor")
        .arg("--root")
        .arg(store.root().path())
        .arg(id.as_str());
    match flag {
        Some("--attach") => {
            cmd.arg("--attach");
        }
        Some(f) => {
            cmd.arg(f).stdout(Stdio::null()).stderr(Stdio::null());
        }
        None => {
            cmd.stdout(Stdio::null()).stderr(Stdio::null());
        }
    }
    cmd.stdin(Stdio::null());
    let w = report_w.as_raw_fd();
    // SAFETY: between fork and exec only async-signal-safe calls: sigprocmask, setsid, dup2.
    unsafe {
        cmd.pre_exec(move || {
            // A signal mask survives exec: the monitor, and so the container, must not
            // inherit the signals an attached client blocks for its proxy.
            let mut none = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
            libc::sigemptyset(none.as_mut_ptr());
            if libc::pthread_sigmask(libc::SIG_SETMASK, none.as_ptr(), std::ptr::null_mut()) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            nix::unistd::setsid().map_err(std::io::Error::from)?;
            if libc::dup2(w, REPORT_FD) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = cmd
        .spawn()
        .context("cannot start the container's monitor")?;
    drop(report_w);
    Ok((child, BufReader::new(std::fs::File::from(report_r))))
}

/// The monitor's next report; a monitor that died says nothing.
fn next_report(reports: &mut BufReader<std::fs::File>) -> Result<Option<Report>, ContainerError> {
    let mut line = String::new();
    reports
        .read_line(&mut line)
        .context("cannot read from the monitor")?;
    Ok(serde_json::from_str::<Report>(line.trim()).ok())
}

fn start_failure(report: Option<Report>) -> ContainerError {
    match report {
        Some(Report::Failed { message, code }) => ContainerError::Start { message, code },
        _ => ContainerError::Start {
            message: "the container's monitor died while starting the container".into(),
            code: 125,
        },
    }
}

/// Journal that a client detached from container `id` with the detach keys.
pub fn detached(store: &ContainerStore, id: &ContainerId) {
    if let Ok(c) = store.load(id) {
        Journal::open(store.root()).emit(Event::ContainerDetached {
            id: id.to_string(),
            name: c.config.name,
        });
    }
}

/// Send `signal` to a running container's init (`docker kill`, a proxied signal).
pub fn kill(
    store: &ContainerStore,
    id: &ContainerId,
    signal: Signal,
) -> Result<(), ContainerError> {
    let name = send(store, id, signal)?;
    Journal::open(store.root()).emit(Event::ContainerKilled {
        id: id.to_string(),
        name,
        signal: signal.as_str().to_string(),
    });
    Ok(())
}

/// Send `signal` to a running container's init; its name.
fn send(
    store: &ContainerStore,
    id: &ContainerId,
    signal: Signal,
) -> Result<String, ContainerError> {
    let c = store.load(id)?;
    let Some(p) = c.state.process.filter(|_| c.state.is_running()) else {
        return Err(ContainerError::NotRunning(id.clone()));
    };
    if p.alive() {
        send_signal(Pid::from_raw(p.pid), signal).context("cannot signal the container")?;
        // Frozen processes act on signals only once thawed.
        if c.state.status == super::record::Status::Paused {
            thaw(&c)?;
            set_status(store, id, super::record::Status::Running)?;
        }
    }
    Ok(c.config.name)
}

/// Wait until the container is no longer running (its monitor has recorded the exit), up to
/// `timeout`; `true` if it stopped.
pub fn wait_stopped(
    store: &ContainerStore,
    id: &ContainerId,
    timeout: Option<Duration>,
) -> Result<bool> {
    let deadline = timeout.map(|t| Instant::now() + t);
    loop {
        match store.load(id) {
            Ok(c) if c.state.is_running() => {}
            _ => return Ok(true),
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Ok(false);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// `docker stop`: `signal` (by default the image's stop signal, or SIGTERM), then SIGKILL
/// after `timeout` (`None`: wait for ever).
pub fn stop(
    store: &ContainerStore,
    id: &ContainerId,
    timeout: Option<Duration>,
    signal: Option<Signal>,
) -> Result<(), ContainerError> {
    let c = store.load(id)?;
    if !c.state.is_running() {
        return Ok(());
    }
    let signal = signal.unwrap_or_else(|| {
        c.config
            .image_config
            .get("StopSignal")
            .and_then(Value::as_str)
            .and_then(parse_signal)
            .unwrap_or(Signal::SIGTERM)
    });
    mark_stopped_by_user(store, id)?;
    match send(store, id, signal) {
        Ok(_) | Err(ContainerError::NotRunning(_)) => {}
        Err(e) => return Err(e),
    }
    let killed = !wait_stopped(store, id, timeout)?;
    if killed {
        match send(store, id, Signal::SIGKILL) {
            Ok(_) | Err(ContainerError::NotRunning(_)) => {}
            Err(e) => return Err(e),
        }
        wait_stopped(store, id, None)?;
    }
    Journal::open(store.root()).emit(Event::ContainerStopped {
        id: id.to_string(),
        name: c.config.name,
        signal: signal.as_str().to_string(),
        killed,
    });
    Ok(())
}

fn mark_stopped_by_user(store: &ContainerStore, id: &ContainerId) -> Result<(), ContainerError> {
    let lock = store.lock()?;
    let mut c = store.load_locked(&lock, id)?;
    c.state.stopped_by_user = true;
    store.save_state(&lock, id, &c.state)
}

/// `docker rm`: refuse a running container unless `force`, which kills it first. A damaged
/// container is removed too (what still runs of it is killed first, with `force`).
pub fn remove(store: &ContainerStore, id: &ContainerId, force: bool) -> Result<(), ContainerError> {
    loop {
        let config = match store.load(id) {
            Ok(c) => {
                if c.state.is_running() {
                    if !force {
                        return Err(ContainerError::RemoveRunning(id.clone()));
                    }
                    match send(store, id, Signal::SIGKILL) {
                        Ok(_) | Err(ContainerError::NotRunning(_)) => {}
                        Err(e) => return Err(e),
                    }
                    wait_stopped(store, id, None)?;
                }
                Some(c.config)
            }
            Err(ContainerError::Damaged(d)) => {
                let remains = d.remains(store.root());
                if !remains.is_empty() {
                    if !force {
                        return Err(ContainerError::RemoveRunning(id.clone()));
                    }
                    remains.stop(Duration::from_secs(10));
                }
                d.config
            }
            Err(e) => return Err(e),
        };
        let lock = store.lock()?;
        // Under the lock: removed by someone else meanwhile, or started again?
        match store.load_locked(&lock, id) {
            Ok(c) if c.state.is_running() => {
                drop(lock);
                if !force {
                    return Err(ContainerError::RemoveRunning(id.clone()));
                }
                continue;
            }
            Ok(_) | Err(ContainerError::Damaged(_)) => {}
            Err(e) => return Err(e),
        }
        let removed = store.forget(&lock, id)?;
        drop(lock);
        if let Some(config) = &config {
            remove_stale_cgroup(config);
        }
        store.remove_files(&removed)?;
        Journal::open(store.root()).emit(Event::ContainerRemoved {
            id: id.to_string(),
            name: config.map(|c| c.name).unwrap_or_default(),
        });
        return Ok(());
    }
}

/// Signal names and numbers as `docker kill -s` takes them (`KILL`, `SIGKILL`, `9`).
pub fn parse_signal(s: &str) -> Option<Signal> {
    if let Ok(n) = s.parse::<i32>() {
        return Signal::try_from(n).ok();
    }
    let upper = s.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    name.parse::<Signal>().ok()
}

/// `docker pause`: freeze every process of the container (cgroup freezer).
pub fn pause(store: &ContainerStore, id: &ContainerId) -> Result<(), ContainerError> {
    let c = store.load(id)?;
    let Some(p) = c.state.process.filter(|_| c.state.is_running()) else {
        return Err(ContainerError::NotRunning(id.clone()));
    };
    if c.state.status == super::record::Status::Paused {
        return Err(ContainerError::Other(anyhow::anyhow!(
            "Container {id} is already paused"
        )));
    }
    let cg = crate::runtime::Cgroup::of_process(Pid::from_raw(p.pid))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    cg.freeze().map_err(|e| anyhow::anyhow!("{e}"))?;
    set_status(store, id, super::record::Status::Paused)?;
    let f = cg.freezer_file();
    Journal::open(store.root()).emit(Event::ContainerPaused {
        id: id.to_string(),
        name: c.config.name,
        freezer: Some(FreezerWrite {
            file: f.path.display().to_string(),
            value: f.frozen.to_string(),
        }),
    });
    Ok(())
}

/// `docker unpause`.
pub fn unpause(store: &ContainerStore, id: &ContainerId) -> Result<(), ContainerError> {
    let c = store.load(id)?;
    if c.state.status != super::record::Status::Paused {
        return Err(ContainerError::Other(anyhow::anyhow!(
            "Container {id} is not paused"
        )));
    }
    let freezer = thaw(&c)?.map(|f| FreezerWrite {
        file: f.path.display().to_string(),
        value: f.thawed.to_string(),
    });
    set_status(store, id, super::record::Status::Running)?;
    Journal::open(store.root()).emit(Event::ContainerUnpaused {
        id: id.to_string(),
        name: c.config.name,
        freezer,
    });
    Ok(())
}

/// Thaw the container's cgroup; the freezer file written, if it runs.
fn thaw(
    c: &super::store::Container,
) -> Result<Option<crate::runtime::cgroups::FreezerFile>, ContainerError> {
    let Some(p) = c.state.process else {
        return Ok(None);
    };
    let cg = crate::runtime::Cgroup::of_process(Pid::from_raw(p.pid))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    cg.thaw().map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(Some(cg.freezer_file()))
}

fn set_status(
    store: &ContainerStore,
    id: &ContainerId,
    status: super::record::Status,
) -> Result<(), ContainerError> {
    let lock = store.lock()?;
    let mut c = store.load_locked(&lock, id)?;
    if c.state.is_running() {
        c.state.status = status;
        store.save_state(&lock, id, &c.state)?;
    }
    Ok(())
}
