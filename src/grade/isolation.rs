//! One submission's isolated world. The grader (on the host) makes the submission's
//! cgroups and starts `dokles __nakijken-wereld`, which joins them and unshares mount,
//! cgroup, network, UTS, IPC and PID namespaces; its first child is the world's init (PID 1):
//! it builds the world's filesystem and enters it with `pivot_root` ([`view`]), brings up
//! loopback, drops capabilities the engine never needs from the bounding set and installs a
//! seccomp filter against remounting ([`confine`]), then forks the judge. The judge grades
//! (or replays) in there — the engine's PIDs, paths and cgroups are the world's own, as the
//! submission's `docker` sees them — and sends its results to the grader as JSON lines.
//! When the judge is done, everything in the world's cgroups is killed ([`group`]), which
//! also ends the PID namespace; the mounts vanish with the mount namespace.
//!
//! What the submission can reach, and what not, is written down in docs/GRADING.md
//! ("Isolation"); tests/grade_isolation.rs attacks each point as a submission.
//!
//! ```text
//! grader (host) ── dokles __nakijken-wereld (helper: host PID namespace, world's others)
//!                     └── init (PID 1 of the world: builds it, reaps orphans)
//!                           └── judge (PID 2: Session, checks, Shell)
//!                                 └── /bin/sh -c <line> … docker, monitors, containers
//! ```

mod confine;
mod group;
mod view;

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use self::group::{Group, Hierarchy};
use crate::lesson::replay::Sandbox;
use crate::lesson::shell::Shell;
use crate::runtime::Cgroup;

/// The hidden subcommand that starts a world (`dokles __nakijken-wereld`).
pub const HELPER: &str = "__nakijken-wereld";

/// What one submission may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Size of its filesystem (state root, images, containers' files, working directory,
    /// /tmp, /run, /root, /dev/shm).
    pub disk_bytes: u64,
    /// Processes and threads at once: its shell lines, monitors and containers together
    /// (and the world's init and judge).
    pub pids: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            disk_bytes: 2 << 30,
            pids: 512,
        }
    }
}

/// What the world's init needs to build the world.
#[derive(Debug, Serialize, Deserialize)]
struct Setup {
    disk_bytes: u64,
    hierarchies: Vec<Hierarchy>,
    /// The cgroup every line joins, from the cgroup namespace's root.
    lines: PathBuf,
    /// Host paths shown read-only at the same path (the binary, its image cache).
    expose: Vec<PathBuf>,
    exe: PathBuf,
}

/// What the grader writes to the helper's stdin.
#[derive(Debug, Serialize, Deserialize)]
struct Request<J> {
    setup: Setup,
    job: J,
}

/// One line the judge (or the init, failing) writes to the grader.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Envelope<M> {
    Message(M),
    /// The job is finished: the world may be torn down.
    Done,
    /// The world could not be made, or the job failed (Dutch, for the report).
    Failed(String),
}

/// Run `job` in a world of its own, handing each message the judge sends to `on_message`.
/// At `deadline` (if any) the world is killed. An error says, in Dutch, why there is no
/// (complete) result.
pub fn run<J: Serialize, M: DeserializeOwned>(
    limits: Limits,
    job: &J,
    deadline: Option<Instant>,
    mut on_message: impl FnMut(M),
) -> Result<()> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let unique = format!(
        "{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    );
    let unmade = |e: anyhow::Error| anyhow!("kon geen afgeschermde omgeving maken: {e:#}");
    let group = Group::create(&unique, limits.pids).map_err(unmade)?;
    let exe = std::env::current_exe()
        .context("locating the dokles executable")
        .map_err(unmade)?;
    let images = image_dirs();
    let mut expose = vec![exe.clone()];
    expose.extend(images.iter().cloned());
    let request = serde_json::to_vec(&Request {
        setup: Setup {
            disk_bytes: limits.disk_bytes,
            hierarchies: group.hierarchies().to_vec(),
            lines: group.lines().to_path_buf(),
            expose,
            exe: exe.clone(),
        },
        job,
    })
    .context("encoding the job")?;

    let mut cmd = Command::new(&exe);
    cmd.arg(HELPER)
        .env_clear()
        .envs(world_env(&images))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: between fork and exec only prctl(2), async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            // If this thread of the grader goes, its world goes with it.
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().context("starting the world").map_err(unmade)?;
    let stdin = child.stdin.take();
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    // The request is small; the helper reads all of it before doing anything else. If it
    // died first, its stdout says why (or ends), and the world is torn down as always.
    if let Some(mut stdin) = stdin {
        let _ = stdin.write_all(&request);
    }
    let relay = stderr.map(|e| std::thread::spawn(move || relay_stderr(e)));
    let (tx, rx) = mpsc::channel::<String>();
    if let Some(stdout) = stdout {
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
    }
    let outcome = receive(&rx, deadline, &mut on_message);
    // Kill the world (its init and judge live in the world's cgroup too). The helper, our
    // child, reaps the init once the kernel has reaped the rest of the PID namespace.
    group.kill_all(Some(child.id()));
    let reaped = Instant::now() + Duration::from_secs(10);
    while matches!(child.try_wait(), Ok(None)) && Instant::now() < reaped {
        std::thread::sleep(Duration::from_millis(2));
    }
    let _ = child.kill();
    let _ = child.wait();
    drop(group);
    if let Some(relay) = relay {
        let _ = relay.join();
    }
    outcome
}

