//! Running a student's command line as the course notes mean it: through `/bin/sh -c`, with
//! a `docker` shim first on `PATH` that is dokles itself on the lesson's state root — so
//! pipes, `$(pwd)`, `jq` and `tar` work. Lines run either on the user's own terminal (the
//! REPL) or on a pty of our own driven by scripted input (a scripted student, grading).

use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::state::StateRoot;

/// The environment every line runs in.
#[derive(Debug, Clone)]
pub struct Shell {
    root: PathBuf,
    cwd: PathBuf,
    path: String,
    /// Further environment for every line (the REPL's typed-input file, grading's cgroup
    /// parent).
    env: Vec<(String, String)>,
    /// `cgroup.procs` files every line's shell joins before it runs (grading).
    cgroup_procs: Vec<std::ffi::CString>,
}

impl Shell {
    /// Prepare the shim (`<root>/les/bin/docker` → the dokles executable `exe`) for lines
    /// run in `cwd`.
    pub fn new(root: &StateRoot, cwd: &Path, exe: &Path) -> Result<Self> {
        let bin = root.join("les/bin");
        crate::state::create_dir(&bin, crate::state::mode::PRIVATE_DIR)
            .with_context(|| format!("creating {}", bin.display()))?;
        let shim = bin.join("docker");
        if std::fs::read_link(&shim).ok().as_deref() != Some(exe) {
            let staged = bin.join(format!(".docker.{}", std::process::id()));
            let _ = std::fs::remove_file(&staged);
            std::os::unix::fs::symlink(exe, &staged)
                .with_context(|| format!("creating {}", staged.display()))?;
            std::fs::rename(&staged, &shim)
                .with_context(|| format!("installing {}", shim.display()))?;
        }
        let path = match std::env::var("PATH") {
            Ok(p) if !p.is_empty() => format!("{}:{p}", bin.display()),
            _ => format!(
                "{}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                bin.display()
            ),
        };
        Ok(Self {
            root: root.path().to_path_buf(),
            cwd: cwd.to_path_buf(),
            path,
            env: Vec::new(),
            cgroup_procs: Vec::new(),
        })
    }

    /// Put a `docker` shim in `dir` too and `dir` first on `PATH` (grading: a shim
    /// outside the state root survives a student's `rm -rf` of it, so `docker` never falls
    /// back to another docker client on `PATH`).
    pub fn with_bin_dir(mut self, dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let exe = std::env::current_exe().context("locating the dokles executable")?;
        let shim = dir.join("docker");
        if std::fs::read_link(&shim).ok().as_deref() != Some(exe.as_path()) {
            std::os::unix::fs::symlink(&exe, &shim)
                .with_context(|| format!("creating {}", shim.display()))?;
        }
        self.path = format!("{}:{}", dir.display(), self.path);
        Ok(self)
    }

    /// Every line also gets `key=value` in its environment.
    pub fn with_env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    /// Every line's shell joins these cgroup directories (one per hierarchy) before it
    /// runs, so it and everything it starts stay under their limits.
    pub fn in_cgroup(mut self, dirs: &[PathBuf]) -> Result<Self> {
        use std::os::unix::ffi::OsStrExt;
        for d in dirs {
            let procs = d.join("cgroup.procs");
            self.cgroup_procs.push(
                std::ffi::CString::new(procs.as_os_str().as_bytes())
                    .with_context(|| format!("cgroup path {}", procs.display()))?,
            );
        }
        Ok(self)
    }

    /// For lines run by this very dokles binary.
    pub fn for_this_binary(root: &StateRoot, cwd: &Path) -> Result<Self> {
        let exe = std::env::current_exe().context("locating the dokles executable")?;
        Self::new(root, cwd, &exe)
    }

    pub fn cwd(&self) -> &Path {
        &self.cwd
    }

