//! The client side of interactive sessions: relaying the user's terminal to a container
//! attached through its monitor (`run -i`/`-t`, `start -ai`, `attach`) or to an `exec -it`
//! process's own pty. The host side only relays bytes; raw mode is always undone.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use nix::sys::signal::{SigSet, Signal};

use super::terminal::{self, DetachMatcher, Matched, RawMode};
use crate::engine::container::attach::{Event, Sender, Session, WindowSize};
use crate::runtime::{PipeEnds, Stdio};

/// The environment variable naming a file that the stdin relays append every byte they
/// forward to (the REPL sets it, so a transcript records what the student typed inside
/// interactive containers too). An end of input typed on a terminal is recorded as Ctrl+D.
pub const TYPED_INPUT_ENV: &str = "DOKLES_TYPED_INPUT";

/// Append `bytes` to the file `$DOKLES_TYPED_INPUT` names, if any (best effort: recording
/// must never disturb the session).
fn record_typed(bytes: &[u8]) {
    use std::sync::OnceLock;
    static FILE: OnceLock<Option<Mutex<File>>> = OnceLock::new();
    let file = FILE.get_or_init(|| {
        let path = std::env::var_os(TYPED_INPUT_ENV)?;
        crate::state::open_append(path.as_ref(), crate::state::mode::PRIVATE_FILE)
            .ok()
            .map(Mutex::new)
    });
    if let Some(f) = file {
        if let Ok(mut f) = f.lock() {
            let _ = f.write_all(bytes);
        }
    }
}

/// Our stdin has ended: on a terminal that is the user typing Ctrl+D.
fn record_end_of_input() {
    if nix::unistd::isatty(std::io::stdin().as_raw_fd()).unwrap_or(false) {
        record_typed(b"\x04");
    }
}

/// Read our stdin chunk by chunk, recording what passes, and hand each chunk to `take`
/// until it returns false or the input ends.
fn each_stdin_chunk(mut take: impl FnMut(&[u8]) -> bool) {
    let mut stdin = std::io::stdin().lock();
    let mut buf = [0u8; 4096];
    loop {
        let n = match stdin.read(&mut buf) {
            Ok(0) => {
                record_end_of_input();
                return;
            }
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return,
        };
        record_typed(&buf[..n]);
        if !take(&buf[..n]) {
            return;
        }
    }
}

/// Copy our stdin to `to`, recording what passes.
fn copy_stdin_recording(to: &mut impl Write) {
    each_stdin_chunk(|chunk| to.write_all(chunk).and_then(|()| to.flush()).is_ok());
}

/// How an attached session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The container ended with this exit code.
    Exited(i32),
    /// The user typed the detach keys; the container runs on.
    Detached,
}

/// What an attach relays.
pub struct AttachOptions {
    /// Relay our stdin to the container.
    pub stdin: bool,
    /// The container has a terminal: raw mode and window sizes.
    pub tty: bool,
    pub detach_keys: Vec<u8>,
    /// Without a terminal, Docker's `--sig-proxy`: the signals dokles receives are passed to
    /// the container (with one, Ctrl+C and friends are bytes on the terminal anyway).
    pub proxy: Option<Box<dyn Fn(Signal) + Send>>,
}

/// The signals a proxy passes on (all Docker passes that a student may send).
const PROXIED: [Signal; 7] = [
    Signal::SIGHUP,
    Signal::SIGINT,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGTERM,
    Signal::SIGALRM,
];

/// The signals a session handles itself, blocked in the calling thread (and the threads it
/// starts) and taken by a thread of their own.
fn session_signals() -> SigSet {
    let mut set = SigSet::empty();
    set.add(Signal::SIGWINCH);
    set.add(Signal::SIGTERM);
    set.add(Signal::SIGHUP);
    set
}

/// Handle the session's signals on a thread: a window change is passed to `on_resize`; a
/// SIGTERM or SIGHUP restores the terminal and ends dokles as the signal would.
fn spawn_signal_thread(on_resize: impl Fn(WindowSize) + Send + 'static) -> Result<()> {
    let set = session_signals();
    set.thread_block().context("cannot block signals")?;
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || loop {
            match set.wait() {
                Ok(Signal::SIGWINCH) => {
                    if let Some(size) = terminal::window_size() {
                        on_resize(size);
                    }
                }
                Ok(signal) => {
                    terminal::restore();
                    super::journal_command::exit(128 + signal as i32);
                }
                Err(_) => return,
            }
        })
        .context("cannot start the signal thread")?;
    Ok(())
}

