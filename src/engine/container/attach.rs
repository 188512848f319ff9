//! Attaching to a running container through its monitor: the per-container unix socket
//! (`containers/<id>/attach.sock`, mode 0600), its wire format, the monitor's side (a
//! [`Hub`] of attached clients) and the client's side (a [`Session`]).
//!
//! A client connects and sends a hello (which streams it wants, its terminal size); then it
//! sends stdin bytes, "close stdin" and resize frames, and receives stdout, stderr and, when
//! the container ends, its exit code. Every frame is a kind byte, a big-endian u32 length and
//! the payload. The monitor only relays bytes: no host descriptor reaches the container.

use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};

/// The socket's file name in the container's directory.
pub const SOCKET: &str = "attach.sock";

/// Frames a client sends.
mod to_monitor {
    pub const HELLO: u8 = 0;
    pub const STDIN: u8 = 1;
    pub const CLOSE_STDIN: u8 = 2;
    pub const RESIZE: u8 = 3;
}

/// Frames the monitor sends.
mod to_client {
    pub const STDOUT: u8 = 1;
    pub const STDERR: u8 = 2;
    pub const EXIT: u8 = 3;
}

/// The largest frame either side accepts.
const MAX_FRAME: usize = 1 << 20;

/// A terminal size in characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowSize {
    pub rows: u16,
    pub columns: u16,
}

impl WindowSize {
    /// Set it on a pty master (TIOCSWINSZ): the kernel signals SIGWINCH to the terminal's
    /// foreground process group.
    pub fn apply(self, master: &impl AsRawFd) {
        let ws = libc::winsize {
            ws_row: self.rows,
            ws_col: self.columns,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCSWINSZ reads a winsize through the pointer, which lives across the call.
        unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
    }

    /// As the OCI spec's `process.consoleSize`.
    pub fn console_box(self) -> Result<oci_spec::runtime::Box> {
        oci_spec::runtime::BoxBuilder::default()
            .height(self.rows)
            .width(self.columns)
            .build()
            .context("console size")
    }

    fn encode(self) -> [u8; 4] {
        let [r0, r1] = self.rows.to_be_bytes();
        let [c0, c1] = self.columns.to_be_bytes();
        [r0, r1, c0, c1]
    }

    fn decode(b: &[u8]) -> Option<Self> {
        match b {
            [r0, r1, c0, c1] => Some(Self {
                rows: u16::from_be_bytes([*r0, *r1]),
                columns: u16::from_be_bytes([*c0, *c1]),
            }),
            _ => None,
        }
    }
}

/// What a client asks for when it attaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Hello {
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    /// The client's terminal size, for a container with a terminal.
    pub size: Option<WindowSize>,
}

impl Hello {
    fn encode(self) -> Vec<u8> {
        let flags = u8::from(self.stdin) | u8::from(self.stdout) << 1 | u8::from(self.stderr) << 2;
        let mut out = vec![flags];
        if let Some(s) = self.size {
            out.extend(s.encode());
        }
        out
    }

    fn decode(b: &[u8]) -> Option<Self> {
        let (flags, size) = b.split_first()?;
        Some(Self {
            stdin: flags & 1 != 0,
            stdout: flags & 2 != 0,
            stderr: flags & 4 != 0,
            size: WindowSize::decode(size),
        })
    }
}

fn write_frame(w: &mut impl Write, kind: u8, payload: &[u8]) -> io::Result<()> {
    let len = u32::try_from(payload.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "frame too large"))?;
    let mut frame = Vec::with_capacity(5 + payload.len());
    frame.push(kind);
    frame.extend(len.to_be_bytes());
    frame.extend_from_slice(payload);
    w.write_all(&frame)
}

/// Take one complete frame off the front of `buf`, if there is one.
fn split_frame(buf: &mut Vec<u8>) -> io::Result<Option<(u8, Vec<u8>)>> {
    if buf.len() < 5 {
        return Ok(None);
    }
    let len = u32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]) as usize;
    if len > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "frame too large",
        ));
    }
    if buf.len() < 5 + len {
        return Ok(None);
    }
    let kind = buf[0];
    let payload = buf[5..5 + len].to_vec();
    buf.drain(..5 + len);
    Ok(Some((kind, payload)))
}

/// A path to `name` in `dir` that fits a socket address: the container directory may be
/// deeper than the 108 bytes `sun_path` holds, so go through `/proc/self/fd`.
struct ShortPath {
    _dir: std::fs::File,
    path: PathBuf,
}

fn short_path(dir: &Path) -> Result<ShortPath> {
    let d = std::fs::File::open(dir).with_context(|| format!("cannot open {}", dir.display()))?;
    let path = PathBuf::from(format!("/proc/self/fd/{}/{SOCKET}", d.as_raw_fd()));
    Ok(ShortPath { _dir: d, path })
}

// ---------------------------------------------------------------------------------------
// The monitor's side

/// What the clients asked the monitor to do with the container's input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Stdin(Vec<u8>),
    CloseStdin,
    Resize(WindowSize),
}