/// Hand the judge's messages to `on_message` until it is done, fails, goes silent for
/// good (it died) or `deadline` passes.
fn receive<M: DeserializeOwned>(
    rx: &mpsc::Receiver<String>,
    deadline: Option<Instant>,
    on_message: &mut impl FnMut(M),
) -> Result<()> {
    loop {
        let received = match deadline {
            Some(d) => rx.recv_timeout(d.saturating_duration_since(Instant::now())),
            None => rx.recv().map_err(|_| mpsc::RecvTimeoutError::Disconnected),
        };
        let envelope = match received {
            Ok(line) => serde_json::from_str::<Envelope<M>>(&line)
                .map_err(|e| anyhow!("onleesbaar antwoord van de beoordelaar: {e}: {line}"))?,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                return Err(anyhow!(
                    "het nakijken liep vast en is na de tijdslimiet gestopt"
                ))
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Err(anyhow!(
                    "het nakijken werd onderbroken: de beoordelaar stopte voordat hij klaar \
                     was (heeft de inzending hem gestopt?)"
                ))
            }
        };
        match envelope {
            Envelope::Message(m) => on_message(m),
            Envelope::Done => return Ok(()),
            Envelope::Failed(message) => return Err(anyhow!(message)),
        }
    }
}

/// The world's environment: nothing of the grader's own (its state root, agent sockets,
/// Docker host) but what programs need to behave as on a terminal.
fn world_env(images: &[PathBuf]) -> Vec<(String, String)> {
    let mut env = vec![
        ("HOME".to_string(), "/root".to_string()),
        ("TMPDIR".to_string(), "/tmp".to_string()),
        (
            "PATH".to_string(),
            std::env::var("PATH").unwrap_or_else(|_| {
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_string()
            }),
        ),
    ];
    for key in ["TERM", "LANG", "LC_ALL", "LC_CTYPE", "TZ"] {
        if let Ok(value) = std::env::var(key) {
            env.push((key.to_string(), value));
        }
    }
    if !images.is_empty() {
        if let Ok(joined) = std::env::join_paths(images) {
            env.push((
                crate::engine::image::cache::CACHE_ENV.to_string(),
                joined.to_string_lossy().into_owned(),
            ));
        }
    }
    env
}

/// The image cache directories that exist, as canonical paths (shown in the world at the
/// same place, and named to it in `$DOKLES_IMAGES`).
fn image_dirs() -> Vec<PathBuf> {
    let Ok(cache) = crate::engine::image::cache::Cache::shipped() else {
        return Vec::new();
    };
    let mut dirs: Vec<PathBuf> = cache
        .dirs()
        .iter()
        .filter_map(|d| d.canonicalize().ok())
        .filter(|d| d.is_dir())
        .collect();
    dirs.dedup();
    dirs
}

/// The world's complaints (cleanup that failed …), on the grader's stderr with control
/// characters shown, not obeyed.
fn relay_stderr(stderr: impl Read) {
    for line in BufReader::new(stderr).lines() {
        let Ok(line) = line else { break };
        eprintln!("{}", super::report::shown(&line));
    }
}

// ---------------------------------------------------------------------------------------
// Inside the world

/// Where the judge's results go: the helper's stdout, inherited by init and judge (and by
/// no command line: they get their own stdio).
pub struct Outbox {
    out: std::io::Stdout,
}

impl Outbox {
    pub fn send<M: Serialize>(&mut self, message: &M) {
        self.write(&Envelope::Message(message));
    }