/// Pass the [`PROXIED`] signals on, from a thread of their own.
fn spawn_proxy_thread(proxy: Box<dyn Fn(Signal) + Send>) -> Result<()> {
    let mut set = SigSet::empty();
    for s in PROXIED {
        set.add(s);
    }
    set.thread_block().context("cannot block signals")?;
    std::thread::Builder::new()
        .name("sig-proxy".into())
        .spawn(move || {
            while let Ok(signal) = set.wait() {
                // Without a terminal in the container, Ctrl+C typed on ours arrives as
                // SIGINT, not as a byte: a transcript records it as the key.
                if signal == Signal::SIGINT
                    && nix::unistd::isatty(std::io::stdin().as_raw_fd()).unwrap_or(false)
                {
                    record_typed(b"\x03");
                }
                proxy(signal);
            }
        })
        .context("cannot start the signal thread")?;
    Ok(())
}

/// Relay between our terminal and an attached container until it exits or we detach.
pub fn attach(mut session: Session, opts: AttachOptions) -> Result<Outcome> {
    let raw = if opts.tty && opts.stdin {
        RawMode::enable().context("cannot put the terminal in raw mode")?
    } else {
        None
    };
    let sender = Arc::new(Mutex::new(session.sender()?));
    if opts.tty {
        let s = Arc::clone(&sender);
        spawn_signal_thread(move |size| {
            if let Ok(mut s) = s.lock() {
                let _ = s.resize(size);
            }
        })?;
    } else if let Some(proxy) = opts.proxy {
        spawn_proxy_thread(proxy)?;
    }
    let detached = Arc::new(AtomicBool::new(false));
    if opts.stdin {
        let sender = Arc::clone(&sender);
        let detached = Arc::clone(&detached);
        let matcher = DetachMatcher::new(opts.detach_keys);
        std::thread::Builder::new()
            .name("stdin".into())
            .spawn(move || pump_stdin(sender, matcher, opts.tty, detached))
            .context("cannot start the stdin thread")?;
    }
    let mut out = std::io::stdout();
    let mut err = std::io::stderr();
    let outcome = loop {
        match session.next_event()? {
            Event::Stdout(data) => {
                let _ = out.write_all(&data).and_then(|()| out.flush());
            }
            Event::Stderr(data) => {
                let _ = err.write_all(&data).and_then(|()| err.flush());
            }
            Event::Exited(code) => break Outcome::Exited(code),
            Event::Closed if detached.load(Ordering::SeqCst) => break Outcome::Detached,
            Event::Closed => anyhow::bail!("the connection to the container's monitor was lost"),
        }
    };
    drop(raw);
    Ok(outcome)
}

/// Our stdin to the container, watching for the detach keys.
fn pump_stdin(
    sender: Arc<Mutex<Sender>>,
    mut matcher: DetachMatcher,
    tty: bool,
    detached: Arc<AtomicBool>,
) {
    let mut stdin = std::io::stdin().lock();
    let mut buf = [0u8; 4096];
    loop {
        let n = match stdin.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => 0,
        };
        if n == 0 {
            record_end_of_input();
        } else {
            record_typed(&buf[..n]);
        }
        let Ok(mut s) = sender.lock() else {
            return;
        };
        if n == 0 {
            // A terminal stays open for other clients; a pipe is closed as ours is.
            if !tty {
                let _ = s.close_stdin();
            }
            return;
        }
        match matcher.feed(&buf[..n]) {
            Matched::Send(data) => {
                if !data.is_empty() && s.stdin(&data).is_err() {
                    return;
                }
            }
            Matched::Detach(data) => {
                if !data.is_empty() {
                    let _ = s.stdin(&data);
                }
                detached.store(true, Ordering::SeqCst);
                s.shut_down();
                return;
            }
        }
    }
}

/// Relay between our terminal and an `exec -t` process's pty `master` until the process's
/// side of it is closed, or — with `stdin` — until the user types `detach_keys`: then the
/// pty is handed to a holder process (`dokles __hold-pty`) so the exec'd process runs on,
/// as Docker's. With `stdin`, the terminal is in raw mode meanwhile.
pub fn relay_terminal(master: OwnedFd, stdin: bool, detach_keys: Vec<u8>) -> Result<Outcome> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    use std::os::fd::AsFd;

    let raw = if stdin {
        RawMode::enable().context("cannot put the terminal in raw mode")?
    } else {
        None
    };
    let master = File::from(master);
    let resize_target = master.try_clone().context("cannot share the terminal")?;
    spawn_signal_thread(move |size| size.apply(&resize_target))?;
    // The stdin thread wakes the relay through this pipe when the user detaches.
    let (wake_read, wake_write) = nix::unistd::pipe().context("cannot create a pipe")?;
    if stdin {
        let mut input = master.try_clone().context("cannot share the terminal")?;
        let mut matcher = DetachMatcher::new(detach_keys);
        let mut wake = File::from(wake_write);
        std::thread::Builder::new()
            .name("stdin".into())
            .spawn(move || {
                each_stdin_chunk(|chunk| match matcher.feed(chunk) {
                    Matched::Send(data) => input.write_all(&data).is_ok(),
                    Matched::Detach(data) => {
                        let _ = input.write_all(&data);
                        let _ = wake.write_all(b"d");
                        false
                    }
                })
            })
            .context("cannot start the stdin thread")?;
    } else {
        drop(wake_write);
    }
    let mut out = std::io::stdout();
    let mut reader = &master;
    let mut buf = [0u8; 32 * 1024];
    let outcome = loop {
        let mut fds = [
            PollFd::new(master.as_fd(), PollFlags::POLLIN),
            PollFd::new(wake_read.as_fd(), PollFlags::POLLIN),
        ];
        match poll(&mut fds, PollTimeout::NONE) {
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e).context("cannot wait for the terminal"),
            Ok(_) => {}
        }
        let woken = fds[1]
            .revents()
            .is_some_and(|r| r.contains(PollFlags::POLLIN));
        if woken {
            hand_over(&master)?;
            break Outcome::Detached;
        }
        match reader.read(&mut buf) {
            Ok(0) => break Outcome::Exited(0),
            Ok(n) => {
                let _ = out.write_all(&buf[..n]).and_then(|()| out.flush());
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            // EIO: every descriptor of the process's side is closed.
            Err(_) => break Outcome::Exited(0),
        }
    };
    drop(raw);
    Ok(outcome)
}