struct Client {
    stream: UnixStream,
    hello: Option<Hello>,
    buf: Vec<u8>,
}

/// The monitor's listening socket and its attached clients.
pub struct Hub {
    listener: UnixListener,
    clients: Vec<Client>,
}

impl Hub {
    /// Listen on the socket in the container directory `dir` (replacing a stale one).
    pub fn bind(dir: &Path) -> Result<Self> {
        let p = short_path(dir)?;
        let _ = std::fs::remove_file(&p.path);
        let listener = UnixListener::bind(&p.path)
            .with_context(|| format!("cannot listen on {}", dir.join(SOCKET).display()))?;
        std::fs::set_permissions(&p.path, std::fs::Permissions::from_mode(0o600))
            .context("cannot restrict the attach socket")?;
        listener
            .set_nonblocking(true)
            .context("cannot make the attach socket non-blocking")?;
        Ok(Self {
            listener,
            clients: Vec::new(),
        })
    }

    /// Wait up to `timeout` for a first client and its hello (the starter of an attached
    /// run, so that none of the container's output is missed); its hello, if one came.
    pub fn wait_first(&mut self, timeout: Duration) -> Result<Option<Hello>> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if let Some(h) = self.clients.iter().find_map(|c| c.hello) {
                return Ok(Some(h));
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            let ms = u16::try_from(left.as_millis()).unwrap_or(u16::MAX);
            let mut fds = self.poll_fds(true);
            match nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(ms)) {
                Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                Err(e) => return Err(e).context("poll"),
            }
            let ready = readiness(&fds);
            drop(fds);
            // Input before the container exists has nowhere to go; a resize is in the hello.
            self.handle(&ready);
        }
    }

    /// The descriptors to poll for reading: the listener, then each client (all of them, or
    /// — when the container's stdin is backed up — none).
    pub fn poll_fds(&self, read_clients: bool) -> Vec<nix::poll::PollFd<'_>> {
        use nix::poll::{PollFd, PollFlags};
        let mut fds = vec![PollFd::new(self.listener.as_fd(), PollFlags::POLLIN)];
        if read_clients {
            fds.extend(
                self.clients
                    .iter()
                    .map(|c| PollFd::new(c.stream.as_fd(), PollFlags::POLLIN)),
            );
        }
        fds
    }

    /// Act on what [`poll_fds`](Self::poll_fds) found ready (`ready[i]` for its i-th
    /// descriptor): accept clients, read their frames; what they want done with the input.
    pub fn handle(&mut self, ready: &[bool]) -> Vec<Input> {
        let mut inputs = Vec::new();
        let mut gone = Vec::new();
        for (i, c) in self.clients.iter_mut().enumerate() {
            if !ready.get(i + 1).copied().unwrap_or(false) {
                continue;
            }
            let mut chunk = [0u8; 16 * 1024];
            let n = match (&c.stream).read(&mut chunk) {
                Ok(0) => {
                    gone.push(i);
                    continue;
                }
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(_) => {
                    gone.push(i);
                    continue;
                }
            };
            c.buf.extend_from_slice(&chunk[..n]);
            loop {
                match split_frame(&mut c.buf) {
                    Ok(Some((kind, payload))) => match (kind, c.hello) {
                        (to_monitor::HELLO, None) => match Hello::decode(&payload) {
                            Some(h) => {
                                c.hello = Some(h);
                                if let Some(s) = h.size {
                                    inputs.push(Input::Resize(s));
                                }
                            }
                            None => gone.push(i),
                        },
                        (to_monitor::STDIN, Some(h)) if h.stdin => {
                            inputs.push(Input::Stdin(payload));
                        }
                        (to_monitor::CLOSE_STDIN, Some(h)) if h.stdin => {
                            inputs.push(Input::CloseStdin);
                        }
                        (to_monitor::RESIZE, Some(_)) => {
                            if let Some(s) = WindowSize::decode(&payload) {
                                inputs.push(Input::Resize(s));
                            }
                        }
                        _ => {}
                    },
                    Ok(None) => break,
                    Err(_) => {
                        gone.push(i);
                        break;
                    }
                }
            }
        }
        for i in gone.into_iter().rev() {
            self.clients.remove(i);
        }
        if ready.first().copied().unwrap_or(false) {
            while let Ok((stream, _)) = self.listener.accept() {
                // Reads come only when poll says so; a stuck client must not stall the
                // container's output for long.
                if stream.set_nonblocking(false).is_ok()
                    && stream
                        .set_write_timeout(Some(Duration::from_secs(5)))
                        .is_ok()
                {
                    self.clients.push(Client {
                        stream,
                        hello: None,
                        buf: Vec::new(),
                    });
                }
            }
        }
        inputs
    }

    /// Send the container's output on `stderr` or stdout to every client that wants it;
    /// clients that cannot take it are dropped.
    pub fn broadcast(&mut self, stderr: bool, data: &[u8]) {
        let kind = if stderr {
            to_client::STDERR
        } else {
            to_client::STDOUT
        };
        self.clients.retain_mut(|c| match c.hello {
            Some(h) if (stderr && h.stderr) || (!stderr && h.stdout) => {
                write_frame(&mut c.stream, kind, data).is_ok()
            }
            _ => true,
        });
    }

    /// Tell every client the container exited with `code`, and let them go.
    pub fn exit(&mut self, code: i32) {
        for mut c in self.clients.drain(..) {
            let _ = write_frame(&mut c.stream, to_client::EXIT, &code.to_be_bytes());
        }
    }
}

