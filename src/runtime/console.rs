//! The container's terminal (`process.terminal`, `docker run -t`): a pty from the
//! container's own devpts instance, its slave as the process's controlling terminal and
//! stdio (and `/dev/console` for a new container), its master handed to the caller.
//!
//! The pty is allocated inside the container (after `pivot_root`, through the container's
//! `/dev/ptmx`), so `tty` in the container names a `/dev/pts/N` of its own devpts.

use std::fs::OpenOptions;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;

use nix::errno::Errno;
use nix::mount::{mount, MsFlags};
use nix::unistd::{dup2, fchown, Uid};

use super::sync::{ChildEnd, ChildFailure, ChildMessage, StepContext};

/// Terminal size in characters (`process.consoleSize`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConsoleSize {
    pub rows: u16,
    pub columns: u16,
}

/// Allocate the pty, make its slave this process's controlling terminal and fds 0, 1, 2,
/// and send the master to the caller.
pub fn setup(
    channel: &ChildEnd,
    size: Option<ConsoleSize>,
    mount_dev_console: bool,
    uid: u32,
) -> Result<(), ChildFailure> {
    let what = || "setting up the terminal".to_string();
    let master: OwnedFd = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOCTTY | libc::O_CLOEXEC)
        .open("/dev/ptmx")
        .step(|| "opening /dev/ptmx".into())?
        .into();
    let unlock: libc::c_int = 0;
    // SAFETY: TIOCSPTLCK reads an int from the pointer we pass, which lives across the call.
    ioctl_result(unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSPTLCK, &unlock) })
        .step(what)?;
    // SAFETY: TIOCGPTPEER takes open flags by value and returns a new descriptor.
    let peer = unsafe {
        libc::ioctl(
            master.as_raw_fd(),
            libc::TIOCGPTPEER,
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        )
    };
    ioctl_result(peer).step(what)?;
    // SAFETY: `peer` is a new descriptor owned by nobody else.
    let slave = unsafe { OwnedFd::from_raw_fd(peer) };

    if let Some(size) = size {
        let winsize = libc::winsize {
            ws_row: size.rows,
            ws_col: size.columns,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCSWINSZ reads a winsize from the pointer we pass.
        ioctl_result(unsafe { libc::ioctl(slave.as_raw_fd(), libc::TIOCSWINSZ, &winsize) })
            .step(|| "setting the terminal size".into())?;
    }
    fchown(slave.as_raw_fd(), Some(Uid::from_raw(uid)), None)
        .step(|| "handing the terminal to the container's user".into())?;

    if mount_dev_console {
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open("/dev/console")
            .step(|| "creating /dev/console".into())?;
        let slave_path = format!("/proc/self/fd/{}", slave.as_raw_fd());
        mount(
            Some(slave_path.as_str()),
            "/dev/console",
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .step(|| "bind-mounting the terminal onto /dev/console".into())?;
    }

    // SAFETY: TIOCSCTTY takes an int by value; this process leads a new session (setsid).
    ioctl_result(unsafe { libc::ioctl(slave.as_raw_fd(), libc::TIOCSCTTY, 0) })
        .step(|| "making the terminal the controlling terminal".into())?;
    for target in 0..3 {
        dup2(slave.as_raw_fd(), target).step(|| "placing the terminal on stdio".into())?;
    }
    channel
        .send_with_fd(&ChildMessage::Console, master.as_raw_fd())
        .step(|| "sending the terminal to the caller".into())?;
    Ok(())
}

fn ioctl_result(rc: libc::c_int) -> nix::Result<libc::c_int> {
    Errno::result(rc)
}