    fn write<M: Serialize>(&mut self, envelope: &Envelope<M>) {
        if let Ok(mut line) = serde_json::to_vec(envelope) {
            line.push(b'\n');
            let mut out = self.out.lock();
            let _ = out.write_all(&line);
            let _ = out.flush();
        }
    }

    fn failed(&mut self, message: String) {
        self.write(&Envelope::<()>::Failed(message));
    }
}

/// `dokles __nakijken-wereld`: read the request, make the world and run `judge` in it with
/// the job. Returns the helper's exit code.
pub fn helper_main(
    judge: impl FnOnce(serde_json::Value, &Inside, &mut Outbox) -> Result<()>,
) -> u8 {
    let mut out = Outbox {
        out: std::io::stdout(),
    };
    let mut text = Vec::new();
    let request = std::io::stdin()
        .read_to_end(&mut text)
        .map_err(anyhow::Error::from)
        .and_then(|_| Ok(serde_json::from_slice::<Request<serde_json::Value>>(&text)?));
    let result = request.and_then(|r| helper(r, judge, &mut out));
    match result {
        Ok(code) => code,
        Err(e) => {
            out.failed(format!("kon geen afgeschermde omgeving maken: {e:#}"));
            1
        }
    }
}

/// Join the submission's cgroups, unshare the namespaces, fork the init and wait for it.
fn helper(
    request: Request<serde_json::Value>,
    judge: impl FnOnce(serde_json::Value, &Inside, &mut Outbox) -> Result<()>,
    out: &mut Outbox,
) -> Result<u8> {
    use nix::sched::{unshare, CloneFlags};
    let Request { setup, job } = request;
    // The cgroup namespace is rooted where its creator stands: in the submission's cgroups.
    let submission: Vec<PathBuf> = setup
        .hierarchies
        .iter()
        .map(|h| h.submission.clone())
        .collect();
    join(&submission)?;
    unshare(
        CloneFlags::CLONE_NEWNS
            | CloneFlags::CLONE_NEWCGROUP
            | CloneFlags::CLONE_NEWNET
            | CloneFlags::CLONE_NEWUTS
            | CloneFlags::CLONE_NEWIPC
            | CloneFlags::CLONE_NEWPID,
    )
    .context("creating the world's namespaces")?;
    // Then helper, init and judge go where they stay (see `group`): above the namespace's
    // root in the v1 hierarchies, so that a freeze of the submission's cgroups does not
    // stop them; on a v2 host into a leaf of their own below it.
    let own: Vec<PathBuf> = setup
        .hierarchies
        .iter()
        .filter(|h| h.judge != h.submission)
        .map(|h| h.judge.clone())
        .collect();
    join(&own)?;
    // SAFETY: the helper is single-threaded (nothing has started a thread), so the child
    // may run any code.
    match unsafe { nix::unistd::fork() }.context("starting the world's init")? {
        nix::unistd::ForkResult::Child => {
            let code = init(&setup, job, judge, out);
            std::process::exit(code);
        }
        nix::unistd::ForkResult::Parent { child } => Ok(wait_for(child)),
    }
}

/// The world's init: build the world, fork the judge, reap every orphan until the judge
/// is gone. Its exit ends the PID namespace (the kernel kills what is left).
fn init(
    setup: &Setup,
    job: serde_json::Value,
    judge: impl FnOnce(serde_json::Value, &Inside, &mut Outbox) -> Result<()>,
    out: &mut Outbox,
) -> i32 {
    // SAFETY: prctl with integer arguments.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
    let built = view::build(&view::Plan {
        disk_bytes: setup.disk_bytes,
        expose: &setup.expose,
        exe: &setup.exe,
        hierarchies: &setup.hierarchies,
    })
    .and_then(|()| confine::loopback_up())
    .and_then(|()| confine::drop_capabilities())
    .and_then(|()| confine::forbid_remounting());
    if let Err(e) = built {
        out.failed(format!("kon geen afgeschermde omgeving maken: {e:#}"));
        return 1;
    }
    // SAFETY: the init is single-threaded (forked from the single-threaded helper).
    match unsafe { nix::unistd::fork() } {
        Ok(nix::unistd::ForkResult::Child) => {
            let code = match run_judge(setup, job, judge, out) {
                Ok(()) => 0,
                Err(e) => {
                    out.failed(format!("{e:#}"));
                    1
                }
            };
            std::process::exit(code);
        }
        Ok(nix::unistd::ForkResult::Parent { child }) => i32::from(wait_for(child)),
        Err(e) => {
            out.failed(format!("kon de beoordelaar niet starten: {e}"));
            1
        }
    }
}