    /// `/bin/sh -c line` in the lesson's environment, stdio not yet decided.
    pub fn command(&self, line: &str) -> Command {
        let mut cmd = Command::new("/bin/sh");
        cmd.arg("-c")
            .arg(line)
            .current_dir(&self.cwd)
            .env("PATH", &self.path)
            .env("DOKLES_ROOT", &self.root);
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        if !self.cgroup_procs.is_empty() {
            let procs = self.cgroup_procs.clone();
            // SAFETY: between fork and exec only async-signal-safe calls (open, write,
            // close) on paths prepared before the fork; no allocation.
            unsafe {
                cmd.pre_exec(move || {
                    for p in &procs {
                        let fd = libc::open(p.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
                        if fd < 0 {
                            return Err(std::io::Error::last_os_error());
                        }
                        let written = libc::write(fd, b"0".as_ptr().cast(), 1);
                        let err = std::io::Error::last_os_error();
                        libc::close(fd);
                        if written != 1 {
                            return Err(err);
                        }
                    }
                    Ok(())
                });
            }
        }
        cmd
    }

    /// Run `line` on the caller's own terminal (the REPL) and return its exit code.
    pub fn run_attached(&self, line: &str) -> Result<i32> {
        let status = self.command(line).status().context("starting /bin/sh")?;
        Ok(exit_code(status))
    }

    /// Run `line` without a terminal, stdin empty; output captured.
    pub fn run_captured(&self, line: &str, timeout: Duration) -> Result<Ran> {
        let mut child = self
            .command(line)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .context("starting /bin/sh")?;
        let out = drain(child.stdout.take());
        let err = drain(child.stderr.take());
        let (code, timed_out) = wait_timeout(&mut child, timeout)?;
        let mut output = collect(out);
        output.push_str(&collect(err));
        Ok(Ran {
            output,
            exit_code: code,
            timed_out,
        })
    }

    /// Run `line` without a terminal, stdin empty, output discarded (grading: nothing a
    /// line prints can fill memory or disk). When it ends, whatever it left running in its
    /// process group is killed too (containers live on: their monitors have their own).
    pub fn run_quiet(&self, line: &str, timeout: Duration) -> Result<Ran> {
        let mut child = self
            .command(line)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .context("starting /bin/sh")?;
        let (exit_code, timed_out) = wait_timeout(&mut child, timeout)?;
        kill_group(child.id());
        Ok(Ran {
            output: String::new(),
            exit_code,
            timed_out,
        })
    }

    /// Run `line` on a fresh pty, typing `input` item by item whenever the program has
    /// gone quiet (it waits for the user). Each item is typed followed by Enter, unless it
    /// consists of control characters only (Ctrl+P Ctrl+Q is `"\u0010\u0011"`).
    pub fn run_on_pty(&self, line: &str, input: &[String], timeout: Duration) -> Result<Ran> {
        let mut session = PtySession::spawn(self, line)?;
        let deadline = Instant::now() + timeout;
        for item in input {
            session.wait_quiet(Duration::from_millis(300), deadline);
            if item.contains(DETACH_START) {
                // Detach keys are for a client that took the terminal: typed while the
                // line discipline still cooks input, Ctrl+Q is flow control and is lost,
                // and the client would wait for them until the line's time is up anyway.
                // So they wait as long as the line may run: a first container of a large
                // image takes its client 27 s to go raw on a loaded machine in a
                // software-emulated VM (the VM tier), where a fixed 20 s was too short.
                session.wait_raw(deadline);
            }
            let mut bytes = item.as_bytes().to_vec();
            if !item.chars().all(|c| (c as u32) < 0x20) {
                bytes.push(b'\r');
            }
            session.type_bytes(&bytes)?;
        }
        session.finish(deadline)
    }

    /// Start `line` on a pty and leave it running (a second terminal of a scripted
    /// student); the returned session ends it when dropped.
    pub fn start_on_pty(&self, line: &str) -> Result<PtySession> {
        let mut s = PtySession::spawn(self, line)?;
        s.wait_quiet(
            Duration::from_millis(300),
            Instant::now() + Duration::from_secs(5),
        );
        Ok(s)
    }
}

/// What a non-interactive run produced.
#[derive(Debug, Clone)]
pub struct Ran {
    /// stdout then stderr (pty runs: everything the terminal showed).
    pub output: String,
    pub exit_code: i32,
    pub timed_out: bool,
}

fn exit_code(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(1)
}

type Sink = std::thread::JoinHandle<Vec<u8>>;

fn drain<R: Read + Send + 'static>(r: Option<R>) -> Option<Sink> {
    r.map(|mut r| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = r.read_to_end(&mut buf);
            buf
        })
    })
}