/// Which entries of a poll set have events.
pub fn readiness(fds: &[nix::poll::PollFd<'_>]) -> Vec<bool> {
    fds.iter()
        .map(|p| p.revents().is_some_and(|r| !r.is_empty()))
        .collect()
}

// ---------------------------------------------------------------------------------------
// The client's side

/// What the container sent an attached client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Stdout(Vec<u8>),
    Stderr(Vec<u8>),
    /// The container ended with this exit code.
    Exited(i32),
    /// The connection closed without an exit code (the monitor died, or we shut it down).
    Closed,
}

/// An attached client's connection to the monitor.
pub struct Session {
    stream: UnixStream,
    buf: Vec<u8>,
}

/// The sending half of a [`Session`], for the thread that reads the user's input.
pub struct Sender {
    stream: UnixStream,
}

impl Session {
    /// Connect to the monitor of the container in directory `dir` and say hello.
    pub fn connect(dir: &Path, hello: Hello) -> Result<Self> {
        let p = short_path(dir)?;
        let mut stream =
            UnixStream::connect(&p.path).context("cannot connect to the container's monitor")?;
        write_frame(&mut stream, to_monitor::HELLO, &hello.encode())
            .context("cannot greet the container's monitor")?;
        Ok(Self {
            stream,
            buf: Vec::new(),
        })
    }

    /// A second handle for sending input.
    pub fn sender(&self) -> Result<Sender> {
        Ok(Sender {
            stream: self
                .stream
                .try_clone()
                .context("cannot share the attach connection")?,
        })
    }

    /// The next thing the container sent.
    pub fn next_event(&mut self) -> Result<Event> {
        loop {
            if let Some((kind, payload)) = split_frame(&mut self.buf)? {
                match kind {
                    to_client::STDOUT => return Ok(Event::Stdout(payload)),
                    to_client::STDERR => return Ok(Event::Stderr(payload)),
                    to_client::EXIT => {
                        let code = <[u8; 4]>::try_from(payload.as_slice())
                            .map(i32::from_be_bytes)
                            .unwrap_or(-1);
                        return Ok(Event::Exited(code));
                    }
                    _ => continue,
                }
            }
            let mut chunk = [0u8; 32 * 1024];
            match self.stream.read(&mut chunk) {
                Ok(0) => return Ok(Event::Closed),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return Ok(Event::Closed),
                Err(e) => return Err(e).context("cannot read from the container's monitor"),
            }
        }
    }
}

impl Sender {
    pub fn stdin(&mut self, data: &[u8]) -> io::Result<()> {
        write_frame(&mut self.stream, to_monitor::STDIN, data)
    }

    pub fn close_stdin(&mut self) -> io::Result<()> {
        write_frame(&mut self.stream, to_monitor::CLOSE_STDIN, &[])
    }

    pub fn resize(&mut self, size: WindowSize) -> io::Result<()> {
        write_frame(&mut self.stream, to_monitor::RESIZE, &size.encode())
    }

    /// End the session from our side (a detach): the reading half sees [`Event::Closed`].
    pub fn shut_down(&self) {
        let _ = self.stream.shutdown(std::net::Shutdown::Both);
    }

    pub fn as_fd(&self) -> BorrowedFd<'_> {
        self.stream.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_survive_being_split_anywhere() {
        let mut wire = Vec::new();
        write_frame(&mut wire, to_client::STDOUT, b"hello").unwrap();
        write_frame(&mut wire, to_client::EXIT, &3i32.to_be_bytes()).unwrap();
        let mut buf = Vec::new();
        let mut got = Vec::new();
        for b in wire {
            buf.push(b);
            while let Some(f) = split_frame(&mut buf).unwrap() {
                got.push(f);
            }
        }
        assert_eq!(
            got,
            vec![
                (to_client::STDOUT, b"hello".to_vec()),
                (to_client::EXIT, vec![0, 0, 0, 3])
            ]
        );
    }

    #[test]
    fn hello_round_trips_with_and_without_a_size() {
        for h in [
            Hello {
                stdin: true,
                stdout: true,
                stderr: false,
                size: Some(WindowSize {
                    rows: 40,
                    columns: 120,
                }),
            },
            Hello {
                stdin: false,
                stdout: true,
                stderr: true,
                size: None,
            },
        ] {
            assert_eq!(Hello::decode(&h.encode()), Some(h));
        }
    }
}
