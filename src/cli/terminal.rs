//! The user's terminal during an interactive session: raw mode that is always restored (on
//! return, on SIGTERM/SIGHUP), its window size, and Docker's detach keys.

use std::os::fd::{AsFd, BorrowedFd};
use std::sync::Mutex;

use nix::sys::termios::{self, SetArg, Termios};

use crate::engine::container::attach::WindowSize;

/// The settings to restore, shared with the signal thread.
static SAVED: Mutex<Option<Termios>> = Mutex::new(None);

fn stdin_fd() -> BorrowedFd<'static> {
    // SAFETY: fd 0 stays open for the life of the process.
    unsafe { BorrowedFd::borrow_raw(0) }
}

/// Whether our stdin is a terminal.
pub fn stdin_is_terminal() -> bool {
    nix::unistd::isatty(0).unwrap_or(false)
}

/// The terminal's size (of stdout, else stdin), if either is a terminal.
pub fn window_size() -> Option<WindowSize> {
    [1, 0].into_iter().find_map(|fd| {
        let mut ws = libc::winsize {
            ws_row: 0,
            ws_col: 0,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCGWINSZ writes a winsize through the pointer, which lives across the call.
        let rc = unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) };
        (rc == 0 && ws.ws_row > 0).then_some(WindowSize {
            rows: ws.ws_row,
            columns: ws.ws_col,
        })
    })
}

/// Our stdin terminal in raw mode while this lives.
pub struct RawMode(());

impl RawMode {
    /// Put stdin in raw mode, if it is a terminal (`None` if not).
    pub fn enable() -> nix::Result<Option<Self>> {
        if !stdin_is_terminal() {
            return Ok(None);
        }
        let saved = termios::tcgetattr(stdin_fd())?;
        let mut raw = saved.clone();
        termios::cfmakeraw(&mut raw);
        if let Ok(mut s) = SAVED.lock() {
            *s = Some(saved);
        }
        termios::tcsetattr(stdin_fd(), SetArg::TCSANOW, &raw)?;
        Ok(Some(Self(())))
    }
}

/// Put the terminal back as it was (idempotent).
pub fn restore() {
    let saved = SAVED.lock().ok().and_then(|mut s| s.take());
    if let Some(t) = saved {
        let _ = termios::tcsetattr(stdin_fd().as_fd(), SetArg::TCSANOW, &t);
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        restore();
    }
}

/// Docker's `--detach-keys`: `ctrl-p,ctrl-q`, `ctrl-a`, `a`, ... as bytes.
pub fn parse_detach_keys(keys: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    for key in keys.split(',') {
        if key.len() == 1 {
            out.push(key.as_bytes()[0]);
            continue;
        }
        let lower = key.to_ascii_lowercase();
        let code = match lower.strip_prefix("ctrl-").map(str::as_bytes) {
            Some([c @ b'a'..=b'z']) => c - b'a' + 1,
            Some(b"@") => 0,
            Some(b"[") => 27,
            Some(b"\\") => 28,
            Some(b"]") => 29,
            Some(b"^") => 30,
            Some(b"_") => 31,
            _ => return Err(format!("Unknown character: '{key}'")),
        };
        out.push(code);
    }
    Ok(out)
}

/// Docker's default detach keys.
pub const DEFAULT_DETACH_KEYS: &[u8] = &[0x10, 0x11];

/// Watches input for the detach sequence: bytes that may start it are held back until it
/// is complete (detach: never sent) or broken (sent after all).
pub struct DetachMatcher {
    keys: Vec<u8>,
    held: usize,
}

/// What to do with a chunk of input.
#[derive(Debug, PartialEq, Eq)]
pub enum Matched {
    /// Send these bytes on.
    Send(Vec<u8>),
    /// The sequence was typed: detach (after sending these bytes, typed before it).
    Detach(Vec<u8>),
}

impl DetachMatcher {
    pub fn new(keys: Vec<u8>) -> Self {
        Self { keys, held: 0 }
    }

    pub fn feed(&mut self, input: &[u8]) -> Matched {
        let mut out = Vec::new();
        for &b in input {
            if self.keys.is_empty() {
                out.push(b);
                continue;
            }
            if b == self.keys[self.held] {
                self.held += 1;
                if self.held == self.keys.len() {
                    self.held = 0;
                    return Matched::Detach(out);
                }
                continue;
            }
            out.extend_from_slice(&self.keys[..self.held]);
            self.held = 0;
            if b == self.keys[0] {
                self.held = 1;
            } else {
                out.push(b);
            }
        }
        Matched::Send(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detach_keys_parse_as_docker_does() {
        assert_eq!(
            parse_detach_keys("ctrl-p,ctrl-q").unwrap(),
            DEFAULT_DETACH_KEYS
        );
        assert_eq!(parse_detach_keys("ctrl-a").unwrap(), vec![1]);
        assert_eq!(
            parse_detach_keys("a,b,ctrl-[").unwrap(),
            vec![b'a', b'b', 27]
        );
        assert_eq!(parse_detach_keys("CTRL-Z").unwrap(), vec![26]);
        assert!(parse_detach_keys("ctrl-").is_err());
        assert!(parse_detach_keys("shift-a").is_err());
    }

    #[test]
    fn the_detach_sequence_is_swallowed_and_broken_prefixes_are_sent() {
        let mut m = DetachMatcher::new(DEFAULT_DETACH_KEYS.to_vec());
        assert_eq!(m.feed(b"ls\r"), Matched::Send(b"ls\r".to_vec()));
        assert_eq!(m.feed(&[0x10]), Matched::Send(vec![]));
        assert_eq!(m.feed(b"x"), Matched::Send(vec![0x10, b'x']));
        assert_eq!(m.feed(&[b'y', 0x10]), Matched::Send(vec![b'y']));
        assert_eq!(m.feed(&[0x11, b'z']), Matched::Detach(vec![]));
        assert_eq!(
            m.feed(&[b'a', 0x10, 0x10, 0x11]),
            Matched::Detach(vec![b'a', 0x10])
        );
    }
}