fn collect(sink: Option<Sink>) -> String {
    sink.and_then(|h| h.join().ok())
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

/// Wait for `child` at most `timeout`; on timeout its whole process group is killed.
fn wait_timeout(child: &mut Child, timeout: Duration) -> Result<(i32, bool)> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().context("waiting for /bin/sh")? {
            return Ok((exit_code(status), false));
        }
        if Instant::now() >= deadline {
            kill_group(child.id());
            let status = child.wait().context("waiting for /bin/sh")?;
            return Ok((exit_code(status), true));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn kill_group(pid: u32) {
    if let Ok(pid) = i32::try_from(pid) {
        let _ = nix::sys::signal::killpg(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}

/// Docker's default detach sequence starts with Ctrl+P.
const DETACH_START: char = '\u{10}';

/// How much of a pty session's output is kept (its tail).
const MAX_PTY_OUTPUT: usize = 1 << 20;

/// A command line running on a pty of our own.
pub struct PtySession {
    child: Child,
    master: std::fs::File,
    output: Arc<Mutex<(Vec<u8>, Instant)>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl PtySession {
    fn spawn(shell: &Shell, line: &str) -> Result<Self> {
        let size = nix::pty::Winsize {
            ws_row: 24,
            ws_col: 80,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        let pty = nix::pty::openpty(Some(&size), None).context("allocating a pty")?;
        let slave: OwnedFd = pty.slave;
        let mut cmd = shell.command(line);
        cmd.stdin(Stdio::from(slave.try_clone()?))
            .stdout(Stdio::from(slave.try_clone()?))
            .stderr(Stdio::from(slave.try_clone()?));
        // SAFETY: between fork and exec only async-signal-safe calls: setsid(2) and the
        // TIOCSCTTY ioctl on fd 0 (the pty slave) to make it the controlling terminal.
        unsafe {
            cmd.pre_exec(|| {
                nix::unistd::setsid().map_err(std::io::Error::from)?;
                if libc::ioctl(0, libc::TIOCSCTTY, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().context("starting /bin/sh on a pty")?;
        drop(slave);
        let master = std::fs::File::from(pty.master);
        let output = Arc::new(Mutex::new((Vec::new(), Instant::now())));
        let reader = {
            let mut m = master.try_clone()?;
            let output = Arc::clone(&output);
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                loop {
                    match m.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            if let Ok(mut o) = output.lock() {
                                o.0.extend_from_slice(&buf[..n]);
                                // Keep the tail only: a program printing without end
                                // must not fill memory.
                                if o.0.len() > MAX_PTY_OUTPUT {
                                    let excess = o.0.len() - MAX_PTY_OUTPUT;
                                    o.0.drain(..excess);
                                }
                                o.1 = Instant::now();
                            }
                        }
                    }
                }
            })
        };
        Ok(Self {
            child,
            master,
            output,
            reader: Some(reader),
        })
    }

    /// Wait until no output came for `quiet` (or the deadline passes, or the program ends).
    fn wait_quiet(&mut self, quiet: Duration, deadline: Instant) {
        loop {
            let last = self
                .output
                .lock()
                .map(|o| o.1)
                .unwrap_or_else(|_| Instant::now());
            let now = Instant::now();
            if now.duration_since(last) >= quiet || now >= deadline {
                return;
            }
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Wait until the program has put the terminal in raw mode (a docker client attached
    /// to a container's tty), the program ended, or `until`.
    fn wait_raw(&mut self, until: Instant) {
        use nix::sys::termios::{tcgetattr, LocalFlags};
        loop {
            let cooked = tcgetattr(&self.master)
                .map(|t| t.local_flags.contains(LocalFlags::ICANON))
                .unwrap_or(false);
            if !cooked || Instant::now() >= until {
                return;
            }
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn type_bytes(&mut self, bytes: &[u8]) -> Result<()> {
        if let Ok(mut o) = self.output.lock() {
            o.1 = Instant::now();
        }
        self.master.write_all(bytes).context("typing on the pty")
    }

    /// Wait for the program to end (killing it at the deadline) and return what it showed.
    fn finish(mut self, deadline: Instant) -> Result<Ran> {
        let now = Instant::now();
        let (exit_code, timed_out) =
            wait_timeout(&mut self.child, deadline.saturating_duration_since(now))?;
        // Programs that outlive the shell (a detached container's monitor) may still hold
        // the pty: give the reader a moment, then stop reading.
        std::thread::sleep(Duration::from_millis(50));
        let output = self.output_text();
        Ok(Ran {
            output,
            exit_code,
            timed_out,
        })
    }

    fn output_text(&self) -> String {
        self.output
            .lock()
            .map(|o| String::from_utf8_lossy(&o.0).into_owned())
            .unwrap_or_default()
    }
}

impl Drop for PtySession {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            kill_group(self.child.id());
            let _ = self.child.wait();
        }
        // The reader ends when every holder of the slave is gone; a program that outlives
        // the session (a detached container's client) may keep it, so it is not joined.
        drop(self.reader.take());
    }
}