fn run_judge(
    setup: &Setup,
    job: serde_json::Value,
    judge: impl FnOnce(serde_json::Value, &Inside, &mut Outbox) -> Result<()>,
    out: &mut Outbox,
) -> Result<()> {
    let inside = Inside::new(setup)?;
    judge(job, &inside, out)?;
    // The grader tears the world down from here; removing containers one by one first
    // would only cost time.
    out.write(&Envelope::<()>::Done);
    drop(inside);
    Ok(())
}

/// Reap children (orphans are ours: init) until `child` has exited; its exit code.
fn wait_for(child: nix::unistd::Pid) -> u8 {
    use nix::sys::wait::{waitpid, WaitStatus};
    loop {
        match waitpid(None, None) {
            Ok(WaitStatus::Exited(pid, code)) if pid == child => return code as u8,
            Ok(WaitStatus::Signaled(pid, signal, _)) if pid == child => {
                return 128u8.wrapping_add(signal as u8)
            }
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(_) => return 1,
        }
    }
}

fn join(dirs: &[PathBuf]) -> Result<()> {
    crate::runtime::cgroups::join(dirs).with_context(|| format!("joining the cgroups {dirs:?}"))
}

/// The judge's handle on the world: the submission's sandbox, the shell its lines run in,
/// and its cgroups, as the world sees them.
pub struct Inside {
    sandbox: Sandbox,
    /// The submission's cgroup, the root of the world's cgroup namespace.
    root: Cgroup,
    /// The cgroup its lines run in: the root itself on v1 (and hybrid) hosts, a leaf on v2.
    lines: Cgroup,
}

impl Inside {
    fn new(setup: &Setup) -> Result<Self> {
        let locate = |path: &Path| {
            Cgroup::locate_everywhere(path)
                .map_err(|e| anyhow!("{e}"))
                .with_context(|| format!("the submission's cgroup {}", path.display()))
        };
        Ok(Self {
            sandbox: Sandbox::in_dir(Path::new(view::SANDBOX))?,
            root: locate(Path::new("/"))?,
            lines: locate(&setup.lines)?,
        })
    }

    pub fn sandbox(&self) -> &Sandbox {
        &self.sandbox
    }

    /// The submission's own filesystem.
    pub fn base(&self) -> &Path {
        Path::new(view::SANDBOX)
    }

    /// The shell the submission's lines run in: in its cgroup, with `docker` from outside
    /// its state root.
    pub fn shell(&self) -> Result<Shell> {
        let sandbox = &self.sandbox;
        let shell = Shell::for_this_binary(sandbox.root(), &sandbox.work())?
            .with_bin_dir(Path::new(view::BIN_DIR))?
            // Another docker client on PATH must not reach a Docker engine.
            .with_env("DOCKER_HOST", "unix:///dev/null");
        shell.in_cgroup(self.lines.dirs())
    }

    /// Stop what a finished line left running: every process directly in the lines' cgroup
    /// that is not the leader of a session of its own (container monitors detach into one;
    /// a fork bomb's processes do not). The cgroup is frozen meanwhile, so nothing forks
    /// past the killing. Containers (in cgroups below the submission's) are left alone;
    /// what escapes this (a `setsid` process, one that moved to another cgroup) dies with
    /// the world.
    pub fn stop_leftovers(&self) {
        use nix::sys::signal::{kill, Signal};
        use nix::unistd::{getsid, Pid};
        let leftovers = || -> Vec<Pid> {
            self.lines
                .pids()
                .unwrap_or_default()
                .into_iter()
                .map(Pid::from_raw)
                .filter(|&pid| getsid(Some(pid)).is_ok_and(|sid| sid != pid))
                .collect()
        };
        // A few rounds: a process caught mid-fork may leave a child the first round missed.
        for _ in 0..10 {
            if leftovers().is_empty() {
                return;
            }
            let frozen = self.lines.freeze().is_ok();
            for pid in leftovers() {
                let _ = kill(pid, Signal::SIGKILL);
            }
            if frozen {
                let _ = self.lines.thaw();
            }
            // Killed tasks count against `pids.max` until init has reaped them.
            self.root.settle(Duration::from_secs(5));
        }
    }
}