/// Give a detached exec's pty master to `dokles __hold-pty`, in a session of its own, which
/// keeps it open (reading and discarding output) until the process's side closes.
fn hand_over(master: &File) -> Result<()> {
    use std::os::unix::process::CommandExt;
    // Our own binary through procfs: this process runs from a sealed view of dokles
    // (`docker exec`), which has no path of its own on the host.
    let mut cmd = std::process::Command::new("/proc/self/exe");
    cmd.arg0("dokles")
        .arg("__hold-pty")
        .stdin(master.try_clone().context("cannot share the terminal")?)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    // SAFETY: setsid(2) is async-signal-safe; the holder must not belong to our session,
    // or the user's terminal closing would signal it.
    unsafe {
        cmd.pre_exec(|| {
            nix::unistd::setsid()
                .map(|_| ())
                .map_err(std::io::Error::from)
        });
    }
    cmd.spawn().context("cannot start the pty holder")?;
    Ok(())
}

/// `dokles __hold-pty`: read stdin (a detached exec's pty master) until it closes.
pub fn hold_pty() -> u8 {
    let mut stdin = std::io::stdin().lock();
    let mut buf = [0u8; 4096];
    loop {
        match stdin.read(&mut buf) {
            Ok(0) => return 0,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return 0,
        }
    }
}

/// Pipes between us and an `exec` process without a terminal: our stdin (with `-i`) into
/// its stdin, its stdout and stderr out to ours — our own descriptors (perhaps a terminal)
/// never reach the container.
pub struct Pipes(PipeEnds);

impl Pipes {
    /// The pipes, and the process's ends of them to hand the runtime.
    pub fn new(stdin: bool) -> Result<(Self, Stdio)> {
        let (stdio, ends) = Stdio::pipes(stdin).map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok((Self(ends), stdio))
    }

    /// Start relaying (once the process runs, holding the only other ends).
    pub fn relay(self) -> Result<Relaying> {
        let PipeEnds {
            stdin,
            stdout,
            stderr,
        } = self.0;
        if let Some(w) = stdin {
            let mut pipe = File::from(w);
            std::thread::Builder::new()
                .name("stdin".into())
                .spawn(move || copy_stdin_recording(&mut pipe))
                .context("cannot start the stdin thread")?;
        }
        let (done, finished) = std::sync::mpsc::channel();
        for (fd, stderr) in [(stdout, false), (stderr, true)] {
            let done = done.clone();
            std::thread::Builder::new()
                .name("output".into())
                .spawn(move || {
                    let mut from = File::from(fd);
                    let _ = if stderr {
                        copy_flushing(&mut from, &mut std::io::stderr())
                    } else {
                        copy_flushing(&mut from, &mut std::io::stdout())
                    };
                    let _ = done.send(());
                })
                .context("cannot start an output thread")?;
        }
        Ok(Relaying { finished })
    }
}

/// Output being relayed from an exec process.
pub struct Relaying {
    finished: std::sync::mpsc::Receiver<()>,
}

impl Relaying {
    /// Once the process has exited: let its output drain, but do not wait longer than
    /// `grace` for descendants that keep the pipes open.
    pub fn finish(self, grace: std::time::Duration) {
        let deadline = std::time::Instant::now() + grace;
        for _ in 0..2 {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if self.finished.recv_timeout(left).is_err() {
                return;
            }
        }
    }
}

fn copy_flushing(from: &mut File, to: &mut impl Write) -> std::io::Result<()> {
    let mut buf = [0u8; 32 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        to.write_all(&buf[..n])?;
        to.flush()?;
    }
}
