//! The channel from the container's setup processes back to the caller of `spawn`.
//!
//! A `SOCK_SEQPACKET` socket pair, close-on-exec on both ends: the child side sends at most a
//! few small JSON messages, each one datagram. The parent reads until end-of-file, which comes
//! when every child holding the socket has either exited or successfully `exec`ed the
//! container's process (close-on-exec closes it). So "EOF without a failure" means "the
//! container's process is running".
//!
//! The one message the other way is the start signal: the init reports `Ready` when its
//! setup is complete and waits for it before `exec`.

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use nix::errno::Errno;
use nix::sys::socket::{
    recv, recvmsg, send, sendmsg, socketpair, AddressFamily, ControlMessage, ControlMessageOwned,
    MsgFlags, SockFlag, SockType,
};
use serde::{Deserialize, Serialize};

use super::error::{ExecError, RuntimeError};

/// Largest message either side sends; error texts are short.
const MAX_MESSAGE: usize = 16 * 1024;

/// What the setup processes tell the parent.
#[derive(Debug, Serialize, Deserialize)]
pub enum ChildMessage {
    /// The container's init was created; this is its PID in the caller's PID namespace.
    InitPid(i32),
    /// The process's terminal; the pty master travels with it as `SCM_RIGHTS`.
    Console,
    /// The init finished its setup and waits for the start signal to `exec`.
    Ready,
    /// Setup failed; the sender exits right after.
    Failed(ChildFailure),
}

/// A failure inside the container setup, in a form that crosses the process boundary.
#[derive(Debug, Serialize, Deserialize)]
pub enum ChildFailure {
    Setup { step: String, message: String },
    Chdir { cwd: String, message: String },
    UnsafeMount { destination: String, reason: String },
    Exec(ExecError),
}

impl From<ChildFailure> for RuntimeError {
    fn from(failure: ChildFailure) -> Self {
        match failure {
            ChildFailure::Setup { step, message } => RuntimeError::Setup { step, message },
            ChildFailure::Chdir { cwd, message } => RuntimeError::Chdir { cwd, message },
            ChildFailure::UnsafeMount {
                destination,
                reason,
            } => RuntimeError::UnsafeMount {
                destination: destination.into(),
                reason,
            },
            ChildFailure::Exec(e) => RuntimeError::Exec(e),
        }
    }
}

/// Create the (parent end, child end) pair.
pub fn channel() -> Result<(ParentEnd, ChildEnd), RuntimeError> {
    let (parent, child) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .map_err(|e| RuntimeError::host("cannot create the setup socket pair", e))?;
    Ok((ParentEnd(parent), ChildEnd(child)))
}

/// The caller's end.
#[derive(Debug)]
pub struct ParentEnd(OwnedFd);

/// A message and the descriptor that came with it, if any.
#[derive(Debug)]
pub struct Received {
    pub message: ChildMessage,
    pub fd: Option<OwnedFd>,
}

impl ParentEnd {
    /// The next message, or `None` at end-of-file. Descriptors passed along are received
    /// close-on-exec.
    pub fn recv(&self) -> Result<Option<Received>, RuntimeError> {
        let mut buf = vec![0u8; MAX_MESSAGE];
        let mut control = nix::cmsg_space!([RawFd; 1]);
        let (n, raw_fds) = loop {
            let mut iov = [IoSliceMut::new(&mut buf)];
            match recvmsg::<()>(
                self.0.as_raw_fd(),
                &mut iov,
                Some(&mut control),
                MsgFlags::MSG_CMSG_CLOEXEC,
            ) {
                Err(Errno::EINTR) => continue,
                Err(e) => {
                    return Err(RuntimeError::host(
                        "cannot read from the container setup process",
                        e,
                    ))
                }
                Ok(msg) => {
                    let mut fds = Vec::new();
                    for cmsg in msg.cmsgs().into_iter().flatten() {
                        if let ControlMessageOwned::ScmRights(received) = cmsg {
                            fds.extend(received);
                        }
                    }
                    break (msg.bytes, fds);
                }
            }
        };
        // SAFETY: SCM_RIGHTS installed these descriptors in this process just now.
        let mut fds = raw_fds
            .into_iter()
            .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) });
        if n == 0 {
            return Ok(None);
        }
        let message = serde_json::from_slice(&buf[..n])
            .map_err(|e| RuntimeError::SetupDied(format!("garbled message from setup: {e}")))?;
        Ok(Some(Received {
            message,
            fd: fds.next(),
        }))
    }
}

/// The one-byte message that lets a created container `exec`.
const START: &[u8] = b"S";

impl ParentEnd {
    /// Tell the waiting init to `exec`.
    pub fn send_start(&self) -> Result<(), RuntimeError> {
        send(self.0.as_raw_fd(), START, MsgFlags::empty())
            .map(drop)
            .map_err(|e| RuntimeError::host("cannot signal the container to start", e))
    }
}

/// The setup processes' end.
pub struct ChildEnd(OwnedFd);

impl ChildEnd {
    pub fn send(&self, message: &ChildMessage) {
        // Nothing useful can be done if the parent is gone; the child exits right after.
        if let Ok(bytes) = serde_json::to_vec(message) {
            let _ = send(self.0.as_raw_fd(), &bytes, MsgFlags::empty());
        }
    }

    /// Send `message` with the descriptor `fd` attached.
    pub fn send_with_fd(&self, message: &ChildMessage, fd: RawFd) -> nix::Result<()> {
        let bytes = serde_json::to_vec(message).map_err(|_| Errno::EINVAL)?;
        let fds = [fd];
        sendmsg::<()>(
            self.0.as_raw_fd(),
            &[IoSlice::new(&bytes)],
            &[ControlMessage::ScmRights(&fds)],
            MsgFlags::empty(),
            None,
        )
        .map(drop)
    }

    /// Block until the caller says start (`true`), or goes away without (`false`).
    pub fn wait_for_start(&self) -> bool {
        let mut buf = [0u8; 8];
        loop {
            match recv(self.0.as_raw_fd(), &mut buf, MsgFlags::empty()) {
                Err(Errno::EINTR) => continue,
                Ok(n) => return buf.get(..n) == Some(START),
                Err(_) => return false,
            }
        }
    }

    pub fn raw_fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }
}

/// Attach the setup step that failed to a system error, inside the setup process.
pub trait StepContext<T> {
    fn step(self, step: impl FnOnce() -> String) -> Result<T, ChildFailure>;
}

impl<T, E: Into<std::io::Error>> StepContext<T> for Result<T, E> {
    fn step(self, step: impl FnOnce() -> String) -> Result<T, ChildFailure> {
        self.map_err(|e| ChildFailure::Setup {
            step: step(),
            message: e.into().to_string(),
        })
    }
}

impl ChildEnd {
    /// Move the socket to a descriptor above 2 (close-on-exec), so stdio can take 0..2.
    pub fn lift_above_stdio(self) -> nix::Result<Self> {
        let fd = nix::fcntl::fcntl(self.0.as_raw_fd(), nix::fcntl::FcntlArg::F_DUPFD_CLOEXEC(3))?;
        // SAFETY: F_DUPFD_CLOEXEC returned a new descriptor that nothing else owns.
        Ok(Self(unsafe { OwnedFd::from_raw_fd(fd) }))
    }
}
